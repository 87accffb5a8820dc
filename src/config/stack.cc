#include "config/stack.h"

#include <fmt/format.h>

namespace steward::config {

std::string SourceLocation::ToString() const {
  if (line <= 0) return file;
  return fmt::format("{}:{}:{}", file, line, column);
}

const Service* Stack::FindService(const std::string& name) const {
  for (const Service& s : services) {
    if (s.name == name) return &s;
  }
  return nullptr;
}

}  // namespace steward::config
