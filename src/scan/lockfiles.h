// Lockfile parsers of the dependency scanner: what exact package versions a project installs.
//
// Formats, chosen by file name (IsLockfileName):
//   package-lock.json, npm-shrinkwrap.json  npm; v1 nested "dependencies", v2/v3 "packages"
//   yarn.lock                               npm; classic v1 text and berry (YAML)
//   requirements*.txt                       PyPI; only exact pins (name==version)
//   poetry.lock                             PyPI; TOML [[package]]
//   go.sum                                  Go; modules whose code is built (see lockfiles_text.cc)
//   Cargo.lock                              crates.io; TOML [[package]] from the registry
//   Gemfile.lock, gems.locked               RubyGems; the GEM section's specs
//   composer.lock                           Packagist; "packages" and "packages-dev"
// Packages installed from elsewhere (git, local paths, workspaces) have no registry version an
// advisory could name and are left out.
//
// Contract: never throws or crashes on any input. Each package carries the lockfile's path as
// given and the 1-based line where its entry names it; a name@version appears once per file
// (the first entry). Input that cannot be read becomes a Problem with path and line, and the
// entries around it are still read (for JSON, the entries before a syntax error).
// Thread safety: pure functions.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "scan/finding.h"

namespace steward::scan {

struct Package {
  std::string ecosystem;  // OSV's name: npm, PyPI, Go, crates.io, RubyGems, Packagist
  std::string name;
  std::string version;  // as the lockfile writes it ("v1.2.3" in go.sum)
  std::string path;     // the lockfile
  int line = 0;
};

struct LockfileParse {
  std::vector<Package> packages;
  std::vector<Problem> problems;
};

// Parses `text` with the parser `path`'s file name selects; an unknown name gives nothing.
LockfileParse ParseLockfile(const std::string& path, std::string_view text);

// Whether a file of this name (no directory) is a lockfile ParseLockfile reads.
bool IsLockfileName(std::string_view filename);

}  // namespace steward::scan
