// Driver: how a replica becomes a running thing. The process driver (default) runs each
// replica as a process in its own process group; podman/ssh/k8s drivers come later behind the
// same interface.
//
// Identity: every replica's environment carries STEWARD_INSTANCE=<instance>/<service>/<slot>/
// <generation>. Observe() finds replicas by that marker, not by what the state store says, so a
// replica started just before a kill -9 (and never recorded) is still seen, and nothing is ever
// orphaned. <instance> identifies one project's state directory.
// Thread safety: implementations are thread-safe.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "base/clock.h"
#include "base/status.h"

namespace steward::drivers {

struct ReplicaSpec {
  std::string service;
  int slot = 0;
  int64_t generation = 0;
  std::vector<std::string> argv;           // argv[0] resolved through PATH if no '/'
  std::map<std::string, std::string> env;  // the replica's whole environment (plus PORT etc.)
  std::string working_dir;
  int port = 0;              // exported as PORT when > 0
  std::string log_dir;       // stdout.log / stderr.log written here
  int64_t memory_bytes = 0;  // informational; enforced by the supervisor
};

// What is actually running.
struct ObservedReplica {
  std::string service;
  int slot = 0;
  int64_t generation = 0;
  int pid = 0;              // the process-group leader
  int64_t start_ticks = 0;  // /proc/<pid>/stat starttime
  int port = 0;             // from the replica's PORT
  int64_t rss_bytes = 0;
  bool zombie = false;  // exited, not yet reaped
};

struct ReplicaHandle {
  int pid = 0;
  int64_t start_ticks = 0;  // 0 means unknown: any process with that pid matches
};

// A replica this driver started (a child of this process) has exited and was reaped.
struct ExitEvent {
  std::string service;
  int slot = 0;
  int64_t generation = 0;
  int pid = 0;
  int exit_code = -1;       // when it exited normally; -1 otherwise
  int signal = 0;           // when a signal killed it; 0 otherwise
  std::string description;  // "exited with status 1" / "killed by signal 9"
};

class Driver {
 public:
  virtual ~Driver() = default;
  // Starts the replica detached from the caller's session; returns once the process exists.
  // An exec failure (no such program, not executable) is returned as an error, not a crash.
  // The replica is a direct child of this process (no double fork: this machine's PID 1 does
  // not reap orphans), so this process must Reap() it. The process driver also sets
  // PR_SET_PDEATHSIG=SIGKILL, which fires when the *thread* that called Start() exits: call
  // Start() from a long-lived thread (the daemon's main loop), never from a short-lived worker.
  virtual StatusOr<ReplicaHandle> Start(const ReplicaSpec& spec) = 0;
  // Sends `signal` to the replica's process group, waits up to `grace`, then SIGKILLs the group.
  // Returns when the group is gone (zombie members count as gone). Stopping a replica that is
  // already gone is OK; if only its leader is gone, the rest of its group is stopped, so call
  // Stop() after an exit too, to clean up children the replica left running.
  virtual Status Stop(const ReplicaHandle& handle, int signal, Duration grace) = 0;
  // Sends `signal` to the replica's process group and returns at once; the exit comes back
  // through Reap(). A group that is already gone is OK; pid 0 is refused (it would signal our
  // own group). The supervisor's kill of an unhealthy or over-memory replica goes through here,
  // so tests can stand in for the process.
  virtual Status Signal(const ReplicaHandle& handle, int signal) = 0;
  // Every replica of this instance that exists now, including replicas started by an earlier
  // Steward process (found by their STEWARD_INSTANCE marker). Reaps own children first.
  virtual StatusOr<std::vector<ObservedReplica>> Observe() = 0;
  // True if that exact process (pid and start time) is alive and not a zombie.
  virtual bool Alive(const ReplicaHandle& handle) = 0;
  // Reaps the replicas this driver started that have exited since the last call (waiting for
  // its own pids only, never waitpid(-1)), and returns them once each. Exits reaped inside
  // Stop() or Observe() are kept and returned here too, so a caller that stopped a replica
  // itself sees that exit as well and must match it by pid.
  virtual std::vector<ExitEvent> Reap() = 0;
};

struct ProcessDriverOptions {
  std::string instance;    // the marker's first part; see above
  Clock* clock = nullptr;  // for Stop()'s grace and poll; nullptr means RealClock
  // Searched after the replica env's PATH for a program named without '/' (the integrator
  // passes the steward binary's own directory, so `steward-demo` next to it is found).
  std::vector<std::string> extra_path;
};
std::unique_ptr<Driver> NewProcessDriver(const ProcessDriverOptions& options);

// SIGKILLs every process that carries `instance`'s marker, group leaders or not: the last
// resort after a daemon died, for a replica's own children that outlived their leader.
// Returns how many were signalled.
int KillAllMarked(const std::string& instance);

// Stops every replica of `instance` the driver observes, all at once (SIGTERM, `grace`, then
// SIGKILL), then KillAllMarked() for their children. Returns how many replicas it stopped;
// the first failed stop is the error, after all were attempted.
StatusOr<int> StopMarked(Driver& driver, const std::string& instance, Duration grace);

// Copy-truncate rotation of <log_dir>/{stdout,stderr}.log when over max_bytes, keeping `keep`
// old files (stdout.log.1 newest). Safe while the replica writes (its fd is O_APPEND).
Status RotateLogs(const std::string& log_dir, int64_t max_bytes, int keep);

}  // namespace steward::drivers
