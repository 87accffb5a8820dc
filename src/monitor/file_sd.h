// file_sd documents: Prometheus' target-group files, a list of
//   {"targets": ["host:port", ...], "labels": {"name": "value", ...}}
// in JSON or YAML. Parsing only; reading, globbing and the last-good policy live in Discovery.
//
// Contract: a document either parses whole or fails with InvalidArgument saying where
// (line:column for syntax errors, the group's index for shape errors) and what would be right.
// Unknown keys, non-string targets or label values and invalid label names are errors.
// Thread safety: stateless functions.
#pragma once

#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "base/status.h"

namespace steward::monitor {

struct TargetGroup {
  std::vector<std::string> targets;
  std::map<std::string, std::string> labels;
};

enum class TargetGroupFormat { kJson, kYaml };

StatusOr<std::vector<TargetGroup>> ParseTargetGroups(std::string_view text,
                                                     TargetGroupFormat format);

}  // namespace steward::monitor
