// What `steward scan` and `steward report security` share: the scan flags and how they become
// scan::ScanOptions (defaults beside the scanned tree: .steward-scan-allow,
// .steward-baseline.json, steward.yaml; the OSV directory from $STEWARD_OSV_DB).
#pragma once

#include <filesystem>
#include <optional>
#include <string>

#include "cli/cli.h"
#include "scan/scan.h"

namespace steward::cli {

struct ScanArgs {
  std::string path = ".";
  std::string format = "table";
  std::string fail_on = "high";
  std::string scanners = "secrets,deps,config";
  std::string osv_db;
  bool history = false;
  int max_commits = 0;
  std::string allowlist;
  std::string baseline;
  std::string write_baseline;
  std::string stack;
  std::string output;
  int threads = 0;
};

struct ScanSetup {
  scan::ScanOptions options;           // options.stack is left for the caller to point at stack
  std::optional<config::Stack> stack;  // the stack the config scanner checks, when there is one
};

StatusOr<ScanSetup> ScanOptionsFor(const Context& ctx, const ScanArgs& a,
                                   const std::filesystem::path& root);

// `steward scan` (cmd_scan.cc).
void AddScan(CLI::App& app, Context& ctx, int& rc);

}  // namespace steward::cli
