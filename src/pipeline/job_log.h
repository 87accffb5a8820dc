// A run's job logs: one file per run, `<run dir>/jobs.log`, each line "<job>\t<line>", where
// <job> is the job instance's key made safe as a name (internal::SanitizeKey). A job's record
// names its log as "<run dir>/jobs.log#<job>". One file per run and not per job: creating a
// file per job was a quarter of the cost of a short job (on ext4 without a journal, creating a
// file checks each free inode it considers for a recent deletion), and a run of 1,000 jobs
// made 1,000 files. Runs recorded before this have a file per job, named without '#'; readers
// take both.
//
// Thread safety: RunLogFile::Append may be called from many threads at once.
#pragma once

#include <map>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

#include "base/status.h"

namespace steward::pipeline {

class RunLogFile {
 public:
  RunLogFile() = default;
  ~RunLogFile();
  RunLogFile(const RunLogFile&) = delete;
  RunLogFile& operator=(const RunLogFile&) = delete;

  // Creates or appends to <run_dir>/jobs.log.
  Status Open(const std::string& run_dir);
  // Appends one line of a job's log (a newline in `line` is written as a space: one record per
  // line). A failed write is dropped: a full disk must not stop the run.
  void Append(std::string_view job, std::string_view line);

  // What a job's record names as its log.
  static std::string JobLogPath(const std::string& run_dir, const std::string& job);

 private:
  std::mutex mu_;
  int fd_ = -1;
};

// The log of one job, from its record's log path (either form); "" when there is none.
std::string ReadJobLog(const std::string& log_path);

// The logs of many jobs at once (each run file read once): log path → text.
std::map<std::string, std::string> ReadJobLogs(const std::vector<std::string>& log_paths);

}  // namespace steward::pipeline
