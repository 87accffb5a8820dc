// The scrape manager against real HTTP targets (httplib on 127.0.0.1, port 0) and a recording
// FakeDb; ScrapeLoop directly for label rules that need no network.
#include <gtest/gtest.h>

#include <algorithm>
#include <set>

#include "metrics/registry.h"
#include "monitor/http_fetcher.h"
#include "monitor/scrape_loop.h"
#include "monitor/scrape_manager.h"
#include "unit/monitor/fake_db.h"
#include "unit/monitor/metrics_server.h"

namespace steward::monitor {
namespace {

using std::chrono::milliseconds;
using testing::FakeDb;
using testing::MetricsServer;
using testing::WaitFor;

const std::set<std::string> kReportNames = {
    "up", "scrape_duration_seconds", "scrape_samples_scraped",
    "scrape_samples_post_metric_relabeling", "scrape_series_added"};

tsdb::Labels L(std::vector<tsdb::Label> labels) {
  return tsdb::Labels::FromUnsorted(std::move(labels)).value();
}

TargetSpec Spec(const MetricsServer& server, milliseconds interval = milliseconds(100),
                const std::string& path = "/metrics") {
  TargetSpec s;
  s.job = "app";
  s.url = server.Url(path);
  s.labels = L({{"job", "app"}, {"instance", server.address()}});
  s.interval = interval;
  s.timeout = interval;
  return s;
}

class ScrapeManagerTest : public ::testing::Test {
 protected:
  void Start(std::vector<TargetSpec> targets, int64_t body_limit = 64LL << 20) {
    ScrapeManagerOptions o;
    o.metrics = &registry_;
    o.body_size_limit = body_limit;
    manager_ = std::make_unique<ScrapeManager>(&db_, o);
    manager_->SetTargets(std::move(targets));
    ASSERT_TRUE(manager_->Start().ok());
  }
  std::vector<tsdb::Sample> Report(const TargetSpec& t, const std::string& name) {
    return db_.Samples(t.labels.With(tsdb::kMetricName, name));
  }
  std::vector<tsdb::Sample> Series(const TargetSpec& t, std::vector<tsdb::Label> extra) {
    std::vector<tsdb::Label> all = t.labels.items();
    all.insert(all.end(), extra.begin(), extra.end());
    return db_.Samples(L(all));
  }
  // The scrape loop commits `up` before the manager records the scrape's health (which depends
  // on the commit's outcome), so wait for both.
  bool WaitScrapes(const TargetSpec& t, size_t n) {
    return WaitFor([&] {
      if (Report(t, "up").size() < n) return false;
      for (const TargetHealth& h : manager_->Targets())
        if (h.spec.url == t.url) return h.health != "unknown";
      return false;
    });
  }
  TargetHealth Health(size_t i = 0) { return manager_->Targets().at(i); }

  FakeDb db_;
  metrics::Registry registry_;
  std::unique_ptr<ScrapeManager> manager_;
};

TEST_F(ScrapeManagerTest, WritesUpAndScrapeSeriesLikePrometheus) {
  MetricsServer server;
  server.SetBody("# TYPE a counter\na_total 1\nb{x=\"1\"} 2\nb{x=\"2\"} 3\n");
  TargetSpec t = Spec(server);
  Start({t});
  ASSERT_TRUE(WaitScrapes(t, 2));
  manager_->Stop();

  auto up = Report(t, "up");
  EXPECT_EQ(up[0].v, 1);
  EXPECT_EQ(Report(t, "scrape_samples_scraped")[0].v, 3);
  EXPECT_EQ(Report(t, "scrape_samples_post_metric_relabeling")[0].v, 3);
  auto added = Report(t, "scrape_series_added");
  EXPECT_EQ(added[0].v, 3);
  EXPECT_EQ(added[1].v, 0);  // known series come from the cache
  auto duration = Report(t, "scrape_duration_seconds");
  EXPECT_GT(duration[0].v, 0);
  EXPECT_LT(duration[0].v, 1);
  // Every sample of a scrape carries the scrape's timestamp.
  auto a = Series(t, {{"__name__", "a_total"}});
  ASSERT_GE(a.size(), 2u);
  EXPECT_EQ(a[0].t, up[0].t);
  EXPECT_EQ(a[1].t, up[1].t);
  EXPECT_EQ(Series(t, {{"__name__", "b"}, {"x", "2"}})[0].v, 3);

  TargetHealth h = Health();
  EXPECT_EQ(h.health, "up");
  EXPECT_EQ(h.last_error, "");
  EXPECT_EQ(h.last_samples, 3);
  EXPECT_EQ(server.last_header("Accept"), kScrapeAcceptHeader);
  EXPECT_EQ(server.last_header("X-Prometheus-Scrape-Timeout-Seconds"), "0.1");
  EXPECT_NE(server.last_header("Accept-Encoding").find("gzip"), std::string::npos);
}

TEST_F(ScrapeManagerTest, KnownSeriesSkipTheLabelLookup) {
  MetricsServer server;
  server.SetBody("a 1\nb 2\nc 3\n");
  TargetSpec t = Spec(server);
  Start({t});
  ASSERT_TRUE(WaitScrapes(t, 4));
  manager_->Stop();
  // 3 series and 5 report series were resolved by labels once; later scrapes used refs.
  EXPECT_EQ(db_.appends_without_ref(), 8);
}

TEST_F(ScrapeManagerTest, ClashingScrapedLabelsBecomeExported) {
  MetricsServer server;
  server.SetBody("m{job=\"inner\",instance=\"x\",a=\"1\"} 1\n");
  TargetSpec t = Spec(server);
  Start({t});
  ASSERT_TRUE(WaitScrapes(t, 1));
  auto s = db_.Find({{"__name__", "m"}});
  ASSERT_EQ(s.size(), 1u);
  EXPECT_EQ(s[0].labels, L({{"__name__", "m"},
                            {"a", "1"},
                            {"job", "app"},
                            {"instance", server.address()},
                            {"exported_job", "inner"},
                            {"exported_instance", "x"}}));
}

TEST_F(ScrapeManagerTest, HonorLabelsKeepsScrapedValues) {
  MetricsServer server;
  server.SetBody("m{job=\"inner\"} 1\n");
  TargetSpec t = Spec(server);
  t.honor_labels = true;
  Start({t});
  ASSERT_TRUE(WaitScrapes(t, 1));
  auto s = db_.Find({{"__name__", "m"}});
  ASSERT_EQ(s.size(), 1u);
  EXPECT_EQ(s[0].labels, L({{"__name__", "m"}, {"job", "inner"}, {"instance", server.address()}}));
}

TEST_F(ScrapeManagerTest, HonorTimestampsDecidesWhoseTimeIsStored) {
  MetricsServer server;
  server.SetBody("m 1 1000\n");
  TargetSpec honored = Spec(server, milliseconds(100), "/a");
  TargetSpec ignored = Spec(server, milliseconds(100), "/b");
  ignored.honor_timestamps = false;
  ignored.labels = ignored.labels.With("path", "b");
  Start({honored, ignored});
  ASSERT_TRUE(WaitScrapes(honored, 1));
  ASSERT_TRUE(WaitScrapes(ignored, 1));
  EXPECT_EQ(Series(honored, {{"__name__", "m"}})[0].t, 1000);
  EXPECT_EQ(Series(ignored, {{"__name__", "m"}})[0].t, Report(ignored, "up")[0].t);
}

TEST_F(ScrapeManagerTest, DisappearedSeriesGetAStaleMarkerAtTheNextScrape) {
  MetricsServer server;
  server.SetBody("a 1\nb 2\n");
  TargetSpec t = Spec(server);
  Start({t});
  ASSERT_TRUE(WaitScrapes(t, 1));
  server.SetBody("a 1\n");
  ASSERT_TRUE(WaitFor([&] {
    auto b = Series(t, {{"__name__", "b"}});
    return !b.empty() && tsdb::IsStaleNaN(b.back().v);
  }));
  manager_->Stop();
  auto b = Series(t, {{"__name__", "b"}});
  auto up = Report(t, "up");
  bool at_a_scrape = false;
  for (const auto& s : up) at_a_scrape = at_a_scrape || s.t == b.back().t;
  EXPECT_TRUE(at_a_scrape) << "the stale marker carries the scrape's timestamp";
  EXPECT_FALSE(tsdb::IsStaleNaN(Series(t, {{"__name__", "a"}}).back().v));
}

TEST_F(ScrapeManagerTest, ServerErrorIsDownAndMarksSeriesStale) {
  MetricsServer server;
  server.SetBody("a 1\n");
  TargetSpec t = Spec(server);
  Start({t});
  ASSERT_TRUE(WaitScrapes(t, 1));
  server.SetStatus(500);
  ASSERT_TRUE(WaitFor([&] { return Report(t, "up").back().v == 0; }));
  EXPECT_TRUE(WaitFor([&] { return tsdb::IsStaleNaN(Series(t, {{"__name__", "a"}}).back().v); }));
  // Health is recorded just after the commit that made up 0 visible.
  EXPECT_TRUE(WaitFor([&] { return Health().health == "down"; }));
  TargetHealth h = Health();
  EXPECT_EQ(h.health, "down");
  EXPECT_EQ(h.last_error.rfind("server returned HTTP status 500", 0), 0u) << h.last_error;
  // The report series go on being written, with up 0.
  EXPECT_FALSE(tsdb::IsStaleNaN(Report(t, "up").back().v));
  EXPECT_NE(registry_.Render().find("steward_scrapes_total{result=\"http_error\"}"),
            std::string::npos);
}

TEST_F(ScrapeManagerTest, MalformedBodyStoresNothingOfItAndNamesTheLine) {
  MetricsServer server;
  server.SetBody("good 1\nbad{ 2\n");
  TargetSpec t = Spec(server);
  Start({t});
  ASSERT_TRUE(WaitScrapes(t, 2));
  TargetHealth h = Health();
  EXPECT_EQ(h.health, "down");
  EXPECT_NE(h.last_error.find("line 2"), std::string::npos) << h.last_error;
  EXPECT_EQ(Report(t, "up")[0].v, 0);
  for (const auto& s : db_.Find({{"job", "app"}})) {
    EXPECT_TRUE(kReportNames.count(std::string(s.labels.MetricName()))) << s.labels.ToString();
  }
  EXPECT_GE(db_.rollbacks(), 1);
}

TEST_F(ScrapeManagerTest, MalformedBodyAfterAGoodOneMarksTheOldSeriesStale) {
  MetricsServer server;
  server.SetBody("good 1\n");
  TargetSpec t = Spec(server);
  Start({t});
  ASSERT_TRUE(WaitScrapes(t, 1));
  server.SetBody("good 2\nbad{ 2\n");
  ASSERT_TRUE(WaitFor([&] { return Report(t, "up").back().v == 0; }));
  ASSERT_TRUE(WaitFor([&] {
    return tsdb::IsStaleNaN(Series(t, {{"__name__", "good"}}).back().v);
  }));
  for (const auto& s : Series(t, {{"__name__", "good"}})) {
    EXPECT_TRUE(s.v == 1 || tsdb::IsStaleNaN(s.v)) << "a sample of the bad body was stored";
  }
}

TEST_F(ScrapeManagerTest, TimeoutIsDown) {
  MetricsServer server;
  server.SetBody("a 1\n");
  server.SetDelay(milliseconds(2000));
  TargetSpec t = Spec(server, milliseconds(200));
  Start({t});
  ASSERT_TRUE(WaitScrapes(t, 1));
  TargetHealth h = Health();
  EXPECT_EQ(h.health, "down");
  EXPECT_NE(h.last_error.find("timed out after 200ms"), std::string::npos) << h.last_error;
  EXPECT_EQ(Report(t, "up")[0].v, 0);
  EXPECT_GE(Report(t, "scrape_duration_seconds")[0].v, 0.19);
}

TEST_F(ScrapeManagerTest, RefusedConnectionIsDown) {
  int port;
  {
    MetricsServer gone;
    port = gone.port();
  }
  TargetSpec t;
  t.job = "app";
  t.url = "http://127.0.0.1:" + std::to_string(port) + "/metrics";
  t.labels = L({{"job", "app"}, {"instance", "gone"}});
  t.interval = milliseconds(100);
  Start({t});
  ASSERT_TRUE(WaitScrapes(t, 1));
  EXPECT_EQ(Health().health, "down");
  EXPECT_NE(Health().last_error.find(t.url), std::string::npos) << Health().last_error;
}

TEST_F(ScrapeManagerTest, RepeatedSeriesKeepsTheFirstAndCountsTheRest) {
  MetricsServer server;
  server.SetBody("a 1\na 2\nb 3\n");
  TargetSpec t = Spec(server);
  Start({t});
  ASSERT_TRUE(WaitScrapes(t, 1));
  manager_->Stop();
  EXPECT_EQ(Series(t, {{"__name__", "a"}})[0].v, 1);
  EXPECT_EQ(Report(t, "scrape_samples_scraped")[0].v, 3);
  EXPECT_EQ(Health().health, "up");
  EXPECT_NE(registry_.Render().find("steward_scrape_samples_duplicate_total "), std::string::npos);
  EXPECT_EQ(registry_.Render().find("steward_scrape_samples_duplicate_total 0\n"),
            std::string::npos);
}

TEST_F(ScrapeManagerTest, RemovedTargetGetsStaleMarkersOnEverySeries) {
  MetricsServer server;
  server.SetBody("a 1\n");
  TargetSpec t = Spec(server);
  Start({t});
  ASSERT_TRUE(WaitScrapes(t, 1));
  manager_->SetTargets({});
  EXPECT_TRUE(manager_->Targets().empty());
  ASSERT_TRUE(WaitFor([&] { return tsdb::IsStaleNaN(Report(t, "up").back().v); }));
  EXPECT_TRUE(tsdb::IsStaleNaN(Series(t, {{"__name__", "a"}}).back().v));
  for (const auto& name : kReportNames) {
    EXPECT_TRUE(tsdb::IsStaleNaN(Report(t, name).back().v)) << name;
  }
  int hits = server.hits();
  manager_->Stop();
  EXPECT_LE(server.hits(), hits + 1);
}

TEST_F(ScrapeManagerTest, UnchangedTargetKeepsItsHealthAcrossSetTargets) {
  MetricsServer server;
  server.SetBody("a 1\n");
  TargetSpec t = Spec(server);
  Start({t});
  ASSERT_TRUE(WaitScrapes(t, 1));
  ASSERT_TRUE(WaitFor([&] { return Health().health == "up"; }));
  t.timeout = milliseconds(50);
  manager_->SetTargets({t, t});  // a duplicate is scraped once
  ASSERT_EQ(manager_->Targets().size(), 1u);
  EXPECT_EQ(Health().health, "up");
  EXPECT_EQ(Health().spec.timeout, milliseconds(50));
}

TEST_F(ScrapeManagerTest, BearerTokenIsSentButNeverShown) {
  MetricsServer server;
  server.SetBody("a 1\n");
  TargetSpec t = Spec(server);
  t.bearer_token = "s3cret";
  Start({t});
  ASSERT_TRUE(WaitScrapes(t, 1));
  EXPECT_EQ(server.last_header("Authorization"), "Bearer s3cret");
  EXPECT_EQ(Health().spec.bearer_token, "");
}

TEST_F(ScrapeManagerTest, BodyOverTheLimitFailsTheScrape) {
  MetricsServer server;
  server.SetBody(std::string(5000, '#') + "\na 1\n");
  TargetSpec t = Spec(server);
  Start({t}, /*body_limit=*/1000);
  ASSERT_TRUE(WaitScrapes(t, 1));
  EXPECT_EQ(Health().health, "down");
  EXPECT_NE(Health().last_error.find("body size limit exceeded"), std::string::npos);
}

TEST_F(ScrapeManagerTest, OpenMetricsContentTypeIsParsedAsOpenMetrics) {
  MetricsServer server;
  server.SetBody("# TYPE a counter\na_total 1\n# EOF\n",
                 "application/openmetrics-text; version=1.0.0; charset=utf-8");
  TargetSpec t = Spec(server);
  Start({t});
  ASSERT_TRUE(WaitScrapes(t, 1));
  EXPECT_EQ(Health().health, "up") << Health().last_error;
  EXPECT_EQ(Series(t, {{"__name__", "a_total"}})[0].v, 1);
}

TEST_F(ScrapeManagerTest, FiveHundredTargetsAreScrapedOnTimeByOneThread) {
  constexpr int kTargets = 500;
  const milliseconds interval(1000);
  MetricsServer server(16);
  std::string body;
  for (int i = 0; i < 20; ++i) body += "m{i=\"" + std::to_string(i) + "\"} 1\n";
  server.SetBody(body);
  std::vector<TargetSpec> targets;
  for (int i = 0; i < kTargets; ++i) {
    TargetSpec t = Spec(server, interval, "/m/" + std::to_string(i));
    t.labels = t.labels.With("instance", "t" + std::to_string(i));
    targets.push_back(t);
  }
  Start(targets);
  ASSERT_TRUE(WaitFor(
      [&] {
        for (const auto& t : targets) {
          if (Report(t, "up").size() < 3) return false;
        }
        return true;
      },
      milliseconds(20000)));
  manager_->Stop();
  // Every scrape lands on its target's 1 s grid. Under a loaded CI machine the test's own
  // server may now and then answer one request after the 1 s timeout: that scrape records
  // up=0 and the slot it overran is skipped, as Prometheus does. A few such misses across
  // 1,500+ scrapes are the server's; a late scheduler would miss many or drift off the grid.
  int failed = 0;
  int skipped = 0;
  for (const auto& t : targets) {
    auto up = Report(t, "up");
    for (size_t i = 0; i < up.size(); ++i) {
      if (up[i].v != 1) ++failed;
      if (i == 0) continue;
      const int64_t gap = up[i].t - up[i - 1].t;
      const int64_t slots = (gap + 500) / 1000;
      EXPECT_GE(slots, 1) << t.url;
      EXPECT_NEAR(static_cast<double>(gap), 1000.0 * static_cast<double>(slots), 250.0) << t.url;
      skipped += static_cast<int>(std::max<int64_t>(slots - 1, 0));
    }
  }
  EXPECT_LE(failed, 5);
  EXPECT_LE(skipped, 5);
  int down = 0;
  for (const auto& h : manager_->Targets()) down += h.health == "up" ? 0 : 1;
  EXPECT_LE(down, 5);
}

// Label rules without the network.
TEST(AttachTargetLabels, RenamesRepeatedlyWhenExportedNameIsTaken) {
  tsdb::Labels scraped = L({{"__name__", "m"}, {"job", "a"}, {"exported_job", "b"}});
  tsdb::Labels target = L({{"job", "t"}});
  EXPECT_EQ(
      AttachTargetLabels(scraped, target, false).value(),
      L({{"__name__", "m"}, {"job", "t"}, {"exported_job", "b"}, {"exported_exported_job", "a"}}));
  EXPECT_EQ(AttachTargetLabels(scraped, target, true).value(), scraped);
}

TEST(ScrapeLoop, SeriesWithOwnTimestampsAreNotMarkedStale) {
  FakeDb db;
  tsdb::Labels target = L({{"job", "j"}});
  ScrapeLoop loop(&db, target, false, true);
  FakeClock clock;
  ASSERT_TRUE(
      loop.Ingest(Status::OK(), "a 1 500\nb 1\n", "", 1000, &clock, clock.Now()).error.ok());
  ScrapeOutcome o = loop.Ingest(Status::OK(), "c 1\n", "", 2000, &clock, clock.Now());
  EXPECT_EQ(o.stale_markers, 1);
  EXPECT_FALSE(tsdb::IsStaleNaN(db.Samples(L({{"__name__", "a"}, {"job", "j"}})).back().v));
  EXPECT_TRUE(tsdb::IsStaleNaN(db.Samples(L({{"__name__", "b"}, {"job", "j"}})).back().v));
}

TEST(ScrapeLoop, ReorderedAndChangedBodiesReachTheRightSeries) {
  FakeDb db;
  ScrapeLoop loop(&db, L({{"job", "j"}}), false, true);
  FakeClock clock;
  const char* bodies[] = {"a 1\nb 2\nc 3\n", "a 11\nx 14\nc 13\n", "c 23\nb 22\na 21\nx 24\n",
                          "bad{\n", "a 41\nb 42\n"};
  int64_t ts = 1000;
  for (const char* body : bodies) {
    (void)loop.Ingest(Status::OK(), body, "", ts, &clock, clock.Now());
    ts += 1000;
  }
  auto values = [&](const char* name) {
    std::vector<std::string> out;
    for (const auto& s : db.Samples(L({{"__name__", name}, {"job", "j"}}))) {
      out.push_back(tsdb::IsStaleNaN(s.v) ? "stale" : std::to_string(static_cast<int>(s.v)));
    }
    return out;
  };
  using V = std::vector<std::string>;
  EXPECT_EQ(values("a"), (V{"1", "11", "21", "stale", "41"}));
  EXPECT_EQ(values("b"), (V{"2", "stale", "22", "stale", "42"}));
  EXPECT_EQ(values("c"), (V{"3", "13", "23", "stale"}));
  EXPECT_EQ(values("x"), (V{"14", "24", "stale"}));
}

TEST(ScrapeLoop, FailedCommitIsReportedAndRefsAreResolvedAgain) {
  FakeDb db;
  ScrapeLoop loop(&db, L({{"job", "j"}}), false, true);
  FakeClock clock;
  db.FailCommits(true);
  ScrapeOutcome o = loop.Ingest(Status::OK(), "a 1\n", "", 1000, &clock, clock.Now());
  EXPECT_TRUE(o.error.ok());
  EXPECT_FALSE(o.commit.ok());
  db.FailCommits(false);
  o = loop.Ingest(Status::OK(), "a 2\n", "", 2000, &clock, clock.Now());
  EXPECT_TRUE(o.commit.ok());
  EXPECT_EQ(db.Samples(L({{"__name__", "a"}, {"job", "j"}})).size(), 1u);
}

TEST(ScrapeTimestamps, SnapToTheGridWhetherEarlyOrLate) {
  int64_t grid = 0;
  EXPECT_EQ(AlignScrapeTimestamp(51382, 1000, &grid), 51382);
  EXPECT_EQ(AlignScrapeTimestamp(52381, 1000, &grid), 52382);  // 1 ms early
  EXPECT_EQ(AlignScrapeTimestamp(53384, 1000, &grid), 53382);  // 2 ms late
  EXPECT_EQ(AlignScrapeTimestamp(56382, 1000, &grid), 56382);  // skipped slots keep the grid
  EXPECT_EQ(AlignScrapeTimestamp(57390, 1000, &grid), 57390);  // too far off: a new grid
  EXPECT_EQ(AlignScrapeTimestamp(58389, 1000, &grid), 58390);
  int64_t fast = 0;  // 100 ms interval: tolerance 1 ms
  EXPECT_EQ(AlignScrapeTimestamp(1000, 100, &fast), 1000);
  EXPECT_EQ(AlignScrapeTimestamp(1102, 100, &fast), 1102);
}

}  // namespace
}  // namespace steward::monitor
