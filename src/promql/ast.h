// The PromQL syntax tree: what the parser (parser.h) builds from a query string and the engine
// (engine.h) evaluates. It mirrors Prometheus 2.4x's AST node for node (NumberLiteral,
// StringLiteral, VectorSelector, MatrixSelector, SubqueryExpr, ParenExpr, UnaryExpr, BinaryExpr,
// AggregateExpr, Call), so Prometheus' semantics — and its String() form, which
// /api/v1/format_query returns — carry over one to one.
//
// Contract: a tree is built by the parser and is immutable afterwards; every node owns its
// children. Each node keeps the byte range [pos, end) of its text in the query, for errors.
// Types are checked by the parser (a Call's arguments match its FunctionInfo, binary operators
// get operands they accept), so the engine may rely on them. Thread safety: immutable values.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "tsdb/tsdb.h"

namespace steward::promql {

enum class ValueType { kNone, kScalar, kString, kVector, kMatrix };
// "scalar", "string", "instant vector", "range vector" (Prometheus' DocumentedType, for errors);
// ResultTypeName gives the API's resultType ("scalar", "string", "vector", "matrix").
std::string_view ValueTypeName(ValueType t);
std::string_view ResultTypeName(ValueType t);

enum class BinaryOp {
  kAdd, kSub, kMul, kDiv, kMod, kPow, kAtan2,  // arithmetic (atan2 is a keyword operator)
  kEql, kNeq, kGtr, kLss, kGte, kLte,          // comparison
  kAnd, kOr, kUnless,                          // set operators (vector/vector only)
};
std::string_view BinaryOpName(BinaryOp op);  // "+", "==", "and", "atan2", ...
bool IsComparison(BinaryOp op);
bool IsSetOperator(BinaryOp op);

enum class AggOp {
  kSum, kMin, kMax, kAvg, kGroup, kStddev, kStdvar, kCount,
  kCountValues, kBottomk, kTopk, kQuantile,  // these four take a parameter
};
std::string_view AggOpName(AggOp op);  // "sum", "count_values", ...

// A function's signature: its argument types, how many trailing arguments may be left out
// (variadic > 0: up to that many optional; variadic < 0: any number of the last type), and its
// return type. The table holds every function of Prometheus 2.42 (Prometheus' parser rejects
// unknown names with "unknown function with name ...").
struct FunctionInfo {
  std::string_view name;
  std::vector<ValueType> arg_types;
  int variadic = 0;
  ValueType return_type = ValueType::kVector;
};
const FunctionInfo* FindFunction(std::string_view name);  // nullptr when unknown

enum class NodeKind {
  kNumberLiteral, kStringLiteral, kVectorSelector, kMatrixSelector, kSubquery, kParen, kUnary,
  kBinary, kAggregate, kCall,
};

struct Expr {
  explicit Expr(NodeKind k) : kind(k) {}
  virtual ~Expr() = default;
  NodeKind kind;
  size_t pos = 0;  // byte offset of the node's first character in the query
  size_t end = 0;  // one past its last character
  ValueType Type() const;
  // Prometheus' canonical text form (what promql.Expr.String() prints), e.g.
  // `sum by (job) (rate(http_requests_total{code=~"5.."}[5m] offset 1m))`.
  std::string ToString() const;
};
using ExprPtr = std::unique_ptr<Expr>;

struct NumberLiteral : Expr {
  NumberLiteral() : Expr(NodeKind::kNumberLiteral) {}
  double value = 0;
};

struct StringLiteral : Expr {
  StringLiteral() : Expr(NodeKind::kStringLiteral) {}
  std::string value;  // unescaped
};

// Which time an `@` modifier pins a selector or subquery to.
enum class AtModifier { kNone, kTimestamp, kStart, kEnd };

struct VectorSelector : Expr {
  VectorSelector() : Expr(NodeKind::kVectorSelector) {}
  std::string name;                      // the metric name written before '{', may be empty
  std::vector<tsdb::Matcher> matchers;   // as written; a name adds __name__="name" (first)
  int64_t offset_ms = 0;                 // `offset 5m` = 300000, `offset -5m` = -300000
  AtModifier at = AtModifier::kNone;
  int64_t at_ms = 0;                     // with at == kTimestamp
};

struct MatrixSelector : Expr {
  MatrixSelector() : Expr(NodeKind::kMatrixSelector) {}
  std::unique_ptr<VectorSelector> vector;  // carries the offset and @ (as in Prometheus)
  int64_t range_ms = 0;
};

struct SubqueryExpr : Expr {
  SubqueryExpr() : Expr(NodeKind::kSubquery) {}
  ExprPtr expr;
  int64_t range_ms = 0;
  int64_t step_ms = 0;  // 0: the engine's default resolution (the query step, or 1 m for instants)
  int64_t offset_ms = 0;
  AtModifier at = AtModifier::kNone;
  int64_t at_ms = 0;
};

struct ParenExpr : Expr {
  ParenExpr() : Expr(NodeKind::kParen) {}
  ExprPtr expr;
};

struct UnaryExpr : Expr {
  UnaryExpr() : Expr(NodeKind::kUnary) {}
  bool negate = false;  // '-' (true) or '+' (false)
  ExprPtr expr;
};

// How two vectors are matched: `on (a, b)` / `ignoring (c)`, `group_left (x)` / `group_right`.
struct VectorMatching {
  enum class Card { kOneToOne, kManyToOne, kOneToMany, kManyToMany };
  Card card = Card::kOneToOne;  // and/or/unless are always kManyToMany
  bool on = false;              // true: match on `labels`; false: ignoring `labels`
  std::vector<std::string> labels;
  std::vector<std::string> include;  // group_left/group_right extra labels
};

struct BinaryExpr : Expr {
  BinaryExpr() : Expr(NodeKind::kBinary) {}
  BinaryOp op = BinaryOp::kAdd;
  size_t op_pos = 0;  // byte offset of the operator (Prometheus reports some errors there)
  ExprPtr lhs, rhs;
  bool return_bool = false;  // comparison with `bool`
  // Set when both sides are vectors (Prometheus' VectorMatching; set-operator defaults too).
  std::optional<VectorMatching> matching;
};

struct AggregateExpr : Expr {
  AggregateExpr() : Expr(NodeKind::kAggregate) {}
  AggOp op = AggOp::kSum;
  ExprPtr param;  // topk/bottomk/quantile: scalar; count_values: string; else null
  ExprPtr expr;
  std::vector<std::string> grouping;
  bool without = false;
};

struct Call : Expr {
  Call() : Expr(NodeKind::kCall) {}
  const FunctionInfo* func = nullptr;
  std::vector<ExprPtr> args;
};

// Checked downcasts: As<VectorSelector>(e) is nullptr unless e is one.
template <typename T>
const T* As(const Expr* e) {
  return dynamic_cast<const T*>(e);
}

}  // namespace steward::promql
