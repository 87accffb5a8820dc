// HeadIndex: the in-memory index of the head — a reference-counted symbol table that interns
// every label name and value once, and postings (label pair -> ascending series refs) for
// matcher selection. Series keep their labels as symbol ids (4 bytes a string), which is most of
// why a head series costs a few hundred bytes rather than kilobytes.
//
// Thread safety: every method is thread-safe (one shared_mutex: readers share, series creation
// and garbage collection are exclusive).
#pragma once

#include <cstdint>
#include <deque>
#include <memory>
#include <shared_mutex>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>

#include "tsdb/labels.h"
#include "tsdb/postings.h"

namespace steward::tsdb {

// Label pairs as symbol ids: name0, value0, name1, value1, ... A view: the ids live with the
// series that owns them (MemSeries stores them right after itself).
struct SymbolizedLabels {
  const uint32_t* ids = nullptr;
  uint16_t size = 0;  // number of labels (pairs)
};

class HeadIndex : public IndexView {
 public:
  // Interns the labels into ids (2 * labels.size() of them) and adds `ref` to the postings of
  // each pair and to the all-series list.
  void Add(uint64_t ref, const Labels& labels, uint32_t* ids);
  // Removes series (ref and their labels) from postings and releases their symbols.
  void Remove(const std::vector<std::pair<uint64_t, SymbolizedLabels>>& series);

  Labels LabelsOf(const SymbolizedLabels& s);
  bool Equals(const SymbolizedLabels& s, const Labels& labels);
  size_t NumSymbols();
  // Heap bytes held by symbols and postings (an estimate: container overheads included).
  int64_t MemoryBytes();

  std::vector<std::string> LabelNames() override;
  std::vector<std::string> LabelValues(std::string_view name) override;
  Postings PostingsFor(std::string_view name, std::string_view value) override;
  Postings AllPostings() override;

 private:
  struct Symbol {
    std::string text;
    uint32_t refs = 0;
  };
  uint32_t Intern(const std::string& s);  // mu_ held exclusively
  void Release(uint32_t id);              // mu_ held exclusively
  const std::string& Text(uint32_t id) const { return symbols_[id].text; }
  bool Lookup(std::string_view s, uint32_t* id) const;
  static void InsertSorted(Postings* p, uint64_t ref);

  std::shared_mutex mu_;
  std::deque<Symbol> symbols_;  // a deque: entries never move, so ids_ may key on their text
  std::vector<uint32_t> free_ids_;
  std::unordered_map<std::string_view, uint32_t> ids_;
  std::unordered_map<uint32_t, std::unordered_map<uint32_t, Postings>> postings_;
  Postings all_;
};

}  // namespace steward::tsdb
