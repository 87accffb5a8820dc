// The JSON bodies of the four integrations, shaped as Alertmanager 0.25 sends them (key order
// included, so a byte-level diff against a real Alertmanager shows only real differences).
#include <cstdio>
#include <ctime>
#include <nlohmann/json.hpp>

#include "alerting/receivers.h"
#include "base/sha256.h"

namespace steward::alerting {
namespace {

using Json = nlohmann::ordered_json;
using KV = std::map<std::string, std::string>;

constexpr size_t kMaxTitleRunes = 1024;
constexpr size_t kMaxSummaryRunes = 1024;

// The alerts a receiver reports: without resolved ones when send_resolved is off.
std::vector<const Alert*> Selected(const Notification& n, bool send_resolved) {
  std::vector<const Alert*> out;
  for (const Alert& a : n.alerts) {
    if (send_resolved || !a.ResolvedAt(n.now_ms)) out.push_back(&a);
  }
  return out;
}

// Alertmanager's template.Data, reduced to what the payloads use.
struct Data {
  std::string receiver;
  std::string status;
  std::vector<const Alert*> alerts;
  KV group_labels, common_labels, common_annotations;
  size_t firing = 0;
};

KV ToKV(const tsdb::Labels& labels) {
  KV kv;
  for (const auto& l : labels.items()) kv.emplace(l.name, l.value);
  return kv;
}

// Keeps the pairs of `common` that `next` has with the same value.
void Intersect(KV* common, const KV& next) {
  for (auto it = common->begin(); it != common->end();) {
    auto f = next.find(it->first);
    it = (f == next.end() || f->second != it->second) ? common->erase(it) : std::next(it);
  }
}

// Go's regexp.QuoteMeta: Alertmanager quotes the receiver name in template data.
std::string QuoteMeta(std::string_view s) {
  static constexpr std::string_view kSpecial = "\\.+*?()|[]{}^$";
  std::string out;
  for (char c : s) {
    if (kSpecial.find(c) != std::string_view::npos) out.push_back('\\');
    out.push_back(c);
  }
  return out;
}

Data MakeData(const Notification& n, std::vector<const Alert*> alerts) {
  Data d;
  d.receiver = QuoteMeta(n.receiver);
  d.alerts = std::move(alerts);
  for (const Alert* a : d.alerts) d.firing += a->ResolvedAt(n.now_ms) ? 0 : 1;
  d.status = d.firing > 0 ? "firing" : "resolved";
  d.group_labels = ToKV(n.group_labels);
  if (!d.alerts.empty()) {
    d.common_labels = ToKV(d.alerts[0]->labels);
    d.common_annotations = d.alerts[0]->annotations;
    for (size_t i = 1; i < d.alerts.size(); ++i) {
      Intersect(&d.common_labels, ToKV(d.alerts[i]->labels));
      Intersect(&d.common_annotations, d.alerts[i]->annotations);
    }
  }
  return d;
}

Json KVJson(const KV& kv) {
  Json j = Json::object();
  for (const auto& [k, v] : kv) j[k] = v;
  return j;
}

std::string Dump(const Json& j) { return j.dump(-1, ' ', false, Json::error_handler_t::replace); }

// Go's notify.TruncateInRunes: n runes at most, the last one "…" when cut.
std::string TruncateRunes(const std::string& s, size_t n) {
  size_t runes = 0, cut = std::string::npos;
  for (size_t i = 0; i < s.size(); ++i) {
    if ((static_cast<unsigned char>(s[i]) & 0xC0) == 0x80) continue;
    if (runes == n - 1) cut = i;
    if (++runes > n) return s.substr(0, cut) + "\u2026";
  }
  return s;
}

std::string AlertsUrl(const Notification& n) {
  std::string q;
  for (unsigned char c : n.receiver) {
    if (isalnum(c) || c == '-' || c == '_' || c == '.' || c == '~') {
      q.push_back(static_cast<char>(c));
    } else {
      char buf[4];
      std::snprintf(buf, sizeof buf, "%%%02X", c);
      q += buf;
    }
  }
  return n.external_url + "/#/alerts?receiver=" + q;
}

// Alertmanager's "__text_alert_list" template.
std::string TextAlertList(const std::vector<const Alert*>& alerts) {
  std::string out;
  for (const Alert* a : alerts) {
    out += "Labels:\n";
    for (const auto& l : a->labels.items()) out += " - " + l.name + " = " + l.value + "\n";
    out += "Annotations:\n";
    for (const auto& [k, v] : a->annotations) out += " - " + k + " = " + v + "\n";
    out += "Source: " + a->generator_url + "\n";
  }
  return out;
}

std::string Subject(const Data& d) {
  std::string s =
      "[" +
      std::string(d.firing > 0 ? "FIRING:" + std::to_string(d.firing) : std::string("RESOLVED")) +
      "] ";
  bool first = true;
  for (const auto& [k, v] : d.group_labels) {
    s += (first ? "" : " ") + v;
    first = false;
  }
  s += " ";
  if (d.common_labels.size() > d.group_labels.size()) {
    s += "(";
    first = true;
    for (const auto& [k, v] : d.common_labels) {
      if (d.group_labels.count(k)) continue;
      s += (first ? "" : " ") + v;
      first = false;
    }
    s += ")";
  }
  return s;
}

std::pair<std::vector<const Alert*>, std::vector<const Alert*>> Split(const Data& d,
                                                                      int64_t now_ms) {
  std::vector<const Alert*> firing, resolved;
  for (const Alert* a : d.alerts) (a->ResolvedAt(now_ms) ? resolved : firing).push_back(a);
  return {firing, resolved};
}

}  // namespace

uint64_t AlertmanagerFingerprint(const tsdb::Labels& labels) {
  uint64_t h = 14695981039346656037ull;
  auto add = [&h](std::string_view s) {
    for (unsigned char c : s) {
      h ^= c;
      h *= 1099511628211ull;
    }
  };
  for (const auto& l : labels.items()) {
    add(l.name);
    add("\xff");
    add(l.value);
    add("\xff");
  }
  return h;
}


std::string GoTimeJson(int64_t unix_ms) {
  if (unix_ms == 0) return "0001-01-01T00:00:00Z";
  int64_t secs = unix_ms / 1000, ms = unix_ms % 1000;
  if (ms < 0) {
    ms += 1000;
    --secs;
  }
  time_t t = static_cast<time_t>(secs);
  tm tm{};
  gmtime_r(&t, &tm);
  char buf[64];
  size_t len = strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%S", &tm);
  std::string out(buf, len);
  if (ms != 0) {
    char frac[8];
    std::snprintf(frac, sizeof frac, ".%03lld", static_cast<long long>(ms));
    std::string f(frac);
    while (f.back() == '0') f.pop_back();
    out += f;
  }
  return out + "Z";
}

std::string GoEscapeHtml(std::string_view json) {
  std::string out;
  out.reserve(json.size());
  for (size_t i = 0; i < json.size(); ++i) {
    char c = json[i];
    if (c == '<') {
      out += "\\u003c";
    } else if (c == '>') {
      out += "\\u003e";
    } else if (c == '&') {
      out += "\\u0026";
    } else if (c == '\xe2' && i + 2 < json.size() && json[i + 1] == '\x80' &&
               (json[i + 2] == '\xa8' || json[i + 2] == '\xa9')) {
      out += json[i + 2] == '\xa8' ? "\\u2028" : "\\u2029";
      i += 2;
    } else {
      out.push_back(c);
    }
  }
  return out;
}

std::string DefaultSubject(const Notification& n, bool send_resolved) {
  return Subject(MakeData(n, Selected(n, send_resolved)));
}

std::string GroupKeyHash(std::string_view group_key) { return Sha256Hex(group_key); }

std::optional<std::string> WebhookPayload(const Notification& n, const config::WebhookConfig& c) {
  std::vector<const Alert*> alerts = Selected(n, c.send_resolved);
  if (alerts.empty()) return std::nullopt;
  uint64_t truncated = 0;
  if (c.max_alerts > 0 && alerts.size() > static_cast<size_t>(c.max_alerts)) {
    truncated = alerts.size() - static_cast<size_t>(c.max_alerts);
    alerts.resize(static_cast<size_t>(c.max_alerts));
  }
  Data d = MakeData(n, std::move(alerts));
  Json list = Json::array();
  for (const Alert* a : d.alerts) {
    bool resolved = a->ResolvedAt(n.now_ms);
    Json j;
    j["status"] = resolved ? "resolved" : "firing";
    j["labels"] = KVJson(ToKV(a->labels));
    j["annotations"] = KVJson(a->annotations);
    j["startsAt"] = GoTimeJson(a->starts_at_ms);
    j["endsAt"] = GoTimeJson(resolved ? a->ends_at_ms : 0);
    j["generatorURL"] = a->generator_url;
    j["fingerprint"] = FingerprintHex(AlertmanagerFingerprint(a->labels));
    list.push_back(std::move(j));
  }
  Json msg;
  msg["receiver"] = d.receiver;
  msg["status"] = d.status;
  msg["alerts"] = std::move(list);
  msg["groupLabels"] = KVJson(d.group_labels);
  msg["commonLabels"] = KVJson(d.common_labels);
  msg["commonAnnotations"] = KVJson(d.common_annotations);
  msg["externalURL"] = n.external_url;
  msg["version"] = "4";
  msg["groupKey"] = n.group_key;
  msg["truncatedAlerts"] = truncated;
  return GoEscapeHtml(Dump(msg)) + "\n";  // json.Encoder ends the document with a newline
}

std::optional<std::string> AlertmanagerPayload(const Notification& n,
                                               const config::AlertmanagerConfig& c) {
  std::vector<const Alert*> alerts = Selected(n, c.send_resolved);
  if (alerts.empty()) return std::nullopt;
  Json list = Json::array();
  for (const Alert* a : alerts) {
    Json j;
    j["labels"] = KVJson(ToKV(a->labels));
    j["annotations"] = KVJson(a->annotations);
    j["startsAt"] = GoTimeJson(a->starts_at_ms);
    // An open alert goes without endsAt: the Alertmanager then applies its resolve_timeout.
    if (a->ends_at_ms != 0) j["endsAt"] = GoTimeJson(a->ends_at_ms);
    j["generatorURL"] = a->generator_url;
    list.push_back(std::move(j));
  }
  return Dump(list);
}

std::optional<std::string> SlackPayload(const Notification& n, const config::SlackConfig& c) {
  std::vector<const Alert*> alerts = Selected(n, c.send_resolved);
  if (alerts.empty()) return std::nullopt;
  Data d = MakeData(n, std::move(alerts));
  std::string title = TruncateRunes(c.title.empty() ? Subject(d) : c.title, kMaxTitleRunes);
  std::string text = c.text;
  if (text.empty()) {
    auto [firing, resolved] = Split(d, n.now_ms);
    if (!firing.empty()) text += "*Firing*\n" + TextAlertList(firing);
    if (!resolved.empty())
      text += (text.empty() ? "" : "\n") + std::string("*Resolved*\n") + TextAlertList(resolved);
  }
  std::string link = AlertsUrl(n);
  Json att;
  att["title"] = title;
  att["title_link"] = link;
  att["text"] = text;
  att["fallback"] = title + " | " + link;
  att["color"] = d.status == "firing" ? "danger" : "good";
  att["mrkdwn_in"] = Json::array({"fallback", "pretext", "text"});
  Json req;
  if (!c.channel.empty()) req["channel"] = c.channel;
  req["username"] = c.username.empty() ? "Steward" : c.username;
  req["text"] = title;  // shown where attachments are not (notifications, old clients)
  req["attachments"] = Json::array({std::move(att)});
  return Dump(req);
}

std::optional<std::string> PagerDutyPayload(const Notification& n,
                                            const config::PagerDutyConfig& c) {
  std::vector<const Alert*> alerts = Selected(n, c.send_resolved);
  if (alerts.empty()) return std::nullopt;
  Data d = MakeData(n, std::move(alerts));
  auto [firing, resolved] = Split(d, n.now_ms);
  std::string client = c.client.empty() ? "Steward" : c.client;
  Json details;
  details["firing"] = TextAlertList(firing);
  details["resolved"] = TextAlertList(resolved);
  details["num_firing"] = std::to_string(firing.size());
  details["num_resolved"] = std::to_string(resolved.size());
  Json payload;
  payload["summary"] =
      TruncateRunes(c.description.empty() ? Subject(d) : c.description, kMaxSummaryRunes);
  payload["source"] = client;
  payload["severity"] = c.severity.empty() ? "error" : c.severity;
  payload["custom_details"] = std::move(details);
  Json msg;
  msg["routing_key"] = c.routing_key;
  msg["event_action"] = d.status == "firing" ? "trigger" : "resolve";
  msg["dedup_key"] = GroupKeyHash(n.group_key);
  msg["payload"] = std::move(payload);
  msg["client"] = client;
  msg["client_url"] = AlertsUrl(n);
  return Dump(msg);
}

}  // namespace steward::alerting
