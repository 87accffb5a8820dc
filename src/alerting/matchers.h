// Matchers: a compiled list of label matchers (config::LabelMatcher) as Alertmanager applies
// them in routes, inhibit rules and silences — all must match; a label the alert lacks has the
// value ""; regexes are anchored and in Go's dialect (tsdb::Matcher).
//
// ToString gives Alertmanager's form, sorted by name, value, then operator:
// {a="b",c=~"d"} — the piece of a route's key and so of every group key.
// Thread safety: immutable after Compile; share freely.
#pragma once

#include <string>
#include <vector>

#include "base/status.h"
#include "config/alerting.h"
#include "tsdb/labels.h"
#include "tsdb/tsdb.h"

namespace steward::alerting {

StatusOr<tsdb::Matcher> CompileMatcher(const config::LabelMatcher& m);

class Matchers {
 public:
  Matchers() = default;
  // InvalidArgument naming the matcher when a regex does not compile.
  static StatusOr<Matchers> Compile(const std::vector<config::LabelMatcher>& ms);

  // True when every matcher matches (so an empty list matches everything).
  bool Matches(const tsdb::Labels& labels) const;
  bool empty() const { return items_.empty(); }
  const std::vector<tsdb::Matcher>& items() const { return items_; }
  std::string ToString() const;

 private:
  std::vector<tsdb::Matcher> items_;  // sorted as Alertmanager sorts them
};

}  // namespace steward::alerting
