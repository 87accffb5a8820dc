#include "tsdb/head.h"

#include <algorithm>
#include <cstring>
#include <mutex>
#include <thread>

namespace steward::tsdb {
namespace {

void AtomicMin(std::atomic<int64_t>* a, int64_t v) {
  int64_t cur = a->load(std::memory_order_relaxed);
  while (v < cur && !a->compare_exchange_weak(cur, v, std::memory_order_acq_rel)) {
  }
}

void AtomicMax(std::atomic<int64_t>* a, int64_t v) {
  int64_t cur = a->load(std::memory_order_relaxed);
  while (v > cur && !a->compare_exchange_weak(cur, v, std::memory_order_acq_rel)) {
  }
}

}  // namespace

void SpinLock::lock() {
  for (int spins = 0; locked_.exchange(true, std::memory_order_acquire); ++spins) {
    while (locked_.load(std::memory_order_relaxed)) {
      if (++spins > 64) std::this_thread::yield();
    }
  }
}

namespace {
uint64_t DefaultHash(const Labels& labels) { return labels.Hash(); }
}  // namespace

MemSeries* MemSeries::New(uint64_t ref, uint64_t hash, uint16_t num_labels) {
  void* mem = ::operator new(sizeof(MemSeries) + 2 * sizeof(uint32_t) * num_labels);
  return new (mem) MemSeries(ref, hash, num_labels);
}

Head::Head(int64_t chunk_range, Hasher hasher)
    : chunk_range_(chunk_range > 0 ? chunk_range : 1),
      hasher_(hasher ? hasher : DefaultHash),
      refs_(std::make_unique<RefStripe[]>(kStripes)),
      hashes_(std::make_unique<HashStripe[]>(kStripes)) {}

Head::~Head() {
  for (size_t i = 0; i < kStripes; ++i) {
    refs_[i].series.ForEach([](MemSeries* s) { delete s; });
  }
}

MemSeries* Head::GetByRef(uint64_t ref) {
  RefStripe& stripe = refs_[ref % kStripes];
  std::shared_lock<std::shared_mutex> l(stripe.mu);
  MemSeries* s = stripe.series.Find(ref);
  if (s != nullptr) s->pending.fetch_add(1, std::memory_order_acquire);
  return s;
}

MemSeries* Head::FindByHash(HashStripe& stripe, uint64_t hash, const Labels& labels) {
  return stripe.series.Find(hash, [&](MemSeries* s) { return index_.Equals(s->labels(), labels); });
}

MemSeries* Head::Insert(HashStripe& stripe, uint64_t ref, uint64_t hash, const Labels& labels) {
  MemSeries* s = MemSeries::New(ref, hash, static_cast<uint16_t>(labels.size()));
  index_.Add(ref, labels, s->label_ids());  // s is owned by the ref table
  stripe.series.Insert(s);
  RefStripe& rs = refs_[ref % kStripes];
  std::unique_lock<std::shared_mutex> l(rs.mu);
  rs.series.Insert(s);
  num_series_.fetch_add(1, std::memory_order_relaxed);
  return s;
}

MemSeries* Head::GetOrCreate(const Labels& labels, bool* created) {
  uint64_t hash = hasher_(labels);
  HashStripe& stripe = hashes_[hash % kStripes];
  *created = false;
  {
    std::shared_lock<std::shared_mutex> l(stripe.mu);
    if (MemSeries* s = FindByHash(stripe, hash, labels)) {
      s->pending.fetch_add(1, std::memory_order_acquire);
      return s;
    }
  }
  std::unique_lock<std::shared_mutex> l(stripe.mu);
  MemSeries* s = FindByHash(stripe, hash, labels);
  if (s == nullptr) {
    s = Insert(stripe, next_ref_.fetch_add(1), hash, labels);
    *created = true;
  }
  s->pending.fetch_add(1, std::memory_order_acquire);
  return s;
}

MemSeries* Head::CreateWithRef(uint64_t ref, const Labels& labels) {
  uint64_t hash = hasher_(labels);
  HashStripe& stripe = hashes_[hash % kStripes];
  std::unique_lock<std::shared_mutex> l(stripe.mu);
  if (MemSeries* s = FindByHash(stripe, hash, labels)) return s;
  {
    RefStripe& rs = refs_[ref % kStripes];
    std::shared_lock<std::shared_mutex> rl(rs.mu);
    if (ref == 0 || rs.series.Find(ref)) ref = next_ref_.fetch_add(1);  // ref already taken
  }
  uint64_t next = next_ref_.load();
  while (next <= ref && !next_ref_.compare_exchange_weak(next, ref + 1)) {
  }
  return Insert(stripe, ref, hash, labels);
}

void Head::CutChunk(MemSeries* s) {
  ClosedChunk c;
  c.mint = s->open.min_time();
  c.maxt = s->open.max_time();
  c.size = static_cast<uint32_t>(s->open.bytes().size());
  c.data = std::make_unique<uint8_t[]>(c.size);
  std::memcpy(c.data.get(), s->open.bytes().data(), c.size);
  s->closed.push_back(std::move(c));
  // A fresh builder rather than Reset(): the old buffer has the full chunk's capacity, and
  // keeping it would cost every series a full chunk while its open chunk is still small.
  s->open = XorChunkBuilder();
}

Head::AppendResult Head::Append(MemSeries* s, int64_t t, double v) {
  std::lock_guard<SpinLock> l(s->lock);
  if (!s->open.empty()) {
    if (t <= s->open.max_time()) return AppendResult::kOutOfOrder;
    int64_t boundary = (FloorDiv(s->open.min_time(), chunk_range_) + 1) * chunk_range_;
    if (s->open.count() >= kMaxChunkSamples || t >= boundary) CutChunk(s);
  } else if (!s->closed.empty() && t <= s->closed.back().maxt) {
    return AppendResult::kOutOfOrder;
  }
  if (s->open.empty()) num_chunks_.fetch_add(1, std::memory_order_relaxed);
  s->open.Append(t, v);
  return AppendResult::kOk;
}

void Head::NoteAppended(int64_t n, int64_t mint, int64_t maxt) {
  if (n <= 0) return;
  num_samples_.fetch_add(n, std::memory_order_relaxed);
  AtomicMin(&min_time_, mint);
  AtomicMax(&max_time_, maxt);
}

bool Head::Read(uint64_t ref, int64_t mint, int64_t maxt, HeadSeriesData* out) {
  MemSeries* s;
  {
    RefStripe& stripe = refs_[ref % kStripes];
    std::shared_lock<std::shared_mutex> l(stripe.mu);
    s = stripe.series.Find(ref);
    if (s == nullptr) return false;
  }
  out->labels = index_.LabelsOf(s->labels());
  out->chunks.clear();
  std::lock_guard<SpinLock> l(s->lock);
  for (const ClosedChunk& c : s->closed) {
    if (c.maxt < mint || c.mint > maxt) continue;
    ChunkSnapshot snap;
    snap.mint = c.mint;
    snap.maxt = c.maxt;
    snap.borrowed = std::string_view(reinterpret_cast<const char*>(c.data.get()), c.size);
    out->chunks.push_back(std::move(snap));
  }
  if (!s->open.empty() && s->open.max_time() >= mint && s->open.min_time() <= maxt) {
    ChunkSnapshot snap;
    snap.mint = s->open.min_time();
    snap.maxt = s->open.max_time();
    snap.owned = std::string(s->open.view());
    out->chunks.push_back(std::move(snap));
  }
  return true;
}

int64_t Head::DataMinTime() {
  int64_t min = std::numeric_limits<int64_t>::max();
  for (size_t i = 0; i < kStripes; ++i) {
    std::shared_lock<std::shared_mutex> l(refs_[i].mu);
    refs_[i].series.ForEach([&](MemSeries* s) {
      std::lock_guard<SpinLock> sl(s->lock);
      if (!s->closed.empty()) {
        min = std::min(min, s->closed.front().mint);
      } else if (!s->open.empty()) {
        min = std::min(min, s->open.min_time());
      }
    });
  }
  return min;
}

bool Head::Contains(uint64_t ref) {
  RefStripe& stripe = refs_[ref % kStripes];
  std::shared_lock<std::shared_mutex> l(stripe.mu);
  return stripe.series.Find(ref) != nullptr;
}

int64_t Head::TruncateSeries(MemSeries* s, int64_t mint, int64_t* removed_samples) {
  std::lock_guard<SpinLock> l(s->lock);
  auto keep = std::find_if(s->closed.begin(), s->closed.end(),
                           [&](const ClosedChunk& c) { return c.maxt >= mint; });
  int64_t removed_chunks = keep - s->closed.begin();
  for (auto it = s->closed.begin(); it != keep; ++it) {
    *removed_samples +=
        ChunkSampleCount(std::string_view(reinterpret_cast<const char*>(it->data.get()), it->size));
  }
  s->closed.erase(s->closed.begin(), keep);
  if (!s->open.empty() && s->open.max_time() < mint) {
    *removed_samples += s->open.count();
    s->open.Reset();
    ++removed_chunks;
  }
  if (s->closed.empty() && s->open.empty()) {  // idle series: give the memory back
    s->closed.shrink_to_fit();
    s->open = XorChunkBuilder();
  }
  return removed_chunks;
}

int64_t Head::Truncate(int64_t mint) {
  std::vector<MemSeries*> empty;
  int64_t removed_chunks = 0, removed_samples = 0;
  for (size_t i = 0; i < kStripes; ++i) {
    std::shared_lock<std::shared_mutex> l(refs_[i].mu);
    refs_[i].series.ForEach([&](MemSeries* s) {
      removed_chunks += TruncateSeries(s, mint, &removed_samples);
      std::lock_guard<SpinLock> sl(s->lock);
      if (s->closed.empty() && s->open.empty()) empty.push_back(s);
    });
  }
  num_chunks_.fetch_sub(removed_chunks, std::memory_order_relaxed);
  num_samples_.fetch_sub(removed_samples, std::memory_order_relaxed);
  AtomicMax(&min_time_, mint);
  return Collect(empty);
}

int64_t Head::Collect(const std::vector<MemSeries*>& candidates) {
  std::vector<std::unique_ptr<MemSeries>> dead;
  for (MemSeries* s : candidates) {
    HashStripe& hs = hashes_[s->hash % kStripes];
    RefStripe& rs = refs_[s->ref % kStripes];
    std::unique_lock<std::shared_mutex> hl(hs.mu);
    std::unique_lock<std::shared_mutex> rl(rs.mu);
    if (s->pending.load(std::memory_order_acquire) != 0) continue;
    {
      std::lock_guard<SpinLock> sl(s->lock);
      if (!s->closed.empty() || !s->open.empty()) continue;
    }
    hs.series.Erase(s);
    rs.series.Erase(s);
    dead.emplace_back(s);
  }
  std::vector<std::pair<uint64_t, SymbolizedLabels>> removed;
  for (const auto& s : dead) removed.emplace_back(s->ref, s->labels());
  index_.Remove(removed);
  num_series_.fetch_sub(static_cast<int64_t>(dead.size()), std::memory_order_relaxed);
  return static_cast<int64_t>(dead.size());
}

int64_t Head::MemoryBytes() {
  int64_t bytes = static_cast<int64_t>(kStripes * (sizeof(RefStripe) + sizeof(HashStripe)));
  for (size_t i = 0; i < kStripes; ++i) {
    {
      std::shared_lock<std::shared_mutex> hl(hashes_[i].mu);
      bytes += static_cast<int64_t>(hashes_[i].series.HeapBytes());
    }
    std::shared_lock<std::shared_mutex> l(refs_[i].mu);
    bytes += static_cast<int64_t>(refs_[i].series.HeapBytes());
    refs_[i].series.ForEach([&](MemSeries* s) {
      std::lock_guard<SpinLock> sl(s->lock);
      bytes +=
          static_cast<int64_t>(sizeof(MemSeries)) + 8 * s->num_labels +
          static_cast<int64_t>(s->open.HeapBytes() + s->closed.capacity() * sizeof(ClosedChunk));
      for (const ClosedChunk& c : s->closed) bytes += c.size;
    });
  }
  return bytes + index_.MemoryBytes();
}

}  // namespace steward::tsdb
