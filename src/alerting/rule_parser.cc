// ParseRuleText: walks the YAML tree of a rule file into the model, reporting every problem with
// its place. Reading (keys, types, durations) and Prometheus' validation (rulefmt.Validate) run
// in one pass per rule, so errors come out in file order.
#include <fmt/format.h>
#include <yaml-cpp/exceptions.h>

#include <algorithm>
#include <charconv>
#include <filesystem>
#include <fstream>
#include <set>
#include <sstream>

#include "alerting/rule_checks.h"
#include "alerting/rule_file.h"
#include "alerting/template.h"
#include "config/yaml_tree.h"
#include "promql/parser.h"

namespace steward::alerting {
namespace {

using config::internal::YamlDoc;
using config::internal::YamlNode;
using config::internal::YamlPair;

constexpr std::string_view kTopKeys[] = {"groups"};
constexpr std::string_view kGroupKeys[] = {"name", "interval", "limit", "rules"};
constexpr std::string_view kRuleKeys[] = {
    "record", "alert", "expr", "for", "keep_firing_for", "labels", "annotations", "resolve_after"};

std::string AllowedList(std::span<const std::string_view> allowed) {
  std::string out;
  for (std::string_view k : allowed) out += (out.empty() ? "" : ", ") + std::string(k);
  return out;
}

// The scalar text of `key` in `map`, "" when absent or not a scalar.
std::string_view ScalarOf(YamlNode map, std::string_view key) {
  for (const YamlPair& p : map.Pairs()) {
    if (p.key.Scalar() == key && p.value.IsScalar()) return p.value.Scalar();
  }
  return {};
}

class Reader {
 public:
  Reader(const std::string& text, std::string_view path) : text_(text), path_(path) {
    std::string_view rest = text_;
    for (size_t nl; (nl = rest.find('\n')) != std::string_view::npos; rest.remove_prefix(nl + 1)) {
      lines_.push_back(rest.substr(0, nl));
    }
    lines_.push_back(rest);
  }

  RuleFileResult Run();

 private:
  void ErrorAt(int line, int column, std::string message) {
    errors_.push_back({path_, line, column, std::move(message)});
  }
  void Error(YamlNode at, std::string message) {
    ErrorAt(at.line() + 1, at.column() + 1, std::move(message));
  }
  // The value's place, or its key's when the value is empty (yaml-cpp points past it then).
  void ErrorOn(const YamlPair& p, std::string message) {
    Error(p.value.IsNull() || p.value.line() < 0 ? p.key : p.value, std::move(message));
  }

  std::vector<YamlPair> Keys(YamlNode map, std::span<const std::string_view> allowed,
                             const std::string& where);
  bool Scalar(const YamlPair& p, const std::string& where, std::string* out);
  bool Duration(const YamlPair& p, const std::string& where, int64_t* out);
  void ReadGroups(YamlNode groups);
  void ReadGroup(YamlNode node, std::set<std::string>* names);
  void ReadRule(YamlNode node, const std::string& where, RuleGroup* group);
  void ReadExpr(const YamlPair& p, const std::string& where, Rule* rule);
  void ReadMap(const YamlPair& p, const std::string& where, bool labels,
               std::vector<std::pair<std::string, std::string>>* out);
  void CheckTemplate(YamlNode value, const std::string& where, std::string_view what,
                     std::string_view alert);

  const std::string& text_;
  std::string path_;
  std::vector<std::string_view> lines_;
  std::vector<RuleError> errors_;
  RuleFile file_;
  // The current rule's label and annotation values, checked as templates once the rule is
  // known to be an alert (Prometheus checks only alerting rules' templates).
  std::vector<std::pair<YamlNode, std::string>> templates_;
};

std::vector<YamlPair> Reader::Keys(YamlNode map, std::span<const std::string_view> allowed,
                                   const std::string& where) {
  std::vector<YamlPair> kept;
  for (const YamlPair& p : map.Pairs()) {
    std::string_view key = p.key.Scalar();
    if (!p.key.IsScalar() || std::find(allowed.begin(), allowed.end(), key) == allowed.end()) {
      Error(p.key, fmt::format("{}unknown key '{}'; allowed keys are: {}", where, key,
                               AllowedList(allowed)));
      continue;
    }
    auto first = std::find_if(kept.begin(), kept.end(),
                              [&](const YamlPair& k) { return k.key.Scalar() == key; });
    if (first != kept.end()) {
      Error(p.key, fmt::format("{}key '{}' is repeated (first at line {}); keep one", where, key,
                               first->key.line() + 1));
      continue;
    }
    kept.push_back(p);
  }
  return kept;
}

bool Reader::Scalar(const YamlPair& p, const std::string& where, std::string* out) {
  if (p.value.IsNull()) return true;
  if (!p.value.IsScalar()) {
    ErrorOn(p, fmt::format("{}'{}' must be a string, got a {}", where, p.key.Scalar(),
                           p.value.IsMap() ? "map" : "list"));
    return false;
  }
  *out = std::string(p.value.Scalar());
  return true;
}

bool Reader::Duration(const YamlPair& p, const std::string& where, int64_t* out) {
  std::string text;
  if (!Scalar(p, where, &text) || text.empty()) return false;
  auto ms = promql::ParseDurationMillis(text);
  if (!ms.ok()) {
    ErrorOn(p, fmt::format("{}'{}' is not a duration: {}; write e.g. 5m, 1h30m or 0s", where,
                           p.key.Scalar(), ms.status().message()));
    return false;
  }
  *out = *ms;
  return true;
}

RuleFileResult Reader::Run() {
  if (size_t bad = internal::FirstInvalidUtf8(text_); bad != std::string::npos) {
    // Names, labels and annotations end up in JSON, notifications and terminals.
    size_t line_start = text_.rfind('\n', bad == 0 ? 0 : bad - 1);
    line_start = (line_start == std::string::npos || bad == 0) ? 0 : line_start + 1;
    ErrorAt(1 + static_cast<int>(std::count(text_.begin(), text_.begin() + bad, '\n')),
            1 + static_cast<int>(bad - line_start),
            "the rule file is not valid UTF-8 here; save it as UTF-8 text");
    return RuleFileResult{{}, std::move(errors_)};
  }
  YamlDoc doc;
  try {
    YamlNode root = doc.Parse(text_);
    file_.path = path_;
    if (root.IsMap()) {
      for (const YamlPair& p : Keys(root, kTopKeys, "")) ReadGroups(p.value);
    } else if (!root.IsNull()) {
      Error(root,
            "a rule file is a map with a 'groups:' list; write e.g. "
            "'groups: [{name: example, rules: [...]}]'");
    }
  } catch (const YAML::Exception& e) {
    // Nothing past a syntax error can be trusted; report it alone.
    errors_.clear();
    ErrorAt(e.mark.line < 0 ? 1 : e.mark.line + 1, e.mark.column < 0 ? 1 : e.mark.column + 1,
            "YAML syntax error: " + e.msg);
  }
  std::stable_sort(errors_.begin(), errors_.end(), [](const RuleError& a, const RuleError& b) {
    return std::tie(a.line, a.column) < std::tie(b.line, b.column);
  });
  RuleFileResult result;
  result.errors = std::move(errors_);
  if (result.errors.empty()) result.file = std::move(file_);
  return result;
}

void Reader::ReadGroups(YamlNode groups) {
  if (groups.IsNull()) return;
  if (!groups.IsSequence()) {
    Error(groups, "'groups' must be a list of groups, each with 'name' and 'rules'");
    return;
  }
  std::set<std::string> names;
  for (YamlNode g : groups.Items()) ReadGroup(g, &names);
}

void Reader::ReadGroup(YamlNode node, std::set<std::string>* names) {
  if (!node.IsMap()) {
    Error(node, "each item of 'groups' must be a map with 'name' and 'rules'");
    return;
  }
  RuleGroup group;
  group.name = std::string(ScalarOf(node, "name"));
  group.line = node.line() + 1;
  const std::string where = fmt::format("group \"{}\": ", group.name);
  YamlNode rules;
  bool named = false;
  for (const YamlPair& p : Keys(node, kGroupKeys, where)) {
    std::string_view key = p.key.Scalar();
    if (key == "name") {
      named = Scalar(p, where, &group.name) && !group.name.empty();
      if (named && !names->insert(group.name).second) {
        ErrorOn(p, fmt::format("group name \"{}\" is repeated in the same file; give each group "
                               "a unique name",
                               group.name));
      }
    } else if (key == "interval") {
      Duration(p, where, &group.interval_ms);
    } else if (key == "limit") {
      std::string text;
      int64_t v = 0;
      if (Scalar(p, where, &text) && !text.empty()) {
        auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), v);
        if (ec != std::errc() || end != text.data() + text.size()) {
          ErrorOn(p, where + "'limit' must be a whole number (0 for no limit), got " + text);
        }
        group.limit = v;
      }
    } else {
      rules = p.value;
    }
  }
  if (!named) {
    Error(node, "group name must not be empty; add 'name: <unique name>' to the group");
  }
  if (rules.IsDefined() && !rules.IsNull()) {
    if (!rules.IsSequence()) {
      Error(rules, where + "'rules' must be a list of alerting or recording rules");
    } else {
      int index = 0;
      for (YamlNode r : rules.Items()) {
        ++index;
        std::string name(ScalarOf(r, "alert"));
        if (name.empty()) name = ScalarOf(r, "record");
        ReadRule(r, fmt::format("group \"{}\", rule {} (\"{}\"): ", group.name, index, name),
                 &group);
      }
    }
  }
  file_.groups.push_back(std::move(group));
}

void Reader::ReadRule(YamlNode node, const std::string& where, RuleGroup* group) {
  if (!node.IsMap()) {
    Error(node, where + "a rule must be a map with 'alert' or 'record', and 'expr'");
    return;
  }
  Rule rule;
  rule.line = node.line() + 1;
  templates_.clear();
  std::string alert, record;
  const YamlPair* record_pair = nullptr;
  const YamlPair* expr_pair = nullptr;
  const std::vector<YamlPair> pairs = Keys(node, kRuleKeys, where);
  std::vector<const YamlPair*> alert_only;  // keys a recording rule may not have
  for (const YamlPair& p : pairs) {
    std::string_view key = p.key.Scalar();
    if (key == "alert") {
      Scalar(p, where, &alert);
    } else if (key == "record") {
      Scalar(p, where, &record);
      record_pair = &p;
    } else if (key == "expr") {
      expr_pair = &p;
    } else if (key == "for" || key == "keep_firing_for" || key == "resolve_after") {
      int64_t* out = key == "for"               ? &rule.for_ms
                     : key == "keep_firing_for" ? &rule.keep_firing_for_ms
                                                : &rule.resolve_after_ms;
      if (Duration(p, where, out) && *out != 0) alert_only.push_back(&p);
    } else if (key == "labels") {
      ReadMap(p, where, true, &rule.labels);
    } else {
      ReadMap(p, where, false, &rule.annotations);
      if (!rule.annotations.empty()) alert_only.push_back(&p);
    }
  }
  if (!alert.empty() && !record.empty()) {
    ErrorOn(*record_pair, where +
                              "only one of 'record' and 'alert' may be set; a rule records a "
                              "series or raises an alert, so split it into two rules");
  } else if (alert.empty() && record.empty()) {
    Error(node, where +
                    "one of 'record' or 'alert' must be set; add 'alert: <AlertName>' or "
                    "'record: <metric name>'");
  }
  if (expr_pair == nullptr) {
    Error(node, where +
                    "field 'expr' must be set; give the PromQL to evaluate, e.g. "
                    "'expr: up == 0'");
  } else {
    ReadExpr(*expr_pair, where, &rule);
  }
  if (!record.empty()) {
    for (const YamlPair* p : alert_only) {
      Error(p->key, fmt::format("{}invalid field '{}' in recording rule; only alerting rules "
                                "have it",
                                where, p->key.Scalar()));
    }
    if (!internal::IsValidMetricName(record)) {
      ErrorOn(*record_pair, fmt::format("{}invalid recording rule name: {}; a metric name "
                                        "matches [a-zA-Z_:][a-zA-Z0-9_:]*, e.g. job:up:sum",
                                        where, record));
    }
  }
  if (!alert.empty()) {
    for (const auto& [value, what] : templates_) CheckTemplate(value, where, what, alert);
  }
  rule.kind = record.empty() ? RuleKind::kAlert : RuleKind::kRecord;
  rule.name = record.empty() ? alert : record;
  group->rules.push_back(std::move(rule));
}

void Reader::ReadExpr(const YamlPair& p, const std::string& where, Rule* rule) {
  if (!Scalar(p, where, &rule->expr)) return;
  if (rule->expr.empty()) {
    ErrorOn(p, where +
                   "field 'expr' must be set; give the PromQL to evaluate, e.g. "
                   "'expr: up == 0'");
    return;
  }
  auto parsed = promql::ParseExpr(rule->expr);
  if (parsed.ok()) {
    rule->parsed = std::shared_ptr<const promql::Expr>(std::move(*parsed));
    return;
  }
  internal::PositionedMessage m = internal::SplitParseError(parsed.status().message());
  auto [line, col] =
      internal::MapValuePosition(lines_, p.value.line(), p.value.column(), m.line, m.column);
  ErrorAt(line, col, where + "could not parse expression: " + m.text);
}

void Reader::ReadMap(const YamlPair& p, const std::string& where, bool labels,
                     std::vector<std::pair<std::string, std::string>>* out) {
  const std::string_view what = labels ? "label" : "annotation";
  if (p.value.IsNull()) return;
  if (!p.value.IsMap()) {
    ErrorOn(
        p, fmt::format("{}'{}' must be a map of {} names to strings", where, p.key.Scalar(), what));
    return;
  }
  std::set<std::string_view> seen;
  for (const YamlPair& kv : p.value.Pairs()) {
    std::string_view name = kv.key.Scalar();
    if (!kv.key.IsScalar() || !internal::IsValidLabelName(name) || (labels && name == "__name__")) {
      Error(kv.key, fmt::format("{}invalid {} name: {}; names match [a-zA-Z_][a-zA-Z0-9_]*{}",
                                where, what, name, labels ? " and are not __name__" : ""));
      continue;
    }
    if (!seen.insert(name).second) {
      Error(kv.key, fmt::format("{}{} '{}' is repeated; keep one", where, what, name));
      continue;
    }
    if (!kv.value.IsNull() && !kv.value.IsScalar()) {
      Error(kv.key, fmt::format("{}{} '{}' must be a string", where, what, name));
      continue;
    }
    std::string value(kv.value.Scalar());
    templates_.emplace_back(kv.value, fmt::format("{} \"{}\"", what, name));
    out->emplace_back(std::string(name), std::move(value));
  }
}

// Prometheus' rulefmt parses every label and annotation of an alerting rule as a template, named
// "__alert_" + the alert's name, and reports Go's parse error; it is placed at the action the
// error is in.
void Reader::CheckTemplate(YamlNode value, const std::string& where, std::string_view what,
                           std::string_view alert) {
  std::string_view text = value.Scalar();
  internal::TemplateCheck check = internal::CheckTemplateAt("__alert_" + std::string(alert), text);
  if (check.error.empty()) return;
  std::string_view before = text.substr(0, std::min(check.offset, text.size()));
  size_t nl = before.rfind('\n');
  int line = 1 + static_cast<int>(std::count(before.begin(), before.end(), '\n'));
  int col = static_cast<int>(nl == std::string_view::npos ? before.size() : before.size() - nl - 1);
  auto [file_line, file_col] =
      internal::MapValuePosition(lines_, value.line(), value.column(), line, col + 1);
  ErrorAt(file_line, file_col, fmt::format("{}{}: {}", where, what, check.error));
}

}  // namespace

size_t RuleFile::RuleCount() const {
  size_t n = 0;
  for (const RuleGroup& g : groups) n += g.rules.size();
  return n;
}

std::string RuleError::ToString() const {
  if (line <= 0) return fmt::format("{}: {}", path, message);
  return fmt::format("{}:{}:{}: {}", path, line, column, message);
}

RuleFileResult ParseRuleText(const std::string& text, std::string_view path) {
  return Reader(text, path).Run();
}

RuleFileResult LoadRuleFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream buf;
  if (in) buf << in.rdbuf();
  if (!in || !std::filesystem::is_regular_file(path)) {
    RuleFileResult result;
    result.errors.push_back({path, 0, 0, "cannot read the rule file; check the path"});
    return result;
  }
  return ParseRuleText(buf.str(), path);
}

StatusOr<RuleFile> ParseRuleFile(const std::string& text, std::string_view path) {
  RuleFileResult result = ParseRuleText(text, path);
  if (result.ok()) return std::move(result.file);
  std::string all;
  for (const RuleError& e : result.errors) all += (all.empty() ? "" : "\n") + e.ToString();
  return InvalidArgument(all);
}

}  // namespace steward::alerting
