// Every scanner over one directory, as `steward scan` and `steward report security` run them:
// secrets in the tree (and in git history when asked), dependencies when an OSV directory is
// given, configuration (Dockerfiles, manifests, the stack when one is given), then the baseline.
//
// Contract: a scanner that cannot run for want of input (no OSV directory) is skipped with a
// note, not an error; inputs that cannot be read are Problems in the result. Errors are for what
// the caller asked that cannot be honoured: an unknown scanner, --history on a directory that is
// not a git checkout, a baseline that does not load.
// Thread safety: reentrant; each scanner uses its own threads.
#pragma once

#include <cstddef>
#include <filesystem>
#include <functional>
#include <set>
#include <string>
#include <vector>

#include "base/status.h"
#include "config/stack.h"
#include "scan/deps.h"
#include "scan/finding.h"
#include "scan/secrets.h"

namespace steward::scan {

struct ScanOptions {
  std::set<std::string> scanners = {"secrets", "deps", "config"};
  SecretScanOptions secrets;
  bool history = false;          // also every commit of the git repository at the root
  int max_commits = 0;           // 0: all
  DependencyScanOptions deps;    // osv_db "": dependencies are skipped with a note
  const config::Stack* stack = nullptr;
  std::string stack_path;        // as findings name it (relative to the root when inside it)
  std::string baseline_file;     // "": no baseline
};

struct ScanOutcome {
  ScanResult result;             // sorted, baseline applied
  std::vector<std::string> notes;  // what was skipped or kept quiet, for people
  size_t baselined = 0;          // findings the baseline kept quiet
  bool deps_scanned = false;
};

// "secrets,deps" → {"secrets", "deps"}; an unknown name is an error listing the valid ones.
StatusOr<std::set<std::string>> ParseScannerList(const std::string& text);

// `progress`, when set, is called with what is about to be scanned ("secrets in /src").
StatusOr<ScanOutcome> RunScanners(const std::filesystem::path& root, const ScanOptions& options,
                                  const std::function<void(const std::string&)>& progress = {});

}  // namespace steward::scan
