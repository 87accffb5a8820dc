// The typed model of a pipeline: jobs of steps in a DAG (needs:), with matrix, env, timeouts,
// retries, conditions, outputs, cache inputs/outputs, artifacts, secrets and a sandbox. Both
// Steward's own pipeline YAML (`pipelines:` in the stack, or pipelines/*.yml) and GitHub
// Actions workflows (.github/workflows/*.yml) parse into this one model (pipeline/parse.h);
// the runner (pipeline/runner.h) executes it.
//
// Expressions (`if:`, `${{ ... }}` in run/env/outputs) use GitHub Actions' expression language
// in both formats (pipeline/expr.h). Strings here are as written; the runner interpolates.
// Thread safety: plain data, immutable after parsing; share freely.
#pragma once

#include <chrono>
#include <map>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

#include "config/source_location.h"

namespace steward::pipeline {

using Duration = std::chrono::milliseconds;
using config::SourceLocation;

// `deploy: SERVICE` as a step: ask the daemon to roll out a new release of SERVICE with the
// service's strategy (or the one named here). The runner hands it to a DeployHook.
struct DeployStep {
  std::string service;
  std::string version;   // label of the release (default: the run's short commit); may hold ${{ }}
  std::string strategy;  // "", "rolling", "blue-green", "canary": "" uses the service's
  std::map<std::string, std::string> env;  // extra environment for the release's replicas
};

struct Step {
  std::string id;    // for steps.<id>.outputs.*; empty when not given
  std::string name;  // shown in logs; default: "Run <first line of run>" / the action / "deploy X"
  SourceLocation location;
  std::string run;    // the script; empty for uses:/deploy steps
  std::string shell;  // "" (job default, else bash), "bash", "sh", "python3", or a template
                      // with "{0}" for the script file, as in GitHub Actions
  std::string uses;   // a GitHub action reference; such steps are skipped with a note
  std::map<std::string, std::string> with;
  std::map<std::string, std::string> env;
  std::string if_expr;            // empty: success()
  std::string working_directory;  // relative to the working copy; empty: the job's
  bool continue_on_error = false;
  Duration timeout{0};            // 0: none beyond the job's
  std::optional<DeployStep> deploy;
};

// strategy.matrix: the cross product of the axes, minus exclude, plus include (GitHub's rules:
// an include entry that matches a combination without overwriting its original values extends
// it; otherwise it is added as a combination of its own).
struct Matrix {
  std::vector<std::pair<std::string, std::vector<nlohmann::json>>> axes;  // in file order
  std::vector<nlohmann::json> include;  // objects
  std::vector<nlohmann::json> exclude;  // objects
  bool fail_fast = true;
  int max_parallel = 0;  // 0: no limit beyond --jobs
  bool empty() const { return axes.empty() && include.empty(); }
};

// What a job's result depends on and produces, for the content-addressed cache. The key is a
// hash of: the job's commands and env after interpolation, the matrix values, the contents of
// the files matching `inputs`, the values of the `env` names, and the outputs and artifacts of
// the jobs it needs. A job without inputs is never cached.
struct CacheSpec {
  std::vector<std::string> inputs;   // globs relative to the working copy ("src/**/*.cc")
  std::vector<std::string> env;      // names of environment variables that are part of the key
  std::vector<std::string> outputs;  // files or directories restored on a hit
  bool enabled() const { return !inputs.empty(); }
};

enum class SandboxMode { kAuto, kOn, kOff };  // auto: bubblewrap when installed

struct Sandbox {
  SandboxMode mode = SandboxMode::kAuto;
  bool network = false;  // the job asks for network access inside the sandbox
};

struct Job {
  std::string id;    // the key under jobs:
  std::string name;  // default: id
  SourceLocation location;
  std::vector<std::string> needs;
  std::vector<Step> steps;
  Matrix matrix;
  std::map<std::string, std::string> env;
  std::string working_directory;  // defaults.run.working-directory / working_directory
  std::string shell;              // defaults.run.shell
  Duration timeout{0};            // timeout / timeout-minutes; 0: none
  int retries = 0;                // extra attempts after a failure
  std::string if_expr;            // empty: success()
  bool continue_on_error = false;
  std::map<std::string, std::string> outputs;  // name -> expression text (with ${{ }})
  CacheSpec cache;
  std::vector<std::string> artifacts;  // paths kept after the job, restored for reruns
  std::vector<std::string> secrets;    // names of secrets passed into the job's environment
  Sandbox sandbox;
  std::string runs_on;                 // GitHub's runs-on, informational
};

enum class TriggerKind { kManual, kPush, kSchedule, kWebhook };

// on: what starts a pipeline besides `steward run`.
struct Trigger {
  TriggerKind kind = TriggerKind::kManual;
  SourceLocation location;
  // push: watch a git repository (local path or URL; default: the stack's directory) for new
  // commits on these branches (default: the current branch), polling every `poll`.
  std::string repository;
  std::vector<std::string> branches;
  Duration poll{30000};
  // schedule: five-field cron syntax ("*/15 * * * *"), UTC.
  std::string cron;
  // webhook: POST /api/v1/pipelines/<name>/webhook with a GitHub or GitLab push payload;
  // `secret` names the environment variable (or Steward secret) holding the HMAC key.
  std::string secret;
};

struct Pipeline {
  std::string name;
  SourceLocation location;
  std::string format = "steward";  // "steward" or "github"
  std::map<std::string, std::string> env;
  std::vector<Job> jobs;  // in file order
  std::vector<Trigger> triggers;
  std::string defaults_shell;             // defaults.run.shell of a workflow
  std::string defaults_working_directory; // defaults.run.working-directory

  const Job* FindJob(const std::string& id) const;
};

}  // namespace steward::pipeline
