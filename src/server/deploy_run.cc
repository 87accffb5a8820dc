// One deploy's work (deploy_controller.h): start the release's replicas as the next generation,
// move traffic by the strategy, analyse, then promote or roll back — and record the outcome.
#include <algorithm>
#include <cmath>
#include <set>

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include "apply/executor.h"
#include "base/json.h"
#include "config/stack_json.h"
#include "plan/plan.h"
#include "promql/engine.h"
#include "promql/parser.h"
#include "server/daemon.h"
#include "server/deploy_internal.h"
#include "server/monitoring.h"
#include "server/remediation.h"
#include "tsdb/tsdb.h"

namespace steward::server {
namespace {

int64_t NowMs() { return ToUnixMillis(RealClock::Get()->WallNow()); }

// Ends a deploy early: why, and how the record ends.
struct Halt {
  std::string status;  // "failed", "rolled-back", "frozen", "interrupted"
  std::string error;
};

}  // namespace

class DeployController::Run {
 public:
  Run(DeployController* c, Active* a)
      : c_(c),
        a_(a),
        d_(c->daemon_),
        rt_(c->daemon_->runtime_.get()),
        store_(c->daemon_->store()),
        svc_(a->rec.service),
        replicas_(std::max(1, a->stable.replicas)),
        new_gen_(a->stable_gen + 1) {}

  void Go() {
    ingress_ = a_->stable.ingress.enabled && c_->IngressUp();
    for (const auto& r : rt_->Snapshot())
      if (r.key.service == svc_ && r.key.generation == a_->stable_gen) old_[r.key.slot] = r.port;
    std::optional<Halt> stop;
    if (a_->unfreeze) {
      stop = Unfreeze();
    } else if (a_->is_rollback) {
      c_->AddEvent(a_, fmt::format("rollback to release {} ({}): starting {} replica(s)",
                                   a_->rec.release, a_->label, replicas_));
      stop = Switch(/*verify=*/false);
    } else {
      c_->AddEvent(a_, fmt::format("release {} ({}), {} replica(s), {}{}", a_->rec.release,
                                   a_->label, replicas_, a_->rec.strategy,
                                   ingress_ ? " through the ingress" : ""));
      switch (a_->strategy) {
        case config::DeployStrategy::kRolling: stop = Rolling(); break;
        case config::DeployStrategy::kBlueGreen: stop = Switch(/*verify=*/true); break;
        case config::DeployStrategy::kCanary: stop = Canary(); break;
      }
    }
    End(stop);
  }

 private:
  // --- replicas -------------------------------------------------------------------------
  Status StartNew(int slot) {
    int port = plan::ReplicaPort(a_->release, slot, new_gen_);
    if (port == 0) {
      ASSIGN_OR_RETURN(port, apply::PickFreePort());
    }
    RETURN_IF_ERROR(rt_->StartReplica(a_->release, slot, new_gen_, port));
    new_[slot] = port;
    return Status::OK();
  }
  Status WaitNew(int slot) {
    return rt_->WaitReady({svc_, slot, new_gen_},
                          Duration(60000) + a_->release.health.start_period);
  }
  void StopReplica(int slot, int64_t gen) {
    Status st = rt_->StopReplica({svc_, slot, gen});
    if (!st.ok()) spdlog::warn("msg=\"deploy: stop replica\" error=\"{}\"", st.message());
    store_->DeleteReplica(svc_, slot, gen).IgnoreError();
  }
  int OldSlot(int slot) const { return IngressSlot(replicas_, a_->stable_gen, slot); }
  int NewSlot(int slot) const { return IngressSlot(replicas_, new_gen_, slot); }

  // Starts every replica of the release, then waits for each; an error names the first that
  // did not get ready.
  Status StartAll() {
    for (int i = 0; i < replicas_; ++i) RETURN_IF_ERROR(StartNew(i));
    for (int i = 0; i < replicas_; ++i) {
      RETURN_IF_ERROR(WaitNew(i).Annotate(fmt::format("replica {} of release {}", i,
                                                      a_->rec.release)));
      c_->AddEvent(a_, fmt::format("replica {} of release {} ready on port {}", i,
                                   a_->rec.release, new_[i]));
    }
    // The new replicas become scrape targets now, not at the next reconcile tick (up to
    // reconcile_interval away): a PromQL check over a short window in the first analysis
    // would otherwise find no samples of $canary_instances and pass as "no data".
    d_->UpdateMonitoring();
    return Status::OK();
  }

  // --- traffic --------------------------------------------------------------------------
  // percent of the requests to the new release, the rest to the old.
  void Weights(int percent) {
    if (!ingress_) return;
    for (const auto& [slot, port] : new_)
      Check(c_->SetSlot(svc_, NewSlot(slot), port,
                        SplitWeight(percent, static_cast<int>(new_.size()))));
    for (const auto& [slot, port] : old_)
      Check(c_->SetSlot(svc_, OldSlot(slot), port,
                        SplitWeight(100 - percent, static_cast<int>(old_.size()))));
  }
  void Check(const Status& st) {
    if (!st.ok()) spdlog::warn("msg=\"deploy: ingress\" service={} error=\"{}\"", svc_,
                               st.message());
  }
  // Takes the old release out of the ingress (open requests finish) and stops it.
  void RetireOld() {
    for (const auto& [slot, _] : old_) {
      if (ingress_) Check(c_->DrainSlot(svc_, OldSlot(slot)));
      StopReplica(slot, a_->stable_gen);
    }
    old_.clear();
  }
  // Takes the new release out and stops it; the old keeps (or gets back) all the traffic.
  void RetireNew() {
    if (ingress_) {
      for (const auto& [slot, _] : new_) Check(c_->SetSlotWeight(svc_, NewSlot(slot), 0));
      for (const auto& [slot, port] : old_)
        Check(c_->SetSlot(svc_, OldSlot(slot), port,
                          SplitWeight(100, static_cast<int>(old_.size()))));
    }
    for (const auto& [slot, _] : new_) {
      if (ingress_) Check(c_->DrainSlot(svc_, NewSlot(slot)));
      StopReplica(slot, new_gen_);
    }
    new_.clear();
  }

  // --- analysis -------------------------------------------------------------------------
  // One analysis of the new release; the reason it failed, or "" when it passed. `note` gets
  // what was measured.
  std::string Analyse(bool traffic, std::string* note) {
    for (const auto& r : rt_->Snapshot()) {
      if (r.key.service != svc_ || r.key.generation != new_gen_) continue;
      if (!r.ready || r.state == "crash-loop")
        return fmt::format("replica {} of release {} is {}{}", r.key.slot, a_->rec.release,
                           r.state, r.last_reason.empty() ? "" : " (" + r.last_reason + ")");
    }
    const config::DeployAnalysis& an = a_->release.deploy.analysis;
    if (traffic && ingress_) {
      auto counters = c_->SlotCounters(svc_);
      if (counters.ok()) {
        int64_t total = 0, errors = 0;
        for (const auto& [slot, _] : new_) {
          auto it = counters->find(NewSlot(slot));
          if (it == counters->end()) continue;
          total += it->second.first;
          errors += it->second.second;
        }
        int64_t dt = total - last_total_, de = errors - last_errors_;
        if (last_total_ >= 0 && dt >= kMinRequests) {
          double rate = static_cast<double>(de) / static_cast<double>(dt);
          *note = fmt::format("error rate {:.3f} ({} of {} requests)", rate, de, dt);
          last_total_ = total;
          last_errors_ = errors;
          if (an.max_error_rate >= 0 && rate > an.max_error_rate)
            return fmt::format("{} above max_error_rate {}", *note, an.max_error_rate);
        } else if (last_total_ < 0) {
          last_total_ = total;
          last_errors_ = errors;
          *note = "error rate: first sample";
        } else {
          *note = fmt::format("{} request(s) since the last analysis: health only", dt);
        }
      }
    }
    for (const auto& check : an.checks) {
      std::string why = RunCheck(check, note);
      if (!why.empty()) return why;
    }
    return "";
  }

  std::string RunCheck(const config::AnalysisCheck& check, std::string* note) {
    Monitoring* mon = d_->monitoring();
    if (!mon) return "";  // monitoring is off: health and the ingress decide
    std::string instances;
    for (const auto& [_, port] : new_)
      instances += (instances.empty() ? "" : "|") + fmt::format("127.0.0.1:{}", port);
    std::string q = check.query;
    auto sub = [&q](const std::string& from, const std::string& to) {
      for (size_t at = q.find(from); at != std::string::npos; at = q.find(from, at + to.size()))
        q.replace(at, from.size(), to);
    };
    sub("$canary_instances", instances);
    sub("$service", svc_);
    sub("$release", a_->label);
    auto expr = promql::ParseExpr(q);
    if (!expr.ok()) return "check '" + check.name + "': " + expr.status().message();
    promql::QueryLimits limits;
    limits.max_samples = d_->options().query_max_samples;
    limits.deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
    auto querier = mon->db()->NewQuerier();
    auto v = promql::Engine().Instant(querier.get(), **expr, NowMs(), limits, nullptr);
    if (!v.ok()) return "check '" + check.name + "': " + v.status().message();
    std::optional<double> value;
    if (auto* s = std::get_if<promql::Scalar>(&*v)) value = s->v;
    if (auto* vec = std::get_if<promql::Vector>(&*v); vec && !vec->empty())
      value = (*vec)[0].v;
    if (!value || std::isnan(*value)) {
      *note += (note->empty() ? "" : ", ") + check.name + ": no data";
      return "";
    }
    *note += fmt::format("{}{}: {:g}", note->empty() ? "" : ", ", check.name, *value);
    if (check.has_max && *value > check.max)
      return fmt::format("check '{}' = {:g}, above max {:g}", check.name, *value, check.max);
    if (check.has_min && *value < check.min)
      return fmt::format("check '{}' = {:g}, below min {:g}", check.name, *value, check.min);
    return "";
  }

  // Analyses every interval for `hold`; a Stop when it failed failure_limit times or someone
  // asked to stop.
  std::optional<Halt> Hold(Duration hold, bool traffic, const std::string& stage) {
    const config::DeployAnalysis& an = a_->release.deploy.analysis;
    MonoTime end = RealClock::Get()->Now() + hold;
    Duration every = std::max(Duration(200), an.interval);
    while (true) {
      auto left = std::chrono::duration_cast<Duration>(end - RealClock::Get()->Now());
      if (left.count() <= 0) return std::nullopt;
      if (auto s = Interrupted(a_->WaitFor(std::min(every, left)))) return s;
      std::string note;
      std::string why = Analyse(traffic, &note);
      if (why.empty()) {
        c_->AddEvent(a_, stage + ": ok" + (note.empty() ? "" : " — " + note));
        continue;
      }
      ++failures_;
      c_->AddEvent(a_, fmt::format("{}: analysis failed ({} of {}): {}", stage, failures_,
                                   an.failure_limit, why));
      if (failures_ >= an.failure_limit) return Halt{"failed", stage + ": " + why};
    }
  }

  std::optional<Halt> Interrupted(Active::Request r) {
    switch (r) {
      case Active::kNone: return std::nullopt;
      case Active::kAbort: return Halt{"rolled-back", "rolled back on request"};
      case Active::kFreeze: return Halt{"frozen", ""};
      case Active::kStop: return Halt{"interrupted", "the daemon stopped during the deploy"};
    }
    return std::nullopt;
  }
  std::optional<Halt> Asked() { return Interrupted(a_->Pending()); }

  // --- strategies -----------------------------------------------------------------------
  std::optional<Halt> Canary() {
    if (Status st = StartAll(); !st.ok()) return Halt{"failed", st.message()};
    Weights(0);
    if (auto s = Asked()) return s;
    for (const auto& step : a_->release.deploy.steps) {
      Weights(step.weight);
      c_->AddEvent(a_, fmt::format("canary {}%: holding {}", step.weight,
                                   FormatDuration(step.pause)));
      if (auto s = Hold(step.pause, true, fmt::format("canary {}%", step.weight))) return s;
    }
    Weights(100);
    c_->AddEvent(a_, "canary promoted: all traffic to release " +
                         std::to_string(a_->rec.release));
    return std::nullopt;
  }

  // Blue-green (verify) and rollback (no verify): the new release fully up, then all traffic.
  std::optional<Halt> Switch(bool verify) {
    if (Status st = StartAll(); !st.ok()) return Halt{"failed", st.message()};
    Weights(0);
    if (auto s = Asked()) return s;
    if (verify) {
      c_->AddEvent(a_, "green is up: verifying for " + FormatDuration(a_->release.deploy.verify));
      if (auto s = Hold(a_->release.deploy.verify, false, "verify")) return s;
    }
    Weights(100);
    c_->AddEvent(a_, fmt::format("traffic switched to release {}", a_->rec.release));
    return std::nullopt;
  }

  std::optional<Halt> Rolling() {
    const config::DeployConfig& dc = a_->release.deploy;
    int batch = std::max(1, dc.max_surge + dc.max_unavailable);
    for (int first = 0; first < replicas_; first += batch) {
      int last = std::min(replicas_, first + batch);
      // max_unavailable old replicas may go before their replacements are up.
      for (int i = first; i < std::min(last, first + dc.max_unavailable); ++i) RetireOldSlot(i);
      Status st;
      for (int i = first; i < last && st.ok(); ++i) st = StartNew(i);
      for (int i = first; i < last && st.ok(); ++i) st = WaitNew(i);
      if (!st.ok()) return Halt{"failed", st.message()};
      for (int i = first; i < last; ++i) {
        if (ingress_) Check(c_->SetSlot(svc_, NewSlot(i), new_[i], 100));
        RetireOldSlot(i);
        c_->AddEvent(a_, fmt::format("replica {} replaced: release {} on port {}", i,
                                     a_->rec.release, new_[i]));
      }
      if (auto s = Asked()) return s;
    }
    return std::nullopt;
  }
  void RetireOldSlot(int slot) {
    auto it = old_.find(slot);
    if (it == old_.end()) return;
    if (ingress_) Check(c_->DrainSlot(svc_, OldSlot(slot)));
    StopReplica(slot, a_->stable_gen);
    retired_.insert(slot);
    old_.erase(it);
  }
  // A rolling deploy that stopped: old replicas come back where they were retired (ready and
  // in the ingress) before the new ones go.
  void RestoreOld() {
    for (int slot : retired_) {
      int port = plan::ReplicaPort(a_->stable, slot, a_->stable_gen);
      if (port == 0) {
        auto p = apply::PickFreePort();
        if (!p.ok()) continue;
        port = *p;
      }
      if (!rt_->StartReplica(a_->stable, slot, a_->stable_gen, port).ok()) continue;
      if (!rt_->WaitReady({svc_, slot, a_->stable_gen}, Duration(60000)).ok()) continue;
      old_[slot] = port;
    }
    retired_.clear();
  }

  // Rolls a frozen deploy back: the recorded release gets all the traffic, the rest goes.
  std::optional<Halt> Unfreeze() {
    c_->AddEvent(a_, fmt::format("rolling back frozen deploy #{}", a_->unfreeze->rec.id));
    for (const auto& r : rt_->Snapshot())
      if (r.key.service == svc_ && r.key.generation != a_->stable_gen)
        stray_.push_back({r.key.slot, r.key.generation});
    for (const auto& [slot, port] : old_)
      if (ingress_)
        Check(c_->SetSlot(svc_, OldSlot(slot), port,
                          SplitWeight(100, static_cast<int>(old_.size()))));
    for (const auto& [slot, gen] : stray_) {
      if (ingress_) {
        Check(c_->SetSlotWeight(svc_, IngressSlot(replicas_, gen, slot), 0));
        Check(c_->DrainSlot(svc_, IngressSlot(replicas_, gen, slot)));
      }
      StopReplica(slot, gen);
    }
    {
      std::lock_guard<std::mutex> l(a_->unfreeze->mu);
      a_->unfreeze->rec.status = "rolled-back";
      a_->unfreeze->rec.error = "rolled back by deploy #" + std::to_string(a_->rec.id);
    }
    c_->SaveRecord(a_->unfreeze.get()).IgnoreError();
    auto rel = store_->GetRelease(svc_, a_->unfreeze->rec.release);
    if (rel.ok()) {
      rel->status = "rolled-back";
      store_->UpdateRelease(*rel).IgnoreError();
    }
    c_->AddEvent(a_, "the recorded release serves alone again");
    return std::nullopt;
  }

  // --- outcome --------------------------------------------------------------------------
  void End(std::optional<Halt> stop) {
    if (stop && stop->status == "frozen") {
      c_->AddEvent(a_, "frozen where it was: the traffic split stays until `steward rollback " +
                           svc_ + "`");
      Close("frozen", "");
      return;
    }
    if (stop && stop->status == "interrupted") {
      Close("interrupted", stop->error);
      return;
    }
    if (stop) {
      c_->AddEvent(a_, "rolling back: " + stop->error);
      RestoreOld();
      RetireNew();
      if (!a_->is_rollback) SetRelease(a_->rec.release, "failed");
      c_->AddEvent(a_, fmt::format("rolled back; release {} keeps serving",
                                   a_->rec.from_release ? std::to_string(a_->rec.from_release)
                                                        : std::string("as recorded")));
      Close(stop->status, stop->error);
      return;
    }
    if (a_->unfreeze) {
      Close("succeeded", "");
      return;
    }
    Status st = Promote();
    if (!st.ok()) {
      c_->AddEvent(a_, "recording the release failed: " + st.message());
      Close("failed", st.message());
      return;
    }
    RetireOld();
    c_->AddEvent(a_, fmt::format("release {} ({}) is live", a_->rec.release, a_->label));
    Close("succeeded", "");
  }

  // Records the new release as what the service runs, as an apply would.
  Status Promote() {
    std::lock_guard<std::mutex> apply(d_->apply_mu_);
    ASSIGN_OR_RETURN(auto records, store_->ListServices());
    for (const auto& r : records)
      if (r.name == svc_)
        RETURN_IF_ERROR(store_->PutDocument(PreviousSpecKey(svc_), r.spec_json));
    state::ServiceRecord rec;
    rec.name = svc_;
    rec.spec_json = JsonText(config::ServiceToJson(a_->release));
    rec.spec_hash = config::ReplaceHash(a_->release);
    rec.generation = new_gen_;
    rec.updated_at_ms = NowMs();
    RETURN_IF_ERROR(store_->PutService(rec));
    if (a_->rec.from_release) SetRelease(a_->rec.from_release, "superseded");
    SetRelease(a_->rec.release, "live");
    ASSIGN_OR_RETURN(nlohmann::json doc, c_->ReleasesDoc(svc_));
    doc["live"] = a_->rec.release;
    RETURN_IF_ERROR(store_->PruneReleases(svc_, std::max(1, a_->release.deploy.keep_releases)));
    ASSIGN_OR_RETURN(auto kept, store_->ListReleases(svc_, 0));
    nlohmann::json overrides = nlohmann::json::object();
    for (const auto& r : kept) {
      std::string k = std::to_string(r.version);
      if (doc["overrides"].contains(k)) overrides[k] = doc["overrides"][k];
    }
    doc["overrides"] = overrides;
    return c_->PutReleasesDoc(svc_, doc);
  }

  void SetRelease(int64_t version, const std::string& status) {
    auto rel = store_->GetRelease(svc_, version);
    if (!rel.ok()) return;
    rel->status = status;
    Status st = store_->UpdateRelease(*rel);
    if (!st.ok()) spdlog::warn("msg=\"record release\" error=\"{}\"", st.message());
  }

  void Close(const std::string& status, const std::string& error) {
    {
      std::lock_guard<std::mutex> l(a_->mu);
      a_->rec.status = status;
      a_->rec.error = error;
      a_->rec.finished_at_ms = NowMs();
    }
    Status st = c_->SaveRecord(a_);
    if (!st.ok()) spdlog::warn("msg=\"record deploy\" error=\"{}\"", st.message());
    spdlog::info("msg=\"deploy finished\" deploy={} service={} status={} error=\"{}\"",
                 a_->rec.id, svc_, status, error);
  }

  static constexpr int64_t kMinRequests = 5;

  DeployController* c_;
  Active* a_;
  Daemon* d_;
  runtime::Runtime* rt_;
  state::StateStore* store_;
  const std::string svc_;
  const int replicas_;
  const int64_t new_gen_;
  bool ingress_ = false;
  std::map<int, int> old_;  // replica slot -> port, of the old release still running
  std::map<int, int> new_;  // replica slot -> port, of the new release
  std::set<int> retired_;   // rolling: slots whose old replica was stopped
  std::vector<std::pair<int, int64_t>> stray_;
  int failures_ = 0;
  int64_t last_total_ = -1, last_errors_ = 0;
};

void DeployController::RunDeploy(Active* a) {
  Run(this, a).Go();
  Finish(a);
  daemon_->UpdateMonitoring();
  SyncIngress();
}

}  // namespace steward::server
