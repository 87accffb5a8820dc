// PipelineService without the daemon: a real state store and real runs, a fake clock for cron
// schedules, and the webhook answers for every kind of delivery.
#include "server/pipelines.h"

#include <stdlib.h>

#include <filesystem>
#include <fstream>
#include <thread>

#include <gtest/gtest.h>

#include "unit/pipeline/webhook_signature.h"

namespace steward::server {
namespace {

namespace fs = std::filesystem;

class PipelineServiceTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/steward-pipesvc-XXXXXX";
    dir_ = mkdtemp(tmpl);
    fs::create_directories(dir_ + "/.steward");
    auto store = state::OpenSqliteStateStore(dir_ + "/.steward", &clock_);
    ASSERT_TRUE(store.ok()) << store.status().ToString();
    store_ = std::move(*store);
  }
  void TearDown() override {
    svc_.reset();
    store_.reset();
    fs::remove_all(dir_);
  }
  void Make(const std::string& stack) {
    std::ofstream(dir_ + "/steward.yaml") << stack;
    PipelineServiceOptions o;
    o.state_dir = dir_ + "/.steward";
    o.store = store_.get();
    o.clock = &clock_;
    o.tick = Duration(20);
    o.lookup_secret = [](const std::string& name) -> std::optional<std::string> {
      if (name == "HOOK") return std::string("k3y");
      return std::nullopt;
    };
    svc_ = std::make_unique<PipelineService>(o);
    Status st = svc_->Load(dir_ + "/steward.yaml");
    ASSERT_TRUE(st.ok()) << st.ToString();
  }
  std::vector<state::PipelineRunRecord> Runs() {
    auto r = store_->ListPipelineRuns("", 0);
    return r.ok() ? *r : std::vector<state::PipelineRunRecord>{};
  }
  bool WaitFor(const std::function<bool()>& cond, int ms = 20000) {
    for (int i = 0; i < ms / 20; ++i) {
      if (cond()) return true;
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    return cond();
  }

  std::string dir_;
  FakeClock clock_;
  std::unique_ptr<state::StateStore> store_;
  std::unique_ptr<PipelineService> svc_;
};

constexpr const char* kStack = R"(project: p
pipelines:
  nightly:
    on:
      schedule: [{cron: "30 2 * * *"}]
    jobs:
      one: {run: "true"}
  hooked:
    on:
      webhook: {secret: HOOK, branches: [main]}
    jobs:
      one: {run: "echo $GITHUB_SHA"}
)";

TEST_F(PipelineServiceTest, CronScheduleStartsARunWhenItsMinuteComes) {
  Make(kStack);
  svc_->Start();
  // Nothing is due yet: no run however long the loop ticks.
  std::this_thread::sleep_for(std::chrono::milliseconds(200));
  EXPECT_TRUE(Runs().empty());
  auto listed = svc_->PipelinesJson();
  ASSERT_EQ(listed.size(), 2u);
  std::string next;
  for (const auto& p : listed) {
    if (p["name"] == "nightly") next = p["triggers"][0].value("next_at", "");
  }
  ASSERT_FALSE(next.empty()) << listed.dump();
  EXPECT_NE(next.find("T02:30:00Z"), std::string::npos) << next;
  // The clock passes 02:30: exactly one scheduled run, and the next is a day later.
  clock_.Advance(Duration(25LL * 3600 * 1000));
  ASSERT_TRUE(WaitFor([&] { return !Runs().empty(); }));
  std::this_thread::sleep_for(std::chrono::milliseconds(200));
  auto runs = Runs();
  ASSERT_EQ(runs.size(), 1u);
  EXPECT_EQ(runs[0].pipeline, "nightly");
  EXPECT_EQ(runs[0].trigger, "schedule");
  EXPECT_EQ(runs[0].trigger_detail, "30 2 * * *");
  ASSERT_TRUE(WaitFor([&] { return Runs()[0].status != "running"; }));
  EXPECT_EQ(Runs()[0].status, "success") << Runs()[0].error;
}

TEST_F(PipelineServiceTest, WebhookAnswersForEveryKindOfDelivery) {
  Make(kStack);
  std::string body = R"({"ref":"refs/heads/main","after":"HEAD"})";
  auto ans = svc_->HandleWebhook("nope", {}, body);
  EXPECT_EQ(ans.http_status, 404);
  ans = svc_->HandleWebhook("nightly", {}, body);
  EXPECT_EQ(ans.http_status, 404);  // no webhook trigger
  EXPECT_NE(ans.body.dump().find("no webhook trigger"), std::string::npos);
  ans = svc_->HandleWebhook("hooked", {{"X-GitHub-Event", "push"}}, body);
  EXPECT_EQ(ans.http_status, 401);
  ans = svc_->HandleWebhook("hooked", {{"X-GitHub-Event", "push"},
                                       {"X-Hub-Signature-256", steward::testing::GithubSignature("k3y", "{}")}}, body);
  EXPECT_EQ(ans.http_status, 401);  // signature of another body
  EXPECT_EQ(ans.body.dump().find("k3y"), std::string::npos);
  ans = svc_->HandleWebhook("hooked", {{"X-GitHub-Event", "ping"},
                                       {"X-Hub-Signature-256", steward::testing::GithubSignature("k3y", "{}")}}, "{}");
  EXPECT_EQ(ans.http_status, 200);
  EXPECT_TRUE(ans.body.contains("ignored"));
  std::string dev = R"({"ref":"refs/heads/dev","after":"abc"})";
  ans = svc_->HandleWebhook("hooked", {{"X-GitHub-Event", "push"},
                                       {"X-Hub-Signature-256", steward::testing::GithubSignature("k3y", dev)}}, dev);
  EXPECT_EQ(ans.http_status, 200);
  EXPECT_NE(ans.body.dump().find("not watched"), std::string::npos);
  std::string bad = R"({"after":"abc"})";
  ans = svc_->HandleWebhook("hooked", {{"X-GitHub-Event", "push"},
                                       {"X-Hub-Signature-256", steward::testing::GithubSignature("k3y", bad)}}, bad);
  EXPECT_EQ(ans.http_status, 400);
  EXPECT_TRUE(Runs().empty());
}

TEST_F(PipelineServiceTest, ABrokenReloadKeepsThePipelinesThatRan) {
  Make(kStack);
  std::ofstream(dir_ + "/steward.yaml") << R"(project: p
pipelines:
  broken:
    jobs:
      a: {needs: [b], run: "true"}
      b: {needs: [a], run: "true"}
)";
  Status st = svc_->Load(dir_ + "/steward.yaml");
  ASSERT_FALSE(st.ok());
  EXPECT_NE(st.message().find("steward.yaml:"), std::string::npos) << st.message();
  EXPECT_EQ(svc_->PipelinesJson().size(), 2u);
  auto id = svc_->StartRun("missing", "api", "", "", "");
  ASSERT_FALSE(id.ok());
  EXPECT_NE(id.status().message().find("nightly"), std::string::npos);  // names the known ones
}

}  // namespace
}  // namespace steward::server
