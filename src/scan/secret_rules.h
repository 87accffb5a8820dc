// The secret scanner's rule table and its matching engine.
//
// Every rule is one pattern written in the subset that Hyperscan and std::regex (ECMAScript)
// read alike; a capture group holds the secret's value. SecretMatcher compiles all patterns into
// one Hyperscan database, so a buffer is read once whatever the number of rules (Hyperscan
// factors out each pattern's literal — the rule's `keywords` — and only runs a pattern's
// automaton where its literal occurs: the keyword prefilter other scanners do by hand). Hyperscan
// reports where a match ends; the rare candidates are then re-read with std::regex in a small
// window to find the value, and checked: placeholders ("EXAMPLE", "xxxx", "${VAR}", "<token>",
// "changeme", all-same characters) and generic values of low Shannon entropy are dropped.
//
// Thread safety: the rule table is constant; a SecretMatcher is immutable after Create() and may
// be shared by threads, each with its own Scratch.
#pragma once

#include <cstddef>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "base/status.h"
#include "scan/finding.h"

struct hs_database;
struct hs_scratch;

namespace steward::scan {

enum class SecretKind {
  kToken,          // a vendor format (prefix + body): placeholders dropped
  kAssignment,     // password/secret/token = "…": entropy relative to the value's length
  kHighEntropy,    // any key = base64-ish value: entropy ≥ min_entropy and mixed characters
  kPrivateKey,     // a PEM block: the value is the block's body
  kUrlCredentials  // scheme://user:pass@host: the value is the password
};

struct SecretRule {
  std::string_view id;
  std::string_view title;
  Severity severity;
  SecretKind kind;
  std::string_view pattern;
  bool caseless = false;
  int value_group = 1;  // capture group of the value
  int key_group = 0;    // capture group of the assigned name (kHighEntropy), 0: none
  size_t max_match = 600;  // longest match in bytes: the verification window
  std::vector<std::string_view> keywords;  // literals every match contains (case-insensitive)
  // A rule may be split in two when its head is costly: `pattern` = `head` + `tail`, where
  // Hyperscan and the end-anchored verification run `tail` alone (its group 1 is the value) and
  // `head` (group 1: the name) is then checked right before where `tail` starts. The generic
  // rule's name part costs Hyperscan 60× its value part, and std::regex, trying every start
  // in a window, 100× on a minified line with thousands of assignments.
  std::string_view head = {};
  std::string_view tail = {};
};

// All rules, in a fixed order (a rule's index is its Hyperscan id).
const std::vector<SecretRule>& SecretRules();

// A secret in a buffer: the rule (index into SecretRules()) and the value's byte range. For a
// private key the range is the header line ("-----BEGIN … PRIVATE KEY-----") and `value` the
// body that follows it.
struct SecretHit {
  size_t rule = 0;
  size_t begin = 0;
  size_t size = 0;
  std::string_view value;
};

// Shannon entropy in bits per character.
double ShannonEntropy(std::string_view s);
// True for documentation values: EXAMPLE, xxxx, ${VAR}, <token>, changeme, all-same characters…
bool LooksLikePlaceholder(std::string_view value);
// The finding fingerprint: hex SHA-256 of rule, path and the value's SHA-256 (never the value).
std::string SecretFingerprint(std::string_view rule, std::string_view path,
                              std::string_view value);
// The value shown to people: its first 4 characters and "…".
std::string MaskSecret(std::string_view value);

// Appends a finding (scanner "secrets") for each hit in `data` that `keep(hit, line)` accepts
// — `line` is the raw line holding the value, for the allowlist's regexes. Lines and columns
// are counted in `data`; the snippet is the line (at most ~200 bytes around the value) with
// every hit on it masked, a private key's snippet its header only. `hits` by offset.
using SecretFilter = std::function<bool(const SecretHit&, std::string_view line)>;
void AppendSecretFindings(std::string_view data, const std::vector<SecretHit>& hits,
                          std::string_view path, const SecretFilter& keep,
                          std::vector<Finding>* out);

class SecretMatcher {
 public:
  // Per-thread Hyperscan working memory.
  class Scratch {
   public:
    Scratch() = default;
    ~Scratch();
    Scratch(Scratch&& o) noexcept : s_(o.s_) { o.s_ = nullptr; }
    Scratch& operator=(Scratch&& o) noexcept;
    Scratch(const Scratch&) = delete;
    Scratch& operator=(const Scratch&) = delete;

   private:
    friend class SecretMatcher;
    hs_scratch* s_ = nullptr;
  };

  enum class Engine {
    kHyperscan,  // one pass over the buffer for all rules (needs SSSE3: every x86-64 since 2006)
    kKeywords,   // the portable one: each rule's keywords located in a lowercase copy, its
                 // std::regex run on the lines holding one. Same findings, much slower.
  };
  // Compiles every rule; min_entropy is the threshold of the generic high-entropy rule.
  // kHyperscan falls back to kKeywords on a CPU Hyperscan does not support.
  static StatusOr<std::unique_ptr<SecretMatcher>> Create(double min_entropy,
                                                          Engine engine = Engine::kHyperscan);
  Engine engine() const { return engine_; }
  ~SecretMatcher();

  StatusOr<Scratch> NewScratch() const;

  // The secrets in `data`, by offset. A generic rule's hit overlapping a vendor rule's is
  // dropped (one secret, one finding); an AWS secret key is also found by its shape alone within
  // three lines of an AWS access key id.
  Status Find(std::string_view data, Scratch* scratch, std::vector<SecretHit>* out) const;

 private:
  SecretMatcher() = default;
  struct Verifier;
  struct Candidate {
    unsigned rule;
    size_t end;  // where a match of the rule's pattern ends
  };
  hs_database* db_ = nullptr;
  Engine engine_ = Engine::kHyperscan;
  double min_entropy_ = 4.0;
  std::vector<std::unique_ptr<Verifier>> verifiers_;
  bool Verify(std::string_view data, size_t rule, size_t end, SecretHit* hit) const;
  void KeywordCandidates(std::string_view data, std::vector<Candidate>* out) const;
  bool Accept(const SecretRule& r, std::string_view value, std::string_view key) const;
  void FindAwsSecretsNearKeys(std::string_view data, std::vector<SecretHit>* hits) const;
};

}  // namespace steward::scan
