// The apply executor over a real Runtime (with the FakeDriver behind it) and a real SQLite state
// store in a temp dir: plans come from plan::ComputePlan, as in the daemon. The runtime runs its
// loop on the real clock (health checks are real exec checks), so waits poll with deadlines.
#include "apply/executor.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <condition_variable>
#include <functional>
#include <map>
#include <mutex>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "config/stack_json.h"
#include "plan/plan.h"
#include "unit/runtime/fake_driver.h"
#include "unit/state/temp_dir.h"

namespace steward::apply {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;

// One ordered log of what happened, shared by the driver (from the runtime's loop thread) and
// the progress callback (from the executor's threads), so tests can compare positions.
class EventLog {
 public:
  void Add(std::string event) {
    std::lock_guard<std::mutex> l(mu_);
    events_.push_back(std::move(event));
  }
  std::vector<std::string> events() const {
    std::lock_guard<std::mutex> l(mu_);
    return events_;
  }
  // Position of the first event starting with `prefix`, or -1.
  int IndexOf(const std::string& prefix) const {
    std::lock_guard<std::mutex> l(mu_);
    for (size_t i = 0; i < events_.size(); ++i)
      if (events_[i].rfind(prefix, 0) == 0) return static_cast<int>(i);
    return -1;
  }
  int Count(const std::string& prefix) const {
    std::lock_guard<std::mutex> l(mu_);
    return static_cast<int>(std::count_if(events_.begin(), events_.end(),
                                          [&](const auto& e) { return e.rfind(prefix, 0) == 0; }));
  }

 private:
  mutable std::mutex mu_;
  std::vector<std::string> events_;
};

std::string KeyText(const std::string& service, int slot, int64_t generation) {
  return service + "/" + std::to_string(slot) + "@" + std::to_string(generation);
}

// The FakeDriver, logging "start web/0@1" and "stop web/0@1" in order, able to fail the starts
// of one service, and with hooks that look at the world just before a start or a stop.
class RecordingDriver : public runtime::testing::FakeDriver {
 public:
  explicit RecordingDriver(EventLog* log) : log_(log) {}

  StatusOr<drivers::ReplicaHandle> Start(const drivers::ReplicaSpec& spec) override {
    std::function<void(const drivers::ReplicaSpec&)> hook;
    bool fail;
    {
      std::lock_guard<std::mutex> l(mu_);
      hook = before_start_;
      fail = failing_.count(spec.service) > 0;
    }
    if (hook) hook(spec);
    if (fail) return IOError("exec " + spec.argv[0] + ": Permission denied");
    auto h = FakeDriver::Start(spec);
    if (h.ok()) {
      std::lock_guard<std::mutex> l(mu_);
      keys_[h->pid] = KeyText(spec.service, spec.slot, spec.generation);
      log_->Add("start " + keys_[h->pid]);
    }
    return h;
  }

  Status Stop(const drivers::ReplicaHandle& handle, int signal, Duration grace) override {
    std::function<void(const std::string&)> hook;
    std::string key;
    {
      std::lock_guard<std::mutex> l(mu_);
      hook = before_stop_;
      key = keys_.count(handle.pid) ? keys_[handle.pid] : "pid " + std::to_string(handle.pid);
    }
    if (hook) hook(key);
    log_->Add("stop " + key);
    return FakeDriver::Stop(handle, signal, grace);
  }

  void FailStartsOf(const std::string& service) {
    std::lock_guard<std::mutex> l(mu_);
    failing_.insert(service);
  }
  void BeforeStart(std::function<void(const drivers::ReplicaSpec&)> hook) {
    std::lock_guard<std::mutex> l(mu_);
    before_start_ = std::move(hook);
  }
  void BeforeStop(std::function<void(const std::string& key)> hook) {
    std::lock_guard<std::mutex> l(mu_);
    before_stop_ = std::move(hook);
  }
  // "web/0@1" of every process still alive, sorted.
  std::vector<std::string> LiveKeys() {
    auto observed = Observe();
    std::vector<std::string> out;
    if (observed.ok())
      for (const auto& o : *observed) out.push_back(KeyText(o.service, o.slot, o.generation));
    std::sort(out.begin(), out.end());
    return out;
  }

 private:
  EventLog* log_;
  std::mutex mu_;
  std::set<std::string> failing_;
  std::map<int, std::string> keys_;
  std::function<void(const drivers::ReplicaSpec&)> before_start_;
  std::function<void(const std::string&)> before_stop_;
};

config::Service MakeService(const std::string& name, int replicas = 1) {
  config::Service s;
  s.name = name;
  s.command = "/usr/bin/" + name;
  s.args = {"--serve"};
  s.replicas = replicas;
  return s;
}

// An exec health check polled quickly; a failing one never marks the replica unhealthy, so
// the replica stays "starting" until the executor's ready_timeout.
config::Service WithExecCheck(config::Service s, std::vector<std::string> command) {
  s.health.kind = config::HealthCheckKind::kExec;
  s.health.command = std::move(command);
  s.health.interval = Duration(20);
  s.health.timeout = Duration(2000);
  s.health.unhealthy_threshold = 1000;
  return s;
}

config::Stack MakeStack(std::vector<config::Service> services) {
  config::Stack stack;
  stack.project = "demo";
  stack.services = std::move(services);
  return stack;
}

ExecutorOptions FastOptions() {
  ExecutorOptions o;
  o.parallelism = 4;
  o.ready_timeout = Duration(300);
  return o;
}

class ExecutorTest : public ::testing::Test {
 protected:
  ExecutorTest() : driver_(&log_) {
    auto store = state::OpenSqliteStateStore(dir_.Sub(".steward"), RealClock::Get());
    EXPECT_TRUE(store.ok()) << store.status().ToString();
    if (store.ok()) store_ = std::move(*store);
    runtime::RuntimeOptions o;
    o.driver = &driver_;
    o.clock = RealClock::Get();
    o.log_root = dir_.Sub("logs");
    o.base_env = {{"PATH", "/bin:/usr/bin"}};
    o.health_workers = 2;
    o.tick = Duration(5);
    // As the daemon wires it: every (re)started process gets its replica row.
    state::StateStore* store_ptr = store_.get();
    o.on_started = [store_ptr](const runtime::ReplicaKey& key, const drivers::ReplicaHandle& h,
                               int port) {
      state::ReplicaRecord rec{key.service,
                               key.slot,
                               key.generation,
                               h.pid,
                               h.start_ticks,
                               port,
                               ToUnixMillis(RealClock::Get()->WallNow())};
      EXPECT_TRUE(store_ptr->PutReplica(rec).ok());
    };
    runtime_ = std::make_unique<runtime::Runtime>(std::move(o));
    runtime_->StartLoop();
  }
  ~ExecutorTest() override { runtime_.reset(); }  // joins its threads before the driver goes

  // Plans `desired` (null: destroy everything) against the store and what runs, as the daemon
  // does, and carries the plan out.
  ApplyReport Apply(const config::Stack* desired, ExecutorOptions options = FastOptions()) {
    plan::PlanInputs in;
    in.desired = desired;
    auto services = store_->ListServices();
    auto replicas = store_->ListReplicas();
    auto observed = runtime_->Observe();
    EXPECT_TRUE(services.ok() && replicas.ok() && observed.ok());
    if (services.ok()) in.recorded_services = *services;
    if (replicas.ok()) in.recorded_replicas = *replicas;
    if (observed.ok()) in.observed = *observed;
    auto plan = plan::ComputePlan(in);
    EXPECT_TRUE(plan.ok()) << plan.status().ToString();
    if (!plan.ok()) return {};
    last_plan_ = *plan;
    return Execute(*plan, options);
  }

  ApplyReport Execute(const plan::Plan& plan, ExecutorOptions options = FastOptions()) {
    Executor executor(store_.get(), runtime_.get(), RealClock::Get(), options);
    return executor.Execute(plan, [this](const std::string& resource, const std::string& msg) {
      log_.Add("progress " + resource + ": " + msg);
      std::function<void(const std::string&, const std::string&)> hook;
      {
        std::lock_guard<std::mutex> l(mu_);
        hook = on_progress_;
      }
      if (hook) hook(resource, msg);
    });
  }

  void OnProgress(std::function<void(const std::string&, const std::string&)> hook) {
    std::lock_guard<std::mutex> l(mu_);
    on_progress_ = std::move(hook);
  }

  const ResourceResult* ResultOf(const ApplyReport& report, const std::string& resource) {
    for (const auto& r : report.results)
      if (r.resource == resource) return &r;
    ADD_FAILURE() << "no result for " << resource;
    return nullptr;
  }

  std::map<std::string, state::ServiceRecord> RecordedServices() {
    std::map<std::string, state::ServiceRecord> out;
    auto services = store_->ListServices();
    EXPECT_TRUE(services.ok());
    if (services.ok())
      for (const auto& s : *services) out[s.name] = s;
    return out;
  }
  // "web/0@1" of every replica row, sorted.
  std::vector<std::string> RecordedReplicas() {
    std::vector<std::string> out;
    auto replicas = store_->ListReplicas();
    EXPECT_TRUE(replicas.ok());
    if (replicas.ok())
      for (const auto& r : *replicas) out.push_back(KeyText(r.service, r.slot, r.generation));
    std::sort(out.begin(), out.end());
    return out;
  }
  // "web/0@1" of every replica the runtime manages, sorted.
  std::vector<std::string> ManagedReplicas() {
    std::vector<std::string> out;
    for (const auto& s : runtime_->Snapshot())
      out.push_back(KeyText(s.key.service, s.key.slot, s.key.generation));
    std::sort(out.begin(), out.end());
    return out;
  }

  state::testing::TempDir dir_;
  EventLog log_;
  RecordingDriver driver_;
  std::unique_ptr<state::StateStore> store_;
  std::unique_ptr<runtime::Runtime> runtime_;  // last: destroyed first
  plan::Plan last_plan_;
  std::mutex mu_;
  std::function<void(const std::string&, const std::string&)> on_progress_;
};

// --- ordering -------------------------------------------------------------------------------

TEST_F(ExecutorTest, StartsAServiceOnlyAfterItsDependenciesFinished) {
  config::Service db = MakeService("db", 2);
  config::Service api = MakeService("api", 2);
  api.depends_on = {"db"};
  config::Service cache = MakeService("cache");
  config::Stack stack = MakeStack({api, cache, db});

  // db and cache do not depend on each other: each waits (briefly) in its "started" progress
  // for the other to start, which only completes if they really run at the same time.
  std::mutex mu;
  std::condition_variable cv;
  std::set<std::string> begun;
  bool met = true;
  OnProgress([&](const std::string& resource, const std::string& msg) {
    if (msg != "create started" || (resource != "service.db" && resource != "service.cache"))
      return;
    std::unique_lock<std::mutex> l(mu);
    begun.insert(resource);
    cv.notify_all();
    if (!cv.wait_for(l, std::chrono::seconds(3), [&] { return begun.size() == 2; })) met = false;
  });

  ApplyReport report = Apply(&stack);
  ASSERT_TRUE(report.ok()) << report.ToText();
  ASSERT_EQ(report.results.size(), 3u);
  EXPECT_TRUE(met) << "db and cache did not run in parallel";

  int db_done = log_.IndexOf("progress service.db: create complete");
  ASSERT_GE(db_done, 0);
  for (int slot : {0, 1}) {
    int api_start = log_.IndexOf("start " + KeyText("api", slot, 1));
    ASSERT_GE(api_start, 0) << "api replica " << slot << " never started";
    EXPECT_GT(api_start, db_done) << "api started before db finished";
    EXPECT_GE(log_.IndexOf("start " + KeyText("db", slot, 1)), 0);
  }
  EXPECT_GE(log_.IndexOf("start " + KeyText("cache", 0, 1)), 0);
  for (const auto& r : report.results) EXPECT_EQ(r.outcome, Outcome::kDone) << r.resource;
}

TEST_F(ExecutorTest, FailedChangeSkipsItsDependentsButNotIndependentServices) {
  config::Service db = MakeService("db");
  config::Service api = MakeService("api");
  api.depends_on = {"db"};
  config::Service cache = MakeService("cache");
  config::Stack stack = MakeStack({db, api, cache});
  driver_.FailStartsOf("db");

  ApplyReport report = Apply(&stack);
  EXPECT_FALSE(report.ok());
  const ResourceResult* rdb = ResultOf(report, "service.db");
  const ResourceResult* rapi = ResultOf(report, "service.api");
  const ResourceResult* rcache = ResultOf(report, "service.cache");
  ASSERT_TRUE(rdb && rapi && rcache);
  EXPECT_EQ(rdb->outcome, Outcome::kFailed);
  EXPECT_THAT(rdb->error, HasSubstr("Permission denied"));
  EXPECT_EQ(rapi->outcome, Outcome::kSkipped);
  EXPECT_THAT(rapi->error, HasSubstr("service.db"));
  EXPECT_TRUE(rapi->done.empty());
  EXPECT_EQ(rcache->outcome, Outcome::kDone);

  EXPECT_EQ(log_.IndexOf("start api/"), -1) << "a skipped service must not start";
  EXPECT_GE(log_.IndexOf("start " + KeyText("cache", 0, 1)), 0);
  std::string text = report.ToText();
  EXPECT_THAT(text, HasSubstr("1 failed"));
  EXPECT_THAT(text, HasSubstr("1 skipped"));
  EXPECT_THAT(text, HasSubstr("skipped"));
  EXPECT_THAT(text, HasSubstr("Apply FAILED"));
}

// --- recording ------------------------------------------------------------------------------

TEST_F(ExecutorTest, RecordsTheServiceBeforeItsReplicasStartAndEachReplicaAfterwards) {
  config::Service web = MakeService("web", 2);
  web.ports = {18080};
  config::Stack stack = MakeStack({web});
  std::vector<std::string> missing_record;
  driver_.BeforeStart([&](const drivers::ReplicaSpec& spec) {
    auto services = store_->ListServices();
    bool recorded = false;
    if (services.ok())
      for (const auto& s : *services)
        recorded |= s.name == spec.service && s.generation == spec.generation;
    if (!recorded) missing_record.push_back(KeyText(spec.service, spec.slot, spec.generation));
  });

  ApplyReport report = Apply(&stack);
  ASSERT_TRUE(report.ok()) << report.ToText();
  EXPECT_TRUE(missing_record.empty()) << "started before its record: " << missing_record[0];

  auto services = RecordedServices();
  ASSERT_EQ(services.size(), 1u);
  EXPECT_EQ(services["web"].generation, 1);
  EXPECT_EQ(services["web"].spec_hash, config::ReplaceHash(web));
  EXPECT_EQ(services["web"].spec_json, config::ServiceToJson(web).dump());

  auto replicas = store_->ListReplicas();
  ASSERT_TRUE(replicas.ok());
  ASSERT_EQ(replicas->size(), 2u);
  std::map<int, int> pid_of;
  for (const auto& s : runtime_->Snapshot()) pid_of[s.key.slot] = s.pid;
  for (const auto& r : *replicas) {
    EXPECT_EQ(r.service, "web");
    EXPECT_EQ(r.generation, 1);
    EXPECT_EQ(r.port, plan::ReplicaPort(web, r.slot, 1));
    EXPECT_EQ(r.pid, pid_of[r.slot]);
    EXPECT_NE(r.pid, 0);
  }
}

// --- rolling update -------------------------------------------------------------------------

TEST_F(ExecutorTest, RollingUpdateStartsEachNewReplicaReadyBeforeStoppingTheOldOne) {
  config::Service v1 = MakeService("web", 2);
  config::Stack first = MakeStack({v1});
  ASSERT_TRUE(Apply(&first).ok());

  config::Service v2 = WithExecCheck(v1, {"/bin/true"});
  v2.args = {"--serve", "--v2"};
  config::Stack second = MakeStack({v2});
  // When an old replica is stopped, the new one of its slot must already be ready.
  std::vector<std::string> early_stops;
  driver_.BeforeStop([&](const std::string& key) {
    if (key.size() < 2 || key.substr(key.size() - 2) != "@1") return;
    int slot = key[key.find('/') + 1] - '0';
    bool ready = false;
    for (const auto& s : runtime_->Snapshot())
      if (s.key.slot == slot && s.key.generation == 2) ready = s.ready;
    if (!ready) early_stops.push_back(key);
  });

  ApplyReport report = Apply(&second);
  ASSERT_EQ(last_plan_.changes.size(), 1u);
  ASSERT_EQ(last_plan_.changes[0].action, plan::Action::kReplace);
  ASSERT_TRUE(report.ok()) << report.ToText();
  EXPECT_TRUE(early_stops.empty())
      << "stopped before its replacement was ready: " << early_stops[0];

  int start0 = log_.IndexOf("start web/0@2");
  int stop0 = log_.IndexOf("stop web/0@1");
  int start1 = log_.IndexOf("start web/1@2");
  int stop1 = log_.IndexOf("stop web/1@1");
  ASSERT_GE(start0, 0);
  EXPECT_LT(start0, stop0);
  EXPECT_LT(stop0, start1);
  EXPECT_LT(start1, stop1);

  auto services = RecordedServices();
  EXPECT_EQ(services["web"].generation, 2);
  EXPECT_EQ(services["web"].spec_hash, config::ReplaceHash(v2));
  EXPECT_THAT(RecordedReplicas(), ElementsAre("web/0@2", "web/1@2"));
  EXPECT_THAT(driver_.LiveKeys(), ElementsAre("web/0@2", "web/1@2"));
}

TEST_F(ExecutorTest, RollingUpdateRollsBackWhenANewReplicaNeverGetsReady) {
  config::Service v1 = MakeService("web", 2);
  config::Stack first = MakeStack({v1});
  ASSERT_TRUE(Apply(&first).ok());
  state::ServiceRecord before = RecordedServices()["web"];

  // The new generation's slot 0 gets ready; slot 1 fails its check until the timeout.
  config::Service v2 = WithExecCheck(v1, {"/bin/sh", "-c", "test \"$STEWARD_REPLICA\" != 1"});
  v2.args = {"--serve", "--v2"};
  config::Stack second = MakeStack({v2});
  ApplyReport report = Apply(&second);

  EXPECT_FALSE(report.ok());
  ASSERT_EQ(report.results.size(), 1u);
  EXPECT_EQ(report.results[0].action, plan::Action::kReplace);
  EXPECT_EQ(report.results[0].outcome, Outcome::kFailed);
  EXPECT_THAT(report.results[0].error, HasSubstr("rolled back"));
  // Slot 0 was swapped before slot 1 failed: its old replica went and must come back.
  EXPECT_LT(log_.IndexOf("stop web/0@1"), log_.IndexOf("start web/1@2"));
  EXPECT_EQ(log_.Count("start web/0@1"), 2);
  EXPECT_EQ(log_.Count("stop web/1@1"), 0) << "slot 1's old replica must keep serving";

  state::ServiceRecord after = RecordedServices()["web"];
  EXPECT_EQ(after.generation, before.generation);
  EXPECT_EQ(after.spec_hash, before.spec_hash);
  EXPECT_EQ(after.spec_json, before.spec_json);
  EXPECT_THAT(RecordedReplicas(), ElementsAre("web/0@1", "web/1@1"));
  EXPECT_THAT(ManagedReplicas(), ElementsAre("web/0@1", "web/1@1"));
  EXPECT_THAT(driver_.LiveKeys(), ElementsAre("web/0@1", "web/1@1"));
  for (const auto& s : runtime_->Snapshot()) EXPECT_TRUE(s.ready) << s.key.ToString();
}

// Regression: the rollback restarted an old-generation replica for every slot swapped so far,
// also for slots the old spec never had, so a replace that also scaled up left more replicas
// running than the restored record asks for.
TEST_F(ExecutorTest, RollbackOfAScaleUpRestoresOnlyTheOldReplicaCount) {
  config::Service v1 = MakeService("web", 1);
  config::Stack first = MakeStack({v1});
  ASSERT_TRUE(Apply(&first).ok());

  config::Service v2 = WithExecCheck(v1, {"/bin/sh", "-c", "test \"$STEWARD_REPLICA\" != 2"});
  v2.args = {"--serve", "--v2"};
  v2.replicas = 3;
  config::Stack second = MakeStack({v2});
  ApplyReport report = Apply(&second);

  ASSERT_EQ(report.results.size(), 1u);
  EXPECT_EQ(report.results[0].outcome, Outcome::kFailed);
  EXPECT_THAT(report.results[0].error, HasSubstr("rolled back"));
  EXPECT_EQ(RecordedServices()["web"].generation, 1);
  EXPECT_EQ(log_.Count("start web/1@1"), 0) << "the old spec has one replica";
  EXPECT_THAT(RecordedReplicas(), ElementsAre("web/0@1"));
  EXPECT_THAT(ManagedReplicas(), ElementsAre("web/0@1"));
  EXPECT_THAT(driver_.LiveKeys(), ElementsAre("web/0@1"));
}

// --- stopping -------------------------------------------------------------------------------

TEST_F(ExecutorTest, DestroyStopsEveryReplicaAndDeletesTheRecord) {
  config::Service web = MakeService("web", 2);
  config::Stack stack = MakeStack({web});
  ASSERT_TRUE(Apply(&stack).ok());
  ASSERT_EQ(driver_.live_count(), 2u);

  ApplyReport report = Apply(nullptr);
  ASSERT_TRUE(report.ok()) << report.ToText();
  ASSERT_EQ(report.results.size(), 1u);
  EXPECT_EQ(report.results[0].action, plan::Action::kDestroy);
  EXPECT_EQ(log_.Count("stop web/"), 2);
  EXPECT_EQ(driver_.live_count(), 0u);
  EXPECT_TRUE(RecordedServices().empty());
  EXPECT_TRUE(RecordedReplicas().empty());
  EXPECT_TRUE(ManagedReplicas().empty());
}

TEST_F(ExecutorTest, ScaleDownStopsTheExtraSlotAndDeletesItsRow) {
  config::Service web = MakeService("web", 3);
  config::Stack three = MakeStack({web});
  ASSERT_TRUE(Apply(&three).ok());
  ASSERT_EQ(RecordedReplicas().size(), 3u);

  web.replicas = 2;
  config::Stack two = MakeStack({web});
  ApplyReport report = Apply(&two);
  ASSERT_TRUE(report.ok()) << report.ToText();
  ASSERT_EQ(report.results.size(), 1u);
  EXPECT_EQ(report.results[0].action, plan::Action::kUpdate);
  EXPECT_EQ(log_.Count("stop "), 1);
  EXPECT_EQ(log_.IndexOf("stop web/2@1") >= 0, true);
  EXPECT_THAT(RecordedReplicas(), ElementsAre("web/0@1", "web/1@1"));
  EXPECT_THAT(driver_.LiveKeys(), ElementsAre("web/0@1", "web/1@1"));
  EXPECT_EQ(RecordedServices()["web"].generation, 1);
}

// --- report ---------------------------------------------------------------------------------

TEST_F(ExecutorTest, ADependencyWithoutAChangeInThePlanIsNotWaitedFor) {
  config::Service api = MakeService("api", 1);
  api.depends_on = {"db"};  // db is already running: the plan has no change for it
  plan::Plan p;
  plan::Change c;
  c.action = plan::Action::kCreate;
  c.service = "api";
  c.desired = api;
  c.generation = 1;
  c.starts = {{0, 1, "new service"}};
  c.depends_on = {"db"};
  p.changes.push_back(c);
  ApplyReport report = Execute(p);
  ASSERT_TRUE(report.ok()) << report.ToText();
  EXPECT_EQ(driver_.live_count(), 1u);
}

TEST(ApplyReport, JsonRoundTripKeepsEveryField) {
  ApplyReport report;
  report.took = Duration(1234);
  report.results.push_back({"service.db",
                            plan::Action::kReplace,
                            Outcome::kFailed,
                            {"started replica 0 on port 18081 (rolling update)"},
                            "replica db/1 not ready; rolled back",
                            Duration(900)});
  report.results.push_back({"service.api",
                            plan::Action::kCreate,
                            Outcome::kSkipped,
                            {},
                            "not attempted: dependency 'service.db' did not complete",
                            Duration(0)});
  report.results.push_back({"service.old",
                            plan::Action::kDestroy,
                            Outcome::kDone,
                            {"stopped replica 0 pid 42 (destroy)", "removed from state"},
                            "",
                            Duration(15)});
  report.results.push_back(
      {"service.web", plan::Action::kUpdate, Outcome::kDone, {}, "", Duration(3)});

  nlohmann::json j = report.ToJson();
  EXPECT_EQ(j["ok"], false);
  ApplyReport back = ApplyReport::FromJson(nlohmann::json::parse(j.dump()));
  EXPECT_EQ(back.took, report.took);
  ASSERT_EQ(back.results.size(), report.results.size());
  for (size_t i = 0; i < report.results.size(); ++i) {
    const auto& a = report.results[i];
    const auto& b = back.results[i];
    EXPECT_EQ(b.resource, a.resource);
    EXPECT_EQ(b.action, a.action) << a.resource;
    EXPECT_EQ(b.outcome, a.outcome) << a.resource;
    EXPECT_EQ(b.done, a.done);
    EXPECT_EQ(b.error, a.error);
    EXPECT_EQ(b.took, a.took);
  }
  EXPECT_EQ(back.ok(), report.ok());
  EXPECT_EQ(back.ToText(), report.ToText());
}

}  // namespace
}  // namespace steward::apply
