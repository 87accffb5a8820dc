// DaemonRemediation: what runbooks do (alerting::RemediationActions), done with the daemon's own
// runtime and apply path, so a runbook's change is an apply like any other — planned against
// what runs, under the state lock, in the history as "runbook", and kept by the next reconcile.
//
// - Restart(service, slot): under the state lock, stops the replica (the runtime stops
//   supervising it, so its backoff and crash-loop count start afresh), then plans the recorded
//   stack: the planner finds the slot missing and starts it again at the same generation and
//   port, and the executor waits until it is ready. Slot -1 does every replica in slot order,
//   one at a time, so the service keeps serving. (Killing the process and leaving the restart to
//   the supervisor would not help a replica in crash-loop backoff nor one with restart: never.)
// - Scale(service, n): applies the recorded stack with the service's replicas set to n; the
//   recorded spec then says n, so reconcile keeps it (until the next `steward apply` of the
//   stack file says otherwise).
// - Rollback(service): applies the service's previous release, kept in the state document
//   "previous_spec.<service>" by RecordPreviousSpecs whenever an apply changed the service's
//   spec in anything but its replica count. The current replica count is kept. With no previous
//   release: kFailedPrecondition "no previous release of api to roll back to". A rollback is
//   itself a release change, so a second rollback returns to where the first started.
// - RunCommand: supervisor::CheckExec's runner (own process group, killed as a group at the
//   timeout, only its pid reaped), started through /bin/sh to enter `dir`; the environment is
//   the daemon's basic variables (PATH with steward's directory, HOME, LANG, ...) plus `env`.
//   The result carries the exit status and the first line of output.
// Thread safety: the actions may run on any thread; they serialise on the daemon's apply lock.
#pragma once

#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "alerting/incidents.h"
#include "alerting/runbooks.h"
#include "base/status.h"
#include "config/stack.h"
#include "plan/plan.h"
#include "state/state_store.h"

namespace steward::server {

class Daemon;

class DaemonRemediation : public alerting::RemediationActions {
 public:
  explicit DaemonRemediation(Daemon* daemon) : daemon_(daemon) {}

  Status Restart(const std::string& service, int replica) override;
  Status Rollback(const std::string& service) override;
  Status Scale(const std::string& service, int replicas) override;
  StatusOr<alerting::CommandResult> RunCommand(const std::vector<std::string>& argv,
                                               const std::map<std::string, std::string>& env,
                                               const std::string& dir, Duration timeout) override;
  StatusOr<int> Replicas(const std::string& service) override;

 private:
  // Stops `stop` (if set) and applies `desired`'s services, under the state lock.
  Status ApplyServices(const config::Stack& desired, const std::string& what,
                       const std::function<Status()>& before = nullptr);
  StatusOr<config::Stack> Recorded(const std::string& service);

  Daemon* daemon_;
};

// The state document holding a service's previous release.
std::string PreviousSpecKey(const std::string& service);

// Before a plan runs: for each service whose spec it changes in anything but the replica count,
// keeps the recorded (still current) spec as its previous release.
Status RecordPreviousSpecs(state::StateStore* store, const plan::Plan& plan);

// Hands the stack's runbooks (none for null) to the engine; a failure is logged and the old
// runbooks stay.
void LoadRunbooks(alerting::RunbookEngine* engine, const config::Stack* stack);

// The daemon's engine, started: it acts through `actions`, logs every decision and records it
// on the alert's incident when the alert has one (incidents may be null), and runs `recorded`'s
// runbooks (none when it could not be read).
std::unique_ptr<alerting::RunbookEngine> StartRunbookEngine(
    alerting::RemediationActions* actions, alerting::IncidentManager* incidents,
    metrics::Registry* metrics, const StatusOr<config::Stack>& recorded);

}  // namespace steward::server
