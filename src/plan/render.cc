// Text and JSON renderings of a Plan.
#include <sstream>

#include "plan/plan.h"

namespace steward::plan {
namespace {

const char* ColorOf(Action a) {
  switch (a) {
    case Action::kCreate: return "\033[32m";
    case Action::kUpdate: return "\033[33m";
    case Action::kReplace: return "\033[35m";
    case Action::kDestroy: return "\033[31m";
  }
  return "";
}

std::string Headline(const Change& c) {
  switch (c.action) {
    case Action::kCreate: return "will be created";
    case Action::kUpdate: return "will be updated in place";
    case Action::kReplace:
      return "must be replaced (rolling update to generation " + std::to_string(c.generation) + ")";
    case Action::kDestroy: return "will be destroyed";
  }
  return "";
}

}  // namespace

std::string RenderPlanText(const Plan& plan, bool color) {
  std::ostringstream out;
  if (plan.empty()) {
    out << "No changes. What runs matches the stack file.\n";
    return out.str();
  }
  const char* reset = color ? "\033[0m" : "";
  out << "Steward will perform the following actions";
  if (!plan.project.empty()) out << " on project " << plan.project;
  out << ":\n\n";
  for (const auto& c : plan.changes) {
    const char* col = color ? ColorOf(c.action) : "";
    out << "  " << col << ActionSymbol(c.action) << reset << " " << c.Resource() << " "
        << Headline(c) << "\n";
    for (const auto& r : c.reasons) out << "      # " << r << "\n";
    if (c.action == Action::kCreate || c.action == Action::kUpdate) {
      for (const auto& s : c.starts)
        if (c.action == Action::kUpdate)
          out << "      " << col << "+" << reset << " start replica " << s.slot << " (" << s.reason
              << ")\n";
    }
    if (c.action == Action::kReplace)
      out << "      " << col << "-/+" << reset << " " << c.starts.size()
          << " replica(s), one at a time: new ready before old stops\n";
    for (const auto& s : c.stops)
      if (c.action != Action::kReplace)
        out << "      " << col << "-" << reset << " stop replica " << s.slot << " pid " << s.pid
            << " (" << s.reason << ")\n";
    out << "\n";
  }
  out << "Plan: " << plan.CountOf(Action::kCreate) << " to create, "
      << plan.CountOf(Action::kUpdate) << " to update, " << plan.CountOf(Action::kReplace)
      << " to replace, " << plan.CountOf(Action::kDestroy) << " to destroy.\n";
  return out.str();
}

nlohmann::json RenderPlanJson(const Plan& plan) {
  nlohmann::json changes = nlohmann::json::array();
  for (const auto& c : plan.changes) {
    nlohmann::json starts = nlohmann::json::array(), stops = nlohmann::json::array();
    for (const auto& s : c.starts)
      starts.push_back({{"slot", s.slot}, {"generation", s.generation}, {"reason", s.reason}});
    for (const auto& s : c.stops)
      stops.push_back({{"slot", s.slot},
                       {"generation", s.generation},
                       {"pid", s.pid},
                       {"reason", s.reason}});
    changes.push_back({{"resource", c.Resource()},
                       {"service", c.service},
                       {"action", ActionName(c.action)},
                       {"symbol", ActionSymbol(c.action)},
                       {"generation", c.generation},
                       {"reasons", c.reasons},
                       {"depends_on", c.depends_on},
                       {"start_replicas", starts},
                       {"stop_replicas", stops}});
  }
  return {{"format_version", "1"},
          {"project", plan.project},
          {"summary",
           {{"create", plan.CountOf(Action::kCreate)},
            {"update", plan.CountOf(Action::kUpdate)},
            {"replace", plan.CountOf(Action::kReplace)},
            {"destroy", plan.CountOf(Action::kDestroy)}}},
          {"changes", changes}};
}

StatusOr<Plan> PlanFromJson(const nlohmann::json& j) {
  try {
    Plan p;
    p.project = j.value("project", "");
    for (const auto& c : j.at("changes")) {
      Change ch;
      ch.service = c.value("service", "");
      auto action = ActionFromName(c.value("action", ""));
      if (!action) return InvalidArgument("plan JSON: unknown action in " + c.dump());
      ch.action = *action;
      ch.generation = c.value("generation", int64_t{0});
      ch.reasons = c.value("reasons", std::vector<std::string>{});
      ch.depends_on = c.value("depends_on", std::vector<std::string>{});
      for (const auto& s : c.value("start_replicas", nlohmann::json::array()))
        ch.starts.push_back({s.value("slot", 0), s.value("generation", int64_t{0}),
                             s.value("reason", "")});
      for (const auto& s : c.value("stop_replicas", nlohmann::json::array()))
        ch.stops.push_back({s.value("slot", 0), s.value("generation", int64_t{0}),
                            s.value("pid", 0), 0, s.value("reason", "")});
      p.changes.push_back(std::move(ch));
    }
    return p;
  } catch (const nlohmann::json::exception& e) {
    return InvalidArgument(std::string("plan JSON: ") + e.what());
  }
}

}  // namespace steward::plan
