// The rule evaluator against a real TSDB in a temp dir: recording rules and their staleness
// markers, the alert lifecycle with for / keep_firing_for / resolve_after, ALERTS and
// ALERTS_FOR_STATE, limits, errors, sending, restore after a restart and carrying state across a
// reload.
#include "alerting/rule_eval.h"

#include <gtest/gtest.h>

#include <cmath>
#include <optional>
#include <string>
#include <vector>

#include "promql/selector.h"
#include "unit/tsdb/tsdb_test_util.h"

namespace steward::alerting {
namespace {

using tsdb::testing::TempDir;

constexpr int64_t kT0 = 1'700'000'000'000;  // a whole second
constexpr int64_t kMin = 60'000;

class RuleEvalTest : public ::testing::Test {
 protected:
  void SetUp() override {
    db_ = tsdb::testing::OpenDb(tsdb::testing::TestOptions(dir_.path()));
    ASSERT_NE(db_, nullptr);
    options_.engine = &engine_;
    options_.external_url = "http://steward.example:9090";
  }

  static RuleGroup Group(const std::string& yaml) {
    RuleFileResult r = ParseRuleText(yaml, "rules.yml");
    EXPECT_TRUE(r.ok()) << (r.ok() ? "" : r.errors[0].ToString());
    EXPECT_FALSE(r.file.groups.empty());
    return r.ok() ? r.file.groups[0] : RuleGroup{};
  }
  std::unique_ptr<GroupEvaluator> Evaluator(const std::string& yaml) {
    return std::make_unique<GroupEvaluator>(Group(yaml), "rules.yml", options_);
  }

  // Appends `metric{labels}` = v at t.
  void Put(const std::string& metric, std::vector<tsdb::Label> labels, int64_t t, double v) {
    labels.push_back({"__name__", metric});
    auto app = db_->NewAppender();
    ASSERT_TRUE(app->Append(0, tsdb::testing::L(labels), t, v).ok());
    auto c = app->Commit();
    ASSERT_TRUE(c.ok()) << c.status().ToString();
    EXPECT_EQ(c->out_of_order, 0);
  }

  std::vector<tsdb::Series> Select(const std::string& selector) {
    auto m = promql::ParseSeriesSelector(selector);
    EXPECT_TRUE(m.ok()) << m.status().ToString();
    return m.ok() ? tsdb::testing::SelectAll(*db_, *m) : std::vector<tsdb::Series>{};
  }
  // The samples of the one series the selector matches.
  std::vector<tsdb::Sample> Samples(const std::string& selector) {
    std::vector<tsdb::Series> s = Select(selector);
    EXPECT_EQ(s.size(), 1u) << selector;
    return s.size() == 1 ? s[0].samples : std::vector<tsdb::Sample>{};
  }
  // The value written at t, or nullopt.
  std::optional<double> ValueAt(const std::string& selector, int64_t t) {
    for (const tsdb::Sample& s : Samples(selector)) {
      if (s.t == t) return s.v;
    }
    return std::nullopt;
  }

  void EvalAt(GroupEvaluator& ev, int64_t t) {
    Status s = ev.Eval(db_.get(), t);
    ASSERT_TRUE(s.ok()) << s.ToString();
  }

  // The rule's one alert (nullopt when it has none or several).
  static std::optional<ActiveAlert> OnlyAlert(const GroupEvaluator& ev, size_t rule = 0) {
    std::vector<RuleStatus> rs = ev.Rules();
    if (rs.size() <= rule || rs[rule].alerts.size() != 1) return std::nullopt;
    return rs[rule].alerts[0];
  }

  TempDir dir_;
  std::unique_ptr<tsdb::Db> db_;
  promql::Engine engine_;
  EvalOptions options_;
};

// ---- recording rules ----------------------------------------------------------------------

TEST_F(RuleEvalTest, RecordingRuleWritesResultUnderRecordNameWithRuleLabels) {
  Put("x", {{"job", "a"}, {"team", "db"}}, kT0, 1);
  Put("x", {{"job", "b"}}, kT0, 2);
  auto ev = Evaluator(R"(groups:
  - name: g
    rules:
      - record: job:x:doubled
        expr: x * 2
        labels: {team: web}
)");
  EvalAt(*ev, kT0);
  EXPECT_EQ(ValueAt(R"(job:x:doubled{job="a",team="web"})", kT0), 2.0);
  EXPECT_EQ(ValueAt(R"(job:x:doubled{job="b",team="web"})", kT0), 4.0);
  EXPECT_EQ(Select(R"({__name__="job:x:doubled",team="db"})").size(), 0u);
  std::vector<RuleStatus> rs = ev->Rules();
  ASSERT_EQ(rs.size(), 1u);
  EXPECT_EQ(rs[0].health, "ok");
  EXPECT_EQ(rs[0].last_eval_ms, kT0);
  EXPECT_EQ(ev->last_eval_ms(), kT0);
}

TEST_F(RuleEvalTest, LaterRulesSeeEarlierRulesResultsOfTheSameEvaluation) {
  Put("x", {}, kT0, 5);
  auto ev = Evaluator(R"(groups:
  - name: g
    rules:
      - record: step1
        expr: x + 1
      - record: step2
        expr: step1 * 10
)");
  EvalAt(*ev, kT0);
  EXPECT_EQ(ValueAt("step2", kT0), 60.0);
}

TEST_F(RuleEvalTest, RecordingRuleMarksSeriesItNoLongerProducesStale) {
  auto ev = Evaluator(R"(groups:
  - name: g
    rules:
      - record: high
        expr: x > 1
)");
  Put("x", {{"job", "a"}}, kT0, 2);
  Put("x", {{"job", "b"}}, kT0, 2);
  EvalAt(*ev, kT0);
  Put("x", {{"job", "a"}}, kT0 + kMin, 2);
  Put("x", {{"job", "b"}}, kT0 + kMin, 0);
  EvalAt(*ev, kT0 + kMin);
  auto b = Samples(R"(high{job="b"})");
  ASSERT_EQ(b.size(), 2u);
  EXPECT_TRUE(tsdb::IsStaleNaN(b[1].v));
  EXPECT_EQ(b[1].t, kT0 + kMin);
  EXPECT_EQ(ValueAt(R"(high{job="a"})", kT0 + kMin), 2.0);
  // Only once: the series is not marked again at the next evaluation.
  Put("x", {{"job", "a"}}, kT0 + 2 * kMin, 2);
  EvalAt(*ev, kT0 + 2 * kMin);
  EXPECT_EQ(Samples(R"(high{job="b"})").size(), 2u);
}

TEST_F(RuleEvalTest, ScalarResultIsOneSeriesWithOnlyTheName) {
  auto ev = Evaluator(R"(groups:
  - name: g
    rules:
      - record: answer
        expr: 40 + 2
)");
  EvalAt(*ev, kT0);
  std::vector<tsdb::Series> s = Select("answer");
  ASSERT_EQ(s.size(), 1u);
  EXPECT_EQ(s[0].labels.size(), 1u);
  EXPECT_EQ(s[0].samples.at(0).v, 42.0);
}

TEST_F(RuleEvalTest, StringResultIsAnError) {
  auto ev = Evaluator(R"(groups:
  - name: g
    rules:
      - record: words
        expr: '"text"'
)");
  EvalAt(*ev, kT0);
  EXPECT_EQ(ev->Rules()[0].health, "err");
  EXPECT_EQ(ev->Rules()[0].last_error, "rule result is not a vector or scalar");
}

TEST_F(RuleEvalTest, FailedEvaluationWritesNoStalenessMarkersUntilTheRuleWorksAgain) {
  auto ev = Evaluator(R"(groups:
  - name: g
    rules:
      - record: r
        expr: x
        labels: {job: same}
)");
  Put("x", {{"job", "a"}}, kT0, 1);
  EvalAt(*ev, kT0);
  Put("x", {{"job", "a"}}, kT0 + kMin, 1);
  Put("x", {{"job", "b"}}, kT0 + kMin, 1);
  EvalAt(*ev, kT0 + kMin);  // duplicate series: an error, nothing written
  EXPECT_EQ(ev->Rules()[0].health, "err");
  EXPECT_EQ(Samples("r").size(), 1u);
  EvalAt(*ev, kT0 + 2 * kMin);  // both x still within the lookback: still an error
  EXPECT_EQ(ev->Rules()[0].health, "err");
  EXPECT_EQ(Samples("r").size(), 1u);
  EvalAt(*ev, kT0 + 10 * kMin);  // both x are past the lookback: empty result, r goes stale
  EXPECT_EQ(ev->Rules()[0].health, "ok");
  ASSERT_EQ(Samples("r").size(), 2u);
  EXPECT_TRUE(tsdb::IsStaleNaN(Samples("r")[1].v));
}

TEST_F(RuleEvalTest, DuplicateSeriesAfterRuleLabelsIsAnErrorAndLaterRulesStillRun) {
  Put("x", {{"job", "a"}}, kT0, 1);
  Put("x", {{"job", "b"}}, kT0, 1);
  auto ev = Evaluator(R"(groups:
  - name: g
    rules:
      - record: flat
        expr: x
        labels: {job: same}
      - record: ok
        expr: sum(x)
)");
  EvalAt(*ev, kT0);
  std::vector<RuleStatus> rs = ev->Rules();
  EXPECT_EQ(rs[0].health, "err");
  EXPECT_EQ(rs[0].last_error,
            "vector contains metrics with the same labelset after applying rule labels");
  EXPECT_EQ(Select("flat").size(), 0u);
  EXPECT_EQ(rs[1].health, "ok");
  EXPECT_EQ(ValueAt("ok", kT0), 2.0);
}

TEST_F(RuleEvalTest, QueryErrorMarksTheRuleAndTheGroupGoesOn) {
  Put("x", {{"job", "a"}}, kT0, 1);
  auto ev = Evaluator(R"y(groups:
  - name: g
    rules:
      - alert: Broken
        expr: label_replace(x, "1bad", "$1", "job", "(.*)")
      - record: fine
        expr: x
)y");
  EvalAt(*ev, kT0);
  std::vector<RuleStatus> rs = ev->Rules();
  EXPECT_EQ(rs[0].health, "err");
  EXPECT_NE(rs[0].last_error.find("1bad"), std::string::npos) << rs[0].last_error;
  EXPECT_EQ(rs[1].health, "ok");
  EXPECT_EQ(ValueAt(R"(fine{job="a"})", kT0), 1.0);
  // Health comes back once the rule evaluates again without error.
  EXPECT_EQ(rs[0].last_eval_ms, kT0);
}

TEST_F(RuleEvalTest, RecordingRuleOverTheGroupLimitIsAnError) {
  Put("x", {{"job", "a"}}, kT0, 1);
  Put("x", {{"job", "b"}}, kT0, 1);
  auto ev = Evaluator(R"(groups:
  - name: g
    limit: 1
    rules:
      - record: r
        expr: x
)");
  EvalAt(*ev, kT0);
  EXPECT_EQ(ev->Rules()[0].last_error, "exceeded limit of 1 with 2 series");
  EXPECT_EQ(Select("r").size(), 0u);
}

// ---- the alert lifecycle ------------------------------------------------------------------

constexpr char kForTwoMinutes[] = R"(groups:
  - name: g
    interval: 1m
    rules:
      - alert: Up
        expr: x > 0
        for: 2m
)";

TEST_F(RuleEvalTest, AlertIsPendingThenFiresExactlyWhenForHasPassed) {
  auto ev = Evaluator(kForTwoMinutes);
  for (int i = 0; i <= 2; ++i) {
    Put("x", {{"job", "a"}}, kT0 + i * kMin, 1);
    EvalAt(*ev, kT0 + i * kMin);
    std::optional<ActiveAlert> a = OnlyAlert(*ev);
    ASSERT_TRUE(a.has_value());
    EXPECT_EQ(a->state, i < 2 ? AlertState::kPending : AlertState::kFiring) << i;
    EXPECT_EQ(a->active_at_ms, kT0);
    EXPECT_EQ(a->labels, tsdb::testing::L({{"alertname", "Up"}, {"job", "a"}}));
  }
  EXPECT_EQ(OnlyAlert(*ev)->fired_at_ms, kT0 + 2 * kMin);
  auto pending = Samples(R"(ALERTS{alertname="Up",alertstate="pending",job="a"})");
  ASSERT_EQ(pending.size(), 3u);
  EXPECT_EQ(pending[0].v, 1.0);
  EXPECT_EQ(pending[1].v, 1.0);
  EXPECT_TRUE(tsdb::IsStaleNaN(pending[2].v));  // it became the firing series
  EXPECT_EQ(ValueAt(R"(ALERTS{alertname="Up",alertstate="firing",job="a"})", kT0 + 2 * kMin), 1.0);
  auto for_state = Samples(R"(ALERTS_FOR_STATE{alertname="Up",job="a"})");
  ASSERT_EQ(for_state.size(), 3u);
  for (const tsdb::Sample& s : for_state) EXPECT_EQ(s.v, kT0 / 1000);
}

TEST_F(RuleEvalTest, AlertWithoutForFiresAtOnce) {
  Put("x", {}, kT0, 1);
  auto ev = Evaluator(R"(groups:
  - name: g
    rules:
      - alert: Now
        expr: x > 0
)");
  EvalAt(*ev, kT0);
  ASSERT_TRUE(OnlyAlert(*ev).has_value());
  EXPECT_EQ(OnlyAlert(*ev)->state, AlertState::kFiring);
  EXPECT_EQ(OnlyAlert(*ev)->fired_at_ms, kT0);
}

TEST_F(RuleEvalTest, PendingAlertIsDroppedWhenTheConditionClears) {
  auto ev = Evaluator(kForTwoMinutes);
  Put("x", {}, kT0, 1);
  EvalAt(*ev, kT0);
  Put("x", {}, kT0 + kMin, 0);
  EvalAt(*ev, kT0 + kMin);
  EXPECT_TRUE(ev->Rules()[0].alerts.empty());
  auto pending = Samples(R"(ALERTS{alertname="Up"})");
  ASSERT_EQ(pending.size(), 2u);
  EXPECT_TRUE(tsdb::IsStaleNaN(pending[1].v));
  EXPECT_TRUE(tsdb::IsStaleNaN(Samples("ALERTS_FOR_STATE").back().v));
  // Back again: a new alert, pending from now.
  Put("x", {}, kT0 + 2 * kMin, 1);
  EvalAt(*ev, kT0 + 2 * kMin);
  EXPECT_EQ(OnlyAlert(*ev)->active_at_ms, kT0 + 2 * kMin);
}

TEST_F(RuleEvalTest, FiringAlertIsResolvedKeptForRetentionThenDeleted) {
  Put("x", {}, kT0, 1);
  auto ev = Evaluator(R"(groups:
  - name: g
    rules:
      - alert: Now
        expr: x > 0
)");
  EvalAt(*ev, kT0);
  Put("x", {}, kT0 + kMin, 0);
  EvalAt(*ev, kT0 + kMin);
  ASSERT_TRUE(OnlyAlert(*ev).has_value());
  EXPECT_EQ(OnlyAlert(*ev)->state, AlertState::kInactive);
  EXPECT_EQ(OnlyAlert(*ev)->resolved_at_ms, kT0 + kMin);
  EXPECT_TRUE(tsdb::IsStaleNaN(Samples(R"(ALERTS{alertstate="firing"})").back().v));
  // Kept while t - resolved_at <= 15m, deleted after.
  EvalAt(*ev, kT0 + 16 * kMin);
  EXPECT_TRUE(OnlyAlert(*ev).has_value());
  EvalAt(*ev, kT0 + 17 * kMin);
  EXPECT_TRUE(ev->Rules()[0].alerts.empty());
}

TEST_F(RuleEvalTest, LabelsAndAnnotationsAreExpandedTemplates) {
  Put("x", {{"job", "api"}}, kT0, 0.5);
  options_.external_labels = {{"cluster", "eu1"}};
  auto ev = Evaluator(R"(groups:
  - name: g
    rules:
      - alert: High
        expr: x > 0
        labels:
          severity: "{{ $labels.job }}-page"
          broken: '{{ template "nope" }}'
        annotations:
          summary: "{{ $labels.job }} at {{ $value }} in {{ $externalLabels.cluster }}"
          total: '{{ with query "sum(x) * 4" }}{{ . | first | value }}{{ end }}'
)");
  EvalAt(*ev, kT0);
  std::optional<ActiveAlert> a = OnlyAlert(*ev);
  ASSERT_TRUE(a.has_value());
  EXPECT_EQ(a->labels.Get("severity"), "api-page");
  const std::string_view broken = a->labels.Get("broken");
  EXPECT_TRUE(broken.starts_with("<error expanding template: ") && broken.ends_with(">")) << broken;
  EXPECT_EQ(broken.find("error expanding template", 2), std::string_view::npos) << broken;
  EXPECT_FALSE(a->labels.Has("__name__"));
  EXPECT_EQ(a->annotations.at("summary"), "api at 0.5 in eu1");
  EXPECT_EQ(a->annotations.at("total"), "2");  // `query` runs at the evaluation time
  EXPECT_EQ(ValueAt(R"(ALERTS{severity="api-page"})", kT0), 1.0);
}

TEST_F(RuleEvalTest, TwoSamplesGivingOneAlertIsAnError) {
  Put("x", {{"job", "a"}}, kT0, 1);
  Put("x", {{"job", "b"}}, kT0, 1);
  auto ev = Evaluator(R"(groups:
  - name: g
    rules:
      - alert: Flat
        expr: x
        labels: {job: same}
)");
  EvalAt(*ev, kT0);
  EXPECT_EQ(ev->Rules()[0].last_error,
            "vector contains metrics with the same labelset after applying alert labels");
  EXPECT_TRUE(ev->Rules()[0].alerts.empty());
}

TEST_F(RuleEvalTest, AlertsOverTheGroupLimitAreAnErrorAndDropped) {
  Put("x", {{"job", "a"}}, kT0, 1);
  Put("x", {{"job", "b"}}, kT0, 1);
  auto ev = Evaluator(R"(groups:
  - name: g
    limit: 1
    rules:
      - alert: Many
        expr: x
)");
  EvalAt(*ev, kT0);
  EXPECT_EQ(ev->Rules()[0].health, "err");
  EXPECT_EQ(ev->Rules()[0].last_error, "exceeded limit of 1 with 2 alerts");
  EXPECT_TRUE(ev->Rules()[0].alerts.empty());
  EXPECT_EQ(Select("ALERTS").size(), 0u);
  EXPECT_TRUE(ev->AlertsToSend(kT0).empty());
}

constexpr char kKeepFiring[] = R"(groups:
  - name: g
    interval: 1m
    rules:
      - alert: Kept
        expr: x > 0
        keep_firing_for: 2m
)";

TEST_F(RuleEvalTest, KeepFiringForHoldsAFiringAlertAfterTheConditionClears) {
  auto ev = Evaluator(kKeepFiring);
  Put("x", {}, kT0, 1);
  EvalAt(*ev, kT0);
  for (int i = 1; i <= 3; ++i) {
    Put("x", {}, kT0 + i * kMin, 0);
    EvalAt(*ev, kT0 + i * kMin);
    std::optional<ActiveAlert> a = OnlyAlert(*ev);
    ASSERT_TRUE(a.has_value());
    // Missing since kT0 + 1m: firing while t - since < keep_firing_for.
    EXPECT_EQ(a->state, i < 3 ? AlertState::kFiring : AlertState::kInactive) << i;
    EXPECT_EQ(a->keep_firing_since_ms, kT0 + kMin);
  }
  EXPECT_EQ(OnlyAlert(*ev)->resolved_at_ms, kT0 + 3 * kMin);
  EXPECT_EQ(ValueAt(R"(ALERTS{alertstate="firing"})", kT0 + 2 * kMin), 1.0);
}

TEST_F(RuleEvalTest, KeepFiringRestartsWhenTheConditionReturns) {
  auto ev = Evaluator(kKeepFiring);
  const double values[] = {1, 0, 1, 0, 0};
  for (int i = 0; i < 5; ++i) {
    Put("x", {}, kT0 + i * kMin, values[i]);
    EvalAt(*ev, kT0 + i * kMin);
    EXPECT_EQ(OnlyAlert(*ev)->state, AlertState::kFiring) << i;
  }
  EXPECT_EQ(OnlyAlert(*ev)->keep_firing_since_ms, kT0 + 3 * kMin);
  EXPECT_EQ(OnlyAlert(*ev)->active_at_ms, kT0);
}

TEST_F(RuleEvalTest, ResolveAfterKeepsAFlappingAlertFiringWithoutAResolution) {
  options_.resend_delay_ms = 0;
  auto ev = Evaluator(R"(groups:
  - name: g
    interval: 1m
    rules:
      - alert: Flappy
        expr: x > 0
        resolve_after: 3m
)");
  // Clear for 2m, back, then clear for good (resolved 3m after it went).
  const double values[] = {1, 0, 0, 1, 0, 0, 0, 0};
  for (int i = 0; i < 8; ++i) {
    const int64_t t = kT0 + i * kMin;
    Put("x", {}, t, values[i]);
    EvalAt(*ev, t);
    for (const Alert& sent : ev->AlertsToSend(t)) {
      EXPECT_EQ(sent.starts_at_ms, kT0);
      EXPECT_EQ(sent.ResolvedAt(t), i == 7) << i;
    }
    EXPECT_EQ(OnlyAlert(*ev)->state, i < 7 ? AlertState::kFiring : AlertState::kInactive) << i;
  }
  EXPECT_EQ(OnlyAlert(*ev)->fired_at_ms, kT0);
  EXPECT_EQ(OnlyAlert(*ev)->resolved_at_ms, kT0 + 7 * kMin);
}

// ---- sending ------------------------------------------------------------------------------

TEST_F(RuleEvalTest, AlertsAreSentOnFiringEveryResendDelayAndOnResolution) {
  options_.resend_delay_ms = kMin;
  options_.external_labels = {{"cluster", "eu1"}};
  auto ev = Evaluator(R"(groups:
  - name: g
    interval: 30s
    rules:
      - alert: Up
        expr: x > 0
        for: 1m
        annotations: {summary: up}
)");
  auto step = [&](int64_t t, double v) {
    Put("x", {}, t, v);
    EvalAt(*ev, t);
    return ev->AlertsToSend(t);
  };
  EXPECT_TRUE(step(kT0, 1).empty());  // pending
  std::vector<Alert> sent = step(kT0 + kMin, 1);
  ASSERT_EQ(sent.size(), 1u);
  EXPECT_EQ(sent[0].labels, tsdb::testing::L({{"alertname", "Up"}, {"cluster", "eu1"}}));
  EXPECT_EQ(sent[0].starts_at_ms, kT0 + kMin);
  EXPECT_EQ(sent[0].ends_at_ms, kT0 + kMin + 4 * kMin);  // 4 × max(resend, interval)
  EXPECT_EQ(sent[0].annotations.at("summary"), "up");
  EXPECT_EQ(sent[0].generator_url, "http://steward.example:9090/graph?g0.expr=x+%3E+0&g0.tab=1");
  EXPECT_EQ(OnlyAlert(*ev)->last_sent_at_ms, kT0 + kMin);
  EXPECT_EQ(OnlyAlert(*ev)->valid_until_ms, kT0 + 5 * kMin);
  // Not again until more than resend_delay has passed.
  EXPECT_TRUE(step(kT0 + kMin + 30'000, 1).empty());
  EXPECT_TRUE(step(kT0 + 2 * kMin, 1).empty());
  EXPECT_EQ(step(kT0 + 2 * kMin + 30'000, 1).size(), 1u);
  // Resolved: sent at once with ends_at = resolved_at, then every resend_delay.
  sent = step(kT0 + 3 * kMin, 0);
  ASSERT_EQ(sent.size(), 1u);
  EXPECT_EQ(sent[0].ends_at_ms, kT0 + 3 * kMin);
  EXPECT_TRUE(step(kT0 + 4 * kMin, 0).empty());
  EXPECT_EQ(step(kT0 + 4 * kMin + 30'000, 0).size(), 1u);
}

TEST_F(RuleEvalTest, AlertsToSendAreSortedByLabelsAcrossRules) {
  Put("x", {{"job", "b"}}, kT0, 1);
  Put("x", {{"job", "a"}}, kT0, 1);
  auto ev = Evaluator(R"(groups:
  - name: g
    rules:
      - alert: Z
        expr: x
      - alert: A
        expr: x
)");
  EvalAt(*ev, kT0);
  std::vector<Alert> sent = ev->AlertsToSend(kT0);
  ASSERT_EQ(sent.size(), 4u);
  for (size_t i = 1; i < sent.size(); ++i) EXPECT_LT(sent[i - 1].labels, sent[i].labels);
  EXPECT_EQ(sent[0].Name(), "A");
  EXPECT_EQ(sent[0].labels.Get("job"), "a");
}

// ---- restart and reload -------------------------------------------------------------------

constexpr char kForThirty[] = R"(groups:
  - name: g
    interval: 1m
    rules:
      - alert: Slow
        expr: x > 0
        for: 30m
)";

TEST_F(RuleEvalTest, RestoreMovesActiveAtForwardByTheOutage) {
  {
    auto ev = Evaluator(kForThirty);
    for (int i = 0; i <= 5; ++i) {
      Put("x", {}, kT0 + i * kMin, 1);
      EvalAt(*ev, kT0 + i * kMin);
    }
  }
  // Restart 15m later: the first Eval writes no ALERTS series, then the state is restored.
  options_.restore_pending = true;
  auto ev = Evaluator(kForThirty);
  const int64_t restart = kT0 + 20 * kMin;
  Put("x", {}, restart, 1);
  EvalAt(*ev, restart);
  EXPECT_EQ(Samples("ALERTS_FOR_STATE").back().t, kT0 + 5 * kMin);
  ev->RestoreForState(db_.get(), restart);
  // Pending 5m before going down, down 15m: the pending time left is 25m from now.
  EXPECT_EQ(OnlyAlert(*ev)->active_at_ms, kT0 + 15 * kMin);
  for (int i = 21; i <= 45; ++i) {
    Put("x", {}, kT0 + i * kMin, 1);
    EvalAt(*ev, kT0 + i * kMin);
    EXPECT_EQ(OnlyAlert(*ev)->state, i < 45 ? AlertState::kPending : AlertState::kFiring) << i;
  }
  EXPECT_EQ(ValueAt("ALERTS_FOR_STATE", kT0 + 21 * kMin), (kT0 + 15 * kMin) / 1000);
}

TEST_F(RuleEvalTest, RestoreAfterAnEvalThatWroteAlertSeriesReadsOnlyTheEarlierState) {
  {
    auto ev = Evaluator(kForThirty);
    for (int i = 0; i <= 5; ++i) {
      Put("x", {}, kT0 + i * kMin, 1);
      EvalAt(*ev, kT0 + i * kMin);
    }
  }
  // Without restore_pending the first Eval writes ALERTS_FOR_STATE = now; restore skips it.
  auto ev = Evaluator(kForThirty);
  const int64_t restart = kT0 + 20 * kMin;
  Put("x", {}, restart, 1);
  EvalAt(*ev, restart);
  EXPECT_EQ(Samples("ALERTS_FOR_STATE").back().v, restart / 1000);
  ev->RestoreForState(db_.get(), restart);
  EXPECT_EQ(OnlyAlert(*ev)->active_at_ms, kT0 + 15 * kMin);
}

TEST_F(RuleEvalTest, RestoreGivesAnAlertNearlyDueTheGracePeriod) {
  {
    auto ev = Evaluator(kForThirty);
    for (int i = 0; i <= 25; ++i) {
      Put("x", {}, kT0 + i * kMin, 1);
      EvalAt(*ev, kT0 + i * kMin);
    }
  }
  options_.restore_pending = true;
  auto ev = Evaluator(kForThirty);
  const int64_t restart = kT0 + 27 * kMin;
  Put("x", {}, restart, 1);
  EvalAt(*ev, restart);
  ev->RestoreForState(db_.get(), restart);
  // 5m were left, less than the 10m grace period: it fires 10m from now.
  EXPECT_EQ(OnlyAlert(*ev)->active_at_ms, restart + 10 * kMin - 30 * kMin);
}

TEST_F(RuleEvalTest, RestoreKeepsAFiringAlertsActiveAtAndIgnoresOldOrShortRules) {
  {
    auto ev = Evaluator(kForThirty);
    for (int i = 0; i <= 31; ++i) {
      Put("x", {}, kT0 + i * kMin, 1);
      EvalAt(*ev, kT0 + i * kMin);
    }
    ASSERT_EQ(OnlyAlert(*ev)->state, AlertState::kFiring);
  }
  options_.restore_pending = true;
  {
    auto ev = Evaluator(kForThirty);
    Put("x", {}, kT0 + 33 * kMin, 1);
    EvalAt(*ev, kT0 + 33 * kMin);
    ev->RestoreForState(db_.get(), kT0 + 33 * kMin);
    EXPECT_EQ(OnlyAlert(*ev)->active_at_ms, kT0);
    Put("x", {}, kT0 + 34 * kMin, 1);
    EvalAt(*ev, kT0 + 34 * kMin);
    EXPECT_EQ(OnlyAlert(*ev)->state, AlertState::kFiring);
  }
  // Beyond the outage tolerance nothing is restored.
  options_.outage_tolerance_ms = 60 * kMin;
  auto ev = Evaluator(kForThirty);
  const int64_t late = kT0 + 34 * kMin + 61 * kMin;
  Put("x", {}, late, 1);
  EvalAt(*ev, late);
  ev->RestoreForState(db_.get(), late);
  EXPECT_EQ(OnlyAlert(*ev)->active_at_ms, late);
}

TEST_F(RuleEvalTest, RestoreSkipsAnAlertWhoseStateSeriesWentStale) {
  {
    auto ev = Evaluator(kForThirty);
    for (int i = 0; i <= 6; ++i) {
      Put("x", {}, kT0 + i * kMin, i < 6 ? 1 : 0);
      EvalAt(*ev, kT0 + i * kMin);
    }
    ASSERT_TRUE(ev->Rules()[0].alerts.empty());
  }
  options_.restore_pending = true;
  auto ev = Evaluator(kForThirty);
  Put("x", {}, kT0 + 8 * kMin, 1);
  EvalAt(*ev, kT0 + 8 * kMin);
  ev->RestoreForState(db_.get(), kT0 + 8 * kMin);
  EXPECT_EQ(OnlyAlert(*ev)->active_at_ms, kT0 + 8 * kMin);
}

TEST_F(RuleEvalTest, RestorePendingWritesNoAlertSeriesUntilRestored) {
  options_.restore_pending = true;
  Put("x", {}, kT0, 1);
  auto ev = Evaluator(kForTwoMinutes);
  EvalAt(*ev, kT0);
  EXPECT_EQ(Select("ALERTS").size(), 0u);
  ev->RestoreForState(db_.get(), kT0);  // for < grace period: nothing to restore
  EXPECT_EQ(OnlyAlert(*ev)->active_at_ms, kT0);
  Put("x", {}, kT0 + kMin, 1);
  EvalAt(*ev, kT0 + kMin);
  EXPECT_EQ(ValueAt(R"(ALERTS{alertstate="pending"})", kT0 + kMin), 1.0);
}

TEST_F(RuleEvalTest, ReloadCarriesAlertsOfUnchangedRulesAndMarksRemovedRulesStale) {
  const std::string before = R"(groups:
  - name: g
    rules:
      - record: gone
        expr: x
      - alert: Up
        expr: x > 0
        for: 5m
        labels: {severity: page}
      - alert: Changed
        expr: x > 0
)";
  const std::string after = R"(groups:
  - name: g
    rules:
      - alert: Up
        expr: x > 0
        for: 5m
        labels: {severity: page}
        annotations: {summary: new}
      - alert: Changed
        expr: x >= 1
)";
  auto old_ev = Evaluator(before);
  Put("x", {}, kT0, 1);
  EvalAt(*old_ev, kT0);
  auto ev = Evaluator(after);
  ev->Carry(*old_ev);
  old_ev.reset();
  Put("x", {}, kT0 + kMin, 1);
  EvalAt(*ev, kT0 + kMin);
  ASSERT_TRUE(OnlyAlert(*ev, 0).has_value());
  EXPECT_EQ(OnlyAlert(*ev, 0)->active_at_ms, kT0);
  EXPECT_EQ(OnlyAlert(*ev, 0)->annotations.at("summary"), "new");
  // A changed query starts over.
  EXPECT_EQ(OnlyAlert(*ev, 1)->fired_at_ms, kT0 + kMin);
  EXPECT_TRUE(tsdb::IsStaleNaN(Samples("gone").back().v));
  EXPECT_EQ(Samples("gone").back().t, kT0 + kMin);
  // The carried rule's ALERTS series goes on.
  EXPECT_EQ(ValueAt(R"(ALERTS{alertname="Up"})", kT0 + kMin), 1.0);
}

TEST_F(RuleEvalTest, IntervalIsTheGroupsOrTheDefault) {
  options_.default_interval_ms = 15'000;
  EXPECT_EQ(Evaluator(kForTwoMinutes)->interval_ms(), kMin);
  EXPECT_EQ(Evaluator("groups:\n  - name: g\n    rules: []\n")->interval_ms(), 15'000);
}

}  // namespace
}  // namespace steward::alerting
