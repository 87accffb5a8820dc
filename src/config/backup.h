// The stack's backups: the top-level `backup:` (where backups go, how long they are kept, when
// they run by default, whether Steward's own state is backed up) and each service's `backup:`
// (what to back up, hooks that make it consistent first, how a restore is verified in a drill).
//
//   backup:
//     repository: /var/backups/shop        # or local:/path; ${VAR}s allowed
//     password_file: ./secrets/backup.pw   # or key_file:; relative to the stack file
//     schedule: "0 3 * * *"                # default for services (cron, 5 fields or @daily…)
//     keep: {last: 7, daily: 14, weekly: 8, monthly: 12}
//     state: true                          # also back up Steward's state (.steward)
//   services:
//     db:
//       backup:
//         paths: [./data]                  # relative to the stack file
//         exclude: ["*.tmp", pg_wal/]
//         schedule: "*/30 * * * *"
//         before: pg_dump -h 127.0.0.1 -p 5433 -U app -f "$BACKUP_DIR/db.sql" app
//         after: echo done
//         sqlite: [./app.db]               # consistent copies via SQLite's online backup
//         max_age: 26h                     # steward_backup_late goes to 1 after this
//         verify: ./scripts/verify-restore.sh   # drills: runs with RESTORE_DIR set
//         drill_schedule: "0 5 * * 0"
//
// Hooks run with `sh -c` in the stack's directory with BACKUP_DIR (a scratch folder backed up
// with the paths, for dumps) and STEWARD_SERVICE set; a failing `before` fails the backup.
// Thread safety: plain data.
#pragma once

#include <string>
#include <vector>

#include "base/clock.h"
#include "config/source_location.h"

namespace steward::config {

struct BackupKeep {
  int last = 0, hourly = 0, daily = 0, weekly = 0, monthly = 0, yearly = 0;
  Duration within{0};
  bool Empty() const {
    return last == 0 && hourly == 0 && daily == 0 && weekly == 0 && monthly == 0 && yearly == 0 &&
           within.count() == 0;
  }
};

// Top-level `backup:`. repository empty = the stack declares no backups.
struct BackupSettings {
  std::string repository;
  std::string password_file;  // absolute after parsing
  std::string key_file;       // absolute after parsing
  std::string schedule = "0 3 * * *";
  SourceLocation schedule_location;
  BackupKeep keep;
  bool state = false;         // back up Steward's state directory as "steward-state"
  SourceLocation location;
};

// A service's `backup:`. enabled when the key is present.
struct ServiceBackup {
  bool enabled = false;
  std::vector<std::string> paths;    // absolute after parsing
  std::vector<std::string> exclude;  // globs as written
  std::string schedule;              // "" = the stack's backup.schedule
  SourceLocation schedule_location;
  std::string before, after;         // shell commands; "" = none
  std::vector<std::string> sqlite;   // absolute after parsing
  Duration max_age{0};               // 0 = twice the schedule's period, at least 1 h
  std::string verify;                // drill check; "" = the restore alone is the check
  std::string drill_schedule;        // "" = drills only by hand
  SourceLocation drill_schedule_location;
  SourceLocation location;
};

}  // namespace steward::config
