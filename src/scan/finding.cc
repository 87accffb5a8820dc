#include "scan/finding.h"

#include <algorithm>
#include <cctype>
#include <iterator>
#include <tuple>
#include <utility>

namespace steward::scan {

std::string_view SeverityName(Severity s) {
  switch (s) {
    case Severity::kInfo: return "info";
    case Severity::kLow: return "low";
    case Severity::kMedium: return "medium";
    case Severity::kHigh: return "high";
    case Severity::kCritical: return "critical";
  }
  return "info";
}

std::optional<Severity> ParseSeverity(std::string_view text) {
  std::string lower;
  for (char c : text) lower += static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  if (lower == "info") return Severity::kInfo;
  if (lower == "low") return Severity::kLow;
  if (lower == "medium" || lower == "moderate") return Severity::kMedium;
  if (lower == "high") return Severity::kHigh;
  if (lower == "critical") return Severity::kCritical;
  return std::nullopt;
}

std::string Problem::ToString() const {
  if (line > 0) return path + ":" + std::to_string(line) + ": " + message;
  return path + ": " + message;
}

void ScanResult::Merge(ScanResult other) {
  findings.insert(findings.end(), std::make_move_iterator(other.findings.begin()),
                  std::make_move_iterator(other.findings.end()));
  problems.insert(problems.end(), std::make_move_iterator(other.problems.begin()),
                  std::make_move_iterator(other.problems.end()));
  files += other.files;
  bytes += other.bytes;
}

void ScanResult::Sort() {
  std::stable_sort(findings.begin(), findings.end(), [](const Finding& a, const Finding& b) {
    return std::make_tuple(-static_cast<int>(a.severity), std::cref(a.path), a.line,
                           std::cref(a.rule), std::cref(a.commit)) <
           std::make_tuple(-static_cast<int>(b.severity), std::cref(b.path), b.line,
                           std::cref(b.rule), std::cref(b.commit));
  });
  std::stable_sort(problems.begin(), problems.end(), [](const Problem& a, const Problem& b) {
    return std::tie(a.path, a.line) < std::tie(b.path, b.line);
  });
}

}  // namespace steward::scan
