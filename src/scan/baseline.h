// A baseline: the fingerprints of findings a team has seen and accepted, so that a scan used as
// a gate reports only what is new. It works for every scanner: it matches Finding::fingerprint,
// which never contains a secret. Format: docs/formats/scan-baseline.md.
//
// Thread safety: plain values and free functions; WriteBaseline replaces the file atomically
// (a temporary file in the same directory, fsync, rename), so a reader sees the old or the new.
#pragma once

#include <cstddef>
#include <set>
#include <string>
#include <string_view>

#include "base/status.h"
#include "scan/finding.h"

namespace steward::scan {

struct Baseline {
  std::set<std::string> fingerprints;
};

// Reads a baseline file; errors name the file and, for bad JSON, the line and column.
StatusOr<Baseline> LoadBaseline(const std::string& path);
// The same from text; `name` is used in error messages.
StatusOr<Baseline> ParseBaseline(std::string_view text, std::string_view name);
// Writes every finding of `r` (its fingerprint, with scanner, rule, path and line to help
// people reading the file), atomically.
Status WriteBaseline(const std::string& path, const ScanResult& r);
// Removes the findings whose fingerprint is in `b`; returns how many.
size_t ApplyBaseline(const Baseline& b, ScanResult* r);

}  // namespace steward::scan
