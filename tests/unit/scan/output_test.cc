#include "scan/output.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <set>
#include <sstream>
#include <string>

#include "fixtures/scan/config/expectations.h"
#include "scan/config_scan.h"

namespace steward::scan {
namespace {

using nlohmann::json;

Finding Config(std::string rule, Severity severity, std::string path, int line, int column) {
  Finding f;
  f.scanner = "config";
  f.rule = std::move(rule);
  f.title = "Title of " + f.rule;
  f.severity = severity;
  f.message = "what is wrong with " + path;
  f.path = std::move(path);
  f.line = line;
  f.column = column;
  f.snippet = "FROM ubuntu";
  f.fingerprint = "00112233445566" + std::to_string(line % 10) + "7";
  return f;
}

// One finding of each scanner, every field set, and two problems.
ScanResult Sample() {
  ScanResult r;
  Finding dep;
  dep.scanner = "deps";
  dep.rule = "GHSA-aaaa-bbbb-cccc";
  dep.title = "Prototype pollution in lodash";
  dep.severity = Severity::kCritical;
  dep.message = "lodash 4.17.20 is vulnerable; upgrade to 4.17.21";
  dep.path = "web/package-lock.json";
  dep.line = 120;
  dep.fingerprint = "a1b2c3d4e5f60718";
  dep.ecosystem = "npm";
  dep.package = "lodash";
  dep.version = "4.17.20";
  dep.fixed = {"4.17.21"};
  dep.aliases = {"CVE-2021-23337"};
  dep.url = "https://osv.dev/vulnerability/GHSA-aaaa-bbbb-cccc";
  r.findings.push_back(dep);
  Finding secret;
  secret.scanner = "secrets";
  secret.rule = "aws-access-key-id";
  secret.title = "AWS access key ID";
  secret.severity = Severity::kHigh;
  secret.message = "an AWS access key ID";
  secret.path = "my dir/app #1.env";
  secret.line = 3;
  secret.column = 9;
  secret.commit = "0123456789abcdef0123456789abcdef01234567";
  secret.snippet = "AWS_ACCESS_KEY_ID=AKIA****************";
  secret.fingerprint = "ffeeddccbbaa9988";
  r.findings.push_back(secret);
  r.findings.push_back(Config("dockerfile-latest-tag", Severity::kMedium, "Dockerfile", 1, 0));
  r.findings.push_back(Config("k8s-default-namespace", Severity::kInfo, "k8s/app.yaml", 4, 3));
  r.findings.push_back(Config("dockerfile-no-healthcheck", Severity::kLow, "Dockerfile", 1, 0));
  r.problems.push_back(Problem{"k8s/bad.yaml", 7, "not valid YAML: end of map not found"});
  r.problems.push_back(Problem{"go.sum", 0, "cannot read: Permission denied"});
  r.files = 12;
  r.bytes = 2'345'678;
  return r;
}

TEST(OutputFormat, Parses) {
  EXPECT_EQ(ParseOutputFormat("table"), OutputFormat::kTable);
  EXPECT_EQ(ParseOutputFormat("JSON"), OutputFormat::kJson);
  EXPECT_EQ(ParseOutputFormat("sarif"), OutputFormat::kSarif);
  EXPECT_FALSE(ParseOutputFormat("xml").has_value());
  EXPECT_FALSE(ParseOutputFormat("").has_value());
}

TEST(FormatTable, AlignsColumnsAndEndsWithTheSummary) {
  ScanResult r = Sample();
  std::string table = FormatTable(r, false);
  std::istringstream in(table);
  std::vector<std::string> lines;
  for (std::string line; std::getline(in, line);) lines.push_back(line);
  ASSERT_GE(lines.size(), 6u);
  EXPECT_EQ(lines[0].rfind("SEVERITY  RULE", 0), 0u) << lines[0];
  size_t rule_col = lines[0].find("RULE"), loc_col = lines[0].find("LOCATION"),
         msg_col = lines[0].find("MESSAGE");
  for (size_t i = 1; i <= r.findings.size(); ++i) {
    const Finding& f = r.findings[i - 1];
    EXPECT_EQ(lines[i].find(f.rule), rule_col) << lines[i];
    EXPECT_EQ(lines[i].find(f.path), loc_col) << lines[i];
    EXPECT_EQ(lines[i].find(f.message), msg_col) << lines[i];
    EXPECT_EQ(lines[i].rfind(std::string(SeverityName(f.severity)), 0), 0u);
  }
  EXPECT_NE(lines[2].find("my dir/app #1.env:3:9@0123456789ab "), std::string::npos) << lines[2];
  EXPECT_NE(table.find("  k8s/bad.yaml:7: not valid YAML: end of map not found\n"),
            std::string::npos);
  EXPECT_NE(table.find("  go.sum: cannot read: Permission denied\n"), std::string::npos);
  EXPECT_EQ(lines.back(),
            "5 findings (1 critical, 1 high, 1 medium, 1 low, 1 info) in 12 files, 2.3 MB; "
            "2 problems");
  EXPECT_EQ(table.find('\x1b'), std::string::npos);
}

TEST(FormatTable, ColoursOnlyTheSeverityWhenAsked) {
  ScanResult r = Sample();
  std::string table = FormatTable(r, true);
  EXPECT_NE(table.find("\x1b[1;31mcritical\x1b[0m"), std::string::npos);
  EXPECT_NE(table.find("\x1b[31mhigh    \x1b[0m"), std::string::npos);
  ScanResult empty;
  empty.files = 1;
  empty.bytes = 10;
  EXPECT_EQ(FormatTable(empty, true),
            "no findings\n\n0 findings (0 critical, 0 high, 0 medium, 0 low, 0 info) in 1 file, "
            "0.0 MB; 0 problems\n");
}

TEST(FormatJson, EveryFieldParsesBack) {
  ScanResult r = Sample();
  json j = json::parse(FormatJson(r));
  ASSERT_EQ(j["findings"].size(), r.findings.size());
  for (size_t i = 0; i < r.findings.size(); ++i) {
    const Finding& f = r.findings[i];
    const json& g = j["findings"][i];
    EXPECT_EQ(g.size(), 17u) << "every Finding field, no more";
    EXPECT_EQ(g["scanner"], f.scanner);
    EXPECT_EQ(g["rule"], f.rule);
    EXPECT_EQ(g["title"], f.title);
    EXPECT_EQ(ParseSeverity(g["severity"].get<std::string>()), f.severity);
    EXPECT_EQ(g["message"], f.message);
    EXPECT_EQ(g["path"], f.path);
    EXPECT_EQ(g["line"], f.line);
    EXPECT_EQ(g["column"], f.column);
    EXPECT_EQ(g["commit"], f.commit);
    EXPECT_EQ(g["snippet"], f.snippet);
    EXPECT_EQ(g["fingerprint"], f.fingerprint);
    EXPECT_EQ(g["ecosystem"], f.ecosystem);
    EXPECT_EQ(g["package"], f.package);
    EXPECT_EQ(g["version"], f.version);
    EXPECT_EQ(g["fixed"].get<std::vector<std::string>>(), f.fixed);
    EXPECT_EQ(g["aliases"].get<std::vector<std::string>>(), f.aliases);
    EXPECT_EQ(g["url"], f.url);
  }
  ASSERT_EQ(j["problems"].size(), 2u);
  EXPECT_EQ(j["problems"][0], (json{{"path", "k8s/bad.yaml"},
                                    {"line", 7},
                                    {"message", "not valid YAML: end of map not found"}}));
  const json& s = j["summary"];
  EXPECT_EQ(s["findings"], 5);
  EXPECT_EQ(s["by_severity"],
            (json{{"critical", 1}, {"high", 1}, {"medium", 1}, {"low", 1}, {"info", 1}}));
  EXPECT_EQ(s["files"], 12);
  EXPECT_EQ(s["bytes"], 2345678);
  EXPECT_EQ(s["problems"], 2);
}

TEST(FormatJson, BytesThatAreNotUtf8DoNotThrow) {
  ScanResult r;
  r.findings.push_back(Config("dockerfile-sudo", Severity::kMedium, "Dockerfile", 2, 0));
  r.findings[0].snippet = "RUN echo \xff\xfe";
  EXPECT_NO_THROW(json::parse(FormatJson(r)));
  EXPECT_NO_THROW(json::parse(FormatSarif(r, "1.0")));
}

// The SARIF 2.1.0 properties the spec requires, plus what GitHub code scanning reads.
TEST(FormatSarif, IsStructurallyValidSarif) {
  ScanResult r = Sample();
  r.findings.push_back(Config("dockerfile-latest-tag", Severity::kMedium, "b/Dockerfile", 9, 0));
  json log = json::parse(FormatSarif(r, "0.9.1"));
  EXPECT_EQ(log["version"], "2.1.0");
  EXPECT_EQ(log["$schema"], "https://json.schemastore.org/sarif-2.1.0.json");
  ASSERT_EQ(log["runs"].size(), 1u);
  const json& run = log["runs"][0];
  const json& driver = run["tool"]["driver"];
  EXPECT_EQ(driver["name"], "steward");
  EXPECT_EQ(driver["version"], "0.9.1");

  const json& rules = driver["rules"];
  std::set<std::string> ids;
  for (const json& rule : rules) {
    EXPECT_TRUE(ids.insert(rule["id"].get<std::string>()).second) << "duplicate " << rule["id"];
    EXPECT_FALSE(rule["shortDescription"]["text"].get<std::string>().empty());
    EXPECT_FALSE(rule["fullDescription"]["text"].get<std::string>().empty());
    EXPECT_FALSE(rule["help"]["text"].get<std::string>().empty());
    std::string level = rule["defaultConfiguration"]["level"];
    EXPECT_TRUE(level == "error" || level == "warning" || level == "note") << level;
    if (rule.contains("helpUri")) {
      EXPECT_EQ(rule["helpUri"].get<std::string>().rfind("https://", 0), 0u);
    }
  }
  EXPECT_EQ(ids.size(), 5u);  // the repeated dockerfile-latest-tag is one rule

  const json& results = run["results"];
  ASSERT_EQ(results.size(), r.findings.size());
  const std::map<Severity, std::string> level_of = {{Severity::kCritical, "error"},
                                                    {Severity::kHigh, "error"},
                                                    {Severity::kMedium, "warning"},
                                                    {Severity::kLow, "note"},
                                                    {Severity::kInfo, "note"}};
  for (size_t i = 0; i < results.size(); ++i) {
    const Finding& f = r.findings[i];
    const json& res = results[i];
    EXPECT_EQ(res["ruleId"], f.rule);
    EXPECT_EQ(rules[res["ruleIndex"].get<size_t>()]["id"], f.rule);
    EXPECT_EQ(res["level"], level_of.at(f.severity));
    EXPECT_EQ(res["message"]["text"], f.message);
    const json& loc = res["locations"][0]["physicalLocation"];
    EXPECT_FALSE(loc["artifactLocation"]["uri"].get<std::string>().empty());
    EXPECT_EQ(loc["region"]["startLine"], f.line);
    EXPECT_EQ(loc["region"].contains("startColumn"), f.column > 0);
    EXPECT_EQ(res["partialFingerprints"]["steward/v1"], f.fingerprint);
  }
  EXPECT_EQ(results[1]["locations"][0]["physicalLocation"]["artifactLocation"]["uri"],
            "my%20dir/app%20%231.env");
  EXPECT_EQ(results[1]["properties"]["commit"], r.findings[1].commit);
  EXPECT_EQ(results[0]["properties"]["package"], "lodash");
  EXPECT_EQ(rules[0]["helpUri"], r.findings[0].url);
  EXPECT_EQ(rules[0]["properties"]["security-severity"], "9.5");

  ASSERT_EQ(run["invocations"].size(), 1u);
  const json& invocation = run["invocations"][0];
  EXPECT_TRUE(invocation["executionSuccessful"].is_boolean());
  const json& notes = invocation["toolExecutionNotifications"];
  ASSERT_EQ(notes.size(), 2u);
  EXPECT_EQ(notes[0]["message"]["text"], "k8s/bad.yaml:7: not valid YAML: end of map not found");
  EXPECT_EQ(notes[0]["locations"][0]["physicalLocation"]["region"]["startLine"], 7);
  EXPECT_EQ(notes[1]["locations"][0]["physicalLocation"]["region"]["startLine"], 1);
}

TEST(FormatSarif, ConfigRulesCarryTheirFixAndLevel) {
  ScanResult r;
  r.findings.push_back(Config("k8s-privileged", Severity::kCritical, "a.yaml", 5, 7));
  json rule = json::parse(FormatSarif(r, ""))["runs"][0]["tool"]["driver"]["rules"][0];
  EXPECT_EQ(rule["help"]["text"], std::string(FindConfigRule("k8s-privileged")->fix));
  EXPECT_EQ(rule["defaultConfiguration"]["level"], "error");
  EXPECT_EQ(rule["properties"]["tags"], (json{"security", "config"}));
}

TEST(ExitCode, ByThreshold) {
  ScanResult r;
  EXPECT_EQ(ExitCodeFor(r, Severity::kInfo), 0);
  r.findings.push_back(Config("dockerfile-sudo", Severity::kMedium, "Dockerfile", 2, 0));
  r.problems.push_back(Problem{"x", 1, "bad"});
  EXPECT_EQ(ExitCodeFor(r, Severity::kInfo), 1);
  EXPECT_EQ(ExitCodeFor(r, Severity::kLow), 1);
  EXPECT_EQ(ExitCodeFor(r, Severity::kMedium), 1);
  EXPECT_EQ(ExitCodeFor(r, Severity::kHigh), 0);
  EXPECT_EQ(ExitCodeFor(r, Severity::kCritical), 0);
}

// docs/scan-rules.md lists every rule with its severity; the catalog and the page agree.
TEST(ConfigRules, EveryRuleIsDocumentedWithItsSeverity) {
  std::filesystem::path doc =
      testing::ConfigFixtures() / ".." / ".." / ".." / ".." / "docs" / "scan-rules.md";
  std::ifstream in(doc);
  ASSERT_TRUE(in.good()) << doc;
  std::stringstream text;
  text << in.rdbuf();
  std::set<std::string_view> ids;
  for (const ConfigRule& rule : ConfigRules()) {
    EXPECT_TRUE(ids.insert(rule.id).second) << "duplicate id " << rule.id;
    std::string row =
        "| `" + std::string(rule.id) + "` | " + std::string(SeverityName(rule.severity)) + " |";
    EXPECT_NE(text.str().find(row), std::string::npos) << "docs/scan-rules.md lacks " << row;
    EXPECT_FALSE(rule.fix.empty());
  }
}

}  // namespace
}  // namespace steward::scan
