// `steward backup run --service NAME | --all`: the stack's backup jobs, now, without the
// daemon — the same jobs the daemon runs on their schedules (server::ServiceJobSpec and
// backup::RunBackupJob), so a job can be tried, or caught up by hand, exactly as it will run.
// The repository and its secret come from the stack's `backup:` unless --repo,
// --password-file or --key-file say otherwise.
#include <algorithm>
#include <chrono>
#include <filesystem>
#include <iomanip>
#include <iostream>

#include <nlohmann/json.hpp>

#include "backup/job.h"
#include "base/json.h"
#include "cli/backup_jobs.h"
#include "server/backups.h"

namespace steward::cli::backup_cli {
namespace {

using nlohmann::json;

// The jobs to run, in stack order: the named ones (each must declare a backup) or all.
StatusOr<std::vector<backup::JobSpec>> Jobs(const Context& ctx, const config::Stack& stack,
                                            const std::vector<std::string>& services, bool all) {
  std::vector<std::string> declared;
  for (const config::Service& s : stack.services)
    if (s.backup.enabled) declared.push_back(s.name);
  if (stack.backup.state) declared.push_back(server::kStateBackupJob);
  for (const std::string& name : services) {
    if (std::find(declared.begin(), declared.end(), name) != declared.end()) continue;
    std::string list;
    for (const std::string& d : declared) list += (list.empty() ? "" : ", ") + d;
    return NotFound("service '" + name + "' declares no backup in " + ctx.g.file +
                    "; jobs declared: " + (list.empty() ? std::string("none") : list));
  }
  std::vector<backup::JobSpec> jobs;
  auto wanted = [&](const std::string& name) {
    return all || std::find(services.begin(), services.end(), name) != services.end();
  };
  for (const config::Service& s : stack.services)
    if (s.backup.enabled && wanted(s.name))
      jobs.push_back(server::ServiceJobSpec(stack, s, ctx.StateDir()));
  if (stack.backup.state && wanted(server::kStateBackupJob)) {
    std::error_code ec;
    if (!std::filesystem::is_directory(ctx.StateDir(), ec))
      return FailedPrecondition("steward-state: the state directory " + ctx.StateDir() +
                                " does not exist yet (nothing was applied from this stack)");
    jobs.push_back(server::StateJobSpec(ctx.StateDir(), stack.backup.keep));
  }
  if (jobs.empty())
    return FailedPrecondition("the stack declares no backups; add backup: to a service");
  return jobs;
}

StatusOr<std::unique_ptr<backup::Repository>> OpenFor(const config::Stack& stack,
                                                      const BackupArgs& a) {
  BackupArgs with = a;
  if (with.repo.empty()) with.repo = stack.backup.repository;
  if (with.repo.empty())
    return FailedPrecondition("the stack declares no backup repository; add backup: "
                              "{repository: …, password_file: …} or give --repo");
  if (with.password_file.empty() && with.key_file.empty()) {
    with.password_file = stack.backup.password_file;
    with.key_file = stack.backup.key_file;
  }
  return OpenRepo(with);
}

}  // namespace

int RunServices(const Context& ctx, const BackupArgs& a, const std::vector<std::string>& services,
                bool all) {
  if (!a.paths.empty())
    return Fail(InvalidArgument("backup run: give PATHs or --service/--all, not both"));
  auto stack = ctx.LoadStack();
  if (!stack) return kExitError;
  auto jobs = Jobs(ctx, *stack, services, all);
  if (!jobs.ok()) return Fail(jobs.status());
  auto repo = OpenFor(*stack, a);
  if (!repo.ok()) return Fail(repo.status());

  // Hook output is for the person at the terminal, not for --json's reader.
  std::ostream& talk = ctx.g.json ? std::cerr : std::cout;
  json out = json::array();
  int rc = kExitOk;
  for (backup::JobSpec& spec : *jobs) {
    spec.threads = std::max(1, a.threads);
    auto t0 = std::chrono::steady_clock::now();
    auto r = backup::RunBackupJob(repo->get(), spec, [&](const std::string& line) {
      talk << spec.name << ": " << line << "\n";
    });
    double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    if (!r.ok()) {
      std::cerr << "error: backup of " << spec.name << ": " << r.status().message() << "\n";
      out.push_back({{"service", spec.name}, {"ok", false}, {"error", r.status().message()}});
      rc = kExitError;
      continue;
    }
    for (const std::string& w : r->warnings) std::cerr << "warning: " << spec.name << ": " << w << "\n";
    if (!r->warnings.empty() && rc == kExitOk) rc = kExitIncomplete;
    const backup::SnapshotSummary& m = r->saved.summary;
    out.push_back({{"service", spec.name},
                   {"ok", true},
                   {"snapshot", r->snapshot.Hex()},
                   {"paths", r->saved.paths},
                   {"bytes_processed", m.bytes_processed},
                   {"bytes_added", m.bytes_added},
                   {"bytes_stored", m.bytes_stored},
                   {"seconds", seconds},
                   {"forgotten", r->forgotten},
                   {"warnings", r->warnings}});
    if (!ctx.g.json) {
      std::cout << spec.name << ": snapshot " << r->snapshot.Hex().substr(0, 8) << " saved: added "
                << FormatBytes(static_cast<int64_t>(m.bytes_added)) << " of "
                << FormatBytes(static_cast<int64_t>(m.bytes_processed)) << " in " << std::fixed
                << std::setprecision(1) << seconds << " s"
                << (r->forgotten > 0 ? "; forgot " + std::to_string(r->forgotten) + " old" : "")
                << "\n";
    }
  }
  if (ctx.g.json) std::cout << JsonText(out) << "\n";
  return rc;
}

}  // namespace steward::cli::backup_cli
