#include "pipeline/triggers.h"

#include <git2.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include <filesystem>

#include <nlohmann/json.hpp>

#include "base/sha256.h"

namespace steward::pipeline {
namespace {

std::string Lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

std::optional<std::string> Header(const std::map<std::string, std::string>& headers,
                                  std::string_view name) {
  std::string want = Lower(name);
  for (const auto& [k, v] : headers) {
    if (Lower(k) == want) return v;
  }
  return std::nullopt;
}

bool ConstantTimeEqual(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  return CRYPTO_memcmp(a.data(), b.data(), a.size()) == 0;
}

std::string FirstLine(const std::string& s) { return s.substr(0, s.find('\n')); }

std::string GitError(const char* what) {
  const git_error* e = git_error_last();
  return std::string(what) + ": " + (e != nullptr && e->message != nullptr ? e->message : "unknown error");
}

// libgit2 needs one init per process; it is reference counted, so this never shuts it down.
void InitGit() {
  static const int once = git_libgit2_init();
  (void)once;
}


}  // namespace

Status VerifyWebhook(const std::map<std::string, std::string>& headers, std::string_view body,
                     std::string_view secret) {
  if (secret.empty()) {
    return Status(StatusCode::kFailedPrecondition,
                  "webhook secret is empty; set the variable the pipeline's webhook names");
  }
  if (auto sig = Header(headers, "X-Hub-Signature-256")) {
    if (sig->rfind("sha256=", 0) != 0) {
      return Status(StatusCode::kFailedPrecondition,
                    "X-Hub-Signature-256 must start with 'sha256='");
    }
    unsigned char mac[EVP_MAX_MD_SIZE];
    unsigned int len = 0;
    if (HMAC(EVP_sha256(), secret.data(), static_cast<int>(secret.size()),
             reinterpret_cast<const unsigned char*>(body.data()), body.size(), mac,
             &len) == nullptr) {
      return Status(StatusCode::kInternal, "HMAC-SHA256 failed");
    }
    if (!ConstantTimeEqual(Lower(sig->substr(7)), HexEncode(mac, len))) {
      return Status(StatusCode::kFailedPrecondition,
                    "X-Hub-Signature-256 does not match the body signed with the secret");
    }
    return Status::OK();
  }
  if (auto token = Header(headers, "X-Gitlab-Token")) {
    if (!ConstantTimeEqual(*token, secret)) {
      return Status(StatusCode::kFailedPrecondition, "X-Gitlab-Token does not match the secret");
    }
    return Status::OK();
  }
  return Status(StatusCode::kFailedPrecondition,
                "delivery is not signed: expected X-Hub-Signature-256 (GitHub) or "
                "X-Gitlab-Token (GitLab)");
}

StatusOr<std::optional<PushEvent>> ParsePushPayload(
    const std::map<std::string, std::string>& headers, std::string_view body) {
  PushEvent ev;
  if (auto gh = Header(headers, "X-GitHub-Event")) {
    if (*gh != "push") return std::optional<PushEvent>();
    ev.provider = "github";
    ev.delivery = Header(headers, "X-GitHub-Delivery").value_or("");
  } else if (auto gl = Header(headers, "X-Gitlab-Event")) {
    if (*gl != "Push Hook") return std::optional<PushEvent>();
    ev.provider = "gitlab";
    ev.delivery = Header(headers, "X-Gitlab-Event-UUID").value_or("");
  } else {
    return InvalidArgument(
        "unknown webhook sender: expected an X-GitHub-Event or X-Gitlab-Event header");
  }
  auto j = nlohmann::json::parse(body, nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded() || !j.is_object()) {
    return InvalidArgument(ev.provider + " push payload is not a JSON object");
  }
  auto str = [&](const nlohmann::json& o, const char* key) -> std::string {
    auto it = o.find(key);
    return it != o.end() && it->is_string() ? it->get<std::string>() : std::string();
  };
  ev.ref = str(j, "ref");
  ev.commit = str(j, "after");
  if (ev.ref.empty()) return InvalidArgument(ev.provider + " push payload: missing 'ref'");
  if (ev.commit.empty()) return InvalidArgument(ev.provider + " push payload: missing 'after'");
  if (ev.ref.rfind("refs/heads/", 0) == 0) ev.branch = ev.ref.substr(11);
  if (ev.provider == "github") {
    if (auto r = j.find("repository"); r != j.end() && r->is_object()) {
      ev.repository = str(*r, "full_name");
    }
    if (auto p = j.find("pusher"); p != j.end() && p->is_object()) ev.pusher = str(*p, "name");
    if (auto h = j.find("head_commit"); h != j.end() && h->is_object()) {
      ev.message = FirstLine(str(*h, "message"));
    }
  } else {
    if (auto r = j.find("project"); r != j.end() && r->is_object()) {
      ev.repository = str(*r, "path_with_namespace");
    }
    ev.pusher = str(j, "user_username");
    if (auto cs = j.find("commits"); cs != j.end() && cs->is_array()) {
      for (const auto& c : *cs) {
        if (c.is_object() && str(c, "id") == ev.commit) ev.message = FirstLine(str(c, "message"));
      }
    }
  }
  return std::optional<PushEvent>(ev);
}

bool IsLocalRepository(const std::string& repo) {
  return repo.find("://") == std::string::npos && repo.find('@') == std::string::npos;
}

GitWatcher::GitWatcher(std::string repository, std::string mirror_dir)
    : repository_(std::move(repository)), mirror_dir_(std::move(mirror_dir)) {
  InitGit();
}

GitWatcher::~GitWatcher() = default;

StatusOr<std::string> GitWatcher::Head(const std::string& branch) {
  git_repository* repo = nullptr;
  std::string ref_name = "refs/heads/" + branch;
  if (IsLocalRepository(repository_)) {
    if (git_repository_open_ext(&repo, repository_.c_str(), 0, nullptr) != 0) {
      return Status(StatusCode::kNotFound, GitError(("open repository " + repository_).c_str()));
    }
  } else {
    std::error_code ec;
    std::filesystem::create_directories(mirror_dir_, ec);
    if (git_repository_open_bare(&repo, mirror_dir_.c_str()) != 0) {
      if (git_repository_init(&repo, mirror_dir_.c_str(), /*is_bare=*/1) != 0) {
        return Status(StatusCode::kIOError, GitError(("create mirror " + mirror_dir_).c_str()));
      }
    }
    git_remote* remote = nullptr;
    if (git_remote_create_anonymous(&remote, repo, repository_.c_str()) != 0) {
      std::string e = GitError(("remote " + repository_).c_str());
      git_repository_free(repo);
      return Status(StatusCode::kInvalidArgument, e);
    }
    std::string spec = "+refs/heads/" + branch + ":refs/heads/" + branch;
    char* specs[] = {spec.data()};
    git_strarray refspecs = {specs, 1};
    git_fetch_options opts;
    git_fetch_options_init(&opts, GIT_FETCH_OPTIONS_VERSION);
    int rc = git_remote_fetch(remote, &refspecs, &opts, nullptr);
    git_remote_free(remote);
    if (rc != 0) {
      std::string e = GitError(("fetch " + branch + " from " + repository_).c_str());
      git_repository_free(repo);
      return Status(StatusCode::kUnavailable, e);
    }
  }
  git_oid oid;
  int rc = git_reference_name_to_id(&oid, repo, ref_name.c_str());
  git_repository_free(repo);
  if (rc != 0) {
    return Status(StatusCode::kNotFound,
                  "branch '" + branch + "' not found in " + repository_);
  }
  char hex[GIT_OID_HEXSZ + 1];
  git_oid_tostr(hex, sizeof hex, &oid);
  return std::string(hex);
}

StatusOr<std::optional<std::string>> GitWatcher::Poll(const std::string& branch) {
  auto head = Head(branch);
  if (!head.ok()) return head.status();
  auto it = last_.find(branch);
  if (it == last_.end()) {
    last_[branch] = *head;
    return std::optional<std::string>();
  }
  if (it->second == *head) return std::optional<std::string>();
  it->second = *head;
  return std::optional<std::string>(*head);
}

}  // namespace steward::pipeline
