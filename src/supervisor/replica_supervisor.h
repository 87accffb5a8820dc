// ReplicaSupervisor: the life of one replica slot as a pure state machine. It starts no
// processes and reads no clock; the daemon feeds it events with their time and acts on the
// Decision that Tick() returns. Not thread-safe: one per replica, driven by one thread.
//
// Transitions (event -> new state):
//   kPending      Tick                          -> kStarting, returns kStart
//   kStarting     OnStarted, no health check    -> kReady
//   kStarting     healthy_threshold successes   -> kReady
//   kStarting/    unhealthy_threshold failures  -> kUnhealthy, restart scheduled by Backoff
//     kReady        (not counted in start_period)
//   kUnhealthy    Tick once the delay passed    -> kStarting, returns kRestartUnhealthy
//   running       OnExited / OnStartFailed      -> per restart policy:
//                   restart: kBackoff, or kCrashLoop while Backoff::CrashLooping (delay is
//                            then backoff_max)
//                   no restart: kStopped (exit 0 under on-failure or never), kFailed (failure
//                            under never)
//   kBackoff/     Tick once the delay passed    -> kStarting, returns kStart
//     kCrashLoop
//   any           OnStopRequested               -> kStopped (terminal; later events ignored)
// "running" is kStarting, kReady or kUnhealthy. A running replica that exits while kUnhealthy
// keeps its already scheduled restart (as kBackoff/kCrashLoop), so it is not counted twice.
//
// Details:
// - Failed health checks count in kStarting and kReady, but not within start_period of the
//   start; a success resets the failure count. Results in other states are ignored. While
//   starting, at most one failure per health interval counts (checks may come faster).
// - Tick returns kStart or kRestartUnhealthy once per restart and moves to kStarting; the
//   caller then starts the process and calls OnStarted (or OnStartFailed).
// - For kRestartUnhealthy the caller stops the running process itself and must not report that
//   exit through OnExited (it knows the pid it stopped).
// - Every restart, unhealthy ones included, goes through Backoff: it is counted, delayed and
//   can put the replica into a crash loop.
#pragma once

#include <string>
#include <string_view>

#include "base/clock.h"
#include "config/stack.h"
#include "supervisor/backoff.h"

namespace steward::supervisor {

enum class ReplicaState {
  kPending,    // not started yet
  kStarting,   // started, not yet healthy
  kReady,      // passing health checks; may receive traffic
  kUnhealthy,  // failed unhealthy_threshold checks; a restart is scheduled
  kBackoff,    // exited; waiting to restart
  kCrashLoop,  // exited and restarting too often; waiting backoff_max to restart
  kStopped,    // stopped on request, or exited 0 with a policy that does not restart it
  kFailed,     // exited with failure under restart policy "never"
};
std::string_view ReplicaStateName(ReplicaState state);  // "ready", "crash-loop", ...

enum class Decision {
  kNone,
  kStart,             // start a new process now
  kRestartUnhealthy,  // stop the running process, then start a new one now
};

class ReplicaSupervisor {
 public:
  ReplicaSupervisor(const config::HealthCheck& health, const config::Restart& restart);

  void OnStarted(MonoTime now);
  // The start itself failed (exec error): treated as a failed exit.
  void OnStartFailed(MonoTime now, const std::string& reason);
  // exit_code when it exited normally (signal 0), else the killing signal.
  void OnExited(MonoTime now, int exit_code, int signal);
  // Like OnExited, for a process Steward killed itself (e.g. over its memory limit): `reason`
  // replaces the "killed by signal 9" the bare exit would report.
  void OnKilled(MonoTime now, const std::string& reason);
  // New settings from an in-place update; they apply from the next event on.
  void UpdateSettings(const config::HealthCheck& health, const config::Restart& restart);
  void OnHealthResult(MonoTime now, bool ok, const std::string& detail = "");
  void OnStopRequested();

  Decision Tick(MonoTime now);

  ReplicaState state() const { return state_; }
  std::string_view StateName() const { return ReplicaStateName(state_); }
  bool Ready() const { return state_ == ReplicaState::kReady; }
  int restarts() const { return backoff_.restarts(); }
  // Why the replica is in its state: "exited with status 1", "health check failed 3 times:
  // HTTP 500", ...; empty while nothing has gone wrong.
  const std::string& last_reason() const { return last_reason_; }
  // When a scheduled (re)start is due; meaningful in kBackoff, kCrashLoop and kUnhealthy.
  MonoTime next_start() const { return next_start_; }

 private:
  bool Running() const;
  void HandleExit(MonoTime now, bool failed, std::string reason);
  void ScheduleRestart(MonoTime now, ReplicaState waiting_state);
  void CountFailure(MonoTime now, const std::string& detail);

  config::HealthCheck health_;
  config::Restart restart_;
  Backoff backoff_;
  ReplicaState state_ = ReplicaState::kPending;
  MonoTime started_at_{};
  MonoTime next_start_{};
  int successes_ = 0;  // consecutive
  int failures_ = 0;   // consecutive, outside start_period
  MonoTime last_failure_counted_{};
  std::string last_reason_;
};

}  // namespace steward::supervisor
