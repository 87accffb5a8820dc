// Reading /proc: the process driver's view of what runs on this machine, independent of which
// Steward process started it. Every reader tolerates a process vanishing mid-read by returning
// NotFound, which callers treat as "gone". Pure functions over /proc; thread-safe.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "base/status.h"

namespace steward::drivers {

// The fields of /proc/<pid>/stat the driver needs.
struct ProcStat {
  char state = '?';  // R, S, D, Z, T, ...
  int ppid = 0;
  int pgrp = 0;
  int64_t start_ticks = 0;  // field 22: start time in clock ticks after boot
};

// Parses the text of /proc/<pid>/stat. comm (field 2) may contain spaces and parentheses, so
// the fields are read after the *last* ')'.
StatusOr<ProcStat> ParseProcStat(std::string_view text);
StatusOr<ProcStat> ReadProcStat(int pid);

// /proc/<pid>/environ as NAME -> value. Empty for zombies and kernel threads.
StatusOr<std::map<std::string, std::string>> ReadEnviron(int pid);
// Parses NUL-separated NAME=value entries.
std::map<std::string, std::string> ParseEnviron(std::string_view bytes);

// Resident set size from /proc/<pid>/statm times the page size.
StatusOr<int64_t> ReadRssBytes(int pid);

// The pids present in /proc now.
std::vector<int> ListPids();

// True while some member of process group `pgid` exists and is not a zombie. A zombie cannot
// run again, so a group of zombies (orphans nobody reaps on this machine) counts as gone.
bool GroupHasLiveMembers(int pgid);

}  // namespace steward::drivers
