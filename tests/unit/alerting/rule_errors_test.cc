// Every rejection of a rule file, with its place (file:line:col) and message. Table-driven: one
// row per validation rule of Prometheus' rulefmt plus Steward's strict-YAML and type checks.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "alerting/rule_file.h"

namespace steward::alerting {
namespace {

struct Case {
  const char* name;
  std::string text;
  std::vector<std::string> want;  // RuleError::ToString() of each error, in order
};

std::string Rules(const std::string& body) { return "groups:\n- name: g\n  rules:\n" + body; }

const std::string kRuleNeither =
    "t.yml:4:5: group \"g\", rule 1 (\"\"): one of 'record' or "
    "'alert' must be set; add 'alert: <AlertName>' or 'record: "
    "<metric name>'";

std::vector<Case> Cases() {
  return {
      {"YamlSyntax",
       "groups:\n- name: [x\n",
       {"t.yml:3:1: YAML syntax error: end of sequence flow not found"}},
      {"TopLevelNotMap",
       "- a\n",
       {"t.yml:1:1: a rule file is a map with a 'groups:' list; write e.g. 'groups: [{name: "
        "example, rules: [...]}]'"}},
      {"UnknownTopKey",
       "groups: []\nrules: []\n",
       {"t.yml:2:1: unknown key 'rules'; allowed keys are: groups"}},
      {"GroupsNotList",
       "groups: {a: 1}\n",
       {"t.yml:1:9: 'groups' must be a list of groups, each with 'name' and 'rules'"}},
      {"GroupNotMap",
       "groups:\n- x\n",
       {"t.yml:2:3: each item of 'groups' must be a map with 'name' and 'rules'"}},
      {"GroupNameEmpty",
       "groups:\n- rules: []\n",
       {"t.yml:2:3: group name must not be empty; add 'name: <unique name>' to the group"}},
      {"GroupNameRepeated",
       "groups:\n- name: g\n- name: g\n",
       {"t.yml:3:9: group name \"g\" is repeated in the same file; give each group a unique "
        "name"}},
      {"GroupUnknownKey",
       "groups:\n- name: g\n  query_offset: 1m\n",
       {"t.yml:3:3: group \"g\": unknown key 'query_offset'; allowed keys are: name, interval, "
        "limit, rules"}},
      {"GroupKeyRepeated",
       "groups:\n- name: g\n  rules: []\n  rules: []\n",
       {"t.yml:4:3: group \"g\": key 'rules' is repeated (first at line 3); keep one"}},
      {"GroupIntervalNotDuration",
       "groups:\n- name: g\n  interval: 5x\n",
       {"t.yml:3:13: group \"g\": 'interval' is not a duration: not a valid duration string: "
        "\"5x\"; write e.g. 5m, 1h30m or 0s"}},
      {"GroupLimitNotNumber",
       "groups:\n- name: g\n  limit: ten\n",
       {"t.yml:3:10: group \"g\": 'limit' must be a whole number (0 for no limit), got ten"}},
      {"RulesNotList",
       "groups:\n- name: g\n  rules: {a: 1}\n",
       {"t.yml:3:10: group \"g\": 'rules' must be a list of alerting or recording rules"}},
      {"RuleNotMap",
       Rules("  - up\n"),
       {"t.yml:4:5: group \"g\", rule 1 (\"\"): a rule must be a map with 'alert' or 'record', "
        "and 'expr'"}},
      {"RuleNeitherAlertNorRecord", Rules("  - expr: up\n"), {kRuleNeither}},
      {"RuleBothAlertAndRecord",
       Rules("  - alert: A\n    record: r\n    expr: up\n"),
       {"t.yml:5:13: group \"g\", rule 1 (\"A\"): only one of 'record' and 'alert' may be set; "
        "a rule records a series or raises an alert, so split it into two rules"}},
      {"RuleExprMissing",
       Rules("  - alert: A\n"),
       {"t.yml:4:5: group \"g\", rule 1 (\"A\"): field 'expr' must be set; give the PromQL to "
        "evaluate, e.g. 'expr: up == 0'"}},
      {"RuleExprEmpty",
       Rules("  - alert: A\n    expr:\n"),
       {"t.yml:5:5: group \"g\", rule 1 (\"A\"): field 'expr' must be set; give the PromQL to "
        "evaluate, e.g. 'expr: up == 0'"}},
      {"RuleExprNotString",
       Rules("  - alert: A\n    expr: [up]\n"),
       {"t.yml:5:11: group \"g\", rule 1 (\"A\"): 'expr' must be a string, got a list"}},
      {"RuleExprParseErrorPlain",
       Rules("  - alert: A\n    expr: rate(up[5m]\n"),
       {"t.yml:5:22: group \"g\", rule 1 (\"A\"): could not parse expression: unclosed left "
        "parenthesis"}},
      {"RuleExprParseErrorQuoted",
       Rules("  - alert: A\n    expr: \"sum(up) by job\"\n"),
       {"t.yml:5:23: group \"g\", rule 1 (\"A\"): could not parse expression: unexpected "
        "identifier \"job\" in grouping opts, expected \"(\""}},
      {"RuleExprParseErrorLiteralBlock",
       Rules("  - alert: A\n    expr: |\n      sum(up)\n        by (job) +\n"),
       {"t.yml:8:7: group \"g\", rule 1 (\"A\"): could not parse expression: unexpected end of "
        "input"}},
      {"RuleExprTypeError",
       Rules("  - record: r\n    expr: rate(up)\n"),
       {"t.yml:5:16: group \"g\", rule 1 (\"r\"): could not parse expression: expected type "
        "range vector in call to function \"rate\", got instant vector"}},
      {"RecordNameInvalid",
       Rules("  - record: job-up\n    expr: up\n"),
       {"t.yml:4:13: group \"g\", rule 1 (\"job-up\"): invalid recording rule name: job-up; a "
        "metric name matches [a-zA-Z_:][a-zA-Z0-9_:]*, e.g. job:up:sum"}},
      {"RecordWithFor",
       Rules("  - record: r\n    expr: up\n    for: 5m\n"),
       {"t.yml:6:5: group \"g\", rule 1 (\"r\"): invalid field 'for' in recording rule; only "
        "alerting rules have it"}},
      {"RecordWithKeepFiringFor",
       Rules("  - record: r\n    expr: up\n    keep_firing_for: 1m\n"),
       {"t.yml:6:5: group \"g\", rule 1 (\"r\"): invalid field 'keep_firing_for' in recording "
        "rule; only alerting rules have it"}},
      {"RecordWithResolveAfter",
       Rules("  - record: r\n    expr: up\n    resolve_after: 1m\n"),
       {"t.yml:6:5: group \"g\", rule 1 (\"r\"): invalid field 'resolve_after' in recording "
        "rule; only alerting rules have it"}},
      {"RecordWithAnnotations",
       Rules("  - record: r\n    expr: up\n    annotations: {a: b}\n"),
       {"t.yml:6:5: group \"g\", rule 1 (\"r\"): invalid field 'annotations' in recording "
        "rule; only alerting rules have it"}},
      {"ForNotDuration",
       Rules("  - alert: A\n    expr: up\n    for: soon\n"),
       {"t.yml:6:10: group \"g\", rule 1 (\"A\"): 'for' is not a duration: not a valid "
        "duration string: \"soon\"; write e.g. 5m, 1h30m or 0s"}},
      {"RuleUnknownKey",
       Rules("  - alert: A\n    expr: up\n    severity: page\n"),
       {"t.yml:6:5: group \"g\", rule 1 (\"A\"): unknown key 'severity'; allowed keys are: "
        "record, alert, expr, for, keep_firing_for, labels, annotations, resolve_after"}},
      {"RuleKeyRepeated",
       Rules("  - alert: A\n    expr: up\n    expr: down\n"),
       {"t.yml:6:5: group \"g\", rule 1 (\"A\"): key 'expr' is repeated (first at line 5); "
        "keep one"}},
      {"LabelNameInvalid",
       Rules("  - alert: A\n    expr: up\n    labels:\n      0bad: x\n"),
       {"t.yml:7:7: group \"g\", rule 1 (\"A\"): invalid label name: 0bad; names match "
        "[a-zA-Z_][a-zA-Z0-9_]* and are not __name__"}},
      {"LabelNameIsMetricName",
       Rules("  - record: r\n    expr: up\n    labels:\n      __name__: x\n"),
       {"t.yml:7:7: group \"g\", rule 1 (\"r\"): invalid label name: __name__; names match "
        "[a-zA-Z_][a-zA-Z0-9_]* and are not __name__"}},
      {"FileNotUtf8",
       Rules("  - alert: A\n    expr: up\n    labels:\n      a: \"x\xff\"\n"),
       {"t.yml:7:12: the rule file is not valid UTF-8 here; save it as UTF-8 text"}},
      {"LabelsNotMap",
       Rules("  - alert: A\n    expr: up\n    labels: [a]\n"),
       {"t.yml:6:13: group \"g\", rule 1 (\"A\"): 'labels' must be a map of label names to "
        "strings"}},
      {"AnnotationNameInvalid",
       Rules("  - alert: A\n    expr: up\n    annotations:\n      a-b: x\n"),
       {"t.yml:7:7: group \"g\", rule 1 (\"A\"): invalid annotation name: a-b; names match "
        "[a-zA-Z_][a-zA-Z0-9_]*"}},
      {"AnnotationTemplateUnclosed",
       Rules("  - alert: A\n    expr: up\n    annotations:\n      summary: \"x {{ $value \"\n"),
       {"t.yml:7:19: group \"g\", rule 1 (\"A\"): annotation \"summary\": template: "
        "__alert_A:1: unclosed action"}},
      {"LabelTemplateUnclosed",
       Rules("  - alert: A\n    expr: up\n    labels:\n      sev: \"{{ $labels.x\"\n"),
       {"t.yml:7:13: group \"g\", rule 1 (\"A\"): label \"sev\": template: __alert_A:1: "
        "unclosed action"}},
  };
}

TEST(RuleErrors, EachValidationRuleReportsItsPlace) {
  for (const Case& c : Cases()) {
    RuleFileResult r = ParseRuleText(c.text, "t.yml");
    std::vector<std::string> got;
    for (const RuleError& e : r.errors) got.push_back(e.ToString());
    EXPECT_EQ(got, c.want) << c.name;
    EXPECT_TRUE(r.file.groups.empty()) << c.name << ": a bad file yields no model";
  }
}

TEST(RuleErrors, ReportsEveryErrorOfAFileInFileOrder) {
  RuleFileResult r =
      ParseRuleText(Rules("  - expr: up\n  - alert: B\n    expr: up(\n") + "- name: g\n", "t.yml");
  std::vector<std::string> got;
  for (const RuleError& e : r.errors) got.push_back(e.ToString());
  ASSERT_EQ(got.size(), 3u);
  EXPECT_EQ(got[0], kRuleNeither);
  EXPECT_EQ(got[1].substr(0, 10), "t.yml:6:14");
  EXPECT_EQ(got[2].substr(0, 9), "t.yml:7:9");
}

}  // namespace
}  // namespace steward::alerting
