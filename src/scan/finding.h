// What every scanner reports: findings (something risky, with a place and a severity) and
// problems (an input that could not be scanned whole — reported, never stopping the rest).
//
// Contract: a Finding never carries a secret value — secret findings mask it in `snippet` and
// `message`, and their fingerprint is built from a hash of the value, not the value. The
// fingerprint is stable across runs and line moves so baselines keep known findings quiet.
// Paths are relative to the scanned root, '/'-separated.
// Thread safety: plain values.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace steward::scan {

enum class Severity { kInfo = 0, kLow = 1, kMedium = 2, kHigh = 3, kCritical = 4 };

// "info", "low", "medium", "high", "critical".
std::string_view SeverityName(Severity s);
// Case-insensitive; also OSV/GHSA's "moderate" (= medium). nullopt for anything else.
std::optional<Severity> ParseSeverity(std::string_view text);

struct Finding {
  std::string scanner;      // "secrets", "deps" or "config"
  std::string rule;         // stable id: "aws-access-key-id", "GHSA-xxxx-…", "dockerfile-root-user"
  std::string title;        // short: "AWS access key ID"
  Severity severity = Severity::kMedium;
  std::string message;      // one sentence: what is wrong and what would be right
  std::string path;         // relative to the scanned root
  int line = 0;             // 1-based; 0 when not known
  int column = 0;           // 1-based; 0 when not known
  std::string commit;       // secrets found in git history: the commit that added it
  std::string snippet;      // the offending line, secrets masked; may be empty
  std::string fingerprint;  // stable id for baselines (hex)
  // Dependencies only.
  std::string ecosystem;    // OSV's name: "npm", "PyPI", "Go", "crates.io", "RubyGems", "Packagist"
  std::string package;
  std::string version;
  std::vector<std::string> fixed;    // versions that fix it, when the advisory says
  std::vector<std::string> aliases;  // CVE ids and other names of the advisory
  std::string url;                   // advisory or rule documentation
};

// An input that could not be scanned (whole or in part): "path:line: message".
struct Problem {
  std::string path;
  int line = 0;
  std::string message;
  std::string ToString() const;
};

struct ScanResult {
  std::vector<Finding> findings;
  std::vector<Problem> problems;
  uint64_t files = 0;  // files read
  uint64_t bytes = 0;  // bytes read

  // Appends other's findings and problems and adds its counters.
  void Merge(ScanResult other);
  // Orders findings by severity (highest first), then path, line, rule — a stable report.
  void Sort();
};

}  // namespace steward::scan
