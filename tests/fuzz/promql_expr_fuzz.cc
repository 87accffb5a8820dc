// libFuzzer entry point for PromQL expressions (src/promql/parser.h): the query parameter of
// /api/v1/query and query_range, `steward query`, alert and SLO rules. Any bytes must parse or
// fail with InvalidArgument "LINE:COL: parse error: ..." — never crash, hang, overflow the stack
// or read out of bounds. A parsed expression's printed form (what format_query returns) must
// parse again to an expression of the same type that prints the same, except where an `@`
// timestamp's millisecond does not survive %.3f at extreme magnitudes, and where ±Inf is
// printed with its sign (Prometheus prints `inf ^ x` as `+Inf ^ x`, which reads back as a
// unary plus over `Inf ^ x`: same value, another tree).
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

#include "promql/parser.h"

namespace {

bool IsParseError(const std::string& m) {
  size_t i = 0;
  auto digits = [&] {
    size_t start = i;
    while (i < m.size() && m[i] >= '0' && m[i] <= '9') ++i;
    return i > start;
  };
  if (!digits() || i >= m.size() || m[i++] != ':' || !digits()) return false;
  return m.compare(i, 15, ": parse error: ") == 0;
}

bool HasNumericAt(const std::string& printed) {
  for (size_t at = printed.find(" @ "); at != std::string::npos; at = printed.find(" @ ", at + 1))
    if (at + 3 < printed.size() && printed[at + 3] != 's' && printed[at + 3] != 'e') return true;
  return false;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view in(reinterpret_cast<const char*>(data), size);
  auto e = steward::promql::ParseExpr(in);
  if (!e.ok()) {
    if (e.status().code() != steward::StatusCode::kInvalidArgument) std::abort();
    if (!IsParseError(e.status().message())) std::abort();
    return 0;
  }
  std::string printed = (*e)->ToString();
  auto again = steward::promql::ParseExpr(printed);
  if (!again.ok()) std::abort();
  if ((*again)->Type() != (*e)->Type()) std::abort();
  bool exact = !HasNumericAt(printed) && printed.find("Inf") == std::string::npos;
  if (exact && (*again)->ToString() != printed) std::abort();
  return 0;
}
