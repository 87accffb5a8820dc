#include "supervisor/replica_supervisor.h"

#include <gtest/gtest.h>

namespace steward::supervisor {
namespace {

using std::chrono::milliseconds;
using std::chrono::seconds;

config::HealthCheck NoCheck() { return config::HealthCheck{}; }

config::HealthCheck HttpCheck(int healthy = 1, int unhealthy = 3, Duration start_period = {}) {
  config::HealthCheck h;
  h.kind = config::HealthCheckKind::kHttp;
  h.healthy_threshold = healthy;
  h.unhealthy_threshold = unhealthy;
  h.start_period = start_period;
  return h;
}

config::Restart Policy(config::RestartPolicy policy = config::RestartPolicy::kAlways,
                       int crash_loop_restarts = 100) {
  config::Restart r;
  r.policy = policy;
  r.backoff_initial = milliseconds(100);
  r.backoff_max = milliseconds(5000);
  r.crash_loop_restarts = crash_loop_restarts;
  return r;
}

// Drives a supervisor from kPending through its first start.
class Fixture {
 public:
  Fixture(const config::HealthCheck& h, const config::Restart& r) : sup(h, r) {
    EXPECT_EQ(sup.Tick(clock.Now()), Decision::kStart);
    sup.OnStarted(clock.Now());
  }
  MonoTime Now() const { return clock.Now(); }
  FakeClock clock;
  ReplicaSupervisor sup;
};

TEST(ReplicaSupervisor, PendingReplicaStartsOnFirstTickOnly) {
  ReplicaSupervisor sup(NoCheck(), Policy());
  FakeClock clock;
  EXPECT_EQ(sup.StateName(), "pending");
  EXPECT_EQ(sup.Tick(clock.Now()), Decision::kStart);
  EXPECT_EQ(sup.state(), ReplicaState::kStarting);
  EXPECT_EQ(sup.Tick(clock.Now()), Decision::kNone) << "one start per decision";
}

TEST(ReplicaSupervisor, WithoutHealthCheckIsReadyOnStart) {
  Fixture f(NoCheck(), Policy());
  EXPECT_TRUE(f.sup.Ready());
  EXPECT_EQ(f.sup.StateName(), "ready");
}

TEST(ReplicaSupervisor, BecomesReadyAfterHealthyThresholdConsecutiveSuccesses) {
  Fixture f(HttpCheck(/*healthy=*/2), Policy());
  EXPECT_EQ(f.sup.state(), ReplicaState::kStarting);
  f.sup.OnHealthResult(f.Now(), true);
  EXPECT_FALSE(f.sup.Ready());
  f.sup.OnHealthResult(f.Now(), false);  // breaks the streak
  f.sup.OnHealthResult(f.Now(), true);
  EXPECT_FALSE(f.sup.Ready());
  f.sup.OnHealthResult(f.Now(), true);
  EXPECT_TRUE(f.sup.Ready());
}

TEST(ReplicaSupervisor, FailuresInsideStartPeriodDoNotCount) {
  Fixture f(HttpCheck(1, /*unhealthy=*/1, /*start_period=*/seconds(5)), Policy());
  f.clock.Advance(seconds(4));
  f.sup.OnHealthResult(f.Now(), false);
  EXPECT_EQ(f.sup.state(), ReplicaState::kStarting);
  f.clock.Advance(seconds(1));
  f.sup.OnHealthResult(f.Now(), false, "HTTP 503");
  EXPECT_EQ(f.sup.state(), ReplicaState::kUnhealthy)
      << "a replica that never gets healthy restarts";
}

TEST(ReplicaSupervisor, ReadyBecomesUnhealthyAfterThresholdAndIsRestarted) {
  Fixture f(HttpCheck(1, /*unhealthy=*/3), Policy());
  f.sup.OnHealthResult(f.Now(), true);
  ASSERT_TRUE(f.sup.Ready());
  f.sup.OnHealthResult(f.Now(), false);
  f.sup.OnHealthResult(f.Now(), false);
  f.sup.OnHealthResult(f.Now(), true);  // resets the count
  f.sup.OnHealthResult(f.Now(), false);
  f.sup.OnHealthResult(f.Now(), false);
  EXPECT_TRUE(f.sup.Ready());
  f.sup.OnHealthResult(f.Now(), false, "HTTP 500");
  EXPECT_EQ(f.sup.state(), ReplicaState::kUnhealthy);
  EXPECT_FALSE(f.sup.Ready());
  EXPECT_EQ(f.sup.last_reason(), "health check failed 3 times: HTTP 500");

  EXPECT_EQ(f.sup.Tick(f.Now()), Decision::kNone) << "the restart waits its backoff delay";
  f.clock.Advance(milliseconds(100));
  EXPECT_EQ(f.sup.Tick(f.Now()), Decision::kRestartUnhealthy);
  EXPECT_EQ(f.sup.state(), ReplicaState::kStarting);
  EXPECT_EQ(f.sup.restarts(), 1);
  f.sup.OnStarted(f.Now());
  EXPECT_EQ(f.sup.state(), ReplicaState::kStarting);
}

TEST(ReplicaSupervisor, ExitWhileUnhealthyKeepsTheScheduledRestart) {
  Fixture f(HttpCheck(1, /*unhealthy=*/1), Policy());
  f.sup.OnHealthResult(f.Now(), false);
  ASSERT_EQ(f.sup.state(), ReplicaState::kUnhealthy);
  f.sup.OnExited(f.Now(), 1, 0);
  EXPECT_EQ(f.sup.state(), ReplicaState::kBackoff);
  f.clock.Advance(milliseconds(100));
  EXPECT_EQ(f.sup.Tick(f.Now()), Decision::kStart) << "nothing left to kill";
  EXPECT_EQ(f.sup.restarts(), 1);
}

TEST(ReplicaSupervisor, HealthResultsOutsideRunningStatesAreIgnored) {
  Fixture f(HttpCheck(1, /*unhealthy=*/1), Policy());
  f.sup.OnExited(f.Now(), 1, 0);
  f.sup.OnHealthResult(f.Now(), true);
  EXPECT_EQ(f.sup.state(), ReplicaState::kBackoff);
}

struct PolicyCase {
  config::RestartPolicy policy;
  int exit_code;
  int signal;
  ReplicaState expected;
  const char* reason;
};

TEST(ReplicaSupervisor, ExitFollowsRestartPolicy) {
  using P = config::RestartPolicy;
  using S = ReplicaState;
  const PolicyCase cases[] = {
      {P::kAlways, 0, 0, S::kBackoff, "exited with status 0"},
      {P::kAlways, 1, 0, S::kBackoff, "exited with status 1"},
      {P::kOnFailure, 0, 0, S::kStopped, "exited with status 0"},
      {P::kOnFailure, 2, 0, S::kBackoff, "exited with status 2"},
      {P::kOnFailure, -1, 9, S::kBackoff, "killed by signal 9"},
      {P::kNever, 0, 0, S::kStopped, "exited with status 0"},
      {P::kNever, 1, 0, S::kFailed, "exited with status 1"},
      {P::kNever, -1, 15, S::kFailed, "killed by signal 15"},
  };
  for (const PolicyCase& c : cases) {
    Fixture f(NoCheck(), Policy(c.policy));
    f.sup.OnExited(f.Now(), c.exit_code, c.signal);
    EXPECT_EQ(f.sup.state(), c.expected) << c.reason << " under policy " << int(c.policy);
    EXPECT_EQ(f.sup.last_reason(), c.reason);
    EXPECT_FALSE(f.sup.Ready());
  }
}

TEST(ReplicaSupervisor, RestartsAfterBackoffDelay) {
  Fixture f(NoCheck(), Policy());
  f.sup.OnExited(f.Now(), 1, 0);
  f.clock.Advance(milliseconds(99));
  EXPECT_EQ(f.sup.Tick(f.Now()), Decision::kNone);
  f.clock.Advance(milliseconds(1));
  EXPECT_EQ(f.sup.Tick(f.Now()), Decision::kStart);
  f.sup.OnStarted(f.Now());
  f.sup.OnExited(f.Now(), 1, 0);
  EXPECT_EQ(f.sup.next_start(), f.Now() + milliseconds(200));
  EXPECT_EQ(f.sup.restarts(), 2);
}

TEST(ReplicaSupervisor, RestartingTooOftenIsACrashLoopAtMaximumDelay) {
  Fixture f(NoCheck(), Policy(config::RestartPolicy::kAlways, /*crash_loop_restarts=*/3));
  for (int i = 0; i < 3; ++i) {
    f.sup.OnExited(f.Now(), 1, 0);
    f.clock.Advance(std::chrono::duration_cast<Duration>(f.sup.next_start() - f.Now()));
    ASSERT_EQ(f.sup.Tick(f.Now()), Decision::kStart);
    f.sup.OnStarted(f.Now());
  }
  f.sup.OnExited(f.Now(), 1, 0);
  EXPECT_EQ(f.sup.state(), ReplicaState::kCrashLoop);
  EXPECT_EQ(f.sup.StateName(), "crash-loop");
  EXPECT_EQ(f.sup.next_start(), f.Now() + milliseconds(5000));
  f.clock.Advance(milliseconds(5000));
  EXPECT_EQ(f.sup.Tick(f.Now()), Decision::kStart) << "restarts continue in a crash loop";
}

TEST(ReplicaSupervisor, FailedStartIsRetriedOrFailsPerPolicy) {
  Fixture always(NoCheck(), Policy());
  always.sup.OnStartFailed(always.Now(), "exec 'x': No such file or directory");
  EXPECT_EQ(always.sup.state(), ReplicaState::kBackoff);
  EXPECT_EQ(always.sup.last_reason(), "start failed: exec 'x': No such file or directory");

  Fixture never(NoCheck(), Policy(config::RestartPolicy::kNever));
  never.sup.OnStartFailed(never.Now(), "boom");
  EXPECT_EQ(never.sup.state(), ReplicaState::kFailed);
}

TEST(ReplicaSupervisor, StopRequestIsTerminal) {
  Fixture f(NoCheck(), Policy());
  f.sup.OnStopRequested();
  EXPECT_EQ(f.sup.state(), ReplicaState::kStopped);
  f.sup.OnExited(f.Now(), 143, 0);
  f.sup.OnStarted(f.Now());
  f.clock.Advance(seconds(60));
  EXPECT_EQ(f.sup.Tick(f.Now()), Decision::kNone);
  EXPECT_EQ(f.sup.state(), ReplicaState::kStopped);
  EXPECT_EQ(f.sup.restarts(), 0);
}

TEST(ReplicaSupervisor, UpdatedRestartPolicyAppliesToTheNextExit) {
  Fixture f(NoCheck(), Policy(config::RestartPolicy::kAlways));
  f.sup.UpdateSettings(NoCheck(), Policy(config::RestartPolicy::kNever));
  f.sup.OnExited(f.Now(), 1, 0);
  EXPECT_EQ(f.sup.state(), ReplicaState::kFailed);
  f.clock.Advance(seconds(60));
  EXPECT_EQ(f.sup.Tick(f.Now()), Decision::kNone);
}

TEST(ReplicaSupervisor, UpdatedHealthThresholdsApply) {
  Fixture f(HttpCheck(/*healthy=*/1, /*unhealthy=*/5), Policy());
  f.sup.OnHealthResult(f.Now(), true);
  ASSERT_TRUE(f.sup.Ready());
  f.sup.UpdateSettings(HttpCheck(/*healthy=*/1, /*unhealthy=*/1), Policy());
  f.sup.OnHealthResult(f.Now(), false, "HTTP 500");
  EXPECT_EQ(f.sup.state(), ReplicaState::kUnhealthy);
}

TEST(ReplicaSupervisor, KilledByStewardKeepsItsReasonAndRestarts) {
  Fixture f(NoCheck(), Policy());
  f.sup.OnKilled(f.Now(), "memory 80Mi over its limit 64Mi");
  EXPECT_EQ(f.sup.state(), ReplicaState::kBackoff);
  EXPECT_EQ(f.sup.last_reason(), "memory 80Mi over its limit 64Mi");
  f.clock.Advance(milliseconds(100));
  EXPECT_EQ(f.sup.Tick(f.Now()), Decision::kStart);
}

TEST(ReplicaSupervisor, StartingReplicaCountsOneFailurePerInterval) {
  config::HealthCheck h = HttpCheck(/*healthy=*/1, /*unhealthy=*/2);
  h.interval = milliseconds(1000);
  Fixture f(h, Policy());
  // Fast checks while starting: ten failures inside one interval count once.
  for (int i = 0; i < 10; ++i) {
    f.sup.OnHealthResult(f.Now(), false, "connect: Connection refused");
    f.clock.Advance(milliseconds(50));
  }
  EXPECT_EQ(f.sup.state(), ReplicaState::kStarting);
  f.clock.Advance(milliseconds(600));  // one interval after the first counted failure
  f.sup.OnHealthResult(f.Now(), false, "connect: Connection refused");
  EXPECT_EQ(f.sup.state(), ReplicaState::kUnhealthy);
}

TEST(ReplicaSupervisor, ReadyReplicaCountsEveryFailure) {
  config::HealthCheck h = HttpCheck(/*healthy=*/1, /*unhealthy=*/2);
  h.interval = milliseconds(1000);
  Fixture f(h, Policy());
  f.sup.OnHealthResult(f.Now(), true);
  ASSERT_TRUE(f.sup.Ready());
  f.sup.OnHealthResult(f.Now(), false, "HTTP 500");
  f.sup.OnHealthResult(f.Now(), false, "HTTP 500");
  EXPECT_EQ(f.sup.state(), ReplicaState::kUnhealthy);
}

}  // namespace
}  // namespace steward::supervisor
