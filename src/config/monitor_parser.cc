// Reads `monitors:`, a map of name -> probe spec (like services): the keys every monitor has
// (type, interval, timeout, labels) and those of its kind (http, tcp, tls, exec). A key of
// another kind is an error that names the kinds it belongs to.
#include <fmt/format.h>

#include <algorithm>
#include <cctype>

#include "config/monitoring_rules.h"
#include "config/parse_context.h"
#include "config/stack_parser.h"

namespace steward::config::internal {
namespace {

constexpr std::string_view kMonitorKeys[] = {"type",
                                             "interval",
                                             "timeout",
                                             "labels",
                                             "url",
                                             "method",
                                             "headers",
                                             "body",
                                             "expect_status",
                                             "body_regex",
                                             "max_latency",
                                             "follow_redirects",
                                             "insecure_skip_verify",
                                             "target",
                                             "server_name",
                                             "ca_file",
                                             "min_days_valid",
                                             "command"};
constexpr int64_t kMaxDaysValid = 3650;
const Duration kDefaultTimeout{5000};

// The kinds a kind-specific key belongs to, as "http", "tcp and tls"; "" for common keys.
std::string KindsOf(std::string_view key) {
  static constexpr std::string_view kHttp[] = {
      "url",         "method",           "headers",
      "body",        "expect_status",    "body_regex",
      "max_latency", "follow_redirects", "insecure_skip_verify"};
  static constexpr std::string_view kTls[] = {"server_name", "ca_file", "min_days_valid"};
  auto in = [&](std::span<const std::string_view> keys) {
    return std::find(keys.begin(), keys.end(), key) != keys.end();
  };
  if (in(kHttp)) return "http";
  if (in(kTls)) return "tls";
  if (key == "target") return "tcp and tls";
  if (key == "command") return "exec";
  return "";
}

bool KeyFitsKind(std::string_view key, ProbeKind kind) {
  std::string kinds = KindsOf(key);
  return kinds.empty() || kinds.find(ProbeKindName(kind)) != std::string::npos;
}

const char* RequiredKey(ProbeKind kind) {
  switch (kind) {
    case ProbeKind::kHttp:
      return "url";
    case ProbeKind::kExec:
      return "command";
    default:
      return "target";
  }
}

const char* RequiredExample(ProbeKind kind) {
  switch (kind) {
    case ProbeKind::kHttp:
      return "url: http://localhost:8080/healthz";
    case ProbeKind::kExec:
      return "command: [pg_isready, -q]";
    case ProbeKind::kTls:
      return "target: example.com:443";
    default:
      return "target: localhost:5432";
  }
}

template <typename T>
void Assign(std::optional<T> v, T* out) {
  if (v) *out = std::move(*v);
}

class MonitorReader {
 public:
  MonitorReader(ParseContext& ctx, Monitor* m, std::string stack_dir)
      : ctx_(ctx), m_(*m), dir_(std::move(stack_dir)), who_(fmt::format("monitor '{}'", m->name)) {}

  void Read(YamlNode value) {
    std::vector<Entry> entries = ctx_.Entries(value, kMonitorKeys, "in " + who_);
    bool kind_known = Type(entries);
    for (const Entry& e : entries) {
      if (e.key == "type") continue;
      if (kind_known && !KeyFitsKind(e.key, m_.kind)) {
        ctx_.Error(ctx_.Loc(e.key_node),
                   fmt::format("{}: '{}' is for {} monitors, and this one is {}", who_, e.key,
                               KindsOf(e.key), ProbeKindName(m_.kind)));
        continue;
      }
      seen_.push_back(e.key);
      ReadKey(e);
    }
    if (kind_known) CheckRequired();
    CheckTiming();
  }

 private:
  // Reads 'type'; false when it is missing or wrong (then kind-specific checks are skipped).
  bool Type(const std::vector<Entry>& entries) {
    auto it = std::find_if(entries.begin(), entries.end(),
                           [](const Entry& e) { return e.key == "type"; });
    if (it == entries.end()) {
      ctx_.Error(m_.location, fmt::format("{} has no 'type'; add e.g. type: http (one of http, "
                                          "tcp, exec, tls)",
                                          who_));
      return false;
    }
    std::optional<std::string> type = ctx_.String(*it, who_);
    if (!type) return false;
    if (!ProbeKindFromName(*type, &m_.kind)) {
      ctx_.Error(ctx_.Loc(*it), fmt::format("{}: 'type' must be one of http, tcp, exec, tls, got "
                                            "'{}'",
                                            who_, *type));
      return false;
    }
    return true;
  }

  void ReadKey(const Entry& e) {
    const std::string& k = e.key;
    if (k == "interval") return Assign(ctx_.Dur(e, who_), &m_.interval);
    if (k == "timeout") {
      Assign(ctx_.Dur(e, who_), &m_.timeout);
      timeout_at_ = ctx_.Loc(e);
      return;
    }
    if (k == "labels") return ReadLabels(ctx_, e, who_, kMonitorLabels, &m_.labels);
    if (k == "url") return Checked(e, CheckUrl, &m_.url);
    if (k == "method") return Method(e);
    if (k == "headers") return Headers(e);
    if (k == "body") return Assign(ctx_.String(e, who_), &m_.body);
    if (k == "expect_status") return ExpectStatus(e);
    if (k == "body_regex") return Checked(e, CheckRegex, &m_.body_regex);
    if (k == "max_latency") {
      Assign(ctx_.Dur(e, who_), &m_.max_latency);
      max_latency_at_ = ctx_.Loc(e);
      return;
    }
    if (k == "follow_redirects") return Assign(ctx_.Bool(e, who_), &m_.follow_redirects);
    if (k == "insecure_skip_verify") return Assign(ctx_.Bool(e, who_), &m_.insecure_skip_verify);
    if (k == "target") return Checked(e, CheckHostPort, &m_.target);
    if (k == "server_name") return NonEmpty(e, &m_.server_name);
    if (k == "ca_file") return CaFile(e);
    if (k == "min_days_valid") return MinDays(e);
    if (k == "command") return Command(e);
  }

  template <typename Check>
  void Checked(const Entry& e, Check check, std::string* out) {
    std::optional<std::string> text = ctx_.String(e, who_);
    if (!text) return;
    if (std::string why = check(*text); !why.empty()) {
      ctx_.Error(ctx_.Loc(e), fmt::format("{}: '{}' {}", who_, e.path, why));
      return;
    }
    *out = *text;
  }

  void NonEmpty(const Entry& e, std::string* out) {
    std::optional<std::string> text = ctx_.String(e, who_);
    if (text && text->empty()) {
      ctx_.Error(ctx_.Loc(e),
                 fmt::format("{}: '{}' is empty; remove it or give a value", who_, e.path));
    } else if (text) {
      *out = *text;
    }
  }

  void Method(const Entry& e) {
    std::optional<std::string> text = ctx_.String(e, who_);
    if (!text) return;
    std::string upper = *text;
    for (char& c : upper) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
    if (!IsHttpMethod(upper)) {
      ctx_.Error(ctx_.Loc(e), fmt::format("{}: 'method' must be one of GET, HEAD, POST, PUT, "
                                          "PATCH, DELETE, OPTIONS, got '{}'",
                                          who_, *text));
      return;
    }
    m_.method = upper;
  }

  void Headers(const Entry& e) {
    if (!ctx_.ExpectMap(e, who_)) return;
    for (const Entry& h : ctx_.Entries(e.value, {}, "in headers of " + who_, "headers.")) {
      if (!h.value.IsScalar()) {
        ctx_.Error(ctx_.Loc(h), fmt::format("{}: header '{}' must be a string, got {}", who_, h.key,
                                            ParseContext::Describe(h.value)));
        continue;
      }
      std::optional<std::string> value = ctx_.String(h, who_);
      if (!value) continue;
      if (std::string why = CheckHeader(h.key, *value); !why.empty()) {
        ctx_.Error(ctx_.Loc(h.key_node), fmt::format("{}: {}", who_, why));
        continue;
      }
      m_.headers[h.key] = *value;
    }
  }

  // expect_status: 200 or [200, 204].
  void ExpectStatus(const Entry& e) {
    if (e.value.IsSequence() && e.value.Items().empty()) {
      ctx_.Error(ctx_.Loc(e), fmt::format("{}: 'expect_status' is an empty list; give at least "
                                          "one status, e.g. [200, 204]",
                                          who_));
      return;
    }
    std::vector<Entry> items;
    if (e.value.IsSequence()) {
      for (YamlNode item : e.value.Items()) {
        items.push_back(Entry{e.key, e.path + " item", e.key_node, item});
      }
    } else {
      items.push_back(e);
    }
    for (const Entry& item : items) {
      if (std::optional<int64_t> code = ctx_.Int(item, who_, 100, 599)) {
        m_.expect_status.push_back(static_cast<int>(*code));
      }
    }
  }

  void CaFile(const Entry& e) {
    std::string path;
    NonEmpty(e, &path);
    if (!path.empty()) m_.ca_file = ResolvePath(dir_, path);
  }

  void MinDays(const Entry& e) {
    if (std::optional<int64_t> days = ctx_.Int(e, who_, 0, kMaxDaysValid)) {
      m_.min_days_valid = static_cast<int>(*days);
    }
  }

  // A list is the argv; a string runs through /bin/sh -c, as health.exec does.
  void Command(const Entry& e) {
    if (e.value.IsSequence()) {
      std::optional<std::vector<std::string>> argv = ctx_.StringList(e, who_);
      if (argv && (argv->empty() || (*argv)[0].empty())) {
        ctx_.Error(ctx_.Loc(e), fmt::format("{}: 'command' needs at least the program, e.g. "
                                            "command: [pg_isready, -q]",
                                            who_));
      } else if (argv) {
        m_.command = std::move(*argv);
      }
      return;
    }
    std::optional<std::string> script = ctx_.String(e, who_);
    if (script && script->empty()) {
      ctx_.Error(ctx_.Loc(e), fmt::format("{}: 'command' is empty; give a command, e.g. "
                                          "command: pg_isready -q",
                                          who_));
    } else if (script) {
      m_.command = {"/bin/sh", "-c", *script};
    }
  }

  void CheckRequired() {
    const char* key = RequiredKey(m_.kind);
    if (std::find(seen_.begin(), seen_.end(), key) != seen_.end()) return;
    ctx_.Error(m_.location, fmt::format("{} ({}) has no '{}'; add e.g. {}", who_,
                                        ProbeKindName(m_.kind), key, RequiredExample(m_.kind)));
  }

  void CheckTiming() {
    if (m_.interval.count() <= 0 || (timeout_at_ && m_.timeout.count() <= 0)) {
      ctx_.Error(m_.location, fmt::format("{}: 'interval' and 'timeout' must be longer than 0, "
                                          "e.g. interval: 30s",
                                          who_));
      return;
    }
    if (!timeout_at_) {
      m_.timeout = std::min(kDefaultTimeout, m_.interval);
    } else if (m_.timeout > m_.interval) {
      ctx_.Error(*timeout_at_,
                 fmt::format("{}: 'timeout' ({}) must not exceed 'interval' ({}); a "
                             "probe must finish before the next one starts",
                             who_, FormatDuration(m_.timeout), FormatDuration(m_.interval)));
    }
    if (max_latency_at_ && m_.max_latency > m_.timeout) {
      ctx_.Error(*max_latency_at_,
                 fmt::format("{}: 'max_latency' ({}) exceeds 'timeout' ({}), so it can never "
                             "fail a probe; lower it or raise the timeout",
                             who_, FormatDuration(m_.max_latency), FormatDuration(m_.timeout)));
    }
  }

  ParseContext& ctx_;
  Monitor& m_;
  std::string dir_;
  std::string who_;
  std::vector<std::string> seen_;  // keys read (of the right kind)
  std::optional<SourceLocation> timeout_at_;
  std::optional<SourceLocation> max_latency_at_;
};

}  // namespace

void ParseMonitors(ParseContext& ctx, const Entry& e, const std::string& stack_dir, Stack* stack) {
  if (!ctx.ExpectMap(e, "")) return;
  for (const Entry& m : ctx.Entries(e.value, {}, "in monitors")) {
    if (!IsValidName(m.key)) {
      ctx.Error(ctx.Loc(m.key_node),
                fmt::format("monitor name '{}' is not valid; {}", m.key, NameRule("api-health")));
      continue;
    }
    Monitor monitor;
    monitor.name = m.key;
    monitor.location = ctx.Loc(m.key_node);
    if (!m.value.IsMap()) {
      SourceLocation at = m.value.IsNull() ? monitor.location : ctx.Loc(m.value);
      ctx.Error(at, fmt::format("monitor '{}' must be a map with at least 'type', e.g. {}: "
                                "{{type: http, url: http://localhost:8080/healthz}}, got {}",
                                m.key, m.key, ParseContext::Describe(m.value)));
      continue;
    }
    MonitorReader(ctx, &monitor, stack_dir).Read(m.value);
    stack->monitors.push_back(std::move(monitor));
  }
}

}  // namespace steward::config::internal
