// Check, prune and index rebuilding: the operations that read or rewrite the whole repository.
//
// Check verifies structure (every index file and snapshot decrypts and hashes to its name,
// every tree of every snapshot loads, every blob a tree names is in the index and its pack
// exists) and with read_data the data itself (every pack, or a subset, is read, hashed
// against its name, its header decrypted and compared with the index, and every blob
// decrypted and hashed against its id). Each problem names the file and, for damaged blobs,
// the snapshots and paths that are affected.
//
// Prune (exclusive lock held by the caller) keeps what some snapshot uses: packs wholly unused
// are deleted, packs partly used are repacked when their unused share exceeds max_unused.
// It first removes the temporary files of writes a kill -9 left unfinished.
// Order: new packs, then the new index, then removal of old index files and old packs — a
// kill -9 at any point leaves a repository check passes (at worst with unreferenced packs).
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "backup/repository.h"
#include "base/status.h"

namespace steward::backup {

struct CheckOptions {
  bool read_data = false;
  // With read_data: the share of packs to read, (0, 1]; 1 = all. Packs are chosen at random.
  double subset = 1.0;
  std::function<void(uint64_t done, uint64_t total)> progress;
};

struct CheckProblem {
  std::string kind;     // "pack", "index", "snapshot", "tree", "blob"
  std::string file;     // e.g. "data/3f/3fa1…", "snapshots/9c2e…"
  std::string message;  // what is wrong
  std::vector<std::string> affected;  // "snapshot 9c2e41ab /srv/db/base/1/1259"
};

struct CheckReport {
  uint64_t packs = 0, packs_read = 0, bytes_read = 0;
  uint64_t index_files = 0, snapshots = 0, trees = 0, blobs = 0;
  uint64_t unreferenced_packs = 0;  // not an error: left by killed backups; prune removes
  std::vector<CheckProblem> problems;
  bool ok() const { return problems.empty(); }
};

StatusOr<CheckReport> Check(Repository* repo, const CheckOptions& options);

struct PruneOptions {
  bool dry_run = false;
  double max_unused = 0.05;  // repack a pack when more than this share of it is unused
  std::function<void(std::string_view phase, uint64_t done, uint64_t total)> progress;
};

struct PruneReport {
  uint64_t unfinished_files = 0, unfinished_bytes = 0;  // left by killed writes, removed
  uint64_t packs_deleted = 0, packs_repacked = 0, packs_kept = 0;
  uint64_t blobs_deleted = 0, blobs_repacked = 0;
  uint64_t bytes_freed = 0, bytes_before = 0, bytes_after = 0;
};

StatusOr<PruneReport> Prune(Repository* repo, const PruneOptions& options);

// Rebuilds the index from the pack headers (after index files were lost or damaged).
StatusOr<uint64_t> RebuildIndex(Repository* repo);
// The same, adding to *skipped one line per pack whose header is damaged ("data/3f/3fa1…:
// authentication failed"); such packs are left in place, unindexed.
StatusOr<uint64_t> RebuildIndex(Repository* repo, std::vector<std::string>* skipped);

}  // namespace steward::backup
