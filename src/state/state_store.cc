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

namespace steward::state {
namespace {
Status NotSupported(const char* what) {
  return Status(StatusCode::kFailedPrecondition,
                std::string(what) + ": not supported by this state store");
}
}  // namespace

StatusOr<int64_t> StateStore::CreatePipelineRun(const PipelineRunRecord&) {
  return NotSupported("pipeline runs");
}
Status StateStore::UpdatePipelineRun(const PipelineRunRecord&) { return NotSupported("pipeline runs"); }
StatusOr<PipelineRunRecord> StateStore::GetPipelineRun(int64_t) { return NotSupported("pipeline runs"); }
StatusOr<std::vector<PipelineRunRecord>> StateStore::ListPipelineRuns(const std::string&, int) {
  return NotSupported("pipeline runs");
}
Status StateStore::PutPipelineJob(const PipelineJobRecord&) { return NotSupported("pipeline runs"); }
StatusOr<std::vector<PipelineJobRecord>> StateStore::ListPipelineJobs(int64_t) {
  return NotSupported("pipeline runs");
}
StatusOr<int> StateStore::MarkInterruptedPipelineRuns() { return NotSupported("pipeline runs"); }
StatusOr<int64_t> StateStore::CreateRelease(const ReleaseRecord&) { return NotSupported("releases"); }
Status StateStore::UpdateRelease(const ReleaseRecord&) { return NotSupported("releases"); }
StatusOr<ReleaseRecord> StateStore::GetRelease(const std::string&, int64_t) {
  return NotSupported("releases");
}
StatusOr<std::vector<ReleaseRecord>> StateStore::ListReleases(const std::string&, int) {
  return NotSupported("releases");
}
Status StateStore::PruneReleases(const std::string&, int) { return NotSupported("releases"); }
StatusOr<int64_t> StateStore::CreateDeploy(const DeployRecord&) { return NotSupported("deploys"); }
Status StateStore::UpdateDeploy(const DeployRecord&) { return NotSupported("deploys"); }
StatusOr<std::vector<DeployRecord>> StateStore::ListDeploys(const std::string&, int64_t, int) {
  return NotSupported("deploys");
}

}  // namespace steward::state
