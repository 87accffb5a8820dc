// Runbook pages (runbook_pages.h): Markdown built from the rules API data, the stack's runbooks
// and the engine's recent runs, with Steward's own words for its built-in alerts.
#include "alerting/runbook_pages.h"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <set>

#include "base/clock.h"

namespace steward::alerting {
namespace {

constexpr size_t kMaxRunsShown = 20;

// A Markdown code span that holds any text: a fence longer than any backtick run inside it.
std::string Code(std::string_view s) {
  if (s.empty()) return "` `";
  size_t longest = 0, run = 0;
  for (char c : s) {
    run = c == '`' ? run + 1 : 0;
    longest = std::max(longest, run);
  }
  std::string fence(longest + 1, '`');
  std::string body(s);
  for (char& c : body) {
    if (c == '\n' || c == '\r') c = ' ';
  }
  bool pad = body.front() == '`' || body.back() == '`';
  return fence + (pad ? " " : "") + body + (pad ? " " : "") + fence;
}

// Text for a table cell: pipes escaped, line breaks flattened, Markdown specials neutralised.
std::string Cell(std::string_view s) {
  std::string out;
  for (char c : s) {
    if (c == '\n' || c == '\r') {
      out += ' ';
    } else if (c == '|' || c == '*' || c == '_' || c == '[' || c == ']' || c == '<' || c == '>' ||
               c == '`' || c == '\\') {
      out += '\\';
      out += c;
    } else {
      out += c;
    }
  }
  return out;
}

std::string Seconds(double s) {
  if (s <= 0) return "0s";
  return FormatDuration(Duration(static_cast<int64_t>(std::llround(s * 1000))));
}

std::string Time(int64_t ms) { return ms > 0 ? FormatRfc3339(FromUnixMillis(ms)) : "-"; }

std::string Matchers(const config::Runbook& rb) {
  std::string out = fmt::format("alertname=\"{}\"", rb.alert);
  for (const config::LabelMatcher& m : rb.matchers) out += ", " + m.ToString();
  return "{" + out + "}";
}

std::string ActionText(const config::Runbook& rb) {
  std::string service = rb.service.empty() ? "the alert's `service`" : Code(rb.service);
  switch (rb.action) {
    case config::RunbookAction::kRestart:
      if (rb.replica >= 0) return fmt::format("restart replica {} of {}", rb.replica, service);
      return fmt::format(
          "restart the alert's `replica` of {} (every replica, one by one, when "
          "the alert names none)",
          service);
    case config::RunbookAction::kRollback:
      return fmt::format("roll {} back to its previous release", service);
    case config::RunbookAction::kScale:
      return fmt::format(
          "scale {} {} (at most {} replicas)", service,
          rb.replicas_relative ? "by " + config::ScaleText(rb) : "to " + config::ScaleText(rb),
          rb.max_replicas);
    case config::RunbookAction::kCommand: {
      std::string argv;
      for (const std::string& a : rb.command) argv += (argv.empty() ? "" : " ") + a;
      return fmt::format(
          "run {} in the stack's directory (timeout {}; the alert's labels in "
          "`STEWARD_ALERT_<LABEL>`)",
          Code(argv), FormatDuration(rb.timeout));
    }
  }
  return "";
}

void RenderRules(const std::vector<AlertRuleInfo>& rules, std::string* out) {
  *out += "## What it checks\n\n";
  if (rules.empty()) {
    *out +=
        "No loaded rule raises this alert (it may come from another sender through "
        "`POST /api/v2/alerts`, or its rule file is not loaded).\n\n";
    return;
  }
  for (const AlertRuleInfo& r : rules) {
    if (rules.size() > 1) *out += fmt::format("### Group {}\n\n", Code(r.group));
    *out += fmt::format("```promql\n{}\n```\n\n", r.expr);
    *out += fmt::format("- for: {}\n", Seconds(r.for_seconds));
    if (r.keep_firing_for_seconds > 0) {
      *out += fmt::format("- keep_firing_for: {}\n", Seconds(r.keep_firing_for_seconds));
    }
    *out += fmt::format("- group: {} in {}\n", Code(r.group), Code(r.file));
    *out += fmt::format("- state now: {} ({} active)\n", r.state.empty() ? "inactive" : r.state,
                        r.active);
    for (const auto& [k, v] : r.labels) *out += fmt::format("- label {}: {}\n", Code(k), Code(v));
    for (const auto& [k, v] : r.annotations) {
      *out += fmt::format("- annotation {}: {}\n", Code(k), Code(v));
    }
    *out += "\n";
  }
}

void RenderMeaning(const RunbookPageInput& in, std::string* out) {
  const BuiltinAlertDoc* doc = FindBuiltinAlertDoc(in.alertname);
  *out += "## What it means\n\n";
  if (doc != nullptr) {
    *out += std::string(doc->meaning) + "\n\n## What to do by hand\n\n";
    for (size_t i = 0; i < doc->steps.size(); ++i) {
      *out += fmt::format("{}. {}\n", i + 1, doc->steps[i]);
    }
    *out += "\n";
    return;
  }
  std::string said;
  for (const AlertRuleInfo& r : in.rules) {
    for (const char* key : {"summary", "description"}) {
      auto it = r.annotations.find(key);
      if (it != r.annotations.end()) said += "> " + Cell(it->second) + "\n";
    }
  }
  *out += said.empty() ? "The rule has no `summary` or `description` annotation; add one to "
                         "say what this alert means and who should act.\n\n"
                       : "As the rule describes it (templates shown unexpanded):\n\n" + said + "\n";
}

void RenderRunbooks(const std::vector<config::Runbook>& runbooks, std::string* out) {
  *out += "## Runbooks\n\n";
  if (runbooks.empty()) {
    *out +=
        "No runbook is bound to this alert. Add one under `runbooks:` in the stack "
        "(docs/stack-reference.md) to let Steward fix it.\n\n";
    return;
  }
  for (const config::Runbook& rb : runbooks) {
    *out += fmt::format("### {}{}\n\n", Code(rb.name), rb.dry_run ? " (dry run)" : "");
    if (!rb.description.empty()) *out += Cell(rb.description) + "\n\n";
    *out += fmt::format("- when: {}\n", Code(Matchers(rb)));
    *out += fmt::format("- does: {}\n", ActionText(rb));
    *out += fmt::format(
        "- guard rails: at most {} run(s) per hour per service; cool-down {}; "
        "{}{}\n\n",
        rb.max_runs_per_hour, FormatDuration(rb.cooldown),
        rb.only_while_firing ? "only while the alert still fires"
                             : "runs even if the alert resolved meanwhile",
        rb.dry_run ? "; dry run: records what it would do, does nothing" : "");
  }
}

void RenderRuns(const std::vector<RunbookRun>& runs, std::string* out) {
  *out += "## Recent runs\n\n";
  if (runs.empty()) {
    *out += "None since the daemon started.\n";
    return;
  }
  *out +=
      "| started | runbook | service | result | took | output |\n"
      "|---|---|---|---|---|---|\n";
  for (size_t i = 0; i < runs.size() && i < kMaxRunsShown; ++i) {
    const RunbookRun& r = runs[i];
    *out += fmt::format("| {} | {} | {} | {} | {} | {} |\n", Time(r.started_at_ms), Cell(r.runbook),
                        Cell(r.service), Cell(r.result),
                        FormatDuration(Duration(r.ended_at_ms - r.started_at_ms)), Cell(r.output));
  }
}

}  // namespace

const std::vector<BuiltinAlertDoc>& BuiltinAlertDocs() {
  static const std::vector<BuiltinAlertDoc> kDocs = {
      {"StewardReplicaDown",
       "A replica of a service Steward runs is not ready: its process is gone, waiting to "
       "restart, or failing its health check. The service runs with less capacity than declared, "
       "and with one replica it is down.",
       {"`steward status` shows the replica's state and the reason it last exited.",
        "`steward logs SERVICE -r REPLICA --stderr -n 100` shows why it stopped or is not ready.",
        "If a recent `steward apply` changed the service, `steward history` shows what changed; "
        "roll the change back in the stack file and apply again.",
        "If the host ran out of something (memory, disk, file descriptors), free it; Steward's "
        "reconcile loop restores the replica within seconds once it can start."}},
      {"StewardCrashLooping",
       "A replica keeps exiting soon after it starts: Steward restarted it at least 3 times in 5 "
       "minutes and backs off longer each time. Restarting it again rarely helps; something it "
       "needs is wrong (configuration, a dependency, a bad release).",
       {"`steward logs SERVICE -r REPLICA --stderr -n 200`: the last lines before each exit "
        "usually name the cause.",
        "`steward history`: a crash loop that began right after an apply points at that change; "
        "a `rollback` runbook or reverting the stack file fixes it.",
        "Check the dependencies in `depends_on` are up (`steward status`).",
        "Once fixed, `steward apply` starts the replica afresh (backoff reset)."}},
      {"StewardHealthCheckFailing",
       "A service's health check fails: the process runs but does not answer as the stack's "
       "`health:` expects. After `unhealthy_threshold` failures in a row Steward restarts the "
       "replica; until then it gets no traffic marked ready.",
       {"`steward status` shows the last health-check detail (HTTP status, connect error, "
        "timeout or command exit).",
        "Try the check by hand on the replica's port (e.g. `curl -v "
        "http://127.0.0.1:PORT/healthz`).",
        "`steward logs SERVICE -r REPLICA` for errors around the failures.",
        "If the service is only slow, raise `health.timeout` or fix what is slow; if it is "
        "stuck, a `restart` runbook helps."}},
      {"StewardProbeFailing",
       "A synthetic probe from the stack's `monitors:` fails: what users reach (a URL, a port, a "
       "certificate, a command) does not answer as expected, whatever the processes say.",
       {"`steward monitors` shows each monitor's last result and the reason it failed.",
        "`steward query 'probe_success{monitor=\"NAME\"}' --range --start -1h` shows since when.",
        "Check the service behind it (`steward status`, `steward logs`), then what is in between "
        "(DNS, proxy, certificate expiry for tls monitors).",
        "If the probe itself is wrong (URL, expected status), fix the monitor in the stack and "
        "apply."}},
      {"StewardDiskNearlyFull",
       "A filesystem Steward watches is nearly full. When it fills, writes fail: the state "
       "store, the metrics database, logs and the services' own data.",
       {"`df -h` and `du -xsh /path/* | sort -h` to find what grew.",
        "Steward's own data: lower `monitoring.retention` or `monitoring.retention_size`; replica "
        "logs rotate by size under the state directory's `logs/`.",
        "Remove what is safe to remove (old backups, caches, core dumps); a `command` runbook can "
        "automate a cache cleanup.",
        "Plan more space before it fills again."}},
      {"StewardBackupLate",
       "The last successful backup is older than twice its interval: a restore now would lose "
       "more data than the backup schedule promises.",
       {"Check the backup job's last run and its error (logs of the backup service or command).",
        "Check the backup target is reachable and has space.",
        "Run a backup by hand and confirm it succeeds before resolving the incident.",
        "If backups were paused on purpose, silence the alert with an expiry instead of "
        "ignoring it."}},
  };
  return kDocs;
}

const BuiltinAlertDoc* FindBuiltinAlertDoc(std::string_view alertname) {
  for (const BuiltinAlertDoc& d : BuiltinAlertDocs()) {
    if (d.name == alertname) return &d;
  }
  return nullptr;
}

std::vector<AlertRuleInfo> AlertRulesFromJson(const nlohmann::json& data) {
  std::vector<AlertRuleInfo> out;
  if (!data.is_object() || !data.contains("groups") || !data["groups"].is_array()) return out;
  auto str = [](const nlohmann::json& j, const char* key) {
    auto it = j.find(key);
    return it != j.end() && it->is_string() ? it->get<std::string>() : std::string();
  };
  auto num = [](const nlohmann::json& j, const char* key) {
    auto it = j.find(key);
    return it != j.end() && it->is_number() ? it->get<double>() : 0.0;
  };
  auto pairs = [](const nlohmann::json& j, const char* key) {
    std::map<std::string, std::string> m;
    auto it = j.find(key);
    if (it == j.end() || !it->is_object()) return m;
    for (const auto& [k, v] : it->items()) {
      if (v.is_string()) m[k] = v.get<std::string>();
    }
    return m;
  };
  for (const nlohmann::json& g : data["groups"]) {
    if (!g.is_object() || !g.contains("rules") || !g["rules"].is_array()) continue;
    for (const nlohmann::json& r : g["rules"]) {
      if (!r.is_object() || str(r, "type") != "alerting") continue;
      AlertRuleInfo info{str(r, "name"),     str(r, "query"),
                         num(r, "duration"), num(r, "keepFiringFor"),
                         pairs(r, "labels"), pairs(r, "annotations"),
                         str(g, "name"),     str(g, "file"),
                         str(r, "state"),    0};
      if (r.contains("alerts") && r["alerts"].is_array()) {
        info.active = static_cast<int>(r["alerts"].size());
      }
      out.push_back(std::move(info));
    }
  }
  return out;
}

std::string RenderRunbookPage(const RunbookPageInput& in) {
  std::string out = fmt::format("# Runbook: {}\n\n", Cell(in.alertname));
  RenderMeaning(in, &out);
  RenderRules(in.rules, &out);
  RenderRunbooks(in.runbooks, &out);
  RenderRuns(in.runs, &out);
  return out;
}

std::vector<RunbookIndexEntry> RunbookIndex(const std::vector<AlertRuleInfo>& rules,
                                            const std::vector<config::Runbook>& runbooks) {
  std::map<std::string, RunbookIndexEntry> by_name;
  auto entry = [&](const std::string& name) -> RunbookIndexEntry& {
    RunbookIndexEntry& e = by_name[name];
    e.alertname = name;
    e.builtin = FindBuiltinAlertDoc(name) != nullptr;
    return e;
  };
  for (const BuiltinAlertDoc& d : BuiltinAlertDocs()) entry(std::string(d.name));
  for (const AlertRuleInfo& r : rules) ++entry(r.name).rules;
  for (const config::Runbook& rb : runbooks) ++entry(rb.alert).runbooks;
  std::vector<RunbookIndexEntry> out;
  for (auto& [name, e] : by_name) out.push_back(std::move(e));
  return out;
}

std::string RenderRunbookIndex(const std::vector<RunbookIndexEntry>& entries,
                               std::string_view page_base) {
  std::string out = "# Runbooks\n\n| alert | rules | runbooks | built-in |\n|---|---|---|---|\n";
  for (const RunbookIndexEntry& e : entries) {
    out += fmt::format("| [{}]({}{}) | {} | {} | {} |\n", Cell(e.alertname), page_base, e.alertname,
                       e.rules, e.runbooks, e.builtin ? "yes" : "");
  }
  return out;
}

}  // namespace steward::alerting
