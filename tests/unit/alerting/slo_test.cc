// SLO rule generation: the rules each SLI kind produces, their errors, and what the generated
// error-ratio queries evaluate to over known data.
#include "alerting/slo.h"

#include <gtest/gtest.h>

#include <cmath>
#include <variant>

#include "promql/engine.h"
#include "promql/parser.h"
#include "unit/promql/fake_querier.h"

namespace steward::alerting {
namespace {

using promql::testing::FakeQuerier;
using promql::testing::L;

config::Slo RatioSlo() {
  config::Slo slo;
  slo.name = "api-availability";
  slo.service = "api";
  slo.objective = 99.9;
  slo.good = R"(sum(rate(http_requests_total{job="api",code!~"5.."}[$window])))";
  slo.total = R"(sum(rate(http_requests_total{job="api"}[$window])))";
  return slo;
}

const Rule* FindRule(const RuleGroup& g, const std::string& name, const std::string& label = "",
                     const std::string& value = "") {
  for (const Rule& r : g.rules) {
    if (r.name != name) continue;
    if (label.empty()) return &r;
    for (const auto& [k, v] : r.labels)
      if (k == label && v == value) return &r;
  }
  return nullptr;
}

double EvalScalarResult(FakeQuerier* q, const std::string& expr, int64_t t) {
  auto parsed = promql::ParseExpr(expr);
  EXPECT_TRUE(parsed.ok()) << parsed.status().ToString();
  if (!parsed.ok()) return NAN;
  promql::Engine engine;
  auto v = engine.Instant(q, **parsed, t);
  EXPECT_TRUE(v.ok()) << v.status().ToString();
  if (!v.ok()) return NAN;
  const auto* vec = std::get_if<promql::Vector>(&*v);
  EXPECT_TRUE(vec != nullptr && vec->size() == 1) << expr;
  return vec != nullptr && vec->size() == 1 ? (*vec)[0].v : NAN;
}

TEST(SloRules, RatioSloRecordsEveryWindowAndThreeBurnRateAlerts) {
  auto group = SloRuleGroup(RatioSlo(), 30'000);
  ASSERT_TRUE(group.ok()) << group.status().ToString();
  EXPECT_EQ(group->name, "slo:api-availability");
  EXPECT_EQ(group->interval_ms, 30'000);
  for (const std::string& w : SloRatioWindows()) {
    const Rule* r = FindRule(*group, "slo:sli_error:ratio_rate" + w);
    ASSERT_NE(r, nullptr) << w;
    EXPECT_EQ(r->kind, RuleKind::kRecord);
    EXPECT_NE(r->expr.find("[" + w + "]"), std::string::npos) << r->expr;
    EXPECT_EQ(r->expr.find("$window"), std::string::npos) << r->expr;
    ASSERT_NE(r->parsed, nullptr);
  }
  int alerts = 0;
  for (const Rule& r : group->rules) {
    if (r.kind != RuleKind::kAlert) continue;
    ++alerts;
    EXPECT_EQ(r.name, "SLOErrorBudgetBurn");
  }
  EXPECT_EQ(alerts, 3);
  const Rule* fast = FindRule(*group, "SLOErrorBudgetBurn", "long_window", "1h");
  ASSERT_NE(fast, nullptr);
  EXPECT_EQ(fast->expr,
            "slo:sli_error:ratio_rate1h{slo=\"api-availability\"} > (14.4 * 0.001) and "
            "slo:sli_error:ratio_rate5m{slo=\"api-availability\"} > (14.4 * 0.001)");
  const Rule* ticket = FindRule(*group, "SLOErrorBudgetBurn", "long_window", "3d");
  ASSERT_NE(ticket, nullptr);
  bool warning = false;
  for (const auto& [k, v] : ticket->labels) warning |= k == "severity" && v == "warning";
  EXPECT_TRUE(warning);
  const Rule* budget = FindRule(*group, "slo:error_budget_remaining:ratio");
  ASSERT_NE(budget, nullptr);
  EXPECT_NE(budget->expr.find("/ 0.001"), std::string::npos) << budget->expr;
  const Rule* window = FindRule(*group, "slo:sli_error:ratio_rate_window");
  ASSERT_NE(window, nullptr);
  EXPECT_NE(window->expr.find("[30d]"), std::string::npos) << window->expr;
}

TEST(SloRules, GeneratedSeriesCarrySloAndServiceLabels) {
  auto group = SloRuleGroup(RatioSlo(), 60'000);
  ASSERT_TRUE(group.ok());
  const Rule* r = FindRule(*group, "slo:uptime:percent");
  ASSERT_NE(r, nullptr);
  std::vector<std::pair<std::string, std::string>> want = {{"slo", "api-availability"},
                                                           {"service", "api"}};
  EXPECT_EQ(r->labels, want);
}

TEST(SloRules, ErrorRatioOfAServiceFailingTenPercent) {
  FakeQuerier q;
  // 100 requests/s, 10 of them 5xx, for 20 minutes at 15 s steps.
  q.Add(L({{"__name__", "http_requests_total"}, {"job", "api"}, {"code", "200"}}), "0+1350x80",
        15'000);
  q.Add(L({{"__name__", "http_requests_total"}, {"job", "api"}, {"code", "500"}}), "0+150x80",
        15'000);
  auto expr = SloErrorRatioExpr(RatioSlo(), "5m");
  ASSERT_TRUE(expr.ok()) << expr.status().ToString();
  EXPECT_NEAR(EvalScalarResult(&q, *expr, 1'200'000), 0.1, 1e-9);
}

TEST(SloRules, BareSelectorsAreRatedAndSummed) {
  config::Slo slo = RatioSlo();
  slo.good = R"(http_requests_total{code!~"5.."})";
  slo.total = "http_requests_total";
  auto expr = SloErrorRatioExpr(slo, "1h");
  ASSERT_TRUE(expr.ok()) << expr.status().ToString();
  EXPECT_EQ(*expr,
            "1 - (sum(rate(http_requests_total{code!~\"5..\"}[1h])) / "
            "sum(rate(http_requests_total[1h])))");
}

TEST(SloRules, ProbeSliIsTheShareOfFailedProbes) {
  config::Slo slo;
  slo.name = "home";
  slo.kind = config::SliKind::kProbe;
  slo.probe = "web-home";
  FakeQuerier q;
  // One failure in four probes.
  q.Add(L({{"__name__", "probe_success"}, {"monitor", "web-home"}, {"job", "monitor"}}),
        "1 1 0 1 1 1 0 1", 30'000);
  auto expr = SloErrorRatioExpr(slo, "5m");
  ASSERT_TRUE(expr.ok());
  EXPECT_NEAR(EvalScalarResult(&q, *expr, 210'000), 0.25, 1e-9);
}

TEST(SloRules, LatencySliCountsRequestsAboveTheThreshold) {
  config::Slo slo;
  slo.name = "api-latency";
  slo.kind = config::SliKind::kLatency;
  slo.latency_metric = R"(http_request_duration_seconds{job="api"})";
  slo.latency_threshold_seconds = 0.3;
  FakeQuerier q;
  auto bucket = [](const char* le) {
    return L({{"__name__", "http_request_duration_seconds_bucket"}, {"job", "api"}, {"le", le}});
  };
  q.Add(bucket("0.3"), "0+80x40", 15'000);
  q.Add(bucket("+Inf"), "0+100x40", 15'000);
  q.Add(L({{"__name__", "http_request_duration_seconds_count"}, {"job", "api"}}), "0+100x40",
        15'000);
  auto expr = SloErrorRatioExpr(slo, "5m");
  ASSERT_TRUE(expr.ok());
  EXPECT_NE(expr->find("le=\"0.3\""), std::string::npos) << *expr;
  EXPECT_NEAR(EvalScalarResult(&q, *expr, 600'000), 0.2, 1e-9);
}

TEST(SloRules, AQueryWithoutWindowIsRejectedWithTheSloName) {
  config::Slo slo = RatioSlo();
  slo.good = "sum(rate(http_requests_total[5m]))";
  auto group = SloRuleGroup(slo, 60'000);
  ASSERT_FALSE(group.ok());
  EXPECT_NE(group.status().message().find("slo \"api-availability\": sli.good"),
            std::string::npos)
      << group.status().message();
  EXPECT_NE(group.status().message().find("$window"), std::string::npos);
}

TEST(SloRules, ABrokenQueryIsRejectedWithTheParserMessage) {
  config::Slo slo = RatioSlo();
  slo.total = "sum(rate(http_requests_total[$window])";
  auto group = SloRuleGroup(slo, 60'000);
  ASSERT_FALSE(group.ok());
  EXPECT_NE(group.status().message().find("does not parse"), std::string::npos)
      << group.status().message();
}

TEST(SloRules, OneGroupPerSlo) {
  config::Slo other = RatioSlo();
  other.name = "checkout";
  auto file = SloRuleFile({RatioSlo(), other}, 60'000);
  ASSERT_TRUE(file.ok());
  ASSERT_EQ(file->groups.size(), 2u);
  EXPECT_EQ(file->groups[1].name, "slo:checkout");
  EXPECT_EQ(file->RuleCount(), 2 * file->groups[0].rules.size());
}

}  // namespace
}  // namespace steward::alerting
