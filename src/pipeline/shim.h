// The step supervisor ("shim"): the process between steward and a step's command. It makes
// itself a child subreaper, starts the command in a session of its own, reports the command's
// wait status, and reaps everything below it until nothing is left — so "every process of the
// step" is exactly "every descendant of the shim" (see process.cc). When steward dies it gets
// its parent-death signal and kills everything below it before it exits: a step never
// outlives the steward that ran it.
//
// The shim runs either as its own small program, `steward-shim` (tools/shim/main.cc, started
// with posix_spawn: its cost does not grow with steward's size), or, when that program is not
// installed next to steward, in a fork() of steward. The code is the same; in the fork it runs
// in a copy of a multi-threaded process, so RunShim and everything it calls is
// async-signal-safe: system calls on prepared arrays, no allocation.
//
// The wire between steward and a shim: three descriptors (the command's stdout and stderr, the
// write end of the status pipe) and, for steward-shim, its argv:
//   steward-shim STEWARD_PID CWD PROGRAM ARGV0 ARGV1 ...   (CWD "" keeps the shim's)
// with the command's complete environment as its own, and the descriptors as 1, 2 and 3.
//
// Or, once per steward thread that runs steps, as a long-lived supervisor of its steps:
//   steward-shim --worker STEWARD_PID   (a stream socket to steward on descriptor 3)
// Each request is a ServeRequest header carrying the three descriptors (SCM_RIGHTS), then
// `length` bytes: CWD, PROGRAM, the `args` ARGV strings and the `envs` environment strings,
// each ending in '\0'. There is no reply: the step's ShimReport comes on its status pipe. The
// next request is read only once nothing of the step before is left. Starting a program per
// step (exec, the C library's start-up, which probes the CPU through cpuid: traps on a VM) and
// forking and tearing down a process per step were most of a no-op step's cost besides the
// command's own. The supervisor exits when steward's end of the socket closes (the thread
// ended, or steward died; its parent-death signal is the thread's end too).
#pragma once

#include <stdint.h>
#include <sys/types.h>

namespace steward::pipeline::shim {

// What goes wrong before the command runs, by where. The command's child reports it to the
// shim through a pipe of their own (which exec closes, so an empty read means the command
// runs); the shim reports it to steward in its one ShimReport. Steward thus learns of a start
// failure the way it learns of an end, without waiting for the exec of every step.
enum ChildStep : int { kStarted = -1, kShimSetup, kShimFork, kSetsid, kChdir, kDevNull, kDup, kExec };

struct ChildError {
  int step;
  int err;  // errno
};

// Written to the status pipe once the command has ended, or could not start.
struct ShimReport {
  int wait_status;
  bool tree_empty;         // nothing else of the step was alive: the shim exits at once
  int start_step = kStarted;  // a ChildStep when the command did not run
  int start_errno = 0;
};

// Descriptor numbers steward-shim receives its pipes on.
inline constexpr int kOutFd = 1, kErrFd = 2, kStatusFd = 3;

// The supervisor's socket (steward-shim --worker) and its requests.
inline constexpr int kServeFd = 3;
inline constexpr uint32_t kServeMagic = 0x53484d31;  // "SHM1"
inline constexpr uint32_t kServeMaxLength = 64u << 20;

struct ServeRequest {
  uint32_t magic;
  uint32_t length;  // bytes of strings that follow
  uint32_t args;    // how many of them are ARGV (after CWD and PROGRAM)
  uint32_t envs;    // how many are the environment (after ARGV)
};

struct Command {
  const char* program = nullptr;  // a path: execve does no PATH search
  char* const* argv = nullptr;
  char* const* envp = nullptr;
  const char* cwd = nullptr;  // nullptr: stay
  pid_t steward = 0;          // the expected parent; the shim exits if it is already gone
  int out_fd = -1, err_fd = -1, status_fd = -1;
};

// Becomes the shim for `c` (call in a new child process, every signal blocked or not); never
// returns. Async-signal-safe.
[[noreturn]] void RunShim(const Command& c);

// The two halves of RunShim, for a supervisor that runs steps one after another
// (steward-shim --worker). BecomeSupervisor: every signal blocked, child subreaper, the
// parent-death signal, a session of its own; returns 0, an errno, or -1 when `steward` is
// not the parent (it died). SuperviseStep: runs c's command, reports on c.status_fd, closes
// c's descriptors and returns once nothing of the step is left — or never, when steward dies
// meanwhile (it kills the tree and exits). Every other descriptor from 3 up except keep_fd is
// closed.
int BecomeSupervisor(pid_t steward);
void SuperviseStep(const Command& c, int keep_fd);

}  // namespace steward::pipeline::shim
