#include "scan/stack_rules.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>
#include <string>

#include "config/stack_parser.h"
#include "fixtures/scan/config/expectations.h"
#include "scan/config_scan.h"
#include "scan/output.h"
#include "unit/state/temp_dir.h"

namespace steward::scan {
namespace {

namespace fs = std::filesystem;
using state::testing::TempDir;
using state::testing::WriteFile;

// Values for the fixtures' ${VAR}s, as if exported in the shell running steward.
const std::map<std::string, std::string> kShellEnv = {{"API_TOKEN", "tok-from-env"},
                                                      {"POSTGRES_PASSWORD", "pw-from-env"},
                                                      {"SESSION_SECRET", "session-from-env"}};

config::Stack ParseFixture(const std::string& dir) {
  config::ParseOptions options;
  options.lookup_env = [](const std::string& name) -> std::optional<std::string> {
    auto it = kShellEnv.find(name);
    if (it == kShellEnv.end()) return std::nullopt;
    return it->second;
  };
  fs::path file = testing::ConfigFixtures() / "stack" / dir / "steward.yaml";
  config::ParseResult parsed = config::ParseStackFile(file.string(), options);
  for (const config::Diagnostic& d : parsed.diagnostics) ADD_FAILURE() << d.ToString();
  return parsed.stack.value_or(config::Stack());
}

config::Service Service(std::string name, int line) {
  config::Service s;
  s.name = std::move(name);
  s.location.line = line;
  s.health.kind = config::HealthCheckKind::kHttp;
  return s;
}

config::Stack WithReceiver(config::Stack stack) {
  config::ReceiverConfig r;
  r.name = "team";
  r.webhook_configs.emplace_back();
  stack.alerting.receivers.push_back(r);
  return stack;
}

TEST(StackRules, FixturesFindExactlyTheAnnotatedFindings) {
  for (std::string dir : {"bad", "clean"}) {
    config::Stack stack = ParseFixture(dir);
    ASSERT_FALSE(stack.services.empty()) << dir;
    ScanResult r = ScanStack(stack, "steward.yaml");
    testing::Expected expected =
        testing::ReadExpectations(testing::ConfigFixtures() / "stack" / dir / "steward.yaml");
    testing::Expected found = testing::Found(r, "steward.yaml");
    EXPECT_EQ(found, expected) << dir << "\n  found:    " << testing::Describe(found)
                               << "\n  expected: " << testing::Describe(expected);
    EXPECT_EQ(found.size(), r.findings.size());
    EXPECT_TRUE(r.problems.empty());
  }
}

TEST(StackRules, ValuesFromTheShellAndSecretsNeverReachOutput) {
  config::Stack stack = ParseFixture("bad");
  ScanResult r = ScanStack(stack, "steward.yaml");
  for (const std::string& out : {FormatTable(r, false), FormatJson(r), FormatSarif(r, "t")}) {
    EXPECT_EQ(out.find("hunter2-not-real"), std::string::npos) << out;
    EXPECT_EQ(out.find("tok-from-env"), std::string::npos) << out;
  }
}

// A stack that came over the API has no file to look at: the model's values and the
// service's line are what there is; ${secret:NAME} references stay quiet.
TEST(StackRules, ModelWithoutAFileUsesServiceLines) {
  config::Stack stack;
  config::Service api = Service("api", 7);
  api.env = {{"DB_PASSWORD", "${secret:db_password}"},
             {"STRIPE_API_KEY", "sk-literal"},
             {"LOG_LEVEL", "debug"},
             {"SIGNING_SECRET", "prefix-${secret:signing}"}};
  stack.services.push_back(api);
  ScanResult r = ScanStack(WithReceiver(stack), "stack.json");
  ASSERT_EQ(r.findings.size(), 1u) << testing::Describe(testing::Found(r, "stack.json"));
  EXPECT_EQ(r.findings[0].rule, "stack-plaintext-secret");
  EXPECT_EQ(r.findings[0].line, 7);
  EXPECT_EQ(r.findings[0].severity, Severity::kHigh);
  EXPECT_NE(r.findings[0].message.find("STRIPE_API_KEY"), std::string::npos);
  EXPECT_NE(r.findings[0].message.find("${secret:stripe_api_key}"), std::string::npos);
  EXPECT_EQ(r.findings[0].message.find("sk-literal"), std::string::npos);
}

TEST(StackRules, StatefulEvidence) {
  auto backup_findings = [](config::Service s) {
    config::Stack stack;
    stack.services.push_back(std::move(s));
    size_t n = 0;
    for (const Finding& f : ScanStack(WithReceiver(stack), "s.yaml").findings) {
      n += f.rule == "stack-stateful-no-backup";
    }
    return n;
  };
  config::Service s = Service("x", 1);
  s.command = "/usr/lib/postgresql/15/bin/postgres";
  EXPECT_EQ(backup_findings(s), 1u);
  s.backup.enabled = true;
  EXPECT_EQ(backup_findings(s), 0u);
  s = Service("x", 1);
  s.command = "./bin/app";
  EXPECT_EQ(backup_findings(s), 0u);
  s.env = {{"DATABASE_URL", "sqlite:///srv/app.db"}};
  EXPECT_EQ(backup_findings(s), 1u);
  s = Service("x", 1);
  s.command = "docker";
  s.args = {"run", "--rm", "-v", "pgdata:/var/lib/postgresql/data", "postgres:16"};
  EXPECT_EQ(backup_findings(s), 1u);
  s.args = {"run", "--rm", "redis:7"};  // a cache
  EXPECT_EQ(backup_findings(s), 0u);
}

TEST(StackRules, ContainerImageOfDockerAndPodmanRun) {
  config::Service s = Service("x", 1);
  s.command = "/usr/bin/podman";
  s.args = {"run", "--rm",        "--name",    "web",        "-p",    "8080:80", "-e",
            "A=1", "--read-only", "--env=B=2", "nginx:1.27", "nginx", "-g",      "daemon off;"};
  EXPECT_EQ(ContainerImage(s), "nginx:1.27");
  s.args = {"container", "run", "-d", "ghcr.io/acme/app"};
  EXPECT_EQ(ContainerImage(s), "ghcr.io/acme/app");
  s.args = {"ps"};
  EXPECT_EQ(ContainerImage(s), "");
  s.command = "./bin/app";
  s.args = {"run", "image:latest"};
  EXPECT_EQ(ContainerImage(s), "");
}

TEST(StackRules, LoopbackHosts) {
  for (std::string_view h : {"127.0.0.1", "127.1.2.3", "localhost", "::1", "[::1]"}) {
    EXPECT_TRUE(IsLoopbackHost(h)) << h;
  }
  for (std::string_view h : {"0.0.0.0", "10.0.0.5", "::", "example.com", "127.evil.example"}) {
    EXPECT_FALSE(IsLoopbackHost(h)) << h;
  }
}

TEST(StackRules, NoReceiverIsReportedOnlyForAStackThatRunsSomething) {
  EXPECT_TRUE(ScanStack(config::Stack(), "s.yaml").findings.empty());
  config::Stack stack;
  stack.services.push_back(Service("web", 3));
  ScanResult r = ScanStack(stack, "s.yaml");
  ASSERT_EQ(r.findings.size(), 1u);
  EXPECT_EQ(r.findings[0].rule, "stack-no-alert-receiver");
  EXPECT_EQ(r.findings[0].line, 0);  // no file, no alerting: section: the stack as a whole
}

TEST(ScanConfig, WalksTheTreeSkipsGitAndAddsTheStack) {
  TempDir dir;
  fs::create_directories(dir.Sub(".git/objects"));
  fs::create_directories(dir.Sub("deploy/k8s"));
  fs::create_directories(dir.Sub("services/api"));
  WriteFile(dir.Sub(".git/Dockerfile"), "FROM ubuntu\n");
  WriteFile(dir.Sub("services/api/Dockerfile"), "FROM ubuntu:24.04\nUSER app\nHEALTHCHECK NONE\n");
  WriteFile(dir.Sub("services/api/Dockerfile.dev"), "FROM ubuntu\nUSER app\nHEALTHCHECK NONE\n");
  WriteFile(dir.Sub("deploy/k8s/ns.yaml"),
            "apiVersion: v1\nkind: Namespace\nmetadata: {name: a}\n");
  WriteFile(dir.Sub("deploy/k8s/broken.yml"), "apiVersion: v1\nkind: Pod\nspec: {\n");
  WriteFile(dir.Sub("README.md"), "FROM ubuntu\n");
  config::Stack stack;
  stack.services.push_back(Service("web", 4));
  ConfigScanOptions options;
  options.stack = &stack;
  options.stack_path = "steward.yaml";
  ScanResult r = ScanConfig(dir.path(), options);
  r.Sort();
  std::vector<std::string> where;
  for (const Finding& f : r.findings) where.push_back(f.rule + " " + f.path);
  EXPECT_EQ(where, (std::vector<std::string>{"dockerfile-latest-tag services/api/Dockerfile.dev",
                                             "stack-no-alert-receiver steward.yaml"}));
  ASSERT_EQ(r.problems.size(), 1u);
  EXPECT_EQ(r.problems[0].path, "deploy/k8s/broken.yml");
  EXPECT_EQ(r.files, 4u);

  // A single file is scanned as itself.
  ScanResult one = ScanConfig(dir.Sub("services/api/Dockerfile.dev"), {});
  ASSERT_EQ(one.findings.size(), 1u);
  EXPECT_EQ(one.findings[0].path, "Dockerfile.dev");
}

TEST(ScanConfig, AMissingRootIsAProblemNotACrash) {
  ScanResult r = ScanConfig("/nonexistent/steward-scan-root", {});
  EXPECT_TRUE(r.findings.empty());
  ASSERT_EQ(r.problems.size(), 1u);
  EXPECT_NE(r.problems[0].message.find("cannot read"), std::string::npos);
}

TEST(SecretNames, WhatLooksLikeASecret) {
  for (std::string_view yes : {"DB_PASSWORD", "db-password", "GITHUB_TOKEN", "AUTHTOKEN",
                               "STRIPE_API_KEY", "apiKey", "AWS_SECRET_ACCESS_KEY", "CLIENT_SECRET",
                               "DB_PASS", "MYSQL_PWD", "GCP_CREDENTIALS", "SSH_PRIVATE_KEY"}) {
    EXPECT_TRUE(LooksLikeSecretName(yes)) << yes;
  }
  for (std::string_view no :
       {"PASSWORD_FILE", "TOKENIZERS_PARALLELISM", "TOKEN_TTL", "SECRET_NAME", "PWD", "LOG_LEVEL",
        "PASSWORD_MIN_LENGTH", "BYPASS_CACHE", "KEYCLOAK_URL"}) {
    EXPECT_FALSE(LooksLikeSecretName(no)) << no;
  }
}

}  // namespace
}  // namespace steward::scan
