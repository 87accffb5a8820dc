// HttpFetcher: one event-loop thread that drives a libcurl multi handle, so that a single thread
// runs thousands of concurrent HTTP GETs (scrapes) and the timers that schedule them.
//
// Contract:
// - Fetch() issues a GET with the Prometheus scrape headers (Accept for OpenMetrics/text 0.0.4,
//   Accept-Encoding gzip — curl decodes —, X-Prometheus-Scrape-Timeout-Seconds and an optional
//   bearer token). The callback runs exactly once on the loop thread with the result, unless the
//   fetch is cancelled (Cancel/Forget/Stop), in which case it never runs.
// - Only HTTP 200 is a success, as in Prometheus; any other status fails with
//   "server returned HTTP status 500 Internal Server Error". A body larger than
//   Options::max_body_bytes (after decoding) fails with "body size limit exceeded".
// - One easy handle is kept per connection key (a target), so its settings, DNS entry and
//   connection are reused scrape after scrape; the multi handle's connection cache is shared.
// - The bearer token is sent as a header and never appears in errors or logs.
// - Timers (RunAt) and tasks (Post) run on the loop thread, in time order; together with the
//   callbacks they are the only code that runs there, so the state they touch needs no lock.
//
// Thread safety: Fetch, Cancel, Forget, Post and RunAt may be called from any thread (calls from
// other threads are handed to the loop thread). Callbacks must not block.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <thread>

#include "base/clock.h"
#include "base/status.h"

namespace steward::monitor {

inline constexpr char kScrapeAcceptHeader[] =
    "application/openmetrics-text;version=1.0.0,application/openmetrics-text;version=0.0.1;"
    "q=0.75,text/plain;version=0.0.4;q=0.5,*/*;q=0.1";

struct FetchRequest {
  std::string url;
  Duration timeout{10000};
  std::string bearer_token;  // empty: no Authorization header
};

struct FetchResult {
  // OK, or why the fetch failed (DeadlineExceeded for a timeout, Unavailable for network and
  // HTTP errors, FailedPrecondition for a body over the limit).
  Status status;
  long http_status = 0;      // 0 when no response arrived
  std::string content_type;  // of the response
  std::string body;          // decoded; valid during the callback (may be moved out)
  Duration elapsed{0};       // from the start of the transfer to its end
};

struct HttpFetcherOptions {
  Clock* clock = nullptr;               // nullptr: RealClock (timers use Now())
  int64_t max_body_bytes = 64LL << 20;  // larger bodies fail the fetch
  long max_connections_cached = 10000;  // idle keep-alive connections (≤ RLIMIT_NOFILE/2)
  long max_host_connections = 0;        // 0: unlimited concurrent connections per host
  std::string user_agent = "Steward/0.1";
};

class HttpFetcher {
 public:
  using Callback = std::function<void(FetchResult& result)>;
  using Task = std::function<void()>;

  explicit HttpFetcher(HttpFetcherOptions options = {});
  ~HttpFetcher();  // Stop()
  HttpFetcher(const HttpFetcher&) = delete;
  HttpFetcher& operator=(const HttpFetcher&) = delete;

  // Starts the loop thread. Fails (Internal) if curl cannot create its handles.
  Status Start();
  // Cancels in-flight fetches (their callbacks never run), drops pending timers and tasks and
  // joins the loop thread. Idempotent.
  void Stop();

  // Starts a GET for connection key `key`. One fetch per key at a time: a second Fetch on a
  // key that is still in flight cancels the first.
  void Fetch(uint64_t key, FetchRequest request, Callback done);
  // Cancels the key's in-flight fetch, if any (its callback never runs).
  void Cancel(uint64_t key);
  // Cancels and releases the key's easy handle (the target is gone).
  void Forget(uint64_t key);

  void Post(Task task);
  void RunAt(MonoTime when, Task task);
  bool OnLoopThread() const { return std::this_thread::get_id() == loop_thread_id_.load(); }

  // Fetches in flight right now (loop thread only; for metrics and tests).
  size_t InFlight() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
  std::thread thread_;
  std::atomic<std::thread::id> loop_thread_id_{};
};

}  // namespace steward::monitor
