#include "scan/config_scan.h"

#include <fmt/format.h>

#include <cctype>
#include <cerrno>
#include <cstring>
#include <fstream>
#include <iterator>
#include <system_error>
#include <utility>

#include "base/hash.h"
#include "scan/dockerfile_rules.h"
#include "scan/k8s_rules.h"

namespace steward::scan {
namespace {

namespace fs = std::filesystem;

// Larger files are not configuration; reading them would only slow the walk.
constexpr uintmax_t kMaxFileBytes = 8u << 20;

const std::vector<ConfigRule> kRules = {
    {"dockerfile-root-user", "Container runs as root", Severity::kHigh,
     "Create an unprivileged user and end the final stage with USER app (or a numeric UID)."},
    {"dockerfile-latest-tag", "Base image not pinned", Severity::kMedium,
     "Name a version tag (python:3.12-slim) or a digest (python@sha256:…) in FROM."},
    {"dockerfile-add-url", "ADD from a URL", Severity::kMedium,
     "Download with RUN curl -fsSL … and check the file's sha256sum, or use ADD "
     "--checksum=sha256:…."},
    {"dockerfile-add-instead-of-copy", "ADD where COPY would do", Severity::kLow,
     "Use COPY for local files; keep ADD for archives that should be unpacked."},
    {"dockerfile-secret-env", "Secret in ENV", Severity::kHigh,
     "Remove the value from the Dockerfile and inject it when the container starts (docker run "
     "--env-file, a Kubernetes Secret, ${secret:NAME} in the stack); rotate the leaked one."},
    {"dockerfile-secret-arg", "Secret as an ARG default", Severity::kHigh,
     "Remove the default and pass build-time secrets with RUN --mount=type=secret,id=NAME; "
     "rotate the leaked one."},
    {"dockerfile-apt-install-recommends", "apt-get install without --no-install-recommends",
     Severity::kLow, "Add --no-install-recommends to apt-get install."},
    {"dockerfile-apt-no-cleanup", "apt package lists left in the image", Severity::kLow,
     "End the RUN that installs packages with && rm -rf /var/lib/apt/lists/* (or use a cache "
     "mount for /var/lib/apt)."},
    {"dockerfile-curl-pipe-shell", "Download piped into a shell", Severity::kMedium,
     "Download the script to a file, verify its checksum or signature, then run it."},
    {"dockerfile-no-healthcheck", "No HEALTHCHECK", Severity::kLow,
     "Add HEALTHCHECK CMD with a cheap probe of the service (or HEALTHCHECK NONE when the "
     "orchestrator probes it)."},
    {"dockerfile-sudo", "sudo in RUN", Severity::kMedium,
     "Switch users with USER root … USER app around the steps that need root; do not install "
     "sudo."},
    {"dockerfile-expose-ssh", "SSH port exposed", Severity::kMedium,
     "Remove EXPOSE 22 and the SSH server; use docker exec or kubectl exec for a shell."},
    {"dockerfile-chmod-777", "World-writable permissions", Severity::kMedium,
     "Grant only what is needed: 755 for programs and directories, 644 for files, owned by the "
     "app user."},
    {"k8s-privileged", "Privileged container", Severity::kCritical,
     "Remove privileged: true; add only the capabilities the container needs."},
    {"k8s-privilege-escalation", "Privilege escalation allowed", Severity::kMedium,
     "Set securityContext.allowPrivilegeEscalation: false on every container."},
    {"k8s-run-as-root", "Container may run as root", Severity::kHigh,
     "Set securityContext.runAsNonRoot: true and a non-zero runAsUser (pod or container)."},
    {"k8s-no-resource-limits", "No resource limits", Severity::kMedium,
     "Set resources.limits.memory and resources.limits.cpu (with requests) on every container."},
    {"k8s-host-path", "hostPath volume", Severity::kHigh,
     "Use a PersistentVolumeClaim, emptyDir, ConfigMap or Secret volume instead of hostPath."},
    {"k8s-host-namespace", "Host network, PID or IPC namespace", Severity::kHigh,
     "Remove hostNetwork, hostPID and hostIPC; expose ports through a Service."},
    {"k8s-no-liveness-probe", "No liveness probe", Severity::kLow,
     "Add a livenessProbe (httpGet, tcpSocket or exec) so a hung container is restarted."},
    {"k8s-no-readiness-probe", "No readiness probe", Severity::kLow,
     "Add a readinessProbe so traffic waits until the container is ready."},
    {"k8s-latest-tag", "Image not pinned", Severity::kMedium,
     "Name a version tag or a digest (image@sha256:…) in image:."},
    {"k8s-dangerous-capabilities", "Dangerous capability added", Severity::kHigh,
     "Drop SYS_ADMIN, NET_ADMIN and ALL from capabilities.add; add narrow ones such as "
     "NET_BIND_SERVICE, and drop: [ALL] first."},
    {"k8s-writable-root-fs", "Writable root filesystem", Severity::kLow,
     "Set securityContext.readOnlyRootFilesystem: true; mount an emptyDir where the process "
     "writes."},
    {"k8s-secret-in-env", "Secret in a manifest's env", Severity::kHigh,
     "Move the value into a Secret and use valueFrom.secretKeyRef; rotate the leaked one."},
    {"k8s-default-namespace", "Default namespace", Severity::kInfo,
     "Set metadata.namespace to the application's own namespace."},
    {"stack-no-health-check", "Service without a health check", Severity::kMedium,
     "Add health: {http: /healthz} (or tcp: / exec:) to the service."},
    {"stack-stateful-no-backup", "Stateful service without backups", Severity::kHigh,
     "Add backup: {paths: […]} to the service (a before: hook for database dumps) and a "
     "top-level backup: repository; run a restore drill."},
    {"stack-plaintext-secret", "Plaintext secret in the stack", Severity::kHigh,
     "Store the value with steward secret set NAME and write ${secret:NAME} in env; rotate the "
     "leaked one."},
    {"stack-public-bind-no-tls", "Listening beyond this machine without TLS", Severity::kMedium,
     "Bind to 127.0.0.1 and put a TLS-terminating proxy in front, or configure TLS."},
    {"stack-no-alert-receiver", "No alert receiver", Severity::kLow,
     "Add alerting: receivers (webhook, Slack, PagerDuty, Alertmanager) and a route to one."},
    {"stack-latest-tag", "Container image not pinned", Severity::kMedium,
     "Name a version tag or a digest in the image of docker/podman run."},
};

std::string NormalizedName(std::string_view name) {
  std::string out;
  for (char c : name) {
    char u = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
    out += (u == '-' || u == '.') ? '_' : u;
  }
  return out;
}

bool EndsWith(std::string_view s, std::string_view suffix) {
  return s.size() >= suffix.size() && s.substr(s.size() - suffix.size()) == suffix;
}

bool IsYamlName(std::string_view name) {
  return EndsWith(name, ".yaml") || EndsWith(name, ".yml") || EndsWith(name, ".YAML") ||
         EndsWith(name, ".YML");
}

// Reads and scans one file; `rel` is its path relative to the root.
void ScanFile(const fs::path& file, const std::string& rel, bool dockerfile, ScanResult* out) {
  std::error_code ec;
  uintmax_t size = fs::file_size(file, ec);
  if (ec) {
    out->problems.push_back(Problem{rel, 0, "cannot read: " + ec.message()});
    return;
  }
  if (size > kMaxFileBytes) {
    if (dockerfile) {
      out->problems.push_back(Problem{
          rel, 0, fmt::format("skipped: {} bytes is larger than a configuration file", size)});
    }
    return;
  }
  std::ifstream in(file, std::ios::binary);
  if (!in) {
    out->problems.push_back(Problem{rel, 0, std::string("cannot open: ") + std::strerror(errno)});
    return;
  }
  std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  if (in.bad()) {
    out->problems.push_back(Problem{rel, 0, "cannot read the file"});
    return;
  }
  ++out->files;
  out->bytes += text.size();
  out->Merge(dockerfile ? ScanDockerfile(text, rel) : ScanKubernetesYaml(text, rel));
}

// Every Dockerfile and YAML file under root, .git skipped. An error mid-walk (a directory
// removed while we read) ends the walk with a problem; what was read stays reported.
void WalkTree(const fs::path& root, ScanResult* out) {
  std::error_code ec;
  fs::recursive_directory_iterator it(root, fs::directory_options::skip_permission_denied, ec);
  if (ec) {
    out->problems.push_back(Problem{root.string(), 0, "cannot read: " + ec.message()});
    return;
  }
  for (; it != fs::recursive_directory_iterator(); it.increment(ec)) {
    if (ec) {
      out->problems.push_back(Problem{root.string(), 0, "walk stopped: " + ec.message()});
      return;
    }
    std::error_code type_ec;
    std::string name = it->path().filename().string();
    if (it->is_directory(type_ec)) {
      if (name == ".git") it.disable_recursion_pending();
      continue;
    }
    if (!it->is_regular_file(type_ec)) continue;
    bool dockerfile = IsDockerfileName(name);
    if (!dockerfile && !IsYamlName(name)) continue;
    ScanFile(it->path(), fs::relative(it->path(), root, type_ec).generic_string(), dockerfile, out);
  }
}

}  // namespace

const std::vector<ConfigRule>& ConfigRules() { return kRules; }

const ConfigRule* FindConfigRule(std::string_view id) {
  for (const ConfigRule& r : kRules) {
    if (r.id == id) return &r;
  }
  return nullptr;
}

bool LooksLikeSecretName(std::string_view name) {
  std::string n = NormalizedName(name);
  // Where a secret is kept, or a property of it, is not the secret.
  for (std::string_view suffix : {"_FILE", "_PATH", "_DIR", "_URL", "_TTL", "_LENGTH", "_EXPIRY",
                                  "_TIMEOUT", "_NAME", "_ENABLED"}) {
    if (EndsWith(n, suffix)) return false;
  }
  for (std::string_view pair : {"API_KEY", "PRIVATE_KEY", "ACCESS_KEY", "SECRET_KEY"}) {
    if (n.find(pair) != std::string::npos) return true;
  }
  // Word by word, so TOKENIZERS_PARALLELISM is not a token but GITHUB_TOKEN and AUTHTOKEN are.
  size_t start = 0;
  while (start <= n.size()) {
    size_t end = n.find('_', start);
    if (end == std::string::npos) end = n.size();
    std::string_view word = std::string_view(n).substr(start, end - start);
    if (word == "PASS" || (word == "PWD" && start > 0)) return true;  // DB_PASS, DB_PWD; not PWD
    if (EndsWith(word, "S")) word.remove_suffix(1);
    for (std::string_view w : {"PASSWORD", "PASSWD", "SECRET", "TOKEN", "APIKEY", "CREDENTIAL"}) {
      if (EndsWith(word, w)) return true;
    }
    start = end + 1;
  }
  return false;
}

namespace internal {

Finding MakeConfigFinding(std::string_view rule_id, std::string path, int line, int column,
                          std::string message, std::string snippet, std::string_view key) {
  Finding f;
  f.scanner = "config";
  f.rule = std::string(rule_id);
  const ConfigRule* rule = FindConfigRule(rule_id);
  f.title = rule ? std::string(rule->title) : f.rule;
  f.severity = rule ? rule->severity : Severity::kMedium;
  f.message = std::move(message);
  f.line = line;
  f.column = column;
  f.snippet = std::move(snippet);
  f.fingerprint = Fnv1a64Hex(fmt::format("config\n{}\n{}\n{}", rule_id, path, key));
  f.path = std::move(path);
  return f;
}

std::string UnpinnedImageReason(std::string_view image) {
  if (image.find('@') != std::string_view::npos) return "";  // a digest pins it
  if (image.find('$') != std::string_view::npos) return "";  // unknown until build time
  size_t slash = image.rfind('/');
  std::string_view last = slash == std::string_view::npos ? image : image.substr(slash + 1);
  size_t colon = last.find(':');
  if (colon == std::string_view::npos) return "has no tag, so it means :latest";
  if (last.substr(colon + 1) == "latest") return "uses the 'latest' tag";
  return "";
}

}  // namespace internal

ScanResult ScanConfig(const fs::path& root, const ConfigScanOptions& o) {
  ScanResult out;
  std::error_code ec;
  if (fs::is_regular_file(root, ec)) {
    std::string name = root.filename().string();
    ScanFile(root, name, IsDockerfileName(name), &out);
  } else {
    WalkTree(root, &out);
  }
  if (o.stack != nullptr) out.Merge(ScanStack(*o.stack, o.stack_path));
  return out;
}

}  // namespace steward::scan
