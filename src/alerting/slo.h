// SLOs → rules: for each objective of the stack's `slos:` (config/slo.h) one rule group with
//   - recording rules slo:sli_error:ratio_rate<W> for W in 5m 30m 1h 2h 6h 1d 3d (the share of
//     bad events over W), slo:objective:ratio, slo:error_budget:ratio, and over the SLO's window
//     slo:sli_error:ratio_rate_window (mean of the 5 m ratio), slo:uptime:percent and
//     slo:error_budget_remaining:ratio;
//   - the multi-window, multi-burn-rate alerts of Google's SRE workbook, all named
//     SLOErrorBudgetBurn: 14.4× the budget over 1 h and 5 m (page), 6× over 6 h and 30 m (page),
//     1× over 3 d and 6 h (ticket).
// Every generated series and alert carries slo="NAME" (and service="S" when set).
//
// Contract: the SLI queries are checked here: each generated expression must parse as PromQL
// and yield an instant vector; errors name the SLO and the query. The group is named
// "slo:NAME" and evaluated at `interval_ms`. Thread safety: stateless functions.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "alerting/rule_file.h"
#include "base/status.h"
#include "config/slo.h"

namespace steward::alerting {

// The short windows of the recording rules, in the order generated.
const std::vector<std::string>& SloRatioWindows();

// The burn-rate alert pairs: long and short window, burn factor, page or ticket.
struct BurnRateWindow {
  std::string long_window;
  std::string short_window;
  double factor = 0;
  bool page = false;
  int64_t for_ms = 0;
};
const std::vector<BurnRateWindow>& SloBurnRateWindows();

// The PromQL of the SLO's error ratio over `window` (a PromQL duration such as "5m").
StatusOr<std::string> SloErrorRatioExpr(const config::Slo& slo, const std::string& window);

// The rule group of one SLO.
StatusOr<RuleGroup> SloRuleGroup(const config::Slo& slo, int64_t interval_ms);

// The rule groups of all SLOs, as one in-memory rule file named "<slos>".
StatusOr<RuleFile> SloRuleFile(const std::vector<config::Slo>& slos, int64_t interval_ms);

}  // namespace steward::alerting
