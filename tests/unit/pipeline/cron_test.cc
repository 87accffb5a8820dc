#include "pipeline/cron.h"

#include <gtest/gtest.h>

#include "base/clock.h"

namespace steward::pipeline {
namespace {

// Unix ms of a UTC time, through the same RFC 3339 formatting the product uses (checked below).
int64_t At(int y, int mo, int d, int h, int mi) {
  std::tm tm{};
  tm.tm_year = y - 1900;
  tm.tm_mon = mo - 1;
  tm.tm_mday = d;
  tm.tm_hour = h;
  tm.tm_min = mi;
  return static_cast<int64_t>(timegm(&tm)) * 1000;
}

std::string Fmt(int64_t ms) { return FormatRfc3339(FromUnixMillis(ms)); }

std::string NextOf(const std::string& cron, int64_t after) {
  auto s = CronSchedule::Parse(cron);
  EXPECT_TRUE(s.ok()) << s.status().ToString();
  if (!s.ok()) return "";
  auto n = s->Next(after);
  return n ? Fmt(*n) : "never";
}

TEST(Cron, EveryFifteenMinutes) {
  EXPECT_EQ(NextOf("*/15 * * * *", At(2026, 11, 27, 10, 7)), "2026-11-27T10:15:00Z");
  EXPECT_EQ(NextOf("*/15 * * * *", At(2026, 11, 27, 10, 15)), "2026-11-27T10:30:00Z");
  EXPECT_EQ(NextOf("*/15 * * * *", At(2026, 11, 27, 23, 50)), "2026-11-28T00:00:00Z");
}

TEST(Cron, NextIsStrictlyAfterEvenWithinTheSameMinute) {
  EXPECT_EQ(NextOf("* * * * *", At(2026, 1, 1, 0, 0) + 30'000), "2026-01-01T00:01:00Z");
}

TEST(Cron, ListsRangesStepsAndNames) {
  // 09:30 on weekdays.
  EXPECT_EQ(NextOf("30 9 * * mon-fri", At(2026, 11, 27, 10, 0)),  // a Friday, after 9:30
            "2026-11-30T09:30:00Z");                               // next Monday
  EXPECT_EQ(NextOf("0 0 1 jan,jul *", At(2026, 2, 1, 0, 0)), "2026-07-01T00:00:00Z");
  EXPECT_EQ(NextOf("10-50/20 * * * *", At(2026, 1, 1, 0, 11)), "2026-01-01T00:30:00Z");
  EXPECT_EQ(NextOf("5/15 * * * *", At(2026, 1, 1, 0, 21)), "2026-01-01T00:35:00Z");
}

TEST(Cron, SundayIsZeroOrSeven) {
  EXPECT_EQ(NextOf("0 12 * * 7", At(2026, 11, 27, 0, 0)), "2026-11-29T12:00:00Z");
  EXPECT_EQ(NextOf("0 12 * * 0", At(2026, 11, 27, 0, 0)), "2026-11-29T12:00:00Z");
}

TEST(Cron, BothDayFieldsRestrictedMatchEither) {
  // The 1st of the month or any Monday, as Vixie cron does.
  EXPECT_EQ(NextOf("0 0 1 * mon", At(2026, 11, 27, 0, 0)), "2026-11-30T00:00:00Z");
  EXPECT_EQ(NextOf("0 0 1 * mon", At(2026, 11, 30, 1, 0)), "2026-12-01T00:00:00Z");
}

TEST(Cron, LeapDayAndImpossibleDates) {
  EXPECT_EQ(NextOf("0 0 29 2 *", At(2026, 3, 1, 0, 0)), "2028-02-29T00:00:00Z");
  EXPECT_EQ(NextOf("0 0 30 2 *", At(2026, 3, 1, 0, 0)), "never");
}

TEST(Cron, Macros) {
  EXPECT_EQ(NextOf("@hourly", At(2026, 1, 1, 5, 5)), "2026-01-01T06:00:00Z");
  EXPECT_EQ(NextOf("@daily", At(2026, 1, 1, 5, 5)), "2026-01-02T00:00:00Z");
  EXPECT_EQ(NextOf("@weekly", At(2026, 11, 27, 5, 5)), "2026-11-29T00:00:00Z");
  EXPECT_EQ(NextOf("@yearly", At(2026, 11, 27, 5, 5)), "2027-01-01T00:00:00Z");
}

TEST(Cron, MatchesAgreesWithNext) {
  auto s = CronSchedule::Parse("7,37 */3 * * 1-5");
  ASSERT_TRUE(s.ok());
  int64_t t = At(2026, 11, 20, 0, 0);
  for (int i = 0; i < 50; ++i) {
    auto n = s->Next(t);
    ASSERT_TRUE(n.has_value());
    EXPECT_TRUE(s->Matches(*n)) << Fmt(*n);
    // Nothing in between matches.
    for (int64_t m = t / 60000 * 60000 + 60000; m < *n; m += 60000) {
      ASSERT_FALSE(s->Matches(m)) << Fmt(m) << " before " << Fmt(*n);
    }
    t = *n;
  }
}

TEST(Cron, ErrorsNameTheFieldAndTheRange) {
  auto e = CronSchedule::Parse("0 25 * * *");
  ASSERT_FALSE(e.ok());
  EXPECT_NE(e.status().message().find("field 2 (hour)"), std::string::npos) << e.status().message();
  EXPECT_NE(e.status().message().find("0-23"), std::string::npos);
  EXPECT_NE(CronSchedule::Parse("* * *").status().message().find("has 3 fields; want 5"),
            std::string::npos);
  EXPECT_NE(CronSchedule::Parse("0 0 * foo *").status().message().find("month name"),
            std::string::npos);
  EXPECT_NE(CronSchedule::Parse("*/0 * * * *").status().message().find("positive"),
            std::string::npos);
  EXPECT_NE(CronSchedule::Parse("5-1 * * * *").status().message().find("backwards"),
            std::string::npos);
  EXPECT_NE(CronSchedule::Parse("@sometimes").status().message().find("unknown macro"),
            std::string::npos);
  EXPECT_FALSE(CronSchedule::Parse("1,,2 * * * *").ok());
}

}  // namespace
}  // namespace steward::pipeline
