// Inhibitor: Alertmanager's inhibit_rules (inhibit/inhibit.go). A firing alert matching a
// rule's source_matchers inhibits every alert matching its target_matchers whose values of the
// rule's `equal` labels are the same (a label both lack counts as equal). An alert that matches
// both sides of a rule is not inhibited through that rule by another alert that also matches
// both, so an alert never inhibits itself and a set of peers does not silence itself whole.
//
// Usage: SetSources with every alert known (resolved ones are skipped), then InhibitedBy per
// alert. Inhibition applies whatever the target's own state or silences are.
// Thread safety: not thread-safe; the dispatcher owns one and calls it under its lock.
#pragma once

#include <cstdint>
#include <optional>
#include <vector>

#include "alerting/alert.h"
#include "alerting/matchers.h"
#include "base/status.h"
#include "config/alerting.h"

namespace steward::alerting {

class Inhibitor {
 public:
  Inhibitor() = default;
  static StatusOr<Inhibitor> Build(const std::vector<config::InhibitRule>& rules);

  void SetSources(const std::vector<const Alert*>& alerts, int64_t now_ms);
  // The fingerprint of a firing alert that inhibits `labels` (the first found), if any.
  std::optional<uint64_t> InhibitedBy(const tsdb::Labels& labels) const;

 private:
  struct Source {
    tsdb::Labels labels;
    uint64_t fingerprint;
  };
  struct Rule {
    Matchers source;
    Matchers target;
    std::vector<std::string> equal;
    std::vector<Source> firing;  // alerts matching `source`, not resolved at SetSources' now
  };
  std::vector<Rule> rules_;
};

}  // namespace steward::alerting
