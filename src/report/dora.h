// DORA metrics: how often a team ships, how long a commit takes to go live, how often a change
// fails, and how long it takes to restore service — computed from what the state store recorded
// (deploys, their pipeline runs and releases, and incidents) over a window ending now, per
// service and overall. docs/reports.md defines each metric and the performance bands exactly.
//
// Contract:
//  - A deploy counts in the window when it finished in [now - window, now]. Rollback deploys
//    (strategy or trigger "rollback") are restorations, not changes: they are left out of the
//    frequency, lead time and change failure rate, and end the restore time of a failed change.
//  - Deployment frequency counts changes that went live ("succeeded", or "rolled-back": live until
//    a later rollback). Lead time is commit time → the finish of such a deploy; the commit time
//    is the deploy's, else its pipeline run's, else its release's; deploys without one add no
//    sample. Median and p90 interpolate linearly between closest ranks (the median of an even
//    count is the mean of the middle two).
//  - Change failure rate: changes that "failed" or were "rolled-back", or after which the first
//    incident of that service opened within DoraOptions::attribution (and no other deploy of
//    the service finished in between), over all finished changes (succeeded, failed,
//    rolled-back; "frozen", "interrupted" and running deploys are neither).
//  - Time to restore: resolved incidents opened in the window (opened → resolved), and failed or
//    rolled-back changes in the window (their finish → the next succeeded deploy of the
//    service); median. Unresolved ones are counted apart, never as a duration.
//  - A row without finished changes has no frequency, lead time or failure rate (nullopt,
//    shown as "no deploys"), never zeros that look like data.
//
// ComputeDora only reads the store; the report is a plain value. Thread safety: ComputeDora is
// as safe as the store it reads (SqliteStateStore: any thread).
#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "base/clock.h"
#include "base/status.h"
#include "state/state_store.h"

namespace steward::report {

struct DoraOptions {
  Duration window = std::chrono::hours(24 * 30);
  std::string service;  // empty: every service
  // An incident of a service opened this soon after one of its deploys went live is blamed on
  // that deploy (a change failure).
  Duration attribution = std::chrono::hours(1);
};

// The DORA performance cluster a value falls in (docs/reports.md gives the thresholds and their
// source); kNone when there is no value to classify.
enum class Band { kNone, kElite, kHigh, kMedium, kLow };
std::string_view BandName(Band band);  // "elite", "high", "medium", "low"; "" for kNone

Band FrequencyBand(double deploys_per_day);
Band LeadTimeBand(int64_t median_ms);
Band ChangeFailureBand(double ratio);
Band RestoreBand(int64_t median_ms);

// The q-quantile (0 <= q <= 1) of values, interpolating linearly between closest ranks;
// nullopt for no values. Sorts a copy.
std::optional<double> Quantile(std::vector<int64_t> values, double q);

struct DoraRow {
  std::string service;  // empty in DoraReport::overall

  // Deployment frequency.
  int64_t deploys = 0;                    // changes that went live in the window
  std::optional<double> deploys_per_day;  // nullopt: no finished changes
  std::optional<double> deploys_per_week;
  Band frequency_band = Band::kNone;

  // Lead time for changes.
  int64_t lead_time_samples = 0;
  std::optional<int64_t> lead_time_p50_ms;
  std::optional<int64_t> lead_time_p90_ms;
  Band lead_time_band = Band::kNone;

  // Change failure rate.
  int64_t finished_changes = 0;   // the denominator
  int64_t failed_changes = 0;     // failed, rolled back, or blamed for an incident
  int64_t incident_failures = 0;  // of failed_changes, those blamed for an incident only
  std::optional<double> change_failure_ratio;
  Band change_failure_band = Band::kNone;

  // Time to restore.
  int64_t incidents = 0;  // opened in the window
  int64_t unresolved_incidents = 0;
  int64_t unrestored_failures = 0;  // failed changes with no succeeded deploy after them yet
  int64_t restore_samples = 0;
  std::optional<int64_t> time_to_restore_p50_ms;
  Band restore_band = Band::kNone;

  bool HasDeploys() const { return finished_changes > 0; }
};

struct DoraReport {
  int64_t now_ms = 0;
  int64_t since_ms = 0;  // now - window
  int64_t window_ms = 0;
  int64_t attribution_ms = 0;
  std::string service_filter;
  std::vector<DoraRow> services;  // by name: every service with a deploy or incident in the window
  DoraRow overall;
};

// Reads deploys (and, for commit times, their runs and releases) and incidents from the store.
// kInvalidArgument for a window or attribution that is not positive; store errors annotated.
StatusOr<DoraReport> ComputeDora(state::StateStore* store, int64_t now_ms,
                                 const DoraOptions& options = {});

// Presentations (dora_format.cc). JSON: durations in seconds, ratios 0..1, null where the
// row has no value; see docs/reports.md. Text: an aligned table for a terminal. Markdown: a
// table for a wiki page or a pull request.
nlohmann::json ToJson(const DoraReport& report);
std::string ToText(const DoraReport& report);
std::string ToMarkdown(const DoraReport& report);

}  // namespace steward::report
