// One job instance of a run: its environment and expression contexts, the cache check, and its
// steps in order (conditions, timeouts, continue-on-error, retries), with outputs and env files
// read back after each step the way GitHub Actions' runner does.
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>

#include <algorithm>
#include <cctype>
#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <system_error>

#include "base/file.h"
#include "base/clock.h"
#include "base/json.h"
#include "pipeline/expr.h"
#include "pipeline/runner_internal.h"

namespace steward::pipeline::internal {
namespace {

namespace fs = std::filesystem;
using json = nlohmann::json;
using std::chrono::milliseconds;
using SteadyTime = std::chrono::steady_clock::time_point;

constexpr const char* kDefaultPath = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

// Rewrites a file in place (over its old bytes, then cut to length) rather than creating or
// truncating it: each step reuses its worker's files, and on some file systems creating a file
// or freeing its blocks costs far more than the rest of a short step.
Status RewriteFile(const std::string& path, const std::string& text) {
  int fd = open(path.c_str(), O_WRONLY | O_CREAT | O_CLOEXEC, 0666);
  if (fd < 0) return ErrnoError("write " + path, errno);
  size_t done = 0;
  while (done < text.size()) {
    ssize_t n = pwrite(fd, text.data() + done, text.size() - done, static_cast<off_t>(done));
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      int err = errno;
      close(fd);
      return ErrnoError("write " + path, err);
    }
    done += static_cast<size_t>(n);
  }
  struct stat st {};
  bool ok = fstat(fd, &st) == 0 &&
            (st.st_size == static_cast<off_t>(text.size()) ||
             ftruncate(fd, static_cast<off_t>(text.size())) == 0);
  int err = errno;
  close(fd);
  if (!ok) return ErrnoError("write " + path, err);
  return Status::OK();
}

// Makes path an empty file: one stat when it already is one (the worker's files after a step
// that wrote nothing into them), else rewritten.
Status EmptyFile(const std::string& path) {
  struct stat st {};
  if (stat(path.c_str(), &st) == 0 && S_ISREG(st.st_mode) && st.st_size == 0) return Status::OK();
  return RewriteFile(path, "");
}

// The file's text; one stat when it is empty or missing.
std::string ReadIfAny(const std::string& path) {
  struct stat st {};
  if (stat(path.c_str(), &st) != 0 || st.st_size == 0) return "";
  return ReadWholeFileOrEmpty(path);
}

// Creates dir, or empties it when it is left from the worker's previous job.
Status FreshDirectory(const std::string& dir) {
  std::error_code ec;
  if (!fs::create_directories(dir, ec) && !ec) {
    for (fs::directory_iterator it(dir, ec), end; !ec && it != end; it.increment(ec))
      fs::remove_all(it->path(), ec);
  }
  if (ec) return IOError("prepare " + dir + ": " + ec.message());
  return Status::OK();
}

std::string FirstLine(const std::string& text) {
  size_t nl = text.find('\n');
  return nl == std::string::npos ? text : text.substr(0, nl);
}

std::string StepName(const Step& step) {
  if (!step.name.empty()) return step.name;
  if (!step.uses.empty()) return step.uses;
  if (step.deploy) return "deploy " + step.deploy->service;
  return "Run " + FirstLine(step.run);
}

// The job's log lines (the run's log file) and its share of the run's events.
class JobLog {
 public:
  JobLog(RunShared& run, std::string key)
      : run_(run), key_(std::move(key)), name_(SanitizeKey(key_)) {}

  void Line(std::string_view text, bool is_stderr) { Write(RunEventKind::kLine, text, is_stderr); }
  void Note(std::string_view text) { Write(RunEventKind::kNote, text, false); }

 private:
  void Write(RunEventKind kind, std::string_view text, bool is_stderr) {
    std::string masked = run_.Mask(text);
    run_.log.Append(name_, FormatRfc3339Millis(std::chrono::system_clock::now()) +
                               (kind == RunEventKind::kNote ? " [steward] "
                                : is_stderr                 ? " ! "
                                                            : " ") +
                               masked);
    RunEvent e;
    e.kind = kind;
    e.run_id = run_.run_id;
    e.job = key_;
    e.text = std::move(masked);
    e.is_stderr = is_stderr;
    run_.Emit(std::move(e));
  }

  RunShared& run_;
  const std::string key_;
  const std::string name_;  // the key as the log file knows it
};

struct StepResult {
  bool ok = true;
  bool skipped = false;
  bool cancelled = false;
  bool timed_out = false;
  int exit_code = 0;
  std::string error;
  json outputs = json::object();
};

struct AttemptResult {
  std::string status = "success";  // "success", "failure", "cancelled"
  int exit_code = 0;
  std::string error;
  json outputs = json::object();
};

json EnvJson(const std::map<std::string, std::string>& env) {
  json out = json::object();
  for (const auto& [k, v] : env) out[k] = v;
  return out;
}

// Everything about one job instance that its steps share.
class JobRunner {
 public:
  JobRunner(RunShared& run, const JobInstance& instance, const NeedsView& needs, JobLog& log,
            const std::string& scratch, const CancelToken* cancel)
      : run_(run),
        opts_(*run.options),
        inst_(instance),
        job_(*instance.job),
        needs_(needs),
        log_(log),
        scratch_(scratch),
        cancel_(cancel) {}

  JobOutcome Run();

 private:
  Status Prepare();
  EvalContext Context(const json& steps, const std::map<std::string, std::string>& env,
                      bool failed) const;
  std::string CacheKey();
  AttemptResult Attempt(int attempt);
  StepResult RunStep(const Step& step, size_t index, int attempt, const EvalContext& ctx,
                     std::map<std::string, std::string>& added_env,
                     std::vector<std::string>& path_prepend, SteadyTime deadline);
  StepResult RunDeploy(const Step& step, const EvalContext& ctx);
  std::vector<std::string> ShellArgv(const Step& step, const std::string& script) const;
  bool IsDefaultShell(const Step& step) const;
  std::string WorkingDirectory(const Step& step) const;
  json JobOutputs(const json& steps, const std::map<std::string, std::string>& env);

  RunShared& run_;
  const RunOptions& opts_;
  const JobInstance& inst_;
  const Job& job_;
  const NeedsView& needs_;
  JobLog& log_;
  const std::string& scratch_;  // the worker's: see RunJobInstance
  const CancelToken* cancel_;

  json base_ctx_ = json::object();             // github, matrix, needs, runner, secrets, inputs
  std::map<std::string, std::string> env_;     // the job's environment before its steps
  std::string job_tmp_;
  bool sandbox_ = false;
};

EvalContext JobRunner::Context(const json& steps, const std::map<std::string, std::string>& env,
                               bool failed) const {
  EvalContext ctx;
  ctx.contexts = base_ctx_;
  ctx.contexts["env"] = EnvJson(env);
  ctx.contexts["steps"] = steps;
  const bool cancelled = cancel_ != nullptr && cancel_->cancelled();
  ctx.contexts["job"] = {{"status", cancelled ? "cancelled" : failed ? "failure" : "success"}};
  ctx.failed = failed;
  ctx.cancelled = cancelled;
  const std::string work = run_.work_dir;
  ctx.hash_files = [work](const std::vector<std::string>& patterns) -> StatusOr<std::string> {
    KeyBuilder kb;
    RETURN_IF_ERROR(kb.AddFiles(work, patterns));
    return kb.Finish();
  };
  return ctx;
}

Status JobRunner::Prepare() {
  job_tmp_ = scratch_ + "/temp";
  RETURN_IF_ERROR(FreshDirectory(job_tmp_));

  const CommitInfo& c = run_.commit;
  const std::string ref = c.branch.empty() ? "" : "refs/heads/" + c.branch;
  const std::string run_id = std::to_string(run_.run_id);
  base_ctx_["github"] = {{"sha", c.sha},          {"ref", ref},
                         {"ref_name", c.branch},  {"event_name", opts_.trigger},
                         {"workspace", run_.work_dir}, {"run_id", run_id},
                         {"run_number", run_id},  {"job", job_.id},
                         {"repository", run_.repository}, {"actor", run_.actor}};
  base_ctx_["matrix"] = inst_.matrix;
  base_ctx_["needs"] = needs_.context;
  base_ctx_["runner"] = {{"os", "Linux"}, {"arch", "X64"}, {"name", "steward"},
                         {"temp", job_tmp_}};
  base_ctx_["inputs"] = json::object();
  json secrets = json::object();
  for (const std::string& name : job_.secrets) {
    auto it = opts_.secrets.find(name);
    if (it == opts_.secrets.end())
      return FailedPrecondition("the job needs secret " + name +
                                ", which was not given (steward run --secret " + name +
                                " takes it from the environment variable " + name + ")");
    secrets[name] = it->second;
  }
  base_ctx_["secrets"] = secrets;

  env_ = opts_.base_env;
  if (env_.empty()) {
    env_["PATH"] = kDefaultPath;
    for (const char* name : {"HOME", "LANG", "TZ", "USER"})
      if (const char* v = std::getenv(name)) env_[name] = v;
  }
  if (env_.find("PATH") == env_.end()) env_["PATH"] = kDefaultPath;
  env_["CI"] = "true";
  env_["GITHUB_WORKSPACE"] = env_["STEWARD_WORKSPACE"] = run_.work_dir;
  env_["GITHUB_SHA"] = c.sha;
  env_["GITHUB_REF"] = ref;
  env_["GITHUB_REF_NAME"] = c.branch;
  env_["GITHUB_RUN_ID"] = env_["GITHUB_RUN_NUMBER"] = env_["STEWARD_RUN_ID"] = run_id;
  env_["GITHUB_JOB"] = job_.id;
  env_["GITHUB_REPOSITORY"] = run_.repository;
  env_["GITHUB_EVENT_NAME"] = opts_.trigger;
  env_["RUNNER_TEMP"] = job_tmp_;
  env_["RUNNER_OS"] = "Linux";
  // Pipeline env, then job env, each value interpolated with what came before it.
  for (const auto* layer : {&run_.pipeline->env, &job_.env}) {
    for (const auto& [name, value] : *layer) {
      auto v = Interpolate(value, Context(json::object(), env_, false));
      if (!v.ok()) return v.status().Annotate("env " + name);
      env_[name] = *v;
    }
  }
  for (const auto& [name, value] : secrets.items()) env_[name] = value.get<std::string>();

  const SandboxMode mode = job_.sandbox.mode;
  if (mode == SandboxMode::kOn) {
    if (!SandboxAvailable())
      return FailedPrecondition("the job asks for sandbox: on, but bubblewrap (bwrap) cannot "
                                "create a sandbox here");
    sandbox_ = true;
  } else if (mode == SandboxMode::kAuto) {
    sandbox_ = opts_.sandbox_default && SandboxAvailable();
  }
  return Status::OK();
}

std::string JobRunner::CacheKey() {
  KeyBuilder kb;
  kb.Add("job", job_.id);
  kb.Add("matrix", JsonText(inst_.matrix));
  const EvalContext ctx = Context(json::object(), env_, false);
  for (const auto* layer : {&run_.pipeline->env, &job_.env})
    for (const auto& [name, value] : *layer) kb.Add("env " + name, env_[name]);
  for (const Step& s : job_.steps) {
    auto script = Interpolate(s.run, ctx);
    kb.Add("step", StepName(s));
    kb.Add("run", script.ok() ? *script : s.run);
    kb.Add("shell", s.shell.empty() ? job_.shell : s.shell);
    kb.Add("uses", s.uses);
    kb.Add("working-directory", s.working_directory);
    for (const auto& [name, value] : s.env) {
      auto v = Interpolate(value, ctx);
      kb.Add("step env " + name, v.ok() ? *v : value);
    }
  }
  for (const std::string& name : job_.cache.env) {
    auto it = env_.find(name);
    const char* outside = std::getenv(name.c_str());
    kb.Add("cache env " + name, it != env_.end() ? it->second : outside ? outside : "");
  }
  for (const auto& [name, expr] : job_.outputs) kb.Add("output " + name, expr);
  for (const std::string& p : job_.cache.outputs) kb.Add("cache output", p);
  kb.Add("needs", JsonText(needs_.context));
  Status files = kb.AddFiles(run_.work_dir, job_.cache.inputs);
  if (!files.ok()) {
    log_.Note("cache: cannot hash the inputs (" + files.message() + "); running the job");
    return "";
  }
  return kb.Finish();
}

std::string JobRunner::WorkingDirectory(const Step& step) const {
  std::string dir = step.working_directory;
  if (dir.empty()) dir = job_.working_directory;
  if (dir.empty()) dir = run_.pipeline->defaults_working_directory;
  if (dir.empty()) return run_.work_dir;
  if (dir[0] == '/') return dir;
  return run_.work_dir + "/" + dir;
}

bool JobRunner::IsDefaultShell(const Step& step) const {
  std::string shell = step.shell;
  if (shell.empty()) shell = job_.shell;
  if (shell.empty()) shell = run_.pipeline->defaults_shell;
  return shell.empty() || shell == "bash";
}

std::vector<std::string> JobRunner::ShellArgv(const Step& step, const std::string& script) const {
  std::string shell = step.shell;
  if (shell.empty()) shell = job_.shell;
  if (shell.empty()) shell = run_.pipeline->defaults_shell;
  if (shell.empty() || shell == "bash") {
    return {"bash", "--noprofile", "--norc", "-eo", "pipefail", script};
  }
  if (shell == "sh") return {"sh", "-e", script};
  if (shell == "python" || shell == "python3") return {"python3", script};
  // A template ("perl {0}"), or a bare program that takes the script file as its argument.
  std::vector<std::string> argv;
  std::istringstream words(shell);
  bool placed = false;
  for (std::string w; words >> w;) {
    size_t at = w.find("{0}");
    if (at != std::string::npos) {
      w.replace(at, 3, script);
      placed = true;
    }
    argv.push_back(w);
  }
  if (!placed) argv.push_back(script);
  return argv;
}

StepResult JobRunner::RunDeploy(const Step& step, const EvalContext& ctx) {
  StepResult r;
  if (!opts_.deploy) {
    r.ok = false;
    r.error = "deploy " + step.deploy->service +
              " needs the daemon: start `steward serve` (or `steward apply`) and run again";
    return r;
  }
  DeployRequest req;
  req.service = step.deploy->service;
  req.strategy = step.deploy->strategy;
  req.run_id = run_.run_id;
  req.commit = run_.commit.sha;
  req.commit_time_ms = run_.commit.time_ms;
  auto version = Interpolate(step.deploy->version, ctx);
  if (!version.ok()) {
    r.ok = false;
    r.error = "deploy version: " + version.status().message();
    return r;
  }
  req.version = *version;
  if (req.version.empty())
    req.version = run_.commit.sha.empty() ? "run-" + std::to_string(run_.run_id)
                                          : run_.commit.sha.substr(0, 7);
  for (const auto& [name, value] : step.deploy->env) {
    auto v = Interpolate(value, ctx);
    if (!v.ok()) {
      r.ok = false;
      r.error = "deploy env " + name + ": " + v.status().message();
      return r;
    }
    req.env[name] = *v;
  }
  log_.Note("deploying " + req.service + " version " + req.version);
  Status s = opts_.deploy(
      req, [this](std::string_view line, bool is_stderr) { log_.Line(line, is_stderr); },
      cancel_);
  if (!s.ok()) {
    r.ok = false;
    r.cancelled = cancel_ != nullptr && cancel_->cancelled();
    r.error = "deploy " + req.service + ": " + s.message();
  }
  return r;
}

StepResult JobRunner::RunStep(const Step& step, size_t index, int attempt, const EvalContext& ctx,
                              std::map<std::string, std::string>& added_env,
                              std::vector<std::string>& path_prepend, SteadyTime deadline) {
  StepResult r;
  if (!step.uses.empty()) {
    log_.Note("uses: " + step.uses +
              " is a GitHub action; Steward runs only run: steps, so it was skipped");
    r.skipped = true;
    return r;
  }
  if (step.deploy) return RunDeploy(step, ctx);

  auto fail = [&r](std::string error) {
    r.ok = false;
    r.error = std::move(error);
    return r;
  };
  auto script = Interpolate(step.run, ctx);
  if (!script.ok()) return fail("run: " + script.status().message());
  std::map<std::string, std::string> env = env_;
  for (const auto& [k, v] : added_env) env[k] = v;
  EvalContext step_ctx = ctx;
  for (const auto& [name, value] : step.env) {
    step_ctx.contexts["env"] = EnvJson(env);
    auto v = Interpolate(value, step_ctx);
    if (!v.ok()) return fail("env " + name + ": " + v.status().message());
    env[name] = *v;
  }
  (void)attempt;
  (void)index;
  const std::string script_path = scratch_ + "/step.sh";
  const std::string output_path = scratch_ + "/output";
  const std::string env_path = scratch_ + "/env";
  const std::string path_path = scratch_ + "/path";
  for (const std::string& path : {output_path, env_path, path_path}) {
    Status s = EmptyFile(path);
    if (!s.ok()) return fail(s.message());
  }
  env["GITHUB_OUTPUT"] = env["STEWARD_OUTPUT"] = output_path;
  env["GITHUB_ENV"] = env["STEWARD_ENV"] = env_path;
  env["GITHUB_PATH"] = env["STEWARD_PATH"] = path_path;
  for (const std::string& dir : path_prepend) env["PATH"] = dir + ":" + env["PATH"];

  ProcessSpec spec;
  spec.argv = ShellArgv(step, script_path);
  spec.env = std::move(env);
  spec.cwd = WorkingDirectory(step);
  milliseconds timeout = step.timeout;
  bool job_limit = false;
  if (job_.timeout.count() > 0) {
    auto left = std::chrono::duration_cast<milliseconds>(deadline -
                                                         std::chrono::steady_clock::now());
    if (left.count() <= 0) {
      r.timed_out = true;
      return fail("job timed out after " + FormatDuration(job_.timeout));
    }
    if (timeout.count() == 0 || left < timeout) {
      timeout = left;
      job_limit = true;
    }
  }
  spec.timeout = timeout;
  spec.sandbox.enabled = sandbox_;
  spec.sandbox.network = job_.sandbox.network;
  spec.sandbox.writable = {run_.work_dir, run_.tmp_dir};

  const LineFn on_line = [this](std::string_view line, bool is_stderr) {
    log_.Line(line, is_stderr);
  };
  ProcessResult pr;
  bool direct = false;
  // The script file is written only when bash runs it (not on the fast path below).
  auto run_in_bash = [&] {
    Status s = RewriteFile(script_path, *script);
    if (!s.ok()) {
      pr.end = ProcessEnd::kFailedToStart;
      pr.exit_code = 127;
      pr.error = s.message();
      return;
    }
    pr = RunProcess(spec, on_line, cancel_);
  };
  // The fast path (see DirectCommandFor). Not in a sandbox: there bwrap execs the command, and
  // the sandbox's view of PATH is its own.
  if (!sandbox_ && IsDefaultShell(step)) {
    if (auto cmd = DirectCommandFor(*script, spec.env)) {
      ProcessSpec direct_spec = spec;
      if (SetBashEnvironment(direct_spec.env, spec.cwd, cmd->program)) {
        direct_spec.argv = std::move(cmd->argv);
        pr = RunProcess(direct_spec, on_line, cancel_);
        // Nothing ran when exec failed (a script without #!, a bad interpreter): bash knows
        // what to do with that, and says it the way a step's author expects.
        direct = pr.end != ProcessEnd::kFailedToStart;
        // bash reports a command killed by a signal as exit 128+signal.
        if (pr.end == ProcessEnd::kSignaled) {
          pr.end = ProcessEnd::kExited;
          pr.exit_code += 128;
        }
      }
    }
  }
  if (!direct) run_in_bash();

  std::vector<std::string> errors;
  for (const auto& [k, v] : ParseKeyValueFile(ReadIfAny(output_path), &errors)) r.outputs[k] = v;
  for (const auto& [k, v] : ParseKeyValueFile(ReadIfAny(env_path), &errors)) added_env[k] = v;
  std::istringstream paths(ReadIfAny(path_path));
  for (std::string line; std::getline(paths, line);)
    if (!line.empty()) path_prepend.push_back(line);
  for (const std::string& e : errors) log_.Note(e);

  if (pr.ok()) return r;
  r.ok = false;
  r.exit_code = pr.end == ProcessEnd::kExited ? pr.exit_code : 0;
  r.cancelled = pr.end == ProcessEnd::kCancelled;
  r.timed_out = pr.end == ProcessEnd::kTimedOut;
  if (r.timed_out && job_limit) {
    r.error = "job timed out after " + FormatDuration(job_.timeout);
  } else {
    r.error = pr.end == ProcessEnd::kFailedToStart ? "could not start: " + pr.error
                                                    : pr.Describe();
  }
  return r;
}

json JobRunner::JobOutputs(const json& steps, const std::map<std::string, std::string>& env) {
  json out = json::object();
  const EvalContext ctx = Context(steps, env, false);
  for (const auto& [name, expr] : job_.outputs) {
    auto v = Interpolate(expr, ctx);
    if (!v.ok()) {
      log_.Note("output " + name + ": " + v.status().message());
      continue;
    }
    out[name] = *v;
  }
  return out;
}

AttemptResult JobRunner::Attempt(int attempt) {
  AttemptResult result;
  const SteadyTime deadline = std::chrono::steady_clock::now() + job_.timeout;
  json steps = json::object();
  std::map<std::string, std::string> added_env;
  std::vector<std::string> path_prepend;
  bool failed = false;
  for (size_t i = 0; i < job_.steps.size(); ++i) {
    const Step& step = job_.steps[i];
    if (cancel_ != nullptr && cancel_->cancelled()) {
      result.status = "cancelled";
      break;
    }
    std::map<std::string, std::string> env = env_;
    for (const auto& [k, v] : added_env) env[k] = v;
    const EvalContext ctx = Context(steps, env, failed);
    const std::string name = StepName(step);
    auto run_it = EvaluateCondition(step.if_expr, ctx);
    StepResult r;
    if (!run_it.ok()) {
      r.ok = false;
      r.error = "if: " + run_it.status().message();
    } else if (!*run_it) {
      r.skipped = true;
    } else {
      log_.Note("step " + std::to_string(i + 1) + ": " + name);
      r = RunStep(step, i, attempt, ctx, added_env, path_prepend, deadline);
    }
    const std::string outcome = r.skipped ? "skipped" : r.ok ? "success" : "failure";
    const std::string conclusion = (!r.ok && step.continue_on_error) ? "success" : outcome;
    if (!step.id.empty())
      steps[step.id] = {{"outputs", r.outputs}, {"outcome", outcome}, {"conclusion", conclusion}};
    if (r.ok) continue;
    if (r.cancelled) {
      result.status = "cancelled";
      result.error = "cancelled during step '" + name + "'";
      break;
    }
    log_.Note("step '" + name + "' failed: " + r.error +
              (step.continue_on_error ? " (continue-on-error)" : ""));
    if (step.continue_on_error) continue;
    if (!failed) {
      failed = true;
      result.status = "failure";
      result.exit_code = r.exit_code;
      result.error = "step '" + name + "' failed: " + r.error;
    }
    if (r.timed_out && result.error.find("job timed out") == std::string::npos &&
        r.error.find("job timed out") != std::string::npos)
      result.error = r.error;
  }
  std::map<std::string, std::string> env = env_;
  for (const auto& [k, v] : added_env) env[k] = v;
  result.outputs = JobOutputs(steps, env);
  return result;
}

JobOutcome JobRunner::Run() {
  JobOutcome out;
  Status prepared = Prepare();
  if (!prepared.ok()) {
    out.status = "failure";
    out.error = prepared.message();
    log_.Note(out.error);
    return out;
  }
  if (sandbox_) log_.Note("running in a bubblewrap sandbox");

  Cache* cache = opts_.use_cache ? opts_.cache : nullptr;
  if (cache != nullptr && job_.cache.enabled()) {
    out.cache_key = CacheKey();
    if (!out.cache_key.empty()) {
      auto hit = cache->Lookup(out.cache_key);
      if (!hit.ok()) {
        log_.Note("cache lookup failed: " + hit.status().message());
      } else if (hit->has_value()) {
        Status restored = cache->Restore(**hit, run_.work_dir);
        if (restored.ok()) {
          log_.Note("cache hit " + out.cache_key.substr(0, 12) + ": restored " +
                    std::to_string((*hit)->files.size()) + " file(s) and the outputs");
          out.status = "cached";
          out.outputs = (*hit)->outputs;
          return out;
        }
        log_.Note("cache entry " + out.cache_key.substr(0, 12) +
                  " could not be restored (" + restored.message() + "); running the job");
      } else {
        log_.Note("cache miss " + out.cache_key.substr(0, 12));
      }
    }
  }

  const int max_attempts = 1 + std::max(0, job_.retries);
  AttemptResult a;
  for (int attempt = 1; attempt <= max_attempts; ++attempt) {
    out.attempts = attempt;
    if (attempt > 1) log_.Note("attempt " + std::to_string(attempt) + " of " +
                               std::to_string(max_attempts));
    a = Attempt(attempt);
    if (a.status != "failure") break;
    if (attempt < max_attempts) log_.Note(a.error + "; retrying");
  }
  out.status = a.status;
  out.exit_code = a.exit_code;
  out.error = a.error;
  out.outputs = a.outputs;
  if (out.status == "success" && cache != nullptr && !out.cache_key.empty()) {
    auto stored =
        cache->Store(out.cache_key, inst_.key, run_.work_dir, job_.cache.outputs, out.outputs);
    if (stored.ok()) {
      log_.Note("cache: stored " + std::to_string(stored->files.size()) + " file(s) under " +
                out.cache_key.substr(0, 12));
    } else {
      log_.Note("cache: could not store the result (" + stored.status().message() + ")");
    }
  }
  return out;
}

// bash's reserved words and builtins (`compgen -k`, `compgen -b` of bash 5.2): as a script's
// first word, bash runs them itself, not a program of the same name.
constexpr std::string_view kBashOwnWords[] = {
    "if", "then", "else", "elif", "fi", "case", "esac", "for", "select", "while", "until", "do",
    "done", "in", "function", "time", "{", "}", "!", "[[", "]]", "coproc", ".", ":", "[",
    "alias", "bg", "bind", "break", "builtin", "caller", "cd", "command", "compgen", "complete",
    "compopt", "continue", "declare", "dirs", "disown", "echo", "enable", "eval", "exec", "exit",
    "export", "false", "fc", "fg", "getopts", "hash", "help", "history", "jobs", "kill", "let",
    "local", "logout", "mapfile", "popd", "printf", "pushd", "pwd", "read", "readarray",
    "readonly", "return", "set", "shift", "shopt", "source", "suspend", "test", "times", "trap",
    "true", "type", "typeset", "ulimit", "umask", "unalias", "unset", "wait"};

// Characters that mean nothing to bash inside a word (outside quotes, with no glob in it).
bool PlainWordChar(char c) {
  return std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '_' || c == '.' ||
         c == ',' || c == '/' || c == ':' || c == '+' || c == '%' || c == '@' || c == '^';
}

bool IsExecutableFile(const std::string& path) {
  struct stat st {};
  return stat(path.c_str(), &st) == 0 && S_ISREG(st.st_mode) && access(path.c_str(), X_OK) == 0;
}

// bash's legal_number: an integer with blanks around it allowed; anything else counts as 0.
long long ShellLevel(const std::string& text) {
  size_t b = text.find_first_not_of(" \t\n");
  if (b == std::string::npos) return 0;
  size_t e = text.find_last_not_of(" \t\n");
  const std::string t = text.substr(b, e - b + 1);
  errno = 0;
  char* end = nullptr;
  long long n = std::strtoll(t.c_str(), &end, 10);
  if (errno != 0 || end == t.c_str() || *end != '\0') return 0;
  return n;
}

bool SameFile(const std::string& a, const std::string& b) {
  struct stat sa {}, sb {};
  return stat(a.c_str(), &sa) == 0 && stat(b.c_str(), &sb) == 0 && sa.st_dev == sb.st_dev &&
         sa.st_ino == sb.st_ino;
}

}  // namespace

std::optional<DirectCommand> DirectCommandFor(const std::string& script,
                                              const std::map<std::string, std::string>& env) {
  std::string_view text = script;
  if (!text.empty() && text.back() == '\n') text.remove_suffix(1);
  DirectCommand cmd;
  std::string word;
  for (size_t i = 0; i <= text.size(); ++i) {
    const char c = i < text.size() ? text[i] : ' ';
    if (c == ' ' || c == '\t') {
      if (!word.empty()) cmd.argv.push_back(std::move(word));
      word.clear();
    } else if (PlainWordChar(c)) {
      word += c;
    } else {
      return std::nullopt;
    }
  }
  if (cmd.argv.empty()) return std::nullopt;
  const std::string& first = cmd.argv[0];
  // A first word like %1 or +x could mean something to bash; programs are not named so.
  if (!(std::isalnum(static_cast<unsigned char>(first[0])) || first[0] == '_' ||
        first[0] == '.' || first[0] == '/'))
    return std::nullopt;
  const bool plain_true = (first == "true" || first == "false") && cmd.argv.size() == 1;
  if (!plain_true && std::find(std::begin(kBashOwnWords), std::end(kBashOwnWords), first) !=
                         std::end(kBashOwnWords))
    return std::nullopt;
  for (const auto& [name, value] : env) {
    // What bash reads at start: a file to source, options, exported functions (one could be
    // named like the command).
    if (name.rfind("BASH", 0) == 0 || name == "ENV" || name == "SHELLOPTS" ||
        name == "POSIXLY_CORRECT" || name == "PS4")
      return std::nullopt;
  }
  if (first.find('/') != std::string::npos) {
    cmd.program = first;  // bash puts the word itself into $_
    return IsExecutableFile(first) || first[0] != '/' ? std::optional(cmd) : std::nullopt;
  }
  auto it = env.find("PATH");
  const std::string path = it == env.end() ? "" : it->second;
  if (path.empty()) return std::nullopt;
  std::string found;
  for (size_t start = 0; start <= path.size();) {
    size_t end = std::min(path.find(':', start), path.size());
    const std::string dir = path.substr(start, end - start);
    // A relative entry resolves against the cwd: leave that to bash.
    if (dir.empty() || dir[0] != '/') return std::nullopt;
    if (found.empty() && IsExecutableFile(dir + "/" + first)) found = dir + "/" + first;
    start = end + 1;
  }
  if (found.empty()) return std::nullopt;
  cmd.program = found;
  return cmd;
}

bool SetBashEnvironment(std::map<std::string, std::string>& env, const std::string& cwd,
                        const std::string& program) {
  auto lvl = env.find("SHLVL");
  long long level = (lvl == env.end() ? 0 : ShellLevel(lvl->second)) + 1;
  if (level >= 1000) return false;  // bash warns on stderr and resets it
  env["SHLVL"] = std::to_string(std::max(0LL, level));
  auto pwd = env.find("PWD");
  if (pwd == env.end() || pwd->second.empty() || pwd->second[0] != '/' ||
      !SameFile(pwd->second, cwd)) {
    std::error_code ec;
    std::string physical = fs::canonical(cwd, ec).string();
    if (ec) return false;
    env["PWD"] = physical;
  }
  auto old = env.find("OLDPWD");
  if (old != env.end()) {
    std::error_code ec;
    if (!fs::is_directory(old->second, ec)) env.erase(old);
  }
  env["_"] = program;
  return true;
}

JobOutcome RunJobInstance(RunShared& run, const JobInstance& instance, const NeedsView& needs,
                          const std::string& scratch_dir, const CancelToken* cancel) {
  JobLog log(run, instance.key);
  JobRunner runner(run, instance, needs, log, scratch_dir, cancel);
  JobOutcome out = runner.Run();
  const Job& job = *instance.job;
  if ((out.status == "success" || out.status == "cached") && !job.artifacts.empty()) {
    const std::string dest = run.run_dir + "/artifacts/" + SanitizeKey(instance.key);
    auto saved = SaveArtifacts(run.work_dir, job.artifacts, dest);
    if (saved.ok()) {
      log.Note("artifacts: kept " + std::to_string(saved->size()) + " file(s)");
    } else {
      log.Note("artifacts: " + saved.status().message());
    }
  }
  return out;
}

std::string SanitizeKey(const std::string& key) {
  std::string out = key;
  for (char& c : out)
    if (!(std::isalnum(static_cast<unsigned char>(c)) || c == '.' || c == '-' || c == '_'))
      c = '_';
  if (out.empty() || out[0] == '.') out.insert(out.begin(), '_');
  return out;
}

std::map<std::string, std::string> ParseKeyValueFile(const std::string& text,
                                                     std::vector<std::string>* errors) {
  std::map<std::string, std::string> out;
  std::istringstream in(text);
  std::string line;
  int line_no = 0;
  while (std::getline(in, line)) {
    ++line_no;
    if (!line.empty() && line.back() == '\r') line.pop_back();
    if (line.empty()) continue;
    size_t heredoc = line.find("<<");
    size_t eq = line.find('=');
    if (heredoc != std::string::npos && (eq == std::string::npos || heredoc < eq)) {
      const std::string name = line.substr(0, heredoc);
      const std::string delim = line.substr(heredoc + 2);
      std::string value;
      bool closed = false;
      bool first = true;
      while (std::getline(in, line)) {
        ++line_no;
        if (!line.empty() && line.back() == '\r') line.pop_back();
        if (line == delim) {
          closed = true;
          break;
        }
        if (!first) value += '\n';
        value += line;
        first = false;
      }
      if (!closed && errors != nullptr)
        errors->push_back("output file: " + name + "<<" + delim + " is never closed by a line '" +
                          delim + "'");
      if (!name.empty() && !delim.empty() && closed) out[name] = value;
      continue;
    }
    if (eq == std::string::npos || eq == 0) {
      if (errors != nullptr)
        errors->push_back("output file line " + std::to_string(line_no) +
                          ": expected name=value or name<<DELIMITER");
      continue;
    }
    out[line.substr(0, eq)] = line.substr(eq + 1);
  }
  return out;
}

}  // namespace steward::pipeline::internal
