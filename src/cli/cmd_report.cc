// report: what the records say about the team's delivery. `report dora` reads the state store
// directly (no daemon needed: the numbers come from what deploys and incidents left behind).
// `report dr` reads the stack, its backup repository and the recorded drills; with --runbook
// it writes each service's DR runbook as Markdown instead.
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iostream>

#include "cli/cli.h"
#include "cli/scan_setup.h"
#include "promql/parser.h"
#include "report/dora.h"
#include "report/dr.h"
#include "report/security.h"
#include "state/state_store.h"

namespace steward::cli {
namespace {

struct ReportArgs {
  std::string window = "30d";
  std::string service;
  std::string format = "table";
  // dr
  bool runbook = false;
  std::string runbook_service;
  // security
  ScanArgs scan;
  std::string since = "30d";
  std::string max_secret_age = "90d";
  std::string output;
};

int RunDora(const Context& ctx, const ReportArgs& a) {
  auto window = promql::ParseDurationMillis(a.window);
  if (!window.ok() || *window <= 0)
    return Fail(InvalidArgument("--window " + a.window +
                                ": want a positive duration such as 30d, 2w or 12h"));
  auto store = state::OpenSqliteStateStore(ctx.StateDir(), RealClock::Get());
  if (!store.ok()) return Fail(store.status());
  report::DoraOptions options;
  options.window = Duration(*window);
  options.service = a.service;
  auto dora = report::ComputeDora(store->get(), ToUnixMillis(RealClock::Get()->WallNow()), options);
  if (!dora.ok()) return Fail(dora.status());
  // --json (every command's flag) wins over --format.
  std::string format = ctx.g.json ? "json" : a.format;
  if (format == "json") {
    std::cout << report::ToJson(*dora).dump(2) << "\n";
  } else if (format == "markdown") {
    std::cout << report::ToMarkdown(*dora);
  } else {
    std::cout << report::ToText(*dora);
  }
  return kExitOk;
}

int RunDr(const Context& ctx, const ReportArgs& a) {
  auto stack = ctx.LoadStack();
  if (!stack) return kExitError;
  if (!a.runbook_service.empty()) {
    const config::Service* s = stack->FindService(a.runbook_service);
    if (s == nullptr || !s->backup.enabled)
      return Fail(NotFound("service " + a.runbook_service + " has no backup: in " + stack->path));
  }
  auto store = state::OpenSqliteStateStore(ctx.StateDir(), RealClock::Get());
  if (!store.ok()) return Fail(store.status());
  // The report is still worth having when the repository cannot be read: drills are in the
  // store, and the error is part of the answer.
  std::optional<std::vector<std::pair<backup::Id, backup::Snapshot>>> snapshots;
  std::string repo_error;
  auto repo = report::OpenStackRepository(stack->backup);
  if (repo.ok()) {
    auto listed = (*repo)->ListSnapshots();
    if (listed.ok()) {
      snapshots = std::move(*listed);
    } else {
      repo_error = listed.status().message();
    }
  } else {
    repo_error = repo.status().message();
  }
  auto dr = report::ComputeDr(*stack, snapshots, repo_error, store->get(),
                              ToUnixMillis(RealClock::Get()->WallNow()));
  if (!dr.ok()) return Fail(dr.status());
  if (a.runbook) {
    bool first = true;
    for (const auto& row : dr->services) {
      if (!a.runbook_service.empty() && row.service != a.runbook_service) continue;
      if (!first) std::cout << "\n---\n\n";
      first = false;
      std::cout << report::Runbook(*stack, *stack->FindService(row.service), row, *dr);
    }
    if (first) std::cout << "no service declares backup: in " << stack->path << "\n";
    return kExitOk;
  }
  std::string format = ctx.g.json ? "json" : a.format;
  if (format == "json") {
    std::cout << report::ToJson(*dr).dump(2) << "\n";
  } else if (format == "markdown") {
    std::cout << report::ToMarkdown(*dr);
  } else {
    std::cout << report::ToText(*dr);
  }
  return kExitOk;
}

// Days in a duration flag ("90d", "12w"); errors name the flag.
StatusOr<int> FlagDays(const std::string& flag, const std::string& text) {
  auto ms = promql::ParseDurationMillis(text);
  if (!ms.ok() || *ms <= 0) {
    return InvalidArgument(flag + " " + text + ": want a positive duration such as 90d or 12w");
  }
  return static_cast<int>(std::max<int64_t>(1, *ms / 86'400'000));
}

int RunSecurity(const Context& ctx, const ReportArgs& a) {
  namespace fs = std::filesystem;
  std::string format = ctx.g.json ? "json" : a.format;
  if (format == "table") format = "markdown";  // the report is a document; table = its Markdown
  auto since = promql::ParseDurationMillis(a.since);
  if (!since.ok() || *since <= 0)
    return Fail(InvalidArgument("--since " + a.since + ": want a positive duration such as 30d"));
  auto max_age = FlagDays("--max-secret-age", a.max_secret_age);
  if (!max_age.ok()) return Fail(max_age.status());

  std::error_code ec;
  fs::path root = fs::absolute(a.scan.path, ec);
  auto setup = ScanOptionsFor(ctx, a.scan, root);
  if (!setup.ok()) return Fail(setup.status());
  if (setup->stack) setup->options.stack = &*setup->stack;
  bool tty = isatty(STDERR_FILENO) != 0;
  auto outcome = scan::RunScanners(root, setup->options, [&](const std::string& what) {
    if (tty) std::cerr << "report: scanning " << what << "…\n";
  });
  if (!outcome.ok()) return Fail(outcome.status());

  report::SecurityInput in;
  in.now_ms = ToUnixMillis(RealClock::Get()->WallNow());
  in.audit_since_ms = in.now_ms - *since;
  in.max_secret_age_days = *max_age;
  in.stack = setup->stack ? &*setup->stack : nullptr;
  in.scan = std::move(outcome->result);
  in.scanned = true;
  in.deps_scanned = outcome->deps_scanned;
  // The records: only when the state directory exists (a report never creates one).
  std::string state_dir = ctx.StateDir();
  if (fs::exists(fs::path(state_dir) / "state.db", ec)) {
    auto store = state::OpenSqliteStateStore(state_dir, RealClock::Get());
    if (!store.ok()) return Fail(store.status());
    auto secrets = (*store)->ListSecrets("");
    auto tokens = (*store)->ListApiTokens();
    auto audit = (*store)->ListAudit(in.audit_since_ms, 0);
    if (!secrets.ok()) return Fail(secrets.status());
    if (!tokens.ok()) return Fail(tokens.status());
    if (!audit.ok()) return Fail(audit.status());
    in.secrets = std::move(*secrets);
    in.tokens = std::move(*tokens);
    in.audit = std::move(*audit);
  }
  if (const char* env = std::getenv("STEWARD_MASTER_KEY_FILE"); env != nullptr && *env != 0) {
    in.master_key_file = env;
  } else if (fs::exists(fs::path(state_dir) / "master.key", ec)) {
    in.master_key_file = (fs::path(state_dir) / "master.key").string();
  }

  report::SecurityReport r = report::ComputeSecurity(in);
  std::string text;
  if (format == "json") {
    text = report::ToJson(r).dump(2) + "\n";
  } else if (format == "html") {
    text = report::ToHtml(r);
  } else {
    text = report::ToMarkdown(r);
  }
  if (a.output.empty()) {
    std::cout << text;
  } else {
    if (Status st = WriteOutputFile(a.output, text); !st.ok())
      return Fail(st.Annotate("report security"));
  }
  for (const std::string& n : outcome->notes) std::cerr << "note: " << n << "\n";
  return kExitOk;
}

}  // namespace

void AddReport(CLI::App& app, Context& ctx, int& rc) {
  static ReportArgs a;
  auto* report = app.add_subcommand("report", "Reports from Steward's records (DORA metrics, disaster recovery)");
  report->require_subcommand(1);
  auto* dora = report->add_subcommand(
      "dora",
      "Deployment frequency, lead time, change failure rate and time to restore, per "
      "service and overall, with DORA performance bands (docs/reports.md)");
  dora->add_option("--window", a.window, "How far back to look: 30d, 2w, 12h")
      ->capture_default_str();
  dora->add_option("--service", a.service, "Only this service");
  dora->add_option("--format", a.format, "table, markdown or json")
      ->check(CLI::IsMember({"table", "markdown", "json"}))
      ->capture_default_str();
  dora->add_flag("--json", ctx.g.json, "Same as --format json");
  dora->callback([&] { rc = RunDora(ctx, a); });

  auto* dr = report->add_subcommand(
      "dr",
      "Disaster recovery per service with backup: newest snapshot and its age (RPO now) against "
      "max_age, snapshot count, last restore drill (ok, RTO, RPO); --runbook writes each "
      "service's DR runbook as Markdown (docs/reports.md)");
  dr->add_option("--format", a.format, "table, markdown or json")
      ->check(CLI::IsMember({"table", "markdown", "json"}))
      ->capture_default_str();
  dr->add_flag("--json", ctx.g.json, "Same as --format json");
  dr->add_flag("--runbook", a.runbook,
               "Print the DR runbook (Markdown) of every service with backup:, or of SERVICE");
  dr->add_option("service", a.runbook_service, "With --runbook: only this service");
  dr->callback([&] { rc = RunDr(ctx, a); });

  auto* sec = report->add_subcommand(
      "security",
      "Security posture: scanner findings by severity, secret ages and rotations, API tokens, "
      "the audit log, and pass/fail controls for the stack, as Markdown, HTML or JSON "
      "(docs/reports.md)");
  sec->add_option("path", a.scan.path, "Directory to scan (default: the current one)");
  sec->add_option("--format", a.format, "markdown, html or json (table is markdown)")
      ->check(CLI::IsMember({"table", "markdown", "html", "json"}));
  sec->add_flag("--json", ctx.g.json, "Same as --format json");
  sec->add_option("--osv-db", a.scan.osv_db,
                  "Directory of OSV advisories for the dependency scan (default $STEWARD_OSV_DB)");
  sec->add_flag("--history", a.scan.history, "Also scan the git history for secrets");
  sec->add_option("--baseline", a.scan.baseline, "Findings in this baseline stay quiet");
  sec->add_option("--allowlist", a.scan.allowlist, "Secret scanner allowlist");
  sec->add_option("--stack", a.scan.stack, "Stack file to check (default PATH/steward.yaml)");
  sec->add_option("--since", a.since, "Audit log window")->capture_default_str();
  sec->add_option("--max-secret-age", a.max_secret_age, "Secrets older than this fail SEC-05")
      ->capture_default_str();
  sec->add_option("--output,-o", a.output, "Write the report to this file");
  sec->callback([&] { rc = RunSecurity(ctx, a); });
}

}  // namespace steward::cli
