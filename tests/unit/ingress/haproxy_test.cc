// The ingress against a real haproxy: start, slots, weights, counters, errors and stop.
#include "ingress/haproxy.h"

#include <gtest/gtest.h>
#include <signal.h>

#include <fstream>
#include <sstream>

#include "ingress/haproxy_internal.h"
#include "unit/ingress/ingress_peers.h"

namespace steward::ingress {
namespace {

using std::chrono::milliseconds;
using testing::Backend;
using testing::FreePort;
using testing::MakeFrontend;
using testing::ScratchDir;

HaproxyOptions Options(const ScratchDir& dir) {
  HaproxyOptions o;
  o.dir = dir.path();
  o.haproxy = "/usr/sbin/haproxy";
  return o;
}

// Starts haproxy and stops it when the test ends, whatever happens in between.
class Running {
 public:
  Running(const HaproxyOptions& options, const std::vector<Frontend>& frontends) {
    auto h = Haproxy::Start(options, frontends);
    EXPECT_TRUE(h.ok()) << h.status().ToString();
    if (h.ok()) h_ = std::move(h).value();
  }
  ~Running() {
    if (h_) {
      EXPECT_TRUE(h_->Stop().ok());
    }
  }
  Haproxy* operator->() { return h_.get(); }
  bool ok() const { return h_ != nullptr; }

 private:
  std::unique_ptr<Haproxy> h_;
};

std::string Get(int port, int* status = nullptr) {
  httplib::Client client("127.0.0.1", port);
  auto res = client.Get("/");
  if (!res) return "error " + httplib::to_string(res.error());
  if (status) *status = res->status;
  return res->body;
}

TEST(HaproxyConfig, DeclaresParkedSlotsChecksAndStats) {
  HaproxyOptions o;
  o.dir = "/tmp/x";
  o.stats_port = 9101;
  Frontend web = MakeFrontend("web", 8080, 6);
  web.health_path = "/healthz";
  web.retries = 3;
  std::string cfg = RenderConfig(o, {web, MakeFrontend("api", 8081)});
  EXPECT_NE(cfg.find("stats socket /tmp/x/admin.sock mode 600 level admin expose-fd listeners"),
            std::string::npos);
  EXPECT_NE(cfg.find("frontend web\n  bind 127.0.0.1:8080\n"), std::string::npos);
  EXPECT_NE(cfg.find("server-template s 1-6 127.0.0.1:1 disabled pool-purge-delay 1s check"),
            std::string::npos);
  EXPECT_NE(cfg.find("option httpchk GET /healthz"), std::string::npos);
  EXPECT_NE(cfg.find("  retries 3\n"), std::string::npos);
  EXPECT_NE(cfg.find("server-template s 1-4 127.0.0.1:1 disabled pool-purge-delay 1s\n"),
            std::string::npos);
  EXPECT_NE(cfg.find("bind 127.0.0.1:9101"), std::string::npos);
  EXPECT_NE(cfg.find("prometheus-exporter if { path /metrics }"), std::string::npos);
  // Without a stats port there is no stats frontend.
  o.stats_port = 0;
  EXPECT_EQ(RenderConfig(o, {web}).find("steward_stats"), std::string::npos);
}

TEST(HaproxyConfig, RejectsFrontendsHaproxyCannotServe) {
  auto error = [](Frontend f) { return internal::ValidateFrontends({f}).message(); };
  Frontend f = MakeFrontend("web", 8080);
  EXPECT_TRUE(internal::ValidateFrontends({f}).ok());
  f.service = "my web";
  EXPECT_NE(error(f).find("service name must be"), std::string::npos) << error(f);
  f = MakeFrontend("web", 70000);
  EXPECT_NE(error(f).find("port 70000 is out of range; want 1..65535"), std::string::npos);
  f = MakeFrontend("web", 8080, 0);
  EXPECT_NE(error(f).find("slots 0 is out of range"), std::string::npos);
  f = MakeFrontend("web", 8080);
  f.health_path = "healthz";
  EXPECT_NE(error(f).find("must start with '/'"), std::string::npos);
  Status twice = internal::ValidateFrontends({MakeFrontend("a", 8080), MakeFrontend("b", 8080)});
  EXPECT_NE(twice.message().find("frontends[1] (service 'b'): 127.0.0.1:8080 is already used"),
            std::string::npos)
      << twice.ToString();
}

TEST(HaproxyRuntime, ParsesShowStatRowsOfOneBackend) {
  std::string csv =
      "# pxname,svname,qcur,qmax,scur,smax,slim,stot,econ,status,weight,hrsp_1xx,hrsp_2xx,"
      "hrsp_3xx,hrsp_4xx,hrsp_5xx,hrsp_other,addr,\n"
      "web,FRONTEND,,,0,0,0,5,,OPEN,,0,5,0,0,0,0,,\n"
      "web,s2,0,0,0,0,,0,0,MAINT,1,0,0,0,0,0,0,127.0.0.1:1,\n"
      "web,s1,0,0,2,3,,7,1,UP,90,0,5,0,1,1,0,127.0.0.1:18081,\n"
      "api,s1,0,0,0,0,,9,0,UP,1,0,9,0,0,0,0,127.0.0.1:18090,\n"
      "web,BACKEND,0,0,2,3,,7,1,UP,90,0,5,0,1,1,0,,\n";
  auto servers = internal::ParseServerStats(csv, "web");
  ASSERT_TRUE(servers.ok()) << servers.status().ToString();
  ASSERT_EQ(servers->size(), 2u);
  const ServerState& s1 = (*servers)[0];
  EXPECT_EQ(s1.slot, 1);
  EXPECT_EQ(s1.addr, "127.0.0.1:18081");
  EXPECT_EQ(s1.weight, 90);
  EXPECT_EQ(s1.status, "UP");
  EXPECT_EQ(s1.sessions_total, 7);
  EXPECT_EQ(s1.current_sessions, 2);
  EXPECT_EQ(s1.responses_total, 7);
  EXPECT_EQ(s1.responses_5xx, 1);
  EXPECT_EQ(s1.connection_errors, 1);
  EXPECT_EQ((*servers)[1].slot, 2);
  EXPECT_EQ((*servers)[1].addr, "");  // parked
  EXPECT_FALSE(internal::ParseServerStats("Unknown command\n", "web").ok());
}

TEST(HaproxyRuntime, ParsesShowProc) {
  std::string text =
      "#<PID>          <type>          <reloads>       <uptime>        <version>\n"
      "24032           master          2 [failed: 1]   0d00h10m19s     2.6.12\n"
      "# workers\n"
      "300             worker          0               0d00h00m03s     2.6.12\n"
      "# old workers\n"
      "299             worker          1               0d00h01m03s     2.6.12\n"
      "# programs\n\n";
  auto info = internal::ParseShowProc(text);
  ASSERT_TRUE(info.ok()) << info.status().ToString();
  EXPECT_EQ(info->workers, std::vector<int>{300});
  EXPECT_EQ(info->old_workers, std::vector<int>{299});
  EXPECT_EQ(info->failed_reloads, 1);
}

TEST(Haproxy, AlternatesBetweenServersAndHonoursWeights) {
  ScratchDir dir;
  Backend a("a"), b("b");
  int port = FreePort();
  Running h(Options(dir), {MakeFrontend("web", port)});
  ASSERT_TRUE(h.ok());
  // Every slot starts parked: nothing to serve yet.
  int status = 0;
  Get(port, &status);
  EXPECT_EQ(status, 503);

  ASSERT_TRUE(h->SetServer("web", 1, "127.0.0.1", a.port(), 1).ok());
  ASSERT_TRUE(h->SetServer("web", 2, "127.0.0.1", b.port(), 1).ok());
  std::vector<std::string> seen;
  for (int i = 0; i < 6; ++i) seen.push_back(Get(port));
  for (int i = 1; i < 6; ++i) EXPECT_NE(seen[i], seen[i - 1]) << "request " << i;

  ASSERT_TRUE(h->SetWeight("web", 1, 90).ok());
  ASSERT_TRUE(h->SetWeight("web", 2, 10).ok());
  std::map<std::string, int> counts;
  for (int i = 0; i < 1000; ++i) ++counts[Get(port)];
  EXPECT_EQ(counts["a"] + counts["b"], 1000);
  EXPECT_NEAR(counts["a"], 900, 30);
  EXPECT_NEAR(counts["b"], 100, 30);
}

TEST(Haproxy, ServersReportAddressWeightStatusAndCounts) {
  ScratchDir dir;
  Backend ok("ok"), broken("broken", 500);
  int port = FreePort();
  Running h(Options(dir), {MakeFrontend("web", port, 3)});
  ASSERT_TRUE(h.ok());
  ASSERT_TRUE(h->SetServer("web", 1, "127.0.0.1", ok.port(), 20).ok());
  ASSERT_TRUE(h->SetServer("web", 3, "127.0.0.1", broken.port(), 20).ok());
  for (int i = 0; i < 10; ++i) Get(port);

  auto servers = h->Servers("web");
  ASSERT_TRUE(servers.ok()) << servers.status().ToString();
  ASSERT_EQ(servers->size(), 3u);
  const ServerState& s1 = (*servers)[0];
  EXPECT_EQ(s1.slot, 1);
  EXPECT_EQ(s1.addr, "127.0.0.1:" + std::to_string(ok.port()));
  EXPECT_EQ(s1.weight, 20);
  EXPECT_EQ(s1.status, "no check");
  EXPECT_EQ(s1.responses_total, 5);
  EXPECT_EQ(s1.responses_5xx, 0);
  const ServerState& s2 = (*servers)[1];
  EXPECT_EQ(s2.slot, 2);
  EXPECT_EQ(s2.status, "MAINT");
  EXPECT_EQ(s2.addr, "");
  const ServerState& s3 = (*servers)[2];
  EXPECT_EQ(s3.addr, "127.0.0.1:" + std::to_string(broken.port()));
  EXPECT_EQ(s3.responses_total, 5);
  EXPECT_EQ(s3.responses_5xx, 5);
  EXPECT_EQ(s3.sessions_total, 5);

  ASSERT_TRUE(h->Park("web", 3).ok());
  servers = h->Servers("web");
  ASSERT_TRUE(servers.ok());
  EXPECT_EQ((*servers)[2].status, "MAINT");

  EXPECT_EQ(h->SetServer("web", 4, "127.0.0.1", ok.port(), 1).code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(h->SetServer("nope", 1, "127.0.0.1", ok.port(), 1).code(), StatusCode::kNotFound);
  EXPECT_EQ(h->SetWeight("web", 1, 300).code(), StatusCode::kInvalidArgument);
  Status bad_host = h->SetServer("web", 2, "not-an-ip", ok.port(), 1);
  EXPECT_FALSE(bad_host.ok());
  EXPECT_NE(bad_host.message().find("slot 2"), std::string::npos) << bad_host.ToString();
  auto info = h->Command("show info");
  ASSERT_TRUE(info.ok());
  EXPECT_NE(info->find("Name: HAProxy"), std::string::npos);
}

TEST(Haproxy, HealthChecksKeepAFailingServerOutOfRotation) {
  ScratchDir dir;
  Backend healthy("healthy"), sick("sick", 500);
  int port = FreePort();
  Frontend f = MakeFrontend("web", port);
  f.health_path = "/healthz";
  Running h(Options(dir), {f});
  ASSERT_TRUE(h.ok());
  ASSERT_TRUE(h->SetServer("web", 1, "127.0.0.1", healthy.port(), 1).ok());
  ASSERT_TRUE(h->SetServer("web", 2, "127.0.0.1", sick.port(), 1).ok());
  // The sick one fails its check within a couple of intervals (inter 1s, fall 2).
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  std::string sick_status;
  while (std::chrono::steady_clock::now() < deadline) {
    auto servers = h->Servers("web");
    ASSERT_TRUE(servers.ok());
    sick_status = (*servers)[1].status;
    if (sick_status.rfind("DOWN", 0) == 0) break;
    std::this_thread::sleep_for(milliseconds(100));
  }
  EXPECT_EQ(sick_status.substr(0, 4), "DOWN");
  for (int i = 0; i < 10; ++i) EXPECT_EQ(Get(port), "healthy");
}

TEST(Haproxy, StatsPortServesPrometheusMetrics) {
  ScratchDir dir;
  Backend a("a", 503);
  int port = FreePort();
  HaproxyOptions o = Options(dir);
  o.stats_port = FreePort();
  Running h(o, {MakeFrontend("web", port)});
  ASSERT_TRUE(h.ok());
  ASSERT_TRUE(h->SetServer("web", 2, "127.0.0.1", a.port(), 1).ok());
  Get(port);
  httplib::Client client("127.0.0.1", o.stats_port);
  auto res = client.Get("/metrics");
  ASSERT_TRUE(res);
  EXPECT_EQ(res->status, 200);
  EXPECT_NE(res->body.find("haproxy_server_http_responses_total{proxy=\"web\",server=\"s2\","
                           "code=\"5xx\"} 1"),
            std::string::npos)
      << res->body.substr(0, 2000);
}

TEST(Haproxy, PortInUseIsAClearError) {
  ScratchDir dir;
  Backend taken("taken");
  auto h = Haproxy::Start(Options(dir), {MakeFrontend("web", taken.port())});
  ASSERT_FALSE(h.ok());
  EXPECT_NE(h.status().message().find("frontend 'web'"), std::string::npos)
      << h.status().ToString();
  EXPECT_NE(h.status().message().find(std::to_string(taken.port())), std::string::npos);
  EXPECT_NE(h.status().message().find("Address already in use"), std::string::npos)
      << h.status().ToString();
}

TEST(Haproxy, ConfigHaproxyRejectsQuotesHaproxy) {
  ScratchDir dir;
  Frontend f = MakeFrontend("web", FreePort());
  f.bind = "300.1.2.3";
  auto h = Haproxy::Start(Options(dir), {f});
  ASSERT_FALSE(h.ok());
  EXPECT_EQ(h.status().code(), StatusCode::kInvalidArgument);
  EXPECT_NE(h.status().message().find("haproxy rejects the generated config"), std::string::npos)
      << h.status().ToString();
  EXPECT_NE(h.status().message().find("300.1.2.3"), std::string::npos) << h.status().ToString();
  EXPECT_NE(h.status().message().find("[ALERT]"), std::string::npos) << h.status().ToString();
  EXPECT_NE(h.status().message().find("parsing [" + dir.path() + "/haproxy.cfg:"),
            std::string::npos)
      << h.status().ToString();

  auto invalid = Haproxy::Start(Options(dir), {MakeFrontend("web", 0)});
  ASSERT_FALSE(invalid.ok());
  EXPECT_NE(invalid.status().message().find("port 0 is out of range"), std::string::npos);

  HaproxyOptions missing = Options(dir);
  missing.haproxy = "/nonexistent/haproxy";
  auto absent = Haproxy::Start(missing, {MakeFrontend("web", FreePort())});
  ASSERT_FALSE(absent.ok());
  EXPECT_NE(absent.status().message().find("/nonexistent/haproxy"), std::string::npos)
      << absent.status().ToString();
}

TEST(Haproxy, StopLeavesNoHaproxyProcess) {
  ScratchDir dir;
  int port = FreePort();
  auto h = Haproxy::Start(Options(dir), {MakeFrontend("web", port)});
  ASSERT_TRUE(h.ok()) << h.status().ToString();
  int master = (*h)->pid();
  ASSERT_GT(master, 0);
  auto proc = internal::SocketCommand(dir.path() + "/master.sock", "show proc", milliseconds(5000));
  ASSERT_TRUE(proc.ok()) << proc.status().ToString();
  auto info = internal::ParseShowProc(*proc);
  ASSERT_TRUE(info.ok());
  ASSERT_EQ(info->workers.size(), 1u);
  int worker = info->workers[0];
  EXPECT_EQ(kill(worker, 0), 0);

  ASSERT_TRUE((*h)->Stop().ok());
  EXPECT_EQ((*h)->pid(), 0);
  EXPECT_NE(kill(master, 0), 0) << "master " << master << " still exists";
  EXPECT_NE(kill(worker, 0), 0) << "worker " << worker << " still exists";
  EXPECT_FALSE(internal::AcceptsConnections("127.0.0.1", port));
  EXPECT_TRUE((*h)->Stop().ok());  // stopping twice is fine
}

TEST(Haproxy, TakesOverARunningHaproxy) {
  ScratchDir dir;
  Backend a("a");
  int port = FreePort();
  int first_pid = 0;
  {
    auto first = Haproxy::Start(Options(dir), {MakeFrontend("web", port)});
    ASSERT_TRUE(first.ok()) << first.status().ToString();
    first_pid = (*first)->pid();
    ASSERT_TRUE((*first)->SetServer("web", 1, "127.0.0.1", a.port(), 1).ok());
  }  // the object goes, haproxy stays (a restarted daemon finds it)
  ASSERT_TRUE(internal::AcceptsConnections("127.0.0.1", port));
  int api_port = FreePort();
  Running second(Options(dir), {MakeFrontend("web", port), MakeFrontend("api", api_port)});
  ASSERT_TRUE(second.ok());
  EXPECT_EQ(second->pid(), first_pid);
  // The slot set before the takeover survived the reload that added "api".
  EXPECT_EQ(Get(port), "a");
  EXPECT_TRUE(internal::AcceptsConnections("127.0.0.1", api_port));
}

}  // namespace
}  // namespace steward::ingress
