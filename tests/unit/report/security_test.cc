#include "report/security.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <sys/stat.h>

#include <fstream>

#include "unit/state/temp_dir.h"

namespace steward::report {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

constexpr int64_t kDay = 86'400'000;
constexpr int64_t kNow = 1'800'000'000'000;

scan::Finding Found(std::string scanner, std::string rule, scan::Severity sev, std::string path,
                    int line) {
  scan::Finding f;
  f.scanner = std::move(scanner);
  f.rule = std::move(rule);
  f.severity = sev;
  f.path = std::move(path);
  f.line = line;
  f.message = "found " + f.rule;
  return f;
}

state::SecretRecord Secret(std::string name, int64_t version, std::string st, int64_t created) {
  state::SecretRecord r;
  r.name = std::move(name);
  r.version = version;
  r.state = std::move(st);
  r.created_at_ms = created;
  r.sealed = "never-read";
  return r;
}

const Control& Find(const SecurityReport& r, const std::string& id) {
  for (const Control& c : r.controls) {
    if (c.id == id) return c;
  }
  static Control none;
  ADD_FAILURE() << "no control " << id;
  return none;
}

config::Stack TwoServices() {
  config::Stack stack;
  config::Service web;
  web.name = "web";
  web.health.kind = config::HealthCheckKind::kHttp;
  config::Service worker;
  worker.name = "worker";
  stack.services = {web, worker};
  return stack;
}

TEST(SecurityReport, ControlsFollowFindingsSecretsTokensAndTheStack) {
  config::Stack stack = TwoServices();
  SecurityInput in;
  in.stack = &stack;
  in.now_ms = kNow;
  in.scanned = true;
  in.deps_scanned = true;
  in.scan.findings = {Found("deps", "GHSA-1", scan::Severity::kCritical, "package-lock.json", 12),
                      Found("config", "dockerfile-latest-tag", scan::Severity::kMedium,
                            "Dockerfile", 1),
                      Found("config", "stack-no-health-check", scan::Severity::kMedium,
                            "steward.yaml", 9)};
  in.secrets = {Secret("db_pw", 1, "previous", kNow - 200 * kDay),
                Secret("db_pw", 2, "current", kNow - 2 * kDay),
                Secret("old_key", 1, "current", kNow - 120 * kDay),
                Secret("gone", 1, "retired", kNow - 300 * kDay)};
  in.tokens = {{"ci", "deploy", std::string(64, 'a'), kNow - 200 * kDay, kNow - kDay},
               {"dusty", "read", std::string(64, 'b'), kNow - 200 * kDay, 0}};
  SecurityReport r = ComputeSecurity(in);

  EXPECT_FALSE(r.pass);
  EXPECT_EQ(Find(r, "SEC-01").status, "pass");  // no secret findings
  EXPECT_EQ(Find(r, "SEC-02").status, "fail");
  EXPECT_EQ(Find(r, "SEC-03").status, "pass");  // only a medium config finding
  EXPECT_EQ(Find(r, "SEC-04").status, "fail");
  EXPECT_THAT(Find(r, "SEC-04").detail, HasSubstr("1 service without one"));
  EXPECT_EQ(Find(r, "SEC-05").status, "fail");
  EXPECT_THAT(Find(r, "SEC-05").detail, HasSubstr("old_key (120 days)"));
  EXPECT_THAT(Find(r, "SEC-05").detail, Not(HasSubstr("db_pw")));
  EXPECT_EQ(Find(r, "SEC-06").status, "fail");  // db_pw rotated 2 days ago, still rolling
  EXPECT_EQ(Find(r, "SEC-07").status, "fail");
  EXPECT_THAT(Find(r, "SEC-07").detail, HasSubstr("dusty"));
  EXPECT_THAT(Find(r, "SEC-07").detail, Not(HasSubstr("ci")));
  EXPECT_EQ(Find(r, "SEC-08").status, "n/a");

  ASSERT_EQ(r.secrets.size(), 2u);  // "gone" has no current version
  EXPECT_EQ(r.secrets[0].name, "db_pw");
  EXPECT_EQ(r.secrets[0].version, 2);
  EXPECT_EQ(r.secrets[0].rotations, 1);
  EXPECT_TRUE(r.secrets[0].pending_roll);
  EXPECT_EQ(r.secrets[0].age_days, 2);
  EXPECT_EQ(r.findings_by_severity.at("critical"), 1);
  EXPECT_EQ(r.findings_by_severity.at("high"), 0);
  EXPECT_EQ(r.top_findings.at(0).rule, "GHSA-1");
}

TEST(SecurityReport, NothingToJudgeIsNotAFailure) {
  SecurityInput in;
  in.now_ms = kNow;
  SecurityReport r = ComputeSecurity(in);
  EXPECT_TRUE(r.pass);
  for (const Control& c : r.controls) EXPECT_EQ(c.status, "n/a") << c.id;
  EXPECT_EQ(r.controls.size(), 8u);
}

TEST(SecurityReport, MasterKeyModeIsChecked) {
  state::testing::TempDir dir;
  std::string key = dir.Sub("master.key");
  std::ofstream(key) << "k";
  ::chmod(key.c_str(), 0644);
  SecurityInput in;
  in.now_ms = kNow;
  in.master_key_file = key;
  EXPECT_EQ(Find(ComputeSecurity(in), "SEC-08").status, "fail");
  EXPECT_THAT(Find(ComputeSecurity(in), "SEC-08").detail, HasSubstr("chmod 600"));
  ::chmod(key.c_str(), 0600);
  EXPECT_EQ(Find(ComputeSecurity(in), "SEC-08").status, "pass");
}

TEST(SecurityReport, AuditSummaryCountsDeniedAndRendersEveryFormat) {
  SecurityInput in;
  in.now_ms = kNow;
  in.audit_since_ms = kNow - kDay;
  for (int i = 1; i <= 4; ++i) {
    state::AuditRecord a;
    a.id = i;
    a.time_ms = kNow - i * 1000;
    a.actor = i == 1 ? "-" : "ci";
    a.method = "POST";
    a.path = i == 4 ? "/api/v1/apply" : "/api/v1/deploy/<web>";
    a.status = i == 1 ? 401 : (i == 2 ? 403 : 200);
    a.remote = "127.0.0.1";
    in.audit.push_back(a);
  }
  in.scanned = true;
  in.scan.findings = {Found("secrets", "github-token", scan::Severity::kHigh, "a|b.txt", 3)};
  SecurityReport r = ComputeSecurity(in);
  EXPECT_EQ(r.audit.calls, 4);
  EXPECT_EQ(r.audit.denied, 2);
  EXPECT_EQ(r.audit.by_actor.at("ci"), 3);
  ASSERT_EQ(r.audit.recent_denied.size(), 2u);
  EXPECT_EQ(r.audit.recent_denied[0].id, 2);
  EXPECT_EQ(Find(r, "SEC-01").status, "fail");

  nlohmann::json j = ToJson(r);
  EXPECT_EQ(j["pass"], false);
  EXPECT_EQ(j["audit"]["denied"], 2);
  EXPECT_EQ(j["controls"].size(), 8u);
  EXPECT_EQ(j["findings"]["top"][0]["rule"], "github-token");

  std::string md = ToMarkdown(r);
  EXPECT_THAT(md, HasSubstr("Result: **FAIL**"));
  EXPECT_THAT(md, HasSubstr("| SEC-01 | No secrets leaked in files or git history | **fail** |"));
  EXPECT_THAT(md, HasSubstr("a\\|b.txt:3"));  // a '|' in a path does not break the row
  std::string html = ToHtml(r);
  EXPECT_THAT(html, HasSubstr("<!DOCTYPE html>"));
  EXPECT_THAT(html, HasSubstr("/api/v1/deploy/&lt;web&gt;"));
  EXPECT_THAT(html, Not(HasSubstr("<web>")));
}

}  // namespace
}  // namespace steward::report
