// Steward's built-in alerts parse as a rule file, and their default runbooks give way to the
// stack's own.
#include "alerting/builtin_rules.h"

#include <gtest/gtest.h>

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
                           "StewardDiskNearlyFull", "StewardBackupLate"})
    EXPECT_TRUE(names.count(want)) << want;
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
