// QueryGate: admission for PromQL queries, as Prometheus' --query.max-concurrency. At most
// `max_running` queries evaluate at once; others wait, each until its own deadline, and are then
// told "query timed out in query queue" (Prometheus' words for a context that ends while queued).
//
// Queries and the control API (status, apply, down) share the HTTP server's worker threads, and a
// waiting query holds its worker. So the number of queries inside the gate (running or waiting)
// is capped too: beyond `max_inside`, a query is refused at once, and the server sizes its pool
// to keep workers free for everything else (see Daemon::StartHttp).
//
// Close() is the daemon's shutdown: waiting queries leave at once, and cancel() — handed to the
// engine in QueryLimits — turns true, so running ones stop at their next deadline check.
// Thread safety: all methods are thread-safe.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <mutex>

#include "base/status.h"
#include "metrics/registry.h"

namespace steward::server {

class QueryGate {
 public:
  using Clock = std::chrono::steady_clock;

  // The gauges, when given, follow the number of running and waiting queries.
  QueryGate(int max_running, int max_inside, metrics::Gauge* running_gauge = nullptr,
            metrics::Gauge* waiting_gauge = nullptr);

  // A held slot; releases it when destroyed.
  class Slot {
   public:
    Slot() = default;
    Slot(Slot&& o) noexcept : gate_(o.gate_) { o.gate_ = nullptr; }
    Slot& operator=(Slot&&) = delete;
    ~Slot();

   private:
    friend class QueryGate;
    explicit Slot(QueryGate* gate) : gate_(gate) {}
    QueryGate* gate_ = nullptr;
  };

  // Waits for a slot until `deadline`. DeadlineExceeded when it passes first, Unavailable when
  // max_inside queries are already inside, Aborted once the gate is closed.
  StatusOr<Slot> Enter(Clock::time_point deadline);
  void Close();
  const std::atomic<bool>* cancel() const { return &closed_; }

  int running() const;
  int waiting() const;
  int max_running() const { return max_running_; }

 private:
  void Leave();
  void Publish();  // mu_ held

  const int max_running_;
  const int max_inside_;
  metrics::Gauge* const running_gauge_;
  metrics::Gauge* const waiting_gauge_;
  mutable std::mutex mu_;
  std::condition_variable cv_;
  int running_ = 0;
  int waiting_ = 0;
  std::atomic<bool> closed_{false};
};

}  // namespace steward::server
