// The backfill importer: loads an OpenMetrics text file — the input `promtool tsdb
// create-blocks-from openmetrics` reads: timestamps in seconds (floats) on every sample,
// `# TYPE`/`# HELP` lines, `# EOF` at the end — into a database directory as persisted blocks,
// one per block_duration window aligned like promtool's (2 h by default). Blocks rather than
// head appends, because the head rejects samples older than its newest data.
//
// Contract:
// - All or nothing for bad input: the whole file is parsed and checked before the first block
//   is written, so a malformed line, a sample without a timestamp, or a series whose samples go
//   back in time fails the import naming the 1-based line, and nothing is written.
// - A repeated (series, timestamp) with the same value is skipped; with another value it is an
//   error (Prometheus' "duplicate sample for timestamp").
// - The directory is locked like an open Db (<dir>/lock, flock): an import into the database of
//   a running daemon fails with FailedPrecondition saying so instead of writing under it. A Db
//   opened afterwards loads the new blocks; blocks overlapping existing data are merged by its
//   compaction and de-duplicated by its queriers.
// - Each block is written to "<ulid>.tmp" and renamed when complete (BlockWriter), so a crash
//   leaves whole blocks only. A write error after some blocks (disk full) leaves those blocks:
//   the error says "wrote K of M blocks (ids)". Importing the same file again is then safe —
//   the Db merges overlapping blocks and reads a sample stored twice once.
// - A failed import into a directory that did not exist leaves no directory behind.
// Memory: samples are held XOR-compressed until written (about 1–2 bytes each).
// Thread safety: stateless functions.
#pragma once

#include <cstdint>
#include <functional>
#include <limits>
#include <string>
#include <string_view>
#include <vector>

#include "base/status.h"

namespace steward::tsdb {

struct ImportOptions {
  std::string dir;                                // the database directory; created if missing
  int64_t block_duration_ms = 2LL * 3600 * 1000;  // promtool's --max-block-duration default
  // Samples before this time (unix ms) would be deleted by the retention of the database's
  // owner: when the file has any, the import fails (FailedPrecondition) before writing.
  int64_t retention_horizon_ms = std::numeric_limits<int64_t>::min();
  // Called after each block is written (its id, samples and series), for progress output.
  std::function<void(const std::string& ulid, int64_t samples, int64_t series)> on_block;
};

struct ImportSummary {
  int64_t series = 0;
  int64_t samples = 0;
  int64_t duplicates = 0;  // repeated (series, timestamp, value) skipped
  int64_t min_time = 0;    // unix ms of the oldest and newest sample (0 when empty)
  int64_t max_time = 0;
  std::vector<std::string> blocks;  // ULIDs written, oldest window first
};

// Imports an OpenMetrics text held in memory (tests; `name` labels errors, e.g. the file path).
StatusOr<ImportSummary> ImportOpenMetrics(std::string_view text, const ImportOptions& options,
                                          std::string_view name = "input");
// Imports the file at path (memory-mapped). Errors name the path and the line.
StatusOr<ImportSummary> ImportOpenMetricsFile(const std::string& path,
                                              const ImportOptions& options);

}  // namespace steward::tsdb
