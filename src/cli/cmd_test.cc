// test rules: runs rule unit-test files as `promtool test rules` does (alerting/rule_test_runner.h)
// and prints what promtool prints: "Unit Testing:  FILE", then "  SUCCESS" on stdout, or
// "  FAILED:" and every failure on stderr. Exit 1 when any file fails. --json prints one object
// per file with its tests and failures instead; --run selects test groups by name.
#include <iostream>
#include <nlohmann/json.hpp>

#include "alerting/rule_test_runner.h"
#include "cli/cli.h"

namespace steward::cli {
namespace {

struct TestRulesFlags {
  std::vector<std::string> files;
  std::string run;
};

nlohmann::json FileJson(const alerting::RuleTestFileResult& r) {
  nlohmann::json failures = nlohmann::json::array();
  for (const alerting::RuleTestFailure& f : r.failures) {
    nlohmann::json j = {{"kind", alerting::FailureKindName(f.kind)}, {"text", f.text}};
    if (f.test_index >= 0) j["test_index"] = f.test_index;
    if (!f.test.empty()) j["test"] = f.test;
    if (!f.alertname.empty()) j["alertname"] = f.alertname;
    if (!f.expr.empty()) j["expr"] = f.expr;
    if (!f.rule.empty()) j["rule"] = f.rule;
    if (f.kind == alerting::RuleTestFailure::Kind::kAlert ||
        f.kind == alerting::RuleTestFailure::Kind::kExpr ||
        f.kind == alerting::RuleTestFailure::Kind::kRule) {
      j["eval_time_ms"] = f.eval_time_ms;
    }
    failures.push_back(std::move(j));
  }
  nlohmann::json tests = nlohmann::json::array();
  for (const alerting::RuleTestGroupResult& t : r.tests) {
    tests.push_back({{"index", t.index},
                     {"name", t.name},
                     {"ran", t.ran},
                     {"ok", t.ran && t.failures == 0},
                     {"failures", t.failures}});
  }
  return {{"file", r.path},
          {"ok", r.ok()},
          {"warnings", r.warnings},
          {"tests", tests},
          {"failures", failures}};
}

void PrintText(const alerting::RuleTestFileResult& r) {
  // promtool interleaves stdout and stderr in this order; flush so a terminal shows it so.
  std::cout << "Unit Testing:  " << r.path << std::endl;
  for (const std::string& w : r.warnings) std::cerr << w << std::endl;
  if (r.ok()) {
    std::cout << "  SUCCESS\n";
  } else {
    std::cerr << "  FAILED:\n";
    for (const alerting::RuleTestFailure& f : r.failures) {
      std::cerr << f.text << std::endl;
      std::cout << std::endl;
    }
  }
  std::cout << std::endl;
}

int RunTestRules(const Context& ctx, const TestRulesFlags& flags) {
  alerting::RuleTestOptions options;
  if (!flags.run.empty()) {
    try {
      options.run.emplace(flags.run, std::regex::ECMAScript);
    } catch (const std::regex_error& e) {
      return Fail(
          InvalidArgument("--run: invalid regular expression \"" + flags.run + "\": " + e.what()));
    }
  }
  bool failed = false;
  nlohmann::json out = {{"files", nlohmann::json::array()}};
  for (const std::string& path : flags.files) {
    alerting::RuleTestFileResult r = alerting::RunRuleTestFile(path, options);
    failed = failed || !r.ok();
    if (ctx.g.json) {
      out["files"].push_back(FileJson(r));
    } else {
      PrintText(r);
    }
  }
  if (ctx.g.json) std::cout << out.dump(2) << "\n";
  return failed ? kExitError : kExitOk;
}

}  // namespace

void AddTest(CLI::App& app, Context& ctx, int& rc) {
  static TestRulesFlags flags;
  auto* test = app.add_subcommand("test", "Unit tests of Prometheus rules");
  test->require_subcommand(1);
  auto* rules = test->add_subcommand(
      "rules", "Run rule unit-test files as `promtool test rules` does; exit 1 if any test fails");
  rules->add_option("files", flags.files, "Test files (promtool's rule unit-test format)")
      ->required();
  rules->add_flag("--json", ctx.g.json, "Print a JSON object per file with its tests and failures");
  rules->add_option("--run", flags.run,
                    "Run only the test groups whose name matches this regular expression");
  rules->callback([&] { rc = RunTestRules(ctx, flags); });
}

}  // namespace steward::cli
