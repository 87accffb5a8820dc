// Labels: the identity of a time series — a set of name="value" pairs, kept sorted by name,
// with __name__ holding the metric name. Shared by the scraper (which builds them), the TSDB
// (which stores them) and the query side (which matches and returns them).
//
// Contract: names are unique and sorted; Labels::FromUnsorted sorts and rejects duplicates and
// empty names. A label with an empty value is the same as no label (Prometheus semantics), so
// builders drop empty values. Thread safety: a value type; immutable once built.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "base/status.h"

namespace steward::tsdb {

inline constexpr std::string_view kMetricName = "__name__";

struct Label {
  std::string name;
  std::string value;
  bool operator==(const Label&) const = default;
  auto operator<=>(const Label&) const = default;
};

class Labels {
 public:
  Labels() = default;
  // Sorts; drops empty values; fails on an empty or duplicated name.
  static StatusOr<Labels> FromUnsorted(std::vector<Label> labels);
  // For callers that already hold sorted, unique, non-empty labels (checked in debug builds).
  static Labels FromSorted(std::vector<Label> labels);

  const std::vector<Label>& items() const { return items_; }
  size_t size() const { return items_.size(); }
  bool empty() const { return items_.empty(); }
  // "" when absent.
  std::string_view Get(std::string_view name) const;
  bool Has(std::string_view name) const;
  std::string_view MetricName() const { return Get(kMetricName); }

  // Returns a copy with name set to value (removed when value is empty).
  Labels With(std::string_view name, std::string_view value) const;
  Labels Without(std::string_view name) const&;
  // The same, reusing this one's storage (no copies of the other labels' strings).
  Labels Without(std::string_view name) &&;
  // Gives up the sorted items, leaving this empty: a reader reuses their strings' storage.
  std::vector<Label> ReleaseItems() && { return std::move(items_); }

  // A stable 64-bit hash of the sorted pairs (xxhash-quality mixing; same on every platform).
  uint64_t Hash() const;
  // Prometheus' text form: metric{a="x", b="y"} (no braces when there are no other labels;
  // values escaped as in the exposition format).
  std::string ToString() const;

  bool operator==(const Labels&) const = default;
  auto operator<=>(const Labels&) const = default;

 private:
  explicit Labels(std::vector<Label> items) : items_(std::move(items)) {}
  std::vector<Label> items_;
};

// Valid metric names: [a-zA-Z_:][a-zA-Z0-9_:]*; label names: [a-zA-Z_][a-zA-Z0-9_]*.
bool IsValidMetricName(std::string_view name);
bool IsValidLabelName(std::string_view name);

// The special NaN that marks a series as stale (Prometheus' value: 0x7ff0000000000002).
// Ordinary NaN samples are data; only this bit pattern means "gone".
double StaleNaN();
bool IsStaleNaN(double v);

}  // namespace steward::tsdb
