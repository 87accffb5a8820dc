// steward-shim: the supervisor of one pipeline step, started by steward for each step, or a
// long-lived supervisor that runs one steward thread's steps one after another (see
// src/pipeline/shim.h for what it does and the argv, descriptors and requests it takes). A
// program of its own so that a step costs neither a fork() of steward nor, with --worker, a
// new process at all besides the command. Not meant to be run by hand.
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

// Runs steps one after another as they come on `sock` (steward-shim --worker): each request
// is read only once the step before has nothing left, so every descendant of this process
// belongs to the one step it is running. Returns when steward's end of the socket closes.
int Work(int sock, pid_t steward) {
  if (BecomeSupervisor(steward) != 0) return 3;
  for (;;) {
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
    if (n <= 0) return 0;  // steward (or its thread) is gone
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
    char** envp = ptrs + 2 + req.args + 1;
    // argv and envp each end in a null pointer: shift the environment up by one.
    memmove(envp, ptrs + 2 + req.args, req.envs * sizeof(char*));
    ptrs[2 + req.args] = nullptr;
    envp[req.envs] = nullptr;
    Command c;
    c.steward = steward;
    c.cwd = ptrs[0][0] != '\0' ? ptrs[0] : nullptr;
    c.program = ptrs[1];
    c.argv = ptrs + 2;
    c.envp = envp;
    c.out_fd = fds[0];
    c.err_fd = fds[1];
    c.status_fd = fds[2];
    SuperviseStep(c, sock);
    free(body);
    free(ptrs);
  }
}

}  // namespace

int main(int argc, char** argv) {
  if (argc == 3 && strcmp(argv[1], "--worker") == 0)
    return Work(kServeFd, static_cast<pid_t>(atol(argv[2])));
  if (argc < 5) {
    static const char usage[] =
        "steward-shim: started by steward for each pipeline step "
        "(steward-shim STEWARD_PID CWD PROGRAM ARGV0 [ARG...], or steward-shim --worker "
        "STEWARD_PID); "
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
