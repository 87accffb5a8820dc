// PromQL conformance with a real Prometheus (Debian's 2.42): the same OpenMetrics file is
// loaded into Prometheus (`promtool tsdb create-blocks-from openmetrics`) and into Steward
// (`steward tsdb import` + `steward serve --data-dir`), then every query of
// tests/conformance/promql/queries.txt runs against both HTTP APIs and the answers must be the
// same: status and errorType, resultType, series (label sets), timestamps, and values within
// 1e-9 relative (NaN equals NaN, infinities exact). Error messages must match too, except for
// the queries the list marks `msg-differs`.
//
// The data ends at a whole hour at least three hours before now (inside any retention) and
// spans three hours; queries give times relative to that end (see queries.txt's header).
// STEWARD_PROMQL_KEEP=1 keeps the temporary directory (data file, logs) for a look afterwards.
#include <gtest/gtest.h>
#include <httplib.h>
#include <signal.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>
#include <string>
#include <vector>

#include "integration/harness.h"
#include "integration/peers.h"

namespace steward::testing {
namespace {

constexpr int64_t kSpanSec = 3 * 3600;  // the data covers [end - kSpanSec, end]

// ---------------------------------------------------------------------------------------------
// The data: deterministic, so a failure can be reproduced; only `end` moves with the clock.

// A value in [0, 1) that depends only on (a, b, c): a small integer hash, no global state.
double Noise(uint64_t a, uint64_t b, uint64_t c = 0) {
  uint64_t x = a * 0x9E3779B97F4A7C15ull ^ (b + 0x632BE59BD9B4E019ull) * 0xC2B2AE3D27D4EB4Full ^
               c * 0x165667B19E3779F9ull;
  x ^= x >> 29;
  x *= 0xBF58476D1CE4E5B9ull;
  x ^= x >> 32;
  return static_cast<double>(x >> 11) / 9007199254740992.0;
}

std::string Num(double v) {
  if (std::isnan(v)) return "NaN";
  if (std::isinf(v)) return v > 0 ? "+Inf" : "-Inf";
  char buf[40];
  std::snprintf(buf, sizeof buf, "%.17g", v);
  return buf;
}

// Writes OpenMetrics text: one family at a time, each series' samples in time order.
class OpenMetricsWriter {
 public:
  OpenMetricsWriter(int64_t start, int64_t end) : start_(start), end_(end) {}
  void Family(const std::string& name, const std::string& type) {
    out_ << "# TYPE " << name << " " << type << "\n";
  }
  // Samples of `name{labels}` every `step` seconds in [from, to] (offsets from the start; to < 0
  // means the end); `value(i, t)` gives the value of the i-th sample, or nothing to skip it.
  template <typename F>
  void Series(const std::string& name, const std::string& labels, int64_t step, F value,
              int64_t from = 0, int64_t to = -1) {
    int64_t last = to < 0 ? end_ - start_ : to;
    for (int64_t off = from, i = 0; off <= last; off += step, ++i) {
      double v;
      if (!value(i, start_ + off, &v)) continue;
      out_ << name << "{" << labels << "} " << Num(v) << " " << start_ + off << "\n";
    }
  }
  std::string Finish() { return out_.str() + "# EOF\n"; }
  int64_t span() const { return end_ - start_; }

 private:
  int64_t start_, end_;
  std::ostringstream out_;
};

// A counter that grows by about `per_sec` a second, with an optional reset at given steps.
auto Counter(uint64_t id, double per_sec, int64_t step, std::vector<int64_t> resets = {}) {
  return [=, v = 0.0](int64_t i, int64_t, double* out) mutable {
    for (int64_t r : resets)
      if (i == r) v = 0;
    v += per_sec * step * (0.5 + Noise(id, i));
    *out = std::round(v * 1000) / 1000;
    return true;
  };
}

void WriteHttpRequests(OpenMetricsWriter& w) {
  w.Family("http_requests", "counter");
  uint64_t id = 0;
  for (const char* job : {"api", "web"})
    for (const char* inst : {"host-1:9090", "host-2:9090", "host-3:9090"})
      for (const char* method : {"get", "post"})
        for (const char* code : {"200", "500"}) {
          std::string labels = std::string("job=\"") + job + "\",instance=\"" + inst +
                               "\",method=\"" + method + "\",code=\"" + code + "\"";
          double per_sec = (code[0] == '2' ? 2.0 : 0.1) * (1 + id % 5);
          auto c = Counter(100 + id, per_sec, 15,
                           id == 0 ? std::vector<int64_t>{200, 500} : std::vector<int64_t>{});
          if (id == 1) {  // a 15-minute gap: longer than the lookback
            w.Series("http_requests_total", labels, 15,
                     [c](int64_t i, int64_t t, double* v) mutable {
                       bool have = c(i, t, v);
                       return have && (i < 300 || i >= 360);
                     });
          } else if (id == 2) {  // starts 1h40m in
            w.Series("http_requests_total", labels, 15, c, 6000);
          } else if (id == 3) {  // ends 30 minutes before the end
            w.Series("http_requests_total", labels, 15, c, 0, w.span() - 1800);
          } else {
            w.Series("http_requests_total", labels, 15, c);
          }
          ++id;
        }
}

void WriteNodeCpu(OpenMetricsWriter& w) {
  w.Family("node_cpu_seconds", "counter");
  uint64_t id = 0;
  for (const char* inst : {"host-1:9100", "host-2:9100", "host-3:9100"})
    for (const char* cpu : {"0", "1"})
      for (const char* mode : {"idle", "user", "system"}) {
        std::string labels = std::string("job=\"node\",instance=\"") + inst + "\",cpu=\"" + cpu +
                             "\",mode=\"" + mode + "\"";
        double per_sec = mode[0] == 'i' ? 0.7 : mode[0] == 'u' ? 0.2 : 0.1;
        w.Series("node_cpu_seconds_total", labels, 30,
                 Counter(200 + id, per_sec, 30,
                         id == 4 ? std::vector<int64_t>{150} : std::vector<int64_t>{}));
        ++id;
      }
}

void WriteGauges(OpenMetricsWriter& w) {
  w.Family("temperature_celsius", "gauge");
  uint64_t id = 0;
  for (const char* inst : {"host-1", "host-2", "host-3"})
    for (const char* loc : {"indoor", "outdoor"}) {
      double base = loc[0] == 'i' ? 21.0 : -3.0;
      w.Series("temperature_celsius",
               std::string("job=\"sensors\",instance=\"") + inst + "\",location=\"" + loc + "\"",
               15, [=](int64_t i, int64_t, double* v) {
                 *v = std::round((base + 6 * std::sin(i / 40.0 + id) + Noise(300 + id, i)) * 100) /
                      100;
                 return true;
               });
      ++id;
    }
  w.Family("weird_gauge", "gauge");
  const double inf = INFINITY;
  for (auto [kind, f] : std::vector<std::pair<const char*, std::function<double(int64_t)>>>{
           {"nan", [](int64_t) { return NAN; }},
           {"pinf", [=](int64_t) { return inf; }},
           {"ninf", [=](int64_t) { return -inf; }},
           {"zero", [](int64_t) { return 0.0; }},
           {"neg", [](int64_t i) { return -1.5 - Noise(401, i); }},
           {"mixed", [=](int64_t i) {
              return i % 10 == 3 ? NAN : i % 17 == 5 ? inf : 2 + Noise(402, i);
            }}}) {
    w.Series("weird_gauge", std::string("job=\"weird\",kind=\"") + kind + "\"", 15,
             [f = f](int64_t i, int64_t, double* v) {
               *v = f(i);
               return true;
             });
  }
  w.Family("queue_length", "gauge");
  for (int q = 0; q < 60; ++q) {
    char name[8];
    std::snprintf(name, sizeof name, "q%02d", q);
    w.Series("queue_length",
             std::string("job=\"worker\",queue=\"") + name + "\",shard=\"" + std::to_string(q % 4) +
                 "\"",
             15, [q](int64_t i, int64_t, double* v) {
               *v = q * 1.37 + 20 * std::sin(i / 30.0 + q) + Noise(500 + q, i) / 1000;
               return true;
             });
  }
}

void WriteHistograms(OpenMetricsWriter& w) {
  static const char* kLe[] = {"0.05", "0.1", "0.25", "0.5", "1", "2.5", "5", "+Inf"};
  static const double kShare[] = {0.1, 0.15, 0.25, 0.2, 0.15, 0.08, 0.05, 0.02};
  w.Family("request_duration_seconds", "histogram");
  uint64_t id = 0;
  for (const char* job : {"api", "web"})
    for (const char* inst : {"host-1:9090", "host-2:9090"}) {
      std::string base = std::string("job=\"") + job + "\",instance=\"" + inst + "\"";
      int64_t reset = id == 3 ? 360 : -1;
      // The count of observations that fall in bucket b during step i.
      auto in_bucket = [id](int64_t i, int b) {
        return std::floor((5 + 20 * Noise(600 + id, i)) * kShare[b] * (1 + 0.5 * Noise(id, b)));
      };
      auto cumulative = [=](int64_t i, int upto) {
        double sum = 0;
        for (int64_t k = reset >= 0 && i >= reset ? reset : 0; k <= i; ++k)
          for (int b = 0; b <= upto; ++b) sum += in_bucket(k, b);
        return sum;
      };
      for (int b = 0; b < 8; ++b)
        w.Series("request_duration_seconds_bucket", base + ",le=\"" + kLe[b] + "\"", 15,
                 [=](int64_t i, int64_t, double* v) {
                   *v = cumulative(i, b);
                   return true;
                 });
      w.Series("request_duration_seconds_sum", base, 15, [=](int64_t i, int64_t, double* v) {
        *v = std::round(cumulative(i, 7) * 0.37 * 1000) / 1000;
        return true;
      });
      w.Series("request_duration_seconds_count", base, 15, [=](int64_t i, int64_t, double* v) {
        *v = cumulative(i, 7);
        return true;
      });
      ++id;
    }
  // Odd histograms (no TYPE: unknown): only a +Inf bucket, buckets that are not monotonic, no
  // +Inf bucket.
  struct B {
    const char* kind;
    const char* le;
    double base;
  };
  for (B b : std::vector<B>{{"inf_only", "+Inf", 10},
                            {"nonmono", "0.1", 5},
                            {"nonmono", "0.5", 9},
                            {"nonmono", "1", 7},
                            {"nonmono", "+Inf", 12},
                            {"noinf", "0.1", 1},
                            {"noinf", "1", 4}}) {
    w.Series("odd_histogram_bucket", std::string("kind=\"") + b.kind + "\",le=\"" + b.le + "\"", 60,
             [base = b.base](int64_t i, int64_t, double* v) {
               *v = base * (i + 1);
               return true;
             });
  }
}

void WriteSummaryAndInfo(OpenMetricsWriter& w) {
  w.Family("rpc_duration_seconds", "summary");
  for (int inst = 1; inst <= 2; ++inst) {
    std::string base = "job=\"api\",instance=\"host-" + std::to_string(inst) + ":9090\"";
    for (const char* q : {"0.5", "0.9", "0.99"})
      w.Series("rpc_duration_seconds", base + ",quantile=\"" + q + "\"", 30,
               [=](int64_t i, int64_t, double* v) {
                 *v = std::atof(q) * (0.2 + inst * 0.1) + Noise(700 + inst, i) / 50;
                 return true;
               });
    w.Series("rpc_duration_seconds_sum", base, 30, Counter(710 + inst, 0.8, 30));
    w.Series("rpc_duration_seconds_count", base, 30, Counter(720 + inst, 3, 30));
  }
  auto one = [](int64_t, int64_t, double* v) {
    *v = 1;
    return true;
  };
  w.Family("app_info", "gauge");
  int n = 0;
  for (const char* inst : {"host-1:9090", "host-2:9090", "host-3:9090"})
    w.Series("app_info",
             std::string("job=\"api\",instance=\"") + inst + "\",version=\"1." +
                 std::to_string(n++) + "\",owner=\"team-a\"",
             60, one);
  w.Family("app_info_dup", "gauge");
  for (const char* version : {"1.0", "2.0"})
    w.Series("app_info_dup",
             std::string("job=\"api\",instance=\"host-1:9090\",version=\"") + version + "\"", 60,
             one);
  // The same host names as temperature_celsius' instance label, under a different name.
  w.Family("machine_role", "gauge");
  for (auto [host, role] : std::vector<std::pair<const char*, const char*>>{
           {"host-1", "db"}, {"host-2", "web"}, {"host-3", "web"}})
    w.Series("machine_role", std::string("host=\"") + host + "\",role=\"" + role + "\"", 60, one);
  w.Family("up", "gauge");
  for (const char* job : {"api", "web"})
    for (const char* inst : {"host-1:9090", "host-2:9090", "host-3:9090"})
      w.Series("up", std::string("job=\"") + job + "\",instance=\"" + inst + "\"", 15,
               [down = std::string(job) == "web" && inst[5] == '2'](int64_t i, int64_t, double* v) {
                 *v = down && i > 600 ? 0 : 1;
                 return true;
               });
}

void WriteTimesAndGaps(OpenMetricsWriter& w) {
  w.Family("deploy_version", "gauge");
  const double versions[] = {3, 3, 4.5};
  for (int k = 0; k < 3; ++k)
    w.Series("deploy_version", "instance=\"host-" + std::to_string(k + 1) + "\"", 60,
             [v0 = versions[k]](int64_t, int64_t, double* v) {
               *v = v0;
               return true;
             });
  w.Family("date_value", "gauge");
  for (auto [kind, ts] : std::vector<std::pair<const char*, double>>{{"leap_day", 1709210096},
                                                                     {"new_year_eve", 1704067199},
                                                                     {"epoch", 0},
                                                                     {"year_2100", 4107542400},
                                                                     {"before_epoch", -1},
                                                                     {"summer", 1625378828.5}})
    w.Series("date_value", std::string("kind=\"") + kind + "\"", 60,
             [ts = ts](int64_t, int64_t, double* v) {
               *v = ts;
               return true;
             });
  // Last success time of a batch job that ran from 1h40m before the end until 20m before it.
  w.Family("batch_last_success_timestamp_seconds", "gauge");
  w.Series(
      "batch_last_success_timestamp_seconds", "job=\"batch\"", 60,
      [](int64_t i, int64_t t, double* v) {
        *v = t - 60 * (i % 7);
        return true;
      },
      w.span() - 6000, w.span() - 1200);
  // Samples from 12 to 9 minutes before the end only: present within the lookback, then gone.
  w.Family("short_lived", "gauge");
  w.Series(
      "short_lived", "job=\"batch\"", 15,
      [](int64_t i, int64_t, double* v) {
        *v = 100 + i;
        return true;
      },
      w.span() - 720, w.span() - 540);
  // One sample every 4 minutes: always inside the 5-minute lookback, at its edge.
  w.Family("sparse_gauge", "gauge");
  w.Series("sparse_gauge", "job=\"batch\"", 240, [](int64_t i, int64_t, double* v) {
    *v = std::sin(i) * 10;
    return true;
  });
  w.Family("slow_counter", "counter");
  w.Series("slow_counter_total", "job=\"batch\"", 60, Counter(800, 0.5, 60, {40, 41, 120}));
}

std::string GenerateOpenMetrics(int64_t end) {
  OpenMetricsWriter w(end - kSpanSec, end);
  WriteHttpRequests(w);
  WriteNodeCpu(w);
  WriteGauges(w);
  WriteHistograms(w);
  WriteSummaryAndInfo(w);
  WriteTimesAndGaps(w);
  return w.Finish();
}

// ---------------------------------------------------------------------------------------------
// The query list.

struct QueryCase {
  int line = 0;
  bool range = false;
  int64_t at_ms = 0;  // instant: offset from the end of the data
  int64_t start_ms = -3600 * 1000, end_ms = 0, step_ms = 60 * 1000;  // range: the same
  bool ordered = false;      // the series order is part of the answer
  bool msg_differs = false;  // allowlisted: error messages may differ
  bool post = false;         // sent as a POST form instead of GET
  std::string expr;
};

// "-1h30m", "+5m", "0", "15s", "250ms" → milliseconds; false if malformed.
bool ParseOffset(const std::string& s, int64_t* ms) {
  size_t i = 0;
  int sign = 1;
  if (i < s.size() && (s[i] == '-' || s[i] == '+')) sign = s[i++] == '-' ? -1 : 1;
  if (s.substr(i) == "0") return *ms = 0, true;
  int64_t total = 0;
  bool any = false;
  while (i < s.size()) {
    size_t j = i;
    while (j < s.size() && isdigit(static_cast<unsigned char>(s[j]))) ++j;
    if (j == i || j == s.size()) return false;
    int64_t n = std::stoll(s.substr(i, j - i));
    std::string unit = s.substr(j, s[j] == 'm' && j + 1 < s.size() && s[j + 1] == 's' ? 2 : 1);
    static const std::map<std::string, int64_t> kUnit = {
        {"ms", 1}, {"s", 1000}, {"m", 60000}, {"h", 3600000}, {"d", 86400000}};
    auto it = kUnit.find(unit);
    if (it == kUnit.end()) return false;
    total += n * it->second;
    i = j + unit.size();
    any = true;
  }
  *ms = sign * total;
  return any;
}

// Reads queries.txt (format in its header). Fails the test on a malformed line.
std::vector<QueryCase> LoadQueries(const std::string& path) {
  std::ifstream in(path);
  EXPECT_TRUE(in.good()) << "cannot read " << path;
  std::vector<QueryCase> out;
  std::string text;
  for (int line = 1; std::getline(in, text); ++line) {
    size_t first = text.find_first_not_of(" \t");
    if (first == std::string::npos || text[first] == '#') continue;
    size_t colon = text.find(':');
    if (colon == std::string::npos) {
      ADD_FAILURE() << path << ":" << line << ": no ':' between header and query";
      continue;
    }
    QueryCase q;
    q.line = line;
    q.expr = text.substr(colon + 1);
    q.expr = q.expr.substr(std::min(q.expr.size(), q.expr.find_first_not_of(' ')));
    std::istringstream header(text.substr(0, colon));
    std::vector<std::string> words;
    for (std::string w; header >> w;) words.push_back(w);
    bool ok = !words.empty() && (words[0] == "instant" || words[0] == "range");
    q.range = ok && words[0] == "range";
    size_t k = 1;
    if (ok && !q.range && k < words.size() && words[k] == "at")
      ok = k + 1 < words.size() && ParseOffset(words[k + 1], &q.at_ms), k += 2;
    auto is_flag = [](const std::string& w) {
      return w == "ordered" || w == "msg-differs" || w == "post";
    };
    if (ok && q.range && k + 2 < words.size() && !is_flag(words[k])) {
      ok = ParseOffset(words[k], &q.start_ms) && ParseOffset(words[k + 1], &q.end_ms) &&
           ParseOffset(words[k + 2], &q.step_ms);
      k += 3;
    }
    for (; ok && k < words.size(); ++k) {
      if (words[k] == "ordered")
        q.ordered = true;
      else if (words[k] == "msg-differs")
        q.msg_differs = true;
      else if (words[k] == "post")
        q.post = true;
      else
        ok = false;
    }
    if (!ok || q.expr.empty()) {
      ADD_FAILURE() << path << ":" << line << ": bad header or empty query: " << text;
      continue;
    }
    // sort() and sort_desc() at the top of an instant query define the order.
    if (!q.range && (q.expr.rfind("sort(", 0) == 0 || q.expr.rfind("sort_desc(", 0) == 0))
      q.ordered = true;
    out.push_back(q);
  }
  return out;
}

std::string Substitute(std::string expr, int64_t end) {
  for (auto [name, value] :
       {std::pair<std::string, int64_t>{"$END", end}, {"$START", end - kSpanSec}}) {
    for (size_t at; (at = expr.find(name)) != std::string::npos;)
      expr.replace(at, name.size(), std::to_string(value));
  }
  return expr;
}

std::string Seconds(int64_t ms) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.3f", ms / 1000.0);
  return buf;
}

// ---------------------------------------------------------------------------------------------
// The two servers and their answers.

struct Answer {
  int http = 0;  // 0: no answer
  nlohmann::json body;
};

// GET (or, with `post`, a POST form of the same parameters) on 127.0.0.1:port with an optional
// bearer token; any HTTP status is an answer.
Answer Get(int port, const std::string& token, const std::string& path, bool post = false) {
  httplib::Client cli("127.0.0.1", port);
  cli.set_connection_timeout(2, 0);
  cli.set_read_timeout(30, 0);
  if (!token.empty()) cli.set_bearer_token_auth(token.c_str());
  size_t q = path.find('?');
  auto res = post && q != std::string::npos
                 ? cli.Post(path.substr(0, q).c_str(), path.substr(q + 1),
                            "application/x-www-form-urlencoded")
                 : cli.Get(path.c_str());
  Answer a;
  if (!res) return a;
  a.http = res->status;
  a.body = nlohmann::json::parse(res->body, nullptr, false);
  if (a.body.is_discarded()) a.body = res->body;
  return a;
}

std::string QueryPath(const QueryCase& q, int64_t end_sec) {
  std::string expr = UrlEncode(Substitute(q.expr, end_sec));
  int64_t end_ms = end_sec * 1000;
  if (!q.range) return "/api/v1/query?query=" + expr + "&time=" + Seconds(end_ms + q.at_ms);
  return "/api/v1/query_range?query=" + expr + "&start=" + Seconds(end_ms + q.start_ms) +
         "&end=" + Seconds(end_ms + q.end_ms) + "&step=" + Seconds(q.step_ms);
}

// `steward tsdb import` then `steward serve --data-dir` on a free port. Skips (returns false
// with `why`) while the binary lacks the commands; fails when they exist but do not work.
class StewardServer {
 public:
  bool Start(Project& p, const std::string& om_file, std::string* why) {
    std::string data = p.dir() + "/steward-data";
    RunResult imp = p.Steward({"tsdb", "import", om_file, "--data-dir", data}, 120000);
    // CLI11's words for a command this binary does not have yet.
    missing_ = imp.exit_code != 0 && (imp.out + imp.err).find("not expected") != std::string::npos;
    if (imp.exit_code != 0) {
      *why =
          "steward tsdb import: exit " + std::to_string(imp.exit_code) + ": " + imp.out + imp.err;
      return false;
    }
    port_ = FreePort();
    log_ = p.dir() + "/steward-serve.log";
    pid_ = p.StewardBackground(
        {"serve", "--data-dir", data, "--listen", "127.0.0.1:" + std::to_string(port_)}, log_);
    bool up = PollUntil(
        [&] {
          token_ = ReadToken(p, data);
          if (token_.empty()) return false;
          int http = Get(port_, token_, "/api/v1/query?query=1").http;  // any answer but 401
          return http != 0 && http != 401;
        },
        30000);
    if (!up) {
      std::ifstream in(log_);
      std::string text((std::istreambuf_iterator<char>(in)), {});
      *why = "steward serve did not answer /api/v1/query within 30 s; its log ends:\n" +
             text.substr(text.size() > 2000 ? text.size() - 2000 : 0);
    }
    return up;
  }
  ~StewardServer() {
    if (pid_ > 0) kill(pid_, SIGKILL);
  }
  int port() const { return port_; }
  const std::string& token() const { return token_; }
  bool missing() const { return missing_; }  // the binary lacks `tsdb import`

 private:
  // The API token: in the state directory beside the (absent) stack file, or the data dir.
  static std::string ReadToken(Project& p, const std::string& data) {
    for (const std::string& path :
         {p.StateDir() + "/api.token", data + "/api.token", data + "/.steward/api.token"}) {
      std::ifstream in(path);
      std::string token;
      if (std::getline(in, token) && !token.empty()) return token;
    }
    return "";
  }
  int port_ = 0, pid_ = 0;
  bool missing_ = false;
  std::string token_, log_;
};

// ---------------------------------------------------------------------------------------------
// Comparing answers.

struct Series {
  std::string labels;  // the metric object as canonical JSON ("" for scalars and strings)
  std::vector<std::pair<double, std::string>> points;
};

struct Normal {
  std::string shape;  // resultType, or "error", or "invalid"
  std::string error_type, error;
  std::vector<Series> series;
};

Normal Normalize(const Answer& a) {
  Normal n;
  const auto& b = a.body;
  if (!b.is_object() || !b.contains("status")) {
    n.shape = "invalid";
    n.error = a.http == 0 ? "no answer"
                          : "HTTP " + std::to_string(a.http) + ", body " +
                                (b.is_string() ? b.get<std::string>() : b.dump()).substr(0, 200);
    return n;
  }
  if (b["status"] != "success") {
    n.shape = "error";
    n.error_type = b.value("errorType", "?");
    n.error = b.value("error", "?");
    return n;
  }
  const auto& data = b["data"];
  n.shape = data.value("resultType", "?");
  auto point = [](const nlohmann::json& p) {
    return std::pair<double, std::string>{p[0].get<double>(), p[1].get<std::string>()};
  };
  try {
    if (n.shape == "scalar" || n.shape == "string") {
      n.series.push_back({"", {point(data["result"])}});
    } else {
      for (const auto& s : data["result"]) {
        Series out{s["metric"].dump(), {}};
        if (s.contains("value")) out.points.push_back(point(s["value"]));
        for (const auto& p : s.value("values", nlohmann::json::array()))
          out.points.push_back(point(p));
        n.series.push_back(std::move(out));
      }
    }
  } catch (const nlohmann::json::exception& e) {
    n.shape = "invalid";
    n.error = std::string("malformed result: ") + e.what();
  }
  return n;
}

double ParseValue(const std::string& s) {
  if (s == "NaN") return NAN;
  if (s == "+Inf") return INFINITY;
  if (s == "-Inf") return -INFINITY;
  return std::strtod(s.c_str(), nullptr);
}

// Equal within 1e-9 relative; an absolute 1e-12 floor absorbs summation-order noise around
// zero. NaN equals NaN; infinities must be the same infinity.
bool SameValue(const std::string& a, const std::string& b) {
  if (a == b) return true;
  double x = ParseValue(a), y = ParseValue(b);
  if (std::isnan(x) || std::isnan(y)) return std::isnan(x) && std::isnan(y);
  if (std::isinf(x) || std::isinf(y)) return x == y;
  double diff = std::fabs(x - y);
  return diff <= 1e-9 * std::max(std::fabs(x), std::fabs(y)) || diff <= 1e-12;
}

// The first difference between two successful answers, or "" when they are the same.
std::string DiffSeries(std::vector<Series> want, std::vector<Series> got, bool ordered,
                       bool is_string) {
  auto by_labels = [](const Series& a, const Series& b) { return a.labels < b.labels; };
  if (!ordered) {
    std::sort(want.begin(), want.end(), by_labels);
    std::sort(got.begin(), got.end(), by_labels);
  }
  size_t i = 0;
  for (; i < want.size() && i < got.size(); ++i) {
    const Series &w = want[i], &g = got[i];
    if (w.labels != g.labels)
      return "series #" + std::to_string(i) + ": Prometheus " + w.labels + ", Steward " + g.labels;
    if (w.points.size() != g.points.size())
      return w.labels + ": Prometheus " + std::to_string(w.points.size()) + " points, Steward " +
             std::to_string(g.points.size());
    for (size_t k = 0; k < w.points.size(); ++k) {
      const auto &wp = w.points[k], &gp = g.points[k];
      bool same = wp.first == gp.first &&
                  (is_string ? wp.second == gp.second : SameValue(wp.second, gp.second));
      if (!same)
        return w.labels + " point " + std::to_string(k) + ": Prometheus [" +
               Seconds(wp.first * 1000) + ", " + wp.second + "], Steward [" +
               Seconds(gp.first * 1000) + ", " + gp.second + "]";
    }
  }
  if (i < want.size())
    return "Steward lacks " + want[i].labels + " (and " + std::to_string(want.size() - i - 1) +
           " more)";
  if (i < got.size())
    return "Steward has extra " + got[i].labels + " (and " + std::to_string(got.size() - i - 1) +
           " more)";
  return "";
}

std::string Short(const Answer& a) {
  std::string text = std::to_string(a.http) + " " +
                     (a.body.is_string() ? a.body.get<std::string>() : a.body.dump());
  return text.size() > 400 ? text.substr(0, 400) + "..." : text;
}

enum class Verdict { kIdentical, kAllowedMessageDiff, kMessageDiff, kDifferent };

Verdict Compare(const QueryCase& q, const Answer& prom, const Answer& ours, std::string* why) {
  Normal want = Normalize(prom), got = Normalize(ours);
  if (want.shape != got.shape || want.error_type != got.error_type) {
    *why = "Prometheus " + want.shape + (want.error_type.empty() ? "" : "/" + want.error_type) +
           ", Steward " + got.shape + (got.error_type.empty() ? "" : "/" + got.error_type) +
           (got.shape == "invalid" ? " (" + got.error + ")" : "");
    return Verdict::kDifferent;
  }
  if (prom.http != ours.http) {
    *why = "HTTP status: Prometheus " + std::to_string(prom.http) + ", Steward " +
           std::to_string(ours.http);
    return Verdict::kDifferent;
  }
  if (want.shape == "error") {
    if (want.error == got.error) return Verdict::kIdentical;
    *why = "error message: Prometheus \"" + want.error + "\", Steward \"" + got.error + "\"";
    return q.msg_differs ? Verdict::kAllowedMessageDiff : Verdict::kMessageDiff;
  }
  *why = DiffSeries(want.series, got.series, q.ordered, want.shape == "string");
  return why->empty() ? Verdict::kIdentical : Verdict::kDifferent;
}

// ---------------------------------------------------------------------------------------------
// The test.

namespace fs = std::filesystem;

// queries.txt: $STEWARD_PROMQL_QUERIES, beside this source file, or found from the working
// directory upwards (a build tree inside the source tree, or its CMakeCache's source dir).
std::string QueriesPath() {
  const std::string rel = "tests/conformance/promql/queries.txt";
  if (const char* env = getenv("STEWARD_PROMQL_QUERIES")) return env;
  fs::path here = fs::path(__FILE__).parent_path() / "promql/queries.txt";
  if (here.is_absolute() && fs::exists(here)) return here;
  for (fs::path dir = fs::current_path(); !dir.empty(); dir = dir.parent_path()) {
    if (fs::exists(dir / rel)) return dir / rel;
    std::ifstream cache(dir / "CMakeCache.txt");
    for (std::string line; std::getline(cache, line);)
      if (line.rfind("steward_SOURCE_DIR:STATIC=", 0) == 0)
        return line.substr(line.find('=') + 1) + "/" + rel;
    if (dir == dir.parent_path()) break;
  }
  return rel;
}

TEST(PromqlConformance, AnswersEveryListedQueryAsPrometheusDoes) {
  if (!HaveBinary("prometheus") || !HaveBinary("promtool"))
    GTEST_SKIP() << "prometheus or promtool missing: run scripts/setup";
  std::vector<QueryCase> queries = LoadQueries(QueriesPath());
  ASSERT_GE(queries.size(), 300u);
  Project p;
  int64_t now = std::chrono::duration_cast<std::chrono::seconds>(
                    std::chrono::system_clock::now().time_since_epoch())
                    .count();
  int64_t end = now / 3600 * 3600 - 3 * 3600;
  std::string om = p.dir() + "/data.om";
  std::ofstream(om) << GenerateOpenMetrics(end);
  std::string blocks = p.dir() + "/prometheus-data";
  std::string cmd = "promtool tsdb create-blocks-from openmetrics '" + om + "' '" + blocks +
                    "' > '" + p.dir() + "/promtool.log' 2>&1";
  ASSERT_EQ(std::system(cmd.c_str()), 0) << "promtool failed; see " << p.dir() << "/promtool.log";
  Prometheus prom;
  ASSERT_TRUE(prom.StartOnData(p.dir(), blocks)) << "see " << p.dir() << "/prometheus.log";

  // Steward's side, as soon as the binary has `tsdb import`; until then only Prometheus runs,
  // which still checks that the list and the data make sense (printed below).
  StewardServer steward;
  std::string why;
  bool compare = steward.Start(p, om, &why);
  if (!compare && !steward.missing()) FAIL() << why;

  int identical = 0, allowed_msg = 0, msg_diff = 0, different = 0, empty = 0, errors = 0;
  std::ostringstream failures, notes;
  for (const QueryCase& q : queries) {
    std::string path = QueryPath(q, end);
    Answer theirs = Get(prom.port(), "", path, q.post);
    ASSERT_NE(theirs.http, 0) << "Prometheus did not answer " << q.expr;
    Normal n = Normalize(theirs);
    if (n.shape == "error")
      ++errors;
    else if (n.series.empty()) {
      ++empty;
      notes << "  line " << q.line << " empty in Prometheus: " << q.expr << "\n";
    }
    if (!compare) continue;
    Answer ours = Get(steward.port(), steward.token(), path, q.post);
    Verdict v = Compare(q, theirs, ours, &why);
    if (v == Verdict::kIdentical) ++identical;
    if (v == Verdict::kAllowedMessageDiff) ++allowed_msg;
    if (v == Verdict::kIdentical && q.msg_differs)
      notes << "  line " << q.line << " is marked msg-differs but the messages match\n";
    if (v == Verdict::kMessageDiff || v == Verdict::kDifferent) {
      ++(v == Verdict::kMessageDiff ? msg_diff : different);
      failures << "line " << q.line << " " << (q.range ? "range" : "instant") << ": " << q.expr
               << "\n  " << why << "\n  Prometheus: " << Short(theirs)
               << "\n  Steward:    " << Short(ours) << "\n";
    }
  }
  std::cout << "PromQL conformance: " << queries.size() << " queries, " << errors << " errors and "
            << empty << " empty results in Prometheus\n"
            << notes.str();
  if (getenv("STEWARD_PROMQL_KEEP")) {
    fs::copy(p.dir(), "/tmp/promql-conformance-kept",
             fs::copy_options::recursive | fs::copy_options::overwrite_existing);
    std::cout << "kept in /tmp/promql-conformance-kept\n";
  }
  if (!compare) {
    GTEST_SKIP() << "steward has no `tsdb import` yet: only Prometheus' side ran";
  }
  std::cout << "  " << identical << " identical, " << allowed_msg
            << " allowlisted error-message differences, " << msg_diff
            << " other error-message differences (same errorType), " << different
            << " different answers\n";
  EXPECT_EQ(msg_diff + different, 0) << failures.str();
}

}  // namespace
}  // namespace steward::testing
