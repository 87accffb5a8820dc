// report: what the records say about the team's delivery. `report dora` reads the state store
// directly (no daemon needed: the numbers come from what deploys and incidents left behind).
// `report dr` reads the stack, its backup repository and the recorded drills; with --runbook
// it writes each service's DR runbook as Markdown instead.
#include <iostream>

#include "cli/cli.h"
#include "promql/parser.h"
#include "report/dora.h"
#include "report/dr.h"
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
}

}  // namespace steward::cli
