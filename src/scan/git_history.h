// Internal to the secret scanner (not for other rooms): what the git history scan
// (git_history.cc, ScanSecretsInGitHistory) shares with the tree scan (secrets.cc).
#pragma once

#include <cstddef>

#include "scan/finding.h"
#include "scan/secrets.h"

namespace steward::scan::internal {

// The allowlist named by the options; one that cannot be loaded is a Problem and is ignored.
SecretAllowlist LoadOptionsAllowlist(const SecretScanOptions& o, ScanResult* result);
// Drops the findings in the options' baseline; one that cannot be loaded is a Problem.
void ApplyOptionsBaseline(const SecretScanOptions& o, ScanResult* result);
// Worker threads for `jobs` units of work.
int WorkerCount(const SecretScanOptions& o, size_t jobs);

}  // namespace steward::scan::internal
