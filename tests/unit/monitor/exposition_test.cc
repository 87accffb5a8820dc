// The text exposition format 0.0.4 as Prometheus' textparse reads it: metadata, labels,
// escapes, values, timestamps, duplicates and errors.
#include "monitor/exposition.h"

#include <gtest/gtest.h>

#include <bit>
#include <chrono>
#include <cmath>
#include <string>

#include "monitor/exposition_scan.h"

namespace steward::monitor {
namespace {

ParseResult ParseOk(std::string_view body, Format format = Format::kText004) {
  StatusOr<ParseResult> r = Parse(body, format);
  EXPECT_TRUE(r.ok()) << r.status().ToString();
  return r.ok() ? std::move(r).value() : ParseResult{};
}

std::string ParseError(std::string_view body, Format format = Format::kText004) {
  StatusOr<ParseResult> r = Parse(body, format);
  EXPECT_FALSE(r.ok()) << "parsed: " << body.substr(0, 200);
  if (r.ok()) return "";
  EXPECT_EQ(r.status().code(), StatusCode::kInvalidArgument);
  return r.status().message();
}

const MetricFamilyInfo* FindFamily(const ParseResult& r, std::string_view name) {
  for (const MetricFamilyInfo& f : r.families) {
    if (f.name == name) return &f;
  }
  return nullptr;
}

TEST(Exposition, ParsesEveryTypeWithHelpAndType) {
  const ParseResult r = ParseOk(
      "# HELP http_requests_total The total number of HTTP requests.\n"
      "# TYPE http_requests_total counter\n"
      "http_requests_total{method=\"post\",code=\"200\"} 1027 1395066363000\n"
      "http_requests_total{method=\"post\",code=\"400\"}    3 1395066363000\n"
      "# TYPE temperature gauge\n"
      "temperature -3.5\n"
      "# TYPE latency histogram\n"
      "# HELP latency Request latency.\n"
      "latency_bucket{le=\"0.05\"} 24054\n"
      "latency_bucket{le=\"+Inf\"} 144320\n"
      "latency_sum 53423\n"
      "latency_count 144320\n"
      "# TYPE rpc summary\n"
      "rpc{quantile=\"0.5\"} 4773\n"
      "rpc_sum 1.7560473e+07\n"
      "rpc_count 2693\n"
      "# TYPE legacy untyped\n"
      "legacy 7\n");
  ASSERT_EQ(r.samples.size(), 11u);
  EXPECT_FALSE(r.openmetrics);
  EXPECT_EQ(r.duplicates, 0);
  EXPECT_EQ(r.samples[0].labels.ToString(), "http_requests_total{code=\"200\", method=\"post\"}");
  EXPECT_EQ(r.samples[0].value, 1027);
  EXPECT_EQ(r.samples[0].timestamp, 1395066363000);
  EXPECT_EQ(r.samples[2].value, -3.5);
  EXPECT_FALSE(r.samples[2].timestamp.has_value());
  EXPECT_EQ(r.samples[4].labels.Get("le"), "+Inf");
  EXPECT_EQ(r.samples[8].value, 1.7560473e+07);

  ASSERT_EQ(r.families.size(), 5u);
  EXPECT_EQ(r.families[0].help, "The total number of HTTP requests.");
  EXPECT_EQ(r.families[0].type, MetricType::kCounter);
  EXPECT_EQ(FindFamily(r, "temperature")->type, MetricType::kGauge);
  EXPECT_EQ(FindFamily(r, "latency")->type, MetricType::kHistogram);
  EXPECT_EQ(FindFamily(r, "latency")->help, "Request latency.");
  EXPECT_EQ(FindFamily(r, "rpc")->type, MetricType::kSummary);
  EXPECT_EQ(FindFamily(r, "legacy")->type, MetricType::kUntyped);
}

TEST(Exposition, StreamingParserReportsEachSamplesFamilyType) {
  const std::string body =
      "# TYPE c counter\nc 1\n# TYPE h histogram\nh_bucket{le=\"1\"} 1\nh_sum 2\nh_count 1\n"
      "# TYPE s summary\ns{quantile=\"0.9\"} 1\ns_sum 1\ns_count 3\nuntyped_thing 4\n"
      "c_total 5\n";
  ExpositionParser p(body, Format::kText004);
  std::vector<std::pair<std::string, MetricType>> got;
  while (p.Next()) got.emplace_back(std::string(p.metric_name()), p.type());
  ASSERT_TRUE(p.status().ok()) << p.status().ToString();
  const std::vector<std::pair<std::string, MetricType>> want = {
      {"c", MetricType::kCounter},       {"h_bucket", MetricType::kHistogram},
      {"h_sum", MetricType::kHistogram}, {"h_count", MetricType::kHistogram},
      {"s", MetricType::kSummary},       {"s_sum", MetricType::kSummary},
      {"s_count", MetricType::kSummary}, {"untyped_thing", MetricType::kUnknown},
      {"c_total", MetricType::kCounter}};
  EXPECT_EQ(got, want);
}

TEST(Exposition, MissingTypeMeansUnknownAndHelpAloneIsKept) {
  const std::string body = "# HELP up Whether the target is up.\nup 1\nother 2\n";
  ExpositionParser p(body, Format::kText004);
  ASSERT_TRUE(p.Next());
  EXPECT_EQ(p.type(), MetricType::kUnknown);
  ASSERT_TRUE(p.Next());
  EXPECT_EQ(p.type(), MetricType::kUnknown);
  EXPECT_FALSE(p.Next());
  EXPECT_TRUE(p.status().ok());
  ASSERT_EQ(p.families().size(), 1u);
  EXPECT_EQ(p.families()[0].help, "Whether the target is up.");
  EXPECT_EQ(p.families()[0].type, MetricType::kUnknown);
}

TEST(Exposition, UnescapesLabelValuesLikePrometheus) {
  const ParseResult r = ParseOk(
      "m{a=\"back\\\\slash\",b=\"quo\\\"te\",c=\"new\\nline\",d=\"tab\\tstays\",e=\"x}y,z=w\"} "
      "1\n");
  ASSERT_EQ(r.samples.size(), 1u);
  const tsdb::Labels& l = r.samples[0].labels;
  EXPECT_EQ(l.Get("a"), "back\\slash");
  EXPECT_EQ(l.Get("b"), "quo\"te");
  EXPECT_EQ(l.Get("c"), "new\nline");
  // An unknown escape is kept as written (Prometheus' strings.Replacer leaves it alone).
  EXPECT_EQ(l.Get("d"), "tab\\tstays");
  EXPECT_EQ(l.Get("e"), "x}y,z=w");
}

TEST(Exposition, UnescapesHelpTextButOnlyBackslashAndNewline) {
  const ParseResult r = ParseOk("# HELP m a\\\\b\\nc \\\"q\\\"\nm 1\n");
  ASSERT_EQ(r.families.size(), 1u);
  EXPECT_EQ(r.families[0].help, "a\\b\nc \\\"q\\\"");
}

TEST(Exposition, AcceptsGoFloatSpellingsOfValues) {
  const ParseResult r = ParseOk(
      "a NaN\nb +Inf\nc -Inf\nd Inf\ne inf\nf 1e3\ng -0\nh .5\ni 5.\nj 1E-3\nk +Infinity\n"
      "l nan\nm 1e-400\nn 007\no 123456789012345678901234567890\n");
  ASSERT_EQ(r.samples.size(), 15u);
  EXPECT_TRUE(std::isnan(r.samples[0].value));
  EXPECT_EQ(std::bit_cast<uint64_t>(r.samples[0].value), scan::kNormalNaNBits);
  EXPECT_EQ(r.samples[1].value, INFINITY);
  EXPECT_EQ(r.samples[2].value, -INFINITY);
  EXPECT_EQ(r.samples[3].value, INFINITY);
  EXPECT_EQ(r.samples[4].value, INFINITY);
  EXPECT_EQ(r.samples[5].value, 1000);
  EXPECT_TRUE(std::signbit(r.samples[6].value));
  EXPECT_EQ(r.samples[7].value, 0.5);
  EXPECT_EQ(r.samples[8].value, 5);
  EXPECT_EQ(r.samples[9].value, 0.001);
  EXPECT_EQ(r.samples[10].value, INFINITY);
  EXPECT_TRUE(std::isnan(r.samples[11].value));
  EXPECT_EQ(r.samples[12].value, 0);  // Go rounds underflow to zero without an error
  EXPECT_EQ(r.samples[13].value, 7);
  EXPECT_EQ(r.samples[14].value, 1.2345678901234568e29);
}

TEST(Exposition, RejectsWhatGoParseFloatRejectsOrPrometheusForbids) {
  for (const char* v : {"0x10", "0x1p3", "1_000", "+NaN", "-nan", "1e400", "1e", ".", "e5", "1.2.3",
                        "infinit", "--1", "1,5", "true"}) {
    const std::string message = ParseError(std::string("m ") + v + "\n");
    EXPECT_NE(message.find("invalid sample value"), std::string::npos) << v << ": " << message;
  }
}

TEST(Exposition, ParsesMillisecondTimestampsAndRejectsOthers) {
  const ParseResult r = ParseOk("a 1 0\nb 1 9223372036854775807\nc 1 1700000000000 \n");
  ASSERT_EQ(r.samples.size(), 3u);
  EXPECT_EQ(r.samples[0].timestamp, 0);
  EXPECT_EQ(r.samples[1].timestamp, INT64_MAX);
  EXPECT_EQ(r.samples[2].timestamp, 1700000000000);
  EXPECT_NE(ParseError("a 1 9223372036854775808\n").find("overflows int64"), std::string::npos);
  EXPECT_NE(ParseError("a 1 -5\n").find("expected a timestamp"), std::string::npos);
  EXPECT_NE(ParseError("a 1 1.5\n").find("expected the end of the line after the timestamp"),
            std::string::npos);
  EXPECT_NE(ParseError("a 1 2 3\n").find("line 1:7"), std::string::npos);
}

TEST(Exposition, FollowsPrometheusWhitespaceRules) {
  const ParseResult r = ParseOk(
      "  \t indented 1\n"
      "spaced { a = \"1\" , b=\"2\" , } 2\n"
      "nocomma{a=\"1\" b=\"2\"} 3\n"
      "trailing{a=\"1\",} 4 \t\n"
      "tight{a=\"1\"}5\n"
      "empty{} 6\n"
      "   \t\n"
      "\n"
      "neg-7\n"
      "last 8");
  ASSERT_EQ(r.samples.size(), 8u);
  EXPECT_EQ(r.samples[1].labels.ToString(), "spaced{a=\"1\", b=\"2\"}");
  EXPECT_EQ(r.samples[2].labels.ToString(), "nocomma{a=\"1\", b=\"2\"}");
  EXPECT_EQ(r.samples[4].value, 5);
  EXPECT_EQ(r.samples[5].labels.ToString(), "empty");
  EXPECT_EQ(r.samples[6].labels.MetricName(), "neg");  // "neg-7" is neg = -7, as in Prometheus
  EXPECT_EQ(r.samples[6].value, -7);
  EXPECT_EQ(r.samples[7].value, 8);  // the last line break is optional
}

TEST(Exposition, StreamingGivesSeriesTextAndLineWithoutLabelsCall) {
  const std::string body = "# TYPE x counter\n\nx{a=\"1\"} 1\nx{a=\"2\"} 2 17\n";
  ExpositionParser p(body, Format::kText004);
  ASSERT_TRUE(p.Next());
  EXPECT_EQ(p.series_text(), "x{a=\"1\"}");
  EXPECT_EQ(p.metric_name(), "x");
  EXPECT_EQ(p.line(), 3);
  EXPECT_EQ(p.value(), 1);
  EXPECT_FALSE(p.timestamp().has_value());
  ASSERT_TRUE(p.Next());
  EXPECT_EQ(p.series_text(), "x{a=\"2\"}");
  EXPECT_EQ(p.line(), 4);
  EXPECT_EQ(p.timestamp(), 17);
  EXPECT_EQ(p.labels().ToString(), "x{a=\"2\"}");
  EXPECT_FALSE(p.Next());
  EXPECT_TRUE(p.status().ok());
  EXPECT_FALSE(p.Next());  // stays at the end
}

TEST(Exposition, DropsTheSecondOfTheSameSeriesAndCountsIt) {
  const ParseResult r = ParseOk(
      "a{x=\"1\",y=\"2\"} 1\n"
      "a{y=\"2\",x=\"1\"} 2\n"         // same series, labels in another order
      "a{x=\"1\",y=\"2\",z=\"\"} 3\n"  // an empty value is no label at all
      "a{x=\"1\",y=\"2\"} 4 1000\n"    // another timestamp: another sample
      "a{x=\"1\",y=\"3\"} 5\n");
  ASSERT_EQ(r.samples.size(), 3u);
  EXPECT_EQ(r.duplicates, 2);
  EXPECT_EQ(r.samples[0].value, 1);
  EXPECT_EQ(r.samples[1].value, 4);
  EXPECT_EQ(r.samples[2].value, 5);

  // The streaming parser yields both; deduplication is the caller's business.
  const std::string body = "a 1\na 2\n";
  ExpositionParser p(body, Format::kText004);
  int n = 0;
  while (p.Next()) ++n;
  EXPECT_EQ(n, 2);
}

TEST(Exposition, DuplicateLabelNameIsAnErrorWithItsPosition) {
  EXPECT_EQ(ParseError("ok 1\nm{a=\"1\",b=\"2\",a=\"3\"} 1\n"),
            "line 2:15: duplicate label name \"a\" in one sample");
  EXPECT_NE(ParseError("m{__name__=\"other\"} 1\n").find("duplicate label name \"__name__\""),
            std::string::npos);
  // Many labels take the sorting path of the check.
  std::string many = "m{";
  for (int i = 0; i < 40; ++i) many += "l" + std::to_string(i) + "=\"v\",";
  EXPECT_TRUE(Parse(many + "} 1\n").ok());
  EXPECT_NE(ParseError(many + "l7=\"again\"} 1\n").find("duplicate label name \"l7\""),
            std::string::npos);
}

TEST(Exposition, TruncatedBodiesFailWithTheirLine) {
  EXPECT_EQ(ParseError("a 1\nm{co"),
            "line 2:5: expected '=' after label name \"co\", got end of body");
  EXPECT_EQ(ParseError("a 1\nm{code="),
            "line 2:8: expected a quoted value for label \"code\", got end of body");
  EXPECT_EQ(ParseError("a 1\nm{code=\"20"),
            "line 2:8: unterminated value of label \"code\" (no closing '\"')");
  EXPECT_EQ(ParseError("a 1\nm{code=\"200\""),
            "line 2:13: expected a label name or '}', got end of body");
  EXPECT_EQ(ParseError("a 1\nm{code=\"200\"}"),
            "line 2:14: expected a sample value after the metric, got end of body");
  EXPECT_EQ(
      ParseError("a 1\nm{code=\"200\"} 1.5e"),
      "line 2:15: invalid sample value \"1.5e\" (expected a float such as 1, -2.5e3, NaN or +Inf)");
  EXPECT_EQ(ParseError("a 1\nm\n"),
            "line 2:2: expected a sample value after the metric, got end of line");
}

TEST(Exposition, FailedBodyYieldsNoSamples) {
  StatusOr<ParseResult> r = Parse("a 1\nb 2\nc{ 3\n", Format::kText004);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().message(), "line 3:4: expected a label name or '}', got \"3\"");
}

TEST(Exposition, CrlfLineEndingsAreRejectedWithAHint) {
  const std::string m = ParseError("# TYPE a gauge\r\na 1\r\n");
  EXPECT_NE(m.find("line 1:"), std::string::npos) << m;
  EXPECT_NE(m.find("invalid metric type \"gauge\\r\""), std::string::npos) << m;
  EXPECT_NE(m.find("CRLF"), std::string::npos) << m;
  const std::string m2 = ParseError("a 1\r\n");
  EXPECT_NE(m2.find("invalid sample value \"1\\r\""), std::string::npos) << m2;
  EXPECT_NE(m2.find("CRLF"), std::string::npos) << m2;
  EXPECT_NE(ParseError("a 1 5\r\n").find("CRLF"), std::string::npos);
}

TEST(Exposition, EmptyAndCommentOnlyBodiesHaveNoSamples) {
  for (const char* body : {"", "\n", "\n\n  \n", "# just a comment\n", "#\n#HELP m x\n# HELP\n",
                           "# TYPE\n", "# HELPER m x\n# other\tcomment\n", "# HELP m text"}) {
    const ParseResult r = ParseOk(body);
    EXPECT_TRUE(r.samples.empty()) << body;
  }
  // "# HELP m" without text is an empty HELP.
  const ParseResult r = ParseOk("# HELP m\n# UNIT m seconds\n");
  ASSERT_EQ(r.families.size(), 1u);
  EXPECT_EQ(r.families[0].help, "");
}

TEST(Exposition, CommentsMayAppearAnywhereAndHoldAnything) {
  const ParseResult r = ParseOk(
      "a 1\n# \"{}= \\ \x01 \xff\n#\tTYPE b gauge\nb 2\n# EOF is only a comment here\nc 3\n");
  ASSERT_EQ(r.samples.size(), 3u);
  ASSERT_EQ(r.families.size(), 1u);
  EXPECT_EQ(r.families[0].type, MetricType::kGauge);
}

TEST(Exposition, HugeLabelValuesWork) {
  const std::string big(1 << 20, 'x');
  const ParseResult r = ParseOk("m{big=\"" + big + "\",small=\"s\"} 1\nn 2\n");
  ASSERT_EQ(r.samples.size(), 2u);
  EXPECT_EQ(r.samples[0].labels.Get("big").size(), big.size());
  EXPECT_EQ(r.samples[0].labels.Get("small"), "s");
}

TEST(Exposition, RawLineBreakInLabelValueIsAcceptedAndCounted) {
  // promlex.l lets a label value span lines in the text format (not in OpenMetrics).
  const std::string body = "m{a=\"one\ntwo\"} 1\nbad line\n";
  const ParseResult r = ParseOk("m{a=\"one\ntwo\"} 1\n");
  ASSERT_EQ(r.samples.size(), 1u);
  EXPECT_EQ(r.samples[0].labels.Get("a"), "one\ntwo");
  EXPECT_EQ(
      ParseError(body),
      "line 3:5: invalid sample value \"line\" (expected a float such as 1, -2.5e3, NaN or +Inf)");
}

TEST(Exposition, ErrorsNameLineColumnAndQuoteTheOffendingText) {
  EXPECT_EQ(ParseError("a 1\nb 2\nhttp{code x} 1\n"),
            "line 3:11: expected '=' after label name \"code\", got \"x} 1\"");
  EXPECT_EQ(ParseError("a 1\n{x=\"1\"} 1\n"),
            "line 2:1: expected a metric name, a comment or a blank line, got \"{x=\\\"1\\\"} 1\"");
  // Long offending text is cut, non-printable bytes are escaped.
  EXPECT_EQ(ParseError("\x01\x02" + std::string(100, 'z') + "\n"),
            "line 1:1: expected a metric name, a comment or a blank line, got "
            "\"\\x01\\x02zzzzzzzzzzzzzzzzzzzzzz\"...");
  EXPECT_EQ(ParseError("# TYPE m kounter\n"),
            "line 1:10: invalid metric type \"kounter\" (expected counter, gauge, histogram, "
            "summary or untyped)");
  EXPECT_EQ(ParseError("# TYPE 9m counter\n"),
            "line 1:8: expected a metric name after # TYPE, got \"9m counter\"");
  EXPECT_EQ(ParseError("m{a=\"\xff\"} 1\n"),
            "line 1:5: the value of label \"a\" is not valid UTF-8");
  EXPECT_EQ(ParseError("# HELP m \xc3\x28\n"), "line 1:10: HELP text is not valid UTF-8");
  EXPECT_EQ(ParseError("m{a=\"x\\\ny\"} 1\n"),
            "line 1:7: a backslash before a line break in the value of label \"a\"");
  EXPECT_EQ(ParseError("m{a=\"1\"}{b=\"2\"} 1\n"),
            "line 1:9: expected a sample value after the metric, got \"{b=\\\"2\\\"} 1\"");
  EXPECT_EQ(ParseError("m{1a=\"1\"} 1\n"),
            "line 1:3: expected a label name or '}', got \"1a=\\\"1\\\"} 1\"");
  EXPECT_EQ(ParseError("m{a:b=\"1\"} 1\n"),
            "line 1:4: expected '=' after label name \"a\", got \":b=\\\"1\\\"} 1\"");
  EXPECT_EQ(ParseError(std::string("a 1\n\0b 2\n", 9)),
            "line 2:1: expected a metric name, a comment or a blank line, got \"\\x00b 2\"");
}

TEST(Exposition, StatusAndLineAfterAnErrorStay) {
  const std::string body = "a 1\nb{\n";
  ExpositionParser p(body, Format::kText004);
  ASSERT_TRUE(p.Next());
  EXPECT_FALSE(p.Next());
  EXPECT_FALSE(p.status().ok());
  EXPECT_EQ(p.line(), 2);
  EXPECT_FALSE(p.Next());
  EXPECT_FALSE(p.status().ok());
}

TEST(Exposition, GarbageFailsFastAndLinearly) {
  // 100 MB without a line break, and 100 MB of an unterminated label value: one pass each.
  const std::string garbage(100u << 20, '\x7f');
  const std::string unterminated = "m{a=\"" + std::string(100u << 20, 'v');
  const std::string long_comment = "#" + std::string(100u << 20, 'c') + "\n!";
  const auto start = std::chrono::steady_clock::now();
  EXPECT_FALSE(Parse(garbage).ok());
  EXPECT_EQ(ParseError(unterminated),
            "line 1:5: unterminated value of label \"a\" (no closing '\"')");
  EXPECT_NE(ParseError(long_comment).find("line 2:1:"), std::string::npos);
  const double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  EXPECT_LT(seconds, 5.0);
}

TEST(Exposition, ManyLabelsInOneSampleStayLinearithmic) {
  std::string body = "m{";
  for (int i = 0; i < 200000; ++i) body += "l" + std::to_string(i) + "=\"v\",";
  body += "} 1\n";
  const auto start = std::chrono::steady_clock::now();
  const ParseResult r = ParseOk(body);
  EXPECT_EQ(r.samples.at(0).labels.size(), 200001u);
  EXPECT_LT(std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count(), 5.0);
}

TEST(ExpositionScan, Utf8CheckRejectsWhatGoRejects) {
  EXPECT_TRUE(scan::IsValidUtf8("plain ascii, longer than eight bytes"));
  EXPECT_TRUE(scan::IsValidUtf8("caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80"));
  EXPECT_FALSE(scan::IsValidUtf8("12345678\xc0\xaf"));          // overlong '/'
  EXPECT_FALSE(scan::IsValidUtf8("\xed\xa0\x80"));              // a UTF-16 surrogate
  EXPECT_FALSE(scan::IsValidUtf8("\xf4\x90\x80\x80"));          // beyond U+10FFFF
  EXPECT_FALSE(scan::IsValidUtf8("abcdefghijklmnop\xe2\x82"));  // cut short
  EXPECT_FALSE(scan::IsValidUtf8("\x80"));
}

TEST(ExpositionScan, UnescapingKeepsUnknownEscapesAndTrailingBackslash) {
  std::string out;
  scan::AppendUnescaped(&out, "a\\\\b\\\"c\\nd\\te\\");
  EXPECT_EQ(out, "a\\b\"c\nd\\te\\");
  out.clear();
  scan::AppendUnescapedHelp(&out, "x\\\"y\\\\z\\n");
  EXPECT_EQ(out, "x\\\"y\\z\n");
}

TEST(Exposition, FormatFromContentTypePicksOpenMetricsOnlyForItsMediaType) {
  EXPECT_EQ(FormatFromContentType("application/openmetrics-text; version=1.0.0; charset=utf-8"),
            Format::kOpenMetrics);
  EXPECT_EQ(FormatFromContentType("Application/OpenMetrics-Text"), Format::kOpenMetrics);
  EXPECT_EQ(FormatFromContentType("text/plain; version=0.0.4"), Format::kText004);
  EXPECT_EQ(FormatFromContentType(""), Format::kText004);
  EXPECT_EQ(FormatFromContentType("application/openmetrics-textual"), Format::kText004);
}

TEST(Exposition, MetricTypeNamesAreThePrometheusWords) {
  EXPECT_EQ(MetricTypeName(MetricType::kCounter), "counter");
  EXPECT_EQ(MetricTypeName(MetricType::kGaugeHistogram), "gaugehistogram");
  EXPECT_EQ(MetricTypeName(MetricType::kStateSet), "stateset");
  EXPECT_EQ(MetricTypeName(MetricType::kUntyped), "untyped");
  EXPECT_EQ(MetricTypeName(MetricType::kUnknown), "unknown");
}

}  // namespace
}  // namespace steward::monitor
