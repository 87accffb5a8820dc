// The DR report and runbooks (dr.h, docs/reports.md).
#include "report/dr.h"

#include <algorithm>
#include <cctype>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <sstream>

#include "backup/backend.h"
#include "base/json.h"
#include "pipeline/cron.h"
#include "report/text_table.h"

namespace steward::report {
namespace {

constexpr int64_t kHourMs = 3'600'000;
constexpr int64_t kDayMs = 24 * kHourMs;

bool IsServiceSnapshot(const backup::Snapshot& s, const std::string& name) {
  if (s.service == name) return true;
  return std::find(s.tags.begin(), s.tags.end(), "service=" + name) != s.tags.end();
}

// Durations for people: "350ms", "4m10s", "2h5m", "3d4h".
std::string Human(int64_t ms) {
  if (ms < kDayMs) return FormatDuration(Duration(ms));
  int64_t hours = ms / kHourMs;
  std::string text = std::to_string(hours / 24) + "d";
  return hours % 24 == 0 ? text : text + std::to_string(hours % 24) + "h";
}

std::string Time(int64_t ms) { return FormatRfc3339(FromUnixMillis(ms)); }

// 'text' for sh, unless it needs no quoting.
std::string ShellQuote(const std::string& text) {
  bool plain = !text.empty() && std::all_of(text.begin(), text.end(), [](char c) {
    return std::isalnum(static_cast<unsigned char>(c)) || std::strchr("/._-:=@%+,", c) != nullptr;
  });
  if (plain) return text;
  std::string out = "'";
  for (char c : text) out += c == '\'' ? std::string("'\\''") : std::string(1, c);
  return out + "'";
}

nlohmann::json DrillJson(const std::optional<state::DrillRecord>& d) {
  if (!d) return nullptr;
  return {{"id", d->id},
          {"at", JsonTimeOrNull(d->started_at_ms)},
          {"ok", d->ok},
          {"snapshot", d->snapshot.empty() ? nlohmann::json(nullptr) : nlohmann::json(d->snapshot)},
          {"rto_seconds", d->rto_ms / 1000.0},
          {"rpo_seconds", d->rpo_ms / 1000.0},
          {"restore_seconds", d->restore_ms / 1000.0},
          {"verify_seconds", d->verify_ms / 1000.0},
          {"files", d->files},
          {"bytes", d->bytes},
          {"trigger", d->trigger},
          {"message", d->message}};
}

std::string DrillCell(const std::optional<state::DrillRecord>& d, int64_t now_ms) {
  if (!d) return "never";
  std::string when = Human(std::max<int64_t>(0, now_ms - d->started_at_ms)) + " ago";
  return std::string(d->ok ? "ok" : "FAILED") + " " + when;
}

std::vector<std::string> Cells(const DrServiceRow& r, int64_t now_ms) {
  auto opt = [](const auto& v, auto f) { return v ? f(*v) : std::string("?"); };
  std::vector<std::string> c;
  c.push_back(r.service);
  c.push_back(r.pass ? "pass" : "FAIL");
  c.push_back(r.last_snapshot_ms ? Time(*r.last_snapshot_ms)
                                 : (r.snapshots && *r.snapshots == 0 ? "none" : "?"));
  c.push_back(opt(r.age_ms, [](int64_t v) { return Human(v); }) + " / " + Human(r.max_age_ms));
  c.push_back(opt(r.snapshots, [](int64_t v) { return std::to_string(v); }));
  c.push_back(DrillCell(r.last_drill, now_ms));
  c.push_back(r.last_drill ? Human(r.last_drill->rto_ms) : "-");
  c.push_back(r.last_drill ? Human(r.last_drill->rpo_ms) : "-");
  std::string why;
  for (const auto& p : r.problems) why += (why.empty() ? "" : "; ") + p;
  for (const auto& n : r.notes) why += (why.empty() ? "" : "; ") + n;
  c.push_back(why);
  return c;
}

const std::vector<std::string> kHeader = {"SERVICE",   "STATUS",  "LAST SNAPSHOT",
                                          "AGE / MAX", "SNAPSHOTS", "LAST DRILL",
                                          "RTO",       "RPO",       "NOTES"};

std::string KeepText(const config::BackupKeep& k) {
  std::vector<std::string> parts;
  auto add = [&](const char* name, int n) {
    if (n > 0) parts.push_back(std::string(name) + " " + std::to_string(n));
  };
  add("last", k.last);
  add("hourly", k.hourly);
  add("daily", k.daily);
  add("weekly", k.weekly);
  add("monthly", k.monthly);
  add("yearly", k.yearly);
  if (k.within.count() > 0) parts.push_back("within " + Human(k.within.count()));
  if (parts.empty()) return "everything is kept (no `keep:`)";
  std::string text = "keep ";
  for (size_t i = 0; i < parts.size(); ++i) text += (i ? ", " : "") + parts[i];
  return text;
}

}  // namespace

StatusOr<std::unique_ptr<backup::Repository>> OpenStackRepository(
    const config::BackupSettings& settings) {
  if (settings.repository.empty()) {
    return FailedPrecondition("the stack declares no backup repository (top-level backup: "
                              "repository: /path)");
  }
  // The stack's files, read as backup jobs read them (job.h), so a drill opens what they wrote.
  if (!settings.password_file.empty() || !settings.key_file.empty()) {
    return backup::OpenJobRepository(settings.repository, settings.password_file,
                                     settings.key_file);
  }
  std::string password;
  if (const char* f = std::getenv("STEWARD_PASSWORD_FILE"); f && *f) {
    ASSIGN_OR_RETURN(password, backup::ReadRepositorySecret(f, ""));
  } else if (const char* p = std::getenv("STEWARD_PASSWORD"); p && *p) {
    password = p;
  } else {
    return FailedPrecondition("no password for the backup repository " + settings.repository +
                              ": give backup.password_file or backup.key_file in the stack, or "
                              "STEWARD_PASSWORD_FILE");
  }
  ASSIGN_OR_RETURN(auto backend, backup::OpenBackend(settings.repository, {}));
  return backup::Repository::Open(std::move(backend), password);
}

StatusOr<backup::DrillSpec> DrillSpecFor(const config::Stack& stack, const std::string& service,
                                         const std::string& state_dir) {
  const config::Service* s = stack.FindService(service);
  if (s == nullptr) {
    std::string names;
    for (const auto& x : stack.services) {
      if (x.backup.enabled) names += (names.empty() ? "" : ", ") + x.name;
    }
    return NotFound("no service " + service + " in " + stack.path +
                    (names.empty() ? "" : "; services with backup: " + names));
  }
  if (!s->backup.enabled) {
    return FailedPrecondition("service " + service + " has no backup: in " + stack.path +
                              "; declare backup: {paths: [...], verify: ...} to drill it");
  }
  backup::DrillSpec spec;
  spec.name = service;
  spec.verify = s->backup.verify;
  spec.work_dir = stack.dir;
  spec.scratch_root = state_dir + "/drill";
  return spec;
}

state::DrillRecord ToDrillRecord(const backup::DrillResult& r, const std::string& trigger) {
  state::DrillRecord d;
  d.service = r.service;
  d.snapshot = r.snapshot.IsZero() ? "" : r.snapshot.Hex();
  d.snapshot_time_ms = r.snapshot_time_ns / 1'000'000;
  d.started_at_ms = r.started_ns / 1'000'000;
  d.restore_ms = static_cast<int64_t>(r.restore_seconds * 1000 + 0.5);
  d.verify_ms = static_cast<int64_t>(r.verify_seconds * 1000 + 0.5);
  d.rto_ms = static_cast<int64_t>(r.rto_seconds * 1000 + 0.5);
  d.rpo_ms = static_cast<int64_t>(r.rpo_seconds * 1000 + 0.5);
  d.finished_at_ms = d.started_at_ms + d.rto_ms;
  d.files = static_cast<int64_t>(r.files);
  d.bytes = static_cast<int64_t>(r.bytes);
  d.ok = r.ok;
  d.message = r.message;
  d.trigger = trigger;
  d.host = state::CurrentHost();
  return d;
}

state::DrillRecord FailedDrillRecord(const std::string& service, int64_t started_ms,
                                     const Status& error, const std::string& trigger) {
  state::DrillRecord d;
  d.service = service;
  d.started_at_ms = started_ms;
  d.finished_at_ms = ToUnixMillis(RealClock::Get()->WallNow());
  d.ok = false;
  d.message = error.message();
  d.trigger = trigger;
  d.host = state::CurrentHost();
  return d;
}

Duration EffectiveMaxAge(const config::ServiceBackup& backup,
                         const config::BackupSettings& settings, int64_t now_ms) {
  if (backup.max_age.count() > 0) return backup.max_age;
  const std::string& text = backup.schedule.empty() ? settings.schedule : backup.schedule;
  int64_t period = kDayMs;
  if (auto cron = pipeline::CronSchedule::Parse(text); cron.ok()) {
    auto first = cron->Next(now_ms);
    auto second = first ? cron->Next(*first) : std::nullopt;
    if (first && second) period = *second - *first;
  }
  return Duration(std::max(2 * period, kHourMs));
}

bool DrReport::AllPass() const {
  return std::all_of(services.begin(), services.end(), [](const auto& r) { return r.pass; });
}

StatusOr<DrReport> ComputeDr(
    const config::Stack& stack,
    const std::optional<std::vector<std::pair<backup::Id, backup::Snapshot>>>& snapshots,
    const std::string& repository_error, state::StateStore* store, int64_t now_ms) {
  DrReport report;
  report.now_ms = now_ms;
  report.repository = stack.backup.repository;
  report.repository_error = repository_error;
  for (const auto& s : stack.services) {
    if (!s.backup.enabled) continue;
    DrServiceRow row;
    row.service = s.name;
    row.max_age_ms = EffectiveMaxAge(s.backup, stack.backup, now_ms).count();
    row.schedule = s.backup.schedule.empty() ? stack.backup.schedule : s.backup.schedule;
    row.drill_schedule = s.backup.drill_schedule;
    row.has_verify = !s.backup.verify.empty();
    if (snapshots) {
      int64_t count = 0;
      for (const auto& [id, snap] : *snapshots) {
        if (!IsServiceSnapshot(snap, s.name)) continue;
        ++count;
        int64_t ms = snap.time_ns / 1'000'000;
        if (!row.last_snapshot_ms || ms >= *row.last_snapshot_ms) {
          row.last_snapshot_ms = ms;
          row.last_snapshot = id.Hex();
        }
      }
      row.snapshots = count;
      if (row.last_snapshot_ms) row.age_ms = std::max<int64_t>(0, now_ms - *row.last_snapshot_ms);
    }
    ASSIGN_OR_RETURN(auto drills, store->ListDrills(s.name, 0));
    row.drills = static_cast<int64_t>(drills.size());
    if (!drills.empty()) row.last_drill = drills.front();
    for (const auto& d : drills) {
      if (d.ok) {
        row.last_ok_drill = d;
        break;
      }
    }
    if (!snapshots) {
      row.problems.push_back("snapshots unknown: " + repository_error);
    } else if (!row.last_snapshot_ms) {
      row.problems.push_back("no snapshot");
    } else if (*row.age_ms > row.max_age_ms) {
      row.problems.push_back("last snapshot older than max age " + Human(row.max_age_ms));
    }
    if (row.last_drill && !row.last_drill->ok) row.problems.push_back("last drill failed");
    if (!row.last_drill) row.notes.push_back("never drilled");
    if (!row.has_verify) row.notes.push_back("no verify: drills only restore");
    row.pass = row.problems.empty();
    report.services.push_back(std::move(row));
  }
  return report;
}

nlohmann::json ToJson(const DrReport& r) {
  nlohmann::json services = nlohmann::json::array();
  for (const auto& s : r.services) {
    auto num = [](const std::optional<int64_t>& v) {
      return v ? nlohmann::json(*v) : nlohmann::json(nullptr);
    };
    services.push_back({
        {"service", s.service},
        {"pass", s.pass},
        {"problems", s.problems},
        {"notes", s.notes},
        {"snapshots", num(s.snapshots)},
        {"last_snapshot", s.last_snapshot ? nlohmann::json(*s.last_snapshot) : nullptr},
        {"last_snapshot_at",
         s.last_snapshot_ms ? nlohmann::json(Time(*s.last_snapshot_ms)) : nullptr},
        {"rpo_now_seconds", s.age_ms ? nlohmann::json(*s.age_ms / 1000.0) : nullptr},
        {"max_age_seconds", s.max_age_ms / 1000.0},
        {"schedule", s.schedule},
        {"drill_schedule", s.drill_schedule.empty() ? nlohmann::json(nullptr)
                                                    : nlohmann::json(s.drill_schedule)},
        {"verify", s.has_verify},
        {"drills", s.drills},
        {"last_drill", DrillJson(s.last_drill)},
        {"last_successful_drill", DrillJson(s.last_ok_drill)},
    });
  }
  return {{"generated_at", Time(r.now_ms)},
          {"repository", r.repository},
          {"repository_error",
           r.repository_error.empty() ? nlohmann::json(nullptr) : nlohmann::json(r.repository_error)},
          {"pass", r.AllPass()},
          {"services", services}};
}

std::string ToText(const DrReport& r) {
  std::ostringstream out;
  if (r.services.empty()) {
    out << "no service declares backup: in the stack\n";
    return out.str();
  }
  std::vector<std::vector<std::string>> rows = {kHeader};
  for (const auto& s : r.services) rows.push_back(Cells(s, r.now_ms));
  out << TextTable(rows);
  if (!r.repository_error.empty()) out << "\nrepository " << r.repository << ": " << r.repository_error << "\n";
  return out.str();
}

std::string ToMarkdown(const DrReport& r) {
  std::ostringstream out;
  out << "# Disaster recovery report\n\nGenerated " << Time(r.now_ms) << " from repository `"
      << r.repository << "`.\n\n";
  if (!r.repository_error.empty()) out << "> Snapshots unknown: " << r.repository_error << "\n\n";
  out << "|";
  for (const auto& h : kHeader) out << " " << h << " |";
  out << "\n|";
  for (size_t i = 0; i < kHeader.size(); ++i) out << "---|";
  out << "\n";
  for (const auto& s : r.services) {
    out << "|";
    for (auto c : Cells(s, r.now_ms)) {
      std::string escaped;
      for (char ch : c) escaped += ch == '|' ? std::string("\\|") : std::string(1, ch);
      out << " " << escaped << " |";
    }
    out << "\n";
  }
  return out.str();
}

std::string Runbook(const config::Stack& stack, const config::Service& service,
                    const DrServiceRow& row, const DrReport& report) {
  const config::ServiceBackup& b = service.backup;
  const config::BackupSettings& set = stack.backup;
  std::ostringstream o;
  std::string repo_flags = " --repo " + ShellQuote(set.repository);
  if (!set.password_file.empty()) {
    repo_flags += " --password-file " + ShellQuote(set.password_file);
  } else if (!set.key_file.empty()) {
    repo_flags += " --key-file " + ShellQuote(set.key_file);
  }
  o << "# DR runbook: " << service.name << "\n\n"
    << "Generated by `steward report dr --runbook " << service.name << "` from `" << stack.path
    << "` at " << Time(report.now_ms) << ". Regenerate it after changing the stack.\n\n";

  o << "## What is backed up\n\n";
  o << "- Paths:";
  if (b.paths.empty()) o << " none (only what the hooks write)";
  o << "\n";
  for (const auto& p : b.paths) o << "  - `" << p << "`\n";
  if (!b.exclude.empty()) {
    o << "- Excluded:";
    for (const auto& e : b.exclude) o << " `" << e << "`";
    o << "\n";
  }
  if (!b.before.empty()) {
    o << "- Before each backup (in `" << stack.dir << "`; a failure stops the backup):\n\n"
      << "  ```sh\n  " << b.before << "\n  ```\n\n"
      << "  What it writes to `$BACKUP_DIR` is backed up with the paths.\n";
  }
  if (!b.after.empty()) o << "- After each backup: `" << b.after << "`\n";
  if (!b.sqlite.empty()) {
    o << "- SQLite databases, copied consistently with SQLite's online backup into "
         "`$BACKUP_DIR`:\n";
    for (const auto& s : b.sqlite) o << "  - `" << s << "`\n";
  }

  o << "\n## Where\n\n"
    << "- Repository: `" << set.repository << "` (encrypted; ";
  if (!set.password_file.empty()) {
    o << "password in `" << set.password_file << "`";
  } else if (!set.key_file.empty()) {
    o << "key in `" << set.key_file << "`";
  } else {
    o << "password from STEWARD_PASSWORD_FILE or STEWARD_PASSWORD";
  }
  o << "; without it nothing can be restored: keep a copy off this machine)\n"
    << "- Schedule: `" << row.schedule << "` (cron, UTC); alert when the newest snapshot is "
    << "older than " << Human(row.max_age_ms) << "\n"
    << "- Retention: " << KeepText(set.keep) << "\n";
  if (row.snapshots) {
    o << "- Snapshots of " << service.name << ": " << *row.snapshots;
    if (row.last_snapshot_ms) {
      o << ", newest `" << row.last_snapshot->substr(0, 8) << "` from "
        << Time(*row.last_snapshot_ms) << " (" << Human(*row.age_ms) << " old)";
    }
    o << "\n";
  } else {
    o << "- Snapshots: unknown (" << report.repository_error << ")\n";
  }

  const std::string snap = row.last_snapshot ? row.last_snapshot->substr(0, 8) : "SNAPSHOT";
  o << "\n## How to restore\n\n"
    << "1. Pick the snapshot (newest first is last in the list):\n\n"
    << "   ```sh\n   steward backup" << repo_flags << " snapshots --tag service="
    << service.name << "\n   ```\n\n";
  if (!row.last_snapshot) o << "   Use its id as SNAPSHOT below.\n\n";
  o << "2. Stop what writes to the paths: `steward down` (or stop " << service.name
    << " alone by removing it from the stack and `steward apply`).\n"
    << "3. Restore into a staging folder first (a restore never overwrites files unless "
       "`--overwrite`):\n\n"
    << "   ```sh\n";
  std::string staging = "/var/tmp/restore-" + service.name;
  o << "   steward backup" << repo_flags << " restore " << snap << " --target " << staging;
  for (const auto& p : b.paths) o << " \\\n     --include " << ShellQuote(p);
  o << "\n   ```\n\n"
    << "   The snapshot mirrors absolute paths: `" << (b.paths.empty() ? "/path" : b.paths[0])
    << "` is restored to `" << staging << (b.paths.empty() ? "/path" : b.paths[0]) << "`.\n";
  if (!b.before.empty() || !b.sqlite.empty()) {
    o << "   Files the before hook or the SQLite copies wrote to `$BACKUP_DIR` are in the "
         "snapshot too; list them with `steward backup"
      << repo_flags << " ls " << snap << "` and restore them the same way.\n";
  }
  o << "4. Move the current data aside, then the restored data into place:\n\n   ```sh\n";
  for (const auto& p : b.paths) {
    o << "   mv " << ShellQuote(p) << " " << ShellQuote(p + ".broken") << " && mv "
      << ShellQuote(staging + p) << " " << ShellQuote(p) << "\n";
  }
  if (b.paths.empty()) o << "   # (no paths: load the dump as below)\n";
  o << "   ```\n\n";
  if (!b.before.empty()) {
    o << "   Load the dump the before hook made with the tool that made it (for `pg_dump -Fc`: "
         "`pg_restore --clean --if-exists -d DB FILE`).\n";
  }
  o << "5. Start it again: `steward apply` (or `steward up`), then `steward status`.\n"
    << "6. Take a fresh backup once it runs: `steward backup run --service " << service.name
    << "`.\n";

  o << "\n## How a restore is verified\n\n";
  if (b.verify.empty()) {
    o << "No `verify:` is declared: a drill only checks that the snapshot restores (every chunk "
         "is checked against its hash). Declare one that starts the restored data and queries "
         "it.\n";
  } else {
    o << "`steward drill " << service.name << "` restores the newest snapshot into a scratch "
      << "folder and runs, in `" << stack.dir << "`:\n\n"
      << "```sh\n" << b.verify << "\n```\n\n"
      << "with `RESTORE_DIR` (= `RESTORE_ROOT`, the folder the snapshot's paths are restored "
         "under), `SNAPSHOT_ID` and `STEWARD_SERVICE` set. Exit 0 means the restore works.\n";
  }
  o << "\nDrills run " << (b.drill_schedule.empty()
                               ? std::string("by hand only (no `drill_schedule:`)")
                               : "on `" + b.drill_schedule + "` (cron, UTC) by the daemon")
    << ".\n";

  o << "\n## Last drill\n\n";
  if (!row.last_drill) {
    o << "Never drilled. Run `steward drill " << service.name << "`.\n";
  } else {
    const auto& d = *row.last_drill;
    o << "- " << Time(d.started_at_ms) << " (" << d.trigger << "): "
      << (d.ok ? "**ok**" : "**FAILED**") << "\n";
    if (!d.snapshot.empty()) o << "- Snapshot `" << d.snapshot.substr(0, 8) << "`\n";
    o << "- RTO " << Human(d.rto_ms) << " (restore " << Human(d.restore_ms) << ", verify "
      << Human(d.verify_ms) << "), RPO " << Human(d.rpo_ms) << "\n";
    if (!d.ok) o << "- Why:\n\n```\n" << d.message << "\n```\n";
    if (!d.ok && row.last_ok_drill) {
      o << "- Last successful drill: " << Time(row.last_ok_drill->started_at_ms) << " (RTO "
        << Human(row.last_ok_drill->rto_ms) << ")\n";
    }
  }
  o << "\nStatus now: " << (row.pass ? "pass" : "FAIL");
  for (const auto& p : row.problems) o << "; " << p;
  o << "\n";
  return o.str();
}

}  // namespace steward::report
