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
// The Parser class (parser_impl.h) spans this file (operators, literals, calls, aggregations),
// selector.cc (vector selectors) and parser_modifiers.cc (ranges, subqueries, offset, @).
#include "promql/parser.h"

#include <algorithm>
#include <string>
#include <vector>

#include "promql/parser_impl.h"
#include "promql/parser_internal.h"

namespace steward::promql {
namespace internal {
namespace {

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

// The grammar's maybe_label: what may name a label in by/without/on/ignoring/group_x lists
// (every keyword but `without`).
bool IsMaybeLabel(Tok t) {
  return t == Tok::kIdentifier || t == Tok::kMetricIdentifier || IsAggregatorTok(t) ||
         (IsKeywordTok(t) && t != Tok::kWithout) || t == Tok::kLand || t == Tok::kLor ||
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

}  // namespace

bool IsMetricKeyword(Tok t) {
  return IsAggregatorTok(t) || t == Tok::kBy || t == Tok::kWithout || t == Tok::kOffset ||
         t == Tok::kLand || t == Tok::kLor || t == Tok::kLunless || t == Tok::kStart ||
         t == Tok::kEnd;
}

StatusOr<ExprPtr> Parser::Parse() {
  if (Peek().kind == Tok::kEof) return Error(0, "no expression found in input");
  ASSIGN_OR_RETURN(ExprPtr e, Binary(1));
  if (Peek().kind != Tok::kEof) return Generic(Peek());
  RETURN_IF_ERROR(CheckTypes(query_, e.get()));
  return e;
}

Status Parser::NestingError(size_t pos) const {
  return Error(pos, "expression nesting exceeds " + std::to_string(kMaxDepth) + " levels");
}

int Parser::Height(const Expr* e) const {
  auto it = heights_.find(e);
  return it == heights_.end() ? 1 : it->second;
}

// Records a new node one level above its tallest child.
Status Parser::Grew(const Expr* e, int child_height) {
  if (child_height + 1 > kMaxDepth) return NestingError(e->pos);
  heights_[e] = child_height + 1;
  return Status::OK();
}

Status Parser::Error(size_t pos, std::string_view message) const {
  return ParseError(query_, pos, message);
}

// Prometheus' parser.unexpected(): a lexer error is reported as itself.
Status Parser::Unexpected(const Item& it, std::string_view context,
                          std::string_view expected) const {
  if (it.kind == Tok::kError) return Error(it.pos, items_.error());
  std::string msg = "unexpected " + DescribeItem(it);
  if (!context.empty()) msg += " in " + std::string(context);
  if (!expected.empty()) msg += ", expected " + std::string(expected);
  return Error(it.pos, msg);
}

// A syntax error outside any rule with a specific message: inside an aggregation's
// arguments yacc recovers in `aggregate_op error`, elsewhere in `start: error`.
Status Parser::Generic(const Item& it) const {
  return Unexpected(it, agg_depth_ > 0 ? "aggregation" : "", "");
}

StatusOr<ExprPtr> Parser::Binary(int min_prec) {
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
Status Parser::BinModifiers(BinaryExpr* b) {
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

StatusOr<std::vector<std::string>> Parser::GroupingLabels() {
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
StatusOr<ExprPtr> Parser::Unary() {
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

StatusOr<ExprPtr> Parser::Primary() {
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
  if (IsAggregatorTok(t.kind)) {
    Tok next = Peek(1).kind;
    if (next == Tok::kLeftParen || next == Tok::kBy || next == Tok::kWithout) return Aggregate();
  }
  if (IsMetricKeyword(t.kind)) return Selector(true);
  return Generic(t);
}

StatusOr<ExprPtr> Parser::NumberLit() {
  const Item& t = Take();
  double v = 0;
  std::string err;
  if (!ParseGoNumber(t.text, &v, &err)) return Error(t.pos, "error parsing number: " + err);
  auto n = Node<NumberLiteral>(t.pos, t.pos + t.text.size());
  n->value = v;
  return ExprPtr(std::move(n));
}

StatusOr<std::string> Parser::UnquoteItem(const Item& t) const {
  auto v = Unquote(t.text);
  if (!v.ok())
    return Error(t.pos, "error unquoting string " + GoQuote(t.text) + ": " + v.status().message());
  return std::move(*v);
}

StatusOr<ExprPtr> Parser::StringLit() {
  const Item& t = Take();
  auto s = Node<StringLiteral>(t.pos, t.pos + t.text.size());
  ASSIGN_OR_RETURN(s->value, UnquoteItem(t));
  return ExprPtr(std::move(s));
}

StatusOr<ExprPtr> Parser::Paren() {
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

// function_call_body: "(" [expr {"," expr}] ")". Sets *end past the ")".
Status Parser::CallArgs(std::vector<ExprPtr>* args, size_t* end) {
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

StatusOr<ExprPtr> Parser::FunctionCall() {
  const Item& name = Take();
  auto call = Node<Call>(name.pos, 0);
  RETURN_IF_ERROR(CallArgs(&call->args, &call->end));
  int h = 0;
  for (const ExprPtr& arg : call->args) h = std::max(h, Height(arg.get()));
  RETURN_IF_ERROR(Grew(call.get(), h));
  call->func = FindFunction(name.text);
  if (call->func == nullptr)
    return Error(name.pos, "unknown function with name " + GoQuote(name.text));
  return ExprPtr(std::move(call));
}

StatusOr<ExprPtr> Parser::Aggregate() {
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
    return Error(op.pos, "wrong number of arguments for aggregate expression provided, expected " +
                             std::to_string(want) + ", got " + std::to_string(args.size()));
  int h = 0;
  for (const ExprPtr& arg : args) h = std::max(h, Height(arg.get()));
  RETURN_IF_ERROR(Grew(agg.get(), h));
  if (want == 2) agg->param = std::move(args[0]);
  agg->expr = std::move(args[want - 1]);
  return ExprPtr(std::move(agg));
}

Status Parser::AggModifier(AggregateExpr* agg) {
  const Item& mod = Take();
  agg->without = mod.kind == Tok::kWithout;
  ASSIGN_OR_RETURN(agg->grouping, GroupingLabels());
  return Status::OK();
}

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

StatusOr<ExprPtr> ParseExpr(std::string_view query) { return internal::Parser(query).Parse(); }

}  // namespace steward::promql
