#include "promql/ast.h"

#include <algorithm>
#include <cstdio>

#include "promql/parser_internal.h"

namespace steward::promql {

using internal::DurationString;
using internal::GoFloat;
using internal::GoQuote;

std::string_view ValueTypeName(ValueType t) {
  switch (t) {
    case ValueType::kNone:
      return "none";
    case ValueType::kScalar:
      return "scalar";
    case ValueType::kString:
      return "string";
    case ValueType::kVector:
      return "instant vector";
    case ValueType::kMatrix:
      return "range vector";
  }
  return "none";
}

std::string_view ResultTypeName(ValueType t) {
  switch (t) {
    case ValueType::kNone:
      return "none";
    case ValueType::kScalar:
      return "scalar";
    case ValueType::kString:
      return "string";
    case ValueType::kVector:
      return "vector";
    case ValueType::kMatrix:
      return "matrix";
  }
  return "none";
}

std::string_view BinaryOpName(BinaryOp op) {
  static constexpr std::string_view kNames[] = {"+",     "-",   "*",  "/",     "%", "^",
                                                "atan2", "==",  "!=", ">",     "<", ">=",
                                                "<=",    "and", "or", "unless"};
  return kNames[static_cast<int>(op)];
}

bool IsComparison(BinaryOp op) { return op >= BinaryOp::kEql && op <= BinaryOp::kLte; }
bool IsSetOperator(BinaryOp op) { return op >= BinaryOp::kAnd; }

std::string_view AggOpName(AggOp op) {
  static constexpr std::string_view kNames[] = {"sum",          "min",     "max",    "avg",
                                                "group",        "stddev",  "stdvar", "count",
                                                "count_values", "bottomk", "topk",   "quantile"};
  return kNames[static_cast<int>(op)];
}

namespace {

constexpr ValueType S = ValueType::kScalar;
constexpr ValueType V = ValueType::kVector;
constexpr ValueType M = ValueType::kMatrix;
constexpr ValueType Str = ValueType::kString;

// Prometheus 2.42's promql/parser/functions.go, sorted by name for binary search.
const std::vector<FunctionInfo>& Functions() {
  static const std::vector<FunctionInfo> kFunctions = [] {
    std::vector<FunctionInfo> f = {
        {"abs", {V}, 0, V},
        {"absent", {V}, 0, V},
        {"absent_over_time", {M}, 0, V},
        {"acos", {V}, 0, V},
        {"acosh", {V}, 0, V},
        {"asin", {V}, 0, V},
        {"asinh", {V}, 0, V},
        {"atan", {V}, 0, V},
        {"atanh", {V}, 0, V},
        {"avg_over_time", {M}, 0, V},
        {"ceil", {V}, 0, V},
        {"changes", {M}, 0, V},
        {"clamp", {V, S, S}, 0, V},
        {"clamp_max", {V, S}, 0, V},
        {"clamp_min", {V, S}, 0, V},
        {"cos", {V}, 0, V},
        {"cosh", {V}, 0, V},
        {"count_over_time", {M}, 0, V},
        {"day_of_month", {V}, 1, V},
        {"day_of_week", {V}, 1, V},
        {"day_of_year", {V}, 1, V},
        {"days_in_month", {V}, 1, V},
        {"deg", {V}, 0, V},
        {"delta", {M}, 0, V},
        {"deriv", {M}, 0, V},
        {"exp", {V}, 0, V},
        {"floor", {V}, 0, V},
        {"histogram_count", {V}, 0, V},
        {"histogram_fraction", {S, S, V}, 0, V},
        {"histogram_quantile", {S, V}, 0, V},
        {"histogram_sum", {V}, 0, V},
        {"holt_winters", {M, S, S}, 0, V},
        {"hour", {V}, 1, V},
        {"idelta", {M}, 0, V},
        {"increase", {M}, 0, V},
        {"irate", {M}, 0, V},
        {"label_join", {V, Str, Str, Str}, -1, V},
        {"label_replace", {V, Str, Str, Str, Str}, 0, V},
        {"last_over_time", {M}, 0, V},
        {"ln", {V}, 0, V},
        {"log10", {V}, 0, V},
        {"log2", {V}, 0, V},
        {"max_over_time", {M}, 0, V},
        {"min_over_time", {M}, 0, V},
        {"minute", {V}, 1, V},
        {"month", {V}, 1, V},
        {"pi", {}, 0, S},
        {"predict_linear", {M, S}, 0, V},
        {"present_over_time", {M}, 0, V},
        {"quantile_over_time", {S, M}, 0, V},
        {"rad", {V}, 0, V},
        {"rate", {M}, 0, V},
        {"resets", {M}, 0, V},
        {"round", {V, S}, 1, V},
        {"scalar", {V}, 0, S},
        {"sgn", {V}, 0, V},
        {"sin", {V}, 0, V},
        {"sinh", {V}, 0, V},
        {"sort", {V}, 0, V},
        {"sort_desc", {V}, 0, V},
        {"sqrt", {V}, 0, V},
        {"stddev_over_time", {M}, 0, V},
        {"stdvar_over_time", {M}, 0, V},
        {"sum_over_time", {M}, 0, V},
        {"tan", {V}, 0, V},
        {"tanh", {V}, 0, V},
        {"time", {}, 0, S},
        {"timestamp", {V}, 0, V},
        {"vector", {S}, 0, V},
        {"year", {V}, 1, V},
    };
    std::sort(f.begin(), f.end(), [](const auto& a, const auto& b) { return a.name < b.name; });
    return f;
  }();
  return kFunctions;
}

std::string JoinLabels(const std::vector<std::string>& labels) {
  std::string out;
  for (size_t i = 0; i < labels.size(); ++i) out += (i ? ", " : "") + labels[i];
  return out;
}

// Matcher.String(): name, operator, %q of the value.
std::string MatcherString(const tsdb::Matcher& m) {
  static constexpr const char* kOps[] = {"=", "!=", "=~", "!~"};
  return m.name() + kOps[static_cast<int>(m.type())] + GoQuote(m.value());
}

std::string AtString(AtModifier at, int64_t at_ms) {
  switch (at) {
    case AtModifier::kNone:
      return "";
    case AtModifier::kStart:
      return " @ start()";
    case AtModifier::kEnd:
      return " @ end()";
    case AtModifier::kTimestamp: {
      char buf[64];
      snprintf(buf, sizeof buf, " @ %.3f", static_cast<double>(at_ms) / 1000.0);
      return buf;
    }
  }
  return "";
}

std::string OffsetString(int64_t offset_ms) {
  if (offset_ms > 0) return " offset " + DurationString(offset_ms);
  if (offset_ms < 0) return " offset -" + DurationString(-offset_ms);
  return "";
}

// VectorSelector.String() without its modifiers.
std::string SelectorBody(const VectorSelector& vs) {
  std::vector<std::string> parts;
  for (const tsdb::Matcher& m : vs.matchers) {
    if (m.name() == tsdb::kMetricName && m.type() == tsdb::Matcher::Type::kEqual &&
        m.value() == vs.name)
      continue;
    parts.push_back(MatcherString(m));
  }
  if (parts.empty()) return vs.name;
  std::sort(parts.begin(), parts.end());
  std::string out = vs.name + "{";
  for (size_t i = 0; i < parts.size(); ++i) out += (i ? "," : "") + parts[i];
  return out + "}";
}

std::string MatchingString(const BinaryExpr& b) {
  if (!b.matching || (b.matching->labels.empty() && !b.matching->on)) return "";
  const VectorMatching& vm = *b.matching;
  std::string out = std::string(vm.on ? " on (" : " ignoring (") + JoinLabels(vm.labels) + ")";
  if (vm.card == VectorMatching::Card::kManyToOne || vm.card == VectorMatching::Card::kOneToMany) {
    out += vm.card == VectorMatching::Card::kManyToOne ? " group_left (" : " group_right (";
    out += JoinLabels(vm.include) + ")";
  }
  return out;
}

}  // namespace

const FunctionInfo* FindFunction(std::string_view name) {
  const auto& fs = Functions();
  auto it = std::lower_bound(fs.begin(), fs.end(), name,
                             [](const FunctionInfo& f, std::string_view n) { return f.name < n; });
  return it != fs.end() && it->name == name ? &*it : nullptr;
}

ValueType Expr::Type() const {
  switch (kind) {
    case NodeKind::kNumberLiteral:
      return ValueType::kScalar;
    case NodeKind::kStringLiteral:
      return ValueType::kString;
    case NodeKind::kVectorSelector:
      return ValueType::kVector;
    case NodeKind::kMatrixSelector:
      return ValueType::kMatrix;
    case NodeKind::kSubquery:
      return ValueType::kMatrix;
    case NodeKind::kParen:
      return static_cast<const ParenExpr*>(this)->expr->Type();
    case NodeKind::kUnary:
      return static_cast<const UnaryExpr*>(this)->expr->Type();
    case NodeKind::kBinary: {
      auto* b = static_cast<const BinaryExpr*>(this);
      return b->lhs->Type() == ValueType::kScalar && b->rhs->Type() == ValueType::kScalar
                 ? ValueType::kScalar
                 : ValueType::kVector;
    }
    case NodeKind::kAggregate:
      return ValueType::kVector;
    case NodeKind::kCall: {
      auto* c = static_cast<const Call*>(this);
      return c->func ? c->func->return_type : ValueType::kNone;
    }
  }
  return ValueType::kNone;
}

std::string Expr::ToString() const {
  switch (kind) {
    case NodeKind::kNumberLiteral:
      return GoFloat(static_cast<const NumberLiteral*>(this)->value);
    case NodeKind::kStringLiteral:
      return GoQuote(static_cast<const StringLiteral*>(this)->value);
    case NodeKind::kVectorSelector: {
      auto* vs = static_cast<const VectorSelector*>(this);
      return SelectorBody(*vs) + AtString(vs->at, vs->at_ms) + OffsetString(vs->offset_ms);
    }
    case NodeKind::kMatrixSelector: {
      auto* ms = static_cast<const MatrixSelector*>(this);
      const VectorSelector& vs = *ms->vector;
      return SelectorBody(vs) + "[" + DurationString(ms->range_ms) + "]" +
             AtString(vs.at, vs.at_ms) + OffsetString(vs.offset_ms);
    }
    case NodeKind::kSubquery: {
      auto* sq = static_cast<const SubqueryExpr*>(this);
      std::string step = sq->step_ms != 0 ? DurationString(sq->step_ms) : "";
      return sq->expr->ToString() + "[" + DurationString(sq->range_ms) + ":" + step + "]" +
             AtString(sq->at, sq->at_ms) + OffsetString(sq->offset_ms);
    }
    case NodeKind::kParen:
      return "(" + static_cast<const ParenExpr*>(this)->expr->ToString() + ")";
    case NodeKind::kUnary: {
      auto* u = static_cast<const UnaryExpr*>(this);
      return (u->negate ? "-" : "+") + u->expr->ToString();
    }
    case NodeKind::kBinary: {
      auto* b = static_cast<const BinaryExpr*>(this);
      return b->lhs->ToString() + " " + std::string(BinaryOpName(b->op)) +
             (b->return_bool ? " bool" : "") + MatchingString(*b) + " " + b->rhs->ToString();
    }
    case NodeKind::kAggregate: {
      auto* a = static_cast<const AggregateExpr*>(this);
      std::string out(AggOpName(a->op));
      if (a->without)
        out += " without (" + JoinLabels(a->grouping) + ") ";
      else if (!a->grouping.empty())
        out += " by (" + JoinLabels(a->grouping) + ") ";
      out += "(";
      if (a->param) out += a->param->ToString() + ", ";
      return out + a->expr->ToString() + ")";
    }
    case NodeKind::kCall: {
      auto* c = static_cast<const Call*>(this);
      std::string out = std::string(c->func ? c->func->name : "") + "(";
      for (size_t i = 0; i < c->args.size(); ++i) out += (i ? ", " : "") + c->args[i]->ToString();
      return out + ")";
    }
  }
  return "";
}

}  // namespace steward::promql
