// Head: the in-memory, writable part of the database. Each series (MemSeries) holds its labels
// as symbol ids, its closed XOR chunks and one open chunk; series are found by ref (the
// appender's fast path) or by label hash (collisions resolved by comparing labels), both
// through lock-striped maps. The head knows nothing of the WAL: the Db logs first, then calls
// Append here.
//
// Protocol with appenders: Get*/Create* return a series with its `pending` count raised, which
// keeps garbage collection away until Append/Release lowers it. Readers (queriers, the block
// writer) must hold the Db's read lock that excludes Truncate(), because they keep pointers to
// closed chunks after releasing the series lock.
//
// Thread safety: all methods are thread-safe. A series' chunks are guarded by its spin lock
// (held for a few hundred nanoseconds at most).
#pragma once

#include <atomic>
#include <bit>
#include <cstdint>
#include <limits>
#include <memory>
#include <shared_mutex>
#include <string>
#include <vector>

#include "tsdb/chunk_xor.h"
#include "tsdb/head_index.h"
#include "tsdb/labels.h"

namespace steward::tsdb {

// Division rounding towards minus infinity (block and chunk boundaries of negative times).
inline int64_t FloorDiv(int64_t a, int64_t b) {
  return a / b - ((a % b != 0) && ((a < 0) != (b < 0)));
}

class SpinLock {
 public:
  void lock();
  void unlock() { locked_.store(false, std::memory_order_release); }

 private:
  std::atomic<bool> locked_{false};
};

struct ClosedChunk {
  int64_t mint = 0;
  int64_t maxt = 0;
  std::unique_ptr<uint8_t[]> data;
  uint32_t size = 0;
};

// One head series. Its label ids are stored right after it, in the same allocation (one malloc
// per series, and no pointer to them): create with New(), free with delete.
struct MemSeries {
  static MemSeries* New(uint64_t ref, uint64_t hash, uint16_t num_labels);
  static void operator delete(void* p) { ::operator delete(p); }

  const uint64_t ref;
  const uint64_t hash;
  const uint16_t num_labels;
  SpinLock lock;
  std::atomic<bool> wal_logged{false};  // its series record is in the WAL
  std::atomic<uint32_t> pending{0};     // appenders holding it; see the header comment
  // Guarded by lock:
  std::vector<ClosedChunk> closed;
  XorChunkBuilder open;

  uint32_t* label_ids() { return reinterpret_cast<uint32_t*>(this + 1); }
  SymbolizedLabels labels() const {
    return {reinterpret_cast<const uint32_t*>(this + 1), num_labels};
  }

 private:
  MemSeries(uint64_t r, uint64_t h, uint16_t n) : ref(r), hash(h), num_labels(n) {}
};
static_assert(sizeof(MemSeries) % alignof(uint32_t) == 0);

// SeriesTable: one stripe's index of series by a 64-bit key the series carries (Key: its ref,
// or its label hash, where collisions put several series under one key). Open addressing with
// linear probing and backward-shift deletion, one pointer per slot: ~14 bytes a series at the
// usual load, where a std::unordered_map node costs 32 bytes plus its bucket. Owns nothing.
// Thread safety: none; the stripe's mutex guards it.
// The head's maps are split into 2^kSeriesStripeBits stripes by the low bits of the key.
inline constexpr int kSeriesStripeBits = 10;

template <const uint64_t MemSeries::*Key>
class SeriesTable {
 public:
  // Calls f on each series stored under key until f returns true; returns that series.
  template <typename F>
  MemSeries* Find(uint64_t key, F f) const {
    if (size_ == 0) return nullptr;
    for (size_t i = Home(key);; i = (i + 1) & mask_) {
      MemSeries* s = slots_[i];
      if (s == nullptr) return nullptr;
      if (s->*Key == key && f(s)) return s;
    }
  }
  MemSeries* Find(uint64_t key) const {
    return Find(key, [](const MemSeries*) { return true; });
  }

  void Insert(MemSeries* s) {
    if ((size_ + 1) * 4 > slots_.size() * 3) Resize(slots_.empty() ? 8 : slots_.size() * 2);
    Place(s);
    ++size_;
  }

  void Erase(MemSeries* s) {  // s must be in the table
    size_t i = Home(s->*Key);
    while (slots_[i] != s) i = (i + 1) & mask_;
    // Backward shift: pull later series of the probe run into the hole, unless their home lies
    // cyclically in (hole, their slot], where they must stay to be found.
    for (size_t j = (i + 1) & mask_; slots_[j] != nullptr; j = (j + 1) & mask_) {
      size_t home = Home(slots_[j]->*Key);
      bool stays = i < j ? (home > i && home <= j) : (home > i || home <= j);
      if (!stays) {
        slots_[i] = slots_[j];
        i = j;
      }
    }
    slots_[i] = nullptr;
    if (--size_ * 8 < slots_.size() && slots_.size() > 8) Resize(slots_.size() / 2);
  }

  template <typename F>
  void ForEach(F f) const {
    for (MemSeries* s : slots_) {
      if (s != nullptr) f(s);
    }
  }
  size_t size() const { return size_; }
  size_t HeapBytes() const { return slots_.capacity() * sizeof(MemSeries*); }

 private:
  // Fibonacci hashing of the key without the stripe's bits: a stripe's refs then form a run of
  // consecutive numbers, which golden-ratio hashing spreads evenly (one probe per lookup).
  size_t Home(uint64_t key) const {
    return ((key >> kSeriesStripeBits) * 0x9E3779B97F4A7C15ull) >> shift_;
  }
  void Place(MemSeries* s) {
    size_t i = Home(s->*Key);
    while (slots_[i] != nullptr) i = (i + 1) & mask_;
    slots_[i] = s;
  }
  void Resize(size_t slots) {
    std::vector<MemSeries*> old(slots, nullptr);
    old.swap(slots_);
    mask_ = slots - 1;
    shift_ = 64 - std::countr_zero(slots);
    for (MemSeries* s : old) {
      if (s != nullptr) Place(s);
    }
  }

  std::vector<MemSeries*> slots_;
  size_t mask_ = 0;
  int shift_ = 63;
  size_t size_ = 0;
};

// A chunk as a reader sees it: closed chunks by pointer, the open chunk copied.
struct ChunkSnapshot {
  int64_t mint = 0;
  int64_t maxt = 0;
  std::string_view borrowed;
  std::string owned;
  std::string_view bytes() const { return owned.empty() ? borrowed : std::string_view(owned); }
};

struct HeadSeriesData {
  Labels labels;
  std::vector<ChunkSnapshot> chunks;  // ascending time, overlapping the requested range
};

class Head {
 public:
  using Hasher = uint64_t (*)(const Labels&);
  // chunk_range: chunks never span a multiple of it (the block duration), so head blocks can
  // be cut without re-encoding. hasher: Labels::Hash unless a test forces collisions.
  explicit Head(int64_t chunk_range, Hasher hasher = nullptr);
  ~Head();

  // The series for ref with pending raised, or nullptr if unknown (or collected).
  MemSeries* GetByRef(uint64_t ref);
  // Finds or creates the series for labels (pending raised). *created tells which.
  MemSeries* GetOrCreate(const Labels& labels, bool* created);
  // WAL replay: creates the series with a given ref, or returns the existing series with the
  // same labels (whose ref may differ). Pending is not raised.
  MemSeries* CreateWithRef(uint64_t ref, const Labels& labels);
  void Release(MemSeries* s) { s->pending.fetch_sub(1, std::memory_order_release); }

  enum class AppendResult { kOk, kOutOfOrder };
  // Appends under the series lock; rejects t not above the series' last sample.
  AppendResult Append(MemSeries* s, int64_t t, double v);
  // Records that n samples in [mint, maxt] were appended (once per batch, off the hot path).
  void NoteAppended(int64_t n, int64_t mint, int64_t maxt);

  Labels LabelsOf(const MemSeries& s) { return index_.LabelsOf(s.labels()); }
  HeadIndex& index() { return index_; }
  // Labels and chunks overlapping [mint, maxt] of series ref; false if unknown.
  bool Read(uint64_t ref, int64_t mint, int64_t maxt, HeadSeriesData* out);

  // Drops chunks that end before mint and the series left empty (unless pending). Returns the
  // number of series removed.
  int64_t Truncate(int64_t mint);
  // The earliest sample time held (a scan of every series; INT64_MAX when empty). MinTime()
  // is a cheaper lower bound that truncation only raises to the truncation time.
  int64_t DataMinTime();
  // Whether series ref is still in the head (WAL checkpoints keep only those series).
  bool Contains(uint64_t ref);

  int64_t MinTime() const { return min_time_.load(std::memory_order_acquire); }
  int64_t MaxTime() const { return max_time_.load(std::memory_order_acquire); }
  bool Empty() const { return MaxTime() == std::numeric_limits<int64_t>::min(); }
  int64_t NumSeries() const { return num_series_.load(std::memory_order_relaxed); }
  int64_t NumChunks() const { return num_chunks_.load(std::memory_order_relaxed); }
  int64_t NumSamples() const { return num_samples_.load(std::memory_order_relaxed); }
  uint64_t LastRef() const { return next_ref_.load(std::memory_order_relaxed) - 1; }
  // Memory held by series, chunks, maps and the index (an estimate).
  int64_t MemoryBytes();

 private:
  static constexpr size_t kStripes = size_t{1} << kSeriesStripeBits;
  // The ref table owns its series (deleted by Collect and ~Head).
  struct RefStripe {
    std::shared_mutex mu;
    SeriesTable<&MemSeries::ref> series;
  };
  struct HashStripe {
    std::shared_mutex mu;
    SeriesTable<&MemSeries::hash> series;
  };
  MemSeries* FindByHash(HashStripe& stripe, uint64_t hash, const Labels& labels);
  MemSeries* Insert(HashStripe& stripe, uint64_t ref, uint64_t hash, const Labels& labels);
  void CutChunk(MemSeries* s);
  int64_t TruncateSeries(MemSeries* s, int64_t mint, int64_t* removed_samples);
  int64_t Collect(const std::vector<MemSeries*>& candidates);

  const int64_t chunk_range_;
  const Hasher hasher_;
  HeadIndex index_;
  std::unique_ptr<RefStripe[]> refs_;
  std::unique_ptr<HashStripe[]> hashes_;
  std::atomic<uint64_t> next_ref_{1};
  std::atomic<int64_t> min_time_{std::numeric_limits<int64_t>::max()};
  std::atomic<int64_t> max_time_{std::numeric_limits<int64_t>::min()};
  std::atomic<int64_t> num_series_{0};
  std::atomic<int64_t> num_chunks_{0};
  std::atomic<int64_t> num_samples_{0};
};

}  // namespace steward::tsdb
