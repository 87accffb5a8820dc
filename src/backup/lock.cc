// Locks as files: a holder writes a sealed JSON file under locks/, lists the others, and
// backs off on conflict. Two lockers that race both see each other (each lists after its own
// write, so the later lister sees the earlier writer): at worst both back off, never both
// win. A lock file is never rewritten (the backend is create-once): a refresh writes a new
// file with the new time and then removes the old one.
#include "backup/lock.h"

#include <pwd.h>
#include <signal.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <condition_variable>
#include <ctime>
#include <mutex>
#include <nlohmann/json.hpp>
#include <thread>

#include "backup/backend.h"
#include "backup/json_fields.h"
#include "base/json.h"

namespace steward::backup {

namespace {

using nlohmann::json;

std::atomic<int64_t> refresh_interval_ms{
    std::chrono::duration_cast<std::chrono::milliseconds>(kRefreshInterval).count()};

std::string HostName() {
  char host[256] = {};
  if (gethostname(host, sizeof host - 1) != 0) return "unknown";
  return host;
}

std::string UserName() {
  struct passwd pw, *result = nullptr;
  char buf[1024];
  if (getpwuid_r(geteuid(), &pw, buf, sizeof buf, &result) == 0 && result != nullptr)
    return result->pw_name;
  return std::to_string(geteuid());
}

int64_t NowUnix() { return static_cast<int64_t>(time(nullptr)); }

// Writes a lock file stamped `now`; returns its name.
StatusOr<std::string> WriteLock(Backend* backend, const Key& key, const std::string& command,
                                bool exclusive, int64_t now) {
  json j = {{"host", HostName()}, {"user", UserName()}, {"pid", static_cast<int>(getpid())},
            {"command", command}, {"time", now},        {"exclusive", exclusive}};
  std::string sealed;
  Seal(key, JsonText(j), &sealed);
  std::string name = Sha256(sealed).Hex();
  RETURN_IF_ERROR(backend->Save(FileType::kLock, name, sealed).Annotate("write lock"));
  return name;
}

bool ProcessGone(int pid) { return pid <= 0 || (kill(pid, 0) != 0 && errno == ESRCH); }

StatusOr<std::vector<LockInfo>> ListLocksAt(Backend* backend, const Key& key, int64_t now) {
  std::vector<std::string> names;
  RETURN_IF_ERROR(backend->List(
      FileType::kLock, [&](std::string_view name, uint64_t) { names.emplace_back(name); }));
  const std::string host = HostName();
  const int64_t stale_after = std::chrono::seconds(kStaleAfter).count();
  std::vector<LockInfo> locks;
  for (const std::string& name : names) {
    std::string sealed, plain;
    Status st = backend->Load(FileType::kLock, name, &sealed);
    if (st.code() == StatusCode::kNotFound) continue;  // released (or refreshed) meanwhile
    RETURN_IF_ERROR(st);
    LockInfo info;
    info.name = name;
    info.stale = true;  // until it decrypts and parses
    if (Open(key, sealed, &plain).ok()) {
      json j = json::parse(plain, nullptr, /*allow_exceptions=*/false);
      try {
        if (j.is_object()) {
          info.time_unix = JsonIntAt<int64_t>(j, "time");
          info.host = j.value("host", "");
          info.user = j.value("user", "");
          info.command = j.value("command", "");
          info.pid = JsonIntOr<int>(j, "pid", 0);
          info.exclusive = j.value("exclusive", false);
          info.stale =
              now - info.time_unix > stale_after || (info.host == host && ProcessGone(info.pid));
        }
      } catch (const json::exception&) {
        info.stale = true;  // a damaged lock holds nothing
      }
    }
    locks.push_back(std::move(info));
  }
  return locks;
}

std::string Age(int64_t seconds) {
  if (seconds < 60) return std::to_string(seconds < 0 ? 0 : seconds) + " s ago";
  if (seconds < 2 * 3600) return std::to_string(seconds / 60) + " min ago";
  return std::to_string(seconds / 3600) + " h ago";
}

std::string Describe(const LockInfo& holder, int64_t now) {
  return std::string(holder.exclusive ? "repository is locked exclusively by "
                                      : "repository is locked by ") +
         (holder.command.empty() ? "a steward" : holder.command) + " on host " + holder.host +
         " (pid " + std::to_string(holder.pid) + ", user " + holder.user + ", " +
         Age(now - holder.time_unix) +
         "); if that process is gone, `steward backup unlock` "
         "removes stale locks";
}

}  // namespace

void SetLockRefreshIntervalForTesting(std::chrono::milliseconds interval) {
  refresh_interval_ms = interval.count();
}

struct RepoLock::Impl {
  Backend* backend = nullptr;
  Key key{};
  std::string command;
  bool exclusive = false;

  std::mutex mu;
  std::condition_variable wake;
  bool stopping = false;  // guarded by mu
  std::string name;       // the current lock file; written only by the refresher after start
  std::thread refresher;

  void Refresh() {
    std::unique_lock<std::mutex> lock(mu);
    for (;;) {
      const auto interval = std::chrono::milliseconds(refresh_interval_ms.load());
      if (wake.wait_for(lock, interval, [&] { return stopping; })) return;
      lock.unlock();
      // New file first: if writing fails, the old one still holds the lock until it is stale.
      auto fresh = WriteLock(backend, key, command, exclusive, NowUnix());
      if (fresh.ok()) {
        backend->Remove(FileType::kLock, name).IgnoreError();
        name = *fresh;
      }
      lock.lock();
    }
  }
};

StatusOr<std::unique_ptr<RepoLock>> RepoLock::Acquire(Backend* backend, const Key& key,
                                                      std::string command, bool exclusive) {
  RETURN_IF_ERROR(InitCrypto());
  const int64_t now = NowUnix();
  ASSIGN_OR_RETURN(std::string ours, WriteLock(backend, key, command, exclusive, now));
  auto others = ListLocksAt(backend, key, now);
  if (!others.ok()) {
    backend->Remove(FileType::kLock, ours).IgnoreError();
    return others.status().Annotate("lock " + backend->Location());
  }
  for (const LockInfo& other : *others) {
    if (other.name == ours || other.stale) continue;
    if (exclusive || other.exclusive) {
      backend->Remove(FileType::kLock, ours).IgnoreError();
      return Aborted(Describe(other, now));
    }
  }
  if (exclusive)  // nobody else can be working: stale locks are leftovers of crashed runs
    for (const LockInfo& other : *others)
      if (other.stale) backend->Remove(FileType::kLock, other.name).IgnoreError();

  std::unique_ptr<RepoLock> lock(new RepoLock());
  lock->impl_ = std::make_unique<Impl>();
  Impl& impl = *lock->impl_;
  impl.backend = backend;
  impl.key = key;
  impl.command = std::move(command);
  impl.exclusive = exclusive;
  impl.name = std::move(ours);
  impl.refresher = std::thread([&impl] { impl.Refresh(); });
  return lock;
}

RepoLock::~RepoLock() { Release(); }

void RepoLock::Release() {
  if (!impl_ || !impl_->refresher.joinable()) return;
  {
    std::lock_guard<std::mutex> lock(impl_->mu);
    impl_->stopping = true;
  }
  impl_->wake.notify_all();
  impl_->refresher.join();
  impl_->backend->Remove(FileType::kLock, impl_->name).IgnoreError();
}

StatusOr<std::vector<LockInfo>> ListLocks(Backend* backend, const Key& key) {
  RETURN_IF_ERROR(InitCrypto());
  return ListLocksAt(backend, key, NowUnix());
}

StatusOr<int> RemoveLocks(Backend* backend, const Key& key, bool all) {
  ASSIGN_OR_RETURN(std::vector<LockInfo> locks, ListLocks(backend, key));
  int removed = 0;
  for (const LockInfo& lock : locks) {
    if (!all && !lock.stale) continue;
    Status st = backend->Remove(FileType::kLock, lock.name);
    if (st.ok())
      ++removed;
    else if (st.code() != StatusCode::kNotFound)
      return st.Annotate("unlock");
  }
  return removed;
}

}  // namespace steward::backup
