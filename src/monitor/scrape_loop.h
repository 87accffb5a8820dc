// ScrapeLoop: what happens to one target's scrape result — parsing the body into its Appender
// with the series cache, target labels, duplicate and staleness handling, and the report series.
// No I/O and no scheduling: the ScrapeManager fetches bodies and calls Ingest, and tests call it
// directly with inline bodies. Internal to the monitor room.
//
// Thread safety: none; one thread at a time (the manager's loop thread).
#pragma once

#include <array>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "base/clock.h"
#include "base/status.h"
#include "monitor/exposition.h"
#include "tsdb/labels.h"
#include "tsdb/tsdb.h"

namespace steward::monitor {

struct ScrapeOutcome {
  Status error;                 // fetch or parse error (the scrape is "down"); OK when up
  Status commit;                // the Appender's Commit, when it failed
  int64_t scraped = 0;          // samples in the body (scrape_samples_scraped)
  int64_t post_relabel = 0;     // scrape_samples_post_metric_relabeling
  int64_t series_added = 0;     // scrape_series_added
  int64_t duplicates = 0;       // repeated series dropped
  int64_t stale_markers = 0;    // StaleNaN written for series that disappeared
  int64_t committed = 0;        // samples the TSDB took (body, markers and report)
  int64_t out_of_order = 0;     // samples the TSDB dropped as too old
  double duration_seconds = 0;  // as reported in scrape_duration_seconds
};

// Labels of a scraped series with the target's labels attached (see ScrapeManager's contract).
StatusOr<tsdb::Labels> AttachTargetLabels(const tsdb::Labels& scraped, const tsdb::Labels& target,
                                          bool honor_labels);

class ScrapeLoop {
 public:
  // target_labels: the target's public labels. The appender comes from db.
  ScrapeLoop(tsdb::Db* db, tsdb::Labels target_labels, bool honor_labels, bool honor_timestamps);
  ~ScrapeLoop();

  // One scrape: `fetch` is the fetch's status (not OK: body ignored, the scrape failed);
  // `ts` the scrape timestamp (unix ms); `start` when the scrape began (duration is measured
  // until the body is appended, as in Prometheus).
  ScrapeOutcome Ingest(const Status& fetch, std::string_view body, std::string_view content_type,
                       int64_t ts, Clock* clock, MonoTime start);

  // The target is gone: StaleNaN at ts for every series of the last scrape and for the report
  // series, committed. Nothing when the target was never scraped.
  Status MarkEverythingStale(int64_t ts);

  int64_t last_timestamp() const { return last_ts_; }
  size_t cached_series() const { return cache_.size(); }

 private:
  struct Entry {
    tsdb::SeriesRef ref = 0;
    tsdb::Labels labels;
    uint64_t seen_iter = 0;     // last scrape whose body had this series
    uint64_t tracked_iter = 0;  // last scrape that appended it without a timestamp
    uint64_t created_iter = 0;
    uint32_t order_pos = UINT32_MAX;  // index in the body order being built / last built
  };
  struct OrderItem {
    uint32_t offset;  // of the series text in the order's text
    uint32_t len;
    Entry* entry;
  };
  struct StringHash {
    using is_transparent = void;
    size_t operator()(std::string_view s) const { return std::hash<std::string_view>{}(s); }
  };
  using Cache = std::unordered_map<std::string, Entry, StringHash, std::equal_to<>>;

  Status AppendBody(std::string_view body, std::string_view content_type, int64_t ts,
                    ScrapeOutcome* out);
  Status AppendSample(std::string_view series_text, const ExpositionParser& p, int64_t ts,
                      ScrapeOutcome* out);
  Entry* Lookup(std::string_view series_text);
  void KeepOrder(bool succeeded);
  void DropEntriesOfThisIteration();
  int64_t AppendStaleMarkers(int64_t ts);
  void AppendReport(int64_t ts, const ScrapeOutcome& o);
  void FlushCache(bool succeeded);
  void ForgetRefs();

  tsdb::Db* db_;
  std::unique_ptr<tsdb::Appender> app_;
  tsdb::Labels target_labels_;
  bool honor_labels_;
  bool honor_timestamps_;

  Cache cache_;
  uint64_t iter_ = 0;
  size_t seen_this_iter_ = 0;
  size_t successful_count_ = 0;
  std::vector<Entry*> cur_;          // appended without timestamp in this scrape
  std::vector<Entry*> prev_;         // ... in the previous scrape
  uint64_t prev_iter_ = UINT64_MAX;  // the scrape prev_ was filled by
  size_t prev_hits_ = 0;             // entries of prev_ appended again in this scrape
  // The series of the last good body in body order, and the one being read.
  std::vector<OrderItem> order_;
  std::string order_text_;
  std::vector<OrderItem> next_order_;
  std::string next_order_text_;
  size_t cursor_ = 0;
  std::array<Entry, 5> report_;
  int64_t last_ts_ = 0;
};

}  // namespace steward::monitor
