// Discovery: turns the stack (services with `metrics:`, `scrape_configs:` with static targets and
// file_sd files, the daemon's self-scrape) into the ScrapeManager's target list, with the labels
// Prometheus would give them.
//
// Contract:
// - A service with metrics.enabled yields one target per running replica:
//   job=<service>, instance=127.0.0.1:<port>, service, replica, env (only when the stack selects an
//   environment), then metrics.labels (which may override any of these, as target-group labels
//   do in Prometheus). The port is metrics.port when set (the same for every replica, as the
//   stack reference says), else the replica's own port. URL http://127.0.0.1:<port><path>.
// - Interval and timeout come from the service or scrape config, else stack.monitoring's
//   defaults; the timeout is capped at the interval.
// - scrape_configs: static_configs and file_sd files — JSON or YAML lists of
//   {"targets": ["host:port", ...], "labels": {...}}; '*', '?' and [...] globs in the last path
//   component. Labels as Prometheus 2.x: group labels first, then job, __address__,
//   __metrics_path__, __scheme__, __scrape_interval__, __scrape_timeout__ and __param_<name>
//   where not set by the group (so a group may set __metrics_path__), __meta_filepath for file_sd;
//   a missing port is :80 (http) or :443 (https); instance defaults to __address__. The target's
//   labels are the discovered ones without the "__" names; `discovered` keeps them all.
// - Errors never stop discovery: each is reported in DiscoveryResult::errors naming the file,
//   service or scrape config and what is wrong. A file_sd file that exists but cannot be read or
//   parsed keeps its last good targets (Prometheus keeps the last good); a file that is gone
//   drops its targets (and a non-glob path that is missing is reported).
// - The daemon's own /metrics (job "steward") is a target when stack.monitoring.self_scrape is
//   set and DiscoveryOptions::self_address is known.
//
// Thread safety: Discover may be called from any thread; calls are serialised (the last-good
// file_sd state is shared).
#pragma once

#include <map>
#include <mutex>
#include <string>
#include <vector>

#include "base/clock.h"
#include "config/stack.h"
#include "monitor/file_sd.h"
#include "monitor/scrape_manager.h"

namespace steward::monitor {

struct ReplicaEndpoint {
  std::string service;
  int replica = 0;  // the replica's slot (0-based)
  int port = 0;     // the replica's PORT
};

struct DiscoveryResult {
  std::vector<TargetSpec> targets;  // in stack order: services, self, scrape_configs
  std::vector<std::string> errors;
};

struct DiscoveryOptions {
  std::string self_address;  // host:port of the daemon's HTTP server; "": none
  std::string self_metrics_path = "/metrics";
};

class Discovery {
 public:
  explicit Discovery(DiscoveryOptions options = {});

  DiscoveryResult Discover(const config::Stack& stack,
                           const std::vector<ReplicaEndpoint>& replicas);

  // How often file_sd files should be re-read: the smallest file_sd refresh of the stack's
  // scrape configs; 0 when no scrape config has files. The caller calls Discover that often
  // (and whenever the stack or the replicas change).
  static Duration RefreshInterval(const config::Stack& stack);

 private:
  void DiscoverFiles(const config::Stack& stack, const config::ScrapeConfig& sc,
                     DiscoveryResult* out);
  // The groups of one file: freshly parsed, or the last good ones when it is broken.
  std::vector<TargetGroup> ReadFile(const std::string& path, const std::string& where,
                                    std::vector<std::string>* errors);

  DiscoveryOptions options_;
  std::mutex mu_;
  std::map<std::string, std::vector<TargetGroup>> last_good_;  // by file path; guarded by mu_
};

// Prometheus' duration text ("15s", "1m30s", "500ms", "2w"), as in __scrape_interval__.
std::string PrometheusDuration(Duration d);

}  // namespace steward::monitor
