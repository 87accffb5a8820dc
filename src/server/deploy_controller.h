// DeployController: puts new releases of a service live inside the daemon (`steward deploy`,
// a pipeline's deploy step, POST /api/v1/deploys) and keeps the ingress (HAProxy) in step with
// the replicas that run.
//
// A release is the service's spec as last applied, with the deploy's env added and
// STEWARD_RELEASE=<label>; it is recorded (ReleaseRecord) and its replicas run as the next
// runtime generation on the service's spare ports (or free ones). Strategies:
//   rolling     replace replicas a batch at a time (max_surge new ones up before old ones go,
//               max_unavailable old ones may go first); each new one enters the ingress before
//               the old one is drained from it.
//   blue-green  start the new release fully at weight 0, keep it healthy for `verify`, move all
//               traffic, drain and stop the old.
//   canary      start the new release, then for each step give it `weight`% of the requests and
//               analyse it every analysis.interval during the pause: its error rate at the
//               ingress, PromQL checks (with monitoring), its replicas' health. failure_limit
//               failed analyses roll it back: its weight goes to 0, its replicas are drained and
//               stopped, the deploy is "failed" and the old release never stopped serving.
// A successful deploy records the new spec and generation (as an apply would), marks the
// release "live" and keeps the last keep_releases releases. While a deploy runs (or stands
// frozen) the daemon's planner leaves the service alone (Daemon::Plan drops its change), so
// the reconcile loop does not take the second generation for drift.
//
// The live release's env overrides are kept in the state document "releases.<service>"; the
// planner adds them to the stack's spec of the service (OverlayReleases), so applying an
// unchanged stack keeps the live release, and a changed stack replaces it with the stack's spec
// plus those overrides.
//
// Restart: deploys found "running" are marked "interrupted" (their release "failed"); the
// daemon restores the recorded (last live) release as for any restart.
// Thread safety: every public method is thread-safe; one thread per running deploy, one ingress
// sync thread.
#pragma once

#include <atomic>
#include <condition_variable>
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include <nlohmann/json.hpp>

#include "base/status.h"
#include "config/stack.h"
#include "state/state_store.h"

namespace steward::ingress {
class Haproxy;
}
namespace httplib {
class Server;
}

namespace steward::server {

class Daemon;

// What POST /api/v1/deploys asks for.
struct DeployAsk {
  std::string service;
  std::string version;                     // the release's label; "" = r<N>
  std::string strategy;                    // "" = the service's deploy.strategy
  std::map<std::string, std::string> env;  // added to the release's environment
  std::string trigger = "api";
  int64_t run_id = 0;
  std::string commit;
  int64_t commit_time_ms = 0;
};

class DeployController {
 public:
  explicit DeployController(Daemon* daemon);
  ~DeployController();

  // Marks deploys left "running" by a previous daemon "interrupted" and starts the ingress
  // sync loop (which starts HAProxy once a service has an ingress).
  Status Start();
  // Ends running deploys where they are ("interrupted"), stops the sync loop and, when
  // stop_ingress, HAProxy.
  void Stop(bool stop_ingress);

  // Starts a deploy: kNotFound for a service not in the last applied stack, kFailedPrecondition
  // when one of its deploys is running, kInvalidArgument for a bad strategy or a canary without
  // an ingress. The record returned is "running".
  StatusOr<state::DeployRecord> Deploy(const DeployAsk& ask);
  // With a deploy of the service running: freeze it where it is, or roll it back (its record is
  // returned; *started = false). Otherwise puts release `to` (0: the one before the live one)
  // live without analysis, as a new deploy (*started = true).
  StatusOr<state::DeployRecord> Rollback(const std::string& service, int64_t to, bool freeze,
                                         bool* started);
  StatusOr<state::DeployRecord> Get(int64_t id);
  StatusOr<std::vector<state::DeployRecord>> List(const std::string& service, int limit);
  // {service, live, releases: [...]} newest first.
  StatusOr<nlohmann::json> Releases(const std::string& service);

  // True while a deploy of the service runs or stands frozen: the planner leaves it alone.
  bool Busy(const std::string& service) const;
  // Adds the live releases' env overrides to the stack's services.
  void OverlayReleases(config::Stack* stack);
  // Brings the ingress up to date with what runs (frontends, ready replicas in slots) now.
  void SyncIngress();

 private:
  struct Active;  // deploy_internal.h
  class Run;      // deploy_run.cc: one deploy's work
  void RunDeploy(Active* a);

  void Finish(Active* a);
  void AddEvent(Active* a, const std::string& text);
  Status SaveRecord(Active* a);
  StatusOr<nlohmann::json> ReleasesDoc(const std::string& service);
  Status PutReleasesDoc(const std::string& service, const nlohmann::json& doc);

  // Ingress (deploy_ingress.cc). Slots are 1-based: generation parity picks the half.
  bool IngressUp();
  Status EnsureIngress(const std::vector<config::Service>& services);
  Status SetSlot(const std::string& service, int slot, int port, int weight);
  Status SetSlotWeight(const std::string& service, int slot, int weight);
  Status DrainSlot(const std::string& service, int slot);
  StatusOr<std::map<int, std::pair<int64_t, int64_t>>> SlotCounters(const std::string& service);
  void ForgetSlots(const std::string& service);
  void SyncLoop();

  Daemon* daemon_;
  mutable std::mutex mu_;
  std::map<std::string, std::shared_ptr<Active>> active_;  // by service, running deploys
  std::set<std::string> frozen_;                           // services left mid-deploy
  std::map<std::string, std::shared_ptr<Active>> frozen_deploys_;
  std::vector<std::thread> threads_;
  bool stopping_ = false;

  std::mutex ingress_mu_;  // HAProxy and the slot cache
  std::unique_ptr<ingress::Haproxy> haproxy_;
  std::string frontends_key_;  // what the running config was rendered from
  // service -> slot -> (port, weight) as last set; a slot absent is parked.
  std::map<std::string, std::map<int, std::pair<int, int>>> slots_;
  Status ingress_error_;
  std::thread sync_thread_;
  std::condition_variable sync_cv_;
  std::mutex sync_mu_;
  bool sync_stop_ = false;
};

// Ingress slot of a replica: odd generations use slots 1..R, even ones R+1..2R, so two
// releases are never in the same slot.
int IngressSlot(int replicas, int64_t generation, int replica_slot);
// HAProxy weights for `percent` of the requests spread over `servers` servers.
int SplitWeight(int percent, int servers);
// JSON of a deploy record for the API; events only when asked.
nlohmann::json DeployJson(const state::DeployRecord& d, bool with_events);
// deploy_api.cc: /api/v1/deploys and /api/v1/services/{svc}/{rollback,releases}.
void InstallDeployRoutes(httplib::Server& svr, DeployController* deploys);

// The service's deploy.analysis.checks parse as PromQL (with $service, $release and
// $canary_instances standing for values); the first that does not is an error naming its
// file:line:col. `steward validate`/`plan`/`apply` and every deploy call it.
Status CheckAnalysisQueries(const config::Service& service);

}  // namespace steward::server
