// Disaster recovery: how recoverable each service of the stack is, from what the backup
// repository holds (snapshots: how old is the newest, how many) and what restore drills
// recorded in the state store (did the last one restore and verify, how long did it take),
// as a report (`steward report dr`: text, Markdown, JSON) and as a runbook per service
// (`steward report dr --runbook`: Markdown that says what is backed up, where, how to restore
// it with the exact commands, how a restore is checked, and how the last drill went).
// docs/reports.md defines every field.
//
// Contract:
//  - A service is in the report when its `backup:` is declared in the stack, in stack order.
//  - RPO now = now − the newest snapshot of the service (service field or tag "service=<name>").
//  - Pass/fail: a service passes when it has a snapshot no older than its max age
//    (EffectiveMaxAge) and its last drill, if any, succeeded. A service never drilled passes
//    on freshness alone, with a note. Each failure reason is listed.
//  - The repository may be unreadable (no password, moved): the report still shows drills,
//    with snapshot fields unknown (null) and the error named; such services fail.
// Also the glue the CLI and the daemon share: opening the stack's repository, a drill's
// spec from the stack, and a drill result as a state record.
// Thread safety: plain functions over values; the store and repository are as safe as they are.
#pragma once

#include <cstdint>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "backup/job.h"
#include "backup/repository.h"
#include "backup/snapshot.h"
#include "base/clock.h"
#include "base/status.h"
#include "config/stack.h"
#include "state/state_store.h"

namespace steward::report {

// Opens the repository of the stack's `backup:` with the password from password_file (its
// first line) or key_file (its whole contents), else $STEWARD_PASSWORD_FILE or
// $STEWARD_PASSWORD. kFailedPrecondition when the stack declares no repository or no password
// source is given; errors name the file, never the secret.
StatusOr<std::unique_ptr<backup::Repository>> OpenStackRepository(
    const config::BackupSettings& settings);

// The drill of `service` as the stack declares it: verify in the stack's directory, the
// restore folder under <state_dir>/drill. kNotFound for an unknown service,
// kFailedPrecondition for one without `backup:`.
StatusOr<backup::DrillSpec> DrillSpecFor(const config::Stack& stack, const std::string& service,
                                         const std::string& state_dir);

// What RunDrill returned (or why it could not run: `error`) as the row the store keeps.
state::DrillRecord ToDrillRecord(const backup::DrillResult& result, const std::string& trigger);
state::DrillRecord FailedDrillRecord(const std::string& service, int64_t started_ms,
                                     const Status& error, const std::string& trigger);

// max_age as declared, else twice the period of the backup schedule (the service's, else the
// stack's), at least one hour; the period is measured between the schedule's next two runs
// after `now_ms`. An unparsable schedule counts as daily.
Duration EffectiveMaxAge(const config::ServiceBackup& backup,
                         const config::BackupSettings& settings, int64_t now_ms);

struct DrServiceRow {
  std::string service;
  // Snapshots (nullopt: the repository could not be read).
  std::optional<int64_t> snapshots;
  std::optional<std::string> last_snapshot;      // id
  std::optional<int64_t> last_snapshot_ms;       // when its backup started
  std::optional<int64_t> age_ms;                 // RPO now
  int64_t max_age_ms = 0;
  std::string schedule;                          // the effective backup schedule
  std::string drill_schedule;                    // "" = by hand only
  bool has_verify = false;
  std::optional<state::DrillRecord> last_drill;
  std::optional<state::DrillRecord> last_ok_drill;
  int64_t drills = 0;                            // recorded drills of the service
  bool pass = false;
  std::vector<std::string> problems;             // why it fails ("no snapshot", "last drill failed")
  std::vector<std::string> notes;                // e.g. "never drilled"
};

struct DrReport {
  int64_t now_ms = 0;
  std::string repository;
  std::string repository_error;  // why snapshots are unknown; "" when read
  std::vector<DrServiceRow> services;
  bool AllPass() const;
};

// `snapshots` nullopt when the repository could not be read (`repository_error` says why).
StatusOr<DrReport> ComputeDr(
    const config::Stack& stack,
    const std::optional<std::vector<std::pair<backup::Id, backup::Snapshot>>>& snapshots,
    const std::string& repository_error, state::StateStore* store, int64_t now_ms);

nlohmann::json ToJson(const DrReport& report);
std::string ToText(const DrReport& report);
std::string ToMarkdown(const DrReport& report);

// The DR runbook of one service (its row from the report gives the last snapshot and drill).
std::string Runbook(const config::Stack& stack, const config::Service& service,
                    const DrServiceRow& row, const DrReport& report);

}  // namespace steward::report
