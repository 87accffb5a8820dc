// Internal to the scan room: one parser per lockfile format, behind ParseLockfile
// (lockfiles.h). Each appends to `out`; none deduplicates (ParseLockfile does).
#pragma once

#include <string>
#include <string_view>

#include "scan/lockfiles.h"

namespace steward::scan::lockfiles {

void ParsePackageLock(const std::string& path, std::string_view text, LockfileParse* out);
void ParseComposerLock(const std::string& path, std::string_view text, LockfileParse* out);
void ParseYarnLock(const std::string& path, std::string_view text, LockfileParse* out);
void ParseRequirements(const std::string& path, std::string_view text, LockfileParse* out);
void ParseGoSum(const std::string& path, std::string_view text, LockfileParse* out);
void ParseGemfileLock(const std::string& path, std::string_view text, LockfileParse* out);
void ParsePoetryLock(const std::string& path, std::string_view text, LockfileParse* out);
void ParseCargoLock(const std::string& path, std::string_view text, LockfileParse* out);

// Shared helpers.
void AddProblem(LockfileParse* out, const std::string& path, int line, std::string message);
void AddPackage(LockfileParse* out, std::string ecosystem, std::string name, std::string version,
                const std::string& path, int line);

}  // namespace steward::scan::lockfiles
