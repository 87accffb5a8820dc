#include "metrics/registry.h"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <set>

namespace steward::metrics {
namespace {

// Adds to an atomic double without a lock; std::atomic<double>::fetch_add is C++20 but not
// lock-free on every toolchain we meet, while a CAS loop always is.
void AtomicAdd(std::atomic<double>* a, double v) {
  double old = a->load(std::memory_order_relaxed);
  while (!a->compare_exchange_weak(old, old + v, std::memory_order_relaxed)) {
  }
}

bool IsNameChar(char c, bool first, bool allow_colon) {
  if (c == '_' || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z')) return true;
  if (allow_colon && c == ':') return true;
  return !first && c >= '0' && c <= '9';
}

bool IsValidName(std::string_view s, bool allow_colon) {
  if (s.empty()) return false;
  for (size_t i = 0; i < s.size(); ++i) {
    if (!IsNameChar(s[i], i == 0, allow_colon)) return false;
  }
  return true;
}

void CheckNames(const std::string& name, const std::vector<std::string>& label_names,
                bool histogram) {
  if (!IsValidName(name, true)) internal::Die("invalid metric name '" + name + "'");
  std::set<std::string> seen;
  for (const std::string& l : label_names) {
    if (!IsValidName(l, false) || l.rfind("__", 0) == 0 || (histogram && l == "le")) {
      internal::Die("metric " + name + ": invalid label name '" + l + "'");
    }
    if (!seen.insert(l).second) internal::Die("metric " + name + ": duplicate label " + l);
  }
}

void CheckBuckets(const std::string& name, const std::vector<double>& b) {
  for (size_t i = 0; i < b.size(); ++i) {
    if (!std::isfinite(b[i]) || (i > 0 && b[i] <= b[i - 1])) {
      internal::Die("metric " + name + ": buckets must be finite and strictly increasing");
    }
  }
}

void AppendLine(std::string* out, const std::string& name, std::string_view suffix,
                const std::string& labels, double value) {
  out->append(name).append(suffix);
  if (!labels.empty()) out->append("{").append(labels).append("}");
  out->append(" ").append(FormatValue(value)).append("\n");
}

template <class M>
std::unique_ptr<M> MakePlain(const std::vector<double>&) {
  return std::make_unique<M>();
}

std::unique_ptr<Histogram> MakeHistogram(const std::vector<double>& buckets) {
  return std::make_unique<Histogram>(buckets);
}

}  // namespace

std::string FormatValue(double v) {
  if (std::isnan(v)) return "NaN";
  if (std::isinf(v)) return v > 0 ? "+Inf" : "-Inf";
  // 2^53: beyond it not every integer is exact, and the shortest form reads better.
  if (v == std::trunc(v) && std::fabs(v) < 9007199254740992.0) {
    return std::to_string(static_cast<int64_t>(v));
  }
  char buf[64];
  auto [end, ec] = std::to_chars(buf, buf + sizeof buf, v);
  (void)ec;  // 64 bytes always suffice for a double
  return std::string(buf, end);
}

std::string EscapeLabelValue(std::string_view v) {
  std::string out;
  out.reserve(v.size());
  for (char c : v) {
    if (c == '\\') {
      out += "\\\\";
    } else if (c == '"') {
      out += "\\\"";
    } else if (c == '\n') {
      out += "\\n";
    } else {
      out += c;
    }
  }
  return out;
}

std::string EscapeHelp(std::string_view v) {
  std::string out;
  out.reserve(v.size());
  for (char c : v) {
    if (c == '\\') {
      out += "\\\\";
    } else if (c == '\n') {
      out += "\\n";
    } else {
      out += c;
    }
  }
  return out;
}

std::vector<double> DefaultBuckets() { return {.005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10}; }

void Counter::Inc(double v) {
  if (!(v >= 0)) internal::Die("counter increment must be >= 0, got " + FormatValue(v));
  AtomicAdd(&value_, v);
}

void Gauge::Add(double v) { AtomicAdd(&value_, v); }

Histogram::Histogram(std::vector<double> upper_bounds)
    : upper_bounds_(std::move(upper_bounds)), counts_(upper_bounds_.size() + 1, 0) {}

void Histogram::Observe(double v) {
  // First bucket whose bound is >= v ("le" is inclusive); NaN lands in +Inf only.
  size_t i = std::isnan(v) ? upper_bounds_.size()
                           : std::lower_bound(upper_bounds_.begin(), upper_bounds_.end(), v) -
                                 upper_bounds_.begin();
  std::lock_guard<std::mutex> l(mu_);
  ++counts_[i];
  sum_ += v;
  ++count_;
}

Histogram::Snapshot Histogram::Snap() const {
  Snapshot s;
  s.upper_bounds = upper_bounds_;
  std::lock_guard<std::mutex> l(mu_);
  uint64_t running = 0;
  for (uint64_t c : counts_) {
    running += c;
    s.cumulative_counts.push_back(running);
  }
  s.sum = sum_;
  s.count = count_;
  return s;
}

namespace internal {

void Die(const std::string& message) {
  std::fprintf(stderr, "steward metrics: %s\n", message.c_str());
  std::abort();
}

std::string RenderLabels(const std::vector<std::string>& names,
                         const std::vector<std::string>& values) {
  std::string out;
  for (size_t i = 0; i < names.size(); ++i) {
    if (i > 0) out += ",";
    out += names[i] + "=\"" + EscapeLabelValue(values[i]) + "\"";
  }
  return out;
}

void AppendSamples(std::string* out, const std::string& name, const std::string& labels,
                   const Counter& c) {
  AppendLine(out, name, "", labels, c.Value());
}

void AppendSamples(std::string* out, const std::string& name, const std::string& labels,
                   const Gauge& g) {
  AppendLine(out, name, "", labels, g.Value());
}

void AppendSamples(std::string* out, const std::string& name, const std::string& labels,
                   const Histogram& h) {
  Histogram::Snapshot s = h.Snap();
  std::string prefix = labels.empty() ? "" : labels + ",";
  for (size_t i = 0; i <= s.upper_bounds.size(); ++i) {
    double le = i < s.upper_bounds.size() ? s.upper_bounds[i] : INFINITY;
    AppendLine(out, name, "_bucket", prefix + "le=\"" + FormatValue(le) + "\"",
               static_cast<double>(s.cumulative_counts[i]));
  }
  AppendLine(out, name, "_sum", labels, s.sum);
  AppendLine(out, name, "_count", labels, static_cast<double>(s.count));
}

FamilyBase::FamilyBase(std::string name, std::string help, std::string type,
                       std::vector<std::string> label_names)
    : name_(std::move(name)),
      help_(std::move(help)),
      type_(std::move(type)),
      label_names_(std::move(label_names)) {}

void FamilyBase::Render(std::string* out) const {
  // Like Prometheus' own clients: a labelled family nobody has touched yet emits nothing.
  if (Empty()) return;
  out->append("# HELP ").append(name_).append(" ").append(EscapeHelp(help_)).append("\n");
  out->append("# TYPE ").append(name_).append(" ").append(type_).append("\n");
  RenderSamples(out);
}

void FamilyBase::CheckArity(const std::vector<std::string>& values) const {
  if (values.size() != label_names_.size()) {
    Die("metric " + name_ + " has " + std::to_string(label_names_.size()) +
        " labels, WithLabels got " + std::to_string(values.size()) + " values");
  }
}

}  // namespace internal

template <class M>
Family<M>& Registry::Add(std::string name, std::string help, const char* type,
                         std::vector<std::string> label_names, std::vector<double> buckets,
                         typename Family<M>::Factory factory) {
  bool histogram = std::string_view(type) == "histogram";
  CheckNames(name, label_names, histogram);
  if (histogram) CheckBuckets(name, buckets);
  std::lock_guard<std::mutex> l(mu_);
  for (const auto& f : families_) {
    if (f->name() == name) internal::Die("metric " + name + " registered twice");
  }
  bool unlabelled = label_names.empty();
  auto family = std::make_unique<Family<M>>(std::move(name), std::move(help), type,
                                            std::move(label_names), std::move(buckets), factory);
  Family<M>& ref = *family;
  families_.push_back(std::move(family));
  if (unlabelled) ref.WithLabels({});
  return ref;
}

Family<Counter>& Registry::AddCounter(std::string name, std::string help,
                                      std::vector<std::string> label_names) {
  return Add<Counter>(std::move(name), std::move(help), "counter", std::move(label_names), {},
                      &MakePlain<Counter>);
}

Family<Gauge>& Registry::AddGauge(std::string name, std::string help,
                                  std::vector<std::string> label_names) {
  return Add<Gauge>(std::move(name), std::move(help), "gauge", std::move(label_names), {},
                    &MakePlain<Gauge>);
}

Family<Histogram>& Registry::AddHistogram(std::string name, std::string help,
                                          std::vector<std::string> label_names,
                                          std::vector<double> buckets) {
  // +Inf is always implicit; accept it at the end so callers may spell it out.
  if (!buckets.empty() && std::isinf(buckets.back()) && buckets.back() > 0) buckets.pop_back();
  return Add<Histogram>(std::move(name), std::move(help), "histogram", std::move(label_names),
                        std::move(buckets), &MakeHistogram);
}

std::string Registry::Render() const {
  std::string out;
  std::lock_guard<std::mutex> l(mu_);
  for (const auto& f : families_) f->Render(&out);
  return out;
}

}  // namespace steward::metrics
