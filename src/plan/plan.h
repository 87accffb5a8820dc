// Plan: what must change so that what runs matches the stack file.
//
// Three inputs, as Terraform has them: desired (the parsed stack), recorded (the state store:
// the spec each service was last applied with and the replicas started for it) and observed
// (what the driver actually sees running). The planner is a pure function of the three, so it
// is tested without processes; the executor (apply room) carries a Plan out.
//
// Actions per service resource ("service.web"):
//   +    create   recorded nothing; start every replica
//   ~    update   in place: scale, start a missing replica (drift), new health/restart settings
//   -/+  replace  a field that processes are started with changed: rolling update to a new
//                 generation (a new replica is ready before an old one stops)
//   -    destroy  in the state but no longer in the stack (or `steward destroy`)
// Observed replicas that belong to nothing desired (an older generation left by an interrupted
// apply, a slot above the replica count, a service no longer known) are stopped as part of
// the service's change, each with its reason.
// Thread safety: pure functions over values.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "config/stack.h"
#include "drivers/driver.h"
#include "state/state_store.h"

namespace steward::plan {

enum class Action { kCreate, kUpdate, kReplace, kDestroy };

std::string_view ActionSymbol(Action a);  // "+", "~", "-/+", "-"
std::string_view ActionName(Action a);    // "create", "update", "replace", "destroy"
std::optional<Action> ActionFromName(std::string_view name);

// A replica the executor must start (slot at generation) or stop (an observed process).
struct ReplicaStart {
  int slot = 0;
  int64_t generation = 0;
  std::string reason;   // "new service", "scale 2 → 3", "replica 1 not running (observed)"
};
struct ReplicaStop {
  int slot = 0;
  int64_t generation = 0;
  int pid = 0;
  int64_t start_ticks = 0;
  std::string reason;   // "scale 3 → 2", "orphan of generation 1"
};

struct Change {
  Action action = Action::kUpdate;
  std::string service;
  std::vector<std::string> reasons;          // each line says which field (or observation) and how
  std::optional<config::Service> desired;    // absent for destroy
  int64_t generation = 0;                    // generation the service will run at
  bool settings_changed = false;             // health/restart/stop settings to hand the supervisor
  std::vector<ReplicaStart> starts;          // for replace: the new generation's replicas, in order
  std::vector<ReplicaStop> stops;            // for replace: the old generation, stopped one by one
  std::vector<std::string> depends_on;       // services whose change must finish first

  std::string Resource() const { return "service." + service; }
};

struct Plan {
  std::string project;
  std::vector<Change> changes;               // dependency order (dependencies first)
  int CountOf(Action a) const;
  bool empty() const { return changes.empty(); }
};

struct PlanInputs {
  const config::Stack* desired = nullptr;    // null: destroy everything recorded or observed
  std::vector<state::ServiceRecord> recorded_services;
  std::vector<state::ReplicaRecord> recorded_replicas;
  std::vector<drivers::ObservedReplica> observed;
};

// Never fails on consistent inputs; a recorded spec that cannot be decoded is a Corruption.
StatusOr<Plan> ComputePlan(const PlanInputs& in);

// Terraform-style text for people. `color` adds ANSI colours (only on a TTY).
std::string RenderPlanText(const Plan& plan, bool color);
// {"format_version":"1","project":..,"summary":{"create":n,...},"changes":[...]}.
nlohmann::json RenderPlanJson(const Plan& plan);

// The inverse of RenderPlanJson for what the text view needs (a plan the daemon computed).
// Malformed input is an InvalidArgument, never an exception.
StatusOr<Plan> PlanFromJson(const nlohmann::json& j);

// The port replica `slot` of generation `generation` runs on when the service declares ports:
// odd generations use [P, P+R), even ones [P+R, P+2R), so old and new never collide.
int ReplicaPort(const config::Service& service, int slot, int64_t generation);

}  // namespace steward::plan
