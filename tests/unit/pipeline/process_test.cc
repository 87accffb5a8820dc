// RunProcess and KillTree against real processes: exit codes, signals, output lines, the
// environment, deadlines, cancellation, and — after every kill — that no process of the step
// is left, found by a unique marker in its command line.
#include "pipeline/process.h"

#include <dirent.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <spawn.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <filesystem>
#include <fstream>
#include <set>
#include <thread>

namespace steward::pipeline {
namespace {

using std::chrono::milliseconds;
using Clock = std::chrono::steady_clock;

const std::map<std::string, std::string> kEnv = {{"PATH", "/usr/local/bin:/usr/bin:/bin"}};

struct Line {
  std::string text;
  bool is_stderr;
};

struct Outcome {
  ProcessResult result;
  std::vector<Line> lines;
  std::vector<std::string> Out() const {
    std::vector<std::string> out;
    for (const Line& l : lines) {
      if (!l.is_stderr) out.push_back(l.text);
    }
    return out;
  }
  std::vector<std::string> Err() const {
    std::vector<std::string> out;
    for (const Line& l : lines) {
      if (l.is_stderr) out.push_back(l.text);
    }
    return out;
  }
};

Outcome RunSpec(const ProcessSpec& spec, const CancelToken* cancel = nullptr) {
  Outcome run;
  run.result = RunProcess(
      spec,
      [&](std::string_view line, bool is_stderr) {
        run.lines.push_back({std::string(line), is_stderr});
      },
      cancel);
  return run;
}

Outcome Sh(const std::string& script, milliseconds timeout = milliseconds(0)) {
  ProcessSpec spec;
  spec.argv = {"sh", "-c", script};
  spec.env = kEnv;
  spec.timeout = timeout;
  return RunSpec(spec);
}

// A sleep duration nobody else uses, so its text in /proc/*/cmdline identifies this test's
// processes: "1000.<pid><n>".
std::string Marker() {
  static std::atomic<int> n{0};
  return "1000." + std::to_string(getpid()) + std::to_string(++n);
}

// Pids of living (non-zombie) processes whose command line contains marker.
std::vector<int> ProcessesWith(const std::string& marker) {
  std::vector<int> pids;
  DIR* dir = opendir("/proc");
  while (dirent* e = readdir(dir)) {
    if (e->d_name[0] < '0' || e->d_name[0] > '9') continue;
    std::string base = std::string("/proc/") + e->d_name;
    std::ifstream stat(base + "/stat");
    std::string stat_text((std::istreambuf_iterator<char>(stat)), {});
    size_t paren = stat_text.rfind(')');
    if (paren == std::string::npos || stat_text.size() < paren + 3 || stat_text[paren + 2] == 'Z') {
      continue;
    }
    std::ifstream cmd(base + "/cmdline");
    std::string cmdline((std::istreambuf_iterator<char>(cmd)), {});
    if (cmdline.find(marker) != std::string::npos) pids.push_back(atoi(e->d_name));
  }
  closedir(dir);
  return pids;
}

// Waits (bounded) until no process carries marker; processes killed a moment ago may still be
// exiting. Returns what is left.
std::vector<int> LeftAfter(const std::string& marker, milliseconds bound = milliseconds(1000)) {
  Clock::time_point end = Clock::now() + bound;
  std::vector<int> left = ProcessesWith(marker);
  while (!left.empty() && Clock::now() < end) {
    std::this_thread::sleep_for(milliseconds(10));
    left = ProcessesWith(marker);
  }
  return left;
}

// Waits (bounded) until a process carrying marker exists.
bool AppearsWithin(const std::string& marker, milliseconds bound) {
  Clock::time_point end = Clock::now() + bound;
  while (Clock::now() < end) {
    if (!ProcessesWith(marker).empty()) return true;
    std::this_thread::sleep_for(milliseconds(5));
  }
  return false;
}

TEST(RunProcess, ReportsExitCodes) {
  Outcome ok = Sh("exit 0");
  EXPECT_TRUE(ok.result.ok());
  EXPECT_EQ(ok.result.end, ProcessEnd::kExited);
  EXPECT_EQ(ok.result.Describe(), "exit 0");
  Outcome two = Sh("exit 2");
  EXPECT_FALSE(two.result.ok());
  EXPECT_EQ(two.result.end, ProcessEnd::kExited);
  EXPECT_EQ(two.result.exit_code, 2);
  EXPECT_EQ(two.result.Describe(), "exit 2");
}

TEST(RunProcess, ReportsTheKillingSignal) {
  Outcome run = Sh("kill -SEGV $$");
  EXPECT_EQ(run.result.end, ProcessEnd::kSignaled);
  EXPECT_EQ(run.result.exit_code, SIGSEGV);
  EXPECT_EQ(run.result.Describe(), "killed by SIGSEGV");
}

TEST(RunProcess, SeparatesStdoutAndStderrLineByLine) {
  Outcome run = Sh("echo out1; echo err1 >&2; echo out2; printf 'err2\\nerr3' >&2");
  ASSERT_TRUE(run.result.ok()) << run.result.Describe();
  EXPECT_EQ(run.Out(), (std::vector<std::string>{"out1", "out2"}));
  EXPECT_EQ(run.Err(), (std::vector<std::string>{"err1", "err2", "err3"}));
}

TEST(RunProcess, DeliversAFinalPartialLineAndEmptyLines) {
  Outcome run = Sh("printf 'a\\n\\nb'");
  EXPECT_EQ(run.Out(), (std::vector<std::string>{"a", "", "b"}));
}

TEST(RunProcess, ChunksVeryLongLines) {
  Outcome run = Sh("head -c 200000 /dev/zero | tr '\\0' x; echo; echo after");
  ASSERT_TRUE(run.result.ok());
  std::vector<std::string> out = run.Out();
  ASSERT_EQ(out.size(), 5u);
  EXPECT_EQ(out[0], std::string(65536, 'x'));
  EXPECT_EQ(out[1], std::string(65536, 'x'));
  EXPECT_EQ(out[2], std::string(65536, 'x'));
  EXPECT_EQ(out[3], std::string(200000 - 3 * 65536, 'x'));
  EXPECT_EQ(out[4], "after");
}

TEST(RunProcess, GivesTheChildOnlyTheGivenEnvironment) {
  setenv("STEWARD_PROCESS_TEST_LEAK", "from-the-test", 1);
  ProcessSpec spec;
  spec.argv = {"env"};
  spec.env = kEnv;
  spec.env["GREETING"] = "hello world";
  Outcome run = RunSpec(spec);
  unsetenv("STEWARD_PROCESS_TEST_LEAK");
  ASSERT_TRUE(run.result.ok()) << run.result.Describe();
  std::vector<std::string> out = run.Out();
  std::sort(out.begin(), out.end());
  EXPECT_EQ(
      out, (std::vector<std::string>{"GREETING=hello world", "PATH=/usr/local/bin:/usr/bin:/bin"}));
}

TEST(RunProcess, ResolvesTheProgramThroughTheGivenPath) {
  char tmpl[] = "/tmp/steward-process-test-XXXXXX";
  ASSERT_NE(mkdtemp(tmpl), nullptr);
  std::string dir = tmpl;
  {
    std::ofstream script(dir + "/hello-steward");
    script << "#!/bin/sh\necho \"hi from $0 in $(pwd)\"\n";
  }
  chmod((dir + "/hello-steward").c_str(), 0755);
  ProcessSpec spec;
  spec.argv = {"hello-steward"};
  spec.env = {{"PATH", "/nonexistent:" + dir + ":/usr/bin:/bin"}};
  spec.cwd = "/";
  Outcome run = RunSpec(spec);
  EXPECT_TRUE(run.result.ok()) << run.result.Describe();
  EXPECT_EQ(run.Out(), (std::vector<std::string>{"hi from " + dir + "/hello-steward in /"}));

  spec.env = kEnv;  // the test's own PATH does not count
  Outcome missing = RunSpec(spec);
  EXPECT_EQ(missing.result.end, ProcessEnd::kFailedToStart);
  EXPECT_NE(missing.result.error.find("'hello-steward' not found in PATH="), std::string::npos)
      << missing.result.error;
  std::filesystem::remove_all(dir);
}

TEST(RunProcess, RunsInTheWorkingDirectory) {
  ProcessSpec spec;
  spec.argv = {"pwd"};
  spec.env = kEnv;
  spec.cwd = "/usr";
  Outcome run = RunSpec(spec);
  EXPECT_EQ(run.Out(), (std::vector<std::string>{"/usr"}));
}

TEST(RunProcess, FailsToStartWithAReason) {
  ProcessSpec spec;
  spec.argv = {"/nonexistent/program"};
  spec.env = kEnv;
  Outcome run = RunSpec(spec);
  EXPECT_EQ(run.result.end, ProcessEnd::kFailedToStart);
  EXPECT_EQ(run.result.error, "exec '/nonexistent/program': No such file or directory");
  EXPECT_EQ(run.result.Describe(),
            "failed to start: exec '/nonexistent/program': No such file or directory");

  spec.argv = {"true"};
  spec.cwd = "/nonexistent/dir";
  Outcome bad_cwd = RunSpec(spec);
  EXPECT_EQ(bad_cwd.result.end, ProcessEnd::kFailedToStart);
  EXPECT_EQ(bad_cwd.result.error, "chdir '/nonexistent/dir': No such file or directory");
}

TEST(RunProcess, RunsInItsOwnSessionAndProcessGroup) {
  Outcome run = Sh("ps -o pid=,pgid=,sid= -p $$");
  ASSERT_TRUE(run.result.ok());
  ASSERT_EQ(run.Out().size(), 1u);
  int pid = 0, pgid = 0, sid = 0;
  ASSERT_EQ(sscanf(run.Out()[0].c_str(), "%d %d %d", &pid, &pgid, &sid), 3) << run.Out()[0];
  EXPECT_EQ(pid, pgid);
  EXPECT_EQ(pid, sid);
}

TEST(RunProcess, TimeoutKillsTheWholeTree) {
  std::string m = Marker();
  Clock::time_point start = Clock::now();
  Outcome run = Sh("sleep " + m + " & sleep " + m + " & wait", milliseconds(300));
  milliseconds took = std::chrono::duration_cast<milliseconds>(Clock::now() - start);
  EXPECT_EQ(run.result.end, ProcessEnd::kTimedOut);
  EXPECT_EQ(run.result.Describe(), "timed out after 300ms");
  EXPECT_LT(took.count(), 2000);
  EXPECT_EQ(LeftAfter(m), std::vector<int>{});
}

TEST(RunProcess, DescribesWholeSecondTimeouts) {
  ProcessResult r;
  r.end = ProcessEnd::kTimedOut;
  r.took = milliseconds(5000);
  EXPECT_EQ(r.Describe(), "timed out after 5s");
  r.took = milliseconds(1500);
  EXPECT_EQ(r.Describe(), "timed out after 1.5s");
}

TEST(RunProcess, KillsADaemonThatLeftTheSessionWhileTheStepRuns) {
  std::string m = Marker();
  Outcome run = Sh("setsid sh -c 'sleep " + m + "' >/dev/null 2>&1 </dev/null & sleep " + m,
                   milliseconds(500));
  EXPECT_EQ(run.result.end, ProcessEnd::kTimedOut);
  EXPECT_EQ(LeftAfter(m), std::vector<int>{});
}

TEST(RunProcess, KillsADoubleForkedDaemonWhoseParentExited) {
  // The script exits at once; the daemon, in a session of its own and with its output
  // elsewhere, would outlive the step unless it is found below the step's subreaper.
  std::string m = Marker();
  Clock::time_point start = Clock::now();
  Outcome run = Sh("(setsid sh -c 'sleep " + m + "' >/dev/null 2>&1 </dev/null &) ; echo started");
  EXPECT_TRUE(run.result.ok()) << run.result.Describe();
  EXPECT_EQ(run.Out(), (std::vector<std::string>{"started"}));
  EXPECT_LT(std::chrono::duration_cast<milliseconds>(Clock::now() - start).count(), 2000);
  EXPECT_EQ(LeftAfter(m), std::vector<int>{});
}

TEST(RunProcess, EndsWhenTheCommandExitsEvenIfABackgroundChildHoldsTheOutput) {
  std::string m = Marker();
  Clock::time_point start = Clock::now();
  Outcome run = Sh("sleep " + m + " & echo done");
  EXPECT_TRUE(run.result.ok()) << run.result.Describe();
  EXPECT_EQ(run.Out(), (std::vector<std::string>{"done"}));
  EXPECT_LT(std::chrono::duration_cast<milliseconds>(Clock::now() - start).count(), 2000);
  EXPECT_EQ(LeftAfter(m), std::vector<int>{});
}

TEST(RunProcess, CancelStopsTheTreeWithin200ms) {
  std::string m = Marker();
  ProcessSpec spec;
  spec.argv = {"sh", "-c", "sleep " + m + " & sleep " + m + " & wait"};
  spec.env = kEnv;
  CancelToken cancel;
  Clock::time_point cancelled_at{};
  std::thread canceller([&] {
    if (AppearsWithin(m, milliseconds(5000))) {
      cancelled_at = Clock::now();
      cancel.Cancel();
    }
  });
  Outcome run = RunSpec(spec, &cancel);
  Clock::time_point returned = Clock::now();
  canceller.join();
  ASSERT_NE(cancelled_at, Clock::time_point{});
  EXPECT_EQ(run.result.end, ProcessEnd::kCancelled);
  EXPECT_EQ(run.result.Describe(), "cancelled");
  EXPECT_LT(std::chrono::duration_cast<milliseconds>(returned - cancelled_at).count(), 250);
  EXPECT_EQ(LeftAfter(m), std::vector<int>{});
}

TEST(RunProcess, SigkillsWhatIgnoresSigtermAfterTheGrace) {
  std::string m = Marker();
  ProcessSpec spec;
  // An ignored SIGTERM is inherited by the sleep too.
  spec.argv = {"sh", "-c", "trap '' TERM; sleep " + m + " & sleep " + m + "; wait"};
  spec.env = kEnv;
  spec.timeout = milliseconds(200);
  spec.kill_grace = milliseconds(300);
  Clock::time_point start = Clock::now();
  Outcome run = RunSpec(spec);
  milliseconds took = std::chrono::duration_cast<milliseconds>(Clock::now() - start);
  EXPECT_EQ(run.result.end, ProcessEnd::kTimedOut);
  EXPECT_GE(took.count(), 500);
  EXPECT_LT(took.count(), 2500);
  EXPECT_EQ(LeftAfter(m), std::vector<int>{});
}

TEST(RunProcess, LetsATermTrapWriteItsLastWords) {
  ProcessSpec spec;
  spec.argv = {"sh", "-c",
               "trap 'echo cleaning up; exit 3' TERM; echo ready; while :; do sleep 0.05; done"};
  spec.env = kEnv;
  spec.timeout = milliseconds(300);
  Outcome run = RunSpec(spec);
  EXPECT_EQ(run.result.end, ProcessEnd::kTimedOut);
  EXPECT_EQ(run.Out(), (std::vector<std::string>{"ready", "cleaning up"}));
}

TEST(RunProcess, RunsManyAtOnce) {
  std::vector<std::thread> threads;
  std::vector<Outcome> runs(8);
  for (int i = 0; i < 8; ++i) {
    threads.emplace_back([&runs, i] {
      runs[i] = Sh("echo run" + std::to_string(i) + "; exit " + std::to_string(i));
    });
  }
  for (std::thread& t : threads) t.join();
  for (int i = 0; i < 8; ++i) {
    EXPECT_EQ(runs[i].result.exit_code, i);
    EXPECT_EQ(runs[i].Out(), (std::vector<std::string>{"run" + std::to_string(i)}));
  }
}

TEST(RunProcess, StartsTheCommandBelowTheShimProgram) {
  // The build puts steward-shim next to every program it links (bin/), this test included.
  ASSERT_NE(ShimProgram(), "");
  EXPECT_EQ(ShimProgram().substr(ShimProgram().rfind('/')), "/steward-shim");
  Outcome run = Sh("cat /proc/$PPID/comm; ps -o pid=,sid= -p $PPID");
  ASSERT_TRUE(run.result.ok()) << run.result.Describe();
  ASSERT_EQ(run.Out().size(), 2u);
  EXPECT_EQ(run.Out()[0], "steward-shim");
  int pid = 0, sid = 0;
  ASSERT_EQ(sscanf(run.Out()[1].c_str(), "%d %d", &pid, &sid), 2) << run.Out()[1];
  EXPECT_EQ(pid, sid);  // the shim left this process's session
}

// "<pid> (<comm>) <state> <ppid> ..." of a process.
int ParentOf(int pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/stat");
  std::string text((std::istreambuf_iterator<char>(in)), {});
  size_t paren = text.rfind(')');
  int ppid = 0;
  char state = 0;
  if (paren == std::string::npos || sscanf(text.c_str() + paren + 1, " %c %d", &state, &ppid) != 2)
    return 0;
  return ppid;
}

std::string CommandLine(int pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/cmdline");
  std::string text((std::istreambuf_iterator<char>(in)), {});
  for (char& c : text)
    if (c == '\0') c = ' ';
  return text;
}

// A thread's steps run one after another below one long-lived `steward-shim --worker`, a
// child of this process; another thread's steps below another.
TEST(RunProcess, AThreadsStepsRunBelowOneLongLivedSupervisor) {
  SetShimProgramForTesting(ShimProgram());  // supervisors of this test's own
  std::set<std::string> parents;
  for (int i = 0; i < 3; ++i) {
    Outcome run = Sh("echo $PPID");
    ASSERT_TRUE(run.result.ok()) << run.result.Describe();
    ASSERT_EQ(run.Out().size(), 1u);
    parents.insert(run.Out()[0]);
  }
  ASSERT_EQ(parents.size(), 1u);
  const int supervisor = std::stoi(*parents.begin());
  EXPECT_EQ(ParentOf(supervisor), getpid());
  EXPECT_NE(CommandLine(supervisor).find("steward-shim --worker"), std::string::npos)
      << CommandLine(supervisor);
  std::string other;
  std::thread([&] { other = Sh("echo $PPID").Out().at(0); }).join();
  EXPECT_NE(other, *parents.begin());
}

// A supervisor killed from outside ends its step (the command has it as parent-death signal);
// the thread's next steps get a new one.
TEST(RunProcess, AKilledSupervisorEndsItsStepAndTheNextStepsStillRun) {
  SetShimProgramForTesting(ShimProgram());
  std::string m = Marker();
  Outcome killed;
  std::vector<Outcome> after;
  std::atomic<bool> go_on{false};
  std::thread steps([&] {
    EXPECT_TRUE(Sh("true").result.ok());  // starts this thread's supervisor
    ProcessSpec spec;
    spec.argv = {"sleep", m};
    spec.env = kEnv;
    killed = RunSpec(spec);
    while (!go_on) std::this_thread::sleep_for(milliseconds(5));
    for (int i = 0; i < 2; ++i) after.push_back(Sh("cat /proc/$PPID/comm; echo $PPID; exit 4"));
  });
  ASSERT_TRUE(AppearsWithin(m, milliseconds(5000)));
  int supervisor = 0;
  for (int pid : ProcessesWith(m)) supervisor = ParentOf(pid);
  ASSERT_GT(supervisor, 0);
  ASSERT_NE(CommandLine(supervisor).find("--worker"), std::string::npos) << CommandLine(supervisor);
  ASSERT_EQ(kill(supervisor, SIGKILL), 0);
  go_on = true;
  steps.join();
  EXPECT_FALSE(killed.result.ok());
  EXPECT_EQ(LeftAfter(m), std::vector<int>{});
  ASSERT_EQ(after.size(), 2u);
  for (const Outcome& o : after) {
    EXPECT_EQ(o.result.exit_code, 4) << o.result.Describe();
    ASSERT_EQ(o.Out().size(), 2u);
    EXPECT_EQ(o.Out()[0], "steward-shim");
    EXPECT_NE(o.Out()[1], std::to_string(supervisor));
  }
  SetShimProgramForTesting(ShimProgram());
}

// Without steward-shim each step runs below a fork() of this process: the same shim code, so
// the same guarantees.
class ForkFallback : public ::testing::Test {
 protected:
  void SetUp() override {
    installed_ = ShimProgram();
    SetShimProgramForTesting("");
  }
  void TearDown() override { SetShimProgramForTesting(installed_); }
  std::string installed_;
};

TEST_F(ForkFallback, RunsTheCommandBelowACopyOfThisProcess) {
  Outcome run = Sh("cat /proc/$PPID/comm; echo oops >&2; exit 3");
  EXPECT_EQ(run.result.exit_code, 3);
  ASSERT_EQ(run.Out().size(), 1u);
  EXPECT_NE(run.Out()[0], "steward-shim");
  EXPECT_NE(run.Out()[0], "sh");
  EXPECT_EQ(run.Err(), (std::vector<std::string>{"oops"}));
}

TEST_F(ForkFallback, TimeoutKillsTheWholeTreeIncludingADaemon) {
  std::string m = Marker();
  Outcome run = Sh("setsid sh -c 'sleep " + m + "' >/dev/null 2>&1 </dev/null & sleep " + m,
                   milliseconds(300));
  EXPECT_EQ(run.result.end, ProcessEnd::kTimedOut);
  EXPECT_EQ(LeftAfter(m), std::vector<int>{});
}

TEST_F(ForkFallback, ReportsAStartFailure) {
  ProcessSpec spec;
  spec.argv = {"true"};
  spec.env = kEnv;
  spec.cwd = "/nonexistent/dir";
  Outcome run = RunSpec(spec);
  EXPECT_EQ(run.result.end, ProcessEnd::kFailedToStart);
  EXPECT_EQ(run.result.error, "chdir '/nonexistent/dir': No such file or directory");
}

TEST(KillTree, KillsAProcessAndItsDescendants) {
  BecomeSubreaper();
  std::string m = Marker();
  std::string script = "sleep " + m + " & sh -c 'sleep " + m + "; true' & sleep " + m + "; wait";
  const char* argv[] = {"sh", "-c", script.c_str(), nullptr};
  pid_t pid;
  ASSERT_EQ(posix_spawn(&pid, "/bin/sh", nullptr, nullptr, const_cast<char**>(argv), environ), 0);
  ASSERT_TRUE(AppearsWithin(m, milliseconds(5000)));
  // All four carry the marker: three sleeps (one a grandchild) and the inner sh. Waiting for
  // all of them matters: an sh killed while it forks leaves a child that is re-parented to
  // this subreaper, outside the tree KillTree walks — the race the step shim exists for.
  Clock::time_point end = Clock::now() + milliseconds(5000);
  while (ProcessesWith(m).size() < 4 && Clock::now() < end) {
    std::this_thread::sleep_for(milliseconds(5));
  }
  KillTree(pid, milliseconds(1000));
  int status;
  EXPECT_EQ(waitpid(pid, &status, 0), pid);
  EXPECT_TRUE(WIFSIGNALED(status));
  std::vector<int> left = LeftAfter(m);
  EXPECT_EQ(left, std::vector<int>{});
  for (int p : left) kill(p, SIGKILL);  // a failure must not leave sleeps holding ctest's pipe
}

}  // namespace
}  // namespace steward::pipeline
