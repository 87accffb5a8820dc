// An offline OSV database: advisories in the OSV schema (https://ossf.github.io/osv-schema/),
// one JSON file each, as osv.dev's all.zip unpacks, loaded from a directory tree and indexed
// by (ecosystem, package name) for the dependency scanner.
//
// Matching follows the schema: an affected entry applies to a version listed in its
// `versions`, or inside one of its SEMVER or ECOSYSTEM ranges — events sorted by version,
// "introduced" opening (0 = from the first version), "fixed" closing before and
// "last_affected" closing after its version, "limit" bounding the range from above — compared
// with the ecosystem's version order (versions.h). GIT ranges name commits, which lockfiles do
// not hold, and are not used. Withdrawn advisories are kept out of the index.
// Names are compared as each registry does: PyPI per PEP 503 (case and runs of -_. folded),
// Packagist case-insensitively, the others exactly.
//
// Severity: the CVSS v3 base score of a CVSS_V3 vector (≥9 critical, ≥7 high, ≥4 medium,
// >0 low), else database_specific.severity (GHSA's LOW/MODERATE/HIGH/CRITICAL), else the CVSS
// v2 base score, else medium.
//
// Contract: Load never stops at a bad file: an unreadable file, invalid JSON (with its line)
// or an entry that breaks the schema is a Problem and the rest loads. It fails only when `dir`
// cannot be listed. Files are read and parsed on a few threads.
// Thread safety: a loaded database is immutable; Affecting() may be called concurrently.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>

#include "base/status.h"
#include "scan/finding.h"
#include "scan/lockfiles.h"

namespace steward::scan {

struct OsvEvent {
  enum class Kind { kIntroduced, kFixed, kLastAffected, kLimit };
  Kind kind = Kind::kIntroduced;
  std::string version;
};

struct OsvRange {
  enum class Type { kSemver, kEcosystem, kGit };
  Type type = Type::kEcosystem;
  std::vector<OsvEvent> events;
};

struct OsvAffected {
  std::string ecosystem;  // as written, e.g. "PyPI", "Debian:11"
  std::string name;
  std::vector<OsvRange> ranges;
  std::vector<std::string> versions;  // explicit list
};

struct Advisory {
  std::string id;
  std::vector<std::string> aliases;
  std::string summary;
  std::string details;
  Severity severity = Severity::kMedium;
  std::optional<double> cvss_score;  // the base score the severity came from, if any
  std::vector<OsvAffected> affected;
  bool withdrawn = false;
  std::string path;  // the file it came from

  // Whether `version` of the package `affected[index]` names falls in that entry.
  bool Affects(size_t index, std::string_view version) const;
  // The versions that fix `affected[index]`, in the order the advisory lists them.
  std::vector<std::string> FixedVersions(size_t index) const;
};

// PyPI: PEP 503; Packagist: lowercase; others unchanged. The key the index uses.
std::string NormalizePackageName(std::string_view ecosystem, std::string_view name);

// Parses one OSV JSON document. Problems (schema errors; JSON syntax errors with their line)
// are appended with `path`; nullopt when nothing usable is left.
std::optional<Advisory> ParseAdvisory(const std::string& path, std::string_view text,
                                      std::vector<Problem>* problems);

// The CVSS v3.x or v2 base score of a vector string ("CVSS:3.1/AV:N/AC:L/..." or
// "AV:N/AC:L/Au:N/C:P/I:P/A:P"); nullopt when it is not a complete vector.
std::optional<double> CvssBaseScore(std::string_view vector);

struct OsvLoadOptions {
  // When not empty, only advisories naming one of these packages (any version) are kept: a
  // scan knows its packages before it loads, and most of a database is about others. The rest
  // are still read and JSON syntax errors in them reported, but not checked further.
  std::vector<Package> only_packages;
};

class OsvDatabase {
 public:
  // Loads every *.json file under `dir` (recursively). Problems with single files are
  // appended to *problems; fails only when `dir` is not a readable directory.
  static StatusOr<OsvDatabase> Load(const std::string& dir, std::vector<Problem>* problems,
                                    const OsvLoadOptions& options = {});
  // Builds a database from advisories already parsed (tests, other sources).
  static OsvDatabase FromAdvisories(std::vector<Advisory> advisories);

  size_t size() const { return advisories_.size(); }
  // Advisories with an affected entry naming `p` whose versions or ranges include p.version,
  // each once, ordered by id.
  std::vector<const Advisory*> Affecting(const Package& p) const;
  // The affected entries of `a` that name `p` and include its version (indexes into
  // a.affected); what Affecting() matched.
  std::vector<size_t> MatchingEntries(const Advisory& a, const Package& p) const;

 private:
  void BuildIndex();

  std::vector<Advisory> advisories_;
  // "ecosystem\0normalized name" -> (advisory, affected entry)
  std::unordered_map<std::string, std::vector<std::pair<uint32_t, uint32_t>>> index_;
};

}  // namespace steward::scan
