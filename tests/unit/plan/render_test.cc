#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "plan/plan.h"
#include "unit/plan/plan_fixtures.h"

namespace steward::plan {
namespace {

using testing::MakeService;

// One change of each kind, built directly so the rendering is tested apart from the planner.
Plan OneOfEach() {
  Plan plan;
  plan.project = "demo";

  Change create;
  create.action = Action::kCreate;
  create.service = "db";
  create.generation = 1;
  create.desired = MakeService("db", 1);
  create.reasons = {"new service: 1 replica(s)"};
  create.starts = {{0, 1, "new service"}};
  plan.changes.push_back(create);

  Change update;
  update.action = Action::kUpdate;
  update.service = "api";
  update.generation = 2;
  update.desired = MakeService("api", 3);
  update.reasons = {"replicas: 2 → 3", "replica 0 pid 41: orphan of generation 1 (observed)"};
  update.starts = {{2, 2, "scale 2 → 3"}};
  update.stops = {{0, 1, 41, 4100, "orphan of generation 1"}};
  update.depends_on = {"db"};
  plan.changes.push_back(update);

  Change replace;
  replace.action = Action::kReplace;
  replace.service = "web";
  replace.generation = 3;
  replace.desired = MakeService("web", 2);
  replace.reasons = {"env.TOKEN changed"};
  replace.starts = {{0, 3, "rolling update to generation 3"},
                    {1, 3, "rolling update to generation 3"}};
  replace.stops = {{0, 2, 51, 0, "replaced by generation 3"},
                   {1, 2, 52, 0, "replaced by generation 3"}};
  plan.changes.push_back(replace);

  Change destroy;
  destroy.action = Action::kDestroy;
  destroy.service = "old";
  destroy.reasons = {"no longer in the stack file"};
  destroy.stops = {{0, 1, 61, 0, "destroy"}};
  plan.changes.push_back(destroy);
  return plan;
}

bool Contains(const std::string& text, const std::string& needle) {
  return text.find(needle) != std::string::npos;
}

TEST(RenderPlanText, ShowsEachActionWithItsSymbolAndResource) {
  std::string text = RenderPlanText(OneOfEach(), /*color=*/false);
  EXPECT_TRUE(Contains(text, "on project demo")) << text;
  EXPECT_TRUE(Contains(text, "  + service.db will be created\n")) << text;
  EXPECT_TRUE(Contains(text, "  ~ service.api will be updated in place\n")) << text;
  EXPECT_TRUE(
      Contains(text, "  -/+ service.web must be replaced (rolling update to generation 3)\n"))
      << text;
  EXPECT_TRUE(Contains(text, "  - service.old will be destroyed\n")) << text;
}

TEST(RenderPlanText, ListsReasonsAndReplicaStepsUnderTheirChange) {
  std::string text = RenderPlanText(OneOfEach(), /*color=*/false);
  EXPECT_TRUE(Contains(text, "      # replicas: 2 → 3\n")) << text;
  EXPECT_TRUE(Contains(text, "      + start replica 2 (scale 2 → 3)\n")) << text;
  EXPECT_TRUE(Contains(text, "      - stop replica 0 pid 41 (orphan of generation 1)\n")) << text;
  EXPECT_TRUE(Contains(text, "      -/+ 2 replica(s), one at a time: new ready before old stops\n"))
      << text;
  EXPECT_TRUE(Contains(text, "      - stop replica 0 pid 61 (destroy)\n")) << text;
  // A replace's old replicas are summed up in the -/+ line, not listed one by one.
  EXPECT_FALSE(Contains(text, "pid 51")) << text;
}

TEST(RenderPlanText, EndsWithTheSummaryLine) {
  std::string text = RenderPlanText(OneOfEach(), /*color=*/false);
  EXPECT_TRUE(Contains(text, "\nPlan: 1 to create, 1 to update, 1 to replace, 1 to destroy.\n"))
      << text;
}

TEST(RenderPlanText, SaysNoChangesForAnEmptyPlan) {
  Plan plan;
  plan.project = "demo";
  std::string text = RenderPlanText(plan, /*color=*/false);
  EXPECT_TRUE(Contains(text, "No changes.")) << text;
  EXPECT_FALSE(Contains(text, "Plan:")) << text;
}

TEST(RenderPlanText, HasNoAnsiCodesWithoutColor) {
  EXPECT_FALSE(Contains(RenderPlanText(OneOfEach(), /*color=*/false), "\033["));
}

TEST(RenderPlanText, ColoursSymbolsWhenAsked) {
  std::string text = RenderPlanText(OneOfEach(), /*color=*/true);
  EXPECT_TRUE(Contains(text, "\033[32m+\033[0m service.db")) << text;
  EXPECT_TRUE(Contains(text, "\033[33m~\033[0m service.api")) << text;
  EXPECT_TRUE(Contains(text, "\033[35m-/+\033[0m service.web")) << text;
  EXPECT_TRUE(Contains(text, "\033[31m-\033[0m service.old")) << text;
}

TEST(RenderPlanText, NeverShowsEnvValuesOfARealReplacePlan) {
  config::Service old = MakeService("web", 1);
  old.env = {{"TOKEN", "old-secret-value"}};
  config::Service now = old;
  now.env = {{"TOKEN", "new-secret-value"}};
  config::Stack stack = testing::MakeStack({now});
  PlanInputs in{&stack, {testing::Record(old)}, {}, testing::AllRunning(old, 1, 10)};
  StatusOr<Plan> plan = ComputePlan(in);
  ASSERT_TRUE(plan.ok()) << plan.status().ToString();

  std::string text = RenderPlanText(*plan, false);
  std::string json = RenderPlanJson(*plan).dump();
  EXPECT_TRUE(Contains(text, "env.TOKEN changed")) << text;
  for (const std::string& out : {text, json}) {
    EXPECT_FALSE(Contains(out, "secret-value")) << out;
  }
}

TEST(RenderPlanJson, HasVersionProjectAndSummaryCounts) {
  nlohmann::json j = RenderPlanJson(OneOfEach());
  EXPECT_EQ(j["format_version"], "1");
  EXPECT_EQ(j["project"], "demo");
  EXPECT_EQ(j["summary"],
            nlohmann::json({{"create", 1}, {"update", 1}, {"replace", 1}, {"destroy", 1}}));
  ASSERT_TRUE(j["changes"].is_array());
  EXPECT_EQ(j["changes"].size(), 4u);
}

TEST(RenderPlanJson, DescribesEachChangeWithItsReplicaSteps) {
  nlohmann::json j = RenderPlanJson(OneOfEach());
  const nlohmann::json& update = j["changes"][1];
  EXPECT_EQ(update["resource"], "service.api");
  EXPECT_EQ(update["service"], "api");
  EXPECT_EQ(update["action"], "update");
  EXPECT_EQ(update["symbol"], "~");
  EXPECT_EQ(update["generation"], 2);
  EXPECT_EQ(update["reasons"], nlohmann::json({"replicas: 2 → 3",
                                               "replica 0 pid 41: orphan of generation 1 "
                                               "(observed)"}));
  EXPECT_EQ(update["depends_on"], nlohmann::json({"db"}));
  EXPECT_EQ(update["start_replicas"],
            nlohmann::json::parse(R"([{"slot":2,"generation":2,"reason":"scale 2 → 3"}])"));
  EXPECT_EQ(update["stop_replicas"], nlohmann::json::parse(R"(
      [{"slot":0,"generation":1,"pid":41,"reason":"orphan of generation 1"}])"));

  std::vector<std::string> actions, symbols;
  for (const auto& c : j["changes"]) {
    actions.push_back(c["action"]);
    symbols.push_back(c["symbol"]);
  }
  EXPECT_THAT(actions, ::testing::ElementsAre("create", "update", "replace", "destroy"));
  EXPECT_THAT(symbols, ::testing::ElementsAre("+", "~", "-/+", "-"));
  EXPECT_EQ(j["changes"][3]["start_replicas"], nlohmann::json::array());
}

TEST(RenderPlanJson, AnEmptyPlanHasZeroCountsAndNoChanges) {
  nlohmann::json j = RenderPlanJson(Plan{});
  EXPECT_EQ(j["summary"]["create"], 0);
  EXPECT_EQ(j["summary"]["destroy"], 0);
  EXPECT_EQ(j["changes"], nlohmann::json::array());
}

TEST(PlanFromJson, RebuildsTheTextViewOfADaemonsPlan) {
  Plan plan = OneOfEach();
  auto back = PlanFromJson(RenderPlanJson(plan));
  ASSERT_TRUE(back.ok()) << back.status().ToString();
  EXPECT_EQ(RenderPlanText(*back, false), RenderPlanText(plan, false));
  EXPECT_EQ(RenderPlanJson(*back), RenderPlanJson(plan));
}

TEST(PlanFromJson, MalformedInputIsAnErrorNotAnException) {
  for (const char* text : {R"({})", R"({"changes":[{"action":"explode"}]})",
                           R"({"changes":[{"action":"create","reasons":7}]})", R"([1,2])"}) {
    auto p = PlanFromJson(nlohmann::json::parse(text));
    EXPECT_FALSE(p.ok()) << text;
    EXPECT_EQ(p.status().code(), StatusCode::kInvalidArgument) << text;
  }
}

}  // namespace
}  // namespace steward::plan
