// The value rules of rule files, one at a time.
#include "alerting/rule_checks.h"

#include <gtest/gtest.h>

namespace steward::alerting::internal {
namespace {

TEST(RuleChecks, MetricAndLabelNamesFollowPrometheus) {
  EXPECT_TRUE(IsValidMetricName("job:up:sum"));
  EXPECT_TRUE(IsValidMetricName("_x1"));
  EXPECT_FALSE(IsValidMetricName("1x"));
  EXPECT_FALSE(IsValidMetricName("a-b"));
  EXPECT_FALSE(IsValidMetricName(""));
  EXPECT_TRUE(IsValidLabelName("__meta"));
  EXPECT_FALSE(IsValidLabelName("a:b"));
  EXPECT_FALSE(IsValidLabelName("0a"));
}

TEST(RuleChecks, Utf8RejectsBrokenAndOverlongSequences) {
  EXPECT_TRUE(IsValidUtf8("plain"));
  EXPECT_TRUE(IsValidUtf8("h\xc3\xa9 \xe2\x82\xac \xf0\x9f\x94\xa5"));
  EXPECT_FALSE(IsValidUtf8("\xc3"));
  EXPECT_FALSE(IsValidUtf8("\xc0\xaf"));      // overlong '/'
  EXPECT_FALSE(IsValidUtf8("\xed\xa0\x80"));  // surrogate
  EXPECT_FALSE(IsValidUtf8("\xff"));
}

TEST(RuleChecks, SplitsParserPositionFromMessage) {
  PositionedMessage m = SplitParseError("1:12: parse error: unclosed left parenthesis");
  EXPECT_EQ(m.line, 1);
  EXPECT_EQ(m.column, 12);
  EXPECT_EQ(m.text, "unclosed left parenthesis");
  PositionedMessage bare = SplitParseError("query has more than 100000 tokens");
  EXPECT_EQ(bare.line, 0);
  EXPECT_EQ(bare.text, "query has more than 100000 tokens");
}

TEST(RuleChecks, MapsValuePositionsOfEveryScalarStyle) {
  struct Case {
    std::vector<std::string_view> lines;
    int line0, col0, line, col;
    std::pair<int, int> want;
  };
  const Case cases[] = {
      {{"    expr: rate(x"}, 0, 10, 1, 6, {1, 16}},      // plain
      {{"    expr: \"rate(x\""}, 0, 10, 1, 6, {1, 17}},  // double-quoted
      {{"    expr: 'rate(x'"}, 0, 10, 1, 1, {1, 12}},    // single-quoted
      {{"    expr: |", "      sum(x)", "        by (a) +"}, 0, 10, 2, 12, {3, 18}},  // literal
      {{"    expr: >", "      sum(x)", "      + y"}, 0, 10, 1, 10, {3, 9}},          // folded
      {{"    expr: sum(x)", "      + y"}, 0, 10, 1, 8, {2, 7}},  // plain, two lines
      {{"    expr: x"}, 0, 10, 3, 1, {1, 11}},                   // unsure: the value
  };
  for (const Case& c : cases) {
    EXPECT_EQ(MapValuePosition(c.lines, c.line0, c.col0, c.line, c.col), c.want)
        << c.lines[0] << " " << c.line << ":" << c.col;
  }
}

}  // namespace
}  // namespace steward::alerting::internal
