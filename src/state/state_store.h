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
  std::string spec_json;   // canonical JSON of the applied config::Service (secrets masked)
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
