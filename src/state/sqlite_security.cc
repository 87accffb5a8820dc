// SqliteStateStore's security records (schema version 5; docs/formats/state.md): secret versions,
// API tokens and the audit log. The audit log's append-only rule is the schema's (triggers), so
// no code path, this one included, can rewrite it.
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "state/sqlite_db.h"
#include "state/sqlite_state_store.h"

namespace steward::state {
namespace {

constexpr const char* kSecretColumns =
    "name, version, sealed, key_id, state, created_at_ms, created_by";
constexpr const char* kTokenColumns = "name, scope, token_sha256, created_at_ms, last_used_ms";
constexpr const char* kAuditColumns =
    "id, time_ms, actor, scope, remote, method, path, status, result, duration_ms";

bool IsSecretState(const std::string& s) {
  return s == "current" || s == "previous" || s == "retired";
}

bool IsTokenScope(const std::string& s) { return s == "read" || s == "deploy" || s == "admin"; }

SecretRecord ReadSecret(const Statement& s) {
  SecretRecord r;
  r.name = s.ColumnText(0);
  r.version = s.ColumnInt64(1);
  r.sealed = s.ColumnText(2);
  r.key_id = s.ColumnText(3);
  r.state = s.ColumnText(4);
  r.created_at_ms = s.ColumnInt64(5);
  r.created_by = s.ColumnText(6);
  return r;
}

ApiTokenRecord ReadToken(const Statement& s) {
  ApiTokenRecord r;
  r.name = s.ColumnText(0);
  r.scope = s.ColumnText(1);
  r.token_sha256 = s.ColumnText(2);
  r.created_at_ms = s.ColumnInt64(3);
  r.last_used_ms = s.ColumnInt64(4);
  return r;
}

AuditRecord ReadAudit(const Statement& s) {
  AuditRecord r;
  r.id = s.ColumnInt64(0);
  r.time_ms = s.ColumnInt64(1);
  r.actor = s.ColumnText(2);
  r.scope = s.ColumnText(3);
  r.remote = s.ColumnText(4);
  r.method = s.ColumnText(5);
  r.path = s.ColumnText(6);
  r.status = static_cast<int>(s.ColumnInt64(7));
  r.result = s.ColumnText(8);
  r.duration_ms = s.ColumnInt64(9);
  return r;
}


}  // namespace

Status SqliteStateStore::PutSecrets(const std::vector<SecretRecord>& records) {
  for (const SecretRecord& r : records) {
    if (r.name.empty() || r.version < 1) {
      return InvalidArgument("record secret: a secret needs a name and a version >= 1");
    }
    if (!IsSecretState(r.state)) {
      return InvalidArgument("record secret '" + r.name + "': state must be current, previous "
                             "or retired, got '" + r.state + "'");
    }
  }
  std::lock_guard<std::mutex> l(mu_);
  if (records.empty()) return Status::OK();
  const std::string op = "record secret '" + records.front().name + "'";
  ASSIGN_OR_RETURN(auto txn, Transaction::Begin(db_.get(), op));
  for (const SecretRecord& r : records) {
    ASSIGN_OR_RETURN(Statement stmt,
                     Statement::Prepare(db_.get(), op,
                                        "INSERT INTO secrets (name, version, sealed, key_id, "
                                        "state, created_at_ms, created_by) VALUES (?1, ?2, ?3, "
                                        "?4, ?5, ?6, ?7) ON CONFLICT (name, version) DO UPDATE "
                                        "SET sealed = excluded.sealed, key_id = excluded.key_id, "
                                        "state = excluded.state, created_at_ms = "
                                        "excluded.created_at_ms, created_by = "
                                        "excluded.created_by"));
    RETURN_IF_ERROR(stmt.BindAll(r.name, r.version, r.sealed, r.key_id, r.state,
                                 r.created_at_ms != 0 ? r.created_at_ms : NowMs(), r.created_by));
    RETURN_IF_ERROR(stmt.Run());
  }
  return txn->Commit();
}

StatusOr<std::vector<SecretRecord>> SqliteStateStore::ListSecrets(const std::string& name) {
  std::lock_guard<std::mutex> l(mu_);
  ASSIGN_OR_RETURN(Statement stmt,
                   Statement::Prepare(db_.get(), "list secrets",
                                      std::string("SELECT ") + kSecretColumns +
                                          " FROM secrets WHERE (?1 = '' OR name = ?1) "
                                          "ORDER BY name, version DESC"));
  RETURN_IF_ERROR(stmt.BindAll(name));
  return ReadRows<SecretRecord>(stmt, ReadSecret);
}

Status SqliteStateStore::DeleteSecret(const std::string& name) {
  std::lock_guard<std::mutex> l(mu_);
  const std::string op = "delete secret '" + name + "'";
  ASSIGN_OR_RETURN(Statement stmt,
                   Statement::Prepare(db_.get(), op, "DELETE FROM secrets WHERE name = ?1"));
  RETURN_IF_ERROR(stmt.BindAll(name));
  RETURN_IF_ERROR(stmt.Run());
  if (sqlite3_changes(db_->handle()) == 0) return NotFound(op + ": no such secret");
  return Status::OK();
}

Status SqliteStateStore::DeleteSecretVersion(const std::string& name, int64_t version) {
  std::lock_guard<std::mutex> l(mu_);
  const std::string op =
      "delete version " + std::to_string(version) + " of secret '" + name + "'";
  ASSIGN_OR_RETURN(Statement stmt,
                   Statement::Prepare(db_.get(), op,
                                      "DELETE FROM secrets WHERE name = ?1 AND version = ?2"));
  RETURN_IF_ERROR(stmt.BindAll(name, version));
  RETURN_IF_ERROR(stmt.Run());
  if (sqlite3_changes(db_->handle()) == 0) return NotFound(op + ": no such version");
  return Status::OK();
}

Status SqliteStateStore::PutApiToken(const ApiTokenRecord& r) {
  if (r.name.empty()) return InvalidArgument("record API token: the name is empty");
  if (!IsTokenScope(r.scope)) {
    return InvalidArgument("record API token '" + r.name + "': scope must be read, deploy or "
                           "admin, got '" + r.scope + "'");
  }
  std::lock_guard<std::mutex> l(mu_);
  const std::string op = "record API token '" + r.name + "'";
  ASSIGN_OR_RETURN(Statement stmt,
                   Statement::Prepare(db_.get(), op,
                                      "INSERT INTO api_tokens (name, scope, token_sha256, "
                                      "created_at_ms, last_used_ms) VALUES (?1, ?2, ?3, ?4, ?5) "
                                      "ON CONFLICT (name) DO UPDATE SET scope = excluded.scope, "
                                      "token_sha256 = excluded.token_sha256, created_at_ms = "
                                      "excluded.created_at_ms, last_used_ms = "
                                      "excluded.last_used_ms"));
  RETURN_IF_ERROR(stmt.BindAll(r.name, r.scope, r.token_sha256,
                               r.created_at_ms != 0 ? r.created_at_ms : NowMs(), r.last_used_ms));
  return stmt.Run();
}

StatusOr<std::vector<ApiTokenRecord>> SqliteStateStore::ListApiTokens() {
  std::lock_guard<std::mutex> l(mu_);
  ASSIGN_OR_RETURN(Statement stmt,
                   Statement::Prepare(db_.get(), "list API tokens",
                                      std::string("SELECT ") + kTokenColumns +
                                          " FROM api_tokens ORDER BY name"));
  return ReadRows<ApiTokenRecord>(stmt, ReadToken);
}

StatusOr<std::optional<ApiTokenRecord>> SqliteStateStore::FindApiToken(const std::string& sha256) {
  std::lock_guard<std::mutex> l(mu_);
  ASSIGN_OR_RETURN(Statement stmt,
                   Statement::Prepare(db_.get(), "find API token",
                                      std::string("SELECT ") + kTokenColumns +
                                          " FROM api_tokens WHERE token_sha256 = ?1"));
  RETURN_IF_ERROR(stmt.BindAll(sha256));
  ASSIGN_OR_RETURN(bool row, stmt.Step());
  if (!row) return std::optional<ApiTokenRecord>();
  return std::optional<ApiTokenRecord>(ReadToken(stmt));
}

Status SqliteStateStore::DeleteApiToken(const std::string& name) {
  std::lock_guard<std::mutex> l(mu_);
  const std::string op = "delete API token '" + name + "'";
  ASSIGN_OR_RETURN(Statement stmt,
                   Statement::Prepare(db_.get(), op, "DELETE FROM api_tokens WHERE name = ?1"));
  RETURN_IF_ERROR(stmt.BindAll(name));
  RETURN_IF_ERROR(stmt.Run());
  if (sqlite3_changes(db_->handle()) == 0) return NotFound(op + ": no such token");
  return Status::OK();
}

Status SqliteStateStore::TouchApiToken(const std::string& name, int64_t when_ms) {
  std::lock_guard<std::mutex> l(mu_);
  const std::string op = "touch API token '" + name + "'";
  ASSIGN_OR_RETURN(Statement stmt,
                   Statement::Prepare(db_.get(), op,
                                      "UPDATE api_tokens SET last_used_ms = ?2 WHERE name = ?1"));
  RETURN_IF_ERROR(stmt.BindAll(name, when_ms));
  return stmt.Run();
}

StatusOr<int64_t> SqliteStateStore::AppendAudit(const AuditRecord& r) {
  std::lock_guard<std::mutex> l(mu_);
  const std::string op = "append to the audit log";
  ASSIGN_OR_RETURN(Statement stmt,
                   Statement::Prepare(db_.get(), op,
                                      "INSERT INTO audit_log (time_ms, actor, scope, remote, "
                                      "method, path, status, result, duration_ms) VALUES (?1, "
                                      "?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)"));
  RETURN_IF_ERROR(stmt.BindAll(r.time_ms != 0 ? r.time_ms : NowMs(), r.actor, r.scope, r.remote,
                               r.method, r.path, r.status, r.result, r.duration_ms));
  RETURN_IF_ERROR(stmt.Run());
  return static_cast<int64_t>(sqlite3_last_insert_rowid(db_->handle()));
}

StatusOr<std::vector<AuditRecord>> SqliteStateStore::ListAudit(int64_t since_ms, int limit) {
  std::lock_guard<std::mutex> l(mu_);
  ASSIGN_OR_RETURN(Statement stmt,
                   Statement::Prepare(db_.get(), "list the audit log",
                                      std::string("SELECT ") + kAuditColumns +
                                          " FROM audit_log WHERE time_ms >= ?1 "
                                          "ORDER BY id DESC LIMIT ?2"));
  RETURN_IF_ERROR(stmt.BindAll(since_ms, static_cast<int64_t>(limit > 0 ? limit : -1)));
  return ReadRows<AuditRecord>(stmt, ReadAudit);
}

}  // namespace steward::state
