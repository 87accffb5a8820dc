// Pipeline triggers in the real daemon: a webhook delivery signed with the pipeline's secret
// starts a run at the pushed commit (a bad signature starts nothing), a new commit on a watched
// branch starts a run, a run started through the API can be cancelled there and leaves no
// process behind, and every run records its trigger and commit.
#include <signal.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>

#include <gtest/gtest.h>
#include <httplib.h>

#include "integration/harness.h"
#include "unit/pipeline/webhook_signature.h"

namespace steward::testing {
namespace {

class Triggers : public ::testing::Test {
 protected:
  void Git(const std::string& args) {
    std::string cmd = "cd " + p_.dir() + " && git -c user.name=t -c user.email=t@example.com " +
                      args + " >/dev/null 2>&1";
    ASSERT_EQ(std::system(cmd.c_str()), 0) << cmd;
  }
  std::string Head() {
    std::string out;
    FILE* f = popen(("git -C " + p_.dir() + " rev-parse HEAD").c_str(), "r");
    char buf[128];
    while (f != nullptr && fgets(buf, sizeof buf, f) != nullptr) out += buf;
    if (f != nullptr) pclose(f);
    while (!out.empty() && out.back() == '\n') out.pop_back();
    return out;
  }
  int Port() {
    std::ifstream d(p_.StateDir() + "/daemon.json");
    return nlohmann::json::parse(d, nullptr, false).value("port", 0);
  }
  std::string Token() {
    std::ifstream t(p_.StateDir() + "/api.token");
    std::string token;
    t >> token;
    return token;
  }
  httplib::Result Post(const std::string& path, const httplib::Headers& headers,
                       const std::string& body) {
    httplib::Client c("127.0.0.1", Port());
    c.set_read_timeout(10, 0);
    return c.Post(path, headers, body, "application/json");
  }
  nlohmann::json Runs() {
    auto j = p_.Api("/api/v1/runs?limit=100");
    return j && j->contains("data") ? (*j)["data"] : nlohmann::json::array();
  }
  nlohmann::json Run(int64_t id) {
    auto j = p_.Api("/api/v1/runs/" + std::to_string(id));
    return j && j->contains("data") ? (*j)["data"] : nlohmann::json::object();
  }
  bool Finished(int64_t id) {
    std::string s = Run(id).value("status", "");
    return !s.empty() && s != "running";
  }

  Project p_;
};

constexpr const char* kStack = R"(project: triggers
services: {}
pipelines:
  ci:
    on:
      webhook: {secret: STEWARD_TEST_HOOK_SECRET}
      push: {branches: [main], poll: 1s}
    jobs:
      build:
        steps:
          - run: echo "building $GITHUB_SHA on $GITHUB_REF_NAME"
  slow:
    jobs:
      wait:
        run: sleep 1000.424242
)";

TEST_F(Triggers, WebhookPushAndApiRunsAreRecordedWithTheirTriggerAndCommit) {
  setenv("STEWARD_TEST_HOOK_SECRET", "hook-secret-1234", 1);
  p_.WriteStack(kStack);
  Git("init -q -b main");
  std::ofstream(p_.dir() + "/.gitignore") << ".steward/\n";
  Git("add steward.yaml .gitignore");
  Git("commit -q -m first");
  ASSERT_APPLY_OK(p_);
  std::string first = Head();

  // A delivery signed with another secret is refused and starts nothing.
  std::string body = R"({"ref":"refs/heads/main","after":")" + first +
                     R"(","repository":{"full_name":"t/triggers"},"head_commit":{"message":"first"}})";
  auto bad = Post("/hooks/ci", {{"X-GitHub-Event", "push"},
                                {"X-Hub-Signature-256", GithubSignature("wrong", body)}}, body);
  ASSERT_TRUE(bad);
  EXPECT_EQ(bad->status, 401) << bad->body;
  EXPECT_EQ(Runs().size(), 0u);
  // A push to a branch the pipeline does not watch is acknowledged and ignored.
  std::string other = R"({"ref":"refs/heads/feature","after":")" + first + R"("})";
  auto ignored = Post("/hooks/ci", {{"X-GitHub-Event", "push"},
                                    {"X-Hub-Signature-256", GithubSignature("hook-secret-1234", other)}},
                      other);
  ASSERT_TRUE(ignored);
  EXPECT_EQ(ignored->status, 200) << ignored->body;
  EXPECT_EQ(Runs().size(), 0u);

  // The signed delivery starts a run at the pushed commit.
  auto good = Post("/hooks/ci", {{"X-GitHub-Event", "push"},
                                 {"X-GitHub-Delivery", "delivery-42"},
                                 {"X-Hub-Signature-256", GithubSignature("hook-secret-1234", body)}},
                   body);
  ASSERT_TRUE(good);
  ASSERT_EQ(good->status, 202) << good->body;
  int64_t hook_run = nlohmann::json::parse(good->body).value("run_id", 0);
  ASSERT_GT(hook_run, 0);
  ASSERT_TRUE(PollUntil([&] { return Finished(hook_run); }, 30000)) << Run(hook_run).dump();
  nlohmann::json r = Run(hook_run);
  EXPECT_EQ(r.value("status", ""), "success") << r.dump();
  EXPECT_EQ(r.value("trigger", ""), "webhook");
  EXPECT_NE(r.value("trigger_detail", "").find("delivery-42"), std::string::npos);
  EXPECT_EQ(r.value("commit", ""), first);
  EXPECT_EQ(r.value("branch", ""), "main");
  EXPECT_FALSE(r["started_at"].is_null());
  EXPECT_FALSE(r["finished_at"].is_null());

  // A new commit on the watched branch starts a run by itself.
  std::ofstream(p_.dir() + "/README") << "second\n";
  Git("add README");
  Git("commit -q -m second");
  std::string second = Head();
  int64_t push_run = 0;
  ASSERT_TRUE(PollUntil([&] {
    for (const auto& run : Runs()) {
      if (run.value("trigger", "") == "push" && run.value("commit", "") == second) {
        push_run = run.value("id", 0);
        return true;
      }
    }
    return false;
  }, 20000)) << Runs().dump();
  ASSERT_TRUE(PollUntil([&] { return Finished(push_run); }, 30000));
  EXPECT_EQ(Run(push_run).value("status", ""), "success") << Run(push_run).dump();

  // A run started through the API is cancelled through it; no step process survives.
  auto started = Post("/api/v1/pipelines/slow/runs", {{"Authorization", "Bearer " + Token()}}, "");
  ASSERT_TRUE(started);
  ASSERT_EQ(started->status, 202) << started->body;
  int64_t slow = nlohmann::json::parse(started->body)["data"].value("run_id", 0);
  auto sleeping = [] {
    int n = 0;
    for (const auto& e : std::filesystem::directory_iterator("/proc")) {
      std::ifstream c(e.path() / "cmdline");
      std::string cmd((std::istreambuf_iterator<char>(c)), {});
      if (cmd.rfind("sleep", 0) == 0 && cmd.find("1000.424242") != std::string::npos) {
        ++n;
      }
    }
    return n;
  };
  ASSERT_TRUE(PollUntil([&] { return Run(slow).value("status", "") == "running" &&
                                     sleeping() > 0; }, 20000))
      << Run(slow).dump();
  auto cancel = Post("/api/v1/runs/" + std::to_string(slow) + "/cancel",
                     {{"Authorization", "Bearer " + Token()}}, "");
  ASSERT_TRUE(cancel);
  EXPECT_EQ(cancel->status, 202) << cancel->body;
  ASSERT_TRUE(PollUntil([&] { return Finished(slow); }, 15000)) << Run(slow).dump();
  EXPECT_EQ(Run(slow).value("status", ""), "cancelled");
  EXPECT_EQ(Run(slow).value("trigger", ""), "api");
  EXPECT_TRUE(PollUntil([&] { return sleeping() == 0; }, 5000));

  // Without the token the API refuses; the webhook path needs none but its signature.
  httplib::Client c("127.0.0.1", Port());
  auto anon = c.Post("/api/v1/pipelines/ci/runs", "", "application/json");
  ASSERT_TRUE(anon);
  EXPECT_EQ(anon->status, 401);
  unsetenv("STEWARD_TEST_HOOK_SECRET");
}

}  // namespace
}  // namespace steward::testing
