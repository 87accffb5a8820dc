// Series selectors: `http_requests_total{job="api", code=~"5.."}`, `{__name__=~"up|scrape_.*"}`
// — what /api/v1/series match[], /api/v1/labels match[] and `steward series` accept. This is
// Prometheus' ParseMetricSelector over the expression parser (parser.h): the same lexer, the
// same vector-selector rules, so the same strings work, and fail, as against Prometheus.
//
// Contract: returns the matchers (the metric name becomes __name__="..."), or InvalidArgument
// with Prometheus' message: "1:COL: parse error: ..." as for an expression, where anything but
// a bare selector (`up + 1`, `up[5m]`, `up offset 1m`, `(up)`) is "unexpected <token>"; and, as
// Prometheus' API checks each match[], "match[] must contain at least one non-empty matcher"
// when every matcher matches "". Thread safety: stateless.
#pragma once

#include <string_view>
#include <vector>

#include "base/status.h"
#include "tsdb/tsdb.h"

namespace steward::promql {

StatusOr<std::vector<tsdb::Matcher>> ParseSeriesSelector(std::string_view input);

}  // namespace steward::promql
