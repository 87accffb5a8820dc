// DoraMetrics: the report's rows as gauges (see dora_metrics.h).
#include "report/dora_metrics.h"

namespace steward::report {
namespace {

void SetOrRemove(metrics::Family<metrics::Gauge>& family, const std::vector<std::string>& labels,
                 std::optional<double> value) {
  if (value) {
    family.WithLabels(labels).Set(*value);
  } else {
    family.Remove(labels);
  }
}

std::optional<double> Seconds(std::optional<int64_t> ms) {
  if (!ms) return std::nullopt;
  return static_cast<double>(*ms) / 1000.0;
}

}  // namespace

DoraMetrics::DoraMetrics(metrics::Registry* registry)
    : frequency_(registry->AddGauge("steward_dora_deployment_frequency_per_day",
                                    "Changes that went live per day over the DORA window "
                                    "(service=\"\": all services).",
                                    {"service"})),
      lead_time_(registry->AddGauge("steward_dora_lead_time_seconds",
                                    "Commit to live, median and p90, over the DORA window.",
                                    {"service", "quantile"})),
      failure_ratio_(registry->AddGauge("steward_dora_change_failure_ratio",
                                        "Share of finished changes that failed, were rolled "
                                        "back or were blamed for an incident.",
                                        {"service"})),
      restore_(registry->AddGauge("steward_dora_time_to_restore_seconds",
                                  "Median time to restore (incidents and failed changes) over "
                                  "the DORA window.",
                                  {"service"})) {}

void DoraMetrics::Update(const DoraReport& report) {
  std::lock_guard<std::mutex> l(mu_);
  std::set<std::string> now;
  auto put = [&](const DoraRow& r) {
    now.insert(r.service);
    SetOrRemove(frequency_, {r.service}, r.deploys_per_day);
    SetOrRemove(lead_time_, {r.service, "0.5"}, Seconds(r.lead_time_p50_ms));
    SetOrRemove(lead_time_, {r.service, "0.9"}, Seconds(r.lead_time_p90_ms));
    SetOrRemove(failure_ratio_, {r.service}, r.change_failure_ratio);
    SetOrRemove(restore_, {r.service}, Seconds(r.time_to_restore_p50_ms));
  };
  for (const auto& r : report.services) put(r);
  put(report.overall);
  for (const auto& gone : exported_) {
    if (now.count(gone)) continue;
    frequency_.Remove({gone});
    lead_time_.Remove({gone, "0.5"});
    lead_time_.Remove({gone, "0.9"});
    failure_ratio_.Remove({gone});
    restore_.Remove({gone});
  }
  exported_ = std::move(now);
}

}  // namespace steward::report
