// Running one step's command: a child in its own session and process group, optionally inside
// a bubblewrap sandbox, with a given environment and working directory, its stdout and stderr
// read line by line as they come, a deadline, and cancellation that kills the whole process
// tree — also descendants that left the group (found through /proc by parentage, and held by
// making each step's supervisor a child subreaper), so no process outlives its step.
//
// Thread safety: Run blocks the calling thread; many Runs may go on at once on different
// threads. CancelToken is thread-safe.
#pragma once

#include <atomic>
#include <chrono>
#include <functional>
#include <map>
#include <string>
#include <vector>

#include "base/status.h"

namespace steward::pipeline {

// Set from any thread (Ctrl-C handler thread, API) to stop every Run watching it.
class CancelToken {
 public:
  void Cancel() { cancelled_.store(true); }
  bool cancelled() const { return cancelled_.load(); }

 private:
  std::atomic<bool> cancelled_{false};
};

struct SandboxOptions {
  bool enabled = false;
  bool network = false;                  // share the host's network
  std::vector<std::string> writable;     // paths bound read-write (the working copy, output files)
  std::string bwrap = "bwrap";           // the program
};

// True when bubblewrap is installed and can create a sandbox here (checked once, cached).
bool SandboxAvailable();

struct ProcessSpec {
  std::vector<std::string> argv;               // argv[0] resolved through env PATH if no '/'
  std::map<std::string, std::string> env;      // the complete environment; nothing inherited
  std::string cwd;
  std::chrono::milliseconds timeout{0};        // 0: none
  std::chrono::milliseconds kill_grace{2000};  // SIGTERM to the tree, then SIGKILL after this
  SandboxOptions sandbox;
};

enum class ProcessEnd { kExited, kSignaled, kTimedOut, kCancelled, kFailedToStart };

struct ProcessResult {
  ProcessEnd end = ProcessEnd::kExited;
  int exit_code = 0;  // exit status, or the signal number for kSignaled
  std::chrono::milliseconds took{0};
  std::string error;  // kFailedToStart: why (exec error)
  bool ok() const { return end == ProcessEnd::kExited && exit_code == 0; }
  std::string Describe() const;  // "exit 0", "exit 2", "killed by SIGSEGV", "timed out after 5s"
};

// Receives each output line without its newline; is_stderr tells the stream. A last line
// without a newline is delivered at the end. Called from the Run thread.
using LineFn = std::function<void(std::string_view line, bool is_stderr)>;

ProcessResult RunProcess(const ProcessSpec& spec, const LineFn& on_line,
                         const CancelToken* cancel);

// Makes this process a child subreaper (PR_SET_CHILD_SUBREAPER) so orphaned grandchildren of
// steps are re-parented here and can be found and killed; reaps them. Call once at start.
void BecomeSubreaper();

// The step supervisor program RunProcess starts for each step (pipeline/shim.h): steward-shim
// next to the running executable, or "" when it is not there — each step then runs below a
// fork() of this process instead, the same code at a cost that grows with the process's size.
std::string ShimProgram();

// For tests: use `path` as the shim program from now on ("": the fork fallback); a shim server
// that was started or had stopped answering is forgotten, so the next step starts a new one.
void SetShimProgramForTesting(const std::string& path);

// Kills a process and every descendant (by walking /proc), SIGTERM then SIGKILL after grace.
void KillTree(int pid, std::chrono::milliseconds grace);

}  // namespace steward::pipeline
