#include "state/schema.h"

#include <charconv>
#include <string>

namespace steward::state {
namespace {

// Version 1: the first released schema. Times are Unix milliseconds (UTC); 0 means "not yet".
constexpr const char* kSchemaV1 = R"sql(
CREATE TABLE meta (
  key   TEXT PRIMARY KEY NOT NULL,
  value TEXT NOT NULL
);
CREATE TABLE services (
  name          TEXT PRIMARY KEY NOT NULL,
  spec_json     TEXT NOT NULL,
  spec_hash     TEXT NOT NULL,
  generation    INTEGER NOT NULL,
  updated_at_ms INTEGER NOT NULL
);
CREATE TABLE replicas (
  service       TEXT NOT NULL,
  slot          INTEGER NOT NULL,
  generation    INTEGER NOT NULL,
  pid           INTEGER NOT NULL,
  start_ticks   INTEGER NOT NULL,
  port          INTEGER NOT NULL,
  started_at_ms INTEGER NOT NULL,
  PRIMARY KEY (service, slot, generation)
);
CREATE TABLE history (
  id             INTEGER PRIMARY KEY AUTOINCREMENT,
  started_at_ms  INTEGER NOT NULL,
  finished_at_ms INTEGER NOT NULL,
  user           TEXT NOT NULL,
  host           TEXT NOT NULL,
  command        TEXT NOT NULL,
  changes_json   TEXT NOT NULL,
  result         TEXT NOT NULL,
  error          TEXT NOT NULL
);
CREATE INDEX history_by_result ON history (result);
)sql";

// Version 2: incidents and their timelines. No CHECK constraints on status or kind, so a later
// kind needs no table rebuild; the store validates them instead.
constexpr const char* kSchemaV2 = R"sql(
CREATE TABLE incidents (
  id                 INTEGER PRIMARY KEY AUTOINCREMENT,
  title              TEXT NOT NULL,
  service            TEXT NOT NULL,
  severity           TEXT NOT NULL,
  status             TEXT NOT NULL,
  opened_at_ms       INTEGER NOT NULL,
  acknowledged_at_ms INTEGER NOT NULL,
  resolved_at_ms     INTEGER NOT NULL,
  key                TEXT NOT NULL
);
CREATE INDEX incidents_by_status ON incidents (status, id);
CREATE INDEX incidents_by_key ON incidents (key, id);
CREATE INDEX incidents_by_opened ON incidents (opened_at_ms);
CREATE TABLE incident_events (
  id          INTEGER PRIMARY KEY AUTOINCREMENT,
  incident_id INTEGER NOT NULL REFERENCES incidents (id),
  at_ms       INTEGER NOT NULL,
  kind        TEXT NOT NULL,
  actor       TEXT NOT NULL,
  text        TEXT NOT NULL,
  data_json   TEXT NOT NULL
);
CREATE INDEX incident_events_by_incident ON incident_events (incident_id, id);
)sql";

// Version 3: pipeline runs and their jobs, releases of services and the deploys that put them
// live. Statuses are checked by the writers, not by constraints, as in version 2.
constexpr const char* kSchemaV3 = R"sql(
CREATE TABLE pipeline_runs (
  id             INTEGER PRIMARY KEY AUTOINCREMENT,
  pipeline       TEXT NOT NULL,
  source         TEXT NOT NULL,
  trigger_kind   TEXT NOT NULL,
  trigger_detail TEXT NOT NULL,
  commit_sha     TEXT NOT NULL,
  branch         TEXT NOT NULL,
  commit_message TEXT NOT NULL,
  commit_time_ms INTEGER NOT NULL,
  status         TEXT NOT NULL,
  created_at_ms  INTEGER NOT NULL,
  started_at_ms  INTEGER NOT NULL,
  finished_at_ms INTEGER NOT NULL,
  user           TEXT NOT NULL,
  host           TEXT NOT NULL,
  pid            INTEGER NOT NULL,
  rerun_of       INTEGER NOT NULL,
  error          TEXT NOT NULL
);
CREATE INDEX pipeline_runs_by_pipeline ON pipeline_runs (pipeline, id);
CREATE INDEX pipeline_runs_by_status ON pipeline_runs (status);
CREATE TABLE pipeline_jobs (
  run_id         INTEGER NOT NULL REFERENCES pipeline_runs (id),
  job            TEXT NOT NULL,
  position       INTEGER NOT NULL,
  status         TEXT NOT NULL,
  attempts       INTEGER NOT NULL,
  exit_code      INTEGER NOT NULL,
  started_at_ms  INTEGER NOT NULL,
  finished_at_ms INTEGER NOT NULL,
  outputs_json   TEXT NOT NULL,
  cache_key      TEXT NOT NULL,
  log_path       TEXT NOT NULL,
  error          TEXT NOT NULL,
  PRIMARY KEY (run_id, job)
);
CREATE TABLE releases (
  service        TEXT NOT NULL,
  version        INTEGER NOT NULL,
  label          TEXT NOT NULL,
  spec_json      TEXT NOT NULL,
  commit_sha     TEXT NOT NULL,
  commit_time_ms INTEGER NOT NULL,
  created_at_ms  INTEGER NOT NULL,
  status         TEXT NOT NULL,
  PRIMARY KEY (service, version)
);
CREATE TABLE deploys (
  id             INTEGER PRIMARY KEY AUTOINCREMENT,
  service        TEXT NOT NULL,
  release        INTEGER NOT NULL,
  from_release   INTEGER NOT NULL,
  strategy       TEXT NOT NULL,
  trigger_kind   TEXT NOT NULL,
  run_id         INTEGER NOT NULL,
  commit_sha     TEXT NOT NULL,
  commit_time_ms INTEGER NOT NULL,
  status         TEXT NOT NULL,
  started_at_ms  INTEGER NOT NULL,
  finished_at_ms INTEGER NOT NULL,
  error          TEXT NOT NULL,
  events_json    TEXT NOT NULL
);
CREATE INDEX deploys_by_service ON deploys (service, id);
CREATE INDEX deploys_by_started ON deploys (started_at_ms);
)sql";

// Version 4: restore drills (issue 7): one row per drill, kept for `steward report dr` and
// the DR runbook. Durations in milliseconds.
constexpr const char* kSchemaV4 = R"sql(
CREATE TABLE drills (
  id               INTEGER PRIMARY KEY AUTOINCREMENT,
  service          TEXT NOT NULL,
  snapshot         TEXT NOT NULL,
  snapshot_time_ms INTEGER NOT NULL,
  started_at_ms    INTEGER NOT NULL,
  finished_at_ms   INTEGER NOT NULL,
  restore_ms       INTEGER NOT NULL,
  verify_ms        INTEGER NOT NULL,
  rto_ms           INTEGER NOT NULL,
  rpo_ms           INTEGER NOT NULL,
  files            INTEGER NOT NULL,
  bytes            INTEGER NOT NULL,
  ok               INTEGER NOT NULL,
  message          TEXT NOT NULL,
  trigger_kind     TEXT NOT NULL,
  host             TEXT NOT NULL
);
CREATE INDEX drills_by_service ON drills (service, id);
)sql";

// Version 5: security operations (issue 8). Secrets: one row per version of a value, sealed by
// the secrets room (base64 of nonce || ciphertext || tag; the store never sees a plaintext);
// state "current" (what services get), "previous" (kept until the services that used it have
// rolled), "retired". API tokens besides <state>/api.token: their SHA-256 only, with a scope.
// The audit log of the API's mutating calls, append-only: triggers refuse UPDATE and DELETE.
constexpr const char* kSchemaV5 = R"sql(
CREATE TABLE secrets (
  name          TEXT NOT NULL,
  version       INTEGER NOT NULL,
  sealed        TEXT NOT NULL,
  key_id        TEXT NOT NULL,
  state         TEXT NOT NULL,
  created_at_ms INTEGER NOT NULL,
  created_by    TEXT NOT NULL,
  PRIMARY KEY (name, version)
);
CREATE TABLE api_tokens (
  name          TEXT PRIMARY KEY,
  scope         TEXT NOT NULL,
  token_sha256  TEXT NOT NULL UNIQUE,
  created_at_ms INTEGER NOT NULL,
  last_used_ms  INTEGER NOT NULL DEFAULT 0
);
CREATE TABLE audit_log (
  id          INTEGER PRIMARY KEY AUTOINCREMENT,
  time_ms     INTEGER NOT NULL,
  actor       TEXT NOT NULL,
  scope       TEXT NOT NULL,
  remote      TEXT NOT NULL,
  method      TEXT NOT NULL,
  path        TEXT NOT NULL,
  status      INTEGER NOT NULL,
  result      TEXT NOT NULL,
  duration_ms INTEGER NOT NULL
);
CREATE INDEX audit_log_by_time ON audit_log (time_ms);
CREATE TRIGGER audit_log_no_update BEFORE UPDATE ON audit_log
  BEGIN SELECT RAISE(ABORT, 'the audit log is append-only'); END;
CREATE TRIGGER audit_log_no_delete BEFORE DELETE ON audit_log
  BEGIN SELECT RAISE(ABORT, 'the audit log is append-only'); END;
)sql";

Status WriteSchemaVersion(SqliteDb* db, int version) {
  ASSIGN_OR_RETURN(Statement stmt,
                   Statement::Prepare(db, "write schema version",
                                      "INSERT INTO meta (key, value) VALUES ('schema_version', ?1) "
                                      "ON CONFLICT (key) DO UPDATE SET value = excluded.value"));
  RETURN_IF_ERROR(stmt.BindAll(std::to_string(version)));
  return stmt.Run();
}

Status TooNew(const SqliteDb& db, int found, int known) {
  return FailedPrecondition(db.path() + " has schema version " + std::to_string(found) +
                            " but this steward knows up to " + std::to_string(known) +
                            "; upgrade steward");
}

// Applies migration `index` (0-based) if the version is still `index`; returns the version after.
StatusOr<int> ApplyOne(SqliteDb* db, const std::vector<Migration>& migrations, size_t index) {
  const Migration& m = migrations[index];
  std::string op =
      "migrate to schema version " + std::to_string(index + 1) + " (" + m.description + ")";
  ASSIGN_OR_RETURN(auto txn, Transaction::Begin(db, op));
  ASSIGN_OR_RETURN(int version, ReadSchemaVersion(db));
  if (version != static_cast<int>(index)) return version;  // another process got here first
  RETURN_IF_ERROR(db->Exec(op, m.sql));
  RETURN_IF_ERROR(WriteSchemaVersion(db, static_cast<int>(index + 1)).Annotate(op));
  RETURN_IF_ERROR(txn->Commit());
  return static_cast<int>(index + 1);
}

}  // namespace

const std::vector<Migration>& StateMigrations() {
  static const std::vector<Migration> kMigrations = {
      {"services, replicas, history", kSchemaV1},
      {"incidents, incident_events", kSchemaV2},
      {"pipeline_runs, pipeline_jobs, releases, deploys", kSchemaV3},
      {"drills", kSchemaV4},
      {"secrets, api_tokens, audit_log", kSchemaV5},
  };
  return kMigrations;
}

StatusOr<int> ReadSchemaVersion(SqliteDb* db) {
  ASSIGN_OR_RETURN(Statement has_meta,
                   Statement::Prepare(db, "read schema version",
                                      "SELECT 1 FROM sqlite_master WHERE type = 'table' AND "
                                      "name = 'meta'"));
  ASSIGN_OR_RETURN(bool found, has_meta.Step());
  if (!found) return 0;
  ASSIGN_OR_RETURN(Statement stmt,
                   Statement::Prepare(db, "read schema version",
                                      "SELECT value FROM meta WHERE key = 'schema_version'"));
  ASSIGN_OR_RETURN(bool row, stmt.Step());
  if (!row) return Corruption(db->path() + ": meta table has no schema_version");
  std::string text = stmt.ColumnText(0);
  int version = -1;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), version);
  if (ec == std::errc() && end == text.data() + text.size() && version >= 0) return version;
  return Corruption(db->path() + ": meta.schema_version is not a number: '" + text + "'");
}

StatusOr<int> Migrate(SqliteDb* db, const std::vector<Migration>& migrations) {
  const int known = static_cast<int>(migrations.size());
  ASSIGN_OR_RETURN(int version, ReadSchemaVersion(db));
  while (version < known) {
    ASSIGN_OR_RETURN(version, ApplyOne(db, migrations, static_cast<size_t>(version)));
  }
  if (version > known) return TooNew(*db, version, known);
  return version;
}

}  // namespace steward::state
