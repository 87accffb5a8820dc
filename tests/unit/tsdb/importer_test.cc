// The backfill importer: OpenMetrics text (promtool's input) into 2 h blocks a Db then reads.
#include "tsdb/importer.h"

#include <gtest/gtest.h>

#include <signal.h>
#include <sys/resource.h>

#include <cmath>
#include <filesystem>
#include <string>

#include "tsdb/block.h"
#include "tsdb/file_util.h"
#include "unit/tsdb/tsdb_test_util.h"

namespace steward::tsdb {
namespace {

using testing::Eq;
using testing::OpenDb;
using testing::Re;
using testing::SelectAll;
using testing::TempDir;
using testing::TestOptions;

constexpr int64_t kHour = 3600 * 1000;
constexpr int64_t kBase = 1700000000000;  // not on a 2 h boundary

std::vector<std::string> BlockDirs(const std::string& dir) {
  auto names = ListDir(dir);
  EXPECT_TRUE(names.ok()) << names.status().ToString();
  std::vector<std::string> out;
  if (!names.ok()) return out;
  for (const auto& n : *names)
    if (LooksLikeUlid(n)) out.push_back(n);
  return out;
}

// A counter sampled every 15 s for `hours`, two series, plus a gauge — in promtool's layout.
std::string CounterFile(double hours) {
  std::string out = "# HELP http_requests Requests.\n# TYPE http_requests counter\n";
  int n = static_cast<int>(hours * 240);
  for (const char* code : {"200", "500"})
    for (int i = 0; i < n; ++i)
      out += "http_requests_total{code=\"" + std::string(code) + "\"} " + std::to_string(i * 2) +
             " " + std::to_string((kBase + i * 15000) / 1000) + "\n";
  out += "# TYPE temp gauge\ntemp 21.5 " + std::to_string(kBase / 1000) + ".25\n# EOF\n";
  return out;
}

ImportOptions Opts(const std::string& dir) {
  ImportOptions o;
  o.dir = dir;
  return o;
}

TEST(Importer, WritesOneBlockPerTwoHourWindowAndTheDbReadsEverySample) {
  TempDir tmp;
  auto sum = ImportOpenMetrics(CounterFile(5), Opts(tmp.path()));
  ASSERT_TRUE(sum.ok()) << sum.status().ToString();
  EXPECT_EQ(sum->series, 3);
  EXPECT_EQ(sum->samples, 2 * 5 * 240 + 1);
  EXPECT_EQ(sum->min_time, kBase);
  EXPECT_EQ(sum->max_time, kBase + (5 * 240 - 1) * 15000);
  // 5 h starting inside a window touch 3 or 4 aligned 2 h windows.
  int64_t first = kBase / (2 * kHour), last = sum->max_time / (2 * kHour);
  EXPECT_EQ(static_cast<int64_t>(sum->blocks.size()), last - first + 1);
  EXPECT_EQ(BlockDirs(tmp.path()).size(), sum->blocks.size());
  for (const auto& id : sum->blocks) {
    auto b = Block::Open(tmp.path() + "/" + id);
    ASSERT_TRUE(b.ok()) << b.status().ToString();
    EXPECT_EQ(b->get()->meta().min_time / (2 * kHour),
              (b->get()->meta().max_time - 1) / (2 * kHour))
        << "a block crosses a 2 h boundary";
  }

  auto db = OpenDb(TestOptions(tmp.path()));
  ASSERT_TRUE(db);
  auto got = SelectAll(*db, {Eq("__name__", "http_requests_total")});
  ASSERT_EQ(got.size(), 2u);
  EXPECT_EQ(got[0].labels.Get("code"), "200");
  ASSERT_EQ(got[0].samples.size(), 5u * 240);
  for (size_t i = 0; i < got[0].samples.size(); ++i) {
    EXPECT_EQ(got[0].samples[i].t, kBase + static_cast<int64_t>(i) * 15000);
    EXPECT_EQ(got[0].samples[i].v, static_cast<double>(i * 2));
  }
  auto temp = SelectAll(*db, {Eq("__name__", "temp")});
  ASSERT_EQ(temp.size(), 1u);
  ASSERT_EQ(temp[0].samples.size(), 1u);
  EXPECT_EQ(temp[0].samples[0].t, kBase + 250) << "seconds with a fraction become ms";
  EXPECT_EQ(temp[0].samples[0].v, 21.5);
}

TEST(Importer, KeepsHistogramSeriesAndSpecialValues) {
  TempDir tmp;
  std::string text =
      "# TYPE lat histogram\n"
      "lat_bucket{le=\"0.1\"} 1 100\nlat_bucket{le=\"+Inf\"} 3 100\n"
      "lat_count 3 100\nlat_sum 0.5 100\n"
      "lat_bucket{le=\"0.1\"} 2 160\nlat_bucket{le=\"+Inf\"} 5 160\n"
      "lat_count 5 160\nlat_sum 0.9 160\n"
      "# TYPE odd gauge\nodd NaN 100\nodd +Inf 160\nodd -Inf 220\n# EOF\n";
  auto sum = ImportOpenMetrics(text, Opts(tmp.path()));
  ASSERT_TRUE(sum.ok()) << sum.status().ToString();
  EXPECT_EQ(sum->series, 5);
  auto db = OpenDb(TestOptions(tmp.path()));
  ASSERT_TRUE(db);
  auto buckets = SelectAll(*db, {Eq("__name__", "lat_bucket")});
  ASSERT_EQ(buckets.size(), 2u);
  EXPECT_EQ(buckets[1].labels.Get("le"), "0.1");
  EXPECT_EQ(buckets[0].samples.back().v, 5);
  auto odd = SelectAll(*db, {Eq("__name__", "odd")});
  ASSERT_EQ(odd.size(), 1u);
  ASSERT_EQ(odd[0].samples.size(), 3u);
  EXPECT_TRUE(std::isnan(odd[0].samples[0].v));
  EXPECT_EQ(odd[0].samples[1].v, INFINITY);
  EXPECT_EQ(odd[0].samples[2].v, -INFINITY);
}

TEST(Importer, OutOfOrderSampleFailsNamingTheLineAndWritesNothing) {
  TempDir tmp;
  std::string text = "# TYPE g gauge\ng 1 200\ng 2 300\ng 3 250\n# EOF\n";
  auto sum = ImportOpenMetrics(text, Opts(tmp.path()), "data.om");
  ASSERT_FALSE(sum.ok());
  EXPECT_EQ(sum.status().code(), StatusCode::kInvalidArgument);
  EXPECT_NE(sum.status().message().find("data.om"), std::string::npos) << sum.status().message();
  EXPECT_NE(sum.status().message().find("line 4"), std::string::npos) << sum.status().message();
  EXPECT_NE(sum.status().message().find("out of order"), std::string::npos);
  EXPECT_NE(sum.status().message().find("line 3"), std::string::npos)
      << "names the previous sample's line: " << sum.status().message();
  EXPECT_TRUE(BlockDirs(tmp.path()).empty());
}

TEST(Importer, SampleWithoutTimestampFailsNamingTheLine) {
  TempDir tmp;
  auto sum = ImportOpenMetrics("# TYPE g gauge\ng 1 200\ng 2\n# EOF\n", Opts(tmp.path()));
  ASSERT_FALSE(sum.ok());
  EXPECT_NE(sum.status().message().find("line 3"), std::string::npos) << sum.status().message();
  EXPECT_NE(sum.status().message().find("no timestamp"), std::string::npos);
  EXPECT_TRUE(BlockDirs(tmp.path()).empty());
}

TEST(Importer, MissingEofAndMalformedLinesFailWithTheParsersLine) {
  TempDir tmp;
  auto no_eof = ImportOpenMetrics("g 1 200\n", Opts(tmp.path()));
  ASSERT_FALSE(no_eof.ok());
  EXPECT_NE(no_eof.status().message().find("# EOF"), std::string::npos)
      << no_eof.status().message();
  auto bad = ImportOpenMetrics("g 1 200\ng{a=} 2 300\n# EOF\n", Opts(tmp.path()));
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.status().message().find("line 2"), std::string::npos) << bad.status().message();
  EXPECT_TRUE(BlockDirs(tmp.path()).empty());
}

TEST(Importer, RepeatedSampleWithSameValueIsSkippedAnotherValueIsAnError) {
  TempDir tmp;
  auto same = ImportOpenMetrics("g 1 200\ng 1 200\ng 2 260\n# EOF\n", Opts(tmp.Sub("a")));
  ASSERT_TRUE(same.ok()) << same.status().ToString();
  EXPECT_EQ(same->samples, 2);
  EXPECT_EQ(same->duplicates, 1);
  auto differ = ImportOpenMetrics("g 1 200\ng 5 200\n# EOF\n", Opts(tmp.Sub("b")));
  ASSERT_FALSE(differ.ok());
  EXPECT_NE(differ.status().message().find("duplicate sample"), std::string::npos)
      << differ.status().message();
  EXPECT_NE(differ.status().message().find("line 2"), std::string::npos);
}

TEST(Importer, SeriesWrittenWithDifferentLabelOrderAreOneSeries) {
  TempDir tmp;
  auto sum = ImportOpenMetrics("g{a=\"1\",b=\"2\"} 1 200\ng{b=\"2\",a=\"1\"} 2 260\n# EOF\n",
                               Opts(tmp.path()));
  ASSERT_TRUE(sum.ok()) << sum.status().ToString();
  EXPECT_EQ(sum->series, 1);
  EXPECT_EQ(sum->samples, 2);
}

TEST(Importer, RefusesWhileADbHasTheDirectoryOpen) {
  TempDir tmp;
  auto db = OpenDb(TestOptions(tmp.path()));
  ASSERT_TRUE(db);
  auto sum = ImportOpenMetrics("g 1 200\n# EOF\n", Opts(tmp.path()));
  ASSERT_FALSE(sum.ok());
  EXPECT_EQ(sum.status().code(), StatusCode::kFailedPrecondition);
  EXPECT_NE(sum.status().message().find("steward down"), std::string::npos);
  db.reset();
  EXPECT_TRUE(ImportOpenMetrics("g 1 200\n# EOF\n", Opts(tmp.path())).ok());
}

TEST(Importer, ImportedBlocksMergeWithDataAlreadyStored) {
  TempDir tmp;
  {
    auto db = OpenDb(TestOptions(tmp.path()));
    ASSERT_TRUE(db);
    auto app = db->NewAppender();
    ASSERT_TRUE(app->Append(0, testing::L({{"__name__", "g"}}), 10 * kHour, 7).ok());
    ASSERT_TRUE(app->Commit().ok());
    ASSERT_TRUE(db->FlushHead().ok());
  }
  auto sum = ImportOpenMetrics("g 1 3600\ng 2 7200\n# EOF\n", Opts(tmp.path()));
  ASSERT_TRUE(sum.ok()) << sum.status().ToString();
  auto db = OpenDb(TestOptions(tmp.path()));
  ASSERT_TRUE(db);
  auto got = SelectAll(*db, {Re("__name__", "g")});
  ASSERT_EQ(got.size(), 1u);
  ASSERT_EQ(got[0].samples.size(), 3u);
  EXPECT_EQ(got[0].samples[0].t, kHour);
  EXPECT_EQ(got[0].samples[2].v, 7);
}

TEST(Importer, FileErrorsNameThePath) {
  TempDir tmp;
  auto sum = ImportOpenMetricsFile(tmp.Sub("missing.om"), Opts(tmp.Sub("db")));
  ASSERT_FALSE(sum.ok());
  EXPECT_NE(sum.status().message().find("missing.om"), std::string::npos);
}


// Writes beyond `bytes` fail with EFBIG while it lives: a disk that fills up mid-import.
class FileSizeLimit {
 public:
  FileSizeLimit() {
    getrlimit(RLIMIT_FSIZE, &saved_);
    old_handler_ = signal(SIGXFSZ, SIG_IGN);
  }
  void Set(rlim_t bytes) {
    rlimit rl = saved_;
    rl.rlim_cur = bytes;
    setrlimit(RLIMIT_FSIZE, &rl);
  }
  ~FileSizeLimit() {
    setrlimit(RLIMIT_FSIZE, &saved_);
    signal(SIGXFSZ, old_handler_);
  }

 private:
  rlimit saved_{};
  sighandler_t old_handler_ = nullptr;
};

TEST(Importer, WriteFailureAfterSomeBlocksSaysWhatWasWrittenAndImportingAgainIsSafe) {
  TempDir tmp;
  const std::string text = CounterFile(5);
  ImportOptions o = Opts(tmp.path());
  std::vector<std::string> seen;
  {
    FileSizeLimit limit;
    o.on_block = [&](const std::string& ulid, int64_t, int64_t) {
      seen.push_back(ulid);
      limit.Set(1);  // the next block cannot be written
    };
    auto sum = ImportOpenMetrics(text, o);
    ASSERT_FALSE(sum.ok());
    const std::string& msg = sum.status().message();
    ASSERT_EQ(seen.size(), 1u);
    EXPECT_NE(msg.find("wrote 1 of "), std::string::npos) << msg;
    EXPECT_NE(msg.find(seen[0]), std::string::npos) << msg;
    EXPECT_NE(msg.find("importing the same file again is safe"), std::string::npos) << msg;
  }
  EXPECT_EQ(BlockDirs(tmp.path()), seen) << "the written block stays, no temporary one";
  o.on_block = nullptr;
  auto again = ImportOpenMetrics(text, o);
  ASSERT_TRUE(again.ok()) << again.status().ToString();
  auto db = OpenDb(TestOptions(tmp.path()));
  ASSERT_TRUE(db);
  ASSERT_TRUE(db->Compact().ok());  // merges the overlapping blocks
  auto got = SelectAll(*db, {Eq("__name__", "http_requests_total")});
  ASSERT_EQ(got.size(), 2u);
  ASSERT_EQ(got[0].samples.size(), 5u * 240) << "each sample once";
  for (size_t i = 1; i < got[0].samples.size(); ++i)
    ASSERT_GT(got[0].samples[i].t, got[0].samples[i - 1].t);
}

TEST(Importer, FailedImportIntoANewDirectoryLeavesNothingBehind) {
  TempDir tmp;
  auto bad = ImportOpenMetrics("g 1 200\ng 2 100\n# EOF\n", Opts(tmp.Sub("new")));
  ASSERT_FALSE(bad.ok());
  EXPECT_FALSE(std::filesystem::exists(tmp.Sub("new")));
  FileSizeLimit limit;
  limit.Set(1);
  auto full = ImportOpenMetrics("g 1 200\n# EOF\n", Opts(tmp.Sub("full")));
  ASSERT_FALSE(full.ok());
  EXPECT_FALSE(std::filesystem::exists(tmp.Sub("full"))) << full.status().ToString();
}

TEST(Importer, TimestampsNearTheEndsOfTheRangeAreKept) {
  TempDir tmp;
  // ±9e15 s is ±9e18 ms, just inside int64.
  auto sum = ImportOpenMetrics("g 1 -9000000000000000\ng 2 0\ng 3 9000000000000000\n# EOF\n",
                               Opts(tmp.path()));
  ASSERT_TRUE(sum.ok()) << sum.status().ToString();
  EXPECT_EQ(sum->min_time, -9'000'000'000'000'000'000);
  EXPECT_EQ(sum->max_time, 9'000'000'000'000'000'000);
  EXPECT_EQ(sum->blocks.size(), 3u);
  auto db = OpenDb(TestOptions(tmp.path()));
  ASSERT_TRUE(db);
  auto got = SelectAll(*db, {Eq("__name__", "g")});
  ASSERT_EQ(got.size(), 1u);
  ASSERT_EQ(got[0].samples.size(), 3u);
  EXPECT_EQ(got[0].samples[0].t, -9'000'000'000'000'000'000);
  EXPECT_EQ(got[0].samples[2].t, 9'000'000'000'000'000'000);
  // Beyond int64 milliseconds: an error naming the line, nothing written.
  auto over = ImportOpenMetrics("g 1 200\ng 2 9300000000000000\n# EOF\n", Opts(tmp.Sub("o")));
  ASSERT_FALSE(over.ok());
  EXPECT_NE(over.status().message().find("line 2"), std::string::npos) << over.status().message();
}

TEST(Importer, SamplesOlderThanTheRetentionHorizonAreRefusedBeforeWriting) {
  TempDir tmp;
  ImportOptions o = Opts(tmp.path());
  o.retention_horizon_ms = 150'000;
  auto old = ImportOpenMetrics("g 1 100\ng 2 200\n# EOF\n", o, "old.om");
  ASSERT_FALSE(old.ok());
  EXPECT_EQ(old.status().code(), StatusCode::kFailedPrecondition);
  EXPECT_NE(old.status().message().find("old.om: samples from 1970-01-01T00:01:40.000Z"), std::string::npos)
      << old.status().message();
  EXPECT_NE(old.status().message().find("retention"), std::string::npos);
  EXPECT_TRUE(BlockDirs(tmp.path()).empty());
  EXPECT_TRUE(ImportOpenMetrics("g 1 150\ng 2 200\n# EOF\n", o).ok());
}

}  // namespace
}  // namespace steward::tsdb
