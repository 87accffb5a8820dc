// The ingress side of the deploy controller (deploy_controller.h): HAProxy started once a
// service has an ingress, a frontend per such service, and its ready replicas kept in slots —
// by the sync loop for services no deploy is moving, by the deploy itself otherwise.
#include <algorithm>
#include <cmath>

#include <spdlog/spdlog.h>

#include "ingress/haproxy.h"
#include "server/daemon.h"
#include "server/deploy_internal.h"

namespace steward::server {
namespace {

constexpr auto kSyncEvery = std::chrono::milliseconds(300);
constexpr auto kDrainTimeout = std::chrono::milliseconds(10000);
constexpr int kFullWeight = 100;

}  // namespace

int IngressSlot(int replicas, int64_t generation, int replica_slot) {
  return (generation % 2 == 0 ? std::max(1, replicas) : 0) + replica_slot + 1;
}

int SplitWeight(int percent, int servers) {
  if (percent <= 0 || servers <= 0) return 0;
  // 2 x percent keeps the largest weight (one server at 100%) within HAProxy's 0..256.
  int w = static_cast<int>(std::lround(2.0 * percent / servers));
  return std::clamp(w, 1, 256);
}

bool DeployController::IngressUp() {
  std::lock_guard<std::mutex> l(ingress_mu_);
  return haproxy_ != nullptr;
}

Status DeployController::EnsureIngress(const std::vector<config::Service>& services) {
  std::vector<ingress::Frontend> frontends;
  std::string key;
  for (const auto& s : services) {
    if (!s.ingress.enabled || s.ingress.port == 0) continue;
    ingress::Frontend f;
    f.service = s.name;
    f.bind = s.ingress.bind;
    f.port = s.ingress.port;
    f.slots = 2 * std::max(1, s.replicas);
    f.health_path = s.ingress.health_path;
    key += s.name + "|" + f.bind + "|" + std::to_string(f.port) + "|" + std::to_string(f.slots) +
           "|" + f.health_path + "\n";
    frontends.push_back(std::move(f));
  }
  std::lock_guard<std::mutex> l(ingress_mu_);
  if (frontends.empty() && !haproxy_) return Status::OK();
  if (haproxy_ && key == frontends_key_) return Status::OK();
  if (!haproxy_) {
    ingress::HaproxyOptions o;
    o.dir = daemon_->options().state_dir + "/ingress";
    auto h = ingress::Haproxy::Start(o, frontends);
    if (!h.ok()) return h.status().Annotate("start the ingress (haproxy)");
    haproxy_ = std::move(*h);
    spdlog::info("msg=\"ingress started\" pid={} frontends={}", haproxy_->pid(), frontends.size());
  } else {
    RETURN_IF_ERROR(haproxy_->Reconfigure(frontends).Annotate("reconfigure the ingress"));
    // A service whose slot count changed got a new backend: set its servers again.
    for (auto it = slots_.begin(); it != slots_.end();) {
      bool kept = key.find(it->first + "|") != std::string::npos;
      it = kept ? std::next(it) : slots_.erase(it);
    }
  }
  frontends_key_ = key;
  return Status::OK();
}

Status DeployController::SetSlot(const std::string& service, int slot, int port, int weight) {
  std::lock_guard<std::mutex> l(ingress_mu_);
  if (!haproxy_) return Status::OK();
  auto& cur = slots_[service];
  auto it = cur.find(slot);
  if (it != cur.end() && it->second.first == port) {
    if (it->second.second == weight) return Status::OK();
    RETURN_IF_ERROR(haproxy_->SetWeight(service, slot, weight));
  } else {
    RETURN_IF_ERROR(haproxy_->SetServer(service, slot, "127.0.0.1", port, weight));
  }
  cur[slot] = {port, weight};
  return Status::OK();
}

Status DeployController::SetSlotWeight(const std::string& service, int slot, int weight) {
  std::lock_guard<std::mutex> l(ingress_mu_);
  if (!haproxy_) return Status::OK();
  auto& cur = slots_[service];
  auto it = cur.find(slot);
  if (it == cur.end()) return Status::OK();  // parked: no traffic anyway
  RETURN_IF_ERROR(haproxy_->SetWeight(service, slot, weight));
  it->second.second = weight;
  return Status::OK();
}

Status DeployController::DrainSlot(const std::string& service, int slot) {
  ingress::Haproxy* h = nullptr;
  {
    std::lock_guard<std::mutex> l(ingress_mu_);
    if (!haproxy_) return Status::OK();
    h = haproxy_.get();
    slots_[service].erase(slot);
  }
  // Outside the lock: draining waits for open requests; the Haproxy object serializes itself
  // and lives until Stop(), which first joins the deploy threads.
  return h->DrainAndPark(service, slot, kDrainTimeout);
}

StatusOr<std::map<int, std::pair<int64_t, int64_t>>> DeployController::SlotCounters(
    const std::string& service) {
  std::lock_guard<std::mutex> l(ingress_mu_);
  if (!haproxy_) return FailedPrecondition("no ingress");
  ASSIGN_OR_RETURN(auto servers, haproxy_->Servers(service));
  std::map<int, std::pair<int64_t, int64_t>> out;
  for (const auto& s : servers) out[s.slot] = {s.responses_total, s.responses_5xx};
  return out;
}

void DeployController::ForgetSlots(const std::string& service) {
  std::lock_guard<std::mutex> l(ingress_mu_);
  slots_.erase(service);
}

void DeployController::SyncIngress() {
  auto recorded = daemon_->RecordedStack();
  if (!recorded.ok()) return;
  Status st = EnsureIngress(recorded->services);
  if (!st.ok()) {
    std::lock_guard<std::mutex> l(ingress_mu_);
    if (ingress_error_.message() != st.message())
      spdlog::error("msg=\"ingress\" error=\"{}\"", st.message());
    ingress_error_ = st;
    return;
  }
  if (!IngressUp()) return;
  auto snapshot = daemon_->runtime_->Snapshot();
  for (const auto& s : recorded->services) {
    if (!s.ingress.enabled || Busy(s.name)) continue;
    std::map<int, int> want;  // slot -> port
    for (const auto& r : snapshot)
      if (r.key.service == s.name && r.ready && r.key.slot < std::max(1, s.replicas))
        want[IngressSlot(s.replicas, r.key.generation, r.key.slot)] = r.port;
    std::map<int, std::pair<int, int>> have;
    {
      std::lock_guard<std::mutex> l(ingress_mu_);
      have = slots_[s.name];
    }
    for (const auto& [slot, port] : want) {
      Status e = SetSlot(s.name, slot, port, kFullWeight);
      if (!e.ok()) spdlog::warn("msg=\"ingress slot\" service={} slot={} error=\"{}\"", s.name,
                                slot, e.message());
    }
    for (const auto& [slot, _] : have) {
      if (want.count(slot)) continue;
      std::lock_guard<std::mutex> l(ingress_mu_);
      if (!haproxy_) break;
      Status e = haproxy_->Park(s.name, slot);
      if (!e.ok()) spdlog::warn("msg=\"ingress park\" service={} slot={} error=\"{}\"", s.name,
                                slot, e.message());
      slots_[s.name].erase(slot);
    }
  }
}

void DeployController::SyncLoop() {
  while (true) {
    {
      std::unique_lock<std::mutex> l(sync_mu_);
      if (sync_cv_.wait_for(l, kSyncEvery, [this] { return sync_stop_; })) return;
    }
    SyncIngress();
  }
}

}  // namespace steward::server
