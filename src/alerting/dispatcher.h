// Dispatcher: Alertmanager's notification pipeline core in one place — the alerts store (with
// resolve_timeout), routing into aggregation groups, the group timers, muting (silences,
// inhibition, mute/active time intervals) and the notification log that decides whether a
// flush sends anything.
//
// Contract (Alertmanager 0.25: dispatch/dispatch.go, notify/notify.go):
// - Put stores alerts (merging an update into the stored alert when their active ranges
//   overlap; the earliest start wins) and routes each into the groups of every matching route.
//   An alert without an end is resolved resolve_timeout after its last update.
// - A new group flushes group_wait after it was created, or at the next Tick when its first
//   alert started more than group_wait ago; after every flush the next one is group_interval
//   later.
// - A flush drops the whole group's notification while a mute_time_interval of the route holds
//   or while none of its active_time_intervals does; otherwise it leaves out silenced and
//   inhibited alerts and sends when the firing set is not a subset of the last one sent to the
//   receiver for this group, when everything resolved after something was sent firing, when a
//   resolved alert is new and the receiver sends resolved alerts, or when the last send is more
//   than repeat_interval ago. One departure from Alertmanager: a silenced or inhibited alert is
//   taken out of the record of what the receiver was told, so when the silence or inhibition
//   ends while it still fires it is notified at the group's next flush (Alertmanager waits for
//   repeat_interval when it had sent the alert before the silence). Time-interval muting keeps
//   Alertmanager's behaviour. Resolved alerts leave the group after the flush that saw them.
// - The receiver's send_resolved is the OR of its integrations'; the delivery layer drops the
//   resolved alerts for integrations that do not send them. A receiver without integrations
//   receives nothing.
// - Notifications go to the sink after the dispatcher's lock is released, in group-key order.
//
// Time: every method takes the wall time in unix ms; nothing runs on its own. The owner calls
// Tick(now) at NextDeadline() (or on a short period), so tests drive it with a fake clock.
// Thread safety: all methods are thread-safe; the sink is called on the thread calling Tick.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "alerting/alert.h"
#include "alerting/inhibit.h"
#include "alerting/notification.h"
#include "alerting/route.h"
#include "alerting/silences.h"
#include "alerting/time_interval.h"
#include "base/status.h"
#include "config/alerting.h"

namespace steward::alerting {

// One alert as GET /api/v2/alerts shows it.
struct AlertStatus {
  Alert alert;                            // ends_at as stored (resolve_timeout applied)
  std::string fingerprint;                // 16 hex digits
  std::string state;                      // "active" or "suppressed"
  std::vector<std::string> silenced_by;   // silence ids
  std::vector<std::string> inhibited_by;  // fingerprints of the inhibiting alerts
  std::vector<std::string> receivers;     // of the routes it matches, sorted
};

// One aggregation group as GET /api/v2/alerts/groups shows it.
struct GroupStatus {
  tsdb::Labels labels;
  std::string receiver;
  std::string group_key;
  std::vector<AlertStatus> alerts;  // not resolved at now, sorted by labels
};

class Dispatcher {
 public:
  using Sink = std::function<void(Notification)>;

  // `silences` may be null (nothing is silenced) and must outlive the dispatcher.
  // InvalidArgument when the configuration cannot be compiled (a bad regex, an unknown zone).
  static StatusOr<std::unique_ptr<Dispatcher>> Create(const config::Alerting& cfg,
                                                      const Silences* silences, Sink sink);

  // A new configuration: routes, receivers, inhibit rules and intervals are replaced, the groups
  // rebuilt from the stored alerts (as Alertmanager's reload does); the notification log stays,
  // so nothing already sent is sent again early.
  Status Reload(const config::Alerting& cfg, int64_t now_ms);

  void Put(std::vector<Alert> alerts, int64_t now_ms);
  void Tick(int64_t now_ms);
  // The earliest group flush, if any group exists.
  std::optional<int64_t> NextDeadline() const;

  // The alerts not resolved at now, sorted by labels.
  std::vector<AlertStatus> Alerts(int64_t now_ms) const;
  // The groups with at least one alert not resolved at now, by receiver then group key.
  std::vector<GroupStatus> Groups(int64_t now_ms) const;
  size_t GroupCount() const;

 private:
  struct Config;
  struct StoredAlert {
    Alert alert;
    bool timeout = false;  // ends_at came from resolve_timeout, not from the sender
  };
  struct Group {
    const Route* route = nullptr;
    tsdb::Labels labels;
    std::string key;
    std::map<uint64_t, Alert> alerts;
    int64_t next_flush_ms = 0;
    bool has_flushed = false;
  };
  struct LogEntry {
    std::set<uint64_t> firing;
    std::set<uint64_t> resolved;
    int64_t sent_at_ms = 0;
  };

  Dispatcher(const Silences* silences, Sink sink);
  static StatusOr<std::shared_ptr<const Config>> Compile(const config::Alerting& cfg);

  void StoreLocked(Alert a, int64_t now_ms);
  void RouteLocked(const Alert& a, int64_t now_ms);
  void FlushLocked(Group& g, int64_t now_ms, std::vector<Notification>* out);
  bool TimeMutedLocked(const Route& route, int64_t now_ms) const;
  bool MutedLocked(const tsdb::Labels& labels, int64_t now_ms) const;
  bool NeedsUpdate(const LogEntry* entry, const std::set<uint64_t>& firing,
                   const std::set<uint64_t>& resolved, bool send_resolved, int64_t repeat_ms,
                   int64_t now_ms) const;
  void RefreshSourcesLocked(int64_t now_ms) const;
  AlertStatus StatusLocked(const Alert& a, int64_t now_ms) const;
  void CollectGarbageLocked(int64_t now_ms);

  const Silences* silences_;
  Sink sink_;
  mutable std::mutex mu_;
  std::shared_ptr<const Config> config_;
  mutable Inhibitor inhibitor_;  // sources refreshed from alerts_ before use
  std::map<uint64_t, StoredAlert> alerts_;
  std::map<std::pair<std::string, std::string>, Group> groups_;  // (route id, group key)
  std::map<std::pair<std::string, std::string>, LogEntry> log_;  // (receiver, group key)
};

}  // namespace steward::alerting
