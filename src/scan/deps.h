// The dependency scanner: finds lockfiles under a tree, reads the exact package versions they
// install (lockfiles.h) and reports each one an OSV advisory affects (osv.h), offline.
//
// Contract: ScanDependencies never stops at bad input. A lockfile or advisory that cannot be
// read whole is a Problem (path and line) and everything else is still scanned; a missing or
// unreadable database is a Problem too, with no findings. It yields one Finding per (package,
// advisory): scanner "deps", rule = the advisory id, the lockfile entry's path (relative to
// `root`, '/'-separated) and line, the fixed versions and aliases, and a fingerprint
// sha256(id, ecosystem, name, version, path) that stays put when the lockfile's lines move.
// Directories named .git and node_modules are not entered (node_modules/.package-lock.json
// repeats package-lock.json). The database is loaded once, and only when a lockfile was found;
// it keeps only advisories naming a package found (OsvLoadOptions), so JSON syntax errors are
// reported for every advisory file but schema errors only for those about scanned packages.
// Thread safety: independent calls may run concurrently.
#pragma once

#include <filesystem>
#include <string>
#include <vector>

#include "scan/finding.h"
#include "scan/lockfiles.h"
#include "scan/osv.h"

namespace steward::scan {

struct DependencyScanOptions {
  std::string osv_db;  // directory of OSV JSON files, searched recursively
};

ScanResult ScanDependencies(const std::filesystem::path& root, const DependencyScanOptions& o);

// The findings for packages already parsed, against a loaded database (no file access).
std::vector<Finding> MatchPackages(const std::vector<Package>& packages, const OsvDatabase& db);

}  // namespace steward::scan
