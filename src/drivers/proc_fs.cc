#include "drivers/proc_fs.h"

#include <dirent.h>
#include <fcntl.h>
#include <signal.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <memory>
#include <sstream>

namespace steward::drivers {
namespace {

// Reads a whole /proc file. ENOENT/ESRCH mean the process is gone.
StatusOr<std::string> ReadProcFile(const std::string& path) {
  int fd = open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    if (errno == ENOENT || errno == ESRCH) return NotFound(path);
    return ErrnoError("open " + path, errno);
  }
  std::string out;
  char buf[4096];
  for (;;) {
    ssize_t n = read(fd, buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      int err = errno;
      close(fd);
      if (err == ESRCH) return NotFound(path);
      return ErrnoError("read " + path, err);
    }
    if (n == 0) break;
    out.append(buf, static_cast<size_t>(n));
  }
  close(fd);
  return out;
}

std::string ProcPath(int pid, const char* file) {
  return "/proc/" + std::to_string(pid) + "/" + file;
}

}  // namespace

StatusOr<ProcStat> ParseProcStat(std::string_view text) {
  size_t paren = text.rfind(')');
  if (paren == std::string_view::npos) return Corruption("proc stat: no ')'");
  std::istringstream in{std::string(text.substr(paren + 1))};
  // Fields from 3 (state) on; starttime is field 22, i.e. the 20th token here.
  std::vector<std::string> fields;
  std::string token;
  while (fields.size() < 20 && in >> token) fields.push_back(token);
  if (fields.size() < 20 || fields[0].size() != 1) return Corruption("proc stat: short line");
  ProcStat st;
  st.state = fields[0][0];
  st.ppid = std::atoi(fields[1].c_str());
  st.pgrp = std::atoi(fields[2].c_str());
  st.start_ticks = std::strtoll(fields[19].c_str(), nullptr, 10);
  return st;
}

StatusOr<ProcStat> ReadProcStat(int pid) {
  ASSIGN_OR_RETURN(std::string text, ReadProcFile(ProcPath(pid, "stat")));
  return ParseProcStat(text);
}

std::map<std::string, std::string> ParseEnviron(std::string_view bytes) {
  std::map<std::string, std::string> env;
  while (!bytes.empty()) {
    size_t end = bytes.find('\0');
    std::string_view entry = bytes.substr(0, end);
    size_t eq = entry.find('=');
    if (eq != std::string_view::npos && eq > 0) {
      env.emplace(std::string(entry.substr(0, eq)), std::string(entry.substr(eq + 1)));
    }
    if (end == std::string_view::npos) break;
    bytes.remove_prefix(end + 1);
  }
  return env;
}

StatusOr<std::map<std::string, std::string>> ReadEnviron(int pid) {
  ASSIGN_OR_RETURN(std::string bytes, ReadProcFile(ProcPath(pid, "environ")));
  return ParseEnviron(bytes);
}

StatusOr<int64_t> ReadRssBytes(int pid) {
  ASSIGN_OR_RETURN(std::string text, ReadProcFile(ProcPath(pid, "statm")));
  std::istringstream in(text);
  int64_t size = 0, resident = 0;
  if (!(in >> size >> resident)) return Corruption("proc statm: short line");
  return resident * static_cast<int64_t>(sysconf(_SC_PAGESIZE));
}

std::vector<int> ListPids() {
  std::vector<int> pids;
  std::unique_ptr<DIR, int (*)(DIR*)> dir(opendir("/proc"), closedir);
  if (!dir) return pids;
  while (dirent* e = readdir(dir.get())) {
    char* end = nullptr;
    long pid = std::strtol(e->d_name, &end, 10);
    if (*end == '\0' && pid > 0) pids.push_back(static_cast<int>(pid));
  }
  return pids;
}

bool GroupHasLiveMembers(int pgid) {
  if (kill(-pgid, 0) != 0 && errno == ESRCH) return false;
  for (int pid : ListPids()) {
    StatusOr<ProcStat> st = ReadProcStat(pid);
    if (st.ok() && st->pgrp == pgid && st->state != 'Z' && st->state != 'X') return true;
  }
  return false;
}

}  // namespace steward::drivers
