#include "scan/osv.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace steward::scan {
namespace {

std::string Fixtures() { return std::string(STEWARD_SCAN_FIXTURES) + "/deps"; }

// One affected entry with `ranges_json` (the value of "ranges") for `ecosystem`/`name`.
Advisory Make(const std::string& ecosystem, const std::string& name, const std::string& ranges_json,
              const std::string& extra = "") {
  std::string text = R"({"id": "TEST-1", "summary": "s", )" + extra +
                     R"("affected": [{"package": {"ecosystem": ")" + ecosystem + R"(", "name": ")" +
                     name + R"("}, "ranges": )" + ranges_json + "}]}";
  std::vector<Problem> problems;
  std::optional<Advisory> a = ParseAdvisory("test.json", text, &problems);
  EXPECT_TRUE(a.has_value()) << text;
  EXPECT_TRUE(problems.empty()) << problems[0].ToString();
  return a.value_or(Advisory());
}

Package Pkg(const std::string& ecosystem, const std::string& name, const std::string& version) {
  return Package{ecosystem, name, version, "lock", 1};
}

struct RangeCase {
  const char* version;
  bool affected;
};

void ExpectRange(const Advisory& a, const std::vector<RangeCase>& cases) {
  for (const RangeCase& c : cases) EXPECT_EQ(a.Affects(0, c.version), c.affected) << c.version;
}

TEST(Osv, IntroducedFixedAndMultipleRanges) {
  Advisory a = Make("npm", "minimist", R"([
      {"type": "SEMVER", "events": [{"introduced": "0"}, {"fixed": "0.2.4"}]},
      {"type": "SEMVER", "events": [{"introduced": "1.0.0"}, {"fixed": "1.2.6"}]}])");
  ExpectRange(a, {{"0.0.1", true},
                  {"0.2.3", true},
                  {"0.2.4", false},
                  {"0.9.0", false},
                  {"1.0.0-beta", false},
                  {"1.0.0", true},
                  {"1.2.5", true},
                  {"1.2.6", false},
                  {"2.0.0", false}});
}

TEST(Osv, EventsInOneRangeMayReopen) {
  // Unsorted on purpose: the schema sorts events by version before applying them.
  Advisory a = Make("PyPI", "django", R"([{"type": "ECOSYSTEM", "events": [
      {"introduced": "4.0"}, {"fixed": "4.0.6"}, {"introduced": "3.2"}, {"fixed": "3.2.14"}]}])");
  ExpectRange(a, {{"3.1.9", false},
                  {"3.2", true},
                  {"3.2.0", true},
                  {"3.2.13", true},
                  {"3.2.14", false},
                  {"3.2.14.post1", false},
                  {"4.0a1", false},
                  {"4.0", true},
                  {"4.0.6", false}});
}

TEST(Osv, LastAffectedIncludesItsVersion) {
  Advisory a = Make("RubyGems", "rack", R"([{"type": "ECOSYSTEM", "events": [
      {"introduced": "2.0"}, {"last_affected": "2.2.3"}]}])");
  ExpectRange(
      a,
      {{"1.9", false}, {"2.0.0", true}, {"2.2.3", true}, {"2.2.3.1", false}, {"2.2.4.rc1", false}});
}

TEST(Osv, LimitBoundsTheRange) {
  Advisory a = Make("crates.io", "time", R"([{"type": "SEMVER", "events": [
      {"introduced": "0"}, {"limit": "0.3.0"}]}])");
  ExpectRange(a, {{"0.2.23", true}, {"0.3.0", false}, {"0.3.1", false}});
}

TEST(Osv, ExplicitVersionsAndGitRangesIgnored) {
  Advisory a = Make("npm", "x", R"([{"type": "GIT", "repo": "https://example.invalid/x",
      "events": [{"introduced": "0"}, {"fixed": "abc123"}]}])");
  EXPECT_FALSE(a.Affects(0, "1.0.0"));
  std::vector<Problem> problems;
  auto b = ParseAdvisory("b.json", R"({"id": "TEST-2", "affected": [{"package":
      {"ecosystem": "PyPI", "name": "x"}, "versions": ["1.0", "1.1"]}]})",
                         &problems);
  ASSERT_TRUE(b.has_value());
  EXPECT_TRUE(b->Affects(0, "1.0"));
  EXPECT_TRUE(b->Affects(0, "1.0.0"));  // the same PEP 440 version
  EXPECT_FALSE(b->Affects(0, "1.2"));
}

TEST(Osv, GoRangesComparePseudoVersions) {
  Advisory a = Make("Go", "golang.org/x/net", R"([{"type": "SEMVER", "events": [
      {"introduced": "0"}, {"fixed": "0.0.0-20220906165146-f3363e06e74c"}]}])");
  ExpectRange(a, {{"v0.0.0-20220127200216-cd36cc0744dd", true},
                  {"v0.0.0-20220906165146-f3363e06e74c", false},
                  {"v0.1.0", false}});
}

TEST(Osv, SeverityFromCvssVectorsAndDatabaseSpecific) {
  EXPECT_DOUBLE_EQ(*CvssBaseScore("CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H"), 9.8);
  EXPECT_DOUBLE_EQ(*CvssBaseScore("CVSS:3.1/AV:N/AC:L/PR:H/UI:N/S:U/C:H/I:H/A:H"), 7.2);
  EXPECT_DOUBLE_EQ(*CvssBaseScore("CVSS:3.1/AV:N/AC:L/PR:N/UI:R/S:C/C:L/I:L/A:N"), 6.1);
  EXPECT_DOUBLE_EQ(*CvssBaseScore("CVSS:3.0/AV:L/AC:H/PR:L/UI:N/S:U/C:L/I:N/A:N"), 2.5);
  EXPECT_DOUBLE_EQ(*CvssBaseScore("CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:N/I:N/A:N"), 0.0);
  EXPECT_DOUBLE_EQ(*CvssBaseScore("AV:N/AC:L/Au:N/C:P/I:P/A:P"), 7.5);
  EXPECT_FALSE(CvssBaseScore("CVSS:3.1/AV:N/AC:L").has_value());

  auto severity = [](const std::string& extra) {
    return Make("npm", "x", R"([{"type": "SEMVER", "events": [{"introduced": "0"}]}])", extra)
        .severity;
  };
  EXPECT_EQ(severity(R"("severity": [{"type": "CVSS_V3", "score":
      "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H"}], "database_specific": {"severity": "LOW"},)"),
            Severity::kCritical);
  EXPECT_EQ(severity(R"("severity": [{"type": "CVSS_V3", "score":
      "CVSS:3.1/AV:N/AC:L/PR:H/UI:N/S:U/C:H/I:H/A:H"}],)"),
            Severity::kHigh);
  EXPECT_EQ(severity(R"("database_specific": {"severity": "MODERATE"},)"), Severity::kMedium);
  EXPECT_EQ(severity(R"("database_specific": {"severity": "HIGH"},)"), Severity::kHigh);
  EXPECT_EQ(
      severity(R"("severity": [{"type": "CVSS_V2", "score": "AV:L/AC:H/Au:M/C:P/I:N/A:N"}],)"),
      Severity::kLow);
  EXPECT_EQ(severity(""), Severity::kMedium);
}

TEST(Osv, NamesNormalisedPerEcosystem) {
  EXPECT_EQ(NormalizePackageName("PyPI", "Foo.Bar__baz-"), "foo-bar-baz-");
  EXPECT_EQ(NormalizePackageName("Packagist", "Symfony/HTTP-Kernel"), "symfony/http-kernel");
  EXPECT_EQ(NormalizePackageName("npm", "JSONStream"), "JSONStream");
  std::vector<Advisory> list;
  list.push_back(
      Make("PyPI", "PyYAML", R"([{"type": "ECOSYSTEM", "events": [{"introduced": "0"}]}])"));
  list.push_back(
      Make("npm", "JSONStream", R"([{"type": "SEMVER", "events": [{"introduced": "0"}]}])"));
  list[1].id = "TEST-2";
  OsvDatabase db = OsvDatabase::FromAdvisories(std::move(list));
  EXPECT_EQ(db.Affecting(Pkg("PyPI", "pyyaml", "5.1")).size(), 1u);
  EXPECT_EQ(db.Affecting(Pkg("PyPI", "py_yaml", "5.1")).size(), 0u);
  EXPECT_EQ(db.Affecting(Pkg("PyPI", "PyYaml", "5.1")).size(), 1u);
  EXPECT_EQ(db.Affecting(Pkg("npm", "JSONStream", "1.0.0")).size(), 1u);
  EXPECT_EQ(db.Affecting(Pkg("npm", "jsonstream", "1.0.0")).size(), 0u);
  EXPECT_EQ(db.Affecting(Pkg("PyPI", "JSONStream", "1.0.0")).size(), 0u);  // other ecosystem
}

TEST(Osv, MalformedDocumentsAreProblemsWithLines) {
  std::vector<Problem> problems;
  EXPECT_FALSE(ParseAdvisory("a.json", "{\n  \"id\": \"X\",\n  \"affected\": [\n}", &problems));
  ASSERT_EQ(problems.size(), 1u);
  EXPECT_EQ(problems[0].line, 4);
  EXPECT_EQ(problems[0].path, "a.json");
  problems.clear();
  EXPECT_FALSE(ParseAdvisory("b.json", "{\"summary\": \"no id\"}", &problems));
  ASSERT_EQ(problems.size(), 1u);
  EXPECT_NE(problems[0].message.find("\"id\""), std::string::npos);
}

TEST(Osv, LoadsADirectoryAndReportsBadFilesWhileLoadingTheRest) {
  std::vector<Problem> problems;
  StatusOr<OsvDatabase> db = OsvDatabase::Load(Fixtures() + "/osv", &problems);
  ASSERT_TRUE(db.ok()) << db.status().ToString();
  EXPECT_EQ(db->size(), 27u);  // 28 files, one of them not JSON
  std::vector<std::string> where;
  for (const Problem& p : problems) {
    where.push_back(p.path.substr(p.path.rfind('/') + 1) + ":" + std::to_string(p.line));
  }
  EXPECT_EQ(where, (std::vector<std::string>{"bad-version.json:8", "broken.json:4"}));
  // The withdrawn advisory is loaded but never matches.
  EXPECT_TRUE(db->Affecting(Pkg("npm", "debug", "4.3.4")).empty());
  // The bad range was dropped; the file's other entry still applies.
  std::vector<const Advisory*> yaml = db->Affecting(Pkg("PyPI", "pyyaml", "5.3.1"));
  ASSERT_EQ(yaml.size(), 2u);
  EXPECT_EQ(yaml[0]->id, "GHSA-test-badversion-0028");
  EXPECT_EQ(yaml[1]->id, "GHSA-test-pyyaml-0011");
}

TEST(Osv, LoadCanKeepOnlyTheScannedPackages) {
  std::vector<Problem> problems;
  OsvLoadOptions options;
  options.only_packages = {Pkg("npm", "lodash", "1.0.0"), Pkg("PyPI", "py.yaml", "1.0")};
  StatusOr<OsvDatabase> db = OsvDatabase::Load(Fixtures() + "/osv", &problems, options);
  ASSERT_TRUE(db.ok());
  EXPECT_EQ(db->size(), 1u);  // npm's lodash; Debian's lodash and PyPI's pyyaml are others
  EXPECT_EQ(db->Affecting(Pkg("npm", "lodash", "4.17.15")).size(), 1u);
  ASSERT_EQ(problems.size(), 1u);  // the syntax error still; the unused bad range not
  EXPECT_EQ(problems[0].line, 4);
}

TEST(Osv, LoadFailsOnlyWithoutADirectory) {
  std::vector<Problem> problems;
  StatusOr<OsvDatabase> db = OsvDatabase::Load(Fixtures() + "/no-such-dir", &problems);
  ASSERT_FALSE(db.ok());
  EXPECT_NE(db.status().message().find("not a directory"), std::string::npos);
}

}  // namespace
}  // namespace steward::scan
