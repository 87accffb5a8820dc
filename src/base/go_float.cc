#include "base/go_float.h"

#include <algorithm>
#include <bit>
#include <charconv>
#include <limits>
#include <string>
#include <system_error>

namespace steward {
namespace {

using Error = GoFloatResult::Error;

constexpr GoFloatResult kSyntaxError{0, Error::kSyntax};
constexpr double kInf = std::numeric_limits<double>::infinity();

bool IsDigit(char c) { return c >= '0' && c <= '9'; }
// (c | 0x20) folds exactly the ASCII letters to lower case, so comparing it with a lower-case
// letter matches both cases of that letter and nothing else.
bool IsHexLetter(char c) { return (c | 0x20) >= 'a' && (c | 0x20) <= 'f'; }

bool EqualsIgnoreCase(std::string_view s, std::string_view lower) {
  if (s.size() != lower.size()) return false;
  for (size_t i = 0; i < s.size(); ++i) {
    if ((s[i] | 0x20) != lower[i]) return false;
  }
  return true;
}

// strconv's readFloat grammar over b (the text without its sign), which must be consumed
// whole: mantissa digits with at most one '.', at least one digit, then an e exponent (p, and
// mandatory, after 0x) with an optional sign and at least one digit. Underscores are skipped
// here and checked by UnderscoresOk.
bool ValidSyntax(std::string_view b, bool* hex, bool* underscores) {
  size_t i = 0;
  *hex = b.size() >= 3 && b[0] == '0' && (b[1] | 0x20) == 'x';
  if (*hex) i = 2;
  bool digits = false, dot = false;
  for (; i < b.size(); ++i) {
    const char c = b[i];
    if (IsDigit(c) || (*hex && IsHexLetter(c))) {
      digits = true;
    } else if (c == '_') {
      *underscores = true;
    } else if (c == '.' && !dot) {
      dot = true;
    } else {
      break;
    }
  }
  if (!digits) return false;
  if (i < b.size() && (b[i] | 0x20) == (*hex ? 'p' : 'e')) {
    ++i;
    if (i < b.size() && (b[i] == '+' || b[i] == '-')) ++i;
    if (i >= b.size() || !IsDigit(b[i])) return false;
    for (; i < b.size(); ++i) {
      if (b[i] == '_') {
        *underscores = true;
      } else if (!IsDigit(b[i])) {
        return false;
      }
    }
  } else if (*hex) {
    return false;
  }
  return i == b.size();
}

// strconv's underscoreOK: '_' only between two digits, a 0x prefix counting as a digit.
bool UnderscoresOk(std::string_view s) {
  if (!s.empty() && (s[0] == '+' || s[0] == '-')) s.remove_prefix(1);
  char saw = '^';  // ^ start, 0 digit or prefix, _ underscore, ! anything else
  size_t i = 0;
  const bool hex = s.size() >= 2 && s[0] == '0' && (s[1] | 0x20) == 'x';
  if (hex) i = 2, saw = '0';
  for (; i < s.size(); ++i) {
    const char c = s[i];
    if (IsDigit(c) || (hex && IsHexLetter(c))) {
      saw = '0';
    } else if (c == '_') {
      if (saw != '0') return false;
      saw = '_';
    } else {
      if (saw == '_') return false;
      saw = '!';
    }
  }
  return saw != '_';
}

// For digits (no sign, no 0x, no '_') that from_chars found out of range: true when too large
// (Go: ±Inf and ErrRange), false when too small (Go: signed zero, no error). Such values lie
// beyond 2^±1000, so the exponent of the first significant digit decides; it saturates.
bool IsHuge(std::string_view b, bool hex) {
  const int64_t digit_weight = hex ? 4 : 1;  // a hex digit is four steps of the p exponent
  const auto is_digit = [hex](char c) { return IsDigit(c) || (hex && IsHexLetter(c)); };
  int64_t magnitude = 0;
  size_t i = 0;
  while (i < b.size() && b[i] == '0') ++i;
  const size_t int_start = i;
  while (i < b.size() && is_digit(b[i])) ++i;
  const bool found = i > int_start;
  if (found) magnitude = static_cast<int64_t>(i - int_start - 1) * digit_weight;
  if (i < b.size() && b[i] == '.') {
    ++i;
    int64_t zeros = 0;
    while (!found && i < b.size() && b[i] == '0') ++i, ++zeros;
    if (!found) magnitude = -(zeros + 1) * digit_weight;
    while (i < b.size() && is_digit(b[i])) ++i;
  }
  if (i < b.size()) {  // the exponent
    ++i;
    bool neg = false;
    if (i < b.size() && (b[i] == '+' || b[i] == '-')) neg = b[i++] == '-';
    int64_t e = 0;
    for (; i < b.size(); ++i) e = std::min<int64_t>(e * 10 + (b[i] - '0'), 1'000'000'000);
    magnitude += neg ? -e : e;
  }
  return magnitude >= 0;
}

}  // namespace

GoFloatResult GoParseFloat(std::string_view s, GoFloatSyntax syntax) {
  std::string_view b = s;
  bool neg = false, signed_ = false;
  if (!b.empty() && (b[0] == '+' || b[0] == '-')) {
    signed_ = true;
    neg = b[0] == '-';
    b.remove_prefix(1);
  }
  if (b.empty()) return kSyntaxError;
  const char first = static_cast<char>(b[0] | 0x20);
  if (first == 'i') {
    if (!EqualsIgnoreCase(b, "inf") && !EqualsIgnoreCase(b, "infinity")) return kSyntaxError;
    return {neg ? -kInf : kInf, Error::kNone};
  }
  if (first == 'n') {
    if (signed_ || !EqualsIgnoreCase(b, "nan")) return kSyntaxError;
    return {std::bit_cast<double>(kGoNaNBits), Error::kNone};
  }
  // Fast path: up to 15 digits (counters, gauges of counts) are exact in a double.
  if (b.size() <= 15) {
    uint64_t v = 0;
    size_t i = 0;
    while (i < b.size() && IsDigit(b[i])) v = v * 10 + static_cast<uint64_t>(b[i++] - '0');
    if (i == b.size()) return {neg ? -static_cast<double>(v) : static_cast<double>(v)};
  }
  bool hex = false, underscores = false;
  if (!ValidSyntax(b, &hex, &underscores)) return kSyntaxError;
  if ((hex || underscores) && syntax == GoFloatSyntax::kPre113) return kSyntaxError;
  if (underscores && !UnderscoresOk(s)) return kSyntaxError;
  if (hex) b.remove_prefix(2);
  std::string cleaned;
  if (underscores) {
    std::copy_if(b.begin(), b.end(), std::back_inserter(cleaned), [](char c) { return c != '_'; });
    b = cleaned;
  }
  double v = 0;
  const auto [ptr, ec] = std::from_chars(b.data(), b.data() + b.size(), v,
                                         hex ? std::chars_format::hex : std::chars_format::general);
  if (ec == std::errc::result_out_of_range) {
    if (IsHuge(b, hex)) return {neg ? -kInf : kInf, Error::kRange};
    v = 0;
  } else if (ec != std::errc() || ptr != b.data() + b.size()) {
    return kSyntaxError;  // unreachable after ValidSyntax; kept so no text is half read
  }
  return {neg ? -v : v};
}

}  // namespace steward
