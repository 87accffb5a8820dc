// Internal to the template engine: Go 1.20's text/template lexer (text/template/parse/lex.go),
// item for item and error for error, so the parser reports what Go reports. Positions are byte
// offsets into the input; lines are 1-based. Runs lazily: Next() returns one item per call and
// kEof (forever) after the input or after an error item. Thread safety: one thread per Lexer.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

namespace steward::alerting::tmpl {

enum class ItemType : uint8_t {
  kError,
  kBool,
  kChar,
  kCharConstant,
  kComplex,
  kAssign,
  kDeclare,
  kEof,
  kField,
  kIdentifier,
  kLeftDelim,
  kLeftParen,
  kNumber,
  kPipe,
  kRawString,
  kRightDelim,
  kRightParen,
  kSpace,
  kString,
  kText,
  kVariable,
  kKeyword,  // keywords follow
  kBlock,
  kBreak,
  kContinue,
  kDot,
  kDefine,
  kElse,
  kEnd,
  kIf,
  kNil,
  kRange,
  kTemplate,
  kWith,
};

struct Item {
  ItemType type = ItemType::kEof;
  size_t pos = 0;
  std::string val;  // the item's text, or the error message
  int line = 1;
  // Go's item.String(): EOF, the error text, <keyword>, or the quoted value (cut at 10 runes).
  std::string String() const;
};

class Lexer {
 public:
  explicit Lexer(std::string_view input) : in_(input) {}
  Item Next();

 private:
  enum class State : uint8_t { kText, kLeftDelim, kInside, kRightDelim, kDone };
  uint32_t NextRune();
  uint32_t PeekRune() const;
  void Backup() { pos_ = last_pos_; }
  bool Accept(std::string_view valid);
  void AcceptRun(std::string_view valid);
  Item Emit(ItemType type);
  void Ignore();
  Item Errorf(std::string message);
  bool AtRightDelim(bool* trim) const;
  bool AtTerminator() const;
  bool LexText(Item* out);
  bool LexLeftDelim(Item* out);
  bool LexComment(Item* out);
  Item LexRightDelim();
  Item LexInsideAction();
  Item LexSpace();
  Item LexIdentifier();
  Item LexFieldOrVariable(ItemType type);
  Item LexQuote(char quote, ItemType type, const char* unterminated);
  Item LexRawQuote();
  Item LexNumber();
  bool ScanNumber();

  std::string_view in_;
  size_t pos_ = 0;
  size_t start_ = 0;
  size_t last_pos_ = 0;
  int start_line_ = 1;  // line of start_
  int paren_depth_ = 0;
  State state_ = State::kText;
  std::string pending_error_;  // reported by the next call
};

}  // namespace steward::alerting::tmpl
