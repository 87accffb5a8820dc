// `steward scan` and `steward report security` as a user runs them: the real binary over a
// project with a planted token, a vulnerable lockfile (against an OSV directory written here), a
// risky Dockerfile and a stack without a health check; exit codes by severity, JSON and SARIF,
// a baseline that quiets what is known, and a report whose controls follow the findings.
#include <gtest/gtest.h>

#include <filesystem>
#include <map>
#include <string>

#include <nlohmann/json.hpp>

#include "integration/harness.h"

namespace steward::testing {
namespace {

// Split so that this source file itself is not a leak for the scanner.
const std::string kToken = std::string("ghp_") + "Zq8rT2mXv9LkP4sW7nB1cY6dF3gH5jK0aE2u";

void WriteProject(Project& p) {
  WriteFile(p.dir() + "/src/config.py", "import os\nGITHUB = '" + kToken + "'\n");
  WriteFile(p.dir() + "/src/clean.py", "def add(a, b):\n    return a + b\n");
  WriteFile(p.dir() + "/Dockerfile", "FROM debian:latest\nRUN echo hi\n");
  WriteFile(p.dir() + "/package-lock.json", R"({
  "name": "app",
  "lockfileVersion": 3,
  "packages": {
    "": {"name": "app"},
    "node_modules/lodash": {"version": "4.17.15"},
    "node_modules/left-pad": {"version": "1.3.0"}
  }
}
)");
  WriteFile(p.dir() + "/osv/GHSA-test-0001.json", R"({
  "id": "GHSA-test-0001",
  "aliases": ["CVE-2099-0001"],
  "summary": "Prototype pollution in lodash",
  "database_specific": {"severity": "CRITICAL"},
  "affected": [{
    "package": {"ecosystem": "npm", "name": "lodash"},
    "ranges": [{"type": "SEMVER", "events": [{"introduced": "0"}, {"fixed": "4.17.21"}]}]
  }]
})");
  p.WriteStack(R"(project: scanned
services:
  web:
    command: /bin/sleep
    args: ["1000"]
)");
}

nlohmann::json Json(const RunResult& r) {
  auto j = nlohmann::json::parse(r.out, nullptr, false);
  EXPECT_FALSE(j.is_discarded()) << r.out.substr(0, 400);
  return j;
}

bool HasRule(const nlohmann::json& findings, const std::string& scanner, const std::string& rule) {
  for (const auto& f : findings) {
    if (f.value("scanner", "") == scanner && f.value("rule", "") == rule) return true;
  }
  return false;
}

TEST(ScanCli, FindsEachKindGatesBySeverityAndNeverPrintsTheSecret) {
  Project p;
  WriteProject(p);
  std::string osv = p.dir() + "/osv";

  RunResult json = p.Steward({"scan", p.dir(), "--osv-db", osv, "--format", "json"});
  EXPECT_EQ(json.exit_code, 2) << json.err;  // critical and high findings, default --fail-on high
  nlohmann::json j = Json(json);
  const auto& findings = j["findings"];
  EXPECT_TRUE(HasRule(findings, "secrets", "github-token")) << json.out;
  EXPECT_TRUE(HasRule(findings, "deps", "GHSA-test-0001")) << json.out;
  EXPECT_TRUE(HasRule(findings, "config", "dockerfile-latest-tag")) << json.out;
  EXPECT_TRUE(HasRule(findings, "config", "stack-no-health-check")) << json.out;
  for (const auto& f : findings) {
    EXPECT_NE(f.value("path", ""), "src/clean.py");
    if (f.value("rule", "") == "github-token") {
      EXPECT_EQ(f.value("path", ""), "src/config.py");
      EXPECT_EQ(f.value("line", 0), 2);
    }
  }
  EXPECT_EQ(json.out.find(kToken), std::string::npos);
  EXPECT_EQ(json.err.find(kToken), std::string::npos);

  RunResult table = p.Steward({"scan", p.dir(), "--osv-db", osv});
  EXPECT_EQ(table.exit_code, 2);
  EXPECT_NE(table.out.find("github-token"), std::string::npos) << table.out;
  EXPECT_EQ(table.out.find(kToken), std::string::npos);

  // The gate is by severity: the configuration's worst is high (no USER in the Dockerfile).
  RunResult crit = p.Steward({"scan", p.dir(), "--scanners", "config", "--fail-on", "critical"});
  EXPECT_EQ(crit.exit_code, 0) << crit.out;
  RunResult high = p.Steward({"scan", p.dir(), "--scanners", "config", "--fail-on", "high"});
  EXPECT_EQ(high.exit_code, 2) << high.out;
  EXPECT_NE(high.out.find("dockerfile-root-user"), std::string::npos) << high.out;
  EXPECT_EQ(p.Steward({"scan", p.dir(), "--osv-db", osv, "--fail-on", "none"}).exit_code, 0);
  // Without an OSV directory the dependency scanner is skipped, and says so.
  RunResult no_db = p.Steward({"scan", p.dir(), "--json", "--fail-on", "none"});
  EXPECT_NE(no_db.err.find("--osv-db"), std::string::npos) << no_db.err;
  EXPECT_FALSE(HasRule(Json(no_db)["findings"], "deps", "GHSA-test-0001"));

  std::string sarif_file = p.dir() + "/out.sarif";
  RunResult sarif = p.Steward(
      {"scan", p.dir(), "--osv-db", osv, "--format", "sarif", "-o", sarif_file, "--fail-on",
       "none"});
  EXPECT_EQ(sarif.exit_code, 0) << sarif.err;
  auto s = nlohmann::json::parse(ReadFile(sarif_file), nullptr, false);
  ASSERT_FALSE(s.is_discarded());
  EXPECT_EQ(s["version"], "2.1.0");
  EXPECT_EQ(s["runs"][0]["tool"]["driver"]["name"], "steward");
  EXPECT_GE(s["runs"][0]["results"].size(), 4u);
  EXPECT_EQ(ReadFile(sarif_file).find(kToken), std::string::npos);
}

TEST(ScanCli, ABaselineKeepsKnownFindingsQuietAndNewOnesLoud) {
  Project p;
  WriteProject(p);
  std::string osv = p.dir() + "/osv";
  std::string baseline = p.dir() + "/.steward-baseline.json";
  RunResult wrote = p.Steward({"scan", p.dir(), "--osv-db", osv, "--write-baseline", baseline});
  EXPECT_EQ(wrote.exit_code, 2);
  EXPECT_EQ(ReadFile(baseline).find(kToken), std::string::npos);

  // The baseline beside the tree is read by default: everything known is quiet.
  RunResult quiet = p.Steward({"scan", p.dir(), "--osv-db", osv, "--json"});
  EXPECT_EQ(quiet.exit_code, 0) << quiet.out;
  EXPECT_TRUE(Json(quiet)["findings"].empty()) << quiet.out;
  EXPECT_NE(quiet.err.find("baseline"), std::string::npos) << quiet.err;

  // A new leak is reported.
  WriteFile(p.dir() + "/src/new.py",
            std::string("KEY = '") + "AKIA" + "Q3EGRT7XK2MZP4WB" + "'\n");
  RunResult loud = p.Steward({"scan", p.dir(), "--osv-db", osv, "--json"});
  EXPECT_EQ(loud.exit_code, 2);
  EXPECT_TRUE(HasRule(Json(loud)["findings"], "secrets", "aws-access-key-id")) << loud.out;
}

TEST(ScanCli, BadFlagsAreClearErrors) {
  Project p;
  WriteProject(p);
  RunResult bad = p.Steward({"scan", p.dir(), "--scanners", "secrets,viruses"});
  EXPECT_EQ(bad.exit_code, 1);
  EXPECT_NE(bad.err.find("unknown scanner 'viruses'"), std::string::npos) << bad.err;
  RunResult sev = p.Steward({"scan", p.dir(), "--fail-on", "severe"});
  EXPECT_EQ(sev.exit_code, 1);
  EXPECT_NE(sev.err.find("critical, high, medium, low, info or none"), std::string::npos);
  RunResult hist = p.Steward({"scan", p.dir(), "--history"});
  EXPECT_EQ(hist.exit_code, 1);
  EXPECT_NE(hist.err.find("not a git checkout"), std::string::npos) << hist.err;
  RunResult missing = p.Steward({"scan", p.dir() + "/nope"});
  EXPECT_EQ(missing.exit_code, 1);
  EXPECT_NE(missing.err.find("not a directory"), std::string::npos) << missing.err;
  WriteFile(p.dir() + "/broken-baseline.json", "{not json");
  RunResult base = p.Steward({"scan", p.dir(), "--baseline", p.dir() + "/broken-baseline.json"});
  EXPECT_EQ(base.exit_code, 1);
  EXPECT_NE(base.err.find("broken-baseline.json"), std::string::npos) << base.err;
}

TEST(ReportSecurity, ControlsFollowTheScanAndEveryFormatRenders) {
  Project p;
  WriteProject(p);
  std::string osv = p.dir() + "/osv";
  RunResult json = p.Steward({"report", "security", p.dir(), "--osv-db", osv, "--json"});
  ASSERT_EQ(json.exit_code, 0) << json.err;
  nlohmann::json j = Json(json);
  EXPECT_EQ(j["pass"], false);
  std::map<std::string, std::string> status;
  for (const auto& c : j["controls"]) status[c["id"]] = c["status"];
  EXPECT_EQ(status["SEC-01"], "fail");  // the planted token
  EXPECT_EQ(status["SEC-02"], "fail");  // lodash 4.17.15, critical
  EXPECT_EQ(status["SEC-04"], "fail");  // web has no health check
  EXPECT_EQ(status["SEC-05"], "n/a");   // no state directory yet: nothing stored
  EXPECT_GE(j["findings"]["by_severity"]["critical"].get<int>(), 1);
  EXPECT_FALSE(std::filesystem::exists(p.StateDir())) << "a report must not create state";

  RunResult md = p.Steward({"report", "security", p.dir(), "--osv-db", osv});
  EXPECT_EQ(md.exit_code, 0);
  EXPECT_NE(md.out.find("# Security report"), std::string::npos);
  EXPECT_NE(md.out.find("| SEC-02 |"), std::string::npos);
  std::string html_file = p.dir() + "/security.html";
  RunResult html = p.Steward({"report", "security", p.dir(), "--format", "html", "-o", html_file});
  EXPECT_EQ(html.exit_code, 0) << html.err;
  EXPECT_NE(ReadFile(html_file).find("<!DOCTYPE html>"), std::string::npos);
  for (const std::string& out : {json.out, md.out, ReadFile(html_file)}) {
    EXPECT_EQ(out.find(kToken), std::string::npos);
  }
}

}  // namespace
}  // namespace steward::testing
