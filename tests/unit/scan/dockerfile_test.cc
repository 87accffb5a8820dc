#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>
#include <string>

#include "fixtures/scan/config/expectations.h"
#include "scan/config_scan.h"
#include "scan/dockerfile_parser.h"
#include "scan/dockerfile_rules.h"
#include "scan/dockerfile_shell.h"
#include "scan/output.h"

namespace steward::scan {
namespace {

namespace fs = std::filesystem;

std::vector<std::string> Rules(const ScanResult& r) {
  std::vector<std::string> rules;
  for (const Finding& f : r.findings) rules.push_back(f.rule);
  std::sort(rules.begin(), rules.end());
  return rules;
}

bool Has(const ScanResult& r, std::string_view rule) {
  return std::any_of(r.findings.begin(), r.findings.end(),
                     [&](const Finding& f) { return f.rule == rule; });
}

// A final stage that passes the stage-level rules, so a test sees only what it adds.
constexpr std::string_view kQuietEnd = "USER app\nHEALTHCHECK CMD [\"/ok\"]\n";

ScanResult Scan(std::string text) { return ScanDockerfile(text, "Dockerfile"); }

TEST(DockerfileParser, JoinsContinuationsAndDropsCommentsInside) {
  ParsedDockerfile df = ParseDockerfile(
      "FROM alpine:3.20\n"
      "RUN apk add \\\n"
      "  # a comment in the middle\n"
      "\n"
      "  curl \\\n"
      "  jq\n");
  ASSERT_TRUE(df.errors.empty());
  ASSERT_EQ(df.instructions.size(), 2u);
  const DockerInstruction& run = df.instructions[1];
  EXPECT_EQ(run.keyword, "RUN");
  EXPECT_EQ(run.args, "apk add   curl   jq");
  EXPECT_EQ(run.line, 2);
  EXPECT_EQ(run.end_line, 6);
  EXPECT_EQ(run.LineOf(run.args.find("curl")), 5);
  EXPECT_EQ(run.LineOf(run.args.find("jq")), 6);
}

TEST(DockerfileParser, EscapeDirectiveMakesBacktickTheContinuation) {
  ParsedDockerfile df = ParseDockerfile(
      "# escape=`\n"
      "FROM mcr.microsoft.com/windows/nanoserver:ltsc2022\n"
      "COPY app\\ C:\\app\\\n"
      "RUN dir `\n"
      "  C:\\app\n");
  EXPECT_EQ(df.escape, '`');
  ASSERT_EQ(df.instructions.size(), 3u);
  EXPECT_EQ(df.instructions[1].args, "app\\ C:\\app\\");
  EXPECT_EQ(df.instructions[2].args, "dir   C:\\app");
}

TEST(DockerfileParser, DirectivesOnlyCountAtTheTop) {
  ParsedDockerfile df = ParseDockerfile("FROM alpine:3.20\n# escape=`\nRUN a \\\n b\n");
  EXPECT_EQ(df.escape, '\\');
  ASSERT_EQ(df.instructions.size(), 2u);
  EXPECT_EQ(df.instructions[1].args, "a  b");
}

TEST(DockerfileParser, HeredocBodiesAreNotInstructions) {
  ParsedDockerfile df = ParseDockerfile(
      "FROM alpine:3.20\n"
      "RUN <<EOF\n"
      "FROM evil\n"
      "USER root\n"
      "EOF\n"
      "COPY <<-'CONF' /etc/app.conf\n"
      "\tkey = value\n"
      "\tCONF\n"
      "USER app\n");
  ASSERT_TRUE(df.errors.empty()) << df.errors[0].message;
  ASSERT_EQ(df.instructions.size(), 4u);
  EXPECT_EQ(df.instructions[1].heredocs, std::vector<std::string>{"FROM evil\nUSER root\n"});
  EXPECT_EQ(df.instructions[1].end_line, 5);
  EXPECT_EQ(df.instructions[2].heredocs, std::vector<std::string>{"\tkey = value\n"});
  EXPECT_EQ(df.instructions[3].keyword, "USER");
  EXPECT_EQ(df.instructions[3].line, 9);
}

TEST(DockerfileParser, ReadsExecFormAndFlags) {
  ParsedDockerfile df = ParseDockerfile(
      "FROM --platform=$BUILDPLATFORM golang:1.22 AS build\n"
      "RUN --mount=type=cache,target=/root/.cache [\"go\", \"build\", \"./...\"]\n"
      "CMD [not json\n");
  ASSERT_EQ(df.instructions.size(), 3u);
  EXPECT_EQ(df.instructions[0].flags, std::vector<std::string>{"--platform=$BUILDPLATFORM"});
  EXPECT_EQ(df.instructions[0].args, "golang:1.22 AS build");
  EXPECT_TRUE(df.instructions[1].exec_form);
  EXPECT_EQ(df.instructions[1].exec_args, (std::vector<std::string>{"go", "build", "./..."}));
  EXPECT_FALSE(df.instructions[2].exec_form);  // BuildKit runs it as shell form
}

TEST(DockerfileParser, BadLinesAreErrorsWithLinesAndParsingGoesOn) {
  ParsedDockerfile df = ParseDockerfile(
      "RUN echo early\n"
      "FROM alpine:3.20\n"
      "FORM x\n"
      "USER\n"
      "RUN <<EOF\n"
      "echo never closed\n");
  ASSERT_EQ(df.errors.size(), 4u);
  EXPECT_EQ(df.errors[0].line, 3);
  EXPECT_EQ(df.errors[0].message, "unknown instruction 'FORM'; did you mean FROM?");
  EXPECT_EQ(df.errors[1].line, 4);
  EXPECT_EQ(df.errors[1].message, "USER needs an argument");
  EXPECT_EQ(df.errors[2].line, 5);
  EXPECT_NE(df.errors[2].message.find("heredoc <<EOF is not closed"), std::string::npos);
  EXPECT_EQ(df.errors[3].line, 1);
  EXPECT_NE(df.errors[3].message.find("before the first FROM"), std::string::npos);
}

TEST(DockerfileParser, SplitsWordsWithQuotesAndEscapes) {
  EXPECT_EQ(SplitDockerWords("A=\"x y\" B='$z' C=a\\ b", '\\'),
            (std::vector<std::string>{"A=x y", "B=$z", "C=a b"}));
}

// Every `# expect:` of every fixture Dockerfile is found, and nothing else (clean/ has none).
TEST(DockerfileRules, FixturesFindExactlyTheAnnotatedFindings) {
  fs::path root = testing::ConfigFixtures() / "docker";
  ScanResult r = ScanConfig(root, {});
  int files = testing::ExpectAnnotatedFindings(root, r);
  EXPECT_EQ(files, 6);
  EXPECT_EQ(r.files, 6u);
  for (const Finding& f : r.findings) {
    EXPECT_EQ(f.scanner, "config");
    EXPECT_FALSE(f.title.empty());
    EXPECT_FALSE(f.message.empty());
    EXPECT_EQ(f.fingerprint.size(), 16u);
    EXPECT_NE(FindConfigRule(f.rule), nullptr) << f.rule;
  }
}

TEST(DockerfileRules, MalformedFileIsReportedAndTheRestStillChecked) {
  fs::path root = testing::ConfigFixtures() / "docker";
  ScanResult r = ScanConfig(root, {});
  std::vector<std::string> problems;
  for (const Problem& p : r.problems) problems.push_back(p.ToString());
  EXPECT_EQ(problems, (std::vector<std::string>{
                          "malformed/Dockerfile:3: unknown instruction 'FORM'; did you mean FROM?",
                          "malformed/Dockerfile:5: heredoc <<EOF is not closed; end it with a "
                          "line holding only EOF"}));
  // And the clean/ files found nothing at all.
  for (const Finding& f : r.findings) EXPECT_EQ(f.path.rfind("clean/", 0), std::string::npos);
}

TEST(DockerfileRules, SecretValuesNeverReachAnyOutput) {
  const std::string value = "s3cr3t-Value-9f8e7d";
  ScanResult r = Scan("FROM alpine:3.20\nENV API_KEY=" + value + "\nARG DB_PASS=\"" + value +
                      "\"\nENV GITHUB_TOKEN " + value + "\n" + std::string(kQuietEnd));
  EXPECT_EQ(Rules(r), (std::vector<std::string>{"dockerfile-secret-arg", "dockerfile-secret-env",
                                                "dockerfile-secret-env"}));
  for (const std::string& out : {FormatTable(r, false), FormatJson(r), FormatSarif(r, "test")}) {
    EXPECT_EQ(out.find(value), std::string::npos) << out;
  }
  EXPECT_EQ(r.findings[0].snippet, "ENV API_KEY=***");
}

TEST(DockerfileRules, ReferencesAndEmptyValuesAreNotSecrets) {
  ScanResult r = Scan(
      "ARG API_KEY\nFROM alpine:3.20\nARG API_KEY\nENV API_KEY=$API_KEY "
      "DB_PASSWORD=\"${DB_PASSWORD}\" AUTH_TOKEN=\nENV TOKEN_TTL=60\n" +
      std::string(kQuietEnd));
  EXPECT_TRUE(r.findings.empty()) << testing::Describe(testing::Found(r, "Dockerfile"));
}

TEST(DockerfileRules, StageNamesScratchAndArgsAreResolved) {
  ScanResult r = Scan(
      "ARG TAG=3.20\nARG FLOATING\n"
      "FROM alpine:${TAG} AS base\n"
      "FROM Base AS second\n"  // a stage name, any case
      "FROM scratch AS empty\n"
      "FROM alpine:${FLOATING:-latest}\n"
      "FROM registry.local:5000/tools\n"
      "FROM ${UNKNOWN}\n"  // unknown until build time: not judged
      "FROM base\n" +
      std::string(kQuietEnd));
  std::vector<int> lines;
  for (const Finding& f : r.findings) {
    EXPECT_EQ(f.rule, "dockerfile-latest-tag");
    lines.push_back(f.line);
  }
  EXPECT_EQ(lines, (std::vector<int>{6, 7}));
}

TEST(DockerfileRules, FinalStageInheritsUserAndHealthcheckFromItsBaseStage) {
  EXPECT_TRUE(Scan("FROM alpine:3.20 AS base\nUSER app\nHEALTHCHECK NONE\nFROM base\nRUN true\n")
                  .findings.empty());
  ScanResult r = Scan("FROM alpine:3.20 AS build\nUSER app\nFROM alpine:3.20\nHEALTHCHECK NONE\n");
  ASSERT_EQ(Rules(r), std::vector<std::string>{"dockerfile-root-user"});
  EXPECT_EQ(r.findings[0].line, 3);
  r = Scan("FROM alpine:3.20\nUSER 0:0\nHEALTHCHECK NONE\n");
  ASSERT_EQ(Rules(r), std::vector<std::string>{"dockerfile-root-user"});
  EXPECT_EQ(r.findings[0].line, 2);
}

TEST(DockerfileRules, DownloadsHandedToAShell) {
  for (std::string run :
       {"curl -fsSL https://x/i.sh | sh", "curl https://x | sudo -E bash -",
        "wget -O- https://x | tee /tmp/log | /bin/sh", "sh -c \"$(curl -fsSL https://x/i.sh)\"",
        "bash <(curl -s https://x)", "<<EOF\ncurl https://x | bash\nEOF"}) {
    EXPECT_TRUE(Has(Scan("FROM alpine:3.20\nRUN " + run + "\n" + std::string(kQuietEnd)),
                    "dockerfile-curl-pipe-shell"))
        << run;
  }
  for (std::string run :
       {"curl -fsSLo i.sh https://x && sha256sum -c sums && sh i.sh", "curl https://x | sha256sum",
        "curl https://x || sh fallback.sh", "echo 'curl https://x | sh' > README"}) {
    EXPECT_FALSE(Has(Scan("FROM alpine:3.20\nRUN " + run + "\n" + std::string(kQuietEnd)),
                     "dockerfile-curl-pipe-shell"))
        << run;
  }
}

TEST(DockerfileRules, FindingsInAHeredocPointAtTheirLine) {
  ScanResult r = Scan(
      "FROM alpine:3.20\n"
      "RUN <<SETUP bash\n"
      "set -eu\n"
      "# sudo is fine in a comment\n"
      "curl -fsSL https://x/i.sh \\\n"
      "  | sh\n"
      "SETUP\n"
      "RUN <<A cat && <<B sh\n"
      "a\n"
      "A\n"
      "echo\n"
      "sudo true\n"
      "B\n" +
      std::string(kQuietEnd));
  ASSERT_EQ(Rules(r), (std::vector<std::string>{"dockerfile-curl-pipe-shell", "dockerfile-sudo"}));
  EXPECT_EQ(r.findings[0].line, 5);
  EXPECT_EQ(r.findings[1].line, 12);
}

TEST(DockerfileRules, SudoChmodAndAptAreCommandsNotWords) {
  ScanResult r = Scan(
      "FROM debian:12\n"
      "RUN apt-get update && apt-get install -y --no-install-recommends sudo && "
      "rm -rf /var/lib/apt/lists/*\n"
      "RUN echo 'sudo chmod 777 x' && grep -r sudo /etc\n"
      "RUN --mount=type=cache,target=/var/lib/apt apt-get install --no-install-recommends -y jq\n"
      "RUN if true; then sudo -u app touch /x; fi && chmod a+rwx /tmp/x\n" +
      std::string(kQuietEnd));
  EXPECT_EQ(Rules(r), (std::vector<std::string>{"dockerfile-chmod-777", "dockerfile-sudo"}));
  for (const Finding& f : r.findings) EXPECT_EQ(f.line, 5);
}

TEST(DockerfileRules, FingerprintsSurviveMovedLines) {
  std::string body = "FROM ubuntu\nENV DB_PASSWORD=x1\n";
  ScanResult a = Scan(body);
  ScanResult b = Scan("# moved down\n\n" + body);
  ASSERT_EQ(a.findings.size(), b.findings.size());
  for (size_t i = 0; i < a.findings.size(); ++i) {
    EXPECT_EQ(a.findings[i].fingerprint, b.findings[i].fingerprint);
    EXPECT_EQ(a.findings[i].line + 2, b.findings[i].line);
  }
}

// std::regex recursed once per character and overflowed the stack on a multi-megabyte line;
// a scanned repository decides how long its lines are.
TEST(DockerfileRules, LongLinesDoNotExhaustTheStack) {
  std::string long_word(3 << 20, 'a');
  ScanResult r = Scan("# x=" + long_word + "\nFROM ${" + long_word + "}\nRUN sh " + long_word +
                      " \"$(curl x)\" && cat <<" + long_word + "\n");
  ASSERT_EQ(r.problems.size(), 1u);  // the <<aaa… heredoc is never closed
  EXPECT_EQ(r.problems[0].line, 3);
  EXPECT_FALSE(Has(r, "dockerfile-latest-tag"));  // ${aaa…} has no value: not judged
}

TEST(DockerfileShell, SplitsCommandsAndPipelines) {
  std::vector<ShellCommand> c =
      SplitShellCommands("A=1 sudo -u x apt-get install -y 'a;b' && curl x | sh # c; rm\nls");
  ASSERT_EQ(c.size(), 4u);
  EXPECT_EQ(c[0].Program(), "sudo");
  EXPECT_EQ(c[0].RealProgram(), "apt-get");
  EXPECT_TRUE(c[0].IsAptGetInstall());
  EXPECT_TRUE(c[0].HasWord({"a;b"}));
  EXPECT_EQ(c[1].pipeline, c[2].pipeline);
  EXPECT_NE(c[0].pipeline, c[1].pipeline);
  EXPECT_EQ(c[2].words, (std::vector<std::string>{"sh"}));
  EXPECT_EQ(c[3].Program(), "ls");
}

TEST(DockerfileNames, WhichFilesAreDockerfiles) {
  for (std::string_view yes : {"Dockerfile", "dockerfile", "Containerfile", "api.Dockerfile",
                               "Dockerfile.prod", "Containerfile.dev"}) {
    EXPECT_TRUE(IsDockerfileName(yes)) << yes;
  }
  for (std::string_view no : {"Dockerfile.dockerignore", ".dockerignore", "docker-compose.yml",
                              "Dockerfiles", "README.md"}) {
    EXPECT_FALSE(IsDockerfileName(no)) << no;
  }
}

}  // namespace
}  // namespace steward::scan
