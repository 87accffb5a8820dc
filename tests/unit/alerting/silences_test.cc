// Silences: states, Alertmanager's validation and update rules, expiry, retention, and the file
// that keeps them across a restart without ever being torn.
#include "alerting/silences.h"

#include <gtest/gtest.h>

#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <thread>

#include "unit/alerting/alerting_yaml.h"

namespace steward::alerting {
namespace {

using Op = config::LabelMatcher::Op;
using testing::L;

constexpr int64_t kMin = 60000;
constexpr int64_t kT0 = 1700000000000;

Silence Make(std::vector<config::LabelMatcher> ms, int64_t starts, int64_t ends) {
  Silence s;
  s.matchers = std::move(ms);
  s.starts_at_ms = starts;
  s.ends_at_ms = ends;
  s.created_by = "ops";
  s.comment = "deploy";
  return s;
}

class SilencesTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = std::filesystem::temp_directory_path() /
           ("silences_test_" + std::to_string(::getpid()) + "_" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    std::filesystem::remove_all(dir_);
    std::filesystem::create_directories(dir_);
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }
  Silences::Options Opts() {
    Silences::Options o;
    o.path = (dir_ / "silences.json").string();
    return o;
  }
  std::filesystem::path dir_;
};

TEST(SilenceState, PendingActiveExpired) {
  Silence s = Make({{"a", Op::kEqual, "1"}}, kT0, kT0 + kMin);
  EXPECT_EQ(StateOf(s, kT0 - 1), SilenceState::kPending);
  EXPECT_EQ(StateOf(s, kT0), SilenceState::kActive);
  EXPECT_EQ(StateOf(s, kT0 + kMin - 1), SilenceState::kActive);
  EXPECT_EQ(StateOf(s, kT0 + kMin), SilenceState::kExpired);
  EXPECT_EQ(SilenceStateName(SilenceState::kPending), "pending");
}

TEST_F(SilencesTest, MutesOnlyWhileActiveAndOnlyMatchingAlerts) {
  Silences silences(Opts());
  auto id = silences.Set(Make({{"alertname", Op::kEqual, "Down"}, {"env", Op::kRegex, "prod|stg"}},
                              kT0 + kMin, kT0 + 2 * kMin),
                         kT0);
  ASSERT_TRUE(id.ok()) << id.status().message();
  EXPECT_EQ(id->size(), 36u);
  tsdb::Labels down = L({{"alertname", "Down"}, {"env", "prod"}});
  EXPECT_TRUE(silences.Mutes(down, kT0).empty());  // pending
  EXPECT_EQ(silences.Mutes(down, kT0 + kMin), std::vector<std::string>{*id});
  EXPECT_TRUE(silences.Mutes(L({{"alertname", "Down"}, {"env", "production"}}), kT0 + kMin)
                  .empty());  // anchored regex
  EXPECT_TRUE(silences.Mutes(L({{"alertname", "Up"}, {"env", "prod"}}), kT0 + kMin).empty());
  EXPECT_TRUE(silences.Mutes(down, kT0 + 2 * kMin).empty());  // expired
}

TEST_F(SilencesTest, SetRejectsWhatAlertmanagerRejects) {
  Silences silences(Opts());
  EXPECT_EQ(silences.Set(Make({}, kT0, kT0 + kMin), kT0).status().code(),
            StatusCode::kInvalidArgument);
  // Every matcher matches the empty string: it would silence everything.
  EXPECT_EQ(
      silences.Set(Make({{"a", Op::kRegex, ".*"}, {"b", Op::kEqual, ""}}, kT0, kT0 + kMin), kT0)
          .status()
          .code(),
      StatusCode::kInvalidArgument);
  EXPECT_EQ(silences.Set(Make({{"a", Op::kEqual, "1"}}, kT0 + kMin, kT0), kT0).status().code(),
            StatusCode::kInvalidArgument);
  EXPECT_EQ(silences.Set(Make({{"a", Op::kRegex, "("}}, kT0, kT0 + kMin), kT0).status().code(),
            StatusCode::kInvalidArgument);
  EXPECT_EQ(
      silences.Set(Make({{"a", Op::kEqual, "1"}}, kT0 - 2 * kMin, kT0 - kMin), kT0).status().code(),
      StatusCode::kInvalidArgument);  // ends in the past
  Silence unknown = Make({{"a", Op::kEqual, "1"}}, kT0, kT0 + kMin);
  unknown.id = "no-such-id";
  EXPECT_EQ(silences.Set(unknown, kT0).status().code(), StatusCode::kNotFound);
  EXPECT_TRUE(silences.List().empty());
  // A start in the past becomes now.
  auto id = silences.Set(Make({{"a", Op::kNotEqual, ""}}, kT0 - kMin, kT0 + kMin), kT0);
  ASSERT_TRUE(id.ok());
  EXPECT_EQ(silences.Get(*id)->starts_at_ms, kT0);
  EXPECT_EQ(silences.Get(*id)->updated_at_ms, kT0);
}

TEST_F(SilencesTest, ExpireEndsActiveAndCancelsPendingSilences) {
  Silences silences(Opts());
  std::string active =
      silences.Set(Make({{"a", Op::kEqual, "1"}}, kT0, kT0 + 10 * kMin), kT0).value();
  std::string pending =
      silences.Set(Make({{"a", Op::kEqual, "1"}}, kT0 + 5 * kMin, kT0 + 10 * kMin), kT0).value();
  ASSERT_TRUE(silences.Expire(active, kT0 + kMin).ok());
  ASSERT_TRUE(silences.Expire(pending, kT0 + kMin).ok());
  EXPECT_EQ(StateOf(*silences.Get(active), kT0 + kMin), SilenceState::kExpired);
  EXPECT_EQ(silences.Get(active)->ends_at_ms, kT0 + kMin);
  // The pending one never becomes active.
  EXPECT_TRUE(silences.Mutes(L({{"a", "1"}}), kT0 + 6 * kMin).empty());
  EXPECT_EQ(silences.Expire(active, kT0 + 2 * kMin).code(), StatusCode::kFailedPrecondition);
  EXPECT_EQ(silences.Expire("nope", kT0).code(), StatusCode::kNotFound);
}

TEST_F(SilencesTest, UpdatesInPlaceOrReplacesAsAlertmanagerDoes) {
  Silences silences(Opts());
  Silence s = Make({{"a", Op::kEqual, "1"}}, kT0, kT0 + 10 * kMin);
  s.id = silences.Set(s, kT0).value();
  // Same matchers, same start, a later end: the same silence.
  s.ends_at_ms = kT0 + 20 * kMin;
  s.comment = "longer";
  EXPECT_EQ(silences.Set(s, kT0 + kMin).value(), s.id);
  EXPECT_EQ(silences.Get(s.id)->comment, "longer");
  EXPECT_EQ(silences.List().size(), 1u);
  // Other matchers: the old one expires now and a new id takes over.
  std::string old_id = s.id;
  s.matchers = {{"a", Op::kEqual, "2"}};
  std::string new_id = silences.Set(s, kT0 + 2 * kMin).value();
  EXPECT_NE(new_id, old_id);
  EXPECT_EQ(StateOf(*silences.Get(old_id), kT0 + 2 * kMin), SilenceState::kExpired);
  EXPECT_EQ(silences.Mutes(L({{"a", "2"}}), kT0 + 2 * kMin), std::vector<std::string>{new_id});
}

TEST_F(SilencesTest, SurviveARestartThroughTheFile) {
  std::string id;
  {
    Silences silences(Opts());
    id = silences
             .Set(Make({{"job", Op::kNotRegex, "batch.*"}, {"sev", Op::kEqual, "page"}}, kT0,
                       kT0 + kMin),
                  kT0)
             .value();
  }
  Silences reloaded(Opts());
  ASSERT_TRUE(reloaded.Load().ok());
  std::optional<Silence> s = reloaded.Get(id);
  ASSERT_TRUE(s.has_value());
  EXPECT_EQ(s->matchers, (std::vector<config::LabelMatcher>{{"job", Op::kNotRegex, "batch.*"},
                                                            {"sev", Op::kEqual, "page"}}));
  EXPECT_EQ(s->created_by, "ops");
  EXPECT_EQ(s->comment, "deploy");
  EXPECT_EQ(s->ends_at_ms, kT0 + kMin);
  EXPECT_EQ(reloaded.Mutes(L({{"job", "api"}, {"sev", "page"}}), kT0),
            std::vector<std::string>{id});
}

TEST_F(SilencesTest, AStaleTemporaryFromAKilledWriteIsIgnoredAndTheFileIsWholeAfterEachChange) {
  Silences silences(Opts());
  std::string id = silences.Set(Make({{"a", Op::kEqual, "1"}}, kT0, kT0 + kMin), kT0).value();
  // A write killed before its rename leaves only the temporary behind, half written.
  std::ofstream(Opts().path + ".tmp") << "{\"version\": 1, \"silen";
  Silences reloaded(Opts());
  ASSERT_TRUE(reloaded.Load().ok());
  EXPECT_TRUE(reloaded.Get(id).has_value());
  // The next change replaces the temporary and the file parses.
  ASSERT_TRUE(reloaded.Expire(id, kT0 + 1).ok());
  Silences again(Opts());
  ASSERT_TRUE(again.Load().ok());
  EXPECT_EQ(again.Get(id)->ends_at_ms, kT0 + 1);
  EXPECT_FALSE(std::filesystem::exists(Opts().path + ".tmp"));
}

TEST_F(SilencesTest, AKillDuringWritesNeverLeavesATornFile) {
  pid_t child = fork();
  ASSERT_GE(child, 0);
  if (child == 0) {
    Silences writer(Opts());
    for (int64_t i = 0;; ++i) {  // write until killed
      (void)writer.Set(Make({{"n", Op::kEqual, std::to_string(i)}}, kT0, kT0 + kMin), kT0);
    }
  }
  // Kill it once it has made some progress (polled with a deadline), in the middle of writing.
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);
  size_t seen = 0;
  while (seen < 20 && std::chrono::steady_clock::now() < deadline) {
    Silences reader(Opts());
    Status st = reader.Load();
    ASSERT_TRUE(st.ok()) << st.message();  // readers never see a torn file, even mid-run
    seen = reader.List().size();
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  kill(child, SIGKILL);
  int status = 0;
  waitpid(child, &status, 0);
  ASSERT_GE(seen, 20u) << "the writer made no progress";
  Silences after(Opts());
  ASSERT_TRUE(after.Load().ok());
  EXPECT_GE(after.List().size(), seen);
}

TEST_F(SilencesTest, AFailedWriteUndoesTheChange) {
  Silences::Options o = Opts();
  o.path = (dir_ / "missing-dir" / "silences.json").string();
  Silences silences(o);
  StatusOr<std::string> id = silences.Set(Make({{"a", Op::kEqual, "1"}}, kT0, kT0 + kMin), kT0);
  EXPECT_EQ(id.status().code(), StatusCode::kIOError);
  EXPECT_TRUE(silences.List().empty());
}

TEST_F(SilencesTest, ACorruptFileIsReportedNotDropped) {
  std::ofstream(Opts().path) << "{\"version\": 1, \"silences\": [{\"id\": 3}]}";
  Silences silences(Opts());
  EXPECT_EQ(silences.Load().code(), StatusCode::kCorruption);
  std::ofstream(Opts().path) << "{\"version\": 9, \"silences\": []}";
  EXPECT_EQ(silences.Load().code(), StatusCode::kCorruption);
}

TEST_F(SilencesTest, ExpiredSilencesAreKeptForTheRetentionThenCollected) {
  Silences silences(Opts());
  std::string id = silences.Set(Make({{"a", Op::kEqual, "1"}}, kT0, kT0 + kMin), kT0).value();
  constexpr int64_t kFiveDays = 5LL * 24 * 3600 * 1000;
  EXPECT_EQ(silences.GarbageCollect(kT0 + kMin + kFiveDays - 1).value(), 0u);
  EXPECT_TRUE(silences.Get(id).has_value());
  EXPECT_EQ(silences.GarbageCollect(kT0 + kMin + kFiveDays).value(), 1u);
  EXPECT_FALSE(silences.Get(id).has_value());
  Silences reloaded(Opts());
  ASSERT_TRUE(reloaded.Load().ok());
  EXPECT_TRUE(reloaded.List().empty());
}

}  // namespace
}  // namespace steward::alerting
