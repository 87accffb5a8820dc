// Spawning one replica process: fork + exec with everything prepared before the fork, so the
// child makes only async-signal-safe calls (the daemon is multi-threaded). The child gets its
// own session and process group (pgid == pid), dies with its parent (PR_SET_PDEATHSIG), writes
// stdout/stderr to append-mode log files, and reports any failure before exec through a
// close-on-exec pipe, so "no such program" is an error here rather than a dead child.
// Thread-safe: no shared state.
#pragma once

#include <string>
#include <vector>

#include "base/status.h"

namespace steward::drivers {

struct SpawnRequest {
  std::vector<std::string> argv;        // argv[0] as the user wrote it
  std::vector<std::string> env;         // complete environment, NAME=value
  std::string path_env;                 // the replica's PATH, searched first
  std::vector<std::string> extra_path;  // searched after path_env
  std::string working_dir;              // empty: inherit
  std::string stdout_path;
  std::string stderr_path;
};

// Finds the program the way execvp would, but through `path_env` then `extra_dirs`, and
// without touching the caller's environment. Names containing '/' are returned unchanged (a
// relative one resolves against the replica's working directory at exec time).
StatusOr<std::string> ResolveProgram(const std::string& name, const std::string& path_env,
                                     const std::vector<std::string>& extra_dirs);

// Starts the process; returns its pid once exec has succeeded. On failure the child has
// already been reaped, and the error names the step ("exec 'x': No such file or directory").
StatusOr<int> Spawn(const SpawnRequest& request);

}  // namespace steward::drivers
