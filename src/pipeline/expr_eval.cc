// Evaluate, Interpolate and conditions (pipeline/expr.h) with GitHub's semantics.
//
// Values travel as pointers into the contexts (or into values made during evaluation, kept
// alive by `hold`), not as copies: contexts such as github.event can be large, and GitHub
// compares objects and arrays by identity, which a pointer gives for free.
#include <fmt/format.h>

#include <algorithm>
#include <cmath>

#include "pipeline/expr.h"
#include "pipeline/expr_node.h"

namespace steward::pipeline {
namespace {

using nlohmann::json;

const json& NullJson() {
  static const json* null = new json(nullptr);
  return *null;
}

struct Val {
  std::shared_ptr<const json> hold;  // owner of *p when it was made during evaluation
  const json* p = &NullJson();
  bool filtered = false;  // the result of `*`: later property access maps over the items

  static Val Make(json v, bool filtered = false) {
    auto owned = std::make_shared<const json>(std::move(v));
    Val out;
    out.p = owned.get();
    out.hold = std::move(owned);
    out.filtered = filtered;
    return out;
  }
  Val Child(const json& inner) const {
    Val out;
    out.hold = hold;
    out.p = &inner;
    return out;
  }
  const json& operator*() const { return *p; }
  const json* operator->() const { return p; }
};

// Thrown only inside this file and caught in Evaluate: errors unwind the recursion.
struct EvalError {
  std::string message;
};

char LowerChar(char c) { return (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c; }

std::string Lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = LowerChar(c);
  return out;
}

// Ordinal comparison ignoring ASCII case, as GitHub compares strings.
int CompareIgnoreCase(std::string_view a, std::string_view b) {
  size_t n = std::min(a.size(), b.size());
  for (size_t i = 0; i < n; ++i) {
    char x = LowerChar(a[i]), y = LowerChar(b[i]);
    if (x != y) return static_cast<unsigned char>(x) < static_cast<unsigned char>(y) ? -1 : 1;
  }
  return a.size() == b.size() ? 0 : (a.size() < b.size() ? -1 : 1);
}

bool IsCollection(const json& v) { return v.is_array() || v.is_object(); }

double ToNumber(const json& v) {
  if (v.is_null()) return 0;
  if (v.is_boolean()) return v.get<bool>() ? 1 : 0;
  if (v.is_number()) return v.get<double>();
  if (v.is_string()) {
    std::string_view s = v.get_ref<const std::string&>();
    while (!s.empty() && std::isspace(static_cast<unsigned char>(s.front()))) s.remove_prefix(1);
    while (!s.empty() && std::isspace(static_cast<unsigned char>(s.back()))) s.remove_suffix(1);
    if (s.empty()) return 0;
    return ParseNumberText(s).value_or(std::nan(""));
  }
  return std::nan("");
}

bool LooseEqual(const Val& a, const Val& b) {
  const json &x = *a, &y = *b;
  if (IsCollection(x) || IsCollection(y)) {
    return x.type() == y.type() && a.p == b.p;  // by identity, as GitHub does
  }
  if (x.is_string() && y.is_string()) {
    return CompareIgnoreCase(x.get_ref<const std::string&>(), y.get_ref<const std::string&>()) == 0;
  }
  if (x.is_null() && y.is_null()) return true;
  return ToNumber(x) == ToNumber(y);  // NaN equals nothing
}

// -1, 0, 1; nullopt when the values do not order (collections, NaN).
std::optional<int> Order(const Val& a, const Val& b) {
  const json &x = *a, &y = *b;
  if (IsCollection(x) || IsCollection(y)) return std::nullopt;
  if (x.is_string() && y.is_string()) {
    return CompareIgnoreCase(x.get_ref<const std::string&>(), y.get_ref<const std::string&>());
  }
  double l = ToNumber(x), r = ToNumber(y);
  if (std::isnan(l) || std::isnan(r)) return std::nullopt;
  return l < r ? -1 : (l > r ? 1 : 0);
}

const json* FindKey(const json& object, std::string_view key) {
  auto it = object.find(key);
  if (it != object.end()) return &*it;
  // Contexts are case-insensitive in GitHub: github.SHA is github.sha.
  for (auto i = object.begin(); i != object.end(); ++i) {
    if (CompareIgnoreCase(i.key(), key) == 0) return &i.value();
  }
  return nullptr;
}

// item[key] for one (unfiltered) item; nullptr when absent.
const json* IndexOne(const json& item, const json& key) {
  if (item.is_object() && key.is_string()) return FindKey(item, key.get_ref<const std::string&>());
  if (item.is_array() && key.is_number()) {
    double d = std::trunc(key.get<double>());
    if (!(d >= 0) || d >= static_cast<double>(item.size())) return nullptr;
    return &item[static_cast<size_t>(d)];
  }
  return nullptr;
}

class Evaluator {
 public:
  explicit Evaluator(const EvalContext& ctx) : ctx_(ctx) {}

  Val Eval(const ExprNode& n) {
    switch (n.op) {
      case ExprOp::kLiteral: {
        Val v;
        v.p = &n.value;  // the tree outlives the evaluation
        return v;
      }
      case ExprOp::kContext: {
        Val v;
        if (ctx_.contexts.is_object()) {
          if (const json* c = FindKey(ctx_.contexts, n.name)) v.p = c;
        }
        return v;
      }
      case ExprOp::kIndex:
        return Index(Eval(*n.args[0]), Eval(*n.args[1]));
      case ExprOp::kWildcard:
        return Wildcard(Eval(*n.args[0]));
      case ExprOp::kNot:
        return Val::Make(!Truthy(*Eval(*n.args[0])));
      case ExprOp::kAnd: {
        Val left = Eval(*n.args[0]);
        return Truthy(*left) ? Eval(*n.args[1]) : left;
      }
      case ExprOp::kOr: {
        Val left = Eval(*n.args[0]);
        return Truthy(*left) ? left : Eval(*n.args[1]);
      }
      case ExprOp::kEqual:
        return Val::Make(LooseEqual(Eval(*n.args[0]), Eval(*n.args[1])));
      case ExprOp::kNotEqual:
        return Val::Make(!LooseEqual(Eval(*n.args[0]), Eval(*n.args[1])));
      case ExprOp::kLess:
      case ExprOp::kLessEqual:
      case ExprOp::kGreater:
      case ExprOp::kGreaterEqual: {
        std::optional<int> o = Order(Eval(*n.args[0]), Eval(*n.args[1]));
        if (!o) return Val::Make(false);
        bool r = n.op == ExprOp::kLess        ? *o < 0
                 : n.op == ExprOp::kLessEqual ? *o <= 0
                 : n.op == ExprOp::kGreater   ? *o > 0
                                              : *o >= 0;
        return Val::Make(r);
      }
      case ExprOp::kCall:
        return Call(n);
    }
    return Val();
  }

 private:
  Val Index(const Val& left, const Val& key) {
    if (left.filtered) {
      json out = json::array();
      for (const json& item : *left) {
        if (const json* v = IndexOne(item, *key)) out.push_back(*v);
      }
      return Val::Make(std::move(out), true);
    }
    const json* v = IndexOne(*left, *key);
    return v ? left.Child(*v) : Val();
  }

  Val Wildcard(const Val& left) {
    json out = json::array();
    auto add_children = [&](const json& c) {
      if (c.is_array()) {
        for (const json& x : c) out.push_back(x);
      } else if (c.is_object()) {
        for (const json& x : c) out.push_back(x);  // the values
      }
    };
    if (left.filtered) {
      for (const json& item : *left) add_children(item);
    } else {
      add_children(*left);
    }
    return Val::Make(std::move(out), true);
  }

  Val Call(const ExprNode& n) {
    const std::string& f = n.name;
    if (f == "success") return Val::Make(!ctx_.failed && !ctx_.cancelled);
    if (f == "failure") return Val::Make(ctx_.failed);
    if (f == "always") return Val::Make(true);
    if (f == "cancelled") return Val::Make(ctx_.cancelled);
    std::vector<Val> args;
    args.reserve(n.args.size());
    for (const auto& a : n.args) args.push_back(Eval(*a));
    if (f == "contains") {
      if (args[0]->is_array()) {
        for (const json& item : *args[0]) {
          if (LooseEqual(args[0].Child(item), args[1])) return Val::Make(true);
        }
        return Val::Make(false);
      }
      std::string hay = Lower(ValueToString(*args[0])), needle = Lower(ValueToString(*args[1]));
      return Val::Make(hay.find(needle) != std::string::npos);
    }
    if (f == "startswith" || f == "endswith") {
      std::string s = Lower(ValueToString(*args[0])), part = Lower(ValueToString(*args[1]));
      return Val::Make(f == "startswith" ? s.starts_with(part) : s.ends_with(part));
    }
    if (f == "format") return Val::Make(Format(n, args));
    if (f == "join") {
      std::string sep = args.size() > 1 ? ValueToString(*args[1]) : ",";
      if (!args[0]->is_array()) return Val::Make(ValueToString(*args[0]));
      std::string out;
      bool first = true;
      for (const json& item : *args[0]) {
        if (!first) out += sep;
        first = false;
        out += ValueToString(item);
      }
      return Val::Make(std::move(out));
    }
    if (f == "tojson")
      return Val::Make(args[0]->dump(2, ' ', false, json::error_handler_t::replace));
    if (f == "fromjson") {
      std::string text = ValueToString(*args[0]);
      json parsed = json::parse(text, nullptr, /*allow_exceptions=*/false);
      if (parsed.is_discarded()) {
        throw EvalError{fmt::format("column {}: fromJSON: the argument is not valid JSON: '{}'",
                                    n.column, Abbreviate(text))};
      }
      return Val::Make(std::move(parsed));
    }
    if (f == "hashfiles") {
      if (!ctx_.hash_files) {
        throw EvalError{fmt::format("column {}: hashFiles() is not available here", n.column)};
      }
      std::vector<std::string> patterns;
      for (const Val& a : args) patterns.push_back(ValueToString(*a));
      StatusOr<std::string> h = ctx_.hash_files(patterns);
      if (!h.ok()) {
        throw EvalError{fmt::format("column {}: hashFiles: {}", n.column, h.status().message())};
      }
      return Val::Make(*h);
    }
    throw EvalError{fmt::format("column {}: unknown function '{}'", n.column, f)};
  }

  // format('{0} and {1}', a, b); '{{' and '}}' are literal braces.
  std::string Format(const ExprNode& n, const std::vector<Val>& args) {
    std::string spec = ValueToString(*args[0]);
    std::string out;
    for (size_t i = 0; i < spec.size(); ++i) {
      char c = spec[i];
      if (c == '{' && i + 1 < spec.size() && spec[i + 1] == '{') {
        out += '{';
        ++i;
      } else if (c == '}' && i + 1 < spec.size() && spec[i + 1] == '}') {
        out += '}';
        ++i;
      } else if (c == '{') {
        size_t close = spec.find('}', i);
        std::string_view digits =
            close == std::string::npos ? "" : std::string_view(spec).substr(i + 1, close - i - 1);
        if (digits.empty() || digits.size() > 6 ||
            !std::all_of(digits.begin(), digits.end(),
                         [](char d) { return d >= '0' && d <= '9'; })) {
          throw EvalError{
              fmt::format("column {}: format: '{{' at offset {} of '{}' does not start "
                          "a placeholder like {{0}}; write '{{{{' for a brace",
                          n.column, i, Abbreviate(spec))};
        }
        size_t index = std::stoul(std::string(digits));
        if (index + 1 >= args.size()) {
          throw EvalError{
              fmt::format("column {}: format: '{{{}}}' needs {} argument{} after the "
                          "format string, got {}",
                          n.column, index, index + 1, index == 0 ? "" : "s", args.size() - 1)};
        }
        out += ValueToString(*args[index + 1]);
        i = close;
      } else if (c == '}') {
        throw EvalError{
            fmt::format("column {}: format: a lone '}}' in '{}'; write '}}}}' for a "
                        "brace",
                        n.column, Abbreviate(spec))};
      } else {
        out += c;
      }
    }
    return out;
  }

  static std::string Abbreviate(const std::string& s) {
    return s.size() <= 60 ? s : s.substr(0, 57) + "...";
  }

  const EvalContext& ctx_;
};

// Where the ${{ }} of a text are: offsets of "${{", of the expression inside, and past "}}".
struct Placeholder {
  size_t begin;       // "${{"
  size_t expr_begin;  // first byte after "${{"
  size_t expr_end;    // first byte of "}}"
  size_t end;         // past "}}"
};

StatusOr<std::vector<Placeholder>> FindPlaceholders(std::string_view text) {
  std::vector<Placeholder> out;
  size_t pos = 0;
  while ((pos = text.find("${{", pos)) != std::string_view::npos) {
    Placeholder p{pos, pos + 3, 0, 0};
    bool in_string = false;
    size_t i = p.expr_begin;
    for (; i < text.size(); ++i) {
      if (text[i] == '\'') {
        in_string = !in_string;  // '' inside a string toggles twice: still inside
      } else if (!in_string && text[i] == '}' && i + 1 < text.size() && text[i + 1] == '}') {
        break;
      }
    }
    if (i >= text.size()) {
      return InvalidArgument(fmt::format("column {}: '${{{{' is not closed with '}}}}'", pos + 1));
    }
    p.expr_end = i;
    p.end = i + 2;
    out.push_back(p);
    pos = p.end;
  }
  return out;
}

// "column N: rest" -> "column N+offset: rest".
Status ShiftColumn(const Status& s, size_t offset) {
  const std::string& m = s.message();
  int column = 0;
  size_t colon = m.find(": ");
  if (!m.starts_with("column ") || colon == std::string::npos ||
      std::sscanf(m.c_str() + 7, "%d", &column) != 1) {
    return s;
  }
  return Status(s.code(),
                fmt::format("column {}{}", column + static_cast<int>(offset), m.substr(colon)));
}

StatusOr<Expr> ParseShifted(std::string_view text, size_t offset) {
  StatusOr<Expr> e = Expr::Parse(text);
  if (!e.ok()) return ShiftColumn(e.status(), offset);
  return e;
}

// The expression of a condition and its offset in the condition text: the condition itself,
// or what is inside when the whole of it is one ${{ }}.
StatusOr<std::pair<std::string_view, size_t>> ConditionText(std::string_view condition) {
  ASSIGN_OR_RETURN(std::vector<Placeholder> holders, FindPlaceholders(condition));
  if (holders.empty()) return std::make_pair(condition, size_t{0});
  size_t first = condition.find_first_not_of(" \t\r\n");
  size_t last = condition.find_last_not_of(" \t\r\n");
  if (holders.size() == 1 && holders[0].begin == first && holders[0].end == last + 1) {
    const Placeholder& p = holders[0];
    return std::make_pair(condition.substr(p.expr_begin, p.expr_end - p.expr_begin), p.expr_begin);
  }
  // GitHub turns such a condition into a string, which is always true: never what was meant.
  return InvalidArgument(fmt::format(
      "column {}: the condition mixes ${{{{ }}}} with other text; write it as one expression, "
      "e.g. ${{{{ a && b }}}} or a && b",
      holders[0].begin + 1));
}

bool IsBlank(std::string_view s) {
  return s.find_first_not_of(" \t\r\n") == std::string_view::npos;
}

}  // namespace

StatusOr<json> Evaluate(const Expr& expr, const EvalContext& ctx) {
  if (expr.root_ == nullptr) return InvalidArgument("the expression was not parsed");
  try {
    Val v = Evaluator(ctx).Eval(*expr.root_);
    return json(*v);
  } catch (const EvalError& e) {
    return InvalidArgument(e.message);
  }
}

bool Truthy(const json& value) {
  if (value.is_null()) return false;
  if (value.is_boolean()) return value.get<bool>();
  if (value.is_number()) {
    double d = value.get<double>();
    return !(d == 0 || std::isnan(d));
  }
  if (value.is_string()) return !value.get_ref<const std::string&>().empty();
  return true;
}

std::string ValueToString(const json& value) {
  if (value.is_null()) return "";
  if (value.is_boolean()) return value.get<bool>() ? "true" : "false";
  if (value.is_number_integer()) return std::to_string(value.get<int64_t>());
  if (value.is_number_unsigned()) return std::to_string(value.get<uint64_t>());
  if (value.is_number()) {
    double d = value.get<double>();
    if (std::isnan(d)) return "NaN";
    if (std::isinf(d)) return d > 0 ? "Infinity" : "-Infinity";
    if (d == std::trunc(d) && std::fabs(d) < 1e15) return std::to_string(static_cast<int64_t>(d));
    return fmt::format("{}", d);
  }
  if (value.is_string()) return value.get<std::string>();
  return value.dump(-1, ' ', false, json::error_handler_t::replace);
}

StatusOr<std::string> Interpolate(std::string_view text, const EvalContext& ctx) {
  ASSIGN_OR_RETURN(std::vector<Placeholder> holders, FindPlaceholders(text));
  std::string out;
  size_t done = 0;
  for (const Placeholder& p : holders) {
    out.append(text.substr(done, p.begin - done));
    ASSIGN_OR_RETURN(
        Expr e, ParseShifted(text.substr(p.expr_begin, p.expr_end - p.expr_begin), p.expr_begin));
    StatusOr<json> v = Evaluate(e, ctx);
    if (!v.ok()) return ShiftColumn(v.status(), p.expr_begin);
    out += ValueToString(*v);
    done = p.end;
  }
  out.append(text.substr(done));
  return out;
}

Status CheckInterpolation(std::string_view text) {
  ASSIGN_OR_RETURN(std::vector<Placeholder> holders, FindPlaceholders(text));
  for (const Placeholder& p : holders) {
    StatusOr<Expr> e =
        ParseShifted(text.substr(p.expr_begin, p.expr_end - p.expr_begin), p.expr_begin);
    if (!e.ok()) return e.status();
  }
  return Status::OK();
}

StatusOr<bool> EvaluateCondition(std::string_view condition, const EvalContext& ctx) {
  bool success = !ctx.failed && !ctx.cancelled;
  if (IsBlank(condition)) return success;
  ASSIGN_OR_RETURN(auto inner, ConditionText(condition));
  ASSIGN_OR_RETURN(Expr e, ParseShifted(inner.first, inner.second));
  // Without a status function GitHub means success() && (condition): skip evaluating then,
  // so a condition about a failed step's outputs cannot fail the run.
  if (!e.UsesStatusFunction() && !success) return false;
  StatusOr<json> v = Evaluate(e, ctx);
  if (!v.ok()) return ShiftColumn(v.status(), inner.second);
  return Truthy(*v);
}

Status CheckCondition(std::string_view condition) {
  if (IsBlank(condition)) return Status::OK();
  ASSIGN_OR_RETURN(auto inner, ConditionText(condition));
  StatusOr<Expr> e = ParseShifted(inner.first, inner.second);
  return e.ok() ? Status::OK() : e.status();
}

}  // namespace steward::pipeline
