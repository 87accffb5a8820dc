// Go's formatting and parsing as Prometheus' parser, printer and API use them (strconv.Quote,
// %q of a rune, fmt.Sprint of a float64, model.Duration.String, strconv.ParseInt/ParseFloat,
// strutil.Unquote), so that printed expressions and error messages match Prometheus byte for
// byte, and the API reads numbers as Prometheus does.
#include <charconv>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <string>

#include "base/go_float.h"
#include "promql/parser.h"
#include "promql/parser_internal.h"

namespace steward::promql::internal {
namespace {

constexpr char kHex[] = "0123456789abcdef";

// An approximation of Go's unicode.IsPrint for runes >= 0x80: letters, marks, numbers,
// punctuation and symbols print as themselves; separators, format characters, private use
// and non-characters are escaped. Either way the quoted text reads back to the same string.
bool IsPrintNonAscii(uint32_t r) {
  if (r < 0xA1 || r == 0xAD) return false;  // C1 controls, NBSP, soft hyphen
  if (r == 0x1680 || (r >= 0x2000 && r <= 0x200F) || (r >= 0x2028 && r <= 0x202F)) return false;
  if ((r >= 0x205F && r <= 0x206F) || r == 0x3000 || r == 0xFEFF) return false;
  if ((r >= 0x0600 && r <= 0x0605) || r == 0x061C || r == 0x06DD || r == 0x070F) return false;
  if (r == 0x180E || (r >= 0xFFF9 && r <= 0xFFFB)) return false;
  if (r >= 0xD800 && r <= 0xF8FF) return false;  // surrogates, private use
  if ((r & 0xFFFE) == 0xFFFE || (r >= 0xFDD0 && r <= 0xFDEF)) return false;
  if (r >= 0xE0100 && r <= 0xE01EF) return true;  // variation selectors supplement
  if (r >= 0xE0000) return false;                 // tags, private use planes
  // Planes 2 and 3 hold the CJK extensions (Unicode 13, Go 1.19/1.20); 4 to 13 are unassigned.
  if (r >= 0x20000 && r < 0x40000)
    return r <= 0x2A6DD || (r >= 0x2A700 && r <= 0x2B734) || (r >= 0x2B740 && r <= 0x2B81D) ||
           (r >= 0x2B820 && r <= 0x2CEA1) || (r >= 0x2CEB0 && r <= 0x2EBE0) ||
           (r >= 0x2F800 && r <= 0x2FA1D) || (r >= 0x30000 && r <= 0x3134A);
  if (r >= 0x40000) return false;
  return true;
}

int32_t DecodeRune(std::string_view s, size_t at, size_t* width) {
  unsigned char c = static_cast<unsigned char>(s[at]);
  *width = 1;
  if (c < 0x80) return c;
  int n = (c >> 5) == 0x6 ? 1 : (c >> 4) == 0xE ? 2 : (c >> 3) == 0x1E ? 3 : -1;
  if (n < 0) return -1;
  static constexpr int32_t kMin[] = {0, 0x80, 0x800, 0x10000};
  int32_t cp = n == 1 ? (c & 0x1F) : n == 2 ? (c & 0x0F) : (c & 0x07);
  for (int k = 1; k <= n; ++k) {
    if (at + k >= s.size()) return -1;
    unsigned char cc = static_cast<unsigned char>(s[at + k]);
    if ((cc >> 6) != 0x2) return -1;
    cp = (cp << 6) | (cc & 0x3F);
  }
  if (cp < kMin[n] || cp > 0x10FFFF || (cp >= 0xD800 && cp < 0xE000)) return -1;
  *width = static_cast<size_t>(n) + 1;
  return cp;
}

void AppendUtf8(std::string* out, uint32_t cp) {
  if (cp < 0x80) {
    out->push_back(static_cast<char>(cp));
  } else if (cp < 0x800) {
    out->push_back(static_cast<char>(0xC0 | (cp >> 6)));
    out->push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  } else if (cp < 0x10000) {
    out->push_back(static_cast<char>(0xE0 | (cp >> 12)));
    out->push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
    out->push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  } else {
    out->push_back(static_cast<char>(0xF0 | (cp >> 18)));
    out->push_back(static_cast<char>(0x80 | ((cp >> 12) & 0x3F)));
    out->push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
    out->push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  }
}

// strconv's appendEscapedRune.
void AppendEscapedRune(std::string* out, uint32_t r, char quote) {
  if (r == static_cast<uint32_t>(quote) || r == '\\') {
    out->push_back('\\');
    out->push_back(static_cast<char>(r));
    return;
  }
  if ((r >= 0x20 && r < 0x7F) || (r >= 0x80 && IsPrintNonAscii(r))) {
    AppendUtf8(out, r);
    return;
  }
  switch (r) {
    case '\a':
      *out += "\\a";
      return;
    case '\b':
      *out += "\\b";
      return;
    case '\f':
      *out += "\\f";
      return;
    case '\n':
      *out += "\\n";
      return;
    case '\r':
      *out += "\\r";
      return;
    case '\t':
      *out += "\\t";
      return;
    case '\v':
      *out += "\\v";
      return;
    default:
      break;
  }
  if (r < 0x20 || r == 0x7F) {
    *out += "\\x";
    out->push_back(kHex[r >> 4]);
    out->push_back(kHex[r & 0xF]);
    return;
  }
  int digits = r < 0x10000 ? 4 : 8;
  *out += r < 0x10000 ? "\\u" : "\\U";
  for (int s = (digits - 1) * 4; s >= 0; s -= 4) out->push_back(kHex[(r >> s) & 0xF]);
}

}  // namespace

std::string GoQuote(std::string_view s) {
  std::string out = "\"";
  for (size_t i = 0; i < s.size();) {
    size_t width = 1;
    int32_t r = DecodeRune(s, i, &width);
    if (r < 0) {
      unsigned char b = static_cast<unsigned char>(s[i]);
      out += "\\x";
      out.push_back(kHex[b >> 4]);
      out.push_back(kHex[b & 0xF]);
    } else {
      AppendEscapedRune(&out, static_cast<uint32_t>(r), '"');
    }
    i += width;
  }
  out.push_back('"');
  return out;
}

size_t FirstInvalidUtf8(std::string_view s) {
  for (size_t i = 0; i < s.size();) {
    size_t width = 1;
    if (DecodeRune(s, i, &width) < 0) return i;
    i += width;
  }
  return s.size();
}

std::string GoQuoteRune(uint32_t rune) {
  if (rune > 0x10FFFF || (rune >= 0xD800 && rune < 0xE000)) rune = 0xFFFD;
  std::string out = "'";
  AppendEscapedRune(&out, rune, '\'');
  out.push_back('\'');
  return out;
}

std::string GoFloat(double v) {
  if (std::isnan(v)) return "NaN";
  if (std::isinf(v)) return v > 0 ? "+Inf" : "-Inf";
  // Shortest round-trip digits, then Go's %v layout ('g', shortest): the exponent form when the
  // decimal exponent is below -4 or at least 6 (1e+06, 1.5e-05), plain digits otherwise.
  char buf[64];
  auto res = std::to_chars(buf, buf + sizeof buf, v, std::chars_format::scientific);
  std::string sci(buf, res.ptr);
  bool neg = sci[0] == '-';
  if (neg) sci.erase(0, 1);
  size_t e = sci.find('e');
  std::string digits;
  for (size_t i = 0; i < e; ++i)
    if (sci[i] != '.') digits.push_back(sci[i]);
  int exp = std::atoi(sci.c_str() + e + 1);
  while (digits.size() > 1 && digits.back() == '0') digits.pop_back();
  std::string out = neg ? "-" : "";
  if (v == 0) return out + "0";
  if (exp < -4 || exp >= 6) {
    out += digits.substr(0, 1);
    if (digits.size() > 1) out += "." + digits.substr(1);
    char eb[16];
    snprintf(eb, sizeof eb, "e%c%02d", exp < 0 ? '-' : '+', exp < 0 ? -exp : exp);
    return out + eb;
  }
  if (exp < 0) return out + "0." + std::string(static_cast<size_t>(-exp - 1), '0') + digits;
  size_t int_digits = static_cast<size_t>(exp) + 1;
  if (digits.size() <= int_digits)
    return out + digits + std::string(int_digits - digits.size(), '0');
  return out + digits.substr(0, int_digits) + "." + digits.substr(int_digits);
}

std::string DurationString(int64_t ms) {
  if (ms == 0) return "0s";
  std::string r;
  auto unit = [&](const char* name, int64_t mult, bool exact) {
    if (exact && ms % mult != 0) return;
    int64_t v = ms / mult;
    if (v > 0) {
      r += std::to_string(v) + name;
      ms -= v * mult;
    }
  };
  unit("y", 1000LL * 60 * 60 * 24 * 365, true);
  unit("w", 1000LL * 60 * 60 * 24 * 7, true);
  unit("d", 1000LL * 60 * 60 * 24, false);
  unit("h", 1000LL * 60 * 60, false);
  unit("m", 1000LL * 60, false);
  unit("s", 1000, false);
  unit("ms", 1, false);
  return r;
}

namespace {

// strconv.ParseInt(s, 0, 64) for what the lexer produces: 0x hex, leading-0 octal, decimal.
bool ParseGoInt(std::string_view s, int64_t* out) {
  int base = 10;
  if (s.size() > 2 && s[0] == '0' && (s[1] == 'x' || s[1] == 'X')) {
    base = 16;
    s.remove_prefix(2);
  } else if (s.size() > 1 && s[0] == '0') {
    base = 8;
    s.remove_prefix(1);
  }
  if (s.empty()) return false;
  uint64_t v = 0;
  for (char c : s) {
    int d = c >= '0' && c <= '9'   ? c - '0'
            : c >= 'a' && c <= 'f' ? c - 'a' + 10
            : c >= 'A' && c <= 'F' ? c - 'A' + 10
                                   : 99;
    if (d >= base) return false;
    if (v > (static_cast<uint64_t>(INT64_MAX) - static_cast<uint64_t>(d)) / base) return false;
    v = v * base + static_cast<uint64_t>(d);
  }
  *out = static_cast<int64_t>(v);
  return true;
}

}  // namespace

bool ParseGoNumber(std::string_view text, double* out, std::string* error) {
  int64_t n = 0;
  if (ParseGoInt(text, &n)) {
    *out = static_cast<double>(n);
    return true;
  }
  auto v = ParseGoFloat(text);
  if (!v.ok()) {
    *error = v.status().message();
    return false;
  }
  *out = *v;
  return true;
}

namespace {

// UnquoteChar's escapes after a backslash at s[*i]; appends the value, advances *i past it.
bool UnescapeOne(std::string_view s, size_t* i, char quote, std::string* out) {
  static constexpr std::string_view kSimple = "abfnrtv\\", kValues = "\a\b\f\n\r\t\v\\";
  if (*i + 1 >= s.size()) return false;
  char c = s[*i + 1];
  *i += 2;
  if (size_t k = kSimple.find(c); k != std::string_view::npos) {
    out->push_back(kValues[k]);
    return true;
  }
  if (c == quote) {
    out->push_back(c);
    return true;
  }
  int digits = c == 'x' ? 2 : c == 'u' ? 4 : c == 'U' ? 8 : c >= '0' && c <= '7' ? 3 : 0;
  if (digits == 0) return false;
  uint32_t base = digits == 3 ? 8 : 16, v = 0;
  if (base == 8) --*i;  // the first octal digit is c itself
  for (int k = 0; k < digits; ++k, ++*i) {
    char d = *i < s.size() ? s[*i] : '\0';
    uint32_t dv = d >= '0' && d <= '9'   ? d - '0'
                  : d >= 'a' && d <= 'f' ? d - 'a' + 10
                  : d >= 'A' && d <= 'F' ? d - 'A' + 10
                                         : 99;
    if (dv >= base) return false;
    v = v * base + dv;
  }
  if (c == 'x' || base == 8) {
    if (v > 255) return false;
    out->push_back(static_cast<char>(v));  // a byte escape may build any byte
    return true;
  }
  if (v > 0x10FFFF || (v >= 0xD800 && v < 0xE000)) return false;
  AppendUtf8(out, v);
  return true;
}

}  // namespace

StatusOr<std::string> Unquote(std::string_view q) {
  const auto syntax = [] { return InvalidArgument("invalid syntax"); };
  if (q.size() < 2 || q.front() != q.back() ||
      (q.front() != '"' && q.front() != '\'' && q.front() != '`'))
    return syntax();
  char quote = q.front();
  std::string_view body = q.substr(1, q.size() - 2);
  if (FirstInvalidUtf8(body) != body.size()) return syntax();
  if (quote == '`') {
    if (body.find('`') != std::string_view::npos) return syntax();
    return std::string(body);
  }
  std::string out;
  out.reserve(body.size());
  for (size_t i = 0; i < body.size();) {
    char c = body[i];
    if (c == quote || c == '\n') return syntax();
    if (c != '\\') {
      out.push_back(c);
      ++i;
    } else if (!UnescapeOne(body, &i, quote, &out)) {
      return syntax();
    }
  }
  return out;
}

}  // namespace steward::promql::internal

namespace steward::promql {

StatusOr<double> ParseGoFloat(std::string_view text) {
  const GoFloatResult r = GoParseFloat(text);
  if (r.ok()) return r.value;
  const char* why =
      r.error == GoFloatResult::Error::kRange ? "value out of range" : "invalid syntax";
  return InvalidArgument("strconv.ParseFloat: parsing " + internal::GoQuote(text) + ": " + why);
}

}  // namespace steward::promql
