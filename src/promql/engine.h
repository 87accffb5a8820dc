// The PromQL engine: evaluates a parsed expression (ast.h) over the TSDB with Prometheus 2.4x
// semantics — 5-minute lookback and staleness markers for instant selectors, offset and @,
// subqueries, extrapolated rate/increase/delta with counter resets, every function of the
// function table, all aggregations, arithmetic/comparison/set operators with on/ignoring and
// group_left/group_right, __name__ dropped where Prometheus drops it, NaN and ±Inf as IEEE
// (with Prometheus' special cases).
//
// Contract:
// - Instant(): the value at time t. Range(): the expression at start, start+step, ... ≤ end,
//   always a Matrix (a scalar result becomes one series without labels), series sorted by labels.
// - Errors carry the Prometheus API error type in their code:
//     InvalidArgument    → "bad_data"  (an expression type a range query cannot return, step ≤ 0)
//     FailedPrecondition → "execution" (many-to-many matching, duplicate series, a bad regex or
//                          label name in label_replace, a bad holt_winters factor, too many
//                          samples: "query processing would load too many samples into memory
//                          in query execution", the same words as Prometheus)
//     DeadlineExceeded   → "timeout"   ("query timed out in expression evaluation")
//     Aborted            → "canceled"  (QueryLimits::cancel was set)
//   and the message is Prometheus' message for the same failure, so the conformance suite can
//   compare errors.
// - Limits: at most QueryLimits::max_samples samples held at once (step and window points plus
//   result points, counted as Prometheus counts them; reads from the store are bounded apart),
//   and the deadline and cancel flag checked between steps and series, so a query that would
//   load too much or run too long stops with an error. Times are clamped to ±2^61 ms, so no
//   `@`, offset or step overflows. How many queries run at once is the caller's to bound (the
//   daemon's query gate).
// Thread safety: an Engine is immutable after construction; concurrent queries are fine, each
// with its own Querier.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>

#include "base/status.h"
#include "promql/ast.h"
#include "promql/value.h"
#include "tsdb/tsdb.h"

namespace steward::promql {

struct EngineOptions {
  int64_t lookback_ms = 5 * 60 * 1000;             // --query.lookback-delta
  int64_t default_subquery_step_ms = 60 * 1000;    // Prometheus' default evaluation interval
  // Prometheus streams samples from storage and counts only the points it keeps against
  // max_samples; series read from the TSDB here are held whole, so they are bounded apart, at
  // max(2 × max_samples, min_read_budget) samples at once (the same error when exceeded).
  int64_t min_read_budget = 10'000'000;
};

struct QueryLimits {
  int64_t max_samples = 50'000'000;                // --query.max-samples
  std::chrono::steady_clock::time_point deadline = std::chrono::steady_clock::time_point::max();
  // When set and true, evaluation stops where the deadline is checked, with Aborted ("query was
  // canceled in expression evaluation"): the daemon sets it to stop queries on shutdown.
  const std::atomic<bool>* cancel = nullptr;
};

struct QueryStats {
  int64_t samples_loaded = 0;  // points read from the TSDB
  int64_t peak_samples = 0;    // most samples held at once
};

class Engine {
 public:
  explicit Engine(EngineOptions options = {}) : options_(options) {}

  StatusOr<Value> Instant(tsdb::Querier* querier, const Expr& expr, int64_t t_ms,
                          const QueryLimits& limits = {}, QueryStats* stats = nullptr) const;
  // step_ms > 0; end_ms >= start_ms (the API validates both first).
  StatusOr<Matrix> Range(tsdb::Querier* querier, const Expr& expr, int64_t start_ms,
                         int64_t end_ms, int64_t step_ms, const QueryLimits& limits = {},
                         QueryStats* stats = nullptr) const;

 private:
  EngineOptions options_;
};

}  // namespace steward::promql
