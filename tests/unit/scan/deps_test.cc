#include "scan/deps.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <set>
#include <string>
#include <tuple>

namespace steward::scan {
namespace {

namespace fs = std::filesystem;

std::string Fixtures() { return std::string(STEWARD_SCAN_FIXTURES) + "/deps"; }

using Key = std::tuple<std::string, std::string, std::string, std::string>;  // path pkg ver id

std::set<Key> Keys(const ScanResult& r) {
  std::set<Key> keys;
  for (const Finding& f : r.findings) keys.insert({f.path, f.package, f.version, f.rule});
  return keys;
}

const Finding* Find(const ScanResult& r, const std::string& package, const std::string& rule) {
  for (const Finding& f : r.findings) {
    if (f.package == package && f.rule == rule) return &f;
  }
  return nullptr;
}

// The fixture project's known vulnerable packages (written with the advisories under osv/).
// Everything else there is patched, out of range, withdrawn, only consulted (go.sum /go.mod
// lines), from git or a path, or under node_modules, and must not be reported.
const std::set<Key> kExpected = {
    {"web/package-lock.json", "lodash", "4.17.15", "GHSA-test-lodash-0001"},
    {"web/package-lock.json", "@scope/widget", "2.0.0-beta.1", "GHSA-test-widget-0003"},
    {"legacy/package-lock.json", "minimist", "1.2.5", "GHSA-test-minimist-0002"},
    {"legacy/package-lock.json", "minimist", "0.0.8", "GHSA-test-minimist-0002"},
    {"frontend/yarn.lock", "@babel/traverse", "7.22.5", "GHSA-test-traverse-0008"},
    {"frontend/yarn.lock", "json5", "1.0.1", "GHSA-test-json5-0004"},
    {"berry/yarn.lock", "json5", "2.2.1", "GHSA-test-json5-0004"},
    {"api/requirements.txt", "Django", "3.2.0", "PYSEC-test-django-0009"},
    {"api/requirements.txt", "PyYAML", "5.3.1", "GHSA-test-pyyaml-0011"},
    {"api/requirements.txt", "PyYAML", "5.3.1", "GHSA-test-badversion-0028"},
    {"worker/poetry.lock", "urllib3", "1.26.4", "PYSEC-test-urllib3-0012"},
    {"svc/go.sum", "golang.org/x/text", "v0.3.7", "GO-test-text-0015"},
    {"svc/go.sum", "golang.org/x/net", "v0.0.0-20220127200216-cd36cc0744dd", "GO-test-net-0016"},
    {"rust/Cargo.lock", "smallvec", "1.6.0", "RUSTSEC-test-smallvec-0019"},
    {"ruby/Gemfile.lock", "nokogiri", "1.13.9", "GHSA-test-nokogiri-0021"},
    {"ruby/Gemfile.lock", "rails-html-sanitizer", "1.4.3", "GHSA-test-sanitizer-0023"},
    {"php/composer.lock", "symfony/http-kernel", "v5.4.19", "GHSA-test-kernel-0024"},
};

TEST(Deps, FindsEveryKnownVulnerablePackageAndNothingElse) {
  ScanResult r = ScanDependencies(Fixtures() + "/project", {Fixtures() + "/osv"});
  std::set<Key> found = Keys(r);
  size_t true_positives = 0;
  for (const Key& k : kExpected) true_positives += found.count(k);
  double recall = static_cast<double>(true_positives) / kExpected.size();
  double precision = found.empty() ? 0 : static_cast<double>(true_positives) / found.size();
  EXPECT_EQ(recall, 1.0);
  EXPECT_EQ(precision, 1.0);
  EXPECT_EQ(found, kExpected);
  EXPECT_EQ(r.findings.size(), kExpected.size());  // one finding per (package, advisory)
  EXPECT_EQ(r.files, 10u);                         // node_modules/ not entered
  // The damaged advisory files are reported; they did not stop the scan.
  ASSERT_EQ(r.problems.size(), 2u);
  EXPECT_EQ(r.problems[0].line, 8);
  EXPECT_EQ(r.problems[1].line, 4);
}

TEST(Deps, FindingSaysWhatWhereAndWhatToUpgradeTo) {
  ScanResult r = ScanDependencies(Fixtures() + "/project", {Fixtures() + "/osv"});
  const Finding* f = Find(r, "lodash", "GHSA-test-lodash-0001");
  ASSERT_NE(f, nullptr);
  EXPECT_EQ(f->scanner, "deps");
  EXPECT_EQ(f->title, "Command injection in lodash");
  EXPECT_EQ(f->severity, Severity::kHigh);  // CVSS 7.2
  EXPECT_EQ(f->message,
            "lodash 4.17.15 (npm) is affected by GHSA-test-lodash-0001 (CVE-2021-23337): "
            "Command injection in lodash; upgrade to 4.17.21");
  EXPECT_EQ(f->path, "web/package-lock.json");
  EXPECT_EQ(f->line, 14);
  EXPECT_EQ(f->ecosystem, "npm");
  EXPECT_EQ(f->fixed, (std::vector<std::string>{"4.17.21"}));
  EXPECT_EQ(f->aliases, (std::vector<std::string>{"CVE-2021-23337"}));
  EXPECT_EQ(f->url, "https://osv.dev/vulnerability/GHSA-test-lodash-0001");
  EXPECT_EQ(f->fingerprint.size(), 64u);

  // With two ranges, the upgrade is the nearest fix above the installed version.
  const Finding* old = nullptr;
  for (const Finding& g : r.findings) {
    if (g.package == "minimist" && g.version == "0.0.8") old = &g;
  }
  ASSERT_NE(old, nullptr);
  EXPECT_EQ(old->severity, Severity::kCritical);
  EXPECT_EQ(old->fixed, (std::vector<std::string>{"0.2.4", "1.2.6"}));
  EXPECT_NE(old->message.find("; upgrade to 0.2.4"), std::string::npos) << old->message;

  // Go's fixes are written as go.sum and `go get` write them.
  const Finding* text = Find(r, "golang.org/x/text", "GO-test-text-0015");
  ASSERT_NE(text, nullptr);
  EXPECT_EQ(text->fixed, (std::vector<std::string>{"v0.3.8"}));
  EXPECT_NE(
      text->message.find("golang.org/x/text v0.3.7 (Go) is affected by GO-test-text-0015: "
                         "Denial of service in golang.org/x/text/language; upgrade to v0.3.8"),
      std::string::npos)
      << text->message;

  const Finding* widget = Find(r, "@scope/widget", "GHSA-test-widget-0003");
  ASSERT_NE(widget, nullptr);
  EXPECT_EQ(widget->severity, Severity::kMedium);  // the advisory states none
  const Finding* traverse = Find(r, "@babel/traverse", "GHSA-test-traverse-0008");
  ASSERT_NE(traverse, nullptr);
  EXPECT_NE(traverse->message.find("no fixed version is known"), std::string::npos);
}

class DepsTempDir : public testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() / ("steward-deps-test-" + std::to_string(getpid()));
    fs::remove_all(dir_);
    fs::create_directories(dir_ / "a");
    fs::create_directories(dir_ / "b");
    fs::create_directories(dir_ / ".git" / "c");
  }
  void TearDown() override { fs::remove_all(dir_); }
  void Write(const fs::path& rel, const std::string& text) { std::ofstream(dir_ / rel) << text; }
  fs::path dir_;
};

TEST_F(DepsTempDir, AMalformedLockfileDoesNotStopTheOthers) {
  Write("a/package-lock.json", "{\"packages\": {\"node_modules/lodash\": {\"version\": 4}}}");
  Write("b/requirements.txt", "Django==3.2.0\n");
  Write(".git/c/requirements.txt", "pyyaml==5.3.1\n");  // never entered
  ScanResult r = ScanDependencies(dir_, {Fixtures() + "/osv"});
  EXPECT_EQ(Keys(r),
            (std::set<Key>{{"b/requirements.txt", "Django", "3.2.0", "PYSEC-test-django-0009"}}));
  bool reported = false;
  for (const Problem& p : r.problems) {
    if (p.path == "a/package-lock.json" && p.line == 1) reported = true;
  }
  EXPECT_TRUE(reported);
}

TEST_F(DepsTempDir, FingerprintIgnoresLinesButNotPaths) {
  Write("a/requirements.txt", "Django==3.2.0\n");
  Write("b/requirements.txt", "\n\n# moved down\nDjango==3.2.0\n");
  ScanResult r = ScanDependencies(dir_, {Fixtures() + "/osv"});
  ASSERT_EQ(r.findings.size(), 2u);
  EXPECT_NE(r.findings[0].fingerprint, r.findings[1].fingerprint);
  Write("a/requirements.txt", "# a comment first\nDjango==3.2.0\n");
  ScanResult again = ScanDependencies(dir_, {Fixtures() + "/osv"});
  ASSERT_EQ(again.findings.size(), 2u);
  EXPECT_EQ(again.findings[0].line, 2);
  EXPECT_EQ(again.findings[0].fingerprint, r.findings[0].fingerprint);
}

TEST_F(DepsTempDir, MissingDatabaseIsAProblemNotACrash) {
  Write("a/requirements.txt", "Django==3.2.0\n");
  ScanResult r = ScanDependencies(dir_, {(dir_ / "nowhere").string()});
  EXPECT_TRUE(r.findings.empty());
  ASSERT_EQ(r.problems.size(), 1u);
  EXPECT_NE(r.problems[0].message.find("not a directory"), std::string::npos);
  ScanResult none = ScanDependencies(dir_, {});
  ASSERT_EQ(none.problems.size(), 1u);
  EXPECT_NE(none.problems[0].message.find("--osv-db"), std::string::npos);
}

}  // namespace
}  // namespace steward::scan
