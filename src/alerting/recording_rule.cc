// Recording rules (Prometheus' rules/recording.go): the query result renamed to the record name
// with the rule's labels applied.
#include <string>
#include <utility>

#include "alerting/rule_eval_internal.h"

namespace steward::alerting::internal {

StatusOr<promql::Vector> RecordingOutput(const Rule& rule, promql::Vector in, int64_t t_ms,
                                         int64_t limit) {
  SeriesSet seen;
  seen.reserve(in.size());
  for (promql::Sample& s : in) {
    LabelBuilder b(std::move(s.metric));
    b.Set(tsdb::kMetricName, rule.name);
    for (const auto& [name, value] : rule.labels) b.Set(name, value);
    s.metric = std::move(b).Build();
    s.t = t_ms;
    if (!seen.insert(s.metric).second) {
      return FailedPrecondition(
          "vector contains metrics with the same labelset after applying rule labels");
    }
  }
  if (limit > 0 && static_cast<int64_t>(in.size()) > limit) {
    return FailedPrecondition("exceeded limit of " + std::to_string(limit) + " with " +
                              std::to_string(in.size()) + " series");
  }
  return in;
}

}  // namespace steward::alerting::internal
