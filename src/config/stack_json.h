// The JSON form of a parsed stack, and what a change of a service means for its processes.
//
// JSON: used to record the spec each service was applied with (state store) and to send a
// parsed stack to the daemon. StackFromJson(StackToJson(s)) == s field for field; durations
// are integer milliseconds under "*_ms" keys, memory is integer bytes. Readers ignore unknown
// keys and default missing ones, so older records stay readable; a wrong type is an error.
//
// Replace vs update: a change to command, args, env, working_dir, ports, resources, secret_files
// or the version of a secret the service uses (a rotation) needs new processes (a rolling
// replace); replicas, health, restart, stop_signal, stop_grace, depends_on
// and metrics are applied in place. ReplaceHash digests exactly the first group. A metrics
// change is an update reason so that the new spec is recorded, yet it touches no process: only
// the scraper reads it.
// Reasons are for people ("replicas: 2 → 3"); env values are never printed, only keys.
// Thread safety: stateless functions; safe to call concurrently.
#pragma once

#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "base/status.h"
#include "config/stack.h"

namespace steward::config {

nlohmann::json ServiceToJson(const Service& service);
StatusOr<Service> ServiceFromJson(const nlohmann::json& json);
nlohmann::json StackToJson(const Stack& stack);
StatusOr<Stack> StackFromJson(const nlohmann::json& json);

namespace internal {
// alerting_json.cc: the alerting: and slos: sections, every field (receiver URLs and routing keys
// too: this JSON is transport and state, never shown). The readers throw nlohmann's exceptions on
// wrong types; StackFromJson reports them as a Status.
nlohmann::json AlertingToJson(const Alerting& alerting);
Alerting AlertingFromJson(const nlohmann::json& json);
nlohmann::json SlosToJson(const std::vector<Slo>& slos);
std::vector<Slo> SlosFromJson(const nlohmann::json& json);
}  // namespace internal

// 16 hex digits: FNV-1a 64 of the canonical JSON of the replace fields. Stable across runs,
// builds and machines (unlike std::hash), so it can be stored.
std::string ReplaceHash(const Service& service);

// Human diffs of the fields that force a replace, e.g. "command: \"a\" → \"b\"",
// "env.GREETING changed", "ports: [8080] → [9090]". Empty when nothing of that group changed.
std::vector<std::string> ReplaceReasons(const Service& old, const Service& now);
// Human diffs of the fields applied in place, e.g. "replicas: 2 → 3",
// "health.interval: 2s → 5s", "depends_on: [api] → [api, db]", "metrics.path: ...".
std::vector<std::string> UpdateReasons(const Service& old, const Service& now);

}  // namespace steward::config
