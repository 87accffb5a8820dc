// Time intervals with Alertmanager's semantics: exclusive end times, inclusive ranges, negative
// days of the month, clamping to the month, and time zones from the tz database.
#include "alerting/time_interval.h"

#include <gtest/gtest.h>

#include <chrono>

#include "unit/alerting/alerting_yaml.h"

namespace steward::alerting {
namespace {

using testing::ParseAlerting;

// Unix ms of a UTC civil time.
int64_t Utc(int y, int mo, int d, int h = 0, int mi = 0) {
  using namespace std::chrono;
  sys_days day = year(y) / mo / d;
  return (day.time_since_epoch().count() * 86400LL + h * 3600 + mi * 60) * 1000;
}

TimeInterval Interval(const std::string& period_yaml) {
  config::Alerting a =
      ParseAlerting("  time_intervals:\n    - name: t\n      time_intervals:\n" + period_yaml);
  EXPECT_EQ(a.time_intervals.size(), 1u);
  StatusOr<TimeInterval> ti = TimeInterval::Compile(a.time_intervals.at(0));
  EXPECT_TRUE(ti.ok()) << ti.status().message();
  return std::move(ti).value();
}

TEST(TimeInterval, WeekdaysAndTimesWithAnExclusiveEnd) {
  TimeInterval t = Interval(
      "        - weekdays: ['monday:friday']\n"
      "          times: [{start_time: '09:00', end_time: '17:00'}]\n");
  // 2024-01-01 is a Monday.
  EXPECT_FALSE(t.Contains(Utc(2024, 1, 1, 8, 59)));
  EXPECT_TRUE(t.Contains(Utc(2024, 1, 1, 9, 0)));
  EXPECT_TRUE(t.Contains(Utc(2024, 1, 5, 16, 59)));  // Friday
  EXPECT_FALSE(t.Contains(Utc(2024, 1, 5, 17, 0)));  // end_time is exclusive
  EXPECT_FALSE(t.Contains(Utc(2024, 1, 6, 12, 0)));  // Saturday
  EXPECT_FALSE(t.Contains(Utc(2024, 1, 7, 12, 0)));  // Sunday
}

TEST(TimeInterval, AnyPeriodMatchesAndEmptyFieldsMatchEverything) {
  TimeInterval t = Interval(
      "        - weekdays: [saturday, sunday]\n"
      "        - times: [{start_time: '00:00', end_time: '24:00'}]\n"
      "          months: [february]\n");
  EXPECT_TRUE(t.Contains(Utc(2024, 1, 6, 3, 0)));
  EXPECT_TRUE(t.Contains(Utc(2024, 2, 14, 23, 59)));  // 24:00 covers the whole day
  EXPECT_FALSE(t.Contains(Utc(2024, 3, 4, 12, 0)));
  EXPECT_TRUE(Interval("        - {}\n").Contains(Utc(1999, 12, 31, 23, 59)));
}

TEST(TimeInterval, NegativeDaysCountFromTheEndOfTheMonth) {
  TimeInterval last = Interval("        - days_of_month: ['-1']\n");
  EXPECT_TRUE(last.Contains(Utc(2024, 2, 29, 12)));  // leap year
  EXPECT_FALSE(last.Contains(Utc(2024, 2, 28, 12)));
  EXPECT_TRUE(last.Contains(Utc(2023, 2, 28, 12)));
  EXPECT_TRUE(last.Contains(Utc(2023, 4, 30, 12)));
  EXPECT_FALSE(last.Contains(Utc(2023, 5, 30, 12)));
  TimeInterval last3 = Interval("        - days_of_month: ['-3:-1']\n");
  EXPECT_TRUE(last3.Contains(Utc(2023, 2, 26)));
  EXPECT_FALSE(last3.Contains(Utc(2023, 2, 25, 23, 59)));
  TimeInterval mixed = Interval("        - days_of_month: ['25:-1']\n");
  EXPECT_TRUE(mixed.Contains(Utc(2023, 1, 31)));
  EXPECT_FALSE(mixed.Contains(Utc(2023, 1, 24)));
}

TEST(TimeInterval, DayRangesAreClampedToTheMonthAndSkippedPastItsEnd) {
  TimeInterval t = Interval("        - days_of_month: ['28:31']\n");
  EXPECT_TRUE(t.Contains(Utc(2023, 2, 28)));  // end clamped to February's 28
  TimeInterval late = Interval("        - days_of_month: ['30:31']\n");
  EXPECT_FALSE(late.Contains(Utc(2023, 2, 28)));  // starts after February ends
  EXPECT_FALSE(late.Contains(Utc(2023, 3, 1)));   // does not spill into March
  EXPECT_TRUE(late.Contains(Utc(2023, 3, 31)));
}

TEST(TimeInterval, MonthsAndYearsAreInclusive) {
  TimeInterval t =
      Interval("        - months: ['march:may', '11']\n          years: ['2021:2022']\n");
  EXPECT_FALSE(t.Contains(Utc(2021, 2, 28, 23, 59)));
  EXPECT_TRUE(t.Contains(Utc(2021, 3, 1)));
  EXPECT_TRUE(t.Contains(Utc(2022, 5, 31, 23, 59)));
  EXPECT_FALSE(t.Contains(Utc(2022, 6, 1)));
  EXPECT_TRUE(t.Contains(Utc(2022, 11, 15)));
  EXPECT_FALSE(t.Contains(Utc(2023, 4, 1)));
}

TEST(TimeInterval, TimesAreReadInThePeriodsLocation) {
  TimeInterval t = Interval(
      "        - times: [{start_time: '09:00', end_time: '10:00'}]\n"
      "          weekdays: [monday]\n"
      "          location: Europe/Berlin\n");
  // Winter: Berlin is UTC+1; summer: UTC+2.
  EXPECT_TRUE(t.Contains(Utc(2024, 1, 8, 8, 30)));
  EXPECT_FALSE(t.Contains(Utc(2024, 1, 8, 9, 30)));
  EXPECT_TRUE(t.Contains(Utc(2024, 7, 8, 7, 30)));
  EXPECT_FALSE(t.Contains(Utc(2024, 7, 8, 8, 30)));
  // Sunday 23:30 UTC is Monday 00:30 in Berlin: outside 09-10 either way, but the weekday moved.
  TimeInterval monday =
      Interval("        - weekdays: [monday]\n          location: Europe/Berlin\n");
  EXPECT_TRUE(monday.Contains(Utc(2024, 1, 7, 23, 30)));
  EXPECT_FALSE(monday.Contains(Utc(2024, 1, 8, 23, 30)));
}

TEST(TimeZone, OffsetsFollowDaylightSavingIncludingThePosixRuleAfterTheTable) {
  auto ny = TimeZone::Load("America/New_York");
  ASSERT_TRUE(ny.ok()) << ny.status().message();
  EXPECT_EQ((*ny)->OffsetAt(Utc(2024, 1, 15) / 1000), -5 * 3600);
  EXPECT_EQ((*ny)->OffsetAt(Utc(2024, 7, 15) / 1000), -4 * 3600);
  // 2024-03-10 07:00 UTC is 03:00 EDT, the first instant of daylight time.
  EXPECT_EQ((*ny)->OffsetAt(Utc(2024, 3, 10, 6, 59) / 1000), -5 * 3600);
  EXPECT_EQ((*ny)->OffsetAt(Utc(2024, 3, 10, 7, 0) / 1000), -4 * 3600);
  // Far beyond any table: the footer's rule decides.
  auto berlin = TimeZone::Load("Europe/Berlin");
  ASSERT_TRUE(berlin.ok());
  EXPECT_EQ((*berlin)->OffsetAt(Utc(2091, 7, 1) / 1000), 2 * 3600);
  EXPECT_EQ((*berlin)->OffsetAt(Utc(2091, 12, 1) / 1000), 3600);
  auto utc = TimeZone::Load("UTC");
  ASSERT_TRUE(utc.ok());
  EXPECT_EQ((*utc)->OffsetAt(Utc(2024, 7, 1) / 1000), 0);
}

TEST(TimeZone, UnknownZonesAndBadFilesAreErrors) {
  EXPECT_EQ(TimeZone::Load("Mars/Olympus").status().code(), StatusCode::kNotFound);
  EXPECT_EQ(TimeZone::Load("../etc/passwd").status().code(), StatusCode::kNotFound);
  EXPECT_EQ(TimeZone::FromTzif("x", "not a tz file at all, long enough to have a header...")
                .status()
                .code(),
            StatusCode::kCorruption);
}

TEST(TimeIntervals, AnyContainsLooksUpByName) {
  config::Alerting a = ParseAlerting(
      "  time_intervals:\n"
      "    - {name: jan, time_intervals: [{months: [january]}]}\n"
      "    - {name: feb, time_intervals: [{months: [february]}]}\n");
  StatusOr<TimeIntervals> all = TimeIntervals::Compile(a.time_intervals);
  ASSERT_TRUE(all.ok());
  EXPECT_TRUE(all->AnyContains({"feb", "jan"}, Utc(2024, 1, 3)));
  EXPECT_FALSE(all->AnyContains({"feb"}, Utc(2024, 1, 3)));
  EXPECT_FALSE(all->AnyContains({}, Utc(2024, 1, 3)));
}

}  // namespace
}  // namespace steward::alerting
