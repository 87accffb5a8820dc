// Restore drills (job.h): restore a service's latest snapshot into a scratch folder, run its
// verify command there, measure RTO and RPO, and leave nothing behind.
//
// Where things are for verify: the snapshot mirrors absolute paths from "/", so a service that
// backs up /srv/db finds it at $RESTORE_DIR/srv/db, and a dump its `before` hook wrote to
// $BACKUP_DIR/db.dump is at $RESTORE_DIR/<that BACKUP_DIR's absolute path>/db.dump.
// RESTORE_ROOT is set to the same folder (the name a script that rebuilds "/" reads better with).
//
// What fails a drill (ok = false, recorded) and what fails the call: a snapshot that cannot be
// restored (a damaged pack, a full scratch disk) is exactly what a drill exists to find, so it is
// a failed drill; no snapshot at all, an unreadable snapshot list or a lock held by prune are
// errors of the call (there was nothing to drill).
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstring>
#include <deque>
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include <fmt/format.h>

#include "backup/archiver.h"
#include "backup/job.h"
#include "backup/lock.h"

extern char** environ;

namespace steward::backup {
namespace {

namespace fs = std::filesystem;
using SteadyClock = std::chrono::steady_clock;

constexpr size_t kTailLines = 20;       // of verify's output, quoted in a failure's message
constexpr size_t kMaxLineBytes = 4096;  // a longer line is cut (a binary blob on stdout)
constexpr auto kKillGrace = std::chrono::seconds(5);

double SecondsSince(SteadyClock::time_point start) {
  return std::chrono::duration<double>(SteadyClock::now() - start).count();
}

bool IsServiceSnapshot(const Snapshot& s, const std::string& name) {
  if (s.service == name) return true;
  const std::string tag = "service=" + name;
  for (const auto& t : s.tags) {
    if (t == tag) return true;
  }
  return false;
}

// The newest snapshot of the service (by time; the later-listed one on a tie).
StatusOr<std::pair<Id, Snapshot>> LatestSnapshot(Repository* repo, const std::string& name) {
  ASSIGN_OR_RETURN(auto all, repo->ListSnapshots());
  std::optional<std::pair<Id, Snapshot>> best;
  for (auto& [id, snap] : all) {
    if (!IsServiceSnapshot(snap, name)) continue;
    if (!best || snap.time_ns >= best->second.time_ns) best.emplace(id, std::move(snap));
  }
  if (!best) {
    return NotFound("service " + name + " has no snapshot in " + repo->backend()->Location() +
                    " yet; run `steward backup run --service " + name + "` first");
  }
  return std::move(*best);
}

// Makes every directory under `root` writable by us so remove_all can empty it: a restore keeps
// the snapshot's modes, and a 0555 folder (or PostgreSQL's 0700 one owned by us) would
// otherwise refuse the unlink of its entries.
void MakeRemovable(const std::string& root) {
  std::error_code ec;
  ::chmod(root.c_str(), 0700);
  for (fs::recursive_directory_iterator it(root, fs::directory_options::skip_permission_denied,
                                           ec),
       end;
       !ec && it != end; it.increment(ec)) {
    if (it->is_directory(ec) && !it->is_symlink(ec)) ::chmod(it->path().c_str(), 0700);
  }
}

Status RemoveTree(const std::string& root) {
  MakeRemovable(root);
  std::error_code ec;
  fs::remove_all(root, ec);
  if (ec) return IOError("removing the drill folder " + root + ": " + ec.message());
  return Status::OK();
}

struct VerifyOutcome {
  int exit_code = -1;  // -1 when killed by a signal
  int signal = 0;
  bool timed_out = false;
  bool cancelled = false;
  std::deque<std::string> tail;  // last kTailLines lines
};

// Splits what verify wrote into lines, logging each and keeping the last few.
class LineSink {
 public:
  LineSink(const LogFn& log, std::deque<std::string>* tail) : log_(log), tail_(tail) {}
  void Add(const char* data, size_t n) {
    for (size_t i = 0; i < n; ++i) {
      if (data[i] == '\n') {
        Emit();
      } else if (partial_.size() < kMaxLineBytes) {
        partial_.push_back(data[i]);
      }
    }
  }
  void Finish() {
    if (!partial_.empty()) Emit();
  }

 private:
  void Emit() {
    if (log_) log_(partial_);
    tail_->push_back(std::move(partial_));
    if (tail_->size() > kTailLines) tail_->pop_front();
    partial_.clear();
  }
  const LogFn& log_;
  std::deque<std::string>* tail_;
  std::string partial_;
};

// Runs `command` with /bin/sh -c in its own process group, stdout and stderr into one pipe,
// stdin from /dev/null, killed (the whole group) at the deadline. Everything the child needs is
// built before fork: the daemon is multi-threaded, so the child may only make system calls.
StatusOr<VerifyOutcome> RunVerify(const std::string& command, const std::string& work_dir,
                                  const std::vector<std::string>& extra_env, int timeout_seconds,
                                  const std::atomic<bool>* cancel, const LogFn& log) {
  std::vector<std::string> env_strings;
  for (char** e = environ; e != nullptr && *e != nullptr; ++e) {
    std::string_view kv(*e);
    bool overridden = false;
    for (const auto& x : extra_env) {
      if (kv.substr(0, kv.find('=') + 1) == std::string_view(x).substr(0, x.find('=') + 1)) {
        overridden = true;
      }
    }
    if (!overridden) env_strings.emplace_back(kv);
  }
  env_strings.insert(env_strings.end(), extra_env.begin(), extra_env.end());
  std::vector<char*> envp;
  for (auto& s : env_strings) envp.push_back(s.data());
  envp.push_back(nullptr);
  const char* argv[] = {"sh", "-c", command.c_str(), nullptr};

  int fds[2];
  if (pipe2(fds, O_CLOEXEC) != 0) return ErrnoError("verify: pipe", errno);
  int devnull = open("/dev/null", O_RDONLY | O_CLOEXEC);
  pid_t pid = fork();
  if (pid < 0) {
    int err = errno;
    close(fds[0]);
    close(fds[1]);
    if (devnull >= 0) close(devnull);
    return ErrnoError("verify: fork", err);
  }
  if (pid == 0) {
    setpgid(0, 0);
    prctl(PR_SET_PDEATHSIG, SIGKILL);  // a killed steward takes its verify with it
    if (devnull >= 0) dup2(devnull, 0);
    dup2(fds[1], 1);
    dup2(fds[1], 2);
    if (!work_dir.empty() && chdir(work_dir.c_str()) != 0) {
      static const char kMsg[] = "steward: cannot enter the verify's working directory\n";
      (void)!write(2, kMsg, sizeof kMsg - 1);
      _exit(127);
    }
    execve("/bin/sh", const_cast<char**>(argv), envp.data());
    _exit(127);
  }
  setpgid(pid, pid);  // also here, so the group exists before we might signal it
  close(fds[1]);
  if (devnull >= 0) close(devnull);

  VerifyOutcome out;
  LineSink sink(log, &out.tail);
  const auto deadline = SteadyClock::now() + std::chrono::seconds(timeout_seconds);
  std::optional<SteadyClock::time_point> killed_at;
  bool pipe_open = true;
  int status = 0;
  bool exited = false;
  while (!exited) {
    auto now = SteadyClock::now();
    const bool cancelling = cancel != nullptr && cancel->load();
    if (!killed_at && (now >= deadline || cancelling)) {
      (cancelling ? out.cancelled : out.timed_out) = true;
      kill(-pid, SIGTERM);
      killed_at = now;
    } else if (killed_at && now >= *killed_at + kKillGrace) {
      kill(-pid, SIGKILL);
    }
    if (pipe_open) {
      pollfd p{fds[0], POLLIN, 0};
      int r = poll(&p, 1, 100);
      if (r > 0) {
        char buf[8192];
        ssize_t n = read(fds[0], buf, sizeof buf);
        if (n > 0) {
          sink.Add(buf, static_cast<size_t>(n));
        } else if (n == 0 || (errno != EINTR && errno != EAGAIN)) {
          pipe_open = false;
        }
      }
    } else {
      usleep(50'000);
    }
    pid_t w = waitpid(pid, &status, WNOHANG);
    if (w == pid) exited = true;
  }
  // The shell is gone; drain what it wrote, but not forever: a background process it left
  // in the group may hold the pipe open. Those strays die with the group.
  kill(-pid, SIGKILL);
  const auto drain_until = SteadyClock::now() + std::chrono::seconds(1);
  while (pipe_open && SteadyClock::now() < drain_until) {
    pollfd p{fds[0], POLLIN, 0};
    if (poll(&p, 1, 100) <= 0) continue;
    char buf[8192];
    ssize_t n = read(fds[0], buf, sizeof buf);
    if (n > 0) {
      sink.Add(buf, static_cast<size_t>(n));
    } else if (n == 0 || errno != EINTR) {
      pipe_open = false;
    }
  }
  close(fds[0]);
  sink.Finish();
  if (WIFEXITED(status)) {
    out.exit_code = WEXITSTATUS(status);
  } else if (WIFSIGNALED(status)) {
    out.signal = WTERMSIG(status);
  }
  return out;
}

std::string Tail(const std::deque<std::string>& tail) {
  std::string text;
  for (const auto& line : tail) {
    if (!text.empty()) text += "\n";
    text += line;
  }
  return text;
}

std::string VerifyFailure(const VerifyOutcome& v, int timeout_seconds) {
  std::string why;
  if (v.cancelled) {
    why = "verify cancelled (steward is stopping)";
  } else if (v.timed_out) {
    why = "verify timed out after " + std::to_string(timeout_seconds) + " s";
  } else if (v.signal != 0) {
    why = std::string("verify killed by signal ") + strsignal(v.signal);
  } else {
    why = "verify exited " + std::to_string(v.exit_code);
  }
  std::string tail = Tail(v.tail);
  return tail.empty() ? why : why + ": " + tail;
}

}  // namespace

StatusOr<DrillResult> RunDrill(Repository* repo, const DrillSpec& spec, const LogFn& log) {
  if (spec.name.empty()) return InvalidArgument("drill: no service name");
  if (spec.scratch_root.empty()) return InvalidArgument("drill " + spec.name + ": no scratch_root");
  DrillResult result;
  result.service = spec.name;
  result.started_ns = NowUnixNanos();
  ASSIGN_OR_RETURN(auto latest, LatestSnapshot(repo, spec.name));
  // Named references, not a structured binding: clang 14 cannot capture bindings in lambdas.
  const Id& snap_id = latest.first;
  const Snapshot& snap = latest.second;
  result.snapshot = snap_id;
  result.snapshot_time_ns = snap.time_ns;
  // A snapshot from a clock ahead of ours is not "from the future"; its age is none.
  result.rpo_seconds = std::max<double>(0, (result.started_ns - snap.time_ns) / 1e9);

  std::error_code ec;
  fs::create_directories(spec.scratch_root, ec);
  if (ec) return IOError("drill " + spec.name + ": creating " + spec.scratch_root + ": " + ec.message());
  std::string tmpl = (fs::path(spec.scratch_root) / ("drill-" + spec.name + "-XXXXXX")).string();
  if (mkdtemp(tmpl.data()) == nullptr) {
    return ErrnoError("drill " + spec.name + ": making a folder under " + spec.scratch_root, errno);
  }
  const std::string dir = tmpl;
  if (log) log("drill " + spec.name + ": restoring snapshot " + snap_id.Short() + " into " + dir);

  auto run = [&]() -> Status {
    // Shared, like a backup: prune (exclusive) must not delete packs under a running restore.
    ASSIGN_OR_RETURN(auto lock, RepoLock::Acquire(repo->backend(), repo->key(), "drill",
                                                  /*exclusive=*/false));
    const auto restore_start = SteadyClock::now();
    RestoreOptions ro;
    ro.target = dir;
    ro.threads = spec.threads;
    auto restored = RestoreTree(repo, snap.tree, ro);
    result.restore_seconds = SecondsSince(restore_start);
    lock->Release();
    if (!restored.ok()) {
      result.message = "restore failed: " + restored.status().message();
      return Status::OK();
    }
    result.files = restored->files;
    result.bytes = restored->bytes;
    for (const auto& e : restored->errors) {
      if (log) log("drill " + spec.name + ": restore warning: " + e);
    }
    if (log) {
      log(fmt::format("drill {}: restored {} files ({} bytes) in {:.2f} s", spec.name,
                      result.files, result.bytes, result.restore_seconds));
    }
    if (spec.verify.empty()) {
      result.ok = true;
      return Status::OK();
    }
    const auto verify_start = SteadyClock::now();
    std::vector<std::string> env = {"RESTORE_DIR=" + dir, "RESTORE_ROOT=" + dir,
                                    "SNAPSHOT_ID=" + snap_id.Hex(),
                                    "STEWARD_SERVICE=" + spec.name};
    ASSIGN_OR_RETURN(VerifyOutcome v, RunVerify(spec.verify, spec.work_dir, env,
                                                spec.verify_timeout_seconds, spec.cancel, log));
    result.verify_seconds = SecondsSince(verify_start);
    if (!v.timed_out && !v.cancelled && v.signal == 0 && v.exit_code == 0) {
      result.ok = true;
    } else {
      result.message = VerifyFailure(v, spec.verify_timeout_seconds);
    }
    return Status::OK();
  };
  Status st = run();
  result.rto_seconds = result.restore_seconds + result.verify_seconds;
  Status removed = RemoveTree(dir);
  RETURN_IF_ERROR(st.Annotate("drill " + spec.name));
  if (!removed.ok() && log) log("drill " + spec.name + ": " + removed.message());
  if (log) {
    log(fmt::format("drill {}: {} (RTO {:.2f} s, RPO {:.0f} s)", spec.name,
                    result.ok ? "ok" : "FAILED: " + result.message, result.rto_seconds,
                    result.rpo_seconds));
  }
  return result;
}

}  // namespace steward::backup
