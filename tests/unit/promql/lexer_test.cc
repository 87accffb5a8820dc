// The expression lexer (parser_internal.h) and the readers of strings, durations and floats that
// the parser shares with the API (parser.h).
#include <gtest/gtest.h>

#include <cmath>
#include <string>
#include <vector>

#include "promql/parser.h"
#include "promql/parser_internal.h"

namespace steward::promql {
namespace {

using internal::LexExpr;
using internal::Tok;
using internal::Unquote;

std::vector<Tok> Kinds(std::string_view in) {
  std::vector<Tok> out;
  for (const internal::Item& t : LexExpr(in).items) out.push_back(t.kind);
  return out;
}

TEST(Lexer, SelectorTokensWithOffsets) {
  auto toks = LexExpr(R"(up{job="api", code!~'5..'})").items;
  ASSERT_EQ(toks.size(), 11u);
  EXPECT_EQ(toks[0].kind, Tok::kIdentifier);
  EXPECT_EQ(toks[0].text, "up");
  EXPECT_EQ(toks[1].kind, Tok::kLeftBrace);
  EXPECT_EQ(toks[3].kind, Tok::kEql);
  EXPECT_EQ(toks[4].kind, Tok::kString);
  EXPECT_EQ(toks[4].text, "\"api\"");
  EXPECT_EQ(toks[4].pos, 7u);
  EXPECT_EQ(toks[7].kind, Tok::kNeqRegex);
  EXPECT_EQ(toks[8].text, "'5..'");
  EXPECT_EQ(toks[10].kind, Tok::kEof);
}

TEST(Lexer, NumbersDurationsAndSpecialFloats) {
  EXPECT_EQ(
      Kinds("1 0x1F 1.5e3 .5 Inf nan 5m 1h30m 10ms"),
      (std::vector<Tok>{Tok::kNumber, Tok::kNumber, Tok::kNumber, Tok::kNumber, Tok::kNumber,
                        Tok::kNumber, Tok::kDuration, Tok::kDuration, Tok::kDuration, Tok::kEof}));
}

TEST(Lexer, OperatorsKeywordsAndComments) {
  EXPECT_EQ(Kinds("a == b != c >= d # comment\n ^ % sum by and"),
            (std::vector<Tok>{Tok::kIdentifier, Tok::kEqlc, Tok::kIdentifier, Tok::kNeq,
                              Tok::kIdentifier, Tok::kGte, Tok::kIdentifier, Tok::kPow, Tok::kMod,
                              Tok::kSum, Tok::kBy, Tok::kLand, Tok::kEof}));
}

TEST(Lexer, MetricIdentifierWithColon) {
  EXPECT_EQ(LexExpr("job:requests:rate5m").items[0].kind, Tok::kMetricIdentifier);
}

TEST(Lexer, BadTokensEndInAnErrorWithPrometheusMessageAndPosition) {
  auto unterminated = LexExpr("up{a=\"x");
  EXPECT_EQ(unterminated.items.back().kind, Tok::kError);
  EXPECT_EQ(unterminated.items.back().pos, 5u);
  EXPECT_EQ(unterminated.error, "unterminated quoted string");
  auto bad = LexExpr("5mx");
  EXPECT_EQ(bad.items.back().kind, Tok::kError);
  EXPECT_EQ(bad.error, "bad number or duration syntax: \"5mx\"");
  EXPECT_EQ(LexExpr("a $").error, "unexpected character: '$'");
  EXPECT_EQ(LexExpr("(a").error, "unclosed left parenthesis");
}

TEST(Lexer, DigitsAfterADurationUnitAreAnError) {
  EXPECT_EQ(LexExpr("5m30").items.front().kind, Tok::kError);
  EXPECT_EQ(LexExpr("1h5").items.front().kind, Tok::kError);
  EXPECT_EQ(LexExpr("1h5m").items.front().kind, Tok::kDuration);
}

TEST(Lexer, StopsWithAnErrorAfterTheMaximumNumberOfItems) {
  std::string many;
  for (size_t i = 0; i < internal::kMaxItems; ++i) many += "a ";
  auto at_limit = LexExpr(many.substr(0, many.size() - 2));  // kMaxItems - 1 items and EOF
  EXPECT_EQ(at_limit.items.back().kind, Tok::kEof);
  auto over = LexExpr(many);
  ASSERT_EQ(over.items.size(), internal::kMaxItems + 1);
  EXPECT_EQ(over.items.back().kind, Tok::kError);
  EXPECT_NE(over.error.find("more than 100000 tokens"), std::string::npos) << over.error;
}

TEST(Lexer, ItemsAreSmall) { EXPECT_LE(sizeof(internal::Item), 32u); }

TEST(Unquote, GoEscapes) {
  EXPECT_EQ(*Unquote(R"("a\"b\\c\n")"), "a\"b\\c\n");
  EXPECT_EQ(*Unquote(R"('it\'s')"), "it's");
  EXPECT_EQ(*Unquote(R"('several runes')"), "several runes");
  EXPECT_EQ(*Unquote(R"("\x41\101\u00e9\U0001F600")"), "AA\xc3\xa9\xf0\x9f\x98\x80");
  EXPECT_EQ(*Unquote("`raw\\n`"), "raw\\n");
  EXPECT_EQ(Unquote(R"("\q")").status().message(), "invalid syntax");
  EXPECT_FALSE(Unquote(R"("\xZZ")").ok());
  EXPECT_FALSE(Unquote(R"("\uD800")").ok());
  EXPECT_FALSE(Unquote(R"("\400")").ok());
  EXPECT_FALSE(Unquote(R"("\'")").ok());  // \' only in single quotes, as in Go
  EXPECT_FALSE(Unquote(R"("a"b")").ok());
  EXPECT_FALSE(Unquote("\"a\nb\"").ok());
}

TEST(Unquote, RejectsInvalidUtf8ButKeepsByteEscapesAndRawBytes) {
  EXPECT_FALSE(Unquote("\"a\xff\"").ok());
  EXPECT_FALSE(Unquote("`\xc3`").ok());
  EXPECT_EQ(*Unquote(R"("\xff")"), "\xff");         // an escape may build any byte
  EXPECT_EQ(*Unquote("\"\xc3\xa9\""), "\xc3\xa9");  // é
  EXPECT_EQ(*Unquote("`a\r\nb`"), "a\r\nb");        // Prometheus keeps raw strings' \r
}

TEST(ParseDurationMillis, ReadsModelDurations) {
  EXPECT_EQ(*ParseDurationMillis("1h30m"), 5400000);
  EXPECT_EQ(*ParseDurationMillis("10ms"), 10);
  EXPECT_EQ(*ParseDurationMillis("1w2d"), 9LL * 24 * 3600 * 1000);
  EXPECT_EQ(*ParseDurationMillis("1y"), 365LL * 24 * 3600 * 1000);
  EXPECT_EQ(*ParseDurationMillis("0"), 0);
  EXPECT_EQ(*ParseDurationMillis("0s"), 0);
  // Leading zeros of any length, as the PromQL parser has always read them.
  EXPECT_EQ(*ParseDurationMillis("0000000000000000000000005m"), 300000);
}

TEST(ParseDurationMillis, RejectsWhatModelParseDurationRejects) {
  EXPECT_EQ(ParseDurationMillis("30m1h").status().message(),
            "not a valid duration string: \"30m1h\"");
  EXPECT_FALSE(ParseDurationMillis("5").ok());
  EXPECT_FALSE(ParseDurationMillis("1.5h").ok());
  EXPECT_FALSE(ParseDurationMillis("1h1h").ok());
  EXPECT_FALSE(ParseDurationMillis(" 1h").ok());
  EXPECT_EQ(ParseDurationMillis("").status().message(), "empty duration string");
  EXPECT_EQ(ParseDurationMillis("99999999999999999999y").status().message(),
            "duration out of range");
  EXPECT_EQ(ParseDurationMillis("293y").status().message(), "duration out of range");
  EXPECT_TRUE(ParseDurationMillis("292y").ok());
}

TEST(ParseGoFloat, AcceptsGoSyntax) {
  EXPECT_EQ(*ParseGoFloat("1.5"), 1.5);
  EXPECT_EQ(*ParseGoFloat("-.5"), -0.5);
  EXPECT_EQ(*ParseGoFloat("5."), 5);
  EXPECT_EQ(*ParseGoFloat("+1e3"), 1000);
  EXPECT_EQ(*ParseGoFloat("1_000.000_1"), 1000.0001);
  EXPECT_EQ(*ParseGoFloat("0x1p3"), 8);
  EXPECT_EQ(*ParseGoFloat("0x1.8P-1"), 0.75);
  EXPECT_EQ(*ParseGoFloat("0x_1p0"), 1);
  EXPECT_EQ(*ParseGoFloat("-Infinity"), -HUGE_VAL);
  EXPECT_EQ(*ParseGoFloat("inf"), HUGE_VAL);
  EXPECT_TRUE(std::isnan(*ParseGoFloat("NaN")));
  EXPECT_EQ(*ParseGoFloat("1e-400"), 0);  // underflow is not an error in Go
}

TEST(ParseGoFloat, RejectsWhatGoRejects) {
  for (const char* bad : {"", " 1", "1 ", "0x10", "0x1.8", "1e", "1e+", "_1", "1_", "1__0", "1._5",
                          "+nan", "infin", "1.2.3", "0b101", "1f", "--1", "."}) {
    EXPECT_FALSE(ParseGoFloat(bad).ok()) << bad;
  }
  EXPECT_EQ(ParseGoFloat("0x10").status().message(),
            "strconv.ParseFloat: parsing \"0x10\": invalid syntax");
  EXPECT_EQ(ParseGoFloat("1e400").status().message(),
            "strconv.ParseFloat: parsing \"1e400\": value out of range");
}

}  // namespace
}  // namespace steward::promql
