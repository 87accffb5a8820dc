#include "alerting/time_interval.h"

#include <fmt/format.h>

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <fstream>
#include <sstream>

namespace steward::alerting {

// A POSIX TZ rule ("CET-1CEST,M3.5.0,M10.5.0/3"): standard and daylight offsets and the
// Mm.w.d dates daylight time starts and ends; without dates there is no daylight time.
struct TimeZone::Rule {
  struct Date {
    int month = 0, week = 0, weekday = 0;
    int64_t seconds = 7200;  // local time of day of the change; may be negative or > 24h
  };
  int32_t std_offset = 0;
  int32_t dst_offset = 0;
  bool has_dst = false;
  Date start, end;
};

namespace {

using std::chrono::days;
using std::chrono::sys_days;
using std::chrono::year_month_day;

int64_t FloorDiv(int64_t a, int64_t b) { return a / b - ((a % b != 0) && ((a < 0) != (b < 0))); }

uint32_t Be32(std::string_view d, size_t at) {
  return (uint32_t(uint8_t(d[at])) << 24) | (uint32_t(uint8_t(d[at + 1])) << 16) |
         (uint32_t(uint8_t(d[at + 2])) << 8) | uint32_t(uint8_t(d[at + 3]));
}
int64_t Be64(std::string_view d, size_t at) {
  return static_cast<int64_t>((uint64_t(Be32(d, at)) << 32) | Be32(d, at + 4));
}

// POSIX TZ parsing: one cursor over the string; every reader returns false on bad input.
class PosixReader {
 public:
  explicit PosixReader(std::string_view s) : s_(s) {}
  bool Done() const { return i_ == s_.size(); }
  bool Eat(char c) {
    if (i_ < s_.size() && s_[i_] == c) return ++i_, true;
    return false;
  }
  bool Peek(char c) const { return i_ < s_.size() && s_[i_] == c; }
  bool Name() {
    if (Eat('<')) {
      size_t close = s_.find('>', i_);
      if (close == std::string_view::npos) return false;
      i_ = close + 1;
      return true;
    }
    size_t start = i_;
    while (i_ < s_.size() && std::isalpha(static_cast<unsigned char>(s_[i_]))) ++i_;
    return i_ - start >= 3;
  }
  bool Number(int* out) {
    size_t start = i_;
    int v = 0;
    while (i_ < s_.size() && std::isdigit(static_cast<unsigned char>(s_[i_])) && i_ - start < 4) {
      v = v * 10 + (s_[i_++] - '0');
    }
    *out = v;
    return i_ > start;
  }
  // [+-]hh[:mm[:ss]] in seconds.
  bool Clock(int64_t* out) {
    int sign = Eat('-') ? -1 : (Eat('+'), 1);
    int h = 0, m = 0, sec = 0;
    if (!Number(&h)) return false;
    if (Eat(':') && !Number(&m)) return false;
    if (Eat(':') && !Number(&sec)) return false;
    *out = sign * (h * 3600LL + m * 60 + sec);
    return true;
  }
  bool Date(TimeZone::Rule::Date* d) {
    if (!Eat('M') || !Number(&d->month) || !Eat('.') || !Number(&d->week) || !Eat('.') ||
        !Number(&d->weekday)) {
      return false;  // Jn and n forms are not used by the tz database's zones
    }
    if (Eat('/') && !Clock(&d->seconds)) return false;
    return d->month >= 1 && d->month <= 12 && d->week >= 1 && d->week <= 5 && d->weekday <= 6;
  }

 private:
  std::string_view s_;
  size_t i_ = 0;
};

std::shared_ptr<const TimeZone::Rule> ParsePosixRule(std::string_view s) {
  auto rule = std::make_shared<TimeZone::Rule>();
  PosixReader r(s);
  int64_t std_west = 0;
  if (!r.Name() || !r.Clock(&std_west)) return nullptr;
  rule->std_offset = static_cast<int32_t>(-std_west);
  if (r.Done()) return rule;
  if (!r.Name()) return nullptr;
  int64_t dst_west = std_west - 3600;
  if (!r.Peek(',') && !r.Clock(&dst_west)) return nullptr;
  rule->dst_offset = static_cast<int32_t>(-dst_west);
  if (!r.Eat(',') || !r.Date(&rule->start) || !r.Eat(',') || !r.Date(&rule->end) || !r.Done()) {
    return nullptr;
  }
  rule->has_dst = true;
  return rule;
}

// Unix seconds of local midnight-relative `d` in `year`, given the local offset then in force.
int64_t RuleInstant(int year, const TimeZone::Rule::Date& d, int32_t offset) {
  using namespace std::chrono;
  sys_days first = sys_days(std::chrono::year(year) / d.month / 1);
  int first_wd = static_cast<int>(weekday(first).c_encoding());
  int day = 1 + (d.weekday - first_wd + 7) % 7 + (d.week - 1) * 7;
  int month_days = static_cast<int>(unsigned((std::chrono::year(year) / d.month / last).day()));
  while (day > month_days) day -= 7;
  int64_t local = (first.time_since_epoch().count() + day - 1) * 86400LL + d.seconds;
  return local - offset;
}

int32_t RuleOffset(const TimeZone::Rule& rule, int64_t t) {
  if (!rule.has_dst) return rule.std_offset;
  int year =
      static_cast<int>(year_month_day(sys_days(days(FloorDiv(t + rule.std_offset, 86400)))).year());
  int64_t start = RuleInstant(year, rule.start, rule.std_offset);
  int64_t end = RuleInstant(year, rule.end, rule.dst_offset);
  bool dst = start < end ? (t >= start && t < end) : !(t >= end && t < start);
  return dst ? rule.dst_offset : rule.std_offset;
}

std::string ZoneDir() {
  const char* dir = std::getenv("TZDIR");
  return dir != nullptr && *dir != '\0' ? dir : "/usr/share/zoneinfo";
}

}  // namespace

StatusOr<std::shared_ptr<const TimeZone>> TimeZone::FromTzif(const std::string& name,
                                                             std::string_view d) {
  auto bad = [&](std::string_view why) {
    return Corruption(fmt::format("time zone '{}': not a valid TZif file ({})", name, why));
  };
  if (d.size() < 44 || d.substr(0, 4) != "TZif") return bad("no TZif header");
  auto counts = [&](size_t at, size_t* c) {
    for (int k = 0; k < 6; ++k) c[k] = Be32(d, at + 20 + 4 * k);
  };
  size_t c[6];  // isutcnt, isstdcnt, leapcnt, timecnt, typecnt, charcnt
  counts(0, c);
  size_t v1 = c[3] * 5 + c[4] * 6 + c[5] + c[2] * 8 + c[1] + c[0];
  size_t at = 44;
  size_t time_size = 4;
  if (d[4] >= '2') {  // skip the 32-bit block; read the 64-bit one
    at = 44 + v1;
    if (d.size() < at + 44 || d.substr(at, 4) != "TZif") return bad("no second header");
    counts(at, c);
    at += 44;
    time_size = 8;
  }
  size_t need = c[3] * (time_size + 1) + c[4] * 6 + c[5] + c[2] * (time_size + 4) + c[1] + c[0];
  if (c[4] == 0 || d.size() < at + need) return bad("truncated");
  auto zone = std::make_shared<TimeZone>();
  zone->name_ = name;
  size_t types_at = at + c[3] * (time_size + 1);
  auto type_offset = [&](size_t type) {
    return static_cast<int32_t>(Be32(d, types_at + 6 * type));
  };
  zone->initial_offset_ = type_offset(0);
  for (size_t k = 0; k < c[3]; ++k) {
    int64_t t = time_size == 8 ? Be64(d, at + 8 * k) : int32_t(Be32(d, at + 4 * k));
    size_t type = uint8_t(d[at + c[3] * time_size + k]);
    if (type >= c[4]) return bad("transition to an unknown type");
    zone->transitions_.push_back(t);
    zone->offsets_.push_back(type_offset(type));
  }
  if (time_size == 8) {
    size_t footer = at + need;
    if (footer < d.size() && d[footer] == '\n') {
      size_t close = d.find('\n', footer + 1);
      if (close != std::string_view::npos) {
        zone->rule_ = ParsePosixRule(d.substr(footer + 1, close - footer - 1));
      }
    }
  }
  return std::shared_ptr<const TimeZone>(std::move(zone));
}

StatusOr<std::shared_ptr<const TimeZone>> TimeZone::Load(const std::string& name) {
  if (name.empty() || name == "UTC") {
    auto utc = std::make_shared<TimeZone>();
    utc->name_ = "UTC";
    return std::shared_ptr<const TimeZone>(std::move(utc));
  }
  if (name.find("..") != std::string::npos || name.starts_with('/')) {
    return NotFound(fmt::format("unknown time zone '{}'", name));
  }
  std::string path = name == "Local" ? "/etc/localtime" : ZoneDir() + "/" + name;
  std::ifstream in(path, std::ios::binary);
  if (!in) return NotFound(fmt::format("unknown time zone '{}' (no {})", name, path));
  std::stringstream buf;
  buf << in.rdbuf();
  return FromTzif(name, buf.str());
}

int64_t TimeZone::OffsetAt(int64_t t) const {
  if (transitions_.empty() || t < transitions_.front()) {
    return transitions_.empty() && rule_ ? RuleOffset(*rule_, t) : initial_offset_;
  }
  if (t >= transitions_.back() && rule_) return RuleOffset(*rule_, t);
  auto it = std::upper_bound(transitions_.begin(), transitions_.end(), t);
  return offsets_[static_cast<size_t>(it - transitions_.begin()) - 1];
}

StatusOr<TimeInterval> TimeInterval::Compile(const config::TimeInterval& ti) {
  TimeInterval out;
  out.name_ = ti.name;
  for (const config::TimePeriod& p : ti.periods) {
    StatusOr<std::shared_ptr<const TimeZone>> zone = TimeZone::Load(p.location);
    if (!zone.ok()) {
      return InvalidArgument(
          fmt::format("time interval '{}': {}", ti.name, zone.status().message()));
    }
    out.periods_.push_back(Period{p, *zone});
  }
  return out;
}

bool TimeInterval::Contains(int64_t unix_ms) const {
  return std::any_of(periods_.begin(), periods_.end(),
                     [&](const Period& p) { return PeriodContains(p, unix_ms); });
}

bool TimeInterval::PeriodContains(const Period& p, int64_t unix_ms) {
  using namespace std::chrono;
  int64_t secs = FloorDiv(unix_ms, 1000);
  int64_t local = secs + p.zone->OffsetAt(secs);
  int64_t day_number = FloorDiv(local, 86400);
  int minute = static_cast<int>((local - day_number * 86400) / 60);
  sys_days day{days(day_number)};
  year_month_day ymd(day);
  int weekday_index = static_cast<int>(weekday(day).c_encoding());
  int dom = static_cast<int>(unsigned(ymd.day()));
  int month = static_cast<int>(unsigned(ymd.month()));
  int year = static_cast<int>(ymd.year());
  int month_days = static_cast<int>(unsigned((ymd.year() / ymd.month() / last).day()));
  auto in = [](const std::vector<std::pair<int, int>>& ranges, auto&& match) {
    return ranges.empty() || std::any_of(ranges.begin(), ranges.end(), match);
  };
  const config::TimePeriod& s = p.spec;
  return in(s.times, [&](auto r) { return minute >= r.first && minute < r.second; }) &&
         in(s.weekdays,
            [&](auto r) { return weekday_index >= r.first && weekday_index <= r.second; }) &&
         in(s.days_of_month,
            [&](auto r) {
              int begin = r.first < 0 ? month_days + r.first + 1 : r.first;
              int end = r.second < 0 ? month_days + r.second + 1 : r.second;
              if (begin > month_days) return false;
              begin = std::clamp(begin, -month_days, month_days);
              end = std::clamp(end, -month_days, month_days);
              return dom >= begin && dom <= end;
            }) &&
         in(s.months, [&](auto r) { return month >= r.first && month <= r.second; }) &&
         in(s.years, [&](auto r) { return year >= r.first && year <= r.second; });
}

StatusOr<TimeIntervals> TimeIntervals::Compile(const std::vector<config::TimeInterval>& all) {
  TimeIntervals out;
  for (const config::TimeInterval& ti : all) {
    StatusOr<TimeInterval> c = TimeInterval::Compile(ti);
    if (!c.ok()) return c.status();
    out.by_name_.emplace(ti.name, *std::move(c));
  }
  return out;
}

bool TimeIntervals::AnyContains(const std::vector<std::string>& names, int64_t unix_ms) const {
  return std::any_of(names.begin(), names.end(), [&](const std::string& n) {
    auto it = by_name_.find(n);
    return it != by_name_.end() && it->second.Contains(unix_ms);
  });
}

}  // namespace steward::alerting
