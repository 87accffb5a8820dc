// HeadAppender: buffers samples with their series (pending raised, so the head keeps them),
// then on Commit logs series records for new series and one samples record to the WAL, and
// only then appends to the head. The ref path is one striped-map lookup per sample.
// An appender lives as long as its scrape target, so its buffers are paid per target: the batch
// is kept in the WAL's own sample layout (encoded without a copy), and a buffer that one large
// commit grew (the first scrape logs every series record) is released once commits are small.
#include <algorithm>
#include <limits>

#include "tsdb/db_impl.h"

namespace steward::tsdb {
namespace {

Status ValidateLabels(const Labels& labels) {
  if (labels.empty()) return InvalidArgument("a series needs at least one label");
  for (const Label& l : labels.items()) {
    if (!IsValidLabelName(l.name)) return InvalidArgument("invalid label name \"" + l.name + "\"");
  }
  std::string_view name = labels.MetricName();
  if (!name.empty() && !IsValidMetricName(name)) {
    return InvalidArgument("invalid metric name \"" + std::string(name) + "\"");
  }
  return Status::OK();
}

class HeadAppender : public Appender {
 public:
  explicit HeadAppender(DbImpl* db) : db_(db), head_(db->head()) {}
  ~HeadAppender() override { Rollback(); }

  StatusOr<SeriesRef> Append(SeriesRef ref, const Labels& labels, int64_t t, double v) override {
    MemSeries* s = ref != 0 ? head_.GetByRef(ref) : nullptr;
    if (s == nullptr) {
      if (labels.empty() && ref != 0) {
        return NotFound("series ref " + std::to_string(ref) +
                        " is not in the head any more; append with its labels");
      }
      RETURN_IF_ERROR(ValidateLabels(labels));
      bool created;
      s = head_.GetOrCreate(labels, &created);
      created_ |= created;
    }
    if (!s->wal_logged.load(std::memory_order_relaxed)) unlogged_.push_back(s);
    batch_.push_back({s->ref, t, v});
    series_.push_back(s);
    return s->ref;
  }

  StatusOr<CommitResult> Commit() override {
    CommitResult result;
    if (batch_.empty()) return result;
    int64_t min_valid = db_->MinValidTime();
    EncodeBatch(min_valid);
    Status st = db_->wal().Log(buf_);
    if (st.ok()) st = db_->MaybeSync();
    if (!st.ok()) {
      if (st.code() == StatusCode::kIOError) db_->CountWriteError();
      Rollback();
      return st.Annotate("tsdb commit");
    }
    for (MemSeries* s : unlogged_) s->wal_logged.store(true, std::memory_order_relaxed);
    int64_t mint = std::numeric_limits<int64_t>::max();
    int64_t maxt = std::numeric_limits<int64_t>::min();
    for (size_t i = 0; i < batch_.size(); ++i) {
      const RefSample& p = batch_[i];
      if (p.t >= min_valid && head_.Append(series_[i], p.t, p.v) == Head::AppendResult::kOk) {
        ++result.appended;
        mint = std::min(mint, p.t);
        maxt = std::max(maxt, p.t);
      } else {
        ++result.out_of_order;
      }
      head_.Release(series_[i]);
    }
    head_.NoteAppended(result.appended, mint, maxt);
    db_->CountCommit(result.appended, result.out_of_order, created_);
    Clear();
    return result;
  }

  void Rollback() override {
    for (MemSeries* s : series_) head_.Release(s);
    Clear();
  }

 private:
  // Buffers above this size are released when a commit used less than half of them.
  static constexpr size_t kKeepBytes = 64 << 10;

  template <typename V>
  static void Trim(V* v, size_t used_bytes) {
    size_t cap = v->capacity() * sizeof((*v)[0]);
    if (cap > kKeepBytes && cap > 2 * used_bytes) V().swap(*v);
  }

  // The next batch of a scrape target is about as large as this one: leave room for it and an
  // eighth more, rather than the up-to-half-empty capacity that push_back's doubling leaves.
  template <typename V>
  static void Fit(V* v) {
    size_t n = v->size();
    if (v->capacity() <= n + n / 4 + 16) {
      v->clear();
      return;
    }
    V fresh;
    fresh.reserve(n + n / 8 + 16);
    v->swap(fresh);
  }

  void Clear() {
    Trim(&buf_, buf_.size());
    buf_.clear();
    Fit(&unlogged_);  // new series are rare after a target's first scrape
    Fit(&batch_);
    Fit(&series_);
    created_ = false;
  }

  // Series records for series not yet in the WAL, then one record of the valid samples.
  void EncodeBatch(int64_t min_valid) {
    buf_.clear();
    std::sort(unlogged_.begin(), unlogged_.end());
    unlogged_.erase(std::unique(unlogged_.begin(), unlogged_.end()), unlogged_.end());
    if (!unlogged_.empty()) {
      size_t start = BeginRecord(&buf_, RecordType::kSeries);
      for (MemSeries* s : unlogged_) EncodeSeriesEntry(s->ref, head_.LabelsOf(*s), &buf_);
      FinishRecord(&buf_, start);
    }
    const RefSample* samples = batch_.data();
    size_t n = batch_.size();
    std::vector<RefSample> valid;  // only when some samples are too old (rare)
    if (std::any_of(batch_.begin(), batch_.end(),
                    [&](const RefSample& p) { return p.t < min_valid; })) {
      for (const RefSample& p : batch_) {
        if (p.t >= min_valid) valid.push_back(p);
      }
      samples = valid.data();
      n = valid.size();
    }
    if (n == 0) return;
    size_t start = BeginRecord(&buf_, RecordType::kSamples);
    EncodeSamples(samples, n, &buf_);
    FinishRecord(&buf_, start);
  }

  DbImpl* db_;
  Head& head_;
  std::vector<RefSample> batch_;    // the WAL's sample layout: encoded as is
  std::vector<MemSeries*> series_;  // batch_[i]'s series, pending raised
  std::vector<MemSeries*> unlogged_;
  std::string buf_;
  bool created_ = false;
};

}  // namespace

std::unique_ptr<Appender> DbImpl::NewAppender() { return std::make_unique<HeadAppender>(this); }

}  // namespace steward::tsdb
