// steward: wires the command line to the rooms. See cli/cli.h for the commands' contract.
#include <limits.h>
#include <sys/resource.h>
#include <unistd.h>

#include <filesystem>
#include <iostream>

#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/spdlog.h>

#include "cli/cli.h"
#include "cli/scan_setup.h"

int main(int argc, char** argv) {
  using namespace steward::cli;
  // Logs are for diagnosis and go to stderr, apart from command output on stdout.
  spdlog::set_default_logger(spdlog::stderr_color_mt("steward"));
  spdlog::set_pattern("%Y-%m-%dT%H:%M:%S.%e%z level=%l %v");
  if (const char* lvl = getenv("STEWARD_LOG")) spdlog::set_level(spdlog::level::from_str(lvl));

  // The scraper keeps a connection per target: thousands of targets need more than the usual
  // soft limit of 1024 descriptors. Raise it to the hard limit; no privilege needed.
  if (rlimit rl{}; getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
    rl.rlim_cur = rl.rlim_max;
    setrlimit(RLIMIT_NOFILE, &rl);
  }

  Context ctx;
  std::error_code ec;
  ctx.self = std::filesystem::read_symlink("/proc/self/exe", ec).string();
  if (ec) ctx.self = argv[0];

  CLI::App app{"steward: the DevOps engineer of a small team, as one binary.\n"
               "Describe services in steward.yaml; steward plans, applies, supervises and reports."};
  app.require_subcommand(1);
  app.fallthrough();  // global flags may also follow the command: `steward plan -f x.yaml`
  app.set_version_flag("--version", "steward 0.1.0");
  app.add_option("-f,--file", ctx.g.file, "Stack file")->capture_default_str();
  app.add_option("-e,--env", ctx.g.env, "Environment from the stack's environments: section");
  app.add_option("--state-dir", ctx.g.state_dir,
                 "State directory (default: .steward beside the stack file, or $STEWARD_STATE_DIR)");
  app.add_flag("--no-color", ctx.g.no_color, "Never colour output");

  int rc = kExitOk;
  AddValidate(app, ctx, rc);
  AddPlan(app, ctx, rc);
  AddApply(app, ctx, rc);
  AddDestroy(app, ctx, rc);
  AddUp(app, ctx, rc);
  AddServe(app, ctx, rc);
  AddDown(app, ctx, rc);
  AddStatus(app, ctx, rc);
  AddHistory(app, ctx, rc);
  AddLogs(app, ctx, rc);
  AddTargets(app, ctx, rc);
  AddSeries(app, ctx, rc);
  AddMonitors(app, ctx, rc);
  AddQuery(app, ctx, rc);
  AddTsdb(app, ctx, rc);
  AddRules(app, ctx, rc);
  AddIncident(app, ctx, rc);
  AddTest(app, ctx, rc);
  AddSilence(app, ctx, rc);
  AddSlo(app, ctx, rc);
  AddDeploy(app, ctx, rc);
  AddRollback(app, ctx, rc);
  AddReleases(app, ctx, rc);
  AddRun(app, ctx, rc);
  AddRuns(app, ctx, rc);
  AddCache(app, ctx, rc);
  AddReport(app, ctx, rc);
  AddDrill(app, ctx, rc);
  AddBackup(app, ctx, rc);
  AddToken(app, ctx, rc);
  AddAudit(app, ctx, rc);
  AddSecret(app, ctx, rc);
  AddScan(app, ctx, rc);
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    int code = app.exit(e);
    return code == 0 ? 0 : kExitError;
  }
  return rc;
}
