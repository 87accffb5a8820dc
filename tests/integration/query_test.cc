// The PromQL query API end to end: `steward tsdb import` loads a generated OpenMetrics file,
// `steward serve --data-dir` serves it, and queries arrive over HTTP GET and POST, through
// `steward query`, and as the exact requests Grafana's Prometheus data source sends
// (pkg/tsdb/prometheus/client/client.go, healthcheck.go, heuristics.go and the query editor's
// language provider in Grafana 9/10).
#include <gtest/gtest.h>
#include <httplib.h>
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/file.h>
#include <sys/socket.h>
#include <unistd.h>
#include <sys/wait.h>

#include <atomic>
#include <chrono>
#include <cmath>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <set>
#include <thread>

#include "integration/harness.h"
#include "integration/peers.h"

namespace steward::testing {
namespace {

// Samples every 15 s over 3 h ending at kEnd (unix seconds, on a 2 h block boundary + 1 h).
constexpr int64_t kEnd = 1700006400 + 3600;
constexpr int64_t kStart = kEnd - 3 * 3600;
constexpr int kStep = 15;

// http_requests_total{code="200"} grows by 10 per sample, {code="500"} by 1; a gauge; buckets.
std::string Generate() {
  std::string out = "# HELP http_requests Requests served.\n# TYPE http_requests counter\n";
  for (const char* code : {"200", "500"})
    for (int64_t t = kStart, i = 0; t <= kEnd; t += kStep, ++i)
      out += "http_requests_total{code=\"" + std::string(code) + "\",job=\"api\"} " +
             std::to_string(i * (code[0] == '2' ? 10 : 1)) + " " + std::to_string(t) + "\n";
  out += "# TYPE temperature gauge\n";
  for (int64_t t = kStart; t <= kEnd; t += kStep)
    out += "temperature{room=\"lab\"} 21.5 " + std::to_string(t) + ".5\n";
  out += "# TYPE latency_seconds histogram\n";
  for (const char* le : {"0.1", "1", "+Inf"})
    for (int64_t t = kStart, i = 0; t <= kEnd; t += kStep, ++i)
      out += "latency_seconds_bucket{le=\"" + std::string(le) + "\"} " +
             std::to_string(i * (le[0] == '0'   ? 1
                                 : le[0] == '1' ? 3
                                                : 4)) +
             " " + std::to_string(t) + "\n";
  return out + "# EOF\n";
}

struct Reply {
  int status = 0;
  nlohmann::json body;
};

// A `steward serve --data-dir` of its own; stopped (SIGTERM, then reaped) at the end.
class DataServer {
 public:
  DataServer(Project& p, const std::string& data_dir, std::vector<std::string> extra = {})
      : p_(p), dir_(data_dir) {
    std::vector<std::string> args = {"serve", "--data-dir", data_dir, "--listen", "127.0.0.1:0"};
    args.insert(args.end(), extra.begin(), extra.end());
    pid_ = p.StewardBackground(args, p.dir() + "/serve.log");
    PollUntil(
        [&] {
          std::ifstream in(dir_ + "/daemon.json");
          auto j = nlohmann::json::parse(in, nullptr, false);
          if (j.is_discarded() || j.value("pid", 0) != pid_) return false;
          port_ = j.value("port", 0);
          return port_ > 0 && HttpGet(port_, "/healthz") == 200;
        },
        15000);
    std::ifstream t(dir_ + "/api.token");
    std::getline(t, token_);
  }
  // SIGTERM; true when the server has exited within timeout_ms.
  bool Stop(int timeout_ms) {
    kill(pid_, SIGTERM);
    if (!PollUntil([&] { return waitpid(pid_, nullptr, WNOHANG) == pid_; }, timeout_ms))
      return false;
    pid_ = 0;
    return true;
  }
  ~DataServer() {
    if (pid_ == 0) return;
    kill(pid_, SIGTERM);
    bool gone = PollUntil([&] { return waitpid(pid_, nullptr, WNOHANG) == pid_; }, 10000);
    if (!gone) {
      kill(pid_, SIGKILL);
      waitpid(pid_, nullptr, 0);
    }
  }
  int port() const { return port_; }
  const std::string& token() const { return token_; }
  std::string Log() const {
    std::ifstream in(p_.dir() + "/serve.log");
    return std::string((std::istreambuf_iterator<char>(in)), {});
  }

  Reply Get(const std::string& path) {
    auto res = Client().Get(path.c_str());
    return Parse(res);
  }
  // A POST form exactly as given (Go's url.Values.Encode: sorted keys, '+' for spaces).
  Reply Post(const std::string& path, const std::string& form) {
    auto res = Client().Post(path.c_str(), form, "application/x-www-form-urlencoded");
    return Parse(res);
  }
  std::string RawGet(const std::string& path) {
    auto res = Client().Get(path.c_str());
    return res ? res->body : "";
  }
  std::string RawPost(const std::string& path, const std::string& form) {
    auto res = Client().Post(path.c_str(), form, "application/x-www-form-urlencoded");
    return res ? res->body : "";
  }

 private:
  httplib::Client Client() {
    httplib::Client cli("127.0.0.1", port_);
    cli.set_connection_timeout(2, 0);
    cli.set_read_timeout(30, 0);
    cli.set_default_headers({{"Authorization", "Bearer " + token_}});
    return cli;
  }
  static Reply Parse(const httplib::Result& res) {
    Reply r;
    if (!res) return r;
    r.status = res->status;
    r.body = nlohmann::json::parse(res->body, nullptr, false);
    return r;
  }

  Project& p_;
  std::string dir_;
  int pid_ = 0;
  int port_ = 0;
  std::string token_;
};

// Imports the generated data into <project>/db.
std::string ImportData(Project& p) {
  std::ofstream(p.dir() + "/data.om") << Generate();
  RunResult r = p.Steward({"tsdb", "import", p.dir() + "/data.om", "--data-dir", p.dir() + "/db"});
  EXPECT_EQ(r.exit_code, 0) << r.out << r.err;
  return p.dir() + "/db";
}

double Num(const nlohmann::json& pair) { return std::stod(pair[1].get<std::string>()); }
std::string T(int64_t secs) { return std::to_string(secs); }

TEST(QueryApi, TsdbImportReportsWhatItWroteAndRefusesAServedDirectory) {
  Project p;
  std::ofstream(p.dir() + "/data.om") << Generate();
  RunResult r = p.Steward({"tsdb", "import", p.dir() + "/data.om", "--data-dir", p.dir() + "/db"});
  ASSERT_EQ(r.exit_code, 0) << r.out << r.err;
  EXPECT_NE(r.out.find("of 6 series"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("block(s)"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("2023-11-14T22:00:00.000Z to 2023-11-15T01:00:00.500Z"), std::string::npos)
      << r.out;

  std::ofstream(p.dir() + "/bad.om") << "# TYPE g gauge\ng 1 100\ng 2 50\n# EOF\n";
  RunResult bad = p.Steward({"tsdb", "import", p.dir() + "/bad.om", "--data-dir", p.dir() + "/b"});
  EXPECT_EQ(bad.exit_code, 1);
  EXPECT_NE(bad.err.find("line 3"), std::string::npos) << bad.err;

  DataServer s(p, p.dir() + "/db");
  ASSERT_GT(s.port(), 0) << s.Log();
  RunResult again =
      p.Steward({"tsdb", "import", p.dir() + "/data.om", "--data-dir", p.dir() + "/db"});
  EXPECT_EQ(again.exit_code, 1);
  EXPECT_NE(again.err.find("steward down"), std::string::npos) << again.err;
}

TEST(QueryApi, InstantAndRangeQueriesOverGetAndPostHavePrometheusShapes) {
  Project p;
  DataServer s(p, ImportData(p));
  ASSERT_GT(s.port(), 0) << s.Log();
  const int64_t at = kEnd - 600;
  std::string q =
      "/api/v1/query?query=" + UrlEncode("sum by (code) (http_requests_total)") + "&time=" + T(at);
  Reply get = s.Get(q);
  ASSERT_EQ(get.status, 200) << get.body.dump();
  EXPECT_EQ(get.body["status"], "success");
  EXPECT_EQ(get.body["data"]["resultType"], "vector");
  const auto& result = get.body["data"]["result"];
  ASSERT_EQ(result.size(), 2u) << get.body.dump();
  int64_t samples_before = (at - kStart) / kStep;
  for (const auto& r : result) {
    ASSERT_EQ(r["value"].size(), 2u);
    EXPECT_EQ(r["value"][0].get<double>(), static_cast<double>(at));
    EXPECT_TRUE(r["value"][1].is_string());
    bool ok = r["metric"] == nlohmann::json{{"code", "200"}} ||
              r["metric"] == nlohmann::json{{"code", "500"}};
    EXPECT_TRUE(ok) << r.dump();
    double want = samples_before * (r["metric"]["code"] == "200" ? 10 : 1);
    EXPECT_EQ(Num(r["value"]), want) << r.dump();
  }
  // The same query as a POST form answers the same bytes.
  std::string form = "query=" + UrlEncode("sum by (code) (http_requests_total)") + "&time=" + T(at);
  EXPECT_EQ(s.RawPost("/api/v1/query", form), s.RawGet(q));

  // In a POST, the form's values win over the URL's, as in Prometheus (Go's FormValue).
  Reply both = s.Post("/api/v1/query?query=2&time=5", "query=1&time=4");
  EXPECT_EQ(both.body["data"]["result"], nlohmann::json::array({4, "1"})) << both.body.dump();

  // Fractional times come back with their milliseconds, as Prometheus writes them.
  Reply frac = s.Get("/api/v1/query?query=temperature&time=" + T(at) + ".781");
  ASSERT_EQ(frac.status, 200) << frac.body.dump();
  ASSERT_EQ(frac.body["data"]["result"].size(), 1u);
  EXPECT_DOUBLE_EQ(frac.body["data"]["result"][0]["value"][0].get<double>(), at + 0.781);
  EXPECT_EQ(frac.body["data"]["result"][0]["value"][1], "21.5");

  Reply scalar = s.Get("/api/v1/query?query=" + UrlEncode("1+1") + "&time=4");
  EXPECT_EQ(scalar.body["data"], (nlohmann::json{{"resultType", "scalar"},
                                                 {"result", nlohmann::json::array({4, "2"})}}));
  Reply str = s.Get("/api/v1/query?query=" + UrlEncode("\"hi\"") + "&time=4");
  EXPECT_EQ(str.body["data"]["resultType"], "string");
  EXPECT_EQ(str.body["data"]["result"][1], "hi");
  Reply inf = s.Get("/api/v1/query?query=" + UrlEncode("vector(1/0)") + "&time=4");
  EXPECT_EQ(inf.body["data"]["result"][0]["value"][1], "+Inf") << inf.body.dump();
  // Numbers as Go's FormatFloat(v, 'f' or 'e', -1, 64) writes them; times with 3 decimals.
  for (auto [expr, want] :
       std::vector<std::pair<std::string, std::string>>{{"1e21", "1e+21"},
                                                        {"0.0000001", "1e-07"},
                                                        {"-0.5", "-0.5"},
                                                        {"123456789.125", "123456789.125"},
                                                        {"0/0", "NaN"},
                                                        {"-1/0", "-Inf"}}) {
    std::string raw = s.RawGet("/api/v1/query?query=" + UrlEncode(expr) + "&time=-1.5");
    EXPECT_EQ(raw,
              "{\"status\":\"success\",\"data\":{\"resultType\":\"scalar\",\"result\":"
              "[-1.500,\"" +
                  want + "\"]}}\n")
        << expr;
  }

  // A range query: every step from start to end, rates of a linear counter.
  Reply range = s.Post("/api/v1/query_range",
                       "end=" + T(kEnd) + "&query=" + UrlEncode("rate(http_requests_total[1m])") +
                           "&start=" + T(kEnd - 600) + "&step=60&stats=all");
  ASSERT_EQ(range.status, 200) << range.body.dump();
  EXPECT_EQ(range.body["data"]["resultType"], "matrix");
  const auto& series = range.body["data"]["result"];
  ASSERT_EQ(series.size(), 2u);
  for (const auto& sr : series) {
    EXPECT_FALSE(sr["metric"].contains("__name__")) << "rate drops the metric name";
    ASSERT_EQ(sr["values"].size(), 11u);
    for (size_t i = 0; i < 11; ++i) {
      EXPECT_EQ(sr["values"][i][0].get<int64_t>(), kEnd - 600 + 60 * static_cast<int64_t>(i));
      double want = sr["metric"]["code"] == "200" ? 10.0 / 15 : 1.0 / 15;
      EXPECT_NEAR(Num(sr["values"][i]), want, 1e-9) << sr.dump();
    }
  }
  const auto& stats = range.body["data"]["stats"];
  EXPECT_GT(stats["samples"]["totalQueryableSamples"].get<int64_t>(), 0) << stats.dump();
  EXPECT_GT(stats["samples"]["peakSamples"].get<int64_t>(), 0);
  EXPECT_TRUE(stats["timings"].contains("evalTotalTime"));

  // Durations work as steps too, and a matrix from an instant query holds the raw samples.
  Reply dur = s.Get("/api/v1/query_range?query=temperature&start=" + T(kEnd - 120) +
                    "&end=" + T(kEnd) + "&step=1m");
  ASSERT_EQ(dur.status, 200) << dur.body.dump();
  EXPECT_EQ(dur.body["data"]["result"][0]["values"].size(), 3u);
  Reply raw = s.Get("/api/v1/query?query=" + UrlEncode("http_requests_total{code=\"500\"}[1m]") +
                    "&time=" + T(kEnd));
  ASSERT_EQ(raw.body["data"]["resultType"], "matrix") << raw.body.dump();
  EXPECT_EQ(raw.body["data"]["result"][0]["values"].size(), 5u) << "[t-60s, t] holds 5 samples";

  // An already expired timeout: timeout, 503 (the limit is --query-timeout, 2m by default).
  Reply slow = s.Get("/api/v1/query_range?query=" + UrlEncode("sum(temperature)") +
                     "&start=" + T(kStart) + "&end=" + T(kEnd) + "&step=60&timeout=0s");
  EXPECT_EQ(slow.status, 503) << slow.body.dump();
  EXPECT_EQ(slow.body["errorType"], "timeout");
  EXPECT_NE(slow.body.value("error", "").find("timed out"), std::string::npos);

  Reply fmt = s.Get("/api/v1/format_query?query=" + UrlEncode("sum(rate(x[5m]))by(job)"));
  EXPECT_EQ(fmt.body["data"], "sum by (job) (rate(x[5m]))") << fmt.body.dump();
}

TEST(QueryApi, ErrorsCarryPrometheusTypesMessagesAndCodes) {
  Project p;
  std::string db = ImportData(p);
  DataServer s(p, db, {"--query-max-samples", "100"});
  ASSERT_GT(s.port(), 0) << s.Log();

  Reply parse = s.Get("/api/v1/query?query=" + UrlEncode("sum(rate(x[5m])"));
  EXPECT_EQ(parse.status, 400);
  EXPECT_EQ(parse.body["errorType"], "bad_data");
  std::string msg = parse.body.value("error", "");
  EXPECT_EQ(msg.rfind("invalid parameter \"query\": 1:", 0), 0u) << msg;
  EXPECT_NE(msg.find("parse error"), std::string::npos) << msg;
  Reply range_parse =
      s.Get("/api/v1/query_range?query=" + UrlEncode("1 +") + "&start=1&end=2&step=1");
  EXPECT_EQ(range_parse.status, 400);
  EXPECT_EQ(range_parse.body.value("error", "").rfind("1:", 0), 0u) << range_parse.body.dump();

  auto range_error = [&](const std::string& params) {
    return s.Get("/api/v1/query_range?query=up&" + params).body.value("error", "");
  };
  EXPECT_EQ(range_error("start=10&end=5&step=1"),
            "invalid parameter \"end\": end timestamp must not be before start time");
  EXPECT_EQ(range_error("start=1&end=5&step=0"),
            "invalid parameter \"step\": zero or negative query resolution step widths are not "
            "accepted. Try a positive integer");
  EXPECT_EQ(range_error("start=0&end=11001&step=1"),
            "exceeded maximum resolution of 11,000 points per timeseries. Try decreasing the "
            "query resolution (?step=XX)");
  EXPECT_EQ(range_error("start=0&end=11000&step=1"), "") << "11,000 points are allowed";
  EXPECT_EQ(range_error("end=5&step=1"),
            "invalid parameter \"start\": cannot parse \"\" to a valid timestamp");
  EXPECT_EQ(range_error("start=1&end=5&step=x"),
            "invalid parameter \"step\": cannot parse \"x\" to a valid duration");
  Reply bad_time = s.Get("/api/v1/query?query=up&time=yesterday");
  EXPECT_EQ(bad_time.body.value("error", ""),
            "invalid parameter \"time\": Invalid time value for 'time': cannot parse "
            "\"yesterday\" to a valid timestamp");

  // Too many samples for --query-max-samples 100: execution, 422, Prometheus' words.
  Reply big =
      s.Get("/api/v1/query?query=" + UrlEncode("http_requests_total[1h]") + "&time=" + T(kEnd));
  EXPECT_EQ(big.status, 422) << big.body.dump();
  EXPECT_EQ(big.body["errorType"], "execution");
  EXPECT_NE(big.body.value("error", "").find("too many samples"), std::string::npos);

  // The daemon is still there.
  EXPECT_EQ(s.Get("/api/v1/query?query=1&time=1").status, 200);
}

TEST(QueryApi, PostFormsLongerThanEightKiBAreAnswered) {
  Project p;
  DataServer s(p, ImportData(p));
  ASSERT_GT(s.port(), 0) << s.Log();
  std::string alternatives = "200|500";
  for (int i = 0; i < 1500; ++i) alternatives += "|x" + std::to_string(10000 + i);
  std::string query = "count(http_requests_total{code=~\"" + alternatives + "\"})";
  ASSERT_GT(query.size(), 9000u);
  Reply r = s.Post("/api/v1/query", "query=" + UrlEncode(query) + "&time=" + T(kEnd));
  ASSERT_EQ(r.status, 200) << r.body.dump().substr(0, 500);
  EXPECT_EQ(r.body["data"]["result"][0]["value"][1], "2");
  Reply series =
      s.Post("/api/v1/series",
             "match%5B%5D=" + UrlEncode("http_requests_total{code=~\"" + alternatives + "\"}"));
  ASSERT_EQ(series.status, 200) << series.body.dump().substr(0, 500);
  EXPECT_EQ(series.body["data"].size(), 2u);
}

TEST(QueryApi, StewardQueryPrintsTablesJsonAndApiErrors) {
  Project p;
  std::string db = ImportData(p);
  DataServer s(p, db);
  ASSERT_GT(s.port(), 0) << s.Log();
  RunResult table = p.Steward(
      {"query", "--data-dir", db, "--time", T(kEnd), "sum by (code) (http_requests_total)"});
  ASSERT_EQ(table.exit_code, 0) << table.out << table.err;
  int64_t n = (kEnd - kStart) / kStep;
  EXPECT_NE(table.out.find("SERIES"), std::string::npos) << table.out;
  EXPECT_NE(table.out.find("{code=\"200\"}  " + std::to_string(n * 10)), std::string::npos)
      << table.out;
  EXPECT_NE(table.out.find("{code=\"500\"}  " + std::to_string(n)), std::string::npos);

  RunResult json =
      p.Steward({"query", "--data-dir", db, "--time", T(kEnd), "--json", "temperature"});
  ASSERT_EQ(json.exit_code, 0) << json.err;
  auto data = nlohmann::json::parse(json.out, nullptr, false);
  ASSERT_FALSE(data.is_discarded()) << json.out;
  EXPECT_EQ(data["resultType"], "vector");
  EXPECT_EQ(data["result"][0]["metric"]["room"], "lab");

  RunResult range = p.Steward({"query", "--data-dir", db, "--range", "--start", T(kEnd - 120),
                               "--end", T(kEnd), "--step", "1m", "temperature"});
  ASSERT_EQ(range.exit_code, 0) << range.err;
  EXPECT_NE(range.out.find("temperature{room=\"lab\"}\n"), std::string::npos) << range.out;
  EXPECT_NE(range.out.find("2023-11-15T00:58:00.000Z  21.5"), std::string::npos) << range.out;
  EXPECT_NE(range.out.find("2023-11-15T01:00:00.000Z  21.5"), std::string::npos) << range.out;

  // Through --server and a token file, as for a daemon elsewhere.
  std::ofstream(p.dir() + "/token") << s.token() << "\n";
  RunResult remote = p.Steward({"query", "--server", "http://127.0.0.1:" + std::to_string(s.port()),
                                "--token-file", p.dir() + "/token", "--time", "4", "1+1"});
  EXPECT_EQ(remote.exit_code, 0) << remote.err;
  EXPECT_EQ(remote.out, "2\n");

  RunResult bad = p.Steward({"query", "--data-dir", db, "sum(up"});
  EXPECT_EQ(bad.exit_code, 1);
  EXPECT_NE(bad.err.find("bad_data"), std::string::npos) << bad.err;
  EXPECT_NE(bad.err.find("1:"), std::string::npos) << bad.err;
}

// What Grafana sends, in order: "Save & test" (buildinfo, then the instant query 1+1 over
// [1 s, 4 s]); the query editor's metric and label lists; a time-series panel's range query with
// start and end floored to the step; an instant query; exemplars. POST forms are Go's
// url.Values.Encode() (keys sorted); resource calls for labels and series use POST as well.
TEST(QueryApi, AnswersTheRequestsOfGrafanasPrometheusDataSource) {
  Project p;
  DataServer s(p, ImportData(p));
  ASSERT_GT(s.port(), 0) << s.Log();

  Reply build = s.Get("/api/v1/status/buildinfo");
  ASSERT_EQ(build.status, 200);
  EXPECT_EQ(build.body["data"]["version"], "2.42.0");
  EXPECT_FALSE(build.body["data"].contains("features")) << "Grafana would take it for Mimir";
  Reply health = s.Post("/api/v1/query", "query=1%2B1&time=4");
  EXPECT_EQ(health.body["data"]["result"], nlohmann::json::array({4, "2"})) << health.body.dump();

  const std::string from = T(kEnd - 3600), to = T(kEnd);
  Reply labels = s.Post("/api/v1/labels", "end=" + to + "&start=" + from);
  ASSERT_EQ(labels.status, 200) << labels.body.dump();
  std::set<std::string> names(labels.body["data"].begin(), labels.body["data"].end());
  for (const char* n : {"__name__", "code", "job", "le", "room"}) EXPECT_TRUE(names.count(n)) << n;
  Reply metrics = s.Get("/api/v1/label/__name__/values?start=" + from + "&end=" + to);
  EXPECT_EQ(metrics.body["data"], nlohmann::json::array({"http_requests_total",
                                                         "latency_seconds_bucket", "temperature"}));
  Reply series =
      s.Post("/api/v1/series", "end=" + to + "&match%5B%5D=http_requests_total&start=" + from);
  ASSERT_EQ(series.body["data"].size(), 2u) << series.body.dump();
  EXPECT_EQ(series.body["data"][0],
            (nlohmann::json{{"__name__", "http_requests_total"}, {"code", "200"}, {"job", "api"}}));
  Reply values = s.Get("/api/v1/label/code/values?match%5B%5D=http_requests_total&start=" + from +
                       "&end=" + to);
  EXPECT_EQ(values.body["data"], nlohmann::json::array({"200", "500"}));
  Reply meta = s.Get("/api/v1/metadata");
  EXPECT_EQ(meta.status, 200);
  EXPECT_TRUE(meta.body["data"].is_object());

  // The panel: $__rate_interval-style query, 15 s step, start/end floored to the step.
  const int64_t step = 15, end = (kEnd - 7) / step * step, start = (kEnd - 3600 - 7) / step * step;
  std::string expr = "sum by (code) (rate(http_requests_total{job=\"api\"}[1m0s]))";
  Reply panel = s.Post("/api/v1/query_range", "end=" + T(end) + "&query=" + UrlEncode(expr) +
                                                  "&start=" + T(start) + "&step=15");
  ASSERT_EQ(panel.status, 200) << panel.body.dump();
  ASSERT_EQ(panel.body["data"]["resultType"], "matrix");
  ASSERT_EQ(panel.body["data"]["result"].size(), 2u);
  const auto& points = panel.body["data"]["result"][0]["values"];
  EXPECT_EQ(points.size(), static_cast<size_t>((end - start) / step + 1));
  for (const auto& pt : points) EXPECT_EQ(pt[0].get<int64_t>() % step, 0);

  Reply instant = s.Post("/api/v1/query", "query=" + UrlEncode(expr) + "&time=" + T(end));
  EXPECT_EQ(instant.body["data"]["resultType"], "vector") << instant.body.dump();
  Reply exemplars = s.Post("/api/v1/query_exemplars",
                           "end=" + T(end) + "&query=" + UrlEncode(expr) + "&start=" + T(start));
  EXPECT_EQ(exemplars.body["data"], nlohmann::json::array());
  EXPECT_EQ(s.Get("/api/v1/rules").body["data"]["groups"], nlohmann::json::array());
  EXPECT_EQ(s.Get("/api/v1/alerts").body["data"]["alerts"], nlohmann::json::array());

  // Without the token nothing is answered.
  std::string body;
  EXPECT_EQ(HttpGet(s.port(), "/api/v1/query?query=1", &body), 401);
}

// A query that runs until its timeout with little memory: 86,401 steps that each take the
// median of a 86,400-point window (~10^11 operations). count_over_time of count_over_time is no
// longer slow: the range-function fast path slides its window over one shared evaluation.
const char* const kSlowQuery =
    "count_over_time(quantile_over_time(0.5, vector(time())[1d:1s])[1d:1s])";

// A gauge of the daemon's /metrics, or -1.
double MetricValue(int port, const std::string& name) {
  std::string body;
  if (HttpGet(port, "/metrics", &body) != 200) return -1;
  size_t at = body.find("\n" + name + " ");
  return at == std::string::npos ? -1 : std::stod(body.substr(at + name.size() + 2));
}

int64_t MillisSince(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() -
                                                               t0)
      .count();
}

TEST(QueryApi, QueriesBeyondMaxConcurrencyWaitAndTheControlApiStillAnswers) {
  Project p;
  DataServer s(p, ImportData(p), {"--query-max-concurrency", "2"});
  ASSERT_GT(s.port(), 0) << s.Log();
  EXPECT_EQ(MetricValue(s.port(), "steward_queries_concurrent_max"), 2);
  // 2 queries run and 6 wait (each would take 60 s): the gate holds 4 x 2 queries at most.
  std::vector<Reply> replies(8);
  std::vector<std::thread> clients;
  for (size_t i = 0; i < replies.size(); ++i)
    clients.emplace_back([&, i] {
      replies[i] = s.Post("/api/v1/query", "query=" + UrlEncode(kSlowQuery) + "&timeout=60s");
    });
  bool full = PollUntil(
      [&] {
        return MetricValue(s.port(), "steward_queries_running") == 2 &&
               MetricValue(s.port(), "steward_queries_waiting") == 6;
      },
      15000);
  EXPECT_TRUE(full) << "running " << MetricValue(s.port(), "steward_queries_running")
                    << ", waiting " << MetricValue(s.port(), "steward_queries_waiting");

  // The control API and other reads answer at once.
  for (int i = 0; i < 5; ++i) {
    auto t0 = std::chrono::steady_clock::now();
    EXPECT_EQ(s.Get("/api/v1/status").status, 200);
    EXPECT_EQ(s.Get("/api/v1/labels").status, 200);
    EXPECT_LT(MillisSince(t0), 2000);
  }
  // One more query is refused at once: nothing is left to wait with.
  auto t0 = std::chrono::steady_clock::now();
  Reply refused = s.Post("/api/v1/query", "query=1&timeout=30s");
  EXPECT_LT(MillisSince(t0), 2000);
  EXPECT_EQ(refused.status, 503);
  EXPECT_EQ(refused.body.value("errorType", ""), "unavailable") << refused.body.dump();

  // Shutdown cancels what runs and what waits; the server exits long before the 60 s.
  t0 = std::chrono::steady_clock::now();
  EXPECT_TRUE(s.Stop(20000)) << "still running after SIGTERM";
  for (auto& c : clients) c.join();
  EXPECT_LT(MillisSince(t0), 20000);
  int in_eval = 0, in_queue = 0;
  for (const Reply& r : replies) {
    EXPECT_EQ(r.status, 503) << r.body.dump();
    EXPECT_EQ(r.body.value("errorType", ""), "canceled") << r.body.dump();
    in_eval += r.body.value("error", "") == "query was canceled in expression evaluation";
    in_queue += r.body.value("error", "") == "query was canceled in query queue";
  }
  EXPECT_EQ(in_eval, 2);
  EXPECT_EQ(in_queue, 6);
}

TEST(QueryApi, AQueryWaitingLongerThanItsTimeoutFailsLikePrometheus) {
  Project p;
  DataServer s(p, ImportData(p), {"--query-max-concurrency", "1"});
  ASSERT_GT(s.port(), 0) << s.Log();
  Reply slow;
  std::thread busy(
      [&] { slow = s.Post("/api/v1/query", "query=" + UrlEncode(kSlowQuery) + "&timeout=3s"); });
  ASSERT_TRUE(
      PollUntil([&] { return MetricValue(s.port(), "steward_queries_running") == 1; }, 15000));
  auto t0 = std::chrono::steady_clock::now();
  Reply queued = s.Post("/api/v1/query_range", "query=1&start=0&end=10&step=1&timeout=300ms");
  EXPECT_GE(MillisSince(t0), 250);
  EXPECT_EQ(queued.status, 503);
  EXPECT_EQ(queued.body.value("errorType", ""), "timeout");
  EXPECT_EQ(queued.body.value("error", ""), "query timed out in query queue");
  busy.join();
  EXPECT_EQ(slow.body.value("error", ""), "query timed out in expression evaluation");
  // The slot is free again.
  EXPECT_EQ(s.Post("/api/v1/query", "query=1&time=1").status, 200);
}

// Default target: <state>/tsdb, which the daemon's retention (15 d by the wall clock) would
// empty at its next compaction.
TEST(QueryApi, TsdbImportRefusesHistoryTheDaemonsRetentionWouldDelete) {
  Project p;
  std::ofstream(p.dir() + "/old.om") << Generate();  // November 2023
  RunResult old = p.Steward({"tsdb", "import", p.dir() + "/old.om"});
  EXPECT_EQ(old.exit_code, 1) << old.out << old.err;
  EXPECT_NE(old.err.find("older than the retention"), std::string::npos) << old.err;
  EXPECT_NE(old.err.find("steward serve --data-dir DIR"), std::string::npos) << old.err;
  EXPECT_NE(old.err.find("(360h)"), std::string::npos) << old.err;
  EXPECT_FALSE(std::filesystem::exists(p.StateDir() + "/tsdb/lock")) << "nothing written";

  // Recent data is imported; a stack that keeps 10 years lets the old file in too.
  const int64_t now = time(nullptr);
  std::ofstream(p.dir() + "/new.om") << "g 1 " << now - 3600 << "\ng 2 " << now - 60 << "\n# EOF\n";
  RunResult recent = p.Steward({"tsdb", "import", p.dir() + "/new.om"});
  EXPECT_EQ(recent.exit_code, 0) << recent.err;
  p.WriteStack("project: p\nservices: {}\nmonitoring:\n  retention: 87600h\n");
  RunResult kept = p.Steward({"tsdb", "import", p.dir() + "/old.om"});
  EXPECT_EQ(kept.exit_code, 0) << kept.err;
}

TEST(QueryApi, ServeDataDirKeepsOldBlocksThroughCompaction) {
  Project p;
  DataServer s(p, ImportData(p));  // November 2023: far beyond the default 15 d
  ASSERT_GT(s.port(), 0) << s.Log();
  Reply flushed = s.Post("/api/v1/admin/tsdb/flush?compact=true", "");
  ASSERT_EQ(flushed.status, 200) << flushed.body.dump();
  EXPECT_GT(flushed.body["data"].value("blocks", 0), 0) << flushed.body.dump();
  Reply r = s.Get("/api/v1/query?query=count_over_time(temperature%5B3h%5D)&time=" + T(kEnd));
  ASSERT_EQ(r.status, 200) << r.body.dump();
  EXPECT_EQ(r.body["data"]["result"][0]["value"][1], std::to_string(3 * 3600 / kStep))
      << r.body.dump();
}

TEST(QueryApi, AMetricsStoreThatCannotOpenIsNamedInTheApiError) {
  Project p;
  std::filesystem::create_directories(p.StateDir() + "/tsdb");
  int fd = open((p.StateDir() + "/tsdb/lock").c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
  ASSERT_GE(fd, 0);
  ASSERT_EQ(flock(fd, LOCK_EX | LOCK_NB), 0);  // as a running `steward tsdb import` holds it
  int pid = p.StewardBackground({"serve", "--listen", "127.0.0.1:0"}, p.dir() + "/serve.log");
  int port = 0;
  ASSERT_TRUE(PollUntil(
      [&] {
        std::ifstream in(p.StateDir() + "/daemon.json");
        auto j = nlohmann::json::parse(in, nullptr, false);
        port = j.is_discarded() || j.value("pid", 0) != pid ? 0 : j.value("port", 0);
        return port > 0 && HttpGet(port, "/healthz") == 200;
      },
      15000));
  httplib::Client cli("127.0.0.1", port);
  std::string token;
  std::getline(std::ifstream(p.StateDir() + "/api.token"), token);
  cli.set_bearer_token_auth(token.c_str());
  auto res = cli.Get("/api/v1/query?query=1");
  ASSERT_TRUE(res);
  EXPECT_EQ(res->status, 503);
  auto body = nlohmann::json::parse(res->body, nullptr, false);
  std::string msg = body.value("error", "");
  EXPECT_EQ(msg.find("--no-monitoring"), std::string::npos) << msg;
  EXPECT_NE(msg.find("could not start"), std::string::npos) << msg;
  EXPECT_NE(msg.find("is locked"), std::string::npos) << msg;
  close(fd);
}

TEST(QueryApi, StewardQueryRejectsServersItCannotTalkTo) {
  Project p;
  auto query = [&](const std::string& server) {
    return p.Steward({"query", "--server", server, "1"}, 10000);
  };
  RunResult ftp = query("ftp://127.0.0.1:7420");
  EXPECT_EQ(ftp.exit_code, 1);
  EXPECT_NE(ftp.err.find("--server 'ftp://127.0.0.1:7420': expected http://HOST:PORT or "
                         "https://HOST:PORT"),
            std::string::npos)
      << ftp.err;
  for (const char* bad : {"http://127.0.0.1:abc", "127.0.0.1:0", "http://h:70000", "h:12x"}) {
    RunResult r = query(bad);
    EXPECT_EQ(r.exit_code, 1) << bad;
    EXPECT_NE(r.err.find("is not a number from 1 to 65535"), std::string::npos) << r.err;
  }
  RunResult scheme = query("ftp://h:21");
  EXPECT_NE(scheme.err.find("expected http://HOST:PORT"), std::string::npos) << scheme.err;
}

// A server that answers 200 with JSON of the wrong shape: steward query says so, never crashes.
TEST(QueryApi, StewardQueryReportsAnswersOfTheWrongShape) {
  const std::vector<std::string> answers = {
      R"({"status":"success"})",
      R"({"status":"success","data":[]})",
      R"({"status":"success","data":{"resultType":"vector"}})",
      R"({"status":"success","data":{"resultType":"vector","result":[{"metric":{"a":1},"value":[1,"2"]}]}})",
      R"({"status":"success","data":{"resultType":"vector","result":[{"metric":{}}]}})",
      R"({"status":"success","data":{"resultType":"matrix","result":[{"metric":{},"values":[[1]]}]}})",
      R"({"status":"success","data":{"resultType":"matrix","result":[{"metric":{}}]}})",
      R"({"status":"success","data":{"resultType":"scalar","result":{}}})",
      R"({"status":"success","data":{"resultType":"table","result":[]}})",
      R"({"status":5,"errorType":[],"error":{}})",
      R"({"status":"success","warnings":"x","data":{"resultType":"scalar","result":[1,"2"]}})",
  };
  httplib::Server svr;
  std::atomic<size_t> next{0};
  svr.Post("/api/v1/query", [&](const httplib::Request&, httplib::Response& res) {
    res.set_content(answers[next++ % answers.size()], "application/json");
  });
  int port = svr.bind_to_any_port("127.0.0.1");
  std::thread serving([&] { svr.listen_after_bind(); });
  Project p;
  for (size_t i = 0; i < answers.size(); ++i) {
    RunResult r =
        p.Steward({"query", "--server", "http://127.0.0.1:" + std::to_string(port), "up"}, 10000);
    if (i + 1 == answers.size()) {  // a well-formed scalar; the odd "warnings" is ignored
      EXPECT_EQ(r.exit_code, 0) << r.err;
      EXPECT_EQ(r.out, "2\n");
      continue;
    }
    EXPECT_EQ(r.exit_code, 1) << answers[i] << "\n" << r.err;
    if (i == answers.size() - 2) {
      EXPECT_NE(r.err.find("error: error:"), std::string::npos) << r.err;
      continue;
    }
    EXPECT_NE(r.err.find("unexpected answer from 127.0.0.1:" + std::to_string(port)),
              std::string::npos)
        << answers[i] << "\n" << r.err;
  }
  svr.stop();
  serving.join();
}

// Sends `head` (request line and headers) and `body` on a fresh connection, without closing it,
// and returns what arrives within 5 s.
std::string RawExchange(int port, const std::string& head, const std::string& body) {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<uint16_t>(port));
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  timeval tv{5, 0};
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  std::string got;
  if (connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0) {
    std::string out = head + body;
    // The server may answer and close before taking all of it: no SIGPIPE, read what came.
    timeval send_tv{5, 0};
    setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &send_tv, sizeof send_tv);
    for (size_t sent = 0; sent < out.size();) {
      ssize_t n = send(fd, out.data() + sent, out.size() - sent, MSG_NOSIGNAL);
      if (n <= 0) break;
      sent += static_cast<size_t>(n);
    }
    char buf[4096];
    ssize_t n = recv(fd, buf, sizeof buf, 0);
    if (n > 0) got.assign(buf, n);
  }
  close(fd);
  return got;
}

TEST(QueryApi, EveryQueryRouteWantsTheTokenForGetAndPost) {
  Project p;
  DataServer s(p, ImportData(p));
  ASSERT_GT(s.port(), 0) << s.Log();
  const std::string form = "query=up&match%5B%5D=up&start=1&end=2&step=1";
  for (const char* route : {"/api/v1/query", "/api/v1/query_range", "/api/v1/format_query",
                            "/api/v1/query_exemplars", "/api/v1/series", "/api/v1/labels",
                            "/api/v1/label/__name__/values"}) {
    httplib::Client cli("127.0.0.1", s.port());
    auto get = cli.Get((std::string(route) + "?" + form).c_str());
    ASSERT_TRUE(get) << route;
    EXPECT_EQ(get->status, 401) << route;
    auto post = cli.Post(route, form, "application/x-www-form-urlencoded");
    ASSERT_TRUE(post) << route;
    EXPECT_EQ(post->status, 401) << route;
    EXPECT_EQ(post->body.find(route), std::string::npos) << "the path is not echoed";
    cli.set_bearer_token_auth("0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef");
    auto wrong = cli.Post(route, form, "application/x-www-form-urlencoded");
    ASSERT_TRUE(wrong) << route;
    EXPECT_EQ(wrong->status, 401) << route;
    bool get_only = std::string(route).find("/label/") != std::string::npos;  // as Prometheus
    Reply ok = get_only ? s.Get(std::string(route) + "?" + form) : s.Post(route, form);
    EXPECT_EQ(ok.status, 200) << route << " with the token";
  }
  // A 1 MiB form without a token: refused from its headers, before the body arrives.
  std::string head =
      "POST /api/v1/query HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: "
      "application/x-www-form-urlencoded\r\nContent-Length: 1048576\r\n\r\n";
  std::string answer = RawExchange(s.port(), head, "query=" + std::string(1000, '1'));
  EXPECT_EQ(answer.rfind("HTTP/1.1 401", 0), 0u) << answer;
  std::string whole = RawExchange(s.port(), head, "query=" + std::string((1 << 20) - 6, '1'));
  EXPECT_EQ(whole.rfind("HTTP/1.1 401", 0), 0u) << whole.substr(0, 200);
  EXPECT_EQ(s.Get("/api/v1/query?query=1&time=1").status, 200) << "the daemon is still there";
}

}  // namespace
}  // namespace steward::testing
