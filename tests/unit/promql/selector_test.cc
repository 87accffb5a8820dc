#include "promql/selector.h"

#include <gtest/gtest.h>

namespace steward::promql {
namespace {

std::string Show(const std::vector<tsdb::Matcher>& ms) {
  std::string out;
  for (const auto& m : ms) out += (out.empty() ? "" : ",") + m.ToString();
  return out;
}

TEST(SeriesSelector, MetricNameBecomesNameMatcher) {
  auto ms = ParseSeriesSelector(R"(http_requests_total{job="api",code=~"5.."})");
  ASSERT_TRUE(ms.ok()) << ms.status().ToString();
  ASSERT_EQ(ms->size(), 3u);
  EXPECT_EQ((*ms)[0].name(), "__name__");
  EXPECT_EQ((*ms)[0].value(), "http_requests_total");
  EXPECT_EQ((*ms)[2].type(), tsdb::Matcher::Type::kRegexMatch);
  EXPECT_TRUE((*ms)[2].Matches("503"));
  EXPECT_FALSE((*ms)[2].Matches("1503"));  // anchored like Prometheus
}

TEST(SeriesSelector, BracesOnlyAndTrailingComma) {
  auto ms = ParseSeriesSelector(R"({job="api", instance!="x",})");
  ASSERT_TRUE(ms.ok()) << ms.status().ToString();
  EXPECT_EQ(Show(*ms), R"(job="api",instance!="x")");
}

TEST(SeriesSelector, KeywordsAndSpecialWordsAreLabelNames) {
  EXPECT_TRUE(ParseSeriesSelector(R"({by="a", on="b", inf="c"})").ok());
}

TEST(SeriesSelector, EmptyMatchingSelectorIsRejectedLikePrometheus) {
  auto ms = ParseSeriesSelector(R"({job=~".*"})");
  ASSERT_FALSE(ms.ok());
  EXPECT_NE(ms.status().message().find("at least one non-empty matcher"), std::string::npos);
}

TEST(SeriesSelector, ErrorsNameTheColumnAndWhatWasExpected) {
  auto missing_value = ParseSeriesSelector(R"(up{job=})");
  ASSERT_FALSE(missing_value.ok());
  EXPECT_EQ(missing_value.status().message(),
            "1:8: parse error: unexpected \"}\", expected string in label matching");
  auto bad_op = ParseSeriesSelector(R"(up{job~"a"})");
  ASSERT_FALSE(bad_op.ok());
  EXPECT_NE(bad_op.status().message().find("1:7:"), std::string::npos);
  auto trailing = ParseSeriesSelector("up + 1");
  ASSERT_FALSE(trailing.ok());
  EXPECT_NE(trailing.status().message().find("1:4:"), std::string::npos);
  auto bad_regex = ParseSeriesSelector(R"(up{a=~"("})");
  ASSERT_FALSE(bad_regex.ok());
  EXPECT_NE(bad_regex.status().message().find("1:7:"), std::string::npos);
  EXPECT_FALSE(ParseSeriesSelector("").ok());
  EXPECT_FALSE(ParseSeriesSelector("{").ok());
}

}  // namespace
}  // namespace steward::promql
