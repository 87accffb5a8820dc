// The daemon's alerting: the rule groups (the stack's rule_files, the groups generated from its
// `slos:` and the built-in alerts), evaluated on their intervals over the monitoring TSDB; the
// alerts they raise — and those other senders POST to /api/v2/alerts — handed to the notifier
// sink (dispatcher, incidents, runbooks).
//
// Contract:
// - Load(): reads every rule file, builds the SLO groups and validates everything first; any
//   error rejects the whole new set (all errors returned, one per line) and the rules that ran
//   before keep running. A good set replaces the old one; alerts of unchanged rules keep their
//   state (GroupEvaluator::Carry). The texts of the last good rule files are kept in the state
//   document "alerting.rules", so a restarted daemon evaluates what last loaded even if a file
//   on disk has since been broken; pending and firing alerts come back from ALERTS_FOR_STATE.
// - Evaluation: one thread; each group at its own interval, aligned to multiples of it from the
//   epoch plus a per-group offset (a hash of its name), as Prometheus spreads groups.
//   Self-metrics mirror Prometheus' prometheus_rule_* under steward_rule_*.
// - Every alert to send goes to the sink in the evaluation thread; the sink must not block
//   (the dispatcher queues, receivers deliver on their own threads).
// Thread safety: all public methods are thread-safe.
#pragma once

#include <atomic>
#include <condition_variable>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include <nlohmann/json.hpp>

#include "alerting/alert.h"
#include "alerting/rule_eval.h"
#include "base/clock.h"
#include "config/slo.h"
#include "metrics/registry.h"
#include "promql/engine.h"
#include "state/state_store.h"
#include "tsdb/tsdb.h"

namespace steward::server {

struct AlertingOptions {
  tsdb::Db* db = nullptr;                  // required, outlives the service
  state::StateStore* store = nullptr;      // optional: keeps the last good rule texts
  metrics::Registry* metrics = nullptr;    // optional
  Clock* clock = nullptr;                  // default: the real clock
  std::string external_url;
  promql::QueryLimits limits;              // per rule query (deadline set per evaluation)
  int64_t query_timeout_ms = 2 * 60 * 1000;
};

// What a rules load is made of.
struct RuleSources {
  std::vector<std::string> files;          // absolute paths (globs already expanded or not)
  std::vector<config::Slo> slos;
  int64_t evaluation_interval_ms = 30'000;
  std::map<std::string, std::string> external_labels;
  bool builtin = true;  // Steward's built-in alerts (alerting/builtin_rules.h)
};

class AlertingService {
 public:
  using Sink = std::function<void(std::vector<alerting::Alert>)>;

  explicit AlertingService(AlertingOptions options);
  ~AlertingService();

  // Restores the last good rules from the state store and starts evaluating.
  Status Start(Sink sink);
  void Stop();

  // Loads a new rule set (see the contract). Returns the number of rules loaded.
  StatusOr<size_t> Load(const RuleSources& sources);
  // The last Load()'s outcome: OK or every error, for status and the API.
  Status LastLoadStatus() const;

  // Evaluates every group once at t_ms now (tests and `steward rules eval`).
  Status EvalAllAt(int64_t t_ms);

  // Prometheus' /api/v1/rules data ({"groups": [...]}); type: "", "alert" or "record".
  nlohmann::json RulesJson(const std::string& type) const;
  // Prometheus' /api/v1/alerts data ({"alerts": [...]}): pending and firing alerts.
  nlohmann::json AlertsJson() const;
  size_t RuleCount() const;
  // `steward slo`: per SLO its objective and window, and — from the recorded SLO series at now —
  // uptime %, error budget remaining, burn rates over 1 h and 6 h, and firing burn alerts.
  nlohmann::json SlosJson(const std::vector<config::Slo>& slos) const;

 private:
  struct GroupSlot;
  struct Metrics;
  void Loop();
  void EvalGroup(GroupSlot* slot, int64_t t_ms);
  Status Install(std::vector<alerting::RuleFile> files, const RuleSources& sources,
                 const nlohmann::json& texts);

  AlertingOptions opt_;
  Clock* clock_;
  promql::Engine engine_;
  std::unique_ptr<Metrics> metrics_;
  Sink sink_;

  mutable std::mutex mu_;  // guards groups_, load_status_; held while a group evaluates
  std::vector<std::unique_ptr<GroupSlot>> groups_;
  Status load_status_;
  std::string fingerprint_;  // of the rules installed last
  std::condition_variable cv_;
  bool stop_ = false;
  bool changed_ = false;  // groups_ replaced: the loop recomputes its schedule
  std::thread thread_;
};

// Expands globs in rule file patterns (relative patterns against `dir`), sorted, de-duplicated.
// A pattern without glob characters is kept even when the file does not exist (so loading it
// reports the missing file); a glob that matches nothing yields nothing, as in Prometheus.
std::vector<std::string> ExpandRuleFiles(const std::vector<std::string>& patterns,
                                         const std::string& dir);

}  // namespace steward::server
