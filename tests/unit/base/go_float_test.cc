#include "base/go_float.h"

#include <gtest/gtest.h>

#include <bit>
#include <cmath>
#include <limits>
#include <string>

namespace steward {
namespace {

constexpr double kInf = std::numeric_limits<double>::infinity();
using Error = GoFloatResult::Error;

double Value(std::string_view s, GoFloatSyntax syntax = GoFloatSyntax::kGo) {
  GoFloatResult r = GoParseFloat(s, syntax);
  EXPECT_TRUE(r.ok()) << s;
  return r.value;
}

Error ErrorOf(std::string_view s, GoFloatSyntax syntax = GoFloatSyntax::kGo) {
  return GoParseFloat(s, syntax).error;
}

TEST(GoParseFloat, ReadsDecimals) {
  EXPECT_EQ(Value("1.5"), 1.5);
  EXPECT_EQ(Value("-.5"), -0.5);
  EXPECT_EQ(Value("5."), 5);
  EXPECT_EQ(Value("+1e3"), 1000);
  EXPECT_EQ(Value("5.E-1"), 0.5);
  EXPECT_EQ(Value("00012"), 12);
  EXPECT_EQ(Value("123456789012345"), 123456789012345.0);
  EXPECT_EQ(Value("9007199254740993"), 9007199254740992.0);  // ties round to even
  EXPECT_EQ(Value("0.1"), 0.1);
  EXPECT_EQ(Value("2.2250738585072011e-308"), 2.2250738585072011e-308);
  EXPECT_EQ(Value("1.7976931348623157e308"), std::numeric_limits<double>::max());
  EXPECT_TRUE(std::signbit(Value("-0")));
}

TEST(GoParseFloat, ReadsHexWithBinaryExponent) {
  EXPECT_EQ(Value("0x1p3"), 8);
  EXPECT_EQ(Value("0X1.8P-1"), 0.75);
  EXPECT_EQ(Value("-0x.8p1"), -1);
  EXPECT_EQ(Value("0xAp0"), 10);
  EXPECT_EQ(Value("0x1p-1074"), std::numeric_limits<double>::denorm_min());
  for (const char* bad : {"0x10", "0x1e3", "0x", "0xp1", "0x1p", "0x1.2.3p0"}) {
    EXPECT_EQ(ErrorOf(bad), Error::kSyntax) << bad;
  }
}

TEST(GoParseFloat, AcceptsUnderscoresOnlyBetweenDigits) {
  EXPECT_EQ(Value("1_000"), 1000);
  EXPECT_EQ(Value("1_23.50_0_0e+1_2"), 1.235e14);
  EXPECT_EQ(Value("0x_1p0"), 1);
  EXPECT_EQ(Value("0x1_0p1_0"), 16384);
  for (const char* bad : {"_1", "1_", "1__0", "1_.5", "1._5", "1.5_e1", "1e_1", "1e+_1", "-_1",
                          "+_1", "0x1_p0", "0x__1p0", "0x1p1_"}) {
    EXPECT_EQ(ErrorOf(bad), Error::kSyntax) << bad;
  }
}

TEST(GoParseFloat, ReadsInfinityAndNaNInAnyCase) {
  EXPECT_EQ(Value("inf"), kInf);
  EXPECT_EQ(Value("+Inf"), kInf);
  EXPECT_EQ(Value("-INFINITY"), -kInf);
  EXPECT_EQ(Value("Infinity"), kInf);
  EXPECT_EQ(std::bit_cast<uint64_t>(Value("NaN")), kGoNaNBits);
  EXPECT_EQ(std::bit_cast<uint64_t>(Value("nan")), kGoNaNBits);
  for (const char* bad : {"+nan", "-NaN", "infin", "in", "infinityy", "infx", "nana", "nan(1)"}) {
    EXPECT_EQ(ErrorOf(bad), Error::kSyntax) << bad;
  }
}

TEST(GoParseFloat, RejectsEverythingElse) {
  for (const char* bad :
       {"",     "+",     "-",   ".",   "e1",   "1e",    "1e+",  "1E-", " 1",  "1 ", "1\t",
        "1..2", "1.2.3", "++1", "+-1", "1e5x", "0b101", "0o17", "1p3", "abc", "1,5"}) {
    GoFloatResult r = GoParseFloat(bad);
    EXPECT_EQ(r.error, Error::kSyntax) << bad;
    EXPECT_EQ(r.value, 0) << bad;
  }
}

TEST(GoParseFloat, OverflowIsARangeErrorWithInfinity) {
  for (const char* huge : {"1e400", "1.7976931348623159e308", "0x1p1024", "0x1.fffffffffffff8p1023",
                           "123456789e99999999999999"}) {
    GoFloatResult r = GoParseFloat(huge);
    EXPECT_EQ(r.error, Error::kRange) << huge;
    EXPECT_EQ(r.value, kInf) << huge;
  }
  GoFloatResult neg = GoParseFloat("-1e400");
  EXPECT_EQ(neg.error, Error::kRange);
  EXPECT_EQ(neg.value, -kInf);
}

TEST(GoParseFloat, UnderflowRoundsWithoutError) {
  EXPECT_EQ(Value("1e-400"), 0);
  EXPECT_TRUE(std::signbit(Value("-1e-400")));
  EXPECT_EQ(Value("0x1p-1076"), 0);
  EXPECT_EQ(Value("0.0000001e-99999999999"), 0);
  EXPECT_EQ(Value("0e999999999999"), 0);
  EXPECT_EQ(Value("4e-320"), 4e-320);  // subnormal, not zero
  EXPECT_EQ(Value("3e-324"), std::numeric_limits<double>::denorm_min());
}

TEST(GoParseFloat, Pre113SyntaxRejectsHexAndUnderscores) {
  constexpr auto kPre113 = GoFloatSyntax::kPre113;
  EXPECT_EQ(Value("1.5e3", kPre113), 1500);
  EXPECT_EQ(Value("-Inf", kPre113), -kInf);
  EXPECT_EQ(std::bit_cast<uint64_t>(Value("NaN", kPre113)), kGoNaNBits);
  EXPECT_EQ(ErrorOf("1e400", kPre113), Error::kRange);
  for (const char* bad : {"0x1p3", "1_000", "0x_1p0", "1e1_0"}) {
    EXPECT_EQ(ErrorOf(bad, kPre113), Error::kSyntax) << bad;
  }
}

}  // namespace
}  // namespace steward
