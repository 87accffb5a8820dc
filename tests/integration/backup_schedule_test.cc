// End to end: backups declared in the stack, run by the daemon on their cron schedule (a cron
// minute scaled to a second with STEWARD_BACKUP_TICK_MS) and by the API, with their metrics.
#include <stdlib.h>

#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>

#include <gtest/gtest.h>
#include <httplib.h>
#include <nlohmann/json.hpp>

#include "integration/harness.h"

namespace steward::testing {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;

// The value of the sample `name{service="<service>"}` in a /metrics text, or -1.
double Sample(const std::string& metrics, const std::string& name, const std::string& service) {
  std::string prefix = name + "{service=\"" + service + "\"} ";
  std::istringstream in(metrics);
  for (std::string line; std::getline(in, line);) {
    if (line.rfind(prefix, 0) == 0) return std::stod(line.substr(prefix.size()));
  }
  return -1;
}

class BackupSchedule : public ::testing::Test {
 protected:
  void SetUp() override {
    WriteFile(p_.dir() + "/secrets/backup.pw", "correct horse battery staple\n");
    WriteFile(p_.dir() + "/data/orders.txt", "order 1\norder 2\n");
    RunResult init = p_.Steward({"backup", "--repo", p_.dir() + "/repo", "--password-file",
                                 p_.dir() + "/secrets/backup.pw", "init", "--kdf-ops", "1",
                                 "--kdf-memory", "8M"});
    ASSERT_EQ(init.exit_code, 0) << init.out << init.err;
    // A cron minute lasts a second in the daemon this test starts (and only there).
    setenv("STEWARD_BACKUP_TICK_MS", "1000", 1);
  }
  void TearDown() override { unsetenv("STEWARD_BACKUP_TICK_MS"); }

  int Port() {
    std::ifstream in(p_.StateDir() + "/daemon.json");
    return json::parse(in, nullptr, false).value("port", 0);
  }
  std::string Metrics() {
    std::string body;
    HttpGet(Port(), "/metrics", &body, 5000);
    return body;
  }
  httplib::Result Post(const std::string& path) {
    std::ifstream t(p_.StateDir() + "/api.token");
    std::string token;
    t >> token;
    httplib::Client c("127.0.0.1", Port());
    c.set_read_timeout(10, 0);
    return c.Post(path, {{"Authorization", "Bearer " + token}}, "", "application/json");
  }
  // The repository's snapshots, or [] when the listing fails (the daemon's retention may
  // remove a snapshot between the listing and its loading; callers poll).
  json Snapshots() {
    RunResult r = p_.Steward({"backup", "--repo", p_.dir() + "/repo", "--password-file",
                              p_.dir() + "/secrets/backup.pw", "snapshots", "--json"});
    json j = json::parse(r.out, nullptr, false);
    return j.is_array() ? j : json::array();
  }
  // The /api/v1/backups entry of `service`, or null.
  json Entry(const std::string& service) {
    auto j = p_.Api("/api/v1/backups");
    if (!j) return nullptr;
    for (const json& e : (*j)["data"])
      if (e.value("service", "") == service) return e;
    return nullptr;
  }

  Project p_;
};

TEST_F(BackupSchedule, DaemonRunsScheduledAndManualBackupsWithMetrics) {
  p_.WriteStack(R"yaml(project: shop
backup:
  repository: ./repo
  password_file: ./secrets/backup.pw
  schedule: "0 3 * * *"
  keep: {last: 3}
services:
  db:
    command: sleep
    args: ["3600"]
    backup:
      paths: [./data]
      schedule: "* * * * *"
      before: echo "dump at $(date +%s%N)" > "$BACKUP_DIR/db.sql"
  broken:
    command: sleep
    args: ["3600"]
    backup:
      paths: [./data]
      before: echo "cannot dump" >&2; exit 7
      max_age: 1s
)yaml");
  ASSERT_APPLY_OK(p_);

  // The schedule fires on its own ("* * * * *" = every second here).
  json snaps;
  ASSERT_TRUE(PollUntil(
      [&] {
        snaps = Snapshots();
        for (const json& s : snaps)
          if (s.value("service", "") == "db") return true;
        return false;
      },
      30000))
      << snaps.dump();
  json db;
  for (const json& s : snaps)
    if (s.value("service", "") == "db") db = s;
  EXPECT_EQ(db["tags"], json::array({"service=db"}));
  bool has_data = false, has_dump = false;
  for (const json& path : db["paths"]) {
    has_data = has_data || path == p_.dir() + "/data";
    has_dump = has_dump || path == p_.StateDir() + "/backup/db";
  }
  EXPECT_TRUE(has_data) << db.dump();
  EXPECT_TRUE(has_dump) << db.dump();

  ASSERT_TRUE(PollUntil(
      [&] { return Sample(Metrics(), "steward_backup_last_success_timestamp_seconds", "db") > 0; },
      20000))
      << Metrics();
  std::string m = Metrics();
  EXPECT_GT(Sample(m, "steward_backup_last_size_bytes", "db"), 0) << m;
  EXPECT_GE(Sample(m, "steward_backup_last_duration_seconds", "db"), 0) << m;
  EXPECT_EQ(Sample(m, "steward_backup_failures_total", "db"), 0) << m;
  EXPECT_EQ(Sample(m, "steward_backup_late", "db"), 0) << m;
  // Retention keeps the newest three of db's snapshots however often the schedule fires.
  ASSERT_TRUE(PollUntil(
      [&] {
        int n = 0;
        for (const json& s : Snapshots()) n += s.value("service", "") == "db";
        return n == 3;
      },
      30000));

  // "broken" runs only at 03:00 (scaled: once an hour of test time); the API runs it now.
  EXPECT_EQ(Sample(Metrics(), "steward_backup_failures_total", "broken"), 0);
  auto started = Post("/api/v1/backups/broken/run");
  ASSERT_TRUE(started);
  EXPECT_EQ(started->status, 202) << started->body;
  ASSERT_TRUE(PollUntil(
      [&] { return Sample(Metrics(), "steward_backup_failures_total", "broken") >= 1; }, 20000))
      << Metrics();
  json broken = Entry("broken");
  ASSERT_TRUE(broken.is_object());
  EXPECT_EQ(broken["last_run"]["ok"], false);
  EXPECT_NE(broken["last_run"]["error"].get<std::string>().find("exited 7"), std::string::npos)
      << broken.dump();
  for (const json& s : Snapshots()) EXPECT_NE(s.value("service", ""), "broken");
  // Never succeeded and max_age 1s: late.
  ASSERT_TRUE(
      PollUntil([&] { return Sample(Metrics(), "steward_backup_late", "broken") == 1; }, 10000))
      << Metrics();

  // A manual run of db is reported with its snapshot.
  ASSERT_EQ(Post("/api/v1/backups/db/run")->status, 202);
  ASSERT_TRUE(PollUntil(
      [&] {
        json e = Entry("db");
        return e.is_object() && e["last_run"].is_object() && e["last_run"]["ok"] == true &&
               !e["last_run"]["snapshot"].get<std::string>().empty();
      },
      20000));
  auto unknown = Post("/api/v1/backups/nope/run");
  ASSERT_TRUE(unknown);
  EXPECT_EQ(unknown->status, 404) << unknown->body;
}

TEST_F(BackupSchedule, ARestartedDaemonReadsTheLastSuccessFromTheRepository) {
  p_.WriteStack(R"yaml(project: shop
backup: {repository: ./repo, password_file: ./secrets/backup.pw, schedule: "0 3 1 1 *"}
services:
  db:
    command: sleep
    args: ["3600"]
    backup: {paths: [./data]}
)yaml");
  // A backup taken by hand before any daemon runs.
  RunResult run = p_.Steward({"backup", "run", "--service", "db"});
  ASSERT_EQ(run.exit_code, 0) << run.out << run.err;
  ASSERT_APPLY_OK(p_);
  ASSERT_TRUE(PollUntil(
      [&] { return Sample(Metrics(), "steward_backup_last_success_timestamp_seconds", "db") > 0; },
      20000))
      << Metrics();
  json e = Entry("db");
  ASSERT_TRUE(e.is_object());
  EXPECT_TRUE(e["last_run"].is_null());  // this daemon has not run it
  EXPECT_TRUE(e["last_success"].is_string());
}

// backup.state: Steward's own state directory is a backup job too ("steward-state"): the
// state database as a consistent SQLite copy, the rest of the folder as it is, the TSDB's
// data, caches and the backup scratch space left out; what it stored restores.
TEST_F(BackupSchedule, StewardsOwnStateIsBackedUpAndRestores) {
  p_.WriteStack(R"yaml(project: shop
backup:
  repository: ./repo
  password_file: ./secrets/backup.pw
  schedule: "0 3 1 1 *"
  state: true
services:
  db:
    command: sleep
    args: ["3600"]
)yaml");
  ASSERT_APPLY_OK(p_);
  auto started = Post("/api/v1/backups/steward-state/run");
  ASSERT_TRUE(started);
  ASSERT_EQ(started->status, 202) << started->body;
  json entry;
  ASSERT_TRUE(PollUntil(
      [&] {
        entry = Entry("steward-state");
        return entry.is_object() && entry["last_run"].is_object() &&
               entry["last_run"].value("ok", false) &&
               !entry["last_run"].value("snapshot", "").empty();
      },
      20000))
      << entry.dump();
  const std::string target = p_.dir() + "/restored";
  RunResult restore = p_.Steward({"backup", "--repo", p_.dir() + "/repo", "--password-file",
                                  p_.dir() + "/secrets/backup.pw", "restore",
                                  entry["last_run"]["snapshot"].get<std::string>(), "--target",
                                  target});
  ASSERT_EQ(restore.exit_code, 0) << restore.out << restore.err;
  const std::string state = target + p_.StateDir();
  EXPECT_TRUE(fs::exists(state + "/api.token"));
  EXPECT_TRUE(fs::exists(p_.StateDir() + "/tsdb"));
  EXPECT_FALSE(fs::exists(state + "/tsdb"));
  EXPECT_FALSE(fs::exists(state + "/state.db"));  // the live file: its copy stands for it
  std::ifstream db(state + "/backup/steward-state/sqlite" + p_.StateDir() + "/state.db",
                   std::ios::binary);
  std::string header(16, '\0');
  ASSERT_TRUE(db.read(header.data(), header.size())) << "no copy of state.db in the snapshot";
  EXPECT_EQ(header, std::string("SQLite format 3\0", 16));
}

}  // namespace
}  // namespace steward::testing
