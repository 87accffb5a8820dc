// The DR report and runbook from a stack, a snapshot list and drills in a real SQLite store;
// every expected figure follows from the records the test writes.
#include "report/dr.h"

#include <gtest/gtest.h>

#include "unit/state/temp_dir.h"

namespace steward::report {
namespace {

constexpr int64_t kMin = 60'000;
constexpr int64_t kHour = 60 * kMin;
constexpr int64_t kNow = 1'800'000'000'000;

backup::Id IdOf(char c) {
  return *backup::Id::FromHex(std::string(64, c));
}

std::pair<backup::Id, backup::Snapshot> Snap(char id, const std::string& service, int64_t at_ms,
                                             std::vector<std::string> tags = {}) {
  backup::Snapshot s;
  s.time_ns = at_ms * 1'000'000;
  s.service = service;
  s.tags = std::move(tags);
  return {IdOf(id), s};
}

class DrTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto store = state::OpenSqliteStateStore(dir_.Sub(".steward"), &clock_);
    ASSERT_TRUE(store.ok()) << store.status().ToString();
    store_ = std::move(store).value();
    stack_.path = "/srv/shop/steward.yaml";
    stack_.dir = "/srv/shop";
    stack_.backup.repository = "/var/backups/shop";
    stack_.backup.password_file = "/srv/shop/secrets/backup.pw";
    stack_.backup.schedule = "0 3 * * *";
    stack_.backup.keep.last = 7;
    stack_.backup.keep.daily = 14;
    config::Service db;
    db.name = "db";
    db.backup.enabled = true;
    db.backup.paths = {"/srv/db"};
    db.backup.exclude = {"pg_wal/"};
    db.backup.schedule = "*/30 * * * *";
    db.backup.before = "pg_dump -Fc -f \"$BACKUP_DIR/db.dump\" app";
    db.backup.verify = "./verify.sh";
    db.backup.drill_schedule = "0 5 * * 0";
    config::Service web;
    web.name = "web";
    web.backup.enabled = true;
    web.backup.paths = {"/srv/web/uploads"};
    web.backup.max_age = std::chrono::hours(2);
    config::Service cache;
    cache.name = "cache";
    cache.backup.enabled = true;
    cache.backup.paths = {"/srv/cache"};
    config::Service api;  // no backup: not in the report
    api.name = "api";
    stack_.services = {db, web, cache, api};
  }

  int64_t Drill(const std::string& service, bool ok, int64_t at_ms, int64_t rto_ms) {
    state::DrillRecord d;
    d.service = service;
    d.snapshot = IdOf('a').Hex();
    d.started_at_ms = at_ms;
    d.finished_at_ms = at_ms + rto_ms;
    d.rto_ms = rto_ms;
    d.restore_ms = rto_ms / 2;
    d.verify_ms = rto_ms - rto_ms / 2;
    d.rpo_ms = 10 * kMin;
    d.ok = ok;
    d.message = ok ? "" : "verify exited 1: expected 3 rows, got 2";
    d.trigger = "schedule";
    return *store_->RecordDrill(d);
  }

  std::vector<std::pair<backup::Id, backup::Snapshot>> Snapshots() {
    return {Snap('a', "db", kNow - 50 * kMin),
            Snap('b', "", kNow - 20 * kMin, {"service=db"}),  // newest of db, by tag
            Snap('c', "web", kNow - 3 * kHour),
            Snap('d', "", kNow - kMin)};  // a hand-made snapshot of nobody
  }

  state::testing::TempDir dir_;
  FakeClock clock_;
  std::unique_ptr<state::StateStore> store_;
  config::Stack stack_;
};

TEST_F(DrTest, RowsPerServiceWithBackupFromSnapshotsAndDrills) {
  Drill("db", true, kNow - 2 * kHour, 40'000);
  Drill("db", false, kNow - kHour, 30'000);
  auto snaps = Snapshots();
  auto r = ComputeDr(stack_, snaps, "", store_.get(), kNow);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  ASSERT_EQ(r->services.size(), 3u);  // api declares no backup
  const DrServiceRow& db = r->services[0];
  EXPECT_EQ(db.service, "db");
  EXPECT_EQ(db.snapshots, 2);
  EXPECT_EQ(db.last_snapshot, IdOf('b').Hex());
  EXPECT_EQ(db.age_ms, 20 * kMin);
  EXPECT_EQ(db.max_age_ms, kHour);  // twice 30 min, and at least an hour
  EXPECT_EQ(db.drills, 2);
  ASSERT_TRUE(db.last_drill && db.last_ok_drill);
  EXPECT_FALSE(db.last_drill->ok);
  EXPECT_EQ(db.last_ok_drill->rto_ms, 40'000);
  EXPECT_FALSE(db.pass);  // fresh, but the last drill failed
  EXPECT_EQ(db.problems, std::vector<std::string>{"last drill failed"});

  const DrServiceRow& web = r->services[1];
  EXPECT_EQ(web.snapshots, 1);
  EXPECT_EQ(web.age_ms, 3 * kHour);
  EXPECT_EQ(web.max_age_ms, 2 * kHour);
  EXPECT_FALSE(web.pass);
  EXPECT_EQ(web.problems, std::vector<std::string>{"last snapshot older than max age 2h0m"});
  EXPECT_NE(std::find(web.notes.begin(), web.notes.end(), "never drilled"), web.notes.end());

  const DrServiceRow& cache = r->services[2];
  EXPECT_EQ(cache.snapshots, 0);
  EXPECT_FALSE(cache.last_snapshot_ms);
  EXPECT_EQ(cache.max_age_ms, 48 * kHour);  // the stack's daily schedule, twice
  EXPECT_EQ(cache.problems, std::vector<std::string>{"no snapshot"});
  EXPECT_FALSE(r->AllPass());

  // A successful drill after the failed one makes db pass.
  Drill("db", true, kNow - kMin, 20'000);
  r = ComputeDr(stack_, snaps, "", store_.get(), kNow);
  ASSERT_TRUE(r.ok());
  EXPECT_TRUE(r->services[0].pass);
  EXPECT_EQ(r->services[0].last_drill->rto_ms, 20'000);
}

TEST_F(DrTest, UnreadableRepositoryStillShowsDrillsAndFails) {
  Drill("db", true, kNow - kHour, 1'000);
  auto r = ComputeDr(stack_, std::nullopt, "wrong password", store_.get(), kNow);
  ASSERT_TRUE(r.ok());
  const DrServiceRow& db = r->services[0];
  EXPECT_FALSE(db.snapshots);
  EXPECT_FALSE(db.age_ms);
  ASSERT_TRUE(db.last_drill);
  EXPECT_TRUE(db.last_drill->ok);
  EXPECT_FALSE(db.pass);
  EXPECT_EQ(db.problems, std::vector<std::string>{"snapshots unknown: wrong password"});
  auto j = ToJson(*r);
  EXPECT_EQ(j["repository_error"], "wrong password");
  EXPECT_TRUE(j["services"][0]["snapshots"].is_null());
  EXPECT_TRUE(j["services"][0]["rpo_now_seconds"].is_null());
  EXPECT_EQ(j["services"][0]["last_drill"]["ok"], true);
}

TEST_F(DrTest, JsonAndTablesCarryTheFigures) {
  int64_t id = Drill("db", true, kNow - kHour, 42'500);
  auto r = ComputeDr(stack_, Snapshots(), "", store_.get(), kNow);
  ASSERT_TRUE(r.ok());
  auto j = ToJson(*r);
  EXPECT_EQ(j["pass"], false);
  const auto& db = j["services"][0];
  EXPECT_EQ(db["service"], "db");
  EXPECT_EQ(db["pass"], true);
  EXPECT_EQ(db["snapshots"], 2);
  EXPECT_DOUBLE_EQ(db["rpo_now_seconds"].get<double>(), 1200.0);
  EXPECT_DOUBLE_EQ(db["max_age_seconds"].get<double>(), 3600.0);
  EXPECT_EQ(db["drill_schedule"], "0 5 * * 0");
  EXPECT_EQ(db["last_drill"]["id"], id);
  EXPECT_DOUBLE_EQ(db["last_drill"]["rto_seconds"].get<double>(), 42.5);
  EXPECT_DOUBLE_EQ(db["last_drill"]["rpo_seconds"].get<double>(), 600.0);
  EXPECT_TRUE(j["services"][1]["last_drill"].is_null());

  std::string text = ToText(*r);
  EXPECT_NE(text.find("SERVICE"), std::string::npos);
  EXPECT_NE(text.find("ok 1h0m ago"), std::string::npos) << text;
  EXPECT_NE(text.find("42.5s"), std::string::npos) << text;
  EXPECT_NE(text.find("20m0s / 1h0m"), std::string::npos) << text;
  std::string md = ToMarkdown(*r);
  EXPECT_NE(md.find("| db | pass |"), std::string::npos) << md;
  EXPECT_NE(md.find("| web | FAIL |"), std::string::npos) << md;
}

TEST_F(DrTest, RunbookSaysWhatWhereHowToRestoreAndVerifyAndTheLastDrill) {
  Drill("db", false, kNow - kHour, 30'000);
  auto r = ComputeDr(stack_, Snapshots(), "", store_.get(), kNow);
  ASSERT_TRUE(r.ok());
  std::string md = Runbook(stack_, stack_.services[0], r->services[0], *r);
  for (const char* want : {
           "# DR runbook: db",
           "  - `/srv/db`",
           "- Excluded: `pg_wal/`",
           "pg_dump -Fc -f \"$BACKUP_DIR/db.dump\" app",
           "- Repository: `/var/backups/shop`",
           "password in `/srv/shop/secrets/backup.pw`",
           "- Schedule: `*/30 * * * *`",
           "- Retention: keep last 7, daily 14",
           "- Snapshots of db: 2, newest `bbbbbbbb`",
           "steward backup --repo /var/backups/shop --password-file "
           "/srv/shop/secrets/backup.pw snapshots --tag service=db",
           "steward backup --repo /var/backups/shop --password-file "
           "/srv/shop/secrets/backup.pw restore bbbbbbbb --target /var/tmp/restore-db \\\n"
           "     --include /srv/db",
           "mv /srv/db /srv/db.broken && mv /var/tmp/restore-db/srv/db /srv/db",
           "pg_restore",
           "steward apply",
           "./verify.sh",
           "RESTORE_DIR",
           "on `0 5 * * 0` (cron, UTC) by the daemon",
           "**FAILED**",
           "verify exited 1: expected 3 rows, got 2",
           "Status now: FAIL; last drill failed",
       }) {
    EXPECT_NE(md.find(want), std::string::npos) << "missing: " << want << "\n" << md;
  }
  std::string cache = Runbook(stack_, stack_.services[2], r->services[2], *r);
  EXPECT_NE(cache.find("Never drilled. Run `steward drill cache`."), std::string::npos) << cache;
  EXPECT_NE(cache.find("No `verify:` is declared"), std::string::npos);
  EXPECT_NE(cache.find(" restore SNAPSHOT --target"), std::string::npos) << cache;
}

TEST(DrEffectiveMaxAge, DeclaredElseTwiceTheSchedulesPeriodAtLeastAnHour) {
  config::BackupSettings set;
  set.schedule = "0 3 * * *";
  config::ServiceBackup b;
  EXPECT_EQ(EffectiveMaxAge(b, set, kNow), std::chrono::hours(48));
  b.schedule = "0 */6 * * *";
  EXPECT_EQ(EffectiveMaxAge(b, set, kNow), std::chrono::hours(12));
  b.schedule = "*/5 * * * *";
  EXPECT_EQ(EffectiveMaxAge(b, set, kNow), std::chrono::hours(1));
  b.max_age = std::chrono::hours(26);
  EXPECT_EQ(EffectiveMaxAge(b, set, kNow), std::chrono::hours(26));
}

TEST(DrRecord, DrillResultBecomesARecordInMilliseconds) {
  backup::DrillResult r;
  r.service = "db";
  r.snapshot = IdOf('e');
  r.snapshot_time_ns = 1'000'000'000'000'000'000;
  r.started_ns = 1'000'000'060'000'000'000;
  r.restore_seconds = 1.25;
  r.verify_seconds = 2.5;
  r.rto_seconds = 3.75;
  r.rpo_seconds = 60;
  r.files = 3;
  r.bytes = 4096;
  r.ok = true;
  state::DrillRecord d = ToDrillRecord(r, "schedule");
  EXPECT_EQ(d.service, "db");
  EXPECT_EQ(d.snapshot, std::string(64, 'e'));
  EXPECT_EQ(d.snapshot_time_ms, 1'000'000'000'000);
  EXPECT_EQ(d.started_at_ms, 1'000'000'060'000);
  EXPECT_EQ(d.finished_at_ms, 1'000'000'063'750);
  EXPECT_EQ(d.restore_ms, 1250);
  EXPECT_EQ(d.verify_ms, 2500);
  EXPECT_EQ(d.rto_ms, 3750);
  EXPECT_EQ(d.rpo_ms, 60'000);
  EXPECT_EQ(d.files, 3);
  EXPECT_EQ(d.bytes, 4096);
  EXPECT_TRUE(d.ok);
  EXPECT_EQ(d.trigger, "schedule");

  state::DrillRecord f = FailedDrillRecord("db", 5, NotFound("service db has no snapshot"), "manual");
  EXPECT_FALSE(f.ok);
  EXPECT_EQ(f.snapshot, "");
  EXPECT_EQ(f.message, "service db has no snapshot");
}

TEST(DrRepository, StackWithoutPasswordSourceIsAClearError) {
  config::BackupSettings set;
  EXPECT_EQ(OpenStackRepository(set).status().code(), StatusCode::kFailedPrecondition);
  set.repository = "/nonexistent/repo";
  set.password_file = "/nonexistent/pw";
  auto r = OpenStackRepository(set);
  ASSERT_FALSE(r.ok());
  // The repository is looked at first: its error names it.
  EXPECT_NE(r.status().message().find("/nonexistent/repo"), std::string::npos)
      << r.status().message();
}

}  // namespace
}  // namespace steward::report
