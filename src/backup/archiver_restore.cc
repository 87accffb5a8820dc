// RestoreTree: a snapshot's tree written back under a target folder.
//
// Order of work: load the selected part of the tree (includes), check that nothing would be
// replaced (unless overwrite) before writing anything, create the directories (owner-only
// until the end, so a 0500 directory can still be filled), write regular files on `threads`
// workers (chunks loaded in parallel, each file written by one worker at a time and in order;
// all-zero chunks are skipped with lseek semantics and the file is ftruncate()d to its length,
// so holes stay holes; files of 1 MiB or more go through aligned staging buffers that one
// more thread writes with O_DIRECT), create symlinks,
// fifos and device nodes, then hardlinks (link() to the first restored name of the same
// inode), and last the directories' owners, modes, xattrs and times, deepest first, because
// creating entries changes a directory's mtime.
#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/xattr.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <condition_variable>
#include <cstdlib>
#include <cstring>
#include <deque>
#include <map>
#include <memory>
#include <mutex>
#include <thread>
#include <unordered_map>
#include <utility>
#include <vector>

#include "backup/archiver.h"
#include "backup/tree.h"
#include "base/fd.h"

namespace steward::backup {
namespace {

constexpr size_t kNoLink = static_cast<size_t>(-1);

struct Item {
  std::string path;  // "/a/b" in the snapshot
  Node node;
  int depth = 0;
  size_t link_to = kNoLink;  // index of the first restored name of the same inode
};

// A file whose chunks several workers load at once (reading, decrypting, decompressing and
// hashing are the CPU-heavy part). Writes are ordered and never concurrent: a loaded chunk is
// parked in `pending`, and whichever worker finds no writer active becomes the file's writer
// and writes every consecutive parked chunk from `next` on, then goes back to loading. Two
// threads writing into one file at once contend for its inode lock in the kernel (ext4 spins
// on it), which cost more system time than the parallel writes saved; parking costs nothing
// and nobody waits for another thread's write. The writer of chunk 0 creates the file; the
// writer of the last chunk truncates, sets metadata and closes.
struct Loaded {
  std::string data;
  size_t len = 0;
  bool zero = false;  // an all-zero chunk: a hole of `len` bytes
};

// Large files are written with O_DIRECT through aligned staging buffers: a buffered write
// allocates a page-cache page per 4 KiB and copies into it, and on a machine whose memory is
// full of cache (the usual case on a server) each of those pages is first reclaimed from
// something else — writing a GiB that way took 0.8–1.4 s of system time here, against 0.5 s
// for writing it directly. Direct writes touch only the reused staging buffers, the restored
// data does not push the service's working set out of the cache, and it is on the device when
// restore returns. Small files, the tail of a file that is not a whole block, and file systems
// without O_DIRECT (some FUSE ones, tmpfs before Linux 6.6) take buffered writes.
constexpr uint64_t kDirectAlign = 4096;
constexpr uint64_t kDirectMinFile = 1u << 20;
constexpr size_t kStageBytes = 4u << 20;

struct AlignedFree {
  void operator()(char* p) const { free(p); }
};
using Stage = std::unique_ptr<char, AlignedFree>;

struct FileState {
  const Item* item = nullptr;
  size_t index = 0;             // in creation order
  std::string path;
  int fd = -1;                  // set by its creator before `created`
  bool created = false;         // guarded by RestoreRun::create_mu_
  bool failed = false;          // guarded by mu
  std::mutex mu;
  std::condition_variable cv;   // signalled when pending shrinks
  bool writing = false;         // a worker is writing this file's parked chunks (guarded by mu)
  size_t next = 0;              // the next chunk to write (guarded by mu)
  uint64_t off = 0;             // where chunk `next` starts (written by the writer only)
  uint64_t written_end = 0;     // end of the last chunk with data (writer only)
  bool direct = false;          // fd has O_DIRECT (set by its creator; then the stage writer's)
  bool staged = false;          // data goes through `stage` (set with `direct`, kept after)
  Stage stage;                  // bytes [stage_off, stage_off + stage_len) not yet written
  uint64_t stage_off = 0;       // a multiple of kDirectAlign
  size_t stage_len = 0;
  std::map<size_t, Loaded> pending;  // loaded, not yet written (guarded by mu)
  std::string error;            // the first failure (guarded by mu)
};

// How far the creators may get ahead of the writers, in files (a bound on open descriptors).
constexpr size_t kCreateAhead = 128;

// How many loaded chunks of one file may wait for its writer before the loaders wait too: a
// bound on memory (about this many chunk-sized buffers per file being written).
constexpr size_t kMaxPending = 8;

// Writes to the file go through the page cache from now on; false if that cannot be set.
bool DropDirect(FileState& file) {
  if (!file.direct) return true;
  int flags = fcntl(file.fd, F_GETFL);
  if (flags < 0 || fcntl(file.fd, F_SETFL, flags & ~O_DIRECT) != 0) return false;
  file.direct = false;
  return true;
}

// Records the file's first failure; its remaining chunks are neither loaded nor written.
void MarkFailed(FileState& file, std::string error) {
  std::lock_guard<std::mutex> lock(file.mu);
  if (!file.failed) file.error = std::move(error);
  file.failed = true;
}

struct Unit {
  uint32_t file;
  uint32_t chunk;
};

std::string Errno(int err) { return std::strerror(err); }

bool AllZero(const std::string& s) {
  return s.empty() || (s[0] == 0 && memcmp(s.data(), s.data() + 1, s.size() - 1) == 0);
}

struct timespec Ts(int64_t ns) {
  struct timespec ts;
  ts.tv_sec = ns / 1000000000;
  ts.tv_nsec = ns % 1000000000;
  if (ts.tv_nsec < 0) {
    ts.tv_sec -= 1;
    ts.tv_nsec += 1000000000;
  }
  return ts;
}

// Removes `target` clean (no trailing '/'), keeping "/" as it is.
std::string Clean(std::string path) {
  while (path.size() > 1 && path.back() == '/') path.pop_back();
  return path;
}

class RestoreRun {
 public:
  RestoreRun(BlobStore* store, const RestoreOptions& options)
      : store_(store), options_(options), root_(geteuid() == 0) {}

  StatusOr<RestoreResult> Run(const Id& tree);

 private:
  enum class Selection { kNone, kLeading, kAll };
  Selection Select(const std::string& path);
  Status Collect(const Id& tree, const std::string& prefix, int depth, bool all);
  Status CheckNothingExists();
  bool RemoveExisting(const std::string& path, bool want_dir);
  void CreateDir(const Item& item);
  void RestoreFiles(const std::vector<size_t>& files);
  void CreateFiles(std::vector<FileState>& states,
                   const std::vector<std::pair<size_t, size_t>>& batches);
  void RestoreChunk(FileState& file, size_t k);
  Loaded LoadChunk(FileState& file, size_t k);
  void WriteChunk(FileState& file, size_t k, Loaded& chunk);
  void FinishFile(FileState& file);
  bool StageBytes(FileState& file, const char* data, size_t len);
  void SubmitStage(FileState& file, bool finish);
  void WriteStages();
  bool WriteAt(FileState& file, const char* data, size_t len, uint64_t at);
  void FinishStagedFile(FileState& file, Stage stage, size_t len, uint64_t off);
  void RestoreSpecial(const Item& item);
  void RestoreLink(const Item& item);
  void SetMetadata(const Item& item, int fd, bool set_mode);

  std::string Target(const Item& item) const {
    return target_ == "/" ? item.path : target_ + item.path;
  }
  void AddError(std::string error) {
    std::lock_guard<std::mutex> lock(mu_);
    errors_.push_back(std::move(error));
  }
  void MaybeReport(const std::string& current);

  BlobStore* store_;
  const RestoreOptions& options_;
  const bool root_;
  std::string target_;
  std::vector<std::string> includes_;
  std::vector<char> include_matched_;
  std::vector<Item> items_;

  std::mutex mu_;  // errors_, zero_ids_, the progress callback
  std::vector<std::string> errors_;
  std::unordered_map<Id, size_t, IdHash> zero_ids_;  // all-zero chunks seen: id → length
  std::atomic<uint64_t> files_{0}, dirs_{0}, bytes_{0}, links_{0};
  std::atomic<int64_t> next_report_ns_{0};

  // Chunk buffers written and handed back for the next loads: a fresh buffer per chunk was
  // a page fault per 4 KiB written (the allocator returns freed memory to the system), twice
  // as many faults as restic takes for the same restore.
  std::string TakeBuffer() {
    std::lock_guard<std::mutex> lock(pool_mu_);
    if (pool_.empty()) return std::string();
    std::string s = std::move(pool_.back());
    pool_.pop_back();
    return s;
  }
  void GiveBuffer(std::string s) {
    if (s.capacity() == 0 || s.capacity() > (16u << 20)) return;
    std::lock_guard<std::mutex> lock(pool_mu_);
    if (pool_.size() < pool_limit_) pool_.push_back(std::move(s));
  }
  std::mutex pool_mu_;
  std::vector<std::string> pool_;
  size_t pool_limit_ = 8;

  // Staged (O_DIRECT) writes are done by their own thread, so the workers, which are there
  // for the CPU-bound loading, never wait for the device. It takes the stages of all files in
  // the order they were filled; a file's last stage carries its finish (tail, truncate,
  // metadata, close), so that runs after all of the file's writes.
  struct StageWrite {
    FileState* file;
    Stage stage;
    size_t len;
    uint64_t off;
    bool finish;
  };
  Stage TakeStage();
  void GiveStage(Stage stage);
  std::mutex io_mu_;
  std::condition_variable io_cv_;     // a write was queued, or io_stop_
  std::condition_variable stage_cv_;  // a stage was given back
  std::deque<StageWrite> io_queue_;   // guarded by io_mu_
  bool io_stop_ = false;              // guarded by io_mu_
  std::vector<Stage> stages_;         // free stages (guarded by io_mu_)
  size_t stages_made_ = 0;            // guarded by io_mu_
  size_t stage_limit_ = 6;
  std::atomic<bool> direct_ok_{true};  // false once the file system refused O_DIRECT

  // The creator threads and the writers (RestoreFiles).
  std::mutex create_mu_;
  std::condition_variable created_cv_;   // a file was created
  std::condition_variable frontier_cv_;  // frontier_ moved, or stop_creating_
  std::atomic<size_t> next_batch_{0};
  std::atomic<size_t> frontier_{0};      // the last file a worker has begun
  std::atomic<int> creators_waiting_{0};
  bool stop_creating_ = false;           // guarded by create_mu_
};

StatusOr<RestoreResult> RestoreRun::Run(const Id& tree) {
  if (options_.target.empty()) return InvalidArgument("restore: no target folder given");
  target_ = Clean(options_.target);
  for (const std::string& inc : options_.includes) {
    std::string p = Clean(inc);
    if (p.empty() || p[0] != '/') p = "/" + p;
    includes_.push_back(p);
  }
  include_matched_.assign(includes_.size(), 0);
  for (size_t i = 0; i < includes_.size(); ++i) include_matched_[i] = includes_[i] == "/";
  RETURN_IF_ERROR(Collect(tree, "", 1, includes_.empty()).Annotate("restore"));
  for (size_t i = 0; i < includes_.size(); ++i)
    if (!include_matched_[i])
      return NotFound("restore: " + includes_[i] + " is not in the snapshot");
  if (!options_.overwrite) RETURN_IF_ERROR(CheckNothingExists());

  // The target and the folders leading to it.
  for (size_t i = 1; i <= target_.size(); ++i) {
    if (i < target_.size() && target_[i] != '/') continue;
    std::string p = target_.substr(0, i);
    if (mkdir(p.c_str(), 0755) != 0 && errno != EEXIST)
      return ErrnoError("restore: create " + p, errno);
  }
  struct stat st;
  if (stat(target_.c_str(), &st) != 0 || !S_ISDIR(st.st_mode))
    return FailedPrecondition("restore: target " + target_ + " is not a directory");

  std::unordered_map<uint64_t, std::unordered_map<uint64_t, size_t>>
      first_name;  // dev → ino → item
  std::vector<size_t> files;
  for (size_t i = 0; i < items_.size(); ++i) {
    Item& item = items_[i];
    if (item.node.type == NodeType::kDir) {
      CreateDir(item);
      continue;
    }
    if (item.node.links > 1) {
      auto [it, inserted] = first_name[item.node.device_id].try_emplace(item.node.inode, i);
      if (!inserted) {
        item.link_to = it->second;
        continue;
      }
    }
    if (item.node.type == NodeType::kFile) files.push_back(i);
  }

  RestoreFiles(files);

  for (const Item& item : items_)
    if (item.link_to == kNoLink && item.node.type != NodeType::kDir &&
        item.node.type != NodeType::kFile)
      RestoreSpecial(item);
  for (const Item& item : items_)
    if (item.link_to != kNoLink) RestoreLink(item);

  std::vector<const Item*> dirs;
  for (const Item& item : items_)
    if (item.node.type == NodeType::kDir) dirs.push_back(&item);
  std::stable_sort(dirs.begin(), dirs.end(),
                   [](const Item* a, const Item* b) { return a->depth > b->depth; });
  for (const Item* item : dirs) SetMetadata(*item, -1, true);

  RestoreResult result;
  result.files = files_;
  result.dirs = dirs_;
  result.bytes = bytes_;
  result.links = links_;
  result.errors = std::move(errors_);
  return result;
}

RestoreRun::Selection RestoreRun::Select(const std::string& path) {
  Selection sel = Selection::kNone;
  for (size_t i = 0; i < includes_.size(); ++i) {
    const std::string& inc = includes_[i];
    if (inc == "/" || inc == path ||
        (path.size() > inc.size() && path.compare(0, inc.size(), inc) == 0 &&
         path[inc.size()] == '/')) {
      include_matched_[i] = 1;
      return Selection::kAll;
    }
    if (inc.size() > path.size() && inc.compare(0, path.size(), path) == 0 &&
        inc[path.size()] == '/')
      sel = Selection::kLeading;
  }
  return sel;
}

Status RestoreRun::Collect(const Id& tree_id, const std::string& prefix, int depth, bool all) {
  if (depth > 4096) return Corruption("tree " + tree_id.Short() + " nests deeper than 4096 levels");
  ASSIGN_OR_RETURN(Tree tree, LoadTree(store_, tree_id));
  for (Node& node : tree.nodes) {
    std::string path = prefix + "/" + node.name;
    bool sub_all = all;
    if (!all) {
      Selection sel = Select(path);
      if (sel == Selection::kNone) continue;
      if (sel == Selection::kLeading && node.type != NodeType::kDir) continue;
      sub_all = sel == Selection::kAll;
    }
    bool is_dir = node.type == NodeType::kDir;
    std::optional<Id> subtree = node.subtree;
    items_.push_back(Item{path, std::move(node), depth, kNoLink});
    if (is_dir && subtree) RETURN_IF_ERROR(Collect(*subtree, path, depth + 1, sub_all));
  }
  return Status::OK();
}

Status RestoreRun::CheckNothingExists() {
  struct stat st;
  if (lstat(target_.c_str(), &st) != 0) return Status::OK();  // a new target: nothing there
  if (!S_ISDIR(st.st_mode))
    return AlreadyExists("restore: target " + target_ + " exists and is not a directory");
  if (DIR* d = opendir(target_.c_str())) {  // an empty target needs no lstat per item
    bool empty = true;
    while (struct dirent* e = readdir(d))
      if (strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, "..") != 0) empty = false;
    closedir(d);
    if (empty) return Status::OK();
  }
  for (const Item& item : items_) {
    std::string p = Target(item);
    if (lstat(p.c_str(), &st) != 0) continue;
    if (item.node.type == NodeType::kDir && S_ISDIR(st.st_mode)) continue;  // merged into
    return AlreadyExists("restore: " + p +
                         " already exists; restore replaces existing files only with overwrite");
  }
  return Status::OK();
}

// With overwrite: clears the way for a new entry at `path`. A file is unlinked rather than
// truncated, so other hardlinks to it and symlinks' targets stay untouched.
bool RestoreRun::RemoveExisting(const std::string& path, bool want_dir) {
  struct stat st;
  if (lstat(path.c_str(), &st) != 0) return true;
  if (S_ISDIR(st.st_mode)) {
    if (want_dir) return true;
    AddError("restore " + path + ": a directory is in the way");
    return false;
  }
  if (unlink(path.c_str()) != 0) {
    AddError("restore: remove " + path + ": " + Errno(errno));
    return false;
  }
  return true;
}

void RestoreRun::CreateDir(const Item& item) {
  std::string p = Target(item);
  if (options_.overwrite && !RemoveExisting(p, true)) return;
  if (mkdir(p.c_str(), 0700) != 0 && errno != EEXIST) {
    AddError("restore: create " + p + ": " + Errno(errno));
    return;
  }
  dirs_ += 1;
}

// Files are created by their own threads, a directory at a time, ahead of the writers.
// Creating a file takes its directory's lock in the kernel, and ext4's inode allocator can be
// slow while holding it (on a file system without a journal it checks each free inode it
// considers for a recent deletion): two workers creating files in one directory spent a fifth
// of a restore spinning on that lock. Creators in different directories do not contend, and
// the workers load and write meanwhile.
void RestoreRun::RestoreFiles(const std::vector<size_t>& files) {
  std::vector<FileState> states(files.size());
  std::vector<Unit> units;
  std::vector<std::pair<size_t, size_t>> batches;  // [begin, end) of files in one directory
  for (size_t f = 0; f < files.size(); ++f) {
    states[f].item = &items_[files[f]];
    states[f].index = f;
    states[f].path = Target(items_[files[f]]);
    const std::string& path = states[f].item->path;
    std::string_view dir = std::string_view(path).substr(0, path.rfind('/'));
    const std::string& before = f > 0 ? states[f - 1].item->path : path;
    if (f == 0 || std::string_view(before).substr(0, before.rfind('/')) != dir)
      batches.emplace_back(f, f);
    batches.back().second = f + 1;
    size_t chunks = std::max<size_t>(1, states[f].item->node.content.size());
    for (size_t k = 0; k < chunks; ++k)
      units.push_back(Unit{static_cast<uint32_t>(f), static_cast<uint32_t>(k)});
  }
  const int threads = std::max(1, std::min<int>(options_.threads, static_cast<int>(units.size())));
  pool_limit_ = 2 * static_cast<size_t>(threads) + 4;
  // Enough that a worker always finds a stage free or soon back from the writer thread: at
  // most one file per worker holds a stage it is still filling.
  stage_limit_ = 2 * static_cast<size_t>(threads) + 2;
  std::thread io_writer([this] { WriteStages(); });
  std::vector<std::thread> creators;
  for (int t = 0; t < std::min<int>(threads, static_cast<int>(batches.size())); ++t)
    creators.emplace_back([&] { CreateFiles(states, batches); });
  // Units are taken in order, so a chunk's predecessors are always taken before it: the chunk
  // a file's writer needs next is always being loaded by a worker that will park it.
  std::atomic<size_t> next{0};
  auto worker = [&] {
    for (size_t u = next++; u < units.size(); u = next++) {
      if (units[u].chunk == 0) {
        frontier_.store(units[u].file);
        if (creators_waiting_.load() > 0) {
          std::lock_guard<std::mutex> lock(create_mu_);
          frontier_cv_.notify_all();
        }
      }
      RestoreChunk(states[units[u].file], units[u].chunk);
    }
  };
  std::vector<std::thread> pool;
  for (int t = 1; t < threads; ++t) pool.emplace_back(worker);
  worker();
  for (auto& t : pool) t.join();
  {
    std::lock_guard<std::mutex> lock(create_mu_);
    stop_creating_ = true;  // every file was created by now; this only guards against a bug
  }
  frontier_cv_.notify_all();
  for (auto& t : creators) t.join();
  {
    std::lock_guard<std::mutex> lock(io_mu_);
    io_stop_ = true;
  }
  io_cv_.notify_all();
  io_writer.join();
}

// Takes whole directories in order. A creator waits only for files more than kCreateAhead
// past the last file a worker has begun; a worker waits only for files up to that one, which
// no creator waits for, so nobody waits for ever.
void RestoreRun::CreateFiles(std::vector<FileState>& states,
                             const std::vector<std::pair<size_t, size_t>>& batches) {
  for (size_t b = next_batch_++; b < batches.size(); b = next_batch_++) {
    for (size_t f = batches[b].first; f < batches[b].second; ++f) {
      if (f > frontier_.load() + kCreateAhead) {
        std::unique_lock<std::mutex> lock(create_mu_);
        creators_waiting_ += 1;
        frontier_cv_.wait(lock,
                          [&] { return f <= frontier_.load() + kCreateAhead || stop_creating_; });
        creators_waiting_ -= 1;
        if (stop_creating_) return;
      }
      FileState& file = states[f];
      int fd = -1;
      std::string error;
      if (!options_.overwrite || RemoveExisting(file.path, false)) {
        fd = open(file.path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600);
        if (fd < 0) error = "restore: create " + file.path + ": " + Errno(errno);
      }
      if (fd >= 0 && options_.direct_io && file.item->node.size >= kDirectMinFile &&
          direct_ok_.load(std::memory_order_relaxed)) {
        int flags = fcntl(fd, F_GETFL);
        if (flags >= 0 && fcntl(fd, F_SETFL, flags | O_DIRECT) == 0)
          file.direct = file.staged = true;
        else
          direct_ok_ = false;
      }
      {
        std::lock_guard<std::mutex> lock(file.mu);
        file.fd = fd;
        if (fd < 0) {
          if (!file.failed) file.error = std::move(error);  // empty: RemoveExisting said why
          file.failed = true;
        }
      }
      {
        std::lock_guard<std::mutex> lock(create_mu_);
        file.created = true;
      }
      created_cv_.notify_all();
    }
  }
}

void RestoreRun::RestoreChunk(FileState& file, size_t k) {
  const size_t chunks = std::max<size_t>(1, file.item->node.content.size());
  Loaded chunk = LoadChunk(file, k);
  std::unique_lock<std::mutex> lock(file.mu);
  // Bounded parking; the chunk at `next` is held by a loader that does not wait here before
  // parking it, so the writer always gets to run and this wait ends.
  file.cv.wait(lock, [&] { return k == file.next || file.pending.size() < kMaxPending; });
  file.pending.emplace(k, std::move(chunk));
  if (file.writing) return;
  file.writing = true;
  while (!file.pending.empty() && file.pending.begin()->first == file.next) {
    auto node = file.pending.extract(file.pending.begin());
    lock.unlock();
    WriteChunk(file, node.key(), node.mapped());
    lock.lock();
    file.next += 1;
    file.cv.notify_all();
  }
  file.writing = false;
  if (file.next == chunks) {
    lock.unlock();
    if (file.staged)
      SubmitStage(file, true);
    else
      FinishFile(file);
  }
}

// Reads chunk k of the file (nothing for an empty file, or once the file has failed).
Loaded RestoreRun::LoadChunk(FileState& file, size_t k) {
  Loaded out;
  const std::vector<Id>& content = file.item->node.content;
  if (content.empty()) return out;
  {
    std::lock_guard<std::mutex> lock(file.mu);
    if (file.failed) return out;
  }
  const Id& id = content[k];
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (auto it = zero_ids_.find(id); it != zero_ids_.end()) {
      out.zero = true;
      out.len = it->second;
      return out;
    }
  }
  out.data = TakeBuffer();
  Status st = store_->LoadBlob(BlobType::kData, id, &out.data);
  if (!st.ok()) {
    MarkFailed(file, "restore " + file.path + ": " + st.ToString());
    return out;
  }
  out.len = out.data.size();
  if (AllZero(out.data)) {
    {
      std::lock_guard<std::mutex> lock(mu_);
      zero_ids_.emplace(id, out.len);
    }
    out.zero = true;
    GiveBuffer(std::move(out.data));
    out.data = std::string();
  }
  return out;
}

// Called by the file's writer only, chunks in order; `failed` is read under the lock because
// loaders set it too.
void RestoreRun::WriteChunk(FileState& file, size_t k, Loaded& chunk) {
  if (k == 0) {
    MaybeReport(file.path);
    std::unique_lock<std::mutex> lock(create_mu_);
    created_cv_.wait(lock, [&] { return file.created; });
  }
  {
    std::lock_guard<std::mutex> lock(file.mu);
    if (file.failed) return;
  }
  const uint64_t at = file.off;
  file.off += chunk.len;
  if (file.staged) {
    if (chunk.zero) {
      // A hole: zeros up to the next block boundary, whole blocks skipped, zeros from the last
      // boundary on (each part shorter than a block).
      static const char kZeros[kDirectAlign] = {};
      const uint64_t end = file.off;
      const uint64_t edge = std::min(end, (at + kDirectAlign - 1) / kDirectAlign * kDirectAlign);
      if (edge > at && !StageBytes(file, kZeros, edge - at)) return;
      const uint64_t skip_to = end / kDirectAlign * kDirectAlign;
      if (skip_to > edge) {
        if (file.stage_len > 0) SubmitStage(file, false);
        file.stage_off = skip_to;
      }
      const uint64_t from = std::max(edge, skip_to);
      if (from < end) StageBytes(file, kZeros, end - from);
      return;
    }
    if (!StageBytes(file, chunk.data.data(), chunk.len)) return;
    bytes_ += chunk.len;
    GiveBuffer(std::move(chunk.data));
    return;
  }
  if (chunk.zero) return;
  file.written_end = file.off;
  if (!WriteAt(file, chunk.data.data(), chunk.len, at)) return;
  bytes_ += chunk.len;
  GiveBuffer(std::move(chunk.data));
}

// Appends to the file's staging buffer, queueing it for writing whenever it is full.
bool RestoreRun::StageBytes(FileState& file, const char* data, size_t len) {
  while (len > 0) {
    if (!file.stage) file.stage = TakeStage();
    if (!file.stage) {
      MarkFailed(file, "restore: write " + file.path + ": out of memory");
      return false;
    }
    size_t n = std::min(len, kStageBytes - file.stage_len);
    memcpy(file.stage.get() + file.stage_len, data, n);
    file.stage_len += n;
    data += n;
    len -= n;
    if (file.stage_len == kStageBytes) SubmitStage(file, false);
  }
  return true;
}

// Queues the staged bytes (a whole number of blocks unless `finish`) for the writer thread.
void RestoreRun::SubmitStage(FileState& file, bool finish) {
  StageWrite w{&file, std::move(file.stage), file.stage_len, file.stage_off, finish};
  file.stage_off += file.stage_len;
  if (file.stage_len > 0) file.written_end = file.stage_off;
  file.stage_len = 0;
  {
    std::lock_guard<std::mutex> lock(io_mu_);
    io_queue_.push_back(std::move(w));
  }
  io_cv_.notify_one();
}

void RestoreRun::WriteStages() {
  for (;;) {
    StageWrite w;
    {
      std::unique_lock<std::mutex> lock(io_mu_);
      io_cv_.wait(lock, [&] { return !io_queue_.empty() || io_stop_; });
      if (io_queue_.empty()) return;
      w = std::move(io_queue_.front());
      io_queue_.pop_front();
    }
    FileState& file = *w.file;
    bool failed;
    {
      std::lock_guard<std::mutex> lock(file.mu);
      failed = file.failed;
    }
    if (w.finish) {
      FinishStagedFile(file, std::move(w.stage), failed ? 0 : w.len, w.off);
      continue;
    }
    if (!failed) WriteAt(file, w.stage.get(), w.len, w.off);
    GiveStage(std::move(w.stage));
  }
}

// On the writer thread, after all of the file's other stages: the last bytes (the part that
// is not a whole block buffered, as O_DIRECT takes whole blocks only), then FinishFile.
void RestoreRun::FinishStagedFile(FileState& file, Stage stage, size_t len, uint64_t off) {
  const size_t whole = len / kDirectAlign * kDirectAlign;
  bool ok = whole == 0 || WriteAt(file, stage.get(), whole, off);
  if (ok && whole < len) {
    DropDirect(file);
    WriteAt(file, stage.get() + whole, len - whole, off + whole);
  }
  if (stage) GiveStage(std::move(stage));
  FinishFile(file);
}

Stage RestoreRun::TakeStage() {
  std::unique_lock<std::mutex> lock(io_mu_);
  stage_cv_.wait(lock, [&] { return !stages_.empty() || stages_made_ < stage_limit_; });
  if (!stages_.empty()) {
    Stage s = std::move(stages_.back());
    stages_.pop_back();
    return s;
  }
  Stage s(static_cast<char*>(aligned_alloc(kDirectAlign, kStageBytes)));
  if (s) stages_made_ += 1;
  return s;
}

void RestoreRun::GiveStage(Stage stage) {
  {
    std::lock_guard<std::mutex> lock(io_mu_);
    stages_.push_back(std::move(stage));
  }
  stage_cv_.notify_one();
}

bool RestoreRun::WriteAt(FileState& file, const char* data, size_t len, uint64_t at) {
  for (size_t done = 0; done < len;) {
    ssize_t n = pwrite(file.fd, data + done, len - done, at + done);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && errno == EINVAL && file.direct && DropDirect(file)) {
      direct_ok_ = false;  // the file system took O_DIRECT at open but not this write
      continue;
    }
    if (n < 0) {
      MarkFailed(file, "restore: write " + file.path + ": " + Errno(errno));
      return false;
    }
    done += n;
  }
  return true;
}

void RestoreRun::FinishFile(FileState& file) {
  if (!file.error.empty()) AddError(std::move(file.error));
  if (file.fd < 0) return;
  Fd fd(file.fd);
  if (file.failed) return;
  if (file.written_end != file.off && ftruncate(fd.get(), file.off) != 0) {  // a hole at the end
    AddError("restore: truncate " + file.path + ": " + Errno(errno));
    return;
  }
  if (file.off != file.item->node.size)
    AddError("restore " + file.path + ": content has " + std::to_string(file.off) +
             " bytes, the snapshot says " + std::to_string(file.item->node.size));
  SetMetadata(*file.item, fd.get(), true);
  files_ += 1;
}

void RestoreRun::RestoreSpecial(const Item& item) {
  std::string p = Target(item);
  const Node& n = item.node;
  if (n.type == NodeType::kSocket) return;  // a socket is created by its server, not restored
  if (options_.overwrite && !RemoveExisting(p, false)) return;
  int rc = 0;
  switch (n.type) {
    case NodeType::kSymlink:
      rc = symlink(n.link_target.c_str(), p.c_str());
      break;
    case NodeType::kFifo:
      rc = mkfifo(p.c_str(), 0600);
      break;
    case NodeType::kDevice:
    case NodeType::kCharDevice:
      if (!root_) {
        AddError("restore " + p + ": device nodes can be created only by root");
        return;
      }
      rc = mknod(p.c_str(), (n.type == NodeType::kDevice ? S_IFBLK : S_IFCHR) | 0600,
                 static_cast<dev_t>(n.rdev));
      break;
    default:
      return;
  }
  if (rc != 0) {
    AddError("restore: create " + p + ": " + Errno(errno));
    return;
  }
  SetMetadata(item, -1, n.type != NodeType::kSymlink);
  files_ += 1;
}

void RestoreRun::RestoreLink(const Item& item) {
  std::string p = Target(item);
  std::string first = Target(items_[item.link_to]);
  if (options_.overwrite && !RemoveExisting(p, false)) return;
  if (link(first.c_str(), p.c_str()) != 0) {
    AddError("restore: link " + p + " to " + first + ": " + Errno(errno));
    return;
  }
  links_ += 1;
}

// Owner before mode (chown clears setuid/setgid bits), xattrs after chown (it clears file
// capabilities), times last. `fd` is the open file when there is one.
void RestoreRun::SetMetadata(const Item& item, int fd, bool set_mode) {
  std::string p = Target(item);
  const Node& n = item.node;
  if (root_) {
    int rc = fd >= 0 ? fchown(fd, n.uid, n.gid) : lchown(p.c_str(), n.uid, n.gid);
    if (rc != 0) AddError("restore: chown " + p + ": " + Errno(errno));
  }
  if (set_mode) {
    int rc = fd >= 0 ? fchmod(fd, n.mode) : chmod(p.c_str(), n.mode);
    if (rc != 0) AddError("restore: chmod " + p + ": " + Errno(errno));
  }
  for (const auto& [name, value] : n.xattrs) {
    int rc = fd >= 0 ? fsetxattr(fd, name.c_str(), value.data(), value.size(), 0)
                     : lsetxattr(p.c_str(), name.c_str(), value.data(), value.size(), 0);
    if (rc != 0 && errno != ENOTSUP)
      AddError("restore: set xattr " + name + " on " + p + ": " + Errno(errno));
  }
  struct timespec times[2] = {Ts(n.atime_ns), Ts(n.mtime_ns)};
  int rc =
      fd >= 0 ? futimens(fd, times) : utimensat(AT_FDCWD, p.c_str(), times, AT_SYMLINK_NOFOLLOW);
  if (rc != 0) AddError("restore: set times of " + p + ": " + Errno(errno));
}

void RestoreRun::MaybeReport(const std::string& current) {
  if (!options_.progress) return;
  int64_t now = std::chrono::duration_cast<std::chrono::nanoseconds>(
                    std::chrono::steady_clock::now().time_since_epoch())
                    .count();
  int64_t next = next_report_ns_.load();
  if (now < next || !next_report_ns_.compare_exchange_strong(next, now + 100000000)) return;
  std::lock_guard<std::mutex> lock(mu_);
  Progress progress;
  progress.files = files_;
  progress.dirs = dirs_;
  progress.bytes = bytes_;
  progress.current = current;
  options_.progress(progress);
}

}  // namespace

StatusOr<RestoreResult> RestoreTree(BlobStore* store, const Id& tree,
                                    const RestoreOptions& options) {
  RestoreRun run(store, options);
  return run.Run(tree);
}

}  // namespace steward::backup
