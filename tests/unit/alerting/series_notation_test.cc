// The series notation of promtool's input_series: expansion, special values and the errors
// Prometheus 2.42 gives for the same lines (checked against promtool by hand).
#include "alerting/series_notation.h"

#include <gtest/gtest.h>

#include <cmath>

#include "tsdb/labels.h"

namespace steward::alerting {
namespace {

std::vector<double> Values(const std::string& line) {
  auto d = ParseSeriesDesc(line);
  EXPECT_TRUE(d.ok()) << line << ": " << d.status().message();
  std::vector<double> out;
  if (!d.ok()) return out;
  for (const SequenceValue& v : d->values) out.push_back(v.omitted ? -999 : v.value);
  return out;
}

std::string Error(const std::string& line) {
  auto d = ParseSeriesDesc(line);
  EXPECT_FALSE(d.ok()) << line;
  return d.ok() ? "" : d.status().message();
}

TEST(SeriesNotation, ReadsSelectorWithSortedLabels) {
  auto d = ParseSeriesDesc(R"(up{job="api", instance='a:1', empty=""} 1)");
  ASSERT_TRUE(d.ok()) << d.status().message();
  LabelPairs want = {{"__name__", "up"}, {"empty", ""}, {"instance", "a:1"}, {"job", "api"}};
  EXPECT_EQ(d->labels, want);
  EXPECT_EQ(LabelsString(d->labels), R"({__name__="up", empty="", instance="a:1", job="api"})");
}

TEST(SeriesNotation, ExpandsIncreasingDecreasingAndRepeatedValues) {
  EXPECT_EQ(Values("m 0+2x3"), (std::vector<double>{0, 2, 4, 6}));
  EXPECT_EQ(Values("m 10-1.5x2"), (std::vector<double>{10, 8.5, 7}));
  EXPECT_EQ(Values("m 7x2"), (std::vector<double>{7, 7, 7}));
  EXPECT_EQ(Values("m -1+1x2 1e3 .5 +4"), (std::vector<double>{-1, 0, 1, 1000, 0.5, 4}));
  // Go's ParseInt with base 0: a leading 0 is octal; `0x5` is 0 repeated, not hex.
  EXPECT_EQ(Values("m 010"), (std::vector<double>{8}));
  EXPECT_EQ(Values("m 0x5"), (std::vector<double>{0, 0, 0, 0, 0, 0}));
}

TEST(SeriesNotation, BlanksOmitSamplesAndXnOmitsN) {
  EXPECT_EQ(Values("m 1 _ 3"), (std::vector<double>{1, -999, 3}));
  EXPECT_EQ(Values("m _x3 1"), (std::vector<double>{-999, -999, -999, 1}));
  EXPECT_EQ(Values("m"), std::vector<double>{});
}

TEST(SeriesNotation, ReadsStaleInfAndNaN) {
  auto d = ParseSeriesDesc("m stale Inf -inf +Inf NaN nan");
  ASSERT_TRUE(d.ok()) << d.status().message();
  ASSERT_EQ(d->values.size(), 6u);
  EXPECT_TRUE(tsdb::IsStaleNaN(d->values[0].value));
  EXPECT_EQ(d->values[1].value, INFINITY);
  EXPECT_EQ(d->values[2].value, -INFINITY);
  EXPECT_EQ(d->values[3].value, INFINITY);
  EXPECT_TRUE(std::isnan(d->values[4].value) && !tsdb::IsStaleNaN(d->values[4].value));
  EXPECT_TRUE(std::isnan(d->values[5].value));
}

TEST(SeriesNotation, ErrorsAreThePromtoolOnes) {
  const std::string p = R"(up{a="b"} )";
  EXPECT_EQ(Error(p + "1+1"), "1:14: parse error: unexpected end of input in series values");
  EXPECT_EQ(Error(p + "1x"), "1:13: parse error: unexpected end of input in series values");
  EXPECT_EQ(Error(p + "x3"), "1:11: parse error: unexpected \"x\"");
  EXPECT_EQ(Error(p + "foo"),
            "1:11: parse error: unexpected identifier \"foo\" in series values, "
            "expected number or \"stale\"");
  EXPECT_EQ(Error(p + "1e"),
            "1:11: parse error: error parsing number: strconv.ParseFloat: "
            "parsing \"1e\": invalid syntax");
  EXPECT_EQ(Error(p + "1_000"), "1:11: parse error: bad number syntax: \"1\"");
  EXPECT_EQ(Error(p + "1x-2"), "1:13: parse error: unexpected <op:-> in series values");
  EXPECT_EQ(Error(p + "1+-1x2"), "1:13: parse error: unexpected <op:-> in series values");
  EXPECT_EQ(Error(p + "1x2.5"),
            "1:13: parse error: invalid repetition in series values: "
            "strconv.ParseUint: parsing \"2.5\": invalid syntax");
  EXPECT_EQ(Error(p + "Infx2"),
            "1:11: parse error: unexpected identifier \"Infx2\" in series "
            "values, expected number or \"stale\"");
  EXPECT_EQ(Error(p + "1+Infx2"),
            "1:13: parse error: unexpected identifier \"Infx2\" in series values");
  EXPECT_EQ(Error(p + "1+1 3"), "1:14: parse error: unexpected \" \" in series values");
  EXPECT_EQ(Error(p + "1,2"), "1:12: parse error: unexpected character in series sequence: ','");
  EXPECT_EQ(Error(p + "1x3x3"), "1:14: parse error: unexpected \"x\"");
  EXPECT_EQ(Error(p + "_+1x2"), "1:12: parse error: unexpected <op:+>");
  EXPECT_EQ(Error(p + "__"), "1:12: parse error: unexpected \"_\"");
}

TEST(SeriesNotation, BoundsRepetitions) {
  EXPECT_NE(Error("m 1x99999999999").find("too many values"), std::string::npos);
  EXPECT_NE(Error("m _x99999999999").find("too many values"), std::string::npos);
}

TEST(SeriesNotation, ParseMetricAcceptsEmptyAndRejectsBadLabelSets) {
  auto empty = ParseMetric("");
  ASSERT_TRUE(empty.ok());
  EXPECT_TRUE(empty->empty());
  auto braces = ParseMetric(R"({b="2",a="1",})");
  ASSERT_TRUE(braces.ok()) << braces.status().message();
  EXPECT_EQ(LabelsString(*braces), R"({a="1", b="2"})");
  auto bad = ParseMetric("up{a=}");
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.status().message(),
            "1:6: parse error: unexpected \"}\" in label set, expected string");
  EXPECT_FALSE(ParseMetric("up 1").ok());
}

TEST(SeriesNotation, FormatsLikeGo) {
  EXPECT_EQ(FormatFloatE(1), "1E+00");
  EXPECT_EQ(FormatFloatE(6003), "6.003E+03");
  EXPECT_EQ(FormatFloatE(0.0015), "1.5E-03");
  EXPECT_EQ(FormatFloatE(-INFINITY), "-Inf");
  EXPECT_EQ(FormatFloatE(INFINITY), "+Inf");
  EXPECT_EQ(FormatFloatE(NAN), "NaN");
  EXPECT_EQ(GoDurationString(0), "0s");
  EXPECT_EQ(GoDurationString(300'000), "5m0s");
  EXPECT_EQ(GoDurationString(5'400'000), "1h30m0s");
  EXPECT_EQ(GoDurationString(1'500), "1.5s");
  EXPECT_EQ(GoDurationString(250), "250ms");
  EXPECT_EQ(LabelsString({{"a", "x\"y\n"}}), R"({a="x\"y\n"})");
}

}  // namespace
}  // namespace steward::alerting
