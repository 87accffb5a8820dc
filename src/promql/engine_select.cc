// Selectors, subqueries and function calls of the evaluator (engine_internal.h), with
// Prometheus 2.42's windows: an instant selector takes the newest sample in
// [t - offset - lookback, t - offset] unless it is a staleness marker; a range selector takes
// the samples in [t - offset - range, t - offset] without staleness markers; `@` pins t.
#include <algorithm>
#include <span>
#include <utility>

#include "promql/engine_internal.h"
#include "promql/functions.h"

namespace steward::promql::eval {
namespace {

// The newest sample at or before ref within the lookback window, advancing *cursor (the index
// of the first sample after the previous ref; refs must not decrease).
const tsdb::Sample* LatestSample(const std::vector<tsdb::Sample>& samples, size_t* cursor,
                                 int64_t ref, int64_t lookback) {
  size_t& c = *cursor;
  while (c < samples.size() && samples[c].t <= ref) ++c;
  if (c == 0) return nullptr;
  const tsdb::Sample& s = samples[c - 1];
  if (s.t < ref - lookback || tsdb::IsStaleNaN(s.v)) return nullptr;
  return &s;
}

// Slides a closed window [mint, maxt] over one series' samples (bounds must not decrease).
class Window {
 public:
  explicit Window(const std::vector<tsdb::Sample>* samples) : samples_(samples) {
    for (const auto& s : *samples) has_stale_ = has_stale_ || tsdb::IsStaleNaN(s.v);
  }
  void Fill(int64_t mint, int64_t maxt, std::vector<Point>* out) {
    std::span<const Point> in = Slide(mint, maxt);
    if (!has_stale_) {
      out->assign(in.begin(), in.end());
      return;
    }
    out->clear();
    for (const Point& p : in) {
      if (!tsdb::IsStaleNaN(p.v)) out->push_back(p);
    }
  }
  // The window's points without copying them when the series has no staleness markers;
  // otherwise copied into *scratch without them.
  std::span<const Point> Points(int64_t mint, int64_t maxt, std::vector<Point>* scratch) {
    if (!has_stale_) return Slide(mint, maxt);
    Fill(mint, maxt, scratch);
    return *scratch;
  }

 private:
  std::span<const Point> Slide(int64_t mint, int64_t maxt) {
    const auto& s = *samples_;
    while (hi_ < s.size() && s[hi_].t <= maxt) ++hi_;
    while (lo_ < hi_ && s[lo_].t < mint) ++lo_;
    return std::span<const Point>(s.data() + lo_, hi_ - lo_);
  }

  const std::vector<tsdb::Sample>* samples_;
  size_t lo_ = 0, hi_ = 0;
  bool has_stale_ = false;
};

}  // namespace

StatusOr<Matrix> Evaluator::EvalVectorSelector(const VectorSelector& vs) {
  const std::optional<int64_t> at = ctx_->AtTime(vs.at, vs.at_ms);
  const int64_t lookback = ctx_->options().lookback_ms;
  const int64_t first = (at ? *at : steps_.start) - vs.offset_ms;
  const int64_t last = (at ? *at : steps_.end) - vs.offset_ms;
  ASSIGN_OR_RETURN(auto series, ctx_->Select(vs.matchers, first - lookback, last));
  const int64_t raw = SampleCount(series);
  Matrix out;
  for (auto& s : series) {
    RETURN_IF_ERROR(ctx_->CheckDeadline());
    Series ss{std::move(s.labels), {}};
    ss.points.reserve(static_cast<size_t>(std::min<int64_t>(steps_.Count(), s.samples.size() + 1)));
    size_t cursor = 0;
    for (int64_t ts = steps_.start; ts <= steps_.end; ts += steps_.interval) {
      RETURN_IF_ERROR(ctx_->CheckDeadline());
      const int64_t ref = (at ? *at : ts) - vs.offset_ms;
      const tsdb::Sample* smp = LatestSample(s.samples, &cursor, ref, lookback);
      if (smp == nullptr) continue;
      RETURN_IF_ERROR(ctx_->Charge(1));
      ss.points.push_back({ts, smp->v});
    }
    if (!ss.points.empty()) out.push_back(std::move(ss));
  }
  ctx_->ReleaseRaw(raw);
  return out;
}

StatusOr<Matrix> Evaluator::EvalTopMatrixSelector(const MatrixSelector& ms) {
  const VectorSelector& vs = *ms.vector;
  const std::optional<int64_t> at = ctx_->AtTime(vs.at, vs.at_ms);
  const int64_t maxt = (at ? *at : steps_.start) - vs.offset_ms;
  const int64_t mint = maxt - ms.range_ms;
  ASSIGN_OR_RETURN(auto series, ctx_->Select(vs.matchers, mint, maxt));
  const int64_t raw = SampleCount(series);
  Matrix out;
  for (auto& s : series) {
    Series ss{std::move(s.labels), {}};
    Window(&s.samples).Fill(mint, maxt, &ss.points);
    RETURN_IF_ERROR(ctx_->Charge(static_cast<int64_t>(ss.points.size())));
    if (!ss.points.empty()) out.push_back(std::move(ss));
  }
  ctx_->ReleaseRaw(raw);
  return out;
}

StatusOr<Matrix> Evaluator::EvalSubquery(const SubqueryExpr& sq) {
  const std::optional<int64_t> at = ctx_->AtTime(sq.at, sq.at_ms);
  Steps inner;
  inner.interval = sq.step_ms > 0 ? sq.step_ms : ctx_->options().default_subquery_step_ms;
  const int64_t from = (at ? *at : steps_.start) - sq.offset_ms - sq.range_ms;
  inner.end = (at ? *at : steps_.end) - sq.offset_ms;
  // The first multiple of the step at or after `from` (Go's truncating division, as Prometheus).
  inner.start = inner.interval * (from / inner.interval);
  if (inner.start < from) inner.start += inner.interval;
  if (inner.start > inner.end) return Matrix{};
  Evaluator sub(ctx_, inner);
  return sub.EvalMatrix(*sq.expr);
}

StatusOr<Matrix> Evaluator::EvalCall(const Call& c) {
  if (c.func->name == "timestamp" && !c.args.empty()) {
    const Expr* arg = UnwrapParens(c.args[0].get());
    if (arg->kind == NodeKind::kVectorSelector) {
      return EvalTimestampOfSelector(c, static_cast<const VectorSelector&>(*arg));
    }
  }
  for (size_t i = 0; i < c.args.size(); ++i) {
    const Expr* arg = UnwrapParens(c.args[i].get());
    if (arg->kind == NodeKind::kMatrixSelector || arg->kind == NodeKind::kSubquery) {
      return EvalRangeCall(c, i);
    }
  }
  std::vector<const Expr*> exprs;
  for (const auto& a : c.args) exprs.push_back(a.get());
  auto call = [&c](const StepArgs& in, StepOutput* out) -> Status {
    FunctionContext fc;
    fc.call = &c;
    fc.t = in.t;
    ASSIGN_OR_RETURN(Vector v, CallFunction(fc, in.args));
    out->AddVector(std::move(v));
    return Status::OK();
  };
  return RangeEval(exprs, nullptr, call, /*materialize=*/true);
}

StatusOr<Matrix> Evaluator::EvalTimestampOfSelector(const Call& c, const VectorSelector& vs) {
  const std::optional<int64_t> at = ctx_->AtTime(vs.at, vs.at_ms);
  const int64_t lookback = ctx_->options().lookback_ms;
  const int64_t first = (at ? *at : steps_.start) - vs.offset_ms;
  const int64_t last = (at ? *at : steps_.end) - vs.offset_ms;
  ASSIGN_OR_RETURN(auto series, ctx_->Select(vs.matchers, first - lookback, last));
  std::vector<size_t> cursors(series.size(), 0);
  auto out = RangeEval({}, nullptr, [&](const StepArgs& in, StepOutput* result) -> Status {
    // Prometheus 2.42 evaluates the selector at the @ time itself here, without its offset.
    const int64_t ref = at ? *at : in.t - vs.offset_ms;
    Vector v;
    for (size_t i = 0; i < series.size(); ++i) {
      const tsdb::Sample* smp = LatestSample(series[i].samples, &cursors[i], ref, lookback);
      if (smp != nullptr) v.push_back(Sample{series[i].labels, smp->t, smp->v});
    }
    FunctionContext fc;
    fc.call = &c;
    fc.t = in.t;
    ASSIGN_OR_RETURN(Vector r, CallFunction(fc, {Value(std::move(v))}));
    result->AddVector(std::move(r));
    return Status::OK();
  });
  ctx_->ReleaseRaw(SampleCount(series));
  return out;
}

// What to reserve for a range function's result over a series of n samples: each sample lies
// in the windows of at most range / interval + 1 steps (of every step with an `@`). Only points
// added are charged to the sample limit, so the reservation stays small where that is loose.
size_t Evaluator::PointsBound(size_t n, int64_t range, bool pinned) const {
  constexpr int64_t kMaxReserve = 4096;
  int64_t bound = std::min(steps_.Count(), kMaxReserve);
  if (pinned) return static_cast<size_t>(std::min<int64_t>(bound, 16));
  const int64_t per_sample = range / steps_.interval + 1;
  if (per_sample <= bound / static_cast<int64_t>(std::max<size_t>(n, 1))) {
    bound = static_cast<int64_t>(n) * per_sample;
  }
  return static_cast<size_t>(bound);
}

StatusOr<Matrix> Evaluator::EvalRangeCall(const Call& c, size_t matrix_arg) {
  // The other arguments (scalars such as quantile_over_time's φ, strings) first, as Prometheus.
  std::vector<Value> args(c.args.size());
  std::vector<Matrix> others(c.args.size());
  int64_t held = 0;  // charged: the other arguments and a subquery's result
  int64_t raw = 0;   // read from the store
  for (size_t i = 0; i < c.args.size(); ++i) {
    if (i == matrix_arg) continue;
    if (c.args[i]->Type() == ValueType::kString) {
      ASSIGN_OR_RETURN(args[i], Eval(*c.args[i]));
      continue;
    }
    ASSIGN_OR_RETURN(others[i], EvalMatrix(*c.args[i]));
    for (const auto& s : others[i]) held += static_cast<int64_t>(s.points.size());
  }

  const Expr* arg = UnwrapParens(c.args[matrix_arg].get());
  std::vector<tsdb::Series> series;
  int64_t range = 0, offset = 0;
  std::optional<int64_t> at;
  if (arg->kind == NodeKind::kMatrixSelector) {
    const auto& ms = static_cast<const MatrixSelector&>(*arg);
    at = ctx_->AtTime(ms.vector->at, ms.vector->at_ms);
    range = ms.range_ms;
    offset = ms.vector->offset_ms;
    ASSIGN_OR_RETURN(series,
                     ctx_->Select(ms.vector->matchers, (at ? *at : steps_.start) - offset - range,
                                  (at ? *at : steps_.end) - offset));
    raw = SampleCount(series);
  } else {
    const auto& sq = static_cast<const SubqueryExpr&>(*arg);
    at = ctx_->AtTime(sq.at, sq.at_ms);
    range = sq.range_ms;
    offset = sq.offset_ms;
    ASSIGN_OR_RETURN(Matrix m, EvalSubquery(sq));
    for (auto& s : m) {
      series.push_back(tsdb::Series{std::move(s.metric), std::move(s.points)});
    }
    held += SampleCount(series);
  }

  if (c.func->name == "absent_over_time") {
    ctx_->Release(held);
    ctx_->ReleaseRaw(raw);
    return AbsentOverTime(arg, series, range, offset, at);
  }
  const RangeFunction fast = FindRangeFunction(c.func->name);
  bool fast_args = fast != nullptr;
  for (size_t i = 0; i < c.args.size(); ++i) {
    if (i != matrix_arg && others[i].empty()) fast_args = false;  // the general path's checks
  }
  const bool keep_name = c.func->name == "last_over_time";
  // The store's series are distinct label sets; with one metric name among them they stay
  // distinct without it, and the duplicate check below has nothing to find.
  bool distinct = arg->kind == NodeKind::kMatrixSelector;
  const std::string first_name(series.empty() ? "" : series[0].labels.MetricName());
  Matrix out;
  out.reserve(series.size());
  for (auto& s : series) {
    RETURN_IF_ERROR(ctx_->CheckDeadline());
    if (!keep_name && distinct && s.labels.MetricName() != first_name) distinct = false;
    Series ss{keep_name ? std::move(s.labels) : std::move(s.labels).Without(tsdb::kMetricName),
              {}};
    ss.points.reserve(PointsBound(s.samples.size(), range, at.has_value()));
    RangeWindows windows{&s.samples, range, offset, at};
    if (fast_args) {
      RETURN_IF_ERROR(RangeSeriesFast(fast, c, matrix_arg, others, windows, &ss.points));
    } else {
      RETURN_IF_ERROR(RangeSeries(c, matrix_arg, others, windows, &args, &ss.points));
    }
    // Done with the raw samples: free them now rather than hold every series' twice.
    std::vector<tsdb::Sample>().swap(s.samples);
    if (!ss.points.empty()) out.push_back(std::move(ss));
  }
  ctx_->Release(held);
  ctx_->ReleaseRaw(raw);
  if (!distinct && ContainsSameLabelset(out)) return DuplicateLabelset();
  return out;
}

// A range function over one series at every step, through RangeFunction: the window's points
// as a span, the other (scalar) arguments as doubles, no Values built.
Status Evaluator::RangeSeriesFast(RangeFunction fn, const Call& c, size_t matrix_arg,
                                  const std::vector<Matrix>& others, const RangeWindows& w,
                                  std::vector<Point>* result) {
  std::vector<double> scalars;
  scalars.reserve(c.args.size() - 1);  // none for rate and most others: no allocation
  std::vector<Point> scratch;
  Window window(w.samples);
  FunctionContext fc;
  fc.call = &c;
  int64_t step = 0;
  for (int64_t ts = steps_.start; ts <= steps_.end; ts += steps_.interval, ++step) {
    RETURN_IF_ERROR(ctx_->CheckDeadline());
    scalars.clear();
    for (size_t i = 0; i < c.args.size(); ++i) {
      if (i == matrix_arg) continue;
      const auto& pts = others[i][0].points;
      scalars.push_back(step < static_cast<int64_t>(pts.size()) ? pts[step].v : 0.0);
    }
    const int64_t maxt = (w.at ? *w.at : ts) - w.offset;
    const int64_t mint = maxt - w.range;
    std::span<const Point> points = window.Points(mint, maxt, &scratch);
    if (points.empty()) continue;
    const auto n = static_cast<int64_t>(points.size());
    RETURN_IF_ERROR(ctx_->Charge(n));
    fc.t = ts;
    fc.range_start = mint;
    fc.range_end = maxt;
    ASSIGN_OR_RETURN(std::optional<double> v, fn(fc, points, scalars));
    ctx_->Release(n);
    if (!v.has_value()) continue;
    RETURN_IF_ERROR(ctx_->Charge(1));
    result->push_back({ts, *v});
  }
  return Status::OK();
}

// A range function over one series at every step, through CallFunction (*args holds the
// evaluated string arguments; the others are filled in per step).
Status Evaluator::RangeSeries(const Call& c, size_t matrix_arg, const std::vector<Matrix>& others,
                              const RangeWindows& w, std::vector<Value>* args,
                              std::vector<Point>* result) {
  (*args)[matrix_arg] = Matrix{Series{}};
  // Range functions compute from the points only; the engine labels their result.
  Series& in = std::get<Matrix>((*args)[matrix_arg])[0];
  Window window(w.samples);
  int64_t step = 0;
  for (int64_t ts = steps_.start; ts <= steps_.end; ts += steps_.interval, ++step) {
    RETURN_IF_ERROR(ctx_->CheckDeadline());
    for (size_t i = 0; i < c.args.size(); ++i) {
      if (i == matrix_arg || others[i].empty()) continue;
      const auto& pts = others[i][0].points;
      (*args)[i] = Scalar{ts, step < static_cast<int64_t>(pts.size()) ? pts[step].v : 0.0};
    }
    const int64_t maxt = (w.at ? *w.at : ts) - w.offset;
    const int64_t mint = maxt - w.range;
    window.Fill(mint, maxt, &in.points);
    if (in.points.empty()) continue;
    const auto n = static_cast<int64_t>(in.points.size());
    RETURN_IF_ERROR(ctx_->Charge(n));
    FunctionContext fc;
    fc.call = &c;
    fc.t = ts;
    fc.range_start = mint;
    fc.range_end = maxt;
    ASSIGN_OR_RETURN(Vector r, CallFunction(fc, *args));
    ctx_->Release(n);
    if (r.empty()) continue;
    RETURN_IF_ERROR(ctx_->Charge(1));
    result->push_back({ts, r[0].v});
  }
  return Status::OK();
}

// absent_over_time: one series, 1 at the steps where no series has a sample in its window
// (Prometheus' engine computes it from the range function's per-series results the same way).
StatusOr<Matrix> Evaluator::AbsentOverTime(const Expr* arg, const std::vector<tsdb::Series>& series,
                                           int64_t range, int64_t offset,
                                           std::optional<int64_t> at) {
  // The result may have a point per step: charge them before allocating.
  RETURN_IF_ERROR(ctx_->Charge(steps_.Count()));
  ctx_->Release(steps_.Count());
  std::vector<bool> found(steps_.Count(), false);
  std::vector<Point> points;
  for (const auto& s : series) {
    RETURN_IF_ERROR(ctx_->CheckDeadline());
    Window window(&s.samples);
    int64_t step = 0;
    for (int64_t ts = steps_.start; ts <= steps_.end; ts += steps_.interval, ++step) {
      RETURN_IF_ERROR(ctx_->CheckDeadline());
      const int64_t maxt = (at ? *at : ts) - offset;
      window.Fill(maxt - range, maxt, &points);
      if (!points.empty()) found[step] = true;
    }
  }
  Series absent{AbsentLabels(arg), {}};
  for (int64_t k = 0; k < steps_.Count(); ++k) {
    if (!found[k]) absent.points.push_back({steps_.start + k * steps_.interval, 1});
  }
  RETURN_IF_ERROR(ctx_->Charge(static_cast<int64_t>(absent.points.size())));
  Matrix res;
  if (!absent.points.empty()) res.push_back(std::move(absent));
  return res;
}

}  // namespace steward::promql::eval
