// Pieces of the pipeline runner shared by its files: runner.cc (the run and its scheduler),
// runner_job.cc (one job instance: steps, env, outputs, cache) and runner_git.cc (commits and
// the working copy). Not a public interface.
#pragma once

#include <fstream>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "pipeline/job_log.h"
#include "pipeline/runner.h"

namespace steward::pipeline::internal {

// What every job of a run shares; fixed before the first job starts, except for the event
// serialization, which `event_mu` guards.
struct RunShared {
  const Pipeline* pipeline = nullptr;
  const RunOptions* options = nullptr;
  int64_t run_id = 0;
  CommitInfo commit;       // sha empty when the source is not a git repository
  std::string run_dir;     // <state dir>/runs/<id>
  std::string work_dir;    // the working copy (or the source itself with in_place)
  std::string tmp_dir;     // run_dir/tmp
  std::string repository;  // github.repository: the source directory's name
  std::string actor;       // github.actor: the user running steward
  RunLogFile log;          // every job's log lines (job_log.h)
  std::mutex event_mu;

  // Replaces every secret value in text with ***.
  std::string Mask(std::string_view text) const;
  // Calls options->on_event (if set) with the text masked; serialized.
  void Emit(RunEvent event);
};

// What a finished job instance reports to the scheduler.
struct JobOutcome {
  std::string status;  // "success", "failure", "cancelled", "cached"
  nlohmann::json outputs = nlohmann::json::object();
  int attempts = 0;
  int exit_code = 0;
  std::string error;
  std::string cache_key;
};

// The results of the jobs an instance needs, as the needs context ({"id": {"outputs",
// "result"}}) and for the status functions.
struct NeedsView {
  nlohmann::json context = nlohmann::json::object();
  bool all_succeeded = true;   // every need ended success, cached or reused (or failed with
                               // continue-on-error)
  bool any_failed = false;     // a need or an ancestor failed
};

// Runs one job instance to its end; `cancel` is the instance's own token (fail-fast and the
// run's cancellation set it). Writes its log to run.log. `scratch_dir` (under run.tmp_dir) is
// the worker's own: the step scripts and $GITHUB_OUTPUT-style files are rewritten there for
// each step, and its temp/ (RUNNER_TEMP) is emptied for each job — creating files is what a
// short step costs most on some disks, and a worker runs one step at a time.
JobOutcome RunJobInstance(RunShared& run, const JobInstance& instance, const NeedsView& needs,
                          const std::string& scratch_dir, const CancelToken* cancel);

// "test (linux, 3.11)" -> "test__linux__3.11_": safe as one file name.
std::string SanitizeKey(const std::string& key);

// Parses a $GITHUB_OUTPUT / $GITHUB_ENV file: "name=value" lines and "name<<DELIM" heredocs.
// Malformed lines are reported in `errors` and skipped.
std::map<std::string, std::string> ParseKeyValueFile(const std::string& text,
                                                     std::vector<std::string>* errors);

// A step script that bash would run as one plain program, run without bash (make's fast
// path: bash's start costs about as much as a short step). `argv` is the script split on
// blanks; `program` is where argv[0] resolves through the env's PATH, which bash puts in $_.
struct DirectCommand {
  std::vector<std::string> argv;
  std::string program;
};

// The script as a DirectCommand when it is one simple command: only letters, digits, blanks
// and -_.,/:+%@^ (no quoting, expansion, redirection, globbing, comments, assignments or
// control operators), at most a trailing newline, a first word that is no bash keyword and no
// builtin (but true and false without arguments, which behave as /usr/bin/true and false) and
// that resolves to an executable through an all-absolute PATH; and when env holds nothing that
// changes how bash starts (BASH_ENV, SHELLOPTS, exported functions...). Else nullopt: bash.
std::optional<DirectCommand> DirectCommandFor(const std::string& script,
                                              const std::map<std::string, std::string>& env);

// Gives env what bash exports to the commands it runs from a script: PWD (kept when it names
// cwd, else cwd's physical path), SHLVL one up, OLDPWD only while it names a directory, and $_.
// False when bash would warn at start (SHLVL too high): run through bash then.
bool SetBashEnvironment(std::map<std::string, std::string>& env, const std::string& cwd,
                        const std::string& program);

// Makes `dest` a working copy of `source` at `commit`: a local libgit2 clone checked out at the
// commit when commit is set, else a recursive copy without .steward/ and .git/.
Status PrepareWorkingCopy(const std::string& source, const std::string& commit,
                          const std::string& dest);

}  // namespace steward::pipeline::internal
