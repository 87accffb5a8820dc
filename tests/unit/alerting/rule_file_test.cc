// Rule files that Prometheus accepts come out as the model: groups, rules and their fields.
#include "alerting/rule_file.h"

#include <gtest/gtest.h>

#include <cstdio>
#include <filesystem>
#include <fstream>

namespace steward::alerting {
namespace {

TEST(RuleFile, ReadsGroupsAlertsAndRecordingRules) {
  const std::string text = R"(groups:
  - name: api
    interval: 30s
    limit: 10
    rules:
      - record: job:http_requests:rate5m
        expr: sum by (job) (rate(http_requests_total[5m]))
        labels:
          team: web
      - alert: HighErrors
        expr: job:http_requests:rate5m > 10
        for: 5m
        keep_firing_for: 1m
        resolve_after: 2m
        labels:
          severity: page
        annotations:
          summary: "{{ $labels.job }} has {{ $value }} errors"
  - name: empty
)";
  RuleFileResult r = ParseRuleText(text, "r.yml");
  ASSERT_TRUE(r.ok()) << r.errors[0].ToString();
  ASSERT_EQ(r.file.groups.size(), 2u);
  EXPECT_EQ(r.file.RuleCount(), 2u);
  const RuleGroup& g = r.file.groups[0];
  EXPECT_EQ(g.name, "api");
  EXPECT_EQ(g.interval_ms, 30'000);
  EXPECT_EQ(g.limit, 10);
  EXPECT_EQ(g.line, 2);
  ASSERT_EQ(g.rules.size(), 2u);
  const Rule& rec = g.rules[0];
  EXPECT_EQ(rec.kind, RuleKind::kRecord);
  EXPECT_EQ(rec.name, "job:http_requests:rate5m");
  ASSERT_NE(rec.parsed, nullptr);
  EXPECT_EQ(rec.labels, (std::vector<std::pair<std::string, std::string>>{{"team", "web"}}));
  const Rule& alert = g.rules[1];
  EXPECT_EQ(alert.kind, RuleKind::kAlert);
  EXPECT_EQ(alert.name, "HighErrors");
  EXPECT_EQ(alert.expr, "job:http_requests:rate5m > 10");
  EXPECT_EQ(alert.for_ms, 300'000);
  EXPECT_EQ(alert.keep_firing_for_ms, 60'000);
  EXPECT_EQ(alert.resolve_after_ms, 120'000);
  EXPECT_EQ(alert.line, 10);
  ASSERT_EQ(alert.annotations.size(), 1u);
  EXPECT_EQ(alert.annotations[0].second, "{{ $labels.job }} has {{ $value }} errors");
  EXPECT_TRUE(r.file.groups[1].rules.empty());
}

TEST(RuleFile, EmptyFileHasNoRules) {
  for (const char* text : {"", "# only a comment\n", "groups:\n", "groups: []\n"}) {
    RuleFileResult r = ParseRuleText(text, "e.yml");
    EXPECT_TRUE(r.ok()) << text;
    EXPECT_EQ(r.file.RuleCount(), 0u) << text;
  }
}

TEST(RuleFile, BlockScalarExpressionIsKeptWhole) {
  RuleFileResult r = ParseRuleText(
      "groups:\n- name: g\n  rules:\n  - alert: A\n    expr: |\n      sum(up)\n        by (job) == "
      "0\n",
      "b.yml");
  ASSERT_TRUE(r.ok()) << r.errors[0].ToString();
  EXPECT_EQ(r.file.groups[0].rules[0].expr, "sum(up)\n  by (job) == 0\n");
}

TEST(RuleFile, LoadReadsFileAndReportsMissingOne) {
  auto dir = std::filesystem::temp_directory_path() / "steward_rule_file_test";
  std::filesystem::create_directories(dir);
  std::string path = (dir / "ok.yml").string();
  std::ofstream(path) << "groups:\n- name: g\n  rules:\n  - record: a\n    expr: up\n";
  RuleFileResult ok = LoadRuleFile(path);
  ASSERT_TRUE(ok.ok());
  EXPECT_EQ(ok.file.path, path);
  EXPECT_EQ(ok.file.RuleCount(), 1u);

  RuleFileResult missing = LoadRuleFile((dir / "nope.yml").string());
  ASSERT_EQ(missing.errors.size(), 1u);
  EXPECT_EQ(missing.errors[0].line, 0);
  EXPECT_NE(missing.errors[0].ToString().find("nope.yml: cannot read"), std::string::npos);
  std::filesystem::remove_all(dir);
}

TEST(RuleFile, StatusFormJoinsEveryError) {
  auto r = ParseRuleFile("groups:\n- name: g\n  rules:\n  - expr: up\n  - alert: B\n", "s.yml");
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().message(),
            "s.yml:4:5: group \"g\", rule 1 (\"\"): one of 'record' or 'alert' must be set; add "
            "'alert: <AlertName>' or 'record: <metric name>'\n"
            "s.yml:5:5: group \"g\", rule 2 (\"B\"): field 'expr' must be set; give the PromQL to "
            "evaluate, e.g. 'expr: up == 0'");
}

}  // namespace
}  // namespace steward::alerting
