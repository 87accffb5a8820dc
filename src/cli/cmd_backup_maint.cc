// backup restore, check, forget, prune, unlock, key add, rebuild-index — and the registration
// of every `steward backup` subcommand.
#include <algorithm>
#include <iomanip>
#include <iostream>
#include <map>
#include <set>

#include <nlohmann/json.hpp>

#include "backup/lock.h"
#include "backup/maintenance.h"
#include "base/json.h"
#include "cli/backup_jobs.h"
#include "cli/backup_cli.h"
#include "promql/parser.h"

namespace steward::cli::backup_cli {

using json = nlohmann::json;
using backup::Id;

int Restore(const Context& ctx, const BackupArgs& a) {
  if (a.refs.empty()) return Fail(InvalidArgument("backup restore: give a SNAPSHOT (an id or latest)"));
  if (a.target.empty()) return Fail(InvalidArgument("backup restore: give --target DIR"));
  auto repo = OpenRepo(a);
  if (!repo.ok()) return Fail(repo.status());
  auto lock = backup::RepoLock::Acquire((*repo)->backend(), (*repo)->key(), "restore", false);
  if (!lock.ok()) return Fail(lock.status());
  auto id = (*repo)->FindSnapshot(a.refs[0]);
  if (!id.ok()) return Fail(id.status());
  auto snap = (*repo)->LoadSnapshot(*id);
  if (!snap.ok()) return Fail(snap.status());
  backup::RestoreOptions options;
  options.target = a.target;
  options.includes = a.includes;
  options.overwrite = a.overwrite;
  options.direct_io = !a.buffered;
  options.threads = std::max(1, a.threads);
  ProgressLine progress("restore");
  if (!ctx.g.json) options.progress = [&](const backup::Progress& p) { progress.Update(p); };
  auto start = std::chrono::steady_clock::now();
  auto result = backup::RestoreTree(repo->get(), snap->tree, options);
  if (!result.ok()) return Fail(result.status().Annotate("restore " + id->Short()));
  double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  progress.Clear();
  for (const std::string& e : result->errors) std::cerr << "warning: " << e << "\n";
  if (ctx.g.json) {
    std::cout << JsonText(json{{"snapshot", id->Hex()},
                               {"target", a.target},
                               {"files", result->files},
                               {"dirs", result->dirs},
                               {"bytes", result->bytes},
                               {"hardlinks", result->links},
                               {"seconds", secs},
                               {"errors", result->errors}})
              << "\n";
  } else {
    std::cout << "restored snapshot " << id->Short() << " to " << a.target << ": "
              << result->files << " files, " << result->dirs << " dirs, "
              << FormatBytes(static_cast<int64_t>(result->bytes)) << " in " << std::fixed
              << std::setprecision(2) << secs << " s\n";
  }
  return result->errors.empty() ? kExitOk : kExitIncomplete;
}

int Check(const Context& ctx, const BackupArgs& a) {
  auto repo = OpenRepo(a);
  if (!repo.ok()) return Fail(repo.status());
  auto lock = backup::RepoLock::Acquire((*repo)->backend(), (*repo)->key(), "check", false);
  if (!lock.ok()) return Fail(lock.status());
  backup::CheckOptions options;
  options.read_data = a.read_data || !a.read_data_subset.empty();
  if (!a.read_data_subset.empty()) {
    auto share = ParseShare("--read-data-subset", a.read_data_subset, false);
    if (!share.ok()) return Fail(share.status());
    options.subset = *share;
  }
  ProgressLine progress("check");
  if (!ctx.g.json)
    options.progress = [&](uint64_t done, uint64_t total) {
      progress.Show("read " + std::to_string(done) + " of " + std::to_string(total) + " packs");
    };
  auto report = backup::Check(repo->get(), options);
  if (!report.ok()) return Fail(report.status().Annotate("check"));
  progress.Clear();
  const backup::CheckReport& r = *report;
  if (ctx.g.json) {
    json problems = json::array();
    for (const auto& p : r.problems)
      problems.push_back({{"kind", p.kind}, {"file", p.file}, {"message", p.message},
                          {"affected", p.affected}});
    std::cout << JsonText(json{{"ok", r.ok()},
                               {"packs", r.packs},
                               {"packs_read", r.packs_read},
                               {"bytes_read", r.bytes_read},
                               {"index_files", r.index_files},
                               {"snapshots", r.snapshots},
                               {"trees", r.trees},
                               {"blobs", r.blobs},
                               {"unreferenced_packs", r.unreferenced_packs},
                               {"problems", problems}})
              << "\n";
  } else {
    std::cout << "checked " << r.snapshots << " snapshot(s), " << r.index_files
              << " index file(s), " << r.packs << " pack(s), " << r.trees << " tree(s), "
              << r.blobs << " blob(s)";
    if (options.read_data)
      std::cout << "; read " << r.packs_read << " pack(s), "
                << FormatBytes(static_cast<int64_t>(r.bytes_read));
    std::cout << "\n";
    if (r.unreferenced_packs > 0)
      std::cout << r.unreferenced_packs
                << " pack(s) no index names (left by an interrupted backup; prune removes "
                   "them)\n";
    for (const auto& p : r.problems) {
      std::cout << "error: " << p.kind << " " << p.file << ": " << p.message << "\n";
      for (const std::string& s : p.affected) std::cout << "  affects " << s << "\n";
    }
    std::cout << (r.ok() ? "no errors were found\n"
                         : std::to_string(r.problems.size()) + " problem(s) found\n");
  }
  return r.ok() ? kExitOk : kExitError;
}

StatusOr<backup::GroupBy> ParseGroupBy(const std::string& text) {
  if (text == "host,paths" || text == "paths,host") return backup::GroupBy::kHostPaths;
  if (text == "host") return backup::GroupBy::kHost;
  if (text == "paths") return backup::GroupBy::kPaths;
  if (text == "" || text == "none") return backup::GroupBy::kNone;
  return InvalidArgument("--group-by '" + text + "': want host,paths, host, paths or none");
}

json PruneJson(const backup::PruneReport& r, bool dry_run) {
  return {{"dry_run", dry_run},           {"packs_deleted", r.packs_deleted},
          {"packs_repacked", r.packs_repacked}, {"packs_kept", r.packs_kept},
          {"blobs_deleted", r.blobs_deleted},   {"blobs_repacked", r.blobs_repacked},
          {"bytes_freed", r.bytes_freed},       {"bytes_before", r.bytes_before},
          {"bytes_after", r.bytes_after},       {"unfinished_files", r.unfinished_files},
          {"unfinished_bytes", r.unfinished_bytes}};
}

// Prunes with the exclusive lock already held; prints the text summary unless --json (the
// caller prints PruneJson then, alone or inside forget's document).
StatusOr<backup::PruneReport> PruneLocked(const Context& ctx, const BackupArgs& a,
                                          backup::Repository* repo) {
  ASSIGN_OR_RETURN(double max_unused, ParseShare("--max-unused", a.max_unused, true));
  backup::PruneOptions options;
  options.dry_run = a.dry_run;
  options.max_unused = max_unused;
  ProgressLine progress("prune");
  if (!ctx.g.json)
    options.progress = [&](std::string_view phase, uint64_t done, uint64_t total) {
      progress.Show(std::string(phase) + " " + std::to_string(done) + "/" + std::to_string(total));
    };
  auto report = backup::Prune(repo, options);
  if (!report.ok()) return report.status().Annotate("prune");
  progress.Clear();
  const backup::PruneReport& r = *report;
  if (!ctx.g.json) {
    std::cout << (a.dry_run ? "would delete " : "deleted ") << r.packs_deleted << " pack(s), "
              << (a.dry_run ? "would repack " : "repacked ") << r.packs_repacked << ", kept "
              << r.packs_kept << "; " << FormatBytes(static_cast<int64_t>(r.bytes_freed))
              << (a.dry_run ? " would be freed" : " freed") << " (repository "
              << FormatBytes(static_cast<int64_t>(r.bytes_before)) << " → "
              << FormatBytes(static_cast<int64_t>(r.bytes_after)) << ")\n";
    if (r.unfinished_files > 0)
      std::cout << (a.dry_run ? "would remove " : "removed ") << r.unfinished_files
                << " unfinished write(s) left by interrupted runs ("
                << FormatBytes(static_cast<int64_t>(r.unfinished_bytes)) << ")\n";
  }
  return report;
}

int Forget(const Context& ctx, const BackupArgs& a) {
  backup::KeepPolicy keep = a.keep;
  if (!a.keep_within.empty()) {
    auto ms = promql::ParseDurationMillis(a.keep_within);
    if (!ms.ok() || *ms <= 0)
      return Fail(InvalidArgument("--keep-within '" + a.keep_within +
                                  "': want a duration such as 30d, 2w or 12h"));
    keep.within_seconds = *ms / 1000;
  }
  if (keep.Empty() && a.refs.empty())
    return Fail(InvalidArgument("backup forget: give SNAPSHOT ids or a policy (--keep-last, "
                                "--keep-hourly, --keep-daily, --keep-weekly, --keep-monthly, "
                                "--keep-yearly, --keep-within, --keep-tag); nothing was removed"));
  auto group_by = ParseGroupBy(a.group_by);
  if (!group_by.ok()) return Fail(group_by.status());
  auto repo = OpenRepo(a);
  if (!repo.ok()) return Fail(repo.status());
  auto lock = backup::RepoLock::Acquire((*repo)->backend(), (*repo)->key(), "forget", true);
  if (!lock.ok()) return Fail(lock.status());

  std::vector<Id> remove;
  json decisions = json::array();
  if (!a.refs.empty()) {
    for (const std::string& ref : a.refs) {
      auto id = (*repo)->FindSnapshot(ref);
      if (!id.ok()) return Fail(id.status());
      remove.push_back(*id);
    }
  } else {
    auto all = (*repo)->ListSnapshots();
    if (!all.ok()) return Fail(all.status());
    std::map<Id, const backup::Snapshot*> by_id;
    for (const auto& [id, s] : *all) by_id[id] = &s;
    std::time_t now = std::time(nullptr);
    std::tm local{};
    localtime_r(&now, &local);
    auto result = backup::ApplyPolicy(*all, keep, *group_by, local.tm_gmtoff);
    std::string group;
    for (const auto& d : result) {
      if (!d.keep) remove.push_back(d.id);
      const backup::Snapshot& s = *by_id[d.id];
      decisions.push_back({{"id", d.id.Hex()},
                           {"time", Rfc3339(s.time_ns)},
                           {"keep", d.keep},
                           {"reasons", d.reasons},
                           {"group", d.group}});
      if (ctx.g.json) continue;
      if (d.group != group) {
        group = d.group;
        std::cout << group << ":\n";
      }
      std::cout << "  " << (d.keep ? "keep   " : "remove ") << d.id.Short() << "  "
                << LocalTime(s.time_ns);
      if (!d.reasons.empty()) {
        std::cout << "  (";
        for (size_t i = 0; i < d.reasons.size(); ++i) std::cout << (i ? ", " : "") << d.reasons[i];
        std::cout << ")";
      }
      std::cout << "\n";
    }
  }
  if (!a.dry_run) {
    for (const Id& id : remove) {
      Status st = (*repo)->RemoveSnapshot(id);
      if (!st.ok()) return Fail(st.Annotate("forget " + id.Short()));
    }
  }
  if (!ctx.g.json)
    std::cout << (a.dry_run ? "would remove " : "removed ") << remove.size() << " snapshot(s)\n";
  json pruned;  // null unless --prune
  if (a.prune && !a.dry_run) {
    auto report = PruneLocked(ctx, a, repo->get());
    if (!report.ok()) return Fail(report.status());
    pruned = PruneJson(*report, false);
  }
  if (ctx.g.json) {
    json removed = json::array();
    for (const Id& id : remove) removed.push_back(id.Hex());
    std::cout << json{{"dry_run", a.dry_run}, {"removed", removed}, {"decisions", decisions},
                      {"prune", pruned}}
                     .dump()
              << "\n";
  }
  return kExitOk;
}

int Prune(const Context& ctx, const BackupArgs& a) {
  auto repo = OpenRepo(a);
  if (!repo.ok()) return Fail(repo.status());
  auto lock = backup::RepoLock::Acquire((*repo)->backend(), (*repo)->key(), "prune", true);
  if (!lock.ok()) return Fail(lock.status());
  auto report = PruneLocked(ctx, a, repo->get());
  if (!report.ok()) return Fail(report.status());
  if (ctx.g.json) std::cout << PruneJson(*report, a.dry_run).dump() << "\n";
  return kExitOk;
}

int Unlock(const Context& ctx, const BackupArgs& a) {
  auto repo = OpenRepo(a);
  if (!repo.ok()) return Fail(repo.status());
  auto removed = backup::RemoveLocks((*repo)->backend(), (*repo)->key(), a.remove_all);
  if (!removed.ok()) return Fail(removed.status());
  if (ctx.g.json)
    std::cout << json{{"removed", *removed}}.dump() << "\n";
  else
    std::cout << "removed " << *removed << (a.remove_all ? " lock(s)\n" : " stale lock(s)\n");
  return kExitOk;
}

int KeyAdd(const Context& ctx, const BackupArgs& a) {
  if (a.new_password_file.empty())
    return Fail(InvalidArgument("backup key add: give --new-password-file FILE"));
  auto repo = OpenRepo(a);
  if (!repo.ok()) return Fail(repo.status());
  BackupArgs other;
  other.password_file = a.new_password_file;
  auto password = Password(other, false);
  if (!password.ok()) return Fail(password.status());
  auto name = (*repo)->AddKey(*password, backup::KdfParams{});
  if (!name.ok()) return Fail(name.status());
  if (ctx.g.json)
    std::cout << json{{"key", *name}}.dump() << "\n";
  else
    std::cout << "added key " << name->substr(0, 8) << "\n";
  return kExitOk;
}

int RebuildIndex(const Context& ctx, const BackupArgs& a) {
  auto repo = OpenRepo(a);
  if (!repo.ok()) return Fail(repo.status());
  auto lock = backup::RepoLock::Acquire((*repo)->backend(), (*repo)->key(), "rebuild-index", true);
  if (!lock.ok()) return Fail(lock.status());
  auto packs = backup::RebuildIndex(repo->get());
  if (!packs.ok()) return Fail(packs.status());
  if (ctx.g.json)
    std::cout << json{{"packs", *packs}}.dump() << "\n";
  else
    std::cout << "indexed " << *packs << " pack(s)\n";
  return kExitOk;
}

}  // namespace steward::cli::backup_cli

namespace steward::cli {

void AddBackup(CLI::App& app, Context& ctx, int& rc) {
  using namespace backup_cli;
  static BackupArgs a;
  auto* b = app.add_subcommand(
      "backup",
      "Encrypted, deduplicated backups: init a repository, back up paths, list, restore, check, "
      "forget and prune (docs/formats/backup.md)");
  b->require_subcommand(1);
  b->add_option("--repo", a.repo, "Repository: a directory or local:/path (or STEWARD_REPOSITORY)");
  b->add_option("--password-file", a.password_file,
                "Read the password from the first line of this file (or STEWARD_PASSWORD_FILE, "
                "STEWARD_PASSWORD, a prompt)");
  b->add_option("--key-file", a.key_file, "Use this file's whole contents as the key material");
  b->add_flag("--append-only", a.append_only,
              "Refuse to delete anything (forget and prune fail; locks excepted)");
  b->add_flag("--json", ctx.g.json, "Machine-readable output");
  b->fallthrough();

  auto cmd = [&](const char* name, const char* help, int (*fn)(const Context&, const BackupArgs&)) {
    auto* c = b->add_subcommand(name, help);
    c->fallthrough();
    c->callback([&ctx, &rc, fn] { rc = fn(ctx, a); });
    return c;
  };
  auto* init = cmd("init", "Create a repository (asks for the password twice on a terminal)", Init);
  init->add_option("--kdf-ops", a.kdf_ops, "Argon2id passes (default 2)");
  init->add_option("--kdf-memory", a.kdf_memory, "Argon2id memory (default 64M)");
  init->add_option("--compression", a.compression,
                   "zstd level for new data: 1 (fastest) to 19 (smallest), 0 = off (default 3)")
      ->check(CLI::Range(0, 19));

  auto* run = cmd("run", "Back up PATHs into a new snapshot (or the stack's jobs: --service, --all)",
                  Run);
  run->add_option("paths", a.paths, "Files and directories to back up");
  // The stack's backup jobs, now, without the daemon (cmd_backup_service.cc).
  static std::vector<std::string> services;
  static bool all_services = false;
  run->add_option("--service", services,
                  "Run this service's backup job from the stack now (repeatable; steward-state "
                  "for Steward's own state)");
  run->add_flag("--all", all_services, "Run every backup job the stack declares");
  run->callback([&ctx, &rc] {
    rc = services.empty() && !all_services ? Run(ctx, a)
                                           : RunServices(ctx, a, services, all_services);
  });
  run->add_option("--exclude,-e", a.excludes,
                  "Glob to leave out: *.tmp (base names), /srv/db/pg_wal (paths), cache/ (dirs)");
  run->add_option("--tag", a.tags, "Tag the snapshot");
  run->add_option("--host", a.host, "Host name to record (default: this machine's)");
  run->add_option("--parent", a.parent, "Compare with this snapshot instead of the latest");
  run->add_flag("--force", a.force, "Read every file again (no parent snapshot)");
  run->add_flag("--one-file-system,-x", a.one_file_system, "Do not cross file system boundaries");
  run->add_option("--threads", a.threads, "Worker threads")->capture_default_str();

  auto* snapshots = cmd("snapshots", "List snapshots", Snapshots);
  snapshots->add_option("--host", a.host, "Only this host's");
  snapshots->add_option("--tag", a.tags, "Only snapshots with one of these tags");

  auto* ls = cmd("ls", "List the files of SNAPSHOT (an id, an id prefix or latest)", Ls);
  ls->add_option("refs", a.refs, "SNAPSHOT [PATH]")->required()->expected(1, 2);
  ls->add_flag("--long,-l", a.long_listing, "Mode, owner, size and time too");

  auto* diff = cmd("diff", "What changed between two snapshots", Diff);
  diff->add_option("refs", a.refs, "SNAPSHOT SNAPSHOT")->required()->expected(2);

  auto* restore = cmd("restore", "Restore SNAPSHOT into --target", Restore);
  restore->add_option("refs", a.refs, "SNAPSHOT (an id, an id prefix or latest)")
      ->required()
      ->expected(1);
  restore->add_option("--target,-t", a.target, "Directory to restore into")->required();
  restore->add_option("--include,-i", a.includes, "Only this snapshot path (and what is under it)");
  restore->add_flag("--overwrite", a.overwrite, "Replace files that exist (refused otherwise)");
  restore->add_flag("--buffered", a.buffered,
                    "Write every file through the page cache (by default files of 1 MiB or more "
                    "are written with O_DIRECT where the file system allows it)");
  restore->add_option("--threads", a.threads, "Worker threads")->capture_default_str();

  auto* check = cmd("check", "Verify the repository's structure, and with --read-data its data",
                    Check);
  check->add_flag("--read-data", a.read_data, "Read and verify every pack");
  check->add_option("--read-data-subset", a.read_data_subset,
                    "Read and verify this share of the packs: 10% or 0.1");

  auto* forget = cmd("forget", "Remove snapshots by id or by a retention policy", Forget);
  forget->add_option("refs", a.refs, "Snapshots to remove (instead of a policy)");
  forget->add_option("--keep-last", a.keep.last, "Keep the newest N");
  forget->add_option("--keep-hourly", a.keep.hourly, "Keep the newest of each of N hours");
  forget->add_option("--keep-daily", a.keep.daily, "Keep the newest of each of N days");
  forget->add_option("--keep-weekly", a.keep.weekly, "Keep the newest of each of N weeks");
  forget->add_option("--keep-monthly", a.keep.monthly, "Keep the newest of each of N months");
  forget->add_option("--keep-yearly", a.keep.yearly, "Keep the newest of each of N years");
  forget->add_option("--keep-within", a.keep_within, "Keep everything this recent: 30d, 2w");
  forget->add_option("--keep-tag", a.keep.keep_tags, "Keep snapshots with this tag");
  forget->add_option("--group-by", a.group_by, "host,paths (default), host, paths or none");
  forget->add_flag("--dry-run,-n", a.dry_run, "Only say what would be removed");
  forget->add_flag("--prune", a.prune, "Prune afterwards");
  forget->add_option("--max-unused", a.max_unused, "With --prune: see prune");

  auto* prune = cmd("prune", "Delete data no snapshot uses", Prune);
  prune->add_flag("--dry-run,-n", a.dry_run, "Only say what would be deleted");
  prune->add_option("--max-unused", a.max_unused,
                    "Repack a pack when more than this share of it is unused")
      ->capture_default_str();

  auto* unlock = cmd("unlock", "Remove stale locks", Unlock);
  unlock->add_flag("--remove-all", a.remove_all, "Remove every lock, also live ones");

  auto* key = b->add_subcommand("key", "Manage the repository's passwords");
  key->require_subcommand(1);
  key->fallthrough();
  auto* add = key->add_subcommand("add", "Add a password (the current one keeps working)");
  add->fallthrough();
  add->add_option("--new-password-file", a.new_password_file, "File with the new password")
      ->required();
  add->callback([&ctx, &rc] { rc = KeyAdd(ctx, a); });

  cmd("rebuild-index", "Rebuild the index from the pack files (after index damage)",
      RebuildIndex);
}

}  // namespace steward::cli
