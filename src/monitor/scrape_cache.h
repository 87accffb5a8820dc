// ScrapeCache: what a scrape loop remembers of one target's series between scrapes, keyed on
// the body's raw series text ("name{a=\"x\"}"): the TSDB ref and the bookkeeping for duplicates
// and staleness. It holds no labels — the TSDB head has them, and the loop rebuilds them (from
// the parser, or from the text kept here) only when the head asks for them again.
//
// Built for memory, as it lives as long as the target and costs per series: every series text is
// stored once in one arena, an entry is a 40-byte struct named by a 32-bit id, and the index is
// an open-addressing table of ids (linear probing, backward-shift deletion). A known series costs
// its text plus ~50 bytes, against ~1 KB for a std::unordered_map of strings to labels.
//
// Ids are stable until Compact(), which renumbers the entries once most of them have been
// removed (a burst of churn must not pin memory) and says how ids moved. Removed text is
// reclaimed when it makes up a quarter of the arena.
//
// Thread safety: none; the scrape loop's thread.
#pragma once

#include <cstdint>
#include <cstring>
#include <string>
#include <string_view>
#include <vector>

#include "tsdb/tsdb.h"

namespace steward::monitor {

class ScrapeCache {
 public:
  using Id = uint32_t;
  static constexpr Id kNone = UINT32_MAX;

  struct Entry {
    tsdb::SeriesRef ref = 0;          // 0: none yet (the labels are needed)
    uint32_t seen_iter = 0;           // last scrape whose body had this series
    uint32_t tracked_iter = 0;        // last scrape that appended it without a timestamp
    uint32_t created_iter = 0;        // the scrape that inserted it
    uint32_t order_pos = UINT32_MAX;  // index in the body order being built / last built
   private:
    friend class ScrapeCache;
    uint64_t text_off = 0;
    uint32_t text_len = kDead;
    uint32_t hash = 0;
    static constexpr uint32_t kDead = UINT32_MAX;
  };

  ScrapeCache();

  // The id of the series with this text, or kNone.
  Id Find(std::string_view text) const;
  // Adds a series that Find() does not know; its entry is default-initialised.
  Id Insert(std::string_view text);
  // Whether id's text is `text` (the loop's sequential fast path: no hashing).
  bool TextIs(Id id, std::string_view text) const {
    const Entry& e = entries_[id];
    return e.text_len == text.size() &&
           std::memcmp(text_.data() + e.text_off, text.data(), text.size()) == 0;
  }
  std::string_view Text(Id id) const {
    return std::string_view(text_.data() + entries_[id].text_off, entries_[id].text_len);
  }
  Entry& operator[](Id id) { return entries_[id]; }
  const Entry& operator[](Id id) const { return entries_[id]; }

  // Removes every entry for which keep(entry) is false; returns how many went.
  template <typename Keep>
  size_t RemoveUnless(Keep keep) {
    size_t removed = 0;
    for (Id id = 0; id < entries_.size(); ++id) {
      if (entries_[id].text_len != Entry::kDead && !keep(entries_[id])) {
        Remove(id);
        ++removed;
      }
    }
    return removed;
  }
  // Calls f(id) for every entry.
  template <typename F>
  void ForEach(F f) {
    for (Id id = 0; id < entries_.size(); ++id) {
      if (entries_[id].text_len != Entry::kDead) f(id);
    }
  }

  // Gives memory back after removals: when at most a quarter of the ids are in use, renumbers
  // them densely and returns old id -> new id (kNone for no entry), which the caller applies to
  // the ids it holds; otherwise returns an empty vector and ids are unchanged.
  std::vector<Id> Compact();

  size_t size() const { return live_; }
  // Heap bytes held (capacities), for tests and estimates.
  size_t MemoryBytes() const;

 private:
  static uint32_t Hash(std::string_view text);
  size_t Home(uint32_t hash) const { return hash & mask_; }
  void Remove(Id id);
  void Rehash(size_t slots);
  void CompactText();
  template <typename V>
  static void Grow(V* v, size_t extra);  // 1/8 growth: slack stays small

  std::vector<Entry> entries_;
  std::vector<Id> free_;   // ids of removed entries, reused by Insert
  std::vector<Id> slots_;  // the index: kNone or an id; size is a power of two
  size_t mask_ = 0;
  size_t live_ = 0;
  // Every live entry's text, and removed text until compacted. A vector, not a std::string:
  // libstdc++ strings at least double on reserve(), and this arena grows by an eighth.
  std::vector<char> text_;
  size_t dead_text_ = 0;
};

}  // namespace steward::monitor
