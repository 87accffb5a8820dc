// The content-addressed cache (cache.h; on-disk layout in docs/formats/cache.md).
//
// Crash safety comes from the order of renames: every file is written under tmp/ and renamed
// into place; a Store makes its objects durable (fsync of data and directories) before the
// entry that names them appears. Concurrency: Store and Lookup hold a shared flock on `lock`
// and Prune an exclusive one, so prune never deletes an object a Store is about to reference;
// two Stores of the same key both write complete entries and the last rename wins. The hit and
// miss counters in stats.json are updated under their own flock.
#include "pipeline/cache.h"

#include <dirent.h>
#include <fcntl.h>
#include <spdlog/spdlog.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <map>
#include <set>
#include <utility>

#include "base/fd.h"
#include "base/json.h"
#include "base/sha256.h"

namespace steward::pipeline {
namespace {

constexpr size_t kChunk = 64 * 1024;
constexpr int64_t kStrayTempAgeMs = 60 * 1000;
constexpr int kEntryVersion = 1;

// ---- hashing -----------------------------------------------------------------------------

bool IsHex(std::string_view s, size_t min, size_t max) {
  if (s.size() < min || s.size() > max) return false;
  return std::all_of(s.begin(), s.end(),
                     [](char c) { return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'); });
}

// ---- files -------------------------------------------------------------------------------

// Wall-clock milliseconds, strictly increasing within the process so that uses in one
// millisecond still have an order (prune's LRU relies on it).
int64_t NowMs() {
  static std::atomic<int64_t> last{0};
  int64_t now = std::chrono::duration_cast<std::chrono::milliseconds>(
                    std::chrono::system_clock::now().time_since_epoch())
                    .count();
  int64_t prev = last.load();
  while (true) {
    int64_t next = std::max(now, prev + 1);
    if (last.compare_exchange_weak(prev, next)) return next;
  }
}


Status MakeDirs(const std::string& path) {
  if (path.empty()) return Status::OK();
  struct stat st;
  if (stat(path.c_str(), &st) == 0) {
    return S_ISDIR(st.st_mode) ? Status::OK() : FailedPrecondition(path + " is not a directory");
  }
  size_t slash = path.rfind('/');
  if (slash != std::string::npos && slash > 0) RETURN_IF_ERROR(MakeDirs(path.substr(0, slash)));
  if (mkdir(path.c_str(), 0755) != 0 && errno != EEXIST) return ErrnoError("mkdir " + path, errno);
  return Status::OK();
}

Status WriteAll(int fd, const char* data, size_t n, const std::string& what) {
  while (n > 0) {
    ssize_t w = write(fd, data, n);
    if (w < 0 && errno == EINTR) continue;
    if (w < 0) return ErrnoError("write " + what, errno);
    data += w;
    n -= static_cast<size_t>(w);
  }
  return Status::OK();
}

StatusOr<std::string> ReadSmallFile(const std::string& path) {
  Fd fd(open(path.c_str(), O_RDONLY | O_CLOEXEC));
  if (fd.get() < 0) return ErrnoError("open " + path, errno);
  std::string out;
  char buf[16384];
  for (;;) {
    ssize_t r = read(fd.get(), buf, sizeof buf);
    if (r < 0 && errno == EINTR) continue;
    if (r < 0) return ErrnoError("read " + path, errno);
    if (r == 0) break;
    out.append(buf, static_cast<size_t>(r));
  }
  return out;
}

// A temp file in dir that is unlinked unless Commit renames it into place.
class TempFile {
 public:
  explicit TempFile(const std::string& dir, const std::string& prefix = ".steward-tmp-") {
    path_ = dir + "/" + prefix + "XXXXXX";
    fd_ = mkostemp(path_.data(), O_CLOEXEC);
    if (fd_ < 0) error_ = errno;
  }
  ~TempFile() {
    if (fd_ >= 0) close(fd_);
    if (!committed_) unlink(path_.c_str());
  }
  Status status() const {
    return fd_ >= 0 ? Status::OK() : ErrnoError("create temp file " + path_, error_);
  }
  int fd() const { return fd_; }
  const std::string& path() const { return path_; }
  Status Commit(const std::string& dest, bool durable) {
    if (durable && fsync(fd_) != 0) return ErrnoError("fsync " + path_, errno);
    close(fd_);
    fd_ = -1;
    if (rename(path_.c_str(), dest.c_str()) != 0) return ErrnoError("rename to " + dest, errno);
    committed_ = true;
    return Status::OK();
  }

 private:
  std::string path_;
  int fd_ = -1;
  int error_ = 0;
  bool committed_ = false;
};

Status FsyncDir(const std::string& dir) {
  Fd fd(open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (fd.get() < 0 || fsync(fd.get()) != 0) return ErrnoError("fsync " + dir, errno);
  return Status::OK();
}

// Copies src_fd into dst_fd, hashing what passes through.
Status CopyHashing(int src_fd, int dst_fd, const std::string& what, Sha256Hasher* hash,
                   int64_t* size) {
  std::string buf(kChunk, '\0');
  *size = 0;
  for (;;) {
    ssize_t r = read(src_fd, buf.data(), buf.size());
    if (r < 0 && errno == EINTR) continue;
    if (r < 0) return ErrnoError("read " + what, errno);
    if (r == 0) return Status::OK();
    hash->Update(std::string_view(buf.data(), static_cast<size_t>(r)));
    if (dst_fd >= 0) RETURN_IF_ERROR(WriteAll(dst_fd, buf.data(), static_cast<size_t>(r), what));
    *size += r;
  }
}

// A relative path that stays below its root: no absolute path, no "..", nothing empty.
bool SafeRelative(const std::string& path) {
  if (path.empty() || path[0] == '/') return false;
  size_t start = 0;
  while (start <= path.size()) {
    size_t slash = path.find('/', start);
    if (slash == std::string::npos) slash = path.size();
    std::string_view seg(path.data() + start, slash - start);
    if (seg.empty() || seg == "." || seg == "..") return false;
    start = slash + 1;
  }
  return true;
}

// Creates the directories of rel below root, refusing to pass through a symbolic link (a link
// in the working copy must not redirect a restore outside it).
Status MakeParents(const std::string& root, const std::string& rel) {
  std::string path = root;
  size_t start = 0;
  for (;;) {
    size_t slash = rel.find('/', start);
    if (slash == std::string::npos) return Status::OK();
    path += "/" + rel.substr(start, slash - start);
    struct stat st;
    if (lstat(path.c_str(), &st) == 0) {
      if (S_ISLNK(st.st_mode)) {
        return FailedPrecondition("restore " + rel + ": " + path +
                                  " is a symbolic link; remove it to restore below it");
      }
      if (!S_ISDIR(st.st_mode)) {
        return FailedPrecondition("restore " + rel + ": " + path + " is not a directory");
      }
    } else if (mkdir(path.c_str(), 0755) != 0 && errno != EEXIST) {
      return ErrnoError("mkdir " + path, errno);
    }
    start = slash + 1;
  }
}

std::string DirOf(const std::string& path) {
  size_t slash = path.rfind('/');
  return slash == std::string::npos ? "." : path.substr(0, slash);
}

// ---- entries -----------------------------------------------------------------------------

nlohmann::json EntryBody(const CacheEntry& e) {
  nlohmann::json files = nlohmann::json::array();
  for (const CachedFile& f : e.files) {
    nlohmann::json jf = {{"path", f.path}, {"mode", f.mode}};
    if (f.link.empty()) {
      jf["object"] = f.object;
      jf["size"] = f.size;
    } else {
      jf["link"] = f.link;
    }
    files.push_back(std::move(jf));
  }
  return {{"version", kEntryVersion},  {"key", e.key},         {"job", e.job},
          {"files", std::move(files)}, {"outputs", e.outputs}, {"created_at_ms", e.created_at_ms},
          {"bytes", e.bytes}};
}

// The entry file: the body and its checksum. The time of last use is the file's mtime, so a
// lookup touches it with one utimensat instead of rewriting the file.
std::string SerializeEntry(const CacheEntry& e) {
  nlohmann::json body = EntryBody(e);
  std::string sum = Sha256Hex(JsonText(body));
  nlohmann::json doc = {{"entry", std::move(body)}, {"sha256", sum}};
  return JsonText(doc) + "\n";
}

timespec MsToTimespec(int64_t ms) {
  return timespec{static_cast<time_t>(ms / 1000), static_cast<long>((ms % 1000) * 1000000)};
}

int64_t MtimeMs(const struct stat& st) {
  return static_cast<int64_t>(st.st_mtim.tv_sec) * 1000 + st.st_mtim.tv_nsec / 1000000;
}

StatusOr<CacheEntry> ParseEntry(const std::string& text, const std::string& key) {
  nlohmann::json doc = nlohmann::json::parse(text, nullptr, false);
  if (doc.is_discarded() || !doc.is_object()) return Corruption("not JSON");
  try {
    const nlohmann::json& body = doc.at("entry");
    if (Sha256Hex(JsonText(body)) != doc.at("sha256").get<std::string>()) {
      return Corruption("checksum mismatch");
    }
    if (body.at("version").get<int>() != kEntryVersion) {
      return Corruption("unknown version " + body.at("version").dump());
    }
    CacheEntry e;
    e.key = body.at("key").get<std::string>();
    if (e.key != key) return Corruption("holds key " + e.key);
    e.job = body.at("job").get<std::string>();
    e.outputs = body.at("outputs");
    e.created_at_ms = body.at("created_at_ms").get<int64_t>();
    e.bytes = body.at("bytes").get<int64_t>();
    for (const nlohmann::json& jf : body.at("files")) {
      CachedFile f;
      f.path = jf.at("path").get<std::string>();
      f.mode = jf.at("mode").get<uint32_t>() & 07777;
      if (!SafeRelative(f.path)) return Corruption("unsafe path " + f.path);
      if (jf.contains("link")) {
        f.link = jf.at("link").get<std::string>();
        if (f.link.empty()) return Corruption("empty link for " + f.path);
      } else {
        f.object = jf.at("object").get<std::string>();
        f.size = jf.at("size").get<int64_t>();
        if (!IsHex(f.object, 64, 64)) return Corruption("bad object name for " + f.path);
      }
      e.files.push_back(std::move(f));
    }
    return e;
  } catch (const nlohmann::json::exception& ex) {
    return Corruption(ex.what());
  }
}

// Reads and checks one entry file; NotFound when there is none.
StatusOr<CacheEntry> ReadEntry(const std::string& path, const std::string& key) {
  Fd fd(open(path.c_str(), O_RDONLY | O_CLOEXEC));
  if (fd.get() < 0) {
    if (errno == ENOENT) return NotFound("no entry " + path);
    return ErrnoError("open " + path, errno);
  }
  struct stat st;
  if (fstat(fd.get(), &st) != 0) return ErrnoError("stat " + path, errno);
  std::string text(static_cast<size_t>(st.st_size), '\0');
  size_t got = 0;
  while (got < text.size()) {
    ssize_t r = read(fd.get(), text.data() + got, text.size() - got);
    if (r < 0 && errno == EINTR) continue;
    if (r < 0) return ErrnoError("read " + path, errno);
    if (r == 0) break;
    got += static_cast<size_t>(r);
  }
  text.resize(got);
  StatusOr<CacheEntry> e = ParseEntry(text, key);
  if (e.ok()) e->last_used_ms = MtimeMs(st);
  return e;
}

// A flock held for the scope; released (with the fd) on destruction.
class FileLock {
 public:
  FileLock(const std::string& path, int op) {
    fd_ = open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
    if (fd_ < 0) {
      error_ = ErrnoError("open " + path, errno);
      return;
    }
    while (flock(fd_, op) != 0) {
      if (errno != EINTR) {
        error_ = ErrnoError("flock " + path, errno);
        return;
      }
    }
  }
  ~FileLock() {
    if (fd_ >= 0) close(fd_);
  }
  const Status& status() const { return error_; }
  int fd() const { return fd_; }

 private:
  int fd_ = -1;
  Status error_;
};

// Files directly inside the two-level fan-out (objects/ab/..., entries/12/...).
template <typename Fn>
void ForEachFanned(const std::string& top, Fn fn) {
  DIR* dir = opendir(top.c_str());
  if (dir == nullptr) return;
  std::vector<std::string> subs;
  while (dirent* e = readdir(dir)) {
    if (e->d_name[0] != '.') subs.push_back(e->d_name);
  }
  closedir(dir);
  for (const std::string& sub : subs) {
    std::string subdir = top + "/" + sub;
    DIR* d = opendir(subdir.c_str());
    if (d == nullptr) continue;
    while (dirent* e = readdir(d)) {
      if (e->d_name[0] == '.') continue;
      std::string path = subdir + "/" + e->d_name;
      struct stat st;
      if (lstat(path.c_str(), &st) == 0 && S_ISREG(st.st_mode))
        fn(std::string(e->d_name), path, st);
    }
    closedir(d);
  }
}

}  // namespace

// ---- KeyBuilder, HashFile ----------------------------------------------------------------

struct KeyBuilder::Impl {
  Sha256Hasher hash;
  void Frame(std::string_view s) {
    uint64_t n = s.size();
    unsigned char len[8];
    for (int i = 0; i < 8; ++i) len[i] = static_cast<unsigned char>(n >> (8 * i));
    hash.Update(std::string_view(reinterpret_cast<const char*>(len), sizeof len));
    hash.Update(s);
  }
};

KeyBuilder::KeyBuilder() : impl_(std::make_unique<Impl>()) {}
KeyBuilder::~KeyBuilder() = default;

void KeyBuilder::Add(std::string_view name, std::string_view value) {
  // Length-prefixed, so ("a","bc") and ("ab","c") hash differently.
  impl_->Frame(name);
  impl_->Frame(value);
}

Status KeyBuilder::AddFiles(const std::string& root, const std::vector<std::string>& patterns) {
  StatusOr<std::vector<std::string>> files = Glob(root, patterns);
  if (!files.ok()) return files.status().Annotate("cache inputs");
  for (const std::string& rel : *files) {
    std::string path = root + "/" + rel;
    struct stat st;
    if (lstat(path.c_str(), &st) != 0) return ErrnoError("cache inputs: " + path, errno);
    if (S_ISLNK(st.st_mode)) {
      char target[4096];
      ssize_t n = readlink(path.c_str(), target, sizeof target);
      if (n < 0) return ErrnoError("cache inputs: readlink " + path, errno);
      Add("symlink", rel);
      Add("target", std::string_view(target, static_cast<size_t>(n)));
      continue;
    }
    StatusOr<std::string> sum = HashFile(path);
    if (!sum.ok()) return sum.status().Annotate("cache inputs");
    Add("file", rel);
    Add("executable", (st.st_mode & 0111) ? "yes" : "no");
    Add("sha256", *sum);
  }
  Add("files", std::to_string(files->size()));
  return Status::OK();
}

std::string KeyBuilder::Finish() { return impl_->hash.HexDigest(); }

StatusOr<std::string> HashFile(const std::string& path) {
  Fd fd(open(path.c_str(), O_RDONLY | O_CLOEXEC));
  if (fd.get() < 0) return ErrnoError("hash " + path, errno);
  Sha256Hasher hash;
  int64_t size = 0;
  RETURN_IF_ERROR(CopyHashing(fd.get(), -1, path, &hash, &size));
  return hash.HexDigest();
}

// ---- Cache -------------------------------------------------------------------------------

namespace {

struct Paths {
  std::string dir;
  std::string Object(const std::string& hash) const {
    return dir + "/objects/" + hash.substr(0, 2) + "/" + hash;
  }
  std::string Entry(const std::string& key) const {
    return dir + "/entries/" + key.substr(0, 2) + "/" + key + ".json";
  }
  std::string Tmp() const { return dir + "/tmp"; }
  std::string Lock() const { return dir + "/lock"; }
  std::string StatsFile() const { return dir + "/stats.json"; }
};

Status CheckKey(const std::string& key) {
  if (IsHex(key, 16, 128)) return Status::OK();
  return InvalidArgument("cache key '" + key + "' is not lowercase hex (from KeyBuilder::Finish)");
}

// Adds to the hit or miss counter in stats.json, under an flock on the file itself.
void CountLookup(const Paths& p, bool hit) {
  FileLock lock(p.StatsFile(), LOCK_EX);
  if (!lock.status().ok()) {
    spdlog::warn("msg=\"cache stats\" error=\"{}\"", lock.status().message());
    return;
  }
  std::string text;
  char buf[512];
  ssize_t n = pread(lock.fd(), buf, sizeof buf, 0);
  if (n > 0) text.assign(buf, static_cast<size_t>(n));
  nlohmann::json stats = nlohmann::json::parse(text, nullptr, false);
  if (!stats.is_object()) stats = {{"hits", 0}, {"misses", 0}};  // new, or torn by a crash
  const char* field = hit ? "hits" : "misses";
  stats[field] = stats.value(field, int64_t{0}) + 1;
  std::string out = stats.dump() + "\n";
  if (pwrite(lock.fd(), out.data(), out.size(), 0) != static_cast<ssize_t>(out.size()) ||
      ftruncate(lock.fd(), static_cast<off_t>(out.size())) != 0) {
    spdlog::warn("msg=\"cache stats\" error=\"write {} failed\"", p.StatsFile());
  }
}

// Copies one file of the working copy into the object store; returns its hash and size.
StatusOr<std::pair<std::string, int64_t>> StoreObject(const Paths& p, const std::string& path,
                                                      std::set<std::string>* dirty_dirs) {
  Fd src(open(path.c_str(), O_RDONLY | O_CLOEXEC));
  if (src.get() < 0) return ErrnoError("cache store: open " + path, errno);
  TempFile tmp(p.Tmp());
  RETURN_IF_ERROR(tmp.status());
  Sha256Hasher hash;
  int64_t size = 0;
  RETURN_IF_ERROR(CopyHashing(src.get(), tmp.fd(), path, &hash, &size));
  std::string sum = hash.HexDigest();
  std::string dest = p.Object(sum);
  if (access(dest.c_str(), F_OK) == 0) return std::make_pair(sum, size);  // stored before
  RETURN_IF_ERROR(MakeDirs(DirOf(dest)));
  RETURN_IF_ERROR(tmp.Commit(dest, true));
  dirty_dirs->insert(DirOf(dest));
  return std::make_pair(sum, size);
}

// A restored file or link written beside its destination, renamed into place once every file
// of the entry has been checked.
struct Staged {
  std::unique_ptr<TempFile> file;  // a regular file
  std::string link_tmp;            // or a symbolic link's temporary name
  std::string dest;
  Staged(std::unique_ptr<TempFile> f, std::string link, std::string to)
      : file(std::move(f)), link_tmp(std::move(link)), dest(std::move(to)) {}
  Staged(Staged&& o) noexcept
      : file(std::move(o.file)), link_tmp(std::exchange(o.link_tmp, {})), dest(std::move(o.dest)) {}
  Staged& operator=(Staged&&) = delete;
  ~Staged() {
    if (!link_tmp.empty()) unlink(link_tmp.c_str());
  }
  Status Commit() {
    if (file) return file->Commit(dest, false);
    if (rename(link_tmp.c_str(), dest.c_str()) != 0) return ErrnoError("rename to " + dest, errno);
    link_tmp.clear();
    return Status::OK();
  }
};

// Writes one file of an entry into root's tree as a temp file beside its destination, checking
// the object's hash on the way.
Status StageFile(const Paths& p, const CachedFile& f, const std::string& root,
                 std::vector<Staged>* staged) {
  if (!SafeRelative(f.path)) return Corruption("cache entry names unsafe path " + f.path);
  RETURN_IF_ERROR(MakeParents(root, f.path));
  std::string dest = root + "/" + f.path;
  if (!f.link.empty()) {
    std::string tmp =
        DirOf(dest) + "/.steward-link-" + std::to_string(getpid()) + "-" + std::to_string(NowMs());
    if (symlink(f.link.c_str(), tmp.c_str()) != 0) return ErrnoError("symlink " + tmp, errno);
    staged->push_back(Staged{nullptr, tmp, dest});
    return Status::OK();
  }
  std::string object = p.Object(f.object);
  Fd src(open(object.c_str(), O_RDONLY | O_CLOEXEC));
  if (src.get() < 0) return ErrnoError("cache object " + f.object + " for " + f.path, errno);
  auto tmp = std::make_unique<TempFile>(DirOf(dest), ".steward-restore-");
  RETURN_IF_ERROR(tmp->status());
  Sha256Hasher hash;
  int64_t size = 0;
  RETURN_IF_ERROR(CopyHashing(src.get(), tmp->fd(), object, &hash, &size));
  if (hash.HexDigest() != f.object || size != f.size) {
    // Remove it so the next Store writes it afresh; entries naming it miss until then.
    unlink(object.c_str());
    return Corruption("cache object " + f.object + " for " + f.path +
                      " is damaged (its SHA-256 does not match); removed it, run the job");
  }
  if (fchmod(tmp->fd(), f.mode & 07777) != 0) return ErrnoError("chmod " + tmp->path(), errno);
  staged->push_back(Staged{std::move(tmp), "", dest});
  return Status::OK();
}

}  // namespace

Cache::Cache(std::string dir) : dir_(std::move(dir)) {}
Cache::~Cache() = default;

StatusOr<std::unique_ptr<Cache>> Cache::Open(const std::string& dir) {
  if (dir.empty()) return InvalidArgument("cache directory is empty");
  for (const char* sub : {"/objects", "/entries", "/tmp"}) {
    Status st = MakeDirs(dir + sub);
    if (!st.ok()) return st.Annotate("open cache");
  }
  return std::unique_ptr<Cache>(new Cache(dir));
}

StatusOr<std::optional<CacheEntry>> Cache::Lookup(const std::string& key) {
  RETURN_IF_ERROR(CheckKey(key));
  Paths p{dir_};
  FileLock lock(p.Lock(), LOCK_SH);
  RETURN_IF_ERROR(lock.status());
  std::string path = p.Entry(key);
  StatusOr<CacheEntry> entry = ReadEntry(path, key);
  if (!entry.ok() && entry.status().code() == StatusCode::kNotFound) {
    CountLookup(p, false);
    return std::optional<CacheEntry>();
  }
  Status missing;
  if (entry.ok()) {
    for (const CachedFile& f : entry->files) {
      if (f.link.empty() && access(p.Object(f.object).c_str(), F_OK) != 0) {
        missing = NotFound("object " + f.object + " of " + f.path + " is missing");
        break;
      }
    }
  }
  if (!entry.ok() || !missing.ok()) {
    Status why = entry.ok() ? missing : entry.status();
    spdlog::warn("msg=\"damaged cache entry, treated as a miss\" path={} error=\"{}\"", path,
                 why.message());
    CountLookup(p, false);
    return std::optional<CacheEntry>();
  }
  entry->last_used_ms = NowMs();
  timespec times[2] = {MsToTimespec(entry->last_used_ms), MsToTimespec(entry->last_used_ms)};
  if (utimensat(AT_FDCWD, path.c_str(), times, 0) != 0) {
    spdlog::warn("msg=\"cache touch\" path={} error=\"{}\"", path, strerror(errno));
  }
  CountLookup(p, true);
  return std::optional<CacheEntry>(std::move(*entry));
}

Status Cache::Restore(const CacheEntry& entry, const std::string& root) {
  Paths p{dir_};
  std::vector<Staged> staged;
  staged.reserve(entry.files.size());
  Status st = MakeDirs(root);
  for (const CachedFile& f : entry.files) {
    st = StageFile(p, f, root, &staged);
    if (!st.ok()) break;
  }
  for (Staged& s : staged) {
    if (!st.ok()) break;
    st = s.Commit();
  }
  return st.Annotate("cache restore " + entry.key.substr(0, 12));
}

StatusOr<CacheEntry> Cache::Store(const std::string& key, const std::string& job,
                                  const std::string& root,
                                  const std::vector<std::string>& output_patterns,
                                  const nlohmann::json& outputs) {
  RETURN_IF_ERROR(CheckKey(key));
  Paths p{dir_};
  FileLock lock(p.Lock(), LOCK_SH);
  RETURN_IF_ERROR(lock.status());
  StatusOr<std::vector<std::string>> files = Glob(root, output_patterns);
  if (!files.ok()) return files.status().Annotate("cache outputs");
  CacheEntry entry;
  entry.key = key;
  entry.job = job;
  entry.outputs = outputs;
  std::set<std::string> dirty_dirs;
  for (const std::string& rel : *files) {
    std::string path = root + "/" + rel;
    struct stat st;
    if (lstat(path.c_str(), &st) != 0) return ErrnoError("cache store: " + path, errno);
    CachedFile f;
    f.path = rel;
    f.mode = st.st_mode & 07777;
    if (S_ISLNK(st.st_mode)) {
      char target[4096];
      ssize_t n = readlink(path.c_str(), target, sizeof target);
      if (n <= 0) return ErrnoError("cache store: readlink " + path, errno);
      f.link.assign(target, static_cast<size_t>(n));
    } else {
      ASSIGN_OR_RETURN(auto stored, StoreObject(p, path, &dirty_dirs));
      f.object = stored.first;
      f.size = stored.second;
      entry.bytes += f.size;
    }
    entry.files.push_back(std::move(f));
  }
  for (const std::string& d : dirty_dirs) RETURN_IF_ERROR(FsyncDir(d));
  entry.created_at_ms = entry.last_used_ms = NowMs();
  std::string path = p.Entry(key);
  RETURN_IF_ERROR(MakeDirs(DirOf(path)));
  TempFile tmp(p.Tmp());
  RETURN_IF_ERROR(tmp.status());
  std::string text = SerializeEntry(entry);
  RETURN_IF_ERROR(WriteAll(tmp.fd(), text.data(), text.size(), tmp.path()));
  timespec times[2] = {MsToTimespec(entry.last_used_ms), MsToTimespec(entry.last_used_ms)};
  if (futimens(tmp.fd(), times) != 0) return ErrnoError("set time of " + tmp.path(), errno);
  RETURN_IF_ERROR(tmp.Commit(path, true));
  return entry;
}

StatusOr<CacheStats> Cache::Stats() {
  Paths p{dir_};
  CacheStats s;
  FileLock lock(p.Lock(), LOCK_SH);
  RETURN_IF_ERROR(lock.status());
  ForEachFanned(dir_ + "/objects",
                [&](const std::string&, const std::string&, const struct stat& st) {
                  ++s.objects;
                  s.bytes += st.st_size;
                });
  ForEachFanned(dir_ + "/entries",
                [&](const std::string& name, const std::string& path, const struct stat& st) {
                  ++s.entries;
                  s.bytes += st.st_size;
                  StatusOr<CacheEntry> e = ReadEntry(path, name.substr(0, name.size() - 5));
                  if (!e.ok()) return;
                  if (s.oldest_used_ms == 0 || e->last_used_ms < s.oldest_used_ms)
                    s.oldest_used_ms = e->last_used_ms;
                  s.newest_used_ms = std::max(s.newest_used_ms, e->last_used_ms);
                });
  FileLock stats_lock(p.StatsFile(), LOCK_SH);
  if (stats_lock.status().ok()) {
    StatusOr<std::string> text = ReadSmallFile(p.StatsFile());
    nlohmann::json j = nlohmann::json::parse(text.ok() ? *text : "", nullptr, false);
    if (j.is_object()) {
      s.hits = j.value("hits", int64_t{0});
      s.misses = j.value("misses", int64_t{0});
    }
  }
  return s;
}

StatusOr<PruneResult> Cache::Prune(const PruneOptions& options) {
  Paths p{dir_};
  FileLock lock(p.Lock(), LOCK_EX);
  RETURN_IF_ERROR(lock.status());
  struct Loaded {
    std::string path;
    int64_t file_bytes;
    std::optional<CacheEntry> entry;  // nullopt: damaged
  };
  std::vector<Loaded> entries;
  ForEachFanned(dir_ + "/entries",
                [&](const std::string& name, const std::string& path, const struct stat& st) {
                  Loaded l{path, st.st_size, std::nullopt};
                  StatusOr<CacheEntry> e = ReadEntry(path, name.substr(0, name.size() - 5));
                  if (e.ok()) l.entry = std::move(*e);
                  entries.push_back(std::move(l));
                });
  std::map<std::string, int64_t> object_bytes;
  ForEachFanned(dir_ + "/objects", [&](const std::string& name, const std::string&,
                                       const struct stat& st) { object_bytes[name] = st.st_size; });

  const int64_t now = NowMs();
  std::vector<bool> drop(entries.size(), false);
  std::map<std::string, int> refs;
  for (size_t i = 0; i < entries.size(); ++i) {
    const auto& e = entries[i].entry;
    drop[i] = options.all || !e ||
              (options.older_than_ms >= 0 && now - e->last_used_ms > options.older_than_ms);
    if (drop[i]) continue;
    for (const CachedFile& f : e->files) {
      if (f.link.empty()) ++refs[f.object];
    }
  }
  if (options.max_bytes >= 0) {
    int64_t total = 0;
    std::vector<size_t> kept;
    for (size_t i = 0; i < entries.size(); ++i) {
      if (!drop[i]) {
        total += entries[i].file_bytes;
        kept.push_back(i);
      }
    }
    for (const auto& [object, n] : refs)
      total += object_bytes.count(object) ? object_bytes[object] : 0;
    std::sort(kept.begin(), kept.end(), [&](size_t a, size_t b) {
      return entries[a].entry->last_used_ms < entries[b].entry->last_used_ms;
    });
    for (size_t i : kept) {
      if (total <= options.max_bytes) break;
      drop[i] = true;
      total -= entries[i].file_bytes;
      for (const CachedFile& f : entries[i].entry->files) {
        if (!f.link.empty()) continue;
        if (--refs[f.object] == 0 && object_bytes.count(f.object)) total -= object_bytes[f.object];
      }
    }
  }

  PruneResult r;
  auto remove = [&](const std::string& path, int64_t bytes) {
    if (options.dry_run || unlink(path.c_str()) == 0 || errno == ENOENT) r.bytes_freed += bytes;
  };
  for (size_t i = 0; i < entries.size(); ++i) {
    if (!drop[i]) continue;
    ++r.entries_removed;
    remove(entries[i].path, entries[i].file_bytes);
  }
  for (const auto& [object, bytes] : object_bytes) {
    auto it = refs.find(object);
    if (it != refs.end() && it->second > 0) continue;
    ++r.objects_removed;
    remove(p.Object(object), bytes);
  }
  // Temp files of a Store or Lookup killed half-way (one running now is younger than this).
  if (DIR* d = opendir(p.Tmp().c_str())) {
    while (dirent* e = readdir(d)) {
      if (e->d_name[0] == '.' && (e->d_name[1] == '\0' || e->d_name[1] == '.')) continue;
      std::string path = p.Tmp() + "/" + e->d_name;
      struct stat st;
      if (lstat(path.c_str(), &st) != 0) continue;
      if (now - MtimeMs(st) > kStrayTempAgeMs) remove(path, st.st_size);
    }
    closedir(d);
  }
  return r;
}

// ---- artifacts ---------------------------------------------------------------------------

namespace {

// Copies one file or symbolic link, keeping its mode; the copy appears whole (temp + rename).
Status CopyEntry(const std::string& from, const std::string& to_root, const std::string& rel) {
  RETURN_IF_ERROR(MakeParents(to_root, rel));
  std::string to = to_root + "/" + rel;
  struct stat st;
  if (lstat(from.c_str(), &st) != 0) return ErrnoError("copy " + from, errno);
  if (S_ISLNK(st.st_mode)) {
    char target[4096];
    ssize_t n = readlink(from.c_str(), target, sizeof target);
    if (n <= 0) return ErrnoError("readlink " + from, errno);
    std::string tmp = to + ".steward-link-" + std::to_string(NowMs());
    if (symlink(std::string(target, static_cast<size_t>(n)).c_str(), tmp.c_str()) != 0) {
      return ErrnoError("symlink " + tmp, errno);
    }
    if (rename(tmp.c_str(), to.c_str()) != 0) {
      int err = errno;
      unlink(tmp.c_str());
      return ErrnoError("rename to " + to, err);
    }
    return Status::OK();
  }
  Fd src(open(from.c_str(), O_RDONLY | O_CLOEXEC));
  if (src.get() < 0) return ErrnoError("copy " + from, errno);
  TempFile tmp(DirOf(to), ".steward-copy-");
  RETURN_IF_ERROR(tmp.status());
  Sha256Hasher unused;
  int64_t size = 0;
  RETURN_IF_ERROR(CopyHashing(src.get(), tmp.fd(), from, &unused, &size));
  if (fchmod(tmp.fd(), st.st_mode & 07777) != 0) return ErrnoError("chmod " + to, errno);
  return tmp.Commit(to, false);
}

}  // namespace

StatusOr<std::vector<std::string>> SaveArtifacts(const std::string& root,
                                                 const std::vector<std::string>& patterns,
                                                 const std::string& dest) {
  StatusOr<std::vector<std::string>> files = Glob(root, patterns);
  if (!files.ok()) return files.status().Annotate("artifacts");
  RETURN_IF_ERROR(MakeDirs(dest));
  for (const std::string& rel : *files) {
    RETURN_IF_ERROR(CopyEntry(root + "/" + rel, dest, rel).Annotate("save artifact " + rel));
  }
  return files;
}

Status RestoreArtifacts(const std::string& src, const std::string& root) {
  struct stat st;
  if (stat(src.c_str(), &st) != 0) return ErrnoError("restore artifacts from " + src, errno);
  StatusOr<std::vector<std::string>> files = Glob(src, {"**"});
  if (!files.ok()) return files.status().Annotate("restore artifacts");
  for (const std::string& rel : *files) {
    RETURN_IF_ERROR(CopyEntry(src + "/" + rel, root, rel).Annotate("restore artifact " + rel));
  }
  return Status::OK();
}

}  // namespace steward::pipeline
