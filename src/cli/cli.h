// The steward command line: each command parses flags, then wires rooms together. No product
// logic lives here beyond presentation (tables, colours on a TTY, --json).
//
// Exit codes (documented in docs/cli.md): 0 success / no changes; 1 error; 2 `plan` found
// changes (Terraform's -detailed-exitcode, always on), or `scan` found something at or above
// --fail-on; 3 the state (or a backup repository) is
// locked by another run; 4 a backup or restore finished without some files (warnings say which).
#pragma once

#include <optional>
#include <string>
#include <vector>

#include <CLI/CLI.hpp>

#include "base/status.h"
#include "config/stack.h"
#include "config/stack_parser.h"
#include "pipeline/runner.h"
#include "server/daemon.h"

namespace steward::cli {

inline constexpr int kExitOk = 0;
inline constexpr int kExitError = 1;
inline constexpr int kExitChanges = 2;
inline constexpr int kExitLocked = 3;
// `backup run`/`restore`: done, but some files could not be read or written (listed as warnings).
inline constexpr int kExitIncomplete = 4;

// Flags every command shares.
struct Globals {
  std::string file = "steward.yaml";
  std::string env;
  std::string state_dir;  // default: <stack file dir>/.steward, or $STEWARD_STATE_DIR
  bool json = false;
  bool no_color = false;
  std::string listen = "127.0.0.1:" + std::to_string(server::kDefaultPort);
  std::string lock_timeout = "0s";
  bool defer_reconcile = false;
  bool no_monitoring = false;
  std::string data_dir;  // serve --data-dir
  std::vector<std::string> rule_files;  // serve --rule-file (besides the stack's rule_files)
  std::string evaluation_interval = "30s";  // serve --evaluation-interval
  int64_t query_max_samples = 50'000'000;
  std::string query_timeout = "2m";
  int query_max_concurrency = 4;
  // The daemon's API hardening (serve, up, and the daemon apply starts): cmd_apply.cc.
  std::string tls_cert;
  std::string tls_key;
  std::string tls_ca;
  bool insecure_listen = false;
  std::vector<std::string> cors_origins;
  std::string max_body_size = "8MiB";
};

struct Context {
  Globals g;
  std::string self;  // absolute path of this binary

  std::string StateDir() const;  // absolute
  bool Color() const;            // stdout is a TTY and --no-color not given
  // Parses the stack file; prints every diagnostic to stderr on failure.
  std::optional<config::Stack> LoadStack() const;
  // Errors of the stack's rule files (file:line:col) and SLO queries; empty when all load.
  std::vector<config::Diagnostic> CheckRules(const config::Stack& stack) const;
  server::Requester Who(const std::string& command) const;
  StatusOr<Duration> LockTimeout() const;
  // Listen host and port from --listen.
  StatusOr<std::pair<std::string, int>> Listen() const;
};

// One line typed on the terminal (/dev/tty) without echo, after printing `question` there; at
// most max_bytes + 1 bytes are kept (the caller can tell "too long"), the newline dropped.
// InvalidArgument(no_tty) when there is no terminal to ask on (a pipeline, a daemon).
StatusOr<std::string> PromptNoEcho(const std::string& question, const std::string& no_tty,
                                   size_t max_bytes = 4096);
// `steward apply`: the stack file through the daemon (started when none runs), with progress;
// also what `secret rotate --apply` runs to roll the services using a rotated secret.
int RunApply(Context& ctx);
// Prints "error: <message>" to stderr and returns the exit code for that status.
int Fail(const Status& st);
// "1.5 GiB": a byte count for people (powers of 1024).
std::string FormatBytes(int64_t n);

// Writes a command's output to the --output file, replacing it: "write PATH: why" on failure.
Status WriteOutputFile(const std::string& path, std::string_view text);
// "500M", "2G", "64KiB", "1024" → bytes; errors name `flag` and show what is accepted.
StatusOr<int64_t> ParseSize(const std::string& flag, const std::string& text);
// A plain text table on stdout: columns padded to their widest cell; rows[0] is the header.
void PrintTable(const std::vector<std::vector<std::string>>& rows);

void AddValidate(CLI::App& app, Context& ctx, int& rc);
void AddPlan(CLI::App& app, Context& ctx, int& rc);
void AddApply(CLI::App& app, Context& ctx, int& rc);
void AddDestroy(CLI::App& app, Context& ctx, int& rc);
void AddServe(CLI::App& app, Context& ctx, int& rc);
void AddUp(CLI::App& app, Context& ctx, int& rc);
void AddDown(CLI::App& app, Context& ctx, int& rc);
void AddStatus(CLI::App& app, Context& ctx, int& rc);
void AddHistory(CLI::App& app, Context& ctx, int& rc);
void AddLogs(CLI::App& app, Context& ctx, int& rc);
void AddTargets(CLI::App& app, Context& ctx, int& rc);
void AddSeries(CLI::App& app, Context& ctx, int& rc);
void AddMonitors(CLI::App& app, Context& ctx, int& rc);
void AddQuery(CLI::App& app, Context& ctx, int& rc);
void AddTsdb(CLI::App& app, Context& ctx, int& rc);
void AddRules(CLI::App& app, Context& ctx, int& rc);
void AddIncident(CLI::App& app, Context& ctx, int& rc);
void AddTest(CLI::App& app, Context& ctx, int& rc);
void AddSilence(CLI::App& app, Context& ctx, int& rc);  // and `alerts`
void AddSlo(CLI::App& app, Context& ctx, int& rc);
// Pipelines (cmd_pipeline.cc): `run PIPELINE`, `run show N`, `runs`, `cache stats|prune`.
void AddRun(CLI::App& app, Context& ctx, int& rc);
void AddRuns(CLI::App& app, Context& ctx, int& rc);
void AddCache(CLI::App& app, Context& ctx, int& rc);
// Deploys (cmd_deploy.cc): `deploy SERVICE`, `rollback SERVICE`, `releases SERVICE`.
void AddDeploy(CLI::App& app, Context& ctx, int& rc);
void AddRollback(CLI::App& app, Context& ctx, int& rc);
void AddReleases(CLI::App& app, Context& ctx, int& rc);
// Backups (cmd_backup*.cc): `backup init|run|snapshots|ls|diff|restore|check|forget|prune…`.
void AddBackup(CLI::App& app, Context& ctx, int& rc);
// Reports (cmd_report.cc): `report dora`, `report dr [--runbook [SERVICE]]`.
void AddReport(CLI::App& app, Context& ctx, int& rc);
// Restore drills (cmd_drill.cc): `drill SERVICE`.
void AddDrill(CLI::App& app, Context& ctx, int& rc);
// API access (cmd_token.cc): `token create|list|rm` and `audit`, on the state directory.
void AddToken(CLI::App& app, Context& ctx, int& rc);
void AddAudit(CLI::App& app, Context& ctx, int& rc);
// Secrets (cmd_secret.cc): `secret set|get|list|rm|rotate|export|import`.
void AddSecret(CLI::App& app, Context& ctx, int& rc);

// A pipeline's deploy step, carried out by the daemon (cmd_deploy.cc): POST /api/v1/deploys,
// then follows the deploy, writing its events to `log`, until it ends; an error when it failed
// or was rolled back. Cancelling asks the daemon to roll the deploy back.
Status DeployThroughDaemon(const Context& ctx, const pipeline::DeployRequest& request,
                           const pipeline::LineFn& log, const pipeline::CancelToken* cancel);

}  // namespace steward::cli
