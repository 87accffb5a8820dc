// A recorded time as the JSON APIs show it: RFC 3339 in UTC with milliseconds, or null while
// the time is unset (0). Header-only; for the rooms that already speak nlohmann::json.
#pragma once

#include <cstdint>

#include <nlohmann/json.hpp>

#include "base/clock.h"

namespace steward {

inline nlohmann::json JsonTimeOrNull(int64_t unix_ms) {
  return unix_ms > 0 ? nlohmann::json(FormatRfc3339Millis(FromUnixMillis(unix_ms)))
                     : nlohmann::json();
}

}  // namespace steward
