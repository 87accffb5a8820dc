// The daemon's HTTP surface: token protection, /healthz, /metrics, status and history JSON.
#include <signal.h>

#include <fstream>

#include <gtest/gtest.h>
#include <httplib.h>

#include "integration/harness.h"

namespace steward::testing {
namespace {

const char* kStack = R"(project: api-test
services:
  api:
    command: steward-demo
    replicas: 2
    health: {http: /healthz, interval: 300ms, timeout: 250ms}
)";

int DaemonPort(Project& p) {
  std::ifstream in(p.StateDir() + "/daemon.json");
  return nlohmann::json::parse(in).value("port", 0);
}

TEST(DaemonApi, RequiresTheTokenWrittenWithMode0600) {
  Project p;
  p.WriteStack(kStack);
  ASSERT_APPLY_OK(p);
  int port = DaemonPort(p);
  std::string body;
  EXPECT_EQ(HttpGet(port, "/api/v1/status", &body), 401);
  EXPECT_NE(body.find("bearer token"), std::string::npos);
  httplib::Client cli("127.0.0.1", port);
  cli.set_bearer_token_auth("wrong-token-wrong-token-wrong-token-wrong-token-wrong-token-1234");
  auto res = cli.Get("/api/v1/status");
  ASSERT_TRUE(res);
  EXPECT_EQ(res->status, 401);
  struct stat st {};
  ASSERT_EQ(stat((p.StateDir() + "/api.token").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600);
  auto status = p.Api("/api/v1/status");
  ASSERT_TRUE(status);
  EXPECT_EQ((*status)["services"][0]["name"], "api");
  EXPECT_EQ((*status)["services"][0]["ready"], 2);
}

TEST(DaemonApi, HealthzAndMetricsSpeakPrometheus) {
  Project p;
  p.WriteStack(kStack);
  ASSERT_APPLY_OK(p);
  int port = DaemonPort(p);
  EXPECT_EQ(HttpGet(port, "/healthz"), 200);
  int victim = p.Replicas("api")[0]["pid"];
  kill(victim, SIGKILL);
  std::string metrics;
  EXPECT_TRUE(PollUntil([&] {
    HttpGet(port, "/metrics", &metrics);
    return metrics.find("steward_replica_restarts_total{service=\"api\"} 1") != std::string::npos;
  }, 5000)) << metrics;
  EXPECT_NE(metrics.find("# TYPE steward_apply_duration_seconds histogram"), std::string::npos);
  EXPECT_NE(metrics.find("steward_applies_total{result=\"success\"} 1"), std::string::npos);
  EXPECT_NE(metrics.find("steward_replica_ready{service=\"api\",replica=\"0\"}"),
            std::string::npos) << metrics;
  EXPECT_NE(metrics.find("steward_reconcile_duration_seconds_count"), std::string::npos);
  // Made-up paths are counted as "other": they cannot grow the metrics without bound.
  for (int i = 0; i < 3; ++i) HttpGet(port, "/api/v1/made-up-" + std::to_string(i));
  HttpGet(port, "/metrics", &metrics);
  EXPECT_EQ(metrics.find("made-up"), std::string::npos) << metrics;
  EXPECT_NE(metrics.find("steward_http_requests_total{path=\"other\",code=\"401\"} 3"),
            std::string::npos) << metrics;
}

TEST(DaemonApi, HistoryRecordsWhoWhatAndResult) {
  Project p;
  p.WriteStack(kStack);
  ASSERT_APPLY_OK(p);
  auto h = p.Api("/api/v1/history?limit=5");
  ASSERT_TRUE(h);
  ASSERT_EQ(h->size(), 1u);
  EXPECT_EQ((*h)[0]["result"], "success");
  EXPECT_EQ((*h)[0]["command"], "apply");
  EXPECT_FALSE((*h)[0]["user"].get<std::string>().empty());
  EXPECT_NE((*h)[0]["changes"].dump().find("service.api"), std::string::npos);
  RunResult table = p.Steward({"history"});
  EXPECT_NE(table.out.find("+service.api"), std::string::npos) << table.out;
}

TEST(DaemonApi, StatusJsonOffline) {
  Project p;
  p.WriteStack(kStack);
  RunResult r = p.Steward({"status", "--json"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  auto j = nlohmann::json::parse(r.out);
  EXPECT_TRUE(j["daemon"].is_null());
}

TEST(DaemonApi, BadRequestsGetClearErrorsAndChangeNothing) {
  Project p;
  p.WriteStack(kStack);
  ASSERT_APPLY_OK(p);
  auto before = p.Replicas("api");
  std::ifstream t(p.StateDir() + "/api.token");
  std::string token;
  std::getline(t, token);
  httplib::Client cli("127.0.0.1", DaemonPort(p));
  cli.set_bearer_token_auth(token.c_str());
  struct Case {
    const char* path;
    std::string body;
    const char* expect;
  };
  std::vector<Case> cases = {
      {"/api/v1/apply", "{not json", "must be a JSON object"},
      {"/api/v1/apply", "[]", "must be a JSON object"},
      {"/api/v1/apply", "{}", "missing 'stack'"},
      {"/api/v1/apply", R"({"stack":{"services":[{"name":"api","replicas":1e300}]}})",
       "must be an integer"},
      {"/api/v1/apply",
       R"({"stack":{"services":[{"name":"api","command":"x","depends_on":["api"]}]}})",
       "dependency cycle"},
      {"/api/v1/apply", R"({"stack":{"services":[]},"lock_timeout_ms":"soon"})",
       "lock_timeout_ms"},
      {"/api/v1/plan", R"({"stack":{"services":[{"name":"API!","command":"x"}]}})",
       "must match"},
  };
  for (const auto& c : cases) {
    auto res = cli.Post(c.path, c.body, "application/json");
    ASSERT_TRUE(res) << c.body;
    EXPECT_EQ(res->status, 400) << c.body << " -> " << res->body;
    EXPECT_NE(res->body.find(c.expect), std::string::npos) << c.body << " -> " << res->body;
  }
  auto res = cli.Get("/api/v1/history?limit=0");
  ASSERT_TRUE(res);
  EXPECT_EQ(res->status, 400);
  auto after = p.Replicas("api");
  ASSERT_EQ(before.size(), after.size());
  for (size_t i = 0; i < before.size(); ++i) EXPECT_EQ(before[i]["pid"], after[i]["pid"]);
  EXPECT_EQ(p.Api("/api/v1/history")->size(), 1u);
}

}  // namespace
}  // namespace steward::testing
