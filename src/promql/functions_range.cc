// The range-vector functions: rate/increase/delta with Prometheus' extrapolation, irate/idelta,
// changes, resets, deriv/predict_linear (least squares), holt_winters, every <agg>_over_time
// and absent_over_time — Prometheus 2.42's arithmetic, step for step, so results agree to the
// last bit where the operations allow.
#include <cmath>
#include <string>

#include "promql/functions_internal.h"

namespace steward::promql::internal {
namespace {

// One series' points in the window; nullptr when the argument holds no series or no points.
const Series* OneSeries(const std::vector<Value>& args, size_t i) {
  const Matrix& m = MatrixArg(args, i);
  if (m.empty() || m[0].points.empty()) return nullptr;
  return &m[0];
}

Vector One(const FunctionContext& ctx, const Series& s, double v) {
  return Vector{{s.metric, ctx.t, v}};
}

// time.Duration.Seconds() of a millisecond duration, computed as Go does (whole seconds plus
// the fraction), so rate's divisor is the same double.
double DurationSeconds(int64_t ms) {
  int64_t ns = ms * 1000000;
  return static_cast<double>(ns / 1000000000) + static_cast<double>(ns % 1000000000) / 1e9;
}

// extrapolatedRate: the increase between the first and last point (plus counter resets),
// extrapolated towards the window's ends when the points come close enough to them (within
// 1.1 average intervals), else by half an interval; never to below zero for counters.
StatusOr<Vector> ExtrapolatedRate(const FunctionContext& ctx, const std::vector<Value>& args,
                                  bool is_counter, bool is_rate) {
  const Series* s = OneSeries(args, 0);
  if (s == nullptr || s->points.size() < 2) return Vector{};
  const std::vector<Point>& p = s->points;
  const Point& first = p.front();
  const Point& last = p.back();
  double result = last.v - first.v;
  if (is_counter) {
    double prev = first.v;
    for (size_t i = 1; i < p.size(); ++i) {
      if (p[i].v < prev) result += prev;
      prev = p[i].v;
    }
  }
  double to_start = static_cast<double>(first.t - ctx.range_start) / 1000;
  double to_end = static_cast<double>(ctx.range_end - last.t) / 1000;
  double sampled = static_cast<double>(last.t - first.t) / 1000;
  double average = sampled / static_cast<double>(p.size() - 1);
  if (is_counter && result > 0 && first.v >= 0) {
    double to_zero = sampled * (first.v / result);
    if (to_zero < to_start) to_start = to_zero;
  }
  double threshold = average * 1.1;
  double interval = sampled;
  interval += to_start < threshold ? to_start : average / 2;
  interval += to_end < threshold ? to_end : average / 2;
  // The factor first, then one multiplication: the same rounding as Prometheus 2.42.
  double factor = interval / sampled;
  if (is_rate) factor /= DurationSeconds(ctx.range_end - ctx.range_start);
  return One(ctx, *s, result * factor);
}

StatusOr<Vector> Rate(const FunctionContext& ctx, const std::vector<Value>& args) {
  return ExtrapolatedRate(ctx, args, true, true);
}
StatusOr<Vector> Increase(const FunctionContext& ctx, const std::vector<Value>& args) {
  return ExtrapolatedRate(ctx, args, true, false);
}
StatusOr<Vector> Delta(const FunctionContext& ctx, const std::vector<Value>& args) {
  return ExtrapolatedRate(ctx, args, false, false);
}

// instantValue: the last two points only.
StatusOr<Vector> InstantValue(const FunctionContext& ctx, const std::vector<Value>& args,
                              bool is_rate) {
  const Series* s = OneSeries(args, 0);
  if (s == nullptr || s->points.size() < 2) return Vector{};
  const Point& last = s->points.back();
  const Point& prev = s->points[s->points.size() - 2];
  double result = is_rate && last.v < prev.v ? last.v : last.v - prev.v;  // counter reset
  int64_t interval = last.t - prev.t;
  if (interval == 0) return Vector{};
  if (is_rate) result /= static_cast<double>(interval) / 1000;
  return One(ctx, *s, result);
}

StatusOr<Vector> Irate(const FunctionContext& ctx, const std::vector<Value>& args) {
  return InstantValue(ctx, args, true);
}
StatusOr<Vector> Idelta(const FunctionContext& ctx, const std::vector<Value>& args) {
  return InstantValue(ctx, args, false);
}

StatusOr<Vector> Changes(const FunctionContext& ctx, const std::vector<Value>& args) {
  const Series* s = OneSeries(args, 0);
  if (s == nullptr) return Vector{};
  int changes = 0;
  double prev = s->points[0].v;
  for (size_t i = 1; i < s->points.size(); ++i) {
    double cur = s->points[i].v;
    if (cur != prev && !(std::isnan(cur) && std::isnan(prev))) ++changes;
    prev = cur;
  }
  return One(ctx, *s, changes);
}

StatusOr<Vector> Resets(const FunctionContext& ctx, const std::vector<Value>& args) {
  const Series* s = OneSeries(args, 0);
  if (s == nullptr) return Vector{};
  int resets = 0;
  double prev = s->points[0].v;
  for (size_t i = 1; i < s->points.size(); ++i) {
    if (s->points[i].v < prev) ++resets;
    prev = s->points[i].v;
  }
  return One(ctx, *s, resets);
}

struct Regression {
  double slope = 0;
  double intercept = 0;
};

// linearRegression: least squares over (seconds since intercept_time, value), Kahan-summed;
// a constant series has slope 0 (NaN when the constant is ±Inf).
Regression LinearRegression(const std::vector<Point>& points, int64_t intercept_time) {
  double n = 0, sum_x = 0, c_x = 0, sum_y = 0, c_y = 0, sum_xy = 0, c_xy = 0, sum_x2 = 0, c_x2 = 0;
  double init_y = points[0].v;
  bool const_y = true;
  for (size_t i = 0; i < points.size(); ++i) {
    const Point& p = points[i];
    if (const_y && i > 0 && p.v != init_y) const_y = false;
    n += 1.0;
    double x = static_cast<double>(p.t - intercept_time) / 1e3;
    KahanSumInc(x, sum_x, c_x);
    KahanSumInc(p.v, sum_y, c_y);
    KahanSumInc(x * p.v, sum_xy, c_xy);
    KahanSumInc(x * x, sum_x2, c_x2);
  }
  if (const_y) {
    if (std::isinf(init_y)) return {std::nan(""), std::nan("")};
    return {0, init_y};
  }
  sum_x += c_x;
  sum_y += c_y;
  sum_xy += c_xy;
  sum_x2 += c_x2;
  double cov_xy = sum_xy - sum_x * sum_y / n;
  double var_x = sum_x2 - sum_x * sum_x / n;
  double slope = cov_xy / var_x;
  return {slope, sum_y / n - slope * sum_x / n};
}

StatusOr<Vector> Deriv(const FunctionContext& ctx, const std::vector<Value>& args) {
  const Series* s = OneSeries(args, 0);
  if (s == nullptr || s->points.size() < 2) return Vector{};
  // Intercept at the first point's time keeps x small (Prometheus issue 2674).
  return One(ctx, *s, LinearRegression(s->points, s->points[0].t).slope);
}

StatusOr<Vector> PredictLinear(const FunctionContext& ctx, const std::vector<Value>& args) {
  const Series* s = OneSeries(args, 0);
  double duration = ScalarArg(args, 1);
  if (s == nullptr || s->points.size() < 2) return Vector{};
  Regression r = LinearRegression(s->points, ctx.t);
  return One(ctx, *s, r.slope * duration + r.intercept);
}

// Double exponential smoothing; factors are checked before the points, as in Prometheus.
StatusOr<Vector> HoltWinters(const FunctionContext& ctx, const std::vector<Value>& args) {
  double sf = ScalarArg(args, 1), tf = ScalarArg(args, 2);
  if (sf <= 0 || sf >= 1) {
    return ExecutionError("invalid smoothing factor. Expected: 0 < sf < 1, got: " + GoFormatF(sf));
  }
  if (tf <= 0 || tf >= 1) {
    return ExecutionError("invalid trend factor. Expected: 0 < tf < 1, got: " + GoFormatF(tf));
  }
  const Series* s = OneSeries(args, 0);
  if (s == nullptr || s->points.size() < 2) return Vector{};
  const std::vector<Point>& p = s->points;
  double s0 = 0, s1 = p[0].v, b = p[1].v - p[0].v;
  for (size_t i = 1; i < p.size(); ++i) {
    double x = sf * p[i].v;
    // calcTrendValue(i-1, ...): the initial trend for the first step.
    if (i > 1) b = tf * (s1 - s0) + (1 - tf) * b;
    double y = (1 - sf) * (s1 + b);
    s0 = s1;
    s1 = x + y;
  }
  return One(ctx, *s, s1);
}

// avg_over_time: an incremental, Kahan-compensated mean that survives ±Inf.
StatusOr<Vector> AvgOverTime(const FunctionContext& ctx, const std::vector<Value>& args) {
  const Series* s = OneSeries(args, 0);
  if (s == nullptr) return Vector{};
  double mean = 0, count = 0, c = 0;
  for (const Point& p : s->points) {
    count++;
    if (std::isinf(mean)) {
      // Inf - Inf would turn the mean into NaN; same-signed Inf and finite values keep it.
      if (std::isinf(p.v) && (mean > 0) == (p.v > 0)) continue;
      if (!std::isinf(p.v) && !std::isnan(p.v)) continue;
    }
    KahanSumInc(p.v / count - mean / count, mean, c);
  }
  return One(ctx, *s, std::isinf(mean) ? mean : mean + c);
}

StatusOr<Vector> CountOverTime(const FunctionContext& ctx, const std::vector<Value>& args) {
  const Series* s = OneSeries(args, 0);
  if (s == nullptr) return Vector{};
  return One(ctx, *s, static_cast<double>(s->points.size()));
}

StatusOr<Vector> LastOverTime(const FunctionContext& ctx, const std::vector<Value>& args) {
  const Series* s = OneSeries(args, 0);
  if (s == nullptr) return Vector{};
  return One(ctx, *s, s->points.back().v);
}

StatusOr<Vector> PresentOverTime(const FunctionContext& ctx, const std::vector<Value>& args) {
  const Series* s = OneSeries(args, 0);
  if (s == nullptr) return Vector{};
  return One(ctx, *s, 1);
}

// NaN is replaced by any later value; a later NaN never replaces a number.
StatusOr<Vector> MaxOverTime(const FunctionContext& ctx, const std::vector<Value>& args) {
  const Series* s = OneSeries(args, 0);
  if (s == nullptr) return Vector{};
  double max = s->points[0].v;
  for (const Point& p : s->points) {
    if (p.v > max || std::isnan(max)) max = p.v;
  }
  return One(ctx, *s, max);
}

StatusOr<Vector> MinOverTime(const FunctionContext& ctx, const std::vector<Value>& args) {
  const Series* s = OneSeries(args, 0);
  if (s == nullptr) return Vector{};
  double min = s->points[0].v;
  for (const Point& p : s->points) {
    if (p.v < min || std::isnan(min)) min = p.v;
  }
  return One(ctx, *s, min);
}

StatusOr<Vector> SumOverTime(const FunctionContext& ctx, const std::vector<Value>& args) {
  const Series* s = OneSeries(args, 0);
  if (s == nullptr) return Vector{};
  double sum = 0, c = 0;
  for (const Point& p : s->points) KahanSumInc(p.v, sum, c);
  return One(ctx, *s, std::isinf(sum) ? sum : sum + c);
}

StatusOr<Vector> QuantileOverTime(const FunctionContext& ctx, const std::vector<Value>& args) {
  double q = ScalarArg(args, 0);
  const Series* s = OneSeries(args, 1);
  if (s == nullptr) return Vector{};
  std::vector<double> values;
  values.reserve(s->points.size());
  for (const Point& p : s->points) values.push_back(p.v);
  return One(ctx, *s, Quantile(q, values));
}

// Welford's algorithm with Kahan-compensated mean and sum of squares.
double StdVar(const std::vector<Point>& points) {
  double count = 0, mean = 0, c_mean = 0, aux = 0, c_aux = 0;
  for (const Point& p : points) {
    count++;
    double delta = p.v - (mean + c_mean);
    KahanSumInc(delta / count, mean, c_mean);
    KahanSumInc(delta * (p.v - (mean + c_mean)), aux, c_aux);
  }
  return (aux + c_aux) / count;
}

StatusOr<Vector> StddevOverTime(const FunctionContext& ctx, const std::vector<Value>& args) {
  const Series* s = OneSeries(args, 0);
  if (s == nullptr) return Vector{};
  return One(ctx, *s, std::sqrt(StdVar(s->points)));
}

StatusOr<Vector> StdvarOverTime(const FunctionContext& ctx, const std::vector<Value>& args) {
  const Series* s = OneSeries(args, 0);
  if (s == nullptr) return Vector{};
  return One(ctx, *s, StdVar(s->points));
}

StatusOr<Vector> AbsentOverTime(const FunctionContext& ctx, const std::vector<Value>& args) {
  for (const Series& s : MatrixArg(args, 0)) {
    if (!s.points.empty()) return Vector{};
  }
  const Expr* arg = ctx.call->args.empty() ? nullptr : ctx.call->args[0].get();
  return Vector{{AbsentLabels(arg), ctx.t, 1}};
}

}  // namespace

void AddRangeFunctions(FunctionRegistry& r) {
  r["rate"] = Entry(Rate, "m");
  r["increase"] = Entry(Increase, "m");
  r["delta"] = Entry(Delta, "m");
  r["irate"] = Entry(Irate, "m");
  r["idelta"] = Entry(Idelta, "m");
  r["changes"] = Entry(Changes, "m");
  r["resets"] = Entry(Resets, "m");
  r["deriv"] = Entry(Deriv, "m");
  r["predict_linear"] = Entry(PredictLinear, "ms");
  r["holt_winters"] = Entry(HoltWinters, "mss");
  r["avg_over_time"] = Entry(AvgOverTime, "m");
  r["count_over_time"] = Entry(CountOverTime, "m");
  r["last_over_time"] = Entry(LastOverTime, "m");
  r["present_over_time"] = Entry(PresentOverTime, "m");
  r["max_over_time"] = Entry(MaxOverTime, "m");
  r["min_over_time"] = Entry(MinOverTime, "m");
  r["sum_over_time"] = Entry(SumOverTime, "m");
  r["quantile_over_time"] = Entry(QuantileOverTime, "sm");
  r["stddev_over_time"] = Entry(StddevOverTime, "m");
  r["stdvar_over_time"] = Entry(StdvarOverTime, "m");
  r["absent_over_time"] = Entry(AbsentOverTime, "m");
}

}  // namespace steward::promql::internal
