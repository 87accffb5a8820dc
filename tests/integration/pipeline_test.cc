// Pipelines end to end as a user runs them: the real steward binary runs pipelines written by
// the test (`steward run`, `run show`, `run rerun`, `runs`), with real processes. Timestamps
// and counter files written by the jobs prove what ran, when, and how often.
#include <arpa/inet.h>
#include <dirent.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <random>
#include <sstream>

#include <gtest/gtest.h>

#include "integration/harness.h"

namespace steward::testing {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;

std::string Read(const std::string& path) {
  std::ifstream in(path);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

void Write(const std::string& path, const std::string& text) {
  fs::create_directories(fs::path(path).parent_path());
  std::ofstream(path) << text;
}

int64_t Number(const std::string& path) {
  std::string text = Read(path);
  return text.empty() ? -1 : std::stoll(text);
}

// A number unique to this test run, used as an extra `sleep` operand (sleep sums them), so the
// test's processes can be found by their command line and nothing else matches.
std::string Marker() {
  std::random_device rd;
  return "0.000" + std::to_string(100000 + rd() % 800000) + std::to_string(getpid());
}

// Pids of live processes whose command line contains `marker` as a word.
std::vector<int> ProcessesWith(const std::string& marker) {
  std::vector<int> out;
  DIR* d = opendir("/proc");
  if (d == nullptr) return out;
  while (dirent* e = readdir(d)) {
    int pid = atoi(e->d_name);
    if (pid <= 0) continue;
    std::string cmdline = Read("/proc/" + std::to_string(pid) + "/cmdline");
    for (char& c : cmdline)
      if (c == '\0') c = ' ';
    if ((" " + cmdline + " ").find(" " + marker + " ") != std::string::npos) out.push_back(pid);
  }
  closedir(d);
  return out;
}

bool NoneLeft(const std::string& marker) {
  return PollUntil(
      [&] {
        ReapAll();
        return ProcessesWith(marker).empty();
      },
      5000);
}

std::string Stack(const std::string& pipelines) { return "project: pipes\npipelines:\n" + pipelines; }

std::string Show(const RunResult& r) { return "exit " + std::to_string(r.exit_code) + "\n" + r.out + r.err; }

json LastRun(Project& p) {
  RunResult r = p.Steward({"runs", "--json", "--limit", "1"});
  EXPECT_EQ(r.exit_code, 0) << Show(r);
  json j = json::parse(r.out, nullptr, false);
  if (j.is_discarded() || !j.contains("runs") || j["runs"].empty()) return json::object();
  return j["runs"][0];
}

json ShowRun(Project& p, int64_t id) {
  RunResult r = p.Steward({"run", "show", std::to_string(id), "--json"});
  EXPECT_EQ(r.exit_code, 0) << Show(r);
  return json::parse(r.out, nullptr, false);
}

std::map<std::string, std::string> JobStatuses(const json& run) {
  std::map<std::string, std::string> out;
  if (run.is_object() && run.contains("jobs"))
    for (const auto& j : run["jobs"]) out[j.value("job", "")] = j.value("status", "");
  return out;
}

TEST(Pipeline, IndependentJobsOverlapAndADependentStartsAfterBothWithTheirOutputs) {
  Project p;
  const std::string t = p.dir() + "/t";
  p.WriteStack(Stack(R"Y(  ci:
    jobs:
      a:
        steps:
          - run: date +%s%N > )Y" + t + R"Y(.a1; sleep 0.7; date +%s%N > )Y" + t + R"Y(.a2
      b:
        outputs:
          version: ${{ steps.v.outputs.version }}
        steps:
          - id: v
            run: |
              date +%s%N > )Y" + t + R"Y(.b1; sleep 0.7; date +%s%N > )Y" + t + R"Y(.b2
              echo "version=4.2.1" >> "$GITHUB_OUTPUT"
      c:
        needs: [a, b]
        steps:
          - run: date +%s%N > )Y" + t + R"Y(.c1; echo "got ${{ needs.b.outputs.version }}"
)Y"));
  // No sandbox: the timestamps are written outside the working copy, where a sandboxed step
  // cannot write (see StepsInTheSandboxCannotChangeTheSourceOrReachTheNetwork).
  RunResult r = p.Steward({"run", "ci", "--jobs", "2", "--no-sandbox"});
  ASSERT_EQ(r.exit_code, 0) << Show(r);
  EXPECT_LT(Number(t + ".a1"), Number(t + ".b2"));  // a started before b ended
  EXPECT_LT(Number(t + ".b1"), Number(t + ".a2"));  // and b before a ended: they overlapped
  EXPECT_GT(Number(t + ".c1"), Number(t + ".a2"));
  EXPECT_GT(Number(t + ".c1"), Number(t + ".b2"));
  EXPECT_NE(r.out.find("[c] got 4.2.1"), std::string::npos) << r.out;
  // The summary names every job and the run.
  EXPECT_NE(r.out.find("JOB"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("run 1: success"), std::string::npos) << r.out;
  json shown = ShowRun(p, 1);
  EXPECT_EQ(shown.value("status", ""), "success");
  auto statuses = JobStatuses(shown);
  EXPECT_EQ(statuses["a"], "success");
  EXPECT_EQ(statuses["c"], "success");
}

TEST(Pipeline, SecondRunIsACacheHitAndAChangedInputIsAMiss) {
  Project p;
  const std::string counter = p.dir() + "/ran";
  Write(p.dir() + "/src/input.txt", "first");
  p.WriteStack(Stack(R"Y(  build:
    jobs:
      compile:
        cache:
          inputs: ["src/**"]
          outputs: ["out"]
        steps:
          - run: |
              echo x >> )Y" + counter + R"Y(
              mkdir -p out
              cat src/input.txt > out/result.txt
      use:
        needs: [compile]
        steps:
          - run: echo "content=$(cat out/result.txt)"
)Y"));
  RunResult first = p.Steward({"run", "build", "--no-sandbox"});
  ASSERT_EQ(first.exit_code, 0) << Show(first);
  EXPECT_EQ(Read(counter), "x\n");
  EXPECT_NE(first.out.find("[use] content=first"), std::string::npos) << first.out;

  RunResult second = p.Steward({"run", "build", "--no-sandbox"});
  ASSERT_EQ(second.exit_code, 0) << Show(second);
  EXPECT_EQ(Read(counter), "x\n");  // the cached job did not run again
  EXPECT_NE(second.out.find("[use] content=first"), std::string::npos)  // restored output
      << second.out;
  EXPECT_EQ(JobStatuses(ShowRun(p, 2))["compile"], "cached");

  Write(p.dir() + "/src/input.txt", "second");
  RunResult third = p.Steward({"run", "build", "--no-sandbox"});
  ASSERT_EQ(third.exit_code, 0) << Show(third);
  EXPECT_EQ(Read(counter), "x\nx\n");
  EXPECT_NE(third.out.find("[use] content=second"), std::string::npos) << third.out;
  EXPECT_EQ(JobStatuses(ShowRun(p, 3))["compile"], "success");

  RunResult stats = p.Steward({"cache", "stats", "--json"});
  ASSERT_EQ(stats.exit_code, 0) << Show(stats);
  json s = json::parse(stats.out, nullptr, false);
  EXPECT_EQ(s.value("entries", 0), 2) << stats.out;
  EXPECT_GE(s.value("hits", 0), 1) << stats.out;
  RunResult prune = p.Steward({"cache", "prune", "--all"});
  EXPECT_EQ(prune.exit_code, 0) << Show(prune);
  EXPECT_EQ(json::parse(p.Steward({"cache", "stats", "--json"}).out, nullptr, false)
                .value("entries", -1),
            0);
}

TEST(Pipeline, AFailureSkipsDependentsWhileAlwaysJobsAndContinueOnErrorGoOn) {
  Project p;
  p.WriteStack(Stack(R"Y(  ci:
    jobs:
      build:
        steps:
          - run: echo compiling; exit 7
      test:
        needs: [build]
        steps:
          - run: echo testing
      report:
        needs: [build]
        if: always()
        steps:
          - run: echo "build was ${{ needs.build.result }}"
      lint:
        continue_on_error: true
        steps:
          - run: exit 1
      docs:
        steps:
          - id: flaky
            continue_on_error: true
            run: exit 2
          - run: echo "after ${{ steps.flaky.outcome }}"
)Y"));
  RunResult r = p.Steward({"run", "ci", "--no-sandbox"});
  EXPECT_EQ(r.exit_code, 1) << Show(r);
  EXPECT_EQ(r.out.find("[test] testing"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("[report] build was failure"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("[docs] after failure"), std::string::npos) << r.out;
  auto statuses = JobStatuses(ShowRun(p, 1));
  EXPECT_EQ(statuses["build"], "failure");
  EXPECT_EQ(statuses["test"], "skipped");
  EXPECT_EQ(statuses["report"], "success");
  EXPECT_EQ(statuses["lint"], "failure");
  EXPECT_EQ(statuses["docs"], "success");
}

TEST(Pipeline, JobTimeoutKillsTheWholeStepTreeLeavingNoProcess) {
  Project p;
  const std::string marker = Marker();
  p.WriteStack(Stack(R"Y(  slow:
    jobs:
      hang:
        timeout: 2s
        steps:
          - run: |
              setsid sleep 1000 )Y" + marker + R"Y( &
              sleep 1000 )Y" + marker + R"Y(
)Y"));
  const auto start = std::chrono::steady_clock::now();
  RunResult r = p.Steward({"run", "slow", "--no-sandbox"});
  EXPECT_EQ(r.exit_code, 1) << Show(r);
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(30));
  EXPECT_NE(r.out.find("timed out"), std::string::npos) << r.out;
  EXPECT_TRUE(NoneLeft(marker)) << "left behind: " << ProcessesWith(marker).size();
  EXPECT_EQ(JobStatuses(ShowRun(p, 1))["hang"], "failure");
}

// Starts `steward run long` in the background: job `wait` leaves a daemon behind (setsid) and
// sleeps, both carrying `marker`; `more_jobs` is added under jobs:. Returns the pid once both
// sleeps run, or 0 (after killing steward) when they do not appear in time.
int StartHangingRun(Project& p, const std::string& marker, const std::string& more_jobs) {
  p.WriteStack(Stack(R"Y(  long:
    jobs:
      wait:
        steps:
          - run: |
              setsid sleep 1000 )Y" + marker + R"Y( &
              sleep 1000 )Y" + marker + "\n" + more_jobs));
  int pid = p.StewardBackground({"run", "long", "--no-sandbox"}, p.dir() + "/run.log");
  if (PollUntil([&] { return ProcessesWith(marker).size() >= 2; }, 20000)) return pid;
  kill(pid, SIGKILL);
  waitpid(pid, nullptr, 0);
  return 0;
}

TEST(Pipeline, SigintCancelsTheRunKillsItsProcessesAndRecordsCancelled) {
  Project p;
  const std::string marker = Marker();
  int pid = StartHangingRun(p, marker, R"Y(      after:
        needs: [wait]
        steps:
          - run: echo never
)Y");
  ASSERT_GT(pid, 0) << Read(p.dir() + "/run.log");
  ASSERT_EQ(kill(pid, SIGINT), 0);
  int status = 0;
  bool exited = PollUntil([&] { return waitpid(pid, &status, WNOHANG) == pid; }, 20000);
  if (!exited) {
    kill(pid, SIGKILL);
    waitpid(pid, &status, 0);
  }
  ASSERT_TRUE(exited) << Read(p.dir() + "/run.log");
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 130) << Read(p.dir() + "/run.log");
  EXPECT_TRUE(NoneLeft(marker)) << "left behind: " << ProcessesWith(marker).size();
  json run = ShowRun(p, 1);
  EXPECT_EQ(run.value("status", ""), "cancelled");
  auto statuses = JobStatuses(run);
  EXPECT_EQ(statuses["wait"], "cancelled");
  EXPECT_EQ(statuses["after"], "cancelled");
}

TEST(Pipeline, KillNineOfTheRunnerTakesItsStepsAlongAndTheRunIsInterrupted) {
  Project p;
  const std::string marker = Marker();
  int pid = StartHangingRun(p, marker, "");
  ASSERT_GT(pid, 0) << Read(p.dir() + "/run.log");
  ASSERT_EQ(kill(pid, SIGKILL), 0);
  int status = 0;
  ASSERT_EQ(waitpid(pid, &status, 0), pid);
  // Each step's shim sees steward die and kills what runs below it, escaped daemon included.
  EXPECT_TRUE(NoneLeft(marker)) << "left behind: " << ProcessesWith(marker).size();
  // The next command finds the run's process gone and records it as interrupted.
  RunResult runs = p.Steward({"runs", "--json"});
  ASSERT_EQ(runs.exit_code, 0) << runs.err;
  json j = json::parse(runs.out, nullptr, false);
  ASSERT_FALSE(j.is_discarded()) << runs.out;
  ASSERT_EQ(j["runs"].size(), 1u) << runs.out;
  EXPECT_EQ(j["runs"][0].value("status", ""), "interrupted") << runs.out;
}

TEST(Pipeline, RerunRunsOnlyTheFailedJobsAndReusesTheRest) {
  Project p;
  const std::string flag = p.dir() + "/flag";
  const std::string builds = p.dir() + "/builds";
  p.WriteStack(Stack(R"Y(  ci:
    jobs:
      build:
        outputs:
          id: ${{ steps.b.outputs.id }}
        steps:
          - id: b
            run: echo b >> )Y" + builds + R"Y(; echo "id=77" >> "$GITHUB_OUTPUT"
      test:
        needs: [build]
        steps:
          - run: test -f )Y" + flag + R"Y( && echo "tested ${{ needs.build.outputs.id }}"
)Y"));
  RunResult first = p.Steward({"run", "ci", "--no-sandbox"});
  EXPECT_EQ(first.exit_code, 1) << Show(first);
  Write(flag, "");
  RunResult rerun = p.Steward({"run", "rerun", "1", "--no-sandbox"});
  ASSERT_EQ(rerun.exit_code, 0) << Show(rerun);
  EXPECT_EQ(Read(builds), "b\n");  // build was not run again
  EXPECT_NE(rerun.out.find("[test] tested 77"), std::string::npos) << rerun.out;
  json run = ShowRun(p, 2);
  EXPECT_EQ(run.value("rerun_of", 0), 1);
  EXPECT_EQ(run.value("trigger", ""), "rerun");
  auto statuses = JobStatuses(run);
  EXPECT_EQ(statuses["build"], "reused");
  EXPECT_EQ(statuses["test"], "success");
}

TEST(Pipeline, SecretsReachOnlyTheJobsThatNameThemAndAreMasked) {
  Project p;
  setenv("STEWARD_IT_DEPLOY_KEY", "hunter2-very-secret", 1);
  p.WriteStack(Stack(R"Y(  ship:
    jobs:
      deploy:
        secrets: [STEWARD_IT_DEPLOY_KEY]
        steps:
          - run: echo "key=$STEWARD_IT_DEPLOY_KEY"; echo "${#STEWARD_IT_DEPLOY_KEY} chars"
      other:
        steps:
          - run: echo "other=${STEWARD_IT_DEPLOY_KEY:-unset}"
)Y"));
  RunResult r = p.Steward({"run", "ship", "--no-sandbox", "--secret", "STEWARD_IT_DEPLOY_KEY"});
  unsetenv("STEWARD_IT_DEPLOY_KEY");
  ASSERT_EQ(r.exit_code, 0) << Show(r);
  EXPECT_EQ((r.out + r.err).find("hunter2"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("[deploy] key=***"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("[deploy] 19 chars"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("[other] other=unset"), std::string::npos) << r.out;
  RunResult logs = p.Steward({"run", "show", "1", "--logs"});
  EXPECT_EQ(logs.exit_code, 0) << Show(logs);
  EXPECT_NE(logs.out.find("key=***"), std::string::npos) << logs.out;
  EXPECT_EQ(logs.out.find("hunter2"), std::string::npos) << logs.out;
  // A secret that is not in the environment is refused before anything runs.
  RunResult missing = p.Steward({"run", "ship", "--secret", "STEWARD_IT_DEPLOY_KEY"});
  EXPECT_EQ(missing.exit_code, 1) << Show(missing);
  EXPECT_NE(missing.err.find("STEWARD_IT_DEPLOY_KEY"), std::string::npos) << missing.err;
}

TEST(Pipeline, AGithubWorkflowRunsItsRunStepsWithMatrixOutputsAndConditions) {
  Project p;
  p.WriteStack("project: pipes\n");
  Write(p.dir() + "/.github/workflows/ci.yml", R"Y(name: CI
on: [push]
jobs:
  build:
    runs-on: ubuntu-latest
    strategy:
      matrix:
        n: [1, 2]
    outputs:
      artifact: ${{ steps.make.outputs.artifact }}
    steps:
      - uses: actions/checkout@v4
      - id: make
        run: |
          echo "artifact=app-${{ matrix.n }}" >> "$GITHUB_OUTPUT"
          echo "GREETING=hello-${{ matrix.n }}" >> "$GITHUB_ENV"
      - run: echo "greeting $GREETING"
  report:
    needs: build
    if: ${{ always() }}
    runs-on: ubuntu-latest
    steps:
      - run: echo "built ${{ needs.build.outputs.artifact }} (${{ needs.build.result }})"
  on-failure:
    needs: build
    if: failure()
    runs-on: ubuntu-latest
    steps:
      - run: echo "should not run"
)Y");
  RunResult r = p.Steward({"run", "--workflow", ".github/workflows/ci.yml", "--no-sandbox"});
  ASSERT_EQ(r.exit_code, 0) << Show(r);
  EXPECT_NE(r.out.find("greeting hello-1"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("greeting hello-2"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("] built app-"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("(success)"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("actions/checkout@v4"), std::string::npos) << r.out;
  EXPECT_EQ(r.out.find("should not run"), std::string::npos) << r.out;
  json run = ShowRun(p, 1);
  EXPECT_EQ(run.value("pipeline", ""), "CI");
  auto statuses = JobStatuses(run);
  EXPECT_EQ(statuses["on-failure"], "skipped");
  EXPECT_EQ(statuses["report"], "success");
  EXPECT_EQ(statuses.size(), 4u);  // two build instances, report, on-failure

  // Only a named job (and what it needs).
  RunResult one = p.Steward({"run", "--workflow", ".github/workflows/ci.yml", "--no-sandbox",
                             "build"});
  ASSERT_EQ(one.exit_code, 0) << Show(one);
  EXPECT_EQ(JobStatuses(ShowRun(p, 2)).size(), 2u);
}

TEST(Pipeline, ABrokenPipelineIsRejectedWithItsPlaceBeforeAnythingRuns) {
  Project p;
  const std::string ran = p.dir() + "/ran";
  p.WriteStack(Stack(R"Y(  ci:
    jobs:
      a:
        needs: [b]
        steps:
          - run: touch )Y" + ran + R"Y(
      b:
        needs: [a]
        steps:
          - run: touch )Y" + ran + R"Y(
      c:
        needs: [nonexistent]
        steps:
          - run: touch )Y" + ran + R"Y(
)Y"));
  RunResult r = p.Steward({"run", "ci"});
  EXPECT_EQ(r.exit_code, 1) << Show(r);
  EXPECT_NE(r.err.find("steward.yaml:"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("nonexistent"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("a -> b -> a"), std::string::npos) << r.err;
  EXPECT_FALSE(fs::exists(ran));
  RunResult runs = p.Steward({"runs", "--json"});
  EXPECT_EQ(json::parse(runs.out, nullptr, false).value("runs", json::array()).size(), 0u)
      << runs.out;
}

TEST(Pipeline, RunsJsonRecordsCommitTriggerAndTimings) {
  Project p;
  p.WriteStack(Stack(R"Y(  ci:
    jobs:
      hello:
        steps:
          - run: echo "at $GITHUB_SHA on $GITHUB_REF_NAME"
)Y"));
  Write(p.dir() + "/.gitignore", ".steward/\n.out\n.err\n");
  ASSERT_EQ(system(("cd " + p.dir() +
                    " && git init -q -b main && git add -A && git -c user.email=t@example.com "
                    "-c user.name=t commit -q -m 'add the ci pipeline'")
                       .c_str()),
            0);
  std::string sha = Read(p.dir() + "/.git/refs/heads/main");
  while (!sha.empty() && sha.back() == '\n') sha.pop_back();
  ASSERT_EQ(sha.size(), 40u);

  RunResult r = p.Steward({"run", "ci", "--no-sandbox"});
  ASSERT_EQ(r.exit_code, 0) << Show(r);
  EXPECT_NE(r.out.find("[hello] at " + sha + " on main"), std::string::npos) << r.out;
  json run = LastRun(p);
  EXPECT_EQ(run.value("id", 0), 1);
  EXPECT_EQ(run.value("pipeline", ""), "ci");
  EXPECT_EQ(run.value("status", ""), "success");
  EXPECT_EQ(run.value("trigger", ""), "manual");
  EXPECT_EQ(run.value("commit", ""), sha);
  EXPECT_EQ(run.value("branch", ""), "main");
  EXPECT_EQ(run.value("commit_message", ""), "add the ci pipeline");
  EXPECT_TRUE(run["commit_time"].is_string()) << run.dump();
  EXPECT_TRUE(run["started_at"].is_string()) << run.dump();
  EXPECT_TRUE(run["finished_at"].is_string()) << run.dump();

  RunResult table = p.Steward({"runs"});
  EXPECT_EQ(table.exit_code, 0) << Show(table);
  EXPECT_NE(table.out.find(sha.substr(0, 7)), std::string::npos) << table.out;
}


TEST(Pipeline, StepsInTheSandboxCannotChangeTheSourceOrReachTheNetwork) {
  if (access("/usr/bin/bwrap", X_OK) != 0) GTEST_SKIP() << "bubblewrap is not installed";
  Project p;
  Write(p.dir() + "/input.txt", "from the source\n");
  // A listener in the test: the sandbox has its own loopback unless the job asks for network.
  int listener = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ASSERT_EQ(bind(listener, reinterpret_cast<sockaddr*>(&addr), sizeof addr), 0);
  ASSERT_EQ(listen(listener, 8), 0);
  socklen_t len = sizeof addr;
  getsockname(listener, reinterpret_cast<sockaddr*>(&addr), &len);
  std::string port = std::to_string(ntohs(addr.sin_port));
  p.WriteStack(Stack(R"Y(  box:
    jobs:
      closed:
        steps:
          - run: cat input.txt > copied.txt && cat copied.txt
          - run: echo x > )Y" + p.dir() + R"Y(/escaped.txt 2>/dev/null || echo "not writable"; true
          - run: if (exec 3<>/dev/tcp/127.0.0.1/)Y" + port + R"Y() 2>/dev/null; then echo connected-closed; else echo refused-closed; fi
      open:
        sandbox: {network: true}
        steps:
          - run: if (exec 3<>/dev/tcp/127.0.0.1/)Y" + port + R"Y() 2>/dev/null; then echo connected-open; else echo refused-open; fi
)Y"));
  RunResult r = p.Steward({"run", "box", "--jobs", "2"});
  close(listener);
  ASSERT_EQ(r.exit_code, 0) << Show(r);
  EXPECT_NE(r.out.find("[closed] from the source"), std::string::npos) << r.out;
  EXPECT_FALSE(fs::exists(p.dir() + "/escaped.txt"));  // the source is read-only in the box
  EXPECT_FALSE(fs::exists(p.dir() + "/copied.txt"));   // the job wrote its working copy
  EXPECT_NE(r.out.find("refused-closed"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("connected-open"), std::string::npos) << r.out;
}

}  // namespace
}  // namespace steward::testing
