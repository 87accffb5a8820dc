// PipelineService: the daemon's side of pipelines — what starts runs without a person at the
// terminal. It loads the stack's pipelines (pipeline/parse.h) on every apply, fires their
// triggers (cron schedules, new commits on watched branches, webhook deliveries) and manual
// runs from the API, runs each on its own thread through pipeline::RunPipeline, and cancels
// runs on request or at shutdown. Runs are recorded in the state store like `steward run`'s,
// with their trigger and commit.
//
// Webhooks arrive at POST /hooks/<pipeline> (outside /api/, since GitHub cannot send the API
// token) and are accepted only with a valid HMAC signature (GitHub) or token (GitLab) made
// with the secret the pipeline's webhook trigger names; pushes to branches the trigger does
// not list are acknowledged and ignored.
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
#include "base/hash.h"
#include "base/status.h"
#include "metrics/registry.h"
#include "pipeline/cache.h"
#include "pipeline/cron.h"
#include "pipeline/pipeline.h"
#include "pipeline/runner.h"
#include "pipeline/triggers.h"
#include "state/state_store.h"

namespace steward::server {

struct PipelineServiceOptions {
  std::string state_dir;                 // absolute
  state::StateStore* store = nullptr;
  metrics::Registry* metrics = nullptr;  // may be null
  Clock* clock = nullptr;
  int jobs = 2;                          // job instances at once within one run
  int max_runs = 4;                      // runs at once; more are refused (429)
  pipeline::DeployFn deploy;             // deploy steps; null: they fail
  // Looks up a secret or webhook key by name; default: the daemon's environment.
  std::function<std::optional<std::string>(const std::string&)> lookup_secret;
  Duration tick = Duration(1000);        // how often schedules and watchers are checked
};

class PipelineService {
 public:
  explicit PipelineService(PipelineServiceOptions options);
  ~PipelineService();  // Stop()

  // Reads the stack's pipelines. On an error the pipelines loaded before stay in force and the
  // error is returned. Schedules restart from now; watchers keep the heads they have seen.
  Status Load(const std::string& stack_file);
  void Start();  // the trigger thread
  void Stop();   // cancels running runs, waits for them

  // Starts a run on its own thread and returns its id once recorded.
  StatusOr<int64_t> StartRun(const std::string& pipeline, const std::string& trigger,
                             const std::string& detail, const std::string& commit,
                             const std::string& branch);
  Status Cancel(int64_t run_id);  // kNotFound when the run is not running here

  struct WebhookAnswer {
    int http_status = 200;
    nlohmann::json body;
  };
  WebhookAnswer HandleWebhook(const std::string& pipeline,
                              const std::map<std::string, std::string>& headers,
                              const std::string& body);

  // [{"name","triggers":[{"kind","cron","next_at"...}],"jobs":N,"running":[ids]}]
  nlohmann::json PipelinesJson();
  bool Running(int64_t run_id);

 private:
  struct Schedule {
    std::string pipeline;
    pipeline::CronSchedule cron;
    int64_t next_ms = 0;
  };
  struct Watch {
    std::string pipeline;
    std::unique_ptr<pipeline::GitWatcher> watcher;
    std::vector<std::string> branches;  // empty: the repository's current branch
    Duration poll{30000};
    MonoTime next{};
  };
  struct RunHandle {
    std::thread thread;
    std::shared_ptr<pipeline::CancelToken> cancel;
    std::atomic<bool> done{false};
  };

  void Loop();
  void CheckTriggers();
  void ReapFinished();  // joins threads of finished runs; mu_ held
  std::string SourceFor(const pipeline::Pipeline& p) const;  // mu_ held

  PipelineServiceOptions opt_;
  std::unique_ptr<pipeline::Cache> cache_;
  std::mutex watch_mu_;  // held while watchers poll; taken before mu_
  std::mutex mu_;
  std::condition_variable cv_;
  std::string stack_dir_;
  std::map<std::string, std::shared_ptr<const pipeline::Pipeline>> pipelines_;  // by name
  std::vector<Schedule> schedules_;
  std::map<std::string, Watch> watches_;  // by pipeline + repository
  std::map<int64_t, std::shared_ptr<RunHandle>> runs_;  // running, or done but not joined
  bool stopping_ = false;
  std::thread loop_;

  metrics::Family<metrics::Counter>* runs_total_ = nullptr;
  metrics::Family<metrics::Histogram>* run_seconds_ = nullptr;
  metrics::Family<metrics::Counter>* triggers_total_ = nullptr;
};

}  // namespace steward::server
