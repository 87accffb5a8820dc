// RunPipeline: records the run, prepares the working copy, and schedules the job instances —
// a job starts when everything it needs has ended and its `if:` holds, up to options.jobs at
// once, on a pool of that many worker threads (runner_job.cc runs each). The scheduler owns
// every status change and writes it to the store within kRecordDelay (in batches), so
// `steward runs` and the API see a run live.
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <condition_variable>
#include <deque>
#include <filesystem>
#include <fstream>
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <thread>

#include "base/clock.h"
#include "base/json.h"
#include "pipeline/expr.h"
#include "pipeline/runner.h"
#include "pipeline/runner_internal.h"

namespace steward::pipeline {
namespace {

namespace fs = std::filesystem;
using json = nlohmann::json;
using internal::JobOutcome;
using internal::NeedsView;
using internal::RunShared;

int64_t NowMs() { return ToUnixMillis(std::chrono::system_clock::now()); }

bool Succeeded(const std::string& status) {
  return status == "success" || status == "cached" || status == "reused";
}

// One job instance as the scheduler tracks it.
struct Slot {
  enum class State { kPending, kRunning, kDone };
  const JobInstance* inst = nullptr;
  std::vector<size_t> needs;  // indices of the slots it waits for
  State state = State::kPending;
  state::PipelineJobRecord rec;
  CancelToken cancel;  // this instance's own: fail-fast and the run's cancellation set it
  NeedsView view;      // what it saw of its needs when it started
  size_t index = 0;    // in the scheduler's slots
};

// The run thread decides which slots start (Dispatch); a fixed pool of options.jobs worker
// threads runs them. A pool, not a thread per job: a finished job's thread would otherwise keep
// its stack mapped until the run ends, and every step's fork grows slower with the mappings.
class Scheduler {
 public:
  Scheduler(RunShared& run, std::vector<std::unique_ptr<Slot>>& slots)
      : run_(run), opts_(*run.options), slots_(slots) {}

  // Runs every pending slot to its end; returns whether the run was cancelled.
  bool Run();

 private:
  bool Ok(const Slot& s) const {
    return Succeeded(s.rec.status) || (s.rec.status == "failure" && s.inst->job->continue_on_error);
  }
  bool AnyAncestorFailed(const Slot& s, std::set<size_t>& seen) const;
  NeedsView Needs(const Slot& s) const;
  // Starts what can start: decides each slot whose needs have all ended (once), then hands
  // ready slots to the workers while there is room. Called with mu_ held, by the run thread
  // and by a worker that has just completed a job.
  void Dispatch();
  // Decides a slot whose needs have all ended: finish it (cancelled, skipped) or make it ready.
  void Decide(Slot& s);
  void Start(Slot& s);
  void Finish(Slot& s, const std::string& status, const std::string& error);
  // Queues the slot's record for WriteRecords.
  void Record(const Slot& s);
  // Writes the queued records in one transaction, with mu_ released meanwhile: when `all`, or
  // when kRecordBatch have gathered or the oldest has waited kRecordDelay. Run thread only.
  void WriteRecords(std::unique_lock<std::mutex>& l, bool all);
  // How long the run thread may sleep before WriteRecords is due.
  std::chrono::milliseconds UntilRecordsDue() const;
  void Worker(const std::string& scratch_dir);
  void Complete(Slot& s, const JobOutcome& out);
  void FailFast(const Slot& failed);

  RunShared& run_;
  const RunOptions& opts_;
  std::vector<std::unique_ptr<Slot>>& slots_;
  std::mutex mu_;
  std::condition_variable cv_;       // the run thread waits here for a finished job
  std::condition_variable work_cv_;  // workers wait here for a started one
  int running_ = 0;
  std::map<const Job*, int> running_per_job_;
  bool cancelled_ = false;
  bool stopping_ = false;
  std::vector<size_t> unmet_;                    // per slot: needs not yet done
  std::vector<std::vector<size_t>> dependents_;  // per slot: the slots that need it
  std::set<size_t> to_decide_;                   // pending, every need done (in position order)
  std::set<size_t> ready_;                       // decided to run, waiting for a worker
  std::deque<Slot*> queue_;                      // started, not yet taken by a worker
  std::vector<std::thread> workers_;
  // Records not yet written (the latest of each slot) and when the oldest was queued. Written
  // in batches: a transaction per record cost more than a no-op job. `steward runs` sees a job
  // change at most kRecordDelay late; after a kill -9 the next command marks what is left
  // "running" or "pending" interrupted either way.
  std::map<size_t, state::PipelineJobRecord> unwritten_;
  std::chrono::steady_clock::time_point first_unwritten_{};
};

constexpr size_t kRecordBatch = 256;
constexpr std::chrono::milliseconds kRecordDelay{50};

bool Scheduler::AnyAncestorFailed(const Slot& s, std::set<size_t>& seen) const {
  for (size_t n : s.needs) {
    if (!seen.insert(n).second) continue;
    const Slot& need = *slots_[n];
    if (need.rec.status == "failure" && !need.inst->job->continue_on_error) return true;
    if (AnyAncestorFailed(need, seen)) return true;
  }
  return false;
}

NeedsView Scheduler::Needs(const Slot& s) const {
  NeedsView view;
  std::map<std::string, std::vector<const Slot*>> by_job;
  for (size_t n : s.needs) by_job[slots_[n]->inst->job->id].push_back(slots_[n].get());
  for (const auto& [id, instances] : by_job) {
    json outputs = json::object();
    bool failure = false, cancelled = false, skipped = false;
    for (const Slot* need : instances) {
      json o = json::parse(need->rec.outputs_json, nullptr, false);
      if (o.is_object()) outputs.update(o);
      if (!Ok(*need)) view.all_succeeded = false;
      failure |= need->rec.status == "failure";
      cancelled |= need->rec.status == "cancelled";
      skipped |= need->rec.status == "skipped";
    }
    const char* result = failure ? "failure" : cancelled ? "cancelled" : skipped ? "skipped"
                                                                               : "success";
    view.context[id] = {{"outputs", outputs}, {"result", result}};
  }
  std::set<size_t> seen;
  view.any_failed = AnyAncestorFailed(s, seen);
  return view;
}

void Scheduler::Record(const Slot& s) {
  if (unwritten_.empty()) first_unwritten_ = std::chrono::steady_clock::now();
  unwritten_[s.index] = s.rec;
  if (unwritten_.size() >= kRecordBatch) cv_.notify_all();
}

std::chrono::milliseconds Scheduler::UntilRecordsDue() const {
  if (unwritten_.empty()) return std::chrono::milliseconds(100);
  auto left = std::chrono::ceil<std::chrono::milliseconds>(
      first_unwritten_ + kRecordDelay - std::chrono::steady_clock::now());
  return std::clamp(left, std::chrono::milliseconds(0), std::chrono::milliseconds(100));
}

void Scheduler::WriteRecords(std::unique_lock<std::mutex>& l, bool all) {
  if (unwritten_.empty()) return;
  if (!all && unwritten_.size() < kRecordBatch && UntilRecordsDue().count() > 0) return;
  std::vector<state::PipelineJobRecord> batch;
  batch.reserve(unwritten_.size());
  for (auto& [index, rec] : unwritten_) batch.push_back(std::move(rec));
  unwritten_.clear();
  l.unlock();
  Status st = opts_.store->PutPipelineJobs(batch);
  l.lock();
  if (!st.ok()) {
    RunEvent e;
    e.kind = RunEventKind::kNote;
    e.run_id = run_.run_id;
    e.job = batch.front().job;
    e.text = "could not record " + std::to_string(batch.size()) + " job(s): " + st.message();
    run_.Emit(std::move(e));
  }
}

void Scheduler::Finish(Slot& s, const std::string& status, const std::string& error) {
  s.state = Slot::State::kDone;
  s.rec.status = status;
  s.rec.error = error;
  if (s.rec.finished_at_ms == 0) s.rec.finished_at_ms = NowMs();
  Record(s);
  if (!error.empty()) {
    run_.log.Append(internal::SanitizeKey(s.rec.job),
                    FormatRfc3339Millis(std::chrono::system_clock::now()) + " [steward] " +
                        status + ": " + run_.Mask(error));
  }
  RunEvent e;
  e.kind = RunEventKind::kJobFinished;
  e.run_id = run_.run_id;
  e.job = s.rec.job;
  e.status = status;
  e.text = error;
  if (s.rec.started_at_ms > 0)
    e.took = std::chrono::milliseconds(s.rec.finished_at_ms - s.rec.started_at_ms);
  run_.Emit(std::move(e));
  ready_.erase(s.index);
  for (size_t d : dependents_[s.index])
    if (--unmet_[d] == 0 && slots_[d]->state == Slot::State::kPending) to_decide_.insert(d);
}

void Scheduler::Decide(Slot& s) {
  if (cancelled_) {
    Finish(s, "cancelled", "the run was cancelled");
    return;
  }
  const Job& job = *s.inst->job;
  s.view = Needs(s);
  EvalContext ctx;
  json env = json::object();
  for (const auto& [k, v] : run_.pipeline->env) env[k] = v;
  ctx.contexts = {{"github",
                   {{"sha", run_.commit.sha},
                    {"ref_name", run_.commit.branch},
                    {"ref", run_.commit.branch.empty() ? "" : "refs/heads/" + run_.commit.branch},
                    {"event_name", opts_.trigger},
                    {"run_id", std::to_string(run_.run_id)},
                    {"job", job.id},
                    {"repository", run_.repository}}},
                  {"needs", s.view.context},
                  {"matrix", s.inst->matrix},
                  {"env", env},
                  {"runner", {{"os", "Linux"}}},
                  {"inputs", json::object()}};
  ctx.failed = !s.view.all_succeeded || s.view.any_failed;
  auto go = EvaluateCondition(job.if_expr, ctx);
  if (!go.ok()) {
    Finish(s, "failure", "if: " + go.status().message());
    return;
  }
  if (!*go) {
    Finish(s, "skipped",
           job.if_expr.empty() ? "a job it needs did not succeed"
                               : "if: " + job.if_expr + " was false");
    return;
  }
  ready_.insert(s.index);
}

void Scheduler::Dispatch() {
  do {  // a slot finished here (cancelled, skipped) can make its dependents decidable
    while (!to_decide_.empty()) {
      Slot& s = *slots_[*to_decide_.begin()];
      to_decide_.erase(to_decide_.begin());
      if (s.state == Slot::State::kPending) Decide(s);
    }
    for (auto it = ready_.begin(); it != ready_.end();) {
      Slot& s = *slots_[*it++];
      if (cancelled_) {
        Finish(s, "cancelled", "the run was cancelled");
        continue;
      }
      if (running_ >= std::max(1, opts_.jobs)) break;
      const Job& job = *s.inst->job;
      if (job.matrix.max_parallel > 0 && running_per_job_[&job] >= job.matrix.max_parallel)
        continue;
      Start(s);
    }
  } while (!to_decide_.empty());
}

void Scheduler::Start(Slot& s) {
  ready_.erase(s.index);
  s.state = Slot::State::kRunning;
  s.rec.status = "running";
  s.rec.started_at_ms = NowMs();
  Record(s);
  ++running_;
  ++running_per_job_[s.inst->job];
  RunEvent e;
  e.kind = RunEventKind::kJobStarted;
  e.run_id = run_.run_id;
  e.job = s.rec.job;
  run_.Emit(std::move(e));
  queue_.push_back(&s);
  work_cv_.notify_one();
}

void Scheduler::FailFast(const Slot& failed) {
  const Job* job = failed.inst->job;
  if (job->matrix.empty() || !job->matrix.fail_fast || job->continue_on_error) return;
  for (auto& other : slots_) {
    if (other.get() == &failed || other->inst->job != job) continue;
    if (other->state == Slot::State::kPending) {
      Finish(*other, "cancelled", "cancelled because " + failed.rec.job + " failed (fail-fast)");
    } else if (other->state == Slot::State::kRunning) {
      other->cancel.Cancel();
    }
  }
}

void Scheduler::Complete(Slot& s, const JobOutcome& out) {
  s.rec.attempts = out.attempts;
  s.rec.exit_code = out.exit_code;
  s.rec.outputs_json = JsonText(out.outputs);
  s.rec.cache_key = out.cache_key;
  s.rec.finished_at_ms = NowMs();
  std::string error = out.error;
  if (out.status == "cancelled" && error.empty()) error = "cancelled";
  Finish(s, out.status, error);
  --running_;
  --running_per_job_[s.inst->job];
  if (out.status == "failure") FailFast(s);
}

void Scheduler::Worker(const std::string& scratch_dir) {
  std::unique_lock<std::mutex> l(mu_);
  while (true) {
    if (!queue_.empty()) {
      Slot* s = queue_.front();
      queue_.pop_front();
      l.unlock();
      JobOutcome out =
          internal::RunJobInstance(run_, *s->inst, s->view, scratch_dir, &s->cancel);
      l.lock();
      Complete(*s, out);
      // Start what this job's end allows here, so this worker takes the next job at once
      // instead of waking the run thread to start it and being woken again: two thread
      // wake-ups per job were a good part of a short job's cost. The run thread still writes
      // the records (on its timer, or when a batch is full) and is woken for the end.
      Dispatch();
      if (running_ == 0) cv_.notify_all();
      continue;
    }
    if (stopping_) return;
    work_cv_.wait(l);
  }
}

bool Scheduler::Run() {
  unmet_.assign(slots_.size(), 0);
  dependents_.assign(slots_.size(), {});
  for (size_t i = 0; i < slots_.size(); ++i) {
    Slot& s = *slots_[i];
    s.index = i;
    if (s.state != Slot::State::kPending) continue;
    for (size_t n : s.needs) {
      dependents_[n].push_back(i);
      if (slots_[n]->state != Slot::State::kDone) ++unmet_[i];
    }
    if (unmet_[i] == 0) to_decide_.insert(i);
  }
  const int workers = std::max(1, std::min<int>(opts_.jobs, static_cast<int>(slots_.size())));
  for (int i = 0; i < workers; ++i)
    workers_.emplace_back(&Scheduler::Worker, this, run_.tmp_dir + "/w" + std::to_string(i));
  std::unique_lock<std::mutex> l(mu_);
  while (true) {
    if (!cancelled_ && opts_.cancel != nullptr && opts_.cancel->cancelled()) {
      cancelled_ = true;
      for (auto& s : slots_)
        if (s->state == Slot::State::kRunning) s->cancel.Cancel();
    }
    Dispatch();
    WriteRecords(l, false);
    if (running_ == 0 && to_decide_.empty() && ready_.empty()) break;
    cv_.wait_for(l, UntilRecordsDue());
  }
  stopping_ = true;
  work_cv_.notify_all();
  l.unlock();
  for (auto& t : workers_) t.join();
  l.lock();
  WriteRecords(l, true);
  return cancelled_;
}

Status MakeDirs(const std::vector<std::string>& dirs) {
  for (const std::string& d : dirs) {
    std::error_code ec;
    fs::create_directories(d, ec);
    if (ec) return IOError("create " + d + ": " + ec.message());
  }
  return Status::OK();
}

// Marks the instances that succeeded in the earlier run as reused, with their outputs, and
// puts their artifacts back into the working copy.
Status ReuseEarlierRun(RunShared& run, int64_t earlier,
                       std::vector<std::unique_ptr<Slot>>& slots) {
  const RunOptions& opts = *run.options;
  ASSIGN_OR_RETURN(auto jobs, opts.store->ListPipelineJobs(earlier));
  std::map<std::string, state::PipelineJobRecord> by_key;
  for (auto& j : jobs) by_key[j.job] = std::move(j);
  const std::string earlier_dir = opts.state_dir + "/runs/" + std::to_string(earlier);
  for (auto& s : slots) {
    auto it = by_key.find(s->rec.job);
    if (it == by_key.end() || !Succeeded(it->second.status)) continue;
    s->state = Slot::State::kDone;
    s->rec.status = "reused";
    s->rec.outputs_json = it->second.outputs_json;
    s->rec.cache_key = it->second.cache_key;
    s->rec.error = "";
    s->rec.started_at_ms = s->rec.finished_at_ms = NowMs();
    const std::string artifacts =
        earlier_dir + "/artifacts/" + internal::SanitizeKey(s->rec.job);
    std::error_code ec;
    if (fs::is_directory(artifacts, ec)) {
      Status restored = RestoreArtifacts(artifacts, run.work_dir);
      if (!restored.ok())
        return restored.Annotate("restore the artifacts of " + s->rec.job + " from run " +
                                 std::to_string(earlier));
    }
    run.log.Append(internal::SanitizeKey(s->rec.job),
                   FormatRfc3339Millis(std::chrono::system_clock::now()) + " [steward] reused: " +
                       s->rec.job + " succeeded in run " + std::to_string(earlier));
    RETURN_IF_ERROR(opts.store->PutPipelineJob(s->rec));
    RunEvent e;
    e.kind = RunEventKind::kJobFinished;
    e.run_id = run.run_id;
    e.job = s->rec.job;
    e.status = "reused";
    e.text = "succeeded in run " + std::to_string(earlier);
    run.Emit(std::move(e));
  }
  return Status::OK();
}

}  // namespace

namespace internal {

std::string RunShared::Mask(std::string_view text) const {
  std::string out(text);
  std::vector<const std::string*> values;
  for (const auto& [name, value] : options->secrets)
    if (!value.empty()) values.push_back(&value);
  // Longer first, so a secret containing another is masked whole.
  std::sort(values.begin(), values.end(),
            [](const std::string* a, const std::string* b) { return a->size() > b->size(); });
  for (const std::string* v : values) {
    for (size_t at = out.find(*v); at != std::string::npos; at = out.find(*v, at + 3))
      out.replace(at, v->size(), "***");
  }
  return out;
}

void RunShared::Emit(RunEvent event) {
  if (!options->on_event) return;
  event.text = Mask(event.text);
  std::lock_guard<std::mutex> l(event_mu);
  options->on_event(event);
}

}  // namespace internal

StatusOr<RunResult> RunPipeline(const Pipeline& pipeline, const RunOptions& options) {
  if (options.store == nullptr) return InvalidArgument("RunPipeline needs a state store");
  if (options.state_dir.empty() || options.source_dir.empty())
    return InvalidArgument("RunPipeline needs the state and source directories");
  const auto started = std::chrono::steady_clock::now();
  ASSIGN_OR_RETURN(std::vector<JobInstance> instances, Expand(pipeline));
  if (options.rerun_of > 0) {
    auto earlier = options.store->GetPipelineRun(options.rerun_of);
    if (!earlier.ok()) return earlier.status();
  }

  RunShared run;
  run.pipeline = &pipeline;
  run.options = &options;
  if (!options.commit.empty()) {
    ASSIGN_OR_RETURN(run.commit, ReadCommit(options.source_dir, options.commit));
  } else {
    auto head = ReadCommit(options.source_dir);
    if (head.ok()) {
      run.commit = *head;
    } else if (head.status().code() != StatusCode::kNotFound) {
      return head.status();
    }
  }
  if (!options.branch.empty()) run.commit.branch = options.branch;
  run.repository = fs::path(options.source_dir).lexically_normal().filename().string();
  if (run.repository.empty())
    run.repository =
        fs::path(options.source_dir).lexically_normal().parent_path().filename().string();

  state::PipelineRunRecord record;
  record.pipeline = pipeline.name;
  record.source = options.source_label;
  record.trigger = options.trigger;
  record.trigger_detail = options.trigger_detail;
  record.commit = run.commit.sha;
  record.branch = run.commit.branch;
  record.commit_message = run.commit.message;
  record.commit_time_ms = run.commit.time_ms;
  record.status = "running";
  record.created_at_ms = NowMs();
  record.started_at_ms = record.created_at_ms;
  record.user = state::CurrentUser();
  run.actor = record.user;
  record.host = state::CurrentHost();
  record.pid = static_cast<int>(getpid());
  record.rerun_of = options.rerun_of;
  ASSIGN_OR_RETURN(record.id, options.store->CreatePipelineRun(record));
  run.run_id = record.id;
  if (options.on_created) options.on_created(record.id);

  run.run_dir = options.state_dir + "/runs/" + std::to_string(record.id);
  run.tmp_dir = run.run_dir + "/tmp";
  run.work_dir = options.in_place ? options.source_dir : run.run_dir + "/work";

  auto fail_run = [&](const Status& why) -> Status {
    record.status = "failure";
    record.finished_at_ms = NowMs();
    record.error = why.message();
    (void)options.store->UpdatePipelineRun(record);
    return why;
  };
  Status dirs = MakeDirs({run.tmp_dir, run.run_dir + "/artifacts"});
  if (!dirs.ok()) return fail_run(dirs);
  if (Status opened = run.log.Open(run.run_dir); !opened.ok()) return fail_run(opened);

  std::vector<std::unique_ptr<Slot>> slots;
  std::map<std::string, size_t> index;
  for (size_t i = 0; i < instances.size(); ++i) {
    auto s = std::make_unique<Slot>();
    s->inst = &instances[i];
    s->rec.run_id = record.id;
    s->rec.job = instances[i].key;
    s->rec.position = static_cast<int>(i);
    s->rec.status = "pending";
    s->rec.log_path =
        RunLogFile::JobLogPath(run.run_dir, internal::SanitizeKey(instances[i].key));
    index[instances[i].key] = i;
    slots.push_back(std::move(s));
  }
  std::vector<state::PipelineJobRecord> pending;
  for (auto& s : slots) {
    for (const std::string& need : s->inst->needs) {
      auto it = index.find(need);
      if (it != index.end()) s->needs.push_back(it->second);
    }
    pending.push_back(s->rec);
  }
  Status recorded = options.store->PutPipelineJobs(pending);
  if (!recorded.ok()) return fail_run(recorded);
  {
    RunEvent e;
    e.kind = RunEventKind::kRunStarted;
    e.run_id = record.id;
    e.text = pipeline.name + (run.commit.sha.empty() ? "" : " at " + run.commit.sha.substr(0, 7));
    run.Emit(std::move(e));
  }

  if (!options.in_place) {
    Status copied = internal::PrepareWorkingCopy(options.source_dir, run.commit.sha, run.work_dir);
    if (!copied.ok()) {
      std::vector<state::PipelineJobRecord> skipped;
      for (auto& s : slots) {
        s->rec.status = "skipped";
        s->rec.error = "no working copy";
        skipped.push_back(s->rec);
      }
      (void)options.store->PutPipelineJobs(skipped);
      return fail_run(copied.Annotate("prepare the working copy"));
    }
  }
  if (options.rerun_of > 0) {
    Status reused = ReuseEarlierRun(run, options.rerun_of, slots);
    if (!reused.ok()) return fail_run(reused);
  }

  Scheduler scheduler(run, slots);
  const bool cancelled = scheduler.Run();

  RunResult result;
  result.run_id = record.id;
  std::string first_error;
  bool failed = false;
  for (auto& s : slots) {
    result.jobs.push_back(s->rec);
    if (s->rec.status == "failure" && !s->inst->job->continue_on_error) {
      failed = true;
      if (first_error.empty()) first_error = s->rec.job + ": " + s->rec.error;
    }
  }
  result.status = cancelled ? "cancelled" : failed ? "failure" : "success";
  result.took = std::chrono::duration_cast<std::chrono::milliseconds>(
      std::chrono::steady_clock::now() - started);
  record.status = result.status;
  record.finished_at_ms = NowMs();
  record.error = cancelled ? "cancelled" : run.Mask(first_error);
  Status updated = options.store->UpdatePipelineRun(record);
  RunEvent e;
  e.kind = RunEventKind::kRunFinished;
  e.run_id = record.id;
  e.status = result.status;
  e.took = result.took;
  run.Emit(std::move(e));
  if (!updated.ok()) return updated.Annotate("record the end of run " + std::to_string(record.id));
  // Scripts and output files are not needed after the run. The working copy of a run that did
  // not succeed stays for a look at what went wrong; a successful one is removed (its artifacts
  // and logs stay).
  std::error_code ec;
  fs::remove_all(run.tmp_dir, ec);
  if (!options.in_place && result.ok()) fs::remove_all(run.work_dir, ec);
  return result;
}

}  // namespace steward::pipeline
