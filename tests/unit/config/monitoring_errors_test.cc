// One test per kind of error in the monitoring keys (service metrics, monitoring,
// scrape_configs, monitors): the exact message and where it points (line:col).
#include <gtest/gtest.h>

#include "config/stack_parser.h"
#include "unit/config/parse_helpers.h"

namespace steward::config {
namespace {

using V = std::vector<std::string>;

V DiagsOf(const std::string& yaml) {
  ParseResult r = testing::Parse(yaml);
  EXPECT_FALSE(r.stack.has_value());
  V out;
  for (const Diagnostic& d : r.diagnostics) {
    out.push_back(std::to_string(d.location.line) + ":" + std::to_string(d.location.column) + ": " +
                  d.message);
  }
  return out;
}

// A stack whose only service is "web" with `metrics: <metrics>` on line 3.
V MetricsDiags(const std::string& metrics) {
  return DiagsOf("project: p\nservices:\n  web: {command: ./w, metrics: " + metrics + "}\n");
}

// A stack with service "web" (declaring metrics) and `body` from line 3 on.
V Diags(const std::string& body) {
  return DiagsOf("project: p\nservices: {web: {command: ./w, metrics: true}}\n" + body);
}

// A monitor "m" with the settings of `spec` (a flow map's inside) on line 4.
V MonitorDiags(const std::string& spec) { return Diags("monitors:\n  m: {" + spec + "}\n"); }

// A scrape config on lines 4 on: `- job_name: j` then `fields` (each line indented by 4).
V ScrapeDiags(const std::string& fields) {
  return Diags("scrape_configs:\n  - job_name: j\n" + fields);
}

const std::string kTargets = "    static_configs: [{targets: [\"localhost:9100\"]}]\n";

// --- service metrics --------------------------------------------------------------------

TEST(MetricsErrors, ScalarThatIsNeitherPathNorBoolean) {
  EXPECT_EQ(MetricsDiags("yes"),
            V{"3:32: service 'web': 'metrics' must be a path such as /metrics, true, false or a "
              "map {path, port, interval, timeout, labels}, got 'yes'"});
}

TEST(MetricsErrors, ListIsTheWrongType) {
  EXPECT_EQ(MetricsDiags("[a]"),
            V{"3:32: service 'web': 'metrics' must be a path such as /metrics, true, false or a "
              "map {path, port, interval, timeout, labels}, got a list"});
}

TEST(MetricsErrors, PathMustStartWithSlash) {
  EXPECT_EQ(MetricsDiags("{path: metrics}"),
            V{"3:39: service 'web': metrics path 'metrics' must start with '/', e.g. /metrics"});
}

TEST(MetricsErrors, PathMustNotCarryAQuery) {
  EXPECT_EQ(MetricsDiags("\"/m?x=1\""),
            V{"3:32: service 'web': metrics path '/m?x=1' must be a path without '?' or '#' "
              "(scrape_configs take query parameters under 'params')"});
}

TEST(MetricsErrors, UnknownKeyHasASuggestion) {
  EXPECT_EQ(MetricsDiags("{pth: /m}"),
            V{"3:33: unknown key 'pth' in metrics of service 'web'; did you mean 'path'?"});
}

TEST(MetricsErrors, PortOutOfRange) {
  EXPECT_EQ(MetricsDiags("{port: 70000}"),
            V{"3:39: service 'web': 'metrics.port' must be between 1 and 65535, got 70000"});
}

TEST(MetricsErrors, ZeroIntervalAndDurationWithoutUnit) {
  EXPECT_EQ(MetricsDiags("{interval: 0s, timeout: 5}"),
            (V{"3:43: service 'web': 'metrics.interval' must be longer than 0, e.g. 15s",
               "3:56: service 'web': bad duration '5' for 'metrics.timeout': add a unit, e.g. "
               "5s"}));
}

TEST(MetricsErrors, TimeoutLongerThanItsInterval) {
  EXPECT_EQ(MetricsDiags("{interval: 5s, timeout: 6s}"),
            V{"3:56: service 'web': 'metrics.timeout' (6s) must not exceed 'metrics.interval' "
              "(5s)"});
}

TEST(MetricsErrors, TimeoutLongerThanTheDefaultInterval) {
  EXPECT_EQ(MetricsDiags("{timeout: 20s}"),
            V{"3:42: service 'web': 'metrics.timeout' (20s) must not exceed "
              "'monitoring.scrape_interval' (15s)"});
}

TEST(MetricsErrors, LabelsMustBeValidAndNotSteward) {
  EXPECT_EQ(MetricsDiags("{labels: {9x: a, job: b, __x: c, ok: \"\", t: [1]}}"),
            (V{"3:42: service 'web': label '9x' is not a valid label name; use letters, digits "
               "and '_', not starting with a digit, e.g. team",
               "3:49: service 'web': label 'job' is set by Steward itself (as are job, service, "
               "instance, replica, env); choose another name",
               "3:57: service 'web': label '__x' starts with '__', which Prometheus reserves for "
               "itself",
               "3:69: service 'web': label 'ok' is empty; an empty label is the same as none, so "
               "remove it",
               "3:76: service 'web': label 't' must be a string, got a list"}));
}

TEST(MetricsErrors, ServiceNamedLikeAReservedJob) {
  EXPECT_EQ(DiagsOf("project: p\nservices:\n  steward: {command: ./s, metrics: true}\n"),
            V{"3:27: service 'steward' declares metrics, but job 'steward' is reserved for "
              "Steward's own series; rename the service"});
}

TEST(MetricsErrors, SelectedEnvironmentOverridesAreReadLikeTheService) {
  ParseResult r = testing::Parse(
      "project: p\nenvironments:\n  prod: {services: {web: {metrics: {prot: 1}}}}\n"
      "services: {web: {command: ./w, metrics: {path: /m}}}\n",
      {}, "prod");
  ASSERT_EQ(r.diagnostics.size(), 1u);
  EXPECT_EQ(r.diagnostics[0].ToString(),
            "/srv/app/steward.yaml:3:37: error: unknown key 'prot' in metrics of service 'web'; "
            "did you mean 'port'?");
}

// --- monitoring ----------------------------------------------------------------------------

TEST(MonitoringErrors, UnknownKeyHasASuggestion) {
  EXPECT_EQ(Diags("monitoring: {scrape_intervall: 1s}\n"),
            V{"3:14: unknown key 'scrape_intervall' in monitoring; did you mean "
              "'scrape_interval'?"});
}

TEST(MonitoringErrors, MustBeAMap) {
  EXPECT_EQ(Diags("monitoring: [a]\n"), V{"3:13: 'monitoring' must be a map, got a list"});
}

TEST(MonitoringErrors, ScrapeTimeoutLongerThanInterval) {
  EXPECT_EQ(Diags("monitoring: {scrape_interval: 5s, scrape_timeout: 6s}\n"),
            V{"3:51: 'monitoring.scrape_timeout' (6s) must not exceed "
              "'monitoring.scrape_interval' (5s)"});
}

TEST(MonitoringErrors, ZeroScrapeInterval) {
  EXPECT_EQ(Diags("monitoring: {scrape_interval: 0s}\n"),
            V{"3:31: 'monitoring.scrape_interval' must be longer than 0, e.g. 15s"});
}

TEST(MonitoringErrors, BadRetentionSizeAndDuration) {
  EXPECT_EQ(Diags("monitoring: {retention_size: 1GB, retention: 5}\n"),
            (V{"3:30: bad size '1GB' for 'monitoring.retention_size': use bytes or a number with "
               "a unit (K, M, G, T = 1000^n; Ki, Mi, Gi, Ti = 1024^n), e.g. 256Mi or 1G",
               "3:46: bad duration '5' for 'monitoring.retention': add a unit, e.g. 5s"}));
}

TEST(MonitoringErrors, SelfScrapeMustBeABoolean) {
  EXPECT_EQ(Diags("monitoring: {self_scrape: maybe}\n"),
            V{"3:27: 'monitoring.self_scrape' must be true or false, got 'maybe'"});
}

// --- scrape_configs ------------------------------------------------------------------------

TEST(ScrapeConfigErrors, MustBeAList) {
  EXPECT_EQ(Diags("scrape_configs: {job_name: a}\n"),
            V{"3:17: 'scrape_configs' must be a list of jobs, e.g. [{job_name: node, "
              "static_configs: [{targets: [localhost:9100]}]}], got a map"});
}

TEST(ScrapeConfigErrors, ItemMustBeAMap) {
  EXPECT_EQ(Diags("scrape_configs: [3]\n"),
            V{"3:18: scrape_configs item 1 must be a map with a job_name, got '3'"});
}

TEST(ScrapeConfigErrors, MissingJobName) {
  EXPECT_EQ(Diags("scrape_configs:\n  - static_configs: [{targets: [\"a:1\"]}]\n"),
            V{"4:5: scrape_configs item 1 has no 'job_name'; add e.g. job_name: node"});
}

TEST(ScrapeConfigErrors, ReservedJobName) {
  EXPECT_EQ(Diags("scrape_configs:\n  - job_name: steward\n" + kTargets),
            V{"4:15: job_name 'steward' is reserved for Steward's own series ('steward': its "
              "/metrics, 'monitor': probes); choose another name"});
}

TEST(ScrapeConfigErrors, JobNameOfAServiceWithMetrics) {
  EXPECT_EQ(Diags("scrape_configs:\n  - job_name: web\n" + kTargets),
            V{"4:15: job_name 'web' is already the job of service 'web', which declares "
              "metrics; choose another name"});
}

TEST(ScrapeConfigErrors, DuplicateJobName) {
  EXPECT_EQ(Diags("scrape_configs:\n  - job_name: a\n" + kTargets + "  - job_name: a\n" + kTargets),
            V{"6:15: job_name 'a' is used twice (first at line 4); job names must be unique"});
}

TEST(ScrapeConfigErrors, UnsupportedPrometheusKeysAreNamed) {
  EXPECT_EQ(ScrapeDiags(kTargets + "    relabel_configs: []\n    basic_auth: {}\n"
                        "    consul_sd_configs: []\n"),
            (V{"6:5: scrape config 'j': 'relabel_configs' is not supported yet; remove it",
               "7:5: scrape config 'j': 'basic_auth' is not supported yet; remove it",
               "8:5: scrape config 'j': 'consul_sd_configs' is not supported yet; list the "
               "targets under static_configs or file_sd_configs"}));
}

TEST(ScrapeConfigErrors, UnknownKeyHasASuggestion) {
  EXPECT_EQ(ScrapeDiags(kTargets + "    scrape_intervall: 1s\n"),
            V{"6:5: unknown key 'scrape_intervall' in scrape config 'j'; did you mean "
              "'scrape_interval'?"});
}

TEST(ScrapeConfigErrors, SchemeIsHttpOrHttps) {
  EXPECT_EQ(ScrapeDiags(kTargets + "    scheme: ftp\n"),
            V{"6:13: scrape config 'j': 'scheme' must be http or https, got 'ftp'"});
}

TEST(ScrapeConfigErrors, TargetsMustBeHostPort) {
  EXPECT_EQ(
      ScrapeDiags("    static_configs:\n"
                  "      - targets: [localhost, \"http://x:1\", \"x:0\", \"::1:9100\", \":9\"]\n"),
      (V{"6:19: scrape config 'j': target 'localhost' has no port; write host:port, e.g. "
         "localhost:9100",
         "6:30: scrape config 'j': target 'http://x:1' has a scheme; write host:port without it "
         "(set 'scheme: https' for TLS), e.g. localhost:9100",
         "6:44: scrape config 'j': target 'x:0' has port '0', which is not a number between 1 "
         "and 65535",
         "6:51: scrape config 'j': target '::1:9100' is not host:port; an IPv6 host goes in "
         "brackets, e.g. [::1]:9100",
         "6:63: scrape config 'j': target ':9' has no host; write host:port, e.g. "
         "localhost:9100"}));
}

TEST(ScrapeConfigErrors, StaticConfigKeysAndLabels) {
  EXPECT_EQ(ScrapeDiags("    static_configs:\n      - target: [\"a:1\"]\n        labels: {9x: a}\n"
                        "      - 7\n"),
            (V{"6:9: unknown key 'target' in static_configs of scrape config 'j'; did you mean "
               "'targets'?",
               "7:18: scrape config 'j': label '9x' is not a valid label name; use letters, "
               "digits and '_', not starting with a digit, e.g. team",
               "8:9: scrape config 'j': 'static_configs item' must be a map, got '7'"}));
}

TEST(ScrapeConfigErrors, ParamsTakeOneValueEach) {
  EXPECT_EQ(ScrapeDiags(kTargets + "    params: {a: [x, y], b: {c: d}}\n"),
            (V{"6:17: scrape config 'j': 'params.a' must be a list of exactly one value, e.g. "
               "[cpu], got 2 values; Steward sends one value per parameter",
               "6:28: scrape config 'j': 'params.b' must be a list of exactly one value, e.g. "
               "[cpu], got a map; Steward sends one value per parameter"}));
}

TEST(ScrapeConfigErrors, TimeoutLongerThanInterval) {
  EXPECT_EQ(ScrapeDiags(kTargets + "    scrape_interval: 5s\n    scrape_timeout: 6s\n"),
            V{"7:21: scrape config 'j': 'scrape_timeout' (6s) must not exceed 'scrape_interval' "
              "(5s)"});
  EXPECT_EQ(ScrapeDiags(kTargets + "    scrape_timeout: 20s\n"),
            V{"6:21: scrape config 'j': 'scrape_timeout' (20s) must not exceed "
              "'monitoring.scrape_interval' (15s)"});
}

TEST(ScrapeConfigErrors, MetricsPathMustStartWithSlash) {
  EXPECT_EQ(ScrapeDiags(kTargets + "    metrics_path: metrics\n"),
            V{"6:19: scrape config 'j': 'metrics_path' must start with '/', e.g. /metrics"});
}

TEST(ScrapeConfigErrors, FileSdPathsAndShape) {
  EXPECT_EQ(ScrapeDiags("    file_sd_configs:\n"
                        "      - files: [\"*/x.json\", a.txt, \"t[0-9].json\"]\n"
                        "      - refresh_interval: 0s\n"
                        "      - files: []\n"),
            (V{"6:17: scrape config 'j': file '*/x.json' has a glob in a directory; globs (* ? "
               "[...]) are allowed only in the file name, e.g. targets/*.json",
               "6:29: scrape config 'j': file 'a.txt' must end in .json, .yml or .yaml, e.g. "
               "targets/*.json",
               "7:9: scrape config 'j': a file_sd_configs item has no 'files'; add e.g. files: "
               "[targets/*.json]",
               "7:27: scrape config 'j': 'file_sd_configs.refresh_interval' must be longer than "
               "0, e.g. 15s",
               "8:16: scrape config 'j': 'files' must be a non-empty list of paths, e.g. "
               "[targets/*.json], got an empty list"}));
}

TEST(ScrapeConfigErrors, JobWithoutTargets) {
  EXPECT_EQ(ScrapeDiags("    scrape_interval: 5s\n"),
            V{"4:15: scrape config 'j' has no targets; add static_configs or file_sd_configs"});
}

// --- monitors ------------------------------------------------------------------------------

TEST(MonitorErrors, MustBeAMapOfMonitors) {
  EXPECT_EQ(Diags("monitors: [a]\n"), V{"3:11: 'monitors' must be a map, got a list"});
  EXPECT_EQ(Diags("monitors: {m: 3}\n"),
            V{"3:15: monitor 'm' must be a map with at least 'type', e.g. m: {type: http, url: "
              "http://localhost:8080/healthz}, got '3'"});
}

TEST(MonitorErrors, InvalidName) {
  EXPECT_EQ(Diags("monitors:\n  Api_Health: {type: tcp, target: \"a:1\"}\n"),
            V{"4:3: monitor name 'Api_Health' is not valid; use lowercase letters, digits and "
              "'-', starting with a letter or digit, e.g. api-health"});
}

TEST(MonitorErrors, MissingOrUnknownType) {
  EXPECT_EQ(MonitorDiags("url: \"http://a/\""),
            V{"4:3: monitor 'm' has no 'type'; add e.g. type: http (one of http, tcp, exec, "
              "tls)"});
  EXPECT_EQ(MonitorDiags("type: ping"),
            V{"4:13: monitor 'm': 'type' must be one of http, tcp, exec, tls, got 'ping'"});
}

TEST(MonitorErrors, KeysOfAnotherKind) {
  EXPECT_EQ(MonitorDiags("type: tcp, target: \"a:1\", url: \"http://a/\", min_days_valid: 3"),
            (V{"4:33: monitor 'm': 'url' is for http monitors, and this one is tcp",
               "4:51: monitor 'm': 'min_days_valid' is for tls monitors, and this one is tcp"}));
  EXPECT_EQ(MonitorDiags("type: exec, command: x, target: \"a:1\""),
            V{"4:31: monitor 'm': 'target' is for tcp and tls monitors, and this one is exec"});
}

TEST(MonitorErrors, MissingRequiredKeyOfTheKind) {
  EXPECT_EQ(MonitorDiags("type: http"),
            V{"4:3: monitor 'm' (http) has no 'url'; add e.g. url: "
              "http://localhost:8080/healthz"});
  EXPECT_EQ(MonitorDiags("type: tls"),
            V{"4:3: monitor 'm' (tls) has no 'target'; add e.g. target: example.com:443"});
  EXPECT_EQ(MonitorDiags("type: exec"),
            V{"4:3: monitor 'm' (exec) has no 'command'; add e.g. command: [pg_isready, -q]"});
}

TEST(MonitorErrors, UnknownKeyHasASuggestion) {
  EXPECT_EQ(MonitorDiags("type: tcp, target: \"a:1\", intervl: 5s"),
            V{"4:33: unknown key 'intervl' in monitor 'm'; did you mean 'interval'?"});
}

TEST(MonitorErrors, BadUrl) {
  EXPECT_EQ(MonitorDiags("type: http, url: \"ftp://x/\""),
            V{"4:24: monitor 'm': 'url' must start with http:// or https://, e.g. "
              "http://localhost:8080/healthz"});
  EXPECT_EQ(MonitorDiags("type: http, url: \"http:///x\""),
            V{"4:24: monitor 'm': 'url' has no host, e.g. http://localhost:8080/healthz"});
}

TEST(MonitorErrors, BadMethodAndHeaders) {
  EXPECT_EQ(MonitorDiags("type: http, url: \"http://a/\", method: FETCH, "
                         "headers: {\"Bad Header\": x, ok: [1]}"),
            (V{"4:45: monitor 'm': 'method' must be one of GET, HEAD, POST, PUT, PATCH, DELETE, "
               "OPTIONS, got 'FETCH'",
               "4:62: monitor 'm': header name 'Bad Header' is not valid; use letters, digits "
               "and '-', e.g. X-Request-Id",
               "4:83: monitor 'm': header 'ok' must be a string, got a list"}));
}

TEST(MonitorErrors, ExpectStatusRangeAndEmptyList) {
  EXPECT_EQ(MonitorDiags("type: http, url: \"http://a/\", expect_status: [99, 200]"),
            V{"4:53: monitor 'm': 'expect_status item' must be between 100 and 599, got 99"});
  EXPECT_EQ(MonitorDiags("type: http, url: \"http://a/\", expect_status: []"),
            V{"4:52: monitor 'm': 'expect_status' is an empty list; give at least one status, "
              "e.g. [200, 204]"});
}

TEST(MonitorErrors, BodyRegexMustCompile) {
  EXPECT_EQ(MonitorDiags("type: http, url: \"http://a/\", body_regex: \"(ok\""),
            V{"4:49: monitor 'm': 'body_regex' is not a valid RE2 regular expression: missing "
              "): (ok"});
}

TEST(MonitorErrors, TimeoutLongerThanInterval) {
  EXPECT_EQ(MonitorDiags("type: tcp, target: \"a:1\", interval: 5s, timeout: 6s"),
            V{"4:56: monitor 'm': 'timeout' (6s) must not exceed 'interval' (5s); a probe must "
              "finish before the next one starts"});
}

TEST(MonitorErrors, ZeroInterval) {
  EXPECT_EQ(MonitorDiags("type: tcp, target: \"a:1\", interval: 0s"),
            V{"4:3: monitor 'm': 'interval' and 'timeout' must be longer than 0, e.g. interval: "
              "30s"});
}

TEST(MonitorErrors, MaxLatencyBeyondTimeout) {
  EXPECT_EQ(MonitorDiags("type: http, url: \"http://a/\", max_latency: 10s"),
            V{"4:50: monitor 'm': 'max_latency' (10s) exceeds 'timeout' (5s), so it can never "
              "fail a probe; lower it or raise the timeout"});
}

TEST(MonitorErrors, TlsFields) {
  EXPECT_EQ(MonitorDiags("type: tls, target: \"a:1\", min_days_valid: 4000, ca_file: \"\""),
            (V{"4:49: monitor 'm': 'min_days_valid' must be between 0 and 3650, got 4000",
               "4:64: monitor 'm': 'ca_file' is empty; remove it or give a value"}));
}

TEST(MonitorErrors, EmptyExecCommand) {
  EXPECT_EQ(MonitorDiags("type: exec, command: \"\""),
            V{"4:28: monitor 'm': 'command' is empty; give a command, e.g. command: pg_isready "
              "-q"});
  EXPECT_EQ(MonitorDiags("type: exec, command: []"),
            V{"4:28: monitor 'm': 'command' needs at least the program, e.g. command: "
              "[pg_isready, -q]"});
}

TEST(MonitorErrors, LabelsSetByTheProber) {
  EXPECT_EQ(MonitorDiags("type: exec, command: [x], labels: {instance: a}"),
            V{"4:42: monitor 'm': label 'instance' is set by Steward itself (as are job, "
              "monitor, instance, kind); choose another name"});
}

TEST(MonitorErrors, UnsetVariable) {
  EXPECT_EQ(MonitorDiags("type: http, url: \"${URL}\""),
            V{"4:24: monitor 'm': 'url': variable 'URL' is not set; export it, define it under "
              "environments.<env>.vars, or give a default: ${URL:-value}"});
}

}  // namespace
}  // namespace steward::config
