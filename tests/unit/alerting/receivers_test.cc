// The integrations' payloads as a local HTTP server receives them, and how HTTP outcomes map to
// errors (permanent, retryable) with secrets kept out of them.
#include "alerting/receivers.h"

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "unit/alerting/receiver_recorder.h"

namespace steward::alerting {
namespace {

using nlohmann::json;
using testing::Recorder;

constexpr int64_t kNow = 1700000100000;  // 2023-11-14T22:15:00Z

tsdb::Labels L(std::vector<tsdb::Label> l) {
  return tsdb::Labels::FromUnsorted(std::move(l)).value();
}

Alert MakeAlert(std::vector<tsdb::Label> labels, std::map<std::string, std::string> annotations,
                int64_t starts, int64_t ends = 0) {
  Alert a;
  a.labels = L(std::move(labels));
  a.annotations = std::move(annotations);
  a.starts_at_ms = starts;
  a.ends_at_ms = ends;
  a.generator_url = "http://steward:9090/graph?g0.expr=up";
  return a;
}

// Two firing alerts and one resolved, grouped by alertname.
Notification ThreeAlerts() {
  Notification n;
  n.receiver = "team.web";
  n.group_key = "{}:{alertname=\"HighErrors\"}";
  n.group_labels = L({{"alertname", "HighErrors"}});
  n.now_ms = kNow;
  n.external_url = "http://steward:9090";
  n.alerts = {
      MakeAlert({{"alertname", "HighErrors"}, {"job", "api"}, {"instance", "a:9090"}},
                {{"summary", "errors <high> & rising"}, {"runbook", "r1"}}, 1700000000123),
      MakeAlert({{"alertname", "HighErrors"}, {"job", "api"}, {"instance", "b:9090"}},
                {{"summary", "errors <high> & rising"}, {"runbook", "r2"}}, 1700000000100),
      MakeAlert({{"alertname", "HighErrors"}, {"job", "api"}, {"instance", "c:9090"}},
                {{"summary", "errors <high> & rising"}}, 1700000000000, 1700000050000),
  };
  return n;
}

std::chrono::steady_clock::time_point Soon() {
  return std::chrono::steady_clock::now() + std::chrono::seconds(10);
}

json OnlyBody(const Recorder& r) {
  auto reqs = r.requests();
  EXPECT_EQ(reqs.size(), 1u);
  if (reqs.empty()) return json();
  EXPECT_EQ(reqs[0].content_type, "application/json");
  return json::parse(reqs[0].body);
}

TEST(Fingerprint, MatchesAlertmanagersFnv1aOverSortedLabels) {
  // Reference values from an independent FNV-1a over name 0xff value 0xff in name order.
  EXPECT_EQ(FingerprintHex(AlertmanagerFingerprint(
                L({{"job", "api"}, {"alertname", "HighErrors"}, {"instance", "a:9090"}}))),
            "eb4feaca8f8a9024");
  EXPECT_EQ(FingerprintHex(AlertmanagerFingerprint(tsdb::Labels())), "cbf29ce484222325");
}

TEST(GroupKeyHash, IsSha256HexOfTheKey) {
  EXPECT_EQ(GroupKeyHash("abc"),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  EXPECT_EQ(GroupKeyHash(""), "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  EXPECT_EQ(GroupKeyHash(std::string(200, 'x')).size(), 64u);  // several blocks
  EXPECT_EQ(GroupKeyHash("{}:{alertname=\"HighErrors\"}"),
            "b61c3868f1592c9d38c00af5b6dac7807d96d66e3aee06f0fa02080e38412fb0");
}

TEST(GoTimeJson, DropsTrailingZerosAndWritesGosZeroTime) {
  EXPECT_EQ(GoTimeJson(0), "0001-01-01T00:00:00Z");
  EXPECT_EQ(GoTimeJson(1700000000123), "2023-11-14T22:13:20.123Z");
  EXPECT_EQ(GoTimeJson(1700000000100), "2023-11-14T22:13:20.1Z");
  EXPECT_EQ(GoTimeJson(1700000000000), "2023-11-14T22:13:20Z");
}

TEST(RedactUrl, KeepsSchemeAndHostOnly) {
  EXPECT_EQ(RedactUrl("https://hooks.slack.com/services/T0/B0/SECRET"),
            "https://hooks.slack.com/…");
  EXPECT_EQ(RedactUrl("http://user:pw@127.0.0.1:8080/hook?token=x"), "http://127.0.0.1:8080/…");
  EXPECT_EQ(RedactUrl("http://am:9093"), "http://am:9093");
  EXPECT_EQ(RedactUrl("http://am:9093/"), "http://am:9093");
  EXPECT_EQ(RedactUrl("no-scheme/SECRET"), "<invalid url>");
}

TEST(Webhook, PostsAlertmanagersVersion4MessageWithEveryField) {
  Recorder rec;
  config::WebhookConfig c;
  c.url = rec.url();
  auto r = NewWebhookReceiver("team.web", 0, c);
  ASSERT_TRUE(r->Send(ThreeAlerts(), Soon()).ok());
  auto reqs = rec.requests();
  ASSERT_EQ(reqs.size(), 1u);
  EXPECT_EQ(reqs[0].path, "/hook");
  // Go's encoder escapes <, > and & and ends with a newline.
  EXPECT_NE(reqs[0].body.find("errors \\u003chigh\\u003e \\u0026 rising"), std::string::npos);
  EXPECT_EQ(reqs[0].body.back(), '\n');
  json j = json::parse(reqs[0].body);
  EXPECT_EQ(j.size(), 10u);
  EXPECT_EQ(j["version"], "4");
  EXPECT_EQ(j["groupKey"], "{}:{alertname=\"HighErrors\"}");
  EXPECT_EQ(j["truncatedAlerts"], 0);
  EXPECT_EQ(j["status"], "firing");
  EXPECT_EQ(j["receiver"], "team\\.web");  // regexp.QuoteMeta, as Alertmanager
  EXPECT_EQ(j["groupLabels"], json({{"alertname", "HighErrors"}}));
  EXPECT_EQ(j["commonLabels"], json({{"alertname", "HighErrors"}, {"job", "api"}}));
  EXPECT_EQ(j["commonAnnotations"], json({{"summary", "errors <high> & rising"}}));
  EXPECT_EQ(j["externalURL"], "http://steward:9090");
  ASSERT_EQ(j["alerts"].size(), 3u);
  const json& a0 = j["alerts"][0];
  EXPECT_EQ(a0.size(), 7u);
  EXPECT_EQ(a0["status"], "firing");
  EXPECT_EQ(a0["labels"],
            json({{"alertname", "HighErrors"}, {"instance", "a:9090"}, {"job", "api"}}));
  EXPECT_EQ(a0["annotations"], json({{"runbook", "r1"}, {"summary", "errors <high> & rising"}}));
  EXPECT_EQ(a0["startsAt"], "2023-11-14T22:13:20.123Z");
  EXPECT_EQ(a0["endsAt"], "0001-01-01T00:00:00Z");
  EXPECT_EQ(a0["generatorURL"], "http://steward:9090/graph?g0.expr=up");
  EXPECT_EQ(a0["fingerprint"], "eb4feaca8f8a9024");
  const json& a2 = j["alerts"][2];
  EXPECT_EQ(a2["status"], "resolved");
  EXPECT_EQ(a2["startsAt"], "2023-11-14T22:13:20Z");
  EXPECT_EQ(a2["endsAt"], "2023-11-14T22:14:10Z");
}

TEST(Webhook, TruncatesToMaxAlertsAndCountsTheRest) {
  Recorder rec;
  config::WebhookConfig c;
  c.url = rec.url();
  c.max_alerts = 1;
  ASSERT_TRUE(NewWebhookReceiver("r", 0, c)->Send(ThreeAlerts(), Soon()).ok());
  json j = OnlyBody(rec);
  ASSERT_EQ(j["alerts"].size(), 1u);
  EXPECT_EQ(j["truncatedAlerts"], 2);
  EXPECT_EQ(j["alerts"][0]["labels"]["instance"], "a:9090");
  // Common labels come from the alerts sent, as in Alertmanager.
  EXPECT_EQ(j["commonLabels"]["instance"], "a:9090");
}

TEST(Webhook, WithoutSendResolvedLeavesResolvedAlertsOut) {
  Recorder rec;
  config::WebhookConfig c;
  c.url = rec.url();
  c.send_resolved = false;
  auto r = NewWebhookReceiver("r", 0, c);
  ASSERT_TRUE(r->Send(ThreeAlerts(), Soon()).ok());
  json j = OnlyBody(rec);
  ASSERT_EQ(j["alerts"].size(), 2u);
  for (const auto& a : j["alerts"]) EXPECT_EQ(a["status"], "firing");
  EXPECT_EQ(j["commonAnnotations"].size(), 1u);
}

TEST(Webhook, WithoutSendResolvedSendsNothingForAResolvedGroup) {
  Recorder rec;
  config::WebhookConfig c;
  c.url = rec.url();
  c.send_resolved = false;
  Notification n = ThreeAlerts();
  for (auto& a : n.alerts) a.ends_at_ms = kNow - 1;
  ASSERT_TRUE(NewWebhookReceiver("r", 0, c)->Send(n, Soon()).ok());
  EXPECT_TRUE(rec.requests().empty());
  c.send_resolved = true;
  ASSERT_TRUE(NewWebhookReceiver("r", 0, c)->Send(n, Soon()).ok());
  EXPECT_EQ(OnlyBody(rec)["status"], "resolved");
}

TEST(Webhook, SendsConfiguredHeaders) {
  httplib::Server svr;
  std::string auth;
  svr.Post("/h", [&](const httplib::Request& req, httplib::Response& res) {
    auth = req.get_header_value("Authorization");
    res.status = 200;
  });
  int port = svr.bind_to_any_port("127.0.0.1");
  std::thread t([&] { svr.listen_after_bind(); });
  while (!svr.is_running()) std::this_thread::yield();
  config::WebhookConfig c;
  c.url = "http://127.0.0.1:" + std::to_string(port) + "/h";
  c.headers["Authorization"] = "Bearer xyz";
  Status st = NewWebhookReceiver("r", 0, c)->Send(ThreeAlerts(), Soon());
  svr.stop();
  t.join();
  ASSERT_TRUE(st.ok()) << st.ToString();
  EXPECT_EQ(auth, "Bearer xyz");
}

TEST(AlertmanagerForward, PostsPostableAlertsToApiV2) {
  Recorder rec;
  config::AlertmanagerConfig c;
  c.url = rec.url("/");
  ASSERT_TRUE(NewAlertmanagerReceiver("r", 0, c)->Send(ThreeAlerts(), Soon()).ok());
  auto reqs = rec.requests();
  ASSERT_EQ(reqs.size(), 1u);
  EXPECT_EQ(reqs[0].path, "/api/v2/alerts");
  json j = json::parse(reqs[0].body);
  ASSERT_TRUE(j.is_array());
  ASSERT_EQ(j.size(), 3u);
  EXPECT_EQ(j[0].size(), 4u);  // no endsAt while firing
  EXPECT_EQ(j[0]["labels"],
            json({{"alertname", "HighErrors"}, {"instance", "a:9090"}, {"job", "api"}}));
  EXPECT_EQ(j[0]["annotations"]["runbook"], "r1");
  EXPECT_EQ(j[0]["startsAt"], "2023-11-14T22:13:20.123Z");
  EXPECT_EQ(j[0]["generatorURL"], "http://steward:9090/graph?g0.expr=up");
  EXPECT_FALSE(j[0].contains("endsAt"));
  EXPECT_EQ(j[2]["endsAt"], "2023-11-14T22:14:10Z");
}

TEST(Slack, PostsTitleTextColourAndFallback) {
  Recorder rec;
  config::SlackConfig c;
  c.url = rec.url("/services/T0/B0/SECRET");
  c.channel = "#alerts";
  ASSERT_TRUE(NewSlackReceiver("team.web", 0, c)->Send(ThreeAlerts(), Soon()).ok());
  json j = OnlyBody(rec);
  EXPECT_EQ(j["channel"], "#alerts");
  EXPECT_EQ(j["username"], "Steward");
  const std::string title = "[FIRING:2] HighErrors (api)";
  EXPECT_EQ(j["text"], title);
  ASSERT_EQ(j["attachments"].size(), 1u);
  const json& a = j["attachments"][0];
  EXPECT_EQ(a["title"], title);
  EXPECT_EQ(a["color"], "danger");
  EXPECT_EQ(a["title_link"], "http://steward:9090/#/alerts?receiver=team.web");
  EXPECT_EQ(a["fallback"], title + " | http://steward:9090/#/alerts?receiver=team.web");
  std::string text = a["text"];
  EXPECT_EQ(text.rfind("*Firing*\nLabels:\n - alertname = HighErrors\n - instance = a:9090\n", 0),
            0u);
  EXPECT_NE(text.find("*Resolved*\nLabels:\n - alertname = HighErrors\n - instance = c:9090"),
            std::string::npos);
  EXPECT_NE(text.find("Source: http://steward:9090/graph?g0.expr=up\n"), std::string::npos);
}

TEST(Slack, ResolvedGroupIsGoodAndConfiguredTextsWin) {
  Recorder rec;
  config::SlackConfig c;
  c.url = rec.url();
  c.title = "custom title";
  c.text = "custom text";
  c.username = "bot";
  Notification n = ThreeAlerts();
  for (auto& a : n.alerts) a.ends_at_ms = kNow - 1;
  ASSERT_TRUE(NewSlackReceiver("r", 0, c)->Send(n, Soon()).ok());
  json j = OnlyBody(rec);
  EXPECT_FALSE(j.contains("channel"));
  EXPECT_EQ(j["username"], "bot");
  EXPECT_EQ(j["attachments"][0]["color"], "good");
  EXPECT_EQ(j["attachments"][0]["title"], "custom title");
  EXPECT_EQ(j["attachments"][0]["text"], "custom text");
  EXPECT_EQ(DefaultSubject(n, true), "[RESOLVED] HighErrors (api)");
}

TEST(DefaultSubject, HasATrailingSpaceWhenNothingIsCommonBeyondTheGroup) {
  Notification n = ThreeAlerts();
  n.alerts[1].labels = L({{"alertname", "HighErrors"}, {"job", "db"}});
  EXPECT_EQ(DefaultSubject(n, true), "[FIRING:2] HighErrors ");
}

TEST(PagerDuty, PostsEventsV2TriggerWithDedupKeyAndDetails) {
  Recorder rec;
  config::PagerDutyConfig c;
  c.url = rec.url("/v2/enqueue");
  c.routing_key = "R0UT1NGKEY";
  c.severity = "critical";
  ASSERT_TRUE(NewPagerDutyReceiver("team.web", 0, c)->Send(ThreeAlerts(), Soon()).ok());
  json j = OnlyBody(rec);
  EXPECT_EQ(j.size(), 6u);
  EXPECT_EQ(j["routing_key"], "R0UT1NGKEY");
  EXPECT_EQ(j["event_action"], "trigger");
  EXPECT_EQ(j["dedup_key"], "b61c3868f1592c9d38c00af5b6dac7807d96d66e3aee06f0fa02080e38412fb0");
  EXPECT_EQ(j["client"], "Steward");
  EXPECT_EQ(j["client_url"], "http://steward:9090/#/alerts?receiver=team.web");
  const json& p = j["payload"];
  EXPECT_EQ(p["summary"], "[FIRING:2] HighErrors (api)");
  EXPECT_EQ(p["source"], "Steward");
  EXPECT_EQ(p["severity"], "critical");
  const json& d = p["custom_details"];
  EXPECT_EQ(d["num_firing"], "2");
  EXPECT_EQ(d["num_resolved"], "1");
  EXPECT_NE(std::string(d["firing"]).find(" - instance = b:9090\n"), std::string::npos);
  EXPECT_EQ(std::string(d["firing"]).find("c:9090"), std::string::npos);
  EXPECT_NE(std::string(d["resolved"]).find(" - instance = c:9090\n"), std::string::npos);
}

TEST(PagerDuty, ResolvesWhenTheWholeGroupIsResolved) {
  Recorder rec;
  config::PagerDutyConfig c;
  c.url = rec.url();
  c.routing_key = "key";
  Notification n = ThreeAlerts();
  for (auto& a : n.alerts) a.ends_at_ms = kNow - 1;
  ASSERT_TRUE(NewPagerDutyReceiver("r", 0, c)->Send(n, Soon()).ok());
  json j = OnlyBody(rec);
  EXPECT_EQ(j["event_action"], "resolve");
  EXPECT_EQ(j["payload"]["severity"], "error");
  EXPECT_EQ(j["payload"]["custom_details"]["num_firing"], "0");
}

TEST(HttpOutcome, ClientErrorIsPermanentAndServerErrorRetryable) {
  Recorder bad({400}), busy({429}), broken({503});
  config::WebhookConfig c;
  c.url = bad.url();
  Status st = NewWebhookReceiver("r", 0, c)->Send(ThreeAlerts(), Soon());
  EXPECT_EQ(st.code(), StatusCode::kInvalidArgument) << st.ToString();
  EXPECT_EQ(FailureReason(st), "clientError");
  c.url = busy.url();
  st = NewWebhookReceiver("r", 0, c)->Send(ThreeAlerts(), Soon());
  EXPECT_EQ(st.code(), StatusCode::kUnavailable) << st.ToString();
  EXPECT_EQ(FailureReason(st), "serverError");
  c.url = broken.url();
  st = NewWebhookReceiver("r", 0, c)->Send(ThreeAlerts(), Soon());
  EXPECT_EQ(st.code(), StatusCode::kUnavailable) << st.ToString();
  EXPECT_NE(st.message().find("HTTP status 503"), std::string::npos);
}

TEST(HttpOutcome, ConnectionRefusedIsUnavailable) {
  int port;
  {
    Recorder gone;  // a port that was just free
    port = gone.port();
  }
  config::WebhookConfig c;
  c.url = "http://127.0.0.1:" + std::to_string(port) + "/hook";
  Status st = NewWebhookReceiver("r", 0, c)->Send(ThreeAlerts(), Soon());
  EXPECT_EQ(st.code(), StatusCode::kUnavailable) << st.ToString();
  EXPECT_EQ(FailureReason(st), "other");
}

TEST(Redaction, WebhookTokenAndRoutingKeyNeverAppearInErrors) {
  Recorder rec({400});
  rec.set_response_body(
      R"({"message":"invalid routing key SECRETKEY42 for /services/T0/B0/TOKEN99"})");
  config::SlackConfig s;
  s.url = rec.url("/services/T0/B0/TOKEN99");
  Status st = NewSlackReceiver("r", 0, s)->Send(ThreeAlerts(), Soon());
  ASSERT_FALSE(st.ok());
  EXPECT_EQ(st.message().find("TOKEN99"), std::string::npos) << st.message();
  EXPECT_NE(st.message().find("slack: POST http://127.0.0.1:"), std::string::npos);
  EXPECT_NE(st.message().find("/…: server returned HTTP status 400"), std::string::npos);

  config::PagerDutyConfig p;
  p.url = rec.url("/v2/enqueue");
  p.routing_key = "SECRETKEY42";
  st = NewPagerDutyReceiver("r", 0, p)->Send(ThreeAlerts(), Soon());
  ASSERT_FALSE(st.ok());
  EXPECT_EQ(st.message().find("SECRETKEY42"), std::string::npos) << st.message();
  EXPECT_NE(st.message().find("invalid routing key <secret>"), std::string::npos) << st.message();
}

TEST(Redaction, RefusedConnectionErrorShowsOnlySchemeAndHost) {
  config::WebhookConfig c;
  c.url = "http://127.0.0.1:1/hook/TOKEN77?key=abc";
  Status st = NewWebhookReceiver("r", 0, c)->Send(ThreeAlerts(), Soon());
  ASSERT_FALSE(st.ok());
  EXPECT_EQ(st.message().find("TOKEN77"), std::string::npos) << st.message();
  EXPECT_EQ(st.message().find("key=abc"), std::string::npos) << st.message();
}

TEST(BuildReceivers, MakesOneReceiverPerIntegrationInConfigOrder) {
  config::ReceiverConfig rc;
  rc.name = "ops";
  rc.webhook_configs.resize(2);
  rc.webhook_configs[0].url = "http://a/1";
  rc.webhook_configs[1].url = "http://a/2";
  rc.alertmanager_configs.resize(1);
  rc.alertmanager_configs[0].url = "http://am:9093";
  rc.slack_configs.resize(1);
  rc.slack_configs[0].url = "https://hooks.example/x";
  rc.pagerduty_configs.resize(1);
  rc.pagerduty_configs[0].routing_key = "k";
  auto built = BuildReceivers(rc);
  ASSERT_TRUE(built.ok()) << built.status().ToString();
  ASSERT_EQ(built->size(), 5u);
  std::vector<std::string> got;
  for (const auto& r : *built) {
    EXPECT_EQ(r->name(), "ops");
    got.push_back(r->integration() + std::to_string(r->index()));
  }
  EXPECT_EQ(got, (std::vector<std::string>{"webhook0", "webhook1", "alertmanager0", "slack0",
                                           "pagerduty0"}));
}

TEST(BuildReceivers, RejectsMissingUrlAndRoutingKey) {
  config::ReceiverConfig rc;
  rc.name = "ops";
  rc.webhook_configs.resize(1);
  auto built = BuildReceivers(rc);
  ASSERT_FALSE(built.ok());
  EXPECT_EQ(built.status().message(), "receiver ops: webhook_configs[0]: url is required");
  rc.webhook_configs[0].url = "ftp://x/SECRET";
  built = BuildReceivers(rc);
  ASSERT_FALSE(built.ok());
  EXPECT_EQ(built.status().message().find("SECRET"), std::string::npos);
  rc.webhook_configs.clear();
  rc.pagerduty_configs.resize(1);
  built = BuildReceivers(rc);
  ASSERT_FALSE(built.ok());
  EXPECT_EQ(built.status().message(),
            "receiver ops: pagerduty_configs[0]: routing_key is required");
}

}  // namespace
}  // namespace steward::alerting
