#include "metrics/registry.h"

#include <gtest/gtest.h>

#include <cmath>
#include <thread>
#include <vector>

namespace steward::metrics {
namespace {

TEST(FormatValue, MatchesPrometheusSpelling) {
  EXPECT_EQ(FormatValue(0), "0");
  EXPECT_EQ(FormatValue(-0.0), "0");
  EXPECT_EQ(FormatValue(42), "42");
  EXPECT_EQ(FormatValue(-3), "-3");
  EXPECT_EQ(FormatValue(1e6), "1000000");
  EXPECT_EQ(FormatValue(0.005), "0.005");
  EXPECT_EQ(FormatValue(2.5), "2.5");
  EXPECT_EQ(FormatValue(0.1 + 0.2), "0.30000000000000004");
  EXPECT_EQ(FormatValue(INFINITY), "+Inf");
  EXPECT_EQ(FormatValue(-INFINITY), "-Inf");
  EXPECT_EQ(FormatValue(NAN), "NaN");
}

TEST(Registry, RendersUnlabelledCounterAndGaugeFromTheStart) {
  Registry r;
  r.AddCounter("jobs_total", "Jobs run.");
  Gauge& g = r.AddGauge("queue_depth", "Jobs waiting.").WithLabels({});
  g.Set(7);
  g.Add(-2.5);
  EXPECT_EQ(r.Render(),
            "# HELP jobs_total Jobs run.\n"
            "# TYPE jobs_total counter\n"
            "jobs_total 0\n"
            "# HELP queue_depth Jobs waiting.\n"
            "# TYPE queue_depth gauge\n"
            "queue_depth 4.5\n");
}

TEST(Registry, RendersLabelledSamplesSortedByLabelValues) {
  Registry r;
  auto& f = r.AddCounter("http_requests_total", "Requests.", {"path", "code"});
  f.WithLabels({"/b", "200"}).Inc();
  f.WithLabels({"/a", "500"}).Inc(2);
  f.WithLabels({"/a", "200"}).Inc(3);
  f.WithLabels({"/b", "200"}).Inc();
  EXPECT_EQ(r.Render(),
            "# HELP http_requests_total Requests.\n"
            "# TYPE http_requests_total counter\n"
            "http_requests_total{path=\"/a\",code=\"200\"} 3\n"
            "http_requests_total{path=\"/a\",code=\"500\"} 2\n"
            "http_requests_total{path=\"/b\",code=\"200\"} 2\n");
}

TEST(Registry, OmitsLabelledFamilyWithNoChildren) {
  Registry r;
  r.AddCounter("untouched_total", "Nothing yet.", {"kind"});
  EXPECT_EQ(r.Render(), "");
}

TEST(Registry, RendersFamiliesInRegistrationOrder) {
  Registry r;
  r.AddGauge("zeta", "z");
  r.AddGauge("alpha", "a");
  std::string out = r.Render();
  EXPECT_LT(out.find("zeta"), out.find("alpha"));
}

TEST(Registry, EscapesHelpAndLabelValues) {
  Registry r;
  r.AddGauge("odd", "A \\ backslash\nand a \"quote\".", {"v"}).WithLabels({"a\\b \"c\"\nd"}).Set(1);
  EXPECT_EQ(r.Render(),
            "# HELP odd A \\\\ backslash\\nand a \"quote\".\n"
            "# TYPE odd gauge\n"
            "odd{v=\"a\\\\b \\\"c\\\"\\nd\"} 1\n");
}

TEST(Registry, RendersCumulativeHistogramBuckets) {
  Registry r;
  Histogram& h =
      r.AddHistogram("latency_seconds", "Latency.", {"path"}, {0.1, 0.5, 1}).WithLabels({"/"});
  h.Observe(0.05);
  h.Observe(0.1);  // le is inclusive
  h.Observe(0.3);
  h.Observe(7);
  EXPECT_EQ(r.Render(),
            "# HELP latency_seconds Latency.\n"
            "# TYPE latency_seconds histogram\n"
            "latency_seconds_bucket{path=\"/\",le=\"0.1\"} 2\n"
            "latency_seconds_bucket{path=\"/\",le=\"0.5\"} 3\n"
            "latency_seconds_bucket{path=\"/\",le=\"1\"} 3\n"
            "latency_seconds_bucket{path=\"/\",le=\"+Inf\"} 4\n"
            "latency_seconds_sum{path=\"/\"} 7.45\n"
            "latency_seconds_count{path=\"/\"} 4\n");
}

TEST(Registry, HistogramWithoutLabelsUsesDefaultBuckets) {
  Registry r;
  r.AddHistogram("d_seconds", "D.", {}).WithLabels({}).Observe(0.02);
  std::string out = r.Render();
  EXPECT_NE(out.find("d_seconds_bucket{le=\"0.01\"} 0\n"), std::string::npos);
  EXPECT_NE(out.find("d_seconds_bucket{le=\"0.025\"} 1\n"), std::string::npos);
  EXPECT_NE(out.find("d_seconds_bucket{le=\"10\"} 1\n"), std::string::npos);
  EXPECT_NE(out.find("d_seconds_bucket{le=\"+Inf\"} 1\n"), std::string::npos);
  EXPECT_NE(out.find("d_seconds_sum 0.02\nd_seconds_count 1\n"), std::string::npos);
  EXPECT_EQ(DefaultBuckets().size(), 11u);
}

TEST(Registry, WithLabelsReturnsTheSameChildEveryTime) {
  Registry r;
  auto& f = r.AddCounter("c_total", "c", {"k"});
  Counter* first = &f.WithLabels({"x"});
  for (int i = 0; i < 100; ++i) f.WithLabels({std::to_string(i)});
  EXPECT_EQ(first, &f.WithLabels({"x"}));
}

TEST(Registry, ConcurrentIncrementsSumExactly) {
  Registry r;
  auto& f = r.AddCounter("hits_total", "Hits.", {"worker"});
  Gauge& g = r.AddGauge("level", "Level.").WithLabels({});
  constexpr int kThreads = 4;
  constexpr int kPerThread = 20000;
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < kPerThread; ++i) {
        f.WithLabels({"shared"}).Inc();
        f.WithLabels({std::to_string(t % 2)}).Inc(0.5);
        g.Add(1);
      }
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(f.WithLabels({"shared"}).Value(), kThreads * kPerThread);
  EXPECT_EQ(f.WithLabels({"0"}).Value(), kThreads / 2 * kPerThread * 0.5);
  EXPECT_EQ(g.Value(), kThreads * kPerThread);
}

TEST(RegistryDeathTest, WrongLabelArityAborts) {
  Registry r;
  auto& f = r.AddCounter("c_total", "c", {"a", "b"});
  EXPECT_DEATH(f.WithLabels({"only-one"}), "has 2 labels, WithLabels got 1");
}

TEST(RegistryDeathTest, DuplicateNameAborts) {
  Registry r;
  r.AddGauge("g", "g");
  EXPECT_DEATH(r.AddCounter("g", "again"), "registered twice");
}

TEST(RegistryDeathTest, NegativeCounterIncrementAborts) {
  Registry r;
  Counter& c = r.AddCounter("c_total", "c").WithLabels({});
  EXPECT_DEATH(c.Inc(-1), "must be >= 0");
}

}  // namespace
}  // namespace steward::metrics
