// The embedded time-series database: Prometheus' data model (series = labels, samples =
// (unix-ms timestamp, float64)) stored like Prometheus' TSDB — an in-memory head of
// compressed chunks (delta-of-delta timestamps, XOR floats) protected by a write-ahead log,
// persisted into immutable blocks (chunks + an index with postings per label pair), compacted
// and deleted by retention. docs/formats/tsdb.md specifies every file.
//
// Contract:
// - Durability: Commit() writes the batch to the WAL; the WAL is fsynced at least every
//   Options::wal_sync_interval (1 s), so a kill -9 loses at most that much. Open() replays
//   the WAL: every sample synced before the crash is back, none twice.
// - Appends are in time order per series; an out-of-order or duplicate-timestamp sample is
//   rejected for that series only (Commit reports how many were dropped; the rest land).
//   As in Prometheus, a sample older than the head's newest sample minus block_duration/2, or
//   older than the end of the newest block, is rejected the same way (counted as out of order).
// - A write error (disk full) fails Commit() with IOError, leaves stored data intact and sets
//   the steward_tsdb_write_errors_total metric; appending resumes when the disk has room.
// - Staleness: a sample whose value IsStaleNaN() is stored like any other; readers treat it as
//   the end of the series at that time.
// - Queries see committed samples only, from the head and every block, merged and de-duplicated.
//
// Thread safety: a Db is thread-safe. Appenders are not: each is used by one thread at a time
// (the scraper keeps one per target). Queriers may run concurrently with appends and compaction.
// Appenders and queriers must not outlive their Db.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "base/clock.h"
#include "base/status.h"
#include "metrics/registry.h"
#include "tsdb/labels.h"

namespace re2 {
class RE2;
}

namespace steward::tsdb {

// A series reference returned by Append: pass it back to skip the label lookup (the scraper's
// fast path). 0 means "none yet". Valid for the life of the Db (refs of series that were
// garbage-collected from the head are detected and re-resolved by labels).
using SeriesRef = uint64_t;

struct Sample {
  int64_t t = 0;  // unix milliseconds
  double v = 0;
  bool operator==(const Sample& o) const;  // bitwise on v, so NaN == NaN and StaleNaN differs
};

class Appender {
 public:
  virtual ~Appender() = default;
  // Buffers one sample. With ref != 0 the labels are not looked up (they may be empty);
  // returns the ref to use next time. Fails with InvalidArgument for invalid labels.
  // A ref the head no longer knows (its series went idle and was garbage-collected) is
  // re-resolved by the labels when they are given; with empty labels the call fails with
  // NotFound and buffers nothing, so a caller that keeps refs but not labels (the scraper)
  // rebuilds the labels and appends again.
  virtual StatusOr<SeriesRef> Append(SeriesRef ref, const Labels& labels, int64_t t, double v) = 0;
  struct CommitResult {
    int64_t appended = 0;
    int64_t out_of_order = 0;  // dropped: older than (or equal to) the series' last sample
  };
  // Writes the buffered batch to the WAL and makes it visible to queries. On error nothing of
  // the batch is visible and the appender is empty again.
  virtual StatusOr<CommitResult> Commit() = 0;
  virtual void Rollback() = 0;
};

// One label matcher of a selector: name="v", name!="v", name=~"re", name!~"re". Regexes are
// RE2, fully anchored, as in Prometheus. A matcher that matches "" also matches series without
// the label.
class Matcher {
 public:
  enum class Type { kEqual, kNotEqual, kRegexMatch, kRegexNoMatch };
  // Fails with InvalidArgument (naming the regex and RE2's reason) for a bad regex.
  static StatusOr<Matcher> Make(Type type, std::string name, std::string value);

  Type type() const { return type_; }
  const std::string& name() const { return name_; }
  const std::string& value() const { return value_; }
  bool Matches(std::string_view v) const;
  std::string ToString() const;  // name="value" with the operator

 private:
  Type type_ = Type::kEqual;
  std::string name_;
  std::string value_;
  std::shared_ptr<const re2::RE2> re_;
};

struct Series {
  Labels labels;
  std::vector<Sample> samples;  // ascending t, within the selected range
};

// Read access to everything committed in [mint, maxt] (inclusive, unix ms).
class Querier {
 public:
  virtual ~Querier() = default;
  // Series matching all matchers, sorted by labels, with their samples in range. At least one
  // matcher must not match the empty string (Prometheus' rule), else InvalidArgument.
  // max_samples > 0 bounds the samples loaded (FailedPrecondition when exceeded).
  virtual StatusOr<std::vector<Series>> Select(const std::vector<Matcher>& matchers, int64_t mint,
                                               int64_t maxt, int64_t max_samples = 0) = 0;
  // Labels only (for /api/v1/series): series with at least one sample in range.
  virtual StatusOr<std::vector<Labels>> SeriesLabels(const std::vector<Matcher>& matchers,
                                                     int64_t mint, int64_t maxt) = 0;
  // Sorted, unique. With matchers, only names/values of series that match them.
  virtual StatusOr<std::vector<std::string>> LabelNames(const std::vector<Matcher>& matchers,
                                                        int64_t mint, int64_t maxt) = 0;
  virtual StatusOr<std::vector<std::string>> LabelValues(const std::string& name,
                                                         const std::vector<Matcher>& matchers,
                                                         int64_t mint, int64_t maxt) = 0;
};

struct Options {
  std::string dir;                                              // created if missing
  Duration retention_time = Duration(15LL * 24 * 3600 * 1000);  // 0: keep forever
  int64_t retention_bytes = 0;                                  // blocks + WAL; 0: no size limit
  Duration block_duration = Duration(2LL * 3600 * 1000);        // head is cut into blocks this long
  Duration wal_sync_interval = Duration(1000);
  // Run head compaction, block compaction and retention on a background thread every minute.
  // Off in tests that call Compact() themselves.
  bool background = true;
  Clock* clock = nullptr;  // nullptr: RealClock (retention uses WallNow)
  // nullptr: no metrics exported. The steward_tsdb_* families are registered on Open, so one
  // registry serves one Db.
  metrics::Registry* metrics = nullptr;
};

struct Stats {
  int64_t head_series = 0;
  int64_t head_chunks = 0;
  int64_t head_samples = 0;
  int64_t head_bytes = 0;  // memory held by the head's series, chunks and index (estimate)
  int64_t head_min_time = 0;
  int64_t head_max_time = 0;
  int64_t blocks = 0;
  int64_t block_bytes = 0;  // on disk
  int64_t block_samples = 0;
  int64_t wal_bytes = 0;
  int64_t samples_appended = 0;  // since Open
  int64_t out_of_order = 0;
  int64_t write_errors = 0;
  int64_t corrupt_blocks = 0;  // skipped on Open (see Db::BlockErrors)
};

class Db {
 public:
  virtual ~Db() = default;
  // Opens (or creates) the database in options.dir, replays the WAL, loads blocks. A damaged
  // block is reported (Corruption, naming it) and skipped, never deleted silently.
  static StatusOr<std::unique_ptr<Db>> Open(const Options& options);

  virtual std::unique_ptr<Appender> NewAppender() = 0;
  virtual std::unique_ptr<Querier> NewQuerier() = 0;

  // Cuts head data older than block_duration into a block, merges adjacent blocks, applies
  // retention, truncates the WAL. Safe to call at any time; background mode calls it itself.
  virtual Status Compact() = 0;
  // Forces every head sample into a block now (for shutdown tests and benchmarks).
  virtual Status FlushHead() = 0;
  // New retention limits (as in Options), applied from the next Compact(); the daemon calls it
  // when an apply changes monitoring.retention or retention_size.
  virtual void SetRetention(Duration retention_time, int64_t retention_bytes) = 0;
  // Walks the head to estimate its memory (O(series)): for status pages, not per sample.
  virtual Stats GetStats() = 0;
  // Makes every committed sample durable now (fsyncs the WAL) instead of within
  // wal_sync_interval.
  virtual Status SyncWal() = 0;
  // The damaged blocks Open skipped: Corruption statuses naming each block. Their directories
  // stay on disk for inspection.
  virtual std::vector<Status> BlockErrors() = 0;
  // Syncs the WAL and stops the background thread. Called by the destructor too.
  virtual Status Close() = 0;
};

}  // namespace steward::tsdb
