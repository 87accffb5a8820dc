// DeliveryQueue: carries notifications from the dispatcher to the receivers' integrations on
// its own worker threads, so that a slow or dead receiver never blocks rule evaluation.
//
// Contract:
// - Enqueue() never waits on the network: it files one job per integration of the named
//   receiver and returns. A job is keyed by (receiver, integration, group key); a newer
//   notification for a key whose older one is still undelivered replaces it (the receiver gets
//   the group's newest state, as from Alertmanager), and one arriving while the older is being
//   sent is delivered right after it.
// - Unavailable errors are retried with exponential backoff (retry_initial doubling up to
//   retry_max, each delay scaled by a random factor in [1-jitter, 1+jitter]); a last attempt is
//   made at give_up_after from the first, and a job still failing then is counted as failed and
//   kept in a bounded list of recent failures. Any other error fails the job at once.
// - The queue holds at most max_pending jobs; when full, the oldest job not being sent is
//   dropped (counted in steward_notifications_dropped_total and listed as a failure).
// - Metrics follow Alertmanager's names with the steward_ prefix (see
//   docs/formats/notifications.md); steward_notifications_total counts notifications that
//   reached an outcome (delivered, failed or dropped), not ones replaced by a newer state.
// - Stop() stops taking jobs, waits up to stop_grace for sends in flight and returns; a send
//   still running after that finishes on a detached thread that touches nothing shared with
//   the caller. Jobs still queued are dropped: the queue lives in memory.
// Thread safety: every method is thread-safe. Time: real clocks (the workers wait on condition
// variables); tests use short backoffs.
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "alerting/notification.h"
#include "alerting/receivers.h"
#include "base/status.h"
#include "config/alerting.h"
#include "metrics/registry.h"

namespace steward::alerting {

struct DeliveryOptions {
  std::chrono::milliseconds retry_initial{1000};
  std::chrono::milliseconds retry_max{60000};
  std::chrono::milliseconds give_up_after{3600000};
  // Bounds one attempt (the integration's own timeout may be shorter).
  std::chrono::milliseconds attempt_timeout{30000};
  double jitter = 0.2;
  size_t max_pending = 10000;
  size_t max_recent_failures = 100;
  int workers = 2;
  std::chrono::milliseconds stop_grace{5000};

  // retry_initial, retry_max and give_up_after from the stack's alerting: section.
  static DeliveryOptions FromConfig(const config::Alerting& alerting);
};

// The delay before retry number `attempt` (1 = after the first failure); `random01` in [0, 1).
std::chrono::milliseconds BackoffDelay(int attempt, const DeliveryOptions& options,
                                       double random01);

struct IntegrationStatus {
  std::string receiver;
  std::string integration;  // "webhook", "alertmanager", "slack", "pagerduty"
  int index = 0;
  int64_t last_attempt_ms = 0;  // unix ms; 0: never
  int64_t last_success_ms = 0;
  std::string last_error;  // of the latest attempt; "" when it succeeded; secrets redacted
  uint64_t attempts = 0;   // requests made
  uint64_t delivered = 0;  // notifications delivered
  uint64_t failed = 0;     // notifications given up, refused or dropped
  size_t pending = 0;      // jobs waiting or being sent
};

struct FailedDelivery {
  std::string receiver;
  std::string integration;
  int index = 0;
  std::string group_key;
  size_t num_alerts = 0;
  int attempts = 0;
  std::string reason;  // Alertmanager's reason label, or "dropped"
  std::string error;   // redacted
  int64_t failed_at_ms = 0;
};

class DeliveryQueue {
 public:
  // `registry` may be null (the metrics then go to a private registry); it must outlive the
  // queue.
  DeliveryQueue(DeliveryOptions options, metrics::Registry* registry);
  ~DeliveryQueue();  // Stop()
  DeliveryQueue(const DeliveryQueue&) = delete;
  DeliveryQueue& operator=(const DeliveryQueue&) = delete;

  // Replaces the configured integrations (start-up, config reload). Jobs already filed for a
  // removed receiver still run against the integration they were filed for.
  void SetReceivers(std::vector<std::unique_ptr<IntegrationReceiver>> receivers);

  // NotFound when no integration is configured under n.receiver; FailedPrecondition after
  // Stop(). Never blocks on delivery.
  Status Enqueue(Notification n);

  void Stop();

  // One entry per configured integration (and per removed one with jobs left), sorted by
  // receiver, integration, index.
  std::vector<IntegrationStatus> Statuses() const;
  // Newest last, at most max_recent_failures.
  std::vector<FailedDelivery> RecentFailures() const;
  // Jobs waiting or in flight.
  size_t Pending() const;

 private:
  struct State;
  std::shared_ptr<State> state_;  // shared with the workers, which may outlive Stop()
};

}  // namespace steward::alerting
