// Deploy drills of issue 6, end to end: the real daemon, steward-demo, and a real HAProxy that
// Steward drives as the ingress. A client load runs through the ingress the whole time and
// counts every answer by the release that gave it (X-Release); the stable release must never
// fail a request, and no request may fail to connect.
//   - a healthy canary goes 20% → 50% → promoted, and `steward releases` shows it live;
//   - a canary that fails 20% of its requests is rolled back by its own analysis: the deploy is
//     "failed", the previous release is still live and the bad release's replicas are gone;
//   - `steward rollback web` goes back to the previous release;
//   - blue-green and rolling deploys under the same load;
//   - with monitoring on, a PromQL check on the canary's own scraped error ratio
//     ($canary_instances) promotes a healthy canary and rolls back a failing one by itself
//     (no max_error_rate), and `steward validate` refuses a check that is not PromQL.
#include <signal.h>

#include <atomic>
#include <chrono>
#include <map>
#include <mutex>
#include <string>
#include <thread>

#include <gtest/gtest.h>
#include <httplib.h>

#include "integration/harness.h"
#include "integration/peers.h"

namespace steward::testing {
namespace {

constexpr const char* kStack = R"(project: deploys
services:
  web:
    command: steward-demo
    replicas: 2
    ports: [PORT]
    health: {http: /healthz, interval: 200ms, timeout: 150ms}
    stop_grace: 5s
    ingress: {port: INGRESS}
    deploy:
      strategy: canary
      steps:
        - {weight: 20, pause: 3s}
        - {weight: 50, pause: 3s}
      verify: 2s
      keep_releases: 5
      analysis: {interval: 1s, max_error_rate: 0.05}
)";

// The same service, scraped (metrics: /metrics, every 500ms), with one short canary step whose
// only error analysis is a PromQL check of the canary replicas' own 5xx ratio on GET /, from
// steward-demo's demo_requests_total. `or vector(0)`: a canary without a single 500 has no
// code="500" series, and its ratio is 0 rather than "no data" once its requests are scraped.
// --threads 16: the demo's default 4 handler threads are all held by idle keep-alive
// connections (HAProxy's reused ones, the scraper's, the health checker's) under this load,
// and its health checks then time out; a real service has more than 4.
constexpr const char* kPromqlStack = R"(project: deploys
monitoring: {scrape_interval: 500ms, scrape_timeout: 400ms}
services:
  web:
    command: steward-demo
    args: [--threads, "16"]
    replicas: 2
    ports: [PORT]
    health: {http: /healthz, interval: 200ms, timeout: 150ms}
    stop_grace: 5s
    metrics: /metrics
    ingress: {port: INGRESS}
    deploy:
      strategy: canary
      steps:
        - {weight: 30, pause: 4s}
      keep_releases: 5
      analysis:
        interval: 1s
        checks:
          - name: canary-errors
            query: 'QUERY'
            max: 0.05
)";
constexpr const char* kCanaryErrors =
    R"((sum(rate(demo_requests_total{path="/", code="500", instance=~"$canary_instances"}[3s])))"
    R"( or vector(0)))"
    R"( / sum(rate(demo_requests_total{path="/", instance=~"$canary_instances"}[3s])))";

// Requests through the ingress from a few threads until stopped, counted by X-Release.
class Load {
 public:
  explicit Load(int port) : port_(port) {
    for (int i = 0; i < 3; ++i) threads_.emplace_back([this] { Loop(); });
  }
  ~Load() { Stop(); }
  void Stop() {
    stop_ = true;
    for (auto& t : threads_)
      if (t.joinable()) t.join();
  }
  struct Counts {
    int64_t ok = 0, failed = 0;
  };
  std::map<std::string, Counts> ByRelease() {
    std::lock_guard<std::mutex> l(mu_);
    return by_release_;
  }
  int64_t ConnectionErrors() const { return connection_errors_; }
  int64_t Total() {
    std::lock_guard<std::mutex> l(mu_);
    int64_t n = 0;
    for (const auto& [_, c] : by_release_) n += c.ok + c.failed;
    return n;
  }
  // Failed answers from any release other than `bad`.
  int64_t FailedExcept(const std::string& bad) {
    std::lock_guard<std::mutex> l(mu_);
    int64_t n = 0;
    for (const auto& [r, c] : by_release_)
      if (r != bad) n += c.failed;
    return n;
  }
  std::string Describe() {
    std::lock_guard<std::mutex> l(mu_);
    std::string out;
    for (const auto& [r, c] : by_release_)
      out += r + ": " + std::to_string(c.ok) + " ok, " + std::to_string(c.failed) + " failed; ";
    return out + std::to_string(connection_errors_.load()) + " connection errors";
  }

 private:
  void Loop() {
    httplib::Client cli("127.0.0.1", port_);
    cli.set_connection_timeout(2, 0);
    cli.set_read_timeout(5, 0);
    // Bounded: at most 5 minutes of requests even if Stop() were never called.
    auto give_up = std::chrono::steady_clock::now() + std::chrono::minutes(5);
    while (!stop_ && std::chrono::steady_clock::now() < give_up) {
      auto res = cli.Get("/");
      if (!res) {
        ++connection_errors_;
      } else {
        std::string release = res->get_header_value("X-Release");
        if (release.empty()) release = "(none)";
        std::lock_guard<std::mutex> l(mu_);
        (res->status == 200 ? by_release_[release].ok : by_release_[release].failed)++;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(15));
    }
  }

  int port_;
  std::atomic<bool> stop_{false};
  std::atomic<int64_t> connection_errors_{0};
  std::mutex mu_;
  std::map<std::string, Counts> by_release_;
  std::vector<std::thread> threads_;
};

std::string Stack(int port, int ingress, const std::string& strategy = "canary",
                  const std::string& query = kCanaryErrors, const char* tmpl = kStack) {
  std::string s = tmpl;
  s.replace(s.find("PORT"), 4, std::to_string(port));
  s.replace(s.find("INGRESS"), 7, std::to_string(ingress));
  s.replace(s.find("strategy: canary"), 16, "strategy: " + strategy);
  if (size_t at = s.find("QUERY"); at != std::string::npos) s.replace(at, 5, query);
  return s;
}

nlohmann::json Releases(Project& p) {
  RunResult r = p.Steward({"releases", "web", "--json"});
  auto j = nlohmann::json::parse(r.out, nullptr, false);
  return j.is_object() ? j : nlohmann::json::object();
}

std::string LiveLabel(Project& p) {
  auto j = Releases(p);
  for (const auto& r : j.value("releases", nlohmann::json::array()))
    if (r.value("live", false)) return r.value("label", "");
  return "";
}

// Replicas of web whose environment says they belong to `label`: their ports answer with it.
int ReplicasAnswering(Project& p, const std::string& label) {
  int n = 0;
  for (const auto& r : p.Replicas("web")) {
    httplib::Client cli("127.0.0.1", r.value("port", 0));
    cli.set_connection_timeout(1, 0);
    auto res = cli.Get("/healthz");
    if (res && res->get_header_value("X-Release") == label) ++n;
  }
  return n;
}

class DeployTest : public ::testing::Test {
 protected:
  void SetUp() override {
    // The service owns [port_, port_ + 2 * replicas): releases start on the upper half.
    port_ = FreePortBlock(4);
    ingress_ = FreePortBlock(1);
  }
  void Up(const std::string& strategy, const char* tmpl = kStack) {
    p_.WriteStack(Stack(port_, ingress_, strategy, kCanaryErrors, tmpl));
    ASSERT_APPLY_OK(p_);
    ASSERT_TRUE(PollUntil([&] { return p_.ReadyCount("web") == 2; }, 15000));
    ASSERT_TRUE(PollUntil([&] { return HttpGet(ingress_, "/") == 200; }, 15000))
        << "the ingress does not answer on port " << ingress_;
  }
  RunResult Deploy(std::vector<std::string> extra) {
    std::vector<std::string> args = {"deploy", "web"};
    args.insert(args.end(), extra.begin(), extra.end());
    return p_.Steward(args, 90000);
  }

  Project p_;
  int port_ = 0;
  int ingress_ = 0;
};

TEST_F(DeployTest, HealthyCanaryIsPromotedAndFailingCanaryRolledBackWithoutStableErrors) {
  Up("canary");
  // A first release so the drills have a stable release that answers with a label.
  RunResult v1 = Deploy({"--version", "v1", "--strategy", "blue-green"});
  ASSERT_EQ(v1.exit_code, 0) << v1.out << v1.err;
  ASSERT_EQ(LiveLabel(p_), "v1");

  Load load(ingress_);
  ASSERT_TRUE(PollUntil([&] { return load.Total() > 20; }, 5000));

  // Drill 1: a healthy canary is promoted.
  RunResult v2 = Deploy({"--version", "v2"});
  ASSERT_EQ(v2.exit_code, 0) << v2.out << v2.err;
  EXPECT_NE(v2.out.find("canary 20%"), std::string::npos) << v2.out;
  EXPECT_NE(v2.out.find("canary 50%"), std::string::npos) << v2.out;
  EXPECT_EQ(LiveLabel(p_), "v2");
  EXPECT_GT(load.ByRelease()["v2"].ok, 0) << load.Describe();
  EXPECT_TRUE(PollUntil([&] { return ReplicasAnswering(p_, "v2") == 2; }, 5000));

  // Drill 2: a canary failing 20% of its requests is rolled back by the analysis.
  RunResult v3 = Deploy({"--version", "v3", "--env", "DEMO_ERROR_RATE=0.2"});
  EXPECT_NE(v3.exit_code, 0) << v3.out << v3.err;
  EXPECT_NE(v3.err.find("failed and was rolled back"), std::string::npos) << v3.err;
  EXPECT_NE(v3.out.find("error rate"), std::string::npos) << v3.out;
  EXPECT_EQ(LiveLabel(p_), "v2");
  auto deploys = p_.Api("/api/v1/deploys?service=web&limit=1");
  ASSERT_TRUE(deploys);
  EXPECT_EQ((*deploys)["deploys"][0].value("status", ""), "failed");
  EXPECT_GT(load.ByRelease()["v3"].failed, 0) << load.Describe();
  EXPECT_TRUE(PollUntil([&] { return ReplicasAnswering(p_, "v3") == 0; }, 5000));
  EXPECT_EQ(p_.Replicas("web").size(), 2u);

  // The requests after the rollback all go to v2 again.
  auto before = load.ByRelease()["v3"];
  std::this_thread::sleep_for(std::chrono::milliseconds(500));
  EXPECT_EQ(load.ByRelease()["v3"].ok + load.ByRelease()["v3"].failed, before.ok + before.failed);

  // steward rollback: back to v1, without analysis.
  RunResult rb = p_.Steward({"rollback", "web"}, 60000);
  ASSERT_EQ(rb.exit_code, 0) << rb.out << rb.err;
  EXPECT_EQ(LiveLabel(p_), "v1");
  ASSERT_TRUE(PollUntil([&] { return load.ByRelease()["v1"].ok > 0; }, 5000));

  load.Stop();
  EXPECT_EQ(load.FailedExcept("v3"), 0) << load.Describe();
  EXPECT_EQ(load.ConnectionErrors(), 0) << load.Describe();
  EXPECT_GT(load.Total(), 300) << load.Describe();

  auto rel = Releases(p_);
  ASSERT_EQ(rel["releases"].size(), 3u) << rel.dump();
  EXPECT_EQ(rel["releases"][0].value("status", ""), "failed");  // v3
}

TEST_F(DeployTest, BlueGreenAndRollingDeployUnderLoadWithoutErrors) {
  Up("blue-green");
  Load load(ingress_);
  ASSERT_TRUE(PollUntil([&] { return load.Total() > 20; }, 5000));

  RunResult bg = Deploy({"--version", "b1"});
  ASSERT_EQ(bg.exit_code, 0) << bg.out << bg.err;
  EXPECT_NE(bg.out.find("traffic switched"), std::string::npos) << bg.out;
  EXPECT_EQ(LiveLabel(p_), "b1");

  RunResult roll = Deploy({"--version", "r2", "--strategy", "rolling"});
  ASSERT_EQ(roll.exit_code, 0) << roll.out << roll.err;
  EXPECT_NE(roll.out.find("replica 1 replaced"), std::string::npos) << roll.out;
  EXPECT_EQ(LiveLabel(p_), "r2");
  ASSERT_TRUE(PollUntil([&] { return load.ByRelease()["r2"].ok > 10; }, 5000));

  load.Stop();
  EXPECT_GT(load.ByRelease()["b1"].ok, 0) << load.Describe();
  int64_t failed = 0;
  for (const auto& [_, c] : load.ByRelease()) failed += c.failed;
  EXPECT_EQ(failed, 0) << load.Describe();
  EXPECT_EQ(load.ConnectionErrors(), 0) << load.Describe();
  // The planner takes the live release for what the stack asks: nothing to do.
  RunResult plan = p_.Steward({"plan"});
  EXPECT_EQ(plan.exit_code, 0) << plan.out << plan.err;
}


// The deploy's record through the API, once its events contain `text`.
bool EventSeen(Project& p, int64_t id, const std::string& text) {
  auto d = p.Api("/api/v1/deploys/" + std::to_string(id));
  if (!d) return false;
  for (const auto& e : (*d).value("events", nlohmann::json::array()))
    if (e.value("text", "").find(text) != std::string::npos) return true;
  return false;
}

std::string DeployStatus(Project& p, int64_t id) {
  auto d = p.Api("/api/v1/deploys/" + std::to_string(id));
  return d ? (*d).value("status", "") : "";
}

TEST_F(DeployTest, FreezeHoldsTheSplitAndRollbackEndsIt) {
  Up("canary");
  RunResult v1 = Deploy({"--version", "v1", "--strategy", "rolling"});
  ASSERT_EQ(v1.exit_code, 0) << v1.out << v1.err;
  RunResult started = Deploy({"--version", "v2", "--no-wait", "--json"});
  ASSERT_EQ(started.exit_code, 0) << started.out << started.err;
  int64_t id = nlohmann::json::parse(started.out, nullptr, false).value("id", int64_t{0});
  ASSERT_GT(id, 0) << started.out;
  ASSERT_TRUE(PollUntil([&] { return EventSeen(p_, id, "canary 20%: holding"); }, 15000));

  RunResult frozen = p_.Steward({"rollback", "web", "--freeze"});
  ASSERT_EQ(frozen.exit_code, 0) << frozen.out << frozen.err;
  EXPECT_EQ(DeployStatus(p_, id), "frozen");
  // Both releases keep running and serving; the reconcile loop leaves the split alone.
  std::this_thread::sleep_for(std::chrono::milliseconds(2500));
  EXPECT_EQ(p_.Replicas("web").size(), 4u);
  EXPECT_EQ(ReplicasAnswering(p_, "v2"), 2);
  EXPECT_EQ(LiveLabel(p_), "v1");
  RunResult again = Deploy({"--version", "v3"});
  EXPECT_NE(again.exit_code, 0);
  EXPECT_NE(again.err.find("frozen"), std::string::npos) << again.err;

  RunResult rb = p_.Steward({"rollback", "web"}, 60000);
  ASSERT_EQ(rb.exit_code, 0) << rb.out << rb.err;
  EXPECT_EQ(DeployStatus(p_, id), "rolled-back");
  EXPECT_TRUE(PollUntil([&] { return p_.Replicas("web").size() == 2u; }, 5000));
  EXPECT_EQ(ReplicasAnswering(p_, "v1"), 2);
  EXPECT_EQ(LiveLabel(p_), "v1");
}

TEST_F(DeployTest, DaemonKilledMidDeployMarksItInterruptedAndTheLiveReleaseServes) {
  Up("canary");
  RunResult v1 = Deploy({"--version", "v1", "--strategy", "rolling"});
  ASSERT_EQ(v1.exit_code, 0) << v1.out << v1.err;
  RunResult started = Deploy({"--version", "v2", "--no-wait", "--json"});
  ASSERT_EQ(started.exit_code, 0) << started.out << started.err;
  int64_t id = nlohmann::json::parse(started.out, nullptr, false).value("id", int64_t{0});
  ASSERT_TRUE(PollUntil([&] { return EventSeen(p_, id, "canary 20%: holding"); }, 15000));

  int pid = p_.DaemonPid();
  ASSERT_GT(pid, 0);
  ASSERT_EQ(kill(pid, SIGKILL), 0);
  ASSERT_TRUE(PollUntil([&] { ReapAll(); return !ProcessAlive(pid); }, 5000));
  ASSERT_APPLY_OK(p_);  // starts a new daemon, which restores the recorded release
  EXPECT_EQ(DeployStatus(p_, id), "interrupted");
  EXPECT_TRUE(PollUntil([&] { return ReplicasAnswering(p_, "v1") == 2; }, 15000));
  EXPECT_EQ(p_.Replicas("web").size(), 2u);
  EXPECT_EQ(LiveLabel(p_), "v1");
  std::string body;
  EXPECT_TRUE(PollUntil([&] { return HttpGet(ingress_, "/", &body) == 200; }, 10000));
}

TEST_F(DeployTest, PromqlCheckOnCanaryInstancesPromotesHealthyAndRollsBackFailingCanary) {
  Up("canary", kPromqlStack);
  Load load(ingress_);
  ASSERT_TRUE(PollUntil([&] { return load.Total() > 20; }, 5000));

  // A healthy canary: the check sees its replicas' scraped requests (a value, not "no data")
  // and passes every analysis; the canary is promoted.
  RunResult v2 = Deploy({"--version", "v2"});
  ASSERT_EQ(v2.exit_code, 0) << v2.out << v2.err;
  EXPECT_NE(v2.out.find("canary 30%: ok"), std::string::npos) << v2.out;
  EXPECT_NE(v2.out.find("canary-errors: 0"), std::string::npos) << v2.out;
  EXPECT_EQ(LiveLabel(p_), "v2");
  EXPECT_GT(load.ByRelease()["v2"].ok, 0) << load.Describe();

  // A canary failing 30% of its requests: only the PromQL check can catch it, and does.
  RunResult v3 = Deploy({"--version", "v3", "--env", "DEMO_ERROR_RATE=0.3"});
  EXPECT_NE(v3.exit_code, 0) << v3.out << v3.err;
  EXPECT_NE(v3.err.find("failed and was rolled back"), std::string::npos) << v3.err;
  EXPECT_NE(v3.out.find("check 'canary-errors' = "), std::string::npos) << v3.out;
  EXPECT_NE(v3.out.find("above max 0.05"), std::string::npos) << v3.out;
  EXPECT_EQ(v3.out.find("max_error_rate"), std::string::npos) << v3.out;  // not set here
  auto deploys = p_.Api("/api/v1/deploys?service=web&limit=1");
  ASSERT_TRUE(deploys);
  const auto& d = (*deploys)["deploys"][0];
  EXPECT_EQ(d.value("status", ""), "failed") << d.dump();
  EXPECT_NE(d.value("error", "").find("check 'canary-errors'"), std::string::npos) << d.dump();
  EXPECT_EQ(LiveLabel(p_), "v2");
  EXPECT_GT(load.ByRelease()["v3"].failed, 0) << load.Describe();
  EXPECT_TRUE(PollUntil([&] { return ReplicasAnswering(p_, "v3") == 0; }, 5000));
  EXPECT_EQ(ReplicasAnswering(p_, "v2"), 2);

  load.Stop();
  EXPECT_EQ(load.FailedExcept("v3"), 0) << load.Describe();
  EXPECT_EQ(load.ConnectionErrors(), 0) << load.Describe();
}

TEST_F(DeployTest, ValidateRefusesAnAnalysisCheckThatIsNotPromql) {
  p_.WriteStack(Stack(port_, ingress_, "canary",
                      R"(sum(rate(demo_requests_total{instance=~"$canary_instances"}[3s])",  // one ) short
                      kPromqlStack));
  RunResult v = p_.Steward({"validate"});
  EXPECT_EQ(v.exit_code, 1) << v.out << v.err;
  // The check's query value sits on line 22, column 20 of the stack file.
  EXPECT_NE(v.err.find("steward.yaml:22:20: error: analysis check 'canary-errors' of service "
                       "'web' is not valid PromQL: 1:48: parse error: unclosed left parenthesis"),
            std::string::npos)
      << v.err;
  EXPECT_EQ(p_.DaemonPid(), 0);
}

}  // namespace
}  // namespace steward::testing
