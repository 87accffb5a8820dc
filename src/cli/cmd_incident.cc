// incident: list, show, ack, resolve, note, postmortem, stats — people's side of incidents,
// through the daemon's /api/v1/incidents (docs/api.md). The actor is the current user.
#include <cctype>
#include <cerrno>
#include <cmath>
#include <cstring>
#include <cstdio>
#include <fstream>
#include <iostream>

#include "cli/cli.h"
#include "server/client.h"
#include "state/state_store.h"

namespace steward::cli {
namespace {

struct IncidentArgs {
  bool all = false;
  std::string service;
  int limit = 50;
  int64_t id = 0;
  std::string message;
  std::string output;
  std::string window = "30d";
};

std::string Query(const std::string& text) {
  std::string out;
  for (unsigned char c : text) {
    if (std::isalnum(c) || c == '-' || c == '_' || c == '.' || c == '~') {
      out += static_cast<char>(c);
    } else {
      char buf[4];
      std::snprintf(buf, sizeof buf, "%%%02X", c);
      out += buf;
    }
  }
  return out;
}

std::string Str(const nlohmann::json& j, const char* key) {
  auto it = j.find(key);
  return it != j.end() && it->is_string() ? it->get<std::string>() : "-";
}

StatusOr<server::DaemonClient> Connect(const Context& ctx) {
  auto client = server::DaemonClient::Connect(ctx.StateDir());
  if (!client.ok() && client.status().code() == StatusCode::kUnavailable)
    return Unavailable(client.status().message() +
                       "; incidents are served by the daemon: start it with `steward up`");
  return client;
}

int PrintJson(const nlohmann::json& j) {
  std::cout << j.dump(2) << "\n";
  return kExitOk;
}

int RunList(const Context& ctx, const IncidentArgs& a) {
  auto client = Connect(ctx);
  if (!client.ok()) return Fail(client.status());
  std::string path = "/api/v1/incidents?status=" + std::string(a.all ? "all" : "unresolved") +
                     "&limit=" + std::to_string(a.limit);
  if (!a.service.empty()) path += "&service=" + Query(a.service);
  auto j = client->Get(path);
  if (!j.ok()) return Fail(j.status());
  if (ctx.g.json) return PrintJson(*j);
  const auto& list = (*j)["incidents"];
  if (list.empty()) {
    std::cout << (a.all ? "no incidents\n" : "no open incidents (--all shows resolved ones)\n");
    return kExitOk;
  }
  std::vector<std::vector<std::string>> rows = {
      {"ID", "STATUS", "SEVERITY", "SERVICE", "OPENED", "TITLE"}};
  for (const auto& i : list)
    rows.push_back({std::to_string(i.value("id", int64_t{0})), Str(i, "status"),
                    Str(i, "severity"), Str(i, "service"), Str(i, "opened_at"), Str(i, "title")});
  PrintTable(rows);
  return kExitOk;
}

int RunShow(const Context& ctx, const IncidentArgs& a) {
  auto client = Connect(ctx);
  if (!client.ok()) return Fail(client.status());
  auto j = client->Get("/api/v1/incidents/" + std::to_string(a.id));
  if (!j.ok()) return Fail(j.status());
  if (ctx.g.json) return PrintJson(*j);
  const auto& i = (*j)["incident"];
  std::cout << "incident " << i.value("id", int64_t{0}) << ": " << Str(i, "title") << "\n";
  for (const char* key : {"status", "severity", "service", "key", "opened_at", "acknowledged_at",
                          "resolved_at"})
    std::cout << "  " << key << ": " << Str(i, key) << "\n";
  std::vector<std::vector<std::string>> rows = {{"TIME", "EVENT", "BY", "TEXT"}};
  for (const auto& e : (*j)["events"])
    rows.push_back({Str(e, "at"), Str(e, "kind"), Str(e, "actor"), e.value("text", "")});
  std::cout << "\n";
  PrintTable(rows);
  return kExitOk;
}

int RunAction(const Context& ctx, const std::string& action, const IncidentArgs& a) {
  auto client = Connect(ctx);
  if (!client.ok()) return Fail(client.status());
  auto j = client->Post("/api/v1/incidents/" + std::to_string(a.id) + "/" + action,
                       {{"actor", state::CurrentUser()}, {"text", a.message}});
  // 409 here is "already acknowledged/resolved", not the state lock's exit code 3.
  if (!j.ok() && j.status().code() == StatusCode::kAborted)
    return Fail(FailedPrecondition(j.status().message()));
  if (!j.ok()) return Fail(j.status());
  if (ctx.g.json) return PrintJson(*j);
  const auto& i = (*j)["incident"];
  const char* done = action == "ack" ? "acknowledged" : action == "resolve" ? "resolved" : "noted";
  std::cout << "incident " << i.value("id", int64_t{0}) << " " << done << " by "
            << state::CurrentUser() << " (status: " << Str(i, "status") << ")\n";
  return kExitOk;
}

int RunPostmortem(const Context& ctx, const IncidentArgs& a) {
  auto client = Connect(ctx);
  if (!client.ok()) return Fail(client.status());
  auto j = client->Get("/api/v1/incidents/" + std::to_string(a.id) + "/postmortem?format=json");
  if (!j.ok()) return Fail(j.status());
  const std::string md = j->value("markdown", "");
  if (a.output.empty() || a.output == "-") {
    std::cout << md;
    return kExitOk;
  }
  if (Status st = WriteOutputFile(a.output, md); !st.ok()) return Fail(st);
  std::cerr << "wrote the postmortem draft of incident " << a.id << " to " << a.output << "\n";
  return kExitOk;
}

std::string Mean(const nlohmann::json& d) {
  const auto& mean = d["mean_seconds"];
  if (!mean.is_number()) return "-";
  std::string text = FormatDuration(Duration(std::llround(mean.get<double>() * 1000)));
  return text + " (" + std::to_string(d.value("count", int64_t{0})) + ")";
}

int RunStats(const Context& ctx, const IncidentArgs& a) {
  auto client = Connect(ctx);
  if (!client.ok()) return Fail(client.status());
  auto j = client->Get("/api/v1/incidents/stats?window=" + Query(a.window));
  if (!j.ok()) return Fail(j.status());
  if (ctx.g.json) return PrintJson(*j);
  std::cout << "incidents opened since " << Str(*j, "since") << " (" << a.window << ")\n\n";
  std::vector<std::vector<std::string>> rows = {
      {"SERVICE", "OPENED", "UNRESOLVED", "MTTA (N)", "MTTR (N)"}};
  auto row = [&rows](const nlohmann::json& s) {
    rows.push_back({Str(s, "service"), std::to_string(s.value("opened", int64_t{0})),
                    std::to_string(s.value("unresolved", int64_t{0})), Mean(s["mtta"]),
                    Mean(s["mttr"])});
  };
  for (const auto& s : (*j)["services"]) row(s);
  row((*j)["overall"]);
  PrintTable(rows);
  return kExitOk;
}

}  // namespace

void AddIncident(CLI::App& app, Context& ctx, int& rc) {
  static IncidentArgs a;
  auto* inc = app.add_subcommand("incident", "Incidents: list, show, ack, resolve, note, "
                                             "postmortem, MTTA/MTTR stats");
  inc->require_subcommand(1);
  auto id = [](CLI::App* cmd) {
    cmd->add_option("ID", a.id, "Incident number (`steward incident list`)")
        ->required()
        ->check(CLI::PositiveNumber);
  };
  auto* list = inc->add_subcommand("list", "Open and acknowledged incidents, newest first");
  list->add_flag("--all", a.all, "Resolved ones too");
  list->add_option("--service", a.service, "Only this service's");
  list->add_option("-n,--limit", a.limit, "At most this many")
      ->check(CLI::Range(1, 10000))
      ->capture_default_str();
  list->add_flag("--json", ctx.g.json, "Print as JSON");
  list->callback([&] { rc = RunList(ctx, a); });

  auto* show = inc->add_subcommand("show", "An incident and its timeline");
  id(show);
  show->add_flag("--json", ctx.g.json, "Print as JSON");
  show->callback([&] { rc = RunShow(ctx, a); });

  for (auto [name, help] : {std::pair{"ack", "Acknowledge: you are on it"},
                            std::pair{"resolve", "Resolve (even while its alerts still fire)"}}) {
    auto* cmd = inc->add_subcommand(name, help);
    id(cmd);
    cmd->add_option("-m,--message", a.message, "A note for the timeline");
    cmd->add_flag("--json", ctx.g.json, "Print the incident as JSON");
    cmd->callback([&, action = std::string(name)] { rc = RunAction(ctx, action, a); });
  }
  auto* note = inc->add_subcommand("note", "Add a note to the timeline");
  id(note);
  note->add_option("TEXT", a.message, "The note")->required();
  note->add_flag("--json", ctx.g.json, "Print the incident as JSON");
  note->callback([&] { rc = RunAction(ctx, "note", a); });

  auto* pm = inc->add_subcommand("postmortem", "A Markdown postmortem draft from the timeline");
  id(pm);
  pm->add_option("-o,--output", a.output, "Write it to this file instead of stdout");
  pm->callback([&] { rc = RunPostmortem(ctx, a); });

  auto* stats = inc->add_subcommand("stats", "MTTA and MTTR per service over a window");
  stats->add_option("--window", a.window, "Incidents opened this long ago or later")
      ->capture_default_str();
  stats->add_flag("--json", ctx.g.json, "Print as JSON");
  stats->callback([&] { rc = RunStats(ctx, a); });
}

}  // namespace steward::cli
