// The expression lexer: a transcription of Prometheus 2.42's lexer states (lexStatements,
// lexInsideBraces, lexDuration, lexString, ...) so that tokens, errors and error positions are
// the ones Prometheus produces, lazily, one item at a time. See parser_internal.h.
#include <cctype>
#include <string>
#include <utility>

#include "promql/parser_internal.h"

namespace steward::promql::internal {
namespace {

constexpr int32_t kEofRune = -1;
constexpr int32_t kRuneError = 0xFFFD;

bool IsSpace(int32_t r) { return r == ' ' || r == '\t' || r == '\n' || r == '\r'; }
bool IsAlpha(int32_t r) { return r == '_' || (r >= 'a' && r <= 'z') || (r >= 'A' && r <= 'Z'); }
bool IsDigit(int32_t r) { return r >= '0' && r <= '9'; }
bool IsAlnum(int32_t r) { return IsAlpha(r) || IsDigit(r); }

struct Keyword {
  std::string_view word;
  Tok tok;
};
constexpr Keyword kKeywords[] = {
    {"and", Tok::kLand},
    {"or", Tok::kLor},
    {"unless", Tok::kLunless},
    {"atan2", Tok::kAtan2},
    {"sum", Tok::kSum},
    {"avg", Tok::kAvg},
    {"count", Tok::kCount},
    {"min", Tok::kMin},
    {"max", Tok::kMax},
    {"group", Tok::kGroup},
    {"stddev", Tok::kStddev},
    {"stdvar", Tok::kStdvar},
    {"topk", Tok::kTopk},
    {"bottomk", Tok::kBottomk},
    {"count_values", Tok::kCountValues},
    {"quantile", Tok::kQuantile},
    {"offset", Tok::kOffset},
    {"by", Tok::kBy},
    {"without", Tok::kWithout},
    {"on", Tok::kOn},
    {"ignoring", Tok::kIgnoring},
    {"group_left", Tok::kGroupLeft},
    {"group_right", Tok::kGroupRight},
    {"bool", Tok::kBool},
    {"start", Tok::kStart},
    {"end", Tok::kEnd},
    {"inf", Tok::kNumber},
    {"nan", Tok::kNumber},
};

// Decodes one UTF-8 rune like Go's utf8.DecodeRuneInString: invalid → RuneError, width 1.
int32_t DecodeRune(std::string_view s, size_t at, size_t* width) {
  unsigned char c = static_cast<unsigned char>(s[at]);
  *width = 1;
  if (c < 0x80) return c;
  int n = (c >> 5) == 0x6 ? 1 : (c >> 4) == 0xE ? 2 : (c >> 3) == 0x1E ? 3 : -1;
  if (n < 0) return kRuneError;
  static constexpr int32_t kMin[] = {0, 0x80, 0x800, 0x10000};
  int32_t cp = n == 1 ? (c & 0x1F) : n == 2 ? (c & 0x0F) : (c & 0x07);
  for (int k = 1; k <= n; ++k) {
    if (at + k >= s.size()) return kRuneError;
    unsigned char cc = static_cast<unsigned char>(s[at + k]);
    if ((cc >> 6) != 0x2) return kRuneError;
    cp = (cp << 6) | (cc & 0x3F);
  }
  if (cp < kMin[n] || cp > 0x10FFFF || (cp >= 0xD800 && cp < 0xE000)) return kRuneError;
  *width = static_cast<size_t>(n) + 1;
  return cp;
}

// Go's %#U: "U+0071 'q'" (the character only when printable).
std::string SharpU(int32_t r) {
  char buf[32];
  if (r < 0) return "U+FFFFFFFFFFFFFFFF";
  snprintf(buf, sizeof buf, "U+%04X", static_cast<unsigned>(r));
  std::string out = buf;
  std::string q = GoQuoteRune(static_cast<uint32_t>(r));
  if (q.size() >= 3 && q[1] != '\\') out += " " + q;
  return out;
}

std::string QuoteRuneOrEof(int32_t r) {
  return GoQuoteRune(r == kEofRune ? 0xFFFD : static_cast<uint32_t>(r));
}

}  // namespace

class ExprLexer {
 public:
  explicit ExprLexer(std::string_view in) : in_(in) {}

  // The next item; after the kEof or kError item, kEof items at the end.
  Item Next() {
    if (!done_ && ++count_ > kMaxItems) {
      return Error("query has more than " + std::to_string(kMaxItems) +
                   " tokens, the most this parser reads");
    }
    return NextItem();
  }
  const std::string& error() const { return error_; }

 private:
  enum class State { kStatements, kInsideBraces, kDuration };

  int32_t NextRune() {
    if (pos_ >= in_.size()) {
      width_ = 0;
      return kEofRune;
    }
    int32_t r = DecodeRune(in_, pos_, &width_);
    pos_ += width_;
    return r;
  }
  int32_t Peek() {
    int32_t r = NextRune();
    Backup();
    return r;
  }
  void Backup() { pos_ -= width_; }
  bool Accept(std::string_view valid) {
    int32_t r = NextRune();
    if (r >= 0 && r < 0x80 && valid.find(static_cast<char>(r)) != std::string_view::npos)
      return true;
    Backup();
    return false;
  }
  void AcceptRun(std::string_view valid) {
    while (Accept(valid)) {
    }
  }

  Item Emit(Tok kind) {
    Item it;
    it.kind = kind;
    it.pos = start_;
    it.text = in_.substr(start_, pos_ - start_);
    start_ = pos_;
    return it;
  }
  Item Error(std::string message) {
    Item it;
    it.kind = Tok::kError;
    it.pos = start_;
    it.text = in_.substr(start_, 0);
    error_ = std::move(message);
    done_ = true;
    return it;
  }

  Item NextItem() {
    if (done_) {
      Item it;
      it.pos = start_;
      return it;
    }
    while (true) {
      // Comments and spaces produce no item; loop until one does.
      if (state_ == State::kDuration) {
        state_ = State::kStatements;
        return LexDuration();
      }
      if (in_.substr(pos_, 1) == "#") {
        while (pos_ < in_.size() && in_[pos_] != '\n' && in_[pos_] != '\r') ++pos_;
        start_ = pos_;
        continue;
      }
      bool skipped = false;
      if (state_ == State::kInsideBraces) {
        Item it = InsideBraces(&skipped);
        if (!skipped) return it;
        continue;
      }
      Item it = Statements(&skipped);
      if (!skipped) return it;
    }
  }

  void SkipSpaces() {
    while (IsSpace(Peek())) NextRune();
    start_ = pos_;
  }

  Item Statements(bool* skipped) {
    int32_t r = NextRune();
    if (r == kEofRune) {
      if (paren_depth_ != 0) return Error("unclosed left parenthesis");
      if (bracket_open_) return Error("unclosed left bracket");
      done_ = true;
      return Emit(Tok::kEof);
    }
    if (Item it; Punctuation(r, &it)) return it;
    if (IsSpace(r)) {
      SkipSpaces();
      *skipped = true;
      return Item();
    }
    if (IsDigit(r) || (r == '.' && IsDigit(Peek()))) {
      Backup();
      return NumberOrDuration();
    }
    if (IsAlpha(r) || r == ':') {
      if (!bracket_open_) {
        Backup();
        return KeywordOrIdentifier();
      }
      if (got_colon_) return Error("unexpected colon " + GoQuoteRune(static_cast<uint32_t>(r)));
      got_colon_ = true;
      return Emit(Tok::kColon);
    }
    return Error("unexpected character: " + GoQuoteRune(static_cast<uint32_t>(r)));
  }

  // Operators, strings, parentheses, braces and brackets outside braces; false for other runes.
  bool Punctuation(int32_t r, Item* out) {
    static constexpr std::pair<char, Tok> kSingle[] = {
        {',', Tok::kComma}, {'*', Tok::kMul}, {'/', Tok::kDiv}, {'%', Tok::kMod},
        {'+', Tok::kAdd},   {'-', Tok::kSub}, {'^', Tok::kPow}, {'@', Tok::kAt}};
    for (const auto& [c, tok] : kSingle) {
      if (r == c) {
        *out = Emit(tok);
        return true;
      }
    }
    switch (r) {
      case '=':
      case '!':
      case '<':
      case '>':
        *out = Comparison(r);
        return true;
      case '"':
      case '\'':
        *out = LexString(static_cast<char>(r));
        return true;
      case '`':
        *out = LexRawString();
        return true;
      case '(':
      case ')':
      case '{':
      case '[':
      case ']':
        *out = Bracket(r);
        return true;
      default:
        return false;
    }
  }

  // = == != < <= > >= outside braces (=~ and a lone ! are errors there).
  Item Comparison(int32_t r) {
    if (r == '=') {
      int32_t t = Peek();
      if (t == '=') {
        NextRune();
        return Emit(Tok::kEqlc);
      }
      if (t == '~') return Error("unexpected character after '=': " + GoQuoteRune('~'));
      return Emit(Tok::kEql);
    }
    if (r == '!') {
      int32_t t = NextRune();
      if (t != '=') return Error("unexpected character after '!': " + QuoteRuneOrEof(t));
      return Emit(Tok::kNeq);
    }
    bool eq = Peek() == '=';
    if (eq) NextRune();
    return Emit(r == '<' ? (eq ? Tok::kLte : Tok::kLss) : (eq ? Tok::kGte : Tok::kGtr));
  }

  // ( ) { [ ]: the parenthesis depth, braces and the bracket state they switch to.
  Item Bracket(int32_t r) {
    switch (r) {
      case '(':
        ++paren_depth_;
        return Emit(Tok::kLeftParen);
      case ')': {
        Item it = Emit(Tok::kRightParen);
        if (--paren_depth_ < 0) return Error("unexpected right parenthesis " + GoQuoteRune(')'));
        return it;
      }
      case '{':
        state_ = State::kInsideBraces;
        return Emit(Tok::kLeftBrace);
      case '[': {
        if (bracket_open_) return Error("unexpected left bracket " + GoQuoteRune('['));
        got_colon_ = false;
        Item it = Emit(Tok::kLeftBracket);
        if (IsSpace(Peek())) SkipSpaces();
        bracket_open_ = true;
        state_ = State::kDuration;
        return it;
      }
      default:  // ']'
        if (!bracket_open_) return Error("unexpected right bracket " + GoQuoteRune(']'));
        bracket_open_ = false;
        return Emit(Tok::kRightBracket);
    }
  }

  Item InsideBraces(bool* skipped) {
    int32_t r = NextRune();
    if (r == kEofRune) return Error("unexpected end of input inside braces");
    if (IsSpace(r)) {
      SkipSpaces();
      *skipped = true;
      return Item();
    }
    if (IsAlpha(r)) {
      while (IsAlnum(NextRune())) {
      }
      Backup();
      return Emit(Tok::kIdentifier);
    }
    switch (r) {
      case ',':
        return Emit(Tok::kComma);
      case '"':
      case '\'':
        return LexString(static_cast<char>(r));
      case '`':
        return LexRawString();
      case '=':
        if (NextRune() == '~') return Emit(Tok::kEqlRegex);
        Backup();
        return Emit(Tok::kEql);
      case '!': {
        int32_t nr = NextRune();
        if (nr == '~') return Emit(Tok::kNeqRegex);
        if (nr == '=') return Emit(Tok::kNeq);
        return Error("unexpected character after '!' inside braces: " + QuoteRuneOrEof(nr));
      }
      case '{':
        return Error("unexpected left brace " + GoQuoteRune('{'));
      case '}':
        state_ = State::kStatements;
        return Emit(Tok::kRightBrace);
      default:
        return Error("unexpected character inside braces: " +
                     GoQuoteRune(static_cast<uint32_t>(r)));
    }
  }

  // Prometheus 2.42's scanNumber: digits (hex after 0x), a fraction, an exponent; true when
  // no alphanumeric follows.
  bool ScanNumber() {
    std::string_view digits = "0123456789";
    if (Accept("0") && Accept("xX")) digits = "0123456789abcdefABCDEF";
    AcceptRun(digits);
    if (Accept(".")) AcceptRun(digits);
    if (Accept("eE")) {
      Accept("+-");
      AcceptRun("0123456789");
    }
    return !IsAlnum(Peek());
  }

  bool AcceptRemainingDuration() {
    if (!Accept("smhdwy")) return false;
    Accept("s");
    while (Accept("0123456789")) {
      while (Accept("0123456789")) {
      }
      if (!Accept("smhdw")) return false;
      Accept("s");
    }
    return !IsAlnum(NextRune());
  }

  Item NumberOrDuration() {
    if (ScanNumber()) return Emit(Tok::kNumber);
    if (AcceptRemainingDuration()) {
      Backup();
      return Emit(Tok::kDuration);
    }
    return Error("bad number or duration syntax: " + GoQuote(in_.substr(start_, pos_ - start_)));
  }

  Item LexDuration() {
    if (ScanNumber()) return Error("missing unit character in duration");
    if (!AcceptRemainingDuration())
      return Error("bad duration syntax: " + GoQuote(in_.substr(start_, pos_ - start_)));
    Backup();
    return Emit(Tok::kDuration);
  }

  Item KeywordOrIdentifier() {
    while (true) {
      int32_t r = NextRune();
      if (IsAlnum(r) || r == ':') continue;
      Backup();
      break;
    }
    std::string_view word = in_.substr(start_, pos_ - start_);
    std::string lower(word);
    for (char& c : lower) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    for (const Keyword& k : kKeywords)
      if (k.word == lower) return Emit(k.tok);
    return Emit(word.find(':') == std::string_view::npos ? Tok::kIdentifier
                                                         : Tok::kMetricIdentifier);
  }

  // lexEscape: validates one escape after a backslash; returns an error message or "".
  std::string Escape(char quote) {
    int32_t ch = NextRune();
    int n = 0;
    uint32_t base = 0, max = 0;
    switch (ch) {
      case 'a':
      case 'b':
      case 'f':
      case 'n':
      case 'r':
      case 't':
      case 'v':
      case '\\':
        return "";
      case '0':
      case '1':
      case '2':
      case '3':
      case '4':
      case '5':
      case '6':
      case '7':
        n = 3, base = 8, max = 255;
        break;
      case 'x':
        ch = NextRune(), n = 2, base = 16, max = 255;
        break;
      case 'u':
        ch = NextRune(), n = 4, base = 16, max = 0x10FFFF;
        break;
      case 'U':
        ch = NextRune(), n = 8, base = 16, max = 0x10FFFF;
        break;
      case kEofRune:
        return "escape sequence not terminated";
      default:
        if (ch == quote) return "";
        return "unknown escape sequence " + SharpU(ch);
    }
    uint32_t x = 0;
    while (n > 0) {
      uint32_t d = ch >= '0' && ch <= '9'   ? ch - '0'
                   : ch >= 'a' && ch <= 'f' ? ch - 'a' + 10
                   : ch >= 'A' && ch <= 'F' ? ch - 'A' + 10
                                            : 16;
      if (d >= base) {
        if (ch == kEofRune) return "escape sequence not terminated";
        return "illegal character " + SharpU(ch) + " in escape sequence";
      }
      x = x * base + d;
      if (--n > 0) ch = NextRune();
    }
    if (x > max || (x >= 0xD800 && x < 0xE000))
      return "escape sequence is an invalid Unicode code point";
    return "";
  }

  Item LexString(char quote) {
    while (true) {
      int32_t r = NextRune();
      if (r == '\\') {
        std::string err = Escape(quote);
        if (!err.empty()) return Error(err);
        continue;
      }
      // Go's lexer sees utf8.RuneError, so a literal U+FFFD is rejected too.
      if (r == kRuneError) return Error("invalid UTF-8 rune");
      if (r == kEofRune || r == '\n') return Error("unterminated quoted string");
      if (r == quote) break;
    }
    return Emit(Tok::kString);
  }

  Item LexRawString() {
    while (true) {
      int32_t r = NextRune();
      // Go's lexer sees utf8.RuneError, so a literal U+FFFD is rejected too.
      if (r == kRuneError) return Error("invalid UTF-8 rune");
      if (r == kEofRune) return Error("unterminated raw string");
      if (r == '`') break;
    }
    return Emit(Tok::kString);
  }

  std::string_view in_;
  size_t pos_ = 0, start_ = 0, width_ = 0;
  State state_ = State::kStatements;
  int paren_depth_ = 0;
  bool bracket_open_ = false, got_colon_ = false, done_ = false;
  size_t count_ = 0;   // items produced
  std::string error_;  // the kError item's message
};

bool IsOperatorTok(Tok t) { return t >= Tok::kAdd && t <= Tok::kAtan2; }
bool IsAggregatorTok(Tok t) { return t >= Tok::kAvg && t <= Tok::kTopk; }
bool IsKeywordTok(Tok t) { return t >= Tok::kBool && t <= Tok::kWithout; }

ItemStream::ItemStream(std::string_view query) : lexer_(std::make_unique<ExprLexer>(query)) {}
ItemStream::~ItemStream() = default;

const Item& ItemStream::Peek(size_t ahead) {
  while (items_.size() <= at_ + ahead) {
    if (!items_.empty() && (items_.back().kind == Tok::kEof || items_.back().kind == Tok::kError))
      return items_.back();
    items_.push_back(lexer_->Next());
  }
  return items_[at_ + ahead];
}

const Item& ItemStream::Take() {
  const Item& it = Peek();
  if (it.kind != Tok::kEof && it.kind != Tok::kError) ++at_;  // the last item stays current
  return it;
}

const std::string& ItemStream::error() const { return lexer_->error(); }

Lexed LexExpr(std::string_view input) {
  ExprLexer lexer(input);
  Lexed out;
  while (out.items.empty() ||
         (out.items.back().kind != Tok::kEof && out.items.back().kind != Tok::kError))
    out.items.push_back(lexer.Next());
  out.error = lexer.error();
  return out;
}

std::string DescribeItem(const Item& item) {
  // Item.desc(): Item.String() alone for the types in Prometheus' ItemTypeStr (punctuation,
  // operators, keywords), "<type> <String()>" for the others.
  std::string text(item.text);
  if (item.kind == Tok::kEof) return "end of input";
  if (item.kind == Tok::kError) return "error";
  if (item.kind == Tok::kIdentifier) return "identifier " + GoQuote(text);
  if (item.kind == Tok::kMetricIdentifier) return "metric identifier " + GoQuote(text);
  // 2.42 lacks AT in ItemTypeStr, so "@" shows as its numeric item type, then as an operator.
  if (item.kind == Tok::kAt) return "\"<Item 57385>\" <op:" + text + ">";
  if (IsKeywordTok(item.kind)) return "<" + text + ">";
  if (IsOperatorTok(item.kind)) return "<op:" + text + ">";
  if (IsAggregatorTok(item.kind)) return "<aggr:" + text + ">";
  std::string shown;
  if (text.size() > 10) {
    // %.10q...: the first ten runes, quoted.
    size_t cut = 0;
    for (int runes = 0; runes < 10 && cut < text.size(); ++runes) {
      size_t w = 1;
      DecodeRune(text, cut, &w);
      cut += w;
    }
    shown = GoQuote(text.substr(0, cut)) + "...";
  } else {
    shown = GoQuote(text);
  }
  switch (item.kind) {
    case Tok::kNumber:
      return "number " + shown;
    case Tok::kDuration:
      return "duration " + shown;
    case Tok::kString:
      return "string " + shown;
    default:
      return shown;
  }
}

}  // namespace steward::promql::internal
