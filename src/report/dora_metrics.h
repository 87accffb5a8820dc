// DoraMetrics: the DORA report as Prometheus gauges on the daemon's /metrics, so dashboards and
// alert rules can use them (docs/reports.md lists the series).
//
//   steward_dora_deployment_frequency_per_day{service}
//   steward_dora_lead_time_seconds{service,quantile="0.5"|"0.9"}
//   steward_dora_change_failure_ratio{service}
//   steward_dora_time_to_restore_seconds{service}
//
// The overall row has service="" (Prometheus reads an empty label as no label). A value the
// report does not have (no deploys, no restores) has no series rather than a 0 that looks like
// data; a service that leaves the report loses its series.
//
// Contract: construct once per Registry (it registers the four families; a second DoraMetrics on
// the same Registry aborts, as any double registration does). Update() may be called from any
// thread, as often as the caller recomputes the report.
#pragma once

#include <mutex>
#include <set>
#include <string>

#include "metrics/registry.h"
#include "report/dora.h"

namespace steward::report {

class DoraMetrics {
 public:
  explicit DoraMetrics(metrics::Registry* registry);
  void Update(const DoraReport& report);

 private:
  metrics::Family<metrics::Gauge>& frequency_;
  metrics::Family<metrics::Gauge>& lead_time_;
  metrics::Family<metrics::Gauge>& failure_ratio_;
  metrics::Family<metrics::Gauge>& restore_;
  std::mutex mu_;
  std::set<std::string> exported_;  // services with series now, "" for overall
};

}  // namespace steward::report
