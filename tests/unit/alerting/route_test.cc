// The route tree: Alertmanager's documented example tree, inheritance, continue, group_by and the
// keys Alertmanager sends as groupKey.
#include "alerting/route.h"

#include <gtest/gtest.h>

#include "unit/alerting/alerting_yaml.h"

namespace steward::alerting {
namespace {

using testing::L;
using testing::ParseAlerting;

// The example tree of Alertmanager's configuration documentation.
constexpr char kDocumentedTree[] = R"yaml(  route:
    receiver: default-receiver
    group_wait: 30s
    group_interval: 5m
    repeat_interval: 4h
    group_by: [cluster, alertname]
    routes:
      - receiver: database-pager
        group_wait: 10s
        matchers: ['service=~"mysql|cassandra"']
      - receiver: frontend-pager
        group_by: [product, environment]
        matchers: [team="frontend"]
      - receiver: dev-pager
        matchers: [service="inhouse-service"]
        mute_time_intervals: [offhours, holidays]
        continue: true
      - receiver: on-call-pager
        matchers: [service="inhouse-service"]
        active_time_intervals: [offhours, holidays]
  receivers:
    - name: default-receiver
    - name: database-pager
    - name: frontend-pager
    - name: dev-pager
    - name: on-call-pager
  time_intervals:
    - name: offhours
      time_intervals: [{times: [{start_time: '20:00', end_time: '23:00'}]}]
    - name: holidays
      time_intervals: [{months: ['12']}]
)yaml";

std::unique_ptr<Route> Build(const std::string& yaml) {
  StatusOr<std::unique_ptr<Route>> r = Route::Build(ParseAlerting(yaml).route);
  EXPECT_TRUE(r.ok()) << r.status().message();
  return std::move(r).value();
}

std::vector<std::string> Receivers(const Route& root, const tsdb::Labels& labels) {
  std::vector<std::string> out;
  for (const Route* r : root.Match(labels)) out.push_back(r->opts().receiver);
  return out;
}

TEST(Route, DocumentedTreeSendsEachAlertWhereTheDocsSay) {
  auto root = Build(kDocumentedTree);
  struct Case {
    tsdb::Labels labels;
    std::vector<std::string> receivers;
  };
  std::vector<Case> cases = {
      {L({{"alertname", "Disk"}, {"cluster", "eu"}}), {"default-receiver"}},
      {L({{"service", "mysql"}}), {"database-pager"}},
      {L({{"service", "cassandra"}, {"team", "frontend"}}), {"database-pager"}},
      {L({{"service", "mysqlx"}}), {"default-receiver"}},  // regexes are anchored
      {L({{"team", "frontend"}, {"product", "shop"}}), {"frontend-pager"}},
      {L({{"service", "inhouse-service"}}), {"dev-pager", "on-call-pager"}},
  };
  for (const Case& c : cases) {
    EXPECT_EQ(Receivers(*root, c.labels), c.receivers) << c.labels.ToString();
  }
}

TEST(Route, ChildrenInheritReceiverGroupByAndTimersButNotTimeIntervals) {
  auto root = Build(R"yaml(  route:
    receiver: root
    group_by: [alertname]
    group_wait: 1s
    group_interval: 2s
    repeat_interval: 3s
    routes:
      - matchers: [a="1"]
        group_interval: 20s
        mute_time_intervals: [t]
        routes:
          - matchers: [b="1"]
            group_by: []
  receivers: [{name: root}]
  time_intervals: [{name: t}]
)yaml");
  const Route* child = root->routes()[0].get();
  const Route* grandchild = child->routes()[0].get();
  EXPECT_EQ(child->opts().receiver, "root");
  EXPECT_EQ(child->opts().group_by, std::vector<std::string>{"alertname"});
  EXPECT_EQ(child->opts().group_wait_ms, 1000);
  EXPECT_EQ(child->opts().group_interval_ms, 20000);
  EXPECT_EQ(child->opts().repeat_interval_ms, 3000);
  EXPECT_EQ(child->opts().mute_time_intervals, std::vector<std::string>{"t"});
  EXPECT_EQ(grandchild->opts().group_interval_ms, 20000);
  // An empty group_by inherits, as in Alertmanager (only labels or '...' override).
  EXPECT_EQ(grandchild->opts().group_by, std::vector<std::string>{"alertname"});
  EXPECT_TRUE(grandchild->opts().mute_time_intervals.empty());
}

TEST(Route, RootDefaultsAreAlertmanagers) {
  auto root = Build("  route: {receiver: r}\n  receivers: [{name: r}]\n");
  EXPECT_EQ(root->opts().group_wait_ms, 30000);
  EXPECT_EQ(root->opts().group_interval_ms, 300000);
  EXPECT_EQ(root->opts().repeat_interval_ms, 4 * 3600000);
  EXPECT_TRUE(root->opts().group_by.empty());
  EXPECT_EQ(root->GroupKey(root->GroupLabels(L({{"alertname", "x"}}))), "{}:{}");
}

TEST(Route, FirstMatchingChildWinsUnlessItContinues) {
  auto root = Build(R"yaml(  route:
    receiver: root
    routes:
      - {matchers: [a="1"], receiver: first, continue: true}
      - {matchers: [a="1"], receiver: second}
      - {matchers: [a="1"], receiver: third}
      - routes: [{matchers: [b="1"], receiver: nested}]
  receivers: [{name: root}, {name: first}, {name: second}, {name: third}, {name: nested}]
)yaml");
  EXPECT_EQ(Receivers(*root, L({{"a", "1"}})), (std::vector<std::string>{"first", "second"}));
  // A child without matchers matches everything; with no matching grandchild it is the result.
  EXPECT_EQ(Receivers(*root, L({{"a", "2"}})), std::vector<std::string>{"root"});
  EXPECT_EQ(Receivers(*root, L({{"b", "1"}})), std::vector<std::string>{"nested"});
}

TEST(Route, GroupKeysHaveAlertmanagersForm) {
  auto root = Build(kDocumentedTree);
  tsdb::Labels alert =
      L({{"alertname", "Down"}, {"cluster", "eu\"1"}, {"service", "mysql"}, {"x", "y"}});
  std::vector<const Route*> routes = root->Match(alert);
  ASSERT_EQ(routes.size(), 1u);
  tsdb::Labels group = routes[0]->GroupLabels(alert);
  EXPECT_EQ(group, L({{"alertname", "Down"}, {"cluster", "eu\"1"}}));
  EXPECT_EQ(routes[0]->GroupKey(group),
            R"({}/{service=~"mysql|cassandra"}:{alertname="Down", cluster="eu\"1"})");
  EXPECT_EQ(routes[0]->id(), R"({}/{service=~"mysql|cassandra"}/0)");
}

TEST(Route, NestedRouteKeysMatchAlertmanagers) {
  // The groupKey prometheus-alertmanager 0.25.0 sent for this tree and alert.
  auto root = Build(R"yaml(  route:
    receiver: r
    group_by: [alertname, cluster]
    routes:
      - matchers: ['service=~"mysql|cassandra"', 'team="db"']
        routes: [{matchers: [sev="x"]}]
  receivers: [{name: r}]
)yaml");
  tsdb::Labels alert = L({{"alertname", "Down"},
                          {"cluster", "eu\"1"},
                          {"service", "mysql"},
                          {"sev", "x"},
                          {"team", "db"}});
  std::vector<const Route*> routes = root->Match(alert);
  ASSERT_EQ(routes.size(), 1u);
  EXPECT_EQ(
      routes[0]->GroupKey(routes[0]->GroupLabels(alert)),
      R"({}/{service=~"mysql|cassandra",team="db"}/{sev="x"}:{alertname="Down", cluster="eu\"1"})");
}

TEST(Route, MatchersInKeysAreSortedByNameValueAndOperator) {
  auto root = Build(R"yaml(  route:
    receiver: r
    routes: [{matchers: ['z="1"', 'a!="2"', 'a="2"']}]
  receivers: [{name: r}]
)yaml");
  EXPECT_EQ(root->routes()[0]->key(), R"({}/{a="2",a!="2",z="1"})");
}

TEST(Route, GroupByAllGroupsByEveryLabel) {
  auto root = Build("  route: {receiver: r, group_by: ['...']}\n  receivers: [{name: r}]\n");
  tsdb::Labels alert = L({{"alertname", "A"}, {"instance", "i1"}});
  EXPECT_EQ(root->GroupLabels(alert), alert);
  EXPECT_EQ(root->GroupKey(alert), R"({}:{alertname="A", instance="i1"})");
}

}  // namespace
}  // namespace steward::alerting
