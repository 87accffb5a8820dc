// ProcessDriver: the default Driver. Each replica is a direct child process of the Steward
// daemon, leader of its own session and process group, with STEWARD_INSTANCE and PORT in its
// environment and stdout/stderr appended to <log_dir>/{stdout,stderr}.log.
//
// Contract beyond driver.h:
// - Observe() scans /proc/*/environ for this instance's marker, keeping only process-group
//   leaders (a replica's own children inherit the marker but not the leadership).
// - Stop() signals the whole group, so a replica's children die with it; members that are
//   zombies (orphans this machine's PID 1 never reaps) count as gone.
// - Reap() waits for this driver's own children by pid only, so other code in the daemon may
//   wait for its own children (health-check commands) without losing exits.
// Thread safety: all methods may be called from any thread; the child table is mutex-guarded
// and no lock is held while sleeping in Stop().
#pragma once

#include <map>
#include <memory>
#include <mutex>
#include <vector>

#include "drivers/driver.h"

namespace steward::drivers {

class ProcessDriver : public Driver {
 public:
  explicit ProcessDriver(ProcessDriverOptions options);

  StatusOr<ReplicaHandle> Start(const ReplicaSpec& spec) override;
  Status Stop(const ReplicaHandle& handle, int signal, Duration grace) override;
  Status Signal(const ReplicaHandle& handle, int signal) override;
  StatusOr<std::vector<ObservedReplica>> Observe() override;
  bool Alive(const ReplicaHandle& handle) override;
  std::vector<ExitEvent> Reap() override;

  // "<instance>/<service>/<slot>/<generation>": the STEWARD_INSTANCE value of a replica.
  static std::string Marker(const std::string& instance, const std::string& service, int slot,
                            int64_t generation);

 private:
  struct Child {
    std::string service;
    int slot = 0;
    int64_t generation = 0;
  };

  // Waits (WNOHANG) for every own child and queues the exits for Reap().
  void ReapChildren();
  // Polls until the group has no live member or `deadline` passes; reaps along the way.
  bool WaitGroupGone(int pgid, MonoTime deadline);

  ProcessDriverOptions options_;
  Clock* clock_;
  std::mutex mu_;
  std::map<int, Child> children_;   // guarded by mu_: pids started and not yet reaped
  std::vector<ExitEvent> pending_;  // guarded by mu_: reaped, not yet returned by Reap()
};

// "exited with status 1" / "killed by signal 9 (Killed)" from a waitpid status.
std::string DescribeWaitStatus(int status);

}  // namespace steward::drivers
