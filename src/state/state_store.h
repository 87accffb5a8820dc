// StateStore: what Steward has recorded about the world — the spec each service was last
// applied with, the replicas it started (pid, port, generation), the history of applies, and
// incidents with their timelines (alerting::IncidentManager decides what goes in them).
//
// The planner compares the stack (desired) with this (recorded) and with what the driver sees
// (observed). Implementations: SqliteStateStore (.steward/state.db, the default); PostgreSQL
// later, behind the same interface. Every write is its own transaction, so a kill -9 between
// two writes leaves a consistent store; the planner then converges from what is observed.
// Thread safety: implementations are safe to use from several threads of one process.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "base/clock.h"
#include "base/status.h"

namespace steward::state {

// A service as it was last applied.
struct ServiceRecord {
  std::string name;
  // Canonical JSON of the applied config::Service: ${secret:NAME} references, never values.
  std::string spec_json;
  std::string spec_hash;   // hex hash of the fields that force a replace
  int64_t generation = 0;  // bumped on every replace (rolling update)
  int64_t updated_at_ms = 0;
};

// One running (or starting) process of a service.
struct ReplicaRecord {
  std::string service;
  int slot = 0;  // 0..replicas-1
  int64_t generation = 0;
  int pid = 0;              // 0 until the process has been started
  int64_t start_ticks = 0;  // /proc/<pid>/stat starttime, to tell a reused pid apart
  int port = 0;
  int64_t started_at_ms = 0;
};

struct HistoryEntry {
  int64_t id = 0;
  int64_t started_at_ms = 0;
  int64_t finished_at_ms = 0;  // 0 while running (or if the apply was killed)
  std::string user;
  std::string host;
  std::string command;       // "apply", "destroy", "down", "serve --watch"
  std::string changes_json;  // the plan's summary: [{"action":"+","resource":"service.web",...}]
  std::string result;        // "running", "success", "failed", "interrupted"
  std::string error;
};

// An incident: alerts grouped under one key, and what people did about them.
struct IncidentRecord {
  int64_t id = 0;
  std::string title;
  std::string service;
  std::string severity;
  std::string status = "open";  // "open", "acknowledged" or "resolved"
  int64_t opened_at_ms = 0;
  int64_t acknowledged_at_ms = 0;  // the first acknowledgement; 0: never acknowledged
  int64_t resolved_at_ms = 0;      // 0 while not resolved
  std::string key;                 // the grouping key, e.g. "service=web,alertname=Down"
};

// One line of an incident's timeline.
struct IncidentEvent {
  int64_t id = 0;
  int64_t incident_id = 0;
  int64_t at_ms = 0;
  // "fired", "joined", "notified", "acknowledged", "remediation", "resolved", "note", "reopened"
  std::string kind;
  std::string actor;  // a user name, or "steward"
  std::string text;
  std::string data_json = "{}";  // kind-specific details (alert labels, remediation result, ...)
};

// Which incidents ListIncidents returns; empty fields match everything.
struct IncidentFilter {
  std::string status;  // one status, or "unresolved" for open and acknowledged
  std::string service;
  std::string key;
  int64_t opened_since_ms = 0;  // opened at or after
  int limit = 0;                // <= 0: all
};

// One run of a pipeline (pipeline/runner.h writes these; `steward runs` reads them).
struct PipelineRunRecord {
  int64_t id = 0;                // assigned by CreatePipelineRun; also the run's number
  std::string pipeline;
  std::string source;            // the pipeline file, or "workflow:<path>"
  std::string trigger = "manual";  // "manual", "push", "schedule", "webhook", "rerun", "api"
  std::string trigger_detail;    // e.g. the webhook's delivery id, the cron line
  std::string commit;            // full hex sha; empty when the source is not a git repository
  std::string branch;
  std::string commit_message;    // first line
  int64_t commit_time_ms = 0;    // committer time, for lead time
  std::string status = "running";  // "running", "success", "failure", "cancelled", "interrupted"
  int64_t created_at_ms = 0;
  int64_t started_at_ms = 0;
  int64_t finished_at_ms = 0;    // 0 while running
  std::string user;
  std::string host;
  int pid = 0;                   // of the process running it; a "running" run whose pid is gone
                                 // was killed (see MarkInterruptedPipelineRuns)
  int64_t rerun_of = 0;          // the run whose failed jobs this one re-ran; 0: none
  std::string error;
};

// One job instance of a run.
struct PipelineJobRecord {
  int64_t run_id = 0;
  std::string job;               // the instance key: "build", "test (linux, 3.11)"
  int position = 0;              // order in the run (topological)
  // "pending", "running", "success", "failure", "skipped", "cancelled", "cached" (restored from
  // the cache), "reused" (a rerun took the earlier run's success)
  std::string status = "pending";
  int attempts = 0;
  int exit_code = 0;
  int64_t started_at_ms = 0;
  int64_t finished_at_ms = 0;
  std::string outputs_json = "{}";
  std::string cache_key;
  std::string log_path;          // absolute
  std::string error;
};

// A versioned release of a service: the spec it runs with, kept to roll back to.
struct ReleaseRecord {
  std::string service;
  int64_t version = 0;           // 1, 2, 3... per service, assigned by CreateRelease
  std::string label;             // what the user called it (a commit, "v1.4.2")
  // Canonical JSON of the config::Service: ${secret:NAME} references, never values.
  std::string spec_json;
  std::string commit;
  int64_t commit_time_ms = 0;
  int64_t created_at_ms = 0;
  std::string status = "pending";  // "pending", "live", "superseded", "failed", "rolled-back"
};

// One attempt to put a release live.
struct DeployRecord {
  int64_t id = 0;
  std::string service;
  int64_t release = 0;           // the version being deployed
  int64_t from_release = 0;      // what was live before; 0: nothing
  std::string strategy;          // "rolling", "blue-green", "canary", "rollback"
  std::string trigger;           // "pipeline", "cli", "rollback", "runbook"
  int64_t run_id = 0;            // the pipeline run that asked for it; 0: none
  std::string commit;
  int64_t commit_time_ms = 0;
  // "running", "succeeded", "failed" (rolled back automatically), "rolled-back" (by a later
  // rollback), "frozen" (stopped where it was by --freeze), "interrupted"
  std::string status = "running";
  int64_t started_at_ms = 0;
  int64_t finished_at_ms = 0;
  std::string error;
  std::string events_json = "[]";  // [{"at_ms":..., "text":"canary 20%: error rate 0.00"}]
};

// One restore drill (backup/job.h RunDrill), from `steward drill` or the daemon's drill
// schedule (schema v4). Durations are milliseconds, like every time in the store.
struct DrillRecord {
  int64_t id = 0;                  // assigned by RecordDrill
  std::string service;
  std::string snapshot;            // the restored snapshot's id (64 hex); "" when none was found
  int64_t snapshot_time_ms = 0;    // when that snapshot's backup started
  int64_t started_at_ms = 0;
  int64_t finished_at_ms = 0;
  int64_t restore_ms = 0;
  int64_t verify_ms = 0;
  int64_t rto_ms = 0;              // restore + verify
  int64_t rpo_ms = 0;              // started − snapshot time: the data a disaster then would lose
  int64_t files = 0;
  int64_t bytes = 0;
  bool ok = false;
  std::string message;             // why it failed ("verify exited 1: …"); "" when ok
  std::string trigger = "manual";  // "manual" (steward drill) or "schedule" (the daemon)
  std::string host;
};

// One version of a secret (schema v5). The value is sealed by the secrets room before it gets
// here: the store never holds or logs a plaintext.
struct SecretRecord {
  std::string name;
  int64_t version = 0;             // 1, 2, …; chosen by the caller
  std::string sealed;              // base64 of nonce || ciphertext || tag
  std::string key_id;              // which master key sealed it (a fingerprint, not the key)
  std::string state = "current";   // "current", "previous" (until its roll completes), "retired"
  int64_t created_at_ms = 0;
  std::string created_by;          // user@host
};

// An API token besides <state>/api.token (schema v5): only its SHA-256 is kept.
struct ApiTokenRecord {
  std::string name;
  std::string scope;               // "read", "deploy" or "admin"
  std::string token_sha256;        // 64 hex
  int64_t created_at_ms = 0;
  int64_t last_used_ms = 0;
};

// One mutating API call (schema v5); the log is append-only.
struct AuditRecord {
  int64_t id = 0;                  // assigned by AppendAudit
  int64_t time_ms = 0;
  std::string actor;               // the token's name ("admin" for api.token, "-" without one)
  std::string scope;               // the token's scope; "-" when the call was refused before
  std::string remote;              // peer address
  std::string method;
  std::string path;                // without the query string
  int status = 0;                  // HTTP status answered
  std::string result;              // "ok", "denied", "error: …" (never a secret or a body)
  int64_t duration_ms = 0;
};

// Who holds the state lock; shown when another command cannot take it.
struct LockHolder {
  int pid = 0;
  std::string host;
  std::string command;
  int64_t since_ms = 0;
  std::string ToString() const;  // "pid 4242 on host build-1 (apply) since 2026-11-26T19:02:19Z"
};

// Held while alive; releasing is automatic on destruction and on process death.
class Lock {
 public:
  virtual ~Lock() = default;
};

class StateStore {
 public:
  virtual ~StateStore() = default;

  // Takes the exclusive state lock. Fails at once with kAborted naming the holder
  // when timeout is zero and another process holds it; otherwise waits up to timeout.
  virtual StatusOr<std::unique_ptr<Lock>> AcquireLock(const std::string& command,
                                                      Duration timeout) = 0;
  // The current holder, if any (for status output).
  virtual StatusOr<std::optional<LockHolder>> LockHolderInfo() = 0;

  virtual StatusOr<std::vector<ServiceRecord>> ListServices() = 0;
  virtual Status PutService(const ServiceRecord& record) = 0;
  virtual Status DeleteService(const std::string& name) = 0;  // and its replicas

  virtual StatusOr<std::vector<ReplicaRecord>> ListReplicas() = 0;
  // Upsert by (service, slot, generation).
  virtual Status PutReplica(const ReplicaRecord& record) = 0;
  virtual Status DeleteReplica(const std::string& service, int slot, int64_t generation) = 0;

  // Starts a history entry (result "running") and returns its id; FinishHistory completes it.
  virtual StatusOr<int64_t> BeginHistory(const HistoryEntry& entry) = 0;
  virtual Status FinishHistory(int64_t id, const std::string& result, const std::string& error,
                               const std::string& changes_json) = 0;
  // Newest first; limit <= 0 means all.
  virtual StatusOr<std::vector<HistoryEntry>> ListHistory(int limit) = 0;
  // Marks every entry still "running" as "interrupted". Call it right after AcquireLock: while
  // the caller holds the lock no other command can be running, so any "running" entry belongs
  // to a command that was killed or crashed.
  virtual Status MarkInterruptedHistory() = 0;

  // Small named documents (JSON text) the daemon keeps across restarts, e.g. "monitoring": the
  // scrape configs and monitors of the last applied stack. Keys starting with "schema" are
  // reserved. Get returns nullopt for a key never written.
  virtual StatusOr<std::optional<std::string>> GetDocument(const std::string& key) = 0;
  virtual Status PutDocument(const std::string& key, const std::string& value) = 0;

  // Incidents. Each call is one transaction: an incident and the events that explain its change
  // are written together or not at all. CreateIncident assigns the id (record.id is ignored)
  // and returns it; UpdateIncident rewrites every field of the incident with record.id (kNotFound
  // if there is none). Events get their incident_id from the incident. An unknown status or
  // event kind is kInvalidArgument.
  virtual StatusOr<int64_t> CreateIncident(const IncidentRecord& record,
                                           const std::vector<IncidentEvent>& events) = 0;
  virtual Status UpdateIncident(const IncidentRecord& record,
                                const std::vector<IncidentEvent>& events) = 0;
  virtual StatusOr<IncidentRecord> GetIncident(int64_t id) = 0;  // kNotFound if unknown
  // Newest (highest id) first.
  virtual StatusOr<std::vector<IncidentRecord>> ListIncidents(const IncidentFilter& filter) = 0;
  // Returns the event's id; kNotFound if the incident does not exist.
  virtual StatusOr<int64_t> AddIncidentEvent(const IncidentEvent& event) = 0;
  // Oldest first (by time, then id).
  virtual StatusOr<std::vector<IncidentEvent>> ListIncidentEvents(int64_t incident_id) = 0;

  // Pipeline runs (schema v3). CreatePipelineRun assigns the id; Update rewrites every field of
  // the run with record.id (kNotFound if none). Jobs upsert by (run_id, job).
  virtual StatusOr<int64_t> CreatePipelineRun(const PipelineRunRecord& record) = 0;
  virtual Status UpdatePipelineRun(const PipelineRunRecord& record) = 0;
  virtual StatusOr<PipelineRunRecord> GetPipelineRun(int64_t id) = 0;  // kNotFound if unknown
  // Newest first; empty pipeline: all; limit <= 0: all.
  virtual StatusOr<std::vector<PipelineRunRecord>> ListPipelineRuns(const std::string& pipeline,
                                                                   int limit) = 0;
  virtual Status PutPipelineJob(const PipelineJobRecord& record) = 0;
  // Several job records in one transaction, all or none (a runner of many short jobs writes
  // its records in batches: a transaction per record costs more than a no-op job).
  virtual Status PutPipelineJobs(const std::vector<PipelineJobRecord>& records) {
    for (const PipelineJobRecord& r : records) RETURN_IF_ERROR(PutPipelineJob(r));
    return Status::OK();
  }
  // In position order.
  virtual StatusOr<std::vector<PipelineJobRecord>> ListPipelineJobs(int64_t run_id) = 0;
  // Marks "running" runs of this host whose pid is no longer alive (and their running/pending
  // jobs) as "interrupted"; returns how many runs it marked.
  virtual StatusOr<int> MarkInterruptedPipelineRuns() = 0;

  // Releases and deploys (schema v3). CreateRelease assigns the next version of its service.
  virtual StatusOr<int64_t> CreateRelease(const ReleaseRecord& record) = 0;
  virtual Status UpdateRelease(const ReleaseRecord& record) = 0;  // by (service, version)
  virtual StatusOr<ReleaseRecord> GetRelease(const std::string& service, int64_t version) = 0;
  // Newest first; limit <= 0: all.
  virtual StatusOr<std::vector<ReleaseRecord>> ListReleases(const std::string& service,
                                                            int limit) = 0;
  // Deletes the release rows of a service beyond the newest `keep` that are not live.
  virtual Status PruneReleases(const std::string& service, int keep) = 0;
  virtual StatusOr<int64_t> CreateDeploy(const DeployRecord& record) = 0;
  virtual Status UpdateDeploy(const DeployRecord& record) = 0;
  // Newest first; empty service: all; since_ms: started at or after.
  virtual StatusOr<std::vector<DeployRecord>> ListDeploys(const std::string& service,
                                                          int64_t since_ms, int limit) = 0;

  // Restore drills (schema v4). RecordDrill assigns the id and returns it.
  virtual StatusOr<int64_t> RecordDrill(const DrillRecord& record) = 0;
  // Newest (highest id) first; empty service: all; limit <= 0: all.
  virtual StatusOr<std::vector<DrillRecord>> ListDrills(const std::string& service,
                                                        int limit) = 0;

  // Secrets (schema v5). PutSecrets upserts by (name, version), all rows in one transaction
  // (a rotation writes the new current and demotes the old one together). ListSecrets: every
  // version of `name` (empty: of all secrets), by name, newest version first. DeleteSecret
  // removes every version (kNotFound if there is none); DeleteSecretVersion one.
  virtual Status PutSecrets(const std::vector<SecretRecord>& records) = 0;
  virtual StatusOr<std::vector<SecretRecord>> ListSecrets(const std::string& name) = 0;
  virtual Status DeleteSecret(const std::string& name) = 0;
  virtual Status DeleteSecretVersion(const std::string& name, int64_t version) = 0;

  // API tokens (schema v5). Put upserts by name; FindApiToken looks up by the SHA-256 (nullopt
  // when none); TouchApiToken sets last_used_ms.
  virtual Status PutApiToken(const ApiTokenRecord& record) = 0;
  virtual StatusOr<std::vector<ApiTokenRecord>> ListApiTokens() = 0;
  virtual StatusOr<std::optional<ApiTokenRecord>> FindApiToken(const std::string& sha256) = 0;
  virtual Status DeleteApiToken(const std::string& name) = 0;  // kNotFound if unknown
  virtual Status TouchApiToken(const std::string& name, int64_t when_ms) = 0;

  // The audit log (schema v5). AppendAudit assigns the id (time_ms 0: now). ListAudit: newest
  // first, entries at or after since_ms; limit <= 0: all.
  virtual StatusOr<int64_t> AppendAudit(const AuditRecord& record) = 0;
  virtual StatusOr<std::vector<AuditRecord>> ListAudit(int64_t since_ms, int limit) = 0;

  virtual int SchemaVersion() const = 0;
};

// The effective user's name (the uid as text if it has no passwd entry) and this machine's
// host name, for HistoryEntry.user/host and the lock holder.
std::string CurrentUser();
std::string CurrentHost();

// The values IncidentRecord::status and IncidentEvent::kind may take.
bool IsIncidentStatus(const std::string& status);
bool IsIncidentEventKind(const std::string& kind);

// Opens (creating if needed) <dir>/state.db with WAL and runs pending migrations; the lock is
// an flock on <dir>/state.lock, so a killed holder releases it. A database written by a newer
// Steward (schema version above what this binary knows) is refused with a clear error.
StatusOr<std::unique_ptr<StateStore>> OpenSqliteStateStore(const std::string& dir, Clock* clock);

}  // namespace steward::state
