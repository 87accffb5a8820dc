// The values PromQL expressions evaluate to — scalar, string, instant vector, range vector
// (matrix) — as Prometheus defines them, shared by the engine, the functions and the HTTP API.
//
// Contract: timestamps are unix milliseconds. A Vector holds at most one sample per label set
// (the engine reports duplicates as Prometheus does); a Matrix's series are sorted by labels
// when returned from a range query. Plain values; no thread-safety concerns.
#pragma once

#include <cstdint>
#include <string>
#include <variant>
#include <vector>

#include "tsdb/labels.h"
#include "tsdb/tsdb.h"

namespace steward::promql {

using Point = tsdb::Sample;  // {t, v}

struct Scalar {
  int64_t t = 0;
  double v = 0;
};

struct String {
  int64_t t = 0;
  std::string v;
};

// One element of an instant vector.
struct Sample {
  tsdb::Labels metric;
  int64_t t = 0;
  double v = 0;
};
using Vector = std::vector<Sample>;

// One series of a range vector or of a range query's result.
struct Series {
  tsdb::Labels metric;
  std::vector<Point> points;  // ascending t
};
using Matrix = std::vector<Series>;

using Value = std::variant<Scalar, String, Vector, Matrix>;

}  // namespace steward::promql
