// Runs rule unit-test files (rule_test_file.h) exactly as `promtool test rules` (Prometheus
// 2.42) does, with Steward's own evaluator (rule_eval.h) and PromQL engine.
//
// Contract, per test group of a file:
// - Input series are parsed with the series notation (series_notation.h) as promtool's lazy
//   loader does (lines trimmed, an empty line ends the input, a repeated series replaces the
//   earlier one) into a fresh TSDB in a temporary directory, sample i at i × interval; samples
//   are appended only up to the evaluation step being run, so a query sees nothing later.
// - The rule files' groups (default interval: the test's interval, external labels and URL of
//   the test) are evaluated at 0, evaluation_interval, ... up to the largest eval_time, ordered
//   by group_eval_order (groups not named there first, in file order). A rule error stops the
//   group's tests ("rule: NAME, time: 5m0s, err: ...").
// - alert_rule_test: after the step ts with ts <= eval_time < ts + evaluation_interval, the
//   firing alerts of every rule named alertname are compared with exp_alerts (alertname added
//   to exp_labels) as sorted lists of (labels, annotations).
// - promql_expr_test: an instant query at eval_time after the last step (max samples 10000, as
//   promtool's engine), compared with exp_samples sorted by labels, values compared exactly.
// Failures carry promtool's text (`Text`) and, for --json, their parts. Every failure of a file
// is reported; a file whose test file or rule files do not load has one failure.
// Thread safety: stateless functions; each run uses its own TSDB and temporary directory.
#pragma once

#include <cstdint>
#include <optional>
#include <regex>
#include <string>
#include <vector>

#include "alerting/rule_test_file.h"

namespace steward::alerting {

struct RuleTestFailure {
  enum class Kind { kFile, kLoad, kRule, kAlert, kExpr };
  Kind kind = Kind::kFile;
  std::string test;       // the test group's name ("" when unnamed or file-level)
  int test_index = -1;    // 0-based index in tests:, -1 for file-level failures
  std::string alertname;  // kAlert
  std::string expr;       // kExpr
  std::string rule;       // kRule
  int64_t eval_time_ms = 0;
  std::string text;  // as promtool prints it (may span lines)
};
std::string_view FailureKindName(RuleTestFailure::Kind kind);

struct RuleTestGroupResult {
  std::string name;
  int index = 0;
  bool ran = false;  // false when --run did not select it
  int failures = 0;
};

struct RuleTestFileResult {
  std::string path;
  std::vector<std::string> warnings;  // "  WARNING: no file match pattern X", as promtool
  std::vector<RuleTestFailure> failures;
  std::vector<RuleTestGroupResult> tests;
  bool ok() const { return failures.empty(); }
};

struct RuleTestOptions {
  std::optional<std::regex> run;  // only test groups whose name matches (search)
};

RuleTestFileResult RunRuleTestFile(const std::string& path, const RuleTestOptions& options = {});
// Runs an already parsed file (path fields resolve its rule_files).
RuleTestFileResult RunRuleTests(const RuleTestFile& file, const RuleTestOptions& options = {});

}  // namespace steward::alerting
