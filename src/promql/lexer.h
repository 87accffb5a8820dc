// The PromQL lexer: turns a query string into tokens with their byte offsets, so every parse
// error can name a column. It knows the whole PromQL token set (numbers incl. hex, Inf and NaN,
// durations like 1h30m, the three string quotes with Go escapes, operators, keywords), so the
// full expression parser (a later step) builds on it; today the series-selector parser uses it.
//
// Contract: Lex() never fails hard; a malformed token comes back as kError with a message, and
// the parser turns it into an error at that column. Input is untrusted (API, CLI): linear time,
// no recursion. Thread safety: stateless functions.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "base/status.h"

namespace steward::promql {

enum class TokenKind {
  kEof,
  kError,
  kIdentifier,   // metric or label name, function, keyword (by text: by, without, on, ...)
  kMetricIdentifier,  // an identifier containing ':' (only valid as a metric name)
  kNumber,
  kDuration,     // 5m, 1h30m, 2d (also written after '[' or 'offset')
  kString,       // value holds the unescaped text
  kLeftBrace, kRightBrace, kLeftParen, kRightParen, kLeftBracket, kRightBracket,
  kComma, kColon, kAt,
  kAssign,       // =   (in label matchers)
  kEql,          // ==
  kNeq,          // !=
  kRegexMatch,   // =~
  kRegexNoMatch, // !~
  kLss, kGtr, kLte, kGte,
  kAdd, kSub, kMul, kDiv, kMod, kPow,
};

struct Token {
  TokenKind kind = TokenKind::kEof;
  std::string_view text;  // the raw bytes in the input
  std::string value;      // strings: unescaped; errors: the message
  size_t pos = 0;         // byte offset in the input (column = pos + 1)
};

std::vector<Token> Lex(std::string_view input);
std::string_view TokenKindName(TokenKind kind);  // "identifier", "\"{\"", ... for error messages

// Go's strconv.Unquote for the three PromQL quotes ("..." and '...' with escapes, `...` raw).
StatusOr<std::string> Unquote(std::string_view quoted);

// "1h30m" → milliseconds. Units ms s m h d w y, each at most once, in descending order.
StatusOr<int64_t> ParseDurationMillis(std::string_view text);

}  // namespace steward::promql
