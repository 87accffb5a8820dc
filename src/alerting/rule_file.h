// Prometheus rule files (the `groups:` YAML that Prometheus' rule_files load) → a checked model.
//
// Accepts Prometheus 2.42's format: groups with name, interval, limit and rules; each rule is an
// alerting rule (alert, expr, for, keep_firing_for, labels, annotations) or a recording rule
// (record, expr, labels). Steward adds one optional key on alerting rules, `resolve_after`
// (hysteresis: how long an alert must stay inactive before it counts as resolved). Validation
// follows Prometheus' rulefmt.Validate: unique non-empty group names, exactly one of alert and
// record, expr required and valid PromQL, record names valid metric names, `for`,
// `keep_firing_for` and annotations only on alerting rules, valid label and annotation names,
// label values valid UTF-8, and alerting rules' labels and annotations that parse as templates
// (template.h, with Go's error text).
// Like Prometheus' strict YAML decoding, unknown and repeated keys are errors too.
//
// Contract: every problem of a file is reported, not just the first, each with its place in the
// file (1-based line:col) and a message that says what is wrong and what would be right, e.g.
//   rules.yml:7:15: group "api", rule 2 ("HighErrors"): could not parse expression:
//   unclosed left parenthesis; ...
// A PromQL error points at the expression's own column mapped into the file. A file with any
// error yields no model (the rules are rejected whole). Input is untrusted: the YAML reader and
// the PromQL parser bound their work. Thread safety: stateless functions.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "base/status.h"
#include "promql/ast.h"

namespace steward::alerting {

enum class RuleKind { kAlert, kRecord };

struct Rule {
  RuleKind kind = RuleKind::kAlert;
  std::string name;  // the alert name or the recorded metric name
  std::string expr;
  std::shared_ptr<const promql::Expr> parsed;  // expr, parsed and type-checked
  int64_t for_ms = 0;
  int64_t keep_firing_for_ms = 0;
  int64_t resolve_after_ms = 0;  // Steward's hysteresis; 0 = resolve at once
  std::vector<std::pair<std::string, std::string>> labels;       // in file order
  std::vector<std::pair<std::string, std::string>> annotations;  // in file order
  int line = 0;                                                  // of the rule's first key
};

struct RuleGroup {
  std::string name;
  int64_t interval_ms = 0;  // 0: the evaluator's default interval
  int64_t limit = 0;        // 0: no limit on alerts or series a rule may produce
  std::vector<Rule> rules;
  int line = 0;
};

struct RuleFile {
  std::string path;
  std::vector<RuleGroup> groups;
  size_t RuleCount() const;
};

struct RuleError {
  std::string path;
  int line = 0;    // 1-based; 0 when the error has no place (e.g. the file cannot be read)
  int column = 0;  // 1-based
  std::string message;
  // "PATH:LINE:COL: MESSAGE", or "PATH: MESSAGE" without a place.
  std::string ToString() const;
};

struct RuleFileResult {
  RuleFile file;                  // meaningful only when errors is empty
  std::vector<RuleError> errors;  // in file order
  bool ok() const { return errors.empty(); }
};

// Parses and validates `text`; `path` only names the file in errors.
RuleFileResult ParseRuleText(const std::string& text, std::string_view path);
// Reads `path` and parses it; an unreadable file is one error without a place.
RuleFileResult LoadRuleFile(const std::string& path);
// ParseRuleText as a StatusOr: InvalidArgument holding every error, one per line.
StatusOr<RuleFile> ParseRuleFile(const std::string& text, std::string_view path);

}  // namespace steward::alerting
