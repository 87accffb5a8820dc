// report: what the records say about the team's delivery. `report dora` reads the state store
// directly (no daemon needed: the numbers come from what deploys and incidents left behind).
#include <iostream>

#include "cli/cli.h"
#include "promql/parser.h"
#include "report/dora.h"
#include "state/state_store.h"

namespace steward::cli {
namespace {

struct ReportArgs {
  std::string window = "30d";
  std::string service;
  std::string format = "table";
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

}  // namespace

void AddReport(CLI::App& app, Context& ctx, int& rc) {
  static ReportArgs a;
  auto* report = app.add_subcommand("report", "Reports from Steward's records (DORA metrics)");
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
}

}  // namespace steward::cli
