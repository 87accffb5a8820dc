// The Markdown postmortem draft: the facts Steward recorded, then headed empty sections for what
// only people can write. Deterministic: the same incident and timeline give the same text.
#include <set>
#include <string>

#include <nlohmann/json.hpp>

#include "alerting/incidents.h"

namespace steward::alerting {
namespace {

using state::IncidentEvent;
using state::IncidentRecord;

std::string Time(int64_t ms) { return ms > 0 ? FormatRfc3339(FromUnixMillis(ms)) : "-"; }

std::string Offset(int64_t from_ms, int64_t to_ms) {
  if (to_ms < from_ms) return "-" + FormatDuration(Duration(from_ms - to_ms));
  return "+" + FormatDuration(Duration(to_ms - from_ms));
}

std::string Between(int64_t from_ms, int64_t to_ms) {
  return to_ms > 0 ? FormatDuration(Duration(to_ms - from_ms)) : "-";
}

// Table cells: one line, no column breaks.
std::string Cell(const std::string& text) {
  std::string out;
  for (char c : text) {
    if (c == '|') out += "\\|";
    else if (c == '\n' || c == '\r') out += ' ';
    else out += c;
  }
  return out;
}

nlohmann::json Data(const IncidentEvent& e) {
  auto j = nlohmann::json::parse(e.data_json, nullptr, false);
  return j.is_object() ? j : nlohmann::json::object();
}

std::string LabelsText(const nlohmann::json& labels) {
  std::string out;
  if (!labels.is_object()) return out;
  for (const auto& [name, value] : labels.items())
    out += (out.empty() ? "" : ", ") + name + "=\"" + (value.is_string() ? value.get<std::string>()
                                                                        : value.dump()) + "\"";
  return out;
}

void Summary(const IncidentRecord& r, std::string* out) {
  *out += "## Summary\n\n| | |\n|---|---|\n";
  auto row = [out](const std::string& k, const std::string& v) {
    *out += "| " + k + " | " + Cell(v) + " |\n";
  };
  row("Incident", "#" + std::to_string(r.id));
  row("Service", r.service.empty() ? "-" : r.service);
  row("Severity", r.severity);
  row("Status", r.status);
  row("Opened", Time(r.opened_at_ms));
  row("Acknowledged", Time(r.acknowledged_at_ms));
  row("Resolved", Time(r.resolved_at_ms));
  row("Time to acknowledge", Between(r.opened_at_ms, r.acknowledged_at_ms));
  row("Time to resolve", Between(r.opened_at_ms, r.resolved_at_ms));
  *out += "\n";
}

void Alerts(const IncidentRecord& r, const std::vector<IncidentEvent>& events, std::string* out) {
  *out += "## Alerts involved\n\n";
  std::set<std::string> seen;
  for (const auto& e : events) {
    if (e.kind != "fired" && e.kind != "joined") continue;
    nlohmann::json data = Data(e);
    std::string fp = data.value("fingerprint", "");
    if (fp.empty() || !seen.insert(fp).second) continue;
    const nlohmann::json labels = data.value("labels", nlohmann::json::object());
    *out += "- **" + labels.value("alertname", std::string("(unnamed)")) + "**, first at " +
            Time(e.at_ms) + " (" + Offset(r.opened_at_ms, e.at_ms) + ")\n";
    *out += "  - labels: `" + LabelsText(labels) + "`\n";
    const nlohmann::json ann = data.value("annotations", nlohmann::json::object());
    for (const char* key : {"summary", "description"})
      if (ann.contains(key) && ann[key].is_string())
        *out += std::string("  - ") + key + ": " + ann[key].get<std::string>() + "\n";
  }
  if (seen.empty()) *out += "_No alerts are recorded for this incident._\n";
  *out += "\n";
}

void Timeline(const IncidentRecord& r, const std::vector<IncidentEvent>& events,
              std::string* out) {
  *out += "## Timeline (UTC)\n\n| Time | Offset | Event | By | Details |\n|---|---|---|---|---|\n";
  for (const auto& e : events)
    *out += "| " + Time(e.at_ms) + " | " + Offset(r.opened_at_ms, e.at_ms) + " | " + e.kind +
            " | " + Cell(e.actor) + " | " + Cell(e.text) + " |\n";
  *out += "\n";
}

void Remediation(const IncidentRecord& r, const std::vector<IncidentEvent>& events,
                 std::string* out) {
  *out += "## Remediation runs\n\n";
  bool any = false;
  for (const auto& e : events) {
    if (e.kind != "remediation") continue;
    any = true;
    nlohmann::json d = Data(e);
    *out += "- " + Time(e.at_ms) + " (" + Offset(r.opened_at_ms, e.at_ms) + "): runbook `" +
            d.value("runbook", std::string()) + "`";
    if (!d.value("action", std::string()).empty())
      *out += ", action `" + d.value("action", std::string()) + "`";
    *out += (d.value("dry_run", false) ? " (dry run)" : "") + std::string(" — ") +
            d.value("result", std::string("?")) + "\n";
    std::string output = d.value("output", std::string());
    if (!output.empty()) *out += "\n  ```\n  " + output + "\n  ```\n";
  }
  if (!any) *out += "_No remediation ran._\n";
  *out += "\n";
}

void Notes(const std::vector<IncidentEvent>& events, std::string* out) {
  *out += "## Notes\n\n";
  bool any = false;
  for (const auto& e : events) {
    if (e.kind != "note" && !((e.kind == "acknowledged" || e.kind == "resolved") &&
                              !e.text.empty() && e.actor != "steward"))
      continue;
    any = true;
    *out += "- " + Time(e.at_ms) + " " + e.actor + (e.kind == "note" ? "" : " (" + e.kind + ")") +
            ": " + e.text + "\n";
  }
  if (!any) *out += "_No notes._\n";
  *out += "\n";
}

}  // namespace

std::string RenderPostmortem(const IncidentRecord& incident,
                             const std::vector<IncidentEvent>& events) {
  std::string out = "# Postmortem: incident #" + std::to_string(incident.id) + " — " +
                    incident.title + "\n\n";
  out += "_Draft generated by Steward from the incident's timeline. Fill in the sections at the "
         "end; times are UTC, offsets are from the opening._\n\n";
  Summary(incident, &out);
  Alerts(incident, events, &out);
  Timeline(incident, events, &out);
  Remediation(incident, events, &out);
  Notes(events, &out);
  for (const char* section : {"Root cause", "Impact", "What went well", "What went badly",
                              "Action items"})
    out += std::string("## ") + section + "\n\n" + "_To be written._\n\n";
  out.pop_back();
  return out;
}

}  // namespace steward::alerting
