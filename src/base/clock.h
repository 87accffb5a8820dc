// Clock: the seam through which every room reads time, so that backoff, health-check intervals,
// lock timeouts and history timestamps can be tested with a clock the test advances.
//
// Wall time (for records people read) and monotonic time (for intervals and deadlines) are
// separate because the wall clock can jump. Thread safety: implementations are thread-safe.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <mutex>
#include <string>

namespace steward {

using Duration = std::chrono::milliseconds;
using MonoTime = std::chrono::steady_clock::time_point;
using WallTime = std::chrono::system_clock::time_point;

class Clock {
 public:
  virtual ~Clock() = default;
  virtual MonoTime Now() const = 0;
  virtual WallTime WallNow() const = 0;
  virtual void SleepFor(Duration d) = 0;
};

class RealClock : public Clock {
 public:
  MonoTime Now() const override { return std::chrono::steady_clock::now(); }
  WallTime WallNow() const override { return std::chrono::system_clock::now(); }
  void SleepFor(Duration d) override;
  static RealClock* Get();
};

// A clock that moves only when told to. SleepFor advances it, so code that sleeps returns at once.
class FakeClock : public Clock {
 public:
  FakeClock();
  MonoTime Now() const override;
  WallTime WallNow() const override;
  void SleepFor(Duration d) override { Advance(d); }
  void Advance(Duration d);

 private:
  mutable std::mutex mu_;
  MonoTime mono_;
  WallTime wall_;
};

// Unix milliseconds of a wall time, and RFC 3339 in UTC ("2026-11-26T19:02:19Z").
int64_t ToUnixMillis(WallTime t);
WallTime FromUnixMillis(int64_t ms);
std::string FormatRfc3339(WallTime t);
// With milliseconds: "2026-11-26T19:02:19.123Z" (Prometheus' API shows sub-second times).
std::string FormatRfc3339Millis(WallTime t);
// "1.2s", "350ms", "3m10s", "2h5m": how durations are shown to people.
std::string FormatDuration(Duration d);

}  // namespace steward
