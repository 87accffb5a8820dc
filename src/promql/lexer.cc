#include "promql/lexer.h"

#include <cctype>
#include <cstdlib>
#include <string>

namespace steward::promql {
namespace {

bool IsAlpha(char c) { return std::isalpha(static_cast<unsigned char>(c)) || c == '_'; }
bool IsDigit(char c) { return c >= '0' && c <= '9'; }
bool IsAlnum(char c) { return IsAlpha(c) || IsDigit(c); }
bool IsSpace(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r'; }

bool IsDurationUnit(char c) {
  return c == 's' || c == 'm' || c == 'h' || c == 'd' || c == 'w' || c == 'y';
}

int HexValue(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
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

// One escape sequence after a backslash at s[i] == '\\'. Advances i past it.
Status UnescapeOne(std::string_view s, size_t* i, char quote, std::string* out) {
  size_t at = *i;
  if (at + 1 >= s.size()) return InvalidArgument("escape sequence not terminated");
  char c = s[at + 1];
  *i = at + 2;
  switch (c) {
    case 'a': out->push_back('\a'); return Status::OK();
    case 'b': out->push_back('\b'); return Status::OK();
    case 'f': out->push_back('\f'); return Status::OK();
    case 'n': out->push_back('\n'); return Status::OK();
    case 'r': out->push_back('\r'); return Status::OK();
    case 't': out->push_back('\t'); return Status::OK();
    case 'v': out->push_back('\v'); return Status::OK();
    case '\\': out->push_back('\\'); return Status::OK();
    default: break;
  }
  if (c == quote) {
    out->push_back(c);
    return Status::OK();
  }
  int digits = 0, base = 16;
  if (c == 'x') digits = 2;
  else if (c == 'u') digits = 4;
  else if (c == 'U') digits = 8;
  else if (c >= '0' && c <= '7') { digits = 3; base = 8; *i = at + 1; }
  else return InvalidArgument(std::string("unknown escape sequence \\") + c);
  uint32_t v = 0;
  for (int k = 0; k < digits; ++k) {
    if (*i >= s.size()) return InvalidArgument("escape sequence not terminated");
    int d = HexValue(s[*i]);
    if (d < 0 || d >= base) return InvalidArgument("invalid character in escape sequence");
    v = v * base + d;
    ++*i;
  }
  if (c == 'x' || base == 8) {
    if (v > 255) return InvalidArgument("octal escape value > 255");
    out->push_back(static_cast<char>(v));
  } else {
    if (v > 0x10FFFF || (v >= 0xD800 && v < 0xE000))
      return InvalidArgument("escape sequence is an invalid Unicode code point");
    AppendUtf8(out, v);
  }
  return Status::OK();
}

bool IsValidUtf8(std::string_view s) {
  static constexpr uint32_t kMin[] = {0, 0x80, 0x800, 0x10000};
  size_t i = 0;
  while (i < s.size()) {
    unsigned char c = static_cast<unsigned char>(s[i]);
    int n = c < 0x80 ? 0 : (c >> 5) == 0x6 ? 1 : (c >> 4) == 0xE ? 2 : (c >> 3) == 0x1E ? 3 : -1;
    if (n < 0 || i + static_cast<size_t>(n) >= s.size() + (n == 0 ? 1 : 0)) return false;
    uint32_t cp = n == 0 ? c : n == 1 ? (c & 0x1F) : n == 2 ? (c & 0x0F) : (c & 0x07);
    for (int k = 1; k <= n; ++k) {
      unsigned char cc = static_cast<unsigned char>(s[i + k]);
      if ((cc >> 6) != 0x2) return false;
      cp = (cp << 6) | (cc & 0x3F);
    }
    if (cp < kMin[n] || cp > 0x10FFFF || (cp >= 0xD800 && cp < 0xE000)) return false;
    i += static_cast<size_t>(n) + 1;
  }
  return true;
}

class Lexer {
 public:
  explicit Lexer(std::string_view in) : in_(in) {}

  std::vector<Token> Run() {
    std::vector<Token> out;
    while (true) {
      SkipSpaceAndComments();
      Token t = Next();
      bool stop = t.kind == TokenKind::kEof || t.kind == TokenKind::kError;
      out.push_back(std::move(t));
      if (stop) break;
    }
    return out;
  }

 private:
  void SkipSpaceAndComments() {
    while (pos_ < in_.size()) {
      if (IsSpace(in_[pos_])) {
        ++pos_;
      } else if (in_[pos_] == '#') {
        while (pos_ < in_.size() && in_[pos_] != '\n') ++pos_;
      } else {
        break;
      }
    }
  }

  Token Make(TokenKind kind, size_t start) {
    Token t;
    t.kind = kind;
    t.pos = start;
    t.text = in_.substr(start, pos_ - start);
    return t;
  }

  Token Error(size_t start, std::string message) {
    Token t = Make(TokenKind::kError, start);
    t.value = std::move(message);
    return t;
  }

  char Peek(size_t ahead = 0) const {
    return pos_ + ahead < in_.size() ? in_[pos_ + ahead] : '\0';
  }

  Token Next() {
    size_t start = pos_;
    if (pos_ >= in_.size()) return Make(TokenKind::kEof, start);
    char c = in_[pos_];
    if (c == '"' || c == '\'' || c == '`') return String(c);
    if (IsDigit(c) || (c == '.' && IsDigit(Peek(1)))) return NumberOrDuration();
    if (IsAlpha(c) || c == ':') return Identifier();
    return Operator();
  }

  Token Operator() {
    size_t start = pos_;
    char c = in_[pos_++];
    char n = Peek();
    auto two = [&](TokenKind k) { ++pos_; return Make(k, start); };
    switch (c) {
      case '{': return Make(TokenKind::kLeftBrace, start);
      case '}': return Make(TokenKind::kRightBrace, start);
      case '(': return Make(TokenKind::kLeftParen, start);
      case ')': return Make(TokenKind::kRightParen, start);
      case '[': return Make(TokenKind::kLeftBracket, start);
      case ']': return Make(TokenKind::kRightBracket, start);
      case ',': return Make(TokenKind::kComma, start);
      case '@': return Make(TokenKind::kAt, start);
      case '+': return Make(TokenKind::kAdd, start);
      case '-': return Make(TokenKind::kSub, start);
      case '*': return Make(TokenKind::kMul, start);
      case '/': return Make(TokenKind::kDiv, start);
      case '%': return Make(TokenKind::kMod, start);
      case '^': return Make(TokenKind::kPow, start);
      case '=':
        if (n == '=') return two(TokenKind::kEql);
        if (n == '~') return two(TokenKind::kRegexMatch);
        return Make(TokenKind::kAssign, start);
      case '!':
        if (n == '=') return two(TokenKind::kNeq);
        if (n == '~') return two(TokenKind::kRegexNoMatch);
        return Error(start, "unexpected character after '!': expected '=' or '~'");
      case '<':
        if (n == '=') return two(TokenKind::kLte);
        return Make(TokenKind::kLss, start);
      case '>':
        if (n == '=') return two(TokenKind::kGte);
        return Make(TokenKind::kGtr, start);
      default: break;
    }
    std::string shown = (c >= 0x20 && c < 0x7f) ? std::string(1, c) : "\\x" + ToHex(c);
    return Error(start, "unexpected character: '" + shown + "'");
  }

  static std::string ToHex(char c) {
    static const char* kDigits = "0123456789abcdef";
    unsigned char u = static_cast<unsigned char>(c);
    return {kDigits[u >> 4], kDigits[u & 15]};
  }

  Token Identifier() {
    size_t start = pos_;
    bool colon = false;
    while (pos_ < in_.size() && (IsAlnum(in_[pos_]) || in_[pos_] == ':')) {
      colon = colon || in_[pos_] == ':';
      ++pos_;
    }
    if (pos_ - start == 1 && in_[start] == ':') return Make(TokenKind::kColon, start);
    Token t = Make(colon ? TokenKind::kMetricIdentifier : TokenKind::kIdentifier, start);
    std::string lower;
    for (char ch : t.text) lower.push_back(static_cast<char>(std::tolower(ch)));
    if (!colon && (lower == "inf" || lower == "nan")) t.kind = TokenKind::kNumber;
    return t;
  }

  Token NumberOrDuration() {
    size_t start = pos_;
    // A duration is digits followed by a unit, possibly repeated (1h30m).
    size_t p = pos_;
    bool duration = false;
    while (p < in_.size() && IsDigit(in_[p])) {
      while (p < in_.size() && IsDigit(in_[p])) ++p;
      size_t unit = p;
      if (p + 1 < in_.size() && in_[p] == 'm' && in_[p + 1] == 's') p += 2;
      else if (p < in_.size() && IsDurationUnit(in_[p])) ++p;
      if (p == unit) {
        // "5m30": digits after a unit need a unit of their own.
        if (duration) {
          while (pos_ < in_.size() && (IsAlnum(in_[pos_]) || in_[pos_] == '.')) ++pos_;
          return Error(start, "bad number or duration syntax: \"" +
                                  std::string(in_.substr(start, pos_ - start)) + "\"");
        }
        break;
      }
      duration = true;
    }
    if (duration && (p >= in_.size() || !IsAlnum(in_[p]))) {
      pos_ = p;
      return Make(TokenKind::kDuration, start);
    }
    if (Peek() == '0' && (Peek(1) == 'x' || Peek(1) == 'X')) {
      pos_ += 2;
      while (pos_ < in_.size() && HexValue(in_[pos_]) >= 0) ++pos_;
    } else {
      while (pos_ < in_.size() && IsDigit(in_[pos_])) ++pos_;
      if (Peek() == '.') {
        ++pos_;
        while (pos_ < in_.size() && IsDigit(in_[pos_])) ++pos_;
      }
      if (Peek() == 'e' || Peek() == 'E') {
        size_t save = pos_;
        ++pos_;
        if (Peek() == '+' || Peek() == '-') ++pos_;
        if (!IsDigit(Peek())) pos_ = save;
        while (pos_ < in_.size() && IsDigit(in_[pos_])) ++pos_;
      }
    }
    if (pos_ < in_.size() && IsAlnum(in_[pos_])) {
      while (pos_ < in_.size() && IsAlnum(in_[pos_])) ++pos_;
      return Error(start, "bad number or duration syntax: \"" +
                              std::string(in_.substr(start, pos_ - start)) + "\"");
    }
    return Make(TokenKind::kNumber, start);
  }

  Token String(char quote) {
    size_t start = pos_++;
    while (pos_ < in_.size() && in_[pos_] != quote) {
      if (quote != '`' && in_[pos_] == '\\') {
        pos_ += 2;
        continue;
      }
      if (quote != '`' && in_[pos_] == '\n') return Error(start, "unterminated quoted string");
      ++pos_;
    }
    if (pos_ >= in_.size()) {
      pos_ = in_.size();
      return Error(start, "unterminated quoted string");
    }
    ++pos_;
    Token t = Make(TokenKind::kString, start);
    auto v = Unquote(t.text);
    if (!v.ok()) return Error(start, v.status().message());
    t.value = std::move(*v);
    return t;
  }

  std::string_view in_;
  size_t pos_ = 0;
};

}  // namespace

std::vector<Token> Lex(std::string_view input) { return Lexer(input).Run(); }

StatusOr<std::string> Unquote(std::string_view q) {
  if (q.size() < 2 || q.front() != q.back() ||
      (q.front() != '"' && q.front() != '\'' && q.front() != '`'))
    return InvalidArgument("not a quoted string");
  char quote = q.front();
  std::string_view body = q.substr(1, q.size() - 2);
  if (quote == '`') {
    if (body.find('`') != std::string_view::npos) return InvalidArgument("unexpected backquote");
    std::string raw;
    for (char c : body)
      if (c != '\r') raw.push_back(c);  // Go drops carriage returns from raw strings
    if (!IsValidUtf8(raw)) return InvalidArgument("invalid UTF-8 in string");
    return raw;
  }
  std::string out;
  out.reserve(body.size());
  for (size_t i = 0; i < body.size();) {
    char c = body[i];
    if (c == quote) return InvalidArgument(std::string("unescaped ") + quote + " in string");
    if (c == '\n') return InvalidArgument("newline in string");
    if (c != '\\') {
      out.push_back(c);
      ++i;
      continue;
    }
    Status s = UnescapeOne(body, &i, quote, &out);
    if (!s.ok()) return s;
  }
  // Byte escapes (\xff) may build any bytes, as in Go; raw bytes in the source must be UTF-8.
  std::string source(body);
  if (!IsValidUtf8(source)) return InvalidArgument("invalid UTF-8 in string");
  return out;
}

StatusOr<int64_t> ParseDurationMillis(std::string_view text) {
  static constexpr struct { std::string_view unit; int64_t ms; } kUnits[] = {
      {"y", 365LL * 24 * 3600 * 1000}, {"w", 7LL * 24 * 3600 * 1000}, {"d", 24LL * 3600 * 1000},
      {"h", 3600LL * 1000}, {"m", 60LL * 1000}, {"s", 1000}, {"ms", 1}};
  if (text.empty()) return InvalidArgument("empty duration string");
  int64_t total = 0;
  size_t i = 0;
  int last_unit = -1;
  while (i < text.size()) {
    size_t digits = i;
    while (i < text.size() && IsDigit(text[i])) ++i;
    if (i == digits) return InvalidArgument("not a valid duration string: \"" + std::string(text) + "\"");
    std::string_view num = text.substr(digits, i - digits);
    int unit = -1;
    for (int u = 6; u >= 0; --u) {  // "ms" before "m"
      std::string_view name = kUnits[u].unit;
      if (text.substr(i, name.size()) == name && !(name == "m" && text.substr(i, 2) == "ms")) {
        unit = u;
        break;
      }
    }
    if (unit < 0 || unit <= last_unit)
      return InvalidArgument("not a valid duration string: \"" + std::string(text) + "\"");
    i += kUnits[unit].unit.size();
    last_unit = unit;
    if (num.size() > 15) return InvalidArgument("duration out of range: \"" + std::string(text) + "\"");
    int64_t n = std::strtoll(std::string(num).c_str(), nullptr, 10);
    if (n > (INT64_MAX - total) / kUnits[unit].ms)
      return InvalidArgument("duration out of range: \"" + std::string(text) + "\"");
    total += n * kUnits[unit].ms;
  }
  return total;
}

std::string_view TokenKindName(TokenKind kind) {
  switch (kind) {
    case TokenKind::kEof: return "end of input";
    case TokenKind::kError: return "error";
    case TokenKind::kIdentifier: return "identifier";
    case TokenKind::kMetricIdentifier: return "metric identifier";
    case TokenKind::kNumber: return "number";
    case TokenKind::kDuration: return "duration";
    case TokenKind::kString: return "string";
    case TokenKind::kLeftBrace: return "\"{\"";
    case TokenKind::kRightBrace: return "\"}\"";
    case TokenKind::kLeftParen: return "\"(\"";
    case TokenKind::kRightParen: return "\")\"";
    case TokenKind::kLeftBracket: return "\"[\"";
    case TokenKind::kRightBracket: return "\"]\"";
    case TokenKind::kComma: return "\",\"";
    case TokenKind::kColon: return "\":\"";
    case TokenKind::kAt: return "\"@\"";
    case TokenKind::kAssign: return "\"=\"";
    case TokenKind::kEql: return "\"==\"";
    case TokenKind::kNeq: return "\"!=\"";
    case TokenKind::kRegexMatch: return "\"=~\"";
    case TokenKind::kRegexNoMatch: return "\"!~\"";
    case TokenKind::kLss: return "\"<\"";
    case TokenKind::kGtr: return "\">\"";
    case TokenKind::kLte: return "\"<=\"";
    case TokenKind::kGte: return "\">=\"";
    case TokenKind::kAdd: return "\"+\"";
    case TokenKind::kSub: return "\"-\"";
    case TokenKind::kMul: return "\"*\"";
    case TokenKind::kDiv: return "\"/\"";
    case TokenKind::kMod: return "\"%\"";
    case TokenKind::kPow: return "\"^\"";
  }
  return "token";
}

}  // namespace steward::promql
