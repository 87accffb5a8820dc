// histogram_quantile over classic (le-labelled) buckets — Prometheus 2.42's bucketQuantile with
// its grouping, sorting, coalescing and monotonicity repair — the native-histogram functions
// (which find nothing to do on float samples), and quantile() for quantile_over_time.
#include <cmath>
#include <limits>
#include <map>
#include <string>
#include <utility>

#include "base/go_float.h"
#include "promql/functions_internal.h"

namespace steward::promql::internal {
namespace {

constexpr std::string_view kBucketLabel = "le";

struct Bucket {
  double upper_bound;
  double count;
};

// Go's sort.Search: the smallest i in [0, n) where f(i), else n (binary search as written).
template <typename F>
size_t GoSearch(size_t n, F f) {
  size_t i = 0, j = n;
  while (i < j) {
    size_t h = (i + j) >> 1;
    if (!f(h)) {
      i = h + 1;
    } else {
      j = h;
    }
  }
  return i;
}

// Buckets with the same upper bound are summed (input sorted by upper bound).
void CoalesceBuckets(std::vector<Bucket>& b) {
  Bucket last = b[0];
  size_t i = 0;
  for (size_t k = 1; k < b.size(); ++k) {
    if (b[k].upper_bound == last.upper_bound) {
      last.count += b[k].count;
    } else {
      b[i++] = last;
      last = b[k];
    }
  }
  b[i] = last;
  b.resize(i + 1);
}

// Counts never decrease with the upper bound; a smaller count is raised to the running maximum
// (buckets scraped non-atomically, or rate()d, can break monotonicity).
void EnsureMonotonic(std::vector<Bucket>& b) {
  double max = b[0].count;
  for (size_t i = 1; i < b.size(); ++i) {
    if (b[i].count > max) {
      max = b[i].count;
    } else if (b[i].count < max) {
      b[i].count = max;
    }
  }
}

// Linear interpolation within the bucket holding the rank; the lowest bucket starts at 0 unless
// its upper bound is ≤ 0; a rank in the +Inf bucket gives the second-highest upper bound.
double BucketQuantile(double q, std::vector<Bucket> b) {
  if (std::isnan(q)) return std::nan("");
  if (q < 0) return -std::numeric_limits<double>::infinity();
  if (q > 1) return std::numeric_limits<double>::infinity();
  GoSort(
      b.size(), [&b](size_t i, size_t j) { return b[i].upper_bound < b[j].upper_bound; },
      [&b](size_t i, size_t j) { std::swap(b[i], b[j]); });
  if (!std::isinf(b.back().upper_bound) || b.back().upper_bound < 0) return std::nan("");
  CoalesceBuckets(b);
  EnsureMonotonic(b);
  if (b.size() < 2) return std::nan("");
  double observations = b.back().count;
  if (observations == 0) return std::nan("");
  double rank = q * observations;
  size_t i = GoSearch(b.size() - 1, [&](size_t k) { return b[k].count >= rank; });
  if (i == b.size() - 1) return b[b.size() - 2].upper_bound;
  if (i == 0 && b[0].upper_bound <= 0) return b[0].upper_bound;
  double start = 0;
  double end = b[i].upper_bound;
  double count = b[i].count;
  if (i > 0) {
    start = b[i - 1].upper_bound;
    count -= b[i - 1].count;
    rank -= b[i - 1].count;
  }
  return start + (end - start) * (rank / count);
}

// Samples are grouped by all labels but le (__name__ included, so two histograms differing only
// in name stay apart); a sample without a parseable le is skipped. The result drops __name__
// and le.
StatusOr<Vector> HistogramQuantile(const FunctionContext& ctx, const std::vector<Value>& args) {
  double q = ScalarArg(args, 0);
  struct Group {
    tsdb::Labels metric;
    std::vector<Bucket> buckets;
  };
  std::vector<Group> groups;
  std::map<tsdb::Labels, size_t> index;
  for (const Sample& s : VectorArg(args, 1)) {
    // Go's strconv.ParseFloat, as Prometheus reads le; a syntax or range error skips the sample.
    const GoFloatResult upper = GoParseFloat(s.metric.Get(kBucketLabel));
    if (!upper.ok()) continue;
    tsdb::Labels key = s.metric.Without(kBucketLabel);
    auto [it, inserted] = index.try_emplace(key, groups.size());
    if (inserted) groups.push_back({key.Without(tsdb::kMetricName), {}});
    groups[it->second].buckets.push_back({upper.value, s.v});
  }
  Vector out;
  for (Group& g : groups) {
    out.push_back({std::move(g.metric), ctx.t, BucketQuantile(q, std::move(g.buckets))});
  }
  return out;
}

// histogram_count/histogram_sum/histogram_fraction read native histograms only; float samples
// are skipped, and Steward stores floats only.
StatusOr<Vector> NativeHistogramOnly(const FunctionContext&, const std::vector<Value>&) {
  return Vector{};
}

}  // namespace

double Quantile(double q, std::vector<double>& values) {
  if (values.empty() || std::isnan(q)) return std::nan("");
  if (q < 0) return -std::numeric_limits<double>::infinity();
  if (q > 1) return std::numeric_limits<double>::infinity();
  // sort.Sort(vectorByValueHeap): Less puts NaN first.
  GoSort(
      values.size(),
      [&values](size_t i, size_t j) { return std::isnan(values[i]) || values[i] < values[j]; },
      [&values](size_t i, size_t j) { std::swap(values[i], values[j]); });
  double n = static_cast<double>(values.size());
  double rank = q * (n - 1);
  double lower = GoMax(0, std::floor(rank));
  double upper = GoMin(n - 1, lower + 1);
  double weight = rank - std::floor(rank);
  return values[static_cast<size_t>(lower)] * (1 - weight) +
         values[static_cast<size_t>(upper)] * weight;
}

void AddHistogramFunctions(FunctionRegistry& r) {
  r["histogram_quantile"] = Entry(HistogramQuantile, "sv");
  r["histogram_count"] = Entry(NativeHistogramOnly, "v");
  r["histogram_sum"] = Entry(NativeHistogramOnly, "v");
  r["histogram_fraction"] = Entry(NativeHistogramOnly, "ssv");
}

}  // namespace steward::promql::internal
