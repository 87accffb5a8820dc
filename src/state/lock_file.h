// The state lock: an exclusive flock(2) on <state dir>/state.lock whose content names the holder.
//
// flock is tied to the open file description, so the kernel releases it when the holder exits
// for any reason, kill -9 included; there is no stale lock to clean up. Two opens of the file
// conflict even inside one process. The content ("key=value" lines, see docs/formats/state.md)
// is only informational: whether the lock is held is decided by flock alone, never by the text,
// so the text a killed holder leaves behind is harmless and is overwritten by the next holder.
// Thread safety: the functions are thread-safe; a held lock is released when its object dies.
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "base/clock.h"
#include "base/status.h"
#include "state/state_store.h"

namespace steward::state {

// Takes the lock on `path` (created mode 0600 if missing) and records `holder` in it. With a
// zero timeout a held lock fails at once; otherwise it polls every 50 ms until
// clock->Now() passes the deadline. Both failures are kFailedPrecondition naming the holder.
StatusOr<std::unique_ptr<Lock>> AcquireFileLock(const std::string& path, const LockHolder& holder,
                                                Duration timeout, Clock* clock);

// The holder of the lock on `path`, or nullopt when nobody holds it. Probes with a shared
// flock that is dropped at once. A holder that has not written its record yet is returned
// with pid 0.
StatusOr<std::optional<LockHolder>> ReadFileLockHolder(const std::string& path);

// The lock file's content, and back. Parse returns nullopt unless a positive pid is present.
std::string FormatLockHolder(const LockHolder& holder);
std::optional<LockHolder> ParseLockHolder(std::string_view text);

}  // namespace steward::state
