// `steward rules check` against Debian's `promtool check rules` (Prometheus 2.42) on every rule
// file under tests/conformance/rules/: both must agree on pass or fail, good/ files must pass,
// bad/ files must fail, and Steward's errors must carry the file's line:col.
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

std::vector<std::string> RuleFiles(const std::string& sub) {
  std::vector<std::string> files;
  for (const auto& e : fs::directory_iterator(fs::path(STEWARD_RULES_DIR) / sub)) {
    if (e.path().extension() == ".yml") files.push_back(e.path().string());
  }
  std::sort(files.begin(), files.end());
  return files;
}

int PromtoolCheck(const std::string& file, const std::string& log) {
  std::string cmd = "promtool check rules '" + file + "' > '" + log + "' 2>&1";
  int status = std::system(cmd.c_str());
  return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

void ExpectAgreement(const std::string& sub, int want_exit) {
  Project p;
  std::vector<std::string> files = RuleFiles(sub);
  ASSERT_GE(files.size(), 5u) << "rule files missing under " << STEWARD_RULES_DIR << "/" << sub;
  for (const std::string& file : files) {
    int promtool = PromtoolCheck(file, p.dir() + "/promtool.log");
    RunResult steward = p.Steward({"rules", "check", file});
    EXPECT_EQ(promtool, want_exit) << "promtool on " << file;
    EXPECT_EQ(steward.exit_code, promtool) << file << "\nsteward: " << steward.out << steward.err;
    if (want_exit == 0) {
      // promtool: "  SUCCESS: N rules found"; steward: "FILE: N rules found".
      std::ifstream in(p.dir() + "/promtool.log");
      std::string log((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
      size_t at = log.find("SUCCESS: ");
      ASSERT_NE(at, std::string::npos) << log;
      std::string count = log.substr(at + 9, log.find(' ', at + 9) - at - 9);
      EXPECT_EQ(steward.out, file + ": " + count + " rules found\n");
      continue;
    }
    // Every error line names the file and a 1-based line:col.
    std::istringstream lines(steward.err);
    int count = 0;
    for (std::string line; std::getline(lines, line); ++count) {
      ASSERT_EQ(line.rfind(file + ":", 0), 0u) << line;
      std::string rest = line.substr(file.size() + 1);
      size_t colon = rest.find(':');
      ASSERT_NE(colon, std::string::npos) << line;
      EXPECT_GT(std::atoi(rest.substr(0, colon).c_str()), 0) << line;
    }
    EXPECT_GT(count, 0) << file << ": no error printed";
  }
}

TEST(RulesCompare, GoodFilesPassLikePromtool) {
  if (!HaveBinary("promtool")) GTEST_SKIP() << "promtool missing: run scripts/setup";
  ExpectAgreement("good", 0);
}

TEST(RulesCompare, BadFilesFailLikePromtool) {
  if (!HaveBinary("promtool")) GTEST_SKIP() << "promtool missing: run scripts/setup";
  ExpectAgreement("bad", 1);
}

TEST(RulesCompare, CountsRulesOfEveryFileAndFailsWhenOneIsBad) {
  Project p;
  std::vector<std::string> args = {"rules", "check", "--json"};
  for (const std::string& f : RuleFiles("good")) args.push_back(f);
  args.push_back(RuleFiles("bad").front());
  RunResult r = p.Steward(args);
  EXPECT_EQ(r.exit_code, 1);
  auto j = nlohmann::json::parse(r.out, nullptr, false);
  ASSERT_TRUE(j.is_object()) << r.out;
  ASSERT_EQ(j["files"].size(), args.size() - 3);
  size_t rules = 0;
  for (const auto& f : j["files"]) rules += f.value("rules", size_t{0});
  EXPECT_GT(rules, 0u);
  EXPECT_FALSE(j["files"].back()["ok"].get<bool>());
  EXPECT_FALSE(j["files"].back()["errors"].empty());
}

}  // namespace
}  // namespace steward::testing
