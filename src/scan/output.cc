#include "scan/output.h"

#include <fmt/format.h>

#include <algorithm>
#include <array>
#include <cctype>
#include <map>
#include <nlohmann/json.hpp>
#include <vector>

#include "base/hash.h"
#include "scan/config_scan.h"

namespace steward::scan {
namespace {

using Json = nlohmann::ordered_json;

constexpr std::array<Severity, 5> kWorstFirst = {
    Severity::kCritical, Severity::kHigh, Severity::kMedium, Severity::kLow, Severity::kInfo};

std::string Dump(const Json& j) {
  // Snippets come from arbitrary files: replace bytes that are not UTF-8 instead of throwing.
  return j.dump(2, ' ', false, Json::error_handler_t::replace) + "\n";
}

std::string Plural(uint64_t n, std::string_view word) {
  return fmt::format("{} {}{}", n, word, n == 1 ? "" : "s");
}

std::string Location(const Finding& f) {
  std::string loc = f.path.empty() ? "-" : f.path;
  if (f.line > 0) loc += fmt::format(":{}", f.line);
  if (f.line > 0 && f.column > 0) loc += fmt::format(":{}", f.column);
  if (!f.commit.empty()) loc += "@" + f.commit.substr(0, 12);
  return loc;
}

std::string_view Color(Severity s) {
  switch (s) {
    case Severity::kCritical:
      return "\x1b[1;31m";
    case Severity::kHigh:
      return "\x1b[31m";
    case Severity::kMedium:
      return "\x1b[33m";
    case Severity::kLow:
      return "\x1b[36m";
    case Severity::kInfo:
      return "\x1b[2m";
  }
  return "";
}

std::string OneLine(std::string s) {
  std::replace(s.begin(), s.end(), '\n', ' ');
  return s;
}

std::map<Severity, uint64_t> CountBySeverity(const ScanResult& r) {
  std::map<Severity, uint64_t> counts;
  for (Severity s : kWorstFirst) counts[s] = 0;
  for (const Finding& f : r.findings) ++counts[f.severity];
  return counts;
}

std::string SummaryLine(const ScanResult& r) {
  std::map<Severity, uint64_t> counts = CountBySeverity(r);
  std::string by;
  for (Severity s : kWorstFirst) {
    by += fmt::format("{}{} {}", by.empty() ? "" : ", ", counts[s], SeverityName(s));
  }
  return fmt::format("{} ({}) in {}, {:.1f} MB; {}", Plural(r.findings.size(), "finding"), by,
                     Plural(r.files, "file"), static_cast<double>(r.bytes) / 1e6,
                     Plural(r.problems.size(), "problem"));
}

std::string_view SarifLevel(Severity s) {
  switch (s) {
    case Severity::kCritical:
    case Severity::kHigh:
      return "error";
    case Severity::kMedium:
      return "warning";
    case Severity::kLow:
    case Severity::kInfo:
      return "note";
  }
  return "note";
}

// GitHub code scanning's security-severity score (over 9.0 critical, 7.0-8.9 high, 4.0-6.9
// medium, 0.1-3.9 low); "" for info, which has none.
std::string_view SecuritySeverity(Severity s) {
  switch (s) {
    case Severity::kCritical:
      return "9.5";
    case Severity::kHigh:
      return "8.0";
    case Severity::kMedium:
      return "5.5";
    case Severity::kLow:
      return "2.0";
    case Severity::kInfo:
      return "";
  }
  return "";
}

// A relative path as a URI reference: unreserved bytes and '/' as they are, the rest %XX.
std::string UriEscape(std::string_view path) {
  std::string out;
  for (unsigned char c : path) {
    if (std::isalnum(c) || c == '-' || c == '.' || c == '_' || c == '~' || c == '/') {
      out += static_cast<char>(c);
    } else {
      out += fmt::format("%{:02X}", c);
    }
  }
  return out;
}

Json PhysicalLocation(const std::string& path, int line, int column) {
  Json region = {{"startLine", std::max(line, 1)}};
  if (line > 0 && column > 0) region["startColumn"] = column;
  return {{"physicalLocation",
           {{"artifactLocation", {{"uri", UriEscape(path)}, {"uriBaseId", "%SRCROOT%"}}},
            {"region", region}}}};
}

bool IsAbsoluteUrl(std::string_view url) {
  return url.rfind("https://", 0) == 0 || url.rfind("http://", 0) == 0;
}

// rules[] entries in order of first use, with each rule's index.
class SarifRules {
 public:
  size_t IndexOf(const Finding& f) {
    auto [it, added] = index_.emplace(f.rule, rules_.size());
    if (added) {
      rules_.push_back(Describe(f));
      worst_.push_back(f.severity);
    } else if (f.severity > worst_[it->second] && FindConfigRule(f.rule) == nullptr) {
      worst_[it->second] = f.severity;  // advisories of one id may differ; keep the worst
      SetLevel(&rules_[it->second], f.severity);
    }
    return it->second;
  }

  Json ToJson() const { return Json(rules_); }

 private:
  static void SetLevel(Json* rule, Severity s) {
    (*rule)["defaultConfiguration"] = {{"level", SarifLevel(s)}};
    std::string_view score = SecuritySeverity(s);
    if (score.empty()) {
      (*rule)["properties"].erase("security-severity");
    } else {
      (*rule)["properties"]["security-severity"] = score;
    }
  }

  static Json Describe(const Finding& f) {
    const ConfigRule* config = FindConfigRule(f.rule);
    std::string title = f.title.empty() ? f.rule : f.title;
    Json rule = {{"id", f.rule}, {"shortDescription", {{"text", title}}}};
    rule["fullDescription"] = {{"text", title}};
    if (config != nullptr) {
      rule["help"] = {{"text", std::string(config->fix)}};
    } else if (!f.message.empty()) {
      rule["help"] = {{"text", f.message}};
    }
    if (IsAbsoluteUrl(f.url)) rule["helpUri"] = f.url;
    Severity level = config != nullptr ? config->severity : f.severity;
    rule["properties"] = {
        {"tags", Json::array({"security", f.scanner.empty() ? "scan" : f.scanner})}};
    SetLevel(&rule, level);
    return rule;
  }

  std::map<std::string, size_t> index_;
  std::vector<Json> rules_;
  std::vector<Severity> worst_;
};

Json SarifResult(const Finding& f, size_t rule_index) {
  Json result = {{"ruleId", f.rule},
                 {"ruleIndex", rule_index},
                 {"level", SarifLevel(f.severity)},
                 {"message", {{"text", f.message.empty() ? f.title : f.message}}}};
  result["locations"] = Json::array();
  if (!f.path.empty()) result["locations"].push_back(PhysicalLocation(f.path, f.line, f.column));
  std::string fingerprint = f.fingerprint.empty()
                                ? Fnv1a64Hex(fmt::format("{}\n{}\n{}", f.rule, f.path, f.line))
                                : f.fingerprint;
  result["partialFingerprints"] = {{"steward/v1", fingerprint}};
  Json properties = {{"severity", SeverityName(f.severity)}, {"scanner", f.scanner}};
  if (!f.commit.empty()) properties["commit"] = f.commit;
  if (!f.package.empty()) {
    properties["ecosystem"] = f.ecosystem;
    properties["package"] = f.package;
    properties["version"] = f.version;
    properties["fixed"] = f.fixed;
    properties["aliases"] = f.aliases;
  }
  result["properties"] = std::move(properties);
  return result;
}

}  // namespace

std::optional<OutputFormat> ParseOutputFormat(std::string_view text) {
  std::string lower;
  for (char c : text) lower += static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  if (lower == "table") return OutputFormat::kTable;
  if (lower == "json") return OutputFormat::kJson;
  if (lower == "sarif") return OutputFormat::kSarif;
  return std::nullopt;
}

std::string FormatTable(const ScanResult& r, bool color) {
  std::string out;
  if (r.findings.empty()) {
    out += "no findings\n";
  } else {
    std::vector<std::array<std::string, 4>> rows = {{"SEVERITY", "RULE", "LOCATION", "MESSAGE"}};
    for (const Finding& f : r.findings) {
      rows.push_back({std::string(SeverityName(f.severity)), f.rule, Location(f),
                      OneLine(f.message.empty() ? f.title : f.message)});
    }
    std::array<size_t, 3> width{};
    for (const auto& row : rows) {
      for (size_t c = 0; c < width.size(); ++c) width[c] = std::max(width[c], row[c].size());
    }
    for (size_t i = 0; i < rows.size(); ++i) {
      const auto& row = rows[i];
      std::string severity = fmt::format("{:<{}}", row[0], width[0]);
      if (color && i > 0) {
        severity = fmt::format("{}{}\x1b[0m", Color(r.findings[i - 1].severity), severity);
      }
      out += fmt::format("{}  {:<{}}  {:<{}}  {}\n", severity, row[1], width[1], row[2], width[2],
                         row[3]);
    }
  }
  if (!r.problems.empty()) {
    out += "\nproblems (not scanned, or not whole):\n";
    for (const Problem& p : r.problems) out += "  " + OneLine(p.ToString()) + "\n";
  }
  out += "\n" + SummaryLine(r) + "\n";
  return out;
}

std::string FormatJson(const ScanResult& r) {
  Json findings = Json::array();
  for (const Finding& f : r.findings) {
    findings.push_back({{"scanner", f.scanner},
                        {"rule", f.rule},
                        {"title", f.title},
                        {"severity", SeverityName(f.severity)},
                        {"message", f.message},
                        {"path", f.path},
                        {"line", f.line},
                        {"column", f.column},
                        {"commit", f.commit},
                        {"snippet", f.snippet},
                        {"fingerprint", f.fingerprint},
                        {"ecosystem", f.ecosystem},
                        {"package", f.package},
                        {"version", f.version},
                        {"fixed", f.fixed},
                        {"aliases", f.aliases},
                        {"url", f.url}});
  }
  Json problems = Json::array();
  for (const Problem& p : r.problems) {
    problems.push_back({{"path", p.path}, {"line", p.line}, {"message", p.message}});
  }
  Json by_severity = Json::object();
  for (const auto& [severity, count] : CountBySeverity(r))
    by_severity[SeverityName(severity)] = count;
  Json ordered = Json::object();
  for (Severity s : kWorstFirst) ordered[SeverityName(s)] = by_severity[SeverityName(s)];
  Json summary = {{"findings", r.findings.size()},
                  {"by_severity", ordered},
                  {"files", r.files},
                  {"bytes", r.bytes},
                  {"problems", r.problems.size()}};
  return Dump({{"findings", findings}, {"problems", problems}, {"summary", summary}});
}

std::string FormatSarif(const ScanResult& r, std::string_view tool_version) {
  SarifRules rules;
  Json results = Json::array();
  for (const Finding& f : r.findings) results.push_back(SarifResult(f, rules.IndexOf(f)));
  Json notifications = Json::array();
  for (const Problem& p : r.problems) {
    Json n = {{"level", "error"}, {"message", {{"text", OneLine(p.ToString())}}}};
    if (!p.path.empty()) n["locations"] = Json::array({PhysicalLocation(p.path, p.line, 0)});
    notifications.push_back(std::move(n));
  }
  Json driver = {{"name", "steward"}};
  if (!tool_version.empty()) driver["version"] = std::string(tool_version);
  driver["rules"] = rules.ToJson();
  Json invocation = {{"executionSuccessful", true}, {"toolExecutionNotifications", notifications}};
  Json run = {{"tool", {{"driver", driver}}},
              {"invocations", Json::array({invocation})},
              {"results", results}};
  return Dump({{"$schema", "https://json.schemastore.org/sarif-2.1.0.json"},
               {"version", "2.1.0"},
               {"runs", Json::array({run})}});
}

int ExitCodeFor(const ScanResult& r, Severity fail_on) {
  for (const Finding& f : r.findings) {
    if (f.severity >= fail_on) return 1;
  }
  return 0;
}

}  // namespace steward::scan
