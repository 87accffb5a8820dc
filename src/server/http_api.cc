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
#include "server/audit.h"
#include "server/auth.h"
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

// What the access check learned about the request a worker thread is serving, for the audit
// record the logger writes once the answer is out. A worker serves one request at a time from
// pre-routing to the logger, so a thread-local carries it; the logger resets it, so a request
// that never reached pre-routing (a malformed one) is recorded without a stale actor.
struct CallContext {
  bool active = false;
  MonoTime start{};
  std::string actor = "-";
  std::string scope = "-";
  std::string stream_error;  // set when a streamed apply or destroy ended in failure
};
thread_local CallContext t_call;

// Paths behind the token: the API, the admin endpoints and the runbook pages (they show
// expressions and commands).
bool NeedsToken(const std::string& path) {
  return path.rfind("/api/", 0) == 0 || path.rfind("/-/", 0) == 0 ||
         path.rfind("/runbooks", 0) == 0;
}

// The "error" of a JSON error body, for the audit record's result; "" when there is none.
std::string ErrorOf(const httplib::Response& res) {
  if (res.body.empty() || res.body.size() > 64 * 1024) return "";
  auto j = nlohmann::json::parse(res.body, nullptr, false);
  if (j.is_object() && j.contains("error") && j["error"].is_string())
    return j["error"].get<std::string>();
  if (j.is_string()) return j.get<std::string>();  // Alertmanager's v2 errors
  return "";
}

int64_t MillisSince(MonoTime start) {
  return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() -
                                                               start)
      .count();
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
        std::string outcome;  // the failure the result line reports, for the audit record
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
          if (!result.value("ok", false))
            outcome = result.contains("error") && result["error"].is_string()
                          ? result["error"].get<std::string>()
                          : "some resources failed";
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
        t_call.stream_error = outcome;  // this is the request's own worker thread
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

namespace {

// CORS, the failed-auth limit, the token and its scope, in that order. False when `res` is
// already the answer (204 preflight, 401, 403, 429); records who asked in t_call.
bool CheckAccess(TokenAuthenticator& auth, FailureLimiter& failures, const CorsPolicy& cors,
                 const httplib::Request& req, httplib::Response& res) {
  const std::string allow = cors.AllowOrigin(req.get_header_value("Origin"));
  if (!allow.empty()) {
    res.set_header("Access-Control-Allow-Origin", allow);
    res.set_header("Vary", "Origin");
  }
  if (req.method == "OPTIONS") {
    // A browser's preflight: answered here, before any route, and only for allowed origins.
    if (allow.empty()) {
      JsonError(res, 403, "forbidden",
                "cross-origin requests are not allowed: CORS is off unless the daemon is "
                "started with --cors-origin ORIGIN for this origin");
      return false;
    }
    res.status = 204;
    res.set_header("Access-Control-Allow-Methods", "GET, HEAD, POST, DELETE");
    res.set_header("Access-Control-Allow-Headers", "Authorization, Content-Type");
    res.set_header("Access-Control-Max-Age", "600");
    return false;
  }
  if (!NeedsToken(req.path)) return true;
  const bool limited = !ExemptFromFailureLimit(req.remote_addr);
  if (Duration wait = limited ? failures.Blocked(req.remote_addr) : Duration(0);
      wait.count() > 0) {
    const int64_t secs = (wait.count() + 999) / 1000;
    res.set_header("Retry-After", std::to_string(secs));
    JsonError(res, 429, "too_many_requests",
              "too many failed authentications from " + req.remote_addr + "; retry in " +
                  std::to_string(secs) + " s with a valid token");
    return false;
  }
  const std::string header = req.get_header_value("Authorization");
  const std::string prefix = "Bearer ";
  std::optional<Principal> who;
  if (header.rfind(prefix, 0) == 0) who = auth.Authenticate(header.substr(prefix.size()));
  if (!who) {
    if (limited) failures.RecordFailure(req.remote_addr);
    res.set_header("WWW-Authenticate", "Bearer");
    // Neither the path's content nor the token sent is given back to whoever asks without one.
    JsonError(res, 401, "unauthorized",
              "missing or unknown bearer token; the admin token is in api.token in the daemon's "
              "state directory (.steward/ beside the stack file), others are made with "
              "`steward token create`");
    return false;
  }
  t_call.actor = who->name;
  t_call.scope = std::string(ScopeName(who->scope));
  const Scope need = RequiredScope(req.method, req.path);
  if (!ScopeAllows(who->scope, need)) {
    res.status = 403;
    res.set_content(
        nlohmann::json{{"status", "error"},
                       {"errorType", "forbidden"},
                       {"required_scope", ScopeName(need)},
                       {"error", req.method + " " + req.path + " needs a token with scope " +
                                     std::string(ScopeName(need)) +
                                     (need == Scope::kAdmin ? "" : " or higher") + "; token '" +
                                     who->name + "' has scope " + t_call.scope}}
                .dump(-1, ' ', false, nlohmann::json::error_handler_t::replace) +
            "\n",
        "application/json");
    return false;
  }
  return true;
}

}  // namespace

Status Daemon::StartHttp() {
  http_ = std::make_unique<Http>();
  if (!opt_.tls_cert.empty()) {
    auto ssl = std::make_unique<httplib::SSLServer>(opt_.tls_cert.c_str(), opt_.tls_key.c_str());
    if (!ssl->is_valid()) {
      unsigned long e = ERR_get_error();
      char why[256] = "unknown error";
      if (e != 0) ERR_error_string_n(e, why, sizeof why);
      return InvalidArgument("cannot serve TLS with certificate " + opt_.tls_cert + " and key " +
                             opt_.tls_key + " (" + why +
                             "); give a PEM certificate (chain) and its unencrypted PEM key");
    }
    SSL_CTX_set_min_proto_version(ssl->ssl_context(), TLS1_2_VERSION);
    http_->server = std::move(ssl);
  } else {
    http_->server = std::make_unique<httplib::Server>();
  }
  http_->auth = std::make_unique<TokenAuthenticator>(token_, store_.get(), RealClock::Get());
  http_->failures = std::make_unique<FailureLimiter>(
      FailureLimiter::Options{opt_.auth_max_failures, opt_.auth_failure_window, opt_.auth_block,
                              4096},
      RealClock::Get());
  http_->cors.origins = opt_.cors_origins;
  auto& svr = http_->svr();
  // A worker per query the gate admits or queues, and kOtherWorkers more, so that queries never
  // occupy every worker: status, apply and down answer while the gate is full.
  const size_t workers = QueryQueueCap(opt_.query_max_concurrency) + kOtherWorkers;
  svr.new_task_queue = [workers] { return new httplib::ThreadPool(workers); };
  svr.set_payload_max_length(static_cast<size_t>(opt_.max_body_bytes));
  auto seconds = [](Duration d) { return static_cast<time_t>(d.count() / 1000); };
  auto micros = [](Duration d) { return static_cast<time_t>((d.count() % 1000) * 1000); };
  svr.set_read_timeout(seconds(opt_.read_timeout), micros(opt_.read_timeout));
  svr.set_write_timeout(seconds(opt_.write_timeout), micros(opt_.write_timeout));
  // Without it, Nagle's algorithm and the client's delayed ACK add ~40 ms to every answer on a
  // kept-alive connection (Grafana's, and the query benchmark's); Go's servers set it too.
  svr.set_tcp_nodelay(true);
  svr.set_pre_routing_handler([this](const httplib::Request& req, httplib::Response& res) {
    t_call = CallContext{true, std::chrono::steady_clock::now(), "-", "-", ""};
    return CheckAccess(*http_->auth, *http_->failures, http_->cors, req, res)
               ? httplib::Server::HandlerResponse::Unhandled
               : httplib::Server::HandlerResponse::Handled;
  });
  svr.set_error_handler(httplib::Server::HandlerWithResponse(
      [this](const httplib::Request&, httplib::Response& res) {
    // httplib refuses an oversized body itself, with an empty answer: say why, as JSON.
    if (res.status != 413 || !res.body.empty()) return httplib::Server::HandlerResponse::Unhandled;
    JsonError(res, 413, "too_large",
              "the request body is larger than the daemon accepts (" +
                  std::to_string(opt_.max_body_bytes) +
                  " bytes; `steward serve --max-body-size` raises it)");
    return httplib::Server::HandlerResponse::Handled;
  }));
  svr.set_logger([this](const httplib::Request& req, const httplib::Response& res) {
    CallContext call = std::exchange(t_call, CallContext{});
    http_requests_->WithLabels({RouteLabel(req.path), std::to_string(res.status)}).Inc();
    if (!(NeedsToken(req.path) || req.path.rfind("/hooks/", 0) == 0) ||
        !AuditedCall(req.method, req.path, res.status))
      return;
    state::AuditRecord rec;
    rec.actor = call.actor;
    rec.scope = call.scope;
    if (req.path.rfind("/hooks/", 0) == 0 && rec.actor == "-") rec.actor = "webhook";
    rec.remote = req.remote_addr;
    rec.method = req.method;
    rec.path = req.path.substr(0, 512);  // httplib keeps the query string apart already
    rec.status = res.status;
    rec.result = !call.stream_error.empty() && res.status < 400
                     ? AuditResult(500, call.stream_error)
                     : AuditResult(res.status, ErrorOf(res));
    rec.duration_ms = call.active ? MillisSince(call.start) : 0;
    WriteAudit(store_.get(), rec);
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
  http_thread_ = std::thread([this] { http_->svr().listen_after_bind(); });
  return Status::OK();
}

void Daemon::StopHttp() {
  if (http_ && http_->server) http_->server->stop();
  if (http_thread_.joinable()) http_thread_.join();
}

void Daemon::InstallRoutes() {
  auto& svr = http_->svr();
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
