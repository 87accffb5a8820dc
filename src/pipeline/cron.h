// Cron schedules for pipeline (and later backup and drill) triggers: the five-field syntax of
// Vixie cron and GitHub's `on.schedule` — minute hour day-of-month month day-of-week — with
// lists (1,15), ranges (1-5), steps (*/15, 10-50/20), month and weekday names (jan, mon), 0 or
// 7 for Sunday, and the macros @yearly @annually @monthly @weekly @daily @midnight @hourly.
// When both day fields are restricted, a day matches if either does (as in cron). Times are UTC.
// Thread safety: a parsed CronSchedule is an immutable value.
#pragma once

#include <bitset>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "base/status.h"

namespace steward::pipeline {

class CronSchedule {
 public:
  // Error: "cron field 2 (hour) '25': value out of range 0-23" and the like.
  static StatusOr<CronSchedule> Parse(std::string_view text);

  // The first matching minute strictly after `after_ms` (Unix ms, UTC), in Unix ms; nullopt
  // when none comes within the next five years (e.g. "0 0 30 2 *").
  std::optional<int64_t> Next(int64_t after_ms) const;
  bool Matches(int64_t unix_ms) const;  // the minute containing unix_ms matches

  const std::string& text() const { return text_; }

 private:
  std::string text_;
  std::bitset<60> minutes_;
  std::bitset<24> hours_;
  std::bitset<32> days_;     // 1..31
  std::bitset<13> months_;   // 1..12
  std::bitset<7> weekdays_;  // 0 = Sunday
  bool days_restricted_ = false;
  bool weekdays_restricted_ = false;
};

}  // namespace steward::pipeline
