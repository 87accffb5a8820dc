// validate and plan.
#include <filesystem>
#include <iostream>

#include "cli/cli.h"
#include "config/secret_refs.h"
#include "config/stack_json.h"
#include "drivers/driver.h"
#include "plan/plan.h"
#include "runtime/secret_env.h"
#include "server/client.h"
#include "state/state_store.h"

namespace steward::cli {
namespace {

// The stack's ${secret:NAME} references against the state dir's secret store, when there is
// one (versions only: no master key needed), stamping each service with the versions.
std::vector<config::Diagnostic> CheckSecrets(Context& ctx, config::Stack* stack) {
  bool uses = false;
  for (const auto& s : stack->services) uses = uses || !config::ServiceSecrets(s).empty();
  if (!uses || !std::filesystem::exists(ctx.StateDir() + "/state.db")) return {};
  auto store = state::OpenSqliteStateStore(ctx.StateDir(), RealClock::Get());
  if (!store.ok()) return {};
  runtime::StateDirSecrets secrets(store->get(), ctx.StateDir(), RealClock::Get());
  return config::StampSecretVersions(
      stack, [&secrets](const std::string& name) { return secrets.CurrentVersion(name); });
}

int RunValidate(Context& ctx) {
  config::ParseOptions opt;
  opt.environment = ctx.g.env;
  auto result = config::ParseStackFile(ctx.g.file, opt);
  if (result.ok()) {
    for (auto& d : ctx.CheckRules(*result.stack)) result.diagnostics.push_back(std::move(d));
    for (auto& d : CheckSecrets(ctx, &*result.stack)) result.diagnostics.push_back(std::move(d));
  }
  bool ok = result.diagnostics.empty();
  if (ctx.g.json) {
    nlohmann::json errors = nlohmann::json::array();
    for (const auto& d : result.diagnostics)
      errors.push_back({{"file", d.location.file},
                        {"line", d.location.line},
                        {"column", d.location.column},
                        {"message", d.message}});
    std::cout << nlohmann::json{{"valid", ok}, {"errors", errors}}.dump(2) << "\n";
    return ok ? kExitOk : kExitError;
  }
  if (!ok) {
    for (const auto& d : result.diagnostics) std::cerr << d.ToString() << "\n";
    std::cerr << result.diagnostics.size() << " error(s) in " << ctx.g.file << "\n";
    return kExitError;
  }
  int replicas = 0;
  for (const auto& s : result.stack->services) replicas += s.replicas;
  std::cout << ctx.g.file << " is valid: project " << result.stack->project << ", "
            << result.stack->services.size() << " service(s), " << replicas << " replica(s)\n";
  return kExitOk;
}

// Plans locally: recorded state plus what /proc shows. Needs no daemon.
StatusOr<plan::Plan> LocalPlan(Context& ctx, const config::Stack* desired) {
  ASSIGN_OR_RETURN(auto store, state::OpenSqliteStateStore(ctx.StateDir(), RealClock::Get()));
  plan::PlanInputs in;
  // Versions of the secrets used, as the daemon's plan has them (server/daemon.cc).
  std::optional<config::Stack> stamped;
  if (desired) {
    stamped = *desired;
    runtime::StateDirSecrets secrets(store.get(), ctx.StateDir(), RealClock::Get());
    RETURN_IF_ERROR(config::DiagnosticsStatus(config::StampSecretVersions(
        &*stamped, [&secrets](const std::string& name) { return secrets.CurrentVersion(name); })));
    desired = &*stamped;
  }
  in.desired = desired;
  ASSIGN_OR_RETURN(in.recorded_services, store->ListServices());
  ASSIGN_OR_RETURN(in.recorded_replicas, store->ListReplicas());
  auto driver = drivers::NewProcessDriver({server::InstanceId(ctx.StateDir()), RealClock::Get(), {}});
  ASSIGN_OR_RETURN(in.observed, driver->Observe());
  return plan::ComputePlan(in);
}

int RunPlan(Context& ctx, bool destroy) {
  std::optional<config::Stack> stack;
  if (!destroy) {
    stack = ctx.LoadStack();
    if (!stack) return kExitError;
  }
  nlohmann::json plan_json;
  std::string text;
  if (auto client = server::DaemonClient::Connect(ctx.StateDir()); client.ok() && stack) {
    auto j = client->Post("/api/v1/plan", {{"stack", config::StackToJson(*stack)}});
    if (!j.ok()) return Fail(j.status());
    plan_json = *j;
  } else {
    auto p = LocalPlan(ctx, stack ? &*stack : nullptr);
    if (!p.ok()) return Fail(p.status());
    plan_json = plan::RenderPlanJson(*p);
    if (!ctx.g.json) text = plan::RenderPlanText(*p, ctx.Color());
  }
  bool changes = !plan_json["changes"].empty();
  if (ctx.g.json) {
    std::cout << plan_json.dump(2) << "\n";
  } else if (!text.empty()) {
    std::cout << text;
  } else {
    // From the daemon: the text view is rebuilt from its JSON.
    auto p = plan::PlanFromJson(plan_json);
    if (!p.ok()) return Fail(p.status());
    std::cout << plan::RenderPlanText(*p, ctx.Color());
  }
  return changes ? kExitChanges : kExitOk;
}

}  // namespace

void AddValidate(CLI::App& app, Context& ctx, int& rc) {
  auto* cmd = app.add_subcommand("validate", "Check the stack file and report every error in it");
  cmd->add_flag("--json", ctx.g.json, "Print the result as JSON");
  cmd->callback([&] { rc = RunValidate(ctx); });
}

void AddPlan(CLI::App& app, Context& ctx, int& rc) {
  auto* cmd = app.add_subcommand(
      "plan", "Show what apply would change. Exit 0: no changes, 2: changes, 1: error");
  cmd->add_flag("--json", ctx.g.json, "Print the plan as JSON");
  static bool destroy = false;
  cmd->add_flag("--destroy", destroy, "Plan the destruction of everything");
  cmd->callback([&] { rc = RunPlan(ctx, destroy); });
}

}  // namespace steward::cli
