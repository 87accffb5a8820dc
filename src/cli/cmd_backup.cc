// backup: Steward's backup repository from the command line — init, run, snapshots, ls, diff,
// restore, check, forget, prune, unlock, key add, rebuild-index. The repository comes from
// --repo or STEWARD_REPOSITORY; the password from --password-file, STEWARD_PASSWORD_FILE,
// STEWARD_PASSWORD, --key-file or a prompt on the terminal (never from argv). Format:
// docs/formats/backup.md.
#include <pwd.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <iostream>
#include <map>
#include <mutex>

#include <nlohmann/json.hpp>

#include "backup/archiver.h"
#include "backup/backend.h"
#include "backup/job.h"
#include "backup/lock.h"
#include "backup/maintenance.h"
#include "backup/policy.h"
#include "backup/repository.h"
#include "backup/tree.h"
#include "base/clock.h"
#include "base/json.h"
#include "cli/backup_cli.h"
#include "cli/cli.h"
#include "promql/parser.h"

namespace steward::cli::backup_cli {

namespace fs = std::filesystem;
using json = nlohmann::json;
using backup::Id;
using backup::Repository;


// ---- repository, password, locks -----------------------------------------------------------

StatusOr<std::string> RepoLocation(const BackupArgs& a) {
  if (!a.repo.empty()) return a.repo;
  if (const char* env = std::getenv("STEWARD_REPOSITORY"); env && *env) return std::string(env);
  return InvalidArgument("no repository: give --repo PATH or set STEWARD_REPOSITORY");
}

namespace {

// A password typed on the terminal, without echo.
StatusOr<std::string> Prompt(const char* question) {
  ASSIGN_OR_RETURN(std::string password,
                   PromptNoEcho(question, "no password: give --password-file, --key-file, "
                                          "STEWARD_PASSWORD_FILE or STEWARD_PASSWORD (there is "
                                          "no terminal to ask on)"));
  if (password.empty()) return InvalidArgument("empty password");
  return password;
}

}  // namespace

StatusOr<std::string> Password(const BackupArgs& a, bool confirm) {
  if (!a.password_file.empty())
    return backup::ReadSecretFile(a.password_file, "--password-file", true);
  if (!a.key_file.empty()) return backup::ReadSecretFile(a.key_file, "--key-file", false);
  if (const char* f = std::getenv("STEWARD_PASSWORD_FILE"); f && *f)
    return backup::ReadSecretFile(f, "STEWARD_PASSWORD_FILE", true);
  if (const char* p = std::getenv("STEWARD_PASSWORD"); p && *p) return std::string(p);
  ASSIGN_OR_RETURN(std::string password, Prompt("repository password: "));
  if (confirm) {
    ASSIGN_OR_RETURN(std::string again, Prompt("repeat the password: "));
    if (again != password) return InvalidArgument("the two passwords differ");
  }
  return password;
}

StatusOr<std::unique_ptr<Repository>> OpenRepo(const BackupArgs& a) {
  ASSIGN_OR_RETURN(std::string location, RepoLocation(a));
  backup::LocalBackendOptions options;
  options.append_only = a.append_only;
  ASSIGN_OR_RETURN(auto backend, backup::OpenBackend(location, options));
  ASSIGN_OR_RETURN(std::string password, Password(a, false));
  return Repository::Open(std::move(backend), password);
}

namespace {

std::string Hostname() {
  char host[256] = {};
  gethostname(host, sizeof host - 1);
  return host;
}

std::string Username() {
  if (passwd* pw = getpwuid(getuid())) return pw->pw_name;
  return std::to_string(getuid());
}

}  // namespace

std::string LocalTime(int64_t ns) {
  std::time_t t = static_cast<std::time_t>(ns / 1'000'000'000);
  std::tm tm{};
  localtime_r(&t, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%d %H:%M:%S", &tm);
  return buf;
}

std::string Rfc3339(int64_t ns) {
  return FormatRfc3339Millis(FromUnixMillis(ns / 1'000'000));
}

// A "12%" or "0.12" share in (0, 1].
StatusOr<double> ParseShare(const std::string& flag, const std::string& text, bool allow_zero) {
  std::string t = text;
  bool percent = !t.empty() && t.back() == '%';
  if (percent) t.pop_back();
  char* end = nullptr;
  double v = std::strtod(t.c_str(), &end);
  if (t.empty() || end != t.c_str() + t.size())
    return InvalidArgument(flag + " '" + text + "': want a share such as 10% or 0.1");
  if (percent) v /= 100;
  if (v > 1 || v < 0 || (!allow_zero && v == 0))
    return InvalidArgument(flag + " '" + text + "': must be between 0 and 100%");
  return v;
}

// ---- progress on a TTY ---------------------------------------------------------------------

ProgressLine::ProgressLine(const char* verb)
    : verb_(verb), tty_(isatty(STDERR_FILENO)), start_(std::chrono::steady_clock::now()) {}

void ProgressLine::Update(const backup::Progress& p) {
  if (!tty_) return;
  double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count();
  std::string line = std::to_string(p.files) + " files, " + FormatBytes(static_cast<int64_t>(p.bytes));
  if (p.total_bytes > 0)
    line += " of " + FormatBytes(static_cast<int64_t>(p.total_bytes)) + " (" +
            std::to_string(100 * p.bytes / p.total_bytes) + "%)";
  if (secs > 0.5) line += ", " + FormatBytes(static_cast<int64_t>(p.bytes / secs)) + "/s";
  if (!p.current.empty()) line += "  " + p.current;
  Show(line);
}

void ProgressLine::Show(const std::string& text) {
  if (!tty_) return;
  std::lock_guard<std::mutex> lock(mu_);
  std::string line = std::string("[") + verb_ + "] " + text;
  if (line.size() > 110) line = line.substr(0, 107) + "...";
  std::fprintf(stderr, "\r\033[K%s", line.c_str());
  std::fflush(stderr);
  shown_ = true;
}

void ProgressLine::Clear() {
  std::lock_guard<std::mutex> lock(mu_);
  if (!shown_) return;
  std::fprintf(stderr, "\r\033[K");
  std::fflush(stderr);
  shown_ = false;
}

// ---- init ----------------------------------------------------------------------------------

int Init(const Context& ctx, const BackupArgs& a) {
  auto location = RepoLocation(a);
  if (!location.ok()) return Fail(location.status());
  // The password first: a refused one must not leave an empty repository folder behind.
  auto password = Password(a, /*confirm=*/true);
  if (!password.ok()) return Fail(password.status());
  backup::LocalBackendOptions options;
  options.create = true;
  auto backend = backup::OpenBackend(*location, options);
  if (!backend.ok()) return Fail(backend.status());
  backup::InitOptions init;
  if (a.kdf_ops > 0) init.kdf.ops = static_cast<uint64_t>(a.kdf_ops);
  if (a.compression >= 0) init.config.compression = a.compression;
  if (!a.kdf_memory.empty()) {
    auto mem = ParseSize("--kdf-memory", a.kdf_memory);
    if (!mem.ok()) return Fail(mem.status());
    init.kdf.mem = static_cast<uint64_t>(*mem);
  }
  auto repo = Repository::Init(std::move(*backend), *password, init);
  if (!repo.ok()) return Fail(repo.status().Annotate("init " + *location));
  if (ctx.g.json) {
    std::cout << json{{"repository", *location}, {"id", (*repo)->config().id}}.dump() << "\n";
  } else {
    std::cout << "created backup repository " << (*repo)->config().id.substr(0, 8) << " at "
              << *location << "\n\nKeep the password safe: without it the data cannot be "
              << "read back.\n";
  }
  return kExitOk;
}

// ---- run -----------------------------------------------------------------------------------

namespace {

std::vector<std::string> AbsolutePaths(const std::vector<std::string>& paths) {
  std::vector<std::string> out;
  for (const std::string& p : paths) out.push_back(fs::absolute(p).lexically_normal().string());
  for (std::string& p : out)
    while (p.size() > 1 && p.back() == '/') p.pop_back();
  std::sort(out.begin(), out.end());
  return out;
}

// The newest snapshot of the same host and paths: its tree lets unchanged files be skipped.
StatusOr<std::optional<std::pair<Id, backup::Snapshot>>> FindParent(
    Repository* repo, const BackupArgs& a, const std::string& host,
    const std::vector<std::string>& paths) {
  std::optional<std::pair<Id, backup::Snapshot>> parent;
  if (a.force) return parent;
  if (!a.parent.empty()) {
    ASSIGN_OR_RETURN(Id id, repo->FindSnapshot(a.parent));
    ASSIGN_OR_RETURN(backup::Snapshot s, repo->LoadSnapshot(id));
    parent.emplace(id, std::move(s));
    return parent;
  }
  ASSIGN_OR_RETURN(auto all, repo->ListSnapshots());
  for (auto& [id, s] : all) {
    std::vector<std::string> sp = s.paths;
    std::sort(sp.begin(), sp.end());
    if (s.host == host && sp == paths && (!parent || s.time_ns >= parent->second.time_ns))
      parent.emplace(id, s);
  }
  return parent;
}

json SummaryJson(const backup::SnapshotSummary& m) {
  return {{"files_new", m.files_new},         {"files_changed", m.files_changed},
          {"files_unmodified", m.files_unmodified}, {"dirs", m.dirs},
          {"bytes_processed", m.bytes_processed},   {"bytes_added", m.bytes_added},
          {"bytes_stored", m.bytes_stored},         {"blobs_added", m.blobs_added},
          {"seconds", m.seconds}};
}

}  // namespace

int Run(const Context& ctx, const BackupArgs& a) {
  if (a.paths.empty()) return Fail(InvalidArgument("backup run: give at least one PATH"));
  for (const std::string& p : a.paths) {
    std::error_code ec;
    if (!fs::exists(fs::symlink_status(p, ec)))
      return Fail(NotFound("backup run: " + p + " does not exist"));
  }
  auto repo = OpenRepo(a);
  if (!repo.ok()) return Fail(repo.status());
  auto lock = backup::RepoLock::Acquire((*repo)->backend(), (*repo)->key(), "backup", false);
  if (!lock.ok()) return Fail(lock.status());

  backup::Snapshot snap;
  snap.time_ns = backup::NowUnixNanos();
  snap.host = a.host.empty() ? Hostname() : a.host;
  snap.user = Username();
  snap.paths = AbsolutePaths(a.paths);
  snap.tags = a.tags;
  auto parent = FindParent(repo->get(), a, snap.host, snap.paths);
  if (!parent.ok()) return Fail(parent.status().Annotate("finding the parent snapshot"));

  backup::BackupOptions options;
  options.paths = snap.paths;
  options.excludes = a.excludes;
  options.threads = std::max(1, a.threads);
  options.one_file_system = a.one_file_system;
  if (*parent) {
    options.parent_tree = (*parent)->second.tree;
    snap.parent = (*parent)->first;
  }
  ProgressLine progress("backup");
  if (!ctx.g.json) options.progress = [&](const backup::Progress& p) { progress.Update(p); };
  auto start = std::chrono::steady_clock::now();
  auto result = backup::BackupPaths(repo->get(), options);
  if (!result.ok()) return Fail(result.status().Annotate("backup"));
  Status flushed = (*repo)->Flush();
  if (!flushed.ok()) return Fail(flushed.Annotate("backup: writing the last packs and index"));
  snap.tree = result->tree;
  snap.summary = result->summary;
  snap.summary.seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  auto id = (*repo)->SaveSnapshot(snap);
  if (!id.ok()) return Fail(id.status().Annotate("backup: saving the snapshot"));
  progress.Clear();

  for (const std::string& e : result->errors) std::cerr << "warning: " << e << "\n";
  const backup::SnapshotSummary& m = snap.summary;
  if (ctx.g.json) {
    json out = {{"snapshot", id->Hex()},
                {"parent", snap.parent ? json(snap.parent->Hex()) : json()},
                {"paths", snap.paths},
                {"summary", SummaryJson(m)},
                {"errors", result->errors}};
    std::cout << JsonText(out) << "\n";
  } else {
    std::cout << "files: " << m.files_new << " new, " << m.files_changed << " changed, "
              << m.files_unmodified << " unmodified; " << m.dirs << " dirs\n"
              << "added " << FormatBytes(static_cast<int64_t>(m.bytes_added)) << " ("
              << FormatBytes(static_cast<int64_t>(m.bytes_stored)) << " stored) of "
              << FormatBytes(static_cast<int64_t>(m.bytes_processed)) << " processed in "
              << std::fixed << std::setprecision(2) << m.seconds << " s\n"
              << "snapshot " << id->Short() << " saved"
              << (snap.parent ? " (parent " + snap.parent->Short() + ")" : "") << "\n";
    if (!result->errors.empty())
      std::cout << result->errors.size() << " file(s) could not be read (see warnings)\n";
  }
  return result->errors.empty() ? kExitOk : kExitIncomplete;
}

// ---- snapshots, ls, diff -------------------------------------------------------------------

namespace {

json SnapshotJson(const Id& id, const backup::Snapshot& s) {
  return {{"id", id.Hex()},          {"short_id", id.Short()}, {"time", Rfc3339(s.time_ns)},
          {"host", s.host},          {"user", s.user},         {"paths", s.paths},
          {"tags", s.tags},          {"tree", s.tree.Hex()},
          {"parent", s.parent ? json(s.parent->Hex()) : json()},
          {"service", s.service},    {"summary", SummaryJson(s.summary)}};
}

std::string Join(const std::vector<std::string>& v, const char* sep) {
  std::string out;
  for (const std::string& s : v) out += (out.empty() ? "" : sep) + s;
  return out;
}

}  // namespace

int Snapshots(const Context& ctx, const BackupArgs& a) {
  auto repo = OpenRepo(a);
  if (!repo.ok()) return Fail(repo.status());
  auto all = (*repo)->ListSnapshots();
  if (!all.ok()) return Fail(all.status());
  json list = json::array();
  std::vector<std::vector<std::string>> rows = {{"ID", "TIME", "HOST", "TAGS", "PATHS", "ADDED"}};
  for (const auto& [id, s] : *all) {
    if (!a.host.empty() && s.host != a.host) continue;
    if (!a.tags.empty() && std::none_of(a.tags.begin(), a.tags.end(), [&](const std::string& t) {
          return std::find(s.tags.begin(), s.tags.end(), t) != s.tags.end();
        }))
      continue;
    list.push_back(SnapshotJson(id, s));
    rows.push_back({id.Short(), LocalTime(s.time_ns), s.host, Join(s.tags, ","),
                    Join(s.paths, " "), FormatBytes(static_cast<int64_t>(s.summary.bytes_added))});
  }
  if (ctx.g.json) {
    std::cout << JsonText(list) << "\n";
  } else if (list.empty()) {
    std::cout << "no snapshots\n";
  } else {
    PrintTable(rows);
    std::cout << list.size() << " snapshot(s)\n";
  }
  return kExitOk;
}

namespace {

char TypeLetter(backup::NodeType t) {
  switch (t) {
    case backup::NodeType::kDir: return 'd';
    case backup::NodeType::kSymlink: return 'l';
    case backup::NodeType::kDevice: return 'b';
    case backup::NodeType::kCharDevice: return 'c';
    case backup::NodeType::kFifo: return 'p';
    case backup::NodeType::kSocket: return 's';
    case backup::NodeType::kFile: break;
  }
  return '-';
}

std::string ModeString(const backup::Node& n) {
  std::string s(10, '-');
  s[0] = TypeLetter(n.type);
  const char* rwx = "rwxrwxrwx";
  for (int i = 0; i < 9; ++i)
    if (n.mode & (0400u >> i)) s[1 + i] = rwx[i];
  // setuid, setgid and sticky show in the x positions as ls does (s/S, s/S, t/T).
  if (n.mode & 04000) s[3] = s[3] == 'x' ? 's' : 'S';
  if (n.mode & 02000) s[6] = s[6] == 'x' ? 's' : 'S';
  if (n.mode & 01000) s[9] = s[9] == 'x' ? 't' : 'T';
  return s;
}

json NodeJson(const std::string& path, const backup::Node& n) {
  json j = {{"path", path},   {"name", n.name},   {"type", backup::NodeTypeName(n.type)},
            {"mode", n.mode}, {"uid", n.uid},     {"gid", n.gid},
            {"user", n.user}, {"group", n.group}, {"size", n.size},
            {"mtime", Rfc3339(n.mtime_ns)}};
  if (n.type == backup::NodeType::kSymlink) j["link_target"] = n.link_target;
  return j;
}

bool Under(const std::string& path, const std::string& prefix) {
  if (prefix.empty() || prefix == "/") return true;
  return path == prefix || (path.size() > prefix.size() && path.compare(0, prefix.size(), prefix) == 0 &&
                            path[prefix.size()] == '/');
}

}  // namespace

int Ls(const Context& ctx, const BackupArgs& a) {
  if (a.refs.empty()) return Fail(InvalidArgument("backup ls: give a SNAPSHOT (an id or latest)"));
  auto repo = OpenRepo(a);
  if (!repo.ok()) return Fail(repo.status());
  auto id = (*repo)->FindSnapshot(a.refs[0]);
  if (!id.ok()) return Fail(id.status());
  auto snap = (*repo)->LoadSnapshot(*id);
  if (!snap.ok()) return Fail(snap.status());
  std::string prefix = a.refs.size() > 1 ? a.refs[1] : "";
  while (prefix.size() > 1 && prefix.back() == '/') prefix.pop_back();
  json list = json::array();
  Status st = backup::WalkTree(repo->get(), snap->tree, [&](const std::string& path,
                                                             const backup::Node& n) {
    if (!Under(path, prefix)) return Status::OK();
    if (ctx.g.json) {
      list.push_back(NodeJson(path, n));
    } else if (a.long_listing) {
      std::printf("%s %6s %6s %12llu %s %s%s\n", ModeString(n).c_str(),
                  (n.user.empty() ? std::to_string(n.uid) : n.user).c_str(),
                  (n.group.empty() ? std::to_string(n.gid) : n.group).c_str(),
                  static_cast<unsigned long long>(n.size), LocalTime(n.mtime_ns).c_str(),
                  path.c_str(),
                  n.type == backup::NodeType::kSymlink ? (" -> " + n.link_target).c_str() : "");
    } else {
      std::cout << path << "\n";
    }
    return Status::OK();
  });
  if (!st.ok()) return Fail(st.Annotate("ls " + id->Short()));
  if (ctx.g.json) std::cout << JsonText(list) << "\n";
  return kExitOk;
}

namespace {

StatusOr<std::map<std::string, backup::Node>> Flatten(Repository* repo, const Id& snapshot) {
  ASSIGN_OR_RETURN(backup::Snapshot snap, repo->LoadSnapshot(snapshot));
  std::map<std::string, backup::Node> nodes;
  RETURN_IF_ERROR(backup::WalkTree(repo, snap.tree, [&](const std::string& p, const backup::Node& n) {
    nodes.emplace(p, n);
    return Status::OK();
  }));
  return nodes;
}

}  // namespace

int Diff(const Context& ctx, const BackupArgs& a) {
  if (a.refs.size() != 2) return Fail(InvalidArgument("backup diff: give two SNAPSHOTs"));
  auto repo = OpenRepo(a);
  if (!repo.ok()) return Fail(repo.status());
  std::map<std::string, backup::Node> side[2];
  for (int i = 0; i < 2; ++i) {
    auto id = (*repo)->FindSnapshot(a.refs[i]);
    if (!id.ok()) return Fail(id.status());
    auto nodes = Flatten(repo->get(), *id);
    if (!nodes.ok()) return Fail(nodes.status().Annotate("diff " + id->Short()));
    side[i] = std::move(*nodes);
  }
  // "+" added, "-" removed, "M" content changed, "T" type changed, "U" metadata only.
  std::vector<std::pair<std::string, std::string>> changes;
  for (const auto& [path, n] : side[0])
    if (!side[1].count(path)) changes.emplace_back("-", path);
  for (const auto& [path, n] : side[1]) {
    auto it = side[0].find(path);
    if (it == side[0].end()) {
      changes.emplace_back("+", path);
      continue;
    }
    const backup::Node& o = it->second;
    if (o.type != n.type)
      changes.emplace_back("T", path);
    else if (o.content != n.content || o.link_target != n.link_target)
      changes.emplace_back("M", path);
    else if (o.mode != n.mode || o.uid != n.uid || o.gid != n.gid || o.xattrs != n.xattrs ||
             (n.type != backup::NodeType::kDir && o.mtime_ns != n.mtime_ns))
      changes.emplace_back("U", path);
  }
  std::sort(changes.begin(), changes.end(),
            [](const auto& x, const auto& y) { return x.second < y.second; });
  std::map<std::string, int> counts;
  for (const auto& c : changes) ++counts[c.first];
  if (ctx.g.json) {
    json list = json::array();
    for (const auto& [what, path] : changes) list.push_back({{"change", what}, {"path", path}});
    std::cout << JsonText(json{{"changes", list},
                               {"added", counts["+"]},
                               {"removed", counts["-"]},
                               {"modified", counts["M"] + counts["T"]},
                               {"metadata", counts["U"]}})
              << "\n";
  } else {
    for (const auto& [what, path] : changes) std::cout << what << "    " << path << "\n";
    std::cout << "\n" << counts["+"] << " added, " << counts["-"] << " removed, "
              << counts["M"] + counts["T"] << " modified, " << counts["U"]
              << " metadata only\n";
  }
  return kExitOk;
}

}  // namespace steward::cli::backup_cli
