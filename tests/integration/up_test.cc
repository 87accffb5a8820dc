// `steward up` in the foreground, `--watch`, and the CLI's plan/validate surface.
#include <signal.h>
#include <sys/wait.h>

#include <fstream>

#include <gtest/gtest.h>

#include "integration/harness.h"

namespace steward::testing {
namespace {

std::string Stack(int replicas) {
  return "project: up-test\nservices:\n  web:\n    command: steward-demo\n    replicas: " +
         std::to_string(replicas) +
         "\n    health: {http: /healthz, interval: 300ms, timeout: 250ms}\n";
}

TEST(Up, RunsInTheForegroundAndCtrlCStopsEverything) {
  Project p;
  p.WriteStack(Stack(2));
  int pid = p.StewardBackground({"up", "--listen", "127.0.0.1:0"}, p.dir() + "/up.log");
  ASSERT_TRUE(PollUntil([&] { return p.ReadyCount("web") == 2; }, 10000));
  auto pids = p.MarkedProcesses();
  EXPECT_EQ(pids.size(), 2u);
  kill(pid, SIGINT);
  int status = 0;
  ASSERT_TRUE(PollUntil([&] { return waitpid(pid, &status, WNOHANG) == pid; }, 15000));
  EXPECT_TRUE(WIFEXITED(status));
  EXPECT_EQ(WEXITSTATUS(status), 0);
  EXPECT_TRUE(p.MarkedProcesses().empty());
  for (int r : pids) EXPECT_FALSE(ProcessAlive(r));
  std::ifstream log(p.dir() + "/up.log");
  std::string text((std::istreambuf_iterator<char>(log)), {});
  EXPECT_NE(text.find("Apply complete"), std::string::npos) << text;
}

TEST(Up, WatchAppliesAChangedStackFile) {
  Project p;
  p.WriteStack(Stack(1));
  int pid = p.StewardBackground({"up", "--watch", "--listen", "127.0.0.1:0"}, p.dir() + "/up.log");
  ASSERT_TRUE(PollUntil([&] { return p.ReadyCount("web") == 1; }, 10000));
  p.WriteStack(Stack(3));
  EXPECT_TRUE(PollUntil([&] { return p.ReadyCount("web") == 3; }, 15000));
  kill(pid, SIGTERM);
  waitpid(pid, nullptr, 0);
}

TEST(Serve, RestoresRecordedServicesAfterTheDaemonWasKilled) {
  Project p;
  p.WriteStack(Stack(2));
  ASSERT_APPLY_OK(p);
  int daemon = p.DaemonPid();
  ASSERT_EQ(kill(daemon, SIGKILL), 0);
  ASSERT_TRUE(PollUntil([&] { ReapAll(); return p.MarkedProcesses().empty(); }, 5000));
  // No apply: the new daemon's reconcile loop restores what the state records.
  int serve = p.StewardBackground({"serve", "--listen", "127.0.0.1:0"}, p.dir() + "/serve.log");
  EXPECT_TRUE(PollUntil([&] { return p.ReadyCount("web") == 2; }, 10000));
  EXPECT_EQ(p.Status()["project"], "up-test");
  // The repair is recorded once the reconcile pass has seen the replicas ready.
  EXPECT_TRUE(PollUntil([&] {
    auto history = p.Api("/api/v1/history");
    if (!history) return false;
    for (const auto& e : *history)
      if (e["command"] == "reconcile" && e["result"] == "success") return true;
    return false;
  }, 5000)) << p.Api("/api/v1/history").value_or(nlohmann::json()).dump();
  // A second daemon for the same state directory is refused, naming the first.
  RunResult second = p.Steward({"serve", "--listen", "127.0.0.1:0"}, 10000);
  EXPECT_EQ(second.exit_code, 1);
  EXPECT_NE(second.err.find("already running"), std::string::npos) << second.err;
  kill(serve, SIGTERM);
  int status = 0;
  waitpid(serve, &status, 0);
  EXPECT_EQ(WEXITSTATUS(status), 0);
  EXPECT_TRUE(p.MarkedProcesses().empty());
}

TEST(Cli, PlanExitCodesAndJson) {
  Project p;
  p.WriteStack(Stack(2));
  RunResult r = p.Steward({"plan", "--json"});
  EXPECT_EQ(r.exit_code, 2);
  auto j = nlohmann::json::parse(r.out);
  EXPECT_EQ(j["summary"]["create"], 1);
  EXPECT_EQ(j["changes"][0]["resource"], "service.web");
  EXPECT_EQ(j["changes"][0]["symbol"], "+");
  p.WriteStack("project: x\nservices: 3\n");
  EXPECT_EQ(p.Steward({"plan"}).exit_code, 1);
  RunResult missing = p.Steward({"plan", "-f", "nope.yaml"});
  EXPECT_EQ(missing.exit_code, 1);
  EXPECT_NE(missing.err.find("nope.yaml"), std::string::npos) << missing.err;
}

TEST(Cli, ValidateReportsEveryErrorWithItsLocation) {
  Project p;
  p.WriteStack(R"(project: v
services:
  a:
    command: x
    depends_on: [b]
    health: {http: /healthz, interval: fast}
  b:
    command: x
    depends_on: [a]
    resources: {memory: lots}
)");
  RunResult r = p.Steward({"validate"});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find("steward.yaml:6:"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("dependency cycle"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("lots"), std::string::npos) << r.err;
  RunResult j = p.Steward({"validate", "--json"});
  auto out = nlohmann::json::parse(j.out);
  EXPECT_FALSE(out["valid"]);
  EXPECT_GE(out["errors"].size(), 3u);
}

TEST(Cli, HelpForEveryCommand) {
  Project p;
  for (const char* cmd : {"validate", "plan", "apply", "destroy", "up", "serve", "down", "status",
                          "history", "logs"}) {
    RunResult r = p.Steward({cmd, "--help"});
    EXPECT_EQ(r.exit_code, 0) << cmd;
    EXPECT_NE(r.out.find("Usage"), std::string::npos) << cmd << r.out;
  }
}

}  // namespace
}  // namespace steward::testing
