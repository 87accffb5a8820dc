// BackupPaths: the walk, the reading of files into chunks, and the trees.
//
// Shape of a run: one walker thread (the caller's) lists directories and lstat()s entries in
// name order, so metadata and tree layout never depend on scheduling. Files whose content must
// be read go to a pool of `threads` workers. A worker reads a file through a large buffer,
// cuts it with the store's chunker and calls SaveBlob for each chunk (SHA-256, compression
// and sealing are the real CPU cost); when another worker is idle, a chunk's SaveBlob is
// handed to it instead, so one large file still keeps every core busy. A directory's tree is
// encoded and saved by whichever thread finishes its last pending child (a counter per
// directory), then it completes its own parent: trees are written bottom-up as soon as they can
// be, and the walker never waits for content.
//
// Sparse files: the data/hole map comes from SEEK_DATA/SEEK_HOLE. Hole bytes are zeros that
// are never read. Chunk boundaries are the same as if the zeros had been read (the chunker
// sees them in the buffer), except that a chunk starting in a hole with at least max_size
// zeros ahead is emitted without scanning: its length and id are computed once per run from a
// zero buffer, which is exactly what the chunker would return there. So a file's content ids
// do not depend on whether it is stored sparse.
#include <dirent.h>
#include <fcntl.h>
#include <fnmatch.h>
#include <grp.h>
#include <pwd.h>
#include <sys/stat.h>
#include <sys/xattr.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <condition_variable>
#include <cstring>
#include <deque>
#include <functional>
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

constexpr size_t kMinBlockSize = 16u << 20;  // read buffer; several chunks per read()

int64_t Ns(const struct timespec& ts) { return int64_t{ts.tv_sec} * 1000000000 + ts.tv_nsec; }

std::string Errno(int err) { return std::strerror(err); }

std::string Join(const std::string& dir, const std::string& name) {
  return dir.empty() || dir == "/" ? "/" + name : dir + "/" + name;
}

// Lexically cleaned absolute path: no ".", "..", empty components or trailing '/'.
StatusOr<std::string> CleanAbsolute(const std::string& path) {
  if (path.empty()) return InvalidArgument("backup: an empty path was given");
  std::string abs = path;
  if (abs[0] != '/') {
    char cwd[4096];
    if (!getcwd(cwd, sizeof cwd)) return ErrnoError("backup: getcwd", errno);
    abs = std::string(cwd) + "/" + abs;
  }
  std::vector<std::string> parts;
  size_t i = 0;
  while (i < abs.size()) {
    size_t j = abs.find('/', i);
    if (j == std::string::npos) j = abs.size();
    std::string part = abs.substr(i, j - i);
    if (part == "..") {
      if (!parts.empty()) parts.pop_back();
    } else if (!part.empty() && part != ".") {
      parts.push_back(std::move(part));
    }
    i = j + 1;
  }
  std::string out;
  for (const auto& p : parts) out += "/" + p;
  return out.empty() ? "/" : out;
}

// --- exclude patterns -------------------------------------------------------------------------

struct Exclude {
  std::string pattern;
  bool dir_only = false;   // "cache/": directories only
  bool full_path = false;  // has a '/': matched against the absolute path
};

std::vector<Exclude> ParseExcludes(const std::vector<std::string>& patterns) {
  std::vector<Exclude> out;
  for (std::string p : patterns) {
    Exclude e;
    while (p.size() > 1 && p.back() == '/') {
      p.pop_back();
      e.dir_only = true;
    }
    if (p.empty()) continue;
    e.full_path = p.find('/') != std::string::npos;
    e.pattern = std::move(p);
    out.push_back(std::move(e));
  }
  return out;
}

bool Excluded(const std::vector<Exclude>& excludes, const std::string& path,
              const std::string& name, bool is_dir) {
  for (const Exclude& e : excludes) {
    if (e.dir_only && !is_dir) continue;
    if (!e.full_path) {
      if (fnmatch(e.pattern.c_str(), name.c_str(), FNM_PERIOD) == 0) return true;
      continue;
    }
    if (e.pattern[0] == '/') {
      if (fnmatch(e.pattern.c_str(), path.c_str(), FNM_PATHNAME) == 0) return true;
      continue;
    }
    // A relative pattern with a '/' ("cache/tmp") matches the path's trailing components.
    for (size_t k = path.find('/'); k != std::string::npos; k = path.find('/', k + 1))
      if (fnmatch(e.pattern.c_str(), path.c_str() + k + 1, FNM_PATHNAME) == 0) return true;
  }
  return false;
}

// --- a small work queue ---------------------------------------------------------------------

class Pool {
 public:
  explicit Pool(int threads) {
    for (int i = 0; i < std::max(1, threads); ++i) workers_.emplace_back([this] { Run(); });
  }
  ~Pool() {
    {
      std::lock_guard<std::mutex> lock(mu_);
      stop_ = true;
    }
    work_cv_.notify_all();
    for (auto& t : workers_) t.join();
  }

  // Queues a task; blocks while the queue is long, so the walker cannot run far ahead.
  void Submit(std::function<void()> task) {
    std::unique_lock<std::mutex> lock(mu_);
    room_cv_.wait(lock, [&] { return queue_.size() < kMaxQueued; });
    queue_.push_back(std::move(task));
    work_cv_.notify_one();
  }

  // Hands `task` to a worker only if one would otherwise sit idle; false = run it yourself.
  bool TrySubmitToIdle(std::function<void()>& task) {
    std::lock_guard<std::mutex> lock(mu_);
    if (idle_ <= queue_.size()) return false;
    queue_.push_front(std::move(task));
    work_cv_.notify_one();
    return true;
  }

  // Returns when the queue is empty and no task runs.
  void Wait() {
    std::unique_lock<std::mutex> lock(mu_);
    done_cv_.wait(lock, [&] { return queue_.empty() && active_ == 0; });
  }

 private:
  static constexpr size_t kMaxQueued = 256;

  void Run() {
    std::unique_lock<std::mutex> lock(mu_);
    for (;;) {
      ++idle_;
      work_cv_.wait(lock, [&] { return stop_ || !queue_.empty(); });
      --idle_;
      if (stop_ && queue_.empty()) return;
      std::function<void()> task = std::move(queue_.front());
      queue_.pop_front();
      ++active_;
      room_cv_.notify_one();
      lock.unlock();
      task();
      lock.lock();
      if (--active_ == 0 && queue_.empty()) done_cv_.notify_all();
    }
  }

  std::mutex mu_;
  std::condition_variable work_cv_, room_cv_, done_cv_;
  std::deque<std::function<void()>> queue_;
  size_t idle_ = 0, active_ = 0;
  bool stop_ = false;
  std::vector<std::thread> workers_;
};

// Read buffers are large; recycling them avoids an mmap and page faults per file.
class BufferPool {
 public:
  explicit BufferPool(size_t size) : size_(size) {}
  ~BufferPool() {
    for (uint8_t* b : free_) delete[] b;
  }
  std::shared_ptr<uint8_t> Get() {
    uint8_t* b = nullptr;
    {
      std::lock_guard<std::mutex> lock(mu_);
      if (!free_.empty()) {
        b = free_.back();
        free_.pop_back();
      }
    }
    if (!b) b = new uint8_t[size_];
    return std::shared_ptr<uint8_t>(b, [this](uint8_t* p) { Put(p); });
  }

 private:
  void Put(uint8_t* b) {
    std::lock_guard<std::mutex> lock(mu_);
    if (free_.size() < 16) {
      free_.push_back(b);
      return;
    }
    delete[] b;
  }
  const size_t size_;
  std::mutex mu_;
  std::vector<uint8_t*> free_;
};

// --- the run ----------------------------------------------------------------------------------

// A directory whose tree is being built. `pending` counts the walker's hold (released when the
// listing is processed) plus each child whose content or subtree is not done yet.
struct DirJob {
  DirJob* parent = nullptr;
  Node* node = nullptr;  // this directory's node in parent->nodes
  std::vector<Node> nodes;
  std::vector<char> skip;   // nodes dropped after listing (unreadable files); char, not bool
  std::optional<Tree> old;  // the parent snapshot's tree for this directory
  std::atomic<int> pending{1};

  const Node* OldNode(const std::string& name) const {
    if (!old) return nullptr;
    auto it = std::lower_bound(old->nodes.begin(), old->nodes.end(), name,
                               [](const Node& n, const std::string& s) { return n.name < s; });
    return it != old->nodes.end() && it->name == name ? &*it : nullptr;
  }
};

// The paths to back up as a tree of components from "/": intermediate directories are
// recorded with their own metadata; `covered` marks a given path (walked entirely).
struct Mirror {
  std::map<std::string, Mirror> children;
  bool covered = false;
};

struct FileTask {
  DirJob* dir;
  size_t index;
  std::string path;
  bool changed;  // present in the parent snapshot, but modified
  uint64_t size;
  bool maybe_sparse;
  std::deque<Id> ids;  // a deque: chunk savers hold pointers to their slots while it grows
  std::atomic<int> pending{1};
  bool failed = false;
};

class BackupRun {
 public:
  BackupRun(BlobStore* store, const BackupOptions& options)
      : store_(store),
        options_(options),
        chunker_(store->chunker()),
        excludes_(ParseExcludes(options.excludes)),
        // At least two chunks, so that an unfinished chunk plus max_size more always fit.
        block_size_(std::max<size_t>(kMinBlockSize, 2 * size_t{chunker_.params().max_size})),
        buffers_(block_size_),
        pool_(options.threads) {}

  StatusOr<BackupResult> Run();

 private:
  void WalkMirror(DirJob* dir, const std::string& path, const Mirror& mirror);
  void WalkDir(DirJob* dir, const std::string& path, dev_t root_dev);
  void ProcessChild(DirJob* dir, size_t i, const std::string& path, const struct stat& st,
                    dev_t root_dev, const Mirror* mirror);
  void StartDir(DirJob* parent, size_t i, const std::string& path, dev_t root_dev,
                const Mirror* mirror, bool descend);
  void HandleFile(DirJob* dir, size_t i, const std::string& path, const struct stat& st);
  void ReadFile(FileTask* task);
  Status ReadChunks(FileTask* task, int fd);
  void EmitChunk(FileTask* task, std::shared_ptr<uint8_t> block, const uint8_t* data, size_t n);
  void SaveChunk(std::string_view data, Id* slot);
  void FinishFile(FileTask* task);
  void DirDone(DirJob* dir);
  Id ZeroChunkId();

  bool FillNode(const std::string& path, const struct stat& st, Node* node);
  const std::string& UserName(uid_t uid);
  const std::string& GroupName(gid_t gid);
  void ReadXattrs(const std::string& path, Node* node);

  void AddError(std::string error) {
    std::lock_guard<std::mutex> lock(mu_);
    errors_.push_back(std::move(error));
  }
  void SetFatal(Status status) {
    std::lock_guard<std::mutex> lock(mu_);
    if (fatal_.ok()) fatal_ = std::move(status);
    aborted_ = true;
  }
  void AccountBlob(bool added, uint64_t raw, uint64_t stored) {
    if (!added) return;
    blobs_added_ += 1;
    bytes_added_ += raw;
    bytes_stored_ += stored;
  }
  void MaybeReport(const std::string& current, bool force = false);

  BlobStore* store_;
  const BackupOptions& options_;
  const Chunker& chunker_;
  std::vector<Exclude> excludes_;
  const size_t block_size_;
  BufferPool buffers_;

  std::mutex mu_;  // errors_, fatal_, the progress callback
  std::vector<std::string> errors_;
  Status fatal_;
  std::atomic<bool> aborted_{false};

  std::atomic<uint64_t> files_new_{0}, files_changed_{0}, files_unmodified_{0}, dirs_{0};
  std::atomic<uint64_t> bytes_processed_{0}, bytes_added_{0}, bytes_stored_{0}, blobs_added_{0};
  std::atomic<int64_t> next_report_ns_{0};

  // The chunk of zeros a long hole is cut into, computed on first use.
  std::once_flag zero_once_;
  size_t zero_len_ = 0;
  Id zero_id_;

  Id root_id_;
  std::unordered_map<uid_t, std::string> users_;   // walker thread only
  std::unordered_map<gid_t, std::string> groups_;  // walker thread only

  Pool pool_;  // last: its threads stop before the members they use go away
};

StatusOr<BackupResult> BackupRun::Run() {
  auto start = std::chrono::steady_clock::now();
  if (options_.paths.empty()) return InvalidArgument("backup: no paths given");
  Mirror root;
  for (const std::string& given : options_.paths) {
    ASSIGN_OR_RETURN(std::string path, CleanAbsolute(given));
    struct stat st;
    if (lstat(path.c_str(), &st) != 0)
      return Status(errno == ENOENT ? StatusCode::kNotFound : StatusCode::kIOError,
                    "backup: " + given + ": " + Errno(errno));
    Mirror* m = &root;
    for (size_t i = 1; i < path.size();) {
      size_t j = path.find('/', i);
      if (j == std::string::npos) j = path.size();
      m = &m->children[path.substr(i, j - i)];
      i = j + 1;
    }
    m->covered = true;
  }

  auto* top = new DirJob;
  if (root.covered) {
    struct stat st;
    if (lstat("/", &st) != 0) return ErrnoError("backup: lstat /", errno);
    dirs_ += 1;
    WalkDir(top, "/", st.st_dev);
  } else {
    WalkMirror(top, "", root);
  }
  DirDone(top);
  pool_.Wait();
  if (!fatal_.ok()) return fatal_;

  BackupResult result;
  result.tree = root_id_;
  SnapshotSummary& s = result.summary;
  s.files_new = files_new_;
  s.files_changed = files_changed_;
  s.files_unmodified = files_unmodified_;
  s.dirs = dirs_;
  s.bytes_processed = bytes_processed_;
  s.bytes_added = bytes_added_;
  s.bytes_stored = bytes_stored_;
  s.blobs_added = blobs_added_;
  s.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  std::sort(errors_.begin(), errors_.end());
  result.errors = std::move(errors_);
  MaybeReport("", /*force=*/true);
  return result;
}

// Lists a mirror directory: only the components leading to the given paths.
void BackupRun::WalkMirror(DirJob* dir, const std::string& path, const Mirror& mirror) {
  if (path.empty() && options_.parent_tree) {
    auto old = LoadTree(store_, *options_.parent_tree);
    if (old.ok()) dir->old = std::move(*old);
  }
  std::vector<std::pair<const Mirror*, struct stat>> children;
  std::vector<std::string> paths;
  for (const auto& [name, child] : mirror.children) {
    std::string full = Join(path, name);
    struct stat st;
    if (lstat(full.c_str(), &st) != 0) {
      AddError("lstat " + full + ": " + Errno(errno));
      continue;
    }
    // An intermediate component that is a symlink (/var/run → /run) stands for the
    // directory it leads to.
    if (!child.covered && !S_ISDIR(st.st_mode) &&
        (stat(full.c_str(), &st) != 0 || !S_ISDIR(st.st_mode))) {
      AddError("backup " + full + ": not a directory");
      continue;
    }
    Node node;
    node.name = name;
    if (!FillNode(full, st, &node)) continue;
    if (!child.covered) node.type = NodeType::kDir;
    dir->nodes.push_back(std::move(node));
    children.emplace_back(&child, st);
    paths.push_back(std::move(full));
  }
  dir->skip.assign(dir->nodes.size(), 0);
  for (size_t i = 0; i < dir->nodes.size(); ++i)
    ProcessChild(dir, i, paths[i], children[i].second, children[i].second.st_dev,
                 children[i].first);
}

void BackupRun::WalkDir(DirJob* dir, const std::string& path, dev_t root_dev) {
  if (path == "/" && options_.parent_tree) {
    auto old = LoadTree(store_, *options_.parent_tree);
    if (old.ok()) dir->old = std::move(*old);
  }
  int fd = open(path.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC | O_NOATIME);
  if (fd < 0 && errno == EPERM)
    fd = open(path.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
  DIR* d = fd >= 0 ? fdopendir(fd) : nullptr;
  if (!d) {
    AddError("open directory " + path + ": " + Errno(errno));
    if (fd >= 0) close(fd);
    return;
  }
  std::vector<std::string> names;
  errno = 0;
  while (struct dirent* e = readdir(d)) {
    if (strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, "..") != 0) names.emplace_back(e->d_name);
  }
  if (errno != 0) AddError("read directory " + path + ": " + Errno(errno));
  closedir(d);
  std::sort(names.begin(), names.end());

  std::vector<struct stat> stats;
  std::vector<std::string> paths;
  for (std::string& name : names) {
    std::string full = Join(path, name);
    struct stat st;
    if (lstat(full.c_str(), &st) != 0) {
      AddError("lstat " + full + ": " + Errno(errno));
      continue;
    }
    if (!excludes_.empty() && Excluded(excludes_, full, name, S_ISDIR(st.st_mode))) continue;
    Node node;
    node.name = std::move(name);
    if (!FillNode(full, st, &node)) continue;
    dir->nodes.push_back(std::move(node));
    stats.push_back(st);
    paths.push_back(std::move(full));
  }
  dir->skip.assign(dir->nodes.size(), 0);
  for (size_t i = 0; i < dir->nodes.size(); ++i)
    ProcessChild(dir, i, paths[i], stats[i], root_dev, nullptr);
}

// `mirror` is set for a child of a mirror directory (then it is either covered or another
// mirror directory).
void BackupRun::ProcessChild(DirJob* dir, size_t i, const std::string& path, const struct stat& st,
                             dev_t root_dev, const Mirror* mirror) {
  if (aborted_) return;  // the store failed: the run ends with that error, stop walking
  MaybeReport(path);
  if (mirror && !mirror->covered) {
    StartDir(dir, i, path, root_dev, mirror, true);
    return;
  }
  if (S_ISDIR(st.st_mode)) {
    bool descend = !options_.one_file_system || st.st_dev == root_dev;
    StartDir(dir, i, path, root_dev, nullptr, descend);
  } else if (S_ISREG(st.st_mode)) {
    HandleFile(dir, i, path, st);
  }
}

void BackupRun::StartDir(DirJob* parent, size_t i, const std::string& path, dev_t root_dev,
                         const Mirror* mirror, bool descend) {
  dirs_ += 1;
  auto* dir = new DirJob;
  dir->parent = parent;
  dir->node = &parent->nodes[i];
  if (const Node* old = parent->OldNode(dir->node->name);
      old && old->type == NodeType::kDir && old->subtree) {
    auto tree = LoadTree(store_, *old->subtree);
    if (tree.ok()) dir->old = std::move(*tree);
  }
  parent->pending += 1;
  if (mirror)
    WalkMirror(dir, path, *mirror);
  else if (descend)
    WalkDir(dir, path, root_dev);
  DirDone(dir);
}

void BackupRun::HandleFile(DirJob* dir, size_t i, const std::string& path, const struct stat& st) {
  Node& node = dir->nodes[i];
  const Node* old = dir->OldNode(node.name);
  if (old && old->type == NodeType::kFile && old->size == node.size &&
      old->mtime_ns == node.mtime_ns && old->ctime_ns == node.ctime_ns &&
      old->inode == node.inode &&
      std::all_of(old->content.begin(), old->content.end(),
                  [&](const Id& id) { return store_->HasBlob(BlobType::kData, id); })) {
    node.content = old->content;
    files_unmodified_ += 1;
    bytes_processed_ += node.size;
    return;
  }
  auto* task = new FileTask{
      dir, i,   path, old != nullptr, node.size, uint64_t(st.st_blocks) * 512 < node.size,
      {},  {1}, false};
  dir->pending += 1;
  pool_.Submit([this, task] { ReadFile(task); });
}

void BackupRun::ReadFile(FileTask* task) {
  if (task->size > 0 && !aborted_) {
    int fd = open(task->path.c_str(), O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NOATIME);
    if (fd < 0 && errno == EPERM) fd = open(task->path.c_str(), O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0) {
      AddError("open " + task->path + ": " + Errno(errno));
      task->failed = true;
    } else {
      Fd owned(fd);
      if (task->size > block_size_) posix_fadvise(fd, 0, 0, POSIX_FADV_SEQUENTIAL);
      Status st = ReadChunks(task, fd);
      if (!st.ok()) {
        AddError(st.message());
        task->failed = true;
      }
    }
  }
  if (--task->pending == 0) FinishFile(task);
}

// Where the data is: the first data extent that ends after a position (SEEK_DATA/SEEK_HOLE).
class DataMap {
 public:
  DataMap(int fd, uint64_t size, bool sparse) : fd_(fd), size_(size), sparse_(sparse) {}
  // True when `pos` is in a hole; the hole ends at data_start().
  bool InHole(uint64_t pos) {
    Locate(pos);
    return pos < start_;
  }
  uint64_t data_start() const { return start_; }
  uint64_t data_end() const { return end_; }
  void Locate(uint64_t pos) {
    if (valid_ && pos < end_) return;
    valid_ = true;
    if (!sparse_) {
      start_ = 0;
      end_ = size_;
      return;
    }
    off_t d = lseek(fd_, static_cast<off_t>(pos), SEEK_DATA);
    if (d < 0) {
      if (errno == ENXIO) {
        start_ = end_ = size_;  // only a hole up to the end
      } else {
        sparse_ = false;  // the file system cannot tell: read everything
        start_ = pos;
        end_ = size_;
      }
      return;
    }
    off_t h = lseek(fd_, d, SEEK_HOLE);
    start_ = std::min<uint64_t>(d, size_);
    end_ = h < 0 ? size_ : std::min<uint64_t>(h, size_);
    if (end_ <= pos) end_ = size_;  // the file changed under us; read the rest
  }

 private:
  int fd_;
  uint64_t size_;
  bool sparse_;
  bool valid_ = false;
  uint64_t start_ = 0, end_ = 0;
};

Status BackupRun::ReadChunks(FileTask* task, int fd) {
  const size_t max_size = chunker_.params().max_size;
  uint64_t size = task->size;
  DataMap map(fd, size, task->maybe_sparse);
  std::shared_ptr<uint8_t> block;
  uint64_t bstart = 0, bend = 0;  // the block holds file bytes [bstart, bend)
  uint64_t pos = 0;
  while (pos < size && !aborted_) {
    // Only past the buffer: inside it the bytes are at hand, and the map's cursor has moved on.
    if (pos >= bend && map.InHole(pos) && map.data_start() - pos >= max_size) {
      Id zero = ZeroChunkId();
      EmitChunk(task, nullptr, nullptr, 0);
      task->ids.back() = zero;
      pos += zero_len_;
      bytes_processed_ += zero_len_;
      continue;
    }
    uint64_t want = std::min<uint64_t>(max_size, size - pos);
    if (pos < bstart || pos + want > bend) {
      // Refill: keep the unfinished chunk's bytes, then read (or zero) up to a full block.
      std::shared_ptr<uint8_t> next = block && block.use_count() == 1 ? block : buffers_.Get();
      size_t keep = pos >= bstart && pos < bend ? bend - pos : 0;
      if (keep) memmove(next.get(), block.get() + (pos - bstart), keep);
      block = std::move(next);
      bstart = pos;
      bend = pos + keep;
      uint64_t limit = std::min<uint64_t>(size, bstart + block_size_);
      while (bend < limit) {
        map.Locate(bend);
        uint8_t* out = block.get() + (bend - bstart);
        if (bend < map.data_start()) {
          uint64_t n = std::min(limit, map.data_start()) - bend;
          memset(out, 0, n);
          bend += n;
          continue;
        }
        uint64_t n = std::min(limit, map.data_end()) - bend;
        ssize_t r = pread(fd, out, n, static_cast<off_t>(bend));
        if (r < 0) {
          if (errno == EINTR) continue;
          return ErrnoError("read " + task->path, errno);
        }
        if (r == 0) {  // the file shrank while we read it: back up what there is
          size = bend;
          limit = bend;
          break;
        }
        bend += r;
      }
      if (pos >= size) break;
    }
    size_t avail = bend - pos;
    size_t cut = chunker_.NextCut(block.get() + (pos - bstart), avail, bend >= size);
    if (cut == 0 || cut > avail) cut = avail;  // cannot happen with avail >= max_size or eof
    EmitChunk(task, block, block.get() + (pos - bstart), cut);
    pos += cut;
    bytes_processed_ += cut;
    MaybeReport(task->path);
  }
  task->size = pos;
  return Status::OK();
}

// Appends a slot for the chunk's id and saves it here or, when a worker is idle, there.
void BackupRun::EmitChunk(FileTask* task, std::shared_ptr<uint8_t> block, const uint8_t* data,
                          size_t n) {
  task->ids.emplace_back();
  if (!data) return;
  Id* slot = &task->ids.back();
  std::string_view bytes(reinterpret_cast<const char*>(data), n);
  task->pending += 1;
  std::function<void()> job = [this, task, block = std::move(block), bytes, slot] {
    SaveChunk(bytes, slot);
    if (--task->pending == 0) FinishFile(task);
  };
  if (pool_.TrySubmitToIdle(job)) return;
  task->pending -= 1;
  SaveChunk(bytes, slot);
}

void BackupRun::SaveChunk(std::string_view data, Id* slot) {
  if (aborted_) return;
  bool added = false;
  uint64_t stored = 0;
  auto id = store_->SaveBlob(BlobType::kData, data, &added, &stored);
  if (!id.ok()) {
    SetFatal(id.status().Annotate("backup: save chunk"));
    return;
  }
  *slot = *id;
  AccountBlob(added, data.size(), stored);
}

Id BackupRun::ZeroChunkId() {
  std::call_once(zero_once_, [this] {
    size_t max_size = chunker_.params().max_size;
    std::vector<uint8_t> zeros(max_size, 0);
    zero_len_ = chunker_.NextCut(zeros.data(), max_size, /*eof=*/false);
    if (zero_len_ == 0 || zero_len_ > max_size) zero_len_ = max_size;
    SaveChunk(std::string_view(reinterpret_cast<const char*>(zeros.data()), zero_len_), &zero_id_);
  });
  return zero_id_;
}

void BackupRun::FinishFile(FileTask* task) {
  DirJob* dir = task->dir;
  if (task->failed) {
    dir->skip[task->index] = 1;
  } else {
    Node& node = dir->nodes[task->index];
    node.content.assign(task->ids.begin(), task->ids.end());
    node.size = task->size;
    (task->changed ? files_changed_ : files_new_) += 1;
  }
  delete task;
  DirDone(dir);
}

void BackupRun::DirDone(DirJob* dir) {
  if (--dir->pending > 0) return;
  Tree tree;
  tree.nodes.reserve(dir->nodes.size());
  for (size_t i = 0; i < dir->nodes.size(); ++i)
    if (!dir->skip[i]) tree.nodes.push_back(std::move(dir->nodes[i]));
  std::string bytes = EncodeTree(tree);
  Id id;
  if (!aborted_) {
    bool added = false;
    uint64_t stored = 0;
    auto saved = store_->SaveBlob(BlobType::kTree, bytes, &added, &stored);
    if (saved.ok()) {
      id = *saved;
      AccountBlob(added, bytes.size(), stored);
    } else {
      SetFatal(saved.status().Annotate("backup: save tree"));
    }
  }
  DirJob* parent = dir->parent;
  if (parent)
    dir->node->subtree = id;
  else
    root_id_ = id;
  delete dir;
  if (parent) DirDone(parent);
}

// --- metadata ---------------------------------------------------------------------------------

bool BackupRun::FillNode(const std::string& path, const struct stat& st, Node* node) {
  switch (st.st_mode & S_IFMT) {
    case S_IFREG:
      node->type = NodeType::kFile;
      break;
    case S_IFDIR:
      node->type = NodeType::kDir;
      break;
    case S_IFLNK:
      node->type = NodeType::kSymlink;
      break;
    case S_IFBLK:
      node->type = NodeType::kDevice;
      break;
    case S_IFCHR:
      node->type = NodeType::kCharDevice;
      break;
    case S_IFIFO:
      node->type = NodeType::kFifo;
      break;
    case S_IFSOCK:
      node->type = NodeType::kSocket;
      break;
    default:
      AddError("backup " + path + ": unknown file type");
      return false;
  }
  node->mode = st.st_mode & 07777;
  node->uid = st.st_uid;
  node->gid = st.st_gid;
  node->user = UserName(st.st_uid);
  node->group = GroupName(st.st_gid);
  node->mtime_ns = Ns(st.st_mtim);
  node->atime_ns = Ns(st.st_atim);
  node->ctime_ns = Ns(st.st_ctim);
  node->inode = st.st_ino;
  node->device_id = st.st_dev;
  node->links = st.st_nlink;
  if (node->type == NodeType::kFile) node->size = st.st_size;
  if (node->type == NodeType::kDevice || node->type == NodeType::kCharDevice)
    node->rdev = st.st_rdev;
  if (node->type == NodeType::kSymlink) {
    std::string target(std::max<size_t>(st.st_size, 64) + 1, '\0');
    for (;;) {
      ssize_t n = readlink(path.c_str(), target.data(), target.size());
      if (n < 0) {
        AddError("readlink " + path + ": " + Errno(errno));
        return false;
      }
      if (static_cast<size_t>(n) < target.size()) {
        target.resize(n);
        break;
      }
      target.resize(target.size() * 2);
    }
    node->link_target = std::move(target);
  }
  ReadXattrs(path, node);
  return true;
}

void BackupRun::ReadXattrs(const std::string& path, Node* node) {
  std::string names(1024, '\0');
  ssize_t n = llistxattr(path.c_str(), names.data(), names.size());
  if (n < 0 && errno == ERANGE) {
    n = llistxattr(path.c_str(), nullptr, 0);
    if (n > 0) {
      names.resize(n);
      n = llistxattr(path.c_str(), names.data(), names.size());
    }
  }
  if (n < 0) {
    if (errno != ENOTSUP && errno != ENOENT) AddError("list xattrs " + path + ": " + Errno(errno));
    return;
  }
  for (size_t i = 0; i < static_cast<size_t>(n);) {
    std::string name(names.data() + i);
    i += name.size() + 1;
    if (name.empty()) continue;
    std::string value(256, '\0');
    ssize_t v = lgetxattr(path.c_str(), name.c_str(), value.data(), value.size());
    if (v < 0 && errno == ERANGE) {
      v = lgetxattr(path.c_str(), name.c_str(), nullptr, 0);
      if (v > 0) {
        value.resize(v);
        v = lgetxattr(path.c_str(), name.c_str(), value.data(), value.size());
      }
    }
    if (v < 0) {
      if (errno != ENODATA) AddError("read xattr " + name + " of " + path + ": " + Errno(errno));
      continue;
    }
    value.resize(v);
    node->xattrs.emplace_back(std::move(name), std::move(value));
  }
  std::sort(node->xattrs.begin(), node->xattrs.end());
}

const std::string& BackupRun::UserName(uid_t uid) {
  auto [it, inserted] = users_.try_emplace(uid);
  if (inserted) {
    struct passwd pw, *res = nullptr;
    std::vector<char> buf(4096);
    while (getpwuid_r(uid, &pw, buf.data(), buf.size(), &res) == ERANGE && buf.size() < (1u << 20))
      buf.resize(buf.size() * 2);
    if (res) it->second = res->pw_name;
  }
  return it->second;
}

const std::string& BackupRun::GroupName(gid_t gid) {
  auto [it, inserted] = groups_.try_emplace(gid);
  if (inserted) {
    struct group gr, *res = nullptr;
    std::vector<char> buf(4096);
    while (getgrgid_r(gid, &gr, buf.data(), buf.size(), &res) == ERANGE && buf.size() < (1u << 20))
      buf.resize(buf.size() * 2);
    if (res) it->second = res->gr_name;
  }
  return it->second;
}

void BackupRun::MaybeReport(const std::string& current, bool force) {
  if (!options_.progress) return;
  int64_t now = std::chrono::duration_cast<std::chrono::nanoseconds>(
                    std::chrono::steady_clock::now().time_since_epoch())
                    .count();
  int64_t next = next_report_ns_.load();
  if (!force && (now < next || !next_report_ns_.compare_exchange_strong(next, now + 100000000)))
    return;
  std::lock_guard<std::mutex> lock(mu_);
  Progress p;
  p.files = files_new_ + files_changed_ + files_unmodified_;
  p.dirs = dirs_;
  p.bytes = bytes_processed_;
  p.current = current;
  options_.progress(p);
}

}  // namespace

StatusOr<BackupResult> BackupPaths(BlobStore* store, const BackupOptions& options) {
  BackupRun run(store, options);
  return run.Run();
}

}  // namespace steward::backup
