// An in-memory tsdb::Querier for engine tests: series are added with Prometheus' test-language
// notation for values ("0+10x5", "1 _ stale 3"), Select filters like the real store (sorted by
// labels, samples in [mint, maxt], the max_samples bound) and records the ranges it was asked
// for. Not thread-safe; one per test.
#pragma once

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <limits>
#include <sstream>
#include <string>
#include <utility>
#include <vector>

#include "tsdb/labels.h"
#include "tsdb/tsdb.h"

namespace steward::promql::testing {

inline tsdb::Labels L(std::vector<tsdb::Label> pairs) {
  auto l = tsdb::Labels::FromUnsorted(std::move(pairs));
  return l.ok() ? *l : tsdb::Labels();
}

class FakeQuerier : public tsdb::Querier {
 public:
  // Adds samples at 0, step, 2*step, ... from a value list: numbers, "Inf", "-Inf", "NaN",
  // "stale" (a staleness marker), "_" (no sample) and "a+bxN" / "a-bxN" (N+1 values from a).
  void Add(tsdb::Labels labels, const std::string& values, int64_t step_ms = 60'000,
           int64_t start_ms = 0) {
    std::vector<tsdb::Sample> samples;
    int64_t t = start_ms;
    std::istringstream in(values);
    std::string tok;
    while (in >> tok) {
      if (tok == "_") {
        t += step_ms;
        continue;
      }
      size_t x = tok.find('x');
      size_t sign = tok.find_first_of("+-", 1);
      if (x != std::string::npos && sign != std::string::npos && tok != "-Inf") {
        double a = Num(tok.substr(0, sign));
        double b = Num(tok.substr(sign + 1, x - sign - 1)) * (tok[sign] == '-' ? -1 : 1);
        int n = std::atoi(tok.c_str() + x + 1);
        for (int i = 0; i <= n; ++i, t += step_ms) samples.push_back({t, a + b * i});
        continue;
      }
      samples.push_back({t, Num(tok)});
      t += step_ms;
    }
    AddSamples(std::move(labels), std::move(samples));
  }

  void AddSamples(tsdb::Labels labels, std::vector<tsdb::Sample> samples) {
    series_.push_back(tsdb::Series{std::move(labels), std::move(samples)});
    sorted_ = false;
  }

  StatusOr<std::vector<tsdb::Series>> Select(const std::vector<tsdb::Matcher>& matchers,
                                             int64_t mint, int64_t maxt,
                                             int64_t max_samples) override {
    selects.push_back({mint, maxt});
    if (!sorted_) {
      std::sort(series_.begin(), series_.end(),
                [](const tsdb::Series& a, const tsdb::Series& b) { return a.labels < b.labels; });
      sorted_ = true;
    }
    std::vector<tsdb::Series> out;
    int64_t loaded = 0;
    for (const auto& s : series_) {
      bool match = std::all_of(matchers.begin(), matchers.end(), [&](const tsdb::Matcher& m) {
        return m.Matches(s.labels.Get(m.name()));
      });
      if (!match) continue;
      tsdb::Series r{s.labels, {}};
      for (const auto& smp : s.samples) {
        if (smp.t >= mint && smp.t <= maxt) r.samples.push_back(smp);
      }
      loaded += static_cast<int64_t>(r.samples.size());
      if (max_samples > 0 && loaded > max_samples) return FailedPrecondition("too many samples");
      if (!r.samples.empty()) out.push_back(std::move(r));
    }
    return out;
  }
  StatusOr<std::vector<tsdb::Labels>> SeriesLabels(const std::vector<tsdb::Matcher>&, int64_t,
                                                   int64_t) override {
    return Unavailable("not in the fake");
  }
  StatusOr<std::vector<std::string>> LabelNames(const std::vector<tsdb::Matcher>&, int64_t,
                                                int64_t) override {
    return Unavailable("not in the fake");
  }
  StatusOr<std::vector<std::string>> LabelValues(const std::string&,
                                                 const std::vector<tsdb::Matcher>&, int64_t,
                                                 int64_t) override {
    return Unavailable("not in the fake");
  }

  std::vector<std::pair<int64_t, int64_t>> selects;  // [mint, maxt] of every Select

 private:
  static double Num(const std::string& s) {
    if (s == "stale") return tsdb::StaleNaN();
    if (s == "Inf" || s == "+Inf") return std::numeric_limits<double>::infinity();
    if (s == "-Inf") return -std::numeric_limits<double>::infinity();
    if (s == "NaN") return std::numeric_limits<double>::quiet_NaN();
    return std::strtod(s.c_str(), nullptr);
  }
  std::vector<tsdb::Series> series_;
  bool sorted_ = true;
};

}  // namespace steward::promql::testing
