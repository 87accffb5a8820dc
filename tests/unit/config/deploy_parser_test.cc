// A service's ingress: and deploy: keys: read into the model, each mistake reported with its
// place and what would be right, and both kept through the stack's JSON form.
#include <gtest/gtest.h>

#include "config/stack_json.h"
#include "config/stack_parser.h"
#include "unit/config/parse_helpers.h"

namespace steward::config {
namespace {

using testing::Errors;
using testing::Parse;

TEST(DeployParser, ReadsIngressAndCanary) {
  ParseResult r = Parse(R"(project: shop
services:
  web:
    command: ./web
    replicas: 2
    ports: [18080]
    ingress: {port: 18000, health_path: /healthz}
    deploy:
      strategy: canary
      steps:
        - {weight: 20, pause: 3s}
        - {weight: 50, pause: 3s}
      keep_releases: 3
      analysis:
        interval: 1s
        max_error_rate: 0.05
        failure_limit: 2
        checks:
          - {name: latency, query: 'histogram_quantile(0.9, rate(x{service="$service"}[1m]))', max: 0.5}
)");
  ASSERT_TRUE(r.ok()) << Errors(r);
  const Service& s = r.stack->services[0];
  EXPECT_TRUE(s.ingress.enabled);
  EXPECT_EQ(s.ingress.port, 18000);
  EXPECT_EQ(s.ingress.bind, "127.0.0.1");
  EXPECT_EQ(s.ingress.health_path, "/healthz");
  EXPECT_EQ(s.deploy.strategy, DeployStrategy::kCanary);
  ASSERT_EQ(s.deploy.steps.size(), 2u);
  EXPECT_EQ(s.deploy.steps[1].weight, 50);
  EXPECT_EQ(s.deploy.steps[1].pause, Duration(3000));
  EXPECT_EQ(s.deploy.keep_releases, 3);
  EXPECT_EQ(s.deploy.analysis.interval, Duration(1000));
  EXPECT_DOUBLE_EQ(s.deploy.analysis.max_error_rate, 0.05);
  EXPECT_EQ(s.deploy.analysis.failure_limit, 2);
  ASSERT_EQ(s.deploy.analysis.checks.size(), 1u);
  EXPECT_EQ(s.deploy.analysis.checks[0].name, "latency");
  EXPECT_TRUE(s.deploy.analysis.checks[0].has_max);
  EXPECT_FALSE(s.deploy.analysis.checks[0].has_min);
  EXPECT_EQ(s.deploy.analysis.checks[0].location.line, 19);
}

TEST(DeployParser, DefaultsAreRollingAndCanaryGetsTwoSteps) {
  ParseResult r = Parse(R"(project: shop
services:
  api: {command: ./api}
  web:
    command: ./web
    ingress: 18000
    deploy: {strategy: canary}
)");
  ASSERT_TRUE(r.ok()) << Errors(r);
  EXPECT_FALSE(r.stack->services[0].ingress.enabled);
  EXPECT_EQ(r.stack->services[0].deploy.strategy, DeployStrategy::kRolling);
  EXPECT_EQ(r.stack->services[0].deploy.max_surge, 1);
  const Service& web = r.stack->services[1];
  EXPECT_EQ(web.ingress.port, 18000);
  ASSERT_EQ(web.deploy.steps.size(), 2u);
  EXPECT_EQ(web.deploy.steps[0].weight, 10);
  EXPECT_EQ(web.deploy.steps[1].weight, 50);
}

TEST(DeployParser, CanaryWithoutIngressIsAnError) {
  ParseResult r = Parse(R"(project: shop
services:
  web:
    command: ./web
    deploy: {strategy: canary}
)");
  ASSERT_FALSE(r.ok());
  EXPECT_NE(Errors(r).find("steward.yaml:5:24: error: service 'web': a canary deploy moves traffic "
                           "through the ingress"),
            std::string::npos)
      << Errors(r);
}

TEST(DeployParser, WeightsMustIncreaseAndStayInRange) {
  ParseResult r = Parse(R"(project: shop
services:
  web:
    command: ./web
    ingress: {port: 18000}
    deploy:
      strategy: canary
      steps:
        - {weight: 50, pause: 1s}
        - {weight: 20, pause: 1s}
        - {weight: 101}
        - {pause: 1s}
)");
  ASSERT_FALSE(r.ok());
  std::string e = Errors(r);
  EXPECT_NE(e.find(":10:20: error: service 'web': canary weights must increase from step to step; 20 "
                   "follows 50"),
            std::string::npos)
      << e;
  EXPECT_NE(e.find(":11:20: error: service 'web': 'deploy.steps.weight' must be between 1 and 100"),
            std::string::npos)
      << e;
  EXPECT_NE(e.find(":12:11: error: service 'web': a deploy step needs a 'weight'"), std::string::npos)
      << e;
}

TEST(DeployParser, ReportsUnknownKeysBadStrategyAndBadAnalysis) {
  ParseResult r = Parse(R"(project: shop
services:
  web:
    command: ./web
    ingress: {port: 18000, bnd: 0.0.0.0}
    deploy:
      strategy: blue_green
      max_surge: 0
      analysis:
        max_error_rate: 5
        checks:
          - {name: x}
)");
  ASSERT_FALSE(r.ok());
  std::string e = Errors(r);
  EXPECT_NE(e.find(":5:28: error: unknown key 'bnd' in ingress of service 'web'"), std::string::npos)
      << e;
  EXPECT_NE(e.find(":7:17: error: service 'web': 'deploy.strategy' must be rolling, blue-green or "
                   "canary, got 'blue_green'"),
            std::string::npos)
      << e;
  EXPECT_NE(e.find("'deploy.max_surge' and 'deploy.max_unavailable' are both 0"),
            std::string::npos)
      << e;
  EXPECT_NE(e.find(":10:25: error: service 'web': 'deploy.analysis.max_error_rate' is a fraction "
                   "between 0 and 1"),
            std::string::npos)
      << e;
  EXPECT_NE(e.find(":12:13: error: service 'web': an analysis check needs a 'query'"), std::string::npos)
      << e;
}

TEST(DeployParser, IngressPortClashesAreReported) {
  ParseResult r = Parse(R"(project: shop
services:
  api:
    command: ./api
    replicas: 2
    ports: [18000]
  web:
    command: ./web
    ingress: {port: 18003}
  www:
    command: ./www
    ingress: {port: 18003}
)");
  ASSERT_FALSE(r.ok());
  std::string e = Errors(r);
  EXPECT_NE(e.find(":7:3: error: service 'web': ingress port 18003 falls in the ports of service 'api' "
                   "(18000..18003"),
            std::string::npos)
      << e;
  EXPECT_NE(e.find(":10:3: error: service 'www': ingress port 18003 is already the ingress of service "
                   "'web'"),
            std::string::npos)
      << e;
}

TEST(DeployParser, SurvivesTheJsonForm) {
  ParseResult r = Parse(R"(project: shop
services:
  web:
    command: ./web
    ingress: {port: 18000, bind: 127.0.0.2}
    deploy:
      strategy: blue-green
      verify: 4s
      max_unavailable: 1
      analysis:
        checks: [{query: up, min: 1}]
)");
  ASSERT_TRUE(r.ok()) << Errors(r);
  auto back = ServiceFromJson(ServiceToJson(r.stack->services[0]));
  ASSERT_TRUE(back.ok()) << back.status().message();
  EXPECT_EQ(ServiceToJson(*back), ServiceToJson(r.stack->services[0]));
  EXPECT_EQ(back->ingress.bind, "127.0.0.2");
  EXPECT_EQ(back->deploy.strategy, DeployStrategy::kBlueGreen);
  EXPECT_EQ(back->deploy.verify, Duration(4000));
  EXPECT_EQ(back->deploy.max_unavailable, 1);
  ASSERT_EQ(back->deploy.analysis.checks.size(), 1u);
  EXPECT_TRUE(back->deploy.analysis.checks[0].has_min);
  EXPECT_DOUBLE_EQ(back->deploy.analysis.checks[0].min, 1);
  // A deploy setting is applied in place: an update reason, never a replace.
  Service changed = *back;
  changed.deploy.verify = Duration(9000);
  EXPECT_EQ(ReplaceHash(changed), ReplaceHash(*back));
  EXPECT_FALSE(UpdateReasons(*back, changed).empty());
}

}  // namespace
}  // namespace steward::config
