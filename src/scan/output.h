// How `steward scan` reports a ScanResult: a table for people, JSON for scripts and SARIF
// 2.1.0 for code-scanning services (GitHub code scanning and other SARIF viewers); and the
// exit code a pipeline gate reads. The JSON and SARIF shapes are specified in
// docs/formats/sarif.md.
//
// Contract: output carries only what findings carry, and findings never carry secret values
// (finding.h), so no format can print one. Findings are printed in the order given; call
// ScanResult::Sort() first for a stable report.
// Thread safety: stateless functions; safe to call concurrently.
#pragma once

#include <optional>
#include <string>
#include <string_view>

#include "scan/finding.h"

namespace steward::scan {

enum class OutputFormat { kTable, kJson, kSarif };

// "table", "json", "sarif" (any case); nullopt for anything else.
std::optional<OutputFormat> ParseOutputFormat(std::string_view text);

// Aligned columns SEVERITY RULE LOCATION MESSAGE (LOCATION is path:line[:col], @commit for a
// finding in git history), then the problems, then a summary line:
// "N findings (c critical, h high, m medium, l low, i info) in F files, B MB; P problems".
// `color`: ANSI colours on the severity (for a terminal).
std::string FormatTable(const ScanResult& r, bool color);

// {"findings":[…every Finding field…],"problems":[…],"summary":{…}}, pretty-printed.
std::string FormatJson(const ScanResult& r);

// A SARIF 2.1.0 log with one run of tool "steward": the rules the findings use, the results
// (level error for high and critical, warning for medium, note for low and info) with their
// location and partialFingerprints {"steward/v1": fingerprint}, and problems as
// toolExecutionNotifications of invocations[0].
std::string FormatSarif(const ScanResult& r, std::string_view tool_version);

// 0 when no finding is at or above `fail_on`; 1 when one is. Problems do not count.
int ExitCodeFor(const ScanResult& r, Severity fail_on);

}  // namespace steward::scan
