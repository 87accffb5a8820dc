// Reading pipelines: Steward's own format (the stack's `pipelines:` key, and
// pipelines/*.yml beside the stack) and GitHub Actions workflow files. Both produce
// pipeline::Pipeline; both formats are documented in docs/formats/pipelines.md.
//
// Everything is checked before anything runs: unknown keys, wrong types, unknown `needs`,
// cycles (the error lists the cycle: "a -> b -> a"), duplicate step ids, expressions that do
// not parse (if:, ${{ }} anywhere), bad durations, bad cron lines, matrix shapes. Every
// diagnostic carries file:line:col. Parsing never runs anything.
// Thread safety: free functions over values.
#pragma once

#include <string>
#include <vector>

#include "base/status.h"
#include "config/stack_parser.h"  // config::Diagnostic
#include "pipeline/pipeline.h"

namespace steward::pipeline {

struct ParseResult {
  std::vector<Pipeline> pipelines;
  std::vector<config::Diagnostic> errors;  // empty when everything parsed
  std::vector<config::Diagnostic> notes;   // e.g. "uses: actions/setup-node@v4 will be skipped"
  bool ok() const { return errors.empty(); }
};

// The pipelines of a stack: its `pipelines:` map (name -> pipeline) plus every
// <stack dir>/pipelines/*.yml and *.yaml (the file's `name:`, else its stem). Duplicate names
// are an error. A stack file without pipelines gives an empty result.
ParseResult LoadStackPipelines(const std::string& stack_file);

// One pipeline in Steward's format from a file (the whole file is one pipeline).
ParseResult ParsePipelineFile(const std::string& path);
// One GitHub Actions workflow; the pipeline's name is the workflow's `name:`, else the stem.
ParseResult ParseWorkflowFile(const std::string& path);
// The same from text (fuzzing, tests); `path` is used in diagnostics only.
ParseResult ParsePipelineText(const std::string& text, const std::string& path);
ParseResult ParseWorkflowText(const std::string& text, const std::string& path);

// Checks the DAG and expressions of an already built pipeline (the parsers call it).
std::vector<config::Diagnostic> ValidatePipeline(const Pipeline& p);

// A job of the pipeline after matrix expansion: "test (linux, 3.11)" style instances.
struct JobInstance {
  const Job* job = nullptr;
  std::string key;           // unique in the run: id, or "id (v1, v2)" for a matrix instance
  nlohmann::json matrix = nlohmann::json::object();  // this instance's matrix values
  std::vector<std::string> needs;  // keys of the instances it waits for (all instances of each need)
};

// Expands matrices and resolves needs to instance keys, in a topological order (a job after
// everything it needs; ties in file order). Fails on the errors ValidatePipeline reports.
StatusOr<std::vector<JobInstance>> Expand(const Pipeline& p);

}  // namespace steward::pipeline
