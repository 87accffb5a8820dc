// Internals of the PromQL expression parser (parser.h), shared by its files: the expression
// lexer, which reproduces Prometheus 2.42's stateful lexer (promql/parser/lex.go) token for
// token and error for error, and Go's formatting and unquoting of floats, durations and strings,
// which the printer (ast.cc) and the parser need to read and print what Prometheus does.
//
// The lexer is stateful because Prometheus reports many malformed queries from its lexer
// ("unclosed left parenthesis", "missing unit character in duration", "unexpected character
// inside braces: ...") at positions that depend on the lexer's state (inside braces, inside
// brackets, parenthesis depth). The conformance suite compares those errors.
//
// Contract: the lexer never fails hard and is linear in the input; it runs lazily (ItemStream),
// so a parser that stops at its first error or at kMaxDepth never reads, nor holds items for,
// the rest of a hostile query, and it stops with an error item after kMaxItems items, which
// bounds what a long flat query (`{a="1",a="1",...}`) can make the parser allocate. Its last
// item is kEof or kError (whose message is ItemStream::error() and whose `pos` is where
// Prometheus reports it). Thread safety: stateless functions; an ItemStream is used by one
// thread.
#pragma once

#include <cstdint>
#include <deque>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "base/status.h"
#include "promql/ast.h"

namespace steward::promql::internal {

// clang-format off
enum class Tok {
  kEof, kError, kIdentifier, kMetricIdentifier, kNumber, kDuration, kString,
  kLeftParen, kRightParen, kLeftBrace, kRightBrace, kLeftBracket, kRightBracket,
  kComma, kEql, kColon,
  // Operators (Prometheus' operatorsStart..operatorsEnd; printed as <op:...>).
  kAdd, kDiv, kEqlc, kEqlRegex, kGte, kGtr, kLand, kLor, kLss, kLte, kLunless, kMod, kMul,
  kNeq, kNeqRegex, kPow, kSub, kAt, kAtan2,
  // Aggregators (printed as <aggr:...>).
  kAvg, kBottomk, kCount, kCountValues, kGroup, kMax, kMin, kQuantile, kStddev, kStdvar,
  kSum, kTopk,
  // Keywords (printed as <...>).
  kBool, kBy, kGroupLeft, kGroupRight, kIgnoring, kOffset, kOn, kWithout,
  // @ modifier preprocessors.
  kStart, kEnd,
};
// clang-format on

bool IsOperatorTok(Tok t);
bool IsAggregatorTok(Tok t);
bool IsKeywordTok(Tok t);

// 32 bytes: an error's message is kept once, by the stream, not in every item.
struct Item {
  Tok kind = Tok::kEof;
  size_t pos = 0;         // byte offset where Prometheus places the item (or the error)
  std::string_view text;  // the item's bytes in the query
};

// At most this many items are lexed from one query; the next one is an error item.
inline constexpr size_t kMaxItems = 100000;

class ExprLexer;  // expr_lexer.cc

// The items of one query, lexed as the parser asks for them. References to items stay valid
// for the stream's lifetime.
class ItemStream {
 public:
  explicit ItemStream(std::string_view query);
  ~ItemStream();
  ItemStream(const ItemStream&) = delete;
  ItemStream& operator=(const ItemStream&) = delete;

  // The item `ahead` places after the current one; past the end, the last item.
  const Item& Peek(size_t ahead = 0);
  // The current item; advances to the next one, but never past the last.
  const Item& Take();
  // The kError item's message ("" before the lexer met an error).
  const std::string& error() const;

 private:
  std::unique_ptr<ExprLexer> lexer_;
  std::deque<Item> items_;  // lexed so far; a deque, so references survive growth
  size_t at_ = 0;
};

// Every item of a query at once, for tests and the fuzzer; `error` as ItemStream::error().
struct Lexed {
  std::vector<Item> items;
  std::string error;
};
Lexed LexExpr(std::string_view input);

// Prometheus' Item.desc(): `identifier "foo"`, `number "1"`, `"("`, `<op:+>`, `<aggr:sum>`,
// `<by>`, `end of input`, as used in "unexpected ..." messages. Not for kError items, which
// the parser reports by their message.
std::string DescribeItem(const Item& item);

// Go formatting. GoQuote is strconv.Quote (%q of a string); GoQuoteRune is %q of a rune;
// GoFloat is fmt.Sprint(float64) (%v: shortest digits, exponent form below 1e-4 and from 1e6:
// "1e+06"); DurationString is Prometheus' model.Duration.String().
std::string GoQuote(std::string_view s);
std::string GoQuoteRune(uint32_t rune);
std::string GoFloat(double v);
std::string DurationString(int64_t ms);

// The byte offset of the first invalid UTF-8 sequence in s, or s.size() when it is valid.
size_t FirstInvalidUtf8(std::string_view s);

// Go's strconv.ParseInt(s, 0, 64) then ParseFloat(s, 64), as Prometheus' parser reads NUMBER
// items. On failure, `error` holds Go's message ("strconv.ParseFloat: parsing \"0x\": ...").
bool ParseGoNumber(std::string_view text, double* out, std::string* error);

// Prometheus' strutil.Unquote for a STRING item's text: Go's strconv.Unquote for "..." and
// '...' (a single-quoted string of any length), and raw `...` strings kept byte for byte (Go
// would drop their carriage returns). Errors carry Go's message ("invalid syntax").
StatusOr<std::string> Unquote(std::string_view quoted);

// InvalidArgument "LINE:COL: parse error: <message>" for a byte offset in the query, with
// Prometheus' line and column (1-based; the column counts bytes from the line's start).
Status ParseError(std::string_view query, size_t pos, std::string_view message);

// Prometheus' checkAST: the type checks that run once the whole query parsed. Fills in what
// follows from the types (set operators become many-to-many; vector matching is dropped when
// a side is a scalar). Returns the first error, as Prometheus reports only the first.
Status CheckTypes(std::string_view query, Expr* root);

}  // namespace steward::promql::internal
