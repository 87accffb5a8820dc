// The PromQL parser: a query string → a type-checked syntax tree (ast.h), for the whole grammar
// of Prometheus 2.4x — literals (hex, Inf, NaN, durations), instant and range selectors,
// `offset` (also negative), `@ <time>` / `@ start()` / `@ end()`, subqueries `[5m:30s]`, unary
// +/-, every binary operator with Prometheus' precedence and associativity (`^` is
// right-associative), `bool`, `on`/`ignoring`, `group_left`/`group_right` with extra labels,
// aggregations with `by`/`without` before or after the arguments, and function calls checked
// against the function table.
//
// Contract: on success the tree's types are consistent (see ast.h). On failure returns
// InvalidArgument with Prometheus' message shape, "LINE:COL: parse error: <what>", e.g.
// `1:14: parse error: unexpected "}" in label matching, expected string` or
// `1:1: parse error: expected type range vector in call to function "rate", got instant vector`,
// so the HTTP API can return it verbatim as bad_data. Untrusted input: nesting is bounded
// (kMaxDepth) so a hostile query cannot overflow the stack. Thread safety: stateless.
#pragma once

#include <string_view>

#include "base/status.h"
#include "promql/ast.h"

namespace steward::promql {

inline constexpr int kMaxDepth = 1000;

StatusOr<ExprPtr> ParseExpr(std::string_view query);

}  // namespace steward::promql
