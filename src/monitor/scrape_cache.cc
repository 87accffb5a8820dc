#include "monitor/scrape_cache.h"

#include <functional>

namespace steward::monitor {
namespace {

constexpr size_t kMinSlots = 16;
constexpr size_t kMinCompactIds = 64;  // below this, renumbering saves nothing worth it

}  // namespace

static_assert(sizeof(ScrapeCache::Entry) == 40, "an entry is paid per series: keep it small");

ScrapeCache::ScrapeCache() : slots_(kMinSlots, kNone), mask_(kMinSlots - 1) {}

uint32_t ScrapeCache::Hash(std::string_view text) {
  return static_cast<uint32_t>(std::hash<std::string_view>{}(text));
}

template <typename V>
void ScrapeCache::Grow(V* v, size_t extra) {
  size_t need = v->size() + extra;
  if (need <= v->capacity()) return;
  v->reserve(std::max(need, v->size() + v->size() / 8 + 64));
}

ScrapeCache::Id ScrapeCache::Find(std::string_view text) const {
  uint32_t h = Hash(text);
  for (size_t i = Home(h);; i = (i + 1) & mask_) {
    Id id = slots_[i];
    if (id == kNone) return kNone;
    if (entries_[id].hash == h && TextIs(id, text)) return id;
  }
}

ScrapeCache::Id ScrapeCache::Insert(std::string_view text) {
  if ((live_ + 1) * 4 > slots_.size() * 3) Rehash(slots_.size() * 2);
  Id id;
  if (!free_.empty()) {
    id = free_.back();
    free_.pop_back();
    entries_[id] = Entry{};
  } else {
    Grow(&entries_, 1);
    id = static_cast<Id>(entries_.size());
    entries_.emplace_back();
  }
  Entry& e = entries_[id];
  Grow(&text_, text.size());
  e.text_off = text_.size();
  e.text_len = static_cast<uint32_t>(text.size());
  e.hash = Hash(text);
  text_.insert(text_.end(), text.begin(), text.end());
  size_t i = Home(e.hash);
  while (slots_[i] != kNone) i = (i + 1) & mask_;
  slots_[i] = id;
  ++live_;
  return id;
}

void ScrapeCache::Remove(Id id) {
  Entry& e = entries_[id];
  size_t i = Home(e.hash);
  while (slots_[i] != id) i = (i + 1) & mask_;
  // Backward-shift deletion: pull later entries of the probe run into the hole, unless their
  // home lies cyclically in (hole, their slot], where they must stay to be found.
  for (size_t j = (i + 1) & mask_; slots_[j] != kNone; j = (j + 1) & mask_) {
    size_t home = Home(entries_[slots_[j]].hash);
    bool stays = i < j ? (home > i && home <= j) : (home > i || home <= j);
    if (!stays) {
      slots_[i] = slots_[j];
      i = j;
    }
  }
  slots_[i] = kNone;
  dead_text_ += e.text_len;
  e.text_len = Entry::kDead;
  free_.push_back(id);
  --live_;
  if (dead_text_ > 4096 && dead_text_ * 4 > text_.size()) CompactText();
}

void ScrapeCache::Rehash(size_t slots) {
  slots_.assign(slots, kNone);
  slots_.shrink_to_fit();
  mask_ = slots - 1;
  for (Id id = 0; id < entries_.size(); ++id) {
    if (entries_[id].text_len == Entry::kDead) continue;
    size_t i = Home(entries_[id].hash);
    while (slots_[i] != kNone) i = (i + 1) & mask_;
    slots_[i] = id;
  }
}

void ScrapeCache::CompactText() {
  std::vector<char> text;
  text.reserve(text_.size() - dead_text_);
  for (Entry& e : entries_) {
    if (e.text_len == Entry::kDead) continue;
    size_t off = text.size();
    text.insert(text.end(), text_.begin() + e.text_off, text_.begin() + e.text_off + e.text_len);
    e.text_off = off;
  }
  text_.swap(text);
  dead_text_ = 0;
}

std::vector<ScrapeCache::Id> ScrapeCache::Compact() {
  std::vector<Id> moved;
  if (entries_.size() < kMinCompactIds || live_ * 4 > entries_.size()) return moved;
  moved.assign(entries_.size(), kNone);
  std::vector<Entry> dense;
  dense.reserve(live_);
  for (Id id = 0; id < entries_.size(); ++id) {
    if (entries_[id].text_len == Entry::kDead) continue;
    moved[id] = static_cast<Id>(dense.size());
    dense.push_back(entries_[id]);
  }
  entries_.swap(dense);
  std::vector<Id>().swap(free_);
  size_t slots = kMinSlots;
  while (live_ * 4 > slots * 3) slots *= 2;
  Rehash(slots);
  CompactText();
  return moved;
}

size_t ScrapeCache::MemoryBytes() const {
  return entries_.capacity() * sizeof(Entry) + free_.capacity() * sizeof(Id) +
         slots_.capacity() * sizeof(Id) + text_.capacity();
}

}  // namespace steward::monitor
