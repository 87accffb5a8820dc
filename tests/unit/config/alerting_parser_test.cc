// The stack's `rule_files:` and `alerting:` sections: a full Alertmanager-shaped example, the
// matcher syntax, time interval formats, and Alertmanager's validation errors with their places.
#include <gtest/gtest.h>

#include "config/alerting.h"
#include "config/stack_json.h"
#include "config/stack_parser.h"
#include "unit/config/parse_helpers.h"

namespace steward::config {
namespace {

using std::chrono::milliseconds;
using testing::Errors;
using testing::Parse;
using Op = LabelMatcher::Op;

constexpr char kFull[] = R"yaml(project: shop
services:
  web: {command: ./web}
rule_files: [rules/*.yml, /etc/rules/extra.yml]
alerting:
  evaluation_interval: 15s
  resolve_timeout: 2m
  external_labels: {cluster: eu1}
  external_url: http://steward.example:9090
  retry_initial: 2s
  retry_max: 1m
  give_up_after: 2h
  route:
    receiver: team-x
    group_by: [alertname, cluster]
    group_wait: 10s
    group_interval: 1m
    repeat_interval: 1d
    routes:
      - matchers: ['severity=~"crit|page"', 'team="db"']
        receiver: pager
        continue: true
        mute_time_intervals: [offhours]
      - match: {service: files}
        match_re: {env: "prod|staging"}
        group_by: ['...']
        active_time_intervals: [offhours]
        routes:
          - matchers: ['{owner!="me", x!~"a.*"}']
  receivers:
    - name: team-x
      webhook_configs:
        - url: http://localhost:5001/hook
          max_alerts: 5
          send_resolved: false
          headers: {Authorization: Bearer abc}
      alertmanager_configs:
        - url: http://am:9093
    - name: pager
      pagerduty_configs:
        - routing_key: KEY123
          severity: critical
      slack_configs:
        - api_url: https://hooks.slack.com/services/T/B/X
          channel: '#ops'
          title: '{{ .CommonLabels.alertname }}'
  inhibit_rules:
    - source_matchers: [severity="critical"]
      target_matchers: [severity="warning"]
      equal: [alertname, cluster]
    - source_match: {severity: page}
      target_match_re: {severity: "info|warning"}
  time_intervals:
    - name: offhours
      time_intervals:
        - times: [{start_time: "00:00", end_time: "08:00"}, {start_time: "18:00", end_time: "24:00"}]
          weekdays: ['monday:friday']
          location: Europe/Berlin
        - weekdays: [Saturday, sunday]
          days_of_month: ['1:5', '-3:-1']
          months: ['january:march', '12']
          years: ['2020:2022']
)yaml";

TEST(AlertingParser, ReadsAFullAlertmanagerShapedSection) {
  ParseResult r = Parse(kFull);
  ASSERT_TRUE(r.ok()) << Errors(r);
  const Stack& s = *r.stack;
  EXPECT_EQ(s.rule_files,
            (std::vector<std::string>{"/srv/app/rules/*.yml", "/etc/rules/extra.yml"}));
  const Alerting& a = s.alerting;
  EXPECT_TRUE(a.declared);
  EXPECT_EQ(a.evaluation_interval, milliseconds(15000));
  EXPECT_EQ(a.resolve_timeout, milliseconds(120000));
  EXPECT_EQ(a.external_labels.at("cluster"), "eu1");
  EXPECT_EQ(a.retry_initial, milliseconds(2000));
  EXPECT_EQ(a.give_up_after, milliseconds(7200000));
  EXPECT_EQ(a.route.receiver, "team-x");
  EXPECT_EQ(a.route.group_by, (std::vector<std::string>{"alertname", "cluster"}));
  EXPECT_EQ(a.route.repeat_interval, milliseconds(86400000));
  ASSERT_EQ(a.route.routes.size(), 2u);
  const Route& pager = a.route.routes[0];
  ASSERT_EQ(pager.matchers.size(), 2u);
  EXPECT_EQ(pager.matchers[0], (LabelMatcher{"severity", Op::kRegex, "crit|page"}));
  EXPECT_TRUE(pager.continue_matching);
  EXPECT_FALSE(pager.group_by_set);
  EXPECT_EQ(pager.group_wait, milliseconds(-1));
  EXPECT_EQ(pager.mute_time_intervals, std::vector<std::string>{"offhours"});
  const Route& files = a.route.routes[1];
  EXPECT_EQ(files.matchers[0], (LabelMatcher{"service", Op::kEqual, "files"}));
  EXPECT_EQ(files.matchers[1], (LabelMatcher{"env", Op::kRegex, "prod|staging"}));
  EXPECT_TRUE(files.group_by_all);
  ASSERT_EQ(files.routes.size(), 1u);
  EXPECT_EQ(files.routes[0].matchers[1], (LabelMatcher{"x", Op::kNotRegex, "a.*"}));

  ASSERT_EQ(a.receivers.size(), 2u);
  const WebhookConfig& hook = a.receivers[0].webhook_configs.at(0);
  EXPECT_EQ(hook.url, "http://localhost:5001/hook");
  EXPECT_EQ(hook.max_alerts, 5);
  EXPECT_FALSE(hook.send_resolved);
  EXPECT_EQ(hook.headers.at("Authorization"), "Bearer abc");
  EXPECT_EQ(a.receivers[0].alertmanager_configs.at(0).url, "http://am:9093");
  const PagerDutyConfig& pd = a.receivers[1].pagerduty_configs.at(0);
  EXPECT_EQ(pd.routing_key, "KEY123");
  EXPECT_EQ(pd.url, "https://events.pagerduty.com/v2/enqueue");
  const SlackConfig& slack = a.receivers[1].slack_configs.at(0);
  EXPECT_EQ(slack.url, "https://hooks.slack.com/services/T/B/X");
  EXPECT_FALSE(slack.send_resolved);  // Alertmanager's slack default
  EXPECT_EQ(slack.title, "{{ .CommonLabels.alertname }}");

  ASSERT_EQ(a.inhibit_rules.size(), 2u);
  EXPECT_EQ(a.inhibit_rules[0].equal, (std::vector<std::string>{"alertname", "cluster"}));
  EXPECT_EQ(a.inhibit_rules[1].target_matchers[0],
            (LabelMatcher{"severity", Op::kRegex, "info|warning"}));

  ASSERT_EQ(a.time_intervals.size(), 1u);
  const TimeInterval& ti = a.time_intervals[0];
  ASSERT_EQ(ti.periods.size(), 2u);
  EXPECT_EQ(ti.periods[0].times, (std::vector<std::pair<int, int>>{{0, 480}, {1080, 1440}}));
  EXPECT_EQ(ti.periods[0].weekdays, (std::vector<std::pair<int, int>>{{1, 5}}));
  EXPECT_EQ(ti.periods[0].location, "Europe/Berlin");
  EXPECT_EQ(ti.periods[1].weekdays, (std::vector<std::pair<int, int>>{{6, 6}, {0, 0}}));
  EXPECT_EQ(ti.periods[1].days_of_month, (std::vector<std::pair<int, int>>{{1, 5}, {-3, -1}}));
  EXPECT_EQ(ti.periods[1].months, (std::vector<std::pair<int, int>>{{1, 3}, {12, 12}}));
  EXPECT_EQ(ti.periods[1].years, (std::vector<std::pair<int, int>>{{2020, 2022}}));
}

TEST(AlertingParser, StackWithoutAlertingIsUndeclared) {
  ParseResult r = Parse("project: a\nservices: {web: {command: ./w}}\n");
  ASSERT_TRUE(r.ok()) << Errors(r);
  EXPECT_FALSE(r.stack->alerting.declared);
  EXPECT_TRUE(r.stack->rule_files.empty());
}

TEST(LabelMatchers, ParsesAlertmanagerSyntax) {
  auto ms = ParseLabelMatchers(R"({a="b", c!=d , e=~"x\"y|z", f!~"", g:h=""})");
  ASSERT_TRUE(ms.ok()) << ms.status().message();
  ASSERT_EQ(ms->size(), 5u);
  EXPECT_EQ((*ms)[0], (LabelMatcher{"a", Op::kEqual, "b"}));
  EXPECT_EQ((*ms)[1], (LabelMatcher{"c", Op::kNotEqual, "d"}));
  EXPECT_EQ((*ms)[2], (LabelMatcher{"e", Op::kRegex, "x\"y|z"}));
  EXPECT_EQ((*ms)[3], (LabelMatcher{"f", Op::kNotRegex, ""}));
  EXPECT_EQ((*ms)[4], (LabelMatcher{"g:h", Op::kEqual, ""}));
  EXPECT_EQ((*ms)[2].ToString(), R"(e=~"x\"y|z")");
  auto spurious = ParseLabelMatchers(R"(a="\q")");  // kept literally, as Alertmanager does
  ASSERT_TRUE(spurious.ok());
  EXPECT_EQ(spurious->at(0).value, "\\q");
  auto commas = ParseLabelMatchers(R"(a="x,y")");
  ASSERT_TRUE(commas.ok());
  EXPECT_EQ(commas->at(0).value, "x,y");
}

TEST(LabelMatchers, RejectsBadSyntaxAndRegexes) {
  EXPECT_FALSE(ParseLabelMatchers("=b").ok());
  EXPECT_FALSE(ParseLabelMatchers("a<b").ok());
  EXPECT_FALSE(ParseLabelMatchers(R"(a="b)").ok());
  EXPECT_FALSE(ParseLabelMatchers(R"(a="b" c)").ok());
  EXPECT_FALSE(ParseLabelMatchers("{a=b").ok());
  auto bad = ParseLabelMatchers(R"(a=~"(")");
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.status().message().find("does not compile"), std::string::npos);
}

std::string ErrorsOf(const std::string& alerting) {
  return Errors(Parse("project: a\nservices: {web: {command: ./w}}\nalerting:\n" + alerting));
}

TEST(AlertingParser, RootRouteNeedsReceiverAndNoMatchers) {
  std::string e = ErrorsOf("  route: {matchers: [a=b], group_wait: 1s, continue: true}\n");
  EXPECT_NE(e.find("steward.yaml:4:10: error: 'alerting.route' must name a default 'receiver'"),
            std::string::npos)
      << e;
  EXPECT_NE(e.find("must not have matchers"), std::string::npos) << e;
  EXPECT_NE(e.find("cannot have 'continue'"), std::string::npos) << e;
}

TEST(AlertingParser, UnknownReceiverAndTimeIntervalAreReportedWhereUsed) {
  std::string e = ErrorsOf(
      "  route:\n"
      "    receiver: ops\n"
      "    routes:\n"
      "      - receiver: nobody\n"
      "        mute_time_intervals: [never]\n"
      "  receivers: [{name: ops}]\n");
  EXPECT_NE(e.find("steward.yaml:7:19: error: undefined receiver 'nobody' used in route; "
                   "defined receivers: ops"),
            std::string::npos)
      << e;
  EXPECT_NE(e.find(":8:30: error: undefined time interval 'never'"), std::string::npos) << e;
}

TEST(AlertingParser, DuplicateNamesAreRejected) {
  std::string e = ErrorsOf(
      "  route: {receiver: a}\n"
      "  receivers: [{name: a}, {name: a}]\n"
      "  time_intervals: [{name: t}, {name: t}]\n");
  EXPECT_NE(e.find(":5:33: error: receiver name 'a' is used twice"), std::string::npos) << e;
  EXPECT_NE(e.find("time interval 't' is defined twice"), std::string::npos) << e;
}

TEST(AlertingParser, BadMatchersAndRegexesArePlaced) {
  std::string e = ErrorsOf(
      "  route:\n"
      "    receiver: a\n"
      "    routes:\n"
      "      - matchers: ['sev=~\"(\"']\n"
      "      - match_re: {sev: '[z-a]'}\n"
      "  receivers: [{name: a}]\n"
      "  inhibit_rules: [{source_matchers: ['bad matcher'], equal: ['1x']}]\n");
  EXPECT_NE(e.find(":7:20: error: 'alerting.route.routes[0].matchers': bad matcher"),
            std::string::npos)
      << e;
  EXPECT_NE(e.find(":8:25: error: 'alerting.route.routes[1].match_re.sev'"), std::string::npos)
      << e;
  EXPECT_NE(e.find(":10:38: error: inhibit rule 1: 'source_matchers': bad matcher"),
            std::string::npos)
      << e;
  EXPECT_NE(e.find("'equal' label '1x'"), std::string::npos) << e;
}

TEST(AlertingParser, UnknownAndUnsupportedKeysAreRejected) {
  std::string e = ErrorsOf(
      "  rout: {}\n"
      "  receivers:\n"
      "    - name: a\n"
      "      email_configs: [{to: x}]\n"
      "      webhook_configs: [{url: 'ftp://x', http_config: {}}]\n");
  EXPECT_NE(e.find("unknown key 'rout' in alerting; did you mean 'route'?"), std::string::npos)
      << e;
  EXPECT_NE(e.find("'email_configs' is an Alertmanager integration Steward does not deliver to"),
            std::string::npos)
      << e;
  EXPECT_NE(e.find("unknown key 'http_config'"), std::string::npos) << e;
  EXPECT_NE(e.find("must be an http:// or https:// URL"), std::string::npos) << e;
  EXPECT_EQ(e.find("ftp://x"), std::string::npos) << "a URL may hold a secret: " << e;
}

TEST(AlertingParser, GroupByAndDurationsFollowAlertmanager) {
  std::string e = ErrorsOf(
      "  route: {receiver: a, group_by: ['...', x, x], group_interval: 0s, repeat_interval: 1h30}\n"
      "  receivers: [{name: a}]\n");
  EXPECT_NE(e.find("'...' (group by all labels) cannot be combined"), std::string::npos) << e;
  EXPECT_NE(e.find("duplicated label 'x'"), std::string::npos) << e;
  EXPECT_NE(e.find("'alerting.route.group_interval' cannot be zero"), std::string::npos) << e;
  EXPECT_NE(e.find("must be a duration such as 30s"), std::string::npos) << e;
}

TEST(AlertingParser, TimeIntervalErrors) {
  std::string e = ErrorsOf(
      "  time_intervals:\n"
      "    - name: t\n"
      "      time_intervals:\n"
      "        - times: [{start_time: '10:00', end_time: '09:00'}, {start_time: '25:00', "
      "end_time: '26:00'}]\n"
      "          weekdays: ['friday:monday', funday]\n"
      "          days_of_month: ['0', '-1:5', '10:2']\n"
      "          months: [foo]\n"
      "          location: Mars/Olympus\n");
  EXPECT_NE(e.find("start_time must be before end_time"), std::string::npos) << e;
  EXPECT_NE(e.find("'start_time' must be a time of day HH:MM"), std::string::npos) << e;
  EXPECT_NE(e.find("'friday:monday': the range ends before it starts"), std::string::npos) << e;
  EXPECT_NE(e.find("'funday' is not a valid range"), std::string::npos) << e;
  EXPECT_NE(e.find("'0' is not a valid range"), std::string::npos) << e;
  EXPECT_NE(e.find("the end day must be negative"), std::string::npos) << e;
  EXPECT_NE(e.find("'10:2': the range ends"), std::string::npos) << e;
  EXPECT_NE(e.find("'foo' is not a valid range"), std::string::npos) << e;
  EXPECT_NE(e.find("unknown time zone 'Mars/Olympus'"), std::string::npos) << e;
}

TEST(AlertingParser, ReceiversWithoutRouteAreAnError) {
  std::string e = ErrorsOf("  receivers: [{name: a, webhook_configs: [{url: http://x/}]}]\n");
  EXPECT_NE(e.find("'alerting' has receivers but no 'route'"), std::string::npos) << e;
}

TEST(AlertingParser, IncidentSettingsAreReadAndChecked) {
  ParseResult ok = Parse("project: p\nservices: {}\nalerting:\n  incidents: {min_severity: warning, "
                         "reopen_window: 10m}\n");
  ASSERT_TRUE(ok.ok()) << Errors(ok);
  EXPECT_EQ(ok.stack->alerting.incident_min_severity, "warning");
  EXPECT_EQ(ok.stack->alerting.incident_reopen_window, std::chrono::minutes(10));
  auto back = StackFromJson(StackToJson(*ok.stack));
  ASSERT_TRUE(back.ok());
  EXPECT_EQ(back->alerting.incident_min_severity, "warning");
  ParseResult bad = Parse("project: p\nservices: {}\nalerting:\n  incidents: {min_severity: "
                          "loud}\n");
  EXPECT_NE(Errors(bad).find("'alerting.incidents.min_severity' must be one of critical, error, "
                             "warning, info; got 'loud'"),
            std::string::npos)
      << Errors(bad);
}

// The stack JSON is how the CLI hands a stack to the daemon and how the daemon keeps it: the
// receivers must survive it whole (it is never shown; plan and status output do not render it).
TEST(AlertingJson, TheStackJsonCarriesEveryAlertingFieldBackUnchanged) {
  ParseResult r = Parse(kFull);
  ASSERT_TRUE(r.ok()) << Errors(r);
  nlohmann::json once = StackToJson(*r.stack);
  auto back = StackFromJson(once);
  ASSERT_TRUE(back.ok()) << back.status().ToString();
  EXPECT_EQ(StackToJson(*back), once);
  EXPECT_EQ(back->alerting.receivers.size(), r.stack->alerting.receivers.size());
  EXPECT_EQ(back->alerting.route.routes.size(), r.stack->alerting.route.routes.size());
  EXPECT_EQ(back->alerting.time_intervals.size(), r.stack->alerting.time_intervals.size());
  EXPECT_NE(once.dump().find("KEY123"), std::string::npos);
}

}  // namespace
}  // namespace steward::config
