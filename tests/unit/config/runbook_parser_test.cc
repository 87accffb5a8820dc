// The stack's `runbooks:` section: every key read with its default, the errors with their
// file:line:col, and the JSON round trip the daemon relies on to keep runbooks across restarts.
#include <gtest/gtest.h>

#include "config/runbook.h"
#include "config/stack_json.h"
#include "config/stack_parser.h"
#include "unit/config/parse_helpers.h"

namespace steward::config {
namespace {

using std::chrono::milliseconds;
using testing::Errors;
using testing::Parse;
using Op = LabelMatcher::Op;

constexpr char kServices[] = R"yaml(project: shop
services:
  api: {command: ./api, replicas: 2}
  web: {command: ./web}
)yaml";

ParseResult ParseRunbooks(const std::string& runbooks) {
  return Parse(std::string(kServices) + "runbooks:\n" + runbooks);
}

TEST(RunbookParser, ReadsEveryKey) {
  ParseResult r = ParseRunbooks(R"yaml(  scale-api:
    alert: ApiSlow
    matchers: ['service="api"', 'severity=~"crit|page"']
    action: scale
    service: api
    replicas: "+2"
    max_replicas: 6
    max_runs_per_hour: 5
    cooldown: 10m
    only_while_firing: false
    dry_run: true
    description: add capacity when the API is slow
  clear-cache:
    alert: CacheFull
    action: command
    command: [./scripts/clear.sh, --all]
    timeout: 30s
)yaml");
  ASSERT_TRUE(r.ok()) << Errors(r);
  ASSERT_EQ(r.stack->runbooks.size(), 2u);
  const Runbook& s = r.stack->runbooks[0];
  EXPECT_EQ(s.name, "scale-api");
  EXPECT_EQ(s.line, 6);
  EXPECT_EQ(s.alert, "ApiSlow");
  ASSERT_EQ(s.matchers.size(), 2u);
  EXPECT_EQ(s.matchers[0], (LabelMatcher{"service", Op::kEqual, "api"}));
  EXPECT_EQ(s.matchers[1], (LabelMatcher{"severity", Op::kRegex, "crit|page"}));
  EXPECT_EQ(s.action, RunbookAction::kScale);
  EXPECT_EQ(s.service, "api");
  EXPECT_TRUE(s.replicas_relative);
  EXPECT_EQ(s.replicas, 2);
  EXPECT_EQ(s.max_replicas, 6);
  EXPECT_EQ(s.max_runs_per_hour, 5);
  EXPECT_EQ(s.cooldown, milliseconds(600000));
  EXPECT_FALSE(s.only_while_firing);
  EXPECT_TRUE(s.dry_run);
  EXPECT_EQ(s.description, "add capacity when the API is slow");
  const Runbook& c = r.stack->runbooks[1];
  EXPECT_EQ(c.action, RunbookAction::kCommand);
  EXPECT_EQ(c.command, (std::vector<std::string>{"./scripts/clear.sh", "--all"}));
  EXPECT_EQ(c.timeout, milliseconds(30000));
}

TEST(RunbookParser, DefaultsAreTheDocumentedGuardRails) {
  ParseResult r = ParseRunbooks("  restart-down: {alert: StewardReplicaDown, action: restart}\n");
  ASSERT_TRUE(r.ok()) << Errors(r);
  const Runbook& rb = r.stack->runbooks.at(0);
  EXPECT_EQ(rb.service, "");  // the alert's service label
  EXPECT_EQ(rb.replica, -1);  // the alert's replica label, else all
  EXPECT_EQ(rb.max_runs_per_hour, 3);
  EXPECT_EQ(rb.cooldown, milliseconds(300000));
  EXPECT_TRUE(rb.only_while_firing);
  EXPECT_FALSE(rb.dry_run);
  EXPECT_EQ(rb.max_replicas, 10);
  EXPECT_EQ(rb.timeout, milliseconds(60000));
  EXPECT_TRUE(rb.matchers.empty());
}

TEST(RunbookParser, ScaleTakesRelativeOrAbsoluteCounts) {
  ParseResult r = ParseRunbooks(R"yaml(  up: {alert: A, action: scale, replicas: "+1"}
  down: {alert: B, action: scale, replicas: "-1"}
  fixed: {alert: C, action: scale, replicas: 4}
)yaml");
  ASSERT_TRUE(r.ok()) << Errors(r);
  EXPECT_EQ(ScaleText(r.stack->runbooks[0]), "+1");
  EXPECT_EQ(r.stack->runbooks[1].replicas, -1);
  EXPECT_TRUE(r.stack->runbooks[1].replicas_relative);
  EXPECT_FALSE(r.stack->runbooks[2].replicas_relative);
  EXPECT_EQ(r.stack->runbooks[2].replicas, 4);
}

TEST(RunbookParser, ReportsUnknownKeysWithTheirPlace) {
  ParseResult r = ParseRunbooks(R"yaml(  restart-api:
    alert: ApiDown
    action: restart
    cooldwn: 5m
)yaml");
  EXPECT_EQ(Errors(r),
            "/srv/app/steward.yaml:9:5: error: unknown key 'cooldwn' in runbook 'restart-api'; "
            "did you mean 'cooldown'?\n");
}

TEST(RunbookParser, ReportsUnknownServicesWithAHint) {
  ParseResult r = ParseRunbooks("  r: {alert: A, action: restart, service: apii}\n");
  EXPECT_EQ(Errors(r),
            "/srv/app/steward.yaml:6:43: error: runbook 'r': service 'apii' is not defined (did "
            "you mean 'api'?); defined services: api, web\n");
}

TEST(RunbookParser, ReportsABadAction) {
  ParseResult r = ParseRunbooks("  r: {alert: A, action: reboot}\n");
  EXPECT_EQ(Errors(r),
            "/srv/app/steward.yaml:6:25: error: runbook 'r': unknown action 'reboot'; use one of "
            "restart, rollback, scale, command\n");
}

TEST(RunbookParser, ReportsMissingFields) {
  ParseResult r = ParseRunbooks("  r: {description: nothing}\n  c: {alert: A, action: command}\n");
  std::string errors = Errors(r);
  EXPECT_NE(errors.find("6:3: error: runbook 'r' has no 'alert'"), std::string::npos) << errors;
  EXPECT_NE(errors.find("6:3: error: runbook 'r' has no 'action'"), std::string::npos) << errors;
  EXPECT_NE(errors.find("7:3: error: runbook 'c' runs a command but has no 'command'"),
            std::string::npos)
      << errors;
}

TEST(RunbookParser, RejectsKeysOfAnotherAction) {
  ParseResult r = ParseRunbooks("  r: {alert: A, action: restart, command: [x]}\n");
  EXPECT_EQ(Errors(r),
            "/srv/app/steward.yaml:6:34: error: runbook 'r': 'command' is for command runbooks, "
            "and this one is restart\n");
}

TEST(RunbookParser, RejectsBadMatchersAndValues) {
  ParseResult r = ParseRunbooks(R"yaml(  r:
    alert: 9Bad
    action: scale
    matchers: ['service~"api"']
    replicas: lots
    max_runs_per_hour: 0
    cooldown: soon
)yaml");
  std::string errors = Errors(r);
  EXPECT_NE(errors.find("7:12: error: runbook 'r': 'alert' must be an alert name"),
            std::string::npos)
      << errors;
  EXPECT_NE(errors.find("9:16: error: runbook 'r': 'matchers': bad matcher 'service~\"api\"'"),
            std::string::npos)
      << errors;
  EXPECT_NE(errors.find("10:15: error: runbook 'r': 'replicas' must be a change"),
            std::string::npos)
      << errors;
  EXPECT_NE(errors.find("11:24: error:"), std::string::npos) << errors;
  EXPECT_NE(errors.find("12:15: error:"), std::string::npos) << errors;
}

TEST(RunbookParser, RejectsAnAbsoluteScaleAboveTheBound) {
  ParseResult r = ParseRunbooks("  r: {alert: A, action: scale, replicas: 12, max_replicas: 8}\n");
  EXPECT_EQ(Errors(r),
            "/srv/app/steward.yaml:6:42: error: runbook 'r': 'replicas' (12) is above "
            "'max_replicas' (8)\n");
}

TEST(RunbookParser, RejectsAReplicaTheServiceDoesNotHave) {
  ParseResult r = ParseRunbooks("  r: {alert: A, action: restart, service: api, replica: 2}\n");
  EXPECT_NE(Errors(r).find("'replica' 2 does not exist; service 'api' has 2 replica(s)"),
            std::string::npos)
      << Errors(r);
}

TEST(RunbookParser, RejectsBadNamesAndShapes) {
  ParseResult r = ParseRunbooks("  Bad_Name: {alert: A, action: restart}\n  ok: restart\n");
  std::string errors = Errors(r);
  EXPECT_NE(errors.find("6:3: error: runbook name 'Bad_Name' is not valid"), std::string::npos)
      << errors;
  EXPECT_NE(errors.find("7:3: error: runbook 'ok' must be a map"), std::string::npos) << errors;
}

TEST(RunbookParser, RoundTripsThroughTheStackJson) {
  ParseResult r = ParseRunbooks(R"yaml(  scale-api:
    alert: ApiSlow
    matchers: ['service="api"', 'path!~"/admin.*"']
    action: scale
    replicas: 3
    max_replicas: 5
    cooldown: 90s
    dry_run: true
  run:
    alert: X
    action: command
    command: [sh, -c, "echo hi"]
    timeout: 5s
    only_while_firing: false
)yaml");
  ASSERT_TRUE(r.ok()) << Errors(r);
  StatusOr<Stack> back = StackFromJson(StackToJson(*r.stack));
  ASSERT_TRUE(back.ok()) << back.status().message();
  EXPECT_EQ(back->runbooks, r.stack->runbooks);
}

TEST(RunbookParser, JsonRejectsAnUnknownAction) {
  nlohmann::json j = StackToJson(*Parse(kServices).stack);
  j["runbooks"] = nlohmann::json::array({{{"name", "x"}, {"alert", "A"}, {"action", "reboot"}}});
  StatusOr<Stack> back = StackFromJson(j);
  ASSERT_FALSE(back.ok());
  EXPECT_NE(back.status().message().find("unknown action 'reboot'"), std::string::npos);
}

}  // namespace
}  // namespace steward::config
