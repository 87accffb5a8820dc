// IncidentManager over a real SQLite state store in a temp dir, with a clock the test advances.
#include "alerting/incidents.h"

#include <gtest/gtest.h>

#include "unit/state/temp_dir.h"

namespace steward::alerting {
namespace {

using state::IncidentEvent;
using state::IncidentRecord;
using std::chrono::minutes;
using std::chrono::seconds;

Alert MakeAlert(const std::string& name, const std::string& service, const std::string& severity,
                const std::string& summary = "") {
  std::vector<tsdb::Label> labels = {{"alertname", name}, {"instance", "host:1"}};
  if (!service.empty()) labels.push_back({"service", service});
  if (!severity.empty()) labels.push_back({"severity", severity});
  Alert a;
  a.labels = *tsdb::Labels::FromUnsorted(labels);
  if (!summary.empty()) a.annotations["summary"] = summary;
  a.starts_at_ms = 1;
  return a;
}

Alert Resolved(Alert a, int64_t at_ms) {
  a.ends_at_ms = at_ms;
  return a;
}

class IncidentManagerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    OpenStore();
    manager_ = OpenManager(IncidentOptions{}, &registry_);
  }

  void OpenStore() {
    auto store = state::OpenSqliteStateStore(dir_.Sub(".steward"), &clock_);
    ASSERT_TRUE(store.ok()) << store.status().ToString();
    store_ = std::move(store).value();
  }

  std::unique_ptr<IncidentManager> OpenManager(IncidentOptions options,
                                               metrics::Registry* registry) {
    auto m = IncidentManager::Open(store_.get(), &clock_, std::move(options), registry);
    EXPECT_TRUE(m.ok()) << m.status().ToString();
    return m.ok() ? std::move(m).value() : nullptr;
  }

  int64_t Now() const { return ToUnixMillis(clock_.WallNow()); }

  void Fire(const std::vector<Alert>& alerts) {
    Status st = manager_->OnAlerts(alerts, Now());
    ASSERT_TRUE(st.ok()) << st.ToString();
  }

  std::vector<IncidentRecord> All() {
    auto list = manager_->List({});
    EXPECT_TRUE(list.ok()) << list.status().ToString();
    return list.ok() ? *list : std::vector<IncidentRecord>{};
  }

  IncidentRecord Only() {
    auto all = All();
    EXPECT_EQ(all.size(), 1u);
    return all.empty() ? IncidentRecord{} : all[0];
  }

  std::vector<std::string> Kinds(int64_t id) {
    auto d = manager_->Get(id);
    EXPECT_TRUE(d.ok()) << d.status().ToString();
    std::vector<std::string> kinds;
    if (d.ok())
      for (const auto& e : d->events) kinds.push_back(e.kind);
    return kinds;
  }

  state::testing::TempDir dir_;
  FakeClock clock_;
  metrics::Registry registry_;
  std::unique_ptr<state::StateStore> store_;
  std::unique_ptr<IncidentManager> manager_;
};

using KindList = std::vector<std::string>;

TEST_F(IncidentManagerTest, CriticalAlertOpensAnIncidentWithAFiredEvent) {
  Fire({MakeAlert("HighErrorRate", "web", "critical", "5% of requests fail")});
  IncidentRecord r = Only();
  EXPECT_EQ(r.title, "web: HighErrorRate");
  EXPECT_EQ(r.service, "web");
  EXPECT_EQ(r.severity, "critical");
  EXPECT_EQ(r.status, "open");
  EXPECT_EQ(r.opened_at_ms, Now());
  EXPECT_EQ(r.key, "service=web,alertname=HighErrorRate");
  auto d = manager_->Get(r.id);
  ASSERT_TRUE(d.ok());
  ASSERT_EQ(d->events.size(), 1u);
  EXPECT_EQ(d->events[0].kind, "fired");
  EXPECT_EQ(d->events[0].actor, "steward");
  EXPECT_EQ(d->events[0].text, "HighErrorRate: 5% of requests fail");
  const Alert a = MakeAlert("HighErrorRate", "web", "critical");
  EXPECT_NE(d->events[0].data_json.find(FingerprintHex(a.Fingerprint())), std::string::npos);
  EXPECT_EQ(manager_->IncidentForAlert(a.Fingerprint()), r.id);
}

TEST_F(IncidentManagerTest, AlertsBelowTheMinimumOrWithoutSeverityOpenNothing) {
  Fire({MakeAlert("DiskFilling", "db", "warning"), MakeAlert("Odd", "db", "page-me-maybe"),
        MakeAlert("NoSeverity", "db", "")});
  EXPECT_TRUE(All().empty());

  IncidentOptions opt;
  opt.min_severity = "warning";  // now unlabelled alerts (counted as warning) open incidents
  metrics::Registry other;
  manager_ = OpenManager(opt, &other);
  Fire({MakeAlert("NoSeverity", "db", ""), MakeAlert("Info", "api", "info")});
  IncidentRecord r = Only();
  EXPECT_EQ(r.title, "db: NoSeverity");
  EXPECT_EQ(r.severity, "warning");
}

TEST_F(IncidentManagerTest, TheSameAlertFiringAgainAddsNothing) {
  Alert a = MakeAlert("Down", "web", "critical");
  Fire({a});
  clock_.Advance(seconds(30));
  Fire({a});
  Fire({a});
  EXPECT_EQ(Kinds(Only().id), (KindList{"fired"}));
}

TEST_F(IncidentManagerTest, AnotherAlertOfTheSameServiceJoinsAndRaisesTheSeverity) {
  IncidentOptions opt;
  opt.min_severity = "error";
  metrics::Registry other;
  manager_ = OpenManager(opt, &other);
  Fire({MakeAlert("SlowRequests", "web", "error")});
  clock_.Advance(seconds(10));
  Fire({MakeAlert("Down", "web", "critical"), MakeAlert("Down", "api", "critical")});
  auto all = All();
  ASSERT_EQ(all.size(), 2u);
  const IncidentRecord& web = all[1];  // newest first: api opened second
  EXPECT_EQ(web.service, "web");
  EXPECT_EQ(web.severity, "critical");
  EXPECT_EQ(web.key, "service=web,alertname=SlowRequests");
  EXPECT_EQ(Kinds(web.id), (KindList{"fired", "joined"}));
  EXPECT_EQ(all[0].service, "api");
  EXPECT_EQ(Kinds(all[0].id), (KindList{"fired"}));
}

TEST_F(IncidentManagerTest, WithoutJoinByServiceOnlyTheSameKeyJoins) {
  IncidentOptions opt;
  opt.join_by_service = false;
  metrics::Registry other;
  manager_ = OpenManager(opt, &other);
  Alert a = MakeAlert("Down", "web", "critical");
  Alert b = a;
  b.labels = a.labels.With("instance", "host:2");  // same key, another alert
  Fire({a, MakeAlert("Slow", "web", "critical")});
  Fire({b});
  auto all = All();
  ASSERT_EQ(all.size(), 2u);
  EXPECT_EQ(Kinds(all[1].id), (KindList{"fired", "joined"}));
}

TEST_F(IncidentManagerTest, IncidentResolvesItselfWhenEveryAlertHasResolved) {
  Alert a = MakeAlert("Down", "web", "critical");
  Alert b = MakeAlert("Slow", "web", "critical");
  Fire({a, b});
  const int64_t id = Only().id;
  clock_.Advance(minutes(1));
  Fire({Resolved(a, Now()), b});
  EXPECT_EQ(Only().status, "open");
  clock_.Advance(minutes(1));
  Fire({Resolved(b, Now() - 1000)});
  IncidentRecord r = Only();
  EXPECT_EQ(r.status, "resolved");
  EXPECT_EQ(r.resolved_at_ms, Now());
  EXPECT_EQ(Kinds(id), (KindList{"fired", "joined", "resolved", "resolved", "resolved"}));
  auto d = manager_->Get(id);
  ASSERT_TRUE(d.ok());
  EXPECT_EQ(d->events.back().actor, "steward");
  EXPECT_EQ(d->events.back().data_json, "{}");  // the incident's, not an alert's
  EXPECT_FALSE(manager_->IncidentForAlert(a.Fingerprint()).has_value());
}

TEST_F(IncidentManagerTest, AckAndResolveRecordWhoAndWhen) {
  Fire({MakeAlert("Down", "web", "critical")});
  const int64_t id = Only().id;
  clock_.Advance(seconds(90));
  ASSERT_TRUE(manager_->Ack(id, "alice", "on it").ok());
  IncidentRecord r = Only();
  EXPECT_EQ(r.status, "acknowledged");
  EXPECT_EQ(r.acknowledged_at_ms, Now());
  EXPECT_EQ(manager_->Ack(id, "bob", "").code(), StatusCode::kFailedPrecondition);

  clock_.Advance(minutes(5));
  ASSERT_TRUE(manager_->Resolve(id, "bob", "rolled back").ok());
  r = Only();
  EXPECT_EQ(r.status, "resolved");
  EXPECT_EQ(r.resolved_at_ms, Now());
  EXPECT_EQ(manager_->Resolve(id, "bob", "").code(), StatusCode::kFailedPrecondition);
  EXPECT_EQ(manager_->Ack(id, "bob", "").code(), StatusCode::kFailedPrecondition);
  EXPECT_EQ(manager_->Ack(999, "bob", "").code(), StatusCode::kNotFound);

  auto d = manager_->Get(id);
  ASSERT_TRUE(d.ok());
  ASSERT_EQ(d->events.size(), 3u);
  EXPECT_EQ(d->events[1].kind, "acknowledged");
  EXPECT_EQ(d->events[1].actor, "alice");
  EXPECT_EQ(d->events[1].text, "on it");
  EXPECT_EQ(d->events[2].kind, "resolved");
  EXPECT_EQ(d->events[2].actor, "bob");
  EXPECT_EQ(d->events[2].text, "rolled back");
}

TEST_F(IncidentManagerTest, NotesNotificationsAndRemediationsJoinTheTimeline) {
  Fire({MakeAlert("Down", "web", "critical")});
  const int64_t id = Only().id;
  EXPECT_EQ(manager_->Note(id, "carol", "").code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(manager_->Note(404, "carol", "x").code(), StatusCode::kNotFound);
  ASSERT_TRUE(manager_->RecordNotified(id, "oncall-webhook", "sent to #ops").ok());
  ASSERT_TRUE(manager_->RecordRemediation(
                          id, {"restart-web", "restart", "success", "restarted 2 replicas", false})
                  .ok());
  ASSERT_TRUE(manager_->Note(id, "carol", "deploy 41 looks guilty").ok());
  EXPECT_EQ(Kinds(id), (KindList{"fired", "notified", "remediation", "note"}));
  auto d = manager_->Get(id);
  ASSERT_TRUE(d.ok());
  EXPECT_EQ(d->events[2].text, "ran restart-web (restart): success");
  EXPECT_NE(d->events[2].data_json.find("\"dry_run\":false"), std::string::npos);
  EXPECT_EQ(d->events[3].actor, "carol");
  EXPECT_EQ(Only().status, "open");  // none of these change the status
}

TEST_F(IncidentManagerTest, ManualResolveWhileTheAlertFiresOpensNothingUntilItFiresAnew) {
  Alert a = MakeAlert("Down", "web", "critical");
  Fire({a});
  const int64_t id = Only().id;
  ASSERT_TRUE(manager_->Resolve(id, "alice", "known, fixing tomorrow").ok());
  clock_.Advance(seconds(30));
  Fire({a});  // still firing: no reopen, no new incident
  EXPECT_EQ(Only().status, "resolved");
  clock_.Advance(seconds(30));
  Fire({Resolved(a, Now())});  // the alert's resolution still goes on the timeline
  EXPECT_EQ(Kinds(id), (KindList{"fired", "resolved", "resolved"}));
  clock_.Advance(seconds(30));
  Fire({a});  // fires anew within the reopen window
  IncidentRecord r = Only();
  EXPECT_EQ(r.status, "open");
  EXPECT_EQ(r.resolved_at_ms, 0);
  EXPECT_EQ(Kinds(id), (KindList{"fired", "resolved", "resolved", "reopened", "joined"}));
}

TEST_F(IncidentManagerTest, ReopensWithinTheWindowAndOpensAnewAfterIt) {
  Alert a = MakeAlert("Down", "web", "critical");
  Fire({a});
  const int64_t first = Only().id;
  Fire({Resolved(a, Now())});
  clock_.Advance(minutes(4));
  Fire({a});
  EXPECT_EQ(All().size(), 1u);
  EXPECT_EQ(Only().status, "open");
  Fire({Resolved(a, Now())});
  clock_.Advance(minutes(5));  // reopen_window is 5m: not within it any more
  Fire({a});
  auto all = All();
  ASSERT_EQ(all.size(), 2u);
  EXPECT_NE(all[0].id, first);
  EXPECT_EQ(all[0].status, "open");
  EXPECT_EQ(all[1].status, "resolved");
}

TEST_F(IncidentManagerTest, ANewManagerOnTheReopenedStoreContinues) {
  Alert a = MakeAlert("Down", "web", "critical");
  Alert b = MakeAlert("Slow", "web", "critical");
  Fire({a, b});
  const int64_t id = Only().id;
  Fire({Resolved(a, Now())});
  manager_.reset();  // the daemon restarts
  store_.reset();
  OpenStore();
  metrics::Registry fresh;
  manager_ = OpenManager(IncidentOptions{}, &fresh);
  EXPECT_EQ(manager_->IncidentForAlert(b.Fingerprint()), id);
  EXPECT_FALSE(manager_->IncidentForAlert(a.Fingerprint()).has_value());
  Fire({b});  // still firing: already known
  EXPECT_EQ(Kinds(id), (KindList{"fired", "joined", "resolved"}));
  Fire({MakeAlert("Errors", "web", "critical")});  // joins the incident it had open
  EXPECT_EQ(All().size(), 1u);
  clock_.Advance(minutes(1));
  Fire({Resolved(b, Now()), Resolved(MakeAlert("Errors", "web", "critical"), Now())});
  EXPECT_EQ(Only().status, "resolved");
  EXPECT_NE(fresh.Render().find("steward_incidents_open{service=\"web\"} 0"), std::string::npos)
      << fresh.Render();
}

TEST_F(IncidentManagerTest, IncidentWhoseAlertsAllResolvedBeforeACrashResolvesOnOpen) {
  Alert a = MakeAlert("Down", "web", "critical");
  Fire({a});
  const int64_t id = Only().id;
  // The alert's resolution was written, then the process died before resolving the incident.
  IncidentEvent e;
  e.incident_id = id;
  e.kind = "resolved";
  e.actor = "steward";
  e.data_json = "{\"fingerprint\":\"" + FingerprintHex(a.Fingerprint()) + "\"}";
  ASSERT_TRUE(store_->AddIncidentEvent(e).ok());
  metrics::Registry fresh;
  manager_ = OpenManager(IncidentOptions{}, &fresh);
  EXPECT_EQ(Only().status, "resolved");
}

TEST_F(IncidentManagerTest, MttaAndMttrAreMeansPerServiceAndOverall) {
  Alert web = MakeAlert("Down", "web", "critical");
  Alert api = MakeAlert("Down", "api", "critical");
  Fire({web});
  const int64_t web_id = All()[0].id;
  clock_.Advance(seconds(60));
  ASSERT_TRUE(manager_->Ack(web_id, "alice", "").ok());
  Fire({api});
  const int64_t api_id = All()[0].id;
  clock_.Advance(seconds(120));
  ASSERT_TRUE(manager_->Ack(api_id, "bob", "").ok());  // api: acked after 120s
  clock_.Advance(seconds(120));
  ASSERT_TRUE(manager_->Resolve(web_id, "alice", "").ok());  // web: resolved after 300s

  auto stats = manager_->Stats(std::chrono::hours(24));
  ASSERT_TRUE(stats.ok()) << stats.status().ToString();
  EXPECT_EQ(stats->overall.service, kAllServices);
  EXPECT_EQ(stats->overall.opened, 2);
  EXPECT_EQ(stats->overall.unresolved, 1);
  EXPECT_EQ(stats->overall.mtta.count, 2);
  EXPECT_DOUBLE_EQ(stats->overall.mtta.mean_seconds, 90);
  EXPECT_EQ(stats->overall.mttr.count, 1);
  EXPECT_DOUBLE_EQ(stats->overall.mttr.mean_seconds, 300);
  ASSERT_EQ(stats->services.size(), 2u);
  EXPECT_EQ(stats->services[0].service, "api");
  EXPECT_DOUBLE_EQ(stats->services[0].mtta.mean_seconds, 120);
  EXPECT_EQ(stats->services[0].mttr.count, 0);
  EXPECT_EQ(stats->services[1].service, "web");
  EXPECT_DOUBLE_EQ(stats->services[1].mtta.mean_seconds, 60);

  const std::string text = registry_.Render();
  for (const char* line :
       {"steward_incident_mtta_seconds{service=\"_all\"} 90",
        "steward_incident_mtta_seconds{service=\"api\"} 120",
        "steward_incident_mttr_seconds{service=\"web\"} 300",
        "steward_incident_last_resolve_seconds 300", "steward_incidents_open{service=\"api\"} 1",
        "steward_incidents_open{service=\"web\"} 0",
        "steward_incidents_total{service=\"web\",severity=\"critical\"} 1"})
    EXPECT_NE(text.find(line), std::string::npos) << line << "\n" << text;

  clock_.Advance(std::chrono::hours(25));  // both opened before the window
  stats = manager_->Stats(std::chrono::hours(24));
  ASSERT_TRUE(stats.ok());
  EXPECT_EQ(stats->overall.opened, 0);
  EXPECT_TRUE(stats->services.empty());
}

TEST(IncidentStats, OnlyIncidentsOpenedInTheWindowCount) {
  auto rec = [](const std::string& service, int64_t opened, int64_t acked, int64_t resolved) {
    IncidentRecord r;
    r.service = service;
    r.opened_at_ms = opened;
    r.acknowledged_at_ms = acked;
    r.resolved_at_ms = resolved;
    r.status = resolved ? "resolved" : acked ? "acknowledged" : "open";
    return r;
  };
  IncidentStats s = ComputeIncidentStats(
      {rec("a", 1000, 2000, 11000), rec("a", 5000, 0, 8000), rec("b", 500, 600, 700)}, 1000);
  EXPECT_EQ(s.overall.opened, 2);
  EXPECT_EQ(s.overall.mtta.count, 1);
  EXPECT_DOUBLE_EQ(s.overall.mtta.mean_seconds, 1);
  EXPECT_EQ(s.overall.mttr.count, 2);
  EXPECT_DOUBLE_EQ(s.overall.mttr.mean_seconds, 6.5);  // (10 s + 3 s) / 2
  ASSERT_EQ(s.services.size(), 1u);
  EXPECT_EQ(s.services[0].service, "a");
}

TEST_F(IncidentManagerTest, PostmortemDraftHasTheFactsAndEmptySectionsForPeople) {
  Fire({MakeAlert("HighErrorRate", "web", "critical", "5% of requests | fail")});
  const int64_t id = Only().id;
  const std::string opened = FormatRfc3339(clock_.WallNow());
  clock_.Advance(seconds(75));
  ASSERT_TRUE(manager_->Ack(id, "alice", "looking").ok());
  ASSERT_TRUE(manager_->RecordRemediation(
                          id, {"restart-web", "restart", "success", "2 replicas restarted", true})
                  .ok());
  ASSERT_TRUE(manager_->Note(id, "carol", "deploy 41 is the suspect").ok());
  clock_.Advance(minutes(10));
  ASSERT_TRUE(manager_->Resolve(id, "alice", "rolled back").ok());

  auto md = manager_->Postmortem(id);
  ASSERT_TRUE(md.ok()) << md.status().ToString();
  for (const std::string& want : std::vector<std::string>{
           "# Postmortem: incident #" + std::to_string(id) + " — web: HighErrorRate",
           "| Service | web |", "| Severity | critical |", "| Opened | " + opened + " |",
           "| Time to acknowledge | 1m15s |", "| Time to resolve | 11m15s |",
           "- **HighErrorRate**, first at " + opened + " (+0ms)",
           "alertname=\"HighErrorRate\", instance=\"host:1\", service=\"web\", "
           "severity=\"critical\"",
           "| +1m15s | acknowledged | alice | looking |",
           "HighErrorRate: 5% of requests \\| fail",  // a | in text does not break the table
           "runbook `restart-web`, action `restart` (dry run) — success",
           "2 replicas restarted", "carol: deploy 41 is the suspect",
           "alice (resolved): rolled back", "## Root cause", "## Impact", "## What went well",
           "## What went badly", "## Action items"})
    EXPECT_NE(md->find(want), std::string::npos) << want << "\n---\n" << *md;
  EXPECT_EQ(manager_->Postmortem(999).status().code(), StatusCode::kNotFound);
}

TEST(IncidentOptionsCheck, MinimumSeverityMustBeKnown) {
  state::testing::TempDir dir;
  FakeClock clock;
  auto store = state::OpenSqliteStateStore(dir.path(), &clock);
  ASSERT_TRUE(store.ok());
  IncidentOptions opt;
  opt.min_severity = "sev1";
  auto m = IncidentManager::Open(store->get(), &clock, opt, nullptr);
  ASSERT_FALSE(m.ok());
  EXPECT_EQ(m.status().code(), StatusCode::kInvalidArgument);
  EXPECT_NE(m.status().message().find("'sev1'"), std::string::npos);
}

}  // namespace
}  // namespace steward::alerting
