// The checks the YAML reader makes on the monitoring model while reading, repeated for stacks
// that arrive as JSON (the daemon's API), where only the object's location is known.
#include <fmt/format.h>

#include <set>

#include "config/monitoring_rules.h"
#include "config/parse_context.h"
#include "config/stack_parser.h"

namespace steward::config::internal {
namespace {

class ModelChecker {
 public:
  ModelChecker(ParseContext& ctx, const Stack& stack) : ctx_(ctx), stack_(stack) {}

  void Run() {
    Monitoring();
    for (const Service& s : stack_.services) ServiceMetrics(s);
    std::set<std::string> jobs;
    for (const ScrapeConfig& sc : stack_.scrape_configs) {
      Scrape(sc);
      if (!jobs.insert(sc.job_name).second) {
        ctx_.Error(sc.location, fmt::format("job_name '{}' is used twice", sc.job_name));
      }
    }
    std::set<std::string> names;
    for (const Monitor& m : stack_.monitors) {
      Probe(m);
      if (!names.insert(m.name).second) {
        ctx_.Error(m.location, fmt::format("monitor '{}' is defined twice", m.name));
      }
    }
  }

 private:
  void Err(const SourceLocation& at, const std::string& who, const std::string& what) {
    ctx_.Error(at, who.empty() ? what : who + ": " + what);
  }

  void Labels(const SourceLocation& at, const std::string& who,
              const std::map<std::string, std::string>& labels,
              std::span<const std::string_view> reserved) {
    for (const auto& [name, value] : labels) {
      if (std::string why = CheckLabelName(name, reserved); !why.empty()) {
        Err(at, who, fmt::format("label '{}' {}", name, why));
      } else if (value.empty()) {
        Err(at, who, fmt::format("label '{}' is empty", name));
      }
    }
  }

  void Monitoring() {
    const config::Monitoring& m = stack_.monitoring;
    SourceLocation at{stack_.path, 0, 0};
    if (m.scrape_interval.count() <= 0 || m.scrape_timeout.count() <= 0) {
      Err(at, "monitoring", "'scrape_interval' and 'scrape_timeout' must be longer than 0");
    } else if (m.scrape_timeout > m.scrape_interval) {
      Err(at, "monitoring", "'scrape_timeout' must not exceed 'scrape_interval'");
    }
    if (m.retention.count() < 0 || m.retention_bytes < 0) {
      Err(at, "monitoring", "'retention' and 'retention_size' must not be negative");
    }
  }

  void ServiceMetrics(const Service& s) {
    const MetricsEndpoint& m = s.metrics;
    std::string who = fmt::format("service '{}'", s.name);
    if (std::string why = CheckMetricsPath(m.path); !why.empty()) {
      Err(s.location, who, "metrics path " + why);
    }
    if (m.port < 0 || m.port > 65535) Err(s.location, who, "'metrics.port' is out of range");
    if (m.interval.count() < 0 || m.timeout.count() < 0) {
      Err(s.location, who, "metrics durations must not be negative");
    }
    Duration interval = m.interval.count() > 0 ? m.interval : stack_.monitoring.scrape_interval;
    if (m.enabled && m.timeout > interval) {
      Err(s.location, who, "'metrics.timeout' must not exceed the scrape interval");
    }
    if (m.enabled && IsReservedJob(s.name)) {
      Err(s.location, who, "declares metrics, but its job name is reserved");
    }
    Labels(s.location, who, m.labels, kServiceTargetLabels);
  }

  void Scrape(const ScrapeConfig& sc) {
    std::string who = fmt::format("scrape config '{}'", sc.job_name);
    const SourceLocation& at = sc.location;
    const Service* service = stack_.FindService(sc.job_name);
    if (sc.job_name.empty()) Err(at, "", "a scrape config has an empty 'job_name'");
    if (IsReservedJob(sc.job_name)) Err(at, who, "the job name is reserved");
    if (service != nullptr && service->metrics.enabled) {
      Err(at, who, "the job name is already the job of a service that declares metrics");
    }
    if (sc.interval.count() < 0 || sc.timeout.count() < 0 || sc.file_sd_refresh.count() <= 0) {
      Err(at, who, "durations out of range");
    }
    Duration interval = sc.interval.count() > 0 ? sc.interval : stack_.monitoring.scrape_interval;
    if (sc.timeout > interval) Err(at, who, "'scrape_timeout' must not exceed the interval");
    if (std::string why = CheckMetricsPath(sc.metrics_path); !why.empty()) {
      Err(at, who, "'metrics_path' " + why);
    }
    if (sc.scheme != "http" && sc.scheme != "https") Err(at, who, "'scheme' must be http or https");
    if (sc.static_configs.empty() && sc.file_sd_files.empty()) Err(at, who, "has no targets");
    for (const StaticTargetGroup& g : sc.static_configs) {
      for (const std::string& t : g.targets) {
        if (std::string why = CheckHostPort(t); !why.empty()) {
          Err(at, who, fmt::format("target '{}' {}", t, why));
        }
      }
      Labels(at, who, g.labels, {});
    }
    for (const std::string& f : sc.file_sd_files) {
      std::string why = CheckFileSdPath(f);
      if (why.empty() && !f.starts_with('/')) why = "must be an absolute path";
      if (!why.empty()) Err(at, who, fmt::format("file '{}' {}", f, why));
    }
  }

  void Probe(const Monitor& m) {
    std::string who = fmt::format("monitor '{}'", m.name);
    const SourceLocation& at = m.location;
    if (!IsValidName(m.name)) Err(at, who, "the name must match [a-z0-9][a-z0-9-]*");
    if (m.interval.count() <= 0 || m.timeout.count() <= 0 || m.max_latency.count() < 0) {
      Err(at, who, "durations out of range");
    } else if (m.timeout > m.interval) {
      Err(at, who, "'timeout' must not exceed 'interval'");
    }
    Labels(at, who, m.labels, kMonitorLabels);
    switch (m.kind) {
      case ProbeKind::kHttp:
        return Http(m, who);
      case ProbeKind::kTcp:
      case ProbeKind::kTls:
        if (std::string why = CheckHostPort(m.target); !why.empty()) {
          Err(at, who, "'target' " + why);
        }
        if (m.min_days_valid < 0 || m.min_days_valid > 3650) {
          Err(at, who, "'min_days_valid' must be between 0 and 3650");
        }
        return;
      case ProbeKind::kExec:
        if (m.command.empty() || m.command[0].empty()) Err(at, who, "'command' is empty");
        return;
    }
  }

  void Http(const Monitor& m, const std::string& who) {
    const SourceLocation& at = m.location;
    if (std::string why = CheckUrl(m.url); !why.empty()) Err(at, who, "'url' " + why);
    if (!IsHttpMethod(m.method)) Err(at, who, fmt::format("method '{}' is not valid", m.method));
    for (const auto& [name, value] : m.headers) {
      if (std::string why = CheckHeader(name, value); !why.empty()) Err(at, who, why);
    }
    for (int code : m.expect_status) {
      if (code < 100 || code > 599) Err(at, who, "'expect_status' must be between 100 and 599");
    }
    if (std::string why = CheckRegex(m.body_regex); !why.empty()) {
      Err(at, who, "'body_regex' " + why);
    }
  }

  ParseContext& ctx_;
  const Stack& stack_;
};

}  // namespace

void CheckMonitoringModel(ParseContext& ctx, const Stack& stack) { ModelChecker(ctx, stack).Run(); }

}  // namespace steward::config::internal
