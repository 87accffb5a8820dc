// Steward's version, as the binary reports it (/api/v1/status, SARIF's tool.driver.version,
// the build_info metrics). Matches project(VERSION) in the top CMakeLists.txt.
#pragma once

#include <string_view>

namespace steward {

inline constexpr std::string_view kStewardVersion = "0.1.0";

}  // namespace steward
