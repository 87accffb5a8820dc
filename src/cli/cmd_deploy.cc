// deploy, rollback, releases: putting a new release of a service live through the daemon's
// deploy controller (docs/api.md "Deploys"), and the pipeline's deploy step
// (DeployThroughDaemon). The daemon does the work; these commands ask and follow: they poll
// GET /api/v1/deploys/{id} and print each new event as a progress line until the deploy ends.
#include <cctype>
#include <chrono>
#include <functional>
#include <iostream>
#include <thread>

#include "cli/cli.h"
#include "server/client.h"

namespace steward::cli {
namespace {

constexpr auto kPollEvery = std::chrono::milliseconds(300);

std::string Escape(const std::string& text) {
  static const char* kHex = "0123456789ABCDEF";
  std::string out;
  for (unsigned char c : text) {
    if (std::isalnum(c) || c == '-' || c == '_' || c == '.' || c == '~') {
      out += static_cast<char>(c);
    } else {
      out += '%';
      out += kHex[c >> 4];
      out += kHex[c & 15];
    }
  }
  return out;
}

StatusOr<server::DaemonClient> Connect(const Context& ctx) {
  auto client = server::DaemonClient::Connect(ctx.StateDir());
  if (!client.ok() && client.status().code() == StatusCode::kUnavailable)
    return Unavailable(client.status().message() +
                       "; deploys are carried out by the daemon: start it with `steward up`");
  return client;
}

// The error a finished deploy stands for; OK when it succeeded.
Status OutcomeOf(const nlohmann::json& d) {
  std::string status = d.value("status", "");
  std::string what = "deploy #" + std::to_string(d.value("id", int64_t{0})) + " of " +
                     d.value("service", std::string("?")) + " (release " +
                     std::to_string(d.value("release", int64_t{0})) + ")";
  std::string error = d.value("error", "");
  std::string why = error.empty() ? "" : ": " + error;
  if (status == "succeeded") return Status::OK();
  if (status == "failed")
    return Aborted(what + " failed and was rolled back; the previous release keeps serving" + why);
  if (status == "rolled-back") return Aborted(what + " was rolled back" + why);
  if (status == "frozen")
    return Aborted(what + " was frozen where it was (steward rollback --freeze)" + why);
  if (status == "interrupted")
    return Aborted(what + " was interrupted (the daemon restarted)" + why);
  return Internal(what + " ended with unknown status '" + status + "'" + why);
}

bool Finished(const nlohmann::json& d) { return d.value("status", "running") != "running"; }

// Polls the deploy until it ends, handing each event not seen yet to `line`. A cancel asks the
// daemon to roll the deploy back once, then keeps following it to its end.
StatusOr<nlohmann::json> Follow(server::DaemonClient& client, nlohmann::json d,
                                const std::function<void(const std::string&)>& line,
                                const pipeline::CancelToken* cancel) {
  size_t seen = 0;
  bool asked_rollback = false;
  const std::string path = "/api/v1/deploys/" + std::to_string(d.value("id", int64_t{0}));
  int unavailable = 0;
  while (true) {
    const auto& events = d.contains("events") && d["events"].is_array() ? d["events"]
                                                                         : nlohmann::json::array();
    for (; seen < events.size(); ++seen) line(events[seen].value("text", ""));
    if (Finished(d)) return d;
    if (cancel && cancel->cancelled() && !asked_rollback) {
      asked_rollback = true;
      line("cancelled: asking the daemon to roll the deploy back");
      auto r = client.Post("/api/v1/services/" + Escape(d.value("service", "")) + "/rollback",
                           nlohmann::json{{"to", 0}, {"freeze", false}});
      if (!r.ok()) line("rollback request failed: " + r.status().message());
    }
    std::this_thread::sleep_for(kPollEvery);
    auto next = client.Get(path);
    if (!next.ok()) {
      // A daemon restarting marks the deploy interrupted; a few misses are a busy daemon.
      if (next.status().code() == StatusCode::kUnavailable && ++unavailable < 20) continue;
      return next.status().Annotate("follow deploy");
    }
    unavailable = 0;
    d = std::move(*next);
  }
}

struct DeployArgs {
  std::string service;
  std::string version;
  std::string strategy;
  std::vector<std::string> env;
  bool no_wait = false;
  int64_t to = 0;
  bool freeze = false;
};

void PrintDeployLine(const Context& ctx, const std::string& text) {
  if (ctx.g.json) return;
  std::cout << "  " << text << std::endl;
}

int Report(const Context& ctx, const nlohmann::json& d) {
  if (ctx.g.json) {
    std::cout << d.dump(2) << "\n";
    return OutcomeOf(d).ok() ? kExitOk : kExitError;
  }
  Status st = OutcomeOf(d);
  if (!st.ok()) return Fail(st);
  std::cout << "deploy #" << d.value("id", int64_t{0}) << ": release "
            << d.value("release", int64_t{0}) << " of " << d.value("service", "")
            << " is live\n";
  return kExitOk;
}

int RunDeploy(const Context& ctx, const DeployArgs& a) {
  nlohmann::json env = nlohmann::json::object();
  for (const auto& kv : a.env) {
    size_t eq = kv.find('=');
    if (eq == std::string::npos || eq == 0)
      return Fail(InvalidArgument("--env '" + kv.substr(0, kv.find('=')) +
                                  "': expected KEY=VALUE"));
    env[kv.substr(0, eq)] = kv.substr(eq + 1);
  }
  auto client = Connect(ctx);
  if (!client.ok()) return Fail(client.status());
  auto d = client->Post("/api/v1/deploys", {{"service", a.service},
                                            {"version", a.version},
                                            {"strategy", a.strategy},
                                            {"env", env},
                                            {"trigger", "cli"}});
  if (!d.ok()) return Fail(d.status());
  if (!ctx.g.json)
    std::cout << "deploy #" << d->value("id", int64_t{0}) << ": " << a.service << " release "
              << d->value("release", int64_t{0}) << " (" << d->value("strategy", "") << ")\n";
  if (a.no_wait) {
    if (ctx.g.json) std::cout << d->dump(2) << "\n";
    return kExitOk;
  }
  auto done = Follow(*client, *d, [&](const std::string& t) { PrintDeployLine(ctx, t); }, nullptr);
  if (!done.ok()) return Fail(done.status());
  return Report(ctx, *done);
}

int RunRollback(const Context& ctx, const DeployArgs& a) {
  auto client = Connect(ctx);
  if (!client.ok()) return Fail(client.status());
  auto d = client->Post("/api/v1/services/" + Escape(a.service) + "/rollback",
                        {{"to", a.to}, {"freeze", a.freeze}});
  if (!d.ok()) return Fail(d.status());
  if (a.freeze) {
    if (ctx.g.json) {
      std::cout << d->dump(2) << "\n";
    } else {
      std::cout << "deploy #" << d->value("id", int64_t{0}) << " of " << a.service
                << " frozen where it was; finish it with `steward deploy` or "
                   "`steward rollback "
                << a.service << "`\n";
    }
    return kExitOk;
  }
  if (!ctx.g.json)
    std::cout << "rollback #" << d->value("id", int64_t{0}) << ": " << a.service
              << " back to release " << d->value("release", int64_t{0}) << "\n";
  if (a.no_wait) {
    if (ctx.g.json) std::cout << d->dump(2) << "\n";
    return kExitOk;
  }
  auto done = Follow(*client, *d, [&](const std::string& t) { PrintDeployLine(ctx, t); }, nullptr);
  if (!done.ok()) return Fail(done.status());
  return Report(ctx, *done);
}

int RunReleases(const Context& ctx, const DeployArgs& a) {
  auto client = Connect(ctx);
  if (!client.ok()) return Fail(client.status());
  auto j = client->Get("/api/v1/services/" + Escape(a.service) + "/releases");
  if (!j.ok()) return Fail(j.status());
  if (ctx.g.json) {
    std::cout << j->dump(2) << "\n";
    return kExitOk;
  }
  const auto& list = (*j)["releases"];
  if (list.empty()) {
    std::cout << "no releases of " << a.service << " yet (`steward deploy " << a.service
              << "` makes one)\n";
    return kExitOk;
  }
  std::vector<std::vector<std::string>> rows = {{"", "VERSION", "LABEL", "STATUS", "CREATED"}};
  for (const auto& r : list)
    rows.push_back({r.value("live", false) ? "*" : "", std::to_string(r.value("version", 0)),
                    r.value("label", ""), r.value("status", ""), r.value("created_at", "")});
  PrintTable(rows);
  return kExitOk;
}

}  // namespace

Status DeployThroughDaemon(const Context& ctx, const pipeline::DeployRequest& request,
                           const pipeline::LineFn& log, const pipeline::CancelToken* cancel) {
  auto client = Connect(ctx);
  if (!client.ok()) return client.status();
  nlohmann::json env = nlohmann::json::object();
  for (const auto& [k, v] : request.env) env[k] = v;
  auto d = client->Post("/api/v1/deploys", {{"service", request.service},
                                            {"version", request.version},
                                            {"strategy", request.strategy},
                                            {"env", env},
                                            {"trigger", "pipeline"},
                                            {"run_id", request.run_id},
                                            {"commit", request.commit},
                                            {"commit_time_ms", request.commit_time_ms}});
  if (!d.ok()) return d.status().Annotate("deploy " + request.service);
  auto say = [&log](const std::string& text) {
    if (log) log(text, false);
  };
  say("deploy #" + std::to_string(d->value("id", int64_t{0})) + ": " + request.service +
      " release " + std::to_string(d->value("release", int64_t{0})) + " (" +
      d->value("strategy", "") + ")");
  auto done = Follow(*client, *d, say, cancel);
  if (!done.ok()) return done.status();
  return OutcomeOf(*done);
}

void AddDeploy(CLI::App& app, Context& ctx, int& rc) {
  static DeployArgs a;
  auto* cmd = app.add_subcommand(
      "deploy", "Put a new release of a service live (rolling, blue-green or canary)");
  cmd->add_option("SERVICE", a.service, "The service (as last applied)")->required();
  cmd->add_option("--version", a.version, "The release's label (a commit, v1.4.2); default r<N>");
  cmd->add_option("--strategy", a.strategy, "rolling, blue-green or canary (default: the stack's)")
      ->check(CLI::IsMember({"rolling", "blue-green", "canary"}));
  cmd->add_option("--env", a.env, "KEY=VALUE added to the release's environment (repeatable)");
  cmd->add_flag("--no-wait", a.no_wait, "Return once the deploy has started");
  cmd->add_flag("--json", ctx.g.json, "Print the deploy record as JSON");
  cmd->callback([&] { rc = RunDeploy(ctx, a); });
}

void AddRollback(CLI::App& app, Context& ctx, int& rc) {
  static DeployArgs a;
  auto* cmd = app.add_subcommand(
      "rollback", "Go back to the previous release (no analysis), or freeze a running deploy");
  cmd->add_option("SERVICE", a.service, "The service")->required();
  cmd->add_option("--to", a.to, "Release version to go back to (`steward releases`)")
      ->check(CLI::PositiveNumber);
  cmd->add_flag("--freeze", a.freeze,
                "Stop the running deploy where it is (traffic split kept), e.g. after an "
                "irreversible migration");
  cmd->add_flag("--no-wait", a.no_wait, "Return once the rollback has started");
  cmd->add_flag("--json", ctx.g.json, "Print the deploy record as JSON");
  cmd->callback([&] { rc = RunRollback(ctx, a); });
}

void AddReleases(CLI::App& app, Context& ctx, int& rc) {
  static DeployArgs a;
  auto* cmd = app.add_subcommand("releases", "A service's releases, newest first (* is live)");
  cmd->add_option("SERVICE", a.service, "The service")->required();
  cmd->add_flag("--json", ctx.g.json, "Print as JSON");
  cmd->callback([&] { rc = RunReleases(ctx, a); });
}

}  // namespace steward::cli
