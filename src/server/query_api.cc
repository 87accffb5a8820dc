// The PromQL query API with Prometheus 2.42's parameters, checks, error messages and JSON shapes:
// /api/v1/query, /api/v1/query_range, /api/v1/format_query, plus what Grafana's Prometheus data
// source asks for besides (status/buildinfo, metadata, query_exemplars, rules, alerts — metadata
// and exemplars empty until Steward stores them) and /-/reload for the rule files.
//
// Results are written straight into the response text (not through a JSON tree): a 24 h range
// query over thousands of series is millions of points, and their encoding is on the latency
// path the benchmark measures.
#include <httplib.h>

#include <charconv>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <limits>
#include <string>

#include "promql/engine.h"
#include "promql/parser.h"
#include "server/alerting.h"
#include "server/http_internal.h"
#include "server/prom_internal.h"

namespace steward::server {
namespace {

using Clock = std::chrono::steady_clock;

// ---------------------------------------------------------------- parameters

std::string Param(const httplib::Request& req, const char* name) {
  return req.has_param(name) ? req.get_param_value(name) : std::string();
}

std::string InvalidParam(const char* name, const std::string& why) {
  return "invalid parameter \"" + std::string(name) + "\": " + why;
}

// Prometheus' parseDuration: float seconds ("15", "0.5", "1e3") or a duration ("1m30s"), in ns.
StatusOr<int64_t> ParseDurationNs(const std::string& s) {
  if (!s.empty()) {
    if (auto secs = promql::ParseGoFloat(s); secs.ok()) {
      double ns = *secs * 1e9;
      if (std::isnan(ns)) return std::numeric_limits<int64_t>::min();  // as Go converts NaN
      if (ns > 9.2e18 || ns < -9.2e18)
        return InvalidArgument("cannot parse \"" + s +
                               "\" to a valid duration. It overflows int64");
      return static_cast<int64_t>(ns);
    }
    auto ms = promql::ParseDurationMillis(s);
    if (ms.ok()) {
      if (*ms > std::numeric_limits<int64_t>::max() / 1'000'000)
        return InvalidArgument("cannot parse \"" + s +
                               "\" to a valid duration. It overflows int64");
      return *ms * 1'000'000;
    }
  }
  return InvalidArgument("cannot parse \"" + s + "\" to a valid duration");
}

// The deadline: the daemon's --query.timeout, shortened by a `timeout` parameter.
StatusOr<Clock::time_point> Deadline(Daemon* daemon, const httplib::Request& req,
                                     Clock::time_point t0) {
  int64_t ms = daemon->options().query_timeout.count();
  std::string to = Param(req, "timeout");
  if (!to.empty()) {
    auto ns = ParseDurationNs(to);
    if (!ns.ok()) return InvalidArgument(InvalidParam("timeout", ns.status().message()));
    ms = std::min(ms, *ns / 1'000'000);
  }
  if (ms <= 0) return t0;  // already expired, as a context with a non-positive timeout is
  return t0 + std::chrono::milliseconds(ms);
}

// Prometheus' parseTimeParam (query's time, exemplars' start and end): its error names the
// parameter once more inside the message.
StatusOr<int64_t> TimeParam(const httplib::Request& req, const char* name, int64_t dflt) {
  std::string v = Param(req, name);
  if (v.empty()) return dflt;
  auto t = ParsePromTime(v);
  if (!t.ok()) {
    return InvalidArgument(InvalidParam(
        name, "Invalid time value for '" + std::string(name) + "': " + t.status().message()));
  }
  return *t;
}

// ---------------------------------------------------------------- JSON output

void AppendInt(std::string* o, int64_t v) {
  char buf[24];
  auto r = std::to_chars(buf, buf + sizeof buf, v);
  o->append(buf, r.ptr);
}

// Prometheus' MarshalTimestamp: seconds, then up to 3 digits of milliseconds when non-zero.
void AppendTime(std::string* o, int64_t t) {
  if (t < 0) {
    o->push_back('-');
    t = -t;
  }
  AppendInt(o, t / 1000);
  int frac = static_cast<int>(t % 1000);
  if (frac != 0) {
    char buf[5] = {'.', static_cast<char>('0' + frac / 100),
                   static_cast<char>('0' + frac / 10 % 10), static_cast<char>('0' + frac % 10), 0};
    o->append(buf, 4);
  }
}

// PromValue without a temporary string: this runs once per point.
void AppendValue(std::string* o, double v) {
  if (!std::isfinite(v)) {
    o->append(std::isnan(v) ? "\"NaN\"" : v > 0 ? "\"+Inf\"" : "\"-Inf\"");
    return;
  }
  char buf[48];
  buf[0] = '"';
  char* end = FormatFiniteValue(buf + 1, buf + sizeof buf - 1, v);
  *end = '"';
  o->append(buf, end + 1);
}

// A JSON string; control characters escaped, invalid UTF-8 replaced by U+FFFD.
void AppendString(std::string* o, std::string_view s) {
  bool plain = true;
  for (unsigned char c : s) plain &= c >= 0x20 && c < 0x80 && c != '"' && c != '\\';
  if (plain) {
    o->push_back('"');
    o->append(s);
    o->push_back('"');
    return;
  }
  o->append(nlohmann::json(std::string(s))
                .dump(-1, ' ', false, nlohmann::json::error_handler_t::replace));
}

void AppendLabels(std::string* o, const tsdb::Labels& labels) {
  o->push_back('{');
  bool first = true;
  for (const auto& l : labels.items()) {
    if (!first) o->push_back(',');
    first = false;
    AppendString(o, l.name);
    o->push_back(':');
    AppendString(o, l.value);
  }
  o->push_back('}');
}

void AppendPoint(std::string* o, int64_t t, double v) {
  o->push_back('[');
  AppendTime(o, t);
  o->push_back(',');
  AppendValue(o, v);
  o->push_back(']');
}

void AppendMatrix(std::string* o, const promql::Matrix& m) {
  size_t points = 0;
  for (const auto& s : m) points += s.points.size();
  o->reserve(o->size() + points * 28 + m.size() * 96);
  o->push_back('[');
  for (size_t i = 0; i < m.size(); ++i) {
    if (i) o->push_back(',');
    o->append("{\"metric\":");
    AppendLabels(o, m[i].metric);
    o->append(",\"values\":[");
    for (size_t k = 0; k < m[i].points.size(); ++k) {
      if (k) o->push_back(',');
      AppendPoint(o, m[i].points[k].t, m[i].points[k].v);
    }
    o->append("]}");
  }
  o->push_back(']');
}

void AppendResult(std::string* o, const promql::Value& v) {
  o->append("\"resultType\":\"");
  if (auto* s = std::get_if<promql::Scalar>(&v)) {
    o->append("scalar\",\"result\":");
    AppendPoint(o, s->t, s->v);
  } else if (auto* str = std::get_if<promql::String>(&v)) {
    o->append("string\",\"result\":[");
    AppendTime(o, str->t);
    o->push_back(',');
    AppendString(o, str->v);
    o->push_back(']');
  } else if (auto* vec = std::get_if<promql::Vector>(&v)) {
    o->append("vector\",\"result\":[");
    for (size_t i = 0; i < vec->size(); ++i) {
      if (i) o->push_back(',');
      o->append("{\"metric\":");
      AppendLabels(o, (*vec)[i].metric);
      o->append(",\"value\":");
      AppendPoint(o, (*vec)[i].t, (*vec)[i].v);
      o->push_back('}');
    }
    o->push_back(']');
  } else {
    o->append("matrix\",\"result\":");
    AppendMatrix(o, std::get<promql::Matrix>(v));
  }
}

double Seconds(Clock::duration d) { return std::chrono::duration<double>(d).count(); }

// Prometheus' stats object (stats=<anything>): timings and the sample counts.
void AppendStats(std::string* o, const promql::QueryStats& st, Clock::duration prepare,
                 Clock::duration eval) {
  nlohmann::json j = {
      {"timings",
       {{"evalTotalTime", Seconds(prepare + eval)},
        {"resultSortTime", 0.0},
        {"queryPreparationTime", Seconds(prepare)},
        {"innerEvalTime", Seconds(eval)},
        {"execQueueTime", 0.0},
        {"execTotalTime", Seconds(prepare + eval)}}},
      {"samples",
       {{"totalQueryableSamples", st.samples_loaded}, {"peakSamples", st.peak_samples}}}};
  o->append(",\"stats\":");
  o->append(j.dump());
}

// ---------------------------------------------------------------- errors

// engine.h's codes → Prometheus' error types and HTTP codes (returnAPIError, respondError).
void EngineError(httplib::Response& res, const Status& st) {
  switch (st.code()) {
    case StatusCode::kInvalidArgument:
      return PromError(res, 400, "bad_data", st.message());
    case StatusCode::kFailedPrecondition:
      return PromError(res, 422, "execution", st.message());
    case StatusCode::kDeadlineExceeded:
      return PromError(res, 503, "timeout", st.message());
    case StatusCode::kAborted:
      return PromError(res, 503, "canceled", st.message());
    case StatusCode::kUnavailable:
      return PromError(res, 503, "unavailable", st.message());
    default:
      return PromError(res, 500, "internal", st.message());
  }
}

// ---------------------------------------------------------------- handlers

struct Evaluation {
  promql::Value value;
  promql::QueryStats stats;
  Clock::duration prepare{}, eval{};
};

void Respond(httplib::Response& res, const httplib::Request& req, const Evaluation& e) {
  std::string out;
  out.reserve(4096);
  out.append("{\"status\":\"success\",\"data\":{");
  AppendResult(&out, e.value);
  if (!Param(req, "stats").empty()) AppendStats(&out, e.stats, e.prepare, e.eval);
  out.append("}}\n");
  res.set_content(std::move(out), "application/json");
}

promql::QueryLimits Limits(Daemon* daemon, Clock::time_point deadline) {
  promql::QueryLimits limits;
  limits.max_samples = daemon->options().query_max_samples;
  limits.deadline = deadline;
  limits.cancel = daemon->query_gate()->cancel();
  return limits;
}

void HandleQuery(Daemon* daemon, Monitoring* mon, const httplib::Request& req,
                 httplib::Response& res) {
  const Clock::time_point t0 = Clock::now();
  auto t = TimeParam(req, "time", ToUnixMillis(RealClock::Get()->WallNow()));
  if (!t.ok()) return PromError(res, 400, "bad_data", t.status().message());
  auto deadline = Deadline(daemon, req, t0);
  if (!deadline.ok()) return PromError(res, 400, "bad_data", deadline.status().message());
  auto expr = promql::ParseExpr(Param(req, "query"));
  if (!expr.ok())
    return PromError(res, 400, "bad_data", InvalidParam("query", expr.status().message()));
  auto slot = daemon->query_gate()->Enter(*deadline);  // queued like Prometheus' engine
  if (!slot.ok()) return EngineError(res, slot.status());
  Evaluation e;
  const Clock::time_point t1 = Clock::now();
  auto querier = mon->db()->NewQuerier();
  auto v = promql::Engine().Instant(querier.get(), **expr, *t, Limits(daemon, *deadline), &e.stats);
  if (!v.ok()) return EngineError(res, v.status());
  e.prepare = t1 - t0;
  e.eval = Clock::now() - t1;
  e.value = std::move(v).value();
  Respond(res, req, e);
}

void HandleQueryRange(Daemon* daemon, Monitoring* mon, const httplib::Request& req,
                      httplib::Response& res) {
  const Clock::time_point t0 = Clock::now();
  auto start = ParsePromTime(Param(req, "start"));
  if (!start.ok())
    return PromError(res, 400, "bad_data", InvalidParam("start", start.status().message()));
  auto end = ParsePromTime(Param(req, "end"));
  if (!end.ok())
    return PromError(res, 400, "bad_data", InvalidParam("end", end.status().message()));
  if (*end < *start)
    return PromError(res, 400, "bad_data",
                     InvalidParam("end", "end timestamp must not be before start time"));
  auto step = ParseDurationNs(Param(req, "step"));
  if (!step.ok())
    return PromError(res, 400, "bad_data", InvalidParam("step", step.status().message()));
  if (*step <= 0)
    return PromError(res, 400, "bad_data",
                     InvalidParam("step",
                                  "zero or negative query resolution step widths are not "
                                  "accepted. Try a positive integer"));
  // For safety, as Prometheus: at most 11,000 points per series (60 s steps for a week).
  // Go divides the durations in ns as integers; 128 bits hold any range in ns.
  if (static_cast<__int128>(*end - *start) * 1'000'000 / *step > 11000)
    return PromError(res, 400, "bad_data",
                     "exceeded maximum resolution of 11,000 points per timeseries. Try decreasing "
                     "the query resolution (?step=XX)");
  auto deadline = Deadline(daemon, req, t0);
  if (!deadline.ok()) return PromError(res, 400, "bad_data", deadline.status().message());
  auto expr = promql::ParseExpr(Param(req, "query"));
  if (!expr.ok()) return PromError(res, 400, "bad_data", expr.status().message());
  auto slot = daemon->query_gate()->Enter(*deadline);
  if (!slot.ok()) return EngineError(res, slot.status());
  Evaluation e;
  const Clock::time_point t1 = Clock::now();
  auto querier = mon->db()->NewQuerier();
  int64_t step_ms = std::max<int64_t>(1, *step / 1'000'000);
  auto m = promql::Engine().Range(querier.get(), **expr, *start, *end, step_ms,
                                  Limits(daemon, *deadline), &e.stats);
  if (!m.ok()) return EngineError(res, m.status());
  e.prepare = t1 - t0;
  e.eval = Clock::now() - t1;
  e.value = std::move(m).value();
  Respond(res, req, e);
}

void HandleFormatQuery(const httplib::Request& req, httplib::Response& res) {
  auto expr = promql::ParseExpr(Param(req, "query"));
  if (!expr.ok())
    return PromError(res, 400, "bad_data", InvalidParam("query", expr.status().message()));
  PromSuccess(res, (*expr)->ToString());
}

// No exemplars are stored: the checks of Prometheus' endpoint, then an empty list.
void HandleExemplars(const httplib::Request& req, httplib::Response& res) {
  constexpr int64_t kMin = std::numeric_limits<int64_t>::min() / 2;
  constexpr int64_t kMax = std::numeric_limits<int64_t>::max() / 2;
  auto start = TimeParam(req, "start", kMin);
  if (!start.ok()) return PromError(res, 400, "bad_data", start.status().message());
  auto end = TimeParam(req, "end", kMax);
  if (!end.ok()) return PromError(res, 400, "bad_data", end.status().message());
  if (*end < *start)
    return PromError(res, 400, "bad_data", "end timestamp must not be before start timestamp");
  auto expr = promql::ParseExpr(Param(req, "query"));
  if (!expr.ok()) return PromError(res, 400, "bad_data", expr.status().message());
  PromSuccess(res, nlohmann::json::array());
}

}  // namespace

void InstallQueryRoutes(httplib::Server& svr, Daemon* daemon) {
  auto with = [daemon](auto handler) {
    return WithMonitoring(
        daemon, [daemon, handler](Monitoring* mon, const httplib::Request& req,
                                  httplib::Response& res) { handler(daemon, mon, req, res); });
  };
  RouteGetPost(svr, "/api/v1/query", with(HandleQuery));
  RouteGetPost(svr, "/api/v1/query_range", with(HandleQueryRange));
  RouteGetPost(svr, "/api/v1/format_query", HandleFormatQuery);
  RouteGetPost(svr, "/api/v1/query_exemplars", HandleExemplars);
  // Grafana reads the version to pick its Prometheus dialect; without "features" it takes this
  // for Prometheus itself. Steward answers as the 2.42 it is compatible with.
  svr.Get("/api/v1/status/buildinfo", [](const httplib::Request&, httplib::Response& res) {
    PromSuccess(res, {{"version", "2.42.0"},
                      {"revision", "steward-0.1.0"},
                      {"branch", "steward"},
                      {"buildUser", "steward"},
                      {"buildDate", ""},
                      {"goVersion", "none (steward 0.1.0, C++)"}});
  });
  svr.Get("/api/v1/metadata", [](const httplib::Request& req, httplib::Response& res) {
    std::string limit = Param(req, "limit");
    if (!limit.empty() && limit.find_first_not_of("-0123456789") != std::string::npos)
      return PromError(res, 400, "bad_data", "limit must be a number");
    PromSuccess(res, nlohmann::json::object());
  });
  svr.Get("/api/v1/rules", [daemon](const httplib::Request& req, httplib::Response& res) {
    std::string type = Param(req, "type");
    if (!type.empty() && type != "alert" && type != "record")
      return PromError(res, 400, "bad_data", "invalid type " + type + ": use alert or record");
    AlertingService* a = daemon->alerting();
    PromSuccess(res, a ? a->RulesJson(type) : nlohmann::json{{"groups", nlohmann::json::array()}});
  });
  svr.Get("/api/v1/alerts", [daemon](const httplib::Request&, httplib::Response& res) {
    AlertingService* a = daemon->alerting();
    PromSuccess(res, a ? a->AlertsJson() : nlohmann::json{{"alerts", nlohmann::json::array()}});
  });
  svr.Get("/api/v1/slos", [daemon](const httplib::Request&, httplib::Response& res) {
    AlertingService* a = daemon->alerting();
    if (!a) return PromError(res, 503, "unavailable", "SLOs need monitoring, which is off");
    auto stack = daemon->RecordedStackForApi();
    if (!stack.ok()) return PromError(res, 500, "internal", stack.status().message());
    PromSuccess(res, a->SlosJson(stack->slos));
  });
  // Prometheus' lifecycle endpoint: re-read the rule files; a broken set leaves the old running.
  svr.Post("/-/reload", [daemon](const httplib::Request&, httplib::Response& res) {
    Status st = daemon->ReloadRules();
    if (!st.ok()) {
      res.status = 500;
      res.set_content(st.message() + "\n", "text/plain");
      return;
    }
    res.set_content("rules reloaded\n", "text/plain");
  });
}

}  // namespace steward::server
