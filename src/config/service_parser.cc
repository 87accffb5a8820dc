// Reads one service's settings from YAML into config::Service, reporting every problem.
#include <fmt/format.h>

#include <cctype>
#include <cstdlib>

#include "config/backup_parser.h"
#include "config/deploy_parser.h"
#include "config/monitoring_rules.h"
#include "config/parse_context.h"
#include "config/secret_refs.h"

namespace steward::config::internal {
namespace {

constexpr std::string_view kServiceKeyList[] = {
    "command", "args",    "env",         "working_dir", "replicas",   "port",      "ports",
    "health",  "restart", "stop_signal", "stop_grace",  "depends_on", "resources", "metrics",
    "ingress", "deploy",  "backup",      "secret_files"};
constexpr std::string_view kSecretFileKeys[] = {"secret", "path", "mode"};
constexpr std::string_view kHealthKeys[] = {"http",
                                            "tcp",
                                            "exec",
                                            "interval",
                                            "timeout",
                                            "start_period",
                                            "healthy_threshold",
                                            "unhealthy_threshold"};
constexpr std::string_view kHttpKeys[] = {"path", "port", "status"};
constexpr std::string_view kTcpKeys[] = {"port"};
constexpr std::string_view kRestartKeys[] = {"policy", "backoff", "max_backoff", "crash_loop"};
constexpr std::string_view kCrashLoopKeys[] = {"restarts", "window"};
constexpr std::string_view kResourceKeys[] = {"cpu", "memory"};
constexpr std::string_view kMetricsKeys[] = {"path", "port", "interval", "timeout", "labels"};
constexpr int64_t kMaxReplicas = 1000;

bool IsEnvName(std::string_view name) {
  if (name.empty() || std::isdigit(static_cast<unsigned char>(name[0]))) return false;
  for (char c : name) {
    if (!std::isalnum(static_cast<unsigned char>(c)) && c != '_') return false;
  }
  return true;
}

// "0.5" cores or "500m" millicores.
std::optional<double> ParseCpu(const std::string& text) {
  std::string number = text.ends_with('m') ? text.substr(0, text.size() - 1) : text;
  if (number.empty() || number.find_first_not_of("0123456789.") != std::string::npos ||
      number.size() > 15) {
    return std::nullopt;
  }
  char* end = nullptr;
  double v = std::strtod(number.c_str(), &end);
  if (*end != '\0') return std::nullopt;
  return text.ends_with('m') ? v / 1000 : v;
}

class ServiceReader {
 public:
  ServiceReader(ParseContext& ctx, Service* service, ServiceMarks* marks, std::string stack_dir)
      : ctx_(ctx),
        s_(*service),
        marks_(*marks),
        dir_(std::move(stack_dir)),
        who_(fmt::format("service '{}'", service->name)) {}

  void Read(YamlNode value) {
    std::string where = fmt::format("in {}", who_);
    bool has_command = false;
    for (const Entry& e : ctx_.Entries(value, kServiceKeyList, where)) {
      has_command = has_command || e.key == "command";
      ReadKey(e);
    }
    if (!has_command) {
      ctx_.Error(s_.location,
                 fmt::format("{} has no 'command'; add e.g. command: ./bin/{}", who_, s_.name));
    }
    command_argv_.insert(command_argv_.end(), s_.args.begin(), s_.args.end());
    s_.args = std::move(command_argv_);
    s_.working_dir = ResolvePath(dir_, s_.working_dir.empty() ? "." : s_.working_dir);
  }

 private:
  void ReadKey(const Entry& e) {
    const std::string& k = e.key;
    if (k == "command") return Command(e);
    if (k == "args") return Assign(ctx_.StringList(e, who_), &s_.args);
    if (k == "env") return Env(e);
    if (k == "working_dir") return WorkingDir(e);
    if (k == "replicas") return AssignInt(ctx_.Int(e, who_, 0, kMaxReplicas), &s_.replicas);
    if (k == "port" || k == "ports") return Ports(e);
    if (k == "health") return Health(e);
    if (k == "restart") return Restart(e);
    if (k == "stop_signal") return StopSignal(e);
    if (k == "stop_grace") return Assign(ctx_.Dur(e, who_), &s_.stop_grace);
    if (k == "depends_on") return DependsOn(e);
    if (k == "resources") return Resources(e);
    if (k == "metrics") return Metrics(e);
    if (k == "ingress") return ParseIngress(ctx_, e, who_, &s_);
    if (k == "deploy") return ParseDeploy(ctx_, e, who_, &s_);
    if (k == "backup") return ParseServiceBackup(ctx_, e, who_, dir_, &s_);
    if (k == "secret_files") return SecretFiles(e);
  }

  template <typename T>
  static void Assign(std::optional<T> v, T* out) {
    if (v) *out = std::move(*v);
  }
  static void AssignInt(std::optional<int64_t> v, int* out) {
    if (v) *out = static_cast<int>(*v);
  }

  void Command(const Entry& e) {
    if (e.value.IsSequence()) {
      std::optional<std::vector<std::string>> argv = ctx_.StringList(e, who_);
      if (argv && argv->empty()) {
        ctx_.Error(ctx_.Loc(e), fmt::format("{}: 'command' is an empty list; give at least the "
                                            "program, e.g. command: [./bin/{}]",
                                            who_, s_.name));
      } else if (argv) {
        s_.command = (*argv)[0];
        command_argv_.assign(argv->begin() + 1, argv->end());
      }
      return;
    }
    std::optional<std::string> program = ctx_.String(e, who_);
    if (program && program->empty()) {
      ctx_.Error(ctx_.Loc(e),
                 fmt::format("{}: 'command' is empty; add e.g. command: ./bin/{}", who_, s_.name));
    } else if (program) {
      s_.command = *program;
    }
  }

  void Env(const Entry& e) {
    if (!ctx_.ExpectMap(e, who_)) return;
    for (const Entry& var : ctx_.Entries(e.value, {}, "in env of " + who_, "env.")) {
      if (!IsEnvName(var.key)) {
        ctx_.Error(ctx_.Loc(var.key_node),
                   fmt::format("{}: env name '{}' is not valid; use letters, digits and '_', "
                               "not starting with a digit, e.g. LOG_LEVEL",
                               who_, var.key));
        continue;
      }
      if (var.value.IsNull()) {
        s_.env[var.key] = "";
        continue;
      }
      if (!var.value.IsScalar()) {
        ctx_.Error(ctx_.Loc(var), fmt::format("{}: env value '{}' must be a string, number or "
                                              "boolean, got {}",
                                              who_, var.key, ParseContext::Describe(var.value)));
        continue;
      }
      if (std::optional<std::string> v = ctx_.SecretTemplateString(var, who_)) s_.env[var.key] = *v;
    }
  }

  void WorkingDir(const Entry& e) {
    std::optional<std::string> dir = ctx_.String(e, who_);
    if (dir && dir->empty()) {
      ctx_.Error(ctx_.Loc(e), fmt::format("{}: 'working_dir' is empty; use '.' for the stack "
                                          "file's directory",
                                          who_));
    } else if (dir) {
      s_.working_dir = *dir;
    }
  }

  void Ports(const Entry& e) {
    if (ports_seen_) {
      ctx_.Error(ctx_.Loc(e.key_node),
                 fmt::format("{}: use either 'port' or 'ports', not both", who_));
      return;
    }
    ports_seen_ = true;
    if (e.key == "port") return AddPort(e);
    if (!e.value.IsSequence()) {
      ctx_.Error(ctx_.Loc(e),
                 fmt::format("{} must be a list, e.g. [8080], got {}",
                             ParseContext::Subject(who_, e.path), ParseContext::Describe(e.value)));
      return;
    }
    for (YamlNode item : e.value.Items()) AddPort(Entry{e.key, "ports item", e.key_node, item});
  }

  void AddPort(const Entry& e) {
    if (std::optional<int64_t> port = ctx_.Int(e, who_, 1, 65535)) {
      s_.ports.push_back(static_cast<int>(*port));
      marks_.ports.push_back(ctx_.Loc(e));
    }
  }

  void SecretFiles(const Entry& e);
  std::optional<SecretFile> SecretFileItem(YamlNode item, const std::string& path);

  void Health(const Entry& e);
  void HealthKind(const Entry& e);
  void Restart(const Entry& e);
  void StopSignal(const Entry& e);
  void DependsOn(const Entry& e);
  void Resources(const Entry& e);
  void Metrics(const Entry& e);
  void MetricsKey(const Entry& f);

  ParseContext& ctx_;
  Service& s_;
  ServiceMarks& marks_;
  std::string dir_;
  std::string who_;
  std::vector<std::string> command_argv_;  // argv[1..] of a list command, before args
  bool ports_seen_ = false;
  std::string health_kind_key_;  // the first of http/tcp/exec seen
};

void ServiceReader::Health(const Entry& e) {
  if (!ctx_.ExpectMap(e, who_)) return;
  std::string where = fmt::format("in health of {}", who_);
  std::optional<SourceLocation> timeout_at;
  for (const Entry& h : ctx_.Entries(e.value, kHealthKeys, where, "health.")) {
    const std::string& k = h.key;
    if (k == "http" || k == "tcp" || k == "exec") {
      HealthKind(h);
    } else if (k == "interval") {
      Assign(ctx_.Dur(h, who_), &s_.health.interval);
    } else if (k == "timeout") {
      Assign(ctx_.Dur(h, who_), &s_.health.timeout);
      timeout_at = ctx_.Loc(h);
    } else if (k == "start_period") {
      Assign(ctx_.Dur(h, who_), &s_.health.start_period);
    } else if (k == "healthy_threshold") {
      AssignInt(ctx_.Int(h, who_, 1, 1000), &s_.health.healthy_threshold);
    } else if (k == "unhealthy_threshold") {
      AssignInt(ctx_.Int(h, who_, 1, 1000), &s_.health.unhealthy_threshold);
    }
  }
  if (health_kind_key_.empty()) {
    ctx_.Error(ctx_.Loc(e.key_node), fmt::format("{}: 'health' needs one of http, tcp or exec, "
                                                 "e.g. health: {{http: /healthz}}",
                                                 who_));
  }
  if (s_.health.interval.count() <= 0 || s_.health.timeout.count() <= 0) {
    ctx_.Error(ctx_.Loc(e.key_node), fmt::format("{}: health 'interval' and 'timeout' must be "
                                                 "longer than 0, e.g. interval: 2s",
                                                 who_));
  } else if (s_.health.timeout > s_.health.interval) {
    ctx_.Error(
        timeout_at.value_or(ctx_.Loc(e.key_node)),
        fmt::format("{}: health 'timeout' ({}) must not exceed 'interval' ({}); a check "
                    "must finish before the next one starts",
                    who_, FormatDuration(s_.health.timeout), FormatDuration(s_.health.interval)));
  }
}

void ServiceReader::HealthKind(const Entry& h) {
  if (h.key == "tcp" && h.value.IsScalar()) {
    std::optional<bool> on = ctx_.Bool(h, who_);
    if (!on || !*on) return;  // "tcp: false" declares no check
  }
  if (!health_kind_key_.empty()) {
    ctx_.Error(ctx_.Loc(h.key_node),
               fmt::format("{}: health has both '{}' and '{}'; keep exactly one of http, tcp, exec",
                           who_, health_kind_key_, h.key));
    return;
  }
  health_kind_key_ = h.key;
  HealthCheck& hc = s_.health;
  if (h.key == "exec") {
    hc.kind = HealthCheckKind::kExec;
    if (h.value.IsScalar()) {
      if (auto script = ctx_.String(h, who_)) hc.command = {"/bin/sh", "-c", *script};
    } else {
      Assign(ctx_.StringList(h, who_), &hc.command);
    }
    return;
  }
  hc.kind = h.key == "http" ? HealthCheckKind::kHttp : HealthCheckKind::kTcp;
  if (h.key == "http" && h.value.IsScalar()) {
    Assign(ctx_.String(h, who_), &hc.path);
  } else if (h.key == "tcp" && h.value.IsScalar()) {
    // "tcp: true": connect to the replica's port.
  } else if (ctx_.ExpectMap(h, who_)) {
    auto keys = h.key == "http" ? std::span<const std::string_view>(kHttpKeys)
                                : std::span<const std::string_view>(kTcpKeys);
    std::string where = fmt::format("in health.{} of {}", h.key, who_);
    for (const Entry& f : ctx_.Entries(h.value, keys, where, h.path + ".")) {
      if (f.key == "path") Assign(ctx_.String(f, who_), &hc.path);
      if (f.key == "port") AssignInt(ctx_.Int(f, who_, 1, 65535), &hc.port);
      if (f.key == "status") AssignInt(ctx_.Int(f, who_, 100, 599), &hc.expect_status);
    }
  }
  if (hc.kind == HealthCheckKind::kHttp && !hc.path.starts_with('/')) {
    ctx_.Error(ctx_.Loc(h), fmt::format("{}: health http path '{}' must start with '/', e.g. "
                                        "/healthz",
                                        who_, hc.path));
  }
}

std::optional<RestartPolicy> ParsePolicy(const std::string& text) {
  if (text == "always") return RestartPolicy::kAlways;
  if (text == "on-failure") return RestartPolicy::kOnFailure;
  if (text == "never") return RestartPolicy::kNever;
  return std::nullopt;
}

void ServiceReader::Restart(const Entry& e) {
  auto policy = [&](const Entry& p) {
    std::optional<std::string> text = ctx_.String(p, who_);
    if (!text) return;
    if (std::optional<RestartPolicy> rp = ParsePolicy(*text)) {
      s_.restart.policy = *rp;
    } else {
      ctx_.Error(ctx_.Loc(p), fmt::format("{} must be one of always, on-failure, never, got '{}'",
                                          ParseContext::Subject(who_, p.path), *text));
    }
  };
  if (e.value.IsScalar()) return policy(e);
  if (!ctx_.ExpectMap(e, who_)) return;
  auto& r = s_.restart;
  std::string where = fmt::format("in restart of {}", who_);
  for (const Entry& f : ctx_.Entries(e.value, kRestartKeys, where, "restart.")) {
    if (f.key == "policy") policy(f);
    if (f.key == "backoff") Assign(ctx_.Dur(f, who_), &r.backoff_initial);
    if (f.key == "max_backoff") Assign(ctx_.Dur(f, who_), &r.backoff_max);
    if (f.key != "crash_loop" || !ctx_.ExpectMap(f, who_)) continue;
    where = fmt::format("in restart.crash_loop of {}", who_);
    for (const Entry& c : ctx_.Entries(f.value, kCrashLoopKeys, where, "restart.crash_loop.")) {
      if (c.key == "restarts") AssignInt(ctx_.Int(c, who_, 1, 1000), &r.crash_loop_restarts);
      if (c.key == "window") Assign(ctx_.Dur(c, who_), &r.crash_loop_window);
    }
  }
  if (r.backoff_initial > r.backoff_max) {
    ctx_.Error(ctx_.Loc(e.key_node),
               fmt::format("{}: restart 'backoff' ({}) must not exceed 'max_backoff' ({})", who_,
                           FormatDuration(r.backoff_initial), FormatDuration(r.backoff_max)));
  }
}

void ServiceReader::StopSignal(const Entry& e) {
  std::optional<std::string> name = ctx_.String(e, who_);
  if (!name) return;
  if (std::optional<int> sig = ParseSignal(*name)) {
    s_.stop_signal = *sig;
    return;
  }
  ctx_.Error(ctx_.Loc(e), fmt::format("{}: 'stop_signal' must be one of SIGTERM, SIGINT, SIGQUIT, "
                                      "SIGHUP, SIGKILL, SIGUSR1, SIGUSR2, got '{}'",
                                      who_, *name));
}

void ServiceReader::DependsOn(const Entry& e) {
  if (!e.value.IsSequence()) {
    ctx_.Error(ctx_.Loc(e),
               fmt::format("{} must be a list of service names, e.g. [db], got {}",
                           ParseContext::Subject(who_, e.path), ParseContext::Describe(e.value)));
    return;
  }
  for (YamlNode item : e.value.Items()) {
    if (std::optional<std::string> dep = ctx_.ItemString(item, e, who_)) {
      s_.depends_on.push_back(*dep);
      marks_.depends_on.push_back(ctx_.Loc(item));
    }
  }
}

void ServiceReader::Resources(const Entry& e) {
  if (!ctx_.ExpectMap(e, who_)) return;
  std::string where = fmt::format("in resources of {}", who_);
  for (const Entry& f : ctx_.Entries(e.value, kResourceKeys, where, "resources.")) {
    if (f.key == "memory") {
      Assign(ctx_.Size(f, who_), &s_.resources.memory_bytes);
      continue;
    }
    std::optional<std::string> text = ctx_.String(f, who_);
    if (!text) continue;
    std::optional<double> cpu = ParseCpu(*text);
    if (!cpu) {
      ctx_.Error(ctx_.Loc(f), fmt::format("{}: 'resources.cpu' must be a number of cores or "
                                          "millicores, e.g. 0.5 or 500m, got '{}'",
                                          who_, *text));
      continue;
    }
    s_.resources.cpu = *cpu;
  }
}

// metrics: /path | true | false | {path, port, interval, timeout, labels}
void ServiceReader::Metrics(const Entry& e) {
  MetricsEndpoint& m = s_.metrics;
  marks_.metrics = ctx_.Loc(e.key_node);
  if (e.value.IsMap()) {
    m.enabled = true;
    std::string where = fmt::format("in metrics of {}", who_);
    for (const Entry& f : ctx_.Entries(e.value, kMetricsKeys, where, "metrics.")) MetricsKey(f);
    return;
  }
  std::optional<std::string> text;
  if (e.value.IsScalar()) text = ctx_.String(e, who_);
  if (e.value.IsScalar() && !text) return;  // reported (unset variable)
  if (text && (*text == "true" || *text == "false")) {
    m.enabled = *text == "true";
    return;
  }
  if (text && text->starts_with('/')) {
    m.enabled = true;
    m.path = *text;
    if (std::string why = CheckMetricsPath(*text); !why.empty()) {
      ctx_.Error(ctx_.Loc(e), fmt::format("{}: metrics path '{}' {}", who_, *text, why));
    }
    return;
  }
  std::string got = text ? fmt::format("'{}'", *text) : ParseContext::Describe(e.value);
  ctx_.Error(ctx_.Loc(e), fmt::format("{}: 'metrics' must be a path such as /metrics, true, false "
                                      "or a map {{path, port, interval, timeout, labels}}, got {}",
                                      who_, got));
}

void ServiceReader::SecretFiles(const Entry& e) {
  if (!e.value.IsSequence()) {
    ctx_.Error(ctx_.Loc(e), fmt::format("{}: 'secret_files' must be a list, e.g. [{{secret: "
                                        "tls_key, path: ./run/tls.key}}], got {}",
                                        who_, ParseContext::Describe(e.value)));
    return;
  }
  int i = 0;
  for (YamlNode item : e.value.Items()) {
    std::string path = fmt::format("secret_files[{}]", i++);
    std::optional<SecretFile> f = SecretFileItem(item, path);
    if (!f) continue;
    for (const SecretFile& other : s_.secret_files) {
      if (other.path != f->path) continue;
      ctx_.Error(f->location, fmt::format("{}: {}: path '{}' is already written by another "
                                          "entry; give each secret file its own path",
                                          who_, path, f->path));
      f.reset();
      break;
    }
    if (f) s_.secret_files.push_back(std::move(*f));
  }
}

std::optional<SecretFile> ServiceReader::SecretFileItem(YamlNode item, const std::string& path) {
  SecretFile f;
  f.location = ctx_.Loc(item);
  if (!item.IsMap()) {
    ctx_.Error(f.location, fmt::format("{}: '{}' must be a map {{secret, path, mode}}, got {}",
                                       who_, path, ParseContext::Describe(item)));
    return std::nullopt;
  }
  bool ok = true;
  std::string where = fmt::format("in {} of {}", path, who_);
  for (const Entry& k : ctx_.Entries(item, kSecretFileKeys, where, path + ".")) {
    if (k.key == "secret") {
      // The bare NAME; a ${secret:NAME} written here means the same.
      std::optional<std::string> t = ctx_.SecretTemplateString(k, who_);
      if (!t) {
        ok = false;
        continue;
      }
      std::vector<std::string> refs = TemplateSecrets(*t);
      std::string name = refs.size() == 1 && *t == "${secret:" + refs[0] + "}" ? refs[0] : *t;
      if (TemplateSecrets("${secret:" + name + "}") != std::vector<std::string>{name}) {
        ctx_.Error(ctx_.Loc(k), fmt::format("{}: '{}' must be a secret name (letters, digits, "
                                            "'_', '.', '-'), e.g. tls_key, got '{}'",
                                            who_, k.path, *t));
        ok = false;
        continue;
      }
      f.secret = name;
    } else if (k.key == "path") {
      std::optional<std::string> p = ctx_.String(k, who_);
      if (p && p->empty()) {
        ctx_.Error(ctx_.Loc(k), fmt::format("{}: '{}' is empty; give the file to write, e.g. "
                                            "./run/tls.key",
                                            who_, k.path));
        p.reset();
      }
      if (!p) ok = false;
      if (p) f.path = ResolvePath(dir_, *p);
    } else if (k.key == "mode") {
      std::optional<std::string> m = ctx_.String(k, who_);
      int mode = -1;
      if (m && m->size() >= 3 && m->size() <= 4 &&
          m->find_first_not_of("01234567") == std::string::npos) {
        mode = static_cast<int>(std::strtol(m->c_str(), nullptr, 8));
      }
      if (m && (mode < 0 || (mode & 0400) == 0)) {
        ctx_.Error(ctx_.Loc(k), fmt::format("{}: '{}' must be an octal file mode that lets the "
                                            "owner read, e.g. \"0400\" or \"0640\", got '{}'",
                                            who_, k.path, *m));
        mode = -1;
      }
      if (mode < 0) ok = false;
      else f.mode = mode;
    }
  }
  for (std::string_view required : {"secret", "path"}) {
    if (!(required == "secret" ? f.secret : f.path).empty() || !ok) continue;
    ctx_.Error(f.location, fmt::format("{}: '{}' has no '{}'; write e.g. {{secret: tls_key, "
                                       "path: ./run/tls.key}}",
                                       who_, path, required));
    ok = false;
  }
  if (!ok) return std::nullopt;
  return f;
}

void ServiceReader::MetricsKey(const Entry& f) {
  MetricsEndpoint& m = s_.metrics;
  if (f.key == "path") {
    std::optional<std::string> path = ctx_.String(f, who_);
    if (!path) return;
    if (std::string why = CheckMetricsPath(*path); !why.empty()) {
      ctx_.Error(ctx_.Loc(f), fmt::format("{}: metrics path '{}' {}", who_, *path, why));
      return;
    }
    m.path = *path;
  } else if (f.key == "port") {
    AssignInt(ctx_.Int(f, who_, 1, 65535), &m.port);
  } else if (f.key == "interval" || f.key == "timeout") {
    std::optional<Duration> d = ctx_.Dur(f, who_);
    if (d && d->count() <= 0) {
      ctx_.Error(ctx_.Loc(f),
                 fmt::format("{}: '{}' must be longer than 0, e.g. 15s", who_, f.path));
      return;
    }
    Assign(d, f.key == "interval" ? &m.interval : &m.timeout);
    if (d && f.key == "timeout") marks_.metrics_timeout = ctx_.Loc(f);
  } else if (f.key == "labels") {
    ReadLabels(ctx_, f, who_, kServiceTargetLabels, &m.labels);
  }
}

}  // namespace

std::span<const std::string_view> ServiceKeys() { return kServiceKeyList; }

Service ParseService(ParseContext& ctx, YamlNode key, YamlNode value, const std::string& stack_dir,
                     ServiceMarks* marks) {
  Service s;
  s.name = std::string(key.Scalar());
  s.location = ctx.Loc(key);
  if (!value.IsMap()) {
    SourceLocation at = value.IsNull() ? s.location : ctx.Loc(value);
    ctx.Error(at, fmt::format("service '{}' must be a map of settings, e.g. {}: {{command: "
                              "./bin/{}}}, got {}",
                              s.name, s.name, s.name, ParseContext::Describe(value)));
    return s;
  }
  ServiceReader(ctx, &s, marks, stack_dir).Read(value);
  return s;
}

}  // namespace steward::config::internal
