// BackupService: the daemon's side of the stack's backups. On every apply it takes the stack's
// `backup:` settings and each service's `backup:` (config/backup.h), keeps them in the state
// store (document "backups") so a restarted daemon goes on, and runs each job
// (backup::RunBackupJob, the same as `steward backup run --service`) on its cron schedule —
// plus Steward's own state as "steward-state" when backup.state is set. The repository is
// opened per run with the password or key file, so a changed secret needs no restart.
//
// Jobs run one at a time on the service's thread (a backup is disk- and CPU-bound; two at once
// would only slow both), in the order they became due; a manual run (RunNow, the API's POST
// /api/v1/backups/{service}/run) is queued the same way. Stop() waits for a running job.
//
// Metrics (labels {service}): steward_backup_last_success_timestamp_seconds,
// steward_backup_last_duration_seconds, steward_backup_last_size_bytes (bytes processed),
// steward_backup_last_added_bytes, steward_backup_failures_total and steward_backup_late (1
// when now − last success > max_age; max_age defaults to twice the schedule's period, at least
// 1 h; a job that never succeeded counts from when the daemon took it on). The last success
// is read from the repository's snapshots (service = name) when the jobs are loaded.
//
// Tests only: STEWARD_BACKUP_TICK_MS=N in the daemon's environment makes a cron minute last
// N ms (schedules run 60000/N times faster).
// Thread safety: every public method is thread-safe.
#pragma once

#include <condition_variable>
#include <cstdint>
#include <deque>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <thread>

#include <nlohmann/json.hpp>

#include "backup/job.h"
#include "base/status.h"
#include "config/stack.h"
#include "metrics/registry.h"
#include "pipeline/cron.h"
#include "state/state_store.h"

namespace steward::server {

// The job name of Steward's own state (backup.state: true).
inline constexpr char kStateBackupJob[] = "steward-state";

// The job of a service as the stack declares it: paths and hooks, hooks in the stack's
// directory, BACKUP_DIR under <state_dir>/backup, the stack's retention. The daemon and
// `steward backup run --service` build jobs here, so both back up the same thing.
backup::JobSpec ServiceJobSpec(const config::Stack& stack, const config::Service& service,
                               const std::string& state_dir);
// Steward's state directory without what is rebuilt or kept elsewhere (the TSDB's data,
// caches, git mirrors, backup scratch folders); the state database through SQLite's online
// backup. Lists the directory's entries now, so call it per run.
backup::JobSpec StateJobSpec(const std::string& state_dir, const config::BackupKeep& keep);

struct BackupServiceOptions {
  std::string state_dir;                 // absolute; scratch folders under <state>/backup
  state::StateStore* store = nullptr;    // the "backups" document
  metrics::Registry* metrics = nullptr;  // may be null
  double time_scale = 1;                 // cron minutes per real minute (tests: 60000/tick)
};

class BackupService {
 public:
  explicit BackupService(BackupServiceOptions options);
  ~BackupService();  // Stop()

  // Loads the jobs of the last apply from the store and starts the scheduling thread.
  void Start();
  void Stop();

  // Records the stack's backups (the document) and schedules them from now. A stack without
  // a backup repository clears every job.
  Status Apply(const config::Stack& stack);

  // Queues a run of `job` now: kNotFound for a job the stack does not declare; OK when it is
  // already queued or running (that run is the answer).
  Status RunNow(const std::string& job);

  // [{"service","schedule","next_run","running","queued","last_run":{"started","finished",
  //   "ok","error","snapshot","duration_seconds","warnings"}|null,"last_success":time|null,
  //   "late"}]
  nlohmann::json BackupsJson();

 private:
  struct Job {
    std::string name;
    backup::JobSpec spec;         // paths etc.; the state job's is rebuilt per run
    std::optional<pipeline::CronSchedule> cron;
    int64_t next_ms = 0;          // real unix ms
    int64_t max_age_ms = 0;
    int64_t since_ms = 0;         // when this daemon took the job on (for late without success)
    bool queued = false, running = false;
    // Last run.
    bool has_run = false, ok = false;
    int64_t started_ms = 0, finished_ms = 0;
    double duration_s = 0;
    std::string error, snapshot;
    std::vector<std::string> warnings;
    int64_t last_success_ms = 0;
  };
  struct Settings {
    std::string repository, password_file, key_file;
    config::BackupKeep keep;
  };

  Status Load(const config::Stack& stack);  // mu_ held
  void Loop();
  void RunOne(const std::string& name);
  void ReadLastSuccesses();
  int64_t NowMs() const;
  int64_t NextRun(const pipeline::CronSchedule& cron, int64_t after_ms) const;
  int64_t DefaultMaxAge(const pipeline::CronSchedule& cron, int64_t now_ms) const;
  void Publish(const Job& job, int64_t now_ms);  // mu_ held

  BackupServiceOptions opt_;
  std::mutex mu_;
  std::condition_variable cv_;
  Settings settings_;
  std::map<std::string, Job> jobs_;
  std::deque<std::string> queue_;
  bool need_last_success_ = false;
  bool stopping_ = false;
  std::thread loop_;

  metrics::Family<metrics::Gauge>* last_success_ = nullptr;
  metrics::Family<metrics::Gauge>* last_duration_ = nullptr;
  metrics::Family<metrics::Gauge>* last_size_ = nullptr;
  metrics::Family<metrics::Gauge>* last_added_ = nullptr;
  metrics::Family<metrics::Counter>* failures_ = nullptr;
  metrics::Family<metrics::Gauge>* late_ = nullptr;
};

}  // namespace steward::server
