#include <gtest/gtest.h>

#include <cmath>
#include <limits>

#include "server/prom_internal.h"

namespace steward::server {
namespace {

TEST(PromValue, FixedBetweenOneMillionthAndOneE21ScientificOutside) {
  EXPECT_EQ(PromValue(1.5), "1.5");
  EXPECT_EQ(PromValue(-0.25), "-0.25");
  EXPECT_EQ(PromValue(0), "0");
  EXPECT_EQ(PromValue(1e-6), "0.000001");
  EXPECT_EQ(PromValue(1e-7), "1e-07");
  EXPECT_EQ(PromValue(1e21), "1e+21");
  EXPECT_EQ(PromValue(std::nan("")), "NaN");
  EXPECT_EQ(PromValue(-std::numeric_limits<double>::infinity()), "-Inf");
}

// Go's FormatFloat(v, 'f', -1, 64): the shortest digits that read back as v, then zeros; C++'s
// fixed form would write the exact integer (9223372036854775808 for 2^63).
TEST(PromValue, LargeIntegersKeepOnlyTheShortestDigitsAsGoDoes) {
  EXPECT_EQ(PromValue(0x1p63), "9223372036854776000");
  EXPECT_EQ(PromValue(-0x1p63), "-9223372036854776000");
  EXPECT_EQ(PromValue(1.2345678901234568e17), "123456789012345680");
  EXPECT_EQ(PromValue(1e20), "100000000000000000000");
  EXPECT_EQ(PromValue(0x1p53), "9007199254740992");
  EXPECT_EQ(PromValue(0x1p53 + 2), "9007199254740994");
  EXPECT_EQ(PromValue(9.999999999999999e20), "999999999999999900000");
}

}  // namespace
}  // namespace steward::server
