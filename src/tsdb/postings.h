// Series selection by label matchers over any index (the head's or a block's), the way
// Prometheus does it: intersect the postings of matchers that reject the empty value, then
// subtract the series that carry a label a matcher rejects. Postings are sorted lists of series
// ids (head series refs or block series offsets); the ids mean nothing across indexes.
// Thread safety: the functions are pure; an IndexView implementation says what it guarantees.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "base/status.h"
#include "tsdb/tsdb.h"

namespace steward::tsdb {

using Postings = std::vector<uint64_t>;  // ascending, unique

class IndexView {
 public:
  virtual ~IndexView() = default;
  virtual std::vector<std::string> LabelNames() = 0;                        // ascending
  virtual std::vector<std::string> LabelValues(std::string_view name) = 0;  // ascending
  virtual Postings PostingsFor(std::string_view name, std::string_view value) = 0;
  virtual Postings AllPostings() = 0;
};

// InvalidArgument unless at least one matcher rejects the empty string (Prometheus' rule that
// keeps `{job=~".*"}` from selecting everything by accident).
Status CheckSelector(const std::vector<Matcher>& matchers);

// The ids of series matching every matcher. With no matchers: every series.
Postings SelectPostings(IndexView& index, const std::vector<Matcher>& matchers);

Postings Intersect(const Postings& a, const Postings& b);
Postings Subtract(const Postings& a, const Postings& b);
// Merges any number of lists into one ascending unique list.
Postings Union(std::vector<Postings> lists);

}  // namespace steward::tsdb
