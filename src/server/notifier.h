// The daemon's notifier: Steward's embedded Alertmanager. Alerts from the rule evaluator and from
// POST /api/v2/alerts go into the dispatcher (routes, grouping, silences, inhibition, time
// intervals); the notifications it flushes go to the delivery queue, whose workers send them to
// the receivers' integrations with retries. Silences are kept in <state>/silences.json.
//
// Contract:
// - Without an `alerting:` section every alert is still stored, grouped and listed (GET
//   /api/v2/alerts), routed to a receiver "default" with no integrations: nothing is sent.
// - Reload() swaps the routes and receivers; a configuration that does not compile is refused
//   with the reason and the old one keeps running.
// - Put() never blocks on the network; flushes happen on the notifier's own thread, at the
//   dispatcher's next deadline.
// - observer (optional) hears each notification delivery accepted (queued for at least one
//   integration), so incidents can record "notified".
// Thread safety: all public methods are thread-safe.
#pragma once

#include <condition_variable>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include <nlohmann/json.hpp>

#include "alerting/delivery.h"
#include "alerting/dispatcher.h"
#include "alerting/silences.h"
#include "base/clock.h"
#include "config/alerting.h"
#include "metrics/registry.h"

namespace steward::server {

struct NotifierOptions {
  std::string state_dir;                  // silences.json lives here
  metrics::Registry* metrics = nullptr;
  Clock* clock = nullptr;                 // default: the real clock
  std::string external_url;
};

class Notifier {
 public:
  using Observer = std::function<void(const alerting::Notification&)>;

  explicit Notifier(NotifierOptions options);
  ~Notifier();

  Status Start(const config::Alerting& cfg, Observer observer);
  Status Reload(const config::Alerting& cfg);
  void Stop();

  void Put(std::vector<alerting::Alert> alerts);
  alerting::Silences* silences() { return silences_.get(); }
  std::vector<alerting::AlertStatus> Alerts();
  // Per-integration delivery status and recent failures, for GET /api/v1/notifications.
  nlohmann::json DeliveryJson() const;
  int64_t NowMs() const { return ToUnixMillis(clock_->WallNow()); }

 private:
  void Loop();
  static config::Alerting Effective(const config::Alerting& cfg);

  NotifierOptions opt_;
  Clock* clock_;
  Observer observer_;
  std::unique_ptr<alerting::Silences> silences_;
  std::unique_ptr<alerting::DeliveryQueue> delivery_;
  std::unique_ptr<alerting::Dispatcher> dispatcher_;
  std::mutex mu_;
  std::condition_variable cv_;
  bool stop_ = false;
  bool poke_ = false;
  std::thread thread_;
};

}  // namespace steward::server
