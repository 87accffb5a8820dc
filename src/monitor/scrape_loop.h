// ScrapeLoop: what happens to one target's scrape result — parsing the body into its Appender
// with the series cache, target labels, duplicate and staleness handling, and the report series.
// The cache keeps refs, not labels: a known series is appended by ref with empty labels, and
// when the TSDB answers NotFound (the head garbage-collected the series) or there is no ref yet,
// the labels are rebuilt from the parser (or, for a stale marker, from the cached series text).
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
#include <vector>

#include "base/clock.h"
#include "base/status.h"
#include "monitor/exposition.h"
#include "monitor/scrape_cache.h"
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
  // Heap bytes the loop holds for its series (cache, orders, staleness lists): for tests.
  size_t MemoryBytes() const;

 private:
  using Id = ScrapeCache::Id;
  struct ReportSeries {
    tsdb::SeriesRef ref = 0;
    tsdb::Labels labels;  // 5 per target: cheap enough to keep
  };

  Status AppendBody(std::string_view body, std::string_view content_type, int64_t ts,
                    ScrapeOutcome* out);
  Status AppendSample(std::string_view series_text, const ExpositionParser& p, int64_t ts,
                      ScrapeOutcome* out);
  template <typename MakeLabels>
  StatusOr<tsdb::SeriesRef> AppendByRef(tsdb::SeriesRef ref, int64_t t, double v,
                                        MakeLabels make_labels);
  StatusOr<tsdb::Labels> LabelsOfText(std::string_view series_text) const;
  Id Lookup(std::string_view series_text);
  void KeepOrder(bool succeeded);
  void DropEntriesOfThisIteration();
  int64_t AppendStaleMarkers(int64_t ts);
  void AppendReport(int64_t ts, const ScrapeOutcome& o);
  void FlushCache(bool succeeded);
  void FitIdLists();
  void ForgetRefs();

  tsdb::Db* db_;
  std::unique_ptr<tsdb::Appender> app_;
  tsdb::Labels target_labels_;
  bool honor_labels_;
  bool honor_timestamps_;

  // Iterations are 32-bit to keep cache entries small: 2^32 scrapes is 136 years at 1/s.
  ScrapeCache cache_;
  uint32_t iter_ = 0;
  size_t seen_this_iter_ = 0;
  size_t successful_count_ = 0;
  std::vector<Id> cur_;              // appended without timestamp in this scrape
  std::vector<Id> prev_;             // ... in the previous scrape
  uint32_t prev_iter_ = UINT32_MAX;  // the scrape prev_ was filled by
  size_t prev_hits_ = 0;             // entries of prev_ appended again in this scrape
  // The series of the last good body in body order, and the one being read.
  std::vector<Id> order_;
  std::vector<Id> next_order_;
  size_t cursor_ = 0;
  std::array<ReportSeries, 5> report_;
  int64_t last_ts_ = 0;
};

}  // namespace steward::monitor
