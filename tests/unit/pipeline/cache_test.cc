// The content-addressed cache on a real directory: round trips, keys, damage detected as a
// miss or a failed restore (never a wrong restore), prune, concurrency, speed, artifacts.
#include "pipeline/cache.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <thread>

namespace steward::pipeline {
namespace {

namespace fs = std::filesystem;

std::string Read(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

void Write(const std::string& path, const std::string& content, mode_t mode = 0644) {
  fs::create_directories(fs::path(path).parent_path());
  std::ofstream(path, std::ios::binary | std::ios::trunc) << content;
  chmod(path.c_str(), mode);
}

mode_t ModeOf(const std::string& path) {
  struct stat st;
  EXPECT_EQ(lstat(path.c_str(), &st), 0) << path;
  return st.st_mode & 07777;
}

std::string Key(const std::string& seed) {
  KeyBuilder k;
  k.Add("seed", seed);
  return k.Finish();
}

class CacheTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/steward-cache-test-XXXXXX";
    ASSERT_NE(mkdtemp(tmpl), nullptr);
    base_ = tmpl;
    work_ = base_ + "/work";
    fs::create_directories(work_);
    auto cache = Cache::Open(base_ + "/cache");
    ASSERT_TRUE(cache.ok()) << cache.status().ToString();
    cache_ = std::move(*cache);
  }
  void TearDown() override {
    std::error_code ec;
    fs::remove_all(base_, ec);
  }

  CacheEntry Store(const std::string& key, const std::vector<std::string>& patterns,
                   const nlohmann::json& outputs = nlohmann::json::object()) {
    StatusOr<CacheEntry> e = cache_->Store(key, "build", work_, patterns, outputs);
    EXPECT_TRUE(e.ok()) << e.status().ToString();
    return e.ok() ? *e : CacheEntry{};
  }
  std::optional<CacheEntry> Lookup(const std::string& key) {
    auto e = cache_->Lookup(key);
    EXPECT_TRUE(e.ok()) << e.status().ToString();
    return e.ok() ? *e : std::nullopt;
  }
  std::string EntryFile(const std::string& key) {
    return base_ + "/cache/entries/" + key.substr(0, 2) + "/" + key + ".json";
  }
  std::string ObjectFile(const std::string& hash) {
    return base_ + "/cache/objects/" + hash.substr(0, 2) + "/" + hash;
  }

  std::string base_, work_;
  std::unique_ptr<Cache> cache_;
};

TEST_F(CacheTest, StoresLooksUpAndRestoresFilesModesLinksAndOutputs) {
  Write(work_ + "/bin/tool", "#!/bin/sh\necho tool\n", 0755);
  Write(work_ + "/lib/deep/nested/x.txt", "nested", 0640);
  Write(work_ + "/empty.txt", "", 0600);
  Write(work_ + "/src/main.c", "not an output");
  fs::create_symlink("bin/tool", work_ + "/tool-link");
  std::string key = Key("round-trip");
  CacheEntry stored = Store(key, {"bin", "lib", "empty.txt", "tool-link"}, {{"version", "1.2"}});
  EXPECT_EQ(stored.files.size(), 4u);
  EXPECT_EQ(stored.bytes, 20 + 6);

  std::optional<CacheEntry> hit = Lookup(key);
  ASSERT_TRUE(hit.has_value());
  EXPECT_EQ(hit->job, "build");
  EXPECT_EQ(hit->outputs, (nlohmann::json{{"version", "1.2"}}));
  EXPECT_GE(hit->last_used_ms, stored.last_used_ms);

  std::string dest = base_ + "/restored";
  fs::create_directories(dest);
  ASSERT_TRUE(cache_->Restore(*hit, dest).ok());
  EXPECT_EQ(Read(dest + "/bin/tool"), "#!/bin/sh\necho tool\n");
  EXPECT_EQ(ModeOf(dest + "/bin/tool"), 0755u);
  EXPECT_EQ(Read(dest + "/lib/deep/nested/x.txt"), "nested");
  EXPECT_EQ(ModeOf(dest + "/lib/deep/nested/x.txt"), 0640u);
  EXPECT_TRUE(fs::is_regular_file(dest + "/empty.txt"));
  EXPECT_EQ(fs::file_size(dest + "/empty.txt"), 0u);
  EXPECT_EQ(ModeOf(dest + "/empty.txt"), 0600u);
  ASSERT_TRUE(fs::is_symlink(dest + "/tool-link"));
  EXPECT_EQ(fs::read_symlink(dest + "/tool-link"), "bin/tool");
  EXPECT_FALSE(fs::exists(dest + "/src"));
}

TEST_F(CacheTest, RestoreReplacesWhatIsThere) {
  Write(work_ + "/out/a", "cached");
  std::string key = Key("replace");
  Store(key, {"out"});
  Write(work_ + "/out/a", "stale", 0600);
  ASSERT_TRUE(cache_->Restore(*Lookup(key), work_).ok());
  EXPECT_EQ(Read(work_ + "/out/a"), "cached");
  EXPECT_EQ(ModeOf(work_ + "/out/a"), 0644u);
}

TEST_F(CacheTest, CountsHitsAndMisses) {
  Write(work_ + "/o", "x");
  std::string key = Key("counts");
  EXPECT_FALSE(Lookup(key).has_value());
  Store(key, {"o"});
  EXPECT_TRUE(Lookup(key).has_value());
  EXPECT_TRUE(Lookup(key).has_value());
  StatusOr<CacheStats> stats = cache_->Stats();
  ASSERT_TRUE(stats.ok());
  EXPECT_EQ(stats->hits, 2);
  EXPECT_EQ(stats->misses, 1);
  EXPECT_EQ(stats->entries, 1);
  EXPECT_EQ(stats->objects, 1);
  EXPECT_GT(stats->bytes, 1);
  EXPECT_GT(stats->newest_used_ms, 0);
  // The counters live in the directory, not the object.
  auto again = Cache::Open(base_ + "/cache");
  ASSERT_TRUE(again.ok());
  EXPECT_EQ((*again)->Stats()->hits, 2);
}

TEST_F(CacheTest, SameContentIsStoredOnce) {
  Write(work_ + "/a", "same bytes");
  Write(work_ + "/b", "same bytes");
  Store(Key("one"), {"a", "b"});
  Store(Key("two"), {"a"});
  EXPECT_EQ(cache_->Stats()->objects, 1);
  EXPECT_EQ(cache_->Stats()->entries, 2);
}

TEST(KeyBuilder, FieldBoundariesMatter) {
  KeyBuilder a, b, c, d;
  a.Add("a", "bc");
  b.Add("ab", "c");
  c.Add("a", "bc");
  d.Add("a", "b");
  d.Add("", "c");
  std::string ka = a.Finish();
  EXPECT_EQ(ka.size(), 64u);
  EXPECT_NE(ka, b.Finish());
  EXPECT_EQ(ka, c.Finish());
  EXPECT_NE(ka, d.Finish());
}

TEST_F(CacheTest, AnyChangedInputChangesTheKey) {
  Write(work_ + "/src/a.c", "int a;");
  Write(work_ + "/src/b.c", "int b;");
  auto key = [&] {
    KeyBuilder k;
    k.Add("run", "make");
    EXPECT_TRUE(k.AddFiles(work_, {"src/**/*.c"}).ok());
    return k.Finish();
  };
  std::string k1 = key();
  EXPECT_EQ(key(), k1);
  Write(work_ + "/src/a.c", "int a = 1;");
  std::string k2 = key();
  EXPECT_NE(k2, k1);
  fs::rename(work_ + "/src/b.c", work_ + "/src/c.c");  // same bytes, another name
  std::string k3 = key();
  EXPECT_NE(k3, k2);
  chmod((work_ + "/src/c.c").c_str(), 0755);
  EXPECT_NE(key(), k3);
  Write(work_ + "/README", "not an input");
  chmod((work_ + "/src/c.c").c_str(), 0644);
  EXPECT_EQ(key(), k3);
}

TEST(HashFile, IsTheSha256OfTheContents) {
  char tmpl[] = "/tmp/steward-hash-test-XXXXXX";
  int fd = mkstemp(tmpl);
  ASSERT_GE(fd, 0);
  ASSERT_EQ(write(fd, "abc", 3), 3);
  close(fd);
  StatusOr<std::string> sum = HashFile(tmpl);
  ASSERT_TRUE(sum.ok());
  EXPECT_EQ(*sum, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  unlink(tmpl);
  EXPECT_FALSE(HashFile(tmpl).ok());
}

TEST_F(CacheTest, AFlippedByteInAnObjectFailsTheRestore) {
  Write(work_ + "/out/bin", "good binary contents");
  std::string key = Key("flip");
  CacheEntry e = Store(key, {"out"});
  std::string object = ObjectFile(e.files[0].object);
  std::string bytes = Read(object);
  bytes[3] ^= 0x01;
  Write(object, bytes);
  std::optional<CacheEntry> hit = Lookup(key);
  ASSERT_TRUE(hit.has_value());
  std::string dest = base_ + "/restored";
  Write(dest + "/out/bin", "what was there");
  Status st = cache_->Restore(*hit, dest);
  ASSERT_FALSE(st.ok());
  EXPECT_EQ(st.code(), StatusCode::kCorruption);
  EXPECT_NE(st.message().find("is damaged"), std::string::npos) << st.message();
  EXPECT_EQ(Read(dest + "/out/bin"), "what was there");
  // The damaged object is gone, so the entry misses until the job stores it again.
  EXPECT_FALSE(Lookup(key).has_value());
  Store(key, {"out"});
  ASSERT_TRUE(cache_->Restore(*Lookup(key), dest).ok());
  EXPECT_EQ(Read(dest + "/out/bin"), "good binary contents");
}

TEST_F(CacheTest, ADamagedEntryIsAMiss) {
  Write(work_ + "/o", "x");
  std::string key = Key("damaged");
  Store(key, {"o"});
  std::string text = Read(EntryFile(key));
  size_t at = text.find("\"build\"");
  ASSERT_NE(at, std::string::npos);
  text[at + 1] = 'B';  // still JSON, but not what was checksummed
  Write(EntryFile(key), text);
  EXPECT_FALSE(Lookup(key).has_value());
  Write(EntryFile(key), "{not json");
  EXPECT_FALSE(Lookup(key).has_value());
  Write(EntryFile(key), "");
  EXPECT_FALSE(Lookup(key).has_value());
}

TEST_F(CacheTest, AMissingObjectIsAMiss) {
  Write(work_ + "/o", "x");
  std::string key = Key("missing");
  CacheEntry e = Store(key, {"o"});
  fs::remove(ObjectFile(e.files[0].object));
  EXPECT_FALSE(Lookup(key).has_value());
}

TEST_F(CacheTest, RefusesKeysThatAreNotHex) {
  EXPECT_FALSE(cache_->Lookup("../../etc").ok());
  EXPECT_FALSE(cache_->Store("ABC/../x", "j", work_, {"**"}, {}).ok());
}

TEST_F(CacheTest, PruneDropsTheLeastRecentlyUsedFirst) {
  std::vector<std::string> keys;
  for (const char* name : {"a", "b", "c"}) {
    Write(work_ + "/" + name, std::string(10000, name[0]));
    keys.push_back(Key(name));
    Store(keys.back(), {name});
  }
  ASSERT_TRUE(Lookup(keys[0]).has_value());  // a is now the most recent; b the least
  int64_t total = cache_->Stats()->bytes;
  StatusOr<PruneResult> r = cache_->Prune({.max_bytes = total - 1});
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->entries_removed, 1);
  EXPECT_EQ(r->objects_removed, 1);
  EXPECT_GT(r->bytes_freed, 10000);
  EXPECT_EQ(cache_->Stats()->bytes, total - r->bytes_freed);
  EXPECT_FALSE(Lookup(keys[1]).has_value());
  ASSERT_TRUE(Lookup(keys[0]).has_value());  // now c is the least recent
  ASSERT_TRUE(cache_->Prune({.max_bytes = 15000}).ok());
  EXPECT_FALSE(Lookup(keys[2]).has_value());
  EXPECT_TRUE(Lookup(keys[0]).has_value());
}

TEST_F(CacheTest, PruneByAgeAllAndDryRun) {
  Write(work_ + "/o", "x");
  std::string key = Key("age");
  Store(key, {"o"});
  EXPECT_EQ(cache_->Prune({.older_than_ms = 3600 * 1000})->entries_removed, 0);
  StatusOr<PruneResult> dry = cache_->Prune({.all = true, .dry_run = true});
  EXPECT_EQ(dry->entries_removed, 1);
  EXPECT_EQ(dry->objects_removed, 1);
  EXPECT_TRUE(Lookup(key).has_value());
  StatusOr<PruneResult> all = cache_->Prune({.all = true});
  EXPECT_EQ(all->entries_removed, 1);
  EXPECT_EQ(all->objects_removed, 1);
  EXPECT_EQ(cache_->Stats()->entries, 0);
  EXPECT_EQ(cache_->Stats()->objects, 0);
  EXPECT_FALSE(Lookup(key).has_value());
}

TEST_F(CacheTest, PruneRemovesOrphansAndOldTempFiles) {
  Write(ObjectFile(std::string(64, 'a')), "orphan of a killed store");
  std::string old_tmp = base_ + "/cache/tmp/.steward-tmp-old";
  std::string new_tmp = base_ + "/cache/tmp/.steward-tmp-new";
  Write(old_tmp, "half written");
  Write(new_tmp, "being written now");
  struct timespec times[2];
  clock_gettime(CLOCK_REALTIME, &times[0]);
  times[0].tv_sec -= 120;
  times[1] = times[0];
  ASSERT_EQ(utimensat(AT_FDCWD, old_tmp.c_str(), times, 0), 0);
  StatusOr<PruneResult> r = cache_->Prune({});
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->objects_removed, 1);
  EXPECT_FALSE(fs::exists(old_tmp));
  EXPECT_TRUE(fs::exists(new_tmp));
}

TEST_F(CacheTest, ConcurrentStoresOfOneKeyAreSafe) {
  Write(work_ + "/out/a", std::string(50000, 'a'));
  Write(work_ + "/out/b", "b");
  std::string key = Key("concurrent");
  std::vector<std::thread> threads;
  std::atomic<int> failures{0};
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&] {
      for (int i = 0; i < 10; ++i) {
        if (!cache_->Store(key, "build", work_, {"out"}, {}).ok()) ++failures;
        auto hit = cache_->Lookup(key);
        if (!hit.ok() || !hit->has_value()) ++failures;
      }
    });
  }
  for (std::thread& t : threads) t.join();
  EXPECT_EQ(failures.load(), 0);
  std::string dest = base_ + "/restored";
  ASSERT_TRUE(cache_->Restore(*Lookup(key), dest).ok());
  EXPECT_EQ(Read(dest + "/out/a"), std::string(50000, 'a'));
  EXPECT_EQ(cache_->Stats()->objects, 2);
  EXPECT_EQ(fs::is_empty(base_ + "/cache/tmp"), true);
}

TEST_F(CacheTest, LookupAndRestoreOfASmallEntryTakeAboutAMillisecond) {
  Write(work_ + "/dist/app.js", "console.log('hi')");
  Write(work_ + "/dist/app.css", "body{}");
  std::string key = Key("fast");
  Store(key, {"dist"});
  // CPU time, not wall time: on a loaded machine the wall clock measures the neighbours.
  auto cpu_ms = [] {
    timespec ts;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return ts.tv_sec * 1000.0 + ts.tv_nsec / 1e6;
  };
  double start = cpu_ms();
  for (int i = 0; i < 200; ++i) {
    std::optional<CacheEntry> hit = Lookup(key);
    ASSERT_TRUE(hit.has_value());
    ASSERT_TRUE(cache_->Restore(*hit, work_).ok());
  }
  double took = cpu_ms() - start;
  EXPECT_LT(took, 400) << "CPU ms for 200 lookups and restores of a two-file entry";
}

TEST_F(CacheTest, ArtifactsAreCopiedOutAndBack) {
  Write(work_ + "/dist/app", "binary", 0755);
  Write(work_ + "/dist/sub/notes.txt", "notes", 0600);
  Write(work_ + "/src/x.c", "source");
  std::string dest = base_ + "/runs/1/artifacts/build";
  StatusOr<std::vector<std::string>> saved = SaveArtifacts(work_, {"dist"}, dest);
  ASSERT_TRUE(saved.ok()) << saved.status().ToString();
  EXPECT_EQ(*saved, (std::vector<std::string>{"dist/app", "dist/sub/notes.txt"}));
  EXPECT_EQ(Read(dest + "/dist/app"), "binary");
  EXPECT_FALSE(fs::exists(dest + "/src"));

  std::string fresh = base_ + "/fresh";
  fs::create_directories(fresh);
  ASSERT_TRUE(RestoreArtifacts(dest, fresh).ok());
  EXPECT_EQ(Read(fresh + "/dist/app"), "binary");
  EXPECT_EQ(ModeOf(fresh + "/dist/app"), 0755u);
  EXPECT_EQ(Read(fresh + "/dist/sub/notes.txt"), "notes");
  EXPECT_EQ(ModeOf(fresh + "/dist/sub/notes.txt"), 0600u);
  EXPECT_FALSE(RestoreArtifacts(base_ + "/nope", fresh).ok());
}

}  // namespace
}  // namespace steward::pipeline
