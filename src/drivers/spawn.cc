#include "drivers/spawn.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <sstream>

namespace steward::drivers {
namespace {

// Which step of the child failed; sent with errno through the error pipe.
enum ChildStep : int { kSetup, kChdir, kOpenStdin, kOpenStdout, kOpenStderr, kExec };

struct ChildError {
  int step = 0;
  int err = 0;
};

// Everything the child touches, owned by the parent and built before fork().
struct Prepared {
  std::string program;
  std::vector<char*> argv;
  std::vector<char*> envp;
  const char* working_dir = nullptr;
  const char* stdout_path = nullptr;
  const char* stderr_path = nullptr;
  struct sigaction default_action {};
  sigset_t empty_mask{};
  long max_fd = 1024;
  pid_t parent = 0;
};

std::vector<std::string> SplitPath(const std::string& path) {
  std::vector<std::string> dirs;
  std::stringstream in(path);
  std::string dir;
  while (std::getline(in, dir, ':')) {
    if (!dir.empty()) dirs.push_back(dir);
  }
  return dirs;
}

std::string SearchedText(const std::string& path_env, const std::vector<std::string>& extra) {
  std::string text = path_env.empty() ? "" : "PATH";
  for (const std::string& dir : extra) {
    text += text.empty() ? "" : (text == "PATH" ? " and " : ", ");
    text += dir;
  }
  return text.empty() ? "no PATH and no extra directories" : "searched " + text;
}

[[noreturn]] void ChildFail(int fd, int step) {
  ChildError e{step, errno};
  ssize_t ignored = write(fd, &e, sizeof e);
  (void)ignored;
  _exit(127);
}

// Opens `path` and makes sure the fd is above 2 so the dup2 onto 0..2 below cannot clobber it.
int OpenHigh(const char* path, int flags, int err_fd, int step) {
  int fd = open(path, flags, 0644);
  if (fd < 0) ChildFail(err_fd, step);
  if (fd < 3) {
    int high = fcntl(fd, F_DUPFD, 3);
    if (high < 0) ChildFail(err_fd, kSetup);
    fd = high;
  }
  return fd;
}

void CloseOtherFds(const Prepared& p, int keep) {
  bool ok = (keep <= 3 || close_range(3, keep - 1, 0) == 0) && close_range(keep + 1, ~0U, 0) == 0;
  if (ok) return;
  for (int fd = 3; fd < p.max_fd; ++fd) {
    if (fd != keep) close(fd);
  }
}

// Runs in the child between fork and exec: async-signal-safe calls only.
[[noreturn]] void RunChild(const Prepared& p, int err_fd) {
  if (err_fd < 3) {
    err_fd = fcntl(err_fd, F_DUPFD_CLOEXEC, 3);
    if (err_fd < 0) _exit(127);
  }
  if (setsid() < 0) ChildFail(err_fd, kSetup);
  if (prctl(PR_SET_PDEATHSIG, SIGKILL) != 0) ChildFail(err_fd, kSetup);
  // The parent may have died before prctl took effect; then nobody would ever reap us.
  if (getppid() != p.parent) _exit(127);
  if (p.working_dir != nullptr && chdir(p.working_dir) != 0) ChildFail(err_fd, kChdir);
  int in = OpenHigh("/dev/null", O_RDONLY, err_fd, kOpenStdin);
  int out = OpenHigh(p.stdout_path, O_WRONLY | O_CREAT | O_APPEND, err_fd, kOpenStdout);
  int errf = OpenHigh(p.stderr_path, O_WRONLY | O_CREAT | O_APPEND, err_fd, kOpenStderr);
  if (dup2(in, 0) < 0 || dup2(out, 1) < 0 || dup2(errf, 2) < 0) ChildFail(err_fd, kSetup);
  for (int sig = 1; sig < NSIG; ++sig) sigaction(sig, &p.default_action, nullptr);
  sigprocmask(SIG_SETMASK, &p.empty_mask, nullptr);
  CloseOtherFds(p, err_fd);
  execve(p.program.c_str(), p.argv.data(), p.envp.data());
  ChildFail(err_fd, kExec);
}

Prepared Prepare(const SpawnRequest& r, std::string program) {
  Prepared p;
  p.program = std::move(program);
  for (const std::string& a : r.argv) p.argv.push_back(const_cast<char*>(a.c_str()));
  p.argv.push_back(nullptr);
  for (const std::string& e : r.env) p.envp.push_back(const_cast<char*>(e.c_str()));
  p.envp.push_back(nullptr);
  if (!r.working_dir.empty()) p.working_dir = r.working_dir.c_str();
  p.stdout_path = r.stdout_path.c_str();
  p.stderr_path = r.stderr_path.c_str();
  p.default_action.sa_handler = SIG_DFL;
  sigemptyset(&p.default_action.sa_mask);
  sigemptyset(&p.empty_mask);
  long max_fd = sysconf(_SC_OPEN_MAX);
  if (max_fd > 0) p.max_fd = max_fd;
  p.parent = getpid();
  return p;
}

Status ChildErrorStatus(const ChildError& e, const SpawnRequest& r) {
  switch (e.step) {
    case kChdir:
      return ErrnoError("chdir '" + r.working_dir + "'", e.err);
    case kOpenStdin:
      return ErrnoError("open '/dev/null'", e.err);
    case kOpenStdout:
      return ErrnoError("open '" + r.stdout_path + "'", e.err);
    case kOpenStderr:
      return ErrnoError("open '" + r.stderr_path + "'", e.err);
    case kExec:
      return ErrnoError("exec '" + r.argv[0] + "'", e.err);
    default:
      return ErrnoError("prepare child of '" + r.argv[0] + "'", e.err);
  }
}

}  // namespace

StatusOr<std::string> ResolveProgram(const std::string& name, const std::string& path_env,
                                     const std::vector<std::string>& extra_dirs) {
  if (name.empty()) return InvalidArgument("empty command");
  if (name.find('/') != std::string::npos) return name;
  std::vector<std::string> dirs = SplitPath(path_env);
  dirs.insert(dirs.end(), extra_dirs.begin(), extra_dirs.end());
  int err = ENOENT;
  for (const std::string& dir : dirs) {
    std::string candidate = dir + "/" + name;
    struct stat st {};
    if (stat(candidate.c_str(), &st) != 0 || !S_ISREG(st.st_mode)) continue;
    if (access(candidate.c_str(), X_OK) == 0) return candidate;
    err = EACCES;
  }
  return Status(err == ENOENT ? StatusCode::kNotFound : StatusCode::kIOError,
                "exec '" + name + "': " + std::strerror(err) + " (" +
                    SearchedText(path_env, extra_dirs) + ")");
}

StatusOr<int> Spawn(const SpawnRequest& request) {
  if (request.argv.empty()) return InvalidArgument("empty command");
  ASSIGN_OR_RETURN(std::string program,
                   ResolveProgram(request.argv[0], request.path_env, request.extra_path));
  Prepared prepared = Prepare(request, std::move(program));
  int fds[2];
  if (pipe2(fds, O_CLOEXEC) != 0) return ErrnoError("pipe", errno);
  pid_t pid = fork();
  if (pid < 0) {
    int err = errno;
    close(fds[0]);
    close(fds[1]);
    return ErrnoError("fork", err);
  }
  if (pid == 0) RunChild(prepared, fds[1]);
  close(fds[1]);
  ChildError error;
  ssize_t n;
  do {
    n = read(fds[0], &error, sizeof error);
  } while (n < 0 && errno == EINTR);
  close(fds[0]);
  if (n == 0) return static_cast<int>(pid);  // EOF: the pipe closed on a successful exec
  if (n < 0) kill(pid, SIGKILL);             // cannot tell; do not leave it half-started
  int status;
  while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  if (n != static_cast<ssize_t>(sizeof error)) return Internal("spawn: lost the child's status");
  return ChildErrorStatus(error, request);
}

}  // namespace steward::drivers
