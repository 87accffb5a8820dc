// The stack's slos: section: each SLI kind read into the model, and each mistake reported with
// its place and what would be right; SLOs survive the stack's JSON form.
#include <gtest/gtest.h>

#include "config/stack_json.h"
#include "config/stack_parser.h"
#include "unit/config/parse_helpers.h"

namespace steward::config {
namespace {

using testing::Errors;
using testing::Parse;

constexpr const char* kBase = R"(project: shop
services:
  api: {command: ./api}
monitors:
  home: {type: http, url: "http://127.0.0.1:8080/"}
)";

ParseResult ParseSlos(const std::string& slos) { return Parse(std::string(kBase) + slos); }

TEST(SloParser, ReadsEveryKindOfSli) {
  ParseResult r = ParseSlos(R"(slos:
  api-availability:
    service: api
    objective: 99.95
    window: 28d
    description: Requests that do not fail
    sli:
      good: sum(rate(http_requests_total{code!~"5.."}[$window]))
      total: sum(rate(http_requests_total[$window]))
    labels: {team: payments}
  home-up:
    objective: 99.5
    sli: {probe: home}
  api-latency:
    service: api
    objective: 99
    sli:
      latency: {metric: 'http_request_duration_seconds{job="api"}', threshold: 300ms}
    page_severity: page
)");
  ASSERT_TRUE(r.ok()) << Errors(r);
  const auto& slos = r.stack->slos;
  ASSERT_EQ(slos.size(), 3u);
  EXPECT_EQ(slos[0].name, "api-availability");
  EXPECT_EQ(slos[0].kind, SliKind::kRatio);
  EXPECT_DOUBLE_EQ(slos[0].objective, 99.95);
  EXPECT_EQ(slos[0].window, std::chrono::milliseconds(28LL * 24 * 3600 * 1000));
  EXPECT_EQ(slos[0].labels.at("team"), "payments");
  EXPECT_NE(slos[0].good.find("$window"), std::string::npos);
  EXPECT_EQ(slos[1].kind, SliKind::kProbe);
  EXPECT_EQ(slos[1].probe, "home");
  EXPECT_EQ(slos[1].window, std::chrono::milliseconds(30LL * 24 * 3600 * 1000));
  EXPECT_EQ(slos[2].kind, SliKind::kLatency);
  EXPECT_DOUBLE_EQ(slos[2].latency_threshold_seconds, 0.3);
  EXPECT_EQ(slos[2].page_severity, "page");
  auto back = StackFromJson(StackToJson(*r.stack));
  ASSERT_TRUE(back.ok()) << back.status().ToString();
  EXPECT_EQ(StackToJson(*back)["slos"], StackToJson(*r.stack)["slos"]);
  EXPECT_EQ(back->slos[2].latency_metric, slos[2].latency_metric);
}

TEST(SloParser, EveryMistakeIsReportedWithItsPlace) {
  ParseResult r = ParseSlos(R"(slos:
  a:
    objective: 100
    sli: {good: x}
  b:
    objective: fast
    window: 10m
    sli: {probe: nowhere}
  c:
    service: billing
  d:
    sli: {probe: home, good: x, total: y}
  e:
    sli: {latency: {metric: h}}
    color: red
)");
  ASSERT_FALSE(r.ok());
  std::string e = Errors(r);
  EXPECT_NE(e.find("steward.yaml:8:16: error: slo 'a': objective must be a percentage"),
            std::string::npos) << e;
  EXPECT_NE(e.find("slo 'a': sli needs both 'good' and 'total'"), std::string::npos) << e;
  EXPECT_NE(e.find("slo 'b': 'objective' must be a number, got 'fast'"), std::string::npos) << e;
  EXPECT_NE(e.find("slo 'b': window must be at least 1h"), std::string::npos) << e;
  EXPECT_NE(e.find("sli.probe 'nowhere' is not a monitor of this stack"), std::string::npos) << e;
  EXPECT_NE(e.find("slo 'c': 'sli' is required"), std::string::npos) << e;
  EXPECT_NE(e.find("slo 'c': service 'billing' is not a service of this stack"),
            std::string::npos) << e;
  EXPECT_NE(e.find("slo 'd': sli must have exactly one of good+total, probe or latency, got "
                   "several"),
            std::string::npos) << e;
  EXPECT_NE(e.find("sli.latency needs 'metric'"), std::string::npos) << e;
  EXPECT_NE(e.find("unknown key 'color'"), std::string::npos) << e;
}

}  // namespace
}  // namespace steward::config
