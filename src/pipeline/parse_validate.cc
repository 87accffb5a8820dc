// ValidatePipeline and Expand (pipeline/parse.h): the checks of a built model — ids, the DAG,
// job and step shapes, expressions, cron lines, matrix sizes — and the matrix expansion into
// job instances in a topological order.
#include <fmt/format.h>

#include <algorithm>
#include <functional>
#include <queue>
#include <set>

#include "config/parse_context.h"  // Suggest
#include "pipeline/cron.h"
#include "pipeline/expr.h"
#include "pipeline/parse_internal.h"

namespace steward::pipeline {
namespace internal {
namespace {

using nlohmann::json;

bool IsId(std::string_view id) {
  if (id.empty() ||
      !((id[0] >= 'a' && id[0] <= 'z') || (id[0] >= 'A' && id[0] <= 'Z') || id[0] == '_')) {
    return false;
  }
  return std::all_of(id.begin(), id.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' ||
           c == '-';
  });
}

bool IsKnownShell(std::string_view shell) {
  return shell.empty() || shell == "bash" || shell == "sh" || shell == "python" ||
         shell == "python3" || shell.find("{0}") != std::string_view::npos;
}

std::string StepWhere(const Job& j, size_t i) {
  return fmt::format("job '{}', step {}", j.id, i + 1);
}

constexpr size_t kMaxJobs = 5000;  // docs/formats/pipelines.md, Limits

class Checker {
 public:
  explicit Checker(const Pipeline& p) : p_(p) {}

  std::vector<Diagnostic> Structure() {
    CheckJobs();
    // The search recurses along needs; a pipeline this large is a mistake anyway.
    if (p_.jobs.size() > kMaxJobs) {
      Error(p_.location, fmt::format("the pipeline has {} jobs; at most {} are allowed",
                                     p_.jobs.size(), kMaxJobs));
    } else {
      CheckCycles();
    }
    for (const Trigger& t : p_.triggers) CheckTrigger(t);
    return std::move(out_);
  }

  std::vector<Diagnostic> Expressions() {
    for (const Job& j : p_.jobs) {
      std::string where = fmt::format("job '{}'", j.id);
      Cond(j.location, where, "if", j.if_expr);
      for (const auto& [k, v] : j.env) Interp(j.location, where, "env." + k, v);
      for (const auto& [k, v] : j.outputs) Interp(j.location, where, "outputs." + k, v);
      for (size_t i = 0; i < j.steps.size(); ++i) {
        const Step& s = j.steps[i];
        std::string sw = StepWhere(j, i);
        Cond(s.location, sw, "if", s.if_expr);
        Interp(s.location, sw, "run", s.run);
        Interp(s.location, sw, "name", s.name);
        for (const auto& [k, v] : s.env) Interp(s.location, sw, "env." + k, v);
        for (const auto& [k, v] : s.with) Interp(s.location, sw, "with." + k, v);
        if (s.deploy) {
          Interp(s.location, sw, "version", s.deploy->version);
          for (const auto& [k, v] : s.deploy->env) Interp(s.location, sw, "env." + k, v);
        }
      }
    }
    for (const auto& [k, v] : p_.env) Interp(p_.location, "pipeline", "env." + k, v);
    return std::move(out_);
  }

 private:
  void Error(const SourceLocation& at, std::string message) {
    out_.push_back(Diagnostic{at, std::move(message)});
  }
  void Cond(const SourceLocation& at, const std::string& where, std::string_view key,
            const std::string& text) {
    Status st = CheckCondition(text);
    if (!st.ok()) Error(at, fmt::format("{}: '{}': {}", where, key, st.message()));
  }
  void Interp(const SourceLocation& at, const std::string& where, std::string_view key,
              const std::string& text) {
    Status st = CheckInterpolation(text);
    if (!st.ok()) Error(at, fmt::format("{}: '{}': {}", where, key, st.message()));
  }

  void CheckJobs() {
    std::set<std::string> ids;
    std::vector<std::string_view> names;
    for (const Job& j : p_.jobs) names.push_back(j.id);
    if (p_.jobs.empty())
      Error(p_.location, "the pipeline has no jobs; add e.g. jobs: {build: {run: make}}");
    for (const Job& j : p_.jobs) {
      std::string where = fmt::format("job '{}'", j.id);
      if (!IsId(j.id)) {
        Error(j.location, fmt::format("job id '{}' is not valid; start with a letter or '_' and "
                                      "use letters, digits, '-' and '_'",
                                      j.id));
      }
      if (!ids.insert(j.id).second)
        Error(j.location, fmt::format("job '{}' is defined twice", j.id));
      std::set<std::string> seen_needs;
      for (const std::string& n : j.needs) {
        if (!seen_needs.insert(n).second) {
          Error(j.location, fmt::format("{} needs '{}' twice", where, n));
        } else if (n != j.id && p_.FindJob(n) == nullptr) {
          std::string hint = config::internal::Suggest(n, names);
          Error(j.location,
                fmt::format("{} needs '{}', which is not a job of this pipeline{}", where, n,
                            hint.empty() ? "" : fmt::format("; did you mean '{}'?", hint)));
        }
      }
      if (j.retries < 0 || j.retries > 100) {
        Error(j.location,
              fmt::format("{}: retries must be from 0 to 100, got {}", where, j.retries));
      }
      if (j.timeout.count() < 0)
        Error(j.location, fmt::format("{}: the timeout is negative", where));
      if (j.matrix.max_parallel < 0) {
        Error(j.location, fmt::format("{}: max_parallel must not be negative", where));
      }
      if (!IsKnownShell(j.shell)) Error(j.location, ShellMessage(where, j.shell));
      if (!j.matrix.empty()) {
        StatusOr<std::vector<json>> combos = MatrixCombinations(j.matrix);
        if (!combos.ok())
          Error(j.location, fmt::format("{}: {}", where, combos.status().message()));
      }
      if (j.steps.empty()) {
        Error(j.location, fmt::format("{} has neither run nor steps; add run: <command> or a "
                                      "steps: list",
                                      where));
      }
      CheckSteps(j);
    }
  }

  static std::string ShellMessage(std::string_view where, std::string_view shell) {
    return fmt::format(
        "{}: shell '{}' is not supported here; use bash, sh, python3 or a "
        "command with {{0}} for the script file (e.g. 'perl {{0}}')",
        where, shell);
  }

  void CheckSteps(const Job& j) {
    std::map<std::string, size_t> ids;
    for (size_t i = 0; i < j.steps.size(); ++i) {
      const Step& s = j.steps[i];
      std::string where = StepWhere(j, i);
      int kinds = !s.run.empty() + !s.uses.empty() + s.deploy.has_value();
      if (kinds == 0) {
        Error(s.location, fmt::format("{} has none of run, uses or deploy; a step does one of "
                                      "them",
                                      where));
      } else if (kinds > 1) {
        std::vector<std::string> have;
        if (!s.run.empty()) have.push_back("run");
        if (!s.uses.empty()) have.push_back("uses");
        if (s.deploy) have.push_back("deploy");
        Error(s.location, fmt::format("{} has {}; a step does only one of run, uses or deploy — "
                                      "split it into several steps",
                                      where, fmt::join(have, " and ")));
      }
      if (!s.id.empty()) {
        if (!IsId(s.id)) {
          Error(s.location, fmt::format("{}: id '{}' is not valid; start with a letter or '_' and "
                                        "use letters, digits, '-' and '_'",
                                        where, s.id));
        }
        auto [it, fresh] = ids.emplace(s.id, i);
        if (!fresh) {
          Error(s.location, fmt::format("{}: step id '{}' is already used by step {} of job '{}'; "
                                        "step ids must be unique within a job",
                                        where, s.id, it->second + 1, j.id));
        }
      }
      if (!IsKnownShell(s.shell)) Error(s.location, ShellMessage(where, s.shell));
      if (s.timeout.count() < 0)
        Error(s.location, fmt::format("{}: the timeout is negative", where));
      if (s.deploy) {
        const DeployStep& d = *s.deploy;
        if (d.service.empty()) {
          Error(s.location,
                fmt::format("{}: deploy needs a service name, e.g. deploy: web", where));
        }
        if (!d.strategy.empty() && d.strategy != "rolling" && d.strategy != "blue-green" &&
            d.strategy != "canary") {
          Error(s.location, fmt::format("{}: strategy '{}' is not one of rolling, blue-green, "
                                        "canary",
                                        where, d.strategy));
        }
      }
    }
  }

  // Depth-first search in file order; each cycle is reported once, from its first job.
  void CheckCycles() {
    std::map<std::string, int> state;  // 0 new, 1 on the path, 2 done
    std::vector<std::string> path;
    std::set<std::string> reported;
    std::function<void(const Job&)> visit = [&](const Job& j) {
      state[j.id] = 1;
      path.push_back(j.id);
      for (const std::string& n : j.needs) {
        const Job* next = p_.FindJob(n);
        if (next == nullptr) continue;
        if (state[n] == 1) {
          auto start = std::find(path.begin(), path.end(), n);
          std::vector<std::string> cycle(start, path.end());
          cycle.push_back(n);
          std::vector<std::string> key(cycle.begin(), cycle.end() - 1);
          std::sort(key.begin(), key.end());
          if (reported.insert(fmt::format("{}", fmt::join(key, " "))).second) {
            const Job* first = p_.FindJob(cycle.front());
            Error(first->location, fmt::format("jobs depend on each other in a cycle: {}; remove "
                                               "one of these needs",
                                               fmt::join(cycle, " -> ")));
          }
        } else if (state[n] == 0) {
          visit(*next);
        }
      }
      path.pop_back();
      state[j.id] = 2;
    };
    for (const Job& j : p_.jobs) {
      if (state[j.id] == 0) visit(j);
    }
  }

  void CheckTrigger(const Trigger& t) {
    switch (t.kind) {
      case TriggerKind::kSchedule: {
        StatusOr<CronSchedule> c = CronSchedule::Parse(t.cron);
        if (!c.ok()) {
          Error(t.location, fmt::format("schedule '{}' is not a valid cron line: {}; write five "
                                        "fields, minute hour day-of-month month day-of-week, e.g. "
                                        "'30 2 * * 1-5'",
                                        t.cron, c.status().message()));
        }
        break;
      }
      case TriggerKind::kWebhook:
        if (t.secret.empty()) {
          Error(t.location,
                "webhook needs secret: NAME, the environment variable or secret "
                "holding the HMAC key that signs its requests");
        }
        break;
      case TriggerKind::kPush:
        if (t.poll.count() < 1000) {
          Error(t.location, "push: poll must be at least 1s");
        }
        break;
      case TriggerKind::kManual:
        break;
    }
  }

  const Pipeline& p_;
  std::vector<Diagnostic> out_;
};

// Whether every key of `entry` that `combo` has holds the same value; with `all`, also
// whether `combo` has every key of `entry`.
bool Matches(const json& combo, const json& entry, bool all) {
  for (auto it = entry.begin(); it != entry.end(); ++it) {
    auto c = combo.find(it.key());
    if (c == combo.end()) {
      if (all) return false;
      continue;
    }
    if (*c != it.value()) return false;
  }
  return true;
}

std::string InstanceValue(const json& v) {
  return v.is_string() ? v.get<std::string>() : ValueToString(v);
}

}  // namespace

std::vector<Diagnostic> ValidateStructure(const Pipeline& p) { return Checker(p).Structure(); }
std::vector<Diagnostic> ValidateExpressions(const Pipeline& p) { return Checker(p).Expressions(); }

StatusOr<std::vector<json>> MatrixCombinations(const Matrix& m) {
  std::vector<json> combos;
  if (!m.axes.empty()) combos.push_back(json::object());
  for (const auto& [axis, values] : m.axes) {
    if (values.empty()) return InvalidArgument(fmt::format("matrix axis '{}' has no values", axis));
    if (combos.size() * values.size() > kMaxMatrixCombinations * 16) {
      return InvalidArgument(
          fmt::format("the matrix has more than {} combinations", kMaxMatrixCombinations));
    }
    std::vector<json> next;
    for (const json& c : combos) {  // the first axis varies slowest, as in GitHub
      for (const json& v : values) {
        json n = c;
        n[axis] = v;
        next.push_back(std::move(n));
      }
    }
    combos = std::move(next);
  }
  std::erase_if(combos, [&](const json& c) {
    return std::any_of(m.exclude.begin(), m.exclude.end(),
                       [&](const json& e) { return e.is_object() && Matches(c, e, true); });
  });
  // include: extend every original combination it does not contradict on an axis value;
  // added keys may be overwritten by later entries. One that extends none is a combination.
  size_t originals = combos.size();
  for (const json& inc : m.include) {
    if (!inc.is_object()) continue;
    bool extended = false;
    for (size_t i = 0; i < originals; ++i) {
      bool clash = false;
      for (const auto& [axis, values] : m.axes) {
        auto v = inc.find(axis);
        if (v != inc.end() && combos[i][axis] != *v) clash = true;
      }
      if (clash) continue;
      for (auto it = inc.begin(); it != inc.end(); ++it) combos[i][it.key()] = it.value();
      extended = true;
    }
    if (!extended) combos.push_back(inc);
  }
  if (combos.empty()) {
    return InvalidArgument("the matrix leaves no combination to run (every one is excluded)");
  }
  if (combos.size() > kMaxMatrixCombinations) {
    return InvalidArgument(fmt::format("the matrix has {} combinations; at most {} are allowed",
                                       combos.size(), kMaxMatrixCombinations));
  }
  return combos;
}

}  // namespace internal

std::vector<config::Diagnostic> ValidatePipeline(const Pipeline& p) {
  std::vector<config::Diagnostic> out = internal::ValidateStructure(p);
  std::vector<config::Diagnostic> exprs = internal::ValidateExpressions(p);
  out.insert(out.end(), exprs.begin(), exprs.end());
  return out;
}

StatusOr<std::vector<JobInstance>> Expand(const Pipeline& p) {
  std::vector<config::Diagnostic> errors = ValidatePipeline(p);
  if (!errors.empty()) {
    std::string all;
    for (const auto& d : errors) all += (all.empty() ? "" : "\n") + d.ToString();
    return InvalidArgument(all);
  }
  // Instances per job, in the job's combination order.
  std::map<std::string, std::vector<JobInstance>> by_job;
  std::map<std::string, std::vector<std::string>> keys_of;  // by_job's keys, kept after moves
  std::set<std::string> keys;
  for (const Job& j : p.jobs) {
    std::vector<nlohmann::json> combos{nlohmann::json::object()};
    if (!j.matrix.empty()) {
      ASSIGN_OR_RETURN(combos, internal::MatrixCombinations(j.matrix));
    }
    for (const nlohmann::json& c : combos) {
      JobInstance inst;
      inst.job = &j;
      inst.matrix = c;
      std::vector<std::string> shown;
      for (const auto& [axis, values] : j.matrix.axes) {
        if (c.contains(axis)) shown.push_back(internal::InstanceValue(c[axis]));
      }
      // Keys that include added, in the order of the include entries.
      std::set<std::string> done;
      for (const auto& [axis, values] : j.matrix.axes) done.insert(axis);
      for (const nlohmann::json& inc : j.matrix.include) {
        if (!inc.is_object()) continue;
        for (auto it = inc.begin(); it != inc.end(); ++it) {
          if (c.contains(it.key()) && done.insert(it.key()).second) {
            shown.push_back(internal::InstanceValue(c[it.key()]));
          }
        }
      }
      inst.key = shown.empty() || j.matrix.empty()
                     ? j.id
                     : fmt::format("{} ({})", j.id, fmt::join(shown, ", "));
      std::string base = inst.key;
      for (int n = 2; !keys.insert(inst.key).second; ++n) inst.key = fmt::format("{} #{}", base, n);
      keys_of[j.id].push_back(inst.key);
      by_job[j.id].push_back(std::move(inst));
    }
  }
  // Kahn's algorithm, always taking the first job in file order whose needs are placed: a
  // min-heap of file positions, so a pipeline of thousands of jobs is placed in n log n, not
  // in a scan of every job per job placed.
  std::map<std::string, size_t> position;
  for (size_t i = 0; i < p.jobs.size(); ++i) position.emplace(p.jobs[i].id, i);
  std::vector<size_t> unplaced_needs(p.jobs.size(), 0);
  std::vector<std::vector<size_t>> needed_by(p.jobs.size());
  for (size_t i = 0; i < p.jobs.size(); ++i) {
    for (const std::string& n : p.jobs[i].needs) {
      auto it = position.find(n);
      if (it == position.end()) continue;  // validation reported it
      ++unplaced_needs[i];
      needed_by[it->second].push_back(i);
    }
  }
  std::priority_queue<size_t, std::vector<size_t>, std::greater<size_t>> ready;
  for (size_t i = 0; i < p.jobs.size(); ++i)
    if (unplaced_needs[i] == 0) ready.push(i);
  std::vector<JobInstance> out;
  size_t placed = 0;
  while (!ready.empty()) {
    const Job* next = &p.jobs[ready.top()];
    const size_t index = ready.top();
    ready.pop();
    std::vector<std::string> needs;
    for (const std::string& n : next->needs) {
      needs.insert(needs.end(), keys_of[n].begin(), keys_of[n].end());
    }
    for (JobInstance& inst : by_job[next->id]) {
      inst.needs = needs;
      out.push_back(std::move(inst));
    }
    ++placed;
    for (size_t d : needed_by[index])
      if (--unplaced_needs[d] == 0) ready.push(d);
  }
  if (placed < p.jobs.size()) return Internal("the jobs form a cycle that validation missed");
  return out;
}

}  // namespace steward::pipeline
