// The DORA report as JSON, a terminal table and Markdown (see dora.h, docs/reports.md).
#include <algorithm>
#include <cmath>
#include <cstdio>

#include "report/dora.h"
#include "report/text_table.h"

namespace steward::report {
namespace {

nlohmann::json Seconds(std::optional<int64_t> ms) {
  if (!ms) return nullptr;
  return static_cast<double>(*ms) / 1000.0;
}
nlohmann::json Number(std::optional<double> v) {
  if (!v) return nullptr;
  return *v;
}
nlohmann::json BandJson(Band b) {
  if (b == Band::kNone) return nullptr;
  return std::string(BandName(b));
}

nlohmann::json RowJson(const DoraRow& r) {
  nlohmann::json j;
  j["service"] = r.service.empty() ? nlohmann::json(nullptr) : nlohmann::json(r.service);
  j["no_deploys"] = !r.HasDeploys();
  j["deployment_frequency"] = {{"deploys", r.deploys},
                               {"per_day", Number(r.deploys_per_day)},
                               {"per_week", Number(r.deploys_per_week)},
                               {"band", BandJson(r.frequency_band)}};
  j["lead_time"] = {{"samples", r.lead_time_samples},
                    {"p50_seconds", Seconds(r.lead_time_p50_ms)},
                    {"p90_seconds", Seconds(r.lead_time_p90_ms)},
                    {"band", BandJson(r.lead_time_band)}};
  j["change_failure"] = {{"finished", r.finished_changes},
                         {"failed", r.failed_changes},
                         {"blamed_for_incidents", r.incident_failures},
                         {"ratio", Number(r.change_failure_ratio)},
                         {"band", BandJson(r.change_failure_band)}};
  j["time_to_restore"] = {{"incidents", r.incidents},
                          {"unresolved_incidents", r.unresolved_incidents},
                          {"unrestored_deploys", r.unrestored_failures},
                          {"samples", r.restore_samples},
                          {"p50_seconds", Seconds(r.time_to_restore_p50_ms)},
                          {"band", BandJson(r.restore_band)}};
  return j;
}

// Durations for people: "350ms", "4m10s", "2h5m", "3d4h".
std::string Human(int64_t ms) {
  constexpr int64_t kDay = 86'400'000;
  if (ms < kDay) return FormatDuration(Duration(ms));
  int64_t hours = ms / 3'600'000;
  std::string text = std::to_string(hours / 24) + "d";
  return hours % 24 == 0 ? text : text + std::to_string(hours % 24) + "h";
}

std::string WithBand(const std::string& value, Band b) {
  return b == Band::kNone ? value : value + " (" + std::string(BandName(b)) + ")";
}

std::string Fixed(double v, int digits) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.*f", digits, v);
  return buf;
}

// The cells of one row, shared by the text and Markdown tables.
std::vector<std::string> Cells(const DoraRow& r) {
  constexpr char kNone[] = "no deploys";
  std::vector<std::string> c;
  c.push_back(r.service.empty() ? "(all)" : r.service);
  if (!r.HasDeploys()) {
    c.insert(c.end(), {kNone, kNone, kNone});
  } else {
    double per_day = *r.deploys_per_day;
    // Below one a day, per week reads better: "0.4/day" says less than "2.8/week".
    std::string freq =
        per_day >= 1 ? Fixed(per_day, 1) + "/day" : Fixed(*r.deploys_per_week, 1) + "/week";
    c.push_back(WithBand(std::to_string(r.deploys) + ", " + freq, r.frequency_band));
    c.push_back(r.lead_time_p50_ms
                    ? WithBand(Human(*r.lead_time_p50_ms) + " / " + Human(*r.lead_time_p90_ms),
                               r.lead_time_band)
                    : "no commit times");
    c.push_back(WithBand(Fixed(*r.change_failure_ratio * 100, 0) + "% (" +
                             std::to_string(r.failed_changes) + "/" +
                             std::to_string(r.finished_changes) + ")",
                         r.change_failure_band));
  }
  std::string restore = r.time_to_restore_p50_ms
                            ? WithBand(Human(*r.time_to_restore_p50_ms) + " (" +
                                           std::to_string(r.restore_samples) + ")",
                                       r.restore_band)
                            : "-";
  int64_t open = r.unresolved_incidents + r.unrestored_failures;
  if (open > 0) restore += ", " + std::to_string(open) + " not restored";
  c.push_back(restore);
  return c;
}

const std::vector<std::string>& Header() {
  static const std::vector<std::string> h = {"SERVICE", "DEPLOYS", "LEAD TIME p50 / p90",
                                             "CHANGE FAILURE", "TIME TO RESTORE p50 (N)"};
  return h;
}

std::vector<std::vector<std::string>> Rows(const DoraReport& report) {
  std::vector<std::vector<std::string>> rows = {Header()};
  for (const auto& r : report.services) rows.push_back(Cells(r));
  rows.push_back(Cells(report.overall));
  return rows;
}

std::string Title(const DoraReport& report) {
  std::string t = "DORA metrics over " + Human(report.window_ms) + " (" +
                  FormatRfc3339(FromUnixMillis(report.since_ms)) + " to " +
                  FormatRfc3339(FromUnixMillis(report.now_ms)) + ")";
  if (!report.service_filter.empty()) t += ", service " + report.service_filter;
  return t;
}

}  // namespace

nlohmann::json ToJson(const DoraReport& report) {
  nlohmann::json j;
  j["now"] = FormatRfc3339(FromUnixMillis(report.now_ms));
  j["since"] = FormatRfc3339(FromUnixMillis(report.since_ms));
  j["window_seconds"] = report.window_ms / 1000;
  j["attribution_seconds"] = report.attribution_ms / 1000;
  j["service"] = report.service_filter.empty() ? nlohmann::json(nullptr)
                                               : nlohmann::json(report.service_filter);
  j["services"] = nlohmann::json::array();
  for (const auto& r : report.services) j["services"].push_back(RowJson(r));
  j["overall"] = RowJson(report.overall);
  return j;
}

std::string ToText(const DoraReport& report) {
  std::string out = Title(report) + "\n\n";
  if (!report.overall.HasDeploys() && report.overall.incidents == 0) {
    return out + "no deploys and no incidents in this window\n";
  }
  return out + TextTable(Rows(report));
}

std::string ToMarkdown(const DoraReport& report) {
  std::string out = "## " + Title(report) + "\n\n";
  if (!report.overall.HasDeploys() && report.overall.incidents == 0) {
    return out + "No deploys and no incidents in this window.\n";
  }
  auto rows = Rows(report);
  auto line = [](const std::vector<std::string>& cells) {
    std::string l = "|";
    for (const auto& c : cells) {
      std::string cell;
      for (char ch : c) cell += ch == '|' ? std::string("\\|") : std::string(1, ch);
      l += " " + cell + " |";
    }
    return l + "\n";
  };
  out += line(rows[0]);
  out += line(std::vector<std::string>(rows[0].size(), "---"));
  for (size_t i = 1; i < rows.size(); ++i) out += line(rows[i]);
  out += "\nBands: the 2021 Accelerate State of DevOps report's clusters (see docs/reports.md).\n";
  return out;
}

}  // namespace steward::report
