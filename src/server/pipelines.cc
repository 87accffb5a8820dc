#include "server/pipelines.h"

#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <future>

#include <spdlog/spdlog.h>

#include "pipeline/parse.h"

namespace steward::server {
namespace {

namespace fs = std::filesystem;

std::optional<std::string> FromEnvironment(const std::string& name) {
  const char* v = std::getenv(name.c_str());
  if (v == nullptr) return std::nullopt;
  return std::string(v);
}

const char* TriggerName(pipeline::TriggerKind k) {
  switch (k) {
    case pipeline::TriggerKind::kManual: return "manual";
    case pipeline::TriggerKind::kPush: return "push";
    case pipeline::TriggerKind::kSchedule: return "schedule";
    case pipeline::TriggerKind::kWebhook: return "webhook";
  }
  return "manual";
}

std::string Absolute(const std::string& base, const std::string& path) {
  if (path.empty()) return base;
  fs::path p(path);
  return (p.is_absolute() ? p : fs::path(base) / p).lexically_normal().string();
}

// Where a remote repository's bare mirror lives; the watcher fetches into it and runs clone
// from it.
std::string MirrorDir(const std::string& state_dir, const std::string& repository) {
  return state_dir + "/mirrors/" + Fnv1a64Hex(repository);
}

}  // namespace

PipelineService::PipelineService(PipelineServiceOptions options) : opt_(std::move(options)) {
  if (opt_.clock == nullptr) opt_.clock = RealClock::Get();
  if (!opt_.lookup_secret) opt_.lookup_secret = FromEnvironment;
  auto cache = pipeline::Cache::Open(opt_.state_dir + "/cache");
  if (cache.ok()) {
    cache_ = std::move(*cache);
  } else {
    spdlog::warn("pipelines: cache disabled: {}", cache.status().ToString());
  }
  if (opt_.metrics != nullptr) {
    runs_total_ = &opt_.metrics->AddCounter("steward_pipeline_runs_total",
                                            "Pipeline runs finished, by pipeline and status.",
                                            {"pipeline", "status"});
    run_seconds_ = &opt_.metrics->AddHistogram(
        "steward_pipeline_run_duration_seconds", "Wall time of finished pipeline runs.",
        {"pipeline"}, {1, 5, 15, 30, 60, 120, 300, 600, 1800, 3600});
    triggers_total_ = &opt_.metrics->AddCounter(
        "steward_pipeline_triggers_total", "Runs started, by pipeline and trigger.",
        {"pipeline", "trigger"});
  }
}

PipelineService::~PipelineService() { Stop(); }

Status PipelineService::Load(const std::string& stack_file) {
  pipeline::ParseResult parsed = pipeline::LoadStackPipelines(stack_file);
  if (!parsed.ok()) {
    std::string msg;
    for (const auto& d : parsed.errors) msg += (msg.empty() ? "" : "\n") + d.ToString();
    return InvalidArgument("pipelines not reloaded (the previous ones stay in force):\n" + msg);
  }
  std::string dir = fs::path(stack_file).parent_path().string();
  std::vector<Schedule> schedules;
  std::map<std::string, Watch> watches;
  std::map<std::string, std::shared_ptr<const pipeline::Pipeline>> by_name;
  int64_t now = ToUnixMillis(opt_.clock->WallNow());
  for (pipeline::Pipeline& p : parsed.pipelines) {
    auto shared = std::make_shared<const pipeline::Pipeline>(std::move(p));
    for (const pipeline::Trigger& t : shared->triggers) {
      if (t.kind == pipeline::TriggerKind::kSchedule) {
        auto cron = pipeline::CronSchedule::Parse(t.cron);
        if (!cron.ok()) {
          return cron.status().Annotate(t.location.ToString() + ": pipeline " + shared->name);
        }
        Schedule s{shared->name, *cron, cron->Next(now).value_or(0)};
        schedules.push_back(std::move(s));
      } else if (t.kind == pipeline::TriggerKind::kPush) {
        std::string repo =
            pipeline::IsLocalRepository(t.repository) ? Absolute(dir, t.repository) : t.repository;
        Watch w;
        w.pipeline = shared->name;
        w.branches = t.branches;
        w.poll = t.poll;
        if (w.branches.empty() && pipeline::IsLocalRepository(repo)) {
          auto head = pipeline::ReadCommit(repo);
          if (head.ok() && !head->branch.empty()) w.branches.push_back(head->branch);
        }
        if (w.branches.empty()) w.branches.push_back("main");
        std::string key = shared->name + "|" + repo;
        w.watcher = std::make_unique<pipeline::GitWatcher>(
            repo, MirrorDir(opt_.state_dir, repo));
        watches[key] = std::move(w);
      }
    }
    by_name[shared->name] = shared;
  }
  std::lock_guard<std::mutex> poll_lock(watch_mu_);
  std::lock_guard<std::mutex> lock(mu_);
  // Watchers that stay keep the heads they have seen, so a reload does not trigger builds.
  for (auto& [key, w] : watches) {
    auto old = watches_.find(key);
    if (old != watches_.end()) {
      w.watcher = std::move(old->second.watcher);
      w.next = old->second.next;
    }
  }
  stack_dir_ = dir;
  pipelines_ = std::move(by_name);
  schedules_ = std::move(schedules);
  watches_ = std::move(watches);
  cv_.notify_all();
  return Status::OK();
}

void PipelineService::Start() {
  std::lock_guard<std::mutex> lock(mu_);
  if (loop_.joinable()) return;
  stopping_ = false;
  loop_ = std::thread([this] { Loop(); });
}

void PipelineService::Stop() {
  std::vector<std::shared_ptr<RunHandle>> runs;
  {
    std::lock_guard<std::mutex> lock(mu_);
    stopping_ = true;
    for (auto& [id, r] : runs_) {
      r->cancel->Cancel();
      runs.push_back(r);
    }
    cv_.notify_all();
  }
  if (loop_.joinable()) loop_.join();
  for (auto& r : runs) {
    if (r->thread.joinable()) r->thread.join();
  }
  std::lock_guard<std::mutex> lock(mu_);
  runs_.clear();
}

void PipelineService::Loop() {
  std::unique_lock<std::mutex> lock(mu_);
  while (!stopping_) {
    cv_.wait_for(lock, opt_.tick);
    if (stopping_) break;
    ReapFinished();
    lock.unlock();
    CheckTriggers();
    lock.lock();
  }
}

void PipelineService::ReapFinished() {
  for (auto it = runs_.begin(); it != runs_.end();) {
    if (it->second->done.load()) {
      if (it->second->thread.joinable()) it->second->thread.join();
      it = runs_.erase(it);
    } else {
      ++it;
    }
  }
}

void PipelineService::CheckTriggers() {
  int64_t now = ToUnixMillis(opt_.clock->WallNow());
  std::vector<std::pair<std::string, std::string>> due;  // pipeline, cron text
  {
    std::lock_guard<std::mutex> lock(mu_);
    for (Schedule& s : schedules_) {
      if (s.next_ms == 0 || s.next_ms > now) continue;
      due.emplace_back(s.pipeline, s.cron.text());
      s.next_ms = s.cron.Next(now).value_or(0);
    }
  }
  for (const auto& [name, cron] : due) {
    auto id = StartRun(name, "schedule", cron, "", "");
    if (!id.ok()) spdlog::warn("pipeline {}: scheduled run not started: {}", name, id.status().ToString());
  }

  // Watchers poll outside the lock (a fetch can take seconds); each is used by this thread only.
  std::lock_guard<std::mutex> poll_lock(watch_mu_);  // Load may not swap watches_ meanwhile
  std::vector<std::pair<std::string, Watch*>> polls;
  {
    std::lock_guard<std::mutex> lock(mu_);
    MonoTime mono = opt_.clock->Now();
    for (auto& [key, w] : watches_) {
      if (mono < w.next) continue;
      w.next = mono + w.poll;
      polls.emplace_back(key, &w);
    }
  }
  for (auto& [key, w] : polls) {
    for (const std::string& branch : w->branches) {
      auto head = w->watcher->Poll(branch);
      if (!head.ok()) {
        spdlog::warn("pipeline {}: watching {}: {}", w->pipeline, w->watcher->repository(),
                     head.status().ToString());
        continue;
      }
      if (!head->has_value()) continue;
      auto id = StartRun(w->pipeline, "push", "new commit on " + branch, **head, branch);
      if (!id.ok()) {
        spdlog::warn("pipeline {}: push run not started: {}", w->pipeline, id.status().ToString());
      }
    }
  }
}

std::string PipelineService::SourceFor(const pipeline::Pipeline& p) const {
  for (const pipeline::Trigger& t : p.triggers) {
    if (t.kind == pipeline::TriggerKind::kPush && !t.repository.empty()) {
      if (!pipeline::IsLocalRepository(t.repository)) {
        return MirrorDir(opt_.state_dir, t.repository);
      }
      return Absolute(stack_dir_, t.repository);
    }
  }
  return stack_dir_;
}

StatusOr<int64_t> PipelineService::StartRun(const std::string& name, const std::string& trigger,
                                            const std::string& detail, const std::string& commit,
                                            const std::string& branch) {
  std::shared_ptr<const pipeline::Pipeline> p;
  auto handle = std::make_shared<RunHandle>();
  handle->cancel = std::make_shared<pipeline::CancelToken>();
  pipeline::RunOptions ro;
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (stopping_) return Status(StatusCode::kUnavailable, "the daemon is shutting down");
    auto it = pipelines_.find(name);
    if (it == pipelines_.end()) {
      std::string known;
      for (const auto& [n, unused] : pipelines_) known += (known.empty() ? "" : ", ") + n;
      return NotFound("no pipeline '" + name + "' in the applied stack" +
                      (known.empty() ? std::string(" (it has none)") : " (known: " + known + ")"));
    }
    p = it->second;
    int active = 0;
    for (const auto& [id, r] : runs_) active += r->done.load() ? 0 : 1;
    if (active >= opt_.max_runs) {
      return Status(StatusCode::kUnavailable,
                    std::to_string(active) + " runs are already running (the limit); try later");
    }
    ro.source_dir = SourceFor(*p);
  }
  ro.jobs = opt_.jobs;
  ro.state_dir = opt_.state_dir;
  ro.trigger = trigger;
  ro.trigger_detail = detail;
  ro.commit = commit;
  ro.branch = branch;
  ro.source_label = p->location.file;
  ro.cache = cache_.get();
  ro.store = opt_.store;
  ro.cancel = handle->cancel.get();
  ro.deploy = opt_.deploy;
  for (const pipeline::Job& j : p->jobs) {
    for (const std::string& s : j.secrets) {
      if (auto v = opt_.lookup_secret(s)) ro.secrets[s] = *v;
    }
  }
  auto created = std::make_shared<std::promise<StatusOr<int64_t>>>();
  auto set_once = std::make_shared<std::once_flag>();
  ro.on_created = [created, set_once](int64_t id) {
    std::call_once(*set_once, [&] { created->set_value(id); });
  };
  std::future<StatusOr<int64_t>> id_future = created->get_future();
  handle->thread = std::thread([this, p, ro, handle, created, set_once, name, trigger] {
    MonoTime start = opt_.clock->Now();
    auto result = pipeline::RunPipeline(*p, ro);
    if (!result.ok()) {
      spdlog::warn("pipeline {}: run not started: {}", name, result.status().ToString());
      std::call_once(*set_once, [&] { created->set_value(result.status()); });
    } else {
      double secs = std::chrono::duration<double>(opt_.clock->Now() - start).count();
      if (runs_total_ != nullptr) runs_total_->WithLabels({name, result->status}).Inc();
      if (run_seconds_ != nullptr) run_seconds_->WithLabels({name}).Observe(secs);
    }
    handle->done.store(true);
    std::lock_guard<std::mutex> lock(mu_);
    cv_.notify_all();
  });
  StatusOr<int64_t> id = id_future.get();
  if (!id.ok()) {
    if (handle->thread.joinable()) handle->thread.join();
    return id.status();
  }
  std::lock_guard<std::mutex> lock(mu_);
  if (triggers_total_ != nullptr) triggers_total_->WithLabels({name, trigger}).Inc();
  runs_[*id] = handle;
  return *id;
}

Status PipelineService::Cancel(int64_t run_id) {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = runs_.find(run_id);
  if (it == runs_.end() || it->second->done.load()) {
    return NotFound("run " + std::to_string(run_id) + " is not running in this daemon");
  }
  it->second->cancel->Cancel();
  return Status::OK();
}

bool PipelineService::Running(int64_t run_id) {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = runs_.find(run_id);
  return it != runs_.end() && !it->second->done.load();
}

PipelineService::WebhookAnswer PipelineService::HandleWebhook(
    const std::string& name, const std::map<std::string, std::string>& headers,
    const std::string& body) {
  auto answer = [](int code, nlohmann::json j) { return WebhookAnswer{code, std::move(j)}; };
  std::shared_ptr<const pipeline::Pipeline> p;
  {
    std::lock_guard<std::mutex> lock(mu_);
    auto it = pipelines_.find(name);
    if (it != pipelines_.end()) p = it->second;
  }
  if (p == nullptr) return answer(404, {{"error", "no pipeline '" + name + "'"}});
  const pipeline::Trigger* hook = nullptr;
  std::vector<std::string> branches;
  for (const pipeline::Trigger& t : p->triggers) {
    if (t.kind == pipeline::TriggerKind::kWebhook) hook = &t;
    if (t.kind == pipeline::TriggerKind::kPush) branches = t.branches;
  }
  if (hook == nullptr) {
    return answer(404, {{"error", "pipeline '" + name + "' has no webhook trigger (on.webhook)"}});
  }
  if (!hook->branches.empty()) branches = hook->branches;
  std::optional<std::string> secret = opt_.lookup_secret(hook->secret);
  if (!secret || secret->empty()) {
    return answer(500, {{"error", "the webhook secret variable " + hook->secret +
                                      " is not set in the daemon's environment"}});
  }
  if (Status st = pipeline::VerifyWebhook(headers, body, *secret); !st.ok()) {
    return answer(401, {{"error", st.message()}});
  }
  auto push = pipeline::ParsePushPayload(headers, body);
  if (!push.ok()) return answer(400, {{"error", push.status().message()}});
  if (!push->has_value()) return answer(200, {{"ignored", "not a push event"}});
  const pipeline::PushEvent& ev = **push;
  if (ev.branch.empty()) return answer(200, {{"ignored", "not a branch push: " + ev.ref}});
  if (!branches.empty() &&
      std::find(branches.begin(), branches.end(), ev.branch) == branches.end()) {
    return answer(200, {{"ignored", "branch " + ev.branch + " is not watched"}});
  }
  std::string detail = ev.provider + (ev.delivery.empty() ? "" : " delivery " + ev.delivery);
  auto id = StartRun(name, "webhook", detail, ev.commit, ev.branch);
  if (!id.ok()) {
    int code = id.status().code() == StatusCode::kUnavailable ? 429 : 500;
    return answer(code, {{"error", id.status().message()}});
  }
  return answer(202, {{"run_id", *id}, {"commit", ev.commit}, {"branch", ev.branch}});
}

nlohmann::json PipelineService::PipelinesJson() {
  std::lock_guard<std::mutex> lock(mu_);
  nlohmann::json out = nlohmann::json::array();
  for (const auto& [name, p] : pipelines_) {
    nlohmann::json triggers = nlohmann::json::array();
    for (const pipeline::Trigger& t : p->triggers) {
      nlohmann::json tj = {{"kind", TriggerName(t.kind)}};
      if (t.kind == pipeline::TriggerKind::kSchedule) {
        tj["cron"] = t.cron;
        for (const Schedule& s : schedules_) {
          if (s.pipeline == name && s.cron.text() == t.cron && s.next_ms > 0) {
            tj["next_at"] = FormatRfc3339(FromUnixMillis(s.next_ms));
          }
        }
      }
      if (t.kind == pipeline::TriggerKind::kPush) {
        tj["repository"] = t.repository.empty() ? stack_dir_ : t.repository;
        tj["branches"] = t.branches;
      }
      if (t.kind == pipeline::TriggerKind::kWebhook) tj["path"] = "/hooks/" + name;
      triggers.push_back(std::move(tj));
    }
    nlohmann::json running = nlohmann::json::array();
    for (const auto& [id, r] : runs_) {
      if (!r->done.load()) running.push_back(id);
    }
    out.push_back({{"name", name},
                   {"format", p->format},
                   {"file", p->location.file},
                   {"jobs", p->jobs.size()},
                   {"triggers", std::move(triggers)},
                   {"running", std::move(running)}});
  }
  return out;
}

}  // namespace steward::server
