// The Dockerfile rules (ids "dockerfile-…", listed with their fixes in docs/scan-rules.md): root
// user, unpinned base images, ADD from URLs or where COPY would do, secrets in ENV and ARG,
// apt-get without --no-install-recommends or cleanup, curl piped to a shell, sudo, no
// HEALTHCHECK, EXPOSE 22, chmod 777.
//
// Stage-aware: a FROM naming an earlier stage is not an image, and the final stage inherits
// USER and HEALTHCHECK from the stage it is built on. Parse errors become Problems with the
// file's line; the instructions that did parse are still checked.
// Thread safety: stateless; safe to call concurrently.
#pragma once

#include <string>
#include <string_view>

#include "scan/finding.h"

namespace steward::scan {

// `path` is what findings and problems carry (relative to the scanned root). Does not count
// files or bytes: the caller read the text.
ScanResult ScanDockerfile(std::string_view text, const std::string& path);

// Dockerfile, Containerfile, *.Dockerfile, *.dockerfile, Dockerfile.* (not Dockerfile.*ignore).
bool IsDockerfileName(std::string_view filename);

}  // namespace steward::scan
