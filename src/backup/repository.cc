// The Repository: init and open (keys, config, index loading), snapshots, key management and
// index rewriting. The blob and pack side is in repository_pack.cc. Formats:
// docs/formats/backup.md.
#include "backup/repository.h"

#include <fmt/format.h>
#include <pwd.h>
#include <string.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <map>
#include <nlohmann/json.hpp>
#include <thread>
#include <tuple>

#include "backup/json_fields.h"
#include "backup/repository_format.h"
#include "base/clock.h"
#include "base/json.h"
#include "base/sha256.h"

namespace steward::backup {

using nlohmann::json;

namespace {

constexpr int kFormatVersion = 1;
constexpr uint64_t kMaxKdfOps = 100;
constexpr uint64_t kMaxKdfMem = uint64_t{16} << 30;

std::string ToHex(std::string_view bytes) {
  return HexEncode(reinterpret_cast<const unsigned char*>(bytes.data()), bytes.size());
}

bool FromHex(std::string_view hex, std::string* out) {
  if (hex.size() % 2) return false;
  auto nibble = [](char c) -> int {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
  };
  out->clear();
  out->reserve(hex.size() / 2);
  for (size_t i = 0; i < hex.size(); i += 2) {
    int hi = nibble(hex[i]), lo = nibble(hex[i + 1]);
    if (hi < 0 || lo < 0) return false;
    out->push_back(static_cast<char>(hi << 4 | lo));
  }
  return true;
}

std::string HostName() {
  char buf[256] = {};
  if (gethostname(buf, sizeof buf - 1) != 0) return "";
  return buf;
}

std::string UserName() {
  passwd pw, *found = nullptr;
  char buf[1024];
  if (getpwuid_r(geteuid(), &pw, buf, sizeof buf, &found) == 0 && found) return found->pw_name;
  return std::to_string(geteuid());
}

// Saves `data` under the SHA-256 of its bytes; returns the name.
StatusOr<std::string> SaveNamed(Backend* backend, FileType type, std::string_view data) {
  std::string name = Sha256(data).Hex();
  RETURN_IF_ERROR(backend->Save(type, name, data).Annotate("save " + FilePath(type, name)));
  return name;
}

// Loads a sealed file named by its hash, checks the name and decrypts it.
Status LoadSealed(Backend* backend, const Key& key, FileType type, std::string_view name,
                  std::string* plaintext) {
  std::string stored;
  RETURN_IF_ERROR(backend->Load(type, name, &stored).Annotate(FilePath(type, name)));
  if (Sha256(stored).Hex() != name)
    return Corruption(FilePath(type, name) + ": content does not hash to its name (damaged)");
  plaintext->clear();
  if (!backup::Open(key, stored, plaintext).ok())
    return Corruption(FilePath(type, name) + ": does not decrypt (damaged)");
  return Status::OK();
}

Status ValidateConfig(const RepoConfig& c) {
  RETURN_IF_ERROR(c.chunker.Validate().Annotate("chunker"));
  if (c.compression < 0 || c.compression > 19)
    return InvalidArgument(
        fmt::format("compression {} is out of range (0 = off, 1..19 = zstd level)", c.compression));
  // Offsets in pack headers and index entries are u32; a blob may overshoot pack_size by
  // max_size, so 1 GiB keeps every offset far from the limit.
  if (c.pack_size < 1024 || c.pack_size > (1u << 30))
    return InvalidArgument(
        fmt::format("pack size {} is out of range (1 KiB .. 1 GiB)", c.pack_size));
  return Status::OK();
}

std::string ConfigToJson(const RepoConfig& c) {
  json j = {{"version", c.version},
            {"id", c.id},
            {"chunker",
             {{"min", c.chunker.min_size},
              {"avg", c.chunker.avg_size},
              {"max", c.chunker.max_size},
              {"seed", c.chunker.seed},
              {"normalization", c.chunker.normalization}}},
            {"compression", c.compression},
            {"pack_size", c.pack_size}};
  return j.dump();
}

StatusOr<RepoConfig> ConfigFromJson(std::string_view text) {
  json j = json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (!j.is_object()) return Corruption("config: not a JSON object");
  RepoConfig c;
  try {
    c.version = JsonIntAt<int>(j, "version");
    if (c.version > kFormatVersion)
      return FailedPrecondition(
          fmt::format("config: repository format version {} is newer than this steward reads ({})",
                      c.version, kFormatVersion));
    c.id = j.at("id").get<std::string>();
    const json& k = j.at("chunker");
    c.chunker.min_size = JsonIntAt<uint32_t>(k, "min");
    c.chunker.avg_size = JsonIntAt<uint32_t>(k, "avg");
    c.chunker.max_size = JsonIntAt<uint32_t>(k, "max");
    c.chunker.seed = JsonIntAt<uint64_t>(k, "seed");
    c.chunker.normalization = JsonIntOr<int>(k, "normalization", 2);
    c.compression = JsonIntAt<int>(j, "compression");
    c.pack_size = JsonIntAt<uint32_t>(j, "pack_size");
  } catch (const json::exception& e) {
    return Corruption(std::string("config: ") + e.what());
  }
  Status st = ValidateConfig(c);
  if (!st.ok()) return Corruption("config: " + st.message());
  return c;
}

// Makes a key file: the master key sealed under a key derived from `password`.
StatusOr<std::string> MakeKeyFile(std::string_view password, KdfParams kdf, const Key& master) {
  if (kdf.ops > kMaxKdfOps || kdf.mem > kMaxKdfMem)
    return InvalidArgument(fmt::format(
        "argon2id ops {} mem {} bytes: at most ops {} and mem {} bytes (a key beyond them "
        "could not be opened)",
        kdf.ops, kdf.mem, kMaxKdfOps, kMaxKdfMem));
  RandomBytes(kdf.salt.data(), kdf.salt.size());
  Key derived;
  RETURN_IF_ERROR(DeriveKey(password, kdf, &derived));
  std::string inner =
      json{{"master", ToHex({reinterpret_cast<const char*>(master.data()), master.size()})}}.dump();
  std::string sealed;
  Seal(derived, inner, &sealed);
  explicit_bzero(derived.data(), derived.size());
  explicit_bzero(inner.data(), inner.size());
  json j = {{"kdf", "argon2id"},
            {"ops", kdf.ops},
            {"mem", kdf.mem},
            {"salt", ToHex({reinterpret_cast<const char*>(kdf.salt.data()), kdf.salt.size()})},
            {"created", FormatRfc3339(std::chrono::system_clock::now())},
            {"host", HostName()},
            {"user", UserName()},
            {"data", ToHex(sealed)}};
  return JsonText(j);
}

struct KeyFile {
  std::string name;
  KdfParams kdf;
  std::string sealed;
};

StatusOr<KeyFile> ParseKeyFile(std::string_view name, std::string_view text) {
  json j = json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (!j.is_object()) return Corruption("not a JSON object");
  KeyFile k;
  k.name = std::string(name);
  try {
    if (j.at("kdf").get<std::string>() != "argon2id") return Corruption("kdf is not \"argon2id\"");
    k.kdf.ops = JsonIntAt<uint64_t>(j, "ops");
    k.kdf.mem = JsonIntAt<uint64_t>(j, "mem");
    // A damaged or planted key file must not make opening run for hours or exhaust memory.
    if (k.kdf.ops > kMaxKdfOps || k.kdf.mem > kMaxKdfMem)
      return Corruption(fmt::format(
          "argon2id ops {} mem {} exceed what steward accepts (ops <= {}, mem <= {} bytes)",
          k.kdf.ops, k.kdf.mem, kMaxKdfOps, kMaxKdfMem));
    std::string salt;
    if (!FromHex(j.at("salt").get<std::string>(), &salt) || salt.size() != k.kdf.salt.size())
      return Corruption("salt is not 32 hex digits");
    std::copy(salt.begin(), salt.end(), k.kdf.salt.begin());
    if (!FromHex(j.at("data").get<std::string>(), &k.sealed)) return Corruption("data is not hex");
  } catch (const json::exception& e) {
    return Corruption(e.what());
  }
  return k;
}

// Tries each key file; derives once per distinct (ops, mem, salt).
StatusOr<Key> UnlockMaster(Backend* backend, std::string_view password) {
  std::vector<std::string> names;
  RETURN_IF_ERROR(backend->List(
      FileType::kKey, [&](std::string_view name, uint64_t) { names.emplace_back(name); }));
  std::sort(names.begin(), names.end());
  const std::string keys_dir = backend->Location() + "/keys";
  if (names.empty())
    return Corruption(keys_dir +
                      " has no key files: the repository cannot be opened (restore "
                      "keys/ from a copy of the repository)");
  std::vector<std::string> damaged;
  std::map<std::tuple<uint64_t, uint64_t, std::array<uint8_t, 16>>, Key> derived;
  for (const std::string& name : names) {
    std::string text;
    Status st = backend->Load(FileType::kKey, name, &text);
    StatusOr<KeyFile> k = st.ok() ? ParseKeyFile(name, text) : StatusOr<KeyFile>(st);
    if (!k.ok()) {
      damaged.push_back("keys/" + name + ": " + k.status().message());
      continue;
    }
    auto params = std::make_tuple(k->kdf.ops, k->kdf.mem, k->kdf.salt);
    auto it = derived.find(params);
    if (it == derived.end()) {
      Key key;
      Status d = DeriveKey(password, k->kdf, &key);
      if (!d.ok()) {
        damaged.push_back("keys/" + name + ": " + d.message());
        continue;
      }
      it = derived.emplace(params, key).first;
    }
    std::string inner;
    if (!backup::Open(it->second, k->sealed, &inner).ok()) continue;
    json j = json::parse(inner, nullptr, /*allow_exceptions=*/false);
    std::string master;
    if (!j.is_object() || !j.contains("master") || !j["master"].is_string() ||
        !FromHex(j["master"].get<std::string>(), &master) || master.size() != kKeySize) {
      damaged.push_back("keys/" + name + ": opens but holds no 32-byte master key");
      continue;
    }
    Key out;
    std::copy(master.begin(), master.end(), out.begin());
    explicit_bzero(master.data(), master.size());
    for (auto& [params, key] : derived) explicit_bzero(key.data(), key.size());
    return out;
  }
  for (auto& [params, key] : derived) explicit_bzero(key.data(), key.size());
  std::string msg = "wrong password: no key in " + keys_dir + " opens with it";
  if (!damaged.empty()) {
    msg += fmt::format(" ({} of {} key files could not be read: {})", damaged.size(), names.size(),
                       damaged.front());
  }
  return InvalidArgument(msg);
}

}  // namespace

// No Flush: destroying a repository models a crash. Packs already handed to the writer
// threads are finished (a crash might have lost them too; either way the repository stays
// consistent), the open pack and index entries not yet written are dropped.
Repository::~Repository() {
  if (state_) state_->StopWriters();
  explicit_bzero(master_.data(), master_.size());
}

StatusOr<std::unique_ptr<Repository>> Repository::Init(std::unique_ptr<Backend> backend,
                                                       std::string_view password,
                                                       const InitOptions& options) {
  RETURN_IF_ERROR(InitCrypto());
  if (backend->Exists(FileType::kConfig, "config"))
    return AlreadyExists(backend->Location() + " already holds a repository (config exists)");
  std::unique_ptr<Repository> repo(new Repository());
  repo->config_ = options.config;
  repo->config_.version = kFormatVersion;
  Key id = RandomKey();
  repo->config_.id = Id{id}.Hex();
  RandomBytes(&repo->config_.chunker.seed, sizeof repo->config_.chunker.seed);
  RETURN_IF_ERROR(ValidateConfig(repo->config_).Annotate("init"));
  repo->master_ = RandomKey();
  // The key first: a config is what makes a folder a repository, and one without a key could
  // never be opened.
  ASSIGN_OR_RETURN(std::string key_file, MakeKeyFile(password, options.kdf, repo->master_));
  RETURN_IF_ERROR(SaveNamed(backend.get(), FileType::kKey, key_file).status());
  std::string sealed;
  Seal(repo->master_, ConfigToJson(repo->config_), &sealed);
  RETURN_IF_ERROR(backend->Save(FileType::kConfig, "config", sealed).Annotate("save config"));
  repo->backend_ = std::move(backend);
  repo->chunker_ = std::make_unique<Chunker>(repo->config_.chunker);
  repo->state_ = std::make_unique<State>();
  return repo;
}

StatusOr<std::unique_ptr<Repository>> Repository::Open(std::unique_ptr<Backend> backend,
                                                       std::string_view password) {
  RETURN_IF_ERROR(InitCrypto());
  std::unique_ptr<Repository> repo(new Repository());
  ASSIGN_OR_RETURN(repo->master_, UnlockMaster(backend.get(), password));
  std::string sealed, text;
  RETURN_IF_ERROR(backend->Load(FileType::kConfig, "config", &sealed)
                      .Annotate(backend->Location() + "/config"));
  if (!backup::Open(repo->master_, sealed, &text).ok())
    return Corruption(backend->Location() +
                      "/config: does not decrypt with the repository's master key (the file is "
                      "damaged or belongs to another repository)");
  ASSIGN_OR_RETURN(repo->config_, ConfigFromJson(text));
  repo->backend_ = std::move(backend);
  repo->chunker_ = std::make_unique<Chunker>(repo->config_.chunker);
  repo->state_ = std::make_unique<State>();
  RETURN_IF_ERROR(State::LoadIndex(*repo));
  return repo;
}

Status Repository::State::LoadIndex(Repository& repo) {
  std::vector<std::string> names;
  RETURN_IF_ERROR(repo.backend_->List(
      FileType::kIndex, [&](std::string_view name, uint64_t) { names.emplace_back(name); }));
  std::sort(names.begin(), names.end());
  // Decrypting, decompressing and parsing dominate opening a large repository: a few threads.
  struct Loaded {
    Status status;
    std::vector<PackEntry> entries;
  };
  std::vector<Loaded> loaded(names.size());
  std::atomic<size_t> next{0};
  auto work = [&] {
    std::string plain, json_text;
    for (size_t i; (i = next.fetch_add(1)) < names.size();) {
      Loaded& l = loaded[i];
      l.status = LoadSealed(repo.backend_.get(), repo.master_, FileType::kIndex, names[i], &plain);
      if (l.status.ok()) {
        l.status = Decompress(plain, kMaxIndexJson, &json_text);
        if (l.status.ok()) l.status = DecodeIndexJson(json_text, &l.entries);
        if (!l.status.ok()) l.status = l.status.Annotate("index/" + names[i]);
      }
    }
  };
  size_t threads = std::min<size_t>(names.size(), 4);
  std::vector<std::thread> pool;
  for (size_t i = 1; i < threads; ++i) pool.emplace_back(work);
  work();
  for (std::thread& t : pool) t.join();
  std::lock_guard<std::mutex> lock(repo.state_->mu);
  for (size_t i = 0; i < names.size(); ++i) {
    if (!loaded[i].status.ok()) {
      repo.index_warnings_.push_back(loaded[i].status.message() + " (skipped)");
      repo.state_->damaged_index.push_back(names[i]);
      continue;
    }
    repo.state_->AddToIndex(loaded[i].entries);
    repo.index_files_.push_back(names[i]);
  }
  repo.state_->DedupeExtra();
  return Status::OK();
}

StatusOr<Id> Repository::SaveSnapshot(const Snapshot& snapshot) {
  std::string sealed;
  Seal(master_, SnapshotToJson(snapshot), &sealed);
  ASSIGN_OR_RETURN(std::string name, SaveNamed(backend_.get(), FileType::kSnapshot, sealed));
  return *Id::FromHex(name);
}

StatusOr<Snapshot> Repository::LoadSnapshot(const Id& id) {
  std::string text;
  Status st = LoadSealed(backend_.get(), master_, FileType::kSnapshot, id.Hex(), &text);
  if (st.code() == StatusCode::kNotFound)
    return NotFound(fmt::format("snapshot {} not found in {}", id.Hex(), backend_->Location()));
  RETURN_IF_ERROR(st);
  auto snap = SnapshotFromJson(text);
  if (!snap.ok()) return snap.status().Annotate("snapshots/" + id.Hex());
  return snap;
}

StatusOr<std::vector<std::pair<Id, Snapshot>>> Repository::ListSnapshots() {
  std::vector<Id> ids;
  std::vector<std::string> bad;
  RETURN_IF_ERROR(backend_->List(FileType::kSnapshot, [&](std::string_view name, uint64_t) {
    if (auto id = Id::FromHex(name)) {
      ids.push_back(*id);
    } else {
      bad.emplace_back(name);
    }
  }));
  if (!bad.empty())
    return Corruption(
        fmt::format("snapshots/{}: not a snapshot file name (64 hex digits)", bad.front()));
  std::vector<std::pair<Id, Snapshot>> out;
  out.reserve(ids.size());
  for (const Id& id : ids) {
    ASSIGN_OR_RETURN(Snapshot s, LoadSnapshot(id));
    out.emplace_back(id, std::move(s));
  }
  std::sort(out.begin(), out.end(), [](const auto& a, const auto& b) {
    if (a.second.time_ns != b.second.time_ns) return a.second.time_ns < b.second.time_ns;
    return a.first < b.first;
  });
  return out;
}

StatusOr<Id> Repository::FindSnapshot(std::string_view ref) {
  if (ref == "latest") {
    ASSIGN_OR_RETURN(auto all, ListSnapshots());
    if (all.empty()) return NotFound("no snapshots in " + backend_->Location());
    return all.back().first;
  }
  std::string prefix(ref);
  std::transform(prefix.begin(), prefix.end(), prefix.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  bool hex = prefix.find_first_not_of("0123456789abcdef") == std::string::npos;
  if (!hex || prefix.size() < 4 || prefix.size() > 64)
    return InvalidArgument(fmt::format(
        "snapshot \"{}\": expected \"latest\" or an id prefix of 4 to 64 hex digits", ref));
  std::vector<std::string> matches;
  RETURN_IF_ERROR(backend_->List(FileType::kSnapshot, [&](std::string_view name, uint64_t) {
    if (name.substr(0, prefix.size()) == prefix) matches.emplace_back(name);
  }));
  if (matches.empty())
    return NotFound(fmt::format("no snapshot {} in {}", prefix, backend_->Location()));
  if (matches.size() > 1) {
    std::sort(matches.begin(), matches.end());
    std::string list;
    for (size_t i = 0; i < matches.size() && i < 10; ++i)
      list += (i ? ", " : "") + matches[i].substr(0, std::max<size_t>(prefix.size() + 4, 8));
    if (matches.size() > 10) list += ", …";
    return InvalidArgument(
        fmt::format("snapshot prefix {} is ambiguous: {} snapshots match ({}); give more digits",
                    prefix, matches.size(), list));
  }
  auto id = Id::FromHex(matches.front());
  if (!id) return Corruption("snapshots/" + matches.front() + ": not a snapshot file name");
  return *id;
}

Status Repository::RemoveSnapshot(const Id& id) {
  return backend_->Remove(FileType::kSnapshot, id.Hex()).Annotate("remove snapshots/" + id.Hex());
}

StatusOr<std::string> Repository::AddKey(std::string_view password, const KdfParams& kdf) {
  ASSIGN_OR_RETURN(std::string key_file, MakeKeyFile(password, kdf, master_));
  return SaveNamed(backend_.get(), FileType::kKey, key_file);
}

Status Repository::RewriteIndex(const std::vector<PackEntry>& entries) {
  std::string sealed;
  Seal(master_, Compress(EncodeIndexJson(entries)), &sealed);
  ASSIGN_OR_RETURN(std::string name, SaveNamed(backend_.get(), FileType::kIndex, sealed));
  std::vector<std::string> old = index_files_;
  {
    std::lock_guard<std::mutex> lock(state_->mu);
    old.insert(old.end(), state_->damaged_index.begin(), state_->damaged_index.end());
  }
  // The new index is durable: from here a crash leaves duplicates at worst, which are fine.
  Status removed;
  std::vector<std::string> kept;
  for (const std::string& o : old) {
    if (o == name) continue;
    Status st = backend_->Remove(FileType::kIndex, o);
    if (!st.ok() && st.code() != StatusCode::kNotFound) {
      if (removed.ok()) removed = st.Annotate("remove index/" + o);
      kept.push_back(o);
    }
  }
  std::lock_guard<std::mutex> lock(state_->mu);
  State& s = *state_;
  for (auto& m : s.index) m.clear();
  s.extra.clear();
  s.packs.clear();
  s.pack_numbers.clear();
  s.damaged_index.clear();
  s.AddToIndex(entries);
  // Blobs of packs written since the last index file stay known (and are still written to
  // the next one).
  s.AddToIndex(s.unindexed);
  s.DedupeExtra();
  index_files_ = std::move(kept);
  index_files_.push_back(name);
  return removed;
}

StatusOr<RepoStats> Repository::Stats() {
  RepoStats st;
  RETURN_IF_ERROR(backend_->List(FileType::kData, [&](std::string_view, uint64_t size) {
    ++st.packs;
    st.pack_bytes += size;
  }));
  RETURN_IF_ERROR(
      backend_->List(FileType::kSnapshot, [&](std::string_view, uint64_t) { ++st.snapshots; }));
  std::lock_guard<std::mutex> lock(state_->mu);
  st.data_blobs = state_->index[0].size();
  st.tree_blobs = state_->index[1].size();
  st.blobs = st.data_blobs + st.tree_blobs;
  for (const auto& m : state_->index)
    for (const auto& [id, slot] : m) st.raw_bytes += slot.raw_length;
  st.index_files = index_files_.size();
  return st;
}

}  // namespace steward::backup
