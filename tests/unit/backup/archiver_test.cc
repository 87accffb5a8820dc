// Round trips of tricky file trees through BackupPaths and RestoreTree over the in-memory
// store: every test backs up a real temp directory, restores it into another, and compares
// bytes, modes, times, link targets and inode sharing on disk.
#include "backup/archiver.h"

#include <dirent.h>
#include <fcntl.h>
#include <gtest/gtest.h>
#include <linux/magic.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/sysmacros.h>
#include <sys/wait.h>
#include <sys/xattr.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <map>
#include <mutex>
#include <set>
#include <string>
#include <vector>

#include "backup/crypto.h"
#include "backup/tree.h"
#include "unit/state/temp_dir.h"

namespace steward::backup {
namespace {

namespace fs = std::filesystem;

// Counts what passes through a BlobStore: bytes handed to SaveBlob (what the archiver read and
// hashed), new data bytes and blobs, loads.
class CountingStore : public BlobStore {
 public:
  explicit CountingStore(std::unique_ptr<BlobStore> inner) : inner_(std::move(inner)) {}
  StatusOr<Id> SaveBlob(BlobType type, std::string_view plaintext, bool* added,
                        uint64_t* stored) override {
    bool was_added = false;
    auto id = inner_->SaveBlob(type, plaintext, &was_added, stored);
    if (added) *added = was_added;
    if (type == BlobType::kData) {
      data_bytes_seen += plaintext.size();
      if (was_added) {
        data_bytes_added += plaintext.size();
        data_blobs_added += 1;
      }
    }
    return id;
  }
  Status LoadBlob(BlobType type, const Id& id, std::string* plaintext) override {
    loads += 1;
    return inner_->LoadBlob(type, id, plaintext);
  }
  bool HasBlob(BlobType type, const Id& id) override { return inner_->HasBlob(type, id); }
  const Chunker& chunker() const override { return inner_->chunker(); }

  std::atomic<uint64_t> data_bytes_seen{0}, data_bytes_added{0}, data_blobs_added{0}, loads{0};

 private:
  std::unique_ptr<BlobStore> inner_;
};

using state::testing::TempDir;

void WriteFile(const std::string& path, std::string_view data, mode_t mode = 0644) {
  int fd = open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode);
  ASSERT_GE(fd, 0) << path << ": " << strerror(errno);
  ASSERT_EQ(write(fd, data.data(), data.size()), static_cast<ssize_t>(data.size()));
  close(fd);
}

std::string ReadFile(const std::string& path) {
  std::string out;
  FILE* f = fopen(path.c_str(), "rb");
  if (!f) return "<missing>";
  char buf[65536];
  size_t n;
  while ((n = fread(buf, 1, sizeof buf, f)) > 0) out.append(buf, n);
  fclose(f);
  return out;
}

// Deterministic incompressible bytes (xorshift), fast enough for hundreds of MB.
std::string RandomBytes(size_t n, uint64_t seed) {
  std::string out(n, '\0');
  uint64_t x = seed * 0x9E3779B97F4A7C15ull + 1;
  for (size_t i = 0; i + 8 <= n; i += 8) {
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    memcpy(&out[i], &x, 8);
  }
  return out;
}

struct stat Lstat(const std::string& path) {
  struct stat st {};
  EXPECT_EQ(lstat(path.c_str(), &st), 0) << path << ": " << strerror(errno);
  return st;
}

int64_t MtimeNs(const struct stat& st) {
  return int64_t{st.st_mtim.tv_sec} * 1000000000 + st.st_mtim.tv_nsec;
}

std::vector<std::string> ListDir(const std::string& path) {
  std::vector<std::string> names;
  DIR* d = opendir(path.c_str());
  if (!d) return names;
  while (dirent* e = readdir(d))
    if (strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, "..") != 0) names.push_back(e->d_name);
  closedir(d);
  std::sort(names.begin(), names.end());
  return names;
}

// Compares two trees on disk: names, types, modes, mtimes, sizes, bytes, link targets.
void ExpectSameTree(const std::string& a, const std::string& b) {
  struct stat sa = Lstat(a), sb = Lstat(b);
  ASSERT_EQ(sa.st_mode, sb.st_mode) << b;
  EXPECT_EQ(MtimeNs(sa), MtimeNs(sb)) << b;
  if (geteuid() == 0) {
    EXPECT_EQ(sa.st_uid, sb.st_uid) << b;
    EXPECT_EQ(sa.st_gid, sb.st_gid) << b;
  }
  if (S_ISREG(sa.st_mode)) {
    ASSERT_EQ(sa.st_size, sb.st_size) << b;
    EXPECT_TRUE(ReadFile(a) == ReadFile(b)) << b << " differs from " << a;
  } else if (S_ISLNK(sa.st_mode)) {
    EXPECT_EQ(fs::read_symlink(a), fs::read_symlink(b)) << b;
  } else if (S_ISDIR(sa.st_mode)) {
    auto names = ListDir(a);
    ASSERT_EQ(names, ListDir(b)) << b;
    for (const auto& n : names) ExpectSameTree(a + "/" + n, b + "/" + n);
  } else if (S_ISCHR(sa.st_mode) || S_ISBLK(sa.st_mode)) {
    EXPECT_EQ(sa.st_rdev, sb.st_rdev) << b;
  }
}

// /dev/shm when it is a tmpfs, else the temp dir. For the tests that create and remove
// hundreds of thousands of files: on a disk shared with fsync-heavy tests, ext4's journal
// makes that take minutes, and what is tested does not depend on the file system.
std::string FastTempParent() {
  struct statfs sf;
  if (statfs("/dev/shm", &sf) == 0 && sf.f_type == TMPFS_MAGIC && access("/dev/shm", W_OK) == 0)
    return "/dev/shm";
  return fs::temp_directory_path().string();
}

ChunkerParams SmallChunks() {
  ChunkerParams p;
  p.min_size = 16 << 10;
  p.avg_size = 64 << 10;
  p.max_size = 256 << 10;
  p.seed = 42;
  return p;
}

class ArchiverTest : public ::testing::Test {
 protected:
  explicit ArchiverTest(const std::string& temp = fs::temp_directory_path().string())
      : src_(temp), dst_(temp), store_(NewMemoryBlobStore(ChunkerParams{})) {}

  std::string Src(const std::string& rel = "") const { return src_.path() + rel; }
  // Where a source path lands under the restore target (the snapshot mirrors from "/").
  std::string Restored(const std::string& rel = "") const { return dst_.path() + Src(rel); }

  BackupResult Backup(BackupOptions options = {}) {
    if (options.paths.empty()) options.paths = {src_.path()};
    auto result = BackupPaths(store_.get(), options);
    EXPECT_TRUE(result.ok()) << result.status().ToString();
    if (!result.ok()) return {};
    EXPECT_TRUE(result->errors.empty()) << result->errors.front();
    return *result;
  }

  RestoreResult Restore(const Id& tree, RestoreOptions options = {}) {
    if (options.target.empty()) options.target = dst_.path();
    auto result = RestoreTree(store_.get(), tree, options);
    EXPECT_TRUE(result.ok()) << result.status().ToString();
    if (!result.ok()) return {};
    EXPECT_TRUE(result->errors.empty()) << result->errors.front();
    return *result;
  }

  // The tree id of the source directory inside a snapshot's root tree.
  Id SubtreeOf(const Id& root, const std::string& path) {
    Id id = root;
    for (const auto& part : fs::path(path)) {
      if (part == "/") continue;
      auto tree = LoadTree(store_.get(), id);
      EXPECT_TRUE(tree.ok());
      if (!tree.ok()) return {};
      bool found = false;
      for (const Node& n : tree->nodes)
        if (n.name == part.string() && n.subtree) {
          id = *n.subtree;
          found = true;
        }
      EXPECT_TRUE(found) << part;
      if (!found) return {};
    }
    return id;
  }

  TempDir src_, dst_;
  std::unique_ptr<BlobStore> store_;
};

// The source and the restore target on tmpfs when there is one (see FastTempParent).
class ArchiverFastFsTest : public ArchiverTest {
 protected:
  ArchiverFastFsTest() : ArchiverTest(FastTempParent()) {}
};

TEST_F(ArchiverTest, EmptyFilesAndEmptyDirectoriesRoundTrip) {
  WriteFile(Src("/empty"), "");
  fs::create_directories(Src("/d1/d2/d3"));
  fs::create_directories(Src("/e"));
  WriteFile(Src("/e/also-empty"), "");
  WriteFile(Src("/small"), "hello\n");
  BackupResult b = Backup();
  EXPECT_EQ(b.summary.files_new, 3u);
  EXPECT_EQ(b.summary.bytes_processed, 6u);
  RestoreResult r = Restore(b.tree);
  EXPECT_EQ(r.files, 3u);
  EXPECT_EQ(r.bytes, 6u);
  ExpectSameTree(Src(), Restored());
  // The directories leading to the source are restored too, as directories.
  EXPECT_TRUE(S_ISDIR(Lstat(dst_.path() + fs::path(Src()).parent_path().string()).st_mode));
}

TEST_F(ArchiverTest, SparseFileIsReadThroughItsHolesAndRestoredSparse) {
  const uint64_t kSize = 1ull << 30, kRegion = 1 << 20;
  std::string path = Src("/sparse");
  {
    int fd = open(path.c_str(), O_WRONLY | O_CREAT, 0644);
    ASSERT_GE(fd, 0);
    ASSERT_EQ(ftruncate(fd, kSize), 0);
    const uint64_t offsets[] = {0, 400ull << 20, kSize - kRegion};
    for (uint64_t i = 0; i < 3; ++i) {
      std::string data = RandomBytes(kRegion, i + 1);
      ASSERT_EQ(pwrite(fd, data.data(), data.size(), offsets[i]), ssize_t(kRegion));
    }
    close(fd);
  }
  if (Lstat(path).st_blocks * 512 > 64ll << 20) GTEST_SKIP() << "the temp fs does not keep holes";

  auto counting = std::make_unique<CountingStore>(NewMemoryBlobStore(ChunkerParams{}));
  CountingStore* store = counting.get();
  store_ = std::move(counting);
  BackupResult b = Backup();
  EXPECT_EQ(b.summary.bytes_processed, kSize);
  // Holes are not read or hashed: only chunks touching the data regions, plus one zero chunk,
  // reach SaveBlob (each at most max_size = 4 MiB).
  EXPECT_LT(store->data_bytes_seen.load(), 48ull << 20);
  EXPECT_LT(store->data_blobs_added.load(), 16u);

  RestoreResult r = Restore(b.tree);
  EXPECT_EQ(r.files, 1u);
  std::string restored = Restored("/sparse");
  struct stat st = Lstat(restored);
  ASSERT_EQ(uint64_t(st.st_size), kSize);
  EXPECT_LT(st.st_blocks * 512, 16ll << 20) << "the restored file is not sparse";
  EXPECT_EQ(MtimeNs(st), MtimeNs(Lstat(path)));
  int fa = open(path.c_str(), O_RDONLY), fb = open(restored.c_str(), O_RDONLY);
  // cmp in 4 MiB windows; a window where neither file has data is zeros in both.
  std::string ba(4 << 20, '\0'), bb(4 << 20, '\0');
  auto next_data = [](int fd, uint64_t off) {
    off_t d = lseek(fd, off, SEEK_DATA);
    return d < 0 ? kSize : uint64_t(d);
  };
  bool same = true;
  int compared = 0;
  for (uint64_t off = 0; off < kSize && same; off += ba.size()) {
    if (std::min(next_data(fa, off), next_data(fb, off)) >= off + ba.size()) continue;
    ssize_t na = pread(fa, ba.data(), ba.size(), off), nb = pread(fb, bb.data(), bb.size(), off);
    same = na == nb && na > 0 && ba == bb;
    ++compared;
  }
  EXPECT_GE(compared, 3);
  close(fa);
  close(fb);
  EXPECT_TRUE(same) << "restored sparse file differs";
}

TEST_F(ArchiverTest, SparseAndDenseCopiesOfAFileGetTheSameContentIds) {
  const uint64_t kSize = 24ull << 20;
  std::string data = RandomBytes(1 << 20, 7);
  std::string dense(kSize, '\0');
  dense.replace(10ull << 20, data.size(), data);
  WriteFile(Src("/dense"), dense);
  int fd = open(Src("/sparse").c_str(), O_WRONLY | O_CREAT, 0644);
  ASSERT_GE(fd, 0);
  ASSERT_EQ(ftruncate(fd, kSize), 0);
  ASSERT_EQ(pwrite(fd, data.data(), data.size(), 10ull << 20), ssize_t(data.size()));
  close(fd);
  BackupResult b = Backup();
  auto tree = LoadTree(store_.get(), SubtreeOf(b.tree, Src()));
  ASSERT_TRUE(tree.ok());
  ASSERT_EQ(tree->nodes.size(), 2u);
  EXPECT_FALSE(tree->nodes[0].content.empty());
  EXPECT_EQ(tree->nodes[0].content, tree->nodes[1].content);
}

TEST_F(ArchiverTest, UnicodeAndNonUtf8NamesRoundTrip) {
  fs::create_directories(Src("/日本語"));
  WriteFile(Src("/日本語/ファイル.txt"), "japanese");
  WriteFile(Src("/héllo wörld ✓"), "unicode");
  WriteFile(Src("/bad-\xff\xfe-name"), "latin1");
  fs::create_directories(Src("/dir-\xe9"));
  WriteFile(Src("/dir-\xe9/x"), "inside");
  ASSERT_EQ(symlink("tar\xff get", Src("/link-\x80").c_str()), 0);
  BackupResult b = Backup();
  EXPECT_EQ(b.summary.files_new, 4u);
  Restore(b.tree);
  ExpectSameTree(Src(), Restored());
  EXPECT_EQ(ReadFile(Restored("/bad-\xff\xfe-name")), "latin1");
}

TEST_F(ArchiverTest, SymlinksIncludingDanglingOnesRoundTrip) {
  WriteFile(Src("/target.txt"), "target");
  ASSERT_EQ(symlink("target.txt", Src("/rel").c_str()), 0);
  ASSERT_EQ(symlink("/nonexistent/nowhere", Src("/dangling").c_str()), 0);
  fs::create_directories(Src("/d"));
  ASSERT_EQ(symlink("../d", Src("/d/loop").c_str()), 0);
  struct timespec times[2] = {{1000, 0}, {1234567890, 123456789}};
  ASSERT_EQ(utimensat(AT_FDCWD, Src("/dangling").c_str(), times, AT_SYMLINK_NOFOLLOW), 0);
  BackupResult b = Backup();
  Restore(b.tree);
  ExpectSameTree(Src(), Restored());
  EXPECT_EQ(fs::read_symlink(Restored("/dangling")), "/nonexistent/nowhere");
  EXPECT_EQ(MtimeNs(Lstat(Restored("/dangling"))), 1234567890123456789);
  EXPECT_EQ(ReadFile(Restored("/rel")), "target");
}

TEST_F(ArchiverTest, HardlinksShareOneInodeAfterRestore) {
  fs::create_directories(Src("/sub"));
  WriteFile(Src("/a"), "shared content");
  ASSERT_EQ(link(Src("/a").c_str(), Src("/sub/b").c_str()), 0);
  ASSERT_EQ(link(Src("/a").c_str(), Src("/sub/c").c_str()), 0);
  WriteFile(Src("/single"), "not shared");
  BackupResult b = Backup();
  RestoreResult r = Restore(b.tree);
  EXPECT_EQ(r.links, 2u);
  ExpectSameTree(Src(), Restored());
  struct stat a = Lstat(Restored("/a")), sb = Lstat(Restored("/sub/b")),
              sc = Lstat(Restored("/sub/c"));
  EXPECT_EQ(a.st_ino, sb.st_ino);
  EXPECT_EQ(a.st_ino, sc.st_ino);
  EXPECT_EQ(a.st_nlink, 3u);
  EXPECT_EQ(Lstat(Restored("/single")).st_nlink, 1u);
}

TEST_F(ArchiverTest, PermissionsRoundTrip) {
  fs::create_directories(Src("/private"));
  fs::create_directories(Src("/shared"));
  fs::create_directories(Src("/readonly"));
  fs::create_directories(Src("/sticky"));
  WriteFile(Src("/private/secret"), "s", 0600);
  WriteFile(Src("/shared/tool"), "#!/bin/sh\n", 0755);
  WriteFile(Src("/readonly/file"), "r", 0400);
  WriteFile(Src("/setuid"), "x", 0755);
  ASSERT_EQ(chmod(Src("/setuid").c_str(), 04755), 0);
  ASSERT_EQ(chmod(Src("/private").c_str(), 0700), 0);
  ASSERT_EQ(chmod(Src("/shared").c_str(), 02775), 0);
  ASSERT_EQ(chmod(Src("/sticky").c_str(), 01777), 0);
  ASSERT_EQ(chmod(Src("/readonly").c_str(), 0500), 0);
  if (geteuid() == 0) {
    ASSERT_EQ(lchown(Src("/private/secret").c_str(), 1234, 5678), 0);
  }
  BackupResult b = Backup();
  Restore(b.tree);
  ExpectSameTree(Src(), Restored());
  EXPECT_EQ(Lstat(Restored("/private")).st_mode & 07777, 0700u);
  EXPECT_EQ(Lstat(Restored("/private/secret")).st_mode & 07777, 0600u);
  EXPECT_EQ(Lstat(Restored("/shared")).st_mode & 07777, 02775u);
  EXPECT_EQ(Lstat(Restored("/setuid")).st_mode & 07777, 04755u);
  EXPECT_EQ(Lstat(Restored("/readonly")).st_mode & 07777, 0500u);
  if (geteuid() == 0) {
    EXPECT_EQ(Lstat(Restored("/private/secret")).st_uid, 1234u);
  }
}

TEST_F(ArchiverTest, FifosAndDeviceNodesRoundTrip) {
  ASSERT_EQ(mkfifo(Src("/pipe").c_str(), 0600), 0);
  ASSERT_EQ(chmod(Src("/pipe").c_str(), 0620), 0);
  bool device = geteuid() == 0 && mknod(Src("/null").c_str(), S_IFCHR | 0666, makedev(1, 3)) == 0;
  BackupResult b = Backup();
  Restore(b.tree);
  ExpectSameTree(Src(), Restored());
  struct stat st = Lstat(Restored("/pipe"));
  EXPECT_TRUE(S_ISFIFO(st.st_mode));
  EXPECT_EQ(st.st_mode & 07777, 0620u);
  if (device) {
    EXPECT_EQ(Lstat(Restored("/null")).st_rdev, makedev(1, 3));
  }
}

TEST_F(ArchiverTest, UserXattrsRoundTrip) {
  WriteFile(Src("/f"), "with xattrs");
  fs::create_directories(Src("/d"));
  std::string binary("\0\x01\xfe", 3);
  if (setxattr(Src("/f").c_str(), "user.note", "hello", 5, 0) != 0)
    GTEST_SKIP() << "the temp fs refuses user xattrs: " << strerror(errno);
  ASSERT_EQ(setxattr(Src("/f").c_str(), "user.bin", binary.data(), binary.size(), 0), 0);
  ASSERT_EQ(setxattr(Src("/d").c_str(), "user.dir", "x", 1, 0), 0);
  BackupResult b = Backup();
  Restore(b.tree);
  ExpectSameTree(Src(), Restored());
  char buf[64];
  ssize_t n = getxattr(Restored("/f").c_str(), "user.note", buf, sizeof buf);
  ASSERT_EQ(n, 5);
  EXPECT_EQ(std::string(buf, n), "hello");
  n = getxattr(Restored("/f").c_str(), "user.bin", buf, sizeof buf);
  ASSERT_EQ(n, 3);
  EXPECT_EQ(std::string(buf, n), binary);
  EXPECT_EQ(getxattr(Restored("/d").c_str(), "user.dir", buf, sizeof buf), 1);
}

TEST_F(ArchiverFastFsTest, HundredThousandSmallFiles) {
  const int kDirs = 400, kPerDir = 250;
  for (int d = 0; d < kDirs; ++d) {
    std::string dir = Src("/d" + std::to_string(d));
    ASSERT_EQ(mkdir(dir.c_str(), 0755), 0);
    for (int f = 0; f < kPerDir; ++f)
      WriteFile(dir + "/f" + std::to_string(f), "file " + std::to_string(d * kPerDir + f) + "\n");
  }
  auto start = std::chrono::steady_clock::now();
  BackupResult b = Backup();
  auto mid = std::chrono::steady_clock::now();
  EXPECT_EQ(b.summary.files_new, uint64_t{kDirs} * kPerDir);
  // The source and the directories leading to it ("/tmp") are directories too.
  fs::path src(Src());
  uint64_t leading = std::distance(src.begin(), src.end()) - 1;  // minus the root "/"
  EXPECT_EQ(b.summary.dirs, uint64_t{kDirs} + leading);
  RestoreResult r = Restore(b.tree);
  auto end = std::chrono::steady_clock::now();
  EXPECT_EQ(r.files, uint64_t{kDirs} * kPerDir);
  EXPECT_EQ(ListDir(Restored()).size(), size_t{kDirs});
  for (int d = 0; d < kDirs; d += 37) {
    std::string dir = Restored("/d" + std::to_string(d));
    EXPECT_EQ(ListDir(dir).size(), size_t{kPerDir});
    for (int f = 0; f < kPerDir; f += 53)
      EXPECT_EQ(ReadFile(dir + "/f" + std::to_string(f)),
                "file " + std::to_string(d * kPerDir + f) + "\n");
  }
  std::printf("100k files: backup %.2f s, restore %.2f s\n",
              std::chrono::duration<double>(mid - start).count(),
              std::chrono::duration<double>(end - mid).count());
}

TEST_F(ArchiverTest, EqualFilesAreStoredOnce) {
  auto counting = std::make_unique<CountingStore>(NewMemoryBlobStore(SmallChunks()));
  CountingStore* store = counting.get();
  store_ = std::move(counting);
  std::string data = RandomBytes(5 << 20, 99);
  WriteFile(Src("/one"), data);
  fs::create_directories(Src("/copy"));
  WriteFile(Src("/copy/two"), data);
  BackupResult b = Backup();
  EXPECT_EQ(b.summary.files_new, 2u);
  EXPECT_EQ(b.summary.bytes_processed, 2u * data.size());
  EXPECT_EQ(store->data_bytes_added.load(), data.size());
  EXPECT_GT(store->data_blobs_added.load(), 10u);             // small chunks: many blobs, each once
  EXPECT_LT(b.summary.bytes_added, data.size() + 64 * 1024);  // trees are small
  Restore(b.tree);
  ExpectSameTree(Src(), Restored());
}

TEST_F(ArchiverTest, ParentSnapshotLetsUnchangedFilesSkipReading) {
  auto counting = std::make_unique<CountingStore>(NewMemoryBlobStore(SmallChunks()));
  CountingStore* store = counting.get();
  store_ = std::move(counting);
  for (int i = 0; i < 20; ++i) WriteFile(Src("/f" + std::to_string(i)), RandomBytes(100000, i));
  BackupResult first = Backup();
  EXPECT_EQ(first.summary.files_new, 20u);

  uint64_t seen = store->data_bytes_seen, added = store->data_bytes_added;
  BackupOptions options;
  options.parent_tree = first.tree;
  BackupResult second = Backup(options);
  EXPECT_EQ(second.summary.files_unmodified, 20u);
  EXPECT_EQ(second.summary.files_new + second.summary.files_changed, 0u);
  EXPECT_EQ(store->data_bytes_seen.load(), seen) << "unchanged files were read";
  EXPECT_EQ(store->data_bytes_added.load(), added);
  EXPECT_EQ(SubtreeOf(second.tree, Src()), SubtreeOf(first.tree, Src()));

  WriteFile(Src("/f7"), "changed");
  WriteFile(Src("/new"), "new");
  options.parent_tree = second.tree;
  BackupResult third = Backup(options);
  EXPECT_EQ(third.summary.files_changed, 1u);
  EXPECT_EQ(third.summary.files_new, 1u);
  EXPECT_EQ(third.summary.files_unmodified, 19u);
  Restore(third.tree);
  ExpectSameTree(Src(), Restored());
}

TEST_F(ArchiverTest, ExcludesByNameDirectoryAndFullPath) {
  WriteFile(Src("/keep.txt"), "k");
  WriteFile(Src("/drop.tmp"), "d");
  fs::create_directories(Src("/cache/deep"));
  WriteFile(Src("/cache/deep/x"), "x");
  fs::create_directories(Src("/sub"));
  WriteFile(Src("/sub/cache"), "a file named cache stays");
  WriteFile(Src("/sub/also.tmp"), "d");
  fs::create_directories(Src("/skipme"));
  WriteFile(Src("/skipme/y"), "y");
  BackupOptions options;
  options.excludes = {"*.tmp", "cache/", Src("/skipme")};
  BackupResult b = Backup(options);
  EXPECT_EQ(b.summary.files_new, 2u);
  Restore(b.tree);
  EXPECT_EQ(ListDir(Restored()), (std::vector<std::string>{"keep.txt", "sub"}));
  EXPECT_EQ(ListDir(Restored("/sub")), (std::vector<std::string>{"cache"}));
}

TEST_F(ArchiverTest, RestoreRefusesToOverwriteAndWritesNothing) {
  WriteFile(Src("/a"), "original a");
  WriteFile(Src("/z"), "original z");
  BackupResult b = Backup();
  Restore(b.tree);
  ASSERT_EQ(unlink(Restored("/a").c_str()), 0);
  WriteFile(Restored("/z"), "local edit");

  RestoreOptions options;
  options.target = dst_.path();
  auto refused = RestoreTree(store_.get(), b.tree, options);
  ASSERT_FALSE(refused.ok());
  EXPECT_EQ(refused.status().code(), StatusCode::kAlreadyExists);
  EXPECT_NE(refused.status().message().find(Restored("/z")), std::string::npos)
      << refused.status().message();
  EXPECT_FALSE(fs::exists(Restored("/a"))) << "restore wrote before refusing";
  EXPECT_EQ(ReadFile(Restored("/z")), "local edit");

  options.overwrite = true;
  Restore(b.tree, options);
  ExpectSameTree(Src(), Restored());
}

TEST_F(ArchiverTest, RestoreOnlyIncludedPaths) {
  fs::create_directories(Src("/want/inner"));
  fs::create_directories(Src("/other"));
  WriteFile(Src("/want/inner/f"), "wanted");
  WriteFile(Src("/other/g"), "not wanted");
  WriteFile(Src("/top"), "not wanted");
  BackupResult b = Backup();
  RestoreOptions options;
  options.includes = {Src("/want")};
  RestoreResult r = Restore(b.tree, options);
  EXPECT_EQ(r.files, 1u);
  ExpectSameTree(Src("/want"), Restored("/want"));
  EXPECT_EQ(ListDir(Restored()), std::vector<std::string>{"want"});

  options.target = dst_.path() + "/second";
  options.includes = {"/no/such/path"};
  auto missing = RestoreTree(store_.get(), b.tree, options);
  EXPECT_EQ(missing.status().code(), StatusCode::kNotFound);
}

TEST_F(ArchiverTest, MissingPathFailsTheBackup) {
  BackupOptions options;
  options.paths = {Src("/does-not-exist")};
  auto result = BackupPaths(store_.get(), options);
  EXPECT_EQ(result.status().code(), StatusCode::kNotFound);
}

TEST_F(ArchiverTest, TreesDoNotDependOnThreadCount) {
  store_ = NewMemoryBlobStore(SmallChunks());
  for (int d = 0; d < 5; ++d) {
    fs::create_directories(Src("/d" + std::to_string(d)));
    for (int f = 0; f < 30; ++f)
      WriteFile(Src("/d" + std::to_string(d) + "/f" + std::to_string(f)),
                RandomBytes((f * 37 % 11) * 50000 + 1, d * 100 + f));
  }
  WriteFile(Src("/big"), RandomBytes(12 << 20, 5));
  BackupOptions one, many;
  one.threads = 1;
  many.threads = 4;
  Id a = SubtreeOf(Backup(one).tree, Src());
  Id b = SubtreeOf(Backup(many).tree, Src());
  EXPECT_EQ(a, b);
}

TEST_F(ArchiverTest, PathsAreNormalisedAndLeadingDirectoriesKeepTheirMetadata) {
  fs::create_directories(Src("/sub/inner"));
  WriteFile(Src("/sub/inner/f"), "f");
  WriteFile(Src("/outside"), "not backed up");
  BackupOptions options;
  options.paths = {Src("//sub/./inner/../")};
  BackupResult b = Backup(options);
  EXPECT_EQ(b.summary.files_new, 1u);
  // The root tree's first component is the temp dir's first component, with its real mode.
  std::string first = fs::path(Src()).begin()->string() == "/"
                          ? (++fs::path(Src()).begin())->string()
                          : fs::path(Src()).begin()->string();
  auto root = LoadTree(store_.get(), b.tree);
  ASSERT_TRUE(root.ok());
  ASSERT_EQ(root->nodes.size(), 1u);
  EXPECT_EQ(root->nodes[0].name, first);
  EXPECT_EQ(root->nodes[0].type, NodeType::kDir);
  EXPECT_EQ(root->nodes[0].mode, Lstat("/" + first).st_mode & 07777);
  auto src = LoadTree(store_.get(), SubtreeOf(b.tree, Src()));
  ASSERT_TRUE(src.ok());
  ASSERT_EQ(src->nodes.size(), 1u);  // "sub" only, not "outside"
  EXPECT_EQ(src->nodes[0].name, "sub");
}

// /dev is one file system and /dev/shm another on Linux: with one_file_system the walk
// records /dev/shm as an empty directory and does not descend into it.
TEST_F(ArchiverTest, OneFileSystemStopsAtMountPoints) {
  struct stat dev, shm;
  if (stat("/dev", &dev) != 0 || stat("/dev/shm", &shm) != 0 || dev.st_dev == shm.st_dev)
    GTEST_SKIP() << "/dev/shm is not a mount point here";
  TempDir in_shm("/dev/shm");
  WriteFile(in_shm.path() + "/x", "x");
  BackupOptions options;
  options.paths = {"/dev"};
  options.one_file_system = true;
  auto b = BackupPaths(store_.get(), options);
  ASSERT_TRUE(b.ok()) << b.status().ToString();
  auto shm_tree = LoadTree(store_.get(), SubtreeOf(b->tree, "/dev/shm"));
  ASSERT_TRUE(shm_tree.ok());
  EXPECT_TRUE(shm_tree->nodes.empty());
  auto dev_tree = LoadTree(store_.get(), SubtreeOf(b->tree, "/dev"));
  ASSERT_TRUE(dev_tree.ok());
  for (const Node& n : dev_tree->nodes)
    if (n.name == "null") {
      EXPECT_EQ(n.type, NodeType::kCharDevice);
      EXPECT_EQ(n.rdev, makedev(1, 3));
    }
}

// Unreadable entries are listed in `errors` and skipped; the rest is backed up. Run as an
// unprivileged user (a forked child that drops to nobody when the test runs as root).
TEST_F(ArchiverTest, UnreadableEntriesAreReportedAndSkipped) {
  WriteFile(Src("/readable"), "r");
  WriteFile(Src("/locked"), "secret", 0000);
  fs::create_directories(Src("/closed"));
  WriteFile(Src("/closed/inside"), "x");
  ASSERT_EQ(chmod(Src("/closed").c_str(), 0000), 0);
  ASSERT_EQ(chmod(Src().c_str(), 0755), 0);
  auto check = [&]() -> int {
    BackupOptions options;
    options.paths = {Src()};
    auto b = BackupPaths(store_.get(), options);
    if (!b.ok()) return 10;
    if (b->summary.files_new != 1) return 11;
    for (const auto& e : b->errors) std::fprintf(stderr, "error: %s\n", e.c_str());
    if (b->errors.size() != 2) return 12;
    std::string all = b->errors[0] + "\n" + b->errors[1];
    if (all.find("open directory " + Src("/closed") + ": Permission denied") == std::string::npos)
      return 13;
    if (all.find("open " + Src("/locked") + ": Permission denied") == std::string::npos) return 14;
    auto tree = LoadTree(store_.get(), SubtreeOf(b->tree, Src()));
    if (!tree.ok() || tree->nodes.size() != 2) return 15;  // "closed" (empty) and "readable"
    return 0;
  };
  if (geteuid() != 0) {
    EXPECT_EQ(check(), 0);
    return;
  }
  pid_t pid = fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) {
    if (setgid(65534) != 0 || setuid(65534) != 0) _exit(20);
    _exit(check());
  }
  int status = 0;
  ASSERT_EQ(waitpid(pid, &status, 0), pid);
  ASSERT_TRUE(WIFEXITED(status));
  EXPECT_EQ(WEXITSTATUS(status), 0) << "see the return codes in the test";
  chmod(Src("/closed").c_str(), 0755);
}

// One file of many chunks restored by several workers (offsets handed out in chunk order),
// with zero runs in the middle and at the end.
TEST_F(ArchiverTest, LargeFileRestoredInParallelKeepsItsBytesAndHoles) {
  store_ = NewMemoryBlobStore(SmallChunks());
  std::string data = RandomBytes(6 << 20, 3) + std::string(3 << 20, '\0') +
                     RandomBytes(5 << 20, 4) + std::string(2 << 20, '\0');
  WriteFile(Src("/big"), data);
  BackupOptions bo;
  bo.threads = 4;
  BackupResult b = Backup(bo);
  RestoreOptions ro;
  ro.threads = 4;
  RestoreResult r = Restore(b.tree, ro);
  // All-zero chunks are not written; only chunks straddling data and zeros carry some.
  EXPECT_GE(r.bytes, 11u << 20);
  EXPECT_LE(r.bytes, (11u << 20) + 4 * SmallChunks().max_size);
  EXPECT_TRUE(ReadFile(Restored("/big")) == data);
  EXPECT_EQ(Lstat(Restored("/big")).st_size, static_cast<off_t>(data.size()));
  EXPECT_EQ(MtimeNs(Lstat(Restored("/big"))), MtimeNs(Lstat(Src("/big"))));
}

// Large files go to disk with O_DIRECT through block-aligned staging buffers; small files,
// tails that are not a whole block and file systems without O_DIRECT are written buffered.
// Sizes around the block and staging-buffer sizes, holes that start and end inside blocks and
// a hole at the end come back byte for byte, sparse, with either way of writing; written
// directly, the restored bytes are not left in the page cache.
TEST_F(ArchiverTest, LargeFilesWrittenDirectlyOrBufferedComeBackTheSame) {
  store_ = NewMemoryBlobStore(SmallChunks());
  const std::vector<size_t> sizes = {(1 << 20) - 1, 1 << 20,           (1 << 20) + 1,
                                     4 << 20,       (4 << 20) + 4095, (9 << 20) + 123};
  for (size_t i = 0; i < sizes.size(); ++i)
    WriteFile(Src("/f" + std::to_string(i)), RandomBytes(sizes[i], 20 + i));
  // Data, a hole from inside one block to inside another, data, a hole at the end.
  std::string holey = RandomBytes((1 << 20) + 77, 30) + std::string((6 << 20) + 13, '\0') +
                      RandomBytes((2 << 20) + 5, 31) + std::string(3 << 20, '\0');
  WriteFile(Src("/holey"), holey);
  BackupResult b = Backup();

  auto resident_pages = [](const std::string& path) {
    int fd = open(path.c_str(), O_RDONLY | O_CLOEXEC);
    struct stat st;
    fstat(fd, &st);
    void* map = mmap(nullptr, st.st_size, PROT_READ, MAP_SHARED, fd, 0);
    std::vector<unsigned char> vec((st.st_size + 4095) / 4096);
    size_t resident = 0;
    if (map != MAP_FAILED && mincore(map, st.st_size, vec.data()) == 0)
      for (unsigned char v : vec) resident += v & 1;
    if (map != MAP_FAILED) munmap(map, st.st_size);
    close(fd);
    return resident;
  };
  for (bool direct : {true, false}) {
    TempDir target(fs::temp_directory_path().string());
    RestoreOptions ro;
    ro.threads = 3;
    ro.direct_io = direct;
    ro.target = target.path();
    RestoreResult r = Restore(b.tree, ro);
    EXPECT_EQ(r.files, sizes.size() + 1) << direct;
    std::string big = target.path() + Src("/f5");
    struct stat st = Lstat(target.path() + Src("/holey"));
    EXPECT_LT(st.st_blocks * 512, (4ll << 20) + (64 << 10)) << "not sparse; direct " << direct;
    if (direct) {
      // Written directly, nothing of the file but its last, partial block was cached (the
      // file system may refuse O_DIRECT, as some FUSE ones do: then the check says nothing).
      int probe = open((target.path() + "/probe").c_str(),
                       O_WRONLY | O_CREAT | O_DIRECT | O_CLOEXEC, 0600);
      if (probe >= 0) {
        close(probe);
        EXPECT_LE(resident_pages(big), 1u) << "the restore went through the page cache";
      }
    } else {
      EXPECT_GT(resident_pages(big), 1000u) << "expected buffered writes to be cached";
    }
    ExpectSameTree(Src(), target.path() + Src());  // reads the files: after the cache check
  }
}

// Many directories of files, some of many chunks, more files than the creators may open ahead
// of the writers: files are created by their own threads a directory at a time and written by
// whichever worker holds a file's next chunk, and every byte lands where it belongs.
TEST_F(ArchiverTest, ManyDirectoriesOfMultiChunkFilesRestoreWithManyWorkers) {
  store_ = NewMemoryBlobStore(SmallChunks());
  for (int d = 0; d < 30; ++d) {
    fs::create_directories(Src("/d" + std::to_string(d) + "/sub"));
    for (int f = 0; f < 12; ++f) {
      const size_t size = f % 4 == 0 ? (1 << 20) + f : 100 * f;
      WriteFile(Src("/d" + std::to_string(d) + (f % 3 == 0 ? "/sub/f" : "/f") +
                    std::to_string(f)),
                RandomBytes(size, d * 100 + f));
    }
  }
  BackupOptions bo;
  bo.threads = 3;
  BackupResult b = Backup(bo);
  for (int threads : {1, 2, 5}) {
    TempDir target(fs::temp_directory_path().string());
    RestoreOptions ro;
    ro.threads = threads;
    ro.target = target.path();
    RestoreResult r = Restore(b.tree, ro);
    EXPECT_EQ(r.files, 360u) << threads;
    ExpectSameTree(Src(), target.path() + Src());
  }
}

// With overwrite, a directory where the snapshot has a file fails that file alone.
TEST_F(ArchiverTest, OverwriteReportsADirectoryInTheWayAndRestoresTheRest) {
  WriteFile(Src("/a"), "a");
  WriteFile(Src("/b"), "b");
  WriteFile(Src("/c"), "c");
  BackupResult b = Backup();
  fs::create_directories(Restored("/b"));
  RestoreOptions options;
  options.target = dst_.path();
  options.overwrite = true;
  auto r = RestoreTree(store_.get(), b.tree, options);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  ASSERT_EQ(r->errors.size(), 1u);
  EXPECT_NE(r->errors[0].find(Restored("/b") + ": a directory is in the way"), std::string::npos)
      << r->errors[0];
  EXPECT_EQ(ReadFile(Restored("/a")), "a");
  EXPECT_EQ(ReadFile(Restored("/c")), "c");
  EXPECT_EQ(r->files, 2u);
}

// A chunk that cannot be loaded fails its file (reported), not the restore.
TEST_F(ArchiverTest, DamagedChunkIsReportedAndOtherFilesAreRestored) {
  class Failing : public CountingStore {
   public:
    using CountingStore::CountingStore;
    Status LoadBlob(BlobType type, const Id& id, std::string* plaintext) override {
      if (type == BlobType::kData && id == bad) return Corruption("blob damaged");
      return CountingStore::LoadBlob(type, id, plaintext);
    }
    Id bad;
  };
  auto failing = std::make_unique<Failing>(NewMemoryBlobStore(ChunkerParams{}));
  Failing* store = failing.get();
  store_ = std::move(failing);
  WriteFile(Src("/bad"), "this chunk will be damaged");
  WriteFile(Src("/good"), "this one is fine");
  BackupResult b = Backup();
  auto tree = LoadTree(store_.get(), SubtreeOf(b.tree, Src()));
  ASSERT_TRUE(tree.ok());
  store->bad = tree->nodes[0].content.at(0);
  RestoreOptions options;
  options.target = dst_.path();
  auto r = RestoreTree(store_.get(), b.tree, options);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  ASSERT_EQ(r->errors.size(), 1u);
  EXPECT_NE(r->errors[0].find(Restored("/bad")), std::string::npos) << r->errors[0];
  EXPECT_NE(r->errors[0].find("blob damaged"), std::string::npos) << r->errors[0];
  EXPECT_EQ(ReadFile(Restored("/good")), "this one is fine");
  EXPECT_EQ(r->files, 1u);
}

// The streamed chunking (buffer refills, chunk saves handed to other workers) cuts exactly
// where the chunker cuts the whole file at once, also with chunks larger than the read buffer.
TEST_F(ArchiverTest, ContentIdsMatchChunkingTheWholeFile) {
  std::string data = RandomBytes(70 << 20, 11);
  WriteFile(Src("/f"), data);
  ChunkerParams large;
  large.min_size = 8 << 20;
  large.avg_size = 16 << 20;
  large.max_size = 32 << 20;
  for (const ChunkerParams& params : {SmallChunks(), ChunkerParams{}, large}) {
    store_ = NewMemoryBlobStore(params);
    std::vector<Id> expected;
    const auto* bytes = reinterpret_cast<const uint8_t*>(data.data());
    for (size_t pos = 0; pos < data.size();) {
      size_t cut = store_->chunker().NextCut(bytes + pos, data.size() - pos, true);
      expected.push_back(Sha256(std::string_view(data).substr(pos, cut)));
      pos += cut;
    }
    BackupOptions options;
    options.threads = 3;
    auto tree = LoadTree(store_.get(), SubtreeOf(Backup(options).tree, Src()));
    ASSERT_TRUE(tree.ok());
    ASSERT_EQ(tree->nodes.size(), 1u);
    EXPECT_EQ(tree->nodes[0].content, expected) << "max_size " << params.max_size;
    EXPECT_EQ(tree->nodes[0].size, data.size());
  }
}

// A store that fails (a full disk under the repository) fails the backup with its error,
// whichever thread saw it, and the run still winds down.
TEST_F(ArchiverTest, StoreFailureFailsTheBackup) {
  class FullStore : public CountingStore {
   public:
    using CountingStore::CountingStore;
    StatusOr<Id> SaveBlob(BlobType type, std::string_view plaintext, bool* added,
                          uint64_t* stored) override {
      if (++saves > 40) return IOError("write pack: No space left on device");
      return CountingStore::SaveBlob(type, plaintext, added, stored);
    }
    std::atomic<int> saves{0};
  };
  store_ = std::make_unique<FullStore>(NewMemoryBlobStore(SmallChunks()));
  for (int d = 0; d < 10; ++d) {
    fs::create_directories(Src("/d" + std::to_string(d)));
    for (int f = 0; f < 20; ++f)
      WriteFile(Src("/d" + std::to_string(d) + "/f" + std::to_string(f)),
                RandomBytes(100000, d * 100 + f));
  }
  BackupOptions options;
  options.paths = {Src()};
  options.threads = 3;
  auto result = BackupPaths(store_.get(), options);
  ASSERT_FALSE(result.ok());
  EXPECT_EQ(result.status().code(), StatusCode::kIOError);
  EXPECT_NE(result.status().message().find("No space left"), std::string::npos);
}

TEST_F(ArchiverTest, ProgressIsReported) {
  WriteFile(Src("/f"), RandomBytes(1 << 20, 1));
  int calls = 0;
  BackupOptions options;
  options.progress = [&](const Progress& p) {
    ++calls;
    EXPECT_LE(p.bytes, uint64_t{1} << 20);
  };
  Backup(options);
  EXPECT_GE(calls, 1);
}

// Throughput of ~500 MB of mixed data into the memory store; printed, not asserted.
// Run with --gtest_also_run_disabled_tests --gtest_filter='*Throughput*'.
TEST_F(ArchiverFastFsTest, DISABLED_Throughput500MB) {
  for (int i = 0; i < 4; ++i)
    WriteFile(Src("/random" + std::to_string(i)), RandomBytes(50 << 20, i));  // 200 MB
  std::string text;
  while (text.size() < (100 << 20))
    text += "2026-11-27T08:00:00Z level=info msg=\"request served\" path=/api/v1/items/" +
            std::to_string(text.size() % 9973) + " status=200\n";
  WriteFile(Src("/log1"), text);  // 200 MB of compressible text
  WriteFile(Src("/log2"), text + "tail");
  for (int d = 0; d < 50; ++d) {  // 100 MB in 10,000 files
    std::string dir = Src("/small" + std::to_string(d));
    mkdir(dir.c_str(), 0755);
    for (int f = 0; f < 200; ++f)
      WriteFile(dir + "/" + std::to_string(f), RandomBytes(10000, d * 1000 + f));
  }
  sync();
  // CPU seconds too: on a shared machine the wall time says more about the neighbours.
  auto cpu = [] {
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return ru.ru_utime.tv_sec + ru.ru_stime.tv_sec +
           (ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e6;
  };
  for (int threads : {1, 2}) {
    store_ = NewMemoryBlobStore(ChunkerParams{});
    BackupOptions options;
    options.threads = threads;
    double cpu0 = cpu();
    BackupResult b = Backup(options);
    double mb = b.summary.bytes_processed / 1e6, cpu1 = cpu();
    std::printf(
        "backup of %.0f MB, %d thread(s): %.2f s wall (%.0f MB/s), %.2f s CPU (%.0f MB/s)\n", mb,
        threads, b.summary.seconds, mb / b.summary.seconds, cpu1 - cpu0, mb / (cpu1 - cpu0));
    auto start = std::chrono::steady_clock::now();
    RestoreOptions ro;
    ro.threads = threads;
    ro.target = dst_.path() + "/t" + std::to_string(threads);
    Restore(b.tree, ro);
    double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    double cpu2 = cpu();
    std::printf("restore, %d thread(s): %.2f s wall (%.0f MB/s), %.2f s CPU (%.0f MB/s)\n", threads,
                s, mb / s, cpu2 - cpu1, mb / (cpu2 - cpu1));
  }
}

}  // namespace
}  // namespace steward::backup
