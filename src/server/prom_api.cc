// The Prometheus-compatible read API: /api/v1/series, /api/v1/labels,
// /api/v1/label/<name>/values and /api/v1/targets, with Prometheus' parameters (GET query or
// POST form; match[] selectors; start/end as RFC 3339 or Unix seconds) and JSON shapes, so that
// Grafana and Prometheus' own tooling read Steward as they read Prometheus. Also
// /api/v1/monitors (Steward's own: the last result of each probe). PromQL queries are in
// query_api.cc.
#include <algorithm>
#include <cctype>
#include <charconv>
#include <cmath>
#include <limits>
#include <string>

#include <httplib.h>

#include "base/json.h"
#include "monitor/discovery.h"
#include "promql/parser.h"
#include "promql/selector.h"
#include "server/http_internal.h"
#include "server/daemon.h"
#include "server/monitoring.h"
#include "server/prom_internal.h"

namespace steward::server {
namespace {

constexpr int64_t kMinTime = std::numeric_limits<int64_t>::min() / 2;
constexpr int64_t kMaxTime = std::numeric_limits<int64_t>::max() / 2;

// Text from targets (reason phrases, label values) and from requests may not be UTF-8; it is
// replaced (U+FFFD) rather than failing the whole answer.
std::string SafeDump(const nlohmann::json& j) {
  return JsonText(j) + "\n";
}

}  // namespace

void PromError(httplib::Response& res, int code, const std::string& type, const std::string& msg) {
  res.status = code;
  res.set_content(SafeDump({{"status", "error"}, {"errorType", type}, {"error", msg}}),
                  "application/json");
}

void JsonAnswer(httplib::Response& res, const nlohmann::json& j, int code) {
  res.status = code;
  res.set_content(j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace) + "\n",
                  "application/json");
}

void StatusError(httplib::Response& res, const Status& st) {
  int code = 500;
  std::string type = "internal";
  switch (st.code()) {
    case StatusCode::kInvalidArgument: code = 400, type = "bad_data"; break;
    case StatusCode::kNotFound: code = 404, type = "not_found"; break;
    case StatusCode::kFailedPrecondition: code = 409, type = "conflict"; break;
    case StatusCode::kUnavailable: code = 503, type = "unavailable"; break;
    default: break;
  }
  PromError(res, code, type, st.message());
}

void PromSuccess(httplib::Response& res, nlohmann::json data) {
  res.set_content(SafeDump({{"status", "success"}, {"data", std::move(data)}}),
                  "application/json");
}

httplib::Server::Handler WithMonitoring(Daemon* daemon, PromHandler handler) {
  return [daemon, handler](const httplib::Request& req, httplib::Response& res) {
    Monitoring* mon = daemon->monitoring();
    if (!mon || !mon->db()) {
      const Status& why = daemon->monitoring_error();
      return PromError(res, 503, "unavailable",
                       why.ok() ? "monitoring is off in this daemon (started with --no-monitoring)"
                                : "monitoring is off in this daemon: its metrics store could not "
                                  "start (" + why.message() + "); fix that and restart it");
    }
    handler(mon, req, res);
  };
}

void RouteGetPost(httplib::Server& svr, const std::string& path, httplib::Server::Handler h) {
  svr.Get(path, h);
  svr.Post(path, [h](const httplib::Request& req, httplib::Response& res,
                     const httplib::ContentReader& reader) {
    std::string body;
    reader([&body](const char* data, size_t len) {
      body.append(data, len);
      return true;
    });
    httplib::Request form = req;
    if (req.get_header_value("Content-Type").rfind("application/x-www-form-urlencoded", 0) == 0) {
      // Body values first: they win over the URL's, as in Go's Request.FormValue.
      form.params.clear();
      httplib::detail::parse_query_text(body, form.params);
      form.params.insert(req.params.begin(), req.params.end());
    }
    form.body = std::move(body);
    h(form, res);
  });
}

// Prometheus' parseTime: Unix seconds with an optional fraction, or RFC 3339 (optional
// fractional seconds, then Z or ±hh:mm). Strict: anything else is an error naming the input.
StatusOr<int64_t> ParsePromTime(const std::string& s) {
  // Prometheus' words exactly (clients and the conformance suite compare them); what was wrong
  // in detail is not part of them.
  auto bad = [&s](const std::string&) {
    std::string shown = s.size() > 64 ? s.substr(0, 64) + "..." : s;
    return InvalidArgument("cannot parse \"" + shown + "\" to a valid timestamp");
  };
  if (s.empty()) return bad("empty");
  // Unix seconds as Go's ParseFloat reads them ("1.5", "1e3", "0x1p3", "1_000").
  if (auto parsed = promql::ParseGoFloat(s); parsed.ok()) {
    double secs = *parsed;
    if (!std::isfinite(secs) || std::fabs(secs) > 9.2e12) return bad("out of range");
    return static_cast<int64_t>(std::floor(secs * 1000.0 + 0.5));
  }
  // RFC 3339: YYYY-MM-DDTHH:MM:SS[.frac](Z|±hh:mm)
  auto num = [&s](size_t at, size_t n, int* out) {
    if (at + n > s.size()) return false;
    int v = 0;
    for (size_t k = at; k < at + n; ++k) {
      if (!std::isdigit(static_cast<unsigned char>(s[k]))) return false;
      v = v * 10 + (s[k] - '0');
    }
    *out = v;
    return true;
  };
  int y, mo, d, h, mi, sec;
  if (!num(0, 4, &y) || s.size() < 20 || s[4] != '-' || !num(5, 2, &mo) || s[7] != '-' ||
      !num(8, 2, &d) || (s[10] != 'T' && s[10] != 't') || !num(11, 2, &h) || s[13] != ':' ||
      !num(14, 2, &mi) || s[16] != ':' || !num(17, 2, &sec))
    return bad("want Unix seconds or RFC 3339");
  static constexpr int kDays[] = {31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  bool leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
  if (mo < 1 || mo > 12 || d < 1 || d > kDays[mo - 1] || (mo == 2 && d == 29 && !leap) ||
      h > 23 || mi > 59 || sec > 60)
    return bad("no such date or time");
  size_t at = 19;
  int64_t frac_ms = 0;
  if (at < s.size() && s[at] == '.') {
    size_t start = ++at;
    while (at < s.size() && std::isdigit(static_cast<unsigned char>(s[at]))) ++at;
    if (at == start) return bad("no digits after '.'");
    for (size_t k = start; k < start + 3; ++k)  // truncated to ms, as Prometheus does
      frac_ms = frac_ms * 10 + (k < at ? s[k] - '0' : 0);
  }
  int offset_min = 0;
  std::string zone = s.substr(at);
  int oh, om;
  if (zone == "Z" || zone == "z") {
    offset_min = 0;
  } else if (zone.size() == 6 && (zone[0] == '+' || zone[0] == '-') && zone[3] == ':' &&
             num(at + 1, 2, &oh) && num(at + 4, 2, &om) && oh < 24 && om < 60) {
    offset_min = (zone[0] == '-' ? -1 : 1) * (oh * 60 + om);
  } else {
    return bad("bad time zone \"" + zone.substr(0, 16) + "\" (want Z or ±hh:mm)");
  }
  // Days from civil (Howard Hinnant's algorithm).
  int yy = y - (mo <= 2);
  int era = (yy >= 0 ? yy : yy - 399) / 400;
  unsigned yoe = static_cast<unsigned>(yy - era * 400);
  unsigned doy = (153 * (mo + (mo > 2 ? -3 : 9)) + 2) / 5 + d - 1;
  unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  int64_t days = static_cast<int64_t>(era) * 146097 + static_cast<int64_t>(doe) - 719468;
  return ((days * 24 + h) * 60 + mi - offset_min) * 60000 + sec * 1000LL + frac_ms;
}

namespace {

struct Range {
  int64_t start = kMinTime;
  int64_t end = kMaxTime;
};

StatusOr<Range> ParseRange(const httplib::Request& req) {
  Range r;
  if (req.has_param("start") && !req.get_param_value("start").empty()) {
    auto t = ParsePromTime(req.get_param_value("start"));
    if (!t.ok()) return InvalidArgument("invalid parameter \"start\": " + t.status().message());
    r.start = *t;
  }
  if (req.has_param("end") && !req.get_param_value("end").empty()) {
    auto t = ParsePromTime(req.get_param_value("end"));
    if (!t.ok()) return InvalidArgument("invalid parameter \"end\": " + t.status().message());
    r.end = *t;
  }
  return r;  // end < start selects nothing, as in Prometheus' series and labels endpoints
}

// Every match[] selector; an empty list when none was given.
StatusOr<std::vector<std::vector<tsdb::Matcher>>> ParseMatches(const httplib::Request& req) {
  std::vector<std::vector<tsdb::Matcher>> out;
  size_t n = req.get_param_value_count("match[]");
  for (size_t i = 0; i < n; ++i) {
    std::string sel = req.get_param_value("match[]", i);
    auto ms = promql::ParseSeriesSelector(sel);
    if (!ms.ok()) return ms.status();  // Prometheus' series endpoint adds the parameter's name
    out.push_back(std::move(*ms));
  }
  return out;
}

nlohmann::json LabelsJson(const tsdb::Labels& labels) {
  nlohmann::json out = nlohmann::json::object();
  for (const auto& l : labels.items()) out[l.name] = l.value;
  return out;
}

// Prometheus' returnAPIError: bad input 400 bad_data, limits 422 execution, the rest 500.
int CodeFor(const Status& st) {
  switch (st.code()) {
    case StatusCode::kInvalidArgument: return 400;
    case StatusCode::kFailedPrecondition: return 422;
    case StatusCode::kDeadlineExceeded: return 503;
    default: return 500;
  }
}
std::string TypeFor(const Status& st) {
  switch (st.code()) {
    case StatusCode::kInvalidArgument: return "bad_data";
    case StatusCode::kFailedPrecondition: return "execution";
    case StatusCode::kDeadlineExceeded: return "timeout";
    default: return "internal";
  }
}

// A cap on what one /api/v1/series answer holds, so one request cannot exhaust the daemon
// that also supervises the services.
constexpr size_t kMaxSeriesPerRequest = 1'000'000;

void HandleSeries(Monitoring* mon, const httplib::Request& req, httplib::Response& res) {
  auto range = ParseRange(req);
  if (!range.ok()) return PromError(res, 400, "bad_data", range.status().message());
  auto matches = ParseMatches(req);
  if (!matches.ok())
    return PromError(res, 400, "bad_data", "invalid parameter \"match[]\": " +
                                               matches.status().message());
  if (matches->empty()) return PromError(res, 400, "bad_data", "no match[] parameter provided");
  auto q = mon->db()->NewQuerier();
  std::vector<tsdb::Labels> all;
  for (const auto& ms : *matches) {
    auto got = q->SeriesLabels(ms, range->start, range->end);
    if (!got.ok()) return PromError(res, CodeFor(got.status()), TypeFor(got.status()),
                                    got.status().message());
    all.insert(all.end(), got->begin(), got->end());
    if (all.size() > kMaxSeriesPerRequest)
      return PromError(res, 422, "execution",
                       "more than " + std::to_string(kMaxSeriesPerRequest) +
                           " series match; narrow the selector or the time range");
  }
  std::sort(all.begin(), all.end());
  all.erase(std::unique(all.begin(), all.end()), all.end());
  nlohmann::json data = nlohmann::json::array();
  for (const auto& l : all) data.push_back(LabelsJson(l));
  PromSuccess(res, std::move(data));
}

// Names (value_of empty) or the values of one label, across every match[] (or all series).
void HandleLabels(Monitoring* mon, const httplib::Request& req, httplib::Response& res,
                  const std::string& value_of) {
  auto range = ParseRange(req);
  if (!range.ok()) return PromError(res, 400, "bad_data", range.status().message());
  auto matches = ParseMatches(req);
  if (!matches.ok()) return PromError(res, 400, "bad_data", matches.status().message());
  if (matches->empty()) matches->push_back({});
  auto q = mon->db()->NewQuerier();
  std::vector<std::string> all;
  for (const auto& ms : *matches) {
    auto got = value_of.empty() ? q->LabelNames(ms, range->start, range->end)
                                : q->LabelValues(value_of, ms, range->start, range->end);
    if (!got.ok()) return PromError(res, CodeFor(got.status()), TypeFor(got.status()),
                                    got.status().message());
    all.insert(all.end(), got->begin(), got->end());
  }
  std::sort(all.begin(), all.end());
  all.erase(std::unique(all.begin(), all.end()), all.end());
  PromSuccess(res, all);
}

nlohmann::json TargetJson(const monitor::TargetHealth& t) {
  return {{"discoveredLabels", LabelsJson(t.spec.discovered)},
          {"labels", LabelsJson(t.spec.labels)},
          {"scrapePool", t.spec.job},
          {"scrapeUrl", t.spec.url},
          {"globalUrl", t.spec.url},
          {"lastError", t.last_error},
          {"lastScrape", t.health == "unknown" ? "0001-01-01T00:00:00Z"
                                               : FormatRfc3339Millis(t.last_scrape)},
          {"lastScrapeDuration", t.last_scrape_duration_seconds},
          {"lastSamples", t.last_samples},
          {"health", t.health},
          {"scrapeInterval", monitor::PrometheusDuration(t.spec.interval)},
          {"scrapeTimeout", monitor::PrometheusDuration(t.spec.timeout)}};
}

void HandleTargets(Monitoring* mon, const httplib::Request& req, httplib::Response& res) {
  // As Prometheus: case-insensitive; an unknown state lists nothing.
  std::string state = req.has_param("state") ? req.get_param_value("state") : "";
  for (char& c : state) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  nlohmann::json active = nlohmann::json::array();
  if (state.empty() || state == "any" || state == "active")
    for (const auto& t : mon->Targets()) active.push_back(TargetJson(t));
  nlohmann::json data = {{"activeTargets", active},
                         {"droppedTargets", nlohmann::json::array()}};
  if (auto errors = mon->DiscoveryErrors(); !errors.empty()) data["discoveryErrors"] = errors;
  PromSuccess(res, std::move(data));
}

// Cuts the whole head into a block now (Prometheus' admin snapshot does the same for its
// copy); for benchmarks and before a backup. Answers with the storage statistics after it.
void HandleFlush(Monitoring* mon, const httplib::Request& req, httplib::Response& res) {
  Status st = mon->db()->FlushHead();
  if (!st.ok()) return PromError(res, 500, "internal", st.message());
  // compact=true: also the pass the store runs every minute (merging blocks, retention), now.
  if (req.get_param_value("compact") == "true") st = mon->db()->Compact();
  if (!st.ok()) return PromError(res, 500, "internal", st.message());
  tsdb::Stats s = mon->db()->GetStats();
  PromSuccess(res, {{"blocks", s.blocks},
                    {"block_bytes", s.block_bytes},
                    {"block_samples", s.block_samples},
                    {"head_series", s.head_series},
                    {"wal_bytes", s.wal_bytes}});
}

void HandleMonitors(Monitoring* mon, httplib::Response& res) {
  nlohmann::json out = nlohmann::json::array();
  for (const auto& p : mon->Probes()) out.push_back(MonitorStatusJson(p));
  PromSuccess(res, std::move(out));
}

}  // namespace

char* FormatFiniteValue(char* first, char* last, double v) {
  double a = std::fabs(v);
  if (a != 0 && (a < 1e-6 || a >= 1e21))
    return std::to_chars(first, last, v, std::chars_format::scientific).ptr;
  if (a < 0x1p53) return std::to_chars(first, last, v, std::chars_format::fixed).ptr;
  // An integer above 2^53: C++'s fixed form writes its exact digits; Go's 'f' with precision
  // -1 writes the shortest round-trip digits, then zeros (2^63 is "9223372036854776000").
  char sci[32];
  char* end = std::to_chars(sci, sci + sizeof sci, v, std::chars_format::scientific).ptr;
  char* e = std::find(sci, end, 'e');
  int exp = 0;
  std::from_chars(e + (e[1] == '+' ? 2 : 1), end, exp);  // not NUL-terminated
  char* out = first;
  int digits = 0;
  for (char* c = sci; c < e; ++c) {
    if (*c == '.') continue;
    *out++ = *c;
    if (*c != '-') ++digits;
  }
  for (; digits <= exp && out < last; ++digits) *out++ = '0';
  return out;
}

std::string PromValue(double v) {
  if (std::isnan(v)) return "NaN";
  if (std::isinf(v)) return v > 0 ? "+Inf" : "-Inf";
  char buf[64];
  return std::string(buf, FormatFiniteValue(buf, buf + sizeof buf, v));
}

void InstallPrometheusRoutes(httplib::Server& svr, Daemon* daemon) {
  // Every handler needs the monitoring, which is off with --no-monitoring.
  auto with = [daemon](PromHandler handler) { return WithMonitoring(daemon, std::move(handler)); };
  RouteGetPost(svr, "/api/v1/series", with(HandleSeries));
  RouteGetPost(svr, "/api/v1/labels",
               with([](Monitoring* mon, const httplib::Request& req, httplib::Response& res) {
                 HandleLabels(mon, req, res, "");
               }));
  svr.Get(R"(/api/v1/label/([^/]+)/values)",
          with([](Monitoring* mon, const httplib::Request& req, httplib::Response& res) {
            std::string name = req.matches[1];
            if (!tsdb::IsValidLabelName(name))
              return PromError(res, 400, "bad_data", "invalid label name: \"" + name + "\"");
            HandleLabels(mon, req, res, name);
          }));
  svr.Get("/api/v1/targets", with(HandleTargets));
  svr.Post("/api/v1/admin/tsdb/flush", with(HandleFlush));
  svr.Get("/api/v1/monitors",
          with([](Monitoring* mon, const httplib::Request&, httplib::Response& res) {
            HandleMonitors(mon, res);
          }));
  InstallQueryRoutes(svr, daemon);
}

}  // namespace steward::server
