// Expand (pipeline/parse.h): matrix expansion with GitHub's include/exclude rules, instance
// keys, needs resolved to instances, and the topological order with ties in file order.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "pipeline/parse.h"

namespace steward::pipeline {
namespace {

using nlohmann::json;
using ::testing::HasSubstr;

Pipeline Load(const std::string& text) {
  ParseResult r = ParsePipelineText(text, "p.yml");
  std::string errors;
  for (const auto& d : r.errors) errors += d.ToString() + "\n";
  EXPECT_TRUE(r.ok()) << errors;
  return r.ok() ? r.pipelines[0] : Pipeline{};
}

std::vector<std::string> Keys(const std::vector<JobInstance>& instances) {
  std::vector<std::string> out;
  for (const JobInstance& i : instances) out.push_back(i.key);
  return out;
}

TEST(Expand, TopologicalOrderWithTiesInFileOrder) {
  Pipeline p = Load(R"(jobs:
  deploy: {needs: test, run: d}
  lint: {run: l}
  test: {needs: [build, lint], run: t}
  build: {run: b}
)");
  StatusOr<std::vector<JobInstance>> out = Expand(p);
  ASSERT_TRUE(out.ok()) << out.status().ToString();
  EXPECT_EQ(Keys(*out), (std::vector<std::string>{"lint", "build", "test", "deploy"}));
  EXPECT_EQ((*out)[2].needs, (std::vector<std::string>{"build", "lint"}));
  EXPECT_EQ((*out)[2].job, p.FindJob("test"));
  EXPECT_EQ((*out)[0].matrix, json::object());
}

TEST(Expand, IncludeFollowsGitHubsRules) {
  // The example of GitHub's documentation for matrix include.
  Pipeline p = Load(R"(jobs:
  build:
    matrix:
      fruit: [apple, pear]
      animal: [cat, dog]
      include:
        - color: green
        - color: pink
          animal: cat
        - fruit: apple
          shape: circle
        - fruit: banana
        - fruit: banana
          animal: cat
    run: echo
)");
  StatusOr<std::vector<JobInstance>> out = Expand(p);
  ASSERT_TRUE(out.ok()) << out.status().ToString();
  EXPECT_EQ(Keys(*out), (std::vector<std::string>{
                            "build (apple, cat, pink, circle)", "build (apple, dog, green, circle)",
                            "build (pear, cat, pink)", "build (pear, dog, green)", "build (banana)",
                            "build (banana, cat)"}));
  EXPECT_EQ((*out)[0].matrix,
            json::parse(R"({"fruit":"apple","animal":"cat","color":"pink","shape":"circle"})"));
  EXPECT_EQ((*out)[3].matrix, json::parse(R"({"fruit":"pear","animal":"dog","color":"green"})"));
  EXPECT_EQ((*out)[4].matrix, json::parse(R"({"fruit":"banana"})"));
  EXPECT_EQ((*out)[5].matrix, json::parse(R"({"fruit":"banana","animal":"cat"})"));
}

TEST(Expand, ExcludeMatchesPartiallyAndNeedsReachEveryInstance) {
  Pipeline p = Load(R"(jobs:
  test:
    matrix:
      os: [linux, mac, win]
      py: [3.11, 3.12]
      exclude:
        - os: win
        - {os: mac, py: 3.11}
    run: t
  report:
    needs: test
    run: r
)");
  StatusOr<std::vector<JobInstance>> out = Expand(p);
  ASSERT_TRUE(out.ok()) << out.status().ToString();
  std::vector<std::string> tests = {"test (linux, 3.11)", "test (linux, 3.12)", "test (mac, 3.12)"};
  std::vector<std::string> all = tests;
  all.push_back("report");
  EXPECT_EQ(Keys(*out), all);
  EXPECT_EQ((*out)[0].matrix, json::parse(R"({"os":"linux","py":3.11})"));
  EXPECT_EQ(out->back().needs, tests);
}

TEST(Expand, ObjectValuesAreShownAsJsonAndIncludeOnlyMatrices) {
  Pipeline p = Load(R"(jobs:
  a:
    matrix:
      target:
        - {arch: x86, bits: 64}
        - {arch: arm, bits: 32}
    run: a
  b:
    matrix:
      include:
        - {name: one}
        - {name: two, extra: true}
    run: b
)");
  StatusOr<std::vector<JobInstance>> out = Expand(p);
  ASSERT_TRUE(out.ok()) << out.status().ToString();
  EXPECT_EQ(Keys(*out), (std::vector<std::string>{"a ({\"arch\":\"x86\",\"bits\":64})",
                                                  "a ({\"arch\":\"arm\",\"bits\":32})", "b (one)",
                                                  "b (two, true)"}));
  EXPECT_EQ((*out)[1].matrix["target"]["bits"], json(32));
}

TEST(Expand, RefusesWhatValidationRefuses) {
  Pipeline p;
  p.name = "built-in-code";
  p.location = {"api", 0, 0};
  Job a;
  a.id = "a";
  a.needs = {"b"};
  a.steps.emplace_back();
  a.steps[0].run = "x";
  Job b = a;
  b.id = "b";
  b.needs = {"a"};
  p.jobs = {a, b};
  StatusOr<std::vector<JobInstance>> out = Expand(p);
  ASSERT_FALSE(out.ok());
  EXPECT_THAT(out.status().message(), HasSubstr("a cycle: a -> b -> a"));
  std::vector<config::Diagnostic> d = ValidatePipeline(p);
  ASSERT_EQ(d.size(), 1u);

  // Expressions of a model built in code are checked too, at the step.
  p.jobs = {a};
  p.jobs[0].needs.clear();
  p.jobs[0].steps[0].location = {"api", 3, 5};
  p.jobs[0].steps[0].run = "echo ${{ github.sha == }}";
  d = ValidatePipeline(p);
  ASSERT_EQ(d.size(), 1u);
  EXPECT_EQ(d[0].ToString(),
            "api:3:5: error: job 'a', step 1: 'run': column 24: expected a value, "
            "got the end of the expression");
}

TEST(Expand, MatrixLimits) {
  std::string axes;
  for (int i = 0; i < 4; ++i) axes += "      x" + std::to_string(i) + ": [1, 2, 3, 4, 5, 6]\n";
  ParseResult r = ParsePipelineText("jobs:\n  a:\n    matrix:\n" + axes + "    run: x\n", "p.yml");
  ASSERT_FALSE(r.ok());
  EXPECT_THAT(r.errors[0].ToString(), HasSubstr("p.yml:2:3: error: job 'a': the matrix has 1296 "
                                                "combinations; at most 1024 are allowed"));
  r = ParsePipelineText("jobs:\n  a:\n    matrix: {x: [1], exclude: [{x: 1}]}\n    run: x\n",
                        "p.yml");
  ASSERT_FALSE(r.ok());
  EXPECT_THAT(r.errors[0].ToString(), HasSubstr("p.yml:2:3: error: job 'a': the matrix leaves no "
                                                "combination to run"));
}

}  // namespace
}  // namespace steward::pipeline
