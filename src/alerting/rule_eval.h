// The rule evaluator: runs one rule group (rule_file.h) at a given time as Prometheus' rule
// manager does — recording rules write their results back to the TSDB (visible to the rules after
// them in the same evaluation), alerting rules move each alert through inactive → pending →
// firing → resolved and write the ALERTS and ALERTS_FOR_STATE series.
//
// Contract (Prometheus 2.42 semantics unless noted; docs/formats/rules.md "Evaluation" in full):
// - Eval(db, t): every rule of the group in file order at time t (unix ms), each an instant
//   query on a fresh querier, each rule's writes committed before the next rule runs. A rule's
//   query error is recorded on the rule (health "err", last_error) and does not stop the group;
//   a failed rule writes nothing (no staleness markers either) that time.
// - Recording rules: the result vector (a scalar: one sample without labels; a string: "rule
//   result is not a vector or scalar") with __name__ set to the record name and the rule's
//   labels applied; series that a rule produced last time and not this time get a staleness
//   marker. Duplicates after relabelling are Prometheus' error.
// - Alerting rules: labels = sample labels without __name__, plus the rule's labels expanded
//   as templates, plus alertname; annotations expanded with $labels/$value. A new alert is
//   pending with active_at = t and fires once t - active_at >= for (at once when for is 0). An
//   alert missing from the result is dropped when pending; when firing it keeps firing while
//   t - (first missing evaluation) < keep_firing_for + resolve_after (Steward's hysteresis adds
//   to Prometheus' keep_firing_for; coming back in that window continues the same firing alert),
//   then is resolved at t and kept for resolved_retention so receivers hear the resolution.
//   ALERTS{alertstate="pending"|"firing"} = 1 and ALERTS_FOR_STATE = active_at in seconds, for
//   every pending/firing alert (not while restore_pending waits for RestoreForState).
// - limit: more series or alerts than the group's limit is an error for that rule (Prometheus'
//   words), and an alerting rule then keeps no alerts.
// - AlertsToSend(t): Prometheus' sending rule for the rules whose last Eval succeeded — firing
//   alerts when never sent or last sent more than resend_delay ago, resolved alerts once resolved
//   and then as firing ones; ends_at = t + 4 × max(resend_delay, interval) while firing,
//   resolved_at once resolved; starts_at = fired_at; external labels added where missing;
//   generator_url as Prometheus builds it. Sorted by labels.
// - RestoreForState(db, t): after a restart (call it after the first evaluations, as Prometheus
//   does), pending/firing alerts of rules with for >= for_grace_period get their active_at back
//   from ALERTS_FOR_STATE within [t - outage_tolerance, t] as Prometheus' restore does
//   (without restore_pending, only samples older than this evaluator's first Eval count).
// - Carry(old): on a reload, alerts and last-written series of rules with the same kind, name,
//   query and labels carry over; series of old rules without a match are marked stale at the next
//   Eval.
// - Rules(): in file order, each rule's alerts sorted by labels.
// Thread safety: not thread-safe; the owner serialises Eval and reads (the daemon holds a lock).
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "alerting/alert.h"
#include "alerting/rule_file.h"
#include "base/status.h"
#include "promql/engine.h"
#include "tsdb/tsdb.h"

namespace steward::alerting {

enum class AlertState { kInactive, kPending, kFiring };
std::string_view AlertStateName(AlertState s);  // "inactive" | "pending" | "firing"

struct EvalOptions {
  const promql::Engine* engine = nullptr;  // required
  promql::QueryLimits limits;
  int64_t default_interval_ms = 60'000;  // a group without interval
  std::map<std::string, std::string> external_labels;
  std::string external_url;
  int64_t resend_delay_ms = 60'000;
  int64_t outage_tolerance_ms = 3'600'000;
  int64_t for_grace_period_ms = 600'000;
  int64_t resolved_retention_ms = 15 * 60'000;
  // Prometheus' start after a restart: Evals write no ALERTS/ALERTS_FOR_STATE until
  // RestoreForState has run (else the first Eval would overwrite the state to restore). Set and
  // never restored, it is promtool's `test rules`, whose fresh rule manager writes neither.
  bool restore_pending = false;
};

// An alert a rule holds (pending, firing or recently resolved).
struct ActiveAlert {
  AlertState state = AlertState::kInactive;
  tsdb::Labels labels;  // with alertname
  std::map<std::string, std::string> annotations;
  double value = 0;
  int64_t active_at_ms = 0;
  int64_t fired_at_ms = 0;     // 0 while pending
  int64_t resolved_at_ms = 0;  // 0 while pending or firing
  int64_t last_sent_at_ms = 0;
  int64_t valid_until_ms = 0;
  int64_t keep_firing_since_ms = 0;  // when the expression stopped returning it (0: it returns)
};

struct RuleStatus {
  const Rule* rule = nullptr;      // owned by the evaluator's group
  std::string health = "unknown";  // "ok" | "err" | "unknown"
  std::string last_error;
  int64_t last_eval_ms = 0;
  double eval_seconds = 0;
  std::vector<ActiveAlert> alerts;  // alerting rules: pending, firing and resolved-but-kept
};

class GroupEvaluator {
 public:
  GroupEvaluator(RuleGroup group, std::string file, EvalOptions options);
  ~GroupEvaluator();
  GroupEvaluator(const GroupEvaluator&) = delete;
  GroupEvaluator& operator=(const GroupEvaluator&) = delete;

  const RuleGroup& group() const;
  const std::string& file() const;
  int64_t interval_ms() const;  // the group's, or the default

  // Evaluates every rule at t_ms. Returns an error only when the store cannot be written.
  Status Eval(tsdb::Db* db, int64_t t_ms);
  // The alerts to hand to the notifier after an Eval at t_ms (marks them sent).
  std::vector<Alert> AlertsToSend(int64_t t_ms);
  void RestoreForState(tsdb::Db* db, int64_t t_ms);
  void Carry(const GroupEvaluator& old);

  std::vector<RuleStatus> Rules() const;
  int64_t last_eval_ms() const;
  double last_eval_seconds() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace steward::alerting
