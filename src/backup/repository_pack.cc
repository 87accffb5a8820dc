// The blob side of the Repository: sealing blobs into packs, writing packs and index files,
// and reading blobs back. Formats: docs/formats/backup.md.
#include <fmt/format.h>

#include <algorithm>
#include <cstring>
#include <map>
#include <nlohmann/json.hpp>
#include <thread>
#include <tuple>

#include "backup/json_fields.h"
#include "backup/repository_format.h"

namespace steward::backup {

namespace {

void PutU32(std::string* out, uint32_t v) {
  char b[4] = {static_cast<char>(v), static_cast<char>(v >> 8), static_cast<char>(v >> 16),
               static_cast<char>(v >> 24)};
  out->append(b, 4);
}

uint32_t GetU32(const char* p) {
  const auto* u = reinterpret_cast<const uint8_t*>(p);
  return uint32_t{u[0]} | uint32_t{u[1]} << 8 | uint32_t{u[2]} << 16 | uint32_t{u[3]} << 24;
}

// Per-thread scratch buffers are reused across blobs, but one that grew for a huge tree blob
// is given back when done rather than held for the thread's life.
class ScratchTrim {
 public:
  explicit ScratchTrim(std::string& s) : s_(s) {}
  ~ScratchTrim() {
    if (s_.capacity() > (16u << 20)) std::string().swap(s_);
  }

 private:
  std::string& s_;
};

std::string_view TypeName(BlobType type) { return type == BlobType::kTree ? "tree" : "data"; }

int TypeIndex(BlobType type) { return type == BlobType::kTree ? 1 : 0; }

// Decrypts, decompresses and verifies one sealed blob.
Status OpenBlob(const Key& key, const Id& pack, const Id& id, BlobType type, uint32_t offset,
                uint32_t raw_length, std::string_view sealed, std::string* plaintext) {
  auto where = [&] {
    return fmt::format("pack {}: {} blob {} at offset {}", PackPath(pack), TypeName(type), id.Hex(),
                       offset);
  };
  thread_local std::string payload;
  ScratchTrim trim(payload);
  payload.clear();
  if (!backup::Open(key, sealed, &payload).ok())
    return Corruption(where() + ": does not decrypt (the pack is damaged)");
  if (payload.empty()) return Corruption(where() + ": empty payload");
  std::string_view body = std::string_view(payload).substr(1);
  plaintext->clear();
  if (static_cast<uint8_t>(payload[0]) == kBlobRaw) {
    plaintext->assign(body);
  } else if (static_cast<uint8_t>(payload[0]) == kBlobZstd) {
    Status st = Decompress(body, raw_length, plaintext);
    if (!st.ok()) return Corruption(where() + ": " + st.message());
  } else {
    return Corruption(where() + fmt::format(": unknown payload format {}",
                                            static_cast<int>(static_cast<uint8_t>(payload[0]))));
  }
  if (plaintext->size() != raw_length || Sha256(*plaintext) != id)
    return Corruption(where() + ": content does not hash to the blob id");
  return Status::OK();
}

}  // namespace

Status Repository::State::LoadStoredBlob(Repository& repo, const Id& id, const BlobLocation& where,
                                         std::string* sealed, std::string* plaintext) {
  Status st =
      repo.backend_->Load(FileType::kData, where.pack.Hex(), sealed, where.offset, where.length);
  if (!st.ok())
    return Status(st.code(), fmt::format("{} blob {}: read pack {}: {}", TypeName(where.type),
                                         id.Hex(), PackPath(where.pack), st.message()));
  if (sealed->size() != where.length)
    return Corruption(fmt::format("pack {}: {} blob {} at offset {}: pack is too short",
                                  PackPath(where.pack), TypeName(where.type), id.Hex(),
                                  where.offset));
  return OpenBlob(repo.master_, where.pack, id, where.type, where.offset, where.raw_length, *sealed,
                  plaintext);
}

std::string PackPath(const Id& pack) {
  std::string hex = pack.Hex();
  return fmt::format("data/{}/{}", hex.substr(0, 2), hex);
}

std::string FilePath(FileType type, std::string_view name) {
  if (type == FileType::kData) {
    if (auto id = Id::FromHex(name)) return PackPath(*id);
  }
  std::string_view dir = FileTypeDir(type);
  return dir.empty() ? std::string(name) : fmt::format("{}/{}", dir, name);
}

std::string EncodePackHeader(const std::vector<PackEntry>& entries) {
  std::string h;
  h.reserve(entries.size() * kPackHeaderEntrySize);
  for (const PackEntry& e : entries) {
    h.push_back(static_cast<char>(e.where.type));
    PutU32(&h, e.where.length);
    PutU32(&h, e.where.raw_length);
    h.append(reinterpret_cast<const char*>(e.id.bytes.data()), e.id.bytes.size());
  }
  return h;
}

Status DecodePackHeader(const Id& pack, std::string_view header, uint64_t blobs_end,
                        std::vector<PackEntry>* out) {
  out->clear();
  if (header.size() % kPackHeaderEntrySize != 0)
    return Corruption(fmt::format("pack {}: header is {} bytes, not a multiple of {}",
                                  PackPath(pack), header.size(), kPackHeaderEntrySize));
  uint64_t offset = 0;
  for (size_t i = 0; i < header.size(); i += kPackHeaderEntrySize) {
    const char* p = header.data() + i;
    uint8_t type = static_cast<uint8_t>(p[0]);
    if (type > 1)
      return Corruption(fmt::format("pack {}: header entry {} has unknown blob type {}",
                                    PackPath(pack), i / kPackHeaderEntrySize, type));
    PackEntry e;
    e.where.pack = pack;
    e.where.type = static_cast<BlobType>(type);
    e.where.offset = static_cast<uint32_t>(offset);
    e.where.length = GetU32(p + 1);
    e.where.raw_length = GetU32(p + 5);
    std::memcpy(e.id.bytes.data(), p + 9, 32);
    offset += e.where.length;
    if (offset > blobs_end || e.where.length < kSealOverhead + 1)
      return Corruption(fmt::format("pack {}: header entry {} does not fit the pack",
                                    PackPath(pack), i / kPackHeaderEntrySize));
    out->push_back(e);
  }
  if (offset != blobs_end)
    return Corruption(fmt::format("pack {}: header lists {} bytes of blobs, the pack has {}",
                                  PackPath(pack), offset, blobs_end));
  return Status::OK();
}

std::string EncodeIndexJson(const std::vector<PackEntry>& entries) {
  // Grouped by pack in first-seen order. Written by hand: every value is hex or a number, and
  // a rewritten index of a large repository has millions of entries.
  std::vector<Id> order;
  std::unordered_map<Id, std::vector<const PackEntry*>, IdHash> by_pack;
  for (const PackEntry& e : entries) {
    auto [it, fresh] = by_pack.try_emplace(e.where.pack);
    if (fresh) order.push_back(e.where.pack);
    it->second.push_back(&e);
  }
  std::string out = "{\"packs\":[";
  out.reserve(entries.size() * 150 + order.size() * 90 + 16);
  for (size_t p = 0; p < order.size(); ++p) {
    if (p) out += ',';
    fmt::format_to(std::back_inserter(out), "{{\"id\":\"{}\",\"blobs\":[", order[p].Hex());
    const auto& blobs = by_pack[order[p]];
    for (size_t b = 0; b < blobs.size(); ++b) {
      const PackEntry& e = *blobs[b];
      fmt::format_to(std::back_inserter(out),
                     "{}{{\"id\":\"{}\",\"type\":\"{}\",\"offset\":{},\"length\":{},"
                     "\"raw_length\":{}}}",
                     b ? "," : "", e.id.Hex(), TypeName(e.where.type), e.where.offset,
                     e.where.length, e.where.raw_length);
    }
    out += "]}";
  }
  out += "]}";
  return out;
}

Status DecodeIndexJson(std::string_view text, std::vector<PackEntry>* out) {
  using nlohmann::json;
  json j = json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (!j.is_object() || !j.contains("packs") || !j["packs"].is_array())
    return Corruption("not an index (expected a JSON object with a \"packs\" array)");
  try {
    for (const json& p : j["packs"]) {
      auto pack = Id::FromHex(p.at("id").get<std::string>());
      if (!pack) return Corruption("a pack id is not 64 hex digits");
      for (const json& b : p.at("blobs")) {
        PackEntry e;
        auto id = Id::FromHex(b.at("id").get<std::string>());
        if (!id)
          return Corruption(fmt::format("pack {}: a blob id is not 64 hex digits", pack->Hex()));
        std::string type = b.at("type").get<std::string>();
        if (type != "data" && type != "tree")
          return Corruption(fmt::format("pack {}: blob {} has type \"{}\" (data or tree)",
                                        pack->Hex(), id->Hex(), type));
        e.id = *id;
        e.where.pack = *pack;
        e.where.type = type == "tree" ? BlobType::kTree : BlobType::kData;
        e.where.offset = JsonIntAt<uint32_t>(b, "offset");
        e.where.length = JsonIntAt<uint32_t>(b, "length");
        e.where.raw_length = JsonIntAt<uint32_t>(b, "raw_length");
        out->push_back(e);
      }
    }
  } catch (const json::exception& e) {
    return Corruption(std::string("index: ") + e.what());
  }
  return Status::OK();
}

uint32_t Repository::State::PackNumber(const Id& pack) {
  auto [it, fresh] = pack_numbers.try_emplace(pack, static_cast<uint32_t>(packs.size()));
  if (fresh) packs.push_back(pack);
  return it->second;
}

void Repository::State::AddToIndex(const std::vector<PackEntry>& entries) {
  for (const PackEntry& e : entries) {
    uint32_t number = PackNumber(e.where.pack);
    auto [it, fresh] = index[TypeIndex(e.where.type)].try_emplace(
        e.id, Slot{number, e.where.offset, e.where.length, e.where.raw_length});
    if (!fresh && packs[it->second.pack] != e.where.pack) extra.push_back(e);
  }
}

void Repository::State::DedupeExtra() {
  auto key = [](const PackEntry& e) {
    return std::tie(e.where.pack, e.where.offset, e.id, e.where.type);
  };
  std::sort(extra.begin(), extra.end(),
            [&](const PackEntry& a, const PackEntry& b) { return key(a) < key(b); });
  extra.erase(std::unique(extra.begin(), extra.end(),
                          [&](const PackEntry& a, const PackEntry& b) { return key(a) == key(b); }),
              extra.end());
}

Status Repository::State::WritePack(Repository& repo, std::shared_ptr<OpenPack> pack) {
  State& s = *repo.state_;
  std::string header = EncodePackHeader(pack->entries);
  {
    // Under mu: LoadBlob may be copying an in-flight blob out of pack->data right now, and
    // appending may move the buffer.
    std::lock_guard<std::mutex> lock(s.mu);
    size_t before = pack->data.size();
    Seal(repo.master_, header, &pack->data);
    PutU32(&pack->data, static_cast<uint32_t>(pack->data.size() - before));
  }
  Id id = Sha256(pack->data);
  Status st = repo.backend_->Save(FileType::kData, id.Hex(), pack->data);
  std::vector<PackEntry> to_index;
  {
    std::lock_guard<std::mutex> lock(s.mu);
    for (PackEntry& e : pack->entries) {
      e.where.pack = id;
      auto& flying = s.in_flight[TypeIndex(e.where.type)];
      auto it = flying.find(e.id);
      if (it != flying.end() && it->second.pack == pack) flying.erase(it);
    }
    if (!st.ok()) {
      st = st.Annotate("save pack " + PackPath(id));
      if (s.failed.ok()) s.failed = st;
      return st;
    }
    s.AddToIndex(pack->entries);
    s.unindexed.insert(s.unindexed.end(), pack->entries.begin(), pack->entries.end());
    if (++s.packs_since_index >= kPacksPerIndex) {
      s.packs_since_index = 0;
      to_index.swap(s.unindexed);
    }
  }
  pack.reset();  // free the pack's memory before the index is written
  if (!to_index.empty()) return WriteIndex(repo, std::move(to_index));
  return Status::OK();
}

Status Repository::State::WriteIndex(Repository& repo, std::vector<PackEntry> entries) {
  std::string sealed;
  Seal(repo.master_, Compress(EncodeIndexJson(entries)), &sealed);
  std::string name = Sha256(sealed).Hex();
  Status st = repo.backend_->Save(FileType::kIndex, name, sealed);
  std::lock_guard<std::mutex> lock(repo.state_->mu);
  if (!st.ok()) {
    auto& u = repo.state_->unindexed;
    u.insert(u.end(), entries.begin(), entries.end());
    return st.Annotate("save index/" + name);
  }
  repo.index_files_.push_back(std::move(name));
  return Status::OK();
}

StatusOr<Id> Repository::SaveBlob(BlobType type, std::string_view plaintext, bool* added,
                                  uint64_t* stored) {
  if (added) *added = false;
  if (stored) *stored = 0;
  // A blob and its sealed length must fit the u32 fields of pack headers.
  if (plaintext.size() > (uint64_t{1} << 31))
    return InvalidArgument(fmt::format("blob of {} bytes is larger than 2 GiB", plaintext.size()));
  Id id = Sha256(plaintext);
  State& s = *state_;
  const int t = TypeIndex(type);
  {
    std::lock_guard<std::mutex> lock(s.mu);
    if (!s.failed.ok()) return s.failed;
    if (s.index[t].count(id) || s.in_flight[t].count(id)) return id;
  }
  // Compress and encrypt in the calling thread, outside the lock: this is where the time goes.
  thread_local std::string payload;
  ScratchTrim trim_payload(payload);
  payload.clear();
  if (config_.compression > 0) {
    std::string z = Compress(plaintext, config_.compression);
    if (z.size() < plaintext.size()) {
      payload.push_back(static_cast<char>(kBlobZstd));
      payload.append(z);
    }
  }
  if (payload.empty()) {
    payload.push_back(static_cast<char>(kBlobRaw));
    payload.append(plaintext);
  }
  thread_local std::string sealed;
  ScratchTrim trim_sealed(sealed);
  sealed.clear();
  Seal(master_, payload, &sealed);

  {
    std::unique_lock<std::mutex> lock(s.mu);
    if (!s.failed.ok()) return s.failed;
    // Another thread may have stored the same content while we were sealing.
    if (s.index[t].count(id) || s.in_flight[t].count(id)) return id;
    std::shared_ptr<OpenPack>& open = s.open[t];
    if (!open) {
      open = std::make_shared<OpenPack>();
      // Room for the blob that crosses pack_size and the header, so the buffer is not moved
      // (a copy of the whole pack) while the mutex is held. Trees are small and few: their
      // packs grow as needed.
      if (type == BlobType::kData)
        open->data.reserve(std::min<size_t>(config_.pack_size, 64u << 20) +
                           config_.chunker.max_size + (256u << 10));
    }
    OpenPack& pack = *open;
    uint32_t offset = static_cast<uint32_t>(pack.data.size());
    pack.data.append(sealed);
    PackEntry e;
    e.id = id;
    e.where.type = type;
    e.where.offset = offset;
    e.where.length = static_cast<uint32_t>(sealed.size());
    e.where.raw_length = static_cast<uint32_t>(plaintext.size());
    pack.entries.push_back(e);
    s.in_flight[t].emplace(id, InFlight{open, offset, e.where.length, e.where.raw_length});
    if (pack.data.size() >= config_.pack_size) {
      // Hand the pack to the writers and go on sealing; wait only when they are behind, so
      // memory stays bounded (a few packs per saving thread).
      s.Enqueue(*this, std::move(open));
      s.done_cv.wait(lock, [&] { return s.queue.size() < kMaxQueuedPacks || !s.failed.ok(); });
      if (!s.failed.ok()) return s.failed;
    }
  }
  if (added) *added = true;
  if (stored) *stored = sealed.size();
  return id;
}

Status Repository::LoadBlob(BlobType type, const Id& id, std::string* plaintext) {
  State& s = *state_;
  const int t = TypeIndex(type);
  BlobLocation where;
  // Reused per thread: restore loads millions of ~1 MiB blobs.
  thread_local std::string sealed;
  ScratchTrim trim(sealed);
  sealed.clear();
  {
    std::lock_guard<std::mutex> lock(s.mu);
    if (auto it = s.index[t].find(id); it != s.index[t].end()) {
      const Slot& slot = it->second;
      where = BlobLocation{s.packs[slot.pack], type, slot.offset, slot.length, slot.raw_length};
    } else if (auto f = s.in_flight[t].find(id); f != s.in_flight[t].end()) {
      // Not written yet: serve the sealed bytes from the pack buffer.
      sealed.assign(f->second.pack->data, f->second.offset, f->second.length);
      where = BlobLocation{Id{}, type, f->second.offset, f->second.length, f->second.raw_length};
    } else {
      return NotFound(fmt::format("{} blob {} is not in the index", TypeName(type), id.Hex()));
    }
  }
  if (!sealed.empty())
    return OpenBlob(master_, where.pack, id, type, where.offset, where.raw_length, sealed,
                    plaintext);
  Status first = State::LoadStoredBlob(*this, id, where, &sealed, plaintext);
  if (first.ok()) return first;
  // Another copy (from a concurrent backup or an interrupted prune) may be intact. Looked up
  // only now: duplicates are rare and the list is not indexed by id.
  std::vector<BlobLocation> others;
  {
    std::lock_guard<std::mutex> lock(s.mu);
    for (const PackEntry& e : s.extra)
      if (e.id == id && e.where.type == type && e.where.pack != where.pack)
        others.push_back(e.where);
  }
  for (const BlobLocation& other : others)
    if (State::LoadStoredBlob(*this, id, other, &sealed, plaintext).ok()) return Status::OK();
  return first;
}

bool Repository::HasBlob(BlobType type, const Id& id) {
  State& s = *state_;
  const int t = TypeIndex(type);
  std::lock_guard<std::mutex> lock(s.mu);
  return s.index[t].count(id) || s.in_flight[t].count(id);
}

Status Repository::Flush() {
  State& s = *state_;
  std::vector<PackEntry> entries;
  {
    std::unique_lock<std::mutex> lock(s.mu);
    for (std::shared_ptr<OpenPack>& open : s.open)
      if (s.failed.ok() && open && !open->entries.empty()) s.Enqueue(*this, std::move(open));
    s.done_cv.wait(lock, [&] { return s.queue.empty() && s.writing == 0; });
    if (!s.failed.ok()) return s.failed;
    entries.swap(s.unindexed);
    s.packs_since_index = 0;
  }
  if (!entries.empty()) RETURN_IF_ERROR(State::WriteIndex(*this, std::move(entries)));
  return Status::OK();
}

void Repository::State::Enqueue(Repository& repo, std::shared_ptr<OpenPack> pack) {
  queue.push_back(std::move(pack));
  if (writers.empty()) {
    for (int i = 0; i < kPackWriters; ++i)
      writers.emplace_back([this, &repo] { WriterLoop(repo); });
  }
  work_cv.notify_one();
}

void Repository::State::WriterLoop(Repository& repo) {
  std::unique_lock<std::mutex> lock(mu);
  for (;;) {
    work_cv.wait(lock, [&] { return stopping || !queue.empty(); });
    if (queue.empty()) return;  // stopping, and every handed-over pack is written
    std::shared_ptr<OpenPack> pack = std::move(queue.front());
    queue.pop_front();
    ++writing;
    done_cv.notify_all();  // room in the queue
    lock.unlock();
    // A failed pack write sets `failed` (sticky); a failed index write leaves the entries in
    // `unindexed` for Flush to retry and report.
    WritePack(repo, std::move(pack)).IgnoreError();
    lock.lock();
    --writing;
    done_cv.notify_all();
  }
}

void Repository::State::StopWriters() {
  {
    std::lock_guard<std::mutex> lock(mu);
    stopping = true;
  }
  work_cv.notify_all();
  for (std::thread& t : writers) t.join();
  writers.clear();
}

std::vector<PackEntry> Repository::IndexEntries() const {
  State& s = *state_;
  std::lock_guard<std::mutex> lock(s.mu);
  std::vector<PackEntry> out;
  out.reserve(s.index[0].size() + s.index[1].size() + s.extra.size());
  for (int t = 0; t < 2; ++t) {
    for (const auto& [id, slot] : s.index[t]) {
      PackEntry e;
      e.id = id;
      e.where = BlobLocation{s.packs[slot.pack], static_cast<BlobType>(t), slot.offset, slot.length,
                             slot.raw_length};
      out.push_back(e);
    }
  }
  out.insert(out.end(), s.extra.begin(), s.extra.end());
  // By pack, then offset: what check and prune walk.
  std::sort(out.begin(), out.end(), [](const PackEntry& a, const PackEntry& b) {
    if (a.where.pack != b.where.pack) return a.where.pack < b.where.pack;
    return a.where.offset < b.where.offset;
  });
  return out;
}

StatusOr<std::vector<PackEntry>> Repository::ReadPackHeader(const Id& pack) {
  const std::string name = pack.Hex();
  uint64_t size = 0;
  RETURN_IF_ERROR(backend_->Size(FileType::kData, name, &size).Annotate(PackPath(pack)));
  if (size < 4 + kSealOverhead)
    return Corruption(
        fmt::format("pack {}: {} bytes is too short for a pack", PackPath(pack), size));
  // One read usually gets the header too: a 16 MiB pack of 1 MiB chunks has a ~700 byte one.
  uint64_t tail = std::min<uint64_t>(size, 64u << 10);
  std::string buf;
  RETURN_IF_ERROR(
      backend_->Load(FileType::kData, name, &buf, size - tail, tail).Annotate(PackPath(pack)));
  if (buf.size() != tail) return Corruption(fmt::format("pack {}: short read", PackPath(pack)));
  uint32_t sealed_len = GetU32(buf.data() + tail - 4);
  if (sealed_len < kSealOverhead || sealed_len > size - 4)
    return Corruption(fmt::format("pack {}: header length {} does not fit a {}-byte pack",
                                  PackPath(pack), sealed_len, size));
  std::string_view sealed;
  std::string more;
  if (sealed_len + 4 <= tail) {
    sealed = std::string_view(buf).substr(tail - 4 - sealed_len, sealed_len);
  } else {
    RETURN_IF_ERROR(backend_->Load(FileType::kData, name, &more, size - 4 - sealed_len, sealed_len)
                        .Annotate(PackPath(pack)));
    sealed = more;
  }
  std::string header;
  if (!backup::Open(master_, sealed, &header).ok())
    return Corruption(
        fmt::format("pack {}: header does not decrypt (the pack is damaged)", PackPath(pack)));
  std::vector<PackEntry> entries;
  RETURN_IF_ERROR(DecodePackHeader(pack, header, size - 4 - sealed_len, &entries));
  return entries;
}

}  // namespace steward::backup
