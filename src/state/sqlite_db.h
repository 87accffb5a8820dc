// SqliteDb and Statement: a thin RAII layer over the sqlite3 C API for the state store.
//
// Every failure becomes a Status naming the database path, the operation and sqlite3_errmsg;
// SQLITE_CORRUPT and SQLITE_NOTADB become kCorruption, SQLITE_BUSY kUnavailable, the rest
// kIOError. Values are always bound to prepared statements, never spliced into SQL text.
// Thread safety: none. The owner (SqliteStateStore) serialises all use behind one mutex.
#pragma once

#include <sqlite3.h>

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "base/status.h"

namespace steward::state {

class SqliteDb {
 public:
  // Opens (creating if missing) the database file. Does not read it yet: a file that is not a
  // database is only detected by the first statement.
  static StatusOr<std::unique_ptr<SqliteDb>> Open(const std::string& path);
  ~SqliteDb();
  SqliteDb(const SqliteDb&) = delete;
  SqliteDb& operator=(const SqliteDb&) = delete;

  sqlite3* handle() const { return db_; }
  const std::string& path() const { return path_; }

  // The Status for a failed sqlite call `rc` during `op`.
  Status Error(std::string_view op, int rc) const;
  // Runs constant SQL (one or more statements, no values). `op` names it in errors.
  Status Exec(std::string_view op, const char* sql);

 private:
  SqliteDb(sqlite3* db, std::string path) : db_(db), path_(std::move(path)) {}
  sqlite3* db_;
  std::string path_;
};

// One prepared statement, finalized on destruction. Bind() indices start at 1 as in sqlite.
class Statement {
 public:
  static StatusOr<Statement> Prepare(SqliteDb* db, std::string_view op, std::string_view sql);
  Statement(Statement&& other) noexcept;
  Statement& operator=(Statement&&) = delete;
  Statement(const Statement&) = delete;
  ~Statement();

  Status Bind(int index, int64_t value);
  Status Bind(int index, std::string_view value);
  // Binds the arguments to ?1, ?2, ... in order.
  template <typename... Args>
  Status BindAll(const Args&... args) {
    int index = 0;
    Status status;
    (void)((status = BindOne(++index, args)).ok() && ...);  // stops at the first failure
    return status;
  }

  // Advances: true when a row is available, false when the statement is done.
  StatusOr<bool> Step();
  // Steps to completion, for statements that return no rows.
  Status Run();
  // Makes the statement ready to run again, its bindings cleared (a batch prepares once).
  void Reset();

  int64_t ColumnInt64(int column) const;
  std::string ColumnText(int column) const;

 private:
  Statement(SqliteDb* db, std::string_view op, sqlite3_stmt* stmt)
      : db_(db), op_(op), stmt_(stmt) {}
  Status BindOne(int index, int64_t value) { return Bind(index, value); }
  Status BindOne(int index, int value) { return Bind(index, static_cast<int64_t>(value)); }
  Status BindOne(int index, std::string_view value) { return Bind(index, value); }
  Status BindOne(int index, const std::string& value) {
    return Bind(index, std::string_view(value));
  }
  Status BindOne(int index, const char* value) { return Bind(index, std::string_view(value)); }

  SqliteDb* db_;
  std::string op_;
  sqlite3_stmt* stmt_;
};

// Steps `stmt` to the end, converting each row with `read(stmt)`.
template <typename T, typename Read>
StatusOr<std::vector<T>> ReadRows(Statement& stmt, Read read) {
  std::vector<T> out;
  while (true) {
    ASSIGN_OR_RETURN(bool row, stmt.Step());
    if (!row) return out;
    out.push_back(read(stmt));
  }
}

// BEGIN IMMEDIATE ... COMMIT, rolled back on destruction unless committed. IMMEDIATE takes the
// write lock up front so that two processes never deadlock upgrading read transactions.
class Transaction {
 public:
  static StatusOr<std::unique_ptr<Transaction>> Begin(SqliteDb* db, std::string_view op);
  ~Transaction();
  Status Commit();

 private:
  Transaction(SqliteDb* db, std::string_view op) : db_(db), op_(op) {}
  SqliteDb* db_;
  std::string op_;
  bool done_ = false;
};

}  // namespace steward::state
