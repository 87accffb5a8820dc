#include "base/clock.h"

#include <gtest/gtest.h>

namespace steward {
namespace {

TEST(FakeClock, AdvancesBothClocksTogether) {
  FakeClock c;
  MonoTime m = c.Now();
  WallTime w = c.WallNow();
  c.SleepFor(Duration(1500));
  EXPECT_EQ(c.Now() - m, Duration(1500));
  EXPECT_EQ(c.WallNow() - w, Duration(1500));
}

TEST(Clock, FormatsForPeople) {
  EXPECT_EQ(FormatDuration(Duration(350)), "350ms");
  EXPECT_EQ(FormatDuration(Duration(1200)), "1.2s");
  EXPECT_EQ(FormatDuration(Duration(190000)), "3m10s");
  EXPECT_EQ(FormatDuration(Duration(7500000)), "2h5m");
  EXPECT_EQ(FormatRfc3339(FromUnixMillis(0)), "1970-01-01T00:00:00Z");
  EXPECT_EQ(FormatRfc3339Millis(FromUnixMillis(1764183739123)), "2025-11-26T19:02:19.123Z");
  EXPECT_EQ(FormatRfc3339Millis(FromUnixMillis(-1)), "1969-12-31T23:59:59.999Z");
}

}  // namespace
}  // namespace steward
