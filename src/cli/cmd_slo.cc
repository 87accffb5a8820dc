// slo: the stack's service level objectives as the daemon measures them (GET /api/v1/slos):
// objective, window, uptime over the window, error budget left, burn rates, firing burn alerts.
#include <fmt/format.h>

#include <iostream>

#include "cli/cli.h"
#include "server/client.h"

namespace steward::cli {
namespace {

std::string Percent(const nlohmann::json& v, int digits) {
  return v.is_number() ? fmt::format("{:.{}f}%", v.get<double>(), digits) : "-";
}

std::string Times(const nlohmann::json& v) {
  return v.is_number() ? fmt::format("{:.2f}x", v.get<double>()) : "-";
}

int RunSlo(const Context& ctx) {
  auto client = server::DaemonClient::Connect(ctx.StateDir());
  if (!client.ok()) {
    if (client.status().code() == StatusCode::kUnavailable)
      return Fail(Unavailable(client.status().message() +
                              "; SLOs are measured by the daemon: start it with `steward up`"));
    return Fail(client.status());
  }
  auto res = client->Get("/api/v1/slos");
  if (!res.ok()) return Fail(res.status());
  const nlohmann::json& slos = (*res)["data"]["slos"];
  if (ctx.g.json) {
    std::cout << slos.dump(2) << "\n";
    return kExitOk;
  }
  if (slos.empty()) {
    std::cout << "no SLOs: declare them under slos: in the stack (docs/stack-reference.md)\n";
    return kExitOk;
  }
  std::vector<std::vector<std::string>> rows = {{"SLO", "SERVICE", "OBJECTIVE", "WINDOW",
                                                 "UPTIME", "BUDGET LEFT", "BURN 1H", "BURN 6H",
                                                 "ALERTS"}};
  for (const auto& s : slos) {
    nlohmann::json budget = s["error_budget_remaining"];
    std::string firing;
    for (const auto& a : s["firing"])
      firing += (firing.empty() ? "" : ", ") + a.value("severity", "") + " " +
                a.value("long_window", "");
    rows.push_back({s.value("name", ""), s.value("service", ""),
                    fmt::format("{}%", s.value("objective", 0.0)), s.value("window", ""),
                    Percent(s["uptime_percent"], 3),
                    budget.is_number() ? fmt::format("{:.1f}%", 100 * budget.get<double>()) : "-",
                    Times(s["burn_rate"]["1h"]), Times(s["burn_rate"]["6h"]),
                    firing.empty() ? "none" : firing});
  }
  PrintTable(rows);
  return kExitOk;
}

}  // namespace

void AddSlo(CLI::App& app, Context& ctx, int& rc) {
  auto* cmd = app.add_subcommand("slo", "Service level objectives: uptime, error budget, burn");
  cmd->add_flag("--json", ctx.g.json, "Machine output");
  cmd->callback([&] { rc = RunSlo(ctx); });
}

}  // namespace steward::cli
