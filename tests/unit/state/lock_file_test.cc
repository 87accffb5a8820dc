#include "state/lock_file.h"

#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <functional>

#include "state/schema.h"
#include "state/sqlite_state_store.h"
#include "unit/state/temp_dir.h"

namespace steward::state {
namespace {

using testing::ReadFile;
using testing::TempDir;

constexpr int64_t kSinceMs = 1795719739000;  // 2026-11-26T19:02:19Z

LockHolder Holder4242() { return LockHolder{4242, "h", "apply", kSinceMs}; }

// A FakeClock that runs a callback on its first SleepFor, to act while a waiter polls.
class ActingClock : public FakeClock {
 public:
  explicit ActingClock(std::function<void()> act) : act_(std::move(act)) {}
  void SleepFor(Duration d) override {
    ++sleeps_;
    if (act_) std::exchange(act_, nullptr)();
    FakeClock::SleepFor(d);
  }
  int sleeps() const { return sleeps_; }

 private:
  std::function<void()> act_;
  int sleeps_ = 0;
};

TEST(LockFile, SecondAcquireWithZeroTimeoutFailsAtOnceNamingHolder) {
  TempDir dir;
  FakeClock clock;
  auto first = AcquireFileLock(dir.Sub("state.lock"), Holder4242(), Duration(0), &clock);
  ASSERT_TRUE(first.ok()) << first.status().ToString();

  auto second =
      AcquireFileLock(dir.Sub("state.lock"), LockHolder{1, "x", "plan", 0}, Duration(0), &clock);
  ASSERT_FALSE(second.ok());
  EXPECT_EQ(second.status().code(), StatusCode::kAborted);
  EXPECT_EQ(second.status().message(),
            "state is locked by pid 4242 on host h (apply) since 2026-11-26T19:02:19Z; "
            "wait with --lock-timeout or try again later");
}

TEST(LockFile, TimeoutPollsUntilDeadlineThenFails) {
  TempDir dir;
  FakeClock clock;
  auto held = AcquireFileLock(dir.Sub("state.lock"), Holder4242(), Duration(0), &clock);
  ASSERT_TRUE(held.ok());
  MonoTime start = clock.Now();

  auto waiter = AcquireFileLock(dir.Sub("state.lock"), LockHolder{1, "x", "plan", 0},
                                std::chrono::seconds(5), &clock);
  ASSERT_FALSE(waiter.ok());
  EXPECT_EQ(waiter.status().code(), StatusCode::kAborted);
  EXPECT_EQ(clock.Now() - start, std::chrono::seconds(5));
  EXPECT_EQ(waiter.status().message().rfind(
                "timed out after 5s waiting for the state lock held by pid 4242 on host h "
                "(apply) since 2026-11-26T19:02:19Z",
                0),
            0u)
      << waiter.status().message();
}

TEST(LockFile, TimeoutWithRealClockWaitsAtLeastTheTimeout) {
  TempDir dir;
  auto held = AcquireFileLock(dir.Sub("state.lock"), Holder4242(), Duration(0), RealClock::Get());
  ASSERT_TRUE(held.ok());
  auto start = std::chrono::steady_clock::now();
  auto waiter =
      AcquireFileLock(dir.Sub("state.lock"), Holder4242(), Duration(200), RealClock::Get());
  auto waited = std::chrono::steady_clock::now() - start;
  ASSERT_FALSE(waiter.ok());
  EXPECT_GE(waited, std::chrono::milliseconds(200));
  EXPECT_NE(waiter.status().message().find("timed out after 200ms"), std::string::npos);
}

TEST(LockFile, WaiterGetsLockReleasedWhileItPolls) {
  TempDir dir;
  FakeClock setup_clock;
  auto held = AcquireFileLock(dir.Sub("state.lock"), Holder4242(), Duration(0), &setup_clock);
  ASSERT_TRUE(held.ok());
  ActingClock clock([&] { held->reset(); });

  auto waiter = AcquireFileLock(dir.Sub("state.lock"), LockHolder{7, "w", "apply", 0},
                                std::chrono::seconds(5), &clock);
  ASSERT_TRUE(waiter.ok()) << waiter.status().ToString();
  EXPECT_EQ(clock.sleeps(), 1);
}

TEST(LockFile, ReleasedOnDestructionAndRecordCleared) {
  TempDir dir;
  FakeClock clock;
  auto lock = AcquireFileLock(dir.Sub("state.lock"), Holder4242(), Duration(0), &clock);
  ASSERT_TRUE(lock.ok());
  EXPECT_NE(ReadFile(dir.Sub("state.lock")).find("pid=4242"), std::string::npos);
  lock->reset();

  EXPECT_EQ(ReadFile(dir.Sub("state.lock")), "");
  auto holder = ReadFileLockHolder(dir.Sub("state.lock"));
  ASSERT_TRUE(holder.ok());
  EXPECT_FALSE(holder->has_value());
  EXPECT_TRUE(AcquireFileLock(dir.Sub("state.lock"), Holder4242(), Duration(0), &clock).ok());
}

TEST(LockFile, HolderInfoReportsHolderOnlyWhileHeld) {
  TempDir dir;
  FakeClock clock;
  auto none = ReadFileLockHolder(dir.Sub("state.lock"));
  ASSERT_TRUE(none.ok());
  EXPECT_FALSE(none->has_value());  // no lock file at all

  auto lock = AcquireFileLock(dir.Sub("state.lock"), Holder4242(), Duration(0), &clock);
  ASSERT_TRUE(lock.ok());
  auto held = ReadFileLockHolder(dir.Sub("state.lock"));
  ASSERT_TRUE(held.ok());
  ASSERT_TRUE(held->has_value());
  EXPECT_EQ((*held)->pid, 4242);
  EXPECT_EQ((*held)->host, "h");
  EXPECT_EQ((*held)->command, "apply");
  EXPECT_EQ((*held)->since_ms, kSinceMs);
  // Probing must not disturb the holder or leave a lock behind.
  auto again = ReadFileLockHolder(dir.Sub("state.lock"));
  ASSERT_TRUE(again.ok());
  EXPECT_TRUE(again->has_value());
}

TEST(LockFile, StaleRecordWithoutFlockMeansNoHolder) {
  TempDir dir;
  testing::WriteFile(dir.Sub("state.lock"), FormatLockHolder(Holder4242()));
  auto holder = ReadFileLockHolder(dir.Sub("state.lock"));
  ASSERT_TRUE(holder.ok());
  EXPECT_FALSE(holder->has_value());
}

TEST(LockFile, KilledHolderReleasesTheLock) {
  TempDir dir;
  std::string path = dir.Sub("state.lock");
  int ready[2];
  ASSERT_EQ(pipe(ready), 0);
  pid_t child = fork();
  ASSERT_GE(child, 0);
  if (child == 0) {
    close(ready[0]);
    LockHolder me{static_cast<int>(getpid()), "child-host", "apply", kSinceMs};
    auto lock = AcquireFileLock(path, me, Duration(0), RealClock::Get());
    char ok = lock.ok() ? 'y' : 'n';
    if (write(ready[1], &ok, 1) != 1) _exit(2);
    while (true) pause();  // until SIGKILL
  }
  close(ready[1]);
  char ok = 0;
  ASSERT_EQ(read(ready[0], &ok, 1), 1);
  close(ready[0]);
  ASSERT_EQ(ok, 'y');

  FakeClock clock;
  auto blocked = AcquireFileLock(path, Holder4242(), Duration(0), &clock);
  ASSERT_FALSE(blocked.ok());
  EXPECT_NE(blocked.status().message().find("pid " + std::to_string(child) + " on host child-host"),
            std::string::npos)
      << blocked.status().message();

  ASSERT_EQ(kill(child, SIGKILL), 0);
  int wstatus = 0;
  ASSERT_EQ(waitpid(child, &wstatus, 0), child);
  EXPECT_TRUE(WIFSIGNALED(wstatus));

  auto holder = ReadFileLockHolder(path);
  ASSERT_TRUE(holder.ok());
  EXPECT_FALSE(holder->has_value());  // the dead child's record is still there, but no flock
  auto taken = AcquireFileLock(path, Holder4242(), Duration(0), &clock);
  EXPECT_TRUE(taken.ok()) << taken.status().ToString();
}

TEST(LockFile, RecordRoundTripsAndSanitisesNewlines) {
  LockHolder h{4242, "build-1", "serve\n--watch", kSinceMs};
  std::string text = FormatLockHolder(h);
  EXPECT_NE(text.find("since=2026-11-26T19:02:19Z\n"), std::string::npos);
  auto parsed = ParseLockHolder(text);
  ASSERT_TRUE(parsed.has_value());
  EXPECT_EQ(parsed->pid, 4242);
  EXPECT_EQ(parsed->host, "build-1");
  EXPECT_EQ(parsed->command, "serve --watch");
  EXPECT_EQ(parsed->since_ms, kSinceMs);
}

TEST(LockFile, RecordWithoutPidDoesNotParse) {
  EXPECT_FALSE(ParseLockHolder("").has_value());
  EXPECT_FALSE(ParseLockHolder("host=h\ncommand=apply\n").has_value());
  EXPECT_FALSE(ParseLockHolder("pid=abc\n").has_value());
}

TEST(LockHolder, UnidentifiedHolderHasReadableText) {
  EXPECT_EQ(LockHolder{}.ToString(), "another process (not yet identified)");
  EXPECT_EQ(Holder4242().ToString(), "pid 4242 on host h (apply) since 2026-11-26T19:02:19Z");
}

// Through the store: two AcquireLock calls in one process are separate opens, so they conflict.
TEST(SqliteStateStoreLock, SecondAcquireInSameProcessConflicts) {
  TempDir dir;
  FakeClock clock;
  auto store = OpenSqliteStateStore(dir.Sub(".steward"), &clock);
  ASSERT_TRUE(store.ok()) << store.status().ToString();
  auto lock = (*store)->AcquireLock("apply", Duration(0));
  ASSERT_TRUE(lock.ok()) << lock.status().ToString();

  auto second = (*store)->AcquireLock("destroy", Duration(0));
  ASSERT_FALSE(second.ok());
  std::string expected = "state is locked by pid " + std::to_string(getpid()) + " on host " +
                         CurrentHost() + " (apply) since " + FormatRfc3339(clock.WallNow());
  EXPECT_EQ(second.status().message().rfind(expected, 0), 0u) << second.status().message();

  auto info = (*store)->LockHolderInfo();
  ASSERT_TRUE(info.ok());
  ASSERT_TRUE(info->has_value());
  EXPECT_EQ((*info)->pid, getpid());
  EXPECT_EQ((*info)->command, "apply");

  lock->reset();
  info = (*store)->LockHolderInfo();
  ASSERT_TRUE(info.ok());
  EXPECT_FALSE(info->has_value());
  EXPECT_TRUE((*store)->AcquireLock("destroy", Duration(0)).ok());
}

}  // namespace
}  // namespace steward::state
