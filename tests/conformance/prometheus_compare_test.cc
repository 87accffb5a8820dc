// Conformance with a real Prometheus (Debian's 2.42): Steward and Prometheus scrape the same
// targets for a minute (STEWARD_COMPARE_SECONDS overrides); the stored series and the samples at
// matching timestamps must agree.
#include <chrono>
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

// Values a synthetic exporter serves with explicit timestamps, so that two scrapers store
// identical (t, v) pairs and can be compared exactly.
std::string SyntheticBody() {
  auto now = std::chrono::system_clock::now().time_since_epoch();
  int64_t sec = std::chrono::duration_cast<std::chrono::seconds>(now).count();
  std::string ts = std::to_string(sec * 1000);
  char buf[512];
  std::snprintf(buf, sizeof buf,
                "# HELP synth_requests_total Requests.\n# TYPE synth_requests_total counter\n"
                "synth_requests_total{code=\"200\"} %lld %s\n"
                "synth_requests_total{code=\"500\"} %lld %s\n"
                "# TYPE synth_temperature gauge\nsynth_temperature %.17g %s\n"
                "synth_ratio{path=\"/a\\\"b\"} %.17g %s\n",
                static_cast<long long>(sec * 7 % 100000), ts.c_str(),
                static_cast<long long>(sec % 97), ts.c_str(), 20 + std::sin(sec / 10.0) * 5,
                ts.c_str(), 1.0 / (1 + sec % 13), ts.c_str());
  return buf;
}

std::map<std::string, std::map<double, std::string>> Matrix(const nlohmann::json& data) {
  std::map<std::string, std::map<double, std::string>> out;
  if (!data.is_object()) return out;
  for (const auto& s : data["result"]) {
    auto& series = out[s["metric"].dump()];
    for (const auto& v : s["values"]) series[v[0].get<double>()] = v[1].get<std::string>();
  }
  return out;
}

TEST(PrometheusConformance, StoresWhatPrometheusStoresFromTheSameTargets) {
  if (!HaveBinary("prometheus") || !HaveBinary("prometheus-node-exporter"))
    GTEST_SKIP() << "prometheus or prometheus-node-exporter missing: run scripts/setup";
  Project p;
  NodeExporter node;
  ASSERT_TRUE(node.Start(p.dir()));
  BodyServer synth([](const std::string&) { return SyntheticBody(); });
  std::string node_addr = "127.0.0.1:" + std::to_string(node.port());
  std::string synth_addr = "127.0.0.1:" + std::to_string(synth.port());
  std::string jobs = "  - job_name: node\n    static_configs: [{targets: ['" + node_addr +
                     "']}]\n  - job_name: synth\n    static_configs: [{targets: ['" + synth_addr +
                     "'], labels: {team: infra}}]\n";
  Prometheus prom;
  ASSERT_TRUE(prom.Start(p.dir(), jobs, "1s"));
  p.WriteStack("project: mon\nmonitoring: {scrape_interval: 1s, scrape_timeout: 1s}\n"
               "scrape_configs:\n" + jobs);
  ASSERT_APPLY_OK(p);
  int seconds = 60;
  if (const char* s = getenv("STEWARD_COMPARE_SECONDS")) seconds = std::atoi(s);
  std::this_thread::sleep_for(std::chrono::seconds(seconds));

  // 1. The synthetic series: the same (timestamp, value) pairs, bit for bit as text.
  std::string now = std::to_string(
      std::chrono::duration_cast<std::chrono::seconds>(
          std::chrono::system_clock::now().time_since_epoch()).count());
  std::string q = "query=" + UrlEncode(R"({job="synth", __name__=~"synth_.*"}[10m])") + "&time=" + now;
  auto ours = Matrix(Data(p, "/api/v1/query?" + q));
  auto theirs = Matrix(prom.Api("query?" + q));
  ASSERT_EQ(ours.size(), 4u);
  ASSERT_EQ(theirs.size(), 4u);
  int compared = 0;
  for (const auto& [series, samples] : theirs) {
    ASSERT_TRUE(ours.count(series)) << "Steward lacks " << series;
    for (const auto& [t, v] : samples) {
      auto it = ours[series].find(t);
      if (it == ours[series].end()) continue;  // one scraper started or ended a scrape apart
      EXPECT_EQ(it->second, v) << series << " at " << t;
      ++compared;
    }
  }
  EXPECT_GE(compared, 4 * (seconds - 10)) << "too few matching timestamps";

  // 2. node_exporter: the same series (label sets) over the last 20 seconds, and the same
  //    values for the series that do not change.
  std::string window = "&start=" + std::to_string(std::stoll(now) - 20) + "&end=" + now;
  auto our_series = Data(p, "/api/v1/series?match[]=" + UrlEncode(R"({job="node"})") + window);
  auto their_series = prom.Api("series?match[]=" + UrlEncode(R"({job="node"})") + window);
  ASSERT_TRUE(our_series.is_array());
  ASSERT_TRUE(their_series.is_array());
  std::set<std::string> a, b;
  for (const auto& s : our_series) a.insert(s.dump());
  for (const auto& s : their_series) b.insert(s.dump());
  EXPECT_GT(b.size(), 200u);
  std::vector<std::string> only_theirs, only_ours;
  for (const auto& s : b) if (!a.count(s)) only_theirs.push_back(s);
  for (const auto& s : a) if (!b.count(s)) only_ours.push_back(s);
  EXPECT_TRUE(only_theirs.empty() && only_ours.empty())
      << only_theirs.size() << " only in Prometheus (first: "
      << (only_theirs.empty() ? "" : only_theirs[0]) << "), " << only_ours.size()
      << " only in Steward (first: " << (only_ours.empty() ? "" : only_ours[0]) << ")";
  for (const char* stable : {"node_memory_MemTotal_bytes", "node_boot_time_seconds",
                             R"(up{job="node"})"}) {
    std::string iq = "query=" + UrlEncode(stable) + "&time=" + now;
    auto o = Data(p, "/api/v1/query?" + iq);
    auto t = prom.Api("query?" + iq);
    ASSERT_TRUE(o.is_object() && t.is_object()) << stable;
    ASSERT_EQ(o["result"].size(), t["result"].size()) << stable;
    ASSERT_FALSE(o["result"].empty()) << stable;
    EXPECT_EQ(o["result"][0]["metric"], t["result"][0]["metric"]) << stable;
    EXPECT_EQ(o["result"][0]["value"][1], t["result"][0]["value"][1]) << stable;
  }
}

}  // namespace
}  // namespace steward::testing
