// The expression parser's class, shared by the files that define its rules: parser.cc
// (operators, literals, calls, aggregations), parser_modifiers.cc (`[range]`, subqueries,
// `offset`, `@`, durations) and selector.cc (vector selectors and label matchers, which
// /api/v1/series match[] parses alone). See parser.cc for how Prometheus' yacc grammar maps to
// these functions.
//
// Contract: one Parser parses one query, once; it reads items from an ItemStream, so it lexes
// only as far as it parses. Syntax errors are Prometheus' first error, "LINE:COL: parse error:
// ...". Thread safety: none; a Parser is a local of ParseExpr or ParseSeriesSelector.
#pragma once

#include <memory>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "base/status.h"
#include "promql/ast.h"
#include "promql/parser_internal.h"
#include "tsdb/tsdb.h"

namespace steward::promql::internal {

// Tokens the grammar's metric_identifier accepts besides identifiers: keywords that are also
// valid metric names (`sum`, `by`, `offset`, `and`, `start`, ...).
bool IsMetricKeyword(Tok t);

template <typename T>
std::unique_ptr<T> Node(size_t pos, size_t end) {
  auto n = std::make_unique<T>();
  n->pos = pos;
  n->end = end;
  return n;
}

class Parser {
 public:
  explicit Parser(std::string_view query) : query_(query), items_(query) {}

  // The grammar's `START_EXPRESSION expr`, then the type checks.
  StatusOr<ExprPtr> Parse();
  // The grammar's `START_METRIC_SELECTOR vector_selector` (Prometheus' ParseMetricSelector):
  // a bare vector selector's matchers, without the checks that follow parsing an expression.
  StatusOr<std::vector<tsdb::Matcher>> ParseMetricSelector();

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

  // parser.cc: errors and bookkeeping.
  Status NestingError(size_t pos) const;
  int Height(const Expr* e) const;
  Status Grew(const Expr* e, int child_height);  // records a node one above its tallest child
  const Item& Peek(size_t ahead = 0) { return items_.Peek(ahead); }
  const Item& Take() { return items_.Take(); }
  Status Error(size_t pos, std::string_view message) const;
  Status Unexpected(const Item& it, std::string_view context, std::string_view expected) const;
  Status Generic(const Item& it) const;

  // parser.cc: expressions.
  StatusOr<ExprPtr> Binary(int min_prec);
  Status BinModifiers(BinaryExpr* b);
  StatusOr<std::vector<std::string>> GroupingLabels();
  StatusOr<ExprPtr> Unary();
  StatusOr<ExprPtr> Primary();
  StatusOr<ExprPtr> NumberLit();
  StatusOr<std::string> UnquoteItem(const Item& t) const;
  StatusOr<ExprPtr> StringLit();
  StatusOr<ExprPtr> Paren();
  Status CallArgs(std::vector<ExprPtr>* args, size_t* end);
  StatusOr<ExprPtr> FunctionCall();
  StatusOr<ExprPtr> Aggregate();
  Status AggModifier(AggregateExpr* agg);

  // selector.cc: vector selectors.
  StatusOr<ExprPtr> Selector(bool named);
  Status LabelMatchers(VectorSelector* vs);
  Status OneMatcher(const Item& name, VectorSelector* vs);

  // parser_modifiers.cc: what follows an operand.
  StatusOr<ExprPtr> Postfix(ExprPtr e);
  StatusOr<int64_t> Duration(const Item& d) const;
  StatusOr<ExprPtr> RangeOrSubquery(ExprPtr e, const Item& open);
  Status Offset(Expr* e);
  Status At(Expr* e);
  Status AtTimestamp(Expr* e, int64_t* at_ms, size_t* end);

  std::string_view query_;
  ItemStream items_;
  int depth_ = 0;
  int agg_depth_ = 0;
  std::unordered_map<const Expr*, int> heights_;  // nodes taller than 1
};

}  // namespace steward::promql::internal
