#include "state/sqlite_state_store.h"

#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <utility>

#include "state/lock_file.h"
#include "state/schema.h"
#include "state/sqlite_db.h"

namespace steward::state {
namespace {

constexpr int kBusyTimeoutMs = 5000;

// mkdir -p with mode 0700 for every directory it creates; existing ones keep their mode.
Status EnsureDir(const std::string& dir) {
  if (dir.empty()) return InvalidArgument("the state directory path is empty");
  for (size_t pos = 1; pos <= dir.size(); ++pos) {
    if (pos != dir.size() && dir[pos] != '/') continue;
    std::string prefix = dir.substr(0, pos);
    if (mkdir(prefix.c_str(), 0700) == 0) continue;
    if (errno != EEXIST) return ErrnoError("create state directory " + prefix, errno);
    struct stat st {};
    if (stat(prefix.c_str(), &st) != 0) return ErrnoError("stat " + prefix, errno);
    if (!S_ISDIR(st.st_mode)) {
      return FailedPrecondition("state directory " + prefix + " exists but is not a directory");
    }
  }
  return Status::OK();
}

Status Configure(SqliteDb* db) {
  if (int rc = sqlite3_busy_timeout(db->handle(), kBusyTimeoutMs); rc != SQLITE_OK) {
    return db->Error("set busy timeout", rc);
  }
  // journal_mode answers with the mode in force; a file system without shared memory support
  // would silently keep "delete", which would make the daemon and the CLI block each other.
  ASSIGN_OR_RETURN(Statement wal, Statement::Prepare(db, "enable WAL", "PRAGMA journal_mode=WAL"));
  ASSIGN_OR_RETURN(bool row, wal.Step());
  if (!row || wal.ColumnText(0) != "wal") {
    return IOError(db->path() + ": enable WAL: the database stayed in journal mode '" +
                   (row ? wal.ColumnText(0) : std::string("?")) + "'");
  }
  return db->Exec("set synchronous", "PRAGMA synchronous=NORMAL");
}

ServiceRecord ReadService(const Statement& s) {
  return ServiceRecord{s.ColumnText(0), s.ColumnText(1), s.ColumnText(2), s.ColumnInt64(3),
                       s.ColumnInt64(4)};
}

ReplicaRecord ReadReplica(const Statement& s) {
  ReplicaRecord r;
  r.service = s.ColumnText(0);
  r.slot = static_cast<int>(s.ColumnInt64(1));
  r.generation = s.ColumnInt64(2);
  r.pid = static_cast<int>(s.ColumnInt64(3));
  r.start_ticks = s.ColumnInt64(4);
  r.port = static_cast<int>(s.ColumnInt64(5));
  r.started_at_ms = s.ColumnInt64(6);
  return r;
}

HistoryEntry ReadHistory(const Statement& s) {
  HistoryEntry h;
  h.id = s.ColumnInt64(0);
  h.started_at_ms = s.ColumnInt64(1);
  h.finished_at_ms = s.ColumnInt64(2);
  h.user = s.ColumnText(3);
  h.host = s.ColumnText(4);
  h.command = s.ColumnText(5);
  h.changes_json = s.ColumnText(6);
  h.result = s.ColumnText(7);
  h.error = s.ColumnText(8);
  return h;
}


}  // namespace

StatusOr<std::unique_ptr<SqliteStateStore>> SqliteStateStore::Open(
    const std::string& dir, Clock* clock, const std::vector<Migration>& migrations) {
  RETURN_IF_ERROR(EnsureDir(dir));
  ASSIGN_OR_RETURN(auto db, SqliteDb::Open(dir + "/state.db"));
  RETURN_IF_ERROR(Configure(db.get()));
  ASSIGN_OR_RETURN(int version, Migrate(db.get(), migrations));
  return std::unique_ptr<SqliteStateStore>(
      new SqliteStateStore(dir, clock, std::move(db), version));
}

SqliteStateStore::SqliteStateStore(std::string dir, Clock* clock, std::unique_ptr<SqliteDb> db,
                                   int version)
    : dir_(std::move(dir)), clock_(clock), db_(std::move(db)), schema_version_(version) {}

SqliteStateStore::~SqliteStateStore() = default;

int64_t SqliteStateStore::NowMs() const { return ToUnixMillis(clock_->WallNow()); }

template <typename F>
auto SqliteStateStore::Durably(F write) -> decltype(write()) {
  RETURN_IF_ERROR(db_->Exec("set synchronous", "PRAGMA synchronous=FULL"));
  auto result = write();
  Status restore = db_->Exec("set synchronous", "PRAGMA synchronous=NORMAL");
  if (!result.ok()) return result;
  if (!restore.ok()) return restore;
  return result;
}

StatusOr<std::unique_ptr<Lock>> SqliteStateStore::AcquireLock(const std::string& command,
                                                              Duration timeout) {
  LockHolder me{static_cast<int>(getpid()), CurrentHost(), command, NowMs()};
  return AcquireFileLock(dir_ + "/state.lock", me, timeout, clock_);
}

StatusOr<std::optional<LockHolder>> SqliteStateStore::LockHolderInfo() {
  return ReadFileLockHolder(dir_ + "/state.lock");
}

// Documents live in the meta table under "doc:<key>", apart from schema_version.
StatusOr<std::optional<std::string>> SqliteStateStore::GetDocument(const std::string& key) {
  std::lock_guard<std::mutex> l(mu_);
  std::string op = "read document " + key;
  ASSIGN_OR_RETURN(Statement stmt, Statement::Prepare(db_.get(), op,
                                                      "SELECT value FROM meta WHERE key = ?1"));
  RETURN_IF_ERROR(stmt.BindAll("doc:" + key));
  ASSIGN_OR_RETURN(bool row, stmt.Step());
  if (!row) return std::optional<std::string>();
  return std::optional<std::string>(stmt.ColumnText(0));
}

Status SqliteStateStore::PutDocument(const std::string& key, const std::string& value) {
  if (key.empty() || key.rfind("schema", 0) == 0)
    return InvalidArgument("document key \"" + key + "\" is reserved");
  std::lock_guard<std::mutex> l(mu_);
  std::string op = "write document " + key;
  ASSIGN_OR_RETURN(Statement stmt,
                   Statement::Prepare(db_.get(), op,
                                      "INSERT INTO meta (key, value) VALUES (?1, ?2) "
                                      "ON CONFLICT (key) DO UPDATE SET value = excluded.value"));
  RETURN_IF_ERROR(stmt.BindAll("doc:" + key, value));
  return stmt.Run();
}

StatusOr<std::vector<ServiceRecord>> SqliteStateStore::ListServices() {
  std::lock_guard<std::mutex> l(mu_);
  ASSIGN_OR_RETURN(Statement stmt, Statement::Prepare(db_.get(), "list services",
                                                      "SELECT name, spec_json, spec_hash, "
                                                      "generation, updated_at_ms FROM services "
                                                      "ORDER BY name"));
  return ReadRows<ServiceRecord>(stmt, ReadService);
}

Status SqliteStateStore::PutService(const ServiceRecord& r) {
  std::lock_guard<std::mutex> l(mu_);
  std::string op = "put service " + r.name;
  ASSIGN_OR_RETURN(Statement stmt,
                   Statement::Prepare(db_.get(), op,
                                      "INSERT INTO services (name, spec_json, spec_hash, "
                                      "generation, updated_at_ms) VALUES (?1, ?2, ?3, ?4, ?5) "
                                      "ON CONFLICT (name) DO UPDATE SET "
                                      "spec_json = excluded.spec_json, "
                                      "spec_hash = excluded.spec_hash, "
                                      "generation = excluded.generation, "
                                      "updated_at_ms = excluded.updated_at_ms"));
  RETURN_IF_ERROR(stmt.BindAll(r.name, r.spec_json, r.spec_hash, r.generation,
                               r.updated_at_ms != 0 ? r.updated_at_ms : NowMs()));
  return stmt.Run();
}

Status SqliteStateStore::DeleteService(const std::string& name) {
  std::lock_guard<std::mutex> l(mu_);
  std::string op = "delete service " + name;
  ASSIGN_OR_RETURN(auto txn, Transaction::Begin(db_.get(), op));
  for (const char* sql :
       {"DELETE FROM replicas WHERE service = ?1", "DELETE FROM services WHERE name = ?1"}) {
    ASSIGN_OR_RETURN(Statement stmt, Statement::Prepare(db_.get(), op, sql));
    RETURN_IF_ERROR(stmt.BindAll(name));
    RETURN_IF_ERROR(stmt.Run());
  }
  return txn->Commit();
}

StatusOr<std::vector<ReplicaRecord>> SqliteStateStore::ListReplicas() {
  std::lock_guard<std::mutex> l(mu_);
  ASSIGN_OR_RETURN(Statement stmt,
                   Statement::Prepare(db_.get(), "list replicas",
                                      "SELECT service, slot, generation, pid, start_ticks, port, "
                                      "started_at_ms FROM replicas "
                                      "ORDER BY service, slot, generation"));
  return ReadRows<ReplicaRecord>(stmt, ReadReplica);
}

Status SqliteStateStore::PutReplica(const ReplicaRecord& r) {
  std::lock_guard<std::mutex> l(mu_);
  std::string op = "put replica " + r.service + "/" + std::to_string(r.slot);
  ASSIGN_OR_RETURN(Statement stmt,
                   Statement::Prepare(db_.get(), op,
                                      "INSERT INTO replicas (service, slot, generation, pid, "
                                      "start_ticks, port, started_at_ms) "
                                      "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7) "
                                      "ON CONFLICT (service, slot, generation) DO UPDATE SET "
                                      "pid = excluded.pid, start_ticks = excluded.start_ticks, "
                                      "port = excluded.port, "
                                      "started_at_ms = excluded.started_at_ms"));
  RETURN_IF_ERROR(
      stmt.BindAll(r.service, r.slot, r.generation, r.pid, r.start_ticks, r.port, r.started_at_ms));
  return stmt.Run();
}

Status SqliteStateStore::DeleteReplica(const std::string& service, int slot, int64_t generation) {
  std::lock_guard<std::mutex> l(mu_);
  std::string op = "delete replica " + service + "/" + std::to_string(slot);
  ASSIGN_OR_RETURN(Statement stmt,
                   Statement::Prepare(db_.get(), op,
                                      "DELETE FROM replicas WHERE service = ?1 AND slot = ?2 "
                                      "AND generation = ?3"));
  RETURN_IF_ERROR(stmt.BindAll(service, slot, generation));
  return stmt.Run();
}

StatusOr<int64_t> SqliteStateStore::BeginHistory(const HistoryEntry& e) {
  std::lock_guard<std::mutex> l(mu_);
  return Durably([&]() -> StatusOr<int64_t> {
    ASSIGN_OR_RETURN(Statement stmt,
                     Statement::Prepare(db_.get(), "begin history entry",
                                        "INSERT INTO history (started_at_ms, finished_at_ms, "
                                        "user, host, command, changes_json, result, error) "
                                        "VALUES (?1, 0, ?2, ?3, ?4, ?5, 'running', ?6)"));
    RETURN_IF_ERROR(stmt.BindAll(e.started_at_ms != 0 ? e.started_at_ms : NowMs(), e.user, e.host,
                                 e.command, e.changes_json, e.error));
    RETURN_IF_ERROR(stmt.Run());
    return static_cast<int64_t>(sqlite3_last_insert_rowid(db_->handle()));
  });
}

Status SqliteStateStore::FinishHistory(int64_t id, const std::string& result,
                                       const std::string& error, const std::string& changes_json) {
  std::lock_guard<std::mutex> l(mu_);
  std::string op = "finish history entry " + std::to_string(id);
  return Durably([&]() -> Status {
    ASSIGN_OR_RETURN(Statement stmt,
                     Statement::Prepare(db_.get(), op,
                                        "UPDATE history SET finished_at_ms = ?1, result = ?2, "
                                        "error = ?3, changes_json = "
                                        "CASE WHEN ?4 = '' THEN changes_json ELSE ?4 END "
                                        "WHERE id = ?5"));
    RETURN_IF_ERROR(stmt.BindAll(NowMs(), result, error, changes_json, id));
    RETURN_IF_ERROR(stmt.Run());
    if (sqlite3_changes(db_->handle()) == 0) return NotFound(op + ": no such entry");
    return Status::OK();
  });
}

StatusOr<std::vector<HistoryEntry>> SqliteStateStore::ListHistory(int limit) {
  std::lock_guard<std::mutex> l(mu_);
  ASSIGN_OR_RETURN(Statement stmt,
                   Statement::Prepare(db_.get(), "list history",
                                      "SELECT id, started_at_ms, finished_at_ms, user, host, "
                                      "command, changes_json, result, error FROM history "
                                      "ORDER BY id DESC LIMIT ?1"));
  RETURN_IF_ERROR(stmt.BindAll(static_cast<int64_t>(limit > 0 ? limit : -1)));
  return ReadRows<HistoryEntry>(stmt, ReadHistory);
}

Status SqliteStateStore::MarkInterruptedHistory() {
  std::lock_guard<std::mutex> l(mu_);
  return Durably([&]() -> Status {
    ASSIGN_OR_RETURN(Statement stmt,
                     Statement::Prepare(db_.get(), "mark interrupted history",
                                        "UPDATE history SET result = 'interrupted', error = "
                                        "CASE WHEN error = '' THEN 'the command was killed or "
                                        "crashed before it finished' ELSE error END "
                                        "WHERE result = 'running'"));
    return stmt.Run();
  });
}

StatusOr<std::unique_ptr<StateStore>> OpenSqliteStateStore(const std::string& dir, Clock* clock) {
  ASSIGN_OR_RETURN(auto store, SqliteStateStore::Open(dir, clock, StateMigrations()));
  return std::unique_ptr<StateStore>(std::move(store));
}

}  // namespace steward::state
