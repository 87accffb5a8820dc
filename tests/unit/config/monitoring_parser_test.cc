// The monitoring keys of a stack file (service metrics, scrape_configs, monitors, monitoring):
// what a full example parses into, the defaults, the short forms, their JSON round trip and
// how a metrics change shows in a plan.
#include <gtest/gtest.h>

#include "config/stack_json.h"
#include "config/stack_parser.h"
#include "unit/config/parse_helpers.h"

namespace steward::config {
namespace {

using std::chrono::milliseconds;
using testing::Errors;
using testing::Parse;
using V = std::vector<std::string>;
using M = std::map<std::string, std::string>;

constexpr char kMonitoring[] = R"yaml(project: shop
environments:
  prod:
    vars: {API_HOST: api.internal}
    services:
      web: {metrics: {port: 9102}}
monitoring:
  scrape_interval: 10s
  scrape_timeout: 5s
  retention: 720h
services:
  web:
    command: ./web
    metrics:
      path: /internal/metrics
      interval: 5s
      timeout: 2s
      labels: {team: storefront}
  worker:
    command: ./worker
    metrics: /metrics
  batch:
    command: ./batch
    metrics: true
  db:
    command: postgres
scrape_configs:
  - job_name: node
    scrape_interval: 30s
    scrape_timeout: 10s
    metrics_path: /metrics
    scheme: https
    honor_labels: true
    honor_timestamps: false
    params: {"collect[]": [cpu], format: prometheus}
    static_configs:
      - targets: [localhost:9100, "[::1]:9100"]
        labels: {env: prod, rack: r1}
      - targets: ["${API_HOST:-localhost}:9100"]
    file_sd_configs:
      - files: [targets/*.json, /etc/steward/extra.yml]
        refresh_interval: 1m
      - files: [more.yaml]
        refresh_interval: 20s
monitors:
  home:
    type: http
    url: https://shop.example.com/
    method: post
    headers: {Authorization: Bearer x, X-Probe: steward}
    body: '{"ping": true}'
    expect_status: [200, 204]
    body_regex: "ok|healthy"
    max_latency: 800ms
    follow_redirects: false
    insecure_skip_verify: true
    interval: 15s
    timeout: 3s
    labels: {severity: page}
  db-port:
    type: tcp
    target: localhost:5432
  cert:
    type: tls
    target: shop.example.com:443
    server_name: www.shop.example.com
    ca_file: certs/ca.pem
    min_days_valid: 14
  backup-fresh:
    type: exec
    command: test -n "$(find /backups -mmin -60)"
  queue:
    type: exec
    command: [./bin/check-queue, --max, "100"]
    interval: 1m
)yaml";

Stack ParseOk(const std::string& yaml, const std::string& environment = "") {
  ParseResult r = Parse(yaml, {}, environment);
  EXPECT_TRUE(r.ok()) << Errors(r);
  return r.stack.value_or(Stack{});
}

TEST(MonitoringParse, ReadsTheMonitoringSection) {
  Stack s = ParseOk(kMonitoring);
  EXPECT_EQ(s.monitoring.scrape_interval, milliseconds(10000));
  EXPECT_EQ(s.monitoring.scrape_timeout, milliseconds(5000));
  EXPECT_EQ(s.monitoring.retention, milliseconds(720LL * 3600 * 1000));
  EXPECT_EQ(s.monitoring.retention_bytes, 0);
  EXPECT_TRUE(s.monitoring.self_scrape);
}

TEST(MonitoringParse, ReadsEveryFormOfServiceMetrics) {
  Stack s = ParseOk(kMonitoring);
  const MetricsEndpoint& web = s.services[0].metrics;
  EXPECT_TRUE(web.enabled);
  EXPECT_EQ(web.path, "/internal/metrics");
  EXPECT_EQ(web.port, 0);
  EXPECT_EQ(web.interval, milliseconds(5000));
  EXPECT_EQ(web.timeout, milliseconds(2000));
  EXPECT_EQ(web.labels, (M{{"team", "storefront"}}));
  EXPECT_TRUE(s.services[1].metrics.enabled);
  EXPECT_EQ(s.services[1].metrics.path, "/metrics");
  EXPECT_TRUE(s.services[2].metrics.enabled);
  EXPECT_EQ(s.services[2].metrics.path, "/metrics");
  EXPECT_EQ(s.services[2].metrics.interval, milliseconds(0));  // the scrape default
  EXPECT_FALSE(s.services[3].metrics.enabled);
}

TEST(MonitoringParse, EnvironmentOverridesMergeIntoMetrics) {
  Stack s = ParseOk(kMonitoring, "prod");
  const MetricsEndpoint& web = s.services[0].metrics;
  EXPECT_EQ(web.port, 9102);
  EXPECT_EQ(web.path, "/internal/metrics");  // kept from the base
  EXPECT_EQ(s.scrape_configs[0].static_configs[1].targets, V{"api.internal:9100"});
}

TEST(MonitoringParse, ReadsScrapeConfigsInPrometheusShape) {
  Stack s = ParseOk(kMonitoring);
  ASSERT_EQ(s.scrape_configs.size(), 1u);
  const ScrapeConfig& node = s.scrape_configs[0];
  EXPECT_EQ(node.job_name, "node");
  EXPECT_EQ(node.location.ToString(), "/srv/app/steward.yaml:28:15");
  EXPECT_EQ(node.interval, milliseconds(30000));
  EXPECT_EQ(node.timeout, milliseconds(10000));
  EXPECT_EQ(node.scheme, "https");
  EXPECT_TRUE(node.honor_labels);
  EXPECT_FALSE(node.honor_timestamps);
  EXPECT_EQ(node.params, (M{{"collect[]", "cpu"}, {"format", "prometheus"}}));
  ASSERT_EQ(node.static_configs.size(), 2u);
  EXPECT_EQ(node.static_configs[0].targets, (V{"localhost:9100", "[::1]:9100"}));
  EXPECT_EQ(node.static_configs[0].labels, (M{{"env", "prod"}, {"rack", "r1"}}));
  EXPECT_EQ(node.static_configs[1].targets, V{"localhost:9100"});  // ${API_HOST:-localhost}
  EXPECT_EQ(node.file_sd_files,
            (V{"/srv/app/targets/*.json", "/etc/steward/extra.yml", "/srv/app/more.yaml"}));
  EXPECT_EQ(node.file_sd_refresh, milliseconds(20000));  // the shortest of the two
}

TEST(MonitoringParse, ReadsHttpMonitors) {
  Stack s = ParseOk(kMonitoring);
  ASSERT_EQ(s.monitors.size(), 5u);
  const Monitor& home = s.monitors[0];
  EXPECT_EQ(home.name, "home");
  EXPECT_EQ(home.location.ToString(), "/srv/app/steward.yaml:46:3");
  EXPECT_EQ(home.kind, ProbeKind::kHttp);
  EXPECT_EQ(home.url, "https://shop.example.com/");
  EXPECT_EQ(home.method, "POST");
  EXPECT_EQ(home.headers, (M{{"Authorization", "Bearer x"}, {"X-Probe", "steward"}}));
  EXPECT_EQ(home.body, R"({"ping": true})");
  EXPECT_EQ(home.expect_status, (std::vector<int>{200, 204}));
  EXPECT_EQ(home.body_regex, "ok|healthy");
  EXPECT_EQ(home.max_latency, milliseconds(800));
  EXPECT_FALSE(home.follow_redirects);
  EXPECT_TRUE(home.insecure_skip_verify);
  EXPECT_EQ(home.interval, milliseconds(15000));
  EXPECT_EQ(home.timeout, milliseconds(3000));
  EXPECT_EQ(home.labels, (M{{"severity", "page"}}));
}

TEST(MonitoringParse, ReadsTcpTlsAndExecMonitors) {
  Stack s = ParseOk(kMonitoring);
  const Monitor& db = s.monitors[1];
  EXPECT_EQ(db.kind, ProbeKind::kTcp);
  EXPECT_EQ(db.target, "localhost:5432");
  EXPECT_EQ(db.interval, milliseconds(30000));  // defaults
  EXPECT_EQ(db.timeout, milliseconds(5000));
  const Monitor& cert = s.monitors[2];
  EXPECT_EQ(cert.kind, ProbeKind::kTls);
  EXPECT_EQ(cert.server_name, "www.shop.example.com");
  EXPECT_EQ(cert.ca_file, "/srv/app/certs/ca.pem");
  EXPECT_EQ(cert.min_days_valid, 14);
  EXPECT_EQ(s.monitors[3].kind, ProbeKind::kExec);
  EXPECT_EQ(s.monitors[3].command,
            (V{"/bin/sh", "-c", R"x(test -n "$(find /backups -mmin -60)")x"}));
  EXPECT_EQ(s.monitors[4].command, (V{"./bin/check-queue", "--max", "100"}));
  EXPECT_EQ(s.monitors[4].interval, milliseconds(60000));
}

TEST(MonitoringParse, DefaultsWithoutMonitoringKeys) {
  Stack s = ParseOk("project: p\nservices: {web: {command: ./w}}\n");
  EXPECT_EQ(s.monitoring.scrape_interval, milliseconds(15000));
  EXPECT_EQ(s.monitoring.scrape_timeout, milliseconds(10000));
  EXPECT_EQ(s.monitoring.retention, milliseconds(15LL * 24 * 3600 * 1000));
  EXPECT_TRUE(s.monitoring.self_scrape);
  EXPECT_TRUE(s.scrape_configs.empty());
  EXPECT_TRUE(s.monitors.empty());
  EXPECT_FALSE(s.services[0].metrics.enabled);
}

TEST(MonitoringParse, UnwrittenTimeoutsShrinkToShortIntervals) {
  Stack s = ParseOk(R"(project: p
services: {}
monitoring: {scrape_interval: 5s, retention: 0s, retention_size: 1G, self_scrape: false}
monitors:
  fast: {type: tcp, target: "localhost:1", interval: 2s}
)");
  EXPECT_EQ(s.monitoring.scrape_timeout, milliseconds(5000));  // as Prometheus: min(10s, 5s)
  EXPECT_EQ(s.monitoring.retention, milliseconds(0));
  EXPECT_EQ(s.monitoring.retention_bytes, 1000000000);
  EXPECT_FALSE(s.monitoring.self_scrape);
  EXPECT_EQ(s.monitors[0].timeout, milliseconds(2000));
}

TEST(MonitoringParse, MetricsFalseAndScalarParamsAreAccepted) {
  Stack s = ParseOk(R"(project: p
services: {web: {command: ./w, metrics: false}}
scrape_configs:
  - job_name: web-extra
    params: {module: http_2xx}
    static_configs: [{targets: ["127.0.0.1:9115"]}]
)");
  EXPECT_FALSE(s.services[0].metrics.enabled);
  EXPECT_EQ(s.scrape_configs[0].params, (M{{"module", "http_2xx"}}));
  EXPECT_EQ(s.scrape_configs[0].interval, milliseconds(0));  // the global default
  EXPECT_EQ(s.scrape_configs[0].metrics_path, "/metrics");
  EXPECT_EQ(s.scrape_configs[0].scheme, "http");
}

TEST(MonitoringJson, RoundTripsEveryMonitoringField) {
  Stack s = ParseOk(kMonitoring, "prod");
  nlohmann::json j = StackToJson(s);
  StatusOr<Stack> back = StackFromJson(nlohmann::json::parse(j.dump()));
  ASSERT_TRUE(back.ok()) << back.status().ToString();
  EXPECT_EQ(StackToJson(*back), j);
  EXPECT_EQ(back->services[0].metrics.labels, (M{{"team", "storefront"}}));
  EXPECT_EQ(back->services[0].metrics.port, 9102);
  EXPECT_EQ(back->scrape_configs[0].file_sd_refresh, milliseconds(20000));
  EXPECT_EQ(back->scrape_configs[0].location.line, 28);
  EXPECT_EQ(back->monitors[0].expect_status, (std::vector<int>{200, 204}));
  EXPECT_EQ(back->monitors[2].kind, ProbeKind::kTls);
  EXPECT_EQ(back->monitoring.retention, s.monitoring.retention);
  EXPECT_TRUE(ValidateStack(*back).empty());
}

TEST(MonitoringJson, UsesMillisecondsAndKindNames) {
  Stack s = ParseOk(kMonitoring);
  nlohmann::json j = StackToJson(s);
  EXPECT_EQ(j["services"][0]["metrics"]["interval_ms"], 5000);
  EXPECT_EQ(j["services"][0]["metrics"]["enabled"], true);
  EXPECT_EQ(j["scrape_configs"][0]["file_sd_refresh_ms"], 20000);
  EXPECT_EQ(j["monitors"][1]["kind"], "tcp");
  EXPECT_EQ(j["monitors"][0]["max_latency_ms"], 800);
  EXPECT_EQ(j["monitoring"]["scrape_interval_ms"], 10000);
}

TEST(MonitoringJson, OldRecordsWithoutMonitoringKeysTakeDefaults) {
  StatusOr<Stack> s = StackFromJson(nlohmann::json{
      {"project", "p"}, {"services", {{{"name", "web"}, {"command", "./w"}}}}});
  ASSERT_TRUE(s.ok()) << s.status().ToString();
  EXPECT_FALSE(s->services[0].metrics.enabled);
  EXPECT_EQ(s->services[0].metrics.path, "/metrics");
  EXPECT_EQ(s->monitoring.scrape_interval, milliseconds(15000));
  EXPECT_TRUE(s->monitors.empty());
}

TEST(MonitoringJson, WrongTypesAreErrors) {
  for (const char* text : {R"({"monitors":[{"name":"a","kind":"ping"}]})",
                           R"({"monitors":[{"name":"a","follow_redirects":1}]})",
                           R"({"monitors":[{"name":"a","expect_status":[2.5]}]})",
                           R"({"monitors":[3]})",
                           R"({"scrape_configs":[{"job_name":"a","static_configs":[1]}]})",
                           R"({"scrape_configs":[{"job_name":"a","params":{"x":["a"]}}]})",
                           R"({"scrape_configs":{"job_name":"a"}})",
                           R"({"monitoring":{"scrape_interval_ms":"15s"}})",
                           R"({"monitoring":[]})",
                           R"({"services":[{"name":"a","metrics":{"labels":{"a":1}}}]})",
                           R"({"services":[{"name":"a","metrics":{"port":1e10}}]})"}) {
    StatusOr<Stack> stack = StackFromJson(nlohmann::json::parse(text));
    EXPECT_FALSE(stack.ok()) << text;
    EXPECT_EQ(stack.status().code(), StatusCode::kInvalidArgument) << text;
  }
}

TEST(MonitoringValidate, ChecksMonitoringOfJsonStacks) {
  Stack s = ParseOk(kMonitoring);
  s.monitors[0].body_regex = "(unclosed";
  s.monitors[1].target = "localhost";
  s.monitors[2].timeout = s.monitors[2].interval + milliseconds(1);
  s.scrape_configs[0].job_name = "web";  // a service that declares metrics
  s.scrape_configs[0].scheme = "ftp";
  s.services[0].metrics.labels["job"] = "x";
  std::string all;
  for (const Diagnostic& d : ValidateStack(s)) all += d.message + "\n";
  for (const char* want : {"monitor 'home': 'body_regex' is not a valid RE2",
                           "monitor 'db-port': 'target' has no port",
                           "monitor 'cert': 'timeout' must not exceed 'interval'",
                           "already the job of a service", "'scheme' must be http or https",
                           "service 'web': label 'job' is set by Steward"}) {
    EXPECT_NE(all.find(want), std::string::npos) << want << "\n" << all;
  }
}

TEST(MonitoringDiff, AMetricsChangeIsAnUpdateThatReplacesNothing) {
  Stack s = ParseOk(kMonitoring);
  const Service old = s.services[0];
  Service now = old;
  now.metrics.path = "/m";
  now.metrics.labels["tier"] = "1";
  EXPECT_EQ(ReplaceHash(old), ReplaceHash(now));
  EXPECT_TRUE(ReplaceReasons(old, now).empty());
  EXPECT_EQ(UpdateReasons(old, now),
            (V{"metrics.path: \"/internal/metrics\" → \"/m\"",
               "metrics.labels: {team=\"storefront\"} → {team=\"storefront\", tier=\"1\"}"}));
  Service off = old;
  off.metrics.enabled = false;
  EXPECT_EQ(UpdateReasons(old, off), V{"metrics: on → off"});
  EXPECT_EQ(ReplaceHash(old), ReplaceHash(off));
}

}  // namespace
}  // namespace steward::config
