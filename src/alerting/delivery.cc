#include "alerting/delivery.h"

#include <algorithm>
#include <condition_variable>
#include <deque>
#include <map>
#include <mutex>
#include <optional>
#include <random>
#include <set>
#include <thread>
#include <tuple>
#include <unordered_map>

namespace steward::alerting {
namespace {

using Mono = std::chrono::steady_clock;
using std::chrono::milliseconds;

constexpr std::string_view kIntegrations[] = {"alertmanager", "pagerduty", "slack", "webhook"};

int64_t WallMs() {
  return std::chrono::duration_cast<milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

// (receiver, integration, index): the identity of one configured integration.
using IntegrationKey = std::tuple<std::string, std::string, int>;

IntegrationKey KeyOf(const IntegrationReceiver& r) {
  return {r.name(), r.integration(), r.index()};
}

struct Job {
  std::shared_ptr<IntegrationReceiver> target;
  std::string key;  // integration key and group key
  Notification n;
  std::optional<Notification> newer;  // arrived while n was being sent
  Mono::time_point first_at;          // of the current notification's first attempt
  Mono::time_point next_at;
  int attempts = 0;
  bool in_flight = false;
};

struct Metrics {
  metrics::Family<metrics::Counter>* total;
  metrics::Family<metrics::Counter>* failed;
  metrics::Family<metrics::Counter>* requests;
  metrics::Family<metrics::Counter>* requests_failed;
  metrics::Family<metrics::Counter>* dropped;
  metrics::Family<metrics::Histogram>* latency;
  metrics::Gauge* queue_length;
};

}  // namespace

milliseconds BackoffDelay(int attempt, const DeliveryOptions& o, double random01) {
  double base = static_cast<double>(std::max<int64_t>(o.retry_initial.count(), 1));
  double cap = static_cast<double>(std::max(o.retry_max, o.retry_initial).count());
  for (int i = 1; i < attempt && base < cap; ++i) base *= 2;
  base = std::min(base, cap);
  double factor = 1.0 + o.jitter * (2.0 * random01 - 1.0);
  return milliseconds(static_cast<int64_t>(std::min(base * factor, cap)));
}

DeliveryOptions DeliveryOptions::FromConfig(const config::Alerting& a) {
  DeliveryOptions o;
  o.retry_initial = a.retry_initial;
  o.retry_max = a.retry_max;
  o.give_up_after = a.give_up_after;
  return o;
}

struct DeliveryQueue::State {
  DeliveryOptions options;
  std::unique_ptr<metrics::Registry> own_registry;
  Metrics m{};

  mutable std::mutex mu;
  std::condition_variable cv;       // jobs ready, or stopping
  std::condition_variable idle_cv;  // a send finished
  bool stopping = false;
  bool abandoned = false;  // Stop() returned: the metrics may be gone
  size_t in_flight = 0;
  uint64_t next_id = 0;
  std::map<std::string, std::vector<std::shared_ptr<IntegrationReceiver>>> receivers;
  std::map<uint64_t, Job> jobs;  // by id: oldest first
  std::unordered_map<std::string, uint64_t> by_key;
  std::set<std::pair<Mono::time_point, uint64_t>> ready;  // jobs not in flight, by next_at
  std::map<IntegrationKey, IntegrationStatus> status;
  std::deque<FailedDelivery> failures;
  std::mt19937_64 rng{std::random_device{}()};

  void Worker(const std::shared_ptr<State>& self);
  void Finish(uint64_t id, const Status& st, double seconds);
  void FailJob(Job& job, std::string reason, const std::string& error);
  // Moves on to the job's newer notification, or removes it.
  void NextOrErase(uint64_t id, Job& job);
  void Erase(uint64_t id);
  void DropOldest();
  IntegrationStatus& StatusOf(const IntegrationReceiver& r);
  void UpdateQueueGauge() {
    if (!abandoned) m.queue_length->Set(static_cast<double>(jobs.size()));
  }
};

IntegrationStatus& DeliveryQueue::State::StatusOf(const IntegrationReceiver& r) {
  auto [it, inserted] = status.try_emplace(KeyOf(r));
  if (inserted) {
    it->second.receiver = r.name();
    it->second.integration = r.integration();
    it->second.index = r.index();
  }
  return it->second;
}

void DeliveryQueue::State::Erase(uint64_t id) {
  auto it = jobs.find(id);
  if (it == jobs.end()) return;
  --StatusOf(*it->second.target).pending;
  by_key.erase(it->second.key);
  if (!it->second.in_flight) ready.erase({it->second.next_at, id});
  jobs.erase(it);
  UpdateQueueGauge();
}

void DeliveryQueue::State::FailJob(Job& job, std::string reason, const std::string& error) {
  const std::string& integ = job.target->integration();
  if (!abandoned) {
    if (reason == "dropped") {
      m.dropped->WithLabels({integ}).Inc();
    } else {
      m.total->WithLabels({integ}).Inc();
      m.failed->WithLabels({integ, reason}).Inc();
    }
  }
  ++StatusOf(*job.target).failed;
  FailedDelivery f;
  f.receiver = job.target->name();
  f.integration = integ;
  f.index = job.target->index();
  f.group_key = job.n.group_key;
  f.num_alerts = job.n.alerts.size();
  f.attempts = job.attempts;
  f.reason = std::move(reason);
  f.error = error;
  f.failed_at_ms = WallMs();
  failures.push_back(std::move(f));
  while (failures.size() > options.max_recent_failures) failures.pop_front();
}

void DeliveryQueue::State::NextOrErase(uint64_t id, Job& job) {
  if (!job.newer || stopping) {
    Erase(id);
    return;
  }
  job.n = std::move(*job.newer);
  job.newer.reset();
  job.attempts = 0;
  job.first_at = job.next_at = Mono::now();
  ready.insert({job.next_at, id});
  cv.notify_one();
}

void DeliveryQueue::State::Finish(uint64_t id, const Status& st, double seconds) {
  Job& job = jobs.at(id);
  job.in_flight = false;
  ++job.attempts;
  const std::string& integ = job.target->integration();
  IntegrationStatus& s = StatusOf(*job.target);
  ++s.attempts;
  s.last_attempt_ms = WallMs();
  if (!abandoned) {
    m.requests->WithLabels({integ}).Inc();
    m.latency->WithLabels({integ}).Observe(seconds);
    if (!st.ok()) m.requests_failed->WithLabels({integ}).Inc();
  }
  if (st.ok()) {
    s.last_success_ms = s.last_attempt_ms;
    s.last_error.clear();
    ++s.delivered;
    if (!abandoned) m.total->WithLabels({integ}).Inc();
    NextOrErase(id, job);
    return;
  }
  s.last_error = st.message();
  Mono::time_point now = Mono::now();
  Mono::time_point give_up_at = job.first_at + options.give_up_after;
  if (st.code() != StatusCode::kUnavailable || now >= give_up_at || stopping) {
    FailJob(job, std::string(FailureReason(st)), st.message());
    NextOrErase(id, job);
    return;
  }
  if (job.newer) {  // retry with the group's newest state
    job.n = std::move(*job.newer);
    job.newer.reset();
  }
  double r = std::uniform_real_distribution<double>(0, 1)(rng);
  job.next_at = std::min(now + BackoffDelay(job.attempts, options, r), give_up_at);
  ready.insert({job.next_at, id});
  cv.notify_one();
}

void DeliveryQueue::State::DropOldest() {
  for (auto& [id, job] : jobs) {
    if (job.in_flight) continue;
    FailJob(job, "dropped",
            "dropped: the delivery queue is full (" + std::to_string(options.max_pending) +
                " notifications)");
    Erase(id);
    return;
  }
}

void DeliveryQueue::State::Worker(const std::shared_ptr<State>& self) {
  (void)self;  // keeps the state alive while this thread runs
  std::unique_lock<std::mutex> l(mu);
  for (;;) {
    if (stopping) return;
    if (ready.empty()) {
      cv.wait(l);
      continue;
    }
    auto [when, id] = *ready.begin();
    if (when > Mono::now()) {
      cv.wait_until(l, when);
      continue;
    }
    ready.erase(ready.begin());
    Job& job = jobs.at(id);
    job.in_flight = true;
    ++in_flight;
    std::shared_ptr<IntegrationReceiver> target = job.target;
    Notification n = job.n;
    l.unlock();
    Mono::time_point start = Mono::now();
    Status st = target->Send(n, start + options.attempt_timeout);
    double seconds = std::chrono::duration<double>(Mono::now() - start).count();
    l.lock();
    --in_flight;
    Finish(id, st, seconds);
    idle_cv.notify_all();
  }
}

DeliveryQueue::DeliveryQueue(DeliveryOptions options, metrics::Registry* registry)
    : state_(std::make_shared<State>()) {
  State& s = *state_;
  s.options = std::move(options);
  if (!registry) {
    s.own_registry = std::make_unique<metrics::Registry>();
    registry = s.own_registry.get();
  }
  s.m.total =
      &registry->AddCounter("steward_notifications_total",
                            "The total number of attempted notifications.", {"integration"});
  s.m.failed =
      &registry->AddCounter("steward_notifications_failed_total",
                            "The total number of failed notifications.", {"integration", "reason"});
  s.m.requests = &registry->AddCounter("steward_notification_requests_total",
                                       "The total number of attempted notification requests.",
                                       {"integration"});
  s.m.requests_failed =
      &registry->AddCounter("steward_notification_requests_failed_total",
                            "The total number of failed notification requests.", {"integration"});
  s.m.dropped = &registry->AddCounter(
      "steward_notifications_dropped_total",
      "Notifications dropped undelivered because the delivery queue was full.", {"integration"});
  s.m.latency = &registry->AddHistogram("steward_notification_latency_seconds",
                                        "The latency of notification requests.", {"integration"},
                                        {1, 5, 10, 15, 20});
  s.m.queue_length = &registry
                          ->AddGauge("steward_notification_queue_length",
                                     "Notifications waiting for delivery or being sent.")
                          .WithLabels({});
  for (std::string_view i : kIntegrations) {  // rate() over a series that exists from the start
    s.m.total->WithLabels({std::string(i)});
    s.m.requests->WithLabels({std::string(i)});
    s.m.requests_failed->WithLabels({std::string(i)});
  }
  for (int i = 0; i < std::max(1, s.options.workers); ++i) {
    std::shared_ptr<State> self = state_;
    std::thread([self] { self->Worker(self); }).detach();
  }
}

DeliveryQueue::~DeliveryQueue() { Stop(); }

void DeliveryQueue::SetReceivers(std::vector<std::unique_ptr<IntegrationReceiver>> receivers) {
  std::lock_guard<std::mutex> l(state_->mu);
  state_->receivers.clear();
  for (auto& r : receivers) {
    std::shared_ptr<IntegrationReceiver> shared = std::move(r);
    state_->StatusOf(*shared);
    state_->receivers[shared->name()].push_back(std::move(shared));
  }
}

Status DeliveryQueue::Enqueue(Notification n) {
  State& s = *state_;
  std::lock_guard<std::mutex> l(s.mu);
  if (s.stopping) return FailedPrecondition("notification delivery is stopped");
  auto it = s.receivers.find(n.receiver);
  if (it == s.receivers.end()) return NotFound("no receiver named \"" + n.receiver + "\"");
  for (const auto& target : it->second) {
    std::string key = target->name() + '\0' + target->integration() + '\0' +
                      std::to_string(target->index()) + '\0' + n.group_key;
    if (auto k = s.by_key.find(key); k != s.by_key.end()) {
      Job& job = s.jobs.at(k->second);
      (job.in_flight ? job.newer.emplace() : job.n) = n;
      continue;
    }
    if (s.jobs.size() >= s.options.max_pending) s.DropOldest();
    uint64_t id = s.next_id++;
    Job& job = s.jobs[id];
    job.target = target;
    job.key = key;
    job.n = n;
    job.first_at = job.next_at = Mono::now();
    s.by_key[key] = id;
    s.ready.insert({job.next_at, id});
    ++s.StatusOf(*target).pending;
  }
  s.UpdateQueueGauge();
  s.cv.notify_all();
  return Status::OK();
}

void DeliveryQueue::Stop() {
  State& s = *state_;
  std::unique_lock<std::mutex> l(s.mu);
  if (s.abandoned) return;
  s.stopping = true;
  s.cv.notify_all();
  s.idle_cv.wait_for(l, s.options.stop_grace, [&s] { return s.in_flight == 0; });
  std::vector<uint64_t> left;
  for (const auto& [id, job] : s.jobs) {
    if (!job.in_flight) left.push_back(id);
  }
  for (uint64_t id : left) s.Erase(id);
  s.abandoned = true;  // a send still running finishes without touching the metrics
}

std::vector<IntegrationStatus> DeliveryQueue::Statuses() const {
  std::lock_guard<std::mutex> l(state_->mu);
  std::set<IntegrationKey> configured;
  for (const auto& [name, list] : state_->receivers) {
    for (const auto& r : list) configured.insert(KeyOf(*r));
  }
  std::vector<IntegrationStatus> out;
  for (const auto& [key, s] : state_->status) {
    if (configured.count(key) || s.pending > 0) out.push_back(s);
  }
  return out;
}

std::vector<FailedDelivery> DeliveryQueue::RecentFailures() const {
  std::lock_guard<std::mutex> l(state_->mu);
  return {state_->failures.begin(), state_->failures.end()};
}

size_t DeliveryQueue::Pending() const {
  std::lock_guard<std::mutex> l(state_->mu);
  return state_->jobs.size();
}

}  // namespace steward::alerting
