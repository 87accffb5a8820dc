// Internals of PromQL's functions (functions.h), shared by the functions_*.cc files: the
// registry each file adds its functions to, argument accessors, and the pieces of Go's standard
// library whose exact behaviour Prometheus' results depend on (math.Max/Min, Neumaier-Kahan
// summation, sort.Sort's pdqsort, time's calendar, fmt's %f).
//
// Contract: functions receive arguments already checked against their signature (count and
// kind), so they may std::get<> them directly. Thread safety: the registry is built once, on
// first use (thread-safe static init), and is read-only afterwards; every helper is stateless.
#pragma once

#include <cmath>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "promql/functions.h"

namespace steward::promql::internal {

using FunctionImpl = StatusOr<Vector> (*)(const FunctionContext& ctx,
                                          const std::vector<Value>& args);

// A function's argument kinds: 'v' instant vector, 'm' range vector, 's' scalar, 'S' string.
// `required` must all be present; then up to `optional.size()` more, and when `repeat_last` is
// set any number of further arguments of the last kind in `optional`.
struct FunctionEntry {
  FunctionImpl impl = nullptr;
  std::string_view required;
  std::string_view optional;
  bool repeat_last = false;
  RangeFunction range = nullptr;  // the fast path of a range function (functions.h)
};
using FunctionRegistry = std::unordered_map<std::string_view, FunctionEntry>;

inline FunctionEntry Entry(FunctionImpl impl, std::string_view required,
                           std::string_view optional = "", bool repeat_last = false) {
  return FunctionEntry{impl, required, optional, repeat_last, nullptr};
}

void AddMathFunctions(FunctionRegistry& r);       // functions.cc
void AddRangeFunctions(FunctionRegistry& r);      // functions_range.cc
void AddLabelFunctions(FunctionRegistry& r);      // functions_labels.cc
void AddHistogramFunctions(FunctionRegistry& r);  // functions_histogram.cc

// Typed access to checked arguments.
inline double ScalarArg(const std::vector<Value>& args, size_t i) {
  return std::get<Scalar>(args[i]).v;
}
inline const Vector& VectorArg(const std::vector<Value>& args, size_t i) {
  return std::get<Vector>(args[i]);
}
inline const Matrix& MatrixArg(const std::vector<Value>& args, size_t i) {
  return std::get<Matrix>(args[i]);
}
inline const std::string& StringArg(const std::vector<Value>& args, size_t i) {
  return std::get<String>(args[i]).v;
}

// "execution" errors, as Prometheus reports a function's panic (engine.h maps the code).
Status ExecutionError(std::string message);

// Go's math.Max / math.Min: ±Inf wins over NaN, NaN wins over numbers, +0 > -0.
double GoMax(double x, double y);
double GoMin(double x, double y);

// Go's math.Log on amd64, bit for bit (ln, log2 and log10 are built on it).
double GoLog(double x);

// Prometheus' kahanSumInc (Neumaier's variant): adds inc to (sum, c).
inline void KahanSumInc(double inc, double& sum, double& c) {
  double t = sum + inc;
  if (std::abs(sum) >= std::abs(inc)) {
    c += (sum - t) + inc;
  } else {
    c += (inc - t) + sum;
  }
  sum = t;
}

// fmt.Sprintf("%f", v): six decimals; "NaN", "+Inf", "-Inf".
std::string GoFormatF(double v);

// Go's sort.Sort (pdqsort of Go 1.19/1.20, which built Prometheus 2.42) over indices [0, n)
// with the given Less and Swap: reproduces Go's order exactly, including for ties and for
// Less functions that are not strict weak orders (Prometheus' NaN handling).
void GoSort(size_t n, const std::function<bool(size_t, size_t)>& less,
            const std::function<void(size_t, size_t)>& swap);

// The calendar fields of time.Unix(sec, 0).UTC(), computed like Go's time package (so even
// absurd inputs give Go's answers).
struct GoDate {
  int64_t year = 0;
  int month = 0;     // 1..12
  int day = 0;       // 1..31
  int year_day = 0;  // 1..366
  int weekday = 0;   // 0 = Sunday
  int hour = 0;
  int minute = 0;
  int days_in_month = 0;
};
GoDate GoUnixDate(int64_t sec);
// Go's int64(f) on amd64: truncation, with NaN and out-of-range giving math.MinInt64.
int64_t GoFloatToInt64(double f);

// Prometheus' quantile() (φ-quantile of values with linear interpolation): sorts values.
double Quantile(double q, std::vector<double>& values);

}  // namespace steward::promql::internal
