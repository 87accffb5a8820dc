// Private to the deploy controller's files: a deploy in progress.
#pragma once

#include <condition_variable>
#include <memory>
#include <mutex>
#include <string>

#include "config/stack.h"
#include "server/deploy_controller.h"
#include "state/state_store.h"

namespace steward::server {

struct DeployController::Active {
  enum Request { kNone, kAbort, kFreeze, kStop };

  std::mutex mu;  // rec and request
  std::condition_variable cv;
  state::DeployRecord rec;
  Request request = kNone;

  // Set before the thread starts, then read-only.
  std::string label;                  // the release's label (STEWARD_RELEASE)
  config::DeployStrategy strategy = config::DeployStrategy::kRolling;
  bool is_rollback = false;
  config::Service stable;             // the recorded spec: what serves now
  int64_t stable_gen = 0;
  config::Service release;            // the spec the release runs with
  std::shared_ptr<Active> unfreeze;   // a rollback of a frozen deploy: that deploy

  void Signal(Request r) {
    {
      std::lock_guard<std::mutex> l(mu);
      if (request == kNone || r == kStop) request = r;
    }
    cv.notify_all();
  }
  Request Pending() {
    std::lock_guard<std::mutex> l(mu);
    return request;
  }
  // Sleeps up to d; returns the request that cut it short, kNone after the full wait.
  Request WaitFor(Duration d) {
    std::unique_lock<std::mutex> l(mu);
    cv.wait_for(l, d, [this] { return request != kNone; });
    return request;
  }
};

}  // namespace steward::server
