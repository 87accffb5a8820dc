#include "config/stack_json.h"

#include "base/hash.h"
#include "config/backup_parser.h"
#include "config/monitoring_rules.h"

#include <array>
#include <cstdio>
#include <limits>
#include <stdexcept>
#include <type_traits>

namespace steward::config {
namespace {

using nlohmann::json;

constexpr std::array<std::pair<HealthCheckKind, const char*>, 4> kKinds = {
    {{HealthCheckKind::kNone, "none"},
     {HealthCheckKind::kHttp, "http"},
     {HealthCheckKind::kTcp, "tcp"},
     {HealthCheckKind::kExec, "exec"}}};
constexpr std::array<std::pair<RestartPolicy, const char*>, 3> kPolicies = {
    {{RestartPolicy::kAlways, "always"},
     {RestartPolicy::kOnFailure, "on-failure"},
     {RestartPolicy::kNever, "never"}}};

template <typename E, size_t N>
const char* EnumName(const std::array<std::pair<E, const char*>, N>& table, E value) {
  for (const auto& [v, name] : table) {
    if (v == value) return name;
  }
  return table[0].second;
}

template <typename E, size_t N>
E EnumValue(const std::array<std::pair<E, const char*>, N>& table, const std::string& name,
            const char* what) {
  for (const auto& [v, n] : table) {
    if (name == n) return v;
  }
  // Caught below and turned into a Status; never leaves this file.
  throw std::invalid_argument(std::string("unknown ") + what + " '" + name + "'");
}

// Reads an optional key into `out`, keeping `out` as the default when the key is absent.
// Numbers are checked before conversion: converting an out-of-range float (1e300) to an
// integer is undefined behaviour, and these bodies come from outside (the daemon's API).
template <typename T>
T Integer(const json& v, const char* key) {
  if (!v.is_number_integer())
    throw std::invalid_argument(std::string("'") + key + "' must be an integer");
  if (v.is_number_unsigned() ? v.get<uint64_t>() > static_cast<uint64_t>(
                                                       std::numeric_limits<T>::max())
                             : (v.get<int64_t>() < std::numeric_limits<T>::min() ||
                                v.get<int64_t>() > std::numeric_limits<T>::max()))
    throw std::invalid_argument(std::string("'") + key + "' is out of range");
  return static_cast<T>(v.is_number_unsigned() ? static_cast<int64_t>(v.get<uint64_t>())
                                               : v.get<int64_t>());
}

template <typename T>
void Read(const json& j, const char* key, T* out) {
  auto it = j.find(key);
  if (it == j.end()) return;
  if constexpr (std::is_same_v<T, int> || std::is_same_v<T, int64_t>) {
    *out = Integer<T>(*it, key);
  } else if constexpr (std::is_same_v<T, std::vector<int>>) {
    if (!it->is_array()) throw std::invalid_argument(std::string("'") + key + "' must be a list");
    out->clear();
    for (const auto& v : *it) out->push_back(Integer<int>(v, key));
  } else if constexpr (std::is_same_v<T, double>) {
    if (!it->is_number()) throw std::invalid_argument(std::string("'") + key + "' must be a number");
    *out = it->template get<double>();
  } else {
    *out = it->template get<T>();
  }
}

void ReadMs(const json& j, const char* key, Duration* out) {
  if (auto it = j.find(key); it != j.end()) *out = Duration(Integer<int64_t>(*it, key));
}

const json& Object(const json& j, const char* key) {
  static const json kEmpty = json::object();
  auto it = j.find(key);
  if (it == j.end()) return kEmpty;
  if (!it->is_object()) throw std::invalid_argument(std::string("'") + key + "' is not an object");
  return *it;
}

const json& Array(const json& j, const char* key) {
  static const json kEmpty = json::array();
  auto it = j.find(key);
  if (it == j.end()) return kEmpty;
  if (!it->is_array()) throw std::invalid_argument(std::string("'") + key + "' is not an array");
  return *it;
}

json HealthToJson(const HealthCheck& h) {
  return json{{"kind", EnumName(kKinds, h.kind)},
              {"path", h.path},
              {"port", h.port},
              {"expect_status", h.expect_status},
              {"command", h.command},
              {"interval_ms", h.interval.count()},
              {"timeout_ms", h.timeout.count()},
              {"start_period_ms", h.start_period.count()},
              {"healthy_threshold", h.healthy_threshold},
              {"unhealthy_threshold", h.unhealthy_threshold}};
}

HealthCheck HealthFromJson(const json& j) {
  HealthCheck h;
  std::string kind = "none";
  Read(j, "kind", &kind);
  h.kind = EnumValue(kKinds, kind, "health kind");
  Read(j, "path", &h.path);
  Read(j, "port", &h.port);
  Read(j, "expect_status", &h.expect_status);
  Read(j, "command", &h.command);
  ReadMs(j, "interval_ms", &h.interval);
  ReadMs(j, "timeout_ms", &h.timeout);
  ReadMs(j, "start_period_ms", &h.start_period);
  Read(j, "healthy_threshold", &h.healthy_threshold);
  Read(j, "unhealthy_threshold", &h.unhealthy_threshold);
  return h;
}

json RestartToJson(const Restart& r) {
  return json{{"policy", EnumName(kPolicies, r.policy)},
              {"backoff_initial_ms", r.backoff_initial.count()},
              {"backoff_max_ms", r.backoff_max.count()},
              {"crash_loop_restarts", r.crash_loop_restarts},
              {"crash_loop_window_ms", r.crash_loop_window.count()}};
}

Restart RestartFromJson(const json& j) {
  Restart r;
  std::string policy = "always";
  Read(j, "policy", &policy);
  r.policy = EnumValue(kPolicies, policy, "restart policy");
  ReadMs(j, "backoff_initial_ms", &r.backoff_initial);
  ReadMs(j, "backoff_max_ms", &r.backoff_max);
  Read(j, "crash_loop_restarts", &r.crash_loop_restarts);
  ReadMs(j, "crash_loop_window_ms", &r.crash_loop_window);
  return r;
}

json LocationToJson(const SourceLocation& l) {
  return json{{"file", l.file}, {"line", l.line}, {"column", l.column}};
}

SourceLocation LocationFromJson(const json& j) {
  SourceLocation l;
  Read(j, "file", &l.file);
  Read(j, "line", &l.line);
  Read(j, "column", &l.column);
  return l;
}

json MetricsToJson(const MetricsEndpoint& m) {
  return json{{"enabled", m.enabled},
              {"path", m.path},
              {"port", m.port},
              {"interval_ms", m.interval.count()},
              {"timeout_ms", m.timeout.count()},
              {"labels", m.labels}};
}

MetricsEndpoint MetricsFromJson(const json& j) {
  MetricsEndpoint m;
  Read(j, "enabled", &m.enabled);
  Read(j, "path", &m.path);
  Read(j, "port", &m.port);
  ReadMs(j, "interval_ms", &m.interval);
  ReadMs(j, "timeout_ms", &m.timeout);
  Read(j, "labels", &m.labels);
  return m;
}

json IngressToJson(const Ingress& in) {
  return json{{"enabled", in.enabled},
              {"bind", in.bind},
              {"port", in.port},
              {"health_path", in.health_path}};
}

Ingress IngressFromJson(const json& j) {
  Ingress in;
  Read(j, "enabled", &in.enabled);
  Read(j, "bind", &in.bind);
  Read(j, "port", &in.port);
  Read(j, "health_path", &in.health_path);
  return in;
}

constexpr std::array<std::pair<DeployStrategy, const char*>, 3> kStrategies = {
    {{DeployStrategy::kRolling, "rolling"},
     {DeployStrategy::kBlueGreen, "blue-green"},
     {DeployStrategy::kCanary, "canary"}}};

json DeployToJson(const DeployConfig& d) {
  json steps = json::array(), checks = json::array();
  for (const auto& st : d.steps) steps.push_back({{"weight", st.weight}, {"pause_ms", st.pause.count()}});
  for (const auto& c : d.analysis.checks) {
    json cj{{"name", c.name}, {"query", c.query}, {"location", LocationToJson(c.location)}};
    if (c.has_max) cj["max"] = c.max;
    if (c.has_min) cj["min"] = c.min;
    checks.push_back(std::move(cj));
  }
  return json{{"strategy", EnumName(kStrategies, d.strategy)},
              {"max_surge", d.max_surge},
              {"max_unavailable", d.max_unavailable},
              {"steps", steps},
              {"verify_ms", d.verify.count()},
              {"keep_releases", d.keep_releases},
              {"location", LocationToJson(d.location)},
              {"analysis",
               {{"interval_ms", d.analysis.interval.count()},
                {"max_error_rate", d.analysis.max_error_rate},
                {"failure_limit", d.analysis.failure_limit},
                {"checks", checks}}}};
}

DeployConfig DeployFromJson(const json& j) {
  DeployConfig d;
  if (j.contains("strategy"))
    d.strategy = EnumValue(kStrategies, j["strategy"].get<std::string>(), "deploy strategy");
  Read(j, "max_surge", &d.max_surge);
  Read(j, "max_unavailable", &d.max_unavailable);
  for (const json& st : Array(j, "steps")) {
    CanaryStep step;
    Read(st, "weight", &step.weight);
    ReadMs(st, "pause_ms", &step.pause);
    d.steps.push_back(step);
  }
  ReadMs(j, "verify_ms", &d.verify);
  Read(j, "keep_releases", &d.keep_releases);
  d.location = LocationFromJson(Object(j, "location"));
  const json& a = Object(j, "analysis");
  ReadMs(a, "interval_ms", &d.analysis.interval);
  Read(a, "max_error_rate", &d.analysis.max_error_rate);
  Read(a, "failure_limit", &d.analysis.failure_limit);
  for (const json& cj : Array(a, "checks")) {
    AnalysisCheck c;
    Read(cj, "name", &c.name);
    Read(cj, "query", &c.query);
    c.has_max = cj.contains("max");
    c.has_min = cj.contains("min");
    Read(cj, "max", &c.max);
    Read(cj, "min", &c.min);
    c.location = LocationFromJson(Object(cj, "location"));
    d.analysis.checks.push_back(std::move(c));
  }
  return d;
}

json ScrapeConfigToJson(const ScrapeConfig& sc) {
  json groups = json::array();
  for (const StaticTargetGroup& g : sc.static_configs) {
    groups.push_back(json{{"targets", g.targets}, {"labels", g.labels}});
  }
  return json{{"job_name", sc.job_name},
              {"location", LocationToJson(sc.location)},
              {"interval_ms", sc.interval.count()},
              {"timeout_ms", sc.timeout.count()},
              {"metrics_path", sc.metrics_path},
              {"scheme", sc.scheme},
              {"honor_labels", sc.honor_labels},
              {"honor_timestamps", sc.honor_timestamps},
              {"params", sc.params},
              {"static_configs", std::move(groups)},
              {"file_sd_files", sc.file_sd_files},
              {"file_sd_refresh_ms", sc.file_sd_refresh.count()}};
}

ScrapeConfig ScrapeConfigFromJson(const json& j) {
  if (!j.is_object()) throw std::invalid_argument("a scrape config must be a JSON object");
  ScrapeConfig sc;
  Read(j, "job_name", &sc.job_name);
  sc.location = LocationFromJson(Object(j, "location"));
  ReadMs(j, "interval_ms", &sc.interval);
  ReadMs(j, "timeout_ms", &sc.timeout);
  Read(j, "metrics_path", &sc.metrics_path);
  Read(j, "scheme", &sc.scheme);
  Read(j, "honor_labels", &sc.honor_labels);
  Read(j, "honor_timestamps", &sc.honor_timestamps);
  Read(j, "params", &sc.params);
  for (const json& g : Array(j, "static_configs")) {
    if (!g.is_object()) throw std::invalid_argument("a static_configs item must be an object");
    StaticTargetGroup group;
    Read(g, "targets", &group.targets);
    Read(g, "labels", &group.labels);
    sc.static_configs.push_back(std::move(group));
  }
  Read(j, "file_sd_files", &sc.file_sd_files);
  ReadMs(j, "file_sd_refresh_ms", &sc.file_sd_refresh);
  return sc;
}

json MonitorToJson(const Monitor& m) {
  return json{{"name", m.name},
              {"location", LocationToJson(m.location)},
              {"kind", internal::ProbeKindName(m.kind)},
              {"interval_ms", m.interval.count()},
              {"timeout_ms", m.timeout.count()},
              {"labels", m.labels},
              {"url", m.url},
              {"method", m.method},
              {"headers", m.headers},
              {"body", m.body},
              {"expect_status", m.expect_status},
              {"body_regex", m.body_regex},
              {"max_latency_ms", m.max_latency.count()},
              {"follow_redirects", m.follow_redirects},
              {"insecure_skip_verify", m.insecure_skip_verify},
              {"target", m.target},
              {"server_name", m.server_name},
              {"ca_file", m.ca_file},
              {"min_days_valid", m.min_days_valid},
              {"command", m.command}};
}

Monitor MonitorFromJson(const json& j) {
  if (!j.is_object()) throw std::invalid_argument("a monitor must be a JSON object");
  Monitor m;
  Read(j, "name", &m.name);
  m.location = LocationFromJson(Object(j, "location"));
  std::string kind = "http";
  Read(j, "kind", &kind);
  if (!internal::ProbeKindFromName(kind, &m.kind))
    throw std::invalid_argument("unknown monitor kind '" + kind + "'");
  ReadMs(j, "interval_ms", &m.interval);
  ReadMs(j, "timeout_ms", &m.timeout);
  Read(j, "labels", &m.labels);
  Read(j, "url", &m.url);
  Read(j, "method", &m.method);
  Read(j, "headers", &m.headers);
  Read(j, "body", &m.body);
  Read(j, "expect_status", &m.expect_status);
  Read(j, "body_regex", &m.body_regex);
  ReadMs(j, "max_latency_ms", &m.max_latency);
  Read(j, "follow_redirects", &m.follow_redirects);
  Read(j, "insecure_skip_verify", &m.insecure_skip_verify);
  Read(j, "target", &m.target);
  Read(j, "server_name", &m.server_name);
  Read(j, "ca_file", &m.ca_file);
  Read(j, "min_days_valid", &m.min_days_valid);
  Read(j, "command", &m.command);
  return m;
}

json MonitoringToJson(const Monitoring& m) {
  return json{{"scrape_interval_ms", m.scrape_interval.count()},
              {"scrape_timeout_ms", m.scrape_timeout.count()},
              {"retention_ms", m.retention.count()},
              {"retention_bytes", m.retention_bytes},
              {"self_scrape", m.self_scrape}};
}

Monitoring MonitoringFromJson(const json& j) {
  Monitoring m;
  ReadMs(j, "scrape_interval_ms", &m.scrape_interval);
  ReadMs(j, "scrape_timeout_ms", &m.scrape_timeout);
  ReadMs(j, "retention_ms", &m.retention);
  Read(j, "retention_bytes", &m.retention_bytes);
  Read(j, "self_scrape", &m.self_scrape);
  return m;
}

json SecretFilesToJson(const std::vector<SecretFile>& files) {
  json out = json::array();
  for (const SecretFile& f : files)
    out.push_back({{"secret", f.secret},
                   {"path", f.path},
                   {"mode", f.mode},
                   {"location", LocationToJson(f.location)}});
  return out;
}

std::vector<SecretFile> SecretFilesFromJson(const json& j) {
  std::vector<SecretFile> out;
  for (const json& fj : j) {
    if (!fj.is_object()) throw std::invalid_argument("a secret_files entry must be an object");
    SecretFile f;
    Read(fj, "secret", &f.secret);
    Read(fj, "path", &f.path);
    Read(fj, "mode", &f.mode);
    f.location = LocationFromJson(Object(fj, "location"));
    out.push_back(std::move(f));
  }
  return out;
}

// A secret's version by name; versions only, never values.
std::map<std::string, int64_t> SecretVersionsFromJson(const json& j) {
  std::map<std::string, int64_t> out;
  for (const auto& [name, v] : j.items()) out[name] = Integer<int64_t>(v, "secret_versions");
  return out;
}

Service ServiceFromJsonOrThrow(const json& j) {
  if (!j.is_object()) throw std::invalid_argument("a service must be a JSON object");
  Service s;
  Read(j, "name", &s.name);
  s.location = LocationFromJson(Object(j, "location"));
  Read(j, "command", &s.command);
  Read(j, "args", &s.args);
  Read(j, "env", &s.env);
  Read(j, "working_dir", &s.working_dir);
  Read(j, "replicas", &s.replicas);
  Read(j, "ports", &s.ports);
  s.health = HealthFromJson(Object(j, "health"));
  s.restart = RestartFromJson(Object(j, "restart"));
  Read(j, "stop_signal", &s.stop_signal);
  ReadMs(j, "stop_grace_ms", &s.stop_grace);
  Read(j, "depends_on", &s.depends_on);
  const json& res = Object(j, "resources");
  Read(res, "cpu", &s.resources.cpu);
  Read(res, "memory_bytes", &s.resources.memory_bytes);
  s.metrics = MetricsFromJson(Object(j, "metrics"));
  s.ingress = IngressFromJson(Object(j, "ingress"));
  s.deploy = DeployFromJson(Object(j, "deploy"));
  if (j.contains("backup")) s.backup = internal::ServiceBackupFromJson(j["backup"]);
  s.secret_files = SecretFilesFromJson(Array(j, "secret_files"));
  s.secret_versions = SecretVersionsFromJson(Object(j, "secret_versions"));
  return s;
}

// nlohmann reports wrong types by throwing; keep that inside this room.
template <typename F>
auto Guard(const char* what, F&& f) -> StatusOr<decltype(f())> {
  try {
    return f();
  } catch (const std::exception& e) {
    return InvalidArgument(std::string("bad ") + what + " JSON: " + e.what());
  }
}

}  // namespace

json ServiceToJson(const Service& s) {
  json j{
      {"name", s.name},
      {"location", LocationToJson(s.location)},
      {"command", s.command},
      {"args", s.args},
      {"env", s.env},
      {"working_dir", s.working_dir},
      {"replicas", s.replicas},
      {"ports", s.ports},
      {"health", HealthToJson(s.health)},
      {"restart", RestartToJson(s.restart)},
      {"stop_signal", s.stop_signal},
      {"stop_grace_ms", s.stop_grace.count()},
      {"depends_on", s.depends_on},
      {"resources", {{"cpu", s.resources.cpu}, {"memory_bytes", s.resources.memory_bytes}}},
      {"metrics", MetricsToJson(s.metrics)},
      {"ingress", IngressToJson(s.ingress)},
      {"deploy", DeployToJson(s.deploy)},
      {"backup", internal::ServiceBackupToJson(s.backup)}};
  // Only when used, so the records of services without secrets keep their exact shape.
  if (!s.secret_files.empty()) j["secret_files"] = SecretFilesToJson(s.secret_files);
  if (!s.secret_versions.empty()) j["secret_versions"] = s.secret_versions;
  return j;
}

StatusOr<Service> ServiceFromJson(const json& j) {
  return Guard("service", [&] { return ServiceFromJsonOrThrow(j); });
}

json StackToJson(const Stack& stack) {
  json environments = json::array();
  for (const Environment& e : stack.environments) {
    environments.push_back(json{{"name", e.name}, {"vars", e.vars}});
  }
  json services = json::array();
  for (const Service& s : stack.services) services.push_back(ServiceToJson(s));
  json scrape_configs = json::array();
  for (const ScrapeConfig& sc : stack.scrape_configs) {
    scrape_configs.push_back(ScrapeConfigToJson(sc));
  }
  json monitors = json::array();
  for (const Monitor& m : stack.monitors) monitors.push_back(MonitorToJson(m));
  return json{{"path", stack.path},
              {"dir", stack.dir},
              {"project", stack.project},
              {"environment", stack.environment},
              {"environments", std::move(environments)},
              {"services", std::move(services)},
              {"scrape_configs", std::move(scrape_configs)},
              {"monitors", std::move(monitors)},
              {"monitoring", MonitoringToJson(stack.monitoring)},
              {"rule_files", stack.rule_files},
              {"alerting", internal::AlertingToJson(stack.alerting)},
              {"slos", internal::SlosToJson(stack.slos)},
              {"runbooks", RunbooksToJson(stack.runbooks)},
              {"backup", internal::BackupSettingsToJson(stack.backup)}};
}

StatusOr<Stack> StackFromJson(const json& j) {
  return Guard("stack", [&] {
    if (!j.is_object()) throw std::invalid_argument("a stack must be a JSON object");
    Stack stack;
    Read(j, "path", &stack.path);
    Read(j, "dir", &stack.dir);
    Read(j, "project", &stack.project);
    Read(j, "environment", &stack.environment);
    for (const json& e : Array(j, "environments")) {
      Environment env;
      Read(e, "name", &env.name);
      Read(e, "vars", &env.vars);
      stack.environments.push_back(std::move(env));
    }
    for (const json& s : Array(j, "services")) {
      stack.services.push_back(ServiceFromJsonOrThrow(s));
    }
    for (const json& sc : Array(j, "scrape_configs")) {
      stack.scrape_configs.push_back(ScrapeConfigFromJson(sc));
    }
    for (const json& m : Array(j, "monitors")) stack.monitors.push_back(MonitorFromJson(m));
    stack.monitoring = MonitoringFromJson(Object(j, "monitoring"));
    Read(j, "rule_files", &stack.rule_files);
    if (j.contains("alerting")) stack.alerting = internal::AlertingFromJson(j["alerting"]);
    if (j.contains("slos")) stack.slos = internal::SlosFromJson(j["slos"]);
    auto runbooks = RunbooksFromJson(Array(j, "runbooks"));
    if (!runbooks.ok()) throw std::invalid_argument(runbooks.status().message());
    stack.runbooks = *std::move(runbooks);
    if (j.contains("backup")) stack.backup = internal::BackupSettingsFromJson(j["backup"]);
    return stack;
  });
}

std::string ReplaceHash(const Service& s) {
  // nlohmann objects keep keys sorted, so dump() is canonical.
  json fields{
      {"command", s.command},
      {"args", s.args},
      {"env", s.env},
      {"working_dir", s.working_dir},
      {"ports", s.ports},
      {"resources", {{"cpu", s.resources.cpu}, {"memory_bytes", s.resources.memory_bytes}}}};
  // Only when used, so that the hash of a service without secrets is what it always was (an
  // upgrade replaces nothing). The versions make a rotation a replace.
  if (!s.secret_files.empty()) {
    json files = json::array();
    for (const SecretFile& f : s.secret_files)
      files.push_back({{"secret", f.secret}, {"path", f.path}, {"mode", f.mode}});
    fields["secret_files"] = files;
  }
  if (!s.secret_versions.empty()) fields["secret_versions"] = s.secret_versions;
  // Replacing invalid UTF-8 keeps dump() from throwing; the parser rejects such files anyway.
  return Fnv1a64Hex(fields.dump(-1, ' ', false, json::error_handler_t::replace));
}

}  // namespace steward::config
