// rules check: validates Prometheus rule files as `promtool check rules` does, with Steward's
// messages (file:line:col, what is wrong, what would be right) and the PromQL column.
//
// Each good file prints "FILE: N rules found" on stdout; every error of a bad file goes to
// stderr. Exit 1 when any file fails. --json prints one object per file instead.
#include <iostream>
#include <nlohmann/json.hpp>

#include "alerting/rule_file.h"
#include "cli/cli.h"

namespace steward::cli {
namespace {

nlohmann::json FileJson(const std::string& path, const alerting::RuleFileResult& r) {
  nlohmann::json errors = nlohmann::json::array();
  for (const alerting::RuleError& e : r.errors) {
    errors.push_back(
        {{"line", e.line}, {"column", e.column}, {"message", e.message}, {"text", e.ToString()}});
  }
  return {{"file", path},
          {"ok", r.ok()},
          {"groups", r.ok() ? r.file.groups.size() : 0},
          {"rules", r.ok() ? r.file.RuleCount() : 0},
          {"errors", errors}};
}

int RunRulesCheck(const Context& ctx, const std::vector<std::string>& files) {
  bool failed = false;
  nlohmann::json out = {{"files", nlohmann::json::array()}};
  for (const std::string& path : files) {
    alerting::RuleFileResult r = alerting::LoadRuleFile(path);
    failed = failed || !r.ok();
    if (ctx.g.json) {
      out["files"].push_back(FileJson(path, r));
    } else if (r.ok()) {
      std::cout << path << ": " << r.file.RuleCount() << " rules found\n";
    } else {
      for (const alerting::RuleError& e : r.errors) std::cerr << e.ToString() << "\n";
    }
  }
  if (ctx.g.json) std::cout << out.dump(2) << "\n";
  return failed ? kExitError : kExitOk;
}

}  // namespace

void AddRules(CLI::App& app, Context& ctx, int& rc) {
  static std::vector<std::string> files;
  auto* rules = app.add_subcommand("rules", "Prometheus rule files (alerting and recording)");
  rules->require_subcommand(1);
  auto* check = rules->add_subcommand(
      "check", "Check rule files as `promtool check rules` does; exit 1 if any has an error");
  check->add_option("files", files, "Rule files (Prometheus' groups: format)")->required();
  check->add_flag("--json", ctx.g.json, "Print a JSON object per file with its errors");
  check->callback([&] { rc = RunRulesCheck(ctx, files); });
}

}  // namespace steward::cli
