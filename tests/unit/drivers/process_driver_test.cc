// Real processes in real temp dirs. Every wait is bounded by a deadline.
#include "drivers/process_driver.h"

#include <gtest/gtest.h>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>

#include "drivers/proc_fs.h"
#include "test_util.h"

namespace steward::drivers {
namespace {

using testing::PollUntil;
using testing::ReadAll;
using testing::TempDir;

bool ProcExists(int pid) { return std::filesystem::exists("/proc/" + std::to_string(pid)); }

class ProcessDriverTest : public ::testing::Test {
 protected:
  ProcessDriverTest() : driver_(MakeDriver(UniqueInstance("a"))) {}

  ~ProcessDriverTest() override {
    for (const ReplicaHandle& h : started_) driver_->Stop(h, SIGKILL, Duration(0)).IgnoreError();
  }

  static std::string UniqueInstance(const std::string& tag) {
    const auto* info = ::testing::UnitTest::GetInstance()->current_test_info();
    return "test-" + std::to_string(getpid()) + "-" + info->name() + "-" + tag;
  }

  std::unique_ptr<Driver> MakeDriver(const std::string& instance) {
    ProcessDriverOptions options;
    options.instance = instance;
    options.clock = RealClock::Get();
    options.extra_path = {dir_.path() + "/bin"};
    return NewProcessDriver(options);
  }

  ReplicaSpec Shell(const std::string& script, int slot = 0) {
    ReplicaSpec spec;
    spec.service = "web";
    spec.slot = slot;
    spec.generation = 7;
    spec.argv = {"sh", "-c", script};
    spec.env = {{"PATH", "/usr/bin:/bin"}, {"HOME", dir_.path()}};
    spec.working_dir = dir_.path();
    spec.port = 18000 + slot;
    spec.log_dir = dir_.path() + "/logs/web/" + std::to_string(slot);
    return spec;
  }

  ReplicaHandle MustStart(const ReplicaSpec& spec) {
    StatusOr<ReplicaHandle> h = driver_->Start(spec);
    EXPECT_TRUE(h.ok()) << h.status().ToString();
    if (!h.ok()) return {};
    started_.push_back(*h);
    return *h;
  }

  // Polls Reap() until the exit of `pid` shows up.
  std::optional<ExitEvent> AwaitExit(int pid) {
    std::optional<ExitEvent> found;
    PollUntil([&] {
      for (ExitEvent& e : driver_->Reap()) {
        if (e.pid == pid) found = e;
      }
      return found.has_value();
    });
    return found;
  }

  TempDir dir_;
  std::unique_ptr<Driver> driver_;
  std::vector<ReplicaHandle> started_;
};

TEST_F(ProcessDriverTest, StartedReplicaLogsAndIsObservedAsGroupLeader) {
  ReplicaSpec spec = Shell("echo hi; echo err >&2; echo \"$PORT $STEWARD_INSTANCE\"; sleep 30", 1);
  ReplicaHandle h = MustStart(spec);
  ASSERT_GT(h.pid, 0);
  EXPECT_GT(h.start_ticks, 0);
  std::string marker = UniqueInstance("a") + "/web/1/7";
  EXPECT_TRUE(PollUntil([&] {
    return ReadAll(spec.log_dir + "/stdout.log") == "hi\n18001 " + marker + "\n";
  })) << ReadAll(spec.log_dir + "/stdout.log");
  EXPECT_TRUE(PollUntil([&] { return ReadAll(spec.log_dir + "/stderr.log") == "err\n"; }));
  EXPECT_TRUE(driver_->Alive(h));

  StatusOr<std::vector<ObservedReplica>> seen = driver_->Observe();
  ASSERT_TRUE(seen.ok()) << seen.status().ToString();
  ASSERT_EQ(seen->size(), 1u);
  const ObservedReplica& r = (*seen)[0];
  EXPECT_EQ(r.service, "web");
  EXPECT_EQ(r.slot, 1);
  EXPECT_EQ(r.generation, 7);
  EXPECT_EQ(r.pid, h.pid);
  EXPECT_EQ(r.start_ticks, h.start_ticks);
  EXPECT_EQ(r.port, 18001);
  EXPECT_GT(r.rss_bytes, 0);
  EXPECT_FALSE(r.zombie);
  StatusOr<ProcStat> st = ReadProcStat(h.pid);
  ASSERT_TRUE(st.ok());
  EXPECT_EQ(st->pgrp, h.pid);
  EXPECT_EQ(st->ppid, getpid()) << "replicas are direct children: nobody else would reap them";
}

TEST_F(ProcessDriverTest, StopWithTermEndsReplicaAndReapsIt) {
  ReplicaHandle h = MustStart(Shell("sleep 30"));
  ASSERT_TRUE(driver_->Stop(h, SIGTERM, Duration(5000)).ok());
  EXPECT_FALSE(ProcExists(h.pid)) << "no zombie may be left behind";
  EXPECT_FALSE(driver_->Alive(h));
  std::optional<ExitEvent> e = AwaitExit(h.pid);
  ASSERT_TRUE(e.has_value()) << "an exit reaped by Stop is still reported by Reap";
  EXPECT_EQ(e->signal, SIGTERM);
}

TEST_F(ProcessDriverTest, StopKillsGroupThatIgnoresTermAfterGrace) {
  // The ignored disposition is inherited by sleep, so the whole group ignores TERM.
  ReplicaSpec spec = Shell("trap '' TERM; echo ready; sleep 30; echo after");
  ReplicaHandle h = MustStart(spec);
  ASSERT_TRUE(PollUntil([&] { return ReadAll(spec.log_dir + "/stdout.log") == "ready\n"; }));
  auto begin = std::chrono::steady_clock::now();
  ASSERT_TRUE(driver_->Stop(h, SIGTERM, Duration(300)).ok());
  auto took = std::chrono::steady_clock::now() - begin;
  EXPECT_GE(took, std::chrono::milliseconds(300));
  EXPECT_LT(took, std::chrono::milliseconds(1300));
  EXPECT_FALSE(GroupHasLiveMembers(h.pid));
  EXPECT_FALSE(ProcExists(h.pid));
  EXPECT_EQ(ReadAll(spec.log_dir + "/stdout.log"), "ready\n");
}

TEST_F(ProcessDriverTest, StopMarkedStopsEveryReplicaAtOnceAndTheirChildren) {
  std::vector<ReplicaSpec> specs;
  for (int slot = 0; slot < 3; ++slot) {
    specs.push_back(Shell("trap '' TERM; echo ready; sleep 30 & sleep 30", slot));
    MustStart(specs.back());
  }
  for (const auto& spec : specs)
    ASSERT_TRUE(PollUntil([&] { return ReadAll(spec.log_dir + "/stdout.log") == "ready\n"; }));
  auto begin = std::chrono::steady_clock::now();
  StatusOr<int> stopped = StopMarked(*driver_, UniqueInstance("a"), Duration(300));
  auto took = std::chrono::steady_clock::now() - begin;
  ASSERT_TRUE(stopped.ok()) << stopped.status().ToString();
  EXPECT_EQ(*stopped, 3);
  // In parallel: three graces of 300 ms would take at least 900 ms one after another.
  EXPECT_LT(took, std::chrono::milliseconds(900));
  StatusOr<std::vector<ObservedReplica>> seen = driver_->Observe();
  ASSERT_TRUE(seen.ok());
  EXPECT_TRUE(seen->empty());
  for (const ReplicaHandle& h : started_) EXPECT_FALSE(GroupHasLiveMembers(h.pid));
}

TEST_F(ProcessDriverTest, StopKillsReplicaChildrenAndObserveSkipsThem) {
  ReplicaHandle h = MustStart(Shell("sleep 30 & sleep 30"));
  std::vector<int> members;
  ASSERT_TRUE(PollUntil([&] {
    members.clear();
    for (int pid : ListPids()) {
      StatusOr<ProcStat> st = ReadProcStat(pid);
      if (st.ok() && st->pgrp == h.pid && pid != h.pid && st->state != 'Z') members.push_back(pid);
    }
    return members.size() == 2;
  }));
  StatusOr<std::vector<ObservedReplica>> seen = driver_->Observe();
  ASSERT_TRUE(seen.ok());
  ASSERT_EQ(seen->size(), 1u) << "children inherit the marker but are not replicas";
  EXPECT_EQ((*seen)[0].pid, h.pid);

  ASSERT_TRUE(driver_->Stop(h, SIGTERM, Duration(5000)).ok());
  EXPECT_FALSE(GroupHasLiveMembers(h.pid));
  for (int pid : members) {
    StatusOr<ProcStat> st = ReadProcStat(pid);
    EXPECT_TRUE(!st.ok() || st->state == 'Z') << "child " << pid << " still runs";
  }
}

TEST_F(ProcessDriverTest, StopAfterLeaderDiedKillsLeftoverChildren) {
  ReplicaHandle h = MustStart(Shell("sleep 30 & sleep 30"));
  ASSERT_TRUE(PollUntil([&] {
    int members = 0;
    for (int pid : ListPids()) {
      StatusOr<ProcStat> st = ReadProcStat(pid);
      if (st.ok() && st->pgrp == h.pid && st->state != 'Z') ++members;
    }
    return members == 3;
  }));
  ASSERT_EQ(kill(h.pid, SIGKILL), 0);
  ASSERT_TRUE(AwaitExit(h.pid).has_value());
  ASSERT_TRUE(GroupHasLiveMembers(h.pid)) << "the children outlive their parent";
  ASSERT_TRUE(driver_->Stop(h, SIGTERM, Duration(5000)).ok());
  EXPECT_FALSE(GroupHasLiveMembers(h.pid));
}

TEST_F(ProcessDriverTest, StoppingAGoneReplicaIsOk) {
  ReplicaHandle h = MustStart(Shell("exit 0"));
  ASSERT_TRUE(AwaitExit(h.pid).has_value());
  EXPECT_TRUE(driver_->Stop(h, SIGTERM, Duration(1000)).ok());
  EXPECT_TRUE(driver_->Stop(ReplicaHandle{h.pid, h.start_ticks + 1}, SIGTERM, Duration(0)).ok());
}

TEST_F(ProcessDriverTest, MissingProgramIsAnErrorNamingIt) {
  ReplicaSpec spec = Shell("");
  spec.argv = {"steward-no-such-program", "--flag"};
  StatusOr<ReplicaHandle> h = driver_->Start(spec);
  ASSERT_FALSE(h.ok());
  EXPECT_EQ(h.status().message(),
            "start web/0: exec 'steward-no-such-program': No such file or directory (searched "
            "PATH and " +
                dir_.path() + "/bin)");
}

TEST_F(ProcessDriverTest, ExecFailureInChildIsReturnedAsError) {
  std::string script = dir_.path() + "/not-executable";
  testing::WriteFile(script, "#!/bin/sh\n");
  ReplicaSpec spec = Shell("");
  spec.argv = {script};
  StatusOr<ReplicaHandle> h = driver_->Start(spec);
  ASSERT_FALSE(h.ok());
  EXPECT_EQ(h.status().message(), "start web/0: exec '" + script + "': Permission denied");
  EXPECT_TRUE(driver_->Reap().empty()) << "a failed start is not a replica exit";
}

TEST_F(ProcessDriverTest, MissingWorkingDirIsReturnedAsError) {
  ReplicaSpec spec = Shell("sleep 30");
  spec.working_dir = dir_.path() + "/nope";
  StatusOr<ReplicaHandle> h = driver_->Start(spec);
  ASSERT_FALSE(h.ok());
  EXPECT_NE(h.status().message().find("chdir '" + spec.working_dir + "'"), std::string::npos)
      << h.status().message();
}

TEST_F(ProcessDriverTest, ProgramIsFoundInExtraPath) {
  std::filesystem::create_directories(dir_.path() + "/bin");
  std::string prog = dir_.path() + "/bin/steward-test-prog";
  testing::WriteFile(prog, "#!/bin/sh\necho from extra path\n");
  chmod(prog.c_str(), 0755);
  ReplicaSpec spec = Shell("");
  spec.argv = {"steward-test-prog"};
  spec.env["PATH"] = "/nonexistent";
  ReplicaHandle h = MustStart(spec);
  std::optional<ExitEvent> e = AwaitExit(h.pid);
  ASSERT_TRUE(e.has_value());
  EXPECT_EQ(e->exit_code, 0);
  EXPECT_EQ(ReadAll(spec.log_dir + "/stdout.log"), "from extra path\n");
}

TEST_F(ProcessDriverTest, ReapReportsExitCode) {
  ReplicaHandle h = MustStart(Shell("exit 3", 2));
  std::optional<ExitEvent> e = AwaitExit(h.pid);
  ASSERT_TRUE(e.has_value());
  EXPECT_EQ(e->service, "web");
  EXPECT_EQ(e->slot, 2);
  EXPECT_EQ(e->generation, 7);
  EXPECT_EQ(e->exit_code, 3);
  EXPECT_EQ(e->signal, 0);
  EXPECT_EQ(e->description, "exited with status 3");
  EXPECT_FALSE(ProcExists(h.pid));
  EXPECT_TRUE(driver_->Reap().empty()) << "each exit is reported once";
}

TEST_F(ProcessDriverTest, ReapReportsKillingSignal) {
  ReplicaHandle h = MustStart(Shell("sleep 30"));
  ASSERT_EQ(kill(h.pid, SIGKILL), 0);
  std::optional<ExitEvent> e = AwaitExit(h.pid);
  ASSERT_TRUE(e.has_value());
  EXPECT_EQ(e->exit_code, -1);
  EXPECT_EQ(e->signal, SIGKILL);
  EXPECT_EQ(e->description.rfind("killed by signal 9", 0), 0u) << e->description;
}

TEST_F(ProcessDriverTest, AliveIsFalseForZombieAndForReusedPid) {
  ReplicaHandle h = MustStart(Shell("exit 0"));
  EXPECT_FALSE(driver_->Alive(ReplicaHandle{h.pid, h.start_ticks + 1}));
  ASSERT_TRUE(PollUntil([&] {
    StatusOr<ProcStat> st = ReadProcStat(h.pid);
    return st.ok() && st->state == 'Z';
  }));
  EXPECT_FALSE(driver_->Alive(h)) << "an exited, unreaped replica is not alive";
}

TEST_F(ProcessDriverTest, ObserveIgnoresOtherInstances) {
  // "a" is a prefix of "ab": the marker must match up to the '/'.
  std::unique_ptr<Driver> other = MakeDriver(UniqueInstance("ab"));
  ReplicaHandle mine = MustStart(Shell("sleep 30"));
  StatusOr<ReplicaHandle> theirs = other->Start(Shell("sleep 30", 1));
  ASSERT_TRUE(theirs.ok());
  StatusOr<std::vector<ObservedReplica>> seen = driver_->Observe();
  ASSERT_TRUE(seen.ok());
  ASSERT_EQ(seen->size(), 1u);
  EXPECT_EQ((*seen)[0].pid, mine.pid);
  EXPECT_TRUE(other->Stop(*theirs, SIGKILL, Duration(0)).ok());
}

TEST_F(ProcessDriverTest, ObserveFindsReplicasThisDriverDidNotStart) {
  // Stands in for a daemon restarted after kill -9: a fresh driver with the same instance.
  ReplicaHandle h = MustStart(Shell("sleep 30", 3));
  std::unique_ptr<Driver> fresh = MakeDriver(UniqueInstance("a"));
  StatusOr<std::vector<ObservedReplica>> seen = fresh->Observe();
  ASSERT_TRUE(seen.ok());
  ASSERT_EQ(seen->size(), 1u);
  EXPECT_EQ((*seen)[0].pid, h.pid);
  EXPECT_EQ((*seen)[0].slot, 3);
  EXPECT_TRUE(fresh->Alive(h));
  ASSERT_TRUE(fresh->Stop(h, SIGTERM, Duration(5000)).ok());
  EXPECT_FALSE(fresh->Alive(h));
}

}  // namespace
}  // namespace steward::drivers
