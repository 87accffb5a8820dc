// The self-healing drill of issue 5, end to end with the real daemon and the demo service: a
// client load runs against the service; half of its requests start failing; the error-rate
// alert fires, an incident opens, the runbook restarts the replica (a fresh process forgets the
// injected fault), the errors stop, the alert resolves and so does the incident — with the
// recorded time to resolve under 30 s. Also: SLOs are measured and shown by `steward slo`.
#include <atomic>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <string>
#include <thread>

#include <gtest/gtest.h>
#include <httplib.h>

#include "integration/harness.h"
#include "integration/peers.h"

namespace steward::testing {
namespace {

constexpr const char* kStack = R"(project: drill
monitoring: {scrape_interval: 500ms, scrape_timeout: 400ms}
alerting: {evaluation_interval: 500ms}
rule_files: [rules.yml]
services:
  api:
    command: steward-demo
    ports: [PORT]
    metrics: /metrics
    health: {http: /healthz, interval: 200ms, timeout: 150ms}
slos:
  api-availability:
    service: api
    objective: 99
    window: 1d
    sli:
      good: sum(rate(demo_requests_total{job="api",path="/",code="200"}[$window]))
      total: sum(rate(demo_requests_total{job="api",path="/"}[$window]))
runbooks:
  restart-api:
    alert: ApiErrorRateHigh
    action: restart
    service: api
    cooldown: 1m
    max_runs_per_hour: 3
)";

constexpr const char* kRules = R"(groups:
  - name: api
    interval: 500ms
    rules:
      - alert: ApiErrorRateHigh
        expr: |
          sum(rate(demo_requests_total{job="api",path="/",code="500"}[5s]))
            / sum(rate(demo_requests_total{job="api",path="/"}[5s])) > 0.2
        labels: {severity: critical, service: api}
        annotations:
          summary: '{{ $value | humanizePercentage }} of requests to api fail'
)";

int FreeTcpPort() { return FreePortBlock(2); }  // a service owns [P, P+2*replicas)

nlohmann::json Incidents(Project& p) {
  auto j = p.Api("/api/v1/incidents?status=all");
  return j && (*j).contains("incidents") ? (*j)["incidents"] : nlohmann::json::array();
}

TEST(Drill, ErrorRateIsNoticedRemediatedAndTheIncidentResolvesWithin30s) {
  Project p;
  int port = FreeTcpPort();
  std::string stack = kStack;
  stack.replace(stack.find("PORT"), 4, std::to_string(port));
  std::ofstream(p.dir() + "/rules.yml") << kRules;
  p.WriteStack(stack);
  ASSERT_APPLY_OK(p);
  ASSERT_TRUE(PollUntil([&] { return p.ReadyCount("api") == 1; }, 15000));

  // A steady client load: ~50 requests per second.
  std::atomic<bool> stop{false};
  std::atomic<int> ok{0}, failed{0};
  std::thread load([&] {
    httplib::Client c("127.0.0.1", port);
    c.set_connection_timeout(1, 0);
    c.set_read_timeout(1, 0);
    while (!stop) {
      auto res = c.Get("/");
      (res && res->status == 200 ? ok : failed)++;
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
  });
  struct Join {
    std::atomic<bool>& stop;
    std::thread& t;
    ~Join() {
      stop = true;
      if (t.joinable()) t.join();
    }
  } join{stop, load};
  ASSERT_TRUE(PollUntil([&] { return ok > 100; }, 15000));

  // The fault: half of the requests fail from now on.
  ASSERT_EQ(HttpPost(port, "/admin/misbehave", "error_rate=0.5"), 200);

  // The alert fires and an incident opens.
  ASSERT_TRUE(PollUntil([&] { return !Incidents(p).empty(); }, 30000))
      << Data(p, "/api/v1/alerts").dump(2);
  nlohmann::json incident = Incidents(p)[0];
  int64_t id = incident.value("id", int64_t{0});
  EXPECT_EQ(incident.value("service", ""), "api");
  EXPECT_EQ(incident.value("severity", ""), "critical");

  // The runbook restarts the replica; the fresh process has no injected errors; the alert
  // resolves and the incident with it.
  ASSERT_TRUE(PollUntil(
      [&] {
        auto j = p.Api("/api/v1/incidents/" + std::to_string(id));
        return j && (*j)["incident"].value("status", "") == "resolved";
      },
      60000))
      << p.Api("/api/v1/incidents/" + std::to_string(id))->dump(2);
  auto detail = *p.Api("/api/v1/incidents/" + std::to_string(id));
  std::set<std::string> kinds;
  for (const auto& e : detail["events"]) kinds.insert(e.value("kind", ""));
  EXPECT_TRUE(kinds.count("fired")) << detail.dump(2);
  EXPECT_TRUE(kinds.count("remediation")) << detail.dump(2);
  EXPECT_TRUE(kinds.count("resolved")) << detail.dump(2);
  auto runs = p.Api("/api/v1/runbooks/runs");
  ASSERT_TRUE(runs);
  bool restarted = false;
  for (const auto& r : (*runs)["data"]["runs"])
    restarted |= r.value("runbook", "") == "restart-api" && r.value("result", "") == "success";
  EXPECT_TRUE(restarted) << runs->dump(2);

  // The recorded time to resolve (MTTR) is under 30 s.
  auto stats = p.Api("/api/v1/incidents/stats");
  ASSERT_TRUE(stats);
  const auto& mttr = (*stats)["overall"]["mttr"];
  ASSERT_EQ(mttr.value("count", 0), 1) << stats->dump(2);
  EXPECT_LT(mttr.value("mean_seconds", 1e9), 30.0) << stats->dump(2);

  // The service serves again.
  int before = ok;
  ASSERT_TRUE(PollUntil([&] { return ok > before + 50; }, 10000));

  // The SLO saw the bad minutes: uptime below 100%, part of the budget spent.
  ASSERT_TRUE(PollUntil(
      [&] {
        auto r = p.Steward({"slo", "--json"});
        auto j = nlohmann::json::parse(r.out, nullptr, false);
        return r.exit_code == 0 && j.is_array() && j.size() == 1 &&
               j[0]["uptime_percent"].is_number() && j[0]["uptime_percent"].get<double>() < 100;
      },
      20000))
      << p.Steward({"slo", "--json"}).out;
  auto table = p.Steward({"slo"});
  EXPECT_EQ(table.exit_code, 0) << table.err;
  EXPECT_NE(table.out.find("api-availability"), std::string::npos) << table.out;
}

}  // namespace
}  // namespace steward::testing
