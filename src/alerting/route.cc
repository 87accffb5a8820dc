#include "alerting/route.h"

#include <algorithm>

namespace steward::alerting {

StatusOr<std::unique_ptr<Route>> Route::Build(const config::Route& root) {
  return Make(root, nullptr, -1);
}

StatusOr<std::unique_ptr<Route>> Route::Make(const config::Route& cr, const Route* parent,
                                             int position) {
  auto r = std::make_unique<Route>();
  r->parent_ = parent;
  RouteOpts o = parent != nullptr ? parent->opts_ : RouteOpts{};
  if (!cr.receiver.empty()) o.receiver = cr.receiver;
  // As Alertmanager: labels override the parent's grouping; '...' alone turns on grouping by
  // all labels; an empty list inherits.
  if (!cr.group_by.empty()) {
    o.group_by = cr.group_by;
    std::sort(o.group_by.begin(), o.group_by.end());
    o.group_by_all = false;
  } else if (cr.group_by_all) {
    o.group_by_all = true;
  }
  if (cr.group_wait.count() >= 0) o.group_wait_ms = cr.group_wait.count();
  if (cr.group_interval.count() >= 0) o.group_interval_ms = cr.group_interval.count();
  if (cr.repeat_interval.count() >= 0) o.repeat_interval_ms = cr.repeat_interval.count();
  o.mute_time_intervals = cr.mute_time_intervals;
  o.active_time_intervals = cr.active_time_intervals;
  r->opts_ = std::move(o);
  StatusOr<Matchers> ms = Matchers::Compile(cr.matchers);
  if (!ms.ok()) return ms.status();
  r->matchers_ = *std::move(ms);
  r->continue_ = cr.continue_matching;
  r->key_ = (parent != nullptr ? parent->key_ + "/" : "") + r->matchers_.ToString();
  r->id_ = position >= 0 ? r->key_ + "/" + std::to_string(position) : r->key_;
  for (size_t i = 0; i < cr.routes.size(); ++i) {
    StatusOr<std::unique_ptr<Route>> child = Make(cr.routes[i], r.get(), static_cast<int>(i));
    if (!child.ok()) return child.status();
    r->routes_.push_back(std::move(child).value());
  }
  return r;
}

std::vector<const Route*> Route::Match(const tsdb::Labels& labels) const {
  if (!matchers_.Matches(labels)) return {};
  std::vector<const Route*> all;
  for (const auto& child : routes_) {
    std::vector<const Route*> found = child->Match(labels);
    all.insert(all.end(), found.begin(), found.end());
    if (!found.empty() && !child->continue_) break;
  }
  if (all.empty()) all.push_back(this);
  return all;
}

tsdb::Labels Route::GroupLabels(const tsdb::Labels& alert) const {
  if (opts_.group_by_all) return alert;
  std::vector<tsdb::Label> out;
  for (const tsdb::Label& l : alert.items()) {
    if (std::binary_search(opts_.group_by.begin(), opts_.group_by.end(), l.name)) {
      out.push_back(l);
    }
  }
  return tsdb::Labels::FromSorted(std::move(out));
}

namespace {

// Go's %q for the printable text label values are: quotes, backslashes and controls escaped.
std::string GoQuote(std::string_view v) {
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out = "\"";
  for (char c : v) {
    unsigned char u = static_cast<unsigned char>(c);
    if (c == '"' || c == '\\') {
      out += '\\';
      out += c;
    } else if (c == '\n') {
      out += "\\n";
    } else if (c == '\t') {
      out += "\\t";
    } else if (c == '\r') {
      out += "\\r";
    } else if (u < 0x20 || u == 0x7f) {
      out += "\\x";
      out += kHex[u >> 4];
      out += kHex[u & 15];
    } else {
      out += c;
    }
  }
  return out + "\"";
}

}  // namespace

std::string Route::GroupKey(const tsdb::Labels& group_labels) const {
  std::string labels = "{";
  for (const tsdb::Label& l : group_labels.items()) {
    if (labels.size() > 1) labels += ", ";
    labels += l.name + "=" + GoQuote(l.value);
  }
  return key_ + ":" + labels + "}";
}

}  // namespace steward::alerting
