// PromQL functions called directly through CallFunction, with hand-built Calls. Expected
// values are worked out by hand from Prometheus 2.42's definitions (functions.go, quantile.go).
#include "promql/functions.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <bit>
#include <cmath>
#include <limits>
#include <memory>
#include <numbers>
#include <string>
#include <tuple>

#include "promql/functions_internal.h"
#include "promql/go_math.h"

namespace steward::promql {
namespace {

constexpr double kInf = std::numeric_limits<double>::infinity();
const double kNaN = std::nan("");

tsdb::Labels L(std::vector<tsdb::Label> l) {
  return tsdb::Labels::FromUnsorted(std::move(l)).value();
}

// Owns the FunctionInfo and Call a CallFunction needs.
class Fn {
 public:
  explicit Fn(std::string_view name) {
    info_.name = name;
    call_.func = &info_;
  }
  // The call's first argument expression (absent() reads its matchers).
  Fn& WithArg(ExprPtr e) {
    call_.args.push_back(std::move(e));
    return *this;
  }
  StatusOr<Vector> Run(std::vector<Value> args, int64_t t = 0, int64_t range_start = 0,
                       int64_t range_end = 0) const {
    FunctionContext ctx;
    ctx.call = &call_;
    ctx.t = t;
    ctx.range_start = range_start;
    ctx.range_end = range_end;
    return CallFunction(ctx, args);
  }

 private:
  FunctionInfo info_;
  Call call_;
};

Matrix Window(std::vector<Point> points, tsdb::Labels metric = L({{"__name__", "m"}})) {
  return Matrix{Series{std::move(metric), std::move(points)}};
}

// The single value of a range function over points in the window (range_start, range_end].
double RangeValue(std::string_view fn, std::vector<Point> points, int64_t range_start,
                  int64_t range_end) {
  auto out = Fn(fn).Run({Window(std::move(points))}, range_end, range_start, range_end);
  EXPECT_TRUE(out.ok()) << out.status().ToString();
  if (!out.ok() || out->size() != 1) {
    ADD_FAILURE() << fn << " returned " << (out.ok() ? out->size() : 0) << " samples";
    return -12345;
  }
  return (*out)[0].v;
}

bool RangeIsEmpty(std::string_view fn, std::vector<Point> points) {
  auto out = Fn(fn).Run({Window(std::move(points))}, 60000, 0, 60000);
  return out.ok() && out->empty();
}

Vector Instant(std::string_view fn, std::vector<Value> args, int64_t t = 0) {
  auto out = Fn(fn).Run(std::move(args), t);
  EXPECT_TRUE(out.ok()) << out.status().ToString();
  return out.ok() ? *out : Vector{};
}

Vector Vec(std::vector<double> values) {
  Vector v;
  for (size_t i = 0; i < values.size(); ++i) {
    v.push_back({L({{"__name__", "x"}, {"i", std::to_string(i)}}), 1000, values[i]});
  }
  return v;
}

double Only(const Vector& v) {
  EXPECT_EQ(v.size(), 1u);
  return v.empty() ? -12345 : v[0].v;
}

// ---- rate, increase, delta ----

TEST(RateFunctions, CounterResetAddsTheValueBeforeTheReset) {
  // 1 → 3 → (reset) 0 → 2: an increase of 2 + 3 = 4 over 45 s of samples.
  std::vector<Point> p = {{15000, 1}, {30000, 3}, {45000, 0}, {60000, 2}};
  // Extrapolation to the start would pass zero: it stops at the zero point, 45*(1/4) = 11.25 s
  // before the first sample, so the increase covers 56.25 s: 4 * 56.25 / 45 = 5.
  EXPECT_DOUBLE_EQ(RangeValue("increase", p, 0, 60000), 5);
  EXPECT_DOUBLE_EQ(RangeValue("rate", p, 0, 60000), 5.0 / 60);
  // delta ignores resets and the zero point: (2 - 1) * (45 + 15) / 45.
  EXPECT_DOUBLE_EQ(RangeValue("delta", p, 0, 60000), 60.0 / 45);
}

TEST(RateFunctions, ExtrapolatesOnlyHalfAnIntervalWhenSamplesStopShortOfTheWindow) {
  // Samples every 10 s from 40 s: 40 s to the window start is beyond 1.1 intervals, so the
  // series is taken to start half an interval (5 s) before its first sample.
  std::vector<Point> p = {{40000, 100}, {50000, 110}, {60000, 120}};
  EXPECT_DOUBLE_EQ(RangeValue("delta", p, 0, 60000), 20.0 * 25 / 20);
  EXPECT_DOUBLE_EQ(RangeValue("increase", p, 0, 60000), 20.0 * 25 / 20);
  // The same at the end of the window.
  std::vector<Point> q = {{0, 100}, {10000, 110}, {20000, 120}};
  EXPECT_DOUBLE_EQ(RangeValue("delta", q, 0, 60000), 20.0 * 25 / 20);
}

TEST(RateFunctions, ExtrapolatesFullyWithinTheThreshold) {
  // 10.9 s to the start is under 1.1 * 10 s: extrapolate all the way (20 * 30.9 / 20).
  std::vector<Point> p = {{10900, 100}, {20900, 110}, {30900, 120}};
  EXPECT_DOUBLE_EQ(RangeValue("delta", p, 0, 30900), 30.9);
  // At exactly 11 s it is not (10 * 1.1 rounds to 11 in doubles): half an interval, 20 * 25 / 20.
  std::vector<Point> q = {{11000, 100}, {21000, 110}, {31000, 120}};
  EXPECT_DOUBLE_EQ(RangeValue("delta", q, 0, 31000), 25);
}

TEST(RateFunctions, ZeroPointClampComesBeforeTheThresholdAsInPrometheus242) {
  // 10 → 20 → 30 from 40 s: the zero point is 10 s before the first sample, under the 11 s
  // threshold, so 2.42 extrapolates those 10 s: 20 * 30 / 20 = 30 (later versions give 25).
  std::vector<Point> p = {{40000, 10}, {50000, 20}, {60000, 30}};
  EXPECT_DOUBLE_EQ(RangeValue("increase", p, 0, 60000), 30);
  // A counter starting near zero: the zero point (1 s) limits the extrapolation.
  std::vector<Point> q = {{10000, 1}, {20000, 11}, {30000, 21}};
  EXPECT_DOUBLE_EQ(RangeValue("increase", q, 0, 30000), 21);
  EXPECT_DOUBLE_EQ(RangeValue("delta", q, 0, 30000), 30);
}

TEST(RateFunctions, RateDividesByTheWindowNotTheSampledInterval) {
  std::vector<Point> p = {{0, 0},        {60000, 60},   {120000, 120},
                          {180000, 180}, {240000, 240}, {300000, 300}};
  EXPECT_DOUBLE_EQ(RangeValue("rate", p, 0, 300000), 1);
  EXPECT_DOUBLE_EQ(RangeValue("increase", p, 0, 300000), 300);
}

TEST(RateFunctions, RoundLikePrometheus) {
  // 100 → 200 over 10 s in a 60 s window: (100 * 2.5) / 60 would be 4.166666666666667, while
  // Prometheus multiplies by the factor 2.5 / 60 and gets 4.166666666666666.
  EXPECT_EQ(RangeValue("rate", {{0, 100}, {10000, 200}}, -30000, 30000), 4.166666666666666);
  EXPECT_EQ(RangeValue("rate", {{0, 101}, {10000, 102}, {20000, 202}}, -9500, 20500),
            5.050000000000001);
}

TEST(RateFunctions, NeedTwoPoints) {
  EXPECT_TRUE(RangeIsEmpty("rate", {{1000, 5}}));
  EXPECT_TRUE(RangeIsEmpty("increase", {{1000, 5}}));
  EXPECT_TRUE(RangeIsEmpty("delta", {{1000, 5}}));
  EXPECT_TRUE(RangeIsEmpty("rate", {}));
  auto none = Fn("rate").Run({Matrix{}}, 60000, 0, 60000);
  ASSERT_TRUE(none.ok());
  EXPECT_TRUE(none->empty());
}

TEST(RateFunctions, NaNValuesPropagate) {
  EXPECT_TRUE(std::isnan(RangeValue("rate", {{10000, 1}, {20000, kNaN}}, 0, 20000)));
}

// ---- irate, idelta ----

TEST(InstantRateFunctions, UseTheLastTwoPoints) {
  std::vector<Point> p = {{0, 100}, {10000, 1}, {15000, 11}};
  EXPECT_DOUBLE_EQ(RangeValue("irate", p, 0, 20000), 2);  // 10 over 5 s
  EXPECT_DOUBLE_EQ(RangeValue("idelta", p, 0, 20000), 10);
  std::vector<Point> reset = {{0, 100}, {10000, 5}};
  EXPECT_DOUBLE_EQ(RangeValue("irate", reset, 0, 20000), 0.5);  // the value after the reset
  EXPECT_DOUBLE_EQ(RangeValue("idelta", reset, 0, 20000), -95);
  EXPECT_TRUE(RangeIsEmpty("irate", {{0, 1}}));
  EXPECT_TRUE(RangeIsEmpty("idelta", {{0, 1}}));
}

// ---- changes, resets ----

TEST(CountingFunctions, ChangesTreatsNaNAsEqualToNaN) {
  EXPECT_DOUBLE_EQ(
      RangeValue("changes", {{1, 1}, {2, 1}, {3, 2}, {4, kNaN}, {5, kNaN}, {6, 2}}, 0, 10), 3);
  EXPECT_DOUBLE_EQ(RangeValue("changes", {{1, 7}}, 0, 10), 0);
}

TEST(CountingFunctions, ResetsCountsDecreases) {
  EXPECT_DOUBLE_EQ(RangeValue("resets", {{1, 5}, {2, 3}, {3, 4}, {4, 1}, {5, 1}}, 0, 10), 2);
  EXPECT_DOUBLE_EQ(RangeValue("resets", {{1, 5}}, 0, 10), 0);
}

// ---- deriv, predict_linear ----

TEST(Regression, DerivIsTheLeastSquaresSlopePerSecond) {
  EXPECT_DOUBLE_EQ(RangeValue("deriv", {{0, 0}, {10000, 20}, {20000, 40}}, 0, 20000), 2);
  // Not on one line: slope of (0,0), (10,10), (20,0) is 0.
  EXPECT_DOUBLE_EQ(RangeValue("deriv", {{0, 0}, {10000, 10}, {20000, 0}}, 0, 20000), 0);
  EXPECT_DOUBLE_EQ(RangeValue("deriv", {{0, 3}, {10000, 3}}, 0, 20000), 0);
  EXPECT_TRUE(std::isnan(RangeValue("deriv", {{0, kInf}, {10000, kInf}}, 0, 20000)));
  EXPECT_TRUE(RangeIsEmpty("deriv", {{0, 1}}));
}

TEST(Regression, PredictLinearExtrapolatesFromTheEvaluationTime) {
  // y = t in seconds; evaluated at t = 30 s, 60 s ahead: 90.
  Matrix m = Window({{0, 0}, {10000, 10}, {20000, 20}});
  auto out = Fn("predict_linear").Run({m, Scalar{0, 60}}, 30000, 0, 30000);
  ASSERT_TRUE(out.ok());
  EXPECT_DOUBLE_EQ(Only(*out), 90);
}

// ---- holt_winters ----

TEST(HoltWinters, SmoothsWithTrend) {
  Matrix m = Window({{0, 1}, {1000, 2}, {2000, 4}});
  auto out = Fn("holt_winters").Run({m, Scalar{0, 0.5}, Scalar{0, 0.5}}, 2000, 0, 2000);
  ASSERT_TRUE(out.ok());
  // s=1, b=1; step 1: s = 0.5*2 + 0.5*(1+1) = 2; step 2: b = 0.5*(2-1) + 0.5*1 = 1,
  // s = 0.5*4 + 0.5*(2+1) = 3.5.
  EXPECT_DOUBLE_EQ(Only(*out), 3.5);
}

TEST(HoltWinters, RejectsFactorsOutsideTheOpenUnitInterval) {
  Matrix m = Window({{0, 1}, {1000, 2}});
  auto sf = Fn("holt_winters").Run({m, Scalar{0, 1}, Scalar{0, 0.5}});
  ASSERT_FALSE(sf.ok());
  EXPECT_EQ(sf.status().code(), StatusCode::kFailedPrecondition);
  EXPECT_EQ(sf.status().message(), "invalid smoothing factor. Expected: 0 < sf < 1, got: 1.000000");
  auto tf = Fn("holt_winters").Run({m, Scalar{0, 0.5}, Scalar{0, -0.25}});
  ASSERT_FALSE(tf.ok());
  EXPECT_EQ(tf.status().message(), "invalid trend factor. Expected: 0 < tf < 1, got: -0.250000");
}

// ---- <agg>_over_time ----

TEST(OverTime, AvgHandlesInfinities) {
  EXPECT_DOUBLE_EQ(RangeValue("avg_over_time", {{1, 1}, {2, 2}, {3, 3}, {4, 4}}, 0, 10), 2.5);
  EXPECT_EQ(RangeValue("avg_over_time", {{1, 1}, {2, kInf}, {3, 3}}, 0, 10), kInf);
  EXPECT_EQ(RangeValue("avg_over_time", {{1, -kInf}, {2, -kInf}}, 0, 10), -kInf);
  EXPECT_TRUE(std::isnan(RangeValue("avg_over_time", {{1, kInf}, {2, -kInf}}, 0, 10)));
  EXPECT_TRUE(std::isnan(RangeValue("avg_over_time", {{1, kInf}, {2, kNaN}}, 0, 10)));
  // Large values do not overflow the incremental mean.
  EXPECT_DOUBLE_EQ(RangeValue("avg_over_time", {{1, 1e308}, {2, 1e308}}, 0, 10), 1e308);
}

TEST(OverTime, SumIsCompensated) {
  EXPECT_DOUBLE_EQ(RangeValue("sum_over_time", {{1, 1e100}, {2, 1}, {3, -1e100}}, 0, 10), 1);
  EXPECT_EQ(RangeValue("sum_over_time", {{1, kInf}, {2, 1}}, 0, 10), kInf);
}

TEST(OverTime, MinAndMaxSkipNaNUnlessAllAreNaN) {
  std::vector<Point> p = {{1, kNaN}, {2, 1}, {3, kNaN}, {4, 3}};
  EXPECT_DOUBLE_EQ(RangeValue("max_over_time", p, 0, 10), 3);
  EXPECT_DOUBLE_EQ(RangeValue("min_over_time", p, 0, 10), 1);
  EXPECT_TRUE(std::isnan(RangeValue("max_over_time", {{1, kNaN}}, 0, 10)));
}

TEST(OverTime, CountLastPresent) {
  std::vector<Point> p = {{1, 5}, {2, 6}, {3, kNaN}};
  EXPECT_DOUBLE_EQ(RangeValue("count_over_time", p, 0, 10), 3);
  EXPECT_TRUE(std::isnan(RangeValue("last_over_time", p, 0, 10)));
  EXPECT_DOUBLE_EQ(RangeValue("present_over_time", p, 0, 10), 1);
  EXPECT_TRUE(RangeIsEmpty("count_over_time", {}));
}

TEST(OverTime, StddevAndStdvar) {
  std::vector<Point> p;
  for (double v : {2, 4, 4, 4, 5, 5, 7, 9}) p.push_back({static_cast<int64_t>(p.size()), v});
  EXPECT_DOUBLE_EQ(RangeValue("stddev_over_time", p, 0, 10), 2);
  EXPECT_DOUBLE_EQ(RangeValue("stdvar_over_time", p, 0, 10), 4);
  EXPECT_DOUBLE_EQ(RangeValue("stdvar_over_time", {{1, 3}}, 0, 10), 0);
}

TEST(OverTime, QuantileInterpolatesBetweenRanks) {
  auto q = [](double phi, std::vector<Point> p) {
    auto out = Fn("quantile_over_time").Run({Scalar{0, phi}, Window(std::move(p))}, 10, 0, 10);
    EXPECT_TRUE(out.ok());
    return out.ok() && out->size() == 1 ? (*out)[0].v : -12345;
  };
  std::vector<Point> p = {{1, 4}, {2, 1}, {3, 3}, {4, 2}};
  EXPECT_DOUBLE_EQ(q(0.5, p), 2.5);
  EXPECT_DOUBLE_EQ(q(0, p), 1);
  EXPECT_DOUBLE_EQ(q(1, p), 4);
  EXPECT_DOUBLE_EQ(q(0.9, p), 3.7);
  EXPECT_EQ(q(-0.1, p), -kInf);
  EXPECT_EQ(q(1.1, p), kInf);
  EXPECT_TRUE(std::isnan(q(kNaN, p)));
}

TEST(OverTime, RangeFunctionsKeepTheSeriesLabelsForTheEngine) {
  auto out = Fn("last_over_time").Run({Window({{1, 5}}, L({{"__name__", "m"}, {"a", "b"}}))}, 10);
  ASSERT_TRUE(out.ok());
  ASSERT_EQ(out->size(), 1u);
  EXPECT_EQ((*out)[0].metric, L({{"__name__", "m"}, {"a", "b"}}));
  EXPECT_EQ((*out)[0].t, 10);
}

// ---- the range functions' fast path (functions.h RangeFunction) ----

// The same bits as CallFunction, or no value where it returns no sample.
void ExpectFastPathMatches(std::string_view name, const std::vector<Point>& points,
                           std::vector<double> scalars) {
  RangeFunction fast = FindRangeFunction(name);
  ASSERT_NE(fast, nullptr) << name;
  // Sized up front and assigned: GCC 12 -O2 warns (maybe-uninitialized, a false positive) on
  // the reallocation path of push_back into a vector of variants.
  const bool phi_first = name == "quantile_over_time";
  std::vector<Value> args(scalars.size() + 1);
  size_t k = 0;
  if (phi_first) args[k++] = Scalar{0, scalars[0]};
  args[k++] = Window(points);
  for (size_t i = phi_first ? 1 : 0; i < scalars.size(); ++i) args[k++] = Scalar{0, scalars[i]};
  auto general = Fn(name).Run(args, 120000, 5000, 120000);
  FunctionContext ctx;
  ctx.t = 120000;
  ctx.range_start = 5000;
  ctx.range_end = 120000;
  auto v = fast(ctx, points, scalars);
  ASSERT_TRUE(general.ok() && v.ok()) << name;
  ASSERT_EQ(general->size(), v->has_value() ? 1u : 0u) << name << " over " << points.size();
  if (v->has_value()) {
    EXPECT_EQ(std::bit_cast<uint64_t>((*general)[0].v), std::bit_cast<uint64_t>(**v))
        << name << ": " << (*general)[0].v << " vs " << **v;
  }
}

TEST(RangeFastPath, GivesCallFunctionsValueForEveryRangeFunction) {
  const std::vector<std::vector<Point>> inputs = {
      {},
      {{10000, 3}},
      {{10000, 3}, {40000, 7}, {70000, 2}, {100000, 9}},
      {{6000, 1.5}, {36000, kNaN}, {66000, -4}, {96000, kInf}, {119000, 0.25}},
      {{20000, 5}, {50000, 5}, {80000, 5}},
  };
  for (std::string_view name :
       {"rate", "increase", "delta", "irate", "idelta", "changes", "resets", "deriv",
        "avg_over_time", "count_over_time", "last_over_time", "present_over_time",
        "max_over_time", "min_over_time", "sum_over_time", "stddev_over_time",
        "stdvar_over_time"}) {
    for (const auto& points : inputs) ExpectFastPathMatches(name, points, {});
  }
  for (const auto& points : inputs) {
    ExpectFastPathMatches("predict_linear", points, {600});
    ExpectFastPathMatches("holt_winters", points, {0.3, 0.6});
    ExpectFastPathMatches("quantile_over_time", points, {0.9});
    ExpectFastPathMatches("quantile_over_time", points, {-1});
  }
}

TEST(RangeFastPath, ReportsHoltWintersFactorErrorsLikeCallFunction) {
  FunctionContext ctx;
  const std::vector<Point> points = {{0, 1}, {1000, 2}};
  const std::vector<double> scalars = {1, 0.5};
  auto v = FindRangeFunction("holt_winters")(ctx, points, scalars);
  ASSERT_FALSE(v.ok());
  EXPECT_EQ(v.status().code(), StatusCode::kFailedPrecondition);
  EXPECT_EQ(v.status().message(), "invalid smoothing factor. Expected: 0 < sf < 1, got: 1.000000");
}

TEST(RangeFastPath, OnlyRangeFunctionsOfOneSeriesHaveOne) {
  EXPECT_EQ(FindRangeFunction("absent_over_time"), nullptr);  // answers for every series
  EXPECT_EQ(FindRangeFunction("abs"), nullptr);
  EXPECT_EQ(FindRangeFunction("histogram_quantile"), nullptr);
  EXPECT_EQ(FindRangeFunction("no_such_function"), nullptr);
}

// ---- absent, absent_over_time ----

ExprPtr Selector(std::vector<std::tuple<tsdb::Matcher::Type, std::string, std::string>> ms,
                 bool matrix = false) {
  auto vs = std::make_unique<VectorSelector>();
  for (auto& [type, name, value] : ms)
    vs->matchers.push_back(tsdb::Matcher::Make(type, name, value).value());
  if (!matrix) return vs;
  auto m = std::make_unique<MatrixSelector>();
  m->vector = std::move(vs);
  m->range_ms = 60000;
  return m;
}

TEST(Absent, LabelsComeFromEqualityMatchersSeenOnce) {
  using T = tsdb::Matcher::Type;
  Fn fn("absent");
  fn.WithArg(Selector({{T::kEqual, "__name__", "up"},
                       {T::kEqual, "job", "a"},
                       {T::kEqual, "env", "prod"},
                       {T::kEqual, "job", "b"},
                       {T::kRegexMatch, "instance", "i.*"}}));
  auto out = fn.Run({Vector{}}, 5000);
  ASSERT_TRUE(out.ok());
  ASSERT_EQ(out->size(), 1u);
  EXPECT_EQ((*out)[0].metric, L({{"env", "prod"}}));
  EXPECT_DOUBLE_EQ((*out)[0].v, 1);
  auto present = fn.Run({Vec({1})}, 5000);
  ASSERT_TRUE(present.ok());
  EXPECT_TRUE(present->empty());
}

TEST(Absent, MatchersApplyInOrder) {
  // Prometheus 2.42 gives {job="b"} here: the != removes job, then the = sets it.
  using T = tsdb::Matcher::Type;
  Fn fn("absent");
  fn.WithArg(Selector({{T::kNotEqual, "job", "a"}, {T::kEqual, "job", "b"}}));
  auto out = fn.Run({Vector{}});
  ASSERT_TRUE(out.ok());
  ASSERT_EQ(out->size(), 1u);
  EXPECT_EQ((*out)[0].metric, L({{"job", "b"}}));
}

TEST(Absent, NonSelectorArgumentGivesNoLabels) {
  Fn fn("absent");
  fn.WithArg(std::make_unique<NumberLiteral>());
  auto out = fn.Run({Vector{}});
  ASSERT_TRUE(out.ok());
  ASSERT_EQ(out->size(), 1u);
  EXPECT_TRUE((*out)[0].metric.empty());
}

TEST(Absent, ParenthesesAroundTheSelectorDoNotMatter) {
  // absent(((x{job="a"}))) is {job="a"} in Prometheus 2.42.
  using T = tsdb::Matcher::Type;
  ExprPtr e = Selector({{T::kEqual, "job", "a"}});
  for (int i = 0; i < 2; ++i) {
    auto paren = std::make_unique<ParenExpr>();
    paren->expr = std::move(e);
    e = std::move(paren);
  }
  EXPECT_EQ(AbsentLabels(e.get()), L({{"job", "a"}}));
}

TEST(Absent, AbsentOverTimeLooksAtEverySeriesInTheWindow) {
  using T = tsdb::Matcher::Type;
  Fn fn("absent_over_time");
  fn.WithArg(Selector({{T::kEqual, "__name__", "up"}, {T::kEqual, "job", "a"}}, true));
  auto none = fn.Run({Matrix{}}, 1000, 0, 1000);
  ASSERT_TRUE(none.ok());
  ASSERT_EQ(none->size(), 1u);
  EXPECT_EQ((*none)[0].metric, L({{"job", "a"}}));
  Matrix some = {Series{L({{"a", "1"}}), {}}, Series{L({{"a", "2"}}), {{500, 1}}}};
  auto present = fn.Run({some}, 1000, 0, 1000);
  ASSERT_TRUE(present.ok());
  EXPECT_TRUE(present->empty());
}

// ---- math on instant vectors ----

TEST(MathFunctions, ApplyToEverySampleAndDropTheMetricName) {
  Vector in = {{L({{"__name__", "x"}, {"a", "1"}}), 1000, -1.5}};
  Vector out = Instant("abs", {in});
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(out[0].metric, L({{"a", "1"}}));
  EXPECT_DOUBLE_EQ(out[0].v, 1.5);
  EXPECT_DOUBLE_EQ(Only(Instant("ceil", {Vec({-1.5})})), -1);
  EXPECT_DOUBLE_EQ(Only(Instant("floor", {Vec({-1.5})})), -2);
  EXPECT_DOUBLE_EQ(Only(Instant("exp", {Vec({1})})), std::exp(1.0));
  EXPECT_DOUBLE_EQ(Only(Instant("sqrt", {Vec({16})})), 4);
  EXPECT_TRUE(std::isnan(Only(Instant("sqrt", {Vec({-1})}))));
  EXPECT_EQ(Only(Instant("ln", {Vec({0})})), -kInf);
  EXPECT_DOUBLE_EQ(Only(Instant("log2", {Vec({1024})})), 10);
  EXPECT_DOUBLE_EQ(Only(Instant("log10", {Vec({0.001})})), -3);
  // Bit for bit what Prometheus 2.42 answers (C's log10(2.5) is one ulp higher, log(x)/ln(10)
  // gives 2.9999999999999996 for 1000).
  EXPECT_EQ(Only(Instant("log10", {Vec({1000})})), 3);
  EXPECT_EQ(Only(Instant("log10", {Vec({2.5})})), 0.3979400086720376);
  EXPECT_EQ(Only(Instant("log10", {Vec({313730.7566625557})})), 5.496557096938287);
  EXPECT_EQ(Only(Instant("log2", {Vec({0.125})})), -3);
  EXPECT_EQ(Only(Instant("log2", {Vec({kInf})})), kInf);
  EXPECT_TRUE(std::isnan(Only(Instant("log2", {Vec({-1})}))));
  EXPECT_EQ(Only(Instant("log10", {Vec({0})})), -kInf);
  EXPECT_TRUE(Instant("abs", {Vector{}}).empty());
}

TEST(MathFunctions, Trigonometry) {
  EXPECT_DOUBLE_EQ(Only(Instant("sin", {Vec({std::numbers::pi / 2})})), 1);
  EXPECT_DOUBLE_EQ(Only(Instant("cos", {Vec({0})})), 1);
  EXPECT_DOUBLE_EQ(Only(Instant("tan", {Vec({std::numbers::pi / 4})})),
                   std::tan(std::numbers::pi / 4));
  EXPECT_DOUBLE_EQ(Only(Instant("asin", {Vec({1})})), std::numbers::pi / 2);
  EXPECT_TRUE(std::isnan(Only(Instant("acos", {Vec({2})}))));
  EXPECT_DOUBLE_EQ(Only(Instant("atan", {Vec({kInf})})), std::numbers::pi / 2);
  EXPECT_DOUBLE_EQ(Only(Instant("sinh", {Vec({0})})), 0);
  EXPECT_DOUBLE_EQ(Only(Instant("cosh", {Vec({0})})), 1);
  EXPECT_DOUBLE_EQ(Only(Instant("tanh", {Vec({kInf})})), 1);
  EXPECT_DOUBLE_EQ(Only(Instant("asinh", {Vec({0})})), 0);
  EXPECT_TRUE(std::isnan(Only(Instant("acosh", {Vec({0.5})}))));
  EXPECT_EQ(Only(Instant("atanh", {Vec({1})})), kInf);
  EXPECT_DOUBLE_EQ(Only(Instant("deg", {Vec({std::numbers::pi})})), 180);
  EXPECT_DOUBLE_EQ(Only(Instant("rad", {Vec({180})})), std::numbers::pi);
  EXPECT_DOUBLE_EQ(Only(Instant("pi", {})), std::numbers::pi);
}

TEST(MathFunctions, SgnKeepsZeroAndNaN) {
  Vector out = Instant("sgn", {Vec({-3, 0, 7, kNaN})});
  ASSERT_EQ(out.size(), 4u);
  EXPECT_EQ(out[0].v, -1);
  EXPECT_EQ(out[1].v, 0);
  EXPECT_EQ(out[2].v, 1);
  EXPECT_TRUE(std::isnan(out[3].v));
}

TEST(MathFunctions, RoundBreaksTiesUpwards) {
  Vector out = Instant("round", {Vec({2.5, -2.5, 1.4, kNaN})});
  ASSERT_EQ(out.size(), 4u);
  EXPECT_EQ(out[0].v, 3);
  EXPECT_EQ(out[1].v, -2);  // not -3 as C's round() would give
  EXPECT_EQ(out[2].v, 1);
  EXPECT_TRUE(std::isnan(out[3].v));
  EXPECT_DOUBLE_EQ(Only(Instant("round", {Vec({7}), Scalar{0, 5}})), 5);
  EXPECT_DOUBLE_EQ(Only(Instant("round", {Vec({0.25}), Scalar{0, 0.1}})), 0.3);
  EXPECT_EQ(Only(Instant("round", {Vec({1234}), Scalar{0, 100}})), 1200);
}

TEST(MathFunctions, ClampFamily) {
  Vector out = Instant("clamp", {Vec({-5, 5, 50, kNaN}), Scalar{0, 0}, Scalar{0, 10}});
  ASSERT_EQ(out.size(), 4u);
  EXPECT_EQ(out[0].v, 0);
  EXPECT_EQ(out[1].v, 5);
  EXPECT_EQ(out[2].v, 10);
  EXPECT_TRUE(std::isnan(out[3].v));  // Go's math.Max/Min keep NaN
  EXPECT_FALSE(out[0].metric.Has("__name__"));
  EXPECT_TRUE(Instant("clamp", {Vec({1}), Scalar{0, 2}, Scalar{0, 1}}).empty());  // min > max
  EXPECT_EQ(Only(Instant("clamp_max", {Vec({50}), Scalar{0, 10}})), 10);
  EXPECT_EQ(Only(Instant("clamp_min", {Vec({-50}), Scalar{0, -10}})), -10);
  EXPECT_TRUE(std::isnan(Only(Instant("clamp_min", {Vec({1}), Scalar{0, kNaN}}))));
  EXPECT_EQ(Only(Instant("clamp_max", {Vec({kNaN}), Scalar{0, -kInf}})), -kInf);
}

// ---- scalar, vector, time, timestamp ----

TEST(ConversionFunctions, ScalarNeedsExactlyOneSample) {
  EXPECT_EQ(Only(Instant("scalar", {Vec({4})})), 4);
  EXPECT_TRUE(std::isnan(Only(Instant("scalar", {Vec({4, 5})}))));
  EXPECT_TRUE(std::isnan(Only(Instant("scalar", {Vector{}}))));
  Vector v = Instant("vector", {Scalar{0, 3}}, 7000);
  ASSERT_EQ(v.size(), 1u);
  EXPECT_TRUE(v[0].metric.empty());
  EXPECT_EQ(v[0].v, 3);
  EXPECT_EQ(v[0].t, 7000);
  EXPECT_DOUBLE_EQ(Only(Instant("time", {}, 90500)), 90.5);
}

TEST(ConversionFunctions, TimestampUsesTheSampleTimeAndDropsTheName) {
  Vector in = {{L({{"__name__", "x"}, {"a", "1"}}), 1500, 42}};
  Vector out = Instant("timestamp", {in}, 9000);
  ASSERT_EQ(out.size(), 1u);
  EXPECT_DOUBLE_EQ(out[0].v, 1.5);
  EXPECT_EQ(out[0].metric, L({{"a", "1"}}));
}

// ---- date functions ----

TEST(DateFunctions, WithoutArgumentUseTheEvaluationTimeInUTC) {
  int64_t t = 1709214330LL * 1000;  // 2024-02-29T13:45:30Z, a Thursday
  EXPECT_EQ(Only(Instant("year", {}, t)), 2024);
  EXPECT_EQ(Only(Instant("month", {}, t)), 2);
  EXPECT_EQ(Only(Instant("day_of_month", {}, t)), 29);
  EXPECT_EQ(Only(Instant("day_of_week", {}, t)), 4);
  EXPECT_EQ(Only(Instant("day_of_year", {}, t)), 60);
  EXPECT_EQ(Only(Instant("days_in_month", {}, t)), 29);
  EXPECT_EQ(Only(Instant("hour", {}, t)), 13);
  EXPECT_EQ(Only(Instant("minute", {}, t)), 45);
}

TEST(DateFunctions, WithAVectorReadTheValuesAsUnixSeconds) {
  // 2024-12-31T05:07Z (Tue), 1900-03-01 (Thu, no leap day), 1600-02-29 (Tue),
  // 1969-12-31 (Wed), 1970-01-01 plus 0.9 s (truncated).
  Vector in = Vec({1735621620, -2203872780, -11670979980.0, -67980, 0.9});
  Vector dow = Instant("day_of_week", {in});
  Vector doy = Instant("day_of_year", {in});
  Vector dim = Instant("days_in_month", {in});
  Vector year = Instant("year", {in});
  ASSERT_EQ(dow.size(), 5u);
  ASSERT_EQ(doy.size(), 5u);
  ASSERT_EQ(dim.size(), 5u);
  ASSERT_EQ(year.size(), 5u);
  EXPECT_EQ(dow[0].v, 2);
  EXPECT_EQ(doy[0].v, 366);
  EXPECT_EQ(dim[0].v, 31);
  EXPECT_EQ(dow[1].v, 4);
  EXPECT_EQ(doy[1].v, 60);
  EXPECT_EQ(dim[1].v, 31);
  EXPECT_EQ(year[1].v, 1900);
  EXPECT_EQ(dow[2].v, 2);
  EXPECT_EQ(dim[2].v, 29);
  EXPECT_EQ(year[2].v, 1600);
  EXPECT_EQ(dow[3].v, 3);
  EXPECT_EQ(year[3].v, 1969);
  EXPECT_EQ(Instant("hour", {in})[3].v, 5);
  EXPECT_EQ(year[4].v, 1970);
  EXPECT_EQ(dow[4].v, 4);
  EXPECT_FALSE(dow[0].metric.Has("__name__"));
}

// ---- sort, sort_desc ----

std::vector<double> Values(const Vector& v) {
  std::vector<double> out;
  for (const Sample& s : v) out.push_back(s.v);
  return out;
}

TEST(SortFunctions, NaNSortsLastBothWays) {
  Vector asc = Instant("sort", {Vec({3, kNaN, 1, 2})});
  ASSERT_EQ(asc.size(), 4u);
  EXPECT_EQ(asc[0].v, 1);
  EXPECT_EQ(asc[1].v, 2);
  EXPECT_EQ(asc[2].v, 3);
  EXPECT_TRUE(std::isnan(asc[3].v));
  EXPECT_EQ(asc[0].metric.MetricName(), "x");  // sort keeps __name__
  Vector desc = Instant("sort_desc", {Vec({3, kNaN, 1, 2})});
  ASSERT_EQ(desc.size(), 4u);
  EXPECT_EQ(desc[0].v, 3);
  EXPECT_EQ(desc[2].v, 1);
  EXPECT_TRUE(std::isnan(desc[3].v));
}

TEST(SortFunctions, SmallInputsKeepTheOrderOfTies) {
  Vector out = Instant("sort", {Vec({2, 1, 2, 1})});
  ASSERT_EQ(out.size(), 4u);
  EXPECT_EQ(out[0].metric.Get("i"), "1");
  EXPECT_EQ(out[1].metric.Get("i"), "3");
  EXPECT_EQ(out[2].metric.Get("i"), "0");
  EXPECT_EQ(out[3].metric.Get("i"), "2");
}

TEST(SortFunctions, TiesFollowGoPdqsortLikePrometheus) {
  // 30 samples with ties and NaNs: the orders Prometheus 2.42 returned for them (label i).
  Vector in = Vec({1,    0, 1, 1, 0, kNaN, 1, 0, 1, 1, 1, 0, 0, 1, 0,
                   kNaN, 0, 0, 1, 1, 2,    0, 1, 1, 0, 1, 0, 1, 1, 0});
  auto order = [](const Vector& v) {
    std::vector<int> out;
    for (const Sample& s : v) out.push_back(std::stoi(std::string(s.metric.Get("i"))));
    return out;
  };
  EXPECT_EQ(order(Instant("sort", {in})),
            (std::vector<int>{14, 12, 26, 24, 4,  21, 17, 7,  16, 1, 29, 11, 2,  25, 10,
                              9,  8,  6,  18, 19, 0,  28, 22, 23, 3, 13, 27, 20, 5,  15}));
  EXPECT_EQ(order(Instant("sort_desc", {in})),
            (std::vector<int>{20, 27, 9, 3,  18, 25, 6,  2,  8,  23, 10, 22, 28, 13, 0,
                              19, 14, 7, 16, 29, 12, 21, 11, 17, 24, 1,  26, 4,  15, 5}));
}

TEST(SortFunctions, LargeInputsAreSorted) {
  std::vector<double> values;
  uint64_t x = 88172645463325252ULL;
  for (int i = 0; i < 1000; ++i) {
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    values.push_back(static_cast<double>(x % 100));  // many ties
  }
  std::vector<double> asc = Values(Instant("sort", {Vec(values)}));
  std::vector<double> desc = Values(Instant("sort_desc", {Vec(values)}));
  std::vector<double> want = values;
  std::sort(want.begin(), want.end());
  EXPECT_EQ(asc, want);
  std::reverse(want.begin(), want.end());
  EXPECT_EQ(desc, want);
}

// ---- label_replace, label_join ----

Vector LabelReplace(Vector in, std::string dst, std::string repl, std::string src, std::string re) {
  return Instant("label_replace",
                 {std::move(in), String{0, dst}, String{0, repl}, String{0, src}, String{0, re}});
}

Vector Host(std::string host) { return {{L({{"__name__", "up"}, {"host", host}}), 0, 1}}; }

TEST(LabelReplace, ExpandsGroupsLikeGo) {
  EXPECT_EQ(LabelReplace(Host("web-1:9100"), "name", "$1", "host", "(.*):.*")[0].metric,
            L({{"__name__", "up"}, {"host", "web-1:9100"}, {"name", "web-1"}}));
  EXPECT_EQ(LabelReplace(Host("a-b"), "x", "${2}_${1}x", "host", "(a)-(b)")[0].metric.Get("x"),
            "b_ax");
  EXPECT_EQ(
      LabelReplace(Host("a-b"), "x", "$first/$$/$", "host", "(?P<first>a)-b")[0].metric.Get("x"),
      "a/$/$");
  // $1x names group "1x", which does not exist: empty, as in Go.
  EXPECT_EQ(LabelReplace(Host("a-b"), "x", "$1x-", "host", "(a)-b")[0].metric.Get("x"), "-");
  // Go's names take any letter: "$1é" refers to group "1é", which does not exist.
  EXPECT_EQ(LabelReplace(Host("a-b"), "x", "ÿ$1é!", "host", "(a)-b")[0].metric.Get("x"), "ÿ!");
  EXPECT_EQ(LabelReplace(Host("a-b"), "x", "$1€", "host", "(a)-b")[0].metric.Get("x"), "a€");
  // Leading zeros make a name, not a number; $ab is not group a.
  EXPECT_EQ(
      LabelReplace(Host("a-b"), "x", "$01|$1|${01}|$10", "host", "(a)-(b)")[0].metric.Get("x"),
      "|a||");
  EXPECT_FALSE(LabelReplace(Host("a-b"), "x", "$ab", "host", "(?P<a>a)-b")[0].metric.Has("x"));
  // ${1 without the brace is literal; $9 beyond the groups is empty.
  EXPECT_EQ(LabelReplace(Host("a"), "x", "${1-$9.", "host", "(a)")[0].metric.Get("x"), "${1-.");
}

TEST(LabelReplace, RegexIsAnchored) {
  Vector out = LabelReplace(Host("xay"), "x", "$1", "host", "(a)");
  ASSERT_EQ(out.size(), 1u);
  EXPECT_FALSE(out[0].metric.Has("x"));  // no match: unchanged
  EXPECT_EQ(out[0].metric, Host("xay")[0].metric);
}

TEST(LabelReplace, RegexHasGoSemanticsForDotAndAnyByte) {
  EXPECT_FALSE(LabelReplace(Host("a\nb"), "x", "$1", "host", "(a.b)")[0].metric.Has("x"));
  EXPECT_EQ(LabelReplace(Host("a\nb"), "x", "$1", "host", "(?s)(a.b)")[0].metric.Get("x"),
            "a\nb");
  auto any_byte =
      Fn("label_replace")
          .Run({Host("h"), String{0, "x"}, String{0, "$1"}, String{0, "host"}, String{0, "\\C"}});
  ASSERT_FALSE(any_byte.ok());
  EXPECT_EQ(any_byte.status().message(), "invalid regular expression in label_replace(): \\C");
}

TEST(LabelReplace, EmptyResultRemovesTheLabelAndMissingSourceIsEmpty) {
  EXPECT_FALSE(LabelReplace(Host("h"), "host", "", "host", ".*")[0].metric.Has("host"));
  EXPECT_EQ(LabelReplace(Host("h"), "y", "set", "missing", "")[0].metric.Get("y"), "set");
  EXPECT_EQ(LabelReplace(Host("h"), "__name__", "renamed", "host", "h")[0].metric.MetricName(),
            "renamed");
}

TEST(LabelReplace, ReportsBadRegexAndDestination) {
  auto bad_re =
      Fn("label_replace")
          .Run({Host("h"), String{0, "x"}, String{0, "$1"}, String{0, "host"}, String{0, "(.*"}});
  ASSERT_FALSE(bad_re.ok());
  EXPECT_EQ(bad_re.status().message(), "invalid regular expression in label_replace(): (.*");
  auto bad_dst =
      Fn("label_replace")
          .Run({Vector{}, String{0, "1x"}, String{0, "$1"}, String{0, "host"}, String{0, "(.*)"}});
  ASSERT_FALSE(bad_dst.ok());
  EXPECT_EQ(bad_dst.status().code(), StatusCode::kFailedPrecondition);
  EXPECT_EQ(bad_dst.status().message(), "invalid destination label name in label_replace(): 1x");
}

TEST(LabelJoin, JoinsSourcesWithTheSeparator) {
  Vector in = {{L({{"__name__", "up"}, {"a", "1"}, {"b", "2"}}), 0, 7}};
  Vector out = Instant("label_join", {in, String{0, "c"}, String{0, "-"}, String{0, "a"},
                                      String{0, "missing"}, String{0, "b"}});
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(out[0].metric.Get("c"), "1--2");
  EXPECT_EQ(out[0].metric.MetricName(), "up");
  EXPECT_EQ(out[0].v, 7);
  // No sources: the destination is removed.
  Vector none = Instant("label_join", {in, String{0, "a"}, String{0, "-"}});
  EXPECT_FALSE(none[0].metric.Has("a"));
  auto bad = Fn("label_join").Run({in, String{0, "c"}, String{0, ","}, String{0, "b-d"}});
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.status().message(), "invalid source label name in label_join(): b-d");
  auto bad_dst = Fn("label_join").Run({in, String{0, ""}, String{0, ","}});
  ASSERT_FALSE(bad_dst.ok());
  EXPECT_EQ(bad_dst.status().message(), "invalid destination label name in label_join(): ");
}

// ---- histogram_quantile ----

Vector Buckets(std::vector<std::pair<std::string, double>> buckets, std::string job = "a") {
  Vector v;
  for (auto& [le, count] : buckets) {
    v.push_back({L({{"__name__", "h_bucket"}, {"job", job}, {"le", le}}), 0, count});
  }
  return v;
}

double HistogramQuantile(double q, Vector buckets) {
  return Only(Instant("histogram_quantile", {Scalar{0, q}, std::move(buckets)}));
}

TEST(HistogramQuantile, InterpolatesWithinTheBucket) {
  Vector b = Buckets({{"+Inf", 20}, {"1", 10}, {"2", 20}});  // any order
  EXPECT_DOUBLE_EQ(HistogramQuantile(0.5, b), 1);
  EXPECT_DOUBLE_EQ(HistogramQuantile(0.75, b), 1.5);
  EXPECT_DOUBLE_EQ(HistogramQuantile(0.25, b), 0.5);  // lowest bucket starts at 0
  EXPECT_DOUBLE_EQ(HistogramQuantile(1, b), 2);
  Vector out = Instant("histogram_quantile", {Scalar{0, 0.5}, b});
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(out[0].metric, L({{"job", "a"}}));  // without __name__ and le
}

TEST(HistogramQuantile, RankInTheInfBucketGivesTheHighestFiniteBound) {
  EXPECT_DOUBLE_EQ(HistogramQuantile(0.99, Buckets({{"1", 10}, {"+Inf", 20}})), 1);
}

TEST(HistogramQuantile, EdgeCases) {
  Vector b = Buckets({{"1", 10}, {"+Inf", 20}});
  EXPECT_EQ(HistogramQuantile(-0.5, b), -kInf);
  EXPECT_EQ(HistogramQuantile(1.5, b), kInf);
  EXPECT_TRUE(std::isnan(HistogramQuantile(kNaN, b)));
  EXPECT_TRUE(std::isnan(HistogramQuantile(0.5, Buckets({{"1", 10}, {"2", 20}}))));  // no +Inf
  EXPECT_TRUE(std::isnan(HistogramQuantile(0.5, Buckets({{"+Inf", 20}}))));          // < 2 buckets
  EXPECT_TRUE(std::isnan(HistogramQuantile(0.5, Buckets({{"1", 0}, {"+Inf", 0}}))));
  // The lowest bucket's bound when it is not above zero.
  EXPECT_DOUBLE_EQ(HistogramQuantile(0.2, Buckets({{"-1", 5}, {"1", 10}, {"+Inf", 10}})), -1);
}

TEST(HistogramQuantile, RepairsNonMonotonicCountsAndMergesEqualBounds) {
  // le=2 has fewer than le=1: raised to 10, so rank 12 falls in +Inf → 2.
  EXPECT_DOUBLE_EQ(HistogramQuantile(0.6, Buckets({{"1", 10}, {"2", 8}, {"+Inf", 20}})), 2);
  // "1" and "1.0" are one bucket of 10: rank 5 → 0.5.
  EXPECT_DOUBLE_EQ(HistogramQuantile(0.25, Buckets({{"1", 4}, {"1.0", 6}, {"+Inf", 20}})), 0.5);
}

TEST(HistogramQuantile, GroupsByLabelsOtherThanLeAndSkipsBadLe) {
  Vector in = Buckets({{"1", 10}, {"+Inf", 10}}, "a");
  for (Sample& s : Buckets({{"1", 0}, {"+Inf", 10}, {"oops", 5}}, "b")) in.push_back(s);
  in.push_back({L({{"__name__", "h_bucket"}, {"job", "c"}}), 0, 3});  // no le
  Vector out = Instant("histogram_quantile", {Scalar{0, 0.5}, in});
  ASSERT_EQ(out.size(), 2u);
  EXPECT_EQ(out[0].metric, L({{"job", "a"}}));
  EXPECT_DOUBLE_EQ(out[0].v, 0.5);
  EXPECT_EQ(out[1].metric, L({{"job", "b"}}));
  EXPECT_DOUBLE_EQ(out[1].v, 1);
}

// le is read by Go's strconv.ParseFloat: hex, '_' between digits and any-case Inf count; an
// out-of-range bound (ErrRange in Go) or '_' in the wrong place skips the sample.
TEST(HistogramQuantile, ReadsLeAsGoParseFloatDoes) {
  EXPECT_DOUBLE_EQ(HistogramQuantile(0.5, Buckets({{"1_0", 10}, {"INF", 20}})), 10);
  EXPECT_DOUBLE_EQ(HistogramQuantile(0.5, Buckets({{"0x1p3", 10}, {"+inf", 20}})), 8);
  EXPECT_DOUBLE_EQ(HistogramQuantile(0.5, Buckets({{"-1e400", 5}, {"2", 10}, {"+Inf", 20}})), 2);
  EXPECT_DOUBLE_EQ(HistogramQuantile(0.5, Buckets({{"0__1", 10}, {"2", 10}, {"+Inf", 20}})), 2);
}

TEST(NativeHistogramFunctions, IgnoreFloatSamples) {
  Vector b = Buckets({{"1", 10}, {"+Inf", 20}});
  EXPECT_TRUE(Instant("histogram_count", {b}).empty());
  EXPECT_TRUE(Instant("histogram_sum", {b}).empty());
  EXPECT_TRUE(Instant("histogram_fraction", {Scalar{0, 0}, Scalar{0, 1}, b}).empty());
}

// ---- dispatch ----

TEST(CallFunction, RejectsUnknownFunctionsAndMistypedArguments) {
  EXPECT_FALSE(Fn("no_such_function").Run({}).ok());
  auto wrong = Fn("abs").Run({Scalar{0, 1}});
  ASSERT_FALSE(wrong.ok());
  EXPECT_EQ(wrong.status().code(), StatusCode::kInternal);
  EXPECT_FALSE(Fn("abs").Run({}).ok());
  EXPECT_FALSE(Fn("round").Run({Vec({1}), Scalar{0, 1}, Scalar{0, 1}}).ok());
}

// ---- Go compatibility helpers ----

TEST(GoCompat, LogAgreesWithTheCLibraryToAnUlp) {
  using internal::GoLog;
  EXPECT_EQ(GoLog(1), 0);
  EXPECT_EQ(GoLog(0), -kInf);
  EXPECT_EQ(GoLog(-0.0), -kInf);
  EXPECT_EQ(GoLog(kInf), kInf);
  EXPECT_TRUE(std::isnan(GoLog(-1)));
  EXPECT_TRUE(std::isnan(GoLog(kNaN)));
  EXPECT_DOUBLE_EQ(GoLog(std::numbers::e), 1);
  uint64_t x = 0x9E3779B97F4A7C15ULL;
  for (int i = 0; i < 10000; ++i) {
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    double v = std::ldexp(static_cast<double>(x >> 11), static_cast<int>(x % 200) - 150);
    if (v == 0) continue;
    double want = std::log(v);
    EXPECT_LE(std::fabs(GoLog(v) - want), 2 * std::fabs(std::nextafter(want, kInf) - want)) << v;
  }
}

// Go's amd64 Exp overflows when the rounded exponent passes 1023 and flushes to 0 at -1023
// (no subnormals); sinh and cosh inherit it (Prometheus 2.42 answers +Inf for all three).
TEST(GoCompat, ExpOverflowsAndUnderflowsWhereGoDoes) {
  using namespace internal;
  EXPECT_EQ(Only(Instant("exp", {Vec({709.7})})), kInf);
  EXPECT_EQ(Only(Instant("sinh", {Vec({710})})), kInf);
  EXPECT_EQ(Only(Instant("cosh", {Vec({710})})), kInf);
  EXPECT_EQ(GoSinh(-710), -kInf);
  EXPECT_TRUE(std::isfinite(GoExp(709.0)));
  EXPECT_EQ(GoExp(-709.5), 0);  // the C library returns a subnormal here
  EXPECT_GT(GoExp(-708.5), 0);
  EXPECT_EQ(GoExp(-kInf), 0);
  EXPECT_EQ(GoExp(kInf), kInf);
  EXPECT_TRUE(std::isnan(GoExp(kNaN)));
  EXPECT_EQ(GoExp(0), 1);
}

// The FMA path (CPUs with AVX and FMA, as Go's useFMA) and the SSE2 path of exp_amd64.s round
// differently; both are pinned (values from the algorithm, the FMA one seen in Prometheus).
TEST(GoCompat, ExpFollowsBothOfGosAssemblyPaths) {
  using internal::GoExpForCpu;
  EXPECT_EQ(GoExpForCpu(0.01, true), 1.0100501670841682);
  EXPECT_EQ(GoExpForCpu(0.01, false), 1.0100501670841679);
  EXPECT_EQ(GoExpForCpu(346, true), 1.8445513014941301e+150);  // libc: ...297e+150
  EXPECT_EQ(GoExpForCpu(346, false), 1.8445513014941301e+150);
}

// Values Prometheus 2.42 returned on the conformance data, where the C library differs.
TEST(GoCompat, TrigonometryMatchesPrometheusToTheLastBit) {
  using namespace internal;
  EXPECT_EQ(GoCos(2136.281), 0.9999979911086921);    // libc: ...923
  EXPECT_EQ(GoCos(4356.781), -0.8207860981868654);   // libc: ...653
  EXPECT_EQ(GoCos(1085.584), 0.16300752281449288);   // libc: ...285
  // Payne-Hanek reduction of a huge argument: libc's exp and sin give 0.7895268345090352.
  EXPECT_EQ(Only(Instant("sin", {Instant("exp", {Vec({346})})})), 0.05254465530036988);
}

// A slip in a ported constant shows as a large error; Go and libc differ only in the last bits
// (absolute ones near the zeros of sin and cos, where Cephes is accurate in absolute terms).
TEST(GoCompat, GoMathAgreesWithTheCLibraryNearlyEverywhere) {
  using namespace internal;
  struct Fn1 {
    double (*go)(double);
    double (*c)(double);
    double lo, hi;
  };
  const Fn1 fns[] = {
      {GoExp, [](double v) { return std::exp(v); }, -700, 700},
      {GoSin, [](double v) { return std::sin(v); }, -1e6, 1e6},
      {GoCos, [](double v) { return std::cos(v); }, -1e6, 1e6},
      {GoTan, [](double v) { return std::tan(v); }, -1.5, 1.5},
      {GoAsin, [](double v) { return std::asin(v); }, -1, 1},
      {GoAcos, [](double v) { return std::acos(v); }, -1, 1},
      {GoAtan, [](double v) { return std::atan(v); }, -100, 100},
      {GoSinh, [](double v) { return std::sinh(v); }, -50, 50},
      {GoCosh, [](double v) { return std::cosh(v); }, -50, 50},
      {GoTanh, [](double v) { return std::tanh(v); }, -5, 5},
      {GoAsinh, [](double v) { return std::asinh(v); }, -1e3, 1e3},
      {GoAcosh, [](double v) { return std::acosh(v); }, 1, 1e3},
      {GoAtanh, [](double v) { return std::atanh(v); }, -0.99, 0.99},
      {GoLog1p, [](double v) { return std::log1p(v); }, -0.9, 1e3},
  };
  uint64_t x = 0x9E3779B97F4A7C15ULL;
  for (const Fn1& f : fns) {
    for (int i = 0; i < 2000; ++i) {
      x ^= x << 13;
      x ^= x >> 7;
      x ^= x << 17;
      double v = f.lo + (f.hi - f.lo) * static_cast<double>(x >> 11) * 0x1p-53;
      double want = f.c(v);
      EXPECT_NEAR(f.go(v), want, 1e-14 * std::max(1.0, std::fabs(want))) << v;
    }
  }
}

TEST(GoCompat, FormatFAndMinMax) {
  EXPECT_EQ(internal::GoFormatF(1.5), "1.500000");
  EXPECT_EQ(internal::GoFormatF(kNaN), "NaN");
  EXPECT_EQ(internal::GoFormatF(-kInf), "-Inf");
  EXPECT_EQ(internal::GoMax(kNaN, kInf), kInf);
  EXPECT_TRUE(std::isnan(internal::GoMax(kNaN, 1)));
  EXPECT_TRUE(std::signbit(internal::GoMin(0.0, -0.0)));
  EXPECT_FALSE(std::signbit(internal::GoMax(-0.0, 0.0)));
  EXPECT_EQ(internal::GoFloatToInt64(kNaN), std::numeric_limits<int64_t>::min());
  EXPECT_EQ(internal::GoFloatToInt64(-2.9), -2);
}

}  // namespace
}  // namespace steward::promql
