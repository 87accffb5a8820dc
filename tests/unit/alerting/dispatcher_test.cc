// The dispatcher with a fake clock: group_wait, group_interval and repeat_interval, resolved
// alerts and resolve_timeout, silences (including one ending while the alert still fires),
// inhibition, mute and active time intervals, continue, reloads, and the alerts' API status.
#include "alerting/dispatcher.h"

#include <gtest/gtest.h>

#include "base/clock.h"
#include "unit/alerting/alerting_yaml.h"

namespace steward::alerting {
namespace {

using testing::L;
using testing::ParseAlerting;

constexpr int64_t kSec = 1000;
constexpr int64_t kMin = 60 * kSec;
constexpr int64_t kHour = 60 * kMin;

constexpr char kTeam[] = R"yaml(  route:
    receiver: team
    group_by: [alertname]
    group_wait: 30s
    group_interval: 5m
    repeat_interval: 4h
  receivers:
    - name: team
      webhook_configs: [{url: 'http://localhost:5001/'}]
)yaml";

class DispatcherTest : public ::testing::Test {
 protected:
  void Start(const std::string& yaml) {
    silences_ = std::make_unique<Silences>(Silences::Options{});
    auto d = Dispatcher::Create(ParseAlerting(yaml), silences_.get(),
                                [this](Notification n) { sent_.push_back(std::move(n)); });
    ASSERT_TRUE(d.ok()) << d.status().message();
    dispatcher_ = std::move(d).value();
  }
  int64_t Now() const { return ToUnixMillis(clock_.WallNow()); }
  // The owner's loop: tick at every deadline up to now+d, then at now+d.
  void RunFor(int64_t d) {
    int64_t end = Now() + d;
    for (std::optional<int64_t> next = dispatcher_->NextDeadline(); next && *next <= end;
         next = dispatcher_->NextDeadline()) {
      clock_.Advance(Duration(std::max<int64_t>(0, *next - Now())));
      dispatcher_->Tick(Now());
    }
    clock_.Advance(Duration(end - Now()));
    dispatcher_->Tick(Now());
  }
  // Moves the clock to the next time of day hh:mm UTC (without ticking).
  void JumpToTimeOfDay(int hh, int mm) {
    int64_t day_ms = 24 * kHour;
    int64_t target = ((Now() / day_ms) * day_ms) + hh * kHour + mm * kMin;
    if (target <= Now()) target += day_ms;
    clock_.Advance(Duration(target - Now()));
  }
  Alert Firing(tsdb::Labels labels, int64_t ends = 0) {
    return Alert{std::move(labels), {{"summary", "s"}}, Now(), ends, 0, ""};
  }
  void Put(std::vector<Alert> alerts) { dispatcher_->Put(std::move(alerts), Now()); }
  std::vector<std::string> Names(const Notification& n, bool resolved) {
    std::vector<std::string> out;
    for (const Alert& a : n.alerts) {
      if (a.ResolvedAt(n.now_ms) == resolved) out.push_back(std::string(a.labels.Get("instance")));
    }
    return out;
  }

  FakeClock clock_;
  std::unique_ptr<Silences> silences_;
  std::unique_ptr<Dispatcher> dispatcher_;
  std::vector<Notification> sent_;
};

TEST_F(DispatcherTest, GroupWaitThenGroupIntervalThenRepeatInterval) {
  Start(kTeam);
  int64_t t0 = Now();
  Put({Firing(L({{"alertname", "Down"}, {"instance", "a"}}), t0 + 24 * kHour)});
  EXPECT_EQ(dispatcher_->NextDeadline(), t0 + 30 * kSec);
  RunFor(29 * kSec);
  EXPECT_TRUE(sent_.empty());
  RunFor(1 * kSec);
  ASSERT_EQ(sent_.size(), 1u);
  EXPECT_EQ(sent_[0].receiver, "team");
  EXPECT_EQ(sent_[0].group_key, R"({}:{alertname="Down"})");
  EXPECT_EQ(sent_[0].group_labels, L({{"alertname", "Down"}}));
  EXPECT_EQ(Names(sent_[0], false), std::vector<std::string>{"a"});
  EXPECT_EQ(sent_[0].alerts[0].ends_at_ms, 0);  // firing alerts show no end
  EXPECT_EQ(sent_[0].now_ms, t0 + 30 * kSec);

  RunFor(30 * kSec);  // t0+1m: a second alert joins the group
  Put({Firing(L({{"alertname", "Down"}, {"instance", "b"}}), t0 + 24 * kHour)});
  RunFor(4 * kMin + 29 * kSec);  // just before t0+5m30s
  EXPECT_EQ(sent_.size(), 1u);
  RunFor(1 * kSec);
  ASSERT_EQ(sent_.size(), 2u);
  EXPECT_EQ(Names(sent_[1], false), (std::vector<std::string>{"a", "b"}));
  EXPECT_EQ(sent_[1].now_ms, t0 + 5 * kMin + 30 * kSec);

  // Unchanged: nothing until repeat_interval has passed since the last send (flushes every 5m:
  // the first after t0+5m30s+4h is at t0+4h10m30s).
  RunFor(4 * kHour + 4 * kMin + 59 * kSec);
  EXPECT_EQ(sent_.size(), 2u);
  RunFor(1 * kSec);
  ASSERT_EQ(sent_.size(), 3u);
  EXPECT_EQ(sent_[2].now_ms, t0 + 4 * kHour + 10 * kMin + 30 * kSec);
}

TEST_F(DispatcherTest, GroupsSplitByGroupByLabels) {
  Start(kTeam);
  Put({Firing(L({{"alertname", "Down"}, {"instance", "a"}})),
       Firing(L({{"alertname", "Slow"}, {"instance", "a"}}))});
  EXPECT_EQ(dispatcher_->GroupCount(), 2u);
  RunFor(30 * kSec);
  ASSERT_EQ(sent_.size(), 2u);
  EXPECT_EQ(sent_[0].group_key, R"({}:{alertname="Down"})");
  EXPECT_EQ(sent_[1].group_key, R"({}:{alertname="Slow"})");
}

TEST_F(DispatcherTest, ResolvedAlertsAreSentOnceThenLeaveTheGroup) {
  Start(kTeam);
  int64_t t0 = Now();
  Put({Firing(L({{"alertname", "Down"}, {"instance", "a"}}), t0 + kHour),
       Firing(L({{"alertname", "Down"}, {"instance", "b"}}), t0 + kHour)});
  RunFor(30 * kSec);
  ASSERT_EQ(sent_.size(), 1u);
  RunFor(30 * kSec);
  Alert resolved = Firing(L({{"alertname", "Down"}, {"instance", "b"}}), Now());
  resolved.starts_at_ms = t0;
  Put({resolved});
  RunFor(5 * kMin);  // flush at t0+5m30s
  ASSERT_EQ(sent_.size(), 2u);
  EXPECT_EQ(Names(sent_[1], false), std::vector<std::string>{"a"});
  EXPECT_EQ(Names(sent_[1], true), std::vector<std::string>{"b"});
  RunFor(5 * kMin);
  EXPECT_EQ(sent_.size(), 2u);  // b was dropped from the group; nothing changed
  // The last alert resolves: the group says so once and goes away.
  Put({Alert{L({{"alertname", "Down"}, {"instance", "a"}}), {}, t0, Now(), 0, ""}});
  RunFor(5 * kMin);
  ASSERT_EQ(sent_.size(), 3u);
  EXPECT_EQ(Names(sent_[2], true), std::vector<std::string>{"a"});
  EXPECT_EQ(dispatcher_->GroupCount(), 0u);
  EXPECT_EQ(dispatcher_->NextDeadline(), std::nullopt);
  EXPECT_TRUE(dispatcher_->Alerts(Now()).empty());
}

TEST_F(DispatcherTest, AlertsWithoutAnEndResolveAfterTheResolveTimeout) {
  Start(kTeam);
  int64_t t0 = Now();
  Put({Firing(L({{"alertname", "Down"}, {"instance", "a"}}))});
  RunFor(30 * kSec);
  ASSERT_EQ(sent_.size(), 1u);
  EXPECT_EQ(dispatcher_->Alerts(Now()).size(), 1u);
  EXPECT_EQ(dispatcher_->Alerts(Now())[0].alert.ends_at_ms, t0 + 5 * kMin);
  RunFor(5 * kMin);  // t0+5m30s: no update for 5m
  ASSERT_EQ(sent_.size(), 2u);
  EXPECT_EQ(Names(sent_[1], true), std::vector<std::string>{"a"});
  EXPECT_EQ(sent_[1].alerts[0].ends_at_ms, t0 + 5 * kMin);
  EXPECT_TRUE(dispatcher_->Alerts(Now()).empty());
}

TEST_F(DispatcherTest, UpdatesKeepAnAlertFiringAndItsFirstStart) {
  Start(kTeam);
  int64_t t0 = Now();
  for (int i = 0; i < 12; ++i) {  // the evaluator re-sends every minute for 12 minutes
    Alert a = Firing(L({{"alertname", "Down"}, {"instance", "a"}}));
    a.starts_at_ms = t0 + (i == 0 ? 0 : kSec);  // a later start in an update does not win
    Put({a});
    RunFor(kMin);
  }
  ASSERT_EQ(sent_.size(), 1u);  // never resolved, never changed
  auto alerts = dispatcher_->Alerts(Now());
  ASSERT_EQ(alerts.size(), 1u);
  EXPECT_EQ(alerts[0].alert.starts_at_ms, t0);
}

TEST_F(DispatcherTest, WithoutSendResolvedOnlyFiringChangesAreSent) {
  Start(
      R"yaml(  route: {receiver: quiet, group_by: [alertname], group_wait: 30s, group_interval: 5m}
  receivers:
    - name: quiet
      webhook_configs: [{url: 'http://localhost:5001/', send_resolved: false}]
)yaml");
  int64_t t0 = Now();
  Put({Firing(L({{"alertname", "Down"}, {"instance", "a"}}), t0 + kHour),
       Firing(L({{"alertname", "Down"}, {"instance", "b"}}), t0 + kHour)});
  RunFor(30 * kSec);
  ASSERT_EQ(sent_.size(), 1u);
  Put({Alert{L({{"alertname", "Down"}, {"instance", "b"}}), {}, t0, Now(), 0, ""}});
  RunFor(5 * kMin);
  EXPECT_EQ(sent_.size(), 1u);
  Put({Alert{L({{"alertname", "Down"}, {"instance", "a"}}), {}, t0, Now(), 0, ""}});
  RunFor(5 * kMin);
  EXPECT_EQ(sent_.size(), 1u);
  EXPECT_EQ(dispatcher_->GroupCount(), 0u);
}

TEST_F(DispatcherTest, SilencedAlertsAreNotSentAndAreNotifiedWhenTheSilenceEnds) {
  Start(kTeam);
  int64_t t0 = Now();
  tsdb::Labels down = L({{"alertname", "Down"}, {"instance", "a"}});
  Silence s;
  s.matchers = {{"instance", config::LabelMatcher::Op::kEqual, "a"}};
  s.starts_at_ms = t0;
  s.ends_at_ms = t0 + 10 * kMin;
  std::string id = silences_->Set(s, t0).value();
  Put({Firing(down, t0 + 24 * kHour)});
  RunFor(30 * kSec);
  EXPECT_TRUE(sent_.empty());
  auto status = dispatcher_->Alerts(Now());
  ASSERT_EQ(status.size(), 1u);
  EXPECT_EQ(status[0].state, "suppressed");
  EXPECT_EQ(status[0].silenced_by, std::vector<std::string>{id});
  EXPECT_EQ(status[0].receivers, std::vector<std::string>{"team"});
  RunFor(5 * kMin);  // t0+5m30s, still silenced
  EXPECT_TRUE(sent_.empty());
  RunFor(5 * kMin);  // t0+10m30s: the silence ended at t0+10m
  ASSERT_EQ(sent_.size(), 1u);
  EXPECT_EQ(Names(sent_[0], false), std::vector<std::string>{"a"});
  EXPECT_EQ(dispatcher_->Alerts(Now())[0].state, "active");
}

TEST_F(DispatcherTest, AnAlertSilencedAfterItsNotificationIsNotifiedAgainWhenTheSilenceEnds) {
  Start(kTeam);
  int64_t t0 = Now();
  Put({Firing(L({{"alertname", "Down"}, {"instance", "a"}}), t0 + 24 * kHour)});
  RunFor(30 * kSec);
  ASSERT_EQ(sent_.size(), 1u);
  Silence s;
  s.matchers = {{"alertname", config::LabelMatcher::Op::kEqual, "Down"}};
  s.starts_at_ms = Now();
  s.ends_at_ms = Now() + 20 * kMin;
  std::string id = silences_->Set(s, Now()).value();
  RunFor(15 * kMin);
  EXPECT_EQ(sent_.size(), 1u);
  ASSERT_TRUE(silences_->Expire(id, Now()).ok());  // t0+15m30s
  RunFor(5 * kMin);                                // next flush at t0+20m30s
  ASSERT_EQ(sent_.size(), 2u);
  EXPECT_EQ(sent_[1].now_ms, t0 + 20 * kMin + 30 * kSec);
}

TEST_F(DispatcherTest, InhibitedAlertsAreNotSentAndShowTheirInhibitor) {
  Start(std::string(kTeam) + R"yaml(  inhibit_rules:
    - source_matchers: [severity="critical"]
      target_matchers: [severity="warning"]
      equal: [instance]
)yaml");
  int64_t t0 = Now();
  Alert critical =
      Firing(L({{"alertname", "Down"}, {"instance", "a"}, {"severity", "critical"}}), t0 + kHour);
  Put({critical,
       Firing(L({{"alertname", "Slow"}, {"instance", "a"}, {"severity", "warning"}}), t0 + kHour),
       Firing(L({{"alertname", "Slow"}, {"instance", "b"}, {"severity", "warning"}}), t0 + kHour)});
  RunFor(30 * kSec);
  ASSERT_EQ(sent_.size(), 2u);
  EXPECT_EQ(sent_[0].group_key, R"({}:{alertname="Down"})");
  EXPECT_EQ(Names(sent_[1], false), std::vector<std::string>{"b"});
  auto status = dispatcher_->Alerts(Now());
  ASSERT_EQ(status.size(), 3u);
  EXPECT_EQ(status[1].alert.labels.Get("instance"), "a");
  EXPECT_EQ(status[1].state, "suppressed");
  EXPECT_EQ(status[1].inhibited_by,
            std::vector<std::string>{FingerprintHex(critical.Fingerprint())});
  // The source resolves: the inhibited alert is notified at its group's next flush.
  Put({Alert{critical.labels, {}, t0, Now(), 0, ""}});
  RunFor(5 * kMin);
  ASSERT_EQ(sent_.size(), 4u);  // Down resolved, Slow with a and b
  EXPECT_EQ(Names(sent_[3], false), (std::vector<std::string>{"a", "b"}));
}

constexpr char kTimed[] = R"yaml(  route:
    receiver: team
    group_wait: 30s
    group_interval: 5m
    routes:
      - matchers: [when="night"]
        mute_time_intervals: [night]
      - matchers: [when="office"]
        active_time_intervals: [office]
  receivers:
    - name: team
      webhook_configs: [{url: 'http://localhost:5001/'}]
  time_intervals:
    - name: night
      time_intervals: [{times: [{start_time: '00:00', end_time: '08:00'}]}]
    - name: office
      time_intervals: [{times: [{start_time: '09:00', end_time: '17:00'}]}]
)yaml";

TEST_F(DispatcherTest, MuteTimeIntervalsHoldNotificationsBack) {
  Start(kTimed);
  JumpToTimeOfDay(7, 50);
  Put({Firing(L({{"alertname", "Disk"}, {"when", "night"}}), Now() + 24 * kHour)});
  RunFor(5 * kMin + 30 * kSec);  // flushes at 07:50:30 and 07:55:30: muted
  EXPECT_TRUE(sent_.empty());
  RunFor(5 * kMin);  // 08:00:30
  ASSERT_EQ(sent_.size(), 1u);
}

TEST_F(DispatcherTest, ActiveTimeIntervalsSendOnlyInsideThem) {
  Start(kTimed);
  JumpToTimeOfDay(8, 50);
  Put({Firing(L({{"alertname", "Disk"}, {"when", "office"}}), Now() + 24 * kHour)});
  RunFor(5 * kMin + 30 * kSec);
  EXPECT_TRUE(sent_.empty());
  RunFor(5 * kMin);  // 09:00:30
  ASSERT_EQ(sent_.size(), 1u);
}

TEST_F(DispatcherTest, AnAlertThatStartedLongAgoFlushesItsNewGroupAtOnce) {
  Start(kTeam);
  Alert old = Firing(L({{"alertname", "Down"}, {"instance", "a"}}));
  old.starts_at_ms = Now() - kHour;
  Put({old});
  EXPECT_EQ(dispatcher_->NextDeadline(), Now());
  RunFor(0);
  EXPECT_EQ(sent_.size(), 1u);
}

TEST_F(DispatcherTest, ContinueSendsToEveryMatchingRoute) {
  Start(R"yaml(  route:
    receiver: default
    group_wait: 10s
    routes:
      - {matchers: [team="db"], receiver: db, continue: true}
      - {matchers: [severity="page"], receiver: pager}
  receivers:
    - {name: default, webhook_configs: [{url: 'http://localhost:1/'}]}
    - {name: db, webhook_configs: [{url: 'http://localhost:2/'}]}
    - {name: pager, pagerduty_configs: [{routing_key: k}]}
)yaml");
  Put({Firing(L({{"alertname", "X"}, {"team", "db"}, {"severity", "page"}}))});
  RunFor(10 * kSec);
  ASSERT_EQ(sent_.size(), 2u);
  std::vector<std::string> receivers{sent_[0].receiver, sent_[1].receiver};
  std::sort(receivers.begin(), receivers.end());
  EXPECT_EQ(receivers, (std::vector<std::string>{"db", "pager"}));
}

TEST_F(DispatcherTest, GroupsListEveryGroupWithItsUnresolvedAlerts) {
  Start(kTeam);
  int64_t t0 = Now();
  Put({Firing(L({{"alertname", "Slow"}, {"instance", "b"}}), t0 + kHour),
       Firing(L({{"alertname", "Down"}, {"instance", "b"}}), t0 + kHour),
       Firing(L({{"alertname", "Down"}, {"instance", "a"}}), t0 + kHour),
       Alert{L({{"alertname", "Gone"}}), {}, t0 - kHour, t0 - 1, 0, ""}});
  std::vector<GroupStatus> groups = dispatcher_->Groups(Now());
  ASSERT_EQ(groups.size(), 2u);  // Gone is resolved: its group is not shown
  EXPECT_EQ(groups[0].group_key, R"({}:{alertname="Down"})");
  EXPECT_EQ(groups[0].receiver, "team");
  EXPECT_EQ(groups[0].labels, L({{"alertname", "Down"}}));
  ASSERT_EQ(groups[0].alerts.size(), 2u);
  EXPECT_EQ(groups[0].alerts[0].alert.labels.Get("instance"), "a");
  EXPECT_EQ(groups[0].alerts[0].state, "active");
  EXPECT_EQ(groups[1].group_key, R"({}:{alertname="Slow"})");
}

TEST_F(DispatcherTest, AReceiverWithoutIntegrationsReceivesNothing) {
  Start("  route: {receiver: blackhole, group_wait: 1s}\n  receivers: [{name: blackhole}]\n");
  Put({Firing(L({{"alertname", "X"}}))});
  RunFor(10 * kSec);
  EXPECT_TRUE(sent_.empty());
  EXPECT_EQ(dispatcher_->Alerts(Now()).size(), 1u);
}

TEST_F(DispatcherTest, AReloadDoesNotSendAgainWhatWasSent) {
  Start(kTeam);
  Put({Firing(L({{"alertname", "Down"}, {"instance", "a"}}), Now() + 24 * kHour)});
  RunFor(30 * kSec);
  ASSERT_EQ(sent_.size(), 1u);
  RunFor(kMin);
  ASSERT_TRUE(dispatcher_->Reload(ParseAlerting(kTeam), Now()).ok());
  EXPECT_EQ(dispatcher_->GroupCount(), 1u);
  RunFor(10 * kMin);
  EXPECT_EQ(sent_.size(), 1u);
}

TEST_F(DispatcherTest, AnAlertFiringAgainAfterItsGroupWentAwayIsNotifiedAgain) {
  Start(kTeam);
  tsdb::Labels down = L({{"alertname", "Down"}, {"instance", "a"}});
  Put({Firing(down, Now() + kMin)});
  RunFor(30 * kSec);
  RunFor(5 * kMin);  // resolved and dropped
  ASSERT_EQ(sent_.size(), 2u);
  EXPECT_EQ(dispatcher_->GroupCount(), 0u);
  Put({Firing(down, Now() + kHour)});
  RunFor(30 * kSec);
  ASSERT_EQ(sent_.size(), 3u);
  EXPECT_EQ(Names(sent_[2], false), std::vector<std::string>{"a"});
}

}  // namespace
}  // namespace steward::alerting
