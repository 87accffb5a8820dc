#include "scan/baseline.h"

#include <gtest/gtest.h>
#include <sys/stat.h>

#include <filesystem>
#include <set>
#include <string>
#include <vector>

#include "unit/state/temp_dir.h"

namespace steward::scan {
namespace {

namespace fs = std::filesystem;
using state::testing::ReadFile;
using state::testing::TempDir;
using state::testing::WriteFile;

Finding Make(std::string scanner, std::string rule, std::string path, std::string fp) {
  Finding f;
  f.scanner = std::move(scanner);
  f.rule = std::move(rule);
  f.path = std::move(path);
  f.line = 7;
  f.fingerprint = std::move(fp);
  return f;
}

std::string Hex(char c) { return std::string(64, c); }

TEST(Baseline, RoundTripsAnyScannersFindings) {
  TempDir dir;
  ScanResult r;
  r.findings.push_back(Make("secrets", "github-token", "a.env", Hex('a')));
  r.findings.push_back(Make("deps", "GHSA-1234-5678-9abc", "package-lock.json", Hex('b')));
  r.findings.push_back(Make("config", "dockerfile-root-user", "Dockerfile", Hex('c')));
  r.findings.push_back(Make("secrets", "github-token", "a.env", Hex('a')));  // duplicate
  r.findings[0].commit = "0123456789abcdef0123456789abcdef01234567";
  std::string path = dir.Sub("baseline.json");
  ASSERT_TRUE(WriteBaseline(path, r).ok());
  auto b = LoadBaseline(path);
  ASSERT_TRUE(b.ok()) << b.status().ToString();
  EXPECT_EQ(b->fingerprints, (std::set<std::string>{Hex('a'), Hex('b'), Hex('c')}));
  std::string text = ReadFile(path);
  EXPECT_NE(text.find("\"version\": 1"), std::string::npos);
  EXPECT_NE(text.find("dockerfile-root-user"), std::string::npos);

  // A later scan: the three known findings go, the new one stays.
  ScanResult later = r;
  later.findings.push_back(Make("secrets", "npm-token", ".npmrc", Hex('d')));
  EXPECT_EQ(ApplyBaseline(*b, &later), 4u);
  ASSERT_EQ(later.findings.size(), 1u);
  EXPECT_EQ(later.findings[0].rule, "npm-token");
}

TEST(Baseline, WriteReplacesAtomicallyAndLeavesNoTemporaryFile) {
  TempDir dir;
  std::string path = dir.Sub("baseline.json");
  WriteFile(path, "old");
  ScanResult r;
  r.findings.push_back(Make("secrets", "jwt", "x", Hex('e')));
  ASSERT_TRUE(WriteBaseline(path, r).ok());
  int files = 0;
  for (const auto& e : fs::directory_iterator(dir.path())) {
    ++files;
    EXPECT_EQ(e.path().filename(), "baseline.json");
  }
  EXPECT_EQ(files, 1);
  struct stat st;
  ASSERT_EQ(stat(path.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0644u);
  EXPECT_TRUE(LoadBaseline(path).ok());
}

TEST(Baseline, WriteToAMissingDirectoryFails) {
  TempDir dir;
  Status st = WriteBaseline(dir.Sub("no/such/baseline.json"), ScanResult{});
  EXPECT_EQ(st.code(), StatusCode::kIOError);
  EXPECT_NE(st.message().find("no/such/baseline.json"), std::string::npos);
}

TEST(Baseline, BadFilesSayWhereAndWhat) {
  struct Case {
    std::string text;
    std::string want;
  };
  for (const Case& c : std::vector<Case>{
           {"{\n  \"version\": 1,\n  \"findings\": [,]\n}", "b.json:3:16: not valid JSON"},
           {"[]", "b.json: not a JSON object"},
           {"{\"version\": 2, \"findings\": []}", "b.json: \"version\" must be 1"},
           {"{\"version\": 1}", "b.json: \"findings\" must be an array"},
           {"{\"version\": 1, \"findings\": [{\"fingerprint\": \"abc\"}, {\"rule\": \"x\"}]}",
            "b.json: findings[1]: \"fingerprint\" must be a lowercase hex string"},
           {"{\"version\": 1, \"findings\": [\"abc\"]}", "b.json: findings[0]: must be an object"},
           // Too large for any JSON number type: nlohmann throws out_of_range, not parse_error
           // (found by scan_input_fuzz).
           {"4444444444444440000000000000000000000000000061250205e3213523740",
            "b.json: not valid JSON: a number is out of range"},
       }) {
    auto b = ParseBaseline(c.text, "b.json");
    ASSERT_FALSE(b.ok()) << c.text;
    EXPECT_EQ(b.status().code(), StatusCode::kCorruption);
    EXPECT_EQ(b.status().message().rfind(c.want, 0), 0u) << b.status().message();
  }
  EXPECT_EQ(LoadBaseline("/nonexistent/b.json").status().code(), StatusCode::kIOError);
}

TEST(Baseline, EmptyBaselineRemovesNothing) {
  auto b = ParseBaseline("{\"version\": 1, \"findings\": []}", "b.json");
  ASSERT_TRUE(b.ok());
  ScanResult r;
  r.findings.push_back(Make("secrets", "jwt", "x", Hex('e')));
  EXPECT_EQ(ApplyBaseline(*b, &r), 0u);
  EXPECT_EQ(r.findings.size(), 1u);
}

}  // namespace
}  // namespace steward::scan
