// Steward's pipeline format (pipeline/parse.h, docs/formats/pipelines.md): the model it builds,
// and every kind of error with its file:line:col.
#include "pipeline/parse.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

#include "config/stack_parser.h"

namespace steward::pipeline {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

std::string Errors(const ParseResult& r) {
  std::string out;
  for (const auto& d : r.errors) out += d.ToString() + "\n";
  return out;
}

std::string Notes(const ParseResult& r) {
  std::string out;
  for (const auto& d : r.notes) out += d.ToString() + "\n";
  return out;
}

ParseResult Parse(const std::string& text) { return ParsePipelineText(text, "p.yml"); }

TEST(PipelineParse, ReadsEveryKeyIntoTheModel) {
  ParseResult r = Parse(R"(name: ci
on:
  push: {branches: [main, release], repository: ../app, poll: 45s}
  schedule:
    - cron: "0 3 * * *"
  webhook: {secret: CI_HOOK_KEY}
  manual: true
env: {GLOBAL: "1"}
defaults: {shell: sh, working_directory: app}
jobs:
  build:
    name: Build it
    env: {CC: clang}
    timeout: 10m
    retries: 2
    cache:
      inputs: ["src/**/*.cc", Makefile]
      env: [CC]
      outputs: [build/]
    artifacts: [build/app]
    secrets: [NPM_TOKEN]
    sandbox: {network: true}
    outputs: {version: "${{ steps.v.outputs.version }}"}
    steps:
      - id: v
        run: echo "version=1.0" >> "$STEWARD_OUTPUT"
      - name: Compile
        run: make -j2
        shell: bash
        env: {V: "1"}
        if: success() && github.ref == 'refs/heads/main'
        working_directory: src
        continue_on_error: true
        timeout: 90s
  test:
    needs: build
    matrix:
      os: [linux, bsd]
      python: ["3.10", 3.12]
      exclude: [{os: bsd, python: 3.12}]
    fail_fast: false
    max_parallel: 2
    if: always()
    continue_on_error: true
    runs_on: self
    sandbox: false
    run: pytest -q
  ship:
    needs: [build, test]
    steps:
      - deploy: web
        version: ${{ needs.build.outputs.version }}
        strategy: canary
        env: {FEATURE: "on"}
)");
  ASSERT_TRUE(r.ok()) << Errors(r);
  ASSERT_EQ(r.pipelines.size(), 1u);
  const Pipeline& p = r.pipelines[0];
  EXPECT_EQ(p.name, "ci");
  EXPECT_EQ(p.format, "steward");
  EXPECT_EQ(p.env.at("GLOBAL"), "1");
  EXPECT_EQ(p.defaults_shell, "sh");
  EXPECT_EQ(p.defaults_working_directory, "app");
  ASSERT_EQ(p.triggers.size(), 4u);
  EXPECT_EQ(p.triggers[0].kind, TriggerKind::kPush);
  EXPECT_EQ(p.triggers[0].branches, (std::vector<std::string>{"main", "release"}));
  EXPECT_EQ(p.triggers[0].repository, "../app");
  EXPECT_EQ(p.triggers[0].poll, Duration(45000));
  EXPECT_EQ(p.triggers[1].kind, TriggerKind::kSchedule);
  EXPECT_EQ(p.triggers[1].cron, "0 3 * * *");
  EXPECT_EQ(p.triggers[1].location.ToString(), "p.yml:5:13");
  EXPECT_EQ(p.triggers[2].kind, TriggerKind::kWebhook);
  EXPECT_EQ(p.triggers[2].secret, "CI_HOOK_KEY");
  EXPECT_EQ(p.triggers[3].kind, TriggerKind::kManual);

  ASSERT_EQ(p.jobs.size(), 3u);
  const Job& build = p.jobs[0];
  EXPECT_EQ(build.id, "build");
  EXPECT_EQ(build.name, "Build it");
  EXPECT_EQ(build.location.ToString(), "p.yml:11:3");
  EXPECT_EQ(build.timeout, Duration(600000));
  EXPECT_EQ(build.retries, 2);
  EXPECT_EQ(build.cache.inputs, (std::vector<std::string>{"src/**/*.cc", "Makefile"}));
  EXPECT_EQ(build.cache.env, (std::vector<std::string>{"CC"}));
  EXPECT_EQ(build.cache.outputs, (std::vector<std::string>{"build/"}));
  EXPECT_EQ(build.artifacts, (std::vector<std::string>{"build/app"}));
  EXPECT_EQ(build.secrets, (std::vector<std::string>{"NPM_TOKEN"}));
  EXPECT_EQ(build.sandbox.mode, SandboxMode::kAuto);
  EXPECT_TRUE(build.sandbox.network);
  EXPECT_EQ(build.outputs.at("version"), "${{ steps.v.outputs.version }}");
  ASSERT_EQ(build.steps.size(), 2u);
  EXPECT_EQ(build.steps[0].id, "v");
  EXPECT_EQ(build.steps[0].name, "Run echo \"version=1.0\" >> \"$STEWARD_OUTPUT\"");
  const Step& compile = build.steps[1];
  EXPECT_EQ(compile.name, "Compile");
  EXPECT_EQ(compile.location.ToString(), "p.yml:27:9");
  EXPECT_EQ(compile.shell, "bash");
  EXPECT_EQ(compile.env.at("V"), "1");
  EXPECT_EQ(compile.if_expr, "success() && github.ref == 'refs/heads/main'");
  EXPECT_EQ(compile.working_directory, "src");
  EXPECT_TRUE(compile.continue_on_error);
  EXPECT_EQ(compile.timeout, Duration(90000));

  const Job& test = p.jobs[1];
  EXPECT_EQ(test.needs, (std::vector<std::string>{"build"}));
  ASSERT_EQ(test.matrix.axes.size(), 2u);
  EXPECT_EQ(test.matrix.axes[0].first, "os");
  EXPECT_EQ(test.matrix.axes[1].second[0], nlohmann::json("3.10"));  // quoted: a string
  EXPECT_EQ(test.matrix.axes[1].second[1], nlohmann::json(3.12));    // plain: a number
  EXPECT_EQ(test.matrix.exclude.size(), 1u);
  EXPECT_FALSE(test.matrix.fail_fast);
  EXPECT_EQ(test.matrix.max_parallel, 2);
  EXPECT_EQ(test.if_expr, "always()");
  EXPECT_TRUE(test.continue_on_error);
  EXPECT_EQ(test.runs_on, "self");
  EXPECT_EQ(test.sandbox.mode, SandboxMode::kOff);
  ASSERT_EQ(test.steps.size(), 1u);  // run: is one step
  EXPECT_EQ(test.steps[0].run, "pytest -q");
  EXPECT_EQ(test.steps[0].name, "Run pytest -q");

  const Step& ship = p.jobs[2].steps[0];
  ASSERT_TRUE(ship.deploy.has_value());
  EXPECT_EQ(ship.deploy->service, "web");
  EXPECT_EQ(ship.deploy->version, "${{ needs.build.outputs.version }}");
  EXPECT_EQ(ship.deploy->strategy, "canary");
  EXPECT_EQ(ship.deploy->env.at("FEATURE"), "on");
  EXPECT_TRUE(ship.env.empty());
  EXPECT_EQ(ship.name, "deploy web");
}

TEST(PipelineParse, DefaultStepNamesNeverCutAnExpression) {
  // The expression straddles the 57th character of the first line: the name stops before it.
  ParseResult r = Parse(R"(jobs:
  a:
    steps:
      - run: test -f /tmp/some/long/path/flag && echo "tested ${{ needs.build.outputs.id }}"
      - run: echo "${{ env.SHORT }}"
      - run: "echo x"
)");
  ASSERT_TRUE(r.ok()) << (r.errors.empty() ? "" : r.errors[0].ToString());
  const auto& steps = r.pipelines[0].jobs[0].steps;
  EXPECT_EQ(steps[0].name, "Run test -f /tmp/some/long/path/flag && echo \"tested ...");
  EXPECT_EQ(steps[1].name, "Run echo \"${{ env.SHORT }}\"");
  EXPECT_EQ(steps[2].name, "Run echo x");
}

TEST(PipelineParse, NameDefaultsToTheFileStem) {
  ParseResult r = ParsePipelineText("jobs: {a: {run: 'true'}}\n", "dir/nightly.yml");
  ASSERT_TRUE(r.ok()) << Errors(r);
  EXPECT_EQ(r.pipelines[0].name, "nightly");
}

TEST(PipelineParse, UnknownKeysSuggestTheClosest) {
  ParseResult r = Parse(R"(jobs:
  a:
    run: make
  b:
    neds: a
    steps:
      - rn: make test
)");
  EXPECT_THAT(Errors(r), HasSubstr("p.yml:5:5: error: unknown key 'neds' in job 'b'; did you "
                                   "mean 'needs'?"));
  EXPECT_THAT(Errors(r), HasSubstr("p.yml:7:9: error: unknown key 'rn' in job 'b', step 1; did "
                                   "you mean 'run'?"));
  EXPECT_TRUE(r.pipelines.empty());  // a bad file is rejected whole
  r = Parse("jbos: {}\n");
  EXPECT_THAT(Errors(r), HasSubstr("p.yml:1:1: error: unknown key 'jbos' at the top level; did "
                                   "you mean 'jobs'?"));
}

TEST(PipelineParse, WrongTypesAndDurations) {
  ParseResult r = Parse(R"(jobs:
  a:
    retries: many
    timeout: 10 minutes
    continue_on_error: maybe
    needs: {x: 1}
    env: [A, B]
    steps:
      - run: make
        timeout: 0s
)");
  std::string e = Errors(r);
  EXPECT_THAT(e, HasSubstr("p.yml:3:14: error: job 'a': 'retries' must be a whole number from 0 "
                           "to 100, got 'many'"));
  EXPECT_THAT(e, HasSubstr("p.yml:4:14: error: job 'a': 'timeout' must be a duration above zero "
                           "such as 500ms, 30s, 10m or 1h, got '10 minutes'"));
  EXPECT_THAT(e, HasSubstr("p.yml:5:24: error: job 'a': 'continue_on_error' must be true or "
                           "false, got 'maybe'"));
  EXPECT_THAT(e, HasSubstr("p.yml:6:12: error: job 'a': 'needs' must be a list of strings (or "
                           "one string), got a map"));
  EXPECT_THAT(e, HasSubstr("p.yml:7:10: error: job 'a': 'env' must be a map, got a list"));
  EXPECT_THAT(e, HasSubstr("p.yml:10:18: error: job 'a', step 1: 'timeout' must be a duration "
                           "above zero"));
}

TEST(PipelineParse, UnknownNeedsAndCycles) {
  ParseResult r = Parse(R"(jobs:
  build: {run: make}
  deploy: {needs: tset, run: ./deploy}
  test: {needs: build, run: make test}
)");
  EXPECT_THAT(Errors(r), HasSubstr("p.yml:3:3: error: job 'deploy' needs 'tset', which is not a "
                                   "job of this pipeline; did you mean 'test'?"));

  r = Parse(R"(jobs:
  a: {needs: c, run: 'true'}
  b: {needs: a, run: 'true'}
  c: {needs: [b], run: 'true'}
  d: {needs: d, run: 'true'}
  e: {needs: a, run: 'true'}
)");
  std::string e = Errors(r);
  EXPECT_THAT(e, HasSubstr("p.yml:2:3: error: jobs depend on each other in a cycle: a -> c -> b "
                           "-> a; remove one of these needs"));
  EXPECT_THAT(e, HasSubstr("p.yml:5:3: error: jobs depend on each other in a cycle: d -> d"));
  EXPECT_EQ(r.errors.size(), 2u) << e;  // each cycle once; e only depends on one
}

TEST(PipelineParse, JobAndStepShapes) {
  ParseResult r = Parse(R"(jobs:
  empty: {name: nothing to do}
  both:
    run: make
    steps: [{run: make}]
  steps:
    steps:
      - name: does nothing
      - run: make
        deploy: web
      - id: x
        run: a
      - id: x
        run: b
      - run: c
        version: "2"
      - run: d
        shell: pwsh
)");
  std::string e = Errors(r);
  EXPECT_THAT(e, HasSubstr("p.yml:2:3: error: job 'empty' has neither run nor steps"));
  EXPECT_THAT(e, HasSubstr("p.yml:4:5: error: job 'both' has both run and steps; run: is "
                           "shorthand for one step, so move it into steps:"));
  EXPECT_THAT(e, HasSubstr("p.yml:8:9: error: job 'steps', step 1 has none of run, uses or "
                           "deploy"));
  EXPECT_THAT(e, HasSubstr("p.yml:9:9: error: job 'steps', step 2 has run and deploy; a step "
                           "does only one of run, uses or deploy"));
  EXPECT_THAT(e, HasSubstr("p.yml:13:9: error: job 'steps', step 4: step id 'x' is already used "
                           "by step 3 of job 'steps'; step ids must be unique within a job"));
  EXPECT_THAT(e, HasSubstr("p.yml:16:9: error: job 'steps', step 5: 'version' belongs to a "
                           "deploy step; add deploy: SERVICE or remove it"));
  EXPECT_THAT(e, HasSubstr("p.yml:17:9: error: job 'steps', step 6: shell 'pwsh' is not "
                           "supported here"));
}

TEST(PipelineParse, ExpressionErrorsPointIntoTheField) {
  ParseResult r = Parse(R"(env:
  A: "${{ github.sha == }}"
jobs:
  a:
    if: github.ref == 'main' &&
    outputs: {v: "${{ steps.x.outputs.v }"}
    steps:
      - run: |
          echo start
          echo ${{ matrix.os ) }}
      - run: make
        if: ${{ success() }} && true
      - deploy: web
        version: ${{ nope.version }}
)");
  std::string e = Errors(r);
  // A quoted scalar: the column of the problem inside it.
  EXPECT_THAT(e, HasSubstr("p.yml:2:25: error: 'env': 'A': expected a value, got the end of "
                           "the expression"));
  EXPECT_THAT(e, HasSubstr("p.yml:5:32: error: job 'a': 'if': expected a value, got the end of "
                           "the expression"));
  EXPECT_THAT(e, HasSubstr("p.yml:6:19: error: job 'a', 'outputs': 'v': '${{' is not closed with "
                           "'}}'"));
  // A literal block: the line and column inside the block.
  EXPECT_THAT(e, HasSubstr("p.yml:10:30: error: job 'a', step 1: 'run': unexpected ')' after a "
                           "complete expression"));
  EXPECT_THAT(e, HasSubstr("p.yml:12:13: error: job 'a', step 2: 'if': the condition mixes ${{ }} "
                           "with other text"));
  EXPECT_THAT(e, HasSubstr("p.yml:14:22: error: job 'a', step 3: 'version': unknown name 'nope'"));
}

TEST(PipelineParse, TriggersAreChecked) {
  ParseResult r = Parse(R"(on:
  schedule:
    - cron: "61 * * * *"
    - cron: "* * *"
    - "*/5 * * * *"
  webhook: {}
  push: {poll: 10ms, branch: main}
jobs: {a: {run: 'true'}}
)");
  std::string e = Errors(r);
  EXPECT_THAT(e, HasSubstr("p.yml:3:13: error: schedule '61 * * * *' is not a valid cron line:"));
  EXPECT_THAT(e, HasSubstr("p.yml:4:13: error: schedule '* * *' is not a valid cron line:"));
  EXPECT_THAT(e, Not(HasSubstr("*/5")));
  EXPECT_THAT(e, HasSubstr("p.yml:6:12: error: webhook needs secret: NAME"));
  EXPECT_THAT(e, HasSubstr("p.yml:7:22: error: unknown key 'branch' in on.push; did you mean "
                           "'branches'?"));
  EXPECT_THAT(e, HasSubstr("p.yml:7:3: error: push: poll must be at least 1s"));
}

TEST(PipelineParse, MatrixShapes) {
  ParseResult r = Parse(R"(jobs:
  a:
    matrix:
      os: linux
      py: []
      node: ["${{ fromJSON(x) }}"]
      exclude: [{arch: arm}]
      include: [plain]
    run: 'true'
  b:
    matrix: ${{ fromJSON(needs.a.outputs.m) }}
    run: 'true'
)");
  std::string e = Errors(r);
  EXPECT_THAT(e, HasSubstr("p.yml:4:11: error: job 'a', matrix: axis 'os' must be a non-empty "
                           "list of values, got 'linux'"));
  EXPECT_THAT(e, HasSubstr("p.yml:5:11: error: job 'a', matrix: axis 'py' must be a non-empty "
                           "list"));
  EXPECT_THAT(e, HasSubstr("p.yml:6:14: error: job 'a', matrix: ${{ }} in matrix values is not "
                           "supported"));
  EXPECT_THAT(e, HasSubstr("p.yml:7:18: error: job 'a', matrix: exclude names 'arch', which is "
                           "not a key of the matrix"));
  EXPECT_THAT(e, HasSubstr("p.yml:8:17: error: job 'a', matrix: each item of 'include' must be a "
                           "map of values"));
  EXPECT_THAT(e, HasSubstr("p.yml:11:13: error: job 'b': a matrix computed by ${{ }} is not "
                           "supported"));
}

TEST(PipelineParse, SyntaxErrorsAndDuplicateKeys) {
  ParseResult r = Parse("jobs:\n  a: {run: make\n");
  ASSERT_EQ(r.errors.size(), 1u);
  EXPECT_THAT(Errors(r), HasSubstr("p.yml:3:1: error: YAML syntax error:"));
  r = Parse("jobs:\n  a: {run: make}\n  a: {run: make}\n");
  EXPECT_THAT(Errors(r),
              HasSubstr("p.yml:3:3: error: duplicate key 'a' in jobs (first at line 2)"));
  r = Parse("- jobs\n");
  EXPECT_THAT(Errors(r), HasSubstr("p.yml:1:1: error: a pipeline file is a map with jobs:"));
  r = Parse("name: 'bad name'\njobs: {a: {run: x}}\n");
  EXPECT_THAT(Errors(r), HasSubstr("p.yml:1:7: error: pipeline name 'bad name' is not valid"));
}

TEST(PipelineParse, UsesStepsAreNotedNotRun) {
  ParseResult r = Parse(R"(jobs:
  a:
    steps:
      - uses: actions/checkout@v4
      - run: make
)");
  ASSERT_TRUE(r.ok()) << Errors(r);
  EXPECT_EQ(r.pipelines[0].jobs[0].steps[0].uses, "actions/checkout@v4");
  EXPECT_THAT(Notes(r), HasSubstr("p.yml:4:15: error: job 'a' step 1: uses: actions/checkout@v4 is "
                                  "skipped (the working copy is already checked out)"));
}

class StackPipelines : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = std::filesystem::temp_directory_path() /
           ("steward-pipelines-" + std::to_string(::getpid()) + "-" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    std::filesystem::remove_all(dir_);
    std::filesystem::create_directories(dir_ / "pipelines");
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }
  void Write(const std::string& rel, const std::string& text) { std::ofstream(dir_ / rel) << text; }
  std::string Stack() const { return (dir_ / "steward.yaml").string(); }
  std::filesystem::path dir_;
};

constexpr const char* kStack = R"(project: shop
services:
  web: {command: ./web}
pipelines:
  ci:
    on: {push: {branches: [main]}}
    jobs:
      test: {run: make test}
  release:
    jobs:
      ship:
        steps: [{deploy: web}]
)";

TEST_F(StackPipelines, ReadsTheStackMapAndThePipelinesDirectory) {
  Write("steward.yaml", kStack);
  Write("pipelines/nightly.yml", "on: {schedule: '0 2 * * *'}\njobs: {scan: {run: ./scan}}\n");
  Write("pipelines/other.yaml", "name: docs\njobs: {build: {run: make docs}}\n");
  Write("pipelines/README.md", "not a pipeline");
  ParseResult r = LoadStackPipelines(Stack());
  ASSERT_TRUE(r.ok()) << Errors(r);
  std::vector<std::string> names;
  for (const Pipeline& p : r.pipelines) names.push_back(p.name);
  EXPECT_EQ(names, (std::vector<std::string>{"ci", "release", "nightly", "docs"}));
  EXPECT_EQ(r.pipelines[0].location.ToString(), Stack() + ":5:3");
  EXPECT_EQ(r.pipelines[2].triggers[0].cron, "0 2 * * *");

  // The config room accepts the key and leaves its content to this room.
  config::ParseResult stack = config::ParseStackFile(Stack());
  EXPECT_TRUE(stack.ok()) << (stack.diagnostics.empty() ? "" : stack.diagnostics[0].ToString());
}

TEST_F(StackPipelines, ErrorsCarryTheirFileAndDuplicatesAreRefused) {
  Write("steward.yaml", std::string(kStack) + "  broken:\n    jobs: {a: {neds: x, run: y}}\n");
  Write("pipelines/ci.yml", "jobs: {a: {run: make}}\n");
  ParseResult r = LoadStackPipelines(Stack());
  std::string e = Errors(r);
  EXPECT_THAT(e, HasSubstr(Stack() + ":14:16: error: unknown key 'neds' in pipeline 'broken', "
                                     "job 'a'; did you mean 'needs'?"));
  EXPECT_THAT(
      e, HasSubstr((dir_ / "pipelines/ci.yml").string() +
                   ":1:1: error: pipeline 'ci' is defined twice (first at " + Stack() + ":5:3)"));
  EXPECT_TRUE(r.pipelines.empty());
}

TEST_F(StackPipelines, AStackWithoutPipelinesGivesNothing) {
  Write("steward.yaml", "project: shop\nservices: {web: {command: ./web}}\n");
  std::filesystem::remove_all(dir_ / "pipelines");
  ParseResult r = LoadStackPipelines(Stack());
  EXPECT_TRUE(r.ok()) << Errors(r);
  EXPECT_TRUE(r.pipelines.empty());
  r = LoadStackPipelines((dir_ / "missing.yaml").string());
  EXPECT_THAT(Errors(r), HasSubstr("cannot read the stack file"));
}

}  // namespace
}  // namespace steward::pipeline
