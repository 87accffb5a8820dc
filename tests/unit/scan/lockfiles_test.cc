#include "scan/lockfiles.h"

#include <gtest/gtest.h>

#include <fstream>
#include <sstream>
#include <string>
#include <vector>

namespace steward::scan {
namespace {

std::string ReadFixture(const std::string& rel) {
  std::ifstream in(std::string(STEWARD_SCAN_FIXTURES) + "/deps/project/" + rel);
  EXPECT_TRUE(in.good()) << rel;
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

// "name@version:line" for each package, in order — one string to compare whole.
std::vector<std::string> Summary(const LockfileParse& p) {
  std::vector<std::string> out;
  for (const Package& pkg : p.packages) {
    out.push_back(pkg.name + "@" + pkg.version + ":" + std::to_string(pkg.line));
  }
  return out;
}

std::vector<std::string> Problems(const LockfileParse& p) {
  std::vector<std::string> out;
  for (const Problem& problem : p.problems) out.push_back(problem.ToString());
  return out;
}

LockfileParse ParseFixture(const std::string& rel) { return ParseLockfile(rel, ReadFixture(rel)); }

TEST(Lockfiles, PackageLockV3ReadsNodeModulesOnce) {
  LockfileParse p = ParseFixture("web/package-lock.json");
  EXPECT_EQ(Summary(p),
            (std::vector<std::string>{"lodash@4.17.15:14", "minimist@1.2.6:18",
                                      "@scope/widget@2.0.0-beta.1:22", "express@4.18.2:28"}));
  EXPECT_TRUE(p.problems.empty()) << testing::PrintToString(Problems(p));
  for (const Package& pkg : p.packages) {
    EXPECT_EQ(pkg.ecosystem, "npm");
    EXPECT_EQ(pkg.path, "web/package-lock.json");
  }
}

TEST(Lockfiles, PackageLockV1WalksNestedDependencies) {
  LockfileParse p = ParseFixture("legacy/package-lock.json");
  EXPECT_EQ(Summary(p),
            (std::vector<std::string>{"minimist@1.2.5:5", "mkdirp@0.5.5:8", "minimist@0.0.8:11"}));
  EXPECT_TRUE(p.problems.empty());
}

TEST(Lockfiles, PackageLockAliasesNameTheRealPackage) {
  LockfileParse p = ParseLockfile("package-lock.json", R"({"lockfileVersion": 1,
  "dependencies": {"old-lodash": {"version": "npm:lodash@4.17.4"}}})");
  EXPECT_EQ(Summary(p), (std::vector<std::string>{"lodash@4.17.4:2"}));
}

TEST(Lockfiles, YarnClassic) {
  LockfileParse p = ParseFixture("frontend/yarn.lock");
  EXPECT_EQ(Summary(p), (std::vector<std::string>{"@babel/traverse@7.22.5:5", "debug@4.3.4:11",
                                                  "json5@1.0.1:15"}));
  EXPECT_TRUE(p.problems.empty());
}

TEST(Lockfiles, YarnBerrySkipsWorkspacesAndMetadata) {
  LockfileParse p = ParseFixture("berry/yarn.lock");
  EXPECT_EQ(Summary(p), (std::vector<std::string>{"json5@2.2.1:13", "semver@7.5.2:20"}));
  EXPECT_TRUE(p.problems.empty());
}

TEST(Lockfiles, RequirementsKeepsOnlyPins) {
  LockfileParse p = ParseFixture("api/requirements.txt");
  EXPECT_EQ(Summary(p),
            (std::vector<std::string>{"Django@3.2.0:2", "requests@2.31.0:3", "PyYAML@5.3.1:4",
                                      "flask@2.2.5:8", "numpy@1.22.0rc1:11"}));
  EXPECT_TRUE(p.problems.empty()) << testing::PrintToString(Problems(p));
  EXPECT_EQ(p.packages[0].ecosystem, "PyPI");
}

TEST(Lockfiles, RequirementsReportsMalformedLinesAndReadsTheRest) {
  LockfileParse p = ParseLockfile("requirements-dev.txt",
                                  "pytest==7.4.0\n"
                                  "black=23.1.0\n"
                                  "mypy[reports==1.0\n"
                                  "ruff==\n"
                                  "tox==not-a-version!\n"
                                  "coverage===7.2.7\n");
  EXPECT_EQ(Summary(p), (std::vector<std::string>{"pytest@7.4.0:1", "coverage@7.2.7:6"}));
  ASSERT_EQ(p.problems.size(), 4u) << testing::PrintToString(Problems(p));
  EXPECT_EQ(p.problems[0].line, 2);
  EXPECT_NE(p.problems[0].message.find("expected a version specifier"), std::string::npos);
  EXPECT_EQ(p.problems[1].line, 3);
  EXPECT_EQ(p.problems[2].line, 4);
  EXPECT_EQ(p.problems[3].line, 5);
  EXPECT_EQ(p.problems[3].path, "requirements-dev.txt");
}

TEST(Lockfiles, PoetryLockSkipsGitSources) {
  LockfileParse p = ParseFixture("worker/poetry.lock");
  EXPECT_EQ(Summary(p), (std::vector<std::string>{"certifi@2023.7.22:4", "urllib3@1.26.4:15"}));
  EXPECT_TRUE(p.problems.empty()) << testing::PrintToString(Problems(p));
}

TEST(Lockfiles, GoSumLeavesOutModulesOnlyConsultedForTheGraph) {
  LockfileParse p = ParseFixture("svc/go.sum");
  EXPECT_EQ(Summary(p),
            (std::vector<std::string>{"github.com/gin-gonic/gin@v1.9.1:1",
                                      "golang.org/x/net@v0.0.0-20220127200216-cd36cc0744dd:4",
                                      "golang.org/x/text@v0.3.7:6"}));
  EXPECT_TRUE(p.problems.empty());
}

TEST(Lockfiles, CargoLockKeepsRegistryCrates) {
  LockfileParse p = ParseFixture("rust/Cargo.lock");
  EXPECT_EQ(Summary(p), (std::vector<std::string>{"smallvec@1.6.0:14", "time@0.2.23:20"}));
  EXPECT_EQ(p.packages[0].ecosystem, "crates.io");
  EXPECT_TRUE(p.problems.empty()) << testing::PrintToString(Problems(p));
}

TEST(Lockfiles, GemfileLockReadsGemSpecsWithoutPlatform) {
  LockfileParse p = ParseFixture("ruby/Gemfile.lock");
  EXPECT_EQ(Summary(p),
            (std::vector<std::string>{"nokogiri@1.13.9:4", "racc@1.6.0:6", "rack@2.2.3.1:7",
                                      "rails-html-sanitizer@1.4.3:8"}));
  EXPECT_TRUE(p.problems.empty());
}

TEST(Lockfiles, ComposerLockReadsBothSections) {
  LockfileParse p = ParseFixture("php/composer.lock");
  EXPECT_EQ(Summary(p),
            (std::vector<std::string>{"symfony/http-kernel@v5.4.19:6", "guzzlehttp/guzzle@7.5.0:11",
                                      "phpunit/phpunit@9.6.3:17"}));
  EXPECT_EQ(p.packages[0].ecosystem, "Packagist");
}

TEST(Lockfiles, JsonSyntaxErrorKeepsEntriesBeforeIt) {
  LockfileParse p = ParseLockfile("app/package-lock.json",
                                  "{\"packages\": {\n"
                                  "  \"node_modules/a\": {\"version\": \"1.0.0\"},\n"
                                  "  \"node_modules/b\": {\"version\": \"2.0.0\",,\n"
                                  "  \"node_modules/c\": {\"version\": \"3.0.0\"}\n"
                                  "}}\n");
  EXPECT_EQ(Summary(p), (std::vector<std::string>{"a@1.0.0:2"}));
  ASSERT_EQ(p.problems.size(), 1u);
  EXPECT_EQ(p.problems[0].path, "app/package-lock.json");
  EXPECT_EQ(p.problems[0].line, 3);
  EXPECT_NE(p.problems[0].message.find("column 41: expected a string key"), std::string::npos)
      << p.problems[0].message;
}

TEST(Lockfiles, TomlErrorsAreReportedAndTheNextPackageRead) {
  LockfileParse p =
      ParseLockfile("Cargo.lock",
                    "[[package]]\n"
                    "name = \"broken\n"
                    "version = \"1.0.0\"\n"
                    "source = \"registry+https://github.com/rust-lang/crates.io-index\"\n"
                    "\n"
                    "[[package]]\n"
                    "name = \"good\"\n"
                    "version = \"2.0.0\"\n"
                    "source = \"registry+https://github.com/rust-lang/crates.io-index\"\n"
                    "this line is not toml\n"
                    "[[package]\n");
  EXPECT_EQ(Summary(p), (std::vector<std::string>{"good@2.0.0:7"}));
  std::vector<std::string> problems = Problems(p);
  ASSERT_EQ(problems.size(), 4u) << testing::PrintToString(problems);
  EXPECT_EQ(p.problems[0].line, 2);   // unterminated string
  EXPECT_EQ(p.problems[1].line, 10);  // not a key = value
  EXPECT_EQ(p.problems[2].line, 11);  // unclosed header
  EXPECT_EQ(p.problems[3].line, 1);   // the first package has no name
}

TEST(Lockfiles, MalformedLinesInTextFormats) {
  LockfileParse gosum = ParseLockfile("go.sum",
                                      "example.com/a v1.0.0\nexample.com/b 1.0.0 h1:x\n"
                                      "example.com/c v1.2.0 h1:y\n");
  EXPECT_EQ(Summary(gosum), (std::vector<std::string>{"example.com/c@v1.2.0:3"}));
  EXPECT_EQ(gosum.problems.size(), 2u);
  LockfileParse gems =
      ParseLockfile("Gemfile.lock", "GEM\n  specs:\n    rack 2.2.3\n    rake (13.0.6)\n");
  EXPECT_EQ(Summary(gems), (std::vector<std::string>{"rake@13.0.6:4"}));
  ASSERT_EQ(gems.problems.size(), 1u);
  EXPECT_EQ(gems.problems[0].line, 3);
  LockfileParse yarn = ParseLockfile("yarn.lock",
                                     "lodash@^4:\n  version \"4.17.21\"\nnot a header\n"
                                     "left-pad@^1.0.0:\n  resolved \"x\"\n");
  EXPECT_EQ(Summary(yarn), (std::vector<std::string>{"lodash@4.17.21:1"}));
  ASSERT_EQ(yarn.problems.size(), 2u) << testing::PrintToString(Problems(yarn));
  EXPECT_EQ(yarn.problems[0].line, 3);
  EXPECT_EQ(yarn.problems[1].line, 4);  // entry without a version
}

TEST(Lockfiles, NamesSelectTheParser) {
  EXPECT_TRUE(IsLockfileName("package-lock.json"));
  EXPECT_TRUE(IsLockfileName("requirements.txt"));
  EXPECT_TRUE(IsLockfileName("requirements-dev.txt"));
  EXPECT_TRUE(IsLockfileName("Gemfile.lock"));
  EXPECT_FALSE(IsLockfileName("package.json"));
  EXPECT_FALSE(IsLockfileName("requirements.in"));
  EXPECT_FALSE(IsLockfileName("requirementstxt"));
  EXPECT_TRUE(ParseLockfile("notes.txt", "lodash==1.0.0\n").packages.empty());
}

TEST(Lockfiles, NeverCrashOnTruncatedInput) {
  for (const char* rel : {"web/package-lock.json", "worker/poetry.lock", "frontend/yarn.lock",
                          "php/composer.lock", "rust/Cargo.lock", "ruby/Gemfile.lock"}) {
    std::string text = ReadFixture(rel);
    for (size_t cut = 0; cut < text.size(); cut += 7) {
      LockfileParse p = ParseLockfile(rel, std::string_view(text).substr(0, cut));
      for (const Package& pkg : p.packages) EXPECT_FALSE(pkg.version.empty());
    }
  }
}

}  // namespace
}  // namespace steward::scan
