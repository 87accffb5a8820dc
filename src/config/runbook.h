// The stack's `runbooks:` section: remediations bound to alerts. Each runbook names the alert it
// answers (alertname plus optional Alertmanager matchers on the alert's labels), one action —
// restart a replica, roll a service back to its previous release, scale it, or run a command —
// and the guard rails that keep an automated fix from making things worse (runs per hour per
// service, a cool-down, only while the alert still fires, dry run).
//
// Plain data filled by runbook_parser.cc (called from ParseStack after the services, so service
// names are checked); RunbookToJson/RunbookFromJson give the form kept in the stack JSON, so the
// daemon keeps runbooks across restarts. Durations in ms.
// Thread safety: immutable after parsing; the functions are stateless.
#pragma once

#include <chrono>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>
#include <vector>

#include "base/status.h"
#include "config/alerting.h"

namespace steward::config {

enum class RunbookAction { kRestart, kRollback, kScale, kCommand };

struct Runbook {
  std::string name;                    // [a-z0-9][a-z0-9-]*
  int line = 0;                        // of the runbook's key in the stack file; 0 from JSON
  std::string alert;                   // the alertname it answers
  std::vector<LabelMatcher> matchers;  // on the alert's labels; all must match
  RunbookAction action = RunbookAction::kRestart;
  std::string service;  // "": the alert's `service` label
  // restart: the replica slot; -1: the alert's `replica` label, else every replica one by one.
  int replica = -1;
  // scale: "+N"/"-N" change the current count (relative), "N" sets it; bounded to
  // [1, max_replicas].
  bool replicas_relative = true;
  int replicas = 1;
  int max_replicas = 10;
  std::vector<std::string> command;          // command: argv, run in the stack's directory
  std::chrono::milliseconds timeout{60000};  // command: killed (its process group) after this
  int max_runs_per_hour = 3;                 // per (runbook, service), sliding hour
  std::chrono::milliseconds cooldown{300000};
  bool only_while_firing = true;
  bool dry_run = false;
  std::string description;

  bool operator==(const Runbook&) const = default;
};

// "restart", "rollback", "scale", "command".
std::string_view RunbookActionName(RunbookAction action);
bool RunbookActionFromName(std::string_view name, RunbookAction* out);
// "+1", "-2" or "3": the scale target as written.
std::string ScaleText(const Runbook& runbook);

nlohmann::json RunbookToJson(const Runbook& runbook);
// Missing keys keep their defaults; a wrong type or an unknown action is kInvalidArgument.
StatusOr<Runbook> RunbookFromJson(const nlohmann::json& json);
// A JSON array of runbooks, both ways (the "runbooks" key of the stack JSON).
nlohmann::json RunbooksToJson(const std::vector<Runbook>& runbooks);
StatusOr<std::vector<Runbook>> RunbooksFromJson(const nlohmann::json& array);

}  // namespace steward::config
