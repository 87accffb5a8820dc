// The range-vector functions: rate/increase/delta with Prometheus' extrapolation, irate/idelta,
// changes, resets, deriv/predict_linear (least squares), holt_winters, every <agg>_over_time
// and absent_over_time — Prometheus 2.42's arithmetic, step for step, so results agree to the
// last bit where the operations allow. Each is written once, over a span of points (the
// engine's fast path, functions.h RangeFunction); CallFunction reaches it through ViaValues.
#include <cmath>
#include <optional>
#include <span>
#include <string>

#include "promql/functions_internal.h"

namespace steward::promql::internal {
namespace {

using Points = std::span<const Point>;
using Scalars = std::span<const double>;
using Result = std::optional<double>;  // nullopt: no sample
constexpr std::nullopt_t kNone = std::nullopt;

// CallFunction's form of a RangeFunction: the window's series is the Matrix argument (its
// labels go on the result), the Scalar arguments are passed in order.
template <RangeFunction F>
StatusOr<Vector> ViaValues(const FunctionContext& ctx, const std::vector<Value>& args) {
  const Series* series = nullptr;
  double scalars[2] = {0, 0};
  size_t n = 0;
  for (const Value& a : args) {
    if (const Matrix* m = std::get_if<Matrix>(&a)) {
      if (!m->empty()) series = &(*m)[0];
    } else if (const Scalar* s = std::get_if<Scalar>(&a); s != nullptr && n < 2) {
      scalars[n++] = s->v;
    }
  }
  Points points;
  if (series != nullptr) points = series->points;
  ASSIGN_OR_RETURN(std::optional<double> v, F(ctx, points, Scalars(scalars, n)));
  if (!v.has_value() || series == nullptr) return Vector{};
  return Vector{{series->metric, ctx.t, *v}};
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
Result ExtrapolatedRate(const FunctionContext& ctx, Points p, bool is_counter,
                                       bool is_rate) {
  if (p.size() < 2) return kNone;
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
  return result * factor;
}

Result Rate(const FunctionContext& ctx, Points p, Scalars) {
  return ExtrapolatedRate(ctx, p, true, true);
}
Result Increase(const FunctionContext& ctx, Points p, Scalars) {
  return ExtrapolatedRate(ctx, p, true, false);
}
Result Delta(const FunctionContext& ctx, Points p, Scalars) {
  return ExtrapolatedRate(ctx, p, false, false);
}

// instantValue: the last two points only.
Result InstantValue(Points p, bool is_rate) {
  if (p.size() < 2) return kNone;
  const Point& last = p.back();
  const Point& prev = p[p.size() - 2];
  double result = is_rate && last.v < prev.v ? last.v : last.v - prev.v;  // counter reset
  int64_t interval = last.t - prev.t;
  if (interval == 0) return kNone;
  if (is_rate) result /= static_cast<double>(interval) / 1000;
  return result;
}

Result Irate(const FunctionContext&, Points p, Scalars) { return InstantValue(p, true); }
Result Idelta(const FunctionContext&, Points p, Scalars) { return InstantValue(p, false); }

Result Changes(const FunctionContext&, Points p, Scalars) {
  if (p.empty()) return kNone;
  int changes = 0;
  double prev = p[0].v;
  for (size_t i = 1; i < p.size(); ++i) {
    double cur = p[i].v;
    if (cur != prev && !(std::isnan(cur) && std::isnan(prev))) ++changes;
    prev = cur;
  }
  return static_cast<double>(changes);
}

Result Resets(const FunctionContext&, Points p, Scalars) {
  if (p.empty()) return kNone;
  int resets = 0;
  double prev = p[0].v;
  for (size_t i = 1; i < p.size(); ++i) {
    if (p[i].v < prev) ++resets;
    prev = p[i].v;
  }
  return static_cast<double>(resets);
}

struct Regression {
  double slope = 0;
  double intercept = 0;
};

// linearRegression: least squares over (seconds since intercept_time, value), Kahan-summed;
// a constant series has slope 0 (NaN when the constant is ±Inf).
Regression LinearRegression(Points points, int64_t intercept_time) {
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

Result Deriv(const FunctionContext&, Points p, Scalars) {
  if (p.size() < 2) return kNone;
  // Intercept at the first point's time keeps x small (Prometheus issue 2674).
  return LinearRegression(p, p[0].t).slope;
}

Result PredictLinear(const FunctionContext& ctx, Points p, Scalars scalars) {
  const double duration = scalars[0];
  if (p.size() < 2) return kNone;
  Regression r = LinearRegression(p, ctx.t);
  return r.slope * duration + r.intercept;
}

// Double exponential smoothing; factors are checked before the points, as in Prometheus.
StatusOr<Result> HoltWinters(const FunctionContext&, Points p, Scalars scalars) {
  const double sf = scalars[0], tf = scalars[1];
  if (sf <= 0 || sf >= 1) {
    return ExecutionError("invalid smoothing factor. Expected: 0 < sf < 1, got: " + GoFormatF(sf));
  }
  if (tf <= 0 || tf >= 1) {
    return ExecutionError("invalid trend factor. Expected: 0 < tf < 1, got: " + GoFormatF(tf));
  }
  if (p.size() < 2) return Result();
  double s0 = 0, s1 = p[0].v, b = p[1].v - p[0].v;
  for (size_t i = 1; i < p.size(); ++i) {
    double x = sf * p[i].v;
    // calcTrendValue(i-1, ...): the initial trend for the first step.
    if (i > 1) b = tf * (s1 - s0) + (1 - tf) * b;
    double y = (1 - sf) * (s1 + b);
    s0 = s1;
    s1 = x + y;
  }
  return Result(s1);
}

// avg_over_time: an incremental, Kahan-compensated mean that survives ±Inf.
Result AvgOverTime(const FunctionContext&, Points p, Scalars) {
  if (p.empty()) return kNone;
  double mean = 0, count = 0, c = 0;
  for (const Point& pt : p) {
    count++;
    if (std::isinf(mean)) {
      // Inf - Inf would turn the mean into NaN; same-signed Inf and finite values keep it.
      if (std::isinf(pt.v) && (mean > 0) == (pt.v > 0)) continue;
      if (!std::isinf(pt.v) && !std::isnan(pt.v)) continue;
    }
    KahanSumInc(pt.v / count - mean / count, mean, c);
  }
  return std::isinf(mean) ? mean : mean + c;
}

Result CountOverTime(const FunctionContext&, Points p, Scalars) {
  if (p.empty()) return kNone;
  return static_cast<double>(p.size());
}

Result LastOverTime(const FunctionContext&, Points p, Scalars) {
  if (p.empty()) return kNone;
  return p.back().v;
}

Result PresentOverTime(const FunctionContext&, Points p, Scalars) {
  if (p.empty()) return kNone;
  return 1;
}

// NaN is replaced by any later value; a later NaN never replaces a number.
Result MaxOverTime(const FunctionContext&, Points p, Scalars) {
  if (p.empty()) return kNone;
  double max = p[0].v;
  for (const Point& pt : p) {
    if (pt.v > max || std::isnan(max)) max = pt.v;
  }
  return max;
}

Result MinOverTime(const FunctionContext&, Points p, Scalars) {
  if (p.empty()) return kNone;
  double min = p[0].v;
  for (const Point& pt : p) {
    if (pt.v < min || std::isnan(min)) min = pt.v;
  }
  return min;
}

Result SumOverTime(const FunctionContext&, Points p, Scalars) {
  if (p.empty()) return kNone;
  double sum = 0, c = 0;
  for (const Point& pt : p) KahanSumInc(pt.v, sum, c);
  return std::isinf(sum) ? sum : sum + c;
}

Result QuantileOverTime(const FunctionContext&, Points p, Scalars scalars) {
  const double q = scalars[0];
  if (p.empty()) return kNone;
  std::vector<double> values;
  values.reserve(p.size());
  for (const Point& pt : p) values.push_back(pt.v);
  return Quantile(q, values);
}

// Welford's algorithm with Kahan-compensated mean and sum of squares.
double StdVar(Points points) {
  double count = 0, mean = 0, c_mean = 0, aux = 0, c_aux = 0;
  for (const Point& p : points) {
    count++;
    double delta = p.v - (mean + c_mean);
    KahanSumInc(delta / count, mean, c_mean);
    KahanSumInc(delta * (p.v - (mean + c_mean)), aux, c_aux);
  }
  return (aux + c_aux) / count;
}

Result StddevOverTime(const FunctionContext&, Points p, Scalars) {
  if (p.empty()) return kNone;
  return std::sqrt(StdVar(p));
}

Result StdvarOverTime(const FunctionContext&, Points p, Scalars) {
  if (p.empty()) return kNone;
  return StdVar(p);
}

StatusOr<Vector> AbsentOverTime(const FunctionContext& ctx, const std::vector<Value>& args) {
  for (const Series& s : MatrixArg(args, 0)) {
    if (!s.points.empty()) return Vector{};
  }
  const Expr* arg = ctx.call->args.empty() ? nullptr : ctx.call->args[0].get();
  return Vector{{AbsentLabels(arg), ctx.t, 1}};
}

// A range function that cannot fail, in RangeFunction's form.
template <Result (*F)(const FunctionContext&, Points, Scalars)>
StatusOr<Result> NoError(const FunctionContext& ctx, Points p, Scalars scalars) {
  return F(ctx, p, scalars);
}

// A range function's registry entry: CallFunction's form and the fast path.
template <RangeFunction F>
FunctionEntry Range(std::string_view required) {
  FunctionEntry e = Entry(ViaValues<F>, required);
  e.range = F;
  return e;
}

}  // namespace

void AddRangeFunctions(FunctionRegistry& r) {
  r["rate"] = Range<NoError<Rate>>("m");
  r["increase"] = Range<NoError<Increase>>("m");
  r["delta"] = Range<NoError<Delta>>("m");
  r["irate"] = Range<NoError<Irate>>("m");
  r["idelta"] = Range<NoError<Idelta>>("m");
  r["changes"] = Range<NoError<Changes>>("m");
  r["resets"] = Range<NoError<Resets>>("m");
  r["deriv"] = Range<NoError<Deriv>>("m");
  r["predict_linear"] = Range<NoError<PredictLinear>>("ms");
  r["holt_winters"] = Range<HoltWinters>("mss");
  r["avg_over_time"] = Range<NoError<AvgOverTime>>("m");
  r["count_over_time"] = Range<NoError<CountOverTime>>("m");
  r["last_over_time"] = Range<NoError<LastOverTime>>("m");
  r["present_over_time"] = Range<NoError<PresentOverTime>>("m");
  r["max_over_time"] = Range<NoError<MaxOverTime>>("m");
  r["min_over_time"] = Range<NoError<MinOverTime>>("m");
  r["sum_over_time"] = Range<NoError<SumOverTime>>("m");
  r["quantile_over_time"] = Range<NoError<QuantileOverTime>>("sm");
  r["stddev_over_time"] = Range<NoError<StddevOverTime>>("m");
  r["stdvar_over_time"] = Range<NoError<StdvarOverTime>>("m");
  r["absent_over_time"] = Entry(AbsentOverTime, "m");
}

}  // namespace steward::promql::internal
