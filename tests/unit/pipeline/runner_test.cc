// The pipeline runner against real processes, a real SQLite state store and temp directories:
// ordering, conditions, outputs, env, secrets, retries, timeouts, cancellation, cache, reruns.
#include "pipeline/runner.h"

#include <stdlib.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <thread>

#include <gtest/gtest.h>

#include "base/clock.h"
#include "pipeline/runner_internal.h"

namespace steward::pipeline {
namespace {

namespace fs = std::filesystem;

std::string ReadFile(const std::string& path) {
  std::ifstream in(path);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

void WriteFile(const std::string& path, const std::string& text) {
  fs::create_directories(fs::path(path).parent_path());
  std::ofstream(path) << text;
}

Step Sh(const std::string& script, const std::string& id = "") {
  Step s;
  s.id = id;
  s.run = script;
  return s;
}

Job MakeJob(const std::string& id, std::vector<Step> steps, std::vector<std::string> needs = {}) {
  Job j;
  j.id = j.name = id;
  j.steps = std::move(steps);
  j.needs = std::move(needs);
  j.sandbox.mode = SandboxMode::kOff;
  return j;
}

class RunnerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/steward-runner-test-XXXXXX";
    root_ = mkdtemp(tmpl);
    source_ = root_ + "/src";
    state_dir_ = root_ + "/state";
    fs::create_directories(source_);
    auto store = state::OpenSqliteStateStore(state_dir_, &clock_);
    ASSERT_TRUE(store.ok()) << store.status().ToString();
    store_ = std::move(store).value();
    options_.state_dir = state_dir_;
    options_.source_dir = source_;
    options_.store = store_.get();
    options_.jobs = 2;
    options_.sandbox_default = false;
    options_.source_label = "test";
    options_.on_event = [this](const RunEvent& e) {
      std::lock_guard<std::mutex> l(mu_);
      events_.push_back(e);
    };
  }
  void TearDown() override { fs::remove_all(root_); }

  RunResult MustRun(const Pipeline& p) {
    auto r = RunPipeline(p, options_);
    EXPECT_TRUE(r.ok()) << r.status().ToString();
    return r.ok() ? *r : RunResult{};
  }

  static const state::PipelineJobRecord* JobOf(const RunResult& r, const std::string& key) {
    for (const auto& j : r.jobs)
      if (j.job == key) return &j;
    return nullptr;
  }
  static std::string StatusOf(const RunResult& r, const std::string& key) {
    const auto* j = JobOf(r, key);
    return j != nullptr ? j->status : "<none>";
  }

  std::string AllEventText() {
    std::lock_guard<std::mutex> l(mu_);
    std::string out;
    for (const auto& e : events_) out += e.job + "|" + e.text + "\n";
    return out;
  }

  std::string root_, source_, state_dir_;
  RealClock clock_;
  std::unique_ptr<state::StateStore> store_;
  RunOptions options_;
  std::mutex mu_;
  std::vector<RunEvent> events_;
};

TEST_F(RunnerTest, IndependentJobsOverlapAndADependentStartsAfterBoth) {
  const std::string t = root_ + "/times";
  Pipeline p;
  p.name = "dag";
  // a and b each hold a marker for a while; c needs both.
  p.jobs.push_back(MakeJob("a", {Sh("date +%s%N > " + t + ".a1; sleep 0.5; date +%s%N > " + t +
                                     ".a2")}));
  p.jobs.push_back(MakeJob("b", {Sh("date +%s%N > " + t + ".b1; sleep 0.5; date +%s%N > " + t +
                                     ".b2")}));
  p.jobs.push_back(MakeJob("c", {Sh("date +%s%N > " + t + ".c1")}, {"a", "b"}));
  RunResult r = MustRun(p);
  EXPECT_EQ(r.status, "success");
  auto num = [&](const std::string& s) { return std::stoll(ReadFile(t + "." + s)); };
  EXPECT_LT(num("a1"), num("b2"));  // a started before b ended
  EXPECT_LT(num("b1"), num("a2"));  // and b before a ended: they overlapped
  EXPECT_GT(num("c1"), num("a2"));
  EXPECT_GT(num("c1"), num("b2"));
  ASSERT_EQ(r.jobs.size(), 3u);
  EXPECT_EQ(r.jobs[2].job, "c");
  auto recorded = store_->ListPipelineJobs(r.run_id);
  ASSERT_TRUE(recorded.ok());
  for (const auto& j : *recorded) {
    EXPECT_EQ(j.status, "success") << j.job;
    EXPECT_GT(j.finished_at_ms, 0) << j.job;
    EXPECT_NE(ReadJobLog(j.log_path).find("[steward] step 1"), std::string::npos) << j.log_path;
  }
  auto run = store_->GetPipelineRun(r.run_id);
  EXPECT_EQ(run->status, "success");
  EXPECT_GT(run->finished_at_ms, 0);
}

TEST_F(RunnerTest, OneJobAtATimeWithJobsOne) {
  options_.jobs = 1;
  const std::string t = root_ + "/t";
  Pipeline p;
  p.name = "serial";
  p.jobs.push_back(MakeJob("a", {Sh("date +%s%N > " + t + ".a1; sleep 0.2; date +%s%N > " + t +
                                     ".a2")}));
  p.jobs.push_back(MakeJob("b", {Sh("date +%s%N > " + t + ".b1")}));
  EXPECT_EQ(MustRun(p).status, "success");
  EXPECT_GT(std::stoll(ReadFile(t + ".b1")), std::stoll(ReadFile(t + ".a2")));
}

TEST_F(RunnerTest, FailureSkipsDependentsButAlwaysJobsRunAndContinueOnErrorPasses) {
  Pipeline p;
  p.name = "fail";
  p.jobs.push_back(MakeJob("build", {Sh("echo building; exit 3")}));
  p.jobs.push_back(MakeJob("test", {Sh("echo never")}, {"build"}));
  Job report = MakeJob("report", {Sh("echo result=${{ needs.build.result }}")}, {"build"});
  report.if_expr = "always()";
  p.jobs.push_back(report);
  Job on_fail = MakeJob("notify", {Sh("true")}, {"test"});
  on_fail.if_expr = "failure()";
  p.jobs.push_back(on_fail);
  Job flaky = MakeJob("lint", {Sh("exit 1")});
  flaky.continue_on_error = true;
  p.jobs.push_back(flaky);
  Job steps = MakeJob("steps", {Sh("exit 4", "bad"), Sh("echo after")});
  steps.steps[0].continue_on_error = true;
  p.jobs.push_back(steps);

  RunResult r = MustRun(p);
  EXPECT_EQ(r.status, "failure");
  EXPECT_EQ(StatusOf(r, "build"), "failure");
  EXPECT_EQ(JobOf(r, "build")->exit_code, 3);
  EXPECT_EQ(StatusOf(r, "test"), "skipped");
  EXPECT_EQ(StatusOf(r, "report"), "success");
  EXPECT_EQ(StatusOf(r, "notify"), "success");  // an ancestor failed
  EXPECT_EQ(StatusOf(r, "lint"), "failure");    // recorded, but did not fail the run alone
  EXPECT_EQ(StatusOf(r, "steps"), "success");
  EXPECT_NE(ReadJobLog(JobOf(r, "report")->log_path).find("result=failure"), std::string::npos);
  EXPECT_NE(ReadJobLog(JobOf(r, "steps")->log_path).find("after"), std::string::npos);
  EXPECT_EQ(store_->GetPipelineRun(r.run_id)->status, "failure");

  // Only a continue-on-error failure: the run succeeds.
  Pipeline q;
  q.name = "lenient";
  q.jobs.push_back(flaky);
  q.jobs.push_back(MakeJob("after", {Sh("true")}, {"lint"}));
  RunResult rq = MustRun(q);
  EXPECT_EQ(rq.status, "success");
  EXPECT_EQ(StatusOf(rq, "after"), "success");
}

TEST_F(RunnerTest, OutputsEnvAndPathFilesFlowBetweenStepsAndJobs) {
  Pipeline p;
  p.name = "outputs";
  p.env["GREETING"] = "hello";
  Job a = MakeJob("a", {Sh("echo version=1.2.3 >> $GITHUB_OUTPUT\n"
                            "printf 'notes<<EOF\\nline one\\nline two\\nEOF\\n' >> "
                            "$GITHUB_OUTPUT\n"
                            "echo FROM_ENV_FILE=yes >> $GITHUB_ENV\n"
                            "mkdir -p $RUNNER_TEMP/bin && printf '#!/bin/sh\\necho tool ran\\n' "
                            "> $RUNNER_TEMP/bin/mytool && chmod +x $RUNNER_TEMP/bin/mytool\n"
                            "echo $RUNNER_TEMP/bin >> $GITHUB_PATH",
                            "meta"),
                        Sh("echo env=$FROM_ENV_FILE; mytool; echo '${{ steps.meta.outputs.notes "
                            "}}' | wc -l; echo $GREETING-${{ env.GREETING }}")});
  a.outputs["version"] = "${{ steps.meta.outputs.version }}";
  p.jobs.push_back(a);
  p.jobs.push_back(
      MakeJob("b", {Sh("echo got=${{ needs.a.outputs.version }}")}, {"a"}));
  RunResult r = MustRun(p);
  ASSERT_EQ(r.status, "success") << AllEventText();
  EXPECT_EQ(nlohmann::json::parse(JobOf(r, "a")->outputs_json)["version"], "1.2.3");
  std::string log_a = ReadJobLog(JobOf(r, "a")->log_path);
  EXPECT_NE(log_a.find("env=yes"), std::string::npos) << log_a;
  EXPECT_NE(log_a.find("tool ran"), std::string::npos) << log_a;
  EXPECT_NE(log_a.find(" 2\n"), std::string::npos) << log_a;  // the heredoc had two lines
  EXPECT_NE(log_a.find("hello-hello"), std::string::npos) << log_a;
  EXPECT_NE(ReadJobLog(JobOf(r, "b")->log_path).find("got=1.2.3"), std::string::npos);
}

TEST_F(RunnerTest, OutputsThatAreNotUtf8AreRecordedNotThrown) {
  // A program may write any bytes to $GITHUB_OUTPUT; recording the job (and keying dependents'
  // cache entries on it) must not throw on invalid UTF-8.
  Pipeline p;
  p.name = "bytes";
  Job a = MakeJob("a", {Sh("printf 'v=caf\\351\\n' >> $GITHUB_OUTPUT", "s")});
  a.outputs["v"] = "${{ steps.s.outputs.v }}";
  p.jobs.push_back(a);
  p.jobs.push_back(MakeJob("b", {Sh("echo got=${{ needs.a.outputs.v }}")}, {"a"}));
  RunResult r = MustRun(p);
  ASSERT_EQ(r.status, "success") << AllEventText();
  auto outputs = nlohmann::json::parse(JobOf(r, "a")->outputs_json, nullptr, false);
  ASSERT_FALSE(outputs.is_discarded()) << JobOf(r, "a")->outputs_json;
  EXPECT_EQ(outputs.value("v", "").rfind("caf", 0), 0u) << JobOf(r, "a")->outputs_json;
}

TEST_F(RunnerTest, EnvironmentIsBuiltFromNothing) {
  setenv("STEWARD_RUNNER_TEST_LEAK", "leaked", 1);
  Pipeline p;
  p.name = "env";
  p.jobs.push_back(MakeJob("show", {Sh("echo leak=${STEWARD_RUNNER_TEST_LEAK:-none}; "
                                        "echo ci=$CI job=$GITHUB_JOB run=$GITHUB_RUN_ID "
                                        "os=$RUNNER_OS ws=$GITHUB_WORKSPACE; pwd")}));
  RunResult r = MustRun(p);
  unsetenv("STEWARD_RUNNER_TEST_LEAK");
  ASSERT_EQ(r.status, "success");
  std::string log = ReadJobLog(JobOf(r, "show")->log_path);
  EXPECT_NE(log.find("leak=none"), std::string::npos) << log;
  const std::string work = state_dir_ + "/runs/" + std::to_string(r.run_id) + "/work";
  EXPECT_NE(log.find("ci=true job=show run=" + std::to_string(r.run_id) + " os=Linux ws=" + work),
            std::string::npos)
      << log;
}

TEST_F(RunnerTest, SecretsGoOnlyToJobsThatNameThemAndAreMasked) {
  options_.secrets["API_TOKEN"] = "s3cr3t-value";
  Pipeline p;
  p.name = "secrets";
  Job with = MakeJob("with", {Sh("echo token=$API_TOKEN; echo ctx=${{ secrets.API_TOKEN }}")});
  with.secrets = {"API_TOKEN"};
  p.jobs.push_back(with);
  p.jobs.push_back(MakeJob("without", {Sh("echo token=${API_TOKEN:-unset}")}));
  RunResult r = MustRun(p);
  ASSERT_EQ(r.status, "success") << AllEventText();
  std::string with_log = ReadJobLog(JobOf(r, "with")->log_path);
  EXPECT_EQ(with_log.find("s3cr3t"), std::string::npos) << with_log;
  EXPECT_NE(with_log.find("token=***"), std::string::npos) << with_log;
  EXPECT_NE(with_log.find("ctx=***"), std::string::npos) << with_log;
  EXPECT_NE(ReadJobLog(JobOf(r, "without")->log_path).find("token=unset"), std::string::npos);
  EXPECT_EQ(AllEventText().find("s3cr3t"), std::string::npos);

  // A job naming a secret that was not given fails before running anything.
  Pipeline q;
  q.name = "missing";
  Job needs_secret = MakeJob("deploy", {Sh("touch " + root_ + "/ran")});
  needs_secret.secrets = {"NOT_GIVEN"};
  q.jobs.push_back(needs_secret);
  RunResult rq = MustRun(q);
  EXPECT_EQ(StatusOf(rq, "deploy"), "failure");
  EXPECT_NE(JobOf(rq, "deploy")->error.find("NOT_GIVEN"), std::string::npos);
  EXPECT_FALSE(fs::exists(root_ + "/ran"));
}

TEST_F(RunnerTest, RetriesUntilAnAttemptSucceeds) {
  const std::string counter = root_ + "/count";
  Pipeline p;
  p.name = "retry";
  Job j = MakeJob("flaky", {Sh("echo x >> " + counter + "; [ $(wc -l < " + counter + ") -ge 2 ]")});
  j.retries = 2;
  p.jobs.push_back(j);
  RunResult r = MustRun(p);
  EXPECT_EQ(r.status, "success");
  EXPECT_EQ(JobOf(r, "flaky")->attempts, 2);
}

TEST_F(RunnerTest, StepAndJobTimeoutsStopTheStep) {
  Pipeline p;
  p.name = "timeouts";
  Job step_limit = MakeJob("step", {Sh("sleep 30")});
  step_limit.steps[0].timeout = std::chrono::milliseconds(300);
  p.jobs.push_back(step_limit);
  Job job_limit = MakeJob("job", {Sh("sleep 0.2"), Sh("sleep 30")});
  job_limit.timeout = std::chrono::milliseconds(600);
  p.jobs.push_back(job_limit);
  const auto start = std::chrono::steady_clock::now();
  RunResult r = MustRun(p);
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(15));
  EXPECT_EQ(r.status, "failure");
  EXPECT_EQ(StatusOf(r, "step"), "failure");
  EXPECT_NE(JobOf(r, "step")->error.find("timed out"), std::string::npos)
      << JobOf(r, "step")->error;
  EXPECT_EQ(StatusOf(r, "job"), "failure");
  EXPECT_NE(JobOf(r, "job")->error.find("job timed out"), std::string::npos)
      << JobOf(r, "job")->error;
}

TEST_F(RunnerTest, CancelStopsRunningStepsAndCancelsTheRest) {
  CancelToken cancel;
  options_.cancel = &cancel;
  const std::string started = root_ + "/started";
  Pipeline p;
  p.name = "cancel";
  p.jobs.push_back(MakeJob("long", {Sh("touch " + started + "; sleep 60")}));
  p.jobs.push_back(MakeJob("after", {Sh("true")}, {"long"}));
  std::thread canceller([&] {
    for (int i = 0; i < 200 && !fs::exists(started); ++i)
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    cancel.Cancel();
  });
  const auto start = std::chrono::steady_clock::now();
  RunResult r = MustRun(p);
  canceller.join();
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(20));
  EXPECT_EQ(r.status, "cancelled");
  EXPECT_EQ(StatusOf(r, "long"), "cancelled");
  EXPECT_EQ(StatusOf(r, "after"), "cancelled");
  EXPECT_EQ(store_->GetPipelineRun(r.run_id)->status, "cancelled");
}

TEST_F(RunnerTest, FailFastCancelsMatrixSiblings) {
  Pipeline p;
  p.name = "matrix";
  Job j = MakeJob("test", {Sh("if [ ${{ matrix.n }} = 1 ]; then exit 1; fi; sleep 20")});
  j.matrix.axes.push_back({"n", {1, 2}});
  p.jobs.push_back(j);
  const auto start = std::chrono::steady_clock::now();
  RunResult r = MustRun(p);
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(15));
  EXPECT_EQ(r.status, "failure");
  ASSERT_EQ(r.jobs.size(), 2u);
  EXPECT_EQ(r.jobs[0].status, "failure") << r.jobs[0].job;
  EXPECT_EQ(r.jobs[1].status, "cancelled") << r.jobs[1].job;
}

TEST_F(RunnerTest, CacheHitSkipsTheJobAndRestoresItsOutputs) {
  auto cache = Cache::Open(root_ + "/cache");
  ASSERT_TRUE(cache.ok()) << cache.status().ToString();
  options_.cache = cache->get();
  const std::string counter = root_ + "/ran";
  WriteFile(source_ + "/input.txt", "one");
  Pipeline p;
  p.name = "cached";
  Job build = MakeJob("build", {Sh("echo x >> " + counter +
                                    "; mkdir -p out; cat input.txt > out/result; "
                                    "echo v=built >> $GITHUB_OUTPUT",
                                    "s")});
  build.cache.inputs = {"input.txt"};
  build.cache.outputs = {"out"};
  build.outputs["v"] = "${{ steps.s.outputs.v }}";
  build.artifacts = {"out/result"};
  p.jobs.push_back(build);
  p.jobs.push_back(MakeJob("use", {Sh("cat out/result; echo v=${{ needs.build.outputs.v }}")},
                           {"build"}));

  RunResult first = MustRun(p);
  ASSERT_EQ(first.status, "success") << AllEventText();
  EXPECT_EQ(StatusOf(first, "build"), "success");
  RunResult second = MustRun(p);
  ASSERT_EQ(second.status, "success") << AllEventText();
  EXPECT_EQ(StatusOf(second, "build"), "cached");
  EXPECT_EQ(ReadFile(counter), "x\n");  // the command ran once
  std::string use_log = ReadJobLog(JobOf(second, "use")->log_path);
  EXPECT_NE(use_log.find("one"), std::string::npos) << use_log;  // restored output file
  EXPECT_NE(use_log.find("v=built"), std::string::npos) << use_log;
  EXPECT_EQ(JobOf(second, "build")->cache_key, JobOf(first, "build")->cache_key);

  WriteFile(source_ + "/input.txt", "two");
  RunResult third = MustRun(p);
  EXPECT_EQ(StatusOf(third, "build"), "success");
  EXPECT_EQ(ReadFile(counter), "x\nx\n");
  EXPECT_NE(ReadJobLog(JobOf(third, "use")->log_path).find("two"), std::string::npos);

  options_.use_cache = false;
  RunResult fourth = MustRun(p);
  EXPECT_EQ(StatusOf(fourth, "build"), "success");
  EXPECT_EQ(ReadFile(counter), "x\nx\nx\n");
}

TEST_F(RunnerTest, RerunRunsOnlyWhatDidNotSucceedAndReusesTheRest) {
  const std::string flag = root_ + "/flag";
  const std::string counter = root_ + "/builds";
  Pipeline p;
  p.name = "rerun";
  Job build = MakeJob("build", {Sh("echo b >> " + counter +
                                    "; mkdir -p dist; echo artifact > dist/app; "
                                    "echo id=42 >> $GITHUB_OUTPUT",
                                    "s")});
  build.outputs["id"] = "${{ steps.s.outputs.id }}";
  build.artifacts = {"dist"};
  p.jobs.push_back(build);
  p.jobs.push_back(MakeJob("test", {Sh("test -f " + flag + "; cat dist/app; echo id=${{ "
                                        "needs.build.outputs.id }}")},
                           {"build"}));
  RunResult first = MustRun(p);
  EXPECT_EQ(first.status, "failure");
  EXPECT_EQ(StatusOf(first, "test"), "failure");

  WriteFile(flag, "");
  options_.rerun_of = first.run_id;
  options_.trigger = "rerun";
  RunResult second = MustRun(p);
  EXPECT_EQ(second.status, "success") << AllEventText();
  EXPECT_EQ(StatusOf(second, "build"), "reused");
  EXPECT_EQ(StatusOf(second, "test"), "success");
  EXPECT_EQ(ReadFile(counter), "b\n");
  std::string log = ReadJobLog(JobOf(second, "test")->log_path);
  EXPECT_NE(log.find("artifact"), std::string::npos) << log;
  EXPECT_NE(log.find("id=42"), std::string::npos) << log;
  EXPECT_EQ(store_->GetPipelineRun(second.run_id)->rerun_of, first.run_id);
}

TEST_F(RunnerTest, StepConditionsAndUsesStepsAreSkippedWithANote) {
  Pipeline p;
  p.name = "conditions";
  Job j = MakeJob("j", {Sh("exit 1", "fails"), Sh("echo should-not-run"),
                        Sh("echo cleanup ${{ steps.fails.outcome }}")});
  j.steps[2].if_expr = "always()";
  Step uses;
  uses.uses = "actions/checkout@v4";
  j.steps.insert(j.steps.begin(), uses);
  p.jobs.push_back(j);
  RunResult r = MustRun(p);
  EXPECT_EQ(StatusOf(r, "j"), "failure");
  std::string log = ReadJobLog(JobOf(r, "j")->log_path);
  EXPECT_EQ(log.find("should-not-run\n"), std::string::npos) << log;
  EXPECT_NE(log.find("cleanup failure"), std::string::npos) << log;
  EXPECT_NE(log.find("actions/checkout@v4"), std::string::npos) << log;
}

TEST_F(RunnerTest, DeployStepWithoutTheDaemonFailsAndWithAHookGetsTheRequest) {
  Pipeline p;
  p.name = "deploy";
  Step d;
  d.deploy = DeployStep{"web", "", "canary", {}};
  p.jobs.push_back(MakeJob("ship", {d}));
  RunResult r = MustRun(p);
  EXPECT_EQ(StatusOf(r, "ship"), "failure");
  EXPECT_NE(JobOf(r, "ship")->error.find("daemon"), std::string::npos);

  DeployRequest seen;
  options_.deploy = [&](const DeployRequest& req, const LineFn& log, const CancelToken*) {
    seen = req;
    log("rolled out", false);
    return Status::OK();
  };
  RunResult ok = MustRun(p);
  EXPECT_EQ(StatusOf(ok, "ship"), "success");
  EXPECT_EQ(seen.service, "web");
  EXPECT_EQ(seen.strategy, "canary");
  EXPECT_EQ(seen.run_id, ok.run_id);
  EXPECT_EQ(seen.version, "run-" + std::to_string(ok.run_id));  // not a git repository
}

TEST_F(RunnerTest, AGitSourceIsBuiltAtItsCommittedStateAndRecorded) {
  ASSERT_EQ(system(("cd " + source_ + " && git init -q -b main && git config user.email t@t && "
                    "git config user.name t && echo committed > f.txt && git add f.txt && "
                    "git commit -q -m 'first commit' && echo dirty > f.txt")
                       .c_str()),
            0);
  auto head = ReadCommit(source_);
  ASSERT_TRUE(head.ok()) << head.status().ToString();
  EXPECT_EQ(head->branch, "main");
  EXPECT_EQ(head->message, "first commit");
  EXPECT_EQ(head->sha.size(), 40u);
  Pipeline p;
  p.name = "git";
  p.jobs.push_back(MakeJob("show", {Sh("cat f.txt; echo sha=$GITHUB_SHA ref=$GITHUB_REF")}));
  RunResult r = MustRun(p);
  ASSERT_EQ(r.status, "success");
  std::string log = ReadJobLog(JobOf(r, "show")->log_path);
  EXPECT_NE(log.find("committed"), std::string::npos) << log;
  EXPECT_EQ(log.find("dirty"), std::string::npos) << log;
  EXPECT_NE(log.find("sha=" + head->sha + " ref=refs/heads/main"), std::string::npos) << log;
  auto run = store_->GetPipelineRun(r.run_id);
  EXPECT_EQ(run->commit, head->sha);
  EXPECT_EQ(run->branch, "main");
  EXPECT_EQ(run->commit_message, "first commit");

  EXPECT_EQ(ReadCommit(root_ + "/state").status().code(), StatusCode::kNotFound);
}

TEST_F(RunnerTest, ACopiedSourceLeavesOutTheStateDirectory) {
  WriteFile(source_ + "/.steward/state.db", "x");
  WriteFile(source_ + "/sub/file", "content");
  Pipeline p;
  p.name = "copy";
  p.jobs.push_back(MakeJob("ls", {Sh("test -f sub/file && test ! -e .steward && echo ok")}));
  EXPECT_EQ(MustRun(p).status, "success") << AllEventText();
}

TEST(RunnerFiles, OutputFilesParseLinesAndHeredocs) {
  std::vector<std::string> errors;
  auto kv = internal::ParseKeyValueFile("a=1\nb=x=y\nmulti<<END\nl1\nl2\nEND\nbroken\nc=\n",
                                        &errors);
  EXPECT_EQ(kv["a"], "1");
  EXPECT_EQ(kv["b"], "x=y");
  EXPECT_EQ(kv["multi"], "l1\nl2");
  EXPECT_EQ(kv["c"], "");
  EXPECT_EQ(kv.count("broken"), 0u);
  EXPECT_EQ(errors.size(), 1u);
  EXPECT_EQ(internal::SanitizeKey("test (linux, 3.11)"), "test__linux__3.11_");
}

}  // namespace
}  // namespace steward::pipeline
