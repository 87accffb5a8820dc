#include "alerting/matchers.h"

#include <algorithm>
#include <tuple>

namespace steward::alerting {

StatusOr<tsdb::Matcher> CompileMatcher(const config::LabelMatcher& m) {
  using Op = config::LabelMatcher::Op;
  using Type = tsdb::Matcher::Type;
  Type type = m.op == Op::kEqual      ? Type::kEqual
              : m.op == Op::kNotEqual ? Type::kNotEqual
              : m.op == Op::kRegex    ? Type::kRegexMatch
                                      : Type::kRegexNoMatch;
  return tsdb::Matcher::Make(type, m.name, m.value);
}

StatusOr<Matchers> Matchers::Compile(const std::vector<config::LabelMatcher>& ms) {
  Matchers out;
  out.items_.reserve(ms.size());
  for (const config::LabelMatcher& m : ms) {
    StatusOr<tsdb::Matcher> c = CompileMatcher(m);
    if (!c.ok()) return c.status();
    out.items_.push_back(*std::move(c));
  }
  std::stable_sort(out.items_.begin(), out.items_.end(),
                   [](const tsdb::Matcher& a, const tsdb::Matcher& b) {
                     return std::make_tuple(a.name(), a.value(), a.type()) <
                            std::make_tuple(b.name(), b.value(), b.type());
                   });
  return out;
}

bool Matchers::Matches(const tsdb::Labels& labels) const {
  return std::all_of(items_.begin(), items_.end(),
                     [&](const tsdb::Matcher& m) { return m.Matches(labels.Get(m.name())); });
}

std::string Matchers::ToString() const {
  std::string out = "{";
  for (size_t i = 0; i < items_.size(); ++i) {
    if (i > 0) out += ',';
    out += items_[i].ToString();
  }
  return out + "}";
}

}  // namespace steward::alerting
