// Backoff: how long to wait before restarting a replica, and whether it is crash-looping.
//
// Delays double from restart.backoff_initial up to restart.backoff_max. The doubling streak
// resets once a replica has stayed up for kStableUptime, so a service that crashes once a day
// restarts quickly every time. A replica is crash-looping when at least crash_loop_restarts
// restarts fall inside the last crash_loop_window; while it is, every further restart waits
// backoff_max. Pure logic: time comes in as arguments. Not thread-safe (one per replica, owned
// by its ReplicaSupervisor).
#pragma once

#include <deque>

#include "base/clock.h"
#include "config/stack.h"

namespace steward::supervisor {

class Backoff {
 public:
  static constexpr Duration kStableUptime{10000};

  explicit Backoff(const config::Restart& restart);
  // New delays and crash-loop limits; the restart history is kept.
  void UpdateSettings(const config::Restart& restart) { restart_ = restart; }

  // The replica's process started / exited at `now`; an exit after kStableUptime of uptime
  // ends the doubling streak.
  void RecordStarted(MonoTime now);
  void RecordExited(MonoTime now);

  // Records a restart decided at `now` and returns how long to wait before it.
  Duration NextDelay(MonoTime now);

  // True when the restarts inside the window ending at `now` reach crash_loop_restarts.
  bool CrashLooping(MonoTime now) const;

  int restarts() const { return restarts_; }

 private:
  config::Restart restart_;
  int streak_ = 0;    // restarts since the last stable run
  int restarts_ = 0;  // over the replica's whole life
  MonoTime started_at_{};
  bool running_ = false;
  std::deque<MonoTime> recent_;  // restart times, oldest first, pruned to the window
};

}  // namespace steward::supervisor
