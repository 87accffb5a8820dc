#include "tsdb/labels.h"

#include <gtest/gtest.h>

#include <bit>
#include <cmath>
#include <set>

namespace steward::tsdb {
namespace {

Labels L(std::vector<Label> v) { return Labels::FromUnsorted(std::move(v)).value(); }

TEST(Labels, FromUnsortedSortsAndDropsEmptyValues) {
  Labels l = L({{"job", "api"}, {"__name__", "up"}, {"env", ""}, {"a", "1"}});
  ASSERT_EQ(l.size(), 3u);
  EXPECT_EQ(l.items()[0].name, "__name__");
  EXPECT_EQ(l.items()[1].name, "a");
  EXPECT_EQ(l.items()[2].name, "job");
  EXPECT_FALSE(l.Has("env"));
  EXPECT_EQ(l.MetricName(), "up");
}

TEST(Labels, FromUnsortedRejectsDuplicateAndEmptyNames) {
  EXPECT_EQ(Labels::FromUnsorted({{"a", "1"}, {"a", "2"}}).status().code(),
            StatusCode::kInvalidArgument);
  EXPECT_EQ(Labels::FromUnsorted({{"", "1"}}).status().code(), StatusCode::kInvalidArgument);
}

TEST(Labels, WithAndWithoutKeepOrder) {
  Labels l = L({{"b", "2"}, {"d", "4"}});
  EXPECT_EQ(l.With("c", "3"), L({{"b", "2"}, {"c", "3"}, {"d", "4"}}));
  EXPECT_EQ(l.With("a", "1").items().front().name, "a");
  EXPECT_EQ(l.With("z", "9").items().back().name, "z");
  EXPECT_EQ(l.With("b", "x").Get("b"), "x");
  EXPECT_EQ(l.With("b", ""), L({{"d", "4"}}));
  EXPECT_EQ(l.Without("d"), L({{"b", "2"}}));
}

TEST(Labels, WithoutOnATemporaryMatchesTheCopyingForm) {
  Labels l = L({{"__name__", "up"}, {"b", "2"}, {"d", "4"}});
  EXPECT_EQ(Labels(l).Without("__name__"), l.Without("__name__"));
  EXPECT_EQ(Labels(l).Without("d"), L({{"__name__", "up"}, {"b", "2"}}));
  EXPECT_EQ(Labels(l).Without("absent"), l);
}

TEST(Labels, ReleaseItemsHandsOverTheSortedPairs) {
  Labels l = L({{"b", "2"}, {"a", "1"}});
  std::vector<Label> items = std::move(l).ReleaseItems();
  ASSERT_EQ(items.size(), 2u);
  EXPECT_EQ(items[0].name, "a");
  EXPECT_EQ(Labels::FromSorted(std::move(items)), L({{"a", "1"}, {"b", "2"}}));
}

TEST(Labels, HashIsStableAndDistinguishesBoundaries) {
  // The hash is persisted nowhere but must not depend on the platform; pin one value.
  EXPECT_EQ(L({{"__name__", "up"}, {"job", "api"}}).Hash(), 0xfdecf87d97deff5dull);
  EXPECT_NE(L({{"a", "bc"}}).Hash(), L({{"ab", "c"}}).Hash());
  EXPECT_NE(L({{"a", "b"}}).Hash(), L({{"a", "b"}, {"c", "d"}}).Hash());
  std::set<uint64_t> seen;
  for (int i = 0; i < 100000; ++i) {
    seen.insert(L({{"__name__", "m"}, {"i", std::to_string(i)}}).Hash());
  }
  EXPECT_EQ(seen.size(), 100000u);
}

TEST(Labels, ToStringMatchesPrometheus) {
  EXPECT_EQ(L({{"__name__", "up"}}).ToString(), "up");
  EXPECT_EQ(L({{"__name__", "up"}, {"job", "a\"b\\c\nd"}, {"x", "y"}}).ToString(),
            "up{job=\"a\\\"b\\\\c\\nd\", x=\"y\"}");
  EXPECT_EQ(L({{"job", "a"}}).ToString(), "{job=\"a\"}");
  EXPECT_EQ(Labels().ToString(), "{}");
}

TEST(Labels, NameValidation) {
  EXPECT_TRUE(IsValidMetricName("http_requests:rate5m"));
  EXPECT_FALSE(IsValidMetricName("1abc"));
  EXPECT_FALSE(IsValidMetricName(""));
  EXPECT_TRUE(IsValidLabelName("_x9"));
  EXPECT_FALSE(IsValidLabelName("a:b"));
  EXPECT_FALSE(IsValidLabelName("a-b"));
}

TEST(Labels, StaleNaNIsOneBitPattern) {
  EXPECT_TRUE(std::isnan(StaleNaN()));
  EXPECT_TRUE(IsStaleNaN(StaleNaN()));
  EXPECT_FALSE(IsStaleNaN(std::nan("")));
  EXPECT_EQ(std::bit_cast<uint64_t>(StaleNaN()), 0x7ff0000000000002ull);
}

}  // namespace
}  // namespace steward::tsdb
