// Prometheus' alert templates: Go's text/template language with Prometheus' function set, as
// used in alerting rules' labels and annotations ("{{ $labels.instance }} is down",
// "{{ $value | humanizePercentage }}", "{{ printf \"%.2f\" $value }}").
//
// Contract:
// - CheckTemplate parses without executing: "" when the text is a valid template, else the
//   error in the words Prometheus (Go's text/template) uses, e.g.
//   `template: __alert_HighErrors:1: unexpected "}" in operand`.
// - ExpandTemplate executes with the data Prometheus gives alert templates: $labels (and
//   .Labels), $value (.Value), $externalLabels, $externalURL. Output is exactly Prometheus'
//   for the same input (humanize*, printf's Go verbs, map ordering in range, etc.).
//   Errors say "error expanding template: ..." like Prometheus' rule manager.
// - Untrusted input: parsing and execution are bounded (nesting depth, output size, range
//   iterations); a template never crashes or loops forever.
// - `query` in a template runs through TemplateData::query when set, else it is an error.
// Thread safety: stateless functions; TemplateData::query must be safe to call from the caller's
// thread.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <string>
#include <string_view>

#include "base/status.h"
#include "promql/value.h"

namespace steward::alerting {

struct TemplateData {
  std::map<std::string, std::string> labels;
  double value = 0;
  std::map<std::string, std::string> external_labels;
  std::string external_url;
  int64_t eval_time_ms = 0;  // the evaluation time (for `query`)
  // Runs a PromQL query at eval_time for the `query` function; unset → `query` fails.
  std::function<StatusOr<promql::Vector>(const std::string& expr, int64_t t_ms)> query;
};

// "" when `text` parses; otherwise Go's error text. `name` names the template in errors
// (Prometheus uses "__alert_" + alert name).
std::string CheckTemplate(std::string_view name, std::string_view text);

// Expands `text` as an alert label or annotation template. On failure the Status message is
// Prometheus' error text, "error expanding template: error executing template NAME: template:
// NAME:1:115: executing \"NAME\" at <humanize \"x\">: error calling humanize: ...". Prometheus
// does not drop the label or annotation then: it logs the error and uses
// "<" + message + ">" as the value; ExpandTemplateOrError does exactly that.
StatusOr<std::string> ExpandTemplate(std::string_view name, std::string_view text,
                                     const TemplateData& data);

// The value Prometheus gives a label or annotation: the expansion, or
// "<error expanding template: ...>" when it fails.
std::string ExpandTemplateOrError(std::string_view name, std::string_view text,
                                  const TemplateData& data);

namespace internal {
// CheckTemplate with a place for rule files: `offset` is the byte offset in `text` of the action
// the error is in (0 when the error has no better place). `error` is "" when `text` parses.
struct TemplateCheck {
  std::string error;
  size_t offset = 0;
};
TemplateCheck CheckTemplateAt(std::string_view name, std::string_view text);
}  // namespace internal

}  // namespace steward::alerting
