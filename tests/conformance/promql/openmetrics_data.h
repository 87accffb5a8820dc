// Test data for the PromQL conformance suite (promql_compare_test.cc): one deterministic
// OpenMetrics text (timestamps in seconds, `# EOF`) that both `promtool tsdb
// create-blocks-from openmetrics` and `steward tsdb import` read. What the series are is listed
// in queries.txt's header; only `end` moves with the clock, everything else is fixed so a
// failure can be reproduced. Header-only: included by that one test.
#pragma once

#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <functional>
#include <sstream>
#include <string>
#include <utility>
#include <vector>

namespace steward::testing::promql_conformance {

inline constexpr int64_t kSpanSec = 3 * 3600;  // the data covers [end - kSpanSec, end]

// ---------------------------------------------------------------------------------------------
// The data: deterministic, so a failure can be reproduced; only `end` moves with the clock.

// A value in [0, 1) that depends only on (a, b, c): a small integer hash, no global state.
inline double Noise(uint64_t a, uint64_t b, uint64_t c = 0) {
  uint64_t x = a * 0x9E3779B97F4A7C15ull ^ (b + 0x632BE59BD9B4E019ull) * 0xC2B2AE3D27D4EB4Full ^
               c * 0x165667B19E3779F9ull;
  x ^= x >> 29;
  x *= 0xBF58476D1CE4E5B9ull;
  x ^= x >> 32;
  return static_cast<double>(x >> 11) / 9007199254740992.0;
}

inline std::string Num(double v) {
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
inline auto Counter(uint64_t id, double per_sec, int64_t step, std::vector<int64_t> resets = {}) {
  return [=, v = 0.0](int64_t i, int64_t, double* out) mutable {
    for (int64_t r : resets)
      if (i == r) v = 0;
    v += per_sec * step * (0.5 + Noise(id, i));
    *out = std::round(v * 1000) / 1000;
    return true;
  };
}

inline void WriteHttpRequests(OpenMetricsWriter& w) {
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

inline void WriteNodeCpu(OpenMetricsWriter& w) {
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

inline void WriteGauges(OpenMetricsWriter& w) {
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

inline void WriteHistograms(OpenMetricsWriter& w) {
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
                            {"noinf", "1", 4},
                            {"dupe_le", "0.5", 2},
                            {"dupe_le", "1", 3},
                            {"dupe_le", "1.0", 4},
                            {"dupe_le", "+Inf", 6},
                            {"spelled_le", "5e-1", 1},
                            {"spelled_le", "1.0e0", 2},
                            {"spelled_le", "+inf", 3}}) {
    w.Series("odd_histogram_bucket", std::string("kind=\"") + b.kind + "\",le=\"" + b.le + "\"", 60,
             [base = b.base](int64_t i, int64_t, double* v) {
               *v = base * (i + 1);
               return true;
             });
  }
}

inline void WriteSummaryAndInfo(OpenMetricsWriter& w) {
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

inline void WriteTimesAndGaps(OpenMetricsWriter& w) {
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

// Values that stress numerics: near the double range (sums overflow, means must not),
// a large offset with small variation (naive variance cancels), and values whose text form
// is tricky (count_values turns them into label values).
inline void WriteNumericEdges(OpenMetricsWriter& w) {
  w.Family("huge_gauge", "gauge");
  const std::pair<const char*, double> huge[] = {
      {"a", 1e308}, {"b", 1.5e308}, {"c", 1.7e308}, {"d", -1e308}};
  for (auto [kind, v0] : huge)
    w.Series("huge_gauge", std::string("kind=\"") + kind + "\"", 30,
             [v0 = v0](int64_t i, int64_t, double* v) {
               *v = v0 * (1 - (i % 5) * 0.01);
               return true;
             });
  w.Family("big_offset_gauge", "gauge");
  for (int k = 0; k < 5; ++k)
    w.Series("big_offset_gauge", "instance=\"host-" + std::to_string(k + 1) + "\"", 15,
             [k](int64_t i, int64_t, double* v) {
               *v = 1e9 + k * 0.001 + Noise(900 + k, i) * 1e-3;
               return true;
             });
  w.Family("format_gauge", "gauge");
  const std::pair<const char*, double> forms[] = {{"sum", 0.1 + 0.2},
                                                  {"big", 1e21},
                                                  {"small", 1e-7},
                                                  {"neg_zero", -0.0},
                                                  {"int", 3},
                                                  {"third", 1.0 / 3},
                                                  {"large_int", 123456789012345678.0},
                                                  {"e20", 1e20},
                                                  {"tiny", 5e-324},
                                                  {"max", 1.7976931348623157e308}};
  for (auto [kind, v0] : forms)
    w.Series("format_gauge", std::string("kind=\"") + kind + "\"", 60,
             [v0 = v0](int64_t, int64_t, double* v) {
               *v = v0;
               return true;
             });
}

// Label values with escapes and UTF-8, and names in recording-rule style (with colons).
inline void WriteNamesAndEscapes(OpenMetricsWriter& w) {
  auto seven = [](int64_t i, int64_t, double* v) {
    *v = 7 + i % 3;
    return true;
  };
  w.Family("escape_gauge", "gauge");
  w.Series("escape_gauge", R"(path="/a\"b",text="line\nbreak",utf="héllo ✓",_x="1")", 60, seven);
  w.Series("escape_gauge", R"(path="C:\\dir",text="",utf="日本",_x="2")", 60, seven);
  w.Family("job:requests:rate5m", "gauge");
  for (const char* job : {"api", "web"})
    w.Series("job:requests:rate5m", std::string("job=\"") + job + "\"", 60, seven);
}

inline std::string GenerateOpenMetrics(int64_t end) {
  OpenMetricsWriter w(end - kSpanSec, end);
  WriteHttpRequests(w);
  WriteNodeCpu(w);
  WriteGauges(w);
  WriteHistograms(w);
  WriteSummaryAndInfo(w);
  WriteTimesAndGaps(w);
  WriteNumericEdges(w);
  WriteNamesAndEscapes(w);
  return w.Finish();
}

}  // namespace steward::testing::promql_conformance
