// The risky-configuration scanner: Dockerfiles, Kubernetes manifests and the stack itself.
//
// ScanConfig walks a tree (skipping .git) and checks every Dockerfile (Dockerfile,
// Containerfile, *.Dockerfile, Dockerfile.*) and every YAML file whose documents carry
// apiVersion and kind; ScanStack checks a parsed stack. Each check is a rule with a stable id,
// a severity and a fix (ConfigRules(), listed in docs/scan-rules.md). Findings come with the
// line of the offending key or instruction; a file that cannot be read or parsed becomes a
// Problem with its path and line and the scan goes on with the next one.
//
// Secrets: a rule that finds a literal secret (ENV DB_PASSWORD=…, an env value in a manifest
// or the stack) names the key, never the value; snippets show it as "***".
// Thread safety: stateless functions; safe to call concurrently.
#pragma once

#include <filesystem>
#include <string>
#include <string_view>
#include <vector>

#include "config/stack.h"
#include "scan/finding.h"

namespace steward::scan {

struct ConfigScanOptions {
  const config::Stack* stack = nullptr;  // when set, stack rules run on it
  // For Finding::path of stack findings (line from the model's SourceLocation where present);
  // "" means the stack file's name.
  std::string stack_path;
};

ScanResult ScanConfig(const std::filesystem::path& root, const ConfigScanOptions& o);
ScanResult ScanStack(const config::Stack& stack, const std::string& stack_path);

// One rule of the config scanner, for `--list-rules`, SARIF's rule descriptions and the docs.
struct ConfigRule {
  std::string_view id;     // "dockerfile-root-user"
  std::string_view title;  // "Container runs as root"
  Severity severity;
  std::string_view fix;  // one or two sentences: what to write instead
};

// Every rule, Dockerfile rules first, then Kubernetes, then stack; ids are unique.
const std::vector<ConfigRule>& ConfigRules();
// nullptr for an id that is not a config rule.
const ConfigRule* FindConfigRule(std::string_view id);

// True for names of variables that usually hold a secret: containing PASSWORD, PASSWD,
// SECRET, TOKEN, API_KEY/APIKEY, PRIVATE_KEY, ACCESS_KEY or CREDENTIAL (any case, '-' as '_'),
// except names of where a secret is rather than what it is (…_FILE, …_PATH, …_DIR, …_URL) and
// of its properties (…_TTL, …_LENGTH, …_EXPIRY, …_TIMEOUT).
bool LooksLikeSecretName(std::string_view name);

namespace internal {

// For the Dockerfile, Kubernetes and stack rules: a finding of config rule `rule_id` (title,
// severity and url from the catalog). `key` says which thing the finding is about without its
// line ("stage 2", "Deployment/web container app") so the fingerprint survives moved lines.
Finding MakeConfigFinding(std::string_view rule_id, std::string path, int line, int column,
                          std::string message, std::string snippet, std::string_view key);

// An image reference's tag problem: "" when pinned (a tag other than latest, or a digest),
// else "uses the 'latest' tag" or "has no tag". Variables ($X) count as pinned: unknown.
std::string UnpinnedImageReason(std::string_view image);

}  // namespace internal
}  // namespace steward::scan
