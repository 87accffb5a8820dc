// Alerting rules end to end: the real daemon loads the stack's rule files, evaluates them over
// what it scrapes, serves /api/v1/rules and /api/v1/alerts in Prometheus' shapes, writes ALERTS,
// keeps the old rules when a reload brings a broken file, and restores alert state after a
// kill -9.
#include <signal.h>
#include <sys/wait.h>

#include <chrono>
#include <cstdio>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <string>

#include <gtest/gtest.h>
#include <httplib.h>

#include "integration/harness.h"
#include "integration/peers.h"

namespace steward::testing {
namespace {

constexpr const char* kStack = R"(project: alerts
monitoring: {scrape_interval: 500ms, scrape_timeout: 400ms}
alerting: {evaluation_interval: 500ms}
rule_files: [rules/*.yml]
services:
  web:
    command: steward-demo
    metrics: /metrics
    health: {http: /healthz, interval: 200ms, timeout: 150ms}
)";

constexpr const char* kRules = R"(groups:
  - name: web
    interval: 500ms
    rules:
      - record: job:demo_up:sum
        expr: sum by (job) (up{job="web"})
      - alert: WebIsUp
        expr: job:demo_up:sum == 1
        labels: {severity: info}
        annotations:
          summary: '{{ $labels.job }} answers ({{ $value }} replica)'
      - alert: WebUpForAnHour
        expr: up{job="web"} == 1
        for: 1h
)";

nlohmann::json FindAlert(Project& p, const std::string& name) {
  auto d = Data(p, "/api/v1/alerts");
  if (d.is_object() && d["alerts"].is_array())
    for (const auto& a : d["alerts"])
      if (a["labels"].value("alertname", "") == name) return a;
  return nlohmann::json::object();
}

// POST with the project's token; returns the HTTP status and the body.
int PostWithToken(Project& p, const std::string& path, std::string* body) {
  std::ifstream daemon(p.StateDir() + "/daemon.json");
  auto info = nlohmann::json::parse(daemon, nullptr, false);
  std::ifstream t(p.StateDir() + "/api.token");
  std::string token;
  t >> token;
  httplib::Client c("127.0.0.1", info.value("port", 0));
  c.set_read_timeout(10, 0);
  auto res = c.Post(path, {{"Authorization", "Bearer " + token}}, "", "text/plain");
  if (!res) return 0;
  *body = res->body;
  return res->status;
}

TEST(Alerting, StackRulesFireAndAreServedInPrometheusShapes) {
  Project p;
  std::filesystem::create_directories(p.dir() + "/rules");
  WriteFile(p.dir() + "/rules/web.yml", kRules);
  p.WriteStack(kStack);
  ASSERT_APPLY_OK(p);
  ASSERT_TRUE(PollUntil([&] { return FindAlert(p, "WebIsUp").value("state", "") == "firing"; },
                        20000))
      << Data(p, "/api/v1/rules").dump(2);
  nlohmann::json up = FindAlert(p, "WebIsUp");
  EXPECT_EQ(up["annotations"].value("summary", ""), "web answers (1 replica)");
  EXPECT_EQ(up["labels"].value("severity", ""), "info");
  EXPECT_EQ(up.value("value", ""), "1e+00");
  // Every alert links to its runbook page unless the rule names one.
  EXPECT_NE(up["annotations"].value("runbook_url", "").find("/runbooks/WebIsUp"),
            std::string::npos);
  EXPECT_EQ(FindAlert(p, "WebUpForAnHour").value("state", ""), "pending");

  auto rules = Data(p, "/api/v1/rules");
  bool found = false;
  for (const auto& g : rules["groups"]) {
    if (g.value("name", "") != "web") continue;
    found = true;
    EXPECT_EQ(g.value("file", ""), p.dir() + "/rules/web.yml");
    EXPECT_DOUBLE_EQ(g.value("interval", 0.0), 0.5);
    ASSERT_EQ(g["rules"].size(), 3u);
    EXPECT_EQ(g["rules"][0].value("type", ""), "recording");
    EXPECT_EQ(g["rules"][0].value("health", ""), "ok");
    EXPECT_EQ(g["rules"][1].value("type", ""), "alerting");
    EXPECT_EQ(g["rules"][1].value("state", ""), "firing");
    EXPECT_DOUBLE_EQ(g["rules"][2].value("duration", 0.0), 3600.0);
  }
  EXPECT_TRUE(found) << rules.dump(2);
  auto records = Data(p, "/api/v1/rules?type=record");
  for (const auto& g : records["groups"])
    for (const auto& r : g["rules"]) EXPECT_EQ(r.value("type", ""), "recording");

  // The recording rule's series and ALERTS are in the TSDB.
  auto q = Data(p, "/api/v1/query?query=" +
                       UrlEncode("ALERTS{alertname=\"WebIsUp\",alertstate=\"firing\"}"));
  ASSERT_EQ(q["result"].size(), 1u) << q.dump();
  EXPECT_EQ(q["result"][0]["value"][1], "1");
  auto rec = Data(p, "/api/v1/query?query=job:demo_up:sum");
  ASSERT_EQ(rec["result"].size(), 1u) << rec.dump();

  // A broken file is refused whole, with its place; the old rules keep running.
  WriteFile(p.dir() + "/rules/web.yml", "groups:\n  - name: web\n    rules:\n      - alert: X\n"
                                        "        expr: sum(up\n");
  std::string body;
  EXPECT_EQ(PostWithToken(p, "/-/reload", &body), 500);
  EXPECT_NE(body.find(p.dir() + "/rules/web.yml:5:"), std::string::npos) << body;
  EXPECT_NE(body.find("previous rules keep running"), std::string::npos) << body;
  EXPECT_EQ(FindAlert(p, "WebIsUp").value("state", ""), "firing");
  auto reload_ok = Data(p, "/api/v1/query?query=steward_rules_last_reload_successful");
  EXPECT_TRUE(PollUntil(
      [&] {
        auto r = Data(p, "/api/v1/query?query=steward_rules_last_reload_successful");
        return r["result"].size() == 1 && r["result"][0]["value"][1] == "0";
      },
      10000));
  // Mended, it loads.
  WriteFile(p.dir() + "/rules/web.yml", kRules);
  EXPECT_EQ(PostWithToken(p, "/-/reload", &body), 200) << body;
}

TEST(Alerting, ValidateAndApplyRefuseABrokenRuleFileBeforeChangingAnything) {
  Project p;
  std::filesystem::create_directories(p.dir() + "/rules");
  WriteFile(p.dir() + "/rules/web.yml", "groups:\n  - name: web\n    rules:\n      - alert: X\n"
                                        "        expr: sum(up\n");
  p.WriteStack(kStack);
  RunResult v = p.Steward({"validate"});
  EXPECT_EQ(v.exit_code, 1);
  EXPECT_NE(v.err.find(p.dir() + "/rules/web.yml:5:21: error: group \"web\", rule 1 (\"X\"): "
                       "could not parse expression: unclosed left parenthesis"),
            std::string::npos)
      << v.err;
  RunResult a = p.Steward({"apply", "--listen", "127.0.0.1:0"});
  EXPECT_EQ(a.exit_code, 1);
  EXPECT_NE(a.err.find("nothing was changed"), std::string::npos) << a.err;
  EXPECT_EQ(p.DaemonPid(), 0);
}

// "2026-11-27T03:04:05.123Z" → unix ms (0 when it does not parse).
int64_t ParseRfc3339Ms(const std::string& s) {
  std::tm tm{};
  int ms = 0;
  if (sscanf(s.c_str(), "%d-%d-%dT%d:%d:%d.%dZ", &tm.tm_year, &tm.tm_mon, &tm.tm_mday,
             &tm.tm_hour, &tm.tm_min, &tm.tm_sec, &ms) < 6)
    return 0;
  tm.tm_year -= 1900;
  tm.tm_mon -= 1;
  return static_cast<int64_t>(timegm(&tm)) * 1000 + ms;
}

int64_t NowMs() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

// Prometheus' restore: a pending alert's `for` keeps counting from when it became active, less
// the time the daemon was down — it does not start over. So after P seconds pending, a kill and
// a restart, the new activeAt is about the old one plus the downtime, not "now".
TEST(Alerting, PendingAlertKeepsItsActiveTimeAcrossAKillNine) {
  Project p;
  std::filesystem::create_directories(p.dir() + "/rules");
  WriteFile(p.dir() + "/rules/web.yml", kRules);
  p.WriteStack(kStack);
  ASSERT_APPLY_OK(p);
  ASSERT_TRUE(PollUntil(
      [&] { return FindAlert(p, "WebUpForAnHour").value("state", "") == "pending"; }, 20000));
  // The replica comes back on another port after the restart (so another instance label, a
  // new alert of its own): follow this very alert by its labels.
  nlohmann::json labels = FindAlert(p, "WebUpForAnHour")["labels"];
  auto same = [&]() -> nlohmann::json {
    auto d = Data(p, "/api/v1/alerts");
    if (d.is_object() && d["alerts"].is_array())
      for (const auto& a : d["alerts"])
        if (a["labels"] == labels) return a;
    return nlohmann::json::object();
  };
  int64_t active = ParseRfc3339Ms(same().value("activeAt", ""));
  ASSERT_GT(active, 0);
  // Pending for a while (P), with ALERTS_FOR_STATE synced to the WAL (every 1 s).
  ASSERT_TRUE(PollUntil([&] { return NowMs() - active > 10000; }, 15000));
  int pid = p.DaemonPid();
  ASSERT_GT(pid, 0);
  int64_t killed_at = NowMs();
  kill(pid, SIGKILL);
  ASSERT_TRUE(PollUntil([&] { ReapAll(); return !ProcessAlive(pid); }, 10000));
  ASSERT_APPLY_OK(p);  // starts a new daemon
  ASSERT_TRUE(PollUntil([&] { return same().value("state", "") == "pending"; }, 20000))
      << Data(p, "/api/v1/alerts").dump(2);
  int64_t restarted = NowMs();
  int64_t restored = ParseRfc3339Ms(same().value("activeAt", ""));
  // Shifted by about the downtime — plus up to the samples lost since the last WAL sync and
  // Prometheus' truncation to seconds, a few seconds on a busy machine — so earlier than a fresh
  // activation (active + P + downtime, P > 10 s).
  EXPECT_LE(restored, active + (restarted - killed_at) + 5000)
      << "active " << active << " restored " << restored << " killed " << killed_at
      << " restarted " << restarted;
  EXPECT_GE(restored, active - 1000);
}

}  // namespace
}  // namespace steward::testing
