// `steward test rules` against Debian's `promtool test rules` (Prometheus 2.42) on every test
// file in tests/conformance/rules_tests/ (rule files under rules/): both must agree on pass or
// fail, pass_* files must pass and fail_* files fail, and the failures must name the same test
// groups, alerts, expressions and rules at the same times.
#include <gtest/gtest.h>
#include <sys/wait.h>

#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <sstream>
#include <string>
#include <vector>

#include "integration/harness.h"
#include "integration/peers.h"

namespace steward::testing {
namespace {

namespace fs = std::filesystem;

std::vector<std::string> TestFiles() {
  std::vector<std::string> files;
  for (const auto& e : fs::directory_iterator(STEWARD_RULES_TESTS_DIR)) {
    if (e.is_regular_file() && e.path().extension() == ".yml") files.push_back(e.path().string());
  }
  std::sort(files.begin(), files.end());
  return files;
}

struct PromtoolRun {
  int exit_code = -1;
  std::string err;
};

PromtoolRun PromtoolTest(const std::string& file, const std::string& dir) {
  std::string log = dir + "/promtool.err";
  std::string cmd = "promtool test rules '" + file + "' > /dev/null 2> '" + log + "'";
  int status = std::system(cmd.c_str());
  std::ifstream in(log);
  return {WIFEXITED(status) ? WEXITSTATUS(status) : -1,
          std::string((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>())};
}

// The heads of promtool's failure lines: "name: N,", "alertname: A, time: 5m,",
// `expr: "up", time: 1m,` and "rule: r, time: 0s," — what failed and when, not the details.
std::vector<std::string> FailureHeads(const std::string& err) {
  std::vector<std::string> heads;
  std::istringstream lines(err);
  for (std::string line; std::getline(lines, line);) {
    for (std::string_view key : {"    name: ", "    alertname: ", "    expr: ", "    rule: "}) {
      if (line.rfind(key, 0) != 0) continue;
      size_t time = line.find(", time: ");
      size_t end = time == std::string::npos ? line.size() : line.find(',', time + 8);
      heads.push_back(line.substr(0, end));
    }
  }
  return heads;
}

TEST(RulesTestCompare, EveryFileAgreesWithPromtool) {
  if (!HaveBinary("promtool")) GTEST_SKIP() << "promtool missing: run scripts/setup";
  Project p;
  std::vector<std::string> files = TestFiles();
  ASSERT_GE(files.size(), 20u) << "test files missing under " << STEWARD_RULES_TESTS_DIR;
  int passing = 0, failing = 0;
  for (const std::string& file : files) {
    std::string base = fs::path(file).filename().string();
    int want = base.rfind("pass_", 0) == 0 ? 0 : 1;
    (want == 0 ? passing : failing)++;
    PromtoolRun promtool = PromtoolTest(file, p.dir());
    RunResult steward = p.Steward({"test", "rules", file});
    EXPECT_EQ(promtool.exit_code, want) << "promtool on " << base << "\n" << promtool.err;
    EXPECT_EQ(steward.exit_code, promtool.exit_code)
        << base << "\nsteward:\n"
        << steward.out << steward.err << "\npromtool:\n"
        << promtool.err;
    EXPECT_EQ(FailureHeads(steward.err), FailureHeads(promtool.err))
        << base << "\nsteward:\n"
        << steward.err << "\npromtool:\n"
        << promtool.err;
    if (want == 0) {
      EXPECT_NE(steward.out.find("  SUCCESS"), std::string::npos) << base << steward.out;
    } else {
      EXPECT_NE(steward.err.find("  FAILED:"), std::string::npos) << base << steward.err;
    }
  }
  EXPECT_GE(passing, 8);
  EXPECT_GE(failing, 8);
}

TEST(RulesTestCompare, AlertAndExpressionFailuresPrintAsPromtoolDoes) {
  if (!HaveBinary("promtool")) GTEST_SKIP() << "promtool missing: run scripts/setup";
  Project p;
  for (const char* name :
       {"fail_wrong_labels.yml", "fail_wrong_annotations.yml", "fail_wrong_sample.yml",
        "fail_named_group.yml", "fail_group_eval_order.yml", "fail_external_labels.yml"}) {
    std::string file = (fs::path(STEWARD_RULES_TESTS_DIR) / name).string();
    PromtoolRun promtool = PromtoolTest(file, p.dir());
    RunResult steward = p.Steward({"test", "rules", file});
    EXPECT_EQ(steward.err, promtool.err) << name;
  }
}

TEST(RulesTestCompare, JsonNamesEachFailure) {
  Project p;
  std::string file = (fs::path(STEWARD_RULES_TESTS_DIR) / "fail_named_group.yml").string();
  RunResult r = p.Steward({"test", "rules", "--json", file});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.out.find("\"test\": \"fails\""), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("\"kind\": \"expr\""), std::string::npos) << r.out;
  RunResult selected = p.Steward({"test", "rules", "--run", "^passes$", file});
  EXPECT_EQ(selected.exit_code, 0) << selected.out << selected.err;
}

}  // namespace
}  // namespace steward::testing
