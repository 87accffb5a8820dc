// DrillService: a drill_schedule fires a real drill (real repository, real verify) when the
// clock reaches it, records it with trigger "schedule" and exports its RTO, RPO and success.
#include "server/drills.h"

#include <gtest/gtest.h>
#include <stdlib.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <thread>

#include "backup/archiver.h"
#include "backup/backend.h"
#include "backup/repository.h"
#include "unit/state/temp_dir.h"

namespace steward::server {
namespace {

namespace fs = std::filesystem;

class DrillServiceTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto store = state::OpenSqliteStateStore(dir_.Sub(".steward"), &clock_);
    ASSERT_TRUE(store.ok()) << store.status().ToString();
    store_ = std::move(store).value();
    data_ = dir_.Sub("srv/db");
    fs::create_directories(data_);
    std::ofstream(data_ + "/rows") << "3\n";
    std::ofstream(dir_.Sub("pw")) << "secret\n";
    // A repository holding one snapshot of "db", taken an hour ago.
    auto backend = backup::OpenLocalBackend(dir_.Sub("repo"), {.create = true});
    ASSERT_TRUE(backend.ok()) << backend.status().ToString();
    backup::InitOptions init;
    init.kdf.ops = 1;
    init.kdf.mem = 8192;
    auto repo = backup::Repository::Init(std::move(*backend), "secret", init);
    ASSERT_TRUE(repo.ok()) << repo.status().ToString();
    backup::BackupOptions bo;
    bo.paths = {data_};
    auto backed = backup::BackupPaths(repo->get(), bo);
    ASSERT_TRUE(backed.ok()) << backed.status().ToString();
    ASSERT_TRUE((*repo)->Flush().ok());
    backup::Snapshot s;
    // Drills measure RPO with the real clock (job.h), whatever the schedule's clock says.
    s.time_ns = (ToUnixMillis(RealClock::Get()->WallNow()) - 3'600'000) * 1'000'000;
    s.paths = bo.paths;
    s.tree = backed->tree;
    s.service = "db";
    ASSERT_TRUE((*repo)->SaveSnapshot(s).ok());

    stack_.path = dir_.Sub("steward.yaml");
    stack_.dir = dir_.path();
    stack_.backup.repository = dir_.Sub("repo");
    stack_.backup.password_file = dir_.Sub("pw");
    config::Service db;
    db.name = "db";
    db.backup.enabled = true;
    db.backup.paths = {data_};
    db.backup.verify = "test \"$(cat \"$RESTORE_DIR" + data_ + "/rows\")\" = 3";
    db.backup.drill_schedule = "*/10 * * * *";
    stack_.services = {db};
  }

  DrillServiceOptions Options() {
    DrillServiceOptions o;
    o.state_dir = dir_.Sub(".steward");
    o.store = store_.get();
    o.metrics = &metrics_;
    o.clock = &clock_;
    o.tick = Duration(10);
    return o;
  }

  // Polls the store until `n` drills are recorded (or 30 s pass).
  std::vector<state::DrillRecord> WaitForDrills(size_t n) {
    auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
    while (std::chrono::steady_clock::now() < deadline) {
      auto drills = store_->ListDrills("db", 0);
      if (drills.ok() && drills->size() >= n) return *drills;
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    return *store_->ListDrills("db", 0);
  }

  state::testing::TempDir dir_;
  FakeClock clock_;
  metrics::Registry metrics_;
  std::unique_ptr<state::StateStore> store_;
  std::string data_;
  config::Stack stack_;
};

TEST_F(DrillServiceTest, ScheduleFiresARecordedDrillAndExportsItsResult) {
  DrillService drills(Options());
  ASSERT_TRUE(drills.Apply(stack_).ok());
  drills.Start();
  std::this_thread::sleep_for(std::chrono::milliseconds(100));
  EXPECT_TRUE(store_->ListDrills("db", 0)->empty()) << "nothing is due before the schedule";
  clock_.Advance(std::chrono::minutes(11));  // past the next */10 minute
  auto recorded = WaitForDrills(1);
  drills.Stop();
  ASSERT_EQ(recorded.size(), 1u);
  const state::DrillRecord& d = recorded[0];
  EXPECT_TRUE(d.ok) << d.message;
  EXPECT_EQ(d.trigger, "schedule");
  EXPECT_EQ(d.snapshot.size(), 64u);
  EXPECT_GT(d.rto_ms, 0);
  EXPECT_GE(d.rpo_ms, 3'600'000);  // the snapshot is an hour old
  EXPECT_LT(d.rpo_ms, 3'700'000);

  std::string text = metrics_.Render();
  EXPECT_NE(text.find("steward_drill_last_rto_seconds{service=\"db\"} "), std::string::npos)
      << text;
  EXPECT_NE(text.find("steward_drill_last_rpo_seconds{service=\"db\"} "), std::string::npos);
  EXPECT_NE(text.find("steward_drill_last_success_timestamp_seconds{service=\"db\"} "),
            std::string::npos);
  EXPECT_NE(text.find("steward_drills_total{service=\"db\",result=\"ok\"} 1"), std::string::npos)
      << text;

  // A new daemon exports the recorded result before any drill of its own.
  metrics::Registry fresh;
  DrillServiceOptions o = Options();
  o.metrics = &fresh;
  DrillService restarted(o);
  EXPECT_NE(fresh.Render().find("steward_drill_last_success_timestamp_seconds{service=\"db\"} "),
            std::string::npos)
      << fresh.Render();
  EXPECT_NE(fresh.Render().find("steward_drill_last_rpo_seconds{service=\"db\"} 36"),
            std::string::npos)
      << fresh.Render();
}

TEST_F(DrillServiceTest, FailingVerifyIsRecordedFailedAndSuccessTimeStaysUnset) {
  stack_.services[0].backup.verify = "echo 'expected 4 rows'; exit 1";
  DrillService drills(Options());
  ASSERT_TRUE(drills.Apply(stack_).ok());
  auto d = drills.RunNow("db", "manual");
  ASSERT_TRUE(d.ok()) << d.status().ToString();
  EXPECT_FALSE(d->ok);
  EXPECT_EQ(d->message, "verify exited 1: expected 4 rows");
  EXPECT_EQ(store_->ListDrills("db", 0)->size(), 1u);
  std::string text = metrics_.Render();
  EXPECT_EQ(text.find("steward_drill_last_success_timestamp_seconds{service=\"db\"}"),
            std::string::npos)
      << text;
  EXPECT_NE(text.find("steward_drills_total{service=\"db\",result=\"failed\"} 1"),
            std::string::npos);
}

TEST_F(DrillServiceTest, BadCronIsRefusedNamingTheServiceAndUnknownServiceIsAFailedDrill) {
  DrillService drills(Options());
  stack_.services[0].backup.drill_schedule = "61 * * * *";
  Status st = drills.Apply(stack_);
  ASSERT_FALSE(st.ok());
  EXPECT_NE(st.message().find("service db backup.drill_schedule"), std::string::npos)
      << st.message();
  stack_.services[0].backup.drill_schedule = "";
  ASSERT_TRUE(drills.Apply(stack_).ok());
  auto d = drills.RunNow("nope", "manual");
  ASSERT_TRUE(d.ok());
  EXPECT_FALSE(d->ok);
  EXPECT_NE(d->message.find("no service nope"), std::string::npos) << d->message;
}

}  // namespace
}  // namespace steward::server
