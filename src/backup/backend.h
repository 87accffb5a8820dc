// Where a repository's files live. A Backend stores named, immutable files in a few folders
// (one per FileType); the local-directory backend is the first, and the interface is what an
// S3-compatible or SFTP backend implements next (no rename, no append, no partial overwrite
// is assumed: Save is create-once, Load may read a range).
//
// Contract:
//  - Save is atomic and durable: after it returns OK the whole file is there and survives a
//    crash (local: write to a temp name, fsync, rename, fsync the folder); after a crash
//    before that, no file of that name exists (temp files are ignored by List and removed by
//    RemoveTemporaries). Saving a name that exists fails with kAlreadyExists and leaves the
//    file untouched. A full disk is kIOError "…: No space left on device" and leaves nothing.
//  - Load of a missing file is kNotFound; a short file read with a range past its end is
//    kCorruption.
//  - Remove fails with kFailedPrecondition when the backend is append-only (locks excepted,
//    which an append-only client must still be able to remove).
// Thread safety: all methods may be called from several threads at once.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>

#include "base/status.h"

namespace steward::backup {

enum class FileType { kConfig, kKey, kData, kIndex, kSnapshot, kLock };

// The folder name of a type ("keys", "data", "index", "snapshots", "locks"; "" for config).
std::string_view FileTypeDir(FileType type);

// Files left by writes that never finished (see Backend::RemoveUnfinished).
struct UnfinishedWrites {
  uint64_t files = 0, bytes = 0;
};

class Backend {
 public:
  virtual ~Backend() = default;

  // "local:/path" — for messages.
  virtual std::string Location() const = 0;

  virtual Status Save(FileType type, std::string_view name, std::string_view data) = 0;
  // Reads `length` bytes at `offset` (length 0 = to the end).
  virtual Status Load(FileType type, std::string_view name, std::string* out,
                      uint64_t offset = 0, uint64_t length = 0) = 0;
  virtual Status Size(FileType type, std::string_view name, uint64_t* size) = 0;
  virtual Status Remove(FileType type, std::string_view name) = 0;
  // Calls fn(name, size) for each file of `type`, in no particular order.
  virtual Status List(FileType type,
                      const std::function<void(std::string_view name, uint64_t size)>& fn) = 0;
  virtual bool Exists(FileType type, std::string_view name) = 0;
  // Removes what writes left unfinished — a process killed between writing a file and putting
  // it in place leaves the temporary file behind, invisible to List — or with dry_run only
  // counts it. Call with the repository locked exclusively, so that no write is under way.
  // A backend without such files has nothing to do.
  virtual StatusOr<UnfinishedWrites> RemoveUnfinished(bool dry_run) {
    (void)dry_run;
    return UnfinishedWrites{};
  }
};

struct LocalBackendOptions {
  bool append_only = false;  // Remove refuses everything but locks
  bool create = false;       // make the folders (init); otherwise the folder must be a repo
};

// Opens (or with create, makes) a repository folder. Errors name the path: "…: not a steward
// backup repository (no config file)" when the folder exists without one.
StatusOr<std::unique_ptr<Backend>> OpenLocalBackend(const std::string& path,
                                                    const LocalBackendOptions& options);

// Resolves a --repo / STEWARD_REPOSITORY value ("/path", "local:/path"; "s3:…" and "sftp:…"
// give kInvalidArgument "backend … is not supported yet" until those exist).
StatusOr<std::unique_ptr<Backend>> OpenBackend(const std::string& location,
                                               const LocalBackendOptions& options);

}  // namespace steward::backup
