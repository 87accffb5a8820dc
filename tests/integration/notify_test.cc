// The daemon's embedded Alertmanager end to end: rule alerts and alerts POSTed to
// /api/v2/alerts are routed to a webhook receiver (Alertmanager's webhook JSON, version 4), a
// silence added with `steward silence add` mutes them, and a receiver that is down is retried and
// shows as failing in /api/v1/notifications without holding anything else up.
#include <fstream>
#include <string>

#include <gtest/gtest.h>
#include <httplib.h>

#include "integration/harness.h"
#include "integration/peers.h"
#include "unit/alerting/receiver_recorder.h"

namespace steward::testing {
namespace {

using alerting::testing::Recorder;

std::string Stack(const std::string& hook, const std::string& dead) {
  return R"(project: notify
monitoring: {scrape_interval: 500ms, scrape_timeout: 400ms}
rule_files: [rules.yml]
alerting:
  evaluation_interval: 500ms
  retry_initial: 100ms
  retry_max: 200ms
  route:
    receiver: hook
    group_by: [alertname]
    group_wait: 200ms
    group_interval: 1s
    repeat_interval: 1h
    routes:
      - matchers: ['team="nobody"']
        receiver: dead
  receivers:
    - name: hook
      webhook_configs: [{url: ")" + hook + R"("}]
    - name: dead
      webhook_configs: [{url: ")" + dead + R"("}]
services:
  web:
    command: steward-demo
    metrics: /metrics
)";
}

constexpr const char* kRules = R"(groups:
  - name: web
    interval: 500ms
    rules:
      - alert: WebAnswers
        expr: up{job="web"} == 1
        labels: {severity: info}
        annotations: {summary: '{{ $labels.instance }} answers'}
)";

int PostJson(Project& p, const std::string& path, const std::string& body) {
  std::ifstream d(p.StateDir() + "/daemon.json");
  auto info = nlohmann::json::parse(d, nullptr, false);
  std::ifstream t(p.StateDir() + "/api.token");
  std::string token;
  t >> token;
  httplib::Client c("127.0.0.1", info.value("port", 0));
  auto res = c.Post(path, {{"Authorization", "Bearer " + token}}, body, "application/json");
  return res ? res->status : 0;
}

bool HookSaw(Recorder& r, const std::string& alertname) {
  for (const auto& req : r.requests()) {
    auto j = nlohmann::json::parse(req.body, nullptr, false);
    if (j.is_discarded()) continue;
    for (const auto& a : j["alerts"])
      if (a["labels"].value("alertname", "") == alertname) return true;
  }
  return false;
}

TEST(Notify, RuleAndPostedAlertsReachTheWebhookAndSilencesMuteThem) {
  Recorder hook;
  int dead_port = FreePort();  // nothing listens there
  Project p;
  std::ofstream(p.dir() + "/rules.yml") << kRules;
  p.WriteStack(Stack(hook.url(), "http://127.0.0.1:" + std::to_string(dead_port) + "/hook"));
  ASSERT_APPLY_OK(p);

  // A rule alert arrives as Alertmanager's webhook JSON.
  ASSERT_TRUE(PollUntil([&] { return HookSaw(hook, "WebAnswers"); }, 20000));
  nlohmann::json first = nlohmann::json::parse(hook.requests().front().body, nullptr, false);
  EXPECT_EQ(first.value("version", ""), "4");
  EXPECT_EQ(first.value("status", ""), "firing");
  EXPECT_EQ(first.value("receiver", ""), "hook");
  EXPECT_EQ(first["groupLabels"].value("alertname", ""), "WebAnswers");
  EXPECT_NE(first["alerts"][0]["annotations"].value("summary", "").find(" answers"),
            std::string::npos);

  // Alerts from elsewhere: POST /api/v2/alerts, listed by GET and by `steward alerts`.
  ASSERT_EQ(PostJson(p, "/api/v2/alerts",
                     R"([{"labels":{"alertname":"DiskFull","instance":"db1"},)"
                     R"("annotations":{"summary":"db1 is full"}}])"),
            200);
  ASSERT_TRUE(PollUntil([&] { return HookSaw(hook, "DiskFull"); }, 10000));
  RunResult alerts = p.Steward({"alerts"});
  EXPECT_EQ(alerts.exit_code, 0) << alerts.err;
  EXPECT_NE(alerts.out.find("DiskFull"), std::string::npos) << alerts.out;
  EXPECT_EQ(PostJson(p, "/api/v2/alerts", R"([{"labels":{}}])"), 400);

  // A silence mutes the next alert of that name; the API shows it suppressed.
  RunResult s = p.Steward({"silence", "add", "alertname=Maintenance", "-d", "1h", "-c", "test"});
  ASSERT_EQ(s.exit_code, 0) << s.err;
  std::string id = s.out.substr(0, s.out.find('\n'));
  ASSERT_EQ(PostJson(p, "/api/v2/alerts", R"([{"labels":{"alertname":"Maintenance"}}])"), 200);
  ASSERT_TRUE(PollUntil(
      [&] {
        auto j = p.Api("/api/v2/alerts");
        if (!j) return false;
        for (const auto& x : *j)
          if (x["labels"].value("alertname", "") == "Maintenance")
            return x["status"].value("state", "") == "suppressed" &&
                   x["status"]["silencedBy"][0] == id;
        return false;
      },
      10000));
  RunResult list = p.Steward({"silence", "list"});
  EXPECT_NE(list.out.find(id), std::string::npos) << list.out;

  // A receiver that is down: retried, failing and visible, while the others keep working.
  ASSERT_EQ(PostJson(p, "/api/v2/alerts",
                     R"([{"labels":{"alertname":"Lost","team":"nobody"}}])"),
            200);
  ASSERT_TRUE(PollUntil(
      [&] {
        auto j = p.Api("/api/v1/notifications");
        if (!j) return false;
        for (const auto& i : (*j)["integrations"])
          if (i.value("receiver", "") == "dead" && i.value("attempts", 0) >= 2 &&
              !i.value("lastError", "").empty())
            return true;
        return false;
      },
      15000))
      << p.Api("/api/v1/notifications")->dump(2);
  EXPECT_FALSE(HookSaw(hook, "Lost"));
  EXPECT_FALSE(HookSaw(hook, "Maintenance"));

  // Expired, the silence lets the still-firing alert through at the group's next flush.
  RunResult e = p.Steward({"silence", "expire", id});
  ASSERT_EQ(e.exit_code, 0) << e.err;
  ASSERT_EQ(PostJson(p, "/api/v2/alerts", R"([{"labels":{"alertname":"Maintenance"}}])"), 200);
  EXPECT_TRUE(PollUntil([&] { return HookSaw(hook, "Maintenance"); }, 10000));
}

}  // namespace
}  // namespace steward::testing
