// Reads the top-level monitoring keys of a stack file: `monitoring:` (the embedded Prometheus'
// defaults and storage), `scrape_configs:` (Prometheus' shape, a subset) and, through
// monitor_parser.cc, `monitors:`. Also the checks that tie them to the services: job names and
// the metrics timeouts that fall back on monitoring's defaults.
#include <fmt/format.h>

#include <algorithm>
#include <set>

#include "config/monitoring_rules.h"
#include "config/parse_context.h"
#include "config/stack_parser.h"

namespace steward::config::internal {
namespace {

constexpr std::string_view kMonitoringKeys[] = {"scrape_interval", "scrape_timeout", "retention",
                                                "retention_size", "self_scrape"};
constexpr std::string_view kScrapeKeys[] = {
    "job_name",     "scrape_interval",  "scrape_timeout", "metrics_path",   "scheme",
    "honor_labels", "honor_timestamps", "params",         "static_configs", "file_sd_configs"};
// Prometheus scrape_config keys Steward does not implement: an error, never silently ignored.
constexpr std::string_view kUnsupportedScrapeKeys[] = {"relabel_configs",
                                                       "metric_relabel_configs",
                                                       "basic_auth",
                                                       "authorization",
                                                       "oauth2",
                                                       "bearer_token",
                                                       "bearer_token_file",
                                                       "tls_config",
                                                       "proxy_url",
                                                       "no_proxy",
                                                       "proxy_from_environment",
                                                       "proxy_connect_header",
                                                       "follow_redirects",
                                                       "enable_http2",
                                                       "http_headers",
                                                       "sample_limit",
                                                       "label_limit",
                                                       "label_name_length_limit",
                                                       "label_value_length_limit",
                                                       "target_limit",
                                                       "body_size_limit",
                                                       "keep_dropped_targets",
                                                       "scrape_protocols",
                                                       "scrape_classic_histograms",
                                                       "native_histogram_bucket_limit",
                                                       "native_histogram_min_bucket_factor",
                                                       "track_timestamps_staleness",
                                                       "enable_compression",
                                                       "scrape_failure_log_file",
                                                       "metric_name_validation_scheme",
                                                       "metric_name_escaping_scheme"};
constexpr std::string_view kStaticConfigKeys[] = {"targets", "labels"};
constexpr std::string_view kFileSdKeys[] = {"files", "refresh_interval"};

const Entry* FindEntry(const std::vector<Entry>& entries, std::string_view key) {
  for (const Entry& e : entries) {
    if (e.key == key) return &e;
  }
  return nullptr;
}

template <typename T>
void Assign(std::optional<T> v, T* out) {
  if (v) *out = std::move(*v);
}

// A duration that must be longer than zero.
std::optional<Duration> Positive(ParseContext& ctx, const Entry& e, std::string_view who) {
  std::optional<Duration> d = ctx.Dur(e, who);
  if (d && d->count() <= 0) {
    ctx.Error(ctx.Loc(e), fmt::format("{} must be longer than 0, e.g. 15s",
                                      ParseContext::Subject(who, e.path)));
    return std::nullopt;
  }
  return d;
}

// An item of a list read as an Entry, so the typed readers can report it at its own place.
Entry Item(const Entry& list, YamlNode item) {
  return Entry{list.key, list.path + " item", list.key_node, item};
}

void ReadMonitoring(ParseContext& ctx, const Entry& e, Monitoring* m) {
  if (!ctx.ExpectMap(e, "")) return;
  std::optional<SourceLocation> timeout_at;
  for (const Entry& f : ctx.Entries(e.value, kMonitoringKeys, "in monitoring", "monitoring.")) {
    if (f.key == "scrape_interval") Assign(Positive(ctx, f, ""), &m->scrape_interval);
    if (f.key == "retention") Assign(ctx.Dur(f, ""), &m->retention);
    if (f.key == "retention_size") Assign(ctx.Size(f, ""), &m->retention_bytes);
    if (f.key == "self_scrape") Assign(ctx.Bool(f, ""), &m->self_scrape);
    if (f.key == "scrape_timeout") {
      std::optional<Duration> d = Positive(ctx, f, "");
      Assign(d, &m->scrape_timeout);
      if (d) timeout_at = ctx.Loc(f);
    }
  }
  if (!timeout_at) {
    // As Prometheus: an unwritten timeout shrinks to a short interval.
    m->scrape_timeout = std::min(m->scrape_timeout, m->scrape_interval);
  } else if (m->scrape_timeout > m->scrape_interval) {
    ctx.Error(*timeout_at,
              fmt::format("'monitoring.scrape_timeout' ({}) must not exceed "
                          "'monitoring.scrape_interval' ({})",
                          FormatDuration(m->scrape_timeout), FormatDuration(m->scrape_interval)));
  }
}

class ScrapeConfigReader {
 public:
  ScrapeConfigReader(ParseContext& ctx, const Stack& stack, ScrapeConfig* sc)
      : ctx_(ctx), stack_(stack), sc_(*sc) {}

  void Read(YamlNode item, size_t index) {
    who_ = fmt::format("scrape_configs item {}", index + 1);
    std::vector<Entry> entries = ctx_.Entries(item, {}, "in " + who_);
    if (const Entry* job = FindEntry(entries, "job_name")) {
      JobName(*job);
    } else {
      ctx_.Error(sc_.location, fmt::format("{} has no 'job_name'; add e.g. job_name: node", who_));
    }
    for (const Entry& e : entries) {
      if (e.key != "job_name") ReadKey(e);
    }
    CheckTimeout();
    if (!has_targets_) {
      ctx_.Error(sc_.location, fmt::format("{} has no targets; add static_configs or "
                                           "file_sd_configs",
                                           who_));
    }
  }

 private:
  void JobName(const Entry& e) {
    std::optional<std::string> job = ctx_.String(e, who_);
    if (!job) return;
    sc_.job_name = *job;
    who_ = fmt::format("scrape config '{}'", *job);
    sc_.location = ctx_.Loc(e);
    const Service* service = stack_.FindService(*job);
    if (job->empty()) {
      ctx_.Error(ctx_.Loc(e), "'job_name' is empty; give the job a name, e.g. job_name: node");
    } else if (IsReservedJob(*job)) {
      ctx_.Error(ctx_.Loc(e), fmt::format("job_name '{}' is reserved for Steward's own series "
                                          "('steward': its /metrics, 'monitor': probes); choose "
                                          "another name",
                                          *job));
    } else if (service != nullptr && service->metrics.enabled) {
      ctx_.Error(ctx_.Loc(e), fmt::format("job_name '{}' is already the job of service '{}', "
                                          "which declares metrics; choose another name",
                                          *job, *job));
    }
  }

  void ReadKey(const Entry& e) {
    const std::string& k = e.key;
    if (k == "scrape_interval") return Assign(Positive(ctx_, e, who_), &sc_.interval);
    if (k == "scrape_timeout") {
      std::optional<Duration> d = Positive(ctx_, e, who_);
      Assign(d, &sc_.timeout);
      if (d) timeout_at_ = ctx_.Loc(e);
      return;
    }
    if (k == "metrics_path") return MetricsPath(e);
    if (k == "scheme") return Scheme(e);
    if (k == "honor_labels") return Assign(ctx_.Bool(e, who_), &sc_.honor_labels);
    if (k == "honor_timestamps") return Assign(ctx_.Bool(e, who_), &sc_.honor_timestamps);
    if (k == "params") return Params(e);
    if (k == "static_configs") return StaticConfigs(e);
    if (k == "file_sd_configs") return FileSdConfigs(e);
    Unknown(e);
  }

  void Unknown(const Entry& e) {
    bool unsupported =
        std::find(std::begin(kUnsupportedScrapeKeys), std::end(kUnsupportedScrapeKeys), e.key) !=
        std::end(kUnsupportedScrapeKeys);
    if (unsupported || e.key.ends_with("_sd_configs")) {
      std::string instead = e.key.ends_with("_sd_configs")
                                ? "; list the targets under static_configs or file_sd_configs"
                                : "; remove it";
      ctx_.Error(ctx_.Loc(e.key_node),
                 fmt::format("{}: '{}' is not supported yet{}", who_, e.key, instead));
      return;
    }
    std::string hint = Suggest(e.key, kScrapeKeys);
    ctx_.Error(ctx_.Loc(e.key_node),
               fmt::format("unknown key '{}' in {}{}", e.key, who_,
                           hint.empty() ? "" : fmt::format("; did you mean '{}'?", hint)));
  }

  void MetricsPath(const Entry& e) {
    std::optional<std::string> path = ctx_.String(e, who_);
    if (!path) return;
    if (std::string why = CheckMetricsPath(*path); !why.empty()) {
      ctx_.Error(ctx_.Loc(e), fmt::format("{}: 'metrics_path' {}", who_, why));
      return;
    }
    sc_.metrics_path = *path;
  }

  void Scheme(const Entry& e) {
    std::optional<std::string> scheme = ctx_.String(e, who_);
    if (!scheme) return;
    if (*scheme != "http" && *scheme != "https") {
      ctx_.Error(ctx_.Loc(e),
                 fmt::format("{}: 'scheme' must be http or https, got '{}'", who_, *scheme));
      return;
    }
    sc_.scheme = *scheme;
  }

  // Prometheus' form is name: [value, ...]; one value per name is supported (a scalar too).
  void Params(const Entry& e) {
    if (!ctx_.ExpectMap(e, who_)) return;
    std::string where = fmt::format("in params of {}", who_);
    for (const Entry& p : ctx_.Entries(e.value, {}, where, "params.")) {
      if (p.value.IsScalar()) {
        Assign(ctx_.String(p, who_), &sc_.params[p.key]);
        continue;
      }
      if (!p.value.IsSequence() || p.value.Items().size() != 1) {
        std::string got = p.value.IsSequence() ? fmt::format("{} values", p.value.Items().size())
                                               : ParseContext::Describe(p.value);
        ctx_.Error(ctx_.Loc(p), fmt::format("{}: '{}' must be a list of exactly one value, e.g. "
                                            "[{}], got {}; Steward sends one value per parameter",
                                            who_, p.path, "cpu", got));
        continue;
      }
      Assign(ctx_.ItemString(p.value.Items()[0], p, who_), &sc_.params[p.key]);
    }
  }

  void StaticConfigs(const Entry& e) {
    has_targets_ = true;  // a malformed list is reported as such, not as "no targets"
    if (!e.value.IsSequence()) {
      ctx_.Error(ctx_.Loc(e), fmt::format("{}: 'static_configs' must be a list, e.g. [{{targets: "
                                          "[localhost:9100]}}], got {}",
                                          who_, ParseContext::Describe(e.value)));
      return;
    }
    std::string where = fmt::format("in static_configs of {}", who_);
    for (YamlNode item : e.value.Items()) {
      Entry group = Item(e, item);
      if (!ctx_.ExpectMap(group, who_)) continue;
      StaticTargetGroup g;
      for (const Entry& f : ctx_.Entries(item, kStaticConfigKeys, where, "static_configs.")) {
        if (f.key == "targets") Targets(f, &g.targets);
        if (f.key == "labels") ReadLabels(ctx_, f, who_, {}, &g.labels);
      }
      sc_.static_configs.push_back(std::move(g));
    }
  }

  void Targets(const Entry& e, std::vector<std::string>* out) {
    if (!e.value.IsSequence()) {
      ctx_.Error(ctx_.Loc(e), fmt::format("{}: 'targets' must be a list of host:port, e.g. "
                                          "[localhost:9100], got {}",
                                          who_, ParseContext::Describe(e.value)));
      return;
    }
    for (YamlNode item : e.value.Items()) {
      std::optional<std::string> target = ctx_.ItemString(item, e, who_);
      if (!target) continue;
      if (std::string why = CheckHostPort(*target); !why.empty()) {
        ctx_.Error(ctx_.Loc(item), fmt::format("{}: target '{}' {}", who_, *target, why));
        continue;
      }
      out->push_back(*target);
    }
  }

  void FileSdConfigs(const Entry& e) {
    has_targets_ = true;
    if (!e.value.IsSequence()) {
      ctx_.Error(ctx_.Loc(e), fmt::format("{}: 'file_sd_configs' must be a list, e.g. [{{files: "
                                          "[targets/*.json]}}], got {}",
                                          who_, ParseContext::Describe(e.value)));
      return;
    }
    std::string where = fmt::format("in file_sd_configs of {}", who_);
    bool refresh_seen = false;
    for (YamlNode item : e.value.Items()) {
      Entry group = Item(e, item);
      if (!ctx_.ExpectMap(group, who_)) continue;
      std::vector<Entry> fields = ctx_.Entries(item, kFileSdKeys, where, "file_sd_configs.");
      if (FindEntry(fields, "files") == nullptr) {
        ctx_.Error(ctx_.Loc(item), fmt::format("{}: a file_sd_configs item has no 'files'; add "
                                               "e.g. files: [targets/*.json]",
                                               who_));
      }
      for (const Entry& f : fields) {
        if (f.key == "files") Files(f);
        if (f.key != "refresh_interval") continue;
        std::optional<Duration> d = Positive(ctx_, f, who_);
        // One refresh for the job: the shortest asked for.
        if (d) sc_.file_sd_refresh = refresh_seen ? std::min(sc_.file_sd_refresh, *d) : *d;
        refresh_seen = refresh_seen || d.has_value();
      }
    }
  }

  void Files(const Entry& e) {
    if (!e.value.IsSequence() || e.value.Items().empty()) {
      std::string got = e.value.IsSequence() ? "an empty list" : ParseContext::Describe(e.value);
      ctx_.Error(ctx_.Loc(e), fmt::format("{}: 'files' must be a non-empty list of paths, e.g. "
                                          "[targets/*.json], got {}",
                                          who_, got));
      return;
    }
    for (YamlNode item : e.value.Items()) {
      std::optional<std::string> path = ctx_.ItemString(item, e, who_);
      if (!path) continue;
      if (std::string why = CheckFileSdPath(*path); !why.empty()) {
        ctx_.Error(ctx_.Loc(item), fmt::format("{}: file '{}' {}", who_, *path, why));
        continue;
      }
      sc_.file_sd_files.push_back(ResolvePath(stack_.dir, *path));
    }
  }

  void CheckTimeout() {
    if (!timeout_at_) return;
    bool own = sc_.interval.count() > 0;
    Duration interval = own ? sc_.interval : stack_.monitoring.scrape_interval;
    if (sc_.timeout <= interval) return;
    ctx_.Error(*timeout_at_, fmt::format("{}: 'scrape_timeout' ({}) must not exceed {} ({})", who_,
                                         FormatDuration(sc_.timeout),
                                         own ? "'scrape_interval'" : "'monitoring.scrape_interval'",
                                         FormatDuration(interval)));
  }

  ParseContext& ctx_;
  const Stack& stack_;
  ScrapeConfig& sc_;
  std::string who_;
  std::optional<SourceLocation> timeout_at_;
  bool has_targets_ = false;
};

void ReadScrapeConfigs(ParseContext& ctx, const Entry& e, Stack* stack) {
  if (!e.value.IsSequence()) {
    ctx.Error(ctx.Loc(e), fmt::format("'scrape_configs' must be a list of jobs, e.g. [{{job_name: "
                                      "node, static_configs: [{{targets: [localhost:9100]}}]}}], "
                                      "got {}",
                                      ParseContext::Describe(e.value)));
    return;
  }
  std::map<std::string, int> first_line;  // job name -> line of its first definition
  for (size_t i = 0; i < e.value.Items().size(); ++i) {
    YamlNode item = e.value.Items()[i];
    if (!item.IsMap()) {
      ctx.Error(ctx.Loc(item), fmt::format("scrape_configs item {} must be a map with a "
                                           "job_name, got {}",
                                           i + 1, ParseContext::Describe(item)));
      continue;
    }
    ScrapeConfig sc;
    sc.location = ctx.Loc(item);
    ScrapeConfigReader(ctx, *stack, &sc).Read(item, i);
    if (sc.job_name.empty()) continue;
    auto [it, fresh] = first_line.emplace(sc.job_name, sc.location.line);
    if (!fresh) {
      ctx.Error(sc.location, fmt::format("job_name '{}' is used twice (first at line {}); job "
                                         "names must be unique",
                                         sc.job_name, it->second));
    }
    stack->scrape_configs.push_back(std::move(sc));
  }
}

// Checks of services' metrics that need monitoring's defaults and the reserved jobs.
void CheckServiceMetrics(ParseContext& ctx, const Stack& stack,
                         const std::vector<ServiceMarks>& marks) {
  for (size_t i = 0; i < stack.services.size() && i < marks.size(); ++i) {
    const Service& s = stack.services[i];
    const MetricsEndpoint& m = s.metrics;
    if (!m.enabled) continue;
    if (IsReservedJob(s.name)) {
      ctx.Error(marks[i].metrics,
                fmt::format("service '{}' declares metrics, but job '{}' is reserved for "
                            "Steward's own series; rename the service",
                            s.name, s.name));
    }
    if (marks[i].metrics_timeout.line == 0) continue;
    bool own = m.interval.count() > 0;
    Duration interval = own ? m.interval : stack.monitoring.scrape_interval;
    if (m.timeout <= interval) continue;
    ctx.Error(marks[i].metrics_timeout,
              fmt::format("service '{}': 'metrics.timeout' ({}) must not exceed {} ({})", s.name,
                          FormatDuration(m.timeout),
                          own ? "'metrics.interval'" : "'monitoring.scrape_interval'",
                          FormatDuration(interval)));
  }
}

}  // namespace

void ReadLabels(ParseContext& ctx, const Entry& e, std::string_view who,
                std::span<const std::string_view> reserved,
                std::map<std::string, std::string>* out) {
  if (!ctx.ExpectMap(e, who)) return;
  std::string where = fmt::format("in {} of {}", e.path, who);
  for (const Entry& l : ctx.Entries(e.value, {}, where, e.path + ".")) {
    if (std::string why = CheckLabelName(l.key, reserved); !why.empty()) {
      ctx.Error(ctx.Loc(l.key_node), fmt::format("{}: label '{}' {}", who, l.key, why));
      continue;
    }
    if (!l.value.IsScalar()) {
      ctx.Error(ctx.Loc(l), fmt::format("{}: label '{}' must be a string, got {}", who, l.key,
                                        ParseContext::Describe(l.value)));
      continue;
    }
    std::optional<std::string> value = ctx.String(l, who);
    if (value && value->empty()) {
      ctx.Error(ctx.Loc(l), fmt::format("{}: label '{}' is empty; an empty label is the same as "
                                        "none, so remove it",
                                        who, l.key));
    } else if (value) {
      (*out)[l.key] = *value;
    }
  }
}

void ParseMonitoringSections(ParseContext& ctx, const std::vector<Entry>& top,
                             const std::vector<ServiceMarks>& marks, Stack* stack) {
  if (const Entry* e = FindEntry(top, "monitoring")) ReadMonitoring(ctx, *e, &stack->monitoring);
  CheckServiceMetrics(ctx, *stack, marks);
  if (const Entry* e = FindEntry(top, "scrape_configs")) ReadScrapeConfigs(ctx, *e, stack);
  if (const Entry* e = FindEntry(top, "monitors")) ParseMonitors(ctx, *e, stack->dir, stack);
}

}  // namespace steward::config::internal
