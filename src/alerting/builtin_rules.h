// Steward's built-in alerts: what every stack gets without writing a rule — a replica down, a
// crash loop, a failing health check, a failing probe, a disk nearly full, a late backup. They
// read Steward's own metrics (the daemon scrapes itself as job "steward") and node_exporter's
// when one is scraped, and carry `severity` and, where it applies, `service` and `replica`
// labels, so incidents and runbooks can bind to them.
//
// Contract: BuiltinRulesText() is a Prometheus rule file (one group, "steward:builtin") that
// ParseRuleText accepts; kBuiltinRulesPath names it in errors and the rules API.
// Thread safety: stateless.
#pragma once

#include <string>
#include <string_view>

namespace steward::alerting {

inline constexpr std::string_view kBuiltinRulesPath = "<builtin>";

const std::string& BuiltinRulesText();

}  // namespace steward::alerting
