// The deploy controller's bookkeeping (deploy_controller.h): starting deploys and rollbacks,
// their records and events, releases and the live releases' env overrides. The work of one
// deploy is in deploy_run.cc, the ingress in deploy_ingress.cc.
#include "server/deploy_controller.h"

#include <algorithm>

#include <spdlog/spdlog.h>

#include "base/json.h"
#include "config/deploy_parser.h"
#include "config/stack_json.h"
#include "ingress/haproxy.h"
#include "promql/parser.h"
#include "server/daemon.h"
#include "server/deploy_internal.h"

namespace steward::server {
namespace {

int64_t NowMs() { return ToUnixMillis(RealClock::Get()->WallNow()); }

std::string DocKey(const std::string& service) { return "releases." + service; }

// The env overrides of `version` in a releases document ({} when it has none).
nlohmann::json OverridesOf(const nlohmann::json& doc, int64_t version) {
  auto all = doc.find("overrides");
  if (all == doc.end() || !all->is_object()) return nlohmann::json::object();
  auto o = all->find(std::to_string(version));
  if (o == all->end() || !o->is_object()) return nlohmann::json::object();
  auto env = o->find("env");
  return env != o->end() && env->is_object() ? *env : nlohmann::json::object();
}


}  // namespace

nlohmann::json DeployJson(const state::DeployRecord& d, bool with_events) {
  nlohmann::json j = {{"id", d.id},
                      {"service", d.service},
                      {"release", d.release},
                      {"from_release", d.from_release},
                      {"strategy", d.strategy},
                      {"trigger", d.trigger},
                      {"run_id", d.run_id},
                      {"commit", d.commit},
                      {"commit_time_ms", d.commit_time_ms},
                      {"status", d.status},
                      {"started_at", JsonTimeOrNull(d.started_at_ms)},
                      {"finished_at", JsonTimeOrNull(d.finished_at_ms)},
                      {"error", d.error}};
  if (with_events) {
    nlohmann::json events = nlohmann::json::parse(d.events_json, nullptr, false);
    if (!events.is_array()) events = nlohmann::json::array();
    for (auto& e : events)
      if (e.is_object()) e["at"] = JsonTimeOrNull(e.value("at_ms", int64_t{0}));
    j["events"] = std::move(events);
  }
  return j;
}

DeployController::DeployController(Daemon* daemon) : daemon_(daemon) {}

DeployController::~DeployController() { Stop(false); }

Status DeployController::Start() {
  state::StateStore* store = daemon_->store();
  ASSIGN_OR_RETURN(auto deploys, store->ListDeploys("", 0, 0));
  for (auto d : deploys) {
    if (d.status != "running") continue;
    d.status = "interrupted";
    d.finished_at_ms = NowMs();
    d.error = "the daemon stopped during the deploy; the release that was live keeps serving";
    RETURN_IF_ERROR(store->UpdateDeploy(d));
    auto rel = store->GetRelease(d.service, d.release);
    if (rel.ok() && rel->status == "pending") {
      rel->status = "failed";
      RETURN_IF_ERROR(store->UpdateRelease(*rel));
    }
    spdlog::warn("msg=\"deploy interrupted by a daemon restart\" deploy={} service={}", d.id,
                 d.service);
  }
  sync_thread_ = std::thread([this] { SyncLoop(); });
  return Status::OK();
}

void DeployController::Stop(bool stop_ingress) {
  std::vector<std::thread> threads;
  {
    std::lock_guard<std::mutex> l(mu_);
    stopping_ = true;
    for (auto& [_, a] : active_) a->Signal(Active::kStop);
    threads.swap(threads_);
  }
  for (auto& t : threads)
    if (t.joinable()) t.join();
  {
    std::lock_guard<std::mutex> l(sync_mu_);
    sync_stop_ = true;
  }
  sync_cv_.notify_all();
  if (sync_thread_.joinable()) sync_thread_.join();
  std::lock_guard<std::mutex> l(ingress_mu_);
  if (haproxy_ && stop_ingress) {
    Status st = haproxy_->Stop();
    if (!st.ok()) spdlog::warn("msg=\"stop the ingress\" error=\"{}\"", st.message());
  }
  haproxy_.reset();
}

bool DeployController::Busy(const std::string& service) const {
  std::lock_guard<std::mutex> l(mu_);
  return active_.count(service) > 0 || frozen_.count(service) > 0;
}

StatusOr<nlohmann::json> DeployController::ReleasesDoc(const std::string& service) {
  ASSIGN_OR_RETURN(auto text, daemon_->store()->GetDocument(DocKey(service)));
  nlohmann::json doc = text ? nlohmann::json::parse(*text, nullptr, false) : nlohmann::json();
  if (!doc.is_object()) doc = nlohmann::json::object();
  if (!doc.contains("live") || !doc["live"].is_number_integer()) doc["live"] = 0;
  if (!doc.contains("overrides") || !doc["overrides"].is_object())
    doc["overrides"] = nlohmann::json::object();
  return doc;
}

Status DeployController::PutReleasesDoc(const std::string& service, const nlohmann::json& doc) {
  return daemon_->store()->PutDocument(DocKey(service), JsonText(doc));
}

void DeployController::OverlayReleases(config::Stack* stack) {
  for (auto& s : stack->services) {
    auto doc = ReleasesDoc(s.name);
    if (!doc.ok()) continue;
    int64_t live = (*doc)["live"].get<int64_t>();
    if (live == 0) continue;
    nlohmann::json env = OverridesOf(*doc, live);
    for (const auto& [k, v] : env.items())
      if (v.is_string()) s.env[k] = v.get<std::string>();
  }
}

void DeployController::AddEvent(Active* a, const std::string& text) {
  spdlog::info("msg=\"deploy\" deploy={} service={} event=\"{}\"", a->rec.id, a->rec.service,
               text);
  {
    std::lock_guard<std::mutex> l(a->mu);
    nlohmann::json events = nlohmann::json::parse(a->rec.events_json, nullptr, false);
    if (!events.is_array()) events = nlohmann::json::array();
    events.push_back({{"at_ms", NowMs()}, {"text", text}});
    a->rec.events_json = JsonText(events);
  }
  Status st = SaveRecord(a);
  if (!st.ok()) spdlog::warn("msg=\"record deploy\" error=\"{}\"", st.message());
}

Status DeployController::SaveRecord(Active* a) {
  state::DeployRecord copy;
  {
    std::lock_guard<std::mutex> l(a->mu);
    copy = a->rec;
  }
  return daemon_->store()->UpdateDeploy(copy);
}

void DeployController::Finish(Active* a) {
  std::lock_guard<std::mutex> l(mu_);
  auto it = active_.find(a->rec.service);
  if (it == active_.end() || it->second.get() != a) return;
  if (a->rec.status == "frozen") {
    frozen_.insert(a->rec.service);
    frozen_deploys_[a->rec.service] = it->second;
  }
  active_.erase(it);
}

StatusOr<state::DeployRecord> DeployController::Deploy(const DeployAsk& ask) {
  config::DeployStrategy strategy{};
  if (!ask.strategy.empty() && !config::internal::DeployStrategyFromName(ask.strategy, &strategy))
    return InvalidArgument("strategy '" + ask.strategy +
                           "' is not one of rolling, blue-green, canary");
  state::StateStore* store = daemon_->store();
  std::lock_guard<std::mutex> apply(daemon_->apply_mu_);  // no apply is halfway through it
  std::lock_guard<std::mutex> l(mu_);
  if (stopping_) return Unavailable("the daemon is stopping");
  if (auto it = active_.find(ask.service); it != active_.end())
    return FailedPrecondition("deploy #" + std::to_string(it->second->rec.id) + " of " +
                              ask.service + " is running; wait for it, or stop it with `steward "
                              "rollback " + ask.service + "`");
  if (auto it = frozen_deploys_.find(ask.service); it != frozen_deploys_.end())
    return FailedPrecondition("deploy #" + std::to_string(it->second->rec.id) + " of " +
                              ask.service + " is frozen halfway; finish with `steward rollback " +
                              ask.service + "` before deploying again");
  ASSIGN_OR_RETURN(auto records, store->ListServices());
  auto rec = std::find_if(records.begin(), records.end(),
                          [&](const state::ServiceRecord& r) { return r.name == ask.service; });
  if (rec == records.end())
    return NotFound("service '" + ask.service + "' is not in the applied stack; `steward apply` "
                    "it first");
  ASSIGN_OR_RETURN(config::Service stable, config::ServiceFromJson(nlohmann::json::parse(
                                               rec->spec_json, nullptr, false)));
  if (ask.strategy.empty()) strategy = stable.deploy.strategy;
  if (strategy == config::DeployStrategy::kCanary && !stable.ingress.enabled)
    return InvalidArgument("service '" + ask.service + "' has no ingress: a canary needs one to "
                           "split traffic (add ingress: {port: N}) — or use --strategy rolling");
  // A check that cannot parse would fail every analysis: refuse the deploy up front instead.
  RETURN_IF_ERROR(CheckAnalysisQueries(stable));
  if (stable.replicas < 1)
    return FailedPrecondition("service '" + ask.service + "' runs 0 replicas; scale it first");
  for (const auto& [k, _] : ask.env)
    if (k.empty() || k.find('=') != std::string::npos)
      return InvalidArgument("env name '" + k + "' is not valid");

  ASSIGN_OR_RETURN(nlohmann::json doc, ReleasesDoc(ask.service));
  int64_t live = doc["live"].get<int64_t>();
  // The stack's spec: what is recorded, less the live release's overrides.
  config::Service release = stable;
  nlohmann::json old = OverridesOf(doc, live);
  for (const auto& [k, _] : old.items()) release.env.erase(k);
  for (const auto& [k, v] : ask.env) release.env[k] = v;

  state::ReleaseRecord r;
  r.service = ask.service;
  r.label = ask.version;
  r.commit = ask.commit;
  r.commit_time_ms = ask.commit_time_ms;
  r.created_at_ms = NowMs();
  r.status = "pending";
  r.spec_json = JsonText(config::ServiceToJson(release));
  ASSIGN_OR_RETURN(r.version, store->CreateRelease(r));
  if (r.label.empty()) r.label = "r" + std::to_string(r.version);
  release.env["STEWARD_RELEASE"] = r.label;
  r.spec_json = JsonText(config::ServiceToJson(release));
  RETURN_IF_ERROR(store->UpdateRelease(r));
  nlohmann::json env = nlohmann::json::object();
  for (const auto& [k, v] : ask.env) env[k] = v;
  env["STEWARD_RELEASE"] = r.label;
  doc["overrides"][std::to_string(r.version)] = {{"label", r.label}, {"env", env}};
  RETURN_IF_ERROR(PutReleasesDoc(ask.service, doc));

  auto a = std::make_shared<Active>();
  a->rec.service = ask.service;
  a->rec.release = r.version;
  a->rec.from_release = live;
  a->rec.strategy = config::internal::DeployStrategyName(strategy);
  a->rec.trigger = ask.trigger.empty() ? "api" : ask.trigger;
  a->rec.run_id = ask.run_id;
  a->rec.commit = ask.commit;
  a->rec.commit_time_ms = ask.commit_time_ms;
  a->rec.started_at_ms = NowMs();
  a->rec.status = "running";
  ASSIGN_OR_RETURN(a->rec.id, store->CreateDeploy(a->rec));
  a->label = r.label;
  a->strategy = strategy;
  a->stable = stable;
  a->stable_gen = rec->generation;
  a->release = release;
  active_[ask.service] = a;
  threads_.emplace_back([this, a] { RunDeploy(a.get()); });
  return a->rec;
}

StatusOr<state::DeployRecord> DeployController::Rollback(const std::string& service, int64_t to,
                                                         bool freeze, bool* started) {
  *started = false;
  state::StateStore* store = daemon_->store();
  std::shared_ptr<Active> running;
  {
    std::lock_guard<std::mutex> l(mu_);
    if (auto it = active_.find(service); it != active_.end()) running = it->second;
  }
  if (running) {
    running->Signal(freeze ? Active::kFreeze : Active::kAbort);
    // The deploy thread acts at its next wait (within a second); answer with where it stands.
    MonoTime give_up = RealClock::Get()->Now() + Duration(freeze ? 5000 : 0);
    while (RealClock::Get()->Now() < give_up) {
      {
        std::lock_guard<std::mutex> l(running->mu);
        if (running->rec.status != "running") break;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    std::lock_guard<std::mutex> l(running->mu);
    return running->rec;
  }
  if (freeze) return FailedPrecondition("no deploy of " + service + " is running to freeze");

  std::lock_guard<std::mutex> apply(daemon_->apply_mu_);
  std::lock_guard<std::mutex> l(mu_);
  if (stopping_) return Unavailable("the daemon is stopping");
  ASSIGN_OR_RETURN(auto records, store->ListServices());
  auto rec = std::find_if(records.begin(), records.end(),
                          [&](const state::ServiceRecord& r) { return r.name == service; });
  if (rec == records.end()) return NotFound("service '" + service + "' is not in the state");
  ASSIGN_OR_RETURN(config::Service stable, config::ServiceFromJson(nlohmann::json::parse(
                                               rec->spec_json, nullptr, false)));
  ASSIGN_OR_RETURN(nlohmann::json doc, ReleasesDoc(service));
  int64_t live = doc["live"].get<int64_t>();

  auto a = std::make_shared<Active>();
  a->rec.service = service;
  a->rec.strategy = "rollback";
  a->rec.trigger = "rollback";
  a->rec.started_at_ms = NowMs();
  a->stable = stable;
  a->stable_gen = rec->generation;
  a->is_rollback = true;
  if (auto it = frozen_deploys_.find(service); it != frozen_deploys_.end()) {
    // A frozen deploy: back to what is recorded (the release live before it).
    a->unfreeze = it->second;
    a->rec.release = it->second->rec.from_release;
    a->rec.from_release = it->second->rec.release;
    a->label = "the recorded release";
  } else {
    if (live == 0)
      return FailedPrecondition("service '" + service + "' has no live release to roll back "
                                "from; `steward deploy " + service + "` makes releases");
    ASSIGN_OR_RETURN(auto releases, store->ListReleases(service, 0));
    int64_t target = to;
    if (target == 0) {
      for (const auto& r : releases)
        if (r.version < live && r.status == "superseded") {
          target = r.version;
          break;
        }
      if (target == 0)
        return FailedPrecondition("service '" + service + "' has no earlier release to go back "
                                  "to (see `steward releases " + service + "`)");
    }
    if (target == live)
      return FailedPrecondition("release " + std::to_string(target) + " of " + service +
                                " is already live");
    auto found = std::find_if(releases.begin(), releases.end(),
                              [&](const state::ReleaseRecord& r) { return r.version == target; });
    if (found == releases.end())
      return NotFound("release " + std::to_string(target) + " of " + service +
                      " is not kept (see `steward releases " + service + "`)");
    ASSIGN_OR_RETURN(a->release, config::ServiceFromJson(
                                     nlohmann::json::parse(found->spec_json, nullptr, false)));
    // Scale is not part of a release: keep the replicas the service runs with now.
    a->release.replicas = stable.replicas;
    a->rec.release = target;
    a->rec.from_release = live;
    a->label = found->label;
  }
  ASSIGN_OR_RETURN(a->rec.id, store->CreateDeploy(a->rec));
  active_[service] = a;
  frozen_.erase(service);
  frozen_deploys_.erase(service);
  threads_.emplace_back([this, a] { RunDeploy(a.get()); });
  *started = true;
  return a->rec;
}

StatusOr<state::DeployRecord> DeployController::Get(int64_t id) {
  {
    std::lock_guard<std::mutex> l(mu_);
    for (const auto& [_, a] : active_) {
      std::lock_guard<std::mutex> al(a->mu);
      if (a->rec.id == id) return a->rec;
    }
  }
  ASSIGN_OR_RETURN(auto all, daemon_->store()->ListDeploys("", 0, 0));
  for (auto& d : all)
    if (d.id == id) return d;
  return NotFound("no deploy #" + std::to_string(id));
}

StatusOr<std::vector<state::DeployRecord>> DeployController::List(const std::string& service,
                                                                  int limit) {
  return daemon_->store()->ListDeploys(service, 0, limit);
}

StatusOr<nlohmann::json> DeployController::Releases(const std::string& service) {
  ASSIGN_OR_RETURN(auto releases, daemon_->store()->ListReleases(service, 0));
  ASSIGN_OR_RETURN(nlohmann::json doc, ReleasesDoc(service));
  int64_t live = doc["live"].get<int64_t>();
  nlohmann::json list = nlohmann::json::array();
  for (const auto& r : releases)
    list.push_back({{"version", r.version},
                    {"label", r.label},
                    {"status", r.status},
                    {"commit", r.commit},
                    {"created_at", JsonTimeOrNull(r.created_at_ms)},
                    {"live", r.version == live}});
  return nlohmann::json{{"service", service}, {"live", live}, {"releases", list}};
}

Status CheckAnalysisQueries(const config::Service& service) {
  for (const auto& check : service.deploy.analysis.checks) {
    std::string q = check.query;
    for (const char* var : {"$canary_instances", "$service", "$release"})
      for (size_t at = q.find(var); at != std::string::npos; at = q.find(var))
        q.replace(at, std::string(var).size(), "x");
    if (auto e = promql::ParseExpr(q); !e.ok())
      return InvalidArgument(check.location.ToString() + ": analysis check '" + check.name +
                             "' of service '" + service.name + "' is not valid PromQL: " +
                             e.status().message());
  }
  return Status::OK();
}

}  // namespace steward::server
