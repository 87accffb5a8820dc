// Daemon: `steward serve`. Wires the state store, the process driver, the runtime (supervisor),
// the apply executor, a reconcile loop and the HTTP API into one long-running process.
//
// One daemon per state directory: it holds an flock on <state>/daemon.lock for its life and
// publishes <state>/daemon.json (pid, listen address) so the CLI can find it. The API token
// lives in <state>/api.token (mode 0600, created on first start). Replicas are the daemon's
// children: they die with it (PR_SET_PDEATHSIG), and the next daemon restores them from the
// recorded specs, so a kill -9 of the daemon never leaves unmanaged processes for long.
//
// Reconcile: every `reconcile_interval` the daemon plans the recorded specs (or, with --watch,
// the stack file when it changed) against what runs and applies the difference — a replica
// that is missing is restored. Applies and reconciles take the state lock, so a CLI apply and
// the loop never act at once.
// Queries: at most query_max_concurrency evaluate at once (QueryGate); Shutdown() cancels them.
// Thread safety: Run() blocks in the calling thread; Shutdown() may be called from any thread.
#pragma once

#include <atomic>
#include <condition_variable>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include <nlohmann/json.hpp>

#include "alerting/alert.h"
#include "alerting/notification.h"
#include "apply/executor.h"
#include "config/stack.h"
#include "config/stack_parser.h"
#include "drivers/driver.h"
#include "metrics/registry.h"
#include "runtime/runtime.h"
#include "runtime/secret_env.h"
#include "server/query_gate.h"
#include "state/state_store.h"

namespace steward::report {
class DoraMetrics;
}  // namespace steward::report
namespace steward::alerting {
class IncidentManager;
class RunbookEngine;
}  // namespace steward::alerting

namespace steward::server {

class Monitoring;
class AlertingService;
class Notifier;
class DaemonRemediation;
class PipelineService;
class BackupService;
class DrillService;
class DeployController;

inline constexpr int kDefaultPort = 7420;

struct DaemonOptions {
  std::string state_dir;                // absolute
  std::string listen_host = "127.0.0.1";
  int listen_port = kDefaultPort;       // 0: any free port (written to daemon.json)
  std::string stack_path;               // for --watch and `up`; may be empty
  config::ParseOptions parse_options;
  bool watch = false;                   // re-plan and apply when the stack file changes
  bool stop_replicas_on_exit = true;    // a graceful exit stops every replica
  Duration reconcile_interval = Duration(2000);
  bool reconcile = true;                // false: no reconcile loop (one-shot local commands)
  // The first pass waits one interval: set when `steward apply` starts the daemon, so that the
  // apply it is about to send does (and reports) the restoring, not a silent reconcile.
  bool defer_first_reconcile = false;
  bool monitoring = true;               // scrape, probe and store metrics (<state>/tsdb)
  // `serve --data-dir`: serve the TSDB in this directory instead of <state>/tsdb, and only serve
  // it — nothing is scraped or probed (not even the daemon itself) and retention is off, so
  // imported history stays as it was loaded. A TSDB that cannot open fails Start().
  std::string data_dir;
  // PromQL limits (Prometheus' --query.max-samples and --query.timeout): a query's `timeout`
  // parameter can only shorten the timeout.
  int64_t query_max_samples = 50'000'000;
  Duration query_timeout = Duration(2 * 60 * 1000);
  // Prometheus' --query.max-concurrency: more queries wait (until their timeout) for a slot.
  // Smaller than Prometheus' 20: each running query may hold up to query_max_samples samples.
  int query_max_concurrency = 4;
  // Prometheus rule files evaluated besides the stack's rule_files (`serve --rule-file`), and
  // the interval of groups without their own (the stack's alerting.evaluation_interval wins).
  std::vector<std::string> rule_files;
  Duration evaluation_interval = Duration(30000);
  std::string self_dir;                 // where steward lives: added to replicas' command search
  int apply_parallelism = 4;
  // API hardening (docs/api.md, "Authentication"). With tls_cert and tls_key (both or
  // neither) the API speaks HTTPS only; daemon.json then says "https" and names tls_ca (what
  // clients verify the server with; default the certificate itself, i.e. pinned).
  std::string tls_cert;
  std::string tls_key;
  std::string tls_ca;
  // A listen host that is not loopback needs TLS or this: Start() refuses otherwise.
  bool insecure_listen = false;
  int64_t max_body_bytes = 8 << 20;     // larger request bodies get 413
  Duration read_timeout = Duration(30'000);   // per read of a request (headers, body)
  Duration write_timeout = Duration(30'000);  // per write of an answer (a stream keeps writing)
  std::vector<std::string> cors_origins;      // empty: no CORS headers, preflights get 403
  int auth_max_failures = 10;                 // failed authentications per address...
  Duration auth_failure_window = Duration(60'000);  // ...inside this window...
  Duration auth_block = Duration(60'000);           // ...refuse the address (429) this long
};

// Who asked for an apply, for the lock holder and the history.
struct Requester {
  int pid = 0;
  std::string user;
  std::string host;
  std::string command = "apply";
};

class Daemon {
 public:
  friend class DaemonRemediation;  // runbook actions apply through the private apply path
  friend class DeployController;   // deploys start replicas and record releases like applies
  explicit Daemon(DaemonOptions options);
  ~Daemon();

  // Opens state, takes the daemon lock, starts the runtime, the reconcile loop and the HTTP
  // server. Fails (without side effects on replicas) if another daemon holds the lock.
  Status Start();
  // Blocks until Shutdown() or SIGINT/SIGTERM (the caller installs the signal plumbing).
  void Wait();
  void Shutdown();
  int port() const { return bound_port_; }

  // Plans `desired` (null = destroy all) against what runs and applies it under the lock.
  StatusOr<apply::ApplyReport> Apply(const config::Stack* desired, const Requester& who,
                                     Duration lock_timeout, const apply::ProgressFn& progress);
  StatusOr<plan::Plan> Plan(const config::Stack* desired);
  // Stops every replica and forgets them (state keeps the services for the next `up`).
  Status StopAllReplicas();

  nlohmann::json StatusJson();
  state::StateStore* store() { return store_.get(); }
  metrics::Registry* metrics() { return &metrics_; }
  Monitoring* monitoring() { return monitoring_.get(); }
  // Incidents from alerts and people (made in Start, with the state store).
  alerting::IncidentManager* incidents() { return incidents_.get(); }
  // Null without monitoring (rules need the TSDB).
  AlertingService* alerting() { return alerting_.get(); }
  // The embedded Alertmanager; null without monitoring.
  Notifier* notifier() { return notifier_.get(); }
  // The stack's runbooks, run for the alerts ReceiveAlerts gets (made in Start).
  alerting::RunbookEngine* runbooks() { return runbooks_.get(); }
  // Pipelines of the applied stack: triggers, runs started by the API (made in Start).
  PipelineService* pipelines() { return pipelines_.get(); }
  // The stack's backup jobs on their schedules (made in Start).
  BackupService* backups() { return backups_.get(); }
  // The stack as last applied (services and the monitoring, alerting and SLO sections).
  StatusOr<config::Stack> RecordedStackForApi() { return RecordedStack(); }
  // Alerts from the rules and from POST /api/v2/alerts: to the notifier, incidents, runbooks.
  void ReceiveAlerts(std::vector<alerting::Alert> alerts);
  // Re-reads the rule files (the stack's and --rule-file) and the SLOs; on any error the rules
  // that run keep running and the error is returned.
  Status ReloadRules();
  QueryGate* query_gate() { return query_gate_.get(); }
  // Releases, deploys and the ingress (made in Start).
  DeployController* deploys() { return deploys_.get(); }
  // Why monitoring() is null: OK with --no-monitoring, else the error that stopped its start.
  const Status& monitoring_error() const { return monitoring_error_; }
  const std::string& token() const { return token_; }
  const DaemonOptions& options() const { return opt_; }

 private:
  StatusOr<std::unique_ptr<state::Lock>> LockForApply(const std::string& command,
                                                      Duration lock_timeout);
  StatusOr<apply::ApplyReport> Execute(const plan::Plan& p, const Requester& who,
                                       const apply::ProgressFn& progress);
  Status WaitForStartingReplicas(const apply::ProgressFn& progress);
  void ReconcileLoop();
  Status ReconcileOnce();
  StatusOr<config::Stack> RecordedStack();
  std::string Project() const;
  Status KillLeftovers();
  Status StartMonitoring();
  // Hands the recorded stack (services + the monitoring document) and the live replicas to
  // the scraper and prober.
  void UpdateMonitoring();
  Status StartAlerting();
  void StartPipelines();  // pipeline_api.cc
  void StartBackups();    // backup_api.cc
  void RecordNotified(const alerting::Notification& n);
  void UpdateDiskMetrics();
  // The DORA report as gauges (report/dora_metrics.h), recomputed from the store every 15 s.
  void UpdateDoraMetrics();
  Status PublishDiscovery();
  Status StartHttp();  // http_api.cc
  void StopHttp();
  void InstallRoutes();

  DaemonOptions opt_;
  metrics::Registry metrics_;
  std::unique_ptr<state::StateStore> store_;
  std::unique_ptr<alerting::IncidentManager> incidents_;  // uses store_ and metrics_
  std::unique_ptr<drivers::Driver> driver_;
  // ${secret:NAME} versions for plans, values for starts and masking (made in Start, with the
  // state store; before runtime_, which resolves through it).
  std::unique_ptr<runtime::StateDirSecrets> secrets_;
  std::unique_ptr<runtime::Runtime> runtime_;
  std::unique_ptr<Monitoring> monitoring_;
  std::unique_ptr<Notifier> notifier_;      // before alerting_: the evaluator sends to it
  std::unique_ptr<AlertingService> alerting_;
  std::unique_ptr<DaemonRemediation> remediation_;
  std::unique_ptr<alerting::RunbookEngine> runbooks_;  // acts through remediation_
  std::unique_ptr<PipelineService> pipelines_;
  std::unique_ptr<BackupService> backups_;
  std::unique_ptr<DrillService> drills_;  // restore drills on drill_schedule (drills.h)
  std::unique_ptr<QueryGate> query_gate_;
  std::unique_ptr<DeployController> deploys_;  // before the HTTP server; stopped before runtime_
  Status monitoring_error_;  // written before the HTTP server listens, then read-only
  std::string token_;
  std::string instance_;
  int daemon_lock_fd_ = -1;
  int bound_port_ = 0;
  mutable std::mutex project_mu_;  // project_ is written by applies, read by every thread
  std::string project_;
  std::mutex monitoring_update_mu_;  // one UpdateMonitoring at a time: reads and hands over
  std::string watched_mtime_;

  std::mutex apply_mu_;  // one apply at a time inside the daemon (the state lock covers others)
  std::mutex wait_mu_;
  std::condition_variable wait_cv_;
  std::atomic<bool> shutdown_{false};
  std::atomic<bool> reconciling_{false};  // set while a reconcile pass may hold the state lock
  std::thread reconcile_thread_;
  std::thread http_thread_;
  struct Http;
  std::unique_ptr<Http> http_;

  metrics::Family<metrics::Counter>* applies_ = nullptr;
  metrics::Family<metrics::Histogram>* apply_seconds_ = nullptr;
  metrics::Family<metrics::Histogram>* reconcile_seconds_ = nullptr;
  metrics::Family<metrics::Counter>* drift_repairs_ = nullptr;
  std::unique_ptr<report::DoraMetrics> dora_;
  MonoTime next_dora_{};  // reconcile thread only
  metrics::Family<metrics::Gauge>* fs_avail_ = nullptr;
  metrics::Family<metrics::Gauge>* fs_size_ = nullptr;
  metrics::Family<metrics::Counter>* http_requests_ = nullptr;
};

// History entries as the API and `steward history --json` show them, newest first.
nlohmann::json HistoryJson(const std::vector<state::HistoryEntry>& entries);

// The instance id that marks this state directory's replicas (see drivers/driver.h).
std::string InstanceId(const std::string& state_dir);
// Loads or creates <state_dir>/api.token (0600).
StatusOr<std::string> LoadOrCreateToken(const std::string& state_dir);

}  // namespace steward::server
