// Internals of the rule evaluator (rule_eval.h), shared by rule_eval.cc (the group: writes,
// staleness, restore, reload, sending), alert_rule.cc (the alert state machine) and
// recording_rule.cc. Not a public interface. Thread safety: as GroupEvaluator (none).
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <unordered_set>
#include <vector>

#include "alerting/rule_eval.h"
#include "promql/engine.h"
#include "promql/value.h"

namespace steward::alerting::internal {

inline constexpr std::string_view kAlertsMetric = "ALERTS";
inline constexpr std::string_view kAlertsForStateMetric = "ALERTS_FOR_STATE";
inline constexpr std::string_view kAlertStateLabel = "alertstate";

struct LabelsHash {
  size_t operator()(const tsdb::Labels& l) const { return static_cast<size_t>(l.Hash()); }
};
using SeriesSet = std::unordered_set<tsdb::Labels, LabelsHash>;

// An alert with what the evaluator needs besides the public view.
struct AlertEntry {
  ActiveAlert alert;
  bool sent = false;     // last_sent_at_ms is meaningful (0 is a valid time in tests)
  bool missing = false;  // keep_firing_since_ms is meaningful: the query stopped returning it
};

// One rule's evaluation state.
struct RuleState {
  const Rule* rule = nullptr;
  std::string health = "unknown";
  std::string last_error;
  int64_t last_eval_ms = 0;
  double eval_seconds = 0;
  bool evaluated_ok = false;   // the last Eval succeeded: its alerts may be sent
  bool restored = true;        // false: no ALERTS/ALERTS_FOR_STATE written yet (before restore)
  std::string generator_path;  // "/graph?g0.expr=...&g0.tab=1" of the rule's printed query
  std::map<tsdb::Labels, AlertEntry> alerts;  // alerting rules, keyed by the alert's labels
  SeriesSet previous_series;                  // written by the last successful evaluation
};

// Prometheus' labels.Builder: sets and deletes (an empty value deletes) over a base label set.
class LabelBuilder {
 public:
  explicit LabelBuilder(tsdb::Labels base) : items_(std::move(base).ReleaseItems()) {}
  void Set(std::string_view name, std::string_view value);
  tsdb::Labels Build() &&;

 private:
  std::vector<tsdb::Label> items_;  // unique names, unsorted after Set
};

// Runs a rule's query at t on a fresh querier of db, as Prometheus' EngineQueryFunc: a vector
// as is, a scalar as one sample without labels, anything else the error Prometheus gives.
StatusOr<promql::Vector> QueryVector(const promql::Engine& engine,
                                     const promql::QueryLimits& limits, tsdb::Db* db,
                                     const promql::Expr& expr, int64_t t_ms);

// recording_rule.cc: the series a recording rule writes for the query result `in`.
StatusOr<promql::Vector> RecordingOutput(const Rule& rule, promql::Vector in, int64_t t_ms,
                                         int64_t limit);

// alert_rule.cc: what an alerting rule's evaluation needs besides its result.
struct AlertEvalContext {
  const EvalOptions* options = nullptr;
  tsdb::Db* db = nullptr;  // for `query` in templates
  int64_t t_ms = 0;
  int64_t limit = 0;
};
// Moves the rule's alerts through their states for the query result `in` and returns the
// ALERTS and ALERTS_FOR_STATE samples to write (none before the rule is restored).
StatusOr<promql::Vector> EvalAlerts(RuleState* state, const AlertEvalContext& ctx,
                                    const promql::Vector& in);
// The ALERTS_FOR_STATE series of an alert (rule labels overlaid by the alert's).
tsdb::Labels ForStateLabels(const Rule& rule, const tsdb::Labels& alert_labels);

}  // namespace steward::alerting::internal
