#include "pipeline/job_log.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <set>
#include <vector>

#include "base/file.h"

namespace steward::pipeline {
namespace {

constexpr std::string_view kRunLog = "/jobs.log";

// Splits "<file>#<job>" (the '#' after the last '/'); job "" for a per-job file.
std::pair<std::string, std::string> SplitLogPath(const std::string& log_path) {
  size_t slash = log_path.rfind('/');
  size_t hash = log_path.find('#', slash == std::string::npos ? 0 : slash);
  if (hash == std::string::npos) return {log_path, ""};
  return {log_path.substr(0, hash), log_path.substr(hash + 1)};
}

// Every job's lines of a run file, prefix removed.
std::map<std::string, std::string> SplitRunLog(const std::string& text) {
  std::map<std::string, std::string> out;
  size_t start = 0;
  while (start < text.size()) {
    size_t nl = text.find('\n', start);
    if (nl == std::string::npos) nl = text.size();  // a line cut by a crash
    std::string_view line(text.data() + start, nl - start);
    size_t tab = line.find('\t');
    if (tab != std::string_view::npos) {
      std::string& log = out[std::string(line.substr(0, tab))];
      log.append(line.substr(tab + 1));
      log.push_back('\n');
    }
    start = nl + 1;
  }
  return out;
}

}  // namespace

RunLogFile::~RunLogFile() {
  if (fd_ >= 0) close(fd_);
}

Status RunLogFile::Open(const std::string& run_dir) {
  const std::string path = run_dir + std::string(kRunLog);
  int fd = open(path.c_str(), O_RDWR | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
  if (fd < 0) return ErrnoError("open " + path, errno);
  // A run killed mid-line (re-run into the same run directory never happens, but a crash of
  // this process between two writes can) leaves a line without its newline: end it, so the
  // next record starts a line of its own.
  struct stat st {};
  char last = '\n';
  if (fstat(fd, &st) == 0 && st.st_size > 0 && pread(fd, &last, 1, st.st_size - 1) == 1 &&
      last != '\n') {
    ssize_t ignored = write(fd, "\n", 1);
    (void)ignored;
  }
  std::lock_guard<std::mutex> lock(mu_);
  if (fd_ >= 0) close(fd_);
  fd_ = fd;
  return Status::OK();
}

void RunLogFile::Append(std::string_view job, std::string_view line) {
  std::string record;
  record.reserve(job.size() + line.size() + 2);
  record.append(job);
  record.push_back('\t');
  for (char c : line) record.push_back(c == '\n' ? ' ' : c);
  record.push_back('\n');
  std::lock_guard<std::mutex> lock(mu_);
  if (fd_ < 0) return;
  for (size_t done = 0; done < record.size();) {
    ssize_t n = write(fd_, record.data() + done, record.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return;
    done += static_cast<size_t>(n);
  }
}

std::string RunLogFile::JobLogPath(const std::string& run_dir, const std::string& job) {
  return run_dir + std::string(kRunLog) + "#" + job;
}

std::string ReadJobLog(const std::string& log_path) {
  return ReadJobLogs({log_path})[log_path];
}

std::map<std::string, std::string> ReadJobLogs(const std::vector<std::string>& log_paths) {
  std::map<std::string, std::string> out;
  std::map<std::string, std::map<std::string, std::string>> runs;  // run file → job → text
  for (const std::string& path : log_paths) {
    auto [file, job] = SplitLogPath(path);
    if (job.empty()) {
      out[path] = ReadWholeFileOrEmpty(file);
      continue;
    }
    auto it = runs.find(file);
    if (it == runs.end()) it = runs.emplace(file, SplitRunLog(ReadWholeFileOrEmpty(file))).first;
    out[path] = it->second[job];
  }
  return out;
}

}  // namespace steward::pipeline
