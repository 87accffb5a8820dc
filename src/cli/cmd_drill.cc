// drill: `steward drill SERVICE` restores the service's newest snapshot into a scratch folder
// under the state directory, runs its `verify:`, prints RTO and RPO and records the drill in
// the state store (report dr and the DR runbook read it). Exit 1 when the drill failed; a
// drill that could not start (no snapshot, no password) is recorded as failed too, since a
// restore that cannot happen is what a drill is there to find.
#include <iostream>

#include <fmt/format.h>

#include "backup/job.h"
#include "cli/cli.h"
#include "report/dr.h"
#include "state/state_store.h"

namespace steward::cli {
namespace {

struct DrillArgs {
  std::string service;
  int threads = 2;
  std::string timeout = "10m";
};

int RunDrillCommand(const Context& ctx, const DrillArgs& a) {
  auto timeout = config::ParseDuration(a.timeout);
  if (!timeout || timeout->count() < 1000) {
    return Fail(InvalidArgument("--timeout " + a.timeout + ": want a duration of at least 1s, "
                                "such as 10m or 90s"));
  }
  auto stack = ctx.LoadStack();
  if (!stack) return kExitError;
  auto spec = report::DrillSpecFor(*stack, a.service, ctx.StateDir());
  if (!spec.ok()) return Fail(spec.status());
  spec->threads = a.threads;
  spec->verify_timeout_seconds = static_cast<int>(timeout->count() / 1000);
  auto store = state::OpenSqliteStateStore(ctx.StateDir(), RealClock::Get());
  if (!store.ok()) return Fail(store.status());

  const int64_t started_ms = ToUnixMillis(RealClock::Get()->WallNow());
  // verify's output is for the person at the terminal, not for --json's reader.
  backup::LogFn log = [&](const std::string& line) {
    (ctx.g.json ? std::cerr : std::cout) << line << "\n";
  };
  state::DrillRecord record;
  Status error;
  auto repo = report::OpenStackRepository(stack->backup);
  if (!repo.ok()) {
    error = repo.status();
  } else {
    auto result = backup::RunDrill(repo->get(), *spec, log);
    if (result.ok()) {
      record = report::ToDrillRecord(*result, "manual");
    } else {
      error = result.status();
    }
  }
  if (!error.ok()) record = report::FailedDrillRecord(a.service, started_ms, error, "manual");
  auto id = (*store)->RecordDrill(record);
  if (!id.ok()) return Fail(id.status().Annotate("recording the drill"));
  record.id = *id;

  if (ctx.g.json) {
    nlohmann::json j = {
        {"id", record.id},
        {"service", record.service},
        {"ok", record.ok},
        {"snapshot", record.snapshot.empty() ? nlohmann::json(nullptr)
                                             : nlohmann::json(record.snapshot)},
        {"snapshot_time", record.snapshot.empty()
                              ? nlohmann::json(nullptr)
                              : nlohmann::json(FormatRfc3339(FromUnixMillis(record.snapshot_time_ms)))},
        {"started_at", FormatRfc3339(FromUnixMillis(record.started_at_ms))},
        {"restore_seconds", record.restore_ms / 1000.0},
        {"verify_seconds", record.verify_ms / 1000.0},
        {"rto_seconds", record.rto_ms / 1000.0},
        {"rpo_seconds", record.rpo_ms / 1000.0},
        {"files", record.files},
        {"bytes", record.bytes},
        {"message", record.message}};
    std::cout << j.dump(2) << "\n";
  } else if (!error.ok()) {
    std::cerr << "error: drill of " << a.service << " could not run: " << error.message()
              << " (recorded as failed drill " << record.id << ")\n";
  } else {
    std::cout << fmt::format("drill {} of {}: {}\n", record.id, a.service,
                             record.ok ? "ok" : "FAILED")
              << fmt::format("  snapshot {} from {}\n", record.snapshot.substr(0, 8),
                             FormatRfc3339(FromUnixMillis(record.snapshot_time_ms)))
              << fmt::format("  restored {} files, {}\n", record.files, FormatBytes(record.bytes))
              << fmt::format("  RTO {} (restore {}, verify {})\n",
                             FormatDuration(Duration(record.rto_ms)),
                             FormatDuration(Duration(record.restore_ms)),
                             FormatDuration(Duration(record.verify_ms)))
              << fmt::format("  RPO {}\n", FormatDuration(Duration(record.rpo_ms)));
    if (!record.ok) std::cout << "  " << record.message << "\n";
  }
  return record.ok ? kExitOk : kExitError;
}

}  // namespace

void AddDrill(CLI::App& app, Context& ctx, int& rc) {
  static DrillArgs a;
  auto* cmd = app.add_subcommand(
      "drill",
      "Restore a service's newest snapshot into a scratch folder, run its backup verify: and "
      "record RTO and RPO (exit 1 when the drill fails)");
  cmd->add_option("service", a.service, "The service (it must declare backup:)")->required();
  cmd->add_option("--threads", a.threads, "Restore worker threads")->capture_default_str();
  cmd->add_option("--timeout", a.timeout, "Kill verify after this long")->capture_default_str();
  cmd->add_flag("--json", ctx.g.json, "Machine-readable result on stdout");
  cmd->callback([&] { rc = RunDrillCommand(ctx, a); });
}

}  // namespace steward::cli
