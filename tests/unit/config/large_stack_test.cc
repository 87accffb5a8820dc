// Big stacks take the indexed paths of the checks (hashed keys, port sweep); their messages
// must be the ones small stacks get.
#include <gtest/gtest.h>

#include <string>

#include "config/stack_parser.h"
#include "unit/config/parse_helpers.h"

namespace steward::config {
namespace {

using testing::Parse;

// `count` services s0, s1, ... with a command, each on a line of its own from line 3.
std::string Services(int count, const std::string& extra = "") {
  std::string yaml = "project: p\nservices:\n";
  for (int i = 0; i < count; ++i) {
    yaml += "  s" + std::to_string(i) + ": {command: ./s" + extra + "}\n";
  }
  return yaml;
}

TEST(LargeStack, ParsesEveryService) {
  ParseResult r = Parse(Services(500));
  ASSERT_TRUE(r.ok()) << testing::Errors(r);
  EXPECT_EQ(r.stack->services.size(), 500u);
  EXPECT_EQ(r.stack->services[499].name, "s499");
}

TEST(LargeStack, ReportsADuplicateFarDownTheServices) {
  ParseResult r = Parse(Services(40) + "  s3: {command: ./again}\n");
  EXPECT_EQ(testing::Errors(r),
            "/srv/app/steward.yaml:43:3: error: duplicate key 's3' in services (first at line 6); "
            "remove one of them\n");
}

TEST(LargeStack, ReportsAnUndefinedDependencyOnce) {
  std::string yaml = Services(30);
  yaml += "  web: {command: ./w, depends_on: [s1, s29, s30]}\n";
  ParseResult r = Parse(yaml);
  ASSERT_EQ(r.diagnostics.size(), 1u) << testing::Errors(r);
  EXPECT_EQ(r.diagnostics[0].location.line, 33);
  EXPECT_TRUE(r.diagnostics[0].message.starts_with(
      "service 'web' depends on 's30', which is not defined; defined services: s0, s1, s10, "))
      << r.diagnostics[0].message;
  EXPECT_TRUE(r.diagnostics[0].message.ends_with("s9, web (did you mean 's0'?)"))
      << r.diagnostics[0].message;
}

TEST(LargeStack, ReportsEveryPortClashPairOnce) {
  // Ports given out of file order; 9000 clashes with both 8999 (2 replicas) and 9001.
  std::string yaml = R"(project: p
services:
  a: {command: ./a, port: 9001}
  b: {command: ./b, port: 7000}
  c: {command: ./c, port: 8999, replicas: 2}
  d: {command: ./d, port: 9000}
  e: {command: ./e, port: 5000}
)";
  ParseResult r = Parse(yaml);
  EXPECT_EQ(testing::Errors(r),
            "/srv/app/steward.yaml:5:27: error: port clash: service 'c' port 8999 (ports "
            "8999-9002: 2 replicas plus 2 for rolling updates) overlaps service 'a' (ports "
            "9001-9002: 1 replica plus 1 for rolling updates)\n"
            "/srv/app/steward.yaml:6:27: error: port clash: service 'd' port 9000 (ports "
            "9000-9001: 1 replica plus 1 for rolling updates) overlaps service 'a' (ports "
            "9001-9002: 1 replica plus 1 for rolling updates)\n"
            "/srv/app/steward.yaml:6:27: error: port clash: service 'd' port 9000 overlaps "
            "service 'c' (ports 8999-9002: 2 replicas plus 2 for rolling updates)\n");
}

}  // namespace
}  // namespace steward::config
