#include "pipeline/cron.h"

#include <array>
#include <charconv>
#include <ctime>
#include <vector>

namespace steward::pipeline {
namespace {

struct Field {
  const char* name;
  int lo;
  int hi;
  const char* const* names;  // names for lo.. (months from 1, weekdays from 0); may be null
};

constexpr const char* kMonthNames[] = {"jan", "feb", "mar", "apr", "may", "jun",
                                       "jul", "aug", "sep", "oct", "nov", "dec", nullptr};
constexpr const char* kDayNames[] = {"sun", "mon", "tue", "wed", "thu", "fri", "sat", nullptr};

constexpr std::array<Field, 5> kFields = {{
    {"minute", 0, 59, nullptr},
    {"hour", 0, 23, nullptr},
    {"day of month", 1, 31, nullptr},
    {"month", 1, 12, kMonthNames},
    {"day of week", 0, 7, kDayNames},  // 7 is Sunday too
}};

std::string Lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

Status FieldError(int index, std::string_view text, const std::string& what) {
  const Field& f = kFields[index];
  return InvalidArgument("cron field " + std::to_string(index + 1) + " (" + f.name + ") '" +
                         std::string(text) + "': " + what);
}

// One value: a number or a name.
StatusOr<int> ParseValue(int index, std::string_view whole, std::string_view v) {
  const Field& f = kFields[index];
  if (v.empty()) return FieldError(index, whole, "empty value");
  int n = 0;
  auto [p, ec] = std::from_chars(v.data(), v.data() + v.size(), n);
  if (ec == std::errc() && p == v.data() + v.size()) {
    if (n < f.lo || n > f.hi) {
      return FieldError(index, whole,
                        "value " + std::string(v) + " out of range " + std::to_string(f.lo) +
                            "-" + std::to_string(f.hi));
    }
    return n;
  }
  if (f.names != nullptr) {
    std::string lv = Lower(v);
    int base = index == 3 ? 1 : 0;
    for (int i = 0; f.names[i] != nullptr; ++i) {
      if (lv == f.names[i]) return base + i;
    }
    return FieldError(index, whole,
                      "'" + std::string(v) + "' is not a number or a " +
                          (index == 3 ? "month name (jan..dec)" : "weekday name (sun..sat)"));
  }
  return FieldError(index, whole, "'" + std::string(v) + "' is not a number");
}

// Sets the bits of one field; returns whether it was restricted (not '*').
StatusOr<bool> ParseField(int index, std::string_view text, std::vector<bool>* bits) {
  const Field& f = kFields[index];
  bits->assign(f.hi + 1, false);
  bool restricted = true;
  size_t start = 0;
  while (start <= text.size()) {
    size_t comma = text.find(',', start);
    std::string_view item = text.substr(start, comma == std::string_view::npos
                                                   ? std::string_view::npos
                                                   : comma - start);
    if (item.empty()) return FieldError(index, text, "empty list item");
    int step = 1;
    if (size_t slash = item.find('/'); slash != std::string_view::npos) {
      std::string_view s = item.substr(slash + 1);
      auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), step);
      if (ec != std::errc() || p != s.data() + s.size() || step <= 0) {
        return FieldError(index, text, "step '" + std::string(s) + "' must be a positive number");
      }
      item = item.substr(0, slash);
    }
    int lo = f.lo, hi = f.hi;
    if (item == "*") {
      if (step == 1 && text == "*") restricted = false;
      if (index == 4) hi = 6;  // '*' in day of week is 0-6; 7 would repeat Sunday
    } else if (size_t dash = item.find('-'); dash != std::string_view::npos) {
      auto a = ParseValue(index, text, item.substr(0, dash));
      if (!a.ok()) return a.status();
      auto b = ParseValue(index, text, item.substr(dash + 1));
      if (!b.ok()) return b.status();
      lo = *a;
      hi = *b;
      if (lo > hi) {
        return FieldError(index, text, "range " + std::string(item) + " runs backwards");
      }
    } else {
      auto a = ParseValue(index, text, item);
      if (!a.ok()) return a.status();
      lo = *a;
      // "5/15" means 5, 20, 35, 50 as in Vixie cron.
      hi = step > 1 ? f.hi : *a;
    }
    for (int v = lo; v <= hi; v += step) (*bits)[v] = true;
    if (comma == std::string_view::npos) break;
    start = comma + 1;
  }
  return restricted;
}

// Days since 1970-01-01 for a civil date, and back (Howard Hinnant's algorithms).
int64_t DaysFromCivil(int64_t y, unsigned m, unsigned d) {
  y -= m <= 2;
  const int64_t era = (y >= 0 ? y : y - 399) / 400;
  const unsigned yoe = static_cast<unsigned>(y - era * 400);
  const unsigned doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
  const unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  return era * 146097 + static_cast<int64_t>(doe) - 719468;
}

struct Civil {
  int64_t year;
  unsigned month, day, hour, minute, weekday;
};

Civil ToCivil(int64_t unix_minutes) {
  int64_t days = unix_minutes >= 0 ? unix_minutes / 1440 : -((-unix_minutes + 1439) / 1440);
  int64_t mins = unix_minutes - days * 1440;
  int64_t z = days + 719468;
  const int64_t era = (z >= 0 ? z : z - 146096) / 146097;
  const unsigned doe = static_cast<unsigned>(z - era * 146097);
  const unsigned yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
  const unsigned doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
  const unsigned mp = (5 * doy + 2) / 153;
  Civil c;
  c.day = doy - (153 * mp + 2) / 5 + 1;
  c.month = mp < 10 ? mp + 3 : mp - 9;
  c.year = static_cast<int64_t>(yoe) + era * 400 + (c.month <= 2);
  c.hour = static_cast<unsigned>(mins / 60);
  c.minute = static_cast<unsigned>(mins % 60);
  c.weekday = static_cast<unsigned>(((days % 7) + 11) % 7);  // 1970-01-01 was a Thursday (4)
  return c;
}

}  // namespace

StatusOr<CronSchedule> CronSchedule::Parse(std::string_view text) {
  std::string t(text);
  while (!t.empty() && std::isspace(static_cast<unsigned char>(t.back()))) t.pop_back();
  while (!t.empty() && std::isspace(static_cast<unsigned char>(t.front()))) t.erase(0, 1);
  std::string expanded = t;
  if (!t.empty() && t[0] == '@') {
    std::string m = Lower(t);
    if (m == "@yearly" || m == "@annually") expanded = "0 0 1 1 *";
    else if (m == "@monthly") expanded = "0 0 1 * *";
    else if (m == "@weekly") expanded = "0 0 * * 0";
    else if (m == "@daily" || m == "@midnight") expanded = "0 0 * * *";
    else if (m == "@hourly") expanded = "0 * * * *";
    else {
      return InvalidArgument("cron '" + t +
                             "': unknown macro; use @yearly, @monthly, @weekly, @daily or "
                             "@hourly, or five fields");
    }
  }
  std::vector<std::string_view> parts;
  std::string_view rest(expanded);
  while (!rest.empty()) {
    size_t i = rest.find_first_not_of(" \t");
    if (i == std::string_view::npos) break;
    rest.remove_prefix(i);
    size_t j = rest.find_first_of(" \t");
    parts.push_back(rest.substr(0, j));
    rest.remove_prefix(j == std::string_view::npos ? rest.size() : j);
  }
  if (parts.size() != 5) {
    return InvalidArgument("cron '" + t + "': has " + std::to_string(parts.size()) +
                           " fields; want 5: minute hour day-of-month month day-of-week "
                           "(e.g. \"*/15 * * * *\")");
  }
  CronSchedule s;
  s.text_ = t;
  std::vector<bool> bits;
  for (int i = 0; i < 5; ++i) {
    auto restricted = ParseField(i, parts[i], &bits);
    if (!restricted.ok()) return restricted.status().Annotate("cron '" + t + "'");
    for (size_t v = 0; v < bits.size(); ++v) {
      if (!bits[v]) continue;
      switch (i) {
        case 0: s.minutes_.set(v); break;
        case 1: s.hours_.set(v); break;
        case 2: s.days_.set(v); break;
        case 3: s.months_.set(v); break;
        case 4: s.weekdays_.set(v % 7); break;
      }
    }
    if (i == 2) s.days_restricted_ = *restricted;
    if (i == 4) s.weekdays_restricted_ = *restricted;
  }
  return s;
}

bool CronSchedule::Matches(int64_t unix_ms) const {
  int64_t minute = unix_ms >= 0 ? unix_ms / 60000 : -((-unix_ms + 59999) / 60000);
  Civil c = ToCivil(minute);
  if (!minutes_[c.minute] || !hours_[c.hour] || !months_[c.month]) return false;
  bool dom = days_[c.day];
  bool dow = weekdays_[c.weekday];
  if (days_restricted_ && weekdays_restricted_) return dom || dow;
  if (days_restricted_) return dom;
  if (weekdays_restricted_) return dow;
  return true;
}

std::optional<int64_t> CronSchedule::Next(int64_t after_ms) const {
  int64_t minute = (after_ms >= 0 ? after_ms / 60000 : -((-after_ms + 59999) / 60000)) + 1;
  const int64_t limit = minute + 5LL * 366 * 1440;
  while (minute < limit) {
    Civil c = ToCivil(minute);
    if (!months_[c.month]) {  // to the first minute of the next month
      int64_t y = c.year + (c.month == 12);
      unsigned m = c.month == 12 ? 1 : c.month + 1;
      minute = DaysFromCivil(y, m, 1) * 1440;
      continue;
    }
    bool dom = days_[c.day];
    bool dow = weekdays_[c.weekday];
    bool day_ok = days_restricted_ && weekdays_restricted_ ? (dom || dow)
                  : days_restricted_                       ? dom
                  : weekdays_restricted_                   ? dow
                                                           : true;
    if (!day_ok) {  // to the next midnight
      minute = (minute / 1440 + 1) * 1440;
      continue;
    }
    if (!hours_[c.hour]) {  // to the next hour
      minute = (minute / 60 + 1) * 60;
      continue;
    }
    if (!minutes_[c.minute]) {
      ++minute;
      continue;
    }
    return minute * 60000;
  }
  return std::nullopt;
}

}  // namespace steward::pipeline
