#include "state/sqlite_db.h"

#include <utility>

namespace steward::state {

StatusOr<std::unique_ptr<SqliteDb>> SqliteDb::Open(const std::string& path) {
  sqlite3* db = nullptr;
  // NOMUTEX: the store serialises access itself, so sqlite's own mutexes would be redundant.
  int flags = SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX;
  int rc = sqlite3_open_v2(path.c_str(), &db, flags, nullptr);
  if (rc != SQLITE_OK) {
    std::string msg = db ? sqlite3_errmsg(db) : sqlite3_errstr(rc);
    sqlite3_close(db);
    Status st = (rc & 0xff) == SQLITE_NOTADB || (rc & 0xff) == SQLITE_CORRUPT ? Corruption(msg)
                                                                              : IOError(msg);
    return st.Annotate("open " + path);
  }
  sqlite3_extended_result_codes(db, 1);
  return std::unique_ptr<SqliteDb>(new SqliteDb(db, path));
}

SqliteDb::~SqliteDb() { sqlite3_close(db_); }

Status SqliteDb::Error(std::string_view op, int rc) const {
  std::string msg = path_ + ": " + std::string(op) + ": " + sqlite3_errmsg(db_);
  switch (rc & 0xff) {
    case SQLITE_CORRUPT:
    case SQLITE_NOTADB:
      return Corruption(msg +
                        " (the file is damaged or is not a Steward state database; it "
                        "was left untouched)");
    case SQLITE_BUSY:
    case SQLITE_LOCKED:
      return Unavailable(msg + " (another process kept the database busy; try again)");
    default:
      return IOError(msg);
  }
}

Status SqliteDb::Exec(std::string_view op, const char* sql) {
  int rc = sqlite3_exec(db_, sql, nullptr, nullptr, nullptr);
  return rc == SQLITE_OK ? Status::OK() : Error(op, rc);
}

StatusOr<Statement> Statement::Prepare(SqliteDb* db, std::string_view op, std::string_view sql) {
  sqlite3_stmt* stmt = nullptr;
  int rc =
      sqlite3_prepare_v2(db->handle(), sql.data(), static_cast<int>(sql.size()), &stmt, nullptr);
  if (rc != SQLITE_OK) {
    sqlite3_finalize(stmt);
    return db->Error(op, rc);
  }
  return Statement(db, op, stmt);
}

Statement::Statement(Statement&& other) noexcept
    : db_(other.db_), op_(std::move(other.op_)), stmt_(std::exchange(other.stmt_, nullptr)) {}

Statement::~Statement() { sqlite3_finalize(stmt_); }

Status Statement::Bind(int index, int64_t value) {
  int rc = sqlite3_bind_int64(stmt_, index, value);
  return rc == SQLITE_OK ? Status::OK() : db_->Error(op_, rc);
}

Status Statement::Bind(int index, std::string_view value) {
  int rc = sqlite3_bind_text(stmt_, index, value.data(), static_cast<int>(value.size()),
                             SQLITE_TRANSIENT);
  return rc == SQLITE_OK ? Status::OK() : db_->Error(op_, rc);
}

StatusOr<bool> Statement::Step() {
  int rc = sqlite3_step(stmt_);
  if (rc == SQLITE_ROW) return true;
  if (rc == SQLITE_DONE) return false;
  return db_->Error(op_, rc);
}

Status Statement::Run() {
  while (true) {
    ASSIGN_OR_RETURN(bool row, Step());
    if (!row) return Status::OK();
  }
}

void Statement::Reset() {
  sqlite3_reset(stmt_);
  sqlite3_clear_bindings(stmt_);
}

int64_t Statement::ColumnInt64(int column) const { return sqlite3_column_int64(stmt_, column); }

std::string Statement::ColumnText(int column) const {
  const unsigned char* text = sqlite3_column_text(stmt_, column);
  if (text == nullptr) return "";
  return std::string(reinterpret_cast<const char*>(text), sqlite3_column_bytes(stmt_, column));
}

StatusOr<std::unique_ptr<Transaction>> Transaction::Begin(SqliteDb* db, std::string_view op) {
  RETURN_IF_ERROR(db->Exec(op, "BEGIN IMMEDIATE"));
  return std::unique_ptr<Transaction>(new Transaction(db, op));
}

Transaction::~Transaction() {
  if (!done_) db_->Exec(op_, "ROLLBACK").IgnoreError();
}

Status Transaction::Commit() {
  done_ = true;
  Status st = db_->Exec(op_, "COMMIT");
  // A failed COMMIT can leave the transaction open (e.g. SQLITE_BUSY); roll it back so the
  // connection is usable again.
  if (!st.ok() && !sqlite3_get_autocommit(db_->handle())) {
    db_->Exec(op_, "ROLLBACK").IgnoreError();
  }
  return st;
}

}  // namespace steward::state
