// The PromQL parser: a query string → a type-checked syntax tree (ast.h), for the whole grammar
// of Prometheus 2.4x — literals (hex, Inf, NaN, durations), instant and range selectors,
// `offset` (also negative), `@ <time>` / `@ start()` / `@ end()`, subqueries `[5m:30s]`, unary
// +/-, every binary operator with Prometheus' precedence and associativity (`^` is
// right-associative), `bool`, `on`/`ignoring`, `group_left`/`group_right` with extra labels,
// aggregations with `by`/`without` before or after the arguments, and function calls checked
// against the function table. Also the two readers of numbers that the HTTP API and the CLI
// share with the parser, so that a duration or a float means the same everywhere.
//
// Contract: on success the tree's types are consistent (see ast.h). On failure returns
// InvalidArgument with Prometheus' message shape, "LINE:COL: parse error: <what>", e.g.
// `1:14: parse error: unexpected "}" in label matching, expected string` or
// `1:1: parse error: expected type range vector in call to function "rate", got instant vector`,
// so the HTTP API can return it verbatim as bad_data. Untrusted input: nesting is bounded
// (kMaxDepth) so a hostile query cannot overflow the stack, and the query is lexed only as far
// as the parser reads, at most internal::kMaxItems tokens, so a long one cannot exhaust memory
// ("query has more than 100000 tokens"). Thread safety: stateless.
#pragma once

#include <cstdint>
#include <string_view>

#include "base/status.h"
#include "promql/ast.h"

namespace steward::promql {

inline constexpr int kMaxDepth = 1000;

StatusOr<ExprPtr> ParseExpr(std::string_view query);

// Prometheus' model.ParseDuration, in milliseconds: "1h30m", "90s", "0"; units y w d h m s ms,
// each at most once and in that order, the total at most ~292 years (a Go time.Duration).
// Errors: "empty duration string", "not a valid duration string: \"...\"", "duration out of
// range". PromQL's ranges, steps and offsets, the API's step and timeout, and the CLI's
// relative times all read durations with it.
StatusOr<int64_t> ParseDurationMillis(std::string_view text);

// Go's strconv.ParseFloat(text, 64) (base/go_float.h): decimal and hex (0x1p-3) floats with an
// optional sign and `_` between digits, inf/infinity/nan in any case, nothing else. It is how
// Prometheus' API reads Unix-second times, steps and timeouts, and how PromQL reads numbers
// that are not integers. Errors carry Go's message: `strconv.ParseFloat: parsing "x": invalid
// syntax` or `...: value out of range`.
StatusOr<double> ParseGoFloat(std::string_view text);

}  // namespace steward::promql
