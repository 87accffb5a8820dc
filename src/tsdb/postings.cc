#include "tsdb/postings.h"

#include <algorithm>
#include <iterator>

namespace steward::tsdb {
namespace {

// Postings of series whose `name` label has a value that `m` accepts (accept=true) or rejects.
Postings PostingsByValue(IndexView& index, const Matcher& m, bool accept) {
  if (m.type() == Matcher::Type::kEqual && accept && !m.value().empty()) {
    return index.PostingsFor(m.name(), m.value());
  }
  if (m.type() == Matcher::Type::kNotEqual && !accept && !m.value().empty()) {
    return index.PostingsFor(m.name(), m.value());
  }
  std::vector<Postings> lists;
  for (const std::string& v : index.LabelValues(m.name())) {
    if (m.Matches(v) == accept) lists.push_back(index.PostingsFor(m.name(), v));
  }
  return Union(std::move(lists));
}

}  // namespace

Status CheckSelector(const std::vector<Matcher>& matchers) {
  for (const Matcher& m : matchers) {
    if (!m.Matches("")) return Status::OK();
  }
  std::string shown;
  for (const Matcher& m : matchers) shown += (shown.empty() ? "" : ", ") + m.ToString();
  return InvalidArgument("selector {" + shown +
                         "} must contain at least one matcher that does not match the empty "
                         "string");
}

Postings SelectPostings(IndexView& index, const std::vector<Matcher>& matchers) {
  bool have_positive = false;
  Postings result;
  std::vector<const Matcher*> negatives;
  for (const Matcher& m : matchers) {
    if (m.Matches("")) {
      negatives.push_back(&m);
      continue;
    }
    Postings p = PostingsByValue(index, m, true);
    result = have_positive ? Intersect(result, p) : std::move(p);
    have_positive = true;
    if (result.empty()) return result;
  }
  if (!have_positive) result = index.AllPostings();
  for (const Matcher* m : negatives) {
    // Series without the label match (the value is ""); remove those whose value is rejected.
    result = Subtract(result, PostingsByValue(index, *m, false));
    if (result.empty()) break;
  }
  return result;
}

Postings Intersect(const Postings& a, const Postings& b) {
  Postings out;
  std::set_intersection(a.begin(), a.end(), b.begin(), b.end(), std::back_inserter(out));
  return out;
}

Postings Subtract(const Postings& a, const Postings& b) {
  Postings out;
  std::set_difference(a.begin(), a.end(), b.begin(), b.end(), std::back_inserter(out));
  return out;
}

Postings Union(std::vector<Postings> lists) {
  if (lists.empty()) return {};
  if (lists.size() == 1) return std::move(lists[0]);
  Postings out;
  size_t total = 0;
  for (const Postings& p : lists) total += p.size();
  out.reserve(total);
  for (const Postings& p : lists) out.insert(out.end(), p.begin(), p.end());
  std::sort(out.begin(), out.end());
  out.erase(std::unique(out.begin(), out.end()), out.end());
  return out;
}

}  // namespace steward::tsdb
