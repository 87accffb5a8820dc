// Helpers for config tests: parse inline YAML with a fixed ${VAR} lookup (never the real
// process environment) and print diagnostics the way the CLI does.
#pragma once

#include <map>
#include <string>

#include "config/stack_parser.h"

namespace steward::config::testing {

inline ParseResult Parse(const std::string& yaml, std::map<std::string, std::string> env = {},
                         const std::string& environment = "") {
  ParseOptions options;
  options.environment = environment;
  options.lookup_env = [env = std::move(env)](const std::string& n) -> std::optional<std::string> {
    auto it = env.find(n);
    if (it == env.end()) return std::nullopt;
    return it->second;
  };
  return ParseStack(yaml, "/srv/app/steward.yaml", options);
}

inline std::string Errors(const ParseResult& r) {
  std::string out;
  for (const Diagnostic& d : r.diagnostics) out += d.ToString() + "\n";
  return out;
}

}  // namespace steward::config::testing
