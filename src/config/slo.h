// The stack's `slos:` section: service level objectives. Each names an objective (a percentage
// of good events over a window) and how to measure the service level indicator — good/total
// queries, a probe of `monitors:`, or a latency threshold on a histogram. The alerting room turns
// each into recording rules and multi-window, multi-burn-rate alerts (alerting/slo.h).
//
// Plain data filled by slo_parser.cc. Thread safety: immutable after parsing.
#pragma once

#include <chrono>
#include <map>
#include <string>
#include <vector>

#include "config/source_location.h"

namespace steward::config {

enum class SliKind { kRatio, kProbe, kLatency };

struct Slo {
  std::string name;                 // [a-zA-Z0-9_-]+; the `slo` label of everything generated
  SourceLocation location;
  std::string service;              // optional; the `service` label (incidents group by it)
  std::string description;
  double objective = 99.9;          // percent of good events, 0 < objective < 100
  std::chrono::milliseconds window{30LL * 24 * 3600 * 1000};
  SliKind kind = SliKind::kRatio;
  // kRatio: PromQL for good and total events per second over `$window` (e.g.
  // sum(rate(http_requests_total{code!~"5.."}[$window]))); a bare selector means
  // sum(rate(SELECTOR[$window])).
  std::string good;
  std::string total;
  SourceLocation good_location, total_location;
  // kProbe: the monitor whose probe_success is the indicator.
  std::string probe;
  // kLatency: a histogram (base name with optional {matchers}) and the threshold that counts as
  // good; the threshold must be one of the histogram's bucket bounds.
  std::string latency_metric;
  double latency_threshold_seconds = 0;
  std::string page_severity = "critical";
  std::string ticket_severity = "warning";
  std::map<std::string, std::string> labels;  // added to the generated alerts
};

}  // namespace steward::config
