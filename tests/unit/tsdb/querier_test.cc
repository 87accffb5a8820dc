#include <gtest/gtest.h>

#include <algorithm>

#include "tsdb/postings.h"
#include "tsdb/tsdb.h"
#include "tsdb_test_util.h"

namespace steward::tsdb {
namespace {

using testing::Eq;
using testing::kMaxT;
using testing::kMinT;
using testing::L;
using testing::Ne;
using testing::Nre;
using testing::OpenDb;
using testing::Re;
using testing::TempDir;
using testing::TestOptions;
using Strings = std::vector<std::string>;

// Parameter: whether the data was persisted into blocks (true) or is still in the head.
class QuerierTest : public ::testing::TestWithParam<bool> {
 protected:
  void SetUp() override {
    Options o = TestOptions(dir_.path());
    o.block_duration = Duration(1000);
    db_ = OpenDb(o);
    Add(L({{"__name__", "up"}, {"job", "api"}, {"instance", "a"}}), 100);
    Add(L({{"__name__", "up"}, {"job", "api"}, {"instance", "b"}, {"env", "prod"}}), 200);
    Add(L({{"__name__", "up"}, {"job", "db"}, {"instance", "c"}, {"env", "dev"}}), 300);
    Add(L({{"__name__", "http_requests_total"}, {"job", "api"}, {"code", "500"}}), 400);
    if (GetParam()) {
      ASSERT_TRUE(db_->FlushHead().ok());
    }
  }

  void Add(const Labels& labels, int64_t t) {
    auto app = db_->NewAppender();
    ASSERT_TRUE(app->Append(0, labels, t, 1).ok());
    ASSERT_TRUE(app->Append(0, labels, t + 10, 2).ok());
    ASSERT_TRUE(app->Commit().ok());
  }

  // The instance label (or code for the http series) of every series matched, sorted.
  Strings Match(const std::vector<Matcher>& m, int64_t mint = kMinT, int64_t maxt = kMaxT) {
    auto r = db_->NewQuerier()->SeriesLabels(m, mint, maxt);
    EXPECT_TRUE(r.ok()) << r.status().ToString();
    Strings out;
    if (!r.ok()) return out;
    for (const Labels& l : *r)
      out.emplace_back(l.Has("instance") ? l.Get("instance") : l.Get("code"));
    std::sort(out.begin(), out.end());  // label order is checked in db_test
    return out;
  }

  TempDir dir_;
  std::unique_ptr<Db> db_;
};

TEST_P(QuerierTest, MatchersSelectLikePrometheus) {
  EXPECT_EQ(Match({Eq("job", "api")}), (Strings{"500", "a", "b"}));
  EXPECT_EQ(Match({Eq("__name__", "up"), Ne("job", "api")}), (Strings{"c"}));
  EXPECT_EQ(Match({Re("instance", "a|c")}), (Strings{"a", "c"}));
  EXPECT_EQ(Match({Eq("__name__", "up"), Nre("instance", "a|b")}), (Strings{"c"}));
  // A matcher that accepts "" also selects series without the label.
  EXPECT_EQ(Match({Eq("__name__", "up"), Eq("env", "")}), (Strings{"a"}));
  EXPECT_EQ(Match({Eq("__name__", "up"), Re("env", "prod|")}), (Strings{"a", "b"}));
  EXPECT_EQ(Match({Eq("__name__", "up"), Ne("env", "prod")}), (Strings{"a", "c"}));
  EXPECT_EQ(Match({Eq("job", "nope")}), Strings{});
  EXPECT_EQ(Match({Re("instance", "a")}), (Strings{"a"}));  // anchored: "a" only
}

TEST_P(QuerierTest, TimeRangeLimitsSeriesAndSamples) {
  EXPECT_EQ(Match({Eq("__name__", "up")}, 150, 250), (Strings{"b"}));
  EXPECT_EQ(Match({Eq("__name__", "up")}, 305, 305), (Strings{"c"}));
  auto r = db_->NewQuerier()->Select({Eq("instance", "c")}, 305, 1000);
  ASSERT_TRUE(r.ok());
  ASSERT_EQ(r->size(), 1u);
  EXPECT_EQ((*r)[0].samples, (std::vector<Sample>{{310, 2}}));
}

TEST_P(QuerierTest, SelectorsThatMatchEverythingAreRejected) {
  auto q = db_->NewQuerier();
  for (const auto& m : std::vector<std::vector<Matcher>>{
           {}, {Re("job", ".*")}, {Eq("env", "")}, {Nre("job", "x"), Ne("a", "b")}}) {
    auto r = q->Select(m, kMinT, kMaxT);
    ASSERT_FALSE(r.ok());
    EXPECT_EQ(r.status().code(), StatusCode::kInvalidArgument);
    EXPECT_EQ(q->SeriesLabels(m, kMinT, kMaxT).status().code(), StatusCode::kInvalidArgument);
  }
  EXPECT_TRUE(q->Select({Re("job", ".+")}, kMinT, kMaxT).ok());
}

TEST_P(QuerierTest, MaxSamplesBoundsTheQuery) {
  auto q = db_->NewQuerier();
  EXPECT_TRUE(q->Select({Eq("__name__", "up")}, kMinT, kMaxT, 6).ok());
  auto r = q->Select({Eq("__name__", "up")}, kMinT, kMaxT, 5);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), StatusCode::kFailedPrecondition);
}

TEST_P(QuerierTest, LabelNamesAndValues) {
  auto q = db_->NewQuerier();
  EXPECT_EQ(q->LabelNames({}, kMinT, kMaxT).value(),
            (Strings{"__name__", "code", "env", "instance", "job"}));
  EXPECT_EQ(q->LabelNames({Eq("job", "db")}, kMinT, kMaxT).value(),
            (Strings{"__name__", "env", "instance", "job"}));
  EXPECT_EQ(q->LabelValues("job", {}, kMinT, kMaxT).value(), (Strings{"api", "db"}));
  EXPECT_EQ(q->LabelValues("instance", {Eq("job", "api")}, kMinT, kMaxT).value(),
            (Strings{"a", "b"}));
  EXPECT_EQ(q->LabelValues("nope", {}, kMinT, kMaxT).value(), Strings{});
  EXPECT_EQ(q->LabelValues("job", {Re("job", ".*")}, kMinT, kMaxT).status().code(),
            StatusCode::kInvalidArgument);
  EXPECT_EQ(q->LabelValues("job", {}, 5000, 6000).value(), Strings{});  // no data then
}

INSTANTIATE_TEST_SUITE_P(HeadAndBlocks, QuerierTest, ::testing::Bool(),
                         [](const auto& info) { return info.param ? "Blocks" : "Head"; });

TEST(Querier, HeadAndBlockDataAreMergedPerSeries) {
  TempDir dir;
  Options o = TestOptions(dir.path());
  o.block_duration = Duration(1000);
  auto db = OpenDb(o);
  Labels l = L({{"__name__", "x"}});
  auto app = db->NewAppender();
  for (int t = 0; t < 500; t += 10) ASSERT_TRUE(app->Append(0, l, t, t).ok());
  ASSERT_TRUE(app->Commit().ok());
  ASSERT_TRUE(db->FlushHead().ok());
  for (int t = 500; t < 900; t += 10) ASSERT_TRUE(app->Append(0, l, t, t).ok());
  ASSERT_TRUE(app->Commit().ok());
  auto got = testing::SelectAll(*db, {Eq("__name__", "x")});
  ASSERT_EQ(got.size(), 1u);
  ASSERT_EQ(got[0].samples.size(), 90u);
  for (size_t i = 0; i < 90; ++i) EXPECT_EQ(got[0].samples[i].t, static_cast<int64_t>(i) * 10);
}

TEST(Querier, SeriesOfSeveralSourcesComeOutSortedAndMerged) {
  TempDir dir;
  Options o = TestOptions(dir.path());
  o.block_duration = Duration(1000);
  auto db = OpenDb(o);
  auto app = db->NewAppender();
  auto add = [&](const char* name, int t) {
    ASSERT_TRUE(app->Append(0, L({{"__name__", "m"}, {"s", name}}), t, t).ok());
  };
  for (const char* name : {"c", "a"}) add(name, 100);
  ASSERT_TRUE(app->Commit().ok());
  ASSERT_TRUE(db->FlushHead().ok());
  for (const char* name : {"d", "c", "b"}) add(name, 600);
  ASSERT_TRUE(app->Commit().ok());
  auto got = testing::SelectAll(*db, {Eq("__name__", "m")});
  ASSERT_EQ(got.size(), 4u);
  const char* want[] = {"a", "b", "c", "d"};
  for (size_t i = 0; i < 4; ++i) EXPECT_EQ(got[i].labels.Get("s"), want[i]);
  ASSERT_EQ(got[2].samples.size(), 2u);
  EXPECT_EQ(got[2].samples[0].t, 100);
  EXPECT_EQ(got[2].samples[1].t, 600);
}

TEST(Postings, SetOperations) {
  EXPECT_EQ(Intersect({1, 3, 5, 7}, {3, 4, 5}), (Postings{3, 5}));
  EXPECT_EQ(Subtract({1, 3, 5, 7}, {3, 4, 5}), (Postings{1, 7}));
  EXPECT_EQ(Union({{5, 9}, {1, 5}, {}, {2}}), (Postings{1, 2, 5, 9}));
}

}  // namespace
}  // namespace steward::tsdb
