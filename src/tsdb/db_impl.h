// DbImpl: the Db behind tsdb.h — wires the head, the WAL, the blocks, compaction, retention and
// the background thread. Internal to the tsdb room (tests may include it).
//
// Locking: compact_mu_ serialises Compact/FlushHead/retention (the only code that writes
// blocks or truncates the head). read_mu_ guards blocks_ and is held shared by each querier
// call, exclusively while a compaction publishes its result and truncates the head, so a
// query sees every sample exactly once (in a block or in the head, duplicates removed).
#pragma once

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <memory>
#include <mutex>
#include <random>
#include <shared_mutex>
#include <string>
#include <thread>
#include <unordered_map>
#include <vector>

#include "tsdb/block.h"
#include "tsdb/head.h"
#include "tsdb/tsdb.h"
#include "tsdb/wal.h"

namespace steward::tsdb {

struct DbMetrics {
  metrics::Gauge* head_series = nullptr;
  metrics::Counter* samples_appended = nullptr;
  metrics::Counter* out_of_order = nullptr;
  metrics::Counter* write_errors = nullptr;
  metrics::Gauge* blocks = nullptr;
  metrics::Gauge* block_bytes = nullptr;
  metrics::Gauge* wal_bytes = nullptr;
  metrics::Counter* compactions = nullptr;
  metrics::Counter* compaction_failures = nullptr;
  metrics::Counter* retention_deletions = nullptr;
  static DbMetrics Register(metrics::Registry* registry);
};

// Decodes the samples of chunk within [mint, maxt] onto out; false if the chunk is malformed.
bool DecodeChunk(std::string_view chunk, int64_t mint, int64_t maxt, std::vector<Sample>* out);
// Sorts by time and drops later samples with an already seen timestamp (first one wins).
void SortAndDedupe(std::vector<Sample>* samples);
// Encodes ascending samples into XOR chunks of at most kMaxChunkSamples.
std::vector<std::string> EncodeChunks(const std::vector<Sample>& samples);

class DbImpl : public Db {
 public:
  explicit DbImpl(const Options& options);
  ~DbImpl() override;
  Status OpenImpl();

  std::unique_ptr<Appender> NewAppender() override;
  std::unique_ptr<Querier> NewQuerier() override;
  Status Compact() override;
  void SetRetention(Duration retention_time, int64_t retention_bytes) override;
  Status FlushHead() override;
  Stats GetStats() override;
  Status SyncWal() override;
  std::vector<Status> BlockErrors() override;
  Status Close() override;

  // For the appender.
  Head& head() { return *head_; }
  Wal& wal() { return *wal_; }
  int64_t MinValidTime() const;
  Status MaybeSync();
  void CountCommit(int64_t appended, int64_t out_of_order, bool created_series);
  void CountWriteError();

  // For the querier: the blocks overlapping [mint, maxt]; call with read_mu_ held.
  std::vector<std::shared_ptr<Block>> BlocksFor(int64_t mint, int64_t maxt);
  std::shared_mutex& read_mu() { return read_mu_; }

 private:
  friend class DbQuerier;
  Status LockDir();
  Status LoadBlocks();
  Status ReplayWal();
  Status ReplayRecord(RecordType type, std::string_view payload,
                      std::unordered_map<uint64_t, MemSeries*>* refs);
  void BackgroundLoop();
  int64_t NowMs() const;

  // compactor.cc; all with compact_mu_ held.
  Status CompactHeadLocked(bool force);
  StatusOr<std::shared_ptr<Block>> WriteHeadBlock(int64_t mint, int64_t maxt);
  Status TruncateHead(std::shared_ptr<Block> block, int64_t maxt);
  void CheckpointFilter(int64_t mint, RecordType type, std::string_view payload, std::string* out);
  std::vector<std::shared_ptr<Block>> PlanBlockCompaction();
  Status MergeBlocks(const std::vector<std::shared_ptr<Block>>& blocks);
  Status ApplyRetention();
  Status DeleteBlocks(const std::vector<std::shared_ptr<Block>>& doomed);
  void UpdateBlockMetrics();
  std::string NewBlockId();

  Options opts_;  // retention_time and retention_bytes change under compact_mu_ (SetRetention)
  Clock* const clock_;
  const int64_t range_;  // block duration in ms
  DbMetrics metrics_;
  std::unique_ptr<Head> head_;
  std::unique_ptr<Wal> wal_;
  int lock_fd_ = -1;

  std::shared_mutex read_mu_;
  std::vector<std::shared_ptr<Block>> blocks_;  // guarded by read_mu_; ascending min_time
  std::mutex errors_mu_;
  std::vector<Status> block_errors_;
  std::atomic<int64_t> min_valid_time_;

  std::mutex compact_mu_;
  std::mt19937_64 rng_;  // guarded by compact_mu_

  std::atomic<int64_t> samples_appended_{0};
  std::atomic<int64_t> out_of_order_{0};
  std::atomic<int64_t> write_errors_{0};
  std::atomic<int64_t> last_sync_ns_{0};

  std::mutex bg_mu_;
  std::condition_variable bg_cv_;
  bool stopping_ = false;  // guarded by bg_mu_
  std::thread bg_;
  std::atomic<bool> closed_{false};
};

}  // namespace steward::tsdb
