// SqliteStateStore's pipeline, release and deploy tables (schema version 3;
// docs/formats/state.md). Every method is one statement or one transaction, so a kill -9
// between two calls leaves whole records.
#include <signal.h>
#include <unistd.h>

#include <cerrno>
#include <fstream>
#include <mutex>
#include <string>
#include <vector>

#include "state/sqlite_db.h"
#include "state/sqlite_state_store.h"

namespace steward::state {
namespace {

constexpr const char* kRunColumns =
    "id, pipeline, source, trigger_kind, trigger_detail, commit_sha, branch, commit_message, "
    "commit_time_ms, status, created_at_ms, started_at_ms, finished_at_ms, user, host, pid, "
    "rerun_of, error";

PipelineRunRecord ReadRun(const Statement& s) {
  PipelineRunRecord r;
  r.id = s.ColumnInt64(0);
  r.pipeline = s.ColumnText(1);
  r.source = s.ColumnText(2);
  r.trigger = s.ColumnText(3);
  r.trigger_detail = s.ColumnText(4);
  r.commit = s.ColumnText(5);
  r.branch = s.ColumnText(6);
  r.commit_message = s.ColumnText(7);
  r.commit_time_ms = s.ColumnInt64(8);
  r.status = s.ColumnText(9);
  r.created_at_ms = s.ColumnInt64(10);
  r.started_at_ms = s.ColumnInt64(11);
  r.finished_at_ms = s.ColumnInt64(12);
  r.user = s.ColumnText(13);
  r.host = s.ColumnText(14);
  r.pid = static_cast<int>(s.ColumnInt64(15));
  r.rerun_of = s.ColumnInt64(16);
  r.error = s.ColumnText(17);
  return r;
}

constexpr const char* kJobColumns =
    "run_id, job, position, status, attempts, exit_code, started_at_ms, finished_at_ms, "
    "outputs_json, cache_key, log_path, error";

PipelineJobRecord ReadJob(const Statement& s) {
  PipelineJobRecord j;
  j.run_id = s.ColumnInt64(0);
  j.job = s.ColumnText(1);
  j.position = static_cast<int>(s.ColumnInt64(2));
  j.status = s.ColumnText(3);
  j.attempts = static_cast<int>(s.ColumnInt64(4));
  j.exit_code = static_cast<int>(s.ColumnInt64(5));
  j.started_at_ms = s.ColumnInt64(6);
  j.finished_at_ms = s.ColumnInt64(7);
  j.outputs_json = s.ColumnText(8);
  j.cache_key = s.ColumnText(9);
  j.log_path = s.ColumnText(10);
  j.error = s.ColumnText(11);
  return j;
}

constexpr const char* kReleaseColumns =
    "service, version, label, spec_json, commit_sha, commit_time_ms, created_at_ms, status";

ReleaseRecord ReadRelease(const Statement& s) {
  ReleaseRecord r;
  r.service = s.ColumnText(0);
  r.version = s.ColumnInt64(1);
  r.label = s.ColumnText(2);
  r.spec_json = s.ColumnText(3);
  r.commit = s.ColumnText(4);
  r.commit_time_ms = s.ColumnInt64(5);
  r.created_at_ms = s.ColumnInt64(6);
  r.status = s.ColumnText(7);
  return r;
}

constexpr const char* kDeployColumns =
    "id, service, release, from_release, strategy, trigger_kind, run_id, commit_sha, "
    "commit_time_ms, status, started_at_ms, finished_at_ms, error, events_json";

DeployRecord ReadDeploy(const Statement& s) {
  DeployRecord d;
  d.id = s.ColumnInt64(0);
  d.service = s.ColumnText(1);
  d.release = s.ColumnInt64(2);
  d.from_release = s.ColumnInt64(3);
  d.strategy = s.ColumnText(4);
  d.trigger = s.ColumnText(5);
  d.run_id = s.ColumnInt64(6);
  d.commit = s.ColumnText(7);
  d.commit_time_ms = s.ColumnInt64(8);
  d.status = s.ColumnText(9);
  d.started_at_ms = s.ColumnInt64(10);
  d.finished_at_ms = s.ColumnInt64(11);
  d.error = s.ColumnText(12);
  d.events_json = s.ColumnText(13);
  return d;
}

const std::string& OrEmptyObject(const std::string& json) {
  static const std::string kEmpty = "{}";
  return json.empty() ? kEmpty : json;
}

const std::string& OrEmptyArray(const std::string& json) {
  static const std::string kEmpty = "[]";
  return json.empty() ? kEmpty : json;
}

// A pid that answers kill(pid, 0) is taken as alive, unless it is a zombie: a `steward run`
// killed while its parent is gone stays one where nothing reaps orphans (a container's PID 1),
// yet it runs nothing. A reused pid makes a dead run look alive until that process ends too;
// the next check then marks it.
bool PidAlive(int pid) {
  if (pid <= 0) return false;
  if (pid == getpid()) return true;
  if (kill(pid, 0) != 0 && errno != EPERM) return false;
  std::ifstream stat("/proc/" + std::to_string(pid) + "/stat");
  std::string line;
  std::getline(stat, line);
  size_t paren = line.rfind(')');  // the command may hold spaces and parentheses
  return paren == std::string::npos || paren + 2 >= line.size() || line[paren + 2] != 'Z';
}

// The upsert of one job record by run and job, only for an existing run (instead of relying
// on foreign keys); prepared once per batch.
StatusOr<Statement> PrepareJobUpsert(SqliteDb* db, std::string_view op) {
  return Statement::Prepare(db, op,
                            "INSERT INTO pipeline_jobs (run_id, job, position, status, "
                            "attempts, exit_code, started_at_ms, finished_at_ms, "
                            "outputs_json, cache_key, log_path, error) SELECT ?1, ?2, "
                            "?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12 WHERE EXISTS "
                            "(SELECT 1 FROM pipeline_runs WHERE id = ?1) "
                            "ON CONFLICT (run_id, job) DO UPDATE SET "
                            "position = excluded.position, status = excluded.status, "
                            "attempts = excluded.attempts, "
                            "exit_code = excluded.exit_code, "
                            "started_at_ms = excluded.started_at_ms, "
                            "finished_at_ms = excluded.finished_at_ms, "
                            "outputs_json = excluded.outputs_json, "
                            "cache_key = excluded.cache_key, "
                            "log_path = excluded.log_path, error = excluded.error");
}

// One job record, in the caller's transaction if any.
Status PutJob(SqliteDb* db, Statement& stmt, const PipelineJobRecord& j) {
  stmt.Reset();
  RETURN_IF_ERROR(stmt.BindAll(j.run_id, j.job, j.position, j.status, j.attempts, j.exit_code,
                               j.started_at_ms, j.finished_at_ms, OrEmptyObject(j.outputs_json),
                               j.cache_key, j.log_path, j.error));
  RETURN_IF_ERROR(stmt.Run());
  if (sqlite3_changes(db->handle()) == 0)
    return NotFound("record job '" + j.job + "' of pipeline run " + std::to_string(j.run_id) +
                    ": no such run");
  return Status::OK();
}

}  // namespace

StatusOr<int64_t> SqliteStateStore::CreatePipelineRun(const PipelineRunRecord& r) {
  std::lock_guard<std::mutex> l(mu_);
  const std::string op = "create run of pipeline '" + r.pipeline + "'";
  ASSIGN_OR_RETURN(Statement stmt,
                   Statement::Prepare(db_.get(), op,
                                      "INSERT INTO pipeline_runs (pipeline, source, trigger_kind, "
                                      "trigger_detail, commit_sha, branch, commit_message, "
                                      "commit_time_ms, status, created_at_ms, started_at_ms, "
                                      "finished_at_ms, user, host, pid, rerun_of, error) VALUES "
                                      "(?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, "
                                      "?14, ?15, ?16, ?17)"));
  RETURN_IF_ERROR(stmt.BindAll(r.pipeline, r.source, r.trigger, r.trigger_detail, r.commit,
                               r.branch, r.commit_message, r.commit_time_ms, r.status,
                               r.created_at_ms != 0 ? r.created_at_ms : NowMs(), r.started_at_ms,
                               r.finished_at_ms, r.user, r.host, r.pid, r.rerun_of, r.error));
  RETURN_IF_ERROR(stmt.Run());
  return static_cast<int64_t>(sqlite3_last_insert_rowid(db_->handle()));
}

Status SqliteStateStore::UpdatePipelineRun(const PipelineRunRecord& r) {
  std::lock_guard<std::mutex> l(mu_);
  const std::string op = "update pipeline run " + std::to_string(r.id);
  ASSIGN_OR_RETURN(Statement stmt,
                   Statement::Prepare(db_.get(), op,
                                      "UPDATE pipeline_runs SET pipeline = ?1, source = ?2, "
                                      "trigger_kind = ?3, trigger_detail = ?4, commit_sha = ?5, "
                                      "branch = ?6, commit_message = ?7, commit_time_ms = ?8, "
                                      "status = ?9, created_at_ms = ?10, started_at_ms = ?11, "
                                      "finished_at_ms = ?12, user = ?13, host = ?14, pid = ?15, "
                                      "rerun_of = ?16, error = ?17 WHERE id = ?18"));
  RETURN_IF_ERROR(stmt.BindAll(r.pipeline, r.source, r.trigger, r.trigger_detail, r.commit,
                               r.branch, r.commit_message, r.commit_time_ms, r.status,
                               r.created_at_ms, r.started_at_ms, r.finished_at_ms, r.user, r.host,
                               r.pid, r.rerun_of, r.error, r.id));
  RETURN_IF_ERROR(stmt.Run());
  if (sqlite3_changes(db_->handle()) == 0) return NotFound(op + ": no such run");
  return Status::OK();
}

StatusOr<PipelineRunRecord> SqliteStateStore::GetPipelineRun(int64_t id) {
  std::lock_guard<std::mutex> l(mu_);
  ASSIGN_OR_RETURN(Statement stmt,
                   Statement::Prepare(db_.get(), "read pipeline run " + std::to_string(id),
                                      std::string("SELECT ") + kRunColumns +
                                          " FROM pipeline_runs WHERE id = ?1"));
  RETURN_IF_ERROR(stmt.BindAll(id));
  ASSIGN_OR_RETURN(bool row, stmt.Step());
  if (!row) return NotFound("pipeline run " + std::to_string(id) + " does not exist");
  return ReadRun(stmt);
}

StatusOr<std::vector<PipelineRunRecord>> SqliteStateStore::ListPipelineRuns(
    const std::string& pipeline, int limit) {
  std::lock_guard<std::mutex> l(mu_);
  ASSIGN_OR_RETURN(Statement stmt,
                   Statement::Prepare(db_.get(), "list pipeline runs",
                                      std::string("SELECT ") + kRunColumns +
                                          " FROM pipeline_runs WHERE (?1 = '' OR pipeline = ?1) "
                                          "ORDER BY id DESC LIMIT ?2"));
  RETURN_IF_ERROR(stmt.BindAll(pipeline, static_cast<int64_t>(limit > 0 ? limit : -1)));
  return ReadRows<PipelineRunRecord>(stmt, ReadRun);
}

Status SqliteStateStore::PutPipelineJob(const PipelineJobRecord& j) {
  std::lock_guard<std::mutex> l(mu_);
  ASSIGN_OR_RETURN(Statement stmt,
                   PrepareJobUpsert(db_.get(), "record job '" + j.job + "' of pipeline run " +
                                                   std::to_string(j.run_id)));
  return PutJob(db_.get(), stmt, j);
}

Status SqliteStateStore::PutPipelineJobs(const std::vector<PipelineJobRecord>& jobs) {
  std::lock_guard<std::mutex> l(mu_);
  if (jobs.empty()) return Status::OK();
  const std::string op = "record " + std::to_string(jobs.size()) + " job(s) of pipeline run " +
                         std::to_string(jobs.front().run_id);
  ASSIGN_OR_RETURN(auto txn, Transaction::Begin(db_.get(), op));
  ASSIGN_OR_RETURN(Statement stmt, PrepareJobUpsert(db_.get(), op));
  for (const PipelineJobRecord& j : jobs) RETURN_IF_ERROR(PutJob(db_.get(), stmt, j));
  return txn->Commit();
}

StatusOr<std::vector<PipelineJobRecord>> SqliteStateStore::ListPipelineJobs(int64_t run_id) {
  std::lock_guard<std::mutex> l(mu_);
  ASSIGN_OR_RETURN(Statement stmt,
                   Statement::Prepare(db_.get(), "list jobs of run " + std::to_string(run_id),
                                      std::string("SELECT ") + kJobColumns +
                                          " FROM pipeline_jobs WHERE run_id = ?1 "
                                          "ORDER BY position, job"));
  RETURN_IF_ERROR(stmt.BindAll(run_id));
  return ReadRows<PipelineJobRecord>(stmt, ReadJob);
}

StatusOr<int> SqliteStateStore::MarkInterruptedPipelineRuns() {
  std::lock_guard<std::mutex> l(mu_);
  const std::string op = "mark interrupted pipeline runs";
  ASSIGN_OR_RETURN(auto txn, Transaction::Begin(db_.get(), op));
  ASSIGN_OR_RETURN(Statement select,
                   Statement::Prepare(db_.get(), op,
                                      "SELECT id, pid FROM pipeline_runs WHERE status = "
                                      "'running' AND host = ?1"));
  RETURN_IF_ERROR(select.BindAll(CurrentHost()));
  std::vector<std::pair<int64_t, int>> dead;
  while (true) {
    ASSIGN_OR_RETURN(bool row, select.Step());
    if (!row) break;
    const int pid = static_cast<int>(select.ColumnInt64(1));
    if (!PidAlive(pid)) dead.emplace_back(select.ColumnInt64(0), pid);
  }
  for (const auto& [id, pid] : dead) {
    ASSIGN_OR_RETURN(Statement run,
                     Statement::Prepare(db_.get(), op,
                                        "UPDATE pipeline_runs SET status = 'interrupted', "
                                        "error = ?1 WHERE id = ?2"));
    RETURN_IF_ERROR(run.BindAll("the steward process running it (pid " + std::to_string(pid) +
                                    ") ended before the run finished",
                                id));
    RETURN_IF_ERROR(run.Run());
    ASSIGN_OR_RETURN(Statement jobs,
                     Statement::Prepare(db_.get(), op,
                                        "UPDATE pipeline_jobs SET status = 'interrupted' WHERE "
                                        "run_id = ?1 AND status IN ('running', 'pending')"));
    RETURN_IF_ERROR(jobs.BindAll(id));
    RETURN_IF_ERROR(jobs.Run());
  }
  RETURN_IF_ERROR(txn->Commit());
  return static_cast<int>(dead.size());
}

StatusOr<int64_t> SqliteStateStore::CreateRelease(const ReleaseRecord& r) {
  std::lock_guard<std::mutex> l(mu_);
  const std::string op = "create release of service '" + r.service + "'";
  // One statement picks the next version and inserts it, so two writers cannot take the same.
  ASSIGN_OR_RETURN(auto txn, Transaction::Begin(db_.get(), op));
  ASSIGN_OR_RETURN(Statement stmt,
                   Statement::Prepare(db_.get(), op,
                                      "INSERT INTO releases (service, version, label, spec_json, "
                                      "commit_sha, commit_time_ms, created_at_ms, status) SELECT "
                                      "?1, COALESCE(MAX(version), 0) + 1, ?2, ?3, ?4, ?5, ?6, ?7 "
                                      "FROM releases WHERE service = ?1"));
  RETURN_IF_ERROR(stmt.BindAll(r.service, r.label, OrEmptyObject(r.spec_json), r.commit,
                               r.commit_time_ms, r.created_at_ms != 0 ? r.created_at_ms : NowMs(),
                               r.status));
  RETURN_IF_ERROR(stmt.Run());
  ASSIGN_OR_RETURN(Statement version,
                   Statement::Prepare(db_.get(), op,
                                      "SELECT MAX(version) FROM releases WHERE service = ?1"));
  RETURN_IF_ERROR(version.BindAll(r.service));
  ASSIGN_OR_RETURN(bool row, version.Step());
  if (!row) return Internal(op + ": the new release is not there");
  const int64_t v = version.ColumnInt64(0);
  RETURN_IF_ERROR(txn->Commit());
  return v;
}

Status SqliteStateStore::UpdateRelease(const ReleaseRecord& r) {
  std::lock_guard<std::mutex> l(mu_);
  const std::string op =
      "update release " + std::to_string(r.version) + " of service '" + r.service + "'";
  ASSIGN_OR_RETURN(Statement stmt,
                   Statement::Prepare(db_.get(), op,
                                      "UPDATE releases SET label = ?1, spec_json = ?2, "
                                      "commit_sha = ?3, commit_time_ms = ?4, created_at_ms = ?5, "
                                      "status = ?6 WHERE service = ?7 AND version = ?8"));
  RETURN_IF_ERROR(stmt.BindAll(r.label, OrEmptyObject(r.spec_json), r.commit, r.commit_time_ms,
                               r.created_at_ms, r.status, r.service, r.version));
  RETURN_IF_ERROR(stmt.Run());
  if (sqlite3_changes(db_->handle()) == 0) return NotFound(op + ": no such release");
  return Status::OK();
}

StatusOr<ReleaseRecord> SqliteStateStore::GetRelease(const std::string& service,
                                                     int64_t version) {
  std::lock_guard<std::mutex> l(mu_);
  const std::string what =
      "release " + std::to_string(version) + " of service '" + service + "'";
  ASSIGN_OR_RETURN(Statement stmt,
                   Statement::Prepare(db_.get(), "read " + what,
                                      std::string("SELECT ") + kReleaseColumns +
                                          " FROM releases WHERE service = ?1 AND version = ?2"));
  RETURN_IF_ERROR(stmt.BindAll(service, version));
  ASSIGN_OR_RETURN(bool row, stmt.Step());
  if (!row) return NotFound(what + " does not exist");
  return ReadRelease(stmt);
}

StatusOr<std::vector<ReleaseRecord>> SqliteStateStore::ListReleases(const std::string& service,
                                                                    int limit) {
  std::lock_guard<std::mutex> l(mu_);
  ASSIGN_OR_RETURN(Statement stmt,
                   Statement::Prepare(db_.get(), "list releases",
                                      std::string("SELECT ") + kReleaseColumns +
                                          " FROM releases WHERE (?1 = '' OR service = ?1) "
                                          "ORDER BY CASE WHEN ?1 = '' THEN created_at_ms ELSE version "
                                          "END DESC, version DESC LIMIT ?2"));
  RETURN_IF_ERROR(stmt.BindAll(service, static_cast<int64_t>(limit > 0 ? limit : -1)));
  return ReadRows<ReleaseRecord>(stmt, ReadRelease);
}

Status SqliteStateStore::PruneReleases(const std::string& service, int keep) {
  std::lock_guard<std::mutex> l(mu_);
  const std::string op = "prune releases of service '" + service + "'";
  ASSIGN_OR_RETURN(Statement stmt,
                   Statement::Prepare(db_.get(), op,
                                      "DELETE FROM releases WHERE service = ?1 AND status != "
                                      "'live' AND version NOT IN (SELECT version FROM releases "
                                      "WHERE service = ?1 ORDER BY version DESC LIMIT ?2)"));
  RETURN_IF_ERROR(stmt.BindAll(service, static_cast<int64_t>(keep > 0 ? keep : 0)));
  return stmt.Run();
}

StatusOr<int64_t> SqliteStateStore::CreateDeploy(const DeployRecord& d) {
  std::lock_guard<std::mutex> l(mu_);
  const std::string op = "create deploy of service '" + d.service + "'";
  ASSIGN_OR_RETURN(Statement stmt,
                   Statement::Prepare(db_.get(), op,
                                      "INSERT INTO deploys (service, release, from_release, "
                                      "strategy, trigger_kind, run_id, commit_sha, "
                                      "commit_time_ms, status, started_at_ms, finished_at_ms, "
                                      "error, events_json) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, "
                                      "?8, ?9, ?10, ?11, ?12, ?13)"));
  RETURN_IF_ERROR(stmt.BindAll(d.service, d.release, d.from_release, d.strategy, d.trigger,
                               d.run_id, d.commit, d.commit_time_ms, d.status,
                               d.started_at_ms != 0 ? d.started_at_ms : NowMs(), d.finished_at_ms,
                               d.error, OrEmptyArray(d.events_json)));
  RETURN_IF_ERROR(stmt.Run());
  return static_cast<int64_t>(sqlite3_last_insert_rowid(db_->handle()));
}

Status SqliteStateStore::UpdateDeploy(const DeployRecord& d) {
  std::lock_guard<std::mutex> l(mu_);
  const std::string op = "update deploy " + std::to_string(d.id);
  ASSIGN_OR_RETURN(Statement stmt,
                   Statement::Prepare(db_.get(), op,
                                      "UPDATE deploys SET service = ?1, release = ?2, "
                                      "from_release = ?3, strategy = ?4, trigger_kind = ?5, "
                                      "run_id = ?6, commit_sha = ?7, commit_time_ms = ?8, "
                                      "status = ?9, started_at_ms = ?10, finished_at_ms = ?11, "
                                      "error = ?12, events_json = ?13 WHERE id = ?14"));
  RETURN_IF_ERROR(stmt.BindAll(d.service, d.release, d.from_release, d.strategy, d.trigger,
                               d.run_id, d.commit, d.commit_time_ms, d.status, d.started_at_ms,
                               d.finished_at_ms, d.error, OrEmptyArray(d.events_json), d.id));
  RETURN_IF_ERROR(stmt.Run());
  if (sqlite3_changes(db_->handle()) == 0) return NotFound(op + ": no such deploy");
  return Status::OK();
}

StatusOr<std::vector<DeployRecord>> SqliteStateStore::ListDeploys(const std::string& service,
                                                                  int64_t since_ms, int limit) {
  std::lock_guard<std::mutex> l(mu_);
  ASSIGN_OR_RETURN(Statement stmt,
                   Statement::Prepare(db_.get(), "list deploys",
                                      std::string("SELECT ") + kDeployColumns +
                                          " FROM deploys WHERE (?1 = '' OR service = ?1) AND "
                                          "started_at_ms >= ?2 ORDER BY id DESC LIMIT ?3"));
  RETURN_IF_ERROR(
      stmt.BindAll(service, since_ms, static_cast<int64_t>(limit > 0 ? limit : -1)));
  return ReadRows<DeployRecord>(stmt, ReadDeploy);
}

}  // namespace steward::state
