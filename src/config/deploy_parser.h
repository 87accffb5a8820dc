// Internal to the config room: a service's `ingress:` and `deploy:` keys (deploy_parser.cc).
// The readers report every problem through the ParseContext and keep the model's defaults for
// what they could not read; the cross-service checks (ingress ports against other ingresses and
// services' port blocks, a canary without an ingress) run after all services are read.
// Thread safety: one context per parse; not shared.
#pragma once

#include <vector>

#include "config/parse_context.h"
#include "config/stack.h"

namespace steward::config::internal {

// ingress: PORT | {port, bind, health_path}
void ParseIngress(ParseContext& ctx, const Entry& e, const std::string& who, Service* s);
// deploy: {strategy, max_surge, max_unavailable, steps, verify, keep_releases, analysis}
void ParseDeploy(ParseContext& ctx, const Entry& e, const std::string& who, Service* s);

// Strategy names as written in the file and sent over the API: "rolling", "blue-green",
// "canary". DeployStrategyFromName returns false for anything else.
const char* DeployStrategyName(DeployStrategy s);
bool DeployStrategyFromName(const std::string& name, DeployStrategy* out);

// The checks that need every service: an ingress port may not be another ingress's nor fall
// in a service's port block [P, P+2*replicas); canary and error-rate analysis need an ingress.
// Also run for stacks that arrive as JSON (locations are then the services').
void ValidateDeploys(ParseContext& ctx, const std::vector<Service>& services);

}  // namespace steward::config::internal
