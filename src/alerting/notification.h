// Notification: what the dispatcher hands to a receiver — one alert group (the alerts of one
// route that share the route's group_by labels) at one flush — and the Receiver interface the
// integrations (webhook, Alertmanager, Slack, PagerDuty) implement.
//
// Contract: alerts holds the group's firing and resolved alerts at the flush, sorted by labels;
// a receiver tells firing from resolved with Alert::ResolvedAt(now_ms). group_key is stable for
// a group (Alertmanager's "{}/{matchers}:{group labels}" form) and is what webhook payloads send
// as groupKey. A Receiver's Send may block up to its deadline; the delivery queue retries
// failures with backoff, so Send itself does not retry.
// Thread safety: Notification is a value; Receiver implementations must be thread-safe.
#pragma once

#include <chrono>
#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "alerting/alert.h"
#include "base/status.h"
#include "tsdb/labels.h"

namespace steward::alerting {

struct Notification {
  std::string receiver;     // the receiver's name
  std::string group_key;
  tsdb::Labels group_labels;
  std::vector<Alert> alerts;
  int64_t now_ms = 0;       // the flush time; decides firing vs resolved
  std::string external_url; // Steward's API URL, for links
};

class Receiver {
 public:
  virtual ~Receiver() = default;
  virtual const std::string& name() const = 0;
  // Delivers one notification. Errors: Unavailable (retry later), InvalidArgument (the
  // payload was refused; retrying will not help).
  virtual Status Send(const Notification& n, std::chrono::steady_clock::time_point deadline) = 0;
};

}  // namespace steward::alerting
