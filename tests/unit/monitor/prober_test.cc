// Prober: scheduling with a FakeClock (RunDue), the series it writes into a real tsdb::Db in a
// temp dir, staleness markers, results; and the threaded scheduler with the real clock.
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cmath>
#include <condition_variable>

#include "monitor/probe.h"
#include "unit/monitor/metrics_server.h"
#include "unit/tsdb/tsdb_test_util.h"

namespace steward::monitor {
namespace {

using std::chrono::milliseconds;
using testing::WaitFor;
using tsdb::testing::Eq;
using tsdb::testing::TempDir;

config::Monitor HttpMonitor(const std::string& name, milliseconds interval = milliseconds(10000)) {
  config::Monitor m;
  m.name = name;
  m.kind = config::ProbeKind::kHttp;
  m.url = "http://" + name + ".example/";
  m.interval = interval;
  m.timeout = milliseconds(1000);
  m.labels = {{"team", "shop"}};
  return m;
}

// A probe runner that returns what the test tells it and counts runs per monitor.
class FakeRunner {
 public:
  ProbeResult Run(const config::Monitor& m, const ProbeContext&) {
    std::lock_guard<std::mutex> l(mu_);
    ++runs_[m.name];
    return next_;
  }
  void Set(ProbeResult r) {
    std::lock_guard<std::mutex> l(mu_);
    next_ = std::move(r);
  }
  int Runs(const std::string& name) {
    std::lock_guard<std::mutex> l(mu_);
    return runs_[name];
  }

 private:
  std::mutex mu_;
  std::map<std::string, int> runs_;
  ProbeResult next_{true, 0.25, "", {{"probe_http_status_code", 200}}};
};

class ProberTest : public ::testing::Test {
 protected:
  void SetUp() override {
    tsdb::Options o = tsdb::testing::TestOptions(dir_.path());
    o.clock = &clock_;
    auto db = tsdb::Db::Open(o);
    ASSERT_TRUE(db.ok()) << db.status().ToString();
    db_ = std::move(*db);
    ProberOptions options;
    options.clock = &clock_;
    options.run = [this](const config::Monitor& m, const ProbeContext& c) {
      return runner_.Run(m, c);
    };
    prober_ = std::make_unique<Prober>(db_.get(), options);
  }

  int64_t NowMs() { return ToUnixMillis(clock_.WallNow()); }

  // Samples of the series named `metric` of monitor `name`.
  std::vector<tsdb::Series> Select(const std::string& metric, const std::string& name) {
    auto q = db_->NewQuerier();
    auto series = q->Select({Eq("__name__", metric), Eq("monitor", name)}, 0, NowMs() + 1000000);
    EXPECT_TRUE(series.ok()) << series.status().ToString();
    return series.ok() ? *series : std::vector<tsdb::Series>{};
  }
  std::vector<tsdb::Sample> Samples(const std::string& metric, const std::string& name) {
    std::vector<tsdb::Series> s = Select(metric, name);
    EXPECT_LE(s.size(), 1u);
    return s.empty() ? std::vector<tsdb::Sample>{} : s[0].samples;
  }

  // Advances past the first run's jitter (at most 5s) and runs what is due.
  int RunFirst() {
    clock_.Advance(milliseconds(5000));
    return prober_->RunDue();
  }

  TempDir dir_;
  FakeClock clock_;
  FakeRunner runner_;
  std::unique_ptr<tsdb::Db> db_;
  std::unique_ptr<Prober> prober_;
};

TEST_F(ProberTest, WritesProbeSeriesWithMonitorLabels) {
  prober_->SetMonitors({HttpMonitor("home")});
  ASSERT_EQ(RunFirst(), 1);
  std::vector<tsdb::Series> success = Select("probe_success", "home");
  ASSERT_EQ(success.size(), 1u);
  EXPECT_EQ(success[0].labels.ToString(),
            "probe_success{instance=\"http://home.example/\", job=\"monitor\", kind=\"http\", "
            "monitor=\"home\", team=\"shop\"}");
  ASSERT_EQ(success[0].samples.size(), 1u);
  EXPECT_EQ(success[0].samples[0].v, 1);
  EXPECT_EQ(success[0].samples[0].t, NowMs());  // the run's start
  EXPECT_EQ(Samples("probe_duration_seconds", "home").at(0).v, 0.25);
  EXPECT_EQ(Samples("probe_http_status_code", "home").at(0).v, 200);
}

TEST_F(ProberTest, FirstRunIsJitteredWithinFiveSecondsThenKeepsItsInterval) {
  prober_->SetMonitors({HttpMonitor("home")});
  EXPECT_EQ(RunFirst(), 1);
  EXPECT_EQ(prober_->RunDue(), 0);
  clock_.Advance(milliseconds(9000));
  EXPECT_EQ(prober_->RunDue(), 0);
  clock_.Advance(milliseconds(1000));
  EXPECT_EQ(prober_->RunDue(), 1);
  clock_.Advance(milliseconds(35000));  // missed ticks are skipped, not caught up
  EXPECT_EQ(prober_->RunDue(), 1);
  EXPECT_EQ(prober_->RunDue(), 0);
  EXPECT_EQ(runner_.Runs("home"), 3);
  EXPECT_EQ(Samples("probe_success", "home").size(), 3u);
}

TEST_F(ProberTest, RemovedMonitorGetsOneStalenessMarkerPerSeries) {
  prober_->SetMonitors({HttpMonitor("home"), HttpMonitor("shop")});
  ASSERT_EQ(RunFirst(), 2);
  clock_.Advance(milliseconds(1000));
  prober_->SetMonitors({HttpMonitor("shop")});
  prober_->SetMonitors({HttpMonitor("shop")});
  for (const char* metric : {"probe_success", "probe_duration_seconds", "probe_http_status_code"}) {
    std::vector<tsdb::Sample> s = Samples(metric, "home");
    ASSERT_EQ(s.size(), 2u) << metric;
    EXPECT_TRUE(tsdb::IsStaleNaN(s[1].v)) << metric;
    EXPECT_EQ(s[1].t, NowMs());
  }
  EXPECT_EQ(Samples("probe_success", "shop").size(), 1u);  // untouched
  std::vector<MonitorStatus> results = prober_->Results();
  ASSERT_EQ(results.size(), 1u);
  EXPECT_EQ(results[0].name, "shop");
}

TEST_F(ProberTest, SeriesARunNoLongerWritesGoStale) {
  prober_->SetMonitors({HttpMonitor("home")});
  ASSERT_EQ(RunFirst(), 1);
  runner_.Set(ProbeResult{false, 1.0, "connection refused", {}});
  clock_.Advance(milliseconds(10000));
  ASSERT_EQ(prober_->RunDue(), 1);
  std::vector<tsdb::Sample> code = Samples("probe_http_status_code", "home");
  ASSERT_EQ(code.size(), 2u);
  EXPECT_TRUE(tsdb::IsStaleNaN(code[1].v));
  std::vector<tsdb::Sample> success = Samples("probe_success", "home");
  ASSERT_EQ(success.size(), 2u);
  EXPECT_EQ(success[1].v, 0);
}

TEST_F(ProberTest, ChangedLabelsEndTheOldSeries) {
  prober_->SetMonitors({HttpMonitor("home")});
  ASSERT_EQ(RunFirst(), 1);
  config::Monitor changed = HttpMonitor("home");
  changed.labels = {{"team", "web"}};
  clock_.Advance(milliseconds(1000));
  prober_->SetMonitors({changed});
  auto q = db_->NewQuerier();
  auto old_series =
      q->Select({Eq("__name__", "probe_success"), Eq("team", "shop")}, 0, NowMs() + 100000);
  ASSERT_TRUE(old_series.ok());
  ASSERT_EQ(old_series->size(), 1u);
  EXPECT_TRUE(tsdb::IsStaleNaN(old_series->at(0).samples.back().v));
  clock_.Advance(milliseconds(9000));
  ASSERT_EQ(prober_->RunDue(), 1);  // same interval: the schedule is kept
  std::vector<tsdb::Series> now = Select("probe_success", "home");
  ASSERT_EQ(now.size(), 2u);
  EXPECT_EQ(now[1].labels.Get("team"), "web");
}

TEST_F(ProberTest, ResultsShowTheLastRun) {
  config::Monitor m = HttpMonitor("home");
  prober_->SetMonitors({m});
  std::vector<MonitorStatus> before = prober_->Results();
  ASSERT_EQ(before.size(), 1u);
  EXPECT_EQ(before[0].last_run, WallTime{});
  EXPECT_EQ(before[0].error, "not run yet");
  runner_.Set(ProbeResult{false, 0.5, "status 503, expected 2xx", {}});
  ASSERT_EQ(RunFirst(), 1);
  std::vector<MonitorStatus> after = prober_->Results();
  ASSERT_EQ(after.size(), 1u);
  EXPECT_EQ(after[0].name, "home");
  EXPECT_EQ(after[0].kind, config::ProbeKind::kHttp);
  EXPECT_EQ(after[0].instance, "http://home.example/");
  EXPECT_FALSE(after[0].success);
  EXPECT_EQ(after[0].error, "status 503, expected 2xx");
  EXPECT_EQ(after[0].last_run, clock_.WallNow());
  EXPECT_EQ(after[0].duration_seconds, 0.5);
}

int ListeningSocket(int* port) {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a);
  listen(fd, 64);
  socklen_t len = sizeof a;
  getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len);
  *port = ntohs(a.sin_port);
  return fd;
}

TEST(ProberThreads, RunsRealProbesOnTheirIntervals) {
  TempDir dir;
  auto db = tsdb::Db::Open(tsdb::testing::TestOptions(dir.path()));
  ASSERT_TRUE(db.ok()) << db.status().ToString();
  int port = 0;
  int fd = ListeningSocket(&port);
  config::Monitor m;
  m.name = "port";
  m.kind = config::ProbeKind::kTcp;
  m.target = "127.0.0.1:" + std::to_string(port);
  m.interval = milliseconds(100);
  m.timeout = milliseconds(100);
  Prober prober(db->get(), ProberOptions{});
  prober.SetMonitors({m});
  ASSERT_TRUE(prober.Start().ok());
  auto count = [&] {
    auto q = (*db)->NewQuerier();
    auto s = q->Select({Eq("__name__", "probe_success"), Eq("monitor", "port")}, 0,
                       ToUnixMillis(std::chrono::system_clock::now()) + 1000);
    return s.ok() && s->size() == 1 ? s->at(0).samples.size() : 0u;
  };
  EXPECT_TRUE(WaitFor([&] { return count() >= 3; }));
  prober.Stop();
  close(fd);
  std::vector<MonitorStatus> r = prober.Results();
  ASSERT_EQ(r.size(), 1u);
  EXPECT_TRUE(r[0].success) << r[0].error;
}

// A run still going when its monitor is removed must not write after the staleness markers.
TEST(ProberThreads, ARunInFlightWhenRemovedWritesNothing) {
  TempDir dir;
  auto db = tsdb::Db::Open(tsdb::testing::TestOptions(dir.path()));
  ASSERT_TRUE(db.ok());
  std::mutex mu;
  std::condition_variable cv;
  int started = 0;
  bool release = false;
  ProberOptions options;
  options.run = [&](const config::Monitor&, const ProbeContext&) {
    std::unique_lock<std::mutex> l(mu);
    ++started;
    cv.notify_all();
    if (started >= 2) cv.wait(l, [&] { return release; });  // the second run blocks
    return ProbeResult{true, 0.1, "", {}};
  };
  Prober prober(db->get(), options);
  prober.SetMonitors({HttpMonitor("home", milliseconds(100))});
  ASSERT_TRUE(prober.Start().ok());
  {
    std::unique_lock<std::mutex> l(mu);
    ASSERT_TRUE(cv.wait_for(l, std::chrono::seconds(15), [&] { return started >= 2; }));
  }
  prober.SetMonitors({});
  {
    std::lock_guard<std::mutex> l(mu);
    release = true;
  }
  cv.notify_all();
  prober.Stop();
  auto q = (*db)->NewQuerier();
  auto s = q->Select({Eq("__name__", "probe_success"), Eq("monitor", "home")}, 0,
                     ToUnixMillis(std::chrono::system_clock::now()) + 1000);
  ASSERT_TRUE(s.ok());
  ASSERT_EQ(s->size(), 1u);
  ASSERT_EQ(s->at(0).samples.size(), 2u);  // the first run, then the marker
  EXPECT_TRUE(tsdb::IsStaleNaN(s->at(0).samples[1].v));
}

TEST(ProberThreads, StartTwiceIsAnError) {
  TempDir dir;
  auto db = tsdb::Db::Open(tsdb::testing::TestOptions(dir.path()));
  ASSERT_TRUE(db.ok());
  Prober prober(db->get(), ProberOptions{});
  ASSERT_TRUE(prober.Start().ok());
  EXPECT_EQ(prober.Start().code(), StatusCode::kFailedPrecondition);
}

}  // namespace
}  // namespace steward::monitor
