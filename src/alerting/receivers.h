// Receivers: the integrations that carry a Notification out of Steward — a generic webhook with
// Alertmanager's webhook JSON (version 4), forwarding to a real Alertmanager's v2 API, Slack- or
// Mattermost-compatible incoming webhooks and PagerDuty Events API v2 — and the factory that
// builds them from the stack's `receivers:` entries.
//
// Contract:
// - Payload builders are pure functions of (notification, config); they return std::nullopt when
//   there is nothing to send (send_resolved: false and every alert of the group is resolved),
//   which a receiver reports as success without a request, as Alertmanager does.
// - Send() makes one HTTP POST (libcurl, TLS verification on, no proxy) bounded by the earlier
//   of the caller's deadline and the integration's timeout. 2xx is success; 4xx other than 429
//   is InvalidArgument (permanent); 429, 5xx, connection errors and timeouts are Unavailable.
// - Secrets never leave in errors: URLs are shown as scheme://host[:port]/… and the URL,
//   its path and a PagerDuty routing key are scrubbed from any text (curl's error, a response
//   body excerpt) that goes into a Status.
// Thread safety: receivers are immutable after construction; Send may run on several threads.
#pragma once

#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "alerting/notification.h"
#include "base/status.h"
#include "config/alerting.h"
#include "tsdb/labels.h"

namespace steward::alerting {

// One configured integration of a named receiver ("webhook" number 0 of receiver "team-a").
class IntegrationReceiver : public Receiver {
 public:
  IntegrationReceiver(std::string receiver, std::string integration, int index, bool send_resolved)
      : receiver_(std::move(receiver)),
        integration_(std::move(integration)),
        index_(index),
        send_resolved_(send_resolved) {}
  const std::string& name() const override { return receiver_; }
  // "webhook", "alertmanager", "slack" or "pagerduty": the metrics' integration label.
  const std::string& integration() const { return integration_; }
  int index() const { return index_; }
  bool send_resolved() const { return send_resolved_; }

 private:
  const std::string receiver_;
  const std::string integration_;
  const int index_;
  const bool send_resolved_;
};

// Builds one receiver per configured integration, in config order (webhook, alertmanager,
// slack, pagerduty). InvalidArgument when a URL is missing or not http(s).
StatusOr<std::vector<std::unique_ptr<IntegrationReceiver>>> BuildReceivers(
    const config::ReceiverConfig& config);

std::unique_ptr<IntegrationReceiver> NewWebhookReceiver(std::string receiver, int index,
                                                        config::WebhookConfig config);
std::unique_ptr<IntegrationReceiver> NewAlertmanagerReceiver(std::string receiver, int index,
                                                             config::AlertmanagerConfig config);
std::unique_ptr<IntegrationReceiver> NewSlackReceiver(std::string receiver, int index,
                                                      config::SlackConfig config);
std::unique_ptr<IntegrationReceiver> NewPagerDutyReceiver(std::string receiver, int index,
                                                          config::PagerDutyConfig config);

// ---- Payloads (receiver_payloads.cc) ----

// Alertmanager's alert fingerprint (prometheus/common model.LabelSet.Fingerprint): FNV-1a 64
// over name, 0xff, value, 0xff for each label in name order.
uint64_t AlertmanagerFingerprint(const tsdb::Labels& labels);
// Fingerprint.String() is FingerprintHex (alert.h).
// Go's time.Time JSON form in UTC (RFC 3339 with trailing fractional zeros dropped);
// 0 is Go's zero time "0001-01-01T00:00:00Z".
std::string GoTimeJson(int64_t unix_ms);
// Go's json.Encoder escaping of a serialised document: <, >, & as \u003c, \u003e, \u0026 and
// U+2028/U+2029 as \u2028/\u2029 (only ever inside strings in valid JSON).
std::string GoEscapeHtml(std::string_view json);
// Alertmanager's "[FIRING:2] HighErrors api (extra common values)" subject line.
std::string DefaultSubject(const Notification& n, bool send_resolved);
// sha256 hex of the group key: Alertmanager's notify.Key.Hash(), PagerDuty's dedup_key.
std::string GroupKeyHash(std::string_view group_key);

std::optional<std::string> WebhookPayload(const Notification& n, const config::WebhookConfig& c);
std::optional<std::string> AlertmanagerPayload(const Notification& n,
                                               const config::AlertmanagerConfig& c);
std::optional<std::string> SlackPayload(const Notification& n, const config::SlackConfig& c);
std::optional<std::string> PagerDutyPayload(const Notification& n,
                                            const config::PagerDutyConfig& c);

// ---- HTTP (receiver_http.cc) ----

// scheme://host[:port] followed by "/…" when the URL had a path or query; userinfo dropped.
std::string RedactUrl(std::string_view url);
// `text` with every occurrence of each non-empty secret (longest first) replaced by "<secret>".
std::string ScrubSecrets(std::string text, const std::vector<std::string>& secrets);

struct PostRequest {
  std::string url;
  std::string body;  // JSON
  std::map<std::string, std::string> headers;
  std::chrono::steady_clock::time_point deadline;
  std::vector<std::string> secrets;  // scrubbed from any error text besides the URL
};
// POSTs with Content-Type: application/json and classifies the outcome as the header says.
// Error messages start with "<integration>: POST <redacted url>: ".
Status PostJson(std::string_view integration, const PostRequest& request);

// Alertmanager's failure reasons for steward_notifications_failed_total{reason}:
// "clientError" (4xx), "serverError" (5xx, 429), "contextDeadlineExceededError" (timeout),
// "other" (connection and everything else).
std::string_view FailureReason(const Status& s);

}  // namespace steward::alerting
