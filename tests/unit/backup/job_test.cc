// Backup jobs against a real repository in a temp dir: hooks and BACKUP_DIR, a failing before
// hook, SQLite copies taken while another connection writes, and per-service retention.
#include <gtest/gtest.h>
#include <sqlite3.h>

#include <atomic>
#include <filesystem>
#include <fstream>
#include <thread>

#include "backup/job.h"
#include "unit/backup/repo_fixture.h"

namespace steward::backup {
namespace {

namespace fs = std::filesystem;
using testing::Files;
using testing::TempDir;

void WriteFile(const fs::path& path, const std::string& content) {
  fs::create_directories(path.parent_path());
  std::ofstream(path, std::ios::binary) << content;
}

class JobTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto repo = testing::CreateRepo(dir_.path() + "/repo", testing::SmallRepoOptions(1 << 20));
    ASSERT_TRUE(repo.ok()) << repo.status().ToString();
    repo_ = std::move(*repo);
    fs::create_directories(work());
  }

  std::string root() const { return dir_.path(); }
  std::string work() const { return dir_.path() + "/stack"; }

  JobSpec Spec(const std::string& name) const {
    JobSpec s;
    s.name = name;
    s.work_dir = work();
    s.scratch_root = root() + "/scratch";
    s.host = "testhost";
    return s;
  }

  StatusOr<JobResult> Run(const JobSpec& spec) {
    return RunBackupJob(repo_.get(), spec, [this](const std::string& line) {
      log_.push_back(line);
    });
  }

  // Every file of a snapshot, by path.
  Files Read(const Id& id) {
    auto files = testing::ReadSnapshot(repo_.get(), id);
    EXPECT_TRUE(files.ok()) << files.status().ToString();
    return files.ok() ? *files : Files{};
  }

  std::string LogText() const {
    std::string out;
    for (const auto& l : log_) out += l + "\n";
    return out;
  }

  TempDir dir_;
  std::unique_ptr<Repository> repo_;
  std::vector<std::string> log_;
};

TEST_F(JobTest, BeforeHookDumpEndsUpInTheSnapshotWithThePaths) {
  WriteFile(root() + "/data/a.txt", "alpha");
  JobSpec spec = Spec("db");
  spec.paths = {root() + "/data"};
  spec.before = "echo \"dump of $STEWARD_SERVICE from $(pwd)\" > \"$BACKUP_DIR/db.sql\"; "
                "echo hook-said-hi; echo to-stderr >&2";
  spec.after = "echo after-ran";
  auto r = Run(spec);
  ASSERT_TRUE(r.ok()) << r.status().ToString() << "\n" << LogText();

  EXPECT_EQ(r->saved.service, "db");
  EXPECT_EQ(r->saved.tags, std::vector<std::string>{"service=db"});
  EXPECT_EQ(r->saved.host, "testhost");
  Files files = Read(r->snapshot);
  std::string dump = root() + "/scratch/db/db.sql";
  ASSERT_EQ(files.count(dump), 1u) << "snapshot has " << files.size() << " files";
  EXPECT_EQ(files[dump], "dump of db from " + work() + "\n");
  EXPECT_EQ(files[root() + "/data/a.txt"], "alpha");
  EXPECT_NE(LogText().find("before: hook-said-hi"), std::string::npos) << LogText();
  EXPECT_NE(LogText().find("before: to-stderr"), std::string::npos) << LogText();
  EXPECT_NE(LogText().find("after: after-ran"), std::string::npos) << LogText();
  EXPECT_TRUE(r->warnings.empty());
  EXPECT_FALSE(fs::exists(root() + "/scratch/db")) << "the scratch folder is removed";

  // The same paths next time: the previous snapshot is the parent, unchanged files reused.
  auto again = Run(spec);
  ASSERT_TRUE(again.ok()) << again.status().ToString();
  ASSERT_TRUE(again->saved.parent.has_value());
  EXPECT_EQ(*again->saved.parent, r->snapshot);
}

TEST_F(JobTest, FailingBeforeHookFailsTheJobAndStoresNothing) {
  WriteFile(root() + "/data/a.txt", "alpha");
  JobSpec spec = Spec("db");
  spec.paths = {root() + "/data"};
  spec.before = "echo cannot reach the database >&2; exit 3";
  auto r = Run(spec);
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find("exited 3"), std::string::npos) << r.status().ToString();
  EXPECT_NE(LogText().find("cannot reach the database"), std::string::npos) << LogText();
  auto snaps = repo_->ListSnapshots();
  ASSERT_TRUE(snaps.ok());
  EXPECT_TRUE(snaps->empty());
  EXPECT_TRUE(testing::RepoFiles(root() + "/repo", "data").empty());
}

TEST_F(JobTest, FailingAfterHookIsAWarning) {
  WriteFile(root() + "/data/a.txt", "alpha");
  JobSpec spec = Spec("db");
  spec.paths = {root() + "/data"};
  spec.after = "exit 5";
  auto r = Run(spec);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  ASSERT_EQ(r->warnings.size(), 1u);
  EXPECT_NE(r->warnings[0].find("after hook of db exited 5"), std::string::npos);
}

TEST_F(JobTest, SqliteIsCopiedConsistentlyWhileAnotherConnectionWrites) {
  std::string db_path = root() + "/data/app.db";
  fs::create_directories(root() + "/data");
  sqlite3* db = nullptr;
  ASSERT_EQ(sqlite3_open(db_path.c_str(), &db), SQLITE_OK);
  ASSERT_EQ(sqlite3_exec(db,
                         "PRAGMA journal_mode=WAL; CREATE TABLE t(id INTEGER PRIMARY KEY, "
                         "pad TEXT); CREATE TABLE total(n INTEGER); INSERT INTO total VALUES(0);",
                         nullptr, nullptr, nullptr),
            SQLITE_OK);
  // The writer keeps total.n equal to the rows of t, in transactions; a torn copy breaks it.
  std::atomic<bool> stop{false};
  std::atomic<int> committed{0};
  std::thread writer([&] {
    while (!stop) {
      sqlite3_exec(db,
                   "BEGIN; INSERT INTO t(pad) VALUES(hex(randomblob(200))); "
                   "INSERT INTO t(pad) VALUES(hex(randomblob(200))); "
                   "UPDATE total SET n = n + 2; COMMIT;",
                   nullptr, nullptr, nullptr);
      ++committed;
    }
  });
  while (committed < 200) std::this_thread::yield();

  JobSpec spec = Spec("app");
  spec.paths = {root() + "/data"};
  spec.sqlite = {db_path};
  auto r = Run(spec);
  stop = true;
  writer.join();
  sqlite3_close(db);
  ASSERT_TRUE(r.ok()) << r.status().ToString() << "\n" << LogText();

  Files files = Read(r->snapshot);
  EXPECT_EQ(files.count(db_path), 0u) << "the live file is excluded in favour of the copy";
  EXPECT_EQ(files.count(db_path + "-wal"), 0u);
  std::string copy_in_snapshot = root() + "/scratch/app/sqlite" + db_path;
  ASSERT_EQ(files.count(copy_in_snapshot), 1u);

  std::string copy = root() + "/restored.db";
  std::ofstream(copy, std::ios::binary) << files[copy_in_snapshot];
  sqlite3* c = nullptr;
  ASSERT_EQ(sqlite3_open_v2(copy.c_str(), &c, SQLITE_OPEN_READONLY, nullptr), SQLITE_OK);
  int64_t rows = -1, total = -2;
  sqlite3_stmt* st = nullptr;
  ASSERT_EQ(sqlite3_prepare_v2(c, "SELECT (SELECT count(*) FROM t), (SELECT n FROM total)", -1,
                               &st, nullptr),
            SQLITE_OK);
  ASSERT_EQ(sqlite3_step(st), SQLITE_ROW);
  rows = sqlite3_column_int64(st, 0);
  total = sqlite3_column_int64(st, 1);
  sqlite3_finalize(st);
  char* err = nullptr;
  std::string integrity;
  sqlite3_exec(
      c, "PRAGMA integrity_check",
      [](void* out, int, char** v, char**) {
        *static_cast<std::string*>(out) += v[0] ? v[0] : "";
        return 0;
      },
      &integrity, &err);
  sqlite3_close(c);
  EXPECT_GE(rows, 400);
  EXPECT_EQ(rows, total);
  EXPECT_EQ(integrity, "ok");
}

TEST_F(JobTest, MissingSqliteDatabaseFailsTheJob) {
  JobSpec spec = Spec("app");
  spec.sqlite = {root() + "/nope.db"};
  auto r = Run(spec);
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find(root() + "/nope.db"), std::string::npos);
}

TEST_F(JobTest, RetentionForgetsOldSnapshotsOfThisServiceOnly) {
  WriteFile(root() + "/data/a.txt", "alpha");
  // Another service's snapshots in the same repository: never this job's to forget.
  for (int i = 0; i < 3; ++i) {
    JobSpec other = Spec("other");
    other.paths = {root() + "/data"};
    ASSERT_TRUE(Run(other).ok());
  }
  JobSpec spec = Spec("db");
  spec.paths = {root() + "/data"};
  spec.keep.last = 2;
  std::vector<Id> mine;
  for (int i = 0; i < 4; ++i) {
    WriteFile(root() + "/data/a.txt", "alpha " + std::to_string(i));
    auto r = Run(spec);
    ASSERT_TRUE(r.ok()) << r.status().ToString();
    EXPECT_EQ(r->forgotten, i < 2 ? 0 : 1);
    mine.push_back(r->snapshot);
  }
  auto snaps = repo_->ListSnapshots();
  ASSERT_TRUE(snaps.ok());
  int others = 0;
  std::vector<Id> kept;
  for (const auto& [id, s] : *snaps) {
    if (s.service == "other") ++others;
    if (s.service == "db") kept.push_back(id);
  }
  EXPECT_EQ(others, 3);
  ASSERT_EQ(kept.size(), 2u);
  EXPECT_TRUE(std::find(kept.begin(), kept.end(), mine[2]) != kept.end());
  EXPECT_TRUE(std::find(kept.begin(), kept.end(), mine[3]) != kept.end());
}

TEST_F(JobTest, SecretsAreReadLikeTheCliReadsThem) {
  WriteFile(root() + "/pw", "s3cret\nignored second line\n");
  WriteFile(root() + "/key", "whole\nkey file");
  auto pw = ReadRepositorySecret(root() + "/pw", "");
  ASSERT_TRUE(pw.ok());
  EXPECT_EQ(*pw, "s3cret");
  auto key = ReadRepositorySecret("", root() + "/key");
  ASSERT_TRUE(key.ok());
  EXPECT_EQ(*key, "whole\nkey file");
  auto missing = ReadRepositorySecret(root() + "/nope", "");
  ASSERT_FALSE(missing.ok());
  EXPECT_NE(missing.status().message().find(root() + "/nope"), std::string::npos);

  WriteFile(root() + "/good.pw", std::string(testing::kPassword) + "\n");
  auto repo = OpenJobRepository("local:" + root() + "/repo", root() + "/good.pw", "");
  EXPECT_TRUE(repo.ok()) << repo.status().ToString();
  auto wrong = OpenJobRepository(root() + "/repo", root() + "/pw", "");
  ASSERT_FALSE(wrong.ok());
  EXPECT_EQ(wrong.status().message().find("s3cret"), std::string::npos);
}

}  // namespace
}  // namespace steward::backup
