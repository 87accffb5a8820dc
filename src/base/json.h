// JSON helpers for the rooms that already speak nlohmann::json (header-only).
#pragma once

#include <cstdint>
#include <string>

#include <nlohmann/json.hpp>

#include "base/clock.h"

namespace steward {

// JSON text of a value that may hold strings from outside (files, programs' output, YAML):
// invalid UTF-8 becomes U+FFFD instead of the exception a plain dump() throws.
inline std::string JsonText(const nlohmann::json& j) {
  return j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

// A recorded time as the JSON APIs show it: RFC 3339 in UTC with milliseconds, or null while
// the time is unset (0).
inline nlohmann::json JsonTimeOrNull(int64_t unix_ms) {
  return unix_ms > 0 ? nlohmann::json(FormatRfc3339Millis(FromUnixMillis(unix_ms)))
                     : nlohmann::json();
}

}  // namespace steward
