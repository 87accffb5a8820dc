// ScrapeManager: Prometheus' scrape loop for a set of targets, feeding the embedded TSDB.
//
// Contract (Prometheus' semantics, scrape/scrape.go):
// - Each target is scraped every `interval` at a stable per-target phase: the first scrape
//   waits (hash(target) ^ offset_seed) mod interval past the interval's wall-clock boundary, so
//   targets spread over the interval and keep their slot across restarts. A scrape still running
//   when the next one is due makes that tick skip. Timeouts are capped at the interval.
// - Every sample of a scrape gets the scrape's start time (unix ms; within 2 ms of the interval
//   grid it is snapped to the grid, as Prometheus does, so timestamps compress) unless the body
//   gave a timestamp and honor_timestamps is set.
// - Target labels are attached to every series. honor_labels=false: a scraped label that clashes
//   with a target label is kept as exported_<name> (exported_exported_<name> if that is taken);
//   honor_labels=true: the scraped value wins.
// - A series repeated in one body: the second sample is dropped and counted.
// - One Appender per target; a scrape is one batch: the body's samples, stale markers and the
//   report series, then Commit(). A failed fetch (HTTP status other than 200, timeout, network
//   error, body over the limit) or a malformed body rolls back the whole body, so nothing of it
//   is stored; the target's health is "down" with last_error (a parse error names the line).
// - Report series, labelled with the target labels only, after every scrape: up (1/0),
//   scrape_duration_seconds, scrape_samples_scraped, scrape_samples_post_metric_relabeling,
//   scrape_series_added.
// - Staleness: a series (without an explicit timestamp) of the previous scrape that is missing
//   from this one gets a StaleNaN at this scrape's timestamp; a failed scrape marks every series
//   of the previous scrape stale (up and scrape_* are written normally). A target removed by
//   SetTargets gets StaleNaN on all its series, report series included, at removal time.
// - Per target, a cache maps the body's raw series text to its SeriesRef, so a known series
//   costs a compare (bodies keep their order) or a hash lookup and an Append with the ref: no
//   label parsing or allocation. The cache holds no labels (the head has them): they are
//   rebuilt from the body, or from the cached text, only when the TSDB no longer knows a ref.
//
// Thread safety: SetTargets and Targets may be called from any thread. Fetching, parsing and
// appending all run on one internal event-loop thread (libcurl multi), which serves thousands
// of targets. Start once; Stop is final (no restart).
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <unordered_map>
#include <vector>

#include "base/clock.h"
#include "base/status.h"
#include "metrics/registry.h"
#include "tsdb/labels.h"
#include "tsdb/tsdb.h"

namespace steward::monitor {

class HttpFetcher;
class ScrapeLoop;
struct FetchResult;

struct TargetSpec {
  std::string job;
  std::string url;          // http(s)://host:port/path?params
  tsdb::Labels labels;      // target labels: job, instance, ... (names starting "__" ignored)
  tsdb::Labels discovered;  // __address__, __scheme__, __metrics_path__, job, ... (for display)
  Duration interval{15000};
  Duration timeout{10000};  // capped at interval
  bool honor_labels = false;
  bool honor_timestamps = true;
  std::string bearer_token;  // sent as "Authorization: Bearer"; never logged or shown
};

struct TargetHealth {
  TargetSpec spec;                 // bearer_token is always empty here
  std::string health = "unknown";  // "up" | "down" | "unknown" (not scraped yet)
  std::string last_error;          // "" when up
  WallTime last_scrape{};          // start of the last scrape; epoch when never
  double last_scrape_duration_seconds = 0;
  int64_t last_samples = 0;  // samples in the last body (scrape_samples_scraped)
};

struct ScrapeManagerOptions {
  Clock* clock = nullptr;                // nullptr: RealClock
  metrics::Registry* metrics = nullptr;  // nullptr: no self-metrics (registers families once)
  int64_t body_size_limit = 64LL << 20;  // a larger (decoded) body fails the scrape
  uint64_t offset_seed = 0;              // varies the phase of every target (HA pairs)
};

// The timestamp a scrape starting at `now` (unix ms) stores: the grid slot *aligned +
// k*interval nearest to now when within min(interval/100, 2 ms), else now (and the grid
// restarts there). Equal deltas make delta-of-delta timestamps cost one bit per sample.
int64_t AlignScrapeTimestamp(int64_t now, int64_t interval, int64_t* aligned);

class ScrapeManager {
 public:
  // db must outlive the manager.
  ScrapeManager(tsdb::Db* db, ScrapeManagerOptions options);
  ~ScrapeManager();  // Stop()
  ScrapeManager(const ScrapeManager&) = delete;
  ScrapeManager& operator=(const ScrapeManager&) = delete;

  // Starts the loop thread and schedules the targets set so far.
  Status Start();
  // Stops scraping at once (in-flight scrapes are abandoned, nothing half-written; no stale
  // markers are written, as when Prometheus shuts down). Idempotent.
  void Stop();

  // Replaces the whole target set. Identity = job + url + labels (+ the honor flags); a target
  // that keeps its identity keeps its cache, schedule and health, and takes the new interval,
  // timeout and token. Duplicates (same identity) are scraped once.
  void SetTargets(std::vector<TargetSpec> targets);

  // Every target of the current set, sorted by job then labels.
  std::vector<TargetHealth> Targets() const;

 private:
  struct Target;
  struct SelfMetrics;

  void Reconcile(std::vector<std::pair<uint64_t, TargetSpec>> specs);  // loop thread
  void Schedule(Target* t, MonoTime when);
  void Tick(uint64_t id, uint64_t generation);
  void OnScraped(uint64_t id, FetchResult& result);
  void Retire(Target* t);
  int64_t ScrapeTimestamp(Target* t);
  void RecordHealth(uint64_t id, const TargetHealth& update);

  tsdb::Db* db_;
  ScrapeManagerOptions options_;
  Clock* clock_;
  std::unique_ptr<HttpFetcher> fetcher_;
  std::unique_ptr<SelfMetrics> metrics_;

  mutable std::mutex mu_;
  bool started_ = false;                                  // guarded by mu_
  bool stopped_ = false;                                  // guarded by mu_
  std::vector<std::pair<uint64_t, TargetSpec>> pending_;  // before Start; guarded by mu_
  std::map<uint64_t, TargetHealth> health_;               // guarded by mu_

  // Loop thread only.
  std::unordered_map<uint64_t, std::unique_ptr<Target>> active_;
};

}  // namespace steward::monitor
