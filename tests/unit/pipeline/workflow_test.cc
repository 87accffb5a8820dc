// GitHub Actions workflows (ParseWorkflowText): a realistic workflow file, and what is an
// error (cannot be honoured), a note (has no effect here) or supported.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "pipeline/parse.h"

namespace steward::pipeline {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

std::string Join(const std::vector<config::Diagnostic>& ds) {
  std::string out;
  for (const auto& d : ds) out += d.ToString() + "\n";
  return out;
}

// Shaped like the CI workflow of a typical Python project.
constexpr const char* kCi = R"yaml(name: CI
on:
  push:
    branches: [main, 'release/**']
    paths-ignore: ['docs/**']
  pull_request:
    branches: [main]
  schedule:
    - cron: '30 5 * * 1-5'
  workflow_dispatch:

permissions:
  contents: read

concurrency:
  group: ${{ github.workflow }}-${{ github.ref }}
  cancel-in-progress: true

env:
  PIP_DISABLE_PIP_VERSION_CHECK: 1
  FORCE_COLOR: "1"

defaults:
  run:
    shell: bash
    working-directory: ./src

jobs:
  lint:
    runs-on: ubuntu-latest
    steps:
      - uses: actions/checkout@v4
      - uses: actions/setup-python@v5
        with:
          python-version: '3.12'
      - name: Lint
        run: |
          pip install ruff
          ruff check .

  test:
    name: Test ${{ matrix.python-version }} on ${{ matrix.os }}
    needs: lint
    runs-on: ${{ matrix.os }}
    timeout-minutes: 30
    continue-on-error: ${{ matrix.experimental }}
    strategy:
      fail-fast: false
      max-parallel: 4
      matrix:
        os: [ubuntu-latest, ubuntu-22.04]
        python-version: ['3.10', '3.11', '3.12']
        experimental: [false]
        exclude:
          - os: ubuntu-22.04
            python-version: '3.10'
        include:
          - os: ubuntu-latest
            python-version: '3.13-dev'
            experimental: true
    env:
      PYTHON: python${{ matrix.python-version }}
    outputs:
      coverage: ${{ steps.cov.outputs.total }}
    steps:
      - uses: actions/checkout@v4
      - name: Install
        run: python -m pip install -e '.[test]'
      - name: Test
        id: cov
        run: |
          pytest --cov --cov-report=term | tee out.txt
          echo "total=$(grep TOTAL out.txt | awk '{print $4}')" >> "$GITHUB_OUTPUT"
        timeout-minutes: 15
      - name: Upload on failure
        if: failure() && matrix.os == 'ubuntu-latest'
        run: tar czf logs.tgz logs/
        continue-on-error: true

  release:
    needs: [lint, test]
    if: github.event_name == 'push' && startsWith(github.ref, 'refs/tags/')
    runs-on: ubuntu-latest
    environment: pypi
    defaults:
      run:
        shell: sh
    steps:
      - run: python -m build
        shell: python3 {0}
        working-directory: dist
)yaml";

TEST(Workflow, ParsesARealisticWorkflow) {
  ParseResult r = ParseWorkflowText(kCi, ".github/workflows/ci.yml");
  ASSERT_TRUE(r.ok()) << Join(r.errors);
  ASSERT_EQ(r.pipelines.size(), 1u);
  const Pipeline& p = r.pipelines[0];
  EXPECT_EQ(p.name, "CI");
  EXPECT_EQ(p.format, "github");
  EXPECT_EQ(p.env.at("PIP_DISABLE_PIP_VERSION_CHECK"), "1");
  EXPECT_EQ(p.defaults_shell, "bash");
  EXPECT_EQ(p.defaults_working_directory, "./src");

  ASSERT_EQ(p.triggers.size(), 3u);
  EXPECT_EQ(p.triggers[0].kind, TriggerKind::kPush);
  EXPECT_EQ(p.triggers[0].branches, (std::vector<std::string>{"main", "release/**"}));
  EXPECT_EQ(p.triggers[1].kind, TriggerKind::kSchedule);
  EXPECT_EQ(p.triggers[1].cron, "30 5 * * 1-5");
  EXPECT_EQ(p.triggers[2].kind, TriggerKind::kManual);

  ASSERT_EQ(p.jobs.size(), 3u);
  const Job& lint = p.jobs[0];
  ASSERT_EQ(lint.steps.size(), 3u);
  EXPECT_EQ(lint.steps[0].uses, "actions/checkout@v4");
  EXPECT_EQ(lint.steps[1].with.at("python-version"), "3.12");
  EXPECT_EQ(lint.steps[2].run, "pip install ruff\nruff check .\n");
  EXPECT_EQ(lint.runs_on, "ubuntu-latest");

  const Job& test = p.jobs[1];
  EXPECT_EQ(test.name, "Test ${{ matrix.python-version }} on ${{ matrix.os }}");
  EXPECT_EQ(test.needs, (std::vector<std::string>{"lint"}));
  EXPECT_EQ(test.timeout, std::chrono::minutes(30));
  EXPECT_FALSE(test.continue_on_error);  // an expression: noted, taken as false
  EXPECT_FALSE(test.matrix.fail_fast);
  EXPECT_EQ(test.matrix.max_parallel, 4);
  ASSERT_EQ(test.matrix.axes.size(), 3u);
  EXPECT_EQ(test.matrix.axes[1].second[0], nlohmann::json("3.10"));
  EXPECT_EQ(test.matrix.axes[2].second[0], nlohmann::json(false));
  EXPECT_EQ(test.matrix.include[0]["experimental"], nlohmann::json(true));
  EXPECT_EQ(test.env.at("PYTHON"), "python${{ matrix.python-version }}");
  EXPECT_EQ(test.outputs.at("coverage"), "${{ steps.cov.outputs.total }}");
  EXPECT_EQ(test.steps[2].id, "cov");
  EXPECT_EQ(test.steps[2].timeout, std::chrono::minutes(15));
  EXPECT_EQ(test.steps[3].if_expr, "failure() && matrix.os == 'ubuntu-latest'");
  EXPECT_TRUE(test.steps[3].continue_on_error);
  EXPECT_EQ(test.steps[1].name, "Install");
  EXPECT_EQ(test.steps[0].name, "actions/checkout@v4");

  const Job& release = p.jobs[2];
  EXPECT_EQ(release.needs, (std::vector<std::string>{"lint", "test"}));
  EXPECT_EQ(release.shell, "sh");
  EXPECT_EQ(release.steps[0].shell, "python3 {0}");
  EXPECT_EQ(release.steps[0].working_directory, "dist");
  EXPECT_EQ(release.steps[0].name, "Run python -m build");

  std::string notes = Join(r.notes);
  const std::string f = ".github/workflows/ci.yml";
  EXPECT_THAT(notes, HasSubstr(f + ":32:15: error: job 'lint' step 1: uses: actions/checkout@v4 "
                                   "is skipped (the working copy is already checked out)"));
  EXPECT_THAT(notes, HasSubstr(f + ":33:15: error: job 'lint' step 2: uses: "
                                   "actions/setup-python@v5 is skipped"));
  EXPECT_THAT(notes, HasSubstr(f + ":6:3: error: on: pull_request is a GitHub event with no "
                                   "counterpart here; ignored"));
  EXPECT_THAT(notes, HasSubstr(f + ":5:5: error: on.push.paths-ignore is not applied"));
  EXPECT_THAT(notes, HasSubstr(f + ":12:1: error: permissions has no effect here; ignored"));
  EXPECT_THAT(notes, HasSubstr(f + ":15:1: error: concurrency has no effect here; ignored"));
  EXPECT_THAT(notes, HasSubstr(f + ":46:24: error: job 'test': continue-on-error: ${{ "
                                   "matrix.experimental }} is not evaluated here"));
  EXPECT_THAT(notes, HasSubstr(f + ":84:5: error: job 'release': environment has no effect "
                                   "here; ignored"));
}

TEST(Workflow, ContainersServicesAndReusableWorkflowsAreErrors) {
  ParseResult r = ParseWorkflowText(R"(on: push
jobs:
  a:
    runs-on: ubuntu-latest
    container: node:20
    services:
      db: {image: postgres}
    steps: [{run: npm test}]
  b:
    uses: org/repo/.github/workflows/x.yml@main
    with: {a: 1}
)",
                                    "w.yml");
  std::string e = Join(r.errors);
  EXPECT_THAT(e, HasSubstr("w.yml:5:5: error: job 'a': 'container' cannot be honoured here: jobs "
                           "run directly on this machine, not in containers"));
  EXPECT_THAT(e, HasSubstr("w.yml:6:5: error: job 'a': 'services' cannot be honoured here"));
  EXPECT_THAT(e, HasSubstr("w.yml:10:5: error: job 'b': 'uses' calls a reusable workflow"));
  EXPECT_THAT(e, HasSubstr("w.yml:11:5: error: job 'b': 'with' calls a reusable workflow"));
  EXPECT_TRUE(r.pipelines.empty());
}

// A `uses:` value names the step when it has no name:, and the name is interpolated; an
// unclosed ${{ in it made a pipeline that parsed but did not validate (found by
// workflow_parse_fuzz). GitHub refuses expressions in uses:, and so does Steward, in both formats.
TEST(Workflow, ExpressionsInUsesAreRefused) {
  ParseResult r = ParseWorkflowText(R"(on: push
jobs:
  lint:
    runs-on: ubuntu-latest
    steps:
      - uses: actions/setup-${{ matrix.tool }}@v5
      - uses: actions/setup-${{hon@v5
      - run: make lint
)",
                                    "w.yml");
  std::string e = Join(r.errors);
  EXPECT_THAT(e, HasSubstr("w.yml:6:15: error: job 'lint', step 1: uses: cannot contain an "
                           "expression"));
  EXPECT_THAT(e, HasSubstr("w.yml:7:15: error: job 'lint', step 2: uses: cannot contain"));
  EXPECT_THAT(e, Not(HasSubstr("none of run")));
  EXPECT_TRUE(r.pipelines.empty());

  ParseResult s = ParsePipelineText(R"(name: ci
jobs:
  lint:
    steps:
      - uses: actions/setup-${{hon@v5
)",
                                    "p.yml");
  EXPECT_THAT(Join(s.errors), HasSubstr("p.yml:5:15: error: "));
  EXPECT_THAT(Join(s.errors), HasSubstr("uses: cannot contain an expression"));
  EXPECT_TRUE(s.pipelines.empty());
}

TEST(Workflow, KeysTypesAndExpressionsAreChecked) {
  ParseResult r = ParseWorkflowText(R"(on: [push, pul_request]
jobs:
  build:
    runs-on: ubuntu-latest
    timeout-minute: 5
    timeout-minutes: soon
    strategy:
      matrix:
        node: [18, "${{ env.N }}"]
    steps:
      - run: npm ci
        working_directory: web
      - name: check
        if: ${{ github.ref = 'main' }}
        run: echo ${{ steps.x.outputs }}
        shell: pwsh
  deploy:
    needs: biuld
    steps:
      - id: s
        run: a
      - id: s
        run: b
      - name: nothing
)",
                                    "w.yml");
  std::string e = Join(r.errors);
  EXPECT_THAT(e, HasSubstr("w.yml:1:12: error: 'pul_request' in 'on' is not a GitHub event; did "
                           "you mean 'pull_request'?"));
  EXPECT_THAT(e, HasSubstr("w.yml:5:5: error: unknown key 'timeout-minute' in job 'build'; did "
                           "you mean 'timeout-minutes'?"));
  EXPECT_THAT(e, HasSubstr("w.yml:6:22: error: job 'build': 'timeout-minutes' must be a number of "
                           "minutes above 0"));
  EXPECT_THAT(e, HasSubstr("w.yml:9:20: error: job 'build', matrix: ${{ }} in matrix values is not "
                           "supported"));
  EXPECT_THAT(e, HasSubstr("w.yml:12:9: error: unknown key 'working_directory' in job 'build', "
                           "step 1; did you mean 'working-directory'?"));
  EXPECT_THAT(e, HasSubstr("w.yml:14:28: error: job 'build', step 2: 'if': unexpected '='"));
  EXPECT_THAT(e, HasSubstr("w.yml:13:9: error: job 'build', step 2: shell 'pwsh' is not "
                           "supported here"));
  EXPECT_THAT(e, HasSubstr("w.yml:17:3: error: job 'deploy' needs 'biuld', which is not a job of "
                           "this pipeline; did you mean 'build'?"));
  EXPECT_THAT(e, HasSubstr("w.yml:22:9: error: job 'deploy', step 2: step id 's' is already used "
                           "by step 1"));
  EXPECT_THAT(e, HasSubstr("w.yml:24:9: error: job 'deploy', step 3 has none of run, uses or "
                           "deploy"));
  // ${{ steps.x.outputs }} parses: only syntax is checked before running.
  EXPECT_THAT(e, Not(HasSubstr("15:")));
}

TEST(Workflow, InvalidUtf8InRunsOnIsReadNotThrown) {
  // Found by workflow_parse_fuzz: a runs-on list holding bytes that are not UTF-8 made the
  // parser's JSON dump throw (and the process abort).
  ParseResult r = ParseWorkflowText(
      "on: push\njobs:\n  test:\n    runs-on: [\"ubuntu-\x8e\x8e\"]\n    steps: [{run: x}]\n",
      "w.yml");
  ASSERT_TRUE(r.ok()) << Join(r.errors);
  EXPECT_NE(r.pipelines[0].jobs[0].runs_on.find("ubuntu-"), std::string::npos);
}

TEST(Workflow, OnForms) {
  ParseResult r =
      ParseWorkflowText("on: workflow_dispatch\njobs: {a: {steps: [{run: x}]}}\n", "w.yml");
  ASSERT_TRUE(r.ok()) << Join(r.errors);
  ASSERT_EQ(r.pipelines[0].triggers.size(), 1u);
  EXPECT_EQ(r.pipelines[0].triggers[0].kind, TriggerKind::kManual);
  EXPECT_EQ(r.pipelines[0].name, "w");  // no name: the file's stem

  r = ParseWorkflowText(R"(on:
  push: {tags: ['v*']}
  schedule:
    - cron: '0 25 * * *'
jobs: {a: {steps: [{run: x}]}}
)",
                        "w.yml");
  EXPECT_THAT(Join(r.errors), HasSubstr("w.yml:4:13: error: schedule '0 25 * * *' is not a valid "
                                        "cron line"));
  EXPECT_THAT(Join(r.notes), HasSubstr("w.yml:2:3: error: on.push with only tags"));
}

}  // namespace
}  // namespace steward::pipeline
