// Alertmanager's v2 API over the daemon's notifier (docs/api.md): alerts in (POST
// /api/v2/alerts, so Prometheus or anything that speaks to Alertmanager can send to Steward) and
// out (GET), silences (list, create or update, get, expire), status; plus
// GET /api/v1/notifications with the delivery state of every integration. Shapes and errors
// follow Alertmanager 0.25's OpenAPI spec; the bearer token is checked before routing.
#include <algorithm>
#include <string>

#include <httplib.h>
#include <nlohmann/json.hpp>

#include "alerting/receivers.h"
#include "alerting/silences.h"
#include "server/http_internal.h"
#include "server/notifier.h"
#include "server/prom_internal.h"

namespace steward::server {
namespace {

using nlohmann::json;

constexpr size_t kMaxAlertsPerPost = 10'000;
constexpr char kSilenceRoute[] = R"(/api/v2/silence/([0-9a-fA-F-]{1,64}))";

void Json(httplib::Response& res, const json& j, int code = 200) {
  res.status = code;
  res.set_content(j.dump(-1, ' ', false, json::error_handler_t::replace) + "\n",
                  "application/json");
}

// Alertmanager answers a bad request with a JSON string (its go-swagger error body).
void BadRequest(httplib::Response& res, const std::string& msg) { Json(res, json(msg), 400); }

std::string Time(int64_t ms) {
  return ms == 0 ? "0001-01-01T00:00:00.000Z" : FormatRfc3339Millis(FromUnixMillis(ms));
}

StatusOr<int64_t> TimeField(const json& j, const char* key) {
  if (!j.contains(key) || j[key].is_null()) return int64_t{0};
  if (!j[key].is_string()) return InvalidArgument(std::string(key) + " must be an RFC 3339 time");
  std::string s = j[key].get<std::string>();
  if (s.empty() || s.rfind("0001-01-01", 0) == 0) return int64_t{0};
  auto t = ParsePromTime(s);
  if (!t.ok()) return InvalidArgument(std::string(key) + " " + s + " is not an RFC 3339 time");
  return *t;
}

StatusOr<std::map<std::string, std::string>> StringMap(const json& j, const char* key) {
  std::map<std::string, std::string> out;
  if (!j.contains(key) || j[key].is_null()) return out;
  if (!j[key].is_object()) return InvalidArgument(std::string(key) + " must be an object");
  for (const auto& [k, v] : j[key].items()) {
    if (!v.is_string()) return InvalidArgument(std::string(key) + "." + k + " must be a string");
    out[k] = v.get<std::string>();
  }
  return out;
}

// One postableAlert; `now` fills a missing startsAt, as Alertmanager does.
StatusOr<alerting::Alert> PostableAlert(const json& j, int64_t now) {
  if (!j.is_object()) return InvalidArgument("each alert must be a JSON object");
  ASSIGN_OR_RETURN(auto labels, StringMap(j, "labels"));
  if (labels.empty()) return InvalidArgument("labels: at least one label pair required");
  std::vector<tsdb::Label> items;
  for (auto& [k, v] : labels) {
    if (!tsdb::IsValidLabelName(k)) return InvalidArgument("invalid label name \"" + k + "\"");
    if (v.empty()) return InvalidArgument("empty value for label \"" + k + "\"");
    items.push_back({k, v});
  }
  alerting::Alert a;
  ASSIGN_OR_RETURN(a.labels, tsdb::Labels::FromUnsorted(std::move(items)));
  ASSIGN_OR_RETURN(a.annotations, StringMap(j, "annotations"));
  ASSIGN_OR_RETURN(a.starts_at_ms, TimeField(j, "startsAt"));
  ASSIGN_OR_RETURN(a.ends_at_ms, TimeField(j, "endsAt"));
  if (a.starts_at_ms == 0) a.starts_at_ms = a.ends_at_ms != 0 && a.ends_at_ms < now
                                                ? a.ends_at_ms
                                                : now;
  if (a.ends_at_ms != 0 && a.ends_at_ms < a.starts_at_ms)
    return InvalidArgument("start time must be before end time");
  if (j.contains("generatorURL") && j["generatorURL"].is_string())
    a.generator_url = j["generatorURL"].get<std::string>();
  a.updated_at_ms = now;
  return a;
}

json LabelsJson(const tsdb::Labels& labels) {
  json j = json::object();
  for (const auto& l : labels.items()) j[l.name] = l.value;
  return j;
}

json GettableAlert(const alerting::AlertStatus& s) {
  json receivers = json::array();
  for (const auto& r : s.receivers) receivers.push_back({{"name", r}});
  return {{"labels", LabelsJson(s.alert.labels)},
          {"annotations", s.alert.annotations},
          {"startsAt", Time(s.alert.starts_at_ms)},
          {"endsAt", Time(s.alert.ends_at_ms)},
          {"updatedAt", Time(s.alert.updated_at_ms)},
          {"generatorURL", s.alert.generator_url},
          {"fingerprint", alerting::FingerprintHex(alerting::AlertmanagerFingerprint(
                              s.alert.labels))},
          {"receivers", std::move(receivers)},
          {"status",
           {{"state", s.state}, {"silencedBy", s.silenced_by}, {"inhibitedBy", s.inhibited_by}}}};
}

json MatcherJson(const config::LabelMatcher& m) {
  using Op = config::LabelMatcher::Op;
  return {{"name", m.name},
          {"value", m.value},
          {"isRegex", m.op == Op::kRegex || m.op == Op::kNotRegex},
          {"isEqual", m.op == Op::kEqual || m.op == Op::kRegex}};
}

json GettableSilence(const alerting::Silence& s, int64_t now) {
  json matchers = json::array();
  for (const auto& m : s.matchers) matchers.push_back(MatcherJson(m));
  return {{"id", s.id},
          {"matchers", std::move(matchers)},
          {"startsAt", Time(s.starts_at_ms)},
          {"endsAt", Time(s.ends_at_ms)},
          {"updatedAt", Time(s.updated_at_ms)},
          {"createdBy", s.created_by},
          {"comment", s.comment},
          {"status", {{"state", std::string(alerting::SilenceStateName(
                                    alerting::StateOf(s, now)))}}}};
}

StatusOr<alerting::Silence> PostableSilence(const json& j) {
  if (!j.is_object()) return InvalidArgument("the silence must be a JSON object");
  alerting::Silence s;
  if (j.contains("id") && j["id"].is_string()) s.id = j["id"].get<std::string>();
  if (!j.contains("matchers") || !j["matchers"].is_array() || j["matchers"].empty())
    return InvalidArgument("matchers: at least one matcher required");
  for (const json& m : j["matchers"]) {
    if (!m.is_object() || !m.contains("name") || !m["name"].is_string() || !m.contains("value") ||
        !m["value"].is_string())
      return InvalidArgument("each matcher needs string name and value");
    config::LabelMatcher lm;
    lm.name = m["name"].get<std::string>();
    lm.value = m["value"].get<std::string>();
    bool regex = m.value("isRegex", false);
    bool equal = m.contains("isEqual") && m["isEqual"].is_boolean() ? m["isEqual"].get<bool>()
                                                                     : true;
    using Op = config::LabelMatcher::Op;
    lm.op = regex ? (equal ? Op::kRegex : Op::kNotRegex) : (equal ? Op::kEqual : Op::kNotEqual);
    s.matchers.push_back(std::move(lm));
  }
  ASSIGN_OR_RETURN(s.starts_at_ms, TimeField(j, "startsAt"));
  ASSIGN_OR_RETURN(s.ends_at_ms, TimeField(j, "endsAt"));
  if (s.ends_at_ms == 0) return InvalidArgument("endsAt: an end time is required");
  if (j.contains("createdBy") && j["createdBy"].is_string())
    s.created_by = j["createdBy"].get<std::string>();
  if (j.contains("comment") && j["comment"].is_string()) s.comment = j["comment"].get<std::string>();
  if (s.created_by.empty()) return InvalidArgument("createdBy: who is silencing is required");
  if (s.comment.empty()) return InvalidArgument("comment: say why the alerts are silenced");
  return s;
}

// ?filter=... matchers, and the active/silenced/inhibited switches of GET /api/v2/alerts.
bool Keep(const alerting::AlertStatus& s, const httplib::Request& req,
          const std::vector<config::LabelMatcher>& filter) {
  auto flag = [&](const char* name) {
    return !req.has_param(name) || req.get_param_value(name) != "false";
  };
  bool silenced = !s.silenced_by.empty(), inhibited = !s.inhibited_by.empty();
  if (s.state == "active" && !flag("active")) return false;
  if (silenced && !flag("silenced")) return false;
  if (inhibited && !flag("inhibited")) return false;
  for (const auto& m : filter) {
    std::string_view v = s.alert.labels.Get(m.name);
    using Op = config::LabelMatcher::Op;
    bool eq = v == m.value;
    if (m.op == Op::kEqual && !eq) return false;
    if (m.op == Op::kNotEqual && eq) return false;
    if (m.op == Op::kRegex || m.op == Op::kNotRegex) {
      auto tm = tsdb::Matcher::Make(m.op == Op::kRegex ? tsdb::Matcher::Type::kRegexMatch
                                                       : tsdb::Matcher::Type::kRegexNoMatch,
                                    m.name, m.value);
      if (!tm.ok() || !tm->Matches(v)) return false;
    }
  }
  return true;
}

}  // namespace

void InstallAlertRoutes(httplib::Server& svr, Daemon* daemon) {
  auto unavailable = [](httplib::Response& res) {
    Json(res, json("alerting is off: the daemon runs without monitoring"), 503);
  };
  svr.Post("/api/v2/alerts", [daemon, unavailable](const httplib::Request& req,
                                                           httplib::Response& res) {
    Notifier* notifier = daemon->notifier();
    if (!notifier) return unavailable(res);
    json body = json::parse(req.body, nullptr, false);
    if (body.is_discarded() || !body.is_array())
      return BadRequest(res, "the body must be a JSON array of alerts");
    if (body.size() > kMaxAlertsPerPost)
      return BadRequest(res, "at most " + std::to_string(kMaxAlertsPerPost) +
                                 " alerts per request");
    std::vector<alerting::Alert> alerts;
    int64_t now = notifier->NowMs();
    for (size_t i = 0; i < body.size(); ++i) {
      auto a = PostableAlert(body[i], now);
      if (!a.ok()) return BadRequest(res, "alert " + std::to_string(i) + ": " + a.status().message());
      alerts.push_back(std::move(*a));
    }
    daemon->ReceiveAlerts(std::move(alerts));
    res.status = 200;
  });
  svr.Get("/api/v2/alerts", [daemon, unavailable](const httplib::Request& req,
                                                   httplib::Response& res) {
    Notifier* notifier = daemon->notifier();
    if (!notifier) return unavailable(res);
    std::vector<config::LabelMatcher> filter;
    if (req.has_param("filter")) {
      for (size_t i = 0; i < req.get_param_value_count("filter"); ++i) {
        auto ms = config::ParseLabelMatchers(req.get_param_value("filter", i));
        if (!ms.ok()) return BadRequest(res, "bad filter: " + ms.status().message());
        filter.insert(filter.end(), ms->begin(), ms->end());
      }
    }
    json out = json::array();
    for (const auto& s : notifier->Alerts())
      if (Keep(s, req, filter)) out.push_back(GettableAlert(s));
    Json(res, out);
  });
  svr.Get("/api/v2/silences", [daemon, unavailable](const httplib::Request&,
                                                     httplib::Response& res) {
    Notifier* notifier = daemon->notifier();
    if (!notifier) return unavailable(res);
    json out = json::array();
    int64_t now = notifier->NowMs();
    for (const auto& s : notifier->silences()->List()) out.push_back(GettableSilence(s, now));
    Json(res, out);
  });
  svr.Post("/api/v2/silences", [daemon, unavailable](const httplib::Request& req,
                                                      httplib::Response& res) {
    Notifier* notifier = daemon->notifier();
    if (!notifier) return unavailable(res);
    auto s = PostableSilence(json::parse(req.body, nullptr, false));
    if (!s.ok()) return BadRequest(res, s.status().message());
    auto id = notifier->silences()->Set(std::move(*s), notifier->NowMs());
    if (!id.ok()) {
      int code = id.status().code() == StatusCode::kNotFound ? 404
                 : id.status().code() == StatusCode::kIOError ? 500 : 400;
      return Json(res, json(id.status().message()), code);
    }
    Json(res, {{"silenceID", *id}});
  });
  svr.Get(kSilenceRoute, [daemon, unavailable](const httplib::Request& req,
                                                 httplib::Response& res) {
    Notifier* notifier = daemon->notifier();
    if (!notifier) return unavailable(res);
    auto s = notifier->silences()->Get(req.matches[1]);
    if (!s) return Json(res, json("silence " + std::string(req.matches[1]) + " not found"), 404);
    Json(res, GettableSilence(*s, notifier->NowMs()));
  });
  svr.Delete(kSilenceRoute, [daemon, unavailable](const httplib::Request& req,
                                                    httplib::Response& res) {
    Notifier* notifier = daemon->notifier();
    if (!notifier) return unavailable(res);
    Status st = notifier->silences()->Expire(req.matches[1], notifier->NowMs());
    if (st.code() == StatusCode::kNotFound) return Json(res, json(st.message()), 404);
    if (!st.ok()) return Json(res, json(st.message()), 500);
    res.status = 200;
  });
  svr.Get("/api/v2/status", [daemon](const httplib::Request&, httplib::Response& res) {
    Notifier* notifier = daemon->notifier();
    Json(res, {{"cluster", {{"status", "disabled"}, {"peers", json::array()}}},
               {"versionInfo", {{"version", "0.25.0"}, {"revision", "steward-0.1.0"}}},
               {"uptime", ""},
               {"config", {{"original", ""}}},
               {"notifier", notifier != nullptr}});
  });
  svr.Get("/api/v1/notifications", [daemon, unavailable](const httplib::Request&,
                                                          httplib::Response& res) {
    Notifier* notifier = daemon->notifier();
    if (!notifier) return unavailable(res);
    Json(res, notifier->DeliveryJson());
  });
}

}  // namespace steward::server
