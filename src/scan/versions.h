// Version semantics of the package ecosystems the dependency scanner knows, as OSV applies
// them to its ECOSYSTEM and SEMVER ranges.
//
//   kSemver    SemVer 2.0 (npm, crates.io): numeric core, pre-releases before the release and
//              ordered identifier by identifier, build metadata ignored. Lenient where real
//              lockfiles are: a leading 'v' or '=', fewer or more than three core numbers
//              (missing ones are 0).
//   kPackagist Composer's versions read as kSemver, case-insensitively ("v1.2.3", "1.0.0-RC1",
//              and "1.0.0beta1" without the hyphen).
//   kGo        Go modules: SemVer with a 'v' prefix (optional here, OSV drops it);
//              "+incompatible" is build metadata and pseudo-versions
//              (v0.0.0-20191109021931-daa7c04131f5) order as the pre-releases they are.
//   kPep440    Python (PEP 440): epochs (1!0.1), pre (a, b, rc), post and dev releases, local
//              versions (+ubuntu1), with the spellings PEP 440 normalises (alpha, c, -1, r...).
//   kRubyGems  Gem::Version: segments split on '.' and letter/digit boundaries, '-' read as
//              ".pre.", trailing zeros ignored, any letter segment makes a pre-release.
//
// Thread safety: pure functions.
#pragma once

#include <optional>
#include <string_view>

namespace steward::scan {

enum class VersionScheme { kSemver, kPackagist, kGo, kPep440, kRubyGems };

// The scheme of an OSV ecosystem name ("npm", "PyPI", "Go", "crates.io", "RubyGems",
// "Packagist"); nullopt for ecosystems Steward does not know.
std::optional<VersionScheme> SchemeForEcosystem(std::string_view ecosystem);
std::string_view SchemeName(VersionScheme scheme);  // "SemVer", "PEP 440", ...

bool IsValidVersion(VersionScheme scheme, std::string_view version);

// <0 when a < b, 0 when equal, >0 when a > b; nullopt when either is not a version of `scheme`.
std::optional<int> CompareVersions(VersionScheme scheme, std::string_view a, std::string_view b);

}  // namespace steward::scan
