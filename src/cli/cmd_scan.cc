// scan: Steward's scanners over a directory — leaked secrets (files, and git history with
// --history), vulnerable dependencies (lockfiles against an offline OSV directory) and risky
// configuration (Dockerfiles, Kubernetes manifests, the stack) — as a table, JSON or SARIF, with
// an exit code by severity so a pipeline can use it as a gate. No daemon, no state needed.
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iostream>

#include "cli/cli.h"
#include "base/version.h"
#include "cli/scan_setup.h"
#include "scan/baseline.h"
#include "scan/output.h"

namespace steward::cli {

namespace fs = std::filesystem;

namespace {

// A default file beside the scanned tree, used only when it exists.
std::string IfExists(const fs::path& p) {
  std::error_code ec;
  return fs::exists(p, ec) ? p.string() : std::string();
}

}  // namespace

StatusOr<ScanSetup> ScanOptionsFor(const Context& ctx, const ScanArgs& a, const fs::path& root) {
  ScanSetup setup;
  scan::ScanOptions& o = setup.options;
  auto scanners = scan::ParseScannerList(a.scanners);
  if (!scanners.ok()) return InvalidArgument("--scanners: " + scanners.status().message());
  o.scanners = *scanners;
  o.secrets.allowlist_file =
      a.allowlist.empty() ? IfExists(root / ".steward-scan-allow") : a.allowlist;
  o.secrets.threads = a.threads;
  o.history = a.history;
  o.max_commits = a.max_commits;
  o.deps.osv_db = a.osv_db;
  if (o.deps.osv_db.empty()) {
    if (const char* env = std::getenv("STEWARD_OSV_DB")) o.deps.osv_db = env;
  }
  o.baseline_file = a.baseline.empty() ? IfExists(root / ".steward-baseline.json") : a.baseline;
  // The stack: --stack FILE, else steward.yaml in the scanned directory when there is one.
  std::string stack_file = !a.stack.empty() ? a.stack : IfExists(root / "steward.yaml");
  if (!stack_file.empty() && o.scanners.count("config")) {
    Context sctx = ctx;
    sctx.g.file = stack_file;
    setup.stack = sctx.LoadStack();
    if (!setup.stack) return InvalidArgument("the stack " + stack_file + " does not load (above)");
    std::error_code ec;
    std::string rel = fs::relative(fs::absolute(stack_file, ec), root, ec).string();
    o.stack_path = (ec || rel.empty() || rel.rfind("..", 0) == 0) ? stack_file : rel;
  }
  return setup;
}

namespace {

int RunScan(Context& ctx, const ScanArgs& a) {
  std::error_code ec;
  fs::path root = fs::absolute(a.path, ec);
  std::string format_text = ctx.g.json ? "json" : a.format;
  auto format = scan::ParseOutputFormat(format_text);
  if (!format) {
    return Fail(InvalidArgument("--format " + format_text + ": use table, json or sarif"));
  }
  bool never_fail = a.fail_on == "none";
  auto fail_on = scan::ParseSeverity(a.fail_on);
  if (!never_fail && !fail_on) {
    return Fail(InvalidArgument("--fail-on " + a.fail_on +
                                ": use critical, high, medium, low, info or none"));
  }
  auto options = ScanOptionsFor(ctx, a, root);
  if (!options.ok()) return Fail(options.status());
  if (options->stack) options->options.stack = &*options->stack;
  bool tty = isatty(STDERR_FILENO) != 0;
  auto outcome = scan::RunScanners(root, options->options, [&](const std::string& what) {
    if (tty) std::cerr << "scan: " << what << "…\n";
  });
  if (!outcome.ok()) return Fail(outcome.status());
  scan::ScanResult& result = outcome->result;
  std::vector<std::string>& notes = outcome->notes;
  if (!a.write_baseline.empty()) {
    Status st = scan::WriteBaseline(a.write_baseline, result);
    if (!st.ok()) return Fail(st);
    notes.push_back("wrote " + std::to_string(result.findings.size()) +
                    " finding(s) to the baseline " + a.write_baseline);
  }

  std::string text;
  switch (*format) {
    case scan::OutputFormat::kTable: text = scan::FormatTable(result, ctx.Color()); break;
    case scan::OutputFormat::kJson: text = scan::FormatJson(result); break;
    case scan::OutputFormat::kSarif: text = scan::FormatSarif(result, kStewardVersion); break;
  }
  if (a.output.empty()) {
    std::cout << text;
    if (!text.empty() && text.back() != '\n') std::cout << "\n";
  } else {
    if (Status st = WriteOutputFile(a.output, text); !st.ok()) return Fail(st.Annotate("scan"));
  }
  for (const std::string& n : notes) std::cerr << "note: " << n << "\n";
  if (never_fail) return kExitOk;
  return scan::ExitCodeFor(result, *fail_on) != 0 ? kExitChanges : kExitOk;
}

}  // namespace

void AddScan(CLI::App& app, Context& ctx, int& rc) {
  static ScanArgs a;
  auto* cmd = app.add_subcommand(
      "scan",
      "Scan a directory for leaked secrets, vulnerable dependencies (with --osv-db) and risky "
      "configuration (Dockerfiles, Kubernetes manifests, the stack); exits 2 when a finding is "
      "at or above --fail-on (docs/cli.md, docs/scan-rules.md)");
  cmd->add_option("path", a.path, "Directory to scan")->capture_default_str();
  cmd->add_option("--format", a.format, "table, json or sarif")
      ->check(CLI::IsMember({"table", "json", "sarif"}))
      ->capture_default_str();
  cmd->add_flag("--json", ctx.g.json, "Same as --format json");
  cmd->add_option("--fail-on", a.fail_on,
                  "Exit 2 when a finding is this severe or worse: critical, high, medium, low, "
                  "info, or none")
      ->capture_default_str();
  cmd->add_option("--scanners", a.scanners, "Which scanners run: secrets, deps, config")
      ->capture_default_str();
  cmd->add_option("--osv-db", a.osv_db,
                  "Directory of OSV advisories (JSON files, e.g. osv.dev's all.zip unpacked); "
                  "default $STEWARD_OSV_DB");
  cmd->add_flag("--history", a.history, "Also scan every commit of the git repository at PATH");
  cmd->add_option("--max-commits", a.max_commits, "With --history: at most N commits (0: all)");
  cmd->add_option("--allowlist", a.allowlist,
                  "Allowlist file (default PATH/.steward-scan-allow when present)");
  cmd->add_option("--baseline", a.baseline,
                  "Findings in this baseline stay quiet (default PATH/.steward-baseline.json "
                  "when present)");
  cmd->add_option("--write-baseline", a.write_baseline,
                  "Write the findings to this baseline file (to accept what is known today)");
  cmd->add_option("--stack", a.stack, "Stack file to check (default PATH/steward.yaml)");
  cmd->add_option("--output,-o", a.output, "Write the report to this file instead of stdout");
  cmd->add_option("--threads", a.threads, "Scanner threads (0: one per core)");
  cmd->callback([&] { rc = RunScan(ctx, a); });
}

}  // namespace steward::cli
