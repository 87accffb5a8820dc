// The daemon's monitoring: the embedded TSDB under <state>/tsdb, the scraper of every replica
// that declares `metrics:` plus the stack's scrape_configs and the daemon itself (job
// "steward"), and the prober of the stack's `monitors:`. The daemon calls Update() with the
// recorded stack and the live replicas after every reconcile pass and apply; the HTTP API reads
// through db(), Targets() and Probes().
//
// The stack's monitoring sections (scrape_configs, monitors, monitoring, environment) are kept
// as the state document "monitoring" so that a restarted daemon scrapes what the last apply
// asked for. Thread safety: all methods are thread-safe.
#pragma once

#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "config/stack.h"
#include "metrics/registry.h"
#include "monitor/discovery.h"
#include "monitor/probe.h"
#include "monitor/scrape_manager.h"
#include "runtime/runtime.h"
#include "tsdb/tsdb.h"

namespace steward::server {

struct MonitoringOptions {
  std::string state_dir;
  std::string self_host = "127.0.0.1";  // where the daemon's HTTP server answers
  int self_port = 0;                     // its port, for the self-scrape target
  metrics::Registry* metrics = nullptr;
  std::string tsdb_dir;  // empty: <state_dir>/tsdb
  // false: only the TSDB is opened (serve --data-dir) — no scraper, no prober, no retention.
  bool collect = true;
};

class Monitoring {
 public:
  explicit Monitoring(MonitoringOptions options);
  ~Monitoring();

  // Opens the TSDB with the retention of `settings` and starts scraper and prober.
  Status Start(const config::Monitoring& settings);
  void Stop();

  // Re-discovers targets from the stack and the running replicas; applies monitors.
  void Update(const config::Stack& stack, const std::vector<runtime::ReplicaStatus>& replicas);

  tsdb::Db* db() { return db_.get(); }
  std::vector<monitor::TargetHealth> Targets() const;
  std::vector<monitor::MonitorStatus> Probes() const;
  // Errors of the last discovery (file_sd files that could not be read), for the API and logs.
  std::vector<std::string> DiscoveryErrors() const;

 private:
  MonitoringOptions opt_;
  std::unique_ptr<tsdb::Db> db_;
  std::unique_ptr<monitor::ScrapeManager> scraper_;
  std::unique_ptr<monitor::Prober> prober_;
  mutable std::mutex mu_;
  monitor::Discovery discovery_;
  std::vector<std::string> discovery_errors_;
  std::string last_monitors_;  // JSON of the monitors last applied, to skip no-op updates
  Duration retention_{0};
  int64_t retention_bytes_ = 0;
};

// The stack's monitoring sections as the state document "monitoring", and back: the stack's
// scrape_configs, monitors, monitoring and environment are set on *into.
nlohmann::json MonitoringDocument(const config::Stack& stack);
Status ApplyMonitoringDocument(const nlohmann::json& doc, config::Stack* into);
// A probe's last result as /api/v1/monitors shows it.
nlohmann::json MonitorStatusJson(const monitor::MonitorStatus& status);

}  // namespace steward::server
