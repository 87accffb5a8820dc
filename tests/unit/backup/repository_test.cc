// The repository over the real local backend in a temp dir: keys, config, blobs in packs,
// the index (and what survives a crash), corruption, concurrency, snapshots.
#include "backup/repository.h"

#include <gtest/gtest.h>
#include <stdlib.h>

#include <filesystem>
#include <fstream>
#include <map>
#include <random>
#include <set>
#include <sstream>
#include <thread>

#include "backup/backend.h"
#include "backup/tree.h"
#include "unit/state/temp_dir.h"

namespace steward::backup {
namespace {

namespace fs = std::filesystem;

constexpr char kPassword[] = "correct horse battery staple";

class RepositoryTest : public ::testing::Test {
 protected:
  static InitOptions Options(uint32_t pack_size = 16u << 20) {
    InitOptions o;
    o.kdf.ops = 1;
    o.kdf.mem = 8192;  // Argon2id's floor is 8 KiB: tests stay fast
    o.config.pack_size = pack_size;
    return o;
  }

  std::unique_ptr<Repository> Create(const InitOptions& options) {
    LocalBackendOptions create;
    create.create = true;
    auto backend = OpenLocalBackend(dir_, create);
    EXPECT_TRUE(backend.ok()) << backend.status().ToString();
    if (!backend.ok()) return nullptr;
    auto repo = Repository::Init(std::move(*backend), kPassword, options);
    EXPECT_TRUE(repo.ok()) << repo.status().ToString();
    return repo.ok() ? std::move(*repo) : nullptr;
  }

  StatusOr<std::unique_ptr<Repository>> Reopen(std::string_view password = kPassword) {
    ASSIGN_OR_RETURN(auto backend, OpenLocalBackend(dir_, LocalBackendOptions{}));
    return Repository::Open(std::move(backend), password);
  }

  std::vector<std::string> Files(const std::string& sub) const {
    std::vector<std::string> out;
    std::error_code ec;
    for (auto it = fs::recursive_directory_iterator(dir_ + "/" + sub, ec);
         !ec && it != fs::recursive_directory_iterator(); it.increment(ec)) {
      if (it->is_regular_file() && it->path().filename().string().size() == 64)
        out.push_back(it->path());
    }
    std::sort(out.begin(), out.end());
    return out;
  }

  static void FlipByte(const std::string& path, size_t offset) {
    std::string bytes;
    {
      std::ifstream in(path, std::ios::binary);
      std::stringstream ss;
      ss << in.rdbuf();
      bytes = ss.str();
    }
    ASSERT_LT(offset, bytes.size());
    bytes[offset] ^= 0x20;
    fs::permissions(path, fs::perms::owner_write, fs::perm_options::add);
    std::ofstream out(path, std::ios::binary | std::ios::trunc);
    out << bytes;
  }

  state::testing::TempDir tmp_;
  const std::string dir_ = tmp_.path();
};

std::string Random(size_t n, uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::string s(n, '\0');
  for (size_t i = 0; i < n; ++i) s[i] = static_cast<char>(rng());
  return s;
}

std::string Compressible(size_t n, uint64_t seed) {
  std::string s;
  while (s.size() < n) s += "line " + std::to_string(seed) + " of a log file\n";
  s.resize(n);
  return s;
}

TEST_F(RepositoryTest, InitThenOpenRoundTripsConfig) {
  auto repo = Create(Options());
  ASSERT_TRUE(repo);
  EXPECT_EQ(repo->config().id.size(), 64u);
  EXPECT_NE(repo->config().chunker.seed, 0u);
  auto again = Reopen();
  ASSERT_TRUE(again.ok()) << again.status().ToString();
  EXPECT_EQ((*again)->config().id, repo->config().id);
  EXPECT_EQ((*again)->config().chunker.seed, repo->config().chunker.seed);
  EXPECT_EQ((*again)->config().pack_size, repo->config().pack_size);
  EXPECT_EQ((*again)->key(), repo->key());
  // A second init into the same repository is refused (the backend's create refuses too).
  auto backend = OpenLocalBackend(dir_, LocalBackendOptions{});
  ASSERT_TRUE(backend.ok());
  EXPECT_EQ(Repository::Init(std::move(*backend), "x", Options()).status().code(),
            StatusCode::kAlreadyExists);
}

TEST_F(RepositoryTest, WrongPasswordSaysSo) {
  ASSERT_TRUE(Create(Options()));
  auto repo = Reopen("not the password");
  ASSERT_FALSE(repo.ok());
  EXPECT_EQ(repo.status().code(), StatusCode::kInvalidArgument);
  EXPECT_NE(repo.status().message().find("wrong password: no key in"), std::string::npos)
      << repo.status().message();
  EXPECT_NE(repo.status().message().find(dir_), std::string::npos) << repo.status().message();
  EXPECT_EQ(repo.status().message().find(kPassword), std::string::npos);
}

TEST_F(RepositoryTest, DamagedConfigIsCorruption) {
  ASSERT_TRUE(Create(Options()));
  FlipByte(dir_ + "/config", 30);
  auto repo = Reopen();
  ASSERT_FALSE(repo.ok());
  EXPECT_EQ(repo.status().code(), StatusCode::kCorruption) << repo.status().ToString();
}

TEST_F(RepositoryTest, BlobsRoundTrip) {
  auto repo = Create(Options());
  ASSERT_TRUE(repo);
  std::vector<std::pair<BlobType, std::string>> blobs = {
      {BlobType::kData, Random(100000, 1)},   {BlobType::kData, Compressible(100000, 2)},
      {BlobType::kTree, R"({"nodes":[]})"},   {BlobType::kData, std::string()},
      {BlobType::kData, std::string(1, 'x')},
  };
  std::vector<Id> ids;
  for (const auto& [type, bytes] : blobs) {
    bool added = false;
    uint64_t stored = 0;
    auto id = repo->SaveBlob(type, bytes, &added, &stored);
    ASSERT_TRUE(id.ok()) << id.status().ToString();
    EXPECT_TRUE(added);
    EXPECT_GT(stored, 0u);
    ids.push_back(*id);
  }
  // Before Flush the blobs are served from memory.
  std::string out;
  for (size_t i = 0; i < blobs.size(); ++i) {
    ASSERT_TRUE(repo->LoadBlob(blobs[i].first, ids[i], &out).ok());
    EXPECT_EQ(out, blobs[i].second);
  }
  ASSERT_TRUE(repo->Flush().ok());
  for (size_t i = 0; i < blobs.size(); ++i) {
    Status st = repo->LoadBlob(blobs[i].first, ids[i], &out);
    ASSERT_TRUE(st.ok()) << st.ToString();
    EXPECT_EQ(out, blobs[i].second);
  }
  // Types are separate name spaces.
  EXPECT_FALSE(repo->HasBlob(BlobType::kData, ids[2]));
  EXPECT_EQ(repo->LoadBlob(BlobType::kData, ids[2], &out).code(), StatusCode::kNotFound);
  // A data pack and a tree pack; compression paid off: well under the plaintext total.
  auto packs = Files("data");
  ASSERT_EQ(packs.size(), 2u);
  EXPECT_LT(fs::file_size(packs[0]) + fs::file_size(packs[1]), 100000u + 20000u);
  // Trees have packs of their own.
  std::map<Id, std::set<BlobType>> types_per_pack;
  for (const PackEntry& e : repo->IndexEntries()) types_per_pack[e.where.pack].insert(e.where.type);
  ASSERT_EQ(types_per_pack.size(), 2u);
  for (const auto& [pack, types] : types_per_pack) EXPECT_EQ(types.size(), 1u) << pack.Hex();
}

TEST_F(RepositoryTest, SameBlobTwiceIsStoredOnce) {
  auto repo = Create(Options());
  ASSERT_TRUE(repo);
  std::string bytes = Random(5000, 7);
  bool added = false;
  auto a = repo->SaveBlob(BlobType::kData, bytes, &added);
  ASSERT_TRUE(a.ok());
  EXPECT_TRUE(added);
  uint64_t stored = 1;
  auto b = repo->SaveBlob(BlobType::kData, bytes, &added, &stored);
  ASSERT_TRUE(b.ok());
  EXPECT_FALSE(added);
  EXPECT_EQ(stored, 0u);
  EXPECT_EQ(*a, *b);
  ASSERT_TRUE(repo->Flush().ok());
  EXPECT_FALSE(repo->SaveBlob(BlobType::kData, bytes, &added).ok() && added);
  EXPECT_EQ(repo->IndexEntries().size(), 1u);
}

TEST_F(RepositoryTest, PacksRollOverAndReopenSeesEverything) {
  auto repo = Create(Options(8192));
  ASSERT_TRUE(repo);
  std::vector<std::pair<Id, std::string>> saved;
  for (int i = 0; i < 60; ++i) {
    std::string bytes = i % 2 ? Random(3000, i) : Compressible(5000, i);
    auto id = repo->SaveBlob(BlobType::kData, bytes);
    ASSERT_TRUE(id.ok()) << id.status().ToString();
    saved.emplace_back(*id, bytes);
  }
  ASSERT_TRUE(repo->Flush().ok());
  size_t packs = Files("data").size();
  EXPECT_GE(packs, 5u);
  auto again = Reopen();
  ASSERT_TRUE(again.ok()) << again.status().ToString();
  EXPECT_TRUE((*again)->index_warnings().empty());
  std::string out;
  for (const auto& [id, bytes] : saved) {
    Status st = (*again)->LoadBlob(BlobType::kData, id, &out);
    ASSERT_TRUE(st.ok()) << st.ToString();
    EXPECT_EQ(out, bytes);
  }
  auto stats = (*again)->Stats();
  ASSERT_TRUE(stats.ok());
  EXPECT_EQ(stats->packs, packs);
  EXPECT_EQ(stats->data_blobs, saved.size());
  // Every pack's header agrees with the index.
  std::set<std::pair<std::string, uint32_t>> from_headers, from_index;
  std::set<std::string> pack_ids;
  for (const PackEntry& e : (*again)->IndexEntries()) {
    from_index.emplace(e.id.Hex(), e.where.offset);
    pack_ids.insert(e.where.pack.Hex());
  }
  EXPECT_EQ(pack_ids.size(), packs);
  for (const std::string& p : pack_ids) {
    auto header = (*again)->ReadPackHeader(*Id::FromHex(p));
    ASSERT_TRUE(header.ok()) << header.status().ToString();
    for (const PackEntry& e : *header) from_headers.emplace(e.id.Hex(), e.where.offset);
  }
  EXPECT_EQ(from_headers, from_index);
}

TEST_F(RepositoryTest, KilledBackupsIndexedPacksAreReused) {
  std::vector<std::string> blobs;
  for (int i = 0; i < 45; ++i) blobs.push_back(Random(3000, 100 + i));
  {
    auto repo = Create(Options(4096));
    ASSERT_TRUE(repo);
    for (const std::string& b : blobs) ASSERT_TRUE(repo->SaveBlob(BlobType::kData, b).ok());
    // Destroyed without Flush: a kill -9.
  }
  EXPECT_GE(Files("data").size(), 8u);
  EXPECT_FALSE(Files("index").empty());
  auto repo = Reopen();
  ASSERT_TRUE(repo.ok()) << repo.status().ToString();
  size_t reused = 0;
  std::string out;
  for (const std::string& b : blobs) {
    bool added = true;
    auto id = (*repo)->SaveBlob(BlobType::kData, b, &added);
    ASSERT_TRUE(id.ok());
    if (!added) {
      ++reused;
      ASSERT_TRUE((*repo)->LoadBlob(BlobType::kData, *id, &out).ok());
      EXPECT_EQ(out, b);
    }
  }
  // 45 blobs of ~3 KB in 4 KiB packs: 2 a pack, so 22 packs and an index after every 4:
  // 40 blobs indexed, 4 in written packs no index names yet, 1 in memory.
  EXPECT_EQ(reused, 40u);
  EXPECT_LT(reused, blobs.size());
}

TEST_F(RepositoryTest, FlippedByteInPackIsCorruptionNamingThePack) {
  auto repo = Create(Options());
  ASSERT_TRUE(repo);
  std::string bytes = Random(20000, 3);
  auto id = repo->SaveBlob(BlobType::kData, bytes);
  ASSERT_TRUE(id.ok());
  ASSERT_TRUE(repo->Flush().ok());
  auto packs = Files("data");
  ASSERT_EQ(packs.size(), 1u);
  FlipByte(packs[0], 1000);
  std::string out;
  Status st = repo->LoadBlob(BlobType::kData, *id, &out);
  EXPECT_EQ(st.code(), StatusCode::kCorruption) << st.ToString();
  std::string pack_name = fs::path(packs[0]).filename();
  EXPECT_NE(st.message().find(pack_name), std::string::npos) << st.message();
  EXPECT_NE(st.message().find(id->Hex()), std::string::npos) << st.message();
}

TEST_F(RepositoryTest, DamagedIndexFileIsSkippedWithAWarning) {
  {
    auto repo = Create(Options());
    ASSERT_TRUE(repo);
    ASSERT_TRUE(repo->SaveBlob(BlobType::kData, Random(1000, 1)).ok());
    ASSERT_TRUE(repo->Flush().ok());
    ASSERT_TRUE(repo->SaveBlob(BlobType::kData, Random(1000, 2)).ok());
    ASSERT_TRUE(repo->Flush().ok());
  }
  auto index = Files("index");
  ASSERT_EQ(index.size(), 2u);
  FlipByte(index[0], 40);
  auto repo = Reopen();
  ASSERT_TRUE(repo.ok()) << repo.status().ToString();
  ASSERT_EQ((*repo)->index_warnings().size(), 1u);
  EXPECT_NE((*repo)->index_warnings()[0].find(fs::path(index[0]).filename().string()),
            std::string::npos)
      << (*repo)->index_warnings()[0];
  EXPECT_EQ((*repo)->index_files().size(), 1u);
  EXPECT_EQ((*repo)->IndexEntries().size(), 1u);
  // Rebuilding the index from the pack headers (as rebuild-index does) replaces the damaged
  // file too.
  std::vector<PackEntry> all;
  for (const std::string& pack : Files("data")) {
    auto header = (*repo)->ReadPackHeader(*Id::FromHex(fs::path(pack).filename().string()));
    ASSERT_TRUE(header.ok()) << header.status().ToString();
    all.insert(all.end(), header->begin(), header->end());
  }
  ASSERT_EQ(all.size(), 2u);
  ASSERT_TRUE((*repo)->RewriteIndex(all).ok());
  EXPECT_EQ(Files("index").size(), 1u);
  auto again = Reopen();
  ASSERT_TRUE(again.ok());
  EXPECT_TRUE((*again)->index_warnings().empty());
  EXPECT_EQ((*again)->IndexEntries().size(), 2u);
}

TEST_F(RepositoryTest, DamagedPackHeaderIsCorruption) {
  auto repo = Create(Options());
  ASSERT_TRUE(repo);
  ASSERT_TRUE(repo->SaveBlob(BlobType::kData, Random(5000, 1)).ok());
  ASSERT_TRUE(repo->Flush().ok());
  auto packs = Files("data");
  ASSERT_EQ(packs.size(), 1u);
  Id pack = *Id::FromHex(fs::path(packs[0]).filename().string());
  auto header = repo->ReadPackHeader(pack);
  ASSERT_TRUE(header.ok()) << header.status().ToString();
  ASSERT_EQ(header->size(), 1u);
  EXPECT_EQ((*header)[0].where.raw_length, 5000u);
  FlipByte(packs[0], fs::file_size(packs[0]) - 10);  // inside the sealed header
  auto damaged = repo->ReadPackHeader(pack);
  EXPECT_EQ(damaged.status().code(), StatusCode::kCorruption);
  EXPECT_NE(damaged.status().message().find(pack.Hex()), std::string::npos);
  FlipByte(packs[0], fs::file_size(packs[0]) - 10);
  FlipByte(packs[0], fs::file_size(packs[0]) - 2);  // the header length
  EXPECT_EQ(repo->ReadPackHeader(pack).status().code(), StatusCode::kCorruption);
}

TEST_F(RepositoryTest, MissingKeyFilesSaySo) {
  ASSERT_TRUE(Create(Options()));
  for (const std::string& key : Files("keys")) fs::remove(key);
  auto repo = Reopen();
  ASSERT_FALSE(repo.ok());
  EXPECT_NE(repo.status().message().find("has no key files"), std::string::npos)
      << repo.status().message();
}

TEST_F(RepositoryTest, ConcurrentSaversStoreEachBlobOnce) {
  auto repo = Create(Options(32u << 10));
  ASSERT_TRUE(repo);
  constexpr int kThreads = 8, kBlobs = 64;
  std::vector<std::string> blobs;
  for (int i = 0; i < kBlobs; ++i)
    blobs.push_back(i % 3 ? Random(4000 + i, i) : Compressible(9000, i));
  std::atomic<int> added_total{0}, failures{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      // Every thread saves every blob, starting at a different place, and reads some back.
      std::string out;
      for (int k = 0; k < kBlobs; ++k) {
        const std::string& b = blobs[(k + t * 7) % kBlobs];
        bool added = false;
        auto id = repo->SaveBlob(BlobType::kData, b, &added);
        if (!id.ok()) {
          ++failures;
          continue;
        }
        if (added) ++added_total;
        if (!repo->LoadBlob(BlobType::kData, *id, &out).ok() || out != b) ++failures;
      }
    });
  }
  for (auto& th : threads) th.join();
  EXPECT_EQ(failures.load(), 0);
  EXPECT_EQ(added_total.load(), kBlobs);
  ASSERT_TRUE(repo->Flush().ok());
  auto again = Reopen();
  ASSERT_TRUE(again.ok());
  auto entries = (*again)->IndexEntries();
  EXPECT_EQ(entries.size(), static_cast<size_t>(kBlobs));
  std::string out;
  for (const std::string& b : blobs) {
    bool added = true;
    auto id = (*again)->SaveBlob(BlobType::kData, b, &added);
    ASSERT_TRUE(id.ok());
    EXPECT_FALSE(added);
    ASSERT_TRUE((*again)->LoadBlob(BlobType::kData, *id, &out).ok());
    EXPECT_EQ(out, b);
  }
}

// The local backend, with pack writes failing on demand (a full disk).
class FailingBackend : public Backend {
 public:
  FailingBackend(std::unique_ptr<Backend> inner, std::atomic<bool>* fail)
      : inner_(std::move(inner)), fail_(fail) {}
  std::string Location() const override { return inner_->Location(); }
  Status Save(FileType type, std::string_view name, std::string_view data) override {
    if (type == FileType::kData && fail_->load())
      return IOError("data/" + std::string(name) + ": No space left on device");
    return inner_->Save(type, name, data);
  }
  Status Load(FileType type, std::string_view name, std::string* out, uint64_t offset,
              uint64_t length) override {
    return inner_->Load(type, name, out, offset, length);
  }
  Status Size(FileType type, std::string_view name, uint64_t* size) override {
    return inner_->Size(type, name, size);
  }
  Status Remove(FileType type, std::string_view name) override {
    return inner_->Remove(type, name);
  }
  Status List(FileType type, const std::function<void(std::string_view, uint64_t)>& fn) override {
    return inner_->List(type, fn);
  }
  bool Exists(FileType type, std::string_view name) override { return inner_->Exists(type, name); }

 private:
  std::unique_ptr<Backend> inner_;
  std::atomic<bool>* fail_;
};

TEST_F(RepositoryTest, FailedPackWriteFailsEverythingAfter) {
  ASSERT_TRUE(Create(Options(4096)));
  std::atomic<bool> fail{false};
  auto local = OpenLocalBackend(dir_, LocalBackendOptions{});
  ASSERT_TRUE(local.ok());
  auto repo =
      Repository::Open(std::make_unique<FailingBackend>(std::move(*local), &fail), kPassword);
  ASSERT_TRUE(repo.ok()) << repo.status().ToString();
  auto kept = (*repo)->SaveBlob(BlobType::kData, Random(3000, 1));
  ASSERT_TRUE(kept.ok());
  ASSERT_TRUE((*repo)->Flush().ok());
  fail = true;
  // The first blob fits the open pack; the second fills it, and writing that pack (in the
  // background) fails: Flush reports it.
  auto accepted = (*repo)->SaveBlob(BlobType::kData, Random(3000, 2));
  ASSERT_TRUE(accepted.ok());
  (*repo)->SaveBlob(BlobType::kData, Random(3000, 3)).status().IgnoreError();
  Status flushed = (*repo)->Flush();
  EXPECT_EQ(flushed.code(), StatusCode::kIOError) << flushed.ToString();
  EXPECT_NE(flushed.message().find("No space left"), std::string::npos);
  // The disk has room again, but blob 2 was accepted and lost: nothing more may succeed,
  // or a snapshot could name it.
  fail = false;
  EXPECT_FALSE((*repo)->SaveBlob(BlobType::kData, Random(3000, 4)).ok());
  EXPECT_FALSE((*repo)->Flush().ok());
  EXPECT_FALSE((*repo)->HasBlob(BlobType::kData, *accepted));
  // What was stored before is intact.
  auto again = Reopen();
  ASSERT_TRUE(again.ok());
  std::string out;
  EXPECT_TRUE((*again)->LoadBlob(BlobType::kData, *kept, &out).ok());
  EXPECT_FALSE((*again)->HasBlob(BlobType::kData, *accepted));
}

TEST_F(RepositoryTest, TwoClientsDuplicatesServeEachOther) {
  ASSERT_TRUE(Create(Options()));
  std::string bytes = Random(20000, 9);
  Id id;
  {
    // Two clients open the repository before either stored the blob: both store it.
    auto a = Reopen();
    auto b = Reopen();
    ASSERT_TRUE(a.ok() && b.ok());
    bool added_a = false, added_b = false;
    auto ia = (*a)->SaveBlob(BlobType::kData, bytes, &added_a);
    auto ib = (*b)->SaveBlob(BlobType::kData, bytes, &added_b);
    ASSERT_TRUE(ia.ok() && ib.ok());
    EXPECT_TRUE(added_a && added_b);
    ASSERT_TRUE((*a)->Flush().ok());
    ASSERT_TRUE((*b)->Flush().ok());
    id = *ia;
  }
  auto repo = Reopen();
  ASSERT_TRUE(repo.ok());
  auto entries = (*repo)->IndexEntries();
  ASSERT_EQ(entries.size(), 2u);
  EXPECT_NE(entries[0].where.pack, entries[1].where.pack);
  // Damage either copy (one of them is the one read first): the other serves.
  auto packs = Files("data");
  ASSERT_EQ(packs.size(), 2u);
  std::string out;
  for (const std::string& pack : packs) {
    FlipByte(pack, 500);
    Status st = (*repo)->LoadBlob(BlobType::kData, id, &out);
    ASSERT_TRUE(st.ok()) << st.ToString();
    EXPECT_EQ(out, bytes);
    FlipByte(pack, 500);  // repaired
  }
  // Both damaged: the error names the blob.
  FlipByte(packs[0], 500);
  FlipByte(packs[1], 500);
  Status st = (*repo)->LoadBlob(BlobType::kData, id, &out);
  EXPECT_EQ(st.code(), StatusCode::kCorruption);
  EXPECT_NE(st.message().find(id.Hex()), std::string::npos);
}

TEST_F(RepositoryTest, CostlyOrDamagedKeyFilesDoNotStopTheSearch) {
  ASSERT_TRUE(Create(Options()));
  // A planted key file asking for a day of Argon2id, and a garbage one.
  std::ofstream(dir_ + "/keys/" + std::string(64, '0'))
      << R"({"kdf":"argon2id","ops":4294967295,"mem":1099511627776,"salt":")"
      << std::string(32, 'a') << R"(","data":"00"})";
  std::ofstream(dir_ + "/keys/" + std::string(64, '1')) << "not json";
  auto repo = Reopen();
  ASSERT_TRUE(repo.ok()) << repo.status().ToString();
  auto wrong = Reopen("nope");
  ASSERT_EQ(wrong.status().code(), StatusCode::kInvalidArgument);
  EXPECT_NE(wrong.status().message().find("2 of 3 key files could not be read"), std::string::npos)
      << wrong.status().message();
  // A key too costly to open is refused when added.
  KdfParams costly;
  costly.ops = 1000;
  EXPECT_EQ((*repo)->AddKey("x", costly).status().code(), StatusCode::kInvalidArgument);
}

Snapshot MakeSnapshot(int64_t time_ns, std::string host) {
  Snapshot s;
  s.time_ns = time_ns;
  s.host = std::move(host);
  s.paths = {"/srv/db"};
  s.tree = *Id::FromHex(std::string(64, 'c'));
  return s;
}

TEST_F(RepositoryTest, SnapshotsSaveListFindRemove) {
  auto repo = Create(Options());
  ASSERT_TRUE(repo);
  EXPECT_EQ(repo->FindSnapshot("latest").status().code(), StatusCode::kNotFound);
  std::vector<Id> ids;
  for (int64_t t : {300, 100, 200}) {
    auto id = repo->SaveSnapshot(MakeSnapshot(t, "h" + std::to_string(t)));
    ASSERT_TRUE(id.ok()) << id.status().ToString();
    ids.push_back(*id);
  }
  auto list = repo->ListSnapshots();
  ASSERT_TRUE(list.ok()) << list.status().ToString();
  ASSERT_EQ(list->size(), 3u);
  EXPECT_EQ((*list)[0].second.time_ns, 100);
  EXPECT_EQ((*list)[2].second.time_ns, 300);
  EXPECT_EQ((*list)[2].first, ids[0]);
  EXPECT_EQ((*list)[0].second.host, "h100");

  auto latest = repo->FindSnapshot("latest");
  ASSERT_TRUE(latest.ok());
  EXPECT_EQ(*latest, ids[0]);
  auto by_prefix = repo->FindSnapshot(ids[1].Hex().substr(0, 12));
  ASSERT_TRUE(by_prefix.ok()) << by_prefix.status().ToString();
  EXPECT_EQ(*by_prefix, ids[1]);
  EXPECT_EQ(repo->FindSnapshot("abc").status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(repo->FindSnapshot("zzzz").status().code(), StatusCode::kInvalidArgument);
  std::string absent = ids[0].Hex().substr(0, 4) == "0000" ? "ffff" : "0000";
  bool any_absent = true;
  for (const Id& id : ids) any_absent &= id.Hex().substr(0, 4) != absent;
  if (any_absent) {
    EXPECT_EQ(repo->FindSnapshot(absent).status().code(), StatusCode::kNotFound);
  }

  auto loaded = repo->LoadSnapshot(ids[2]);
  ASSERT_TRUE(loaded.ok());
  EXPECT_EQ(loaded->paths, std::vector<std::string>{"/srv/db"});

  ASSERT_TRUE(repo->RemoveSnapshot(ids[0]).ok());
  latest = repo->FindSnapshot("latest");
  ASSERT_TRUE(latest.ok());
  EXPECT_EQ(*latest, ids[2]);
  EXPECT_EQ(repo->LoadSnapshot(ids[0]).status().code(), StatusCode::kNotFound);
}

TEST_F(RepositoryTest, AmbiguousPrefixListsCandidates) {
  auto repo = Create(Options());
  ASSERT_TRUE(repo);
  auto id = repo->SaveSnapshot(MakeSnapshot(1, "h"));
  ASSERT_TRUE(id.ok());
  // A second file whose name shares the first 6 digits (finding a real collision would take
  // hundreds of snapshots); FindSnapshot goes by names.
  std::string name = id->Hex();
  std::string twin = name.substr(0, 6) + (name[6] == '0' ? '1' : '0') + name.substr(7);
  fs::copy_file(dir_ + "/snapshots/" + name, dir_ + "/snapshots/" + twin);
  auto found = repo->FindSnapshot(name.substr(0, 6));
  ASSERT_EQ(found.status().code(), StatusCode::kInvalidArgument);
  EXPECT_NE(found.status().message().find("ambiguous"), std::string::npos);
  EXPECT_NE(found.status().message().find(name.substr(0, 10)), std::string::npos)
      << found.status().message();
  EXPECT_NE(found.status().message().find(twin.substr(0, 10)), std::string::npos)
      << found.status().message();
  // One more digit decides.
  auto exact = repo->FindSnapshot(name.substr(0, 7));
  ASSERT_TRUE(exact.ok()) << exact.status().ToString();
  EXPECT_EQ(*exact, *id);
}

TEST_F(RepositoryTest, AddedKeyOpensWithTheSecondPassword) {
  auto repo = Create(Options());
  ASSERT_TRUE(repo);
  KdfParams kdf;
  kdf.ops = 1;
  kdf.mem = 8192;
  auto name = repo->AddKey("second password", kdf);
  ASSERT_TRUE(name.ok()) << name.status().ToString();
  EXPECT_EQ(Files("keys").size(), 2u);
  auto second = Reopen("second password");
  ASSERT_TRUE(second.ok()) << second.status().ToString();
  EXPECT_EQ((*second)->key(), repo->key());
  auto first = Reopen();
  ASSERT_TRUE(first.ok()) << first.status().ToString();
  EXPECT_EQ(Reopen("third").status().code(), StatusCode::kInvalidArgument);
}

TEST_F(RepositoryTest, RewriteIndexReplacesAllIndexFiles) {
  auto repo = Create(Options(4096));
  ASSERT_TRUE(repo);
  std::vector<std::pair<Id, std::string>> saved;
  for (int i = 0; i < 20; ++i) {
    std::string b = Random(3000, 500 + i);
    auto id = repo->SaveBlob(BlobType::kData, b);
    ASSERT_TRUE(id.ok());
    saved.emplace_back(*id, b);
  }
  ASSERT_TRUE(repo->Flush().ok());
  EXPECT_GT(Files("index").size(), 1u);
  auto entries = repo->IndexEntries();
  // Keep all but the first blob.
  Id dropped = saved[0].first;
  std::vector<PackEntry> keep;
  for (const PackEntry& e : entries)
    if (e.id != dropped) keep.push_back(e);
  ASSERT_TRUE(repo->RewriteIndex(keep).ok());
  EXPECT_EQ(Files("index").size(), 1u);
  EXPECT_EQ(repo->index_files().size(), 1u);
  EXPECT_FALSE(repo->HasBlob(BlobType::kData, dropped));
  auto again = Reopen();
  ASSERT_TRUE(again.ok());
  EXPECT_EQ((*again)->IndexEntries().size(), keep.size());
  std::string out;
  ASSERT_TRUE((*again)->LoadBlob(BlobType::kData, saved[5].first, &out).ok());
  EXPECT_EQ(out, saved[5].second);
}

std::string ReadAll(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// docs/formats/backup.md promises a repository can be read without Steward and gives a
// script for it: run that script (as the doc has it) on a repository Steward wrote, so the
// document cannot drift from the format.
TEST_F(RepositoryTest, FormatDocReaderRestoresASnapshot) {
  if (std::system("python3 -c 'import ctypes.util as u; assert u.find_library(\"sodium\") "
                  "and u.find_library(\"zstd\")' 2>/dev/null") != 0)
    GTEST_SKIP() << "python3 with libsodium and libzstd findable is needed";
  // __FILE__ is relative to the build folder under Ninja (the parent of bin/).
  std::string doc;
  for (const fs::path& base :
       {fs::path(), fs::read_symlink("/proc/self/exe").parent_path().parent_path()}) {
    fs::path p = base / fs::path(__FILE__).parent_path() / "../../../docs/formats/backup.md";
    if (fs::exists(p)) {
      doc = ReadAll(p);
      break;
    }
  }
  size_t start = doc.find("```python\n");
  ASSERT_NE(start, std::string::npos) << "no python block in docs/formats/backup.md";
  start += 10;
  size_t end = doc.find("```", start);
  ASSERT_NE(end, std::string::npos);

  InitOptions options = Options(16u << 10);
  options.config.chunker.min_size = 512;
  options.config.chunker.avg_size = 2048;
  options.config.chunker.max_size = 8192;
  auto repo = Create(options);
  ASSERT_TRUE(repo);
  auto content = [&](const std::string& bytes) {
    std::vector<Id> ids;
    for (size_t pos = 0; pos < bytes.size();) {
      size_t n = repo->chunker().NextCut(reinterpret_cast<const uint8_t*>(bytes.data()) + pos,
                                         bytes.size() - pos, /*eof=*/true);
      auto id = repo->SaveBlob(BlobType::kData, std::string_view(bytes).substr(pos, n));
      EXPECT_TRUE(id.ok());
      if (id.ok()) ids.push_back(*id);
      pos += n;
    }
    return ids;
  };
  const std::string random = Random(100000, 11), text = Compressible(60000, 12);
  Tree sub;
  Node f;
  f.name = "random.bin";
  f.mode = 0600;
  f.size = random.size();
  f.content = content(random);
  sub.nodes.push_back(f);
  Node d;
  d.name = "sub";
  d.type = NodeType::kDir;
  d.mode = 0750;
  auto sub_id = repo->SaveBlob(BlobType::kTree, EncodeTree(sub));
  ASSERT_TRUE(sub_id.ok());
  d.subtree = *sub_id;
  Node t;
  t.name = "text.txt";
  t.mode = 0644;
  t.size = text.size();
  t.content = content(text);
  Node l;
  l.name = "link";
  l.type = NodeType::kSymlink;
  l.link_target = "text.txt";
  Tree root;
  root.nodes = {d, t, l};
  auto root_id = repo->SaveBlob(BlobType::kTree, EncodeTree(root));
  ASSERT_TRUE(root_id.ok());
  ASSERT_TRUE(repo->Flush().ok());
  Snapshot snap = MakeSnapshot(7, "h");
  snap.tree = *root_id;
  ASSERT_TRUE(repo->SaveSnapshot(snap).ok());

  const std::string script = dir_ + ".read-repo.py", target = dir_ + ".restored";
  std::ofstream(script) << doc.substr(start, end - start);
  std::string cmd = "python3 " + script + " " + dir_ + " '" + kPassword + "' latest " + target;
  int rc = std::system(cmd.c_str());
  EXPECT_EQ(rc, 0) << cmd;
  EXPECT_EQ(ReadAll(target + "/text.txt"), text);
  EXPECT_EQ(ReadAll(target + "/sub/random.bin"), random);
  EXPECT_EQ(fs::read_symlink(target + "/link"), "text.txt");
  EXPECT_EQ(fs::status(target + "/sub/random.bin").permissions() & fs::perms::all,
            fs::perms::owner_read | fs::perms::owner_write);
  // A wrong password fails the script as it says.
  std::string wrong =
      "python3 " + script + " " + dir_ + " nope latest " + target + ".2 2>/dev/null";
  EXPECT_NE(std::system(wrong.c_str()), 0);
  std::error_code ec;
  fs::remove(script, ec);
  fs::remove_all(target, ec);
}

}  // namespace
}  // namespace steward::backup
