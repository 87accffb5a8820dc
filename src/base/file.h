// Whole-file reads for the rooms' own small files (metadata, logs, WAL segments, silences).
// Thread safety: stateless.
#pragma once

#include <string>

#include "base/status.h"

namespace steward {

// The file's bytes; an IOError "open PATH: reason" or "read PATH: reason" when it cannot be
// read.
StatusOr<std::string> ReadWholeFile(const std::string& path);

// The same, or "" when the file is missing or unreadable (logs and outputs that may not exist).
std::string ReadWholeFileOrEmpty(const std::string& path);

}  // namespace steward
