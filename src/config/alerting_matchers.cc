// Alertmanager's matcher syntax (pkg/labels ParseMatchers) for config::ParseLabelMatchers, and
// LabelMatcher::ToString; used by alerting_parser.cc, the silences API and the CLI.
#include <fmt/format.h>
#include <re2/re2.h>

#include <cctype>

#include "config/alerting.h"

namespace steward::config {
namespace {

// Alertmanager's matcher label names: [a-zA-Z_:][a-zA-Z0-9_:]*.
bool IsLabelNameStart(char c) {
  return std::isalpha(static_cast<unsigned char>(c)) || c == '_' || c == ':';
}
bool IsLabelNameChar(char c) {
  return IsLabelNameStart(c) || std::isdigit(static_cast<unsigned char>(c));
}

std::string_view Trim(std::string_view s) {
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.front()))) s.remove_prefix(1);
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.back()))) s.remove_suffix(1);
  return s;
}

// Splits at commas outside double quotes.
std::vector<std::string_view> SplitMatchers(std::string_view s) {
  std::vector<std::string_view> parts;
  bool quoted = false;
  size_t start = 0;
  for (size_t i = 0; i < s.size(); ++i) {
    if (quoted && s[i] == '\\') {
      ++i;
    } else if (s[i] == '"') {
      quoted = !quoted;
    } else if (s[i] == ',' && !quoted) {
      parts.push_back(s.substr(start, i - start));
      start = i + 1;
    }
  }
  parts.push_back(s.substr(start));
  return parts;
}

StatusOr<std::string> Unquote(std::string_view v, std::string_view whole) {
  std::string out;
  size_t i = 1;
  for (; i < v.size() && v[i] != '"'; ++i) {
    if (v[i] != '\\') {
      out += v[i];
      continue;
    }
    if (++i == v.size()) break;
    switch (v[i]) {
      case 'n':
        out += '\n';
        break;
      case '\\':
        out += '\\';
        break;
      case '"':
        out += '"';
        break;
      default:  // a spurious escape stays literal, as in Alertmanager
        out += '\\';
        out += v[i];
    }
  }
  if (i >= v.size() || !Trim(v.substr(i + 1)).empty()) {
    return InvalidArgument(fmt::format(
        "bad matcher '{}': the quoted value is not closed by one '\"' at its end", whole));
  }
  return out;
}

StatusOr<LabelMatcher> ParseOne(std::string_view text) {
  std::string_view s = Trim(text);
  size_t i = 0;
  if (s.empty() || !IsLabelNameStart(s[0])) {
    return InvalidArgument(fmt::format(
        "bad matcher '{}': expected a label name, an operator (=, !=, =~, !~) and a value, "
        "e.g. severity=\"critical\"",
        text));
  }
  while (i < s.size() && IsLabelNameChar(s[i])) ++i;
  LabelMatcher m;
  m.name = std::string(s.substr(0, i));
  std::string_view rest = Trim(s.substr(i));
  if (rest.starts_with("=~")) {
    m.op = LabelMatcher::Op::kRegex;
  } else if (rest.starts_with("!~")) {
    m.op = LabelMatcher::Op::kNotRegex;
  } else if (rest.starts_with("!=")) {
    m.op = LabelMatcher::Op::kNotEqual;
  } else if (rest.starts_with("=")) {
    m.op = LabelMatcher::Op::kEqual;
  } else {
    return InvalidArgument(fmt::format(
        "bad matcher '{}': after the label name '{}' comes one of =, !=, =~, !~", text, m.name));
  }
  rest = Trim(rest.substr(m.op == LabelMatcher::Op::kEqual ? 1 : 2));
  if (rest.starts_with('"')) {
    StatusOr<std::string> v = Unquote(rest, text);
    if (!v.ok()) return v.status();
    m.value = *std::move(v);
  } else {
    m.value = std::string(rest);
  }
  if (m.op == LabelMatcher::Op::kRegex || m.op == LabelMatcher::Op::kNotRegex) {
    RE2::Options options;
    options.set_log_errors(false);
    options.set_dot_nl(false);
    RE2 re("^(?:" + m.value + ")$", options);
    if (!re.ok()) {
      return InvalidArgument(fmt::format("bad matcher '{}': regex '{}' does not compile: {}", text,
                                         m.value, re.error()));
    }
  }
  return m;
}

}  // namespace

std::string LabelMatcher::ToString() const {
  static constexpr std::string_view kOps[] = {"=", "!=", "=~", "!~"};
  std::string escaped;
  for (char c : value) {
    if (c == '\\' || c == '"') escaped += '\\';
    if (c == '\n') {
      escaped += "\\n";
      continue;
    }
    escaped += c;
  }
  return fmt::format("{}{}\"{}\"", name, kOps[static_cast<int>(op)], escaped);
}

StatusOr<std::vector<LabelMatcher>> ParseLabelMatchers(std::string_view text) {
  std::string_view s = Trim(text);
  if (s.starts_with('{')) {
    if (!s.ends_with('}')) {
      return InvalidArgument(fmt::format("bad matchers '{}': '{{' without a closing '}}'", text));
    }
    s = Trim(s.substr(1, s.size() - 2));
  }
  std::vector<LabelMatcher> out;
  if (s.empty()) return out;
  for (std::string_view part : SplitMatchers(s)) {
    if (Trim(part).empty()) continue;  // a trailing comma, as Alertmanager allows
    StatusOr<LabelMatcher> m = ParseOne(part);
    if (!m.ok()) return m.status();
    out.push_back(*std::move(m));
  }
  return out;
}

}  // namespace steward::config
