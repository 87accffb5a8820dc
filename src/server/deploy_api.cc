// The deploys API (docs/api.md "Deploys") over the daemon's DeployController. The bearer token
// is checked for every /api/ path before routing (http_api.cc).
#include <charconv>
#include <string>

#include <httplib.h>
#include <nlohmann/json.hpp>

#include "server/deploy_controller.h"
#include "server/http_internal.h"
#include "server/prom_internal.h"

namespace steward::server {
namespace {

constexpr char kDeployRoute[] = R"(/api/v1/deploys/(\d{1,15}))";
constexpr char kRollbackRoute[] = R"(/api/v1/services/([a-z0-9][a-z0-9-]*)/rollback)";
constexpr char kReleasesRoute[] = R"(/api/v1/services/([a-z0-9][a-z0-9-]*)/releases)";

StatusOr<DeployAsk> ParseAsk(const std::string& body) {
  auto j = nlohmann::json::parse(body, nullptr, false);
  if (!j.is_object()) return InvalidArgument("the body must be a JSON object");
  DeployAsk a;
  try {
    a.service = j.value("service", "");
    a.version = j.value("version", "");
    a.strategy = j.value("strategy", "");
    a.trigger = j.value("trigger", "api");
    a.run_id = j.value("run_id", int64_t{0});
    a.commit = j.value("commit", "");
    a.commit_time_ms = j.value("commit_time_ms", int64_t{0});
    if (j.contains("env") && !j["env"].is_null())
      a.env = j["env"].get<std::map<std::string, std::string>>();
  } catch (const std::exception& e) {
    return InvalidArgument(std::string("bad deploy request: ") + e.what());
  }
  if (a.service.empty()) return InvalidArgument("'service' is required");
  if (a.version.size() > 200) return InvalidArgument("'version' is longer than 200 bytes");
  return a;
}

int LimitParam(const httplib::Request& req) {
  int limit = 50;
  std::string s = req.get_param_value("limit");
  if (!s.empty()) std::from_chars(s.data(), s.data() + s.size(), limit);
  return std::clamp(limit, 1, 1000);
}

}  // namespace

void InstallDeployRoutes(httplib::Server& svr, DeployController* deploys) {
  svr.Post("/api/v1/deploys", [deploys](const httplib::Request& req, httplib::Response& res) {
    auto ask = ParseAsk(req.body);
    if (!ask.ok()) return StatusError(res, ask.status());
    auto d = deploys->Deploy(*ask);
    if (!d.ok()) return StatusError(res, d.status());
    JsonAnswer(res, DeployJson(*d, true), 202);
  });
  svr.Get("/api/v1/deploys", [deploys](const httplib::Request& req, httplib::Response& res) {
    auto list = deploys->List(req.get_param_value("service"), LimitParam(req));
    if (!list.ok()) return StatusError(res, list.status());
    nlohmann::json out = nlohmann::json::array();
    for (const auto& d : *list) out.push_back(DeployJson(d, false));
    JsonAnswer(res, {{"deploys", out}});
  });
  svr.Get(kDeployRoute, [deploys](const httplib::Request& req, httplib::Response& res) {
    auto d = deploys->Get(std::stoll(req.matches[1]));
    if (!d.ok()) return StatusError(res, d.status());
    JsonAnswer(res, DeployJson(*d, true));
  });
  svr.Post(kRollbackRoute, [deploys](const httplib::Request& req, httplib::Response& res) {
    auto j = nlohmann::json::parse(req.body.empty() ? "{}" : req.body, nullptr, false);
    if (!j.is_object()) return StatusError(res, InvalidArgument("the body must be a JSON object"));
    int64_t to = 0;
    bool freeze = false;
    try {
      to = j.value("to", int64_t{0});
      freeze = j.value("freeze", false);
    } catch (const std::exception& e) {
      return StatusError(res, InvalidArgument(std::string("bad rollback request: ") + e.what()));
    }
    if (to < 0) return StatusError(res, InvalidArgument("'to' must be a release version (1, 2, ...)"));
    bool started = false;
    auto d = deploys->Rollback(req.matches[1], to, freeze, &started);
    if (!d.ok()) return StatusError(res, d.status());
    JsonAnswer(res, DeployJson(*d, true), started ? 202 : 200);
  });
  svr.Get(kReleasesRoute, [deploys](const httplib::Request& req, httplib::Response& res) {
    auto r = deploys->Releases(req.matches[1]);
    if (!r.ok()) return StatusError(res, r.status());
    JsonAnswer(res, *r);
  });
}

}  // namespace steward::server
