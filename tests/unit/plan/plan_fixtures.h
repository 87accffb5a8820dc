// Builders for the planner's three inputs (desired stack, recorded state, observed replicas),
// so each test states only what matters to it.
#pragma once

#include <string>
#include <vector>

#include "config/stack.h"
#include "config/stack_json.h"
#include "drivers/driver.h"
#include "plan/plan.h"
#include "state/state_store.h"

namespace steward::plan::testing {

inline config::Service MakeService(const std::string& name, int replicas = 1) {
  config::Service s;
  s.name = name;
  s.command = "/usr/bin/" + name;
  s.args = {"--serve"};
  s.replicas = replicas;
  return s;
}

inline config::Stack MakeStack(std::vector<config::Service> services) {
  config::Stack stack;
  stack.project = "demo";
  stack.services = std::move(services);
  return stack;
}

// What the apply executor records after applying `s` at `generation`.
inline state::ServiceRecord Record(const config::Service& s, int64_t generation = 1) {
  state::ServiceRecord r;
  r.name = s.name;
  r.spec_json = config::ServiceToJson(s).dump();
  r.spec_hash = config::ReplaceHash(s);
  r.generation = generation;
  return r;
}

inline drivers::ObservedReplica Observed(const std::string& service, int slot, int64_t generation,
                                         int pid) {
  drivers::ObservedReplica o;
  o.service = service;
  o.slot = slot;
  o.generation = generation;
  o.pid = pid;
  o.start_ticks = pid * 10;
  return o;
}

// Every slot of `s` observed running at `generation`, pids first_pid, first_pid+1, ...
inline std::vector<drivers::ObservedReplica> AllRunning(const config::Service& s,
                                                        int64_t generation, int first_pid) {
  std::vector<drivers::ObservedReplica> out;
  for (int slot = 0; slot < s.replicas; ++slot)
    out.push_back(Observed(s.name, slot, generation, first_pid + slot));
  return out;
}

}  // namespace steward::plan::testing
