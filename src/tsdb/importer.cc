// The backfill importer (importer.h): parse everything into per-series XOR chunks cut at window
// boundaries, then write one block per window with the ordinary BlockWriter.
#include "tsdb/importer.h"

#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstring>
#include <limits>
#include <map>
#include <random>
#include <unordered_map>

#include "base/clock.h"
#include "monitor/exposition.h"
#include "tsdb/block.h"
#include "tsdb/chunk_xor.h"
#include "tsdb/file_util.h"
#include "tsdb/head.h"

namespace steward::tsdb {
namespace {

struct StoredChunk {
  int64_t window = 0;
  int64_t mint = 0;
  int64_t maxt = 0;
  std::string bytes;
};

struct ImportSeries {
  Labels labels;
  int64_t last_t = std::numeric_limits<int64_t>::min();
  double last_v = 0;
  int last_line = 0;
  std::vector<StoredChunk> chunks;  // closed chunks, ascending time
  XorChunkBuilder open;
  int64_t open_window = 0;

  void CloseChunk() {
    if (open.empty()) return;
    std::string_view v = open.view();
    chunks.push_back({open_window, open.min_time(), open.max_time(), std::string(v)});
    open.Reset();
  }
};

struct StringHash {
  using is_transparent = void;
  size_t operator()(std::string_view s) const { return std::hash<std::string_view>{}(s); }
};

std::string Seconds(int64_t ms) {
  char buf[48];
  std::snprintf(buf, sizeof buf, "%.3f", static_cast<double>(ms) / 1000.0);
  return buf;
}

bool SameBits(double a, double b) { return std::memcmp(&a, &b, sizeof a) == 0; }

// Everything parsed from the file, grouped by series.
class Collector {
 public:
  explicit Collector(int64_t block_ms) : block_ms_(block_ms) {}

  Status Parse(std::string_view text) {
    monitor::ExpositionParser p(text, monitor::Format::kOpenMetrics);
    while (p.Next()) {
      ImportSeries* s = Lookup(p);
      if (!p.timestamp())
        return InvalidArgument("line " + std::to_string(p.line()) + ": " + s->labels.ToString() +
                               " has no timestamp; every imported sample needs one (Unix "
                               "seconds, e.g. 1700000000.5)");
      RETURN_IF_ERROR(Add(s, *p.timestamp(), p.value(), p.line()));
    }
    RETURN_IF_ERROR(p.status());
    for (auto& s : series_) s.CloseChunk();
    return Status::OK();
  }

  std::vector<ImportSeries>& series() { return series_; }
  int64_t samples() const { return samples_; }
  int64_t duplicates() const { return duplicates_; }
  int64_t min_time() const { return min_time_; }
  int64_t max_time() const { return max_time_; }

 private:
  ImportSeries* Lookup(const monitor::ExpositionParser& p) {
    auto it = by_text_.find(p.series_text());
    if (it != by_text_.end()) return &series_[it->second];
    Labels labels = p.labels();
    auto [li, fresh] = by_labels_.try_emplace(labels, series_.size());
    if (fresh) {
      series_.emplace_back();
      series_.back().labels = std::move(labels);
    }
    by_text_.emplace(std::string(p.series_text()), li->second);
    return &series_[li->second];
  }

  Status Add(ImportSeries* s, int64_t t, double v, int line) {
    if (t <= s->last_t) {
      if (t == s->last_t && SameBits(v, s->last_v)) {
        ++duplicates_;
        return Status::OK();
      }
      std::string where =
          " (line " + std::to_string(s->last_line) + " has " + Seconds(s->last_t) + ")";
      if (t == s->last_t)
        return InvalidArgument("line " + std::to_string(line) + ": duplicate sample for " +
                               s->labels.ToString() + " at " + Seconds(t) +
                               " with a different value" + where);
      return InvalidArgument("line " + std::to_string(line) + ": sample of " +
                             s->labels.ToString() + " at " + Seconds(t) +
                             " is out of order: older than the series' previous sample" + where +
                             "; each series' samples must be in ascending time");
    }
    int64_t window = FloorDiv(t, block_ms_) * block_ms_;
    if (!s->open.empty() && (window != s->open_window || s->open.count() >= kMaxChunkSamples))
      s->CloseChunk();
    if (s->open.empty()) s->open_window = window;
    s->open.Append(t, v);
    s->last_t = t;
    s->last_v = v;
    s->last_line = line;
    min_time_ = samples_ == 0 ? t : std::min(min_time_, t);
    max_time_ = samples_ == 0 ? t : std::max(max_time_, t);
    ++samples_;
    return Status::OK();
  }

  const int64_t block_ms_;
  std::vector<ImportSeries> series_;
  std::unordered_map<std::string, size_t, StringHash, std::equal_to<>> by_text_;
  std::map<Labels, size_t> by_labels_;
  int64_t samples_ = 0;
  int64_t duplicates_ = 0;
  int64_t min_time_ = 0;
  int64_t max_time_ = 0;
};

// Holds <dir>/lock like an open Db for the import's duration.
class DirLock {
 public:
  ~DirLock() {
    if (fd_ >= 0) ::close(fd_);
  }
  Status Acquire(const std::string& dir) {
    std::string path = dir + "/lock";
    fd_ = ::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
    if (fd_ < 0) return ErrnoError("open " + path, errno);
    if (::flock(fd_, LOCK_EX | LOCK_NB) != 0)
      return FailedPrecondition(
          "the database in " + dir +
          " is open in another process (a running steward daemon?); stop it (`steward down`) "
          "and import again: it loads the new blocks when it starts");
    return Status::OK();
  }

 private:
  int fd_ = -1;
};

// What a failure after `written` of `total` blocks leaves, and what to do about it.
Status PartialWrite(const Status& st, const std::vector<std::string>& written, size_t total) {
  if (written.empty()) return st;
  std::string ids;
  for (const auto& id : written) ids += (ids.empty() ? "" : ", ") + id;
  return Status(st.code(), st.message() + "; wrote " + std::to_string(written.size()) + " of " +
                               std::to_string(total) + " blocks before the failure (" + ids +
                               "); importing the same file again is safe: samples stored twice "
                               "are merged");
}

// The block of one window: the next chunks of each series (cursor) that fall in it.
Status WriteBlock(Collector& c, const ImportOptions& options, const std::vector<size_t>& order,
                  int64_t window, std::pair<int64_t, int64_t> span, std::mt19937_64& rng,
                  std::vector<size_t>& cursor, ImportSummary* summary) {
  std::vector<ImportSeries>& series = c.series();
  BlockMeta meta;
  int64_t now = std::chrono::duration_cast<std::chrono::milliseconds>(
                    std::chrono::system_clock::now().time_since_epoch())
                    .count();
  meta.ulid = NewUlid(now, rng);
  meta.min_time = span.first;
  meta.max_time = span.second + 1;
  meta.sources = {meta.ulid};
  BlockWriter w(options.dir, meta);
  RETURN_IF_ERROR(w.Start());
  for (size_t idx : order) {
    ImportSeries& s = series[idx];
    std::vector<ChunkData> chunks;
    size_t& k = cursor[idx];
    while (k < s.chunks.size() && s.chunks[k].window == window) {
      const StoredChunk& ch = s.chunks[k++];
      chunks.push_back({ch.mint, ch.maxt, ch.bytes});
    }
    if (!chunks.empty()) RETURN_IF_ERROR(w.AddSeries(s.labels, chunks));
  }
  ASSIGN_OR_RETURN(BlockMeta done, w.Commit());
  summary->blocks.push_back(done.ulid);
  if (options.on_block) options.on_block(done.ulid, done.num_samples, done.num_series);
  for (size_t idx : order) {  // written: free the window's chunks
    ImportSeries& s = series[idx];
    for (size_t i = 0; i < cursor[idx]; ++i) std::string().swap(s.chunks[i].bytes);
  }
  return Status::OK();
}

// Writes one block per window, series in label order.
Status WriteBlocks(Collector& c, const ImportOptions& options, ImportSummary* summary) {
  std::vector<ImportSeries>& series = c.series();
  std::vector<size_t> order(series.size());
  for (size_t i = 0; i < order.size(); ++i) order[i] = i;
  std::sort(order.begin(), order.end(),
            [&](size_t a, size_t b) { return series[a].labels < series[b].labels; });
  std::map<int64_t, std::pair<int64_t, int64_t>> windows;  // window → [min t, max t]
  for (const auto& s : series)
    for (const auto& ch : s.chunks) {
      auto [it, fresh] = windows.try_emplace(ch.window, ch.mint, ch.maxt);
      it->second.first = std::min(it->second.first, ch.mint);
      it->second.second = std::max(it->second.second, ch.maxt);
    }
  std::mt19937_64 rng(std::random_device{}());
  std::vector<size_t> cursor(series.size(), 0);  // next chunk of each series
  for (const auto& [window, span] : windows) {
    Status st = WriteBlock(c, options, order, window, span, rng, cursor, summary);
    if (!st.ok()) return PartialWrite(st, summary->blocks, windows.size());
  }
  return Status::OK();
}

bool IsDir(const std::string& path) {
  struct stat st;
  return ::stat(path.c_str(), &st) == 0 && S_ISDIR(st.st_mode);
}

}  // namespace

StatusOr<ImportSummary> ImportOpenMetrics(std::string_view text, const ImportOptions& options,
                                          std::string_view name) {
  if (options.dir.empty()) return InvalidArgument("import: no database directory given");
  if (options.block_duration_ms <= 0) return InvalidArgument("import: block duration <= 0");
  // An existing directory is locked first, so that a running daemon is reported before a long
  // parse; a new one is created only once the input is known to be good.
  const bool existed = IsDir(options.dir);
  DirLock lock;
  if (existed) RETURN_IF_ERROR(lock.Acquire(options.dir));
  Collector c(options.block_duration_ms);
  if (Status st = c.Parse(text); !st.ok()) return st.Annotate(std::string(name));
  if (c.samples() > 0 && c.min_time() < options.retention_horizon_ms)
    return FailedPrecondition(
        std::string(name) + ": samples from " + FormatRfc3339Millis(FromUnixMillis(c.min_time())) +
        " are older than the retention of the database in " + options.dir +
        " (it deletes data before " +
        FormatRfc3339Millis(FromUnixMillis(options.retention_horizon_ms)) +
        " at its next compaction); nothing was written");
  if (!existed) {
    RETURN_IF_ERROR(MakeDirs(options.dir));
    RETURN_IF_ERROR(lock.Acquire(options.dir));
  }
  ImportSummary summary;
  summary.series = static_cast<int64_t>(c.series().size());
  summary.samples = c.samples();
  summary.duplicates = c.duplicates();
  summary.min_time = c.min_time();
  summary.max_time = c.max_time();
  Status st = WriteBlocks(c, options, &summary);
  if (!st.ok() && !existed && summary.blocks.empty()) RemoveAll(options.dir).IgnoreError();
  if (!st.ok()) return st;
  return summary;
}

StatusOr<ImportSummary> ImportOpenMetricsFile(const std::string& path,
                                              const ImportOptions& options) {
  ASSIGN_OR_RETURN(auto file, MappedFile::Open(path));
  return ImportOpenMetrics(file->data(), options, path);
}

}  // namespace steward::tsdb
