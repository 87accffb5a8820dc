#include "tsdb/file_util.h"

#include <errno.h>
#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <filesystem>

namespace steward::tsdb {
namespace fs = std::filesystem;

Status WriteAll(int fd, std::string_view data, const std::string& path) {
  while (!data.empty()) {
    ssize_t n = ::write(fd, data.data(), data.size());
    if (n < 0) {
      if (errno == EINTR) continue;
      return ErrnoError("write " + path, errno);
    }
    data.remove_prefix(static_cast<size_t>(n));
  }
  return Status::OK();
}

Status SyncDir(const std::string& dir) {
  int fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) return ErrnoError("open " + dir, errno);
  int rc = ::fsync(fd);
  int err = errno;
  ::close(fd);
  if (rc != 0) return ErrnoError("fsync " + dir, err);
  return Status::OK();
}

Status MakeDirs(const std::string& dir) {
  std::error_code ec;
  fs::create_directories(dir, ec);
  if (ec) return IOError("create directory " + dir + ": " + ec.message());
  return Status::OK();
}

Status WriteFileDurably(const std::string& path, std::string_view content) {
  int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) return ErrnoError("create " + path, errno);
  Status st = WriteAll(fd, content, path);
  if (st.ok() && ::fsync(fd) != 0) st = ErrnoError("fsync " + path, errno);
  if (::close(fd) != 0 && st.ok()) st = ErrnoError("close " + path, errno);
  return st;
}

StatusOr<std::vector<std::string>> ListDir(const std::string& dir) {
  std::vector<std::string> out;
  std::error_code ec;
  for (fs::directory_iterator it(dir, ec), end; !ec && it != end; it.increment(ec)) {
    out.push_back(it->path().filename().string());
  }
  if (ec) return IOError("list " + dir + ": " + ec.message());
  std::sort(out.begin(), out.end());
  return out;
}

int64_t DiskUsage(const std::string& path) {
  std::error_code ec;
  if (fs::is_regular_file(path, ec)) return static_cast<int64_t>(fs::file_size(path, ec));
  int64_t total = 0;
  for (fs::recursive_directory_iterator it(path, ec), end; !ec && it != end; it.increment(ec)) {
    std::error_code fec;
    if (it->is_regular_file(fec)) total += static_cast<int64_t>(it->file_size(fec));
  }
  return total;
}

Status RemoveAll(const std::string& path) {
  std::error_code ec;
  fs::remove_all(path, ec);
  if (ec) return IOError("remove " + path + ": " + ec.message());
  return Status::OK();
}

Status RenameDurably(const std::string& from, const std::string& to, const std::string& dir) {
  if (::rename(from.c_str(), to.c_str()) != 0) return ErrnoError("rename " + from, errno);
  return SyncDir(dir);
}

FileWriter::~FileWriter() {
  if (fd_ >= 0) ::close(fd_);
}

Status FileWriter::Open(const std::string& path) {
  if (fd_ >= 0) ::close(fd_);
  path_ = path;
  buf_.clear();
  offset_ = 0;
  fd_ = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd_ < 0) return ErrnoError("create " + path, errno);
  return Status::OK();
}

Status FileWriter::Write(std::string_view data) {
  buf_.append(data);
  offset_ += data.size();
  return buf_.size() >= (1u << 20) ? Flush() : Status::OK();
}

Status FileWriter::Flush() {
  Status st = WriteAll(fd_, buf_, path_);
  buf_.clear();
  return st;
}

Status FileWriter::Finish() {
  RETURN_IF_ERROR(Flush());
  if (::fsync(fd_) != 0) return ErrnoError("fsync " + path_, errno);
  int fd = fd_;
  fd_ = -1;
  if (::close(fd) != 0) return ErrnoError("close " + path_, errno);
  return Status::OK();
}

StatusOr<std::shared_ptr<MappedFile>> MappedFile::Open(const std::string& path) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return ErrnoError("open " + path, errno);
  struct stat st;
  if (::fstat(fd, &st) != 0) {
    int err = errno;
    ::close(fd);
    return ErrnoError("stat " + path, err);
  }
  size_t size = static_cast<size_t>(st.st_size);
  void* addr = nullptr;
  if (size > 0) {
    addr = ::mmap(nullptr, size, PROT_READ, MAP_SHARED, fd, 0);
    if (addr == MAP_FAILED) {
      int err = errno;
      ::close(fd);
      return ErrnoError("mmap " + path, err);
    }
  }
  ::close(fd);
  return std::shared_ptr<MappedFile>(new MappedFile(addr, size));
}

MappedFile::~MappedFile() {
  if (addr_ != nullptr) ::munmap(addr_, size_);
}

}  // namespace steward::tsdb
