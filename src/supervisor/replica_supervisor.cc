#include "supervisor/replica_supervisor.h"

#include <utility>

namespace steward::supervisor {

std::string_view ReplicaStateName(ReplicaState state) {
  switch (state) {
    case ReplicaState::kPending:
      return "pending";
    case ReplicaState::kStarting:
      return "starting";
    case ReplicaState::kReady:
      return "ready";
    case ReplicaState::kUnhealthy:
      return "unhealthy";
    case ReplicaState::kBackoff:
      return "backoff";
    case ReplicaState::kCrashLoop:
      return "crash-loop";
    case ReplicaState::kStopped:
      return "stopped";
    case ReplicaState::kFailed:
      return "failed";
  }
  return "unknown";
}

ReplicaSupervisor::ReplicaSupervisor(const config::HealthCheck& health,
                                     const config::Restart& restart)
    : health_(health), restart_(restart), backoff_(restart) {}

bool ReplicaSupervisor::Running() const {
  return state_ == ReplicaState::kStarting || state_ == ReplicaState::kReady ||
         state_ == ReplicaState::kUnhealthy;
}

void ReplicaSupervisor::OnStarted(MonoTime now) {
  if (state_ == ReplicaState::kStopped || state_ == ReplicaState::kFailed) return;
  state_ = health_.kind == config::HealthCheckKind::kNone ? ReplicaState::kReady
                                                          : ReplicaState::kStarting;
  started_at_ = now;
  successes_ = 0;
  failures_ = 0;
  backoff_.RecordStarted(now);
}

void ReplicaSupervisor::OnStartFailed(MonoTime now, const std::string& reason) {
  if (state_ == ReplicaState::kStopped || state_ == ReplicaState::kFailed) return;
  HandleExit(now, /*failed=*/true, "start failed: " + reason);
}

void ReplicaSupervisor::OnExited(MonoTime now, int exit_code, int signal) {
  if (!Running()) return;  // e.g. a late report after a stop request
  backoff_.RecordExited(now);
  std::string reason = signal != 0 ? "killed by signal " + std::to_string(signal)
                                   : "exited with status " + std::to_string(exit_code);
  HandleExit(now, signal != 0 || exit_code != 0, std::move(reason));
}

void ReplicaSupervisor::OnKilled(MonoTime now, const std::string& reason) {
  if (!Running()) return;
  backoff_.RecordExited(now);
  HandleExit(now, /*failed=*/true, reason);
}

void ReplicaSupervisor::UpdateSettings(const config::HealthCheck& health,
                                       const config::Restart& restart) {
  health_ = health;
  restart_ = restart;
  backoff_.UpdateSettings(restart);
}

void ReplicaSupervisor::HandleExit(MonoTime now, bool failed, std::string reason) {
  bool restart_pending = state_ == ReplicaState::kUnhealthy;
  last_reason_ = std::move(reason);
  bool restart = restart_.policy == config::RestartPolicy::kAlways ||
                 (restart_.policy == config::RestartPolicy::kOnFailure && failed);
  if (!restart) {
    state_ = failed ? ReplicaState::kFailed : ReplicaState::kStopped;
  } else if (restart_pending) {
    // Died while waiting for its unhealthy restart: that restart is already counted and
    // scheduled; only there is nothing left to stop.
    state_ = backoff_.CrashLooping(now) ? ReplicaState::kCrashLoop : ReplicaState::kBackoff;
  } else {
    ScheduleRestart(now, ReplicaState::kBackoff);
  }
}

void ReplicaSupervisor::ScheduleRestart(MonoTime now, ReplicaState waiting_state) {
  next_start_ = now + backoff_.NextDelay(now);
  state_ = waiting_state;
  if (waiting_state == ReplicaState::kBackoff && backoff_.CrashLooping(now)) {
    state_ = ReplicaState::kCrashLoop;
  }
}

void ReplicaSupervisor::OnHealthResult(MonoTime now, bool ok, const std::string& detail) {
  if (state_ != ReplicaState::kStarting && state_ != ReplicaState::kReady) return;
  if (ok) {
    failures_ = 0;
    ++successes_;
    if (state_ == ReplicaState::kStarting && successes_ >= health_.healthy_threshold) {
      state_ = ReplicaState::kReady;
    }
    return;
  }
  successes_ = 0;
  if (now - started_at_ < health_.start_period) return;
  // A starting replica is checked more often than the interval so that readiness shows at
  // once; its failures still count once per interval, so the threshold means the same time.
  if (state_ == ReplicaState::kStarting && failures_ > 0 &&
      now - last_failure_counted_ < health_.interval)
    return;
  last_failure_counted_ = now;
  CountFailure(now, detail);
}

void ReplicaSupervisor::CountFailure(MonoTime now, const std::string& detail) {
  if (++failures_ < health_.unhealthy_threshold) return;
  last_reason_ = "health check failed " + std::to_string(failures_) + " times";
  if (!detail.empty()) last_reason_ += ": " + detail;
  backoff_.RecordExited(now);  // its useful life ended here, as far as the streak is concerned
  ScheduleRestart(now, ReplicaState::kUnhealthy);
}

void ReplicaSupervisor::OnStopRequested() {
  state_ = ReplicaState::kStopped;
  last_reason_ = "stopped by request";
}

Decision ReplicaSupervisor::Tick(MonoTime now) {
  switch (state_) {
    case ReplicaState::kPending:
      state_ = ReplicaState::kStarting;
      started_at_ = now;
      return Decision::kStart;
    case ReplicaState::kBackoff:
    case ReplicaState::kCrashLoop:
      if (now < next_start_) return Decision::kNone;
      state_ = ReplicaState::kStarting;
      started_at_ = now;
      return Decision::kStart;
    case ReplicaState::kUnhealthy:
      if (now < next_start_) return Decision::kNone;
      state_ = ReplicaState::kStarting;
      started_at_ = now;
      return Decision::kRestartUnhealthy;
    default:
      return Decision::kNone;
  }
}

}  // namespace steward::supervisor
