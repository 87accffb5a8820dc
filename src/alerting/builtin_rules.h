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
#include <vector>

#include "config/runbook.h"

namespace steward::alerting {

inline constexpr std::string_view kBuiltinRulesPath = "<builtin>";

const std::string& BuiltinRulesText();

// The default runbooks of the built-in alerts, named "default-<alert>": StewardReplicaDown and
// StewardHealthCheckFailing restart the replica, StewardCrashLooping rolls the service back to
// its previous release (failing clearly when there is none), each with the default guard rails
// (3 runs an hour per service, 5 m cool-down, only while the alert fires).
std::vector<config::Runbook> DefaultRunbooks();

// `declared` plus the default runbook of every built-in alert no declared runbook answers: a
// stack takes over an alert's remediation by declaring any runbook for it (dry_run: true to
// only watch).
std::vector<config::Runbook> WithDefaultRunbooks(std::vector<config::Runbook> declared);

}  // namespace steward::alerting
