// How a step runs (see process.h for the contract):
//
//   steward (Run thread) ── request ──> steward-shim --worker ── vfork ──> command
//                                        (one per steward thread,           (setsid, execve)
//                                         PR_SET_CHILD_SUBREAPER)            └─ its children
//
// The shim (shim.h) is a child subreaper that starts the command, reports the command's wait
// status through a pipe and reaps everything below it. Because it is a subreaper, a
// descendant whose parent dies (a double-forked daemon, `setsid x &` in a script that exits)
// is re-parented to the shim and not to init or to steward, so "every process of this step"
// is exactly "every descendant of the shim", found by walking /proc by parent pid — with no
// guessing even when many steps run at once and other parts of steward have children of
// their own. When the command has ended (or the deadline or a cancel came), the Run thread
// signals every descendant of the shim, repeating the walk since processes fork while being
// killed, until none is left.
//
// Where shims come from, cheapest first: the thread's long-lived supervisor (steward-shim
// --worker, started at the thread's first step; it takes the thread's steps one after another,
// each only once nothing of the one before is left, so its descendants are always one step's);
// else steward-shim started for the step with posix_spawn; else — without steward-shim next to
// the steward binary — a fork() of steward running the same shim code. A fork() of steward
// copies its page tables (tens of MB, hundreds of mappings) and tearing the copy down costs as
// much again; an exec of steward-shim pays the C library's start-up, which probes the CPU with
// cpuid (traps on a VM); a supervisor that stays pays neither, nor a fork and exit per step.
#include "pipeline/process.h"

#include <spawn.h>

#include <dirent.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cstdio>
#include <initializer_list>
#include <mutex>
#include <set>
#include <thread>
#include <unordered_map>
#include <utility>

#include "pipeline/shim.h"

namespace steward::pipeline {
namespace {

using Clock = std::chrono::steady_clock;
using std::chrono::milliseconds;

constexpr size_t kMaxLine = 64 * 1024;     // longer lines are delivered in chunks
constexpr milliseconds kTick{50};          // cancel and deadline checks at least this often
constexpr milliseconds kPipeLinger{1000};  // after the tree is gone, a pipe held elsewhere
constexpr milliseconds kKillBound{10000};  // SIGKILL that does not work: give up, report

// ---- /proc ---------------------------------------------------------------------------------

struct ProcEntry {
  int pid = 0;
  int ppid = 0;
  char state = '?';
};

// One pass over /proc: every process with its parent and state. Processes that vanish while
// being read are skipped.
std::vector<ProcEntry> ScanProc() {
  std::vector<ProcEntry> out;
  DIR* dir = opendir("/proc");
  if (dir == nullptr) return out;
  while (dirent* e = readdir(dir)) {
    if (e->d_name[0] < '0' || e->d_name[0] > '9') continue;
    char path[300];
    std::snprintf(path, sizeof path, "/proc/%s/stat", e->d_name);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) continue;
    char buf[512];
    ssize_t n = read(fd, buf, sizeof buf - 1);
    close(fd);
    if (n <= 0) continue;
    buf[n] = '\0';
    // "pid (comm) S ppid ..." — comm may hold spaces and parentheses, so parse after the last ')'.
    char* close_paren = strrchr(buf, ')');
    if (close_paren == nullptr) continue;
    ProcEntry p;
    p.pid = atoi(buf);
    if (std::sscanf(close_paren + 1, " %c %d", &p.state, &p.ppid) != 2) continue;
    out.push_back(p);
  }
  closedir(dir);
  return out;
}

// Living descendants of the roots (zombies count as dead: they only wait to be reaped), the
// roots themselves included when asked and alive. `known`, when given, holds pids found
// before: those now re-parented to this process (a middle process died and steward is a
// subreaper) are walked too, and their zombies reaped — by pid, since only pids seen in this
// tree are ours to reap; waitpid(-1) would take other rooms' children.
std::vector<int> LiveTree(int root, bool include_root, const std::set<int>* known = nullptr) {
  std::vector<ProcEntry> procs = ScanProc();
  std::unordered_multimap<int, const ProcEntry*> children;
  const int self = getpid();
  std::vector<int> todo{root};
  std::set<int> seen{root};
  std::vector<int> out;
  for (const ProcEntry& p : procs) {
    children.emplace(p.ppid, &p);
    if (p.pid == root && include_root && p.state != 'Z') out.push_back(root);
    if (known == nullptr || p.pid == root || p.ppid != self || !known->count(p.pid)) continue;
    if (p.state == 'Z') {
      int status;
      waitpid(p.pid, &status, WNOHANG);
    } else if (seen.insert(p.pid).second) {
      todo.push_back(p.pid);
      out.push_back(p.pid);
    }
  }
  while (!todo.empty()) {
    int pid = todo.back();
    todo.pop_back();
    auto [begin, end] = children.equal_range(pid);
    for (auto it = begin; it != end; ++it) {
      const ProcEntry* child = it->second;
      if (!seen.insert(child->pid).second) continue;
      todo.push_back(child->pid);
      if (child->state != 'Z') out.push_back(child->pid);
    }
  }
  return out;
}

// Signals the tree, scanning again until a pass finds no process it had not seen (processes
// fork while being killed). SIGTERM goes once to each process (a trap should run once),
// SIGKILL to every one still alive. Returns how many are alive.
size_t SignalTree(int root, bool include_root, int sig, std::set<int>* signalled) {
  std::vector<int> alive;
  for (int pass = 0; pass < 20; ++pass) {
    alive = LiveTree(root, include_root, signalled);
    bool fresh = false;
    for (int pid : alive) {
      bool is_new = signalled->insert(pid).second;
      fresh = fresh || is_new;
      if (sig == SIGKILL) {
        kill(pid, SIGKILL);
      } else if (is_new) {
        kill(pid, sig);
        kill(pid, SIGCONT);  // a stopped process keeps SIGTERM pending until continued
      }
    }
    if (!fresh) break;
  }
  return alive.size();
}

// ---- spawning --------------------------------------------------------------------------------

// What the child processes need, built before fork().
struct Prepared {
  std::string program;
  std::vector<std::string> args;
  std::vector<std::string> env_strings;
  std::vector<char*> argv;
  std::vector<char*> envp;
  const char* cwd = nullptr;
  pid_t steward = 0;
};

struct Pipes {
  int out[2] = {-1, -1};
  int err[2] = {-1, -1};
  int status[2] = {-1, -1};    // the shim reports the command's wait status here
};

const char* StepText(int step) {
  switch (step) {
    case shim::kShimSetup:
      return "set up the process supervisor";
    case shim::kShimFork:
      return "fork";
    case shim::kSetsid:
      return "setsid";
    case shim::kChdir:
      return "chdir";
    case shim::kDevNull:
      return "open /dev/null";
    case shim::kDup:
      return "dup2";
    default:
      return "exec";
  }
}

// argv[0] the way execvp would find it, but through the step's PATH, not ours.
StatusOr<std::string> ResolveProgram(const std::string& name,
                                     const std::map<std::string, std::string>& env,
                                     const std::string& cwd) {
  if (name.empty()) return InvalidArgument("empty command");
  if (name.find('/') != std::string::npos) return name;
  auto it = env.find("PATH");
  std::string path = it == env.end() ? "/usr/local/bin:/usr/bin:/bin" : it->second;
  size_t start = 0;
  while (start <= path.size()) {
    size_t end = path.find(':', start);
    if (end == std::string::npos) end = path.size();
    std::string dir = path.substr(start, end - start);
    if (dir.empty()) dir = ".";
    if (dir[0] != '/' && !cwd.empty()) dir = cwd + "/" + dir;
    std::string candidate = dir + "/" + name;
    struct stat st;
    if (stat(candidate.c_str(), &st) == 0 && S_ISREG(st.st_mode) &&
        access(candidate.c_str(), X_OK) == 0) {
      return candidate;
    }
    start = end + 1;
  }
  return NotFound("'" + name + "' not found in PATH=" + path +
                  " (give a path with '/', or put its directory into the step's PATH)");
}

std::vector<std::string> SandboxArgv(const ProcessSpec& spec, const std::string& program,
                                     const std::string& bwrap) {
  std::vector<std::string> a = {bwrap,  "--ro-bind", "/",     "/",       "--dev",
                                "/dev", "--proc",    "/proc", "--tmpfs", "/tmp"};
  for (const std::string& path : spec.sandbox.writable) {
    a.insert(a.end(), {"--bind", path, path});
  }
  a.push_back("--unshare-all");
  if (spec.sandbox.network) a.push_back("--share-net");
  a.insert(a.end(), {"--die-with-parent", "--new-session"});
  if (!spec.cwd.empty()) a.insert(a.end(), {"--chdir", spec.cwd});
  a.push_back("--");
  a.push_back(program);
  a.insert(a.end(), spec.argv.begin() + 1, spec.argv.end());
  return a;
}

StatusOr<Prepared> Prepare(const ProcessSpec& spec) {
  if (spec.argv.empty()) return InvalidArgument("empty command");
  ASSIGN_OR_RETURN(std::string program, ResolveProgram(spec.argv[0], spec.env, spec.cwd));
  if (program[0] != '/' && !spec.cwd.empty()) {
    char* real = realpath((spec.cwd + "/" + program).c_str(), nullptr);
    if (real != nullptr) {
      program = real;
      free(real);
    }
  }
  Prepared p;
  if (spec.sandbox.enabled) {
    // bwrap itself is found through the step's PATH, then the usual places.
    std::map<std::string, std::string> env = spec.env;
    std::string path = env.count("PATH") ? env["PATH"] + ":" : "";
    env["PATH"] = path + "/usr/local/bin:/usr/bin:/bin";
    ASSIGN_OR_RETURN(std::string bwrap, ResolveProgram(spec.sandbox.bwrap, env, spec.cwd));
    p.args = SandboxArgv(spec, program, bwrap);
    p.program = bwrap;
  } else {
    p.args = spec.argv;
    p.program = program;
  }
  for (const auto& [k, v] : spec.env) p.env_strings.push_back(k + "=" + v);
  for (std::string& s : p.args) p.argv.push_back(s.data());
  p.argv.push_back(nullptr);
  for (std::string& s : p.env_strings) p.envp.push_back(s.data());
  p.envp.push_back(nullptr);
  // In the sandbox bwrap changes directory itself (the path may only exist inside).
  if (!spec.cwd.empty() && !spec.sandbox.enabled) p.cwd = spec.cwd.c_str();
  p.steward = getpid();
  return p;
}

// The shim program's path as looked up once, and what tests set instead.
std::mutex shim_mu;
bool shim_set = false;
std::string shim_program;

std::string FindShimProgram() {
  char self[4096];
  ssize_t n = readlink("/proc/self/exe", self, sizeof self - 1);
  if (n <= 0) return "";
  std::string path(self, static_cast<size_t>(n));
  path = path.substr(0, path.rfind('/') + 1) + "steward-shim";
  return access(path.c_str(), X_OK) == 0 ? path : "";
}

// A started shim: steward's child, either for this one step (posix_spawn or fork) or the
// calling thread's long-lived supervisor (`persistent`), which stays when the step is over.
struct ShimHandle {
  pid_t pid = -1;
  bool persistent = false;
};

void WaitShim(const ShimHandle& shim, bool exiting);

// Starts the shim program (a one-step shim or a thread's supervisor): stdin from /dev/null,
// each fd in `moves` dup2()ed onto its target in order, /dev/null for whatever of stdout and
// stderr no move fills; every signal blocked (steward's death must stay pending for the shim
// to take) and at its default (an ignored SIGCHLD would hide the command's end). Returns
// posix_spawn's error, 0 once started.
int SpawnShim(const std::string& program, char* const argv[], char* const envp[],
              std::initializer_list<std::pair<int, int>> moves, pid_t* pid) {
  posix_spawn_file_actions_t actions;
  posix_spawnattr_t attr;
  posix_spawn_file_actions_init(&actions);
  posix_spawnattr_init(&attr);
  for (int fd = 0; fd < 3; ++fd) {
    bool moved_onto = std::any_of(moves.begin(), moves.end(),
                                  [fd](const std::pair<int, int>& m) { return m.second == fd; });
    if (!moved_onto)
      posix_spawn_file_actions_addopen(&actions, fd, "/dev/null", fd == 0 ? O_RDONLY : O_WRONLY, 0);
  }
  for (const auto& [from, to] : moves) posix_spawn_file_actions_adddup2(&actions, from, to);
  sigset_t all;
  sigfillset(&all);
  posix_spawnattr_setsigmask(&attr, &all);
  posix_spawnattr_setsigdefault(&attr, &all);
  posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF);
  int err = posix_spawn(pid, program.c_str(), &actions, &attr, argv, envp);
  posix_spawn_file_actions_destroy(&actions);
  posix_spawnattr_destroy(&attr);
  return err;
}

// Bumped by SetShimProgramForTesting: each thread's supervisor started before is replaced.
std::atomic<int> shim_generation{0};

// The calling thread's long-lived supervisor (shim.h, steward-shim --worker): started at the
// thread's first step, it runs the thread's steps one after another, so a step costs no
// process besides its command — neither a fork and exit of a shim nor the exec and C library
// start-up of one (cpuid probing, which traps on a VM). One per thread because a thread runs
// one step at a time and the supervisor's descendants must be that one step's. Its parent-death
// signal is the thread's end; the thread's end also closes the socket, on which it exits.
class StepSupervisor {
 public:
  enum class Result { kStarted, kUnavailable };

  ~StepSupervisor() { Stop(); }

  Result Start(const std::string& program, const Prepared& p, const Pipes& pipes,
               ShimHandle* out) {
    if (generation_ != shim_generation.load()) {
      Stop();
      broken_ = false;
      generation_ = shim_generation.load();
    }
    if (sock_ >= 0) {
      int status;
      if (waitpid(pid_, &status, WNOHANG) == pid_) {  // it died (killed from outside): replace it
        pid_ = -1;
        Stop();
      }
    }
    if (broken_ || (sock_ < 0 && !Launch(program, p.steward))) {
      broken_ = true;
      return Result::kUnavailable;
    }
    std::string body;
    body.append(p.cwd != nullptr ? p.cwd : "").push_back('\0');
    body.append(p.program).push_back('\0');
    uint32_t args = 0, envs = 0;
    for (char* const* a = p.argv.data(); *a != nullptr; ++a, ++args) body.append(*a).push_back('\0');
    for (char* const* e = p.envp.data(); *e != nullptr; ++e, ++envs) body.append(*e).push_back('\0');
    if (body.size() > shim::kServeMaxLength) return Result::kUnavailable;  // a shim of its own
    shim::ServeRequest req{shim::kServeMagic, static_cast<uint32_t>(body.size()), args, envs};
    const int fds[3] = {pipes.out[1], pipes.err[1], pipes.status[1]};
    iovec iov{&req, sizeof req};
    msghdr msg{};
    msg.msg_iov = &iov;
    msg.msg_iovlen = 1;
    alignas(cmsghdr) char control[CMSG_SPACE(sizeof fds)];
    msg.msg_control = control;
    msg.msg_controllen = sizeof control;
    cmsghdr* c = CMSG_FIRSTHDR(&msg);
    c->cmsg_level = SOL_SOCKET;
    c->cmsg_type = SCM_RIGHTS;
    c->cmsg_len = CMSG_LEN(sizeof fds);
    memcpy(CMSG_DATA(c), fds, sizeof fds);
    ssize_t n;
    while ((n = sendmsg(sock_, &msg, MSG_NOSIGNAL)) < 0 && errno == EINTR) {
    }
    if (n != static_cast<ssize_t>(sizeof req) || !WriteFull(body)) {
      // Without the whole request the supervisor runs nothing: a shim of its own runs the step.
      Stop();
      return Result::kUnavailable;
    }
    out->pid = pid_;
    out->persistent = true;
    return Result::kStarted;
  }

  // After a step whose supervisor died without reporting (killed from outside): waits for it to
  // be gone, so the next step starts a new one rather than send into a socket about to close.
  void Forget() { Stop(); }

 private:
  bool Launch(const std::string& program, pid_t steward) {
    int sv[2];
    if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) != 0) return false;
    const std::string parent = std::to_string(steward);
    std::vector<char*> argv = {const_cast<char*>(program.c_str()), const_cast<char*>("--worker"),
                               const_cast<char*>(parent.c_str()), nullptr};
    char* envp[] = {nullptr};
    pid_t pid = -1;
    int rc = SpawnShim(program, argv.data(), envp, {{sv[1], shim::kServeFd}}, &pid);
    close(sv[1]);
    if (rc != 0) {
      close(sv[0]);
      return false;
    }
    sock_ = sv[0];
    pid_ = pid;
    return true;
  }

  bool WriteFull(const std::string& data) {
    for (size_t done = 0; done < data.size();) {
      ssize_t n = send(sock_, data.data() + done, data.size() - done, MSG_NOSIGNAL);
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) return false;
      done += static_cast<size_t>(n);
    }
    return true;
  }

  // Closing the socket makes an idle supervisor exit; one still running a step (its thread is
  // ending) exits when the step's tree is gone. Reaped here, killed after a bound.
  void Stop() {
    if (sock_ >= 0) close(sock_);
    sock_ = -1;
    if (pid_ > 0) WaitShim(ShimHandle{pid_, false}, false);
    pid_ = -1;
  }

  int generation_ = shim_generation.load();
  int sock_ = -1;
  pid_t pid_ = -1;
  bool broken_ = false;
};

StepSupervisor& ThisThreadsSupervisor() {
  thread_local StepSupervisor supervisor;
  return supervisor;
}

// Starts the shim of a step (shim.h): the thread's long-lived supervisor when steward-shim is
// installed, else (it could not be started) steward-shim for this step through posix_spawn (a
// vfork-like clone: its cost does not depend on steward's size), or a fork of steward when that
// program is not installed or cannot be started. Returns false with errno set when no shim
// could be started.
bool StartShim(const Prepared& p, Pipes& pipes, ShimHandle* out) {
  const std::string program = ShimProgram();
  if (!program.empty()) {
    if (ThisThreadsSupervisor().Start(program, p, pipes, out) ==
        StepSupervisor::Result::kStarted)
      return true;
    // posix_spawn moves the pipes onto 1..4 one after another; a pipe already on one of those
    // numbers (steward started with a standard descriptor closed) is moved out of the way.
    for (int* fd : {&pipes.out[1], &pipes.err[1], &pipes.status[1]}) {
      if (*fd > shim::kStatusFd) continue;
      int moved = fcntl(*fd, F_DUPFD_CLOEXEC, shim::kStatusFd + 1);
      if (moved < 0) return false;
      close(*fd);
      *fd = moved;
    }
    const std::string steward = std::to_string(p.steward);
    std::vector<char*> argv = {const_cast<char*>(program.c_str()),
                               const_cast<char*>(steward.c_str()),
                               const_cast<char*>(p.cwd != nullptr ? p.cwd : ""),
                               const_cast<char*>(p.program.c_str())};
    argv.insert(argv.end(), p.argv.begin(), p.argv.end());  // ends with its nullptr
    pid_t pid = -1;
    int err = SpawnShim(program, argv.data(), p.envp.data(),
                        {{pipes.out[1], shim::kOutFd},
                         {pipes.err[1], shim::kErrFd},
                         {pipes.status[1], shim::kStatusFd}},
                        &pid);
    if (err == 0) {
      out->pid = pid;
      return true;
    }
  }
  pid_t pid = fork();
  if (pid == 0) {
    shim::Command c;
    c.program = p.program.c_str();
    c.argv = p.argv.data();
    c.envp = p.envp.data();
    c.cwd = p.cwd;
    c.steward = p.steward;
    c.out_fd = pipes.out[1];
    c.err_fd = pipes.err[1];
    c.status_fd = pipes.status[1];
    shim::RunShim(c);
  }
  out->pid = pid;
  return pid > 0;
}

void ClosePipe(int fds[2]) {
  for (int i = 0; i < 2; ++i) {
    if (fds[i] >= 0) close(fds[i]);
    fds[i] = -1;
  }
}

// Splits one stream into lines; chunks lines over kMaxLine.
class LineSplitter {
 public:
  LineSplitter(const LineFn& fn, bool is_stderr) : fn_(fn), is_stderr_(is_stderr) {}
  void Add(const char* data, size_t n) {
    buf_.append(data, n);
    size_t start = 0;
    for (;;) {
      size_t nl = buf_.find('\n', start);
      if (nl == std::string::npos) break;
      // A long line whose end arrives with more than kMaxLine bytes of it is chunked here as it
      // would have been had it arrived in smaller reads (found by ChunksVeryLongLines under load).
      while (nl - start >= kMaxLine) {
        Emit(std::string_view(buf_).substr(start, kMaxLine));
        start += kMaxLine;
      }
      Emit(std::string_view(buf_).substr(start, nl - start));
      start = nl + 1;
    }
    while (buf_.size() - start >= kMaxLine) {
      Emit(std::string_view(buf_).substr(start, kMaxLine));
      start += kMaxLine;
    }
    buf_.erase(0, start);
  }
  void Finish() {
    if (!buf_.empty()) Emit(buf_);
    buf_.clear();
  }

 private:
  void Emit(std::string_view line) {
    if (fn_) fn_(line, is_stderr_);
  }
  const LineFn& fn_;
  bool is_stderr_;
  std::string buf_;
};

// Reaps a one-step shim. One that reported an empty tree exits at once; otherwise its tree
// was just killed and it exits when it finds no child left — it is killed only when that did
// not happen. A thread's supervisor stays: its tree is empty now, and it takes the next step.
void WaitShim(const ShimHandle& shim, bool exiting) {
  int status;
  if (shim.persistent) return;
  if (!exiting) {
    int pidfd = static_cast<int>(syscall(SYS_pidfd_open, shim.pid, 0));
    if (pidfd >= 0) {
      pollfd pfd{pidfd, POLLIN, 0};
      while (poll(&pfd, 1, 2000) < 0 && errno == EINTR) {
      }
      close(pidfd);
    }
    if (waitpid(shim.pid, &status, WNOHANG) != 0) return;
    Clock::time_point deadline = Clock::now() + milliseconds(2000);
    while (pidfd < 0 && Clock::now() < deadline) {  // no pidfds (Linux < 5.3)
      std::this_thread::sleep_for(milliseconds(2));
      if (waitpid(shim.pid, &status, WNOHANG) != 0) return;
    }
    kill(shim.pid, SIGKILL);
  }
  while (waitpid(shim.pid, &status, 0) < 0 && errno == EINTR) {
  }
}

std::string FormatDuration(milliseconds d) {
  long long ms = d.count();
  char buf[64];
  if (ms % 1000 == 0) {
    std::snprintf(buf, sizeof buf, "%llds", ms / 1000);
  } else if (ms < 1000) {
    std::snprintf(buf, sizeof buf, "%lldms", ms);
  } else {
    std::snprintf(buf, sizeof buf, "%.1fs", static_cast<double>(ms) / 1000.0);
  }
  return buf;
}

}  // namespace

std::string ProcessResult::Describe() const {
  switch (end) {
    case ProcessEnd::kExited:
      return "exit " + std::to_string(exit_code);
    case ProcessEnd::kSignaled: {
      const char* abbrev = sigabbrev_np(exit_code);
      return abbrev ? std::string("killed by SIG") + abbrev
                    : "killed by signal " + std::to_string(exit_code);
    }
    case ProcessEnd::kTimedOut:
      return "timed out after " + FormatDuration(took);
    case ProcessEnd::kCancelled:
      return "cancelled";
    case ProcessEnd::kFailedToStart:
      return "failed to start: " + error;
  }
  return "unknown";
}

ProcessResult RunProcess(const ProcessSpec& spec, const LineFn& on_line,
                         const CancelToken* cancel) {
  ProcessResult result;
  const Clock::time_point started = Clock::now();
  StatusOr<Prepared> prepared = Prepare(spec);
  if (!prepared.ok()) {
    result.end = ProcessEnd::kFailedToStart;
    result.exit_code = 127;
    result.error = prepared.status().message();
    return result;
  }
  const Prepared& p = *prepared;
  Pipes pipes;
  for (int* fds : {pipes.out, pipes.err, pipes.status}) {
    if (pipe2(fds, O_CLOEXEC) != 0) {
      result.end = ProcessEnd::kFailedToStart;
      result.error = std::string("pipe: ") + strerror(errno);
      for (int* f : {pipes.out, pipes.err, pipes.status}) ClosePipe(f);
      return result;
    }
  }
  ShimHandle handle;
  const bool shim_started = StartShim(p, pipes, &handle);
  int fork_errno = errno;
  const pid_t shim = handle.pid;
  close(pipes.out[1]);
  close(pipes.err[1]);
  close(pipes.status[1]);
  if (!shim_started) {
    for (int fd : {pipes.out[0], pipes.err[0], pipes.status[0]}) close(fd);
    result.end = ProcessEnd::kFailedToStart;
    result.error = std::string("fork: ") + strerror(fork_errno);
    return result;
  }

  LineSplitter out_lines(on_line, false), err_lines(on_line, true);
  int out_fd = pipes.out[0], err_fd = pipes.err[0], status_fd = pipes.status[0];
  bool have_status = false;
  int wait_status = 0;
  // Killing: when the command has ended, or on the deadline or cancel.
  bool killing = false;
  bool killed_hard = false;
  Clock::time_point kill_started{}, tree_gone{};
  bool tree_empty = false;
  bool tree_done = false;  // the shim reported that nothing of the step is left
  shim::ShimReport start_failure{};  // start_step is a ChildStep when the command never ran
  bool shim_lost = false;  // it ended without reporting
  std::set<int> signalled;
  const Clock::time_point deadline =
      spec.timeout.count() > 0 ? started + spec.timeout : Clock::time_point::max();

  auto start_killing = [&](ProcessEnd why) {
    if (why != ProcessEnd::kExited) result.end = why;
    if (killing) return;
    killing = true;
    kill_started = Clock::now();
  };

  char buf[65536];
  for (;;) {
    Clock::time_point now = Clock::now();
    if (!killing) {
      if (cancel != nullptr && cancel->cancelled()) {
        start_killing(ProcessEnd::kCancelled);
      } else if (now >= deadline) {
        start_killing(ProcessEnd::kTimedOut);
      }
    }
    if (killing) {
      int sig = SIGTERM;
      if (now - kill_started >= spec.kill_grace) {
        sig = SIGKILL;
        killed_hard = true;
      }
      size_t alive = tree_done ? 0 : SignalTree(shim, false, sig, &signalled);
      if (alive == 0 && !tree_empty) {
        tree_empty = true;
        tree_gone = now;
      } else if (alive > 0) {
        tree_empty = false;
      }
    }
    bool pipes_closed = out_fd < 0 && err_fd < 0;
    if (killing && tree_empty && have_status && (pipes_closed || now - tree_gone >= kPipeLinger)) {
      break;
    }
    if (killing && now - kill_started >= spec.kill_grace + kKillBound) break;  // unkillable

    pollfd fds[3];
    int nfds = 0;
    for (int fd : {out_fd, err_fd, status_fd}) {
      if (fd >= 0) fds[nfds++] = {fd, POLLIN, 0};
    }
    milliseconds wait = kTick;
    if (!killing && deadline != Clock::time_point::max()) {
      wait = std::min(wait, std::chrono::ceil<milliseconds>(deadline - now));
      wait = std::max(wait, milliseconds(0));
    }
    if (killing && !killed_hard) wait = std::min(wait, milliseconds(10));
    if (nfds == 0) {
      std::this_thread::sleep_for(wait);
      continue;
    }
    int ready = poll(fds, nfds, static_cast<int>(wait.count()));
    if (ready < 0 && errno != EINTR) break;
    for (int i = 0; i < nfds && ready > 0; ++i) {
      if (fds[i].revents == 0) continue;
      int fd = fds[i].fd;
      if (fd == status_fd) {
        shim::ShimReport report{};
        ssize_t r = read(fd, &report, sizeof report);
        if (r < 0 && errno == EINTR) continue;
        if (r == static_cast<ssize_t>(sizeof report)) {
          wait_status = report.wait_status;
          tree_done = report.tree_empty;
          start_failure = report;
        } else {
          // The shim died without reporting (killed from outside): the command's end is unknown.
          wait_status = SIGKILL;  // as a W* status: killed by SIGKILL
          shim_lost = true;
        }
        have_status = true;
        close(status_fd);
        status_fd = -1;
        start_killing(ProcessEnd::kExited);  // the rest of the tree must not outlive the step
        continue;
      }
      ssize_t r = read(fd, buf, sizeof buf);
      if (r < 0 && (errno == EINTR || errno == EAGAIN)) continue;
      LineSplitter& lines = fd == out_fd ? out_lines : err_lines;
      if (r <= 0) {
        lines.Finish();
        close(fd);
        (fd == out_fd ? out_fd : err_fd) = -1;
      } else {
        lines.Add(buf, static_cast<size_t>(r));
      }
    }
  }
  if (out_fd >= 0) {
    out_lines.Finish();
    close(out_fd);
  }
  if (err_fd >= 0) {
    err_lines.Finish();
    close(err_fd);
  }
  if (status_fd >= 0) close(status_fd);

  // The shim exits by itself once its tree is empty; it is killed only when that did not happen
  // (an unkillable process), which leaves such processes to init.
  WaitShim(handle, tree_done);
  // Reaped only now: until the tree was killed, its pid had to stay unused.
  if (handle.persistent && shim_lost) ThisThreadsSupervisor().Forget();

  if (have_status && start_failure.start_step != shim::kStarted) {
    result.end = ProcessEnd::kFailedToStart;
    result.exit_code = 127;
    result.error = std::string(StepText(start_failure.start_step)) + " '" +
                   (start_failure.start_step == shim::kChdir ? spec.cwd : p.program) +
                   "': " + strerror(start_failure.start_errno);
    result.took = std::chrono::duration_cast<milliseconds>(Clock::now() - started);
    return result;
  }
  result.took = std::chrono::duration_cast<milliseconds>(Clock::now() - started);
  if (result.end == ProcessEnd::kTimedOut) result.took = spec.timeout;
  if (have_status && WIFEXITED(wait_status)) {
    result.exit_code = WEXITSTATUS(wait_status);
  } else if (have_status && WIFSIGNALED(wait_status)) {
    result.exit_code = WTERMSIG(wait_status);
    if (result.end == ProcessEnd::kExited) result.end = ProcessEnd::kSignaled;
  }
  return result;
}

std::string ShimProgram() {
  std::lock_guard<std::mutex> l(shim_mu);
  if (!shim_set) {
    shim_program = FindShimProgram();
    shim_set = true;
  }
  return shim_program;
}

void SetShimProgramForTesting(const std::string& path) {
  std::lock_guard<std::mutex> l(shim_mu);
  shim_program = path;
  shim_set = true;
  shim_generation += 1;
}

bool SandboxAvailable() {
  static std::once_flag once;
  static bool available = false;
  std::call_once(once, [] {
    ProcessSpec spec;
    spec.argv = {"/bin/true"};
    spec.env = {{"PATH", "/usr/local/bin:/usr/bin:/bin"}};
    spec.sandbox.enabled = true;
    spec.timeout = milliseconds(10000);
    available = RunProcess(spec, nullptr, nullptr).ok();
  });
  return available;
}

void BecomeSubreaper() {
  // Each step already runs below its own subreaper (the shim), so RunProcess does not need
  // this. It catches what a shim killed from outside leaves behind, so KillTree can still find
  // it below steward. Such orphans are reaped only by KillTree, by pid (never waitpid(-1):
  // other rooms reap their own children and must keep their exit statuses). The cost: every
  // orphan of any child of steward now comes here, and one nobody kills stays a zombie until
  // steward exits — fine for `steward run`, not for the long-running daemon.
  prctl(PR_SET_CHILD_SUBREAPER, 1);
}

void KillTree(int pid, milliseconds grace) {
  std::set<int> signalled;
  Clock::time_point start = Clock::now();
  size_t alive = SignalTree(pid, true, SIGTERM, &signalled);
  while (alive > 0 && Clock::now() - start < grace) {
    std::this_thread::sleep_for(milliseconds(10));
    alive = SignalTree(pid, true, SIGTERM, &signalled);
  }
  Clock::time_point hard = Clock::now();
  while (alive > 0 && Clock::now() - hard < kKillBound) {
    alive = SignalTree(pid, true, SIGKILL, &signalled);
    if (alive > 0) std::this_thread::sleep_for(milliseconds(10));
  }
  // A last pass reaps re-parented orphans that died after the previous one; pid itself is
  // reaped by whoever started it.
  LiveTree(pid, true, &signalled);
}

}  // namespace steward::pipeline
