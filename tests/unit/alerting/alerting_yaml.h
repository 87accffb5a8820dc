// Test helper: the `alerting:` section of an inline stack (YAML indented by two spaces under
// `alerting:`) parsed by the real config parser, so tests state configurations as users write
// them. Fails the test (and returns an empty config) on parse errors.
#pragma once

#include <gtest/gtest.h>

#include <string>

#include "config/stack_parser.h"
#include "tsdb/labels.h"

namespace steward::alerting::testing {

inline config::Alerting ParseAlerting(const std::string& body) {
  config::ParseOptions options;
  options.lookup_env = [](const std::string&) -> std::optional<std::string> {
    return std::nullopt;
  };
  std::string yaml = "project: t\nservices: {web: {command: ./w}}\nalerting:\n" + body;
  config::ParseResult r = config::ParseStack(yaml, "/srv/t/steward.yaml", options);
  std::string errors;
  for (const config::Diagnostic& d : r.diagnostics) errors += d.ToString() + "\n";
  EXPECT_TRUE(r.ok()) << errors;
  return r.ok() ? r.stack->alerting : config::Alerting{};
}

inline tsdb::Labels L(std::vector<tsdb::Label> labels) {
  return tsdb::Labels::FromUnsorted(std::move(labels)).value();
}

}  // namespace steward::alerting::testing
