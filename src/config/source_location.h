// Where something was written in a stack file: for error messages ("steward.yaml:12:5").
// Plain value.
#pragma once

#include <string>

namespace steward::config {

struct SourceLocation {
  std::string file;
  int line = 0;    // 1-based; 0 when unknown
  int column = 0;  // 1-based
  std::string ToString() const;  // "file:line:col", or "file" when line is 0
};

}  // namespace steward::config
