// Steward's own pipeline format (docs/formats/pipelines.md): the stack's `pipelines:` map and
// pipelines/*.yml files, read into pipeline::Pipeline with every problem reported in place.
#include <fmt/format.h>

#include <filesystem>
#include <fstream>
#include <sstream>

#include "pipeline/parse.h"
#include "pipeline/parse_internal.h"

namespace steward::pipeline {
namespace {

using internal::Reader;
using internal::YamlDoc;
using internal::YamlNode;
using internal::YamlPair;

constexpr std::string_view kPipelineKeys[] = {"name", "on", "env", "defaults", "jobs"};
constexpr std::string_view kOnKeys[] = {"push", "schedule", "webhook", "manual"};
constexpr std::string_view kPushKeys[] = {"branches", "repository", "poll"};
constexpr std::string_view kWebhookKeys[] = {"secret", "branches"};
constexpr std::string_view kCronKeys[] = {"cron"};
constexpr std::string_view kDefaultsKeys[] = {"shell", "working_directory"};
constexpr std::string_view kJobKeys[] = {"name",
                                         "needs",
                                         "matrix",
                                         "fail_fast",
                                         "max_parallel",
                                         "env",
                                         "working_directory",
                                         "shell",
                                         "timeout",
                                         "retries",
                                         "if",
                                         "continue_on_error",
                                         "outputs",
                                         "cache",
                                         "artifacts",
                                         "secrets",
                                         "sandbox",
                                         "runs_on",
                                         "run",
                                         "steps"};
constexpr std::string_view kCacheKeys[] = {"inputs", "env", "outputs"};
constexpr std::string_view kSandboxKeys[] = {"network"};
constexpr std::string_view kStepKeys[] = {"id",
                                          "name",
                                          "run",
                                          "shell",
                                          "env",
                                          "if",
                                          "working_directory",
                                          "continue_on_error",
                                          "timeout",
                                          "uses",
                                          "with",
                                          "deploy",
                                          "version",
                                          "strategy"};

bool IsPipelineName(std::string_view name) {
  if (name.empty() || name[0] == '.' || name[0] == '-' || name[0] == '_') return false;
  return std::all_of(name.begin(), name.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' ||
           c == '_' || c == '.';
  });
}

std::optional<std::string> ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return std::nullopt;
  std::ostringstream s;
  s << in.rdbuf();
  if (in.bad()) return std::nullopt;
  return s.str();
}

class SpecReader {
 public:
  // `prefix` starts every message: "pipeline 'ci', " inside a stack, "" in a file of its own.
  SpecReader(Reader& r, std::string prefix) : r_(r), prefix_(std::move(prefix)) {}

  Pipeline Read(YamlNode map, YamlNode at, std::string name, bool in_stack) {
    Pipeline p;
    p.name = std::move(name);
    p.location = r_.Loc(at);
    std::string where = prefix_.empty() ? "" : prefix_.substr(0, prefix_.size() - 2);
    for (const YamlPair& kv : r_.Keys(map, kPipelineKeys, where)) {
      std::string_view key = kv.key.Scalar();
      if (key == "name") {
        std::optional<std::string> n = r_.String(kv, where);
        if (!n) continue;
        if (in_stack && *n != p.name) {
          r_.Error(r_.Loc(kv), fmt::format("{}: in the stack the key names the pipeline; drop "
                                           "name: '{}' or make it '{}'",
                                           where, *n, p.name));
        } else if (!IsPipelineName(*n)) {
          r_.Error(r_.Loc(kv), NameMessage(*n));
        } else {
          p.name = *n;
        }
      } else if (key == "on") {
        ReadOn(kv, &p);
      } else if (key == "env") {
        if (auto env = r_.StringMap(kv, where)) p.env = std::move(*env);
      } else if (key == "defaults") {
        if (!r_.ExpectMap(kv, where)) continue;
        for (const YamlPair& d : r_.Keys(kv.value, kDefaultsKeys, Join(where, "defaults"))) {
          std::optional<std::string> v = r_.String(d, Join(where, "defaults"));
          if (v && d.key.Scalar() == "shell") p.defaults_shell = *v;
          if (v && d.key.Scalar() == "working_directory") p.defaults_working_directory = *v;
        }
      } else if (key == "jobs") {
        if (!r_.ExpectMap(kv, where)) continue;
        for (const YamlPair& j : r_.Keys(kv.value, {}, Join(where, "jobs"))) {
          p.jobs.push_back(ReadJob(j));
        }
      }
    }
    if (!IsPipelineName(p.name) && !in_stack) r_.Error(p.location, NameMessage(p.name));
    for (auto& d : internal::ValidateStructure(p)) r_.Error(d.location, prefix_ + d.message);
    return p;
  }

  static std::string NameMessage(std::string_view name) {
    return fmt::format(
        "pipeline name '{}' is not valid; use letters, digits, '-', '_' and '.', "
        "starting with a letter or digit, e.g. ci or nightly-build",
        name);
  }

 private:
  static std::string Join(std::string_view where, std::string_view what) {
    return where.empty() ? std::string(what) : fmt::format("{}, {}", where, what);
  }

  void ReadOn(const YamlPair& kv, Pipeline* p) {
    std::string owner = prefix_.empty() ? "" : prefix_.substr(0, prefix_.size() - 2);
    if (!r_.ExpectMap(kv, owner)) return;
    std::string where = prefix_ + "on";
    for (const YamlPair& t : r_.Keys(kv.value, kOnKeys, where)) {
      std::string_view kind = t.key.Scalar();
      if (kind == "push") {
        ReadPush(t, where, p);
      } else if (kind == "schedule") {
        ReadSchedule(t, where, p);
      } else if (kind == "webhook") {
        Trigger tr;
        tr.kind = TriggerKind::kWebhook;
        tr.location = r_.Loc(t);
        if (!r_.ExpectMap(t, where)) continue;
        for (const YamlPair& w : r_.Keys(t.value, kWebhookKeys, where + ".webhook")) {
          if (w.key.Scalar() == "branches") {
            if (auto b = r_.StringList(w, where + ".webhook", true)) tr.branches = std::move(*b);
          } else if (auto s = r_.String(w, where + ".webhook")) {
            tr.secret = *s;
          }
        }
        p->triggers.push_back(std::move(tr));
      } else if (kind == "manual") {
        std::optional<bool> on = t.value.IsNull() ? std::optional<bool>(true) : r_.Bool(t, where);
        if (on.value_or(false)) p->triggers.push_back(internal::ManualTrigger(r_.Loc(t)));
      }
    }
  }

  void ReadPush(const YamlPair& t, const std::string& where, Pipeline* p) {
    Trigger tr;
    tr.kind = TriggerKind::kPush;
    tr.location = r_.Loc(t.key);
    if (t.value.IsScalar()) {
      std::optional<bool> on = r_.Bool(t, where);
      if (on.value_or(false)) p->triggers.push_back(std::move(tr));
      return;
    }
    if (!r_.ExpectMap(t, where)) return;
    std::string w = where + ".push";
    for (const YamlPair& k : r_.Keys(t.value, kPushKeys, w)) {
      std::string_view key = k.key.Scalar();
      if (key == "branches") {
        if (auto b = r_.StringList(k, w, true)) tr.branches = std::move(*b);
      } else if (key == "repository") {
        if (auto s = r_.String(k, w)) tr.repository = *s;
      } else if (key == "poll") {
        if (auto d = r_.Dur(k, w)) tr.poll = *d;
      }
    }
    p->triggers.push_back(std::move(tr));
  }

  void ReadSchedule(const YamlPair& t, const std::string& where, Pipeline* p) {
    auto add = [&](YamlNode cron) {
      Trigger tr;
      tr.kind = TriggerKind::kSchedule;
      tr.location = r_.Loc(cron);
      tr.cron = std::string(cron.Scalar());
      p->triggers.push_back(std::move(tr));
    };
    if (t.value.IsScalar()) return add(t.value);
    if (!t.value.IsSequence()) {
      r_.Error(r_.Loc(t), fmt::format("{}: 'schedule' must be a cron line or a list of "
                                      "{{cron: \"...\"}}, got {}",
                                      where, Reader::Describe(t.value)));
      return;
    }
    for (YamlNode item : t.value.Items()) {
      if (item.IsScalar()) {
        add(item);
        continue;
      }
      if (!item.IsMap()) {
        r_.Error(r_.Loc(item), fmt::format("{}: each schedule is {{cron: \"...\"}}, got {}", where,
                                           Reader::Describe(item)));
        continue;
      }
      bool found = false;
      for (const YamlPair& c : r_.Keys(item, kCronKeys, where + ".schedule")) {
        if (r_.String(c, where + ".schedule")) add(c.value), found = true;
      }
      if (!found)
        r_.Error(r_.Loc(item), where + ": a schedule needs cron: \"MIN HOUR DOM MON DOW\"");
    }
  }

  Job ReadJob(const YamlPair& kv) {
    Job j;
    j.id = std::string(kv.key.Scalar());
    j.name = j.id;
    j.location = r_.Loc(kv.key);
    std::string where = internal::JobWhere(prefix_, j.id);
    if (!kv.value.IsMap()) {
      r_.Error(r_.Loc(kv), fmt::format("{} must be a map with run: or steps:, got {}", where,
                                       Reader::Describe(kv.value)));
      return j;
    }
    std::optional<YamlPair> run, steps;
    for (const YamlPair& f : r_.Keys(kv.value, kJobKeys, where)) {
      std::string_view key = f.key.Scalar();
      if (key == "name") {
        if (auto s = r_.String(f, where)) j.name = *s;
        r_.CheckInterpolationAt(f.value, where, key);
      } else if (key == "needs") {
        if (auto n = r_.StringList(f, where, true)) j.needs = std::move(*n);
      } else if (key == "matrix") {
        internal::ReadMatrix(r_, f, where, &j.matrix);
      } else if (key == "fail_fast") {
        j.matrix.fail_fast = r_.Bool(f, where).value_or(true);
      } else if (key == "max_parallel") {
        j.matrix.max_parallel = static_cast<int>(r_.Int(f, where, 0, 1000).value_or(0));
      } else if (key == "env") {
        if (auto env = r_.StringMap(f, where)) j.env = std::move(*env);
      } else if (key == "working_directory") {
        if (auto s = r_.String(f, where)) j.working_directory = *s;
      } else if (key == "shell") {
        if (auto s = r_.String(f, where)) j.shell = *s;
      } else if (key == "timeout") {
        if (auto d = r_.Dur(f, where)) j.timeout = *d;
      } else if (key == "retries") {
        j.retries = static_cast<int>(r_.Int(f, where, 0, 100).value_or(0));
      } else if (key == "if") {
        if (auto s = r_.String(f, where)) j.if_expr = *s;
        r_.CheckConditionAt(f.value, where, key);
      } else if (key == "continue_on_error") {
        j.continue_on_error = r_.Bool(f, where).value_or(false);
      } else if (key == "outputs") {
        if (auto o = r_.StringMap(f, where)) j.outputs = std::move(*o);
      } else if (key == "cache") {
        ReadCache(f, where, &j.cache);
      } else if (key == "artifacts") {
        if (auto a = r_.StringList(f, where, true)) j.artifacts = std::move(*a);
      } else if (key == "secrets") {
        if (auto s = r_.StringList(f, where, true)) j.secrets = std::move(*s);
      } else if (key == "sandbox") {
        ReadSandbox(f, where, &j.sandbox);
      } else if (key == "runs_on") {
        if (auto s = r_.String(f, where)) j.runs_on = *s;
      } else if (key == "run") {
        run = f;
      } else if (key == "steps") {
        steps = f;
      }
    }
    if (run && steps) {
      r_.Error(r_.Loc(run->key), fmt::format("{} has both run and steps; run: is shorthand for "
                                             "one step, so move it into steps:",
                                             where));
    } else if (run) {
      Step s;
      s.location = r_.Loc(*run);
      if (auto text = r_.String(*run, where)) s.run = *text;
      r_.CheckInterpolationAt(run->value, where, "run");
      s.name = DefaultName(s);
      if (!s.run.empty()) j.steps.push_back(std::move(s));
    } else if (steps) {
      if (!steps->value.IsSequence()) {
        r_.Error(r_.Loc(*steps), fmt::format("{}: 'steps' must be a list of steps, got {}", where,
                                             Reader::Describe(steps->value)));
      } else {
        size_t i = 0;
        for (YamlNode item : steps->value.Items()) j.steps.push_back(ReadStep(item, j.id, i++));
      }
    }
    return j;
  }

  void ReadCache(const YamlPair& f, const std::string& where, CacheSpec* c) {
    if (!r_.ExpectMap(f, where)) return;
    std::string w = where + ", cache";
    for (const YamlPair& k : r_.Keys(f.value, kCacheKeys, w)) {
      std::optional<std::vector<std::string>> list = r_.StringList(k, w, true);
      if (!list) continue;
      if (k.key.Scalar() == "inputs") c->inputs = std::move(*list);
      if (k.key.Scalar() == "env") c->env = std::move(*list);
      if (k.key.Scalar() == "outputs") c->outputs = std::move(*list);
    }
    if (c->inputs.empty() && !c->outputs.empty()) {
      r_.Error(r_.Loc(f), fmt::format("{}: cache has outputs but no inputs; the key is made from "
                                      "the inputs, e.g. inputs: [\"src/**\", Makefile]",
                                      where));
    }
  }

  void ReadSandbox(const YamlPair& f, const std::string& where, Sandbox* s) {
    if (f.value.IsMap()) {
      s->mode = SandboxMode::kAuto;
      for (const YamlPair& k : r_.Keys(f.value, kSandboxKeys, where + ", sandbox")) {
        s->network = r_.Bool(k, where + ", sandbox").value_or(false);
      }
      return;
    }
    if (f.value.IsScalar() && !f.value.Scalar().empty()) {
      std::optional<bool> on = r_.Bool(f, where);
      if (on) s->mode = *on ? SandboxMode::kOn : SandboxMode::kOff;
      return;
    }
    r_.Error(r_.Loc(f), fmt::format("{}: 'sandbox' must be true, false or {{network: true}}, got "
                                    "{}",
                                    where, Reader::Describe(f.value)));
  }

  Step ReadStep(YamlNode item, const std::string& job, size_t index) {
    Step s;
    s.location = r_.Loc(item);
    std::string where = fmt::format("{}, step {}", internal::JobWhere(prefix_, job), index + 1);
    if (!item.IsMap()) {
      r_.Error(s.location, fmt::format("{} must be a map with run:, uses: or deploy:, got {}",
                                       where, Reader::Describe(item)));
      return s;
    }
    std::map<std::string, std::string> env;
    std::optional<YamlPair> version, strategy;
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
        if (auto e = r_.StringMap(f, where)) env = std::move(*e);
      } else if (key == "if") {
        if (auto v = r_.String(f, where)) s.if_expr = *v;
        r_.CheckConditionAt(f.value, where, key);
      } else if (key == "working_directory") {
        if (auto v = r_.String(f, where)) s.working_directory = *v;
      } else if (key == "continue_on_error") {
        s.continue_on_error = r_.Bool(f, where).value_or(false);
      } else if (key == "timeout") {
        if (auto d = r_.Dur(f, where)) s.timeout = *d;
      } else if (key == "uses") {
        internal::ReadUses(r_, f, job, index, where, &s.uses);
      } else if (key == "with") {
        if (auto w = r_.StringMap(f, where)) s.with = std::move(*w);
      } else if (key == "deploy") {
        s.deploy.emplace();
        if (auto v = r_.String(f, where)) s.deploy->service = *v;
      } else if (key == "version") {
        version = f;
      } else if (key == "strategy") {
        strategy = f;
      }
    }
    for (const std::optional<YamlPair>& f : {version, strategy}) {
      if (!f) continue;
      if (!s.deploy) {
        r_.Error(r_.Loc(f->key), fmt::format("{}: '{}' belongs to a deploy step; add deploy: "
                                             "SERVICE or remove it",
                                             where, f->key.Scalar()));
        continue;
      }
      std::optional<std::string> v = r_.String(*f, where);
      if (!v) continue;
      if (f->key.Scalar() == "version") {
        s.deploy->version = *v;
        r_.CheckInterpolationAt(f->value, where, "version");
      } else {
        s.deploy->strategy = *v;
      }
    }
    if (s.deploy) {
      s.deploy->env = std::move(env);
    } else {
      s.env = std::move(env);
    }
    if (s.name.empty()) s.name = DefaultName(s);
    return s;
  }

  static std::string DefaultName(const Step& s) {
    if (s.deploy) return "deploy " + s.deploy->service;
    if (!s.uses.empty()) return s.uses;
    return internal::DefaultRunName(s.run);
  }

  Reader& r_;
  std::string prefix_;
};

ParseResult FileError(const std::string& path, std::string message) {
  ParseResult out;
  out.errors.push_back(config::Diagnostic{SourceLocation{path, 0, 0}, std::move(message)});
  return out;
}

}  // namespace

ParseResult ParsePipelineText(const std::string& text, const std::string& path) {
  Reader r(text, path);
  YamlDoc doc;
  YamlNode root = r.Parse(&doc);
  std::vector<Pipeline> out;
  if (root.IsDefined()) {
    if (!root.IsMap()) {
      r.Error(r.Loc(root), fmt::format("a pipeline file is a map with jobs:, got {}; write e.g. "
                                       "jobs: {{build: {{run: make}}}}",
                                       Reader::Describe(root)));
    } else {
      std::string stem = std::filesystem::path(path).stem().string();
      out.push_back(SpecReader(r, "").Read(root, root, stem, false));
    }
  }
  return r.Finish(std::move(out));
}

ParseResult ParsePipelineFile(const std::string& path) {
  std::optional<std::string> text = ReadFile(path);
  if (!text) return FileError(path, "cannot read the pipeline file");
  return ParsePipelineText(*text, path);
}

ParseResult LoadStackPipelines(const std::string& stack_file) {
  ParseResult out;
  std::optional<std::string> text = ReadFile(stack_file);
  if (!text) return FileError(stack_file, "cannot read the stack file");
  std::vector<std::pair<Pipeline, SourceLocation>> all;
  {
    Reader r(*text, stack_file);
    YamlDoc doc;
    YamlNode root = r.Parse(&doc);
    for (const YamlPair& top : root.Pairs()) {
      if (top.key.Scalar() != "pipelines" || top.value.IsNull()) continue;
      if (!r.ExpectMap(top, "")) continue;
      for (const YamlPair& kv : r.Keys(top.value, {}, "pipelines")) {
        std::string name(kv.key.Scalar());
        std::string prefix = fmt::format("pipeline '{}', ", name);
        if (!IsPipelineName(name)) r.Error(r.Loc(kv.key), SpecReader::NameMessage(name));
        if (!kv.value.IsMap()) {
          r.Error(r.Loc(kv), fmt::format("pipeline '{}' must be a map with jobs:, got {}", name,
                                         Reader::Describe(kv.value)));
          continue;
        }
        Pipeline p = SpecReader(r, prefix).Read(kv.value, kv.key, name, true);
        all.emplace_back(std::move(p), r.Loc(kv.key));
      }
    }
    r.MoveInto(&out);
  }
  std::filesystem::path dir = std::filesystem::path(stack_file).parent_path() / "pipelines";
  std::error_code ec;
  std::vector<std::string> files;
  if (std::filesystem::is_directory(dir, ec)) {
    for (const auto& entry : std::filesystem::directory_iterator(dir, ec)) {
      std::string ext = entry.path().extension().string();
      if ((ext == ".yml" || ext == ".yaml") && entry.is_regular_file(ec)) {
        files.push_back(entry.path().string());
      }
    }
  }
  std::sort(files.begin(), files.end());
  for (const std::string& f : files) {
    ParseResult one = ParsePipelineFile(f);
    out.errors.insert(out.errors.end(), one.errors.begin(), one.errors.end());
    out.notes.insert(out.notes.end(), one.notes.begin(), one.notes.end());
    for (Pipeline& p : one.pipelines) {
      SourceLocation at = p.location;
      all.emplace_back(std::move(p), at);
    }
  }
  std::map<std::string, SourceLocation> seen;
  for (auto& [p, at] : all) {
    auto [it, fresh] = seen.emplace(p.name, at);
    if (!fresh) {
      out.errors.push_back(config::Diagnostic{
          at, fmt::format("pipeline '{}' is defined twice (first at {}); rename one of them",
                          p.name, it->second.ToString())});
    }
  }
  if (out.errors.empty()) {
    for (auto& [p, at] : all) out.pipelines.push_back(std::move(p));
  }
  return out;
}

}  // namespace steward::pipeline
