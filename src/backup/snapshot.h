// A snapshot: one backup run's root tree plus what it was of, when and where. Stored as
// sealed JSON under snapshots/, named by the SHA-256 of the stored bytes. JSON keys are in
// docs/formats/backup.md; unknown keys are ignored so newer writers stay readable.
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "backup/types.h"
#include "base/status.h"

namespace steward::backup {

struct SnapshotSummary {
  uint64_t files_new = 0;
  uint64_t files_changed = 0;
  uint64_t files_unmodified = 0;
  uint64_t dirs = 0;
  uint64_t bytes_processed = 0;  // file bytes read (or reused from the parent)
  uint64_t bytes_added = 0;      // bytes of new blobs before compression
  uint64_t bytes_stored = 0;     // bytes those blobs took in packs (compressed, sealed)
  uint64_t blobs_added = 0;
  double seconds = 0;
};

struct Snapshot {
  int64_t time_ns = 0;  // when the backup started, ns since the epoch (UTC)
  std::string host;
  std::string user;
  std::vector<std::string> paths;  // absolute, as given
  std::vector<std::string> tags;
  Id tree;                      // root tree
  std::optional<Id> parent;     // the snapshot whose metadata let unchanged files be skipped
  std::string service;          // the stack service it backs up ("" when run by hand)
  SnapshotSummary summary;
};

// Now, in the unit of Snapshot::time_ns (the wall clock, ns since the epoch).
inline int64_t NowUnixNanos() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

std::string SnapshotToJson(const Snapshot& snapshot);
// kCorruption (with what is wrong) for JSON that is not a snapshot.
StatusOr<Snapshot> SnapshotFromJson(std::string_view json);

}  // namespace steward::backup
