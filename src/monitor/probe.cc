// RunProbe's dispatch and the pieces the kinds share: deadlines, host:port, and a TCP connect
// whose DNS lookup is bounded by the probe's deadline too (getaddrinfo has no timeout, so it
// runs on a helper thread that is abandoned when the deadline passes).
#include <arpa/inet.h>
#include <fcntl.h>
#include <netdb.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <condition_variable>
#include <cstring>
#include <memory>
#include <mutex>
#include <thread>

#include "monitor/probe_internal.h"

namespace steward::monitor {
namespace internal {
namespace {

constexpr int kPollSliceMs = 50;  // how often waits look at the cancel flag

// getaddrinfo on its own thread; the state outlives an abandoned wait.
struct Lookup {
  std::mutex mu;
  std::condition_variable done_cv;
  bool done = false;
  int rc = 0;
  addrinfo* addresses = nullptr;
  ~Lookup() {
    if (addresses != nullptr) freeaddrinfo(addresses);
  }
};

std::shared_ptr<Lookup> StartLookup(const std::string& host, const std::string& port) {
  auto lookup = std::make_shared<Lookup>();
  std::thread([lookup, host, port] {
    addrinfo hints{};
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    addrinfo* addresses = nullptr;
    int rc = getaddrinfo(host.c_str(), port.c_str(), &hints, &addresses);
    std::lock_guard<std::mutex> l(lookup->mu);
    lookup->rc = rc;
    lookup->addresses = addresses;
    lookup->done = true;
    lookup->done_cv.notify_all();
  }).detach();
  return lookup;
}

// Waits for `fd` to be ready for `events` until the deadline; false on timeout or cancel.
bool WaitReady(int fd, short events, SteadyTime deadline, const ProbeContext& context) {
  while (!Cancelled(context)) {
    auto left = Remaining(deadline).count();
    if (left <= 0) return false;
    pollfd p{fd, events, 0};
    int n = poll(&p, 1, static_cast<int>(std::min<int64_t>(left, kPollSliceMs)));
    if (n > 0) return true;
    if (n < 0 && errno != EINTR) return true;  // let the caller's next call report it
  }
  return false;
}

std::string AddressText(const addrinfo* a) {
  char host[NI_MAXHOST] = "?";
  char port[NI_MAXSERV] = "?";
  getnameinfo(a->ai_addr, a->ai_addrlen, host, sizeof host, port, sizeof port,
              NI_NUMERICHOST | NI_NUMERICSERV);
  std::string h = host;
  return (a->ai_family == AF_INET6 ? "[" + h + "]" : h) + ":" + port;
}

// One address: connected socket or -1 with `error`.
int ConnectOne(const addrinfo* a, SteadyTime deadline, const ProbeContext& context,
               std::string* error) {
  int fd = socket(a->ai_family, a->ai_socktype | SOCK_CLOEXEC | SOCK_NONBLOCK, a->ai_protocol);
  if (fd < 0) {
    *error = std::string("socket: ") + std::strerror(errno);
    return -1;
  }
  int rc = connect(fd, a->ai_addr, a->ai_addrlen);
  if (rc != 0 && errno == EINPROGRESS) {
    if (!WaitReady(fd, POLLOUT, deadline, context)) {
      close(fd);
      *error = "connect to " + AddressText(a) + (Cancelled(context) ? " cancelled" : " timed out");
      return -1;
    }
    int so_error = 0;
    socklen_t len = sizeof so_error;
    getsockopt(fd, SOL_SOCKET, SO_ERROR, &so_error, &len);
    rc = so_error == 0 ? 0 : -1;
    errno = so_error;
  }
  if (rc != 0) {
    *error = "connect to " + AddressText(a) + ": " + std::strerror(errno);
    close(fd);
    return -1;
  }
  return fd;
}

}  // namespace

std::chrono::milliseconds Remaining(SteadyTime deadline) {
  auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
      deadline - std::chrono::steady_clock::now());
  return std::max(left, std::chrono::milliseconds(0));
}

bool Cancelled(const ProbeContext& context) {
  return context.cancel != nullptr && context.cancel->load(std::memory_order_relaxed);
}

std::string FormatLatency(double seconds) {
  if (seconds < 1) return std::to_string(static_cast<int64_t>(seconds * 1000 + 0.5)) + "ms";
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.3gs", seconds);
  return buf;
}

bool SplitHostPort(const std::string& target, std::string* host, std::string* port) {
  if (!target.empty() && target[0] == '[') {
    size_t close = target.find("]:");
    if (close == std::string::npos) return false;
    *host = target.substr(1, close - 1);
    *port = target.substr(close + 2);
  } else {
    size_t colon = target.rfind(':');
    if (colon == std::string::npos) return false;
    *host = target.substr(0, colon);
    *port = target.substr(colon + 1);
  }
  return !host->empty() && !port->empty();
}

int ConnectTcp(const std::string& host, const std::string& port, SteadyTime deadline,
               const ProbeContext& context, std::string* error) {
  std::shared_ptr<Lookup> lookup = StartLookup(host, port);
  std::unique_lock<std::mutex> l(lookup->mu);
  while (!lookup->done && !Cancelled(context) && Remaining(deadline).count() > 0) {
    auto slice = std::min(Remaining(deadline), std::chrono::milliseconds(kPollSliceMs));
    lookup->done_cv.wait_for(l, slice);
  }
  if (!lookup->done) {  // the helper thread finishes on its own and frees the state
    *error = "DNS lookup of '" + host + "' " + (Cancelled(context) ? "cancelled" : "timed out");
    return -1;
  }
  if (lookup->rc != 0) {
    *error = "cannot resolve '" + host + "': " + gai_strerror(lookup->rc);
    return -1;
  }
  addrinfo* addresses = lookup->addresses;
  l.unlock();
  *error = "no address for '" + host + "'";
  for (const addrinfo* a = addresses; a != nullptr; a = a->ai_next) {
    int fd = ConnectOne(a, deadline, context, error);
    if (fd >= 0) return fd;
  }
  return -1;
}

void ProbeTcp(const config::Monitor& monitor, const ProbeContext& context, SteadyTime deadline,
              ProbeResult* result) {
  std::string host;
  std::string port;
  if (!SplitHostPort(monitor.target, &host, &port)) {
    result->error = "target '" + monitor.target + "' is not host:port";
    return;
  }
  int fd = ConnectTcp(host, port, deadline, context, &result->error);
  if (fd < 0) return;
  close(fd);
  result->success = true;
  result->error.clear();
}

}  // namespace internal

const char* ProbeKindLabel(config::ProbeKind kind) {
  switch (kind) {
    case config::ProbeKind::kHttp:
      return "http";
    case config::ProbeKind::kTcp:
      return "tcp";
    case config::ProbeKind::kExec:
      return "exec";
    case config::ProbeKind::kTls:
      return "tls";
  }
  return "http";
}

std::string ProbeInstance(const config::Monitor& monitor) {
  switch (monitor.kind) {
    case config::ProbeKind::kHttp:
      return monitor.url;
    case config::ProbeKind::kTcp:
    case config::ProbeKind::kTls:
      return monitor.target;
    case config::ProbeKind::kExec:
      break;
  }
  const std::vector<std::string>& c = monitor.command;
  if (c.size() == 3 && c[0] == "/bin/sh" && c[1] == "-c") return c[2];
  return c.empty() ? "" : c[0];
}

ProbeResult RunProbe(const config::Monitor& monitor, const ProbeContext& context) {
  ProbeResult result;
  auto start = std::chrono::steady_clock::now();
  Duration timeout = monitor.timeout.count() > 0 ? monitor.timeout : Duration(5000);
  internal::SteadyTime deadline = start + timeout;
  try {
    switch (monitor.kind) {
      case config::ProbeKind::kHttp:
        internal::ProbeHttp(monitor, context, deadline, &result);
        break;
      case config::ProbeKind::kTcp:
        internal::ProbeTcp(monitor, context, deadline, &result);
        break;
      case config::ProbeKind::kTls:
        internal::ProbeTls(monitor, context, deadline, &result);
        break;
      case config::ProbeKind::kExec:
        internal::ProbeExec(monitor, context, deadline, &result);
        break;
    }
  } catch (const std::exception& e) {
    result.success = false;
    result.error = std::string("internal error: ") + e.what();
  }
  result.duration_seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  if (result.success) result.error.clear();
  if (!result.success && result.error.empty()) result.error = "failed";
  return result;
}

}  // namespace steward::monitor
