// Discovery: targets and labels from services, static configs and file_sd files (real temp
// files), and the last-good policy for broken files.
#include "monitor/discovery.h"
#include "unit/state/temp_dir.h"

#include <gtest/gtest.h>
#include <stdlib.h>

#include <filesystem>
#include <fstream>

namespace steward::monitor {
namespace {

using std::chrono::milliseconds;

using state::testing::TempDir;

// Writes a file into the test's directory and returns its path.
std::string Write(const TempDir& dir, const std::string& name, const std::string& text) {
  state::testing::WriteFile(dir.Sub(name), text);
  return dir.Sub(name);
}

tsdb::Labels L(std::vector<tsdb::Label> labels) {
  return tsdb::Labels::FromUnsorted(std::move(labels)).value();
}

config::Service MetricsService(const std::string& name) {
  config::Service s;
  s.name = name;
  s.metrics.enabled = true;
  return s;
}

std::string Joined(const std::vector<std::string>& errors) {
  std::string out;
  for (const auto& e : errors) out += e + "\n";
  return out;
}

TEST(Discovery, ServiceReplicasBecomeTargetsWithTheirLabels) {
  config::Stack stack;
  stack.environment = "prod";
  config::Service api = MetricsService("api");
  api.metrics.labels["team"] = "core";
  config::Service quiet;
  quiet.name = "quiet";
  stack.services = {api, quiet};
  Discovery d;
  DiscoveryResult r = d.Discover(stack, {{"api", 1, 8081}, {"api", 0, 8080}, {"quiet", 0, 9000}});
  ASSERT_TRUE(r.errors.empty()) << Joined(r.errors);
  ASSERT_EQ(r.targets.size(), 2u);
  const TargetSpec& t = r.targets[0];
  EXPECT_EQ(t.job, "api");
  EXPECT_EQ(t.url, "http://127.0.0.1:8080/metrics");
  EXPECT_EQ(t.labels, L({{"job", "api"},
                         {"instance", "127.0.0.1:8080"},
                         {"service", "api"},
                         {"replica", "0"},
                         {"env", "prod"},
                         {"team", "core"}}));
  EXPECT_EQ(t.discovered.Get("__address__"), "127.0.0.1:8080");
  EXPECT_EQ(t.discovered.Get("__metrics_path__"), "/metrics");
  EXPECT_EQ(t.discovered.Get("__scheme__"), "http");
  EXPECT_EQ(t.discovered.Get("__scrape_interval__"), "15s");
  EXPECT_EQ(t.discovered.Get("__scrape_timeout__"), "10s");
  EXPECT_EQ(t.discovered.Get("job"), "api");
  EXPECT_EQ(t.interval, milliseconds(15000));
  EXPECT_EQ(t.timeout, milliseconds(10000));
  EXPECT_EQ(r.targets[1].labels.Get("replica"), "1");
}

TEST(Discovery, NoEnvLabelWithoutAnEnvironmentAndTimeoutCappedAtInterval) {
  config::Stack stack;
  config::Service api = MetricsService("api");
  api.metrics.interval = milliseconds(5000);
  api.metrics.path = "/stats";
  stack.services = {api};
  DiscoveryResult r = Discovery().Discover(stack, {{"api", 0, 8080}});
  ASSERT_EQ(r.targets.size(), 1u);
  EXPECT_FALSE(r.targets[0].labels.Has("env"));
  EXPECT_EQ(r.targets[0].interval, milliseconds(5000));
  EXPECT_EQ(r.targets[0].timeout, milliseconds(5000));
  EXPECT_EQ(r.targets[0].url, "http://127.0.0.1:8080/stats");
}

TEST(Discovery, DeclaredMetricsPortReplacesTheReplicaPort) {
  config::Stack stack;
  config::Service api = MetricsService("api");
  api.metrics.port = 9100;
  stack.services = {api};
  DiscoveryResult r = Discovery().Discover(stack, {{"api", 0, 8080}, {"api", 2, 8082}});
  ASSERT_EQ(r.targets.size(), 2u);
  EXPECT_EQ(r.targets[0].url, "http://127.0.0.1:9100/metrics");
  EXPECT_EQ(r.targets[1].url, "http://127.0.0.1:9100/metrics");
  EXPECT_EQ(r.targets[1].labels.Get("replica"), "2");
}

TEST(Discovery, ReplicaWithoutPortIsAnError) {
  config::Stack stack;
  stack.services = {MetricsService("api")};
  DiscoveryResult r = Discovery().Discover(stack, {{"api", 0, 0}});
  EXPECT_TRUE(r.targets.empty());
  ASSERT_EQ(r.errors.size(), 1u);
  EXPECT_NE(r.errors[0].find("service api replica 0"), std::string::npos) << r.errors[0];
}

TEST(Discovery, StaticConfigsGetPrometheusLabelsAndUrl) {
  config::Stack stack;
  config::ScrapeConfig sc;
  sc.job_name = "blackbox";
  sc.scheme = "https";
  sc.metrics_path = "/probe";
  sc.params["module"] = "http 2xx";
  sc.interval = milliseconds(90000);
  sc.static_configs.push_back({{"prober", "localhost:9115"}, {{"dc", "a"}}});
  stack.scrape_configs = {sc};
  DiscoveryResult r = Discovery().Discover(stack, {});
  ASSERT_TRUE(r.errors.empty()) << Joined(r.errors);
  ASSERT_EQ(r.targets.size(), 2u);
  EXPECT_EQ(r.targets[0].url, "https://prober:443/probe?module=http+2xx");
  EXPECT_EQ(r.targets[0].labels, L({{"job", "blackbox"}, {"instance", "prober:443"}, {"dc", "a"}}));
  EXPECT_EQ(r.targets[0].discovered.Get("__param_module"), "http 2xx");
  EXPECT_EQ(r.targets[0].discovered.Get("__scrape_interval__"), "1m30s");
  EXPECT_EQ(r.targets[1].labels.Get("instance"), "localhost:9115");
}

TEST(Discovery, TargetWithSchemeOrPathIsReportedAndSkipped) {
  config::Stack stack;
  config::ScrapeConfig sc;
  sc.job_name = "node";
  sc.static_configs.push_back({{"http://host:9100/metrics", "host:9100"}, {}});
  stack.scrape_configs = {sc};
  DiscoveryResult r = Discovery().Discover(stack, {});
  ASSERT_EQ(r.targets.size(), 1u);
  ASSERT_EQ(r.errors.size(), 1u);
  EXPECT_NE(r.errors[0].find("scrape_configs node"), std::string::npos) << r.errors[0];
  EXPECT_NE(r.errors[0].find("not a valid address"), std::string::npos) << r.errors[0];
}

TEST(Discovery, FileSdReadsJsonAndYamlThroughGlobs) {
  TempDir dir;
  std::string a =
      Write(dir, "a.json", R"([{"targets": ["h1:9100", "h2:9100"], "labels": {"rack": "r1"}}])");
  Write(dir, "b.yml", "- targets: ['h3:9100']\n  labels:\n    __metrics_path__: /m\n");
  Write(dir, "c.json.tmp", "not even json");
  config::Stack stack;
  config::ScrapeConfig sc;
  sc.job_name = "node";
  sc.file_sd_files = {dir.path() + "/*.json", dir.path() + "/b.yml"};
  stack.scrape_configs = {sc};
  DiscoveryResult r = Discovery().Discover(stack, {});
  ASSERT_TRUE(r.errors.empty()) << Joined(r.errors);
  ASSERT_EQ(r.targets.size(), 3u);
  EXPECT_EQ(r.targets[0].labels, L({{"job", "node"}, {"instance", "h1:9100"}, {"rack", "r1"}}));
  EXPECT_EQ(r.targets[0].discovered.Get("__meta_filepath"), a);
  EXPECT_EQ(r.targets[2].url, "http://h3:9100/m");
}

TEST(Discovery, BrokenFileKeepsItsLastGoodTargetsAndSaysWhy) {
  TempDir dir;
  std::string path = Write(dir, "t.json", R"([{"targets": ["h1:1", "h2:2"]}])");
  config::Stack stack;
  config::ScrapeConfig sc;
  sc.job_name = "node";
  sc.file_sd_files = {path};
  stack.scrape_configs = {sc};
  Discovery d;
  ASSERT_EQ(d.Discover(stack, {}).targets.size(), 2u);

  Write(dir, "t.json", "[{\"targets\": [\"h1:1\",\n  ]}");
  DiscoveryResult r = d.Discover(stack, {});
  EXPECT_EQ(r.targets.size(), 2u);
  ASSERT_EQ(r.errors.size(), 1u);
  EXPECT_NE(r.errors[0].find(path), std::string::npos) << r.errors[0];
  EXPECT_NE(r.errors[0].find("line 2"), std::string::npos) << r.errors[0];
  EXPECT_NE(r.errors[0].find("keeping the 2 targets"), std::string::npos) << r.errors[0];

  Write(dir, "t.json", R"([{"targets": ["h1:1"], "labels": {"1bad": "x"}}])");
  r = d.Discover(stack, {});
  EXPECT_EQ(r.targets.size(), 2u);
  ASSERT_EQ(r.errors.size(), 1u);
  EXPECT_NE(r.errors[0].find("label name \"1bad\""), std::string::npos) << r.errors[0];

  Write(dir, "t.json", R"([{"targets": ["h9:9"]}])");
  r = d.Discover(stack, {});
  EXPECT_TRUE(r.errors.empty()) << Joined(r.errors);
  ASSERT_EQ(r.targets.size(), 1u);
  EXPECT_EQ(r.targets[0].labels.Get("instance"), "h9:9");

  std::filesystem::remove(path);
  r = d.Discover(stack, {});
  EXPECT_TRUE(r.targets.empty());
  ASSERT_EQ(r.errors.size(), 1u);
  EXPECT_NE(r.errors[0].find("no such file"), std::string::npos) << r.errors[0];
}

TEST(Discovery, BrokenFileWithoutHistoryGivesNoTargets) {
  TempDir dir;
  std::string path = Write(dir, "t.yaml", "- targets: [a:1]\n  extra: 1\n");
  config::Stack stack;
  config::ScrapeConfig sc;
  sc.job_name = "node";
  sc.file_sd_files = {path};
  stack.scrape_configs = {sc};
  DiscoveryResult r = Discovery().Discover(stack, {});
  EXPECT_TRUE(r.targets.empty());
  ASSERT_EQ(r.errors.size(), 1u);
  EXPECT_NE(r.errors[0].find("unknown field \"extra\""), std::string::npos) << r.errors[0];
}

TEST(Discovery, SelfScrapeWhenTheAddressIsKnown) {
  config::Stack stack;
  DiscoveryOptions o;
  o.self_address = "127.0.0.1:7070";
  DiscoveryResult r = Discovery(o).Discover(stack, {});
  ASSERT_EQ(r.targets.size(), 1u);
  EXPECT_EQ(r.targets[0].job, "steward");
  EXPECT_EQ(r.targets[0].url, "http://127.0.0.1:7070/metrics");
  stack.monitoring.self_scrape = false;
  EXPECT_TRUE(Discovery(o).Discover(stack, {}).targets.empty());
}

TEST(Discovery, RefreshIntervalIsTheSmallestOfTheFileConfigs) {
  config::Stack stack;
  EXPECT_EQ(Discovery::RefreshInterval(stack), milliseconds(0));
  config::ScrapeConfig a;
  a.file_sd_files = {"/x.json"};
  a.file_sd_refresh = milliseconds(60000);
  config::ScrapeConfig b = a;
  b.file_sd_refresh = milliseconds(5000);
  stack.scrape_configs = {a, b};
  EXPECT_EQ(Discovery::RefreshInterval(stack), milliseconds(5000));
}

TEST(PrometheusDuration, FormatsLikePrometheus) {
  EXPECT_EQ(PrometheusDuration(milliseconds(0)), "0s");
  EXPECT_EQ(PrometheusDuration(milliseconds(15000)), "15s");
  EXPECT_EQ(PrometheusDuration(milliseconds(90000)), "1m30s");
  EXPECT_EQ(PrometheusDuration(milliseconds(1500)), "1s500ms");
  EXPECT_EQ(PrometheusDuration(milliseconds(14LL * 24 * 3600 * 1000)), "2w");
  EXPECT_EQ(PrometheusDuration(milliseconds(90LL * 24 * 3600 * 1000)), "90d");
}

}  // namespace
}  // namespace steward::monitor
