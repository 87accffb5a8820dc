#include "demo_service.h"

#include <gtest/gtest.h>

#include <set>
#include <sstream>
#include <thread>

namespace steward::demo {
namespace {

class DemoServiceTest : public ::testing::Test {
 protected:
  std::unique_ptr<DemoService> Make(DemoOptions o = {}) {
    o.replica = "3";
    return std::make_unique<DemoService>(
        o, &clock_, [this] { return next_random_; },
        [this](int status, const std::string&) { exits_.push_back(status); });
  }

  FakeClock clock_;
  double next_random_ = 0.5;
  std::vector<int> exits_;
};

TEST_F(DemoServiceTest, GreetsWithNameAndReplica) {
  DemoOptions o;
  o.name = "web";
  o.greeting = "hi";
  auto s = Make(o);
  DemoService::Reply r = s->Root();
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.body, "hi from web (replica 3)\n");
}

TEST_F(DemoServiceTest, FailsRequestsWhoseRandomDrawIsBelowTheErrorRate) {
  auto s = Make();
  ASSERT_EQ(s->Misbehave({{"error_rate", "0.3"}}).status, 200);
  next_random_ = 0.29;
  EXPECT_TRUE(s->DecideRoot().fail);
  EXPECT_EQ(s->Root().status, 500);
  next_random_ = 0.3;
  EXPECT_FALSE(s->DecideRoot().fail);
  EXPECT_EQ(s->Root().status, 200);
}

TEST_F(DemoServiceTest, ErrorRateOneFailsEveryDrawAndZeroNone) {
  auto s = Make();
  next_random_ = 0.999999;
  ASSERT_EQ(s->Misbehave({{"error_rate", "1"}}).status, 200);
  EXPECT_TRUE(s->DecideRoot().fail);
  next_random_ = 0;
  ASSERT_EQ(s->Misbehave({{"error_rate", "0"}}).status, 200);
  EXPECT_FALSE(s->DecideRoot().fail);
}

TEST_F(DemoServiceTest, LatencyIsAddedToRootDecision) {
  DemoOptions o;
  o.initial.latency = Duration(250);
  auto s = Make(o);
  EXPECT_EQ(s->DecideRoot().delay, Duration(250));
}

TEST_F(DemoServiceTest, HealthFollowsUnhealthySetting) {
  auto s = Make();
  EXPECT_EQ(s->Health().status, 200);
  ASSERT_EQ(s->Misbehave({{"unhealthy", "true"}}).status, 200);
  EXPECT_EQ(s->Health().status, 503);
  ASSERT_EQ(s->Misbehave({{"unhealthy", "false"}}).status, 200);
  EXPECT_EQ(s->Health().status, 200);
}

TEST_F(DemoServiceTest, BadAdminRequestIs400AndChangesNothing) {
  auto s = Make();
  DemoService::Reply r = s->Misbehave({{"unhealthy", "true"}, {"error_rate", "2"}});
  EXPECT_EQ(r.status, 400);
  EXPECT_NE(r.body.find("error_rate"), std::string::npos);
  EXPECT_FALSE(s->settings().unhealthy);
}

TEST_F(DemoServiceTest, CrashRequestAnswersThenAsksForExit) {
  auto s = Make();
  DemoService::Reply r = s->Misbehave({{"crash", "true"}});
  EXPECT_EQ(r.status, 200);
  EXPECT_TRUE(r.exit_after_response);
  EXPECT_TRUE(exits_.empty());  // the server exits after writing the response
}

TEST_F(DemoServiceTest, StateReportsSettingsAsJson) {
  auto s = Make();
  ASSERT_EQ(s->Misbehave({{"latency", "1.5s"}, {"leak", "1Ki"}}).status, 200);
  DemoService::Reply r = s->State();
  EXPECT_EQ(r.content_type, "application/json");
  EXPECT_NE(r.body.find("\"latency\":\"1.5s\""), std::string::npos) << r.body;
  EXPECT_NE(r.body.find("\"latency_ms\":1500"), std::string::npos);
  EXPECT_NE(r.body.find("\"leak_bytes_per_second\":1024"), std::string::npos);
}

TEST_F(DemoServiceTest, CrashAfterExitsOnceWithStatusOne) {
  DemoOptions o;
  o.crash_after = Duration(1000);
  auto s = Make(o);
  clock_.Advance(Duration(999));
  s->Tick();
  EXPECT_TRUE(exits_.empty());
  clock_.Advance(Duration(1));
  s->Tick();
  s->Tick();
  EXPECT_EQ(exits_, std::vector<int>{1});
}

TEST_F(DemoServiceTest, HangAfterSetsHang) {
  DemoOptions o;
  o.hang_after = Duration(500);
  auto s = Make(o);
  s->Tick();
  EXPECT_FALSE(s->settings().hang);
  clock_.Advance(Duration(500));
  s->Tick();
  EXPECT_TRUE(s->settings().hang);
}

TEST_F(DemoServiceTest, ShutdownReleasesHungHandlers) {
  auto s = Make();
  DemoService::Reply set = s->Misbehave({{"hang", "true"}});
  EXPECT_EQ(set.status, 200);  // the request that asks for the hang is still answered
  DemoService::Reply hung;
  std::thread t([&] { hung = s->Health(); });
  s->Shutdown();
  t.join();
  EXPECT_EQ(hung.status, 503);
}

TEST_F(DemoServiceTest, LeakGrowsWithElapsedTimeUpToTheLimit) {
  DemoOptions o;
  o.leak_limit_bytes = 5000;
  auto s = Make(o);
  clock_.Advance(Duration(10000));  // time before the leak was asked for does not count
  ASSERT_EQ(s->Misbehave({{"leak", "2000"}}).status, 200);
  clock_.Advance(Duration(500));
  s->Tick();
  EXPECT_EQ(s->hog_bytes(), 1000);
  clock_.Advance(Duration(1000));
  s->Tick();
  EXPECT_EQ(s->hog_bytes(), 3000);
  clock_.Advance(Duration(5000));
  s->Tick();
  EXPECT_EQ(s->hog_bytes(), 5000);
}

TEST_F(DemoServiceTest, MetricsExposeRequestsAndMemory) {
  auto s = Make();
  s->RecordRequest("/", 200, 0.01);
  s->RecordRequest("/wp-login.php", 404, 0.001);
  std::string body = s->Metrics().body;
  EXPECT_NE(body.find("demo_requests_total{path=\"/\",code=\"200\"} 1\n"), std::string::npos);
  EXPECT_NE(body.find("demo_requests_total{path=\"other\",code=\"404\"} 1\n"), std::string::npos);
  EXPECT_NE(body.find("demo_request_duration_seconds_bucket{path=\"/\",le=\"0.01\"} 1\n"),
            std::string::npos);
  EXPECT_NE(body.find("demo_up 1\n"), std::string::npos);
  EXPECT_NE(body.find("demo_memory_hog_bytes 0\n"), std::string::npos);
  EXPECT_NE(body.find("process_resident_memory_bytes "), std::string::npos);
  EXPECT_EQ(body.find("process_resident_memory_bytes 0\n"), std::string::npos);
}

TEST(DemoSyntheticSeries, CountersGrowWithTimeAndEverySeriesIsDistinct) {
  std::string a = SyntheticSeries(100, 1000.0), b = SyntheticSeries(100, 1010.0);
  std::set<std::string> series;
  int lines = 0;
  std::istringstream in(a);
  for (std::string line; std::getline(in, line);) {
    if (line.empty() || line[0] == '#') continue;
    ++lines;
    series.insert(line.substr(0, line.rfind(' ')));
  }
  EXPECT_EQ(lines, 100);
  EXPECT_EQ(series.size(), 100u);
  // The first counter runs at 0.1/s: 100 at t=1000 s, 101 ten seconds later.
  EXPECT_NE(a.find("demo_synthetic_requests_total{route=\"/\",code=\"200\",shard=\"0\"} 100\n"),
            std::string::npos);
  EXPECT_NE(b.find("demo_synthetic_requests_total{route=\"/\",code=\"200\",shard=\"0\"} 101\n"),
            std::string::npos);
}

}  // namespace
}  // namespace steward::demo
