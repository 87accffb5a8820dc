// The repository: config, keys, pack files, index and snapshots over a Backend.
//
// Layout (docs/formats/backup.md):
//   config              sealed JSON: version, repository id, chunker params, compression
//   keys/<id>           JSON: Argon2id params + salt, and the master key sealed under the
//                       password-derived key (several keys = several passwords)
//   data/<xx>/<id>      packs: sealed blobs back to back, then a sealed header, then its length
//   index/<id>          sealed zstd JSON: which blob is in which pack at which offset
//   snapshots/<id>      sealed JSON (snapshot.h)
//   locks/<id>          sealed JSON (lock.h)
// Every file is named by the SHA-256 of its stored bytes and never modified; only prune
// deletes. A blob's id is the SHA-256 of its plaintext; sealed as 1 byte of format (0 raw,
// 1 zstd) followed by the payload.
//
// Crash safety: packs are written before the index that names them; an index file is written
// every few packs during a backup (so a killed backup's packs are reused by the next run) and
// at Flush. A pack no index names is unused space that prune removes; a blob named by two
// index files is fine (either copy serves).
//
// Thread safety: SaveBlob/LoadBlob/HasBlob may be called from many threads at once; Flush,
// snapshot and key calls are for one thread at a time.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "backup/backend.h"
#include "backup/chunker.h"
#include "backup/crypto.h"
#include "backup/snapshot.h"
#include "backup/types.h"
#include "base/status.h"

namespace steward::backup {

// What the archiver and the tree walker need from a repository; tests use an in-memory one.
class BlobStore {
 public:
  virtual ~BlobStore() = default;
  // Stores `plaintext` under its SHA-256 unless a blob with that id is stored or in flight.
  // *added (when given) tells whether new bytes were written; *stored the bytes they took.
  virtual StatusOr<Id> SaveBlob(BlobType type, std::string_view plaintext, bool* added = nullptr,
                                uint64_t* stored = nullptr) = 0;
  // kNotFound for an unknown id; kCorruption when the stored bytes do not decrypt or do not
  // hash to `id` (the message names the pack).
  virtual Status LoadBlob(BlobType type, const Id& id, std::string* plaintext) = 0;
  virtual bool HasBlob(BlobType type, const Id& id) = 0;
  virtual const Chunker& chunker() const = 0;
};

struct RepoConfig {
  int version = 1;
  std::string id;  // 64 hex digits, random
  ChunkerParams chunker;
  // zstd level; 0 = store raw. 2, not zstd's usual 3: on the benchmark's mixed data it stores
  // the same bytes (within 0.1%) for ~17% less CPU (docs/benchmarks.md "Backups").
  int compression = 2;
  uint32_t pack_size = 16u << 20;  // a pack is written when it reaches this many bytes
};

struct InitOptions {
  RepoConfig config;  // id and chunker seed are filled in randomly
  KdfParams kdf;      // salt filled in randomly
};

// Where a blob is stored.
struct BlobLocation {
  Id pack;
  BlobType type = BlobType::kData;
  uint32_t offset = 0;
  uint32_t length = 0;      // sealed length in the pack
  uint32_t raw_length = 0;  // plaintext length
};

struct PackEntry {
  Id id;
  BlobLocation where;
};

struct RepoStats {
  uint64_t packs = 0, pack_bytes = 0;
  uint64_t blobs = 0, data_blobs = 0, tree_blobs = 0;
  uint64_t raw_bytes = 0;  // plaintext bytes of all blobs
  uint64_t index_files = 0, snapshots = 0;
};

class Repository : public BlobStore {
 public:
  // Creates a repository in an empty backend; kAlreadyExists when there is a config.
  static StatusOr<std::unique_ptr<Repository>> Init(std::unique_ptr<Backend> backend,
                                                    std::string_view password,
                                                    const InitOptions& options);
  // Opens with a password (tries every key file); a wrong one is kInvalidArgument
  // "wrong password: no key in <location>/keys opens with it"; loads config and the index.
  // A damaged index file is skipped with a warning kept in index_warnings() (check reports it).
  static StatusOr<std::unique_ptr<Repository>> Open(std::unique_ptr<Backend> backend,
                                                    std::string_view password);
  ~Repository() override;

  // BlobStore
  StatusOr<Id> SaveBlob(BlobType type, std::string_view plaintext, bool* added = nullptr,
                        uint64_t* stored = nullptr) override;
  Status LoadBlob(BlobType type, const Id& id, std::string* plaintext) override;
  bool HasBlob(BlobType type, const Id& id) override;
  const Chunker& chunker() const override { return *chunker_; }

  // Writes the open packs and an index file for everything saved since the last one.
  Status Flush();

  // Snapshots.
  StatusOr<Id> SaveSnapshot(const Snapshot& snapshot);
  StatusOr<Snapshot> LoadSnapshot(const Id& id);
  // All snapshots, oldest first; unreadable ones fail the call naming the file.
  StatusOr<std::vector<std::pair<Id, Snapshot>>> ListSnapshots();
  // "latest" (optionally of `host`/`paths` via the filter) or a unique hex prefix (≥ 4 digits).
  StatusOr<Id> FindSnapshot(std::string_view ref);
  Status RemoveSnapshot(const Id& id);

  // Keys: adds a key file for another password; lists key file names.
  StatusOr<std::string> AddKey(std::string_view password, const KdfParams& kdf);

  // The index as loaded (pack → entries), for check, prune and stats.
  std::vector<PackEntry> IndexEntries() const;
  const std::vector<std::string>& index_files() const { return index_files_; }
  const std::vector<std::string>& index_warnings() const { return index_warnings_; }
  // Reads a pack's header (entries at their offsets) straight from the pack file.
  StatusOr<std::vector<PackEntry>> ReadPackHeader(const Id& pack);
  // Replaces all index files by one built from `entries` (prune, rebuild-index): writes the
  // new file first, then removes the old ones.
  Status RewriteIndex(const std::vector<PackEntry>& entries);
  StatusOr<RepoStats> Stats();

  Backend* backend() { return backend_.get(); }
  const Key& key() const { return master_; }
  const RepoConfig& config() const { return config_; }

 private:
  Repository() = default;
  struct State;  // index, open packer, pending entries (guarded by a mutex)
  std::unique_ptr<Backend> backend_;
  Key master_{};
  RepoConfig config_;
  std::unique_ptr<Chunker> chunker_;
  std::unique_ptr<State> state_;
  std::vector<std::string> index_files_;
  std::vector<std::string> index_warnings_;
};

}  // namespace steward::backup
