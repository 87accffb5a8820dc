// The daemon's scheduled restore drills (drills.h).
#include "server/drills.h"

#include <spdlog/spdlog.h>

#include <map>

#include "backup/job.h"
#include "report/dr.h"

namespace steward::server {

DrillService::DrillService(DrillServiceOptions options) : opt_(std::move(options)) {
  if (opt_.metrics != nullptr) {
    last_success_ = &opt_.metrics->AddGauge(
        "steward_drill_last_success_timestamp_seconds",
        "Unix time when the last successful restore drill of the service ended", {"service"});
    last_rto_ = &opt_.metrics->AddGauge(
        "steward_drill_last_rto_seconds",
        "Restore plus verify seconds of the service's last restore drill", {"service"});
    last_rpo_ = &opt_.metrics->AddGauge(
        "steward_drill_last_rpo_seconds",
        "Age in seconds of the snapshot the service's last restore drill restored", {"service"});
    drills_total_ = &opt_.metrics->AddCounter("steward_drills_total",
                                              "Restore drills run by this daemon, by result",
                                              {"service", "result"});
  }
  LoadLastResults();
}

DrillService::~DrillService() { Stop(); }

void DrillService::LoadLastResults() {
  if (opt_.metrics == nullptr || opt_.store == nullptr) return;
  auto drills = opt_.store->ListDrills("", 0);
  if (!drills.ok()) {
    spdlog::warn("msg=\"reading recorded drills\" error=\"{}\"", drills.status().message());
    return;
  }
  // Newest first: the first row of a service is its last drill, the first ok one its last
  // success.
  std::map<std::string, bool> seen, seen_ok;
  for (const auto& d : *drills) {
    if (!seen[d.service]) {
      seen[d.service] = true;
      last_rto_->WithLabels({d.service}).Set(d.rto_ms / 1000.0);
      last_rpo_->WithLabels({d.service}).Set(d.rpo_ms / 1000.0);
    }
    if (d.ok && !seen_ok[d.service]) {
      seen_ok[d.service] = true;
      last_success_->WithLabels({d.service}).Set(d.finished_at_ms / 1000.0);
    }
  }
}

void DrillService::Export(const state::DrillRecord& d) {
  if (opt_.metrics == nullptr) return;
  last_rto_->WithLabels({d.service}).Set(d.rto_ms / 1000.0);
  last_rpo_->WithLabels({d.service}).Set(d.rpo_ms / 1000.0);
  if (d.ok) last_success_->WithLabels({d.service}).Set(d.finished_at_ms / 1000.0);
  drills_total_->WithLabels({d.service, d.ok ? "ok" : "failed"}).Inc();
}

Status DrillService::Apply(const config::Stack& stack) {
  const int64_t now = ToUnixMillis(opt_.clock->WallNow());
  std::vector<Schedule> schedules;
  for (const auto& s : stack.services) {
    if (!s.backup.enabled || s.backup.drill_schedule.empty()) continue;
    auto cron = pipeline::CronSchedule::Parse(s.backup.drill_schedule);
    if (!cron.ok()) {
      return cron.status().Annotate(s.backup.drill_schedule_location.ToString() + ": service " +
                                    s.name + " backup.drill_schedule");
    }
    schedules.push_back({s.name, *cron, cron->Next(now).value_or(0)});
  }
  std::lock_guard<std::mutex> l(mu_);
  stack_ = stack;
  schedules_ = std::move(schedules);
  cv_.notify_all();
  return Status::OK();
}

void DrillService::Start() {
  std::lock_guard<std::mutex> l(mu_);
  if (loop_.joinable()) return;
  stopping_ = false;
  cancel_ = false;
  loop_ = std::thread([this] { Loop(); });
}

void DrillService::Stop() {
  {
    std::lock_guard<std::mutex> l(mu_);
    stopping_ = true;
    cancel_ = true;
    cv_.notify_all();
  }
  if (loop_.joinable()) loop_.join();
}

StatusOr<state::DrillRecord> DrillService::RunNow(const std::string& service,
                                                  const std::string& trigger) {
  std::lock_guard<std::mutex> run(run_mu_);
  std::optional<config::Stack> stack;
  {
    std::lock_guard<std::mutex> l(mu_);
    stack = stack_;
  }
  const int64_t started_ms = ToUnixMillis(opt_.clock->WallNow());
  const std::string who = "drill " + service;
  auto log = [&who](const std::string& line) {
    spdlog::info("msg=\"{}\" line=\"{}\"", who, line);
  };
  state::DrillRecord record;
  Status error;
  if (!stack) {
    error = FailedPrecondition("no stack applied yet");
  } else if (auto spec = report::DrillSpecFor(*stack, service, opt_.state_dir); !spec.ok()) {
    error = spec.status();
  } else if (auto repo = report::OpenStackRepository(stack->backup); !repo.ok()) {
    error = repo.status();
  } else {
    spec->cancel = &cancel_;
    auto result = backup::RunDrill(repo->get(), *spec, log);
    if (result.ok()) {
      record = report::ToDrillRecord(*result, trigger);
    } else {
      error = result.status();
    }
  }
  if (!error.ok()) record = report::FailedDrillRecord(service, started_ms, error, trigger);
  ASSIGN_OR_RETURN(record.id, opt_.store->RecordDrill(record));
  Export(record);
  if (record.ok) {
    spdlog::info("msg=\"drill ok\" service={} rto_s={:.1f} rpo_s={:.0f}", service,
                 record.rto_ms / 1000.0, record.rpo_ms / 1000.0);
  } else {
    spdlog::warn("msg=\"drill failed\" service={} error=\"{}\"", service, record.message);
  }
  return record;
}

void DrillService::Loop() {
  std::unique_lock<std::mutex> l(mu_);
  while (!stopping_) {
    cv_.wait_for(l, opt_.tick);
    if (stopping_) break;
    const int64_t now = ToUnixMillis(opt_.clock->WallNow());
    std::vector<std::string> due;
    for (auto& s : schedules_) {
      if (s.next_ms == 0 || now < s.next_ms) continue;
      due.push_back(s.service);
      // From now, not from the missed minute: a drill that ran long skips what it overlapped.
      s.next_ms = s.cron.Next(now).value_or(0);
    }
    for (const auto& service : due) {
      l.unlock();
      auto rec = RunNow(service, "schedule");
      if (!rec.ok()) {
        spdlog::error("msg=\"recording drill\" service={} error=\"{}\"", service,
                      rec.status().message());
      }
      l.lock();
      if (stopping_) break;
    }
  }
}

nlohmann::json DrillService::SchedulesJson() {
  std::lock_guard<std::mutex> l(mu_);
  nlohmann::json out = nlohmann::json::array();
  for (const auto& s : schedules_) {
    out.push_back({{"service", s.service},
                   {"drill_schedule", s.cron.text()},
                   {"next_at", s.next_ms == 0 ? nlohmann::json(nullptr)
                                              : nlohmann::json(FormatRfc3339(
                                                    FromUnixMillis(s.next_ms)))}});
  }
  return out;
}

std::unique_ptr<DrillService> StartDrillService(const std::string& state_dir,
                                               state::StateStore* store,
                                               metrics::Registry* metrics) {
  DrillServiceOptions o;
  o.state_dir = state_dir;
  o.store = store;
  o.metrics = metrics;
  o.clock = RealClock::Get();
  auto drills = std::make_unique<DrillService>(o);
  drills->Start();
  return drills;
}

}  // namespace steward::server
