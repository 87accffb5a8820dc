// The incidents API (docs/api.md): list, show, acknowledge, resolve, annotate, postmortem and
// MTTA/MTTR statistics, over alerting::IncidentManager. The bearer token is checked for every
// /api/ path before routing (http_api.cc); errors are {"status":"error","errorType","error"}.
#include <charconv>
#include <string>
#include <tuple>

#include <httplib.h>
#include <nlohmann/json.hpp>

#include "alerting/incidents.h"
#include "base/json.h"
#include "promql/parser.h"
#include "server/http_internal.h"
#include "server/prom_internal.h"

namespace steward::server {
namespace {

constexpr size_t kMaxActor = 256;
constexpr size_t kMaxText = 64 * 1024;
constexpr char kIdRoute[] = R"(/api/v1/incidents/(\d{1,15}))";

nlohmann::json IncidentJson(const state::IncidentRecord& r) {
  return {{"id", r.id},
          {"title", r.title},
          {"service", r.service},
          {"severity", r.severity},
          {"status", r.status},
          {"key", r.key},
          {"opened_at", JsonTimeOrNull(r.opened_at_ms)},
          {"acknowledged_at", JsonTimeOrNull(r.acknowledged_at_ms)},
          {"resolved_at", JsonTimeOrNull(r.resolved_at_ms)}};
}

nlohmann::json EventJson(const state::IncidentEvent& e) {
  auto data = nlohmann::json::parse(e.data_json, nullptr, false);
  return {{"id", e.id},     {"at", JsonTimeOrNull(e.at_ms)}, {"kind", e.kind},
          {"actor", e.actor}, {"text", e.text},           {"data", data.is_discarded() ? nlohmann::json::object() : data}};
}

nlohmann::json DurationJson(const alerting::DurationStat& d) {
  return {{"count", d.count}, {"mean_seconds", d.count > 0 ? nlohmann::json(d.mean_seconds)
                                                           : nlohmann::json()}};
}

nlohmann::json ServiceStatsJson(const alerting::ServiceIncidentStats& s) {
  return {{"service", s.service},
          {"opened", s.opened},
          {"unresolved", s.unresolved},
          {"mtta", DurationJson(s.mtta)},
          {"mttr", DurationJson(s.mttr)}};
}

StatusOr<int> LimitParam(const httplib::Request& req) {
  if (!req.has_param("limit")) return 200;
  const std::string v = req.get_param_value("limit");
  int limit = 0;
  auto [end, ec] = std::from_chars(v.data(), v.data() + v.size(), limit);
  if (ec != std::errc() || end != v.data() + v.size()) limit = 0;
  if (limit < 1 || limit > 10000) return InvalidArgument("limit must be between 1 and 10000");
  return limit;
}

// {actor, text} from a POST body; actor defaults to "api".
Status ParseAction(const httplib::Request& req, std::string* actor, std::string* text) {
  auto body = nlohmann::json::parse(req.body.empty() ? "{}" : req.body, nullptr, false);
  if (body.is_discarded() || !body.is_object())
    return InvalidArgument("request body must be a JSON object {\"actor\":..., \"text\":...}");
  *actor = "api";
  for (auto [key, out, max] : {std::tuple{"actor", actor, kMaxActor},
                               std::tuple{"text", text, kMaxText}}) {
    auto it = body.find(key);
    if (it == body.end() || it->is_null()) continue;
    if (!it->is_string()) return InvalidArgument(std::string("'") + key + "' must be a string");
    if (it->get_ref<const std::string&>().size() > max)
      return InvalidArgument(std::string("'") + key + "' is longer than " + std::to_string(max) +
                             " bytes");
    *out = it->get<std::string>();
  }
  if (actor->empty()) *actor = "api";
  return Status::OK();
}

int64_t IdOf(const httplib::Request& req) { return std::stoll(req.matches[1].str()); }

void HandleList(alerting::IncidentManager* m, const httplib::Request& req,
                httplib::Response& res) {
  state::IncidentFilter f;
  f.status = req.get_param_value("status");
  if (f.status == "all") f.status.clear();
  if (!f.status.empty() && f.status != "unresolved" && !state::IsIncidentStatus(f.status))
    return StatusError(res, InvalidArgument("status must be open, acknowledged, resolved, unresolved "
                                      "or all"));
  f.service = req.get_param_value("service");
  auto limit = LimitParam(req);
  if (!limit.ok()) return StatusError(res, limit.status());
  f.limit = *limit;
  auto list = m->List(f);
  if (!list.ok()) return StatusError(res, list.status());
  nlohmann::json out = nlohmann::json::array();
  for (const auto& r : *list) out.push_back(IncidentJson(r));
  JsonAnswer(res, {{"incidents", out}});
}

void HandleShow(alerting::IncidentManager* m, const httplib::Request& req,
                httplib::Response& res) {
  auto d = m->Get(IdOf(req));
  if (!d.ok()) return StatusError(res, d.status());
  nlohmann::json events = nlohmann::json::array();
  for (const auto& e : d->events) events.push_back(EventJson(e));
  JsonAnswer(res, {{"incident", IncidentJson(d->incident)}, {"events", events}});
}

void HandleAction(alerting::IncidentManager* m, const std::string& action,
                  const httplib::Request& req, httplib::Response& res) {
  std::string actor, text;
  if (Status st = ParseAction(req, &actor, &text); !st.ok()) return StatusError(res, st);
  const int64_t id = IdOf(req);
  Status st = action == "ack"       ? m->Ack(id, actor, text)
              : action == "resolve" ? m->Resolve(id, actor, text)
                                    : m->Note(id, actor, text);
  if (!st.ok()) return StatusError(res, st);
  auto d = m->Get(id);
  if (!d.ok()) return StatusError(res, d.status());
  JsonAnswer(res, {{"incident", IncidentJson(d->incident)}});
}

void HandlePostmortem(alerting::IncidentManager* m, const httplib::Request& req,
                      httplib::Response& res) {
  const int64_t id = IdOf(req);
  auto md = m->Postmortem(id);
  if (!md.ok()) return StatusError(res, md.status());
  if (req.get_param_value("format") == "json") return JsonAnswer(res, {{"id", id}, {"markdown", *md}});
  res.set_content(*md, "text/markdown; charset=utf-8");
}

void HandleStats(alerting::IncidentManager* m, const httplib::Request& req,
                 httplib::Response& res) {
  Duration window = m->options().stats_window;
  if (req.has_param("window")) {
    auto w = promql::ParseDurationMillis(req.get_param_value("window"));
    if (!w.ok() || *w <= 0)
      return StatusError(res, InvalidArgument("window must be a positive duration such as 30d or 12h"));
    window = Duration(*w);
  }
  auto stats = m->Stats(window);
  if (!stats.ok()) return StatusError(res, stats.status());
  nlohmann::json services = nlohmann::json::array();
  for (const auto& s : stats->services) services.push_back(ServiceStatsJson(s));
  JsonAnswer(res, {{"window_seconds", window.count() / 1000},
             {"since", JsonTimeOrNull(stats->since_ms)},
             {"overall", ServiceStatsJson(stats->overall)},
             {"services", services}});
}

}  // namespace

void InstallIncidentRoutes(httplib::Server& svr, alerting::IncidentManager* incidents) {
  auto with = [incidents](void (*h)(alerting::IncidentManager*, const httplib::Request&,
                                    httplib::Response&)) {
    return [incidents, h](const httplib::Request& req, httplib::Response& res) {
      if (incidents == nullptr)
        return StatusError(res, Unavailable("incidents are not available in this daemon"));
      h(incidents, req, res);
    };
  };
  svr.Get("/api/v1/incidents", with(HandleList));
  svr.Get("/api/v1/incidents/stats", with(HandleStats));
  svr.Get(kIdRoute, with(HandleShow));
  svr.Get(std::string(kIdRoute) + "/postmortem", with(HandlePostmortem));
  for (const char* action : {"ack", "resolve", "note"}) {
    svr.Post(std::string(kIdRoute) + "/" + action,
             [incidents, a = std::string(action)](const httplib::Request& req,
                                                  httplib::Response& res) {
               if (incidents == nullptr)
                 return StatusError(res, Unavailable("incidents are not available in this daemon"));
               HandleAction(incidents, a, req, res);
             });
  }
}

}  // namespace steward::server
