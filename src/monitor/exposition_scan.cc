#include "monitor/exposition_scan.h"

#include <cstring>

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
