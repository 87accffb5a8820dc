#include "scan/finding.h"

#include <gtest/gtest.h>

#include <string>
#include <utility>

namespace steward::scan {
namespace {

TEST(Severity, NamesRoundTripAndModerateIsMedium) {
  for (Severity s : {Severity::kInfo, Severity::kLow, Severity::kMedium, Severity::kHigh,
                     Severity::kCritical}) {
    EXPECT_EQ(ParseSeverity(SeverityName(s)), s);
  }
  EXPECT_EQ(ParseSeverity("MODERATE"), Severity::kMedium);
  EXPECT_EQ(ParseSeverity("Critical"), Severity::kCritical);
  EXPECT_FALSE(ParseSeverity("severe").has_value());
}

Finding At(std::string rule, Severity severity, std::string path, int line) {
  Finding f;
  f.rule = std::move(rule);
  f.severity = severity;
  f.path = std::move(path);
  f.line = line;
  return f;
}

TEST(ScanResult, MergeAddsAndSortPutsTheWorstFirst) {
  ScanResult a;
  a.findings.push_back(At("r1", Severity::kLow, "b", 2));
  a.files = 2;
  a.bytes = 10;
  ScanResult b;
  b.findings.push_back(At("r2", Severity::kCritical, "z", 9));
  b.findings.push_back(At("r3", Severity::kLow, "a", 5));
  b.problems.push_back(Problem{"x.lock", 3, "bad line"});
  b.files = 1;
  b.bytes = 5;
  a.Merge(std::move(b));
  a.Sort();
  ASSERT_EQ(a.findings.size(), 3u);
  EXPECT_EQ(a.findings[0].rule, "r2");
  EXPECT_EQ(a.findings[1].rule, "r3");
  EXPECT_EQ(a.findings[2].rule, "r1");
  EXPECT_EQ(a.files, 3u);
  EXPECT_EQ(a.bytes, 15u);
  EXPECT_EQ(a.problems[0].ToString(), "x.lock:3: bad line");
}

}  // namespace
}  // namespace steward::scan
