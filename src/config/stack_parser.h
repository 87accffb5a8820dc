// Parses and validates steward.yaml into a config::Stack.
//
// Contract: Parse never stops at the first problem. It collects every error of the file
// (unknown key with a "did you mean", wrong type, missing required key, bad duration or size,
// unknown dependency, dependency cycle with the cycle printed, port clash) with its location,
// and returns them all. A Stack is returned only when there are no errors.
// Thread safety: stateless functions; safe to call concurrently.
#pragma once

#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "base/status.h"
#include "config/stack.h"

namespace steward::config {

struct Diagnostic {
  SourceLocation location;
  std::string message;                  // "unknown key 'replcas' in service 'web'; did you mean 'replicas'?"
  std::string ToString() const;         // "steward.yaml:12:5: error: <message>"
};

// OK for none; else kInvalidArgument with every diagnostic's ToString(), joined by "; ".
Status DiagnosticsStatus(const std::vector<Diagnostic>& diagnostics);

struct ParseOptions {
  std::string environment;              // select environments.<name>; "" = none
  // Looks up ${VAR}; default reads the process environment. Environment vars override it.
  std::function<std::optional<std::string>(const std::string&)> lookup_env;
};

struct ParseResult {
  std::optional<Stack> stack;           // set iff diagnostics is empty
  std::vector<Diagnostic> diagnostics;
  bool ok() const { return diagnostics.empty(); }
};

// `path` is used for locations and for resolving relative paths; `text` is the file content.
ParseResult ParseStack(const std::string& text, const std::string& path,
                       const ParseOptions& options = {});
// Reads the file; an unreadable file is a single diagnostic.
ParseResult ParseStackFile(const std::string& path, const ParseOptions& options = {});

// The checks of ParseStack that do not need YAML (field ranges, dependencies, cycles, port
// clashes), for stacks that arrive in another form (JSON over the daemon's API).
std::vector<Diagnostic> ValidateStack(const Stack& stack);

// "500ms", "2s", "1m30s", "1h": returns nullopt on anything else (no unit, negative, garbage).
std::optional<Duration> ParseDuration(const std::string& text);
// "256Mi", "1Gi", "512k", "1G", "1024": bytes; nullopt on garbage.
std::optional<int64_t> ParseSize(const std::string& text);

// The exact inverse of ParseDuration, in stack-file notation: 1500ms -> "1s500ms",
// 90000ms -> "1m30s", 0 -> "0s". Unlike steward::FormatDuration (base, rounded, for elapsed
// times), its output can be pasted back into a stack file.
std::string FormatDuration(Duration d);
// Bytes for messages: the largest exact binary unit ("256Mi"), else decimal ("500M"), else bytes.
std::string FormatSize(int64_t bytes);
// "SIGTERM" or "TERM" (any case) -> 15; nullopt for names outside the supported set
// (TERM, INT, QUIT, HUP, KILL, USR1, USR2).
std::optional<int> ParseSignal(const std::string& name);
// 15 -> "SIGTERM"; an unsupported number prints as "signal 42".
std::string SignalName(int signal);

}  // namespace steward::config
