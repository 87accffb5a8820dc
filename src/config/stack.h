// The typed model of a stack file (steward.yaml): what a team declares. The parser fills it,
// the validator checks it, the planner reads it. Plain data, no behaviour beyond helpers;
// values are already interpolated (${VAR}) and the selected environment's overrides applied.
// Thread safety: immutable after parsing; share freely across threads.
#pragma once

#include <chrono>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "config/alerting.h"
#include "config/backup.h"
#include "config/runbook.h"
#include "config/slo.h"
#include "config/source_location.h"

namespace steward::config {

using Duration = std::chrono::milliseconds;


enum class HealthCheckKind { kNone, kHttp, kTcp, kExec };

struct HealthCheck {
  HealthCheckKind kind = HealthCheckKind::kNone;
  std::string path = "/healthz";        // http: request path
  int port = 0;                         // http/tcp: 0 means the replica's PORT
  int expect_status = 0;                // http: 0 means any 2xx/3xx
  std::vector<std::string> command;     // exec: argv; exit 0 is healthy
  Duration interval{2000};
  Duration timeout{1000};
  Duration start_period{0};             // failures in this window after start do not count
  int healthy_threshold = 1;            // consecutive successes to become ready
  int unhealthy_threshold = 3;          // consecutive failures to become unhealthy (restart)
};

enum class RestartPolicy { kAlways, kOnFailure, kNever };

struct Restart {
  RestartPolicy policy = RestartPolicy::kAlways;
  Duration backoff_initial{100};        // first restart delay; doubles each time
  Duration backoff_max{30000};
  int crash_loop_restarts = 5;          // this many restarts inside crash_loop_window...
  Duration crash_loop_window{60000};    // ...marks the replica crash-looping
};

struct Resources {
  double cpu = 0;             // cores; 0 = unset
  int64_t memory_bytes = 0;   // 0 = unset; the supervisor restarts a replica whose RSS exceeds it
};

// metrics: on a service — every replica is scraped at http://127.0.0.1:<port><path>.
struct MetricsEndpoint {
  bool enabled = false;
  std::string path = "/metrics";
  int port = 0;                         // 0: the replica's PORT
  Duration interval{0};                 // 0: monitoring.scrape_interval
  Duration timeout{0};                  // 0: monitoring.scrape_timeout (capped at interval)
  std::map<std::string, std::string> labels;  // extra target labels
};

// ingress: a stable front door for the service (HAProxy, src/ingress/), which deploys use to
// move traffic between releases without dropping requests.
struct Ingress {
  bool enabled = false;
  std::string bind = "127.0.0.1";
  int port = 0;                         // required when enabled
  std::string health_path;              // "": HAProxy does no health checks of its own
};

enum class DeployStrategy { kRolling, kBlueGreen, kCanary };

struct CanaryStep {
  int weight = 0;                       // percent of requests to the new release, 1..100
  Duration pause{30000};                // how long to hold (and analyse) at this weight
};

// A PromQL check during a canary or blue-green verification: the deploy fails when the value
// is above `max` (below `min` when set). $service, $release, $canary_instances (a regex of
// host:port of the new release's replicas) are replaced before the query runs.
struct AnalysisCheck {
  std::string name;
  std::string query;
  double max = 0;
  bool has_max = false;
  double min = 0;
  bool has_min = false;
  SourceLocation location;
};

struct DeployAnalysis {
  Duration interval{5000};              // how often checks run during a pause
  // Error rate of the new release's requests as the ingress sees them (5xx / responses);
  // negative: not checked. Needs an ingress.
  double max_error_rate = -1;
  std::vector<AnalysisCheck> checks;    // PromQL checks (need the monitoring room)
  int failure_limit = 1;                // failed analyses before rolling back
};

// deploy: how a new release of the service goes live.
struct DeployConfig {
  DeployStrategy strategy = DeployStrategy::kRolling;
  int max_surge = 1;                    // rolling: extra replicas at once
  int max_unavailable = 0;              // rolling: replicas that may be down at once
  std::vector<CanaryStep> steps;        // canary: default 10% then 50%, 30 s each
  Duration verify{10000};               // blue-green: green must stay healthy this long
  DeployAnalysis analysis;
  int keep_releases = 5;                // releases kept to roll back to
  SourceLocation location;
};

// secret_files: an entry writes a secret's current value to a file (atomically, with `mode`)
// before each replica starts; the file is removed with the replica's service when it lies
// under Steward's state directory.
struct SecretFile {
  std::string secret;                   // the secret's NAME
  std::string path;                     // absolute after parsing (relative: to the stack file)
  int mode = 0600;
  SourceLocation location;
  bool operator==(const SecretFile& o) const {
    return secret == o.secret && path == o.path && mode == o.mode;
  }
};

struct Service {
  std::string name;
  SourceLocation location;              // of the service's key in the file
  std::string command;                  // program; resolved through PATH when it has no '/'
  std::vector<std::string> args;
  // Values are templates that may hold ${secret:NAME} references (config/secret_refs.h); they
  // are resolved only into a starting replica's environment.
  std::map<std::string, std::string> env;
  std::vector<SecretFile> secret_files;
  // The version of each secret the service uses, as of the plan (StampSecretVersions); not
  // written in the stack file. Part of ReplaceHash: a rotation rolls the service.
  std::map<std::string, int64_t> secret_versions;
  std::string working_dir;              // absolute after parsing (relative to the stack file)
  int replicas = 1;
  // Declared ports. Replica i of a service with port P runs with PORT=P+i; during a rolling
  // update the replacement runs on P+replicas+i, so a service owns [P, P+2*replicas).
  // Empty: each replica gets a free port from the OS.
  std::vector<int> ports;
  HealthCheck health;
  Restart restart;
  int stop_signal = 15;                 // SIGTERM
  Duration stop_grace{10000};
  std::vector<std::string> depends_on;
  Resources resources;
  MetricsEndpoint metrics;
  Ingress ingress;
  DeployConfig deploy;
  ServiceBackup backup;
};

// scrape_configs: entries, in Prometheus' shape (a subset), for targets Steward does not run.
struct StaticTargetGroup {
  std::vector<std::string> targets;     // host:port
  std::map<std::string, std::string> labels;
};

struct ScrapeConfig {
  std::string job_name;
  SourceLocation location;
  Duration interval{0};                 // scrape_interval; 0: the global default
  Duration timeout{0};                  // scrape_timeout
  std::string metrics_path = "/metrics";
  std::string scheme = "http";          // http | https
  bool honor_labels = false;
  bool honor_timestamps = true;
  std::map<std::string, std::string> params;  // URL query parameters
  std::vector<StaticTargetGroup> static_configs;
  // file_sd_configs: JSON (or YAML) files of [{"targets": [...], "labels": {...}}], re-read
  // every refresh_interval; globs allowed in the file name. Paths absolute after parsing.
  std::vector<std::string> file_sd_files;
  Duration file_sd_refresh{30000};
};

// monitors: synthetic probes, like blackbox_exporter modules and Gatus endpoints.
enum class ProbeKind { kHttp, kTcp, kExec, kTls };

struct Monitor {
  std::string name;
  SourceLocation location;
  ProbeKind kind = ProbeKind::kHttp;
  Duration interval{30000};
  Duration timeout{5000};
  std::map<std::string, std::string> labels;  // added to every probe_* series
  // http
  std::string url;
  std::string method = "GET";
  std::map<std::string, std::string> headers;
  std::string body;
  std::vector<int> expect_status;       // empty: any 2xx
  std::string body_regex;               // RE2, searched (not anchored); empty: no check
  Duration max_latency{0};              // 0: no latency check
  bool follow_redirects = true;
  bool insecure_skip_verify = false;    // https: accept any certificate
  // tcp and tls
  std::string target;                   // host:port
  // tls
  std::string server_name;              // SNI and the name verified; default: host of target
  std::string ca_file;                  // extra trust anchors; default: the system store
  int min_days_valid = 0;               // fail when the certificate expires sooner
  // exec
  std::vector<std::string> command;     // argv; success is exit 0
};

// monitoring: the embedded Prometheus — defaults, storage, self-scrape.
struct Monitoring {
  Duration scrape_interval{15000};
  Duration scrape_timeout{10000};
  Duration retention{15LL * 24 * 3600 * 1000};
  int64_t retention_bytes = 0;          // 0: no size limit
  bool self_scrape = true;              // scrape the daemon's own /metrics as job "steward"
};

struct Environment {
  std::string name;
  std::map<std::string, std::string> vars;  // extra ${VAR} values for interpolation
};

struct Stack {
  std::string path;                     // the stack file, absolute
  std::string dir;                      // its directory; relative paths resolve from here
  std::string project;
  std::string environment;              // selected environment name ("" if none)
  std::vector<Environment> environments;
  std::vector<Service> services;        // in file order
  std::vector<ScrapeConfig> scrape_configs;
  std::vector<Monitor> monitors;        // in file order
  Monitoring monitoring;
  std::vector<std::string> rule_files;  // absolute paths or globs (relative to dir when written)
  Alerting alerting;
  std::vector<Slo> slos;                // in file order
  std::vector<Runbook> runbooks;        // in file order
  BackupSettings backup;

  const Service* FindService(const std::string& name) const;
};

}  // namespace steward::config
