// run, runs, cache: pipelines from the command line. `steward run` runs a pipeline of the stack
// (or a GitHub workflow file) here, in this process, with live output, and records it in the
// state store like the daemon's runs; `runs` lists what was recorded; `cache` looks after the
// job cache under <state dir>/cache.
#include <signal.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdlib>
#include <filesystem>
#include <iostream>
#include <mutex>
#include <set>
#include <sstream>
#include <thread>

#include "base/clock.h"
#include "cli/cli.h"
#include "pipeline/cache.h"
#include "pipeline/job_log.h"
#include "pipeline/parse.h"
#include "pipeline/process.h"
#include "pipeline/records.h"
#include "pipeline/runner.h"
#include "state/state_store.h"

namespace steward::cli {
namespace {

namespace fs = std::filesystem;
using json = nlohmann::json;

constexpr int kExitCancelled = 130;

struct RunArgs {
  std::vector<std::string> args;  // PIPELINE [JOB...], or show N / rerun N
  std::string workflow;
  int jobs = 0;
  bool no_cache = false;
  bool in_place = false;
  bool no_sandbox = false;
  std::vector<std::string> secrets;
  bool logs = false;
  int64_t rerun_failed = 0;
};

struct RunsArgs {
  std::string pipeline;
  int limit = 20;
};

struct CacheArgs {
  bool all = false;
  std::string older_than;
  std::string max_size;
  bool dry_run = false;
};

// Ctrl-C: the first SIGINT (or SIGTERM) asks the run to cancel, a second one exits at once.
std::atomic<int> g_interrupts{0};

void OnInterrupt(int) {
  if (g_interrupts.fetch_add(1) >= 1) _exit(kExitCancelled);
}

void InstallInterruptHandler() {
  struct sigaction sa {};
  sa.sa_handler = OnInterrupt;
  sigemptyset(&sa.sa_mask);
  sigaction(SIGINT, &sa, nullptr);
  sigaction(SIGTERM, &sa, nullptr);
}

std::string Seconds(int64_t from_ms, int64_t to_ms) {
  if (from_ms <= 0 || to_ms <= 0 || to_ms < from_ms) return "-";
  return FormatDuration(Duration(to_ms - from_ms));
}

std::string Time(int64_t ms) { return ms > 0 ? FormatRfc3339(FromUnixMillis(ms)) : "-"; }

// The directory a pipeline runs in: the repository holding .github/workflows for a workflow,
// else the stack file's directory.
std::string SourceDir(const Context& ctx, const std::string& workflow) {
  if (!workflow.empty()) {
    fs::path p = fs::absolute(workflow).lexically_normal();
    for (fs::path dir = p.parent_path(); dir.has_relative_path(); dir = dir.parent_path()) {
      if (dir.filename() == ".github") return dir.parent_path().string();
    }
    return fs::current_path().string();
  }
  return fs::absolute(ctx.g.file).lexically_normal().parent_path().string();
}

// Loads the pipelines; prints every diagnostic (file:line:col) and returns nullopt on errors.
std::optional<pipeline::ParseResult> LoadPipelines(const Context& ctx, const std::string& workflow) {
  pipeline::ParseResult parsed = workflow.empty() ? pipeline::LoadStackPipelines(ctx.g.file)
                                                  : pipeline::ParseWorkflowFile(workflow);
  for (const auto& d : parsed.notes) {
    std::string text = d.ToString();
    size_t at = text.find(": error: ");
    if (at != std::string::npos) text.replace(at, 9, ": note: ");
    std::cerr << text << "\n";
  }
  if (!parsed.ok()) {
    for (const auto& d : parsed.errors) std::cerr << d.ToString() << "\n";
    std::cerr << parsed.errors.size() << " error(s) in the pipeline definitions; nothing was run.\n";
    return std::nullopt;
  }
  return parsed;
}

// Keeps the named jobs and everything they need.
StatusOr<pipeline::Pipeline> SelectJobs(const pipeline::Pipeline& p,
                                        const std::vector<std::string>& names) {
  if (names.empty()) return p;
  std::set<std::string> keep;
  std::vector<std::string> todo = names;
  while (!todo.empty()) {
    std::string id = todo.back();
    todo.pop_back();
    const pipeline::Job* job = p.FindJob(id);
    if (job == nullptr) {
      std::string known;
      for (const auto& j : p.jobs) known += (known.empty() ? "" : ", ") + j.id;
      return InvalidArgument("pipeline " + p.name + " has no job '" + id + "' (jobs: " + known +
                             ")");
    }
    if (keep.insert(id).second)
      for (const auto& n : job->needs) todo.push_back(n);
  }
  pipeline::Pipeline out = p;
  out.jobs.clear();
  for (const auto& j : p.jobs)
    if (keep.count(j.id) != 0) out.jobs.push_back(j);
  return out;
}

// Live output: "[job] line" for each line, and on a TTY a progress line kept at the bottom.
class LiveOutput {
 public:
  LiveOutput(bool tty, size_t total) : tty_(tty), total_(total) {}

  void OnEvent(const pipeline::RunEvent& e) {
    std::lock_guard<std::mutex> l(mu_);
    ClearProgress();
    switch (e.kind) {
      case pipeline::RunEventKind::kRunStarted:
        std::cout << "run " << e.run_id << ": " << e.text << "\n";
        break;
      case pipeline::RunEventKind::kJobStarted:
        running_.insert(e.job);
        std::cout << "[" << e.job << "] started\n";
        break;
      case pipeline::RunEventKind::kLine:
        std::cout << "[" << e.job << "] " << e.text << "\n";
        break;
      case pipeline::RunEventKind::kNote:
        std::cout << "[" << e.job << "] note: " << e.text << "\n";
        break;
      case pipeline::RunEventKind::kJobFinished:
        running_.erase(e.job);
        ++done_;
        std::cout << "[" << e.job << "] " << e.status
                  << (e.took.count() > 0 ? " in " + FormatDuration(e.took) : "")
                  << (e.text.empty() ? "" : ": " + e.text) << "\n";
        break;
      case pipeline::RunEventKind::kRunFinished:
        finished_ = true;
        break;
    }
    DrawProgress();
    std::cout.flush();
  }

  // Redraws the elapsed time; called by a ticker.
  void Tick() {
    std::lock_guard<std::mutex> l(mu_);
    if (!tty_ || finished_) return;
    ClearProgress();
    DrawProgress();
    std::cout.flush();
  }

  void Done() {
    std::lock_guard<std::mutex> l(mu_);
    ClearProgress();
    finished_ = true;
    std::cout.flush();
  }

 private:
  void ClearProgress() {
    if (tty_ && drawn_) std::cout << "\r\033[K";
    drawn_ = false;
  }
  void DrawProgress() {
    if (!tty_ || finished_) return;
    auto elapsed = std::chrono::duration_cast<Duration>(std::chrono::steady_clock::now() - start_);
    std::cout << "\033[1m" << done_ << "/" << total_ << " done, " << running_.size() << " running, "
              << FormatDuration(Duration(elapsed.count() / 100 * 100)) << "\033[0m";
    drawn_ = true;
  }

  const bool tty_;
  const size_t total_;
  const std::chrono::steady_clock::time_point start_ = std::chrono::steady_clock::now();
  std::mutex mu_;
  std::set<std::string> running_;
  size_t done_ = 0;
  bool drawn_ = false;
  bool finished_ = false;
};

void PrintSummary(const std::vector<state::PipelineJobRecord>& jobs) {
  std::vector<std::vector<std::string>> rows = {{"JOB", "STATUS", "ATTEMPTS", "DURATION"}};
  for (const auto& j : jobs)
    rows.push_back({j.job, j.status, std::to_string(j.attempts),
                    Seconds(j.started_at_ms, j.finished_at_ms)});
  PrintTable(rows);
  for (const auto& j : jobs)
    if ((j.status == "failure" || j.status == "cancelled") && !j.error.empty())
      std::cout << "  " << j.job << ": " << j.error << "\n";
}

int ExitFor(const std::string& status) {
  if (status == "success") return kExitOk;
  if (status == "cancelled") return kExitCancelled;
  return kExitError;
}

StatusOr<std::unique_ptr<state::StateStore>> OpenStore(const Context& ctx) {
  ASSIGN_OR_RETURN(auto store, state::OpenSqliteStateStore(ctx.StateDir(), RealClock::Get()));
  (void)store->MarkInterruptedPipelineRuns();
  return store;
}

// Runs `p` with the flags of `a`; `rerun_of` > 0 re-runs what did not succeed in that run.
int Execute(Context& ctx, const RunArgs& a, const pipeline::Pipeline& p, const std::string& source,
            const std::string& source_dir, int64_t rerun_of, const std::string& commit) {
  pipeline::BecomeSubreaper();
  pipeline::RunOptions opt;
  for (const std::string& name : a.secrets) {
    const char* value = std::getenv(name.c_str());
    if (value == nullptr)
      return Fail(InvalidArgument("--secret " + name + ": the environment variable " + name +
                                  " is not set (secret values are read from the environment, "
                                  "never from the command line)"));
    opt.secrets[name] = value;
  }
  auto store = OpenStore(ctx);
  if (!store.ok()) return Fail(store.status());
  std::unique_ptr<pipeline::Cache> cache;
  if (!a.no_cache) {
    auto opened = pipeline::Cache::Open(ctx.StateDir() + "/cache");
    if (!opened.ok()) return Fail(opened.status().Annotate("open the job cache"));
    cache = std::move(opened).value();
  }
  pipeline::CancelToken cancel;
  const unsigned cores = std::thread::hardware_concurrency();
  opt.jobs = a.jobs > 0 ? a.jobs : static_cast<int>(cores > 0 ? cores : 2);
  opt.state_dir = ctx.StateDir();
  opt.source_dir = source_dir;
  opt.in_place = a.in_place;
  opt.trigger = rerun_of > 0 ? "rerun" : "manual";
  opt.commit = commit;
  opt.sandbox_default = !a.no_sandbox;
  opt.use_cache = !a.no_cache;
  opt.cache = cache.get();
  opt.rerun_of = rerun_of;
  opt.source_label = source;
  opt.store = store->get();
  opt.cancel = &cancel;
  opt.deploy = [&ctx](const pipeline::DeployRequest& req, const pipeline::LineFn& log,
                      const pipeline::CancelToken* c) {
    return DeployThroughDaemon(ctx, req, log, c);
  };
  auto instances = pipeline::Expand(p);
  const size_t total = instances.ok() ? instances->size() : p.jobs.size();
  LiveOutput live(isatty(STDOUT_FILENO) != 0 && !ctx.g.json, total);
  if (!ctx.g.json) opt.on_event = [&live](const pipeline::RunEvent& e) { live.OnEvent(e); };

  InstallInterruptHandler();
  // Watches for Ctrl-C and ticks the progress display; woken at the end rather than left to
  // finish its sleep, which made every run up to 50 ms longer.
  std::mutex watch_mu;
  std::condition_variable watch_cv;
  bool finished = false;
  std::thread watcher([&] {
    bool told = false;
    int ticks = 0;
    std::unique_lock<std::mutex> lock(watch_mu);
    while (!finished) {
      if (!told && g_interrupts.load() > 0) {
        told = true;
        cancel.Cancel();
        if (!ctx.g.json)
          std::cerr << "\ncancelling the run (press Ctrl-C again to exit at once)\n";
      }
      if (++ticks % 10 == 0) live.Tick();
      watch_cv.wait_for(lock, std::chrono::milliseconds(50));
    }
  });
  auto result = pipeline::RunPipeline(p, opt);
  {
    std::lock_guard<std::mutex> lock(watch_mu);
    finished = true;
  }
  watch_cv.notify_all();
  watcher.join();
  live.Done();
  if (!result.ok()) return Fail(result.status());

  if (ctx.g.json) {
    auto run = (*store)->GetPipelineRun(result->run_id);
    if (!run.ok()) return Fail(run.status());
    std::cout << pipeline::RunWithJobsJson(*run, result->jobs).dump(2) << "\n";
    return ExitFor(result->status);
  }
  std::cout << "\n";
  PrintSummary(result->jobs);
  std::cout << "run " << result->run_id << ": " << result->status << " in "
            << FormatDuration(result->took) << " (steward run show " << result->run_id
            << " --logs)\n";
  return ExitFor(result->status);
}

int RunPipelineCommand(Context& ctx, const RunArgs& a) {
  std::vector<std::string> jobs = a.args;
  std::string name;
  if (a.workflow.empty()) {
    if (jobs.empty())
      return Fail(InvalidArgument("which pipeline? `steward run PIPELINE` (the stack's "
                                  "pipelines:), or `steward run --workflow FILE`"));
    name = jobs.front();
    jobs.erase(jobs.begin());
  }
  auto parsed = LoadPipelines(ctx, a.workflow);
  if (!parsed) return kExitError;
  const pipeline::Pipeline* chosen = nullptr;
  if (!a.workflow.empty() && !parsed->pipelines.empty()) {
    chosen = &parsed->pipelines.front();
  } else {
    for (const auto& p : parsed->pipelines)
      if (p.name == name) chosen = &p;
  }
  if (chosen == nullptr) {
    std::string known;
    for (const auto& p : parsed->pipelines) known += (known.empty() ? "" : ", ") + p.name;
    return Fail(NotFound("no pipeline '" + name + "' in " + ctx.g.file +
                         (known.empty() ? " (it defines none)" : " (pipelines: " + known + ")")));
  }
  auto selected = SelectJobs(*chosen, jobs);
  if (!selected.ok()) return Fail(selected.status());
  std::string source = a.workflow.empty()
                           ? fs::absolute(ctx.g.file).lexically_normal().string()
                           : "workflow:" + fs::absolute(a.workflow).lexically_normal().string();
  return Execute(ctx, a, *selected, source, SourceDir(ctx, a.workflow), 0, "");
}

int RerunCommand(Context& ctx, const RunArgs& a, int64_t id) {
  std::unique_ptr<state::StateStore> store;
  {
    auto opened = OpenStore(ctx);
    if (!opened.ok()) return Fail(opened.status());
    store = std::move(opened).value();
  }
  auto earlier = store->GetPipelineRun(id);
  if (!earlier.ok()) return Fail(earlier.status());
  if (earlier->status == "running")
    return Fail(FailedPrecondition("run " + std::to_string(id) +
                                   " is still running; re-run it once it has ended"));
  store.reset();
  std::string workflow;
  if (earlier->source.rfind("workflow:", 0) == 0) workflow = earlier->source.substr(9);
  auto parsed = LoadPipelines(ctx, workflow);
  if (!parsed) return kExitError;
  for (const auto& p : parsed->pipelines) {
    if (p.name != earlier->pipeline) continue;
    return Execute(ctx, a, p, earlier->source, SourceDir(ctx, workflow), id, earlier->commit);
  }
  return Fail(NotFound("run " + std::to_string(id) + " was of pipeline '" + earlier->pipeline +
                       "', which is no longer defined"));
}

std::vector<std::string> LogPaths(const std::vector<state::PipelineJobRecord>& jobs) {
  std::vector<std::string> paths;
  for (const auto& j : jobs) paths.push_back(j.log_path);
  return paths;
}

int ShowCommand(const Context& ctx, const RunArgs& a, int64_t id) {
  auto store = OpenStore(ctx);
  if (!store.ok()) return Fail(store.status());
  auto run = (*store)->GetPipelineRun(id);
  if (!run.ok()) return Fail(run.status());
  auto jobs = (*store)->ListPipelineJobs(id);
  if (!jobs.ok()) return Fail(jobs.status());
  if (ctx.g.json) {
    json j = pipeline::RunWithJobsJson(*run, *jobs);
    if (a.logs) {
      std::map<std::string, std::string> logs = pipeline::ReadJobLogs(LogPaths(*jobs));
      for (size_t i = 0; i < jobs->size() && i < j["jobs"].size(); ++i)
        j["jobs"][i]["log"] = logs[(*jobs)[i].log_path];
    }
    std::cout << j.dump(2) << "\n";
    return kExitOk;
  }
  std::cout << "run " << run->id << " of " << run->pipeline << ": " << run->status << "\n";
  std::cout << "  trigger  " << run->trigger
            << (run->trigger_detail.empty() ? "" : " (" + run->trigger_detail + ")") << "\n";
  if (!run->commit.empty())
    std::cout << "  commit   " << run->commit.substr(0, 12) << " on " << run->branch << ": "
              << run->commit_message << "\n";
  std::cout << "  started  " << Time(run->started_at_ms) << " by " << run->user << " on "
            << run->host << "\n";
  std::cout << "  took     " << Seconds(run->started_at_ms, run->finished_at_ms) << "\n";
  if (run->rerun_of > 0) std::cout << "  re-ran   run " << run->rerun_of << "\n";
  if (!run->error.empty()) std::cout << "  error    " << run->error << "\n";
  std::cout << "\n";
  PrintSummary(*jobs);
  if (a.logs) {
    std::map<std::string, std::string> logs = pipeline::ReadJobLogs(LogPaths(*jobs));
    for (const auto& j : *jobs) {
      std::istringstream in(logs[j.log_path]);
      std::cout << "\n== " << j.job << " (" << j.status << ") ==\n";
      for (std::string line; std::getline(in, line);) std::cout << "[" << j.job << "] " << line << "\n";
    }
  }
  return kExitOk;
}

StatusOr<int64_t> RunNumber(const std::vector<std::string>& args, const char* verb) {
  if (args.size() != 2)
    return InvalidArgument(std::string("usage: steward run ") + verb + " RUN (a run number, "
                           "see `steward runs`)");
  try {
    size_t used = 0;
    int64_t id = std::stoll(args[1], &used);
    if (used == args[1].size() && id > 0) return id;
  } catch (...) {
  }
  return InvalidArgument("'" + args[1] + "' is not a run number (see `steward runs`)");
}

int RunCommand(Context& ctx, const RunArgs& a) {
  if (a.rerun_failed > 0) return RerunCommand(ctx, a, a.rerun_failed);
  if (a.workflow.empty() && !a.args.empty() && (a.args[0] == "show" || a.args[0] == "rerun")) {
    auto id = RunNumber(a.args, a.args[0].c_str());
    if (!id.ok()) return Fail(id.status());
    return a.args[0] == "show" ? ShowCommand(ctx, a, *id) : RerunCommand(ctx, a, *id);
  }
  return RunPipelineCommand(ctx, a);
}

int RunsCommand(const Context& ctx, const RunsArgs& a) {
  auto store = OpenStore(ctx);
  if (!store.ok()) return Fail(store.status());
  auto runs = (*store)->ListPipelineRuns(a.pipeline, a.limit);
  if (!runs.ok()) return Fail(runs.status());
  if (ctx.g.json) {
    json list = json::array();
    for (const auto& r : *runs) list.push_back(pipeline::RunJson(r));
    std::cout << json{{"runs", list}}.dump(2) << "\n";
    return kExitOk;
  }
  if (runs->empty()) {
    std::cout << "no pipeline runs recorded (start one with `steward run PIPELINE`)\n";
    return kExitOk;
  }
  std::vector<std::vector<std::string>> rows = {
      {"RUN", "PIPELINE", "STATUS", "TRIGGER", "COMMIT", "BRANCH", "STARTED", "DURATION"}};
  for (const auto& r : *runs)
    rows.push_back({std::to_string(r.id), r.pipeline, r.status, r.trigger,
                    r.commit.empty() ? "-" : r.commit.substr(0, 7),
                    r.branch.empty() ? "-" : r.branch, Time(r.started_at_ms),
                    Seconds(r.started_at_ms, r.finished_at_ms)});
  PrintTable(rows);
  return kExitOk;
}

// "1G", "500M", "10k", "123" (bytes).
// "7d", "12h", "30m", "45s".
StatusOr<int64_t> ParseAge(const std::string& text) {
  size_t used = 0;
  int64_t n = -1;
  try {
    n = std::stoll(text, &used);
  } catch (...) {
    used = 0;
  }
  const std::string unit = used > 0 ? text.substr(used) : "";
  int64_t mult = unit == "s" ? 1000 : unit == "m" ? 60'000 : unit == "h" ? 3'600'000
                 : unit == "d" ? 86'400'000 : unit == "w" ? 7 * 86'400'000LL : 0;
  if (used == 0 || n < 0 || mult == 0)
    return InvalidArgument("--older-than '" + text + "': expected a number and a unit (s, m, h, "
                           "d, w), e.g. 7d");
  return n * mult;
}

int CacheStatsCommand(const Context& ctx) {
  auto cache = pipeline::Cache::Open(ctx.StateDir() + "/cache");
  if (!cache.ok()) return Fail(cache.status());
  auto stats = (*cache)->Stats();
  if (!stats.ok()) return Fail(stats.status());
  const auto& s = *stats;
  const int64_t lookups = s.hits + s.misses;
  if (ctx.g.json) {
    std::cout << json{{"dir", (*cache)->dir()},
                      {"entries", s.entries},
                      {"objects", s.objects},
                      {"bytes", s.bytes},
                      {"hits", s.hits},
                      {"misses", s.misses},
                      {"hit_rate", lookups > 0 ? static_cast<double>(s.hits) / lookups : 0.0},
                      {"oldest_used", s.oldest_used_ms > 0 ? json(Time(s.oldest_used_ms)) : json()},
                      {"newest_used", s.newest_used_ms > 0 ? json(Time(s.newest_used_ms)) : json()}}
                     .dump(2)
              << "\n";
    return kExitOk;
  }
  std::cout << "cache      " << (*cache)->dir() << "\n"
            << "entries    " << s.entries << "\n"
            << "objects    " << s.objects << "\n"
            << "size       " << FormatBytes(s.bytes) << "\n"
            << "hits       " << s.hits << " of " << lookups << " lookups";
  if (lookups > 0) std::cout << " (" << (100 * s.hits / lookups) << "%)";
  std::cout << "\n";
  if (s.entries > 0)
    std::cout << "last used  " << Time(s.oldest_used_ms) << " .. " << Time(s.newest_used_ms)
              << "\n";
  return kExitOk;
}

int CachePruneCommand(const Context& ctx, const CacheArgs& a) {
  pipeline::PruneOptions opt;
  opt.all = a.all;
  opt.dry_run = a.dry_run;
  if (!a.older_than.empty()) {
    auto age = ParseAge(a.older_than);
    if (!age.ok()) return Fail(age.status());
    opt.older_than_ms = *age;
  }
  if (!a.max_size.empty()) {
    auto size = ParseSize("--max-size", a.max_size);
    if (!size.ok()) return Fail(size.status());
    opt.max_bytes = *size;
  }
  if (!opt.all && opt.older_than_ms < 0 && opt.max_bytes < 0)
    return Fail(InvalidArgument("cache prune needs --all, --older-than AGE or --max-size SIZE"));
  auto cache = pipeline::Cache::Open(ctx.StateDir() + "/cache");
  if (!cache.ok()) return Fail(cache.status());
  auto pruned = (*cache)->Prune(opt);
  if (!pruned.ok()) return Fail(pruned.status());
  if (ctx.g.json) {
    std::cout << json{{"dry_run", a.dry_run},
                      {"entries_removed", pruned->entries_removed},
                      {"objects_removed", pruned->objects_removed},
                      {"bytes_freed", pruned->bytes_freed}}
                     .dump(2)
              << "\n";
    return kExitOk;
  }
  std::cout << (a.dry_run ? "would remove " : "removed ") << pruned->entries_removed
            << " entr" << (pruned->entries_removed == 1 ? "y" : "ies") << " and "
            << pruned->objects_removed << " object(s), " << FormatBytes(pruned->bytes_freed) << "\n";
  return kExitOk;
}

}  // namespace

void AddRun(CLI::App& app, Context& ctx, int& rc) {
  static RunArgs a;
  auto* cmd = app.add_subcommand(
      "run",
      "Run a pipeline here with live output: `run PIPELINE [JOB...]`, `run --workflow FILE "
      "[JOB...]`, `run show N [--logs]`, `run rerun N`");
  cmd->add_option("ARGS", a.args,
                  "PIPELINE [JOB...] (only those jobs and what they need); or `show N`, "
                  "`rerun N`");
  cmd->add_option("--workflow", a.workflow,
                  "Run a GitHub Actions workflow file (its run: steps) instead of a stack "
                  "pipeline");
  cmd->add_option("-j,--jobs", a.jobs, "Jobs at once (default: the number of cores)")
      ->check(CLI::Range(1, 1024));
  cmd->add_flag("--no-cache", a.no_cache, "Run every job, without looking up or filling the cache");
  cmd->add_flag("--in-place", a.in_place,
                "Run in the source directory itself instead of a clean copy at the commit");
  cmd->add_flag("--no-sandbox", a.no_sandbox,
                "Do not put jobs in a bubblewrap sandbox (unless they ask for sandbox: on)");
  cmd->add_option("--secret", a.secrets,
                  "Pass the secret NAME, read from the environment variable NAME, to the jobs "
                  "that name it (repeatable)");
  cmd->add_flag("--logs", a.logs, "run show: print every job's log");
  cmd->add_option("--rerun-failed", a.rerun_failed,
                  "Re-run what did not succeed in run N, reusing the rest")
      ->check(CLI::PositiveNumber);
  cmd->add_flag("--json", ctx.g.json, "Print the run as JSON at the end (no live output)");
  cmd->callback([&] { rc = RunCommand(ctx, a); });
}

void AddRuns(CLI::App& app, Context& ctx, int& rc) {
  static RunsArgs a;
  auto* cmd = app.add_subcommand("runs", "Recorded pipeline runs, newest first");
  cmd->add_option("--pipeline", a.pipeline, "Only this pipeline's");
  cmd->add_option("-n,--limit", a.limit, "At most this many")
      ->check(CLI::Range(1, 100000))
      ->capture_default_str();
  cmd->add_flag("--json", ctx.g.json, "Print as JSON");
  cmd->callback([&] { rc = RunsCommand(ctx, a); });
}

void AddCache(CLI::App& app, Context& ctx, int& rc) {
  static CacheArgs a;
  auto* cmd = app.add_subcommand("cache", "The pipeline job cache: stats, prune");
  cmd->require_subcommand(1);
  auto* stats = cmd->add_subcommand("stats", "Entries, size and hit rate of the job cache");
  stats->add_flag("--json", ctx.g.json, "Print as JSON");
  stats->callback([&] { rc = CacheStatsCommand(ctx); });
  auto* prune = cmd->add_subcommand("prune", "Remove cache entries (least recently used first)");
  prune->add_flag("--all", a.all, "Remove everything");
  prune->add_option("--older-than", a.older_than, "Entries not used for this long (7d, 12h)");
  prune->add_option("--max-size", a.max_size, "Keep the cache under this size (500M, 2G)");
  prune->add_flag("--dry-run", a.dry_run, "Say what would be removed, remove nothing");
  prune->add_flag("--json", ctx.g.json, "Print as JSON");
  prune->callback([&] { rc = CachePruneCommand(ctx, a); });
}

}  // namespace steward::cli
