// RunProbe against real peers on 127.0.0.1: an HTTP server (status, regex, latency, method,
// headers, redirects), open and closed TCP ports, commands (exit codes, stderr, timeouts that
// kill the process group) and TLS servers with certificates made at test time by `openssl`.
#include "monitor/probe.h"

#include <gtest/gtest.h>
#include <httplib.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cmath>
#include <fstream>
#include <thread>

#include "unit/monitor/metrics_server.h"
#include "unit/tsdb/tsdb_test_util.h"

namespace steward::monitor {
namespace {

using std::chrono::milliseconds;
using testing::WaitFor;
using tsdb::testing::TempDir;

double Extra(const ProbeResult& r, const std::string& name) {
  for (const auto& [n, v] : r.extra) {
    if (n == name) return v;
  }
  ADD_FAILURE() << "no " << name << " in the result";
  return NAN;
}

bool HasExtra(const ProbeResult& r, const std::string& name) {
  for (const auto& [n, v] : r.extra) {
    if (n == name) return true;
  }
  return false;
}

// Runs an httplib server (plain or TLS) on 127.0.0.1 at a free port until destroyed.
template <typename ServerT>
class Running {
 public:
  template <typename... Args>
  explicit Running(Args&&... args) : server_(std::forward<Args>(args)...) {}
  void Start() {
    port_ = server_.bind_to_any_port("127.0.0.1");
    thread_ = std::thread([this] { server_.listen_after_bind(); });
    EXPECT_TRUE(WaitFor([&] { return server_.is_running(); }));
  }
  ~Running() {
    server_.stop();
    if (thread_.joinable()) thread_.join();
  }
  ServerT& server() { return server_; }
  int port() const { return port_; }

 private:
  ServerT server_;
  int port_ = 0;
  std::thread thread_;
};

class HttpProbeTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto& s = http_.server();
    s.Get("/ok", [](const httplib::Request&, httplib::Response& res) {
      res.set_content("status: all ok", "text/plain");
    });
    s.Get("/fail", [](const httplib::Request&, httplib::Response& res) {
      res.status = 503;
      res.set_content("down", "text/plain");
    });
    s.Get("/slow", [](const httplib::Request&, httplib::Response& res) {
      std::this_thread::sleep_for(milliseconds(400));
      res.set_content("late", "text/plain");
    });
    s.Get("/slower", [](const httplib::Request&, httplib::Response& res) {
      std::this_thread::sleep_for(milliseconds(1500));
      res.set_content("very late", "text/plain");
    });
    s.Get("/moved",
          [](const httplib::Request&, httplib::Response& res) { res.set_redirect("/ok"); });
    s.Post("/echo", [this](const httplib::Request& req, httplib::Response& res) {
      std::lock_guard<std::mutex> l(mu_);
      seen_method_ = req.method;
      seen_header_ = req.get_header_value("X-Probe");
      seen_body_ = req.body;
      res.status = 201;
    });
    http_.Start();
  }

  config::Monitor Http(const std::string& path) {
    config::Monitor m;
    m.name = "web";
    m.kind = config::ProbeKind::kHttp;
    m.url = "http://127.0.0.1:" + std::to_string(http_.port()) + path;
    m.timeout = milliseconds(3000);
    return m;
  }

  Running<httplib::Server> http_;
  std::mutex mu_;
  std::string seen_method_, seen_header_, seen_body_;
};

TEST_F(HttpProbeTest, SucceedsOn2xxAndReportsStatusAndLength) {
  ProbeResult r = RunProbe(Http("/ok"), {});
  EXPECT_TRUE(r.success) << r.error;
  EXPECT_EQ(r.error, "");
  EXPECT_EQ(Extra(r, "probe_http_status_code"), 200);
  EXPECT_EQ(Extra(r, "probe_http_content_length"), 14);
  EXPECT_EQ(Extra(r, "probe_http_ssl"), 0);
  EXPECT_FALSE(HasExtra(r, "probe_failed_due_to_regex"));
  EXPECT_GT(r.duration_seconds, 0);
}

TEST_F(HttpProbeTest, UnexpectedStatusSaysWhatWasExpected) {
  ProbeResult r = RunProbe(Http("/fail"), {});
  EXPECT_FALSE(r.success);
  EXPECT_EQ(r.error, "status 503, expected 2xx");
  EXPECT_EQ(Extra(r, "probe_http_status_code"), 503);

  config::Monitor m = Http("/fail");
  m.expect_status = {200, 204};
  EXPECT_EQ(RunProbe(m, {}).error, "status 503, expected 200 or 204");
  m.expect_status = {503};
  EXPECT_TRUE(RunProbe(m, {}).success);
}

TEST_F(HttpProbeTest, BodyRegexIsSearchedNotAnchored) {
  config::Monitor m = Http("/ok");
  m.body_regex = "all o+k";
  ProbeResult r = RunProbe(m, {});
  EXPECT_TRUE(r.success) << r.error;
  EXPECT_EQ(Extra(r, "probe_failed_due_to_regex"), 0);

  m.body_regex = "^healthy$";
  r = RunProbe(m, {});
  EXPECT_FALSE(r.success);
  EXPECT_EQ(r.error, "body did not match /^healthy$/");
  EXPECT_EQ(Extra(r, "probe_failed_due_to_regex"), 1);
}

TEST_F(HttpProbeTest, SlowResponseFailsMaxLatency) {
  config::Monitor m = Http("/slow");
  m.max_latency = milliseconds(100);
  ProbeResult r = RunProbe(m, {});
  EXPECT_FALSE(r.success);
  EXPECT_TRUE(r.error.starts_with("latency ")) << r.error;
  EXPECT_TRUE(r.error.ends_with(" > 100ms")) << r.error;
  EXPECT_EQ(Extra(r, "probe_http_status_code"), 200);  // the response itself was fine
  m.max_latency = milliseconds(2000);
  EXPECT_TRUE(RunProbe(m, {}).success);
}

TEST_F(HttpProbeTest, TimeoutBoundsTheProbe) {
  config::Monitor m = Http("/slower");
  m.timeout = milliseconds(100);
  ProbeResult r = RunProbe(m, {});
  EXPECT_FALSE(r.success);
  EXPECT_NE(r.error.find("timed out"), std::string::npos) << r.error;
  EXPECT_LT(r.duration_seconds, 1.0);  // the response would take 1.5s
  EXPECT_EQ(Extra(r, "probe_http_status_code"), 0);
}

TEST_F(HttpProbeTest, SendsMethodHeadersAndBody) {
  config::Monitor m = Http("/echo");
  m.method = "POST";
  m.headers = {{"X-Probe", "steward"}};
  m.body = R"({"ping":1})";
  m.expect_status = {201};
  ProbeResult r = RunProbe(m, {});
  EXPECT_TRUE(r.success) << r.error;
  std::lock_guard<std::mutex> l(mu_);
  EXPECT_EQ(seen_method_, "POST");
  EXPECT_EQ(seen_header_, "steward");
  EXPECT_EQ(seen_body_, R"({"ping":1})");
}

TEST_F(HttpProbeTest, FollowsRedirectsUnlessTold) {
  ProbeResult r = RunProbe(Http("/moved"), {});
  EXPECT_TRUE(r.success) << r.error;
  EXPECT_EQ(Extra(r, "probe_http_redirects"), 1);
  config::Monitor m = Http("/moved");
  m.follow_redirects = false;
  r = RunProbe(m, {});
  EXPECT_EQ(r.error, "status 302, expected 2xx");
}

// A port that was just free: nothing listens there.
int ClosedPort() {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a);
  socklen_t len = sizeof a;
  getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len);
  close(fd);
  return ntohs(a.sin_port);
}

TEST(HttpProbe, ConnectionRefusedIsAnError) {
  config::Monitor m;
  m.kind = config::ProbeKind::kHttp;
  m.url = "http://127.0.0.1:" + std::to_string(ClosedPort()) + "/";
  ProbeResult r = RunProbe(m, {});
  EXPECT_FALSE(r.success);
  EXPECT_NE(r.error.find("onnect"), std::string::npos) << r.error;
  EXPECT_EQ(Extra(r, "probe_http_status_code"), 0);
}

// --- tcp -------------------------------------------------------------------------------------

config::Monitor Tcp(const std::string& target) {
  config::Monitor m;
  m.kind = config::ProbeKind::kTcp;
  m.target = target;
  m.timeout = milliseconds(2000);
  return m;
}

TEST(TcpProbe, OpenPortSucceeds) {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ASSERT_EQ(bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a), 0);
  ASSERT_EQ(listen(fd, 4), 0);
  socklen_t len = sizeof a;
  getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len);
  ProbeResult r = RunProbe(Tcp("127.0.0.1:" + std::to_string(ntohs(a.sin_port))), {});
  close(fd);
  EXPECT_TRUE(r.success) << r.error;
  EXPECT_TRUE(r.extra.empty());
}

TEST(TcpProbe, ClosedPortFailsWithTheReason) {
  std::string target = "127.0.0.1:" + std::to_string(ClosedPort());
  ProbeResult r = RunProbe(Tcp(target), {});
  EXPECT_FALSE(r.success);
  EXPECT_EQ(r.error, "connect to " + target + ": Connection refused");
}

TEST(TcpProbe, UnknownHostFailsWithinTheTimeout) {
  ProbeResult r = RunProbe(Tcp("no-such-host.invalid:80"), {});
  EXPECT_FALSE(r.success);
  EXPECT_TRUE(r.error.starts_with("cannot resolve 'no-such-host.invalid'") ||
              r.error == "DNS lookup of 'no-such-host.invalid' timed out")
      << r.error;
  EXPECT_LT(r.duration_seconds, 2.5);
}

// --- exec ------------------------------------------------------------------------------------

config::Monitor Exec(std::vector<std::string> command, milliseconds timeout = milliseconds(5000)) {
  config::Monitor m;
  m.kind = config::ProbeKind::kExec;
  m.command = std::move(command);
  m.timeout = timeout;
  return m;
}

TEST(ExecProbe, ExitZeroSucceeds) {
  ProbeResult r = RunProbe(Exec({"true"}), {});
  EXPECT_TRUE(r.success) << r.error;
  EXPECT_EQ(Extra(r, "probe_exec_exit_code"), 0);
}

TEST(ExecProbe, FailureShowsExitStatusAndFirstStderrLine) {
  ProbeResult r = RunProbe(
      Exec({"/bin/sh", "-c", "echo to-stdout; echo first >&2; echo second >&2; exit 3"}), {});
  EXPECT_FALSE(r.success);
  EXPECT_EQ(r.error, "exit status 3: first");
  EXPECT_EQ(Extra(r, "probe_exec_exit_code"), 3);
}

TEST(ExecProbe, TimeoutKillsTheWholeProcessGroup) {
  TempDir dir;
  std::string pid_file = dir.Sub("bg.pid");
  ProbeResult r = RunProbe(
      Exec({"/bin/sh", "-c", "sleep 30 & echo $! > " + pid_file + "; sleep 30"}, milliseconds(500)),
      {});
  EXPECT_FALSE(r.success);
  EXPECT_EQ(r.error, "timed out after 500ms; its process group was killed");
  EXPECT_EQ(Extra(r, "probe_exec_exit_code"), -1);
  EXPECT_LT(r.duration_seconds, 2.0);
  std::ifstream in(pid_file);
  pid_t background = 0;
  ASSERT_TRUE(in >> background);
  // Killed with the group; reaped by init (we are not its parent), so it disappears.
  EXPECT_TRUE(WaitFor([&] { return kill(background, 0) != 0; }, milliseconds(5000)));
}

TEST(ExecProbe, MissingProgramIsReported) {
  ProbeResult r = RunProbe(Exec({"steward-no-such-program"}), {});
  EXPECT_FALSE(r.success);
  EXPECT_EQ(r.error, "cannot start 'steward-no-such-program': No such file or directory");
}

TEST(ExecProbe, RunsInTheWorkingDirectory) {
  TempDir dir;
  std::ofstream(dir.Sub("marker")) << "x";
  ProbeContext context;
  context.working_dir = dir.path();
  EXPECT_TRUE(RunProbe(Exec({"test", "-f", "marker"}), context).success);
  EXPECT_FALSE(RunProbe(Exec({"test", "-f", "marker"}), {}).success);
}

TEST(ExecProbe, CancelStopsALongCommand) {
  std::atomic<bool> cancel{false};
  ProbeContext context;
  context.cancel = &cancel;
  std::thread canceller([&] {
    std::this_thread::sleep_for(milliseconds(200));
    cancel = true;
  });
  ProbeResult r = RunProbe(Exec({"sleep", "30"}, milliseconds(20000)), context);
  canceller.join();
  EXPECT_FALSE(r.success);
  EXPECT_LT(r.duration_seconds, 5.0);
}

// --- tls -------------------------------------------------------------------------------------

// A self-signed certificate for localhost and 127.0.0.1, made with the openssl CLI.
struct Cert {
  std::string cert;
  std::string key;
};

Cert MakeCert(const TempDir& dir, const std::string& name, int days) {
  Cert c{dir.Sub(name + ".crt"), dir.Sub(name + ".key")};
  std::string cmd =
      "openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes "
      "-keyout " +
      c.key + " -out " + c.cert + " -days " + std::to_string(days) +
      " -subj /CN=localhost -addext subjectAltName=DNS:localhost,IP:127.0.0.1 "
      ">/dev/null 2>&1";
  EXPECT_EQ(std::system(cmd.c_str()), 0) << cmd;
  return c;
}

class TlsProbeTest : public ::testing::Test {
 protected:
  void Serve(const Cert& cert) {
    server_ = std::make_unique<Running<httplib::SSLServer>>(cert.cert.c_str(), cert.key.c_str());
    server_->server().Get("/", [](const httplib::Request&, httplib::Response& res) {
      res.set_content("secure", "text/plain");
    });
    server_->Start();
  }
  config::Monitor Tls(const std::string& ca_file, int min_days) {
    config::Monitor m;
    m.name = "cert";
    m.kind = config::ProbeKind::kTls;
    m.target = "127.0.0.1:" + std::to_string(server_->port());
    m.server_name = "localhost";
    m.ca_file = ca_file;
    m.min_days_valid = min_days;
    m.timeout = milliseconds(3000);
    return m;
  }

  TempDir dir_;
  std::unique_ptr<Running<httplib::SSLServer>> server_;
};

TEST_F(TlsProbeTest, ValidChainWithCaFileReportsDaysLeft) {
  Cert cert = MakeCert(dir_, "month", 30);
  Serve(cert);
  ProbeResult r = RunProbe(Tls(cert.cert, 7), {});
  EXPECT_TRUE(r.success) << r.error;
  EXPECT_EQ(Extra(r, "probe_tls_chain_valid"), 1);
  EXPECT_NEAR(Extra(r, "probe_tls_days_left"), 30, 0.1);
  double now =
      std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch()).count();
  EXPECT_NEAR(Extra(r, "probe_ssl_earliest_cert_expiry"), now + 30 * 86400, 600);
}

TEST_F(TlsProbeTest, SelfSignedChainIsInvalidWithoutCaFile) {
  Cert cert = MakeCert(dir_, "month", 30);
  Serve(cert);
  ProbeResult r = RunProbe(Tls("", 0), {});
  EXPECT_FALSE(r.success);
  EXPECT_EQ(r.error, "certificate chain not valid: self-signed certificate");
  EXPECT_EQ(Extra(r, "probe_tls_chain_valid"), 0);
  EXPECT_NEAR(Extra(r, "probe_tls_days_left"), 30, 0.1);  // expiry is reported anyway
}

TEST_F(TlsProbeTest, CertificateExpiringSoonFailsMinDaysValid) {
  Cert cert = MakeCert(dir_, "day", 1);
  Serve(cert);
  ProbeResult r = RunProbe(Tls(cert.cert, 7), {});
  EXPECT_FALSE(r.success);
  EXPECT_EQ(r.error, "certificate expires in 1.0 days, fewer than min_days_valid 7");
  EXPECT_EQ(Extra(r, "probe_tls_chain_valid"), 1);
  EXPECT_NEAR(Extra(r, "probe_tls_days_left"), 1, 0.01);
  EXPECT_TRUE(RunProbe(Tls(cert.cert, 0), {}).success);
}

TEST_F(TlsProbeTest, ServerNameMustMatchTheCertificate) {
  Cert cert = MakeCert(dir_, "month", 30);
  Serve(cert);
  config::Monitor m = Tls(cert.cert, 0);
  m.server_name = "other.example";
  ProbeResult r = RunProbe(m, {});
  EXPECT_FALSE(r.success);
  EXPECT_EQ(r.error, "certificate chain not valid: hostname mismatch");
}

TEST_F(TlsProbeTest, MissingCaFileIsAnError) {
  Cert cert = MakeCert(dir_, "month", 30);
  Serve(cert);
  ProbeResult r = RunProbe(Tls(dir_.Sub("none.pem"), 0), {});
  EXPECT_FALSE(r.success);
  EXPECT_TRUE(r.error.starts_with("cannot load ca_file '" + dir_.Sub("none.pem") + "'")) << r.error;
}

TEST_F(TlsProbeTest, HttpsProbeChecksTheCertificateUnlessInsecure) {
  Cert cert = MakeCert(dir_, "month", 30);
  Serve(cert);
  config::Monitor m;
  m.kind = config::ProbeKind::kHttp;
  m.url = "https://127.0.0.1:" + std::to_string(server_->port()) + "/";
  m.timeout = milliseconds(3000);
  ProbeResult r = RunProbe(m, {});
  EXPECT_FALSE(r.success);
  EXPECT_FALSE(r.error.empty());
  m.insecure_skip_verify = true;
  r = RunProbe(m, {});
  EXPECT_TRUE(r.success) << r.error;
  EXPECT_EQ(Extra(r, "probe_http_ssl"), 1);
}

TEST(TlsProbe, PlainTcpServerFailsTheHandshake) {
  Running<httplib::Server> plain;
  plain.server().Get("/", [](const httplib::Request&, httplib::Response& res) {
    res.set_content("plain", "text/plain");
  });
  plain.Start();
  config::Monitor m;
  m.kind = config::ProbeKind::kTls;
  m.target = "127.0.0.1:" + std::to_string(plain.port());
  m.timeout = milliseconds(2000);
  ProbeResult r = RunProbe(m, {});
  EXPECT_FALSE(r.success);
  EXPECT_TRUE(r.error.starts_with("TLS handshake failed")) << r.error;
  EXPECT_TRUE(r.extra.empty());
}

TEST(ProbeInstance, NamesWhatIsProbed) {
  config::Monitor m;
  m.kind = config::ProbeKind::kHttp;
  m.url = "http://a/";
  EXPECT_EQ(ProbeInstance(m), "http://a/");
  m.kind = config::ProbeKind::kTls;
  m.target = "a:443";
  EXPECT_EQ(ProbeInstance(m), "a:443");
  m.kind = config::ProbeKind::kExec;
  m.command = {"/bin/sh", "-c", "test -f x"};
  EXPECT_EQ(ProbeInstance(m), "test -f x");
  m.command = {"pg_isready", "-q"};
  EXPECT_EQ(ProbeInstance(m), "pg_isready");
}

}  // namespace
}  // namespace steward::monitor
