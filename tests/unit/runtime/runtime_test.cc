#include "runtime/runtime.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <stdlib.h>

#include <filesystem>
#include <fstream>

#include "unit/runtime/fake_driver.h"

namespace steward::runtime {
namespace {

using testing::FakeDriver;
using ::testing::HasSubstr;

constexpr int kPid0 = FakeDriver::kFirstPid;

config::Service MakeService(const std::string& name, int replicas = 1) {
  config::Service s;
  s.name = name;
  s.command = "/usr/bin/" + name;
  s.args = {"--serve"};
  s.replicas = replicas;
  s.restart.backoff_initial = Duration(100);
  return s;
}

// An exec health check with fast intervals, for the tests that run the loop on a real clock.
config::Service WithExecCheck(config::Service s, const std::string& program) {
  s.health.kind = config::HealthCheckKind::kExec;
  s.health.command = {program};
  s.health.interval = Duration(20);
  s.health.timeout = Duration(2000);
  s.health.unhealthy_threshold = 2;
  s.restart.backoff_initial = Duration(10);
  return s;
}

// Polls `done` until it holds or `timeout` passes (on the real clock: the runtime's loop and
// health workers are threads).
bool PollUntil(const std::function<bool()>& done, Duration timeout = Duration(5000)) {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  while (!done()) {
    if (std::chrono::steady_clock::now() >= deadline) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  return true;
}

class RuntimeTest : public ::testing::Test {
 protected:
  struct Started {
    ReplicaKey key;
    drivers::ReplicaHandle handle;
    int port;
  };

  RuntimeTest() {
    char tmpl[] = "/tmp/steward-runtime-test-XXXXXX";
    char* made = mkdtemp(tmpl);
    EXPECT_NE(made, nullptr);
    log_root_ = made ? made : "";
  }
  ~RuntimeTest() override {
    runtime_.reset();  // joins its threads before the driver and clocks go
    std::error_code ec;
    if (!log_root_.empty()) std::filesystem::remove_all(log_root_, ec);
  }

  // A runtime on `clock`; its loop thread is not started (tests call Tick() or StartLoop()).
  Runtime& Make(Clock* clock) {
    RuntimeOptions o;
    o.driver = &driver_;
    o.clock = clock;
    o.log_root = log_root_;
    o.base_env = {{"PATH", "/bin:/usr/bin"}, {"SHARED", "from-base"}};
    o.metrics = &metrics_;
    o.health_workers = 2;
    o.tick = Duration(5);
    o.on_started = [this](const ReplicaKey& key, const drivers::ReplicaHandle& h, int port) {
      std::lock_guard<std::mutex> l(mu_);
      started_.push_back({key, h, port});
    };
    runtime_ = std::make_unique<Runtime>(std::move(o));
    return *runtime_;
  }
  Runtime& MakeFake() { return Make(&clock_); }
  Runtime& MakeRealLooping() {
    Runtime& rt = Make(RealClock::Get());
    rt.StartLoop();
    return rt;
  }

  std::vector<Started> started() {
    std::lock_guard<std::mutex> l(mu_);
    return started_;
  }
  ReplicaStatus StatusOf(const ReplicaKey& key) {
    for (const auto& s : runtime_->Snapshot())
      if (s.key == key) return s;
    ADD_FAILURE() << "no replica " << key.ToString();
    return {};
  }

  FakeClock clock_;
  FakeDriver driver_;
  metrics::Registry metrics_;
  std::string log_root_;
  std::mutex mu_;
  std::vector<Started> started_;
  std::unique_ptr<Runtime> runtime_;  // last: destroyed first
};

// --- starting -----------------------------------------------------------------------------

TEST_F(RuntimeTest, StartReplicaStartsThroughTheDriverWithPortAndEnvironment) {
  Runtime& rt = MakeFake();
  config::Service web = MakeService("web", 2);
  web.env = {{"SHARED", "from-service"}, {"OWN", "yes"}};
  web.working_dir = "/srv/web";
  web.resources.memory_bytes = 64 << 20;
  ASSERT_TRUE(rt.StartReplica(web, 1, 3, 8001).ok());

  ASSERT_EQ(driver_.start_count(), 1u);
  drivers::ReplicaSpec spec = driver_.starts()[0];
  EXPECT_EQ(spec.service, "web");
  EXPECT_EQ(spec.slot, 1);
  EXPECT_EQ(spec.generation, 3);
  EXPECT_EQ(spec.port, 8001);
  EXPECT_THAT(spec.argv, ::testing::ElementsAre("/usr/bin/web", "--serve"));
  EXPECT_EQ(spec.env.at("STEWARD_SERVICE"), "web");
  EXPECT_EQ(spec.env.at("STEWARD_REPLICA"), "1");
  EXPECT_EQ(spec.env.at("SHARED"), "from-service");  // the service's env wins over the base
  EXPECT_EQ(spec.env.at("OWN"), "yes");
  EXPECT_EQ(spec.env.at("PATH"), "/bin:/usr/bin");
  EXPECT_EQ(spec.working_dir, "/srv/web");
  EXPECT_EQ(spec.log_dir, log_root_ + "/web/1");
  EXPECT_EQ(spec.memory_bytes, 64 << 20);

  ASSERT_EQ(started().size(), 1u);
  EXPECT_EQ(started()[0].key, (ReplicaKey{"web", 1, 3}));
  EXPECT_EQ(started()[0].handle.pid, kPid0);
  EXPECT_EQ(started()[0].port, 8001);
}

TEST_F(RuntimeTest, ReplicaWithoutHealthCheckIsReadyAtOnce) {
  Runtime& rt = MakeFake();
  ASSERT_TRUE(rt.StartReplica(MakeService("web"), 0, 1, 8000).ok());
  ReplicaKey key{"web", 0, 1};
  ReplicaStatus s = StatusOf(key);
  EXPECT_EQ(s.state, "ready");
  EXPECT_TRUE(s.ready);
  EXPECT_EQ(s.pid, kPid0);
  EXPECT_EQ(s.port, 8000);
  EXPECT_EQ(s.restarts, 0);
  EXPECT_TRUE(rt.WaitReady(key, Duration(0)).ok());
}

TEST_F(RuntimeTest, StartingTheSameReplicaTwiceIsAlreadyExists) {
  Runtime& rt = MakeFake();
  ASSERT_TRUE(rt.StartReplica(MakeService("web"), 0, 1, 8000).ok());
  Status again = rt.StartReplica(MakeService("web"), 0, 1, 8000);
  EXPECT_EQ(again.code(), StatusCode::kAlreadyExists);
  EXPECT_EQ(driver_.start_count(), 1u);
}

TEST_F(RuntimeTest, AFailedStartReturnsTheDriversErrorAndReportsNoStart) {
  Runtime& rt = MakeFake();
  driver_.FailStarts("exec /usr/bin/web: No such file or directory");
  Status st = rt.StartReplica(MakeService("web"), 0, 1, 8000);
  EXPECT_EQ(st.code(), StatusCode::kIOError);
  EXPECT_THAT(st.message(), HasSubstr("No such file or directory"));
  EXPECT_TRUE(started().empty());
  ReplicaStatus s = StatusOf({"web", 0, 1});
  EXPECT_EQ(s.state, "backoff");
  EXPECT_THAT(s.last_reason, HasSubstr("start failed: exec /usr/bin/web"));
}

// --- exits and restarts -------------------------------------------------------------------

TEST_F(RuntimeTest, AnExitedReplicaIsRestartedAfterItsBackoff) {
  Runtime& rt = MakeFake();
  ReplicaKey key{"web", 0, 1};
  ASSERT_TRUE(rt.StartReplica(MakeService("web"), 0, 1, 8000).ok());

  driver_.Exit(kPid0, 1);
  rt.Tick();
  ReplicaStatus s = StatusOf(key);
  EXPECT_EQ(s.state, "backoff");
  EXPECT_EQ(s.pid, 0);
  EXPECT_EQ(driver_.start_count(), 1u);

  clock_.Advance(Duration(99));
  rt.Tick();
  EXPECT_EQ(driver_.start_count(), 1u) << "restarted before backoff_initial";

  clock_.Advance(Duration(1));
  rt.Tick();
  ASSERT_EQ(driver_.start_count(), 2u);
  s = StatusOf(key);
  EXPECT_EQ(s.state, "ready");
  EXPECT_EQ(s.pid, kPid0 + 1);
  EXPECT_EQ(s.port, 8000);
  EXPECT_EQ(s.restarts, 1);
  EXPECT_EQ(s.last_reason, "exited with status 1");
  EXPECT_EQ(driver_.starts()[1].port, 8000);  // the port is fixed for the replica's life
}

TEST_F(RuntimeTest, ExportsRestartsAndReadinessAsMetrics) {
  Runtime& rt = MakeFake();
  ASSERT_TRUE(rt.StartReplica(MakeService("web"), 0, 1, 8000).ok());
  rt.Tick();
  EXPECT_THAT(metrics_.Render(),
              HasSubstr("steward_replica_ready{service=\"web\",replica=\"0\"} 1"));

  driver_.Exit(kPid0, 1);
  rt.Tick();
  EXPECT_THAT(metrics_.Render(),
              HasSubstr("steward_replica_ready{service=\"web\",replica=\"0\"} 0"));
  clock_.Advance(Duration(100));
  rt.Tick();
  EXPECT_THAT(metrics_.Render(), HasSubstr("steward_replica_restarts_total{service=\"web\"} 1"));
}

TEST_F(RuntimeTest, OnStartedIsCalledAgainForASupervisedRestart) {
  // Regression: only the first start was reported, so the state store kept a dead pid.
  Runtime& rt = MakeFake();
  ASSERT_TRUE(rt.StartReplica(MakeService("web"), 0, 1, 8000).ok());
  driver_.Exit(kPid0, 1);
  rt.Tick();
  clock_.Advance(Duration(100));
  rt.Tick();
  rt.Tick();

  ASSERT_EQ(started().size(), 2u);
  EXPECT_EQ(started()[1].key, (ReplicaKey{"web", 0, 1}));
  EXPECT_EQ(started()[1].handle.pid, kPid0 + 1);
  EXPECT_EQ(started()[1].handle.start_ticks, int64_t{kPid0 + 1} * 10);
  EXPECT_EQ(started()[1].port, 8000);
}

TEST_F(RuntimeTest, RestartPolicyNeverLeavesAFailedReplicaDown) {
  Runtime& rt = MakeFake();
  config::Service web = MakeService("web");
  web.restart.policy = config::RestartPolicy::kNever;
  ASSERT_TRUE(rt.StartReplica(web, 0, 1, 8000).ok());

  driver_.Exit(kPid0, 2);
  rt.Tick();
  clock_.Advance(Duration(60000));
  rt.Tick();
  ReplicaStatus s = StatusOf({"web", 0, 1});
  EXPECT_EQ(s.state, "failed");
  EXPECT_FALSE(s.ready);
  EXPECT_EQ(s.last_reason, "exited with status 2");
  EXPECT_EQ(driver_.start_count(), 1u);
}

TEST_F(RuntimeTest, OnFailurePolicyLeavesACleanExitStopped) {
  Runtime& rt = MakeFake();
  config::Service job = MakeService("job");
  job.restart.policy = config::RestartPolicy::kOnFailure;
  ASSERT_TRUE(rt.StartReplica(job, 0, 1, 0).ok());

  driver_.Exit(kPid0, 0);
  rt.Tick();
  clock_.Advance(Duration(60000));
  rt.Tick();
  EXPECT_EQ(StatusOf({"job", 0, 1}).state, "stopped");
  EXPECT_EQ(driver_.start_count(), 1u);
}

// --- waiting for readiness ----------------------------------------------------------------

TEST_F(RuntimeTest, WaitReadyFailsWithTheExitReasonAndTheStderrTail) {
  Runtime& rt = MakeFake();
  config::Service web = WithExecCheck(MakeService("web"), "/bin/false");
  web.health.start_period = Duration(60000);  // failed checks alone never decide here
  ReplicaKey key{"web", 0, 1};
  ASSERT_TRUE(rt.StartReplica(web, 0, 1, 8000).ok());
  EXPECT_EQ(StatusOf(key).state, "starting");
  std::filesystem::create_directories(rt.LogDir("web", 0));
  std::ofstream(rt.LogDir("web", 0) + "/stderr.log") << "listening\nfatal: config missing\n";

  driver_.Exit(kPid0, 3);
  rt.Tick();
  Status st = rt.WaitReady(key, Duration(5000));
  EXPECT_EQ(st.code(), StatusCode::kUnavailable);
  EXPECT_THAT(st.message(), HasSubstr("web/0 exited with status 3"));
  EXPECT_THAT(st.message(), HasSubstr("fatal: config missing"));
}

TEST_F(RuntimeTest, WaitReadyForAStoppedReplicaFails) {
  Runtime& rt = MakeFake();
  EXPECT_EQ(rt.WaitReady({"web", 0, 1}, Duration(0)).code(), StatusCode::kFailedPrecondition);
}

TEST_F(RuntimeTest, WaitReadyTimesOutNamingTheLastHealthCheck) {
  Runtime& rt = MakeRealLooping();
  config::Service web = WithExecCheck(MakeService("web"), "/bin/false");
  web.health.start_period = Duration(60000);
  ReplicaKey key{"web", 0, 1};
  ASSERT_TRUE(rt.StartReplica(web, 0, 1, 8000).ok());
  ASSERT_TRUE(PollUntil([&] { return !StatusOf(key).health.empty(); }));

  Status st = rt.WaitReady(key, Duration(50));
  EXPECT_EQ(st.code(), StatusCode::kUnavailable);
  EXPECT_THAT(st.message(), HasSubstr("not ready after"));
  EXPECT_THAT(st.message(), HasSubstr("(health check: exit status 1"));
}

TEST_F(RuntimeTest, APassingExecHealthCheckMakesTheReplicaReady) {
  Runtime& rt = MakeRealLooping();
  config::Service web = WithExecCheck(MakeService("web"), "/bin/true");
  web.health.interval = Duration(2000);  // before ready, checks still run every 100ms at most
  ReplicaKey key{"web", 0, 1};
  ASSERT_TRUE(rt.StartReplica(web, 0, 1, 8000).ok());
  ASSERT_TRUE(rt.WaitReady(key, Duration(5000)).ok());
  EXPECT_EQ(StatusOf(key).state, "ready");
  EXPECT_EQ(driver_.start_count(), 1u);
}

// --- unhealthy replicas -------------------------------------------------------------------

TEST_F(RuntimeTest, AFailingHealthCheckRestartsTheReplicaThroughItsStopSignal) {
  Runtime& rt = MakeRealLooping();
  config::Service web = WithExecCheck(MakeService("web"), "/bin/false");
  web.stop_signal = SIGINT;
  ReplicaKey key{"web", 0, 1};
  ASSERT_TRUE(rt.StartReplica(web, 0, 1, 8000).ok());

  ASSERT_TRUE(PollUntil([&] { return driver_.start_count() >= 2; }));
  rt.StopLoop();
  std::vector<FakeDriver::SignalCall> signals = driver_.signals();
  ASSERT_FALSE(signals.empty());
  EXPECT_EQ(signals[0].pid, kPid0);
  EXPECT_EQ(signals[0].signal, SIGINT);
  ReplicaStatus s = StatusOf(key);
  EXPECT_GE(s.restarts, 1);
  EXPECT_THAT(s.last_reason, HasSubstr("health check failed 2 times: exit status 1"));
  ASSERT_GE(started().size(), 2u);
  EXPECT_EQ(started()[1].handle.pid, kPid0 + 1);
}

TEST_F(RuntimeTest, AnUnhealthyReplicaIgnoringItsStopSignalIsKilledAfterTheGrace) {
  Runtime& rt = MakeRealLooping();
  config::Service web = WithExecCheck(MakeService("web"), "/bin/false");
  web.stop_grace = Duration(30);
  driver_.IgnoreSignal(SIGTERM);
  ASSERT_TRUE(rt.StartReplica(web, 0, 1, 8000).ok());

  ASSERT_TRUE(PollUntil([&] { return driver_.start_count() >= 2; }));
  rt.StopLoop();
  std::vector<FakeDriver::SignalCall> signals = driver_.signals();
  ASSERT_GE(signals.size(), 2u);
  EXPECT_EQ(signals[0].pid, kPid0);
  EXPECT_EQ(signals[0].signal, SIGTERM);
  EXPECT_EQ(signals[1].pid, kPid0);
  EXPECT_EQ(signals[1].signal, SIGKILL);
}

// --- stopping -----------------------------------------------------------------------------

TEST_F(RuntimeTest, StopReplicaStopsWithTheServicesSignalAndGraceAndForgetsIt) {
  Runtime& rt = MakeFake();
  config::Service web = MakeService("web");
  web.stop_signal = SIGINT;
  web.stop_grace = Duration(1500);
  ReplicaKey key{"web", 0, 1};
  ASSERT_TRUE(rt.StartReplica(web, 0, 1, 8000).ok());

  ASSERT_TRUE(rt.StopReplica(key).ok());
  std::vector<FakeDriver::StopCall> stops = driver_.stops();
  ASSERT_EQ(stops.size(), 1u);
  EXPECT_EQ(stops[0].handle.pid, kPid0);
  EXPECT_EQ(stops[0].handle.start_ticks, int64_t{kPid0} * 10);
  EXPECT_EQ(stops[0].signal, SIGINT);
  EXPECT_EQ(stops[0].grace, Duration(1500));
  EXPECT_TRUE(rt.Snapshot().empty());

  rt.Tick();  // the stop's exit is reaped now: it must not bring the replica back
  clock_.Advance(Duration(60000));
  rt.Tick();
  EXPECT_EQ(driver_.start_count(), 1u);
  EXPECT_TRUE(rt.Snapshot().empty());
}

TEST_F(RuntimeTest, StopReplicaOfAnUnmanagedReplicaUsesTheFallbackHandle) {
  Runtime& rt = MakeFake();
  ASSERT_TRUE(rt.StopReplica({"old", 0, 1}).ok());
  EXPECT_TRUE(driver_.stops().empty()) << "no process known, nothing to stop";

  ASSERT_TRUE(rt.StopReplica({"old", 0, 1}, {42, 420}).ok());
  std::vector<FakeDriver::StopCall> stops = driver_.stops();
  ASSERT_EQ(stops.size(), 1u);
  EXPECT_EQ(stops[0].handle.pid, 42);
  EXPECT_EQ(stops[0].handle.start_ticks, 420);
  EXPECT_EQ(stops[0].signal, SIGTERM);
  EXPECT_EQ(stops[0].grace, Duration(10000));
}

TEST_F(RuntimeTest, StopAllStopsEveryManagedReplica) {
  Runtime& rt = MakeFake();
  ASSERT_TRUE(rt.StartReplica(MakeService("web", 2), 0, 1, 8000).ok());
  ASSERT_TRUE(rt.StartReplica(MakeService("web", 2), 1, 1, 8001).ok());
  ASSERT_TRUE(rt.StartReplica(MakeService("api"), 0, 4, 9000).ok());

  ASSERT_TRUE(rt.StopAll().ok());
  EXPECT_EQ(driver_.stops().size(), 3u);
  EXPECT_EQ(driver_.live_count(), 0u);
  EXPECT_TRUE(rt.Snapshot().empty());
}

// --- settings and observation -------------------------------------------------------------

TEST_F(RuntimeTest, UpdateServiceChangesTheSettingsOfThatServicesReplicasOnly) {
  Runtime& rt = MakeFake();
  config::Service web = MakeService("web");
  ASSERT_TRUE(rt.StartReplica(web, 0, 1, 8000).ok());
  ASSERT_TRUE(rt.StartReplica(MakeService("api"), 0, 1, 9000).ok());

  web.stop_signal = SIGQUIT;
  web.stop_grace = Duration(2000);
  rt.UpdateService(web);
  ASSERT_TRUE(rt.StopReplica({"web", 0, 1}).ok());
  ASSERT_TRUE(rt.StopReplica({"api", 0, 1}).ok());

  std::vector<FakeDriver::StopCall> stops = driver_.stops();
  ASSERT_EQ(stops.size(), 2u);
  EXPECT_EQ(stops[0].signal, SIGQUIT);
  EXPECT_EQ(stops[0].grace, Duration(2000));
  EXPECT_EQ(stops[1].signal, SIGTERM);
  EXPECT_EQ(stops[1].grace, Duration(10000));
}

TEST_F(RuntimeTest, ObserveIncludesManagedReplicasWaitingToRestart) {
  Runtime& rt = MakeFake();
  ASSERT_TRUE(rt.StartReplica(MakeService("web", 2), 0, 1, 8000).ok());
  ASSERT_TRUE(rt.StartReplica(MakeService("web", 2), 1, 1, 8001).ok());
  drivers::ObservedReplica foreign;
  foreign.service = "old";
  foreign.pid = 77;
  driver_.AddForeign(foreign);
  driver_.Exit(kPid0 + 1, 1);
  rt.Tick();  // slot 1 waits in backoff with no process

  StatusOr<std::vector<drivers::ObservedReplica>> observed = rt.Observe();
  ASSERT_TRUE(observed.ok()) << observed.status().ToString();
  ASSERT_EQ(observed->size(), 3u);
  std::map<std::string, drivers::ObservedReplica> by;
  for (const auto& o : *observed) by[o.service + "/" + std::to_string(o.slot)] = o;
  EXPECT_EQ(by.at("web/0").pid, kPid0);
  EXPECT_EQ(by.at("web/1").pid, 0);
  EXPECT_EQ(by.at("web/1").generation, 1);
  EXPECT_EQ(by.at("web/1").port, 8001);
  EXPECT_FALSE(by.at("web/1").zombie);
  EXPECT_EQ(by.at("old/0").pid, 77);
}

}  // namespace
}  // namespace steward::runtime
