#include "supervisor/backoff.h"

#include <algorithm>

namespace steward::supervisor {

Backoff::Backoff(const config::Restart& restart) : restart_(restart) {}

void Backoff::RecordStarted(MonoTime now) {
  started_at_ = now;
  running_ = true;
}

void Backoff::RecordExited(MonoTime now) {
  if (running_ && now - started_at_ >= kStableUptime) streak_ = 0;
  running_ = false;
}

Duration Backoff::NextDelay(MonoTime now) {
  // Judged before counting this restart: the restart that completes the crash-loop count
  // still gets its normal delay; the ones after it wait the maximum.
  bool looping = CrashLooping(now);
  Duration delay = restart_.backoff_max;
  if (!looping) {
    delay = restart_.backoff_initial;
    for (int i = 0; i < streak_ && delay < restart_.backoff_max; ++i) delay *= 2;
    delay = std::min(delay, restart_.backoff_max);
  }
  ++streak_;
  ++restarts_;
  recent_.push_back(now);
  while (!recent_.empty() && now - recent_.front() >= restart_.crash_loop_window) {
    recent_.pop_front();
  }
  return delay;
}

bool Backoff::CrashLooping(MonoTime now) const {
  if (restart_.crash_loop_restarts <= 0) return false;
  auto in_window = std::count_if(recent_.begin(), recent_.end(),
                                 [&](MonoTime t) { return now - t < restart_.crash_loop_window; });
  return in_window >= restart_.crash_loop_restarts;
}

}  // namespace steward::supervisor
