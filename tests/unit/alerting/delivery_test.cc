// The delivery queue: retries with backoff, gives up visibly, never blocks the caller, keeps the
// newest state of a group, stays bounded, and stops in bounded time.
#include "alerting/delivery.h"

#include <gtest/gtest.h>

#include <condition_variable>
#include <deque>
#include <mutex>

#include "unit/alerting/receiver_recorder.h"

namespace steward::alerting {
namespace {

using namespace std::chrono_literals;
using testing::Eventually;
using testing::Recorder;

DeliveryOptions Fast() {
  DeliveryOptions o;
  o.retry_initial = 20ms;
  o.retry_max = 80ms;
  o.give_up_after = 10s;
  o.attempt_timeout = 5s;
  o.jitter = 0.1;
  o.stop_grace = 2s;
  return o;
}

Notification Note(std::string receiver, std::string group_key, std::string tag = "") {
  Notification n;
  n.receiver = std::move(receiver);
  n.group_key = std::move(group_key);
  n.now_ms = 1700000000000;
  Alert a;
  a.labels = tsdb::Labels::FromUnsorted({{"alertname", "Down"}, {"tag", tag}}).value();
  a.starts_at_ms = 1700000000000 - 60000;
  n.alerts.push_back(a);
  return n;
}

std::vector<std::unique_ptr<IntegrationReceiver>> Webhook(const std::string& name,
                                                          const std::string& url) {
  config::WebhookConfig c;
  c.url = url;
  std::vector<std::unique_ptr<IntegrationReceiver>> v;
  v.push_back(NewWebhookReceiver(name, 0, c));
  return v;
}

// A line of `name{labels} value` from the rendered registry, or "" when absent.
bool HasSample(const metrics::Registry& r, const std::string& sample) {
  std::string text = r.Render();
  return text.find("\n" + sample + "\n") != std::string::npos;
}

// An in-process receiver whose Send records the notification and can be held open.
struct Script {
  std::mutex mu;
  std::condition_variable cv;
  bool hold = false;
  std::deque<Status> results;     // then OK
  std::vector<std::string> seen;  // the tag label of each notification's first alert
  void Release() {
    std::lock_guard<std::mutex> l(mu);
    hold = false;
    cv.notify_all();
  }
  bool WaitSeen(size_t n) {
    std::unique_lock<std::mutex> l(mu);
    return cv.wait_for(l, 10s, [&] { return seen.size() >= n; });
  }
  std::vector<std::string> Seen() {
    std::lock_guard<std::mutex> l(mu);
    return seen;
  }
};

class FakeReceiver : public IntegrationReceiver {
 public:
  FakeReceiver(std::string name, std::shared_ptr<Script> s)
      : IntegrationReceiver(std::move(name), "webhook", 0, true), s_(std::move(s)) {}
  Status Send(const Notification& n, std::chrono::steady_clock::time_point) override {
    std::unique_lock<std::mutex> l(s_->mu);
    s_->seen.emplace_back(n.alerts.at(0).labels.Get("tag"));
    s_->cv.notify_all();
    s_->cv.wait(l, [&] { return !s_->hold; });
    if (s_->results.empty()) return Status::OK();
    Status st = s_->results.front();
    s_->results.pop_front();
    return st;
  }

 private:
  std::shared_ptr<Script> s_;
};

std::vector<std::unique_ptr<IntegrationReceiver>> Fake(const std::string& name,
                                                       std::shared_ptr<Script> s) {
  std::vector<std::unique_ptr<IntegrationReceiver>> v;
  v.push_back(std::make_unique<FakeReceiver>(name, std::move(s)));
  return v;
}

TEST(BackoffDelay, DoublesFromInitialUpToMaxWithinJitter) {
  DeliveryOptions o;
  o.retry_initial = 1000ms;
  o.retry_max = 6000ms;
  o.jitter = 0.2;
  EXPECT_EQ(BackoffDelay(1, o, 0.5), 1000ms);
  EXPECT_EQ(BackoffDelay(2, o, 0.5), 2000ms);
  EXPECT_EQ(BackoffDelay(3, o, 0.5), 4000ms);
  EXPECT_EQ(BackoffDelay(4, o, 0.5), 6000ms);
  EXPECT_EQ(BackoffDelay(40, o, 0.5), 6000ms);
  EXPECT_EQ(BackoffDelay(1, o, 0.0), 800ms);
  EXPECT_EQ(BackoffDelay(2, o, 0.999999), 2399ms);
  EXPECT_LE(BackoffDelay(4, o, 0.999999), 6000ms);  // never past retry_max
}

TEST(DeliveryQueue, RetriesServerErrorsWithBackoffAndDeliversOnce) {
  Recorder rec({500, 500, 200});
  metrics::Registry reg;
  DeliveryQueue q(Fast(), &reg);
  q.SetReceivers(Webhook("ops", rec.url()));
  ASSERT_TRUE(q.Enqueue(Note("ops", "{}:{alertname=\"Down\"}")).ok());
  ASSERT_TRUE(rec.WaitFor(3));
  ASSERT_TRUE(Eventually([&] { return q.Pending() == 0; }));
  auto reqs = rec.requests();
  ASSERT_EQ(reqs.size(), 3u);
  EXPECT_GE(reqs[1].at - reqs[0].at, 18ms);  // 20ms less jitter
  EXPECT_GE(reqs[2].at - reqs[1].at, 36ms);  // doubled
  auto st = q.Statuses();
  ASSERT_EQ(st.size(), 1u);
  EXPECT_EQ(st[0].attempts, 3u);
  EXPECT_EQ(st[0].delivered, 1u);
  EXPECT_EQ(st[0].failed, 0u);
  EXPECT_EQ(st[0].last_error, "");
  EXPECT_GT(st[0].last_success_ms, 0);
  EXPECT_TRUE(HasSample(reg, "steward_notifications_total{integration=\"webhook\"} 1"));
  EXPECT_TRUE(HasSample(reg, "steward_notification_requests_total{integration=\"webhook\"} 3"));
  EXPECT_TRUE(
      HasSample(reg, "steward_notification_requests_failed_total{integration=\"webhook\"} 2"));
  EXPECT_TRUE(
      HasSample(reg, "steward_notification_latency_seconds_count{integration=\"webhook\"} 3"));
  EXPECT_TRUE(HasSample(reg, "steward_notification_queue_length 0"));
  EXPECT_EQ(reg.Render().find("steward_notifications_failed_total{"), std::string::npos);
}

TEST(DeliveryQueue, DownReceiverNeverBlocksEnqueueAndShowsPendingThenFailed) {
  int port;
  {
    Recorder gone;
    port = gone.port();
  }
  metrics::Registry reg;
  DeliveryOptions o = Fast();
  o.give_up_after = 300ms;
  DeliveryQueue q(o, &reg);
  q.SetReceivers(Webhook("ops", "http://127.0.0.1:" + std::to_string(port) + "/hook/TOKEN5"));
  auto start = std::chrono::steady_clock::now();
  for (int i = 0; i < 50; ++i) {
    ASSERT_TRUE(q.Enqueue(Note("ops", "group" + std::to_string(i))).ok());
  }
  EXPECT_LT(std::chrono::steady_clock::now() - start, 500ms);
  EXPECT_EQ(q.Statuses().at(0).pending, 50u);
  ASSERT_TRUE(Eventually([&] { return q.Statuses().at(0).attempts >= 2; }));
  EXPECT_NE(q.Statuses().at(0).last_error.find("webhook: POST http://127.0.0.1:"),
            std::string::npos);
  EXPECT_EQ(q.Statuses().at(0).last_error.find("TOKEN5"), std::string::npos);
  ASSERT_TRUE(Eventually([&] { return q.Pending() == 0; }));
  auto failures = q.RecentFailures();
  ASSERT_EQ(failures.size(), 50u);
  EXPECT_EQ(failures[0].reason, "other");
  EXPECT_EQ(failures[0].receiver, "ops");
  EXPECT_GE(failures[0].attempts, 2);
  EXPECT_EQ(failures[0].error.find("TOKEN5"), std::string::npos);
  EXPECT_EQ(q.Statuses().at(0).failed, 50u);
  EXPECT_TRUE(HasSample(
      reg, "steward_notifications_failed_total{integration=\"webhook\",reason=\"other\"} 50"));
}

TEST(DeliveryQueue, SlowReceiverDoesNotBlockEnqueue) {
  auto s = std::make_shared<Script>();
  s->hold = true;
  DeliveryOptions o = Fast();
  o.workers = 1;
  DeliveryQueue q(o, nullptr);
  q.SetReceivers(Fake("ops", s));
  ASSERT_TRUE(q.Enqueue(Note("ops", "g1", "a")).ok());
  ASSERT_TRUE(s->WaitSeen(1));  // the worker is inside Send now
  auto start = std::chrono::steady_clock::now();
  for (int i = 0; i < 100; ++i) ASSERT_TRUE(q.Enqueue(Note("ops", "g" + std::to_string(i))).ok());
  EXPECT_LT(std::chrono::steady_clock::now() - start, 500ms);
  s->Release();
  ASSERT_TRUE(Eventually([&] { return q.Pending() == 0; }));
}

TEST(DeliveryQueue, ClientErrorIsNotRetried) {
  Recorder rec({400});
  metrics::Registry reg;
  DeliveryQueue q(Fast(), &reg);
  q.SetReceivers(Webhook("ops", rec.url()));
  ASSERT_TRUE(q.Enqueue(Note("ops", "g")).ok());
  ASSERT_TRUE(Eventually([&] { return q.RecentFailures().size() == 1; }));
  EXPECT_EQ(rec.requests().size(), 1u);
  EXPECT_EQ(q.RecentFailures()[0].reason, "clientError");
  EXPECT_EQ(q.RecentFailures()[0].attempts, 1);
  EXPECT_EQ(q.Pending(), 0u);
  EXPECT_TRUE(HasSample(
      reg, "steward_notifications_failed_total{integration=\"webhook\",reason=\"clientError\"} 1"));
  EXPECT_TRUE(HasSample(reg, "steward_notifications_total{integration=\"webhook\"} 1"));
}

TEST(DeliveryQueue, NewerStateReplacesAnUndeliveredOne) {
  auto s = std::make_shared<Script>();
  s->hold = true;
  DeliveryOptions o = Fast();
  o.workers = 1;
  DeliveryQueue q(o, nullptr);
  q.SetReceivers(Fake("ops", s));
  ASSERT_TRUE(q.Enqueue(Note("ops", "g", "v1")).ok());
  ASSERT_TRUE(s->WaitSeen(1));
  // While v1 is being sent, v2 then v3 arrive for the same group: only v3 follows.
  ASSERT_TRUE(q.Enqueue(Note("ops", "g", "v2")).ok());
  ASSERT_TRUE(q.Enqueue(Note("ops", "g", "v3")).ok());
  EXPECT_EQ(q.Pending(), 1u);
  s->Release();
  ASSERT_TRUE(s->WaitSeen(2));
  ASSERT_TRUE(Eventually([&] { return q.Pending() == 0; }));
  EXPECT_EQ(s->Seen(), (std::vector<std::string>{"v1", "v3"}));
  EXPECT_EQ(q.Statuses().at(0).delivered, 2u);
}

TEST(DeliveryQueue, RetryAfterFailureCarriesTheNewestState) {
  auto s = std::make_shared<Script>();
  s->results.push_back(Unavailable("down"));
  s->hold = true;
  DeliveryOptions o = Fast();
  o.workers = 1;
  o.retry_initial = o.retry_max = 200ms;
  DeliveryQueue q(o, nullptr);
  q.SetReceivers(Fake("ops", s));
  ASSERT_TRUE(q.Enqueue(Note("ops", "g", "old")).ok());
  ASSERT_TRUE(s->WaitSeen(1));
  s->Release();  // "old" fails and waits out its backoff
  ASSERT_TRUE(Eventually([&] { return q.Statuses().at(0).attempts == 1; }));
  ASSERT_TRUE(q.Enqueue(Note("ops", "g", "new")).ok());
  ASSERT_TRUE(s->WaitSeen(2));
  ASSERT_TRUE(Eventually([&] { return q.Pending() == 0; }));
  EXPECT_EQ(s->Seen(), (std::vector<std::string>{"old", "new"}));
}

TEST(DeliveryQueue, FullQueueDropsTheOldestWaitingNotification) {
  auto s = std::make_shared<Script>();
  s->hold = true;
  metrics::Registry reg;
  DeliveryOptions o = Fast();
  o.workers = 1;
  o.max_pending = 2;
  DeliveryQueue q(o, &reg);
  q.SetReceivers(Fake("ops", s));
  ASSERT_TRUE(q.Enqueue(Note("ops", "g1", "1")).ok());
  ASSERT_TRUE(s->WaitSeen(1));  // g1 in flight
  ASSERT_TRUE(q.Enqueue(Note("ops", "g2", "2")).ok());
  ASSERT_TRUE(q.Enqueue(Note("ops", "g3", "3")).ok());  // full: g2 goes
  EXPECT_EQ(q.Pending(), 2u);
  auto failures = q.RecentFailures();
  ASSERT_EQ(failures.size(), 1u);
  EXPECT_EQ(failures[0].group_key, "g2");
  EXPECT_EQ(failures[0].reason, "dropped");
  EXPECT_TRUE(HasSample(reg, "steward_notifications_dropped_total{integration=\"webhook\"} 1"));
  s->Release();
  ASSERT_TRUE(s->WaitSeen(2));
  ASSERT_TRUE(Eventually([&] { return q.Pending() == 0; }));
  EXPECT_EQ(s->Seen(), (std::vector<std::string>{"1", "3"}));
}

TEST(DeliveryQueue, StopWaitsOnlyABoundedTimeForAStuckSend) {
  auto s = std::make_shared<Script>();
  s->hold = true;
  DeliveryOptions o = Fast();
  o.stop_grace = 100ms;
  auto q = std::make_unique<DeliveryQueue>(o, nullptr);
  q->SetReceivers(Fake("ops", s));
  ASSERT_TRUE(q->Enqueue(Note("ops", "g")).ok());
  ASSERT_TRUE(s->WaitSeen(1));
  auto start = std::chrono::steady_clock::now();
  q->Stop();
  EXPECT_LT(std::chrono::steady_clock::now() - start, 2s);
  EXPECT_EQ(q->Enqueue(Note("ops", "g2")).code(), StatusCode::kFailedPrecondition);
  q.reset();
  s->Release();  // the detached send finishes against state the queue left behind
}

TEST(DeliveryQueue, StopLetsAnInFlightSendFinish) {
  auto s = std::make_shared<Script>();
  s->hold = true;
  DeliveryQueue q(Fast(), nullptr);
  q.SetReceivers(Fake("ops", s));
  ASSERT_TRUE(q.Enqueue(Note("ops", "g")).ok());
  ASSERT_TRUE(s->WaitSeen(1));
  std::thread releaser([&] {
    std::this_thread::sleep_for(50ms);  // lets Stop() start waiting; not synchronisation
    s->Release();
  });
  q.Stop();
  releaser.join();
  EXPECT_EQ(q.Statuses().at(0).delivered, 1u);
}

TEST(DeliveryQueue, UnknownReceiverIsNotFoundAndEveryIntegrationGetsAJob) {
  Recorder a, b;
  DeliveryQueue q(Fast(), nullptr);
  config::ReceiverConfig rc;
  rc.name = "ops";
  rc.webhook_configs.resize(2);
  rc.webhook_configs[0].url = a.url();
  rc.webhook_configs[1].url = b.url();
  auto built = BuildReceivers(rc);
  ASSERT_TRUE(built.ok());
  q.SetReceivers(std::move(*built));
  EXPECT_EQ(q.Enqueue(Note("nobody", "g")).code(), StatusCode::kNotFound);
  ASSERT_TRUE(q.Enqueue(Note("ops", "g")).ok());
  ASSERT_TRUE(a.WaitFor(1));
  ASSERT_TRUE(b.WaitFor(1));
  ASSERT_TRUE(Eventually([&] { return q.Pending() == 0; }));
  auto st = q.Statuses();
  ASSERT_EQ(st.size(), 2u);
  EXPECT_EQ(st[0].index, 0);
  EXPECT_EQ(st[1].index, 1);
  EXPECT_EQ(st[0].delivered + st[1].delivered, 2u);
}

}  // namespace
}  // namespace steward::alerting
