#include "config/stack_parser.h"

#include <gtest/gtest.h>

#include <csignal>

#include "unit/config/parse_helpers.h"

namespace steward::config {
namespace {

using std::chrono::milliseconds;
using testing::Errors;
using testing::Parse;

constexpr char kFull[] = R"(project: quickstart
environments:
  dev:
    vars: {LOG_LEVEL: debug}
  prod:
    vars: {LOG_LEVEL: info}
    services:
      web: {replicas: 4, env: {EXTRA: "1"}, health: {tcp: true}}
services:
  web:
    command: steward-demo
    args: ["--name", "web", "--error-rate", "0"]
    env: {GREETING: hello, LEVEL: "${LOG_LEVEL:-warn}"}
    working_dir: ./web
    replicas: 2
    port: 8080
    health:
      http: /healthz
      interval: 2s
      timeout: 1s
      start_period: 5s
      healthy_threshold: 2
      unhealthy_threshold: 4
    restart: {policy: on-failure, backoff: 200ms, max_backoff: 1m, crash_loop: {restarts: 3, window: 2m}}
    stop_signal: INT
    stop_grace: 15s
    depends_on: [api]
    resources: {cpu: 500m, memory: 256Mi}
  api:
    command: [./bin/api, --verbose]
    args: [--port-from-env]
    ports: [9000]
    health:
      exec: pg_isready -q
    restart: never
    resources: {cpu: 1.5}
)";

TEST(ParseStack, ReadsEveryFieldOfAFullStack) {
  ParseResult r = Parse(kFull);
  ASSERT_TRUE(r.ok()) << Errors(r);
  const Stack& s = *r.stack;
  EXPECT_EQ(s.project, "quickstart");
  EXPECT_EQ(s.path, "/srv/app/steward.yaml");
  EXPECT_EQ(s.dir, "/srv/app");
  ASSERT_EQ(s.environments.size(), 2u);
  EXPECT_EQ(s.environments[0].vars.at("LOG_LEVEL"), "debug");
  ASSERT_EQ(s.services.size(), 2u);

  const Service& web = s.services[0];
  EXPECT_EQ(web.name, "web");
  EXPECT_EQ(web.location.ToString(), "/srv/app/steward.yaml:10:3");
  EXPECT_EQ(web.command, "steward-demo");
  EXPECT_EQ(web.args, (std::vector<std::string>{"--name", "web", "--error-rate", "0"}));
  EXPECT_EQ(web.env.at("GREETING"), "hello");
  EXPECT_EQ(web.env.at("LEVEL"), "warn");  // no environment selected: the default
  EXPECT_EQ(web.working_dir, "/srv/app/web");
  EXPECT_EQ(web.replicas, 2);
  EXPECT_EQ(web.ports, std::vector<int>{8080});
  EXPECT_EQ(web.health.kind, HealthCheckKind::kHttp);
  EXPECT_EQ(web.health.path, "/healthz");
  EXPECT_EQ(web.health.interval, milliseconds(2000));
  EXPECT_EQ(web.health.timeout, milliseconds(1000));
  EXPECT_EQ(web.health.start_period, milliseconds(5000));
  EXPECT_EQ(web.health.healthy_threshold, 2);
  EXPECT_EQ(web.health.unhealthy_threshold, 4);
  EXPECT_EQ(web.restart.policy, RestartPolicy::kOnFailure);
  EXPECT_EQ(web.restart.backoff_initial, milliseconds(200));
  EXPECT_EQ(web.restart.backoff_max, milliseconds(60000));
  EXPECT_EQ(web.restart.crash_loop_restarts, 3);
  EXPECT_EQ(web.restart.crash_loop_window, milliseconds(120000));
  EXPECT_EQ(web.stop_signal, SIGINT);
  EXPECT_EQ(web.stop_grace, milliseconds(15000));
  EXPECT_EQ(web.depends_on, std::vector<std::string>{"api"});
  EXPECT_DOUBLE_EQ(web.resources.cpu, 0.5);
  EXPECT_EQ(web.resources.memory_bytes, 256 * 1024 * 1024);

  const Service& api = s.services[1];
  EXPECT_EQ(api.command, "./bin/api");
  EXPECT_EQ(api.args, (std::vector<std::string>{"--verbose", "--port-from-env"}));
  EXPECT_EQ(api.working_dir, "/srv/app");
  EXPECT_EQ(api.replicas, 1);
  EXPECT_EQ(api.health.kind, HealthCheckKind::kExec);
  EXPECT_EQ(api.health.command, (std::vector<std::string>{"/bin/sh", "-c", "pg_isready -q"}));
  EXPECT_EQ(api.restart.policy, RestartPolicy::kNever);
  EXPECT_DOUBLE_EQ(api.resources.cpu, 1.5);
  EXPECT_EQ(api.stop_signal, SIGTERM);
}

TEST(ParseStack, DefaultsApplyWhenKeysAreOmitted) {
  ParseResult r = Parse("project: p\nservices:\n  web:\n    command: ./web\n");
  ASSERT_TRUE(r.ok()) << Errors(r);
  const Service& web = r.stack->services[0];
  EXPECT_EQ(web.replicas, 1);
  EXPECT_TRUE(web.ports.empty());
  EXPECT_EQ(web.health.kind, HealthCheckKind::kNone);
  EXPECT_EQ(web.restart.policy, RestartPolicy::kAlways);
  EXPECT_EQ(web.stop_grace, milliseconds(10000));
  EXPECT_EQ(web.working_dir, "/srv/app");
}

TEST(ParseStack, SelectedEnvironmentOverridesServiceKeys) {
  ParseResult r = Parse(kFull, {}, "prod");
  ASSERT_TRUE(r.ok()) << Errors(r);
  EXPECT_EQ(r.stack->environment, "prod");
  const Service& web = r.stack->services[0];
  EXPECT_EQ(web.replicas, 4);
  EXPECT_EQ(web.env.at("EXTRA"), "1");                 // env maps merge...
  EXPECT_EQ(web.env.at("GREETING"), "hello");          // ...keeping the base's other keys
  EXPECT_EQ(web.env.at("LEVEL"), "info");              // from prod's vars
  EXPECT_EQ(web.health.kind, HealthCheckKind::kTcp);   // a new kind replaces http
  EXPECT_EQ(web.health.interval, milliseconds(2000));  // other health keys stay
}

TEST(ParseStack, EnvironmentVarsFeedInterpolation) {
  ParseResult r = Parse(kFull, {}, "dev");
  ASSERT_TRUE(r.ok()) << Errors(r);
  EXPECT_EQ(r.stack->services[0].env.at("LEVEL"), "debug");
  EXPECT_EQ(r.stack->services[0].replicas, 2);
}

TEST(ParseStack, ProcessEnvironmentTakesPrecedenceOverEnvironmentVars) {
  ParseResult r = Parse(kFull, {{"LOG_LEVEL", "trace"}}, "dev");
  ASSERT_TRUE(r.ok()) << Errors(r);
  EXPECT_EQ(r.stack->services[0].env.at("LEVEL"), "trace");
}

TEST(ParseStack, InterpolatesBeforeTypeConversion) {
  ParseResult r = Parse(
      "project: p\nservices:\n  web:\n    command: ./web\n    replicas: ${N:-3}\n"
      "    stop_grace: ${GRACE}\n    args: [\"$$HOME\", \"${N:-x}\"]\n",
      {{"GRACE", "20s"}});
  ASSERT_TRUE(r.ok()) << Errors(r);
  const Service& web = r.stack->services[0];
  EXPECT_EQ(web.replicas, 3);
  EXPECT_EQ(web.stop_grace, milliseconds(20000));
  EXPECT_EQ(web.args, (std::vector<std::string>{"$HOME", "x"}));
}

TEST(ParseStack, HealthMapFormsAndZeroReplicas) {
  ParseResult r = Parse(R"(project: p
services:
  a:
    command: ./a
    replicas: 0
    health: {http: {path: /ready, port: 8081, status: 204}}
  b:
    command: ./b
    health: {tcp: {port: 5432}}
  c:
    command: ./c
    health: {exec: [pg_isready, -q]}
)");
  ASSERT_TRUE(r.ok()) << Errors(r);
  const auto& s = r.stack->services;
  EXPECT_EQ(s[0].replicas, 0);
  EXPECT_EQ(s[0].health.path, "/ready");
  EXPECT_EQ(s[0].health.port, 8081);
  EXPECT_EQ(s[0].health.expect_status, 204);
  EXPECT_EQ(s[1].health.kind, HealthCheckKind::kTcp);
  EXPECT_EQ(s[1].health.port, 5432);
  EXPECT_EQ(s[2].health.command, (std::vector<std::string>{"pg_isready", "-q"}));
}

TEST(ParseStack, AdjacentPortBlocksDoNotClash) {
  // web owns 8080-8083 (2 replicas + 2 for rolling updates); api may start at 8084.
  ParseResult r = Parse(R"(project: p
services:
  web: {command: ./w, replicas: 2, port: 8080}
  api: {command: ./a, port: 8084}
)");
  EXPECT_TRUE(r.ok()) << Errors(r);
}

TEST(ParseStackFile, UnreadableFileIsOneDiagnostic) {
  ParseResult r = ParseStackFile("/nonexistent/steward.yaml");
  ASSERT_EQ(r.diagnostics.size(), 1u);
  EXPECT_EQ(r.diagnostics[0].ToString(),
            "/nonexistent/steward.yaml: error: cannot read the stack file: No such file or "
            "directory");
}

}  // namespace
}  // namespace steward::config
