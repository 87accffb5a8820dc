// A recursive-descent parser with precedence climbing that accepts what Prometheus 2.42's yacc
// grammar (promql/parser/generated_parser.y) accepts, builds the same tree and reports the
// first error Prometheus reports, in its words and at its position. How yacc's rules map here:
// - binary operators: precedence climbing over Prometheus' %left/%right table; unary +/- has
//   the precedence of `*`, so its operand takes only `^` chains (-2^2 = -(2^2));
// - `offset`, `@` and `[...]` bind tighter than any operator and apply to the expression just
//   parsed (yacc shifts them), in any order and number, with the checks of addOffset,
//   setTimestamp and the matrix_selector rule;
// - syntax errors read "unexpected <item>[ in <context>][, expected <what>]", where the context
//   is that of the innermost grammar rule with an `error` alternative (label matching, grouping
//   opts, offset, @, subquery, aggregation), as yacc's error recovery picks it;
// - errors that Prometheus raises while reducing a rule (unknown function, bad duration, bad
//   regex, offset placement, aggregate argument count) come in source order, and the type checks
//   (parser_check.cc) run only when the whole query parsed.
#include "promql/parser.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <iterator>
#include <string>
#include <unordered_map>
#include <vector>

#include "promql/lexer.h"
#include "promql/parser_internal.h"

namespace steward::promql {
namespace {

using internal::Item;
using internal::Tok;

// Prometheus' binary operator precedence, lowest first; 0: not a binary operator.
int Precedence(Tok t) {
  switch (t) {
    case Tok::kLor:
      return 1;
    case Tok::kLand:
    case Tok::kLunless:
      return 2;
    case Tok::kEqlc:
    case Tok::kNeq:
    case Tok::kLte:
    case Tok::kLss:
    case Tok::kGte:
    case Tok::kGtr:
      return 3;
    case Tok::kAdd:
    case Tok::kSub:
      return 4;
    case Tok::kMul:
    case Tok::kDiv:
    case Tok::kMod:
    case Tok::kAtan2:
      return 5;
    case Tok::kPow:
      return 6;
    default:
      return 0;
  }
}
constexpr int kPowPrecedence = 6;

BinaryOp ToBinaryOp(Tok t) {
  switch (t) {
    case Tok::kAdd:
      return BinaryOp::kAdd;
    case Tok::kSub:
      return BinaryOp::kSub;
    case Tok::kMul:
      return BinaryOp::kMul;
    case Tok::kDiv:
      return BinaryOp::kDiv;
    case Tok::kMod:
      return BinaryOp::kMod;
    case Tok::kPow:
      return BinaryOp::kPow;
    case Tok::kAtan2:
      return BinaryOp::kAtan2;
    case Tok::kEqlc:
      return BinaryOp::kEql;
    case Tok::kNeq:
      return BinaryOp::kNeq;
    case Tok::kGtr:
      return BinaryOp::kGtr;
    case Tok::kLss:
      return BinaryOp::kLss;
    case Tok::kGte:
      return BinaryOp::kGte;
    case Tok::kLte:
      return BinaryOp::kLte;
    case Tok::kLand:
      return BinaryOp::kAnd;
    case Tok::kLor:
      return BinaryOp::kOr;
    default:
      return BinaryOp::kUnless;
  }
}

AggOp ToAggOp(Tok t) {
  switch (t) {
    case Tok::kSum:
      return AggOp::kSum;
    case Tok::kMin:
      return AggOp::kMin;
    case Tok::kMax:
      return AggOp::kMax;
    case Tok::kAvg:
      return AggOp::kAvg;
    case Tok::kGroup:
      return AggOp::kGroup;
    case Tok::kStddev:
      return AggOp::kStddev;
    case Tok::kStdvar:
      return AggOp::kStdvar;
    case Tok::kCount:
      return AggOp::kCount;
    case Tok::kCountValues:
      return AggOp::kCountValues;
    case Tok::kBottomk:
      return AggOp::kBottomk;
    case Tok::kTopk:
      return AggOp::kTopk;
    default:
      return AggOp::kQuantile;
  }
}

bool HasParam(AggOp op) {
  return op == AggOp::kCountValues || op == AggOp::kBottomk || op == AggOp::kTopk ||
         op == AggOp::kQuantile;
}

// Tokens the grammar's metric_identifier accepts besides identifiers: keywords that are also
// valid metric names (`sum`, `by`, `offset`, `and`, `start`, ...).
bool IsMetricKeyword(Tok t) {
  return internal::IsAggregatorTok(t) || t == Tok::kBy || t == Tok::kWithout || t == Tok::kOffset ||
         t == Tok::kLand || t == Tok::kLor || t == Tok::kLunless || t == Tok::kStart ||
         t == Tok::kEnd;
}

// The grammar's maybe_label: what may name a label in by/without/on/ignoring/group_x lists
// (every keyword but `without`).
bool IsMaybeLabel(Tok t) {
  return t == Tok::kIdentifier || t == Tok::kMetricIdentifier || internal::IsAggregatorTok(t) ||
         (internal::IsKeywordTok(t) && t != Tok::kWithout) || t == Tok::kLand || t == Tok::kLor ||
         t == Tok::kLunless || t == Tok::kStart || t == Tok::kEnd || t == Tok::kAtan2;
}

bool IsSign(Tok t) { return t == Tok::kAdd || t == Tok::kSub; }

// Tokens that can begin an expression (the grammar's FIRST(expr)).
bool StartsExpr(Tok t) {
  return t == Tok::kNumber || t == Tok::kString || t == Tok::kLeftParen || t == Tok::kLeftBrace ||
         t == Tok::kIdentifier || t == Tok::kMetricIdentifier || IsSign(t) || IsMetricKeyword(t);
}

bool IsLabelName(std::string_view s) {
  if (s.empty()) return false;
  for (size_t i = 0; i < s.size(); ++i) {
    char c = s[i];
    bool alpha = c == '_' || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
    if (!alpha && !(i > 0 && c >= '0' && c <= '9')) return false;
  }
  return true;
}

// Go's %f: six decimals, "+Inf", "-Inf", "NaN".
std::string GoFixed(double v) {
  if (std::isnan(v)) return "NaN";
  if (std::isinf(v)) return v > 0 ? "+Inf" : "-Inf";
  char buf[400];
  snprintf(buf, sizeof buf, "%f", v);
  return buf;
}

// Matcher::Make says `invalid regex "<v>" for label <name>: <RE2's reason>`; Prometheus says
// Go's `error parsing regexp: <code>: `<arg>``. RE2 and Go name most failures alike.
std::string GoRegexpError(const std::string& msg, std::string_view label, std::string_view value) {
  static constexpr std::pair<std::string_view, std::string_view> kCodes[] = {
      {"missing )", "missing closing )"},
      {"missing ]", "missing closing ]"},
      {"bad repetition operator", "invalid nested repetition operator"},
      {"no argument for repetition operator", "missing argument to repetition operator"},
      {"invalid repetition size", "invalid repeat count"},
      {"trailing \\", "trailing backslash at end of expression"},
      {"invalid named capture group", "invalid named capture"},
      {"invalid perl operator", "invalid or unsupported Perl syntax"},
  };
  std::string prefix =
      "invalid regex \"" + std::string(value) + "\" for label " + std::string(label) + ": ";
  std::string reason = msg.rfind(prefix, 0) == 0 ? msg.substr(prefix.size()) : msg;
  if (reason == "invalid UTF-8") {
    // Go names the rest of the anchored pattern from the first bad byte on.
    std::string anchored = "^(?:" + std::string(value) + ")$";
    return "error parsing regexp: invalid UTF-8: `" +
           anchored.substr(internal::FirstInvalidUtf8(anchored)) + "`";
  }
  size_t colon = reason.find(": ");
  if (colon == std::string::npos) return "error parsing regexp: " + reason;
  std::string code = reason.substr(0, colon);
  for (const auto& [re2, go] : kCodes)
    if (code == re2) code = std::string(go);
  return "error parsing regexp: " + code + ": `" + reason.substr(colon + 2) + "`";
}

template <typename T>
std::unique_ptr<T> Node(size_t pos, size_t end) {
  auto n = std::make_unique<T>();
  n->pos = pos;
  n->end = end;
  return n;
}

class Parser {
 public:
  explicit Parser(std::string_view query) : query_(query), items_(internal::LexExpr(query)) {}

  StatusOr<ExprPtr> Parse() {
    if (Peek().kind == Tok::kEof) return Error(0, "no expression found in input");
    ASSIGN_OR_RETURN(ExprPtr e, Binary(1));
    if (Peek().kind != Tok::kEof) return Generic(Peek());
    RETURN_IF_ERROR(internal::CheckTypes(query_, e.get()));
    return e;
  }

 private:
  // Bounds the parser's recursion (one unit per nested expression) so a hostile query cannot
  // overflow the stack; heights_ bounds the tree itself, which loops can make tall too
  // (`x + x + ...`, `x[1m:][1m:]...`), for the recursive checker, printer and destructor.
  class RecursionGuard {
   public:
    explicit RecursionGuard(Parser* p) : p_(p) { ++p_->depth_; }
    ~RecursionGuard() { --p_->depth_; }

   private:
    Parser* p_;
  };

  Status NestingError(size_t pos) const {
    return Error(pos, "expression nesting exceeds " + std::to_string(kMaxDepth) + " levels");
  }

  int Height(const Expr* e) const {
    auto it = heights_.find(e);
    return it == heights_.end() ? 1 : it->second;
  }

  // Records a new node one level above its tallest child.
  Status Grew(const Expr* e, int child_height) {
    if (child_height + 1 > kMaxDepth) return NestingError(e->pos);
    heights_[e] = child_height + 1;
    return Status::OK();
  }

  const Item& Peek(size_t ahead = 0) const {
    size_t i = at_ + ahead;
    return items_[i < items_.size() ? i : items_.size() - 1];
  }
  const Item& Take() {
    const Item& it = items_[at_];
    if (at_ + 1 < items_.size()) ++at_;
    return it;
  }

  Status Error(size_t pos, std::string_view message) const {
    return internal::ParseError(query_, pos, message);
  }

  // Prometheus' parser.unexpected(): a lexer error is reported as itself.
  Status Unexpected(const Item& it, std::string_view context, std::string_view expected) const {
    if (it.kind == Tok::kError) return Error(it.pos, it.error);
    std::string msg = "unexpected " + internal::DescribeItem(it);
    if (!context.empty()) msg += " in " + std::string(context);
    if (!expected.empty()) msg += ", expected " + std::string(expected);
    return Error(it.pos, msg);
  }

  // A syntax error outside any rule with a specific message: inside an aggregation's
  // arguments yacc recovers in `aggregate_op error`, elsewhere in `start: error`.
  Status Generic(const Item& it) const {
    return Unexpected(it, agg_depth_ > 0 ? "aggregation" : "", "");
  }

  StatusOr<ExprPtr> Binary(int min_prec) {
    RecursionGuard guard(this);
    if (depth_ > kMaxDepth) return NestingError(Peek().pos);
    ASSIGN_OR_RETURN(ExprPtr lhs, Unary());
    while (true) {
      const Item& op = Peek();
      int prec = Precedence(op.kind);
      if (prec == 0 || prec < min_prec) break;
      Take();
      auto b = Node<BinaryExpr>(lhs->pos, 0);
      b->op = ToBinaryOp(op.kind);
      b->op_pos = op.pos;
      RETURN_IF_ERROR(BinModifiers(b.get()));
      ASSIGN_OR_RETURN(b->rhs, Binary(op.kind == Tok::kPow ? prec : prec + 1));
      b->end = b->rhs->end;
      int h = std::max(Height(lhs.get()), Height(b->rhs.get()));
      b->lhs = std::move(lhs);
      RETURN_IF_ERROR(Grew(b.get(), h));
      lhs = std::move(b);
    }
    return lhs;
  }

  // bool, on/ignoring (labels), group_left/group_right [(labels)] — in that order.
  Status BinModifiers(BinaryExpr* b) {
    b->matching.emplace();
    if (Peek().kind == Tok::kBool) {
      Take();
      b->return_bool = true;
    }
    Tok k = Peek().kind;
    if (k != Tok::kOn && k != Tok::kIgnoring) return Status::OK();
    Take();
    b->matching->on = k == Tok::kOn;
    ASSIGN_OR_RETURN(b->matching->labels, GroupingLabels());
    k = Peek().kind;
    if (k != Tok::kGroupLeft && k != Tok::kGroupRight) return Status::OK();
    Take();
    b->matching->card =
        k == Tok::kGroupLeft ? VectorMatching::Card::kManyToOne : VectorMatching::Card::kOneToMany;
    // maybe_grouping_labels: empty when an expression follows; anything else is taken as a
    // malformed label list, as yacc recovers in `grouping_labels: error`.
    Tok next = Peek().kind;
    if (next == Tok::kError) return Unexpected(Peek(), "", "");
    if (next != Tok::kLeftParen && StartsExpr(next)) return Status::OK();
    ASSIGN_OR_RETURN(b->matching->include, GroupingLabels());
    return Status::OK();
  }

  StatusOr<std::vector<std::string>> GroupingLabels() {
    if (Peek().kind != Tok::kLeftParen) return Unexpected(Peek(), "grouping opts", "\"(\"");
    Take();
    std::vector<std::string> out;
    if (Peek().kind == Tok::kRightParen) {
      Take();
      return out;
    }
    while (true) {
      const Item& label = Peek();
      if (!IsMaybeLabel(label.kind) || !IsLabelName(label.text))
        return Unexpected(label, "grouping opts", "label");
      Take();
      out.emplace_back(label.text);
      const Item& sep = Peek();
      if (sep.kind == Tok::kRightParen) break;
      if (sep.kind != Tok::kComma) return Unexpected(sep, "grouping opts", "\",\" or \")\"");
      Take();
      if (Peek().kind == Tok::kRightParen) break;
    }
    Take();
    return out;
  }

  // unary_op expr %prec MUL: the operand takes `^` chains only (-2 ^ 2 is -(2 ^ 2)), and a sign
  // folds into a number literal. Runs of signs are read in a loop: Prometheus accepts
  // thousands of them before a literal, which then cost no tree depth.
  StatusOr<ExprPtr> Unary() {
    if (!IsSign(Peek().kind)) {
      ASSIGN_OR_RETURN(ExprPtr e, Primary());
      return Postfix(std::move(e));
    }
    size_t n = 0;
    while (IsSign(Peek(n).kind)) ++n;
    std::vector<const Item*> signs;
    for (size_t i = 0; i < n; ++i) signs.push_back(&Take());
    ASSIGN_OR_RETURN(ExprPtr e, Binary(kPowPrecedence));
    for (auto it = signs.rbegin(); it != signs.rend(); ++it) {
      const Item& op = **it;
      if (e->kind == NodeKind::kNumberLiteral) {
        auto* num = static_cast<NumberLiteral*>(e.get());
        if (op.kind == Tok::kSub) num->value = -num->value;
        num->pos = op.pos;
        continue;
      }
      auto u = Node<UnaryExpr>(op.pos, e->end);
      u->negate = op.kind == Tok::kSub;
      int h = Height(e.get());
      u->expr = std::move(e);
      RETURN_IF_ERROR(Grew(u.get(), h));
      e = std::move(u);
    }
    return e;
  }

  StatusOr<ExprPtr> Primary() {
    const Item& t = Peek();
    switch (t.kind) {
      case Tok::kNumber:
        return NumberLit();
      case Tok::kString:
        return StringLit();
      case Tok::kLeftParen:
        return Paren();
      case Tok::kLeftBrace:
        return Selector(false);
      case Tok::kMetricIdentifier:
        return Selector(true);
      case Tok::kIdentifier:
        if (Peek(1).kind == Tok::kLeftParen) return FunctionCall();
        return Selector(true);
      default:
        break;
    }
    if (internal::IsAggregatorTok(t.kind)) {
      Tok next = Peek(1).kind;
      if (next == Tok::kLeftParen || next == Tok::kBy || next == Tok::kWithout) return Aggregate();
    }
    if (IsMetricKeyword(t.kind)) return Selector(true);
    return Generic(t);
  }

  StatusOr<ExprPtr> NumberLit() {
    const Item& t = Take();
    double v = 0;
    std::string err;
    if (!internal::ParseGoNumber(t.text, &v, &err))
      return Error(t.pos, "error parsing number: " + err);
    auto n = Node<NumberLiteral>(t.pos, t.pos + t.text.size());
    n->value = v;
    return ExprPtr(std::move(n));
  }

  // Prometheus' strutil.Unquote: Go's rules, single quotes of any length, and raw strings
  // kept byte for byte (Go's strconv.Unquote would drop their carriage returns).
  StatusOr<std::string> UnquoteItem(const Item& t) const {
    if (t.text.size() >= 2 && t.text.front() == '`')
      return std::string(t.text.substr(1, t.text.size() - 2));
    auto v = Unquote(t.text);
    if (!v.ok())
      return Error(t.pos, "error unquoting string " + internal::GoQuote(t.text) + ": " +
                              v.status().message());
    return std::move(*v);
  }

  StatusOr<ExprPtr> StringLit() {
    const Item& t = Take();
    auto s = Node<StringLiteral>(t.pos, t.pos + t.text.size());
    ASSIGN_OR_RETURN(s->value, UnquoteItem(t));
    return ExprPtr(std::move(s));
  }

  StatusOr<ExprPtr> Paren() {
    const Item& open = Take();
    ASSIGN_OR_RETURN(ExprPtr inner, Binary(1));
    const Item& close = Peek();
    if (close.kind != Tok::kRightParen) return Generic(close);
    Take();
    auto p = Node<ParenExpr>(open.pos, close.pos + 1);
    RETURN_IF_ERROR(Grew(p.get(), Height(inner.get())));
    p->expr = std::move(inner);
    return ExprPtr(std::move(p));
  }

  StatusOr<ExprPtr> Selector(bool named) {
    auto vs = Node<VectorSelector>(Peek().pos, 0);
    if (named) {
      const Item& name = Take();
      vs->name = std::string(name.text);
      vs->end = name.pos + name.text.size();
      auto m = tsdb::Matcher::Make(tsdb::Matcher::Type::kEqual, std::string(tsdb::kMetricName),
                                   vs->name);
      if (!m.ok()) return Error(name.pos, m.status().message());
      vs->matchers.push_back(std::move(*m));
    }
    if (!named || Peek().kind == Tok::kLeftBrace) RETURN_IF_ERROR(LabelMatchers(vs.get()));
    return ExprPtr(std::move(vs));
  }

  Status LabelMatchers(VectorSelector* vs) {
    Take();  // '{'
    while (true) {
      const Item& name = Peek();
      if (name.kind == Tok::kRightBrace) {
        Take();
        vs->end = name.pos + 1;
        return Status::OK();
      }
      if (name.kind != Tok::kIdentifier)
        return Unexpected(name, "label matching", "identifier or \"}\"");
      Take();
      RETURN_IF_ERROR(OneMatcher(name, vs));
      const Item& sep = Peek();
      if (sep.kind == Tok::kComma) {
        Take();
      } else if (sep.kind != Tok::kRightBrace) {
        return Unexpected(sep, "label matching", "\",\" or \"}\"");
      }
    }
  }

  Status OneMatcher(const Item& name, VectorSelector* vs) {
    using Type = tsdb::Matcher::Type;
    const Item& op = Peek();
    Type type;
    switch (op.kind) {
      case Tok::kEql:
        type = Type::kEqual;
        break;
      case Tok::kNeq:
        type = Type::kNotEqual;
        break;
      case Tok::kEqlRegex:
        type = Type::kRegexMatch;
        break;
      case Tok::kNeqRegex:
        type = Type::kRegexNoMatch;
        break;
      default:
        return Unexpected(op, "label matching", "label matching operator");
    }
    Take();
    const Item& value = Peek();
    if (value.kind != Tok::kString) return Unexpected(value, "label matching", "string");
    Take();
    ASSIGN_OR_RETURN(std::string v, UnquoteItem(value));
    auto m = tsdb::Matcher::Make(type, std::string(name.text), v);
    if (!m.ok()) {
      return Error(name.pos, GoRegexpError(m.status().message(), name.text, v));
    }
    vs->matchers.push_back(std::move(*m));
    return Status::OK();
  }

  // function_call_body: "(" [expr {"," expr}] ")". Sets *end past the ")".
  Status CallArgs(std::vector<ExprPtr>* args, size_t* end) {
    Take();  // '('
    while (Peek().kind != Tok::kRightParen) {
      ASSIGN_OR_RETURN(ExprPtr arg, Binary(1));
      args->push_back(std::move(arg));
      const Item& sep = Peek();
      if (sep.kind == Tok::kRightParen) break;
      if (sep.kind != Tok::kComma) return Generic(sep);
      Take();
      // After a comma yacc reduces `args ","` by default when no expression can start here,
      // which reports the comma as trailing; a lexer error was reported before that.
      if (Peek().kind == Tok::kError) return Unexpected(Peek(), "", "");
      if (!StartsExpr(Peek().kind))
        return Error(sep.pos, "trailing commas not allowed in function call args");
    }
    *end = Take().pos + 1;
    return Status::OK();
  }

  StatusOr<ExprPtr> FunctionCall() {
    const Item& name = Take();
    auto call = Node<Call>(name.pos, 0);
    RETURN_IF_ERROR(CallArgs(&call->args, &call->end));
    int h = 0;
    for (const ExprPtr& arg : call->args) h = std::max(h, Height(arg.get()));
    RETURN_IF_ERROR(Grew(call.get(), h));
    call->func = FindFunction(name.text);
    if (call->func == nullptr)
      return Error(name.pos, "unknown function with name " + internal::GoQuote(name.text));
    return ExprPtr(std::move(call));
  }

  StatusOr<ExprPtr> Aggregate() {
    const Item& op = Take();
    auto agg = Node<AggregateExpr>(op.pos, 0);
    agg->op = ToAggOp(op.kind);
    ++agg_depth_;
    std::vector<ExprPtr> args;
    bool modifier_first = Peek().kind == Tok::kBy || Peek().kind == Tok::kWithout;
    if (modifier_first) RETURN_IF_ERROR(AggModifier(agg.get()));
    if (Peek().kind != Tok::kLeftParen) return Unexpected(Peek(), "aggregation", "");
    RETURN_IF_ERROR(CallArgs(&args, &agg->end));
    if (!modifier_first) {
      Tok next = Peek().kind;
      if (next == Tok::kBy || next == Tok::kWithout) RETURN_IF_ERROR(AggModifier(agg.get()));
      // yacc reads this lookahead before reducing, so a lexer error there comes first.
      if (Peek().kind == Tok::kError) return Unexpected(Peek(), "", "");
    }
    --agg_depth_;
    if (args.empty()) return Error(op.pos, "no arguments for aggregate expression provided");
    size_t want = HasParam(agg->op) ? 2 : 1;
    if (args.size() != want)
      return Error(op.pos,
                   "wrong number of arguments for aggregate expression provided, expected " +
                       std::to_string(want) + ", got " + std::to_string(args.size()));
    int h = 0;
    for (const ExprPtr& arg : args) h = std::max(h, Height(arg.get()));
    RETURN_IF_ERROR(Grew(agg.get(), h));
    if (want == 2) agg->param = std::move(args[0]);
    agg->expr = std::move(args[want - 1]);
    return ExprPtr(std::move(agg));
  }

  Status AggModifier(AggregateExpr* agg) {
    const Item& mod = Take();
    agg->without = mod.kind == Tok::kWithout;
    ASSIGN_OR_RETURN(agg->grouping, GroupingLabels());
    return Status::OK();
  }

  // Postfix modifiers: `[range]`, `[range:step]`, `offset d`, `@ t`, in any order.
  StatusOr<ExprPtr> Postfix(ExprPtr e) {
    while (true) {
      const Item& t = Peek();
      if (t.kind == Tok::kLeftBracket) {
        Take();
        ASSIGN_OR_RETURN(e, RangeOrSubquery(std::move(e), t));
      } else if (t.kind == Tok::kOffset) {
        Take();
        RETURN_IF_ERROR(Offset(e.get()));
      } else if (t.kind == Tok::kAt) {
        Take();
        RETURN_IF_ERROR(At(e.get()));
      } else {
        return e;
      }
    }
  }

  // Prometheus' parseDuration for range, step and offset: model.ParseDuration (units y w d h m
  // s ms in that order, each once, leading zeros fine, the total a time.Duration of at most
  // ~292 years) and "duration must be greater than 0".
  StatusOr<int64_t> Duration(const Item& d) const {
    static constexpr struct {
      std::string_view unit;
      int64_t ms;
    } kUnits[] = {{"y", 365LL * 24 * 3600 * 1000},
                  {"w", 7LL * 24 * 3600 * 1000},
                  {"d", 24LL * 3600 * 1000},
                  {"h", 3600LL * 1000},
                  {"m", 60LL * 1000},
                  {"s", 1000},
                  {"ms", 1}};
    constexpr int64_t kMaxMs = INT64_MAX / 1000000;  // time.Duration counts nanoseconds
    std::string_view s = d.text;
    std::string invalid = "not a valid duration string: " + internal::GoQuote(s);
    int64_t total = 0;
    bool overflow = false;
    size_t next_unit = 0;
    while (!s.empty()) {
      size_t digits = 0;
      while (digits < s.size() && s[digits] >= '0' && s[digits] <= '9') ++digits;
      if (digits == 0) return Error(d.pos, invalid);
      std::string_view num = s.substr(0, digits);
      s.remove_prefix(digits);
      size_t u = next_unit;
      while (u < std::size(kUnits) && !(s.substr(0, kUnits[u].unit.size()) == kUnits[u].unit &&
                                        !(kUnits[u].unit == "m" && s.substr(0, 2) == "ms")))
        ++u;
      if (u == std::size(kUnits)) return Error(d.pos, invalid);
      s.remove_prefix(kUnits[u].unit.size());
      next_unit = u + 1;
      while (num.size() > 1 && num[0] == '0') num.remove_prefix(1);
      int64_t n = num.size() > 18 ? INT64_MAX : std::stoll(std::string(num));
      if (n > kMaxMs / kUnits[u].ms || total > kMaxMs - n * kUnits[u].ms) {
        overflow = true;
        continue;
      }
      total += n * kUnits[u].ms;
    }
    if (overflow) return Error(d.pos, "duration out of range");
    if (total == 0) return Error(d.pos, "duration must be greater than 0");
    return total;
  }

  StatusOr<ExprPtr> RangeOrSubquery(ExprPtr e, const Item& open) {
    const Item& d = Peek();
    if (d.kind != Tok::kDuration) return Unexpected(d, "subquery selector", "duration");
    Take();
    ASSIGN_OR_RETURN(int64_t range, Duration(d));
    const Item& next = Peek();
    if (next.kind == Tok::kRightBracket) {
      Take();
      auto* vs =
          e->kind == NodeKind::kVectorSelector ? static_cast<VectorSelector*>(e.get()) : nullptr;
      if (vs == nullptr) return Error(open.pos, "ranges only allowed for vector selectors");
      if (vs->offset_ms != 0) return Error(open.pos, "no offset modifiers allowed before range");
      if (vs->at == AtModifier::kTimestamp)
        return Error(open.pos, "no @ modifiers allowed before range");
      auto m = Node<MatrixSelector>(vs->pos, next.pos + 1);
      m->range_ms = range;
      m->vector.reset(static_cast<VectorSelector*>(e.release()));
      RETURN_IF_ERROR(Grew(m.get(), 1));
      return ExprPtr(std::move(m));
    }
    if (next.kind != Tok::kColon) return Unexpected(next, "subquery or range", "\":\" or \"]\"");
    Take();
    int64_t step = 0;
    if (Peek().kind == Tok::kDuration) {
      const Item& s = Take();
      ASSIGN_OR_RETURN(step, Duration(s));
      if (Peek().kind != Tok::kRightBracket)
        return Unexpected(Peek(), "subquery selector", "\"]\"");
    } else if (Peek().kind != Tok::kRightBracket) {
      return Unexpected(Peek(), "subquery selector", "duration or \"]\"");
    }
    auto sq = Node<SubqueryExpr>(e->pos, Take().pos + 1);
    sq->range_ms = range;
    sq->step_ms = step;
    RETURN_IF_ERROR(Grew(sq.get(), Height(e.get())));
    sq->expr = std::move(e);
    return ExprPtr(std::move(sq));
  }

  Status Offset(Expr* e) {
    bool negative = Peek().kind == Tok::kSub;
    if (negative) Take();
    const Item& d = Peek();
    if (d.kind != Tok::kDuration) return Unexpected(d, "offset", "duration");
    Take();
    ASSIGN_OR_RETURN(int64_t ms, Duration(d));
    int64_t* target = nullptr;
    if (e->kind == NodeKind::kVectorSelector) target = &static_cast<VectorSelector*>(e)->offset_ms;
    if (e->kind == NodeKind::kMatrixSelector)
      target = &static_cast<MatrixSelector*>(e)->vector->offset_ms;
    if (e->kind == NodeKind::kSubquery) target = &static_cast<SubqueryExpr*>(e)->offset_ms;
    if (target == nullptr)
      return Error(e->pos,
                   "offset modifier must be preceded by an instant vector selector or "
                   "range vector selector or a subquery");
    if (*target != 0) return Error(e->pos, "offset may not be set multiple times");
    *target = negative ? -ms : ms;
    e->end = d.pos + d.text.size();
    return Status::OK();
  }

  Status At(Expr* e) {
    const Item& t = Peek();
    AtModifier at = AtModifier::kTimestamp;
    int64_t at_ms = 0;
    size_t end = 0;
    if (t.kind == Tok::kStart || t.kind == Tok::kEnd) {
      Take();
      if (Peek().kind != Tok::kLeftParen) return Unexpected(Peek(), "@", "timestamp");
      Take();
      if (Peek().kind != Tok::kRightParen) return Unexpected(Peek(), "@", "timestamp");
      end = Take().pos + 1;
      at = t.kind == Tok::kStart ? AtModifier::kStart : AtModifier::kEnd;
    } else {
      bool negative = t.kind == Tok::kSub;
      if (t.kind == Tok::kSub || t.kind == Tok::kAdd) Take();
      const Item& num = Peek();
      if (num.kind != Tok::kNumber) return Unexpected(num, "@", "timestamp");
      Take();
      double ts = 0;
      std::string err;
      if (!internal::ParseGoNumber(num.text, &ts, &err))
        return Error(num.pos, "error parsing number: " + err);
      if (negative) ts = -ts;
      if (std::isnan(ts) || std::isinf(ts) || ts >= 9223372036854775807.0 ||
          ts <= -9223372036854775808.0)
        return Error(e->pos, "timestamp out of bounds for @ modifier: " + GoFixed(ts));
      double ms = std::round(ts * 1000);
      // Go converts an out-of-range float to int64 as amd64 does: the minimum value.
      at_ms = (ms >= 9223372036854775807.0 || ms < -9223372036854775808.0)
                  ? INT64_MIN
                  : static_cast<int64_t>(ms);
      end = num.pos + num.text.size();
    }
    AtModifier* target_at = nullptr;
    int64_t* target_ms = nullptr;
    if (e->kind == NodeKind::kVectorSelector) {
      auto* vs = static_cast<VectorSelector*>(e);
      target_at = &vs->at, target_ms = &vs->at_ms;
    } else if (e->kind == NodeKind::kMatrixSelector) {
      auto* vs = static_cast<MatrixSelector*>(e)->vector.get();
      target_at = &vs->at, target_ms = &vs->at_ms;
    } else if (e->kind == NodeKind::kSubquery) {
      auto* sq = static_cast<SubqueryExpr*>(e);
      target_at = &sq->at, target_ms = &sq->at_ms;
    } else {
      return Error(e->pos,
                   "@ modifier must be preceded by an instant vector selector or range "
                   "vector selector or a subquery");
    }
    if (*target_at != AtModifier::kNone)
      return Error(e->pos, "@ <timestamp> may not be set multiple times");
    *target_at = at;
    *target_ms = at_ms;
    e->end = end;
    return Status::OK();
  }

  std::string_view query_;
  std::vector<Item> items_;
  size_t at_ = 0;
  int depth_ = 0;
  int agg_depth_ = 0;
  std::unordered_map<const Expr*, int> heights_;  // nodes taller than 1
};

}  // namespace

namespace internal {

Status ParseError(std::string_view query, size_t pos, std::string_view message) {
  if (pos > query.size()) pos = query.size();
  size_t line = 1;
  size_t last_break = std::string_view::npos;
  for (size_t i = 0; i < pos; ++i) {
    if (query[i] == '\n') {
      ++line;
      last_break = i;
    }
  }
  size_t col = last_break == std::string_view::npos ? pos + 1 : pos - last_break;
  return InvalidArgument(std::to_string(line) + ":" + std::to_string(col) +
                         ": parse error: " + std::string(message));
}

}  // namespace internal

StatusOr<ExprPtr> ParseExpr(std::string_view query) { return Parser(query).Parse(); }

}  // namespace steward::promql
