// The parser of scrape bodies: Prometheus text exposition format 0.0.4 and the basics of
// OpenMetrics 1.0 text (# EOF, _created/_total conventions, exemplars skipped, unit lines).
//
// Contract: Parse() either returns every sample of the body or fails with InvalidArgument
// naming the 1-based line, the column and what was expected ("line 12: expected '=' after
// label name \"code\""); a failed body yields no samples at all, so a bad scrape never stores
// half a page. Input is untrusted: any byte sequence is handled without crashing, reading out of
// bounds or quadratic time (fuzzed by tests/fuzz/exposition_fuzz.cc).
// Semantics follow Prometheus' own parser: HELP/TYPE optional; values accept NaN, +Inf, -Inf,
// Inf and Go float syntax; timestamps are integer milliseconds (OpenMetrics: float seconds);
// label values unescape \\, \" and \n; duplicate label names in one sample are an error;
// the same series twice in one body is reported via duplicates (Prometheus drops the second).
// The grammar, the auto-detection rule, the error format and the deliberate differences from
// Prometheus are specified in docs/formats/exposition.md.
// Thread safety: stateless functions.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "base/status.h"
#include "tsdb/labels.h"

namespace steward::monitor {

enum class MetricType { kUnknown, kCounter, kGauge, kHistogram, kSummary, kGaugeHistogram, kInfo,
                        kStateSet, kUntyped };

struct ParsedSample {
  tsdb::Labels labels;               // includes __name__
  double value = 0;
  std::optional<int64_t> timestamp;  // unix ms, when the body gave one
};

struct MetricFamilyInfo {
  std::string name;
  MetricType type = MetricType::kUnknown;
  std::string help;
  std::string unit;
};

struct ParseResult {
  std::vector<ParsedSample> samples;   // in body order, duplicates removed
  std::vector<MetricFamilyInfo> families;  // from HELP/TYPE/UNIT lines (metadata)
  int64_t duplicates = 0;  // samples dropped: same labels and timestamp as an earlier one
  bool openmetrics = false;
};

// kAuto: OpenMetrics when the last line is "# EOF" or the first line is OpenMetrics-only
// ("# UNIT", or "# TYPE" with gaugehistogram/info/stateset/unknown); otherwise text 0.0.4.
enum class Format { kAuto, kText004, kOpenMetrics };

// Picks the format from a Content-Type header ("application/openmetrics-text; version=1.0.0"
// → OpenMetrics; anything else → text 0.0.4).
Format FormatFromContentType(std::string_view content_type);

// Convenience: the whole body at once (tests, the CLI, small bodies).
StatusOr<ParseResult> Parse(std::string_view body, Format format = Format::kAuto);

// The streaming form the scraper uses: no allocation per sample for series it has seen before.
// It keys its series cache on series_text() (the raw "name{labels}" bytes of the body, which
// are identical scrape after scrape) and calls labels() only for a series it does not know yet.
//   ExpositionParser p(body, format);
//   while (p.Next()) { ... p.series_text(), p.value(), p.timestamp() ... }
//   if (!p.status().ok()) { roll back everything appended from this body }
// Unlike Parse(), it yields a repeated series every time it appears; the caller dedups.
// The body must outlive the parser; views returned are into the body.
class ExpositionParser {
 public:
  ExpositionParser(std::string_view body, Format format);
  ~ExpositionParser();
  ExpositionParser(const ExpositionParser&) = delete;
  ExpositionParser& operator=(const ExpositionParser&) = delete;

  // Advances to the next sample line (metadata lines are consumed and recorded). False at the
  // end of the body or at the first error; status() tells which.
  bool Next();
  Status status() const;

  std::string_view series_text() const;   // e.g. http_requests_total{code="200",method="get"}
  double value() const;
  std::optional<int64_t> timestamp() const;
  // The sample's labels, unescaped, sorted, with __name__. Valid after Next() returned true.
  tsdb::Labels labels() const;
  std::string_view metric_name() const;
  // Type of the family the current sample belongs to (kUnknown without a TYPE line).
  MetricType type() const;
  const std::vector<MetricFamilyInfo>& families() const;
  bool openmetrics() const;
  int line() const;  // 1-based line of the current sample (or of the error)

 private:
  struct Impl;
  Impl* impl_;
};

std::string_view MetricTypeName(MetricType t);  // "counter", "gauge", ...

}  // namespace steward::monitor
