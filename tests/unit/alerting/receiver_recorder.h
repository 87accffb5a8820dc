// A test-side HTTP server on a free port of 127.0.0.1 that records every POST and answers with
// the next status of a script (then the last one again): the far end of a receiver.
#pragma once

#include <httplib.h>

#include <chrono>
#include <condition_variable>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

namespace steward::alerting::testing {

struct RecordedRequest {
  std::string path;
  std::string body;
  std::string content_type;
  std::chrono::steady_clock::time_point at;
};

class Recorder {
 public:
  explicit Recorder(std::vector<int> statuses = {200}) : statuses_(std::move(statuses)) {
    svr_.Post(R"(/.*)", [this](const httplib::Request& req, httplib::Response& res) {
      std::lock_guard<std::mutex> l(mu_);
      requests_.push_back({req.path, req.body, req.get_header_value("Content-Type"),
                           std::chrono::steady_clock::now()});
      size_t i = std::min(requests_.size() - 1, statuses_.size() - 1);
      res.status = statuses_[i];
      res.set_content(body_, "application/json");
      cv_.notify_all();
    });
    port_ = svr_.bind_to_any_port("127.0.0.1");
    thread_ = std::thread([this] { svr_.listen_after_bind(); });
    // stop() before the accept loop runs would be lost and the join would hang.
    while (!svr_.is_running()) std::this_thread::yield();
  }
  ~Recorder() {
    svr_.stop();
    thread_.join();
  }
  Recorder(const Recorder&) = delete;
  Recorder& operator=(const Recorder&) = delete;

  int port() const { return port_; }
  std::string url(const std::string& path = "/hook") const {
    return "http://127.0.0.1:" + std::to_string(port_) + path;
  }
  void set_response_body(std::string body) {
    std::lock_guard<std::mutex> l(mu_);
    body_ = std::move(body);
  }
  // Waits up to `timeout` for at least n requests.
  bool WaitFor(size_t n, std::chrono::milliseconds timeout = std::chrono::seconds(10)) {
    std::unique_lock<std::mutex> l(mu_);
    return cv_.wait_for(l, timeout, [&] { return requests_.size() >= n; });
  }
  std::vector<RecordedRequest> requests() const {
    std::lock_guard<std::mutex> l(mu_);
    return requests_;
  }

 private:
  httplib::Server svr_;
  int port_ = 0;
  std::thread thread_;
  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::vector<int> statuses_;
  std::string body_ = "{}";
  std::vector<RecordedRequest> requests_;
};

// Polls `cond` until it holds or `timeout` passes.
template <class F>
bool Eventually(F cond, std::chrono::milliseconds timeout = std::chrono::seconds(10)) {
  auto end = std::chrono::steady_clock::now() + timeout;
  while (std::chrono::steady_clock::now() < end) {
    if (cond()) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  return cond();
}

}  // namespace steward::alerting::testing
