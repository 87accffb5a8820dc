// The content-addressed job cache and per-run artifacts.
//
// Layout under the cache directory (<state dir>/cache):
//   objects/ab/abcdef...   file contents named by their SHA-256 (hex), written once (temp file +
//                          rename), shared by every entry that has the same bytes
//   entries/12/1234...json one per cache key: the files to restore (relative path, mode, object,
//                          size, or symlink target), the job's output values, created/last-used
// A key is the hex SHA-256 of the job's inputs (KeyBuilder). Lookups touch last_used so prune
// can drop the least recently used first. A kill -9 at any point leaves at worst an orphan
// object or temp file, which prune removes; an entry is only visible once all its objects are.
// A damaged entry or a missing object is a miss (and is reported), never a wrong restore.
// Thread safety: one Cache may be used from many threads and many processes at once.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "base/status.h"

namespace steward::pipeline {

// Paths under root matching the patterns, relative, sorted, files only (a pattern that names a
// directory takes every file below it). Patterns: * and ? within one path segment, ** across
// segments, [abc] classes, a leading ! excludes what earlier patterns matched. Never leaves
// root (.. and absolute patterns are an error).
StatusOr<std::vector<std::string>> Glob(const std::string& root,
                                        const std::vector<std::string>& patterns);

// Builds a cache key: fields are added in a fixed order by the caller, each as name + value,
// so that a changed value and a moved boundary between fields both change the key.
class KeyBuilder {
 public:
  KeyBuilder();
  ~KeyBuilder();
  void Add(std::string_view name, std::string_view value);
  // Adds the paths and SHA-256 of the contents of every file the patterns match under root.
  Status AddFiles(const std::string& root, const std::vector<std::string>& patterns);
  std::string Finish();  // hex SHA-256; the builder may not be used after

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

// Hex SHA-256 of a file's contents (also used by hashFiles()).
StatusOr<std::string> HashFile(const std::string& path);

struct CachedFile {
  std::string path;    // relative to the working copy
  uint32_t mode = 0644;
  std::string object;  // hex SHA-256; empty for a symlink
  int64_t size = 0;
  std::string link;    // symlink target; empty for a regular file
};

struct CacheEntry {
  std::string key;
  std::string job;  // the job instance that stored it, for stats output
  std::vector<CachedFile> files;
  nlohmann::json outputs = nlohmann::json::object();  // the job's output values
  int64_t created_at_ms = 0;
  int64_t last_used_ms = 0;
  int64_t bytes = 0;  // sum of file sizes
};

struct CacheStats {
  int64_t entries = 0;
  int64_t objects = 0;
  int64_t bytes = 0;        // on disk, objects and entries
  int64_t hits = 0;         // since the cache directory was created (kept in stats.json)
  int64_t misses = 0;
  int64_t oldest_used_ms = 0;
  int64_t newest_used_ms = 0;
};

struct PruneOptions {
  int64_t max_bytes = -1;         // drop least recently used entries until under; -1: no limit
  int64_t older_than_ms = -1;     // drop entries not used for this long; -1: no limit
  bool all = false;               // drop everything
  bool dry_run = false;
};

struct PruneResult {
  int64_t entries_removed = 0;
  int64_t objects_removed = 0;
  int64_t bytes_freed = 0;
};

class Cache {
 public:
  static StatusOr<std::unique_ptr<Cache>> Open(const std::string& dir);
  ~Cache();

  // nullopt on a miss (counted). A damaged entry is a miss; its error goes to the log.
  StatusOr<std::optional<CacheEntry>> Lookup(const std::string& key);
  // Writes the entry's files into root (replacing what is there) after checking each object's
  // hash; on any failure nothing is reported restored and the caller runs the job.
  Status Restore(const CacheEntry& entry, const std::string& root);
  // Stores the files matching output_patterns under root and the outputs under key.
  StatusOr<CacheEntry> Store(const std::string& key, const std::string& job,
                             const std::string& root,
                             const std::vector<std::string>& output_patterns,
                             const nlohmann::json& outputs);
  StatusOr<CacheStats> Stats();
  StatusOr<PruneResult> Prune(const PruneOptions& options);

  const std::string& dir() const { return dir_; }

 private:
  explicit Cache(std::string dir);
  std::string dir_;
};

// Artifacts: files a job leaves for later jobs and reruns, copied out of the working copy into
// dest (<state dir>/runs/<run>/artifacts/<job key>/), and back.
StatusOr<std::vector<std::string>> SaveArtifacts(const std::string& root,
                                                 const std::vector<std::string>& patterns,
                                                 const std::string& dest);
Status RestoreArtifacts(const std::string& src, const std::string& root);

}  // namespace steward::pipeline
