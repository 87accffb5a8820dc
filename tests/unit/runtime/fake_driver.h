// FakeDriver: a Driver with no processes behind it, for testing the Runtime. It records what it
// was asked to start, signal and stop, hands out pids that no real process can have, and lets
// the test make a replica exit (the next Reap() reports it), as a real child would.
// Thread safety: every method is mutex-guarded (the runtime calls it from its loop thread).
#pragma once

#include <signal.h>

#include <map>
#include <mutex>
#include <set>
#include <vector>

#include "base/status.h"
#include "drivers/driver.h"

namespace steward::runtime::testing {

class FakeDriver : public drivers::Driver {
 public:
  // Far above any kernel's pid_max (at most 2^22), so a stray kill() could hit nothing.
  static constexpr int kFirstPid = 1 << 30;

  struct StopCall {
    drivers::ReplicaHandle handle;
    int signal;
    Duration grace;
  };
  struct SignalCall {
    int pid;
    int signal;
  };

  StatusOr<drivers::ReplicaHandle> Start(const drivers::ReplicaSpec& spec) override {
    std::lock_guard<std::mutex> l(mu_);
    starts_.push_back(spec);
    if (!start_error_.empty()) return IOError(start_error_);
    int pid = next_pid_++;
    live_[pid] = spec;
    return drivers::ReplicaHandle{pid, int64_t{pid} * 10};
  }

  Status Stop(const drivers::ReplicaHandle& handle, int signal, Duration grace) override {
    std::lock_guard<std::mutex> l(mu_);
    stops_.push_back({handle, signal, grace});
    ExitLocked(handle.pid, -1, signal);
    return Status::OK();
  }

  Status Signal(const drivers::ReplicaHandle& handle, int signal) override {
    std::lock_guard<std::mutex> l(mu_);
    signals_.push_back({handle.pid, signal});
    if (signal == SIGKILL || !ignored_signals_.count(signal)) ExitLocked(handle.pid, -1, signal);
    return Status::OK();
  }

  StatusOr<std::vector<drivers::ObservedReplica>> Observe() override {
    std::lock_guard<std::mutex> l(mu_);
    std::vector<drivers::ObservedReplica> out = foreign_;
    for (const auto& [pid, spec] : live_)
      out.push_back(
          {spec.service, spec.slot, spec.generation, pid, int64_t{pid} * 10, spec.port, 0, false});
    return out;
  }

  bool Alive(const drivers::ReplicaHandle& handle) override {
    std::lock_guard<std::mutex> l(mu_);
    return live_.count(handle.pid) > 0;
  }

  std::vector<drivers::ExitEvent> Reap() override {
    std::lock_guard<std::mutex> l(mu_);
    std::vector<drivers::ExitEvent> out;
    out.swap(exited_);
    return out;
  }

  // --- test controls -------------------------------------------------------------------------

  // The replica exits with `code` (or is killed by `signal` when non-zero).
  void Exit(int pid, int code, int signal = 0) {
    std::lock_guard<std::mutex> l(mu_);
    ExitLocked(pid, code, signal);
  }
  void FailStarts(std::string error) {
    std::lock_guard<std::mutex> l(mu_);
    start_error_ = std::move(error);
  }
  // The replica survives this signal (SIGKILL always kills).
  void IgnoreSignal(int signal) {
    std::lock_guard<std::mutex> l(mu_);
    ignored_signals_.insert(signal);
  }
  // A process the runtime never started (left by an earlier daemon).
  void AddForeign(drivers::ObservedReplica o) {
    std::lock_guard<std::mutex> l(mu_);
    foreign_.push_back(std::move(o));
  }

  std::vector<drivers::ReplicaSpec> starts() const {
    std::lock_guard<std::mutex> l(mu_);
    return starts_;
  }
  size_t start_count() const {
    std::lock_guard<std::mutex> l(mu_);
    return starts_.size();
  }
  std::vector<StopCall> stops() const {
    std::lock_guard<std::mutex> l(mu_);
    return stops_;
  }
  std::vector<SignalCall> signals() const {
    std::lock_guard<std::mutex> l(mu_);
    return signals_;
  }
  size_t live_count() const {
    std::lock_guard<std::mutex> l(mu_);
    return live_.size();
  }

 private:
  void ExitLocked(int pid, int code, int signal) {
    auto it = live_.find(pid);
    if (it == live_.end()) return;
    const drivers::ReplicaSpec& s = it->second;
    std::string how = signal ? "killed by signal " + std::to_string(signal)
                             : "exited with status " + std::to_string(code);
    exited_.push_back({s.service, s.slot, s.generation, pid, signal ? -1 : code, signal, how});
    live_.erase(it);
  }

  mutable std::mutex mu_;
  int next_pid_ = kFirstPid;
  std::string start_error_;
  std::set<int> ignored_signals_;
  std::map<int, drivers::ReplicaSpec> live_;
  std::vector<drivers::ObservedReplica> foreign_;
  std::vector<drivers::ExitEvent> exited_;
  std::vector<drivers::ReplicaSpec> starts_;
  std::vector<StopCall> stops_;
  std::vector<SignalCall> signals_;
};

}  // namespace steward::runtime::testing
