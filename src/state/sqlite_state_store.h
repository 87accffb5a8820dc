// SqliteStateStore: the default StateStore, a SQLite database at <dir>/state.db in WAL mode
// with the lock at <dir>/state.lock (file format and crash-safety argument: docs/formats/state.md).
//
// WAL plus a 5 s busy timeout lets the daemon and a CLI command share the file: readers never
// block the writer, and writers queue instead of failing. Writes are single transactions.
// Commits run with synchronous=NORMAL, which survives kill -9 of any process; history writes
// run with synchronous=FULL, which fsyncs the WAL and so also makes every earlier commit durable
// against power loss at the points a user sees ("apply started", "apply finished").
// Thread safety: one connection per store, every call serialised by a mutex. AcquireLock does
// not take that mutex, so a thread waiting for the state lock does not block readers.
#pragma once

#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "base/clock.h"
#include "base/status.h"
#include "state/state_store.h"

namespace steward::state {

class SqliteDb;
struct Migration;

class SqliteStateStore : public StateStore {
 public:
  // Creates `dir` (mode 0700) if missing and opens it, applying `migrations` (the real list is
  // StateMigrations(); tests pass others). `clock` must outlive the store.
  static StatusOr<std::unique_ptr<SqliteStateStore>> Open(const std::string& dir, Clock* clock,
                                                          const std::vector<Migration>& migrations);
  ~SqliteStateStore() override;

  StatusOr<std::unique_ptr<Lock>> AcquireLock(const std::string& command,
                                              Duration timeout) override;
  StatusOr<std::optional<LockHolder>> LockHolderInfo() override;

  StatusOr<std::vector<ServiceRecord>> ListServices() override;
  // updated_at_ms 0 is replaced by the clock's wall time.
  Status PutService(const ServiceRecord& record) override;
  Status DeleteService(const std::string& name) override;

  StatusOr<std::vector<ReplicaRecord>> ListReplicas() override;
  Status PutReplica(const ReplicaRecord& record) override;
  Status DeleteReplica(const std::string& service, int slot, int64_t generation) override;

  // started_at_ms 0 is replaced by the clock's wall time; result is always "running".
  StatusOr<int64_t> BeginHistory(const HistoryEntry& entry) override;
  // Sets finished_at_ms from the clock; an empty changes_json keeps BeginHistory's. An unknown
  // id is kNotFound.
  Status FinishHistory(int64_t id, const std::string& result, const std::string& error,
                       const std::string& changes_json) override;
  StatusOr<std::vector<HistoryEntry>> ListHistory(int limit) override;
  Status MarkInterruptedHistory() override;

  StatusOr<std::optional<std::string>> GetDocument(const std::string& key) override;
  Status PutDocument(const std::string& key, const std::string& value) override;
  // Times of 0 (opened_at_ms, event at_ms) are replaced by the clock's wall time.
  StatusOr<int64_t> CreateIncident(const IncidentRecord& record,
                                   const std::vector<IncidentEvent>& events) override;
  Status UpdateIncident(const IncidentRecord& record,
                        const std::vector<IncidentEvent>& events) override;
  StatusOr<IncidentRecord> GetIncident(int64_t id) override;
  StatusOr<std::vector<IncidentRecord>> ListIncidents(const IncidentFilter& filter) override;
  StatusOr<int64_t> AddIncidentEvent(const IncidentEvent& event) override;
  StatusOr<std::vector<IncidentEvent>> ListIncidentEvents(int64_t incident_id) override;

  // Pipeline runs, releases and deploys (sqlite_pipeline.cc). Creation times of 0
  // (created_at_ms, a deploy's started_at_ms) are replaced by the clock's wall time.
  StatusOr<int64_t> CreatePipelineRun(const PipelineRunRecord& record) override;
  Status UpdatePipelineRun(const PipelineRunRecord& record) override;
  StatusOr<PipelineRunRecord> GetPipelineRun(int64_t id) override;
  StatusOr<std::vector<PipelineRunRecord>> ListPipelineRuns(const std::string& pipeline,
                                                           int limit) override;
  Status PutPipelineJob(const PipelineJobRecord& record) override;  // kNotFound without its run
  Status PutPipelineJobs(const std::vector<PipelineJobRecord>& records) override;
  StatusOr<std::vector<PipelineJobRecord>> ListPipelineJobs(int64_t run_id) override;
  StatusOr<int> MarkInterruptedPipelineRuns() override;
  StatusOr<int64_t> CreateRelease(const ReleaseRecord& record) override;
  Status UpdateRelease(const ReleaseRecord& record) override;
  StatusOr<ReleaseRecord> GetRelease(const std::string& service, int64_t version) override;
  StatusOr<std::vector<ReleaseRecord>> ListReleases(const std::string& service,
                                                    int limit) override;
  Status PruneReleases(const std::string& service, int keep) override;
  StatusOr<int64_t> CreateDeploy(const DeployRecord& record) override;
  Status UpdateDeploy(const DeployRecord& record) override;
  StatusOr<std::vector<DeployRecord>> ListDeploys(const std::string& service, int64_t since_ms,
                                                  int limit) override;

  // Restore drills (sqlite_drills.cc). started_at_ms 0 is replaced by the clock's wall time.
  StatusOr<int64_t> RecordDrill(const DrillRecord& record) override;
  StatusOr<std::vector<DrillRecord>> ListDrills(const std::string& service, int limit) override;

  Status PutSecrets(const std::vector<SecretRecord>& records) override;
  StatusOr<std::vector<SecretRecord>> ListSecrets(const std::string& name) override;
  Status DeleteSecret(const std::string& name) override;
  Status DeleteSecretVersion(const std::string& name, int64_t version) override;
  Status PutApiToken(const ApiTokenRecord& record) override;
  StatusOr<std::vector<ApiTokenRecord>> ListApiTokens() override;
  StatusOr<std::optional<ApiTokenRecord>> FindApiToken(const std::string& sha256) override;
  Status DeleteApiToken(const std::string& name) override;
  Status TouchApiToken(const std::string& name, int64_t when_ms) override;
  StatusOr<int64_t> AppendAudit(const AuditRecord& record) override;
  StatusOr<std::vector<AuditRecord>> ListAudit(int64_t since_ms, int limit) override;

  int SchemaVersion() const override { return schema_version_; }

  const std::string& dir() const { return dir_; }

 private:
  SqliteStateStore(std::string dir, Clock* clock, std::unique_ptr<SqliteDb> db, int version);
  // Runs `write` with synchronous=FULL so its commit (and every earlier one) reaches the disk.
  template <typename F>
  auto Durably(F write) -> decltype(write());
  int64_t NowMs() const;
  // sqlite_incidents.cc; called with mu_ held.
  StatusOr<int64_t> InsertIncidentEvent(int64_t incident_id, const IncidentEvent& event);

  const std::string dir_;
  Clock* const clock_;
  std::mutex mu_;
  std::unique_ptr<SqliteDb> db_;  // guarded by mu_
  const int schema_version_;
};

}  // namespace steward::state
