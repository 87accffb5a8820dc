// The runbooks API (docs/api.md): the stack's runbooks and their recent runs as JSON under
// /api/v1/runbooks, and the generated runbook pages as Markdown under /runbooks (the address
// alerts' runbook_url annotations point at). The bearer-token check before routing
// (http_api.cc) covers /runbooks as well as /api/: the pages show rule expressions, label values
// and command lines. Errors are Prometheus-style envelopes.
#include <httplib.h>

#include <algorithm>
#include <charconv>
#include <cstdio>
#include <nlohmann/json.hpp>
#include <string>

#include "alerting/runbook_pages.h"
#include "alerting/runbooks.h"
#include "base/json.h"
#include "server/alerting.h"
#include "server/http_internal.h"
#include "server/prom_internal.h"

namespace steward::server {
namespace {

constexpr char kPageBase[] = "/runbooks/";
constexpr size_t kMaxLimit = alerting::RunbookEngine::kKeepRuns;

nlohmann::json RunJson(const alerting::RunbookRun& r) {
  char fp[17];
  snprintf(fp, sizeof fp, "%016llx", static_cast<unsigned long long>(r.fingerprint));
  return {{"id", r.id},
          {"runbook", r.runbook},
          {"action", r.action},
          {"service", r.service},
          {"fingerprint", fp},
          {"labels", r.labels},
          {"result", r.result},
          {"output", r.output},
          {"dry_run", r.dry_run},
          {"started_at", JsonTimeOrNull(r.started_at_ms)},
          {"ended_at", JsonTimeOrNull(r.ended_at_ms)}};
}

std::vector<alerting::AlertRuleInfo> Rules(Daemon* daemon) {
  if (daemon->alerting() == nullptr) return {};
  return alerting::AlertRulesFromJson(daemon->alerting()->RulesJson("alert"));
}

// The engine, or a 503 answer when this daemon has none.
alerting::RunbookEngine* Engine(Daemon* daemon, httplib::Response& res) {
  alerting::RunbookEngine* engine = daemon->runbooks();
  if (engine == nullptr) {
    PromError(res, 503, "unavailable", "runbooks are not available in this daemon");
  }
  return engine;
}

void HandleList(Daemon* daemon, const httplib::Request&, httplib::Response& res) {
  alerting::RunbookEngine* engine = Engine(daemon, res);
  if (engine == nullptr) return;
  nlohmann::json list = nlohmann::json::array();
  for (const config::Runbook& rb : engine->Runbooks()) {
    nlohmann::json j = config::RunbookToJson(rb);
    j["page"] = kPageBase + rb.alert;
    list.push_back(std::move(j));
  }
  PromSuccess(res, {{"runbooks", std::move(list)}});
}

void HandleRuns(Daemon* daemon, const httplib::Request& req, httplib::Response& res) {
  alerting::RunbookEngine* engine = Engine(daemon, res);
  if (engine == nullptr) return;
  size_t limit = 50;
  if (req.has_param("limit")) {
    const std::string v = req.get_param_value("limit");
    auto [end, ec] = std::from_chars(v.data(), v.data() + v.size(), limit);
    if (ec != std::errc() || end != v.data() + v.size() || limit == 0 || limit > kMaxLimit) {
      return PromError(res, 400, "bad_data",
                       "'limit' must be a whole number from 1 to " + std::to_string(kMaxLimit));
    }
  }
  nlohmann::json runs = nlohmann::json::array();
  for (const auto& r : engine->RecentRuns(limit, req.get_param_value("runbook"))) {
    runs.push_back(RunJson(r));
  }
  PromSuccess(res, {{"runs", std::move(runs)}});
}

void HandleIndex(Daemon* daemon, const httplib::Request&, httplib::Response& res) {
  alerting::RunbookEngine* engine = Engine(daemon, res);
  if (engine == nullptr) return;
  auto index = alerting::RunbookIndex(Rules(daemon), engine->Runbooks());
  res.set_content(alerting::RenderRunbookIndex(index, kPageBase), "text/markdown; charset=utf-8");
}

void HandlePage(Daemon* daemon, const httplib::Request& req, httplib::Response& res) {
  alerting::RunbookEngine* engine = Engine(daemon, res);
  if (engine == nullptr) return;
  alerting::RunbookPageInput in;
  in.alertname = req.matches[1];
  for (auto& r : Rules(daemon)) {
    if (r.name == in.alertname) in.rules.push_back(std::move(r));
  }
  for (config::Runbook& rb : engine->Runbooks()) {
    if (rb.alert != in.alertname) continue;
    for (auto& run : engine->RecentRuns(kMaxLimit, rb.name)) in.runs.push_back(std::move(run));
    in.runbooks.push_back(std::move(rb));
  }
  std::sort(in.runs.begin(), in.runs.end(),
            [](const auto& a, const auto& b) { return a.id > b.id; });
  if (in.rules.empty() && in.runbooks.empty() &&
      alerting::FindBuiltinAlertDoc(in.alertname) == nullptr) {
    return PromError(res, 404, "not_found",
                     "no rule, runbook or built-in alert is named '" + in.alertname +
                         "'; GET /runbooks lists them");
  }
  res.set_content(alerting::RenderRunbookPage(in), "text/markdown; charset=utf-8");
}

}  // namespace

void InstallRunbookRoutes(httplib::Server& svr, Daemon* daemon) {
  auto with = [daemon](void (*h)(Daemon*, const httplib::Request&, httplib::Response&)) {
    return
        [daemon, h](const httplib::Request& req, httplib::Response& res) { h(daemon, req, res); };
  };
  svr.Get("/api/v1/runbooks", with(HandleList));
  svr.Get("/api/v1/runbooks/runs", with(HandleRuns));
  svr.Get("/runbooks", with(HandleIndex));
  svr.Get(R"(/runbooks/([A-Za-z_:][A-Za-z0-9_:]{0,199}))", with(HandlePage));
}

}  // namespace steward::server
