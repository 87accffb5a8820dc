#include "report/security.h"

#include <sys/stat.h>

#include <algorithm>
#include <fmt/format.h>

namespace steward::report {
namespace {

constexpr int64_t kDayMs = 86'400'000;
constexpr size_t kTopFindings = 20;
constexpr size_t kRecentDenied = 10;

Control Make(std::string id, std::string title, std::string status, std::string detail) {
  return Control{std::move(id), std::move(title), std::move(status), std::move(detail)};
}

std::string Plural(int64_t n, const char* one, const char* many) {
  return fmt::format("{} {}", n, n == 1 ? one : many);
}

// Names joined with ", ", at most `max` of them, then "and N more".
std::string NameList(const std::vector<std::string>& names, size_t max = 5) {
  std::string out;
  for (size_t i = 0; i < names.size() && i < max; ++i) {
    if (i > 0) out += ", ";
    out += names[i];
  }
  if (names.size() > max) out += fmt::format(" and {} more", names.size() - max);
  return out;
}

// Findings of `scanner` at `min` or worse.
int64_t CountFindings(const scan::ScanResult& r, const std::string& scanner, scan::Severity min) {
  return std::count_if(r.findings.begin(), r.findings.end(), [&](const scan::Finding& f) {
    return f.scanner == scanner && f.severity >= min;
  });
}

Control ScanControl(const SecurityInput& in, bool ran, std::string id, std::string title,
                    const std::string& scanner, scan::Severity min, const char* not_run) {
  if (!ran) return Make(std::move(id), std::move(title), "n/a", not_run);
  int64_t n = CountFindings(in.scan, scanner, min);
  if (n == 0) return Make(std::move(id), std::move(title), "pass", "no findings");
  return Make(std::move(id), std::move(title), "fail",
              Plural(n, "finding", "findings") + " (see the findings above)");
}

std::vector<SecretAge> SecretAges(const SecurityInput& in) {
  std::map<std::string, SecretAge> by_name;
  std::map<std::string, int64_t> current_created;
  for (const state::SecretRecord& r : in.secrets) {
    SecretAge& a = by_name[r.name];
    a.name = r.name;
    ++a.versions;
    if (r.state == "current") {
      a.version = r.version;
      current_created[r.name] = r.created_at_ms;
    } else if (r.state == "previous") {
      a.pending_roll = true;
    }
  }
  std::vector<SecretAge> out;
  for (auto& [name, a] : by_name) {
    if (a.version == 0) continue;  // every version retired: nothing is served
    a.age_days = std::max<int64_t>(0, (in.now_ms - current_created[name]) / kDayMs);
    a.rotations = a.version - 1;
    a.stale = a.age_days > in.max_secret_age_days;
    out.push_back(a);
  }
  return out;
}

AuditSummary Summarize(const std::vector<state::AuditRecord>& audit) {
  AuditSummary s;
  for (const state::AuditRecord& a : audit) {
    ++s.calls;
    bool denied = a.status == 401 || a.status == 403 || a.status == 429;
    if (denied) {
      ++s.denied;
      if (s.recent_denied.size() < kRecentDenied) s.recent_denied.push_back(a);
    }
    if (a.status >= 500) ++s.errors;
    ++s.by_actor[a.actor];
    ++s.by_path[a.method + " " + a.path];
  }
  std::sort(s.recent_denied.begin(), s.recent_denied.end(),
            [](const state::AuditRecord& a, const state::AuditRecord& b) { return a.id > b.id; });
  return s;
}

std::vector<Control> Controls(const SecurityInput& in, const SecurityReport& r) {
  std::vector<Control> c;
  c.push_back(ScanControl(in, in.scanned, "SEC-01", "No secrets leaked in files or git history",
                          "secrets", scan::Severity::kInfo, "no scan ran"));
  c.push_back(ScanControl(in, in.scanned && in.deps_scanned, "SEC-02",
                          "No dependency with a critical or high vulnerability", "deps",
                          scan::Severity::kHigh, "no OSV database was given (--osv-db)"));
  c.push_back(ScanControl(in, in.scanned, "SEC-03",
                          "No critical or high risk in Dockerfiles, manifests or the stack",
                          "config", scan::Severity::kHigh, "no scan ran"));

  // The stack's own check is the config scanner's rule; the control reads its findings.
  const char* health_title = "Every service has a health check";
  if (in.stack == nullptr || in.stack->services.empty() || !in.scanned) {
    c.push_back(Make("SEC-04", health_title, "n/a", "no stack scanned"));
  } else {
    int64_t missing = std::count_if(in.scan.findings.begin(), in.scan.findings.end(),
                                    [](const scan::Finding& f) {
                                      return f.rule == "stack-no-health-check";
                                    });
    c.push_back(missing == 0
                    ? Make("SEC-04", health_title, "pass",
                           Plural(static_cast<int64_t>(in.stack->services.size()), "service",
                                  "services") + " checked")
                    : Make("SEC-04", health_title, "fail",
                           Plural(missing, "service", "services") +
                               " without one (rule stack-no-health-check)"));
  }

  std::string age_title =
      fmt::format("Secrets rotated within {} days", in.max_secret_age_days);
  if (r.secrets.empty()) {
    c.push_back(Make("SEC-05", age_title, "n/a", "no secrets stored"));
  } else {
    std::vector<std::string> stale;
    for (const SecretAge& a : r.secrets) {
      if (a.stale) stale.push_back(fmt::format("{} ({} days)", a.name, a.age_days));
    }
    c.push_back(stale.empty() ? Make("SEC-05", age_title, "pass",
                                     Plural(static_cast<int64_t>(r.secrets.size()), "secret",
                                            "secrets") + " within the limit")
                              : Make("SEC-05", age_title, "fail", "too old: " + NameList(stale)));
  }

  // A rotation leaves the previous value for the roll; a day later the roll should be done.
  std::vector<std::string> stuck;
  for (const state::SecretRecord& s : in.secrets) {
    if (s.state != "previous") continue;
    for (const state::SecretRecord& cur : in.secrets) {
      if (cur.name == s.name && cur.state == "current" && in.now_ms - cur.created_at_ms > kDayMs) {
        stuck.push_back(s.name);
      }
    }
  }
  const char* roll_title = "No rotation left half-done for more than a day";
  if (in.secrets.empty()) {
    c.push_back(Make("SEC-06", roll_title, "n/a", "no secrets stored"));
  } else {
    c.push_back(stuck.empty() ? Make("SEC-06", roll_title, "pass", "no previous value kept past a day")
                              : Make("SEC-06", roll_title, "fail",
                                     "previous value still kept (run `steward apply`): " +
                                         NameList(stuck)));
  }

  std::string idle_title =
      fmt::format("No API token idle for more than {} days", in.max_token_idle_days);
  if (in.tokens.empty()) {
    c.push_back(Make("SEC-07", idle_title, "n/a", "no scoped tokens (only api.token)"));
  } else {
    std::vector<std::string> idle;
    for (const state::ApiTokenRecord& t : in.tokens) {
      int64_t last = std::max(t.last_used_ms, t.created_at_ms);
      if (in.now_ms - last > in.max_token_idle_days * kDayMs) idle.push_back(t.name);
    }
    c.push_back(idle.empty() ? Make("SEC-07", idle_title, "pass",
                                    Plural(static_cast<int64_t>(in.tokens.size()), "token",
                                           "tokens") + " in use")
                             : Make("SEC-07", idle_title, "fail",
                                    "idle (remove with `steward token rm`): " + NameList(idle)));
  }

  const char* key_title = "The master key file is readable by its owner only";
  struct stat st{};
  if (in.master_key_file.empty()) {
    c.push_back(Make("SEC-08", key_title, "n/a", "no master key file in use"));
  } else if (::stat(in.master_key_file.c_str(), &st) != 0) {
    c.push_back(Make("SEC-08", key_title, "n/a", in.master_key_file + " does not exist yet"));
  } else if ((st.st_mode & 077) != 0) {
    c.push_back(Make("SEC-08", key_title, "fail",
                     fmt::format("{} has mode {:04o}; chmod 600 it", in.master_key_file,
                                 st.st_mode & 07777)));
  } else {
    c.push_back(Make("SEC-08", key_title, "pass",
                     fmt::format("{} has mode {:04o}", in.master_key_file, st.st_mode & 07777)));
  }
  return c;
}

std::string Escape(std::string_view s) {
  std::string out;
  for (char ch : s) {
    switch (ch) {
      case '&': out += "&amp;"; break;
      case '<': out += "&lt;"; break;
      case '>': out += "&gt;"; break;
      case '"': out += "&quot;"; break;
      case '\'': out += "&#39;"; break;
      default: out += ch;
    }
  }
  return out;
}

// Markdown table cells: a '|' or a newline would break the row.
std::string Cell(std::string_view s) {
  std::string out;
  for (char ch : s) {
    if (ch == '|') {
      out += "\\|";
    } else if (ch == '\n' || ch == '\r') {
      out += ' ';
    } else {
      out += ch;
    }
  }
  return out;
}

std::string Location(const scan::Finding& f) {
  std::string loc = f.path;
  if (f.line > 0) loc += ":" + std::to_string(f.line);
  if (!f.commit.empty()) loc += " @" + f.commit.substr(0, 12);
  return loc;
}

std::string IsoTime(int64_t ms) {
  time_t secs = static_cast<time_t>(ms / 1000);
  struct tm tm{};
  gmtime_r(&secs, &tm);
  char buf[32];
  strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
  return buf;
}

const char* kSeverities[] = {"critical", "high", "medium", "low", "info"};

}  // namespace

SecurityReport ComputeSecurity(const SecurityInput& in) {
  SecurityReport r;
  r.generated_ms = in.now_ms;
  r.audit_since_ms = in.audit_since_ms;
  for (const char* s : kSeverities) r.findings_by_severity[s] = 0;
  scan::ScanResult sorted = in.scan;
  sorted.Sort();
  for (const scan::Finding& f : sorted.findings) {
    ++r.findings_by_severity[std::string(scan::SeverityName(f.severity))];
    ++r.findings_by_scanner[f.scanner];
    if (r.top_findings.size() < kTopFindings) r.top_findings.push_back(f);
  }
  r.problems = static_cast<int64_t>(in.scan.problems.size());
  r.secrets = SecretAges(in);
  r.tokens = in.tokens;
  r.audit = Summarize(in.audit);
  r.controls = Controls(in, r);
  r.pass = std::none_of(r.controls.begin(), r.controls.end(),
                        [](const Control& c) { return c.status == "fail"; });
  return r;
}

nlohmann::json ToJson(const SecurityReport& r) {
  nlohmann::json j;
  j["generated"] = IsoTime(r.generated_ms);
  j["pass"] = r.pass;
  j["findings"] = {{"by_severity", r.findings_by_severity},
                   {"by_scanner", r.findings_by_scanner},
                   {"problems", r.problems}};
  nlohmann::json top = nlohmann::json::array();
  for (const scan::Finding& f : r.top_findings) {
    top.push_back({{"scanner", f.scanner},
                   {"rule", f.rule},
                   {"severity", scan::SeverityName(f.severity)},
                   {"title", f.title},
                   {"message", f.message},
                   {"path", f.path},
                   {"line", f.line},
                   {"commit", f.commit}});
  }
  j["findings"]["top"] = std::move(top);
  nlohmann::json secrets = nlohmann::json::array();
  for (const SecretAge& a : r.secrets) {
    secrets.push_back({{"name", a.name},
                       {"version", a.version},
                       {"versions", a.versions},
                       {"age_days", a.age_days},
                       {"rotations", a.rotations},
                       {"pending_roll", a.pending_roll},
                       {"stale", a.stale}});
  }
  j["secrets"] = std::move(secrets);
  nlohmann::json tokens = nlohmann::json::array();
  for (const state::ApiTokenRecord& t : r.tokens) {
    tokens.push_back({{"name", t.name},
                      {"scope", t.scope},
                      {"created", IsoTime(t.created_at_ms)},
                      {"last_used", t.last_used_ms > 0 ? nlohmann::json(IsoTime(t.last_used_ms))
                                                       : nlohmann::json(nullptr)}});
  }
  j["tokens"] = std::move(tokens);
  nlohmann::json denied = nlohmann::json::array();
  for (const state::AuditRecord& a : r.audit.recent_denied) {
    denied.push_back({{"time", IsoTime(a.time_ms)},
                      {"actor", a.actor},
                      {"remote", a.remote},
                      {"method", a.method},
                      {"path", a.path},
                      {"status", a.status}});
  }
  j["audit"] = {{"since", IsoTime(r.audit_since_ms)},
                {"calls", r.audit.calls},
                {"denied", r.audit.denied},
                {"errors", r.audit.errors},
                {"by_actor", r.audit.by_actor},
                {"by_call", r.audit.by_path},
                {"recent_denied", std::move(denied)}};
  nlohmann::json controls = nlohmann::json::array();
  for (const Control& c : r.controls) {
    controls.push_back(
        {{"id", c.id}, {"title", c.title}, {"status", c.status}, {"detail", c.detail}});
  }
  j["controls"] = std::move(controls);
  return j;
}

std::string ToMarkdown(const SecurityReport& r) {
  std::string out = fmt::format("# Security report\n\nGenerated {}. Result: **{}**.\n\n",
                                IsoTime(r.generated_ms), r.pass ? "PASS" : "FAIL");
  out += "## Controls\n\n| id | control | status | detail |\n|---|---|---|---|\n";
  for (const Control& c : r.controls) {
    out += fmt::format("| {} | {} | {} | {} |\n", c.id, Cell(c.title),
                       c.status == "fail" ? "**fail**" : c.status, Cell(c.detail));
  }
  out += "\n## Findings\n\n";
  std::string counts;
  for (const char* s : kSeverities) {
    if (!counts.empty()) counts += ", ";
    counts += fmt::format("{} {}", r.findings_by_severity.at(s), s);
  }
  out += counts + fmt::format("; {} input(s) could not be scanned whole.\n\n", r.problems);
  if (!r.top_findings.empty()) {
    out += "| severity | rule | where | message |\n|---|---|---|---|\n";
    for (const scan::Finding& f : r.top_findings) {
      out += fmt::format("| {} | {} | {} | {} |\n", scan::SeverityName(f.severity), Cell(f.rule),
                         Cell(Location(f)), Cell(f.message));
    }
    out += "\n";
  }
  out += "## Secrets\n\n";
  if (r.secrets.empty()) {
    out += "No secrets stored.\n\n";
  } else {
    out += "| secret | version | age (days) | rotations | pending roll |\n|---|---|---|---|---|\n";
    for (const SecretAge& a : r.secrets) {
      out += fmt::format("| {} | {} | {}{} | {} | {} |\n", Cell(a.name), a.version, a.age_days,
                         a.stale ? " (stale)" : "", a.rotations, a.pending_roll ? "yes" : "no");
    }
    out += "\n";
  }
  out += "## API tokens\n\n";
  if (r.tokens.empty()) {
    out += "Only the admin token (api.token).\n\n";
  } else {
    out += "| token | scope | created | last used |\n|---|---|---|---|\n";
    for (const state::ApiTokenRecord& t : r.tokens) {
      out += fmt::format("| {} | {} | {} | {} |\n", Cell(t.name), t.scope,
                         IsoTime(t.created_at_ms),
                         t.last_used_ms > 0 ? IsoTime(t.last_used_ms) : "never");
    }
    out += "\n";
  }
  out += fmt::format("## Audit log since {}\n\n{} mutating call(s), {} denied, {} failed.\n",
                     IsoTime(r.audit_since_ms), r.audit.calls, r.audit.denied, r.audit.errors);
  if (!r.audit.recent_denied.empty()) {
    out += "\n| time | actor | remote | call | status |\n|---|---|---|---|---|\n";
    for (const state::AuditRecord& a : r.audit.recent_denied) {
      out += fmt::format("| {} | {} | {} | {} {} | {} |\n", IsoTime(a.time_ms), Cell(a.actor),
                         Cell(a.remote), a.method, Cell(a.path), a.status);
    }
  }
  return out;
}

std::string ToHtml(const SecurityReport& r) {
  std::string out =
      "<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\"><title>Security report</title>\n"
      "<style>body{font-family:sans-serif;margin:2em}table{border-collapse:collapse;margin:1em 0}"
      "td,th{border:1px solid #ccc;padding:4px 8px;text-align:left}.fail{color:#b00;"
      "font-weight:bold}.pass{color:#070}</style></head><body>\n";
  out += fmt::format("<h1>Security report</h1>\n<p>Generated {}. Result: <span class=\"{}\">{}"
                     "</span>.</p>\n",
                     IsoTime(r.generated_ms), r.pass ? "pass" : "fail", r.pass ? "PASS" : "FAIL");
  out += "<h2>Controls</h2>\n<table><tr><th>id</th><th>control</th><th>status</th>"
         "<th>detail</th></tr>\n";
  for (const Control& c : r.controls) {
    out += fmt::format("<tr><td>{}</td><td>{}</td><td class=\"{}\">{}</td><td>{}</td></tr>\n",
                       Escape(c.id), Escape(c.title), c.status == "n/a" ? "" : c.status,
                       Escape(c.status), Escape(c.detail));
  }
  out += "</table>\n<h2>Findings</h2>\n<p>";
  for (const char* s : kSeverities) out += fmt::format("{} {} &middot; ", r.findings_by_severity.at(s), s);
  out += fmt::format("{} input(s) not scanned whole</p>\n", r.problems);
  if (!r.top_findings.empty()) {
    out += "<table><tr><th>severity</th><th>rule</th><th>where</th><th>message</th></tr>\n";
    for (const scan::Finding& f : r.top_findings) {
      out += fmt::format("<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>\n",
                         scan::SeverityName(f.severity), Escape(f.rule), Escape(Location(f)),
                         Escape(f.message));
    }
    out += "</table>\n";
  }
  out += "<h2>Secrets</h2>\n";
  if (r.secrets.empty()) {
    out += "<p>No secrets stored.</p>\n";
  } else {
    out += "<table><tr><th>secret</th><th>version</th><th>age (days)</th><th>rotations</th>"
           "<th>pending roll</th></tr>\n";
    for (const SecretAge& a : r.secrets) {
      out += fmt::format("<tr><td>{}</td><td>{}</td><td{}>{}</td><td>{}</td><td>{}</td></tr>\n",
                         Escape(a.name), a.version, a.stale ? " class=\"fail\"" : "", a.age_days,
                         a.rotations, a.pending_roll ? "yes" : "no");
    }
    out += "</table>\n";
  }
  out += "<h2>API tokens</h2>\n";
  if (r.tokens.empty()) {
    out += "<p>Only the admin token (api.token).</p>\n";
  } else {
    out += "<table><tr><th>token</th><th>scope</th><th>created</th><th>last used</th></tr>\n";
    for (const state::ApiTokenRecord& t : r.tokens) {
      out += fmt::format("<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>\n",
                         Escape(t.name), Escape(t.scope), IsoTime(t.created_at_ms),
                         t.last_used_ms > 0 ? IsoTime(t.last_used_ms) : "never");
    }
    out += "</table>\n";
  }
  out += fmt::format("<h2>Audit log since {}</h2>\n<p>{} mutating call(s), {} denied, {} failed."
                     "</p>\n",
                     IsoTime(r.audit_since_ms), r.audit.calls, r.audit.denied, r.audit.errors);
  if (!r.audit.recent_denied.empty()) {
    out += "<table><tr><th>time</th><th>actor</th><th>remote</th><th>call</th><th>status</th>"
           "</tr>\n";
    for (const state::AuditRecord& a : r.audit.recent_denied) {
      out += fmt::format("<tr><td>{}</td><td>{}</td><td>{}</td><td>{} {}</td><td>{}</td></tr>\n",
                         IsoTime(a.time_ms), Escape(a.actor), Escape(a.remote), Escape(a.method),
                         Escape(a.path), a.status);
    }
    out += "</table>\n";
  }
  out += "</body></html>\n";
  return out;
}

}  // namespace steward::report
