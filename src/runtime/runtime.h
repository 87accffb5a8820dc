// Runtime: the live replicas of one project inside the daemon. It starts replicas through a
// Driver, supervises them (restart with backoff, crash-loop detection, health checks that gate
// readiness and restart unhealthy replicas, memory limits), rotates their logs and exports
// metrics. The apply executor asks it to start, wait for and stop replicas; the daemon drives
// Tick() from one loop thread; health checks run on a small worker pool.
//
// The Runtime owns the processes it started (they are its children, and it reaps them). A
// replica it did not start (left by a previous daemon) can still be stopped through the driver.
// Thread safety: every public method is thread-safe.
#pragma once

#include <atomic>
#include <condition_variable>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "base/clock.h"
#include "base/status.h"
#include "config/stack.h"
#include "drivers/driver.h"
#include "metrics/registry.h"
#include "secrets/resolver.h"
#include "supervisor/replica_supervisor.h"

namespace steward::runtime {

struct ReplicaKey {
  std::string service;
  int slot = 0;
  int64_t generation = 0;
  auto operator<=>(const ReplicaKey&) const = default;
  std::string ToString() const;  // "web/1" (generation shown only when asked for)
};

struct ReplicaStatus {
  ReplicaKey key;
  int pid = 0;              // 0 while waiting to restart
  int port = 0;
  std::string state;        // starting, ready, unhealthy, backoff, crash-loop, stopped, failed
  bool ready = false;
  int restarts = 0;
  std::string last_reason;  // why it last exited or was restarted
  std::string health;       // last health-check detail
  int64_t started_at_ms = 0;
  int64_t rss_bytes = 0;
};

struct RuntimeOptions {
  drivers::Driver* driver = nullptr;
  Clock* clock = nullptr;
  metrics::Registry* metrics = nullptr;       // may be null
  std::string log_root;                       // <state dir>/logs; replica logs in <service>/<slot>
  std::map<std::string, std::string> base_env;  // PATH, HOME, LANG... passed to every replica
  int64_t log_max_bytes = 10 << 20;
  int log_keep = 3;
  int health_workers = 4;
  Duration tick = Duration(100);
  // Resolves ${secret:NAME} in env values and secret_files at each start (runtime/secret_env.h);
  // null: a service that uses a secret fails to start, saying so. Not owned.
  secrets::SecretResolver* secrets = nullptr;
  // The values to mask out of replica output the runtime quotes (a failed start's stderr);
  // null: nothing is masked.
  std::function<std::vector<std::string>()> masking_values;
  // Secret files under this directory are removed when their service's last replica stops.
  std::string state_dir;
  // Called (outside the runtime's lock) whenever a replica's process (re)starts, so the caller
  // can record its pid in the state store.
  std::function<void(const ReplicaKey&, const drivers::ReplicaHandle&, int port)> on_started;
};

class Runtime {
 public:
  explicit Runtime(RuntimeOptions options);
  ~Runtime();  // stops the loop and workers; replicas keep running (see StopAll)

  void StartLoop();
  void StopLoop();

  // Starts a replica and puts it under supervision. The port is fixed for its life.
  Status StartReplica(const config::Service& service, int slot, int64_t generation, int port);
  // Waits until the replica is ready. Fails if it exits, crash-loops or the timeout passes;
  // the error names the cause and quotes the last lines of its stderr log.
  Status WaitReady(const ReplicaKey& key, Duration timeout);
  // Stops supervising and stops the process gracefully (stop_signal, grace, SIGKILL).
  // `fallback` is used for a replica this runtime does not manage (e.g. an orphan).
  Status StopReplica(const ReplicaKey& key, const drivers::ReplicaHandle& fallback = {});
  // New health/restart/stop settings for the service's managed replicas.
  void UpdateService(const config::Service& service);
  // Stops every managed replica, dependents first is the caller's business: this stops all
  // in parallel.
  Status StopAll();

  std::vector<ReplicaStatus> Snapshot() const;
  // What runs, as the planner should see it: processes the driver observes plus managed
  // replicas waiting to restart (pid 0), so drift repair does not double-start them.
  StatusOr<std::vector<drivers::ObservedReplica>> Observe();

  void Tick();  // one supervision step; public for tests

  std::string LogDir(const std::string& service, int slot) const;

 private:
  struct Managed;
  struct HealthJob {
    ReplicaKey key;
    config::HealthCheck check;
    int port;
    std::map<std::string, std::string> env;
    int pid;
  };

  // A process started by the supervisor after the first, for on_started.
  struct Restarted {
    ReplicaKey key;
    drivers::ReplicaHandle handle;
    int port;
  };

  Status SpawnLocked(Managed& m);
  void Loop();
  void HealthWorker();
  drivers::ReplicaSpec SpecFor(const Managed& m) const;
  StatusOr<drivers::ReplicaSpec> StartSpecFor(const Managed& m) const;

  RuntimeOptions opt_;
  mutable std::mutex mu_;
  std::map<ReplicaKey, std::unique_ptr<Managed>> replicas_;
  std::condition_variable cv_;
  std::deque<HealthJob> health_queue_;
  std::vector<Restarted> restarted_;  // guarded by mu_: drained by Tick() outside the lock
  std::vector<std::thread> workers_;
  std::thread loop_;
  bool stopping_ = false;   // guarded by mu_: workers exit
  bool stop_loop_ = false;  // guarded by mu_: the loop exits
  bool wake_ = false;       // guarded by mu_: tick now (a start is waiting)
  MonoTime next_rotate_{};  // loop thread only
  MonoTime next_sample_{};  // loop thread only

  metrics::Family<metrics::Counter>* restarts_ = nullptr;
  metrics::Family<metrics::Gauge>* ready_ = nullptr;
  metrics::Family<metrics::Counter>* health_checks_ = nullptr;
};

}  // namespace steward::runtime
