#include <gtest/gtest.h>
#include <stdio.h>

#include <filesystem>
#include <fstream>
#include <random>

#include "base/clock.h"
#include "metrics/registry.h"
#include "tsdb/tsdb.h"
#include "tsdb_test_util.h"

namespace steward::tsdb {
namespace {

namespace fs = std::filesystem;
using testing::Eq;
using testing::L;
using testing::OpenDb;
using testing::SelectAll;
using testing::TempDir;
using testing::TestOptions;

constexpr int64_t kRange = 10000;  // a 10 s block duration keeps the tests small

Options SmallBlocks(const std::string& dir) {
  Options o = TestOptions(dir);
  o.block_duration = Duration(kRange);
  return o;
}

Labels Series(int i) {
  return L({{"__name__", "m"}, {"i", std::to_string(i)}, {"job", i % 2 ? "odd" : "even"}});
}

// Appends t = from, from+step, ... < to with value t to series 0..n-1, one commit per step.
void Fill(Db& db, int n, int64_t from, int64_t to, int64_t step) {
  auto app = db.NewAppender();
  std::vector<SeriesRef> refs(static_cast<size_t>(n), 0);
  for (int64_t t = from; t < to; t += step) {
    for (int i = 0; i < n; ++i) {
      auto r = app->Append(refs[i], Series(i), t, static_cast<double>(t));
      ASSERT_TRUE(r.ok()) << r.status().ToString();
      refs[i] = *r;
    }
    ASSERT_TRUE(app->Commit().ok());
  }
}

void ExpectRamp(Db& db, int n, int64_t from, int64_t to, int64_t step) {
  auto got = SelectAll(db, {Eq("__name__", "m")});
  ASSERT_EQ(got.size(), static_cast<size_t>(n));
  for (const auto& s : got) {
    ASSERT_EQ(s.samples.size(), static_cast<size_t>((to - from + step - 1) / step))
        << s.labels.ToString();
    for (size_t k = 0; k < s.samples.size(); ++k) {
      ASSERT_EQ(s.samples[k].t, from + static_cast<int64_t>(k) * step);
      ASSERT_EQ(s.samples[k].v, static_cast<double>(s.samples[k].t));
    }
  }
}

std::vector<std::string> BlockDirs(const std::string& dir) {
  std::vector<std::string> out;
  for (const auto& e : fs::directory_iterator(dir)) {
    std::string name = e.path().filename();
    if (name.size() == 26) out.push_back(e.path());
  }
  std::sort(out.begin(), out.end());
  return out;
}

TEST(Compaction, HeadIsCutIntoBlocksOnceItSpansOneAndAHalfBlocks) {
  TempDir dir;
  auto db = OpenDb(SmallBlocks(dir.path()));
  Fill(*db, 5, 0, 14000, 100);
  ASSERT_TRUE(db->Compact().ok());
  EXPECT_EQ(db->GetStats().blocks, 0);  // spans 1.4 blocks: nothing yet
  Fill(*db, 5, 14000, 16000, 100);
  ASSERT_TRUE(db->Compact().ok());
  Stats s = db->GetStats();
  EXPECT_EQ(s.blocks, 1);
  EXPECT_EQ(s.block_samples, 5 * 100);
  EXPECT_GE(s.head_min_time, kRange);
  ExpectRamp(*db, 5, 0, 16000, 100);
  // The WAL was checkpointed: reopening replays only what the head still holds.
  ASSERT_TRUE(db->Close().ok());
  db = OpenDb(SmallBlocks(dir.path()));
  ExpectRamp(*db, 5, 0, 16000, 100);
  EXPECT_EQ(db->GetStats().head_samples, 5 * 60);
  // Samples the block already covers are refused.
  auto app = db->NewAppender();
  ASSERT_TRUE(app->Append(0, L({{"__name__", "late"}}), 9999, 1).ok());
  EXPECT_EQ(app->Commit()->out_of_order, 1);
}

TEST(Compaction, BlockMetaDescribesTheBlock) {
  TempDir dir;
  auto db = OpenDb(SmallBlocks(dir.path()));
  Fill(*db, 3, 0, 17000, 1000);
  ASSERT_TRUE(db->Compact().ok());
  auto blocks = BlockDirs(dir.path());
  ASSERT_EQ(blocks.size(), 1u);
  std::ifstream in(blocks[0] + "/meta.json");
  std::string meta((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  EXPECT_NE(meta.find("\"minTime\": 0"), std::string::npos) << meta;
  EXPECT_NE(meta.find("\"maxTime\": 10000"), std::string::npos) << meta;
  EXPECT_NE(meta.find("\"numSamples\": 30"), std::string::npos) << meta;
  EXPECT_NE(meta.find("\"numSeries\": 3"), std::string::npos) << meta;
  EXPECT_NE(meta.find("\"level\": 1"), std::string::npos) << meta;
  EXPECT_TRUE(fs::exists(blocks[0] + "/index"));
  EXPECT_TRUE(fs::exists(blocks[0] + "/chunks/000001"));
}

TEST(Compaction, FlushHeadPersistsEverythingAndLaterSamplesContinue) {
  TempDir dir;
  auto db = OpenDb(SmallBlocks(dir.path()));
  Fill(*db, 4, 0, 25000, 250);
  ASSERT_TRUE(db->FlushHead().ok());
  Stats s = db->GetStats();
  EXPECT_EQ(s.head_samples, 0);
  EXPECT_EQ(s.block_samples, 4 * 100);
  EXPECT_EQ(s.blocks, 3);  // [0,10s) [10s,20s) [20s,25s)
  Fill(*db, 4, 25000, 26000, 250);
  ExpectRamp(*db, 4, 0, 26000, 250);
  ASSERT_TRUE(db->Close().ok());
  db = OpenDb(SmallBlocks(dir.path()));
  ExpectRamp(*db, 4, 0, 26000, 250);
}

TEST(Compaction, AdjacentBlocksAreMergedIntoBiggerOnes) {
  TempDir dir;
  auto db = OpenDb(SmallBlocks(dir.path()));
  // 10 blocks of 10 s; windows of 30 s and 90 s complete behind them.
  for (int64_t t = 0; t < 115000; t += 5000) {
    Fill(*db, 3, t, t + 5000, 500);
    ASSERT_TRUE(db->Compact().ok());
  }
  Stats s = db->GetStats();
  EXPECT_LT(s.blocks, 5) << "blocks were not merged";
  bool merged = false;
  for (const std::string& b : BlockDirs(dir.path())) {
    std::ifstream in(b + "/meta.json");
    std::string meta((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    merged |= meta.find("\"level\": 3") != std::string::npos;
  }
  EXPECT_TRUE(merged);
  ExpectRamp(*db, 3, 0, 115000, 500);
  ASSERT_TRUE(db->Close().ok());
  db = OpenDb(SmallBlocks(dir.path()));
  ExpectRamp(*db, 3, 0, 115000, 500);
}

TEST(Compaction, OverlappingBlocksAreDeduplicatedThenMerged) {
  TempDir dir;
  {
    auto db = OpenDb(SmallBlocks(dir.path()));
    Fill(*db, 2, 0, 16000, 100);
    ASSERT_TRUE(db->Compact().ok());
    ASSERT_TRUE(db->FlushHead().ok());
  }
  // A copy of a block under another id: every sample is there twice.
  auto blocks = BlockDirs(dir.path());
  ASSERT_EQ(blocks.size(), 2u);
  std::string copy = dir.Sub("01ARZ3NDEKTSV4RRFFQ69G5FAV");
  fs::copy(blocks[0], copy, fs::copy_options::recursive);
  auto db = OpenDb(SmallBlocks(dir.path()));
  EXPECT_EQ(db->GetStats().blocks, 3);
  ExpectRamp(*db, 2, 0, 16000, 100);
  ASSERT_TRUE(db->Compact().ok());
  EXPECT_EQ(db->GetStats().blocks, 2);
  EXPECT_EQ(db->GetStats().block_samples, 2 * 160);
  ExpectRamp(*db, 2, 0, 16000, 100);
}

TEST(Compaction, RetentionByTimeDropsWholeOldBlocks) {
  TempDir dir;
  FakeClock clock;
  metrics::Registry registry;
  Options o = SmallBlocks(dir.path());
  o.clock = &clock;
  o.metrics = &registry;
  o.retention_time = Duration(3 * kRange);
  auto db = OpenDb(o);
  int64_t now = ToUnixMillis(clock.WallNow());
  int64_t start = (now / kRange - 6) * kRange;
  Fill(*db, 2, start, start + 6 * kRange, 1000);
  ASSERT_TRUE(db->FlushHead().ok());
  EXPECT_EQ(db->GetStats().blocks, 6);
  ASSERT_TRUE(db->Compact().ok());
  // Blocks ending at or before now - 30 s are gone; the rest (and their data) stay.
  auto got = SelectAll(*db, {Eq("__name__", "m")});
  ASSERT_EQ(got.size(), 2u);
  EXPECT_EQ(got[0].samples.front().t, start + 3 * kRange);
  EXPECT_EQ(got[0].samples.back().t, start + 6 * kRange - 1000);
  EXPECT_NE(registry.Render().find("steward_tsdb_retention_deletions_total 3"), std::string::npos);
}

TEST(Compaction, RetentionBySizeDropsOldestBlocksFirst) {
  TempDir dir;
  Options o = SmallBlocks(dir.path());
  auto db = OpenDb(o);
  Fill(*db, 50, 0, 5 * kRange, 1000);
  ASSERT_TRUE(db->FlushHead().ok());
  Stats s = db->GetStats();
  ASSERT_EQ(s.blocks, 5);
  ASSERT_TRUE(db->Close().ok());
  o.retention_bytes = s.block_bytes / 5 * 3 + s.wal_bytes;  // room for about three blocks
  db = OpenDb(o);
  ASSERT_TRUE(db->Compact().ok());
  s = db->GetStats();
  EXPECT_LE(s.blocks, 3);
  EXPECT_GE(s.blocks, 2);
  EXPECT_LE(s.block_bytes + s.wal_bytes, o.retention_bytes);
  auto got = SelectAll(*db, {Eq("i", "0")});
  EXPECT_EQ(got[0].samples.back().t, 5 * kRange - 1000);  // the newest data stays
}

TEST(Compaction, RetentionSetWhileOpenAppliesOnTheNextCompaction) {
  TempDir dir;
  FakeClock clock;
  Options o = SmallBlocks(dir.path());
  o.clock = &clock;
  o.retention_time = Duration(0);  // keep forever
  auto db = OpenDb(o);
  int64_t now = ToUnixMillis(clock.WallNow());
  int64_t start = (now / kRange - 6) * kRange;
  Fill(*db, 2, start, start + 6 * kRange, 1000);
  ASSERT_TRUE(db->FlushHead().ok());
  ASSERT_TRUE(db->Compact().ok());
  EXPECT_EQ(SelectAll(*db, {Eq("__name__", "m")})[0].samples.front().t, start);
  db->SetRetention(Duration(3 * kRange), 0);
  ASSERT_TRUE(db->Compact().ok());
  // Whole blocks past the new horizon are gone; nothing inside it is.
  auto got = SelectAll(*db, {Eq("__name__", "m")});
  ASSERT_EQ(got.size(), 2u);
  EXPECT_GT(got[0].samples.front().t, start);
  EXPECT_LE(got[0].samples.front().t, now - 3 * kRange);
  EXPECT_EQ(got[0].samples.back().t, start + 6 * kRange - 1000);
}

TEST(Compaction, DamagedBlockIsReportedAndSkippedNotDeleted) {
  TempDir dir;
  {
    auto db = OpenDb(SmallBlocks(dir.path()));
    Fill(*db, 3, 0, 2 * kRange, 500);
    ASSERT_TRUE(db->FlushHead().ok());
  }
  auto blocks = BlockDirs(dir.path());
  ASSERT_EQ(blocks.size(), 2u);
  {  // flip one byte in the middle of the first block's index
    std::fstream f(blocks[0] + "/index", std::ios::in | std::ios::out | std::ios::binary);
    f.seekg(0, std::ios::end);
    auto size = f.tellg();
    f.seekp(size / 2);
    char c;
    f.seekg(size / 2);
    f.get(c);
    f.seekp(size / 2);
    f.put(static_cast<char>(c ^ 0x5a));
  }
  auto db = OpenDb(SmallBlocks(dir.path()));
  auto errors = db->BlockErrors();
  ASSERT_EQ(errors.size(), 1u);
  EXPECT_EQ(errors[0].code(), StatusCode::kCorruption);
  EXPECT_NE(errors[0].message().find(fs::path(blocks[0]).filename().string()), std::string::npos)
      << errors[0].ToString();
  EXPECT_EQ(db->GetStats().corrupt_blocks, 1);
  EXPECT_EQ(db->GetStats().blocks, 1);
  EXPECT_TRUE(fs::exists(blocks[0] + "/index"));
  auto got = SelectAll(*db, {Eq("i", "1")});  // the healthy block still answers
  EXPECT_EQ(got[0].samples.front().t, kRange);
}

TEST(Compaction, DamagedChunkFailsTheQueryWithCorruptionNamingTheBlock) {
  TempDir dir;
  {
    auto db = OpenDb(SmallBlocks(dir.path()));
    Fill(*db, 1, 0, kRange, 500);
    ASSERT_TRUE(db->FlushHead().ok());
  }
  auto blocks = BlockDirs(dir.path());
  ASSERT_EQ(blocks.size(), 1u);
  {
    std::fstream f(blocks[0] + "/chunks/000001", std::ios::in | std::ios::out | std::ios::binary);
    f.seekp(20);
    f.put('\x7f');
  }
  auto db = OpenDb(SmallBlocks(dir.path()));
  auto r = db->NewQuerier()->Select({Eq("__name__", "m")}, 0, kRange);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), StatusCode::kCorruption);
  EXPECT_NE(r.status().message().find(fs::path(blocks[0]).filename().string()), std::string::npos);
}

TEST(Compaction, LeftoverTemporaryDirectoriesAreRemovedOnOpen) {
  TempDir dir;
  fs::create_directories(dir.Sub("01ARZ3NDEKTSV4RRFFQ69G5FAV.tmp/chunks"));
  fs::create_directories(dir.Sub("wal/checkpoint.00000003.tmp"));
  auto db = OpenDb(SmallBlocks(dir.path()));
  EXPECT_FALSE(fs::exists(dir.Sub("01ARZ3NDEKTSV4RRFFQ69G5FAV.tmp")));
  EXPECT_FALSE(fs::exists(dir.Sub("wal/checkpoint.00000003.tmp")));
}

// Realistic scrapes, shaped like a node_exporter page: a 15 s interval; 40% of the series
// constant (info, sizes, limits), 30% slow counters, 15% busy byte counters, 10% memory-like
// integer gauges, 5% float gauges with two decimals (load averages). Prometheus stores such
// data at 1-2 bytes per sample.
TEST(Compaction, RealisticSeriesNeedFewBytesPerSampleOnDisk) {
  TempDir dir;
  auto db = OpenDb(TestOptions(dir.path()));
  std::mt19937 rng(1);
  const int kSeries = 400;
  const int64_t kStep = 15000, kStart = 1700000000000 / 7200000 * 7200000;
  std::vector<double> value(kSeries, 0);
  for (int i = 0; i < kSeries; ++i) value[i] = rng() % 100000;
  std::vector<SeriesRef> refs(kSeries, 0);
  auto app = db->NewAppender();
  int64_t samples = 0;
  for (int64_t t = kStart; t < kStart + 2 * 7200000; t += kStep) {
    for (int i = 0; i < kSeries; ++i) {
      int kind = i % 20;
      if (kind < 8) {
        // constant
      } else if (kind < 14) {
        if (rng() % 4 == 0) value[i] += rng() % 4;
      } else if (kind < 17) {
        value[i] += rng() % 20000;
      } else if (kind < 19) {
        if (rng() % 2) value[i] += 4096.0 * (static_cast<int>(rng() % 21) - 10);
      } else {
        value[i] = (50 + rng() % 300) / 100.0;
      }
      refs[i] = app->Append(refs[i], Series(i), t, value[i]).value();
      ++samples;
    }
    ASSERT_TRUE(app->Commit().ok());
  }
  ASSERT_TRUE(db->FlushHead().ok());
  ASSERT_TRUE(db->Compact().ok());
  Stats s = db->GetStats();
  EXPECT_EQ(s.block_samples, samples);
  double per_sample = static_cast<double>(s.block_bytes) / static_cast<double>(samples);
  std::printf("[ tsdb ] on disk: %lld samples in %lld bytes = %.3f bytes/sample\n",
              static_cast<long long>(samples), static_cast<long long>(s.block_bytes), per_sample);
  EXPECT_LT(per_sample, 3.0);
}

}  // namespace
}  // namespace steward::tsdb
