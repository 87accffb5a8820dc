// MetricsServer: an HTTP server on 127.0.0.1, port 0, serving a metrics body that the test can
// change (status, content type, a delay, raw headers), and counting hits per path. WaitFor: poll
// a condition with a deadline instead of sleeping.
#pragma once

#include <gtest/gtest.h>
#include <httplib.h>

#include <chrono>
#include <condition_variable>
#include <functional>
#include <map>
#include <mutex>
#include <string>
#include <thread>

namespace steward::monitor::testing {

inline bool WaitFor(const std::function<bool()>& cond,
                    std::chrono::milliseconds timeout = std::chrono::milliseconds(15000)) {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  while (std::chrono::steady_clock::now() < deadline) {
    if (cond()) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  return cond();
}

class MetricsServer {
 public:
  explicit MetricsServer(int threads = 8) {
    server_.new_task_queue = [threads] { return new httplib::ThreadPool(threads); };
    server_.Get(R"(/.*)",
                [this](const httplib::Request& req, httplib::Response& res) { Serve(req, res); });
    port_ = server_.bind_to_any_port("127.0.0.1");
    thread_ = std::thread([this] { server_.listen_after_bind(); });
    auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(5);
    while (!server_.is_running() && std::chrono::steady_clock::now() < deadline) {
      std::this_thread::sleep_for(std::chrono::milliseconds(2));
    }
  }
  ~MetricsServer() {
    {
      std::lock_guard<std::mutex> l(mu_);
      stopping_ = true;
    }
    cv_.notify_all();
    server_.stop();
    thread_.join();
  }

  int port() const { return port_; }
  std::string address() const { return "127.0.0.1:" + std::to_string(port_); }
  std::string Url(const std::string& path = "/metrics") const {
    return "http://" + address() + path;
  }

  void SetBody(std::string body, std::string content_type = "text/plain; version=0.0.4") {
    std::lock_guard<std::mutex> l(mu_);
    body_ = std::move(body);
    content_type_ = std::move(content_type);
  }
  void SetStatus(int status) {
    std::lock_guard<std::mutex> l(mu_);
    status_ = status;
  }
  void SetDelay(std::chrono::milliseconds d) {
    std::lock_guard<std::mutex> l(mu_);
    delay_ = d;
  }
  void SetHeader(std::string name, std::string value) {
    std::lock_guard<std::mutex> l(mu_);
    headers_[std::move(name)] = std::move(value);
  }
  int hits(const std::string& path = "/metrics") const {
    std::lock_guard<std::mutex> l(mu_);
    auto it = hits_.find(path);
    return it == hits_.end() ? 0 : it->second;
  }
  std::string last_header(const std::string& name) const {
    std::lock_guard<std::mutex> l(mu_);
    auto it = seen_headers_.find(name);
    return it == seen_headers_.end() ? "" : it->second;
  }

 private:
  void Serve(const httplib::Request& req, httplib::Response& res) {
    std::unique_lock<std::mutex> l(mu_);
    ++hits_[req.path];
    for (const char* h :
         {"Accept", "Accept-Encoding", "Authorization", "X-Prometheus-Scrape-Timeout-Seconds"}) {
      seen_headers_[h] = req.get_header_value(h);
    }
    if (delay_.count() > 0) {
      // Simulates a slow target; wakes early when the server shuts down.
      cv_.wait_for(l, delay_, [this] { return stopping_; });
    }
    res.status = status_;
    for (const auto& [k, v] : headers_) res.set_header(k, v);
    res.set_content(body_, content_type_);
  }

  httplib::Server server_;
  std::thread thread_;
  int port_ = 0;
  mutable std::mutex mu_;
  std::condition_variable cv_;
  bool stopping_ = false;
  std::string body_;
  std::string content_type_ = "text/plain; version=0.0.4";
  int status_ = 200;
  std::chrono::milliseconds delay_{0};
  std::map<std::string, std::string> headers_;
  std::map<std::string, int> hits_;
  std::map<std::string, std::string> seen_headers_;
};

}  // namespace steward::monitor::testing
