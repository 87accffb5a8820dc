#include <gtest/gtest.h>

#include <cmath>

#include "tsdb/tsdb.h"

namespace steward::tsdb {
namespace {

using T = Matcher::Type;

TEST(Matcher, EqualAndNotEqual) {
  Matcher eq = Matcher::Make(T::kEqual, "job", "api").value();
  EXPECT_TRUE(eq.Matches("api"));
  EXPECT_FALSE(eq.Matches("apix"));
  Matcher ne = Matcher::Make(T::kNotEqual, "job", "api").value();
  EXPECT_FALSE(ne.Matches("api"));
  EXPECT_TRUE(ne.Matches(""));
}

TEST(Matcher, RegexIsFullyAnchored) {
  Matcher re = Matcher::Make(T::kRegexMatch, "job", "a|b.*").value();
  EXPECT_TRUE(re.Matches("a"));
  EXPECT_TRUE(re.Matches("bcd"));
  EXPECT_FALSE(re.Matches("xa"));
  EXPECT_FALSE(re.Matches("ab"));  // "^a|b.*$" unanchored-alternation bug would accept this
  Matcher nre = Matcher::Make(T::kRegexNoMatch, "job", "a.*").value();
  EXPECT_FALSE(nre.Matches("abc"));
  EXPECT_TRUE(nre.Matches("ba"));
}

TEST(Matcher, DotDoesNotMatchNewlineUnlessThePatternSaysSAsInGo) {
  EXPECT_FALSE(Matcher::Make(T::kRegexMatch, "a", "x.y").value().Matches("x\ny"));
  EXPECT_TRUE(Matcher::Make(T::kRegexMatch, "a", "x.y").value().Matches("x-y"));
  EXPECT_FALSE(Matcher::Make(T::kRegexMatch, "a", "(?m)x$.*").value().Matches("x\ny"));
  EXPECT_TRUE(Matcher::Make(T::kRegexMatch, "a", "(?s)x.y").value().Matches("x\ny"));
  EXPECT_TRUE(Matcher::Make(T::kRegexNoMatch, "a", "x.y").value().Matches("x\ny"));
}

TEST(Matcher, AnyByteEscapeIsRejectedAsGoDoes) {
  for (const char* re : {"h\\C.*", "\\C", "a|\\Q.\\E\\C"}) {
    auto m = Matcher::Make(T::kRegexMatch, "utf", re);
    ASSERT_FALSE(m.ok()) << re;
    EXPECT_EQ(m.status().code(), StatusCode::kInvalidArgument);
    EXPECT_NE(m.status().message().find("invalid escape sequence: \\C"), std::string::npos)
        << m.status().message();
  }
  // An escaped backslash before C, and \C quoted by \Q...\E, are literal text in Go.
  EXPECT_TRUE(Matcher::Make(T::kRegexMatch, "a", "\\\\C").value().Matches("\\C"));
  EXPECT_TRUE(Matcher::Make(T::kRegexMatch, "a", "\\Q\\C\\E").value().Matches("\\C"));
}

TEST(Matcher, BadRegexIsInvalidArgumentNamingIt) {
  auto m = Matcher::Make(T::kRegexMatch, "job", "a(");
  ASSERT_FALSE(m.ok());
  EXPECT_EQ(m.status().code(), StatusCode::kInvalidArgument);
  EXPECT_NE(m.status().message().find("a("), std::string::npos);
}

TEST(Matcher, ToStringShowsOperator) {
  EXPECT_EQ(Matcher::Make(T::kRegexNoMatch, "job", "a\"b").value().ToString(), "job!~\"a\\\"b\"");
  EXPECT_EQ(Matcher::Make(T::kEqual, "x", "1").value().ToString(), "x=\"1\"");
}

TEST(Sample, EqualityIsBitwise) {
  EXPECT_EQ((Sample{1, std::nan("")}), (Sample{1, std::nan("")}));
  EXPECT_FALSE((Sample{1, std::nan("")}) == (Sample{1, StaleNaN()}));
  EXPECT_FALSE((Sample{1, 0.0}) == (Sample{1, -0.0}));
  EXPECT_FALSE((Sample{1, 1.0}) == (Sample{2, 1.0}));
}

}  // namespace
}  // namespace steward::tsdb
