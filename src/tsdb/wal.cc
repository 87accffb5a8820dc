#include "tsdb/wal.h"

#include <fcntl.h>
#include <spdlog/spdlog.h>
#include <unistd.h>

#include <cstdio>

#include "tsdb/encoding.h"
#include "tsdb/file_util.h"

namespace steward::tsdb {
namespace {

constexpr char kCheckpointPrefix[] = "checkpoint.";

// "00000012" -> 12; -1 for anything else.
int64_t ParseIndex(std::string_view name) {
  if (name.size() != 8) return -1;
  int64_t v = 0;
  for (char c : name) {
    if (c < '0' || c > '9') return -1;
    v = v * 10 + (c - '0');
  }
  return v;
}

std::string IndexName(int64_t index) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%08lld", static_cast<long long>(index));
  return buf;
}

bool ValidType(uint8_t t) {
  return t == static_cast<uint8_t>(RecordType::kSeries) ||
         t == static_cast<uint8_t>(RecordType::kSamples);
}

}  // namespace

struct Wal::Segment {
  ~Segment() {
    if (fd >= 0) ::close(fd);
  }
  int fd = -1;
  int64_t index = 0;
  int64_t size = 0;
  bool broken = false;  // a failed write could not be undone: write the next record elsewhere
  std::string path;
};

size_t BeginRecord(std::string* buf, RecordType type) {
  size_t start = buf->size();
  buf->push_back(static_cast<char>(type));
  buf->append(kRecordHeaderBytes - 1, '\0');
  return start;
}

void FinishRecord(std::string* buf, size_t start) {
  char* h = buf->data() + start;
  size_t payload = buf->size() - start - kRecordHeaderBytes;
  StoreFixed32(h + 1, static_cast<uint32_t>(payload));
  uint32_t crc = Crc32c(h, 1);
  crc = Crc32c(h + kRecordHeaderBytes, payload, crc);
  StoreFixed32(h + 5, crc);
}

StatusOr<std::unique_ptr<Wal>> Wal::Open(const std::string& dir, int64_t segment_bytes) {
  RETURN_IF_ERROR(MakeDirs(dir));
  std::unique_ptr<Wal> wal(new Wal(dir, segment_bytes));
  std::vector<std::string> names;
  ASSIGN_OR_RETURN(int64_t checkpoint, wal->LatestCheckpoint(&names));
  int64_t next = checkpoint + 1;
  for (const std::string& name : names) {
    if (name.starts_with(kCheckpointPrefix) && name.ends_with(".tmp")) {
      RETURN_IF_ERROR(RemoveAll(dir + "/" + name));  // an interrupted checkpoint
    }
    next = std::max(next, ParseIndex(name) + 1);
  }
  wal->next_index_ = next;
  return wal;
}

Wal::~Wal() = default;

std::string Wal::SegmentPath(int64_t index) const { return dir_ + "/" + IndexName(index); }

StatusOr<int64_t> Wal::LatestCheckpoint(std::vector<std::string>* names) const {
  ASSIGN_OR_RETURN(*names, ListDir(dir_));
  int64_t latest = -1;
  for (const std::string& name : *names) {
    if (!name.starts_with(kCheckpointPrefix)) continue;
    latest =
        std::max(latest, ParseIndex(std::string_view(name).substr(sizeof kCheckpointPrefix - 1)));
  }
  return latest;
}

Status Wal::ReadSegment(const std::string& path, bool repair, const RecordFn& fn,
                        ReplayStats* stats) {
  ASSIGN_OR_RETURN(std::string data, ReadWholeFile(path));
  size_t pos = 0;
  while (pos < data.size()) {
    size_t left = data.size() - pos;
    const char* h = data.data() + pos;
    uint32_t len = left >= kRecordHeaderBytes ? LoadFixed32(h + 1) : 0;
    bool good = left >= kRecordHeaderBytes && ValidType(static_cast<uint8_t>(h[0])) &&
                len <= left - kRecordHeaderBytes &&
                Crc32c(h + kRecordHeaderBytes, len, Crc32c(h, 1)) == LoadFixed32(h + 5);
    if (!good) break;
    RETURN_IF_ERROR(
        fn(static_cast<RecordType>(h[0]), std::string_view(h + kRecordHeaderBytes, len)));
    ++stats->records;
    pos += kRecordHeaderBytes + len;
  }
  ++stats->segments;
  if (pos == data.size()) return Status::OK();
  stats->repaired_bytes += static_cast<int64_t>(data.size() - pos);
  spdlog::warn("msg=\"WAL segment has a torn or damaged tail\" path={} offset={} dropped_bytes={}",
               path, pos, data.size() - pos);
  if (repair && ::truncate(path.c_str(), static_cast<off_t>(pos)) != 0) {
    return ErrnoError("truncate " + path, errno);
  }
  return Status::OK();
}

Status Wal::Replay(const RecordFn& fn, ReplayStats* stats) {
  std::vector<std::string> names;
  ASSIGN_OR_RETURN(int64_t checkpoint, LatestCheckpoint(&names));
  if (checkpoint >= 0) {
    std::string cdir = dir_ + "/" + kCheckpointPrefix + IndexName(checkpoint);
    ASSIGN_OR_RETURN(std::vector<std::string> files, ListDir(cdir));
    for (const std::string& f : files) {
      if (ParseIndex(f) >= 0) RETURN_IF_ERROR(ReadSegment(cdir + "/" + f, false, fn, stats));
    }
  }
  for (const std::string& name : names) {
    int64_t index = ParseIndex(name);
    if (index < 0) continue;
    if (index <= checkpoint) {  // left over by a crash after the checkpoint was written
      RETURN_IF_ERROR(RemoveAll(SegmentPath(index)));
      continue;
    }
    RETURN_IF_ERROR(ReadSegment(SegmentPath(index), true, fn, stats));
  }
  std::lock_guard<std::mutex> l(mu_);
  return CutSegmentLocked();
}

Status Wal::CutSegmentLocked() {
  if (current_ && synced_ < written_ && ::fdatasync(current_->fd) != 0) {
    return ErrnoError("fdatasync " + current_->path, errno);
  }
  synced_ = written_;
  auto seg = std::make_shared<Segment>();
  seg->index = next_index_;
  seg->path = SegmentPath(seg->index);
  seg->fd = ::open(seg->path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_APPEND | O_CLOEXEC, 0644);
  if (seg->fd < 0) return ErrnoError("create WAL segment " + seg->path, errno);
  RETURN_IF_ERROR(SyncDir(dir_));
  ++next_index_;
  current_ = std::move(seg);
  return Status::OK();
}

Status Wal::Log(std::string_view records) {
  std::lock_guard<std::mutex> l(mu_);
  if (!current_ || current_->broken ||
      (current_->size > 0 &&
       current_->size + static_cast<int64_t>(records.size()) > segment_bytes_)) {
    RETURN_IF_ERROR(CutSegmentLocked());
  }
  Status st = WriteAll(current_->fd, records, current_->path);
  if (!st.ok()) {
    // Undo a partial write so the next record follows the last good one.
    if (::ftruncate(current_->fd, current_->size) != 0) current_->broken = true;
    return st;
  }
  current_->size += static_cast<int64_t>(records.size());
  written_ += records.size();
  return Status::OK();
}

Status Wal::Sync() {
  std::shared_ptr<Segment> seg;
  uint64_t target;
  {
    std::lock_guard<std::mutex> l(mu_);
    if (!current_ || synced_ >= written_) return Status::OK();
    seg = current_;
    target = written_;
  }
  if (::fdatasync(seg->fd) != 0) return ErrnoError("fdatasync " + seg->path, errno);
  std::lock_guard<std::mutex> l(mu_);
  synced_ = std::max(synced_, target);
  return Status::OK();
}

int64_t Wal::SizeBytes() const { return DiskUsage(dir_); }

Status Wal::Checkpoint(const FilterFn& filter) {
  std::lock_guard<std::mutex> cl(checkpoint_mu_);
  int64_t last;
  {
    std::lock_guard<std::mutex> l(mu_);
    RETURN_IF_ERROR(CutSegmentLocked());
    last = current_->index - 1;
  }
  std::vector<std::string> names;
  ASSIGN_OR_RETURN(int64_t previous, LatestCheckpoint(&names));
  if (last <= previous) return Status::OK();
  RETURN_IF_ERROR(WriteCheckpoint(last, previous, filter));
  for (const std::string& name : names) {
    int64_t index = ParseIndex(name);
    if (index >= 0 && index <= last) RETURN_IF_ERROR(RemoveAll(SegmentPath(index)));
  }
  if (previous >= 0) {
    RETURN_IF_ERROR(RemoveAll(dir_ + "/" + kCheckpointPrefix + IndexName(previous)));
  }
  return Status::OK();
}

Status Wal::WriteCheckpoint(int64_t last, int64_t previous, const FilterFn& filter) {
  std::string final_dir = dir_ + "/" + kCheckpointPrefix + IndexName(last);
  std::string tmp_dir = final_dir + ".tmp";
  RETURN_IF_ERROR(RemoveAll(tmp_dir));
  RETURN_IF_ERROR(MakeDirs(tmp_dir));
  std::string out_path = tmp_dir + "/" + IndexName(0);
  int fd = ::open(out_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) return ErrnoError("create " + out_path, errno);
  std::string buf;
  auto fn = [&](RecordType type, std::string_view payload) -> Status {
    filter(type, payload, &buf);
    if (buf.size() < (1u << 20)) return Status::OK();
    Status st = WriteAll(fd, buf, out_path);
    buf.clear();
    return st;
  };
  ReplayStats stats;
  Status st;
  if (previous >= 0) {
    std::string cdir = dir_ + "/" + kCheckpointPrefix + IndexName(previous);
    auto files = ListDir(cdir);
    st = files.status();
    for (size_t i = 0; st.ok() && i < files->size(); ++i) {
      if (ParseIndex((*files)[i]) >= 0)
        st = ReadSegment(cdir + "/" + (*files)[i], false, fn, &stats);
    }
  }
  for (int64_t i = previous + 1; st.ok() && i <= last; ++i) {
    if (::access(SegmentPath(i).c_str(), F_OK) == 0)
      st = ReadSegment(SegmentPath(i), false, fn, &stats);
  }
  if (st.ok()) st = WriteAll(fd, buf, out_path);
  if (st.ok() && ::fsync(fd) != 0) st = ErrnoError("fsync " + out_path, errno);
  ::close(fd);
  if (st.ok()) st = SyncDir(tmp_dir);
  if (st.ok()) st = RenameDurably(tmp_dir, final_dir, dir_);
  if (!st.ok()) RemoveAll(tmp_dir).IgnoreError();
  return st;
}

}  // namespace steward::tsdb
