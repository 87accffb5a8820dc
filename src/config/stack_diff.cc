// ReplaceReasons / UpdateReasons: what changed between two specs of a service, in words.
#include <fmt/format.h>

#include <set>

#include "config/stack_json.h"
#include "config/stack_parser.h"

namespace steward::config {
namespace {

std::string Quote(const std::string& s) {
  return nlohmann::json(s).dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

template <typename T>
std::string List(const std::vector<T>& items, bool quote) {
  std::string out = "[";
  for (size_t i = 0; i < items.size(); ++i) {
    if (i > 0) out += ", ";
    if constexpr (std::is_same_v<T, std::string>) {
      out += quote ? Quote(items[i]) : items[i];
    } else {
      out += std::to_string(items[i]);
    }
  }
  return out + "]";
}

std::string Cores(double cpu) { return cpu == 0 ? "unset" : fmt::format("{}", cpu); }
std::string Memory(int64_t bytes) { return bytes == 0 ? "unset" : FormatSize(bytes); }

const char* KindName(HealthCheckKind k) {
  switch (k) {
    case HealthCheckKind::kHttp:
      return "http";
    case HealthCheckKind::kTcp:
      return "tcp";
    case HealthCheckKind::kExec:
      return "exec";
    default:
      return "none";
  }
}

const char* PolicyName(RestartPolicy p) {
  switch (p) {
    case RestartPolicy::kOnFailure:
      return "on-failure";
    case RestartPolicy::kNever:
      return "never";
    default:
      return "always";
  }
}

class Differ {
 public:
  template <typename T, typename F>
  void Field(const char* name, const T& a, const T& b, F&& show) {
    if (a != b) out_.push_back(fmt::format("{}: {} → {}", name, show(a), show(b)));
  }
  void Dur(const char* name, Duration a, Duration b) {
    Field(name, a, b, [](Duration d) { return FormatDuration(d); });
  }
  void Int(const char* name, int a, int b) {
    Field(name, a, b, [](int v) { return std::to_string(v); });
  }
  // Keys only: env values may hold secrets.
  void Env(const std::map<std::string, std::string>& a,
           const std::map<std::string, std::string>& b) {
    std::set<std::string> keys;
    for (const auto& [k, v] : a) keys.insert(k);
    for (const auto& [k, v] : b) keys.insert(k);
    for (const std::string& k : keys) {
      auto ia = a.find(k);
      auto ib = b.find(k);
      if (ia == a.end())
        out_.push_back(fmt::format("env.{} added", k));
      else if (ib == b.end())
        out_.push_back(fmt::format("env.{} removed", k));
      else if (ia->second != ib->second)
        out_.push_back(fmt::format("env.{} changed", k));
    }
  }
  // Names and versions only. A secret newly used or no longer used shows as the env or
  // secret_files change that caused it.
  void SecretVersions(const std::map<std::string, int64_t>& a,
                      const std::map<std::string, int64_t>& b) {
    for (const auto& [name, version] : b) {
      auto it = a.find(name);
      if (it != a.end() && it->second != version)
        out_.push_back(fmt::format("secret {} rotated (v{} → v{})", name, it->second, version));
    }
  }
  std::vector<std::string> Take() { return std::move(out_); }

 private:
  std::vector<std::string> out_;
};

auto kQuoted = [](const std::string& s) { return Quote(s); };
auto kQuotedList = [](const std::vector<std::string>& v) { return List(v, true); };
auto kPlainList = [](const std::vector<std::string>& v) { return List(v, false); };
auto kPorts = [](const std::vector<int>& v) { return List(v, false); };

std::string SecretFiles(const std::vector<SecretFile>& files) {
  std::string out = "[";
  for (const SecretFile& f : files)
    out += fmt::format("{}{} → {} ({:04o})", out.size() > 1 ? ", " : "", f.secret, Quote(f.path),
                       f.mode);
  return out + "]";
}

void DiffHealth(Differ& d, const HealthCheck& a, const HealthCheck& b) {
  d.Field("health.kind", a.kind, b.kind, KindName);
  d.Field("health.path", a.path, b.path, kQuoted);
  d.Int("health.port", a.port, b.port);
  d.Int("health.status", a.expect_status, b.expect_status);
  d.Field("health.exec", a.command, b.command, kQuotedList);
  d.Dur("health.interval", a.interval, b.interval);
  d.Dur("health.timeout", a.timeout, b.timeout);
  d.Dur("health.start_period", a.start_period, b.start_period);
  d.Int("health.healthy_threshold", a.healthy_threshold, b.healthy_threshold);
  d.Int("health.unhealthy_threshold", a.unhealthy_threshold, b.unhealthy_threshold);
}

std::string Labels(const std::map<std::string, std::string>& labels) {
  std::string out = "{";
  for (const auto& [k, v] : labels) out += (out.size() > 1 ? ", " : "") + k + "=" + Quote(v);
  return out + "}";
}

// Only the scraper reads these; a change is recorded and shown, and restarts nothing.
void DiffMetrics(Differ& d, const MetricsEndpoint& a, const MetricsEndpoint& b) {
  auto on_off = [](bool on) { return on ? "on" : "off"; };
  d.Field("metrics", a.enabled, b.enabled, on_off);
  if (!a.enabled || !b.enabled) return;
  auto default_or = [](Duration v) { return v.count() == 0 ? "default" : FormatDuration(v); };
  d.Field("metrics.path", a.path, b.path, kQuoted);
  d.Field("metrics.port", a.port, b.port,
          [](int p) { return p == 0 ? "PORT" : std::to_string(p); });
  d.Field("metrics.interval", a.interval, b.interval, default_or);
  d.Field("metrics.timeout", a.timeout, b.timeout, default_or);
  d.Field("metrics.labels", a.labels, b.labels, Labels);
}

}  // namespace

std::vector<std::string> ReplaceReasons(const Service& a, const Service& b) {
  Differ d;
  d.Field("command", a.command, b.command, kQuoted);
  d.Field("args", a.args, b.args, kQuotedList);
  d.Env(a.env, b.env);
  d.Field("working_dir", a.working_dir, b.working_dir, kQuoted);
  d.Field("ports", a.ports, b.ports, kPorts);
  d.Field("resources.cpu", a.resources.cpu, b.resources.cpu, Cores);
  d.Field("resources.memory", a.resources.memory_bytes, b.resources.memory_bytes, Memory);
  d.Field("secret_files", a.secret_files, b.secret_files, SecretFiles);
  d.SecretVersions(a.secret_versions, b.secret_versions);
  return d.Take();
}

std::vector<std::string> UpdateReasons(const Service& a, const Service& b) {
  Differ d;
  d.Int("replicas", a.replicas, b.replicas);
  DiffHealth(d, a.health, b.health);
  d.Field("restart.policy", a.restart.policy, b.restart.policy, PolicyName);
  d.Dur("restart.backoff", a.restart.backoff_initial, b.restart.backoff_initial);
  d.Dur("restart.max_backoff", a.restart.backoff_max, b.restart.backoff_max);
  d.Int("restart.crash_loop.restarts", a.restart.crash_loop_restarts,
        b.restart.crash_loop_restarts);
  d.Dur("restart.crash_loop.window", a.restart.crash_loop_window, b.restart.crash_loop_window);
  d.Field("stop_signal", a.stop_signal, b.stop_signal, SignalName);
  d.Dur("stop_grace", a.stop_grace, b.stop_grace);
  d.Field("depends_on", a.depends_on, b.depends_on, kPlainList);
  DiffMetrics(d, a.metrics, b.metrics);
  // Read by the ingress and the deploy controller only, so applied in place like metrics; the
  // JSON says whether anything in them changed (locations excepted, as everywhere).
  auto settings = [](const Service& s, const char* key) {
    nlohmann::json j = ServiceToJson(s)[key];
    j.erase("location");
    if (j.contains("analysis"))
      for (auto& c : j["analysis"]["checks"]) c.erase("location");
    return j.dump();
  };
  auto ingress = [](const Ingress& in) {
    return in.enabled ? in.bind + ":" + std::to_string(in.port) : std::string("off");
  };
  std::string ia = settings(a, "ingress"), ib = settings(b, "ingress");
  if (ia != ib) {
    std::string sa = ingress(a.ingress), sb = ingress(b.ingress);
    d.Field("ingress", sa, sb == sa ? sb + " (health_path)" : sb, kQuoted);
  }
  std::string da = settings(a, "deploy"), db = settings(b, "deploy");
  if (da != db) d.Field("deploy", std::string("settings"), std::string("new settings"), kQuoted);
  return d.Take();
}

}  // namespace steward::config
