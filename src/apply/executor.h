// Executor: carries a Plan out against the Runtime and records every step in the state store.
//
// Changes run in dependency order; changes that do not depend on each other run in parallel
// (up to `parallelism`). When a change fails, the changes that depend on it are skipped, the
// others go on. Recording order makes a kill -9 at any point recoverable: the service record
// is written before its replicas start (so the next plan sees missing replicas as drift), a
// replica row right after its process starts, and a replica row removed only after its
// process is gone. A rolling update that cannot get a new replica ready rolls back: the new
// generation is stopped, the old record restored, and the old replicas keep serving.
// Thread safety: Execute may be called from one thread at a time (the caller holds the lock).
#pragma once

#include <functional>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "base/clock.h"
#include "plan/plan.h"
#include "runtime/runtime.h"
#include "state/state_store.h"

namespace steward::apply {

// One line of progress: "service.web: replica 1 ready (pid 4242, port 18081) in 180ms".
using ProgressFn = std::function<void(const std::string& resource, const std::string& message)>;

enum class Outcome { kDone, kFailed, kSkipped };

struct ResourceResult {
  std::string resource;
  plan::Action action = plan::Action::kUpdate;
  Outcome outcome = Outcome::kDone;
  std::vector<std::string> done;  // what was actually done, in order
  std::string error;
  Duration took{0};
};

struct ApplyReport {
  std::vector<ResourceResult> results;
  Duration took{0};
  bool ok() const;
  nlohmann::json ToJson() const;
  static ApplyReport FromJson(const nlohmann::json& j);
  std::string ToText() const;  // the summary people read after the progress lines
};

struct ExecutorOptions {
  int parallelism = 4;
  Duration ready_timeout = Duration(60000);  // per replica, on top of the health start period
};

class Executor {
 public:
  Executor(state::StateStore* store, runtime::Runtime* runtime, Clock* clock,
           ExecutorOptions options);
  ApplyReport Execute(const plan::Plan& plan, const ProgressFn& progress);

 private:
  ResourceResult Run(const plan::Change& change, const ProgressFn& progress);
  Status CreateOrUpdate(const plan::Change& c, ResourceResult& r, const ProgressFn& progress);
  Status Replace(const plan::Change& c, ResourceResult& r, const ProgressFn& progress);
  Status Destroy(const plan::Change& c, ResourceResult& r, const ProgressFn& progress);
  Status StartAndRecord(const config::Service& s, const plan::ReplicaStart& st,
                        ResourceResult& r, const ProgressFn& progress);
  Status StartMany(const config::Service& s, const std::vector<plan::ReplicaStart>& starts,
                   ResourceResult& r, const ProgressFn& progress);
  Status StopAndForget(const std::string& service, const plan::ReplicaStop& st,
                       ResourceResult& r, const ProgressFn& progress);
  void RollBack(const plan::Change& c, int failed_slot,
                const std::optional<state::ServiceRecord>& old, ResourceResult& r,
                const ProgressFn& progress);
  Status RecordService(const config::Service& s, int64_t generation);

  state::StateStore* store_;
  runtime::Runtime* runtime_;
  Clock* clock_;
  ExecutorOptions opt_;
};

// A free TCP port on 127.0.0.1 from the OS, for replicas of services without declared ports.
StatusOr<int> PickFreePort();

}  // namespace steward::apply
