// Crash and disk-full tests: a forked child ingests; the parent kills it (kill -9) or lets it hit
// RLIMIT_FSIZE, then reopens the database and checks what survived.
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <filesystem>
#include <random>

#include "metrics/registry.h"
#include "tsdb/tsdb.h"
#include "tsdb_test_util.h"

namespace steward::tsdb {
namespace {

using testing::Eq;
using testing::L;
using testing::OpenDb;
using testing::SelectAll;
using testing::TempDir;
using testing::TestOptions;

const Labels kSeries = L({{"__name__", "crash"}, {"job", "test"}});

void WriteInt(int fd, int64_t v) {
  if (::write(fd, &v, sizeof v) != sizeof v) _exit(10);
}

bool ReadInt(int fd, int64_t* v) { return ::read(fd, v, sizeof *v) == sizeof *v; }

// Child: appends and commits sample i at t = i forever; reports i after each SyncWal.
[[noreturn]] void Ingest(const std::string& dir, int fd) {
  Options o = TestOptions(dir);
  o.block_duration = Duration(4000);  // head compaction and WAL checkpoints happen too
  auto db = Db::Open(o);
  if (!db.ok()) _exit(11);
  auto app = (*db)->NewAppender();
  SeriesRef ref = 0;
  for (int64_t i = 0;; ++i) {
    auto r = app->Append(ref, kSeries, i, static_cast<double>(i));
    if (!r.ok() || !app->Commit().ok()) _exit(12);
    ref = *r;
    if (i % 500 == 499) {
      if (!(*db)->SyncWal().ok()) _exit(13);
      WriteInt(fd, i);
    }
    if (i % 3000 == 2999 && !(*db)->Compact().ok()) _exit(14);
  }
}

// Every sample 0..k once, and k at least what was reported synced.
void ExpectContiguous(const std::string& dir, int64_t at_least) {
  Options o = TestOptions(dir);
  o.block_duration = Duration(4000);
  auto db = OpenDb(o);
  ASSERT_NE(db, nullptr);
  auto got = SelectAll(*db, {Eq("__name__", "crash")});
  ASSERT_EQ(got.size(), 1u);
  const auto& samples = got[0].samples;
  for (size_t j = 0; j < samples.size(); ++j) {
    ASSERT_EQ(samples[j].t, static_cast<int64_t>(j));
    ASSERT_EQ(samples[j].v, static_cast<double>(j));
  }
  int64_t k = static_cast<int64_t>(samples.size()) - 1;
  EXPECT_GE(k, at_least);
  Stats s = db->GetStats();
  EXPECT_EQ(s.block_samples + s.head_samples, k + 1) << "a sample is stored twice";
}

TEST(Crash, KillDuringIngestKeepsEverySyncedSampleOnce) {
  unsigned seed = std::random_device{}();
  SCOPED_TRACE("seed " + std::to_string(seed));
  std::mt19937 rng(seed);
  for (int round = 0; round < 6; ++round) {
    TempDir dir;
    int fds[2];
    ASSERT_EQ(::pipe(fds), 0);
    pid_t pid = ::fork();
    ASSERT_GE(pid, 0);
    if (pid == 0) {
      ::close(fds[0]);
      Ingest(dir.path(), fds[1]);
    }
    ::close(fds[1]);
    int64_t synced = -1, v;
    int reports = 1 + static_cast<int>(rng() % 40);
    for (int i = 0; i < reports; ++i) {
      ASSERT_TRUE(ReadInt(fds[0], &v)) << "the ingesting child died";
      synced = v;
    }
    ::usleep(rng() % 5000);  // not synchronisation: a random moment to kill at
    ::kill(pid, SIGKILL);
    int status;
    ::waitpid(pid, &status, 0);
    ASSERT_TRUE(WIFSIGNALED(status)) << "child exited with " << WEXITSTATUS(status);
    while (ReadInt(fds[0], &v)) synced = v;
    ::close(fds[0]);
    ExpectContiguous(dir.path(), synced);
  }
}

// Child: commits until RLIMIT_FSIZE makes the WAL write fail; checks the error, the metric and
// that what it committed is still readable; reports how many samples were committed.
[[noreturn]] void FillDisk(const std::string& dir, int fd) {
  metrics::Registry registry;
  Options o = TestOptions(dir);
  o.metrics = &registry;
  auto opened = Db::Open(o);
  if (!opened.ok()) _exit(11);
  Db& db = **opened;
  auto app = db.NewAppender();
  int64_t committed = 0;
  auto batch = [&]() -> Status {
    for (int k = 0; k < 100; ++k) {
      if (!app->Append(0, kSeries, committed + k, static_cast<double>(committed + k)).ok())
        _exit(12);
    }
    auto r = app->Commit();
    if (r.ok()) committed += r->appended;
    return r.status();
  };
  for (int i = 0; i < 10; ++i) {
    if (!batch().ok()) _exit(13);
  }
  if (!db.SyncWal().ok()) _exit(14);
  ::signal(SIGXFSZ, SIG_IGN);
  rlim_t limit = static_cast<rlim_t>(db.GetStats().wal_bytes + 3000);
  struct rlimit rl = {limit, limit};
  if (::setrlimit(RLIMIT_FSIZE, &rl) != 0) _exit(15);
  Status st;
  for (int i = 0; i < 100 && st.ok(); ++i) st = batch();
  if (st.ok() || st.code() != StatusCode::kIOError) _exit(16);
  if (batch().code() != StatusCode::kIOError) _exit(17);  // still full: still an error
  if (db.GetStats().write_errors < 2) _exit(18);
  if (registry.Render().find("steward_tsdb_write_errors_total 2") == std::string::npos) _exit(19);
  auto got = db.NewQuerier()->Select({Eq("__name__", "crash")}, 0, 1 << 30);
  if (!got.ok() || (*got)[0].samples.size() != static_cast<size_t>(committed)) _exit(20);
  WriteInt(fd, committed);
  if (!db.Close().ok()) _exit(21);
  _exit(0);
}

TEST(WriteErrors, FullDiskFailsCommitWithIoErrorAndKeepsStoredData) {
  TempDir dir;
  int fds[2];
  ASSERT_EQ(::pipe(fds), 0);
  pid_t pid = ::fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) {
    ::close(fds[0]);
    FillDisk(dir.path(), fds[1]);
  }
  ::close(fds[1]);
  int status;
  ::waitpid(pid, &status, 0);
  ASSERT_TRUE(WIFEXITED(status));
  ASSERT_EQ(WEXITSTATUS(status), 0) << "child check failed (see exit codes in FillDisk)";
  int64_t committed = 0;
  ASSERT_TRUE(ReadInt(fds[0], &committed));
  ::close(fds[0]);
  EXPECT_GT(committed, 1000);
  auto db = OpenDb(TestOptions(dir.path()));
  auto got = SelectAll(*db, {Eq("__name__", "crash")});
  ASSERT_EQ(got.size(), 1u);
  ASSERT_EQ(got[0].samples.size(), static_cast<size_t>(committed));
  for (int64_t j = 0; j < committed; ++j) ASSERT_EQ(got[0].samples[j].t, j);
  // Appending works again once there is room.
  auto app = db->NewAppender();
  ASSERT_TRUE(app->Append(0, kSeries, committed, 0).ok());
  EXPECT_EQ(app->Commit()->appended, 1);
}

// Child: a block write hits the file size limit; compaction fails cleanly.
[[noreturn]] void FailCompaction(const std::string& dir) {
  metrics::Registry registry;
  Options o = TestOptions(dir);
  o.block_duration = Duration(1000);
  o.metrics = &registry;
  auto opened = Db::Open(o);
  if (!opened.ok()) _exit(11);
  Db& db = **opened;
  auto app = db.NewAppender();
  for (int t = 0; t < 3000; t += 10) {
    if (!app->Append(0, kSeries, t, t).ok()) _exit(12);
  }
  if (!app->Commit().ok() || !db.SyncWal().ok()) _exit(13);
  ::signal(SIGXFSZ, SIG_IGN);
  struct rlimit rl = {64, 64};
  if (::setrlimit(RLIMIT_FSIZE, &rl) != 0) _exit(15);
  Status st = db.FlushHead();
  if (st.code() != StatusCode::kIOError) _exit(16);
  if (registry.Render().find("steward_tsdb_compaction_failures_total 1") == std::string::npos) {
    _exit(17);
  }
  if (db.GetStats().blocks != 0 || db.GetStats().head_samples != 300) _exit(18);
  db.Close().IgnoreError();
  _exit(0);
}

TEST(WriteErrors, FailedBlockWriteLeavesNoPartialBlockAndLosesNothing) {
  TempDir dir;
  pid_t pid = ::fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) FailCompaction(dir.path());
  int status;
  ::waitpid(pid, &status, 0);
  ASSERT_TRUE(WIFEXITED(status));
  ASSERT_EQ(WEXITSTATUS(status), 0) << "child check failed (see exit codes in FailCompaction)";
  for (const auto& e : std::filesystem::directory_iterator(dir.path())) {
    std::string name = e.path().filename();
    EXPECT_TRUE(name == "wal" || name == "lock") << "left behind: " << name;
  }
  Options o = TestOptions(dir.path());
  o.block_duration = Duration(1000);
  auto db = OpenDb(o);
  EXPECT_TRUE(db->BlockErrors().empty());
  EXPECT_EQ(SelectAll(*db, {Eq("__name__", "crash")})[0].samples.size(), 300u);
}

}  // namespace
}  // namespace steward::tsdb
