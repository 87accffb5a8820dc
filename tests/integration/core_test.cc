// End-to-end tests of the core loop: the real steward binary, its daemon and real replicas of
// steward-demo, in a temporary project per test. No fixed ports: replicas get free ports.
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <fstream>
#include <thread>

#include <gtest/gtest.h>

#include "integration/harness.h"

namespace steward::testing {
namespace {

using Clock = std::chrono::steady_clock;

// web ×2 depends on api ×2; both steward-demo with an HTTP health check.
std::string TwoTierStack(const std::string& web_extra_args = "") {
  return R"(project: it
services:
  api:
    command: steward-demo
    args: ["--name", "api"]
    replicas: 2
    health: {http: /healthz, interval: 300ms, timeout: 250ms, unhealthy_threshold: 2}
    stop_grace: 3s
  web:
    command: steward-demo
    args: ["--name", "web")" + web_extra_args + R"(]
    replicas: 2
    health: {http: /healthz, interval: 300ms, timeout: 250ms, unhealthy_threshold: 2}
    stop_grace: 3s
    depends_on: [api]
)";
}

int PortOf(const nlohmann::json& replica) { return replica.value("port", 0); }

TEST(Core, UpStartsEveryReplicaHealthyAndServing) {
  Project p;
  p.WriteStack(TwoTierStack());
  RunResult r = p.Steward({"apply", "--listen", "127.0.0.1:0"});
  ASSERT_EQ(r.exit_code, 0) << r.out << r.err;
  EXPECT_NE(r.out.find("Apply complete: 2 done, 0 failed"), std::string::npos) << r.out;
  EXPECT_EQ(p.ReadyCount("api"), 2);
  EXPECT_EQ(p.ReadyCount("web"), 2);
  for (const auto& rep : p.Replicas("web")) {
    std::string body;
    EXPECT_EQ(HttpGet(PortOf(rep), "/", &body), 200);
    EXPECT_NE(body.find("hello from web"), std::string::npos);
  }
  // Nothing changed: plan says so with exit code 0, and a second apply touches nothing.
  RunResult plan = p.Steward({"plan"});
  EXPECT_EQ(plan.exit_code, 0) << plan.out << plan.err;
  auto pids_before = p.Replicas("web");
  RunResult again = p.Steward({"apply"});
  EXPECT_EQ(again.exit_code, 0) << again.err;
  EXPECT_NE(again.out.find("no changes"), std::string::npos) << again.out;
  auto pids_after = p.Replicas("web");
  ASSERT_EQ(pids_before.size(), pids_after.size());
  for (size_t i = 0; i < pids_before.size(); ++i)
    EXPECT_EQ(pids_before[i]["pid"], pids_after[i]["pid"]);
}

TEST(Core, KilledReplicaIsReadyAgainWithinTwoSeconds) {
  Project p;
  p.WriteStack(TwoTierStack());
  ASSERT_APPLY_OK(p);
  auto reps = p.Replicas("web");
  ASSERT_EQ(reps.size(), 2u);
  int victim = reps[0]["pid"];
  int slot = reps[0]["slot"];
  auto t0 = Clock::now();
  ASSERT_EQ(kill(victim, SIGKILL), 0);
  bool back = PollUntil([&] {
    for (const auto& r : p.Replicas("web"))
      if (r["slot"] == slot && r["pid"] != victim && r.value("ready", false)) return true;
    return false;
  }, 5000);
  auto took = std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - t0);
  ASSERT_TRUE(back);
  EXPECT_LT(took.count(), 2000);
  for (const auto& r : p.Replicas("web")) {
    if (r["slot"] == slot) {
      EXPECT_GE(r.value("restarts", 0), 1);
    }
  }
}

TEST(Core, FailingHealthCheckRestartsTheReplica) {
  Project p;
  p.WriteStack(TwoTierStack());
  ASSERT_APPLY_OK(p);
  auto rep = p.Replicas("api")[0];
  int pid = rep["pid"], slot = rep["slot"];
  ASSERT_EQ(HttpPost(PortOf(rep), "/admin/misbehave", "unhealthy=true"), 200);
  bool restarted = PollUntil([&] {
    for (const auto& r : p.Replicas("api"))
      if (r["slot"] == slot && r["pid"] != pid && r.value("ready", false)) return true;
    return false;
  }, 10000);
  ASSERT_TRUE(restarted);
  for (const auto& r : p.Replicas("api")) {
    if (r["slot"] == slot) {
      EXPECT_NE(r.value("last_reason", "").find("health check failed"), std::string::npos);
    }
  }
}

TEST(Core, RollingUpdateKeepsAReplicaReadyThroughout) {
  Project p;
  p.WriteStack(TwoTierStack());
  ASSERT_APPLY_OK(p);
  auto old = p.Replicas("web");
  // The new generation takes a while to boot, so a gap would be seen if there were one.
  p.WriteStack(TwoTierStack(R"(, "--startup-delay", "300ms")"));
  RunResult plan = p.Steward({"plan"});
  EXPECT_EQ(plan.exit_code, 2);
  EXPECT_NE(plan.out.find("-/+ service.web"), std::string::npos) << plan.out;
  EXPECT_NE(plan.out.find("args:"), std::string::npos) << plan.out;

  std::atomic<bool> stop{false};
  std::atomic<int> min_serving{100}, polls{0};
  std::thread poller([&] {
    while (!stop) {
      int serving = 0;
      for (const auto& r : p.Replicas("web"))
        if (r.value("ready", false) && HttpGet(PortOf(r), "/healthz", nullptr, 500) == 200)
          ++serving;
      if (serving < min_serving) min_serving = serving;
      ++polls;
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
  });
  RunResult r = p.Steward({"apply"});
  stop = true;
  poller.join();
  ASSERT_EQ(r.exit_code, 0) << r.out << r.err;
  EXPECT_GT(polls.load(), 5);
  EXPECT_GE(min_serving.load(), 1) << "no web replica was serving at some point of the update";
  auto now = p.Replicas("web");
  ASSERT_EQ(now.size(), 2u);
  for (const auto& n : now) {
    EXPECT_EQ(n.value("generation", 0), 2);
    for (const auto& o : old) EXPECT_NE(n["pid"], o["pid"]);
  }
}

TEST(Core, KillingStewardDuringApplyConvergesOnTheNextApply) {
  Project p;
  p.WriteStack(R"(project: it
services:
  slow:
    command: steward-demo
    args: ["--name", "slow", "--startup-delay", "400ms"]
    replicas: 3
    health: {http: /healthz, interval: 100ms, timeout: 100ms, start_period: 5s}
)");
  int log_pid = p.StewardBackground({"apply", "--listen", "127.0.0.1:0"}, p.dir() + "/apply.log");
  // Wait until the apply is under way (a replica started), then kill the daemon doing it.
  ASSERT_TRUE(PollUntil([&] { return !p.MarkedProcesses().empty() && p.DaemonPid() > 0; }, 10000));
  int daemon = p.DaemonPid();
  ASSERT_EQ(kill(daemon, SIGKILL), 0);
  waitpid(log_pid, nullptr, 0);
  ASSERT_TRUE(PollUntil([&] { ReapAll(); return !ProcessAlive(daemon); }, 5000));

  RunResult r = p.Steward({"apply", "--listen", "127.0.0.1:0"});
  ASSERT_EQ(r.exit_code, 0) << r.out << r.err;
  EXPECT_EQ(p.ReadyCount("slow"), 3);
  EXPECT_EQ(p.Steward({"plan"}).exit_code, 0);
  // The interrupted apply is in the history as such.
  RunResult h = p.Steward({"history", "--json"});
  ASSERT_EQ(h.exit_code, 0);
  auto hist = nlohmann::json::parse(h.out);
  bool interrupted = false;
  for (const auto& e : hist) interrupted |= e["result"] == "interrupted";
  EXPECT_TRUE(interrupted) << h.out;
}

TEST(Core, ConcurrentApplyFailsAtOnceNamingTheHolderOrWaits) {
  Project p;
  p.WriteStack(R"(project: it
services:
  slow:
    command: steward-demo
    args: ["--name", "slow", "--startup-delay", "1500ms"]
    health: {http: /healthz, interval: 100ms, timeout: 100ms, start_period: 5s}
)");
  int first = p.StewardBackground({"apply", "--listen", "127.0.0.1:0"}, p.dir() + "/first.log");
  ASSERT_TRUE(PollUntil([&] {
    std::ifstream in(p.StateDir() + "/state.lock");
    std::string text((std::istreambuf_iterator<char>(in)), {});
    return text.find("command=apply") != std::string::npos;  // not the reconcile pass
  }, 10000));
  auto t0 = Clock::now();
  RunResult second = p.Steward({"apply"});
  auto took = std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - t0);
  EXPECT_EQ(second.exit_code, 3) << second.out << second.err;
  EXPECT_NE(second.err.find("locked by pid"), std::string::npos) << second.err;
  EXPECT_NE(second.err.find("apply"), std::string::npos) << second.err;
  EXPECT_LT(took.count(), 1500);
  // A lock timeout that runs out is the same exit code, and says it waited.
  RunResult timed = p.Steward({"apply", "--lock-timeout", "200ms"});
  EXPECT_EQ(timed.exit_code, 3) << timed.out << timed.err;
  EXPECT_NE(timed.err.find("timed out after 200ms"), std::string::npos) << timed.err;
  // With --lock-timeout it waits for the first apply and then finds nothing to do.
  RunResult waited = p.Steward({"apply", "--lock-timeout", "30s"});
  EXPECT_EQ(waited.exit_code, 0) << waited.err;
  int status = 0;
  waitpid(first, &status, 0);
  EXPECT_EQ(WEXITSTATUS(status), 0);
}

TEST(Core, BadStackFileFailsClearlyAndLeavesEverythingAsItWas) {
  Project p;
  p.WriteStack(TwoTierStack());
  ASSERT_APPLY_OK(p);
  auto before = p.Replicas("web");
  auto history_before = nlohmann::json::parse(p.Steward({"history", "--json"}).out);
  p.WriteStack(R"(project: it
services:
  api:
    command: steward-demo
    replcas: 2
  web:
    command: steward-demo
    depends_on: [db]
)");
  RunResult r = p.Steward({"apply"});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find("steward.yaml:5:5"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("did you mean 'replicas'"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("'db'"), std::string::npos) << r.err;  // both errors, not only the first
  auto after = p.Replicas("web");
  ASSERT_EQ(before.size(), after.size());
  for (size_t i = 0; i < before.size(); ++i) EXPECT_EQ(before[i]["pid"], after[i]["pid"]);
  EXPECT_EQ(nlohmann::json::parse(p.Steward({"history", "--json"}).out).size(),
            history_before.size());
  EXPECT_EQ(p.Steward({"plan"}).exit_code, 1);
}

TEST(Core, DownStopsEverythingAndLeavesNoProcessOrZombie) {
  Project p;
  p.WriteStack(TwoTierStack());
  ASSERT_APPLY_OK(p);
  int daemon = p.DaemonPid();
  std::vector<int> pids = p.MarkedProcesses();
  ASSERT_EQ(pids.size(), 4u);
  RunResult r = p.Steward({"down"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_TRUE(PollUntil([&] { return p.MarkedProcesses().empty(); }, 5000));
  ASSERT_TRUE(PollUntil([&] { ReapAll(); return !ProcessAlive(daemon); }, 5000));
  for (int pid : pids) {
    EXPECT_FALSE(std::ifstream("/proc/" + std::to_string(pid) + "/stat"))
        << "replica " << pid << " still exists (zombie?)";
  }
}

TEST(Core, KilledDaemonLeavesNothingBehindAndTheNextCommandRecovers) {
  Project p;
  p.WriteStack(TwoTierStack());
  ASSERT_APPLY_OK(p);
  int daemon = p.DaemonPid();
  ASSERT_EQ(kill(daemon, SIGKILL), 0);
  // Replicas die with their daemon: no orphans keep running unmanaged.
  EXPECT_TRUE(PollUntil([&] { ReapAll(); return p.MarkedProcesses().empty(); }, 5000));
  RunResult plan = p.Steward({"plan"});
  EXPECT_EQ(plan.exit_code, 2) << plan.out;
  EXPECT_NE(plan.out.find("not running (observed)"), std::string::npos) << plan.out;
  ASSERT_APPLY_OK(p);
  EXPECT_EQ(p.ReadyCount("web"), 2);
  EXPECT_EQ(p.ReadyCount("api"), 2);
}

TEST(Core, CrashingServiceFailsTheApplyAndSkipsItsDependents) {
  Project p;
  p.WriteStack(R"(project: it
services:
  db:
    command: steward-demo
    args: ["--fail-start"]
    health: {tcp: true, interval: 100ms, timeout: 100ms}
    restart: {policy: always, backoff: 50ms, max_backoff: 200ms, crash_loop: {restarts: 3, window: 1m}}
  app:
    command: steward-demo
    depends_on: [db]
  other:
    command: steward-demo
    health: {http: /healthz, interval: 100ms, timeout: 100ms}
)");
  RunResult r = p.Steward({"apply", "--listen", "127.0.0.1:0"});
  EXPECT_EQ(r.exit_code, 1) << r.out;
  EXPECT_NE(r.out.find("exited with status 2"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("service.app: skipped"), std::string::npos) << r.out;
  EXPECT_EQ(p.ReadyCount("other"), 1);
  EXPECT_TRUE(PollUntil([&] {
    auto reps = p.Replicas("db");
    return !reps.empty() && reps[0].value("state", "") == "crash-loop";
  }, 10000));
}

TEST(Core, MissingProgramIsAClearError) {
  Project p;
  p.WriteStack(R"(project: it
services:
  ghost:
    command: no-such-program-xyz
)");
  RunResult r = p.Steward({"apply", "--listen", "127.0.0.1:0"});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.out.find("exec 'no-such-program-xyz': No such file or directory"),
            std::string::npos) << r.out;
}

TEST(Core, DestroyStopsAndForgetsEveryService) {
  Project p;
  p.WriteStack(TwoTierStack());
  ASSERT_APPLY_OK(p);
  RunResult r = p.Steward({"destroy"});
  ASSERT_EQ(r.exit_code, 0) << r.out << r.err;
  EXPECT_NE(r.out.find("service.web"), std::string::npos);
  // web depends on api, so web goes first.
  EXPECT_LT(r.out.find("service.web: destroy started"), r.out.find("service.api: destroy started"))
      << r.out;
  EXPECT_TRUE(PollUntil([&] { return p.MarkedProcesses().empty(); }, 5000));
  RunResult plan = p.Steward({"plan", "--json"});
  EXPECT_EQ(plan.exit_code, 2);
  auto j = nlohmann::json::parse(plan.out);
  EXPECT_EQ(j["summary"]["create"], 2);
}

TEST(Core, LogsShowReplicaOutput) {
  Project p;
  p.WriteStack(TwoTierStack());
  ASSERT_APPLY_OK(p);
  auto rep = p.Replicas("web")[0];
  ASSERT_EQ(HttpGet(PortOf(rep), "/hello-from-test"), 404);
  int slot = rep["slot"];
  EXPECT_TRUE(PollUntil([&] {
    RunResult r = p.Steward({"logs", "web", "--replica", std::to_string(slot)});
    return r.exit_code == 0 && r.out.find("/hello-from-test") != std::string::npos;
  }, 5000));
  RunResult bad = p.Steward({"logs", "nope"});
  EXPECT_EQ(bad.exit_code, 1);
  EXPECT_NE(bad.err.find("no logs for service 'nope'"), std::string::npos);
}

TEST(Core, ReplicaOverItsMemoryLimitIsRestartedWithTheReason) {
  Project p;
  p.WriteStack(R"(project: it
services:
  leaky:
    command: steward-demo
    resources: {memory: 40Mi}
    health: {http: /healthz, interval: 300ms, timeout: 250ms}
)");
  ASSERT_APPLY_OK(p);
  auto rep = p.Replicas("leaky")[0];
  int pid = rep["pid"];
  ASSERT_EQ(HttpPost(PortOf(rep), "/admin/misbehave", "leak=32Mi"), 200);
  EXPECT_TRUE(PollUntil([&] {
    auto r = p.Replicas("leaky");
    return !r.empty() && r[0]["pid"] != pid && r[0].value("ready", false) &&
           r[0].value("last_reason", "").find("over its limit 40Mi") != std::string::npos;
  }, 15000)) << p.Status().dump();
}

// kill -9 of the daemon at several moments of a rolling update: each time the next apply
// converges, with exactly the desired replicas running and nothing left of the old ones.
TEST(Core, KillingTheDaemonAtAnyMomentOfARollingUpdateConverges) {
  Project p;
  auto stack = [](int version) {
    return R"(project: it
services:
  web:
    command: steward-demo
    args: ["--name", "v)" + std::to_string(version) + R"(", "--startup-delay", "150ms"]
    replicas: 3
    health: {http: /healthz, interval: 100ms, timeout: 100ms, start_period: 5s}
)";
  };
  p.WriteStack(stack(0));
  ASSERT_APPLY_OK(p);
  int version = 0;
  for (int delay_ms : {30, 120, 250, 400, 700}) {
    SCOPED_TRACE("kill after " + std::to_string(delay_ms) + "ms");
    p.WriteStack(stack(++version));
    int daemon = p.DaemonPid();
    int cli = p.StewardBackground({"apply"}, p.dir() + "/apply.log");
    // The fault's timing is the point of the test, not a synchronisation.
    std::this_thread::sleep_for(std::chrono::milliseconds(delay_ms));
    kill(daemon, SIGKILL);
    waitpid(cli, nullptr, 0);
    ASSERT_TRUE(PollUntil([&] { ReapAll(); return !ProcessAlive(daemon); }, 5000));
    RunResult r = p.Steward({"apply", "--listen", "127.0.0.1:0"});
    ASSERT_EQ(r.exit_code, 0) << r.out << r.err;
    EXPECT_EQ(p.Steward({"plan"}).exit_code, 0);
    auto reps = p.Replicas("web");
    EXPECT_EQ(reps.size(), 3u);
    EXPECT_EQ(p.ReadyCount("web"), 3);
    EXPECT_EQ(p.MarkedProcesses().size(), 3u);
    std::string body;
    for (const auto& rep : reps) {
      EXPECT_EQ(HttpGet(PortOf(rep), "/", &body), 200);
      EXPECT_NE(body.find("hello from v" + std::to_string(version)), std::string::npos) << body;
    }
  }
}

TEST(Core, RollingUpdateThatCannotGetReadyRollsBackAndKeepsServing) {
  Project p;
  p.WriteStack(TwoTierStack());
  ASSERT_APPLY_OK(p);
  auto old = p.Replicas("web");
  p.WriteStack(TwoTierStack(R"(, "--fail-start")"));
  RunResult r = p.Steward({"apply"});
  EXPECT_EQ(r.exit_code, 1) << r.out;
  EXPECT_NE(r.out.find("rolled back"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("exited with status 2"), std::string::npos) << r.out;
  // The old generation still runs, untouched, and the failed one is gone.
  auto now = p.Replicas("web");
  ASSERT_EQ(now.size(), 2u) << p.Status().dump();
  for (size_t i = 0; i < now.size(); ++i) {
    EXPECT_EQ(now[i]["pid"], old[i]["pid"]);
    EXPECT_EQ(now[i]["generation"], 1);
    EXPECT_EQ(HttpGet(PortOf(now[i]), "/healthz"), 200);
  }
  EXPECT_EQ(p.MarkedProcesses().size(), 4u);
  // The state still records generation 1, so the plan proposes the replace again.
  RunResult plan = p.Steward({"plan"});
  EXPECT_EQ(plan.exit_code, 2);
  EXPECT_NE(plan.out.find("-/+ service.web"), std::string::npos) << plan.out;
}

}  // namespace
}  // namespace steward::testing
