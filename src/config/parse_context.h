// Internal to the config room: the state of one ParseStack run — the diagnostics collected so
// far, the ${VAR} lookup, and typed readers of YAML values that report what is wrong and carry
// on, so that one run reports every error of a file.
//
// Every reader returns nullopt after reporting; callers then keep the model's default and go on.
// Messages follow one shape: "<context>: '<key>' must be <what>, got <what was written>", where
// context is e.g. "service 'web'" and key a dotted path such as "health.interval".
// Thread safety: one context per parse; not shared.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "config/interpolate.h"
#include "config/stack.h"
#include "config/stack_parser.h"
#include "config/yaml_tree.h"

namespace steward::config::internal {

// One key: value pair of a YAML map.
struct Entry {
  std::string key;
  std::string path;  // dotted key path used in messages: "health.interval"
  YamlNode key_node;
  YamlNode value;
};

// Locations the cross-service checks need but the model does not keep.
struct ServiceMarks {
  std::vector<SourceLocation> ports;       // parallel to Service::ports
  std::vector<SourceLocation> depends_on;  // parallel to Service::depends_on
  SourceLocation metrics;                  // the 'metrics' key; line 0 when absent
  SourceLocation metrics_timeout;          // 'metrics.timeout'; line 0 when not written
};

class ParseContext {
 public:
  ParseContext(std::string file, LookupFn lookup);

  const std::string& file() const { return file_; }
  SourceLocation Loc(YamlNode node) const;
  // The value's location, or its key's when the value is empty (yaml-cpp then points past it).
  SourceLocation Loc(const Entry& e) const;
  void Error(SourceLocation loc, std::string message);
  // Sorted by position, exact duplicates removed.
  std::vector<Diagnostic> TakeDiagnostics();

  // Entries of a map in file order. Reports keys that are not strings, duplicate keys, and
  // (when `allowed` is not empty) keys outside `allowed` with a did-you-mean hint; such entries
  // are dropped. `where` completes "unknown key 'x' <where>"; `prefix` starts each Entry::path.
  std::vector<Entry> Entries(YamlNode map, std::span<const std::string_view> allowed,
                             std::string_view where, std::string_view prefix = "");

  // Typed readers; `ctx` names the owner ("service 'web'"), "" at top level.
  bool ExpectMap(const Entry& e, std::string_view ctx);
  std::optional<std::string> String(const Entry& e, std::string_view ctx);
  // A string where ${secret:NAME} references are allowed (a service's env values), kept in the
  // template form of config/secret_refs.h. Everywhere else a reference is reported.
  std::optional<std::string> SecretTemplateString(const Entry& e, std::string_view ctx);
  std::optional<std::string> ItemString(YamlNode item, const Entry& list, std::string_view ctx);
  std::optional<std::vector<std::string>> StringList(const Entry& e, std::string_view ctx);
  std::optional<int64_t> Int(const Entry& e, std::string_view ctx, int64_t min, int64_t max);
  std::optional<bool> Bool(const Entry& e, std::string_view ctx);
  // A finite decimal number ("0.05", "1e-3").
  std::optional<double> Number(const Entry& e, std::string_view ctx);
  std::optional<Duration> Dur(const Entry& e, std::string_view ctx);
  std::optional<int64_t> Size(const Entry& e, std::string_view ctx);

  // "'two'", "a list", "a map", "nothing": what was written, for "got ..." in messages.
  static std::string Describe(YamlNode node);
  // "ctx: 'key'" or "'key'" when ctx is empty.
  static std::string Subject(std::string_view ctx, std::string_view path);

 private:
  // The interpolated scalar, or nullopt after reporting (not a scalar, unset variable).
  std::optional<std::string> Scalar(YamlNode node, const SourceLocation& loc, std::string_view ctx,
                                    std::string_view path, std::string_view expected,
                                    bool secrets_allowed = false);

  std::string file_;
  LookupFn lookup_;
  std::vector<Diagnostic> diagnostics_;
};

// The keys a service may have; environment overrides are checked against them too.
std::span<const std::string_view> ServiceKeys();

// Reads one service; `key` and `value` are the service's name and settings in the file.
// Relative working_dir resolves against `stack_dir`.
Service ParseService(ParseContext& ctx, YamlNode key, YamlNode value, const std::string& stack_dir,
                     ServiceMarks* marks);

// Cross-service checks: dependencies exist, no cycles, no port blocks overlap.
void ValidateServices(ParseContext& ctx, const std::vector<Service>& services,
                      const std::vector<ServiceMarks>& marks);

// Reads the monitoring keys of the top level (`top`, already checked for unknown keys):
// monitoring, scrape_configs and monitors, after the services (job names are checked against
// the services that declare metrics, and metrics timeouts against the scrape defaults).
void ParseMonitoringSections(ParseContext& ctx, const std::vector<Entry>& top,
                             const std::vector<ServiceMarks>& marks, Stack* stack);

// Reads `monitors:` (the entry at the top level) into stack->monitors; relative ca_file paths
// resolve against `stack_dir`.
void ParseMonitors(ParseContext& ctx, const Entry& e, const std::string& stack_dir, Stack* stack);

// Reads a map of Prometheus labels (name -> scalar) into `out`; names must be valid label
// names outside `reserved`, values non-empty.
void ReadLabels(ParseContext& ctx, const Entry& e, std::string_view who,
                std::span<const std::string_view> reserved,
                std::map<std::string, std::string>* out);

// The range and cross-field checks of the monitoring model, for stacks that arrive as JSON.
void CheckMonitoringModel(ParseContext& ctx, const Stack& stack);

// Project, service and monitor names: [a-z0-9][a-z0-9-]*.
bool IsValidName(std::string_view name);
// "use lowercase letters, digits and '-', starting with a letter or digit, e.g. <example>".
std::string NameRule(std::string_view example);

// The closest of `candidates` to `word` (edit distance <= 2, or a prefix), or "" if none is.
std::string Suggest(std::string_view word, std::span<const std::string_view> candidates);

}  // namespace steward::config::internal
