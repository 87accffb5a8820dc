// apply, destroy, up, serve, down: the commands that change what runs.
#include <signal.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <iostream>
#include <thread>

#include <spdlog/spdlog.h>

#include "apply/executor.h"
#include "cli/cli.h"
#include "config/stack_json.h"
#include "drivers/driver.h"
#include "plan/plan.h"
#include "server/auth.h"
#include "server/client.h"
#include "state/state_store.h"

namespace steward::cli {
namespace {

void PrintProgress(const Context& ctx, const std::string& resource, const std::string& msg) {
  if (ctx.g.json) return;
  if (resource.empty()) std::cout << msg << "\n";
  else std::cout << resource << ": " << msg << "\n";
  std::cout.flush();
}

int PrintReport(const Context& ctx, const apply::ApplyReport& rep) {
  if (ctx.g.json) std::cout << rep.ToJson().dump(2) << "\n";
  else if (!rep.results.empty()) std::cout << "\n" << rep.ToText();
  return rep.ok() ? kExitOk : kExitError;
}

// Reads the NDJSON stream of an apply or destroy from the daemon.
int StreamFromDaemon(Context& ctx, server::DaemonClient& client, const std::string& path,
                     nlohmann::json body) {
  auto lt = ctx.LockTimeout();
  if (!lt.ok()) return Fail(lt.status());
  auto who = ctx.Who(path == "/api/v1/apply" ? "apply" : "destroy");
  body["requester"] = {{"pid", who.pid}, {"user", who.user}, {"host", who.host}};
  body["lock_timeout_ms"] = lt->count();
  auto result = client.PostStream(path, body, [&](const nlohmann::json& line) {
    PrintProgress(ctx, line.value("resource", ""), line.value("message", ""));
  });
  if (!result.ok()) return Fail(result.status());
  if (!result->value("ok", false) && result->contains("error")) {
    Status st(result->value("code", "") == StatusCodeName(StatusCode::kAborted)
                  ? StatusCode::kAborted
                  : StatusCode::kInternal,
              (*result)["error"].get<std::string>());
    return Fail(st);
  }
  return PrintReport(ctx, apply::ApplyReport::FromJson(result->value("report", nlohmann::json{})));
}

std::string Absolute(const std::string& path) {
  return path.empty() ? path : std::filesystem::absolute(path).lexically_normal().string();
}

// The API hardening flags as `serve` takes them, for the daemon `apply` starts.
std::vector<std::string> ServeApiFlags(const Context& ctx) {
  std::vector<std::string> flags;
  for (auto [flag, value] : {std::pair{"--tls-cert", &ctx.g.tls_cert},
                             std::pair{"--tls-key", &ctx.g.tls_key},
                             std::pair{"--tls-ca", &ctx.g.tls_ca}})
    if (!value->empty()) flags.insert(flags.end(), {flag, Absolute(*value)});
  if (ctx.g.insecure_listen) flags.push_back("--insecure-listen");
  for (const std::string& o : ctx.g.cors_origins) flags.insert(flags.end(), {"--cors-origin", o});
  flags.insert(flags.end(), {"--max-body-size", ctx.g.max_body_size});
  return flags;
}

// The API hardening flags into the daemon's options; errors name the flag.
Status ApplyApiFlags(const Context& ctx, server::DaemonOptions* opt) {
  opt->tls_cert = Absolute(ctx.g.tls_cert);
  opt->tls_key = Absolute(ctx.g.tls_key);
  opt->tls_ca = Absolute(ctx.g.tls_ca);
  if (!opt->tls_ca.empty() && opt->tls_cert.empty())
    return InvalidArgument("--tls-ca names what clients verify the API's certificate with; it "
                           "needs --tls-cert and --tls-key");
  opt->insecure_listen = ctx.g.insecure_listen;
  for (const std::string& o : ctx.g.cors_origins) RETURN_IF_ERROR(server::ValidateCorsOrigin(o));
  opt->cors_origins = ctx.g.cors_origins;
  ASSIGN_OR_RETURN(opt->max_body_bytes, ParseSize("--max-body-size", ctx.g.max_body_size));
  if (opt->max_body_bytes < 1024)
    return InvalidArgument("--max-body-size " + ctx.g.max_body_size +
                           " is too small for any API call; use at least 1KiB (default 8MiB)");
  return server::CheckApiListen(opt->listen_host, opt->tls_cert, opt->tls_key,
                                opt->insecure_listen);
}

StatusOr<server::DaemonClient> EnsureDaemon(Context& ctx) {
  if (auto c = server::DaemonClient::Connect(ctx.StateDir()); c.ok()) return c;
  std::error_code ec;
  std::filesystem::create_directories(ctx.StateDir(), ec);
  // Checked here too, so a refused listen address is reported at once, not from daemon.log.
  auto listen = ctx.Listen();
  if (!listen.ok()) return listen.status();
  server::DaemonOptions checked;
  checked.listen_host = listen->first;
  RETURN_IF_ERROR(ApplyApiFlags(ctx, &checked));
  if (!ctx.g.json) std::cout << "Starting the steward daemon for " << ctx.StateDir() << "\n";
  auto info = server::SpawnDaemon(ctx.self, ctx.StateDir(), ctx.g.listen, ServeApiFlags(ctx),
                                  Duration(15000));
  if (!info.ok()) return info.status();
  return server::DaemonClient::Connect(ctx.StateDir());
}

}  // namespace

int RunApply(Context& ctx) {
  auto stack = ctx.LoadStack();
  if (!stack) return kExitError;
  auto client = EnsureDaemon(ctx);
  if (!client.ok()) return Fail(client.status());
  nlohmann::json stack_json = config::StackToJson(*stack);
  if (!ctx.g.json) {
    // Like Terraform: show the plan first (applied without a prompt; `plan` is the dry run).
    auto planned = client->Post("/api/v1/plan", {{"stack", stack_json}});
    if (!planned.ok()) return Fail(planned.status());
    auto p = plan::PlanFromJson(*planned);
    if (p.ok() && !p->empty()) std::cout << plan::RenderPlanText(*p, ctx.Color()) << "\n";
  }
  return StreamFromDaemon(ctx, *client, "/api/v1/apply", {{"stack", std::move(stack_json)}});
}

namespace {

// Without a daemon nothing runs (replicas die with their daemon), so destroy only has to stop
// leftovers and forget the records.
int RunDestroy(Context& ctx) {
  if (auto client = server::DaemonClient::Connect(ctx.StateDir()); client.ok())
    return StreamFromDaemon(ctx, *client, "/api/v1/destroy", nlohmann::json::object());
  server::DaemonOptions opt;
  opt.state_dir = ctx.StateDir();
  opt.listen_port = 0;
  opt.reconcile = false;
  opt.monitoring = false;  // a one-shot destroy scrapes nothing
  server::Daemon local(opt);
  if (Status st = local.Start(); !st.ok()) return Fail(st);
  auto lt = ctx.LockTimeout();
  if (!lt.ok()) return Fail(lt.status());
  auto rep = local.Apply(nullptr, ctx.Who("destroy"), *lt,
                         [&](const std::string& r, const std::string& m) { PrintProgress(ctx, r, m); });
  if (!rep.ok()) return Fail(rep.status());
  return PrintReport(ctx, *rep);
}

// Blocks SIGINT/SIGTERM in every thread and turns them into daemon.Shutdown().
std::thread ShutdownOnSignal(server::Daemon& daemon) {
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGINT);
  sigaddset(&set, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &set, nullptr);
  return std::thread([set, &daemon] {
    int sig = 0;
    sigwait(&set, &sig);
    spdlog::info("msg=\"signal received; stopping\" signal={}", sig);
    daemon.Shutdown();
  });
}

server::DaemonOptions DaemonOptionsFor(Context& ctx, const std::pair<std::string, int>& listen) {
  server::DaemonOptions opt;
  opt.state_dir = ctx.StateDir();
  opt.listen_host = listen.first;
  opt.listen_port = listen.second;
  opt.self_dir = std::filesystem::path(ctx.self).parent_path().string();
  opt.parse_options.environment = ctx.g.env;
  opt.defer_first_reconcile = ctx.g.defer_reconcile;
  opt.monitoring = !ctx.g.no_monitoring;
  return opt;
}

// serve and up: the daemon in the foreground. `up` first applies the stack file.
int RunDaemon(Context& ctx, bool up, bool watch) {
  std::optional<config::Stack> stack;
  if (up) {
    stack = ctx.LoadStack();
    if (!stack) return kExitError;
  }
  auto listen = ctx.Listen();
  if (!listen.ok()) return Fail(listen.status());
  if (!ctx.g.data_dir.empty()) {
    // The data directory doubles as the state directory (daemon.json, api.token) unless one is
    // given, so `steward query --data-dir DIR` finds this server. Block files are told apart.
    ctx.g.data_dir = std::filesystem::absolute(ctx.g.data_dir).lexically_normal().string();
    if (ctx.g.state_dir.empty() && !getenv("STEWARD_STATE_DIR")) ctx.g.state_dir = ctx.g.data_dir;
  }
  server::DaemonOptions opt = DaemonOptionsFor(ctx, *listen);
  if (Status st = ApplyApiFlags(ctx, &opt); !st.ok()) return Fail(st);
  opt.watch = watch;
  auto query_timeout = config::ParseDuration(ctx.g.query_timeout);
  if (!query_timeout || query_timeout->count() <= 0)
    return Fail(InvalidArgument("--query-timeout '" + ctx.g.query_timeout +
                                "' is not a positive duration; use e.g. 2m"));
  if (ctx.g.query_max_samples <= 0)
    return Fail(InvalidArgument("--query-max-samples must be positive"));
  if (ctx.g.query_max_concurrency < 1 || ctx.g.query_max_concurrency > 1024)
    return Fail(InvalidArgument("--query-max-concurrency must be between 1 and 1024"));
  opt.query_timeout = *query_timeout;
  opt.query_max_samples = ctx.g.query_max_samples;
  opt.query_max_concurrency = ctx.g.query_max_concurrency;
  auto eval_interval = config::ParseDuration(ctx.g.evaluation_interval);
  if (!eval_interval || eval_interval->count() <= 0)
    return Fail(InvalidArgument("--evaluation-interval '" + ctx.g.evaluation_interval +
                                "' is not a positive duration; use e.g. 30s"));
  opt.evaluation_interval = *eval_interval;
  for (const std::string& f : ctx.g.rule_files)
    opt.rule_files.push_back(std::filesystem::absolute(f).lexically_normal().string());
  if (!ctx.g.data_dir.empty()) {
    opt.data_dir = ctx.g.data_dir;
    opt.reconcile = false;
    opt.monitoring = true;
  }
  if (up || watch) opt.stack_path = std::filesystem::absolute(ctx.g.file).string();
  server::Daemon daemon(opt);
  std::thread signals = ShutdownOnSignal(daemon);
  signals.detach();
  if (Status st = daemon.Start(); !st.ok()) return Fail(st);
  std::cerr << "steward daemon pid " << getpid() << " listening on "
            << (opt.tls_cert.empty() ? "http://" : "https://") << listen->first << ":"
            << daemon.port() << " (token in " << opt.state_dir << "/api.token)\n";
  int rc = kExitOk;
  if (up) {
    auto rep = daemon.Apply(&*stack, ctx.Who("up"), Duration(0),
                            [&](const std::string& r, const std::string& m) {
                              PrintProgress(ctx, r, m);
                            });
    if (!rep.ok()) {
      daemon.Shutdown();
      return Fail(rep.status());
    }
    rc = PrintReport(ctx, *rep);
    std::cout << "Running. Ctrl-C stops every replica and exits.\n";
    std::cout.flush();
  }
  daemon.Wait();
  std::cerr << "stopping replicas...\n";
  return rc;
}

int RunDown(Context& ctx) {
  if (auto client = server::DaemonClient::Connect(ctx.StateDir()); client.ok()) {
    int pid = client->info().pid;
    auto res = client->Post("/api/v1/down", nlohmann::json::object());
    if (!res.ok()) return Fail(res.status());
    auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(60);
    while (kill(pid, 0) == 0 && std::chrono::steady_clock::now() < deadline) {
      // The daemon is someone else's child (or init's); a zombie means it is gone.
      std::string stat_path = "/proc/" + std::to_string(pid) + "/stat";
      FILE* f = fopen(stat_path.c_str(), "r");
      char state = 0;
      if (f) {
        fscanf(f, "%*d %*s %c", &state);
        fclose(f);
      }
      if (state == 'Z') break;
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    if (!ctx.g.json) std::cout << "Stopped every replica and the daemon (pid " << pid << ").\n";
    return kExitOk;
  }
  // No daemon: stop whatever still carries this state directory's marker.
  std::string instance = server::InstanceId(ctx.StateDir());
  auto driver = drivers::NewProcessDriver({instance, RealClock::Get(), {}});
  auto stopped = drivers::StopMarked(*driver, instance, Duration(10000));
  if (!stopped.ok()) return Fail(stopped.status());
  if (!ctx.g.json)
    std::cout << "No daemon was running; stopped " << *stopped << " leftover process(es).\n";
  return kExitOk;
}

// The API's hardening flags: serve and up use them, apply hands them to the daemon it starts.
void AddApiFlags(CLI::App* cmd, Context& ctx) {
  cmd->add_option("--tls-cert", ctx.g.tls_cert,
                  "Serve the API over HTTPS with this PEM certificate (chain)");
  cmd->add_option("--tls-key", ctx.g.tls_key, "The certificate's PEM private key (unencrypted)");
  cmd->add_option("--tls-ca", ctx.g.tls_ca,
                  "The PEM file clients verify the API's certificate with (default: the "
                  "certificate itself)");
  cmd->add_flag("--insecure-listen", ctx.g.insecure_listen,
                "Allow plain HTTP on a --listen address beyond loopback (refused otherwise)");
  cmd->add_option("--cors-origin", ctx.g.cors_origins,
                  "Allow browser calls from this origin, e.g. https://grafana.example.com "
                  "(repeatable; default none: CORS off)");
  cmd->add_option("--max-body-size", ctx.g.max_body_size,
                  "Largest request body the API accepts (larger: 413)")
      ->capture_default_str();
}

}  // namespace

void AddApply(CLI::App& app, Context& ctx, int& rc) {
  auto* cmd = app.add_subcommand("apply", "Make what runs match the stack file");
  cmd->add_flag("--json", ctx.g.json, "Print the apply report as JSON");
  cmd->add_option("--lock-timeout", ctx.g.lock_timeout,
                  "Wait this long for the state lock instead of failing at once (e.g. 30s)");
  cmd->add_option("--listen", ctx.g.listen, "Where a daemon started by apply listens")
      ->capture_default_str();
  AddApiFlags(cmd, ctx);
  cmd->callback([&] { rc = RunApply(ctx); });
}

void AddDestroy(CLI::App& app, Context& ctx, int& rc) {
  auto* cmd = app.add_subcommand("destroy", "Stop and forget every service of the stack");
  cmd->add_flag("--json", ctx.g.json, "Print the report as JSON");
  cmd->add_option("--lock-timeout", ctx.g.lock_timeout, "Wait this long for the state lock");
  cmd->callback([&] { rc = RunDestroy(ctx); });
}

void AddUp(CLI::App& app, Context& ctx, int& rc) {
  auto* cmd = app.add_subcommand("up", "Apply the stack and serve in the foreground (Ctrl-C stops all)");
  cmd->add_option("--listen", ctx.g.listen, "API address")->capture_default_str();
  AddApiFlags(cmd, ctx);
  static bool watch = false;
  cmd->add_flag("--watch", watch, "Re-plan and apply when the stack file changes");
  cmd->callback([&] { rc = RunDaemon(ctx, /*up=*/true, watch); });
}

void AddServe(CLI::App& app, Context& ctx, int& rc) {
  auto* cmd = app.add_subcommand("serve", "Run the daemon: supervisor, reconcile loop, HTTP API");
  cmd->add_option("--listen", ctx.g.listen, "API address (HOST:PORT; port 0 = any free port)")
      ->capture_default_str();
  AddApiFlags(cmd, ctx);
  static bool watch = false;
  cmd->add_flag("--watch", watch, "Re-plan and apply when the stack file (-f) changes");
  cmd->add_flag("--no-monitoring", ctx.g.no_monitoring,
                "Do not scrape, probe or store metrics (no <state>/tsdb)");
  cmd->add_option("--data-dir", ctx.g.data_dir,
                  "Serve the query API over the TSDB in DIR only (e.g. after `steward tsdb "
                  "import`): no reconcile loop, no scraping");
  cmd->add_option("--query-max-samples", ctx.g.query_max_samples,
                  "Most samples one PromQL query may hold in memory")
      ->capture_default_str();
  cmd->add_option("--query-timeout", ctx.g.query_timeout,
                  "Longest a PromQL query may run (a query's timeout= can only shorten it)")
      ->capture_default_str();
  cmd->add_option("--query-max-concurrency", ctx.g.query_max_concurrency,
                  "Most PromQL queries evaluated at once; more wait for a slot until their "
                  "timeout")
      ->capture_default_str();
  cmd->add_option("--rule-file", ctx.g.rule_files,
                  "A Prometheus rule file to evaluate, besides the stack's rule_files "
                  "(repeatable; globs allowed)");
  cmd->add_option("--evaluation-interval", ctx.g.evaluation_interval,
                  "How often rule groups without their own interval are evaluated")
      ->capture_default_str();
  cmd->add_flag("--defer-reconcile", ctx.g.defer_reconcile,
                "Wait one interval before the first drift repair (used by `apply`, which "
                "starts the daemon and then applies itself)");
  cmd->callback([&] { rc = RunDaemon(ctx, /*up=*/false, watch); });
}

void AddDown(CLI::App& app, Context& ctx, int& rc) {
  auto* cmd = app.add_subcommand("down", "Stop every replica and the daemon");
  cmd->add_flag("--json", ctx.g.json, "Machine output (quiet)");
  cmd->callback([&] { rc = RunDown(ctx); });
}

}  // namespace steward::cli
