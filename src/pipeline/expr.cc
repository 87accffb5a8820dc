// Expr::Parse: a recursive-descent parser over the expression text, straight to the tree of
// expr_node.h. Precedence, loosest first, as in GitHub's runner: || , && , == != ,
// < <= > >= , ! , then postfix . [] and primaries. Every error names a 1-based column.
#include "pipeline/expr.h"

#include <fmt/format.h>

#include <algorithm>
#include <array>
#include <charconv>
#include <cmath>
#include <limits>

#include "pipeline/expr_node.h"

namespace steward::pipeline {
namespace {

// Deeper nesting is an error rather than a deep recursion; GitHub's own limit is 50 too.
constexpr int kMaxDepth = 50;
// Chains (a.b.c..., a || b || ...) are built without recursion but evaluated with it.
constexpr int kMaxTreeDepth = 200;

constexpr std::array<std::string_view, 12> kContexts = {"github",   "env",    "vars",   "job",
                                                        "jobs",     "steps",  "runner", "secrets",
                                                        "strategy", "matrix", "needs",  "inputs"};

struct FunctionInfo {
  std::string_view name;  // lowercase
  int min_args;
  int max_args;  // -1: any number
};

constexpr std::array<FunctionInfo, 12> kFunctions = {{{"contains", 2, 2},
                                                      {"startswith", 2, 2},
                                                      {"endswith", 2, 2},
                                                      {"format", 1, -1},
                                                      {"join", 1, 2},
                                                      {"tojson", 1, 1},
                                                      {"fromjson", 1, 1},
                                                      {"hashfiles", 1, -1},
                                                      {"success", 0, 0},
                                                      {"failure", 0, 0},
                                                      {"always", 0, 0},
                                                      {"cancelled", 0, 0}}};

std::string Lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) {
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  }
  return out;
}

bool IsIdentStart(char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_'; }
bool IsIdentChar(char c) { return IsIdentStart(c) || (c >= '0' && c <= '9') || c == '-'; }
bool IsDigit(char c) { return c >= '0' && c <= '9'; }

using NodePtr = std::shared_ptr<const ExprNode>;

// Thrown only inside this file, caught in Expr::Parse: the error unwinds the recursion.
struct ParseError {
  int column;
  std::string message;
};

class Parser {
 public:
  explicit Parser(std::string_view text) : text_(text) {}

  NodePtr ParseAll() {
    SkipSpace();
    if (pos_ >= text_.size()) Fail(pos_, "the expression is empty");
    NodePtr root = ParseOr(0);
    SkipSpace();
    if (pos_ < text_.size()) {
      Fail(pos_, fmt::format("unexpected '{}' after a complete expression; expected an operator "
                             "(==, !=, <, >, &&, ||) or the end",
                             Token()));
    }
    return root;
  }

 private:
  [[noreturn]] void Fail(size_t at, std::string message) {
    throw ParseError{static_cast<int>(at) + 1, std::move(message)};
  }
  void SkipSpace() {
    while (pos_ < text_.size() && (text_[pos_] == ' ' || text_[pos_] == '\t' ||
                                   text_[pos_] == '\n' || text_[pos_] == '\r')) {
      ++pos_;
    }
  }
  bool Peek(std::string_view s) {
    SkipSpace();
    return text_.substr(pos_).starts_with(s);
  }
  bool Accept(std::string_view s) {
    if (!Peek(s)) return false;
    pos_ += s.size();
    return true;
  }
  // The text at pos_ for messages: one token's worth.
  std::string Token() const {
    if (pos_ >= text_.size()) return "end of expression";
    size_t end = pos_ + 1;
    while (end < text_.size() && end - pos_ < 20 && IsIdentChar(text_[pos_]) &&
           IsIdentChar(text_[end])) {
      ++end;
    }
    return std::string(text_.substr(pos_, end - pos_));
  }
  std::shared_ptr<ExprNode> Node(ExprOp op, size_t at) {
    auto n = std::make_shared<ExprNode>();
    n->op = op;
    n->column = static_cast<int>(at) + 1;
    return n;
  }
  NodePtr Binary(ExprOp op, size_t at, NodePtr left, NodePtr right) {
    auto n = Node(op, at);
    n->args = {std::move(left), std::move(right)};
    return Deepen(n);
  }
  NodePtr Deepen(std::shared_ptr<ExprNode> n) {
    for (const NodePtr& a : n->args) n->depth = std::max(n->depth, a->depth + 1);
    if (n->depth > kMaxTreeDepth) {
      Fail(pos_,
           fmt::format("the expression is too long a chain (more than {} levels)", kMaxTreeDepth));
    }
    return n;
  }
  void Enter(int depth) {
    if (depth > kMaxDepth) Fail(pos_, fmt::format("nested too deeply (limit {})", kMaxDepth));
  }

  NodePtr ParseOr(int depth) {
    Enter(depth);
    size_t start = (SkipSpace(), pos_);
    NodePtr left = ParseAnd(depth + 1);
    while (Accept("||")) left = Binary(ExprOp::kOr, start, left, ParseAnd(depth + 1));
    return left;
  }
  NodePtr ParseAnd(int depth) {
    size_t start = (SkipSpace(), pos_);
    NodePtr left = ParseEquality(depth);
    while (Accept("&&")) left = Binary(ExprOp::kAnd, start, left, ParseEquality(depth));
    return left;
  }
  NodePtr ParseEquality(int depth) {
    size_t start = (SkipSpace(), pos_);
    NodePtr left = ParseComparison(depth);
    for (;;) {
      if (Accept("==")) {
        left = Binary(ExprOp::kEqual, start, left, ParseComparison(depth));
      } else if (Accept("!=")) {
        left = Binary(ExprOp::kNotEqual, start, left, ParseComparison(depth));
      } else {
        return left;
      }
    }
  }
  NodePtr ParseComparison(int depth) {
    size_t start = (SkipSpace(), pos_);
    NodePtr left = ParseUnary(depth);
    for (;;) {
      ExprOp op;
      if (Accept("<=")) {
        op = ExprOp::kLessEqual;
      } else if (Accept(">=")) {
        op = ExprOp::kGreaterEqual;
      } else if (Accept("<")) {
        op = ExprOp::kLess;
      } else if (Accept(">")) {
        op = ExprOp::kGreater;
      } else {
        return left;
      }
      left = Binary(op, start, left, ParseUnary(depth));
    }
  }
  NodePtr ParseUnary(int depth) {
    Enter(depth);
    SkipSpace();
    size_t start = pos_;
    // "!=" cannot start an operand, so a single '!' here is always negation.
    if (Accept("!")) {
      auto n = Node(ExprOp::kNot, start);
      n->args = {ParseUnary(depth + 1)};
      return Deepen(n);
    }
    return ParsePostfix(depth);
  }
  NodePtr ParsePostfix(int depth) {
    size_t start = (SkipSpace(), pos_);
    NodePtr left = ParsePrimary(depth);
    for (;;) {
      if (Accept(".")) {
        // No space is allowed after the dot in GitHub; it is harmless to allow it here.
        SkipSpace();
        if (Accept("*")) {
          auto n = Node(ExprOp::kWildcard, start);
          n->args = {left};
          left = Deepen(n);
          continue;
        }
        if (pos_ >= text_.size() || !IsIdentStart(text_[pos_])) {
          Fail(pos_, fmt::format("expected a property name or '*' after '.', got '{}'", Token()));
        }
        size_t name_start = pos_;
        while (pos_ < text_.size() && IsIdentChar(text_[pos_])) ++pos_;
        auto key = Node(ExprOp::kLiteral, name_start);
        key->value = std::string(text_.substr(name_start, pos_ - name_start));
        left = Binary(ExprOp::kIndex, start, left, key);
      } else if (Accept("[")) {
        if (Accept("*")) {
          if (!Accept("]")) Fail(pos_, fmt::format("expected ']' after '[*', got '{}'", Token()));
          auto n = Node(ExprOp::kWildcard, start);
          n->args = {left};
          left = Deepen(n);
          continue;
        }
        NodePtr index = ParseOr(depth + 1);
        if (!Accept("]")) Fail(pos_, fmt::format("expected ']' to close '[', got '{}'", Token()));
        left = Binary(ExprOp::kIndex, start, left, index);
      } else {
        return left;
      }
    }
  }
  NodePtr ParsePrimary(int depth) {
    SkipSpace();
    size_t start = pos_;
    if (pos_ >= text_.size()) Fail(pos_, "expected a value, got the end of the expression");
    char c = text_[pos_];
    if (c == '(') {
      ++pos_;
      NodePtr inner = ParseOr(depth + 1);
      if (!Accept(")")) Fail(pos_, fmt::format("expected ')' to close '(', got '{}'", Token()));
      return inner;
    }
    if (c == '\'') return ParseString();
    if (IsDigit(c) ||
        ((c == '-' || c == '+' || c == '.') && pos_ + 1 < text_.size() &&
         (IsDigit(text_[pos_ + 1]) || text_[pos_ + 1] == '.' || text_[pos_ + 1] == 'I'))) {
      return ParseNumber();
    }
    if (!IsIdentStart(c)) {
      if (c == '"') {
        Fail(pos_, "strings are written with single quotes: 'text' (use '' for a quote inside)");
      }
      Fail(pos_, fmt::format("expected a value (a literal, a context such as github or matrix, "
                             "or a function call), got '{}'",
                             Token()));
    }
    while (pos_ < text_.size() && IsIdentChar(text_[pos_])) ++pos_;
    std::string_view word = text_.substr(start, pos_ - start);
    if (Peek("(")) return ParseCall(word, start, depth);
    auto n = Node(ExprOp::kLiteral, start);
    if (word == "true" || word == "false") {
      n->value = word == "true";
    } else if (word == "null") {
      n->value = nullptr;
    } else if (word == "NaN" || word == "Infinity") {
      n->value = *ParseNumberText(word);
    } else {
      std::string name = Lower(word);
      if (std::find(kContexts.begin(), kContexts.end(), name) == kContexts.end()) {
        std::string known;
        for (std::string_view k : kContexts) known += (known.empty() ? "" : ", ") + std::string(k);
        Fail(start, fmt::format("unknown name '{}'; expected a context ({}), a literal or a "
                                "function call",
                                word, known));
      }
      n->op = ExprOp::kContext;
      n->name = std::move(name);
    }
    return n;
  }
  NodePtr ParseString() {
    size_t start = pos_++;
    std::string value;
    for (;;) {
      if (pos_ >= text_.size()) Fail(start, "the string starting here is not closed with '");
      char c = text_[pos_++];
      if (c == '\'') {
        if (pos_ < text_.size() && text_[pos_] == '\'') {
          value += '\'';
          ++pos_;
          continue;
        }
        break;
      }
      value += c;
    }
    auto n = Node(ExprOp::kLiteral, start);
    n->value = std::move(value);
    return n;
  }
  NodePtr ParseNumber() {
    size_t start = pos_;
    if (text_[pos_] == '-' || text_[pos_] == '+') ++pos_;
    while (pos_ < text_.size()) {
      char c = text_[pos_];
      bool exponent_sign = (c == '-' || c == '+') &&
                           (text_[pos_ - 1] == 'e' || text_[pos_ - 1] == 'E') &&
                           !(pos_ >= start + 2 && text_.substr(start, 2) == "0x");
      if (!IsIdentChar(c) && c != '.' && !exponent_sign) break;
      if (c == '-' && !exponent_sign) break;
      ++pos_;
    }
    std::string_view word = text_.substr(start, pos_ - start);
    std::optional<double> v = ParseNumberText(word);
    if (!v) Fail(start, fmt::format("'{}' is not a number", word));
    auto n = Node(ExprOp::kLiteral, start);
    double d = *v;
    if (std::isfinite(d) && d == std::trunc(d) && std::fabs(d) < 9.0e15) {
      n->value = static_cast<int64_t>(d);
    } else {
      n->value = d;
    }
    return n;
  }
  NodePtr ParseCall(std::string_view word, size_t start, int depth) {
    std::string name = Lower(word);
    auto fn = std::find_if(kFunctions.begin(), kFunctions.end(),
                           [&](const FunctionInfo& f) { return f.name == name; });
    if (fn == kFunctions.end()) {
      Fail(start, fmt::format("unknown function '{}'; expected one of contains, startsWith, "
                              "endsWith, format, join, toJSON, fromJSON, hashFiles, success, "
                              "failure, always, cancelled",
                              word));
    }
    Accept("(");
    auto n = Node(ExprOp::kCall, start);
    n->name = name;
    if (!Accept(")")) {
      for (;;) {
        n->args.push_back(ParseOr(depth + 1));
        if (Accept(")")) break;
        if (!Accept(",")) {
          Fail(pos_, fmt::format("expected ',' or ')' in the arguments of {}(), got '{}'", word,
                                 Token()));
        }
      }
    }
    int count = static_cast<int>(n->args.size());
    if (count < fn->min_args || (fn->max_args >= 0 && count > fn->max_args)) {
      std::string want = fn->min_args == fn->max_args ? std::to_string(fn->min_args)
                         : fn->max_args < 0           ? fmt::format("at least {}", fn->min_args)
                                            : fmt::format("{} to {}", fn->min_args, fn->max_args);
      Fail(start, fmt::format("{}() takes {} argument{}, got {}", word, want,
                              want == "1" ? "" : "s", count));
    }
    return Deepen(n);
  }

  std::string_view text_;
  size_t pos_ = 0;
};

bool CallsStatus(const ExprNode& n) {
  if (n.op == ExprOp::kCall &&
      (n.name == "success" || n.name == "failure" || n.name == "always" || n.name == "cancelled")) {
    return true;
  }
  for (const auto& a : n.args) {
    if (CallsStatus(*a)) return true;
  }
  return false;
}

bool AllOf(std::string_view s, bool (*pred)(char)) {
  return !s.empty() && std::all_of(s.begin(), s.end(), pred);
}

}  // namespace

std::optional<double> ParseNumberText(std::string_view text) {
  double sign = 1;
  if (!text.empty() && (text[0] == '-' || text[0] == '+')) {
    if (text[0] == '-') sign = -1;
    text.remove_prefix(1);
  }
  if (text == "Infinity") return sign * std::numeric_limits<double>::infinity();
  if (text == "NaN") return std::numeric_limits<double>::quiet_NaN();
  if (text.size() > 2 && text[0] == '0' && (text[1] == 'x' || text[1] == 'X')) {
    std::string_view digits = text.substr(2);
    if (!AllOf(
            digits, +[](char c) {
              return IsDigit(c) || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
            })) {
      return std::nullopt;
    }
    double v = 0;
    for (char c : digits) v = v * 16 + (IsDigit(c) ? c - '0' : (c | 0x20) - 'a' + 10);
    return sign * v;
  }
  // digits [. digits] [e [+-] digits], with at least one digit before the exponent.
  size_t i = 0, mantissa_digits = 0;
  while (i < text.size() && IsDigit(text[i])) ++i, ++mantissa_digits;
  if (i < text.size() && text[i] == '.') {
    ++i;
    while (i < text.size() && IsDigit(text[i])) ++i, ++mantissa_digits;
  }
  if (mantissa_digits == 0) return std::nullopt;
  if (i < text.size() && (text[i] == 'e' || text[i] == 'E')) {
    ++i;
    if (i < text.size() && (text[i] == '+' || text[i] == '-')) ++i;
    size_t exp_start = i;
    while (i < text.size() && IsDigit(text[i])) ++i;
    if (i == exp_start) return std::nullopt;
  }
  if (i != text.size()) return std::nullopt;
  double v = 0;
  auto [ptr, ec] = std::from_chars(text.data(), text.data() + text.size(), v);
  if (ec == std::errc::result_out_of_range) {
    // from_chars refuses overflow; JavaScript's Number() gives Infinity, and tiny values 0.
    bool tiny = text.find_first_of("eE") != std::string_view::npos &&
                text.find("-", text.find_first_of("eE")) != std::string_view::npos;
    return sign * (tiny ? 0.0 : std::numeric_limits<double>::infinity());
  }
  if (ec != std::errc() || ptr != text.data() + text.size()) return std::nullopt;
  return sign * v;
}

StatusOr<Expr> Expr::Parse(std::string_view text) {
  Expr e;
  e.text_ = std::string(text);
  try {
    e.root_ = Parser(e.text_).ParseAll();
  } catch (const ParseError& err) {
    return InvalidArgument(fmt::format("column {}: {}", err.column, err.message));
  }
  return e;
}

bool Expr::UsesStatusFunction() const { return root_ != nullptr && CallsStatus(*root_); }

}  // namespace steward::pipeline
