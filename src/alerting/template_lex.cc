// Go 1.20's text/template lexer; see template_lex.h. The state functions keep Go's names.
#include "alerting/template_lex.h"

#include <fmt/format.h>

#include "alerting/template_internal.h"

namespace steward::alerting::tmpl {
namespace {

constexpr uint32_t kEofRune = 0xFFFFFFFF;
constexpr std::string_view kLeftDelim = "{{";
constexpr std::string_view kRightDelim = "}}";
constexpr std::string_view kLeftComment = "/*";
constexpr std::string_view kRightComment = "*/";

bool IsSpace(uint32_t r) { return r == ' ' || r == '\t' || r == '\r' || r == '\n'; }

// unicode.IsLetter || IsDigit || '_', approximated outside ASCII: the Latin-1 and general
// punctuation and symbol blocks are not letters, everything else is.
bool IsAlphaNumeric(uint32_t r) {
  if (r == kEofRune) return false;
  if (r < 0x80)
    return r == '_' || (r >= '0' && r <= '9') || ((r | 0x20) >= 'a' && (r | 0x20) <= 'z');
  if (r < 0xC0) return r == 0xAA || r == 0xB5 || r == 0xBA || r == 0xB2 || r == 0xB3 || r == 0xB9;
  if (r == 0xD7 || r == 0xF7 || r == 0xFFFD) return false;
  if (r >= 0x2000 && r <= 0x2BFF) return false;
  if (r >= 0x3000 && r <= 0x303F) return false;
  return true;
}

bool HasLeftTrimMarker(std::string_view s) { return s.size() >= 2 && s[0] == '-' && IsSpace(s[1]); }
bool HasRightTrimMarker(std::string_view s) {
  return s.size() >= 2 && IsSpace(static_cast<unsigned char>(s[0])) && s[1] == '-';
}

size_t RightTrimLength(std::string_view s) {
  size_t n = s.size();
  while (n > 0 && IsSpace(static_cast<unsigned char>(s[n - 1]))) --n;
  return s.size() - n;
}
size_t LeftTrimLength(std::string_view s) {
  size_t n = 0;
  while (n < s.size() && IsSpace(static_cast<unsigned char>(s[n]))) ++n;
  return n;
}

// fmt's %#U: U+0023 '#'.
std::string RuneU(uint32_t r) {
  std::string out = fmt::format("U+{:04X}", r);
  if (r >= 0x20 && r != 0x7F && r != 0xFFFD && r <= 0x10FFFF && !(r >= 0x80 && r < 0xA0)) {
    out += " '";
    AppendRune(&out, r);
    out += "'";
  }
  return out;
}

ItemType Keyword(std::string_view word) {
  static const std::pair<std::string_view, ItemType> kKeys[] = {{".", ItemType::kDot},
                                                                {"block", ItemType::kBlock},
                                                                {"break", ItemType::kBreak},
                                                                {"continue", ItemType::kContinue},
                                                                {"define", ItemType::kDefine},
                                                                {"else", ItemType::kElse},
                                                                {"end", ItemType::kEnd},
                                                                {"if", ItemType::kIf},
                                                                {"range", ItemType::kRange},
                                                                {"nil", ItemType::kNil},
                                                                {"template", ItemType::kTemplate},
                                                                {"with", ItemType::kWith}};
  for (const auto& [k, t] : kKeys) {
    if (k == word) return t;
  }
  return ItemType::kError;
}

}  // namespace

std::string Item::String() const {
  if (type == ItemType::kEof) return "EOF";
  if (type == ItemType::kError) return val;
  if (type > ItemType::kKeyword) return "<" + val + ">";
  if (val.size() > 10) {
    size_t cut = 0;
    for (int n = 0; n < 10 && cut < val.size(); ++n) {
      size_t w = 1;
      DecodeRune(val, cut, &w);
      cut += w;
    }
    return Quote(std::string_view(val).substr(0, cut)) + "...";
  }
  return Quote(val);
}

uint32_t Lexer::NextRune() {
  last_pos_ = pos_;
  if (pos_ >= in_.size()) return kEofRune;
  size_t w = 1;
  uint32_t r = DecodeRune(in_, pos_, &w);
  pos_ += w;
  return r;
}

uint32_t Lexer::PeekRune() const {
  if (pos_ >= in_.size()) return kEofRune;
  size_t w = 1;
  return DecodeRune(in_, pos_, &w);
}

bool Lexer::Accept(std::string_view valid) {
  if (pos_ < in_.size() && valid.find(in_[pos_]) != std::string_view::npos) {
    last_pos_ = pos_++;
    return true;
  }
  return false;
}

void Lexer::AcceptRun(std::string_view valid) {
  while (Accept(valid)) {
  }
}

void Lexer::Ignore() {
  for (size_t i = start_; i < pos_; ++i) start_line_ += in_[i] == '\n';
  start_ = pos_;
}

Item Lexer::Emit(ItemType type) {
  Item it{type, start_, std::string(in_.substr(start_, pos_ - start_)), start_line_};
  Ignore();
  return it;
}

Item Lexer::Errorf(std::string message) {
  Item it{ItemType::kError, start_, std::move(message), start_line_};
  state_ = State::kDone;
  return it;
}

bool Lexer::AtRightDelim(bool* trim) const {
  std::string_view rest = in_.substr(pos_);
  if (HasRightTrimMarker(rest) && rest.substr(2).starts_with(kRightDelim)) {
    *trim = true;
    return true;
  }
  *trim = false;
  return rest.starts_with(kRightDelim);
}

bool Lexer::AtTerminator() const {
  uint32_t r = PeekRune();
  if (IsSpace(r) || r == kEofRune) return true;
  switch (r) {
    case '.':
    case ',':
    case '|':
    case ':':
    case ')':
    case '(':
      return true;
    default:
      return in_.substr(pos_).starts_with(kRightDelim);
  }
}

Item Lexer::Next() {
  Item out;
  if (!pending_error_.empty()) {
    std::string message;
    message.swap(pending_error_);
    return Errorf(std::move(message));
  }
  for (;;) {
    switch (state_) {
      case State::kDone:
        return Item{ItemType::kEof, pos_, "", start_line_};
      case State::kText:
        if (LexText(&out)) return out;
        break;
      case State::kLeftDelim:
        if (LexLeftDelim(&out)) return out;
        break;
      case State::kInside:
        return LexInsideAction();
      case State::kRightDelim:
        return LexRightDelim();
    }
  }
}

bool Lexer::LexText(Item* out) {
  size_t x = in_.find(kLeftDelim, pos_);
  if (x == std::string_view::npos) {
    pos_ = in_.size();
    state_ = State::kDone;
    *out = pos_ > start_ ? Emit(ItemType::kText) : Item{ItemType::kEof, pos_, "", start_line_};
    return true;
  }
  state_ = State::kLeftDelim;
  if (x == pos_) return false;
  pos_ = x;
  size_t trim = 0;
  if (HasLeftTrimMarker(in_.substr(pos_ + kLeftDelim.size()))) {
    trim = RightTrimLength(in_.substr(start_, pos_ - start_));
  }
  pos_ -= trim;
  Item text = Emit(ItemType::kText);
  pos_ += trim;
  Ignore();
  if (text.val.empty()) return false;
  *out = std::move(text);
  return true;
}

bool Lexer::LexLeftDelim(Item* out) {
  pos_ += kLeftDelim.size();
  size_t after_marker = HasLeftTrimMarker(in_.substr(pos_)) ? 2 : 0;
  if (in_.substr(pos_ + after_marker).starts_with(kLeftComment)) {
    pos_ += after_marker;
    Ignore();
    return LexComment(out);
  }
  *out = Emit(ItemType::kLeftDelim);
  pos_ += after_marker;
  Ignore();
  paren_depth_ = 0;
  state_ = State::kInside;
  return true;
}

bool Lexer::LexComment(Item* out) {
  pos_ += kLeftComment.size();
  size_t x = in_.find(kRightComment, pos_);
  if (x == std::string_view::npos) {
    *out = Errorf("unclosed comment");
    return true;
  }
  pos_ = x + kRightComment.size();
  bool trim = false;
  if (!AtRightDelim(&trim)) {
    *out = Errorf("comment ends before closing delimiter");
    return true;
  }
  if (trim) pos_ += 2;
  pos_ += kRightDelim.size();
  if (trim) pos_ += LeftTrimLength(in_.substr(pos_));
  Ignore();
  state_ = State::kText;
  return false;
}

Item Lexer::LexRightDelim() {
  bool trim = false;
  AtRightDelim(&trim);
  if (trim) {
    pos_ += 2;
    Ignore();
  }
  pos_ += kRightDelim.size();
  Item it = Emit(ItemType::kRightDelim);
  if (trim) {
    pos_ += LeftTrimLength(in_.substr(pos_));
    Ignore();
  }
  state_ = State::kText;
  return it;
}

Item Lexer::LexInsideAction() {
  bool trim = false;
  if (AtRightDelim(&trim)) {
    if (paren_depth_ == 0) return LexRightDelim();
    return Errorf("unclosed left paren");
  }
  uint32_t r = NextRune();
  if (r == kEofRune) return Errorf("unclosed action");
  if (IsSpace(r)) {
    Backup();
    return LexSpace();
  }
  switch (r) {
    case '=':
      return Emit(ItemType::kAssign);
    case ':':
      if (NextRune() != '=') return Errorf("expected :=");
      return Emit(ItemType::kDeclare);
    case '|':
      return Emit(ItemType::kPipe);
    case '"':
      return LexQuote('"', ItemType::kString, "unterminated quoted string");
    case '`':
      return LexRawQuote();
    case '$':
      return LexFieldOrVariable(ItemType::kVariable);
    case '\'':
      return LexQuote('\'', ItemType::kCharConstant, "unterminated character constant");
    case '(':
      ++paren_depth_;
      return Emit(ItemType::kLeftParen);
    case ')':
      // Go emits the paren, then fails on the next item when it closed nothing.
      if (--paren_depth_ < 0) pending_error_ = "unexpected right paren " + RuneU(r);
      return Emit(ItemType::kRightParen);
    default:
      break;
  }
  if (r == '.' && pos_ < in_.size() && (in_[pos_] < '0' || in_[pos_] > '9')) {
    return LexFieldOrVariable(ItemType::kField);
  }
  if (r == '.' || r == '+' || r == '-' || (r >= '0' && r <= '9')) {
    Backup();
    return LexNumber();
  }
  if (IsAlphaNumeric(r)) {
    Backup();
    return LexIdentifier();
  }
  if (r < 0x80 && r >= 0x20 && r != 0x7F) return Emit(ItemType::kChar);
  return Errorf("unrecognized character in action: " + RuneU(r));
}

Item Lexer::LexSpace() {
  int spaces = 0;
  while (IsSpace(PeekRune())) {
    NextRune();
    ++spaces;
  }
  std::string_view before = in_.substr(pos_ - 1);
  if (HasRightTrimMarker(before) && before.substr(2).starts_with(kRightDelim)) {
    Backup();  // before the space that belongs to " -}}"
    if (spaces == 1) return LexInsideAction();
  }
  return Emit(ItemType::kSpace);
}

Item Lexer::LexIdentifier() {
  uint32_t r = 0;
  while (IsAlphaNumeric(r = NextRune())) {
  }
  Backup();
  std::string_view word = in_.substr(start_, pos_ - start_);
  if (!AtTerminator()) return Errorf("bad character " + RuneU(r));
  ItemType key = Keyword(word);
  if (key > ItemType::kKeyword) return Emit(key);
  if (word[0] == '.') return Emit(ItemType::kField);
  if (word == "true" || word == "false") return Emit(ItemType::kBool);
  return Emit(ItemType::kIdentifier);
}

Item Lexer::LexFieldOrVariable(ItemType type) {
  if (AtTerminator())
    return Emit(type == ItemType::kVariable ? ItemType::kVariable : ItemType::kDot);
  uint32_t r = 0;
  while (IsAlphaNumeric(r = NextRune())) {
  }
  Backup();
  if (!AtTerminator()) return Errorf("bad character " + RuneU(r));
  return Emit(type);
}

Item Lexer::LexQuote(char quote, ItemType type, const char* unterminated) {
  for (;;) {
    uint32_t r = NextRune();
    if (r == '\\') {
      r = NextRune();
      if (r != kEofRune && r != '\n') continue;
    }
    if (r == kEofRune || r == '\n') return Errorf(unterminated);
    if (r == static_cast<uint32_t>(quote)) return Emit(type);
  }
}

Item Lexer::LexRawQuote() {
  size_t x = in_.find('`', pos_);
  if (x == std::string_view::npos) {
    pos_ = in_.size();
    return Errorf("unterminated raw quoted string");
  }
  pos_ = x + 1;
  return Emit(ItemType::kRawString);
}

Item Lexer::LexNumber() {
  auto bad = [&] {
    return Errorf("bad number syntax: " + Quote(in_.substr(start_, pos_ - start_)));
  };
  if (!ScanNumber()) return bad();
  if (pos_ < in_.size() && (in_[pos_] == '+' || in_[pos_] == '-')) {
    if (!ScanNumber() || in_[pos_ - 1] != 'i') return bad();
    return Emit(ItemType::kComplex);
  }
  return Emit(ItemType::kNumber);
}

bool Lexer::ScanNumber() {
  Accept("+-");
  std::string_view digits = "0123456789_";
  if (Accept("0")) {
    if (Accept("xX")) {
      digits = "0123456789abcdefABCDEF_";
    } else if (Accept("oO")) {
      digits = "01234567_";
    } else if (Accept("bB")) {
      digits = "01_";
    }
  }
  AcceptRun(digits);
  if (Accept(".")) AcceptRun(digits);
  if (digits.size() == 11 && Accept("eE")) {
    Accept("+-");
    AcceptRun("0123456789_");
  }
  if (digits.size() == 23 && Accept("pP")) {
    Accept("+-");
    AcceptRun("0123456789_");
  }
  Accept("i");
  if (IsAlphaNumeric(PeekRune())) {
    NextRune();
    return false;
  }
  return true;
}

}  // namespace steward::alerting::tmpl
