// The scrape loop's series cache (against a std::unordered_map model) and the scrape loop over
// a real TSDB whose head forgets series: refs the head garbage-collected are re-resolved with
// labels rebuilt from the body or from the cached series text.
#include "monitor/scrape_cache.h"

#include <gtest/gtest.h>

#include <random>
#include <string>
#include <unordered_map>

#include "monitor/scrape_loop.h"
#include "unit/tsdb/tsdb_test_util.h"

namespace steward::monitor {
namespace {

using tsdb::testing::Eq;
using tsdb::testing::L;
using tsdb::testing::SelectAll;
using tsdb::testing::TempDir;

std::string SeriesText(int i) {
  return "http_requests_total{code=\"" + std::to_string(200 + i % 7) + "\",path=\"/p" +
         std::to_string(i) + "\"}";
}

TEST(ScrapeCache, AgreesWithAHashMapThroughInsertsRemovalsAndCompaction) {
  ScrapeCache cache;
  std::unordered_map<std::string, ScrapeCache::Id> model;
  std::mt19937 rng(7);
  for (int round = 0; round < 40; ++round) {
    // Grow, then shrink hard every few rounds so that text and id compaction both run.
    int inserts = round % 5 == 4 ? 0 : 400;
    for (int k = 0; k < inserts; ++k) {
      std::string text = SeriesText(static_cast<int>(rng() % 5000));
      if (model.count(text)) continue;
      ASSERT_EQ(cache.Find(text), ScrapeCache::kNone) << text;
      ScrapeCache::Id id = cache.Insert(text);
      cache[id].ref = std::hash<std::string>{}(text);
      model[text] = id;
    }
    uint32_t keep_mod = round % 5 == 4 ? 10 : 2;
    cache.RemoveUnless([&](const ScrapeCache::Entry& e) { return e.ref % keep_mod == 0; });
    std::erase_if(
        model, [&](const auto& kv) { return std::hash<std::string>{}(kv.first) % keep_mod != 0; });
    std::vector<ScrapeCache::Id> moved = cache.Compact();
    if (!moved.empty()) {
      for (auto& [text, id] : model) id = moved[id];
    }
    ASSERT_EQ(cache.size(), model.size());
    for (const auto& [text, id] : model) {
      ASSERT_EQ(cache.Find(text), id) << text;
      ASSERT_EQ(cache.Text(id), text);
      ASSERT_EQ(cache[id].ref, std::hash<std::string>{}(text));
    }
    for (int k = 0; k < 50; ++k) {
      std::string text = SeriesText(5000 + k);
      ASSERT_EQ(cache.Find(text), ScrapeCache::kNone);
    }
  }
}

TEST(ScrapeCache, GivesMemoryBackAfterABurstOfSeries) {
  ScrapeCache cache;
  for (int i = 0; i < 20000; ++i) cache.Insert(SeriesText(i));
  size_t big = cache.MemoryBytes();
  cache.RemoveUnless([](const ScrapeCache::Entry&) { return false; });
  for (int i = 0; i < 100; ++i) cache.Insert(SeriesText(i));
  EXPECT_FALSE(cache.Compact().empty());
  EXPECT_LT(cache.MemoryBytes(), big / 50);
  for (int i = 0; i < 100; ++i) EXPECT_NE(cache.Find(SeriesText(i)), ScrapeCache::kNone);
}

std::string Body(int first, int n, double value) {
  std::string body;
  for (int i = first; i < first + n; ++i) {
    body += SeriesText(i) + " " + std::to_string(value) + "\n";
  }
  return body;
}

// Per series: its text (~45 bytes here) and a few dozen bytes of bookkeeping — no labels.
TEST(ScrapeLoop, CacheCostsLittleMoreThanTheSeriesText) {
  TempDir dir;
  auto db = tsdb::testing::OpenDb(tsdb::testing::TestOptions(dir.path()));
  ScrapeLoop loop(db.get(), L({{"job", "j"}, {"instance", "host:9100"}}), false, true);
  FakeClock clock;
  const int kSeries = 10000;
  size_t text = 0;
  for (int i = 0; i < kSeries; ++i) text += SeriesText(i).size();
  for (int k = 1; k <= 3; ++k) {
    ScrapeOutcome o =
        loop.Ingest(Status::OK(), Body(0, kSeries, k), "", k * 1000, &clock, clock.Now());
    ASSERT_TRUE(o.error.ok()) << o.error.ToString();
  }
  double per_series = static_cast<double>(loop.MemoryBytes() - text) / kSeries;
  std::printf("[ scrape ] cache: %.0f bytes/series beyond the series text\n", per_series);
  EXPECT_LT(per_series, 120);
}

int64_t CountStale(const std::vector<tsdb::Sample>& samples) {
  int64_t n = 0;
  for (const auto& s : samples) n += tsdb::IsStaleNaN(s.v);
  return n;
}

TEST(ScrapeLoop, SeriesTheHeadCollectedAreAppendedAgainUnderTheirLabels) {
  TempDir dir;
  auto db = tsdb::testing::OpenDb(tsdb::testing::TestOptions(dir.path()));
  ScrapeLoop loop(db.get(), L({{"job", "j"}}), false, true);
  FakeClock clock;
  const std::string body = "a{x=\"1\"} 1\nb{y=\"esc\\\"aped\"} 2\n";
  ASSERT_TRUE(loop.Ingest(Status::OK(), body, "", 1000, &clock, clock.Now()).error.ok());
  ASSERT_TRUE(db->FlushHead().ok());  // every series leaves the head: the refs name nothing
  ASSERT_EQ(db->GetStats().head_series, 0);
  ScrapeOutcome o = loop.Ingest(Status::OK(), body, "", 2000, &clock, clock.Now());
  ASSERT_TRUE(o.error.ok()) << o.error.ToString();
  EXPECT_EQ(o.committed, 2 + 5);
  EXPECT_EQ(o.series_added, 0);  // the scraper still knows them; only the head had forgotten
  auto a = SelectAll(*db, {Eq("__name__", "a"), Eq("x", "1"), Eq("job", "j")});
  ASSERT_EQ(a.size(), 1u);
  EXPECT_EQ(a[0].samples, (std::vector<tsdb::Sample>{{1000, 1}, {2000, 1}}));
  auto b = SelectAll(*db, {Eq("__name__", "b"), Eq("y", "esc\"aped")});
  ASSERT_EQ(b.size(), 1u);
  EXPECT_EQ(b[0].samples.size(), 2u);
}

TEST(ScrapeLoop, StaleMarkerOfACollectedSeriesUsesTheCachedText) {
  TempDir dir;
  auto db = tsdb::testing::OpenDb(tsdb::testing::TestOptions(dir.path()));
  ScrapeLoop loop(db.get(), L({{"job", "j"}}), false, true);
  FakeClock clock;
  ASSERT_TRUE(loop.Ingest(Status::OK(), "a 1\ngone{k=\"v\",job=\"mine\"} 2\n", "", 1000, &clock,
                          clock.Now())
                  .error.ok());
  ASSERT_TRUE(db->FlushHead().ok());
  ScrapeOutcome o = loop.Ingest(Status::OK(), "a 1\n", "", 2000, &clock, clock.Now());
  ASSERT_TRUE(o.error.ok()) << o.error.ToString();
  EXPECT_EQ(o.stale_markers, 1);
  // The clashing job label is renamed exactly as when the series was first stored.
  auto gone = SelectAll(
      *db, {Eq("__name__", "gone"), Eq("k", "v"), Eq("exported_job", "mine"), Eq("job", "j")});
  ASSERT_EQ(gone.size(), 1u);
  ASSERT_EQ(gone[0].samples.size(), 2u);
  EXPECT_EQ(gone[0].samples[1].t, 2000);
  EXPECT_EQ(CountStale(gone[0].samples), 1);
}

TEST(ScrapeLoop, ChurningTargetKeepsItsCacheSmallAndItsSeriesRight) {
  TempDir dir;
  auto db = tsdb::testing::OpenDb(tsdb::testing::TestOptions(dir.path()));
  ScrapeLoop loop(db.get(), L({{"job", "j"}}), false, true);
  FakeClock clock;
  int64_t ts = 1000;
  // A burst of 5000 series, then a target that exposes 50, shifting by 10 every scrape.
  ASSERT_TRUE(loop.Ingest(Status::OK(), Body(0, 5000, 1), "", ts, &clock, clock.Now()).error.ok());
  size_t burst = loop.MemoryBytes();
  for (int k = 0; k < 20; ++k) {
    ts += 1000;
    ScrapeOutcome o = loop.Ingest(Status::OK(), Body(10 * k, 50, k), "", ts, &clock, clock.Now());
    ASSERT_TRUE(o.error.ok()) << o.error.ToString();
    EXPECT_EQ(o.stale_markers, k == 0 ? 4950 : 10);
  }
  EXPECT_EQ(loop.cached_series(), 50u);
  EXPECT_LT(loop.MemoryBytes(), burst / 10);
  // Series 195 was in the burst, left at k = 0 (stale) and came back for k = 15..19; series
  // 200 the same, back for k = 16..19.
  auto values = [&](int i) {
    auto got = SelectAll(
        *db, {Eq("__name__", "http_requests_total"), Eq("path", "/p" + std::to_string(i))});
    EXPECT_EQ(got.size(), 1u);
    return got.empty() ? std::vector<tsdb::Sample>{} : got[0].samples;
  };
  std::vector<tsdb::Sample> s195 = values(195);
  ASSERT_EQ(s195.size(), 1u + 1 + 5);
  EXPECT_TRUE(tsdb::IsStaleNaN(s195[1].v));
  EXPECT_EQ(s195.back().v, 19);
  EXPECT_EQ(values(200).size(), 1u + 1 + 4);
}

}  // namespace
}  // namespace steward::monitor
