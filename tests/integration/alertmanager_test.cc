// Steward's receivers against a real Alertmanager (Debian's prometheus-alertmanager): alerts
// forwarded through the v2 API arrive intact, and the webhook JSON Steward sends for a group is
// the JSON Alertmanager itself sends for the same alerts and group.
#include <gtest/gtest.h>
#include <httplib.h>

#include <ctime>
#include <filesystem>
#include <nlohmann/json.hpp>

#include "alerting/delivery.h"
#include "alerting/receivers.h"
#include "integration/harness.h"
#include "integration/peers.h"
#include "unit/alerting/receiver_recorder.h"

namespace steward::testing {
namespace {

using alerting::Alert;
using alerting::Notification;
using nlohmann::json;

struct TempDir {
  std::string path;
  TempDir() {
    std::string templ = (std::filesystem::temp_directory_path() / "steward-am-XXXXXX").string();
    path = mkdtemp(templ.data()) ? templ : "";
  }
  ~TempDir() {
    std::error_code ec;
    std::filesystem::remove_all(path, ec);
  }
};

int64_t NowMs() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

// RFC 3339 as Go and go-openapi write it ("...T22:13:20.123Z", ".000Z", no fraction) to ms.
int64_t ParseTimeMs(const std::string& s) {
  tm t{};
  int ms = 0;
  if (!strptime(s.c_str(), "%Y-%m-%dT%H:%M:%S", &t)) return -1;
  size_t dot = s.find('.');
  if (dot != std::string::npos) {
    std::string frac = s.substr(dot + 1, s.find('Z') - dot - 1) + "000";
    ms = std::stoi(frac.substr(0, 3));
  }
  return static_cast<int64_t>(timegm(&t)) * 1000 + ms;
}

Alert MakeAlert(const std::string& instance, int64_t starts_ms) {
  Alert a;
  a.labels = tsdb::Labels::FromUnsorted({{"alertname", "HighErrors"},
                                         {"job", "api"},
                                         {"instance", instance},
                                         {"severity", "page"}})
                 .value();
  a.annotations = {{"summary", "errors on " + instance + " <5xx> & rising"},
                   {"runbook_url", "http://runbooks/HighErrors"}};
  a.starts_at_ms = starts_ms;
  a.generator_url = "http://steward:9090/graph?g0.expr=rate%28x%5B5m%5D%29";
  return a;
}

std::string AmConfig(int hook_port) {
  return "route:\n"
         "  receiver: team-web\n"
         "  group_by: [alertname]\n"
         "  group_wait: 1s\n"
         "  group_interval: 1s\n"
         "  repeat_interval: 1h\n"
         "receivers:\n"
         "  - name: team-web\n"
         "    webhook_configs:\n"
         "      - url: http://127.0.0.1:" +
         std::to_string(hook_port) +
         "/hook\n"
         "        send_resolved: true\n";
}

class AlertmanagerPeer : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!HaveBinary("prometheus-alertmanager")) {
      GTEST_SKIP() << "prometheus-alertmanager is not installed (scripts/setup installs it)";
    }
    ASSERT_FALSE(dir_.path.empty());
    ASSERT_TRUE(am_.Start(dir_.path, AmConfig(hook_.port())))
        << "alertmanager did not become ready; see " << dir_.path << "/alertmanager.log";
  }

  // Forwards `alerts` with Steward's Alertmanager receiver through a delivery queue.
  void Forward(const std::vector<Alert>& alerts) {
    config::ReceiverConfig rc;
    rc.name = "am";
    rc.alertmanager_configs.resize(1);
    rc.alertmanager_configs[0].url = "http://127.0.0.1:" + std::to_string(am_.port());
    auto built = alerting::BuildReceivers(rc);
    ASSERT_TRUE(built.ok()) << built.status().ToString();
    alerting::DeliveryQueue q(alerting::DeliveryOptions{}, nullptr);
    q.SetReceivers(std::move(*built));
    Notification n;
    n.receiver = "am";
    n.group_key = "{}:{alertname=\"HighErrors\"}";
    n.alerts = alerts;
    n.now_ms = NowMs();
    ASSERT_TRUE(q.Enqueue(n).ok());
    ASSERT_TRUE(PollUntil([&] { return q.Pending() == 0; }, 10000));
    auto st = q.Statuses();
    ASSERT_EQ(st.size(), 1u);
    ASSERT_EQ(st[0].delivered, 1u) << st[0].last_error;
  }

  // The first webhook body the Alertmanager sent with this status, or "".
  std::string WaitForWebhook(const std::string& status) {
    std::string found;
    PollUntil(
        [&] {
          for (const auto& r : hook_.requests()) {
            json j = json::parse(r.body, nullptr, false);
            if (!j.is_discarded() && j.value("status", "") == status) {
              found = r.body;
              return true;
            }
          }
          return false;
        },
        20000);
    return found;
  }

  TempDir dir_;
  alerting::testing::Recorder hook_;
  Alertmanager am_;
};

// Steward's webhook body for the group the Alertmanager flushed.
std::string StewardWebhook(const std::vector<Alert>& alerts, const std::string& external_url,
                           int64_t now_ms) {
  Notification n;
  n.receiver = "team-web";
  n.group_key = "{}:{alertname=\"HighErrors\"}";
  n.group_labels = tsdb::Labels::FromUnsorted({{"alertname", "HighErrors"}}).value();
  n.alerts = alerts;
  n.now_ms = now_ms;
  n.external_url = external_url;
  config::WebhookConfig c;
  auto body = alerting::WebhookPayload(n, c);
  EXPECT_TRUE(body.has_value());
  return body.value_or("");
}

std::map<std::string, json> ByFingerprint(const json& alerts) {
  std::map<std::string, json> out;
  for (const auto& a : alerts) out[a.value("fingerprint", "")] = a;
  return out;
}

// Every key and value of Alertmanager's message, alert by alert (matched by fingerprint); and
// the very same bytes when the alerts come in the same order (they do here: Alertmanager sorts
// by job, instance, then labels, and the test lists them so).
void ExpectSameMessage(const std::string& am_body, const std::string& our_body) {
  json am = json::parse(am_body);
  json ours = json::parse(our_body);
  std::vector<std::string> am_keys, our_keys;
  for (const auto& [k, v] : am.items()) am_keys.push_back(k);
  for (const auto& [k, v] : ours.items()) our_keys.push_back(k);
  EXPECT_EQ(our_keys, am_keys);
  for (const char* k : {"receiver", "status", "groupLabels", "commonLabels", "commonAnnotations",
                        "externalURL", "version", "groupKey", "truncatedAlerts"}) {
    EXPECT_EQ(ours[k], am[k]) << k;
  }
  ASSERT_EQ(ours["alerts"].size(), am["alerts"].size());
  auto am_alerts = ByFingerprint(am["alerts"]);
  auto our_alerts = ByFingerprint(ours["alerts"]);
  for (const auto& [fp, a] : am_alerts) {
    ASSERT_TRUE(our_alerts.count(fp)) << "no alert with Alertmanager's fingerprint " << fp;
    EXPECT_EQ(our_alerts[fp], a) << "alert " << fp;
  }
  EXPECT_EQ(our_body, am_body);
}

TEST_F(AlertmanagerPeer, ForwardedAlertsArriveWithTheirLabelsAnnotationsAndStart) {
  int64_t starts = NowMs() - 90'000 + 123;  // a fraction of a second, to compare precisely
  std::vector<Alert> alerts = {MakeAlert("a:9090", starts), MakeAlert("b:9090", starts - 7)};
  Forward(alerts);
  std::string body;
  ASSERT_EQ(HttpGet(am_.port(), "/api/v2/alerts", &body, 5000), 200);
  json got = json::parse(body);
  ASSERT_EQ(got.size(), 2u) << body;
  for (const Alert& a : alerts) {
    json want_labels = json::object();
    for (const auto& l : a.labels.items()) want_labels[l.name] = l.value;
    auto it = std::find_if(got.begin(), got.end(),
                           [&](const json& g) { return g["labels"] == want_labels; });
    ASSERT_NE(it, got.end()) << "missing " << want_labels.dump() << " in " << body;
    EXPECT_EQ((*it)["annotations"], json(a.annotations));
    EXPECT_EQ(ParseTimeMs((*it)["startsAt"]), a.starts_at_ms) << (*it)["startsAt"];
    EXPECT_EQ((*it)["generatorURL"], a.generator_url);
    EXPECT_EQ((*it)["status"]["state"], "active");
    EXPECT_EQ((*it)["fingerprint"],
              alerting::FingerprintHex(alerting::AlertmanagerFingerprint(a.labels)));
  }
}

TEST_F(AlertmanagerPeer, WebhookJsonIsIndistinguishableFromAlertmanagers) {
  int64_t starts = NowMs() - 60'000 + 450;
  std::vector<Alert> alerts = {MakeAlert("a:9090", starts), MakeAlert("b:9090", starts + 1)};
  Forward(alerts);
  std::string am = WaitForWebhook("firing");
  ASSERT_FALSE(am.empty()) << "Alertmanager sent no firing webhook";
  std::string external_url = json::parse(am)["externalURL"];
  ASSERT_EQ(json::parse(am)["alerts"].size(), 2u) << am;
  ExpectSameMessage(am, StewardWebhook(alerts, external_url, NowMs()));

  // Resolve both: Alertmanager's resolved message and Steward's must agree too.
  int64_t ends = NowMs() - 1000;
  for (Alert& a : alerts) a.ends_at_ms = ends;
  Forward(alerts);
  std::string am_resolved = WaitForWebhook("resolved");
  ASSERT_FALSE(am_resolved.empty()) << "Alertmanager sent no resolved webhook";
  ExpectSameMessage(am_resolved, StewardWebhook(alerts, external_url, NowMs()));
}

}  // namespace
}  // namespace steward::testing
