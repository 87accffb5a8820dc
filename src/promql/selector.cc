// Vector selectors and label matchers: the parser's rules for `name{label="value", ...}` inside
// expressions, and Prometheus' ParseMetricSelector on top of them for match[] parameters.
#include "promql/selector.h"

#include <string>
#include <utility>

#include "promql/parser_impl.h"
#include "promql/parser_internal.h"

namespace steward::promql {
namespace internal {
namespace {

// Matcher::Make says `invalid regex "<v>" for label <name>: <RE2's reason>`; Prometheus says
// Go's `error parsing regexp: <code>: `<arg>``. RE2 and Go name most failures alike.
std::string GoRegexpError(const std::string& msg, std::string_view label, std::string_view value) {
  static constexpr std::pair<std::string_view, std::string_view> kCodes[] = {
      {"missing )", "missing closing )"},
      {"missing ]", "missing closing ]"},
      {"bad repetition operator", "invalid nested repetition operator"},
      {"no argument for repetition operator", "missing argument to repetition operator"},
      {"invalid repetition size", "invalid repeat count"},
      {"trailing \\", "trailing backslash at end of expression"},
      {"invalid named capture group", "invalid named capture"},
      {"invalid perl operator", "invalid or unsupported Perl syntax"},
  };
  std::string prefix =
      "invalid regex \"" + std::string(value) + "\" for label " + std::string(label) + ": ";
  std::string reason = msg.rfind(prefix, 0) == 0 ? msg.substr(prefix.size()) : msg;
  if (reason == "invalid UTF-8") {
    // Go names the rest of the anchored pattern from the first bad byte on.
    std::string anchored = "^(?:" + std::string(value) + ")$";
    return "error parsing regexp: invalid UTF-8: `" + anchored.substr(FirstInvalidUtf8(anchored)) +
           "`";
  }
  size_t colon = reason.find(": ");
  if (colon == std::string::npos) return "error parsing regexp: " + reason;
  std::string code = reason.substr(0, colon);
  for (const auto& [re2, go] : kCodes)
    if (code == re2) code = std::string(go);
  return "error parsing regexp: " + code + ": `" + reason.substr(colon + 2) + "`";
}

}  // namespace

StatusOr<ExprPtr> Parser::Selector(bool named) {
  auto vs = Node<VectorSelector>(Peek().pos, 0);
  if (named) {
    const Item& name = Take();
    vs->name = std::string(name.text);
    vs->end = name.pos + name.text.size();
    auto m =
        tsdb::Matcher::Make(tsdb::Matcher::Type::kEqual, std::string(tsdb::kMetricName), vs->name);
    if (!m.ok()) return Error(name.pos, m.status().message());
    vs->matchers.push_back(std::move(*m));
  }
  if (!named || Peek().kind == Tok::kLeftBrace) RETURN_IF_ERROR(LabelMatchers(vs.get()));
  return ExprPtr(std::move(vs));
}

Status Parser::LabelMatchers(VectorSelector* vs) {
  Take();  // '{'
  while (true) {
    const Item& name = Peek();
    if (name.kind == Tok::kRightBrace) {
      Take();
      vs->end = name.pos + 1;
      return Status::OK();
    }
    if (name.kind != Tok::kIdentifier)
      return Unexpected(name, "label matching", "identifier or \"}\"");
    Take();
    RETURN_IF_ERROR(OneMatcher(name, vs));
    const Item& sep = Peek();
    if (sep.kind == Tok::kComma) {
      Take();
    } else if (sep.kind != Tok::kRightBrace) {
      return Unexpected(sep, "label matching", "\",\" or \"}\"");
    }
  }
}

Status Parser::OneMatcher(const Item& name, VectorSelector* vs) {
  using Type = tsdb::Matcher::Type;
  const Item& op = Peek();
  Type type;
  switch (op.kind) {
    case Tok::kEql:
      type = Type::kEqual;
      break;
    case Tok::kNeq:
      type = Type::kNotEqual;
      break;
    case Tok::kEqlRegex:
      type = Type::kRegexMatch;
      break;
    case Tok::kNeqRegex:
      type = Type::kRegexNoMatch;
      break;
    default:
      return Unexpected(op, "label matching", "label matching operator");
  }
  Take();
  const Item& value = Peek();
  if (value.kind != Tok::kString) return Unexpected(value, "label matching", "string");
  Take();
  ASSIGN_OR_RETURN(std::string v, UnquoteItem(value));
  auto m = tsdb::Matcher::Make(type, std::string(name.text), v);
  if (!m.ok()) {
    return Error(name.pos, GoRegexpError(m.status().message(), name.text, v));
  }
  vs->matchers.push_back(std::move(*m));
  return Status::OK();
}

StatusOr<std::vector<tsdb::Matcher>> Parser::ParseMetricSelector() {
  const Item& first = Peek();
  bool named = first.kind == Tok::kIdentifier || first.kind == Tok::kMetricIdentifier ||
               IsMetricKeyword(first.kind);
  // Anything else, or anything after the selector, falls to yacc's `start: error`.
  if (!named && first.kind != Tok::kLeftBrace) return Unexpected(first, "", "");
  ASSIGN_OR_RETURN(ExprPtr e, Selector(named));
  if (Peek().kind != Tok::kEof) return Unexpected(Peek(), "", "");
  return std::move(static_cast<VectorSelector*>(e.get())->matchers);
}

}  // namespace internal

StatusOr<std::vector<tsdb::Matcher>> ParseSeriesSelector(std::string_view input) {
  ASSIGN_OR_RETURN(std::vector<tsdb::Matcher> ms, internal::Parser(input).ParseMetricSelector());
  for (const tsdb::Matcher& m : ms)
    if (!m.Matches("")) return ms;
  return InvalidArgument("match[] must contain at least one non-empty matcher");
}

}  // namespace steward::promql
