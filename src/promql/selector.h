// Series selectors: `http_requests_total{job="api", code=~"5.."}`, `{__name__=~"up|scrape_.*"}`
// — what /api/v1/series match[], /api/v1/labels match[] and `steward series` accept. The grammar
// and errors are those of PromQL's vector selector (no range, offset or @ here), so the same
// strings work against Prometheus.
//
// Contract: returns the matchers (the metric name becomes __name__="..."), or InvalidArgument
// "1:COL: parse error: unexpected <token>, expected <what>" in Prometheus' wording, plus
// Prometheus' rule that a selector needs at least one matcher that does not match "".
// Thread safety: stateless.
#pragma once

#include <string_view>
#include <vector>

#include "base/status.h"
#include "tsdb/tsdb.h"

namespace steward::promql {

StatusOr<std::vector<tsdb::Matcher>> ParseSeriesSelector(std::string_view input);

}  // namespace steward::promql
