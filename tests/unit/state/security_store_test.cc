// The state store's schema v5 tables: secret versions, API tokens and the append-only audit log.
#include <gtest/gtest.h>

#include "state/schema.h"
#include "state/sqlite_db.h"
#include "state/sqlite_state_store.h"
#include "unit/state/temp_dir.h"

namespace steward::state {
namespace {

using testing::TempDir;

SecretRecord Secret(const std::string& name, int64_t version, const std::string& state) {
  SecretRecord r;
  r.name = name;
  r.version = version;
  r.sealed = "c2VhbGVk" + std::to_string(version);
  r.key_id = "k1";
  r.state = state;
  r.created_at_ms = 1'000 * version;
  r.created_by = "ops@host";
  return r;
}

TEST(SecretStore, RotationWritesBothRowsAndListsNewestVersionFirst) {
  TempDir dir;
  FakeClock clock;
  auto store = OpenSqliteStateStore(dir.Sub(".steward"), &clock);
  ASSERT_TRUE(store.ok()) << store.status().ToString();
  ASSERT_TRUE((*store)->PutSecrets({Secret("DB_PASSWORD", 1, "current")}).ok());
  ASSERT_TRUE((*store)->PutSecrets({Secret("API_KEY", 1, "current")}).ok());
  ASSERT_TRUE(
      (*store)->PutSecrets({Secret("DB_PASSWORD", 1, "previous"), Secret("DB_PASSWORD", 2, "current")})
          .ok());

  auto db = (*store)->ListSecrets("DB_PASSWORD");
  ASSERT_TRUE(db.ok()) << db.status().ToString();
  ASSERT_EQ(db->size(), 2u);
  EXPECT_EQ((*db)[0].version, 2);
  EXPECT_EQ((*db)[0].state, "current");
  EXPECT_EQ((*db)[0].sealed, "c2VhbGVk2");
  EXPECT_EQ((*db)[1].state, "previous");
  auto all = (*store)->ListSecrets("");
  ASSERT_EQ(all->size(), 3u);
  EXPECT_EQ((*all)[0].name, "API_KEY");

  ASSERT_TRUE((*store)->DeleteSecretVersion("DB_PASSWORD", 1).ok());
  EXPECT_EQ((*store)->ListSecrets("DB_PASSWORD")->size(), 1u);
  EXPECT_EQ((*store)->DeleteSecretVersion("DB_PASSWORD", 1).code(), StatusCode::kNotFound);
  ASSERT_TRUE((*store)->DeleteSecret("DB_PASSWORD").ok());
  EXPECT_TRUE((*store)->ListSecrets("DB_PASSWORD")->empty());
  EXPECT_EQ((*store)->DeleteSecret("DB_PASSWORD").code(), StatusCode::kNotFound);
}

TEST(SecretStore, ABadRowInABatchWritesNothing) {
  TempDir dir;
  FakeClock clock;
  auto store = OpenSqliteStateStore(dir.Sub(".steward"), &clock);
  ASSERT_TRUE(store.ok());
  Status s = (*store)->PutSecrets({Secret("A", 1, "current"), Secret("A", 2, "stale")});
  EXPECT_EQ(s.code(), StatusCode::kInvalidArgument);
  EXPECT_NE(s.ToString().find("current, previous or retired"), std::string::npos);
  EXPECT_TRUE((*store)->ListSecrets("A")->empty());
  EXPECT_EQ((*store)->PutSecrets({Secret("", 1, "current")}).code(), StatusCode::kInvalidArgument);
}

TEST(ApiTokenStore, FindsByHashUpdatesUseAndRefusesUnknownScopes) {
  TempDir dir;
  FakeClock clock;
  auto store = OpenSqliteStateStore(dir.Sub(".steward"), &clock);
  ASSERT_TRUE(store.ok());
  ApiTokenRecord t{"ci", "deploy", std::string(64, 'a'), 5, 0};
  ASSERT_TRUE((*store)->PutApiToken(t).ok());
  auto found = (*store)->FindApiToken(std::string(64, 'a'));
  ASSERT_TRUE(found.ok() && found->has_value());
  EXPECT_EQ((*found)->name, "ci");
  EXPECT_EQ((*found)->scope, "deploy");
  EXPECT_FALSE((*store)->FindApiToken(std::string(64, 'b'))->has_value());
  ASSERT_TRUE((*store)->TouchApiToken("ci", 99).ok());
  EXPECT_EQ((*store)->ListApiTokens()->at(0).last_used_ms, 99);
  EXPECT_EQ((*store)->PutApiToken({"x", "root", std::string(64, 'c'), 0, 0}).code(),
            StatusCode::kInvalidArgument);
  ASSERT_TRUE((*store)->DeleteApiToken("ci").ok());
  EXPECT_EQ((*store)->DeleteApiToken("ci").code(), StatusCode::kNotFound);
}

TEST(AuditStore, AppendsListsNewestFirstAndCannotBeRewritten) {
  TempDir dir;
  FakeClock clock;
  auto store = OpenSqliteStateStore(dir.Sub(".steward"), &clock);
  ASSERT_TRUE(store.ok());
  for (int i = 1; i <= 3; ++i) {
    AuditRecord a;
    a.time_ms = 1'000 * i;
    a.actor = "admin";
    a.scope = "admin";
    a.remote = "127.0.0.1";
    a.method = "POST";
    a.path = "/api/v1/apply";
    a.status = i == 2 ? 403 : 200;
    a.result = i == 2 ? "denied" : "ok";
    auto id = (*store)->AppendAudit(a);
    ASSERT_TRUE(id.ok()) << id.status().ToString();
    EXPECT_EQ(*id, i);
  }
  auto recent = (*store)->ListAudit(2'000, 0);
  ASSERT_TRUE(recent.ok());
  ASSERT_EQ(recent->size(), 2u);
  EXPECT_EQ((*recent)[0].id, 3);
  EXPECT_EQ((*recent)[1].status, 403);
  EXPECT_EQ((*store)->ListAudit(0, 1)->size(), 1u);

  // The schema itself refuses to rewrite the log, whoever asks.
  auto db = SqliteDb::Open(dir.Sub(".steward") + "/state.db");
  ASSERT_TRUE(db.ok()) << db.status().ToString();
  Status del = (*db)->Exec("tamper", "DELETE FROM audit_log WHERE id = 2");
  EXPECT_FALSE(del.ok());
  EXPECT_NE(del.ToString().find("append-only"), std::string::npos) << del.ToString();
  EXPECT_FALSE((*db)->Exec("tamper", "UPDATE audit_log SET result = 'ok' WHERE id = 2").ok());
  EXPECT_EQ((*store)->ListAudit(0, 0)->size(), 3u);
}

TEST(SecurityStoreMigration, VersionFourDatabaseGainsTheTablesAndKeepsItsRows) {
  TempDir dir;
  FakeClock clock;
  const std::vector<Migration> v4(StateMigrations().begin(), StateMigrations().begin() + 4);
  {
    auto old = SqliteStateStore::Open(dir.Sub(".steward"), &clock, v4);
    ASSERT_TRUE(old.ok()) << old.status().ToString();
    ASSERT_EQ((*old)->SchemaVersion(), 4);
    ASSERT_TRUE((*old)->PutService(ServiceRecord{"db", "{}", "h", 7, 5}).ok());
    EXPECT_FALSE((*old)->PutSecrets({Secret("A", 1, "current")}).ok());  // no table yet
  }
  auto store = OpenSqliteStateStore(dir.Sub(".steward"), &clock);
  ASSERT_TRUE(store.ok()) << store.status().ToString();
  EXPECT_EQ((*store)->SchemaVersion(), 5);
  EXPECT_EQ((*store)->ListServices()->at(0).generation, 7);
  ASSERT_TRUE((*store)->PutSecrets({Secret("A", 1, "current")}).ok());
}

}  // namespace
}  // namespace steward::state
