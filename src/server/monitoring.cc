#include "server/monitoring.h"

#include <algorithm>

#include <spdlog/spdlog.h>

#include "config/stack_json.h"

namespace steward::server {

nlohmann::json MonitoringDocument(const config::Stack& stack) {
  nlohmann::json doc = config::StackToJson(stack);
  doc.erase("services");
  return doc;
}

Status ApplyMonitoringDocument(const nlohmann::json& doc, config::Stack* into) {
  if (!doc.is_object()) return Corruption("monitoring document is not a JSON object");
  nlohmann::json j = doc;
  j["services"] = nlohmann::json::array();
  auto parsed = config::StackFromJson(j);
  if (!parsed.ok()) return parsed.status().Annotate("monitoring document");
  into->scrape_configs = std::move(parsed->scrape_configs);
  into->monitors = std::move(parsed->monitors);
  into->monitoring = parsed->monitoring;
  into->environment = parsed->environment;
  into->rule_files = std::move(parsed->rule_files);
  into->alerting = std::move(parsed->alerting);
  into->slos = std::move(parsed->slos);
  into->runbooks = std::move(parsed->runbooks);
  if (into->dir.empty()) into->dir = parsed->dir;  // exec probes run there
  return Status::OK();
}

Monitoring::Monitoring(MonitoringOptions options)
    : opt_(std::move(options)),
      discovery_(monitor::DiscoveryOptions{
          opt_.self_port <= 0 ? std::string()
          : opt_.self_host.find(':') != std::string::npos && opt_.self_host[0] != '['
              ? "[" + opt_.self_host + "]:" + std::to_string(opt_.self_port)
              : opt_.self_host + ":" + std::to_string(opt_.self_port),
          "/metrics"}) {}

Monitoring::~Monitoring() { Stop(); }

Status Monitoring::Start(const config::Monitoring& settings) {
  tsdb::Options o;
  o.dir = opt_.tsdb_dir.empty() ? opt_.state_dir + "/tsdb" : opt_.tsdb_dir;
  o.retention_time = retention_ = settings.retention;
  o.retention_bytes = retention_bytes_ = settings.retention_bytes;
  o.metrics = opt_.metrics;
  if (!opt_.collect) {  // served history: retention would follow the wall clock and delete it
    o.retention_time = Duration(0);
    o.retention_bytes = 0;
  }
  ASSIGN_OR_RETURN(db_, tsdb::Db::Open(o));
  if (!opt_.collect) return Status::OK();
  monitor::ScrapeManagerOptions so;
  so.clock = RealClock::Get();
  so.metrics = opt_.metrics;
  scraper_ = std::make_unique<monitor::ScrapeManager>(db_.get(), so);
  RETURN_IF_ERROR(scraper_->Start());
  monitor::ProberOptions po;
  po.clock = RealClock::Get();
  prober_ = std::make_unique<monitor::Prober>(db_.get(), po);
  RETURN_IF_ERROR(prober_->Start());
  return Status::OK();
}

void Monitoring::Stop() {
  if (prober_) prober_->Stop();
  if (scraper_) scraper_->Stop();
  if (db_) {
    Status st = db_->Close();
    if (!st.ok()) spdlog::error("msg=\"closing the tsdb\" error=\"{}\"", st.message());
  }
  prober_.reset();
  scraper_.reset();
  db_.reset();
}

void Monitoring::Update(const config::Stack& stack,
                        const std::vector<runtime::ReplicaStatus>& replicas) {
  if (!scraper_ || !prober_) return;
  std::vector<monitor::ReplicaEndpoint> endpoints;
  for (const auto& r : replicas)
    if (r.pid > 0 && r.port > 0) endpoints.push_back({r.key.service, r.key.slot, r.port});
  std::lock_guard<std::mutex> l(mu_);
  monitor::DiscoveryResult found = discovery_.Discover(stack, endpoints);
  for (const auto& e : found.errors)
    if (std::find(discovery_errors_.begin(), discovery_errors_.end(), e) ==
        discovery_errors_.end())
      spdlog::warn("msg=\"target discovery\" error=\"{}\"", e);
  discovery_errors_ = found.errors;
  scraper_->SetTargets(std::move(found.targets));
  const config::Monitoring& m = stack.monitoring;
  if (m.retention != retention_ || m.retention_bytes != retention_bytes_) {
    db_->SetRetention(m.retention, m.retention_bytes);
    retention_ = m.retention;
    retention_bytes_ = m.retention_bytes;
  }
  // The monitors and the directory exec probes run in: a change of either re-applies them.
  std::string monitors =
      config::StackToJson(stack).value("monitors", nlohmann::json()).dump() + "\n" + stack.dir;
  if (monitors != last_monitors_) {
    prober_->SetMonitors(stack.monitors, stack.dir);
    last_monitors_ = monitors;
  }
}

std::vector<monitor::TargetHealth> Monitoring::Targets() const {
  return scraper_ ? scraper_->Targets() : std::vector<monitor::TargetHealth>{};
}

std::vector<monitor::MonitorStatus> Monitoring::Probes() const {
  return prober_ ? prober_->Results() : std::vector<monitor::MonitorStatus>{};
}

nlohmann::json MonitorStatusJson(const monitor::MonitorStatus& s) {
  bool ran = s.last_run != WallTime{};
  return {{"name", s.name},
          {"kind", monitor::ProbeKindLabel(s.kind)},
          {"instance", s.instance},
          {"success", s.success},
          {"error", s.error},
          {"last_run", ran ? FormatRfc3339(s.last_run) : ""},
          {"duration_seconds", s.duration_seconds}};
}

std::vector<std::string> Monitoring::DiscoveryErrors() const {
  std::lock_guard<std::mutex> l(mu_);
  return discovery_errors_;
}

}  // namespace steward::server
