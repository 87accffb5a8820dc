#include "drivers/process_driver.h"

#include <signal.h>
#include <string.h>
#include <sys/wait.h>

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <filesystem>
#include <thread>
#include <tuple>

#include "drivers/proc_fs.h"
#include "drivers/spawn.h"

namespace steward::drivers {
namespace {

constexpr Duration kPollInterval{15};
// After SIGKILL only uninterruptible sleep can delay the end; past this, report instead of hang.
constexpr Duration kKillTimeout{5000};
constexpr char kMarkerVar[] = "STEWARD_INSTANCE";

std::vector<std::string> BuildEnv(const ReplicaSpec& spec, const std::string& marker) {
  std::map<std::string, std::string> env = spec.env;
  if (spec.port > 0) env["PORT"] = std::to_string(spec.port);
  env[kMarkerVar] = marker;
  std::vector<std::string> out;
  out.reserve(env.size());
  for (const auto& [name, value] : env) out.push_back(name + "=" + value);
  return out;
}

// Splits "<service>/<slot>/<generation>" (the marker after "<instance>/").
bool ParseMarkerTail(const std::string& tail, ObservedReplica* out) {
  size_t gen_sep = tail.rfind('/');
  if (gen_sep == std::string::npos || gen_sep == 0) return false;
  size_t slot_sep = tail.rfind('/', gen_sep - 1);
  if (slot_sep == std::string::npos || slot_sep == 0) return false;
  char* end = nullptr;
  out->slot = static_cast<int>(std::strtol(tail.c_str() + slot_sep + 1, &end, 10));
  if (end != tail.c_str() + gen_sep) return false;
  out->generation = std::strtoll(tail.c_str() + gen_sep + 1, &end, 10);
  if (*end != '\0') return false;
  out->service = tail.substr(0, slot_sep);
  return true;
}

bool IsDead(char state) { return state == 'Z' || state == 'X' || state == 'x'; }

}  // namespace

std::string DescribeWaitStatus(int status) {
  if (WIFEXITED(status)) return "exited with status " + std::to_string(WEXITSTATUS(status));
  if (WIFSIGNALED(status)) {
    int sig = WTERMSIG(status);
    const char* name = sigabbrev_np(sig);
    std::string text = "killed by signal " + std::to_string(sig);
    if (name != nullptr) text += std::string(" (SIG") + name + ")";
    return text;
  }
  return "stopped";
}

ProcessDriver::ProcessDriver(ProcessDriverOptions options)
    : options_(std::move(options)),
      clock_(options_.clock != nullptr ? options_.clock : RealClock::Get()) {}

std::string ProcessDriver::Marker(const std::string& instance, const std::string& service, int slot,
                                  int64_t generation) {
  return instance + "/" + service + "/" + std::to_string(slot) + "/" + std::to_string(generation);
}

StatusOr<ReplicaHandle> ProcessDriver::Start(const ReplicaSpec& spec) {
  std::string what = "start " + spec.service + "/" + std::to_string(spec.slot);
  if (spec.argv.empty()) return InvalidArgument(what + ": empty command");
  std::error_code ec;
  std::filesystem::create_directories(spec.log_dir, ec);
  if (ec) return IOError(what + ": create log dir '" + spec.log_dir + "': " + ec.message());

  SpawnRequest request;
  request.argv = spec.argv;
  request.env = BuildEnv(spec, Marker(options_.instance, spec.service, spec.slot, spec.generation));
  auto path = spec.env.find("PATH");
  if (path != spec.env.end()) request.path_env = path->second;
  request.extra_path = options_.extra_path;
  request.working_dir = spec.working_dir;
  request.stdout_path = (std::filesystem::path(spec.log_dir) / "stdout.log").string();
  request.stderr_path = (std::filesystem::path(spec.log_dir) / "stderr.log").string();

  StatusOr<int> pid = Spawn(request);
  if (!pid.ok()) return pid.status().Annotate(what);
  {
    std::lock_guard<std::mutex> lock(mu_);
    children_[*pid] = Child{spec.service, spec.slot, spec.generation};
  }
  ReplicaHandle handle{*pid, 0};
  // Our unreaped child cannot vanish from /proc, so this read only fails on a broken /proc.
  StatusOr<ProcStat> st = ReadProcStat(*pid);
  if (st.ok()) handle.start_ticks = st->start_ticks;
  return handle;
}

void ProcessDriver::ReapChildren() {
  std::lock_guard<std::mutex> lock(mu_);
  for (auto it = children_.begin(); it != children_.end();) {
    int status = 0;
    pid_t r = waitpid(it->first, &status, WNOHANG);
    if (r == 0 || (r < 0 && errno == EINTR)) {
      ++it;
      continue;
    }
    ExitEvent event;
    event.service = it->second.service;
    event.slot = it->second.slot;
    event.generation = it->second.generation;
    event.pid = it->first;
    if (r < 0) {
      event.description = "exit status unknown (reaped elsewhere)";
    } else {
      if (WIFEXITED(status)) event.exit_code = WEXITSTATUS(status);
      if (WIFSIGNALED(status)) event.signal = WTERMSIG(status);
      event.description = DescribeWaitStatus(status);
    }
    pending_.push_back(std::move(event));
    it = children_.erase(it);
  }
}

std::vector<ExitEvent> ProcessDriver::Reap() {
  ReapChildren();
  std::lock_guard<std::mutex> lock(mu_);
  std::vector<ExitEvent> out;
  out.swap(pending_);
  return out;
}

bool ProcessDriver::Alive(const ReplicaHandle& handle) {
  if (handle.pid <= 0) return false;
  StatusOr<ProcStat> st = ReadProcStat(handle.pid);
  if (!st.ok() || IsDead(st->state)) return false;
  return handle.start_ticks == 0 || st->start_ticks == handle.start_ticks;
}

bool ProcessDriver::WaitGroupGone(int pgid, MonoTime deadline) {
  for (;;) {
    ReapChildren();
    if (!GroupHasLiveMembers(pgid)) {
      ReapChildren();  // the leader may have turned zombie during the scan
      return true;
    }
    MonoTime now = clock_->Now();
    if (now >= deadline) return false;
    clock_->SleepFor(std::min(kPollInterval, std::chrono::duration_cast<Duration>(deadline - now)));
  }
}

Status ProcessDriver::Signal(const ReplicaHandle& handle, int signal) {
  if (handle.pid <= 0) return InvalidArgument("signal: no pid");
  if (kill(-handle.pid, signal) != 0 && errno != ESRCH)
    return ErrnoError("signal pid " + std::to_string(handle.pid), errno);
  return Status::OK();
}

Status ProcessDriver::Stop(const ReplicaHandle& handle, int signal, Duration grace) {
  if (handle.pid <= 0) return Status::OK();
  std::string what = "stop pid " + std::to_string(handle.pid);
  StatusOr<ProcStat> st = ReadProcStat(handle.pid);
  if (st.ok()) {
    // A different process under a reused pid: ours is long gone.
    if (handle.start_ticks != 0 && st->start_ticks != handle.start_ticks) return Status::OK();
    if (st->pgrp != handle.pid) {
      return FailedPrecondition(what + ": not a process-group leader (pgid " +
                                std::to_string(st->pgrp) + ")");
    }
    // Alive or a zombie: either way it still holds the group id, so signalling it is safe.
  } else if (!GroupHasLiveMembers(handle.pid)) {
    ReapChildren();
    return Status::OK();
  }
  // Else the leader was reaped but members of its group still run (the kernel keeps a pid that
  // is in use as a group id from being reused): they are the replica's leftovers, stop them.
  int pgid = handle.pid;
  if (kill(-pgid, signal) != 0 && errno != ESRCH) return ErrnoError(what + ": kill", errno);
  if (WaitGroupGone(pgid, clock_->Now() + grace)) return Status::OK();
  if (kill(-pgid, SIGKILL) != 0 && errno != ESRCH) return ErrnoError(what + ": kill", errno);
  if (WaitGroupGone(pgid, clock_->Now() + kKillTimeout)) return Status::OK();
  return DeadlineExceeded(what + ": process group still running " + FormatDuration(kKillTimeout) +
                          " after SIGKILL");
}

StatusOr<std::vector<ObservedReplica>> ProcessDriver::Observe() {
  ReapChildren();
  const std::string prefix = options_.instance + "/";
  std::vector<ObservedReplica> out;
  for (int pid : ListPids()) {
    // Any read failing means the process vanished (or is not ours to read): skip it.
    StatusOr<std::map<std::string, std::string>> env = ReadEnviron(pid);
    if (!env.ok()) continue;
    auto marker = env->find(kMarkerVar);
    if (marker == env->end() || marker->second.compare(0, prefix.size(), prefix) != 0) continue;
    ObservedReplica r;
    if (!ParseMarkerTail(marker->second.substr(prefix.size()), &r)) continue;
    StatusOr<ProcStat> st = ReadProcStat(pid);
    if (!st.ok() || st->pgrp != pid) continue;  // a replica's own child, not the replica
    StatusOr<int64_t> rss = ReadRssBytes(pid);
    if (!rss.ok()) continue;
    r.pid = pid;
    r.start_ticks = st->start_ticks;
    auto port = env->find("PORT");
    if (port != env->end()) r.port = std::atoi(port->second.c_str());
    r.rss_bytes = *rss;
    r.zombie = IsDead(st->state);
    out.push_back(std::move(r));
  }
  std::sort(out.begin(), out.end(), [](const ObservedReplica& a, const ObservedReplica& b) {
    return std::tie(a.service, a.slot, a.generation, a.pid) <
           std::tie(b.service, b.slot, b.generation, b.pid);
  });
  return out;
}

std::unique_ptr<Driver> NewProcessDriver(const ProcessDriverOptions& options) {
  return std::make_unique<ProcessDriver>(options);
}

}  // namespace steward::drivers

namespace steward::drivers {

int KillAllMarked(const std::string& instance) {
  const std::string prefix = instance + "/";
  int killed = 0;
  for (int pid : ListPids()) {
    if (pid == getpid()) continue;
    StatusOr<std::map<std::string, std::string>> env = ReadEnviron(pid);
    if (!env.ok()) continue;
    auto marker = env->find(kMarkerVar);
    if (marker == env->end() || marker->second.compare(0, prefix.size(), prefix) != 0) continue;
    if (kill(pid, SIGKILL) == 0) ++killed;
  }
  return killed;
}

StatusOr<int> StopMarked(Driver& driver, const std::string& instance, Duration grace) {
  ASSIGN_OR_RETURN(auto observed, driver.Observe());
  std::vector<Status> results(observed.size());
  std::vector<std::thread> threads;
  for (size_t i = 0; i < observed.size(); ++i)
    threads.emplace_back([&, i] {
      results[i] = driver.Stop({observed[i].pid, observed[i].start_ticks}, SIGTERM, grace);
    });
  for (auto& t : threads) t.join();
  KillAllMarked(instance);
  for (const auto& st : results) RETURN_IF_ERROR(st);
  return static_cast<int>(observed.size());
}

}  // namespace steward::drivers
