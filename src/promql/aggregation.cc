// Aggregation operators of the evaluator (engine_internal.h), step by step as Prometheus 2.42's
// aggregation(): groups in order of first appearance, avg as an incremental mean that survives
// overflow, stddev/stdvar by Welford, topk/bottomk with Go's container/heap and NaN ordering,
// quantile with φ outside [0, 1] giving ±Inf, count_values with Go's float formatting.
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <limits>
#include <unordered_map>
#include <utility>

#include "promql/engine_internal.h"
#include "promql/functions_internal.h"

namespace steward::promql::eval {
namespace {

// A topk/bottomk candidate: a value and its sample's index in the step's input.
struct Item {
  double v = 0;
  size_t j = 0;
};

// Go's container/heap over a vector with a Less function.
template <typename Less>
class GoHeap {
 public:
  explicit GoHeap(Less less) : less_(less) {}
  std::vector<Item>& items() { return h_; }
  void Push(Item s) {
    h_.push_back(std::move(s));
    Up(static_cast<int>(h_.size()) - 1);
  }
  void Pop() {
    int n = static_cast<int>(h_.size()) - 1;
    std::swap(h_[0], h_[n]);
    Down(0, n);
    h_.pop_back();
  }
  // sort.Sort(sort.Reverse(h)), with Go's algorithm so ties and NaNs end up where Go puts them.
  void SortReverse() {
    internal::GoSort(
        h_.size(), [this](size_t i, size_t j) { return less_(h_[j], h_[i]); },
        [this](size_t i, size_t j) { std::swap(h_[i], h_[j]); });
  }

 private:
  void Up(int j) {
    while (true) {
      int i = (j - 1) / 2;
      if (i == j || !less_(h_[j], h_[i])) break;
      std::swap(h_[i], h_[j]);
      j = i;
    }
  }
  void Down(int i, int n) {
    while (true) {
      int j1 = 2 * i + 1;
      if (j1 >= n || j1 < 0) break;
      int j = j1;
      if (int j2 = j1 + 1; j2 < n && less_(h_[j2], h_[j1])) j = j2;
      if (!less_(h_[j], h_[i])) break;
      std::swap(h_[i], h_[j]);
      i = j;
    }
  }
  Less less_;
  std::vector<Item> h_;
};

bool ValueLess(const Item& a, const Item& b) { return std::isnan(a.v) || a.v < b.v; }
bool ValueGreater(const Item& a, const Item& b) { return std::isnan(a.v) || a.v > b.v; }

struct Group {
  tsdb::Labels labels;
  double value = 0;
  double mean = 0;
  int64_t count = 0;
  std::vector<double> values;  // quantile
  GoHeap<decltype(&ValueLess)> top{&ValueLess};
  GoHeap<decltype(&ValueGreater)> bottom{&ValueGreater};
};

}  // namespace

tsdb::Labels GroupLabels(const tsdb::Labels& l, const std::vector<std::string>& grouping,
                         bool without) {
  if (without) return DropMetricName(DropLabels(l, grouping));
  if (grouping.empty()) return {};
  return KeepLabels(l, grouping);
}

namespace {

double Quantile(double q, std::vector<double>& values) {
  if (values.empty()) return std::numeric_limits<double>::quiet_NaN();
  if (q < 0) return -std::numeric_limits<double>::infinity();
  if (q > 1) return std::numeric_limits<double>::infinity();
  if (std::isnan(q)) return std::numeric_limits<double>::quiet_NaN();
  // sort.Sort(vectorByValueHeap): NaN sorts first (its Less is not a strict order: Go's
  // algorithm decides where NaNs land, so use it).
  internal::GoSort(
      values.size(),
      [&values](size_t i, size_t j) { return std::isnan(values[i]) || values[i] < values[j]; },
      [&values](size_t i, size_t j) { std::swap(values[i], values[j]); });
  double n = static_cast<double>(values.size());
  double rank = q * (n - 1);
  double lower = std::max(0.0, std::floor(rank));
  double upper = std::min(n - 1, lower + 1);
  double weight = rank - std::floor(rank);
  return values[static_cast<size_t>(lower)] * (1 - weight) +
         values[static_cast<size_t>(upper)] * weight;
}

void AddToGroup(AggOp op, int64_t k, Group& g, const Item& s) {
  switch (op) {
    case AggOp::kSum:
      g.value += s.v;
      break;
    case AggOp::kAvg:
      ++g.count;
      if (std::isinf(g.mean)) {
        // Inf stays Inf unless the new value is the opposite Inf or NaN.
        if (std::isinf(s.v) && (g.mean > 0) == (s.v > 0)) break;
        if (!std::isinf(s.v) && !std::isnan(s.v)) break;
      }
      g.mean += s.v / static_cast<double>(g.count) - g.mean / static_cast<double>(g.count);
      break;
    case AggOp::kMax:
      if (g.value < s.v || std::isnan(g.value)) g.value = s.v;
      break;
    case AggOp::kMin:
      if (g.value > s.v || std::isnan(g.value)) g.value = s.v;
      break;
    case AggOp::kCount:
    case AggOp::kCountValues:
      ++g.count;
      break;
    case AggOp::kStdvar:
    case AggOp::kStddev: {
      ++g.count;
      double delta = s.v - g.mean;
      g.mean += delta / static_cast<double>(g.count);
      g.value += delta * (s.v - g.mean);
      break;
    }
    case AggOp::kTopk: {
      auto& h = g.top.items();
      if (static_cast<int64_t>(h.size()) < k || h[0].v < s.v || std::isnan(h[0].v)) {
        if (static_cast<int64_t>(h.size()) == k) {
          if (k == 1) {
            h[0] = s;
            break;
          }
          g.top.Pop();
        }
        g.top.Push(s);
      }
      break;
    }
    case AggOp::kBottomk: {
      auto& h = g.bottom.items();
      if (static_cast<int64_t>(h.size()) < k || h[0].v > s.v || std::isnan(h[0].v)) {
        if (static_cast<int64_t>(h.size()) == k) {
          if (k == 1) {
            h[0] = s;
            break;
          }
          g.bottom.Pop();
        }
        g.bottom.Push(s);
      }
      break;
    }
    case AggOp::kQuantile:
      g.values.push_back(s.v);
      break;
    case AggOp::kGroup:
      break;
  }
}

void StartGroup(AggOp op, Group& g, const Item& s) {
  g.value = s.v;
  g.mean = s.v;
  g.count = 1;
  switch (op) {
    case AggOp::kStdvar:
    case AggOp::kStddev:
      g.value = 0;
      break;
    case AggOp::kTopk:
      g.top.items().push_back(s);
      break;
    case AggOp::kBottomk:
      g.bottom.items().push_back(s);
      break;
    case AggOp::kQuantile:
      g.values.push_back(s.v);
      break;
    case AggOp::kGroup:
      g.value = 1;
      break;
    default:
      break;
  }
}

// Go's %v for a float64 (strconv 'g', shortest, %e when the exponent is < -4 or >= 6).
std::string GoFloatV(double v) {
  if (std::isnan(v)) return "NaN";
  if (std::isinf(v)) return v > 0 ? "+Inf" : "-Inf";
  char buf[64];
  for (int p = 1; p <= 17; ++p) {
    std::snprintf(buf, sizeof buf, "%.*e", p - 1, v);
    if (std::strtod(buf, nullptr) == v) {
      int exp = std::atoi(std::strchr(buf, 'e') + 1);
      if (exp < -4 || exp >= 6) return buf;
      std::snprintf(buf, sizeof buf, "%.*f", std::max(0, p - 1 - exp), v);
      return buf;
    }
  }
  return buf;
}

}  // namespace

// strconv.FormatFloat(v, 'f', -1, 64): the shortest digits that round-trip, never an exponent.
std::string FormatFloatF(double v) {
  if (std::isnan(v)) return "NaN";
  if (std::isinf(v)) return v > 0 ? "+Inf" : "-Inf";
  char buf[64];
  for (int p = 1; p <= 17; ++p) {
    std::snprintf(buf, sizeof buf, "%.*e", p - 1, v);
    if (std::strtod(buf, nullptr) == v) break;
  }
  // buf = [-]d.ddde±XX: place the decimal point by hand so large values keep their digits.
  std::string s(buf);
  bool neg = s[0] == '-';
  if (neg) s.erase(0, 1);
  size_t e = s.find('e');
  int exp = std::atoi(s.c_str() + e + 1);
  std::string digits;
  for (size_t i = 0; i < e; ++i) {
    if (s[i] != '.') digits.push_back(s[i]);
  }
  while (digits.size() > 1 && digits.back() == '0') digits.pop_back();
  std::string out;
  int point = exp + 1;  // digits before the decimal point
  if (point <= 0) {
    out = "0." + std::string(-point, '0') + digits;
  } else if (point >= static_cast<int>(digits.size())) {
    out = digits + std::string(point - digits.size(), '0');
  } else {
    out = digits.substr(0, point) + "." + digits.substr(point);
  }
  if (out == "0") return neg ? "-0" : "0";
  return neg ? "-" + out : out;
}

std::string GroupingKey(const tsdb::Labels& l, const std::vector<std::string>& grouping,
                        bool without) {
  if (!without && grouping.empty()) return {};
  return SignatureKey(l, !without, grouping);
}

Status Aggregate(const AggregateExpr& a, double param, const StepVector& in, AggState* state,
                 StepOutput* out) {
  int64_t k = 0;
  if (a.op == AggOp::kTopk || a.op == AggOp::kBottomk) {
    // Prometheus' convertibleToInt64 bounds.
    if (!(param >= -9223372036854775808.0 && param <= 9223372036854774784.0)) {
      return FailedPrecondition("Scalar value " + GoFloatV(param) + " overflows int64");
    }
    k = static_cast<int64_t>(param);
    if (k < 1) return Status::OK();
  }
  // Groups in order of first appearance in this step's vector, as Prometheus.
  std::vector<Group> groups;
  std::vector<uint32_t> ids;
  for (size_t i = 0; i < in.size(); ++i) {
    const uint32_t id = state->group_of[in.series[i]];
    int32_t& slot = state->slot[id];
    if (slot >= 0) {
      AddToGroup(a.op, k, groups[slot], Item{in.v[i], i});
      continue;
    }
    slot = static_cast<int32_t>(groups.size());
    ids.push_back(id);
    groups.emplace_back();
    StartGroup(a.op, groups.back(), Item{in.v[i], i});
  }
  for (uint32_t id : ids) state->slot[id] = -1;

  for (size_t gi = 0; gi < groups.size(); ++gi) {
    Group& g = groups[gi];
    double v = g.value;
    switch (a.op) {
      case AggOp::kAvg:
        v = g.mean;
        break;
      case AggOp::kCount:
        v = static_cast<double>(g.count);
        break;
      case AggOp::kStdvar:
        v = g.value / static_cast<double>(g.count);
        break;
      case AggOp::kStddev:
        v = std::sqrt(g.value / static_cast<double>(g.count));
        break;
      case AggOp::kQuantile:
        v = Quantile(param, g.values);
        break;
      case AggOp::kTopk:
        if (g.top.items().size() > 1) g.top.SortReverse();
        for (const Item& s : g.top.items()) out->AddStable(&in.metric(s.j), s.v);
        continue;
      case AggOp::kBottomk:
        if (g.bottom.items().size() > 1) g.bottom.SortReverse();
        for (const Item& s : g.bottom.items()) out->AddStable(&in.metric(s.j), s.v);
        continue;
      default:
        break;
    }
    out->AddStable(&state->labels[ids[gi]], v);
  }
  return Status::OK();
}

Status CountValues(const AggregateExpr& a, const std::vector<std::string>& grouping,
                   const std::string& value_label, const StepVector& in, StepOutput* result) {
  std::unordered_map<std::string, size_t> index;
  Vector out;
  for (size_t j = 0; j < in.size(); ++j) {
    tsdb::Labels metric = in.metric(j).With(value_label, FormatFloatF(in.v[j]));
    auto [it, fresh] = index.emplace(GroupingKey(metric, grouping, a.without), out.size());
    if (fresh) {
      out.push_back(Sample{GroupLabels(metric, grouping, a.without), 0, 1});
    } else {
      out[it->second].v += 1;
    }
  }
  result->AddVector(std::move(out));
  return Status::OK();
}

StatusOr<Matrix> Evaluator::EvalAggregate(const AggregateExpr& a) {
  std::vector<std::string> grouping = a.grouping;
  std::sort(grouping.begin(), grouping.end());
  const Expr* param = a.param ? UnwrapParens(a.param.get()) : nullptr;
  if (a.op == AggOp::kCountValues) {
    const std::string label = param != nullptr && param->kind == NodeKind::kStringLiteral
                                  ? static_cast<const StringLiteral*>(param)->value
                                  : std::string();
    if (!tsdb::IsValidLabelName(label)) {
      return FailedPrecondition("invalid label name " + GoQuote(label));
    }
    if (!a.without) {
      grouping.push_back(label);
      std::sort(grouping.begin(), grouping.end());
    }
    return RangeEval({a.expr.get()}, nullptr, [&](const StepArgs& in, StepOutput* out) {
      return CountValues(a, grouping, label, in.vectors[0], out);
    });
  }
  AggState state;
  auto prepare = [&](const std::vector<const Matrix*>& args) -> Status {
    std::unordered_map<std::string, uint32_t> ids;
    for (const auto& s : *args[1]) {
      auto [it, fresh] = ids.emplace(GroupingKey(s.metric, grouping, a.without),
                                     static_cast<uint32_t>(state.labels.size()));
      if (fresh) state.labels.push_back(GroupLabels(s.metric, grouping, a.without));
      state.group_of.push_back(it->second);
    }
    state.slot.assign(state.labels.size(), -1);
    return Status::OK();
  };
  return RangeEval({param, a.expr.get()}, prepare, [&](const StepArgs& in, StepOutput* out) {
    double p = param != nullptr ? std::get<Scalar>(in.args[0]).v : 0;
    return Aggregate(a, p, in.vectors[1], &state, out);
  });
}

}  // namespace steward::promql::eval
