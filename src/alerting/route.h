// Route: the stack's route tree (config::Route) with Alertmanager 0.25's semantics
// (dispatch/route.go). A child inherits its parent's receiver, group_by and timers unless it
// sets them; mute_time_intervals and active_time_intervals are not inherited. Root defaults:
// group_wait 30s, group_interval 5m, repeat_interval 4h, no grouping labels.
//
// Match walks depth first, left to right: a route that matches goes on to its children; the
// first matching child ends the walk at that level unless it has `continue`; a matching route
// none of whose children match is itself the result. An alert the root's children all miss goes
// to the root.
//
// Keys: a route's key is its parent's key, '/', and its sorted matchers ("{}/{team=\"db\"}");
// a group key is "<route key>:<group labels>" ("{}/{team=\"db\"}:{alertname=\"Down\"}"), what
// Alertmanager sends as groupKey.
// Thread safety: immutable after Build; share freely.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "alerting/matchers.h"
#include "base/status.h"
#include "config/alerting.h"
#include "tsdb/labels.h"

namespace steward::alerting {

// A route's effective settings after inheritance.
struct RouteOpts {
  std::string receiver;
  std::vector<std::string> group_by;  // sorted
  bool group_by_all = false;
  int64_t group_wait_ms = 30000;
  int64_t group_interval_ms = 300000;
  int64_t repeat_interval_ms = 4 * 3600000;
  std::vector<std::string> mute_time_intervals;
  std::vector<std::string> active_time_intervals;
};

class Route {
 public:
  // InvalidArgument when a matcher's regex does not compile (the config parser checks it first).
  static StatusOr<std::unique_ptr<Route>> Build(const config::Route& root);

  std::vector<const Route*> Match(const tsdb::Labels& labels) const;

  const RouteOpts& opts() const { return opts_; }
  const std::string& key() const { return key_; }
  // Unique in the tree: the key plus the route's position among its siblings ("{}/{a=\"b\"}/0").
  const std::string& id() const { return id_; }
  bool continue_matching() const { return continue_; }
  const Route* parent() const { return parent_; }
  const std::vector<std::unique_ptr<Route>>& routes() const { return routes_; }

  // The alert's labels this route groups by (all of them with '...').
  tsdb::Labels GroupLabels(const tsdb::Labels& alert) const;
  std::string GroupKey(const tsdb::Labels& group_labels) const;

 private:
  static StatusOr<std::unique_ptr<Route>> Make(const config::Route& cr, const Route* parent,
                                               int position);

  const Route* parent_ = nullptr;
  RouteOpts opts_;
  Matchers matchers_;
  bool continue_ = false;
  std::string key_;
  std::string id_;
  std::vector<std::unique_ptr<Route>> routes_;
};

}  // namespace steward::alerting
