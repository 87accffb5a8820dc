// Running and driving haproxy: start (or take over) the master-worker process, reload it when
// the set of frontends changes, and move servers in and out of slots through the runtime API.
#include "ingress/haproxy.h"

#include <fcntl.h>
#include <fmt/format.h>
#include <signal.h>
#include <spawn.h>
#include <spdlog/spdlog.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>
#include <thread>
#include <utility>

#include "ingress/haproxy_internal.h"

extern char** environ;

namespace steward::ingress {
namespace {

using internal::IngressPaths;
using SteadyClock = std::chrono::steady_clock;
constexpr std::chrono::milliseconds kCommandTimeout{5000};
constexpr std::chrono::milliseconds kPoll{20};
constexpr size_t kMaxLogBytes = 10 << 20;

StatusOr<std::string> ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return NotFound("cannot read " + path);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// Writes through a temporary file and rename, so haproxy (or a reader) never sees half a file.
Status WriteFileAtomically(const std::string& path, const std::string& content) {
  std::string tmp = path + ".tmp";
  int fd = open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) return ErrnoError("write " + tmp, errno);
  size_t done = 0;
  while (done < content.size()) {
    ssize_t n = write(fd, content.data() + done, content.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      int err = errno;
      close(fd);
      return ErrnoError("write " + tmp, err);
    }
    done += static_cast<size_t>(n);
  }
  if (fsync(fd) != 0 || close(fd) != 0) return ErrnoError("sync " + tmp, errno);
  if (rename(tmp.c_str(), path.c_str()) != 0) return ErrnoError("rename to " + path, errno);
  return Status::OK();
}

// The last lines of haproxy's log from byte `from`, for error messages.
std::string LogTail(const std::string& path, size_t from, size_t max_lines = 8) {
  StatusOr<std::string> text = ReadFile(path);
  if (!text.ok()) return "";
  std::string s = text->size() > from ? text->substr(from) : "";
  std::vector<std::string> lines;
  std::istringstream in(s);
  for (std::string l; std::getline(in, l);) {
    if (l.find("[ALERT]") != std::string::npos || l.find("[WARNING]") != std::string::npos ||
        l.find("error") != std::string::npos) {
      lines.push_back(l);
    }
  }
  if (lines.size() > max_lines) lines.erase(lines.begin(), lines.end() - max_lines);
  std::string out;
  for (const std::string& l : lines) out += (out.empty() ? "" : " | ") + l;
  return out;
}

size_t FileSize(const std::string& path) {
  struct stat st {};
  return stat(path.c_str(), &st) == 0 ? static_cast<size_t>(st.st_size) : 0;
}

// A process exists and is not a zombie waiting to be reaped.
bool ProcessRunning(int pid) {
  if (pid <= 0 || kill(pid, 0) != 0) return false;
  StatusOr<std::string> stat = ReadFile(fmt::format("/proc/{}/stat", pid));
  if (!stat.ok()) return true;
  size_t paren = stat->rfind(')');
  return paren == std::string::npos || paren + 2 >= stat->size() || (*stat)[paren + 2] != 'Z';
}

// The pid is a haproxy running our config (a recycled pid would be some other process).
bool IsOurHaproxy(int pid, const std::string& config) {
  StatusOr<std::string> cmdline = ReadFile(fmt::format("/proc/{}/cmdline", pid));
  if (!cmdline.ok()) return false;
  std::string argv0 = cmdline->substr(0, cmdline->find('\0'));
  return argv0.find("haproxy") != std::string::npos &&
         cmdline->find(std::string(1, '\0') + config + '\0') != std::string::npos;
}

// Quotes haproxy's own complaint about a config: its [ALERT] lines, without the noise.
std::string CheckErrors(const std::string& output) {
  std::vector<std::string> alerts;
  std::istringstream in(output);
  for (std::string l; std::getline(in, l);) {
    if (l.find("[ALERT]") != std::string::npos) alerts.push_back(l);
  }
  if (alerts.empty()) return output;
  std::string out;
  for (const std::string& a : alerts) out += (out.empty() ? "" : " | ") + a;
  return out;
}

struct SlotKey {
  std::string service;
  int slot;
  bool operator<(const SlotKey& o) const {
    return std::tie(service, slot) < std::tie(o.service, o.slot);
  }
};

// What Steward set on a slot at runtime, re-applied after a reload.
struct SlotState {
  std::string host;
  int port = 0;
  int weight = 0;
  std::string state;  // "ready", "drain", "maint"
};

}  // namespace

struct Haproxy::Impl {
  HaproxyOptions options;
  IngressPaths paths{""};
  int pid = 0;

  std::mutex api_mu;  // one runtime-API exchange at a time
  std::mutex mu;      // frontends, config and slots; held across a reload
  std::vector<Frontend> frontends;
  std::string config_text;
  std::map<SlotKey, SlotState> slots;

  StatusOr<std::string> Admin(const std::string& command) {
    std::lock_guard<std::mutex> lock(api_mu);
    return internal::SocketCommand(paths.admin_socket, command, kCommandTimeout);
  }

  // Reaps haproxy when it has exited and is our child (started by this process, or by an
  // earlier Haproxy object in it); true while haproxy's master runs.
  bool Alive() {
    if (pid <= 0) return false;
    int status = 0;
    if (waitpid(pid, &status, WNOHANG) == pid) {
      pid = 0;
      return false;
    }
    return ProcessRunning(pid);
  }

  StatusOr<const Frontend*> Find(const std::string& service, int slot) {
    for (const Frontend& f : frontends) {
      if (f.service != service) continue;
      if (slot < 1 || slot > f.slots) {
        return InvalidArgument(
            fmt::format("ingress: service '{}': slot {} is out of range; want "
                        "1..{}",
                        service, slot, f.slots));
      }
      return &f;
    }
    return NotFound(fmt::format("ingress: no frontend for service '{}'", service));
  }

  static std::string ServerName(const std::string& service, int slot) {
    return fmt::format("{}/{}{}", service, internal::kServerPrefix, slot);
  }

  // Commands that answer nothing on success; any text is haproxy's refusal.
  Status Silent(const std::string& command) {
    ASSIGN_OR_RETURN(std::string answer, Admin(command));
    while (!answer.empty() && (answer.back() == '\n' || answer.back() == ' ')) answer.pop_back();
    if (!answer.empty())
      return FailedPrecondition(fmt::format("haproxy '{}': {}", command, answer));
    return Status::OK();
  }

  Status SetAddr(const std::string& service, int slot, const std::string& host, int port) {
    std::string command =
        fmt::format("set server {} addr {} port {}", ServerName(service, slot), host, port);
    ASSIGN_OR_RETURN(std::string answer, Admin(command));
    if (answer.find("changed from") == std::string::npos &&
        answer.find("no need to change") == std::string::npos) {
      while (!answer.empty() && answer.back() == '\n') answer.pop_back();
      return FailedPrecondition(fmt::format("haproxy '{}': {}", command, answer));
    }
    return Status::OK();
  }

  Status SetState(const std::string& service, int slot, const std::string& state) {
    return Silent(fmt::format("set server {} state {}", ServerName(service, slot), state));
  }

  Status SetWeight(const std::string& service, int slot, int weight) {
    return Silent(fmt::format("set server {} weight {}", ServerName(service, slot), weight));
  }

  Status Apply(const SlotKey& key, const SlotState& s) {
    RETURN_IF_ERROR(SetAddr(key.service, key.slot, s.host, s.port));
    RETURN_IF_ERROR(SetWeight(key.service, key.slot, s.weight));
    return SetState(key.service, key.slot, s.state);
  }

  Status WaitForFrontends(const std::vector<Frontend>& wanted, size_t log_from,
                          std::chrono::milliseconds timeout) {
    auto deadline = SteadyClock::now() + timeout;
    for (const Frontend& f : wanted) {
      while (!internal::AcceptsConnections(f.bind, f.port)) {
        if (!Alive()) {
          return IOError(
              fmt::format("ingress: haproxy exited before serving frontend '{}' on "
                          "{}:{}: {}",
                          f.service, f.bind, f.port, LogTail(paths.log, log_from)));
        }
        if (SteadyClock::now() >= deadline) {
          return DeadlineExceeded(fmt::format(
              "ingress: frontend '{}' on {}:{} accepts no connections after {}ms: {}", f.service,
              f.bind, f.port, timeout.count(), LogTail(paths.log, log_from)));
        }
        std::this_thread::sleep_for(kPoll);
      }
    }
    return Status::OK();
  }

  // Runs `haproxy -c` on the text written to a scratch file; the error quotes haproxy.
  Status Validate(const std::string& text) {
    std::string scratch = paths.config + ".check";
    RETURN_IF_ERROR(WriteFileAtomically(scratch, text));
    StatusOr<internal::ProgramResult> r =
        internal::RunProgram({options.haproxy, "-c", "-f", scratch});
    std::filesystem::remove(scratch);
    if (!r.ok()) return r.status().Annotate("ingress: check config");
    if (r->exit_code != 0) {
      // Line numbers are the same in the file that would have been written; name that one.
      std::string errors = CheckErrors(r->output);
      for (size_t at; (at = errors.find(scratch)) != std::string::npos;) {
        errors.replace(at, scratch.size(), paths.config);
      }
      return InvalidArgument(fmt::format("ingress: haproxy rejects the generated config ({}): {}",
                                         paths.config, errors));
    }
    return Status::OK();
  }

  // Ports of frontends not served yet must be free, or haproxy would fail to bind them.
  Status CheckNewPorts(const std::vector<Frontend>& wanted, const std::vector<Frontend>& current) {
    for (const Frontend& f : wanted) {
      bool served = false;
      for (const Frontend& c : current) served |= c.bind == f.bind && c.port == f.port;
      if (served) continue;
      Status st = internal::CheckPortFree(f.bind, f.port);
      if (!st.ok()) {
        return FailedPrecondition(
            fmt::format("ingress: frontend '{}': {}; choose a free port", f.service, st.message()));
      }
    }
    return Status::OK();
  }

  Status Spawn() {
    posix_spawn_file_actions_t actions;
    posix_spawn_file_actions_init(&actions);
    posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0);
    posix_spawn_file_actions_addopen(&actions, 1, paths.log.c_str(), O_WRONLY | O_CREAT | O_APPEND,
                                     0644);
    posix_spawn_file_actions_adddup2(&actions, 1, 2);
    posix_spawnattr_t attr;
    posix_spawnattr_init(&attr);
    // Its own session: a Ctrl-C meant for the CLI that started it does not reach haproxy, and
    // Stop can signal the master and its workers as one process group.
    sigset_t none, defaults;
    sigemptyset(&none);
    sigemptyset(&defaults);
    for (int sig : {SIGHUP, SIGINT, SIGTERM, SIGUSR1, SIGUSR2, SIGCHLD, SIGPIPE, SIGQUIT}) {
      sigaddset(&defaults, sig);
    }
    // haproxy must see SIGUSR2 (reload) and SIGTERM even if our threads block them.
    posix_spawnattr_setsigmask(&attr, &none);
    posix_spawnattr_setsigdefault(&attr, &defaults);
    posix_spawnattr_setflags(&attr,
                             POSIX_SPAWN_SETSID | POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF);
    std::vector<std::string> argv = {options.haproxy,     "-W", "-S",
                                     paths.master_socket, "-f", paths.config};
    std::vector<char*> args;
    for (const std::string& a : argv) args.push_back(const_cast<char*>(a.c_str()));
    args.push_back(nullptr);
    pid_t p = 0;
    int err = posix_spawnp(&p, args[0], &actions, &attr, args.data(), environ);
    posix_spawn_file_actions_destroy(&actions);
    posix_spawnattr_destroy(&attr);
    if (err != 0) return ErrnoError(fmt::format("ingress: start '{}'", options.haproxy), err);
    pid = p;
    return Status::OK();
  }

  StatusOr<internal::ProcInfo> ShowProc() {
    ASSIGN_OR_RETURN(std::string text,
                     internal::SocketCommand(paths.master_socket, "show proc", kCommandTimeout));
    return internal::ParseShowProc(text);
  }

  // The admin socket answers from the new worker: it is configured and serving.
  bool AdminIsWorker(int worker) {
    StatusOr<std::string> info = Admin("show info");
    return info.ok() && info->find(fmt::format("\nPid: {}\n", worker)) != std::string::npos;
  }

  Status Reload(const std::string& text, std::chrono::milliseconds timeout) {
    RETURN_IF_ERROR(Validate(text));
    // Carry runtime server state (addresses, weights, drain/maint) into the new worker.
    ASSIGN_OR_RETURN(std::string state, Admin("show servers state"));
    RETURN_IF_ERROR(WriteFileAtomically(paths.server_state, state));
    ASSIGN_OR_RETURN(internal::ProcInfo before, ShowProc());
    StatusOr<std::string> old_text = ReadFile(paths.config);
    size_t log_from = FileSize(paths.log);
    RETURN_IF_ERROR(WriteFileAtomically(paths.config, text));
    if (kill(pid, SIGUSR2) != 0) return ErrnoError("ingress: signal haproxy to reload", errno);
    auto deadline = SteadyClock::now() + timeout;
    while (true) {
      std::this_thread::sleep_for(kPoll);
      StatusOr<internal::ProcInfo> now = ShowProc();
      if (now.ok() && now->failed_reloads > before.failed_reloads) {
        // The old worker keeps serving the old config; keep the file saying so.
        if (old_text.ok()) WriteFileAtomically(paths.config, *old_text).IgnoreError();
        return FailedPrecondition("ingress: haproxy refused to reload: " +
                                  LogTail(paths.log, log_from));
      }
      if (now.ok()) {
        for (int w : now->workers) {
          bool is_new =
              std::find(before.workers.begin(), before.workers.end(), w) == before.workers.end();
          if (is_new && AdminIsWorker(w)) return Status::OK();
        }
      }
      if (!Alive()) {
        return IOError("ingress: haproxy exited during reload: " + LogTail(paths.log, log_from));
      }
      if (SteadyClock::now() >= deadline) {
        return DeadlineExceeded(fmt::format("ingress: no new haproxy worker {}ms after reload: {}",
                                            timeout.count(), LogTail(paths.log, log_from)));
      }
    }
  }

  Status ReconfigureLocked(const std::vector<Frontend>& wanted) {
    RETURN_IF_ERROR(internal::ValidateFrontends(wanted));
    std::string text = RenderConfig(options, wanted);
    if (text == config_text) {
      frontends = wanted;
      return Status::OK();
    }
    RETURN_IF_ERROR(CheckNewPorts(wanted, frontends));
    size_t log_from = FileSize(paths.log);
    RETURN_IF_ERROR(Reload(text, options.start_timeout));
    config_text = text;
    frontends = wanted;
    // The state file carried the slots over; re-applying what Steward set also covers a change
    // made between the dump and the new worker, and forgets slots of removed services.
    for (auto it = slots.begin(); it != slots.end();) {
      if (!Find(it->first.service, it->first.slot).ok()) {
        it = slots.erase(it);
        continue;
      }
      Status st = Apply(it->first, it->second);
      if (!st.ok()) return st.Annotate("ingress: re-apply slot after reload");
      ++it;
    }
    return WaitForFrontends(wanted, log_from, options.start_timeout);
  }
};

StatusOr<std::unique_ptr<Haproxy>> Haproxy::Start(const HaproxyOptions& options,
                                                  const std::vector<Frontend>& frontends) {
  if (options.dir.empty()) return InvalidArgument("ingress: options.dir is empty");
  RETURN_IF_ERROR(internal::ValidateFrontends(frontends));
  if (options.stats_port < 0 || options.stats_port > 65535) {
    return InvalidArgument(
        fmt::format("ingress: stats_port {} is out of range; want 0..65535", options.stats_port));
  }
  std::error_code ec;
  std::filesystem::create_directories(options.dir, ec);
  if (ec) return IOError(fmt::format("ingress: create {}: {}", options.dir, ec.message()));

  std::unique_ptr<Haproxy> h(new Haproxy());
  h->impl_ = std::make_unique<Impl>();
  Impl& impl = *h->impl_;
  impl.options = options;
  impl.paths = IngressPaths(options.dir);
  if (impl.paths.master_socket.size() >= 100) {
    return InvalidArgument(
        fmt::format("ingress: dir '{}' is too long for unix socket paths "
                    "(limit about 100 bytes); use a shorter state directory",
                    options.dir));
  }

  // A haproxy a previous daemon left running keeps serving; adopt it rather than fight it for
  // the ports.
  StatusOr<std::string> pid_text = ReadFile(impl.paths.pid_file);
  int old_pid = pid_text.ok() ? std::atoi(pid_text->c_str()) : 0;
  if (old_pid > 0 && ProcessRunning(old_pid) && IsOurHaproxy(old_pid, impl.paths.config)) {
    impl.pid = old_pid;
    StatusOr<std::string> current = ReadFile(impl.paths.config);
    if (current.ok()) impl.config_text = *current;
    // Frontends of the running config are unknown; treat every wanted port that haproxy does
    // not answer on as new.
    std::lock_guard<std::mutex> lock(impl.mu);
    std::vector<Frontend> serving;
    for (const Frontend& f : frontends) {
      if (internal::AcceptsConnections(f.bind, f.port)) serving.push_back(f);
    }
    impl.frontends = serving;
    Status st = impl.ReconfigureLocked(frontends);
    if (!st.ok()) return st.Annotate(fmt::format("ingress: take over haproxy pid {}", old_pid));
    spdlog::info("ingress: took over running haproxy pid={}", old_pid);
    return h;
  }

  std::string text = RenderConfig(options, frontends);
  RETURN_IF_ERROR(impl.CheckNewPorts(frontends, {}));
  if (options.stats_port > 0) {
    Status st = internal::CheckPortFree("127.0.0.1", options.stats_port);
    if (!st.ok()) return FailedPrecondition("ingress: stats_port: " + st.message());
  }
  RETURN_IF_ERROR(impl.Validate(text));
  RETURN_IF_ERROR(WriteFileAtomically(impl.paths.config, text));
  // A fresh haproxy starts with every slot parked; slots of a dead one are not carried over.
  RETURN_IF_ERROR(WriteFileAtomically(impl.paths.server_state, ""));
  // haproxy logs only notices (startups, reloads, server state changes), but across many
  // restarts that adds up: keep one previous log.
  if (FileSize(impl.paths.log) > kMaxLogBytes) {
    std::filesystem::rename(impl.paths.log, impl.paths.log + ".1", ec);
  }
  size_t log_from = FileSize(impl.paths.log);
  RETURN_IF_ERROR(impl.Spawn());
  impl.config_text = text;
  impl.frontends = frontends;
  Status st = impl.WaitForFrontends(frontends, log_from, options.start_timeout);
  if (st.ok()) {
    // The runtime API answers only once a worker is up; wait for it too.
    auto deadline = SteadyClock::now() + options.start_timeout;
    while (!impl.Admin("show info").ok()) {
      if (SteadyClock::now() >= deadline || !impl.Alive()) {
        st = DeadlineExceeded("ingress: haproxy runtime API " + impl.paths.admin_socket +
                              " does not answer: " + LogTail(impl.paths.log, log_from));
        break;
      }
      std::this_thread::sleep_for(kPoll);
    }
  }
  if (!st.ok()) {
    h->Stop().IgnoreError();
    return st;
  }
  spdlog::info("ingress: haproxy started pid={} config={}", impl.pid, impl.paths.config);
  return h;
}

Haproxy::~Haproxy() = default;

Status Haproxy::Reconfigure(const std::vector<Frontend>& frontends) {
  std::lock_guard<std::mutex> lock(impl_->mu);
  return impl_->ReconfigureLocked(frontends);
}

Status Haproxy::SetServer(const std::string& service, int slot, const std::string& host, int port,
                          int weight) {
  std::lock_guard<std::mutex> lock(impl_->mu);
  RETURN_IF_ERROR(impl_->Find(service, slot).status());
  if (weight < 0 || weight > 256) {
    return InvalidArgument(fmt::format("ingress: weight {} is out of range; want 0..256", weight));
  }
  if (port < 1 || port > 65535) {
    return InvalidArgument(fmt::format("ingress: port {} is out of range; want 1..65535", port));
  }
  SlotKey key{service, slot};
  SlotState state{host, port, weight, "ready"};
  Status st = impl_->Apply(key, state);
  if (!st.ok()) return st.Annotate(fmt::format("ingress: service '{}' slot {}", service, slot));
  impl_->slots[key] = state;
  return Status::OK();
}

Status Haproxy::SetWeight(const std::string& service, int slot, int weight) {
  std::lock_guard<std::mutex> lock(impl_->mu);
  RETURN_IF_ERROR(impl_->Find(service, slot).status());
  if (weight < 0 || weight > 256) {
    return InvalidArgument(fmt::format("ingress: weight {} is out of range; want 0..256", weight));
  }
  Status st = impl_->SetWeight(service, slot, weight);
  if (!st.ok()) return st.Annotate(fmt::format("ingress: service '{}' slot {}", service, slot));
  auto it = impl_->slots.find(SlotKey{service, slot});
  if (it != impl_->slots.end()) it->second.weight = weight;
  return Status::OK();
}

Status Haproxy::DrainAndPark(const std::string& service, int slot,
                             std::chrono::milliseconds timeout) {
  {
    std::lock_guard<std::mutex> lock(impl_->mu);
    RETURN_IF_ERROR(impl_->Find(service, slot).status());
    RETURN_IF_ERROR(impl_->SetState(service, slot, "drain"));
    auto it = impl_->slots.find(SlotKey{service, slot});
    if (it != impl_->slots.end()) it->second.state = "drain";
  }
  // Not holding mu while waiting: other slots may move meanwhile.
  auto deadline = SteadyClock::now() + timeout;
  int64_t open = 0;
  while (true) {
    ASSIGN_OR_RETURN(std::vector<ServerState> servers, Servers(service));
    open = 0;
    for (const ServerState& s : servers) {
      if (s.slot == slot) open = s.current_sessions;
    }
    if (open == 0 || SteadyClock::now() >= deadline) break;
    std::this_thread::sleep_for(kPoll);
  }
  if (open > 0) {
    // Long-lived connections (streams, websockets) would hold a deploy forever; haproxy lets
    // them finish even in maintenance, so park anyway and say so.
    spdlog::warn("ingress: service={} slot={} parked with {} sessions still open after {}ms",
                 service, slot, open, timeout.count());
  }
  return Park(service, slot);
}

Status Haproxy::Park(const std::string& service, int slot) {
  std::lock_guard<std::mutex> lock(impl_->mu);
  RETURN_IF_ERROR(impl_->Find(service, slot).status());
  RETURN_IF_ERROR(impl_->SetState(service, slot, "maint"));
  auto it = impl_->slots.find(SlotKey{service, slot});
  if (it != impl_->slots.end()) it->second.state = "maint";
  return Status::OK();
}

StatusOr<std::vector<ServerState>> Haproxy::Servers(const std::string& service) {
  {
    std::lock_guard<std::mutex> lock(impl_->mu);
    RETURN_IF_ERROR(impl_->Find(service, 1).status());
  }
  // Servers of every backend (type 4); filtered by name below.
  ASSIGN_OR_RETURN(std::string csv, impl_->Admin("show stat -1 4 -1"));
  return internal::ParseServerStats(csv, service);
}

StatusOr<std::string> Haproxy::Command(const std::string& command) { return impl_->Admin(command); }

Status Haproxy::Stop() {
  std::lock_guard<std::mutex> lock(impl_->mu);
  Impl& impl = *impl_;
  if (impl.pid <= 0 || !impl.Alive()) {
    impl.pid = 0;
    return Status::OK();
  }
  int pid = impl.pid;
  // The master and its workers share the process group haproxy was started in (its own).
  bool own_group = getpgid(pid) == pid;
  auto signal_all = [&](int sig) {
    if (own_group) {
      killpg(pid, sig);
    } else {
      kill(pid, sig);
    }
  };
  // Workers are gone once the master is: it waits for them. Checked too, by pid, in case
  // the master was killed.
  std::vector<int> workers;
  if (StatusOr<internal::ProcInfo> info = impl.ShowProc(); info.ok()) {
    workers = info->workers;
    workers.insert(workers.end(), info->old_workers.begin(), info->old_workers.end());
  }
  auto group_gone = [&]() {
    if (impl.Alive()) return false;
    for (int w : workers) {
      if (ProcessRunning(w)) return false;
    }
    return true;
  };
  auto wait_gone = [&](std::chrono::milliseconds bound) {
    auto deadline = SteadyClock::now() + bound;
    while (!group_gone()) {
      if (SteadyClock::now() >= deadline) return false;
      std::this_thread::sleep_for(kPoll);
    }
    return true;
  };
  // SIGUSR1: soft stop, open requests finish; SIGTERM: immediate; SIGKILL: last resort.
  signal_all(SIGUSR1);
  if (!wait_gone(std::chrono::milliseconds(5000))) {
    signal_all(SIGTERM);
    if (!wait_gone(std::chrono::milliseconds(2000))) {
      signal_all(SIGKILL);
      if (!wait_gone(std::chrono::milliseconds(2000))) {
        return IOError(fmt::format("ingress: haproxy pid {} survives SIGKILL", pid));
      }
    }
  }
  impl.pid = 0;
  std::filesystem::remove(impl.paths.pid_file);
  spdlog::info("ingress: haproxy stopped pid={}", pid);
  return Status::OK();
}

int Haproxy::pid() const { return impl_->pid; }

const std::string& Haproxy::config_path() const { return impl_->paths.config; }

}  // namespace steward::ingress
