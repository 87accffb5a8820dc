#include "demo_settings.h"

#include <gtest/gtest.h>

namespace steward::demo {
namespace {

TEST(ParseDuration, AcceptsUnitsAndSequences) {
  EXPECT_EQ(*ParseDuration("0"), Duration(0));
  EXPECT_EQ(*ParseDuration("200ms"), Duration(200));
  EXPECT_EQ(*ParseDuration("1.5s"), Duration(1500));
  EXPECT_EQ(*ParseDuration("2m"), Duration(120000));
  EXPECT_EQ(*ParseDuration("1h"), Duration(3600000));
  EXPECT_EQ(*ParseDuration("1m30s"), Duration(90000));
  EXPECT_EQ(*ParseDuration("2500us"), Duration(2));
}

TEST(ParseDuration, RejectsMissingUnitsNegativesAndJunk) {
  for (const char* bad : {"", "5", "-1s", "1x", "s", "1.2.3s", "10 s", "1s "}) {
    StatusOr<Duration> d = ParseDuration(bad);
    EXPECT_FALSE(d.ok()) << bad;
    if (!d.ok()) {
      EXPECT_EQ(d.status().code(), StatusCode::kInvalidArgument);
    }
  }
}

TEST(ParseBytes, AcceptsDecimalAndBinaryUnits) {
  EXPECT_EQ(*ParseBytes("0"), 0);
  EXPECT_EQ(*ParseBytes("4096"), 4096);
  EXPECT_EQ(*ParseBytes("64K"), 64000);
  EXPECT_EQ(*ParseBytes("64Ki"), 65536);
  EXPECT_EQ(*ParseBytes("1Mi"), 1048576);
  EXPECT_EQ(*ParseBytes("1MiB"), 1048576);
  EXPECT_EQ(*ParseBytes("1.5Mi"), 1572864);
  EXPECT_EQ(*ParseBytes("2G"), 2000000000);
  EXPECT_EQ(*ParseBytes("1Gi"), int64_t{1} << 30);
}

TEST(ParseBytes, RejectsUnknownUnitsAndNegatives) {
  for (const char* bad : {"", "-1", "1Xi", "Mi", "1 Mi"}) EXPECT_FALSE(ParseBytes(bad).ok()) << bad;
}

TEST(ParseBool, AcceptsCommonSpellings) {
  for (const char* t : {"true", "TRUE", "1", "yes", "on"}) EXPECT_TRUE(*ParseBool(t)) << t;
  for (const char* f : {"false", "False", "0", "no", "off"}) EXPECT_FALSE(*ParseBool(f)) << f;
  EXPECT_FALSE(ParseBool("maybe").ok());
}

TEST(ParseRate, AcceptsOnlyZeroToOne) {
  EXPECT_EQ(*ParseRate("0"), 0);
  EXPECT_EQ(*ParseRate("0.25"), 0.25);
  EXPECT_EQ(*ParseRate("1"), 1);
  for (const char* bad : {"", "-0.1", "1.01", "nan", "half", "0.5x"}) {
    EXPECT_FALSE(ParseRate(bad).ok()) << bad;
  }
}

TEST(ApplyFields, SetsEveryField) {
  Settings s;
  bool crash = false;
  ASSERT_TRUE(ApplyFields({{"error_rate", "0.5"},
                           {"latency", "200ms"},
                           {"unhealthy", "true"},
                           {"hang", "false"},
                           {"leak", "1Mi"}},
                          &s, &crash)
                  .ok());
  EXPECT_EQ(s.error_rate, 0.5);
  EXPECT_EQ(s.latency, Duration(200));
  EXPECT_TRUE(s.unhealthy);
  EXPECT_FALSE(s.hang);
  EXPECT_EQ(s.leak_bytes_per_second, 1048576);
  EXPECT_FALSE(crash);
}

TEST(ApplyFields, ResetRestoresDefaultsBeforeOtherFields) {
  Settings s;
  s.unhealthy = true;
  s.error_rate = 1;
  bool crash = false;
  ASSERT_TRUE(ApplyFields({{"reset", "true"}, {"latency", "1s"}}, &s, &crash).ok());
  Settings want;
  want.latency = Duration(1000);
  EXPECT_EQ(s, want);
}

TEST(ApplyFields, LeavesSettingsUntouchedOnAnyError) {
  Settings s;
  bool crash = false;
  Status st = ApplyFields({{"error_rate", "0.5"}, {"latency", "soon"}}, &s, &crash);
  ASSERT_FALSE(st.ok());
  EXPECT_NE(st.message().find("latency: invalid duration 'soon'"), std::string::npos)
      << st.message();
  EXPECT_EQ(s, Settings{});
}

TEST(ApplyFields, RejectsUnknownFieldsByName) {
  Settings s;
  bool crash = false;
  Status st = ApplyFields({{"error-rate", "1"}}, &s, &crash);
  ASSERT_FALSE(st.ok());
  EXPECT_NE(st.message().find("unknown field 'error-rate'"), std::string::npos);
}

TEST(ApplyFields, ReportsCrashRequest) {
  Settings s;
  bool crash = false;
  ASSERT_TRUE(ApplyFields({{"crash", "true"}}, &s, &crash).ok());
  EXPECT_TRUE(crash);
}

TEST(FieldsFromJson, SpellsScalarsAsStrings) {
  auto f = FieldsFromJson(R"({"error_rate": 0.5, "unhealthy": true, "latency": "1s"})");
  ASSERT_TRUE(f.ok());
  EXPECT_EQ(f->at("error_rate"), "0.5");
  EXPECT_EQ(f->at("unhealthy"), "true");
  EXPECT_EQ(f->at("latency"), "1s");
}

TEST(FieldsFromJson, RejectsNonObjectsAndNestedValues) {
  EXPECT_FALSE(FieldsFromJson("[1]").ok());
  EXPECT_FALSE(FieldsFromJson("{oops").ok());
  EXPECT_FALSE(FieldsFromJson(R"({"leak": {"rate": 1}})").ok());
}

}  // namespace
}  // namespace steward::demo
