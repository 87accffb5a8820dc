// Health probes against real local peers: an httplib server on port 0, raw listening sockets
// (a listener that never accepts makes a peer that never answers), real commands.
#include "supervisor/health.h"

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <httplib.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <thread>

namespace steward::supervisor {
namespace {

using std::chrono::milliseconds;

// A socket bound to 127.0.0.1 on a free port; listening when asked. Closed at scope exit.
class LocalSocket {
 public:
  explicit LocalSocket(bool listening) {
    fd_ = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    bind(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr);
    socklen_t len = sizeof addr;
    getsockname(fd_, reinterpret_cast<sockaddr*>(&addr), &len);
    port_ = ntohs(addr.sin_port);
    if (listening) listen(fd_, 16);
  }
  ~LocalSocket() { close(fd_); }
  int port() const { return port_; }

 private:
  int fd_ = -1;
  int port_ = 0;
};

// An HTTP server on a free port, answering /healthz with `status`.
class HttpPeer {
 public:
  explicit HttpPeer(int status) {
    server_.Get("/healthz", [status](const httplib::Request&, httplib::Response& res) {
      res.status = status;
      res.set_content("body", "text/plain");
    });
    port_ = server_.bind_to_any_port("127.0.0.1");
    thread_ = std::thread([this] { server_.listen_after_bind(); });
    auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(5);
    while (!server_.is_running() && std::chrono::steady_clock::now() < deadline) {
      std::this_thread::sleep_for(milliseconds(5));
    }
  }
  ~HttpPeer() {
    server_.stop();
    thread_.join();
  }
  int port() const { return port_; }

 private:
  httplib::Server server_;
  std::thread thread_;
  int port_ = 0;
};

config::HealthCheck Check(config::HealthCheckKind kind, Duration timeout = milliseconds(1000)) {
  config::HealthCheck c;
  c.kind = kind;
  c.timeout = timeout;
  return c;
}

config::HealthCheck Exec(std::vector<std::string> command, Duration timeout = milliseconds(2000)) {
  config::HealthCheck c = Check(config::HealthCheckKind::kExec, timeout);
  c.command = std::move(command);
  return c;
}

const std::map<std::string, std::string> kEnv = {{"PATH", "/usr/bin:/bin"}};

TEST(HttpHealthCheck, SuccessStatusIsHealthy) {
  HttpPeer peer(200);
  HealthResult r = RunHealthCheck(Check(config::HealthCheckKind::kHttp), peer.port(), kEnv);
  EXPECT_TRUE(r.ok) << r.detail;
  EXPECT_EQ(r.detail, "HTTP 200");
}

TEST(HttpHealthCheck, ServerErrorIsUnhealthy) {
  HttpPeer peer(500);
  HealthResult r = RunHealthCheck(Check(config::HealthCheckKind::kHttp), peer.port(), kEnv);
  EXPECT_FALSE(r.ok);
  EXPECT_EQ(r.detail, "HTTP 500");
}

TEST(HttpHealthCheck, ExpectedStatusOverridesTheDefaultRange) {
  HttpPeer peer(500);
  config::HealthCheck c = Check(config::HealthCheckKind::kHttp);
  c.expect_status = 500;
  EXPECT_TRUE(RunHealthCheck(c, peer.port(), kEnv).ok);
  c.expect_status = 204;
  HttpPeer ok_peer(200);
  EXPECT_FALSE(RunHealthCheck(c, ok_peer.port(), kEnv).ok);
}

TEST(HttpHealthCheck, DeclaredPortWinsOverReplicaPort) {
  HttpPeer peer(200);
  config::HealthCheck c = Check(config::HealthCheckKind::kHttp);
  c.port = peer.port();
  LocalSocket closed(/*listening=*/false);
  EXPECT_TRUE(RunHealthCheck(c, closed.port(), kEnv).ok);
}

TEST(HttpHealthCheck, RefusedConnectionIsReported) {
  LocalSocket closed(/*listening=*/false);
  HealthResult r = RunHealthCheck(Check(config::HealthCheckKind::kHttp), closed.port(), kEnv);
  EXPECT_FALSE(r.ok);
  EXPECT_EQ(r.detail, "connect: Connection refused");
}

TEST(HttpHealthCheck, SilentPeerTimesOut) {
  LocalSocket silent(/*listening=*/true);
  HealthResult r =
      RunHealthCheck(Check(config::HealthCheckKind::kHttp, milliseconds(200)), silent.port(), kEnv);
  EXPECT_FALSE(r.ok);
  EXPECT_EQ(r.detail, "timeout after 200ms");
  EXPECT_GE(r.took, milliseconds(150));
  EXPECT_LT(r.took, milliseconds(1000));
}

TEST(HttpHealthCheck, ConcurrentChecksFromThreads) {
  // Four threads: httplib listens with a backlog of 5, and a dropped SYN is retried after 1 s.
  HttpPeer peer(200);
  std::vector<std::thread> threads;
  std::atomic<int> ok{0};
  for (int i = 0; i < 4; ++i) {
    threads.emplace_back([&] {
      for (int j = 0; j < 5; ++j) {
        HealthResult r = RunHealthCheck(Check(config::HealthCheckKind::kHttp, milliseconds(5000)),
                                        peer.port(), kEnv);
        if (r.ok) ++ok;
      }
    });
  }
  for (std::thread& t : threads) t.join();
  EXPECT_EQ(ok.load(), 20);
}

TEST(TcpHealthCheck, ListeningPortIsHealthy) {
  LocalSocket listener(/*listening=*/true);
  HealthResult r = RunHealthCheck(Check(config::HealthCheckKind::kTcp), listener.port(), kEnv);
  EXPECT_TRUE(r.ok) << r.detail;
}

TEST(TcpHealthCheck, RefusedPortIsUnhealthy) {
  LocalSocket closed(/*listening=*/false);
  HealthResult r = RunHealthCheck(Check(config::HealthCheckKind::kTcp), closed.port(), kEnv);
  EXPECT_FALSE(r.ok);
  EXPECT_EQ(r.detail, "connect: Connection refused");
}

TEST(TcpHealthCheck, MissingPortIsUnhealthy) {
  EXPECT_FALSE(RunHealthCheck(Check(config::HealthCheckKind::kTcp), 0, kEnv).ok);
}

TEST(ExecHealthCheck, ZeroExitIsHealthy) {
  HealthResult r = RunHealthCheck(Exec({"sh", "-c", "echo fine"}), 0, kEnv);
  EXPECT_TRUE(r.ok) << r.detail;
  EXPECT_EQ(r.detail, "exit status 0: fine");
}

TEST(ExecHealthCheck, FailureReportsExitCodeAndFirstOutputLine) {
  HealthResult r =
      RunHealthCheck(Exec({"sh", "-c", "echo 'db down' >&2; echo second; exit 2"}), 0, kEnv);
  EXPECT_FALSE(r.ok);
  EXPECT_EQ(r.detail, "exit status 2: db down");
}

TEST(ExecHealthCheck, RunsWithTheReplicaEnvironment) {
  auto env = kEnv;
  env["TOKEN"] = "s3cret";
  EXPECT_TRUE(RunHealthCheck(Exec({"sh", "-c", "test \"$TOKEN\" = s3cret"}), 0, env).ok);
  EXPECT_FALSE(RunHealthCheck(Exec({"sh", "-c", "test \"$TOKEN\" = s3cret"}), 0, kEnv).ok);
}

TEST(ExecHealthCheck, HangingCommandIsKilledAtTimeout) {
  HealthResult r =
      RunHealthCheck(Exec({"sh", "-c", "sleep 30 & sleep 30"}, milliseconds(200)), 0, kEnv);
  EXPECT_FALSE(r.ok);
  EXPECT_EQ(r.detail, "timeout after 200ms");
  EXPECT_LT(r.took, milliseconds(1000));
}

TEST(ExecHealthCheck, LargeOutputDoesNotBlockTheCommand) {
  HealthResult r = RunHealthCheck(
      Exec({"sh", "-c", "echo first; head -c 200000 /dev/zero | tr '\\0' x; exit 1"}), 0, kEnv);
  EXPECT_FALSE(r.ok);
  EXPECT_EQ(r.detail, "exit status 1: first");
}

TEST(ExecHealthCheck, MissingProgramIsUnhealthy) {
  HealthResult r = RunHealthCheck(Exec({"steward-no-such-check"}), 0, kEnv);
  EXPECT_FALSE(r.ok);
  EXPECT_NE(r.detail.find("steward-no-such-check"), std::string::npos) << r.detail;
}

TEST(HealthCheck, NoneIsAlwaysHealthy) {
  EXPECT_TRUE(RunHealthCheck(config::HealthCheck{}, 0, kEnv).ok);
}

}  // namespace
}  // namespace steward::supervisor
