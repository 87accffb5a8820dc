#include "scan/secret_rules.h"

#include <hs.h>

#include <algorithm>
#include <array>
#include <cctype>
#include <cmath>
#include <cstring>
#include <regex>
#include <set>
#include <utility>

#include "base/sha256.h"

namespace steward::scan {

namespace {

// Between a name and its value: "=", ":", ":=", "=>" with optional quotes and blanks. Blanks
// only (no \s) so a match never spans lines.
#define ASSIGN R"(["']?[ \t]*(?:=|:|:=|=>)[ \t]*)"

std::vector<SecretRule> MakeRules() {
  using K = SecretKind;
  using S = Severity;
  std::vector<SecretRule> rules = {
      {"aws-access-key-id", "AWS access key ID", S::kCritical, K::kToken,
       R"(\b((?:AKIA|ASIA|ABIA|ACCA)[A-Z0-9]{16})\b)", false, 1, 0, 600,
       {"akia", "asia", "abia", "acca"}},
      {"aws-secret-access-key", "AWS secret access key", S::kCritical, K::kToken,
       R"(aws[A-Za-z0-9_.-]{0,30}(?:secret|sk)[A-Za-z0-9_.-]{0,30})" ASSIGN
       R"(["']?([A-Za-z0-9/+]{40})(?:[^A-Za-z0-9/+=]|$))",
       true, 1, 0, 600, {"aws"}},
      {"github-token", "GitHub token", S::kCritical, K::kToken,
       R"(\b(gh[pousr]_[A-Za-z0-9]{36,255})\b)", false, 1, 0, 600,
       {"ghp_", "gho_", "ghu_", "ghs_", "ghr_"}},
      {"github-fine-grained-pat", "GitHub fine-grained personal access token", S::kCritical,
       K::kToken, R"(\b(github_pat_[A-Za-z0-9_]{80,90})\b)", false, 1, 0, 600, {"github_pat_"}},
      {"gitlab-pat", "GitLab personal access token", S::kCritical, K::kToken,
       R"(\b(glpat-[A-Za-z0-9_-]{20,50})(?:[^A-Za-z0-9_-]|$))", false, 1, 0, 600, {"glpat-"}},
      {"slack-token", "Slack token", S::kHigh, K::kToken,
       R"(\b(xox[baprs]-[A-Za-z0-9-]{10,250})(?:[^A-Za-z0-9-]|$))", false, 1, 0, 600,
       {"xoxb-", "xoxa-", "xoxp-", "xoxr-", "xoxs-"}},
      {"slack-webhook", "Slack incoming webhook URL", S::kHigh, K::kToken,
       R"((https://hooks\.slack\.com/services/T[A-Za-z0-9_]{6,12}/B[A-Za-z0-9_]{6,12}/[A-Za-z0-9_]{20,32})(?:[^A-Za-z0-9_]|$))",
       false, 1, 0, 600, {"hooks.slack.com"}},
      {"stripe-secret-key", "Stripe live secret key", S::kCritical, K::kToken,
       R"(\b((?:sk|rk)_live_[A-Za-z0-9]{20,99})\b)", false, 1, 0, 600,
       {"sk_live_", "rk_live_"}},
      {"google-api-key", "Google API key", S::kHigh, K::kToken,
       R"(\b(AIza[0-9A-Za-z_-]{35})(?:[^0-9A-Za-z_-]|$))", false, 1, 0, 600, {"aiza"}},
      {"private-key", "Private key", S::kCritical, K::kPrivateKey,
       R"((-----BEGIN[ A-Z0-9]{0,40}PRIVATE KEY(?: BLOCK)?-----))", false, 1, 0, 600,
       {"-----begin"}},
      {"jwt", "JSON Web Token", S::kMedium, K::kToken,
       R"(\b(eyJ[A-Za-z0-9_-]{10,}\.eyJ[A-Za-z0-9_-]{10,}\.[A-Za-z0-9_-]{10,})(?:[^A-Za-z0-9_-]|$))",
       false, 1, 0, 8192, {"eyj"}},
      {"npm-token", "npm access token", S::kHigh, K::kToken, R"(\b(npm_[A-Za-z0-9]{36})\b)",
       false, 1, 0, 600, {"npm_"}},
      {"pypi-token", "PyPI upload token", S::kHigh, K::kToken,
       R"(\b(pypi-AgEIcHlwaS5vcmc[A-Za-z0-9_-]{50,300})(?:[^A-Za-z0-9_-]|$))", false, 1, 0, 600,
       {"pypi-ageichlwas5vcmc"}},
      {"twilio-api-key", "Twilio API key", S::kHigh, K::kToken, R"(\b(SK[0-9a-f]{32})\b)", false,
       1, 0, 600, {"sk"}},
      {"sendgrid-api-key", "SendGrid API key", S::kHigh, K::kToken,
       R"(\b(SG\.[A-Za-z0-9_-]{22}\.[A-Za-z0-9_-]{43})(?:[^A-Za-z0-9_-]|$))", false, 1, 0, 600,
       {"sg."}},
      {"heroku-api-key", "Heroku API key", S::kHigh, K::kToken,
       R"(heroku[A-Za-z0-9_ .-]{0,20})" ASSIGN
       R"(["']?([0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12})\b)",
       true, 1, 0, 600, {"heroku"}},
      {"url-credentials", "Password in a URL", S::kHigh, K::kUrlCredentials,
       R"(\b[A-Za-z][A-Za-z0-9+.-]{1,20}://[^\s:/@"'<>]{1,64}:([^\s:/@"'<>]{3,128})@[A-Za-z0-9\[])",
       false, 1, 0, 600, {"://"}},
      {"generic-secret-assignment", "Hard-coded password or secret", S::kHigh, K::kAssignment,
       R"(((?:password|passwd|pwd|secret|token|api[_-]?key|apikey|access[_-]?key|auth[_-]?key|private[_-]?key|client[_-]?secret)[A-Za-z0-9_.-]{0,20}))"
       ASSIGN R"(["']([^"'\s]{8,128})["'])",
       true, 2, 1, 600,
       {"password", "passwd", "pwd", "secret", "token", "key"}},
      {"generic-high-entropy", "High-entropy string", S::kMedium, K::kHighEntropy,
       R"(([A-Za-z_][A-Za-z0-9_.-]{0,40}))" ASSIGN
       R"(["']?([A-Za-z0-9+/=_-]{20,256})(?:[^A-Za-z0-9+/=_-]|$))",
       false, 2, 1, 320, {}, R"(([A-Za-z_][A-Za-z0-9_.-]{0,40})["']?[ \t]*)",
       R"((?:=|:|:=|=>)[ \t]*["']?([A-Za-z0-9+/=_-]{20,256})(?:[^A-Za-z0-9+/=_-]|$))"},
  };
  return rules;
}
#undef ASSIGN

int Rank(SecretKind k) {
  switch (k) {
    case SecretKind::kAssignment: return 1;
    case SecretKind::kHighEntropy: return 2;
    default: return 0;
  }
}

std::string Lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

bool IsHex(std::string_view s) {
  return std::all_of(s.begin(), s.end(),
                     [](unsigned char c) { return std::isxdigit(c) != 0; });
}

bool HasUpperLowerDigit(std::string_view s) {
  bool u = false, l = false, d = false;
  for (unsigned char c : s) {
    u |= std::isupper(c) != 0;
    l |= std::islower(c) != 0;
    d |= std::isdigit(c) != 0;
  }
  return u && l && d;
}

bool LooksLikeUuid(std::string_view s) {
  if (s.size() != 36) return false;
  for (size_t i = 0; i < s.size(); ++i) {
    bool dash = i == 8 || i == 13 || i == 18 || i == 23;
    if (dash ? s[i] != '-' : !std::isxdigit(static_cast<unsigned char>(s[i]))) return false;
  }
  return true;
}

bool LooksLikePath(std::string_view v) {
  if (v.starts_with('/') || v.starts_with("./") || v.starts_with("~/") ||
      v.starts_with("../")) {
    return true;
  }
  // base64 uses '/' but never next to '.', '-' or '_' in one value (base64url has no '/').
  return v.find('/') != std::string_view::npos &&
         v.find_first_of("._-") != std::string_view::npos;
}

// The last word of a name: "db.content_hash" → "hash".
std::string LastWord(std::string_view key) {
  std::string k = Lower(key);
  while (!k.empty() && (k.back() == '"' || k.back() == '\'')) k.pop_back();
  size_t cut = k.find_last_of("._-");
  return cut == std::string::npos ? k : k.substr(cut + 1);
}

// Names whose values are digests, identifiers or references, not secrets.
bool KeyHoldsNoSecret(std::string_view key, bool assignment) {
  static const std::set<std::string, std::less<>> kDigest = {
      "integrity", "checksum", "checksums", "hash", "sha", "sha1", "sha256", "sha384",
      "sha512", "md5", "digest", "h1", "etag", "uuid", "guid", "id", "commit", "rev",
      "revision", "ref", "version", "fingerprint", "signature", "shasum", "reference",
      "resolved", "tarball", "oid", "nonce", "salt", "image", "icon", "src", "href"};
  static const std::set<std::string, std::less<>> kNotAValue = {
      "file", "path", "url", "uri", "name", "env", "type", "hint", "field", "id", "length",
      "len", "policy", "prompt", "format", "regex", "pattern", "header", "endpoint", "label",
      "placeholder", "message", "msg", "title", "description", "dir", "store", "provider",
      "ref", "key_name", "source", "mode", "kind", "method", "prefix", "suffix", "version"};
  std::string w = LastWord(key);
  if (assignment) return kNotAValue.count(w) > 0;
  return kDigest.count(w) > 0 || kNotAValue.count(w) > 0;
}

// The share of `s` in word-like pieces of at least `min_word` letters ("Vector", "SIMD", "neon"),
// splitting at non-letters and camel case. Identifiers are mostly words; random tokens hardly
// ever hold a run of four letters that reads as one.
double WordShare(std::string_view s, size_t min_word) {
  size_t in_words = 0, run = 0;
  auto close = [&] {
    if (run >= min_word) in_words += run;
    run = 0;
  };
  for (size_t i = 0; i < s.size(); ++i) {
    unsigned char c = static_cast<unsigned char>(s[i]);
    if (!std::isalpha(c)) {
      close();
      continue;
    }
    if (run > 0) {
      unsigned char p = static_cast<unsigned char>(s[i - 1]);
      bool next_lower = i + 1 < s.size() && std::islower(static_cast<unsigned char>(s[i + 1]));
      // "fooBar" → foo|Bar; "SIMDVector" → SIMD|Vector.
      if ((std::islower(p) && std::isupper(c)) || (std::isupper(p) && std::isupper(c) && next_lower)) {
        close();
      }
    }
    ++run;
  }
  close();
  return s.empty() ? 0 : static_cast<double>(in_words) / static_cast<double>(s.size());
}

bool LooksLikeName(std::string_view s) {
  size_t separators = static_cast<size_t>(std::count_if(
      s.begin(), s.end(), [](char c) { return c == '_' || c == '-' || c == '.'; }));
  if (separators >= 2 && WordShare(s, 3) >= 0.4) return true;
  if (separators >= 1 && WordShare(s, 3) >= 0.6) return true;
  return WordShare(s, 4) >= 0.5;
}

bool IsIdentifier(std::string_view s) {
  return !s.empty() && !std::isdigit(static_cast<unsigned char>(s[0])) &&
         std::all_of(s.begin(), s.end(), [](unsigned char c) {
           return std::isalnum(c) || c == '_' || c == '.';
         });
}

size_t CountBase64(std::string_view s) {
  size_t n = 0;
  for (unsigned char c : s) n += (std::isalnum(c) || c == '+' || c == '/') ? 1 : 0;
  return n;
}

}  // namespace

const std::vector<SecretRule>& SecretRules() {
  static const std::vector<SecretRule> rules = MakeRules();
  return rules;
}

double ShannonEntropy(std::string_view s) {
  if (s.empty()) return 0;
  std::array<size_t, 256> counts{};
  for (unsigned char c : s) ++counts[c];
  double h = 0;
  double n = static_cast<double>(s.size());
  for (size_t c : counts) {
    if (c == 0) continue;
    double p = static_cast<double>(c) / n;
    h -= p * std::log2(p);
  }
  return h;
}

bool LooksLikePlaceholder(std::string_view value) {
  static const char* const kMarks[] = {
      "example", "xxxx",  "changeme", "change_me", "change-me", "placeholder", "dummy",
      "your_",   "your-", "yourkey",  "sample",    "redacted",  "****",        "....",
      "<",       ">",     "${",       "{{",        "%(",        "$(",          "process.env",
      "fake",    "notreal", "not_real", "insert",  "replace",   "0123456",     "1234567",
      "abcdefg", "secret_here", "token_here", "here_"};
  std::string lower = Lower(value);
  for (const char* m : kMarks) {
    if (lower.find(m) != std::string::npos) return true;
  }
  static const std::set<std::string, std::less<>> kWords = {
      "password", "passwd", "pass", "pwd", "secret", "changeme", "test", "dummy", "fake",
      "sample", "admin", "root", "user", "username", "token", "null", "none", "todo"};
  if (kWords.count(lower) > 0) return true;
  std::set<char> distinct(value.begin(), value.end());
  return distinct.size() <= 2;
}

std::string SecretFingerprint(std::string_view rule, std::string_view path,
                              std::string_view value) {
  std::string input;
  input.append(rule).append(1, '\0').append(path).append(1, '\0').append(Sha256Hex(value));
  return Sha256Hex(input);
}

std::string MaskSecret(std::string_view value) {
  // Whole UTF-8 characters are not a concern: every rule's value is ASCII.
  return std::string(value.substr(0, 4)) + "…";
}

namespace {

struct LineSpan {
  size_t begin;
  size_t end;  // the newline or the end of data
};

// The snippet: the line around [vb, ve), each hit range on it replaced by its mask, never cut
// through a hit (half a value is still a leak).
std::string Snippet(std::string_view data, LineSpan line, size_t vb, size_t ve,
                    const std::vector<const SecretHit*>& on_line) {
  const size_t kContext = 80;
  size_t lo = vb > line.begin + kContext ? vb - kContext : line.begin;
  size_t hi = std::min(line.end, ve + kContext);
  for (bool moved = true; moved;) {
    moved = false;
    for (const SecretHit* h : on_line) {
      size_t hb = h->begin, he = std::min(h->begin + h->size, line.end);
      if (hb < lo && he > lo) lo = hb, moved = true;
      if (hb < hi && he > hi) hi = he, moved = true;
    }
  }
  std::string out;
  if (lo > line.begin) out += "…";
  size_t at = lo;
  for (const SecretHit* h : on_line) {
    if (h->begin < lo || h->begin >= hi) continue;
    if (h->begin < at) continue;
    out.append(data.substr(at, h->begin - at));
    out += MaskSecret(data.substr(h->begin, h->size));
    at = std::min(h->begin + h->size, hi);
  }
  out.append(data.substr(at, hi - at));
  if (hi < line.end) out += "…";
  // Trim the indentation and a carriage return.
  size_t s = out.find_first_not_of(" \t");
  size_t e = out.find_last_not_of(" \t\r");
  return s == std::string::npos ? std::string() : out.substr(s, e - s + 1);
}

}  // namespace

void AppendSecretFindings(std::string_view data, const std::vector<SecretHit>& hits,
                          std::string_view path, const SecretFilter& keep,
                          std::vector<Finding>* out) {
  const auto& rules = SecretRules();
  int line_no = 1;
  size_t counted = 0;  // newlines before `counted` are in line_no
  for (size_t i = 0; i < hits.size(); ++i) {
    const SecretHit& h = hits[i];
    line_no += static_cast<int>(std::count(data.begin() + static_cast<ptrdiff_t>(counted),
                                           data.begin() + static_cast<ptrdiff_t>(h.begin), '\n'));
    counted = h.begin;
    LineSpan line{0, data.size()};
    size_t prev = h.begin == 0 ? std::string_view::npos : data.rfind('\n', h.begin - 1);
    if (prev != std::string_view::npos) line.begin = prev + 1;
    size_t next = data.find('\n', h.begin);
    if (next != std::string_view::npos) line.end = next;
    std::string_view line_text = data.substr(line.begin, line.end - line.begin);
    if (keep && !keep(h, line_text)) continue;
    const SecretRule& r = rules[h.rule];
    // No hit spans lines and hits are sorted: the line's hits are i's neighbours.
    size_t first = i;
    while (first > 0 && hits[first - 1].begin >= line.begin) --first;
    std::vector<const SecretHit*> on_line;
    for (size_t j = first; j < hits.size() && hits[j].begin < line.end; ++j) {
      on_line.push_back(&hits[j]);
    }
    Finding f;
    f.scanner = "secrets";
    f.rule = std::string(r.id);
    f.title = std::string(r.title);
    f.severity = r.severity;
    f.message = std::string(r.title) + " in a file: rotate it and move it to `steward secret set`";
    f.path = std::string(path);
    f.line = line_no;
    f.column = static_cast<int>(h.begin - line.begin) + 1;
    if (r.kind == SecretKind::kPrivateKey) {
      f.snippet = std::string(data.substr(h.begin, h.size));
    } else {
      f.snippet = Snippet(data, line, h.begin, h.begin + h.size, on_line);
    }
    f.fingerprint = SecretFingerprint(r.id, path, h.value);
    out->push_back(std::move(f));
  }
}

// ---------------------------------------------------------------------------------------------

struct SecretMatcher::Verifier {
  std::regex re;      // anchored at the end: the leftmost match that ends at a given offset
  std::regex head;    // split rules: the head, anchored at the end
  std::regex search;  // the pattern alone, for the keyword engine
};

SecretMatcher::Scratch::~Scratch() {
  if (s_) hs_free_scratch(s_);
}

SecretMatcher::Scratch& SecretMatcher::Scratch::operator=(Scratch&& o) noexcept {
  if (this != &o) {
    if (s_) hs_free_scratch(s_);
    s_ = std::exchange(o.s_, nullptr);
  }
  return *this;
}

SecretMatcher::~SecretMatcher() {
  if (db_) hs_free_database(db_);
}

StatusOr<std::unique_ptr<SecretMatcher>> SecretMatcher::Create(double min_entropy,
                                                               Engine engine) {
  std::unique_ptr<SecretMatcher> m(new SecretMatcher());
  m->min_entropy_ = min_entropy;
  if (engine == Engine::kHyperscan && hs_valid_platform() != HS_SUCCESS) {
    engine = Engine::kKeywords;
  }
  m->engine_ = engine;
  const auto& rules = SecretRules();
  std::vector<std::string> patterns;
  std::vector<const char*> exprs;
  std::vector<unsigned> flags, ids;
  for (size_t i = 0; i < rules.size(); ++i) {
    const bool split = !rules[i].tail.empty();
    patterns.emplace_back(split ? rules[i].tail : rules[i].pattern);
    unsigned f = HS_FLAG_MULTILINE;
    if (rules[i].caseless) f |= HS_FLAG_CASELESS;
    flags.push_back(f);
    ids.push_back(static_cast<unsigned>(i));
    auto syntax = std::regex::ECMAScript | std::regex::optimize;
    if (rules[i].caseless) syntax |= std::regex::icase;
    auto v = std::make_unique<Verifier>();
    try {
      // Anchored at the end: the leftmost match that ends where Hyperscan said.
      v->re = std::regex("(?:" + patterns.back() + ")$", syntax);
      if (split) v->head = std::regex("(?:" + std::string(rules[i].head) + ")$", syntax);
      if (engine == Engine::kKeywords) v->search = std::regex(std::string(rules[i].pattern), syntax);
    } catch (const std::regex_error& e) {
      return Internal("secret rule " + std::string(rules[i].id) + ": " + e.what());
    }
    m->verifiers_.push_back(std::move(v));
  }
  if (engine == Engine::kKeywords) return m;
  for (const auto& p : patterns) exprs.push_back(p.c_str());
  hs_compile_error_t* err = nullptr;
  if (hs_compile_multi(exprs.data(), flags.data(), ids.data(),
                       static_cast<unsigned>(exprs.size()), HS_MODE_BLOCK, nullptr, &m->db_,
                       &err) != HS_SUCCESS) {
    std::string what = err && err->message ? err->message : "unknown error";
    int at = err ? err->expression : -1;
    if (err) hs_free_compile_error(err);
    std::string id = at >= 0 ? std::string(rules[static_cast<size_t>(at)].id) : "?";
    return Internal("compiling secret rule " + id + ": " + what);
  }
  return m;
}

StatusOr<SecretMatcher::Scratch> SecretMatcher::NewScratch() const {
  Scratch s;
  if (db_ == nullptr) return s;  // the keyword engine needs none
  if (hs_alloc_scratch(db_, &s.s_) != HS_SUCCESS) {
    return Internal("allocating Hyperscan scratch space");
  }
  return s;
}

bool SecretMatcher::Accept(const SecretRule& r, std::string_view value,
                           std::string_view key) const {
  if (LooksLikePlaceholder(value)) return false;
  // Stripe's test-mode and publishable keys are meant to be shared; only live secret keys
  // (their own rule) are leaks.
  if (r.kind == SecretKind::kAssignment || r.kind == SecretKind::kHighEntropy) {
    for (const char* p : {"sk_test_", "rk_test_", "pk_test_", "pk_live_"}) {
      if (value.starts_with(p)) return false;
    }
  }
  switch (r.kind) {
    case SecretKind::kToken:
      // Vendor formats are specific already; this only drops patterned fakes ("ghp_abab…").
      return ShannonEntropy(value) >= 2.5;
    case SecretKind::kUrlCredentials:
      return true;  // "${DB_PASSWORD}", "%(password)s" are placeholders already
    case SecretKind::kAssignment: {
      if (KeyHoldsNoSecret(key, true) || LooksLikePath(value)) return false;
      if (value.find("://") != std::string_view::npos) return false;
      int classes = 0;
      bool u = false, l = false, d = false, o = false;
      for (unsigned char c : value) {
        u |= std::isupper(c) != 0;
        l |= std::islower(c) != 0;
        d |= std::isdigit(c) != 0;
        o |= std::isalnum(c) == 0;
      }
      classes = u + l + d + o;
      if (classes < 2) return false;
      // A name, not a value: `private_key: "_DSAPrivateKey"` (a type annotation).
      if (IsIdentifier(value) && WordShare(value, 3) >= 0.7) return false;
      // A short string cannot reach min_entropy (at most log2(length) bits), so the bar is
      // relative to what its length allows.
      double bar = std::min(min_entropy_, std::log2(static_cast<double>(value.size()))) - 0.5;
      return ShannonEntropy(value) >= bar;
    }
    case SecretKind::kHighEntropy: {
      if (KeyHoldsNoSecret(key, false) || LooksLikePath(value) || LooksLikeUuid(value)) {
        return false;
      }
      std::string lower = Lower(value);
      for (const char* sri : {"sha1-", "sha256-", "sha384-", "sha512-", "md5-"}) {
        if (lower.starts_with(sri)) return false;
      }
      // Hex tops out at 4 bits per character: digests, commit ids, colours. A hex secret is
      // caught by the keyword rules.
      if (IsHex(value)) return false;
      // Names made of words ("AdvSIMD_2VectorArg_Intrinsic") reach 4 bits per character too.
      // On identifiers from /usr/include and Python's site-packages that pass every other
      // test, this drops ~9 in 10, and ~3% of random base64 values (more of base64url ones).
      if (LooksLikeName(value)) return false;
      return HasUpperLowerDigit(value) && ShannonEntropy(value) >= min_entropy_;
    }
    case SecretKind::kPrivateKey:
      return true;
  }
  return false;
}

bool SecretMatcher::Verify(std::string_view data, size_t rule, size_t end,
                           SecretHit* hit) const {
  const SecretRule& r = SecretRules()[rule];
  size_t lo = end > r.max_match ? end - r.max_match : 0;
  // The match never spans lines; the last character may be the newline that ended it.
  size_t scan_to = end > 0 ? end - 1 : 0;
  for (size_t i = scan_to; i > lo; --i) {
    if (data[i - 1] == '\n') {
      lo = i;
      break;
    }
  }
  const char* first = data.data() + lo;
  const char* last = data.data() + end;
  auto flags = std::regex_constants::match_default;
  if (lo > 0) flags |= std::regex_constants::match_prev_avail;
  std::cmatch m;
  if (!std::regex_search(first, last, m, verifiers_[rule]->re, flags)) return false;
  const bool split = !r.tail.empty();
  int value_group = split ? 1 : r.value_group;
  if (!m[value_group].matched) return false;
  size_t begin = lo + static_cast<size_t>(m.position(value_group));
  std::string_view value = data.substr(begin, static_cast<size_t>(m.length(value_group)));
  std::string_view key;
  if (split) {
    // The head ends where the tail starts, on the same line, and is short (a name, a quote,
    // blanks): 64 bytes hold it.
    size_t head_end = lo + static_cast<size_t>(m.position(0));
    size_t head_lo = std::max(lo, head_end > 64 ? head_end - 64 : 0);
    std::cmatch hm;
    auto hflags = head_lo > 0 ? std::regex_constants::match_prev_avail
                              : std::regex_constants::match_default;
    if (!std::regex_search(data.data() + head_lo, data.data() + head_end, hm,
                           verifiers_[rule]->head, hflags) ||
        !hm[1].matched) {
      return false;
    }
    key = data.substr(head_lo + static_cast<size_t>(hm.position(1)),
                      static_cast<size_t>(hm.length(1)));
  } else if (r.key_group > 0 && m[r.key_group].matched) {
    key = data.substr(lo + static_cast<size_t>(m.position(r.key_group)),
                      static_cast<size_t>(m.length(r.key_group)));
  }
  hit->rule = rule;
  hit->begin = begin;
  hit->size = value.size();
  hit->value = value;
  if (r.kind == SecretKind::kPrivateKey) {
    // The header names the block; the secret is the body up to its END line.
    size_t body = begin + value.size();
    size_t stop = data.find("-----END", body);
    if (stop == std::string_view::npos || stop - body > (64u << 10)) {
      stop = std::min(data.size(), body + 4096);
    }
    std::string_view text = data.substr(body, stop - body);
    std::string lower = Lower(text);
    if (CountBase64(text) < 64 || lower.find("...") != std::string::npos ||
        lower.find("xxxx") != std::string::npos || lower.find("example") != std::string::npos) {
      return false;
    }
    hit->value = text;
    return true;
  }
  return Accept(r, value, key);
}

void SecretMatcher::KeywordCandidates(std::string_view data,
                                      std::vector<Candidate>* out) const {
  std::string lower = Lower(data);
  const auto& rules = SecretRules();
  for (size_t i = 0; i < rules.size(); ++i) {
    const SecretRule& r = rules[i];
    // The generic rule has no keyword of its own: its assignment operators stand in.
    std::vector<std::string_view> keywords = r.keywords;
    if (keywords.empty()) keywords = {"=", ":"};
    // A match holding the keyword at `at` lies within max_match of it. The regex runs on a
    // window of the line around it, never on a whole (maybe megabytes long) line: libstdc++'s
    // regex recurses once per character. Windows reach 3 × max_match ahead, so a keyword
    // within 2 × max_match of the last window's start needs no window of its own.
    const size_t m = r.max_match;
    std::set<size_t> starts;
    for (std::string_view kw : keywords) {
      for (size_t at = lower.find(kw); at != std::string::npos; at = lower.find(kw, at + 1)) {
        starts.insert(at);
      }
    }
    size_t covered = 0;  // keywords before this have been in a window
    bool any = false;
    // The line holding the keyword, found again only when the (sorted) keywords pass its end:
    // a megabyte-long line has thousands of windows, and each would scan the line again.
    size_t line_begin = 0, line_end = 0;
    for (size_t at : starts) {
      if (any && at < covered) continue;
      if (!any || at >= line_end) {
        line_begin = lower.rfind('\n', at);
        line_begin = line_begin == std::string::npos ? 0 : line_begin + 1;
        line_end = lower.find('\n', at);
        if (line_end == std::string::npos) line_end = lower.size();
      }
      any = true;
      size_t begin = std::max(line_begin, at > m ? at - m : 0);
      size_t end = std::min(line_end, at + 3 * m);
      covered = std::min(end, at + 2 * m);
      if (end == line_end) covered = line_end;
      auto flags = begin > line_begin ? std::regex_constants::match_prev_avail
                                      : std::regex_constants::match_default;
      for (std::cregex_iterator it(data.data() + begin, data.data() + end,
                                   verifiers_[i]->search, flags),
           stop;
           it != stop; ++it) {
        size_t match_end = begin + static_cast<size_t>(it->position(0) + it->length(0));
        // Cut by the window, not ended by the text: its keyword's own window has it whole.
        if (match_end == end && end < line_end) continue;
        out->push_back(Candidate{static_cast<unsigned>(i), match_end});
      }
    }
  }
}

void SecretMatcher::FindAwsSecretsNearKeys(std::string_view data,
                                           std::vector<SecretHit>* hits) const {
  const auto& rules = SecretRules();
  static const size_t kKeyId = 0, kSecret = 1;
  std::vector<SecretHit> found;
  for (const SecretHit& h : *hits) {
    if (h.rule != kKeyId) continue;
    // Three lines either side of the key id.
    size_t lo = h.begin, hi = h.begin;
    for (int n = 0; lo > 0; --lo) {
      if (data[lo - 1] == '\n' && ++n == 4) break;
    }
    for (int n = 0; hi < data.size(); ++hi) {
      if (data[hi] == '\n' && ++n == 4) break;
    }
    auto is_b64 = [](unsigned char c) { return std::isalnum(c) || c == '+' || c == '/'; };
    size_t i = lo;
    while (i < hi) {
      if (!is_b64(static_cast<unsigned char>(data[i]))) {
        ++i;
        continue;
      }
      size_t j = i;
      while (j < hi && is_b64(static_cast<unsigned char>(data[j]))) ++j;
      std::string_view run = data.substr(i, j - i);
      bool followed_by_pad = j < data.size() && data[j] == '=';
      if (run.size() == 40 && !followed_by_pad && HasUpperLowerDigit(run) &&
          ShannonEntropy(run) >= std::min(min_entropy_, 4.0) &&
          Accept(rules[kSecret], run, "")) {
        found.push_back(SecretHit{kSecret, i, run.size(), run});
      }
      i = j;
    }
  }
  hits->insert(hits->end(), found.begin(), found.end());
}

Status SecretMatcher::Find(std::string_view data, Scratch* scratch,
                           std::vector<SecretHit>* out) const {
  out->clear();
  if (data.size() > 0xffffffffu) return InvalidArgument("buffer larger than 4 GiB");
  std::vector<Candidate> candidates;
  auto on_match = [](unsigned int id, unsigned long long /*from*/, unsigned long long to,
                     unsigned int /*flags*/, void* ctx) -> int {
    auto* c = static_cast<std::vector<Candidate>*>(ctx);
    // A pathological input (megabytes of "a=…") must not exhaust memory: the first million
    // candidates are plenty for a report.
    if (c->size() >= 1000000) return 1;
    c->push_back(Candidate{id, static_cast<size_t>(to)});
    return 0;
  };
  if (engine_ == Engine::kKeywords) {
    KeywordCandidates(data, &candidates);
  } else {
    hs_error_t rc = hs_scan(db_, data.data(), static_cast<unsigned>(data.size()), 0,
                            scratch->s_, on_match, &candidates);
    if (rc != HS_SUCCESS && rc != HS_SCAN_TERMINATED) {
      return Internal("Hyperscan scan failed with code " + std::to_string(rc));
    }
  }
  std::set<std::pair<size_t, size_t>> seen;  // (rule, begin)
  std::vector<SecretHit> hits;
  for (const Candidate& c : candidates) {
    SecretHit h;
    if (!Verify(data, c.rule, c.end, &h)) continue;
    if (seen.insert({h.rule, h.begin}).second) hits.push_back(h);
  }
  if (candidates.empty()) return Status::OK();
  FindAwsSecretsNearKeys(data, &hits);
  const auto& rules = SecretRules();
  std::sort(hits.begin(), hits.end(), [](const SecretHit& a, const SecretHit& b) {
    return std::tie(a.begin, a.rule) < std::tie(b.begin, b.rule);
  });
  // Hits are sorted by start and no value is longer than a rule's window, so overlapping hits
  // are neighbours within kMaxSpan.
  const size_t kMaxSpan = 70000;
  for (size_t i = 0; i < hits.size(); ++i) {
    const SecretHit& h = hits[i];
    int rank = Rank(rules[h.rule].kind);
    bool shadowed = false;
    for (size_t j = i; j-- > 0 && !shadowed && hits[j].begin + kMaxSpan > h.begin;) {
      const SecretHit& o = hits[j];
      if (o.begin + o.size <= h.begin) continue;
      int orank = Rank(rules[o.rule].kind);
      // A more specific rule wins; between equals, the first (an AWS key found twice).
      shadowed = orank < rank || (orank == rank && o.rule == h.rule);
    }
    for (size_t j = i + 1; j < hits.size() && !shadowed && hits[j].begin < h.begin + h.size;
         ++j) {
      shadowed = Rank(rules[hits[j].rule].kind) < rank;
    }
    if (!shadowed) out->push_back(h);
  }
  return Status::OK();
}

}  // namespace steward::scan
