// The daemon's API hardening end to end (docs/api.md, "Authentication"): token scopes, 401/403
// with audit records, the failed-auth limit per address, the body size limit, CORS, the
// non-loopback refusal and HTTPS between the CLI and the daemon — and no token anywhere it
// should not be.
#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <httplib.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>

#include "base/clock.h"
#include "integration/harness.h"

namespace steward::testing {
namespace {

const char* kStack = R"(project: api-security
services:
  api:
    command: steward-demo
    health: {http: /healthz, interval: 300ms, timeout: 250ms}
)";

nlohmann::json DaemonJson(Project& p) {
  std::ifstream in(p.StateDir() + "/daemon.json");
  return nlohmann::json::parse(in, nullptr, false);
}

std::string AdminToken(Project& p) {
  std::ifstream t(p.StateDir() + "/api.token");
  std::string token;
  std::getline(t, token);
  return token;
}

struct Answer {
  int status = 0;
  std::string body;
  std::string retry_after;
  std::string allow_origin;
};

Answer Call(int port, const std::string& method, const std::string& path, const std::string& token,
            const std::string& body = "{}", const httplib::Headers& extra = {}) {
  httplib::Client cli("127.0.0.1", port);
  cli.set_connection_timeout(2, 0);
  cli.set_read_timeout(30, 0);
  httplib::Headers headers = extra;
  if (!token.empty()) headers.emplace("Authorization", "Bearer " + token);
  httplib::Result res = method == "GET"      ? cli.Get(path.c_str(), headers)
                        : method == "DELETE" ? cli.Delete(path.c_str(), headers)
                        : method == "OPTIONS"
                            ? cli.Options(path.c_str(), headers)
                            : cli.Post(path.c_str(), headers, body, "application/json");
  Answer a;
  if (!res) return a;
  a.status = res->status;
  a.body = res->body;
  a.retry_after = res->get_header_value("Retry-After");
  a.allow_origin = res->get_header_value("Access-Control-Allow-Origin");
  return a;
}

// One HTTP/1.1 request from a chosen loopback source address (127.0.0.0/8 all reaches this
// machine), so a test can be a "different client" to the failed-auth limiter. Returns the
// status and the raw answer.
int RawPost(int port, const std::string& source, const std::string& path, const std::string& token,
            std::string* answer) {
  int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return 0;
  sockaddr_in local{};
  local.sin_family = AF_INET;
  inet_pton(AF_INET, source.c_str(), &local.sin_addr);
  sockaddr_in peer{};
  peer.sin_family = AF_INET;
  peer.sin_port = htons(static_cast<uint16_t>(port));
  inet_pton(AF_INET, "127.0.0.1", &peer.sin_addr);
  timeval tv{5, 0};
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  if (bind(fd, reinterpret_cast<sockaddr*>(&local), sizeof local) != 0 ||
      connect(fd, reinterpret_cast<sockaddr*>(&peer), sizeof peer) != 0) {
    close(fd);
    return 0;
  }
  std::string req = "POST " + path + " HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n" +
                    "Authorization: Bearer " + token +
                    "\r\nContent-Type: application/json\r\nContent-Length: 2\r\n\r\n{}";
  if (write(fd, req.data(), req.size()) != static_cast<ssize_t>(req.size())) {
    close(fd);
    return 0;
  }
  std::string got;
  char buf[4096];
  ssize_t n;
  while ((n = read(fd, buf, sizeof buf)) > 0) got.append(buf, static_cast<size_t>(n));
  close(fd);
  if (answer) *answer = got;
  if (got.rfind("HTTP/1.1 ", 0) != 0 || got.size() < 12) return 0;
  return std::atoi(got.substr(9, 3).c_str());
}

// The audit log as `steward audit --json` prints it (newest first).
nlohmann::json Audit(Project& p, std::string* raw = nullptr) {
  RunResult r = p.Steward({"audit", "--since", "1h", "--json"});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  if (raw) *raw = r.out + r.err;
  auto j = nlohmann::json::parse(r.out, nullptr, false);
  return j.is_array() ? j : nlohmann::json::array();
}

// The newest audit record for method and path, or null.
nlohmann::json Find(const nlohmann::json& audit, const std::string& method, const std::string& path,
                    int status) {
  for (const auto& r : audit)
    if (r.value("method", "") == method && r.value("path", "") == path &&
        r.value("status", 0) == status)
      return r;
  return nullptr;
}

std::string CreateToken(Project& p, const std::string& name, const std::string& scope) {
  RunResult r = p.Steward({"token", "create", name, "--scope", scope});
  EXPECT_EQ(r.exit_code, 0) << r.out << r.err;
  std::string token = r.out.substr(0, r.out.find('\n'));
  EXPECT_EQ(token.rfind("stw_", 0), 0u) << r.out;
  EXPECT_EQ(r.err.find(token), std::string::npos) << "printed once, on stdout";
  return token;
}

// Every file under `dir` (recursively) whose bytes contain `needle`.
std::vector<std::string> FilesContaining(const std::string& dir, const std::string& needle) {
  std::vector<std::string> out;
  std::error_code ec;
  for (auto it = std::filesystem::recursive_directory_iterator(dir, ec);
       it != std::filesystem::recursive_directory_iterator(); it.increment(ec)) {
    if (ec) break;
    if (!it->is_regular_file(ec)) continue;
    if (ReadFile(it->path().string()).find(needle) != std::string::npos)
      out.push_back(it->path().string());
  }
  return out;
}

std::string Silence() {
  auto now = std::chrono::system_clock::now();
  return nlohmann::json{
      {"matchers", {{{"name", "alertname"}, {"value", "Nothing"}, {"isRegex", false}}}},
      {"startsAt", FormatRfc3339(now)},
      {"endsAt", FormatRfc3339(now + std::chrono::hours(1))},
      {"createdBy", "ci"},
      {"comment", "deploy window"}}
      .dump();
}

TEST(ApiSecurity, ScopesDecideAndEveryMutatingCallIsAudited) {
  Project p;
  p.WriteStack(kStack);
  ASSERT_APPLY_OK(p);
  const int port = DaemonJson(p).value("port", 0);
  const std::string admin = AdminToken(p);
  std::string responses;  // every answer, searched for tokens at the end

  // No token, a wrong one: 401, and the refused POST is on record without an actor.
  Answer a = Call(port, "POST", "/api/v1/destroy", "");
  responses += a.body;
  EXPECT_EQ(a.status, 401) << a.body;
  EXPECT_NE(a.body.find("\"errorType\":\"unauthorized\""), std::string::npos) << a.body;
  a = Call(port, "POST", "/api/v1/destroy", "stw_" + std::string(64, 'f'));
  responses += a.body;
  EXPECT_EQ(a.status, 401);
  EXPECT_EQ(a.body.find("ffffffff"), std::string::npos) << "the token is never echoed";
  auto audit = Audit(p);
  auto denied = Find(audit, "POST", "/api/v1/destroy", 401);
  ASSERT_FALSE(denied.is_null()) << audit.dump(2);
  EXPECT_EQ(denied["actor"], "-");
  EXPECT_EQ(denied["scope"], "-");
  EXPECT_EQ(denied["result"], "denied");
  EXPECT_EQ(denied["remote"], "127.0.0.1");

  // Tokens are made without the daemon's help, only in the state store.
  const std::string viewer = CreateToken(p, "viewer", "read");
  const std::string ci = CreateToken(p, "ci", "deploy");
  RunResult list = p.Steward({"token", "list", "--json"});
  ASSERT_EQ(list.exit_code, 0) << list.err;
  EXPECT_NE(list.out.find("\"viewer\""), std::string::npos);
  EXPECT_EQ(list.out.find(viewer), std::string::npos);

  // Read: GETs and queries, not changes; the 403 names the scope needed.
  a = Call(port, "GET", "/api/v1/status", viewer);
  responses += a.body;
  EXPECT_EQ(a.status, 200) << a.body;
  a = Call(port, "POST", "/api/v2/silences", viewer, Silence());
  responses += a.body;
  EXPECT_EQ(a.status, 403) << a.body;
  EXPECT_NE(a.body.find("\"required_scope\":\"deploy\""), std::string::npos) << a.body;
  audit = Audit(p);
  auto forbidden = Find(audit, "POST", "/api/v2/silences", 403);
  ASSERT_FALSE(forbidden.is_null()) << audit.dump(2);
  EXPECT_EQ(forbidden["actor"], "viewer");
  EXPECT_EQ(forbidden["scope"], "read");
  EXPECT_EQ(forbidden["result"], "denied");

  // Deploy: release work yes, destruction no.
  a = Call(port, "POST", "/api/v2/silences", ci, Silence());
  responses += a.body;
  EXPECT_EQ(a.status, 200) << a.body;
  a = Call(port, "POST", "/api/v1/admin/tsdb/flush", ci);
  responses += a.body;
  EXPECT_EQ(a.status, 403) << a.body;
  EXPECT_NE(a.body.find("\"required_scope\":\"admin\""), std::string::npos) << a.body;
  // Admin (api.token): everything.
  a = Call(port, "POST", "/api/v1/admin/tsdb/flush", admin);
  responses += a.body;
  EXPECT_EQ(a.status, 200) << a.body;

  audit = Audit(p);
  auto ok = Find(audit, "POST", "/api/v2/silences", 200);
  ASSERT_FALSE(ok.is_null()) << audit.dump(2);
  EXPECT_EQ(ok["actor"], "ci");
  EXPECT_EQ(ok["scope"], "deploy");
  EXPECT_EQ(ok["result"], "ok");
  auto flushed = Find(audit, "POST", "/api/v1/admin/tsdb/flush", 200);
  ASSERT_FALSE(flushed.is_null()) << audit.dump(2);
  EXPECT_EQ(flushed["actor"], "admin");
  // The CLI's own apply went through the API too, as admin.
  auto applied = Find(audit, "POST", "/api/v1/apply", 200);
  ASSERT_FALSE(applied.is_null()) << audit.dump(2);
  EXPECT_EQ(applied["actor"], "admin");
  EXPECT_EQ(applied["result"], "ok");
  // Reads are not audited.
  EXPECT_TRUE(Find(audit, "GET", "/api/v1/status", 200).is_null());

  // The CLI with a scoped token from the environment: reads work, `down` is refused.
  setenv("STEWARD_TOKEN", viewer.c_str(), 1);
  RunResult status = p.Steward({"status", "--json"});
  RunResult down = p.Steward({"down"});
  unsetenv("STEWARD_TOKEN");
  EXPECT_EQ(status.exit_code, 0) << status.err;
  EXPECT_NE(down.exit_code, 0);
  EXPECT_NE(down.err.find("scope admin"), std::string::npos) << down.err;
  EXPECT_EQ(down.err.find(viewer), std::string::npos);

  // A revoked token stops working (within the daemon's few-second cache).
  ASSERT_EQ(p.Steward({"token", "rm", "viewer"}).exit_code, 0);
  EXPECT_TRUE(
      PollUntil([&] { return Call(port, "GET", "/api/v1/status", viewer).status == 401; }, 10000));

  // CORS is off: a preflight is refused and no answer allows an origin.
  a = Call(port, "OPTIONS", "/api/v1/status", "", "",
           {{"Origin", "https://evil.example"}, {"Access-Control-Request-Method", "GET"}});
  EXPECT_EQ(a.status, 403);
  EXPECT_EQ(a.allow_origin, "");
  a = Call(port, "GET", "/api/v1/status", admin, "", {{"Origin", "https://evil.example"}});
  EXPECT_EQ(a.status, 200);
  EXPECT_EQ(a.allow_origin, "");

  // No token anywhere: not in answers, the audit log, the daemon's log or any state file.
  std::string audit_text;
  Audit(p, &audit_text);
  for (const std::string* token : {&viewer, &ci, &admin}) {
    EXPECT_EQ(responses.find(*token), std::string::npos);
    EXPECT_EQ(audit_text.find(*token), std::string::npos);
    EXPECT_EQ(ReadFile(p.StateDir() + "/daemon.log").find(*token), std::string::npos);
  }
  EXPECT_TRUE(FilesContaining(p.StateDir(), viewer).empty());
  EXPECT_TRUE(FilesContaining(p.StateDir(), ci).empty());
  EXPECT_EQ(FilesContaining(p.StateDir(), admin),
            std::vector<std::string>{p.StateDir() + "/api.token"});
}

TEST(ApiSecurity, FailedAuthIsLimitedPerAddressAndBodiesBySize) {
  Project p;
  p.WriteStack(kStack);
  RunResult r = p.Steward(
      {"apply", "--listen", "127.0.0.1:0", "--cors-origin", "https://grafana.example.com"});
  ASSERT_EQ(r.exit_code, 0) << r.out << r.err;
  const int port = DaemonJson(p).value("port", 0);
  const std::string admin = AdminToken(p);

  // Ten failures from 127.0.0.9 in well under a minute; the eleventh attempt is refused even
  // with the right token, and says when to come back.
  const std::string wrong = "stw_" + std::string(64, '0');
  std::string answer;
  for (int i = 0; i < 10; ++i)
    ASSERT_EQ(RawPost(port, "127.0.0.9", "/api/v1/destroy", wrong, &answer), 401)
        << "attempt " << i + 1 << ": " << answer;
  EXPECT_EQ(RawPost(port, "127.0.0.9", "/api/v1/destroy", admin, &answer), 429) << answer;
  EXPECT_NE(answer.find("Retry-After: "), std::string::npos) << answer;
  EXPECT_EQ(answer.find(admin), std::string::npos);
  // Another address is not affected.
  EXPECT_EQ(Call(port, "GET", "/api/v1/status", admin).status, 200);
  auto audit = Audit(p);
  auto limited = Find(audit, "POST", "/api/v1/destroy", 429);
  ASSERT_FALSE(limited.is_null()) << audit.dump(2);
  EXPECT_EQ(limited["remote"], "127.0.0.9");
  EXPECT_EQ(limited["result"], "denied");

  // A body over the limit (8 MiB by default) gets 413 with a reason, and is on record.
  Answer big = Call(port, "POST", "/api/v1/apply", admin, std::string(9 << 20, ' '));
  EXPECT_EQ(big.status, 413);
  EXPECT_NE(big.body.find("larger than the daemon accepts"), std::string::npos) << big.body;
  audit = Audit(p);
  auto too_large = Find(audit, "POST", "/api/v1/apply", 413);
  ASSERT_FALSE(too_large.is_null()) << audit.dump(2);
  EXPECT_EQ(too_large["actor"], "admin");

  // CORS for the configured origin only.
  Answer pre =
      Call(port, "OPTIONS", "/api/v1/query", "", "",
           {{"Origin", "https://grafana.example.com"}, {"Access-Control-Request-Method", "POST"}});
  EXPECT_EQ(pre.status, 204);
  EXPECT_EQ(pre.allow_origin, "https://grafana.example.com");
  pre = Call(port, "OPTIONS", "/api/v1/query", "", "", {{"Origin", "https://other.example"}});
  EXPECT_EQ(pre.status, 403);
  EXPECT_EQ(pre.allow_origin, "");
}

TEST(ApiSecurity, NonLoopbackListenNeedsTlsOrTheExplicitFlag) {
  Project p;
  p.WriteStack(kStack);
  for (const std::vector<std::string>& args :
       {std::vector<std::string>{"serve", "--listen", "0.0.0.0:0"},
        std::vector<std::string>{"apply", "--listen", "0.0.0.0:0"}}) {
    RunResult r = p.Steward(args, 20000);
    EXPECT_EQ(r.exit_code, 1) << r.out << r.err;
    EXPECT_NE(r.err.find("refusing to listen on 0.0.0.0"), std::string::npos) << r.err;
    EXPECT_NE(r.err.find("--tls-cert"), std::string::npos) << r.err;
    EXPECT_NE(r.err.find("--insecure-listen"), std::string::npos) << r.err;
  }
  EXPECT_FALSE(std::filesystem::exists(p.StateDir() + "/daemon.json"));
  RunResult half = p.Steward({"serve", "--listen", "127.0.0.1:0", "--tls-cert", "cert.pem"});
  EXPECT_EQ(half.exit_code, 1);
  EXPECT_NE(half.err.find("--tls-key"), std::string::npos) << half.err;
}

TEST(ApiSecurity, TheCliSpeaksHttpsToADaemonWithACertificate) {
  Project p;
  p.WriteStack(kStack);
  const std::string cert = p.dir() + "/tls/cert.pem", key = p.dir() + "/tls/key.pem";
  std::filesystem::create_directories(p.dir() + "/tls");
  std::string cmd =
      "openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj /CN=localhost "
      "-addext subjectAltName=IP:127.0.0.1,DNS:localhost -keyout " +
      key + " -out " + cert + " >/dev/null 2>&1";
  ASSERT_EQ(std::system(cmd.c_str()), 0) << cmd;

  RunResult r =
      p.Steward({"apply", "--listen", "127.0.0.1:0", "--tls-cert", cert, "--tls-key", key});
  ASSERT_EQ(r.exit_code, 0) << r.out << r.err;
  auto info = DaemonJson(p);
  EXPECT_EQ(info["scheme"], "https");
  EXPECT_EQ(info["tls_ca"], cert);
  const int port = info.value("port", 0);

  // The CLI finds and talks to the daemon over https (status, then down at the end).
  RunResult status = p.Steward({"status", "--json"});
  ASSERT_EQ(status.exit_code, 0) << status.err;
  EXPECT_NE(status.out.find("\"api\""), std::string::npos) << status.out;
  // steward query finds the https daemon the same way and verifies it.
  RunResult query = p.Steward({"query", "1+1", "--json"});
  ASSERT_EQ(query.exit_code, 0) << query.err;
  EXPECT_NE(query.out.find("\"2\""), std::string::npos) << query.out;
  // Named with --server, the daemon is verified against $STEWARD_TLS_CA, else the system
  // store, which does not know this certificate.
  const std::vector<std::string> remote = {"query", "1+1", "--json", "--server",
                                           "https://127.0.0.1:" + std::to_string(port),
                                           "--token-file", p.StateDir() + "/api.token"};
  RunResult with_ca = p.StewardWithInput(remote, "", {{"STEWARD_TLS_CA", cert}});
  ASSERT_EQ(with_ca.exit_code, 0) << with_ca.err;
  EXPECT_NE(with_ca.out.find("\"2\""), std::string::npos) << with_ca.out;
  RunResult without_ca = p.StewardWithInput(remote, "", {}, {"STEWARD_TLS_CA"});
  EXPECT_NE(without_ca.exit_code, 0) << without_ca.out;
  EXPECT_EQ(without_ca.out.find("\"2\""), std::string::npos) << without_ca.out;
  EXPECT_NE(without_ca.err.find("does not verify against the system's trust store; set "
                                "STEWARD_TLS_CA"),
            std::string::npos)
      << without_ca.err;

  // Plain HTTP gets no answer from the API; https with the certificate trusted does, and a
  // client that does not trust it is refused by verification.
  EXPECT_NE(HttpGet(port, "/healthz"), 200);
  httplib::Client trusted("https://127.0.0.1:" + std::to_string(port));
  trusted.set_ca_cert_path(cert.c_str());
  trusted.enable_server_certificate_verification(true);
  trusted.set_bearer_token_auth(AdminToken(p).c_str());
  auto res = trusted.Get("/api/v1/status");
  ASSERT_TRUE(res) << httplib::to_string(res.error());
  EXPECT_EQ(res->status, 200);
  httplib::Client untrusted("https://127.0.0.1:" + std::to_string(port));  // system CAs only
  untrusted.enable_server_certificate_verification(true);
  EXPECT_FALSE(untrusted.Get("/healthz"));

  RunResult down = p.Steward({"down"});
  EXPECT_EQ(down.exit_code, 0) << down.err;
}

}  // namespace
}  // namespace steward::testing
