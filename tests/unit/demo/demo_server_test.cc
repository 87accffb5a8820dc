// Runs the real routes on an OS-chosen port in-process and talks to them over loopback.
#include "demo_server.h"

#include <gtest/gtest.h>

#include <chrono>
#include <thread>

namespace steward::demo {
namespace {

class DemoServerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    DemoOptions o;
    o.name = "web";
    o.replica = "0";
    service_ = std::make_unique<DemoService>(
        o, RealClock::Get(), [] { return 0.5; },
        [this](int status, const std::string&) { exit_status_ = status; });
    InstallDemoRoutes(
        service_.get(), &server_, ServerOptions{},
        [this](int status, const std::string&) { exit_status_ = status; }, nullptr);
    port_ = server_.bind_to_any_port("127.0.0.1");
    ASSERT_GT(port_, 0);
    thread_ = std::thread([this] { server_.listen_after_bind(); });
    auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
    while (!server_.is_running() && std::chrono::steady_clock::now() < deadline) {
      std::this_thread::yield();
    }
    ASSERT_TRUE(server_.is_running());
    client_ = std::make_unique<httplib::Client>("127.0.0.1", port_);
    client_->set_read_timeout(5, 0);
  }

  void TearDown() override {
    service_->Shutdown();
    server_.stop();
    if (thread_.joinable()) thread_.join();
  }

  std::unique_ptr<DemoService> service_;
  httplib::Server server_;
  std::thread thread_;
  std::unique_ptr<httplib::Client> client_;
  int port_ = 0;
  std::atomic<int> exit_status_{-1};
};

TEST_F(DemoServerTest, ServesGreetingHealthAndMetrics) {
  auto root = client_->Get("/");
  ASSERT_TRUE(root);
  EXPECT_EQ(root->status, 200);
  EXPECT_EQ(root->body, "hello from web (replica 0)\n");

  auto health = client_->Get("/healthz");
  ASSERT_TRUE(health);
  EXPECT_EQ(health->status, 200);
  EXPECT_EQ(health->body, "ok\n");

  auto metrics = client_->Get("/metrics");
  ASSERT_TRUE(metrics);
  EXPECT_EQ(metrics->status, 200);
  EXPECT_EQ(metrics->get_header_value("Content-Type"), metrics::kContentType);
  // The logger records a request after its response is written; poll until the count shows.
  std::string body = metrics->body;
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(5);
  while (body.find("demo_requests_total{path=\"/healthz\",code=\"200\"} 1") == std::string::npos &&
         std::chrono::steady_clock::now() < deadline) {
    body = client_->Get("/metrics")->body;
  }
  EXPECT_NE(body.find("demo_requests_total{path=\"/\",code=\"200\"} 1\n"), std::string::npos)
      << body;
  EXPECT_NE(body.find("demo_requests_total{path=\"/healthz\",code=\"200\"} 1\n"),
            std::string::npos);
}

TEST_F(DemoServerTest, FormErrorRateOneMakesRootFail) {
  auto set = client_->Post("/admin/misbehave", "error_rate=1", "application/x-www-form-urlencoded");
  ASSERT_TRUE(set);
  EXPECT_EQ(set->status, 200) << set->body;
  auto root = client_->Get("/");
  ASSERT_TRUE(root);
  EXPECT_EQ(root->status, 500);
  auto health = client_->Get("/healthz");
  ASSERT_TRUE(health);
  EXPECT_EQ(health->status, 200);  // errors on / do not make the replica unhealthy
}

TEST_F(DemoServerTest, JsonAdminRequestSetsUnhealthy) {
  auto set = client_->Post("/admin/misbehave", R"({"unhealthy": true})", "application/json");
  ASSERT_TRUE(set);
  EXPECT_EQ(set->status, 200) << set->body;
  auto health = client_->Get("/healthz");
  ASSERT_TRUE(health);
  EXPECT_EQ(health->status, 503);
  auto state = client_->Get("/admin/state");
  ASSERT_TRUE(state);
  EXPECT_NE(state->body.find("\"unhealthy\":true"), std::string::npos);
}

TEST_F(DemoServerTest, BadAdminRequestIs400) {
  auto set = client_->Post("/admin/misbehave", R"({"latency": "soon"})", "application/json");
  ASSERT_TRUE(set);
  EXPECT_EQ(set->status, 400);
  EXPECT_NE(set->body.find("invalid duration"), std::string::npos);
}

TEST_F(DemoServerTest, CrashAnswersFirstThenExitsWithOne) {
  auto set = client_->Post("/admin/misbehave", "crash=true", "application/x-www-form-urlencoded");
  ASSERT_TRUE(set);
  EXPECT_EQ(set->status, 200);
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(5);
  while (exit_status_.load() == -1 && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::yield();
  }
  EXPECT_EQ(exit_status_.load(), 1);
}

}  // namespace
}  // namespace steward::demo
