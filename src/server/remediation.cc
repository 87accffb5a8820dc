// DaemonRemediation (remediation.h): runbook actions as small applies through the daemon's own
// plan/execute path, plus the previous-release bookkeeping that rollbacks read.
#include "server/remediation.h"

#include <spdlog/spdlog.h>
#include <unistd.h>

#include <algorithm>
#include <cstdlib>

#include "alerting/builtin_rules.h"
#include "config/stack_json.h"
#include "server/daemon.h"
#include "state/state_store.h"
#include "supervisor/health.h"

namespace steward::server {
namespace {

constexpr Duration kLockTimeout{60000};

// The daemon's basic environment for commands (as replicas get it), steward's directory first
// on PATH so a runbook command can call `steward`.
std::map<std::string, std::string> BaseEnv(const std::string& self_dir) {
  std::map<std::string, std::string> env;
  for (const char* k : {"PATH", "HOME", "LANG", "LC_ALL", "TZ", "USER", "TMPDIR"}) {
    if (const char* v = getenv(k)) env[k] = v;
  }
  if (!env.count("PATH")) env["PATH"] = "/usr/local/bin:/usr/bin:/bin";
  if (!self_dir.empty()) env["PATH"] = self_dir + ":" + env["PATH"];
  return env;
}

// The spec with the replica count taken from `like`: what a release is, apart from scaling.
std::string ReleaseJson(config::Service s, int replicas) {
  s.replicas = replicas;
  return config::ServiceToJson(s).dump();
}

}  // namespace

std::string PreviousSpecKey(const std::string& service) { return "previous_spec." + service; }

Status RecordPreviousSpecs(state::StateStore* store, const plan::Plan& plan) {
  ASSIGN_OR_RETURN(std::vector<state::ServiceRecord> records, store->ListServices());
  for (const plan::Change& c : plan.changes) {
    if (!c.desired || (c.action != plan::Action::kUpdate && c.action != plan::Action::kReplace))
      continue;
    auto rec = std::find_if(records.begin(), records.end(),
                            [&](const state::ServiceRecord& r) { return r.name == c.service; });
    if (rec == records.end()) continue;
    StatusOr<config::Service> old = config::ServiceFromJson(
        nlohmann::json::parse(rec->spec_json, nullptr, /*allow_exceptions=*/false));
    if (!old.ok()) continue;  // the planner has reported it
    if (ReleaseJson(*old, 1) == ReleaseJson(*c.desired, 1)) continue;  // only scaled
    RETURN_IF_ERROR(store->PutDocument(PreviousSpecKey(c.service), rec->spec_json));
  }
  return Status::OK();
}

void LoadRunbooks(alerting::RunbookEngine* engine, const config::Stack* stack) {
  if (engine == nullptr) return;
  Status st = engine->SetRunbooks(
      alerting::WithDefaultRunbooks(stack ? stack->runbooks : std::vector<config::Runbook>{}),
      stack ? stack->dir : "");
  if (!st.ok()) {
    spdlog::error("msg=\"runbooks not loaded; the previous ones stay\" error=\"{}\"", st.message());
  }
}

std::unique_ptr<alerting::RunbookEngine> StartRunbookEngine(
    alerting::RemediationActions* actions, alerting::IncidentManager* incidents,
    metrics::Registry* metrics, const StatusOr<config::Stack>& recorded) {
  alerting::RunbookEngineOptions o;
  o.clock = RealClock::Get();
  o.actions = actions;
  o.metrics = metrics;
  o.recorder = [incidents](const alerting::RunbookRun& run) {
    spdlog::info("msg=\"runbook\" runbook={} service={} result={} output=\"{}\"", run.runbook,
                 run.service, run.result, run.output);
    if (incidents == nullptr) return;
    std::optional<int64_t> id = incidents->IncidentForAlert(run.fingerprint);
    if (!id) return;
    Status st = incidents->RecordRemediation(
        *id,
        alerting::RemediationRun{run.runbook, run.action, run.result, run.output, run.dry_run});
    if (!st.ok()) spdlog::warn("msg=\"incident timeline\" error=\"{}\"", st.message());
  };
  auto engine = std::make_unique<alerting::RunbookEngine>(o);
  if (!recorded.ok()) {
    spdlog::error("msg=\"runbooks not loaded\" error=\"{}\"", recorded.status().message());
  }
  LoadRunbooks(engine.get(), recorded.ok() ? &*recorded : nullptr);
  engine->Start();
  return engine;
}

StatusOr<config::Stack> DaemonRemediation::Recorded(const std::string& service) {
  ASSIGN_OR_RETURN(config::Stack stack, daemon_->RecordedStack());
  if (stack.FindService(service) == nullptr) {
    return NotFound("service '" + service + "' is not running under this daemon");
  }
  return stack;
}

Status DaemonRemediation::ApplyServices(const config::Stack& desired, const std::string& what,
                                        const std::function<Status()>& before) {
  ASSIGN_OR_RETURN(auto lock, daemon_->LockForApply("runbook: " + what, kLockTimeout));
  std::lock_guard<std::mutex> g(daemon_->apply_mu_);
  if (before) RETURN_IF_ERROR(before());
  ASSIGN_OR_RETURN(plan::Plan p, daemon_->Plan(&desired));
  if (!p.empty()) {
    Requester who{getpid(), "steward", state::CurrentHost(), "runbook: " + what};
    ASSIGN_OR_RETURN(apply::ApplyReport report,
                     daemon_->Execute(p, who, [](const std::string& r, const std::string& m) {
                       spdlog::info("msg=\"runbook\" resource={} step=\"{}\"", r, m);
                     }));
    if (!report.ok()) {
      std::string error;
      for (const auto& r : report.results) {
        if (!r.error.empty()) error += (error.empty() ? "" : "; ") + r.error;
      }
      daemon_->UpdateMonitoring();
      return Aborted(error.empty() ? "the apply did not complete" : error);
    }
  }
  daemon_->UpdateMonitoring();
  return Status::OK();
}

Status DaemonRemediation::Restart(const std::string& service, int replica) {
  ASSIGN_OR_RETURN(config::Stack stack, Recorded(service));
  std::vector<runtime::ReplicaKey> keys;
  for (const runtime::ReplicaStatus& r : daemon_->runtime_->Snapshot()) {
    if (r.key.service == service && (replica < 0 || r.key.slot == replica)) keys.push_back(r.key);
  }
  if (keys.empty()) {
    return NotFound(replica < 0
                        ? "service '" + service + "' has no replica running"
                        : "service '" + service + "' has no replica " + std::to_string(replica));
  }
  std::sort(keys.begin(), keys.end());
  for (const runtime::ReplicaKey& key : keys) {
    Status st = ApplyServices(stack, "restart " + key.ToString(),
                              [&] { return daemon_->runtime_->StopReplica(key); });
    if (!st.ok()) return st.Annotate("restart " + key.ToString());
  }
  return Status::OK();
}

Status DaemonRemediation::Scale(const std::string& service, int replicas) {
  if (replicas < 1) return InvalidArgument("a service needs at least 1 replica");
  ASSIGN_OR_RETURN(config::Stack stack, Recorded(service));
  for (config::Service& s : stack.services) {
    if (s.name == service) s.replicas = replicas;
  }
  return ApplyServices(stack, "scale " + service + " to " + std::to_string(replicas));
}

Status DaemonRemediation::Rollback(const std::string& service) {
  ASSIGN_OR_RETURN(config::Stack stack, Recorded(service));
  ASSIGN_OR_RETURN(std::optional<std::string> doc,
                   daemon_->store()->GetDocument(PreviousSpecKey(service)));
  if (!doc) {
    return FailedPrecondition("no previous release of " + service + " to roll back to");
  }
  StatusOr<config::Service> prev =
      config::ServiceFromJson(nlohmann::json::parse(*doc, nullptr, /*allow_exceptions=*/false));
  if (!prev.ok())
    return Corruption("previous release of " + service + ": " + prev.status().message());
  for (config::Service& s : stack.services) {
    if (s.name != service) continue;
    prev->replicas = s.replicas;  // a rollback undoes a release, not a scale-out
    s = *prev;
  }
  return ApplyServices(stack, "roll back " + service);
}

StatusOr<alerting::CommandResult> DaemonRemediation::RunCommand(
    const std::vector<std::string>& argv, const std::map<std::string, std::string>& env,
    const std::string& dir, Duration timeout) {
  if (argv.empty()) return InvalidArgument("empty command");
  config::HealthCheck check;
  check.kind = config::HealthCheckKind::kExec;
  check.timeout = timeout;
  // CheckExec has no working directory: a shell enters it, then becomes the command.
  check.command = {"/bin/sh", "-c", "cd -- \"$1\" && shift && exec \"$@\"", "steward-runbook",
                   dir.empty() ? "." : dir};
  check.command.insert(check.command.end(), argv.begin(), argv.end());
  std::map<std::string, std::string> full = BaseEnv(daemon_->options().self_dir);
  for (const auto& [k, v] : env) full[k] = v;
  supervisor::HealthResult r = supervisor::CheckExec(check, full);
  return alerting::CommandResult{r.ok, r.detail};
}

StatusOr<int> DaemonRemediation::Replicas(const std::string& service) {
  ASSIGN_OR_RETURN(config::Stack stack, Recorded(service));
  return stack.FindService(service)->replicas;
}

}  // namespace steward::server
