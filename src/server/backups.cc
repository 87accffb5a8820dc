#include "server/backups.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <limits>

#include "base/clock.h"
#include "base/json.h"
#include "config/stack_json.h"

namespace steward::server {
namespace {

constexpr char kDocument[] = "backups";
constexpr const char* kStateJob = kStateBackupJob;
constexpr int64_t kMinMaxAgeMs = 3600 * 1000;
constexpr int64_t kNever = std::numeric_limits<int64_t>::max();

backup::KeepPolicy Policy(const config::BackupKeep& k) {
  backup::KeepPolicy p;
  p.last = k.last;
  p.hourly = k.hourly;
  p.daily = k.daily;
  p.weekly = k.weekly;
  p.monthly = k.monthly;
  p.yearly = k.yearly;
  p.within_seconds = k.within.count() / 1000;
  return p;
}

// What the document keeps: the stack's backup settings and the services that declare one.
config::Stack BackupPart(const config::Stack& stack) {
  config::Stack slim;
  slim.path = stack.path;
  slim.dir = stack.dir;
  slim.project = stack.project;
  slim.backup = stack.backup;
  for (const config::Service& s : stack.services) {
    if (!s.backup.enabled) continue;
    config::Service keep;
    keep.name = s.name;
    keep.working_dir = s.working_dir;
    keep.backup = s.backup;
    slim.services.push_back(std::move(keep));
  }
  return slim;
}

}  // namespace

BackupService::BackupService(BackupServiceOptions options) : opt_(std::move(options)) {
  if (opt_.time_scale <= 0) opt_.time_scale = 1;
  if (opt_.metrics == nullptr) return;
  metrics::Registry& m = *opt_.metrics;
  last_success_ = &m.AddGauge("steward_backup_last_success_timestamp_seconds",
                              "Unix time of the last successful backup of the job.", {"service"});
  last_duration_ = &m.AddGauge("steward_backup_last_duration_seconds",
                               "Duration of the last successful backup of the job.", {"service"});
  last_size_ = &m.AddGauge("steward_backup_last_size_bytes",
                           "Bytes of files the last successful backup covered (read or reused).",
                           {"service"});
  last_added_ = &m.AddGauge("steward_backup_last_added_bytes",
                            "New bytes the last successful backup added (before compression).",
                            {"service"});
  failures_ = &m.AddCounter("steward_backup_failures_total", "Failed backup runs of the job.",
                            {"service"});
  late_ = &m.AddGauge("steward_backup_late",
                      "1 when the last successful backup is older than the job's max_age.",
                      {"service"});
}

BackupService::~BackupService() { Stop(); }

void BackupService::Start() {
  if (opt_.store != nullptr) {
    auto doc = opt_.store->GetDocument(kDocument);
    if (doc.ok() && *doc) {
      auto stack = config::StackFromJson(nlohmann::json::parse(**doc, nullptr, false));
      std::lock_guard<std::mutex> l(mu_);
      Status st = stack.ok() ? Load(*stack) : stack.status();
      if (!st.ok())
        spdlog::error("msg=\"recorded backups not loaded; the next apply rewrites them\" "
                      "error=\"{}\"",
                      st.message());
    }
  }
  loop_ = std::thread([this] { Loop(); });
}

void BackupService::Stop() {
  {
    std::lock_guard<std::mutex> l(mu_);
    stopping_ = true;
  }
  cv_.notify_all();
  if (loop_.joinable()) loop_.join();
}

Status BackupService::Apply(const config::Stack& stack) {
  config::Stack part = BackupPart(stack);
  if (opt_.store != nullptr)
    RETURN_IF_ERROR(opt_.store->PutDocument(kDocument, JsonText(config::StackToJson(part))));
  std::lock_guard<std::mutex> l(mu_);
  Status st = Load(part);
  cv_.notify_all();
  return st;
}

Status BackupService::Load(const config::Stack& stack) {
  const config::BackupSettings& b = stack.backup;
  settings_ = {b.repository, b.password_file, b.key_file, b.keep};
  std::map<std::string, Job> jobs;
  int64_t now = NowMs();
  std::string problems;
  auto add = [&](const std::string& name, backup::JobSpec spec, const std::string& schedule,
                 int64_t max_age_ms) {
    Job j;
    if (auto old = jobs_.find(name); old != jobs_.end()) {
      j = old->second;  // keeps the last outcome, queue and running marks
    } else {
      j.since_ms = now;
    }
    j.name = name;
    j.spec = std::move(spec);
    auto cron = pipeline::CronSchedule::Parse(schedule);
    if (cron.ok()) {
      j.cron = *cron;
      j.next_ms = NextRun(*cron, now);
      j.max_age_ms = max_age_ms > 0 ? max_age_ms : DefaultMaxAge(*cron, now);
    } else {
      j.cron.reset();  // runs only by hand until a good schedule is applied
      j.next_ms = kNever;
      j.max_age_ms = max_age_ms > 0 ? max_age_ms : kMinMaxAgeMs;
      problems += (problems.empty() ? "" : "; ") + name + ": schedule '" + schedule +
                  "': " + cron.status().message();
    }
    jobs[name] = std::move(j);
  };
  if (!b.repository.empty()) {
    for (const config::Service& s : stack.services) {
      if (!s.backup.enabled) continue;
      add(s.name, ServiceJobSpec(stack, s, opt_.state_dir),
          s.backup.schedule.empty() ? b.schedule : s.backup.schedule, s.backup.max_age.count());
    }
    if (b.state) add(kStateJob, backup::JobSpec{}, b.schedule, 0);
  }
  for (const auto& [name, old] : jobs_) {
    if (jobs.count(name) || last_success_ == nullptr) continue;
    for (auto* f : {last_success_, last_duration_, last_size_, last_added_, late_})
      f->Remove({name});
    failures_->Remove({name});
  }
  jobs_ = std::move(jobs);
  std::erase_if(queue_, [this](const std::string& n) { return !jobs_.count(n); });
  for (const auto& [name, job] : jobs_) Publish(job, now);
  need_last_success_ = !jobs_.empty();
  if (!problems.empty()) return InvalidArgument("backup schedules not loaded: " + problems);
  return Status::OK();
}

Status BackupService::RunNow(const std::string& name) {
  std::lock_guard<std::mutex> l(mu_);
  auto it = jobs_.find(name);
  if (it == jobs_.end()) {
    std::string known;
    for (const auto& [n, j] : jobs_) known += (known.empty() ? "" : ", ") + n;
    return NotFound("no backup job '" + name + "'; the applied stack declares " +
                    (known.empty() ? std::string("none") : known));
  }
  if (!it->second.queued && !it->second.running) {
    it->second.queued = true;
    queue_.push_back(name);
    cv_.notify_all();
  }
  return Status::OK();
}

void BackupService::Loop() {
  std::unique_lock<std::mutex> l(mu_);
  // Scaled schedules (tests) are checked often enough to keep up with a fast "minute".
  auto tick = std::chrono::milliseconds(opt_.time_scale > 1 ? 100 : 1000);
  while (!stopping_) {
    if (need_last_success_) {
      need_last_success_ = false;
      l.unlock();
      ReadLastSuccesses();
      l.lock();
      continue;
    }
    int64_t now = NowMs();
    for (auto& [name, job] : jobs_) {
      if (job.cron && job.next_ms <= now) {
        if (!job.queued && !job.running) {
          job.queued = true;
          queue_.push_back(name);
        }
        job.next_ms = NextRun(*job.cron, now);
      }
      Publish(job, now);
    }
    if (!queue_.empty()) {
      std::string name = queue_.front();
      queue_.pop_front();
      l.unlock();
      RunOne(name);
      l.lock();
      continue;
    }
    cv_.wait_for(l, tick);
  }
}

void BackupService::RunOne(const std::string& name) {
  backup::JobSpec spec;
  Settings settings;
  {
    std::lock_guard<std::mutex> l(mu_);
    auto it = jobs_.find(name);
    if (it == jobs_.end()) return;
    it->second.queued = false;
    it->second.running = true;
    spec = name == kStateJob ? StateJobSpec(opt_.state_dir, settings_.keep) : it->second.spec;
    settings = settings_;
  }
  int64_t started = NowMs();
  auto t0 = std::chrono::steady_clock::now();
  spdlog::info("msg=\"backup started\" service={}", name);
  auto log = [&name](const std::string& line) {
    spdlog::info("msg=\"backup\" service={} line=\"{}\"", name, line);
  };
  StatusOr<backup::JobResult> result = [&]() -> StatusOr<backup::JobResult> {
    ASSIGN_OR_RETURN(auto repo, backup::OpenJobRepository(settings.repository,
                                                          settings.password_file,
                                                          settings.key_file));
    return backup::RunBackupJob(repo.get(), spec, log);
  }();
  double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();

  std::lock_guard<std::mutex> l(mu_);
  auto it = jobs_.find(name);
  if (it == jobs_.end()) return;  // removed by an apply while it ran
  Job& job = it->second;
  job.running = false;
  job.has_run = true;
  job.started_ms = started;
  job.finished_ms = NowMs();
  job.duration_s = seconds;
  job.ok = result.ok();
  job.warnings.clear();
  if (!result.ok()) {
    job.error = result.status().message();
    job.snapshot.clear();
    if (failures_) failures_->WithLabels({name}).Inc();
    spdlog::error("msg=\"backup failed\" service={} error=\"{}\"", name, job.error);
  } else {
    job.error.clear();
    job.snapshot = result->snapshot.Hex();
    job.warnings = result->warnings;
    job.last_success_ms = started;
    if (last_duration_) {
      last_duration_->WithLabels({name}).Set(seconds);
      last_size_->WithLabels({name}).Set(
          static_cast<double>(result->saved.summary.bytes_processed));
      last_added_->WithLabels({name}).Set(static_cast<double>(result->saved.summary.bytes_added));
    }
    spdlog::info("msg=\"backup done\" service={} snapshot={} seconds={:.2f} warnings={} "
                 "forgotten={}",
                 name, job.snapshot.substr(0, 8), seconds, job.warnings.size(),
                 result->forgotten);
  }
  Publish(job, NowMs());
}

// The newest snapshot of each job in the repository: a daemon that restarts (or a job that
// `steward backup run --service` ran by hand) does not look late or never-run.
void BackupService::ReadLastSuccesses() {
  Settings settings;
  {
    std::lock_guard<std::mutex> l(mu_);
    settings = settings_;
  }
  if (settings.repository.empty()) return;
  auto repo = backup::OpenJobRepository(settings.repository, settings.password_file,
                                        settings.key_file);
  if (!repo.ok()) {
    spdlog::warn("msg=\"backup repository not readable; last successes unknown\" error=\"{}\"",
                 repo.status().message());
    return;
  }
  auto snaps = (*repo)->ListSnapshots();
  if (!snaps.ok()) {
    spdlog::warn("msg=\"backup snapshots not listed\" error=\"{}\"", snaps.status().message());
    return;
  }
  std::map<std::string, int64_t> newest;
  for (const auto& [id, s] : *snaps) {
    if (s.service.empty()) continue;
    int64_t ms = s.time_ns / 1000000;
    newest[s.service] = std::max(newest[s.service], ms);
  }
  std::lock_guard<std::mutex> l(mu_);
  int64_t now = NowMs();
  for (auto& [name, job] : jobs_) {
    auto it = newest.find(name);
    if (it != newest.end()) job.last_success_ms = std::max(job.last_success_ms, it->second);
    Publish(job, now);
  }
}

backup::JobSpec ServiceJobSpec(const config::Stack& stack, const config::Service& service,
                               const std::string& state_dir) {
  backup::JobSpec spec;
  spec.name = service.name;
  spec.paths = service.backup.paths;
  spec.excludes = service.backup.exclude;
  spec.before = service.backup.before;
  spec.after = service.backup.after;
  spec.sqlite = service.backup.sqlite;
  spec.work_dir = stack.dir;
  spec.scratch_root = state_dir + "/backup";
  spec.keep = Policy(stack.backup.keep);
  return spec;
}

// The top-level entries are listed (rather than the folder given whole with excludes) so the
// job's own BACKUP_DIR, under <state>/backup, is not inside an excluded folder.
backup::JobSpec StateJobSpec(const std::string& state_dir, const config::BackupKeep& keep) {
  backup::JobSpec spec;
  spec.name = kStateBackupJob;
  spec.work_dir = state_dir;
  spec.scratch_root = state_dir + "/backup";
  spec.keep = Policy(keep);
  std::error_code ec;
  for (const auto& entry : std::filesystem::directory_iterator(state_dir, ec)) {
    std::string name = entry.path().filename().string();
    if (name == "tsdb" || name == "cache" || name == "mirrors" || name == "backup" ||
        name == "daemon.lock" || name.starts_with("state.db"))
      continue;
    spec.paths.push_back(entry.path().string());
  }
  std::string db = state_dir + "/state.db";
  if (std::filesystem::exists(db, ec)) spec.sqlite.push_back(db);
  return spec;
}

int64_t BackupService::NowMs() const { return ToUnixMillis(RealClock::Get()->WallNow()); }

int64_t BackupService::NextRun(const pipeline::CronSchedule& cron, int64_t after_ms) const {
  double scale = opt_.time_scale;
  auto next = cron.Next(static_cast<int64_t>(static_cast<double>(after_ms) * scale));
  if (!next) return kNever;
  return static_cast<int64_t>(static_cast<double>(*next) / scale) + 1;
}

int64_t BackupService::DefaultMaxAge(const pipeline::CronSchedule& cron, int64_t now_ms) const {
  int64_t first = NextRun(cron, now_ms);
  if (first == kNever) return kMinMaxAgeMs;
  int64_t second = NextRun(cron, first);
  if (second == kNever) return kMinMaxAgeMs;
  return std::max(kMinMaxAgeMs, 2 * (second - first));
}

void BackupService::Publish(const Job& job, int64_t now_ms) {
  if (late_ == nullptr) return;
  const std::string& name = job.name;
  last_success_->WithLabels({name}).Set(static_cast<double>(job.last_success_ms) / 1000.0);
  last_duration_->WithLabels({name});
  last_size_->WithLabels({name});
  last_added_->WithLabels({name});
  failures_->WithLabels({name});
  int64_t since = job.last_success_ms > 0 ? job.last_success_ms : job.since_ms;
  late_->WithLabels({name}).Set(now_ms - since > job.max_age_ms ? 1 : 0);
}

nlohmann::json BackupService::BackupsJson() {
  std::lock_guard<std::mutex> l(mu_);
  nlohmann::json out = nlohmann::json::array();
  int64_t now = NowMs();
  for (const auto& [name, j] : jobs_) {
    nlohmann::json last = nullptr;
    if (j.has_run) {
      last = {{"started", JsonTimeOrNull(j.started_ms)},
              {"finished", JsonTimeOrNull(j.finished_ms)},
              {"ok", j.ok},
              {"error", j.error},
              {"snapshot", j.snapshot},
              {"duration_seconds", j.duration_s},
              {"warnings", j.warnings}};
    }
    int64_t since = j.last_success_ms > 0 ? j.last_success_ms : j.since_ms;
    out.push_back({{"service", name},
                   {"schedule", j.cron ? nlohmann::json(j.cron->text()) : nlohmann::json()},
                   {"next_run", j.next_ms == kNever ? nlohmann::json() : JsonTimeOrNull(j.next_ms)},
                   {"max_age_seconds", j.max_age_ms / 1000.0},
                   {"running", j.running},
                   {"queued", j.queued},
                   {"last_run", std::move(last)},
                   {"last_success", JsonTimeOrNull(j.last_success_ms)},
                   {"late", now - since > j.max_age_ms}});
  }
  return out;
}

}  // namespace steward::server
