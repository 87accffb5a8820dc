// The archiver: file trees in, snapshots' trees out, and back.
//
// Backup walks the given paths (absolute; the snapshot mirrors them from "/", so backing up
// /srv/db gives a root tree "srv" → "db"), reads files through the repository's chunker and
// saves chunks and trees as blobs. With a parent tree, a file whose size, mtime, ctime and
// inode are unchanged reuses the parent's content ids without being read. It records modes,
// owners, times, symlinks, hardlinks (inode + link count), device nodes, fifos, xattrs where
// the file system has them, and reads sparse files through their holes (zero chunks dedupe to
// one blob). Files that vanish or cannot be read are reported in `errors` and skipped; the
// backup still completes (the summary says how many).
//
// Restore writes a tree under a target folder. It never replaces an existing file unless
// `overwrite`; restores all-zero chunks as holes (sparse files stay sparse); recreates
// hardlinks among restored files; sets modes, owners (when root), times and xattrs after the
// content; directories' times last. Content is verified (blob ids) as it is read.
//
// Thread safety: each call uses `threads` workers internally; the BlobStore must be
// thread-safe for SaveBlob/LoadBlob.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "backup/repository.h"
#include "backup/snapshot.h"
#include "backup/types.h"
#include "base/status.h"

namespace steward::backup {

struct Progress {
  uint64_t files = 0, dirs = 0, bytes = 0;     // done so far
  uint64_t total_files = 0, total_bytes = 0;   // when known (0 = unknown)
  std::string current;                         // a path being worked on
};

struct BackupOptions {
  std::vector<std::string> paths;     // absolute or relative to the cwd; made absolute
  std::vector<std::string> excludes;  // glob patterns: "*.tmp", "/srv/db/pg_wal", "cache/"
  std::optional<Id> parent_tree;      // the parent snapshot's root tree
  int threads = 2;
  bool one_file_system = false;
  std::function<void(const Progress&)> progress;  // called at most ~10 times a second
};

struct BackupResult {
  Id tree;
  SnapshotSummary summary;
  std::vector<std::string> errors;  // "read /srv/x: Permission denied" — skipped, not fatal
};

// Fails only when nothing can be backed up (a path does not exist) or the store fails.
StatusOr<BackupResult> BackupPaths(BlobStore* store, const BackupOptions& options);

struct RestoreOptions {
  std::string target;                 // created if missing
  std::vector<std::string> includes;  // snapshot paths ("/srv/db") to restore; empty = all
  bool overwrite = false;
  bool verify = true;                 // hash every chunk read (LoadBlob does; cost is small)
  bool direct_io = true;              // large files written with O_DIRECT where the file system can
  int threads = 2;
  std::function<void(const Progress&)> progress;
};

struct RestoreResult {
  uint64_t files = 0, dirs = 0, bytes = 0, links = 0;
  std::vector<std::string> errors;  // e.g. "chown …: Operation not permitted" — not fatal
};

// kAlreadyExists naming the first existing file when !overwrite (before anything is written).
StatusOr<RestoreResult> RestoreTree(BlobStore* store, const Id& tree, const RestoreOptions& options);

// In-memory BlobStore (tests, fuzzing): thread-safe, no encryption.
std::unique_ptr<BlobStore> NewMemoryBlobStore(const ChunkerParams& params);

}  // namespace steward::backup
