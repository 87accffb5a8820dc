// The state database schema as an ordered list of migrations, and the code that applies them.
//
// Migration i (1-based) takes the schema from version i-1 to i. Each runs in its own
// BEGIN IMMEDIATE transaction together with the bump of meta.schema_version, so a crash leaves
// the database at a whole version, and two processes opening at once cannot both apply a step
// (the second re-reads the version inside its transaction and finds nothing to do).
// Released migrations are never edited; a change to the schema is a new migration appended at
// the end. docs/formats/state.md keeps the version history.
// Thread safety: none; called under the store's mutex.
#pragma once

#include <vector>

#include "base/status.h"
#include "state/sqlite_db.h"

namespace steward::state {

struct Migration {
  const char* description;
  const char* sql;  // constant SQL, one or more statements
};

// The migrations this binary knows; its schema version is their count.
const std::vector<Migration>& StateMigrations();

// The version recorded in meta.schema_version, or 0 for a database without a meta table.
StatusOr<int> ReadSchemaVersion(SqliteDb* db);

// Brings the database up to migrations.size(), returning the resulting version. Refuses
// (kFailedPrecondition) a database whose version is above migrations.size().
StatusOr<int> Migrate(SqliteDb* db, const std::vector<Migration>& migrations);

}  // namespace steward::state
