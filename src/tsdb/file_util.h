// POSIX file helpers for the tsdb's own files: complete writes, fsync of files and directories,
// read-only memory maps and directory listing. Every failure is an IOError
// naming the path and the OS reason. Thread safety: functions are thread-safe; a MappedFile is
// immutable after Open and may be shared.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "base/file.h"  // ReadWholeFile
#include "base/status.h"

namespace steward::tsdb {

// write(2) until everything is written; on failure nothing is undone.
Status WriteAll(int fd, std::string_view data, const std::string& path);
Status SyncDir(const std::string& dir);
Status MakeDirs(const std::string& dir);
// Creates (or truncates) path with content and fsyncs it.
Status WriteFileDurably(const std::string& path, std::string_view content);
// Entry names (no . and ..), sorted.
StatusOr<std::vector<std::string>> ListDir(const std::string& dir);
// Total size of the regular files under path (recursively); 0 if missing.
int64_t DiskUsage(const std::string& path);
Status RemoveAll(const std::string& path);
Status RenameDurably(const std::string& from, const std::string& to, const std::string& dir);

// Buffered sequential writer that knows its offset (for files whose entries refer to offsets).
class FileWriter {
 public:
  FileWriter() = default;
  FileWriter(const FileWriter&) = delete;
  FileWriter& operator=(const FileWriter&) = delete;
  ~FileWriter();
  // Creates (or truncates) path; a finished writer may be opened again for another file.
  Status Open(const std::string& path);
  Status Write(std::string_view data);
  uint64_t offset() const { return offset_; }
  // Flushes, fsyncs and closes.
  Status Finish();

 private:
  Status Flush();
  std::string path_;
  std::string buf_;
  int fd_ = -1;
  uint64_t offset_ = 0;
};

class MappedFile {
 public:
  static StatusOr<std::shared_ptr<MappedFile>> Open(const std::string& path);
  ~MappedFile();
  MappedFile(const MappedFile&) = delete;
  MappedFile& operator=(const MappedFile&) = delete;

  std::string_view data() const { return {static_cast<const char*>(addr_), size_}; }
  size_t size() const { return size_; }

 private:
  MappedFile(void* addr, size_t size) : addr_(addr), size_(size) {}
  void* addr_;
  size_t size_;
};

}  // namespace steward::tsdb
