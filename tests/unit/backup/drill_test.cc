// Restore drills against a real repository in a temp dir: which snapshot is drilled, what
// verify sees, how a failing or hanging verify is recorded, and that nothing is left behind.
#include <gtest/gtest.h>
#include <stdlib.h>
#include <sys/stat.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <memory>
#include <string>
#include <vector>

#include "backup/archiver.h"
#include "backup/backend.h"
#include "backup/job.h"
#include "backup/repository.h"

namespace steward::backup {
namespace {

namespace fs = std::filesystem;

void WriteFile(const fs::path& path, const std::string& content) {
  fs::create_directories(path.parent_path());
  std::ofstream(path, std::ios::binary) << content;
}

class DrillTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/steward-drill-test-XXXXXX";
    ASSERT_NE(mkdtemp(tmpl), nullptr);
    root_ = tmpl;
    data_ = root_ / "srv" / "db";
    scratch_ = root_ / "scratch";
    work_ = root_ / "work";
    fs::create_directories(work_);
    auto backend = OpenLocalBackend((root_ / "repo").string(), {.create = true});
    ASSERT_TRUE(backend.ok()) << backend.status().ToString();
    InitOptions init;
    init.kdf.ops = 1;
    init.kdf.mem = 8192;
    auto repo = Repository::Init(std::move(*backend), "pw", init);
    ASSERT_TRUE(repo.ok()) << repo.status().ToString();
    repo_ = std::move(*repo);
  }
  void TearDown() override {
    repo_.reset();
    std::error_code ec;
    // Restored folders may be read-only; make the tree removable first.
    for (auto it = fs::recursive_directory_iterator(root_, ec);
         !ec && it != fs::recursive_directory_iterator(); it.increment(ec)) {
      if (it->is_directory() && !it->is_symlink()) ::chmod(it->path().c_str(), 0700);
    }
    fs::remove_all(root_, ec);
  }

  // Backs up data_ as a snapshot of `service` taken at `time_ns`, with `tags`.
  Id Snap(const std::string& service, int64_t time_ns, std::vector<std::string> tags = {}) {
    BackupOptions bo;
    bo.paths = {data_.string()};
    auto backed = BackupPaths(repo_.get(), bo);
    EXPECT_TRUE(backed.ok()) << backed.status().ToString();
    EXPECT_TRUE(repo_->Flush().ok());
    Snapshot s;
    s.time_ns = time_ns;
    s.host = "test";
    s.paths = bo.paths;
    s.tags = std::move(tags);
    s.tree = backed->tree;
    s.service = service;
    auto id = repo_->SaveSnapshot(s);
    EXPECT_TRUE(id.ok()) << id.status().ToString();
    return *id;
  }

  DrillSpec Spec(const std::string& service, const std::string& verify) {
    DrillSpec spec;
    spec.name = service;
    spec.verify = verify;
    spec.work_dir = work_.string();
    spec.scratch_root = scratch_.string();
    return spec;
  }

  // Folders the drill left under the scratch root.
  size_t Leftovers() {
    std::error_code ec;
    size_t n = 0;
    for (auto it = fs::directory_iterator(scratch_, ec); !ec && it != fs::directory_iterator();
         it.increment(ec)) {
      ++n;
    }
    return n;
  }

  fs::path root_, data_, scratch_, work_;
  std::unique_ptr<Repository> repo_;
};

TEST_F(DrillTest, RestoresTheServicesLatestSnapshotAndRunsVerifyInIt) {
  WriteFile(data_ / "table", "v1");
  Snap("db", NowUnixNanos() - 7'200'000'000'000);
  WriteFile(data_ / "table", "v2");
  Id latest = Snap("db", NowUnixNanos() - 60'000'000'000);
  WriteFile(data_ / "table", "other service");
  Snap("web", NowUnixNanos());  // newer, but not this service's

  // verify sees the restored paths under RESTORE_DIR (mirrored from "/"), the snapshot id, the
  // service, RESTORE_ROOT as an alias, and runs in work_dir.
  std::string verify = "set -e; test \"$(cat \"$RESTORE_DIR" + data_.string() +
                       "/table\")\" = v2; test \"$RESTORE_ROOT\" = \"$RESTORE_DIR\"; "
                       "test \"$STEWARD_SERVICE\" = db; echo \"$SNAPSHOT_ID\" > seen; "
                       "test \"$(pwd)\" = \"" + work_.string() + "\"";
  std::vector<std::string> lines;
  auto r = RunDrill(repo_.get(), Spec("db", verify),
                    [&](const std::string& l) { lines.push_back(l); });
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_TRUE(r->ok) << r->message;
  EXPECT_EQ(r->message, "");
  EXPECT_EQ(r->service, "db");
  EXPECT_EQ(r->snapshot, latest);
  std::ifstream seen(work_ / "seen");
  std::string seen_id;
  seen >> seen_id;
  EXPECT_EQ(seen_id, latest.Hex());
  EXPECT_GE(r->files, 1u);
  EXPECT_GE(r->bytes, 2u);
  EXPECT_GT(r->restore_seconds, 0);
  EXPECT_GT(r->verify_seconds, 0);
  EXPECT_DOUBLE_EQ(r->rto_seconds, r->restore_seconds + r->verify_seconds);
  // RPO is the snapshot's age when the drill started: about a minute.
  EXPECT_GE(r->rpo_seconds, 59);
  EXPECT_LT(r->rpo_seconds, 120);
  EXPECT_EQ(r->rpo_seconds, (r->started_ns - r->snapshot_time_ns) / 1e9);
  EXPECT_EQ(Leftovers(), 0u);
  EXPECT_FALSE(lines.empty());
}

TEST_F(DrillTest, FindsSnapshotsByServiceTag) {
  WriteFile(data_ / "f", "tagged");
  Id tagged = Snap("", NowUnixNanos(), {"nightly", "service=cache"});
  auto r = RunDrill(repo_.get(), Spec("cache", ""), nullptr);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_TRUE(r->ok);
  EXPECT_EQ(r->snapshot, tagged);
  EXPECT_EQ(r->verify_seconds, 0);  // restore only
}

TEST_F(DrillTest, ServiceWithoutSnapshotIsNotFound) {
  WriteFile(data_ / "f", "x");
  Snap("web", NowUnixNanos());
  auto r = RunDrill(repo_.get(), Spec("db", "true"), nullptr);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), StatusCode::kNotFound);
  EXPECT_NE(r.status().message().find("steward backup run --service db"), std::string::npos)
      << r.status().message();
}

TEST_F(DrillTest, FailingVerifyIsAFailedDrillWithItsLastLines) {
  WriteFile(data_ / "f", "x");
  Snap("db", NowUnixNanos());
  std::vector<std::string> lines;
  auto r = RunDrill(repo_.get(),
                    Spec("db", "for i in $(seq 1 30); do echo line$i; done; "
                               "echo 'expected 3 rows, got 2' >&2; exit 3"),
                    [&](const std::string& l) { lines.push_back(l); });
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_FALSE(r->ok);
  EXPECT_EQ(r->message.rfind("verify exited 3: ", 0), 0u) << r->message;
  EXPECT_NE(r->message.find("expected 3 rows, got 2"), std::string::npos);
  EXPECT_NE(r->message.find("line30"), std::string::npos);
  EXPECT_EQ(r->message.find("line1\n"), std::string::npos) << "only the last lines are kept";
  EXPECT_GT(r->rto_seconds, 0);
  EXPECT_EQ(Leftovers(), 0u);
  // Every line of verify's output went to the log.
  EXPECT_NE(std::find(lines.begin(), lines.end(), "line1"), lines.end());
}

TEST_F(DrillTest, HangingVerifyIsKilledAtTheTimeout) {
  WriteFile(data_ / "f", "x");
  Snap("db", NowUnixNanos());
  DrillSpec spec = Spec("db", "echo started; sleep 60 & sleep 60; echo never");
  spec.verify_timeout_seconds = 1;
  auto start = std::chrono::steady_clock::now();
  auto r = RunDrill(repo_.get(), spec, nullptr);
  auto took = std::chrono::steady_clock::now() - start;
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_FALSE(r->ok);
  EXPECT_EQ(r->message.rfind("verify timed out after 1 s", 0), 0u) << r->message;
  EXPECT_NE(r->message.find("started"), std::string::npos);
  EXPECT_LT(took, std::chrono::seconds(10));
  EXPECT_EQ(Leftovers(), 0u);
}

TEST_F(DrillTest, CancelKillsVerifyAndFailsTheDrill) {
  WriteFile(data_ / "f", "x");
  Snap("db", NowUnixNanos());
  std::atomic<bool> cancel{false};
  DrillSpec spec = Spec("db", "echo waiting; sleep 60");
  spec.cancel = &cancel;
  auto start = std::chrono::steady_clock::now();
  // Cancel once verify has said something: it is running then.
  auto r = RunDrill(repo_.get(), spec, [&](const std::string& line) {
    if (line == "waiting") cancel = true;
  });
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_FALSE(r->ok);
  EXPECT_EQ(r->message.rfind("verify cancelled", 0), 0u) << r->message;
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(10));
  EXPECT_EQ(Leftovers(), 0u);
}

TEST_F(DrillTest, RemovesReadOnlyRestoredFolders) {
  WriteFile(data_ / "ro" / "f", "x");
  ASSERT_EQ(::chmod((data_ / "ro").c_str(), 0555), 0);
  Snap("db", NowUnixNanos());
  ::chmod((data_ / "ro").c_str(), 0755);
  auto r = RunDrill(repo_.get(), Spec("db", "test -f \"$RESTORE_DIR" + data_.string() + "/ro/f\""),
                    nullptr);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_TRUE(r->ok) << r->message;
  EXPECT_EQ(Leftovers(), 0u);
}

}  // namespace
}  // namespace steward::backup
