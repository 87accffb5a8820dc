// Internal to the repository (repository.cc, repository_pack.cc): the encodings of pack
// headers and index files, and the Repository's mutable state. The formats are specified in
// docs/formats/backup.md; keep the two in step.
#pragma once

#include <condition_variable>
#include <cstdint>
#include <deque>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <thread>
#include <unordered_map>
#include <vector>

#include "backup/repository.h"

namespace steward::backup {

// A pack header entry: type u8, sealed length u32 LE, raw length u32 LE, id (32 bytes).
constexpr size_t kPackHeaderEntrySize = 1 + 4 + 4 + 32;
// Blob payload format byte (the first plaintext byte of every sealed blob).
constexpr uint8_t kBlobRaw = 0;
constexpr uint8_t kBlobZstd = 1;
// An index file is written after this many packs during a backup (and at Flush).
constexpr int kPacksPerIndex = 4;
// Packs are written by this many background threads, so sealing goes on while a pack is
// written and fsynced; SaveBlob waits when this many full packs are already queued.
constexpr int kPackWriters = 2;
constexpr size_t kMaxQueuedPacks = 2;
// Bounds what a damaged or hostile index may make us allocate when decompressing.
constexpr size_t kMaxIndexJson = size_t{4} << 30;

// "data/3f/3fa1…", as messages name a pack.
std::string PackPath(const Id& pack);
// "index/…", "snapshots/…", "keys/…".
std::string FilePath(FileType type, std::string_view name);

// Pack header plaintext for `entries` (in pack order; offsets are implied).
std::string EncodePackHeader(const std::vector<PackEntry>& entries);
// Parses a decrypted header; offsets are recomputed from the lengths and must end at
// `blobs_end` (the offset where the sealed header starts).
Status DecodePackHeader(const Id& pack, std::string_view header, uint64_t blobs_end,
                        std::vector<PackEntry>* out);

// Index JSON: {"packs":[{"id":hex,"blobs":[{"id","type","offset","length","raw_length"}]}]}.
std::string EncodeIndexJson(const std::vector<PackEntry>& entries);
Status DecodeIndexJson(std::string_view json, std::vector<PackEntry>* out);

// A pack being filled (or being written): sealed blobs back to back and their entries.
struct OpenPack {
  std::string data;
  std::vector<PackEntry> entries;  // where.pack is zero until the pack is hashed
};

// Where a blob is, with the pack as a number into State::packs (keeps the index small:
// a repository of 1 TiB in 1 MiB chunks holds a million of these).
struct Slot {
  uint32_t pack;
  uint32_t offset;
  uint32_t length;
  uint32_t raw_length;
};

// A blob saved but whose pack is not written yet: served from memory and deduplicated.
struct InFlight {
  std::shared_ptr<OpenPack> pack;
  uint32_t offset;
  uint32_t length;
  uint32_t raw_length;
};

struct Repository::State {
  std::mutex mu;
  std::vector<Id> packs;  // pack number → id
  std::unordered_map<Id, uint32_t, IdHash> pack_numbers;
  std::unordered_map<Id, Slot, IdHash> index[2];  // by BlobType
  std::vector<PackEntry> extra;                   // further copies of blobs already in `index`
  std::unordered_map<Id, InFlight, IdHash> in_flight[2];
  // By BlobType: trees get packs of their own, so listing and checking snapshots (which
  // read only trees) touch few packs. Null until the first blob after a pack was cut.
  std::shared_ptr<OpenPack> open[2];
  std::vector<PackEntry> unindexed;  // blobs of written packs that no index file names yet
  int packs_since_index = 0;
  // Set when a pack could not be written: blobs whose SaveBlob returned OK are then lost, so
  // every later SaveBlob and Flush fails too and no snapshot can name them.
  Status failed;
  std::vector<std::string> damaged_index;  // index files skipped at Open (RewriteIndex removes)

  // Full packs waiting for a writer thread (their blobs are in flight meanwhile).
  std::deque<std::shared_ptr<OpenPack>> queue;
  int writing = 0;  // packs a writer has taken and not finished
  bool stopping = false;
  std::condition_variable work_cv;   // queue non-empty or stopping
  std::condition_variable done_cv;   // room in the queue, or a pack finished
  std::vector<std::thread> writers;  // started with the first full pack

  // Queues a full pack (mu held); starts the writers on first use.
  void Enqueue(Repository& repo, std::shared_ptr<OpenPack> pack);
  void WriterLoop(Repository& repo);
  // Writes what is queued, then joins the writers (mu not held). The open pack and unindexed
  // entries are left alone: that is the destructor's crash semantics.
  void StopWriters();

  // Adds a written pack's entries to the index (mu held); duplicates go to `extra`.
  void AddToIndex(const std::vector<PackEntry>& entries);
  uint32_t PackNumber(const Id& pack);

  // Seals `pack`'s header onto it, hashes and saves it, then moves its blobs from in-flight
  // to the index and writes an index file every kPacksPerIndex packs. Called without mu.
  static Status WritePack(Repository& repo, std::shared_ptr<OpenPack> pack);
  // Saves an index file naming `entries`; on failure they go back to `unindexed`.
  static Status WriteIndex(Repository& repo, std::vector<PackEntry> entries);
  // Reads, decrypts and verifies one stored copy of a blob.
  static Status LoadStoredBlob(Repository& repo, const Id& id, const BlobLocation& where,
                               std::string* sealed, std::string* plaintext);
  // Sorts `extra` and drops repeats (the same copy named by several index files).
  void DedupeExtra();
  // Loads every index file (a damaged one is skipped into index_warnings_).
  static Status LoadIndex(Repository& repo);
};

}  // namespace steward::backup
