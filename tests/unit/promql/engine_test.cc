#include "promql/engine.h"

#include <gtest/gtest.h>

#include <cmath>
#include <cstdio>
#include <limits>
#include <string>

#include "promql/parser.h"
#include "unit/promql/fake_querier.h"

namespace steward::promql {
namespace {

using testing::FakeQuerier;
using testing::L;

constexpr int64_t kMin = 60'000;

std::string Num(double v) {
  if (std::isnan(v)) return "NaN";
  if (std::isinf(v)) return v > 0 ? "+Inf" : "-Inf";
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.10g", v);
  return buf;
}

// "labels v" per sample, one line each, in result order.
std::string Show(const Vector& v) {
  std::string out;
  for (const auto& s : v) out += s.metric.ToString() + " " + Num(s.v) + "\n";
  return out;
}

// "labels v@t_seconds ..." per series.
std::string Show(const Matrix& m) {
  std::string out;
  for (const auto& s : m) {
    out += s.metric.ToString() + ":";
    for (const auto& p : s.points) out += " " + Num(p.v) + "@" + std::to_string(p.t / 1000);
    out += "\n";
  }
  return out;
}

class EngineTest : public ::testing::Test {
 protected:
  void SetUp() override {
    q.Add(L({{"__name__", "http_requests"}, {"job", "api"}, {"instance", "0"}}), "0+10x10");
    q.Add(L({{"__name__", "http_requests"}, {"job", "api"}, {"instance", "1"}}), "0+20x10");
    q.Add(L({{"__name__", "http_requests"}, {"job", "db"}, {"instance", "0"}}), "0+30x10");
  }

  StatusOr<Value> Instant(std::string_view query, int64_t t_ms, const QueryLimits& limits = {}) {
    auto expr = ParseExpr(query);
    if (!expr.ok()) return expr.status();
    return engine.Instant(&q, **expr, t_ms, limits, &stats);
  }
  // The instant vector as text, or the error message.
  std::string Vec(std::string_view query, int64_t t_ms) {
    auto v = Instant(query, t_ms);
    if (!v.ok()) return "error: " + v.status().message();
    if (auto* vec = std::get_if<Vector>(&*v)) return Show(*vec);
    if (auto* s = std::get_if<Scalar>(&*v)) return "scalar " + Num(s->v);
    if (auto* m = std::get_if<Matrix>(&*v)) return Show(*m);
    return "string " + std::get<String>(*v).v;
  }
  std::string RangeText(std::string_view query, int64_t start, int64_t end, int64_t step) {
    auto expr = ParseExpr(query);
    if (!expr.ok()) return "parse error: " + expr.status().message();
    auto m = engine.Range(&q, **expr, start, end, step, {}, &stats);
    if (!m.ok()) return "error: " + m.status().message();
    return Show(*m);
  }
  Status ErrorOf(std::string_view query, int64_t t_ms) {
    auto v = Instant(query, t_ms);
    return v.ok() ? Status::OK() : v.status();
  }

  FakeQuerier q;
  Engine engine;
  QueryStats stats;
};

// --- selectors, lookback, staleness ---

TEST_F(EngineTest, InstantSelectorTakesNewestSampleAndStampsQueryTime) {
  auto v = Instant(R"(http_requests{job="api"})", 150'000);
  ASSERT_TRUE(v.ok()) << v.status().ToString();
  const Vector& vec = std::get<Vector>(*v);
  ASSERT_EQ(vec.size(), 2u);
  EXPECT_EQ(vec[0].v, 20);  // sample at 120 s
  EXPECT_EQ(vec[0].t, 150'000);
  EXPECT_EQ(vec[0].metric.Get("instance"), "0");
  EXPECT_EQ(vec[1].v, 40);
}

TEST_F(EngineTest, LookbackWindowIncludesSampleExactlyFiveMinutesOld) {
  q.Add(L({{"__name__", "once"}}), "7");  // one sample at 0
  EXPECT_EQ(Vec("once", 5 * kMin), "once 7\n");
  EXPECT_EQ(Vec("once", 5 * kMin + 1), "");
}

TEST_F(EngineTest, StalenessMarkerEndsSeriesUntilNextSample) {
  q.Add(L({{"__name__", "flappy"}}), "1 stale _ 4");
  EXPECT_EQ(Vec("flappy", 30'000), "flappy 1\n");
  EXPECT_EQ(Vec("flappy", kMin), "");
  EXPECT_EQ(Vec("flappy", 2 * kMin + 59'000), "");  // stale marker still newest
  EXPECT_EQ(Vec("flappy", 3 * kMin), "flappy 4\n");
  EXPECT_EQ(Vec("count_over_time(flappy[10m])", 3 * kMin), "{} 2\n");  // markers not counted
}

TEST_F(EngineTest, OffsetShiftsTheLookupButNotTheOutputTime) {
  EXPECT_EQ(Vec(R"(http_requests{job="db"} offset 2m)", 5 * kMin),
            "http_requests{instance=\"0\", job=\"db\"} 90\n");
  EXPECT_EQ(Vec(R"(http_requests{job="db"} offset -2m)", 5 * kMin),
            "http_requests{instance=\"0\", job=\"db\"} 210\n");
}

TEST_F(EngineTest, AtModifierPinsEveryStep) {
  EXPECT_EQ(RangeText(R"(http_requests{job="db"} @ 120)", 0, 4 * kMin, 2 * kMin),
            "http_requests{instance=\"0\", job=\"db\"}: 60@0 60@120 60@240\n");
  EXPECT_EQ(RangeText(R"(http_requests{job="db"} @ end())", 0, 4 * kMin, 2 * kMin),
            "http_requests{instance=\"0\", job=\"db\"}: 120@0 120@120 120@240\n");
  EXPECT_EQ(
      RangeText(R"(http_requests{job="db"} @ start() offset -1m)", 2 * kMin, 4 * kMin, 2 * kMin),
      "http_requests{instance=\"0\", job=\"db\"}: 90@120 90@240\n");
}

TEST_F(EngineTest, SelectLoadsOnlyTheQueryRangePlusLookbackAndOffset) {
  ASSERT_TRUE(Instant(R"(http_requests offset 1m)", 10 * kMin).ok());
  ASSERT_EQ(q.selects.size(), 1u);
  EXPECT_EQ(q.selects[0].first, 4 * kMin);
  EXPECT_EQ(q.selects[0].second, 9 * kMin);
}

TEST_F(EngineTest, TopLevelRangeSelectorIsClosedOnBothEndsAndDropsStaleMarkers) {
  q.Add(L({{"__name__", "m"}}), "1 2 stale 4 5");
  EXPECT_EQ(Vec("m[2m]", 3 * kMin), "m: 2@60 4@180\n");
  EXPECT_EQ(Vec("m[2m] offset 1m", 4 * kMin), "m: 2@60 4@180\n");
}

TEST_F(EngineTest, RangeFunctionDropsNameButLastOverTimeKeepsIt) {
  EXPECT_EQ(Vec(R"(count_over_time(http_requests{job="db"}[5m]))", 5 * kMin),
            "{instance=\"0\", job=\"db\"} 6\n");
  EXPECT_EQ(Vec(R"(last_over_time(http_requests{job="db"}[5m]))", 5 * kMin),
            "http_requests{instance=\"0\", job=\"db\"} 150\n");
}

TEST_F(EngineTest, TimestampOfSelectorGivesSampleTimes) {
  EXPECT_EQ(Vec(R"(timestamp(http_requests{job="db"}))", 150'000),
            "{instance=\"0\", job=\"db\"} 120\n");
  EXPECT_EQ(Vec(R"(timestamp(-http_requests{job="db"}))", 150'000),
            "{instance=\"0\", job=\"db\"} 150\n");
}

TEST_F(EngineTest, AbsentOverTimeMarksStepsWithoutSamples) {
  q.Add(L({{"__name__", "gap"}, {"job", "x"}}), "1 _ _ _ 5");
  EXPECT_EQ(RangeText(R"(absent_over_time(gap{job="x"}[1m]))", 0, 5 * kMin, kMin),
            "{job=\"x\"}: 1@120 1@180\n");
  EXPECT_EQ(Vec(R"(absent_over_time(nothing{job="x"}[1m]))", 0), "{job=\"x\"} 1\n");
}

// --- subqueries ---

TEST_F(EngineTest, SubqueryStepsAlignToAbsoluteMultiplesOfTheStep) {
  // Window (150 s - 5 m, 150 s]: steps at -120, -60, 0, 60, 120 s; data starts at 0.
  EXPECT_EQ(Vec(R"(http_requests{job="db"}[5m:1m])", 150'000),
            "http_requests{instance=\"0\", job=\"db\"}: 0@0 30@60 60@120\n");
  EXPECT_EQ(Vec(R"(count_over_time(http_requests{job="db"}[5m:1m]))", 150'000),
            "{instance=\"0\", job=\"db\"} 3\n");
  EXPECT_EQ(Vec(R"(http_requests{job="db"}[4m:90s] offset 1m)", 6 * kMin),
            "http_requests{instance=\"0\", job=\"db\"}: 30@90 90@180 120@270\n");
}

TEST_F(EngineTest, SubqueryDefaultsToTheEngineStep) {
  Engine coarse(EngineOptions{5 * kMin, 2 * kMin});
  auto expr = ParseExpr(R"(count_over_time(http_requests{job="db"}[6m:]))");
  ASSERT_TRUE(expr.ok());
  auto v = coarse.Instant(&q, **expr, 6 * kMin);
  ASSERT_TRUE(v.ok()) << v.status().ToString();
  EXPECT_EQ(Show(std::get<Vector>(*v)), "{instance=\"0\", job=\"db\"} 4\n");  // 0, 2, 4, 6 m
}

TEST_F(EngineTest, SubqueryOfRangeQueryIsEvaluatedPerOuterStep) {
  EXPECT_EQ(RangeText(R"(max_over_time(rate(http_requests{job="db"}[2m])[3m:1m]))", 3 * kMin,
                      5 * kMin, kMin),
            "{instance=\"0\", job=\"db\"}: 0.5@180 0.5@240 0.5@300\n");
}

// --- range queries ---

TEST_F(EngineTest, RangeQueryStepsFromStartToEndSortedByLabels) {
  EXPECT_EQ(RangeText(R"(sum by (job) (http_requests))", 0, 150'000, kMin),
            "{job=\"api\"}: 0@0 30@60 60@120\n{job=\"db\"}: 0@0 30@60 60@120\n");
}

TEST_F(EngineTest, RangeQueryOfScalarIsOneSeriesWithoutLabels) {
  EXPECT_EQ(RangeText("1 + 2", 0, 2 * kMin, kMin), "{}: 3@0 3@60 3@120\n");
  EXPECT_EQ(RangeText("time()", 0, 2 * kMin, kMin), "{}: 0@0 60@60 120@120\n");
}

TEST_F(EngineTest, RangeQueryRejectsRangeVectorsAndStrings) {
  auto expr = ParseExpr("http_requests[5m]");
  ASSERT_TRUE(expr.ok());
  auto m = engine.Range(&q, **expr, 0, kMin, kMin);
  ASSERT_FALSE(m.ok());
  EXPECT_EQ(m.status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(m.status().message(),
            "invalid expression type \"range vector\" for range query, must be Scalar or instant "
            "Vector");
}

TEST_F(EngineTest, SeriesDisappearsFromStepsWithoutData) {
  q.Add(L({{"__name__", "late"}}), "1 2", kMin, 20 * kMin);
  EXPECT_EQ(RangeText("late", 15 * kMin, 30 * kMin, 5 * kMin), "late: 1@1200 2@1500\n");
}

// --- literals, unary ---

TEST_F(EngineTest, LiteralsAndUnaryMinus) {
  EXPECT_EQ(Vec("-(2 ^ 3)", 0), "scalar -8");
  EXPECT_EQ(Vec(R"("hello")", 0), "string hello");
  EXPECT_EQ(Vec(R"(-http_requests{job="db"})", 2 * kMin), "{instance=\"0\", job=\"db\"} -60\n");
  EXPECT_EQ(Vec(R"(+http_requests{job="db"})", 2 * kMin),
            "http_requests{instance=\"0\", job=\"db\"} 60\n");
}

TEST_F(EngineTest, UnaryMinusRejectsSeriesThatCollideWithoutTheirName) {
  q.Add(L({{"__name__", "a"}, {"x", "1"}}), "1");
  q.Add(L({{"__name__", "b"}, {"x", "1"}}), "2");
  Status st = ErrorOf(R"(-{x="1"})", 0);
  EXPECT_EQ(st.code(), StatusCode::kFailedPrecondition);
  EXPECT_EQ(st.message(), "vector cannot contain metrics with the same labelset");
}

// --- binary operators ---

TEST_F(EngineTest, ScalarArithmeticFollowsGoMath) {
  EXPECT_EQ(Vec("-7 % 3", 0), "scalar -1");
  EXPECT_EQ(Vec("7 % -3", 0), "scalar 1");
  EXPECT_EQ(Vec("5 % 0", 0), "scalar NaN");
  EXPECT_EQ(Vec("1 / 0", 0), "scalar +Inf");
  EXPECT_EQ(Vec("-1 / 0", 0), "scalar -Inf");
  EXPECT_EQ(Vec("0 / 0", 0), "scalar NaN");
  EXPECT_EQ(Vec("NaN ^ 0", 0), "scalar 1");
  EXPECT_EQ(Vec("2 ^ 3 ^ 2", 0), "scalar 512");
  EXPECT_EQ(Vec("1 atan2 0", 0), "scalar 1.570796327");
  EXPECT_EQ(Vec("3 > bool 2", 0), "scalar 1");
  EXPECT_EQ(Vec("NaN == bool NaN", 0), "scalar 0");
}

TEST_F(EngineTest, VectorScalarArithmeticDropsNameComparisonFilters) {
  EXPECT_EQ(Vec(R"(http_requests{job="api"} * 2)", 2 * kMin),
            "{instance=\"0\", job=\"api\"} 40\n{instance=\"1\", job=\"api\"} 80\n");
  EXPECT_EQ(Vec(R"(http_requests{job="api"} > 30)", 2 * kMin),
            "http_requests{instance=\"1\", job=\"api\"} 40\n");
  // Scalar on the left: the vector's value is kept.
  EXPECT_EQ(Vec(R"(30 < http_requests{job="api"})", 2 * kMin),
            "http_requests{instance=\"1\", job=\"api\"} 40\n");
  EXPECT_EQ(Vec(R"(http_requests{job="api"} > bool 30)", 2 * kMin),
            "{instance=\"0\", job=\"api\"} 0\n{instance=\"1\", job=\"api\"} 1\n");
  EXPECT_EQ(Vec(R"(100 - http_requests{job="db"})", 2 * kMin), "{instance=\"0\", job=\"db\"} 40\n");
}

TEST_F(EngineTest, VectorMatchingOneToOne) {
  q.Add(L({{"__name__", "limit"}, {"job", "api"}, {"instance", "0"}}), "100 100 100");
  q.Add(L({{"__name__", "limit"}, {"job", "api"}, {"instance", "1"}}), "50 50 50");
  EXPECT_EQ(Vec(R"(http_requests / limit)", 2 * kMin),
            "{instance=\"0\", job=\"api\"} 0.2\n{instance=\"1\", job=\"api\"} 0.8\n");
  EXPECT_EQ(Vec(R"(http_requests > limit)", 2 * kMin), "");
  EXPECT_EQ(Vec(R"(http_requests < bool limit)", 2 * kMin),
            "{instance=\"0\", job=\"api\"} 1\n{instance=\"1\", job=\"api\"} 1\n");
  EXPECT_EQ(Vec(R"(http_requests{instance="0"} + on (job) limit{instance="1"})", 2 * kMin),
            "{job=\"api\"} 70\n");
  EXPECT_EQ(
      Vec(R"(http_requests{instance="0"} + ignoring (instance) limit{instance="1"})", 2 * kMin),
      "{job=\"api\"} 70\n");
  // A comparison keeps the left side's name, but one-to-one `on` keeps only the listed labels.
  EXPECT_EQ(Vec(R"(http_requests{instance="1"} <= limit)", 2 * kMin),
            "http_requests{instance=\"1\", job=\"api\"} 40\n");
  EXPECT_EQ(Vec(R"(http_requests{instance="1"} <= on (job, instance) limit)", 2 * kMin),
            "{instance=\"1\", job=\"api\"} 40\n");
}

TEST_F(EngineTest, VectorMatchingGroupLeftCopiesIncludedLabels) {
  q.Add(L({{"__name__", "info"}, {"job", "api"}, {"version", "v2"}}), "1 1 1");
  EXPECT_EQ(Vec(R"(http_requests * on (job) group_left (version) info)", 2 * kMin),
            "{instance=\"0\", job=\"api\", version=\"v2\"} 20\n"
            "{instance=\"1\", job=\"api\", version=\"v2\"} 40\n");
  EXPECT_EQ(Vec(R"(info * on (job) group_right (version) http_requests)", 2 * kMin),
            "{instance=\"0\", job=\"api\", version=\"v2\"} 20\n"
            "{instance=\"1\", job=\"api\", version=\"v2\"} 40\n");
}

TEST_F(EngineTest, ManyToManyMatchingIsAnErrorLikePrometheus) {
  q.Add(L({{"__name__", "info"}, {"job", "api"}, {"version", "v2"}}), "1 1 1");
  Status st = ErrorOf(R"(info + on (job) http_requests)", 2 * kMin);
  EXPECT_EQ(st.code(), StatusCode::kFailedPrecondition);
  EXPECT_EQ(st.message(),
            "found duplicate series for the match group {job=\"api\"} on the right hand-side of "
            "the operation: [{__name__=\"http_requests\", instance=\"1\", job=\"api\"}, "
            "{__name__=\"http_requests\", instance=\"0\", job=\"api\"}];many-to-many matching "
            "not allowed: matching labels must be unique on one side");
  st = ErrorOf(R"(http_requests + on (job) info)", 2 * kMin);
  EXPECT_EQ(st.message(),
            "multiple matches for labels: many-to-one matching must be explicit "
            "(group_left/group_right)");
  st = ErrorOf(R"(http_requests * on (job) group_right info)", 2 * kMin);
  EXPECT_NE(st.message().find("on the left hand-side of the operation"), std::string::npos);
}

TEST_F(EngineTest, SetOperators) {
  q.Add(L({{"__name__", "up"}, {"job", "api"}, {"instance", "0"}}), "1 1 1");
  EXPECT_EQ(Vec(R"(http_requests and up)", 2 * kMin),
            "http_requests{instance=\"0\", job=\"api\"} 20\n");
  EXPECT_EQ(Vec(R"(http_requests and on (job) up)", 2 * kMin),
            "http_requests{instance=\"0\", job=\"api\"} 20\n"
            "http_requests{instance=\"1\", job=\"api\"} 40\n");
  EXPECT_EQ(Vec(R"(http_requests unless on (job) up)", 2 * kMin),
            "http_requests{instance=\"0\", job=\"db\"} 60\n");
  EXPECT_EQ(Vec(R"(up or http_requests{job="db"})", 2 * kMin),
            "up{instance=\"0\", job=\"api\"} 1\nhttp_requests{instance=\"0\", job=\"db\"} 60\n");
  EXPECT_EQ(Vec(R"(up or ignoring (__name__) http_requests{job="api"})", 2 * kMin),
            "up{instance=\"0\", job=\"api\"} 1\nhttp_requests{instance=\"1\", job=\"api\"} 40\n");
  EXPECT_EQ(Vec(R"(nothing or up)", 2 * kMin), "up{instance=\"0\", job=\"api\"} 1\n");
  EXPECT_EQ(Vec(R"(up unless nothing)", 2 * kMin), "up{instance=\"0\", job=\"api\"} 1\n");
}

TEST_F(EngineTest, VectorArithmeticWithInfAndNaN) {
  q.Add(L({{"__name__", "a"}}), "Inf NaN 0");
  q.Add(L({{"__name__", "b"}}), "Inf 1 0");
  EXPECT_EQ(RangeText(R"(a - ignoring(__name__) b)", 0, 2 * kMin, kMin),
            "{}: NaN@0 NaN@60 0@120\n");
  EXPECT_EQ(RangeText(R"(a / ignoring(__name__) b)", 0, 2 * kMin, kMin),
            "{}: NaN@0 NaN@60 NaN@120\n");
  // Ignoring __name__ removes it from a one-to-one result even for a comparison.
  EXPECT_EQ(RangeText(R"(a == ignoring(__name__) b)", 0, 2 * kMin, kMin), "{}: +Inf@0 0@120\n");
  EXPECT_EQ(RangeText(R"(a == on() b)", 0, 2 * kMin, kMin), "{}: +Inf@0 0@120\n");
}

TEST_F(EngineTest, EveryComparisonFiltersAndBoolTurnsIntoZeroOrOne) {
  const int64_t t = 2 * kMin;  // 20, 40 (api), 60 (db)
  EXPECT_EQ(Vec("http_requests == 40", t), "http_requests{instance=\"1\", job=\"api\"} 40\n");
  EXPECT_EQ(Vec("count(http_requests != 40)", t), "{} 2\n");
  EXPECT_EQ(Vec("count(http_requests >= 40)", t), "{} 2\n");
  EXPECT_EQ(Vec("count(http_requests <= 40)", t), "{} 2\n");
  EXPECT_EQ(Vec("count(http_requests < 40)", t), "{} 1\n");
  EXPECT_EQ(Vec("sum(http_requests != bool 40)", t), "{} 2\n");
  EXPECT_EQ(Vec("sum(http_requests >= bool 40)", t), "{} 2\n");
  EXPECT_EQ(Vec("sum(http_requests <= bool 40)", t), "{} 2\n");
  EXPECT_EQ(Vec("sum(http_requests == bool 40)", t), "{} 1\n");
}

TEST_F(EngineTest, ManyToOneNeedsGroupingLabelsThatKeepResultsUnique) {
  q.Add(L({{"__name__", "info"}, {"job", "api"}}), "1 1 1");
  Status st = ErrorOf(R"(info * on (job) group_right sum by (job) (http_requests))", 2 * kMin);
  EXPECT_EQ(st.message(), "");
  st = ErrorOf(R"(count by (job) (http_requests) * on (job) group_left http_requests)", 2 * kMin);
  EXPECT_EQ(st.code(), StatusCode::kFailedPrecondition);
  EXPECT_NE(st.message().find("found duplicate series for the match group {job=\"api\"}"),
            std::string::npos);
  // Two left series that differ only in their name collide once the name is dropped.
  q.Add(L({{"__name__", "y"}, {"job", "api"}, {"instance", "0"}}), "1 1 1");
  st = ErrorOf(R"({__name__=~"http_requests|y", instance="0", job="api"})"
               R"( * on (job) group_left sum by (job) (http_requests))",
               2 * kMin);
  EXPECT_EQ(st.code(), StatusCode::kFailedPrecondition);
  EXPECT_EQ(st.message(),
            "multiple matches for labels: grouping labels must ensure unique matches");
}

TEST_F(EngineTest, AtModifierOnRangeFunctionsAndSubqueriesGivesTheSameValueAtEveryStep) {
  EXPECT_EQ(RangeText(R"(count_over_time(http_requests{job="db"}[2m] @ 240))", 0, 2 * kMin, kMin),
            "{instance=\"0\", job=\"db\"}: 3@0 3@60 3@120\n");
  EXPECT_EQ(RangeText(R"(max_over_time(http_requests{job="db"}[2m:1m] @ 240))", 0, kMin, kMin),
            "{instance=\"0\", job=\"db\"}: 120@0 120@60\n");
  // A selector pinned inside a subquery ignores the subquery's steps.
  EXPECT_EQ(Vec(R"(max_over_time((http_requests{job="db"} @ 60)[5m:1m]))", 8 * kMin),
            "{instance=\"0\", job=\"db\"} 30\n");
}

TEST_F(EngineTest, RangeQueryCountsEveryStepAgainstTheSampleLimit) {
  auto expr = ParseExpr("http_requests");
  ASSERT_TRUE(expr.ok());
  QueryLimits limits;
  limits.max_samples = 32;  // 3 series x 11 steps of results
  auto m = engine.Range(&q, **expr, 0, 10 * kMin, kMin, limits);
  ASSERT_FALSE(m.ok());
  EXPECT_EQ(m.status().code(), StatusCode::kFailedPrecondition);
  limits.max_samples = 33;
  EXPECT_TRUE(engine.Range(&q, **expr, 0, 10 * kMin, kMin, limits).ok());
  // A range function holds its window's points while it runs, as in Prometheus.
  auto count = ParseExpr(R"(count_over_time(http_requests{job="db"}[10m]))");
  ASSERT_TRUE(count.ok());
  limits.max_samples = 10;  // the window holds 11 points
  EXPECT_FALSE(engine.Range(&q, **count, 10 * kMin, 10 * kMin, kMin, limits).ok());
  limits.max_samples = 11;
  EXPECT_TRUE(engine.Range(&q, **count, 10 * kMin, 10 * kMin, kMin, limits).ok());
}

// --- aggregations ---

TEST_F(EngineTest, SimpleAggregationsByAndWithout) {
  const int64_t t = 2 * kMin;  // values 20, 40 (api) and 60 (db)
  EXPECT_EQ(Vec("sum(http_requests)", t), "{} 120\n");
  EXPECT_EQ(Vec("sum by (job) (http_requests)", t), "{job=\"api\"} 60\n{job=\"db\"} 60\n");
  EXPECT_EQ(Vec("sum without (instance) (http_requests)", t),
            "{job=\"api\"} 60\n{job=\"db\"} 60\n");
  EXPECT_EQ(Vec("max by (__name__) (http_requests)", t), "http_requests 60\n");
  EXPECT_EQ(Vec("avg(http_requests)", t), "{} 40\n");
  EXPECT_EQ(Vec("min(http_requests)", t), "{} 20\n");
  EXPECT_EQ(Vec("count by (instance) (http_requests)", t),
            "{instance=\"0\"} 2\n{instance=\"1\"} 1\n");
  EXPECT_EQ(Vec("group by (job) (http_requests)", t), "{job=\"api\"} 1\n{job=\"db\"} 1\n");
  EXPECT_EQ(Vec("stdvar(http_requests)", t), "{} 266.6666667\n");
  EXPECT_EQ(Vec("stddev(http_requests)", t), "{} 16.32993162\n");
  EXPECT_EQ(Vec("sum(nothing)", t), "");
}

TEST_F(EngineTest, AvgHandlesInfinitiesAndHugeValues) {
  q.Add(L({{"__name__", "big"}, {"i", "1"}}), "1e308 Inf Inf");
  q.Add(L({{"__name__", "big"}, {"i", "2"}}), "1e308 1 -Inf");
  EXPECT_EQ(Vec("avg(big)", 0), "{} 1e+308\n");
  EXPECT_EQ(Vec("avg(big)", kMin), "{} +Inf\n");
  EXPECT_EQ(Vec("avg(big)", 2 * kMin), "{} NaN\n");
  EXPECT_EQ(Vec("sum(big)", 0), "{} +Inf\n");
}

TEST_F(EngineTest, MinMaxSkipNaNUnlessAllAreNaN) {
  q.Add(L({{"__name__", "n"}, {"i", "1"}}), "NaN NaN");
  q.Add(L({{"__name__", "n"}, {"i", "2"}}), "3 NaN");
  EXPECT_EQ(Vec("max(n)", 0), "{} 3\n");
  EXPECT_EQ(Vec("min(n)", 0), "{} 3\n");
  EXPECT_EQ(Vec("max(n)", kMin), "{} NaN\n");
}

TEST_F(EngineTest, TopkBottomkKeepLabelsAndOrder) {
  const int64_t t = 2 * kMin;
  EXPECT_EQ(Vec("topk(2, http_requests)", t),
            "http_requests{instance=\"0\", job=\"db\"} 60\n"
            "http_requests{instance=\"1\", job=\"api\"} 40\n");
  EXPECT_EQ(Vec("bottomk by (job) (1, http_requests)", t),
            "http_requests{instance=\"0\", job=\"api\"} 20\n"
            "http_requests{instance=\"0\", job=\"db\"} 60\n");
  EXPECT_EQ(Vec("topk(0, http_requests)", t), "");
  EXPECT_EQ(Vec("topk(-1, http_requests)", t), "");
  EXPECT_EQ(Vec("topk(100, http_requests)", t).size(), Vec("http_requests", t).size());
  Status st = ErrorOf("topk(NaN, http_requests)", t);
  EXPECT_EQ(st.message(), "Scalar value NaN overflows int64");
}

TEST_F(EngineTest, TopkPrefersNumbersOverNaN) {
  q.Add(L({{"__name__", "n"}, {"i", "1"}}), "NaN");
  q.Add(L({{"__name__", "n"}, {"i", "2"}}), "3");
  q.Add(L({{"__name__", "n"}, {"i", "3"}}), "1");
  EXPECT_EQ(Vec("topk(1, n)", 0), "n{i=\"2\"} 3\n");
  EXPECT_EQ(Vec("bottomk(1, n)", 0), "n{i=\"3\"} 1\n");
}

TEST_F(EngineTest, QuantileInterpolatesAndClampsPhiToInfinities) {
  const int64_t t = 2 * kMin;
  EXPECT_EQ(Vec("quantile(0.5, http_requests)", t), "{} 40\n");
  EXPECT_EQ(Vec("quantile(0.25, http_requests)", t), "{} 30\n");
  EXPECT_EQ(Vec("quantile(2, http_requests)", t), "{} +Inf\n");
  EXPECT_EQ(Vec("quantile(-1, http_requests)", t), "{} -Inf\n");
}

TEST_F(EngineTest, CountValuesLabelsByValue) {
  q.Add(L({{"__name__", "v"}, {"i", "1"}}), "1.5");
  q.Add(L({{"__name__", "v"}, {"i", "2"}}), "1.5");
  q.Add(L({{"__name__", "v"}, {"i", "3"}}), "1e21");
  EXPECT_EQ(Vec(R"(count_values("val", v))", 0),
            "{val=\"1.5\"} 2\n{val=\"1000000000000000000000\"} 1\n");
  EXPECT_EQ(Vec(R"(count_values without (i) ("val", v))", 0),
            "{val=\"1.5\"} 2\n{val=\"1000000000000000000000\"} 1\n");
  Status st = ErrorOf(R"(count_values("bad-name", v))", 0);
  EXPECT_EQ(st.code(), StatusCode::kFailedPrecondition);
  EXPECT_EQ(st.message(), "invalid label name \"bad-name\"");
}

TEST_F(EngineTest, AggregationParameterMayChangePerStep) {
  // k is 1 at 60 s (db = 30) and 2 at 120 s (db = 60).
  EXPECT_EQ(RangeText(R"(topk(scalar(http_requests{job="db"}) / 30, http_requests{job="api"}))",
                      kMin, 2 * kMin, kMin),
            "http_requests{instance=\"0\", job=\"api\"}: 20@120\n"
            "http_requests{instance=\"1\", job=\"api\"}: 20@60 40@120\n");
}

// --- limits and errors ---

TEST_F(EngineTest, TooManySamplesStopsTheQuery) {
  QueryLimits limits;
  limits.max_samples = 2;
  auto v = Instant("http_requests", 2 * kMin, limits);
  ASSERT_FALSE(v.ok());
  EXPECT_EQ(v.status().code(), StatusCode::kFailedPrecondition);
  EXPECT_EQ(v.status().message(),
            "query processing would load too many samples into memory in query execution");
  // Counted as Prometheus counts: the 3 result samples, not the 9 read.
  limits.max_samples = 3;
  EXPECT_TRUE(Instant("http_requests", 2 * kMin, limits).ok());
  EXPECT_EQ(stats.samples_loaded, 9);
  EXPECT_EQ(stats.peak_samples, 3);
}

TEST_F(EngineTest, SamplesReadFromTheStoreAreBoundedApart) {
  // 0, 60, 120 s of 3 series: 9 samples read for 3 results.
  auto expr = ParseExpr("http_requests");
  ASSERT_TRUE(expr.ok());
  QueryLimits limits;
  limits.max_samples = 4;
  Engine small_reads(EngineOptions{.min_read_budget = 8});
  auto v = small_reads.Instant(&q, **expr, 2 * kMin, limits);
  ASSERT_FALSE(v.ok());
  EXPECT_EQ(v.status().message(),
            "query processing would load too many samples into memory in query execution");
  limits.max_samples = 5;  // reads up to 2 x 5
  EXPECT_TRUE(small_reads.Instant(&q, **expr, 2 * kMin, limits).ok());
}

TEST_F(EngineTest, HugeSubqueryStopsAtTheSampleLimitInsteadOfAllocating) {
  Status st = ErrorOf("count_over_time(vector(1)[1000d:1ms])", 0);
  EXPECT_EQ(st.code(), StatusCode::kFailedPrecondition);
  QueryLimits limits;
  limits.max_samples = 1000;
  auto v = Instant(R"(count_over_time(http_requests{job="db"}[1d:1ms]))", 10 * kMin, limits);
  ASSERT_FALSE(v.ok());
  EXPECT_EQ(v.status().code(), StatusCode::kFailedPrecondition);
}

// @ times near the ends of int64 (the parser turns seconds beyond ±9.2e15 into INT64_MIN, as
// Go does) and query times and steps near them must not overflow the time arithmetic.
TEST_F(EngineTest, ExtremeTimesAreClampedInsteadOfOverflowing) {
  EXPECT_EQ(Vec("http_requests @ 9223372036854774", 0), "");
  EXPECT_EQ(Vec("http_requests @ 9e18", 0), "");
  EXPECT_EQ(Vec("http_requests @ -9223372036854775 offset -1y", 0), "");
  EXPECT_EQ(Vec("max_over_time(vector(1)[5m:1m] @ 9223372036854774)", 0), "{} 1\n");
  EXPECT_EQ(Vec("sum_over_time(http_requests[5m] @ 9223372036854773 offset -1y)", 0), "");
  const int64_t kMax = std::numeric_limits<int64_t>::max();
  EXPECT_EQ(RangeText("vector(1)", kMax - 10, kMax, kMax), "{}: 1@2305843009213693\n");
  EXPECT_EQ(RangeText("http_requests", -kMax, -kMax + 10, 1), "");
}

TEST_F(EngineTest, DeadlineInThePastTimesOut) {
  QueryLimits limits;
  limits.deadline = std::chrono::steady_clock::now() - std::chrono::seconds(1);
  auto v = Instant("sum(http_requests)", 2 * kMin, limits);
  ASSERT_FALSE(v.ok());
  EXPECT_EQ(v.status().code(), StatusCode::kDeadlineExceeded);
  EXPECT_EQ(v.status().message(), "query timed out in expression evaluation");
}

TEST_F(EngineTest, FunctionThatDropsNamesRejectsCollisions) {
  q.Add(L({{"__name__", "a"}, {"x", "1"}}), "1");
  q.Add(L({{"__name__", "b"}, {"x", "1"}}), "2");
  EXPECT_EQ(Vec(R"(abs({x="1"}))", 0),
            "error: vector cannot contain metrics with the same labelset");
  EXPECT_EQ(RangeText(R"(abs({x="1"}))", 0, kMin, kMin),
            "error: vector cannot contain metrics with the same labelset");
  EXPECT_EQ(Vec(R"(rate({x="1"}[5m]))", 0), "");  // one point each: no rate, no collision
}

TEST_F(EngineTest, RangeFunctionRejectsCollisionsOnlyAcrossMetricNames) {
  q.Add(L({{"__name__", "a"}, {"x", "1"}}), "0+1x10");
  q.Add(L({{"__name__", "b"}, {"x", "1"}}), "0+2x10");
  q.Add(L({{"__name__", "a"}, {"x", "2"}}), "0+3x10");
  EXPECT_EQ(Vec(R"(rate({x="1"}[5m]))", 5 * kMin),
            "error: vector cannot contain metrics with the same labelset");
  EXPECT_EQ(Vec(R"(delta(a[5m]))", 5 * kMin), "{x=\"1\"} 5\n{x=\"2\"} 15\n");
}

}  // namespace
}  // namespace steward::promql
