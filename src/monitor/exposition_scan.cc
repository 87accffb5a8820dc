#include "monitor/exposition_scan.h"

#include <bit>
#include <charconv>
#include <cstring>
#include <limits>
#include <system_error>

namespace steward::monitor::scan {
namespace {

CharClass MakeChars() {
  CharClass t{};
  for (int c = 0; c < 256; ++c) {
    const bool alpha = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_';
    const bool digit = c >= '0' && c <= '9';
    t.metric_start[c] = alpha || c == ':';
    t.metric_char[c] = alpha || digit || c == ':';
    t.label_start[c] = alpha;
    t.label_char[c] = alpha || digit;
  }
  return t;
}

bool EqualsIgnoreCase(std::string_view s, std::string_view lower) {
  if (s.size() != lower.size()) return false;
  for (size_t i = 0; i < s.size(); ++i) {
    if ((s[i] | 0x20) != lower[i]) return false;
  }
  return true;
}

// Checks the decimal grammar digits [. digits] [(e|E) [+-] digits] with at least one mantissa
// digit, so that from_chars (which accepts prefixes and other spellings) sees only Go's syntax.
bool IsDecimalFloat(std::string_view s) {
  size_t i = 0, digits = 0;
  while (i < s.size() && IsDigit(s[i])) ++i, ++digits;
  if (i < s.size() && s[i] == '.') {
    ++i;
    while (i < s.size() && IsDigit(s[i])) ++i, ++digits;
  }
  if (digits == 0) return false;
  if (i < s.size() && (s[i] == 'e' || s[i] == 'E')) {
    ++i;
    if (i < s.size() && (s[i] == '+' || s[i] == '-')) ++i;
    size_t exp_digits = 0;
    while (i < s.size() && IsDigit(s[i])) ++i, ++exp_digits;
    if (exp_digits == 0) return false;
  }
  return i == s.size();
}

// For a decimal that from_chars found out of range: true when it is too large (Go: ErrRange),
// false when it is too small (Go: rounds to zero, no error). Compares the position of the first
// significant digit plus the exponent with zero; the exponent saturates.
bool IsHuge(std::string_view s) {
  size_t i = 0;
  int64_t magnitude = 0;
  bool found = false;
  while (i < s.size() && s[i] == '0') ++i;
  size_t int_start = i;
  while (i < s.size() && IsDigit(s[i])) ++i;
  if (i > int_start) {
    magnitude = static_cast<int64_t>(i - int_start) - 1;
    found = true;
  }
  if (i < s.size() && s[i] == '.') {
    ++i;
    int64_t zeros = 0;
    while (!found && i < s.size() && s[i] == '0') ++i, ++zeros;
    if (!found && i < s.size() && IsDigit(s[i])) magnitude = -(zeros + 1);
    while (i < s.size() && IsDigit(s[i])) ++i;
  }
  if (i < s.size() && (s[i] == 'e' || s[i] == 'E')) {
    ++i;
    bool neg = false;
    if (i < s.size() && (s[i] == '+' || s[i] == '-')) neg = s[i++] == '-';
    int64_t e = 0;
    for (; i < s.size(); ++i) e = std::min<int64_t>(e * 10 + (s[i] - '0'), 1'000'000'000);
    magnitude += neg ? -e : e;
  }
  return magnitude >= 0;
}

void AppendEscapedByte(std::string* out, char c) {
  switch (c) {
    case '\n':
      *out += "\\n";
      return;
    case '\r':
      *out += "\\r";
      return;
    case '\t':
      *out += "\\t";
      return;
    case '"':
      *out += "\\\"";
      return;
    case '\\':
      *out += "\\\\";
      return;
    default:
      break;
  }
  const auto u = static_cast<unsigned char>(c);
  if (u >= 0x20 && u < 0x7f) {
    *out += c;
    return;
  }
  static constexpr char kHex[] = "0123456789abcdef";
  *out += "\\x";
  *out += kHex[u >> 4];
  *out += kHex[u & 15];
}

}  // namespace

const CharClass& Chars() {
  static const CharClass chars = MakeChars();
  return chars;
}

std::optional<double> ParseGoFloat(std::string_view s) {
  bool neg = false, signed_ = false;
  if (!s.empty() && (s[0] == '+' || s[0] == '-')) {
    signed_ = true;
    neg = s[0] == '-';
    s.remove_prefix(1);
  }
  if (s.empty()) return std::nullopt;
  const char first = static_cast<char>(s[0] | 0x20);
  if (first == 'i') {
    if (!EqualsIgnoreCase(s, "inf") && !EqualsIgnoreCase(s, "infinity")) return std::nullopt;
    return neg ? -std::numeric_limits<double>::infinity() : std::numeric_limits<double>::infinity();
  }
  if (first == 'n') {
    if (signed_ || !EqualsIgnoreCase(s, "nan")) return std::nullopt;
    return std::bit_cast<double>(kNormalNaNBits);
  }
  // Fast path: small integers (counters, gauges of counts) are exact in a double.
  if (s.size() <= 15) {
    uint64_t v = 0;
    size_t i = 0;
    while (i < s.size() && IsDigit(s[i])) v = v * 10 + static_cast<uint64_t>(s[i++] - '0');
    if (i == s.size()) return neg ? -static_cast<double>(v) : static_cast<double>(v);
  }
  if (!IsDecimalFloat(s)) return std::nullopt;
  double v = 0;
  auto [ptr, ec] = std::from_chars(s.data(), s.data() + s.size(), v, std::chars_format::general);
  if (ec == std::errc::result_out_of_range) {
    if (IsHuge(s)) return std::nullopt;
    v = 0;
  } else if (ec != std::errc() || ptr != s.data() + s.size()) {
    return std::nullopt;
  }
  return neg ? -v : v;
}

std::optional<int64_t> ParseDecimalInt64(std::string_view s) {
  if (s.empty()) return std::nullopt;
  int64_t v = 0;
  for (char c : s) {
    if (!IsDigit(c)) return std::nullopt;
    if (__builtin_mul_overflow(v, 10, &v) || __builtin_add_overflow(v, c - '0', &v)) {
      return std::nullopt;
    }
  }
  return v;
}

void AppendUnescaped(std::string* out, std::string_view s) {
  if (s.find('\\') == std::string_view::npos) {
    out->append(s);
    return;
  }
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '\\' && i + 1 < s.size()) {
      const char n = s[i + 1];
      if (n == '\\' || n == '"' || n == 'n') {
        *out += n == 'n' ? '\n' : n;
        ++i;
        continue;
      }
    }
    *out += s[i];
  }
}

void AppendUnescapedHelp(std::string* out, std::string_view s) {
  if (s.find('\\') == std::string_view::npos) {
    out->append(s);
    return;
  }
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '\\' && i + 1 < s.size() && (s[i + 1] == '\\' || s[i + 1] == 'n')) {
      *out += s[i + 1] == 'n' ? '\n' : '\\';
      ++i;
      continue;
    }
    *out += s[i];
  }
}

bool IsValidUtf8(std::string_view s) {
  const auto* p = reinterpret_cast<const unsigned char*>(s.data());
  const auto* end = p + s.size();
  while (p < end) {
    // ASCII runs, eight bytes at a time.
    while (end - p >= 8) {
      uint64_t word;
      std::memcpy(&word, p, 8);
      if (word & 0x8080808080808080ull) break;
      p += 8;
    }
    if (p >= end) break;
    const unsigned char c = *p;
    if (c < 0x80) {
      ++p;
      continue;
    }
    int len;
    uint32_t min, cp;
    if ((c & 0xe0) == 0xc0) {
      len = 2, min = 0x80, cp = c & 0x1f;
    } else if ((c & 0xf0) == 0xe0) {
      len = 3, min = 0x800, cp = c & 0x0f;
    } else if ((c & 0xf8) == 0xf0) {
      len = 4, min = 0x10000, cp = c & 0x07;
    } else {
      return false;
    }
    if (end - p < len) return false;
    for (int i = 1; i < len; ++i) {
      if ((p[i] & 0xc0) != 0x80) return false;
      cp = (cp << 6) | (p[i] & 0x3f);
    }
    if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff)) return false;
    p += len;
  }
  return true;
}

std::string QuoteAt(const char* p, const char* end, size_t max_bytes) {
  if (p >= end) return "end of body";
  if (*p == '\n') return "end of line";
  std::string out = "\"";
  size_t n = 0;
  for (; p < end && *p != '\n' && n < max_bytes; ++p, ++n) AppendEscapedByte(&out, *p);
  out += '"';
  if (p < end && *p != '\n') out += "...";
  return out;
}

std::string Quote(std::string_view s, size_t max_bytes) {
  std::string out = "\"";
  for (size_t i = 0; i < s.size() && i < max_bytes; ++i) AppendEscapedByte(&out, s[i]);
  out += '"';
  if (s.size() > max_bytes) out += "...";
  return out;
}

}  // namespace steward::monitor::scan
