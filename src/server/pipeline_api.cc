// The pipelines API (docs/api.md): list pipelines and their triggers, start and cancel runs,
// read recorded runs; and the webhook receiver POST /hooks/<pipeline>, which is outside /api/
// because GitHub and GitLab cannot send the API token — the delivery's HMAC signature (or
// GitLab token) made with the pipeline's webhook secret is checked instead.
#include <charconv>
#include <chrono>
#include <thread>
#include <string>

#include <httplib.h>
#include <nlohmann/json.hpp>
#include <spdlog/spdlog.h>

#include "pipeline/records.h"
#include "server/deploy_controller.h"
#include "server/http_internal.h"
#include "server/pipelines.h"
#include "server/prom_internal.h"

namespace steward::server {
namespace {

constexpr size_t kMaxWebhookBody = 8 << 20;  // GitHub caps payloads at 25 MB; pushes are small

int64_t ParseId(const std::string& s) {
  int64_t v = 0;
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  return ec == std::errc() && p == s.data() + s.size() ? v : 0;
}

}  // namespace

void Daemon::StartPipelines() {
  // Runs a previous daemon (or a killed `steward run`) left "running" end as "interrupted".
  if (auto marked = store_->MarkInterruptedPipelineRuns(); !marked.ok()) {
    spdlog::warn("msg=\"marking interrupted runs\" error=\"{}\"", marked.status().message());
  }
  PipelineServiceOptions po;
  po.state_dir = opt_.state_dir;
  po.store = store_.get();
  po.metrics = &metrics_;
  po.jobs = 2;
  // A deploy step of a run started here goes straight to the deploy controller and is followed
  // to its end; cancelling the run rolls the deploy back.
  po.deploy = [this](const pipeline::DeployRequest& r, const pipeline::LineFn& log,
                     const pipeline::CancelToken* cancel) -> Status {
    DeployAsk ask;
    ask.service = r.service;
    ask.version = r.version;
    ask.strategy = r.strategy;
    ask.env = r.env;
    ask.trigger = "pipeline";
    ask.run_id = r.run_id;
    ask.commit = r.commit;
    ask.commit_time_ms = r.commit_time_ms;
    ASSIGN_OR_RETURN(state::DeployRecord rec, deploys_->Deploy(ask));
    log("deploy " + std::to_string(rec.id) + " of " + r.service + " started", false);
    size_t seen = 0;
    bool rolled_back = false;
    while (true) {
      ASSIGN_OR_RETURN(rec, deploys_->Get(rec.id));
      auto events = nlohmann::json::parse(rec.events_json, nullptr, /*allow_exceptions=*/false);
      if (events.is_array()) {
        for (; seen < events.size(); ++seen) log(events[seen].value("text", ""), false);
      }
      if (rec.status != "running") break;
      if (cancel != nullptr && cancel->cancelled() && !rolled_back) {
        bool started = false;
        deploys_->Rollback(r.service, 0, /*freeze=*/false, &started).status().IgnoreError();
        rolled_back = true;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(200));
    }
    if (rec.status == "succeeded") return Status::OK();
    return FailedPrecondition("deploy " + std::to_string(rec.id) + " of " + r.service + " " +
                              rec.status + (rec.error.empty() ? "" : ": " + rec.error));
  };
  pipelines_ = std::make_unique<PipelineService>(po);
  auto doc = store_->GetDocument("pipelines");
  if (doc.ok() && *doc) {
    auto j = nlohmann::json::parse(**doc, nullptr, /*allow_exceptions=*/false);
    if (j.is_object() && j.value("stack_file", "") != "") {
      std::string path = j.value("stack_file", "");
      if (Status st = pipelines_->Load(path); !st.ok()) {
        spdlog::error("msg=\"pipelines not loaded\" stack={} error=\"{}\"", path, st.message());
      }
    }
  }
  pipelines_->Start();
}

void InstallPipelineRoutes(httplib::Server& svr, Daemon* daemon) {
  svr.Get("/api/v1/pipelines", [daemon](const httplib::Request&, httplib::Response& res) {
    JsonAnswer(res, {{"status", "success"}, {"data", daemon->pipelines()->PipelinesJson()}});
  });
  svr.Post(R"(/api/v1/pipelines/([A-Za-z0-9_.-]{1,128})/runs)",
           [daemon](const httplib::Request& req, httplib::Response& res) {
             std::string commit, branch;
             if (!req.body.empty()) {
               auto j = nlohmann::json::parse(req.body, nullptr, false);
               if (!j.is_object()) {
                 return StatusError(res, InvalidArgument("body must be a JSON object: "
                                                   "{\"commit\": \"...\", \"branch\": \"...\"}"));
               }
               commit = j.value("commit", "");
               branch = j.value("branch", "");
             }
             auto id = daemon->pipelines()->StartRun(req.matches[1], "api", "", commit, branch);
             if (!id.ok() && id.status().code() == StatusCode::kUnavailable) {
               return PromError(res, 429, "unavailable", id.status().message());  // max_runs
             }
             if (!id.ok()) return StatusError(res, id.status());
             JsonAnswer(res, {{"status", "success"}, {"data", {{"run_id", *id}}}}, 202);
           });
  svr.Get("/api/v1/runs", [daemon](const httplib::Request& req, httplib::Response& res) {
    int limit = 50;
    if (req.has_param("limit")) limit = static_cast<int>(ParseId(req.get_param_value("limit")));
    auto runs = daemon->store()->ListPipelineRuns(req.get_param_value("pipeline"), limit);
    if (!runs.ok()) return StatusError(res, runs.status());
    nlohmann::json out = nlohmann::json::array();
    for (const auto& r : *runs) out.push_back(pipeline::RunJson(r));
    JsonAnswer(res, {{"status", "success"}, {"data", std::move(out)}});
  });
  svr.Get(R"(/api/v1/runs/(\d{1,15}))", [daemon](const httplib::Request& req,
                                                   httplib::Response& res) {
    int64_t id = ParseId(req.matches[1]);
    auto run = daemon->store()->GetPipelineRun(id);
    if (!run.ok()) return StatusError(res, run.status());
    auto jobs = daemon->store()->ListPipelineJobs(id);
    if (!jobs.ok()) return StatusError(res, jobs.status());
    JsonAnswer(res, {{"status", "success"}, {"data", pipeline::RunWithJobsJson(*run, *jobs)}});
  });
  svr.Post(R"(/api/v1/runs/(\d{1,15})/cancel)", [daemon](const httplib::Request& req,
                                                          httplib::Response& res) {
    Status st = daemon->pipelines()->Cancel(ParseId(req.matches[1]));
    if (!st.ok()) return StatusError(res, st);
    JsonAnswer(res, {{"status", "success"}}, 202);
  });
  svr.Post(R"(/hooks/([A-Za-z0-9_.-]{1,128}))", [daemon](const httplib::Request& req,
                                                         httplib::Response& res) {
    if (req.body.size() > kMaxWebhookBody) {
      return JsonAnswer(res, {{"error", "payload larger than 8 MiB"}}, 413);
    }
    std::map<std::string, std::string> headers;
    for (const auto& [k, v] : req.headers) headers[k] = v;
    auto answer = daemon->pipelines()->HandleWebhook(req.matches[1], headers, req.body);
    if (answer.http_status >= 400) {
      spdlog::warn("msg=\"webhook refused\" pipeline={} status={} reason=\"{}\"",
                   std::string(req.matches[1]), answer.http_status,
                   answer.body.value("error", ""));
    }
    JsonAnswer(res, answer.body, answer.http_status);
  });
}

}  // namespace steward::server
