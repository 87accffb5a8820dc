// Blocks: the immutable, persisted part of the database. A block is a directory named by a
// time-sortable id (ULID) holding meta.json, an index file and chunks/NNNNNN files of XOR
// chunks, each chunk with a CRC32C. BlockWriter builds one in "<id>.tmp" and renames it into
// place only when every file is written and synced, so a crash leaves either nothing or a
// complete block. Block opens one, verifying meta and index (Corruption names the block);
// chunk checksums are verified as chunks are read.
//
// Thread safety: Block is immutable after Open and safe to share (shared_ptr keeps its maps
// alive while a reader uses it, even after compaction deleted the directory). BlockWriter
// belongs to one thread.
#pragma once

#include <cstdint>
#include <memory>
#include <random>
#include <string>
#include <string_view>
#include <vector>

#include "base/status.h"
#include "tsdb/file_util.h"
#include "tsdb/index_format.h"
#include "tsdb/labels.h"

namespace steward::tsdb {

struct BlockMeta {
  std::string ulid;
  int64_t min_time = 0;  // inclusive, unix ms
  int64_t max_time = 0;  // exclusive
  int64_t num_samples = 0;
  int64_t num_series = 0;
  int64_t num_chunks = 0;
  int level = 1;                     // 1: cut from the head; +1 per compaction
  std::vector<std::string> sources;  // level-1 blocks this one holds the data of
  std::vector<std::string> parents;  // blocks merged into this one (deleted after)

  std::string ToJson() const;
  static StatusOr<BlockMeta> FromJson(std::string_view json);
};

// A 26-character Crockford base32 ULID: 48 bits of unix ms, then 80 random bits.
std::string NewUlid(int64_t unix_ms, std::mt19937_64& rng);
bool LooksLikeUlid(std::string_view name);

class Block {
 public:
  static StatusOr<std::shared_ptr<Block>> Open(const std::string& dir);

  const BlockMeta& meta() const { return meta_; }
  const std::string& dir() const { return dir_; }
  int64_t size_bytes() const { return size_bytes_; }
  IndexReader& index() const { return *index_; }
  bool Overlaps(int64_t mint, int64_t maxt) const {  // [mint, maxt] inclusive
    return meta_.min_time <= maxt && meta_.max_time > mint;
  }

  // The chunk's bytes after checking its CRC (Corruption naming the block otherwise).
  StatusOr<std::string_view> Chunk(uint64_t ref) const;

 private:
  Block() = default;
  std::string dir_;
  BlockMeta meta_;
  std::shared_ptr<IndexReader> index_;
  std::vector<std::shared_ptr<MappedFile>> chunk_files_;  // [0] is chunks/000001
  int64_t size_bytes_ = 0;
};

struct ChunkData {
  int64_t mint = 0;
  int64_t maxt = 0;
  std::string_view bytes;  // an XOR chunk
};

class BlockWriter {
 public:
  // Writes into db_dir/<meta.ulid>.tmp until Commit renames it to db_dir/<meta.ulid>.
  BlockWriter(std::string db_dir, BlockMeta meta);
  ~BlockWriter();  // removes the temporary directory unless committed

  Status Start();
  // Ascending label order; chunks ascending, non-overlapping, inside [min_time, max_time).
  Status AddSeries(const Labels& labels, const std::vector<ChunkData>& chunks);
  // Writes index and meta.json, syncs, renames. Returns the final meta (stats filled).
  StatusOr<BlockMeta> Commit();
  bool empty() const { return meta_.num_series == 0; }

 private:
  Status WriteChunk(const ChunkData& c, uint64_t* ref);
  Status OpenChunkFile();

  const std::string db_dir_;
  BlockMeta meta_;
  std::string tmp_dir_;
  IndexWriter index_;
  FileWriter chunks_;
  uint32_t chunk_file_ = 0;
  bool committed_ = false;
};

}  // namespace steward::tsdb
