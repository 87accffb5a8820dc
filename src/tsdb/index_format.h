// A block's index file: a symbol table (every label string once, sorted), one entry per series
// (label pairs as symbol numbers, chunk references with time ranges), one postings list per
// label pair (series entries that carry it), a postings table to find those lists, and a fixed
// table of contents at the end. Every section carries a CRC32C; IndexReader verifies all of
// them on open, so a damaged index is found before it is used. docs/formats/tsdb.md has the
// byte layout. Series ids in postings are the byte offsets of series entries.
//
// Thread safety: IndexWriter belongs to one thread; IndexReader is immutable after Open and
// safe to share.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "base/status.h"
#include "tsdb/file_util.h"
#include "tsdb/labels.h"
#include "tsdb/postings.h"

namespace steward::tsdb {

struct ChunkMeta {
  int64_t mint = 0;
  int64_t maxt = 0;
  uint64_t ref = 0;  // file number << 32 | byte offset in that chunks file
};

class IndexWriter {
 public:
  // Series must come in ascending label order; chunks ascending and non-overlapping.
  void AddSeries(Labels labels, std::vector<ChunkMeta> chunks);
  size_t num_series() const { return series_.size(); }
  Status WriteTo(const std::string& path);

 private:
  struct Entry {
    Labels labels;
    std::vector<ChunkMeta> chunks;
  };
  std::vector<Entry> series_;
};

class IndexReader : public IndexView {
 public:
  // Corruption (naming the file and the damaged part) if any checksum or structure is wrong.
  static StatusOr<std::shared_ptr<IndexReader>> Open(const std::string& path);

  // Labels and chunk metas of the series entry at id (an id from postings).
  Status Series(uint64_t id, Labels* labels, std::vector<ChunkMeta>* chunks) const;
  size_t num_symbols() const { return symbols_.size(); }

  std::vector<std::string> LabelNames() override;
  std::vector<std::string> LabelValues(std::string_view name) override;
  Postings PostingsFor(std::string_view name, std::string_view value) override;
  Postings AllPostings() override;

 private:
  IndexReader() = default;
  Status Load();
  Status LoadSymbols(uint64_t offset);
  Status LoadPostingsTable(uint64_t offset);
  Status VerifySeries(uint64_t begin, uint64_t end);
  Postings ReadPostings(uint64_t offset) const;

  std::string path_;
  std::shared_ptr<MappedFile> file_;
  std::vector<std::string_view> symbols_;
  // name -> (value -> offset of its postings list)
  std::map<std::string_view, std::map<std::string_view, uint64_t>, std::less<>> postings_;
};

}  // namespace steward::tsdb
