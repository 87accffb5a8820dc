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

[[noreturn]] void ChildFail(int fd, int step) {
  ChildError e{step, errno};
  ssize_t ignored = write(fd, &e, sizeof e);
  (void)ignored;
  _exit(127);
}

// Closes every descriptor from 3 up except `keep`.
void CloseFdsExcept(int keep) {
  if (keep > 3) close_range(3, keep - 1, 0);
  close_range(keep < 3 ? 3 : keep + 1, ~0U, 0);
}

// Moves fd onto target without close-on-exec.
bool MoveFd(int fd, int target) {
  if (fd == target) return fcntl(fd, F_SETFD, 0) == 0;
  return dup2(fd, target) == target;
}

[[noreturn]] void RunCommand(const Command& c) {
  const int err_fd = c.start_error_fd;
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
  CloseFdsExcept(err_fd);
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

void RunShim(const Command& c) {
  sigset_t all;
  sigfillset(&all);
  sigprocmask(SIG_SETMASK, &all, nullptr);  // steward's handlers must not run in here
  const int err_fd = c.start_error_fd;
  // The command must not inherit these: exec closing the start-error pipe is how steward
  // learns that the command runs. (steward-shim receives them without close-on-exec.)
  fcntl(err_fd, F_SETFD, FD_CLOEXEC);
  fcntl(c.status_fd, F_SETFD, FD_CLOEXEC);
  if (prctl(PR_SET_CHILD_SUBREAPER, 1) != 0) ChildFail(err_fd, kShimSetup);
  // Steward's death is a signal that stays pending (every signal is blocked here) and is taken
  // by sigwaitinfo below: the shim then kills the step's tree instead of orphaning it.
  prctl(PR_SET_PDEATHSIG, SIGUSR1);
  if (getppid() != c.steward) _exit(127);  // steward died before the line above
  setsid();  // out of steward's process group: a terminal's Ctrl-C is steward's to handle
  // vfork: in the fork fallback the shim is a copy of steward, and copying its page tables
  // again for a child that execs at once is most of the cost of a short step. The child only
  // makes system calls on its own stack before execve or _exit, which is what vfork allows.
  pid_t command = vfork();
  if (command < 0) ChildFail(err_fd, kShimFork);
  if (command == 0) RunCommand(c);
  close(c.out_fd);
  close(c.err_fd);
  close(err_fd);
  CloseFdsExcept(c.status_fd);
  sigset_t wake;
  sigemptyset(&wake);
  sigaddset(&wake, SIGCHLD);
  sigaddset(&wake, SIGUSR1);
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
      close(c.status_fd);
      if (report.tree_empty) _exit(0);
    } else if (pid < 0 && errno == ECHILD) {
      _exit(0);  // nothing left below: the step is over
    }
  }
}

}  // namespace steward::pipeline::shim
