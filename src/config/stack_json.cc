#include "config/stack_json.h"

#include "base/hash.h"

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
  return json{
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
      {"resources", {{"cpu", s.resources.cpu}, {"memory_bytes", s.resources.memory_bytes}}}};
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
  return json{{"path", stack.path},
              {"dir", stack.dir},
              {"project", stack.project},
              {"environment", stack.environment},
              {"environments", std::move(environments)},
              {"services", std::move(services)}};
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
  // Replacing invalid UTF-8 keeps dump() from throwing; the parser rejects such files anyway.
  return Fnv1a64Hex(fields.dump(-1, ' ', false, json::error_handler_t::replace));
}

}  // namespace steward::config
