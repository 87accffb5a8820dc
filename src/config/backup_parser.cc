// Reads the stack's `backup:` keys (backup_parser.h): where backups go and how long they are
// kept at the top level, what each service backs up and how.
#include "config/backup_parser.h"

#include <fmt/format.h>

#include <stdexcept>

#include "config/monitoring_rules.h"

namespace steward::config::internal {
namespace {

using nlohmann::json;

constexpr std::string_view kSettingsKeys[] = {"repository", "password_file", "key_file",
                                              "schedule",   "keep",          "state"};
constexpr std::string_view kKeepKeys[] = {"last",    "hourly", "daily", "weekly",
                                          "monthly", "yearly", "within"};
constexpr std::string_view kServiceBackupKeys[] = {"paths",  "exclude", "schedule",
                                                   "before", "after",   "sqlite",
                                                   "max_age", "verify", "drill_schedule"};
constexpr int64_t kMaxKeep = 1000000;

// "local:./x" and "./x" resolve against the stack; other schemes (s3:, sftp:) are the
// backend's to check.
std::string ResolveRepository(const std::string& dir, const std::string& repo) {
  if (repo.starts_with("local:")) return "local:" + ResolvePath(dir, repo.substr(6));
  size_t colon = repo.find(':');
  size_t slash = repo.find('/');
  bool scheme = colon != std::string::npos && (slash == std::string::npos || colon < slash);
  return scheme ? repo : ResolvePath(dir, repo);
}

// A non-empty string, or nullopt after reporting.
std::optional<std::string> NonEmpty(ParseContext& ctx, const Entry& e, std::string_view who,
                                    std::string_view example) {
  std::optional<std::string> v = ctx.String(e, who);
  if (v && v->empty()) {
    ctx.Error(ctx.Loc(e), fmt::format("{} must not be empty; e.g. {}: {}",
                                      ParseContext::Subject(who, e.path), e.key, example));
    return std::nullopt;
  }
  return v;
}

// A non-empty list of non-empty paths, resolved against the stack's directory.
std::optional<std::vector<std::string>> Paths(ParseContext& ctx, const Entry& e,
                                              std::string_view who, const std::string& dir,
                                              std::string_view example) {
  std::optional<std::vector<std::string>> list = ctx.StringList(e, who);
  if (!list) return std::nullopt;
  if (list->empty()) {
    ctx.Error(ctx.Loc(e), fmt::format("{} must be a non-empty list of paths, e.g. {}: {}",
                                      ParseContext::Subject(who, e.path), e.key, example));
    return std::nullopt;
  }
  for (std::string& p : *list) {
    if (p.empty()) {
      ctx.Error(ctx.Loc(e), fmt::format("{} has an empty path; e.g. {}: {}",
                                        ParseContext::Subject(who, e.path), e.key, example));
      return std::nullopt;
    }
    p = ResolvePath(dir, p);
  }
  return list;
}

void Keep(ParseContext& ctx, const Entry& e, BackupKeep* keep) {
  if (!ctx.ExpectMap(e, "backup")) return;
  for (const Entry& f : ctx.Entries(e.value, kKeepKeys, "in backup.keep", "keep.")) {
    if (f.key == "within") {
      if (auto d = ctx.Dur(f, "backup")) keep->within = *d;
      continue;
    }
    std::optional<int64_t> n = ctx.Int(f, "backup", 0, kMaxKeep);
    if (!n) continue;
    int v = static_cast<int>(*n);
    if (f.key == "last") keep->last = v;
    if (f.key == "hourly") keep->hourly = v;
    if (f.key == "daily") keep->daily = v;
    if (f.key == "weekly") keep->weekly = v;
    if (f.key == "monthly") keep->monthly = v;
    if (f.key == "yearly") keep->yearly = v;
  }
}

void ServiceBackupKey(ParseContext& ctx, const Entry& f, const std::string& who,
                      const std::string& dir, ServiceBackup* b) {
  const std::string& k = f.key;
  if (k == "paths") {
    if (auto v = Paths(ctx, f, who, dir, "[./data]")) b->paths = std::move(*v);
  } else if (k == "sqlite") {
    if (auto v = Paths(ctx, f, who, dir, "[./app.db]")) b->sqlite = std::move(*v);
  } else if (k == "exclude") {
    if (auto v = ctx.StringList(f, who)) b->exclude = std::move(*v);
  } else if (k == "schedule" || k == "drill_schedule") {
    auto v = NonEmpty(ctx, f, who, "\"0 3 * * *\"");
    if (!v) return;
    (k == "schedule" ? b->schedule : b->drill_schedule) = *v;
    (k == "schedule" ? b->schedule_location : b->drill_schedule_location) = ctx.Loc(f);
  } else if (k == "before" || k == "after" || k == "verify") {
    auto v = NonEmpty(ctx, f, who, k == "verify" ? "./scripts/verify-restore.sh" : "echo done");
    if (v) (k == "before" ? b->before : k == "after" ? b->after : b->verify) = *v;
  } else if (k == "max_age") {
    auto d = ctx.Dur(f, who);
    if (d && d->count() <= 0) {
      ctx.Error(ctx.Loc(f), fmt::format("{} must be longer than 0, e.g. 26h",
                                        ParseContext::Subject(who, f.path)));
    } else if (d) {
      b->max_age = *d;
    }
  }
}

json LocationToJson(const SourceLocation& l) {
  return json{{"file", l.file}, {"line", l.line}, {"column", l.column}};
}

template <typename T>
void Get(const json& j, const char* key, T* out) {
  auto it = j.find(key);
  if (it == j.end()) return;
  if constexpr (std::is_same_v<T, int> || std::is_same_v<T, int64_t>) {
    if (!it->is_number_integer())
      throw std::invalid_argument(fmt::format("'backup.{}' must be an integer", key));
    int64_t v = it->get<int64_t>();
    if constexpr (std::is_same_v<T, int>) {
      if (v < 0 || v > kMaxKeep)
        throw std::invalid_argument(fmt::format("'backup.{}' is out of range", key));
    }
    *out = static_cast<T>(v);
  } else {
    *out = it->template get<T>();
  }
}

void GetMs(const json& j, const char* key, Duration* out) {
  int64_t ms = out->count();
  Get(j, key, &ms);
  *out = Duration(ms);
}

SourceLocation LocationFromJson(const json& j, const char* key) {
  SourceLocation l;
  auto it = j.find(key);
  if (it == j.end()) return l;
  if (!it->is_object()) throw std::invalid_argument(fmt::format("'{}' is not an object", key));
  Get(*it, "file", &l.file);
  Get(*it, "line", &l.line);
  Get(*it, "column", &l.column);
  return l;
}

}  // namespace

void ParseServiceBackup(ParseContext& ctx, const Entry& e, const std::string& who,
                        const std::string& stack_dir, Service* s) {
  ServiceBackup& b = s->backup;
  b.enabled = true;
  b.location = ctx.Loc(e.key_node);
  if (!ctx.ExpectMap(e, who)) return;
  for (const Entry& f :
       ctx.Entries(e.value, kServiceBackupKeys, "in backup of " + who, "backup.")) {
    ServiceBackupKey(ctx, f, who, stack_dir, &b);
  }
  if (b.paths.empty() && b.sqlite.empty() && b.before.empty()) {
    ctx.Error(b.location, fmt::format("{}: 'backup' has nothing to back up; add paths: [./data], "
                                      "sqlite: [./app.db] or a before: hook that writes a dump "
                                      "into $BACKUP_DIR",
                                      who));
  }
}

void ParseBackupSettings(ParseContext& ctx, const Entry* e, const std::string& stack_dir,
                         Stack* stack) {
  BackupSettings& b = stack->backup;
  if (e != nullptr) {
    b.location = ctx.Loc(e->key_node);
    if (ctx.ExpectMap(*e, "")) {
      for (const Entry& f : ctx.Entries(e->value, kSettingsKeys, "in backup", "backup.")) {
        if (f.key == "repository") {
          if (auto v = NonEmpty(ctx, f, "", "/var/backups/" + stack->project))
            b.repository = ResolveRepository(stack_dir, *v);
        } else if (f.key == "password_file" || f.key == "key_file") {
          auto v = NonEmpty(ctx, f, "", "./secrets/backup.pw");
          if (v) (f.key == "key_file" ? b.key_file : b.password_file) = ResolvePath(stack_dir, *v);
        } else if (f.key == "schedule") {
          if (auto v = NonEmpty(ctx, f, "", "\"0 3 * * *\"")) {
            b.schedule = *v;
            b.schedule_location = ctx.Loc(f);
          }
        } else if (f.key == "keep") {
          Keep(ctx, f, &b.keep);
        } else if (f.key == "state") {
          if (auto v = ctx.Bool(f, "")) b.state = *v;
        }
      }
      if (b.repository.empty()) {
        ctx.Error(b.location, "'backup' needs a 'repository' (where snapshots are stored), e.g. "
                              "repository: /var/backups/" +
                                  (stack->project.empty() ? std::string("my-app")
                                                          : stack->project));
      }
      if (b.password_file.empty() && b.key_file.empty()) {
        ctx.Error(b.location, "'backup' needs 'password_file' (a file whose first line is the "
                              "repository's password) or 'key_file'; e.g. password_file: "
                              "./secrets/backup.pw");
      } else if (!b.password_file.empty() && !b.key_file.empty()) {
        ctx.Error(b.location, "'backup' has both 'password_file' and 'key_file'; keep one of "
                              "them");
      }
    }
  }
  if (!b.repository.empty() || (e != nullptr && e->value.IsMap())) return;
  for (const Service& s : stack->services) {
    if (!s.backup.enabled) continue;
    ctx.Error(s.backup.location,
              fmt::format("service '{}' has 'backup' but the stack declares no backup repository; "
                          "add at the top level backup: {{repository: /var/backups/{}, "
                          "password_file: ./secrets/backup.pw}}",
                          s.name, stack->project.empty() ? "my-app" : stack->project));
  }
}

json BackupSettingsToJson(const BackupSettings& b) {
  const BackupKeep& k = b.keep;
  return json{{"repository", b.repository},
              {"password_file", b.password_file},
              {"key_file", b.key_file},
              {"schedule", b.schedule},
              {"schedule_location", LocationToJson(b.schedule_location)},
              {"keep",
               {{"last", k.last},
                {"hourly", k.hourly},
                {"daily", k.daily},
                {"weekly", k.weekly},
                {"monthly", k.monthly},
                {"yearly", k.yearly},
                {"within_ms", k.within.count()}}},
              {"state", b.state},
              {"location", LocationToJson(b.location)}};
}

BackupSettings BackupSettingsFromJson(const json& j) {
  if (!j.is_object()) throw std::invalid_argument("'backup' is not an object");
  BackupSettings b;
  Get(j, "repository", &b.repository);
  Get(j, "password_file", &b.password_file);
  Get(j, "key_file", &b.key_file);
  Get(j, "schedule", &b.schedule);
  b.schedule_location = LocationFromJson(j, "schedule_location");
  if (auto it = j.find("keep"); it != j.end()) {
    if (!it->is_object()) throw std::invalid_argument("'backup.keep' is not an object");
    BackupKeep& k = b.keep;
    Get(*it, "last", &k.last);
    Get(*it, "hourly", &k.hourly);
    Get(*it, "daily", &k.daily);
    Get(*it, "weekly", &k.weekly);
    Get(*it, "monthly", &k.monthly);
    Get(*it, "yearly", &k.yearly);
    GetMs(*it, "within_ms", &k.within);
  }
  Get(j, "state", &b.state);
  b.location = LocationFromJson(j, "location");
  return b;
}

json ServiceBackupToJson(const ServiceBackup& b) {
  return json{{"enabled", b.enabled},
              {"paths", b.paths},
              {"exclude", b.exclude},
              {"schedule", b.schedule},
              {"schedule_location", LocationToJson(b.schedule_location)},
              {"before", b.before},
              {"after", b.after},
              {"sqlite", b.sqlite},
              {"max_age_ms", b.max_age.count()},
              {"verify", b.verify},
              {"drill_schedule", b.drill_schedule},
              {"drill_schedule_location", LocationToJson(b.drill_schedule_location)},
              {"location", LocationToJson(b.location)}};
}

ServiceBackup ServiceBackupFromJson(const json& j) {
  if (!j.is_object()) throw std::invalid_argument("'backup' is not an object");
  ServiceBackup b;
  Get(j, "enabled", &b.enabled);
  Get(j, "paths", &b.paths);
  Get(j, "exclude", &b.exclude);
  Get(j, "schedule", &b.schedule);
  b.schedule_location = LocationFromJson(j, "schedule_location");
  Get(j, "before", &b.before);
  Get(j, "after", &b.after);
  Get(j, "sqlite", &b.sqlite);
  GetMs(j, "max_age_ms", &b.max_age);
  Get(j, "verify", &b.verify);
  Get(j, "drill_schedule", &b.drill_schedule);
  b.drill_schedule_location = LocationFromJson(j, "drill_schedule_location");
  b.location = LocationFromJson(j, "location");
  return b;
}

}  // namespace steward::config::internal
