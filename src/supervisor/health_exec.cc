// The exec health check: run a command with the replica's environment, capture the start of
// its output, kill its whole process group at the timeout. Only this child's pid is waited for,
// so the daemon's other children (replicas) are never reaped here.
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <sstream>

#include "supervisor/health.h"

namespace steward::supervisor {
namespace {

constexpr size_t kOutputCap = 4096;
constexpr size_t kDetailLineCap = 200;
constexpr int kPollMs = 20;

// Built before fork; the child only reads it.
struct ExecPlan {
  std::string program;
  std::vector<std::string> args;
  std::vector<std::string> env;
  std::vector<char*> argv;
  std::vector<char*> envp;
  std::string exec_failed;  // written to the output pipe if execve fails
  struct sigaction default_action {};
  sigset_t empty_mask{};
};

// execvp's search, through the replica's PATH rather than the daemon's.
std::string Resolve(const std::string& name, const std::map<std::string, std::string>& env) {
  if (name.find('/') != std::string::npos) return name;
  auto path = env.find("PATH");
  std::stringstream dirs(path != env.end() ? path->second : "/usr/local/bin:/usr/bin:/bin");
  std::string dir;
  while (std::getline(dirs, dir, ':')) {
    if (dir.empty()) continue;
    std::string candidate = dir + "/" + name;
    struct stat st {};
    if (stat(candidate.c_str(), &st) == 0 && S_ISREG(st.st_mode) &&
        access(candidate.c_str(), X_OK) == 0) {
      return candidate;
    }
  }
  return "";
}

void BuildPlan(ExecPlan& plan, const std::vector<std::string>& command,
               const std::map<std::string, std::string>& env) {
  plan.args = command;
  for (const auto& [name, value] : env) plan.env.push_back(name + "=" + value);
  for (std::string& a : plan.args) plan.argv.push_back(a.data());
  plan.argv.push_back(nullptr);
  for (std::string& e : plan.env) plan.envp.push_back(e.data());
  plan.envp.push_back(nullptr);
  plan.exec_failed = "exec '" + command[0] + "' failed\n";
  plan.default_action.sa_handler = SIG_DFL;
  sigemptyset(&plan.default_action.sa_mask);
  sigemptyset(&plan.empty_mask);
}

// Between fork and exec: async-signal-safe calls only.
[[noreturn]] void RunChild(const ExecPlan& plan, int out_fd) {
  setpgid(0, 0);
  int in = open("/dev/null", O_RDONLY);
  if (in < 0 || dup2(in, 0) < 0 || dup2(out_fd, 1) < 0 || dup2(out_fd, 2) < 0) _exit(126);
  for (int sig = 1; sig < NSIG; ++sig) sigaction(sig, &plan.default_action, nullptr);
  sigprocmask(SIG_SETMASK, &plan.empty_mask, nullptr);
  close_range(3, ~0U, 0);
  execve(plan.program.c_str(), plan.argv.data(), plan.envp.data());
  ssize_t ignored = write(2, plan.exec_failed.data(), plan.exec_failed.size());
  (void)ignored;
  _exit(127);
}

std::string FirstLine(const std::string& output) {
  std::string line = output.substr(0, output.find('\n'));
  if (line.size() > kDetailLineCap) line = line.substr(0, kDetailLineCap) + "...";
  return line;
}

// Reads what is available now into `out` (up to the cap; the rest is drained and dropped so
// the child never blocks on a full pipe). Returns false at EOF.
bool ReadAvailable(int fd, std::string& out) {
  char buf[4096];
  ssize_t n = read(fd, buf, sizeof buf);
  if (n < 0) return errno == EINTR || errno == EAGAIN;
  if (n == 0) return false;
  size_t room = kOutputCap - std::min(kOutputCap, out.size());
  out.append(buf, std::min(room, static_cast<size_t>(n)));
  return true;
}

// True once the child has exited, without reaping it: its pid then still pins the group id,
// so the leftovers of its group can be killed safely before the reap.
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

}  // namespace

HealthResult CheckExec(const config::HealthCheck& check,
                       const std::map<std::string, std::string>& env) {
  if (check.command.empty()) return {false, "exec: empty command", {}};
  ExecPlan plan;
  BuildPlan(plan, check.command, env);
  plan.program = Resolve(check.command[0], env);
  if (plan.program.empty()) {
    return {
        false, "exec '" + check.command[0] + "': No such file or directory (searched PATH)", {}};
  }
  int fds[2];
  if (pipe2(fds, O_CLOEXEC) != 0) return {false, std::string("pipe: ") + std::strerror(errno), {}};
  fcntl(fds[0], F_SETFL, O_NONBLOCK);  // our end only: the command must block on a full pipe
  pid_t pid = fork();
  if (pid < 0) {
    int err = errno;
    close(fds[0]);
    close(fds[1]);
    return {false, std::string("fork: ") + std::strerror(err), {}};
  }
  if (pid == 0) RunChild(plan, fds[1]);
  close(fds[1]);

  Clock* clock = RealClock::Get();
  MonoTime deadline = clock->Now() + check.timeout;
  std::string output;
  bool open_pipe = true;
  while (!Exited(pid)) {
    MonoTime now = clock->Now();
    if (now >= deadline) {
      close(fds[0]);
      KillGroupAndReap(pid);
      return {false, TimeoutText(check.timeout), {}};
    }
    int wait_ms = static_cast<int>(std::min<int64_t>(
        kPollMs, std::chrono::duration_cast<Duration>(deadline - now).count() + 1));
    pollfd p{fds[0], POLLIN, 0};
    if (open_pipe && poll(&p, 1, wait_ms) > 0) {
      open_pipe = ReadAvailable(fds[0], output);
    } else if (!open_pipe) {
      poll(nullptr, 0, std::min(wait_ms, 5));
    }
  }
  while (open_pipe && ReadAvailable(fds[0], output)) {
    pollfd p{fds[0], POLLIN, 0};
    if (poll(&p, 1, 0) <= 0) break;  // a leftover grandchild may hold the pipe open
  }
  close(fds[0]);
  int status = KillGroupAndReap(pid);
  std::string detail = WIFEXITED(status) ? "exit status " + std::to_string(WEXITSTATUS(status))
                                         : "killed by signal " + std::to_string(WTERMSIG(status));
  std::string line = FirstLine(output);
  if (!line.empty()) detail += ": " + line;
  return {WIFEXITED(status) && WEXITSTATUS(status) == 0, detail, {}};
}

}  // namespace steward::supervisor
