// The daemon side of runbooks without a running daemon: the previous-release bookkeeping that
// rollbacks read, and the command runner (working directory, environment, timeout).
#include "server/remediation.h"

#include <gtest/gtest.h>

#include "config/stack_json.h"
#include "server/daemon.h"
#include "state/state_store.h"
#include "unit/state/temp_dir.h"

namespace steward::server {
namespace {

using state::testing::TempDir;

config::Service Api(const std::string& command, int replicas) {
  config::Service s;
  s.name = "api";
  s.command = command;
  s.replicas = replicas;
  return s;
}

plan::Plan UpdateTo(const config::Service& s, plan::Action action) {
  plan::Change c;
  c.action = action;
  c.service = s.name;
  c.desired = s;
  return plan::Plan{"p", {c}};
}

class PreviousSpecTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto store = state::OpenSqliteStateStore(dir_.path(), &clock_);
    ASSERT_TRUE(store.ok()) << store.status().message();
    store_ = std::move(*store);
    ASSERT_TRUE(
        store_->PutService({"api", config::ServiceToJson(Api("./api-v1", 2)).dump(), "h", 1, 0})
            .ok());
  }
  std::optional<std::string> Previous() {
    auto doc = store_->GetDocument(PreviousSpecKey("api"));
    EXPECT_TRUE(doc.ok());
    return doc.ok() ? *doc : std::nullopt;
  }

  TempDir dir_;
  FakeClock clock_;
  std::unique_ptr<state::StateStore> store_;
};

TEST_F(PreviousSpecTest, AReleaseChangeKeepsTheRunningSpecAsThePreviousRelease) {
  ASSERT_TRUE(
      RecordPreviousSpecs(store_.get(), UpdateTo(Api("./api-v2", 2), plan::Action::kReplace)).ok());
  std::optional<std::string> prev = Previous();
  ASSERT_TRUE(prev.has_value());
  auto spec = config::ServiceFromJson(nlohmann::json::parse(*prev));
  ASSERT_TRUE(spec.ok());
  EXPECT_EQ(spec->command, "./api-v1");
}

TEST_F(PreviousSpecTest, ScalingIsNotARelease) {
  ASSERT_TRUE(
      RecordPreviousSpecs(store_.get(), UpdateTo(Api("./api-v1", 5), plan::Action::kUpdate)).ok());
  EXPECT_FALSE(Previous().has_value());
}

TEST_F(PreviousSpecTest, ANewServiceHasNoPreviousRelease) {
  config::Service web = Api("./web", 1);
  web.name = "web";
  ASSERT_TRUE(RecordPreviousSpecs(store_.get(), UpdateTo(web, plan::Action::kCreate)).ok());
  auto doc = store_->GetDocument(PreviousSpecKey("web"));
  ASSERT_TRUE(doc.ok());
  EXPECT_FALSE(doc->has_value());
}

class RunCommandTest : public ::testing::Test {
 protected:
  TempDir dir_;
  Daemon daemon_{DaemonOptions{}};  // never started: RunCommand only reads its options
  DaemonRemediation remediation_{&daemon_};
};

TEST_F(RunCommandTest, RunsInTheDirectoryWithTheAlertsEnvironment) {
  auto r =
      remediation_.RunCommand({"sh", "-c", "echo \"$STEWARD_ALERT_SERVICE in $(pwd)\""},
                              {{"STEWARD_ALERT_SERVICE", "api"}}, dir_.path(), Duration(10000));
  ASSERT_TRUE(r.ok()) << r.status().message();
  EXPECT_TRUE(r->ok);
  EXPECT_EQ(r->detail, "exit status 0: api in " + dir_.path());
}

TEST_F(RunCommandTest, ReportsTheExitStatus) {
  auto r = remediation_.RunCommand({"sh", "-c", "echo broken >&2; exit 4"}, {}, dir_.path(),
                                   Duration(10000));
  ASSERT_TRUE(r.ok());
  EXPECT_FALSE(r->ok);
  EXPECT_EQ(r->detail, "exit status 4: broken");
}

TEST_F(RunCommandTest, KillsTheCommandAtItsTimeout) {
  auto r = remediation_.RunCommand({"sleep", "30"}, {}, dir_.path(), Duration(200));
  ASSERT_TRUE(r.ok());
  EXPECT_FALSE(r->ok);
  EXPECT_EQ(r->detail.rfind("timeout after", 0), 0u) << r->detail;
}

TEST_F(RunCommandTest, AMissingDirectoryFails) {
  auto r = remediation_.RunCommand({"true"}, {}, dir_.Sub("nope"), Duration(10000));
  ASSERT_TRUE(r.ok());
  EXPECT_FALSE(r->ok);
}

}  // namespace
}  // namespace steward::server
