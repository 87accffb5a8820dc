// The type checks of Prometheus 2.42's checkAST (promql/parser/parse.go), in its order: children
// first, then the node's own rules, so the first error is the one Prometheus reports first.
#include <string>

#include "promql/parser_internal.h"

namespace steward::promql::internal {
namespace {

using Card = VectorMatching::Card;

// ValueType.String() in Go: "vector", "matrix", ... (used by the subquery message).
std::string_view GoTypeName(ValueType t) { return ResultTypeName(t); }

class Checker {
 public:
  explicit Checker(std::string_view query) : query_(query) {}

  StatusOr<ValueType> Check(Expr* node) {
    switch (node->kind) {
      case NodeKind::kNumberLiteral:
        return ValueType::kScalar;
      case NodeKind::kStringLiteral:
        return ValueType::kString;
      case NodeKind::kVectorSelector:
        RETURN_IF_ERROR(Selector(static_cast<VectorSelector*>(node)));
        return ValueType::kVector;
      case NodeKind::kMatrixSelector:
        RETURN_IF_ERROR(Selector(static_cast<MatrixSelector*>(node)->vector.get()));
        return ValueType::kMatrix;
      case NodeKind::kSubquery:
        return Subquery(static_cast<SubqueryExpr*>(node));
      case NodeKind::kParen:
        return Check(static_cast<ParenExpr*>(node)->expr.get());
      case NodeKind::kUnary:
        return Unary(static_cast<UnaryExpr*>(node));
      case NodeKind::kBinary:
        return Binary(static_cast<BinaryExpr*>(node));
      case NodeKind::kAggregate:
        return Aggregate(static_cast<AggregateExpr*>(node));
      case NodeKind::kCall:
        return CallExpr(static_cast<Call*>(node));
    }
    return Error(node->pos, "unknown node type");
  }

 private:
  Status Error(size_t pos, std::string_view msg) const { return ParseError(query_, pos, msg); }

  Status Selector(const VectorSelector* vs) {
    if (!vs->name.empty()) {
      for (size_t i = 1; i < vs->matchers.size(); ++i) {
        const tsdb::Matcher& m = vs->matchers[i];
        if (m.name() == tsdb::kMetricName)
          return Error(vs->pos, "metric name must not be set twice: " + GoQuote(vs->name) + " or " +
                                    GoQuote(m.value()));
      }
    }
    for (const tsdb::Matcher& m : vs->matchers)
      if (!m.Matches("")) return Status::OK();
    return Error(vs->pos, "vector selector must contain at least one non-empty matcher");
  }

  StatusOr<ValueType> Subquery(SubqueryExpr* sq) {
    ASSIGN_OR_RETURN(ValueType t, Check(sq->expr.get()));
    if (t != ValueType::kVector)
      return Error(sq->pos, "subquery is only allowed on instant vector, got " +
                                std::string(GoTypeName(t)) + " instead");
    return ValueType::kMatrix;
  }

  StatusOr<ValueType> Unary(UnaryExpr* u) {
    ASSIGN_OR_RETURN(ValueType t, Check(u->expr.get()));
    if (t != ValueType::kScalar && t != ValueType::kVector)
      return Error(u->pos,
                   "unary expression only allowed on expressions of type scalar or "
                   "instant vector, got " +
                       GoQuote(ValueTypeName(t)));
    return t;
  }

  StatusOr<ValueType> ExpectType(Expr* e, ValueType want, std::string_view context) {
    ASSIGN_OR_RETURN(ValueType t, Check(e));
    if (t != want)
      return Error(e->pos, "expected type " + std::string(ValueTypeName(want)) + " in " +
                               std::string(context) + ", got " + std::string(ValueTypeName(t)));
    return t;
  }

  StatusOr<ValueType> Aggregate(AggregateExpr* a) {
    RETURN_IF_ERROR(
        ExpectType(a->expr.get(), ValueType::kVector, "aggregation expression").status());
    if (a->op == AggOp::kTopk || a->op == AggOp::kBottomk || a->op == AggOp::kQuantile)
      RETURN_IF_ERROR(
          ExpectType(a->param.get(), ValueType::kScalar, "aggregation parameter").status());
    if (a->op == AggOp::kCountValues)
      RETURN_IF_ERROR(
          ExpectType(a->param.get(), ValueType::kString, "aggregation parameter").status());
    return ValueType::kVector;
  }

  StatusOr<ValueType> CallExpr(Call* c) {
    const FunctionInfo& f = *c->func;
    size_t nargs = f.arg_types.size(), got = c->args.size();
    std::string name = GoQuote(f.name);
    if (f.variadic == 0) {
      if (nargs != got)
        return Error(c->pos, "expected " + std::to_string(nargs) + " argument(s) in call to " +
                                 name + ", got " + std::to_string(got));
    } else {
      size_t min = nargs - 1;
      if (min > got)
        return Error(c->pos, "expected at least " + std::to_string(min) +
                                 " argument(s) in call to " + name + ", got " +
                                 std::to_string(got));
      size_t max = min + static_cast<size_t>(f.variadic > 0 ? f.variadic : 0);
      if (f.variadic > 0 && max < got)
        return Error(c->pos, "expected at most " + std::to_string(max) +
                                 " argument(s) in call to " + name + ", got " +
                                 std::to_string(got));
    }
    for (size_t i = 0; i < got; ++i) {
      size_t k = i;
      if (k >= nargs) {
        if (f.variadic == 0) break;
        k = nargs - 1;
      }
      ASSIGN_OR_RETURN(ValueType t, Check(c->args[i].get()));
      if (t != f.arg_types[k])
        return Error(c->args[i]->pos,
                     "expected type " + std::string(ValueTypeName(f.arg_types[k])) +
                         " in call to function " + name + ", got " + std::string(ValueTypeName(t)));
    }
    return f.return_type;
  }

  StatusOr<ValueType> Binary(BinaryExpr* b) {
    ASSIGN_OR_RETURN(ValueType lt, Check(b->lhs.get()));
    ASSIGN_OR_RETURN(ValueType rt, Check(b->rhs.get()));
    bool set_op = IsSetOperator(b->op);
    std::string op(BinaryOpName(b->op));
    if (b->return_bool && !IsComparison(b->op))
      return Error(b->op_pos, "bool modifier can only be used on comparison operators");
    if (IsComparison(b->op) && !b->return_bool && lt == ValueType::kScalar &&
        rt == ValueType::kScalar)
      return Error(b->op_pos, "comparisons between scalars must use BOOL modifier");
    if (!b->matching) b->matching.emplace();
    VectorMatching& vm = *b->matching;
    if (set_op && vm.card == Card::kOneToOne) vm.card = Card::kManyToMany;
    if (vm.on)
      for (const std::string& l1 : vm.labels)
        for (const std::string& l2 : vm.include)
          if (l1 == l2)
            return Error(b->op_pos,
                         "label " + GoQuote(l1) + " must not occur in ON and GROUP clause at once");
    bool lhs_ok = lt == ValueType::kScalar || lt == ValueType::kVector;
    bool rhs_ok = rt == ValueType::kScalar || rt == ValueType::kVector;
    if (!lhs_ok)
      return Error(b->lhs->pos,
                   "binary expression must contain only scalar and instant vector types");
    if (!rhs_ok)
      return Error(b->rhs->pos,
                   "binary expression must contain only scalar and instant vector types");
    if (lt != ValueType::kVector || rt != ValueType::kVector) {
      if (!vm.labels.empty())
        return Error(b->pos, "vector matching only allowed between instant vectors");
      b->matching.reset();
    } else if (set_op) {
      if (vm.card == Card::kOneToMany || vm.card == Card::kManyToOne)
        return Error(b->pos, "no grouping allowed for " + GoQuote(op) + " operation");
      if (vm.card != Card::kManyToMany)
        return Error(b->pos, "set operations must always be many-to-many");
    }
    if ((lt == ValueType::kScalar || rt == ValueType::kScalar) && set_op)
      return Error(b->pos,
                   "set operator " + GoQuote(op) + " not allowed in binary scalar expression");
    return lt == ValueType::kScalar && rt == ValueType::kScalar ? ValueType::kScalar
                                                                : ValueType::kVector;
  }

  std::string_view query_;
};

}  // namespace

Status CheckTypes(std::string_view query, Expr* root) {
  return Checker(query).Check(root).status();
}

}  // namespace steward::promql::internal
