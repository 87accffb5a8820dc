#include "alerting/incidents.h"

#include <algorithm>
#include <cinttypes>
#include <cstdio>

#include <nlohmann/json.hpp>

namespace steward::alerting {
namespace {

using state::IncidentEvent;
using state::IncidentRecord;

constexpr int64_t kMetricsRefreshMs = 60 * 1000;

std::string Dump(const nlohmann::json& j) {
  return j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

IncidentEvent MakeEvent(const std::string& kind, const std::string& actor,
                        const std::string& text, int64_t at_ms, const nlohmann::json& data) {
  IncidentEvent e;
  e.kind = kind;
  e.actor = actor;
  e.text = text;
  e.at_ms = at_ms;
  e.data_json = Dump(data.is_null() ? nlohmann::json::object() : data);
  return e;
}

// The alert's own description in a timeline line: "HighErrorRate: 5% of requests fail".
std::string AlertText(const Alert& alert) {
  std::string text(alert.Name());
  if (text.empty()) text = alert.labels.ToString();
  auto summary = alert.annotations.find("summary");
  if (summary != alert.annotations.end() && !summary->second.empty())
    text += ": " + summary->second;
  return text;
}

nlohmann::json AlertData(const Alert& alert) {
  nlohmann::json labels = nlohmann::json::object();
  for (const auto& l : alert.labels.items()) labels[l.name] = l.value;
  return {{"fingerprint", FingerprintHex(alert.Fingerprint())},
          {"labels", labels},
          {"annotations", alert.annotations},
          {"starts_at_ms", alert.starts_at_ms}};
}

// The fingerprint in an event's data, if it names an alert.
std::optional<uint64_t> EventFingerprint(const IncidentEvent& e) {
  auto data = nlohmann::json::parse(e.data_json, nullptr, false);
  if (!data.is_object() || !data.contains("fingerprint") || !data["fingerprint"].is_string())
    return std::nullopt;
  const std::string hex = data["fingerprint"].get<std::string>();
  uint64_t fp = 0;
  if (hex.size() != 16 || std::sscanf(hex.c_str(), "%16" SCNx64, &fp) != 1) return std::nullopt;
  return fp;
}

void AddSample(DurationStat* stat, int64_t ms) {
  stat->mean_seconds += (ms / 1000.0 - stat->mean_seconds) / static_cast<double>(++stat->count);
}

void AddIncident(ServiceIncidentStats* s, const IncidentRecord& r) {
  ++s->opened;
  if (r.status != "resolved") ++s->unresolved;
  if (r.acknowledged_at_ms > 0) AddSample(&s->mtta, r.acknowledged_at_ms - r.opened_at_ms);
  if (r.status == "resolved" && r.resolved_at_ms > 0)
    AddSample(&s->mttr, r.resolved_at_ms - r.opened_at_ms);
}

}  // namespace

IncidentStats ComputeIncidentStats(const std::vector<IncidentRecord>& incidents,
                                   int64_t since_ms) {
  IncidentStats out;
  out.since_ms = since_ms;
  out.overall.service = kAllServices;
  std::map<std::string, ServiceIncidentStats> by_service;
  for (const auto& r : incidents) {
    if (r.opened_at_ms < since_ms) continue;
    AddIncident(&out.overall, r);
    ServiceIncidentStats& s = by_service[r.service];
    s.service = r.service;
    AddIncident(&s, r);
  }
  for (auto& [name, s] : by_service) out.services.push_back(std::move(s));
  return out;
}

StatusOr<std::unique_ptr<IncidentManager>> IncidentManager::Open(state::StateStore* store,
                                                                  Clock* clock,
                                                                  IncidentOptions options,
                                                                  metrics::Registry* registry) {
  const auto& sev = options.severities;
  if (sev.empty()) return InvalidArgument("incidents: the severity list is empty");
  if (std::find(sev.begin(), sev.end(), options.min_severity) == sev.end())
    return InvalidArgument("incidents: min_severity '" + options.min_severity +
                           "' is not in the severity list");
  if (options.group_by.empty()) return InvalidArgument("incidents: group_by is empty");
  if (options.reopen_window.count() < 0 || options.stats_window.count() <= 0)
    return InvalidArgument("incidents: reopen and stats windows must not be negative");
  std::unique_ptr<IncidentManager> m(
      new IncidentManager(store, clock, std::move(options), registry));
  RETURN_IF_ERROR(m->Load());
  return m;
}

IncidentManager::IncidentManager(state::StateStore* store, Clock* clock, IncidentOptions options,
                                 metrics::Registry* registry)
    : store_(store), clock_(clock), opt_(std::move(options)) {
  if (registry == nullptr) return;
  metrics_.open = &registry->AddGauge("steward_incidents_open",
                                      "Incidents open or acknowledged, by service.", {"service"});
  metrics_.total = &registry->AddCounter(
      "steward_incidents_total", "Incidents opened by this process.", {"service", "severity"});
  metrics_.mtta = &registry->AddGauge(
      "steward_incident_mtta_seconds",
      "Mean time from opening to first acknowledgement of the incidents opened in the last 30 "
      "days; service=\"_all\" for all of them.",
      {"service"});
  metrics_.mttr = &registry->AddGauge(
      "steward_incident_mttr_seconds",
      "Mean time from opening to resolution of the incidents opened in the last 30 days; "
      "service=\"_all\" for all of them.",
      {"service"});
  metrics_.last_resolve =
      &registry
           ->AddGauge("steward_incident_last_resolve_seconds",
                      "Time from opening to resolution of the most recently resolved incident.")
           .WithLabels({});
}

Status IncidentManager::Load() {
  std::lock_guard<std::mutex> l(mu_);
  state::IncidentFilter filter;
  filter.status = "unresolved";
  ASSIGN_OR_RETURN(auto records, store_->ListIncidents(filter));
  std::vector<int64_t> quiet;
  for (auto& r : records) {
    ASSIGN_OR_RETURN(auto events, store_->ListIncidentEvents(r.id));
    Tracked& t = unresolved_[r.id];
    t.record = std::move(r);
    for (const auto& e : events) {
      auto fp = EventFingerprint(e);
      if (!fp) continue;
      if (e.kind == "fired" || e.kind == "joined") t.alerts[*fp] = true;
      if (e.kind == "resolved") t.alerts[*fp] = false;
    }
    for (const auto& [fp, firing] : t.alerts)
      if (firing) by_alert_[fp] = t.record.id;
    bool any_firing = std::any_of(t.alerts.begin(), t.alerts.end(),
                                  [](const auto& a) { return a.second; });
    if (!t.alerts.empty() && !any_firing) quiet.push_back(t.record.id);  // crashed mid-resolve
  }
  const int64_t now = NowMs();
  for (int64_t id : quiet) RETURN_IF_ERROR(ResolveIfQuiet(id, now));
  RefreshMetrics(now);
  return Status::OK();
}

int IncidentManager::Rank(const std::string& severity) const {
  auto it = std::find(opt_.severities.begin(), opt_.severities.end(), severity);
  return static_cast<int>(it - opt_.severities.begin());  // unknown: after the last
}

std::string IncidentManager::SeverityOf(const Alert& alert) const {
  std::string_view sev = alert.labels.Get("severity");
  return sev.empty() ? opt_.default_severity : std::string(sev);
}

std::string IncidentManager::KeyOf(const Alert& alert) const {
  std::string key;
  for (const auto& name : opt_.group_by) {
    if (!key.empty()) key += ",";
    key += name + "=" + std::string(alert.labels.Get(name));
  }
  return key;
}

Status IncidentManager::OnAlerts(const std::vector<Alert>& alerts, int64_t now_ms) {
  std::lock_guard<std::mutex> l(mu_);
  Status first_error;
  for (const auto& alert : alerts) {
    Status st = alert.ResolvedAt(now_ms) ? OnResolved(alert, now_ms) : OnFiring(alert, now_ms);
    if (!st.ok() && first_error.ok()) first_error = st;  // one bad write does not stop the rest
  }
  if (now_ms - metrics_refreshed_ms_ >= kMetricsRefreshMs) RefreshMetrics(now_ms);
  return first_error;
}

Status IncidentManager::OnFiring(const Alert& alert, int64_t now_ms) {
  const uint64_t fp = alert.Fingerprint();
  if (resolved_firing_.count(fp)) return Status::OK();
  if (auto it = by_alert_.find(fp); it != by_alert_.end()) {
    Tracked& t = unresolved_.at(it->second);
    if (t.alerts[fp]) return Status::OK();  // still firing: nothing new
    return Join(&t, alert, "joined", now_ms);  // resolved, now fires again
  }
  const std::string severity = SeverityOf(alert);
  if (Rank(severity) > Rank(opt_.min_severity)) return Status::OK();
  if (Tracked* t = FindJoinable(KeyOf(alert), std::string(alert.labels.Get("service"))))
    return Join(t, alert, "joined", now_ms);
  return OpenOrReopen(alert, now_ms);
}

Status IncidentManager::OnResolved(const Alert& alert, int64_t now_ms) {
  const uint64_t fp = alert.Fingerprint();
  IncidentEvent e = MakeEvent("resolved", "steward", "alert resolved: " + AlertText(alert),
                              now_ms, {{"fingerprint", FingerprintHex(fp)}});
  if (auto it = resolved_firing_.find(fp); it != resolved_firing_.end()) {
    e.incident_id = it->second;
    resolved_firing_.erase(it);
    return store_->AddIncidentEvent(e).status();
  }
  auto it = by_alert_.find(fp);
  if (it == by_alert_.end()) return Status::OK();
  Tracked& t = unresolved_.at(it->second);
  if (!t.alerts[fp]) return Status::OK();  // already recorded
  e.incident_id = t.record.id;
  RETURN_IF_ERROR(store_->AddIncidentEvent(e).status());
  t.alerts[fp] = false;
  return ResolveIfQuiet(t.record.id, now_ms);
}

IncidentManager::Tracked* IncidentManager::FindJoinable(const std::string& key,
                                                        const std::string& service) {
  for (auto& [id, t] : unresolved_)
    if (t.record.key == key) return &t;
  if (!opt_.join_by_service || service.empty()) return nullptr;
  for (auto& [id, t] : unresolved_)
    if (t.record.service == service) return &t;
  return nullptr;
}

Status IncidentManager::Join(Tracked* t, const Alert& alert, const std::string& kind,
                             int64_t now_ms) {
  IncidentRecord next = t->record;
  const std::string severity = SeverityOf(alert);
  if (Rank(severity) < Rank(next.severity)) next.severity = severity;
  RETURN_IF_ERROR(store_->UpdateIncident(
      next, {MakeEvent(kind, "steward", AlertText(alert), now_ms, AlertData(alert))}));
  t->record = std::move(next);
  t->alerts[alert.Fingerprint()] = true;
  by_alert_[alert.Fingerprint()] = t->record.id;
  return Status::OK();
}

Status IncidentManager::OpenOrReopen(const Alert& alert, int64_t now_ms) {
  const std::string key = KeyOf(alert);
  state::IncidentFilter filter;
  filter.key = key;
  filter.limit = 1;
  ASSIGN_OR_RETURN(auto last, store_->ListIncidents(filter));
  const int64_t window = opt_.reopen_window.count();
  if (!last.empty() && last[0].status == "resolved" &&
      now_ms - last[0].resolved_at_ms < window) {
    IncidentRecord r = last[0];
    std::string ago = FormatDuration(Duration(now_ms - r.resolved_at_ms));
    r.status = "open";
    r.resolved_at_ms = 0;
    r.severity = SeverityOf(alert);
    RETURN_IF_ERROR(store_->UpdateIncident(
        r, {MakeEvent("reopened", "steward", "fired again " + ago + " after it was resolved",
                      now_ms, nullptr),
            MakeEvent("joined", "steward", AlertText(alert), now_ms, AlertData(alert))}));
    Tracked& t = unresolved_[r.id];
    t.record = std::move(r);
    t.alerts[alert.Fingerprint()] = true;
    by_alert_[alert.Fingerprint()] = t.record.id;
    services_seen_.insert(t.record.service);
    RefreshMetrics(now_ms);
    return Status::OK();
  }
  IncidentRecord r;
  r.service = std::string(alert.labels.Get("service"));
  r.title = (r.service.empty() ? "" : r.service + ": ") + std::string(alert.Name());
  r.severity = SeverityOf(alert);
  r.status = "open";
  r.opened_at_ms = now_ms;
  r.key = key;
  ASSIGN_OR_RETURN(r.id, store_->CreateIncident(r, {MakeEvent("fired", "steward", AlertText(alert),
                                                              now_ms, AlertData(alert))}));
  Tracked& t = unresolved_[r.id];
  t.record = r;
  t.alerts[alert.Fingerprint()] = true;
  by_alert_[alert.Fingerprint()] = r.id;
  services_seen_.insert(r.service);
  if (metrics_.total) metrics_.total->WithLabels({r.service, r.severity}).Inc();
  RefreshMetrics(now_ms);
  return Status::OK();
}

Status IncidentManager::ResolveIfQuiet(int64_t id, int64_t now_ms) {
  Tracked& t = unresolved_.at(id);
  for (const auto& [fp, firing] : t.alerts)
    if (firing) return Status::OK();
  IncidentRecord r = t.record;
  r.status = "resolved";
  r.resolved_at_ms = now_ms;
  RETURN_IF_ERROR(store_->UpdateIncident(
      r, {MakeEvent("resolved", "steward", "every alert has resolved", now_ms, nullptr)}));
  Untrack(id, false);
  RefreshMetrics(now_ms);
  return Status::OK();
}

void IncidentManager::Untrack(int64_t id, bool keep_firing_alerts) {
  auto it = unresolved_.find(id);
  if (it == unresolved_.end()) return;
  for (const auto& [fp, firing] : it->second.alerts) {
    by_alert_.erase(fp);
    if (firing && keep_firing_alerts) resolved_firing_[fp] = id;
  }
  unresolved_.erase(it);
}

Status IncidentManager::Ack(int64_t id, const std::string& actor, const std::string& note) {
  return Transition(id, "acknowledged", actor, note);
}

Status IncidentManager::Resolve(int64_t id, const std::string& actor, const std::string& note) {
  return Transition(id, "resolved", actor, note);
}

Status IncidentManager::Transition(int64_t id, const std::string& to, const std::string& actor,
                                   const std::string& note) {
  std::lock_guard<std::mutex> l(mu_);
  ASSIGN_OR_RETURN(IncidentRecord r, store_->GetIncident(id));
  const std::string name = "incident " + std::to_string(id);
  if (r.status == "resolved")
    return FailedPrecondition(name + " is already resolved (at " +
                              FormatRfc3339(FromUnixMillis(r.resolved_at_ms)) + ")");
  if (to == "acknowledged" && r.status == "acknowledged")
    return FailedPrecondition(name + " is already acknowledged (at " +
                              FormatRfc3339(FromUnixMillis(r.acknowledged_at_ms)) + ")");
  const int64_t now = NowMs();
  r.status = to;
  if (to == "acknowledged" && r.acknowledged_at_ms == 0) r.acknowledged_at_ms = now;
  if (to == "resolved") r.resolved_at_ms = now;
  RETURN_IF_ERROR(store_->UpdateIncident(r, {MakeEvent(to, actor, note, now, nullptr)}));
  if (to == "resolved") {
    Untrack(id, true);
  } else if (auto it = unresolved_.find(id); it != unresolved_.end()) {
    it->second.record = r;
  }
  RefreshMetrics(now);
  return Status::OK();
}

Status IncidentManager::Note(int64_t id, const std::string& actor, const std::string& text) {
  if (text.empty()) return InvalidArgument("a note needs text");
  IncidentEvent e = MakeEvent("note", actor, text, NowMs(), nullptr);
  e.incident_id = id;
  return store_->AddIncidentEvent(e).status();
}

Status IncidentManager::RecordNotified(int64_t id, const std::string& receiver,
                                       const std::string& text) {
  IncidentEvent e = MakeEvent("notified", "steward", text, NowMs(), {{"receiver", receiver}});
  e.incident_id = id;
  return store_->AddIncidentEvent(e).status();
}

Status IncidentManager::RecordRemediation(int64_t id, const RemediationRun& run) {
  nlohmann::json data = {{"runbook", run.runbook}, {"action", run.action},
                         {"result", run.result},   {"output", run.output},
                         {"dry_run", run.dry_run}};
  std::string text = (run.dry_run ? "dry run of " : "ran ") + run.runbook +
                     (run.action.empty() ? "" : " (" + run.action + ")") + ": " + run.result;
  IncidentEvent e = MakeEvent("remediation", "steward", text, NowMs(), data);
  e.incident_id = id;
  return store_->AddIncidentEvent(e).status();
}

std::optional<int64_t> IncidentManager::IncidentForAlert(uint64_t fingerprint) const {
  std::lock_guard<std::mutex> l(mu_);
  auto it = by_alert_.find(fingerprint);
  if (it == by_alert_.end()) return std::nullopt;
  return it->second;
}

StatusOr<std::vector<IncidentRecord>> IncidentManager::List(const state::IncidentFilter& filter) {
  return store_->ListIncidents(filter);
}

StatusOr<IncidentDetail> IncidentManager::Get(int64_t id) {
  IncidentDetail d;
  ASSIGN_OR_RETURN(d.incident, store_->GetIncident(id));
  ASSIGN_OR_RETURN(d.events, store_->ListIncidentEvents(id));
  return d;
}

StatusOr<IncidentStats> IncidentManager::Stats(Duration window) {
  state::IncidentFilter filter;
  filter.opened_since_ms = NowMs() - window.count();
  ASSIGN_OR_RETURN(auto records, store_->ListIncidents(filter));
  return ComputeIncidentStats(records, filter.opened_since_ms);
}

StatusOr<std::string> IncidentManager::Postmortem(int64_t id) {
  ASSIGN_OR_RETURN(IncidentDetail d, Get(id));
  return RenderPostmortem(d.incident, d.events);
}

// Called with mu_ held. A failed read leaves the gauges as they were: metrics are best effort.
void IncidentManager::RefreshMetrics(int64_t now_ms) {
  metrics_refreshed_ms_ = now_ms;
  if (metrics_.open == nullptr) return;
  std::map<std::string, int> open;
  for (const auto& s : services_seen_) open[s] = 0;
  for (const auto& [id, t] : unresolved_) ++open[t.record.service];
  for (const auto& [service, n] : open) {
    services_seen_.insert(service);
    metrics_.open->WithLabels({service}).Set(n);
  }
  state::IncidentFilter filter;
  filter.opened_since_ms = now_ms - opt_.stats_window.count();
  auto records = store_->ListIncidents(filter);
  if (!records.ok()) return;  // the next change or OnAlerts tries again
  IncidentStats stats = ComputeIncidentStats(*records, filter.opened_since_ms);
  std::vector<ServiceIncidentStats> lines = stats.services;
  lines.push_back(stats.overall);
  for (const auto& s : lines) {
    if (s.mtta.count > 0) metrics_.mtta->WithLabels({s.service}).Set(s.mtta.mean_seconds);
    if (s.mttr.count > 0) metrics_.mttr->WithLabels({s.service}).Set(s.mttr.mean_seconds);
  }
  const IncidentRecord* last = nullptr;
  for (const auto& r : *records)
    if (r.status == "resolved" && (last == nullptr || r.resolved_at_ms > last->resolved_at_ms))
      last = &r;
  if (last) metrics_.last_resolve->Set((last->resolved_at_ms - last->opened_at_ms) / 1000.0);
}

IncidentOptions IncidentManager::options() const {
  std::lock_guard<std::mutex> l(mu_);
  return opt_;
}

Status IncidentManager::SetThresholds(const std::string& min_severity, Duration reopen_window) {
  std::lock_guard<std::mutex> l(mu_);
  if (std::find(opt_.severities.begin(), opt_.severities.end(), min_severity) ==
      opt_.severities.end())
    return InvalidArgument("incident min_severity '" + min_severity + "' is not one of the "
                           "severities");
  opt_.min_severity = min_severity;
  opt_.reopen_window = reopen_window;
  return Status::OK();
}

}  // namespace steward::alerting
