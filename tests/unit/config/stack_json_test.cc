#include "config/stack_json.h"

#include <gtest/gtest.h>

#include "unit/config/parse_helpers.h"

namespace steward::config {
namespace {

using std::chrono::milliseconds;

constexpr char kStack[] = R"(project: demo
backup: {repository: /b, key_file: k, keep: {last: 3, within: 2h}, state: true}
environments:
  prod: {vars: {LEVEL: info}}
services:
  web:
    command: [steward-demo, --name, web]
    args: [--error-rate, "0"]
    env: {GREETING: hello, LEVEL: "${LEVEL:-debug}"}
    replicas: 2
    ports: [8080, 9090]
    health: {http: {path: /ready, port: 9090, status: 204}, interval: 3s, timeout: 500ms}
    restart: {policy: on-failure, backoff: 250ms, max_backoff: 1m, crash_loop: {restarts: 4, window: 90s}}
    stop_signal: QUIT
    stop_grace: 1m30s
    depends_on: [db]
    resources: {cpu: 0.25, memory: 1.5Gi}
    backup: {paths: [./data], exclude: ["*.tmp"], before: "true", max_age: 2h, schedule: "@hourly"}
  db:
    command: postgres
    health: {exec: [pg_isready]}
)";

Stack ParseOk(const std::string& yaml, const std::string& env = "") {
  ParseResult r = testing::Parse(yaml, {}, env);
  EXPECT_TRUE(r.ok()) << testing::Errors(r);
  return r.stack.value_or(Stack{});
}

void ExpectSameService(const Service& a, const Service& b) {
  EXPECT_EQ(ServiceToJson(a), ServiceToJson(b));
  EXPECT_EQ(a.location.ToString(), b.location.ToString());
  EXPECT_TRUE(ReplaceReasons(a, b).empty());
  EXPECT_TRUE(UpdateReasons(a, b).empty());
  EXPECT_EQ(a.resources.cpu, b.resources.cpu);  // exact, not approximately
}

TEST(StackJson, RoundTripsAFullStackExactly) {
  Stack s = ParseOk(kStack, "prod");
  nlohmann::json j = StackToJson(s);
  StatusOr<Stack> back = StackFromJson(nlohmann::json::parse(j.dump()));
  ASSERT_TRUE(back.ok()) << back.status().ToString();
  EXPECT_EQ(StackToJson(*back), j);
  EXPECT_EQ(back->project, "demo");
  EXPECT_EQ(back->environment, "prod");
  EXPECT_EQ(back->environments[0].vars.at("LEVEL"), "info");
  ASSERT_EQ(back->services.size(), 2u);
  for (size_t i = 0; i < s.services.size(); ++i)
    ExpectSameService(s.services[i], back->services[i]);
}

TEST(StackJson, DurationsAreIntegerMilliseconds) {
  Stack s = ParseOk(kStack);
  nlohmann::json web = ServiceToJson(s.services[0]);
  EXPECT_EQ(web["stop_grace_ms"], 90000);
  EXPECT_EQ(web["health"]["interval_ms"], 3000);
  EXPECT_EQ(web["restart"]["crash_loop_window_ms"], 90000);
  EXPECT_EQ(web["resources"]["memory_bytes"], int64_t{3} << 29);
  EXPECT_EQ(web["health"]["kind"], "http");
  EXPECT_EQ(web["restart"]["policy"], "on-failure");
}

TEST(StackJson, MissingKeysTakeDefaults) {
  StatusOr<Service> s = ServiceFromJson(nlohmann::json{{"name", "web"}, {"command", "./w"}});
  ASSERT_TRUE(s.ok()) << s.status().ToString();
  EXPECT_EQ(s->replicas, 1);
  EXPECT_EQ(s->stop_grace, milliseconds(10000));
  EXPECT_EQ(s->health.kind, HealthCheckKind::kNone);
}

TEST(StackJson, WrongTypesAreErrorsNotExceptions) {
  StatusOr<Service> s = ServiceFromJson(nlohmann::json{{"replicas", "two"}});
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.status().code(), StatusCode::kInvalidArgument);
  EXPECT_FALSE(ServiceFromJson(nlohmann::json::array()).ok());
  EXPECT_FALSE(ServiceFromJson(nlohmann::json{{"health", {{"kind", "ping"}}}}).ok());
  EXPECT_FALSE(StackFromJson(nlohmann::json{{"services", {{"a", 1}}}}).ok());
  EXPECT_FALSE(StackFromJson(nlohmann::json{{"services", 3}}).ok());
}

// Regression (found by tests/fuzz/stack_json_fuzz): an out-of-range float converted to an
// integer was undefined behaviour on a body the daemon's API accepts.
TEST(StackJson, OutOfRangeAndFractionalNumbersAreErrors) {
  for (const char* text : {R"({"services":[{"name":"a","replicas":1e300}]})",
                           R"({"services":[{"name":"a","stop_grace_ms":1e19}]})",
                           R"({"services":[{"name":"a","replicas":2.5}]})",
                           R"({"services":[{"name":"a","replicas":99999999999}]})",
                           R"({"services":[{"name":"a","ports":[1e10]}]})",
                           R"({"services":[{"name":"a","resources":{"cpu":"x"}}]})"}) {
    auto stack = StackFromJson(nlohmann::json::parse(text));
    EXPECT_FALSE(stack.ok()) << text;
    EXPECT_EQ(stack.status().code(), StatusCode::kInvalidArgument) << text;
  }
}

TEST(ValidateStack, ChecksWhatJsonCannotPromise) {
  auto parsed = ParseStack(kStack, "steward.yaml");
  ASSERT_TRUE(parsed.ok());
  EXPECT_TRUE(ValidateStack(*parsed.stack).empty());
  Stack bad = *parsed.stack;
  bad.services[0].replicas = -3;
  bad.services[1].depends_on = {"web"};  // web depends on db: now a cycle
  bad.services[1].health.timeout = bad.services[1].health.interval + milliseconds(1);
  auto diags = ValidateStack(bad);
  std::string all;
  for (const auto& d : diags) all += d.message + "\n";
  EXPECT_NE(all.find("'replicas' must be between 0 and 1000"), std::string::npos) << all;
  EXPECT_NE(all.find("dependency cycle"), std::string::npos) << all;
  EXPECT_NE(all.find("'timeout' must not exceed"), std::string::npos) << all;
}

TEST(ReplaceHash, IsStableAcrossRunsAndMachines) {
  Service s;
  s.name = "web";
  s.command = "./w";
  s.env = {{"A", "1"}};
  s.ports = {8080};
  // Pinned: a change here would make every recorded service look changed after an upgrade.
  EXPECT_EQ(ReplaceHash(s), ReplaceHash(Service(s)));
  EXPECT_EQ(ReplaceHash(s).size(), 16u);
  EXPECT_EQ(ReplaceHash(s), "646fee45dbb836e9");
}

TEST(ReplaceHash, ChangesOnlyWithReplaceFields) {
  Stack stack = ParseOk(kStack);
  const Service base = stack.services[0];
  const std::string h = ReplaceHash(base);

  std::vector<std::function<void(Service&)>> in_place = {
      [](Service& s) { s.replicas = 5; },
      [](Service& s) { s.health.interval = milliseconds(9000); },
      [](Service& s) { s.restart.policy = RestartPolicy::kNever; },
      [](Service& s) { s.stop_signal = 9; },
      [](Service& s) { s.stop_grace = milliseconds(1); },
      [](Service& s) { s.depends_on.clear(); },
      [](Service& s) { s.location.line = 99; },
  };
  for (size_t i = 0; i < in_place.size(); ++i) {
    Service s = base;
    in_place[i](s);
    EXPECT_EQ(ReplaceHash(s), h) << "in-place change " << i;
  }
  std::vector<std::function<void(Service&)>> replacing = {
      [](Service& s) { s.command = "./other"; },        [](Service& s) { s.args.push_back("-v"); },
      [](Service& s) { s.env["GREETING"] = "hi"; },     [](Service& s) { s.working_dir = "/tmp"; },
      [](Service& s) { s.ports = {8081, 9090}; },       [](Service& s) { s.resources.cpu = 1; },
      [](Service& s) { s.resources.memory_bytes = 1; },
  };
  for (size_t i = 0; i < replacing.size(); ++i) {
    Service s = base;
    replacing[i](s);
    EXPECT_NE(ReplaceHash(s), h) << "replacing change " << i;
  }
}

TEST(Reasons, ReplaceReasonsNameFieldsButNeverEnvValues) {
  Service a;
  a.command = "a";
  a.args = {"--x"};
  a.env = {{"DB_PASSWORD", "hunter2"}, {"OLD", "1"}, {"SAME", "s"}};
  a.ports = {8080};
  a.resources.memory_bytes = 256 << 20;
  Service b = a;
  b.command = "b";
  b.args = {"--y", "z"};
  b.env = {{"DB_PASSWORD", "swordfish"}, {"NEW", "2"}, {"SAME", "s"}};
  b.working_dir = "/srv";
  b.ports = {9090};
  b.resources.cpu = 0.5;
  b.resources.memory_bytes = 512 << 20;
  EXPECT_EQ(
      ReplaceReasons(a, b),
      (std::vector<std::string>{"command: \"a\" → \"b\"", "args: [\"--x\"] → [\"--y\", \"z\"]",
                                "env.DB_PASSWORD changed", "env.NEW added", "env.OLD removed",
                                "working_dir: \"\" → \"/srv\"", "ports: [8080] → [9090]",
                                "resources.cpu: unset → 0.5", "resources.memory: 256Mi → 512Mi"}));
  EXPECT_TRUE(UpdateReasons(a, b).empty());
}

TEST(Reasons, UpdateReasonsUseStackFileNotation) {
  Service a;
  a.depends_on = {"api"};
  Service b = a;
  b.replicas = 3;
  b.health.kind = HealthCheckKind::kHttp;
  b.health.interval = milliseconds(5000);
  b.restart.policy = RestartPolicy::kOnFailure;
  b.restart.backoff_initial = milliseconds(1500);
  b.stop_signal = 2;
  b.stop_grace = milliseconds(90000);
  b.depends_on = {"api", "db"};
  EXPECT_EQ(
      UpdateReasons(a, b),
      (std::vector<std::string>{"replicas: 1 → 3", "health.kind: none → http",
                                "health.interval: 2s → 5s", "restart.policy: always → on-failure",
                                "restart.backoff: 100ms → 1s500ms", "stop_signal: SIGTERM → SIGINT",
                                "stop_grace: 10s → 1m30s", "depends_on: [api] → [api, db]"}));
  EXPECT_TRUE(ReplaceReasons(a, b).empty());
}

}  // namespace
}  // namespace steward::config
