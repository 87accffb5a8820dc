// Internal to the alerting room: the value rules of rule files, apart from the YAML walk so
// that each is tested on its own. Check* return "" when the value is fine, else the reason,
// phrased to complete "<what>: " and say what would be right.
// Thread safety: stateless functions.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace steward::alerting::internal {

// Prometheus' model.IsValidMetricName: [a-zA-Z_:][a-zA-Z0-9_:]*.
bool IsValidMetricName(std::string_view name);
// Prometheus' model.LabelName.IsValid: [a-zA-Z_][a-zA-Z0-9_]*.
bool IsValidLabelName(std::string_view name);
// The offset of the first byte that is not part of valid UTF-8, or npos.
size_t FirstInvalidUtf8(std::string_view text);
inline bool IsValidUtf8(std::string_view text) {
  return FirstInvalidUtf8(text) == std::string_view::npos;
}

// Where a position inside a YAML scalar's value lies in the file. `lines` is the file split at
// '\n'; (line0, col0) the scalar's 0-based mark; (line, col) 1-based inside the value, as the
// PromQL parser reports it. Handles plain, quoted (single-line escapes aside), literal (|) and
// folded (>) scalars; returns the 1-based file position, or the scalar's own when unsure.
std::pair<int, int> MapValuePosition(const std::vector<std::string_view>& lines, int line0,
                                     int col0, int line, int col);

// "1:12: parse error: unclosed left parenthesis" → {1, 12, "unclosed left parenthesis"};
// {0, 0, message} when the message has no position.
struct PositionedMessage {
  int line = 0;
  int column = 0;
  std::string text;
};
PositionedMessage SplitParseError(std::string_view message);

}  // namespace steward::alerting::internal
