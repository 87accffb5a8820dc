// The series notation of Prometheus' test language, as `promtool test rules` reads input_series
// and exp_samples: a series selector `metric{label="v", ...}` followed by space-separated value
// items — plain numbers (decimal, exponents, Go's octal with a leading 0, Inf/NaN in any case,
// with an optional sign), `stale`, `_` (no sample), and the expanding forms `axn` (a repeated
// n+1 times), `a+bxn` / `a-bxn` (n+1 values from a, stepping by b) and `_xn` (n gaps).
//
// Contract: errors are Prometheus 2.42's for the same line, "1:COL: parse error: <what>" with
// COL 1-based in bytes (promtool reports every series line as line 1), e.g.
//   1:13: parse error: unexpected end of input in series values
//   1:11: parse error: unexpected identifier "foo" in series values, expected number or "stale"
// Labels keep empty values (as Prometheus' parser does) and are sorted by name; the metric
// name, when given, is the __name__ label. Input is untrusted: a repetition count is bounded
// (kMaxSeriesValues in total) so `1x99999999999` cannot exhaust memory.
// Thread safety: stateless functions.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "base/status.h"

namespace steward::alerting {

// Sorted by name; values may be empty (unlike tsdb::Labels, which drops them).
using LabelPairs = std::vector<std::pair<std::string, std::string>>;

// Most values one series line may expand to.
inline constexpr size_t kMaxSeriesValues = 10'000'000;

struct SequenceValue {
  double value = 0;
  bool omitted = false;  // `_`: no sample at this step
};

struct SeriesDesc {
  LabelPairs labels;
  std::vector<SequenceValue> values;
};

// "metric{a=\"b\"} 1+1x3 _ stale" → labels and the expanded values.
StatusOr<SeriesDesc> ParseSeriesDesc(std::string_view line);
// A series selector alone (Prometheus' parser.ParseMetric): `up{job="a"}`, `{a="b"}`, or "".
StatusOr<LabelPairs> ParseMetric(std::string_view text);

// Prometheus' labels.Labels.String(): {a="x", b="y"} with Go-quoted values; "{}" when empty.
std::string LabelsString(const LabelPairs& labels);
// Go's strconv.FormatFloat(v, 'E', -1, 64): "1E+00", "1.5E-03", "+Inf", "-Inf", "NaN".
std::string FormatFloatE(double v);
// Go's time.Duration.String() for whole milliseconds: "0s", "5m0s", "1h30m0s", "1.5s".
std::string GoDurationString(int64_t ms);

}  // namespace steward::alerting
