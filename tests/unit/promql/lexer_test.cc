#include "promql/lexer.h"

#include <gtest/gtest.h>

namespace steward::promql {
namespace {

std::vector<TokenKind> Kinds(std::string_view in) {
  std::vector<TokenKind> out;
  for (const Token& t : Lex(in)) out.push_back(t.kind);
  return out;
}

TEST(Lexer, SelectorTokensWithOffsets) {
  auto toks = Lex(R"(up{job="api", code!~'5..'})");
  ASSERT_EQ(toks.size(), 11u);
  EXPECT_EQ(toks[0].kind, TokenKind::kIdentifier);
  EXPECT_EQ(toks[0].text, "up");
  EXPECT_EQ(toks[1].kind, TokenKind::kLeftBrace);
  EXPECT_EQ(toks[4].kind, TokenKind::kString);
  EXPECT_EQ(toks[4].value, "api");
  EXPECT_EQ(toks[4].pos, 7u);
  EXPECT_EQ(toks[7].kind, TokenKind::kRegexNoMatch);
  EXPECT_EQ(toks[8].value, "5..");
  EXPECT_EQ(toks[10].kind, TokenKind::kEof);
}

TEST(Lexer, NumbersDurationsAndSpecialFloats) {
  EXPECT_EQ(Kinds("1 0x1F 1.5e3 .5 Inf nan 5m 1h30m 10ms"),
            (std::vector<TokenKind>{TokenKind::kNumber, TokenKind::kNumber, TokenKind::kNumber,
                                    TokenKind::kNumber, TokenKind::kNumber, TokenKind::kNumber,
                                    TokenKind::kDuration, TokenKind::kDuration,
                                    TokenKind::kDuration, TokenKind::kEof}));
}

TEST(Lexer, OperatorsAndComments) {
  EXPECT_EQ(Kinds("a == b != c >= d # comment\n ^ %"),
            (std::vector<TokenKind>{TokenKind::kIdentifier, TokenKind::kEql,
                                    TokenKind::kIdentifier, TokenKind::kNeq,
                                    TokenKind::kIdentifier, TokenKind::kGte,
                                    TokenKind::kIdentifier, TokenKind::kPow, TokenKind::kMod,
                                    TokenKind::kEof}));
}

TEST(Lexer, MetricIdentifierWithColon) {
  auto toks = Lex("job:requests:rate5m");
  EXPECT_EQ(toks[0].kind, TokenKind::kMetricIdentifier);
}

TEST(Lexer, BadTokensBecomeErrorsAtTheirOffset) {
  auto toks = Lex("up{a=\"x");
  EXPECT_EQ(toks.back().kind, TokenKind::kError);
  EXPECT_EQ(toks.back().pos, 5u);
  EXPECT_NE(toks.back().value.find("unterminated"), std::string::npos);
  EXPECT_EQ(Lex("5mx").front().kind, TokenKind::kError);
  EXPECT_EQ(Lex("a $").back().kind, TokenKind::kError);
}

TEST(Unquote, GoEscapes) {
  EXPECT_EQ(*Unquote(R"("a\"b\\c\n")"), "a\"b\\c\n");
  EXPECT_EQ(*Unquote(R"('it\'s')"), "it's");
  EXPECT_EQ(*Unquote(R"("\x41\101\u00e9")"), "AA\xc3\xa9");
  EXPECT_EQ(*Unquote("`raw\\n`"), "raw\\n");
  EXPECT_FALSE(Unquote(R"("\q")").ok());
  EXPECT_FALSE(Unquote(R"("\xZZ")").ok());
  EXPECT_FALSE(Unquote(R"("\uD800")").ok());
}

TEST(Lexer, DigitsAfterADurationUnitAreAnError) {
  EXPECT_EQ(Lex("5m30").front().kind, TokenKind::kError);
  EXPECT_EQ(Lex("1h5").front().kind, TokenKind::kError);
  EXPECT_EQ(Lex("1h5m").front().kind, TokenKind::kDuration);
}

TEST(Unquote, RejectsInvalidUtf8ButKeepsByteEscapes) {
  EXPECT_FALSE(Unquote("\"a\xff\"").ok());
  EXPECT_FALSE(Unquote("`\xc3`").ok());
  EXPECT_EQ(*Unquote(R"("\xff")"), "\xff");          // an escape may build any byte
  EXPECT_EQ(*Unquote("\"\xc3\xa9\""), "\xc3\xa9");  // é
  EXPECT_EQ(*Unquote("`a\r\nb`"), "a\nb");
}

TEST(Duration, ParsesCompoundUnitsInOrder) {
  EXPECT_EQ(*ParseDurationMillis("1h30m"), 5400000);
  EXPECT_EQ(*ParseDurationMillis("10ms"), 10);
  EXPECT_EQ(*ParseDurationMillis("1w2d"), 9LL * 24 * 3600 * 1000);
  EXPECT_FALSE(ParseDurationMillis("30m1h").ok());
  EXPECT_FALSE(ParseDurationMillis("5").ok());
  EXPECT_FALSE(ParseDurationMillis("").ok());
  EXPECT_FALSE(ParseDurationMillis("99999999999999999999y").ok());
}

}  // namespace
}  // namespace steward::promql
