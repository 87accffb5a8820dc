// libFuzzer entry point for the scrape-body parser (src/monitor/exposition.h): every target's
// /metrics page is untrusted input. Any bytes must give samples or an InvalidArgument naming a
// line, never a crash, hang or out-of-bounds read. Both entry points run in every format and
// must agree; every parsed text sample, rendered again, must parse back to the same series and
// value (which pins the escape handling).
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

#include "metrics/registry.h"
#include "monitor/exposition.h"

namespace {

using steward::StatusOr;
using namespace steward::monitor;

void Check(bool ok) {
  if (!ok) std::abort();
}

// Walks the streaming parser and checks what it hands out; returns the number of samples.
int64_t Stream(std::string_view body, Format format, const StatusOr<ParseResult>& whole) {
  ExpositionParser p(body, format);
  int64_t n = 0;
  while (p.Next()) {
    ++n;
    const std::string_view series = p.series_text();
    Check(series.data() >= body.data() &&
          series.data() + series.size() <= body.data() + body.size());
    Check(series.starts_with(p.metric_name()) && !p.metric_name().empty());
    Check(p.line() >= 1);
    (void)p.type();
    (void)p.timestamp();
    if (n <= 64) {  // labels() allocates; keep the fuzzer fast on large bodies
      const steward::tsdb::Labels labels = p.labels();
      Check(labels.MetricName() == p.metric_name());
    }
  }
  Check(p.status().ok() == whole.ok());
  if (!p.status().ok()) {
    Check(p.status().message() == whole.status().message());
    Check(p.status().message().starts_with("line "));
    Check(p.line() >= 1);
  }
  return n;
}

std::string Render(const ParsedSample& s) {
  std::string line(s.labels.MetricName());
  line += '{';
  for (const steward::tsdb::Label& l : s.labels.items()) {
    if (l.name == steward::tsdb::kMetricName) continue;
    line += l.name + "=\"" + steward::metrics::EscapeLabelValue(l.value) + "\",";
  }
  line += "} " + steward::metrics::FormatValue(s.value);
  if (s.timestamp) line += " " + std::to_string(*s.timestamp);
  return line + "\n";
}

void RoundTrip(const ParseResult& r) {
  for (size_t i = 0; i < r.samples.size() && i < 16; ++i) {
    const ParsedSample& s = r.samples[i];
    if (s.timestamp && *s.timestamp < 0) continue;  // the text format has no negative times
    StatusOr<ParseResult> back = Parse(Render(s), Format::kText004);
    Check(back.ok() && back->samples.size() == 1);
    const ParsedSample& b = back->samples[0];
    Check(b.labels == s.labels && b.timestamp == s.timestamp);
    Check(std::isnan(s.value) ? std::isnan(b.value) : b.value == s.value);
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view body(reinterpret_cast<const char*>(data), size);
  for (Format format : {Format::kText004, Format::kOpenMetrics, Format::kAuto}) {
    StatusOr<ParseResult> whole = Parse(body, format);
    const int64_t streamed = Stream(body, format, whole);
    if (!whole.ok()) continue;
    Check(whole->duplicates >= 0);
    Check(static_cast<int64_t>(whole->samples.size()) + whole->duplicates == streamed);
    RoundTrip(*whole);
  }
  return 0;
}
