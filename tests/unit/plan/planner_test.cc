#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <algorithm>

#include "plan/plan.h"
#include "unit/plan/plan_fixtures.h"

namespace steward::plan {
namespace {

using testing::AllRunning;
using ::testing::ElementsAre;
using testing::MakeService;
using testing::MakeStack;
using testing::Observed;
using testing::Record;

Plan ComputeOk(const PlanInputs& in) {
  StatusOr<Plan> plan = ComputePlan(in);
  EXPECT_TRUE(plan.ok()) << plan.status().ToString();
  return plan.ok() ? *plan : Plan{};
}

std::vector<std::string> Order(const Plan& plan) {
  std::vector<std::string> out;
  for (const auto& c : plan.changes) out.push_back(c.service);
  return out;
}

const Change* Find(const Plan& plan, const std::string& service) {
  for (const auto& c : plan.changes)
    if (c.service == service) return &c;
  return nullptr;
}

bool AnyContains(const std::vector<std::string>& lines, const std::string& needle) {
  return std::any_of(lines.begin(), lines.end(),
                     [&](const std::string& l) { return l.find(needle) != std::string::npos; });
}

// Recorded at `generation` with every replica of `old` running; `desired` is the new stack.
PlanInputs Steady(const config::Service& old, const config::Stack& desired, int64_t generation,
                  int first_pid = 100) {
  PlanInputs in;
  in.desired = &desired;
  in.recorded_services = {Record(old, generation)};
  in.observed = AllRunning(old, generation, first_pid);
  return in;
}

// --- create / no change -------------------------------------------------------------------

TEST(Planner, CreatesEveryReplicaAtGenerationOneWhenNothingIsRecorded) {
  config::Stack stack = MakeStack({MakeService("web", 3)});
  Plan plan = ComputeOk({&stack, {}, {}, {}});

  EXPECT_EQ(plan.project, "demo");
  ASSERT_EQ(plan.changes.size(), 1u);
  const Change& c = plan.changes[0];
  EXPECT_EQ(c.action, Action::kCreate);
  EXPECT_EQ(c.Resource(), "service.web");
  EXPECT_EQ(c.generation, 1);
  ASSERT_TRUE(c.desired.has_value());
  EXPECT_EQ(c.desired->name, "web");
  EXPECT_THAT(c.reasons, ElementsAre("new service: 3 replica(s)"));
  ASSERT_EQ(c.starts.size(), 3u);
  for (int slot = 0; slot < 3; ++slot) {
    EXPECT_EQ(c.starts[slot].slot, slot);
    EXPECT_EQ(c.starts[slot].generation, 1);
    EXPECT_EQ(c.starts[slot].reason, "new service");
  }
  EXPECT_TRUE(c.stops.empty());
  EXPECT_EQ(plan.CountOf(Action::kCreate), 1);
  EXPECT_EQ(plan.CountOf(Action::kUpdate), 0);
}

TEST(Planner, CreateStopsUnrecordedLeftoversAndStartsAboveTheirGeneration) {
  config::Stack stack = MakeStack({MakeService("web", 1)});
  PlanInputs in{&stack, {}, {}, {Observed("web", 0, 4, 77)}};
  Plan plan = ComputeOk(in);

  ASSERT_EQ(plan.changes.size(), 1u);
  const Change& c = plan.changes[0];
  EXPECT_EQ(c.action, Action::kCreate);
  EXPECT_EQ(c.generation, 5);
  ASSERT_EQ(c.stops.size(), 1u);
  EXPECT_EQ(c.stops[0].pid, 77);
  EXPECT_EQ(c.stops[0].start_ticks, 770);
  EXPECT_EQ(c.stops[0].reason, "not in the state (left by an interrupted apply)");
  ASSERT_EQ(c.starts.size(), 1u);
  EXPECT_EQ(c.starts[0].generation, 5);
}

TEST(Planner, NoChangeWhenRecordedMatchesDesiredAndEveryReplicaIsObserved) {
  config::Service web = MakeService("web", 2);
  config::Stack stack = MakeStack({web});
  Plan plan = ComputeOk(Steady(web, stack, 1));
  EXPECT_TRUE(plan.empty());
  EXPECT_EQ(plan.project, "demo");
}

TEST(Planner, AReplicaWaitingToRestartCountsAsRunning) {
  // The runtime reports managed replicas between processes with pid 0: no double start.
  config::Service web = MakeService("web", 1);
  config::Stack stack = MakeStack({web});
  PlanInputs in = Steady(web, stack, 1);
  in.observed[0].pid = 0;
  EXPECT_TRUE(ComputeOk(in).empty());
}

// --- update in place ----------------------------------------------------------------------

TEST(Planner, ScalingUpStartsOnlyTheNewSlotInPlace) {
  config::Service old = MakeService("web", 2);
  config::Service now = old;
  now.replicas = 3;
  config::Stack stack = MakeStack({now});
  Plan plan = ComputeOk(Steady(old, stack, 1));

  ASSERT_EQ(plan.changes.size(), 1u);
  const Change& c = plan.changes[0];
  EXPECT_EQ(c.action, Action::kUpdate);
  EXPECT_EQ(c.generation, 1);
  EXPECT_THAT(c.reasons, ElementsAre("replicas: 2 → 3"));
  ASSERT_EQ(c.starts.size(), 1u);
  EXPECT_EQ(c.starts[0].slot, 2);
  EXPECT_EQ(c.starts[0].generation, 1);
  EXPECT_EQ(c.starts[0].reason, "scale 2 → 3");
  EXPECT_TRUE(c.stops.empty());
}

TEST(Planner, ScalingDownStopsOnlyTheHighestSlot) {
  config::Service old = MakeService("web", 3);
  config::Service now = old;
  now.replicas = 2;
  config::Stack stack = MakeStack({now});
  Plan plan = ComputeOk(Steady(old, stack, 1, /*first_pid=*/100));

  ASSERT_EQ(plan.changes.size(), 1u);
  const Change& c = plan.changes[0];
  EXPECT_EQ(c.action, Action::kUpdate);
  EXPECT_THAT(c.reasons, ElementsAre("replicas: 3 → 2"));
  EXPECT_TRUE(c.starts.empty());
  ASSERT_EQ(c.stops.size(), 1u);
  EXPECT_EQ(c.stops[0].slot, 2);
  EXPECT_EQ(c.stops[0].pid, 102);
  EXPECT_EQ(c.stops[0].reason, "scale 3 → 2");
}

TEST(Planner, HealthSettingsChangeUpdatesSettingsWithoutTouchingProcesses) {
  config::Service old = MakeService("web", 2);
  config::Service now = old;
  now.health.interval = Duration(5000);
  config::Stack stack = MakeStack({now});
  Plan plan = ComputeOk(Steady(old, stack, 1));

  ASSERT_EQ(plan.changes.size(), 1u);
  const Change& c = plan.changes[0];
  EXPECT_EQ(c.action, Action::kUpdate);
  EXPECT_TRUE(c.settings_changed);
  EXPECT_THAT(c.reasons, ElementsAre("health.interval: 2s → 5s"));
  EXPECT_TRUE(c.starts.empty());
  EXPECT_TRUE(c.stops.empty());
  ASSERT_TRUE(c.desired.has_value());
  EXPECT_EQ(c.desired->health.interval, Duration(5000));
}

TEST(Planner, RepairOfDriftAloneChangesNoSettings) {
  config::Service web = MakeService("web", 2);
  config::Stack stack = MakeStack({web});
  PlanInputs in = Steady(web, stack, 1);
  in.observed.pop_back();
  Plan plan = ComputeOk(in);
  ASSERT_EQ(plan.changes.size(), 1u);
  EXPECT_FALSE(plan.changes[0].settings_changed);
}

// --- replace ------------------------------------------------------------------------------

// A replace at recorded generation 3 with both replicas running: generation 4 starts on every
// slot, every observed replica stops, and the reasons name what changed.
void ExpectRollingReplace(const config::Service& old, const config::Service& now,
                          const std::string& reason) {
  config::Stack stack = MakeStack({now});
  Plan plan = ComputeOk(Steady(old, stack, 3, /*first_pid=*/200));

  ASSERT_EQ(plan.changes.size(), 1u);
  const Change& c = plan.changes[0];
  EXPECT_EQ(c.action, Action::kReplace);
  EXPECT_EQ(c.generation, 4);
  EXPECT_TRUE(c.settings_changed);
  EXPECT_TRUE(AnyContains(c.reasons, reason)) << ::testing::PrintToString(c.reasons);
  ASSERT_EQ(c.starts.size(), static_cast<size_t>(now.replicas));
  for (int slot = 0; slot < now.replicas; ++slot) {
    EXPECT_EQ(c.starts[slot].slot, slot);
    EXPECT_EQ(c.starts[slot].generation, 4);
    EXPECT_EQ(c.starts[slot].reason, "rolling update to generation 4");
  }
  ASSERT_EQ(c.stops.size(), static_cast<size_t>(old.replicas));
  for (int slot = 0; slot < old.replicas; ++slot) {
    EXPECT_EQ(c.stops[slot].slot, slot);
    EXPECT_EQ(c.stops[slot].generation, 3);
    EXPECT_EQ(c.stops[slot].pid, 200 + slot);
    EXPECT_EQ(c.stops[slot].reason, "replaced by generation 4");
  }
}

TEST(Planner, ReplacesWhenCommandChanges) {
  config::Service old = MakeService("web", 2);
  config::Service now = old;
  now.command = "/usr/bin/web2";
  ExpectRollingReplace(old, now, "command: \"/usr/bin/web\" → \"/usr/bin/web2\"");
}

TEST(Planner, ReplacesWhenArgsChange) {
  config::Service old = MakeService("web", 2);
  config::Service now = old;
  now.args = {"--serve", "--fast"};
  ExpectRollingReplace(old, now, "args: ");
}

TEST(Planner, ReplacesWhenPortsChange) {
  config::Service old = MakeService("web", 2);
  old.ports = {8080};
  config::Service now = old;
  now.ports = {9090};
  ExpectRollingReplace(old, now, "ports: [8080] → [9090]");
}

TEST(Planner, ReplacesWhenEnvChangesAndNamesKeysButNeverValues) {
  config::Service old = MakeService("web", 2);
  old.env = {{"DB_PASSWORD", "hunter2"}, {"GONE", "old-value"}};
  config::Service now = old;
  now.env = {{"DB_PASSWORD", "s3cret"}, {"TOKEN", "abc123xyz"}};
  ExpectRollingReplace(old, now, "env.DB_PASSWORD changed");

  config::Stack stack = MakeStack({now});
  Plan plan = ComputeOk(Steady(old, stack, 3));
  ASSERT_EQ(plan.changes.size(), 1u);
  const auto& reasons = plan.changes[0].reasons;
  EXPECT_TRUE(AnyContains(reasons, "env.TOKEN added"));
  EXPECT_TRUE(AnyContains(reasons, "env.GONE removed"));
  for (const char* secret : {"hunter2", "s3cret", "abc123xyz", "old-value"})
    EXPECT_FALSE(AnyContains(reasons, secret)) << secret;
}

TEST(Planner, ReplaceWithAScaleStartsEveryNewSlotAndStopsEveryOldReplica) {
  config::Service old = MakeService("web", 3);
  config::Service now = old;
  now.command = "/usr/bin/web2";
  now.replicas = 2;
  ExpectRollingReplace(old, now, "replicas: 3 → 2");
}

TEST(Planner, ReplaceAlsoStopsReplicasOfOlderGenerations) {
  config::Service old = MakeService("web", 1);
  config::Service now = old;
  now.command = "/usr/bin/web2";
  config::Stack stack = MakeStack({now});
  PlanInputs in = Steady(old, stack, 3, 200);
  in.observed.push_back(Observed("web", 0, 2, 150));
  Plan plan = ComputeOk(in);
  ASSERT_EQ(plan.changes.size(), 1u);
  std::vector<int> pids;
  for (const auto& s : plan.changes[0].stops) pids.push_back(s.pid);
  EXPECT_THAT(pids, ElementsAre(150, 200));
}

// --- drift --------------------------------------------------------------------------------

TEST(Planner, RestartsARecordedReplicaThatIsNotObserved) {
  config::Service web = MakeService("web", 3);
  config::Stack stack = MakeStack({web});
  PlanInputs in = Steady(web, stack, 2);
  in.observed.erase(in.observed.begin() + 1);  // slot 1 is gone
  Plan plan = ComputeOk(in);

  ASSERT_EQ(plan.changes.size(), 1u);
  const Change& c = plan.changes[0];
  EXPECT_EQ(c.action, Action::kUpdate);
  EXPECT_EQ(c.generation, 2);
  EXPECT_THAT(c.reasons, ElementsAre("replica 1 not running (observed)"));
  ASSERT_EQ(c.starts.size(), 1u);
  EXPECT_EQ(c.starts[0].slot, 1);
  EXPECT_EQ(c.starts[0].generation, 2);
  EXPECT_EQ(c.starts[0].reason, "replica 1 not running (observed)");
  EXPECT_TRUE(c.stops.empty());
}

TEST(Planner, AZombieIsNotARunningReplica) {
  config::Service web = MakeService("web", 1);
  config::Stack stack = MakeStack({web});
  PlanInputs in = Steady(web, stack, 1);
  in.observed[0].zombie = true;
  Plan plan = ComputeOk(in);
  ASSERT_EQ(plan.changes.size(), 1u);
  ASSERT_EQ(plan.changes[0].starts.size(), 1u);
  EXPECT_TRUE(plan.changes[0].stops.empty());
}

TEST(Planner, StopsAnObservedReplicaOfAnOlderGeneration) {
  config::Service web = MakeService("web", 1);
  config::Stack stack = MakeStack({web});
  PlanInputs in = Steady(web, stack, 2, /*first_pid=*/100);
  in.observed.push_back(Observed("web", 0, 1, 50));
  Plan plan = ComputeOk(in);

  ASSERT_EQ(plan.changes.size(), 1u);
  const Change& c = plan.changes[0];
  EXPECT_EQ(c.action, Action::kUpdate);
  EXPECT_TRUE(c.starts.empty());
  ASSERT_EQ(c.stops.size(), 1u);
  EXPECT_EQ(c.stops[0].pid, 50);
  EXPECT_EQ(c.stops[0].generation, 1);
  EXPECT_EQ(c.stops[0].reason, "orphan of generation 1");
  EXPECT_THAT(c.reasons, ElementsAre("replica 0 pid 50: orphan of generation 1 (observed)"));
}

TEST(Planner, StopsDuplicatesOfASlotKeepingTheLowestPid) {
  config::Service web = MakeService("web", 1);
  config::Stack stack = MakeStack({web});
  PlanInputs in = Steady(web, stack, 1, /*first_pid=*/300);
  in.observed.push_back(Observed("web", 0, 1, 301));
  in.observed.push_back(Observed("web", 0, 1, 299));
  Plan plan = ComputeOk(in);

  ASSERT_EQ(plan.changes.size(), 1u);
  const Change& c = plan.changes[0];
  EXPECT_TRUE(c.starts.empty());
  std::vector<int> pids;
  for (const auto& s : c.stops) {
    pids.push_back(s.pid);
    EXPECT_EQ(s.reason, "duplicate of replica 0");
  }
  EXPECT_THAT(pids, ElementsAre(300, 301));
  EXPECT_THAT(c.reasons, ElementsAre("replica 0 pid 300: duplicate of replica 0 (observed)",
                                     "replica 0 pid 301: duplicate of replica 0 (observed)"));
}

// --- destroy ------------------------------------------------------------------------------

TEST(Planner, DestroysARecordedServiceNoLongerInTheStack) {
  config::Service web = MakeService("web", 1);
  config::Service old = MakeService("old", 2);
  config::Stack stack = MakeStack({web});
  PlanInputs in = Steady(web, stack, 1, 100);
  in.recorded_services.push_back(Record(old, 4));
  for (const auto& o : AllRunning(old, 4, 500)) in.observed.push_back(o);
  Plan plan = ComputeOk(in);

  ASSERT_EQ(plan.changes.size(), 1u);
  const Change& c = plan.changes[0];
  EXPECT_EQ(c.action, Action::kDestroy);
  EXPECT_EQ(c.Resource(), "service.old");
  EXPECT_FALSE(c.desired.has_value());
  EXPECT_THAT(c.reasons, ElementsAre("no longer in the stack file"));
  EXPECT_TRUE(c.starts.empty());
  ASSERT_EQ(c.stops.size(), 2u);
  for (int i = 0; i < 2; ++i) {
    EXPECT_EQ(c.stops[i].pid, 500 + i);
    EXPECT_EQ(c.stops[i].generation, 4);
    EXPECT_EQ(c.stops[i].reason, "destroy");
  }
}

TEST(Planner, DestroysEverythingWhenNothingIsDesired) {
  config::Service web = MakeService("web", 1);
  config::Service api = MakeService("api", 1);
  PlanInputs in;
  in.recorded_services = {Record(web), Record(api)};
  in.observed = {Observed("web", 0, 1, 10), Observed("api", 0, 1, 20)};
  Plan plan = ComputeOk(in);

  EXPECT_EQ(plan.project, "");
  EXPECT_EQ(plan.CountOf(Action::kDestroy), 2);
  ASSERT_EQ(plan.changes.size(), 2u);
  for (const auto& c : plan.changes) {
    EXPECT_EQ(c.action, Action::kDestroy);
    EXPECT_THAT(c.reasons, ElementsAre("destroy requested"));
    ASSERT_EQ(c.stops.size(), 1u);
  }
  EXPECT_EQ(Find(plan, "web")->stops[0].pid, 10);
  EXPECT_EQ(Find(plan, "api")->stops[0].pid, 20);
}

TEST(Planner, DestroysOrphanProcessesOfAnUnknownService) {
  config::Stack stack = MakeStack({});
  PlanInputs in{&stack, {}, {}, {Observed("ghost", 0, 1, 40), Observed("ghost", 1, 1, 41)}};
  Plan plan = ComputeOk(in);

  ASSERT_EQ(plan.changes.size(), 1u);
  const Change& c = plan.changes[0];
  EXPECT_EQ(c.action, Action::kDestroy);
  EXPECT_EQ(c.service, "ghost");
  EXPECT_THAT(c.reasons, ElementsAre("orphan processes not in the state (observed)"));
  EXPECT_EQ(c.stops.size(), 2u);
}

TEST(Planner, IgnoresZombiesOfAnUnknownService) {
  config::Stack stack = MakeStack({});
  PlanInputs in{&stack, {}, {}, {Observed("ghost", 0, 1, 40)}};
  in.observed[0].zombie = true;
  EXPECT_TRUE(ComputeOk(in).empty());
}

TEST(Planner, DestroysAServiceWhoseRecordedSpecIsUnreadable) {
  // Only a service still desired needs its old spec; a destroy must not be blocked by it.
  state::ServiceRecord bad{"old", "{not json", "0", 1, 0};
  PlanInputs in;
  in.recorded_services = {bad};
  Plan plan = ComputeOk(in);
  ASSERT_EQ(plan.changes.size(), 1u);
  EXPECT_EQ(plan.changes[0].action, Action::kDestroy);
}

// --- order --------------------------------------------------------------------------------

TEST(Planner, OrdersServicesAfterTheirDependencies) {
  config::Service web = MakeService("web");
  web.depends_on = {"api"};
  config::Service api = MakeService("api");
  api.depends_on = {"db"};
  config::Service db = MakeService("db");
  config::Stack stack = MakeStack({web, api, db});
  Plan plan = ComputeOk({&stack, {}, {}, {}});

  EXPECT_THAT(Order(plan), ElementsAre("db", "api", "web"));
  EXPECT_TRUE(Find(plan, "db")->depends_on.empty());
  EXPECT_THAT(Find(plan, "api")->depends_on, ElementsAre("db"));
  EXPECT_THAT(Find(plan, "web")->depends_on, ElementsAre("api"));
}

TEST(Planner, DependsOnListsOnlyDependenciesThatChange) {
  config::Service db = MakeService("db");
  config::Service cache = MakeService("cache");
  config::Service api = MakeService("api");
  api.depends_on = {"db", "cache"};
  config::Stack stack = MakeStack({api, db, cache});
  PlanInputs in = Steady(db, stack, 1, 100);  // db unchanged and running; cache and api new
  Plan plan = ComputeOk(in);

  EXPECT_THAT(Order(plan), ElementsAre("cache", "api"));
  EXPECT_THAT(Find(plan, "api")->depends_on, ElementsAre("cache"));
}

TEST(Planner, DestroysComeLastAndADependentGoesBeforeItsDependency) {
  config::Service web = MakeService("web");
  web.depends_on = {"api"};
  config::Service api = MakeService("api");
  api.depends_on = {"db"};
  config::Service db = MakeService("db");
  config::Service fresh = MakeService("fresh");
  config::Stack stack = MakeStack({fresh});
  PlanInputs in;
  in.desired = &stack;
  in.recorded_services = {Record(db), Record(api), Record(web)};  // dependencies first
  Plan plan = ComputeOk(in);

  EXPECT_THAT(Order(plan), ElementsAre("fresh", "web", "api", "db"));
  EXPECT_TRUE(Find(plan, "web")->depends_on.empty());
  EXPECT_THAT(Find(plan, "api")->depends_on, ElementsAre("web"));
  EXPECT_THAT(Find(plan, "db")->depends_on, ElementsAre("api"));
}

// --- errors -------------------------------------------------------------------------------

TEST(Planner, AnUnreadableRecordedSpecIsCorruption) {
  config::Stack stack = MakeStack({MakeService("web")});
  for (const char* spec : {"{not json", "[1, 2]", R"({"replicas": "three"})"}) {
    SCOPED_TRACE(spec);
    PlanInputs in{&stack, {state::ServiceRecord{"web", spec, "0", 1, 0}}, {}, {}};
    StatusOr<Plan> plan = ComputePlan(in);
    ASSERT_FALSE(plan.ok());
    EXPECT_EQ(plan.status().code(), StatusCode::kCorruption);
    EXPECT_NE(plan.status().message().find("'web'"), std::string::npos) << plan.status().ToString();
  }
}

// --- ports --------------------------------------------------------------------------------

TEST(ReplicaPort, OddGenerationsUseTheLowerRangeAndEvenOnesTheUpper) {
  config::Service web = MakeService("web", 3);
  web.ports = {8000};
  EXPECT_EQ(ReplicaPort(web, 0, 1), 8000);
  EXPECT_EQ(ReplicaPort(web, 2, 1), 8002);
  EXPECT_EQ(ReplicaPort(web, 0, 2), 8003);
  EXPECT_EQ(ReplicaPort(web, 2, 2), 8005);
  EXPECT_EQ(ReplicaPort(web, 1, 3), 8001);
  EXPECT_EQ(ReplicaPort(web, 1, 4), 8004);
}

TEST(ReplicaPort, IsZeroWithoutDeclaredPorts) {
  config::Service web = MakeService("web", 3);
  EXPECT_EQ(ReplicaPort(web, 0, 1), 0);
  EXPECT_EQ(ReplicaPort(web, 2, 2), 0);
}

TEST(ReplicaPort, ConsecutiveGenerationsNeverShareAPort) {
  config::Service web = MakeService("web", 2);
  web.ports = {9000};
  for (int64_t gen = 1; gen < 5; ++gen)
    for (int a = 0; a < 2; ++a)
      for (int b = 0; b < 2; ++b) EXPECT_NE(ReplicaPort(web, a, gen), ReplicaPort(web, b, gen + 1));
}

TEST(PlanAction, SymbolsAndNames) {
  EXPECT_EQ(ActionSymbol(Action::kCreate), "+");
  EXPECT_EQ(ActionSymbol(Action::kUpdate), "~");
  EXPECT_EQ(ActionSymbol(Action::kReplace), "-/+");
  EXPECT_EQ(ActionSymbol(Action::kDestroy), "-");
  EXPECT_EQ(ActionName(Action::kCreate), "create");
  EXPECT_EQ(ActionName(Action::kUpdate), "update");
  EXPECT_EQ(ActionName(Action::kReplace), "replace");
  EXPECT_EQ(ActionName(Action::kDestroy), "destroy");
}

}  // namespace
}  // namespace steward::plan
