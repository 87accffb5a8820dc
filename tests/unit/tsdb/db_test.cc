#include <gtest/gtest.h>

#include <bit>
#include <chrono>
#include <cmath>
#include <filesystem>
#include <thread>

#include "metrics/registry.h"
#include "tsdb/labels.h"
#include "tsdb/tsdb.h"
#include "tsdb_test_util.h"

namespace steward::tsdb {
namespace {

using testing::Eq;
using testing::L;
using testing::Ne;
using testing::Nre;
using testing::OpenDb;
using testing::Re;
using testing::SelectAll;
using testing::TempDir;
using testing::TestOptions;

const Labels kA = L({{"__name__", "up"}, {"job", "api"}, {"instance", "a"}});
const Labels kB = L({{"__name__", "up"}, {"job", "api"}, {"instance", "b"}});
const Labels kC = L({{"__name__", "load"}, {"job", "db"}});

void AppendRange(Db& db, const Labels& labels, int64_t from, int64_t to, int64_t step = 1) {
  auto app = db.NewAppender();
  SeriesRef ref = 0;
  for (int64_t t = from; t < to; t += step) {
    auto r = app->Append(ref, ref ? Labels() : labels, t, static_cast<double>(t));
    ASSERT_TRUE(r.ok()) << r.status().ToString();
    ref = *r;
  }
  auto c = app->Commit();
  ASSERT_TRUE(c.ok()) << c.status().ToString();
}

std::vector<Sample> Ramp(int64_t from, int64_t to, int64_t step = 1) {
  std::vector<Sample> out;
  for (int64_t t = from; t < to; t += step) out.push_back({t, static_cast<double>(t)});
  return out;
}

TEST(Db, CommittedSamplesAreQueryableSortedByLabels) {
  TempDir dir;
  auto db = OpenDb(TestOptions(dir.path()));
  AppendRange(*db, kB, 0, 10);
  AppendRange(*db, kA, 5, 8);
  AppendRange(*db, kC, 0, 3);
  auto got = SelectAll(*db, {Eq("job", "api")});
  ASSERT_EQ(got.size(), 2u);
  EXPECT_EQ(got[0].labels, kA);
  EXPECT_EQ(got[0].samples, Ramp(5, 8));
  EXPECT_EQ(got[1].labels, kB);
  auto ranged = db->NewQuerier()->Select({Eq("instance", "b")}, 3, 5);
  ASSERT_TRUE(ranged.ok());
  EXPECT_EQ((*ranged)[0].samples, Ramp(3, 6));
}

TEST(Db, UncommittedAndRolledBackSamplesAreInvisible) {
  TempDir dir;
  auto db = OpenDb(TestOptions(dir.path()));
  auto app = db->NewAppender();
  ASSERT_TRUE(app->Append(0, kA, 1, 1).ok());
  EXPECT_TRUE(SelectAll(*db, {Eq("job", "api")}).empty());
  app->Rollback();
  EXPECT_TRUE(app->Commit().ok());
  EXPECT_TRUE(SelectAll(*db, {Eq("job", "api")}).empty());
}

TEST(Db, RefFastPathNeedsNoLabels) {
  TempDir dir;
  auto db = OpenDb(TestOptions(dir.path()));
  auto app = db->NewAppender();
  SeriesRef ref = app->Append(0, kA, 1, 1).value();
  EXPECT_EQ(app->Append(ref, Labels(), 2, 2).value(), ref);
  EXPECT_EQ(app->Append(0, kA, 3, 3).value(), ref);  // same labels, same ref
  ASSERT_TRUE(app->Commit().ok());
  EXPECT_EQ(SelectAll(*db, {Eq("instance", "a")})[0].samples.size(), 3u);
  EXPECT_EQ(app->Append(987654, Labels(), 4, 4).status().code(), StatusCode::kNotFound);
}

TEST(Db, InvalidLabelsAreRejected) {
  TempDir dir;
  auto db = OpenDb(TestOptions(dir.path()));
  auto app = db->NewAppender();
  EXPECT_EQ(app->Append(0, Labels(), 1, 1).status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(app->Append(0, L({{"bad-name", "x"}}), 1, 1).status().code(),
            StatusCode::kInvalidArgument);
  EXPECT_EQ(app->Append(0, L({{"__name__", "1up"}}), 1, 1).status().code(),
            StatusCode::kInvalidArgument);
}

TEST(Db, OutOfOrderSamplesAreDroppedPerSeries) {
  TempDir dir;
  auto db = OpenDb(TestOptions(dir.path()));
  AppendRange(*db, kA, 10, 20);
  auto app = db->NewAppender();
  ASSERT_TRUE(app->Append(0, kA, 15, -1).ok());  // older than the last sample
  ASSERT_TRUE(app->Append(0, kA, 19, -1).ok());  // duplicate timestamp
  ASSERT_TRUE(app->Append(0, kB, 15, 15).ok());  // another series: fine
  ASSERT_TRUE(app->Append(0, kA, 20, 20).ok());
  auto c = app->Commit();
  ASSERT_TRUE(c.ok());
  EXPECT_EQ(c->appended, 2);
  EXPECT_EQ(c->out_of_order, 2);
  EXPECT_EQ(SelectAll(*db, {Eq("instance", "a")})[0].samples, Ramp(10, 21));
  EXPECT_EQ(db->GetStats().out_of_order, 2);
}

TEST(Db, SamplesFarBehindTheHeadAreRejected) {
  TempDir dir;
  Options o = TestOptions(dir.path());
  o.block_duration = Duration(1000);
  auto db = OpenDb(o);
  AppendRange(*db, kA, 10000, 10001);
  auto app = db->NewAppender();
  ASSERT_TRUE(app->Append(0, kB, 9000, 1).ok());  // older than max - block_duration/2
  ASSERT_TRUE(app->Append(0, kB, 9600, 1).ok());
  auto c = app->Commit();
  EXPECT_EQ(c->appended, 1);
  EXPECT_EQ(c->out_of_order, 1);
}

TEST(Db, ReopenReplaysTheWalExactly) {
  TempDir dir;
  {
    auto db = OpenDb(TestOptions(dir.path()));
    AppendRange(*db, kA, 0, 500);
    AppendRange(*db, kB, 100, 300, 7);
    auto app = db->NewAppender();
    ASSERT_TRUE(app->Append(0, kC, 5, StaleNaN()).ok());
    ASSERT_TRUE(app->Append(0, kC, 6, std::nan("")).ok());
    ASSERT_TRUE(app->Commit().ok());
    ASSERT_TRUE(db->Close().ok());
  }
  auto db = OpenDb(TestOptions(dir.path()));
  EXPECT_EQ(SelectAll(*db, {Eq("instance", "a")})[0].samples, Ramp(0, 500));
  EXPECT_EQ(SelectAll(*db, {Eq("instance", "b")})[0].samples, Ramp(100, 300, 7));
  auto c = SelectAll(*db, {Eq("job", "db")})[0].samples;
  ASSERT_EQ(c.size(), 2u);
  EXPECT_TRUE(IsStaleNaN(c[0].v));
  EXPECT_TRUE(std::isnan(c[1].v) && !IsStaleNaN(c[1].v));
  // Appending continues after the replayed samples, and refs of new series don't collide.
  AppendRange(*db, kA, 500, 510);
  AppendRange(*db, L({{"__name__", "new"}}), 0, 5);
  EXPECT_EQ(SelectAll(*db, {Eq("instance", "a")})[0].samples, Ramp(0, 510));
  EXPECT_EQ(SelectAll(*db, {Eq("__name__", "new")})[0].samples, Ramp(0, 5));
  EXPECT_EQ(db->GetStats().head_series, 4);
}

TEST(Db, TornWalTailIsCutOnReopen) {
  TempDir dir;
  {
    auto db = OpenDb(TestOptions(dir.path()));
    AppendRange(*db, kA, 0, 100);
    AppendRange(*db, kA, 100, 200);
  }
  // Cut the last record in half, as a crash in the middle of write(2) would.
  std::string last;
  for (const auto& e : std::filesystem::directory_iterator(dir.Sub("wal"))) {
    if (std::filesystem::file_size(e.path()) > 0) last = std::max(last, e.path().string());
  }
  auto size = std::filesystem::file_size(last);
  std::filesystem::resize_file(last, size - 500);
  {
    auto db = OpenDb(TestOptions(dir.path()));
    EXPECT_EQ(SelectAll(*db, {Eq("instance", "a")})[0].samples, Ramp(0, 100));
    AppendRange(*db, kA, 150, 160);
  }
  auto db = OpenDb(TestOptions(dir.path()));
  auto want = Ramp(0, 100);
  for (const Sample& s : Ramp(150, 160)) want.push_back(s);
  EXPECT_EQ(SelectAll(*db, {Eq("instance", "a")})[0].samples, want);
}

TEST(Db, SecondOpenOfTheSameDirectoryIsRefused) {
  TempDir dir;
  auto db = OpenDb(TestOptions(dir.path()));
  auto again = Db::Open(TestOptions(dir.path()));
  ASSERT_FALSE(again.ok());
  EXPECT_EQ(again.status().code(), StatusCode::kAborted);
}

TEST(Db, BackgroundModeSyncsAndStopsPromptlyOnClose) {
  TempDir dir;
  metrics::Registry registry;
  Options o = TestOptions(dir.path());
  o.background = true;
  o.wal_sync_interval = Duration(5);
  o.metrics = &registry;
  auto db = OpenDb(o);
  AppendRange(*db, kA, 0, 100);
  // The background loop refreshes the size gauges after each sync: wait for the WAL's bytes.
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  while (registry.Render().find("steward_tsdb_wal_bytes 0\n") != std::string::npos &&
         std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(2));  // polling, with a deadline
  }
  EXPECT_EQ(registry.Render().find("steward_tsdb_wal_bytes 0\n"), std::string::npos);
  auto start = std::chrono::steady_clock::now();
  ASSERT_TRUE(db->Close().ok());
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(2));
  db.reset();
  db = OpenDb(TestOptions(dir.path()));
  EXPECT_EQ(SelectAll(*db, {Eq("instance", "a")})[0].samples, Ramp(0, 100));
}

TEST(Db, MetricsAreExported) {
  TempDir dir;
  metrics::Registry registry;
  Options o = TestOptions(dir.path());
  o.metrics = &registry;
  auto db = OpenDb(o);
  AppendRange(*db, kA, 0, 10);
  auto app = db->NewAppender();
  ASSERT_TRUE(app->Append(0, kA, 5, 0).ok());
  ASSERT_TRUE(app->Commit().ok());
  ASSERT_TRUE(db->FlushHead().ok());
  ASSERT_TRUE(db->Compact().ok());
  std::string text = registry.Render();
  for (const char* want :
       {"steward_tsdb_head_series 0", "steward_tsdb_head_samples_appended_total 10",
        "steward_tsdb_out_of_order_samples_total 1", "steward_tsdb_write_errors_total 0",
        "steward_tsdb_blocks 1", "steward_tsdb_block_bytes ", "steward_tsdb_wal_bytes ",
        "steward_tsdb_compactions_total 1", "steward_tsdb_compaction_failures_total 0",
        "steward_tsdb_retention_deletions_total 0"}) {
    EXPECT_NE(text.find(want), std::string::npos) << want << "\n" << text;
  }
}

}  // namespace
}  // namespace steward::tsdb
