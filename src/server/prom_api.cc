// The Prometheus-compatible read API: /api/v1/series, /api/v1/labels,
// /api/v1/label/<name>/values and /api/v1/targets, with Prometheus' parameters (GET query or
// POST form; match[] selectors; start/end as RFC 3339 or Unix seconds) and JSON shapes, so that
// Grafana and Prometheus' own tooling read Steward as they read Prometheus. Also
// /api/v1/monitors (Steward's own: the last result of each probe).
#include <cmath>
#include <limits>
#include <string>

#include <httplib.h>

#include "metrics/registry.h"
#include "promql/lexer.h"
#include "promql/selector.h"
#include "server/http_internal.h"
#include "server/daemon.h"
#include "server/monitoring.h"

namespace steward::server {
namespace {

constexpr int64_t kMinTime = std::numeric_limits<int64_t>::min() / 2;
constexpr int64_t kMaxTime = std::numeric_limits<int64_t>::max() / 2;

void PromError(httplib::Response& res, int code, const std::string& type, const std::string& msg) {
  res.status = code;
  res.set_content(
      nlohmann::json{{"status", "error"}, {"errorType", type}, {"error", msg}}.dump() + "\n",
      "application/json");
}

void PromSuccess(httplib::Response& res, nlohmann::json data) {
  res.set_content(nlohmann::json{{"status", "success"}, {"data", std::move(data)}}.dump() + "\n",
                  "application/json");
}

}  // namespace

// Prometheus' parseTime: Unix seconds with an optional fraction, or RFC 3339 (with optional
// fractional seconds and a Z or ±hh:mm offset).
StatusOr<int64_t> ParsePromTime(const std::string& s) {
  if (s.empty()) return InvalidArgument("empty time");
  char* end = nullptr;
  double secs = std::strtod(s.c_str(), &end);
  if (end && *end == '\0' && std::isfinite(secs)) {
    if (std::fabs(secs) > 9.2e15) return InvalidArgument("time out of range: \"" + s + "\"");
    return static_cast<int64_t>(std::llround(secs * 1000.0));
  }
  int y, mo, d, h, mi;
  double sec;
  char rest[16] = {0};
  int n = std::sscanf(s.c_str(), "%4d-%2d-%2dT%2d:%2d:%lf%15s", &y, &mo, &d, &h, &mi, &sec, rest);
  if (n < 6 || mo < 1 || mo > 12 || d < 1 || d > 31 || h > 23 || mi > 59 || sec < 0 || sec >= 61)
    return InvalidArgument("cannot parse \"" + s +
                           "\" to a valid timestamp (want Unix seconds or RFC 3339)");
  int offset_min = 0;
  std::string tz = rest;
  if (tz == "Z" || tz == "z") {
    offset_min = 0;
  } else if (tz.size() == 6 && (tz[0] == '+' || tz[0] == '-') && tz[3] == ':') {
    offset_min = std::atoi(tz.substr(1, 2).c_str()) * 60 + std::atoi(tz.substr(4, 2).c_str());
    if (tz[0] == '-') offset_min = -offset_min;
  } else {
    return InvalidArgument("cannot parse \"" + s + "\" to a valid timestamp: bad zone \"" + tz +
                           "\"");
  }
  // Days from civil (Howard Hinnant's algorithm).
  int yy = y - (mo <= 2);
  int era = (yy >= 0 ? yy : yy - 399) / 400;
  unsigned yoe = static_cast<unsigned>(yy - era * 400);
  unsigned doy = (153 * (mo + (mo > 2 ? -3 : 9)) + 2) / 5 + d - 1;
  unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  int64_t days = static_cast<int64_t>(era) * 146097 + static_cast<int64_t>(doe) - 719468;
  int64_t ms = ((days * 24 + h) * 60 + mi - offset_min) * 60000 + std::llround(sec * 1000.0);
  return ms;
}

namespace {

struct Range {
  int64_t start = kMinTime;
  int64_t end = kMaxTime;
};

StatusOr<Range> ParseRange(const httplib::Request& req) {
  Range r;
  if (req.has_param("start")) {
    auto t = ParsePromTime(req.get_param_value("start"));
    if (!t.ok()) return InvalidArgument("invalid parameter \"start\": " + t.status().message());
    r.start = *t;
  }
  if (req.has_param("end")) {
    auto t = ParsePromTime(req.get_param_value("end"));
    if (!t.ok()) return InvalidArgument("invalid parameter \"end\": " + t.status().message());
    r.end = *t;
  }
  if (r.end < r.start)
    return InvalidArgument("invalid parameter \"end\": end timestamp must not be before start time");
  return r;
}

// Every match[] selector; an empty list when none was given.
StatusOr<std::vector<std::vector<tsdb::Matcher>>> ParseMatches(const httplib::Request& req) {
  std::vector<std::vector<tsdb::Matcher>> out;
  size_t n = req.get_param_value_count("match[]");
  for (size_t i = 0; i < n; ++i) {
    std::string sel = req.get_param_value("match[]", i);
    auto ms = promql::ParseSeriesSelector(sel);
    if (!ms.ok()) return InvalidArgument("invalid parameter \"match[]\": " + ms.status().message());
    out.push_back(std::move(*ms));
  }
  return out;
}

nlohmann::json LabelsJson(const tsdb::Labels& labels) {
  nlohmann::json out = nlohmann::json::object();
  for (const auto& l : labels.items()) out[l.name] = l.value;
  return out;
}

int CodeFor(const Status& st) {
  return st.code() == StatusCode::kInvalidArgument ? 400 : 500;
}
std::string TypeFor(const Status& st) {
  return st.code() == StatusCode::kInvalidArgument ? "bad_data" : "internal";
}

void HandleSeries(Monitoring* mon, const httplib::Request& req, httplib::Response& res) {
  auto range = ParseRange(req);
  if (!range.ok()) return PromError(res, 400, "bad_data", range.status().message());
  auto matches = ParseMatches(req);
  if (!matches.ok()) return PromError(res, 400, "bad_data", matches.status().message());
  if (matches->empty()) return PromError(res, 400, "bad_data", "no match[] parameter provided");
  auto q = mon->db()->NewQuerier();
  std::vector<tsdb::Labels> all;
  for (const auto& ms : *matches) {
    auto got = q->SeriesLabels(ms, range->start, range->end);
    if (!got.ok()) return PromError(res, CodeFor(got.status()), TypeFor(got.status()),
                                    got.status().message());
    all.insert(all.end(), got->begin(), got->end());
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

std::string PromDuration(Duration d) {
  // Prometheus' model.Duration: the largest units that divide evenly ("1m", "15s", "1m30s").
  int64_t ms = d.count();
  if (ms == 0) return "0s";
  std::string out;
  static constexpr struct { const char* unit; int64_t ms; } kUnits[] = {
      {"y", 365LL * 86400000}, {"w", 7LL * 86400000}, {"d", 86400000}, {"h", 3600000},
      {"m", 60000}, {"s", 1000}, {"ms", 1}};
  for (const auto& u : kUnits) {
    if (ms >= u.ms) {
      out += std::to_string(ms / u.ms) + u.unit;
      ms %= u.ms;
    }
  }
  return out;
}

nlohmann::json TargetJson(const monitor::TargetHealth& t) {
  return {{"discoveredLabels", LabelsJson(t.spec.discovered)},
          {"labels", LabelsJson(t.spec.labels)},
          {"scrapePool", t.spec.job},
          {"scrapeUrl", t.spec.url},
          {"globalUrl", t.spec.url},
          {"lastError", t.last_error},
          {"lastScrape", t.health == "unknown" ? "0001-01-01T00:00:00Z"
                                               : FormatRfc3339(t.last_scrape)},
          {"lastScrapeDuration", t.last_scrape_duration_seconds},
          {"lastSamples", t.last_samples},
          {"health", t.health},
          {"scrapeInterval", PromDuration(t.spec.interval)},
          {"scrapeTimeout", PromDuration(t.spec.timeout)}};
}

void HandleTargets(Monitoring* mon, const httplib::Request& req, httplib::Response& res) {
  std::string state = req.has_param("state") ? req.get_param_value("state") : "any";
  if (state != "any" && state != "active" && state != "dropped")
    return PromError(res, 400, "bad_data",
                     "invalid parameter \"state\": want active, dropped or any, got \"" + state +
                         "\"");
  nlohmann::json active = nlohmann::json::array();
  if (state != "dropped")
    for (const auto& t : mon->Targets()) active.push_back(TargetJson(t));
  nlohmann::json data = {{"activeTargets", active},
                         {"droppedTargets", nlohmann::json::array()}};
  if (auto errors = mon->DiscoveryErrors(); !errors.empty()) data["discoveryErrors"] = errors;
  PromSuccess(res, std::move(data));
}

// Prometheus' sample pair: [unix seconds as a number, value as a string].
nlohmann::json SamplePair(const tsdb::Sample& s) {
  std::string v;
  if (std::isnan(s.v)) v = "NaN";
  else if (std::isinf(s.v)) v = s.v > 0 ? "+Inf" : "-Inf";
  else v = metrics::FormatValue(s.v);
  return nlohmann::json::array({static_cast<double>(s.t) / 1000.0, v});
}

// /api/v1/query for what the read path serves before the PromQL engine lands: a series
// selector (instant vector: the newest sample within the 5-minute lookback, not stale) or a
// selector with a range (matrix: the raw samples in [time - range, time]).
void HandleQuery(Monitoring* mon, const httplib::Request& req, httplib::Response& res) {
  if (!req.has_param("query")) return PromError(res, 400, "bad_data", "query parameter is missing");
  std::string query = req.get_param_value("query");
  int64_t at = ToUnixMillis(RealClock::Get()->WallNow());
  if (req.has_param("time")) {
    auto t = ParsePromTime(req.get_param_value("time"));
    if (!t.ok()) return PromError(res, 400, "bad_data", "invalid parameter \"time\": " +
                                                            t.status().message());
    at = *t;
  }
  int64_t range = 0;
  std::string selector = query;
  while (!selector.empty() && std::isspace(static_cast<unsigned char>(selector.back())))
    selector.pop_back();
  if (!selector.empty() && selector.back() == ']') {
    size_t open = selector.rfind('[');
    if (open == std::string::npos) return PromError(res, 400, "bad_data", "unbalanced \"]\"");
    auto d = promql::ParseDurationMillis(selector.substr(open + 1, selector.size() - open - 2));
    if (!d.ok() || *d <= 0)
      return PromError(res, 400, "bad_data", "bad range in \"" + query + "\"");
    range = *d;
    selector.resize(open);
  }
  auto ms = promql::ParseSeriesSelector(selector);
  if (!ms.ok())
    return PromError(res, 400, "bad_data",
                     ms.status().message() +
                         " (this Steward evaluates series selectors with an optional [range]; "
                         "the PromQL engine comes next)");
  constexpr int64_t kLookback = 5 * 60 * 1000;
  // Both ends inclusive, as Prometheus 2.x selects.
  int64_t mint = range > 0 ? at - range : at - kLookback;
  auto q = mon->db()->NewQuerier();
  auto series = q->Select(*ms, mint, at, /*max_samples=*/50'000'000);
  if (!series.ok())
    return PromError(res, CodeFor(series.status()), TypeFor(series.status()),
                     series.status().message());
  nlohmann::json result = nlohmann::json::array();
  for (auto& s : *series) {
    if (range > 0) {
      nlohmann::json values = nlohmann::json::array();
      for (const auto& p : s.samples)
        if (!tsdb::IsStaleNaN(p.v)) values.push_back(SamplePair(p));
      if (!values.empty())
        result.push_back({{"metric", LabelsJson(s.labels)}, {"values", std::move(values)}});
    } else if (!s.samples.empty() && !tsdb::IsStaleNaN(s.samples.back().v)) {
      tsdb::Sample last{at, s.samples.back().v};
      result.push_back({{"metric", LabelsJson(s.labels)},
                        {"value", SamplePair(last)}});
    }
  }
  PromSuccess(res, {{"resultType", range > 0 ? "matrix" : "vector"}, {"result", result}});
}

// Cuts the whole head into a block now (Prometheus' admin snapshot does the same for its
// copy); for benchmarks and before a backup. Answers with the storage statistics after it.
void HandleFlush(Monitoring* mon, const httplib::Request&, httplib::Response& res) {
  Status st = mon->db()->FlushHead();
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

void InstallPrometheusRoutes(httplib::Server& svr, Daemon* daemon) {
  // Every handler needs the monitoring, which is off with --no-monitoring.
  auto with = [daemon](auto handler) {
    return [daemon, handler](const httplib::Request& req, httplib::Response& res) {
      Monitoring* mon = daemon->monitoring();
      if (!mon || !mon->db())
        return PromError(res, 503, "unavailable",
                         "monitoring is off in this daemon (started with --no-monitoring)");
      handler(mon, req, res);
    };
  };
  auto both = [&svr](const std::string& path, httplib::Server::Handler h) {
    svr.Get(path, h);
    svr.Post(path, h);
  };
  both("/api/v1/series", with(HandleSeries));
  both("/api/v1/labels",
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
  both("/api/v1/query", with(HandleQuery));
  svr.Post("/api/v1/admin/tsdb/flush", with(HandleFlush));
  svr.Get("/api/v1/monitors",
          with([](Monitoring* mon, const httplib::Request&, httplib::Response& res) {
            HandleMonitors(mon, res);
          }));
}

}  // namespace steward::server
