// IncidentManager: turns firing alerts into incidents that people acknowledge, resolve and
// annotate, keeps each incident's timeline in the state store, measures MTTA and MTTR, and
// drafts a postmortem from the timeline.
//
// How alerts become incidents (OnAlerts):
//  - An alert counts when it fires at or above min_severity. Its severity is its "severity"
//    label; an alert without one is default_severity ("warning": below the default minimum, so
//    unlabelled alerts never page). A severity missing from `severities` ranks below all of them.
//  - Its key is its group_by label values ("service=web,alertname=Down"); its service is its
//    "service" label (may be empty).
//  - It joins, in this order: the unresolved incident it is already linked to (by
//    Alert::Fingerprint(), stored in the "fired"/"joined" event, so a new manager on the same
//    store continues where the old one stopped); an unresolved incident with the same key; with
//    join_by_service, an unresolved incident of the same (non-empty) service. Otherwise an
//    incident with the same key resolved less than reopen_window ago is reopened; otherwise a
//    new incident opens. Joining raises the incident's severity to the alert's if higher.
//  - An alert whose ends_at is in the past has resolved. When every alert linked to an
//    unresolved incident has resolved, the incident resolves (actor "steward"). Alerts missing
//    from a call are not taken as resolved: callers may pass only what changed.
//  - Resolving by hand while alerts still fire keeps those alerts with the resolved incident:
//    they open nothing until they have resolved and fire anew. (That memory is not kept across
//    restarts: after one, such an alert reopens the incident within reopen_window, or opens one.)
// Statistics: MTTA is opened → first acknowledgement and MTTR opened → resolved, averaged over
// the incidents opened in the window, per service and overall (service "_all").
// Metrics (when a registry is given): steward_incidents_open{service},
// steward_incidents_total{service,severity} (opened by this process),
// steward_incident_mtta_seconds{service} and steward_incident_mttr_seconds{service} (means over
// the last stats_window, service="_all" for every incident), and
// steward_incident_last_resolve_seconds (time to resolve of the most recently resolved one).
// Thread safety: every method is safe to call from any thread (one mutex).
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "alerting/alert.h"
#include "base/clock.h"
#include "base/status.h"
#include "metrics/registry.h"
#include "state/state_store.h"

namespace steward::alerting {

inline constexpr char kAllServices[] = "_all";

struct IncidentOptions {
  std::string min_severity = "critical";
  std::vector<std::string> severities = {"critical", "error", "warning", "info"};  // worst first
  std::string default_severity = "warning";  // for alerts without a severity label
  std::vector<std::string> group_by = {"service", "alertname"};
  bool join_by_service = true;
  Duration reopen_window = std::chrono::minutes(5);
  Duration stats_window = std::chrono::hours(24 * 30);  // for the MTTA/MTTR gauges
};

// What a runbook run did about an incident.
struct RemediationRun {
  std::string runbook;
  std::string action;
  std::string result;  // e.g. "success", "failed"
  std::string output;  // a summary of the output, not all of it
  bool dry_run = false;
};

struct DurationStat {
  int64_t count = 0;
  double mean_seconds = 0;
};

struct ServiceIncidentStats {
  std::string service;  // kAllServices for the overall line
  int64_t opened = 0;   // incidents opened in the window
  int64_t unresolved = 0;
  DurationStat mtta;  // over the acknowledged ones
  DurationStat mttr;  // over the resolved ones
};

struct IncidentStats {
  int64_t since_ms = 0;
  ServiceIncidentStats overall;
  std::vector<ServiceIncidentStats> services;  // by name
};

struct IncidentDetail {
  state::IncidentRecord incident;
  std::vector<state::IncidentEvent> events;
};

class IncidentManager {
 public:
  // Loads the unresolved incidents and the alerts linked to them; resolves any whose alerts had
  // all resolved before a crash. store and clock (and registry, which may be null) must outlive
  // the manager. Options that do not make sense are kInvalidArgument.
  static StatusOr<std::unique_ptr<IncidentManager>> Open(state::StateStore* store, Clock* clock,
                                                         IncidentOptions options,
                                                         metrics::Registry* registry);

  // Applies the alerts as they are at now_ms (unix ms).
  Status OnAlerts(const std::vector<Alert>& alerts, int64_t now_ms);

  // People's actions; times from the clock. kNotFound for an unknown id; kFailedPrecondition for
  // acknowledging or resolving a resolved incident, or acknowledging an acknowledged one.
  Status Ack(int64_t id, const std::string& actor, const std::string& note);
  Status Resolve(int64_t id, const std::string& actor, const std::string& note);
  Status Note(int64_t id, const std::string& actor, const std::string& text);  // text required
  Status RecordNotified(int64_t id, const std::string& receiver, const std::string& text);
  Status RecordRemediation(int64_t id, const RemediationRun& run);

  // The unresolved incident an alert is linked to, for notifiers and runbooks.
  std::optional<int64_t> IncidentForAlert(uint64_t fingerprint) const;

  StatusOr<std::vector<state::IncidentRecord>> List(const state::IncidentFilter& filter);
  StatusOr<IncidentDetail> Get(int64_t id);
  // Over the incidents opened in the last `window`.
  StatusOr<IncidentStats> Stats(Duration window);
  StatusOr<std::string> Postmortem(int64_t id);

  // A copy: options can change (SetThresholds) while the manager runs.
  IncidentOptions options() const;
  // The stack's alerting.incidents settings, applied from the next alert on. InvalidArgument
  // for a severity outside `severities`.
  Status SetThresholds(const std::string& min_severity, Duration reopen_window);

 private:
  struct Tracked {
    state::IncidentRecord record;
    std::map<uint64_t, bool> alerts;  // fingerprint → still firing
  };
  struct Metrics {
    metrics::Family<metrics::Gauge>* open = nullptr;
    metrics::Family<metrics::Counter>* total = nullptr;
    metrics::Family<metrics::Gauge>* mtta = nullptr;
    metrics::Family<metrics::Gauge>* mttr = nullptr;
    metrics::Gauge* last_resolve = nullptr;
  };

  IncidentManager(state::StateStore* store, Clock* clock, IncidentOptions options,
                  metrics::Registry* registry);
  Status Load();
  int Rank(const std::string& severity) const;
  std::string SeverityOf(const Alert& alert) const;
  std::string KeyOf(const Alert& alert) const;
  Status OnFiring(const Alert& alert, int64_t now_ms);
  Status OnResolved(const Alert& alert, int64_t now_ms);
  Tracked* FindJoinable(const std::string& key, const std::string& service);
  Status Join(Tracked* t, const Alert& alert, const std::string& kind, int64_t now_ms);
  Status OpenOrReopen(const Alert& alert, int64_t now_ms);
  Status ResolveIfQuiet(int64_t id, int64_t now_ms);
  Status Transition(int64_t id, const std::string& to, const std::string& actor,
                    const std::string& note);
  void Untrack(int64_t id, bool keep_firing_alerts);
  void RefreshMetrics(int64_t now_ms);
  int64_t NowMs() const { return ToUnixMillis(clock_->WallNow()); }

  state::StateStore* const store_;
  Clock* const clock_;
  IncidentOptions opt_;  // guarded by mu_ (min_severity and reopen_window change)
  Metrics metrics_;

  mutable std::mutex mu_;
  std::map<int64_t, Tracked> unresolved_;         // by incident id
  std::map<uint64_t, int64_t> by_alert_;          // fingerprint → unresolved incident
  std::map<uint64_t, int64_t> resolved_firing_;   // fired on after a manual resolve
  std::set<std::string> services_seen_;           // so an emptied open gauge shows 0
  int64_t metrics_refreshed_ms_ = 0;
};

// MTTA/MTTR over `incidents` (those opened at or after since_ms count).
IncidentStats ComputeIncidentStats(const std::vector<state::IncidentRecord>& incidents,
                                   int64_t since_ms);

// The Markdown postmortem draft (incidents_postmortem.cc).
std::string RenderPostmortem(const state::IncidentRecord& incident,
                             const std::vector<state::IncidentEvent>& events);

}  // namespace steward::alerting
