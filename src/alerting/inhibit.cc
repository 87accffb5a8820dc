#include "alerting/inhibit.h"

#include <algorithm>

namespace steward::alerting {

StatusOr<Inhibitor> Inhibitor::Build(const std::vector<config::InhibitRule>& rules) {
  Inhibitor out;
  for (const config::InhibitRule& r : rules) {
    StatusOr<Matchers> source = Matchers::Compile(r.source_matchers);
    if (!source.ok()) return source.status();
    StatusOr<Matchers> target = Matchers::Compile(r.target_matchers);
    if (!target.ok()) return target.status();
    out.rules_.push_back(Rule{*std::move(source), *std::move(target), r.equal, {}});
  }
  return out;
}

void Inhibitor::SetSources(const std::vector<const Alert*>& alerts, int64_t now_ms) {
  for (Rule& rule : rules_) {
    rule.firing.clear();
    for (const Alert* a : alerts) {
      if (!a->ResolvedAt(now_ms) && rule.source.Matches(a->labels)) {
        rule.firing.push_back(Source{a->labels, a->Fingerprint()});
      }
    }
  }
}

std::optional<uint64_t> Inhibitor::InhibitedBy(const tsdb::Labels& labels) const {
  for (const Rule& rule : rules_) {
    if (!rule.target.Matches(labels)) continue;
    bool both_sides = rule.source.Matches(labels);
    for (const Source& s : rule.firing) {
      bool equal = std::all_of(rule.equal.begin(), rule.equal.end(), [&](const std::string& n) {
        return s.labels.Get(n) == labels.Get(n);
      });
      if (!equal) continue;
      if (both_sides && rule.target.Matches(s.labels)) continue;
      return s.fingerprint;
    }
  }
  return std::nullopt;
}

}  // namespace steward::alerting
