// Rule unit-test files in promtool's format (`promtool test rules`, Prometheus 2.42) → a model:
//
//   rule_files: [rules.yml, more/*.yml]   # relative to the test file; globs
//   evaluation_interval: 1m               # default 1m
//   group_eval_order: [g1, g2]
//   tests:
//     - interval: 1m                      # between input samples
//       name: ...
//       external_labels: {region: eu}
//       external_url: http://x
//       input_series: [{series: 'up{job="a"}', values: '1+0x10'}]
//       alert_rule_test: [{eval_time: 5m, alertname: X,
//                          exp_alerts: [{exp_labels: {...}, exp_annotations: {...}}]}]
//       promql_expr_test: [{expr: ..., eval_time: 5m, exp_samples: [{labels: 'up{}', value: 1}]}]
//
// Contract: decoding is as strict as promtool's (yaml.UnmarshalStrict): unknown or repeated
// keys, wrong types, durations that do not parse and exp_samples values that YAML does not read
// as a float (quoted "3", `Inf`) are errors, each reported with its place, "PATH:LINE:COL:
// <promtool's words>", e.g. `t.yml:2:1: field foo not found in type main.unitTestFile`. Every
// error of a file is reported; a file with any error yields no model. rule_files are returned as
// written (RuleFilePaths resolves and globs them). The text is untrusted; the YAML reader bounds
// its work. Thread safety: stateless functions.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "base/status.h"

namespace steward::alerting {

struct TestInputSeries {
  std::string series;
  std::string values;
};

struct TestExpAlert {
  std::map<std::string, std::string> labels;
  std::map<std::string, std::string> annotations;
};

struct AlertTestCase {
  int64_t eval_time_ms = 0;
  std::string alertname;
  std::vector<TestExpAlert> exp_alerts;
  int line = 0;
};

struct TestExpSample {
  std::string labels;  // a series selector, parsed when the test runs (as promtool does)
  double value = 0;
};

struct PromqlTestCase {
  std::string expr;
  int64_t eval_time_ms = 0;
  std::vector<TestExpSample> exp_samples;
  int line = 0;
};

struct RuleTestGroup {
  int64_t interval_ms = 0;  // 0 as in promtool: every input sample at time 0
  std::vector<TestInputSeries> input_series;
  std::vector<AlertTestCase> alert_rule_test;
  std::vector<PromqlTestCase> promql_expr_test;
  std::map<std::string, std::string> external_labels;
  std::string external_url;
  std::string name;
  int line = 0;
};

struct RuleTestFile {
  std::string path;
  std::vector<std::string> rule_files;      // as written
  int64_t evaluation_interval_ms = 60'000;  // 1m when absent or 0
  std::vector<std::string> group_eval_order;
  std::vector<RuleTestGroup> tests;
};

// Parses `text`; `path` names the file in errors and anchors relative rule_files.
// InvalidArgument holds every error, one per line.
StatusOr<RuleTestFile> ParseRuleTestText(const std::string& text, std::string_view path);
// Reads and parses `path`; an unreadable file is one error naming it.
StatusOr<RuleTestFile> LoadRuleTestFile(const std::string& path);

// promtool's resolveAndGlobFilepaths: each relative entry joined to the test file's directory,
// then globbed (sorted matches). `unmatched` gets each pattern that matched nothing (promtool
// warns and goes on). A malformed pattern is an error.
StatusOr<std::vector<std::string>> RuleFilePaths(const RuleTestFile& file,
                                                 std::vector<std::string>* unmatched);

}  // namespace steward::alerting
