// Check, prune and rebuild-index. See maintenance.h for the contract.
//
// Check and prune read packs themselves (one whole-file read per pack) instead of calling
// LoadBlob per blob: read-data must hash the pack file anyway, and one read is far cheaper
// than one range read per blob. Prune copies the sealed bytes of the blobs it keeps verbatim
// into new packs (after verifying them), so repacking neither recompresses nor re-encrypts,
// and it writes those packs itself because Repository::SaveBlob would deduplicate them
// against the very index entries that are about to go away.
#include "backup/maintenance.h"

#include <algorithm>
#include <atomic>
#include <cmath>
#include <mutex>
#include <random>
#include <thread>
#include <unordered_map>
#include <unordered_set>

#include "backup/repository_format.h"
#include "backup/tree.h"

namespace steward::backup {
namespace {

using IdSet = std::unordered_set<Id, IdHash>;
template <typename V>
using IdMap = std::unordered_map<Id, V, IdHash>;

std::string_view BlobTypeName(BlobType type) { return type == BlobType::kTree ? "tree" : "data"; }

bool SameEntry(const PackEntry& a, const PackEntry& b) {
  return a.id == b.id && a.where.type == b.where.type && a.where.offset == b.where.offset &&
         a.where.length == b.where.length && a.where.raw_length == b.where.raw_length;
}
bool EntryLess(const PackEntry& a, const PackEntry& b) {
  if (a.where.offset != b.where.offset) return a.where.offset < b.where.offset;
  if (a.id != b.id) return a.id < b.id;
  return a.where.length < b.where.length;
}
// Sorted by offset, exact duplicates (one pack named by two index files) removed.
void SortUnique(std::vector<PackEntry>* entries) {
  std::sort(entries->begin(), entries->end(), EntryLess);
  entries->erase(std::unique(entries->begin(), entries->end(), SameEntry), entries->end());
}

// The index grouped by pack.
IdMap<std::vector<PackEntry>> EntriesByPack(const std::vector<PackEntry>& entries) {
  IdMap<std::vector<PackEntry>> by_pack;
  for (const PackEntry& e : entries) by_pack[e.where.pack].push_back(e);
  for (auto& [pack, list] : by_pack) SortUnique(&list);
  return by_pack;
}

// Every pack file with its size.
StatusOr<IdMap<uint64_t>> ListPacks(Backend* backend) {
  IdMap<uint64_t> packs;
  Status st = backend->List(FileType::kData, [&](std::string_view name, uint64_t size) {
    if (auto id = Id::FromHex(name)) packs[*id] = size;
  });
  if (!st.ok()) return st.Annotate("list packs");
  return packs;
}

// A blob as stored in a pack: Seal(key, format byte || payload) (kBlobRaw or kBlobZstd).
// Decrypts, decompresses and checks the plaintext against the blob's id; the buffers are the
// caller's so that a loop over many blobs allocates once.
Status VerifyBlob(const Key& key, std::string_view sealed, const PackEntry& e, std::string* scratch,
                  std::string* unzipped) {
  RETURN_IF_ERROR(Open(key, sealed, scratch));
  if (scratch->empty()) return Corruption("empty blob");
  std::string_view plain = std::string_view(*scratch).substr(1);
  switch (uint8_t((*scratch)[0])) {
    case kBlobRaw:
      break;
    case kBlobZstd:
      RETURN_IF_ERROR(Decompress(plain, e.where.raw_length, unzipped));
      plain = *unzipped;
      break;
    default:
      return Corruption("unknown blob format " + std::to_string(uint8_t((*scratch)[0])));
  }
  if (plain.size() != e.where.raw_length)
    return Corruption("decodes to " + std::to_string(plain.size()) + " bytes, the index says " +
                      std::to_string(e.where.raw_length));
  if (Sha256(plain) != e.id) return Corruption("content does not hash to the blob's id");
  return Status::OK();
}

// The sealed bytes of `e` inside a whole pack's bytes, or kCorruption when out of range.
StatusOr<std::string_view> SealedBytes(std::string_view pack, const PackEntry& e) {
  if (uint64_t(e.where.offset) + e.where.length > pack.size())
    return Corruption("blob " + e.id.Short() + " at offset " + std::to_string(e.where.offset) +
                      " + " + std::to_string(e.where.length) + " lies past the pack's end (" +
                      std::to_string(pack.size()) + " bytes)");
  return pack.substr(e.where.offset, e.where.length);
}

// The header of a pack already read whole: the same as Repository::ReadPackHeader without
// reading the pack's tail a second time. Layout: blobs, sealed header, its length (u32 LE).
StatusOr<std::vector<PackEntry>> ParsePackHeader(const Key& key, const Id& pack,
                                                 std::string_view data) {
  if (data.size() < 4 + kSealOverhead)
    return Corruption(std::to_string(data.size()) + " bytes is too short for a pack");
  const auto* tail = reinterpret_cast<const uint8_t*>(data.data() + data.size() - 4);
  uint64_t sealed_len = tail[0] | tail[1] << 8 | tail[2] << 16 | uint32_t(tail[3]) << 24;
  if (sealed_len < kSealOverhead || sealed_len > data.size() - 4)
    return Corruption("header length " + std::to_string(sealed_len) + " does not fit a " +
                      std::to_string(data.size()) + "-byte pack");
  uint64_t blobs_end = data.size() - 4 - sealed_len;
  std::string header;
  if (!Open(key, data.substr(blobs_end, sealed_len), &header).ok())
    return Corruption("header does not decrypt (the pack is damaged)");
  std::vector<PackEntry> entries;
  RETURN_IF_ERROR(DecodePackHeader(pack, header, blobs_end, &entries));
  return entries;
}

// Visits every tree reachable from `roots` once (shared subtrees once), depth-first. fn gets
// the tree id and the loaded tree, or the error loading it; it returns false to stop.
template <typename Fn>
void ForEachTree(Repository* repo, const std::vector<Id>& roots, IdSet* seen, Fn&& fn) {
  std::vector<Id> stack(roots.rbegin(), roots.rend());
  while (!stack.empty()) {
    Id id = stack.back();
    stack.pop_back();
    if (!seen->insert(id).second) continue;
    StatusOr<Tree> tree = LoadTree(repo, id);
    if (!fn(id, tree)) return;
    if (!tree.ok()) continue;
    for (auto it = tree->nodes.rbegin(); it != tree->nodes.rend(); ++it)
      if (it->type == NodeType::kDir && it->subtree) stack.push_back(*it->subtree);
  }
}

// ---------------------------------------------------------------------------------------------
// Check

constexpr size_t kMaxAffected = 200;  // per problem; the rest is summed up in one line

class Checker {
 public:
  Checker(Repository* repo, const CheckOptions& options) : repo_(repo), options_(options) {}

  StatusOr<CheckReport> Run() {
    RETURN_IF_ERROR(CheckIndexFiles());
    RETURN_IF_ERROR(CheckSnapshotFiles());
    RETURN_IF_ERROR(CheckPacksExist());
    CheckTrees();
    if (options_.read_data) ReadData();
    FillAffected();
    return std::move(report_);
  }

 private:
  // Adds a problem; `damaged` are blob ids whose users are listed in `affected` at the end.
  void AddProblem(std::string kind, std::string file, std::string message,
                  const std::vector<Id>& damaged = {}) {
    size_t index = report_.problems.size();
    report_.problems.push_back({std::move(kind), std::move(file), std::move(message), {}});
    overflow_.push_back(0);
    for (const Id& id : damaged) damaged_[id].push_back(index);
  }

  Status CheckIndexFiles() {
    std::vector<std::string> names;
    RETURN_IF_ERROR(repo_->backend()
                        ->List(FileType::kIndex,
                               [&](std::string_view name, uint64_t) { names.emplace_back(name); })
                        .Annotate("list index files"));
    report_.index_files = names.size();
    IdSet reported;
    for (const std::string& name : names) {
      auto id = Id::FromHex(name);
      if (!id) continue;  // not ours (the backend hides temporaries already)
      std::string message = CheckFile(FileType::kIndex, *id, /*decrypt=*/true);
      if (message.empty()) continue;
      reported.insert(*id);
      AddProblem("index", FilePath(FileType::kIndex, name), message);
    }
    // The repository skipped damaged index files on open; report those not found above
    // (for example a file that vanished since).
    for (const std::string& warning : repo_->index_warnings()) {
      auto named = std::find_if(names.begin(), names.end(), [&](const std::string& name) {
        return warning.find(name) != std::string::npos;
      });
      if (named != names.end() && reported.count(*Id::FromHex(*named))) continue;
      AddProblem("index", named != names.end() ? FilePath(FileType::kIndex, *named) : "", warning);
    }
    return Status::OK();
  }

  // Loads a file and checks that its stored bytes hash to its name (and with `decrypt` that
  // they authenticate); returns what is wrong or "".
  std::string CheckFile(FileType type, const Id& id, bool decrypt) {
    std::string bytes, plain;
    Status st = repo_->backend()->Load(type, id.Hex(), &bytes);
    if (!st.ok()) return "cannot be read: " + st.message();
    if (Sha256(bytes) != id) return "damaged: its contents do not hash to its name";
    if (decrypt && !Open(repo_->key(), bytes, &plain).ok())
      return "damaged: it does not decrypt (authentication failed)";
    return "";
  }

  Status CheckSnapshotFiles() {
    std::vector<Id> ids;
    RETURN_IF_ERROR(repo_->backend()
                        ->List(FileType::kSnapshot,
                               [&](std::string_view name, uint64_t) {
                                 if (auto id = Id::FromHex(name)) ids.push_back(*id);
                               })
                        .Annotate("list snapshots"));
    std::sort(ids.begin(), ids.end());
    report_.snapshots = ids.size();
    for (const Id& id : ids) {
      std::string file = FilePath(FileType::kSnapshot, id.Hex());
      std::string message = CheckFile(FileType::kSnapshot, id, /*decrypt=*/false);
      if (!message.empty()) {
        AddProblem("snapshot", file, message);
        continue;
      }
      StatusOr<Snapshot> snap = repo_->LoadSnapshot(id);
      if (!snap.ok()) {
        AddProblem("snapshot", file, "cannot be loaded: " + snap.status().message());
        continue;
      }
      snapshots_.emplace_back(id, std::move(*snap));
    }
    return Status::OK();
  }

  Status CheckPacksExist() {
    entries_ = repo_->IndexEntries();
    by_pack_ = EntriesByPack(entries_);
    ASSIGN_OR_RETURN(packs_, ListPacks(repo_->backend()));
    report_.packs = packs_.size();
    for (const PackEntry& e : entries_) {
      present_.insert(e.id);
      // A blob is stored when one of its copies is in a pack that exists.
      if (packs_.count(e.where.pack)) stored_.insert(e.id);
    }
    report_.blobs = present_.size();
    for (const auto& [pack, size] : packs_)
      if (!by_pack_.count(pack)) report_.unreferenced_packs++;
    std::vector<Id> missing;
    for (const auto& [pack, list] : by_pack_) {
      auto file = packs_.find(pack);
      if (file == packs_.end())
        missing.push_back(pack);
      else
        CheckPackSize(pack, file->second, list);
    }
    std::sort(missing.begin(), missing.end());
    for (const Id& pack : missing) {
      std::vector<Id> lost;
      for (const PackEntry& e : by_pack_[pack])
        if (!stored_.count(e.id)) lost.push_back(e.id);
      AddProblem("pack", PackPath(pack),
                 "missing: the index names it (" + std::to_string(by_pack_[pack].size()) +
                     " blobs) but there is no such file",
                 lost);
    }
    return Status::OK();
  }

  // A pack shorter than its index entries say was cut off (a disk or a copy gone wrong);
  // found from the listing alone, without reading data.
  void CheckPackSize(const Id& pack, uint64_t size, const std::vector<PackEntry>& entries) {
    std::vector<Id> cut;
    uint64_t end = 0;
    for (const PackEntry& e : entries) {
      uint64_t blob_end = uint64_t(e.where.offset) + e.where.length;
      end = std::max(end, blob_end);
      if (blob_end + 4 > size) cut.push_back(e.id);  // 4: the header length at the end
    }
    if (cut.empty()) return;
    AddProblem("pack", PackPath(pack),
               "truncated: the index places blobs up to byte " + std::to_string(end) +
                   " but the file has " + std::to_string(size) + " bytes",
               cut);
  }

  // Every tree of every snapshot loads, and every blob it names is in the index and in a pack
  // that exists. Each tree is checked once however many snapshots share it.
  void CheckTrees() {
    IdSet seen_trees, seen_blobs;
    for (const auto& entry : snapshots_) {  // not a binding: clang 14 cannot capture those
      const Id& snap_id = entry.first;
      const Snapshot& snap = entry.second;
      ForEachTree(repo_, {snap.tree}, &seen_trees, [&](const Id& id, const StatusOr<Tree>& tree) {
        report_.trees++;
        if (damaged_.count(id)) return true;  // its pack is missing: reported already
        if (!present_.count(id)) {
          AddProblem(
              "tree", "",
              "tree " + id.Hex() + " (of snapshot " + snap_id.Short() + ") is not in the index",
              {id});
          return true;
        }
        if (!tree.ok()) {
          AddProblem("tree", LocationOf(id), "tree " + id.Hex() + ": " + tree.status().message(),
                     {id});
          return true;
        }
        for (const Node& node : tree->nodes) {
          for (const Id& blob : node.content) {
            if (!seen_blobs.insert(blob).second || present_.count(blob)) continue;
            AddProblem("blob", "", "data blob " + blob.Hex() + " is not in the index", {blob});
          }
        }
        return true;
      });
    }
  }

  std::string LocationOf(const Id& blob) const {
    for (const PackEntry& e : entries_)
      if (e.id == blob) return PackPath(e.where.pack);
    return "";
  }

  // Reads the chosen packs on a few threads; problems are merged under a mutex.
  void ReadData() {
    std::vector<Id> todo;
    for (const auto& [pack, list] : by_pack_)
      if (packs_.count(pack)) todo.push_back(pack);
    std::sort(todo.begin(), todo.end());
    if (options_.subset < 1.0 && !todo.empty()) {
      std::mt19937_64 rng(std::random_device{}());
      std::shuffle(todo.begin(), todo.end(), rng);
      size_t n = size_t(std::ceil(std::max(options_.subset, 0.0) * double(todo.size())));
      todo.resize(std::clamp<size_t>(n, 1, todo.size()));
    }
    const uint64_t total = todo.size();
    std::atomic<size_t> next{0};
    uint64_t done = 0;
    std::mutex mu;
    auto worker = [&] {
      std::string data, scratch, plain;
      for (size_t i = next++; i < todo.size(); i = next++) {
        std::vector<CheckProblem> found;
        std::vector<std::vector<Id>> damaged;
        uint64_t bytes = ReadPack(todo[i], &data, &scratch, &plain, &found, &damaged);
        std::lock_guard<std::mutex> lock(mu);
        report_.packs_read++;
        report_.bytes_read += bytes;
        for (size_t p = 0; p < found.size(); ++p)
          AddProblem(std::move(found[p].kind), std::move(found[p].file),
                     std::move(found[p].message), damaged[p]);
        ++done;
        if (options_.progress) options_.progress(done, total);
      }
    };
    size_t threads = std::clamp<size_t>(std::thread::hardware_concurrency(), 1, 4);
    threads = std::min<size_t>(threads, todo.size());
    std::vector<std::thread> pool;
    for (size_t t = 1; t < threads; ++t) pool.emplace_back(worker);
    worker();
    for (std::thread& t : pool) t.join();
  }

  // Checks one pack: its bytes against its name, its header against the index, every blob
  // against its id. Thread-safe (reads shared state only). Returns the bytes read.
  uint64_t ReadPack(const Id& pack, std::string* data, std::string* scratch, std::string* plain,
                    std::vector<CheckProblem>* found, std::vector<std::vector<Id>>* damaged) {
    const std::string file = PackPath(pack);
    auto add = [&](std::string kind, std::string message, std::vector<Id> ids = {}) {
      found->push_back({std::move(kind), file, std::move(message), {}});
      damaged->push_back(std::move(ids));
    };
    data->clear();
    Status st = repo_->backend()->Load(FileType::kData, pack.Hex(), data);
    if (!st.ok()) {
      std::vector<Id> ids;
      for (const PackEntry& e : by_pack_.at(pack)) ids.push_back(e.id);
      add("pack", "cannot be read: " + st.message(), ids);
      return 0;
    }
    const std::vector<PackEntry>& indexed = by_pack_.at(pack);
    std::vector<PackEntry> blobs = indexed;
    StatusOr<std::vector<PackEntry>> header = ParsePackHeader(repo_->key(), pack, *data);
    if (!header.ok()) {
      add("pack", "header is damaged: " + header.status().message());
    } else {
      std::vector<PackEntry> listed = *header;
      SortUnique(&listed);
      CompareHeader(listed, indexed, add);
      blobs.insert(blobs.end(), listed.begin(), listed.end());
      SortUnique(&blobs);
    }
    std::vector<Id> bad;
    for (const PackEntry& e : blobs) {
      StatusOr<std::string_view> sealed = SealedBytes(*data, e);
      Status blob_st =
          sealed.ok() ? VerifyBlob(repo_->key(), *sealed, e, scratch, plain) : sealed.status();
      if (blob_st.ok()) continue;
      bad.push_back(e.id);
      add("blob",
          std::string(BlobTypeName(e.where.type)) + " blob " + e.id.Hex() + " at offset " +
              std::to_string(e.where.offset) + ": " + blob_st.message(),
          {e.id});
    }
    if (Sha256(*data) != pack)
      add("pack", "damaged: its contents do not hash to its name", std::move(bad));
    return data->size();
  }

  template <typename Add>
  static void CompareHeader(const std::vector<PackEntry>& header,
                            const std::vector<PackEntry>& indexed, Add& add) {
    auto contains = [](const std::vector<PackEntry>& list, const PackEntry& e) {
      auto it = std::lower_bound(list.begin(), list.end(), e, EntryLess);
      return it != list.end() && SameEntry(*it, e);
    };
    for (const PackEntry& e : indexed)
      if (!contains(header, e))
        add("pack", "the index places " + std::string(BlobTypeName(e.where.type)) + " blob " +
                        e.id.Hex() + " at offset " + std::to_string(e.where.offset) +
                        " but the pack header does not");
    for (const PackEntry& e : header)
      if (!contains(indexed, e))
        add("pack", "the pack header lists blob " + e.id.Hex() + " at offset " +
                        std::to_string(e.where.offset) + " but the index does not");
  }

  // For every damaged blob, every file and directory of every snapshot that uses it. Walks
  // only subtrees that contain a damaged blob (found once per tree and remembered).
  void FillAffected() {
    if (damaged_.empty()) return;
    for (const auto& [snap_id, snap] : snapshots_) {
      std::string prefix = "snapshot " + snap_id.Short() + " ";
      if (damaged_.count(snap.tree)) Affect(snap.tree, prefix + "/");
      if (Dirty(snap.tree, 0)) Visit(snap.tree, prefix, "", 0);
    }
    for (size_t i = 0; i < report_.problems.size(); ++i)
      if (overflow_[i] > 0)
        report_.problems[i].affected.push_back("… and " + std::to_string(overflow_[i]) + " more");
  }

  void Affect(const Id& blob, const std::string& what) {
    for (size_t index : damaged_.at(blob)) {
      std::vector<std::string>& affected = report_.problems[index].affected;
      if (!affected.empty() && affected.back() == what) continue;  // a file with a chunk twice
      if (affected.size() >= kMaxAffected)
        overflow_[index]++;
      else
        affected.push_back(what);
    }
  }

  // Whether the tree `id` or anything under it is damaged. Dirty trees are kept for Visit.
  bool Dirty(const Id& id, int depth) {
    if (auto it = dirty_.find(id); it != dirty_.end()) return it->second;
    if (damaged_.count(id)) return dirty_[id] = true;
    StatusOr<Tree> tree = LoadTree(repo_, id);
    if (!tree.ok() || depth > 4096) return dirty_[id] = false;  // reported as a tree problem
    bool dirty = false;
    for (const Node& node : tree->nodes) {
      for (const Id& blob : node.content) dirty = dirty || damaged_.count(blob) > 0;
      if (node.type == NodeType::kDir && node.subtree)
        dirty = Dirty(*node.subtree, depth + 1) || dirty;
    }
    if (dirty) dirty_trees_.emplace(id, std::move(*tree));
    return dirty_[id] = dirty;
  }

  void Visit(const Id& id, const std::string& prefix, const std::string& path, int depth) {
    auto it = dirty_trees_.find(id);
    if (it == dirty_trees_.end() || depth > 4096) return;
    for (const Node& node : it->second.nodes) {
      std::string child = path + "/" + node.name;
      for (const Id& blob : node.content)
        if (damaged_.count(blob)) Affect(blob, prefix + child);
      if (node.type != NodeType::kDir || !node.subtree) continue;
      if (damaged_.count(*node.subtree)) Affect(*node.subtree, prefix + child);
      if (dirty_.count(*node.subtree) && dirty_[*node.subtree])
        Visit(*node.subtree, prefix, child, depth + 1);
    }
  }

  Repository* repo_;
  const CheckOptions& options_;
  CheckReport report_;
  std::vector<size_t> overflow_;  // per problem: affected entries beyond kMaxAffected
  std::vector<std::pair<Id, Snapshot>> snapshots_;  // those that loaded
  std::vector<PackEntry> entries_;
  IdMap<std::vector<PackEntry>> by_pack_;
  IdMap<uint64_t> packs_;               // pack files that exist, with sizes
  IdSet present_;                       // blobs the index names
  IdSet stored_;                        // blobs with a copy in a pack that exists
  IdMap<std::vector<size_t>> damaged_;  // blob → problems it is part of
  IdMap<bool> dirty_;
  IdMap<Tree> dirty_trees_;
};

// ---------------------------------------------------------------------------------------------
// Prune

// One indexed pack that exists, and what prune does with it.
struct PackPlan {
  Id id;
  uint64_t size = 0;                          // of the file
  std::vector<PackEntry> entries;             // the index's, deduplicated, in pack order
  std::vector<PackEntry> keep;                // the used blobs whose one kept copy is here
  uint64_t used_bytes = 0, unused_bytes = 0;  // sealed lengths
  size_t used_count = 0;                      // entries some snapshot uses (before choosing homes)
};

// Every blob some snapshot uses: the trees and their files' chunks. Fails when a snapshot or
// a tree cannot be read, since prune would then take what it uses for unused.
StatusOr<IdSet> UsedBlobs(Repository* repo) {
  StatusOr<std::vector<std::pair<Id, Snapshot>>> snapshots = repo->ListSnapshots();
  if (!snapshots.ok())
    return FailedPrecondition("prune: " + snapshots.status().message() +
                              "; prune deletes nothing while a snapshot cannot be read (run "
                              "check, then remove the damaged snapshot)");
  std::vector<Id> roots;
  for (const auto& [id, snap] : *snapshots) roots.push_back(snap.tree);
  IdSet trees, used;
  Status failed;
  ForEachTree(repo, roots, &trees, [&](const Id& id, const StatusOr<Tree>& tree) {
    if (!tree.ok()) {
      failed = tree.status();
      return false;
    }
    used.insert(id);
    for (const Node& node : tree->nodes) used.insert(node.content.begin(), node.content.end());
    return true;
  });
  if (!failed.ok())
    return FailedPrecondition("prune: " + failed.message() +
                              "; prune deletes nothing while a tree cannot be read (run check)");
  return used;
}

// Chooses for every used blob the one copy that stays: in the pack with the largest used share
// (so mostly-used packs are kept whole and duplicates elsewhere count as unused).
Status ChooseHomes(const IdSet& used, std::vector<PackPlan>* plans) {
  for (PackPlan& p : *plans)
    for (const PackEntry& e : p.entries) p.used_count += used.count(e.id);
  std::sort(plans->begin(), plans->end(), [](const PackPlan& a, const PackPlan& b) {
    // a.used/a.n > b.used/b.n, without division
    uint64_t l = uint64_t(a.used_count) * b.entries.size();
    uint64_t r = uint64_t(b.used_count) * a.entries.size();
    return l != r ? l > r : a.id < b.id;
  });
  IdSet homed;
  for (PackPlan& p : *plans) {
    for (const PackEntry& e : p.entries) {
      if (used.count(e.id) && homed.insert(e.id).second) {
        p.keep.push_back(e);
        p.used_bytes += e.where.length;
      } else {
        p.unused_bytes += e.where.length;
      }
    }
  }
  if (homed.size() == used.size()) return Status::OK();
  for (const Id& id : used)
    if (!homed.count(id))
      return FailedPrecondition("prune: blob " + id.Hex() +
                                " that a snapshot uses is in no pack; prune deletes nothing "
                                "while data is missing (run check)");
  return Status::OK();
}

// Writes packs of blobs copied from other packs: the sealed bytes back to back, then the
// sealed header, then the sealed header's length (u32 LE), as repository.cc writes them.
class PackWriter {
 public:
  explicit PackWriter(Repository* repo) : repo_(repo) {}

  Status Add(std::string_view sealed, const PackEntry& from) {
    PackEntry e = from;
    e.where.offset = uint32_t(data_.size());
    data_.append(sealed);
    entries_.push_back(e);
    if (data_.size() >= repo_->config().pack_size) return Finish();
    return Status::OK();
  }

  // Writes the pack being filled, if any.
  Status Finish() {
    if (entries_.empty()) return Status::OK();
    std::string header;
    Seal(repo_->key(), EncodePackHeader(entries_), &header);
    data_ += header;
    uint32_t n = uint32_t(header.size());
    for (int i = 0; i < 4; ++i) data_.push_back(char((n >> (8 * i)) & 0xff));
    Id id = Sha256(data_);
    Status st = repo_->backend()->Save(FileType::kData, id.Hex(), data_);
    // The same name means the same bytes: a pack written before a crash.
    if (!st.ok() && st.code() != StatusCode::kAlreadyExists)
      return st.Annotate("prune: write " + PackPath(id));
    for (PackEntry& e : entries_) {
      e.where.pack = id;
      written_.push_back(e);
    }
    bytes_ += data_.size();
    packs_++;
    data_.clear();
    entries_.clear();
    return Status::OK();
  }

  const std::vector<PackEntry>& written() const { return written_; }
  uint64_t bytes() const { return bytes_; }

 private:
  Repository* repo_;
  std::string data_;
  std::vector<PackEntry> entries_;
  std::vector<PackEntry> written_;
  uint64_t bytes_ = 0, packs_ = 0;
};

// Copies the kept blobs of `repack` into new packs, verifying each on the way.
Status Repack(Repository* repo, const std::vector<const PackPlan*>& repack,
              const PruneOptions& options, PackWriter* writer) {
  std::string data, scratch, plain;
  for (size_t i = 0; i < repack.size(); ++i) {
    const PackPlan& p = *repack[i];
    if (options.progress) options.progress("repack", i, repack.size());
    data.clear();
    RETURN_IF_ERROR(repo->backend()
                        ->Load(FileType::kData, p.id.Hex(), &data)
                        .Annotate("prune: read " + PackPath(p.id)));
    for (const PackEntry& e : p.keep) {
      StatusOr<std::string_view> sealed = SealedBytes(data, e);
      Status st =
          sealed.ok() ? VerifyBlob(repo->key(), *sealed, e, &scratch, &plain) : sealed.status();
      if (!st.ok())
        return Corruption("prune: " + PackPath(p.id) + ": " +
                          std::string(BlobTypeName(e.where.type)) + " blob " + e.id.Hex() +
                          " is damaged (" + st.message() +
                          "); nothing was deleted (run check --read-data)");
      RETURN_IF_ERROR(writer->Add(*sealed, e));
    }
  }
  RETURN_IF_ERROR(writer->Finish());
  if (options.progress) options.progress("repack", repack.size(), repack.size());
  return Status::OK();
}

}  // namespace

StatusOr<CheckReport> Check(Repository* repo, const CheckOptions& options) {
  return Checker(repo, options).Run();
}

StatusOr<PruneReport> Prune(Repository* repo, const PruneOptions& options) {
  if (!repo->index_warnings().empty())
    return FailedPrecondition("prune: " + repo->index_warnings().front() +
                              "; prune deletes nothing while an index file is damaged (run "
                              "rebuild-index first, so no pack it names is taken for unused)");
  ASSIGN_OR_RETURN(UnfinishedWrites unfinished,
                   repo->backend()->RemoveUnfinished(options.dry_run));
  ASSIGN_OR_RETURN(IdSet used, UsedBlobs(repo));
  ASSIGN_OR_RETURN(IdMap<uint64_t> files, ListPacks(repo->backend()));
  IdMap<std::vector<PackEntry>> by_pack = EntriesByPack(repo->IndexEntries());

  PruneReport report;
  report.unfinished_files = unfinished.files;
  report.unfinished_bytes = unfinished.bytes;
  bool index_changes = false;  // entries of packs that are gone are dropped
  std::vector<PackPlan> plans;
  std::vector<std::pair<Id, uint64_t>> remove;  // packs deleted, with their sizes
  for (auto& [pack, entries] : by_pack) {
    auto file = files.find(pack);
    if (file == files.end()) {
      index_changes = true;
      continue;
    }
    PackPlan plan;
    plan.id = pack;
    plan.size = file->second;
    plan.entries = std::move(entries);
    plans.push_back(std::move(plan));
  }
  for (const auto& [pack, size] : files) {
    report.bytes_before += size;
    if (!by_pack.count(pack)) remove.emplace_back(pack, size);  // left by a killed run
  }
  RETURN_IF_ERROR(ChooseHomes(used, &plans));

  std::vector<PackEntry> index;  // the new index: kept packs whole, then the repacked blobs
  std::vector<const PackPlan*> repack;
  uint64_t repacked_bytes = 0;  // sealed bytes that move
  for (const PackPlan& p : plans) {
    uint64_t total = p.used_bytes + p.unused_bytes;
    if (p.keep.empty()) {
      remove.emplace_back(p.id, p.size);
      report.blobs_deleted += p.entries.size();
    } else if (p.unused_bytes == 0 ||
               double(p.unused_bytes) <= options.max_unused * double(total)) {
      report.packs_kept++;
      index.insert(index.end(), p.entries.begin(), p.entries.end());
    } else {
      repack.push_back(&p);
      report.blobs_repacked += p.keep.size();
      report.blobs_deleted += p.entries.size() - p.keep.size();
      repacked_bytes += p.used_bytes;
    }
  }
  report.packs_deleted = remove.size();
  report.packs_repacked = repack.size();
  uint64_t removed_bytes = 0;
  for (const auto& [pack, size] : remove) removed_bytes += size;
  for (const PackPlan* p : repack) removed_bytes += p->size;
  // Unindexed packs go without touching the index; any other change rewrites it.
  bool index_rewrite = index_changes || !repack.empty();
  for (const auto& [pack, size] : remove) index_rewrite = index_rewrite || by_pack.count(pack) > 0;

  if (options.dry_run || (remove.empty() && repack.empty() && !index_rewrite)) {
    report.bytes_after = report.bytes_before - removed_bytes + repacked_bytes;
    report.bytes_freed = report.bytes_before - report.bytes_after;
    return report;
  }

  // New packs, then the index naming them, then the old index files go (RewriteIndex), and
  // only then the old packs: a crash at any point leaves every used blob indexed in a pack
  // that exists.
  PackWriter writer(repo);
  RETURN_IF_ERROR(Repack(repo, repack, options, &writer));
  index.insert(index.end(), writer.written().begin(), writer.written().end());
  if (index_rewrite)
    RETURN_IF_ERROR(repo->RewriteIndex(index).Annotate("prune: write the new index"));
  for (const PackPlan* p : repack) remove.emplace_back(p->id, p->size);
  for (size_t i = 0; i < remove.size(); ++i) {
    if (options.progress) options.progress("delete", i, remove.size());
    Status st = repo->backend()->Remove(FileType::kData, remove[i].first.Hex());
    if (!st.ok() && st.code() != StatusCode::kNotFound)
      return st.Annotate("prune: remove " + PackPath(remove[i].first));
  }
  if (options.progress) options.progress("delete", remove.size(), remove.size());
  report.bytes_after = report.bytes_before - removed_bytes + writer.bytes();
  report.bytes_freed =
      report.bytes_before > report.bytes_after ? report.bytes_before - report.bytes_after : 0;
  return report;
}

StatusOr<uint64_t> RebuildIndex(Repository* repo, std::vector<std::string>* skipped) {
  ASSIGN_OR_RETURN(IdMap<uint64_t> files, ListPacks(repo->backend()));
  std::vector<Id> packs;
  for (const auto& [pack, size] : files) packs.push_back(pack);
  std::sort(packs.begin(), packs.end());
  std::vector<PackEntry> entries;
  uint64_t indexed = 0;
  for (const Id& pack : packs) {
    StatusOr<std::vector<PackEntry>> header = repo->ReadPackHeader(pack);
    if (!header.ok()) {
      // Its blobs cannot be found without the header; the pack stays for a later look.
      if (skipped) skipped->push_back(PackPath(pack) + ": " + header.status().message());
      continue;
    }
    entries.insert(entries.end(), header->begin(), header->end());
    indexed++;
  }
  RETURN_IF_ERROR(repo->RewriteIndex(entries).Annotate("rebuild index"));
  return indexed;
}

StatusOr<uint64_t> RebuildIndex(Repository* repo) { return RebuildIndex(repo, nullptr); }

}  // namespace steward::backup
