// libFuzzer entry point for the dependency scanner's parsers of outside input: the eight
// lockfile formats (files from the user's checkout, or from whatever a pull request brings),
// OSV advisories (a downloaded database) and the version orders they are matched with.
//
// Input: the first byte picks the parser ('0' package-lock.json, '1' yarn.lock,
// '2' requirements.txt, '3' poetry.lock, '4' go.sum, '5' Cargo.lock, '6' Gemfile.lock,
// '7' composer.lock, '8' an OSV advisory, '9' two versions on two lines); the rest is the text.
// Any text must parse without crashing, every package must have a name, a version and a line
// inside the text, and every version order must be antisymmetric.
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <vector>

#include "scan/lockfiles.h"
#include "scan/osv.h"
#include "scan/versions.h"

namespace {

using namespace steward::scan;

int Sign(int c) { return c < 0 ? -1 : (c > 0 ? 1 : 0); }

void CheckVersions(std::string_view text) {
  size_t nl = text.find('\n');
  std::string_view a = text.substr(0, nl);
  std::string_view b = nl == std::string_view::npos ? std::string_view() : text.substr(nl + 1);
  for (VersionScheme s : {VersionScheme::kSemver, VersionScheme::kPackagist, VersionScheme::kGo,
                          VersionScheme::kPep440, VersionScheme::kRubyGems}) {
    auto ab = CompareVersions(s, a, b);
    auto ba = CompareVersions(s, b, a);
    if (ab.has_value() != ba.has_value()) std::abort();
    if (ab && Sign(*ab) != -Sign(*ba)) std::abort();
    if (IsValidVersion(s, a) && CompareVersions(s, a, a) != 0) std::abort();
  }
}

void CheckAdvisory(std::string_view text) {
  std::vector<Problem> problems;
  std::optional<Advisory> a = ParseAdvisory("fuzz.json", text, &problems);
  if (!a) return;
  if (a->id.empty()) std::abort();
  for (size_t i = 0; i < a->affected.size(); ++i) {
    a->Affects(i, "1.0.0");
    a->Affects(i, a->affected[i].versions.empty() ? "0" : a->affected[i].versions[0]);
    a->FixedVersions(i);
  }
  OsvDatabase db = OsvDatabase::FromAdvisories({*a});
  for (const OsvAffected& af : a->affected)
    db.Affecting(Package{af.ecosystem, af.name, "1.2.3", "x", 1});
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  static const char* const kNames[] = {"package-lock.json", "yarn.lock",    "requirements.txt",
                                       "poetry.lock",       "go.sum",       "Cargo.lock",
                                       "Gemfile.lock",      "composer.lock"};
  unsigned selector = static_cast<uint8_t>(data[0] - '0') % 10;
  std::string_view text(reinterpret_cast<const char*>(data) + 1, size - 1);
  if (selector == 8) {
    CheckAdvisory(text);
    return 0;
  }
  if (selector == 9) {
    CheckVersions(text);
    return 0;
  }
  int lines = static_cast<int>(std::count(text.begin(), text.end(), '\n')) + 1;
  LockfileParse p = ParseLockfile(std::string("dir/") + kNames[selector], text);
  for (const Package& pkg : p.packages) {
    if (pkg.name.empty() || pkg.version.empty() || pkg.line < 1 || pkg.line > lines) std::abort();
  }
  for (const Problem& problem : p.problems) {
    if (problem.line < 0 || problem.line > lines || problem.path.empty()) std::abort();
  }
  return 0;
}
