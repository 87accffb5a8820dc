// targets, series, monitors: what the daemon's monitoring sees, through its Prometheus API.
#include <cctype>
#include <cstdio>
#include <iostream>

#include "cli/cli.h"
#include "server/client.h"

namespace steward::cli {
namespace {

std::string UrlEncode(const std::string& s) {
  static const char* kHex = "0123456789ABCDEF";
  std::string out;
  for (unsigned char c : s) {
    if (std::isalnum(c) || c == '-' || c == '_' || c == '.' || c == '~') {
      out.push_back(static_cast<char>(c));
    } else {
      out.push_back('%');
      out.push_back(kHex[c >> 4]);
      out.push_back(kHex[c & 15]);
    }
  }
  return out;
}

// GET from the running daemon's Prometheus API; returns "data" or the API's error.
StatusOr<nlohmann::json> PromGet(Context& ctx, const std::string& path) {
  auto client = server::DaemonClient::Connect(ctx.StateDir());
  if (!client.ok())
    return FailedPrecondition("no daemon is running for " + ctx.StateDir() +
                              " (metrics live in the daemon; start it with `steward up` or "
                              "`steward apply`)");
  ASSIGN_OR_RETURN(nlohmann::json j, client->Get(path));
  if (j.value("status", "") != "success")
    return InvalidArgument(j.value("error", "unexpected reply from the daemon"));
  return j["data"];
}

// Text that came from targets (reason phrases, probe output): control characters shown as
// escapes, so a remote server cannot drive the terminal.
std::string Printable(const std::string& s) {
  std::string out;
  for (unsigned char c : s) {
    if (c < 0x20 || c == 0x7f) {
      char buf[8];
      std::snprintf(buf, sizeof buf, "\\x%02x", c);
      out += buf;
    } else {
      out.push_back(static_cast<char>(c));
    }
  }
  return out;
}

std::string Str(const nlohmann::json& j, const char* key) {
  auto it = j.find(key);
  return it != j.end() && it->is_string() ? it->get<std::string>() : "";
}

std::string Seconds(double s) {
  char buf[32];
  if (s < 1) std::snprintf(buf, sizeof buf, "%.1fms", s * 1000);
  else std::snprintf(buf, sizeof buf, "%.2fs", s);
  return buf;
}

std::string LabelsText(const nlohmann::json& labels, bool with_name) {
  std::string name = with_name ? labels.value("__name__", "") : "";
  std::string inner;
  for (auto it = labels.begin(); it != labels.end(); ++it) {
    if (it.key() == "__name__" && with_name) continue;
    std::string v;
    std::string raw = it.value().is_string() ? it.value().get<std::string>() : it.value().dump();
    for (char c : raw) {
      if (c == '\\' || c == '"') v.push_back('\\');
      if (c == '\n') { v += "\\n"; continue; }
      v.push_back(c);
    }
    inner += (inner.empty() ? "" : ", ") + it.key() + "=\"" + v + "\"";
  }
  return name + "{" + inner + "}";
}

int RunTargets(Context& ctx) {
  auto data = PromGet(ctx, "/api/v1/targets");
  if (!data.ok()) return Fail(data.status());
  if (ctx.g.json) {
    std::cout << data->dump(2) << "\n";
    return kExitOk;
  }
  std::vector<std::vector<std::string>> rows = {
      {"JOB", "INSTANCE", "HEALTH", "LAST SCRAPE", "DURATION", "SAMPLES", "ERROR"}};
  for (const auto& t : data->value("activeTargets", nlohmann::json::array())) {
    nlohmann::json labels = t.value("labels", nlohmann::json::object());
    bool never = Str(t, "health") == "unknown";
    rows.push_back({Str(t, "scrapePool"), Printable(Str(labels, "instance")), Str(t, "health"),
                    never ? "-" : Str(t, "lastScrape"),
                    never ? "-" : Seconds(t.value("lastScrapeDuration", 0.0)),
                    std::to_string(t.value("lastSamples", 0)), Printable(Str(t, "lastError"))});
  }
  PrintTable(rows);
  if (data->contains("discoveryErrors"))
    for (const auto& e : (*data)["discoveryErrors"])
      std::cerr << "discovery error: " << Printable(e.is_string() ? e.get<std::string>() : "")
                << "\n";
  return kExitOk;
}

int RunSeries(Context& ctx, const std::vector<std::string>& selectors, const std::string& start,
              const std::string& end) {
  std::string path = "/api/v1/series?";
  for (const auto& s : selectors) path += "match[]=" + UrlEncode(s) + "&";
  if (!start.empty()) path += "start=" + UrlEncode(start) + "&";
  if (!end.empty()) path += "end=" + UrlEncode(end) + "&";
  path.pop_back();
  auto data = PromGet(ctx, path);
  if (!data.ok()) return Fail(data.status());
  if (ctx.g.json) {
    std::cout << data->dump(2) << "\n";
    return kExitOk;
  }
  for (const auto& labels : *data) std::cout << Printable(LabelsText(labels, true)) << "\n";
  if (data->empty()) std::cerr << "no series match\n";
  return kExitOk;
}

int RunMonitors(Context& ctx) {
  auto data = PromGet(ctx, "/api/v1/monitors");
  if (!data.ok()) return Fail(data.status());
  if (ctx.g.json) {
    std::cout << data->dump(2) << "\n";
    return kExitOk;
  }
  std::vector<std::vector<std::string>> rows = {
      {"MONITOR", "KIND", "TARGET", "RESULT", "LAST RUN", "DURATION", "ERROR"}};
  for (const auto& p : *data) {
    bool ran = !Str(p, "last_run").empty();
    rows.push_back({Str(p, "name"), Str(p, "kind"), Printable(Str(p, "instance")),
                    !ran ? "pending" : p.value("success", false) ? "ok" : "FAIL",
                    ran ? Str(p, "last_run") : "-",
                    ran ? Seconds(p.value("duration_seconds", 0.0)) : "-",
                    Printable(Str(p, "error"))});
  }
  PrintTable(rows);
  return kExitOk;
}

}  // namespace

void AddTargets(CLI::App& app, Context& ctx, int& rc) {
  auto* cmd = app.add_subcommand("targets", "Scrape targets: health, last scrape, last error");
  cmd->add_flag("--json", ctx.g.json, "Print Prometheus' /api/v1/targets data as JSON");
  cmd->callback([&] { rc = RunTargets(ctx); });
}

void AddSeries(CLI::App& app, Context& ctx, int& rc) {
  auto* cmd = app.add_subcommand(
      "series", "Stored series matching selectors, e.g. steward series 'up{job=\"api\"}'");
  static std::vector<std::string> selectors;
  static std::string start, end;
  cmd->add_option("selector", selectors, "Series selector(s), Prometheus syntax")->required();
  cmd->add_option("--start", start, "From (RFC 3339 or Unix seconds; default: all stored)");
  cmd->add_option("--end", end, "Until (RFC 3339 or Unix seconds; default: all stored)");
  cmd->add_flag("--json", ctx.g.json, "Print the series as JSON label sets");
  cmd->callback([&] { rc = RunSeries(ctx, selectors, start, end); });
}

void AddMonitors(CLI::App& app, Context& ctx, int& rc) {
  auto* cmd = app.add_subcommand("monitors", "Probes of the stack's monitors: last result");
  cmd->add_flag("--json", ctx.g.json, "Print the results as JSON");
  cmd->callback([&] { rc = RunMonitors(ctx); });
}

}  // namespace steward::cli
