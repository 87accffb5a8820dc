#include "alerting/rule_checks.h"

#include <algorithm>
#include <cctype>
#include <charconv>
#include <cstdint>

namespace steward::alerting::internal {
namespace {

bool IsAlpha(char c) { return std::isalpha(static_cast<unsigned char>(c)) != 0 || c == '_'; }
bool IsAlnum(char c) { return std::isalnum(static_cast<unsigned char>(c)) != 0 || c == '_'; }

std::string_view TrimLeft(std::string_view s) {
  size_t i = s.find_first_not_of(" \t");
  return i == std::string_view::npos ? std::string_view() : s.substr(i);
}

std::string_view TrimRight(std::string_view s) {
  size_t i = s.find_last_not_of(" \t\r");
  return i == std::string_view::npos ? std::string_view() : s.substr(0, i + 1);
}

// Literal block: value line n sits on file line line0 + n (0-based line0 is the indicator's),
// indented by the block's indentation, which the first non-empty line shows.
std::pair<int, int> MapLiteral(const std::vector<std::string_view>& lines, int line0, int line,
                               int col) {
  size_t indent = 0;
  for (size_t i = static_cast<size_t>(line0) + 1; i < lines.size(); ++i) {
    std::string_view l = TrimRight(lines[i]);
    if (l.empty()) continue;
    indent = l.find_first_not_of(' ');
    break;
  }
  return {line0 + 1 + line, static_cast<int>(indent) + col};
}

// Plain, quoted and folded scalars fold their lines into one, joined by single spaces: walk the
// file's lines from the value's start until `offset` (0-based in the folded text) is covered.
std::pair<int, int> MapFolded(const std::vector<std::string_view>& lines, int line0, size_t start,
                              size_t offset) {
  std::string_view first = lines[static_cast<size_t>(line0)];
  std::string_view seg = TrimRight(first.substr(std::min(start, first.size())));
  size_t seg_col = start;  // 0-based file column where seg begins
  for (size_t i = static_cast<size_t>(line0);;) {
    if (offset <= seg.size())
      return {static_cast<int>(i) + 1, static_cast<int>(seg_col + offset) + 1};
    offset -= seg.size() + 1;
    if (++i >= lines.size()) return {line0 + 1, static_cast<int>(start) + 1};
    std::string_view l = TrimRight(lines[i]);
    seg = TrimLeft(l);
    if (seg.empty()) return {line0 + 1, static_cast<int>(start) + 1};
    seg_col = l.size() - seg.size();
  }
}

}  // namespace

bool IsValidMetricName(std::string_view name) {
  if (name.empty() || !(IsAlpha(name[0]) || name[0] == ':')) return false;
  return std::all_of(name.begin(), name.end(), [](char c) { return IsAlnum(c) || c == ':'; });
}

bool IsValidLabelName(std::string_view name) {
  return !name.empty() && IsAlpha(name[0]) && std::all_of(name.begin(), name.end(), IsAlnum);
}

size_t FirstInvalidUtf8(std::string_view text) {
  constexpr uint32_t kMin[] = {0, 0x80, 0x800, 0x10000};
  for (size_t i = 0; i < text.size();) {
    auto c = static_cast<unsigned char>(text[i]);
    size_t n = 0;
    uint32_t cp = c;
    if (c < 0x80) {
      ++i;
      continue;
    } else if ((c >> 5) == 0x6) {
      n = 1, cp = c & 0x1f;
    } else if ((c >> 4) == 0xe) {
      n = 2, cp = c & 0x0f;
    } else if ((c >> 3) == 0x1e) {
      n = 3, cp = c & 0x07;
    } else {
      return i;
    }
    if (i + n >= text.size()) return i;
    for (size_t k = 1; k <= n; ++k) {
      auto d = static_cast<unsigned char>(text[i + k]);
      if ((d & 0xc0) != 0x80) return i;
      cp = (cp << 6) | (d & 0x3f);
    }
    if (cp < kMin[n] || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff)) return i;
    i += n + 1;
  }
  return std::string_view::npos;
}

std::pair<int, int> MapValuePosition(const std::vector<std::string_view>& lines, int line0,
                                     int col0, int line, int col) {
  const std::pair<int, int> own{line0 + 1, col0 + 1};
  if (line0 < 0 || col0 < 0 || static_cast<size_t>(line0) >= lines.size() || line < 1 || col < 1) {
    return own;
  }
  std::string_view l = lines[static_cast<size_t>(line0)];
  char style = static_cast<size_t>(col0) < l.size() ? l[static_cast<size_t>(col0)] : ' ';
  if (style == '|') return MapLiteral(lines, line0, line, col);
  if (line != 1) return own;  // a blank line inside a folded value: not worth guessing
  size_t start = static_cast<size_t>(col0);
  if (style == '>') {
    if (static_cast<size_t>(line0) + 1 >= lines.size()) return own;
    std::string_view next = TrimRight(lines[static_cast<size_t>(line0) + 1]);
    size_t indent = next.find_first_not_of(' ');
    if (indent == std::string_view::npos) return own;
    return MapFolded(lines, line0 + 1, indent, static_cast<size_t>(col - 1));
  }
  if (style == '"' || style == '\'') ++start;
  return MapFolded(lines, line0, start, static_cast<size_t>(col - 1));
}

PositionedMessage SplitParseError(std::string_view message) {
  PositionedMessage out;
  int line = 0;
  int col = 0;
  const char* p = message.data();
  const char* end = p + message.size();
  auto r1 = std::from_chars(p, end, line);
  if (r1.ec == std::errc() && r1.ptr < end && *r1.ptr == ':') {
    auto r2 = std::from_chars(r1.ptr + 1, end, col);
    if (r2.ec == std::errc() && r2.ptr < end && *r2.ptr == ':') {
      std::string_view rest = TrimLeft(std::string_view(r2.ptr + 1, end));
      constexpr std::string_view kPrefix = "parse error: ";
      if (rest.starts_with(kPrefix)) rest.remove_prefix(kPrefix.size());
      out.line = line;
      out.column = col;
      out.text = std::string(rest);
      return out;
    }
  }
  out.text = std::string(message);
  return out;
}

}  // namespace steward::alerting::internal
