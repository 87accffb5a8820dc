// The OpenMetrics basics and the automatic format detection.
#include <gtest/gtest.h>

#include <string>

#include "monitor/exposition.h"

namespace steward::monitor {
namespace {

ParseResult ParseOk(std::string_view body, Format format = Format::kOpenMetrics) {
  StatusOr<ParseResult> r = Parse(body, format);
  EXPECT_TRUE(r.ok()) << r.status().ToString();
  return r.ok() ? std::move(r).value() : ParseResult{};
}

std::string ParseError(std::string_view body, Format format = Format::kOpenMetrics) {
  StatusOr<ParseResult> r = Parse(body, format);
  EXPECT_FALSE(r.ok()) << "parsed: " << body;
  return r.ok() ? "" : r.status().message();
}

constexpr char kCounterFamily[] =
    "# TYPE requests counter\n"
    "# UNIT requests_seconds seconds\n"
    "# HELP requests Requests \\\"served\\\"\\n so far.\n"
    "requests_total{path=\"/\"} 12 1520879607.789\n"
    "requests_created{path=\"/\"} 1520430000.123\n"
    "# EOF\n";

TEST(ExpositionOpenMetrics, CounterFamilyWithTotalAndCreatedSamples) {
  const ParseResult r = ParseOk(kCounterFamily);
  EXPECT_TRUE(r.openmetrics);
  ASSERT_EQ(r.samples.size(), 2u);
  EXPECT_EQ(r.samples[0].labels.ToString(), "requests_total{path=\"/\"}");
  EXPECT_EQ(r.samples[0].value, 12);
  EXPECT_EQ(r.samples[0].timestamp, 1520879607789);  // float seconds -> ms
  // _created is kept as an ordinary sample, as Prometheus 2.42 ingests it.
  EXPECT_EQ(r.samples[1].labels.MetricName(), "requests_created");
  EXPECT_EQ(r.samples[1].value, 1520430000.123);
  ASSERT_EQ(r.families.size(), 2u);
  EXPECT_EQ(r.families[0].name, "requests");
  EXPECT_EQ(r.families[0].type, MetricType::kCounter);
  EXPECT_EQ(r.families[0].help, "Requests \"served\"\n so far.");
  EXPECT_EQ(r.families[1].name, "requests_seconds");
  EXPECT_EQ(r.families[1].unit, "seconds");

  ExpositionParser p(kCounterFamily, Format::kOpenMetrics);
  ASSERT_TRUE(p.Next());
  EXPECT_EQ(p.type(), MetricType::kCounter);
  ASSERT_TRUE(p.Next());
  EXPECT_EQ(p.type(), MetricType::kCounter);
  EXPECT_FALSE(p.Next());
  EXPECT_TRUE(p.status().ok()) << p.status().ToString();
}

TEST(ExpositionOpenMetrics, EveryOpenMetricsTypeAndItsSuffixes) {
  const std::string body =
      "# TYPE gh gaugehistogram\ngh_bucket{le=\"+Inf\"} 1\ngh_gcount 1\ngh_gsum 2\n"
      "# TYPE build info\nbuild_info{version=\"1\"} 1\n"
      "# TYPE state stateset\nstate{state=\"a\"} 1\nstate{state=\"b\"} 0\n"
      "# TYPE mystery unknown\nmystery 3\n"
      "# TYPE lat summary\nlat{quantile=\"0.5\"} 1\nlat_sum 1\nlat_count 1\nlat_created 1\n"
      "# TYPE h histogram\nh_bucket{le=\"1\"} 1\nh_sum 1\nh_count 1\nh_created 1\n"
      "# TYPE g gauge\ng 1\ng_total 2\n"
      "# EOF\n";
  ExpositionParser p(body, Format::kAuto);
  std::vector<MetricType> types;
  while (p.Next()) types.push_back(p.type());
  ASSERT_TRUE(p.status().ok()) << p.status().ToString();
  EXPECT_TRUE(p.openmetrics());
  using T = MetricType;
  const std::vector<MetricType> want = {
      T::kGaugeHistogram, T::kGaugeHistogram, T::kGaugeHistogram, T::kInfo,      T::kStateSet,
      T::kStateSet,       T::kUnknown,        T::kSummary,        T::kSummary,   T::kSummary,
      T::kSummary,        T::kHistogram,      T::kHistogram,      T::kHistogram, T::kHistogram,
      T::kGauge,          T::kUnknown /* a gauge has no _total */};
  EXPECT_EQ(types, want);
}

TEST(ExpositionOpenMetrics, ExemplarsAreValidatedAndSkipped) {
  const ParseResult r = ParseOk(
      "# TYPE foo histogram\n"
      "foo_bucket{le=\"0.1\"} 8 # {trace_id=\"KOO5S4vxi0o\"} 0.067\n"
      "foo_bucket{le=\"+Inf\"} 17 # {trace_id=\"oHg5SJYRHA0\",span=\"x\"} 9.8 1520879607.789\n"
      "foo_count 17 1520879607.5 # {} 1\n"
      "foo_sum 324789.3\n"
      "# EOF\n");
  ASSERT_EQ(r.samples.size(), 4u);
  EXPECT_EQ(r.samples[0].labels.ToString(), "foo_bucket{le=\"0.1\"}");
  EXPECT_EQ(r.samples[0].value, 8);
  EXPECT_EQ(r.samples[1].value, 17);
  EXPECT_FALSE(r.samples[1].timestamp.has_value());
  EXPECT_EQ(r.samples[2].timestamp, 1520879607500);

  EXPECT_EQ(ParseError("a 1 # {x=\"1\"}\n# EOF\n"),
            "line 1:14: expected ' ' and the exemplar value, got end of line");
  EXPECT_EQ(ParseError("a 1 # {x=1} 2\n# EOF\n"),
            "line 1:10: expected a quoted value for label \"x\", got \"1} 2\"");
  // Prometheus reads "# x" as a timestamp there.
  EXPECT_EQ(ParseError("a 1 # x\n# EOF\n"),
            "line 1:5: expected a timestamp in seconds (e.g. 1520879607.789), got \"# x\"");
  EXPECT_EQ(ParseError("a 1 2 # x\n# EOF\n"),
            "line 1:6: expected the end of the line or an exemplar (\" # {\"), got \" # x\"");
}

TEST(ExpositionOpenMetrics, EofIsRequiredAndFinal) {
  EXPECT_EQ(ParseError("a 1\n"), "line 2:1: the OpenMetrics body does not end with \"# EOF\"");
  EXPECT_EQ(ParseError("a 1"), "line 1:4: the OpenMetrics body does not end with \"# EOF\"");
  EXPECT_EQ(ParseError(""), "line 1:1: the OpenMetrics body does not end with \"# EOF\"");
  EXPECT_EQ(ParseError("a 1\n# EOF\nb 2\n"), "line 3:1: unexpected data after # EOF, got \"b 2\"");
  EXPECT_EQ(ParseError("# EOF\n\n"), "line 2:1: unexpected data after # EOF, got end of line");
  EXPECT_EQ(ParseOk("a 1\n# EOF").samples.size(), 1u);  // the final line break is optional
  EXPECT_EQ(ParseOk("# EOF\n").samples.size(), 0u);
}

TEST(ExpositionOpenMetrics, IsStrictAboutWhitespaceBlankLinesAndComments) {
  EXPECT_EQ(ParseError("a 1\n\n# EOF\n"), "line 2:1: blank lines are not allowed in OpenMetrics");
  EXPECT_EQ(ParseError("a\t1\n# EOF\n"),
            "line 1:2: expected ' ' and a sample value after the metric, got \"\\t1\"");
  EXPECT_EQ(ParseError("a  1\n# EOF\n"), "line 1:3: expected a sample value, got \" 1\"");
  EXPECT_EQ(ParseError("a{x=\"1\", y=\"2\"} 1\n# EOF\n"),
            "line 1:9: expected a label name or '}', got \" y=\\\"2\\\"} 1\"");
  EXPECT_EQ(
      ParseError("a{x=\"1\" y=\"2\"} 1\n# EOF\n"),
      "line 1:8: expected ',' or '}' after the value of label \"x\", got \" y=\\\"2\\\"} 1\"");
  EXPECT_EQ(ParseError("# a comment\n# EOF\n"),
            "line 1:1: expected '# HELP ', '# TYPE ', '# UNIT ' or '# EOF' (OpenMetrics has no "
            "other comments), got \"# a comment\"");
  EXPECT_EQ(ParseError(" a 1\n# EOF\n"),
            "line 1:1: expected a metric name or a '# ' line, got \" a 1\"");
  EXPECT_EQ(ParseError("a{x=\"one\ntwo\"} 1\n# EOF\n"),
            "line 1:9: line break inside the value of label \"x\" (write \\n)");
  EXPECT_EQ(ParseError("# HELP a\n# EOF\n"),
            "line 1:9: expected ' ' and text after the metric name, got end of line");
  EXPECT_EQ(ParseOk("a{x=\"1\",} 1\n# EOF\n").samples.size(), 1u);
}

TEST(ExpositionOpenMetrics, TimestampsAreFloatSecondsTruncatedToMilliseconds) {
  const ParseResult r = ParseOk("a 1 1\nb 1 -1.5\nc 1 1.0009\nd 1 1e3\n# EOF\n");
  ASSERT_EQ(r.samples.size(), 4u);
  EXPECT_EQ(r.samples[0].timestamp, 1000);
  EXPECT_EQ(r.samples[1].timestamp, -1500);
  EXPECT_EQ(r.samples[2].timestamp, 1000);
  EXPECT_EQ(r.samples[3].timestamp, 1000000);
  EXPECT_NE(ParseError("a 1 NaN\n# EOF\n").find("expected a timestamp in seconds"),
            std::string::npos);
  EXPECT_NE(ParseError("a 1 +Inf\n# EOF\n").find("expected a timestamp in seconds"),
            std::string::npos);
  EXPECT_NE(ParseError("a 1 1e300\n# EOF\n").find("is out of range"), std::string::npos);
}

TEST(ExpositionOpenMetrics, UnitMustBeTheNamesSuffixAndTypesAreOpenMetricsWords) {
  EXPECT_EQ(ParseError("# UNIT latency seconds\n# EOF\n"),
            "line 1:16: unit \"seconds\" is not a suffix of metric \"latency\" (OpenMetrics "
            "requires <name>_<unit>)");
  EXPECT_EQ(ParseError("# UNIT xseconds seconds\n# EOF\n").substr(0, 10), "line 1:17:");
  EXPECT_EQ(ParseOk("# UNIT latency_seconds seconds\n# UNIT a \n# EOF\n").families.size(), 2u);
  EXPECT_EQ(ParseError("# TYPE a untyped\n# EOF\n"),
            "line 1:10: invalid metric type \"untyped\" (expected counter, gauge, histogram, "
            "gaugehistogram, summary, info, stateset or unknown)");
}

TEST(ExpositionOpenMetrics, AutoDetectionRule) {
  // Last line "# EOF" (with or without the line break).
  EXPECT_TRUE(ParseOk("a 1\n# EOF\n", Format::kAuto).openmetrics);
  EXPECT_TRUE(ParseOk("a 1 1.5\n# EOF", Format::kAuto).openmetrics);
  // A first line that only OpenMetrics has.
  EXPECT_EQ(ParseError("# UNIT a_seconds seconds\na_seconds 1\n", Format::kAuto),
            "line 3:1: the OpenMetrics body does not end with \"# EOF\"");
  EXPECT_NE(ParseError("# TYPE i info\ni_info 1\n", Format::kAuto).find("# EOF"),
            std::string::npos);
  EXPECT_NE(ParseError("# TYPE u unknown\nu 1\n", Format::kAuto).find("# EOF"), std::string::npos);
  // Anything else is the text format, where "# EOF" inside is just a comment.
  const ParseResult text = ParseOk("# TYPE a counter\na 1\n# EOF\nb 2\n", Format::kAuto);
  EXPECT_FALSE(text.openmetrics);
  EXPECT_EQ(text.samples.size(), 2u);
  EXPECT_FALSE(ParseOk("", Format::kAuto).openmetrics);
  // Forcing the text format on an OpenMetrics body: "# EOF" is a comment there too.
  EXPECT_EQ(ParseOk("a 1\n# EOF\n", Format::kText004).samples.size(), 1u);
  EXPECT_FALSE(ParseOk("a 1\n# EOF\n", Format::kText004).openmetrics);
}

}  // namespace
}  // namespace steward::monitor
