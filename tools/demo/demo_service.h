// DemoService: the behaviour of `steward-demo`, apart from HTTP plumbing, so that drills can be
// tested: what `/` answers given the error rate and latency, what /healthz says, when the
// service hangs, crashes or leaks, and the metrics it exposes.
//
// Contract: handler methods (Root, Health, ...) first wait while the service is hung, and every
// wait or injected delay ends early once Shutdown() is called, so a SIGTERM stops the service
// promptly even mid-drill. Timed misbehaviour (--crash-after, --hang-after, leaks) advances in
// Tick(), driven by a background thread after Start() or by tests with a FakeClock. Exiting the
// process goes through the injected ExitFn so tests can observe it.
// Thread safety: all methods are thread-safe; handlers run concurrently on the server's pool.
#pragma once

#include <atomic>
#include <condition_variable>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "base/clock.h"
#include "demo_settings.h"
#include "metrics/registry.h"

namespace steward::demo {

struct DemoOptions {
  std::string name = "demo";
  std::string replica;             // shown in greetings: STEWARD_INSTANCE, else the pid
  std::string greeting = "hello";  // $GREETING
  Settings initial;
  Duration crash_after{0};                      // 0: never
  Duration hang_after{0};                       // 0: never
  int64_t leak_limit_bytes = int64_t{1} << 30;  // a leak stops growing here, to spare the host
  // Extra series on /metrics (--series): counters and gauges that move with time like a busy
  // service's, for scrape and storage benchmarks.
  int synthetic_series = 0;
};

// The --series body: `count` series, half counters (steady rates, one per series) and half
// gauges (slow waves), their values a function of the seconds since the service started.
std::string SyntheticSeries(int count, double now_seconds);

// A value in [0, 1); injected so tests decide which requests fail.
using RandomFn = std::function<double()>;
// Ends the process with this status; `why` is logged first.
using ExitFn = std::function<void(int status, const std::string& why)>;

class DemoService {
 public:
  struct Reply {
    int status = 200;
    std::string body;
    std::string content_type = "text/plain; charset=utf-8";
    bool exit_after_response = false;  // the admin API asked for a crash
  };

  DemoService(DemoOptions options, Clock* clock, RandomFn random, ExitFn exit);
  ~DemoService();
  DemoService(const DemoService&) = delete;
  DemoService& operator=(const DemoService&) = delete;

  Reply Root();
  Reply Health();
  Reply Metrics();
  Reply State();
  Reply Misbehave(const std::map<std::string, std::string>& fields);

  // What `/` would do now, without waiting: its delay and whether it fails.
  struct Decision {
    Duration delay{0};
    bool fail = false;
  };
  Decision DecideRoot();

  // Counts one finished request in demo_requests_total / demo_request_duration_seconds.
  void RecordRequest(const std::string& path, int status, double seconds);
  // The metric label for a request path: known routes as-is, anything else "other".
  static std::string PathLabel(const std::string& path);

  // Applies timed misbehaviour up to clock->Now(); may call the ExitFn.
  void Tick();
  // Starts a thread calling Tick() every 100ms until Shutdown().
  void Start();
  // Releases hung handlers and injected delays, stops the ticker. Idempotent.
  void Shutdown();
  bool stopping() const { return stopping_.load(); }
  // Sleeps up to d; returns false if Shutdown() cut the wait short.
  bool SleepUnlessStopping(Duration d);

  Settings settings() const;
  int64_t hog_bytes() const;

 private:
  void WaitWhileHung();
  Reply StateReply() const;
  void GrowLeak(MonoTime now);
  static int64_t ResidentBytes();

  const DemoOptions options_;
  Clock* const clock_;
  const RandomFn random_;
  const ExitFn exit_;
  const MonoTime started_;

  mutable std::mutex mu_;
  std::condition_variable cv_;  // signals settings changes and shutdown
  Settings settings_;
  MonoTime last_leak_;
  std::vector<std::unique_ptr<char[]>> hog_;
  int64_t hog_bytes_ = 0;
  bool hang_after_fired_ = false;
  bool crash_after_fired_ = false;
  std::atomic<bool> stopping_{false};
  std::thread ticker_;

  metrics::Registry registry_;
  metrics::Family<metrics::Counter>& requests_;
  metrics::Family<metrics::Histogram>& durations_;
  metrics::Gauge& up_;
  metrics::Gauge& rss_;
  metrics::Gauge& hog_gauge_;
};

}  // namespace steward::demo
