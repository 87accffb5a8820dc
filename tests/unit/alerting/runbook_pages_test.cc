// Runbook pages: what a page shows for a built-in alert and for a user's alert, that text from
// the stack cannot break the Markdown, and the index.
#include "alerting/runbook_pages.h"

#include <gtest/gtest.h>

namespace steward::alerting {
namespace {

bool Has(const std::string& page, const std::string& what) {
  return page.find(what) != std::string::npos;
}

nlohmann::json RulesData() {
  return nlohmann::json::parse(R"json({"groups": [
    {"name": "steward:builtin", "file": "<builtin>", "rules": [
      {"type": "alerting", "name": "StewardReplicaDown",
       "query": "steward_replica_ready{job=\"steward\"} == 0", "duration": 60,
       "keepFiringFor": 0, "labels": {"severity": "critical"},
       "annotations": {"summary": "replica down"}, "state": "firing",
       "alerts": [{}, {}]},
      {"type": "recording", "name": "job:up:sum", "query": "sum(up)"}]},
    {"name": "api", "file": "/srv/rules/api.yml", "rules": [
      {"type": "alerting", "name": "ApiErrors", "query": "rate(errors[5m]) > 1",
       "duration": 300, "labels": {}, "annotations": {"description": "API | errors *high*"},
       "state": "inactive", "alerts": []}]}]})json");
}

config::Runbook RestartRunbook() {
  config::Runbook rb;
  rb.name = "restart-down";
  rb.alert = "StewardReplicaDown";
  rb.matchers = {{"service", config::LabelMatcher::Op::kEqual, "api"}};
  rb.description = "bring the replica back";
  return rb;
}

TEST(RunbookPages, ReadsTheAlertingRulesOfTheRulesApi) {
  std::vector<AlertRuleInfo> rules = AlertRulesFromJson(RulesData());
  ASSERT_EQ(rules.size(), 2u);
  EXPECT_EQ(rules[0].name, "StewardReplicaDown");
  EXPECT_EQ(rules[0].expr, "steward_replica_ready{job=\"steward\"} == 0");
  EXPECT_EQ(rules[0].for_seconds, 60);
  EXPECT_EQ(rules[0].labels.at("severity"), "critical");
  EXPECT_EQ(rules[0].active, 2);
  EXPECT_EQ(rules[1].file, "/srv/rules/api.yml");
}

TEST(RunbookPages, ABuiltinAlertsPageExplainsItAndListsRunbooksAndRuns) {
  RunbookPageInput in;
  in.alertname = "StewardReplicaDown";
  in.rules = {AlertRulesFromJson(RulesData())[0]};
  in.runbooks = {RestartRunbook()};
  RunbookRun run;
  run.runbook = "restart-down";
  run.service = "api";
  run.result = "success";
  run.output = "restart api/1: done";
  run.started_at_ms = 1'700'000'000'000;
  run.ended_at_ms = run.started_at_ms + 1500;
  in.runs = {run};
  std::string page = RenderRunbookPage(in);
  EXPECT_EQ(page.rfind("# Runbook: StewardReplicaDown\n", 0), 0u) << page;
  EXPECT_TRUE(Has(page, "## What to do by hand\n\n1. `steward status`")) << page;
  EXPECT_TRUE(Has(page, "```promql\nsteward_replica_ready{job=\"steward\"} == 0\n```")) << page;
  EXPECT_TRUE(Has(page, "- for: 1m")) << page;
  EXPECT_TRUE(Has(page, "- label `severity`: `critical`")) << page;
  EXPECT_TRUE(Has(page, "### `restart-down`")) << page;
  EXPECT_TRUE(Has(page, "- when: `{alertname=\"StewardReplicaDown\", service=\"api\"}`")) << page;
  EXPECT_TRUE(Has(page, "at most 3 run(s) per hour per service; cool-down 5m")) << page;
  EXPECT_TRUE(Has(page,
                  "| 2023-11-14T22:13:20Z | restart-down | api | success | 1.5s | "
                  "restart api/1: done |"))
      << page;
}

TEST(RunbookPages, AUserAlertShowsItsOwnDescriptionEscaped) {
  RunbookPageInput in;
  in.alertname = "ApiErrors";
  in.rules = {AlertRulesFromJson(RulesData())[1]};
  std::string page = RenderRunbookPage(in);
  EXPECT_TRUE(Has(page, "> API \\| errors \\*high\\*")) << page;
  EXPECT_TRUE(Has(page, "No runbook is bound to this alert")) << page;
  EXPECT_TRUE(Has(page, "None since the daemon started.")) << page;
  EXPECT_FALSE(Has(page, "What to do by hand")) << page;
}

TEST(RunbookPages, StackTextCannotOpenACodeBlock) {
  RunbookPageInput in;
  in.alertname = "X";
  config::Runbook rb = RestartRunbook();
  rb.alert = "X";
  rb.action = config::RunbookAction::kCommand;
  rb.command = {"sh", "-c", "echo ``` done"};
  in.runbooks = {rb};
  std::string page = RenderRunbookPage(in);
  EXPECT_TRUE(Has(page, "````sh -c echo ``` done````")) << page;
}

TEST(RunbookPages, IndexListsBuiltinsRulesAndRunbookAlerts) {
  config::Runbook other = RestartRunbook();
  other.alert = "CacheFull";
  std::vector<RunbookIndexEntry> index =
      RunbookIndex(AlertRulesFromJson(RulesData()), {RestartRunbook(), other});
  ASSERT_EQ(index.size(), 8u);  // six built-ins, ApiErrors, CacheFull
  EXPECT_EQ(index[0].alertname, "ApiErrors");
  std::string text = RenderRunbookIndex(index, "/runbooks/");
  EXPECT_TRUE(Has(text,
                  "| [StewardReplicaDown](/runbooks/StewardReplicaDown) | 1 | "
                  "1 | yes |"))
      << text;
  EXPECT_TRUE(Has(text, "| [CacheFull](/runbooks/CacheFull) | 0 | 1 |  |")) << text;
}

TEST(RunbookPages, EveryBuiltinAlertHasAnExplanationAndSteps) {
  for (std::string_view name :
       {"StewardReplicaDown", "StewardCrashLooping", "StewardHealthCheckFailing",
        "StewardProbeFailing", "StewardDiskNearlyFull", "StewardBackupLate"}) {
    const BuiltinAlertDoc* doc = FindBuiltinAlertDoc(name);
    ASSERT_NE(doc, nullptr) << name;
    EXPECT_FALSE(doc->meaning.empty());
    EXPECT_GE(doc->steps.size(), 3u);
  }
  EXPECT_EQ(FindBuiltinAlertDoc("Other"), nullptr);
}

}  // namespace
}  // namespace steward::alerting
