// RunbookEngine: runs the stack's remediation runbooks (config/runbook.h) for the alerts they
// are bound to, behind guard rails, and reports every decision.
//
// Contract:
// - OnAlerts(alerts, now_ms): a firing alert (not ResolvedAt(now_ms)) matches a runbook when its
//   alertname is the runbook's `alert` and every matcher matches its labels (a missing label is
//   ""). The target service is the runbook's `service`, else the alert's `service` label. Guard
//   rails, per (runbook, service): at most max_runs_per_hour runs in the sliding hour before
//   now, none within `cooldown` after the last one, and one at a time (a queued or running run
//   makes later matches no-ops). A run that passes is counted at once and queued.
// - A resolved alert cancels its queued runs (with only_while_firing); the worker checks again
//   right before it acts that the alert still fires (its last known ends_at is 0 or in the
//   future), so an alert that resolved, or whose firing lapsed, between queueing and running is
//   recorded as "cancelled" and nothing runs.
// - dry_run: everything as above, but the action is described ("would restart api/0"), not done.
// - Every decision is reported through the recorder (outside the engine's lock, on the thread
//   that made it): results "success", "failed", "dry_run", "cancelled", "skipped_max_runs",
//   "skipped_cooldown", "skipped_no_service", "skipped_at_limit" (scale already at its bound).
//   A skip is reported once per alert and reason until that alert resolves, so a firing alert
//   re-sent every evaluation does not flood the incident timeline.
// - Output summaries are bounded (kMaxOutput bytes) and never carry a command's environment
//   values (only its argv is shown; values come from alert labels and are passed, not echoed).
// - The last kKeepRuns runs are kept for the API (RecentRuns). Counters of guard rails live in
//   memory: a daemon restart starts the hour afresh.
// - Metrics (registry optional): steward_runbook_runs_total{runbook,action,result}.
// Thread safety: every public method is thread-safe. Start() runs queued work on one worker
// thread; without Start(), tests drain the queue with RunQueued() on their own thread.
#pragma once

#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <thread>
#include <tuple>
#include <utility>
#include <vector>

#include "alerting/alert.h"
#include "base/clock.h"
#include "base/status.h"
#include "config/runbook.h"
#include "metrics/registry.h"
#include "tsdb/tsdb.h"

namespace steward::alerting {

struct CommandResult {
  bool ok = false;     // exited 0
  std::string detail;  // "exit status 0", "exit status 2: <first line>", "timeout after 60s"
};

// What runbooks may do to the stack. The daemon implements it over its runtime and applies;
// tests use a fake. Each call blocks until the action is done (or failed).
class RemediationActions {
 public:
  virtual ~RemediationActions() = default;
  // Restarts one replica slot, or (replica -1) every replica of the service one by one.
  virtual Status Restart(const std::string& service, int replica) = 0;
  // Applies the service's previous release; kFailedPrecondition when there is none.
  virtual Status Rollback(const std::string& service) = 0;
  virtual Status Scale(const std::string& service, int replicas) = 0;
  virtual StatusOr<CommandResult> RunCommand(const std::vector<std::string>& argv,
                                             const std::map<std::string, std::string>& env,
                                             const std::string& dir, Duration timeout) = 0;
  // The service's current replica count; kNotFound for an unknown service.
  virtual StatusOr<int> Replicas(const std::string& service) = 0;
};

// One decision of the engine about one runbook and one alert.
struct RunbookRun {
  int64_t id = 0;  // increasing within this process
  std::string runbook;
  std::string action;  // "restart", "rollback", "scale", "command"
  std::string service;
  uint64_t fingerprint = 0;                   // of the alert
  std::map<std::string, std::string> labels;  // the alert's
  std::string result;                         // see the contract
  std::string output;                         // what was done or why not; bounded
  bool dry_run = false;
  int64_t started_at_ms = 0;
  int64_t ended_at_ms = 0;
};

struct RunbookEngineOptions {
  Clock* clock = nullptr;                           // required
  RemediationActions* actions = nullptr;            // required
  std::function<void(const RunbookRun&)> recorder;  // optional
  metrics::Registry* metrics = nullptr;             // optional
};

class RunbookEngine {
 public:
  static constexpr size_t kKeepRuns = 200;
  static constexpr size_t kMaxOutput = 1024;

  explicit RunbookEngine(RunbookEngineOptions options);
  ~RunbookEngine();  // stops the worker; queued runs are dropped

  // Replaces the runbooks (an apply changed them); `dir` is where commands run. Guard-rail
  // history of runbooks that keep their name stays. Fails (keeping the old set) when a
  // matcher's regex does not compile.
  Status SetRunbooks(std::vector<config::Runbook> runbooks, std::string dir);
  std::vector<config::Runbook> Runbooks() const;

  void OnAlerts(const std::vector<Alert>& alerts, int64_t now_ms);

  void Start();
  void Stop();
  // Runs everything queued now on the calling thread; returns how many runs it took.
  size_t RunQueued();

  // Newest first; `runbook` filters when not empty.
  std::vector<RunbookRun> RecentRuns(size_t limit, const std::string& runbook = "") const;

 private:
  struct Compiled {
    config::Runbook spec;
    std::vector<tsdb::Matcher> matchers;
  };
  struct Job {
    Compiled rb;
    Alert alert;
    std::string service;
    int64_t counted_at_ms = 0;  // its entry in history_
  };
  struct Known {  // the last state seen of an alert
    bool firing = false;
    int64_t ends_at_ms = 0;
  };
  using Key = std::pair<std::string, std::string>;  // (runbook, service)

  static bool Matches(const Compiled& rb, const Alert& alert);
  // Decides for one firing alert; appends reports to `out`. Locked.
  void DecideLocked(const Compiled& rb, const Alert& alert, int64_t now_ms,
                    std::vector<RunbookRun>* out);
  void ResolveLocked(uint64_t fingerprint, std::vector<RunbookRun>* out);
  // Forgets a job that will not run: frees its key and takes back its count. Locked.
  void Uncount(const Job& job);
  bool StillFiringLocked(uint64_t fingerprint, int64_t now_ms) const;
  RunbookRun NewRun(const config::Runbook& rb, const Alert& alert, const std::string& service,
                    std::string result, std::string output, int64_t now_ms) const;
  bool SkipOnceLocked(const config::Runbook& rb, uint64_t fingerprint, const std::string& reason);
  // Runs (or describes, for a dry run) one job, outside the lock.
  RunbookRun Execute(const Job& job);
  void ExecuteAction(const Job& job, RunbookRun* run);
  void ExecuteScale(const Job& job, RunbookRun* run);
  void ExecuteCommand(const Job& job, RunbookRun* run);
  // Takes the next job that may run; reports cancelled ones into `out`. Locked.
  bool NextJobLocked(Job* job, std::vector<RunbookRun>* out);
  void Report(std::vector<RunbookRun> runs);
  void Loop();

  RunbookEngineOptions opt_;
  metrics::Family<metrics::Counter>* runs_total_ = nullptr;

  mutable std::mutex mu_;
  std::vector<Compiled> runbooks_;
  std::string dir_;
  std::map<uint64_t, Known> known_;
  std::map<Key, std::deque<int64_t>> history_;  // run times (ms) in the last hour
  std::set<Key> busy_;                          // queued or running
  std::set<std::tuple<std::string, uint64_t, std::string>> skipped_;  // reported once
  std::deque<Job> queue_;
  std::deque<RunbookRun> recent_;  // newest at the back
  int64_t next_id_ = 1;
  std::condition_variable cv_;
  bool stop_ = false;
  std::thread worker_;
};

}  // namespace steward::alerting
