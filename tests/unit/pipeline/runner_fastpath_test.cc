// The runner's fast path: which step scripts run as a program without bash, and that a step
// run so ends the same way (exit code, output, environment, cwd) as the same command through
// bash — each command below also runs as "COMMAND;", which bash must run.
#include <stdlib.h>
#include <sys/stat.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <sstream>

#include <gtest/gtest.h>

#include "base/clock.h"
#include "pipeline/runner.h"
#include "pipeline/runner_internal.h"

namespace steward::pipeline {
namespace {

namespace fs = std::filesystem;
using internal::DirectCommandFor;

const std::map<std::string, std::string> kEnv = {{"PATH", "/usr/local/bin:/usr/bin:/bin"},
                                                 {"HOME", "/root"}};

TEST(RunnerFastPath, OnlyOneSimpleCommandOfAProgramSkipsBash) {
  struct Case {
    std::string script;
    bool direct;
  };
  const Case cases[] = {
      {"true", true},
      {"true\n", true},
      {"false", true},
      {"  ls   -l\t/tmp  \n", true},
      {"env", true},
      {"/bin/ls -a", true},
      {"ls --color=never", false},  // '=': leave even arguments with it to bash
      {"make -j2 all,x:y+z@w%v^u", true},
      {"", false},
      {"\n", false},
      {"true --help", false},  // the builtin ignores it, /usr/bin/true prints its help
      {"echo hi", false},      // builtins
      {"cd /tmp", false},
      {"exit 1", false},
      {"export A", false},
      {"set -x", false},
      {"source x", false},
      {". x", false},
      {"test -f x", false},
      {"[ -f x ]", false},
      {"printf x", false},
      {"pwd", false},
      {"kill 1", false},
      {"if", false},  // keywords
      {"time ls", false},
      {"! ls", false},
      {"ls $HOME", false},  // expansion, quoting, operators, globs, comments
      {"ls `pwd`", false},
      {"ls 'a b'", false},
      {"ls \"a\"", false},
      {"ls a\\ b", false},
      {"ls; ls", false},
      {"ls && ls", false},
      {"ls &", false},
      {"ls | wc", false},
      {"ls > out", false},
      {"wc < in", false},
      {"(ls)", false},
      {"ls {a,b}", false},
      {"ls [ab]", false},
      {"ls *", false},
      {"ls ?", false},
      {"ls ~", false},
      {"ls # note", false},
      {"A=1 env", false},
      {"ls\nls", false},
      {"ls\n\n", false},
      {"ls\r\n", false},
      {"%1", false},
      {"no-such-program-here", false},  // not in PATH: bash says so
  };
  for (const Case& c : cases) {
    auto cmd = DirectCommandFor(c.script, kEnv);
    EXPECT_EQ(cmd.has_value(), c.direct) << "script: [" << c.script << "]";
  }
  auto cmd = DirectCommandFor("  ls   -l\t/tmp  \n", kEnv);
  ASSERT_TRUE(cmd.has_value());
  EXPECT_EQ(cmd->argv, (std::vector<std::string>{"ls", "-l", "/tmp"}));
  EXPECT_EQ(cmd->program.substr(cmd->program.size() - 3), "/ls");
}

TEST(RunnerFastPath, AnEnvironmentThatChangesHowBashStartsOrARelativePathGoesThroughBash) {
  for (const char* name : {"BASH_ENV", "ENV", "SHELLOPTS", "BASHOPTS", "BASH_FUNC_ls%%",
                           "POSIXLY_CORRECT", "PS4"}) {
    auto env = kEnv;
    env[name] = "x";
    EXPECT_FALSE(DirectCommandFor("ls", env).has_value()) << name;
  }
  auto env = kEnv;
  env["PATH"] = "bin:/usr/bin:/bin";
  EXPECT_FALSE(DirectCommandFor("ls", env).has_value());
  env["PATH"] = "";
  EXPECT_FALSE(DirectCommandFor("ls", env).has_value());
}

class FastPathRunTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/steward-fastpath-test-XXXXXX";
    root_ = mkdtemp(tmpl);
    source_ = root_ + "/src";
    fs::create_directories(source_ + "/sub");
    auto store = state::OpenSqliteStateStore(root_ + "/state", &clock_);
    ASSERT_TRUE(store.ok()) << store.status().ToString();
    store_ = std::move(store).value();
    options_.state_dir = root_ + "/state";
    options_.source_dir = source_;
    options_.store = store_.get();
    options_.jobs = 1;  // one worker: its step files (in the env) are the same for every job
    options_.sandbox_default = false;
    options_.on_event = [this](const RunEvent& e) {
      if (e.kind == RunEventKind::kLine)
        lines_[e.job].push_back((e.is_stderr ? "! " : "") + e.text);
    };
  }
  void TearDown() override { fs::remove_all(root_); }

  void Executable(const std::string& name, const std::string& text) {
    const std::string path = source_ + "/" + name;
    std::ofstream(path) << text;
    chmod(path.c_str(), 0755);
  }

  std::string root_, source_;
  RealClock clock_;
  std::unique_ptr<state::StateStore> store_;
  RunOptions options_;
  std::map<std::string, std::vector<std::string>> lines_;
};

TEST_F(FastPathRunTest, ACommandEndsTheSameWithAndWithoutBash) {
  Executable("noshebang", "echo ran by a shell\nexit 3\n");  // exec fails: bash runs it
  Executable("segv", "#!/bin/sh\nkill -SEGV $$\n");
  Executable("bad-interpreter", "#!/no/such/interpreter\n");
  const std::vector<std::string> commands = {
      "true", "false", "env", "ls sub", "ls /no/such/dir", "/bin/pwd", "/bin/pwd -P",
      "./noshebang", "./segv", "sh -c exit", "./bad-interpreter", "cat /dev/null"};
  Pipeline p;
  p.name = "fastpath";
  for (size_t i = 0; i < commands.size(); ++i) {
    for (const char* how : {"direct", "bash"}) {
      Job j;
      j.id = j.name = how + std::to_string(i);
      j.sandbox.mode = SandboxMode::kOff;
      Step s;
      s.run = commands[i] + (std::string(how) == "bash" ? ";" : "");
      j.steps.push_back(s);
      j.env["OLDPWD"] = "/no/such/dir";  // bash drops it
      j.env["SHLVL"] = " 7";
      p.jobs.push_back(j);
    }
  }
  auto r = RunPipeline(p, options_);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  auto job = [&](const std::string& key) {
    for (const auto& j : r->jobs)
      if (j.job == key) return j;
    return state::PipelineJobRecord{};
  };
  for (size_t i = 0; i < commands.size(); ++i) {
    const std::string n = std::to_string(i);
    const auto direct = job("direct" + n), bash = job("bash" + n);
    SCOPED_TRACE(commands[i]);
    EXPECT_EQ(direct.status, bash.status);
    EXPECT_EQ(direct.exit_code, bash.exit_code);
    std::vector<std::string> a = lines_["direct" + n], b = lines_["bash" + n];
    if (commands[i] == "env") {
      std::sort(a.begin(), a.end());
      std::sort(b.begin(), b.end());
      std::replace(a.begin(), a.end(), std::string("GITHUB_JOB=direct" + n),
                   std::string("GITHUB_JOB=bash" + n));
      EXPECT_NE(std::find(a.begin(), a.end(), "SHLVL=8"), a.end());
    }
    if (commands[i] == "./segv" || commands[i] == "./bad-interpreter") {
      // 127: bash's code for a missing interpreter.
      EXPECT_EQ(direct.exit_code, commands[i] == "./segv" ? 139 : 127);
      continue;  // bash's message names its script and the pid
    }
    EXPECT_EQ(a, b);
  }
  EXPECT_EQ(job("direct0").status, "success");
  EXPECT_EQ(job("direct1").exit_code, 1);
  EXPECT_EQ(lines_["direct7"], (std::vector<std::string>{"ran by a shell"}));
  EXPECT_EQ(job("direct7").exit_code, 3);
}

TEST_F(FastPathRunTest, TheFastPathRunsTheProgramWithoutBashInBetween) {
  Executable("parent", "#!/bin/sh\ncat /proc/$PPID/comm\n");
  Pipeline p;
  p.name = "parent";
  for (const char* script : {"./parent", "./parent;"}) {
    Job j;
    j.id = j.name = script[8] == ';' ? "bash" : "direct";
    j.sandbox.mode = SandboxMode::kOff;
    Step s;
    s.run = script;
    j.steps.push_back(s);
    p.jobs.push_back(j);
  }
  auto r = RunPipeline(p, options_);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  ASSERT_EQ(r->status, "success");
  EXPECT_EQ(lines_["bash"], (std::vector<std::string>{"bash"}));
  ASSERT_EQ(lines_["direct"].size(), 1u);
  EXPECT_NE(lines_["direct"][0], "bash");  // the shim: a copy of this test program
}

}  // namespace
}  // namespace steward::pipeline
