#include "server/notifier.h"

#include <algorithm>

#include <spdlog/spdlog.h>

#include "alerting/receivers.h"

namespace steward::server {
namespace {

constexpr int64_t kSilenceGcEveryMs = 15 * 60 * 1000;
constexpr int64_t kIdleTickMs = 1000;

StatusOr<std::vector<std::unique_ptr<alerting::IntegrationReceiver>>> Integrations(
    const config::Alerting& cfg) {
  std::vector<std::unique_ptr<alerting::IntegrationReceiver>> out;
  for (const auto& r : cfg.receivers) {
    ASSIGN_OR_RETURN(auto built, alerting::BuildReceivers(r));
    for (auto& b : built) out.push_back(std::move(b));
  }
  return out;
}

}  // namespace

Notifier::Notifier(NotifierOptions options)
    : opt_(std::move(options)), clock_(opt_.clock ? opt_.clock : RealClock::Get()) {}

Notifier::~Notifier() { Stop(); }

config::Alerting Notifier::Effective(const config::Alerting& cfg) {
  if (cfg.declared && !cfg.route.receiver.empty()) return cfg;
  config::Alerting out = cfg;
  out.route = config::Route{};
  out.route.receiver = "default";
  out.receivers.clear();
  config::ReceiverConfig none;
  none.name = "default";
  out.receivers.push_back(none);
  return out;
}

Status Notifier::Start(const config::Alerting& cfg, Observer observer) {
  observer_ = std::move(observer);
  alerting::Silences::Options so;
  so.path = opt_.state_dir + "/silences.json";
  silences_ = std::make_unique<alerting::Silences>(so);
  if (Status st = silences_->Load(); !st.ok())
    return st.Annotate("load the silences (move the damaged file aside to start without them)");
  config::Alerting effective = Effective(cfg);
  delivery_ = std::make_unique<alerting::DeliveryQueue>(
      alerting::DeliveryOptions::FromConfig(effective), opt_.metrics);
  auto integrations = Integrations(effective);
  if (!integrations.ok()) return integrations.status();
  delivery_->SetReceivers(std::move(*integrations));
  auto sink = [this](alerting::Notification n) {
    n.external_url = opt_.external_url;
    alerting::Notification copy = observer_ ? n : alerting::Notification{};
    Status st = delivery_->Enqueue(std::move(n));
    if (st.ok() && observer_) observer_(copy);
    // NotFound: a receiver without integrations, which receives nothing by design.
    if (!st.ok() && st.code() != StatusCode::kNotFound)
      spdlog::warn("msg=\"notification not queued\" error=\"{}\"", st.message());
  };
  ASSIGN_OR_RETURN(dispatcher_,
                   alerting::Dispatcher::Create(effective, silences_.get(), std::move(sink)));
  {
    std::lock_guard<std::mutex> l(mu_);
    stop_ = false;
  }
  thread_ = std::thread([this] { Loop(); });
  return Status::OK();
}

Status Notifier::Reload(const config::Alerting& cfg) {
  if (!dispatcher_) return FailedPrecondition("the notifier is not running");
  config::Alerting effective = Effective(cfg);
  ASSIGN_OR_RETURN(auto integrations, Integrations(effective));
  RETURN_IF_ERROR(dispatcher_->Reload(effective, NowMs()));
  delivery_->SetReceivers(std::move(integrations));
  {
    std::lock_guard<std::mutex> l(mu_);
    poke_ = true;
  }
  cv_.notify_all();
  return Status::OK();
}

void Notifier::Stop() {
  {
    std::lock_guard<std::mutex> l(mu_);
    stop_ = true;
  }
  cv_.notify_all();
  if (thread_.joinable()) thread_.join();
  if (delivery_) delivery_->Stop();
}

void Notifier::Put(std::vector<alerting::Alert> alerts) {
  if (!dispatcher_ || alerts.empty()) return;
  dispatcher_->Put(std::move(alerts), NowMs());
  {
    std::lock_guard<std::mutex> l(mu_);
    poke_ = true;
  }
  cv_.notify_all();
}

std::vector<alerting::AlertStatus> Notifier::Alerts() {
  if (!dispatcher_) return {};
  return dispatcher_->Alerts(NowMs());
}

void Notifier::Loop() {
  int64_t next_gc = NowMs() + kSilenceGcEveryMs;
  std::unique_lock<std::mutex> l(mu_);
  while (!stop_) {
    poke_ = false;
    l.unlock();
    int64_t now = NowMs();
    dispatcher_->Tick(now);
    if (now >= next_gc) {
      auto gone = silences_->GarbageCollect(now);
      if (!gone.ok())
        spdlog::warn("msg=\"silence clean-up\" error=\"{}\"", gone.status().message());
      next_gc = now + kSilenceGcEveryMs;
    }
    int64_t wake = now + kIdleTickMs;
    if (auto d = dispatcher_->NextDeadline()) wake = std::min(wake, *d);
    l.lock();
    int64_t wait = std::max<int64_t>(1, wake - NowMs());
    cv_.wait_for(l, std::chrono::milliseconds(wait), [this] { return stop_ || poke_; });
  }
}

nlohmann::json Notifier::DeliveryJson() const {
  nlohmann::json integrations = nlohmann::json::array();
  nlohmann::json failures = nlohmann::json::array();
  if (!delivery_) return {{"integrations", integrations}, {"failures", failures}};
  auto ms = [](int64_t t) {
    return t == 0 ? nlohmann::json() : nlohmann::json(FormatRfc3339Millis(FromUnixMillis(t)));
  };
  for (const auto& s : delivery_->Statuses())
    integrations.push_back({{"receiver", s.receiver},
                            {"integration", s.integration},
                            {"index", s.index},
                            {"lastAttempt", ms(s.last_attempt_ms)},
                            {"lastSuccess", ms(s.last_success_ms)},
                            {"lastError", s.last_error},
                            {"attempts", s.attempts},
                            {"delivered", s.delivered},
                            {"failed", s.failed},
                            {"pending", s.pending}});
  for (const auto& f : delivery_->RecentFailures())
    failures.push_back({{"receiver", f.receiver},
                        {"integration", f.integration},
                        {"index", f.index},
                        {"groupKey", f.group_key},
                        {"alerts", f.num_alerts},
                        {"attempts", f.attempts},
                        {"reason", f.reason},
                        {"error", f.error},
                        {"failedAt", ms(f.failed_at_ms)}});
  return {{"integrations", std::move(integrations)},
          {"failures", std::move(failures)},
          {"pending", delivery_->Pending()}};
}

}  // namespace steward::server
