// DrillService: the daemon's restore drills. For each service of the applied stack whose
// `backup:` has a drill_schedule (cron, UTC), it runs backup::RunDrill at the scheduled
// minutes — the same drill as `steward drill SERVICE`, with trigger "schedule" — records each
// in the state store, and exports the last result per service:
//   steward_drill_last_success_timestamp_seconds{service}  when the last successful drill ended
//   steward_drill_last_rto_seconds{service}                restore + verify of the last drill
//   steward_drill_last_rpo_seconds{service}                snapshot age at the last drill
//   steward_drills_total{service,result="ok"|"failed"}
// The gauges start from the store's records, so they survive a daemon restart.
//
// Drills run one at a time on the service's own thread (job.h: one drill per repository at a
// time); a drill due while another runs starts after it. A schedule that comes round while
// its drill is still running is skipped, not queued. Stop() cancels a running verify.
// Thread safety: every public method is thread-safe.
#pragma once

#include <atomic>
#include <condition_variable>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include <nlohmann/json.hpp>

#include "base/clock.h"
#include "base/status.h"
#include "config/stack.h"
#include "metrics/registry.h"
#include "pipeline/cron.h"
#include "state/state_store.h"

namespace steward::server {

struct DrillServiceOptions {
  std::string state_dir;                 // absolute; restore folders go under <state_dir>/drill
  state::StateStore* store = nullptr;
  metrics::Registry* metrics = nullptr;  // may be null
  Clock* clock = nullptr;
  Duration tick = Duration(1000);        // how often schedules are checked
};

class DrillService {
 public:
  explicit DrillService(DrillServiceOptions options);
  ~DrillService();  // Stop()

  // Takes the drill schedules of `stack`. An invalid cron fails the call naming the service
  // and keeps the schedules in force before. Schedules restart from now.
  Status Apply(const config::Stack& stack);
  void Start();  // the schedule thread
  void Stop();   // cancels a running verify and waits for the thread

  // Runs a drill of `service` on the calling thread (serialised with scheduled ones), records
  // it and updates the metrics. Errors only when the store fails; a drill that could not run
  // is recorded as failed.
  StatusOr<state::DrillRecord> RunNow(const std::string& service, const std::string& trigger);

  // [{"service","drill_schedule","next_at"}]
  nlohmann::json SchedulesJson();

 private:
  struct Schedule {
    std::string service;
    pipeline::CronSchedule cron;
    int64_t next_ms = 0;
  };

  void Loop();
  void Export(const state::DrillRecord& record);
  void LoadLastResults();

  DrillServiceOptions opt_;
  std::mutex run_mu_;  // one drill at a time; taken before mu_
  std::mutex mu_;
  std::condition_variable cv_;
  std::optional<config::Stack> stack_;  // guarded by mu_
  std::vector<Schedule> schedules_;     // guarded by mu_
  bool stopping_ = false;
  std::atomic<bool> cancel_{false};
  std::thread loop_;

  metrics::Family<metrics::Gauge>* last_success_ = nullptr;
  metrics::Family<metrics::Gauge>* last_rto_ = nullptr;
  metrics::Family<metrics::Gauge>* last_rpo_ = nullptr;
  metrics::Family<metrics::Counter>* drills_total_ = nullptr;
};

// The daemon's drill service: made with the real clock, started; the daemon hands it each
// applied stack (Apply) and stops it before the store closes.
std::unique_ptr<DrillService> StartDrillService(const std::string& state_dir,
                                               state::StateStore* store,
                                               metrics::Registry* metrics);

}  // namespace steward::server
