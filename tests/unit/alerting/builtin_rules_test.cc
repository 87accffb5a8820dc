// Steward's built-in alerts parse as a rule file, and their default runbooks give way to the
// stack's own.
#include "alerting/builtin_rules.h"

#include <gtest/gtest.h>

#include <map>
#include <set>

#include "alerting/rule_file.h"

namespace steward::alerting {
namespace {

TEST(BuiltinRules, AreAValidRuleFileWithEveryBuiltinAlert) {
  auto parsed = ParseRuleText(BuiltinRulesText(), kBuiltinRulesPath);
  ASSERT_TRUE(parsed.ok()) << (parsed.errors.empty() ? "" : parsed.errors[0].ToString());
  std::set<std::string> names;
  for (const auto& g : parsed.file.groups)
    for (const auto& r : g.rules) {
      names.insert(r.name);
      bool severity = false;
      for (const auto& [k, v] : r.labels) severity |= k == "severity";
      EXPECT_TRUE(severity) << r.name << " needs a severity for incidents";
    }
  for (const char* want : {"StewardReplicaDown", "StewardCrashLooping",
                           "StewardHealthCheckFailing", "StewardProbeFailing",
                           "StewardDiskNearlyFull", "StewardBackupLate",
                           "StewardCertificateExpiringSoon"})
    EXPECT_TRUE(names.count(want)) << want;
}

// Two rules share the name: a warning from 14 days down to 3, then a critical one, never both
// at once for one certificate, each held 10m so one bad probe does not page.
TEST(BuiltinRules, CertificateExpiryWarnsAt14DaysAndIsCriticalAt3) {
  auto parsed = ParseRuleText(BuiltinRulesText(), kBuiltinRulesPath);
  ASSERT_TRUE(parsed.ok());
  std::map<std::string, std::string> expr_by_severity;
  for (const auto& g : parsed.file.groups)
    for (const auto& r : g.rules) {
      if (r.name != "StewardCertificateExpiringSoon") continue;
      EXPECT_EQ(r.for_ms, 10 * 60 * 1000) << r.expr;
      for (const auto& [k, v] : r.labels)
        if (k == "severity") expr_by_severity[v] = r.expr;
      bool names_instance = false;
      for (const auto& [k, v] : r.annotations)
        names_instance |= k == "summary" && v.find("$labels.instance") != std::string::npos;
      EXPECT_TRUE(names_instance) << "the summary names the certificate's instance";
    }
  ASSERT_EQ(expr_by_severity.size(), 2u);
  EXPECT_NE(expr_by_severity["warning"].find("probe_tls_days_left{job=\"monitor\"} < 14"),
            std::string::npos);
  EXPECT_NE(expr_by_severity["warning"].find(">= 3"), std::string::npos);
  EXPECT_NE(expr_by_severity["critical"].find("probe_tls_days_left{job=\"monitor\"} < 3"),
            std::string::npos);
}

TEST(BuiltinRules, DefaultRunbooksFillOnlyAlertsTheStackLeavesOpen) {
  EXPECT_EQ(WithDefaultRunbooks({}).size(), DefaultRunbooks().size());
  config::Runbook mine;
  mine.name = "watch-crashes";
  mine.alert = "StewardCrashLooping";
  mine.dry_run = true;
  auto merged = WithDefaultRunbooks({mine});
  ASSERT_EQ(merged.size(), DefaultRunbooks().size());
  int crash = 0;
  for (const auto& r : merged) crash += r.alert == "StewardCrashLooping";
  EXPECT_EQ(crash, 1);
  EXPECT_EQ(merged[0].name, "watch-crashes");
}

}  // namespace
}  // namespace steward::alerting
