#include "scan/secrets.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cstring>
#include <fstream>
#include <memory>
#include <mutex>
#include <sstream>
#include <thread>
#include <utility>

#include <re2/re2.h>

#include "base/fd.h"
#include "base/sha256.h"
#include "scan/baseline.h"
#include "scan/git_history.h"
#include "scan/secret_rules.h"

namespace steward::scan {

namespace fs = std::filesystem;

// ---- globs and the allowlist -----------------------------------------------------------------

namespace {

bool MatchClass(std::string_view p, size_t* pi, char c) {
  // p[*pi] is '['; on return *pi is past the ']'.
  size_t i = *pi + 1;
  bool negate = i < p.size() && (p[i] == '!' || p[i] == '^');
  if (negate) ++i;
  bool hit = false;
  bool first = true;
  for (; i < p.size() && (first || p[i] != ']'); ++i, first = false) {
    if (i + 2 < p.size() && p[i + 1] == '-' && p[i + 2] != ']') {
      hit |= p[i] <= c && c <= p[i + 2];
      i += 2;
    } else {
      hit |= p[i] == c;
    }
  }
  *pi = i + 1;
  return hit != negate;
}

bool Glob(std::string_view p, std::string_view s) {
  size_t pi = 0, si = 0;
  while (pi < p.size()) {
    if (p.substr(pi, 2) == "**") {
      // "**/" also matches no directory at all.
      std::string_view rest = p.substr(pi + 2);
      if (rest.starts_with('/') && Glob(rest.substr(1), s.substr(si))) return true;
      for (size_t k = si; k <= s.size(); ++k) {
        if (Glob(rest, s.substr(k))) return true;
      }
      return false;
    }
    char c = p[pi];
    if (c == '*') {
      for (size_t k = si; k <= s.size(); ++k) {
        if (Glob(p.substr(pi + 1), s.substr(k))) return true;
        if (k < s.size() && s[k] == '/') break;
      }
      return false;
    }
    if (si >= s.size()) return false;
    if (c == '?') {
      if (s[si] == '/') return false;
      ++pi, ++si;
    } else if (c == '[' && p.find(']', pi + 1) != std::string_view::npos) {
      if (s[si] == '/' || !MatchClass(p, &pi, s[si])) return false;
      ++si;
    } else {
      if (c != s[si]) return false;
      ++pi, ++si;
    }
  }
  return si == s.size();
}

std::string_view Trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t' || s.back() == '\r')) {
    s.remove_suffix(1);
  }
  return s;
}

// An allowlist word for an error message. A raw secret pasted where its hash belongs must not
// be echoed into output, so only short, id-like words are quoted.
std::string Quoted(std::string_view word) {
  bool id_like = word.size() <= 32 && std::all_of(word.begin(), word.end(), [](char c) {
                   return std::islower(static_cast<unsigned char>(c)) ||
                          std::isdigit(static_cast<unsigned char>(c)) || c == '-';
                 });
  return id_like ? "\"" + std::string(word) + "\"" : "(not shown: it may be a secret)";
}

}  // namespace

bool MatchPathGlob(std::string_view pattern, std::string_view path) {
  if (pattern.starts_with("./")) pattern.remove_prefix(2);
  if (pattern.ends_with('/')) {
    // "dir/" means everything under it.
    return Glob(std::string(pattern) + "**", path);
  }
  if (Glob(pattern, path)) return true;
  if (pattern.find('/') != std::string_view::npos) return false;
  size_t start = 0;
  while (start <= path.size()) {
    size_t slash = path.find('/', start);
    std::string_view seg = path.substr(start, slash == std::string_view::npos ? path.npos
                                                                                : slash - start);
    if (Glob(pattern, seg)) return true;
    if (slash == std::string_view::npos) break;
    start = slash + 1;
  }
  return false;
}

bool SecretAllowlist::AllowsPath(std::string_view path) const {
  return std::any_of(paths.begin(), paths.end(),
                     [&](const std::string& g) { return MatchPathGlob(g, path); });
}

bool SecretAllowlist::Allows(std::string_view rule, std::string_view value,
                             std::string_view line) const {
  if (std::find(rules.begin(), rules.end(), rule) != rules.end()) return true;
  if (!value_sha256.empty()) {
    std::string h = Sha256Hex(value);
    if (std::find(value_sha256.begin(), value_sha256.end(), h) != value_sha256.end()) {
      return true;
    }
  }
  for (const auto& re : line_patterns) {
    if (re2::RE2::PartialMatch(re2::StringPiece(line.data(), line.size()), *re)) return true;
  }
  return false;
}

StatusOr<SecretAllowlist> ParseSecretAllowlist(std::string_view text, std::string_view name) {
  SecretAllowlist a;
  int line_no = 0;
  const auto& rules = SecretRules();
  while (!text.empty()) {
    size_t nl = text.find('\n');
    std::string_view line = Trim(text.substr(0, nl));
    text.remove_prefix(nl == std::string_view::npos ? text.size() : nl + 1);
    ++line_no;
    if (line.empty() || line.starts_with('#')) continue;
    std::string where = std::string(name) + ":" + std::to_string(line_no) + ": ";
    size_t colon = line.find(':');
    if (colon == std::string_view::npos) {
      return InvalidArgument(where + "the line has no kind; write path:GLOB, rule:ID, "
                                    "value-sha256:HEX or regex:RE");
    }
    std::string_view kind = Trim(line.substr(0, colon));
    std::string_view arg = Trim(line.substr(colon + 1));
    if (arg.empty()) return InvalidArgument(where + std::string(kind) + ": is empty");
    if (kind == "path") {
      a.paths.emplace_back(arg);
    } else if (kind == "rule") {
      bool known = std::any_of(rules.begin(), rules.end(),
                               [&](const SecretRule& r) { return r.id == arg; });
      if (!known) {
        std::string ids;
        for (const auto& r : rules) ids += (ids.empty() ? "" : ", ") + std::string(r.id);
        return InvalidArgument(where + "unknown rule " + Quoted(arg) + "; the rules are " + ids);
      }
      a.rules.emplace_back(arg);
    } else if (kind == "value-sha256") {
      std::string hex(arg);
      for (char& c : hex) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
      bool ok = hex.size() == 64 && std::all_of(hex.begin(), hex.end(), [](char c) {
                  return std::isxdigit(static_cast<unsigned char>(c)) != 0;
                });
      if (!ok) {
        return InvalidArgument(where + "value-sha256: wants 64 hex digits (sha256sum of the "
                                       "value), got " + std::to_string(hex.size()) +
                               " characters");
      }
      a.value_sha256.push_back(hex);
    } else if (kind == "regex") {
      re2::RE2::Options options;
      options.set_log_errors(false);
      auto re = std::make_shared<const re2::RE2>(re2::StringPiece(arg.data(), arg.size()),
                                                 options);
      if (!re->ok()) {
        return InvalidArgument(where + "regex: not a valid RE2 regular expression (" +
                               re->error() + ")");
      }
      a.line_patterns.push_back(std::move(re));
    } else {
      return InvalidArgument(where + "unknown kind " + Quoted(kind) +
                             "; write path:GLOB, rule:ID, value-sha256:HEX or regex:RE");
    }
  }
  return a;
}

StatusOr<SecretAllowlist> LoadSecretAllowlist(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return ErrnoError("allowlist " + path, errno);
  std::stringstream ss;
  ss << in.rdbuf();
  return ParseSecretAllowlist(ss.str(), path);
}

// ---- the tree scan ---------------------------------------------------------------------------

namespace {

struct FileEntry {
  std::string rel;
  fs::path abs;
};

std::string RelPath(const fs::path& root, const fs::path& p) {
  return p.lexically_relative(root).generic_string();
}

void Walk(const fs::path& root, const SecretScanOptions& o, const SecretAllowlist& allow,
          std::vector<FileEntry>* files, ScanResult* result) {
  std::error_code root_ec;
  if (fs::is_regular_file(root, root_ec)) {
    // `steward scan config.env`: one file, reported by its name.
    files->push_back({root.filename().generic_string(), root});
    return;
  }
  std::vector<fs::path> dirs = {root};
  while (!dirs.empty()) {
    fs::path dir = std::move(dirs.back());
    dirs.pop_back();
    std::error_code ec;
    fs::directory_iterator it(dir, ec);
    if (ec) {
      result->problems.push_back({RelPath(root, dir), 0, "cannot list: " + ec.message()});
      continue;
    }
    for (; it != fs::directory_iterator(); it.increment(ec)) {
      if (ec) {
        result->problems.push_back({RelPath(root, dir), 0, "cannot list: " + ec.message()});
        break;
      }
      const fs::directory_entry& e = *it;
      std::error_code sec;
      if (e.is_symlink(sec)) continue;
      std::string rel = RelPath(root, e.path());
      if (e.is_directory(sec)) {
        if (e.path().filename() != ".git") dirs.push_back(e.path());
        continue;
      }
      if (!e.is_regular_file(sec)) continue;
      bool allowed = allow.AllowsPath(rel) ||
                     std::any_of(o.allow_paths.begin(), o.allow_paths.end(),
                                 [&](const std::string& g) { return MatchPathGlob(g, rel); });
      if (!allowed) files->push_back({std::move(rel), e.path()});
    }
  }
}

// Reads the whole file into *buf. Errors are for the Problem list.
Status ReadWhole(const fs::path& p, uint64_t max_bytes, std::string* buf) {
  Fd fd(open(p.c_str(), O_RDONLY | O_CLOEXEC | O_NOFOLLOW));
  if (fd.get() < 0) return ErrnoError("cannot open", errno);
  struct stat st;
  if (fstat(fd.get(), &st) != 0) return ErrnoError("cannot stat", errno);
  if (static_cast<uint64_t>(st.st_size) > max_bytes) {
    return FailedPrecondition("skipped: " + std::to_string(st.st_size) +
                              " bytes is more than the limit of " + std::to_string(max_bytes) +
                              " (max_file_bytes)");
  }
  buf->resize(static_cast<size_t>(st.st_size));
  size_t got = 0;
  while (got < buf->size()) {
    ssize_t n = read(fd.get(), buf->data() + got, buf->size() - got);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return ErrnoError("cannot read", errno);
    if (n == 0) break;  // shrank while reading: scan what is there
    got += static_cast<size_t>(n);
  }
  buf->resize(got);
  return Status::OK();
}

bool LooksBinary(std::string_view data) {
  size_t n = std::min<size_t>(data.size(), 8192);
  return std::memchr(data.data(), 0, n) != nullptr;
}

}  // namespace

namespace internal {

SecretAllowlist LoadOptionsAllowlist(const SecretScanOptions& o, ScanResult* result) {
  if (o.allowlist_file.empty()) return {};
  auto a = LoadSecretAllowlist(o.allowlist_file);
  if (a.ok()) return std::move(a).value();
  result->problems.push_back(
      {o.allowlist_file, 0, "allowlist not used: " + a.status().message()});
  return {};
}

void ApplyOptionsBaseline(const SecretScanOptions& o, ScanResult* result) {
  if (o.baseline_file.empty()) return;
  auto b = LoadBaseline(o.baseline_file);
  if (!b.ok()) {
    result->problems.push_back({o.baseline_file, 0, "baseline not used: " + b.status().message()});
    return;
  }
  ApplyBaseline(*b, result);
}

int WorkerCount(const SecretScanOptions& o, size_t jobs) {
  int n = o.threads > 0 ? o.threads : static_cast<int>(std::thread::hardware_concurrency());
  n = std::max(1, n);
  return static_cast<int>(std::min<size_t>(static_cast<size_t>(n), std::max<size_t>(jobs, 1)));
}

}  // namespace internal

ScanResult ScanSecretsInTree(const fs::path& root, const SecretScanOptions& o) {
  ScanResult result;
  auto matcher = SecretMatcher::Create(o.min_entropy);
  if (!matcher.ok()) {
    result.problems.push_back({root.generic_string(), 0, matcher.status().message()});
    return result;
  }
  SecretAllowlist allow = internal::LoadOptionsAllowlist(o, &result);
  std::vector<FileEntry> files;
  Walk(root, o, allow, &files, &result);

  std::atomic<size_t> next{0};
  int n = internal::WorkerCount(o, files.size());
  std::vector<ScanResult> partial(static_cast<size_t>(n));
  auto work = [&](ScanResult* out) {
    auto scratch = (*matcher)->NewScratch();
    if (!scratch.ok()) {
      out->problems.push_back({root.generic_string(), 0, scratch.status().message()});
      return;
    }
    std::string buf;
    std::vector<SecretHit> hits;
    for (size_t i; (i = next.fetch_add(1)) < files.size();) {
      const FileEntry& f = files[i];
      Status st = ReadWhole(f.abs, o.max_file_bytes, &buf);
      if (!st.ok()) {
        out->problems.push_back({f.rel, 0, st.message()});
        continue;
      }
      if (LooksBinary(buf)) continue;
      ++out->files;
      out->bytes += buf.size();
      st = (*matcher)->Find(buf, &*scratch, &hits);
      if (!st.ok()) {
        out->problems.push_back({f.rel, 0, st.message()});
        continue;
      }
      if (hits.empty()) continue;
      AppendSecretFindings(
          buf, hits, f.rel,
          [&](const SecretHit& h, std::string_view line) {
            return !allow.Allows(SecretRules()[h.rule].id, h.value, line);
          },
          &out->findings);
    }
  };
  std::vector<std::thread> threads;
  for (int t = 1; t < n; ++t) threads.emplace_back(work, &partial[static_cast<size_t>(t)]);
  work(&partial[0]);
  for (auto& t : threads) t.join();
  for (auto& p : partial) result.Merge(std::move(p));
  internal::ApplyOptionsBaseline(o, &result);
  result.Sort();
  return result;
}

}  // namespace steward::scan
