// Backup jobs and restore drills: what `steward backup run --service S`, the daemon's schedule
// and `steward drill S` do, in one place, so the CLI and the daemon behave the same.
//
// A job: runs the `before` hook (sh -c, in `work_dir`, with BACKUP_DIR = a fresh scratch
// folder under `scratch_root` and STEWARD_SERVICE set; a non-zero exit fails the job before
// anything is stored), copies each SQLite file into BACKUP_DIR with SQLite's online backup API
// (a consistent copy while the service writes), backs up paths + BACKUP_DIR (when it holds
// anything) under a shared repository lock, saves a snapshot tagged "service=<name>" with
// service = name, runs `after` (its failure is a warning), and applies the retention policy
// to this service's snapshots (forget only; prune is separate). Hook output goes to `log`.
//
// A drill: restores the service's latest snapshot into a fresh scratch folder, runs `verify`
// (sh -c, RESTORE_DIR = the folder where the snapshot's paths were restored, SNAPSHOT_ID,
// STEWARD_SERVICE), measures RTO = restore + verify seconds and RPO = drill start − snapshot
// time, and removes the folder. A failing verify is a failed drill, not an error of the call.
// Thread safety: one job or drill per Repository at a time.
#pragma once

#include <atomic>
#include <functional>
#include <string>
#include <vector>

#include "backup/policy.h"
#include "backup/repository.h"
#include "backup/snapshot.h"
#include "base/status.h"

namespace steward::backup {

using LogFn = std::function<void(const std::string& line)>;

struct JobSpec {
  std::string name;                   // the service ("steward-state" for Steward's own state)
  std::vector<std::string> paths;     // absolute
  std::vector<std::string> excludes;
  std::string before, after;          // shell commands, "" = none
  std::vector<std::string> sqlite;    // absolute paths of SQLite databases
  std::string work_dir;               // hooks' working directory (the stack's directory)
  std::string scratch_root;           // where BACKUP_DIR folders are made (e.g. .steward/backup)
  KeepPolicy keep;                    // empty = keep everything
  std::string host;                   // "" = this machine's name
  int threads = 2;
};

struct JobResult {
  Id snapshot;
  Snapshot saved;
  int forgotten = 0;                  // snapshots removed by the policy
  std::vector<std::string> warnings;  // unreadable files, a failed `after`
};

StatusOr<JobResult> RunBackupJob(Repository* repo, const JobSpec& spec, const LogFn& log);

// The repository secret as the stack's backup: settings name it, read the way `steward backup`
// reads --password-file (the first line) and --key-file (the whole file). Errors name the file,
// never its content.
// Reads a secret from a file: its first line (a password file; a trailing \r dropped) or all of
// it (a key file). Errors name `what` ("--password-file", "backup.key_file") and the path,
// never the content; an empty secret is an error.
StatusOr<std::string> ReadSecretFile(const std::string& path, const std::string& what,
                                     bool first_line);
StatusOr<std::string> ReadRepositorySecret(const std::string& password_file,
                                           const std::string& key_file);
// OpenBackend(location) + Repository::Open with that secret: what the daemon and
// `steward backup run --service` do before RunBackupJob.
StatusOr<std::unique_ptr<Repository>> OpenJobRepository(const std::string& location,
                                                        const std::string& password_file,
                                                        const std::string& key_file);

struct DrillSpec {
  std::string name;          // the service
  std::string verify;        // "" = restore only
  std::string work_dir;      // verify's working directory
  std::string scratch_root;  // where the restore folder is made
  int threads = 2;
  // verify is killed (its process group: SIGTERM, then SIGKILL 5 s later) after this long; a
  // drill whose verify hangs fails with "verify timed out".
  int verify_timeout_seconds = 600;
  // When set and it becomes true (the daemon stopping), verify is killed like at the timeout
  // and the drill fails with "verify cancelled". Not owned.
  const std::atomic<bool>* cancel = nullptr;
};

struct DrillResult {
  std::string service;
  Id snapshot;
  int64_t snapshot_time_ns = 0;
  int64_t started_ns = 0;
  double restore_seconds = 0;
  double verify_seconds = 0;
  double rto_seconds = 0;    // restore + verify
  double rpo_seconds = 0;    // started − snapshot time
  uint64_t files = 0, bytes = 0;
  bool ok = false;
  std::string message;       // why it failed ("verify exited 1: …"), or "" when ok
};

// kNotFound when the service has no snapshot yet; other errors when the repository fails.
StatusOr<DrillResult> RunDrill(Repository* repo, const DrillSpec& spec, const LogFn& log);

}  // namespace steward::backup
