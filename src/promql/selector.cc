#include "promql/selector.h"

#include <string>

#include "promql/lexer.h"

namespace steward::promql {
namespace {

using tsdb::Matcher;

class SelectorParser {
 public:
  explicit SelectorParser(std::string_view input) : input_(input), tokens_(Lex(input)) {}

  StatusOr<std::vector<Matcher>> Parse() {
    std::vector<Matcher> out;
    const Token& first = Peek();
    if (first.kind == TokenKind::kIdentifier || first.kind == TokenKind::kMetricIdentifier) {
      ASSIGN_OR_RETURN(Matcher m, Matcher::Make(Matcher::Type::kEqual, std::string(tsdb::kMetricName),
                                                std::string(first.text)));
      out.push_back(std::move(m));
      ++at_;
      if (Peek().kind == TokenKind::kLeftBrace) RETURN_IF_ERROR(Braces(&out));
    } else if (first.kind == TokenKind::kLeftBrace) {
      RETURN_IF_ERROR(Braces(&out));
    } else {
      return Unexpected(first, "a metric name or \"{\"");
    }
    const Token& end = Peek();
    if (end.kind != TokenKind::kEof)
      return Unexpected(end, "end of input (only a series selector is accepted here)");
    return CheckNotEmptyMatching(std::move(out));
  }

 private:
  const Token& Peek() const { return tokens_[at_]; }

  Status Error(size_t pos, const std::string& message) const {
    return InvalidArgument("1:" + std::to_string(pos + 1) + ": parse error: " + message);
  }

  Status Unexpected(const Token& t, std::string_view expected) const {
    if (t.kind == TokenKind::kError) return Error(t.pos, t.value);
    std::string what = t.kind == TokenKind::kEof
                           ? "end of input"
                           : std::string(TokenKindName(t.kind)) + " \"" + std::string(t.text) + "\"";
    if (t.kind == TokenKind::kEof || t.text.size() == 1) what = std::string(TokenKindName(t.kind));
    return Error(t.pos, "unexpected " + what + ", expected " + std::string(expected));
  }

  Status Braces(std::vector<Matcher>* out) {
    ++at_;  // '{'
    while (Peek().kind != TokenKind::kRightBrace) {
      RETURN_IF_ERROR(OneMatcher(out));
      if (Peek().kind == TokenKind::kComma) {
        ++at_;
        continue;
      }
      if (Peek().kind != TokenKind::kRightBrace)
        return Unexpected(Peek(), "\",\" or \"}\" in label matching");
    }
    ++at_;  // '}'
    return Status::OK();
  }

  Status OneMatcher(std::vector<Matcher>* out) {
    const Token& name = Peek();
    // inf and nan lex as numbers but are valid label names.
    bool word_number = name.kind == TokenKind::kNumber && !name.text.empty() &&
                       (name.text[0] == 'i' || name.text[0] == 'I' || name.text[0] == 'n' ||
                        name.text[0] == 'N');
    if (name.kind != TokenKind::kIdentifier && !word_number)
      return Unexpected(name, "label name in label matching");
    ++at_;
    const Token& op = Peek();
    Matcher::Type type;
    switch (op.kind) {
      case TokenKind::kAssign: type = Matcher::Type::kEqual; break;
      case TokenKind::kNeq: type = Matcher::Type::kNotEqual; break;
      case TokenKind::kRegexMatch: type = Matcher::Type::kRegexMatch; break;
      case TokenKind::kRegexNoMatch: type = Matcher::Type::kRegexNoMatch; break;
      default: return Unexpected(op, "label matching operator (=, !=, =~ or !~)");
    }
    ++at_;
    const Token& value = Peek();
    if (value.kind != TokenKind::kString) return Unexpected(value, "string in label matching");
    ++at_;
    auto m = Matcher::Make(type, std::string(name.text), value.value);
    if (!m.ok()) return Error(value.pos, m.status().message());
    out->push_back(std::move(*m));
    return Status::OK();
  }

  StatusOr<std::vector<Matcher>> CheckNotEmptyMatching(std::vector<Matcher> ms) const {
    for (const Matcher& m : ms)
      if (!m.Matches("")) return ms;
    return Error(0, "vector selector must contain at least one non-empty matcher");
  }

  std::string_view input_;
  std::vector<Token> tokens_;
  size_t at_ = 0;
};

}  // namespace

StatusOr<std::vector<tsdb::Matcher>> ParseSeriesSelector(std::string_view input) {
  return SelectorParser(input).Parse();
}

}  // namespace steward::promql
