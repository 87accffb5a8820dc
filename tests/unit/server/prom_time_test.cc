#include <gtest/gtest.h>

#include "server/http_internal.h"

namespace steward::server {
namespace {

int64_t Ms(const std::string& s) {
  auto t = ParsePromTime(s);
  EXPECT_TRUE(t.ok()) << s << ": " << t.status().ToString();
  return t.ok() ? *t : 0;
}

TEST(PromTime, UnixSecondsWithFraction) {
  EXPECT_EQ(Ms("1764183739"), 1764183739000);
  EXPECT_EQ(Ms("1764183739.123"), 1764183739123);
  EXPECT_EQ(Ms("-1.5"), -1500);
}

TEST(PromTime, Rfc3339WithFractionAndZones) {
  EXPECT_EQ(Ms("2025-11-26T19:02:19Z"), 1764183739000);
  EXPECT_EQ(Ms("2025-11-26T19:02:19.1239Z"), 1764183739123);  // truncated to ms
  EXPECT_EQ(Ms("2025-11-26T20:02:19+01:00"), 1764183739000);
  EXPECT_EQ(Ms("2024-02-29T00:00:00Z"), 1709164800000);
}

TEST(PromTime, RejectsWhatPrometheusRejects) {
  for (const char* bad : {"", "abc", "nan", "inf", "1e3x", "0x10", "2025-02-29T00:00:00Z",
                          "2025-11-26T19:02:19", "2025-11-26T19:02:19Z junk",
                          "2025-11-26T24:00:00Z", "2025-11-26T19:-2:19Z", "99999999999999999"}) {
    auto t = ParsePromTime(bad);
    EXPECT_FALSE(t.ok()) << bad;
    if (!t.ok()) {
      EXPECT_NE(t.status().message().find("cannot parse"), std::string::npos);
    }
  }
}

}  // namespace
}  // namespace steward::server
