// Byte-level helpers of the exposition parser (exposition.cc): character classes, Go-compatible
// float parsing, label-value unescaping, UTF-8 validation and the quoting used in error
// messages. Internal to src/monitor; exposed in a header so that unit tests can pin the number
// grammar, which must match Prometheus' (Go's strconv.ParseFloat without hex, '_' or 'p'; the
// one implementation is base/go_float.h).
// Thread safety: pure functions.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "base/go_float.h"

namespace steward::monitor::scan {

// The NaN Prometheus stores for a "NaN" sample (value.NormalNaN), so our values and
// Prometheus' agree bit for bit; the stale marker is a different NaN (tsdb::StaleNaN).
inline constexpr uint64_t kNormalNaNBits = kGoNaNBits;

struct CharClass {
  bool metric_start[256];  // [a-zA-Z_:]
  bool metric_char[256];   // [a-zA-Z0-9_:]
  bool label_start[256];   // [a-zA-Z_]
  bool label_char[256];    // [a-zA-Z0-9_]
};
const CharClass& Chars();

inline bool IsMetricStart(char c) { return Chars().metric_start[static_cast<unsigned char>(c)]; }
inline bool IsLabelStart(char c) { return Chars().label_start[static_cast<unsigned char>(c)]; }
inline bool IsDigit(char c) { return c >= '0' && c <= '9'; }

// First byte at or after p that is not a metric-name (label-name) character.
inline const char* ScanMetricName(const char* p, const char* end) {
  const bool* t = Chars().metric_char;
  while (p < end && t[static_cast<unsigned char>(*p)]) ++p;
  return p;
}
inline const char* ScanLabelName(const char* p, const char* end) {
  const bool* t = Chars().label_char;
  while (p < end && t[static_cast<unsigned char>(*p)]) ++p;
  return p;
}

// Go's strconv.ParseFloat(s, 64) as Prometheus calls it: decimal with optional sign, fraction
// and exponent; "Inf"/"Infinity" with optional sign and "NaN" without, case-insensitive; no
// hex, '_' or 'p'. Overflow is an error (Go's ErrRange); underflow rounds to (signed) zero or a
// subnormal, as in Go. NaN comes back as kNormalNaNBits.
inline std::optional<double> ParseGoFloat(std::string_view s) {
  const GoFloatResult r = GoParseFloat(s, GoFloatSyntax::kPre113);
  return r.ok() ? std::optional<double>(r.value) : std::nullopt;
}

// Decimal digits only (the text format's timestamp); nullopt on overflow or a non-digit.
std::optional<int64_t> ParseDecimalInt64(std::string_view s);

// Appends s with \\ -> \, \" -> ", \n -> newline; any other backslash pair is kept as it is,
// which is what Prometheus' strings.Replacer does.
void AppendUnescaped(std::string* out, std::string_view s);
// HELP text in the 0.0.4 text format: only \\ and \n are escapes.
void AppendUnescapedHelp(std::string* out, std::string_view s);

bool IsValidUtf8(std::string_view s);

// A short, printable rendering of the bytes at p for an error message: up to max_bytes of the
// rest of the line in double quotes, non-printable bytes escaped (\t, \r, \xNN), "..." when
// truncated; "end of line" / "end of body" when there is nothing to show.
std::string QuoteAt(const char* p, const char* end, size_t max_bytes = 24);
// The same escaping for a whole (bounded) string: "\"" + escaped(s, truncated) + "\"".
std::string Quote(std::string_view s, size_t max_bytes = 40);

}  // namespace steward::monitor::scan
