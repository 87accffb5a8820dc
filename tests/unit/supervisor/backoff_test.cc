#include "supervisor/backoff.h"

#include <gtest/gtest.h>

namespace steward::supervisor {
namespace {

using std::chrono::milliseconds;
using std::chrono::seconds;

config::Restart Policy(int crash_loop_restarts = 100) {
  config::Restart r;
  r.backoff_initial = milliseconds(100);
  r.backoff_max = milliseconds(1000);
  r.crash_loop_restarts = crash_loop_restarts;
  r.crash_loop_window = seconds(60);
  return r;
}

TEST(Backoff, DelaysDoubleUpToTheMaximum) {
  FakeClock clock;
  Backoff backoff(Policy());
  std::vector<int64_t> delays;
  for (int i = 0; i < 6; ++i) delays.push_back(backoff.NextDelay(clock.Now()).count());
  EXPECT_EQ(delays, (std::vector<int64_t>{100, 200, 400, 800, 1000, 1000}));
  EXPECT_EQ(backoff.restarts(), 6);
}

TEST(Backoff, StreakResetsAfterStableUptime) {
  FakeClock clock;
  Backoff backoff(Policy());
  for (int i = 0; i < 3; ++i) backoff.NextDelay(clock.Now());
  backoff.RecordStarted(clock.Now());
  clock.Advance(Backoff::kStableUptime);
  backoff.RecordExited(clock.Now());
  EXPECT_EQ(backoff.NextDelay(clock.Now()), milliseconds(100));
  EXPECT_EQ(backoff.restarts(), 4) << "the lifetime count does not reset";
}

TEST(Backoff, ShortUptimeKeepsDoubling) {
  FakeClock clock;
  Backoff backoff(Policy());
  for (int i = 0; i < 3; ++i) backoff.NextDelay(clock.Now());
  backoff.RecordStarted(clock.Now());
  clock.Advance(Backoff::kStableUptime - milliseconds(1));
  backoff.RecordExited(clock.Now());
  EXPECT_EQ(backoff.NextDelay(clock.Now()), milliseconds(800));
}

TEST(Backoff, DetectsCrashLoopInsideWindowAndWaitsTheMaximum) {
  FakeClock clock;
  Backoff backoff(Policy(/*crash_loop_restarts=*/3));
  EXPECT_FALSE(backoff.CrashLooping(clock.Now()));
  for (int i = 0; i < 3; ++i) {
    EXPECT_EQ(backoff.NextDelay(clock.Now()), milliseconds(100 << i));
    clock.Advance(seconds(1));
  }
  EXPECT_TRUE(backoff.CrashLooping(clock.Now()));
  EXPECT_EQ(backoff.NextDelay(clock.Now()), milliseconds(1000));
}

TEST(Backoff, CrashLoopEndsWhenRestartsLeaveTheWindow) {
  FakeClock clock;
  Backoff backoff(Policy(/*crash_loop_restarts=*/3));
  for (int i = 0; i < 3; ++i) backoff.NextDelay(clock.Now());
  ASSERT_TRUE(backoff.CrashLooping(clock.Now()));
  clock.Advance(seconds(60));
  EXPECT_FALSE(backoff.CrashLooping(clock.Now()));
}

TEST(Backoff, RestartsSpreadWiderThanTheWindowAreNoCrashLoop) {
  FakeClock clock;
  Backoff backoff(Policy(/*crash_loop_restarts=*/3));
  for (int i = 0; i < 10; ++i) {
    backoff.NextDelay(clock.Now());
    clock.Advance(seconds(31));
    EXPECT_FALSE(backoff.CrashLooping(clock.Now())) << "restart " << i;
  }
}

}  // namespace
}  // namespace steward::supervisor
