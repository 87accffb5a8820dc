#include "scan/versions.h"

#include <algorithm>
#include <cctype>
#include <string>
#include <vector>

namespace steward::scan {
namespace {

bool IsDigit(char c) { return c >= '0' && c <= '9'; }
bool IsAlpha(char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'); }
bool IsAlnumDash(char c) { return IsDigit(c) || IsAlpha(c) || c == '-'; }
bool AllDigits(std::string_view s) {
  return !s.empty() && std::all_of(s.begin(), s.end(), IsDigit);
}

// Numbers are compared as digit strings so that no length of number overflows.
int CompareNumbers(std::string_view a, std::string_view b) {
  while (a.size() > 1 && a[0] == '0') a.remove_prefix(1);
  while (b.size() > 1 && b[0] == '0') b.remove_prefix(1);
  if (a.size() != b.size()) return a.size() < b.size() ? -1 : 1;
  int c = a.compare(b);
  return c < 0 ? -1 : (c > 0 ? 1 : 0);
}

int Sign(int c) { return c < 0 ? -1 : (c > 0 ? 1 : 0); }

std::string_view Trim(std::string_view s) {
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.front()))) s.remove_prefix(1);
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.back()))) s.remove_suffix(1);
  return s;
}

std::string Lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

// --- SemVer (npm, crates.io, Go, Packagist) ---

struct Semver {
  std::vector<std::string_view> core;
  std::vector<std::string_view> pre;
};

// Splits `s` on '.' into non-empty identifiers made of [0-9A-Za-z-].
bool SplitIdentifiers(std::string_view s, std::vector<std::string_view>* out) {
  size_t start = 0;
  for (size_t i = 0; i <= s.size(); ++i) {
    if (i == s.size() || s[i] == '.') {
      if (i == start) return false;
      out->push_back(s.substr(start, i - start));
      start = i + 1;
    } else if (!IsAlnumDash(s[i])) {
      return false;
    }
  }
  return true;
}

bool ParseSemver(std::string_view s, bool packagist, Semver* v) {
  s = Trim(s);
  if (!s.empty() && s[0] == '=') s.remove_prefix(1);
  if (!s.empty() && (s[0] == 'v' || s[0] == 'V')) s.remove_prefix(1);
  size_t i = 0;
  for (;;) {
    size_t start = i;
    while (i < s.size() && IsDigit(s[i])) ++i;
    if (i == start) return false;
    v->core.push_back(s.substr(start, i - start));
    if (i + 1 < s.size() && s[i] == '.' && IsDigit(s[i + 1])) {
      ++i;
      continue;
    }
    break;
  }
  std::string_view rest = s.substr(i);
  size_t plus = rest.find('+');
  std::string_view build =
      plus == std::string_view::npos ? std::string_view() : rest.substr(plus + 1);
  std::string_view pre = rest.substr(0, plus);
  if (plus != std::string_view::npos) {
    std::vector<std::string_view> ignored;
    if (!SplitIdentifiers(build, &ignored)) return false;
  }
  if (pre.empty()) return true;
  if (pre[0] == '-') {
    pre.remove_prefix(1);
  } else if (!(packagist && IsAlpha(pre[0]))) {  // Composer writes "1.0.0beta1" too
    return false;
  }
  return SplitIdentifiers(pre, &v->pre);
}

int CompareSemver(const Semver& a, const Semver& b) {
  size_t n = std::max(a.core.size(), b.core.size());
  for (size_t i = 0; i < n; ++i) {
    std::string_view x = i < a.core.size() ? a.core[i] : "0";
    std::string_view y = i < b.core.size() ? b.core[i] : "0";
    if (int c = CompareNumbers(x, y)) return c;
  }
  if (a.pre.empty() != b.pre.empty()) return a.pre.empty() ? 1 : -1;
  for (size_t i = 0; i < std::min(a.pre.size(), b.pre.size()); ++i) {
    bool xn = AllDigits(a.pre[i]), yn = AllDigits(b.pre[i]);
    if (xn && yn) {
      if (int c = CompareNumbers(a.pre[i], b.pre[i])) return c;
    } else if (xn != yn) {
      return xn ? -1 : 1;  // numeric identifiers have lower precedence
    } else if (int c = Sign(a.pre[i].compare(b.pre[i]))) {
      return c;
    }
  }
  return Sign(static_cast<int>(a.pre.size()) - static_cast<int>(b.pre.size()));
}

// --- PEP 440 ---

struct Pep440 {
  std::string_view epoch = "0";
  std::vector<std::string_view> release;
  int pre_kind = -1;  // 0 a, 1 b, 2 rc
  std::string_view pre_n = "0";
  bool post = false;
  std::string_view post_n = "0";
  bool dev = false;
  std::string_view dev_n = "0";
  std::vector<std::string_view> local;
};

class Pep440Parser {
 public:
  explicit Pep440Parser(std::string_view s) : s_(s) {}

  bool Parse(Pep440* v) {
    if (Peek() == 'v') ++i_;
    std::string_view first = Number();
    if (first.empty()) return false;
    if (Peek() == '!') {
      ++i_;
      v->epoch = first;
      first = Number();
      if (first.empty()) return false;
    }
    v->release.push_back(first);
    while (Peek() == '.' && i_ + 1 < s_.size() && IsDigit(s_[i_ + 1])) {
      ++i_;
      v->release.push_back(Number());
    }
    ParsePre(v);
    ParsePost(v);
    ParseDev(v);
    if (Peek() == '+') {
      ++i_;
      size_t start = i_;
      while (i_ < s_.size()) {
        size_t seg = i_;
        while (i_ < s_.size() && (IsDigit(s_[i_]) || IsAlpha(s_[i_]))) ++i_;
        if (i_ == seg) return false;
        v->local.push_back(s_.substr(seg, i_ - seg));
        if (i_ < s_.size() && IsSep(s_[i_]) && i_ + 1 < s_.size()) {
          ++i_;
          continue;
        }
        break;
      }
      if (i_ == start) return false;
    }
    return i_ == s_.size();
  }

 private:
  static bool IsSep(char c) { return c == '.' || c == '-' || c == '_'; }
  char Peek() const { return i_ < s_.size() ? s_[i_] : '\0'; }
  std::string_view Number() {
    size_t start = i_;
    while (i_ < s_.size() && IsDigit(s_[i_])) ++i_;
    return s_.substr(start, i_ - start);
  }
  // Matches [sep] label at i_ for the first label that fits; returns its index or -1.
  int Label(std::initializer_list<std::string_view> labels) {
    size_t at = i_ + (IsSep(Peek()) ? 1 : 0);
    int index = 0;
    for (std::string_view l : labels) {
      if (s_.substr(at, l.size()) == l) {
        i_ = at + l.size();
        return index;
      }
      ++index;
    }
    return -1;
  }
  // [sep] digits, or nothing (then 0).
  std::string_view OptionalNumber() {
    size_t save = i_;
    if (IsSep(Peek())) ++i_;
    std::string_view n = Number();
    if (n.empty()) {
      i_ = save;
      return "0";
    }
    return n;
  }
  void ParsePre(Pep440* v) {
    static constexpr int kKind[] = {0, 1, 2, 2, 2, 0, 1, 2};
    int label = Label({"alpha", "beta", "preview", "pre", "rc", "a", "b", "c"});
    if (label < 0) return;
    v->pre_kind = kKind[label];
    v->pre_n = OptionalNumber();
  }
  void ParsePost(Pep440* v) {
    if (Peek() == '-' && i_ + 1 < s_.size() && IsDigit(s_[i_ + 1])) {
      ++i_;
      v->post = true;
      v->post_n = Number();
      return;
    }
    if (Label({"post", "rev", "r"}) < 0) return;
    v->post = true;
    v->post_n = OptionalNumber();
  }
  void ParseDev(Pep440* v) {
    if (Label({"dev"}) < 0) return;
    v->dev = true;
    v->dev_n = OptionalNumber();
  }

  std::string_view s_;
  size_t i_ = 0;
};

// -1, 0, 1 for "below everything", "compare n", "above everything".
struct Bound {
  int rank;
  int kind;
  std::string_view n;
};

int CompareBound(const Bound& a, const Bound& b) {
  if (a.rank != b.rank) return a.rank < b.rank ? -1 : 1;
  if (a.rank != 0) return 0;
  if (a.kind != b.kind) return a.kind < b.kind ? -1 : 1;
  return CompareNumbers(a.n, b.n);
}

int ComparePep440(const Pep440& a, const Pep440& b) {
  if (int c = CompareNumbers(a.epoch, b.epoch)) return c;
  size_t n = std::max(a.release.size(), b.release.size());
  for (size_t i = 0; i < n; ++i) {
    if (int c = CompareNumbers(i < a.release.size() ? a.release[i] : "0",
                               i < b.release.size() ? b.release[i] : "0"))
      return c;
  }
  // packaging's _cmpkey: a bare dev release sorts before every pre-release of its release.
  auto pre = [](const Pep440& v) {
    if (v.pre_kind < 0 && !v.post && v.dev) return Bound{-1, 0, {}};
    if (v.pre_kind < 0) return Bound{1, 0, {}};
    return Bound{0, v.pre_kind, v.pre_n};
  };
  if (int c = CompareBound(pre(a), pre(b))) return c;
  auto post = [](const Pep440& v) { return v.post ? Bound{0, 0, v.post_n} : Bound{-1, 0, {}}; };
  if (int c = CompareBound(post(a), post(b))) return c;
  auto dev = [](const Pep440& v) { return v.dev ? Bound{0, 0, v.dev_n} : Bound{1, 0, {}}; };
  if (int c = CompareBound(dev(a), dev(b))) return c;
  if (a.local.empty() != b.local.empty()) return a.local.empty() ? -1 : 1;
  for (size_t i = 0; i < std::min(a.local.size(), b.local.size()); ++i) {
    bool xn = AllDigits(a.local[i]), yn = AllDigits(b.local[i]);
    if (xn && yn) {
      if (int c = CompareNumbers(a.local[i], b.local[i])) return c;
    } else if (xn != yn) {
      return xn ? 1 : -1;  // numeric segments sort above alphanumeric ones
    } else if (int c = Sign(a.local[i].compare(b.local[i]))) {
      return c;
    }
  }
  return Sign(static_cast<int>(a.local.size()) - static_cast<int>(b.local.size()));
}

// --- RubyGems ---

// Gem::Version::ANCHORED_VERSION_PATTERN, then the canonical segments.
bool ParseGem(std::string_view s, std::vector<std::string_view>* canonical) {
  s = Trim(s);
  if (s.empty() || !IsDigit(s[0])) return false;
  size_t dash = s.find('-');
  std::string_view release = s.substr(0, dash);
  if (!AllDigits(release.substr(0, release.find('.')))) return false;
  for (size_t i = 0; i < release.size(); ++i) {
    char c = release[i];
    if (c == '.') {
      if (i + 1 >= release.size() || release[i + 1] == '.') return false;
    } else if (!IsDigit(c) && !IsAlpha(c)) {
      return false;
    }
  }
  std::vector<std::string_view> segments;
  auto scan = [&segments](std::string_view part) {
    size_t i = 0;
    while (i < part.size()) {
      size_t start = i;
      if (IsDigit(part[i])) {
        while (i < part.size() && IsDigit(part[i])) ++i;
      } else if (IsAlpha(part[i])) {
        while (i < part.size() && IsAlpha(part[i])) ++i;
      } else {
        ++i;
        continue;
      }
      segments.push_back(part.substr(start, i - start));
    }
  };
  scan(release);
  if (dash != std::string_view::npos) {
    std::vector<std::string_view> ids;
    if (!SplitIdentifiers(s.substr(dash + 1), &ids)) return false;
    // Gem::Version reads '-' as ".pre.".
    segments.push_back("pre");
    for (std::string_view id : ids) scan(id);
  }
  size_t first_string = segments.size();
  for (size_t i = 0; i < segments.size(); ++i) {
    if (!IsDigit(segments[i][0])) {
      first_string = i;
      break;
    }
  }
  auto append_trimmed = [canonical](auto begin, auto end) {
    while (end != begin && AllDigits(*(end - 1)) && CompareNumbers(*(end - 1), "0") == 0) --end;
    canonical->insert(canonical->end(), begin, end);
  };
  append_trimmed(segments.begin(), segments.begin() + first_string);
  append_trimmed(segments.begin() + first_string, segments.end());
  return true;
}

int CompareGem(const std::vector<std::string_view>& a, const std::vector<std::string_view>& b) {
  size_t n = std::max(a.size(), b.size());
  for (size_t i = 0; i < n; ++i) {
    std::string_view x = i < a.size() ? a[i] : "0";
    std::string_view y = i < b.size() ? b[i] : "0";
    bool xn = IsDigit(x[0]), yn = IsDigit(y[0]);
    if (xn && yn) {
      if (int c = CompareNumbers(x, y)) return c;
    } else if (xn != yn) {
      return xn ? 1 : -1;  // a letter segment is a pre-release: below any number
    } else if (int c = Sign(x.compare(y))) {
      return c;
    }
  }
  return 0;
}

}  // namespace

std::optional<VersionScheme> SchemeForEcosystem(std::string_view ecosystem) {
  if (ecosystem == "npm" || ecosystem == "crates.io") return VersionScheme::kSemver;
  if (ecosystem == "Packagist") return VersionScheme::kPackagist;
  if (ecosystem == "Go") return VersionScheme::kGo;
  if (ecosystem == "PyPI") return VersionScheme::kPep440;
  if (ecosystem == "RubyGems") return VersionScheme::kRubyGems;
  return std::nullopt;
}

std::string_view SchemeName(VersionScheme scheme) {
  switch (scheme) {
    case VersionScheme::kSemver:
      return "SemVer";
    case VersionScheme::kPackagist:
      return "Composer";
    case VersionScheme::kGo:
      return "Go module";
    case VersionScheme::kPep440:
      return "PEP 440";
    case VersionScheme::kRubyGems:
      return "RubyGems";
  }
  return "SemVer";
}

bool IsValidVersion(VersionScheme scheme, std::string_view version) {
  return CompareVersions(scheme, version, version).has_value();
}

std::optional<int> CompareVersions(VersionScheme scheme, std::string_view a, std::string_view b) {
  switch (scheme) {
    case VersionScheme::kSemver:
    case VersionScheme::kGo: {
      Semver x, y;
      if (!ParseSemver(a, false, &x) || !ParseSemver(b, false, &y)) return std::nullopt;
      return CompareSemver(x, y);
    }
    case VersionScheme::kPackagist: {
      std::string la = Lower(a), lb = Lower(b);
      Semver x, y;
      if (!ParseSemver(la, true, &x) || !ParseSemver(lb, true, &y)) return std::nullopt;
      return CompareSemver(x, y);
    }
    case VersionScheme::kPep440: {
      std::string la = Lower(Trim(a)), lb = Lower(Trim(b));
      Pep440 x, y;
      if (!Pep440Parser(la).Parse(&x) || !Pep440Parser(lb).Parse(&y)) return std::nullopt;
      return ComparePep440(x, y);
    }
    case VersionScheme::kRubyGems: {
      std::vector<std::string_view> x, y;
      if (!ParseGem(a, &x) || !ParseGem(b, &y)) return std::nullopt;
      return CompareGem(x, y);
    }
  }
  return std::nullopt;
}

}  // namespace steward::scan
