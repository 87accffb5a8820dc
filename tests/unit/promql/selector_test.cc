#include "promql/selector.h"

#include <gtest/gtest.h>

#include <utility>

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

TEST(SeriesSelector, EmptyMatchingSelectorIsRejectedLikePrometheusApi) {
  auto ms = ParseSeriesSelector(R"({job=~".*"})");
  ASSERT_FALSE(ms.ok());
  EXPECT_EQ(ms.status().message(), "match[] must contain at least one non-empty matcher");
  EXPECT_TRUE(ParseSeriesSelector(R"({job=~".+"})").ok());
}

// The messages Prometheus 2.42's ParseMetricSelector gives (as /api/v1/labels?match[]= shows).
TEST(SeriesSelector, ErrorsArePrometheusParseErrors) {
  const std::pair<const char*, const char*> kCases[] = {
      {"up{job=}", "1:8: parse error: unexpected \"}\" in label matching, expected string"},
      {R"(up{job~"a"})", "1:7: parse error: unexpected character inside braces: '~'"},
      {"up+1", "1:3: parse error: unexpected <op:+>"},
      {"up[5m]", "1:3: parse error: unexpected \"[\""},
      {"up offset 5m", "1:4: parse error: unexpected <offset>"},
      {"up@100", "1:3: parse error: unexpected \"<Item 57385>\" <op:@>"},
      {"(up)", "1:1: parse error: unexpected \"(\""},
      {"1", "1:1: parse error: unexpected number \"1\""},
      {"", "1:1: parse error: unexpected end of input"},
      {"up{", "1:4: parse error: unexpected end of input inside braces"},
      {R"(up{a=~"("})", "1:4: parse error: error parsing regexp: missing closing ): `^(?:()$`"},
  };
  for (const auto& [input, want] : kCases) {
    auto ms = ParseSeriesSelector(input);
    ASSERT_FALSE(ms.ok()) << input;
    EXPECT_EQ(ms.status().code(), StatusCode::kInvalidArgument) << input;
    EXPECT_EQ(ms.status().message(), want) << input;
  }
}

TEST(SeriesSelector, KeywordsAreMetricNames) {
  auto ms = ParseSeriesSelector("sum");
  ASSERT_TRUE(ms.ok()) << ms.status().ToString();
  EXPECT_EQ(Show(*ms), R"(__name__="sum")");
}

}  // namespace
}  // namespace steward::promql
