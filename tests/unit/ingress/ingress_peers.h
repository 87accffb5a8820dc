// Test peers for the ingress tests: HTTP backends that answer with their own name, a client
// loop that counts every failed request, a scratch directory, and a free port.
#pragma once

#include <arpa/inet.h>
#include <httplib.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <map>
#include <mutex>
#include <string>
#include <thread>

#include "ingress/haproxy.h"

namespace steward::ingress::testing {

// A port nobody listens on right now (the kernel's pick for port 0).
inline int FreePort() {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr));
  socklen_t len = sizeof(addr);
  getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len);
  close(fd);
  return ntohs(addr.sin_port);
}

// A short directory under /tmp: unix socket paths must stay under ~100 bytes.
class ScratchDir {
 public:
  ScratchDir() {
    char tmpl[] = "/tmp/ingress-XXXXXX";
    path_ = mkdtemp(tmpl);
  }
  ~ScratchDir() { std::filesystem::remove_all(path_); }
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

// An HTTP server on a free 127.0.0.1 port answering every GET with its name (and `status`),
// after `delay`, so that requests are in flight when the test moves servers.
class Backend {
 public:
  explicit Backend(std::string name, int status = 200,
                   std::chrono::milliseconds delay = std::chrono::milliseconds(0))
      : name_(std::move(name)) {
    server_.Get(".*", [this, status, delay](const httplib::Request&, httplib::Response& res) {
      if (delay.count() > 0) std::this_thread::sleep_for(delay);
      ++served_;
      res.status = status;
      res.set_content(name_, "text/plain");
    });
    // haproxy keeps idle connections to servers; a short keep-alive lets Stop() return soon
    // (and exercises haproxy's retry when a server closes one just as it is reused).
    server_.set_keep_alive_timeout(1);
    port_ = server_.bind_to_any_port("127.0.0.1");
    thread_ = std::thread([this] { server_.listen_after_bind(); });
    auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(5);
    while (!server_.is_running() && std::chrono::steady_clock::now() < deadline) {
      std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
  }
  ~Backend() { Stop(); }
  void Stop() {
    if (thread_.joinable()) {
      server_.stop();
      thread_.join();
    }
  }
  int port() const { return port_; }
  int served() const { return served_; }
  const std::string& name() const { return name_; }

 private:
  std::string name_;
  httplib::Server server_;
  std::thread thread_;
  int port_ = 0;
  std::atomic<int> served_{0};
};

// Requests GET / on the frontend in a loop on its own thread, a new connection each time (as
// independent clients would), until stopped; counts answers by body and every failure.
class ClientLoop {
 public:
  explicit ClientLoop(int port) : port_(port) {
    thread_ = std::thread([this] { Run(); });
  }
  ~ClientLoop() { Stop(); }
  void Stop() {
    stop_ = true;
    if (thread_.joinable()) thread_.join();
  }
  int ok() const { return ok_; }
  int failed() const { return failed_; }
  std::string first_failure() {
    std::lock_guard<std::mutex> lock(mu_);
    return first_failure_;
  }
  int count(const std::string& body) {
    std::lock_guard<std::mutex> lock(mu_);
    return bodies_[body];
  }
  // Waits (bounded) until at least n more requests succeeded.
  void WaitForRequests(int n) {
    int target = ok_ + n;
    auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);
    while (ok_ < target && failed_ == 0 && std::chrono::steady_clock::now() < deadline) {
      std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
  }

 private:
  void Run() {
    httplib::Client client("127.0.0.1", port_);
    client.set_connection_timeout(std::chrono::seconds(5));
    client.set_read_timeout(std::chrono::seconds(10));
    while (!stop_) {
      auto res = client.Get("/");
      std::lock_guard<std::mutex> lock(mu_);
      if (res && res->status == 200) {
        ++ok_;
        ++bodies_[res->body];
      } else {
        ++failed_;
        if (first_failure_.empty()) {
          first_failure_ = res ? "status " + std::to_string(res->status) + ": " + res->body
                               : "error " + httplib::to_string(res.error());
        }
      }
    }
  }

  int port_;
  std::atomic<bool> stop_{false};
  std::atomic<int> ok_{0};
  std::atomic<int> failed_{0};
  std::mutex mu_;
  std::map<std::string, int> bodies_;
  std::string first_failure_;
  std::thread thread_;
};

inline Frontend MakeFrontend(const std::string& service, int port, int slots = 4) {
  Frontend f;
  f.service = service;
  f.port = port;
  f.slots = slots;
  return f;
}

}  // namespace steward::ingress::testing
