// query: evaluates PromQL on a running daemon (or `serve --data-dir`) through its Prometheus API
// and prints the result as a table, or the API's data object with --json.
//
// The server is found by --server URL (token from --token-file or $STEWARD_TOKEN), else by the
// daemon.json and api.token of --data-dir DIR (what `serve --data-dir DIR` writes), else of the
// state directory.
#include <httplib.h>

#include <charconv>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <iostream>
#include <nlohmann/json.hpp>

#include "cli/cli.h"
#include "promql/parser.h"
#include "server/client.h"

namespace steward::cli {
namespace {

struct QueryFlags {
  std::string expr;
  std::string time;
  bool range = false;
  std::string start, end, step;
  std::string timeout;
  std::string server, token_file, data_dir;
};

std::string SecondsText(int64_t ms) {
  char buf[48];
  std::snprintf(buf, sizeof buf, "%.3f", static_cast<double>(ms) / 1000.0);
  return buf;
}

// `now`, `now-1h`, `now+5m`, `-1h` (before now) become Unix seconds; anything else (Unix seconds,
// RFC 3339) goes to the server as written, which checks it.
StatusOr<std::string> ResolveTime(const std::string& flag, const std::string& text,
                                  int64_t now_ms) {
  std::string rel;
  int sign = -1;
  if (text == "now") return SecondsText(now_ms);
  if (text.rfind("now-", 0) == 0 || text.rfind("now+", 0) == 0) {
    rel = text.substr(4);
    sign = text[3] == '-' ? -1 : 1;
  } else if (text.size() > 1 && text[0] == '-' &&
             !std::isdigit(static_cast<unsigned char>(text.back()))) {
    rel = text.substr(1);
  } else {
    return text;
  }
  auto d = promql::ParseDurationMillis(rel);
  if (!d.ok())
    return InvalidArgument(flag + " '" + text + "': " + d.status().message() +
                           " (use RFC 3339, Unix seconds, now, now-1h or -1h)");
  return SecondsText(now_ms + sign * *d);
}

// Where the API is (scheme, host, port, CA) and the token it wants.
struct Endpoint {
  server::DaemonInfo daemon;
  std::string token;
};

StatusOr<Endpoint> FindServer(Context& ctx, const QueryFlags& f) {
  Endpoint ep;
  if (!f.server.empty()) {
    std::string s = f.server;
    if (s.rfind("https://", 0) == 0) {
      ep.daemon.scheme = "https";
      s = s.substr(8);  // verified against $STEWARD_TLS_CA or the system store (NewHttpClient)
    } else if (s.rfind("http://", 0) == 0) {
      s = s.substr(7);
    }
    if (s.find("://") != std::string::npos)
      return InvalidArgument("--server '" + f.server + "': expected http://HOST:PORT or "
                             "https://HOST:PORT");
    while (!s.empty() && s.back() == '/') s.pop_back();
    size_t colon = s.rfind(':');
    if (colon == std::string::npos || colon == 0 || colon + 1 == s.size())
      return InvalidArgument("--server '" + f.server + "': expected http://HOST:PORT");
    ep.daemon.host = s.substr(0, colon);
    std::string port = s.substr(colon + 1);
    int& p = ep.daemon.port;
    auto [end, ec] = std::from_chars(port.data(), port.data() + port.size(), p);
    if (ec != std::errc() || end != port.data() + port.size() || p < 1 || p > 65535)
      return InvalidArgument("--server '" + f.server + "': the port '" + port +
                             "' is not a number from 1 to 65535");
    if (!f.token_file.empty()) {
      ASSIGN_OR_RETURN(ep.token, server::ReadApiToken(f.token_file));
    } else if (const char* t = getenv("STEWARD_TOKEN")) {
      ep.token = t;
    }
    return ep;
  }
  std::string dir = f.data_dir.empty()
                        ? ctx.StateDir()
                        : std::filesystem::absolute(f.data_dir).lexically_normal().string();
  auto info = server::FindDaemon(dir);
  if (!info)
    return FailedPrecondition("no steward daemon is running for " + dir +
                              " (start one with `steward up`, or `steward serve --data-dir DIR` "
                              "and query with --data-dir DIR; or give --server URL)");
  ep.daemon = *info;
  ASSIGN_OR_RETURN(ep.token,
                   server::ReadApiToken(f.token_file.empty() ? dir + "/api.token" : f.token_file));
  return ep;
}

// POSTs the form; returns the whole answer ({"status":...}) whatever the HTTP status.
StatusOr<nlohmann::json> PostForm(const Endpoint& ep, const std::string& path,
                                  const httplib::Params& params) {
  std::unique_ptr<httplib::Client> cli = server::NewHttpClient(ep.daemon);
  if (!ep.token.empty()) cli->set_bearer_token_auth(ep.token.c_str());
  cli->set_connection_timeout(5, 0);
  cli->set_read_timeout(15 * 60, 0);
  auto res = cli->Post(path.c_str(), params);
  if (!res)
    return Unavailable("POST " + path + ": " + server::TransportError(ep.daemon, res.error()));
  auto j = nlohmann::json::parse(res->body, nullptr, false);
  if (j.is_discarded() || !j.is_object())
    return Internal("POST " + path + ": HTTP " + std::to_string(res->status) + ": " +
                    res->body.substr(0, 200));
  return j;
}

// A [time, "value"] pair as the API writes it.
bool IsPoint(const nlohmann::json& p) {
  return p.is_array() && p.size() == 2 && p[0].is_number() && p[1].is_string();
}

bool IsMetric(const nlohmann::json& m) {
  if (!m.is_object()) return false;
  for (const auto& [name, value] : m.items())
    if (!value.is_string()) return false;
  return true;
}

// The data object's shape, checked before anything reads it: what is wrong, or "".
std::string ShapeError(const nlohmann::json& data) {
  if (!data.is_object()) return "\"data\" is not an object";
  auto type = data.find("resultType");
  auto result = data.find("result");
  if (type == data.end() || !type->is_string()) return "no \"resultType\" string";
  if (result == data.end()) return "no \"result\"";
  const std::string t = type->get<std::string>();
  if (t == "scalar" || t == "string")
    return IsPoint(*result) ? "" : "the " + t + " result is not a [time, \"value\"] pair";
  if (t != "vector" && t != "matrix") return "unknown resultType \"" + t + "\"";
  if (!result->is_array()) return "the " + t + " result is not an array";
  for (const auto& s : *result) {
    if (!s.is_object() || !IsMetric(s.value("metric", nlohmann::json())))
      return "a series without a \"metric\" object of string label values";
    if (t == "vector" && !IsPoint(s.value("value", nlohmann::json())))
      return "a sample without a [time, \"value\"] pair";
    if (t == "matrix") {
      auto values = s.find("values");
      if (values == s.end() || !values->is_array()) return "a series without \"values\"";
      for (const auto& p : *values)
        if (!IsPoint(p)) return "a point that is not a [time, \"value\"] pair";
    }
  }
  return "";
}

std::string LabelsText(const nlohmann::json& metric) {
  std::string name = metric.value("__name__", "");
  std::string inner;
  for (auto it = metric.begin(); it != metric.end(); ++it) {
    if (it.key() == "__name__") continue;
    std::string v;
    for (char c : it.value().get<std::string>()) {
      if (c == '\\' || c == '"') v.push_back('\\');
      if (c == '\n') {
        v += "\\n";
        continue;
      }
      if (static_cast<unsigned char>(c) < 0x20) continue;  // never drive the terminal
      v.push_back(c);
    }
    inner += (inner.empty() ? "" : ", ") + it.key() + "=\"" + v + "\"";
  }
  if (!name.empty() && inner.empty()) return name;
  return name + "{" + inner + "}";
}

std::string TimeText(const nlohmann::json& t) {
  double secs = t.is_number() ? t.get<double>() : 0;
  return FormatRfc3339Millis(FromUnixMillis(static_cast<int64_t>(std::llround(secs * 1000))));
}

std::string ValueText(const nlohmann::json& pair) {
  return pair.is_array() && pair.size() == 2 && pair[1].is_string() ? pair[1].get<std::string>()
                                                                    : pair.dump();
}

void PrintResult(const nlohmann::json& data) {
  std::string type = data.value("resultType", "");
  const nlohmann::json& result = data.at("result");  // ShapeError checked every access
  if (type == "scalar" || type == "string") {
    std::cout << ValueText(result) << "\n";
    return;
  }
  if (type == "vector") {
    std::vector<std::vector<std::string>> rows = {{"SERIES", "VALUE"}};
    for (const auto& s : result)
      rows.push_back(
          {LabelsText(s.value("metric", nlohmann::json::object())), ValueText(s.at("value"))});
    PrintTable(rows);
    if (result.empty()) std::cerr << "no data: the query returned an empty vector\n";
    return;
  }
  // matrix: one block per series, a row per point.
  bool first = true;
  for (const auto& s : result) {
    if (!first) std::cout << "\n";
    first = false;
    std::cout << LabelsText(s.value("metric", nlohmann::json::object())) << "\n";
    std::vector<std::vector<std::string>> rows;
    for (const auto& p : s.at("values")) rows.push_back({"  " + TimeText(p[0]), ValueText(p)});
    PrintTable(rows);
  }
  if (result.empty()) std::cerr << "no data: the query returned no series\n";
}

int RunQuery(Context& ctx, const QueryFlags& f) {
  int64_t now = ToUnixMillis(RealClock::Get()->WallNow());
  httplib::Params params = {{"query", f.expr}};
  if (!f.timeout.empty()) params.emplace("timeout", f.timeout);
  std::string path = "/api/v1/query";
  if (f.range) {
    path = "/api/v1/query_range";
    auto end = ResolveTime("--end", f.end.empty() ? "now" : f.end, now);
    if (!end.ok()) return Fail(end.status());
    auto start = ResolveTime("--start", f.start.empty() ? "now-1h" : f.start, now);
    if (!start.ok()) return Fail(start.status());
    std::string step = f.step;
    if (step.empty()) {  // about 250 points, at least 1 s, like Prometheus' graph page
      double s = std::strtod(start->c_str(), nullptr), e = std::strtod(end->c_str(), nullptr);
      bool numeric = start->find_first_not_of("0123456789.-") == std::string::npos &&
                     end->find_first_not_of("0123456789.-") == std::string::npos;
      step = numeric ? std::to_string(std::max<int64_t>(1, static_cast<int64_t>((e - s) / 250)))
                     : "60";
    }
    params.emplace("start", *start);
    params.emplace("end", *end);
    params.emplace("step", step);
  } else if (!f.time.empty()) {
    auto t = ResolveTime("--time", f.time, now);
    if (!t.ok()) return Fail(t.status());
    params.emplace("time", *t);
  }
  auto ep = FindServer(ctx, f);
  if (!ep.ok()) return Fail(ep.status());
  auto answer = PostForm(*ep, path, params);
  if (!answer.ok()) return Fail(answer.status());
  auto text = [&](const char* key, const std::string& dflt) {
    auto it = answer->find(key);
    return it != answer->end() && it->is_string() ? it->get<std::string>() : dflt;
  };
  if (text("status", "") != "success") {
    std::cerr << "error: " << text("errorType", "error") << ": "
              << text("error", answer->dump().substr(0, 200)) << "\n";
    return kExitError;
  }
  auto warnings = answer->find("warnings");
  if (warnings != answer->end() && warnings->is_array())
    for (const auto& w : *warnings)
      if (w.is_string()) std::cerr << "warning: " << w.get<std::string>() << "\n";
  auto data_it = answer->find("data");
  const nlohmann::json data = data_it == answer->end() ? nlohmann::json() : *data_it;
  if (std::string why = ShapeError(data); !why.empty())
    return Fail(Internal("unexpected answer from " + ep->daemon.host + ":" + std::to_string(ep->daemon.port) +
                         ": " + why));
  if (ctx.g.json) {
    std::cout << data.dump(2) << "\n";
    return kExitOk;
  }
  PrintResult(data);
  return kExitOk;
}

}  // namespace

void AddQuery(CLI::App& app, Context& ctx, int& rc) {
  static QueryFlags f;
  auto* cmd = app.add_subcommand("query", "Evaluate a PromQL expression (instant, or --range)");
  cmd->add_option("expr", f.expr, "PromQL expression, e.g. 'sum by (job) (rate(x_total[5m]))'")
      ->required();
  cmd->add_option("--time", f.time, "Evaluation time (RFC 3339, Unix seconds, now, -1h, now-5m)");
  cmd->add_flag("--range", f.range, "Range query over --start..--end every --step");
  cmd->add_option("--start", f.start, "Range start (default now-1h)");
  cmd->add_option("--end", f.end, "Range end (default now)");
  cmd->add_option("--step", f.step,
                  "Resolution: seconds or a duration like 30s (default: ~250 points)");
  cmd->add_option("--timeout", f.timeout, "Evaluation timeout, e.g. 30s (server default 2m)");
  cmd->add_option("--server", f.server, "API address http://HOST:PORT or https://HOST:PORT (CA: $STEWARD_TLS_CA) instead of a local daemon");
  cmd->add_option("--token-file", f.token_file, "File holding the API token (default: api.token)");
  cmd->add_option("--data-dir", f.data_dir,
                  "Query the `steward serve --data-dir DIR` server of this directory");
  cmd->add_flag("--json", ctx.g.json, "Print the API's data object as JSON");
  cmd->callback([&] { rc = RunQuery(ctx, f); });
}

}  // namespace steward::cli
