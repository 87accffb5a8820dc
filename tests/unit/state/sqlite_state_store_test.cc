#include "state/sqlite_state_store.h"

#include <gtest/gtest.h>

#include <thread>

#include "state/schema.h"
#include "unit/state/temp_dir.h"

namespace steward::state {
namespace {

using testing::TempDir;

class SqliteStateStoreTest : public ::testing::Test {
 protected:
  void SetUp() override { store_ = Open(); }

  std::unique_ptr<StateStore> Open() {
    auto store = OpenSqliteStateStore(dir_.Sub(".steward"), &clock_);
    EXPECT_TRUE(store.ok()) << store.status().ToString();
    return store.ok() ? std::move(store).value() : nullptr;
  }

  std::vector<ServiceRecord> Services() {
    auto list = store_->ListServices();
    EXPECT_TRUE(list.ok()) << list.status().ToString();
    return list.ok() ? *list : std::vector<ServiceRecord>{};
  }
  std::vector<ReplicaRecord> Replicas() {
    auto list = store_->ListReplicas();
    EXPECT_TRUE(list.ok()) << list.status().ToString();
    return list.ok() ? *list : std::vector<ReplicaRecord>{};
  }
  std::vector<HistoryEntry> History(int limit) {
    auto list = store_->ListHistory(limit);
    EXPECT_TRUE(list.ok()) << list.status().ToString();
    return list.ok() ? *list : std::vector<HistoryEntry>{};
  }
  int64_t Begin(const std::string& command) {
    HistoryEntry e;
    e.user = "alice";
    e.host = "h";
    e.command = command;
    e.changes_json = "[]";
    auto id = store_->BeginHistory(e);
    EXPECT_TRUE(id.ok()) << id.status().ToString();
    return id.ok() ? *id : 0;
  }

  TempDir dir_;
  FakeClock clock_;
  std::unique_ptr<StateStore> store_;
};

ReplicaRecord Replica(const std::string& service, int slot, int64_t generation, int pid) {
  return ReplicaRecord{service, slot, generation, pid, 1000 + pid, 8000 + slot, 77};
}

TEST_F(SqliteStateStoreTest, PutServiceInsertsThenReplacesByName) {
  ASSERT_TRUE(store_->PutService({"web", R"({"cmd":"a"})", "h1", 1, 10}).ok());
  ASSERT_TRUE(store_->PutService({"api", "{}", "h0", 1, 11}).ok());
  ASSERT_TRUE(store_->PutService({"web", R"({"cmd":"b"})", "h2", 2, 12}).ok());

  auto services = Services();
  ASSERT_EQ(services.size(), 2u);
  EXPECT_EQ(services[0].name, "api");  // listed by name
  EXPECT_EQ(services[1].name, "web");
  EXPECT_EQ(services[1].spec_json, R"({"cmd":"b"})");
  EXPECT_EQ(services[1].spec_hash, "h2");
  EXPECT_EQ(services[1].generation, 2);
  EXPECT_EQ(services[1].updated_at_ms, 12);
}

TEST_F(SqliteStateStoreTest, PutServiceWithoutTimeUsesTheClock) {
  ASSERT_TRUE(store_->PutService({"web", "{}", "h", 1, 0}).ok());
  EXPECT_EQ(Services().at(0).updated_at_ms, ToUnixMillis(clock_.WallNow()));
}

TEST_F(SqliteStateStoreTest, ValuesWithQuotesAreStoredVerbatim) {
  std::string tricky = "x'); DROP TABLE services; --";
  ASSERT_TRUE(store_->PutService({tricky, tricky, tricky, 1, 1}).ok());
  ASSERT_EQ(Services().size(), 1u);
  EXPECT_EQ(Services()[0].name, tricky);
}

TEST_F(SqliteStateStoreTest, PutReplicaUpsertsByServiceSlotGeneration) {
  ASSERT_TRUE(store_->PutReplica(Replica("web", 0, 1, 0)).ok());
  ASSERT_TRUE(store_->PutReplica(Replica("web", 0, 1, 4242)).ok());  // started: pid known
  ASSERT_TRUE(store_->PutReplica(Replica("web", 0, 2, 4300)).ok());  // rolling update
  ASSERT_TRUE(store_->PutReplica(Replica("web", 1, 1, 4243)).ok());

  auto replicas = Replicas();
  ASSERT_EQ(replicas.size(), 3u);
  EXPECT_EQ(replicas[0].pid, 4242);
  EXPECT_EQ(replicas[0].start_ticks, 5242);
  EXPECT_EQ(replicas[0].port, 8000);
  EXPECT_EQ(replicas[0].started_at_ms, 77);
  EXPECT_EQ(replicas[1].generation, 2);
  EXPECT_EQ(replicas[2].slot, 1);
}

TEST_F(SqliteStateStoreTest, DeleteReplicaRemovesOnlyThatKey) {
  ASSERT_TRUE(store_->PutReplica(Replica("web", 0, 1, 1)).ok());
  ASSERT_TRUE(store_->PutReplica(Replica("web", 0, 2, 2)).ok());
  ASSERT_TRUE(store_->DeleteReplica("web", 0, 1).ok());
  ASSERT_TRUE(store_->DeleteReplica("web", 5, 5).ok());  // absent: nothing to do
  auto replicas = Replicas();
  ASSERT_EQ(replicas.size(), 1u);
  EXPECT_EQ(replicas[0].generation, 2);
}

TEST_F(SqliteStateStoreTest, DeleteServiceAlsoDeletesItsReplicas) {
  ASSERT_TRUE(store_->PutService({"web", "{}", "h", 1, 1}).ok());
  ASSERT_TRUE(store_->PutService({"api", "{}", "h", 1, 1}).ok());
  ASSERT_TRUE(store_->PutReplica(Replica("web", 0, 1, 1)).ok());
  ASSERT_TRUE(store_->PutReplica(Replica("web", 1, 1, 2)).ok());
  ASSERT_TRUE(store_->PutReplica(Replica("api", 0, 1, 3)).ok());

  ASSERT_TRUE(store_->DeleteService("web").ok());
  auto services = Services();
  ASSERT_EQ(services.size(), 1u);
  EXPECT_EQ(services[0].name, "api");
  auto replicas = Replicas();
  ASSERT_EQ(replicas.size(), 1u);
  EXPECT_EQ(replicas[0].service, "api");
  EXPECT_TRUE(store_->DeleteService("web").ok());  // idempotent
}

TEST_F(SqliteStateStoreTest, ReopenKeepsEverything) {
  ASSERT_TRUE(store_->PutService({"web", "{}", "h", 3, 1}).ok());
  ASSERT_TRUE(store_->PutReplica(Replica("web", 0, 3, 99)).ok());
  int64_t id = Begin("apply");
  store_.reset();

  store_ = Open();
  ASSERT_NE(store_, nullptr);
  EXPECT_EQ(Services().at(0).generation, 3);
  EXPECT_EQ(Replicas().at(0).pid, 99);
  EXPECT_EQ(History(0).at(0).id, id);
}

TEST_F(SqliteStateStoreTest, TwoStoresOnOneDirectorySeeEachOthersWrites) {
  std::unique_ptr<StateStore> other = Open();  // as the daemon and a CLI command would
  ASSERT_NE(other, nullptr);
  ASSERT_TRUE(other->PutService({"web", "{}", "h", 1, 1}).ok());
  EXPECT_EQ(Services().size(), 1u);
  ASSERT_TRUE(store_->DeleteService("web").ok());
  auto seen = other->ListServices();
  ASSERT_TRUE(seen.ok());
  EXPECT_TRUE(seen->empty());
}

TEST_F(SqliteStateStoreTest, HistoryIsNewestFirstAndLimited) {
  int64_t a = Begin("apply");
  clock_.Advance(Duration(1000));
  int64_t b = Begin("destroy");
  clock_.Advance(Duration(1000));
  int64_t c = Begin("down");

  auto all = History(0);
  ASSERT_EQ(all.size(), 3u);
  EXPECT_EQ(all[0].id, c);
  EXPECT_EQ(all[1].id, b);
  EXPECT_EQ(all[2].id, a);
  EXPECT_EQ(all[2].command, "apply");
  EXPECT_EQ(all[2].user, "alice");
  EXPECT_EQ(all[2].result, "running");
  EXPECT_EQ(all[2].finished_at_ms, 0);
  EXPECT_EQ(all[0].started_at_ms - all[2].started_at_ms, 2000);

  auto two = History(2);
  ASSERT_EQ(two.size(), 2u);
  EXPECT_EQ(two[0].id, c);
  EXPECT_EQ(two[1].id, b);
}

TEST_F(SqliteStateStoreTest, FinishHistoryRecordsOutcome) {
  int64_t id = Begin("apply");
  clock_.Advance(Duration(2500));
  ASSERT_TRUE(store_->FinishHistory(id, "failed", "start web: exec: no such file", "").ok());
  HistoryEntry e = History(1).at(0);
  EXPECT_EQ(e.result, "failed");
  EXPECT_EQ(e.error, "start web: exec: no such file");
  EXPECT_EQ(e.changes_json, "[]");  // kept from BeginHistory
  EXPECT_EQ(e.finished_at_ms - e.started_at_ms, 2500);

  ASSERT_TRUE(store_->FinishHistory(id, "success", "", R"([{"action":"+"}])").ok());
  EXPECT_EQ(History(1).at(0).changes_json, R"([{"action":"+"}])");
}

TEST_F(SqliteStateStoreTest, FinishUnknownHistoryIsNotFound) {
  Status st = store_->FinishHistory(12345, "success", "", "");
  EXPECT_EQ(st.code(), StatusCode::kNotFound);
}

TEST_F(SqliteStateStoreTest, MarkInterruptedHistoryClosesOnlyRunningEntries) {
  int64_t killed = Begin("apply");
  int64_t done = Begin("apply");
  ASSERT_TRUE(store_->FinishHistory(done, "success", "", "").ok());
  store_.reset();  // as if the process died with `killed` still running

  store_ = Open();
  auto lock = store_->AcquireLock("apply", Duration(0));
  ASSERT_TRUE(lock.ok());
  ASSERT_TRUE(store_->MarkInterruptedHistory().ok());
  auto history = History(0);
  ASSERT_EQ(history.size(), 2u);
  EXPECT_EQ(history[0].id, done);
  EXPECT_EQ(history[0].result, "success");
  EXPECT_EQ(history[1].id, killed);
  EXPECT_EQ(history[1].result, "interrupted");
  EXPECT_EQ(history[1].finished_at_ms, 0);
  EXPECT_FALSE(history[1].error.empty());
}

TEST_F(SqliteStateStoreTest, ConcurrentWritersFromManyThreadsAllLand) {
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([this, t] {
      for (int i = 0; i < 25; ++i) {
        std::string name = "svc-" + std::to_string(t) + "-" + std::to_string(i);
        EXPECT_TRUE(store_->PutService({name, "{}", "h", 1, 1}).ok());
        EXPECT_TRUE(store_->PutReplica(Replica(name, 0, 1, i + 1)).ok());
      }
    });
  }
  for (auto& th : threads) th.join();
  EXPECT_EQ(Services().size(), 100u);
  EXPECT_EQ(Replicas().size(), 100u);
}

TEST(StateHelpers, CurrentUserAndHostAreNotEmpty) {
  EXPECT_FALSE(CurrentUser().empty());
  EXPECT_FALSE(CurrentHost().empty());
}

TEST_F(SqliteStateStoreTest, DocumentsAreStoredReplacedAndKeptAcrossReopen) {
  auto missing = store_->GetDocument("monitoring");
  ASSERT_TRUE(missing.ok());
  EXPECT_FALSE(missing->has_value());
  ASSERT_TRUE(store_->PutDocument("monitoring", R"({"a":1})").ok());
  ASSERT_TRUE(store_->PutDocument("monitoring", R"({"a":2})").ok());
  store_.reset();
  store_ = Open();
  ASSERT_NE(store_, nullptr);
  auto got = store_->GetDocument("monitoring");
  ASSERT_TRUE(got.ok());
  EXPECT_EQ(got->value_or(""), R"({"a":2})");
}

TEST_F(SqliteStateStoreTest, DocumentKeysCannotOverwriteTheSchemaVersion) {
  Status s = store_->PutDocument("schema_version", "99");
  EXPECT_EQ(s.code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(store_->SchemaVersion(), static_cast<int>(StateMigrations().size()));
}

}  // namespace
}  // namespace steward::state
