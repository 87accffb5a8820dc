// ScanSecretsInGitHistory against real repositories made with the git CLI.
#include <gtest/gtest.h>

#include <array>
#include <cstdio>
#include <filesystem>
#include <set>
#include <string>

#include "scan/secret_rules.h"
#include "scan/secrets.h"
#include "unit/state/temp_dir.h"

namespace steward::scan {
namespace {

namespace fs = std::filesystem;
using state::testing::TempDir;
using state::testing::WriteFile;

const char kKey[] = "AKIAQ3EGRT7NXZ5W2K4M";
const char kToken[] = "ghp_Zr8Kq2LmX4vB8nT1wZ6yC3pF5sH0jGaEeUu1";

// Runs git in `dir`; returns its standard output without the trailing newline.
std::string Git(const std::string& dir, const std::string& args) {
  std::string cmd = "cd '" + dir +
                    "' && GIT_CONFIG_NOSYSTEM=1 GIT_CONFIG_GLOBAL=/dev/null git -c "
                    "user.name=Test -c user.email=test@example.org -c commit.gpgsign=false " +
                    args + " 2>&1";
  FILE* p = popen(cmd.c_str(), "r");
  EXPECT_NE(p, nullptr);
  std::string out;
  std::array<char, 4096> buf;
  size_t n;
  while ((n = fread(buf.data(), 1, buf.size(), p)) > 0) out.append(buf.data(), n);
  EXPECT_EQ(pclose(p), 0) << cmd << "\n" << out;
  while (!out.empty() && out.back() == '\n') out.pop_back();
  return out;
}

std::string Commit(const std::string& dir, const std::string& message) {
  Git(dir, "add -A");
  Git(dir, "commit -q -m '" + message + "'");
  return Git(dir, "rev-parse HEAD");
}

class GitHistoryTest : public ::testing::Test {
 protected:
  void SetUp() override { Git(dir_.path(), "init -q -b main"); }
  std::string Sub(const std::string& name) { return dir_.Sub(name); }
  TempDir dir_;
};

TEST_F(GitHistoryTest, ASecretRemovedLaterIsStillFoundAtTheCommitThatAddedIt) {
  WriteFile(Sub("README.md"), "# app\n");
  Commit(dir_.path(), "one");
  WriteFile(Sub("config.env"), "REGION=eu-west-1\nDEBUG=0\nAWS_ACCESS_KEY_ID=" +
                                   std::string(kKey) + "\n");
  std::string second = Commit(dir_.path(), "two: add config");
  WriteFile(Sub("config.env"), "REGION=eu-west-1\nDEBUG=0\n");
  Commit(dir_.path(), "three: remove the key");
  WriteFile(Sub("config.env"), "REGION=eu-west-2\nDEBUG=0\n");
  Commit(dir_.path(), "four");

  // Nothing left in the tree.
  SecretScanOptions o;
  o.allow_paths = {".git/**"};
  EXPECT_TRUE(ScanSecretsInTree(dir_.path(), o).findings.empty());

  ScanResult r = ScanSecretsInGitHistory(dir_.path(), {}, 0);
  EXPECT_TRUE(r.problems.empty()) << r.problems[0].ToString();
  ASSERT_EQ(r.findings.size(), 1u);
  const Finding& f = r.findings[0];
  EXPECT_EQ(f.rule, "aws-access-key-id");
  EXPECT_EQ(f.path, "config.env");
  EXPECT_EQ(f.line, 3);
  EXPECT_EQ(f.column, 19);
  EXPECT_EQ(f.commit, second);
  EXPECT_EQ(f.snippet, "AWS_ACCESS_KEY_ID=AKIA…");
  EXPECT_EQ(f.fingerprint, SecretFingerprint("aws-access-key-id", "config.env", kKey));
  EXPECT_NE(f.message.find(second.substr(0, 12)), std::string::npos);
  EXPECT_EQ(f.message.find(kKey), std::string::npos);
  EXPECT_GE(r.files, 3u);  // README, config.env twice (the removal adds no line)
}

TEST_F(GitHistoryTest, OneKeyInManyCommitsIsOneFindingAtTheOldest) {
  WriteFile(Sub("deploy.sh"), "export GH=" + std::string(kToken) + "\n");
  std::string first = Commit(dir_.path(), "add");
  for (int i = 0; i < 5; ++i) {
    // The key's line changes each time (so it is "added" again), the value does not.
    WriteFile(Sub("deploy.sh"), "export GH=" + std::string(kToken) + "  # v" +
                                    std::to_string(i) + "\n");
    Commit(dir_.path(), "edit " + std::to_string(i));
  }
  SecretScanOptions o;
  o.threads = 3;
  ScanResult r = ScanSecretsInGitHistory(dir_.path(), o, 0);
  ASSERT_EQ(r.findings.size(), 1u);
  EXPECT_EQ(r.findings[0].commit, first);
  EXPECT_EQ(r.findings[0].rule, "github-token");
}

TEST_F(GitHistoryTest, EveryBranchIsScannedAndMaxCommitsKeepsTheNewest) {
  WriteFile(Sub("a.txt"), "hello\n");
  Commit(dir_.path(), "base");
  Git(dir_.path(), "checkout -q -b feature");
  WriteFile(Sub("b.env"), "TOKEN=" + std::string(kToken) + "\n");
  std::string on_branch = Commit(dir_.path(), "on a branch");
  Git(dir_.path(), "checkout -q main");
  WriteFile(Sub("a.txt"), "hello\nKEY=" + std::string(kKey) + "\n");
  std::string on_main = Commit(dir_.path(), "on main");

  ScanResult all = ScanSecretsInGitHistory(dir_.path(), {}, 0);
  ASSERT_EQ(all.findings.size(), 2u);
  std::set<std::string> commits = {all.findings[0].commit, all.findings[1].commit};
  EXPECT_EQ(commits, (std::set<std::string>{on_branch, on_main}));
  for (const Finding& f : all.findings) {
    if (f.commit == on_main) {
      EXPECT_EQ(f.line, 2);
    }
  }

  ScanResult newest = ScanSecretsInGitHistory(dir_.path(), {}, 1);
  ASSERT_EQ(newest.findings.size(), 1u);
}

TEST_F(GitHistoryTest, AllowlistAndBaselineApplyToHistory) {
  WriteFile(Sub("x.env"), "KEY=" + std::string(kKey) + "\n");
  WriteFile(Sub("fixtures/y.env"), "TOKEN=" + std::string(kToken) + "\n");
  Commit(dir_.path(), "secrets");
  SecretScanOptions o;
  o.allow_paths = {"fixtures/**"};
  ScanResult r = ScanSecretsInGitHistory(dir_.path(), o, 0);
  ASSERT_EQ(r.findings.size(), 1u);
  EXPECT_EQ(r.findings[0].path, "x.env");

  TempDir other;
  WriteFile(other.Sub("allow"), "rule: aws-access-key-id\n");
  o.allowlist_file = other.Sub("allow");
  EXPECT_TRUE(ScanSecretsInGitHistory(dir_.path(), o, 0).findings.empty());
}

TEST_F(GitHistoryTest, NoCommitsIsNothingToScanAndNotARepositoryIsAProblem) {
  ScanResult empty = ScanSecretsInGitHistory(dir_.path(), {}, 0);
  EXPECT_TRUE(empty.findings.empty());
  EXPECT_TRUE(empty.problems.empty());
  EXPECT_EQ(empty.files, 0u);

  TempDir plain;
  ScanResult none = ScanSecretsInGitHistory(plain.path(), {}, 0);
  ASSERT_EQ(none.problems.size(), 1u);
  EXPECT_NE(none.problems[0].message.find("not a git repository"), std::string::npos);
}

}  // namespace
}  // namespace steward::scan
