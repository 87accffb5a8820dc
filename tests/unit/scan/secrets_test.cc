#include "scan/secrets.h"

#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "base/sha256.h"
#include "scan/baseline.h"
#include "scan/secret_rules.h"
#include "unit/state/temp_dir.h"

namespace steward::scan {
namespace {

namespace fs = std::filesystem;
using state::testing::ReadFile;
using state::testing::TempDir;
using state::testing::WriteFile;

// tests/fixtures/scan/secrets: planted/ holds one secret of each kind (expected.txt lists
// path:line:rule), clean/ near misses only. Found through STEWARD_SCAN_FIXTURES, else from
// __FILE__ (relative to the build folder under Ninja with ccache's base dir).
fs::path FixtureDir() {
#ifdef STEWARD_SCAN_FIXTURES
  if (fs::exists(fs::path(STEWARD_SCAN_FIXTURES) / "secrets/expected.txt")) {
    return fs::path(STEWARD_SCAN_FIXTURES) / "secrets";
  }
#endif
  for (const fs::path& base :
       {fs::path(), fs::read_symlink("/proc/self/exe").parent_path().parent_path()}) {
    fs::path p = base / fs::path(__FILE__).parent_path() / "../../fixtures/scan/secrets";
    if (fs::exists(p / "expected.txt")) return fs::canonical(p);
  }
  ADD_FAILURE() << "tests/fixtures/scan/secrets not found from " << __FILE__;
  return {};
}

std::set<std::string> Expected() {
  std::set<std::string> out;
  std::istringstream in(ReadFile((FixtureDir() / "expected.txt").string()));
  for (std::string line; std::getline(in, line);) {
    if (!line.empty() && line[0] != '#') out.insert(line);
  }
  return out;
}

std::set<std::string> Found(const ScanResult& r) {
  std::set<std::string> out;
  for (const Finding& f : r.findings) {
    out.insert(f.path + ":" + std::to_string(f.line) + ":" + f.rule);
  }
  return out;
}

// Every value a rule would report in the fixture's planted files, read back from the files at
// the findings' positions: the secrets a finding must not contain.
std::vector<std::string> PlantedValues(const fs::path& root, const ScanResult& r) {
  std::vector<std::string> values;
  for (const Finding& f : r.findings) {
    std::ifstream in(root / f.path);
    std::string line;
    for (int i = 0; i < f.line && std::getline(in, line);) ++i;
    if (f.rule == "private-key") {
      std::getline(in, line);  // the body's first line
      values.push_back(line.substr(0, 20));
      continue;
    }
    std::string rest = line.substr(static_cast<size_t>(f.column - 1));
    // The value runs to the first quote, blank or '@' (the URL password).
    size_t end = rest.find_first_of("\"' @\r");
    values.push_back(rest.substr(0, end));
  }
  return values;
}

void ExpectNoValueIn(const Finding& f, const std::string& v) {
  ASSERT_GE(v.size(), 8u) << f.rule;
  // Any 8 consecutive characters of the value past its 4-character prefix are a leak.
  for (size_t i = 4; i + 8 <= v.size(); ++i) {
    std::string part = v.substr(i, 8);
    for (const std::string* field : {&f.scanner, &f.rule, &f.title, &f.message, &f.path,
                                     &f.commit, &f.snippet, &f.fingerprint, &f.ecosystem,
                                     &f.package, &f.version, &f.url}) {
      EXPECT_EQ(field->find(part), std::string::npos)
          << f.rule << " at " << f.path << ":" << f.line << " leaks its value";
    }
  }
}

TEST(SecretScan, FindsEveryPlantedSecretAndNothingInTheCleanFiles) {
  fs::path root = FixtureDir();
  SecretScanOptions o;
  o.threads = 2;
  ScanResult r = ScanSecretsInTree(root, o);
  EXPECT_TRUE(r.problems.empty()) << r.problems[0].ToString();
  std::set<std::string> expected = Expected();
  std::set<std::string> found = Found(r);
  ASSERT_GE(expected.size(), 20u);
  for (const std::string& e : expected) EXPECT_EQ(found.count(e), 1u) << "missed " << e;
  for (const std::string& f : found) EXPECT_EQ(expected.count(f), 1u) << "false positive " << f;
  EXPECT_EQ(r.findings.size(), expected.size()) << "one finding per secret";
  // Every planted rule is a distinct kind, and each is counted as read (blob.bin is binary).
  std::set<std::string> rules;
  for (const Finding& f : r.findings) rules.insert(f.rule);
  EXPECT_GE(rules.size(), 19u);
  EXPECT_GT(r.files, 20u);
  EXPECT_GT(r.bytes, 10000u);
}

TEST(SecretScan, AFindingNeverHoldsTheValue) {
  fs::path root = FixtureDir();
  ScanResult r = ScanSecretsInTree(root, {});
  ASSERT_FALSE(r.findings.empty());
  std::vector<std::string> values = PlantedValues(root, r);
  for (size_t i = 0; i < r.findings.size(); ++i) {
    const Finding& f = r.findings[i];
    SCOPED_TRACE(f.path + ":" + std::to_string(f.line) + " " + f.rule);
    EXPECT_EQ(f.scanner, "secrets");
    EXPECT_GT(f.column, 0);
    EXPECT_EQ(f.fingerprint.size(), 64u);
    EXPECT_NE(f.message.find("steward secret set"), std::string::npos);
    // Every finding of a value shows its mask; a private key shows its header only.
    if (f.rule != "private-key") {
      EXPECT_NE(f.snippet.find(MaskSecret(values[i])), std::string::npos) << f.snippet;
    }
    for (const Finding& g : r.findings) ExpectNoValueIn(g, values[i]);
  }
}

TEST(SecretScan, ReportsLineColumnAndMaskedSnippet) {
  TempDir dir;
  std::string token = "ghp_" + std::string("R2d9Kq7LmX4vB8nT1wZ6yC3pF5sH0jGaEeUu");
  WriteFile(dir.Sub("ci.yml"), "name: ci\n\nenv:\n  GH: \"" + token + "\"  # deploy\n");
  ScanResult r = ScanSecretsInTree(dir.path(), {});
  ASSERT_EQ(r.findings.size(), 1u);
  const Finding& f = r.findings[0];
  EXPECT_EQ(f.rule, "github-token");
  EXPECT_EQ(f.path, "ci.yml");
  EXPECT_EQ(f.line, 4);
  EXPECT_EQ(f.column, 8);
  EXPECT_EQ(f.snippet, "GH: \"ghp_…\"  # deploy");
  EXPECT_EQ(f.severity, Severity::kCritical);
  EXPECT_EQ(f.fingerprint, SecretFingerprint("github-token", "ci.yml", token));
  EXPECT_TRUE(f.commit.empty());
}

TEST(SecretScan, FingerprintIsStableWhenTheLineMovesAndDiffersByPath) {
  TempDir dir;
  std::string key = "AKIAQ3EGRT7NXZ5W2K4M";
  WriteFile(dir.Sub("a.env"), "KEY=" + key + "\n");
  ScanResult first = ScanSecretsInTree(dir.path(), {});
  WriteFile(dir.Sub("a.env"), "# moved\n\nKEY=" + key + "\n");
  WriteFile(dir.Sub("b.env"), "KEY=" + key + "\n");
  ScanResult second = ScanSecretsInTree(dir.path(), {});
  ASSERT_EQ(first.findings.size(), 1u);
  ASSERT_EQ(second.findings.size(), 2u);
  EXPECT_EQ(second.findings[0].path, "a.env");
  EXPECT_EQ(second.findings[0].line, 3);
  EXPECT_EQ(second.findings[0].fingerprint, first.findings[0].fingerprint);
  EXPECT_NE(second.findings[1].fingerprint, first.findings[0].fingerprint);
  EXPECT_EQ(first.findings[0].fingerprint.find(key), std::string::npos);
}

TEST(SecretScan, TwoSecretsOnOneLineAreBothMaskedInEachSnippet) {
  TempDir dir;
  std::string a = "ghp_Zr8Kq2LmX4vB8nT1wZ6yC3pF5sH0jGaEeUu1";
  std::string b = "npm_Wq3Zr8Kq2LmX4vB8nT1wZ6yC3pF5sH0jGaEe";
  WriteFile(dir.Sub("x.txt"), "tokens " + a + " and " + b + "\n");
  ScanResult r = ScanSecretsInTree(dir.path(), {});
  ASSERT_EQ(r.findings.size(), 2u);
  for (const Finding& f : r.findings) {
    EXPECT_EQ(f.snippet, "tokens ghp_… and npm_…");
  }
}

TEST(SecretScan, PlaceholdersAndLowEntropyValuesAreQuiet) {
  TempDir dir;
  WriteFile(dir.Sub("docs.md"),
            "AKIAIOSFODNN7EXAMPLE\n"
            "password = \"changeme\"\n"
            "secret: \"${APP_SECRET}\"\n"
            "token = \"<token>\"\n"
            "api_key = \"xxxxxxxxxxxxxxxxxxxx\"\n"
            "ghp_aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\n"
            "key = AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA\n"
            "session = abcdefghijklmnopqrstuvwxyzABCD1234\n");
  ScanResult r = ScanSecretsInTree(dir.path(), {});
  for (const Finding& f : r.findings) ADD_FAILURE() << f.rule << " at line " << f.line;
}

TEST(SecretScan, MinEntropyGovernsTheGenericRule) {
  TempDir dir;
  WriteFile(dir.Sub("app.ini"), "seed = Zk3Q9pL2mN8xR4vT7wY1bC6d\n");
  SecretScanOptions o;
  EXPECT_EQ(ScanSecretsInTree(dir.path(), o).findings.size(), 1u);
  o.min_entropy = 5.0;  // 24 distinct characters: log2(24) ≈ 4.58 bits
  EXPECT_EQ(ScanSecretsInTree(dir.path(), o).findings.size(), 0u);
}

TEST(SecretScan, SkipsGitDirectoriesBinaryFilesAndSymlinks) {
  TempDir dir;
  std::string line = "t = \"ghp_Zr8Kq2LmX4vB8nT1wZ6yC3pF5sH0jGaEeUu1\"\n";
  fs::create_directories(dir.Sub(".git/objects"));
  WriteFile(dir.Sub(".git/config"), line);
  WriteFile(dir.Sub("image.bin"), std::string("\x89PNG\0\0", 6) + line);
  fs::create_directories(dir.Sub("node_modules/pkg"));
  WriteFile(dir.Sub("node_modules/pkg/index.js"), line);
  fs::create_symlink(dir.Sub("node_modules/pkg/index.js"), dir.Sub("link.js"));
  ScanResult r = ScanSecretsInTree(dir.path(), {});
  ASSERT_EQ(r.findings.size(), 1u);
  EXPECT_EQ(r.findings[0].path, "node_modules/pkg/index.js");
  EXPECT_EQ(r.files, 1u);
}

TEST(SecretScan, ARootThatIsAFileIsScannedAndAMissingRootIsAProblem) {
  TempDir dir;
  WriteFile(dir.Sub("a.env"), "\nKEY=AKIAQ3EGRT7NXZ5W2K4M\n");
  ScanResult r = ScanSecretsInTree(dir.Sub("a.env"), {});
  ASSERT_EQ(r.findings.size(), 1u);
  EXPECT_EQ(r.findings[0].path, "a.env");
  EXPECT_EQ(r.findings[0].line, 2);
  ScanResult missing = ScanSecretsInTree(dir.Sub("nope"), {});
  EXPECT_TRUE(missing.findings.empty());
  ASSERT_EQ(missing.problems.size(), 1u);
  EXPECT_NE(missing.problems[0].message.find("No such file"), std::string::npos);
}

TEST(SecretScan, BigFilesAreSkippedWithAProblem) {
  TempDir dir;
  WriteFile(dir.Sub("big.txt"), std::string(5000, 'a') + "\nAKIAQ3EGRT7NXZ5W2K4M\n");
  WriteFile(dir.Sub("small.txt"), "AKIAQ3EGRT7NXZ5W2K4M\n");
  SecretScanOptions o;
  o.max_file_bytes = 1000;
  ScanResult r = ScanSecretsInTree(dir.path(), o);
  ASSERT_EQ(r.findings.size(), 1u);
  EXPECT_EQ(r.findings[0].path, "small.txt");
  ASSERT_EQ(r.problems.size(), 1u);
  EXPECT_EQ(r.problems[0].path, "big.txt");
  EXPECT_NE(r.problems[0].message.find("max_file_bytes"), std::string::npos);
}

// Root reads any file, so the scan runs in a child that has dropped to nobody.
TEST(SecretScanDeathTest, UnreadableFileIsAProblemAndTheRestIsScanned) {
  GTEST_FLAG_SET(death_test_style, "threadsafe");
  TempDir dir;
  ASSERT_EQ(chmod(dir.path().c_str(), 0755), 0);
  WriteFile(dir.Sub("locked.env"), "KEY=AKIAQ3EGRT7NXZ5W2K4M\n");
  WriteFile(dir.Sub("open.env"), "KEY=AKIAZ7WQ3EGRT7NXZ5W2\n");
  ASSERT_EQ(chmod(dir.Sub("locked.env").c_str(), 0), 0);
  ASSERT_EQ(chmod(dir.Sub("open.env").c_str(), 0644), 0);
  EXPECT_EXIT(
      {
        if (geteuid() == 0 && (setgid(65534) != 0 || setuid(65534) != 0)) std::exit(3);
        ScanResult r = ScanSecretsInTree(dir.path(), {});
        bool ok = r.findings.size() == 1 && r.findings[0].path == "open.env" &&
                  r.problems.size() == 1 && r.problems[0].path == "locked.env" &&
                  r.problems[0].message.find("Permission denied") != std::string::npos &&
                  r.files == 1;
        std::exit(ok ? 0 : 1);
      },
      ::testing::ExitedWithCode(0), "");
}

// The portable engine (keywords + std::regex) finds what Hyperscan finds, file by file, on the
// fixture tree and on this test's own source — the two cannot drift apart unnoticed.
TEST(SecretMatcher, KeywordEngineAgreesWithHyperscan) {
  auto hs = SecretMatcher::Create(4.0, SecretMatcher::Engine::kHyperscan);
  auto kw = SecretMatcher::Create(4.0, SecretMatcher::Engine::kKeywords);
  ASSERT_TRUE(hs.ok() && kw.ok());
  ASSERT_EQ((*hs)->engine(), SecretMatcher::Engine::kHyperscan);
  auto hs_scratch = (*hs)->NewScratch();
  auto kw_scratch = (*kw)->NewScratch();
  ASSERT_TRUE(hs_scratch.ok() && kw_scratch.ok());
  size_t total = 0;
  for (const auto& e : fs::recursive_directory_iterator(FixtureDir())) {
    if (!e.is_regular_file()) continue;
    std::string data = ReadFile(e.path().string());
    if (data.find('\0') != std::string::npos) continue;  // the tree scan skips binaries
    std::vector<SecretHit> a, b;
    ASSERT_TRUE((*hs)->Find(data, &*hs_scratch, &a).ok());
    ASSERT_TRUE((*kw)->Find(data, &*kw_scratch, &b).ok());
    ASSERT_EQ(a.size(), b.size()) << e.path();
    for (size_t i = 0; i < a.size(); ++i) {
      EXPECT_EQ(a[i].rule, b[i].rule) << e.path();
      EXPECT_EQ(a[i].begin, b[i].begin) << e.path();
      EXPECT_EQ(a[i].value, b[i].value) << e.path();
    }
    total += a.size();
  }
  EXPECT_EQ(total, Expected().size());
}

// Minified files have megabyte lines; libstdc++'s std::regex recurses per character, so the
// verifying regexes must only ever see short windows (regression guard for both engines).
TEST(SecretMatcher, MegabyteLinesNeitherCrashNorHideASecret) {
  std::string token = "ghp_Zr8Kq2LmX4vB8nT1wZ6yC3pF5sH0jGaEeUu1";
  std::string line;
  for (int i = 0; i < 4000; ++i) line += "a" + std::to_string(i) + "=Qk3Z9pL2mN8xR4vT7wY1;";
  line += "eyJ" + std::string(300000, 'A') + ".eyJ" + std::string(300000, 'B') + "." +
          std::string(300000, 'C') + ";";
  line += std::string(2000000, 'x') + ":" + std::string(100000, 'Q') + " t=" + token + ";";
  for (auto engine : {SecretMatcher::Engine::kHyperscan, SecretMatcher::Engine::kKeywords}) {
    auto m = SecretMatcher::Create(4.0, engine);
    ASSERT_TRUE(m.ok());
    auto scratch = (*m)->NewScratch();
    ASSERT_TRUE(scratch.ok());
    std::vector<SecretHit> hits;
    ASSERT_TRUE((*m)->Find(line, &*scratch, &hits).ok());
    size_t found = 0;
    for (const SecretHit& h : hits) found += h.value == token;
    EXPECT_EQ(found, 1u) << static_cast<int>(engine);
    EXPECT_EQ(hits.size(), 4001u) << "every a<i>= value and the token";
  }
}

// ---- allowlist -------------------------------------------------------------------------------

TEST(SecretAllowlist, SuppressesExactlyWhatItNames) {
  fs::path root = FixtureDir();
  TempDir dir;
  std::string aws_env = ReadFile((root / "planted/config/aws.env").string());
  size_t at = aws_env.find("AKIA");
  std::string key_id = aws_env.substr(at, 20);
  WriteFile(dir.Sub("allow.txt"),
            "# reviewed 2026-11\n"
            "path: planted/src/**\n"
            "rule:jwt\n"
            "value-sha256:" + Sha256Hex(key_id) + "\n"
            "regex: ^DB_PASSWORD = \n"
            "\n");
  SecretScanOptions o;
  o.allowlist_file = dir.Sub("allow.txt");
  ScanResult r = ScanSecretsInTree(root, o);
  EXPECT_TRUE(r.problems.empty());
  std::set<std::string> expected = Expected();
  std::set<std::string> dropped;
  for (const std::string& e : expected) {
    if (e.starts_with("planted/src/") || e.ends_with(":jwt") ||
        e == "planted/config/aws.env:2:aws-access-key-id" ||
        e == "planted/settings.py:2:generic-secret-assignment") {
      dropped.insert(e);
    }
  }
  ASSERT_EQ(dropped.size(), 8u);
  std::set<std::string> want;
  for (const std::string& e : expected) {
    if (!dropped.count(e)) want.insert(e);
  }
  EXPECT_EQ(Found(r), want);
}

TEST(SecretAllowlist, AllowPathsOptionSkipsFiles) {
  SecretScanOptions o;
  o.allow_paths = {"planted/**", "*.lock"};
  ScanResult r = ScanSecretsInTree(FixtureDir(), o);
  EXPECT_TRUE(r.findings.empty());
}

TEST(SecretAllowlist, BadLinesAreErrorsWithFileAndLine) {
  struct Case {
    std::string text;
    std::string want;
  };
  for (const Case& c : std::vector<Case>{
           {"# ok\npath:*.md\nnonsense\n", "allow.txt:3: the line has no kind"},
           {"rule: ghp_Zr8Kq2LmX4vB8nT1wZ6yC3pF5sH0jGaEeUu1\n",
            "allow.txt:1: unknown rule (not shown: it may be a secret)"},
           {"rule: aws-key\n", "allow.txt:1: unknown rule \"aws-key\"; the rules are"},
           {"\n\nvalue-sha256: abc\n", "allow.txt:3: value-sha256: wants 64 hex digits"},
           {"regex: ([a-z\n", "allow.txt:1: regex: not a valid"},
           {"glob: *.md\n", "allow.txt:1: unknown kind \"glob\""},
           {"path:\n", "allow.txt:1: path: is empty"},
       }) {
    auto a = ParseSecretAllowlist(c.text, "allow.txt");
    ASSERT_FALSE(a.ok()) << c.text;
    EXPECT_EQ(a.status().message().rfind(c.want, 0), 0u) << a.status().message();
  }
}

TEST(SecretAllowlist, ABrokenFileIsAProblemAndTheScanGoesOnUnfiltered) {
  TempDir dir;
  WriteFile(dir.Sub("allow.txt"), "path: x\nwhat\n");
  WriteFile(dir.Sub("a.env"), "KEY=AKIAQ3EGRT7NXZ5W2K4M\n");
  SecretScanOptions o;
  o.allowlist_file = dir.Sub("allow.txt");
  o.allow_paths = {"allow.txt"};
  ScanResult r = ScanSecretsInTree(dir.path(), o);
  EXPECT_EQ(r.findings.size(), 1u);
  ASSERT_EQ(r.problems.size(), 1u);
  EXPECT_NE(r.problems[0].message.find(dir.Sub("allow.txt") + ":2:"), std::string::npos)
      << r.problems[0].message;
}

TEST(PathGlob, SegmentsAndDoubleStars) {
  EXPECT_TRUE(MatchPathGlob("tests/fixtures/**", "tests/fixtures/a/b.txt"));
  EXPECT_FALSE(MatchPathGlob("tests/fixtures/**", "tests/fixturesX/a"));
  EXPECT_TRUE(MatchPathGlob("**/*.pem", "a/b/c.pem"));
  EXPECT_TRUE(MatchPathGlob("**/*.pem", "c.pem"));
  EXPECT_TRUE(MatchPathGlob("*.pem", "deep/dir/c.pem"));
  EXPECT_FALSE(MatchPathGlob("src/*.cc", "src/scan/a.cc"));
  EXPECT_TRUE(MatchPathGlob("src/*/a.c?", "src/scan/a.cc"));
  EXPECT_TRUE(MatchPathGlob("docs/", "docs/x/y.md"));
  EXPECT_TRUE(MatchPathGlob("[ab].txt", "b.txt"));
  EXPECT_FALSE(MatchPathGlob("[!ab].txt", "b.txt"));
}

// ---- baseline --------------------------------------------------------------------------------

TEST(SecretBaseline, KnownFindingsStayQuietAndNewOnesAreReported) {
  TempDir dir;
  WriteFile(dir.Sub("a.env"), "KEY=AKIAQ3EGRT7NXZ5W2K4M\n");
  ScanResult first = ScanSecretsInTree(dir.path(), {});
  ASSERT_EQ(first.findings.size(), 1u);
  std::string baseline = dir.Sub("baseline.json");
  ASSERT_TRUE(WriteBaseline(baseline, first).ok());
  WriteFile(dir.Sub("a.env"), "# rotated soon\nKEY=AKIAQ3EGRT7NXZ5W2K4M\n");
  WriteFile(dir.Sub("b.env"), "T=ghp_Zr8Kq2LmX4vB8nT1wZ6yC3pF5sH0jGaEeUu1\n");
  SecretScanOptions o;
  o.baseline_file = baseline;
  o.allow_paths = {"baseline.json"};
  ScanResult r = ScanSecretsInTree(dir.path(), o);
  ASSERT_EQ(r.findings.size(), 1u);
  EXPECT_EQ(r.findings[0].path, "b.env");
  EXPECT_TRUE(r.problems.empty());
}

}  // namespace
}  // namespace steward::scan
