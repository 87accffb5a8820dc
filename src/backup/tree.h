// Trees: a directory listing stored as a blob (BlobType::kTree), JSON, nodes sorted by name.
// A file node lists the content ids of its chunks in order; a directory node names its
// subtree. Encoding is deterministic (same nodes → same bytes → same id), so an unchanged
// directory deduplicates to the same tree blob across snapshots.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "backup/types.h"
#include "base/status.h"

namespace steward::backup {

class BlobStore;

enum class NodeType { kFile, kDir, kSymlink, kDevice, kCharDevice, kFifo, kSocket };

struct Node {
  std::string name;  // one path component; any bytes but '/' and NUL (stored base64 if not UTF-8)
  NodeType type = NodeType::kFile;
  uint32_t mode = 0;  // permission bits incl. setuid/setgid/sticky (st_mode & 07777)
  uint32_t uid = 0, gid = 0;
  std::string user, group;  // names, when known, for restoring on another machine
  int64_t mtime_ns = 0, atime_ns = 0, ctime_ns = 0;
  uint64_t size = 0;        // files: length in bytes
  uint64_t inode = 0, device_id = 0;  // for hardlinks and change detection
  uint64_t links = 1;       // st_nlink; > 1 for files means hardlinks may exist
  uint64_t rdev = 0;        // device nodes
  std::string link_target;  // symlinks
  std::vector<Id> content;  // files: chunk ids, in order
  std::optional<Id> subtree;  // directories
  std::vector<std::pair<std::string, std::string>> xattrs;  // name → raw value
};

struct Tree {
  std::vector<Node> nodes;  // sorted by name, names unique
};

std::string_view NodeTypeName(NodeType type);  // "file", "dir", "symlink", "dev", "chardev"…

// Deterministic JSON (sorted nodes, fixed key order). Sorts a copy if needed.
std::string EncodeTree(const Tree& tree);
// kCorruption for bytes that are not a valid tree (bad JSON, a name with '/', duplicates…).
StatusOr<Tree> DecodeTree(std::string_view bytes);

// Loads and decodes a tree blob.
StatusOr<Tree> LoadTree(BlobStore* store, const Id& id);

// Visits every node under `root` depth-first in name order; `path` is "/a/b" relative to the
// snapshot root. Stops at and returns the first error (of loading, or a non-OK from fn).
Status WalkTree(BlobStore* store, const Id& root,
                const std::function<Status(const std::string& path, const Node& node)>& fn);

}  // namespace steward::backup
