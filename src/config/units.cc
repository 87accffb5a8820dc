// Durations, sizes and signal names of the stack file: parsing and the inverse formatting used
// in messages and plan reasons.
#include <array>
#include <cctype>
#include <cmath>
#include <csignal>
#include <string_view>

#include "config/stack_parser.h"

namespace steward::config {
namespace {

// Larger values are surely typos; the bound also keeps the arithmetic far from overflow.
constexpr double kMaxDurationMs = 1e12;   // ~31 years
constexpr double kMaxSizeBytes = 4.0e18;  // < 2^62

// Reads "123" or "1.5" at text[*pos]; advances *pos. nullopt when there is no digit.
std::optional<double> ReadNumber(std::string_view text, size_t* pos) {
  size_t start = *pos;
  size_t i = start;
  while (i < text.size() && std::isdigit(static_cast<unsigned char>(text[i]))) ++i;
  if (i == start) return std::nullopt;
  if (i < text.size() && text[i] == '.') {
    size_t frac = ++i;
    while (i < text.size() && std::isdigit(static_cast<unsigned char>(text[i]))) ++i;
    if (i == frac) return std::nullopt;
  }
  if (i - start > 15) return std::nullopt;  // more digits than a double holds exactly
  *pos = i;
  return std::stod(std::string(text.substr(start, i - start)));
}

struct Unit {
  std::string_view suffix;
  double factor;
};

}  // namespace

std::optional<Duration> ParseDuration(const std::string& text) {
  // "ms" precedes "m" so that "500ms" is not read as 500 minutes followed by "s".
  static constexpr std::array<Unit, 4> kUnits = {
      {{"ms", 1}, {"s", 1000}, {"m", 60000}, {"h", 3600000}}};
  if (text.empty()) return std::nullopt;
  size_t pos = 0;
  double total = 0;
  while (pos < text.size()) {
    std::optional<double> n = ReadNumber(text, &pos);
    if (!n) return std::nullopt;
    std::string_view rest = std::string_view(text).substr(pos);
    const Unit* unit = nullptr;
    for (const Unit& u : kUnits) {
      if (rest.starts_with(u.suffix)) {
        unit = &u;
        break;
      }
    }
    if (unit == nullptr) return std::nullopt;
    pos += unit->suffix.size();
    total += *n * unit->factor;
    if (total > kMaxDurationMs) return std::nullopt;
  }
  return Duration(static_cast<int64_t>(std::llround(total)));
}

std::optional<int64_t> ParseSize(const std::string& text) {
  static constexpr std::array<Unit, 9> kUnits = {{{"Ki", 1024.0},
                                                  {"Mi", 1024.0 * 1024},
                                                  {"Gi", 1024.0 * 1024 * 1024},
                                                  {"Ti", 1024.0 * 1024 * 1024 * 1024},
                                                  {"K", 1e3},
                                                  {"k", 1e3},
                                                  {"M", 1e6},
                                                  {"G", 1e9},
                                                  {"T", 1e12}}};
  size_t pos = 0;
  std::optional<double> n = ReadNumber(text, &pos);
  if (!n) return std::nullopt;
  std::string_view rest = std::string_view(text).substr(pos);
  double factor = 1;
  if (!rest.empty()) {
    const Unit* unit = nullptr;
    for (const Unit& u : kUnits) {
      if (rest == u.suffix) unit = &u;
    }
    if (unit == nullptr) return std::nullopt;
    factor = unit->factor;
  } else if (*n != std::floor(*n)) {
    return std::nullopt;  // "1.5" bytes means nothing
  }
  double bytes = *n * factor;
  if (bytes > kMaxSizeBytes) return std::nullopt;
  return static_cast<int64_t>(std::llround(bytes));
}

std::string FormatDuration(Duration d) {
  int64_t ms = d.count();
  if (ms == 0) return "0s";
  std::string out;
  if (ms < 0) {
    out = "-";
    ms = -ms;
  }
  static constexpr std::array<std::pair<int64_t, std::string_view>, 4> kParts = {
      {{3600000, "h"}, {60000, "m"}, {1000, "s"}, {1, "ms"}}};
  for (const auto& [factor, suffix] : kParts) {
    if (ms >= factor) {
      out += std::to_string(ms / factor);
      out += suffix;
      ms %= factor;
    }
  }
  return out;
}

std::string FormatSize(int64_t bytes) {
  static constexpr std::array<std::pair<int64_t, std::string_view>, 8> kUnits = {
      {{int64_t{1} << 40, "Ti"},
       {int64_t{1} << 30, "Gi"},
       {int64_t{1} << 20, "Mi"},
       {int64_t{1} << 10, "Ki"},
       {1000000000000, "T"},
       {1000000000, "G"},
       {1000000, "M"},
       {1000, "k"}}};
  if (bytes == 0) return "0";
  for (const auto& [factor, suffix] : kUnits) {
    if (bytes % factor == 0) return std::to_string(bytes / factor) + std::string(suffix);
  }
  return std::to_string(bytes);
}

namespace {

struct SignalEntry {
  std::string_view name;  // without the SIG prefix
  int number;
};

constexpr std::array<SignalEntry, 7> kSignals = {{{"TERM", SIGTERM},
                                                  {"INT", SIGINT},
                                                  {"QUIT", SIGQUIT},
                                                  {"HUP", SIGHUP},
                                                  {"KILL", SIGKILL},
                                                  {"USR1", SIGUSR1},
                                                  {"USR2", SIGUSR2}}};

}  // namespace

std::optional<int> ParseSignal(const std::string& name) {
  std::string upper;
  for (char c : name) upper += static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  std::string_view bare = upper;
  if (bare.starts_with("SIG")) bare.remove_prefix(3);
  for (const SignalEntry& s : kSignals) {
    if (bare == s.name) return s.number;
  }
  return std::nullopt;
}

std::string SignalName(int signal) {
  for (const SignalEntry& s : kSignals) {
    if (s.number == signal) return "SIG" + std::string(s.name);
  }
  return "signal " + std::to_string(signal);
}

}  // namespace steward::config
