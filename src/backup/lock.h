// Repository locks. Backups take a shared lock, prune and forget an exclusive one; several
// shared holders may coexist (concurrent backups from several clients), an exclusive holder
// excludes everyone. A lock is a small encrypted JSON file under locks/ (host, pid, user,
// time, exclusive) that its holder refreshes every kRefreshInterval.
//
// Staleness: a lock is stale when it was not refreshed for kStaleAfter, or when it names this
// host and a pid that no longer runs. Stale locks are ignored (and removed by
// `steward backup unlock`, or by an exclusive locker). Taking a lock: write ours, then list
// the others; on conflict remove ours and fail with kAborted naming the holder
// ("repository is locked exclusively by prune on host h (pid 12, 3 min ago)").
// Thread safety: a RepoLock refreshes itself on its own thread; Release is idempotent.
#pragma once

#include <chrono>
#include <memory>
#include <string>
#include <vector>

#include "backup/crypto.h"
#include "base/status.h"

namespace steward::backup {

class Backend;

constexpr std::chrono::minutes kRefreshInterval{5};
constexpr std::chrono::minutes kStaleAfter{30};

struct LockInfo {
  std::string name;  // file name under locks/
  std::string host;
  std::string user;
  std::string command;  // "backup", "prune"…
  int pid = 0;
  int64_t time_unix = 0;  // last refresh
  bool exclusive = false;
  bool stale = false;
};

class RepoLock {
 public:
  // Takes a lock (shared or exclusive) or fails with kAborted naming the conflicting holder.
  static StatusOr<std::unique_ptr<RepoLock>> Acquire(Backend* backend, const Key& key,
                                                     std::string command, bool exclusive);
  ~RepoLock();  // Release()
  void Release();

 private:
  RepoLock() = default;
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

// Every lock file, decrypted and with `stale` computed; unreadable ones are reported stale.
StatusOr<std::vector<LockInfo>> ListLocks(Backend* backend, const Key& key);
// Removes stale locks (all locks with `all`); returns how many.
StatusOr<int> RemoveLocks(Backend* backend, const Key& key, bool all);

// Tests only: how often RepoLocks refresh (kRefreshInterval unless a test changes it).
void SetLockRefreshIntervalForTesting(std::chrono::milliseconds interval);

}  // namespace steward::backup
