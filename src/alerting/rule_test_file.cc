// ParseRuleTestText: decodes a promtool test file from the config room's positioned YAML tree
// with the rules of yaml.v2's UnmarshalStrict (scalar resolution, type errors, unknown keys),
// reporting every problem at its place.
#include "alerting/rule_test_file.h"

#include <fmt/format.h>
#include <glob.h>
#include <yaml-cpp/exceptions.h>

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <functional>
#include <regex>
#include <sstream>

#include "config/yaml_tree.h"
#include "promql/parser.h"

namespace steward::alerting {
namespace {

using config::internal::YamlDoc;
using config::internal::YamlNode;
using config::internal::YamlPair;

// Go's strconv.ParseInt(s, 0, 64) on text without underscores.
bool ParseGoInt(std::string_view s, int64_t* out) {
  bool neg = false;
  if (!s.empty() && (s[0] == '+' || s[0] == '-')) {
    neg = s[0] == '-';
    s.remove_prefix(1);
  }
  int base = 10;
  if (s.size() > 1 && s[0] == '0') {
    char p = static_cast<char>(std::tolower(static_cast<unsigned char>(s[1])));
    base = p == 'x' ? 16 : p == 'o' ? 8 : p == 'b' ? 2 : 8;
    s.remove_prefix(base == 8 && p != 'o' ? 1 : 2);
  }
  if (s.empty()) return false;
  unsigned __int128 v = 0;
  for (char c : s) {
    int d = std::isdigit(static_cast<unsigned char>(c)) ? c - '0'
            : std::isxdigit(static_cast<unsigned char>(c))
                ? std::tolower(static_cast<unsigned char>(c)) - 'a' + 10
                : 99;
    if (d >= base) return false;
    v = v * base + d;
    if (v > (static_cast<unsigned __int128>(1) << 63)) return false;
  }
  if (!neg && v == (static_cast<unsigned __int128>(1) << 63)) return false;
  *out = neg ? -static_cast<int64_t>(v - 1) - 1 : static_cast<int64_t>(v);
  return true;
}

// yaml.v2's resolve() of a scalar: its tag ("!!null", "!!bool", "!!int", "!!float", "!!str")
// and, for numbers, its value.
std::string_view ResolveScalar(std::string_view text, bool quoted, double* number) {
  if (quoted) return "!!str";
  static const std::vector<std::string_view> kNull = {"", "~", "null", "Null", "NULL"};
  static const std::vector<std::string_view> kBool = {
      "y",    "Y",    "yes",   "Yes",   "YES",   "n",  "N",  "no", "No",  "NO",  "true",
      "True", "TRUE", "false", "False", "FALSE", "on", "On", "ON", "off", "Off", "OFF"};
  if (std::find(kNull.begin(), kNull.end(), text) != kNull.end()) return "!!null";
  if (std::find(kBool.begin(), kBool.end(), text) != kBool.end()) return "!!bool";
  static const std::vector<std::string_view> kInf = {".inf",  ".Inf",  ".INF",
                                                     "+.inf", "+.Inf", "+.INF"};
  static const std::vector<std::string_view> kNegInf = {"-.inf", "-.Inf", "-.INF"};
  static const std::vector<std::string_view> kNan = {".nan", ".NaN", ".NAN"};
  if (std::find(kInf.begin(), kInf.end(), text) != kInf.end()) *number = INFINITY;
  if (std::find(kNegInf.begin(), kNegInf.end(), text) != kNegInf.end()) *number = -INFINITY;
  if (std::find(kNan.begin(), kNan.end(), text) != kNan.end()) *number = NAN;
  if (std::isinf(*number) || std::isnan(*number)) return "!!float";
  std::string plain(text);
  plain.erase(std::remove(plain.begin(), plain.end(), '_'), plain.end());
  if (int64_t i = 0; ParseGoInt(plain, &i)) {
    *number = static_cast<double>(i);
    return "!!int";
  }
  static const std::regex kFloat(R"(^[-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)?$)");
  if (std::regex_match(plain, kFloat)) {
    auto f = promql::ParseGoFloat(plain);
    if (f.ok()) {
      *number = *f;
      return "!!float";
    }
  }
  return "!!str";
}

class Decoder {
 public:
  Decoder(const std::string& text, std::string_view path) : text_(text), path_(path) {
    std::string_view rest = text_;
    for (size_t nl; (nl = rest.find('\n')) != std::string_view::npos; rest.remove_prefix(nl + 1)) {
      lines_.push_back(rest.substr(0, nl));
    }
    lines_.push_back(rest);
  }

  StatusOr<RuleTestFile> Run();

 private:
  using Fields = std::vector<std::pair<std::string_view, std::function<void(YamlNode)>>>;

  void Error(YamlNode at, std::string message) {
    errors_.push_back(fmt::format("{}:{}:{}: {}", path_, at.line() + 1, at.column() + 1, message));
  }
  bool Quoted(YamlNode n) const {
    if (n.line() < 0 || static_cast<size_t>(n.line()) >= lines_.size()) return false;
    std::string_view l = lines_[n.line()];
    size_t c = static_cast<size_t>(n.column());
    return c < l.size() && (l[c] == '"' || l[c] == '\'' || l[c] == '|' || l[c] == '>');
  }
  // yaml.v2's "cannot unmarshal !!seq into T" / "cannot unmarshal !!str `x` into T".
  void TypeError(YamlNode n, std::string_view type) {
    if (n.IsScalar()) {
      double ignored = 0;
      Error(n, fmt::format("cannot unmarshal {} `{}` into {}",
                           ResolveScalar(n.Scalar(), Quoted(n), &ignored), n.Scalar(), type));
    } else {
      Error(n, fmt::format("cannot unmarshal {} into {}", n.IsMap() ? "!!map" : "!!seq", type));
    }
  }

  void Struct(YamlNode n, std::string_view type, const Fields& fields);
  template <typename T>
  void List(YamlNode n, std::string_view type, std::vector<T>* out,
            const std::function<void(YamlNode, T*)>& item);
  void String(YamlNode n, std::string* out);
  void Strings(YamlNode n, std::vector<std::string>* out);
  void StringMap(YamlNode n, std::map<std::string, std::string>* out);
  void Duration(YamlNode n, int64_t* out);
  void Float(YamlNode n, double* out);
  void Group(YamlNode n, RuleTestGroup* g);
  void AlertTest(YamlNode n, AlertTestCase* t);
  void PromqlTest(YamlNode n, PromqlTestCase* t);

  const std::string& text_;
  std::string path_;
  std::vector<std::string_view> lines_;
  std::vector<std::string> errors_;
};

void Decoder::Struct(YamlNode n, std::string_view type, const Fields& fields) {
  if (n.IsNull()) return;
  if (!n.IsMap()) return TypeError(n, type);
  std::vector<std::string_view> seen;
  for (const YamlPair& p : n.Pairs()) {
    std::string_view key = p.key.Scalar();
    auto f =
        std::find_if(fields.begin(), fields.end(), [&](const auto& f) { return f.first == key; });
    if (f == fields.end()) {
      Error(p.key, fmt::format("field {} not found in type {}", key, type));
    } else if (std::find(seen.begin(), seen.end(), key) != seen.end()) {
      Error(p.key, fmt::format("field {} already set in type {}", key, type));
    } else {
      seen.push_back(key);
      f->second(p.value);
    }
  }
}

template <typename T>
void Decoder::List(YamlNode n, std::string_view type, std::vector<T>* out,
                   const std::function<void(YamlNode, T*)>& item) {
  if (n.IsNull()) return;
  if (!n.IsSequence()) return TypeError(n, type);
  for (YamlNode i : n.Items()) item(i, &out->emplace_back());
}

void Decoder::String(YamlNode n, std::string* out) {
  if (n.IsNull()) return;
  if (!n.IsScalar()) return TypeError(n, "string");
  double ignored = 0;
  if (ResolveScalar(n.Scalar(), Quoted(n), &ignored) == "!!null") return;
  *out = std::string(n.Scalar());
}

void Decoder::Strings(YamlNode n, std::vector<std::string>* out) {
  List<std::string>(n, "[]string", out, [&](YamlNode i, std::string* s) { String(i, s); });
}

void Decoder::StringMap(YamlNode n, std::map<std::string, std::string>* out) {
  if (n.IsNull()) return;
  if (!n.IsMap()) return TypeError(n, "map[string]string");
  for (const YamlPair& p : n.Pairs()) {
    std::string key, value;
    String(p.key, &key);
    String(p.value, &value);
    (*out)[key] = value;
  }
}

void Decoder::Duration(YamlNode n, int64_t* out) {
  std::string text;
  size_t before = errors_.size();
  String(n, &text);
  double ignored = 0;
  // A null (`key:`) is zero; an empty quoted string reaches ParseDuration, which rejects it.
  if (errors_.size() != before || n.IsNull() ||
      ResolveScalar(n.Scalar(), Quoted(n), &ignored) == "!!null") {
    return;
  }
  auto ms = promql::ParseDurationMillis(text);
  if (!ms.ok()) return Error(n, std::string(ms.status().message()));
  *out = *ms;
}

void Decoder::Float(YamlNode n, double* out) {
  if (n.IsNull()) return;
  if (!n.IsScalar()) return TypeError(n, "float64");
  double v = 0;
  std::string_view tag = ResolveScalar(n.Scalar(), Quoted(n), &v);
  if (tag == "!!null") return;
  if (tag != "!!int" && tag != "!!float") return TypeError(n, "float64");
  *out = v;
}

void Decoder::AlertTest(YamlNode n, AlertTestCase* t) {
  t->line = n.line() + 1;
  Struct(
      n, "main.alertTestCase",
      {{"eval_time", [&](YamlNode v) { Duration(v, &t->eval_time_ms); }},
       {"alertname", [&](YamlNode v) { String(v, &t->alertname); }},
       {"exp_alerts", [&](YamlNode v) {
          List<TestExpAlert>(v, "[]main.alert", &t->exp_alerts, [&](YamlNode a, TestExpAlert* e) {
            Struct(a, "main.alert",
                   {{"exp_labels", [&](YamlNode m) { StringMap(m, &e->labels); }},
                    {"exp_annotations", [&](YamlNode m) { StringMap(m, &e->annotations); }}});
          });
        }}});
}

void Decoder::PromqlTest(YamlNode n, PromqlTestCase* t) {
  t->line = n.line() + 1;
  Struct(n, "main.promqlTestCase",
         {{"expr", [&](YamlNode v) { String(v, &t->expr); }},
          {"eval_time", [&](YamlNode v) { Duration(v, &t->eval_time_ms); }},
          {"exp_samples", [&](YamlNode v) {
             List<TestExpSample>(v, "[]main.sample", &t->exp_samples,
                                 [&](YamlNode s, TestExpSample* e) {
                                   Struct(s, "main.sample",
                                          {{"labels", [&](YamlNode m) { String(m, &e->labels); }},
                                           {"value", [&](YamlNode m) { Float(m, &e->value); }}});
                                 });
           }}});
}

void Decoder::Group(YamlNode n, RuleTestGroup* g) {
  g->line = n.line() + 1;
  auto series = [&](YamlNode s, TestInputSeries* out) {
    Struct(s, "main.series",
           {{"series", [&](YamlNode v) { String(v, &out->series); }},
            {"values", [&](YamlNode v) { String(v, &out->values); }}});
  };
  Struct(
      n, "main.testGroup",
      {{"interval", [&](YamlNode v) { Duration(v, &g->interval_ms); }},
       {"input_series",
        [&](YamlNode v) { List<TestInputSeries>(v, "[]main.series", &g->input_series, series); }},
       {"alert_rule_test",
        [&](YamlNode v) {
          List<AlertTestCase>(v, "[]main.alertTestCase", &g->alert_rule_test,
                              [&](YamlNode t, AlertTestCase* c) { AlertTest(t, c); });
        }},
       {"promql_expr_test",
        [&](YamlNode v) {
          List<PromqlTestCase>(v, "[]main.promqlTestCase", &g->promql_expr_test,
                               [&](YamlNode t, PromqlTestCase* c) { PromqlTest(t, c); });
        }},
       {"external_labels", [&](YamlNode v) { StringMap(v, &g->external_labels); }},
       {"external_url", [&](YamlNode v) { String(v, &g->external_url); }},
       {"name", [&](YamlNode v) { String(v, &g->name); }}});
}

StatusOr<RuleTestFile> Decoder::Run() {
  RuleTestFile file;
  file.path = path_;
  file.evaluation_interval_ms = 0;
  YamlDoc doc;
  try {
    YamlNode root = doc.Parse(text_);
    Struct(root, "main.unitTestFile",
           {{"rule_files", [&](YamlNode v) { Strings(v, &file.rule_files); }},
            {"evaluation_interval", [&](YamlNode v) { Duration(v, &file.evaluation_interval_ms); }},
            {"group_eval_order", [&](YamlNode v) { Strings(v, &file.group_eval_order); }},
            {"tests", [&](YamlNode v) {
               List<RuleTestGroup>(v, "[]main.testGroup", &file.tests,
                                   [&](YamlNode t, RuleTestGroup* g) { Group(t, g); });
             }}});
  } catch (const YAML::Exception& e) {
    errors_.push_back(
        fmt::format("{}:{}:{}: yaml: {}", path_, e.mark.line + 1, e.mark.column + 1, e.msg));
  }
  if (!errors_.empty()) {
    std::string all;
    for (const std::string& e : errors_) all += (all.empty() ? "" : "\n") + e;
    return InvalidArgument(all);
  }
  if (file.evaluation_interval_ms == 0) file.evaluation_interval_ms = 60'000;
  return file;
}

}  // namespace

StatusOr<RuleTestFile> ParseRuleTestText(const std::string& text, std::string_view path) {
  return Decoder(text, path).Run();
}

StatusOr<RuleTestFile> LoadRuleTestFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    return NotFound(fmt::format("open {}: {}", path, std::strerror(errno)));
  }
  std::stringstream buf;
  buf << in.rdbuf();
  return ParseRuleTestText(buf.str(), path);
}

StatusOr<std::vector<std::string>> RuleFilePaths(const RuleTestFile& file,
                                                 std::vector<std::string>* unmatched) {
  std::filesystem::path dir = std::filesystem::path(file.path).parent_path();
  std::vector<std::string> out;
  for (const std::string& rf : file.rule_files) {
    std::string pattern = rf;
    if (!rf.empty() && rf[0] != '/') pattern = (dir / rf).lexically_normal().string();
    glob_t g{};
    int rc = ::glob(pattern.c_str(), 0, nullptr, &g);
    if (rc == GLOB_NOMATCH || (rc == 0 && g.gl_pathc == 0)) {
      if (unmatched) unmatched->push_back(pattern);
    } else if (rc != 0) {
      globfree(&g);
      return InvalidArgument("syntax error in pattern " + pattern);
    }
    for (size_t i = 0; rc == 0 && i < g.gl_pathc; ++i) out.emplace_back(g.gl_pathv[i]);
    globfree(&g);
  }
  return out;
}

}  // namespace steward::alerting
