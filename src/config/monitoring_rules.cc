#include "config/monitoring_rules.h"

#include <fmt/format.h>
#include <re2/re2.h>

#include <algorithm>
#include <array>
#include <cctype>
#include <filesystem>
#include <utility>

namespace steward::config::internal {
namespace {

constexpr std::array<std::pair<ProbeKind, const char*>, 4> kProbeKinds = {
    {{ProbeKind::kHttp, "http"},
     {ProbeKind::kTcp, "tcp"},
     {ProbeKind::kExec, "exec"},
     {ProbeKind::kTls, "tls"}}};

constexpr std::string_view kMethods[] = {"GET",   "HEAD",   "POST",   "PUT",
                                         "PATCH", "DELETE", "OPTIONS"};

bool IsDigits(std::string_view s) {
  return !s.empty() && std::all_of(s.begin(), s.end(), [](char c) {
    return std::isdigit(static_cast<unsigned char>(c)) != 0;
  });
}

// RFC 9110 tchar.
bool IsTokenChar(char c) {
  return std::isalnum(static_cast<unsigned char>(c)) != 0 ||
         std::string_view("!#$%&'*+-.^_`|~").find(c) != std::string_view::npos;
}

bool HasSpaceOrControl(std::string_view s) {
  return std::any_of(s.begin(), s.end(), [](char c) {
    auto u = static_cast<unsigned char>(c);
    return u <= 0x20 || u == 0x7f;
  });
}

}  // namespace

const char* ProbeKindName(ProbeKind kind) {
  for (const auto& [k, name] : kProbeKinds) {
    if (k == kind) return name;
  }
  return "http";
}

bool ProbeKindFromName(std::string_view name, ProbeKind* out) {
  for (const auto& [k, n] : kProbeKinds) {
    if (name == n) {
      *out = k;
      return true;
    }
  }
  return false;
}

bool IsReservedJob(std::string_view job) {
  return std::find(std::begin(kReservedJobs), std::end(kReservedJobs), job) !=
         std::end(kReservedJobs);
}

std::string CheckHostPort(std::string_view target) {
  const std::string example = "write host:port, e.g. localhost:9100";
  if (target.empty()) return "is empty; " + example;
  if (target.find("://") != std::string_view::npos) {
    return "has a scheme; write host:port without it (set 'scheme: https' for TLS), e.g. "
           "localhost:9100";
  }
  if (HasSpaceOrControl(target) || target.find('/') != std::string_view::npos) {
    return "is not host:port (no spaces or paths); " + example;
  }
  std::string_view host;
  std::string_view port;
  if (target.front() == '[') {
    size_t close = target.find(']');
    if (close == std::string_view::npos || close + 1 >= target.size() || target[close + 1] != ':') {
      return "is not host:port; an IPv6 host goes in brackets, e.g. [::1]:9100";
    }
    host = target.substr(1, close - 1);
    port = target.substr(close + 2);
  } else {
    size_t colon = target.rfind(':');
    if (colon == std::string_view::npos) return "has no port; " + example;
    host = target.substr(0, colon);
    port = target.substr(colon + 1);
    if (host.find(':') != std::string_view::npos) {
      return "is not host:port; an IPv6 host goes in brackets, e.g. [::1]:9100";
    }
  }
  if (host.empty()) return "has no host; " + example;
  if (!IsDigits(port) || port.size() > 5 || std::stoi(std::string(port)) < 1 ||
      std::stoi(std::string(port)) > 65535) {
    return fmt::format("has port '{}', which is not a number between 1 and 65535", port);
  }
  return "";
}

std::string CheckUrl(std::string_view url) {
  std::string_view rest;
  if (url.starts_with("http://")) {
    rest = url.substr(7);
  } else if (url.starts_with("https://")) {
    rest = url.substr(8);
  } else {
    return "must start with http:// or https://, e.g. http://localhost:8080/healthz";
  }
  if (HasSpaceOrControl(url)) return "must not contain spaces (encode them as %20)";
  std::string_view authority = rest.substr(0, rest.find_first_of("/?#"));
  if (size_t at = authority.rfind('@'); at != std::string_view::npos) {
    authority = authority.substr(at + 1);
  }
  if (authority.empty() || authority.front() == ':') {
    return "has no host, e.g. http://localhost:8080/healthz";
  }
  return "";
}

std::string CheckLabelName(std::string_view name, std::span<const std::string_view> reserved) {
  bool valid = !name.empty() && !std::isdigit(static_cast<unsigned char>(name[0])) &&
               std::all_of(name.begin(), name.end(), [](char c) {
                 return std::isalnum(static_cast<unsigned char>(c)) != 0 || c == '_';
               });
  if (!valid) {
    return "is not a valid label name; use letters, digits and '_', not starting with a "
           "digit, e.g. team";
  }
  if (name.starts_with("__")) return "starts with '__', which Prometheus reserves for itself";
  if (std::find(reserved.begin(), reserved.end(), name) != reserved.end()) {
    std::string all;
    for (std::string_view r : reserved) all += (all.empty() ? "" : ", ") + std::string(r);
    return fmt::format("is set by Steward itself (as are {}); choose another name", all);
  }
  return "";
}

std::string CheckRegex(const std::string& pattern) {
  RE2::Options options;
  options.set_log_errors(false);
  RE2 re(pattern, options);
  if (re.ok()) return "";
  return fmt::format("is not a valid RE2 regular expression: {}", re.error());
}

std::string CheckFileSdPath(std::string_view path) {
  if (path.empty()) return "is empty; give a file such as targets/*.json";
  std::filesystem::path p(path);
  std::string dir = p.parent_path().string();
  if (dir.find_first_of("*?[") != std::string::npos) {
    return "has a glob in a directory; globs (* ? [...]) are allowed only in the file name, "
           "e.g. targets/*.json";
  }
  std::string ext = p.extension().string();
  if (ext != ".json" && ext != ".yml" && ext != ".yaml") {
    return "must end in .json, .yml or .yaml, e.g. targets/*.json";
  }
  return "";
}

std::string CheckHeader(std::string_view name, std::string_view value) {
  if (name.empty() || !std::all_of(name.begin(), name.end(), IsTokenChar)) {
    return fmt::format(
        "header name '{}' is not valid; use letters, digits and '-', e.g. "
        "X-Request-Id",
        name);
  }
  if (value.find_first_of("\r\n") != std::string_view::npos) {
    return fmt::format("header '{}' has a line break in its value", name);
  }
  return "";
}

bool IsHttpMethod(std::string_view method) {
  return std::find(std::begin(kMethods), std::end(kMethods), method) != std::end(kMethods);
}

std::string CheckMetricsPath(std::string_view path) {
  if (!path.starts_with('/')) return "must start with '/', e.g. /metrics";
  if (HasSpaceOrControl(path)) return "must not contain spaces";
  if (path.find_first_of("?#") != std::string_view::npos) {
    return "must be a path without '?' or '#' (scrape_configs take query parameters under "
           "'params')";
  }
  return "";
}

std::string ResolvePath(const std::string& base, const std::string& path) {
  std::filesystem::path p(path);
  if (p.is_relative()) p = std::filesystem::path(base) / p;
  std::string out = p.lexically_normal().string();
  while (out.size() > 1 && out.back() == '/') out.pop_back();
  return out;
}

}  // namespace steward::config::internal
