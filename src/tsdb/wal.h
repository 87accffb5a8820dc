// The write-ahead log: numbered segment files (wal/00000000, wal/00000001, ...) of framed
// records — type (1 byte), payload length (4 bytes LE), CRC32C of type and payload (4 bytes LE),
// payload — and at most one checkpoint directory (wal/checkpoint.NNNNNNNN) holding the still
// needed records of every segment up to NNNNNNNN. docs/formats/tsdb.md has the details.
//
// Contract: Log() writes whole records with one write(2); if it fails, the segment is cut back
// to its previous length (or abandoned for a new segment), so a failed write never leaves
// garbage between good records. Replay() reads the checkpoint and later segments in order and
// repairs torn tails (truncating at the first bad record of a segment). Sync() makes everything
// logged so far durable. Checkpoint() rewrites the closed segments through a filter.
//
// Thread safety: Log, Sync, SizeBytes and Checkpoint may run concurrently; Replay must finish
// before the first Log.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>

#include "base/status.h"
#include "tsdb/wal_records.h"

namespace steward::tsdb {

inline constexpr size_t kRecordHeaderBytes = 9;
inline constexpr int64_t kDefaultSegmentBytes = 32LL << 20;

// Reserves a record header in buf and returns where the record starts; append the payload,
// then call FinishRecord with that offset to fill in length and CRC.
size_t BeginRecord(std::string* buf, RecordType type);
void FinishRecord(std::string* buf, size_t start);

class Wal {
 public:
  using RecordFn = std::function<Status(RecordType type, std::string_view payload)>;
  // Appends to `out` the framed records (zero or more) to keep for one old record.
  using FilterFn = std::function<void(RecordType type, std::string_view payload, std::string* out)>;

  struct ReplayStats {
    int64_t records = 0;
    int64_t segments = 0;
    int64_t repaired_bytes = 0;  // bytes cut from torn or damaged segment tails
  };

  static StatusOr<std::unique_ptr<Wal>> Open(const std::string& dir,
                                             int64_t segment_bytes = kDefaultSegmentBytes);
  ~Wal();

  // Calls fn for every record of the checkpoint and the segments after it, then starts a new
  // segment for writing. Stops at the first error fn returns.
  Status Replay(const RecordFn& fn, ReplayStats* stats);
  // Appends one or more complete framed records.
  Status Log(std::string_view records);
  Status Sync();
  // Writes a checkpoint of every segment before the current one through `filter`, then
  // deletes those segments and the previous checkpoint.
  Status Checkpoint(const FilterFn& filter);
  int64_t SizeBytes() const;
  const std::string& dir() const { return dir_; }

 private:
  struct Segment;
  Wal(std::string dir, int64_t segment_bytes)
      : dir_(std::move(dir)), segment_bytes_(segment_bytes) {}
  Status CutSegmentLocked();
  std::string SegmentPath(int64_t index) const;
  StatusOr<int64_t> LatestCheckpoint(std::vector<std::string>* names) const;
  Status ReadSegment(const std::string& path, bool repair, const RecordFn& fn, ReplayStats* stats);
  Status WriteCheckpoint(int64_t last, int64_t previous, const FilterFn& filter);

  const std::string dir_;
  const int64_t segment_bytes_;
  mutable std::mutex mu_;
  std::shared_ptr<Segment> current_;  // guarded by mu_
  int64_t next_index_ = 0;            // guarded by mu_
  uint64_t written_ = 0;              // guarded by mu_: bytes logged since Open
  uint64_t synced_ = 0;               // guarded by mu_
  std::mutex checkpoint_mu_;
};

}  // namespace steward::tsdb
