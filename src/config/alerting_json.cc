// The JSON form of the stack's alerting: and slos: sections (stack_json.h): every field, so that
// the stack the CLI sends and the state the daemon keeps carry the receivers the notifier needs.
// This JSON is transport and state, never output: receiver URLs and routing keys are in it.
// Readers throw nlohmann's exceptions on wrong types; StackFromJson turns them into a Status.
#include <nlohmann/json.hpp>

#include "config/stack_json.h"

namespace steward::config::internal {
namespace {

using json = nlohmann::json;
using Ms = std::chrono::milliseconds;

template <typename T>
void Get(const json& j, const char* key, T* out) {
  if (j.is_object() && j.contains(key) && !j[key].is_null()) j.at(key).get_to(*out);
}

void GetMs(const json& j, const char* key, Ms* out) {
  if (j.is_object() && j.contains(key) && !j[key].is_null()) *out = Ms(j.at(key).get<int64_t>());
}

const json& Items(const json& j, const char* key) {
  static const json kEmpty = json::array();
  return j.is_object() && j.contains(key) && j[key].is_array() ? j[key] : kEmpty;
}

json MatchersJson(const std::vector<LabelMatcher>& ms) {
  json out = json::array();
  for (const LabelMatcher& m : ms)
    out.push_back({{"name", m.name}, {"op", static_cast<int>(m.op)}, {"value", m.value}});
  return out;
}

std::vector<LabelMatcher> MatchersFrom(const json& j) {
  std::vector<LabelMatcher> out;
  for (const json& m : j) {
    LabelMatcher lm;
    Get(m, "name", &lm.name);
    int op = 0;
    Get(m, "op", &op);
    if (op < 0 || op > 3) throw std::invalid_argument("matcher op out of range");
    lm.op = static_cast<LabelMatcher::Op>(op);
    Get(m, "value", &lm.value);
    out.push_back(std::move(lm));
  }
  return out;
}

json RouteJson(const Route& r) {
  json routes = json::array();
  for (const Route& c : r.routes) routes.push_back(RouteJson(c));
  return {{"receiver", r.receiver},
          {"group_by", r.group_by},
          {"group_by_all", r.group_by_all},
          {"group_by_set", r.group_by_set},
          {"matchers", MatchersJson(r.matchers)},
          {"continue", r.continue_matching},
          {"group_wait_ms", r.group_wait.count()},
          {"group_interval_ms", r.group_interval.count()},
          {"repeat_interval_ms", r.repeat_interval.count()},
          {"mute_time_intervals", r.mute_time_intervals},
          {"active_time_intervals", r.active_time_intervals},
          {"routes", std::move(routes)},
          {"line", r.line}};
}

Route RouteFrom(const json& j, int depth) {
  if (depth > 100) throw std::invalid_argument("routes nested more than 100 deep");
  Route r;
  Get(j, "receiver", &r.receiver);
  Get(j, "group_by", &r.group_by);
  Get(j, "group_by_all", &r.group_by_all);
  Get(j, "group_by_set", &r.group_by_set);
  r.matchers = MatchersFrom(Items(j, "matchers"));
  Get(j, "continue", &r.continue_matching);
  GetMs(j, "group_wait_ms", &r.group_wait);
  GetMs(j, "group_interval_ms", &r.group_interval);
  GetMs(j, "repeat_interval_ms", &r.repeat_interval);
  Get(j, "mute_time_intervals", &r.mute_time_intervals);
  Get(j, "active_time_intervals", &r.active_time_intervals);
  for (const json& c : Items(j, "routes")) r.routes.push_back(RouteFrom(c, depth + 1));
  Get(j, "line", &r.line);
  return r;
}

json HttpJson(const HttpReceiverBase& h) {
  return {{"url", h.url},
          {"send_resolved", h.send_resolved},
          {"timeout_ms", h.timeout.count()},
          {"headers", h.headers}};
}

void HttpFrom(const json& j, HttpReceiverBase* h) {
  Get(j, "url", &h->url);
  Get(j, "send_resolved", &h->send_resolved);
  GetMs(j, "timeout_ms", &h->timeout);
  Get(j, "headers", &h->headers);
}

json ReceiverJson(const ReceiverConfig& r) {
  json out = {{"name", r.name}, {"line", r.line}};
  json& webhooks = out["webhook_configs"] = json::array();
  for (const auto& c : r.webhook_configs) {
    json w = HttpJson(c);
    w["max_alerts"] = c.max_alerts;
    webhooks.push_back(std::move(w));
  }
  json& ams = out["alertmanager_configs"] = json::array();
  for (const auto& c : r.alertmanager_configs) ams.push_back(HttpJson(c));
  json& slacks = out["slack_configs"] = json::array();
  for (const auto& c : r.slack_configs) {
    json s = HttpJson(c);
    s.update({{"channel", c.channel}, {"username", c.username}, {"title", c.title},
              {"text", c.text}});
    slacks.push_back(std::move(s));
  }
  json& pds = out["pagerduty_configs"] = json::array();
  for (const auto& c : r.pagerduty_configs) {
    json p = HttpJson(c);
    p.update({{"routing_key", c.routing_key}, {"severity", c.severity},
              {"description", c.description}, {"client", c.client}});
    pds.push_back(std::move(p));
  }
  return out;
}

ReceiverConfig ReceiverFrom(const json& j) {
  ReceiverConfig r;
  Get(j, "name", &r.name);
  Get(j, "line", &r.line);
  for (const json& w : Items(j, "webhook_configs")) {
    WebhookConfig c;
    HttpFrom(w, &c);
    Get(w, "max_alerts", &c.max_alerts);
    r.webhook_configs.push_back(std::move(c));
  }
  for (const json& a : Items(j, "alertmanager_configs")) {
    AlertmanagerConfig c;
    HttpFrom(a, &c);
    r.alertmanager_configs.push_back(std::move(c));
  }
  for (const json& s : Items(j, "slack_configs")) {
    SlackConfig c;
    HttpFrom(s, &c);
    Get(s, "channel", &c.channel);
    Get(s, "username", &c.username);
    Get(s, "title", &c.title);
    Get(s, "text", &c.text);
    r.slack_configs.push_back(std::move(c));
  }
  for (const json& p : Items(j, "pagerduty_configs")) {
    PagerDutyConfig c;
    HttpFrom(p, &c);
    Get(p, "routing_key", &c.routing_key);
    Get(p, "severity", &c.severity);
    Get(p, "description", &c.description);
    Get(p, "client", &c.client);
    r.pagerduty_configs.push_back(std::move(c));
  }
  return r;
}

json PeriodJson(const TimePeriod& p) {
  return {{"times", p.times},       {"weekdays", p.weekdays}, {"days_of_month", p.days_of_month},
          {"months", p.months},     {"years", p.years},       {"location", p.location}};
}

TimePeriod PeriodFrom(const json& j) {
  TimePeriod p;
  Get(j, "times", &p.times);
  Get(j, "weekdays", &p.weekdays);
  Get(j, "days_of_month", &p.days_of_month);
  Get(j, "months", &p.months);
  Get(j, "years", &p.years);
  Get(j, "location", &p.location);
  return p;
}

}  // namespace

json AlertingToJson(const Alerting& a) {
  json receivers = json::array();
  for (const ReceiverConfig& r : a.receivers) receivers.push_back(ReceiverJson(r));
  json inhibit = json::array();
  for (const InhibitRule& r : a.inhibit_rules)
    inhibit.push_back({{"source_matchers", MatchersJson(r.source_matchers)},
                       {"target_matchers", MatchersJson(r.target_matchers)},
                       {"equal", r.equal},
                       {"line", r.line}});
  json intervals = json::array();
  for (const TimeInterval& t : a.time_intervals) {
    json periods = json::array();
    for (const TimePeriod& p : t.periods) periods.push_back(PeriodJson(p));
    intervals.push_back({{"name", t.name}, {"periods", std::move(periods)}, {"line", t.line}});
  }
  return {{"declared", a.declared},
          {"evaluation_interval_ms", a.evaluation_interval.count()},
          {"external_labels", a.external_labels},
          {"external_url", a.external_url},
          {"route", RouteJson(a.route)},
          {"receivers", std::move(receivers)},
          {"inhibit_rules", std::move(inhibit)},
          {"time_intervals", std::move(intervals)},
          {"retry_initial_ms", a.retry_initial.count()},
          {"retry_max_ms", a.retry_max.count()},
          {"give_up_after_ms", a.give_up_after.count()},
          {"resolve_timeout_ms", a.resolve_timeout.count()},
          {"incident_min_severity", a.incident_min_severity},
          {"incident_reopen_window_ms", a.incident_reopen_window.count()}};
}

Alerting AlertingFromJson(const json& j) {
  Alerting a;
  if (!j.is_object()) return a;
  Get(j, "declared", &a.declared);
  GetMs(j, "evaluation_interval_ms", &a.evaluation_interval);
  Get(j, "external_labels", &a.external_labels);
  Get(j, "external_url", &a.external_url);
  if (j.contains("route")) a.route = RouteFrom(j["route"], 0);
  for (const json& r : Items(j, "receivers")) a.receivers.push_back(ReceiverFrom(r));
  for (const json& r : Items(j, "inhibit_rules")) {
    InhibitRule rule;
    rule.source_matchers = MatchersFrom(Items(r, "source_matchers"));
    rule.target_matchers = MatchersFrom(Items(r, "target_matchers"));
    Get(r, "equal", &rule.equal);
    Get(r, "line", &rule.line);
    a.inhibit_rules.push_back(std::move(rule));
  }
  for (const json& t : Items(j, "time_intervals")) {
    TimeInterval ti;
    Get(t, "name", &ti.name);
    Get(t, "line", &ti.line);
    for (const json& p : Items(t, "periods")) ti.periods.push_back(PeriodFrom(p));
    a.time_intervals.push_back(std::move(ti));
  }
  GetMs(j, "retry_initial_ms", &a.retry_initial);
  GetMs(j, "retry_max_ms", &a.retry_max);
  GetMs(j, "give_up_after_ms", &a.give_up_after);
  GetMs(j, "resolve_timeout_ms", &a.resolve_timeout);
  Get(j, "incident_min_severity", &a.incident_min_severity);
  GetMs(j, "incident_reopen_window_ms", &a.incident_reopen_window);
  return a;
}

json SlosToJson(const std::vector<Slo>& slos) {
  json out = json::array();
  for (const Slo& s : slos)
    out.push_back({{"name", s.name},
                   {"line", s.location.line},
                   {"service", s.service},
                   {"description", s.description},
                   {"objective", s.objective},
                   {"window_ms", s.window.count()},
                   {"kind", static_cast<int>(s.kind)},
                   {"good", s.good},
                   {"total", s.total},
                   {"probe", s.probe},
                   {"latency_metric", s.latency_metric},
                   {"latency_threshold_seconds", s.latency_threshold_seconds},
                   {"page_severity", s.page_severity},
                   {"ticket_severity", s.ticket_severity},
                   {"labels", s.labels}});
  return out;
}

std::vector<Slo> SlosFromJson(const json& j) {
  std::vector<Slo> out;
  if (!j.is_array()) return out;
  for (const json& s : j) {
    Slo slo;
    Get(s, "name", &slo.name);
    Get(s, "line", &slo.location.line);
    Get(s, "service", &slo.service);
    Get(s, "description", &slo.description);
    Get(s, "objective", &slo.objective);
    GetMs(s, "window_ms", &slo.window);
    int kind = 0;
    Get(s, "kind", &kind);
    if (kind < 0 || kind > 2) throw std::invalid_argument("slo kind out of range");
    slo.kind = static_cast<SliKind>(kind);
    Get(s, "good", &slo.good);
    Get(s, "total", &slo.total);
    Get(s, "probe", &slo.probe);
    Get(s, "latency_metric", &slo.latency_metric);
    Get(s, "latency_threshold_seconds", &slo.latency_threshold_seconds);
    Get(s, "page_severity", &slo.page_severity);
    Get(s, "ticket_severity", &slo.ticket_severity);
    Get(s, "labels", &slo.labels);
    out.push_back(std::move(slo));
  }
  return out;
}

}  // namespace steward::config::internal
