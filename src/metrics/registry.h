// A small Prometheus instrumentation registry: counters, gauges and histograms, optionally with
// labels, rendered in the text exposition format 0.0.4 for a /metrics endpoint.
//
// Contract: families are registered once, at start-up, and live as long as the Registry; the
// references that Add*() and WithLabels() return stay valid for the Registry's whole life
// (unless their owner removes that child with Family::Remove), so hot paths may cache them. Registering a name twice, invalid names, unsorted buckets and
// passing the wrong number of label values are programming errors: they abort with a message
// (also in release builds, since a malformed exposition would be silently dropped by scrapers).
// Render() emits families in registration order and samples sorted by label values.
//
// Thread safety: everything is thread-safe. Counter and Gauge updates are lock-free; a
// Histogram observation takes a short per-histogram lock so that a scrape sees buckets, sum and
// count that agree.
#pragma once

#include <atomic>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

namespace steward::metrics {

// Prometheus' own rendering of a float: "+Inf", "-Inf", "NaN", integers without an exponent
// where exactly representable, otherwise the shortest form that reads back the same.
std::string FormatValue(double v);

// Label values escape \, " and newline; HELP text escapes \ and newline.
std::string EscapeLabelValue(std::string_view v);
std::string EscapeHelp(std::string_view v);

// .005 .01 .025 .05 .1 .25 .5 1 2.5 5 10 (seconds): Prometheus' client defaults.
std::vector<double> DefaultBuckets();

class Counter {
 public:
  // v must be >= 0: counters only go up (a negative v aborts).
  void Inc(double v = 1);
  double Value() const { return value_.load(std::memory_order_relaxed); }

 private:
  std::atomic<double> value_{0};
};

class Gauge {
 public:
  void Set(double v) { value_.store(v, std::memory_order_relaxed); }
  void Add(double v);
  double Value() const { return value_.load(std::memory_order_relaxed); }

 private:
  std::atomic<double> value_{0};
};

class Histogram {
 public:
  // upper_bounds: strictly increasing, finite; +Inf is implicit.
  explicit Histogram(std::vector<double> upper_bounds);
  void Observe(double v);

  struct Snapshot {
    std::vector<double> upper_bounds;
    std::vector<uint64_t> cumulative_counts;  // one per bound, then +Inf (== count)
    double sum = 0;
    uint64_t count = 0;
  };
  Snapshot Snap() const;

 private:
  const std::vector<double> upper_bounds_;
  mutable std::mutex mu_;
  std::vector<uint64_t> counts_;  // per bucket, not cumulative; last is the +Inf bucket
  double sum_ = 0;
  uint64_t count_ = 0;
};

namespace internal {

// Appends the sample lines of one child; `labels` is the rendered `k="v",...` list (no braces).
void AppendSamples(std::string* out, const std::string& name, const std::string& labels,
                   const Counter& c);
void AppendSamples(std::string* out, const std::string& name, const std::string& labels,
                   const Gauge& g);
void AppendSamples(std::string* out, const std::string& name, const std::string& labels,
                   const Histogram& h);
std::string RenderLabels(const std::vector<std::string>& names,
                         const std::vector<std::string>& values);
[[noreturn]] void Die(const std::string& message);

class FamilyBase {
 public:
  FamilyBase(std::string name, std::string help, std::string type,
             std::vector<std::string> label_names);
  virtual ~FamilyBase() = default;
  const std::string& name() const { return name_; }
  // Appends HELP, TYPE and samples; nothing when the family has no children yet.
  void Render(std::string* out) const;

 protected:
  virtual void RenderSamples(std::string* out) const = 0;
  virtual bool Empty() const = 0;
  void CheckArity(const std::vector<std::string>& values) const;

  const std::string name_;
  const std::string help_;
  const std::string type_;
  const std::vector<std::string> label_names_;
};

}  // namespace internal

template <class M>
class Family : public internal::FamilyBase {
 public:
  using Factory = std::unique_ptr<M> (*)(const std::vector<double>&);
  Family(std::string name, std::string help, std::string type, std::vector<std::string> label_names,
         std::vector<double> buckets, Factory factory)
      : FamilyBase(std::move(name), std::move(help), std::move(type), std::move(label_names)),
        buckets_(std::move(buckets)),
        factory_(factory) {}

  // The child for these label values (in label_names order), created on first use.
  M& WithLabels(const std::vector<std::string>& values) {
    CheckArity(values);
    std::lock_guard<std::mutex> l(mu_);
    std::unique_ptr<M>& child = children_[values];
    if (!child) child = factory_(buckets_);
    return *child;
  }

  // Drops the child for these label values, so it is no longer rendered (its series ends, as
  // when a client library deletes a label set). Only for callers that do not keep references
  // to that child: they become invalid.
  void Remove(const std::vector<std::string>& values) {
    CheckArity(values);
    std::lock_guard<std::mutex> l(mu_);
    children_.erase(values);
  }

 private:
  void RenderSamples(std::string* out) const override {
    std::lock_guard<std::mutex> l(mu_);
    for (const auto& [values, child] : children_) {
      internal::AppendSamples(out, name_, internal::RenderLabels(label_names_, values), *child);
    }
  }
  bool Empty() const override {
    std::lock_guard<std::mutex> l(mu_);
    return children_.empty();
  }

  const std::vector<double> buckets_;
  const Factory factory_;
  mutable std::mutex mu_;
  // std::map: sorted by label values for rendering, and nodes never move.
  std::map<std::vector<std::string>, std::unique_ptr<M>> children_;
};

class Registry {
 public:
  Registry() = default;
  Registry(const Registry&) = delete;
  Registry& operator=(const Registry&) = delete;

  // A family without labels has its single child from the start, so it renders as 0.
  Family<Counter>& AddCounter(std::string name, std::string help,
                              std::vector<std::string> label_names = {});
  Family<Gauge>& AddGauge(std::string name, std::string help,
                          std::vector<std::string> label_names = {});
  Family<Histogram>& AddHistogram(std::string name, std::string help,
                                  std::vector<std::string> label_names,
                                  std::vector<double> buckets = DefaultBuckets());

  // The text exposition format 0.0.4 (Content-Type: text/plain; version=0.0.4).
  std::string Render() const;

 private:
  template <class M>
  Family<M>& Add(std::string name, std::string help, const char* type,
                 std::vector<std::string> label_names, std::vector<double> buckets,
                 typename Family<M>::Factory factory);

  mutable std::mutex mu_;
  std::vector<std::unique_ptr<internal::FamilyBase>> families_;
};

// The Content-Type to serve Render() with.
inline constexpr char kContentType[] = "text/plain; version=0.0.4; charset=utf-8";

}  // namespace steward::metrics
