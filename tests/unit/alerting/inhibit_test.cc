// Inhibition: source alerts mute targets with equal labels, never themselves.
#include "alerting/inhibit.h"

#include <gtest/gtest.h>

#include "unit/alerting/alerting_yaml.h"

namespace steward::alerting {
namespace {

using testing::L;
using testing::ParseAlerting;

constexpr int64_t kNow = 1700000000000;

Alert Firing(tsdb::Labels labels) { return Alert{std::move(labels), {}, kNow - 1000, 0, kNow, ""}; }

Inhibitor Build(const std::string& yaml, const std::vector<Alert>& alerts) {
  StatusOr<Inhibitor> in = Inhibitor::Build(ParseAlerting(yaml).inhibit_rules);
  EXPECT_TRUE(in.ok());
  std::vector<const Alert*> ptrs;
  for (const Alert& a : alerts) ptrs.push_back(&a);
  in->SetSources(ptrs, kNow);
  return std::move(in).value();
}

constexpr char kCriticalOverWarning[] = R"yaml(  inhibit_rules:
    - source_matchers: [severity="critical"]
      target_matchers: [severity="warning"]
      equal: [cluster]
)yaml";

TEST(Inhibitor, FiringSourceMutesTargetsWithEqualLabels) {
  Alert source = Firing(L({{"alertname", "Down"}, {"severity", "critical"}, {"cluster", "eu"}}));
  Inhibitor in = Build(kCriticalOverWarning, {source});
  EXPECT_EQ(in.InhibitedBy(L({{"alertname", "Slow"}, {"severity", "warning"}, {"cluster", "eu"}})),
            source.Fingerprint());
  EXPECT_FALSE(
      in.InhibitedBy(L({{"alertname", "Slow"}, {"severity", "warning"}, {"cluster", "us"}})));
  EXPECT_FALSE(in.InhibitedBy(L({{"alertname", "Slow"}, {"severity", "info"}, {"cluster", "eu"}})));
  // A label both lack is equal ("" == "").
  Inhibitor no_cluster = Build(kCriticalOverWarning, {Firing(L({{"severity", "critical"}}))});
  EXPECT_TRUE(no_cluster.InhibitedBy(L({{"severity", "warning"}})));
}

TEST(Inhibitor, ResolvedSourcesDoNotInhibit) {
  Alert source = Firing(L({{"severity", "critical"}, {"cluster", "eu"}}));
  source.ends_at_ms = kNow - 1;
  Inhibitor in = Build(kCriticalOverWarning, {source});
  EXPECT_FALSE(in.InhibitedBy(L({{"severity", "warning"}, {"cluster", "eu"}})));
}

TEST(Inhibitor, AnAlertMatchingBothSidesDoesNotInhibitItselfOrItsPeers) {
  constexpr char kBothSides[] = R"yaml(  inhibit_rules:
    - source_matchers: [alertname="NodeDown"]
      target_matchers: ['alertname=~"NodeDown|ServiceDown"']
      equal: [node]
)yaml";
  Alert a = Firing(L({{"alertname", "NodeDown"}, {"node", "n1"}, {"replica", "a"}}));
  Alert b = Firing(L({{"alertname", "NodeDown"}, {"node", "n1"}, {"replica", "b"}}));
  Inhibitor in = Build(kBothSides, {a, b});
  EXPECT_FALSE(in.InhibitedBy(a.labels));
  EXPECT_FALSE(in.InhibitedBy(b.labels));
  EXPECT_TRUE(in.InhibitedBy(L({{"alertname", "ServiceDown"}, {"node", "n1"}})));
}

}  // namespace
}  // namespace steward::alerting
