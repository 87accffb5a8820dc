#include <algorithm>
#include <functional>
#include <map>
#include <set>
#include <string_view>
#include <unordered_map>
#include <unordered_set>

#include "config/stack_json.h"
#include "plan/plan.h"

namespace steward::plan {
namespace {

// Observed live replicas by service, each list in (generation, slot, pid) order. Built once
// per plan so that a stack of many services is not scanned once per service.
using ObservedIndex = std::unordered_map<std::string, std::vector<const drivers::ObservedReplica*>>;

ObservedIndex IndexObserved(const PlanInputs& in) {
  ObservedIndex index;
  for (const auto& o : in.observed)
    if (!o.zombie) index[o.service].push_back(&o);
  for (auto& [service, list] : index)
    std::sort(list.begin(), list.end(), [](auto* a, auto* b) {
      return std::tie(a->generation, a->slot, a->pid) < std::tie(b->generation, b->slot, b->pid);
    });
  return index;
}

const std::vector<const drivers::ObservedReplica*>& ObservedOf(const ObservedIndex& index,
                                                               const std::string& service) {
  static const std::vector<const drivers::ObservedReplica*> kNone;
  auto it = index.find(service);
  return it == index.end() ? kNone : it->second;
}

ReplicaStop StopOf(const drivers::ObservedReplica& o, std::string reason) {
  return ReplicaStop{o.slot, o.generation, o.pid, o.start_ticks, std::move(reason)};
}

// Services in dependency order (dependencies first), ties broken by file order. The parser
// has already rejected cycles; a cycle here would only skip the services in it.
std::vector<const config::Service*> TopoOrder(const config::Stack& stack) {
  std::vector<const config::Service*> order;
  std::unordered_map<std::string_view, const config::Service*> by_name;
  for (const auto& s : stack.services) by_name.emplace(s.name, &s);
  std::unordered_set<std::string_view> done, visiting;
  std::function<void(const config::Service&)> visit = [&](const config::Service& s) {
    if (done.count(s.name) || visiting.count(s.name)) return;
    visiting.insert(s.name);
    for (const auto& dep : s.depends_on)
      if (auto it = by_name.find(dep); it != by_name.end()) visit(*it->second);
    visiting.erase(s.name);
    done.insert(s.name);
    order.push_back(&s);
  };
  for (const auto& s : stack.services) visit(s);
  return order;
}

Change CreateChange(const config::Service& s, const ObservedIndex& in) {
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
                     const ObservedIndex& in) {
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
                                   int64_t generation, const ObservedIndex& in) {
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

Change DestroyChange(const std::string& service, const ObservedIndex& in, std::string reason) {
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

std::optional<Action> ActionFromName(std::string_view name) {
  for (auto a : {Action::kCreate, Action::kUpdate, Action::kReplace, Action::kDestroy})
    if (ActionName(a) == name) return a;
  return std::nullopt;
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
  const ObservedIndex observed = IndexObserved(in);
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
        change = CreateChange(*s, observed);
      } else {
        auto old = config::ServiceFromJson(nlohmann::json::parse(it->second->spec_json, nullptr,
                                                                 /*allow_exceptions=*/false));
        if (!old.ok())
          return Corruption("recorded spec of service '" + s->name +
                            "' cannot be read: " + old.status().message());
        if (it->second->spec_hash != config::ReplaceHash(*s))
          change = ReplaceChange(*old, *s, it->second->generation, observed);
        else
          change = UpdateChange(*old, *s, it->second->generation, observed);
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
        r.name, observed, in.desired ? "no longer in the stack file" : "destroy requested"));
  }
  std::set<std::string> known = desired_names;
  for (const auto& r : in.recorded_services) known.insert(r.name);
  std::set<std::string> orphans;
  for (const auto& o : in.observed)
    if (!known.count(o.service) && !o.zombie) orphans.insert(o.service);
  for (const auto& name : orphans)
    destroys.push_back(DestroyChange(name, observed, "orphan processes not in the state (observed)"));
  // Each destroy waits for the destroys of the services that depended on it.
  std::unordered_map<std::string, std::vector<std::string>> dependents;
  for (const auto& [dependent, deps] : deps_of)
    for (const auto& dep : deps) dependents[dep].push_back(dependent);
  std::unordered_set<std::string> destroyed;
  for (const auto& d : destroys) destroyed.insert(d.service);
  for (auto& d : destroys)
    for (const auto& dependent : dependents[d.service])
      if (destroyed.count(dependent)) d.depends_on.push_back(dependent);
  // Kahn's algorithm, in the order found; a recorded cycle is broken at its first member.
  std::unordered_map<std::string, size_t> waiting;
  for (const auto& d : destroys) waiting[d.service] = d.depends_on.size();
  std::vector<bool> placed(destroys.size(), false);
  size_t left = destroys.size();
  while (left > 0) {
    bool progressed = false;
    for (size_t i = 0; i < destroys.size(); ++i) {
      if (placed[i] || waiting[destroys[i].service] > 0) continue;
      placed[i] = true;
      --left;
      progressed = true;
      for (const auto& dep : deps_of[destroys[i].service])
        if (auto it = waiting.find(dep); it != waiting.end() && it->second > 0) --it->second;
      plan.changes.push_back(destroys[i]);
    }
    if (!progressed)
      for (size_t i = 0; i < destroys.size(); ++i)
        if (!placed[i]) {
          waiting[destroys[i].service] = 0;
          break;
        }
  }
  return plan;
}

}  // namespace steward::plan
