// The daemon's HTTP surface: /healthz and /metrics (open, for probes and Prometheus), and the
// JSON API under /api/v1 (bearer token). Long operations (apply, destroy) stream NDJSON: one
// {"event":"progress",...} line per step, then one {"event":"result",...} line.
#include <unistd.h>

#include <condition_variable>
#include <deque>
#include <mutex>
#include <thread>

#include <httplib.h>
#include <spdlog/spdlog.h>

#include "config/stack_json.h"
#include "config/stack_parser.h"
#include "server/daemon.h"
#include "server/deploy_controller.h"
#include "server/http_internal.h"

namespace steward::server {

namespace {

void JsonError(httplib::Response& res, int code, const std::string& type, const std::string& msg) {
  res.status = code;
  res.set_content(nlohmann::json{{"status", "error"}, {"errorType", type}, {"error", msg}}.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace) +
                      "\n",
                  "application/json");
}

int HttpCodeFor(const Status& st) {
  switch (st.code()) {
    case StatusCode::kInvalidArgument: return 400;
    case StatusCode::kNotFound: return 404;
    case StatusCode::kFailedPrecondition: return 409;
    case StatusCode::kAborted: return 409;
    case StatusCode::kDeadlineExceeded: return 504;
    case StatusCode::kUnavailable: return 503;
    default: return 500;
  }
}

// The metrics label for a request path: one of the known routes, else "other", so that
// requests for made-up paths cannot grow the metrics without bound.
std::string RouteLabel(const std::string& path) {
  static const char* kRoutes[] = {
      "/healthz",        "/metrics",        "/api/v1/status",  "/api/v1/services",
      "/api/v1/replicas", "/api/v1/history", "/api/v1/plan",    "/api/v1/apply",
      "/api/v1/destroy", "/api/v1/down",    "/api/v1/series",  "/api/v1/labels",
      "/api/v1/targets", "/api/v1/query",   "/api/v1/monitors", "/api/v1/admin/tsdb/flush",
      "/api/v1/query_range", "/api/v1/format_query", "/api/v1/query_exemplars",
      "/api/v1/metadata", "/api/v1/rules", "/api/v1/alerts", "/api/v1/status/buildinfo"};
  for (const char* r : kRoutes)
    if (path == r) return r;
  if (path.rfind("/api/v1/label/", 0) == 0) return "/api/v1/label/:name/values";
  if (path.rfind("/api/v1/incidents", 0) == 0) return "/api/v1/incidents";
  if (path.rfind("/api/v1/runbooks", 0) == 0) return "/api/v1/runbooks";
  if (path.rfind("/api/v1/pipelines", 0) == 0) return "/api/v1/pipelines";
  if (path.rfind("/api/v1/runs", 0) == 0) return "/api/v1/runs";
  if (path.rfind("/hooks/", 0) == 0) return "/hooks";
  if (path.rfind("/runbooks", 0) == 0) return "/runbooks";
  if (path.rfind("/api/v2/silence", 0) == 0) return "/api/v2/silences";
  for (const char* r : {"/api/v2/alerts", "/api/v2/status", "/api/v1/notifications", "/-/reload"})
    if (path == r) return r;
  return "other";
}

bool TokenMatches(const std::string& got, const std::string& want) {
  if (got.size() != want.size()) return false;
  unsigned char diff = 0;  // constant time: no early exit on the first differing byte
  for (size_t i = 0; i < got.size(); ++i) diff |= got[i] ^ want[i];
  return diff == 0;
}

// Runs `work` on its own thread and streams its progress lines as NDJSON while it runs.
void StreamNdjson(httplib::Response& res,
                  std::function<nlohmann::json(const apply::ProgressFn&)> work) {
  res.set_chunked_content_provider(
      "application/x-ndjson", [work](size_t, httplib::DataSink& sink) {
        std::mutex mu;
        std::condition_variable cv;
        std::deque<std::string> lines;
        bool finished = false;
        std::thread worker([&] {
          nlohmann::json result = work([&](const std::string& resource, const std::string& msg) {
            std::lock_guard<std::mutex> l(mu);
            lines.push_back(
                nlohmann::json{{"event", "progress"}, {"resource", resource}, {"message", msg}}
                    .dump(-1, ' ', false, nlohmann::json::error_handler_t::replace) +
                "\n");
            cv.notify_all();
          });
          std::lock_guard<std::mutex> l(mu);
          lines.push_back(result.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace) + "\n");
          finished = true;
          cv.notify_all();
        });
        std::unique_lock<std::mutex> l(mu);
        bool client_gone = false;
        while (true) {
          cv.wait(l, [&] { return finished || !lines.empty(); });
          while (!lines.empty()) {
            std::string line = std::move(lines.front());
            lines.pop_front();
            l.unlock();
            // A client that went away does not stop the apply: it runs to the end.
            if (!client_gone && !sink.write(line.data(), line.size())) client_gone = true;
            l.lock();
          }
          if (finished && lines.empty()) break;
        }
        l.unlock();
        worker.join();
        sink.done();
        return true;
      });
}

// Who asked: informational only (history, lock holder); anything malformed becomes "unknown".
Requester RequesterFrom(const nlohmann::json& body, const std::string& command) {
  Requester who;
  who.user = who.host = "unknown";
  who.command = command;
  auto r = body.find("requester");
  if (r == body.end() || !r->is_object()) return who;
  if (auto p = r->find("pid"); p != r->end() && p->is_number_integer() &&
                               p->get<int64_t>() > 0 && p->get<int64_t>() < (1 << 30))
    who.pid = static_cast<int>(p->get<int64_t>());
  for (auto [key, field] : {std::pair{"user", &who.user}, std::pair{"host", &who.host}})
    if (auto v = r->find(key); v != r->end() && v->is_string() && v->get<std::string>().size() < 256)
      *field = v->get<std::string>();
  return who;
}

// A stack from a request body: decoded, then checked like a parsed stack file, because the
// body may come from anything that holds the token, not only from `steward`.
StatusOr<config::Stack> DecodeStack(const nlohmann::json& j) {
  auto stack = config::StackFromJson(j);
  if (!stack.ok()) return stack.status().Annotate("stack");
  auto diags = config::ValidateStack(*stack);
  if (diags.empty()) return stack;
  std::string msg = "invalid stack:";
  for (const auto& d : diags) msg += " " + d.message + ";";
  msg.pop_back();
  return InvalidArgument(msg);
}

}  // namespace

Status Daemon::StartHttp() {
  http_ = std::make_unique<Http>();
  auto& svr = http_->svr;
  // A worker per query the gate admits or queues, and kOtherWorkers more, so that queries never
  // occupy every worker: status, apply and down answer while the gate is full.
  const size_t workers = QueryQueueCap(opt_.query_max_concurrency) + kOtherWorkers;
  svr.new_task_queue = [workers] { return new httplib::ThreadPool(workers); };
  svr.set_payload_max_length(16 << 20);
  svr.set_read_timeout(30, 0);
  // Without it, Nagle's algorithm and the client's delayed ACK add ~40 ms to every answer on a
  // kept-alive connection (Grafana's, and the query benchmark's); Go's servers set it too.
  svr.set_tcp_nodelay(true);
  svr.set_pre_routing_handler([this](const httplib::Request& req, httplib::Response& res) {
    if (req.path.rfind("/api/", 0) != 0 && req.path.rfind("/-/", 0) != 0 &&
        req.path.rfind("/runbooks", 0) != 0)  // runbook pages show expressions and commands
      return httplib::Server::HandlerResponse::Unhandled;
    std::string auth = req.get_header_value("Authorization");
    const std::string prefix = "Bearer ";
    if (auth.rfind(prefix, 0) != 0 || !TokenMatches(auth.substr(prefix.size()), token_)) {
      // The path is not given to whoever asks without a token.
      JsonError(res, 401, "unauthorized",
                "missing or wrong bearer token; it is in api.token in the daemon's state "
                "directory (.steward/ beside the stack file)");
      http_requests_->WithLabels({RouteLabel(req.path), "401"}).Inc();
      return httplib::Server::HandlerResponse::Handled;
    }
    return httplib::Server::HandlerResponse::Unhandled;
  });
  svr.set_logger([this](const httplib::Request& req, const httplib::Response& res) {
    if (res.status != 401)
      http_requests_->WithLabels({RouteLabel(req.path), std::to_string(res.status)}).Inc();
  });
  InstallRoutes();
  bound_port_ = opt_.listen_port == 0 ? svr.bind_to_any_port(opt_.listen_host)
                                      : (svr.bind_to_port(opt_.listen_host, opt_.listen_port)
                                             ? opt_.listen_port
                                             : -1);
  if (bound_port_ < 0)
    return Unavailable("cannot listen on " + opt_.listen_host + ":" +
                       std::to_string(opt_.listen_port) +
                       " (in use?); choose another with --listen HOST:PORT (port 0 = any)");
  // Before the first request can arrive, so handlers read monitoring_ without a lock.
  RETURN_IF_ERROR(StartMonitoring());
  http_thread_ = std::thread([this] { http_->svr.listen_after_bind(); });
  return Status::OK();
}

void Daemon::StopHttp() {
  if (http_) http_->svr.stop();
  if (http_thread_.joinable()) http_thread_.join();
}

void Daemon::InstallRoutes() {
  auto& svr = http_->svr;
  InstallPrometheusRoutes(svr, this);
  InstallIncidentRoutes(svr, incidents_.get());
  InstallAlertRoutes(svr, this);
  InstallRunbookRoutes(svr, this);
  InstallPipelineRoutes(svr, this);
  InstallBackupRoutes(svr, this);
  InstallDeployRoutes(svr, deploys_.get());
  svr.Get("/healthz", [](const httplib::Request&, httplib::Response& res) {
    res.set_content("ok\n", "text/plain");
  });
  svr.Get("/metrics", [this](const httplib::Request&, httplib::Response& res) {
    res.set_content(metrics_.Render(), metrics::kContentType);
  });
  svr.Get("/api/v1/status", [this](const httplib::Request&, httplib::Response& res) {
    res.set_content(StatusJson().dump(-1, ' ', false, nlohmann::json::error_handler_t::replace) + "\n", "application/json");
  });
  svr.Get("/api/v1/services", [this](const httplib::Request&, httplib::Response& res) {
    res.set_content(StatusJson()["services"].dump(-1, ' ', false, nlohmann::json::error_handler_t::replace) + "\n", "application/json");
  });
  svr.Get("/api/v1/replicas", [this](const httplib::Request&, httplib::Response& res) {
    res.set_content(StatusJson()["replicas"].dump(-1, ' ', false, nlohmann::json::error_handler_t::replace) + "\n", "application/json");
  });
  svr.Get("/api/v1/history", [this](const httplib::Request& req, httplib::Response& res) {
    int limit = 20;
    if (req.has_param("limit")) limit = std::atoi(req.get_param_value("limit").c_str());
    if (limit <= 0 || limit > 10000)
      return JsonError(res, 400, "bad_data", "limit must be between 1 and 10000");
    auto h = store_->ListHistory(limit);
    if (!h.ok()) return JsonError(res, 500, "internal", h.status().message());
    nlohmann::json out = HistoryJson(*h);
    res.set_content(out.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace) + "\n", "application/json");
  });
  auto parse_body = [](const httplib::Request& req, httplib::Response& res,
                       nlohmann::json* body) {
    *body = nlohmann::json::parse(req.body.empty() ? "{}" : req.body, nullptr, false);
    if (body->is_discarded() || !body->is_object()) {
      JsonError(res, 400, "bad_data", "request body must be a JSON object");
      return false;
    }
    return true;
  };
  svr.Post("/api/v1/plan", [this, parse_body](const httplib::Request& req,
                                              httplib::Response& res) {
    nlohmann::json body;
    if (!parse_body(req, res, &body)) return;
    if (!body.contains("stack"))
      return JsonError(res, 400, "bad_data", "missing 'stack' (the parsed stack as JSON)");
    auto stack = DecodeStack(body["stack"]);
    if (!stack.ok()) return JsonError(res, 400, "bad_data", stack.status().message());
    auto p = Plan(&*stack);
    if (!p.ok()) return JsonError(res, HttpCodeFor(p.status()), "execution", p.status().message());
    res.set_content(plan::RenderPlanJson(*p).dump(-1, ' ', false, nlohmann::json::error_handler_t::replace) + "\n", "application/json");
  });
  auto apply_route = [this, parse_body](bool destroy) {
    return [this, parse_body, destroy](const httplib::Request& req, httplib::Response& res) {
      nlohmann::json body;
      if (!parse_body(req, res, &body)) return;
      std::optional<config::Stack> stack;
      if (!destroy) {
        if (!body.contains("stack"))
          return JsonError(res, 400, "bad_data", "missing 'stack' (the parsed stack as JSON)");
        auto parsed = DecodeStack(body["stack"]);
        if (!parsed.ok()) return JsonError(res, 400, "bad_data", parsed.status().message());
        stack = std::move(*parsed);
      }
      Requester who = RequesterFrom(body, destroy ? "destroy" : "apply");
      auto lt = body.find("lock_timeout_ms");
      if (lt != body.end() && (!lt->is_number_integer() || lt->get<int64_t>() < 0 ||
                               lt->get<int64_t>() > 24 * 3600 * 1000))
        return JsonError(res, 400, "bad_data",
                         "'lock_timeout_ms' must be an integer between 0 and 86400000");
      Duration lock_timeout(lt == body.end() ? 0 : lt->get<int64_t>());
      StreamNdjson(res, [this, stack, who, lock_timeout](const apply::ProgressFn& progress) {
        auto rep = Apply(stack ? &*stack : nullptr, who, lock_timeout, progress);
        if (!rep.ok())
          return nlohmann::json{{"event", "result"},
                                {"ok", false},
                                {"code", std::string(StatusCodeName(rep.status().code()))},
                                {"error", rep.status().message()}};
        return nlohmann::json{{"event", "result"}, {"ok", rep->ok()}, {"report", rep->ToJson()}};
      });
    };
  };
  svr.Post("/api/v1/apply", apply_route(false));
  svr.Post("/api/v1/destroy", apply_route(true));
  svr.Post("/api/v1/down", [this](const httplib::Request&, httplib::Response& res) {
    Status st = StopAllReplicas();
    if (!st.ok()) return JsonError(res, HttpCodeFor(st), "execution", st.message());
    res.set_content(nlohmann::json{{"status", "success"}, {"stopped", true}}.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace) + "\n",
                    "application/json");
    // Exit after the response has gone out.
    std::thread([this] { Shutdown(); }).detach();
  });
}

}  // namespace steward::server
