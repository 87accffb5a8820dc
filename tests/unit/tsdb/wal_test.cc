#include "tsdb/wal.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

#include "tsdb_test_util.h"

namespace steward::tsdb {
namespace {

namespace fs = std::filesystem;
using testing::L;
using testing::TempDir;

std::string Record(RecordType type, const std::string& payload) {
  std::string buf;
  size_t start = BeginRecord(&buf, type);
  buf += payload;
  FinishRecord(&buf, start);
  return buf;
}

std::vector<std::string> ReplayAll(const std::string& dir, Wal::ReplayStats* stats = nullptr) {
  auto wal = Wal::Open(dir, 1000);
  EXPECT_TRUE(wal.ok());
  std::vector<std::string> out;
  Wal::ReplayStats local;
  EXPECT_TRUE((*wal)
                  ->Replay(
                      [&](RecordType, std::string_view p) {
                        out.emplace_back(p);
                        return Status::OK();
                      },
                      stats ? stats : &local)
                  .ok());
  return out;
}

std::vector<std::string> Segments(const std::string& dir) {
  std::vector<std::string> out;
  for (const auto& e : fs::directory_iterator(dir)) out.push_back(e.path().filename());
  std::sort(out.begin(), out.end());
  return out;
}

TEST(Wal, RecordsComeBackInOrderAcrossSegments) {
  TempDir dir;
  {
    auto wal = Wal::Open(dir.path(), 1000).value();
    for (int i = 0; i < 50; ++i) {
      ASSERT_TRUE(wal->Log(Record(RecordType::kSamples,
                                  "record " + std::to_string(i) + std::string(80, 'x')))
                      .ok());
    }
    ASSERT_TRUE(wal->Sync().ok());
  }
  EXPECT_GT(Segments(dir.path()).size(), 4u);
  auto got = ReplayAll(dir.path());
  ASSERT_EQ(got.size(), 50u);
  for (int i = 0; i < 50; ++i) EXPECT_TRUE(got[i].starts_with("record " + std::to_string(i) + "x"));
}

TEST(Wal, DamageEndsOnlyItsOwnSegment) {
  TempDir dir;
  {
    auto wal = Wal::Open(dir.path(), 300).value();
    for (int i = 0; i < 6; ++i) {
      ASSERT_TRUE(wal->Log(Record(RecordType::kSeries, std::string(100, 'a' + i))).ok());
    }
  }
  auto segs = Segments(dir.path());
  ASSERT_EQ(segs.size(), 3u);  // two records per segment
  {
    std::fstream f(dir.Sub(segs[0]), std::ios::in | std::ios::out | std::ios::binary);
    f.seekp(150);  // inside the second record of the first segment
    f.put('!');
  }
  Wal::ReplayStats stats;
  auto got = ReplayAll(dir.path(), &stats);
  ASSERT_EQ(got.size(), 5u);
  EXPECT_EQ(got[0][0], 'a');
  EXPECT_EQ(got[1][0], 'c');
  EXPECT_EQ(stats.repaired_bytes, 109);
  EXPECT_EQ(fs::file_size(dir.Sub(segs[0])), 109u);  // cut back to the last good record
}

TEST(Wal, CheckpointKeepsWhatTheFilterKeepsAndDropsOldSegments) {
  TempDir dir;
  {
    auto wal = Wal::Open(dir.path(), 1 << 20).value();
    ASSERT_TRUE(wal->Replay([](RecordType, std::string_view) { return Status::OK(); },
                            std::make_unique<Wal::ReplayStats>().get())
                    .ok());
    for (const char* p : {"keep-1", "drop-1", "keep-2"}) {
      ASSERT_TRUE(wal->Log(Record(RecordType::kSamples, p)).ok());
    }
    ASSERT_TRUE(wal->Checkpoint([](RecordType type, std::string_view p, std::string* out) {
                     if (p.starts_with("keep")) *out += Record(type, std::string(p) + "+");
                   })
                    .ok());
    ASSERT_TRUE(wal->Log(Record(RecordType::kSamples, "after")).ok());
    ASSERT_TRUE(wal->Checkpoint([](RecordType type, std::string_view p, std::string* out) {
                     if (p != "keep-1+") *out += Record(type, std::string(p));
                   })
                    .ok());
  }
  auto segs = Segments(dir.path());
  ASSERT_EQ(segs.size(), 2u) << ::testing::PrintToString(segs);
  EXPECT_TRUE(segs[1].starts_with("checkpoint."));  // after the segment: digits sort first
  EXPECT_EQ(ReplayAll(dir.path()), (std::vector<std::string>{"keep-2+", "after"}));
}

TEST(Wal, SeriesAndSampleRecordsRoundTrip) {
  std::string payload;
  EncodeSeriesEntry(7, L({{"__name__", "up"}, {"job", "x"}}), &payload);
  EncodeSeriesEntry(9, L({{"a", "b"}}), &payload);
  std::vector<RefSeries> series;
  ASSERT_TRUE(DecodeSeries(payload, &series).ok());
  ASSERT_EQ(series.size(), 2u);
  EXPECT_EQ(series[1].ref, 9u);
  EXPECT_EQ(series[0].labels.Get("job"), "x");
  std::vector<RefSample> in = {{5, 1000, 1.5}, {3, 999, -2}, {1000000, 5000, 1e300}};
  payload.clear();
  EncodeSamples(in.data(), in.size(), &payload);
  std::vector<RefSample> out;
  ASSERT_TRUE(DecodeSamples(payload, &out).ok());
  ASSERT_EQ(out.size(), 3u);
  for (size_t i = 0; i < 3; ++i) {
    EXPECT_EQ(out[i].ref, in[i].ref);
    EXPECT_EQ(out[i].t, in[i].t);
    EXPECT_EQ(out[i].v, in[i].v);
  }
  EXPECT_EQ(DecodeSamples(payload.substr(0, payload.size() - 3), &out).code(),
            StatusCode::kCorruption);
}

}  // namespace
}  // namespace steward::tsdb
