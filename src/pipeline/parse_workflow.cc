// GitHub Actions workflow files (.github/workflows/*.yml) read into pipeline::Pipeline: the
// run-steps, needs, matrices, conditions and outputs Steward can honour on this machine.
// What cannot be honoured (containers, service containers, reusable workflows) is an error;
// what does not matter here (permissions, concurrency, uses: actions) is a note.
#include <fmt/format.h>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "base/json.h"
#include "config/parse_context.h"  // Suggest
#include "pipeline/expr_node.h"    // ParseNumberText
#include "pipeline/parse.h"
#include "pipeline/parse_internal.h"

namespace steward::pipeline {
namespace {

using internal::Reader;
using internal::YamlDoc;
using internal::YamlNode;
using internal::YamlPair;

constexpr std::string_view kWorkflowKeys[] = {"name",     "run-name", "on",          "env",
                                              "defaults", "jobs",     "permissions", "concurrency"};
constexpr std::string_view kJobKeys[] = {
    "name",        "needs",       "runs-on",         "if",
    "env",         "defaults",    "timeout-minutes", "continue-on-error",
    "strategy",    "outputs",     "steps",           "permissions",
    "concurrency", "environment", "container",       "services",
    "uses",        "with",        "secrets"};
constexpr std::string_view kStepKeys[] = {"id",
                                          "name",
                                          "run",
                                          "shell",
                                          "env",
                                          "if",
                                          "working-directory",
                                          "continue-on-error",
                                          "timeout-minutes",
                                          "uses",
                                          "with"};
constexpr std::string_view kStrategyKeys[] = {"matrix", "fail-fast", "max-parallel"};
constexpr std::string_view kDefaultsKeys[] = {"run"};
constexpr std::string_view kDefaultsRunKeys[] = {"shell", "working-directory"};
constexpr std::string_view kPushKeys[] = {"branches",    "branches-ignore", "tags",
                                          "tags-ignore", "paths",           "paths-ignore"};
constexpr std::string_view kEvents[] = {"branch_protection_rule",
                                        "check_run",
                                        "check_suite",
                                        "create",
                                        "delete",
                                        "deployment",
                                        "deployment_status",
                                        "discussion",
                                        "discussion_comment",
                                        "fork",
                                        "gollum",
                                        "issue_comment",
                                        "issues",
                                        "label",
                                        "merge_group",
                                        "milestone",
                                        "page_build",
                                        "project",
                                        "project_card",
                                        "project_column",
                                        "public",
                                        "pull_request",
                                        "pull_request_review",
                                        "pull_request_review_comment",
                                        "pull_request_target",
                                        "push",
                                        "registry_package",
                                        "release",
                                        "repository_dispatch",
                                        "schedule",
                                        "status",
                                        "watch",
                                        "workflow_call",
                                        "workflow_dispatch",
                                        "workflow_run"};

class WorkflowReader {
 public:
  explicit WorkflowReader(Reader& r) : r_(r) {}

  Pipeline Read(YamlNode root, std::string name) {
    Pipeline p;
    p.format = "github";
    p.name = std::move(name);
    p.location = r_.Loc(root);
    for (const YamlPair& kv : r_.Keys(root, kWorkflowKeys, "")) {
      std::string_view key = kv.key.Scalar();
      if (key == "name") {
        if (auto n = r_.String(kv, "")) {
          if (!n->empty()) p.name = *n;
        }
      } else if (key == "run-name") {
        r_.Note(r_.Loc(kv.key), "run-name is not used; runs are named by pipeline and number");
      } else if (key == "on") {
        ReadOn(kv, &p);
      } else if (key == "env") {
        if (auto env = r_.StringMap(kv, "")) p.env = std::move(*env);
      } else if (key == "defaults") {
        ReadDefaults(kv, "", &p.defaults_shell, &p.defaults_working_directory);
      } else if (key == "jobs") {
        if (!r_.ExpectMap(kv, "")) continue;
        for (const YamlPair& j : r_.Keys(kv.value, {}, "jobs")) p.jobs.push_back(ReadJob(j));
      } else {
        r_.Note(r_.Loc(kv.key), fmt::format("{} has no effect here; ignored", key));
      }
    }
    for (auto& d : internal::ValidateStructure(p)) r_.Error(d.location, d.message);
    return p;
  }

 private:
  void ReadDefaults(const YamlPair& kv, const std::string& where, std::string* shell,
                    std::string* dir) {
    if (!r_.ExpectMap(kv, where)) return;
    std::string w = where.empty() ? "defaults" : where + ", defaults";
    for (const YamlPair& run : r_.Keys(kv.value, kDefaultsKeys, w)) {
      if (!r_.ExpectMap(run, w)) continue;
      for (const YamlPair& d : r_.Keys(run.value, kDefaultsRunKeys, w + ".run")) {
        std::optional<std::string> v = r_.String(d, w + ".run");
        if (v && d.key.Scalar() == "shell") *shell = *v;
        if (v && d.key.Scalar() == "working-directory") *dir = *v;
      }
    }
  }

  void ReadOn(const YamlPair& kv, Pipeline* p) {
    // on: push | on: [push, workflow_dispatch] | on: {push: {...}, schedule: [...]}
    std::vector<std::pair<YamlNode, YamlNode>> events;  // name, settings
    if (kv.value.IsScalar()) {
      events.emplace_back(kv.value, YamlNode());
    } else if (kv.value.IsSequence()) {
      for (YamlNode item : kv.value.Items()) {
        if (item.IsScalar()) {
          events.emplace_back(item, YamlNode());
        } else {
          r_.Error(r_.Loc(item), fmt::format("each event in 'on' must be a name such as push, "
                                             "got {}",
                                             Reader::Describe(item)));
        }
      }
    } else if (kv.value.IsMap()) {
      for (const YamlPair& e : r_.Keys(kv.value, {}, "on")) events.emplace_back(e.key, e.value);
    } else {
      r_.Error(r_.Loc(kv), fmt::format("'on' must name events, e.g. on: [push, "
                                       "workflow_dispatch], got {}",
                                       Reader::Describe(kv.value)));
    }
    for (const auto& [name_node, settings] : events) {
      std::string_view name = name_node.Scalar();
      YamlPair e{name_node, settings};
      if (name == "push") {
        ReadPush(e, p);
      } else if (name == "schedule") {
        ReadSchedule(e, p);
      } else if (name == "workflow_dispatch") {
        p->triggers.push_back(internal::ManualTrigger(r_.Loc(name_node)));
        if (settings.IsMap()) {
          for (const YamlPair& s : settings.Pairs()) {
            if (s.key.Scalar() == "inputs") {
              r_.Note(r_.Loc(s.key),
                      "workflow_dispatch inputs are not asked for; inputs.* "
                      "is empty in expressions");
            }
          }
        }
      } else if (std::find(std::begin(kEvents), std::end(kEvents), name) != std::end(kEvents)) {
        r_.Note(r_.Loc(name_node), fmt::format("on: {} is a GitHub event with no counterpart "
                                               "here; ignored (run the pipeline with steward "
                                               "run, or use push, schedule or "
                                               "workflow_dispatch)",
                                               name));
      } else {
        std::string hint = config::internal::Suggest(name, kEvents);
        r_.Error(r_.Loc(name_node),
                 fmt::format("'{}' in 'on' is not a GitHub event{}", name,
                             hint.empty() ? "; see the events list at "
                                            "docs.github.com/actions/reference/events"
                                          : fmt::format("; did you mean '{}'?", hint)));
      }
    }
  }

  void ReadPush(const YamlPair& e, Pipeline* p) {
    Trigger t;
    t.kind = TriggerKind::kPush;
    t.location = r_.Loc(e.key);
    bool tags_only = false;
    if (e.value.IsMap()) {
      bool branches = false, tags = false;
      for (const YamlPair& k : r_.Keys(e.value, kPushKeys, "on.push")) {
        std::string_view key = k.key.Scalar();
        if (key == "branches") {
          branches = true;
          if (auto b = r_.StringList(k, "on.push", true)) t.branches = std::move(*b);
        } else {
          tags = tags || key.starts_with("tags");
          r_.Note(r_.Loc(k.key), fmt::format("on.push.{} is not applied; pushes to the watched "
                                             "branches start the pipeline",
                                             key));
        }
      }
      tags_only = tags && !branches;
    } else if (!e.value.IsNull() && e.value.IsDefined()) {
      r_.Error(r_.Loc(e), fmt::format("'on.push' must be a map such as {{branches: [main]}}, "
                                      "got {}",
                                      Reader::Describe(e.value)));
      return;
    }
    if (tags_only) {
      r_.Note(t.location, "on.push with only tags: tag pushes are not watched; no push trigger");
      return;
    }
    p->triggers.push_back(std::move(t));
  }

  void ReadSchedule(const YamlPair& e, Pipeline* p) {
    if (!e.value.IsSequence()) {
      r_.Error(r_.Loc(e), fmt::format("'on.schedule' must be a list of {{cron: \"...\"}}, got "
                                      "{}",
                                      Reader::Describe(e.value)));
      return;
    }
    for (YamlNode item : e.value.Items()) {
      bool found = false;
      if (item.IsMap()) {
        constexpr std::string_view kCron[] = {"cron"};
        for (const YamlPair& c : r_.Keys(item, kCron, "on.schedule")) {
          if (!r_.String(c, "on.schedule")) continue;
          Trigger t;
          t.kind = TriggerKind::kSchedule;
          t.location = r_.Loc(c);
          t.cron = std::string(c.value.Scalar());
          p->triggers.push_back(std::move(t));
          found = true;
        }
      }
      if (!found) {
        r_.Error(r_.Loc(item),
                 "each item of 'on.schedule' must be {cron: \"MIN HOUR DOM MON "
                 "DOW\"}");
      }
    }
  }

  Job ReadJob(const YamlPair& kv) {
    Job j;
    j.id = std::string(kv.key.Scalar());
    j.name = j.id;
    j.location = r_.Loc(kv.key);
    std::string where = internal::JobWhere("", j.id);
    if (!kv.value.IsMap()) {
      r_.Error(r_.Loc(kv), fmt::format("{} must be a map with runs-on: and steps:, got {}", where,
                                       Reader::Describe(kv.value)));
      return j;
    }
    for (const YamlPair& f : r_.Keys(kv.value, kJobKeys, where)) {
      std::string_view key = f.key.Scalar();
      if (key == "name") {
        if (auto s = r_.String(f, where)) j.name = *s;
        r_.CheckInterpolationAt(f.value, where, key);
      } else if (key == "needs") {
        if (auto n = r_.StringList(f, where, true)) j.needs = std::move(*n);
      } else if (key == "runs-on") {
        ReadRunsOn(f, where, &j);
      } else if (key == "if") {
        if (auto s = r_.String(f, where)) j.if_expr = *s;
        r_.CheckConditionAt(f.value, where, key);
      } else if (key == "env") {
        if (auto env = r_.StringMap(f, where)) j.env = std::move(*env);
      } else if (key == "defaults") {
        ReadDefaults(f, where, &j.shell, &j.working_directory);
      } else if (key == "timeout-minutes") {
        if (auto d = Minutes(f, where)) j.timeout = *d;
      } else if (key == "continue-on-error") {
        j.continue_on_error = FlagOrExpression(f, where);
      } else if (key == "strategy") {
        ReadStrategy(f, where, &j.matrix);
      } else if (key == "outputs") {
        if (auto o = r_.StringMap(f, where)) j.outputs = std::move(*o);
      } else if (key == "steps") {
        if (!f.value.IsSequence()) {
          r_.Error(r_.Loc(f), fmt::format("{}: 'steps' must be a list of steps, got {}", where,
                                          Reader::Describe(f.value)));
          continue;
        }
        size_t i = 0;
        for (YamlNode item : f.value.Items()) j.steps.push_back(ReadStep(item, j.id, i++));
      } else if (key == "container" || key == "services") {
        r_.Error(r_.Loc(f.key),
                 fmt::format("{}: '{}' cannot be honoured here: jobs run directly on this "
                             "machine, not in containers; remove it and {}",
                             where, key,
                             key == "services" ? "declare the services the job needs in the "
                                                 "stack's services:"
                                               : "install the tools the job needs"));
      } else if (key == "uses" || key == "with" || key == "secrets") {
        r_.Error(r_.Loc(f.key), fmt::format("{}: '{}' calls a reusable workflow, which cannot be "
                                            "honoured here; copy its jobs into this file",
                                            where, key));
      } else {
        r_.Note(r_.Loc(f.key), fmt::format("{}: {} has no effect here; ignored", where, key));
      }
    }
    return j;
  }

  void ReadRunsOn(const YamlPair& f, const std::string& where, Job* j) {
    if (f.value.IsScalar()) {
      j->runs_on = std::string(f.value.Scalar());
    } else if (f.value.IsSequence() || f.value.IsMap()) {
      j->runs_on = JsonText(r_.ToJson(f.value));
    }
    std::string lower = j->runs_on;
    for (char& c : lower) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    if (lower.find("windows") != std::string::npos || lower.find("macos") != std::string::npos) {
      r_.Note(r_.Loc(f), fmt::format("{}: runs-on: {} is informational; the job runs on this "
                                     "machine",
                                     where, j->runs_on));
    }
  }

  // timeout-minutes: a number of minutes (fractions allowed, as in GitHub).
  std::optional<Duration> Minutes(const YamlPair& f, const std::string& where) {
    std::string_view s = f.value.IsScalar() ? f.value.Scalar() : std::string_view();
    std::optional<double> m =
        s.find_first_of("xXIN") == std::string_view::npos ? ParseNumberText(s) : std::nullopt;
    if (!m || !(*m > 0) || *m > 7 * 24 * 60) {
      r_.Error(r_.Loc(f), fmt::format("{}: '{}' must be a number of minutes above 0 (at most "
                                      "10080), got {}{}",
                                      where, f.key.Scalar(), Reader::Describe(f.value),
                                      s.find("${{") != std::string_view::npos
                                          ? "; ${{ }} is not supported here"
                                          : ""));
      return std::nullopt;
    }
    return Duration(static_cast<int64_t>(std::llround(*m * 60000)));
  }

  // continue-on-error: true/false, or an expression this model cannot hold (noted; false).
  bool FlagOrExpression(const YamlPair& f, const std::string& where) {
    if (f.value.IsScalar() && f.value.Scalar().find("${{") != std::string_view::npos) {
      r_.CheckInterpolationAt(f.value, where, f.key.Scalar());
      r_.Note(r_.Loc(f), fmt::format("{}: continue-on-error: {} is not evaluated here; it is "
                                     "taken as false",
                                     where, f.value.Scalar()));
      return false;
    }
    return r_.Bool(f, where).value_or(false);
  }

  void ReadStrategy(const YamlPair& f, const std::string& where, Matrix* m) {
    if (!r_.ExpectMap(f, where)) return;
    std::string w = where + ", strategy";
    for (const YamlPair& k : r_.Keys(f.value, kStrategyKeys, w)) {
      std::string_view key = k.key.Scalar();
      if (key == "matrix") {
        internal::ReadMatrix(r_, k, where, m);
      } else if (key == "fail-fast") {
        m->fail_fast = r_.Bool(k, w).value_or(true);
      } else if (key == "max-parallel") {
        m->max_parallel = static_cast<int>(r_.Int(k, w, 1, 1000).value_or(0));
      }
    }
  }

  Step ReadStep(YamlNode item, const std::string& job, size_t index) {
    Step s;
    s.location = r_.Loc(item);
    std::string where = fmt::format("job '{}', step {}", job, index + 1);
    if (!item.IsMap()) {
      r_.Error(s.location, fmt::format("{} must be a map with run: or uses:, got {}", where,
                                       Reader::Describe(item)));
      return s;
    }
    for (const YamlPair& f : r_.Keys(item, kStepKeys, where)) {
      std::string_view key = f.key.Scalar();
      if (key == "id") {
        if (auto v = r_.String(f, where)) s.id = *v;
      } else if (key == "name") {
        if (auto v = r_.String(f, where)) s.name = *v;
        r_.CheckInterpolationAt(f.value, where, key);
      } else if (key == "run") {
        if (auto v = r_.String(f, where)) s.run = *v;
        r_.CheckInterpolationAt(f.value, where, key);
      } else if (key == "shell") {
        if (auto v = r_.String(f, where)) s.shell = *v;
      } else if (key == "env") {
        if (auto e = r_.StringMap(f, where)) s.env = std::move(*e);
      } else if (key == "if") {
        if (auto v = r_.String(f, where)) s.if_expr = *v;
        r_.CheckConditionAt(f.value, where, key);
      } else if (key == "working-directory") {
        if (auto v = r_.String(f, where)) s.working_directory = *v;
      } else if (key == "continue-on-error") {
        s.continue_on_error = FlagOrExpression(f, where);
      } else if (key == "timeout-minutes") {
        if (auto d = Minutes(f, where)) s.timeout = *d;
      } else if (key == "uses") {
        internal::ReadUses(r_, f, job, index, where, &s.uses);
      } else if (key == "with") {
        if (auto w = r_.StringMap(f, where)) s.with = std::move(*w);
      }
    }
    if (s.name.empty()) {
      if (!s.uses.empty()) {
        s.name = s.uses;
      } else {
        s.name = internal::DefaultRunName(s.run);
      }
    }
    return s;
  }

  Reader& r_;
};

}  // namespace

ParseResult ParseWorkflowText(const std::string& text, const std::string& path) {
  Reader r(text, path);
  YamlDoc doc;
  YamlNode root = r.Parse(&doc);
  std::vector<Pipeline> out;
  if (root.IsDefined()) {
    if (!root.IsMap()) {
      r.Error(r.Loc(root), fmt::format("a workflow is a map with on: and jobs:, got {}",
                                       Reader::Describe(root)));
    } else {
      out.push_back(WorkflowReader(r).Read(root, std::filesystem::path(path).stem().string()));
    }
  }
  return r.Finish(std::move(out));
}

ParseResult ParseWorkflowFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream s;
  if (in) s << in.rdbuf();
  if (!in || in.bad()) {
    ParseResult out;
    out.errors.push_back(
        config::Diagnostic{SourceLocation{path, 0, 0}, "cannot read the workflow file"});
    return out;
  }
  return ParseWorkflowText(s.str(), path);
}

}  // namespace steward::pipeline
