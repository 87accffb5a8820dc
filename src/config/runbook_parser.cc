// Reads the stack's `runbooks:` section (runbook.h), after the services: a map of name ->
// {alert, matchers, action, ...}. Every error goes through the ParseContext at the value's
// file:line:col: unknown keys (with a did-you-mean), keys of another action, missing alert,
// action or command, services that are not defined, bad matchers and out-of-range guard rails.
// Also the runbooks' JSON form (the stack JSON the daemon records).
#include <fmt/format.h>

#include <algorithm>
#include <cctype>
#include <charconv>
#include <span>

#include "config/parse_context.h"
#include "config/runbook.h"
#include "config/stack.h"
#include "config/stack_parser.h"

namespace steward::config {
namespace {

constexpr std::pair<RunbookAction, std::string_view> kActions[] = {
    {RunbookAction::kRestart, "restart"},
    {RunbookAction::kRollback, "rollback"},
    {RunbookAction::kScale, "scale"},
    {RunbookAction::kCommand, "command"}};

}  // namespace

std::string_view RunbookActionName(RunbookAction action) {
  for (const auto& [a, name] : kActions) {
    if (a == action) return name;
  }
  return "?";
}

bool RunbookActionFromName(std::string_view name, RunbookAction* out) {
  for (const auto& [a, n] : kActions) {
    if (n == name) {
      *out = a;
      return true;
    }
  }
  return false;
}

std::string ScaleText(const Runbook& r) {
  if (!r.replicas_relative) return std::to_string(r.replicas);
  return fmt::format("{}{}", r.replicas < 0 ? "-" : "+", std::abs(r.replicas));
}

}  // namespace steward::config

namespace steward::config::internal {
namespace {

constexpr std::string_view kRunbookKeys[] = {
    "alert",    "matchers",          "action",  "service",    "replica",
    "replicas", "max_replicas",      "command", "timeout",    "max_runs_per_hour",
    "cooldown", "only_while_firing", "dry_run", "description"};
constexpr std::string_view kActionNames[] = {"restart", "rollback", "scale", "command"};
constexpr int kMaxReplicasBound = 1000;

// The action a key belongs to, or "" for keys every runbook may have.
std::string_view ActionOfKey(std::string_view key) {
  if (key == "replica") return "restart";
  if (key == "replicas" || key == "max_replicas") return "scale";
  if (key == "command" || key == "timeout") return "command";
  return "";
}

bool IsAlertName(std::string_view s) {
  if (s.empty()) return false;
  for (size_t i = 0; i < s.size(); ++i) {
    unsigned char c = static_cast<unsigned char>(s[i]);
    bool ok = std::isalpha(c) || c == '_' || c == ':' || (i > 0 && std::isdigit(c));
    if (!ok) return false;
  }
  return true;
}

// "+1", "-2" (relative) or "3" (absolute).
bool ParseScale(std::string_view s, bool* relative, int* value) {
  *relative = !s.empty() && (s[0] == '+' || s[0] == '-');
  std::string_view digits = *relative ? s.substr(1) : s;
  int n = 0;
  auto [end, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), n);
  if (digits.empty() || ec != std::errc() || end != digits.data() + digits.size()) return false;
  if (n > kMaxReplicasBound) return false;
  *value = (*relative && s[0] == '-') ? -n : n;
  return true;
}

template <typename T>
void Assign(std::optional<T> v, T* out) {
  if (v) *out = std::move(*v);
}

class RunbookReader {
 public:
  RunbookReader(ParseContext& ctx, const Stack& stack, Runbook* r)
      : ctx_(ctx), stack_(stack), r_(*r), who_(fmt::format("runbook '{}'", r->name)) {}

  void Read(const Entry& e) {
    std::vector<Entry> entries = ctx_.Entries(e.value, kRunbookKeys, "in " + who_);
    bool action_known = Action(entries);
    for (const Entry& f : entries) {
      std::string_view owner = ActionOfKey(f.key);
      if (action_known && !owner.empty() && owner != RunbookActionName(r_.action)) {
        ctx_.Error(ctx_.Loc(f.key_node),
                   fmt::format("{}: '{}' is for {} runbooks, and this one is {}", who_, f.key,
                               owner, RunbookActionName(r_.action)));
        continue;
      }
      ReadKey(f);
    }
    CheckRequired(e, entries, action_known);
  }

 private:
  bool Action(const std::vector<Entry>& entries) {
    auto it = std::find_if(entries.begin(), entries.end(),
                           [](const Entry& f) { return f.key == "action"; });
    if (it == entries.end()) return false;  // reported by CheckRequired
    std::optional<std::string> name = ctx_.String(*it, who_);
    if (!name) return false;
    if (!RunbookActionFromName(*name, &r_.action)) {
      std::string hint = Suggest(*name, kActionNames);
      ctx_.Error(
          ctx_.Loc(*it),
          fmt::format("{}: unknown action '{}'; use one of restart, rollback, scale, "
                      "command{}",
                      who_, *name, hint.empty() ? "" : fmt::format(" (did you mean '{}'?)", hint)));
      return false;
    }
    return true;
  }

  void ReadKey(const Entry& f) {
    if (f.key == "alert") Alert(f);
    if (f.key == "matchers") Matchers(f);
    if (f.key == "service") Service(f);
    if (f.key == "replica") Assign(Int(f, 0, kMaxReplicasBound - 1), &r_.replica);
    if (f.key == "replicas") Replicas(f);
    if (f.key == "max_replicas") Assign(Int(f, 1, kMaxReplicasBound), &r_.max_replicas);
    if (f.key == "command") Command(f);
    if (f.key == "timeout") Assign(Positive(f), &r_.timeout);
    if (f.key == "max_runs_per_hour") Assign(Int(f, 1, 1000), &r_.max_runs_per_hour);
    if (f.key == "cooldown") Assign(ctx_.Dur(f, who_), &r_.cooldown);
    if (f.key == "only_while_firing") Assign(ctx_.Bool(f, who_), &r_.only_while_firing);
    if (f.key == "dry_run") Assign(ctx_.Bool(f, who_), &r_.dry_run);
    if (f.key == "description") Assign(ctx_.String(f, who_), &r_.description);
  }

  std::optional<int> Int(const Entry& f, int min, int max) {
    std::optional<int64_t> v = ctx_.Int(f, who_, min, max);
    if (!v) return std::nullopt;
    return static_cast<int>(*v);
  }

  std::optional<Duration> Positive(const Entry& f) {
    std::optional<Duration> d = ctx_.Dur(f, who_);
    if (d && d->count() <= 0) {
      ctx_.Error(ctx_.Loc(f), fmt::format("{} must be longer than 0, e.g. 60s",
                                          ParseContext::Subject(who_, f.path)));
      return std::nullopt;
    }
    return d;
  }

  void Alert(const Entry& f) {
    std::optional<std::string> name = ctx_.String(f, who_);
    if (!name) return;
    if (!IsAlertName(*name)) {
      ctx_.Error(ctx_.Loc(f), fmt::format("{}: 'alert' must be an alert name (letters, digits, "
                                          "'_' and ':', not starting with a digit), e.g. "
                                          "StewardReplicaDown, got '{}'",
                                          who_, *name));
      return;
    }
    r_.alert = *name;
  }

  void Matchers(const Entry& f) {
    if (!f.value.IsSequence()) {
      ctx_.Error(ctx_.Loc(f),
                 fmt::format("{} must be a list of matchers, e.g. "
                             "['service=\"api\"', 'severity=~\"critical|page\"'], "
                             "got {}",
                             ParseContext::Subject(who_, f.path), ParseContext::Describe(f.value)));
      return;
    }
    for (YamlNode item : f.value.Items()) {
      std::optional<std::string> text = ctx_.ItemString(item, f, who_);
      if (!text) continue;
      StatusOr<std::vector<LabelMatcher>> ms = ParseLabelMatchers(*text);
      if (!ms.ok()) {
        ctx_.Error(ctx_.Loc(item), fmt::format("{}: {}", ParseContext::Subject(who_, f.path),
                                               ms.status().message()));
        continue;
      }
      r_.matchers.insert(r_.matchers.end(), ms->begin(), ms->end());
    }
  }

  void Service(const Entry& f) {
    std::optional<std::string> name = ctx_.String(f, who_);
    if (!name) return;
    service_at_ = ctx_.Loc(f);
    r_.service = *name;
  }

  void Replicas(const Entry& f) {
    std::optional<std::string> text = ctx_.String(f, who_);
    if (!text) return;
    if (!ParseScale(*text, &r_.replicas_relative, &r_.replicas) ||
        (!r_.replicas_relative && r_.replicas < 1) || (r_.replicas_relative && r_.replicas == 0)) {
      ctx_.Error(ctx_.Loc(f), fmt::format("{}: 'replicas' must be a change such as \"+1\" or "
                                          "\"-1\" or a count such as 3 (at least 1), got '{}'",
                                          who_, *text));
      return;
    }
    replicas_at_ = ctx_.Loc(f);
  }

  void Command(const Entry& f) {
    std::optional<std::vector<std::string>> argv = ctx_.StringList(f, who_);
    if (!argv) return;
    if (argv->empty() || (*argv)[0].empty()) {
      ctx_.Error(ctx_.Loc(f), fmt::format("{}: 'command' needs a program, e.g. command: "
                                          "[./scripts/clear-cache.sh, --all]",
                                          who_));
      return;
    }
    r_.command = *std::move(argv);
  }

  void CheckRequired(const Entry& e, const std::vector<Entry>& entries, bool action_known) {
    auto has = [&](std::string_view key) {
      return std::any_of(entries.begin(), entries.end(),
                         [&](const Entry& f) { return f.key == key; });
    };
    SourceLocation at = ctx_.Loc(e.key_node);
    if (!has("alert")) {
      ctx_.Error(at, fmt::format("{} has no 'alert'; add the alert it answers, e.g. alert: "
                                 "StewardReplicaDown",
                                 who_));
    }
    if (!has("action")) {
      ctx_.Error(at, fmt::format("{} has no 'action'; add one of restart, rollback, scale, "
                                 "command",
                                 who_));
    }
    if (action_known && r_.action == RunbookAction::kCommand && !has("command")) {
      ctx_.Error(at, fmt::format("{} runs a command but has no 'command'; add e.g. command: "
                                 "[./scripts/clear-cache.sh]",
                                 who_));
    }
    CheckService();
    if (action_known && r_.action == RunbookAction::kScale && !r_.replicas_relative &&
        r_.replicas > r_.max_replicas && replicas_at_.line > 0) {
      ctx_.Error(replicas_at_, fmt::format("{}: 'replicas' ({}) is above 'max_replicas' ({})", who_,
                                           r_.replicas, r_.max_replicas));
    }
  }

  void CheckService() {
    if (r_.service.empty() || service_at_.line == 0) return;
    const config::Service* s = stack_.FindService(r_.service);
    if (s == nullptr) {
      std::vector<std::string_view> names;
      std::string defined;
      for (const config::Service& svc : stack_.services) {
        names.push_back(svc.name);
        defined += (defined.empty() ? "" : ", ") + svc.name;
      }
      std::string hint = Suggest(r_.service, names);
      ctx_.Error(
          service_at_,
          fmt::format("{}: service '{}' is not defined{}; defined services: {}", who_, r_.service,
                      hint.empty() ? "" : fmt::format(" (did you mean '{}'?)", hint),
                      defined.empty() ? "none" : defined));
    } else if (r_.replica >= s->replicas && r_.action == RunbookAction::kRestart) {
      ctx_.Error(service_at_, fmt::format("{}: 'replica' {} does not exist; service '{}' has "
                                          "{} replica(s), numbered from 0",
                                          who_, r_.replica, s->name, s->replicas));
    }
  }

  ParseContext& ctx_;
  const Stack& stack_;
  Runbook& r_;
  std::string who_;
  SourceLocation service_at_;
  SourceLocation replicas_at_;
};

}  // namespace

// Called by ParseStack (stack_parser.cc) after the services have been read.
void ParseRunbooks(ParseContext& ctx, const std::vector<Entry>& top, Stack* stack) {
  auto e = std::find_if(top.begin(), top.end(), [](const Entry& t) { return t.key == "runbooks"; });
  if (e == top.end() || !ctx.ExpectMap(*e, "")) return;
  for (const Entry& r : ctx.Entries(e->value, {}, "in runbooks", "runbooks.")) {
    if (!IsValidName(r.key)) {
      ctx.Error(ctx.Loc(r.key_node),
                fmt::format("runbook name '{}' is not valid; {}", r.key, NameRule("restart-api")));
      continue;
    }
    Runbook rb;
    rb.name = r.key;
    rb.line = ctx.Loc(r.key_node).line;
    if (!r.value.IsMap()) {
      ctx.Error(ctx.Loc(r.key_node),
                fmt::format("runbook '{}' must be a map with at least 'alert' and 'action', e.g. "
                            "{}: {{alert: StewardReplicaDown, action: restart}}, got {}",
                            r.key, r.key, ParseContext::Describe(r.value)));
      continue;
    }
    RunbookReader(ctx, *stack, &rb).Read(r);
    stack->runbooks.push_back(std::move(rb));
  }
}

}  // namespace steward::config::internal

namespace steward::config {

nlohmann::json RunbookToJson(const Runbook& r) {
  nlohmann::json matchers = nlohmann::json::array();
  for (const LabelMatcher& m : r.matchers) matchers.push_back(m.ToString());
  return {{"name", r.name},
          {"line", r.line},
          {"alert", r.alert},
          {"matchers", std::move(matchers)},
          {"action", RunbookActionName(r.action)},
          {"service", r.service},
          {"replica", r.replica},
          {"replicas", ScaleText(r)},
          {"max_replicas", r.max_replicas},
          {"command", r.command},
          {"timeout_ms", r.timeout.count()},
          {"max_runs_per_hour", r.max_runs_per_hour},
          {"cooldown_ms", r.cooldown.count()},
          {"only_while_firing", r.only_while_firing},
          {"dry_run", r.dry_run},
          {"description", r.description}};
}

namespace {

template <typename T>
Status ReadJson(const nlohmann::json& j, const char* key, T* out) {
  auto it = j.find(key);
  if (it == j.end()) return Status::OK();
  try {
    if constexpr (std::is_same_v<T, int> || std::is_same_v<T, int64_t>) {
      if (!it->is_number_integer()) throw std::invalid_argument("not an integer");
      int64_t v = it->template get<int64_t>();
      if (v < -1 || v > 1'000'000'000'000LL) throw std::invalid_argument("out of range");
      *out = static_cast<T>(v);
    } else {
      *out = it->template get<T>();
    }
  } catch (const std::exception&) {
    return InvalidArgument(fmt::format("runbook JSON: '{}' has the wrong type", key));
  }
  return Status::OK();
}

}  // namespace

StatusOr<Runbook> RunbookFromJson(const nlohmann::json& j) {
  if (!j.is_object()) return InvalidArgument("runbook JSON: a runbook must be an object");
  Runbook r;
  std::string action = "restart", replicas = "+1";
  std::vector<std::string> matchers;
  int64_t timeout_ms = r.timeout.count(), cooldown_ms = r.cooldown.count();
  RETURN_IF_ERROR(ReadJson(j, "name", &r.name));
  RETURN_IF_ERROR(ReadJson(j, "line", &r.line));
  RETURN_IF_ERROR(ReadJson(j, "alert", &r.alert));
  RETURN_IF_ERROR(ReadJson(j, "matchers", &matchers));
  RETURN_IF_ERROR(ReadJson(j, "action", &action));
  RETURN_IF_ERROR(ReadJson(j, "service", &r.service));
  RETURN_IF_ERROR(ReadJson(j, "replica", &r.replica));
  RETURN_IF_ERROR(ReadJson(j, "replicas", &replicas));
  RETURN_IF_ERROR(ReadJson(j, "max_replicas", &r.max_replicas));
  RETURN_IF_ERROR(ReadJson(j, "command", &r.command));
  RETURN_IF_ERROR(ReadJson(j, "timeout_ms", &timeout_ms));
  RETURN_IF_ERROR(ReadJson(j, "max_runs_per_hour", &r.max_runs_per_hour));
  RETURN_IF_ERROR(ReadJson(j, "cooldown_ms", &cooldown_ms));
  RETURN_IF_ERROR(ReadJson(j, "only_while_firing", &r.only_while_firing));
  RETURN_IF_ERROR(ReadJson(j, "dry_run", &r.dry_run));
  RETURN_IF_ERROR(ReadJson(j, "description", &r.description));
  if (!RunbookActionFromName(action, &r.action)) {
    return InvalidArgument(fmt::format("runbook JSON: unknown action '{}'", action));
  }
  if (!internal::ParseScale(replicas, &r.replicas_relative, &r.replicas)) {
    return InvalidArgument(fmt::format("runbook JSON: bad replicas '{}'", replicas));
  }
  for (const std::string& m : matchers) {
    StatusOr<std::vector<LabelMatcher>> ms = ParseLabelMatchers(m);
    if (!ms.ok()) return ms.status().Annotate("runbook JSON");
    r.matchers.insert(r.matchers.end(), ms->begin(), ms->end());
  }
  r.timeout = std::chrono::milliseconds(timeout_ms);
  r.cooldown = std::chrono::milliseconds(cooldown_ms);
  return r;
}

nlohmann::json RunbooksToJson(const std::vector<Runbook>& runbooks) {
  nlohmann::json out = nlohmann::json::array();
  for (const Runbook& r : runbooks) out.push_back(RunbookToJson(r));
  return out;
}

StatusOr<std::vector<Runbook>> RunbooksFromJson(const nlohmann::json& array) {
  if (!array.is_array()) return InvalidArgument("runbook JSON: 'runbooks' must be an array");
  std::vector<Runbook> out;
  for (const nlohmann::json& j : array) {
    StatusOr<Runbook> r = RunbookFromJson(j);
    if (!r.ok()) return r.status();
    out.push_back(*std::move(r));
  }
  return out;
}

}  // namespace steward::config
