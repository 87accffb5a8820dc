// RunBackupJob (job.h): hooks, SQLite copies, the backup itself, the snapshot and retention.
//
// BACKUP_DIR is <scratch_root>/<service>, emptied before each run rather than a new random
// folder: its path is part of the snapshot, so a stable one lets the next run use the previous
// snapshot as its parent (unchanged dumps are not re-read) and gives drills one place to find
// the dumps. An flock on <scratch_root>/<service>.lock keeps two jobs of one service (the
// daemon's and a `steward backup run --service`) from sharing that folder.
#include "backup/job.h"

#include <fcntl.h>
#include <poll.h>
#include <pwd.h>
#include <signal.h>
#include <sqlite3.h>
#include <sys/file.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <thread>

#include "backup/archiver.h"
#include "backup/backend.h"
#include "backup/lock.h"
#include "base/fd.h"

extern char** environ;

namespace steward::backup {
namespace {

namespace fs = std::filesystem;

std::string Hostname() {
  char host[256] = {};
  gethostname(host, sizeof host - 1);
  return host;
}

std::string UserName() {
  if (struct passwd* pw = getpwuid(geteuid())) return pw->pw_name;
  return std::to_string(geteuid());
}

int64_t LocalUtcOffsetSeconds(int64_t unix_seconds) {
  time_t t = static_cast<time_t>(unix_seconds);
  struct tm tm {};
  localtime_r(&t, &tm);
  return tm.tm_gmtoff;
}

// Runs `command` with sh -c in `dir` with `env` added to ours; every line of its output
// (stdout and stderr together) goes to `log` prefixed with `who`. Returns the exit status as
// the shell reports it (128+N for a signal).
StatusOr<int> RunHook(const std::string& command, const std::string& dir,
                      const std::vector<std::string>& env, const std::string& who,
                      const LogFn& log) {
  // Everything the child needs is built before fork: only async-signal-safe calls after it.
  std::vector<std::string> env_strings;
  for (char** e = environ; e && *e; ++e) {
    std::string_view kv(*e);
    bool replaced = std::any_of(env.begin(), env.end(), [&](const std::string& mine) {
      return kv.substr(0, kv.find('=') + 1) == std::string_view(mine).substr(0, mine.find('=') + 1);
    });
    if (!replaced) env_strings.emplace_back(kv);
  }
  env_strings.insert(env_strings.end(), env.begin(), env.end());
  std::vector<char*> envp;
  for (std::string& s : env_strings) envp.push_back(s.data());
  envp.push_back(nullptr);
  const char* argv[] = {"sh", "-c", command.c_str(), nullptr};

  int pipe_fds[2];
  if (pipe2(pipe_fds, O_CLOEXEC) != 0) return ErrnoError("pipe", errno);
  Fd read_end(pipe_fds[0]), write_end(pipe_fds[1]);
  pid_t pid = fork();
  if (pid < 0) return ErrnoError("fork", errno);
  if (pid == 0) {
    int null = open("/dev/null", O_RDONLY);
    if (null >= 0) dup2(null, 0);
    dup2(write_end.get(), 1);
    dup2(write_end.get(), 2);
    // The daemon's sockets and files stay out of hooks (not all are O_CLOEXEC).
    if (close_range(3, ~0U, 0) != 0) {
      for (int fd = 3; fd < 4096; ++fd) close(fd);
    }
    if (chdir(dir.c_str()) != 0) _exit(126);
    sigset_t none;
    sigemptyset(&none);
    sigprocmask(SIG_SETMASK, &none, nullptr);
    execve("/bin/sh", const_cast<char* const*>(argv), envp.data());
    _exit(127);
  }
  close(write_end.release());
  std::string pending;
  char buf[8192];
  auto emit = [&](bool all) {
    size_t start = 0;
    for (size_t nl; (nl = pending.find('\n', start)) != std::string::npos; start = nl + 1)
      log(who + ": " + pending.substr(start, nl - start));
    pending.erase(0, start);
    if (all && !pending.empty()) log(who + ": " + pending);
    if (all) pending.clear();
  };
  while (true) {
    ssize_t n = read(read_end.get(), buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    pending.append(buf, static_cast<size_t>(n));
    emit(false);
  }
  emit(true);
  int status = 0;
  while (waitpid(pid, &status, 0) < 0) {
    if (errno != EINTR) return ErrnoError("waitpid", errno);
  }
  if (WIFEXITED(status)) {
    if (WEXITSTATUS(status) == 126 && !fs::is_directory(dir))
      return NotFound(who + ": working directory " + dir + " does not exist");
    return WEXITSTATUS(status);
  }
  return 128 + WTERMSIG(status);
}

// A consistent copy of a live SQLite database at `dst` via the online backup API: one step
// copies every page inside a single read transaction, so a writer on another connection
// either is wholly in the copy or not at all. A writer holding the lock is waited for.
Status CopySqlite(const std::string& src, const std::string& dst) {
  std::error_code ec;
  fs::create_directories(fs::path(dst).parent_path(), ec);
  if (ec) return IOError("creating " + fs::path(dst).parent_path().string() + ": " + ec.message());
  sqlite3* from = nullptr;
  sqlite3* to = nullptr;
  auto close_both = [&] {
    sqlite3_close(from);
    sqlite3_close(to);
  };
  if (!fs::exists(src, ec)) {
    return NotFound("sqlite " + src + ": no such file");
  }
  if (sqlite3_open_v2(src.c_str(), &from, SQLITE_OPEN_READONLY, nullptr) != SQLITE_OK) {
    std::string m = from ? sqlite3_errmsg(from) : "out of memory";
    close_both();
    return IOError("sqlite " + src + ": " + m);
  }
  if (sqlite3_open_v2(dst.c_str(), &to, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, nullptr) !=
      SQLITE_OK) {
    std::string m = to ? sqlite3_errmsg(to) : "out of memory";
    close_both();
    return IOError("sqlite copy " + dst + ": " + m);
  }
  sqlite3_busy_timeout(from, 5000);
  sqlite3_backup* b = sqlite3_backup_init(to, "main", from, "main");
  if (b == nullptr) {
    std::string m = sqlite3_errmsg(to);
    close_both();
    return IOError("sqlite backup of " + src + ": " + m);
  }
  auto give_up = std::chrono::steady_clock::now() + std::chrono::minutes(2);
  int rc;
  while (true) {
    rc = sqlite3_backup_step(b, -1);
    if (rc != SQLITE_BUSY && rc != SQLITE_LOCKED) break;
    if (std::chrono::steady_clock::now() > give_up) break;
    sqlite3_sleep(25);
  }
  sqlite3_backup_finish(b);
  std::string m = sqlite3_errstr(rc);
  close_both();
  if (rc != SQLITE_DONE) {
    fs::remove(dst, ec);
    return IOError("sqlite backup of " + src + ": " + m +
                   (rc == SQLITE_BUSY || rc == SQLITE_LOCKED
                        ? " (the database stayed locked by a writer for 2 minutes)"
                        : ""));
  }
  return Status::OK();
}

// Exclusive per-service lock on the scratch folder: the descriptor, to be closed to release.
StatusOr<int> LockScratch(const std::string& root, const std::string& name) {
  std::string path = root + "/" + name + ".lock";
  Fd fd(open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600));
  if (fd.get() < 0) return ErrnoError("opening " + path, errno);
  if (flock(fd.get(), LOCK_EX | LOCK_NB) != 0) {
    if (errno == EWOULDBLOCK)
      return Aborted("a backup of '" + name + "' is already running (" + path + " is locked)");
    return ErrnoError("locking " + path, errno);
  }
  return fd.release();
}

Status ResetDir(const std::string& dir) {
  std::error_code ec;
  fs::remove_all(dir, ec);
  if (ec) return IOError("emptying " + dir + ": " + ec.message());
  fs::create_directories(dir, ec);
  if (ec) return IOError("creating " + dir + ": " + ec.message());
  fs::permissions(dir, fs::perms::owner_all, ec);  // dumps may hold anything
  return Status::OK();
}

bool IsEmptyDir(const std::string& dir) {
  std::error_code ec;
  return fs::is_empty(dir, ec) || ec;
}

// The newest snapshot of this service over the same paths: its tree lets unchanged files be
// skipped.
std::optional<std::pair<Id, Snapshot>> FindParent(Repository* repo, const std::string& name,
                                                  const std::vector<std::string>& paths) {
  auto all = repo->ListSnapshots();
  if (!all.ok()) return std::nullopt;
  std::optional<std::pair<Id, Snapshot>> best;
  for (auto& [id, snap] : *all) {
    if (snap.service != name || snap.paths != paths) continue;
    if (!best || snap.time_ns >= best->second.time_ns) best = std::make_pair(id, snap);
  }
  return best;
}

// Forgets this service's snapshots the policy does not keep, under an exclusive lock.
StatusOr<int> Forget(Repository* repo, const JobSpec& spec, const LogFn& log) {
  ASSIGN_OR_RETURN(auto lock, RepoLock::Acquire(repo->backend(), repo->key(),
                                                "forget " + spec.name, /*exclusive=*/true));
  ASSIGN_OR_RETURN(auto all, repo->ListSnapshots());
  std::vector<std::pair<Id, Snapshot>> mine;
  for (auto& entry : all)
    if (entry.second.service == spec.name) mine.push_back(std::move(entry));
  int64_t offset = LocalUtcOffsetSeconds(NowUnixNanos() / 1000000000);
  int forgotten = 0;
  for (const PolicyDecision& d : ApplyPolicy(mine, spec.keep, GroupBy::kNone, offset)) {
    if (d.keep) continue;
    RETURN_IF_ERROR(repo->RemoveSnapshot(d.id));
    log("forgot snapshot " + d.id.Hex().substr(0, 8) + " of " + spec.name);
    ++forgotten;
  }
  lock->Release();
  return forgotten;
}

}  // namespace

StatusOr<std::string> ReadSecretFile(const std::string& path, const std::string& what,
                                     bool first_line) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return NotFound(what + " " + path + ": cannot be read (" + std::strerror(errno) + ")");
  std::stringstream buf;
  buf << in.rdbuf();
  std::string text = buf.str();
  if (first_line) {
    text = text.substr(0, text.find('\n'));
    if (!text.empty() && text.back() == '\r') text.pop_back();
  }
  if (text.empty()) return InvalidArgument(what + " " + path + " is empty");
  return text;
}

StatusOr<std::string> ReadRepositorySecret(const std::string& password_file,
                                           const std::string& key_file) {
  if (!password_file.empty()) return ReadSecretFile(password_file, "backup.password_file", true);
  if (!key_file.empty()) return ReadSecretFile(key_file, "backup.key_file", false);
  return InvalidArgument("no password_file or key_file for the repository");
}

StatusOr<std::unique_ptr<Repository>> OpenJobRepository(const std::string& location,
                                                        const std::string& password_file,
                                                        const std::string& key_file) {
  ASSIGN_OR_RETURN(auto backend, OpenBackend(location, LocalBackendOptions{}));
  ASSIGN_OR_RETURN(std::string secret, ReadRepositorySecret(password_file, key_file));
  return Repository::Open(std::move(backend), secret);
}

StatusOr<JobResult> RunBackupJob(Repository* repo, const JobSpec& spec, const LogFn& log) {
  if (spec.name.empty()) return InvalidArgument("a backup job needs a name");
  if (spec.scratch_root.empty()) return InvalidArgument("a backup job needs a scratch_root");
  std::error_code ec;
  fs::create_directories(spec.scratch_root, ec);
  if (ec) return IOError("creating " + spec.scratch_root + ": " + ec.message());
  ASSIGN_OR_RETURN(int lock_fd, LockScratch(spec.scratch_root, spec.name));
  Fd scratch_lock(lock_fd);
  std::string backup_dir = fs::absolute(spec.scratch_root).lexically_normal().string();
  backup_dir += "/" + spec.name;
  RETURN_IF_ERROR(ResetDir(backup_dir));
  struct Cleanup {
    std::string dir;
    ~Cleanup() {
      std::error_code ec;
      fs::remove_all(dir, ec);
    }
  } cleanup{backup_dir};

  std::string work_dir = spec.work_dir.empty() ? fs::current_path(ec).string() : spec.work_dir;
  std::vector<std::string> env = {"BACKUP_DIR=" + backup_dir, "STEWARD_SERVICE=" + spec.name};
  int64_t started = NowUnixNanos();
  if (!spec.before.empty()) {
    log("running before hook of " + spec.name);
    ASSIGN_OR_RETURN(int code, RunHook(spec.before, work_dir, env, "before", log));
    if (code != 0)
      return FailedPrecondition("before hook of " + spec.name + " exited " + std::to_string(code) +
                                "; nothing was backed up");
  }

  std::vector<std::string> excludes = spec.excludes;
  for (const std::string& db : spec.sqlite) {
    RETURN_IF_ERROR(CopySqlite(db, backup_dir + "/sqlite" + db));
    log("copied SQLite database " + db);
    // The live file (and its journals) would be an inconsistent second copy.
    for (const char* suffix : {"", "-wal", "-shm", "-journal"}) excludes.push_back(db + suffix);
  }

  BackupOptions options;
  options.paths = spec.paths;
  if (!IsEmptyDir(backup_dir)) options.paths.push_back(backup_dir);
  if (options.paths.empty())
    return FailedPrecondition("nothing to back up for " + spec.name +
                              ": no paths, and the before hook wrote nothing into $BACKUP_DIR");
  for (std::string& p : options.paths) p = fs::absolute(p).lexically_normal().string();
  std::sort(options.paths.begin(), options.paths.end());
  options.paths.erase(std::unique(options.paths.begin(), options.paths.end()), options.paths.end());
  options.excludes = std::move(excludes);
  options.threads = spec.threads;

  JobResult result;
  {
    ASSIGN_OR_RETURN(auto lock, RepoLock::Acquire(repo->backend(), repo->key(),
                                                  "backup " + spec.name, /*exclusive=*/false));
    std::optional<std::pair<Id, Snapshot>> parent = FindParent(repo, spec.name, options.paths);
    if (parent) options.parent_tree = parent->second.tree;
    ASSIGN_OR_RETURN(BackupResult backed, BackupPaths(repo, options));
    RETURN_IF_ERROR(repo->Flush());
    Snapshot& snap = result.saved;
    snap.time_ns = started;
    snap.host = spec.host.empty() ? Hostname() : spec.host;
    snap.user = UserName();
    snap.paths = options.paths;
    snap.tags = {"service=" + spec.name};
    snap.tree = backed.tree;
    if (parent) snap.parent = parent->first;
    snap.service = spec.name;
    snap.summary = backed.summary;
    if (snap.summary.seconds == 0) snap.summary.seconds = (NowUnixNanos() - started) / 1e9;
    ASSIGN_OR_RETURN(result.snapshot, repo->SaveSnapshot(snap));
    for (std::string& e : backed.errors) {
      log("warning: " + e);
      result.warnings.push_back(std::move(e));
    }
    lock->Release();
  }
  log("snapshot " + result.snapshot.Hex().substr(0, 8) + " of " + spec.name + " saved");

  if (!spec.after.empty()) {
    auto code = RunHook(spec.after, work_dir, env, "after", log);
    if (!code.ok() || *code != 0) {
      std::string why = code.ok() ? "exited " + std::to_string(*code) : code.status().message();
      result.warnings.push_back("after hook of " + spec.name + " " + why);
      log("warning: " + result.warnings.back());
    }
  }
  if (!spec.keep.Empty()) {
    // The backup is saved: a repository locked by someone else only postpones retention.
    auto forgotten = Forget(repo, spec, log);
    if (forgotten.ok()) {
      result.forgotten = *forgotten;
    } else {
      result.warnings.push_back("retention skipped: " + forgotten.status().message());
      log("warning: " + result.warnings.back());
    }
  }
  return result;
}

}  // namespace steward::backup
