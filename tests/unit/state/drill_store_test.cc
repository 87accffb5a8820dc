// The state store's schema v4 table: restore drills.
#include <gtest/gtest.h>

#include "state/schema.h"
#include "state/sqlite_state_store.h"
#include "unit/state/temp_dir.h"

namespace steward::state {
namespace {

using testing::TempDir;

DrillRecord Drill(const std::string& service, bool ok, int64_t started_at_ms) {
  DrillRecord d;
  d.service = service;
  d.snapshot = std::string(64, 'c');
  d.snapshot_time_ms = started_at_ms - 3'600'000;
  d.started_at_ms = started_at_ms;
  d.finished_at_ms = started_at_ms + 2'500;
  d.restore_ms = 1'500;
  d.verify_ms = 1'000;
  d.rto_ms = 2'500;
  d.rpo_ms = 3'600'000;
  d.files = 12;
  d.bytes = 1 << 20;
  d.ok = ok;
  d.message = ok ? "" : "verify exited 1: expected 3 rows, got 2";
  d.trigger = "schedule";
  d.host = "db-1";
  return d;
}

TEST(DrillStore, RecordsAndListsDrillsNewestFirstPerService) {
  TempDir dir;
  FakeClock clock;
  auto store = OpenSqliteStateStore(dir.Sub(".steward"), &clock);
  ASSERT_TRUE(store.ok()) << store.status().ToString();
  auto a = (*store)->RecordDrill(Drill("db", true, 1'700'000'000'000));
  auto b = (*store)->RecordDrill(Drill("web", true, 1'700'000'100'000));
  auto c = (*store)->RecordDrill(Drill("db", false, 1'700'000'200'000));
  ASSERT_TRUE(a.ok() && b.ok() && c.ok());
  EXPECT_LT(*a, *c);

  auto db = (*store)->ListDrills("db", 0);
  ASSERT_TRUE(db.ok()) << db.status().ToString();
  ASSERT_EQ(db->size(), 2u);
  const DrillRecord& last = db->at(0);
  EXPECT_EQ(last.id, *c);
  EXPECT_FALSE(last.ok);
  EXPECT_EQ(last.message, "verify exited 1: expected 3 rows, got 2");
  EXPECT_EQ(last.snapshot, std::string(64, 'c'));
  EXPECT_EQ(last.snapshot_time_ms, 1'700'000'200'000 - 3'600'000);
  EXPECT_EQ(last.started_at_ms, 1'700'000'200'000);
  EXPECT_EQ(last.finished_at_ms, 1'700'000'202'500);
  EXPECT_EQ(last.restore_ms, 1'500);
  EXPECT_EQ(last.verify_ms, 1'000);
  EXPECT_EQ(last.rto_ms, 2'500);
  EXPECT_EQ(last.rpo_ms, 3'600'000);
  EXPECT_EQ(last.files, 12);
  EXPECT_EQ(last.bytes, 1 << 20);
  EXPECT_EQ(last.trigger, "schedule");
  EXPECT_EQ(last.host, "db-1");
  EXPECT_TRUE(db->at(1).ok);

  EXPECT_EQ((*store)->ListDrills("", 0)->size(), 3u);
  auto newest = (*store)->ListDrills("", 1);
  ASSERT_EQ(newest->size(), 1u);
  EXPECT_EQ(newest->at(0).id, *c);
  EXPECT_TRUE((*store)->ListDrills("cache", 0)->empty());
}

TEST(DrillStore, StartTimeDefaultsToTheClockAndAServiceIsRequired) {
  TempDir dir;
  FakeClock clock;
  auto store = OpenSqliteStateStore(dir.Sub(".steward"), &clock);
  ASSERT_TRUE(store.ok());
  DrillRecord d = Drill("db", true, 0);
  ASSERT_TRUE((*store)->RecordDrill(d).ok());
  EXPECT_EQ((*store)->ListDrills("db", 0)->at(0).started_at_ms, ToUnixMillis(clock.WallNow()));
  d.service = "";
  auto bad = (*store)->RecordDrill(d);
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.status().code(), StatusCode::kInvalidArgument);
}

TEST(DrillStoreMigration, VersionThreeDatabaseGainsTheDrillsTableAndKeepsItsRows) {
  TempDir dir;
  FakeClock clock;
  const std::vector<Migration> v3(StateMigrations().begin(), StateMigrations().begin() + 3);
  {
    auto old = SqliteStateStore::Open(dir.Sub(".steward"), &clock, v3);
    ASSERT_TRUE(old.ok()) << old.status().ToString();
    ASSERT_EQ((*old)->SchemaVersion(), 3);
    ASSERT_TRUE((*old)->PutService(ServiceRecord{"db", "{}", "h", 7, 5}).ok());
    EXPECT_FALSE((*old)->RecordDrill(Drill("db", true, 1)).ok());  // no table yet
  }
  auto store = OpenSqliteStateStore(dir.Sub(".steward"), &clock);
  ASSERT_TRUE(store.ok()) << store.status().ToString();
  EXPECT_EQ((*store)->SchemaVersion(), static_cast<int>(StateMigrations().size()));
  EXPECT_EQ((*store)->ListServices()->at(0).generation, 7);
  ASSERT_TRUE((*store)->RecordDrill(Drill("db", true, 1)).ok());
  EXPECT_EQ((*store)->ListDrills("db", 0)->size(), 1u);
}

}  // namespace
}  // namespace steward::state
