// Monitoring end to end: the real steward daemon scrapes replicas, static targets and itself,
// probes monitors and keeps samples across kill -9. (The comparison with a real Prometheus is
// in tests/conformance/.)
#include <signal.h>
#include <sys/wait.h>

#include <chrono>
#include <fstream>
#include <cmath>
#include <map>
#include <set>
#include <thread>

#include <gtest/gtest.h>
#include <httplib.h>

#include "integration/harness.h"
#include "integration/peers.h"

namespace steward::testing {
namespace {

nlohmann::json TargetsOf(Project& p, const std::string& job) {
  nlohmann::json out = nlohmann::json::array();
  auto d = Data(p, "/api/v1/targets");
  if (d.is_null()) return out;
  for (const auto& t : d["activeTargets"])
    if (t.value("scrapePool", "") == job) out.push_back(t);
  return out;
}

bool AllUp(const nlohmann::json& targets, size_t want) {
  if (targets.size() != want) return false;
  for (const auto& t : targets)
    if (t.value("health", "") != "up") return false;
  return true;
}

TEST(Monitoring, ScrapesEveryReplicaAndItselfWithDiscoveredLabels) {
  Project p;
  p.WriteStack(R"(project: mon
monitoring: {scrape_interval: 500ms, scrape_timeout: 400ms}
services:
  web:
    command: steward-demo
    replicas: 2
    metrics: /metrics
    health: {http: /healthz, interval: 200ms, timeout: 150ms}
)");
  ASSERT_APPLY_OK(p);
  ASSERT_TRUE(PollUntil([&] { return AllUp(TargetsOf(p, "web"), 2); }, 15000))
      << TargetsOf(p, "web").dump(2);
  ASSERT_TRUE(PollUntil([&] { return AllUp(TargetsOf(p, "steward"), 1); }, 15000));

  auto web = TargetsOf(p, "web");
  std::set<std::string> replicas;
  for (const auto& t : web) {
    EXPECT_EQ(t["labels"].value("job", ""), "web");
    EXPECT_EQ(t["labels"].value("service", ""), "web");
    replicas.insert(t["labels"].value("replica", ""));
    EXPECT_NE(t.value("scrapeUrl", "").find("/metrics"), std::string::npos);
  }
  EXPECT_EQ(replicas, (std::set<std::string>{"0", "1"}));

  // up, scrape_* and the replica's own series are stored and selectable.
  ASSERT_TRUE(PollUntil([&] {
    auto d = Data(p, "/api/v1/series?match[]=" + UrlEncode(R"(up{job="web"})"));
    return d.is_array() && d.size() == 2;
  }, 10000));
  auto names = Data(p, "/api/v1/label/__name__/values");
  ASSERT_TRUE(names.is_array());
  std::set<std::string> have(names.begin(), names.end());
  for (const char* n : {"up", "scrape_duration_seconds", "scrape_samples_scraped",
                        "scrape_series_added", "steward_build_info"})
    EXPECT_TRUE(have.count(n)) << n << " missing from " << names.dump();
  auto jobs = Data(p, "/api/v1/label/job/values");
  EXPECT_EQ(jobs, nlohmann::json::array({"steward", "web"}));
  auto up = Data(p, "/api/v1/query?query=" + UrlEncode(R"(up{job="web"})"));
  ASSERT_TRUE(up.is_object());
  ASSERT_EQ(up["result"].size(), 2u);
  for (const auto& replica : up["result"]) EXPECT_EQ(replica["value"][1], "1") << replica.dump();

  RunResult targets = p.Steward({"targets"});
  EXPECT_EQ(targets.exit_code, 0) << targets.err;
  EXPECT_NE(targets.out.find("web"), std::string::npos);
  EXPECT_NE(targets.out.find("steward"), std::string::npos);
  EXPECT_NE(targets.out.find(" up "), std::string::npos) << targets.out;
  RunResult series = p.Steward({"series", R"(up{job="web"})"});
  EXPECT_EQ(series.exit_code, 0) << series.err;
  EXPECT_NE(series.out.find(R"(replica="1")"), std::string::npos) << series.out;
  RunResult bad = p.Steward({"series", R"(up{job=})"});
  EXPECT_EQ(bad.exit_code, 1);
  EXPECT_NE(bad.err.find("1:8: parse error"), std::string::npos) << bad.err;
}

TEST(Monitoring, MalformedBodyFailsOnlyItsTargetAndSaysWhere) {
  BodyServer server([](const std::string& path) -> std::string {
    if (path == "/bad") return "# TYPE good_total counter\ngood_total 1\nbroken{a=\"x\" 3\n";
    return "# TYPE good_total counter\ngood_total 7\n";
  });
  Project p;
  p.WriteStack("project: mon\nmonitoring: {scrape_interval: 300ms, scrape_timeout: 250ms}\n"
               "scrape_configs:\n"
               "  - job_name: good\n    static_configs: [{targets: ['127.0.0.1:" +
               std::to_string(server.port()) + "']}]\n"
               "  - job_name: bad\n    metrics_path: /bad\n"
               "    static_configs: [{targets: ['127.0.0.1:" +
               std::to_string(server.port()) + "']}]\n");
  ASSERT_APPLY_OK(p);
  ASSERT_TRUE(PollUntil([&] {
    auto bad = TargetsOf(p, "bad");
    return AllUp(TargetsOf(p, "good"), 1) && bad.size() == 1 &&
           bad[0].value("health", "") == "down";
  }, 15000)) << TargetsOf(p, "bad").dump(2);
  std::string err = TargetsOf(p, "bad")[0].value("lastError", "");
  EXPECT_NE(err.find("line 3"), std::string::npos) << err;
  // Nothing of the bad body was stored, not even its valid first line.
  auto good = Data(p, "/api/v1/series?match[]=good_total");
  ASSERT_TRUE(good.is_array());
  ASSERT_EQ(good.size(), 1u) << good.dump();
  EXPECT_EQ(good[0].value("job", ""), "good");
  auto up = Data(p, "/api/v1/query?query=" + UrlEncode(R"(up{job="bad"})"));
  ASSERT_EQ(up["result"].size(), 1u);
  EXPECT_EQ(up["result"][0]["value"][1], "0");
  RunResult targets = p.Steward({"targets"});
  EXPECT_NE(targets.out.find("line 3"), std::string::npos) << targets.out;
}

TEST(Monitoring, ProbesReportSuccessAndFailureAsSeries) {
  int closed = FreePort();
  std::string web_port = std::to_string(FreePortBlock(2));
  Project p;
  p.WriteStack("project: mon\n"
               "services:\n"
               "  web:\n    command: steward-demo\n    ports: [" + web_port +
               "]\n    health: {http: /healthz, interval: 200ms, timeout: 150ms}\n"
               "monitors:\n"
               "  home:\n    type: http\n    url: http://127.0.0.1:" + web_port + "/healthz\n"
               "    interval: 300ms\n    timeout: 250ms\n"
               "  dead:\n    type: tcp\n    target: 127.0.0.1:" + std::to_string(closed) +
               "\n    interval: 300ms\n    timeout: 250ms\n");
  ASSERT_APPLY_OK(p);
  auto result = [&](const std::string& name) -> nlohmann::json {
    auto d = Data(p, "/api/v1/monitors");
    if (d.is_array())
      for (const auto& m : d)
        if (m.value("name", "") == name && !m.value("last_run", "").empty()) return m;
    return nullptr;
  };
  ASSERT_TRUE(PollUntil([&] { return !result("home").is_null() && !result("dead").is_null(); },
                        15000));
  ASSERT_TRUE(PollUntil([&] { return result("home").value("success", false); }, 10000))
      << result("home").dump();
  EXPECT_FALSE(result("dead").value("success", true));
  EXPECT_FALSE(result("dead").value("error", "").empty());
  auto success = Data(p, "/api/v1/query?query=probe_success");
  ASSERT_TRUE(success.is_object());
  std::map<std::string, std::string> by_monitor;
  for (const auto& s : success["result"])
    by_monitor[s["metric"].value("monitor", "")] = s["value"][1];
  EXPECT_EQ(by_monitor["home"], "1");
  EXPECT_EQ(by_monitor["dead"], "0");
  RunResult monitors = p.Steward({"monitors"});
  EXPECT_NE(monitors.out.find("FAIL"), std::string::npos) << monitors.out;
}

// Samples of every series the selector matches in the last hour.
int CountSamples(Project& p, const std::string& selector) {
  auto d = Data(p, "/api/v1/query?query=" + UrlEncode(selector + "[1h]"));
  if (!d.is_object() || !d["result"].is_array()) return 0;
  int n = 0;
  for (const auto& series : d["result"]) n += static_cast<int>(series["values"].size());
  return n;
}

TEST(Monitoring, KillNineOfTheDaemonKeepsSamplesUpToTheLastWalSync) {
  Project p;
  p.WriteStack("project: mon\nmonitoring: {scrape_interval: 200ms, scrape_timeout: 150ms}\n"
               "monitors:\n  self: {type: tcp, target: '127.0.0.1:1', interval: 1s}\n");
  ASSERT_APPLY_OK(p);
  ASSERT_TRUE(PollUntil([&] { return CountSamples(p, R"(up{job="steward"})") >= 15; }, 20000));
  // Samples older than the WAL sync interval (1 s) must survive the kill.
  std::this_thread::sleep_for(std::chrono::milliseconds(1500));
  auto before = Data(p, "/api/v1/query?query=" + UrlEncode(R"(up{job="steward"}[1h])"));
  ASSERT_TRUE(before.is_object());
  auto values = before["result"][0]["values"];
  double synced_until = values[values.size() - 1][0].get<double>() - 1.2;
  int must_keep = 0;
  for (const auto& v : values)
    if (v[0].get<double>() <= synced_until) ++must_keep;
  int pid = p.DaemonPid();
  ASSERT_GT(pid, 0);
  kill(pid, SIGKILL);
  ASSERT_TRUE(PollUntil([&] { ReapAll(); return !ProcessAlive(pid); }, 5000));
  ASSERT_APPLY_OK(p);
  auto after = Data(p, "/api/v1/query?query=" + UrlEncode(R"(up{job="steward"}[1h])"));
  ASSERT_TRUE(after.is_object());
  // The new daemon listens on another port, so its self-scrape is another series (another
  // instance label), which may sort before the old one: count the old samples in every series.
  int kept_old = 0;
  for (const auto& series : after["result"]) {
    std::set<double> seen;
    for (const auto& v : series["values"]) {
      double t = v[0].get<double>();
      EXPECT_TRUE(seen.insert(t).second) << "duplicate sample at " << t;
      if (t <= synced_until) ++kept_old;
    }
  }
  EXPECT_EQ(kept_old, must_keep) << after.dump();
}

}  // namespace
}  // namespace steward::testing
