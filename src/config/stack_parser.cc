// ParseStack: YAML text -> Stack. Walks the top level and environments here; services are read
// by service_parser.cc and checked across by stack_validate.cc, all reporting into one
// ParseContext so that a single run lists every error of the file.
#include "config/stack_parser.h"

#include <fmt/format.h>
#include <yaml-cpp/exceptions.h>

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>

#include "config/backup_parser.h"
#include "config/parse_context.h"
#include "config/yaml_tree.h"

namespace steward::config {
namespace internal {
// alerting_parser.cc: `rule_files:` and `alerting:` of the top level.
void ParseAlertingSections(ParseContext& ctx, const std::vector<Entry>& top, Stack* stack);
// slo_parser.cc: `slos:` (after monitors, which probe SLIs name).
void ParseSlos(ParseContext& ctx, const Entry& e, Stack* stack);
// runbook_parser.cc: `runbooks:` (after services, which runbooks name).
void ParseRunbooks(ParseContext& ctx, const std::vector<Entry>& top, Stack* stack);
}  // namespace internal

std::string Diagnostic::ToString() const {
  return fmt::format("{}: error: {}", location.ToString(), message);
}

Status DiagnosticsStatus(const std::vector<Diagnostic>& diagnostics) {
  if (diagnostics.empty()) return Status::OK();
  std::string msg;
  for (const Diagnostic& d : diagnostics) msg += (msg.empty() ? "" : "; ") + d.ToString();
  return InvalidArgument(msg);
}

namespace {

using internal::Entry;
using internal::IsValidName;
using internal::NameRule;
using internal::ParseContext;
using internal::YamlDoc;
using internal::YamlNode;
using internal::YamlPair;

constexpr std::string_view kTopKeys[] = {"project",    "environments", "services",   "scrape_configs",
                                         "monitors",   "monitoring",   "rule_files", "alerting",
                                         "slos",       "runbooks",     "pipelines",
                                         "backup"};
constexpr std::string_view kEnvironmentKeys[] = {"vars", "services"};
constexpr std::string_view kHealthKinds[] = {"http", "tcp", "exec"};

const Entry* Find(const std::vector<Entry>& entries, std::string_view key) {
  for (const Entry& e : entries) {
    if (e.key == key) return &e;
  }
  return nullptr;
}

// The value under `key` in `map` (undefined if absent), without any checks; for merging.
YamlNode FindValue(YamlNode map, std::string_view key, YamlNode* key_node) {
  for (const YamlPair& kv : map.Pairs()) {
    if (kv.key.IsScalar() && kv.key.Scalar() == key) {
      *key_node = kv.key;
      return kv.value;
    }
  }
  return YamlNode();
}

// Sets `key` (the very node, as YAML::Node's operator[] does with a node key) to `value`.
void Set(std::vector<YamlPair>& map, YamlNode key, YamlNode value) {
  for (YamlPair& kv : map) {
    if (kv.key.Is(key)) {
      kv.value = value;
      return;
    }
  }
  map.push_back(YamlPair{key, value});
}

// `over`'s keys replace `base`'s; when both values are maps their keys merge one level deep
// (env, resources, health, restart), except that a health kind (http/tcp/exec) in `over`
// replaces the base's kind. Nodes are shared, not copied, so marks keep pointing at the file.
YamlNode MergeMaps(YamlDoc& doc, YamlNode base, YamlNode over, bool deep) {
  bool over_has_kind = false;
  for (std::string_view kind : kHealthKinds) {
    YamlNode k;
    over_has_kind = over_has_kind || FindValue(over, kind, &k).IsDefined();
  }
  std::vector<YamlPair> out;
  for (const YamlPair& kv : base.Pairs()) {
    std::string_view key = kv.key.IsScalar() ? kv.key.Scalar() : "";
    bool is_kind =
        std::find(std::begin(kHealthKinds), std::end(kHealthKinds), key) != std::end(kHealthKinds);
    YamlNode over_key;
    YamlNode over_value = FindValue(over, key, &over_key);
    if (!over_value.IsDefined()) {
      if (!(is_kind && over_has_kind)) Set(out, kv.key, kv.value);
    } else if (deep && kv.value.IsMap() && over_value.IsMap()) {
      Set(out, over_key, MergeMaps(doc, kv.value, over_value, false));
    } else {
      Set(out, over_key, over_value);
    }
  }
  for (const YamlPair& kv : over.Pairs()) {
    YamlNode unused;
    if (!kv.key.IsScalar() || !FindValue(base, kv.key.Scalar(), &unused).IsDefined()) {
      Set(out, kv.key, kv.value);
    }
  }
  return doc.NewMap(out);
}

// Offset of the first byte that is not part of well-formed UTF-8, or npos.
size_t FirstInvalidUtf8(const std::string& text) {
  size_t i = 0;
  while (i < text.size()) {
    unsigned char c = static_cast<unsigned char>(text[i]);
    size_t len = c < 0x80           ? 1
                 : (c >> 5) == 0x6  ? 2
                 : (c >> 4) == 0xE  ? 3
                 : (c >> 3) == 0x1E ? 4
                                    : 0;
    if (len == 0 || i + len > text.size()) return i;
    for (size_t k = 1; k < len; ++k) {
      if ((static_cast<unsigned char>(text[i + k]) & 0xC0) != 0x80) return i;
    }
    i += len;
  }
  return std::string::npos;
}

class StackReader {
 public:
  StackReader(const std::string& path, const ParseOptions& options)
      : options_(options), ctx_(path, [this](const std::string& name) { return Lookup(name); }) {
    std::error_code ec;
    std::filesystem::path abs = std::filesystem::absolute(path, ec);
    stack_.path = ec ? path : abs.lexically_normal().string();
    stack_.dir = std::filesystem::path(stack_.path).parent_path().string();
    // assign(1, ...) not = ".": GCC 12 -O3 reports a bogus -Wrestrict there (PR105329).
    if (stack_.dir.empty()) stack_.dir.assign(1, '.');
    stack_.environment = options.environment;
  }

  ParseResult Read(const std::string& text);

 private:
  std::optional<std::string> Lookup(const std::string& name) const {
    std::optional<std::string> v;
    if (options_.lookup_env) {
      v = options_.lookup_env(name);
    } else if (const char* env = std::getenv(name.c_str())) {
      v = env;
    }
    if (v || selected_ == nullptr) return v;
    auto it = selected_->vars.find(name);
    if (it == selected_->vars.end()) return std::nullopt;
    return it->second;
  }

  SourceLocation Top() const { return SourceLocation{ctx_.file(), 1, 1}; }
  void ReadRoot(YamlNode root);
  void ReadEnvironments(const Entry& e);
  void ReadEnvironment(const Entry& e);
  void SelectEnvironment(const Entry* environments);
  void ReadServices(const Entry& e);
  void CheckOverrides();

  const ParseOptions& options_;
  ParseContext ctx_;
  YamlDoc doc_;  // owns every node below
  Stack stack_;
  const Environment* selected_ = nullptr;
  std::map<std::string, YamlNode> overrides_;  // selected environment's, by service
  // Every environment's overrides, to report ones naming undefined services.
  std::vector<std::pair<std::string, Entry>> all_overrides_;
  std::vector<internal::ServiceMarks> marks_;
};

ParseResult StackReader::Read(const std::string& text) {
  ParseResult result;
  if (size_t bad = FirstInvalidUtf8(text); bad != std::string::npos) {
    // Names and values end up in JSON and terminals; refuse bytes that are not text.
    int line = 1 + static_cast<int>(std::count(text.begin(), text.begin() + bad, '\n'));
    size_t line_start = text.rfind('\n', bad == 0 ? 0 : bad - 1);
    line_start = (line_start == std::string::npos || bad == 0) ? 0 : line_start + 1;
    int column = 1 + static_cast<int>(bad - line_start);
    result.diagnostics.push_back({SourceLocation{ctx_.file(), line, column},
                                  "the stack file is not valid UTF-8; save it as UTF-8 text"});
    return result;
  }
  try {
    ReadRoot(doc_.Parse(text));
  } catch (const YAML::ParserException& e) {
    // Nothing past a syntax error can be trusted; report it alone.
    SourceLocation at{ctx_.file(), e.mark.line + 1, e.mark.column + 1};
    if (e.mark.line < 0) at = Top();
    result.diagnostics.push_back({at, "YAML syntax error: " + e.msg});
    return result;
  } catch (const YAML::Exception& e) {
    ctx_.Error(Top(), "cannot read the stack file: " + e.msg);
  }
  result.diagnostics = ctx_.TakeDiagnostics();
  if (result.diagnostics.empty()) result.stack = std::move(stack_);
  return result;
}

void StackReader::ReadRoot(YamlNode root) {
  if (!root.IsMap()) {
    std::string what = root.IsNull() ? "empty" : "not a map";
    ctx_.Error(Top(), fmt::format("the stack file is {}; it needs at least 'project: <name>' and "
                                  "'services:'",
                                  what));
    return;
  }
  std::vector<Entry> top = ctx_.Entries(root, kTopKeys, "at the top level");
  const Entry* environments = Find(top, "environments");
  if (environments != nullptr) ReadEnvironments(*environments);
  SelectEnvironment(environments);

  if (const Entry* project = Find(top, "project")) {
    std::optional<std::string> name = ctx_.String(*project, "");
    if (name && !IsValidName(*name)) {
      ctx_.Error(ctx_.Loc(*project),
                 fmt::format("project name '{}' is not valid; {}", *name, NameRule("my-app")));
    } else if (name) {
      stack_.project = *name;
    }
  } else {
    ctx_.Error(Top(), "missing 'project'; add e.g. project: my-app");
  }

  // A stack may only watch what others run (scrape_configs, monitors): adopting Steward one
  // piece at a time starts there.
  if (const Entry* services = Find(top, "services")) {
    ReadServices(*services);
  } else if (!Find(top, "scrape_configs") && !Find(top, "monitors")) {
    ctx_.Error(Top(), "missing 'services'; add e.g. services: {web: {command: ./bin/web}} "
                      "(or scrape_configs:/monitors: to only watch what others run)");
  }
  internal::ParseMonitoringSections(ctx_, top, marks_, &stack_);
  internal::ParseAlertingSections(ctx_, top, &stack_);
  if (const Entry* slos = Find(top, "slos")) internal::ParseSlos(ctx_, *slos, &stack_);
  internal::ParseRunbooks(ctx_, top, &stack_);
  internal::ParseBackupSettings(ctx_, Find(top, "backup"), stack_.dir, &stack_);
}

void StackReader::ReadEnvironments(const Entry& e) {
  if (!ctx_.ExpectMap(e, "")) return;
  for (const Entry& env : ctx_.Entries(e.value, {}, "in environments")) ReadEnvironment(env);
}

void StackReader::ReadEnvironment(const Entry& e) {
  Environment env;
  env.name = e.key;
  std::string who = fmt::format("environment '{}'", env.name);
  bool selected = env.name == options_.environment;
  if (!e.value.IsNull() && ctx_.ExpectMap(e, "")) {
    for (const Entry& f : ctx_.Entries(e.value, kEnvironmentKeys, "in " + who)) {
      if (f.key == "vars" && ctx_.ExpectMap(f, who)) {
        for (const Entry& v : ctx_.Entries(f.value, {}, "in vars of " + who, "vars.")) {
          if (v.value.IsScalar()) {
            env.vars[v.key] = std::string(v.value.Scalar());  // literal: vars are not interpolated
          } else if (v.value.IsNull()) {
            env.vars[v.key] = "";
          } else {
            ctx_.Error(ctx_.Loc(v), fmt::format("{}: var '{}' must be a string, number or "
                                                "boolean, got {}",
                                                who, v.key, ParseContext::Describe(v.value)));
          }
        }
      }
      if (f.key != "services" || !ctx_.ExpectMap(f, who)) continue;
      for (const Entry& s : ctx_.Entries(f.value, {}, fmt::format("in services of {}", who))) {
        all_overrides_.emplace_back(env.name, s);
        std::string owner = fmt::format("service '{}' of {}", s.key, who);
        if (!s.value.IsMap()) {
          ctx_.Error(ctx_.Loc(s), fmt::format("{} must be a map of settings to override, e.g. "
                                              "{{replicas: 2}}, got {}",
                                              owner, ParseContext::Describe(s.value)));
        } else if (selected) {
          overrides_[s.key] = s.value;  // checked when merged into the service
        } else {
          ctx_.Entries(s.value, internal::ServiceKeys(), "in " + owner);
        }
      }
    }
  }
  stack_.environments.push_back(std::move(env));
}

void StackReader::SelectEnvironment(const Entry* environments) {
  if (options_.environment.empty()) return;
  std::vector<std::string> names;
  for (const Environment& env : stack_.environments) {
    if (env.name == options_.environment) selected_ = &env;
    names.push_back(env.name);
  }
  if (selected_ != nullptr) return;
  std::string defined = names.empty() ? "none (add an 'environments:' section)" : "";
  for (const std::string& n : names) defined += (n == names.front() ? "" : ", ") + n;
  SourceLocation at = environments ? ctx_.Loc(environments->key_node) : Top();
  ctx_.Error(at, fmt::format("environment '{}' is not defined; defined environments: {}",
                             options_.environment, defined));
}

void StackReader::ReadServices(const Entry& e) {
  if (!ctx_.ExpectMap(e, "")) return;
  for (const Entry& s : ctx_.Entries(e.value, {}, "in services")) {
    if (!IsValidName(s.key)) {
      ctx_.Error(ctx_.Loc(s.key_node),
                 fmt::format("service name '{}' is not valid; {}", s.key, NameRule("web")));
      continue;
    }
    YamlNode value = s.value;
    if (auto it = overrides_.find(s.key); it != overrides_.end() && value.IsMap()) {
      value = MergeMaps(doc_, value, it->second, true);
    }
    marks_.emplace_back();
    stack_.services.push_back(
        internal::ParseService(ctx_, s.key_node, value, stack_.dir, &marks_.back()));
  }
  internal::ValidateServices(ctx_, stack_.services, marks_);
  CheckOverrides();
}

void StackReader::CheckOverrides() {
  if (all_overrides_.empty()) return;
  std::vector<std::string> names;
  for (const Service& s : stack_.services) names.push_back(s.name);
  std::sort(names.begin(), names.end());
  std::string defined;
  for (const std::string& n : names) defined += (defined.empty() ? "" : ", ") + n;
  for (const auto& [env, s] : all_overrides_) {
    if (std::binary_search(names.begin(), names.end(), s.key)) continue;
    ctx_.Error(ctx_.Loc(s.key_node), fmt::format("environment '{}' overrides service '{}', which "
                                                 "is not defined; defined services: {}",
                                                 env, s.key, defined));
  }
}

}  // namespace

ParseResult ParseStack(const std::string& text, const std::string& path,
                       const ParseOptions& options) {
  return StackReader(path, options).Read(text);
}

ParseResult ParseStackFile(const std::string& path, const ParseOptions& options) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    ParseResult result;
    result.diagnostics.push_back(
        {SourceLocation{path, 0, 0},
         fmt::format("cannot read the stack file: {}", std::strerror(errno))});
    return result;
  }
  // Straight into one string: a stringstream and its str() would hold the file twice more.
  std::string text;
  std::error_code ec;
  if (uintmax_t size = std::filesystem::file_size(path, ec); !ec) text.reserve(size);
  char buf[64 * 1024];
  while (in.read(buf, sizeof buf) || in.gcount() > 0) text.append(buf, in.gcount());
  return ParseStack(text, path, options);
}

}  // namespace steward::config
