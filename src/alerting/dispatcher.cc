#include "alerting/dispatcher.h"

#include <fmt/format.h>

#include <algorithm>

namespace steward::alerting {

// Everything compiled from one config::Alerting; replaced whole on Reload.
struct Dispatcher::Config {
  std::unique_ptr<Route> root;
  std::map<std::string, bool> send_resolved;  // receiver with integrations -> any sends resolved
  TimeIntervals intervals;
  std::vector<config::InhibitRule> inhibit_rules;
  int64_t resolve_timeout_ms = 300000;
  std::string external_url;
};

namespace {

// Alertmanager keeps notification log entries for five days.
constexpr int64_t kLogRetentionMs = 5LL * 24 * 3600 * 1000;

// Alertmanager's Alert.Merge: `next` is the newer update of `prev` (by updated_at).
Alert Merge(const Alert& prev, bool prev_timeout, const Alert& next, int64_t now_ms) {
  Alert out = next;
  out.starts_at_ms = std::min(prev.starts_at_ms, next.starts_at_ms);
  if (next.ResolvedAt(now_ms)) {
    // The latest explicit end wins when both are resolved.
    if (prev.ResolvedAt(now_ms) && prev.ends_at_ms > next.ends_at_ms) {
      out.ends_at_ms = prev.ends_at_ms;
    }
  } else if (prev.ends_at_ms > next.ends_at_ms && !prev_timeout) {
    out.ends_at_ms = prev.ends_at_ms;  // an explicit end outranks a resolve_timeout end
  }
  return out;
}

bool IsSubset(const std::set<uint64_t>& sub, const std::set<uint64_t>& of) {
  return std::includes(of.begin(), of.end(), sub.begin(), sub.end());
}

}  // namespace

Dispatcher::Dispatcher(const Silences* silences, Sink sink)
    : silences_(silences), sink_(std::move(sink)) {}

StatusOr<std::shared_ptr<const Dispatcher::Config>> Dispatcher::Compile(
    const config::Alerting& cfg) {
  auto c = std::make_shared<Config>();
  StatusOr<std::unique_ptr<Route>> root = Route::Build(cfg.route);
  if (!root.ok()) return root.status();
  c->root = std::move(root).value();
  for (const config::ReceiverConfig& r : cfg.receivers) {
    bool any = false;
    bool resolved = false;
    auto scan = [&](const auto& configs) {
      for (const auto& i : configs) {
        any = true;
        resolved = resolved || i.send_resolved;
      }
    };
    scan(r.webhook_configs);
    scan(r.alertmanager_configs);
    scan(r.slack_configs);
    scan(r.pagerduty_configs);
    if (any) c->send_resolved[r.name] = resolved;
  }
  StatusOr<TimeIntervals> intervals = TimeIntervals::Compile(cfg.time_intervals);
  if (!intervals.ok()) return intervals.status();
  c->intervals = *std::move(intervals);
  StatusOr<Inhibitor> check = Inhibitor::Build(cfg.inhibit_rules);
  if (!check.ok()) return check.status();
  c->inhibit_rules = cfg.inhibit_rules;
  c->resolve_timeout_ms = cfg.resolve_timeout.count();
  c->external_url = cfg.external_url;
  return std::shared_ptr<const Config>(std::move(c));
}

StatusOr<std::unique_ptr<Dispatcher>> Dispatcher::Create(const config::Alerting& cfg,
                                                         const Silences* silences, Sink sink) {
  std::unique_ptr<Dispatcher> d(new Dispatcher(silences, std::move(sink)));
  Status st = d->Reload(cfg, 0);  // no alerts yet: the time is not used
  if (!st.ok()) return st;
  return d;
}

Status Dispatcher::Reload(const config::Alerting& cfg, int64_t now_ms) {
  StatusOr<std::shared_ptr<const Config>> c = Compile(cfg);
  if (!c.ok()) return c.status();
  StatusOr<Inhibitor> inhibitor = Inhibitor::Build(cfg.inhibit_rules);
  if (!inhibitor.ok()) return inhibitor.status();
  std::lock_guard<std::mutex> lock(mu_);
  config_ = *std::move(c);
  inhibitor_ = *std::move(inhibitor);
  groups_.clear();
  // Alertmanager's reload starts from the stored alerts again; their starts_at decides whether
  // a group waits group_wait or flushes at the next Tick.
  for (const auto& [fp, stored] : alerts_) RouteLocked(stored.alert, now_ms);
  return Status::OK();
}

void Dispatcher::Put(std::vector<Alert> alerts, int64_t now_ms) {
  std::lock_guard<std::mutex> lock(mu_);
  for (Alert& a : alerts) StoreLocked(std::move(a), now_ms);
}

void Dispatcher::StoreLocked(Alert a, int64_t now_ms) {
  a.updated_at_ms = now_ms;
  bool timeout = false;
  if (a.ends_at_ms == 0) {
    a.ends_at_ms = now_ms + config_->resolve_timeout_ms;
    timeout = true;
  }
  uint64_t fp = a.Fingerprint();
  auto it = alerts_.find(fp);
  if (it != alerts_.end()) {
    const Alert& old = it->second.alert;
    bool overlaps = (a.ends_at_ms > old.starts_at_ms && a.ends_at_ms < old.ends_at_ms) ||
                    (a.starts_at_ms > old.starts_at_ms && a.starts_at_ms < old.ends_at_ms);
    if (overlaps) {
      // The old explicit end outranks a resolve_timeout end; the result is then explicit too.
      bool old_end_wins =
          !a.ResolvedAt(now_ms) && old.ends_at_ms > a.ends_at_ms && !it->second.timeout;
      a = Merge(old, it->second.timeout, a, now_ms);
      timeout = timeout && !old_end_wins;
    }
  }
  alerts_[fp] = StoredAlert{a, timeout};
  RouteLocked(a, now_ms);
}

void Dispatcher::RouteLocked(const Alert& a, int64_t now_ms) {
  for (const Route* r : config_->root->Match(a.labels)) {
    tsdb::Labels group_labels = r->GroupLabels(a.labels);
    std::string key = r->GroupKey(group_labels);
    auto [it, fresh] = groups_.try_emplace({r->id(), key});
    Group& g = it->second;
    if (fresh) {
      g.route = r;
      g.labels = std::move(group_labels);
      g.key = key;
      g.next_flush_ms = now_ms + r->opts().group_wait_ms;
    }
    g.alerts[a.Fingerprint()] = a;
    // Alertmanager: an alert that started more than group_wait ago flushes a new group at once.
    if (!g.has_flushed && a.starts_at_ms + r->opts().group_wait_ms < now_ms) {
      g.next_flush_ms = std::min(g.next_flush_ms, now_ms);
    }
  }
}

void Dispatcher::Tick(int64_t now_ms) {
  std::vector<Notification> out;
  {
    std::lock_guard<std::mutex> lock(mu_);
    RefreshSourcesLocked(now_ms);
    for (auto it = groups_.begin(); it != groups_.end();) {
      Group& g = it->second;
      if (g.next_flush_ms <= now_ms) {
        g.next_flush_ms = now_ms + g.route->opts().group_interval_ms;
        g.has_flushed = true;
        FlushLocked(g, now_ms, &out);
      }
      it = g.alerts.empty() ? groups_.erase(it) : std::next(it);
    }
    CollectGarbageLocked(now_ms);
  }
  std::sort(out.begin(), out.end(), [](const Notification& a, const Notification& b) {
    return std::tie(a.group_key, a.receiver) < std::tie(b.group_key, b.receiver);
  });
  for (Notification& n : out) sink_(std::move(n));
}

void Dispatcher::RefreshSourcesLocked(int64_t now_ms) const {
  std::vector<const Alert*> all;
  all.reserve(alerts_.size());
  for (const auto& [fp, stored] : alerts_) all.push_back(&stored.alert);
  inhibitor_.SetSources(all, now_ms);
}

bool Dispatcher::TimeMutedLocked(const Route& route, int64_t now_ms) const {
  const RouteOpts& o = route.opts();
  if (config_->intervals.AnyContains(o.mute_time_intervals, now_ms)) return true;
  return !o.active_time_intervals.empty() &&
         !config_->intervals.AnyContains(o.active_time_intervals, now_ms);
}

bool Dispatcher::MutedLocked(const tsdb::Labels& labels, int64_t now_ms) const {
  if (inhibitor_.InhibitedBy(labels)) return true;
  return silences_ != nullptr && !silences_->Mutes(labels, now_ms).empty();
}

bool Dispatcher::NeedsUpdate(const LogEntry* entry, const std::set<uint64_t>& firing,
                             const std::set<uint64_t>& resolved, bool send_resolved,
                             int64_t repeat_ms, int64_t now_ms) const {
  if (entry == nullptr) return !firing.empty();
  if (!IsSubset(firing, entry->firing)) return true;
  // All resolved: tell the receiver only if it was told about firing alerts.
  if (firing.empty()) return !entry->firing.empty();
  if (send_resolved && !IsSubset(resolved, entry->resolved)) return true;
  return entry->sent_at_ms < now_ms - repeat_ms;
}

void Dispatcher::FlushLocked(Group& g, int64_t now_ms, std::vector<Notification>* out) {
  std::vector<Alert> alerts;
  for (const auto& [fp, a] : g.alerts) {
    alerts.push_back(a);
    if (!a.ResolvedAt(now_ms)) alerts.back().ends_at_ms = 0;  // as Alertmanager shows firing
  }
  std::vector<Alert> flushed = alerts;  // what this flush saw, to drop its resolved alerts after
  const RouteOpts& o = g.route->opts();
  auto receiver = config_->send_resolved.find(o.receiver);
  if (!TimeMutedLocked(*g.route, now_ms) && receiver != config_->send_resolved.end()) {
    std::set<uint64_t> muted;
    std::erase_if(alerts, [&](const Alert& a) {
      return MutedLocked(a.labels, now_ms) && muted.insert(a.Fingerprint()).second;
    });
    std::pair<std::string, std::string> log_key{o.receiver, g.key};
    auto entry = log_.find(log_key);
    // Steward's one departure from Alertmanager: a muted alert no longer counts as notified, so
    // when its silence or inhibition ends while it still fires it is sent at the next flush
    // (Alertmanager would wait for repeat_interval if it had sent it before the silence).
    if (entry != log_.end()) {
      for (uint64_t fp : muted) entry->second.firing.erase(fp);
    }
    std::set<uint64_t> firing, resolved;
    for (const Alert& a : alerts)
      (a.ResolvedAt(now_ms) ? resolved : firing).insert(a.Fingerprint());
    bool send_resolved = receiver->second;
    // As Alertmanager's pipeline, nothing left after muting ends the flush.
    if (!alerts.empty() && NeedsUpdate(entry == log_.end() ? nullptr : &entry->second, firing,
                                       resolved, send_resolved, o.repeat_interval_ms, now_ms)) {
      if (!firing.empty() || send_resolved) {
        std::sort(alerts.begin(), alerts.end(),
                  [](const Alert& a, const Alert& b) { return a.labels < b.labels; });
        out->push_back(Notification{o.receiver, g.key, g.labels, std::move(alerts), now_ms,
                                    config_->external_url});
      }
      log_[log_key] = LogEntry{std::move(firing), std::move(resolved), now_ms};
    }
  }
  // Resolved alerts leave the group unless updated since this flush copied them.
  for (const Alert& a : flushed) {
    auto it = g.alerts.find(a.Fingerprint());
    if (a.ResolvedAt(now_ms) && it != g.alerts.end() &&
        it->second.updated_at_ms == a.updated_at_ms) {
      g.alerts.erase(it);
    }
  }
}

void Dispatcher::CollectGarbageLocked(int64_t now_ms) {
  std::set<uint64_t> grouped;
  for (const auto& [key, g] : groups_) {
    for (const auto& [fp, a] : g.alerts) grouped.insert(fp);
  }
  std::erase_if(alerts_, [&](const auto& kv) {
    return kv.second.alert.ResolvedAt(now_ms) && grouped.count(kv.first) == 0;
  });
  std::erase_if(log_,
                [&](const auto& kv) { return kv.second.sent_at_ms + kLogRetentionMs < now_ms; });
}

std::optional<int64_t> Dispatcher::NextDeadline() const {
  std::lock_guard<std::mutex> lock(mu_);
  std::optional<int64_t> next;
  for (const auto& [key, g] : groups_) {
    if (!next || g.next_flush_ms < *next) next = g.next_flush_ms;
  }
  return next;
}

size_t Dispatcher::GroupCount() const {
  std::lock_guard<std::mutex> lock(mu_);
  return groups_.size();
}

AlertStatus Dispatcher::StatusLocked(const Alert& a, int64_t now_ms) const {
  AlertStatus s;
  s.alert = a;
  s.fingerprint = FingerprintHex(a.Fingerprint());
  if (silences_ != nullptr) s.silenced_by = silences_->Mutes(a.labels, now_ms);
  if (std::optional<uint64_t> by = inhibitor_.InhibitedBy(a.labels)) {
    s.inhibited_by.push_back(FingerprintHex(*by));
  }
  s.state = s.silenced_by.empty() && s.inhibited_by.empty() ? "active" : "suppressed";
  for (const Route* r : config_->root->Match(a.labels)) s.receivers.push_back(r->opts().receiver);
  std::sort(s.receivers.begin(), s.receivers.end());
  s.receivers.erase(std::unique(s.receivers.begin(), s.receivers.end()), s.receivers.end());
  return s;
}

std::vector<AlertStatus> Dispatcher::Alerts(int64_t now_ms) const {
  std::lock_guard<std::mutex> lock(mu_);
  RefreshSourcesLocked(now_ms);
  std::vector<AlertStatus> out;
  for (const auto& [fp, stored] : alerts_) {  // ordered by fingerprint; sorted below
    if (!stored.alert.ResolvedAt(now_ms)) out.push_back(StatusLocked(stored.alert, now_ms));
  }
  std::sort(out.begin(), out.end(), [](const AlertStatus& a, const AlertStatus& b) {
    return a.alert.labels < b.alert.labels;
  });
  return out;
}

std::vector<GroupStatus> Dispatcher::Groups(int64_t now_ms) const {
  std::lock_guard<std::mutex> lock(mu_);
  RefreshSourcesLocked(now_ms);
  std::vector<GroupStatus> out;
  for (const auto& [key, g] : groups_) {
    GroupStatus gs{g.labels, g.route->opts().receiver, g.key, {}};
    for (const auto& [fp, a] : g.alerts) {  // the group's copy: what its next flush will see
      if (!a.ResolvedAt(now_ms)) gs.alerts.push_back(StatusLocked(a, now_ms));
    }
    if (gs.alerts.empty()) continue;
    std::sort(gs.alerts.begin(), gs.alerts.end(), [](const AlertStatus& a, const AlertStatus& b) {
      return a.alert.labels < b.alert.labels;
    });
    out.push_back(std::move(gs));
  }
  std::sort(out.begin(), out.end(), [](const GroupStatus& a, const GroupStatus& b) {
    return std::tie(a.receiver, a.group_key) < std::tie(b.receiver, b.group_key);
  });
  return out;
}

}  // namespace steward::alerting
