#include "tsdb/block.h"

#include <cstdio>
#include <nlohmann/json.hpp>

#include "tsdb/chunk_xor.h"
#include "tsdb/encoding.h"

namespace steward::tsdb {
namespace {

constexpr char kChunksMagic[] = "STCH";
constexpr size_t kChunksHeaderBytes = 8;  // magic, version, 3 bytes padding
constexpr uint64_t kMaxChunkFileBytes = 512ull << 20;
constexpr char kCrockford[] = "0123456789ABCDEFGHJKMNPQRSTVWXYZ";

std::string ChunkFileName(uint32_t n) {
  char buf[16];
  std::snprintf(buf, sizeof buf, "%06u", n);
  return buf;
}

}  // namespace

std::string BlockMeta::ToJson() const {
  nlohmann::ordered_json j;
  j["ulid"] = ulid;
  j["minTime"] = min_time;
  j["maxTime"] = max_time;
  j["stats"] = {{"numSamples", num_samples}, {"numSeries", num_series}, {"numChunks", num_chunks}};
  j["compaction"] = {{"level", level}, {"sources", sources}, {"parents", parents}};
  j["version"] = 1;
  return j.dump(2) + "\n";
}

StatusOr<BlockMeta> BlockMeta::FromJson(std::string_view json) {
  nlohmann::json j = nlohmann::json::parse(json, nullptr, false);
  if (j.is_discarded() || !j.is_object()) return Corruption("meta.json is not valid JSON");
  try {
    BlockMeta m;
    m.ulid = j.at("ulid").get<std::string>();
    m.min_time = j.at("minTime").get<int64_t>();
    m.max_time = j.at("maxTime").get<int64_t>();
    const auto& stats = j.at("stats");
    m.num_samples = stats.value("numSamples", int64_t{0});
    m.num_series = stats.value("numSeries", int64_t{0});
    m.num_chunks = stats.value("numChunks", int64_t{0});
    const auto& c = j.at("compaction");
    m.level = c.value("level", 1);
    m.sources = c.value("sources", std::vector<std::string>{});
    m.parents = c.value("parents", std::vector<std::string>{});
    if (j.value("version", 0) != 1) return Corruption("meta.json: unknown version");
    return m;
  } catch (const nlohmann::json::exception& e) {
    return Corruption(std::string("meta.json: ") + e.what());
  }
}

std::string NewUlid(int64_t unix_ms, std::mt19937_64& rng) {
  std::string out(26, '0');
  uint64_t t = static_cast<uint64_t>(unix_ms) & ((uint64_t{1} << 48) - 1);
  for (int i = 9; i >= 0; --i, t >>= 5) out[static_cast<size_t>(i)] = kCrockford[t & 31];
  uint64_t hi = rng(), lo = rng();
  for (int i = 10; i < 26; ++i) {
    out[static_cast<size_t>(i)] = kCrockford[(i < 18 ? hi : lo) & 31];
    (i < 18 ? hi : lo) >>= 5;
  }
  return out;
}

bool LooksLikeUlid(std::string_view name) {
  if (name.size() != 26) return false;
  for (char c : name) {
    if (std::string_view(kCrockford).find(c) == std::string_view::npos) return false;
  }
  return true;
}

StatusOr<std::shared_ptr<Block>> Block::Open(const std::string& dir) {
  std::shared_ptr<Block> b(new Block());
  b->dir_ = dir;
  std::string name = dir.substr(dir.find_last_of('/') + 1);
  auto fail = [&](const Status& st) { return st.Annotate("block " + name); };
  auto json = ReadWholeFile(dir + "/meta.json");
  if (!json.ok()) return fail(json.status());
  auto meta = BlockMeta::FromJson(*json);
  if (!meta.ok()) return fail(meta.status());
  b->meta_ = std::move(meta).value();
  auto index = IndexReader::Open(dir + "/index");
  if (!index.ok()) return fail(index.status());
  b->index_ = std::move(index).value();
  auto files = ListDir(dir + "/chunks");
  if (!files.ok()) return fail(files.status());
  for (size_t i = 0; i < files->size(); ++i) {
    if ((*files)[i] != ChunkFileName(static_cast<uint32_t>(i + 1))) {
      return fail(Corruption("unexpected chunk file " + (*files)[i]));
    }
    auto f = MappedFile::Open(dir + "/chunks/" + (*files)[i]);
    if (!f.ok()) return fail(f.status());
    if ((*f)->size() < kChunksHeaderBytes || (*f)->data().substr(0, 4) != kChunksMagic) {
      return fail(Corruption("chunk file " + (*files)[i] + " has a bad header"));
    }
    b->chunk_files_.push_back(std::move(f).value());
  }
  b->size_bytes_ = DiskUsage(dir);
  return b;
}

StatusOr<std::string_view> Block::Chunk(uint64_t ref) const {
  uint64_t file = ref >> 32, offset = ref & 0xffffffffu;
  auto bad = [&](const std::string& what) {
    return Corruption("block " + meta_.ulid + ": chunk " + std::to_string(ref) + ": " + what);
  };
  if (file == 0 || file > chunk_files_.size()) return bad("no such chunk file");
  std::string_view data = chunk_files_[file - 1]->data();
  if (offset >= data.size()) return bad("offset out of bounds");
  Decoder d(data.substr(offset));
  uint64_t len = d.Uvarint();
  if (!d.ok() || d.remaining() < len + 5) return bad("truncated");
  const char* enc = reinterpret_cast<const char*>(d.position());
  if (Crc32c(enc, len + 1) != LoadFixed32(enc + len + 1)) return bad("checksum mismatch");
  if (static_cast<uint8_t>(enc[0]) != kEncodingXor) return bad("unknown encoding");
  return std::string_view(enc + 1, len);
}

BlockWriter::BlockWriter(std::string db_dir, BlockMeta meta)
    : db_dir_(std::move(db_dir)), meta_(std::move(meta)) {
  meta_.num_samples = meta_.num_series = meta_.num_chunks = 0;
  tmp_dir_ = db_dir_ + "/" + meta_.ulid + ".tmp";
}

BlockWriter::~BlockWriter() {
  if (!committed_) RemoveAll(tmp_dir_).IgnoreError();
}

Status BlockWriter::Start() {
  RETURN_IF_ERROR(RemoveAll(tmp_dir_));
  RETURN_IF_ERROR(MakeDirs(tmp_dir_ + "/chunks"));
  return OpenChunkFile();
}

Status BlockWriter::OpenChunkFile() {
  if (chunk_file_ > 0) RETURN_IF_ERROR(chunks_.Finish());
  ++chunk_file_;
  RETURN_IF_ERROR(chunks_.Open(tmp_dir_ + "/chunks/" + ChunkFileName(chunk_file_)));
  std::string header(kChunksMagic, 4);
  header.push_back(1);
  header.append(3, '\0');
  return chunks_.Write(header);
}

Status BlockWriter::WriteChunk(const ChunkData& c, uint64_t* ref) {
  std::string entry;
  PutUvarint(&entry, c.bytes.size());
  size_t start = entry.size();
  entry.push_back(static_cast<char>(kEncodingXor));
  entry.append(c.bytes);
  PutFixed32(&entry, Crc32c(entry.data() + start, entry.size() - start));
  if (chunks_.offset() + entry.size() > kMaxChunkFileBytes) RETURN_IF_ERROR(OpenChunkFile());
  *ref = uint64_t{chunk_file_} << 32 | chunks_.offset();
  return chunks_.Write(entry);
}

Status BlockWriter::AddSeries(const Labels& labels, const std::vector<ChunkData>& chunks) {
  if (chunks.empty()) return Status::OK();
  std::vector<ChunkMeta> metas;
  metas.reserve(chunks.size());
  for (const ChunkData& c : chunks) {
    ChunkMeta m{c.mint, c.maxt, 0};
    RETURN_IF_ERROR(WriteChunk(c, &m.ref));
    metas.push_back(m);
    meta_.num_samples += ChunkSampleCount(c.bytes);
  }
  meta_.num_chunks += static_cast<int64_t>(chunks.size());
  ++meta_.num_series;
  index_.AddSeries(labels, std::move(metas));
  return Status::OK();
}

StatusOr<BlockMeta> BlockWriter::Commit() {
  RETURN_IF_ERROR(chunks_.Finish());
  RETURN_IF_ERROR(index_.WriteTo(tmp_dir_ + "/index"));
  RETURN_IF_ERROR(WriteFileDurably(tmp_dir_ + "/meta.json", meta_.ToJson()));
  RETURN_IF_ERROR(SyncDir(tmp_dir_ + "/chunks"));
  RETURN_IF_ERROR(SyncDir(tmp_dir_));
  RETURN_IF_ERROR(RenameDurably(tmp_dir_, db_dir_ + "/" + meta_.ulid, db_dir_));
  committed_ = true;
  return meta_;
}

}  // namespace steward::tsdb
