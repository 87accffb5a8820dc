#include "apply/executor.h"

#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <condition_variable>
#include <map>
#include <mutex>
#include <set>
#include <sstream>
#include <thread>

#include "config/stack_json.h"

namespace steward::apply {
namespace {

int64_t NowMs(Clock* clock) { return ToUnixMillis(clock->WallNow()); }

const char* OutcomeName(Outcome o) {
  switch (o) {
    case Outcome::kDone: return "done";
    case Outcome::kFailed: return "failed";
    case Outcome::kSkipped: return "skipped";
  }
  return "?";
}

}  // namespace

StatusOr<int> PickFreePort() {
  int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return ErrnoError("socket", errno);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = 0;
  socklen_t len = sizeof addr;
  if (bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0 ||
      getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) != 0) {
    int e = errno;
    close(fd);
    return ErrnoError("pick a free port", e);
  }
  close(fd);
  return static_cast<int>(ntohs(addr.sin_port));
}

bool ApplyReport::ok() const {
  for (const auto& r : results)
    if (r.outcome != Outcome::kDone) return false;
  return true;
}

nlohmann::json ApplyReport::ToJson() const {
  nlohmann::json rs = nlohmann::json::array();
  for (const auto& r : results)
    rs.push_back({{"resource", r.resource},
                  {"action", plan::ActionName(r.action)},
                  {"outcome", OutcomeName(r.outcome)},
                  {"done", r.done},
                  {"error", r.error},
                  {"took_ms", r.took.count()}});
  return {{"ok", ok()}, {"took_ms", took.count()}, {"results", rs}};
}

ApplyReport ApplyReport::FromJson(const nlohmann::json& j) {
  ApplyReport rep;
  rep.took = Duration(j.value("took_ms", int64_t{0}));
  for (const auto& r : j.value("results", nlohmann::json::array())) {
    ResourceResult rr;
    rr.resource = r.value("resource", "");
    rr.action = plan::ActionFromName(r.value("action", "")).value_or(plan::Action::kUpdate);
    std::string outcome = r.value("outcome", "failed");
    rr.outcome = outcome == "done"      ? Outcome::kDone
                 : outcome == "skipped" ? Outcome::kSkipped
                                        : Outcome::kFailed;
    rr.done = r.value("done", std::vector<std::string>{});
    rr.error = r.value("error", "");
    rr.took = Duration(r.value("took_ms", int64_t{0}));
    rep.results.push_back(std::move(rr));
  }
  return rep;
}

std::string ApplyReport::ToText() const {
  std::ostringstream out;
  int done = 0, failed = 0, skipped = 0;
  for (const auto& r : results) {
    out << "  " << plan::ActionSymbol(r.action) << " " << r.resource << ": " << OutcomeName(r.outcome)
        << " in " << FormatDuration(r.took) << "\n";
    for (const auto& d : r.done) out << "      " << d << "\n";
    if (!r.error.empty()) out << "      error: " << r.error << "\n";
    (r.outcome == Outcome::kDone ? done : r.outcome == Outcome::kFailed ? failed : skipped)++;
  }
  out << "Apply " << (ok() ? "complete" : "FAILED") << ": " << done << " done, " << failed
      << " failed, " << skipped << " skipped, in " << FormatDuration(took) << ".\n";
  return out.str();
}

Executor::Executor(state::StateStore* store, runtime::Runtime* runtime, Clock* clock,
                   ExecutorOptions options)
    : store_(store), runtime_(runtime), clock_(clock), opt_(options) {}

ApplyReport Executor::Execute(const plan::Plan& plan, const ProgressFn& progress) {
  MonoTime start = clock_->Now();
  std::mutex mu;
  std::condition_variable cv;
  std::map<std::string, Outcome> finished;  // by service
  std::set<size_t> launched;
  std::vector<ResourceResult> results(plan.changes.size());
  int running = 0;
  std::vector<std::thread> threads;

  std::set<std::string> in_plan;
  for (const auto& c : plan.changes) in_plan.insert(c.service);
  std::unique_lock<std::mutex> l(mu);
  while (finished.size() < plan.changes.size()) {
    bool progressed = false;
    for (size_t i = 0; i < plan.changes.size(); ++i) {
      if (launched.count(i) || running >= std::max(1, opt_.parallelism)) continue;
      const plan::Change& c = plan.changes[i];
      std::string blocker;
      bool waiting = false;
      for (const auto& dep : c.depends_on) {
        if (!in_plan.count(dep)) continue;  // nothing to wait for: it has no change
        auto it = finished.find(dep);
        if (it == finished.end()) waiting = true;
        else if (it->second != Outcome::kDone) blocker = dep;
      }
      if (!blocker.empty()) {
        launched.insert(i);
        results[i] = {c.Resource(), c.action, Outcome::kSkipped, {},
                      "not attempted: dependency 'service." + blocker + "' did not complete", {}};
        progress(c.Resource(), "skipped: dependency 'service." + blocker + "' did not complete");
        finished[c.service] = Outcome::kSkipped;
        progressed = true;
        continue;
      }
      if (waiting) continue;
      launched.insert(i);
      ++running;
      progressed = true;
      threads.emplace_back([&, i] {
        ResourceResult r = Run(plan.changes[i], progress);
        std::lock_guard<std::mutex> g(mu);
        finished[plan.changes[i].service] = r.outcome;
        results[i] = std::move(r);
        --running;
        cv.notify_all();
      });
    }
    if (!progressed && finished.size() < plan.changes.size()) cv.wait(l);
  }
  l.unlock();
  for (auto& t : threads) t.join();
  ApplyReport report;
  report.results = std::move(results);
  report.took = std::chrono::duration_cast<Duration>(clock_->Now() - start);
  return report;
}

ResourceResult Executor::Run(const plan::Change& c, const ProgressFn& progress) {
  MonoTime start = clock_->Now();
  ResourceResult r;
  r.resource = c.Resource();
  r.action = c.action;
  progress(r.resource, std::string(plan::ActionName(c.action)) + " started");
  Status st;
  switch (c.action) {
    case plan::Action::kCreate:
    case plan::Action::kUpdate: st = CreateOrUpdate(c, r, progress); break;
    case plan::Action::kReplace: st = Replace(c, r, progress); break;
    case plan::Action::kDestroy: st = Destroy(c, r, progress); break;
  }
  r.took = std::chrono::duration_cast<Duration>(clock_->Now() - start);
  if (st.ok()) {
    r.outcome = Outcome::kDone;
    progress(r.resource, std::string(plan::ActionName(c.action)) + " complete in " +
                             FormatDuration(r.took));
  } else {
    r.outcome = Outcome::kFailed;
    r.error = st.message();
    progress(r.resource, "FAILED: " + r.error);
  }
  return r;
}

Status Executor::RecordService(const config::Service& s, int64_t generation) {
  state::ServiceRecord rec;
  rec.name = s.name;
  rec.spec_json = config::ServiceToJson(s).dump();
  rec.spec_hash = config::ReplaceHash(s);
  rec.generation = generation;
  rec.updated_at_ms = NowMs(clock_);
  return store_->PutService(rec).Annotate("record service '" + s.name + "'");
}

Status Executor::StartAndRecord(const config::Service& s, const plan::ReplicaStart& st,
                                ResourceResult& r, const ProgressFn& progress) {
  int port = plan::ReplicaPort(s, st.slot, st.generation);
  if (port == 0) {
    ASSIGN_OR_RETURN(port, PickFreePort());
  }
  RETURN_IF_ERROR(runtime_->StartReplica(s, st.slot, st.generation, port));
  r.done.push_back("started replica " + std::to_string(st.slot) + " on port " +
                   std::to_string(port) + " (" + st.reason + ")");
  progress(r.resource, "replica " + std::to_string(st.slot) + " started on port " +
                           std::to_string(port));
  return Status::OK();
}

// Starts every replica first, then waits for each: replicas of one service boot in parallel.
Status Executor::StartMany(const config::Service& s, const std::vector<plan::ReplicaStart>& starts,
                           ResourceResult& r, const ProgressFn& progress) {
  Status first_error;
  std::vector<const plan::ReplicaStart*> started;
  for (const auto& st : starts) {
    Status e = StartAndRecord(s, st, r, progress);
    if (e.ok()) started.push_back(&st);
    else if (first_error.ok()) first_error = e;
  }
  for (const auto* st : started) {
    MonoTime t0 = clock_->Now();
    runtime::ReplicaKey key{s.name, st->slot, st->generation};
    Status e = runtime_->WaitReady(key, opt_.ready_timeout + s.health.start_period);
    if (!e.ok()) {
      if (first_error.ok()) first_error = e;
      continue;
    }
    auto took = std::chrono::duration_cast<Duration>(clock_->Now() - t0);
    progress(r.resource, "replica " + std::to_string(st->slot) + " ready (" +
                             FormatDuration(took) + " after start)");
  }
  return first_error;
}

Status Executor::StopAndForget(const std::string& service, const plan::ReplicaStop& st,
                               ResourceResult& r, const ProgressFn& progress) {
  runtime::ReplicaKey key{service, st.slot, st.generation};
  RETURN_IF_ERROR(runtime_->StopReplica(key, {st.pid, st.start_ticks}));
  RETURN_IF_ERROR(store_->DeleteReplica(service, st.slot, st.generation));
  std::string what = "stopped replica " + std::to_string(st.slot) +
                     (st.pid ? " pid " + std::to_string(st.pid) : "") + " (" + st.reason + ")";
  r.done.push_back(what);
  progress(r.resource, what);
  return Status::OK();
}

Status Executor::CreateOrUpdate(const plan::Change& c, ResourceResult& r,
                                const ProgressFn& progress) {
  const config::Service& s = *c.desired;
  RETURN_IF_ERROR(RecordService(s, c.generation));
  if (c.settings_changed) {
    runtime_->UpdateService(s);
    r.done.push_back("updated settings");
  }
  for (const auto& st : c.stops) RETURN_IF_ERROR(StopAndForget(c.service, st, r, progress));
  return StartMany(s, c.starts, r, progress);
}

Status Executor::Replace(const plan::Change& c, ResourceResult& r, const ProgressFn& progress) {
  const config::Service& s = *c.desired;
  auto old_records = store_->ListServices();
  if (!old_records.ok()) return old_records.status();
  std::optional<state::ServiceRecord> old;
  for (const auto& rec : *old_records)
    if (rec.name == s.name) old = rec;
  RETURN_IF_ERROR(RecordService(s, c.generation));

  std::vector<plan::ReplicaStop> old_replicas = c.stops;
  for (const auto& st : c.starts) {
    Status e = StartMany(s, {st}, r, progress);
    if (!e.ok()) {
      RollBack(c, st.slot, old, r, progress);
      return e.Annotate("rolling update stopped and rolled back");
    }
    // The new replica is ready: now the old one with the same slot may go.
    for (auto it = old_replicas.begin(); it != old_replicas.end();) {
      if (it->slot == st.slot) {
        RETURN_IF_ERROR(StopAndForget(s.name, *it, r, progress));
        it = old_replicas.erase(it);
      } else {
        ++it;
      }
    }
  }
  for (const auto& st : old_replicas) RETURN_IF_ERROR(StopAndForget(s.name, st, r, progress));
  return Status::OK();
}

// Undoes a rolling update that failed at `failed_slot`: the failed new replica goes, and for
// each slot already swapped that the old spec has, an old-generation replica comes back (ready)
// before the new one stops. The old record is restored, so the next plan compares against what
// runs.
void Executor::RollBack(const plan::Change& c, int failed_slot,
                        const std::optional<state::ServiceRecord>& old, ResourceResult& r,
                        const ProgressFn& progress) {
  progress(r.resource, "rolling update failed at replica " + std::to_string(failed_slot) +
                           "; rolling back to generation " + std::to_string(c.generation - 1));
  StopAndForget(c.service, {failed_slot, c.generation, 0, 0, "rollback"}, r, progress)
      .IgnoreError();
  if (!old) return;
  store_->PutService(*old).IgnoreError();
  auto old_spec = config::ServiceFromJson(
      nlohmann::json::parse(old->spec_json, nullptr, /*allow_exceptions=*/false));
  if (!old_spec.ok()) return;
  for (const auto& st : c.starts) {
    if (st.slot >= failed_slot) break;
    // A slot the update added (scale up) had no old replica: only the new one goes.
    if (st.slot < old_spec->replicas &&
        !StartMany(*old_spec, {{st.slot, old->generation, "rollback"}}, r, progress).ok())
      continue;
    StopAndForget(c.service, {st.slot, c.generation, 0, 0, "rollback"}, r, progress)
        .IgnoreError();
  }
}

Status Executor::Destroy(const plan::Change& c, ResourceResult& r, const ProgressFn& progress) {
  for (const auto& st : c.stops) RETURN_IF_ERROR(StopAndForget(c.service, st, r, progress));
  RETURN_IF_ERROR(store_->DeleteService(c.service));
  r.done.push_back("removed from state");
  return Status::OK();
}

}  // namespace steward::apply
