// status, history, logs: the commands that read.
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <iomanip>
#include <iostream>
#include <thread>

#include "cli/cli.h"
#include "config/stack_json.h"
#include "runtime/secret_env.h"
#include "secrets/resolver.h"
#include "server/client.h"
#include "state/state_store.h"

namespace steward::cli {
namespace fs = std::filesystem;
namespace {

std::string FormatRss(int64_t bytes) {
  if (bytes <= 0) return "-";
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.1fMi", bytes / 1048576.0);
  return buf;
}

nlohmann::json OfflineStatus(Context& ctx) {
  nlohmann::json services = nlohmann::json::array();
  auto store = state::OpenSqliteStateStore(ctx.StateDir(), RealClock::Get());
  if (store.ok())
    if (auto recs = (*store)->ListServices(); recs.ok())
      for (const auto& r : *recs) {
        auto spec = config::ServiceFromJson(nlohmann::json::parse(r.spec_json, nullptr, false));
        services.push_back({{"name", r.name},
                            {"generation", r.generation},
                            {"replicas", spec.ok() ? spec->replicas : 0},
                            {"ready", 0}});
      }
  return {{"daemon", nullptr}, {"services", services}, {"replicas", nlohmann::json::array()}};
}

int RunStatus(Context& ctx) {
  nlohmann::json st;
  auto client = server::DaemonClient::Connect(ctx.StateDir());
  if (client.ok()) {
    auto j = client->Get("/api/v1/status");
    if (!j.ok()) return Fail(j.status());
    st = *j;
  } else {
    st = OfflineStatus(ctx);
  }
  if (ctx.g.json) {
    std::cout << st.dump(2) << "\n";
    return kExitOk;
  }
  if (st["daemon"].is_null())
    std::cout << "daemon: not running (nothing is supervised; `steward apply` or `steward up` "
                 "starts it)\n";
  else
    std::cout << "daemon: pid " << st["daemon"].value("pid", 0) << ", http://127.0.0.1:"
              << st["daemon"].value("port", 0) << "\n";
  std::vector<std::vector<std::string>> rows = {{"SERVICE", "READY", "GENERATION"}};
  for (const auto& s : st["services"])
    rows.push_back({s.value("name", ""),
                    std::to_string(s.value("ready", 0)) + "/" + std::to_string(s.value("replicas", 0)),
                    std::to_string(s.value("generation", 0))});
  std::cout << "\n";
  PrintTable(rows);
  if (!st["replicas"].empty()) {
    rows = {{"REPLICA", "STATE", "PID", "PORT", "RESTARTS", "RSS", "LAST"}};
    for (const auto& r : st["replicas"])
      rows.push_back({r.value("service", "") + "/" + std::to_string(r.value("slot", 0)),
                      r.value("state", ""), std::to_string(r.value("pid", 0)),
                      std::to_string(r.value("port", 0)), std::to_string(r.value("restarts", 0)),
                      FormatRss(r.value("rss_bytes", int64_t{0})),
                      r.value("last_reason", "")});
    std::cout << "\n";
    PrintTable(rows);
  }
  return kExitOk;
}

int RunHistory(Context& ctx, int limit) {
  auto store = state::OpenSqliteStateStore(ctx.StateDir(), RealClock::Get());
  if (!store.ok()) return Fail(store.status());
  auto h = (*store)->ListHistory(limit);
  if (!h.ok()) return Fail(h.status());
  if (ctx.g.json) {
    nlohmann::json out = server::HistoryJson(*h);
    std::cout << out.dump(2) << "\n";
    return kExitOk;
  }
  std::vector<std::vector<std::string>> rows = {
      {"ID", "STARTED", "DURATION", "BY", "COMMAND", "RESULT", "CHANGES"}};
  for (const auto& e : *h) {
    auto changes = nlohmann::json::parse(e.changes_json, nullptr, false);
    std::string summary;
    if (changes.is_array())
      for (const auto& c : changes) {
        std::string sym = c.value("symbol", c.value("action", ""));
        if (sym == "create") sym = "+";
        else if (sym == "update") sym = "~";
        else if (sym == "replace") sym = "-/+";
        else if (sym == "destroy") sym = "-";
        summary += (summary.empty() ? "" : " ") + sym + c.value("resource", "");
      }
    rows.push_back({std::to_string(e.id), FormatRfc3339(FromUnixMillis(e.started_at_ms)),
                    e.finished_at_ms ? FormatDuration(Duration(e.finished_at_ms - e.started_at_ms)) : "-",
                    e.user + "@" + e.host, e.command, e.result, summary});
  }
  PrintTable(rows);
  return kExitOk;
}

// Prints new bytes of a log file from *offset on; a file that shrank was rotated: restart at 0.
void Drain(const std::string& path, std::streamoff* offset, const std::string& prefix,
           const std::vector<std::string>& mask) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return;
  in.seekg(0, std::ios::end);
  std::streamoff size = in.tellg();
  if (size < *offset) *offset = 0;
  in.seekg(*offset);
  std::string line;
  while (std::getline(in, line)) {
    if (in.eof()) {  // a partial last line: wait for the rest
      break;
    }
    std::cout << prefix << secrets::MaskValues(line, mask) << "\n";
    *offset = in.tellg();
  }
  std::cout.flush();
}

int RunLogs(Context& ctx, const std::string& service, int replica, bool follow, bool stderr_only,
            int tail) {
  fs::path root = fs::path(ctx.StateDir()) / "logs" / service;
  if (!fs::is_directory(root)) {
    std::cerr << "error: no logs for service '" << service << "' under " << root.string()
              << "; `steward status` lists the services\n";
    return kExitError;
  }
  struct Source { std::string path, prefix; std::streamoff offset = 0; };
  std::vector<Source> sources;
  for (const auto& e : fs::directory_iterator(root)) {
    if (!e.is_directory()) continue;
    std::string slot = e.path().filename().string();
    if (replica >= 0 && slot != std::to_string(replica)) continue;
    for (const char* stream : {"stdout", "stderr"}) {
      if (stderr_only && std::string(stream) == "stdout") continue;
      std::string prefix = service + "/" + slot + (std::string(stream) == "stderr" ? "!" : "") + " | ";
      sources.push_back({(e.path() / (std::string(stream) + ".log")).string(), prefix});
    }
  }
  if (sources.empty()) {
    std::cerr << "error: service '" << service << "' has no replica " << replica << " logs\n";
    return kExitError;
  }
  // A replica may print a secret it was given: every current and previous value is masked
  // (when this user can open the secrets; else there is nothing Steward could mask with).
  std::vector<std::string> mask;
  if (fs::exists(ctx.StateDir() + "/state.db")) {
    if (auto store = state::OpenSqliteStateStore(ctx.StateDir(), RealClock::Get()); store.ok())
      mask = runtime::StateDirSecrets(store->get(), ctx.StateDir(), RealClock::Get())
                 .MaskingValues();
  }
  for (auto& s : sources) {
    // Start `tail` lines from the end.
    std::ifstream in(s.path, std::ios::binary);
    std::string all((std::istreambuf_iterator<char>(in)), {});
    size_t pos = all.size();
    for (int n = 0; n <= tail && pos > 0;) {
      pos = all.rfind('\n', pos - 1);
      if (pos == std::string::npos) { pos = 0; break; }
      if (++n > tail) { ++pos; break; }
    }
    s.offset = tail < 0 ? 0 : static_cast<std::streamoff>(pos);
    Drain(s.path, &s.offset, s.prefix, mask);
  }
  while (follow) {
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
    for (auto& s : sources) Drain(s.path, &s.offset, s.prefix, mask);
  }
  return kExitOk;
}

}  // namespace

void AddStatus(CLI::App& app, Context& ctx, int& rc) {
  auto* cmd = app.add_subcommand("status", "Services and replicas: state, readiness, restarts");
  cmd->add_flag("--json", ctx.g.json, "Print as JSON");
  cmd->callback([&] { rc = RunStatus(ctx); });
}

void AddHistory(CLI::App& app, Context& ctx, int& rc) {
  auto* cmd = app.add_subcommand("history", "Every apply: when, by whom, what changed, result");
  cmd->add_flag("--json", ctx.g.json, "Print as JSON");
  static int limit = 20;
  cmd->add_option("-n,--limit", limit, "How many entries, newest first")
      ->check(CLI::Range(1, 100000))
      ->capture_default_str();
  cmd->callback([&] { rc = RunHistory(ctx, limit); });
}

void AddLogs(CLI::App& app, Context& ctx, int& rc) {
  auto* cmd = app.add_subcommand("logs", "Show a service's replica logs");
  static std::string service;
  static int replica = -1, tail = -1;
  static bool follow = false, stderr_only = false;
  cmd->add_option("SERVICE", service, "Service name")->required();
  cmd->add_option("-r,--replica", replica, "Only this replica (slot number)");
  cmd->add_flag("-f,--follow", follow, "Keep printing new lines");
  cmd->add_option("-n,--tail", tail, "Start this many lines from the end (default: all)");
  cmd->add_flag("--stderr", stderr_only, "Only stderr");
  cmd->callback([&] { rc = RunLogs(ctx, service, replica, follow, stderr_only, tail); });
}

}  // namespace steward::cli
