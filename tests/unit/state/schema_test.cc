#include "state/schema.h"

#include <gtest/gtest.h>
#include <sqlite3.h>
#include <sys/stat.h>

#include "state/sqlite_state_store.h"
#include "unit/state/temp_dir.h"

namespace steward::state {
namespace {

using testing::ReadFile;
using testing::TempDir;
using testing::WriteFile;

// Runs SQL on the database file behind the store's back, as another tool would.
void RawExec(const std::string& db_path, const std::string& sql) {
  sqlite3* db = nullptr;
  ASSERT_EQ(sqlite3_open(db_path.c_str(), &db), SQLITE_OK);
  char* err = nullptr;
  EXPECT_EQ(sqlite3_exec(db, sql.c_str(), nullptr, nullptr, &err), SQLITE_OK) << err;
  sqlite3_free(err);
  sqlite3_close(db);
}

std::vector<std::string> RawTables(const std::string& db_path) {
  sqlite3* db = nullptr;
  std::vector<std::string> tables;
  if (sqlite3_open(db_path.c_str(), &db) != SQLITE_OK) return tables;
  sqlite3_stmt* stmt = nullptr;
  sqlite3_prepare_v2(db,
                     "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE "
                     "'sqlite_%' ORDER BY name",
                     -1, &stmt, nullptr);
  while (sqlite3_step(stmt) == SQLITE_ROW) {
    tables.emplace_back(reinterpret_cast<const char*>(sqlite3_column_text(stmt, 0)));
  }
  sqlite3_finalize(stmt);
  sqlite3_close(db);
  return tables;
}

TEST(StateSchema, FreshDatabaseGetsEveryTableAndTheLatestVersion) {
  TempDir dir;
  FakeClock clock;
  auto store = OpenSqliteStateStore(dir.Sub(".steward"), &clock);
  ASSERT_TRUE(store.ok()) << store.status().ToString();
  EXPECT_EQ((*store)->SchemaVersion(), static_cast<int>(StateMigrations().size()));
  EXPECT_EQ(RawTables(dir.Sub(".steward/state.db")),
            (std::vector<std::string>{"api_tokens", "audit_log", "deploys", "drills", "history",
                                      "incident_events", "incidents", "meta", "pipeline_jobs",
                                      "pipeline_runs", "releases", "replicas", "secrets",
                                      "services"}));
}

TEST(StateSchema, VersionOneDatabaseMigratesToIncidentsAndKeepsItsRows) {
  TempDir dir;
  FakeClock clock;
  const std::vector<Migration> v1(StateMigrations().begin(), StateMigrations().begin() + 1);
  {
    auto old = SqliteStateStore::Open(dir.path(), &clock, v1);  // as steward with schema 1 made it
    ASSERT_TRUE(old.ok()) << old.status().ToString();
    ASSERT_EQ((*old)->SchemaVersion(), 1);
    ASSERT_TRUE((*old)->PutService(ServiceRecord{"web", "{}", "h", 3, 5}).ok());
  }
  ASSERT_EQ(RawTables(dir.Sub("state.db")),
            (std::vector<std::string>{"history", "meta", "replicas", "services"}));

  auto store = OpenSqliteStateStore(dir.path(), &clock);
  ASSERT_TRUE(store.ok()) << store.status().ToString();
  EXPECT_EQ((*store)->SchemaVersion(), static_cast<int>(StateMigrations().size()));
  auto services = (*store)->ListServices();
  ASSERT_TRUE(services.ok());
  ASSERT_EQ(services->size(), 1u);
  EXPECT_EQ(services->at(0).generation, 3);
  IncidentRecord incident;
  incident.title = "web down";
  incident.service = "web";
  auto id = (*store)->CreateIncident(incident, {});
  ASSERT_TRUE(id.ok()) << id.status().ToString();
  store->reset();
  // Reopened at the latest version: nothing to apply, the incident is still there.
  store = OpenSqliteStateStore(dir.path(), &clock);
  ASSERT_TRUE(store.ok()) << store.status().ToString();
  EXPECT_EQ((*store)->SchemaVersion(), static_cast<int>(StateMigrations().size()));
  auto got = (*store)->GetIncident(*id);
  ASSERT_TRUE(got.ok()) << got.status().ToString();
  EXPECT_EQ(got->title, "web down");
}

TEST(StateSchema, CreatesMissingDirectoriesPrivate) {
  TempDir dir;
  FakeClock clock;
  std::string state_dir = dir.Sub("project/.steward");
  ASSERT_TRUE(OpenSqliteStateStore(state_dir, &clock).ok());
  struct stat st {};
  ASSERT_EQ(stat(state_dir.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0700u);
}

TEST(StateSchema, StateDirThatIsAFileIsRefused) {
  TempDir dir;
  FakeClock clock;
  WriteFile(dir.Sub(".steward"), "not a directory");
  auto store = OpenSqliteStateStore(dir.Sub(".steward"), &clock);
  ASSERT_FALSE(store.ok());
  EXPECT_NE(store.status().message().find("is not a directory"), std::string::npos);
}

TEST(StateSchema, AppliesOnlyPendingMigrationsInOrder) {
  TempDir dir;
  FakeClock clock;
  std::vector<Migration> v1 = StateMigrations();
  {
    auto store = SqliteStateStore::Open(dir.path(), &clock, v1);
    ASSERT_TRUE(store.ok());
    ASSERT_TRUE((*store)->PutService(ServiceRecord{"web", "{}", "h", 1, 5}).ok());
  }
  std::vector<Migration> v3 = v1;
  v3.push_back({"add notes", "CREATE TABLE notes (text TEXT NOT NULL)"});
  v3.push_back({"seed notes", "INSERT INTO notes (text) VALUES ('v3')"});
  auto store = SqliteStateStore::Open(dir.path(), &clock, v3);
  ASSERT_TRUE(store.ok()) << store.status().ToString();
  EXPECT_EQ((*store)->SchemaVersion(), static_cast<int>(v1.size()) + 2);
  auto services = (*store)->ListServices();
  ASSERT_TRUE(services.ok());
  EXPECT_EQ(services->size(), 1u);
  // Reopening applies nothing again (the seed row would be duplicated otherwise).
  store = SqliteStateStore::Open(dir.path(), &clock, v3);
  ASSERT_TRUE(store.ok());
  auto db = SqliteDb::Open(dir.Sub("state.db"));
  ASSERT_TRUE(db.ok());
  auto stmt = Statement::Prepare(db->get(), "count", "SELECT count(*) FROM notes");
  ASSERT_TRUE(stmt.ok());
  ASSERT_TRUE(*stmt->Step());
  EXPECT_EQ(stmt->ColumnInt64(0), 1);
}

TEST(StateSchema, FailedMigrationLeavesThePreviousVersionIntact) {
  TempDir dir;
  FakeClock clock;
  std::vector<Migration> broken = StateMigrations();
  broken.push_back({"broken", "CREATE TABLE half (x); THIS IS NOT SQL"});
  auto store = SqliteStateStore::Open(dir.path(), &clock, broken);
  ASSERT_FALSE(store.ok());
  const std::string version_after = std::to_string(StateMigrations().size() + 1);
  EXPECT_NE(store.status().message().find("migrate to schema version " + version_after +
                                          " (broken)"),
            std::string::npos)
      << store.status().message();

  auto db = SqliteDb::Open(dir.Sub("state.db"));
  ASSERT_TRUE(db.ok());
  auto version = ReadSchemaVersion(db->get());
  ASSERT_TRUE(version.ok());
  EXPECT_EQ(*version, static_cast<int>(StateMigrations().size()));
  EXPECT_EQ(RawTables(dir.Sub("state.db")).size(), 14u);  // "half" was rolled back
}

TEST(StateSchema, NewerSchemaIsRefusedWithUpgradeAdvice) {
  TempDir dir;
  FakeClock clock;
  ASSERT_TRUE(OpenSqliteStateStore(dir.path(), &clock).ok());
  RawExec(dir.Sub("state.db"), "UPDATE meta SET value = '99' WHERE key = 'schema_version'");

  auto store = OpenSqliteStateStore(dir.path(), &clock);
  ASSERT_FALSE(store.ok());
  EXPECT_EQ(store.status().code(), StatusCode::kFailedPrecondition);
  EXPECT_EQ(store.status().message(),
            dir.Sub("state.db") + " has schema version 99 but this steward knows up to " +
                std::to_string(StateMigrations().size()) + "; upgrade steward");
}

TEST(StateSchema, GarbageFileIsCorruptionAndLeftUnchanged) {
  TempDir dir;
  FakeClock clock;
  std::string garbage;
  for (int i = 0; i < 8192; ++i) garbage.push_back(static_cast<char>((i * 7919) % 251));
  WriteFile(dir.Sub("state.db"), garbage);

  auto store = OpenSqliteStateStore(dir.path(), &clock);
  ASSERT_FALSE(store.ok());
  EXPECT_EQ(store.status().code(), StatusCode::kCorruption);
  EXPECT_NE(store.status().message().find(dir.Sub("state.db")), std::string::npos)
      << store.status().message();
  EXPECT_EQ(ReadFile(dir.Sub("state.db")), garbage);
}

TEST(StateSchema, NonNumericVersionIsCorruption) {
  TempDir dir;
  FakeClock clock;
  ASSERT_TRUE(OpenSqliteStateStore(dir.path(), &clock).ok());
  RawExec(dir.Sub("state.db"), "UPDATE meta SET value = 'x1' WHERE key = 'schema_version'");
  auto store = OpenSqliteStateStore(dir.path(), &clock);
  ASSERT_FALSE(store.ok());
  EXPECT_EQ(store.status().code(), StatusCode::kCorruption);
}

}  // namespace
}  // namespace steward::state
