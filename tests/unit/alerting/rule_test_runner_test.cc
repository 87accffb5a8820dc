// Rule unit-test files (promtool's format) parsed and run with Steward's evaluator: pass/fail
// and promtool's failure text for alerts, expressions, rule errors and bad files.
#include "alerting/rule_test_runner.h"

#include <gtest/gtest.h>
#include <stdlib.h>

#include <cmath>
#include <filesystem>
#include <fstream>

#include "alerting/rule_test_file.h"

namespace steward::alerting {
namespace {

namespace fs = std::filesystem;

class RuleTestRunner : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string tmpl = (fs::temp_directory_path() / "rule-test-runner-XXXXXX").string();
    ASSERT_NE(mkdtemp(tmpl.data()), nullptr);
    dir_ = tmpl;
    Write("rules.yml", R"y(groups:
  - name: g
    rules:
      - record: doubled
        expr: m * 2
      - alert: Down
        expr: up == 0
        for: 2m
        labels: {severity: page}
        annotations:
          summary: "{{ $labels.instance }} down ({{ $value }})"
)y");
  }
  void TearDown() override { fs::remove_all(dir_); }

  std::string Write(const std::string& name, const std::string& text) {
    std::string path = (dir_ / name).string();
    std::ofstream(path) << text;
    return path;
  }
  RuleTestFileResult Run(const std::string& text, const RuleTestOptions& o = {}) {
    return RunRuleTestFile(Write("t.yml", text), o);
  }

  fs::path dir_;
};

constexpr char kAlertTest[] = R"y(rule_files: [rules.yml]
tests:
  - interval: 1m
    input_series:
      - series: 'up{instance="a"}'
        values: '0x10'
    alert_rule_test:
      - eval_time: 1m
        alertname: Down
      - eval_time: 2m
        alertname: Down
        exp_alerts:
          - exp_labels: {severity: page, instance: a}
            exp_annotations: {summary: "a down (0)"}
)y";

TEST_F(RuleTestRunner, AlertFiresOnceForHasPassed) {
  RuleTestFileResult r = Run(kAlertTest);
  EXPECT_TRUE(r.ok()) << (r.failures.empty() ? "" : r.failures[0].text);
  ASSERT_EQ(r.tests.size(), 1u);
  EXPECT_TRUE(r.tests[0].ran);
}

TEST_F(RuleTestRunner, WrongAnnotationFailsWithPromtoolText) {
  std::string text = kAlertTest;
  text.replace(text.find("a down (0)"), 10, "a is down");
  text.replace(text.find("- interval"), 10, "- name: t1\n    interval");
  RuleTestFileResult r = Run(text);
  ASSERT_EQ(r.failures.size(), 1u);
  EXPECT_EQ(r.failures[0].kind, RuleTestFailure::Kind::kAlert);
  EXPECT_EQ(r.failures[0].alertname, "Down");
  EXPECT_EQ(r.failures[0].text,
            "    name: t1,\n"
            "    alertname: Down, time: 2m, \n"
            "        exp:[\n"
            "            0:\n"
            "              Labels:{alertname=\"Down\", instance=\"a\", severity=\"page\"}\n"
            "              Annotations:{summary=\"a is down\"}\n"
            "            ], \n"
            "        got:[\n"
            "            0:\n"
            "              Labels:{alertname=\"Down\", instance=\"a\", severity=\"page\"}\n"
            "              Annotations:{summary=\"a down (0)\"}\n"
            "            ]");
}

TEST_F(RuleTestRunner, ExpressionMismatchPrintsBothSides) {
  RuleTestFileResult r = Run(R"(rule_files: [rules.yml]
tests:
  - interval: 1m
    input_series:
      - series: 'm{a="1"}'
        values: '1+1x5'
    promql_expr_test:
      - expr: doubled
        eval_time: 2m
        exp_samples:
          - labels: 'doubled{a="1"}'
            value: 6
      - expr: m
        eval_time: 2m
        exp_samples:
          - labels: 'm{a="1"}'
            value: 4
)");
  ASSERT_EQ(r.failures.size(), 1u);
  EXPECT_EQ(r.failures[0].text,
            "    expr: \"m\", time: 2m,\n"
            "        exp: {__name__=\"m\", a=\"1\"} 4E+00\n"
            "        got: {__name__=\"m\", a=\"1\"} 3E+00");
}

TEST_F(RuleTestRunner, SamplesAreLoadedOnlyUpToTheLastStep) {
  // evaluation_interval 2m, eval_time 3m: the last step is 2m, so the query at 3m sees 2m's value.
  RuleTestFileResult r = Run(R"(evaluation_interval: 2m
tests:
  - interval: 1m
    input_series:
      - series: 'm'
        values: '0 1 2 3 4'
    promql_expr_test:
      - expr: m
        eval_time: 3m
        exp_samples:
          - labels: 'm'
            value: 2
)");
  EXPECT_TRUE(r.ok()) << (r.failures.empty() ? "" : r.failures[0].text);
}

TEST_F(RuleTestRunner, MissingRuleFileOnlyWarns) {
  RuleTestFileResult r = Run(R"(rule_files: [nope.yml]
tests:
  - interval: 1m
    promql_expr_test:
      - expr: vector(1)
        eval_time: 0m
        exp_samples: [{labels: '{}', value: 1}]
)");
  EXPECT_TRUE(r.ok());
  ASSERT_EQ(r.warnings.size(), 1u);
  EXPECT_EQ(r.warnings[0], "  WARNING: no file match pattern " + (dir_ / "nope.yml").string());
}

TEST_F(RuleTestRunner, RuleErrorStopsTheGroup) {
  Write("bad.yml",
        "groups:\n  - name: b\n    rules:\n      - record: j\n"
        "        expr: up * on() group_left up\n");
  RuleTestFileResult r = Run(R"(rule_files: [bad.yml]
tests:
  - interval: 1m
    input_series:
      - {series: 'up{i="1"}', values: '1x3'}
      - {series: 'up{i="2"}', values: '1x3'}
    promql_expr_test:
      - {expr: 'vector(2)', eval_time: 2m}
)");
  ASSERT_EQ(r.failures.size(), 1u);
  EXPECT_EQ(r.failures[0].kind, RuleTestFailure::Kind::kRule);
  EXPECT_EQ(r.failures[0].text.rfind("    rule: j, time: 0s, err: ", 0), 0u) << r.failures[0].text;
}

TEST_F(RuleTestRunner, GroupEvalOrderRunsNamedGroupsInThatOrder) {
  Write("two.yml", R"(groups:
  - name: alerts
    rules:
      - alert: High
        expr: derived > 5
  - name: records
    rules:
      - record: derived
        expr: source * 2
)");
  std::string test = R"(rule_files: [two.yml]
group_eval_order: [ORDER]
tests:
  - interval: 1m
    input_series: [{series: source, values: '3x3'}]
    alert_rule_test:
      - eval_time: 0m
        alertname: High
        exp_alerts: [{exp_labels: {}}]
)";
  std::string good = test, bad = test;
  good.replace(good.find("ORDER"), 5, "records, alerts");
  bad.replace(bad.find("ORDER"), 5, "alerts, records");
  EXPECT_TRUE(Run(good).ok());
  EXPECT_FALSE(Run(bad).ok());
  std::string repeated = test;
  repeated.replace(repeated.find("ORDER"), 5, "alerts, alerts");
  RuleTestFileResult r = Run(repeated);
  ASSERT_EQ(r.failures.size(), 1u);
  EXPECT_EQ(r.failures[0].text, "group name repeated in evaluation order: alerts");
}

TEST_F(RuleTestRunner, RunSelectsTestGroupsByName) {
  RuleTestOptions o;
  o.run.emplace("^keep");
  RuleTestFileResult r = Run(R"(tests:
  - name: keep-me
    promql_expr_test: [{expr: vector(1), eval_time: 0m, exp_samples: [{value: 1}]}]
  - name: skip-me
    promql_expr_test: [{expr: vector(1), eval_time: 0m, exp_samples: [{value: 2}]}]
)",
                             o);
  EXPECT_TRUE(r.ok());
  ASSERT_EQ(r.tests.size(), 2u);
  EXPECT_TRUE(r.tests[0].ran);
  EXPECT_FALSE(r.tests[1].ran);
  EXPECT_FALSE(Run(R"(tests:
  - name: skip-me
    promql_expr_test: [{expr: vector(1), eval_time: 0m, exp_samples: [{value: 2}]}]
)")
                   .ok());
}

TEST_F(RuleTestRunner, MissingAlertnameFailsTheGroup) {
  RuleTestFileResult r = Run("tests:\n  - name: n\n    alert_rule_test:\n      - eval_time: 1m\n");
  ASSERT_EQ(r.failures.size(), 1u);
  EXPECT_EQ(r.failures[0].text,
            "an item under alert_rule_test misses required attribute "
            "alertname at eval_time 1m (in TestGroup n)");
}

TEST(RuleTestFile, DecodesStrictlyWithPlaces) {
  auto f = ParseRuleTestText("rule_files: [a.yml]\nfoo: 1\ntests:\n  - interval: 1m\n    bar: 2\n",
                             "t.yml");
  ASSERT_FALSE(f.ok());
  EXPECT_EQ(f.status().message(),
            "t.yml:2:1: field foo not found in type main.unitTestFile\n"
            "t.yml:5:5: field bar not found in type main.testGroup");
  auto quoted = ParseRuleTestText(
      "tests:\n  - promql_expr_test:\n      - exp_samples:\n          - value: \"3\"\n", "t.yml");
  ASSERT_FALSE(quoted.ok());
  EXPECT_NE(quoted.status().message().find("cannot unmarshal !!str `3` into float64"),
            std::string::npos);
  auto duration = ParseRuleTestText("evaluation_interval: 1x\n", "t.yml");
  ASSERT_FALSE(duration.ok());
  EXPECT_EQ(duration.status().message(), "t.yml:1:22: not a valid duration string: \"1x\"");
  auto type = ParseRuleTestText("rule_files: r.yml\n", "t.yml");
  ASSERT_FALSE(type.ok());
  EXPECT_EQ(type.status().message(), "t.yml:1:13: cannot unmarshal !!str `r.yml` into []string");
}

TEST(RuleTestFile, ReadsYamlNumbersAsPromtoolDoes) {
  auto f = ParseRuleTestText(R"(tests:
  - promql_expr_test:
      - exp_samples:
          - value: 0x10
          - value: 1_000
          - value: .inf
          - value: 1.5e3
          - value: ~
)",
                             "t.yml");
  ASSERT_TRUE(f.ok()) << f.status().message();
  const auto& s = f->tests[0].promql_expr_test[0].exp_samples;
  ASSERT_EQ(s.size(), 5u);
  EXPECT_EQ(s[0].value, 16);
  EXPECT_EQ(s[1].value, 1000);
  EXPECT_EQ(s[2].value, INFINITY);
  EXPECT_EQ(s[3].value, 1500);
  EXPECT_EQ(s[4].value, 0);
  EXPECT_EQ(f->evaluation_interval_ms, 60'000);
}

}  // namespace
}  // namespace steward::alerting
