// A real repository in a temp dir for tests: fast key derivation, small chunks and small packs
// (so a few files spread over many packs), and snapshots built from in-memory file sets
// through the repository itself (chunker, SaveBlob, EncodeTree, SaveSnapshot).
#pragma once

#include <gtest/gtest.h>
#include <stdlib.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <map>
#include <memory>
#include <random>
#include <sstream>
#include <string>
#include <vector>

#include "backup/backend.h"
#include "backup/repository.h"
#include "backup/tree.h"
#include "unit/state/temp_dir.h"

namespace steward::backup::testing {

using state::testing::TempDir;

inline constexpr char kPassword[] = "correct horse battery staple";


// Incompressible bytes, the same for the same seed.
inline std::string RandomContent(size_t n, uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::string s(n, '\0');
  for (size_t i = 0; i < n; i += 8) {
    uint64_t v = rng();
    for (size_t j = 0; j < 8 && i + j < n; ++j) s[i + j] = char(v >> (8 * j));
  }
  return s;
}

inline InitOptions SmallRepoOptions(uint32_t pack_size = 16u << 10) {
  InitOptions o;
  o.kdf.ops = 1;
  o.kdf.mem = 8192;
  o.config.chunker.min_size = 512;
  o.config.chunker.avg_size = 2048;
  o.config.chunker.max_size = 8192;
  o.config.pack_size = pack_size;
  return o;
}

// Path ("/srv/db/t") → content.
using Files = std::map<std::string, std::string>;

// Stores `content` in chunks (the repository's chunker) and returns their ids.
inline std::vector<Id> SaveContent(Repository* repo, const std::string& content) {
  std::vector<Id> ids;
  size_t pos = 0;
  while (pos < content.size()) {
    size_t n = repo->chunker().NextCut(reinterpret_cast<const uint8_t*>(content.data()) + pos,
                                       content.size() - pos, /*eof=*/true);
    auto id = repo->SaveBlob(BlobType::kData, std::string_view(content).substr(pos, n));
    EXPECT_TRUE(id.ok()) << id.status().ToString();
    if (!id.ok()) return ids;
    ids.push_back(*id);
    pos += n;
  }
  return ids;
}

struct DirBuild {
  std::map<std::string, DirBuild> dirs;
  std::map<std::string, const std::string*> files;
};

inline Id SaveDir(Repository* repo, const DirBuild& dir) {
  Tree tree;
  for (const auto& [name, sub] : dir.dirs) {
    Node n;
    n.name = name;
    n.type = NodeType::kDir;
    n.mode = 0755;
    n.subtree = SaveDir(repo, sub);
    tree.nodes.push_back(std::move(n));
  }
  for (const auto& [name, content] : dir.files) {
    Node n;
    n.name = name;
    n.mode = 0644;
    n.size = content->size();
    n.content = SaveContent(repo, *content);
    tree.nodes.push_back(std::move(n));
  }
  auto id = repo->SaveBlob(BlobType::kTree, EncodeTree(tree));
  EXPECT_TRUE(id.ok()) << id.status().ToString();
  return id.ok() ? *id : Id{};
}

// Backs up `files` as one snapshot (flushed) and returns its id.
inline Id AddSnapshot(Repository* repo, const Files& files, int64_t time_ns = 1) {
  DirBuild root;
  for (const auto& [path, content] : files) {
    DirBuild* dir = &root;
    std::string rest = path.substr(1);
    for (size_t slash; (slash = rest.find('/')) != std::string::npos; rest = rest.substr(slash + 1))
      dir = &dir->dirs[rest.substr(0, slash)];
    dir->files[rest] = &content;
  }
  Snapshot snap;
  snap.time_ns = time_ns;
  snap.host = "testhost";
  snap.paths = {"/"};
  snap.tree = SaveDir(repo, root);
  Status st = repo->Flush();
  EXPECT_TRUE(st.ok()) << st.ToString();
  auto id = repo->SaveSnapshot(snap);
  EXPECT_TRUE(id.ok()) << id.status().ToString();
  return id.ok() ? *id : Id{};
}

// Every file of the snapshot's tree, loaded back through the repository.
inline StatusOr<Files> ReadSnapshot(Repository* repo, const Id& snapshot) {
  ASSIGN_OR_RETURN(Snapshot snap, repo->LoadSnapshot(snapshot));
  Files files;
  std::string chunk;
  RETURN_IF_ERROR(WalkTree(repo, snap.tree, [&](const std::string& path, const Node& node) {
    if (node.type != NodeType::kFile) return Status::OK();
    std::string& content = files[path];
    for (const Id& id : node.content) {
      RETURN_IF_ERROR(repo->LoadBlob(BlobType::kData, id, &chunk).Annotate(path));
      content += chunk;
    }
    return Status::OK();
  }));
  return files;
}

inline StatusOr<std::unique_ptr<Repository>> CreateRepo(const std::string& dir,
                                                        const InitOptions& options) {
  LocalBackendOptions create;
  create.create = true;
  ASSIGN_OR_RETURN(auto backend, OpenLocalBackend(dir, create));
  return Repository::Init(std::move(backend), kPassword, options);
}

inline StatusOr<std::unique_ptr<Repository>> OpenRepo(const std::string& dir) {
  ASSIGN_OR_RETURN(auto backend, OpenLocalBackend(dir, LocalBackendOptions{}));
  return Repository::Open(std::move(backend), kPassword);
}

inline std::string ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// Rewrites a stored file in place with one bit flipped at `offset` (files may be read-only).
inline void FlipByte(const std::string& path, size_t offset) {
  std::string bytes = ReadFile(path);
  ASSERT_LT(offset, bytes.size()) << path;
  bytes[offset] ^= 0x01;
  std::filesystem::permissions(path, std::filesystem::perms::owner_write,
                               std::filesystem::perm_options::add);
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out << bytes;
}

// The files of one folder of the repository ("index", "snapshots"; "data" descends).
inline std::vector<std::string> RepoFiles(const std::string& dir, const std::string& sub) {
  std::vector<std::string> out;
  std::error_code ec;
  for (auto it = std::filesystem::recursive_directory_iterator(dir + "/" + sub, ec);
       !ec && it != std::filesystem::recursive_directory_iterator(); it.increment(ec)) {
    std::string name = it->path().filename();
    if (it->is_regular_file() && name.size() == 64) out.push_back(it->path());
  }
  std::sort(out.begin(), out.end());
  return out;
}

inline std::string PackFile(const std::string& dir, const Id& pack) {
  return dir + "/data/" + pack.Hex().substr(0, 2) + "/" + pack.Hex();
}

}  // namespace steward::backup::testing
