// SqliteStateStore's restore drills (schema version 4; docs/formats/state.md). Each drill is
// one INSERT, so a kill -9 leaves whole rows.
#include <mutex>
#include <string>
#include <vector>

#include "state/sqlite_db.h"
#include "state/sqlite_state_store.h"

namespace steward::state {
namespace {

constexpr const char* kDrillColumns =
    "id, service, snapshot, snapshot_time_ms, started_at_ms, finished_at_ms, restore_ms, "
    "verify_ms, rto_ms, rpo_ms, files, bytes, ok, message, trigger_kind, host";

DrillRecord ReadDrill(const Statement& s) {
  DrillRecord d;
  d.id = s.ColumnInt64(0);
  d.service = s.ColumnText(1);
  d.snapshot = s.ColumnText(2);
  d.snapshot_time_ms = s.ColumnInt64(3);
  d.started_at_ms = s.ColumnInt64(4);
  d.finished_at_ms = s.ColumnInt64(5);
  d.restore_ms = s.ColumnInt64(6);
  d.verify_ms = s.ColumnInt64(7);
  d.rto_ms = s.ColumnInt64(8);
  d.rpo_ms = s.ColumnInt64(9);
  d.files = s.ColumnInt64(10);
  d.bytes = s.ColumnInt64(11);
  d.ok = s.ColumnInt64(12) != 0;
  d.message = s.ColumnText(13);
  d.trigger = s.ColumnText(14);
  d.host = s.ColumnText(15);
  return d;
}

}  // namespace

StatusOr<int64_t> SqliteStateStore::RecordDrill(const DrillRecord& d) {
  if (d.service.empty()) return InvalidArgument("record drill: the service name is empty");
  std::lock_guard<std::mutex> l(mu_);
  const std::string op = "record drill of service '" + d.service + "'";
  ASSIGN_OR_RETURN(Statement stmt,
                   Statement::Prepare(db_.get(), op,
                                      "INSERT INTO drills (service, snapshot, snapshot_time_ms, "
                                      "started_at_ms, finished_at_ms, restore_ms, verify_ms, "
                                      "rto_ms, rpo_ms, files, bytes, ok, message, trigger_kind, "
                                      "host) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, "
                                      "?11, ?12, ?13, ?14, ?15)"));
  RETURN_IF_ERROR(stmt.BindAll(d.service, d.snapshot, d.snapshot_time_ms,
                               d.started_at_ms != 0 ? d.started_at_ms : NowMs(), d.finished_at_ms,
                               d.restore_ms, d.verify_ms, d.rto_ms, d.rpo_ms, d.files, d.bytes,
                               static_cast<int64_t>(d.ok ? 1 : 0), d.message, d.trigger, d.host));
  RETURN_IF_ERROR(stmt.Run());
  return static_cast<int64_t>(sqlite3_last_insert_rowid(db_->handle()));
}

StatusOr<std::vector<DrillRecord>> SqliteStateStore::ListDrills(const std::string& service,
                                                                int limit) {
  std::lock_guard<std::mutex> l(mu_);
  ASSIGN_OR_RETURN(Statement stmt,
                   Statement::Prepare(db_.get(), "list drills",
                                      std::string("SELECT ") + kDrillColumns +
                                          " FROM drills WHERE (?1 = '' OR service = ?1) "
                                          "ORDER BY id DESC LIMIT ?2"));
  RETURN_IF_ERROR(stmt.BindAll(service, static_cast<int64_t>(limit > 0 ? limit : -1)));
  std::vector<DrillRecord> out;
  while (true) {
    ASSIGN_OR_RETURN(bool row, stmt.Step());
    if (!row) return out;
    out.push_back(ReadDrill(stmt));
  }
}

}  // namespace steward::state
