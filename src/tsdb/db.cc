// DbImpl: opening (lock, blocks, WAL replay), the background thread, stats and closing.
// Appending is in appender.cc, reading in querier.cc, compaction and retention in compactor.cc.
#include <fcntl.h>
#include <spdlog/spdlog.h>
#include <sys/file.h>
#include <unistd.h>

#include <algorithm>
#include <limits>
#include <set>

#include "tsdb/db_impl.h"
#include "tsdb/file_util.h"

namespace steward::tsdb {
namespace {

constexpr auto kCompactEvery = std::chrono::minutes(1);
constexpr int64_t kNoTime = std::numeric_limits<int64_t>::min();

}  // namespace

DbMetrics DbMetrics::Register(metrics::Registry* r) {
  DbMetrics m;
  if (r == nullptr) return m;
  auto gauge = [&](const char* name, const char* help) {
    return &r->AddGauge(std::string("steward_tsdb_") + name, help).WithLabels({});
  };
  auto counter = [&](const char* name, const char* help) {
    return &r->AddCounter(std::string("steward_tsdb_") + name, help).WithLabels({});
  };
  m.head_series = gauge("head_series", "Series in the in-memory head.");
  m.samples_appended = counter("head_samples_appended_total", "Samples appended to the head.");
  m.out_of_order = counter("out_of_order_samples_total",
                           "Samples rejected as out of order, duplicate or too old.");
  m.write_errors = counter("write_errors_total", "Failed WAL writes and syncs.");
  m.blocks = gauge("blocks", "Persisted blocks loaded.");
  m.block_bytes = gauge("block_bytes", "Bytes of persisted blocks on disk.");
  m.wal_bytes = gauge("wal_bytes", "Bytes of WAL segments and checkpoint on disk.");
  m.compactions = counter("compactions_total", "Blocks written by head or block compaction.");
  m.compaction_failures = counter("compaction_failures_total", "Failed compactions.");
  m.retention_deletions = counter("retention_deletions_total", "Blocks deleted by retention.");
  return m;
}

StatusOr<std::unique_ptr<Db>> Db::Open(const Options& options) {
  if (options.dir.empty()) return InvalidArgument("tsdb: no directory given");
  if (options.block_duration.count() <= 0) return InvalidArgument("tsdb: block_duration <= 0");
  auto db = std::make_unique<DbImpl>(options);
  Status st = db->OpenImpl();
  if (!st.ok()) return st.Annotate("open tsdb " + options.dir);
  return std::unique_ptr<Db>(std::move(db));
}

DbImpl::DbImpl(const Options& options)
    : opts_(options),
      clock_(options.clock ? options.clock : RealClock::Get()),
      range_(options.block_duration.count()),
      metrics_(DbMetrics::Register(options.metrics)),
      head_(std::make_unique<Head>(range_)),
      min_valid_time_(kNoTime),
      rng_(std::random_device{}()) {}

DbImpl::~DbImpl() { Close().IgnoreError(); }

Status DbImpl::OpenImpl() {
  RETURN_IF_ERROR(MakeDirs(opts_.dir));
  RETURN_IF_ERROR(LockDir());
  RETURN_IF_ERROR(LoadBlocks());
  ASSIGN_OR_RETURN(wal_, Wal::Open(opts_.dir + "/wal"));
  RETURN_IF_ERROR(ReplayWal());
  last_sync_ns_ = clock_->Now().time_since_epoch().count();
  UpdateBlockMetrics();
  if (opts_.background) bg_ = std::thread([this] { BackgroundLoop(); });
  return Status::OK();
}

Status DbImpl::LockDir() {
  std::string path = opts_.dir + "/lock";
  lock_fd_ = ::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
  if (lock_fd_ < 0) return ErrnoError("open " + path, errno);
  if (::flock(lock_fd_, LOCK_EX | LOCK_NB) != 0) {
    return Aborted("another process has the database open (" + path + " is locked)");
  }
  return Status::OK();
}

Status DbImpl::LoadBlocks() {
  ASSIGN_OR_RETURN(std::vector<std::string> names, ListDir(opts_.dir));
  std::vector<std::shared_ptr<Block>> loaded;
  for (const std::string& name : names) {
    std::string path = opts_.dir + "/" + name;
    if (name.ends_with(".tmp") && LooksLikeUlid(name.substr(0, name.size() - 4))) {
      RETURN_IF_ERROR(RemoveAll(path));  // a block write interrupted by a crash
      continue;
    }
    if (!LooksLikeUlid(name)) continue;
    auto block = Block::Open(path);
    if (!block.ok()) {
      spdlog::error("msg=\"skipping damaged block\" error=\"{}\"", block.status().ToString());
      std::lock_guard<std::mutex> l(errors_mu_);
      block_errors_.push_back(block.status());
      continue;
    }
    loaded.push_back(std::move(block).value());
  }
  // Blocks already merged into another one (a crash came before their deletion) go now.
  std::set<std::string> merged;
  for (const auto& b : loaded) merged.insert(b->meta().parents.begin(), b->meta().parents.end());
  for (const auto& b : loaded) {
    if (merged.count(b->meta().ulid)) {
      RETURN_IF_ERROR(RemoveAll(b->dir()));
    } else {
      blocks_.push_back(b);
    }
  }
  std::sort(blocks_.begin(), blocks_.end(),
            [](const auto& a, const auto& b) { return a->meta().min_time < b->meta().min_time; });
  for (const auto& b : blocks_) {
    min_valid_time_ = std::max(min_valid_time_.load(), b->meta().max_time);
  }
  return Status::OK();
}

Status DbImpl::ReplayWal() {
  std::unordered_map<uint64_t, MemSeries*> refs;
  Wal::ReplayStats stats;
  RETURN_IF_ERROR(wal_->Replay(
      [&](RecordType type, std::string_view payload) { return ReplayRecord(type, payload, &refs); },
      &stats));
  if (stats.records == 0) return Status::OK();
  spdlog::info("msg=\"tsdb WAL replayed\" dir={} records={} segments={} series={} samples={}",
               opts_.dir, stats.records, stats.segments, head_->NumSeries(), head_->NumSamples());
  return Status::OK();
}

Status DbImpl::ReplayRecord(RecordType type, std::string_view payload,
                            std::unordered_map<uint64_t, MemSeries*>* refs) {
  if (type == RecordType::kSeries) {
    std::vector<RefSeries> series;
    Status st = DecodeSeries(payload, &series);
    if (!st.ok()) spdlog::warn("msg=\"WAL record skipped\" error=\"{}\"", st.ToString());
    for (RefSeries& s : series) {
      MemSeries* m = head_->CreateWithRef(s.ref, s.labels);
      m->wal_logged = true;
      (*refs)[s.ref] = m;
    }
    return Status::OK();
  }
  std::vector<RefSample> samples;
  Status st = DecodeSamples(payload, &samples);
  if (!st.ok()) spdlog::warn("msg=\"WAL record skipped\" error=\"{}\"", st.ToString());
  int64_t n = 0, mint = std::numeric_limits<int64_t>::max(), maxt = kNoTime;
  int64_t min_valid = min_valid_time_.load();
  for (const RefSample& s : samples) {
    auto it = refs->find(s.ref);
    if (it == refs->end() || s.t < min_valid) continue;
    if (head_->Append(it->second, s.t, s.v) != Head::AppendResult::kOk) continue;
    ++n;
    mint = std::min(mint, s.t);
    maxt = std::max(maxt, s.t);
  }
  head_->NoteAppended(n, mint, maxt);
  return Status::OK();
}

int64_t DbImpl::NowMs() const { return ToUnixMillis(clock_->WallNow()); }

int64_t DbImpl::MinValidTime() const {
  int64_t min_valid = min_valid_time_.load(std::memory_order_acquire);
  if (head_->NumSamples() > 0) min_valid = std::max(min_valid, head_->MaxTime() - range_ / 2);
  return min_valid;
}

Status DbImpl::MaybeSync() {
  int64_t now = clock_->Now().time_since_epoch().count();
  int64_t interval = std::chrono::nanoseconds(opts_.wal_sync_interval).count();
  if (now - last_sync_ns_.load(std::memory_order_relaxed) < interval) return Status::OK();
  last_sync_ns_.store(now, std::memory_order_relaxed);
  return SyncWal();
}

Status DbImpl::SyncWal() {
  Status st = wal_->Sync();
  if (!st.ok()) CountWriteError();
  return st;
}

void DbImpl::CountWriteError() {
  write_errors_.fetch_add(1, std::memory_order_relaxed);
  if (metrics_.write_errors) metrics_.write_errors->Inc();
}

void DbImpl::CountCommit(int64_t appended, int64_t out_of_order, bool created_series) {
  samples_appended_.fetch_add(appended, std::memory_order_relaxed);
  out_of_order_.fetch_add(out_of_order, std::memory_order_relaxed);
  if (metrics_.samples_appended && appended) metrics_.samples_appended->Inc(appended);
  if (metrics_.out_of_order && out_of_order) metrics_.out_of_order->Inc(out_of_order);
  if (metrics_.head_series && created_series) {
    metrics_.head_series->Set(static_cast<double>(head_->NumSeries()));
  }
}

void DbImpl::BackgroundLoop() {
  auto next_compact = std::chrono::steady_clock::now() + kCompactEvery;
  std::unique_lock<std::mutex> l(bg_mu_);
  while (!stopping_) {
    bg_cv_.wait_for(l, opts_.wal_sync_interval);
    if (stopping_) break;
    l.unlock();
    Status st = SyncWal();
    if (!st.ok()) spdlog::error("msg=\"tsdb WAL sync failed\" error=\"{}\"", st.ToString());
    UpdateBlockMetrics();
    if (std::chrono::steady_clock::now() >= next_compact) {
      next_compact = std::chrono::steady_clock::now() + kCompactEvery;
      st = Compact();
      if (!st.ok()) spdlog::error("msg=\"tsdb compaction failed\" error=\"{}\"", st.ToString());
    }
    l.lock();
  }
}

std::vector<Status> DbImpl::BlockErrors() {
  std::lock_guard<std::mutex> l(errors_mu_);
  return block_errors_;
}

Stats DbImpl::GetStats() {
  Stats s;
  s.head_series = head_->NumSeries();
  s.head_chunks = head_->NumChunks();
  s.head_samples = head_->NumSamples();
  s.head_bytes = head_->MemoryBytes();
  if (s.head_samples > 0) {
    s.head_min_time = head_->MinTime();
    s.head_max_time = head_->MaxTime();
  }
  {
    std::shared_lock<std::shared_mutex> l(read_mu_);
    s.blocks = static_cast<int64_t>(blocks_.size());
    for (const auto& b : blocks_) {
      s.block_bytes += b->size_bytes();
      s.block_samples += b->meta().num_samples;
    }
  }
  s.wal_bytes = wal_ ? wal_->SizeBytes() : 0;
  s.samples_appended = samples_appended_.load();
  s.out_of_order = out_of_order_.load();
  s.write_errors = write_errors_.load();
  std::lock_guard<std::mutex> l(errors_mu_);
  s.corrupt_blocks = static_cast<int64_t>(block_errors_.size());
  return s;
}

void DbImpl::UpdateBlockMetrics() {
  if (metrics_.blocks == nullptr) return;
  int64_t bytes = 0, n = 0;
  {
    std::shared_lock<std::shared_mutex> l(read_mu_);
    n = static_cast<int64_t>(blocks_.size());
    for (const auto& b : blocks_) bytes += b->size_bytes();
  }
  metrics_.blocks->Set(static_cast<double>(n));
  metrics_.block_bytes->Set(static_cast<double>(bytes));
  metrics_.wal_bytes->Set(static_cast<double>(wal_ ? wal_->SizeBytes() : 0));
  metrics_.head_series->Set(static_cast<double>(head_->NumSeries()));
}

Status DbImpl::Close() {
  if (closed_.exchange(true)) return Status::OK();
  {
    std::lock_guard<std::mutex> l(bg_mu_);
    stopping_ = true;
  }
  bg_cv_.notify_all();
  if (bg_.joinable()) bg_.join();
  Status st = wal_ ? wal_->Sync() : Status::OK();
  if (lock_fd_ >= 0) {
    ::close(lock_fd_);  // releases the flock
    lock_fd_ = -1;
  }
  return st;
}

}  // namespace steward::tsdb
