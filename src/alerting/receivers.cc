// The four integrations: each builds its payload (receiver_payloads.cc) and POSTs it
// (receiver_http.cc) within the earlier of the caller's deadline and its own timeout.
#include "alerting/receivers.h"

#include <algorithm>

namespace steward::alerting {
namespace {

using Clock = std::chrono::steady_clock;

constexpr std::string_view kPagerDutyDefaultUrl = "https://events.pagerduty.com/v2/enqueue";

Clock::time_point Earlier(Clock::time_point deadline, std::chrono::milliseconds timeout) {
  if (timeout.count() <= 0) return deadline;
  return std::min(deadline, Clock::now() + timeout);
}

// A receiver whose payload is `Build(n, config)` POSTed to `Url(config)`.
template <class Config>
class HttpReceiver : public IntegrationReceiver {
 public:
  using Builder = std::optional<std::string> (*)(const Notification&, const Config&);
  HttpReceiver(std::string receiver, std::string integration, int index, Config config,
               std::string url, Builder build, std::vector<std::string> secrets)
      : IntegrationReceiver(std::move(receiver), std::move(integration), index,
                            config.send_resolved),
        config_(std::move(config)),
        url_(std::move(url)),
        build_(build),
        secrets_(std::move(secrets)) {}

  Status Send(const Notification& n, Clock::time_point deadline) override {
    std::optional<std::string> body = build_(n, config_);
    if (!body) return Status::OK();  // nothing to tell: resolved alerts not wanted
    PostRequest req;
    req.url = url_;
    req.body = std::move(*body);
    req.headers = config_.headers;
    req.deadline = Earlier(deadline, config_.timeout);
    req.secrets = secrets_;
    return PostJson(integration(), req);
  }

 private:
  const Config config_;
  const std::string url_;
  const Builder build_;
  const std::vector<std::string> secrets_;
};

Status CheckUrl(const std::string& receiver, std::string_view integration, int index,
                const std::string& url) {
  if (url.rfind("http://", 0) == 0 || url.rfind("https://", 0) == 0) return Status::OK();
  std::string where = "receiver " + receiver + ": " + std::string(integration) + "_configs[" +
                      std::to_string(index) + "]: ";
  if (url.empty()) return InvalidArgument(where + "url is required");
  return InvalidArgument(where + "url must start with http:// or https:// (got " + RedactUrl(url) +
                         ")");
}

}  // namespace

std::unique_ptr<IntegrationReceiver> NewWebhookReceiver(std::string receiver, int index,
                                                        config::WebhookConfig config) {
  std::string url = config.url;
  return std::make_unique<HttpReceiver<config::WebhookConfig>>(
      std::move(receiver), "webhook", index, std::move(config), std::move(url), WebhookPayload,
      std::vector<std::string>{});
}

std::unique_ptr<IntegrationReceiver> NewAlertmanagerReceiver(std::string receiver, int index,
                                                             config::AlertmanagerConfig config) {
  std::string url = config.url;
  while (!url.empty() && url.back() == '/') url.pop_back();
  url += "/api/v2/alerts";
  return std::make_unique<HttpReceiver<config::AlertmanagerConfig>>(
      std::move(receiver), "alertmanager", index, std::move(config), std::move(url),
      AlertmanagerPayload, std::vector<std::string>{});
}

std::unique_ptr<IntegrationReceiver> NewSlackReceiver(std::string receiver, int index,
                                                      config::SlackConfig config) {
  std::string url = config.url;
  return std::make_unique<HttpReceiver<config::SlackConfig>>(
      std::move(receiver), "slack", index, std::move(config), std::move(url), SlackPayload,
      std::vector<std::string>{});
}

std::unique_ptr<IntegrationReceiver> NewPagerDutyReceiver(std::string receiver, int index,
                                                          config::PagerDutyConfig config) {
  std::string url = config.url.empty() ? std::string(kPagerDutyDefaultUrl) : config.url;
  std::vector<std::string> secrets = {config.routing_key};
  return std::make_unique<HttpReceiver<config::PagerDutyConfig>>(
      std::move(receiver), "pagerduty", index, std::move(config), std::move(url), PagerDutyPayload,
      std::move(secrets));
}

StatusOr<std::vector<std::unique_ptr<IntegrationReceiver>>> BuildReceivers(
    const config::ReceiverConfig& config) {
  std::vector<std::unique_ptr<IntegrationReceiver>> out;
  for (size_t i = 0; i < config.webhook_configs.size(); ++i) {
    const auto& c = config.webhook_configs[i];
    RETURN_IF_ERROR(CheckUrl(config.name, "webhook", static_cast<int>(i), c.url));
    out.push_back(NewWebhookReceiver(config.name, static_cast<int>(i), c));
  }
  for (size_t i = 0; i < config.alertmanager_configs.size(); ++i) {
    const auto& c = config.alertmanager_configs[i];
    RETURN_IF_ERROR(CheckUrl(config.name, "alertmanager", static_cast<int>(i), c.url));
    out.push_back(NewAlertmanagerReceiver(config.name, static_cast<int>(i), c));
  }
  for (size_t i = 0; i < config.slack_configs.size(); ++i) {
    const auto& c = config.slack_configs[i];
    RETURN_IF_ERROR(CheckUrl(config.name, "slack", static_cast<int>(i), c.url));
    out.push_back(NewSlackReceiver(config.name, static_cast<int>(i), c));
  }
  for (size_t i = 0; i < config.pagerduty_configs.size(); ++i) {
    const auto& c = config.pagerduty_configs[i];
    if (!c.url.empty()) {
      RETURN_IF_ERROR(CheckUrl(config.name, "pagerduty", static_cast<int>(i), c.url));
    }
    if (c.routing_key.empty()) {
      return InvalidArgument("receiver " + config.name + ": pagerduty_configs[" +
                             std::to_string(i) + "]: routing_key is required");
    }
    out.push_back(NewPagerDutyReceiver(config.name, static_cast<int>(i), c));
  }
  return out;
}

}  // namespace steward::alerting
