#include <algorithm>
#include <functional>
#include <map>
#include <set>

#include "config/stack_json.h"
#include "plan/plan.h"

namespace steward::plan {
namespace {

using ObservedBySlot = std::vector<const drivers::ObservedReplica*>;

std::vector<const drivers::ObservedReplica*> ObservedOf(const PlanInputs& in,
                                                        const std::string& service) {
  std::vector<const drivers::ObservedReplica*> out;
  for (const auto& o : in.observed)
    if (o.service == service && !o.zombie) out.push_back(&o);
  std::sort(out.begin(), out.end(), [](auto* a, auto* b) {
    return std::tie(a->generation, a->slot, a->pid) < std::tie(b->generation, b->slot, b->pid);
  });
  return out;
}

ReplicaStop StopOf(const drivers::ObservedReplica& o, std::string reason) {
  return ReplicaStop{o.slot, o.generation, o.pid, o.start_ticks, std::move(reason)};
}

// Services in dependency order (dependencies first), ties broken by file order. The parser
// has already rejected cycles; a cycle here would only skip the services in it.
std::vector<const config::Service*> TopoOrder(const config::Stack& stack) {
  std::vector<const config::Service*> order;
  std::set<std::string> done, visiting;
  std::function<void(const config::Service&)> visit = [&](const config::Service& s) {
    if (done.count(s.name) || visiting.count(s.name)) return;
    visiting.insert(s.name);
    for (const auto& dep : s.depends_on)
      if (const auto* d = stack.FindService(dep)) visit(*d);
    visiting.erase(s.name);
    done.insert(s.name);
    order.push_back(&s);
  };
  for (const auto& s : stack.services) visit(s);
  return order;
}

Change CreateChange(const config::Service& s, const PlanInputs& in) {
  Change c;
  c.action = Action::kCreate;
  c.service = s.name;
  c.desired = s;
  int64_t max_gen = 0;
  for (const auto* o : ObservedOf(in, s.name)) {
    max_gen = std::max(max_gen, o->generation);
    c.stops.push_back(StopOf(*o, "not in the state (left by an interrupted apply)"));
  }
  c.generation = max_gen + 1;
  c.reasons.push_back("new service: " + std::to_string(s.replicas) + " replica(s)");
  for (int slot = 0; slot < s.replicas; ++slot)
    c.starts.push_back({slot, c.generation, "new service"});
  return c;
}

Change ReplaceChange(const config::Service& old, const config::Service& s, int64_t generation,
                     const PlanInputs& in) {
  Change c;
  c.action = Action::kReplace;
  c.service = s.name;
  c.desired = s;
  c.generation = generation + 1;
  c.reasons = config::ReplaceReasons(old, s);
  for (auto& r : config::UpdateReasons(old, s)) c.reasons.push_back(std::move(r));
  c.settings_changed = true;
  for (int slot = 0; slot < s.replicas; ++slot)
    c.starts.push_back({slot, c.generation, "rolling update to generation " +
                                                std::to_string(c.generation)});
  for (const auto* o : ObservedOf(in, s.name))
    c.stops.push_back(StopOf(*o, "replaced by generation " + std::to_string(c.generation)));
  return c;
}

// Same spec hash: scale, restore missing replicas, stop strays, pass on new settings.
std::optional<Change> UpdateChange(const config::Service& old, const config::Service& s,
                                   int64_t generation, const PlanInputs& in) {
  Change c;
  c.action = Action::kUpdate;
  c.service = s.name;
  c.desired = s;
  c.generation = generation;
  c.reasons = config::UpdateReasons(old, s);
  c.settings_changed = !c.reasons.empty();
  std::string scale = "scale " + std::to_string(old.replicas) + " → " + std::to_string(s.replicas);
  std::set<int> alive_slots;
  for (const auto* o : ObservedOf(in, s.name)) {
    if (o->generation != generation) {
      c.stops.push_back(StopOf(*o, "orphan of generation " + std::to_string(o->generation)));
    } else if (o->slot >= s.replicas) {
      c.stops.push_back(StopOf(*o, scale));
    } else if (!alive_slots.insert(o->slot).second) {
      c.stops.push_back(StopOf(*o, "duplicate of replica " + std::to_string(o->slot)));
    }
  }
  for (int slot = 0; slot < s.replicas; ++slot) {
    if (alive_slots.count(slot)) continue;
    std::string why = slot >= old.replicas
                          ? scale
                          : "replica " + std::to_string(slot) + " not running (observed)";
    if (slot < old.replicas) c.reasons.push_back(why);
    c.starts.push_back({slot, generation, why});
  }
  for (const auto& st : c.stops)
    if (st.reason.rfind("orphan", 0) == 0 || st.reason.rfind("duplicate", 0) == 0)
      c.reasons.push_back("replica " + std::to_string(st.slot) + " pid " +
                          std::to_string(st.pid) + ": " + st.reason + " (observed)");
  if (c.reasons.empty() && c.starts.empty() && c.stops.empty()) return std::nullopt;
  return c;
}

Change DestroyChange(const std::string& service, const PlanInputs& in, std::string reason) {
  Change c;
  c.action = Action::kDestroy;
  c.service = service;
  c.reasons.push_back(std::move(reason));
  for (const auto* o : ObservedOf(in, service)) c.stops.push_back(StopOf(*o, "destroy"));
  return c;
}

}  // namespace

std::string_view ActionSymbol(Action a) {
  switch (a) {
    case Action::kCreate: return "+";
    case Action::kUpdate: return "~";
    case Action::kReplace: return "-/+";
    case Action::kDestroy: return "-";
  }
  return "?";
}

std::string_view ActionName(Action a) {
  switch (a) {
    case Action::kCreate: return "create";
    case Action::kUpdate: return "update";
    case Action::kReplace: return "replace";
    case Action::kDestroy: return "destroy";
  }
  return "?";
}

int Plan::CountOf(Action a) const {
  return static_cast<int>(
      std::count_if(changes.begin(), changes.end(), [a](const Change& c) { return c.action == a; }));
}

int ReplicaPort(const config::Service& service, int slot, int64_t generation) {
  if (service.ports.empty()) return 0;
  int half = (generation % 2 == 0) ? std::max(service.replicas, 1) : 0;
  return service.ports[0] + half + slot;
}

StatusOr<Plan> ComputePlan(const PlanInputs& in) {
  Plan plan;
  std::map<std::string, const state::ServiceRecord*> recorded;
  for (const auto& r : in.recorded_services) recorded[r.name] = &r;
  std::set<std::string> desired_names;
  std::set<std::string> changed;

  if (in.desired) {
    plan.project = in.desired->project;
    for (const config::Service* s : TopoOrder(*in.desired)) {
      desired_names.insert(s->name);
      auto it = recorded.find(s->name);
      std::optional<Change> change;
      if (it == recorded.end()) {
        change = CreateChange(*s, in);
      } else {
        auto old = config::ServiceFromJson(nlohmann::json::parse(it->second->spec_json, nullptr,
                                                                 /*allow_exceptions=*/false));
        if (!old.ok())
          return Corruption("recorded spec of service '" + s->name +
                            "' cannot be read: " + old.status().message());
        if (it->second->spec_hash != config::ReplaceHash(*s))
          change = ReplaceChange(*old, *s, it->second->generation, in);
        else
          change = UpdateChange(*old, *s, it->second->generation, in);
      }
      if (!change) continue;
      for (const auto& dep : s->depends_on)
        if (changed.count(dep)) change->depends_on.push_back(dep);
      changed.insert(s->name);
      plan.changes.push_back(std::move(*change));
    }
  }
  // Destroys run after everything else. A destroyed service must stop before the services it
  // depended on (the reverse of start order), so each destroy waits for its dependents' destroy.
  std::vector<Change> destroys;
  std::map<std::string, std::vector<std::string>> deps_of;
  for (const auto& r : in.recorded_services) {
    if (desired_names.count(r.name)) continue;
    auto old = config::ServiceFromJson(
        nlohmann::json::parse(r.spec_json, nullptr, /*allow_exceptions=*/false));
    if (old.ok()) deps_of[r.name] = old->depends_on;
    destroys.push_back(DestroyChange(
        r.name, in, in.desired ? "no longer in the stack file" : "destroy requested"));
  }
  std::set<std::string> known = desired_names;
  for (const auto& r : in.recorded_services) known.insert(r.name);
  std::set<std::string> orphans;
  for (const auto& o : in.observed)
    if (!known.count(o.service) && !o.zombie) orphans.insert(o.service);
  for (const auto& name : orphans)
    destroys.push_back(DestroyChange(name, in, "orphan processes not in the state (observed)"));
  for (auto& d : destroys)
    for (const auto& [dependent, deps] : deps_of)
      if (std::find(deps.begin(), deps.end(), d.service) != deps.end())
        d.depends_on.push_back(dependent);
  // Order the destroys so that each comes after the destroys it waits for.
  std::set<std::string> placed;
  while (!destroys.empty()) {
    auto ready = std::find_if(destroys.begin(), destroys.end(), [&](const Change& d) {
      return std::all_of(d.depends_on.begin(), d.depends_on.end(),
                         [&](const std::string& n) { return placed.count(n) > 0; });
    });
    if (ready == destroys.end()) ready = destroys.begin();  // a recorded cycle: break it anywhere
    placed.insert(ready->service);
    plan.changes.push_back(std::move(*ready));
    destroys.erase(ready);
  }
  return plan;
}

}  // namespace steward::plan
