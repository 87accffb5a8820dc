#include "backup/backend.h"

#include <gtest/gtest.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>
#include <thread>
#include <vector>

#include "unit/state/temp_dir.h"

namespace steward::backup {
namespace {

namespace fs = std::filesystem;

using state::testing::TempDir;

std::unique_ptr<Backend> Create(const std::string& path, bool append_only = false) {
  LocalBackendOptions options;
  options.create = true;
  options.append_only = append_only;
  auto backend = OpenLocalBackend(path, options);
  EXPECT_TRUE(backend.ok()) << backend.status().ToString();
  return backend.ok() ? std::move(backend).value() : nullptr;
}

std::map<std::string, uint64_t> ListAll(Backend* b, FileType type) {
  std::map<std::string, uint64_t> names;
  Status st =
      b->List(type, [&](std::string_view name, uint64_t size) { names[std::string(name)] = size; });
  EXPECT_TRUE(st.ok()) << st.ToString();
  return names;
}

const std::string kPack =
    "3fa85f6457174562b3fc2c963f66afa6"
    "3fa85f6457174562b3fc2c963f66afa6";

TEST(LocalBackend, CreateMakesTheLayout) {
  TempDir dir;
  auto b = Create(dir.path() + "/repo");
  ASSERT_TRUE(b);
  for (const char* sub :
       {"keys", "data", "index", "snapshots", "locks", "data/00", "data/3f", "data/ff"})
    EXPECT_TRUE(fs::is_directory(dir.path() + "/repo/" + sub)) << sub;
  int data_dirs = 0;
  for (const auto& e : fs::directory_iterator(dir.path() + "/repo/data"))
    data_dirs += e.is_directory();
  EXPECT_EQ(data_dirs, 256);
  EXPECT_EQ(b->Location(), "local:" + dir.path() + "/repo");
  EXPECT_EQ(FileTypeDir(FileType::kSnapshot), "snapshots");
  EXPECT_EQ(FileTypeDir(FileType::kConfig), "");
}

TEST(LocalBackend, SaveLoadRoundTripAndLayout) {
  TempDir dir;
  auto b = Create(dir.path());
  ASSERT_TRUE(b);
  std::string data(100000, '\0');
  for (size_t i = 0; i < data.size(); ++i) data[i] = static_cast<char>(i * 7 + 3);
  ASSERT_TRUE(b->Save(FileType::kData, kPack, data).ok());
  ASSERT_TRUE(b->Save(FileType::kConfig, "config", "cfg").ok());
  ASSERT_TRUE(b->Save(FileType::kSnapshot, "abcd", "snap").ok());
  EXPECT_TRUE(fs::is_regular_file(dir.path() + "/data/3f/" + kPack));
  EXPECT_TRUE(fs::is_regular_file(dir.path() + "/config"));
  EXPECT_TRUE(fs::is_regular_file(dir.path() + "/snapshots/abcd"));

  std::string out;
  ASSERT_TRUE(b->Load(FileType::kData, kPack, &out).ok());
  EXPECT_EQ(out, data);
  ASSERT_TRUE(b->Load(FileType::kConfig, "config", &out).ok());
  EXPECT_EQ(out, "cfg");
  uint64_t size = 0;
  ASSERT_TRUE(b->Size(FileType::kData, kPack, &size).ok());
  EXPECT_EQ(size, data.size());
  EXPECT_TRUE(b->Exists(FileType::kSnapshot, "abcd"));
  EXPECT_FALSE(b->Exists(FileType::kSnapshot, "abce"));

  Status missing = b->Load(FileType::kIndex, "nothere", &out);
  EXPECT_EQ(missing.code(), StatusCode::kNotFound) << missing.ToString();
  EXPECT_EQ(b->Size(FileType::kIndex, "nothere", &size).code(), StatusCode::kNotFound);
}

TEST(LocalBackend, SaveIsCreateOnce) {
  TempDir dir;
  auto b = Create(dir.path());
  ASSERT_TRUE(b);
  ASSERT_TRUE(b->Save(FileType::kIndex, "aa11", "first").ok());
  Status again = b->Save(FileType::kIndex, "aa11", "second");
  EXPECT_EQ(again.code(), StatusCode::kAlreadyExists) << again.ToString();
  EXPECT_NE(again.message().find("index/aa11 already exists"), std::string::npos)
      << again.message();
  std::string out;
  ASSERT_TRUE(b->Load(FileType::kIndex, "aa11", &out).ok());
  EXPECT_EQ(out, "first");
  EXPECT_EQ(ListAll(b.get(), FileType::kIndex).size(), 1u);  // no temp file left
  EXPECT_EQ(std::distance(fs::directory_iterator(dir.path() + "/index"), {}), 1);
}

TEST(LocalBackend, LoadRanges) {
  TempDir dir;
  auto b = Create(dir.path());
  ASSERT_TRUE(b);
  ASSERT_TRUE(b->Save(FileType::kData, kPack, "0123456789").ok());
  std::string out;
  ASSERT_TRUE(b->Load(FileType::kData, kPack, &out, 2, 3).ok());
  EXPECT_EQ(out, "234");
  ASSERT_TRUE(b->Load(FileType::kData, kPack, &out, 7).ok());
  EXPECT_EQ(out, "789");
  ASSERT_TRUE(b->Load(FileType::kData, kPack, &out, 10).ok());
  EXPECT_EQ(out, "");
  Status past = b->Load(FileType::kData, kPack, &out, 8, 5);
  EXPECT_EQ(past.code(), StatusCode::kCorruption) << past.ToString();
  EXPECT_NE(past.message().find("file is 10 bytes, wanted range 8..13"), std::string::npos)
      << past.message();
  EXPECT_EQ(b->Load(FileType::kData, kPack, &out, 11).code(), StatusCode::kCorruption);
}

TEST(LocalBackend, ListIgnoresTemporaryFilesAndFindsAllDataFolders) {
  TempDir dir;
  auto b = Create(dir.path());
  ASSERT_TRUE(b);
  ASSERT_TRUE(b->Save(FileType::kData, kPack, "abc").ok());
  ASSERT_TRUE(b->Save(FileType::kData, "00ff", "de").ok());
  ASSERT_TRUE(b->Save(FileType::kSnapshot, "s1", "x").ok());
  // What a crash between write and link leaves behind.
  std::ofstream(dir.path() + "/data/3f/.tmp-deadbeef") << "partial";
  std::ofstream(dir.path() + "/snapshots/.tmp-0011") << "partial";
  auto data = ListAll(b.get(), FileType::kData);
  EXPECT_EQ(data, (std::map<std::string, uint64_t>{{kPack, 3}, {"00ff", 2}}));
  auto snaps = ListAll(b.get(), FileType::kSnapshot);
  EXPECT_EQ(snaps, (std::map<std::string, uint64_t>{{"s1", 1}}));
  EXPECT_TRUE(ListAll(b.get(), FileType::kConfig).empty());
  ASSERT_TRUE(b->Save(FileType::kConfig, "", "c").ok());
  EXPECT_EQ(ListAll(b.get(), FileType::kConfig).size(), 1u);
  // Temporary names are not valid names to save or load.
  EXPECT_EQ(b->Save(FileType::kSnapshot, ".tmp-x", "y").code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(b->Save(FileType::kSnapshot, "../escape", "y").code(), StatusCode::kInvalidArgument);
}

TEST(LocalBackend, Remove) {
  TempDir dir;
  auto b = Create(dir.path());
  ASSERT_TRUE(b);
  ASSERT_TRUE(b->Save(FileType::kData, kPack, "abc").ok());
  ASSERT_TRUE(b->Remove(FileType::kData, kPack).ok());
  EXPECT_FALSE(b->Exists(FileType::kData, kPack));
  EXPECT_TRUE(ListAll(b.get(), FileType::kData).empty());
  EXPECT_EQ(b->Remove(FileType::kData, kPack).code(), StatusCode::kNotFound);
  // Removed names can be saved again (prune repacks into new names, but a lock name may recur).
  EXPECT_TRUE(b->Save(FileType::kData, kPack, "new").ok());
}

TEST(LocalBackend, AppendOnlyRefusesRemovalsButLocks) {
  TempDir dir;
  {
    auto b = Create(dir.path());
    ASSERT_TRUE(b);
    ASSERT_TRUE(b->Save(FileType::kConfig, "config", "c").ok());
  }
  LocalBackendOptions options;
  options.append_only = true;
  auto opened = OpenLocalBackend(dir.path(), options);
  ASSERT_TRUE(opened.ok()) << opened.status().ToString();
  Backend* b = opened->get();
  ASSERT_TRUE(b->Save(FileType::kSnapshot, "s1", "x").ok());
  ASSERT_TRUE(b->Save(FileType::kLock, "l1", "x").ok());
  Status refused = b->Remove(FileType::kSnapshot, "s1");
  EXPECT_EQ(refused.code(), StatusCode::kFailedPrecondition) << refused.ToString();
  EXPECT_NE(refused.message().find("repository is append-only"), std::string::npos);
  EXPECT_TRUE(b->Exists(FileType::kSnapshot, "s1"));
  EXPECT_TRUE(b->Remove(FileType::kLock, "l1").ok());
  EXPECT_FALSE(b->Exists(FileType::kLock, "l1"));
}

TEST(LocalBackend, OpenWithoutCreateNeedsARepository) {
  TempDir dir;
  LocalBackendOptions options;
  auto missing = OpenLocalBackend(dir.path() + "/nope", options);
  ASSERT_FALSE(missing.ok());
  EXPECT_EQ(missing.status().code(), StatusCode::kNotFound);
  EXPECT_NE(missing.status().message().find("steward backup init"), std::string::npos);

  auto empty = OpenLocalBackend(dir.path(), options);
  ASSERT_FALSE(empty.ok());
  EXPECT_NE(empty.status().message().find(dir.path()), std::string::npos);
  EXPECT_NE(empty.status().message().find("no config file"), std::string::npos);
  EXPECT_NE(empty.status().message().find("is empty"), std::string::npos)
      << empty.status().message();

  std::ofstream(dir.path() + "/photo.jpg") << "x";
  auto other = OpenLocalBackend(dir.path(), options);
  ASSERT_FALSE(other.ok());
  EXPECT_NE(other.status().message().find("photo.jpg"), std::string::npos)
      << other.status().message();

  std::ofstream(dir.path() + "/file") << "x";
  auto not_dir = OpenLocalBackend(dir.path() + "/file", options);
  ASSERT_FALSE(not_dir.ok());
  EXPECT_NE(not_dir.status().message().find("not a folder"), std::string::npos);
}

TEST(LocalBackend, CreateRefusesAnExistingRepository) {
  TempDir dir;
  auto b = Create(dir.path());
  ASSERT_TRUE(b);
  ASSERT_TRUE(b->Save(FileType::kConfig, "config", "c").ok());
  LocalBackendOptions options;
  options.create = true;
  auto again = OpenLocalBackend(dir.path(), options);
  ASSERT_FALSE(again.ok());
  EXPECT_EQ(again.status().code(), StatusCode::kAlreadyExists);
  options.create = false;
  EXPECT_TRUE(OpenLocalBackend(dir.path(), options).ok());
}

TEST(LocalBackend, OpenBackendResolvesLocations) {
  TempDir dir;
  LocalBackendOptions create;
  create.create = true;
  auto plain = OpenBackend(dir.path() + "/a", create);
  ASSERT_TRUE(plain.ok()) << plain.status().ToString();
  EXPECT_EQ((*plain)->Location(), "local:" + dir.path() + "/a");
  auto prefixed = OpenBackend("local:" + dir.path() + "/b", create);
  ASSERT_TRUE(prefixed.ok()) << prefixed.status().ToString();
  EXPECT_TRUE(fs::is_directory(dir.path() + "/b/locks"));

  std::string cwd = fs::current_path();
  fs::current_path(dir.path());
  auto relative = OpenBackend("rel/repo", create);
  fs::current_path(cwd);
  ASSERT_TRUE(relative.ok()) << relative.status().ToString();
  EXPECT_EQ((*relative)->Location(), "local:" + dir.path() + "/rel/repo");

  for (const char* scheme : {"s3", "sftp", "rest"}) {
    auto r = OpenBackend(std::string(scheme) + ":host/bucket", create);
    ASSERT_FALSE(r.ok());
    EXPECT_EQ(r.status().code(), StatusCode::kInvalidArgument);
    EXPECT_NE(r.status().message().find("backend '" + std::string(scheme) +
                                        "' is not supported yet (supported: local)"),
              std::string::npos)
        << r.status().message();
  }
  auto unknown = OpenBackend("ftp:x", create);
  ASSERT_FALSE(unknown.ok());
  EXPECT_EQ(unknown.status().code(), StatusCode::kInvalidArgument);
  EXPECT_NE(unknown.status().message().find("unknown backend 'ftp'"), std::string::npos);
  EXPECT_NE(unknown.status().message().find("supported: local"), std::string::npos);
  EXPECT_EQ(OpenBackend("", create).status().code(), StatusCode::kInvalidArgument);
}

TEST(LocalBackend, ConcurrentSavesOfOneNameHaveOneWinner) {
  TempDir dir;
  auto b = Create(dir.path());
  ASSERT_TRUE(b);
  std::atomic<int> ok{0}, exists{0}, other{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 8; ++t)
    threads.emplace_back([&, t] {
      Status st = b->Save(FileType::kData, kPack, std::string(50000, static_cast<char>('a' + t)));
      if (st.ok())
        ++ok;
      else if (st.code() == StatusCode::kAlreadyExists)
        ++exists;
      else
        ++other;
    });
  for (auto& t : threads) t.join();
  EXPECT_EQ(ok.load(), 1);
  EXPECT_EQ(exists.load(), 7);
  EXPECT_EQ(other.load(), 0);
  std::string out;
  ASSERT_TRUE(b->Load(FileType::kData, kPack, &out).ok());
  ASSERT_EQ(out.size(), 50000u);
  EXPECT_EQ(out.find_first_not_of(out[0]), std::string::npos);  // one writer's bytes, whole
  EXPECT_EQ(std::distance(fs::directory_iterator(dir.path() + "/data/3f"), {}), 1);
}

TEST(LocalBackend, FullDiskLeavesNothingBehind) {
  if (geteuid() != 0) GTEST_SKIP() << "mounting a small tmpfs to fill needs root";
  TempDir dir;
  const std::string mnt = dir.path() + "/mnt";
  ASSERT_EQ(mkdir(mnt.c_str(), 0700), 0);
  if (mount("tmpfs", mnt.c_str(), "tmpfs", 0, "size=256k") != 0)
    GTEST_SKIP() << "cannot mount tmpfs: " << std::strerror(errno);
  struct Unmount {
    std::string path;
    ~Unmount() { umount2(path.c_str(), MNT_DETACH); }
  } unmount{mnt};
  auto b = Create(mnt + "/repo");
  ASSERT_TRUE(b);
  ASSERT_TRUE(b->Save(FileType::kSnapshot, "before", "earlier file").ok());
  Status full = b->Save(FileType::kData, kPack, std::string(1 << 20, 'x'));
  EXPECT_EQ(full.code(), StatusCode::kIOError) << full.ToString();
  EXPECT_NE(full.message().find("No space left"), std::string::npos) << full.message();
  EXPECT_NE(full.message().find("data/3f/" + kPack), std::string::npos) << full.message();
  EXPECT_FALSE(b->Exists(FileType::kData, kPack));
  EXPECT_EQ(std::distance(fs::directory_iterator(mnt + "/repo/data/3f"), {}), 0);
  std::string out;
  ASSERT_TRUE(b->Load(FileType::kSnapshot, "before", &out).ok());
  EXPECT_EQ(out, "earlier file");
  // The space came back: a small file fits again.
  EXPECT_TRUE(b->Save(FileType::kData, kPack, "small").ok());
}

}  // namespace
}  // namespace steward::backup
