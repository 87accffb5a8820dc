// The local-directory backend: one folder per FileType, data/ fanned out into 256 subfolders
// by the first two hex digits of the name (a repository of millions of packs must not put
// them all in one directory). Save writes a ".tmp-" file beside the final name and link()s it
// into place: link fails with EEXIST instead of replacing, so two writers of the same name
// cannot both win, and a crash leaves only a temp file that List never shows.
#include "backup/backend.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <filesystem>
#include <string>
#include <vector>

#include "base/fd.h"

namespace steward::backup {

namespace {

constexpr std::string_view kTempPrefix = ".tmp-";
constexpr std::string_view kConfigName = "config";
constexpr FileType kAllDirTypes[] = {FileType::kKey, FileType::kData, FileType::kIndex,
                                     FileType::kSnapshot, FileType::kLock};

bool IsTemporary(std::string_view name) {
  return name.substr(0, kTempPrefix.size()) == kTempPrefix;
}

std::string HexByte(unsigned b) {
  char hex[3];
  std::snprintf(hex, sizeof hex, "%02x", b & 0xff);
  return hex;
}

std::string TempSuffix() {
  unsigned char bytes[8];
  // getrandom of 8 bytes does not block once the pool is up and is not interrupted below
  // 256 bytes; a failure falls back to pid and address bits, and O_EXCL catches a collision.
  if (getrandom(bytes, sizeof bytes, 0) != static_cast<ssize_t>(sizeof bytes)) {
    uint64_t fallback = static_cast<uint64_t>(getpid()) << 32 ^
                        reinterpret_cast<uintptr_t>(&bytes) ^ static_cast<uint64_t>(time(nullptr));
    __builtin_memcpy(bytes, &fallback, sizeof bytes);
  }
  std::string s;
  for (unsigned char b : bytes) s += HexByte(b);
  return s;
}

// A name is one path component a peer could not use to escape the folder.
Status CheckName(FileType type, std::string_view name) {
  if (type == FileType::kConfig) return Status::OK();
  if (name.empty() || name == "." || name == ".." || name.find('/') != std::string_view::npos ||
      name.find('\0') != std::string_view::npos)
    return InvalidArgument("invalid repository file name '" + std::string(name) +
                           "' (want one path component, e.g. 64 hex digits)");
  if (IsTemporary(name))
    return InvalidArgument("invalid repository file name '" + std::string(name) +
                           "': names starting with .tmp- are reserved for unfinished writes");
  if (type == FileType::kData && name.size() < 2)
    return InvalidArgument("invalid pack name '" + std::string(name) +
                           "' (want at least two hex digits, it is stored under data/<xx>/)");
  return Status::OK();
}

// Returns 0 or the errno of the failed write.
int WriteAll(int fd, std::string_view data) {
  while (!data.empty()) {
    ssize_t n = write(fd, data.data(), data.size());
    if (n < 0) {
      if (errno == EINTR) continue;
      return errno;
    }
    data.remove_prefix(static_cast<size_t>(n));
  }
  return 0;
}

Status SyncDir(const std::string& dir) {
  Fd fd(open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (fd.get() < 0) return ErrnoError("open " + dir, errno);
  if (fsync(fd.get()) != 0) return ErrnoError("fsync " + dir, errno);
  return Status::OK();
}

Status MakeDir(const std::string& dir) {
  if (mkdir(dir.c_str(), 0700) != 0 && errno != EEXIST) return ErrnoError("mkdir " + dir, errno);
  return Status::OK();
}

class LocalBackend : public Backend {
 public:
  LocalBackend(std::string root, bool append_only)
      : root_(std::move(root)), append_only_(append_only) {}

  std::string Location() const override { return "local:" + root_; }

  Status Save(FileType type, std::string_view name, std::string_view data) override {
    RETURN_IF_ERROR(CheckName(type, name));
    const std::string dir = DirOf(type, name);
    const std::string path = PathOf(type, name);
    const std::string tmp = dir + "/" + std::string(kTempPrefix) + TempSuffix();
    // 0400: repository files are never modified, only removed (which needs the folder's
    // permission, not the file's); writing through the returned descriptor is still allowed.
    int raw = open(tmp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0400);
    if (raw < 0 && errno == ENOENT && type == FileType::kData) {
      // A data/<xx> folder removed by hand (or a repository copied without empty folders).
      RETURN_IF_ERROR(MakeDir(dir));
      raw = open(tmp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0400);
    }
    Fd fd(raw);
    if (fd.get() < 0) return ErrnoError("save " + path, errno);
    int err = WriteAll(fd.get(), data);
    if (err == 0 && fsync(fd.get()) != 0) err = errno;
    if (err == 0 && close(fd.release()) != 0) err = errno;
    if (err != 0) {
      unlink(tmp.c_str());
      return ErrnoError("save " + path, err);
    }
    if (link(tmp.c_str(), path.c_str()) != 0) {
      err = errno;
      unlink(tmp.c_str());
      if (err == EEXIST)
        return AlreadyExists("save " + path + ": " + Rel(type, name) + " already exists");
      return ErrnoError("save " + path, err);
    }
    unlink(tmp.c_str());
    return SyncDir(dir).Annotate("save " + path);
  }

  Status Load(FileType type, std::string_view name, std::string* out, uint64_t offset,
              uint64_t length) override {
    RETURN_IF_ERROR(CheckName(type, name));
    const std::string path = PathOf(type, name);
    Fd fd(open(path.c_str(), O_RDONLY | O_CLOEXEC));
    if (fd.get() < 0) return OpenError("load", path, errno);
    struct stat st;
    if (fstat(fd.get(), &st) != 0) return ErrnoError("load " + path, errno);
    const uint64_t size = static_cast<uint64_t>(st.st_size);
    const uint64_t want = length == 0 ? (offset <= size ? size - offset : 0) : length;
    if (offset > size || want > size - offset)
      return Corruption(path + ": file is " + std::to_string(size) + " bytes, wanted range " +
                        std::to_string(offset) + ".." + std::to_string(offset + want) +
                        " (truncated or damaged file)");
    out->resize(want);
    uint64_t done = 0;
    while (done < want) {
      ssize_t n =
          pread(fd.get(), out->data() + done, want - done, static_cast<off_t>(offset + done));
      if (n < 0 && errno == EINTR) continue;
      if (n < 0) return ErrnoError("load " + path, errno);
      if (n == 0)  // shrank since fstat: something else is truncating repository files
        return Corruption(path + ": file is " + std::to_string(offset + done) +
                          " bytes, wanted range " + std::to_string(offset) + ".." +
                          std::to_string(offset + want));
      done += static_cast<uint64_t>(n);
    }
    return Status::OK();
  }

  Status Size(FileType type, std::string_view name, uint64_t* size) override {
    RETURN_IF_ERROR(CheckName(type, name));
    const std::string path = PathOf(type, name);
    struct stat st;
    if (stat(path.c_str(), &st) != 0) return OpenError("stat", path, errno);
    *size = static_cast<uint64_t>(st.st_size);
    return Status::OK();
  }

  Status Remove(FileType type, std::string_view name) override {
    RETURN_IF_ERROR(CheckName(type, name));
    if (append_only_ && type != FileType::kLock)
      return FailedPrecondition("repository is append-only: refusing to remove " + Rel(type, name) +
                                " from " + Location());
    const std::string path = PathOf(type, name);
    if (unlink(path.c_str()) != 0) return OpenError("remove", path, errno);
    return Status::OK();
  }

  Status List(FileType type, const std::function<void(std::string_view, uint64_t)>& fn) override {
    if (type == FileType::kConfig) {
      struct stat st;
      const std::string path = PathOf(type, kConfigName);
      if (stat(path.c_str(), &st) == 0)
        fn(kConfigName, static_cast<uint64_t>(st.st_size));
      else if (errno != ENOENT)
        return ErrnoError("list " + path, errno);
      return Status::OK();
    }
    const std::string top = root_ + "/" + std::string(FileTypeDir(type));
    if (type != FileType::kData) return ListDir(top, fn);
    std::vector<std::string> subdirs;
    RETURN_IF_ERROR(AddSubdirs(top, &subdirs));
    for (const std::string& sub : subdirs) RETURN_IF_ERROR(ListDir(sub, fn));
    return Status::OK();
  }

  bool Exists(FileType type, std::string_view name) override {
    if (!CheckName(type, name).ok()) return false;
    struct stat st;
    return stat(PathOf(type, name).c_str(), &st) == 0;
  }

  // Temporary files sit beside their final names: the root (config), each type's folder and
  // each data/ subfolder. An append-only repository keeps them (they are only counted).
  StatusOr<UnfinishedWrites> RemoveUnfinished(bool dry_run) override {
    UnfinishedWrites found;
    std::vector<std::string> dirs = {root_};
    for (FileType type : kAllDirTypes) {
      const std::string top = root_ + "/" + std::string(FileTypeDir(type));
      dirs.push_back(top);
      if (type == FileType::kData) RETURN_IF_ERROR(AddSubdirs(top, &dirs));
    }
    Status removed;
    for (const std::string& dir : dirs) {
      RETURN_IF_ERROR(ForEachEntry(dir, [&](int fd, const char* entry, const struct stat& st) {
        if (!S_ISREG(st.st_mode) || !IsTemporary(entry)) return;
        found.files += 1;
        found.bytes += static_cast<uint64_t>(st.st_size);
        if (dry_run || append_only_ || !removed.ok()) return;
        if (unlinkat(fd, entry, 0) != 0 && errno != ENOENT)
          removed = ErrnoError("remove unfinished write " + dir + "/" + entry, errno);
      }));
    }
    RETURN_IF_ERROR(removed);
    return found;
  }

 private:
  // Appends every subfolder of data/ that exists, not just 00..ff: a stray one must not hide
  // packs (nor unfinished writes).
  static Status AddSubdirs(const std::string& top, std::vector<std::string>* out) {
    return ForEachEntry(top, [&](int, const char* entry, const struct stat& st) {
      if (S_ISDIR(st.st_mode)) out->push_back(top + "/" + entry);
    });
  }

  // Relative to the root, as messages show it: "data/3f/3fa…".
  std::string Rel(FileType type, std::string_view name) const {
    if (type == FileType::kConfig) return std::string(kConfigName);
    std::string rel(FileTypeDir(type));
    if (type == FileType::kData) rel += "/" + std::string(name.substr(0, 2));
    return rel + "/" + std::string(name);
  }
  std::string PathOf(FileType type, std::string_view name) const {
    return root_ + "/" + Rel(type, name);
  }
  std::string DirOf(FileType type, std::string_view name) const {
    if (type == FileType::kConfig) return root_;
    std::string dir = root_ + "/" + std::string(FileTypeDir(type));
    if (type == FileType::kData) dir += "/" + std::string(name.substr(0, 2));
    return dir;
  }

  static Status OpenError(const char* what, const std::string& path, int err) {
    if (err == ENOENT) return NotFound(std::string(what) + " " + path + ": no such file");
    return ErrnoError(std::string(what) + " " + path, err);
  }

  // Calls fn(dirfd, name, stat) for each entry but "." and ".." (a missing folder is empty).
  template <typename Fn>
  static Status ForEachEntry(const std::string& dir, Fn&& fn) {
    DIR* d = opendir(dir.c_str());
    if (d == nullptr) {
      if (errno == ENOENT) return Status::OK();
      return ErrnoError("list " + dir, errno);
    }
    Status result;
    errno = 0;
    while (struct dirent* e = readdir(d)) {
      std::string_view name = e->d_name;
      if (name == "." || name == "..") continue;
      struct stat st;
      if (fstatat(dirfd(d), e->d_name, &st, AT_SYMLINK_NOFOLLOW) != 0) {
        if (errno == ENOENT) continue;  // removed while listing (a lock, a pruned pack)
        result = ErrnoError("list " + dir + "/" + e->d_name, errno);
        break;
      }
      fn(dirfd(d), e->d_name, st);
      errno = 0;
    }
    if (result.ok() && errno != 0) result = ErrnoError("list " + dir, errno);
    closedir(d);
    return result;
  }

  static Status ListDir(const std::string& dir,
                        const std::function<void(std::string_view, uint64_t)>& fn) {
    return ForEachEntry(dir, [&](int, const char* entry, const struct stat& st) {
      if (!S_ISREG(st.st_mode) || IsTemporary(entry)) return;
      fn(entry, static_cast<uint64_t>(st.st_size));
    });
  }

  const std::string root_;
  const bool append_only_;
};

Status CreateLayout(const std::string& root) {
  std::error_code ec;
  std::filesystem::create_directories(root, ec);
  if (ec) return IOError("create " + root + ": " + ec.message());
  for (FileType type : kAllDirTypes)
    RETURN_IF_ERROR(MakeDir(root + "/" + std::string(FileTypeDir(type))));
  for (unsigned b = 0; b < 256; ++b) RETURN_IF_ERROR(MakeDir(root + "/data/" + HexByte(b)));
  RETURN_IF_ERROR(SyncDir(root + "/data"));
  return SyncDir(root);
}

// What a folder holds, for the message that it is not a repository.
std::string DescribeFolder(const std::string& path) {
  std::vector<std::string> names;
  std::error_code ec;
  for (const auto& entry : std::filesystem::directory_iterator(path, ec)) {
    names.push_back(entry.path().filename().string());
    if (names.size() > 3) break;
  }
  if (ec) return "cannot be read (" + ec.message() + ")";
  if (names.empty()) return "is empty";
  std::string s = "holds ";
  for (size_t i = 0; i < names.size() && i < 3; ++i) s += (i ? ", " : "") + names[i];
  if (names.size() > 3) s += ", …";
  return s;
}

}  // namespace

std::string_view FileTypeDir(FileType type) {
  switch (type) {
    case FileType::kConfig:
      return "";
    case FileType::kKey:
      return "keys";
    case FileType::kData:
      return "data";
    case FileType::kIndex:
      return "index";
    case FileType::kSnapshot:
      return "snapshots";
    case FileType::kLock:
      return "locks";
  }
  return "";
}

StatusOr<std::unique_ptr<Backend>> OpenLocalBackend(const std::string& path,
                                                    const LocalBackendOptions& options) {
  if (path.empty()) return InvalidArgument("repository path is empty");
  std::error_code ec;
  std::string root = std::filesystem::absolute(path, ec).lexically_normal().string();
  if (ec) return IOError(path + ": " + ec.message());
  while (root.size() > 1 && root.back() == '/') root.pop_back();
  struct stat st;
  const bool exists = stat(root.c_str(), &st) == 0;
  if (!exists && errno != ENOENT) return ErrnoError(root, errno);
  if (exists && !S_ISDIR(st.st_mode))
    return FailedPrecondition(root +
                              ": not a folder (a repository is a folder; pick another "
                              "path)");
  const bool has_config = exists && access((root + "/config").c_str(), F_OK) == 0;
  if (options.create) {
    if (has_config)
      return AlreadyExists(root + ": already a backup repository (it has a config file)");
    RETURN_IF_ERROR(CreateLayout(root));
  } else if (!exists) {
    return NotFound(root +
                    ": no such folder; create a repository there with "
                    "`steward backup init`");
  } else if (!has_config) {
    return FailedPrecondition(root +
                              ": not a steward backup repository (no config file; the "
                              "folder " +
                              DescribeFolder(root) + "); create one with `steward backup init`");
  }
  return std::unique_ptr<Backend>(new LocalBackend(root, options.append_only));
}

StatusOr<std::unique_ptr<Backend>> OpenBackend(const std::string& location,
                                               const LocalBackendOptions& options) {
  if (location.empty())
    return InvalidArgument(
        "no repository given: pass --repo or set STEWARD_REPOSITORY "
        "(a folder path or local:/path)");
  // "scheme:rest" only when the part before ':' has no '/': "./a:b" and "/x:y" are paths.
  const size_t colon = location.find(':');
  const size_t slash = location.find('/');
  if (colon == std::string::npos || (slash != std::string::npos && slash < colon))
    return OpenLocalBackend(location, options);
  const std::string scheme = location.substr(0, colon);
  if (scheme == "local") {
    if (colon + 1 == location.size())
      return InvalidArgument("repository 'local:' has no path (want local:/path)");
    return OpenLocalBackend(location.substr(colon + 1), options);
  }
  for (const char* planned : {"s3", "sftp", "rest", "b2", "azure", "gs", "swift", "rclone"})
    if (scheme == planned)
      return InvalidArgument("repository " + location + ": backend '" + scheme +
                             "' is not supported yet (supported: local)");
  return InvalidArgument("repository " + location + ": unknown backend '" + scheme +
                         "' (supported: local, as local:/path or a folder path; write ./" +
                         location + " for a relative path with a colon)");
}

}  // namespace steward::backup
