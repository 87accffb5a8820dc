#include "base/clock.h"

#include <cstdio>
#include <ctime>
#include <thread>

namespace steward {

void RealClock::SleepFor(Duration d) { std::this_thread::sleep_for(d); }

RealClock* RealClock::Get() {
  static RealClock clock;
  return &clock;
}

FakeClock::FakeClock()
    : mono_(MonoTime(std::chrono::hours(1000))),
      wall_(WallTime(std::chrono::seconds(1790000000))) {}

MonoTime FakeClock::Now() const {
  std::lock_guard<std::mutex> l(mu_);
  return mono_;
}

WallTime FakeClock::WallNow() const {
  std::lock_guard<std::mutex> l(mu_);
  return wall_;
}

void FakeClock::Advance(Duration d) {
  std::lock_guard<std::mutex> l(mu_);
  mono_ += d;
  wall_ += d;
}

int64_t ToUnixMillis(WallTime t) {
  return std::chrono::duration_cast<std::chrono::milliseconds>(t.time_since_epoch()).count();
}

WallTime FromUnixMillis(int64_t ms) { return WallTime(std::chrono::milliseconds(ms)); }

std::string FormatRfc3339(WallTime t) {
  std::time_t secs = std::chrono::system_clock::to_time_t(t);
  std::tm tm{};
  gmtime_r(&secs, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
  return buf;
}

std::string FormatRfc3339Millis(WallTime t) {
  int64_t ms = ToUnixMillis(t);
  int64_t secs = ms >= 0 ? ms / 1000 : (ms - 999) / 1000;
  std::string base = FormatRfc3339(FromUnixMillis(secs * 1000));
  char frac[8];
  std::snprintf(frac, sizeof frac, ".%03d", static_cast<int>(ms - secs * 1000));
  return base.substr(0, base.size() - 1) + frac + "Z";
}

std::string FormatDuration(Duration d) {
  int64_t ms = d.count();
  if (ms < 1000) return std::to_string(ms) + "ms";
  if (ms < 60000) {
    char buf[32];
    std::snprintf(buf, sizeof buf, "%.1fs", ms / 1000.0);
    return buf;
  }
  int64_t s = ms / 1000;
  if (s < 3600) return std::to_string(s / 60) + "m" + std::to_string(s % 60) + "s";
  return std::to_string(s / 3600) + "h" + std::to_string((s % 3600) / 60) + "m";
}

}  // namespace steward
