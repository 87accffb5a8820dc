// The runner's view of git (libgit2): which commit a run builds, and the working copy it builds
// in — a local clone checked out at that commit, so uncommitted edits and other runs cannot
// change what a run sees. A source that is not a repository is copied instead.
#include <git2.h>

#include <filesystem>
#include <memory>
#include <string>
#include <system_error>

#include "pipeline/runner.h"
#include "pipeline/runner_internal.h"

namespace steward::pipeline {
namespace {

namespace fs = std::filesystem;

void InitLibgit2() {
  static const int once = git_libgit2_init();
  (void)once;
}

std::string GitError(const std::string& what) {
  const git_error* e = git_error_last();
  return what + ": " + (e != nullptr && e->message != nullptr ? e->message : "unknown error");
}

// Owners of libgit2 objects, freed in reverse order of creation.
struct RepoDeleter {
  void operator()(git_repository* r) const { git_repository_free(r); }
};
struct ObjectDeleter {
  void operator()(git_object* o) const { git_object_free(o); }
};
struct ReferenceDeleter {
  void operator()(git_reference* r) const { git_reference_free(r); }
};
using RepoPtr = std::unique_ptr<git_repository, RepoDeleter>;
using ObjectPtr = std::unique_ptr<git_object, ObjectDeleter>;
using ReferencePtr = std::unique_ptr<git_reference, ReferenceDeleter>;

StatusOr<RepoPtr> OpenRepository(const std::string& dir) {
  InitLibgit2();
  git_repository* repo = nullptr;
  int rc = git_repository_open_ext(&repo, dir.c_str(), 0, nullptr);
  if (rc == GIT_ENOTFOUND) return NotFound(dir + " is not inside a git repository");
  if (rc != 0) return IOError(GitError("open git repository at " + dir));
  return RepoPtr(repo);
}

std::string FirstLine(const char* message) {
  std::string m = message != nullptr ? message : "";
  size_t nl = m.find('\n');
  return nl == std::string::npos ? m : m.substr(0, nl);
}

// Copies the tree below `from` into `to`, leaving out .git and .steward (at any depth) and
// keeping symlinks as links.
Status CopyTree(const fs::path& from, const fs::path& to) {
  std::error_code ec;
  fs::create_directories(to, ec);
  if (ec) return IOError("create " + to.string() + ": " + ec.message());
  for (fs::directory_iterator it(from, ec), end; !ec && it != end; it.increment(ec)) {
    const fs::path name = it->path().filename();
    if (name == ".git" || name == ".steward") continue;
    const fs::path target = to / name;
    const fs::file_status st = it->symlink_status(ec);
    if (ec) break;
    if (fs::is_symlink(st)) {
      fs::copy_symlink(it->path(), target, ec);
    } else if (fs::is_directory(st)) {
      RETURN_IF_ERROR(CopyTree(it->path(), target));
    } else if (fs::is_regular_file(st)) {
      fs::copy_file(it->path(), target, fs::copy_options::overwrite_existing, ec);
    }  // sockets, fifos and devices are not part of a source tree
    if (ec) return IOError("copy " + it->path().string() + ": " + ec.message());
  }
  if (ec) return IOError("read " + from.string() + ": " + ec.message());
  return Status::OK();
}

Status CloneAt(const std::string& source, const std::string& commit, const std::string& dest) {
  ASSIGN_OR_RETURN(RepoPtr src, OpenRepository(source));
  // Clone from the repository itself (its .git), which libgit2 reads through the local
  // transport: no network, and objects are copied, not shared, so the source can change freely.
  const char* git_dir = git_repository_path(src.get());
  git_clone_options opts;
  git_clone_options_init(&opts, GIT_CLONE_OPTIONS_VERSION);
  opts.checkout_opts.checkout_strategy = GIT_CHECKOUT_NONE;
  git_repository* raw = nullptr;
  if (git_clone(&raw, git_dir, dest.c_str(), &opts) != 0)
    return IOError(GitError("clone " + std::string(git_dir) + " into " + dest));
  RepoPtr repo(raw);
  git_oid oid;
  if (git_oid_fromstr(&oid, commit.c_str()) != 0)
    return InvalidArgument("'" + commit + "' is not a full commit sha");
  git_object* obj = nullptr;
  if (git_object_lookup(&obj, repo.get(), &oid, GIT_OBJECT_COMMIT) != 0)
    return NotFound(GitError("commit " + commit + " is not in the clone of " + source +
                             " (it must be reachable from a branch or tag)"));
  ObjectPtr target(obj);
  git_checkout_options co;
  git_checkout_options_init(&co, GIT_CHECKOUT_OPTIONS_VERSION);
  co.checkout_strategy = GIT_CHECKOUT_FORCE;
  if (git_checkout_tree(repo.get(), target.get(), &co) != 0)
    return IOError(GitError("check out " + commit + " in " + dest));
  if (git_repository_set_head_detached(repo.get(), &oid) != 0)
    return IOError(GitError("detach HEAD at " + commit + " in " + dest));
  return Status::OK();
}

}  // namespace

StatusOr<CommitInfo> ReadCommit(const std::string& dir, const std::string& rev) {
  ASSIGN_OR_RETURN(RepoPtr repo, OpenRepository(dir));
  git_object* obj = nullptr;
  if (git_revparse_single(&obj, repo.get(), rev.c_str()) != 0)
    return NotFound(GitError("no commit '" + rev + "' in the repository at " + dir));
  ObjectPtr object(obj);
  git_object* peeled = nullptr;
  if (git_object_peel(&peeled, object.get(), GIT_OBJECT_COMMIT) != 0)
    return InvalidArgument(GitError("'" + rev + "' in " + dir + " is not a commit"));
  ObjectPtr commit_obj(peeled);
  const git_commit* commit = reinterpret_cast<const git_commit*>(commit_obj.get());
  CommitInfo info;
  char hex[GIT_OID_HEXSZ + 1] = {};
  git_oid_tostr(hex, sizeof hex, git_commit_id(commit));
  info.sha = hex;
  info.message = FirstLine(git_commit_message(commit));
  info.time_ms = static_cast<int64_t>(git_commit_time(commit)) * 1000;
  // The branch is HEAD's when HEAD is a branch pointing at this commit.
  git_reference* head = nullptr;
  if (git_repository_head(&head, repo.get()) == 0) {
    ReferencePtr head_ref(head);
    const git_oid* head_oid = git_reference_target(head);
    if (git_reference_is_branch(head) && head_oid != nullptr &&
        git_oid_equal(head_oid, git_commit_id(commit))) {
      info.branch = git_reference_shorthand(head);
    }
  }
  return info;
}

namespace internal {

Status PrepareWorkingCopy(const std::string& source, const std::string& commit,
                          const std::string& dest) {
  std::error_code ec;
  if (fs::exists(dest, ec)) fs::remove_all(dest, ec);
  if (!commit.empty()) return CloneAt(source, commit, dest);
  return CopyTree(source, dest);
}

}  // namespace internal
}  // namespace steward::pipeline
