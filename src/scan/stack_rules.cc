#include "scan/stack_rules.h"

#include <fmt/format.h>
#include <yaml-cpp/yaml.h>

#include <cctype>
#include <filesystem>
#include <optional>
#include <utility>

#include "scan/config_scan.h"

namespace steward::scan {
namespace {

using internal::MakeConfigFinding;

std::string Upper(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  return out;
}

std::string Basename(std::string_view path) {
  size_t slash = path.rfind('/');
  return std::string(slash == std::string_view::npos ? path : path.substr(slash + 1));
}

bool EndsWith(std::string_view s, std::string_view suffix) {
  return s.size() >= suffix.size() && s.substr(s.size() - suffix.size()) == suffix;
}

// Programs and images that keep data of their own. Redis and Valkey are not here: most run them
// as caches; one that persists is caught by its volume.
bool IsDatastore(std::string_view name) {
  for (std::string_view d :
       {"postgres",      "postgresql", "postmaster",      "pg_ctl",     "mysqld",
        "mysqld_safe",   "mysql",      "mariadbd",        "mariadb",    "mongod",
        "mongo",         "etcd",       "minio",           "clickhouse", "clickhouse-server",
        "elasticsearch", "opensearch", "rabbitmq-server", "rabbitmq",   "influxd",
        "influxdb",      "cockroach",  "cockroachdb",     "kafka",      "zookeeper",
        "cassandra",     "neo4j",      "couchdb",         "timescaledb"}) {
    if (name == d) return true;
  }
  return false;
}

// "docker.io/library/postgres:16@sha256:…" -> "postgres".
std::string ImageName(std::string_view image) {
  std::string name = Basename(image.substr(0, image.find('@')));
  return name.substr(0, name.find(':'));
}

// Options of `docker run` / `podman run` that take the next word as their value.
bool TakesValue(std::string_view option) {
  for (std::string_view o : {"-e",
                             "--env",
                             "--env-file",
                             "-p",
                             "--publish",
                             "-v",
                             "--volume",
                             "--mount",
                             "--name",
                             "--network",
                             "--net",
                             "-w",
                             "--workdir",
                             "-u",
                             "--user",
                             "--entrypoint",
                             "-l",
                             "--label",
                             "--restart",
                             "-m",
                             "--memory",
                             "--cpus",
                             "-h",
                             "--hostname",
                             "--add-host",
                             "--device",
                             "--pull",
                             "--platform",
                             "--log-driver",
                             "--log-opt",
                             "--health-cmd",
                             "--tmpfs",
                             "--cap-add",
                             "--cap-drop",
                             "--security-opt",
                             "--ulimit",
                             "--dns",
                             "--pod",
                             "--userns",
                             "--stop-signal",
                             "--stop-timeout",
                             "-a",
                             "--attach",
                             "--cidfile",
                             "--ip",
                             "--secret"}) {
    if (option == o) return true;
  }
  return false;
}

// Index of the first word after `run` in `docker run …` / `podman container run …`; 0 when the
// service does not run a container.
size_t RunArgsStart(const config::Service& s) {
  std::string program = Basename(s.command);
  if (program != "docker" && program != "podman" && program != "nerdctl") return 0;
  if (!s.args.empty() && s.args[0] == "run") return 1;
  if (s.args.size() > 1 && s.args[0] == "container" && s.args[1] == "run") return 2;
  return 0;
}

// Values given to a run option (-v x, --volume=x) of a container service.
std::vector<std::string> RunOptionValues(const config::Service& s,
                                         std::initializer_list<std::string_view> names) {
  std::vector<std::string> values;
  size_t start = RunArgsStart(s);
  if (start == 0) return values;
  for (size_t i = start; i < s.args.size(); ++i) {
    const std::string& a = s.args[i];
    if (a.rfind('-', 0) != 0) break;  // the image: options end
    for (std::string_view n : names) {
      if (a == n && i + 1 < s.args.size()) values.push_back(s.args[i + 1]);
      if (a.rfind(std::string(n) + "=", 0) == 0) values.push_back(a.substr(n.size() + 1));
    }
    if (TakesValue(a)) ++i;
  }
  return values;
}

// Why the service looks stateful, for the message; "" when it does not.
std::string StatefulEvidence(const config::Service& s) {
  std::string image = ContainerImage(s);
  if (!image.empty() && IsDatastore(ImageName(image))) return fmt::format("runs image {}", image);
  if (IsDatastore(Basename(s.command))) return fmt::format("runs {}", Basename(s.command));
  std::vector<std::string> volumes = RunOptionValues(s, {"-v", "--volume", "--mount"});
  if (!volumes.empty()) {
    return fmt::format("mounts volume {}", volumes[0].substr(0, volumes[0].find(':')));
  }
  for (const std::string& a : s.args) {
    for (std::string_view flag : {"--data-dir", "--datadir", "--data-path", "--dbpath", "--data",
                                  "--storage.tsdb.path", "--db-path", "-D"}) {
      if (a == flag || a.rfind(std::string(flag) + "=", 0) == 0) {
        return fmt::format("is given {}", flag);
      }
    }
  }
  for (const auto& [key, value] : s.env) {
    std::string k = Upper(key);
    if (k == "PGDATA" || EndsWith(k, "DATA_DIR") || EndsWith(k, "DATADIR") ||
        EndsWith(k, "DATA_PATH") || EndsWith(k, "DB_PATH") || EndsWith(k, "DATABASE_PATH") ||
        EndsWith(k, "STORAGE_PATH")) {
      return fmt::format("sets {}", key);
    }
    if (EndsWith(value, ".db") || EndsWith(value, ".sqlite") || EndsWith(value, ".sqlite3")) {
      return fmt::format("keeps a database file ({})", key);
    }
  }
  return "";
}

bool IsAnyAddress(std::string_view v) {
  return v.rfind("0.0.0.0", 0) == 0 || v == "::" || v.rfind("[::]", 0) == 0 || v == "*";
}

bool MentionsTls(const config::Service& s) {
  for (const auto& [key, value] : s.env) {
    std::string k = Upper(key);
    if (k.find("TLS_CERT") != std::string::npos || k.find("SSL_CERT") != std::string::npos ||
        k.find("CERT_FILE") != std::string::npos || k.find("TLS_KEY") != std::string::npos) {
      return true;
    }
  }
  for (const std::string& a : s.args) {
    for (std::string_view flag : {"--tls", "--cert", "--certfile", "--ssl", "--https"}) {
      if (a.rfind(flag, 0) == 0) return true;
    }
  }
  return false;
}

// Where a program is told to listen on every interface: "env HOST" or "--host"; "" if nowhere.
std::string PublicListen(const config::Service& s) {
  for (const auto& [key, value] : s.env) {
    std::string k = Upper(key);
    for (std::string_view name :
         {"HOST", "BIND", "BIND_ADDR", "BIND_ADDRESS", "LISTEN", "LISTEN_ADDR", "LISTEN_ADDRESS",
          "LISTEN_HOST", "SERVER_HOST", "HTTP_HOST", "ADDR"}) {
      if (k == name && IsAnyAddress(value)) return "env " + key;
    }
  }
  for (size_t i = 0; i < s.args.size(); ++i) {
    const std::string& a = s.args[i];
    for (std::string_view flag : {"--host", "--bind", "-b", "--listen", "--addr", "--address",
                                  "--listen-address", "--web.listen-address", "--http-addr"}) {
      std::string prefix = std::string(flag) + "=";
      if (a.rfind(prefix, 0) == 0 && IsAnyAddress(a.substr(prefix.size())))
        return std::string(flag);
      if (a == flag && i + 1 < s.args.size() && IsAnyAddress(s.args[i + 1]))
        return std::string(flag);
    }
  }
  return "";
}

// The stack file's own YAML, for what the model does not keep: env keys' lines and whether a
// value was written as ${VAR}.
class RawStack {
 public:
  explicit RawStack(const config::Stack& stack) : environment_(stack.environment) {
    std::error_code ec;
    if (stack.path.empty() || !std::filesystem::is_regular_file(stack.path, ec)) return;
    try {
      root_ = YAML::LoadFile(stack.path);
    } catch (const YAML::Exception&) {
      root_ = YAML::Node();  // the model came from this file, so this is unlikely; fall back
    }
  }

  struct Entry {
    int line = 0;
    std::string raw;  // the scalar as written
  };

  // services.<service>.<section>.<key>, the selected environment's override first.
  std::optional<Entry> Find(const std::string& service, std::string_view section,
                            const std::string& key) const {
    for (const YAML::Node& svc : ServiceNodes(service)) {
      YAML::Node map = Child(svc, section);
      if (!map.IsMap()) continue;
      for (auto it = map.begin(); it != map.end(); ++it) {
        if (!it->first.IsScalar() || it->first.Scalar() != key) continue;
        return Entry{it->first.Mark().line + 1, it->second.IsScalar() ? it->second.Scalar() : ""};
      }
    }
    return std::nullopt;
  }

  // The line of services.<service>.<key> (the environment's override first); 0 when unknown.
  int ServiceKeyLine(const std::string& service, std::string_view key) const {
    for (const YAML::Node& svc : ServiceNodes(service)) {
      int line = KeyLineIn(svc, key);
      if (line > 0) return line;
    }
    return 0;
  }

  int KeyLine(std::string_view key) const { return KeyLineIn(root_, key); }

 private:
  // The service's map in the selected environment's overrides, then in services:.
  std::vector<YAML::Node> ServiceNodes(const std::string& service) const {
    YAML::Node overrides =
        Child(Child(Child(Child(root_, "environments"), environment_), "services"), service);
    return {overrides, Child(Child(root_, "services"), service)};
  }

  static int KeyLineIn(const YAML::Node& map, std::string_view key) {
    if (!map.IsMap()) return 0;
    for (auto it = map.begin(); it != map.end(); ++it) {
      if (it->first.IsScalar() && it->first.Scalar() == key) return it->first.Mark().line + 1;
    }
    return 0;
  }

  static YAML::Node Child(const YAML::Node& map, std::string_view key) {
    if (!map.IsMap() || key.empty()) return YAML::Node(YAML::NodeType::Undefined);
    for (auto it = map.begin(); it != map.end(); ++it) {
      if (it->first.IsScalar() && it->first.Scalar() == key) return it->second;
    }
    return YAML::Node(YAML::NodeType::Undefined);
  }

  std::string environment_;
  YAML::Node root_;
};

class StackScan {
 public:
  StackScan(const config::Stack& stack, std::string path)
      : stack_(stack), path_(std::move(path)), raw_(stack) {}

  ScanResult Run() {
    for (const config::Service& s : stack_.services) {
      HealthCheck(s);
      Backup(s);
      Secrets(s);
      PublicBind(s);
      LatestImage(s);
    }
    Receivers();
    return std::move(out_);
  }

 private:
  void Add(std::string_view rule, int line, std::string message, std::string snippet,
           const std::string& key) {
    out_.findings.push_back(
        MakeConfigFinding(rule, path_, line, 0, std::move(message), std::move(snippet), key));
  }

  void HealthCheck(const config::Service& s) {
    if (s.health.kind != config::HealthCheckKind::kNone) return;
    Add("stack-no-health-check", s.location.line,
        fmt::format("service '{}' has no health check, so a replica that hangs is neither "
                    "restarted nor taken out of rotation; add health: {{http: /healthz}} (or "
                    "tcp:/exec:)",
                    s.name),
        fmt::format("services.{}: no health", s.name), "service " + s.name + " health");
  }

  void Backup(const config::Service& s) {
    if (s.backup.enabled) return;
    std::string evidence = StatefulEvidence(s);
    if (evidence.empty()) return;
    Add("stack-stateful-no-backup", s.location.line,
        fmt::format("service '{}' keeps data ({}) but declares no backup:; add backup: {{paths: "
                    "[…]}} (with a before: dump hook for a database) and a top-level backup: "
                    "repository",
                    s.name, evidence),
        fmt::format("services.{}: no backup", s.name), "service " + s.name + " backup");
  }

  void Secrets(const config::Service& s) {
    for (const auto& [key, value] : s.env) {
      if (!LooksLikeSecretName(key)) continue;
      std::optional<RawStack::Entry> raw = raw_.Find(s.name, "env", key);
      // Written as ${secret:NAME} or ${VAR}: not plaintext in the file.
      const std::string& written = raw ? raw->raw : value;
      if (written.empty() || written.find("${") != std::string::npos) continue;
      Add("stack-plaintext-secret", raw ? raw->line : s.location.line,
          fmt::format("service '{}': env {} holds a plaintext secret in the stack file; store it "
                      "with `steward secret set {}` and write \"${{secret:{}}}\"",
                      s.name, key, SecretNameFor(key), SecretNameFor(key)),
          fmt::format("{}: ***", key), "service " + s.name + " env " + key);
    }
  }

  static std::string SecretNameFor(const std::string& env_key) {
    std::string name;
    for (char c : env_key) name += static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    return name;
  }

  void PublicBind(const config::Service& s) {
    if (s.ingress.enabled && !IsLoopbackHost(s.ingress.bind)) {
      int line = raw_.ServiceKeyLine(s.name, "ingress");
      Add("stack-public-bind-no-tls", line > 0 ? line : s.location.line,
          fmt::format("service '{}': its ingress listens on {}:{} without TLS, so traffic "
                      "crosses the network in clear text; bind it to 127.0.0.1 behind a "
                      "TLS-terminating proxy",
                      s.name, s.ingress.bind, s.ingress.port),
          fmt::format("ingress: {{bind: {}, port: {}}}", s.ingress.bind, s.ingress.port),
          "service " + s.name + " ingress");
    }
    std::string where = PublicListen(s);
    if (where.empty() || MentionsTls(s)) return;
    std::optional<RawStack::Entry> raw;
    if (where.rfind("env ", 0) == 0) raw = raw_.Find(s.name, "env", where.substr(4));
    Add("stack-public-bind-no-tls", raw ? raw->line : s.location.line,
        fmt::format("service '{}' listens on every interface ({}) with no TLS configured; listen "
                    "on 127.0.0.1 and put an ingress or TLS proxy in front",
                    s.name, where),
        where + " = 0.0.0.0", "service " + s.name + " listen");
  }

  void LatestImage(const config::Service& s) {
    std::string image = ContainerImage(s);
    if (image.empty()) return;
    std::string reason = internal::UnpinnedImageReason(image);
    if (reason.empty()) return;
    Add("stack-latest-tag", s.location.line,
        fmt::format("service '{}': image '{}' {}; pin a version tag or digest so a restart runs "
                    "the image that was deployed",
                    s.name, image, reason),
        "image " + image, "service " + s.name + " image");
  }

  void Receivers() {
    if (stack_.services.empty() && stack_.monitors.empty()) return;
    for (const config::ReceiverConfig& r : stack_.alerting.receivers) {
      if (!r.webhook_configs.empty() || !r.alertmanager_configs.empty() ||
          !r.slack_configs.empty() || !r.pagerduty_configs.empty()) {
        return;
      }
    }
    Add("stack-no-alert-receiver", raw_.KeyLine("alerting"),
        "no alert receiver with a destination is configured, so alerts fire where nobody sees "
        "them; add "
        "alerting: {receivers: [{name: team, webhook_configs: [{url: …}]}], route: "
        "{receiver: team}}",
        "alerting.receivers empty", "alerting receivers");
  }

  const config::Stack& stack_;
  std::string path_;
  RawStack raw_;
  ScanResult out_;
};

}  // namespace

std::string ContainerImage(const config::Service& s) {
  size_t start = RunArgsStart(s);
  if (start == 0) return "";
  for (size_t i = start; i < s.args.size(); ++i) {
    const std::string& a = s.args[i];
    if (a.rfind('-', 0) != 0) return a;
    if (TakesValue(a)) ++i;
  }
  return "";
}

ScanResult ScanStack(const config::Stack& stack, const std::string& stack_path) {
  if (stack_path.empty()) {
    std::string name = std::filesystem::path(stack.path).filename().string();
    return StackScan(stack, name.empty() ? "steward.yaml" : name).Run();
  }
  return StackScan(stack, stack_path).Run();
}

}  // namespace steward::scan
