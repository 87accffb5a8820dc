// PromQL's functions, evaluated at one step of a query: the engine (engine.cc) evaluates a
// Call's arguments at the step and hands them here; this file holds the arithmetic, with
// Prometheus 2.42's exact semantics (functions.go): extrapolation in rate/increase/delta,
// counter resets, the order and NaN handling of every *_over_time, histogram_quantile's bucket
// rules, label_replace's anchored RE2 regex, holt_winters' smoothing, the date functions in
// UTC...
//
// How arguments arrive (one Value per argument of the call, in order):
// - a scalar argument: Scalar;  a string argument: String;  an instant vector: Vector;
// - a range-vector argument: Matrix holding ONE series' points inside the window
//   [range_start, range_end] (Prometheus 2.42 includes both ends) — the engine calls a range
//   function once per series, attaches the series' labels to the result itself (dropping
//   __name__ for every range function but last_over_time, as Prometheus 2.42 does) and skips
//   series whose result is empty.
// - for timestamp() whose argument is a vector selector, each Sample's t is the sample's own
//   timestamp (Prometheus' special case); otherwise Sample::t of an argument is the step time.
//
// Result: the output Vector at ctx.t. Instant-vector functions return one sample per input
// sample they keep, with their labels already adjusted (math functions, clamp*, round,
// timestamp, histogram_quantile and the date functions drop __name__; label_replace,
// label_join, sort and sort_desc keep or rewrite it, as Prometheus does); range functions
// return zero or one sample (labels ignored by the engine); scalar() and time() return one
// sample without labels, which the engine turns into a Scalar; vector() and absent*() return
// samples with the labels Prometheus gives them.
// Errors: FailedPrecondition ("execution", as Prometheus' API reports a function's panic) for
// bad regexes, invalid label names and smoothing factors, with Prometheus' message; Internal
// when the arguments do not fit the function's signature (the parser should prevent that).
// Thread safety: safe to call concurrently (the function lookup and label_replace's compiled
// regex are cached per thread).
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string_view>
#include <vector>

#include "base/status.h"
#include "promql/ast.h"
#include "promql/value.h"

namespace steward::promql {

struct FunctionContext {
  const Call* call = nullptr;  // the node: its FunctionInfo and argument expressions
  int64_t t = 0;               // evaluation time (ms)
  // For range functions: the window the engine selected, Prometheus' rangeStart/rangeEnd
  // [t - offset - range, t - offset], used by extrapolation in rate/increase/delta.
  int64_t range_start = 0;
  int64_t range_end = 0;
};

StatusOr<Vector> CallFunction(const FunctionContext& ctx, const std::vector<Value>& args);

// The range functions' fast path, for the engine's per-series, per-step loop: the same
// arithmetic as CallFunction without building argument Values or a result Vector.
// `points` are one series' points in the window [ctx.range_start, ctx.range_end] (oldest first,
// no staleness markers; may be empty); `scalars` are the call's scalar arguments at this step,
// in argument order (quantile_over_time's φ, predict_linear's duration, holt_winters' factors).
// Returns the value, nullopt where CallFunction would return no sample, or the error it would
// return. Arguments are not checked: the caller passes what the signature asks for.
using RangeFunction = StatusOr<std::optional<double>> (*)(const FunctionContext& ctx,
                                                          std::span<const Point> points,
                                                          std::span<const double> scalars);

// The fast path of the named function; nullptr for functions that have none (instant-vector
// functions, absent_over_time, unknown names). Resolve it once per Call, not per step.
RangeFunction FindRangeFunction(std::string_view name);

// Notes on individual functions (details of the contract above):
// - absent_over_time(m): answers for the whole window. Pass a Matrix holding every selected
//   series (or none): the result is empty when any series has a point, otherwise one sample
//   with AbsentLabels(arg) and value 1. (Prometheus' engine computes the same per step.)
// - histogram_count/histogram_sum/histogram_fraction only act on native histograms, which
//   Steward does not store: with float samples they return nothing, as Prometheus does.

// The labels absent()/absent_over_time() give their result: Prometheus'
// createLabelsForAbsentFunction over the selector's equality matchers (parentheses around it
// ignored; empty for any argument that is not a vector or matrix selector).
tsdb::Labels AbsentLabels(const Expr* arg);

}  // namespace steward::promql
