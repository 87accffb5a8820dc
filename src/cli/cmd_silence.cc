// silence add/list/expire and alerts: amtool's everyday commands against the daemon's embedded
// Alertmanager API (/api/v2/silences, /api/v2/alerts), and `alerts` for what fires now.
#include <chrono>
#include <iostream>

#include "cli/cli.h"
#include "config/alerting.h"
#include "config/stack_parser.h"
#include "server/client.h"
#include "state/state_store.h"

namespace steward::cli {
namespace {

struct SilenceArgs {
  std::vector<std::string> matchers;
  std::string duration = "2h";
  std::string comment;
  std::string author;
  std::string id;
  bool all = false;
};

StatusOr<server::DaemonClient> Connect(const Context& ctx) {
  auto client = server::DaemonClient::Connect(ctx.StateDir());
  if (!client.ok() && client.status().code() == StatusCode::kUnavailable)
    return Unavailable(client.status().message() +
                       "; silences and alerts live in the daemon: start it with `steward up`");
  return client;
}

std::string Str(const nlohmann::json& j, const char* key) {
  auto it = j.find(key);
  return it != j.end() && it->is_string() ? it->get<std::string>() : "";
}

std::string MatchersText(const nlohmann::json& matchers) {
  std::string out;
  for (const auto& m : matchers) {
    bool regex = m.value("isRegex", false), equal = m.value("isEqual", true);
    out += (out.empty() ? "" : " ") + Str(m, "name") + (regex ? (equal ? "=~" : "!~")
                                                              : (equal ? "=" : "!=")) +
           "\"" + Str(m, "value") + "\"";
  }
  return out;
}

std::string LabelsText(const nlohmann::json& labels) {
  std::string out;
  for (const auto& [k, v] : labels.items())
    if (k != "alertname") out += (out.empty() ? "" : " ") + k + "=" + v.get<std::string>();
  return out;
}

int RunAdd(const Context& ctx, const SilenceArgs& a) {
  if (a.matchers.empty())
    return Fail(InvalidArgument("give at least one matcher, e.g. alertname=HighErrors "
                                "service=~\"api|web\""));
  nlohmann::json matchers = nlohmann::json::array();
  for (const std::string& text : a.matchers) {
    auto parsed = config::ParseLabelMatchers(text);
    if (!parsed.ok())
      return Fail(InvalidArgument("matcher '" + text + "': " + parsed.status().message()));
    for (const auto& m : *parsed) {
      using Op = config::LabelMatcher::Op;
      matchers.push_back({{"name", m.name},
                          {"value", m.value},
                          {"isRegex", m.op == Op::kRegex || m.op == Op::kNotRegex},
                          {"isEqual", m.op == Op::kEqual || m.op == Op::kRegex}});
    }
  }
  auto duration = config::ParseDuration(a.duration);
  if (!duration || duration->count() <= 0)
    return Fail(InvalidArgument("--duration '" + a.duration + "' is not a positive duration; "
                                "use e.g. 2h or 30m"));
  if (a.comment.empty())
    return Fail(InvalidArgument("say why with --comment (it shows in `steward silence list`)"));
  auto now = std::chrono::system_clock::now();
  nlohmann::json body = {
      {"matchers", matchers},
      {"startsAt", FormatRfc3339Millis(now)},
      {"endsAt", FormatRfc3339Millis(now + *duration)},
      {"createdBy", a.author.empty() ? state::CurrentUser() : a.author},
      {"comment", a.comment}};
  auto client = Connect(ctx);
  if (!client.ok()) return Fail(client.status());
  auto res = client->Post("/api/v2/silences", body);
  if (!res.ok()) return Fail(res.status());
  if (ctx.g.json) {
    std::cout << res->dump(2) << "\n";
  } else {
    std::cout << Str(*res, "silenceID") << "\n";
  }
  return kExitOk;
}

int RunList(const Context& ctx, const SilenceArgs& a) {
  auto client = Connect(ctx);
  if (!client.ok()) return Fail(client.status());
  auto res = client->Get("/api/v2/silences");
  if (!res.ok()) return Fail(res.status());
  nlohmann::json shown = nlohmann::json::array();
  for (const auto& s : *res)
    if (a.all || s["status"].value("state", "") != "expired") shown.push_back(s);
  if (ctx.g.json) {
    std::cout << shown.dump(2) << "\n";
    return kExitOk;
  }
  if (shown.empty()) {
    std::cout << (a.all ? "no silences\n" : "no active or pending silences (--all shows expired)\n");
    return kExitOk;
  }
  std::vector<std::vector<std::string>> rows = {
      {"ID", "STATE", "MATCHERS", "ENDS", "CREATED BY", "COMMENT"}};
  for (const auto& s : shown)
    rows.push_back({Str(s, "id"), s["status"].value("state", ""), MatchersText(s["matchers"]),
                    Str(s, "endsAt"), Str(s, "createdBy"), Str(s, "comment")});
  PrintTable(rows);
  return kExitOk;
}

int RunExpire(const Context& ctx, const SilenceArgs& a) {
  auto client = Connect(ctx);
  if (!client.ok()) return Fail(client.status());
  auto res = client->Delete("/api/v2/silence/" + a.id);
  if (!res.ok()) return Fail(res.status());
  if (ctx.g.json) std::cout << nlohmann::json{{"expired", a.id}}.dump() << "\n";
  else std::cout << "expired " << a.id << "\n";
  return kExitOk;
}

int RunAlerts(const Context& ctx) {
  auto client = Connect(ctx);
  if (!client.ok()) return Fail(client.status());
  auto res = client->Get("/api/v2/alerts");
  if (!res.ok()) return Fail(res.status());
  if (ctx.g.json) {
    std::cout << res->dump(2) << "\n";
    return kExitOk;
  }
  if (res->empty()) {
    std::cout << "no alerts\n";
    return kExitOk;
  }
  std::vector<std::vector<std::string>> rows = {{"ALERT", "STATE", "SINCE", "LABELS", "SUMMARY"}};
  for (const auto& a : *res) {
    std::string state = a["status"].value("state", "");
    if (!a["status"]["silencedBy"].empty()) state += " (silenced)";
    else if (!a["status"]["inhibitedBy"].empty()) state += " (inhibited)";
    rows.push_back({a["labels"].value("alertname", ""), state, Str(a, "startsAt"),
                    LabelsText(a["labels"]), a["annotations"].value("summary", "")});
  }
  PrintTable(rows);
  return kExitOk;
}

}  // namespace

void AddSilence(CLI::App& app, Context& ctx, int& rc) {
  static SilenceArgs args;
  auto* cmd = app.add_subcommand("silence", "Mute alerts for a while (Alertmanager's silences)");
  cmd->require_subcommand(1);
  auto* add = cmd->add_subcommand("add", "Silence the alerts matching every MATCHER");
  add->add_option("matchers", args.matchers,
                  "Label matchers: name=value, name!=value, name=~regex, name!~regex")
      ->required();
  add->add_option("-d,--duration", args.duration, "How long the silence lasts")
      ->capture_default_str();
  add->add_option("-c,--comment", args.comment, "Why (required)");
  add->add_option("-a,--author", args.author, "Who (default: the current user)");
  add->add_flag("--json", ctx.g.json, "Machine output");
  add->callback([&] { rc = RunAdd(ctx, args); });
  auto* list = cmd->add_subcommand("list", "Active and pending silences");
  list->add_flag("--all", args.all, "Include expired silences");
  list->add_flag("--json", ctx.g.json, "Machine output");
  list->callback([&] { rc = RunList(ctx, args); });
  auto* expire = cmd->add_subcommand("expire", "End a silence now");
  expire->add_option("id", args.id, "The silence's id (from `steward silence list`)")->required();
  expire->add_flag("--json", ctx.g.json, "Machine output");
  expire->callback([&] { rc = RunExpire(ctx, args); });

  auto* alerts = app.add_subcommand("alerts", "Alerts the daemon holds: firing, silenced, "
                                              "inhibited");
  alerts->add_flag("--json", ctx.g.json, "Machine output (Alertmanager's GET /api/v2/alerts)");
  alerts->callback([&] { rc = RunAlerts(ctx); });
}

}  // namespace steward::cli
