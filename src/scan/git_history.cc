// ScanSecretsInGitHistory: the added lines of every commit, scanned with the tree scan's
// matcher. Commits are ordered oldest first (topological, then reversed) and split among
// workers, each with its own repository handle (libgit2 objects are not shared across
// threads); findings are then merged keeping each fingerprint's oldest commit, so the result
// does not depend on which worker ran first.
#include <git2.h>

#include <algorithm>
#include <atomic>
#include <cstring>
#include <map>
#include <memory>
#include <mutex>
#include <thread>
#include <unordered_map>
#include <utility>

#include "scan/git_history.h"
#include "scan/secret_rules.h"
#include "scan/secrets.h"

namespace steward::scan {

namespace {

namespace fs = std::filesystem;

std::string GitError(std::string_view what) {
  const git_error* e = git_error_last();
  return std::string(what) + ": " + (e && e->message ? e->message : "unknown libgit2 error");
}

template <typename T, void (*Free)(T*)>
struct GitDeleter {
  void operator()(T* p) const { Free(p); }
};
using Repo = std::unique_ptr<git_repository, GitDeleter<git_repository, git_repository_free>>;
using Walk = std::unique_ptr<git_revwalk, GitDeleter<git_revwalk, git_revwalk_free>>;
using Commit = std::unique_ptr<git_commit, GitDeleter<git_commit, git_commit_free>>;
using Tree = std::unique_ptr<git_tree, GitDeleter<git_tree, git_tree_free>>;
using Diff = std::unique_ptr<git_diff, GitDeleter<git_diff, git_diff_free>>;
using Patch = std::unique_ptr<git_patch, GitDeleter<git_patch, git_patch_free>>;

struct OidHash {
  size_t operator()(const git_oid& o) const {
    size_t h;
    std::memcpy(&h, o.id, sizeof h);
    return h;
  }
};
struct OidEq {
  bool operator()(const git_oid& a, const git_oid& b) const { return git_oid_equal(&a, &b); }
};

// Blobs already scanned, with the oldest commit (by index) that scanned each: a blob is
// scanned again only by an older commit, so the oldest one always gets to report.
class SeenBlobs {
 public:
  bool Claim(const git_oid& blob, size_t commit) {
    std::lock_guard<std::mutex> lock(mu_);
    auto [it, fresh] = seen_.emplace(blob, commit);
    if (fresh) return true;
    if (it->second <= commit) return false;
    it->second = commit;
    return true;
  }

 private:
  std::mutex mu_;
  std::unordered_map<git_oid, size_t, OidHash, OidEq> seen_;
};

struct Shared {
  const SecretScanOptions& options;
  const SecretAllowlist& allow;
  const SecretMatcher& matcher;
  const std::vector<git_oid>& commits;
  SeenBlobs seen;
  std::atomic<size_t> next{0};
};

struct Found {
  size_t commit;  // index in Shared::commits
  Finding finding;
};

struct WorkerResult {
  std::vector<Found> found;
  ScanResult counts;  // problems, files, bytes
};

bool PathAllowed(const Shared& s, std::string_view path) {
  return s.allow.AllowsPath(path) ||
         std::any_of(s.options.allow_paths.begin(), s.options.allow_paths.end(),
                     [&](const std::string& g) { return MatchPathGlob(g, path); });
}

// The added lines of one file in one commit as one buffer, and each buffer line's number in
// the new file.
struct AddedLines {
  std::string text;
  std::vector<int> line_numbers;
};

Status CollectAdded(git_patch* patch, AddedLines* out) {
  size_t hunks = git_patch_num_hunks(patch);
  for (size_t h = 0; h < hunks; ++h) {
    int lines = git_patch_num_lines_in_hunk(patch, h);
    for (int l = 0; l < lines; ++l) {
      const git_diff_line* line = nullptr;
      if (git_patch_get_line_in_hunk(&line, patch, h, static_cast<size_t>(l)) != 0) {
        return Internal(GitError("reading a diff line"));
      }
      if (line->origin != GIT_DIFF_LINE_ADDITION) continue;
      out->text.append(line->content, line->content_len);
      if (out->text.empty() || out->text.back() != '\n') out->text += '\n';
      out->line_numbers.push_back(line->new_lineno);
    }
  }
  return Status::OK();
}

void ScanDelta(Shared& s, git_diff* diff, size_t i, size_t index, const std::string& commit_id,
               SecretMatcher::Scratch* scratch, WorkerResult* out) {
  const git_diff_delta* d = git_diff_get_delta(diff, i);
  switch (d->status) {
    case GIT_DELTA_ADDED:
    case GIT_DELTA_MODIFIED:
    case GIT_DELTA_RENAMED:
    case GIT_DELTA_COPIED:
    case GIT_DELTA_TYPECHANGE:
      break;
    default:
      return;
  }
  if (d->new_file.mode == GIT_FILEMODE_COMMIT || d->new_file.mode == GIT_FILEMODE_LINK) return;
  std::string path = d->new_file.path ? d->new_file.path : "";
  if (PathAllowed(s, path)) return;
  if (!s.seen.Claim(d->new_file.id, index)) return;
  git_patch* raw = nullptr;
  if (git_patch_from_diff(&raw, diff, i) != 0) {
    out->counts.problems.push_back({path, 0, GitError("commit " + commit_id + ": diff")});
    return;
  }
  Patch patch(raw);
  if (patch == nullptr) return;
  const git_diff_delta* pd = git_patch_get_delta(patch.get());
  if (pd->flags & GIT_DIFF_FLAG_BINARY) {
    if (pd->new_file.size > s.options.max_file_bytes) {
      out->counts.problems.push_back(
          {path, 0, "commit " + commit_id + ": skipped: " + std::to_string(pd->new_file.size) +
                        " bytes is more than the limit of " +
                        std::to_string(s.options.max_file_bytes) + " (max_file_bytes)"});
    }
    return;
  }
  AddedLines added;
  Status st = CollectAdded(patch.get(), &added);
  if (!st.ok()) {
    out->counts.problems.push_back({path, 0, "commit " + commit_id + ": " + st.message()});
    return;
  }
  ++out->counts.files;
  out->counts.bytes += added.text.size();
  if (added.text.empty()) return;
  std::vector<SecretHit> hits;
  st = s.matcher.Find(added.text, scratch, &hits);
  if (!st.ok()) {
    out->counts.problems.push_back({path, 0, "commit " + commit_id + ": " + st.message()});
    return;
  }
  if (hits.empty()) return;
  std::vector<Finding> findings;
  AppendSecretFindings(
      added.text, hits, path,
      [&](const SecretHit& h, std::string_view line) {
        return !s.allow.Allows(SecretRules()[h.rule].id, h.value, line);
      },
      &findings);
  for (Finding& f : findings) {
    // The buffer holds added lines only; map back to the file's line numbers.
    size_t buffer_line = static_cast<size_t>(f.line - 1);
    if (buffer_line < added.line_numbers.size()) f.line = added.line_numbers[buffer_line];
    f.commit = commit_id;
    // Deleting the line does not help: every clone keeps the commit.
    f.message = f.title + " committed in " + commit_id.substr(0, 12) +
                ": rotate it and move it to `steward secret set`";
    out->found.push_back({index, std::move(f)});
  }
}

void ScanCommit(Shared& s, git_repository* repo, size_t index, SecretMatcher::Scratch* scratch,
                WorkerResult* out) {
  const git_oid& oid = s.commits[index];
  char hex[GIT_OID_HEXSZ + 1];
  git_oid_tostr(hex, sizeof hex, &oid);
  std::string commit_id = hex;
  git_commit* rc = nullptr;
  if (git_commit_lookup(&rc, repo, &oid) != 0) {
    out->counts.problems.push_back({"", 0, GitError("commit " + commit_id)});
    return;
  }
  Commit commit(rc);
  git_tree* rt = nullptr;
  if (git_commit_tree(&rt, commit.get()) != 0) {
    out->counts.problems.push_back({"", 0, GitError("commit " + commit_id + ": tree")});
    return;
  }
  Tree tree(rt);
  Tree parent_tree;
  if (git_commit_parentcount(commit.get()) > 0) {
    git_commit* rp = nullptr;
    if (git_commit_parent(&rp, commit.get(), 0) != 0) {
      out->counts.problems.push_back({"", 0, GitError("commit " + commit_id + ": parent")});
      return;
    }
    Commit parent(rp);
    git_tree* rpt = nullptr;
    if (git_commit_tree(&rpt, parent.get()) != 0) {
      out->counts.problems.push_back({"", 0, GitError("commit " + commit_id + ": parent tree")});
      return;
    }
    parent_tree.reset(rpt);
  }
  git_diff_options opts;
  git_diff_options_init(&opts, GIT_DIFF_OPTIONS_VERSION);
  opts.context_lines = 0;
  opts.interhunk_lines = 0;
  opts.max_size = static_cast<git_off_t>(s.options.max_file_bytes);
  git_diff* rd = nullptr;
  if (git_diff_tree_to_tree(&rd, repo, parent_tree.get(), tree.get(), &opts) != 0) {
    out->counts.problems.push_back({"", 0, GitError("commit " + commit_id + ": diff")});
    return;
  }
  Diff diff(rd);
  size_t deltas = git_diff_num_deltas(diff.get());
  for (size_t i = 0; i < deltas; ++i) ScanDelta(s, diff.get(), i, index, commit_id, scratch, out);
}

// Every commit reachable from HEAD and the branches, oldest first.
Status ListCommits(git_repository* repo, int max_commits, std::vector<git_oid>* out) {
  git_revwalk* rw = nullptr;
  if (git_revwalk_new(&rw, repo) != 0) return Internal(GitError("revwalk"));
  Walk walk(rw);
  git_revwalk_sorting(walk.get(), GIT_SORT_TOPOLOGICAL | GIT_SORT_TIME | GIT_SORT_REVERSE);
  // An unborn HEAD (a new repository) is not an error: there is nothing to scan yet.
  static_cast<void>(git_revwalk_push_head(walk.get()));
  if (git_revwalk_push_glob(walk.get(), "refs/heads/*") != 0) {
    return Internal(GitError("listing branches"));
  }
  git_oid oid;
  while (git_revwalk_next(&oid, walk.get()) == 0) out->push_back(oid);
  if (max_commits > 0 && out->size() > static_cast<size_t>(max_commits)) {
    // The newest ones: they are the most likely to still hold live credentials.
    out->erase(out->begin(), out->end() - max_commits);
  }
  return Status::OK();
}

struct LibGit2 {
  LibGit2() { git_libgit2_init(); }
  ~LibGit2() { git_libgit2_shutdown(); }
};

}  // namespace

ScanResult ScanSecretsInGitHistory(const fs::path& repo_path, const SecretScanOptions& o,
                                   int max_commits) {
  LibGit2 lib;
  ScanResult result;
  std::string name = repo_path.generic_string();
  auto matcher = SecretMatcher::Create(o.min_entropy);
  if (!matcher.ok()) {
    result.problems.push_back({name, 0, matcher.status().message()});
    return result;
  }
  git_repository* rr = nullptr;
  if (git_repository_open_ext(&rr, repo_path.c_str(), GIT_REPOSITORY_OPEN_NO_SEARCH, nullptr) !=
      0) {
    result.problems.push_back({name, 0, GitError("not a git repository")});
    return result;
  }
  Repo repo(rr);
  std::vector<git_oid> commits;
  Status st = ListCommits(repo.get(), max_commits, &commits);
  if (!st.ok()) {
    result.problems.push_back({name, 0, st.message()});
    return result;
  }
  SecretAllowlist allow = internal::LoadOptionsAllowlist(o, &result);
  Shared shared{o, allow, **matcher, commits, {}, {}};
  int n = internal::WorkerCount(o, commits.size());
  std::vector<WorkerResult> partial(static_cast<size_t>(n));
  auto work = [&](WorkerResult* out) {
    auto scratch = shared.matcher.NewScratch();
    Repo own;
    git_repository* r = nullptr;
    if (!scratch.ok() || git_repository_open_ext(&r, repo_path.c_str(),
                                                 GIT_REPOSITORY_OPEN_NO_SEARCH, nullptr) != 0) {
      out->counts.problems.push_back({name, 0, "cannot start a history worker"});
      return;
    }
    own.reset(r);
    for (size_t i; (i = shared.next.fetch_add(1)) < commits.size();) {
      ScanCommit(shared, own.get(), i, &*scratch, out);
    }
  };
  std::vector<std::thread> threads;
  for (int t = 1; t < n; ++t) threads.emplace_back(work, &partial[static_cast<size_t>(t)]);
  work(&partial[0]);
  for (auto& t : threads) t.join();

  // One finding per fingerprint: the oldest commit's.
  std::map<std::string, Found> oldest;
  for (WorkerResult& p : partial) {
    for (Found& f : p.found) {
      auto it = oldest.find(f.finding.fingerprint);
      if (it == oldest.end()) {
        std::string key = f.finding.fingerprint;
        oldest.emplace(std::move(key), std::move(f));
      } else if (f.commit < it->second.commit) {
        it->second = std::move(f);
      }
    }
    result.Merge(std::move(p.counts));
  }
  for (auto& [fp, f] : oldest) result.findings.push_back(std::move(f.finding));
  internal::ApplyOptionsBaseline(o, &result);
  result.Sort();
  return result;
}

}  // namespace steward::scan
