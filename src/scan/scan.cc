#include "scan/scan.h"

#include <sstream>

#include "scan/baseline.h"
#include "scan/config_scan.h"

namespace steward::scan {

StatusOr<std::set<std::string>> ParseScannerList(const std::string& text) {
  std::set<std::string> out;
  std::stringstream in(text);
  std::string name;
  while (std::getline(in, name, ',')) {
    if (name.empty()) continue;
    if (name != "secrets" && name != "deps" && name != "config") {
      return InvalidArgument("unknown scanner '" + name +
                             "'; use a comma-separated list of secrets, deps, config");
    }
    out.insert(name);
  }
  if (out.empty()) return InvalidArgument("name at least one scanner of secrets, deps, config");
  return out;
}

StatusOr<ScanOutcome> RunScanners(const std::filesystem::path& root, const ScanOptions& o,
                                  const std::function<void(const std::string&)>& progress) {
  std::error_code ec;
  if (!std::filesystem::is_directory(root, ec)) {
    return InvalidArgument(root.string() + " is not a directory; give the directory to scan");
  }
  if (o.history && o.scanners.count("secrets") &&
      !std::filesystem::exists(root / ".git", ec)) {
    return InvalidArgument("--history: " + root.string() +
                           " is not a git checkout (no .git); drop --history or scan the "
                           "repository's top directory");
  }
  // Load the baseline first: a broken one is the caller's mistake, found before minutes of work.
  std::optional<Baseline> baseline;
  if (!o.baseline_file.empty()) {
    ASSIGN_OR_RETURN(Baseline b, LoadBaseline(o.baseline_file));
    baseline = std::move(b);
  }
  auto say = [&](const std::string& what) {
    if (progress) progress(what);
  };
  ScanOutcome out;
  if (o.scanners.count("secrets")) {
    say("secrets in " + root.string());
    out.result.Merge(ScanSecretsInTree(root, o.secrets));
    if (o.history) {
      say("secrets in the git history of " + root.string());
      out.result.Merge(ScanSecretsInGitHistory(root, o.secrets, o.max_commits));
    }
  }
  if (o.scanners.count("deps")) {
    if (o.deps.osv_db.empty()) {
      out.notes.push_back("dependencies not scanned: give an OSV database directory with "
                          "--osv-db DIR (or STEWARD_OSV_DB)");
    } else {
      say("dependencies against " + o.deps.osv_db);
      out.result.Merge(ScanDependencies(root, o.deps));
      out.deps_scanned = true;
    }
  }
  if (o.scanners.count("config")) {
    say("configuration in " + root.string());
    ConfigScanOptions c;
    c.stack = o.stack;
    c.stack_path = o.stack_path;
    out.result.Merge(ScanConfig(root, c));
  }
  if (baseline) {
    out.baselined = ApplyBaseline(*baseline, &out.result);
    if (out.baselined > 0) {
      out.notes.push_back(std::to_string(out.baselined) + " known finding(s) in the baseline " +
                          o.baseline_file + " not shown");
    }
  }
  out.result.Sort();
  return out;
}

}  // namespace steward::scan
