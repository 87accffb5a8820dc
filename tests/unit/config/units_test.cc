#include <gtest/gtest.h>

#include <csignal>

#include "config/stack_parser.h"

namespace steward::config {
namespace {

using std::chrono::milliseconds;

TEST(ParseDuration, AcceptsUnitsAndCombinations) {
  const std::pair<const char*, int64_t> cases[] = {
      {"0s", 0},       {"500ms", 500},     {"2s", 2000},     {"1m", 60000},
      {"1h", 3600000}, {"1h30m", 5400000}, {"1m30s", 90000}, {"1s500ms", 1500},
      {"1.5s", 1500},  {"0.5m", 30000},    {"10ms", 10},     {"2h0m1s", 7201000},
  };
  for (const auto& [text, ms] : cases) {
    std::optional<Duration> d = ParseDuration(text);
    ASSERT_TRUE(d.has_value()) << text;
    EXPECT_EQ(d->count(), ms) << text;
  }
}

TEST(ParseDuration, RejectsBareNumbersAndGarbage) {
  for (const char* text : {"", "5", "0", "-1s", "s", "1x", "1 s", "1.s", ".5s", "1sm", "abc",
                           "1e3s", "99999999999999999h"}) {
    EXPECT_FALSE(ParseDuration(text).has_value()) << text;
  }
}

TEST(ParseSize, AcceptsBytesAndBothUnitFamilies) {
  const std::pair<const char*, int64_t> cases[] = {
      {"0", 0},
      {"1024", 1024},
      {"1K", 1000},
      {"512k", 512000},
      {"1M", 1000000},
      {"2G", 2000000000},
      {"1T", 1000000000000},
      {"1Ki", 1024},
      {"256Mi", 256 * 1024 * 1024},
      {"1Gi", int64_t{1} << 30},
      {"1Ti", int64_t{1} << 40},
      {"1.5Gi", int64_t{3} << 29},
      {"0.5M", 500000},
  };
  for (const auto& [text, bytes] : cases) {
    std::optional<int64_t> s = ParseSize(text);
    ASSERT_TRUE(s.has_value()) << text;
    EXPECT_EQ(*s, bytes) << text;
  }
}

TEST(ParseSize, RejectsGarbage) {
  for (const char* text :
       {"", "lots", "1.5", "-1M", "1MB", "1mi", "1 Mi", "Mi", "1m", "1KiB", "99999999999T"}) {
    EXPECT_FALSE(ParseSize(text).has_value()) << text;
  }
}

TEST(FormatDuration, RoundTripsThroughParse) {
  const std::pair<int64_t, const char*> cases[] = {{0, "0s"},          {500, "500ms"},
                                                   {2000, "2s"},       {90000, "1m30s"},
                                                   {5400000, "1h30m"}, {1500, "1s500ms"}};
  for (const auto& [ms, text] : cases) {
    EXPECT_EQ(FormatDuration(milliseconds(ms)), text);
    EXPECT_EQ(ParseDuration(text)->count(), ms);
  }
}

TEST(FormatSize, PrefersExactBinaryUnits) {
  EXPECT_EQ(FormatSize(256 * 1024 * 1024), "256Mi");
  EXPECT_EQ(FormatSize(500000000), "500M");
  EXPECT_EQ(FormatSize(1000), "1k");
  EXPECT_EQ(FormatSize(1023), "1023");
  EXPECT_EQ(FormatSize(0), "0");
}

TEST(Signals, ParseWithOrWithoutPrefixAndPrintCanonically) {
  EXPECT_EQ(ParseSignal("SIGTERM"), SIGTERM);
  EXPECT_EQ(ParseSignal("TERM"), SIGTERM);
  EXPECT_EQ(ParseSignal("int"), SIGINT);
  EXPECT_EQ(ParseSignal("USR2"), SIGUSR2);
  EXPECT_FALSE(ParseSignal("SIGFOO").has_value());
  EXPECT_FALSE(ParseSignal("15").has_value());
  EXPECT_EQ(SignalName(SIGKILL), "SIGKILL");
  EXPECT_EQ(SignalName(42), "signal 42");
}

}  // namespace
}  // namespace steward::config
