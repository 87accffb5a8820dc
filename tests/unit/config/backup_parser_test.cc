#include <gtest/gtest.h>

#include "config/stack_json.h"
#include "unit/config/parse_helpers.h"

namespace steward::config {
namespace {

using testing::Errors;
using testing::Parse;

constexpr char kStack[] = R"(project: shop
backup:
  repository: ./backups
  password_file: ./secrets/backup.pw
  schedule: "15 2 * * *"
  keep: {last: 7, daily: 14, weekly: 8, monthly: 12, yearly: 2, hourly: 0, within: 36h}
  state: true
services:
  db:
    command: postgres
    backup:
      paths: [./data, /etc/db]
      exclude: ["*.tmp", pg_wal/]
      schedule: "*/30 * * * *"
      before: pg_dump -f "$BACKUP_DIR/db.sql" app
      after: echo done
      sqlite: [./app.db]
      max_age: 26h
      verify: ./scripts/verify.sh
      drill_schedule: "0 5 * * 0"
  web:
    command: ./web
)";

TEST(BackupParser, ReadsEveryKeyAndResolvesPathsAgainstTheStack) {
  ParseResult r = Parse(kStack);
  ASSERT_TRUE(r.ok()) << Errors(r);
  const BackupSettings& b = r.stack->backup;
  EXPECT_EQ(b.repository, "/srv/app/backups");
  EXPECT_EQ(b.password_file, "/srv/app/secrets/backup.pw");
  EXPECT_EQ(b.key_file, "");
  EXPECT_EQ(b.schedule, "15 2 * * *");
  EXPECT_EQ(b.schedule_location.line, 5);
  EXPECT_EQ(b.keep.last, 7);
  EXPECT_EQ(b.keep.daily, 14);
  EXPECT_EQ(b.keep.weekly, 8);
  EXPECT_EQ(b.keep.monthly, 12);
  EXPECT_EQ(b.keep.yearly, 2);
  EXPECT_EQ(b.keep.within, std::chrono::hours(36));
  EXPECT_TRUE(b.state);
  EXPECT_EQ(b.location.line, 2);

  const ServiceBackup& db = r.stack->services[0].backup;
  EXPECT_TRUE(db.enabled);
  EXPECT_EQ(db.paths, (std::vector<std::string>{"/srv/app/data", "/etc/db"}));
  EXPECT_EQ(db.exclude, (std::vector<std::string>{"*.tmp", "pg_wal/"}));
  EXPECT_EQ(db.schedule, "*/30 * * * *");
  EXPECT_EQ(db.schedule_location.line, 14);
  EXPECT_EQ(db.before, "pg_dump -f \"$BACKUP_DIR/db.sql\" app");
  EXPECT_EQ(db.after, "echo done");
  EXPECT_EQ(db.sqlite, (std::vector<std::string>{"/srv/app/app.db"}));
  EXPECT_EQ(db.max_age, std::chrono::hours(26));
  EXPECT_EQ(db.verify, "./scripts/verify.sh");
  EXPECT_EQ(db.drill_schedule, "0 5 * * 0");
  EXPECT_EQ(db.drill_schedule_location.line, 20);
  EXPECT_EQ(db.location.line, 11);
  EXPECT_FALSE(r.stack->services[1].backup.enabled);
}

TEST(BackupParser, DefaultsAndRepositorySchemes) {
  ParseResult r = Parse(R"(project: p
backup: {repository: "local:repo", key_file: /etc/backup.key}
services:
  db: {command: db, backup: {paths: [data]}}
)");
  ASSERT_TRUE(r.ok()) << Errors(r);
  EXPECT_EQ(r.stack->backup.repository, "local:/srv/app/repo");
  EXPECT_EQ(r.stack->backup.key_file, "/etc/backup.key");
  EXPECT_EQ(r.stack->backup.schedule, "0 3 * * *");
  EXPECT_TRUE(r.stack->backup.keep.Empty());
  EXPECT_FALSE(r.stack->backup.state);
  EXPECT_EQ(r.stack->services[0].backup.schedule, "");
  EXPECT_EQ(r.stack->services[0].backup.max_age.count(), 0);

  r = Parse("project: p\nbackup: {repository: \"s3:host/bucket\", password_file: pw}\nservices: {}\n");
  ASSERT_TRUE(r.ok()) << Errors(r);
  EXPECT_EQ(r.stack->backup.repository, "s3:host/bucket");

  r = Parse("project: p\nbackup: {repository: \"${REPO}\", password_file: pw}\nservices: {}\n",
            {{"REPO", "/mnt/b"}});
  ASSERT_TRUE(r.ok()) << Errors(r);
  EXPECT_EQ(r.stack->backup.repository, "/mnt/b");
}

TEST(BackupParser, ServiceBackupNeedsTheStacksRepository) {
  ParseResult r = Parse(R"(project: p
services:
  db:
    command: db
    backup: {paths: [data]}
)");
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(Errors(r),
            "/srv/app/steward.yaml:5:5: error: service 'db' has 'backup' but the stack declares "
            "no backup repository; add at the top level backup: {repository: /var/backups/p, "
            "password_file: ./secrets/backup.pw}\n");
}

TEST(BackupParser, ReportsBadValuesWithTheirPlace) {
  ParseResult r = Parse(R"(project: p
backup:
  repository: /b
  password_file: pw
  key_file: k
  keep: {last: -1, dayly: 3, within: 3}
  state: maybe
  shedule: "0 3 * * *"
services:
  db:
    command: db
    backup:
      paths: []
      max_age: 10
      befor: x
  web:
    command: web
    backup: {sqlite: [""]}
)");
  ASSERT_FALSE(r.ok());
  std::string e = Errors(r);
  EXPECT_NE(e.find("steward.yaml:2:1: error: 'backup' has both 'password_file' and 'key_file'; "
                   "keep one of them"),
            std::string::npos)
      << e;
  EXPECT_NE(e.find("steward.yaml:6:16: error: backup: 'keep.last' must be between 0 and "),
            std::string::npos)
      << e;
  EXPECT_NE(e.find("steward.yaml:6:20: error: unknown key 'dayly' in backup.keep; did you mean "
                   "'daily'?"),
            std::string::npos)
      << e;
  EXPECT_NE(e.find("steward.yaml:6:38: error: backup: bad duration '3' for 'keep.within': add a "
                   "unit, e.g. 3s"),
            std::string::npos)
      << e;
  EXPECT_NE(e.find("steward.yaml:7:10: error: 'backup.state' must be true or false, got 'maybe'"),
            std::string::npos)
      << e;
  EXPECT_NE(e.find("steward.yaml:8:3: error: unknown key 'shedule' in backup; did you mean "
                   "'schedule'?"),
            std::string::npos)
      << e;
  EXPECT_NE(e.find("steward.yaml:13:14: error: service 'db': 'backup.paths' must be a non-empty "
                   "list of paths, e.g. paths: [./data]"),
            std::string::npos)
      << e;
  EXPECT_NE(e.find("steward.yaml:14:16: error: service 'db': bad duration '10' for "
                   "'backup.max_age': add a unit, e.g. 10s"),
            std::string::npos)
      << e;
  EXPECT_NE(e.find("steward.yaml:15:7: error: unknown key 'befor' in backup of service 'db'; did "
                   "you mean 'before'?"),
            std::string::npos)
      << e;
  EXPECT_NE(e.find("steward.yaml:12:5: error: service 'db': 'backup' has nothing to back up"),
            std::string::npos)
      << e;
  EXPECT_NE(e.find("steward.yaml:18:22: error: service 'web': 'backup.sqlite' has an empty path"),
            std::string::npos)
      << e;
}

TEST(BackupParser, SettingsNeedARepositoryAndASecret) {
  ParseResult r = Parse("project: p\nbackup: {schedule: \"@daily\"}\nservices: {}\n");
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(Errors(r),
            "/srv/app/steward.yaml:2:1: error: 'backup' needs 'password_file' (a file whose first "
            "line is the repository's password) or 'key_file'; e.g. password_file: "
            "./secrets/backup.pw\n"
            "/srv/app/steward.yaml:2:1: error: 'backup' needs a 'repository' (where snapshots are "
            "stored), e.g. repository: /var/backups/p\n");
}

TEST(BackupParser, EnvironmentsOverrideAServiceBackup) {
  ParseResult r = Parse(R"(project: p
backup: {repository: /b, password_file: pw}
environments:
  prod: {services: {db: {backup: {schedule: "@hourly"}}}}
services:
  db: {command: db, backup: {paths: [data], schedule: "@daily"}}
)",
                        {}, "prod");
  ASSERT_TRUE(r.ok()) << Errors(r);
  EXPECT_EQ(r.stack->services[0].backup.schedule, "@hourly");
  EXPECT_EQ(r.stack->services[0].backup.paths, (std::vector<std::string>{"/srv/app/data"}));
}

TEST(BackupParser, JsonRoundTripsFieldForField) {
  ParseResult r = Parse(kStack);
  ASSERT_TRUE(r.ok()) << Errors(r);
  nlohmann::json j = StackToJson(*r.stack);
  StatusOr<Stack> back = StackFromJson(nlohmann::json::parse(j.dump()));
  ASSERT_TRUE(back.ok()) << back.status().ToString();
  EXPECT_EQ(StackToJson(*back), j);
  EXPECT_EQ(back->backup.keep.within, std::chrono::hours(36));
  EXPECT_EQ(back->backup.schedule_location.ToString(), r.stack->backup.schedule_location.ToString());
  EXPECT_EQ(back->services[0].backup.sqlite, r.stack->services[0].backup.sqlite);
  EXPECT_EQ(back->services[0].backup.max_age, std::chrono::hours(26));
  EXPECT_EQ(back->services[0].backup.drill_schedule_location.line, 20);

  nlohmann::json bad = j;
  bad["backup"]["keep"]["last"] = "seven";
  EXPECT_FALSE(StackFromJson(bad).ok());
  bad = j;
  bad["services"][0]["backup"] = 3;
  EXPECT_FALSE(StackFromJson(bad).ok());
}

}  // namespace
}  // namespace steward::config
