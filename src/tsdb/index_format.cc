#include "tsdb/index_format.h"

#include <algorithm>
#include <set>

#include "tsdb/encoding.h"

namespace steward::tsdb {
namespace {

constexpr char kMagic[] = "STIX";
constexpr uint8_t kVersion = 1;
constexpr size_t kHeaderBytes = 5;
constexpr size_t kTocBytes = 4 * 8 + 4;  // symbols, series, series end, postings table; CRC

// A section: 4-byte LE body length, body, CRC32C of the body.
std::string Section(std::string_view body) {
  std::string out;
  PutFixed32(&out, static_cast<uint32_t>(body.size()));
  out.append(body);
  PutFixed32(&out, Crc32c(body));
  return out;
}

}  // namespace

void IndexWriter::AddSeries(Labels labels, std::vector<ChunkMeta> chunks) {
  series_.push_back({std::move(labels), std::move(chunks)});
}

Status IndexWriter::WriteTo(const std::string& path) {
  std::set<std::string_view> symbol_set;
  for (const Entry& e : series_) {
    for (const Label& l : e.labels.items()) {
      symbol_set.insert(l.name);
      symbol_set.insert(l.value);
    }
  }
  std::map<std::string_view, uint32_t> symbol_ids;
  std::string body;
  PutUvarint(&body, symbol_set.size());
  for (std::string_view s : symbol_set) {
    symbol_ids.emplace(s, static_cast<uint32_t>(symbol_ids.size()));
    PutString(&body, s);
  }
  FileWriter w;
  RETURN_IF_ERROR(w.Open(path));
  std::string header(kMagic, 4);
  header.push_back(static_cast<char>(kVersion));
  RETURN_IF_ERROR(w.Write(header));
  uint64_t symbols_offset = w.offset();
  RETURN_IF_ERROR(w.Write(Section(body)));

  uint64_t series_offset = w.offset();
  std::map<std::pair<std::string_view, std::string_view>, std::vector<uint64_t>> postings;
  std::vector<uint64_t>& all = postings[{"", ""}];
  for (const Entry& e : series_) {
    uint64_t id = w.offset();
    all.push_back(id);
    body.clear();
    PutUvarint(&body, e.labels.size());
    for (const Label& l : e.labels.items()) {
      PutUvarint(&body, symbol_ids[l.name]);
      PutUvarint(&body, symbol_ids[l.value]);
      postings[{l.name, l.value}].push_back(id);
    }
    PutUvarint(&body, e.chunks.size());
    for (size_t i = 0; i < e.chunks.size(); ++i) {
      const ChunkMeta& c = e.chunks[i];
      PutVarint(&body, i == 0 ? c.mint : c.mint - e.chunks[i - 1].maxt);
      PutUvarint(&body, static_cast<uint64_t>(c.maxt - c.mint));
      PutVarint(&body, static_cast<int64_t>(i == 0 ? c.ref : c.ref - e.chunks[i - 1].ref));
    }
    RETURN_IF_ERROR(w.Write(Section(body)));
  }
  uint64_t series_end = w.offset();

  std::string table;
  PutUvarint(&table, postings.size());
  for (const auto& [pair, ids] : postings) {
    PutString(&table, pair.first);
    PutString(&table, pair.second);
    PutUvarint(&table, w.offset());
    body.clear();
    PutUvarint(&body, ids.size());
    for (size_t i = 0; i < ids.size(); ++i) PutUvarint(&body, ids[i] - (i ? ids[i - 1] : 0));
    RETURN_IF_ERROR(w.Write(Section(body)));
  }
  uint64_t table_offset = w.offset();
  RETURN_IF_ERROR(w.Write(Section(table)));

  std::string toc;
  for (uint64_t v : {symbols_offset, series_offset, series_end, table_offset}) PutFixed64(&toc, v);
  PutFixed32(&toc, Crc32c(toc));
  RETURN_IF_ERROR(w.Write(toc));
  return w.Finish();
}

StatusOr<std::shared_ptr<IndexReader>> IndexReader::Open(const std::string& path) {
  std::shared_ptr<IndexReader> r(new IndexReader());
  r->path_ = path;
  ASSIGN_OR_RETURN(r->file_, MappedFile::Open(path));
  Status st = r->Load();
  if (!st.ok()) return st.Annotate(path);
  return r;
}

// Reads the section at offset into *body, checking bounds and CRC.
static Status ReadSection(std::string_view file, uint64_t offset, std::string_view* body,
                          const char* what) {
  if (offset + 8 > file.size()) return Corruption(std::string(what) + " out of bounds");
  uint32_t len = LoadFixed32(file.data() + offset);
  if (offset + 8 + len > file.size()) return Corruption(std::string(what) + " out of bounds");
  *body = file.substr(offset + 4, len);
  if (Crc32c(*body) != LoadFixed32(file.data() + offset + 4 + len)) {
    return Corruption(std::string(what) + " checksum mismatch at offset " + std::to_string(offset));
  }
  return Status::OK();
}

Status IndexReader::Load() {
  std::string_view f = file_->data();
  if (f.size() < kHeaderBytes + kTocBytes || f.substr(0, 4) != kMagic) {
    return Corruption("not an index file (bad magic or too short)");
  }
  if (static_cast<uint8_t>(f[4]) != kVersion) return Corruption("unknown index version");
  const char* toc = f.data() + f.size() - kTocBytes;
  if (Crc32c(toc, 32) != LoadFixed32(toc + 32)) return Corruption("table of contents checksum");
  RETURN_IF_ERROR(LoadSymbols(LoadFixed64(toc)));
  RETURN_IF_ERROR(LoadPostingsTable(LoadFixed64(toc + 24)));
  return VerifySeries(LoadFixed64(toc + 8), LoadFixed64(toc + 16));
}

Status IndexReader::LoadSymbols(uint64_t offset) {
  std::string_view body;
  RETURN_IF_ERROR(ReadSection(file_->data(), offset, &body, "symbol table"));
  Decoder d(body);
  uint64_t n = d.Uvarint();
  for (uint64_t i = 0; i < n && d.ok(); ++i) symbols_.push_back(d.String());
  if (!d.ok()) return Corruption("symbol table is malformed");
  return Status::OK();
}

Status IndexReader::LoadPostingsTable(uint64_t offset) {
  std::string_view body;
  RETURN_IF_ERROR(ReadSection(file_->data(), offset, &body, "postings table"));
  Decoder d(body);
  uint64_t n = d.Uvarint();
  for (uint64_t i = 0; i < n && d.ok(); ++i) {
    std::string_view name = d.String();
    std::string_view value = d.String();
    uint64_t list = d.Uvarint();
    std::string_view list_body;
    if (d.ok()) RETURN_IF_ERROR(ReadSection(file_->data(), list, &list_body, "postings list"));
    postings_[name][value] = list;
  }
  if (!d.ok()) return Corruption("postings table is malformed");
  return Status::OK();
}

Status IndexReader::VerifySeries(uint64_t begin, uint64_t end) {
  Labels labels;
  std::vector<ChunkMeta> chunks;
  for (uint64_t off = begin; off < end;) {
    RETURN_IF_ERROR(Series(off, &labels, &chunks));
    off += 8 + LoadFixed32(file_->data().data() + off);
  }
  return Status::OK();
}

Status IndexReader::Series(uint64_t id, Labels* labels, std::vector<ChunkMeta>* chunks) const {
  std::string_view body;
  RETURN_IF_ERROR(ReadSection(file_->data(), id, &body, "series entry"));
  Decoder d(body);
  uint64_t n = d.Uvarint();
  // Into the previous series' strings: a querier reads series after series, and assigning
  // into an existing string of enough capacity allocates nothing.
  std::vector<Label> items = std::move(*labels).ReleaseItems();
  size_t used = 0;
  for (; used < n && d.ok(); ++used) {
    uint64_t name = d.Uvarint(), value = d.Uvarint();
    if (name >= symbols_.size() || value >= symbols_.size()) return Corruption("symbol reference");
    if (used == items.size()) items.emplace_back();
    items[used].name.assign(symbols_[name]);
    items[used].value.assign(symbols_[value]);
  }
  items.resize(used);
  *labels = Labels::FromSorted(std::move(items));
  chunks->clear();
  uint64_t nc = d.Uvarint();
  for (uint64_t i = 0; i < nc && d.ok(); ++i) {
    ChunkMeta c;
    c.mint = d.Varint() + (i ? chunks->back().maxt : 0);
    c.maxt = c.mint + static_cast<int64_t>(d.Uvarint());
    c.ref = static_cast<uint64_t>(d.Varint()) + (i ? chunks->back().ref : 0);
    chunks->push_back(c);
  }
  if (!d.ok() || !d.done()) return Corruption("series entry is malformed");
  return Status::OK();
}

std::vector<std::string> IndexReader::LabelNames() {
  std::vector<std::string> out;
  for (const auto& [name, values] : postings_) {
    if (!name.empty()) out.emplace_back(name);
  }
  return out;
}

std::vector<std::string> IndexReader::LabelValues(std::string_view name) {
  std::vector<std::string> out;
  auto it = postings_.find(name);
  if (it == postings_.end() || name.empty()) return out;
  for (const auto& [value, offset] : it->second) out.emplace_back(value);
  return out;
}

Postings IndexReader::ReadPostings(uint64_t offset) const {
  std::string_view body;
  if (!ReadSection(file_->data(), offset, &body, "postings list").ok()) return {};  // verified
  Decoder d(body);
  uint64_t n = d.Uvarint();
  Postings out;
  out.reserve(n);
  uint64_t prev = 0;
  for (uint64_t i = 0; i < n && d.ok(); ++i) out.push_back(prev += d.Uvarint());
  return out;
}

Postings IndexReader::PostingsFor(std::string_view name, std::string_view value) {
  auto it = postings_.find(name);
  if (it == postings_.end()) return {};
  auto vit = it->second.find(value);
  return vit == it->second.end() ? Postings{} : ReadPostings(vit->second);
}

Postings IndexReader::AllPostings() { return PostingsFor("", ""); }

}  // namespace steward::tsdb
