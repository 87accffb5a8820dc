// The ingress's promise to deploys: clients keep getting answers while servers move in and out
// of slots, while a drained server's process stops, and while haproxy reloads.
#include <gtest/gtest.h>

#include "ingress/haproxy.h"
#include "ingress/haproxy_internal.h"
#include "unit/ingress/ingress_peers.h"

namespace steward::ingress {
namespace {

using std::chrono::milliseconds;
using testing::Backend;
using testing::ClientLoop;
using testing::FreePort;
using testing::MakeFrontend;
using testing::ScratchDir;

class HaproxyTraffic : public ::testing::Test {
 protected:
  void StartWith(const std::vector<Frontend>& frontends) {
    HaproxyOptions o;
    o.dir = dir_.path();
    o.haproxy = "/usr/sbin/haproxy";
    auto h = Haproxy::Start(o, frontends);
    ASSERT_TRUE(h.ok()) << h.status().ToString();
    h_ = std::move(h).value();
  }
  void TearDown() override {
    if (h_) {
      EXPECT_TRUE(h_->Stop().ok());
    }
  }
  ServerState Slot(const std::string& service, int slot) {
    auto servers = h_->Servers(service);
    EXPECT_TRUE(servers.ok()) << servers.status().ToString();
    for (const ServerState& s : servers.ok() ? *servers : std::vector<ServerState>{}) {
      if (s.slot == slot) return s;
    }
    return {};
  }

  ScratchDir dir_;
  std::unique_ptr<Haproxy> h_;
};

TEST_F(HaproxyTraffic, DrainAndParkWhileClientsRunFailsNoRequest) {
  // Slow answers keep requests in flight on the server being drained.
  Backend old1("old1", 200, milliseconds(20)), old2("old2", 200, milliseconds(20));
  Backend new1("new1", 200, milliseconds(20));
  int port = FreePort();
  StartWith({MakeFrontend("web", port)});
  ASSERT_TRUE(h_->SetServer("web", 1, "127.0.0.1", old1.port(), 10).ok());
  ASSERT_TRUE(h_->SetServer("web", 2, "127.0.0.1", old2.port(), 10).ok());

  ClientLoop a(port), b(port), c(port);
  a.WaitForRequests(20);
  ASSERT_TRUE(h_->SetServer("web", 3, "127.0.0.1", new1.port(), 10).ok());
  a.WaitForRequests(20);
  ASSERT_TRUE(h_->DrainAndPark("web", 1, milliseconds(5000)).ok());
  EXPECT_EQ(Slot("web", 1).status, "MAINT");
  EXPECT_EQ(Slot("web", 1).current_sessions, 0);
  int old1_after_park = old1.served();
  a.WaitForRequests(30);
  a.Stop();
  b.Stop();
  c.Stop();

  int failed = a.failed() + b.failed() + c.failed();
  EXPECT_EQ(failed, 0) << a.first_failure() << b.first_failure() << c.first_failure();
  EXPECT_GT(a.ok() + b.ok() + c.ok(), 60);
  EXPECT_GT(a.count("new1") + b.count("new1") + c.count("new1"), 0);
  EXPECT_EQ(old1.served(), old1_after_park) << "a parked server got requests";
}

TEST_F(HaproxyTraffic, StoppingAServerRightAfterDrainAndParkFailsNoRequest) {
  auto leaving = std::make_unique<Backend>("leaving", 200, milliseconds(20));
  Backend staying("staying", 200, milliseconds(5));
  int port = FreePort();
  StartWith({MakeFrontend("web", port)});
  ASSERT_TRUE(h_->SetServer("web", 1, "127.0.0.1", leaving->port(), 1).ok());
  ASSERT_TRUE(h_->SetServer("web", 2, "127.0.0.1", staying.port(), 1).ok());

  ClientLoop a(port), b(port);
  a.WaitForRequests(20);
  ASSERT_TRUE(h_->DrainAndPark("web", 1, milliseconds(5000)).ok());
  leaving->Stop();  // the old release's process exits as soon as it is parked
  leaving.reset();
  a.WaitForRequests(50);
  b.WaitForRequests(20);
  a.Stop();
  b.Stop();
  EXPECT_EQ(a.failed() + b.failed(), 0) << a.first_failure() << b.first_failure();
  EXPECT_GT(a.count("leaving") + b.count("leaving"), 0);
  EXPECT_GT(a.count("staying") + b.count("staying"), 0);
}

TEST_F(HaproxyTraffic, ARetryHidesAServerThatDiedWithoutDrain) {
  // A crash is not a deploy, but a request must still be retried on a live server rather than
  // failing (retries with redispatch).
  auto crashing = std::make_unique<Backend>("crashing");
  Backend alive("alive");
  int port = FreePort();
  StartWith({MakeFrontend("web", port)});
  ASSERT_TRUE(h_->SetServer("web", 1, "127.0.0.1", crashing->port(), 1).ok());
  ASSERT_TRUE(h_->SetServer("web", 2, "127.0.0.1", alive.port(), 1).ok());
  crashing->Stop();
  crashing.reset();
  ClientLoop a(port);
  a.WaitForRequests(40);
  a.Stop();
  EXPECT_EQ(a.failed(), 0) << a.first_failure();
  EXPECT_EQ(a.count("alive"), a.ok());
}

TEST_F(HaproxyTraffic, DrainAndParkParksAtTheTimeoutAndLetsTheOpenRequestFinish) {
  Backend slow("slow", 200, milliseconds(1500));
  int port = FreePort();
  StartWith({MakeFrontend("web", port)});
  ASSERT_TRUE(h_->SetServer("web", 1, "127.0.0.1", slow.port(), 1).ok());
  std::string body;
  std::thread request([&] {
    httplib::Client client("127.0.0.1", port);
    auto res = client.Get("/");
    body = res ? res->body : "error " + httplib::to_string(res.error());
  });
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(5);
  while (Slot("web", 1).current_sessions == 0 && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(milliseconds(10));
  }
  auto started = std::chrono::steady_clock::now();
  ASSERT_TRUE(h_->DrainAndPark("web", 1, milliseconds(200)).ok());
  EXPECT_LT(std::chrono::steady_clock::now() - started, milliseconds(1200));
  EXPECT_EQ(Slot("web", 1).status, "MAINT");
  request.join();
  EXPECT_EQ(body, "slow");
}

TEST_F(HaproxyTraffic, ReplacingTheOnlyHealthCheckedServerFailsNoRequest) {
  // With health checks, a server leaving maintenance serves before its first check has run, so
  // replacing the only server at once still leaves somebody to answer.
  Backend old1("old1", 200, milliseconds(5)), new1("new1", 200, milliseconds(5));
  int port = FreePort();
  Frontend f = MakeFrontend("web", port);
  f.health_path = "/healthz";
  StartWith({f});
  ASSERT_TRUE(h_->SetServer("web", 1, "127.0.0.1", old1.port(), 1).ok());
  ClientLoop a(port);
  a.WaitForRequests(20);
  ASSERT_TRUE(h_->SetServer("web", 2, "127.0.0.1", new1.port(), 1).ok());
  // haproxy counts it up at once ("UP 1/2": one failed check would take it down).
  EXPECT_EQ(Slot("web", 2).status.substr(0, 2), "UP");
  ASSERT_TRUE(h_->DrainAndPark("web", 1, milliseconds(5000)).ok());
  a.WaitForRequests(30);
  a.Stop();
  EXPECT_EQ(a.failed(), 0) << a.first_failure();
  EXPECT_GT(a.count("new1"), 0);
}

TEST_F(HaproxyTraffic, ReconfigureReloadsWithoutFailingRequestsAndKeepsServers) {
  Backend web1("web1", 200, milliseconds(10)), web2("web2", 200, milliseconds(10));
  Backend api1("api1");
  int web_port = FreePort();
  StartWith({MakeFrontend("web", web_port)});
  ASSERT_TRUE(h_->SetServer("web", 1, "127.0.0.1", web1.port(), 30).ok());
  ASSERT_TRUE(h_->SetServer("web", 3, "127.0.0.1", web2.port(), 70).ok());
  ASSERT_TRUE(h_->DrainAndPark("web", 3, milliseconds(2000)).ok());
  ASSERT_TRUE(h_->SetServer("web", 3, "127.0.0.1", web2.port(), 70).ok());
  ASSERT_TRUE(h_->SetServer("web", 2, "127.0.0.1", web2.port(), 5).ok());
  ASSERT_TRUE(h_->Park("web", 2).ok());
  int before_pid = h_->pid();

  ClientLoop a(web_port), b(web_port);
  a.WaitForRequests(20);
  int api_port = FreePort();
  auto started = std::chrono::steady_clock::now();
  Status st = h_->Reconfigure({MakeFrontend("web", web_port), MakeFrontend("api", api_port)});
  auto took = std::chrono::steady_clock::now() - started;
  ASSERT_TRUE(st.ok()) << st.ToString();
  a.WaitForRequests(20);
  a.Stop();
  b.Stop();
  EXPECT_EQ(a.failed() + b.failed(), 0) << a.first_failure() << b.first_failure();
  EXPECT_EQ(h_->pid(), before_pid);  // the master stays, its workers change
  EXPECT_LT(took, std::chrono::seconds(5));

  // Runtime-set slots survived the reload, parked ones stayed parked.
  ServerState s1 = Slot("web", 1), s2 = Slot("web", 2), s3 = Slot("web", 3);
  EXPECT_EQ(s1.addr, "127.0.0.1:" + std::to_string(web1.port()));
  EXPECT_EQ(s1.weight, 30);
  EXPECT_EQ(s2.status, "MAINT");
  EXPECT_EQ(s3.addr, "127.0.0.1:" + std::to_string(web2.port()));
  EXPECT_EQ(s3.weight, 70);
  EXPECT_EQ(s3.status, "no check");

  // The new frontend works, and an unchanged set of frontends does not reload.
  ASSERT_TRUE(h_->SetServer("api", 1, "127.0.0.1", api1.port(), 1).ok());
  httplib::Client api("127.0.0.1", api_port);
  auto res = api.Get("/");
  ASSERT_TRUE(res);
  EXPECT_EQ(res->body, "api1");
  auto proc =
      internal::SocketCommand(dir_.path() + "/master.sock", "show proc", milliseconds(5000));
  ASSERT_TRUE(proc.ok());
  auto workers = internal::ParseShowProc(*proc)->workers;
  ASSERT_TRUE(h_->Reconfigure({MakeFrontend("web", web_port), MakeFrontend("api", api_port)}).ok());
  proc = internal::SocketCommand(dir_.path() + "/master.sock", "show proc", milliseconds(5000));
  ASSERT_TRUE(proc.ok());
  EXPECT_EQ(internal::ParseShowProc(*proc)->workers, workers);

  // Removing a frontend closes its port; its slots are forgotten.
  ASSERT_TRUE(h_->Reconfigure({MakeFrontend("web", web_port)}).ok());
  EXPECT_FALSE(internal::AcceptsConnections("127.0.0.1", api_port));
  EXPECT_EQ(h_->Servers("api").status().code(), StatusCode::kNotFound);
}

TEST_F(HaproxyTraffic, ReconfigureOntoAPortInUseFailsAndKeepsServing) {
  Backend web1("web1");
  Backend squatter("squatter");
  int web_port = FreePort();
  StartWith({MakeFrontend("web", web_port)});
  ASSERT_TRUE(h_->SetServer("web", 1, "127.0.0.1", web1.port(), 1).ok());
  Status st =
      h_->Reconfigure({MakeFrontend("web", web_port), MakeFrontend("api", squatter.port())});
  ASSERT_FALSE(st.ok());
  EXPECT_NE(st.message().find("frontend 'api'"), std::string::npos) << st.ToString();
  EXPECT_NE(st.message().find("Address already in use"), std::string::npos) << st.ToString();
  httplib::Client web("127.0.0.1", web_port);
  auto res = web.Get("/");
  ASSERT_TRUE(res);
  EXPECT_EQ(res->body, "web1");
}

}  // namespace
}  // namespace steward::ingress
