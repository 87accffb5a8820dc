// The shim (see shim.h). Compiled into steward (the fork fallback) and into steward-shim, so it
// uses the C library only, and only async-signal-safe calls.
#include "pipeline/shim.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

namespace steward::pipeline::shim {
namespace {

// In the command's child: tells the shim why the command did not run.
[[noreturn]] void ChildFail(int fd, int step) {
  ChildError e{step, errno};
  ssize_t ignored = write(fd, &e, sizeof e);
  (void)ignored;
  _exit(127);
}

// In the shim: tells steward why the command did not run.
void ReportStartFailure(int status_fd, int step, int err) {
  ShimReport report{0, true, step, err};
  ssize_t ignored = write(status_fd, &report, sizeof report);
  (void)ignored;
}

void CloseStepFds(const Command& c) {
  close(c.status_fd);
  close(c.out_fd);
  close(c.err_fd);
}

// Closes every descriptor from 3 up except those in keep[0..n) (-1 entries are ignored).
void CloseFdsExceptSome(int* keep, int n) {
  for (int i = 0; i < n; ++i)  // sort them
    for (int j = i + 1; j < n; ++j)
      if (keep[j] < keep[i]) {
        int t = keep[i];
        keep[i] = keep[j];
        keep[j] = t;
      }
  unsigned from = 3;
  for (int i = 0; i < n; ++i) {
    if (keep[i] < static_cast<int>(from)) continue;
    if (keep[i] > static_cast<int>(from)) close_range(from, keep[i] - 1, 0);
    from = keep[i] + 1;
  }
  close_range(from, ~0U, 0);
}

// Moves fd onto target without close-on-exec.
bool MoveFd(int fd, int target) {
  if (fd == target) return fcntl(fd, F_SETFD, 0) == 0;
  return dup2(fd, target) == target;
}

[[noreturn]] void RunCommand(const Command& c, int err_fd) {
  sigset_t none;
  sigemptyset(&none);
  struct sigaction dfl {};
  dfl.sa_handler = SIG_DFL;
  for (int sig = 1; sig < NSIG; ++sig) sigaction(sig, &dfl, nullptr);
  sigprocmask(SIG_SETMASK, &none, nullptr);
  if (setsid() < 0) ChildFail(err_fd, kSetsid);
  prctl(PR_SET_PDEATHSIG, SIGKILL);
  if (c.cwd != nullptr && chdir(c.cwd) != 0) ChildFail(err_fd, kChdir);
  int devnull = open("/dev/null", O_RDONLY | O_CLOEXEC);
  if (devnull < 0) ChildFail(err_fd, kDevNull);
  if (!MoveFd(devnull, 0) || !MoveFd(c.out_fd, 1) || !MoveFd(c.err_fd, 2)) {
    ChildFail(err_fd, kDup);
  }
  int keep[1] = {err_fd};
  CloseFdsExceptSome(keep, 1);
  execve(c.program, c.argv, c.envp);
  ChildFail(err_fd, kExec);
}

// Steward died (the shim's parent-death signal): a step must not outlive the steward that ran
// it, so the shim kills every process below it — its children, and what each killed child
// leaves re-parented here — until it has none, then exits.
[[noreturn]] void KillTreeAndExit() {
  char path[64] = "/proc/self/task/";
  {  // + our tid + "/children", without snprintf
    char digits[16];
    int n = 0;
    for (long tid = syscall(SYS_gettid); tid > 0 && n < 15; tid /= 10) digits[n++] = '0' + tid % 10;
    size_t at = strlen(path);
    while (n > 0) path[at++] = digits[--n];
    memcpy(path + at, "/children", 10);
  }
  for (int round = 0; round < 2000; ++round) {
    char buf[8192];
    ssize_t len = 0;
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd >= 0) {
      len = read(fd, buf, sizeof buf - 1);
      close(fd);
    }
    bool any = false;
    long pid = 0;
    for (ssize_t i = 0; i <= len; ++i) {
      if (i < len && buf[i] >= '0' && buf[i] <= '9') {
        pid = pid * 10 + (buf[i] - '0');
      } else if (pid > 0) {
        kill(static_cast<pid_t>(-pid), SIGKILL);  // its process group, if it leads one
        kill(static_cast<pid_t>(pid), SIGKILL);
        any = true;
        pid = 0;
      }
    }
    int status;
    while (waitpid(-1, &status, WNOHANG) > 0) {
    }
    if (!any && waitpid(-1, &status, WNOHANG) < 0 && errno == ECHILD) _exit(137);
    timespec pause{0, 1'000'000};
    nanosleep(&pause, nullptr);
  }
  _exit(137);
}

}  // namespace

int BecomeSupervisor(pid_t steward) {
  sigset_t all;
  sigfillset(&all);
  sigprocmask(SIG_SETMASK, &all, nullptr);  // steward's handlers must not run in here
  if (prctl(PR_SET_CHILD_SUBREAPER, 1) != 0) return errno;
  // Steward's death is a signal that stays pending (every signal is blocked here) and is taken
  // by sigwaitinfo below: the shim then kills the step's tree instead of orphaning it.
  prctl(PR_SET_PDEATHSIG, SIGUSR1);
  if (getppid() != steward) return -1;  // steward died before the line above
  setsid();  // out of steward's process group: a terminal's Ctrl-C is steward's to handle
  return 0;
}

void SuperviseStep(const Command& c, int keep_fd) {
  // The command must not inherit it. (steward-shim receives it without close-on-exec.)
  fcntl(c.status_fd, F_SETFD, FD_CLOEXEC);
  int start_error[2];
  if (pipe2(start_error, O_CLOEXEC) != 0) {
    ReportStartFailure(c.status_fd, kShimSetup, errno);
    CloseStepFds(c);
    return;
  }
  for (int& fd : start_error) {  // off 0-2, which the command's child fills with its own
    if (fd > 2) continue;
    int moved = fcntl(fd, F_DUPFD_CLOEXEC, 3);
    if (moved >= 0) close(fd);
    fd = moved;
  }
  if (start_error[0] < 0 || start_error[1] < 0) {
    ReportStartFailure(c.status_fd, kShimSetup, errno);
    for (int fd : start_error)
      if (fd >= 0) close(fd);
    CloseStepFds(c);
    return;
  }
  // vfork: in the fork fallback the shim is a copy of steward, and copying its page tables
  // again for a child that execs at once is most of the cost of a short step. The child only
  // makes system calls on its own stack before execve or _exit, which is what vfork allows.
  // The shim resumes once the child has exec'd or given up, so the read below does not wait.
  pid_t command = vfork();
  if (command == 0) RunCommand(c, start_error[1]);
  const int fork_errno = errno;
  close(start_error[1]);
  ChildError failed{kShimFork, fork_errno};
  ssize_t got = static_cast<ssize_t>(sizeof failed);
  if (command > 0) {
    while ((got = read(start_error[0], &failed, sizeof failed)) < 0 && errno == EINTR) {
    }
  }
  close(start_error[0]);
  if (got == static_cast<ssize_t>(sizeof failed)) {
    int status;
    while (command > 0 && waitpid(command, &status, 0) < 0 && errno == EINTR) {
    }
    ReportStartFailure(c.status_fd, failed.step, failed.err);
    CloseStepFds(c);
    return;
  }
  // The shim keeps its copies of the output pipes until it has reported: steward then sees the
  // report and the end of the output at about the same time, one wake-up instead of two for a
  // command that leaves nothing behind.
  int keep[4] = {c.status_fd, c.out_fd, c.err_fd, keep_fd};
  CloseFdsExceptSome(keep, 4);
  sigset_t wake;
  sigemptyset(&wake);
  sigaddset(&wake, SIGCHLD);
  sigaddset(&wake, SIGUSR1);
  bool reported = false;
  for (;;) {
    int status = 0;
    pid_t pid = waitpid(-1, &status, WNOHANG);
    if (pid == 0) {
      // Children live: sleep until one ends (SIGCHLD, pending while blocked) or steward dies.
      siginfo_t info;
      if (sigwaitinfo(&wake, &info) == SIGUSR1) KillTreeAndExit();
      continue;
    }
    if (pid == command) {
      // No child left means no process of the step is left: a descendant whose parent died was
      // re-parented here, so every live one has a living ancestor among the shim's children.
      // Steward then need not look for the rest of the tree in /proc.
      int ignored_status;
      ShimReport report{status, waitpid(-1, &ignored_status, WNOHANG) < 0 && errno == ECHILD};
      ssize_t ignored = write(c.status_fd, &report, sizeof report);
      (void)ignored;
      CloseStepFds(c);
      reported = true;
      if (report.tree_empty) return;
    } else if (pid < 0 && errno == ECHILD) {
      if (!reported) CloseStepFds(c);  // cannot happen: the command is a child until reaped
      return;  // nothing left below: the step is over
    }
  }
}

void RunShim(const Command& c) {
  int err = BecomeSupervisor(c.steward);
  if (err == -1) _exit(127);
  if (err != 0) {
    ReportStartFailure(c.status_fd, kShimSetup, err);
    _exit(127);
  }
  SuperviseStep(c, -1);
  _exit(0);
}

}  // namespace steward::pipeline::shim
