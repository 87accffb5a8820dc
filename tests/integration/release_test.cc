// A pipeline's deploy step end to end, and the DORA report built from what it recorded: a
// `steward run` whose last job is `deploy: web` puts a release labelled with the commit live
// through the daemon; a second run whose release cannot start fails its deploy step (the
// previous release keeps serving); `steward report dora --json` then counts both deploys, the
// lead time from the commit, and a change failure rate of one half.
#include <cstdlib>
#include <fstream>
#include <string>

#include <gtest/gtest.h>

#include "integration/harness.h"

namespace steward::testing {
namespace {

std::string Stack() {
  // A release with BROKEN set exits at once with bytes on stderr that are not UTF-8: the
  // deploy's events quote that stderr, and recording them must not bring the daemon down.
  return R"(project: release
services:
  web:
    command: sh
    args: [-c, 'if [ -n "$BROKEN" ]; then printf "broken caf\351\n" >&2; exit 1; fi; exec )" +
         DemoBinary() + R"(']
    replicas: 1
    health: {http: /healthz, interval: 200ms, timeout: 150ms}
    stop_grace: 2s
pipelines:
  ship:
    jobs:
      test:
        run: echo testing
      deploy:
        needs: [test]
        steps:
          - deploy: web
            version: v-${{ github.sha }}
  broken:
    jobs:
      deploy:
        steps:
          - deploy: web
            version: broken
            env: {BROKEN: "yes"}
)";
}

TEST(Release, APipelineDeployStepPutsAReleaseLiveAndDoraCountsIt) {
  Project p;
  p.WriteStack(Stack());
  std::ofstream(p.dir() + "/.gitignore") << ".steward/\n";
  std::string git = "cd " + p.dir() + " && git -c user.name=t -c user.email=t@example.com ";
  ASSERT_EQ(std::system((git + "init -q -b main && " + git +
                         "add steward.yaml .gitignore && " + git + "commit -q -m ship")
                            .c_str()),
            0);
  ASSERT_APPLY_OK(p);

  RunResult run = p.Steward({"run", "ship", "--no-sandbox"});
  ASSERT_EQ(run.exit_code, 0) << run.out << run.err;
  EXPECT_NE(run.out.find("[deploy] release 1"), std::string::npos) << run.out;
  RunResult releases = p.Steward({"releases", "web", "--json"});
  ASSERT_EQ(releases.exit_code, 0) << releases.err;
  auto rel = nlohmann::json::parse(releases.out, nullptr, false);
  ASSERT_FALSE(rel.is_discarded()) << releases.out;
  EXPECT_EQ(rel.value("live", 0), 1) << rel.dump();
  ASSERT_FALSE(rel["releases"].empty());
  EXPECT_EQ(rel["releases"][0].value("label", "").rfind("v-", 0), 0u) << rel.dump();
  EXPECT_EQ(rel["releases"][0].value("label", "").size(), 42u);  // v- and the full sha
  EXPECT_EQ(p.ReadyCount("web"), 1);

  // A release that cannot start: the deploy fails, the step and the run fail, release 1 serves.
  RunResult bad = p.Steward({"run", "broken", "--no-sandbox"}, 120000);
  EXPECT_EQ(bad.exit_code, 1) << bad.out << bad.err;
  EXPECT_NE(bad.out.find("failure"), std::string::npos) << bad.out;
  releases = p.Steward({"releases", "web", "--json"});
  rel = nlohmann::json::parse(releases.out, nullptr, false);
  EXPECT_EQ(rel.value("live", 0), 1) << rel.dump();
  EXPECT_TRUE(PollUntil([&] { return p.ReadyCount("web") == 1; }, 10000));
  EXPECT_TRUE(ProcessAlive(p.DaemonPid()));
  EXPECT_NE(bad.out.find("broken caf"), std::string::npos) << bad.out;  // the stderr, quoted

  RunResult dora = p.Steward({"report", "dora", "--json"});
  ASSERT_EQ(dora.exit_code, 0) << dora.err;
  auto d = nlohmann::json::parse(dora.out, nullptr, false);
  ASSERT_FALSE(d.is_discarded()) << dora.out;
  const auto& overall = d["overall"];
  EXPECT_EQ(overall["deployment_frequency"].value("deploys", 0), 1) << d.dump(2);
  EXPECT_EQ(overall["lead_time"].value("samples", 0), 1) << d.dump(2);
  EXPECT_GE(overall["lead_time"].value("p50_seconds", -1.0), 0.0);
  EXPECT_EQ(overall["change_failure"].value("finished", 0), 2) << d.dump(2);
  EXPECT_EQ(overall["change_failure"].value("failed", 0), 1) << d.dump(2);
  EXPECT_DOUBLE_EQ(overall["change_failure"].value("ratio", 0.0), 0.5);
}

}  // namespace
}  // namespace steward::testing
