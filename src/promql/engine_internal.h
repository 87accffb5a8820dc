// Internals of the PromQL engine (engine.h), shared by engine.cc (selectors, subqueries, calls),
// binary.cc (operators) and aggregation.cc. Not a public interface.
//
// Model (Prometheus 2.42's evaluator): evaluating a node over a range of steps yields, for a
// scalar or instant-vector node, a Matrix whose points sit at the step times (a scalar is one
// series without labels with a point at every step); a string literal yields a String; a range
// selector or subquery yields a Matrix of raw points (only at the top of an instant query and
// as function arguments). Operators, aggregations and most functions are computed step by step
// from the per-step vectors of their arguments (RangeEval), exactly as Prometheus' rangeEval.
//
// A QueryContext is shared by every Evaluator of one query (subqueries get their own steps);
// it counts the samples held against QueryLimits::max_samples and checks the deadline.
// Thread safety: one query, one thread.
#pragma once

#include <algorithm>
#include <cstdint>
#include <deque>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "base/status.h"
#include "promql/ast.h"
#include "promql/engine.h"
#include "promql/functions.h"
#include "promql/value.h"
#include "tsdb/labels.h"
#include "tsdb/tsdb.h"

namespace steward::promql::eval {

// The evaluation times start, start+interval, ..., ≤ end.
// Every time the engine computes with stays within ±kMaxEvalTime (about 73 million years in
// ms): query times, steps and `@` times are clamped to it, and offsets, ranges, lookback and
// subquery steps are parser durations below 2^44 ms, so no sum or difference of them can
// overflow int64. No sample can exist beyond it; Prometheus' own int64 arithmetic wraps there.
inline constexpr int64_t kMaxEvalTime = int64_t{1} << 61;
inline int64_t ClampTime(int64_t t) { return std::clamp(t, -kMaxEvalTime, kMaxEvalTime); }

struct Steps {
  int64_t start = 0;
  int64_t end = 0;
  int64_t interval = 1;
  int64_t Count() const { return end < start ? 0 : (end - start) / interval + 1; }
};

Status TooManySamples();
int64_t SampleCount(const std::vector<tsdb::Series>& series);
Status Timeout();
Status DuplicateLabelset();  // "vector cannot contain metrics with the same labelset"

class QueryContext {
 public:
  QueryContext(tsdb::Querier* querier, const EngineOptions& options, const QueryLimits& limits,
               int64_t query_start, int64_t query_end)
      : querier_(querier),
        options_(options),
        limits_(limits),
        start_(query_start),
        end_(query_end) {}

  const EngineOptions& options() const { return options_; }
  // The time an `@` pins a node to (start()/end() are the query's), or nullopt without one.
  std::optional<int64_t> AtTime(AtModifier at, int64_t at_ms) const;

  // Takes n more samples into the count held; TooManySamples when that passes the limit.
  Status Charge(int64_t n);
  void Release(int64_t n) { held_ -= n; }
  // Every call counts; the clock is read every few hundred calls.
  Status CheckDeadline();

  // The querier's Select. Prometheus streams samples from storage and counts only the points
  // it keeps (step vectors, range windows, results: Charge); the store here hands over whole
  // series, so what they hold is bounded apart (EngineOptions::min_read_budget) until the
  // caller gives it back with ReleaseRaw(SampleCount(series)).
  StatusOr<std::vector<tsdb::Series>> Select(const std::vector<tsdb::Matcher>& matchers,
                                             int64_t mint, int64_t maxt);
  void ReleaseRaw(int64_t n) { raw_held_ -= n; }
  static constexpr int64_t kRawFactor = 2;
  void FillStats(QueryStats* stats) const;
  int64_t loaded() const { return loaded_; }  // samples read from the store so far

 private:
  tsdb::Querier* querier_;
  EngineOptions options_;
  QueryLimits limits_;
  int64_t start_, end_;
  int64_t RawLimit() const;

  int64_t held_ = 0;
  int64_t raw_held_ = 0;
  int64_t peak_ = 0;
  int64_t loaded_ = 0;
  int64_t deadline_calls_ = 0;
};

// An instant-vector argument at one step, without copies of its labels: the j-th sample is
// series series[j] of the argument's Matrix *m, with value v[j].
struct StepVector {
  const Matrix* m = nullptr;
  std::vector<uint32_t> series;
  std::vector<double> v;
  size_t size() const { return v.size(); }
  const tsdb::Labels& metric(size_t j) const { return (*m)[series[j]].metric; }
  Vector Materialize(int64_t t) const;
};

// The values of a node's arguments at one step: args holds Scalar and String arguments (and,
// when RangeEval is asked to materialize, Vector ones); vectors[i] every instant-vector one.
struct StepArgs {
  int64_t t = 0;
  std::vector<Value> args;
  std::vector<StepVector> vectors;
};

// What a step function produces, in order. Stable labels belong to the node and are the same
// object at every step for the same output series (an input series, a cached result label
// set), so collecting them into series needs no hashing after the first step; owned labels
// were made at this step.
class StepOutput {
 public:
  struct Item {
    const tsdb::Labels* labels;
    double v;
    bool stable;
  };
  void AddStable(const tsdb::Labels* l, double v) { items_.push_back({l, v, true}); }
  void AddOwned(tsdb::Labels l, double v) {
    owned_.push_back(std::move(l));
    items_.push_back({&owned_.back(), v, false});
  }
  void AddVector(Vector&& v) {
    for (auto& s : v) AddOwned(std::move(s.metric), s.v);
  }
  void Clear() {
    items_.clear();
    owned_.clear();
  }
  const std::vector<Item>& items() const { return items_; }
  // Owned labels may be moved out by the collector.
  tsdb::Labels* Mutable(const Item& it) { return const_cast<tsdb::Labels*>(it.labels); }

 private:
  std::vector<Item> items_;
  std::deque<tsdb::Labels> owned_;
};
using StepFn = std::function<Status(const StepArgs& in, StepOutput* out)>;
// Called once with the evaluated argument matrices (nullptr for strings) before stepping.
using PrepareFn = std::function<Status(const std::vector<const Matrix*>& args)>;

class Evaluator {
 public:
  Evaluator(QueryContext* ctx, Steps steps) : ctx_(ctx), steps_(steps) {}

  // See the model above. Charges the returned points to the context.
  StatusOr<Value> Eval(const Expr& e);
  const Steps& steps() const { return steps_; }

 private:
  StatusOr<Matrix> EvalMatrix(const Expr& e);  // Eval of a scalar/vector node
  // Prometheus' rangeEval: evaluates exprs over all steps, then calls fn step by step.
  // materialize: also pass instant-vector arguments as Vectors in StepArgs::args (functions).
  StatusOr<Matrix> RangeEval(const std::vector<const Expr*>& exprs, const PrepareFn& prepare,
                             const StepFn& fn, bool materialize = false);
  StatusOr<Matrix> EvalNumber(double v);
  StatusOr<Matrix> EvalVectorSelector(const VectorSelector& vs);
  StatusOr<Matrix> EvalTopMatrixSelector(const MatrixSelector& ms);
  StatusOr<Matrix> EvalSubquery(const SubqueryExpr& sq);
  StatusOr<Matrix> EvalUnary(const UnaryExpr& u);
  StatusOr<Matrix> EvalBinary(const BinaryExpr& b);
  StatusOr<Matrix> EvalAggregate(const AggregateExpr& a);
  StatusOr<Matrix> EvalCall(const Call& c);
  StatusOr<Matrix> EvalRangeCall(const Call& c, size_t matrix_arg);
  // One series' samples and how EvalRangeCall's windows sit on them.
  struct RangeWindows {
    const std::vector<tsdb::Sample>* samples;
    int64_t range;
    int64_t offset;
    std::optional<int64_t> at;
  };
  Status RangeSeriesFast(RangeFunction fn, const Call& c, size_t matrix_arg,
                         const std::vector<Matrix>& others, const RangeWindows& w,
                         std::vector<Point>* result);
  Status RangeSeries(const Call& c, size_t matrix_arg, const std::vector<Matrix>& others,
                     const RangeWindows& w, std::vector<Value>* args, std::vector<Point>* result);
  size_t PointsBound(size_t n, int64_t range, bool pinned) const;
  StatusOr<Matrix> EvalTimestampOfSelector(const Call& c, const VectorSelector& vs);
  StatusOr<Matrix> AbsentOverTime(const Expr* arg, const std::vector<tsdb::Series>& series,
                                  int64_t range, int64_t offset, std::optional<int64_t> at);

  QueryContext* ctx_;
  Steps steps_;
};

// --- label helpers (labels_util in engine.cc) ---
tsdb::Labels DropMetricName(const tsdb::Labels& l);
tsdb::Labels KeepLabels(const tsdb::Labels& l, const std::vector<std::string>& names);
tsdb::Labels DropLabels(const tsdb::Labels& l, const std::vector<std::string>& names);
// Go's labels.Labels.String(): {__name__="x", a="b"} — Prometheus' error messages use it.
std::string GoLabelsString(const tsdb::Labels& l);
std::string GoQuote(std::string_view s);  // strconv.Quote

// A byte key of the labels named in `names` (on = true) or of all but those and __name__.
std::string SignatureKey(const tsdb::Labels& l, bool on, const std::vector<std::string>& names);
std::string LabelsKey(const tsdb::Labels& l);
bool ContainsSameLabelset(const Matrix& m);
bool ContainsSameLabelset(const Vector& v);
const Expr* UnwrapParens(const Expr* e);

// --- binary.cc ---
double ScalarBinop(BinaryOp op, double l, double r);
// Prometheus' vectorElemBinop: the value and whether a comparison keeps the element.
double VectorElemBinop(BinaryOp op, double l, double r, bool* keep);
bool ShouldDropMetricName(BinaryOp op);

// --- aggregation.cc ---
// The groups of an aggregation's input series, computed once per node: group_of[series] is
// the group's id, labels[id] its output labels; slot is scratch (-1 per id between steps).
struct AggState {
  std::vector<uint32_t> group_of;
  std::vector<tsdb::Labels> labels;
  std::vector<int32_t> slot;
};
// One step of an aggregation other than count_values.
Status Aggregate(const AggregateExpr& a, double param, const StepVector& in, AggState* state,
                 StepOutput* out);
tsdb::Labels GroupLabels(const tsdb::Labels& l, const std::vector<std::string>& grouping,
                         bool without);
Status CountValues(const AggregateExpr& a, const std::vector<std::string>& grouping,
                   const std::string& value_label, const StepVector& in, StepOutput* out);
// strconv.FormatFloat(v, 'f', -1, 64), as count_values writes values.
std::string FormatFloatF(double v);
std::string GroupingKey(const tsdb::Labels& l, const std::vector<std::string>& grouping,
                        bool without);

}  // namespace steward::promql::eval
