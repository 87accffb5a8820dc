// What starts a pipeline besides a person: pushes seen by polling a git repository, webhook
// deliveries from GitHub or GitLab, and cron schedules (pipeline/cron.h). These are the pieces;
// the daemon's PipelineService (src/server/pipelines.h) wires them to runs.
// Thread safety: free functions are pure; a GitWatcher is used by one thread at a time.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>

#include "base/status.h"

namespace steward::pipeline {

// A push, from a webhook payload or a repository poll.
struct PushEvent {
  std::string provider;    // "github", "gitlab", "git" (poll)
  std::string ref;         // "refs/heads/main"
  std::string branch;      // "main"; empty for a tag push
  std::string commit;      // the new head (full sha)
  std::string repository;  // the repository's name or URL as the sender gives it
  std::string pusher;
  std::string message;     // first line of the head commit's message, when the payload has it
  std::string delivery;    // X-GitHub-Delivery / X-Gitlab-Event-UUID, for the run record
};

// Headers are matched case-insensitively. GitHub: X-Hub-Signature-256 = "sha256=" + hex
// HMAC-SHA256(secret, body). GitLab: X-Gitlab-Token equals the secret. Compared in constant
// time. kPermissionDenied-like failures come back as kFailedPrecondition with a message that
// never contains the secret or the expected signature.
Status VerifyWebhook(const std::map<std::string, std::string>& headers, std::string_view body,
                     std::string_view secret);

// The push in a GitHub (X-GitHub-Event: push) or GitLab (X-Gitlab-Event: Push Hook) delivery;
// nullopt for other events (ping, pull_request...), which are acknowledged and ignored.
// A push payload that is not JSON or lacks ref/after is kInvalidArgument naming the field.
StatusOr<std::optional<PushEvent>> ParsePushPayload(
    const std::map<std::string, std::string>& headers, std::string_view body);

// Whether a repository is a local path (read in place) rather than a URL or an scp-style
// "user@host:path" (fetched into a mirror). The watcher and the daemon decide alike.
bool IsLocalRepository(const std::string& repository);

// Watches one branch of a repository for new commits. A local path is read directly; anything
// else (file://, https://, ssh:// URLs) is fetched with libgit2 into a bare mirror kept under
// mirror_dir and read from there.
class GitWatcher {
 public:
  GitWatcher(std::string repository, std::string mirror_dir);
  ~GitWatcher();
  // The branch's current head commit (full sha); fetches first for a remote.
  StatusOr<std::string> Head(const std::string& branch);
  // A new head since the last call that returned one (nullopt: unchanged). The first call only
  // records the head, so a watcher does not build what was there before it started.
  StatusOr<std::optional<std::string>> Poll(const std::string& branch);
  const std::string& repository() const { return repository_; }

 private:
  std::string repository_;
  std::string mirror_dir_;
  std::map<std::string, std::string> last_;  // branch -> last head seen
};

}  // namespace steward::pipeline
