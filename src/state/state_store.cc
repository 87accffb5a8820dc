#include "state/state_store.h"

#include <pwd.h>
#include <unistd.h>

#include <climits>
#include <vector>

namespace steward::state {

std::string LockHolder::ToString() const {
  // pid 0: the holder has taken the flock but not yet written its record.
  if (pid <= 0) return "another process (not yet identified)";
  return "pid " + std::to_string(pid) + " on host " + (host.empty() ? "?" : host) + " (" + command +
         ") since " + FormatRfc3339(FromUnixMillis(since_ms));
}

std::string CurrentUser() {
  uid_t uid = geteuid();
  long size = sysconf(_SC_GETPW_R_SIZE_MAX);
  std::vector<char> buf(size > 0 ? static_cast<size_t>(size) : 16384);
  passwd pw{};
  passwd* result = nullptr;
  if (getpwuid_r(uid, &pw, buf.data(), buf.size(), &result) == 0 && result != nullptr &&
      result->pw_name != nullptr && result->pw_name[0] != '\0') {
    return result->pw_name;
  }
  return std::to_string(uid);
}

std::string CurrentHost() {
  char name[HOST_NAME_MAX + 1] = {};
  if (gethostname(name, sizeof name - 1) != 0 || name[0] == '\0') return "localhost";
  return name;
}

bool IsIncidentStatus(const std::string& status) {
  return status == "open" || status == "acknowledged" || status == "resolved";
}

bool IsIncidentEventKind(const std::string& kind) {
  static const char* kKinds[] = {"fired",       "joined",   "notified", "acknowledged",
                                 "remediation", "resolved", "note",     "reopened"};
  for (const char* k : kKinds)
    if (kind == k) return true;
  return false;
}

}  // namespace steward::state

