// Incidents end to end: a real `steward serve`, the /api/v1/incidents routes and every
// `steward incident` command.
//
// The daemon does not yet turn its alerts into incidents (that wiring belongs to the alert
// dispatcher), so the incidents here are opened the way the daemon will open them —
// IncidentManager::OnAlerts on the project's state store — before the daemon starts. The store
// is the same SQLite file the daemon then serves from, so this is also a restart: a new manager
// picks up what an earlier one recorded.
#include <gtest/gtest.h>
#include <httplib.h>

#include <filesystem>
#include <fstream>

#include "alerting/incidents.h"
#include "integration/harness.h"
#include "state/state_store.h"

namespace steward::testing {
namespace {

alerting::Alert MakeAlert(const std::string& name, const std::string& service,
                          const std::string& severity) {
  alerting::Alert a;
  a.labels = *tsdb::Labels::FromUnsorted(
      {{"alertname", name}, {"service", service}, {"severity", severity}});
  a.annotations["summary"] = name + " on " + service;
  a.starts_at_ms = ToUnixMillis(RealClock::Get()->WallNow());
  return a;
}

// Opens incidents from alerts, as the daemon's manager would, in the project's state store.
void RecordAlerts(const Project& p, const std::vector<alerting::Alert>& alerts) {
  auto store = state::OpenSqliteStateStore(p.StateDir(), RealClock::Get());
  ASSERT_TRUE(store.ok()) << store.status().ToString();
  auto m = alerting::IncidentManager::Open(store->get(), RealClock::Get(), {}, nullptr);
  ASSERT_TRUE(m.ok()) << m.status().ToString();
  Status st = (*m)->OnAlerts(alerts, ToUnixMillis(RealClock::Get()->WallNow()));
  ASSERT_TRUE(st.ok()) << st.ToString();
}

class IncidentE2E : public ::testing::Test {
 protected:
  void StartDaemon() {
    pid_ = p_.StewardBackground({"serve", "--listen", "127.0.0.1:0", "--no-monitoring"},
                                p_.dir() + "/serve.log");
    ASSERT_TRUE(PollUntil(
        [&] {
          std::ifstream in(p_.StateDir() + "/daemon.json");
          auto j = nlohmann::json::parse(in, nullptr, false);
          port_ = j.is_discarded() || j.value("pid", 0) != pid_ ? 0 : j.value("port", 0);
          return port_ > 0 && HttpGet(port_, "/healthz") == 200;
        },
        15000))
        << "the daemon did not start; see " << p_.dir() << "/serve.log";
    std::getline(std::ifstream(p_.StateDir() + "/api.token"), token_);
  }

  RunResult Incident(std::vector<std::string> args) {
    args.insert(args.begin(), "incident");
    return p_.Steward(args, 30000);
  }

  nlohmann::json IncidentJson(std::vector<std::string> args) {
    args.push_back("--json");
    RunResult r = Incident(args);
    EXPECT_EQ(r.exit_code, 0) << r.out << r.err;
    auto j = nlohmann::json::parse(r.out, nullptr, false);
    EXPECT_FALSE(j.is_discarded()) << r.out;
    return j;
  }

  httplib::Result Get(const std::string& path, bool with_token = true) {
    httplib::Client cli("127.0.0.1", port_);
    cli.set_read_timeout(10, 0);
    if (with_token) cli.set_bearer_token_auth(token_.c_str());
    return cli.Get(path.c_str());
  }

  httplib::Result Post(const std::string& path, const std::string& body) {
    httplib::Client cli("127.0.0.1", port_);
    cli.set_read_timeout(10, 0);
    cli.set_bearer_token_auth(token_.c_str());
    return cli.Post(path.c_str(), body, "application/json");
  }

  Project p_;
  int pid_ = 0;
  int port_ = 0;
  std::string token_;
};

TEST_F(IncidentE2E, AFreshDaemonHasNoIncidents) {
  StartDaemon();
  RunResult list = Incident({"list"});
  EXPECT_EQ(list.exit_code, 0) << list.err;
  EXPECT_NE(list.out.find("no open incidents"), std::string::npos) << list.out;
  EXPECT_TRUE(IncidentJson({"list", "--all"})["incidents"].empty());

  RunResult show = Incident({"show", "7"});
  EXPECT_EQ(show.exit_code, 1);
  EXPECT_NE(show.err.find("incident 7 does not exist"), std::string::npos) << show.err;

  nlohmann::json stats = IncidentJson({"stats"});
  EXPECT_EQ(stats["overall"]["opened"], 0);
  EXPECT_TRUE(stats["overall"]["mtta"]["mean_seconds"].is_null());

  auto unauthorized = Get("/api/v1/incidents", false);
  ASSERT_TRUE(unauthorized);
  EXPECT_EQ(unauthorized->status, 401);
}

TEST_F(IncidentE2E, PeopleAckAnnotateResolveAndGetAPostmortem) {
  RecordAlerts(p_, {MakeAlert("HighErrorRate", "web", "critical"),
                    MakeAlert("Slow", "web", "critical"),  // joins the web incident
                    MakeAlert("DiskFilling", "db", "warning")});  // below the minimum
  StartDaemon();

  RunResult list = Incident({"list"});
  ASSERT_EQ(list.exit_code, 0) << list.err;
  EXPECT_NE(list.out.find("web: HighErrorRate"), std::string::npos) << list.out;
  nlohmann::json incidents = IncidentJson({"list"})["incidents"];
  ASSERT_EQ(incidents.size(), 1u) << incidents.dump();
  const std::string id = std::to_string(incidents[0]["id"].get<int64_t>());
  EXPECT_EQ(incidents[0]["status"], "open");
  EXPECT_EQ(incidents[0]["severity"], "critical");

  RunResult ack = Incident({"ack", id, "-m", "on it"});
  ASSERT_EQ(ack.exit_code, 0) << ack.out << ack.err;
  EXPECT_NE(ack.out.find("acknowledged by " + state::CurrentUser()), std::string::npos) << ack.out;
  RunResult again = Incident({"ack", id});
  EXPECT_EQ(again.exit_code, 1);
  EXPECT_NE(again.err.find("already acknowledged"), std::string::npos) << again.err;

  ASSERT_EQ(Incident({"note", id, "deploy 41 is the suspect"}).exit_code, 0);
  RunResult resolve = Incident({"resolve", id, "-m", "rolled back"});
  ASSERT_EQ(resolve.exit_code, 0) << resolve.err;

  nlohmann::json shown = IncidentJson({"show", id});
  EXPECT_EQ(shown["incident"]["status"], "resolved");
  std::vector<std::string> kinds;
  for (const auto& e : shown["events"]) kinds.push_back(e["kind"]);
  EXPECT_EQ(kinds, (std::vector<std::string>{"fired", "joined", "acknowledged", "note",
                                              "resolved"}));
  EXPECT_EQ(shown["events"][2]["actor"], state::CurrentUser());
  EXPECT_EQ(shown["events"][0]["data"]["labels"]["alertname"], "HighErrorRate");
  RunResult show = Incident({"show", id});
  EXPECT_NE(show.out.find("deploy 41 is the suspect"), std::string::npos) << show.out;

  EXPECT_NE(Incident({"list"}).out.find("no open incidents"), std::string::npos);
  EXPECT_EQ(IncidentJson({"list", "--all", "--service", "web"})["incidents"].size(), 1u);
  EXPECT_TRUE(IncidentJson({"list", "--all", "--service", "db"})["incidents"].empty());

  const std::string pm_path = p_.dir() + "/pm.md";
  RunResult pm = Incident({"postmortem", id, "-o", pm_path});
  ASSERT_EQ(pm.exit_code, 0) << pm.err;
  std::ifstream in(pm_path);
  std::string md((std::istreambuf_iterator<char>(in)), {});
  for (const std::string& want :
       {"# Postmortem: incident #" + id + " — web: HighErrorRate", std::string("| Status | resolved |"),
        std::string("**Slow**"), std::string("on it"), std::string("deploy 41 is the suspect"),
        std::string("## Root cause"), std::string("## Action items")})
    EXPECT_NE(md.find(want), std::string::npos) << want << "\n" << md;

  auto raw = Get("/api/v1/incidents/" + id + "/postmortem");
  ASSERT_TRUE(raw);
  EXPECT_EQ(raw->status, 200);
  EXPECT_EQ(raw->get_header_value("Content-Type").rfind("text/markdown", 0), 0u);
  EXPECT_EQ(raw->body, md);

  nlohmann::json stats = IncidentJson({"stats"});
  EXPECT_EQ(stats["overall"]["opened"], 1);
  EXPECT_EQ(stats["overall"]["mtta"]["count"], 1);
  EXPECT_EQ(stats["overall"]["mttr"]["count"], 1);
  EXPECT_EQ(stats["services"][0]["service"], "web");
  RunResult table = Incident({"stats"});
  EXPECT_NE(table.out.find("_all"), std::string::npos) << table.out;

  std::string metrics;
  ASSERT_EQ(HttpGet(port_, "/metrics", &metrics), 200);
  for (const char* line : {"steward_incidents_open{service=\"web\"} 0",
                           "steward_incident_mttr_seconds{service=\"_all\"} ",
                           "steward_incident_mtta_seconds{service=\"web\"} "})
    EXPECT_NE(metrics.find(line), std::string::npos) << line;
}

TEST_F(IncidentE2E, BadRequestsGetJsonErrors) {
  RecordAlerts(p_, {MakeAlert("Down", "api", "critical")});
  StartDaemon();
  auto bad_body = Post("/api/v1/incidents/1/note", "[1,2]");
  ASSERT_TRUE(bad_body);
  EXPECT_EQ(bad_body->status, 400);
  EXPECT_EQ(nlohmann::json::parse(bad_body->body, nullptr, false).value("status", ""), "error");
  auto empty_note = Post("/api/v1/incidents/1/note", R"({"actor":"x","text":""})");
  ASSERT_TRUE(empty_note);
  EXPECT_EQ(empty_note->status, 400);
  auto missing = Post("/api/v1/incidents/99/ack", "{}");
  ASSERT_TRUE(missing);
  EXPECT_EQ(missing->status, 404);
  auto bad_status = Get("/api/v1/incidents?status=closed");
  ASSERT_TRUE(bad_status);
  EXPECT_EQ(bad_status->status, 400);
  auto bad_window = Get("/api/v1/incidents/stats?window=soon");
  ASSERT_TRUE(bad_window);
  EXPECT_EQ(bad_window->status, 400);
  auto ok = Post("/api/v1/incidents/1/resolve", R"({"actor":"bot","text":"auto"})");
  ASSERT_TRUE(ok);
  EXPECT_EQ(ok->status, 200);
  auto resolved_again = Post("/api/v1/incidents/1/resolve", "{}");
  ASSERT_TRUE(resolved_again);
  EXPECT_EQ(resolved_again->status, 409);
}

}  // namespace
}  // namespace steward::testing
