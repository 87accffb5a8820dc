// RunbookEngine with a fake clock and fake actions: matching, every guard rail (runs per hour
// per service, cool-down, one at a time, only while firing — also checked right before the
// run), dry runs, the action details, and what gets reported.
#include "alerting/runbooks.h"

#include <gtest/gtest.h>

#include <chrono>
#include <condition_variable>

#include "config/alerting.h"

namespace steward::alerting {
namespace {

using std::chrono::hours;
using std::chrono::minutes;
using std::chrono::seconds;

class FakeActions : public RemediationActions {
 public:
  Status Restart(const std::string& service, int replica) override {
    calls.push_back("restart " + service + " " + std::to_string(replica));
    return fail;
  }
  Status Rollback(const std::string& service) override {
    calls.push_back("rollback " + service);
    return fail;
  }
  Status Scale(const std::string& service, int n) override {
    calls.push_back("scale " + service + " " + std::to_string(n));
    replicas[service] = n;
    return fail;
  }
  StatusOr<CommandResult> RunCommand(const std::vector<std::string>& argv,
                                     const std::map<std::string, std::string>& env,
                                     const std::string& dir, Duration timeout) override {
    calls.push_back("command " + argv.at(0) + " in " + dir + " for " + FormatDuration(timeout));
    last_env = env;
    return command_result;
  }
  StatusOr<int> Replicas(const std::string& service) override {
    auto it = replicas.find(service);
    if (it == replicas.end()) return NotFound("no service " + service);
    return it->second;
  }

  std::vector<std::string> calls;
  Status fail;
  std::map<std::string, int> replicas{{"api", 2}};
  std::map<std::string, std::string> last_env;
  CommandResult command_result{true, "exit status 0"};
};

Alert Firing(std::map<std::string, std::string> labels, int64_t ends_at_ms = 0) {
  std::vector<tsdb::Label> ls;
  for (auto& [k, v] : labels) ls.push_back({k, v});
  Alert a;
  a.labels = *tsdb::Labels::FromUnsorted(std::move(ls));
  a.ends_at_ms = ends_at_ms;
  return a;
}

Alert Resolved(Alert a, int64_t at_ms) {
  a.ends_at_ms = at_ms;
  return a;
}

config::Runbook Restart(std::string name = "restart-down") {
  config::Runbook rb;
  rb.name = std::move(name);
  rb.alert = "StewardReplicaDown";
  rb.action = config::RunbookAction::kRestart;
  return rb;
}

class RunbookEngineTest : public ::testing::Test {
 protected:
  void SetUp() override {
    RunbookEngineOptions o;
    o.clock = &clock_;
    o.actions = &actions_;
    o.metrics = &registry_;
    o.recorder = [this](const RunbookRun& r) { runs_.push_back(r); };
    engine_ = std::make_unique<RunbookEngine>(o);
  }

  void Use(std::vector<config::Runbook> rbs) {
    ASSERT_TRUE(engine_->SetRunbooks(std::move(rbs), "/srv/app").ok());
  }
  int64_t Now() const { return ToUnixMillis(clock_.WallNow()); }
  void Fire(const Alert& a) { engine_->OnAlerts({a}, Now()); }
  std::vector<std::string> Results() const {
    std::vector<std::string> out;
    for (const RunbookRun& r : runs_) out.push_back(r.result);
    return out;
  }

  FakeClock clock_;
  FakeActions actions_;
  metrics::Registry registry_;
  std::vector<RunbookRun> runs_;
  std::unique_ptr<RunbookEngine> engine_;
  const Alert down_ =
      Firing({{"alertname", "StewardReplicaDown"}, {"service", "api"}, {"replica", "1"}});
};

TEST_F(RunbookEngineTest, RestartsTheAlertsReplicaAndRecordsTheRun) {
  Use({Restart()});
  Fire(down_);
  EXPECT_TRUE(actions_.calls.empty());  // queued, not run on the alert's thread
  clock_.Advance(seconds(2));
  EXPECT_EQ(engine_->RunQueued(), 1u);
  EXPECT_EQ(actions_.calls, std::vector<std::string>{"restart api 1"});
  ASSERT_EQ(runs_.size(), 1u);
  const RunbookRun& r = runs_[0];
  EXPECT_EQ(r.runbook, "restart-down");
  EXPECT_EQ(r.action, "restart");
  EXPECT_EQ(r.service, "api");
  EXPECT_EQ(r.result, "success");
  EXPECT_EQ(r.output, "restart api/1: done");
  EXPECT_EQ(r.fingerprint, down_.Fingerprint());
  EXPECT_EQ(r.labels.at("replica"), "1");
  EXPECT_EQ(r.started_at_ms, Now());
  EXPECT_EQ(engine_->RecentRuns(10).size(), 1u);
}

TEST_F(RunbookEngineTest, RestartsEveryReplicaWhenTheAlertNamesNone) {
  Use({Restart()});
  Fire(Firing({{"alertname", "StewardReplicaDown"}, {"service", "api"}}));
  engine_->RunQueued();
  EXPECT_EQ(actions_.calls, std::vector<std::string>{"restart api -1"});
  EXPECT_EQ(runs_.at(0).output, "restart every replica of api, one by one: done");
}

TEST_F(RunbookEngineTest, MatchesOnAlertNameAndEveryMatcher) {
  config::Runbook rb = Restart();
  rb.matchers = {{"service", config::LabelMatcher::Op::kRegex, "api|web"},
                 {"env", config::LabelMatcher::Op::kNotEqual, "dev"}};
  Use({rb});
  Fire(Firing({{"alertname", "OtherAlert"}, {"service", "api"}}));
  Fire(Firing({{"alertname", "StewardReplicaDown"}, {"service", "db"}}));
  Fire(Firing({{"alertname", "StewardReplicaDown"}, {"service", "web"}, {"env", "dev"}}));
  EXPECT_EQ(engine_->RunQueued(), 0u);
  Fire(Firing({{"alertname", "StewardReplicaDown"}, {"service", "web"}, {"env", "prod"}}));
  EXPECT_EQ(engine_->RunQueued(), 1u);
  EXPECT_EQ(actions_.calls, std::vector<std::string>{"restart web -1"});
}

TEST_F(RunbookEngineTest, RejectsARegexThatDoesNotCompile) {
  config::Runbook rb = Restart();
  rb.matchers = {{"service", config::LabelMatcher::Op::kRegex, "("}};
  EXPECT_FALSE(engine_->SetRunbooks({rb}, "/").ok());
}

TEST_F(RunbookEngineTest, StopsAfterMaxRunsPerHourInASlidingHour) {
  config::Runbook rb = Restart();
  rb.cooldown = Duration(0);
  rb.max_runs_per_hour = 2;
  Use({rb});
  for (int i = 0; i < 3; ++i) {
    Fire(down_);
    engine_->RunQueued();
    clock_.Advance(minutes(10));
  }
  EXPECT_EQ(actions_.calls.size(), 2u);
  EXPECT_EQ(Results(), (std::vector<std::string>{"success", "success", "skipped_max_runs"}));
  EXPECT_NE(runs_[2].output.find("ran 2 time(s) for api in the last hour"), std::string::npos);
  clock_.Advance(minutes(31));  // the first run is now more than an hour ago
  Fire(down_);
  engine_->RunQueued();
  EXPECT_EQ(actions_.calls.size(), 3u);
}

TEST_F(RunbookEngineTest, WaitsOutTheCooldown) {
  Use({Restart()});  // cooldown 5m
  Fire(down_);
  engine_->RunQueued();
  clock_.Advance(minutes(4));
  Fire(down_);
  engine_->RunQueued();
  EXPECT_EQ(actions_.calls.size(), 1u);
  EXPECT_EQ(Results(), (std::vector<std::string>{"success", "skipped_cooldown"}));
  EXPECT_EQ(runs_[1].output, "last run for api was 4m0s ago (cooldown 5m0s)");
  clock_.Advance(minutes(1));
  Fire(down_);
  engine_->RunQueued();
  EXPECT_EQ(actions_.calls.size(), 2u);
}

TEST_F(RunbookEngineTest, ReportsASkipOnceWhileTheAlertKeepsFiring) {
  Use({Restart()});
  Fire(down_);
  engine_->RunQueued();
  for (int i = 0; i < 5; ++i) {
    clock_.Advance(seconds(30));
    Fire(down_);
  }
  EXPECT_EQ(Results(), (std::vector<std::string>{"success", "skipped_cooldown"}));
}

TEST_F(RunbookEngineTest, CountsRunsPerService) {
  config::Runbook rb = Restart();
  rb.max_runs_per_hour = 1;
  Use({rb});
  Fire(down_);
  Fire(Firing({{"alertname", "StewardReplicaDown"}, {"service", "web"}}));
  engine_->RunQueued();
  EXPECT_EQ(actions_.calls, (std::vector<std::string>{"restart api 1", "restart web -1"}));
  clock_.Advance(minutes(10));
  Fire(down_);
  EXPECT_EQ(engine_->RunQueued(), 0u);
  EXPECT_EQ(runs_.back().result, "skipped_max_runs");
  EXPECT_EQ(runs_.back().service, "api");
}

TEST_F(RunbookEngineTest, RunsOneAtATimePerRunbookAndService) {
  config::Runbook rb = Restart();
  rb.cooldown = Duration(0);
  Use({rb});
  Fire(down_);
  Fire(down_);  // re-sent before the first run started
  EXPECT_EQ(engine_->RunQueued(), 1u);
  EXPECT_EQ(runs_.size(), 1u);
}

TEST_F(RunbookEngineTest, AResolvedAlertCancelsItsQueuedRun) {
  Use({Restart()});
  Fire(down_);
  clock_.Advance(seconds(1));
  engine_->OnAlerts({Resolved(down_, Now())}, Now());
  EXPECT_EQ(engine_->RunQueued(), 0u);
  EXPECT_TRUE(actions_.calls.empty());
  EXPECT_EQ(Results(), std::vector<std::string>{"cancelled"});
  // The cancelled run neither counts nor cools down: a new firing runs at once.
  Fire(down_);
  EXPECT_EQ(engine_->RunQueued(), 1u);
}

TEST_F(RunbookEngineTest, ChecksRightBeforeRunningThatTheAlertStillFires) {
  Use({Restart()});
  Fire(Firing({{"alertname", "StewardReplicaDown"}, {"service", "api"}}, Now() + 60000));
  clock_.Advance(minutes(2));  // its firing lapsed without a resolve being sent
  EXPECT_EQ(engine_->RunQueued(), 0u);
  EXPECT_TRUE(actions_.calls.empty());
  EXPECT_EQ(runs_.at(0).result, "cancelled");
  EXPECT_EQ(runs_.at(0).output, "the alert no longer fires");
}

TEST_F(RunbookEngineTest, RunsAfterResolveWhenNotOnlyWhileFiring) {
  config::Runbook rb = Restart();
  rb.only_while_firing = false;
  Use({rb});
  Fire(down_);
  engine_->OnAlerts({Resolved(down_, Now())}, Now());
  EXPECT_EQ(engine_->RunQueued(), 1u);
  EXPECT_EQ(actions_.calls.size(), 1u);
}

TEST_F(RunbookEngineTest, DryRunDescribesWithoutActingAndStillCounts) {
  config::Runbook rb = Restart();
  rb.dry_run = true;
  Use({rb});
  Fire(down_);
  engine_->RunQueued();
  EXPECT_TRUE(actions_.calls.empty());
  ASSERT_EQ(runs_.size(), 1u);
  EXPECT_EQ(runs_[0].result, "dry_run");
  EXPECT_TRUE(runs_[0].dry_run);
  EXPECT_EQ(runs_[0].output, "would restart api/1");
  Fire(down_);
  EXPECT_EQ(runs_.back().result, "skipped_cooldown");
}

TEST_F(RunbookEngineTest, ScalesRelativelyWithinMaxReplicas) {
  config::Runbook rb = Restart("scale-api");
  rb.action = config::RunbookAction::kScale;
  rb.replicas = 2;
  rb.max_replicas = 3;
  rb.cooldown = Duration(0);
  Use({rb});
  Fire(down_);
  engine_->RunQueued();
  EXPECT_EQ(actions_.calls, std::vector<std::string>{"scale api 3"});
  EXPECT_EQ(runs_.at(0).output, "scale api from 2 to 3 replica(s): done");
  Fire(down_);
  engine_->RunQueued();
  EXPECT_EQ(actions_.calls.size(), 1u);
  EXPECT_EQ(runs_.at(1).result, "skipped_at_limit");
}

TEST_F(RunbookEngineTest, ScaleToAnAbsoluteCount) {
  config::Runbook rb = Restart("scale-api");
  rb.action = config::RunbookAction::kScale;
  rb.replicas_relative = false;
  rb.replicas = 5;
  Use({rb});
  Fire(down_);
  engine_->RunQueued();
  EXPECT_EQ(actions_.calls, std::vector<std::string>{"scale api 5"});
}

TEST_F(RunbookEngineTest, CommandGetsTheAlertsLabelsButDoesNotEchoThem) {
  config::Runbook rb = Restart("clear");
  rb.action = config::RunbookAction::kCommand;
  rb.command = {"./clear.sh", "--all"};
  rb.timeout = Duration(5000);
  Use({rb});
  Fire(Firing({{"alertname", "StewardReplicaDown"}, {"service", "api"}, {"token", "s3cr3t"}}));
  engine_->RunQueued();
  EXPECT_EQ(actions_.calls, std::vector<std::string>{"command ./clear.sh in /srv/app for 5.0s"});
  EXPECT_EQ(actions_.last_env.at("STEWARD_ALERT_TOKEN"), "s3cr3t");
  EXPECT_EQ(actions_.last_env.at("STEWARD_ALERT_SERVICE"), "api");
  EXPECT_EQ(actions_.last_env.at("STEWARD_ALERT_ALERTNAME"), "StewardReplicaDown");
  EXPECT_EQ(runs_.at(0).output, "run ./clear.sh --all: exit status 0");
  EXPECT_EQ(runs_.at(0).output.find("s3cr3t"), std::string::npos);
}

TEST_F(RunbookEngineTest, ACommandThatFailsIsRecordedAsFailedWithItsOutput) {
  config::Runbook rb = Restart("clear");
  rb.action = config::RunbookAction::kCommand;
  rb.command = {"./clear.sh"};
  Use({rb});
  actions_.command_result = {false, "exit status 3: " + std::string(5000, 'x')};
  Fire(down_);
  engine_->RunQueued();
  EXPECT_EQ(runs_.at(0).result, "failed");
  EXPECT_LE(runs_.at(0).output.size(), RunbookEngine::kMaxOutput);
  EXPECT_EQ(runs_.at(0).output.rfind("run ./clear.sh: exit status 3: xxx", 0), 0u);
}

TEST_F(RunbookEngineTest, AFailedActionIsRecordedWithItsError) {
  config::Runbook rb = Restart("back");
  rb.action = config::RunbookAction::kRollback;
  Use({rb});
  actions_.fail = FailedPrecondition("no previous release of api to roll back to");
  Fire(down_);
  engine_->RunQueued();
  EXPECT_EQ(runs_.at(0).result, "failed");
  EXPECT_EQ(runs_.at(0).output,
            "roll api back to its previous release: no previous release of api to roll back to");
}

TEST_F(RunbookEngineTest, SkipsAlertsWithoutAService) {
  Use({Restart()});
  Fire(Firing({{"alertname", "StewardReplicaDown"}}));
  EXPECT_EQ(engine_->RunQueued(), 0u);
  EXPECT_EQ(Results(), std::vector<std::string>{"skipped_no_service"});
}

TEST_F(RunbookEngineTest, CountsDecisionsInMetrics) {
  Use({Restart()});
  Fire(down_);
  engine_->RunQueued();
  Fire(down_);
  std::string text = registry_.Render();
  EXPECT_NE(text.find("steward_runbook_runs_total{runbook=\"restart-down\",action=\"restart\","
                      "result=\"success\"} 1"),
            std::string::npos)
      << text;
  EXPECT_NE(text.find("result=\"skipped_cooldown\"} 1"), std::string::npos) << text;
}

TEST_F(RunbookEngineTest, RecentRunsAreNewestFirstAndFiltered) {
  config::Runbook other = Restart("other");
  Use({Restart(), other});
  Fire(down_);
  engine_->RunQueued();
  std::vector<RunbookRun> all = engine_->RecentRuns(10);
  ASSERT_EQ(all.size(), 2u);
  EXPECT_GT(all[0].id, all[1].id);
  EXPECT_EQ(engine_->RecentRuns(10, "other").size(), 1u);
  EXPECT_EQ(engine_->RecentRuns(1).size(), 1u);
}

TEST_F(RunbookEngineTest, TheWorkerThreadRunsQueuedWork) {
  std::mutex mu;
  std::condition_variable cv;
  RunbookEngineOptions o;
  o.clock = &clock_;
  o.actions = &actions_;
  int done = 0;
  o.recorder = [&](const RunbookRun&) {
    std::lock_guard<std::mutex> l(mu);
    ++done;
    cv.notify_all();
  };
  RunbookEngine engine(o);
  ASSERT_TRUE(engine.SetRunbooks({Restart()}, "/").ok());
  engine.Start();
  engine.OnAlerts({down_}, Now());
  std::unique_lock<std::mutex> l(mu);
  ASSERT_TRUE(cv.wait_for(l, std::chrono::seconds(10), [&] { return done == 1; }));
  l.unlock();
  engine.Stop();
  EXPECT_EQ(actions_.calls, std::vector<std::string>{"restart api 1"});
}

}  // namespace
}  // namespace steward::alerting
