// steward-shim: the supervisor of one pipeline step, started by steward for each step (see
// src/pipeline/shim.h for what it does and the argv and descriptors it takes). A program of its
// own so that starting it costs a posix_spawn and the exec of a small static binary, not a
// fork() of steward. Not meant to be run by hand.
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "pipeline/shim.h"

extern char** environ;

int main(int argc, char** argv) {
  using namespace steward::pipeline::shim;
  if (argc < 5) {
    static const char usage[] =
        "steward-shim: started by steward for each pipeline step "
        "(steward-shim STEWARD_PID CWD PROGRAM ARGV0 [ARG...]); not meant to be run by hand\n";
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
  c.start_error_fd = kStartErrorFd;
  c.status_fd = kStatusFd;
  RunShim(c);
}
