// FakeDb: an in-memory tsdb::Db that records what the scraper (or a prober) appends, for tests.
//
// Semantics kept from the real contract: refs are handed out by Append (one per label set),
// a batch becomes visible only on Commit, Rollback drops it, a sample not newer than the
// series' last one is dropped as out of order and counted. Commit can be made to fail
// (simulating a full disk). No querier: tests read with Samples()/Find().
// Thread safety: everything is thread-safe; each appender is used by one thread.
#pragma once

#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "tsdb/labels.h"
#include "tsdb/tsdb.h"

namespace steward::monitor::testing {

class FakeDb : public tsdb::Db {
 public:
  struct Series {
    tsdb::Labels labels;
    std::vector<tsdb::Sample> samples;
  };

  std::unique_ptr<tsdb::Appender> NewAppender() override;
  std::unique_ptr<tsdb::Querier> NewQuerier() override { return nullptr; }
  Status Compact() override { return Status::OK(); }
  Status FlushHead() override { return Status::OK(); }
  tsdb::Stats GetStats() override;
  Status Close() override { return Status::OK(); }
  Status SyncWal() override { return Status::OK(); }
  void SetRetention(Duration, int64_t) override {}
  std::vector<Status> BlockErrors() override { return {}; }

  // Committed samples of the series with exactly these labels (empty when unknown).
  std::vector<tsdb::Sample> Samples(const tsdb::Labels& labels) const;
  // Committed series whose labels contain every pair of `match` ("__name__" for the name).
  std::vector<Series> Find(const std::map<std::string, std::string>& match) const;
  int64_t commits() const;
  int64_t rollbacks() const;
  int64_t appends_without_ref() const;  // label lookups the caller made us do
  void FailCommits(bool fail);

 private:
  class Appender;
  struct Pending {
    tsdb::SeriesRef ref;
    tsdb::Sample sample;
  };
  StatusOr<tsdb::SeriesRef> Resolve(tsdb::SeriesRef ref, const tsdb::Labels& labels);
  StatusOr<tsdb::Appender::CommitResult> Apply(const std::vector<Pending>& batch);

  mutable std::mutex mu_;
  std::map<tsdb::Labels, tsdb::SeriesRef> refs_;
  std::vector<Series> series_;  // index ref-1; samples committed only
  int64_t commits_ = 0;
  int64_t rollbacks_ = 0;
  int64_t appends_without_ref_ = 0;
  int64_t appended_ = 0;
  bool fail_commits_ = false;
};

class FakeDb::Appender : public tsdb::Appender {
 public:
  explicit Appender(FakeDb* db) : db_(db) {}
  StatusOr<tsdb::SeriesRef> Append(tsdb::SeriesRef ref, const tsdb::Labels& labels, int64_t t,
                                   double v) override {
    StatusOr<tsdb::SeriesRef> r = db_->Resolve(ref, labels);
    if (r.ok()) batch_.push_back(Pending{*r, tsdb::Sample{t, v}});
    return r;
  }
  StatusOr<CommitResult> Commit() override {
    std::vector<Pending> batch;
    batch.swap(batch_);
    return db_->Apply(batch);
  }
  void Rollback() override {
    batch_.clear();
    std::lock_guard<std::mutex> l(db_->mu_);
    ++db_->rollbacks_;
  }

 private:
  FakeDb* db_;
  std::vector<Pending> batch_;
};

inline std::unique_ptr<tsdb::Appender> FakeDb::NewAppender() {
  return std::make_unique<Appender>(this);
}

inline StatusOr<tsdb::SeriesRef> FakeDb::Resolve(tsdb::SeriesRef ref, const tsdb::Labels& labels) {
  std::lock_guard<std::mutex> l(mu_);
  if (ref != 0 && ref <= series_.size()) return ref;
  ++appends_without_ref_;
  if (labels.MetricName().empty()) return InvalidArgument("series without a metric name");
  auto [it, inserted] = refs_.emplace(labels, series_.size() + 1);
  if (inserted) series_.push_back(Series{labels, {}});
  return it->second;
}

inline StatusOr<tsdb::Appender::CommitResult> FakeDb::Apply(const std::vector<Pending>& batch) {
  std::lock_guard<std::mutex> l(mu_);
  if (fail_commits_) return IOError("fake disk full");
  ++commits_;
  tsdb::Appender::CommitResult r;
  for (const auto& p : batch) {
    auto& samples = series_[p.ref - 1].samples;
    if (!samples.empty() && p.sample.t <= samples.back().t) {
      ++r.out_of_order;
      continue;
    }
    samples.push_back(p.sample);
    ++r.appended;
  }
  appended_ += r.appended;
  return r;
}

inline tsdb::Stats FakeDb::GetStats() {
  std::lock_guard<std::mutex> l(mu_);
  tsdb::Stats s;
  s.head_series = static_cast<int64_t>(series_.size());
  s.samples_appended = appended_;
  return s;
}

inline std::vector<tsdb::Sample> FakeDb::Samples(const tsdb::Labels& labels) const {
  std::lock_guard<std::mutex> l(mu_);
  auto it = refs_.find(labels);
  return it == refs_.end() ? std::vector<tsdb::Sample>{} : series_[it->second - 1].samples;
}

inline std::vector<FakeDb::Series> FakeDb::Find(
    const std::map<std::string, std::string>& match) const {
  std::lock_guard<std::mutex> l(mu_);
  std::vector<Series> out;
  for (const auto& s : series_) {
    if (s.samples.empty()) continue;
    bool all = true;
    for (const auto& [k, v] : match) all = all && s.labels.Get(k) == v;
    if (all) out.push_back(s);
  }
  return out;
}

inline int64_t FakeDb::commits() const {
  std::lock_guard<std::mutex> l(mu_);
  return commits_;
}
inline int64_t FakeDb::rollbacks() const {
  std::lock_guard<std::mutex> l(mu_);
  return rollbacks_;
}
inline int64_t FakeDb::appends_without_ref() const {
  std::lock_guard<std::mutex> l(mu_);
  return appends_without_ref_;
}
inline void FakeDb::FailCommits(bool fail) {
  std::lock_guard<std::mutex> l(mu_);
  fail_commits_ = fail;
}

}  // namespace steward::monitor::testing
