// Running a pipeline: the job instances (pipeline/parse.h Expand) in DAG order, up to `jobs`
// at once, each job's steps in order through RunProcess, with conditions, retries, timeouts,
// continue-on-error, outputs ($GITHUB_OUTPUT / $STEWARD_OUTPUT), $GITHUB_ENV, $GITHUB_PATH, the
// cache (skip and restore) and artifacts. Every run and job is recorded in the state store as
// it goes, with its log file under <state dir>/runs/<id>/logs/.
//
// The working copy: a clean copy of the source at the run's commit (a local clone when the
// source is a git repository, else a copy without .steward/ and .git/) under
// <state dir>/runs/<id>/work, shared by the run's jobs like a make tree; `in_place` runs in the
// source directory itself. The environment of a step is built from nothing: base_env (PATH,
// HOME, LANG...), CI=true, GITHUB_* / STEWARD_* run variables, pipeline, job and step env, and
// the secrets the job names — no other variable of the caller leaks in. Secret values are
// masked (***) in log lines and events.
//
// Cancellation (CancelToken, set by Ctrl-C or the API) kills every running step's process
// tree; jobs not started are "cancelled", and the run ends "cancelled".
// Thread safety: RunPipeline blocks; it may be called on several threads for different runs.
#pragma once

#include <functional>
#include <map>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "base/status.h"
#include "pipeline/cache.h"
#include "pipeline/parse.h"
#include "pipeline/pipeline.h"
#include "pipeline/process.h"
#include "state/state_store.h"

namespace steward::pipeline {

enum class RunEventKind { kRunStarted, kJobStarted, kLine, kNote, kJobFinished, kRunFinished };

struct RunEvent {
  RunEventKind kind = RunEventKind::kLine;
  int64_t run_id = 0;
  std::string job;          // instance key; empty for run events
  std::string text;         // the log line (secrets masked) or the note
  bool is_stderr = false;
  std::string status;       // kJobFinished / kRunFinished: the record's status
  std::chrono::milliseconds took{0};
};
// Called from the runner's worker threads, serialized (never two calls at once).
using RunEventFn = std::function<void(const RunEvent&)>;

// What a deploy step asks for, with expressions already interpolated.
struct DeployRequest {
  std::string service;
  std::string version;
  std::string strategy;
  std::map<std::string, std::string> env;
  int64_t run_id = 0;
  std::string commit;
  int64_t commit_time_ms = 0;
};
// Carries out a deploy step (the daemon's deploy controller, through its API); log lines go to
// `log`. A failed or rolled back deploy returns an error and fails the step.
using DeployFn = std::function<Status(const DeployRequest&, const LineFn& log,
                                      const CancelToken* cancel)>;

struct RunOptions {
  int jobs = 2;                        // job instances running at once (--jobs)
  std::string state_dir;               // absolute; runs/<id>/ goes here
  std::string source_dir;              // absolute; the tree (usually the stack's directory)
  bool in_place = false;               // run in source_dir instead of a clean copy
  std::string trigger = "manual";
  std::string trigger_detail;
  // The commit to build; empty: the source's HEAD when it is a git repository.
  std::string commit;
  std::string branch;
  std::map<std::string, std::string> base_env;  // default: PATH, HOME, LANG, TZ, USER, TERM
  std::map<std::string, std::string> secrets;   // name -> value; a job gets only those it names
  bool sandbox_default = true;         // SandboxMode::kAuto means "sandbox when available"
  bool use_cache = true;
  int64_t rerun_of = 0;                // re-run only what did not succeed in this run
  std::string source_label;            // PipelineRunRecord.source
  Cache* cache = nullptr;              // null: no cache
  state::StateStore* store = nullptr;  // required
  const CancelToken* cancel = nullptr;
  DeployFn deploy;                     // null: deploy steps fail with "needs the daemon"
  RunEventFn on_event;
  // Called once the run has its id, before any job starts (the API returns it at once).
  std::function<void(int64_t run_id)> on_created;
};

struct RunResult {
  int64_t run_id = 0;
  std::string status;  // "success", "failure", "cancelled"
  std::vector<state::PipelineJobRecord> jobs;  // in run order
  std::chrono::milliseconds took{0};
  bool ok() const { return status == "success"; }
};

// Fails only when the run cannot start at all (bad pipeline, store error, no working copy);
// a failing job is a RunResult with status "failure".
StatusOr<RunResult> RunPipeline(const Pipeline& pipeline, const RunOptions& options);

// The commit, branch, first message line and committer time of a git repository's HEAD (or of
// `rev`), read with libgit2. kNotFound when dir is not inside a git repository.
struct CommitInfo {
  std::string sha;
  std::string branch;
  std::string message;
  int64_t time_ms = 0;
};
StatusOr<CommitInfo> ReadCommit(const std::string& dir, const std::string& rev = "HEAD");

}  // namespace steward::pipeline
