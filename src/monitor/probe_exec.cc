// The exec probe: posix_spawnp (vfork-like, cheap from a large multi-threaded daemon) into a new
// process group, stdin and stdout on /dev/null, stderr on a pipe whose first line explains a
// failure. At the deadline, or once the command exited, the whole group is killed, so nothing it
// started outlives the probe. Only this child's pid is waited for: the daemon's other children
// (replicas) are never reaped here.
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "monitor/probe_internal.h"

extern char** environ;

namespace steward::monitor::internal {
namespace {

constexpr size_t kStderrCap = 4096;
constexpr size_t kLineCap = 200;
constexpr int kPollMs = 20;

class SpawnSetup {
 public:
  SpawnSetup(int stderr_fd, const std::string& working_dir) {
    posix_spawn_file_actions_init(&actions_);
    posix_spawn_file_actions_addopen(&actions_, 0, "/dev/null", O_RDONLY, 0);
    posix_spawn_file_actions_addopen(&actions_, 1, "/dev/null", O_WRONLY, 0);
    posix_spawn_file_actions_adddup2(&actions_, stderr_fd, 2);
    posix_spawn_file_actions_addclosefrom_np(&actions_, 3);
    if (!working_dir.empty()) posix_spawn_file_actions_addchdir_np(&actions_, working_dir.c_str());
    posix_spawnattr_init(&attr_);
    sigset_t all;
    sigset_t none;
    sigfillset(&all);
    sigemptyset(&none);
    posix_spawnattr_setsigdefault(&attr_, &all);
    posix_spawnattr_setsigmask(&attr_, &none);
    posix_spawnattr_setpgroup(&attr_, 0);
    posix_spawnattr_setflags(
        &attr_, POSIX_SPAWN_SETPGROUP | POSIX_SPAWN_SETSIGDEF | POSIX_SPAWN_SETSIGMASK);
  }
  ~SpawnSetup() {
    posix_spawn_file_actions_destroy(&actions_);
    posix_spawnattr_destroy(&attr_);
  }
  SpawnSetup(const SpawnSetup&) = delete;
  SpawnSetup& operator=(const SpawnSetup&) = delete;

  // 0 or the errno of the failure (the program not found, not executable, ...).
  int Spawn(const std::vector<std::string>& command, pid_t* pid) {
    std::vector<char*> argv;
    for (const std::string& a : command) argv.push_back(const_cast<char*>(a.c_str()));
    argv.push_back(nullptr);
    return posix_spawnp(pid, argv[0], &actions_, &attr_, argv.data(), environ);
  }

 private:
  posix_spawn_file_actions_t actions_;
  posix_spawnattr_t attr_;
};

// Reads what the pipe holds now; keeps up to the cap, drains the rest so the child never blocks.
// Returns false at end of file (every writer closed it).
bool ReadAvailable(int fd, std::string* out) {
  char buf[4096];
  ssize_t n;
  while ((n = read(fd, buf, sizeof buf)) > 0) {
    size_t room = kStderrCap - std::min(kStderrCap, out->size());
    out->append(buf, std::min(room, static_cast<size_t>(n)));
  }
  return n != 0;
}

// The child exited (not reaped yet: its pid still pins the group id, so the group can be killed
// safely before the reap).
bool Exited(pid_t pid) {
  siginfo_t info{};
  return waitid(P_PID, static_cast<id_t>(pid), &info, WEXITED | WNOHANG | WNOWAIT) == 0 &&
         info.si_pid == pid;
}

int KillGroupAndReap(pid_t pid) {
  kill(-pid, SIGKILL);
  int status = 0;
  while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  return status;
}

std::string FirstLine(const std::string& text) {
  size_t start = text.find_first_not_of("\r\n \t");
  if (start == std::string::npos) return "";
  std::string line = text.substr(start, text.find('\n', start) - start);
  if (!line.empty() && line.back() == '\r') line.pop_back();
  if (line.size() > kLineCap) line = line.substr(0, kLineCap) + "...";
  return line;
}

void Explain(int status, bool timed_out, Duration timeout, const std::string& stderr_text,
             ProbeResult* result) {
  std::string line = FirstLine(stderr_text);
  std::string detail = line.empty() ? "" : ": " + line;
  if (timed_out) {
    result->error = "timed out after " + FormatLatency(timeout.count() / 1000.0) +
                    "; its process group was killed" + detail;
    result->extra = {{"probe_exec_exit_code", -1}};
  } else if (WIFEXITED(status)) {
    int code = WEXITSTATUS(status);
    result->extra = {{"probe_exec_exit_code", code}};
    result->success = code == 0;
    if (code != 0) result->error = "exit status " + std::to_string(code) + detail;
  } else {
    int sig = WIFSIGNALED(status) ? WTERMSIG(status) : 0;
    result->error =
        "killed by signal " + std::to_string(sig) + " (" + strsignal(sig) + ")" + detail;
    result->extra = {{"probe_exec_exit_code", -1}};
  }
}

}  // namespace

void ProbeExec(const config::Monitor& monitor, const ProbeContext& context, SteadyTime deadline,
               ProbeResult* result) {
  result->extra = {{"probe_exec_exit_code", -1}};
  if (monitor.command.empty() || monitor.command[0].empty()) {
    result->error = "exec: empty command";
    return;
  }
  int fds[2];
  if (pipe2(fds, O_CLOEXEC) != 0) {
    result->error = std::string("pipe: ") + std::strerror(errno);
    return;
  }
  fcntl(fds[0], F_SETFL, O_NONBLOCK);  // our end only
  pid_t pid = 0;
  int rc = SpawnSetup(fds[1], context.working_dir).Spawn(monitor.command, &pid);
  close(fds[1]);
  if (rc != 0) {
    close(fds[0]);
    result->error = "cannot start '" + monitor.command[0] + "': " + std::strerror(rc);
    return;
  }
  std::string stderr_text;
  bool timed_out = false;
  bool pipe_open = true;
  while (!Exited(pid)) {
    if (Remaining(deadline).count() <= 0 || Cancelled(context)) {
      timed_out = true;
      break;
    }
    // After EOF the pipe would poll ready at once: then just wait.
    pollfd p{fds[0], POLLIN, 0};
    poll(&p, pipe_open ? 1 : 0,
         static_cast<int>(std::min<int64_t>(Remaining(deadline).count(), kPollMs)));
    if (pipe_open) pipe_open = ReadAvailable(fds[0], &stderr_text);
  }
  ReadAvailable(fds[0], &stderr_text);
  int status = KillGroupAndReap(pid);
  close(fds[0]);
  Duration timeout = monitor.timeout.count() > 0 ? monitor.timeout : Duration(5000);
  Explain(status, timed_out, timeout, stderr_text, result);
}

}  // namespace steward::monitor::internal
