#include "monitor/scrape_loop.h"

#include <algorithm>
#include <cstring>
#include <optional>

namespace steward::monitor {
namespace {

constexpr std::string_view kExportedPrefix = "exported_";
const tsdb::Labels kNoLabels;  // what a ref append passes: the TSDB looks the series up by ref
constexpr std::array<std::string_view, 5> kReportNames = {
    "up", "scrape_duration_seconds", "scrape_samples_scraped",
    "scrape_samples_post_metric_relabeling", "scrape_series_added"};

std::string_view GetLabel(const std::vector<tsdb::Label>& ls, std::string_view name) {
  for (const auto& l : ls) {
    if (l.name == name) return l.value;
  }
  return {};
}

void SetLabel(std::vector<tsdb::Label>* ls, std::string_view name, std::string_view value) {
  for (auto& l : *ls) {
    if (l.name == name) {
      l.value.assign(value);
      return;
    }
  }
  ls->push_back(tsdb::Label{std::string(name), std::string(value)});
}

// The target's public labels: names starting "__" are for discovery only.
tsdb::Labels PublicLabels(const tsdb::Labels& labels) {
  std::vector<tsdb::Label> out;
  for (const auto& l : labels.items()) {
    if (l.name.rfind("__", 0) != 0) out.push_back(l);
  }
  return tsdb::Labels::FromSorted(std::move(out));
}

}  // namespace

StatusOr<tsdb::Labels> AttachTargetLabels(const tsdb::Labels& scraped, const tsdb::Labels& target,
                                          bool honor_labels) {
  std::vector<tsdb::Label> out = scraped.items();
  if (honor_labels) {
    for (const auto& t : target.items()) {
      if (!scraped.Has(t.name)) out.push_back(t);
    }
    return tsdb::Labels::FromUnsorted(std::move(out));
  }
  std::vector<tsdb::Label> clashes;
  for (const auto& t : target.items()) {
    std::string_view mine = scraped.Get(t.name);
    if (!mine.empty()) clashes.push_back(tsdb::Label{t.name, std::string(mine)});
    SetLabel(&out, t.name, t.value);
  }
  // Shorter names first, so exported_a is taken before exported_exported_a is considered.
  std::stable_sort(clashes.begin(), clashes.end(),
                   [](const auto& a, const auto& b) { return a.name.size() < b.name.size(); });
  for (const auto& c : clashes) {
    std::string name = c.name;
    do {
      name.insert(0, kExportedPrefix);
    } while (!GetLabel(out, name).empty());
    SetLabel(&out, name, c.value);
  }
  return tsdb::Labels::FromUnsorted(std::move(out));
}

ScrapeLoop::ScrapeLoop(tsdb::Db* db, tsdb::Labels target_labels, bool honor_labels,
                       bool honor_timestamps)
    : db_(db),
      app_(db->NewAppender()),
      target_labels_(PublicLabels(target_labels)),
      honor_labels_(honor_labels),
      honor_timestamps_(honor_timestamps) {
  for (size_t i = 0; i < report_.size(); ++i) {
    report_[i].labels = target_labels_.With(tsdb::kMetricName, kReportNames[i]);
  }
}

ScrapeLoop::~ScrapeLoop() = default;

ScrapeOutcome ScrapeLoop::Ingest(const Status& fetch, std::string_view body,
                                 std::string_view content_type, int64_t ts, Clock* clock,
                                 MonoTime start) {
  ScrapeOutcome o;
  ++iter_;
  cur_.clear();
  seen_this_iter_ = 0;
  prev_hits_ = 0;
  cursor_ = 0;
  o.error = fetch;
  bool body_appended = false;
  if (fetch.ok() && !body.empty()) {
    Status st = AppendBody(body, content_type, ts, &o);
    if (st.ok()) {
      body_appended = true;
    } else {
      // Nothing of a bad body is stored; every series of the last scrape goes stale below.
      app_->Rollback();
      DropEntriesOfThisIteration();
      o.error = st;
    }
  }
  o.stale_markers = AppendStaleMarkers(ts);
  o.duration_seconds = std::chrono::duration<double>(clock->Now() - start).count();
  AppendReport(ts, o);
  StatusOr<tsdb::Appender::CommitResult> committed = app_->Commit();
  if (committed.ok()) {
    o.committed = committed->appended;
    o.out_of_order = committed->out_of_order;
  } else {
    o.commit = committed.status();
    ForgetRefs();  // refs handed out for the lost batch may name nothing
  }
  prev_.swap(cur_);
  prev_iter_ = iter_;
  cur_.clear();
  KeepOrder(o.error.ok() && body_appended);
  FlushCache(o.error.ok() && body_appended);
  FitIdLists();
  last_ts_ = ts;
  return o;
}

// The next scrape fills these lists about as far as this one did: keep that much and an eighth,
// not the up-to-half-empty capacity push_back's doubling leaves (4 lists, paid per series).
void ScrapeLoop::FitIdLists() {
  auto fit = [](std::vector<Id>* v, size_t n) {
    if (v->capacity() <= n + n / 4 + 16) return;
    std::vector<Id> fitted;
    fitted.reserve(std::max(v->size(), n + n / 8 + 16));
    fitted.assign(v->begin(), v->end());
    v->swap(fitted);
  };
  fit(&prev_, prev_.size());
  fit(&cur_, prev_.size());
  fit(&order_, order_.size());
  fit(&next_order_, order_.size());
}

Status ScrapeLoop::AppendBody(std::string_view body, std::string_view content_type, int64_t ts,
                              ScrapeOutcome* out) {
  ExpositionParser p(body, FormatFromContentType(content_type));
  while (p.Next()) {
    ++out->scraped;
    RETURN_IF_ERROR(AppendSample(p.series_text(), p, ts, out));
  }
  return p.status();
}

Status ScrapeLoop::AppendSample(std::string_view series_text, const ExpositionParser& p, int64_t ts,
                                ScrapeOutcome* out) {
  std::optional<int64_t> explicit_ts;
  if (honor_timestamps_) explicit_ts = p.timestamp();
  Id id = Lookup(series_text);
  bool is_new = id == ScrapeCache::kNone;
  if (is_new) {
    id = cache_.Insert(series_text);
    cache_[id].created_iter = iter_;
  }
  ScrapeCache::Entry& e = cache_[id];
  ++out->post_relabel;  // Prometheus counts a repeated series here too
  if (e.seen_iter == iter_ && !explicit_ts) {
    ++out->duplicates;
    return Status::OK();
  }
  if (e.seen_iter != iter_) {
    e.seen_iter = iter_;
    ++seen_this_iter_;
  }
  e.order_pos = static_cast<uint32_t>(next_order_.size());
  next_order_.push_back(id);
  bool bad_labels = false;
  StatusOr<tsdb::SeriesRef> ref = AppendByRef(e.ref, explicit_ts.value_or(ts), p.value(), [&] {
    StatusOr<tsdb::Labels> labels = AttachTargetLabels(p.labels(), target_labels_, honor_labels_);
    bad_labels = !labels.ok();
    return labels;
  });
  if (!ref.ok()) {
    std::string where = "line " + std::to_string(p.line());
    if (!bad_labels) where += ": " + std::string(series_text);
    return ref.status().Annotate(where);
  }
  e.ref = *ref;
  if (!explicit_ts) {  // series with their own timestamps are not marked stale (Prometheus)
    if (e.tracked_iter == prev_iter_) ++prev_hits_;  // it is in prev_: not going stale
    e.tracked_iter = iter_;
    cur_.push_back(id);
  }
  if (is_new) ++out->series_added;
  return Status::OK();
}

// The fast path appends by ref with no labels. The labels are built only for a series without
// a ref, or when the TSDB no longer knows the ref (NotFound: its head series was collected).
template <typename MakeLabels>
StatusOr<tsdb::SeriesRef> ScrapeLoop::AppendByRef(tsdb::SeriesRef ref, int64_t t, double v,
                                                  MakeLabels make_labels) {
  if (ref != 0) {
    StatusOr<tsdb::SeriesRef> r = app_->Append(ref, kNoLabels, t, v);
    if (r.ok() || r.status().code() != StatusCode::kNotFound) return r;
  }
  StatusOr<tsdb::Labels> labels = make_labels();
  if (!labels.ok()) return labels.status();
  return app_->Append(0, *labels, t, v);
}

// A cached series text parsed again (as text 0.0.4, whose series grammar accepts what
// OpenMetrics' does) into the labels it was stored under.
StatusOr<tsdb::Labels> ScrapeLoop::LabelsOfText(std::string_view series_text) const {
  std::string line(series_text);
  line.append(" 0\n");
  ExpositionParser p(line, Format::kText004);
  if (!p.Next()) return Internal("cached series text does not parse: " + p.status().message());
  return AttachTargetLabels(p.labels(), target_labels_, honor_labels_);
}

ScrapeLoop::Id ScrapeLoop::Lookup(std::string_view series_text) {
  // Fast path: bodies list their series in the same order scrape after scrape, so the series
  // at the cursor of the last body's order usually is this one (a sequential compare).
  if (cursor_ < order_.size() && cache_.TextIs(order_[cursor_], series_text)) {
    return order_[cursor_++];
  }
  Id id = cache_.Find(series_text);
  if (id == ScrapeCache::kNone) return id;
  // Resynchronise after an insertion or removal in the body.
  uint32_t pos = cache_[id].order_pos;
  if (pos < order_.size() && order_[pos] == id) cursor_ = pos + 1;
  return id;
}

void ScrapeLoop::KeepOrder(bool succeeded) {
  if (succeeded) {
    order_.swap(next_order_);
  } else {
    // Entries named by the old order may be flushed after a failure: start over.
    order_.clear();
  }
  next_order_.clear();
}

void ScrapeLoop::DropEntriesOfThisIteration() {
  cur_.clear();
  cache_.RemoveUnless([this](const ScrapeCache::Entry& e) { return e.created_iter != iter_; });
  // A fresh iteration number: what the bad body touched counts as unseen, so every series of
  // the last good scrape is marked stale.
  ++iter_;
  seen_this_iter_ = 0;
  prev_hits_ = 0;
}

int64_t ScrapeLoop::AppendStaleMarkers(int64_t ts) {
  if (prev_hits_ == prev_.size()) return 0;  // the usual case: every series is still there
  int64_t n = 0;
  for (Id id : prev_) {
    ScrapeCache::Entry& e = cache_[id];
    if (e.tracked_iter == iter_) continue;
    StatusOr<tsdb::SeriesRef> ref =
        AppendByRef(e.ref, ts, tsdb::StaleNaN(), [&] { return LabelsOfText(cache_.Text(id)); });
    if (!ref.ok()) continue;
    e.ref = *ref;
    ++n;
  }
  return n;
}

void ScrapeLoop::AppendReport(int64_t ts, const ScrapeOutcome& o) {
  const double values[5] = {o.error.ok() ? 1.0 : 0.0, o.duration_seconds,
                            static_cast<double>(o.scraped), static_cast<double>(o.post_relabel),
                            static_cast<double>(o.series_added)};
  for (size_t i = 0; i < report_.size(); ++i) {
    StatusOr<tsdb::SeriesRef> ref = app_->Append(report_[i].ref, report_[i].labels, ts, values[i]);
    if (ref.ok()) report_[i].ref = *ref;
  }
}

void ScrapeLoop::FlushCache(bool succeeded) {
  // Series churn and failed scrapes would grow the cache forever: keep what the last good
  // scrape saw (and, after failures, flush only when the cache has more than doubled).
  bool flush =
      succeeded ? cache_.size() > seen_this_iter_ : cache_.size() > successful_count_ * 2 + 1000;
  if (flush) {
    cache_.RemoveUnless([this](const ScrapeCache::Entry& e) { return e.seen_iter == iter_; });
    // prev_ and order_ name only entries seen in this scrape, which stay: renumber them.
    std::vector<Id> moved = cache_.Compact();
    if (!moved.empty()) {  // most series are gone: the id lists shrink with the cache
      for (Id& id : prev_) id = moved[id];
      for (Id& id : order_) id = moved[id];
      prev_.shrink_to_fit();
      order_.shrink_to_fit();
      std::vector<Id>().swap(cur_);
      std::vector<Id>().swap(next_order_);
    }
  }
  if (succeeded) successful_count_ = cache_.size();
}

void ScrapeLoop::ForgetRefs() {
  cache_.ForEach([this](Id id) { cache_[id].ref = 0; });
  for (auto& r : report_) r.ref = 0;
}

size_t ScrapeLoop::MemoryBytes() const {
  return cache_.MemoryBytes() + sizeof(Id) * (cur_.capacity() + prev_.capacity() +
                                              order_.capacity() + next_order_.capacity());
}

Status ScrapeLoop::MarkEverythingStale(int64_t ts) {
  if (last_ts_ == 0) return Status::OK();
  ++iter_;
  cur_.clear();
  prev_hits_ = 0;
  AppendStaleMarkers(ts);
  for (auto& r : report_) {
    StatusOr<tsdb::SeriesRef> ref = app_->Append(r.ref, r.labels, ts, tsdb::StaleNaN());
    (void)ref;
  }
  prev_.clear();
  StatusOr<tsdb::Appender::CommitResult> committed = app_->Commit();
  return committed.status();
}

}  // namespace steward::monitor
