// DORA metrics from a real SQLite state store: every expected figure is worked out by hand in
// the comments next to it from the records the test writes.
#include "report/dora.h"

#include <gtest/gtest.h>

#include "metrics/registry.h"
#include "report/dora_metrics.h"
#include "unit/state/temp_dir.h"

namespace steward::report {
namespace {

constexpr int64_t kMin = 60'000;
constexpr int64_t kHour = 60 * kMin;
constexpr int64_t kDay = 24 * kHour;
constexpr int64_t kNow = 1'800'000'000'000;
constexpr int64_t kSince = kNow - 30 * kDay;

class DoraTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto store = state::OpenSqliteStateStore(dir_.Sub(".steward"), &clock_);
    ASSERT_TRUE(store.ok()) << store.status().ToString();
    store_ = std::move(store).value();
  }

  // A deploy of `service` that finished at `finished` with `status`; committed `lead` before.
  int64_t Deploy(const std::string& service, int64_t finished, const std::string& status,
                 int64_t lead = kHour, const std::string& strategy = "rolling") {
    state::DeployRecord d;
    d.service = service;
    d.release = ++releases_;
    d.strategy = strategy;
    d.trigger = strategy == "rollback" ? "rollback" : "pipeline";
    d.commit = std::string(40, 'c');
    d.commit_time_ms = lead >= 0 ? finished - lead : 0;
    d.status = status;
    d.started_at_ms = finished - 5 * kMin;
    d.finished_at_ms = finished;
    auto id = store_->CreateDeploy(d);
    EXPECT_TRUE(id.ok()) << id.status().ToString();
    return id.ok() ? *id : 0;
  }

  void Incident(const std::string& service, int64_t opened, int64_t resolved) {
    state::IncidentRecord i;
    i.title = service + " is down";
    i.service = service;
    i.severity = "critical";
    i.status = resolved > 0 ? "resolved" : "open";
    i.opened_at_ms = opened;
    i.resolved_at_ms = resolved;
    i.key = "service=" + service + ",alertname=Down";
    auto id = store_->CreateIncident(i, {});
    EXPECT_TRUE(id.ok()) << id.status().ToString();
  }

  DoraReport Compute(DoraOptions options = {}) {
    auto report = ComputeDora(store_.get(), kNow, options);
    EXPECT_TRUE(report.ok()) << report.status().ToString();
    return report.ok() ? *report : DoraReport{};
  }

  static const DoraRow* Row(const DoraReport& r, const std::string& service) {
    for (const auto& row : r.services)
      if (row.service == service) return &row;
    return nullptr;
  }

  state::testing::TempDir dir_;
  FakeClock clock_;
  std::unique_ptr<state::StateStore> store_;
  int64_t releases_ = 0;
};

TEST_F(DoraTest, NoDataSaysNoDeploysRatherThanZeros) {
  DoraReport r = Compute();
  EXPECT_TRUE(r.services.empty());
  EXPECT_FALSE(r.overall.HasDeploys());
  EXPECT_FALSE(r.overall.deploys_per_day.has_value());
  EXPECT_FALSE(r.overall.change_failure_ratio.has_value());
  EXPECT_FALSE(r.overall.lead_time_p50_ms.has_value());
  EXPECT_FALSE(r.overall.time_to_restore_p50_ms.has_value());
  EXPECT_EQ(r.overall.frequency_band, Band::kNone);
  EXPECT_NE(ToText(r).find("no deploys and no incidents"), std::string::npos) << ToText(r);
  EXPECT_NE(ToText(r).find("DORA metrics over 30d ("), std::string::npos) << ToText(r);

  nlohmann::json j = ToJson(r);
  EXPECT_TRUE(j["overall"]["no_deploys"].get<bool>());
  EXPECT_TRUE(j["overall"]["deployment_frequency"]["per_day"].is_null());
  EXPECT_TRUE(j["overall"]["change_failure"]["ratio"].is_null());
  EXPECT_TRUE(j["overall"]["lead_time"]["band"].is_null());
  EXPECT_EQ(j["window_seconds"], 30 * 86400);
}

TEST_F(DoraTest, ServiceWithOnlyIncidentsHasRestoreTimeButNoDeploys) {
  Incident("db", kNow - 2 * kDay, kNow - 2 * kDay + 90 * kMin);
  DoraReport r = Compute();
  const DoraRow* db = Row(r, "db");
  ASSERT_NE(db, nullptr);
  EXPECT_FALSE(db->HasDeploys());
  EXPECT_FALSE(db->deploys_per_day.has_value());
  ASSERT_TRUE(db->time_to_restore_p50_ms.has_value());
  EXPECT_EQ(*db->time_to_restore_p50_ms, 90 * kMin);
  EXPECT_EQ(db->restore_band, Band::kHigh);  // under a day, not under an hour
  std::string text = ToText(r);
  EXPECT_NE(text.find("no deploys"), std::string::npos) << text;
  EXPECT_NE(text.find("1h30m (1) (high)"), std::string::npos) << text;
}

TEST_F(DoraTest, LeadTimeMedianAndP90WithOddAndEvenCounts) {
  // web: lead times 1h, 6h, 2h (odd): median 2h; p90 at rank 0.9*2 = 1.8 → 2h + 0.8*(6h-2h).
  Deploy("web", kNow - 3 * kDay, "succeeded", 1 * kHour);
  Deploy("web", kNow - 2 * kDay, "succeeded", 6 * kHour);
  Deploy("web", kNow - 1 * kDay, "succeeded", 2 * kHour);
  // api: 10m, 20m, 40m, 80m (even): median (20m+40m)/2 = 30m; p90 at rank 2.7 → 40m + 0.7*40m.
  for (int64_t lead : {40, 10, 80, 20})
    Deploy("api", kNow - lead * kHour, "succeeded", lead * kMin);

  DoraReport r = Compute();
  ASSERT_EQ(r.services.size(), 2u);
  EXPECT_EQ(r.services[0].service, "api");  // by name
  const DoraRow* web = Row(r, "web");
  const DoraRow* api = Row(r, "api");
  ASSERT_TRUE(web && api);
  EXPECT_EQ(web->lead_time_samples, 3);
  EXPECT_EQ(*web->lead_time_p50_ms, 2 * kHour);
  EXPECT_EQ(*web->lead_time_p90_ms, 2 * kHour + 4 * kHour * 8 / 10);
  EXPECT_EQ(web->lead_time_band, Band::kHigh);  // 2h: over an hour, under a week
  EXPECT_EQ(*api->lead_time_p50_ms, 30 * kMin);
  EXPECT_EQ(*api->lead_time_p90_ms, 68 * kMin);
  EXPECT_EQ(api->lead_time_band, Band::kElite);  // under an hour

  // Overall: 10m 20m 40m 60m 80m 120m 360m: median 60m; p90 rank 5.4 → 120m + 0.4*240m.
  EXPECT_EQ(r.overall.lead_time_samples, 7);
  EXPECT_EQ(*r.overall.lead_time_p50_ms, 60 * kMin);
  EXPECT_EQ(*r.overall.lead_time_p90_ms, 216 * kMin);
  EXPECT_EQ(r.overall.lead_time_band, Band::kHigh);  // exactly an hour is no longer elite

  // Frequency: 3 changes in 30 days = 0.1/day = 0.7/week: at least monthly → high.
  EXPECT_DOUBLE_EQ(*web->deploys_per_day, 0.1);
  EXPECT_DOUBLE_EQ(*web->deploys_per_week, 0.7);
  EXPECT_EQ(web->frequency_band, Band::kHigh);
  EXPECT_EQ(r.overall.deploys, 7);
  EXPECT_DOUBLE_EQ(*r.overall.deploys_per_day, 7.0 / 30);
  EXPECT_DOUBLE_EQ(*r.overall.change_failure_ratio, 0.0);
  EXPECT_EQ(r.overall.change_failure_band, Band::kElite);
}

TEST_F(DoraTest, WindowIncludesBothEdgesAndNothingOutside) {
  Deploy("web", kSince - 1, "succeeded");       // a millisecond too early
  Deploy("web", kSince, "succeeded");           // the first instant of the window
  Deploy("web", kNow, "succeeded");             // the last
  Deploy("web", kNow + 1, "succeeded");         // the future (a clock ahead): not yet
  Deploy("web", kNow - kHour, "running");       // not finished: no finish time either
  Incident("web", kSince - 1, kSince + kHour);  // opened before the window
  Incident("web", kSince, kSince + 2 * kHour);  // opened at its start: 2h

  DoraReport r = Compute();
  const DoraRow* web = Row(r, "web");
  ASSERT_NE(web, nullptr);
  EXPECT_EQ(web->deploys, 2);
  EXPECT_EQ(web->finished_changes, 2);
  EXPECT_EQ(web->incidents, 1);
  EXPECT_EQ(*web->time_to_restore_p50_ms, 2 * kHour);

  // A 1-day window sees only the deploy at now: one a day is elite.
  DoraOptions day;
  day.window = std::chrono::hours(24);
  DoraReport d = Compute(day);
  EXPECT_EQ(d.overall.deploys, 1);
  EXPECT_DOUBLE_EQ(*d.overall.deploys_per_day, 1.0);
  EXPECT_EQ(d.overall.frequency_band, Band::kElite);
  EXPECT_EQ(d.overall.incidents, 0);
}

TEST_F(DoraTest, FailuresRollbacksAndIncidentsMakeTheChangeFailureRate) {
  int64_t t = kNow - 20 * kDay;
  Deploy("web", t, "succeeded");                     // d1: fine
  Deploy("web", t + kDay, "failed");                 // d2: failed, rolled back automatically
  Deploy("web", t + kDay + 30 * kMin, "succeeded");  // d3: fine; restores d2 after 30m
  Deploy("web", t + 2 * kDay, "rolled-back");        // d4: live, then rolled back by d5
  Deploy("web", t + 2 * kDay + 20 * kMin, "succeeded", kHour, "rollback");  // d5: 20m restore
  Deploy("web", t + 3 * kDay, "succeeded");  // d6: blamed for the incident 59m later
  Incident("web", t + 3 * kDay + 59 * kMin, t + 3 * kDay + 69 * kMin);  // restored in 10m
  Deploy("web", t + 4 * kDay, "succeeded");  // d7: the incident 61m later is not its fault
  Incident("web", t + 4 * kDay + 61 * kMin, t + 4 * kDay + 181 * kMin);  // restored in 2h
  Deploy("web", t + 5 * kDay, "succeeded");              // d8: d9 came between it and the incident
  Deploy("web", t + 5 * kDay + 10 * kMin, "succeeded");  // d9: blamed (incident 10m later)
  Incident("web", t + 5 * kDay + 20 * kMin, 0);          // still open
  Deploy("web", t + 6 * kDay, "frozen");                 // neither success nor failure
  Deploy("web", t + 6 * kDay + kHour, "interrupted");
  Deploy("api", t, "failed");  // never followed by a succeeded deploy

  DoraReport r = Compute();
  const DoraRow* web = Row(r, "web");
  ASSERT_NE(web, nullptr);
  // Finished changes: d1 d2 d3 d4 d6 d7 d8 d9 = 8 (d5 is a rollback; frozen/interrupted are not).
  EXPECT_EQ(web->finished_changes, 8);
  // Failed: d2 (failed), d4 (rolled back), d6 and d9 (incidents) = 4 of 8.
  EXPECT_EQ(web->failed_changes, 4);
  EXPECT_EQ(web->incident_failures, 2);
  EXPECT_DOUBLE_EQ(*web->change_failure_ratio, 0.5);
  EXPECT_EQ(web->change_failure_band, Band::kLow);  // above 30%
  // Went live: all but d2 = 7 changes.
  EXPECT_EQ(web->deploys, 7);
  // Restores: d2 30m, d4 20m, incidents 10m and 2h → 10 20 30 120: median 25m.
  EXPECT_EQ(web->restore_samples, 4);
  EXPECT_EQ(*web->time_to_restore_p50_ms, 25 * kMin);
  EXPECT_EQ(web->restore_band, Band::kElite);
  EXPECT_EQ(web->incidents, 3);
  EXPECT_EQ(web->unresolved_incidents, 1);
  EXPECT_EQ(web->unrestored_failures, 0);

  const DoraRow* api = Row(r, "api");
  ASSERT_NE(api, nullptr);
  EXPECT_TRUE(api->HasDeploys());
  EXPECT_EQ(api->deploys, 0);
  EXPECT_DOUBLE_EQ(*api->deploys_per_day, 0.0);  // it tried: a real zero, not "no deploys"
  EXPECT_DOUBLE_EQ(*api->change_failure_ratio, 1.0);
  EXPECT_EQ(api->unrestored_failures, 1);
  EXPECT_FALSE(api->time_to_restore_p50_ms.has_value());

  // Overall: 9 finished, 5 failed.
  EXPECT_EQ(r.overall.finished_changes, 9);
  EXPECT_EQ(r.overall.failed_changes, 5);
  EXPECT_EQ(r.overall.unrestored_failures, 1);
  EXPECT_NE(ToText(r).find("50% (4/8) (low)"), std::string::npos) << ToText(r);

  // A longer attribution window blames d7 too: 5 of 8.
  DoraOptions wide;
  wide.attribution = std::chrono::minutes(90);
  EXPECT_EQ(Row(Compute(wide), "web")->failed_changes, 5);
}

TEST_F(DoraTest, LeadTimeFallsBackToTheRunAndThenTheRelease) {
  state::PipelineRunRecord run;
  run.pipeline = "ci";
  run.commit_time_ms = kNow - 5 * kHour;
  auto run_id = store_->CreatePipelineRun(run);
  ASSERT_TRUE(run_id.ok()) << run_id.status().ToString();
  state::ReleaseRecord rel;
  rel.service = "web";
  rel.label = "v2";
  rel.commit_time_ms = kNow - 9 * kHour;
  auto version = store_->CreateRelease(rel);
  ASSERT_TRUE(version.ok()) << version.status().ToString();

  state::DeployRecord from_run;
  from_run.service = "web";
  from_run.run_id = *run_id;
  from_run.status = "succeeded";
  from_run.started_at_ms = kNow - 2 * kHour;
  from_run.finished_at_ms = kNow - kHour;  // 5h - 1h = 4h after the commit
  ASSERT_TRUE(store_->CreateDeploy(from_run).ok());
  state::DeployRecord from_release = from_run;
  from_release.run_id = 0;
  from_release.release = *version;
  from_release.finished_at_ms = kNow - 3 * kHour;  // 9h - 3h = 6h
  ASSERT_TRUE(store_->CreateDeploy(from_release).ok());
  state::DeployRecord unknown = from_release;
  unknown.release = 0;  // no commit time anywhere: counted as a deploy, not as a lead time
  ASSERT_TRUE(store_->CreateDeploy(unknown).ok());

  DoraReport r = Compute();
  EXPECT_EQ(r.overall.deploys, 3);
  EXPECT_EQ(r.overall.lead_time_samples, 2);
  EXPECT_EQ(*r.overall.lead_time_p50_ms, 5 * kHour);  // (4h + 6h) / 2
}

TEST_F(DoraTest, ServiceFilterKeepsOneService) {
  Deploy("web", kNow - kDay, "succeeded");
  Deploy("api", kNow - kDay, "failed");
  Incident("api", kNow - kDay, kNow - kDay + kMin);
  DoraOptions only;
  only.service = "web";
  DoraReport r = Compute(only);
  ASSERT_EQ(r.services.size(), 1u);
  EXPECT_EQ(r.services[0].service, "web");
  EXPECT_EQ(r.overall.finished_changes, 1);
  EXPECT_EQ(r.overall.incidents, 0);
  EXPECT_NE(ToText(r).find("service web"), std::string::npos);
}

TEST_F(DoraTest, RejectsAWindowThatIsNotPositive) {
  DoraOptions bad;
  bad.window = Duration(0);
  auto r = ComputeDora(store_.get(), kNow, bad);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), StatusCode::kInvalidArgument);
  EXPECT_NE(r.status().message().find("30d"), std::string::npos);
}

TEST(DoraBands, FollowTheReportsThresholds) {
  EXPECT_EQ(FrequencyBand(3), Band::kElite);
  EXPECT_EQ(FrequencyBand(1), Band::kElite);
  EXPECT_EQ(FrequencyBand(1.0 / 7), Band::kHigh);
  EXPECT_EQ(FrequencyBand(1.0 / 30), Band::kHigh);
  EXPECT_EQ(FrequencyBand(1.0 / 90), Band::kMedium);
  EXPECT_EQ(FrequencyBand(0), Band::kLow);
  EXPECT_EQ(LeadTimeBand(59 * kMin), Band::kElite);
  EXPECT_EQ(LeadTimeBand(7 * kDay), Band::kHigh);
  EXPECT_EQ(LeadTimeBand(30 * kDay), Band::kMedium);
  EXPECT_EQ(LeadTimeBand(200 * kDay), Band::kLow);
  EXPECT_EQ(ChangeFailureBand(0.15), Band::kElite);
  EXPECT_EQ(ChangeFailureBand(0.2), Band::kHigh);
  EXPECT_EQ(ChangeFailureBand(0.31), Band::kLow);
  EXPECT_EQ(RestoreBand(30 * kMin), Band::kElite);
  EXPECT_EQ(RestoreBand(23 * kHour), Band::kHigh);
  EXPECT_EQ(RestoreBand(3 * kDay), Band::kMedium);
  EXPECT_EQ(RestoreBand(8 * kDay), Band::kLow);
  EXPECT_EQ(BandName(Band::kMedium), "medium");
}

TEST(DoraQuantile, InterpolatesBetweenClosestRanks) {
  EXPECT_FALSE(Quantile({}, 0.5).has_value());
  EXPECT_DOUBLE_EQ(*Quantile({7}, 0.9), 7);
  EXPECT_DOUBLE_EQ(*Quantile({4, 1, 3, 2}, 0.5), 2.5);
  EXPECT_DOUBLE_EQ(*Quantile({1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11}, 0.9), 10);
  EXPECT_DOUBLE_EQ(*Quantile({1, 2}, 1.0), 2);
}

TEST_F(DoraTest, MarkdownIsATableWithEveryService) {
  Deploy("web", kNow - kDay, "succeeded", 30 * kMin);
  std::string md = ToMarkdown(Compute());
  EXPECT_NE(md.find("| SERVICE | DEPLOYS |"), std::string::npos) << md;
  EXPECT_NE(md.find("| --- |"), std::string::npos) << md;
  EXPECT_NE(md.find("| web | 1, 0.2/week (high) | 30m0s / 30m0s (elite) | 0% (0/1) (elite) |"),
            std::string::npos)
      << md;
  EXPECT_NE(md.find("| (all) |"), std::string::npos) << md;
}

TEST_F(DoraTest, GaugesFollowTheReportAndDropWhatItNoLongerHas) {
  Deploy("web", kNow - kDay, "succeeded", 2 * kHour);
  Deploy("web", kNow - 2 * kDay, "rolled-back", 4 * kHour);
  Deploy("web", kNow - 2 * kDay + 6 * kMin, "succeeded", kHour, "rollback");
  Incident("db", kNow - kDay, kNow - kDay + 30 * kMin);
  metrics::Registry registry;
  DoraMetrics gauges(&registry);
  gauges.Update(Compute());
  std::string text = registry.Render();
  // 2 changes over 30 days; lead 2h and 4h: median 3h = 10800 s, p90 2h + 0.9*2h = 3.8h.
  EXPECT_NE(text.find("steward_dora_deployment_frequency_per_day{service=\"web\"} 0.0666666"),
            std::string::npos)
      << text;
  EXPECT_NE(text.find("steward_dora_lead_time_seconds{service=\"web\",quantile=\"0.5\"} 10800\n"),
            std::string::npos)
      << text;
  EXPECT_NE(text.find("steward_dora_lead_time_seconds{service=\"web\",quantile=\"0.9\"} 13680\n"),
            std::string::npos)
      << text;
  EXPECT_NE(text.find("steward_dora_change_failure_ratio{service=\"web\"} 0.5\n"),
            std::string::npos)
      << text;
  EXPECT_NE(text.find("steward_dora_time_to_restore_seconds{service=\"web\"} 360\n"),
            std::string::npos)
      << text;
  EXPECT_NE(text.find("steward_dora_time_to_restore_seconds{service=\"db\"} 1800\n"),
            std::string::npos)
      << text;
  // db has no deploys: no frequency or failure series rather than zeros.
  EXPECT_EQ(text.find("steward_dora_change_failure_ratio{service=\"db\"}"), std::string::npos);
  EXPECT_EQ(text.find("steward_dora_deployment_frequency_per_day{service=\"db\"}"),
            std::string::npos);
  EXPECT_NE(text.find("steward_dora_change_failure_ratio{service=\"\"} 0.5\n"), std::string::npos);

  // A report filtered to db drops web's series.
  DoraOptions only_db;
  only_db.service = "db";
  gauges.Update(Compute(only_db));
  text = registry.Render();
  EXPECT_EQ(text.find("service=\"web\""), std::string::npos) << text;
  EXPECT_NE(text.find("steward_dora_time_to_restore_seconds{service=\"db\"} 1800\n"),
            std::string::npos)
      << text;
}

}  // namespace
}  // namespace steward::report
