#include "backup/lock.h"

#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <thread>

#include "backup/backend.h"
#include "unit/state/temp_dir.h"

namespace steward::backup {
namespace {

namespace fs = std::filesystem;
using namespace std::chrono_literals;

std::string ThisHost() {
  char host[256] = {};
  gethostname(host, sizeof host - 1);
  return host;
}

class LockTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(InitCrypto().ok());
    LocalBackendOptions options;
    options.create = true;
    auto backend = OpenLocalBackend(dir_, options);
    ASSERT_TRUE(backend.ok()) << backend.status().ToString();
    backend_ = std::move(backend).value();
    key_ = RandomKey();
  }
  void TearDown() override {
    SetLockRefreshIntervalForTesting(kRefreshInterval);
  }

  std::vector<LockInfo> Locks() {
    auto locks = ListLocks(backend_.get(), key_);
    EXPECT_TRUE(locks.ok()) << locks.status().ToString();
    return locks.ok() ? *locks : std::vector<LockInfo>{};
  }

  // A lock file as another process would have written it.
  std::string WriteForeignLock(const std::string& host, int pid, int64_t time_unix, bool exclusive,
                               const std::string& command = "prune") {
    nlohmann::json j = {{"host", host},       {"user", "other"},   {"pid", pid},
                        {"command", command}, {"time", time_unix}, {"exclusive", exclusive}};
    std::string sealed;
    Seal(key_, j.dump(), &sealed);
    std::string name = Sha256(sealed).Hex();
    EXPECT_TRUE(backend_->Save(FileType::kLock, name, sealed).ok());
    return name;
  }

  static int DeadPid() {
    pid_t pid = fork();
    if (pid == 0) _exit(0);
    int status;
    waitpid(pid, &status, 0);
    return pid;  // reaped: no process has it until the pid space wraps
  }

  state::testing::TempDir tmp_;
  const std::string dir_ = tmp_.path();
  std::unique_ptr<Backend> backend_;
  Key key_{};
};

TEST_F(LockTest, SharedLocksCoexist) {
  auto a = RepoLock::Acquire(backend_.get(), key_, "backup", false);
  ASSERT_TRUE(a.ok()) << a.status().ToString();
  auto b = RepoLock::Acquire(backend_.get(), key_, "backup", false);
  ASSERT_TRUE(b.ok()) << b.status().ToString();
  auto locks = Locks();
  ASSERT_EQ(locks.size(), 2u);
  for (const LockInfo& l : locks) {
    EXPECT_EQ(l.host, ThisHost());
    EXPECT_EQ(l.pid, getpid());
    EXPECT_EQ(l.command, "backup");
    EXPECT_FALSE(l.exclusive);
    EXPECT_FALSE(l.stale);
    EXPECT_NEAR(l.time_unix, time(nullptr), 5);
    EXPECT_FALSE(l.user.empty());
    EXPECT_EQ(l.name.size(), 64u);
  }
}

TEST_F(LockTest, ExclusiveIsRefusedWhileASharedLockIsHeld) {
  auto shared = RepoLock::Acquire(backend_.get(), key_, "backup", false);
  ASSERT_TRUE(shared.ok()) << shared.status().ToString();
  auto prune = RepoLock::Acquire(backend_.get(), key_, "prune", true);
  ASSERT_FALSE(prune.ok());
  EXPECT_EQ(prune.status().code(), StatusCode::kAborted);
  const std::string& msg = prune.status().message();
  EXPECT_NE(msg.find("repository is locked by backup on host " + ThisHost()), std::string::npos)
      << msg;
  EXPECT_NE(msg.find("pid " + std::to_string(getpid())), std::string::npos) << msg;
  EXPECT_NE(msg.find(" s ago"), std::string::npos) << msg;
  EXPECT_EQ(Locks().size(), 1u);  // the refused locker removed its file
}

TEST_F(LockTest, SharedIsRefusedWhileAnExclusiveLockIsHeld) {
  auto prune = RepoLock::Acquire(backend_.get(), key_, "prune", true);
  ASSERT_TRUE(prune.ok()) << prune.status().ToString();
  for (bool exclusive : {false, true}) {
    auto other = RepoLock::Acquire(backend_.get(), key_, "backup", exclusive);
    ASSERT_FALSE(other.ok());
    EXPECT_EQ(other.status().code(), StatusCode::kAborted);
    EXPECT_NE(other.status().message().find("locked exclusively by prune on host " + ThisHost() +
                                            " (pid " + std::to_string(getpid())),
              std::string::npos)
        << other.status().message();
  }
  EXPECT_EQ(Locks().size(), 1u);
  (*prune)->Release();
  EXPECT_TRUE(RepoLock::Acquire(backend_.get(), key_, "backup", false).ok());
}

TEST_F(LockTest, MessageNamesAForeignHolderAndItsAge) {
  WriteForeignLock("db-1", 12, time(nullptr) - 3 * 60 - 5, true);
  auto backup = RepoLock::Acquire(backend_.get(), key_, "backup", false);
  ASSERT_FALSE(backup.ok());
  EXPECT_NE(backup.status().message().find(
                "repository is locked exclusively by prune on host db-1 (pid 12, user other, "
                "3 min ago)"),
            std::string::npos)
      << backup.status().message();
}

TEST_F(LockTest, ADeadProcessOnThisHostIsStale) {
  const int dead = DeadPid();
  std::string name = WriteForeignLock(ThisHost(), dead, time(nullptr), true);
  // A live pid on another host cannot be checked: it holds.
  std::string remote = WriteForeignLock("elsewhere", dead, time(nullptr), false, "backup");
  auto backup = RepoLock::Acquire(backend_.get(), key_, "backup", false);
  ASSERT_TRUE(backup.ok()) << backup.status().ToString();
  int stale = 0;
  for (const LockInfo& l : Locks()) {
    if (l.name == name) {
      EXPECT_TRUE(l.stale);
      EXPECT_EQ(l.pid, dead);
      ++stale;
    } else {
      EXPECT_FALSE(l.stale) << l.host;
    }
  }
  EXPECT_EQ(stale, 1);
  auto removed = RemoveLocks(backend_.get(), key_, /*all=*/false);
  ASSERT_TRUE(removed.ok()) << removed.status().ToString();
  EXPECT_EQ(*removed, 1);
  EXPECT_FALSE(backend_->Exists(FileType::kLock, name));
  EXPECT_TRUE(backend_->Exists(FileType::kLock, remote));
  EXPECT_EQ(Locks().size(), 2u);  // ours and the remote one
}

TEST_F(LockTest, AnOldLockIsStale) {
  const int64_t now = time(nullptr);
  std::string old = WriteForeignLock("elsewhere", 1, now - 31 * 60, true);
  std::string recent = WriteForeignLock("elsewhere", 2, now - 29 * 60, false, "backup");
  for (const LockInfo& l : Locks()) EXPECT_EQ(l.stale, l.name == old) << l.time_unix;
  // The old exclusive lock does not block; the recent shared one blocks an exclusive locker.
  auto backup = RepoLock::Acquire(backend_.get(), key_, "backup", false);
  EXPECT_TRUE(backup.ok()) << backup.status().ToString();
  auto prune = RepoLock::Acquire(backend_.get(), key_, "prune", true);
  ASSERT_FALSE(prune.ok());
  EXPECT_NE(prune.status().message().find("pid "), std::string::npos);
  EXPECT_TRUE(backend_->Exists(FileType::kLock, recent));
}

TEST_F(LockTest, UnreadableLocksAreStale) {
  ASSERT_TRUE(backend_->Save(FileType::kLock, std::string(64, 'e'), "garbage").ok());
  std::string other_key;
  Seal(RandomKey(), "{}", &other_key);
  ASSERT_TRUE(backend_->Save(FileType::kLock, std::string(64, 'f'), other_key).ok());
  auto locks = Locks();
  ASSERT_EQ(locks.size(), 2u);
  EXPECT_TRUE(locks[0].stale && locks[1].stale);
  auto prune = RepoLock::Acquire(backend_.get(), key_, "prune", true);
  ASSERT_TRUE(prune.ok()) << prune.status().ToString();
  EXPECT_EQ(Locks().size(), 1u);  // an exclusive locker clears stale leftovers
}

TEST_F(LockTest, ReleaseRemovesTheFileAtOnce) {
  auto lock = RepoLock::Acquire(backend_.get(), key_, "backup", false);
  ASSERT_TRUE(lock.ok()) << lock.status().ToString();
  ASSERT_EQ(Locks().size(), 1u);
  auto start = std::chrono::steady_clock::now();
  (*lock)->Release();  // the refresher sleeps for 5 minutes: Release must wake it
  EXPECT_LT(std::chrono::steady_clock::now() - start, 2s);
  EXPECT_TRUE(Locks().empty());
  (*lock)->Release();  // idempotent
  lock->reset();
  auto scoped = RepoLock::Acquire(backend_.get(), key_, "backup", false);
  ASSERT_TRUE(scoped.ok());
  scoped->reset();  // the destructor releases
  EXPECT_TRUE(Locks().empty());
}

TEST_F(LockTest, RefreshReplacesTheFileWithANewTime) {
  SetLockRefreshIntervalForTesting(50ms);
  auto lock = RepoLock::Acquire(backend_.get(), key_, "backup", false);
  ASSERT_TRUE(lock.ok()) << lock.status().ToString();
  const LockInfo first = Locks().at(0);
  // Wait for a refresh in a later second, so its time shows it was rewritten.
  // The old file goes right after the new one is written, so a listing may catch both: wait
  // until the new time shows and the old file is gone.
  bool refreshed = false, old_gone = false;
  for (auto deadline = std::chrono::steady_clock::now() + 10s;
       !(refreshed && old_gone) && std::chrono::steady_clock::now() < deadline;) {
    std::this_thread::sleep_for(20ms);
    auto locks = Locks();
    ASSERT_LE(locks.size(), 2u);
    for (const LockInfo& l : locks) refreshed |= l.time_unix > first.time_unix;
    old_gone = !backend_->Exists(FileType::kLock, first.name);
  }
  EXPECT_TRUE(refreshed);
  EXPECT_TRUE(old_gone);
  (*lock)->Release();
  EXPECT_TRUE(Locks().empty());
}

TEST_F(LockTest, RemoveAllLocks) {
  auto a = RepoLock::Acquire(backend_.get(), key_, "backup", false);
  ASSERT_TRUE(a.ok());
  WriteForeignLock("elsewhere", 3, time(nullptr), false, "backup");
  WriteForeignLock("elsewhere", 4, time(nullptr) - 3600, false, "backup");
  auto stale_only = RemoveLocks(backend_.get(), key_, false);
  ASSERT_TRUE(stale_only.ok());
  EXPECT_EQ(*stale_only, 1);
  auto all = RemoveLocks(backend_.get(), key_, true);
  ASSERT_TRUE(all.ok());
  EXPECT_EQ(*all, 2);
  EXPECT_TRUE(Locks().empty());
  (*a)->Release();  // its file is gone already: still fine
}

TEST_F(LockTest, AppendOnlyRepositoriesStillRelease) {
  LocalBackendOptions options;
  options.append_only = true;
  ASSERT_TRUE(backend_->Save(FileType::kConfig, "config", "c").ok());
  auto append_only = OpenLocalBackend(dir_, options);
  ASSERT_TRUE(append_only.ok());
  auto lock = RepoLock::Acquire(append_only->get(), key_, "backup", false);
  ASSERT_TRUE(lock.ok()) << lock.status().ToString();
  (*lock)->Release();
  EXPECT_TRUE(Locks().empty());
}

}  // namespace
}  // namespace steward::backup
