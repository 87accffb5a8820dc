#include "tsdb/head_index.h"

#include <algorithm>
#include <mutex>
#include <unordered_set>

namespace steward::tsdb {

uint32_t HeadIndex::Intern(const std::string& s) {
  uint32_t id;
  if (Lookup(s, &id)) {
    ++symbols_[id].refs;
    return id;
  }
  if (!free_ids_.empty()) {
    id = free_ids_.back();
    free_ids_.pop_back();
    symbols_[id].text = s;
  } else {
    id = static_cast<uint32_t>(symbols_.size());
    symbols_.push_back({s, 0});
  }
  symbols_[id].refs = 1;
  ids_.emplace(symbols_[id].text, id);
  return id;
}

void HeadIndex::Release(uint32_t id) {
  if (--symbols_[id].refs > 0) return;
  ids_.erase(symbols_[id].text);
  symbols_[id].text = std::string();
  free_ids_.push_back(id);
}

bool HeadIndex::Lookup(std::string_view s, uint32_t* id) const {
  auto it = ids_.find(s);
  if (it == ids_.end()) return false;
  *id = it->second;
  return true;
}

void HeadIndex::InsertSorted(Postings* p, uint64_t ref) {
  // Grow by a quarter, not push_back's doubling: every series sits in one list per label, so
  // the slack is paid per series and label (series creation is not the hot path).
  if (p->size() == p->capacity()) p->reserve(p->size() + p->size() / 4 + 2);
  if (p->empty() || p->back() < ref) {
    p->push_back(ref);
  } else {
    p->insert(std::lower_bound(p->begin(), p->end(), ref), ref);
  }
}

void HeadIndex::Add(uint64_t ref, const Labels& labels, uint32_t* ids) {
  std::unique_lock<std::shared_mutex> l(mu_);
  for (size_t i = 0; i < labels.size(); ++i) {
    const Label& label = labels.items()[i];
    uint32_t n = Intern(label.name);
    uint32_t v = Intern(label.value);
    ids[2 * i] = n;
    ids[2 * i + 1] = v;
    InsertSorted(&postings_[n][v], ref);
  }
  InsertSorted(&all_, ref);
}

void HeadIndex::Remove(const std::vector<std::pair<uint64_t, SymbolizedLabels>>& series) {
  if (series.empty()) return;
  std::unordered_set<uint64_t> gone;
  std::unordered_set<uint64_t> touched;  // name << 32 | value
  for (const auto& [ref, labels] : series) {
    gone.insert(ref);
    for (uint16_t i = 0; i < labels.size; ++i) {
      touched.insert(uint64_t{labels.ids[2 * i]} << 32 | labels.ids[2 * i + 1]);
    }
  }
  auto is_gone = [&](uint64_t ref) { return gone.count(ref) > 0; };
  std::unique_lock<std::shared_mutex> l(mu_);
  for (uint64_t key : touched) {
    uint32_t n = static_cast<uint32_t>(key >> 32);
    auto& values = postings_[n];
    auto it = values.find(static_cast<uint32_t>(key));
    std::erase_if(it->second, is_gone);
    if (it->second.empty()) values.erase(it);
    if (values.empty()) postings_.erase(n);
  }
  std::erase_if(all_, is_gone);
  for (const auto& [ref, labels] : series) {
    for (uint16_t i = 0; i < 2 * labels.size; ++i) Release(labels.ids[i]);
  }
}

Labels HeadIndex::LabelsOf(const SymbolizedLabels& s) {
  std::vector<Label> out;
  out.reserve(s.size);
  std::shared_lock<std::shared_mutex> l(mu_);
  for (uint16_t i = 0; i < s.size; ++i) {
    out.push_back({Text(s.ids[2 * i]), Text(s.ids[2 * i + 1])});
  }
  return Labels::FromSorted(std::move(out));
}

bool HeadIndex::Equals(const SymbolizedLabels& s, const Labels& labels) {
  if (s.size != labels.size()) return false;
  std::shared_lock<std::shared_mutex> l(mu_);
  for (uint16_t i = 0; i < s.size; ++i) {
    const Label& label = labels.items()[i];
    if (Text(s.ids[2 * i]) != label.name || Text(s.ids[2 * i + 1]) != label.value) return false;
  }
  return true;
}

size_t HeadIndex::NumSymbols() {
  std::shared_lock<std::shared_mutex> l(mu_);
  return ids_.size();
}

int64_t HeadIndex::MemoryBytes() {
  constexpr int64_t kNode = 48;  // a hash-map node with its bucket pointer, roughly
  std::shared_lock<std::shared_mutex> l(mu_);
  int64_t bytes = static_cast<int64_t>(symbols_.size() * sizeof(Symbol) + ids_.size() * kNode);
  for (const Symbol& s : symbols_) {
    if (s.text.capacity() > 15) bytes += static_cast<int64_t>(s.text.capacity() + 1);
  }
  for (const auto& [name, values] : postings_) {
    bytes += kNode;
    for (const auto& [value, list] : values) {
      bytes += kNode + static_cast<int64_t>(sizeof(list) + list.capacity() * sizeof(uint64_t));
    }
  }
  return bytes + static_cast<int64_t>(all_.capacity() * sizeof(uint64_t));
}

std::vector<std::string> HeadIndex::LabelNames() {
  std::vector<std::string> out;
  {
    std::shared_lock<std::shared_mutex> l(mu_);
    for (const auto& [name, values] : postings_) out.push_back(Text(name));
  }
  std::sort(out.begin(), out.end());
  return out;
}

std::vector<std::string> HeadIndex::LabelValues(std::string_view name) {
  std::vector<std::string> out;
  {
    std::shared_lock<std::shared_mutex> l(mu_);
    uint32_t n;
    if (!Lookup(name, &n)) return out;
    auto it = postings_.find(n);
    if (it == postings_.end()) return out;
    for (const auto& [value, list] : it->second) out.push_back(Text(value));
  }
  std::sort(out.begin(), out.end());
  return out;
}

Postings HeadIndex::PostingsFor(std::string_view name, std::string_view value) {
  std::shared_lock<std::shared_mutex> l(mu_);
  uint32_t n, v;
  if (!Lookup(name, &n) || !Lookup(value, &v)) return {};
  auto it = postings_.find(n);
  if (it == postings_.end()) return {};
  auto vit = it->second.find(v);
  return vit == it->second.end() ? Postings{} : vit->second;
}

Postings HeadIndex::AllPostings() {
  std::shared_lock<std::shared_mutex> l(mu_);
  return all_;
}

}  // namespace steward::tsdb
