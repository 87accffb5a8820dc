#include "backup/maintenance.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <set>

#include "backup/archiver.h"
#include "repo_fixture.h"

namespace steward::backup {
namespace {

using testing::AddSnapshot;
using testing::Files;
using testing::FlipByte;
using testing::PackFile;
using testing::RandomContent;
using testing::ReadSnapshot;
using testing::RepoFiles;
using testing::TempDir;

std::string Describe(const CheckReport& r) {
  std::string s;
  for (const CheckProblem& p : r.problems) {
    s += p.kind + " " + p.file + ": " + p.message + "\n";
    for (const std::string& a : p.affected) s += "    " + a + "\n";
  }
  return s;
}

// Problems of `kind`, optionally only those naming `file`.
std::vector<CheckProblem> ProblemsOf(const CheckReport& r, const std::string& kind,
                                     const std::string& file = "") {
  std::vector<CheckProblem> out;
  for (const CheckProblem& p : r.problems)
    if (p.kind == kind && (file.empty() || p.file == file)) out.push_back(p);
  return out;
}

bool Affects(const CheckProblem& p, const std::string& what) {
  return std::find(p.affected.begin(), p.affected.end(), what) != p.affected.end();
}

std::string PackName(const Id& pack) {
  return "data/" + pack.Hex().substr(0, 2) + "/" + pack.Hex();
}

CheckReport MustCheck(Repository* repo, bool read_data) {
  CheckOptions options;
  options.read_data = read_data;
  auto report = Check(repo, options);
  EXPECT_TRUE(report.ok()) << report.status().ToString();
  return report.ok() ? *report : CheckReport{};
}

// A repository with two snapshots: the first has a large table only it and the second share,
// a config only the first has; the second adds a log.
class MaintenanceTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = tmp_.path() + "/repo";
    auto repo = testing::CreateRepo(dir_, testing::SmallRepoOptions());
    ASSERT_TRUE(repo.ok()) << repo.status().ToString();
    repo_ = std::move(*repo);
    first_files_ = {{"/srv/db/table", RandomContent(120000, 1)},
                    {"/srv/app/config", RandomContent(30000, 2)},
                    {"/srv/app/empty", ""}};
    second_files_ = {{"/srv/db/table", first_files_["/srv/db/table"]},
                     {"/srv/log/today", RandomContent(40000, 3)}};
    first_ = AddSnapshot(repo_.get(), first_files_, 1);
    second_ = AddSnapshot(repo_.get(), second_files_, 2);
  }

  void Reopen() {
    repo_.reset();
    auto repo = testing::OpenRepo(dir_);
    ASSERT_TRUE(repo.ok()) << repo.status().ToString();
    repo_ = std::move(*repo);
  }

  // The pack holding `file`'s chunk number `chunk`, and the entry.
  PackEntry ChunkOf(const Files& files, const std::string& path, size_t chunk) {
    std::vector<Id> ids = testing::SaveContent(repo_.get(), files.at(path));  // dedups: no write
    EXPECT_LT(chunk, ids.size());
    for (const PackEntry& e : repo_->IndexEntries())
      if (e.id == ids[chunk]) return e;
    ADD_FAILURE() << "chunk not indexed";
    return {};
  }

  // A pack that holds only data chunks of `path` (so damaging it touches no tree).
  Id PackOnlyOf(const Files& files, const std::string& path) {
    std::vector<Id> ids = testing::SaveContent(repo_.get(), files.at(path));
    std::set<Id> mine(ids.begin(), ids.end());
    std::map<Id, bool> only;
    for (const PackEntry& e : repo_->IndexEntries()) {
      bool ok = mine.count(e.id) > 0;
      auto [it, added] = only.emplace(e.where.pack, ok);
      if (!added) it->second = it->second && ok;
    }
    for (const auto& [pack, ok] : only)
      if (ok) return pack;
    ADD_FAILURE() << "no pack holds only " << path;
    return {};
  }

  TempDir tmp_;
  std::string dir_;
  std::unique_ptr<Repository> repo_;
  Files first_files_, second_files_;
  Id first_, second_;
};

TEST_F(MaintenanceTest, CleanRepositoryPasses) {
  Reopen();
  CheckReport structure = MustCheck(repo_.get(), false);
  EXPECT_TRUE(structure.ok()) << Describe(structure);
  EXPECT_EQ(structure.snapshots, 2u);
  EXPECT_GT(structure.trees, 3u);
  EXPECT_GT(structure.packs, 5u);
  EXPECT_EQ(structure.packs_read, 0u);
  EXPECT_EQ(structure.unreferenced_packs, 0u);

  CheckOptions options;
  options.read_data = true;
  uint64_t calls = 0, last_done = 0, last_total = 0;
  options.progress = [&](uint64_t done, uint64_t total) {
    calls++;
    EXPECT_GT(done, last_done);
    last_done = done;
    last_total = total;
  };
  auto full = Check(repo_.get(), options);
  ASSERT_TRUE(full.ok()) << full.status().ToString();
  EXPECT_TRUE(full->ok()) << Describe(*full);
  EXPECT_EQ(full->packs_read, full->packs);
  EXPECT_EQ(calls, full->packs);
  EXPECT_EQ(last_done, last_total);
  uint64_t on_disk = 0;
  for (const std::string& f : RepoFiles(dir_, "data")) on_disk += std::filesystem::file_size(f);
  EXPECT_EQ(full->bytes_read, on_disk);
}

TEST_F(MaintenanceTest, ReadDataSubsetReadsThatShare) {
  CheckOptions options;
  options.read_data = true;
  options.subset = 0.25;
  auto report = Check(repo_.get(), options);
  ASSERT_TRUE(report.ok()) << report.status().ToString();
  EXPECT_TRUE(report->ok()) << Describe(*report);
  EXPECT_EQ(report->packs_read, (report->packs + 3) / 4);
}

TEST_F(MaintenanceTest, FlippedPackByteIsFoundByReadDataWithTheFilesItAffects) {
  PackEntry chunk = ChunkOf(first_files_, "/srv/db/table", 3);
  FlipByte(PackFile(dir_, chunk.where.pack), chunk.where.offset + chunk.where.length / 2);
  Reopen();

  CheckReport structure = MustCheck(repo_.get(), false);
  EXPECT_TRUE(structure.ok()) << Describe(structure);

  CheckReport report = MustCheck(repo_.get(), true);
  ASSERT_FALSE(report.ok());
  std::string pack = PackName(chunk.where.pack);
  auto blobs = ProblemsOf(report, "blob", pack);
  ASSERT_EQ(blobs.size(), 1u) << Describe(report);
  EXPECT_NE(blobs[0].message.find(chunk.id.Hex()), std::string::npos) << blobs[0].message;
  // Both snapshots hold the table.
  EXPECT_TRUE(Affects(blobs[0], "snapshot " + first_.Short() + " /srv/db/table"))
      << Describe(report);
  EXPECT_TRUE(Affects(blobs[0], "snapshot " + second_.Short() + " /srv/db/table"))
      << Describe(report);
  EXPECT_EQ(blobs[0].affected.size(), 2u) << Describe(report);
  auto packs = ProblemsOf(report, "pack", pack);
  ASSERT_EQ(packs.size(), 1u) << Describe(report);
  EXPECT_NE(packs[0].message.find("hash"), std::string::npos);
  // Nothing else is reported.
  EXPECT_EQ(report.problems.size(), 2u) << Describe(report);
}

TEST_F(MaintenanceTest, AByteFlippedAnywhereInAPackIsFound) {
  Id pack = PackOnlyOf(first_files_, "/srv/db/table");
  std::string file = PackFile(dir_, pack);
  uint64_t size = std::filesystem::file_size(file);
  for (uint64_t offset : {uint64_t{0}, size / 2, size - 30, size - 1}) {
    SCOPED_TRACE("byte " + std::to_string(offset) + " of " + std::to_string(size));
    FlipByte(file, offset);
    CheckReport report = MustCheck(repo_.get(), true);
    EXPECT_FALSE(ProblemsOf(report, "pack", PackName(pack)).empty()) << Describe(report);
    for (const CheckProblem& p : report.problems) EXPECT_EQ(p.file, PackName(pack));
    FlipByte(file, offset);  // flipped back
  }
  CheckReport report = MustCheck(repo_.get(), true);
  EXPECT_TRUE(report.ok()) << Describe(report);
}

TEST_F(MaintenanceTest, FlippedByteInAFileOfOneSnapshotAffectsOnlyIt) {
  PackEntry chunk = ChunkOf(first_files_, "/srv/app/config", 0);
  FlipByte(PackFile(dir_, chunk.where.pack), chunk.where.offset + 30);
  CheckReport report = MustCheck(repo_.get(), true);
  auto blobs = ProblemsOf(report, "blob", PackName(chunk.where.pack));
  ASSERT_EQ(blobs.size(), 1u) << Describe(report);
  EXPECT_EQ(blobs[0].affected,
            std::vector<std::string>{"snapshot " + first_.Short() + " /srv/app/config"});
}

TEST_F(MaintenanceTest, FlippedIndexByteIsAnIndexProblem) {
  std::vector<std::string> index = RepoFiles(dir_, "index");
  ASSERT_FALSE(index.empty());
  FlipByte(index[0], 100);
  Reopen();
  CheckReport report = MustCheck(repo_.get(), false);
  std::string name = std::filesystem::path(index[0]).filename();
  auto problems = ProblemsOf(report, "index", "index/" + name);
  ASSERT_EQ(problems.size(), 1u) << Describe(report);
  // The repository's warning about the same file is not reported twice.
  EXPECT_EQ(ProblemsOf(report, "index").size(), 1u) << Describe(report);
  EXPECT_NE(problems[0].message.find("damaged"), std::string::npos) << problems[0].message;
}

TEST_F(MaintenanceTest, FlippedSnapshotByteIsASnapshotProblem) {
  std::string file = dir_ + "/snapshots/" + second_.Hex();
  FlipByte(file, 40);
  Reopen();
  CheckReport report = MustCheck(repo_.get(), false);
  auto problems = ProblemsOf(report, "snapshot", "snapshots/" + second_.Hex());
  ASSERT_EQ(problems.size(), 1u) << Describe(report);
  EXPECT_EQ(report.problems.size(), 1u) << Describe(report);
  EXPECT_EQ(report.snapshots, 2u);
}

TEST_F(MaintenanceTest, MissingPackIsFoundWithoutReadingData) {
  Id pack = PackOnlyOf(first_files_, "/srv/db/table");
  std::filesystem::remove(PackFile(dir_, pack));
  Reopen();
  CheckReport report = MustCheck(repo_.get(), false);
  auto problems = ProblemsOf(report, "pack", PackName(pack));
  ASSERT_EQ(problems.size(), 1u) << Describe(report);
  EXPECT_NE(problems[0].message.find("missing"), std::string::npos);
  EXPECT_TRUE(Affects(problems[0], "snapshot " + first_.Short() + " /srv/db/table"))
      << Describe(report);
  EXPECT_TRUE(Affects(problems[0], "snapshot " + second_.Short() + " /srv/db/table"))
      << Describe(report);
}

TEST_F(MaintenanceTest, TruncatedPackIsFoundWithoutReadingData) {
  Id pack = PackOnlyOf(first_files_, "/srv/db/table");
  std::string file = PackFile(dir_, pack);
  std::filesystem::permissions(file, std::filesystem::perms::owner_write,
                               std::filesystem::perm_options::add);
  std::filesystem::resize_file(file, std::filesystem::file_size(file) / 2);
  Reopen();
  CheckReport report = MustCheck(repo_.get(), false);
  auto problems = ProblemsOf(report, "pack", PackName(pack));
  ASSERT_EQ(problems.size(), 1u) << Describe(report);
  EXPECT_NE(problems[0].message.find("truncated"), std::string::npos);
  EXPECT_TRUE(Affects(problems[0], "snapshot " + second_.Short() + " /srv/db/table"))
      << Describe(report);
}

TEST_F(MaintenanceTest, DamagedTreeNamesTheDirectory) {
  // The tree of /srv/log is the only tree that only the second snapshot has.
  auto snap = repo_->LoadSnapshot(second_);
  ASSERT_TRUE(snap.ok());
  auto root = LoadTree(repo_.get(), snap->tree);
  ASSERT_TRUE(root.ok());
  auto srv = LoadTree(repo_.get(), *root->nodes.at(0).subtree);
  ASSERT_TRUE(srv.ok());
  ASSERT_EQ(srv->nodes.at(1).name, "log");
  Id log_tree = *srv->nodes.at(1).subtree;
  PackEntry entry;
  for (const PackEntry& e : repo_->IndexEntries())
    if (e.id == log_tree) entry = e;
  ASSERT_FALSE(entry.id.IsZero());
  FlipByte(PackFile(dir_, entry.where.pack), entry.where.offset + 5);
  Reopen();
  CheckReport report = MustCheck(repo_.get(), false);
  auto trees = ProblemsOf(report, "tree");
  ASSERT_EQ(trees.size(), 1u) << Describe(report);
  EXPECT_EQ(trees[0].affected,
            std::vector<std::string>{"snapshot " + second_.Short() + " /srv/log"});
}

TEST_F(MaintenanceTest, RebuildIndexAfterAllIndexFilesAreLost) {
  for (const std::string& f : RepoFiles(dir_, "index")) std::filesystem::remove(f);
  Reopen();
  CheckReport broken = MustCheck(repo_.get(), false);
  EXPECT_FALSE(broken.ok());
  EXPECT_GT(broken.unreferenced_packs, 0u);

  std::vector<std::string> skipped;
  auto packs = RebuildIndex(repo_.get(), &skipped);
  ASSERT_TRUE(packs.ok()) << packs.status().ToString();
  EXPECT_EQ(*packs, RepoFiles(dir_, "data").size());
  EXPECT_TRUE(skipped.empty());
  Reopen();
  CheckReport report = MustCheck(repo_.get(), true);
  EXPECT_TRUE(report.ok()) << Describe(report);
  EXPECT_EQ(report.unreferenced_packs, 0u);
  auto files = ReadSnapshot(repo_.get(), first_);
  ASSERT_TRUE(files.ok()) << files.status().ToString();
  EXPECT_EQ(*files, first_files_);
}

TEST_F(MaintenanceTest, RebuildIndexSkipsAPackWithADamagedHeader) {
  std::vector<std::string> packs = RepoFiles(dir_, "data");
  std::string victim = packs[0];
  FlipByte(victim, std::filesystem::file_size(victim) - 10);  // inside the sealed header
  std::vector<std::string> skipped;
  auto indexed = RebuildIndex(repo_.get(), &skipped);
  ASSERT_TRUE(indexed.ok()) << indexed.status().ToString();
  EXPECT_EQ(*indexed, packs.size() - 1);
  ASSERT_EQ(skipped.size(), 1u);
  EXPECT_NE(skipped[0].find(std::filesystem::path(victim).filename().string()), std::string::npos);
}

// The whole path: a real directory backed up by the archiver, a flipped byte in one of its
// file's chunks, and the affected path is that file's absolute path.
TEST(MaintenanceArchiverTest, ReadDataNamesTheBackedUpFileADamagedChunkBelongsTo) {
  TempDir tmp;
  std::string src = tmp.path() + "/src", dir = tmp.path() + "/repo";
  std::filesystem::create_directories(src + "/db");
  std::ofstream(src + "/db/big", std::ios::binary) << RandomContent(200000, 7);
  std::ofstream(src + "/notes", std::ios::binary) << "small";
  auto repo = testing::CreateRepo(dir, testing::SmallRepoOptions());
  ASSERT_TRUE(repo.ok()) << repo.status().ToString();
  BackupOptions options;
  options.paths = {src};
  auto backed = BackupPaths(repo->get(), options);
  ASSERT_TRUE(backed.ok()) << backed.status().ToString();
  ASSERT_TRUE((*repo)->Flush().ok());
  Snapshot snap;
  snap.time_ns = 1;
  snap.paths = {src};
  snap.tree = backed->tree;
  auto snap_id = (*repo)->SaveSnapshot(snap);
  ASSERT_TRUE(snap_id.ok()) << snap_id.status().ToString();

  std::vector<Id> chunks;
  ASSERT_TRUE(WalkTree(repo->get(), snap.tree, [&](const std::string& path, const Node& node) {
                if (path == src + "/db/big") chunks = node.content;
                return Status::OK();
              }).ok());
  ASSERT_GT(chunks.size(), 2u);
  PackEntry victim;
  for (const PackEntry& e : (*repo)->IndexEntries())
    if (e.id == chunks[1]) victim = e;
  ASSERT_FALSE(victim.id.IsZero());
  FlipByte(PackFile(dir, victim.where.pack), victim.where.offset + victim.where.length - 3);

  CheckOptions check;
  check.read_data = true;
  auto report = Check(repo->get(), check);
  ASSERT_TRUE(report.ok()) << report.status().ToString();
  auto blobs = ProblemsOf(*report, "blob", PackName(victim.where.pack));
  ASSERT_EQ(blobs.size(), 1u) << Describe(*report);
  EXPECT_EQ(blobs[0].affected,
            std::vector<std::string>{"snapshot " + snap_id->Short() + " " + src + "/db/big"});
}

uint64_t DataBytes(const std::string& dir) {
  uint64_t n = 0;
  for (const std::string& f : RepoFiles(dir, "data")) n += std::filesystem::file_size(f);
  return n;
}

TEST_F(MaintenanceTest, PruneAfterForgetFreesSpaceAndKeepsWhatIsShared) {
  ASSERT_TRUE(repo_->RemoveSnapshot(first_).ok());
  uint64_t before = DataBytes(dir_);
  PruneOptions options;
  options.max_unused = 0;
  std::set<std::string> phases;
  options.progress = [&](std::string_view phase, uint64_t, uint64_t) {
    phases.insert(std::string(phase));
  };
  auto report = Prune(repo_.get(), options);
  ASSERT_TRUE(report.ok()) << report.status().ToString();
  EXPECT_EQ(report->bytes_before, before);
  EXPECT_LT(report->bytes_after, report->bytes_before);
  EXPECT_EQ(report->bytes_after, DataBytes(dir_));
  EXPECT_EQ(report->bytes_freed, report->bytes_before - report->bytes_after);
  EXPECT_GT(report->packs_deleted, 0u);
  EXPECT_GT(report->blobs_deleted, 0u);
  EXPECT_TRUE(phases.count("delete"));
  // The config (about 30 kB) is gone; the shared table stays.
  EXPECT_GT(report->bytes_freed, 25000u);
  EXPECT_EQ(RepoFiles(dir_, "index").size(), 1u);

  Reopen();
  auto files = ReadSnapshot(repo_.get(), second_);
  ASSERT_TRUE(files.ok()) << files.status().ToString();
  EXPECT_EQ(*files, second_files_);
  CheckReport check = MustCheck(repo_.get(), true);
  EXPECT_TRUE(check.ok()) << Describe(check);
  EXPECT_EQ(check.unreferenced_packs, 0u);

  // A second prune finds nothing more to do.
  auto again = Prune(repo_.get(), options);
  ASSERT_TRUE(again.ok()) << again.status().ToString();
  EXPECT_EQ(again->packs_deleted + again->packs_repacked, 0u);
  EXPECT_EQ(again->bytes_freed, 0u);
}

TEST_F(MaintenanceTest, PruneRepacksPartlyUsedPacks) {
  // A pack written after the first snapshot's data mixes the config's chunks with trees and
  // with the empty file; with max_unused 0 every partly used pack is repacked.
  ASSERT_TRUE(repo_->RemoveSnapshot(first_).ok());
  PruneOptions options;
  options.max_unused = 0;
  auto dry = Prune(repo_.get(), [&] {
    PruneOptions o = options;
    o.dry_run = true;
    return o;
  }());
  ASSERT_TRUE(dry.ok()) << dry.status().ToString();
  auto report = Prune(repo_.get(), options);
  ASSERT_TRUE(report.ok()) << report.status().ToString();
  EXPECT_GT(report->packs_repacked, 0u);
  EXPECT_GT(report->blobs_repacked, 0u);
  EXPECT_EQ(dry->packs_repacked, report->packs_repacked);
  EXPECT_EQ(dry->packs_deleted, report->packs_deleted);
  EXPECT_EQ(dry->blobs_deleted, report->blobs_deleted);
  Reopen();
  // Every pack left is wholly used: a second prune with max_unused 0 has nothing to repack.
  auto again = Prune(repo_.get(), options);
  ASSERT_TRUE(again.ok()) << again.status().ToString();
  EXPECT_EQ(again->packs_repacked + again->packs_deleted, 0u);
  CheckReport check = MustCheck(repo_.get(), true);
  EXPECT_TRUE(check.ok()) << Describe(check);
  auto files = ReadSnapshot(repo_.get(), second_);
  ASSERT_TRUE(files.ok()) << files.status().ToString();
  EXPECT_EQ(*files, second_files_);
}

TEST_F(MaintenanceTest, PruneKeepsPartlyUsedPacksUpToMaxUnused) {
  ASSERT_TRUE(repo_->RemoveSnapshot(first_).ok());
  PruneOptions options;
  options.max_unused = 1.0;  // never repack
  auto report = Prune(repo_.get(), options);
  ASSERT_TRUE(report.ok()) << report.status().ToString();
  EXPECT_EQ(report->packs_repacked, 0u);
  EXPECT_GT(report->packs_deleted, 0u);
  Reopen();
  CheckReport check = MustCheck(repo_.get(), true);
  EXPECT_TRUE(check.ok()) << Describe(check);
  // With max_unused 0 the same repository still has partly used packs to repack.
  options.max_unused = 0;
  options.dry_run = true;
  auto strict = Prune(repo_.get(), options);
  ASSERT_TRUE(strict.ok()) << strict.status().ToString();
  EXPECT_GT(strict->packs_repacked, 0u);
}

TEST_F(MaintenanceTest, PruneWithoutSnapshotsEmptiesTheRepository) {
  ASSERT_TRUE(repo_->RemoveSnapshot(first_).ok());
  ASSERT_TRUE(repo_->RemoveSnapshot(second_).ok());
  auto report = Prune(repo_.get(), PruneOptions{});
  ASSERT_TRUE(report.ok()) << report.status().ToString();
  EXPECT_EQ(report->bytes_after, 0u);
  EXPECT_TRUE(RepoFiles(dir_, "data").empty());
  Reopen();
  CheckReport check = MustCheck(repo_.get(), true);
  EXPECT_TRUE(check.ok()) << Describe(check);
  EXPECT_EQ(check.packs, 0u);
  // The repository takes new backups as before.
  Id again = AddSnapshot(repo_.get(), second_files_, 3);
  auto files = ReadSnapshot(repo_.get(), again);
  ASSERT_TRUE(files.ok()) << files.status().ToString();
  EXPECT_EQ(*files, second_files_);
}

TEST_F(MaintenanceTest, PruneDryRunWritesNothing) {
  ASSERT_TRUE(repo_->RemoveSnapshot(first_).ok());
  std::vector<std::string> data = RepoFiles(dir_, "data"), index = RepoFiles(dir_, "index");
  PruneOptions options;
  options.dry_run = true;
  auto report = Prune(repo_.get(), options);
  ASSERT_TRUE(report.ok()) << report.status().ToString();
  EXPECT_GT(report->packs_deleted, 0u);
  EXPECT_LT(report->bytes_after, report->bytes_before);
  EXPECT_EQ(RepoFiles(dir_, "data"), data);
  EXPECT_EQ(RepoFiles(dir_, "index"), index);
}

TEST_F(MaintenanceTest, PruneWithEverythingUsedChangesNothing) {
  std::vector<std::string> data = RepoFiles(dir_, "data"), index = RepoFiles(dir_, "index");
  auto report = Prune(repo_.get(), PruneOptions{});
  ASSERT_TRUE(report.ok()) << report.status().ToString();
  EXPECT_EQ(report->packs_deleted + report->packs_repacked, 0u);
  EXPECT_EQ(report->packs_kept, data.size());
  EXPECT_EQ(report->bytes_after, report->bytes_before);
  EXPECT_EQ(RepoFiles(dir_, "data"), data);
  EXPECT_EQ(RepoFiles(dir_, "index"), index);
}

// What a kill -9 between writing a file and linking it into place leaves: ".tmp-" files beside
// the final names, which List never shows. Prune (exclusive lock held) counts them with
// dry_run and removes them otherwise; nothing else changes and check still passes.
TEST_F(MaintenanceTest, PruneRemovesTheTemporaryFilesOfKilledWrites) {
  std::vector<std::string> data = RepoFiles(dir_, "data"), index = RepoFiles(dir_, "index");
  ASSERT_FALSE(data.empty());
  const std::string pack_dir = std::filesystem::path(data.front()).parent_path();
  const std::vector<std::string> leftovers = {pack_dir + "/.tmp-0123456789abcdef",
                                              dir_ + "/index/.tmp-fedcba9876543210",
                                              dir_ + "/snapshots/.tmp-00112233aabbccdd"};
  for (const std::string& path : leftovers) {
    std::ofstream(path) << std::string(1000, 'x');
  }
  PruneOptions dry;
  dry.dry_run = true;
  auto counted = Prune(repo_.get(), dry);
  ASSERT_TRUE(counted.ok()) << counted.status().ToString();
  EXPECT_EQ(counted->unfinished_files, 3u);
  EXPECT_EQ(counted->unfinished_bytes, 3000u);
  for (const std::string& path : leftovers) EXPECT_TRUE(std::filesystem::exists(path)) << path;

  auto report = Prune(repo_.get(), PruneOptions{});
  ASSERT_TRUE(report.ok()) << report.status().ToString();
  EXPECT_EQ(report->unfinished_files, 3u);
  for (const std::string& path : leftovers) EXPECT_FALSE(std::filesystem::exists(path)) << path;
  EXPECT_EQ(RepoFiles(dir_, "data"), data);
  EXPECT_EQ(RepoFiles(dir_, "index"), index);
  auto check = Check(repo_.get(), CheckOptions{});
  ASSERT_TRUE(check.ok()) << check.status().ToString();
  EXPECT_TRUE(check->ok());
  auto again = Prune(repo_.get(), PruneOptions{});
  ASSERT_TRUE(again.ok());
  EXPECT_EQ(again->unfinished_files, 0u);
}

TEST_F(MaintenanceTest, PruneRefusesWhileAnIndexFileIsDamaged) {
  ASSERT_TRUE(repo_->RemoveSnapshot(first_).ok());
  FlipByte(RepoFiles(dir_, "index")[0], 50);
  Reopen();
  std::vector<std::string> data = RepoFiles(dir_, "data");
  auto report = Prune(repo_.get(), PruneOptions{});
  ASSERT_FALSE(report.ok());
  EXPECT_EQ(report.status().code(), StatusCode::kFailedPrecondition);
  EXPECT_NE(report.status().message().find("rebuild-index"), std::string::npos);
  EXPECT_EQ(RepoFiles(dir_, "data"), data);
}

TEST_F(MaintenanceTest, PruneRefusesWhileASnapshotIsDamaged) {
  ASSERT_TRUE(repo_->RemoveSnapshot(first_).ok());
  FlipByte(dir_ + "/snapshots/" + second_.Hex(), 40);
  std::vector<std::string> data = RepoFiles(dir_, "data");
  auto report = Prune(repo_.get(), PruneOptions{});
  ASSERT_FALSE(report.ok());
  EXPECT_EQ(RepoFiles(dir_, "data"), data);
}

// Forwards to a real backend; after `budget` mutating calls (Save, Remove) every call fails,
// as if the process had been killed there.
class CrashingBackend : public Backend {
 public:
  explicit CrashingBackend(std::unique_ptr<Backend> real) : real_(std::move(real)) {}
  // From now on, `budget` more mutations succeed (-1: any number).
  void Arm(int budget) { budget_ = budget < 0 ? -1 : mutations_ + budget; }
  int mutations() const { return mutations_; }
  bool crashed() const { return crashed_; }

  std::string Location() const override { return real_->Location(); }
  Status Save(FileType type, std::string_view name, std::string_view data) override {
    RETURN_IF_ERROR(Mutate());
    return real_->Save(type, name, data);
  }
  Status Load(FileType type, std::string_view name, std::string* out, uint64_t offset,
              uint64_t length) override {
    RETURN_IF_ERROR(Alive());
    return real_->Load(type, name, out, offset, length);
  }
  Status Size(FileType type, std::string_view name, uint64_t* size) override {
    RETURN_IF_ERROR(Alive());
    return real_->Size(type, name, size);
  }
  Status Remove(FileType type, std::string_view name) override {
    RETURN_IF_ERROR(Mutate());
    return real_->Remove(type, name);
  }
  Status List(FileType type, const std::function<void(std::string_view, uint64_t)>& fn) override {
    RETURN_IF_ERROR(Alive());
    return real_->List(type, fn);
  }
  bool Exists(FileType type, std::string_view name) override {
    return !crashed_ && real_->Exists(type, name);
  }

 private:
  Status Alive() const { return crashed_ ? IOError("simulated crash") : Status::OK(); }
  Status Mutate() {
    RETURN_IF_ERROR(Alive());
    if (budget_ >= 0 && mutations_ >= budget_) {
      crashed_ = true;
      return Alive();
    }
    mutations_++;
    return Status::OK();
  }
  std::unique_ptr<Backend> real_;
  int budget_ = -1;
  int mutations_ = 0;
  bool crashed_ = false;
};

// Runs prune (max_unused 0, so it repacks too) on a fresh copy of `dir` through a backend
// that dies after `budget` mutations (-1: never); returns how many mutations prune made.
int PruneWithCrash(const std::string& dir, const std::string& copy, int budget) {
  std::filesystem::remove_all(copy);
  std::filesystem::copy(dir, copy, std::filesystem::copy_options::recursive);
  auto real = OpenLocalBackend(copy, LocalBackendOptions{});
  EXPECT_TRUE(real.ok()) << real.status().ToString();
  if (!real.ok()) return 0;
  auto crashing = std::make_unique<CrashingBackend>(std::move(*real));
  CrashingBackend* backend = crashing.get();
  auto repo = Repository::Open(std::move(crashing), testing::kPassword);
  EXPECT_TRUE(repo.ok()) << repo.status().ToString();
  if (!repo.ok()) return 0;
  int opened = backend->mutations();
  backend->Arm(budget);
  PruneOptions options;
  options.max_unused = 0;
  auto report = Prune(repo->get(), options);
  EXPECT_EQ(report.ok(), !backend->crashed()) << "budget " << budget;
  int made = backend->mutations() - opened;
  repo->reset();  // the "dead" process goes away; its destructor reaches nothing
  return made;
}

TEST_F(MaintenanceTest, PruneKilledAtAnyStepLeavesARepositoryCheckPasses) {
  ASSERT_TRUE(repo_->RemoveSnapshot(first_).ok());
  repo_.reset();
  std::string copy = tmp_.path() + "/copy";
  int total = PruneWithCrash(dir_, copy, -1);
  // New packs, one index, old index files, old packs.
  ASSERT_GT(total, 4);
  for (int budget = 0; budget < total; ++budget) {
    SCOPED_TRACE("killed after " + std::to_string(budget) + " of " + std::to_string(total) +
                 " mutations");
    PruneWithCrash(dir_, copy, budget);
    auto repo = testing::OpenRepo(copy);
    ASSERT_TRUE(repo.ok()) << repo.status().ToString();
    CheckReport check = MustCheck(repo->get(), true);
    EXPECT_TRUE(check.ok()) << Describe(check);
    EXPECT_EQ(check.snapshots, 1u);
    auto files = ReadSnapshot(repo->get(), second_);
    ASSERT_TRUE(files.ok()) << files.status().ToString();
    EXPECT_EQ(*files, second_files_);
    // The next prune finishes the job.
    auto report = Prune(repo->get(), PruneOptions{});
    ASSERT_TRUE(report.ok()) << report.status().ToString();
    repo->reset();
    repo = testing::OpenRepo(copy);
    ASSERT_TRUE(repo.ok()) << repo.status().ToString();
    check = MustCheck(repo->get(), true);
    EXPECT_TRUE(check.ok()) << Describe(check);
    EXPECT_EQ(check.unreferenced_packs, 0u);
  }
}

}  // namespace
}  // namespace steward::backup
