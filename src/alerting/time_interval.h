// Time intervals as Alertmanager's time_intervals / mute_time_intervals define them: a named list
// of periods; a moment is in the interval when it is in any period, and in a period when every
// field written matches (times, weekdays, days_of_month, months, years) in the period's
// location. Semantics of timeinterval.go: end_time is exclusive ("00:00"-"24:00" is the whole
// day); ranges of weekdays, days, months and years are inclusive; negative days count from the
// end of the month (-1 is the last day); a day range is clamped to the month, and skipped when it
// starts after the month's end.
//
// TimeZone reads the system's tz database (TZif files under /usr/share/zoneinfo, or $TZDIR) with
// the POSIX rule of its footer for times after the last transition.
// Thread safety: everything here is immutable after construction; share freely.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "base/status.h"
#include "config/alerting.h"

namespace steward::alerting {

class TimeZone {
 public:
  // "UTC" (also ""), "Local" (the zone of /etc/localtime) or an IANA name like "Europe/Berlin".
  // NotFound for an unknown zone, Corruption for an unreadable file.
  static StatusOr<std::shared_ptr<const TimeZone>> Load(const std::string& name);
  // Parses TZif data (the content of a zoneinfo file).
  static StatusOr<std::shared_ptr<const TimeZone>> FromTzif(const std::string& name,
                                                            std::string_view data);

  const std::string& name() const { return name_; }
  // Seconds east of UTC in effect at the given unix time.
  int64_t OffsetAt(int64_t unix_seconds) const;

  struct Rule;  // a parsed POSIX TZ footer; defined in the .cc

 private:
  std::string name_;
  std::vector<int64_t> transitions_;  // ascending unix seconds
  std::vector<int32_t> offsets_;      // offset after each transition
  int32_t initial_offset_ = 0;        // before the first transition
  std::shared_ptr<const Rule> rule_;  // after the last transition; may be null
};

// One config::TimeInterval, its zones loaded.
class TimeInterval {
 public:
  static StatusOr<TimeInterval> Compile(const config::TimeInterval& ti);
  const std::string& name() const { return name_; }
  bool Contains(int64_t unix_ms) const;

 private:
  struct Period {
    config::TimePeriod spec;
    std::shared_ptr<const TimeZone> zone;
  };
  static bool PeriodContains(const Period& p, int64_t unix_ms);

  std::string name_;
  std::vector<Period> periods_;
};

// The stack's named intervals.
class TimeIntervals {
 public:
  static StatusOr<TimeIntervals> Compile(const std::vector<config::TimeInterval>& intervals);
  // True when unix_ms lies in any of the named intervals (unknown names never match).
  bool AnyContains(const std::vector<std::string>& names, int64_t unix_ms) const;

 private:
  std::map<std::string, TimeInterval> by_name_;
};

}  // namespace steward::alerting
