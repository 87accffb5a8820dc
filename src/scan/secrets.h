// The secret scanner (scanner "secrets"): leaked keys and tokens in a directory tree and in a
// git repository's history.
//
// Contract: findings carry the rule, where the secret is (relative '/' path, 1-based line and
// column of the value), the line with the value masked (first 4 characters + "…") and a
// fingerprint built from a hash of the value — the value itself is in no field. Files that
// cannot be read, are too big, or an allowlist/baseline that cannot be loaded are Problems;
// the scan always goes on (a broken allowlist or baseline is ignored: more findings, never
// fewer). Binary files (a NUL byte in the first 8 KiB) and `.git` directories are skipped;
// symbolic links are not followed.
//
// History: every commit reachable from HEAD and from every branch, each diffed against its
// first parent; only added lines are scanned, and each blob once. A secret is reported once, at
// the oldest commit that added it (commit = that id, path = the file in that commit); its
// fingerprint does not include the commit, so a baseline entry covers every copy.
//
// Thread safety: the functions are reentrant; a scan uses `threads` workers of its own.
#pragma once

#include <cstdint>
#include <filesystem>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "base/status.h"
#include "scan/finding.h"

namespace re2 {
class RE2;
}  // namespace re2

namespace steward::scan {

struct SecretScanOptions {
  std::vector<std::string> allow_paths;  // globs (relative paths) never reported, e.g. "tests/fixtures/**"
  // Optional file: one rule per line — "path:GLOB", "rule:ID", "value-sha256:HEX", "regex:RE"
  // (a match on the secret's line); '#' comments; errors with file:line.
  std::string allowlist_file;
  std::string baseline_file;  // optional: findings whose fingerprint is in it are dropped
  int threads = 0;            // 0: std::thread::hardware_concurrency()
  uint64_t max_file_bytes = 16 << 20;  // bigger files: skipped with a Problem
  double min_entropy = 4.0;   // for the generic high-entropy rule (bits/char, Shannon)
};

ScanResult ScanSecretsInTree(const std::filesystem::path& root, const SecretScanOptions& o);
ScanResult ScanSecretsInGitHistory(const std::filesystem::path& repo,
                                   const SecretScanOptions& o, int max_commits /*0: all*/);

// The allowlist: what a team has decided is not a leak.
struct SecretAllowlist {
  std::vector<std::string> paths;            // globs
  std::vector<std::string> rules;            // rule ids
  std::vector<std::string> value_sha256;     // lowercase hex SHA-256 of values
  // RE2 (linear time, whatever a team writes), searched in the secret's line.
  std::vector<std::shared_ptr<const re2::RE2>> line_patterns;

  bool AllowsPath(std::string_view path) const;
  // The finding of `rule` with `value` on `line` is allowed.
  bool Allows(std::string_view rule, std::string_view value, std::string_view line) const;
};

// Parses allowlist text; errors are "<name>:<line>: what is wrong — what would be right".
StatusOr<SecretAllowlist> ParseSecretAllowlist(std::string_view text, std::string_view name);
StatusOr<SecretAllowlist> LoadSecretAllowlist(const std::string& path);

// Glob match on '/'-separated paths: '*' and '?' stay within one segment, "**" crosses them,
// "[abc]" is a class. A pattern without '/' also matches any single segment ("*.pem").
bool MatchPathGlob(std::string_view pattern, std::string_view path);

}  // namespace steward::scan
