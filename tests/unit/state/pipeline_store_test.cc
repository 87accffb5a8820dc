// The state store's schema v3 tables: pipeline runs and jobs, releases and deploys.
#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include "state/schema.h"
#include "state/sqlite_state_store.h"
#include "unit/state/temp_dir.h"

namespace steward::state {
namespace {

using testing::TempDir;

class PipelineStoreTest : public ::testing::Test {
 protected:
  void SetUp() override {
    now_ms_ = ToUnixMillis(clock_.WallNow());
    store_ = Open();
  }

  std::unique_ptr<StateStore> Open() {
    auto store = OpenSqliteStateStore(dir_.Sub(".steward"), &clock_);
    EXPECT_TRUE(store.ok()) << store.status().ToString();
    return store.ok() ? std::move(store).value() : nullptr;
  }

  PipelineRunRecord Run(const std::string& pipeline, int pid = getpid()) {
    PipelineRunRecord r;
    r.pipeline = pipeline;
    r.source = "steward.yaml";
    r.trigger = "push";
    r.trigger_detail = "main";
    r.commit = std::string(40, 'a');
    r.branch = "main";
    r.commit_message = "fix the build";
    r.commit_time_ms = 1'699'000'000'000;
    r.started_at_ms = 1'700'000'000'100;
    r.user = "alice";
    r.host = CurrentHost();
    r.pid = pid;
    return r;
  }

  PipelineJobRecord Job(int64_t run_id, const std::string& key, int position,
                        const std::string& status) {
    PipelineJobRecord j;
    j.run_id = run_id;
    j.job = key;
    j.position = position;
    j.status = status;
    return j;
  }

  TempDir dir_;
  FakeClock clock_;
  int64_t now_ms_ = 0;
  std::unique_ptr<StateStore> store_;
};

TEST_F(PipelineStoreTest, CreateAssignsIdsAndKeepsEveryField) {
  auto id = store_->CreatePipelineRun(Run("ci"));
  ASSERT_TRUE(id.ok()) << id.status().ToString();
  auto id2 = store_->CreatePipelineRun(Run("ci"));
  ASSERT_TRUE(id2.ok());
  EXPECT_GT(*id2, *id);

  auto got = store_->GetPipelineRun(*id);
  ASSERT_TRUE(got.ok()) << got.status().ToString();
  EXPECT_EQ(got->id, *id);
  EXPECT_EQ(got->pipeline, "ci");
  EXPECT_EQ(got->source, "steward.yaml");
  EXPECT_EQ(got->trigger, "push");
  EXPECT_EQ(got->trigger_detail, "main");
  EXPECT_EQ(got->commit, std::string(40, 'a'));
  EXPECT_EQ(got->branch, "main");
  EXPECT_EQ(got->commit_message, "fix the build");
  EXPECT_EQ(got->commit_time_ms, 1'699'000'000'000);
  EXPECT_EQ(got->status, "running");
  EXPECT_EQ(got->created_at_ms, now_ms_);  // from the clock
  EXPECT_EQ(got->started_at_ms, 1'700'000'000'100);
  EXPECT_EQ(got->user, "alice");
  EXPECT_EQ(got->pid, getpid());

  EXPECT_EQ(store_->GetPipelineRun(9999).status().code(), StatusCode::kNotFound);
}

TEST_F(PipelineStoreTest, UpdateRewritesTheRunAndUnknownIsNotFound) {
  auto id = store_->CreatePipelineRun(Run("ci"));
  ASSERT_TRUE(id.ok());
  auto run = *store_->GetPipelineRun(*id);
  run.status = "failure";
  run.finished_at_ms = 1'700'000'009'000;
  run.error = "job test failed";
  ASSERT_TRUE(store_->UpdatePipelineRun(run).ok());
  auto got = store_->GetPipelineRun(*id);
  ASSERT_TRUE(got.ok());
  EXPECT_EQ(got->status, "failure");
  EXPECT_EQ(got->finished_at_ms, 1'700'000'009'000);
  EXPECT_EQ(got->error, "job test failed");

  run.id = 4242;
  EXPECT_EQ(store_->UpdatePipelineRun(run).code(), StatusCode::kNotFound);
}

TEST_F(PipelineStoreTest, ListIsNewestFirstFilteredByPipelineAndLimited) {
  std::vector<int64_t> ci;
  for (int i = 0; i < 3; ++i) ci.push_back(*store_->CreatePipelineRun(Run("ci")));
  int64_t nightly = *store_->CreatePipelineRun(Run("nightly"));

  auto all = store_->ListPipelineRuns("", 0);
  ASSERT_TRUE(all.ok());
  ASSERT_EQ(all->size(), 4u);
  EXPECT_EQ(all->at(0).id, nightly);
  EXPECT_EQ(all->at(3).id, ci[0]);

  auto only_ci = store_->ListPipelineRuns("ci", 2);
  ASSERT_TRUE(only_ci.ok());
  ASSERT_EQ(only_ci->size(), 2u);
  EXPECT_EQ(only_ci->at(0).id, ci[2]);
  EXPECT_EQ(only_ci->at(1).id, ci[1]);
}

TEST_F(PipelineStoreTest, JobsUpsertByRunAndKeyAndListInPositionOrder) {
  int64_t id = *store_->CreatePipelineRun(Run("ci"));
  ASSERT_TRUE(store_->PutPipelineJob(Job(id, "test (linux)", 2, "pending")).ok());
  ASSERT_TRUE(store_->PutPipelineJob(Job(id, "build", 0, "pending")).ok());
  ASSERT_TRUE(store_->PutPipelineJob(Job(id, "lint", 1, "pending")).ok());

  PipelineJobRecord build = Job(id, "build", 0, "success");
  build.attempts = 2;
  build.exit_code = 0;
  build.started_at_ms = 10;
  build.finished_at_ms = 20;
  build.outputs_json = R"({"version":"1.2"})";
  build.cache_key = "abc";
  build.log_path = "/x/build.log";
  build.error = "";
  ASSERT_TRUE(store_->PutPipelineJob(build).ok());

  auto jobs = store_->ListPipelineJobs(id);
  ASSERT_TRUE(jobs.ok()) << jobs.status().ToString();
  ASSERT_EQ(jobs->size(), 3u);
  EXPECT_EQ(jobs->at(0).job, "build");
  EXPECT_EQ(jobs->at(0).status, "success");
  EXPECT_EQ(jobs->at(0).attempts, 2);
  EXPECT_EQ(jobs->at(0).outputs_json, R"({"version":"1.2"})");
  EXPECT_EQ(jobs->at(0).cache_key, "abc");
  EXPECT_EQ(jobs->at(0).log_path, "/x/build.log");
  EXPECT_EQ(jobs->at(0).finished_at_ms, 20);
  EXPECT_EQ(jobs->at(1).job, "lint");
  EXPECT_EQ(jobs->at(2).job, "test (linux)");
  EXPECT_EQ(jobs->at(2).outputs_json, "{}");

  // Another run's jobs are apart; a job of a run that does not exist is refused.
  int64_t other = *store_->CreatePipelineRun(Run("ci"));
  ASSERT_TRUE(store_->PutPipelineJob(Job(other, "build", 0, "running")).ok());
  EXPECT_EQ(store_->ListPipelineJobs(id)->at(0).status, "success");
  EXPECT_EQ(store_->PutPipelineJob(Job(777, "build", 0, "running")).code(),
            StatusCode::kNotFound);
  EXPECT_TRUE(store_->ListPipelineJobs(777)->empty());
}

TEST_F(PipelineStoreTest, RunsOfDeadProcessesAreMarkedInterruptedWithTheirUnfinishedJobs) {
  // A child that has exited and been reaped: its pid is no longer alive.
  pid_t child = fork();
  ASSERT_GE(child, 0);
  if (child == 0) _exit(0);
  ASSERT_EQ(waitpid(child, nullptr, 0), child);

  int64_t dead = *store_->CreatePipelineRun(Run("ci", child));
  int64_t alive = *store_->CreatePipelineRun(Run("ci", getpid()));
  PipelineRunRecord elsewhere_record = Run("ci", child);
  elsewhere_record.host = "some-other-host";
  int64_t elsewhere = *store_->CreatePipelineRun(elsewhere_record);
  PipelineRunRecord done_record = Run("ci", child);
  done_record.status = "success";
  int64_t done = *store_->CreatePipelineRun(done_record);

  ASSERT_TRUE(store_->PutPipelineJob(Job(dead, "build", 0, "success")).ok());
  ASSERT_TRUE(store_->PutPipelineJob(Job(dead, "test", 1, "running")).ok());
  ASSERT_TRUE(store_->PutPipelineJob(Job(dead, "deploy", 2, "pending")).ok());
  ASSERT_TRUE(store_->PutPipelineJob(Job(alive, "build", 0, "running")).ok());

  auto marked = store_->MarkInterruptedPipelineRuns();
  ASSERT_TRUE(marked.ok()) << marked.status().ToString();
  EXPECT_EQ(*marked, 1);

  auto run = store_->GetPipelineRun(dead);
  EXPECT_EQ(run->status, "interrupted");
  EXPECT_NE(run->error.find("pid " + std::to_string(child)), std::string::npos) << run->error;
  auto jobs = *store_->ListPipelineJobs(dead);
  EXPECT_EQ(jobs[0].status, "success");
  EXPECT_EQ(jobs[1].status, "interrupted");
  EXPECT_EQ(jobs[2].status, "interrupted");

  EXPECT_EQ(store_->GetPipelineRun(alive)->status, "running");
  EXPECT_EQ(store_->ListPipelineJobs(alive)->at(0).status, "running");
  EXPECT_EQ(store_->GetPipelineRun(elsewhere)->status, "running");  // not ours to judge
  EXPECT_EQ(store_->GetPipelineRun(done)->status, "success");

  // Nothing left to mark.
  EXPECT_EQ(*store_->MarkInterruptedPipelineRuns(), 0);
}

TEST_F(PipelineStoreTest, AZombieRunnerIsDead) {
  // A runner killed while nobody reaps it stays a zombie: kill(pid, 0) still answers, but it
  // runs nothing, so its run is interrupted.
  pid_t child = fork();
  ASSERT_GE(child, 0);
  if (child == 0) _exit(0);
  // Wait until it has exited, without reaping it.
  for (int i = 0; i < 500; ++i) {
    siginfo_t info{};
    if (waitid(P_PID, child, &info, WEXITED | WNOHANG | WNOWAIT) == 0 && info.si_pid == child)
      break;
    usleep(2000);
  }
  int64_t zombie = *store_->CreatePipelineRun(Run("ci", child));
  EXPECT_EQ(*store_->MarkInterruptedPipelineRuns(), 1);
  EXPECT_EQ(store_->GetPipelineRun(zombie)->status, "interrupted");
  ASSERT_EQ(waitpid(child, nullptr, 0), child);
}

TEST_F(PipelineStoreTest, RecordsSurviveReopeningAsAfterAKill) {
  int64_t id = *store_->CreatePipelineRun(Run("ci"));
  ASSERT_TRUE(store_->PutPipelineJob(Job(id, "build", 0, "success")).ok());
  store_.reset();  // no close-time flush is needed: every write committed on its own
  store_ = Open();
  ASSERT_NE(store_, nullptr);
  EXPECT_EQ(store_->GetPipelineRun(id)->pipeline, "ci");
  EXPECT_EQ(store_->ListPipelineJobs(id)->at(0).status, "success");
}

TEST_F(PipelineStoreTest, ReleasesNumberPerServiceAndUpdate) {
  ReleaseRecord r;
  r.service = "web";
  r.label = "abc1234";
  r.spec_json = R"({"command":"./web"})";
  r.commit = "abc1234def";
  r.commit_time_ms = 5;
  EXPECT_EQ(*store_->CreateRelease(r), 1);
  r.label = "def5678";
  EXPECT_EQ(*store_->CreateRelease(r), 2);
  r.service = "api";
  EXPECT_EQ(*store_->CreateRelease(r), 1);

  auto got = store_->GetRelease("web", 1);
  ASSERT_TRUE(got.ok()) << got.status().ToString();
  EXPECT_EQ(got->label, "abc1234");
  EXPECT_EQ(got->spec_json, R"({"command":"./web"})");
  EXPECT_EQ(got->status, "pending");
  EXPECT_EQ(got->created_at_ms, now_ms_);
  got->status = "live";
  ASSERT_TRUE(store_->UpdateRelease(*got).ok());
  EXPECT_EQ(store_->GetRelease("web", 1)->status, "live");

  EXPECT_EQ(store_->GetRelease("web", 9).status().code(), StatusCode::kNotFound);
  ReleaseRecord missing = *got;
  missing.version = 9;
  EXPECT_EQ(store_->UpdateRelease(missing).code(), StatusCode::kNotFound);

  auto web = store_->ListReleases("web", 0);
  ASSERT_TRUE(web.ok());
  ASSERT_EQ(web->size(), 2u);
  EXPECT_EQ(web->at(0).version, 2);
  EXPECT_EQ(web->at(1).version, 1);
  EXPECT_EQ(store_->ListReleases("web", 1)->size(), 1u);
  EXPECT_EQ(store_->ListReleases("", 0)->size(), 3u);
}

TEST_F(PipelineStoreTest, PruneKeepsTheNewestAndTheLiveRelease) {
  ReleaseRecord r;
  r.service = "web";
  for (int i = 0; i < 6; ++i) ASSERT_TRUE(store_->CreateRelease(r).ok());
  auto live = *store_->GetRelease("web", 2);
  live.status = "live";
  ASSERT_TRUE(store_->UpdateRelease(live).ok());
  r.service = "api";
  ASSERT_TRUE(store_->CreateRelease(r).ok());

  ASSERT_TRUE(store_->PruneReleases("web", 3).ok());
  std::vector<int64_t> versions;
  auto kept = store_->ListReleases("web", 0);
  ASSERT_TRUE(kept.ok());
  for (const auto& rel : *kept) versions.push_back(rel.version);
  EXPECT_EQ(versions, (std::vector<int64_t>{6, 5, 4, 2}));
  EXPECT_EQ(store_->ListReleases("api", 0)->size(), 1u);
  // A new release after pruning still gets a version above every earlier one.
  r.service = "web";
  EXPECT_EQ(*store_->CreateRelease(r), 7);
}

TEST_F(PipelineStoreTest, DeploysAreListedNewestFirstByServiceAndTime) {
  DeployRecord d;
  d.service = "web";
  d.release = 2;
  d.from_release = 1;
  d.strategy = "canary";
  d.trigger = "pipeline";
  d.run_id = 7;
  d.commit = "abc";
  d.commit_time_ms = 3;
  d.started_at_ms = 100;
  int64_t first = *store_->CreateDeploy(d);
  d.started_at_ms = 200;
  int64_t second = *store_->CreateDeploy(d);
  d.service = "api";
  d.started_at_ms = 0;  // from the clock
  int64_t third = *store_->CreateDeploy(d);

  auto all = store_->ListDeploys("", 0, 0);
  ASSERT_TRUE(all.ok()) << all.status().ToString();
  ASSERT_EQ(all->size(), 3u);
  EXPECT_EQ(all->at(0).id, third);
  EXPECT_EQ(all->at(0).started_at_ms, now_ms_);
  EXPECT_EQ(all->at(0).events_json, "[]");
  auto web = *store_->ListDeploys("web", 150, 0);
  ASSERT_EQ(web.size(), 1u);
  EXPECT_EQ(web[0].id, second);
  EXPECT_EQ(store_->ListDeploys("web", 0, 1)->at(0).id, second);

  DeployRecord done = *store_->ListDeploys("web", 0, 0)->rbegin();
  EXPECT_EQ(done.id, first);
  EXPECT_EQ(done.strategy, "canary");
  EXPECT_EQ(done.run_id, 7);
  done.status = "failed";
  done.error = "error rate 0.31 above 0.05";
  done.finished_at_ms = 300;
  done.events_json = R"([{"at_ms":150,"text":"canary 20%"}])";
  ASSERT_TRUE(store_->UpdateDeploy(done).ok());
  auto back = store_->ListDeploys("web", 0, 0)->back();
  EXPECT_EQ(back.status, "failed");
  EXPECT_EQ(back.error, "error rate 0.31 above 0.05");
  EXPECT_EQ(back.events_json, R"([{"at_ms":150,"text":"canary 20%"}])");
  done.id = 999;
  EXPECT_EQ(store_->UpdateDeploy(done).code(), StatusCode::kNotFound);
}

TEST(PipelineStoreMigration, VersionTwoDatabaseGainsTheV3TablesAndKeepsItsRows) {
  TempDir dir;
  FakeClock clock;
  const std::vector<Migration> v2(StateMigrations().begin(), StateMigrations().begin() + 2);
  int64_t incident = 0;
  {
    auto old = SqliteStateStore::Open(dir.path(), &clock, v2);  // as steward with schema 2 made it
    ASSERT_TRUE(old.ok()) << old.status().ToString();
    ASSERT_EQ((*old)->SchemaVersion(), 2);
    ASSERT_TRUE((*old)->PutService(ServiceRecord{"web", "{}", "h", 4, 5}).ok());
    IncidentRecord r;
    r.title = "web down";
    incident = *(*old)->CreateIncident(r, {});
    // The v2 store has no pipeline tables.
    EXPECT_FALSE((*old)->CreatePipelineRun(PipelineRunRecord{}).ok());
  }
  auto store = OpenSqliteStateStore(dir.path(), &clock);
  ASSERT_TRUE(store.ok()) << store.status().ToString();
  EXPECT_EQ((*store)->SchemaVersion(), static_cast<int>(StateMigrations().size()));
  EXPECT_EQ((*store)->ListServices()->at(0).generation, 4);
  EXPECT_EQ((*store)->GetIncident(incident)->title, "web down");
  PipelineRunRecord run;
  run.pipeline = "ci";
  auto id = (*store)->CreatePipelineRun(run);
  ASSERT_TRUE(id.ok()) << id.status().ToString();
  EXPECT_EQ((*store)->GetPipelineRun(*id)->pipeline, "ci");
  ReleaseRecord rel;
  rel.service = "web";
  EXPECT_EQ(*(*store)->CreateRelease(rel), 1);
}

}  // namespace
}  // namespace steward::state
