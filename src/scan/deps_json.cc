#include "scan/deps_json.h"

#include <cstdio>
#if defined(__SSE2__)
#include <emmintrin.h>
#endif
#include <cstring>

namespace steward::scan {

// Recursive descent over the text, appending nodes in pre-order. Lines only advance in
// whitespace: JSON strings cannot hold a raw newline.
class JsonParser {
 public:
  JsonParser(std::string_view text, JsonDoc* doc) : t_(text), doc_(doc) {}

  void Run() {
    SkipSpace();
    if (!ParseValue(0)) return;
    SkipSpace();
    if (pos_ < t_.size()) Fail("unexpected text after the JSON value");
  }

 private:
  bool Fail(std::string message) {
    if (doc_->error_.empty()) {
      doc_->error_ = std::move(message);
      doc_->error_line_ = line_;
      doc_->error_column_ = static_cast<int>(pos_ - line_start_) + 1;
    }
    uint32_t size = static_cast<uint32_t>(doc_->nodes_.size());
    for (uint32_t index : open_) {
      doc_->nodes_[index].end = size;
      doc_->nodes_[index].complete = false;
    }
    open_.clear();
    return false;
  }

  void SkipSpace() {
    while (pos_ < t_.size()) {
      char c = t_[pos_];
      if (c == '\n') {
        ++line_;
        line_start_ = ++pos_;
      } else if (c == ' ' || c == '\t' || c == '\r') {
        ++pos_;
      } else {
        break;
      }
    }
  }

  uint32_t Push(JsonDoc::Type type, std::string_view text = {}, bool escaped = false) {
    uint32_t index = static_cast<uint32_t>(doc_->nodes_.size());
    JsonDoc::Node& n = doc_->nodes_.emplace_back();
    n.type = type;
    n.line = line_;
    n.text = text;
    n.escaped = escaped;
    n.end = index + 1;
    return index;
  }

  bool ParseValue(int depth) {
    if (pos_ >= t_.size()) return Fail("unexpected end of input; expected a value");
    char c = t_[pos_];
    switch (c) {
      case '{':
        return ParseContainer(depth, /*object=*/true);
      case '[':
        return ParseContainer(depth, /*object=*/false);
      case '"':
        return ParseString();
      case 't':
        return ParseLiteral("true", JsonDoc::Type::kBool);
      case 'f':
        return ParseLiteral("false", JsonDoc::Type::kBool);
      case 'n':
        return ParseLiteral("null", JsonDoc::Type::kNull);
      default:
        if (c == '-' || (c >= '0' && c <= '9')) return ParseNumber();
        return Fail(std::string("unexpected character '") + Printable(c) + "'; expected a value");
    }
  }

  static std::string Printable(char c) {
    if (static_cast<unsigned char>(c) < 0x20 || static_cast<unsigned char>(c) >= 0x7f) {
      char buf[8];
      std::snprintf(buf, sizeof buf, "\\x%02x", static_cast<unsigned char>(c));
      return buf;
    }
    return std::string(1, c);
  }

  bool ParseLiteral(std::string_view word, JsonDoc::Type type) {
    if (t_.substr(pos_, word.size()) != word)
      return Fail("unexpected text; expected true, false or null");
    Push(type, t_.substr(pos_, word.size()));
    pos_ += word.size();
    return true;
  }

  bool Digits() {
    size_t start = pos_;
    while (pos_ < t_.size() && t_[pos_] >= '0' && t_[pos_] <= '9') ++pos_;
    return pos_ > start;
  }

  bool ParseNumber() {
    size_t start = pos_;
    if (t_[pos_] == '-') ++pos_;
    if (pos_ < t_.size() && t_[pos_] == '0') {
      ++pos_;
    } else if (!Digits()) {
      return Fail("malformed number; expected a digit");
    }
    if (pos_ < t_.size() && t_[pos_] == '.') {
      ++pos_;
      if (!Digits()) return Fail("malformed number; expected a digit after '.'");
    }
    if (pos_ < t_.size() && (t_[pos_] == 'e' || t_[pos_] == 'E')) {
      ++pos_;
      if (pos_ < t_.size() && (t_[pos_] == '+' || t_[pos_] == '-')) ++pos_;
      if (!Digits()) return Fail("malformed number; expected a digit in the exponent");
    }
    Push(JsonDoc::Type::kNumber, t_.substr(start, pos_ - start));
    return true;
  }

  static bool IsHex(char c) {
    return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
  }

  // Advances pos_ past bytes that need no attention inside a string: anything but '"', '\\'
  // and control characters. Strings are most of an advisory's bytes, so 16 at a time.
  void SkipPlainRun() {
#if defined(__SSE2__)
    const __m128i quote = _mm_set1_epi8('"');
    const __m128i backslash = _mm_set1_epi8('\\');
    while (pos_ + 16 <= t_.size()) {
      __m128i chunk = _mm_loadu_si128(reinterpret_cast<const __m128i*>(t_.data() + pos_));
      // A control character c < 0x20 is the one with min(c, 0x1f) == c (unsigned).
      __m128i control = _mm_cmpeq_epi8(_mm_min_epu8(chunk, _mm_set1_epi8(0x1f)), chunk);
      __m128i hits = _mm_or_si128(
          _mm_or_si128(_mm_cmpeq_epi8(chunk, quote), _mm_cmpeq_epi8(chunk, backslash)), control);
      int mask = _mm_movemask_epi8(hits);
      if (mask != 0) {
        pos_ += static_cast<size_t>(__builtin_ctz(static_cast<unsigned>(mask)));
        return;
      }
      pos_ += 16;
    }
#endif
    while (pos_ < t_.size()) {
      unsigned char c = static_cast<unsigned char>(t_[pos_]);
      if (c == '"' || c == '\\' || c < 0x20) return;
      ++pos_;
    }
  }

  // Reads a string at pos_ (on the opening quote) into *raw; validates escapes.
  bool ReadString(std::string_view* raw, bool* escaped) {
    size_t start = ++pos_;
    *escaped = false;
    while (pos_ < t_.size()) {
      SkipPlainRun();
      if (pos_ >= t_.size()) break;
      unsigned char c = static_cast<unsigned char>(t_[pos_]);
      if (c == '"') {
        *raw = t_.substr(start, pos_ - start);
        ++pos_;
        return true;
      }
      if (c < 0x20) return Fail("control character in a string; escape it or close the string");
      if (c == '\\') {
        *escaped = true;
        if (pos_ + 1 >= t_.size()) break;
        char e = t_[pos_ + 1];
        if (e == 'u') {
          for (size_t k = 2; k < 6; ++k) {
            if (pos_ + k >= t_.size() || !IsHex(t_[pos_ + k]))
              return Fail("malformed \\u escape; expected four hex digits");
          }
          pos_ += 6;
          continue;
        }
        if (!std::strchr("\"\\/bfnrt", e) || e == '\0')
          return Fail(std::string("unknown escape '\\") + Printable(e) + "' in a string");
        pos_ += 2;
        continue;
      }
      ++pos_;
    }
    return Fail("unterminated string; expected '\"'");
  }

  bool ParseString() {
    std::string_view raw;
    bool escaped;
    if (!ReadString(&raw, &escaped)) return false;
    Push(JsonDoc::Type::kString, raw, escaped);
    return true;
  }

  bool ParseContainer(int depth, bool object) {
    if (depth >= JsonDoc::kMaxDepth) return Fail("nesting deeper than 256 levels");
    char close = object ? '}' : ']';
    uint32_t index = Push(object ? JsonDoc::Type::kObject : JsonDoc::Type::kArray);
    open_.push_back(index);
    ++pos_;
    SkipSpace();
    if (pos_ < t_.size() && t_[pos_] == close) {
      ++pos_;
    } else {
      for (;;) {
        if (object) {
          if (pos_ >= t_.size() || t_[pos_] != '"') return Fail("expected a string key");
          if (!ParseString()) return false;
          SkipSpace();
          if (pos_ >= t_.size() || t_[pos_] != ':') return Fail("expected ':' after the key");
          ++pos_;
          SkipSpace();
        }
        if (!ParseValue(depth + 1)) return false;
        SkipSpace();
        if (pos_ < t_.size() && t_[pos_] == ',') {
          ++pos_;
          SkipSpace();
          continue;
        }
        if (pos_ < t_.size() && t_[pos_] == close) {
          ++pos_;
          break;
        }
        return Fail(object ? "expected ',' or '}'" : "expected ',' or ']'");
      }
    }
    doc_->nodes_[index].end = static_cast<uint32_t>(doc_->nodes_.size());
    open_.pop_back();
    return true;
  }

  std::string_view t_;
  JsonDoc* doc_;
  size_t pos_ = 0;
  size_t line_start_ = 0;
  int line_ = 1;
  std::vector<uint32_t> open_;
};

JsonDoc JsonDoc::Parse(std::string_view text) {
  JsonDoc doc;
  doc.Reparse(text);
  return doc;
}

void JsonDoc::Reparse(std::string_view text) {
  nodes_.clear();
  nodes_.reserve(text.size() / 16 + 4);
  error_.clear();
  error_line_ = error_column_ = 0;
  JsonParser(text, this).Run();
}

namespace {

void AppendUtf8(std::string* out, uint32_t cp) {
  if (cp < 0x80) {
    *out += static_cast<char>(cp);
  } else if (cp < 0x800) {
    *out += static_cast<char>(0xC0 | (cp >> 6));
    *out += static_cast<char>(0x80 | (cp & 0x3F));
  } else if (cp < 0x10000) {
    *out += static_cast<char>(0xE0 | (cp >> 12));
    *out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
    *out += static_cast<char>(0x80 | (cp & 0x3F));
  } else {
    *out += static_cast<char>(0xF0 | (cp >> 18));
    *out += static_cast<char>(0x80 | ((cp >> 12) & 0x3F));
    *out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
    *out += static_cast<char>(0x80 | (cp & 0x3F));
  }
}

// Four hex digits at raw[i]; -1 when they are not there.
int32_t Hex4(std::string_view raw, size_t i) {
  if (i + 4 > raw.size()) return -1;
  int32_t v = 0;
  for (size_t k = i; k < i + 4; ++k) {
    char c = raw[k];
    v <<= 4;
    if (c >= '0' && c <= '9')
      v |= c - '0';
    else if (c >= 'a' && c <= 'f')
      v |= c - 'a' + 10;
    else if (c >= 'A' && c <= 'F')
      v |= c - 'A' + 10;
    else
      return -1;
  }
  return v;
}

}  // namespace

std::string DecodeJsonString(std::string_view raw) {
  std::string out;
  out.reserve(raw.size());
  for (size_t i = 0; i < raw.size(); ++i) {
    size_t slash = raw.find('\\', i);
    if (slash == std::string_view::npos || slash + 1 >= raw.size()) {
      out.append(raw.substr(i));
      break;
    }
    out.append(raw.substr(i, slash - i));
    i = slash;
    char e = raw[++i];
    switch (e) {
      case 'b':
        out += '\b';
        break;
      case 'f':
        out += '\f';
        break;
      case 'n':
        out += '\n';
        break;
      case 'r':
        out += '\r';
        break;
      case 't':
        out += '\t';
        break;
      case 'u': {
        int32_t cp = Hex4(raw, i + 1);
        if (cp < 0) {
          out += "\xEF\xBF\xBD";
          break;
        }
        i += 4;
        if (cp >= 0xD800 && cp <= 0xDBFF && i + 2 < raw.size() && raw[i + 1] == '\\' &&
            raw[i + 2] == 'u') {
          int32_t low = Hex4(raw, i + 3);
          if (low >= 0xDC00 && low <= 0xDFFF) {
            AppendUtf8(&out, 0x10000 + ((cp - 0xD800) << 10) + (low - 0xDC00));
            i += 6;
            break;
          }
        }
        // A lone surrogate has no UTF-8 form.
        AppendUtf8(&out, (cp >= 0xD800 && cp <= 0xDFFF) ? 0xFFFD : static_cast<uint32_t>(cp));
        break;
      }
      default:
        out += e;
        break;  // '"', '\\', '/'
    }
  }
  return out;
}

std::string JsonDoc::Value::String() const {
  if (!is_string()) return {};
  const Node& n = node();
  return n.escaped ? DecodeJsonString(n.text) : std::string(n.text);
}

JsonDoc::Value JsonDoc::Value::Get(std::string_view key) const {
  if (!is_object()) return {};
  const Node& n = node();
  uint32_t i = index_ + 1;
  while (i + 1 < n.end) {
    const Node& k = doc_->nodes_[i];
    if (k.escaped ? DecodeJsonString(k.text) == key : k.text == key) return Value(doc_, i + 1);
    i = doc_->nodes_[i + 1].end;
  }
  return {};
}

}  // namespace steward::scan
