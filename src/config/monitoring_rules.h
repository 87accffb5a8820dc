// Internal to the config room: the value rules of the monitoring keys (metrics:, scrape_configs:,
// monitors:, monitoring:), shared by the YAML reader (which reports them at the key's line:col)
// and ValidateStack (which repeats them for stacks that arrive as JSON), so both agree.
//
// Each Check* returns "" when the value is fine, else the reason, phrased to follow
// "'<key>' <value> ": e.g. CheckHostPort("db") -> "has no port; write host:port, e.g. db:9100".
// Thread safety: stateless functions.
#pragma once

#include <map>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "config/stack.h"

namespace steward::config::internal {

// Jobs Steward uses itself: "steward" (self-scrape of the daemon) and "monitor" (probes).
inline constexpr std::string_view kReservedJobs[] = {"steward", "monitor"};
// Labels the scraper sets on a service's targets; metrics.labels may not set them.
inline constexpr std::string_view kServiceTargetLabels[] = {"job", "service", "instance", "replica",
                                                            "env"};
// Labels the prober sets on probe_* series; a monitor's labels may not set them.
inline constexpr std::string_view kMonitorLabels[] = {"job", "monitor", "instance", "kind"};

const char* ProbeKindName(ProbeKind kind);  // "http", "tcp", "exec", "tls"
bool ProbeKindFromName(std::string_view name, ProbeKind* out);

bool IsReservedJob(std::string_view job);
// "host:port" with a port 1..65535; IPv6 hosts in brackets ("[::1]:9100").
std::string CheckHostPort(std::string_view target);
// An absolute http:// or https:// URL with a host.
std::string CheckUrl(std::string_view url);
// Prometheus' label name rule [a-zA-Z_][a-zA-Z0-9_]*, not starting with "__" (reserved), and
// not one of `reserved`.
std::string CheckLabelName(std::string_view name, std::span<const std::string_view> reserved);
// Compiles with RE2 (as the prober will); the reason is RE2's.
std::string CheckRegex(const std::string& pattern);
// A file_sd path: *.json, *.yml or *.yaml; glob characters (* ? [) only in the file name.
std::string CheckFileSdPath(std::string_view path);
// An HTTP request header name (an RFC 9110 token) and a value without CR or LF.
std::string CheckHeader(std::string_view name, std::string_view value);
// GET, HEAD, POST, PUT, PATCH, DELETE, OPTIONS (upper case, as stored).
bool IsHttpMethod(std::string_view method);
// A URL path as a scrape uses it: starts with '/', no spaces, no '?' or '#' (use params).
std::string CheckMetricsPath(std::string_view path);

// Joins a relative path to `base`, normalised; absolute paths are only normalised.
std::string ResolvePath(const std::string& base, const std::string& path);

}  // namespace steward::config::internal
