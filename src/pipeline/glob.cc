// Glob (cache.h): one walk of the working copy, pruned to the directories some pattern could
// reach, then each path tested against the patterns in order, so a later pattern can exclude
// (!pattern) or re-include what an earlier one decided.
//
// Choices a user can see:
// - Symbolic links are listed as files (the cache stores them as links) and never followed,
//   so a link to a directory outside the working copy cannot pull its files in.
// - `*`, `?` and `**` match names starting with a dot, as GitHub's hashFiles does; only .git
//   directories are skipped unless a pattern names .git itself, since their contents change
//   with every commit and would make every key new.
#include <dirent.h>
#include <sys/stat.h>

#include <algorithm>
#include <string>
#include <vector>

#include "pipeline/cache.h"

namespace steward::pipeline {
namespace {

struct Pattern {
  std::string text;  // as written, for errors
  bool exclude = false;
  std::vector<std::string> segments;
};

std::vector<std::string> Split(std::string_view path) {
  std::vector<std::string> out;
  size_t start = 0;
  while (start <= path.size()) {
    size_t slash = path.find('/', start);
    if (slash == std::string_view::npos) slash = path.size();
    if (slash > start) out.emplace_back(path.substr(start, slash - start));
    start = slash + 1;
  }
  return out;
}

// Where a bracket expression that starts at text[i] == '[' ends (the index of its ']'), or npos.
size_t ClassEnd(std::string_view text, size_t i) {
  size_t j = i + 1;
  if (j < text.size() && (text[j] == '!' || text[j] == '^')) ++j;
  if (j < text.size() && text[j] == ']') ++j;  // a leading ] is literal
  while (j < text.size() && text[j] != ']') ++j;
  return j < text.size() ? j : std::string_view::npos;
}

bool ClassMatches(std::string_view cls, char c) {  // cls: between [ and ]
  bool negate = !cls.empty() && (cls[0] == '!' || cls[0] == '^');
  if (negate) cls.remove_prefix(1);
  bool hit = false;
  for (size_t i = 0; i < cls.size(); ++i) {
    if (i + 2 < cls.size() && cls[i + 1] == '-') {
      hit = hit || (cls[i] <= c && c <= cls[i + 2]);
      i += 2;
    } else {
      hit = hit || cls[i] == c;
    }
  }
  return hit != negate;
}

// One path segment against one pattern segment (no '/' on either side).
bool MatchSegment(std::string_view pat, std::string_view name) {
  size_t p = 0, n = 0;
  size_t star_p = std::string_view::npos, star_n = 0;
  while (n < name.size()) {
    if (p < pat.size() && pat[p] == '*') {
      star_p = p++;
      star_n = n;
      continue;
    }
    if (p < pat.size()) {
      bool ok = false;
      size_t next = p + 1;
      if (pat[p] == '?') {
        ok = true;
      } else if (pat[p] == '[' && ClassEnd(pat, p) != std::string_view::npos) {
        size_t end = ClassEnd(pat, p);
        ok = ClassMatches(pat.substr(p + 1, end - p - 1), name[n]);
        next = end + 1;
      } else if (pat[p] == '\\' && p + 1 < pat.size()) {
        ok = pat[p + 1] == name[n];
        next = p + 2;
      } else {
        ok = pat[p] == name[n];
      }
      if (ok) {
        p = next;
        ++n;
        continue;
      }
    }
    if (star_p == std::string_view::npos) return false;
    p = star_p + 1;
    n = ++star_n;
  }
  while (p < pat.size() && pat[p] == '*') ++p;
  return p == pat.size();
}

// Whether pattern segments [pi..] match path segments [si..]. With `prefix`, the pattern may
// end before the path does: it named a directory, which takes everything below it. `failed`
// remembers (pi, si) pairs known not to match, so patterns with many ** stay polynomial.
bool MatchFrom(const std::vector<std::string>& pat, size_t pi, const std::vector<std::string>& path,
               size_t si, bool prefix, std::vector<char>* failed) {
  const size_t start_pi = pi, start_si = si;
  auto memo = [&] { return &(*failed)[start_pi * (path.size() + 1) + start_si]; };
  if (*memo()) return false;
  while (pi < pat.size()) {
    if (pat[pi] == "**") {
      // Collapse runs of **; then try every split.
      while (pi + 1 < pat.size() && pat[pi + 1] == "**") ++pi;
      if (pi + 1 == pat.size()) return si < path.size();  // "dir/**" is what is below dir
      for (size_t k = si; k <= path.size(); ++k) {
        if (MatchFrom(pat, pi + 1, path, k, prefix, failed)) return true;
      }
      *memo() = 1;
      return false;
    }
    if (si == path.size() || !MatchSegment(pat[pi], path[si])) {
      *memo() = 1;
      return false;
    }
    ++pi;
    ++si;
  }
  return si == path.size() || prefix;
}

bool Matches(const std::vector<std::string>& pat, const std::vector<std::string>& path) {
  std::vector<char> failed((pat.size() + 1) * (path.size() + 1), 0);
  return MatchFrom(pat, 0, path, 0, true, &failed);
}

// Whether some path below the directory `dir` could match: the walk descends only then.
bool CouldReachBelow(const std::vector<std::string>& pat, size_t pi,
                     const std::vector<std::string>& dir, size_t si) {
  while (si < dir.size()) {
    if (pi == pat.size()) return true;  // the pattern named an ancestor directory
    if (pat[pi] == "**") return true;
    if (!MatchSegment(pat[pi], dir[si])) return false;
    ++pi;
    ++si;
  }
  return true;
}

StatusOr<Pattern> ParsePattern(const std::string& text) {
  Pattern p;
  p.text = text;
  std::string_view body = text;
  if (!body.empty() && body[0] == '!') {
    p.exclude = true;
    body.remove_prefix(1);
  }
  if (body.empty()) return InvalidArgument("empty pattern '" + text + "'");
  if (body[0] == '/') {
    return InvalidArgument("pattern '" + text +
                           "' is absolute; write it relative to the working copy");
  }
  p.segments = Split(body);
  for (std::string& s : p.segments) {
    if (s == "..") {
      return InvalidArgument("pattern '" + text +
                             "' uses '..', which would leave the working copy; name paths "
                             "inside it");
    }
    for (size_t i = 0; i < s.size(); ++i) {
      if (s[i] == '[' && ClassEnd(s, i) == std::string::npos) {
        return InvalidArgument("pattern '" + text + "' has a '[' without a closing ']'");
      }
    }
  }
  // "." segments mean nothing; "./dist" is "dist".
  p.segments.erase(std::remove(p.segments.begin(), p.segments.end(), "."), p.segments.end());
  if (p.segments.empty()) p.segments.push_back("**");
  return p;
}

bool NamesGit(const std::vector<Pattern>& patterns) {
  for (const Pattern& p : patterns) {
    for (const std::string& s : p.segments) {
      if (s == ".git") return true;
    }
  }
  return false;
}

class Walker {
 public:
  Walker(const std::string& root, const std::vector<Pattern>& patterns)
      : root_(root), patterns_(patterns), skip_git_(!NamesGit(patterns)) {}

  Status Walk(std::vector<std::string>& dir_segs, const std::string& rel,
              std::vector<std::string>* out) {
    std::string path = rel.empty() ? root_ : root_ + "/" + rel;
    DIR* dir = opendir(path.c_str());
    if (dir == nullptr) {
      if (rel.empty()) return ErrnoError("glob: open " + root_, errno);
      return Status::OK();  // vanished or unreadable below: not ours to list
    }
    std::vector<std::pair<std::string, bool>> entries;  // name, is directory
    while (dirent* e = readdir(dir)) {
      std::string name = e->d_name;
      if (name == "." || name == "..") continue;
      unsigned char type = e->d_type;
      if (type == DT_UNKNOWN) {
        struct stat st;
        std::string full = path + "/" + name;
        if (lstat(full.c_str(), &st) != 0) continue;
        type = S_ISDIR(st.st_mode)   ? DT_DIR
               : S_ISLNK(st.st_mode) ? DT_LNK
               : S_ISREG(st.st_mode) ? DT_REG
                                     : DT_UNKNOWN;
      }
      if (type == DT_DIR) {
        entries.emplace_back(name, true);
      } else if (type == DT_REG || type == DT_LNK) {
        entries.emplace_back(name, false);
      }
    }
    closedir(dir);
    for (auto& [name, is_dir] : entries) {
      std::string child = rel.empty() ? name : rel + "/" + name;
      dir_segs.push_back(name);
      if (!is_dir) {
        if (Selected(dir_segs)) out->push_back(child);
      } else if (!(skip_git_ && name == ".git") && Reachable(dir_segs)) {
        RETURN_IF_ERROR(Walk(dir_segs, child, out));
      }
      dir_segs.pop_back();
    }
    return Status::OK();
  }

 private:
  bool Selected(const std::vector<std::string>& path) const {
    bool in = false;
    for (const Pattern& p : patterns_) {
      if (p.exclude != in) continue;  // only a pattern that could flip the answer matters
      if (Matches(p.segments, path)) in = !p.exclude;
    }
    return in;
  }
  bool Reachable(const std::vector<std::string>& dir) const {
    for (const Pattern& p : patterns_) {
      if (!p.exclude && CouldReachBelow(p.segments, 0, dir, 0)) return true;
    }
    return false;
  }

  const std::string& root_;
  const std::vector<Pattern>& patterns_;
  bool skip_git_;
};

}  // namespace

StatusOr<std::vector<std::string>> Glob(const std::string& root,
                                        const std::vector<std::string>& patterns) {
  std::vector<Pattern> parsed;
  for (const std::string& text : patterns) {
    StatusOr<Pattern> p = ParsePattern(text);
    if (!p.ok()) return p.status();
    parsed.push_back(std::move(*p));
  }
  std::vector<std::string> out;
  if (std::none_of(parsed.begin(), parsed.end(), [](const Pattern& p) { return !p.exclude; })) {
    return out;
  }
  std::vector<std::string> segs;
  RETURN_IF_ERROR(Walker(root, parsed).Walk(segs, "", &out));
  std::sort(out.begin(), out.end());
  return out;
}

}  // namespace steward::pipeline
