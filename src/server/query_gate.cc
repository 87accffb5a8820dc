#include "server/query_gate.h"

#include <algorithm>
#include <string>

namespace steward::server {

QueryGate::QueryGate(int max_running, int max_inside, metrics::Gauge* running_gauge,
                     metrics::Gauge* waiting_gauge)
    : max_running_(std::max(1, max_running)),
      max_inside_(std::max(max_running_, max_inside)),
      running_gauge_(running_gauge),
      waiting_gauge_(waiting_gauge) {}

void QueryGate::Publish() {
  if (running_gauge_) running_gauge_->Set(running_);
  if (waiting_gauge_) waiting_gauge_->Set(waiting_);
}

QueryGate::Slot::~Slot() {
  if (gate_) gate_->Leave();
}

StatusOr<QueryGate::Slot> QueryGate::Enter(Clock::time_point deadline) {
  std::unique_lock<std::mutex> l(mu_);
  if (closed_) return Aborted("query was canceled in query queue");
  if (running_ + waiting_ >= max_inside_)
    return Unavailable("too many queries: " + std::to_string(running_) + " running and " +
                       std::to_string(waiting_) +
                       " waiting (at most --query-max-concurrency run at once); try again later");
  ++waiting_;
  Publish();
  bool admitted = cv_.wait_until(l, deadline, [&] { return closed_ || running_ < max_running_; });
  --waiting_;
  if (!closed_ && admitted) ++running_;
  Publish();
  if (closed_) return Aborted("query was canceled in query queue");
  if (!admitted) return DeadlineExceeded("query timed out in query queue");
  return Slot(this);
}

void QueryGate::Leave() {
  {
    std::lock_guard<std::mutex> l(mu_);
    --running_;
    Publish();
  }
  cv_.notify_one();
}

void QueryGate::Close() {
  {
    std::lock_guard<std::mutex> l(mu_);
    closed_ = true;
  }
  cv_.notify_all();
}

int QueryGate::running() const {
  std::lock_guard<std::mutex> l(mu_);
  return running_;
}

int QueryGate::waiting() const {
  std::lock_guard<std::mutex> l(mu_);
  return waiting_;
}

}  // namespace steward::server
