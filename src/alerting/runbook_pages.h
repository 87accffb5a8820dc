// Runbook pages: one Markdown page per alert name — what the alert checks (expression, for,
// labels, annotations, the group and file it comes from), what it means, the runbooks bound to
// it with their guard rails, their recent runs, and for Steward's built-in alerts a written
// explanation with the steps a person takes by hand. Plus an index of every alert.
//
// Contract: pure functions of their inputs (the daemon gathers rules from the rules API data,
// runbooks from the stack, runs from the RunbookEngine). Text from the stack and from alerts is
// put in Markdown code spans or escaped table cells, so it cannot break the page's structure.
// Thread safety: stateless; safe from any thread.
#pragma once

#include <cstdint>
#include <map>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>
#include <vector>

#include "alerting/runbooks.h"
#include "config/runbook.h"

namespace steward::alerting {

// One alerting rule as the rules API shows it.
struct AlertRuleInfo {
  std::string name;
  std::string expr;
  double for_seconds = 0;
  double keep_firing_for_seconds = 0;
  std::map<std::string, std::string> labels;
  std::map<std::string, std::string> annotations;
  std::string group;
  std::string file;
  std::string state;  // inactive, pending, firing
  int active = 0;     // pending or firing alerts
};

// Steward's explanation of one of its built-in alerts.
struct BuiltinAlertDoc {
  std::string_view name;
  std::string_view meaning;             // a paragraph
  std::vector<std::string_view> steps;  // manual steps, in order
};

// The doc of a built-in alert (StewardReplicaDown, ...), or null for any other name.
const BuiltinAlertDoc* FindBuiltinAlertDoc(std::string_view alertname);
const std::vector<BuiltinAlertDoc>& BuiltinAlertDocs();

// The alerting rules of Prometheus' /api/v1/rules data ({"groups": [...]}); others ignored.
std::vector<AlertRuleInfo> AlertRulesFromJson(const nlohmann::json& data);

struct RunbookPageInput {
  std::string alertname;
  std::vector<AlertRuleInfo> rules;       // the rules raising it (usually one)
  std::vector<config::Runbook> runbooks;  // the runbooks bound to it
  std::vector<RunbookRun> runs;           // their recent runs, newest first
};

std::string RenderRunbookPage(const RunbookPageInput& in);

struct RunbookIndexEntry {
  std::string alertname;
  int rules = 0;
  int runbooks = 0;
  bool builtin = false;
};

// `page_base` is prefixed to each alert name for its link ("/runbooks/").
std::string RenderRunbookIndex(const std::vector<RunbookIndexEntry>& entries,
                               std::string_view page_base);

// Every alert name with a rule, a runbook or a built-in doc, sorted.
std::vector<RunbookIndexEntry> RunbookIndex(const std::vector<AlertRuleInfo>& rules,
                                            const std::vector<config::Runbook>& runbooks);

}  // namespace steward::alerting
