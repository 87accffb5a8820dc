// steward-shim: the supervisor of one pipeline step, started by steward for each step, or the
// server that forks one per step (see src/pipeline/shim.h for what it does and the argv,
// descriptors and requests it takes). A program of its own so that a step costs a fork of a
// small process (or a posix_spawn and the exec of a small static binary), not a fork() of
// steward. Not meant to be run by hand.
#include <errno.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "pipeline/shim.h"

extern char** environ;

namespace {

using namespace steward::pipeline::shim;

// Reads exactly n bytes; false on EOF or error.
bool ReadFull(int fd, char* buf, size_t n) {
  for (size_t done = 0; done < n;) {
    ssize_t r = read(fd, buf + done, n - done);
    if (r < 0 && errno == EINTR) continue;
    if (r <= 0) return false;
    done += static_cast<size_t>(r);
  }
  return true;
}

bool Reply(int sock, pid_t pid, int err, int pidfd) {
  ServeReply reply{static_cast<int32_t>(pid), err};
  iovec iov{&reply, sizeof reply};
  msghdr msg{};
  msg.msg_iov = &iov;
  msg.msg_iovlen = 1;
  alignas(cmsghdr) char control[CMSG_SPACE(sizeof(int))];
  if (pidfd >= 0) {
    msg.msg_control = control;
    msg.msg_controllen = sizeof control;
    cmsghdr* c = CMSG_FIRSTHDR(&msg);
    c->cmsg_level = SOL_SOCKET;
    c->cmsg_type = SCM_RIGHTS;
    c->cmsg_len = CMSG_LEN(sizeof(int));
    memcpy(CMSG_DATA(c), &pidfd, sizeof(int));
  }
  ssize_t n;
  while ((n = sendmsg(sock, &msg, MSG_NOSIGNAL)) < 0 && errno == EINTR) {
  }
  return n == static_cast<ssize_t>(sizeof reply);
}

void ReapChildren() {
  int status;
  while (waitpid(-1, &status, WNOHANG) > 0) {
  }
}

// Serves until steward's end of the socket closes. Requests are answered one at a time;
// between them the shims that ended are reaped (at least every second).
int Serve(int sock) {
  const pid_t self = getpid();
  int probe = static_cast<int>(syscall(SYS_pidfd_open, self, 0));
  if (probe < 0) return 3;  // no pidfds (Linux < 5.3): steward starts each shim itself
  close(probe);
  for (;;) {
    ReapChildren();
    pollfd pfd{sock, POLLIN, 0};
    int ready = poll(&pfd, 1, 1000);
    if (ready < 0 && errno != EINTR) return 1;
    if (ready <= 0) continue;
    ServeRequest req{};
    iovec iov{&req, sizeof req};
    msghdr msg{};
    msg.msg_iov = &iov;
    msg.msg_iovlen = 1;
    alignas(cmsghdr) char control[CMSG_SPACE(3 * sizeof(int))];
    msg.msg_control = control;
    msg.msg_controllen = sizeof control;
    ssize_t n;
    while ((n = recvmsg(sock, &msg, MSG_CMSG_CLOEXEC | MSG_WAITALL)) < 0 && errno == EINTR) {
    }
    if (n <= 0) return 0;  // steward is gone
    int fds[3] = {-1, -1, -1};
    int nfds = 0;
    for (cmsghdr* c = CMSG_FIRSTHDR(&msg); c != nullptr; c = CMSG_NXTHDR(&msg, c)) {
      if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS) continue;
      int count = static_cast<int>((c->cmsg_len - CMSG_LEN(0)) / sizeof(int));
      for (int i = 0; i < count; ++i) {
        int fd;
        memcpy(&fd, CMSG_DATA(c) + i * sizeof(int), sizeof fd);
        if (nfds < 3) {
          fds[nfds++] = fd;
        } else {
          close(fd);
        }
      }
    }
    auto close_fds = [&] {
      for (int fd : fds)
        if (fd >= 0) close(fd);
    };
    if (n != static_cast<ssize_t>(sizeof req) || req.magic != kServeMagic ||
        req.length > kServeMaxLength || (msg.msg_flags & MSG_CTRUNC) != 0 || nfds != 3) {
      close_fds();
      return 2;  // not steward speaking this protocol: stop, steward falls back
    }
    char* body = static_cast<char*>(malloc(req.length + 1));
    char** ptrs = static_cast<char**>(malloc((req.args + req.envs + 4) * sizeof(char*)));
    if (body == nullptr || ptrs == nullptr || !ReadFull(sock, body, req.length)) {
      close_fds();
      return 2;
    }
    body[req.length] = '\0';
    // CWD, PROGRAM, ARGV..., ENV...: split on the '\0's.
    const size_t want = 2 + req.args + req.envs;
    size_t found = 0;
    for (size_t at = 0; at < req.length && found < want; ++found) {
      ptrs[found] = body + at;
      at += strlen(body + at) + 1;
    }
    if (found != want || req.args == 0) {
      close_fds();
      return 2;
    }
    char* cwd = ptrs[0];
    char* program = ptrs[1];
    char** argv = ptrs + 2;
    char** envp = ptrs + 2 + req.args + 1;
    // argv and envp each end in a null pointer: shift the environment up by one.
    memmove(envp, ptrs + 2 + req.args, req.envs * sizeof(char*));
    argv[req.args] = nullptr;
    envp[req.envs] = nullptr;
    pid_t pid = fork();
    if (pid == 0) {
      close(sock);
      Command c;
      c.steward = self;
      c.cwd = cwd[0] != '\0' ? cwd : nullptr;
      c.program = program;
      c.argv = argv;
      c.envp = envp;
      c.out_fd = fds[0];
      c.err_fd = fds[1];
      c.status_fd = fds[2];
      RunShim(c);
    }
    int err = errno;
    close_fds();
    free(body);
    free(ptrs);
    int pidfd = pid > 0 ? static_cast<int>(syscall(SYS_pidfd_open, pid, 0)) : -1;
    if (pid > 0 && pidfd < 0) {
      // Not reaped yet, so the pid is still ours; without a pidfd steward cannot wait for it.
      kill(pid, SIGKILL);
      pid = -1;
      err = errno;
    }
    bool sent = Reply(sock, pid, pid > 0 ? 0 : err, pidfd);
    if (pidfd >= 0) close(pidfd);
    if (!sent) return 0;
  }
}

}  // namespace

int main(int argc, char** argv) {
  if (argc == 2 && strcmp(argv[1], "--serve") == 0) return Serve(kServeFd);
  if (argc < 5) {
    static const char usage[] =
        "steward-shim: started by steward for each pipeline step "
        "(steward-shim STEWARD_PID CWD PROGRAM ARGV0 [ARG...], or steward-shim --serve); "
        "not meant to be run by hand\n";
    ssize_t ignored = write(2, usage, sizeof usage - 1);
    (void)ignored;
    return 2;
  }
  Command c;
  c.steward = static_cast<pid_t>(atol(argv[1]));
  c.cwd = argv[2][0] != '\0' ? argv[2] : nullptr;
  c.program = argv[3];
  c.argv = argv + 4;
  c.envp = environ;
  c.out_fd = kOutFd;
  c.err_fd = kErrFd;
  c.status_fd = kStatusFd;
  RunShim(c);
}
