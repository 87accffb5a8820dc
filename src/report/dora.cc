// ComputeDora: the store's deploys and incidents folded into per-service rows (see dora.h).
#include "report/dora.h"

#include <algorithm>
#include <cmath>
#include <map>
#include <set>

namespace steward::report {
namespace {

constexpr int64_t kHourMs = 3'600'000;
constexpr int64_t kDayMs = 24 * kHourMs;
constexpr int64_t kWeekMs = 7 * kDayMs;
// DORA speaks of months; a month here is 30 days, six months 182 days.
constexpr int64_t kSixMonthsMs = 182 * kDayMs;

bool IsRollback(const state::DeployRecord& d) {
  return d.strategy == "rollback" || d.trigger == "rollback";
}
bool WentLive(const state::DeployRecord& d) {
  return d.status == "succeeded" || d.status == "rolled-back";
}
bool Failed(const state::DeployRecord& d) {
  return d.status == "failed" || d.status == "rolled-back";
}
bool Finished(const state::DeployRecord& d) { return WentLive(d) || d.status == "failed"; }

// What the rows are made of, before the quantiles are taken.
struct Tally {
  int64_t deploys = 0;
  std::vector<int64_t> lead_times;
  int64_t finished = 0;
  int64_t failed = 0;
  int64_t incident_failures = 0;
  int64_t incidents = 0;
  int64_t unresolved = 0;
  int64_t unrestored = 0;
  std::vector<int64_t> restores;

  void Add(const Tally& o) {
    deploys += o.deploys;
    lead_times.insert(lead_times.end(), o.lead_times.begin(), o.lead_times.end());
    finished += o.finished;
    failed += o.failed;
    incident_failures += o.incident_failures;
    incidents += o.incidents;
    unresolved += o.unresolved;
    unrestored += o.unrestored;
    restores.insert(restores.end(), o.restores.begin(), o.restores.end());
  }
};

std::optional<int64_t> Rounded(std::optional<double> v) {
  if (!v) return std::nullopt;
  return static_cast<int64_t>(std::llround(*v));
}

DoraRow Finish(std::string service, const Tally& t, int64_t window_ms) {
  DoraRow r;
  r.service = std::move(service);
  r.deploys = t.deploys;
  r.finished_changes = t.finished;
  r.failed_changes = t.failed;
  r.incident_failures = t.incident_failures;
  if (t.finished > 0) {
    r.deploys_per_day = static_cast<double>(t.deploys) * kDayMs / window_ms;
    r.deploys_per_week = static_cast<double>(t.deploys) * kWeekMs / window_ms;
    r.frequency_band = FrequencyBand(*r.deploys_per_day);
    r.change_failure_ratio = static_cast<double>(t.failed) / t.finished;
    r.change_failure_band = ChangeFailureBand(*r.change_failure_ratio);
  }
  r.lead_time_samples = static_cast<int64_t>(t.lead_times.size());
  r.lead_time_p50_ms = Rounded(Quantile(t.lead_times, 0.5));
  r.lead_time_p90_ms = Rounded(Quantile(t.lead_times, 0.9));
  if (r.lead_time_p50_ms) r.lead_time_band = LeadTimeBand(*r.lead_time_p50_ms);
  r.incidents = t.incidents;
  r.unresolved_incidents = t.unresolved;
  r.unrestored_failures = t.unrestored;
  r.restore_samples = static_cast<int64_t>(t.restores.size());
  r.time_to_restore_p50_ms = Rounded(Quantile(t.restores, 0.5));
  if (r.time_to_restore_p50_ms) r.restore_band = RestoreBand(*r.time_to_restore_p50_ms);
  return r;
}

// The commit time of a deploy: its own, else its pipeline run's, else its release's; 0: unknown.
// A run or release that is gone (pruned) just leaves the commit time unknown.
StatusOr<int64_t> CommitTime(state::StateStore* store, const state::DeployRecord& d) {
  if (d.commit_time_ms > 0) return d.commit_time_ms;
  if (d.run_id > 0) {
    auto run = store->GetPipelineRun(d.run_id);
    if (run.ok() && run->commit_time_ms > 0) return run->commit_time_ms;
    if (!run.ok() && run.status().code() != StatusCode::kNotFound) return run.status();
  }
  if (d.release > 0) {
    auto rel = store->GetRelease(d.service, d.release);
    if (rel.ok() && rel->commit_time_ms > 0) return rel->commit_time_ms;
    if (!rel.ok() && rel.status().code() != StatusCode::kNotFound) return rel.status();
  }
  return int64_t{0};
}

}  // namespace

std::string_view BandName(Band band) {
  switch (band) {
    case Band::kElite:
      return "elite";
    case Band::kHigh:
      return "high";
    case Band::kMedium:
      return "medium";
    case Band::kLow:
      return "low";
    case Band::kNone:
      break;
  }
  return "";
}

// The thresholds of the 2021 Accelerate State of DevOps report (docs/reports.md), with the gaps
// between its clusters given to the lower one.
Band FrequencyBand(double per_day) {
  if (per_day >= 1) return Band::kElite;           // on demand, several a day
  if (per_day >= 1.0 / 30) return Band::kHigh;     // at least once a month
  if (per_day >= 1.0 / 182) return Band::kMedium;  // at least once every six months
  return Band::kLow;
}

Band LeadTimeBand(int64_t ms) {
  if (ms < kHourMs) return Band::kElite;
  if (ms <= kWeekMs) return Band::kHigh;
  if (ms <= kSixMonthsMs) return Band::kMedium;
  return Band::kLow;
}

Band ChangeFailureBand(double ratio) {
  // The report puts elite at 0-15% and high, medium and low all at 16-30%: the rate alone
  // cannot tell those three apart, so 15-30% reads "high" and more than 30% "low".
  if (ratio <= 0.15) return Band::kElite;
  if (ratio <= 0.30) return Band::kHigh;
  return Band::kLow;
}

Band RestoreBand(int64_t ms) {
  if (ms < kHourMs) return Band::kElite;
  if (ms < kDayMs) return Band::kHigh;
  if (ms <= kWeekMs) return Band::kMedium;
  return Band::kLow;
}

std::optional<double> Quantile(std::vector<int64_t> values, double q) {
  if (values.empty()) return std::nullopt;
  std::sort(values.begin(), values.end());
  double rank = std::clamp(q, 0.0, 1.0) * static_cast<double>(values.size() - 1);
  size_t lo = static_cast<size_t>(std::floor(rank));
  size_t hi = std::min(lo + 1, values.size() - 1);
  double frac = rank - static_cast<double>(lo);
  return static_cast<double>(values[lo]) + frac * static_cast<double>(values[hi] - values[lo]);
}

StatusOr<DoraReport> ComputeDora(state::StateStore* store, int64_t now_ms,
                                 const DoraOptions& options) {
  if (options.window.count() <= 0)
    return InvalidArgument("DORA window must be positive, such as 30d");
  if (options.attribution.count() <= 0)
    return InvalidArgument("DORA incident attribution window must be positive, such as 1h");
  DoraReport report;
  report.now_ms = now_ms;
  report.window_ms = options.window.count();
  report.since_ms = now_ms - report.window_ms;
  report.attribution_ms = options.attribution.count();
  report.service_filter = options.service;
  auto in_window = [&](int64_t t) { return t >= report.since_ms && t <= now_ms; };

  // Every deploy of the service(s): a failed change's restoring deploy, or the deploy that came
  // between a change and an incident, may lie outside the window. Small teams deploy a few
  // thousand times a year at most, so reading them all is cheap.
  auto deploys_or = store->ListDeploys(options.service, 0, 0);
  if (!deploys_or.ok()) return deploys_or.status().Annotate("DORA report: list deploys");
  std::vector<state::DeployRecord> deploys = std::move(deploys_or).value();
  std::erase_if(deploys, [&](const state::DeployRecord& d) {
    return d.finished_at_ms <= 0 || d.finished_at_ms > now_ms;
  });
  std::stable_sort(deploys.begin(), deploys.end(), [](const auto& a, const auto& b) {
    return a.finished_at_ms != b.finished_at_ms ? a.finished_at_ms < b.finished_at_ms : a.id < b.id;
  });
  std::map<std::string, std::vector<const state::DeployRecord*>> by_service;
  for (const auto& d : deploys) by_service[d.service].push_back(&d);

  state::IncidentFilter filter;
  filter.service = options.service;
  filter.opened_since_ms = report.since_ms;
  auto incidents_or = store->ListIncidents(filter);
  if (!incidents_or.ok()) return incidents_or.status().Annotate("DORA report: list incidents");
  std::vector<state::IncidentRecord> incidents;
  for (auto& i : *incidents_or)
    if (in_window(i.opened_at_ms)) incidents.push_back(std::move(i));

  // Incidents blamed on a change: the last deploy of the service that finished at or before the
  // incident opened, if it is a change that went live less than `attribution` before.
  std::set<int64_t> blamed;
  for (const auto& inc : incidents) {
    auto it = by_service.find(inc.service);
    if (it == by_service.end()) continue;
    const state::DeployRecord* last = nullptr;
    for (const auto* d : it->second)
      if (d->finished_at_ms <= inc.opened_at_ms) last = d;
    if (last && !IsRollback(*last) && WentLive(*last) &&
        inc.opened_at_ms - last->finished_at_ms <= report.attribution_ms)
      blamed.insert(last->id);
  }

  std::map<std::string, Tally> tallies;
  for (const auto& [service, list] : by_service) {
    for (size_t k = 0; k < list.size(); ++k) {
      const state::DeployRecord& d = *list[k];
      if (IsRollback(d) || !Finished(d) || !in_window(d.finished_at_ms)) continue;
      Tally& t = tallies[service];
      ++t.finished;
      if (WentLive(d)) {
        ++t.deploys;
        ASSIGN_OR_RETURN(int64_t commit_ms, CommitTime(store, d));
        // A commit stamped by a clock ahead of ours would give a negative lead time: call it 0.
        if (commit_ms > 0)
          t.lead_times.push_back(std::max<int64_t>(0, d.finished_at_ms - commit_ms));
      }
      if (Failed(d)) {
        ++t.failed;
        const state::DeployRecord* next = nullptr;
        for (size_t n = k + 1; n < list.size() && !next; ++n)
          if (list[n]->status == "succeeded" && list[n]->finished_at_ms > d.finished_at_ms)
            next = list[n];
        if (next) {
          t.restores.push_back(next->finished_at_ms - d.finished_at_ms);
        } else {
          ++t.unrestored;
        }
      } else if (blamed.count(d.id)) {
        ++t.failed;
        ++t.incident_failures;
      }
    }
  }
  for (const auto& inc : incidents) {
    Tally& t = tallies[inc.service];
    ++t.incidents;
    if (inc.resolved_at_ms > 0 && inc.resolved_at_ms >= inc.opened_at_ms) {
      t.restores.push_back(inc.resolved_at_ms - inc.opened_at_ms);
    } else {
      ++t.unresolved;
    }
  }

  Tally all;
  for (const auto& [service, t] : tallies) {
    all.Add(t);
    // Incidents without a service count overall only: there is no row to put them in.
    if (!service.empty()) report.services.push_back(Finish(service, t, report.window_ms));
  }
  report.overall = Finish("", all, report.window_ms);
  return report;
}

}  // namespace steward::report
