// SqliteStateStore's incident tables (schema version 2; docs/formats/state.md).
#include <mutex>
#include <string>
#include <vector>

#include "state/sqlite_db.h"
#include "state/sqlite_state_store.h"

namespace steward::state {
namespace {

constexpr const char* kIncidentColumns =
    "id, title, service, severity, status, opened_at_ms, acknowledged_at_ms, resolved_at_ms, key";

IncidentRecord ReadIncident(const Statement& s) {
  IncidentRecord r;
  r.id = s.ColumnInt64(0);
  r.title = s.ColumnText(1);
  r.service = s.ColumnText(2);
  r.severity = s.ColumnText(3);
  r.status = s.ColumnText(4);
  r.opened_at_ms = s.ColumnInt64(5);
  r.acknowledged_at_ms = s.ColumnInt64(6);
  r.resolved_at_ms = s.ColumnInt64(7);
  r.key = s.ColumnText(8);
  return r;
}

IncidentEvent ReadEvent(const Statement& s) {
  IncidentEvent e;
  e.id = s.ColumnInt64(0);
  e.incident_id = s.ColumnInt64(1);
  e.at_ms = s.ColumnInt64(2);
  e.kind = s.ColumnText(3);
  e.actor = s.ColumnText(4);
  e.text = s.ColumnText(5);
  e.data_json = s.ColumnText(6);
  return e;
}

Status CheckIncident(const IncidentRecord& r, const std::vector<IncidentEvent>& events) {
  if (!IsIncidentStatus(r.status))
    return InvalidArgument("incident status '" + r.status +
                           "' is not one of open, acknowledged, resolved");
  for (const auto& e : events)
    if (!IsIncidentEventKind(e.kind))
      return InvalidArgument("incident event kind '" + e.kind + "' is unknown");
  return Status::OK();
}

}  // namespace

StatusOr<int64_t> SqliteStateStore::InsertIncidentEvent(int64_t incident_id,
                                                        const IncidentEvent& e) {
  std::string op = "add event to incident " + std::to_string(incident_id);
  // Inserts nothing when the incident does not exist, instead of relying on foreign keys.
  ASSIGN_OR_RETURN(Statement stmt,
                   Statement::Prepare(db_.get(), op,
                                      "INSERT INTO incident_events (incident_id, at_ms, kind, "
                                      "actor, text, data_json) SELECT ?1, ?2, ?3, ?4, ?5, ?6 "
                                      "WHERE EXISTS (SELECT 1 FROM incidents WHERE id = ?1)"));
  RETURN_IF_ERROR(stmt.BindAll(incident_id, e.at_ms != 0 ? e.at_ms : NowMs(), e.kind, e.actor,
                               e.text, e.data_json.empty() ? std::string("{}") : e.data_json));
  RETURN_IF_ERROR(stmt.Run());
  if (sqlite3_changes(db_->handle()) == 0) return NotFound(op + ": no such incident");
  return static_cast<int64_t>(sqlite3_last_insert_rowid(db_->handle()));
}

StatusOr<int64_t> SqliteStateStore::CreateIncident(const IncidentRecord& r,
                                                   const std::vector<IncidentEvent>& events) {
  RETURN_IF_ERROR(CheckIncident(r, events));
  std::lock_guard<std::mutex> l(mu_);
  const std::string op = "create incident '" + r.title + "'";
  ASSIGN_OR_RETURN(auto txn, Transaction::Begin(db_.get(), op));
  ASSIGN_OR_RETURN(Statement stmt,
                   Statement::Prepare(db_.get(), op,
                                      "INSERT INTO incidents (title, service, severity, status, "
                                      "opened_at_ms, acknowledged_at_ms, resolved_at_ms, key) "
                                      "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)"));
  RETURN_IF_ERROR(stmt.BindAll(r.title, r.service, r.severity, r.status,
                               r.opened_at_ms != 0 ? r.opened_at_ms : NowMs(),
                               r.acknowledged_at_ms, r.resolved_at_ms, r.key));
  RETURN_IF_ERROR(stmt.Run());
  const int64_t id = sqlite3_last_insert_rowid(db_->handle());
  for (const auto& e : events) RETURN_IF_ERROR(InsertIncidentEvent(id, e).status());
  RETURN_IF_ERROR(txn->Commit());
  return id;
}

Status SqliteStateStore::UpdateIncident(const IncidentRecord& r,
                                        const std::vector<IncidentEvent>& events) {
  RETURN_IF_ERROR(CheckIncident(r, events));
  std::lock_guard<std::mutex> l(mu_);
  const std::string op = "update incident " + std::to_string(r.id);
  ASSIGN_OR_RETURN(auto txn, Transaction::Begin(db_.get(), op));
  ASSIGN_OR_RETURN(Statement stmt,
                   Statement::Prepare(db_.get(), op,
                                      "UPDATE incidents SET title = ?1, service = ?2, "
                                      "severity = ?3, status = ?4, opened_at_ms = ?5, "
                                      "acknowledged_at_ms = ?6, resolved_at_ms = ?7, key = ?8 "
                                      "WHERE id = ?9"));
  RETURN_IF_ERROR(stmt.BindAll(r.title, r.service, r.severity, r.status, r.opened_at_ms,
                               r.acknowledged_at_ms, r.resolved_at_ms, r.key, r.id));
  RETURN_IF_ERROR(stmt.Run());
  if (sqlite3_changes(db_->handle()) == 0) return NotFound(op + ": no such incident");
  for (const auto& e : events) RETURN_IF_ERROR(InsertIncidentEvent(r.id, e).status());
  return txn->Commit();
}

StatusOr<IncidentRecord> SqliteStateStore::GetIncident(int64_t id) {
  std::lock_guard<std::mutex> l(mu_);
  const std::string op = "read incident " + std::to_string(id);
  ASSIGN_OR_RETURN(Statement stmt,
                   Statement::Prepare(db_.get(), op,
                                      std::string("SELECT ") + kIncidentColumns +
                                          " FROM incidents WHERE id = ?1"));
  RETURN_IF_ERROR(stmt.BindAll(id));
  ASSIGN_OR_RETURN(bool row, stmt.Step());
  if (!row) return NotFound("incident " + std::to_string(id) + " does not exist");
  return ReadIncident(stmt);
}

StatusOr<std::vector<IncidentRecord>> SqliteStateStore::ListIncidents(const IncidentFilter& f) {
  std::lock_guard<std::mutex> l(mu_);
  ASSIGN_OR_RETURN(
      Statement stmt,
      Statement::Prepare(db_.get(), "list incidents",
                         std::string("SELECT ") + kIncidentColumns +
                             " FROM incidents WHERE (?1 = '' OR status = ?1 OR "
                             "(?1 = 'unresolved' AND status != 'resolved')) "
                             "AND (?2 = '' OR service = ?2) AND (?3 = '' OR key = ?3) "
                             "AND opened_at_ms >= ?4 ORDER BY id DESC LIMIT ?5"));
  RETURN_IF_ERROR(stmt.BindAll(f.status, f.service, f.key, f.opened_since_ms,
                               static_cast<int64_t>(f.limit > 0 ? f.limit : -1)));
  std::vector<IncidentRecord> out;
  while (true) {
    ASSIGN_OR_RETURN(bool row, stmt.Step());
    if (!row) return out;
    out.push_back(ReadIncident(stmt));
  }
}

StatusOr<int64_t> SqliteStateStore::AddIncidentEvent(const IncidentEvent& e) {
  if (!IsIncidentEventKind(e.kind))
    return InvalidArgument("incident event kind '" + e.kind + "' is unknown");
  std::lock_guard<std::mutex> l(mu_);
  return InsertIncidentEvent(e.incident_id, e);  // one statement: its own transaction
}

StatusOr<std::vector<IncidentEvent>> SqliteStateStore::ListIncidentEvents(int64_t incident_id) {
  std::lock_guard<std::mutex> l(mu_);
  ASSIGN_OR_RETURN(Statement stmt,
                   Statement::Prepare(db_.get(), "list incident events",
                                      "SELECT id, incident_id, at_ms, kind, actor, text, "
                                      "data_json FROM incident_events WHERE incident_id = ?1 "
                                      "ORDER BY at_ms, id"));
  RETURN_IF_ERROR(stmt.BindAll(incident_id));
  std::vector<IncidentEvent> out;
  while (true) {
    ASSIGN_OR_RETURN(bool row, stmt.Step());
    if (!row) return out;
    out.push_back(ReadEvent(stmt));
  }
}

}  // namespace steward::state
