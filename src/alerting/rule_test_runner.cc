// RunRuleTests: promtool's ruleUnitTest and testGroup.test, step by step, over a temporary TSDB.
#include "alerting/rule_test_runner.h"

#include <fmt/format.h>
#include <stdlib.h>

#include <algorithm>
#include <filesystem>
#include <map>
#include <memory>
#include <set>
#include <sstream>

#include "alerting/rule_eval.h"
#include "alerting/rule_file.h"
#include "alerting/series_notation.h"
#include "promql/engine.h"
#include "promql/parser.h"
#include "promql/parser_internal.h"
#include "tsdb/tsdb.h"

namespace steward::alerting {
namespace {

namespace fs = std::filesystem;
using Kind = RuleTestFailure::Kind;
using promql::internal::DurationString;
using promql::internal::GoQuote;

// promtool's engine for rule tests holds at most this many samples per query.
constexpr int64_t kMaxSamples = 10'000;
// Evaluation steps one test group may take (promtool has no bound; a typo such as
// `eval_time: 100y` with a 1s interval would run for days).
constexpr int64_t kMaxSteps = 10'000'000;

struct InputSeries {
  tsdb::Labels labels;
  std::vector<tsdb::Sample> samples;
  size_t next = 0;  // the first sample not yet appended
};

// A temporary directory removed with everything in it when this goes away.
class TempDir {
 public:
  TempDir() {
    const char* base = getenv("TMPDIR");
    std::string tmpl = std::string(base && *base ? base : "/tmp") + "/steward-rule-test-XXXXXX";
    if (mkdtemp(tmpl.data()) != nullptr) path_ = tmpl;
  }
  ~TempDir() {
    std::error_code ec;
    if (!path_.empty()) fs::remove_all(path_, ec);
  }
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

struct AlertEntry {
  LabelPairs labels;
  LabelPairs annotations;
  auto operator<=>(const AlertEntry&) const = default;
};

LabelPairs Pairs(const tsdb::Labels& labels) {
  LabelPairs out;
  for (const tsdb::Label& l : labels.items()) out.emplace_back(l.name, l.value);
  return out;
}

LabelPairs Pairs(const std::map<std::string, std::string>& m) {
  return LabelPairs(m.begin(), m.end());
}

// promtool's indentLines: every line after the first gets `indent`.
std::string IndentLines(const std::string& text, std::string_view indent) {
  std::string out;
  for (char c : text) {
    out += c;
    if (c == '\n') out += indent;
  }
  return out;
}

// promtool's labelsAndAnnotations.String().
std::string AlertsString(const std::vector<AlertEntry>& alerts) {
  if (alerts.empty()) return "[]";
  std::string s = "[";
  for (size_t i = 0; i < alerts.size(); ++i) {
    std::string one = "\nLabels:" + LabelsString(alerts[i].labels) +
                      "\nAnnotations:" + LabelsString(alerts[i].annotations);
    s += fmt::format("{}\n{}:{}", i == 0 ? "" : ",", i, IndentLines(one, "  "));
  }
  return s + "\n]";
}

struct ParsedSample {
  LabelPairs labels;
  double value = 0;
};

std::string SamplesString(const std::vector<ParsedSample>& samples) {
  if (samples.empty()) return "nil";
  std::string s;
  for (const ParsedSample& p : samples) {
    s += (s.empty() ? "" : ", ") + LabelsString(p.labels) + " " + FormatFloatE(p.value);
  }
  return s;
}

class GroupRun {
 public:
  GroupRun(const RuleTestFile& file, const std::vector<std::string>& rule_files,
           const std::map<std::string, int>& order, const RuleTestGroup& group, int index,
           std::vector<RuleTestFailure>* failures)
      : file_(file),
        rule_files_(rule_files),
        order_(order),
        group_(group),
        index_(index),
        failures_(failures) {
    promql::EngineOptions eo;
    eo.default_subquery_step_ms = file.evaluation_interval_ms;
    engine_ = std::make_unique<promql::Engine>(eo);
    limits_.max_samples = kMaxSamples;
  }

  void Run();

 private:
  void Fail(Kind kind, std::string text, int64_t t = 0, std::string alert = "",
            std::string expr = "", std::string rule = "") {
    failures_->push_back(RuleTestFailure{kind, group_.name, index_, std::move(alert),
                                         std::move(expr), std::move(rule), t, std::move(text)});
  }
  bool LoadInput();
  bool OpenDb();
  bool LoadRules();
  Status AppendTill(int64_t ts);
  bool EvalStep(int64_t ts);
  void CheckAlerts(int64_t t);
  void CheckExpr(const PromqlTestCase& tc);
  std::string NamePrefix() const {
    return group_.name.empty() ? "" : fmt::format("    name: {},\n", group_.name);
  }

  const RuleTestFile& file_;
  const std::vector<std::string>& rule_files_;
  const std::map<std::string, int>& order_;
  const RuleTestGroup& group_;
  int index_;
  std::vector<RuleTestFailure>* failures_;

  std::unique_ptr<promql::Engine> engine_;
  promql::QueryLimits limits_;
  std::vector<InputSeries> input_;
  TempDir dir_;
  std::unique_ptr<tsdb::Db> db_;
  std::vector<std::unique_ptr<GroupEvaluator>> groups_;
};

// promtool builds a `load` command text from input_series and reads it back line by line:
// lines are trimmed, `#` lines are blank, and the first blank line ends the input.
bool GroupRun::LoadInput() {
  std::string text;
  for (const TestInputSeries& s : group_.input_series) {
    text += "  " + s.series + " " + s.values + "\n";
  }
  std::map<tsdb::Labels, size_t> index;
  std::istringstream lines(text);
  for (std::string line; std::getline(lines, line);) {
    size_t b = line.find_first_not_of(" \t\r\n\v\f");
    if (b == std::string::npos || line[b] == '#') break;
    line = line.substr(b, line.find_last_not_of(" \t\r\n\v\f") - b + 1);
    auto desc = ParseSeriesDesc(line);
    if (!desc.ok()) {
      Fail(Kind::kLoad, desc.status().message());
      return false;
    }
    std::vector<tsdb::Label> ls;
    for (auto& [n, v] : desc->labels) ls.push_back({n, v});
    auto labels = tsdb::Labels::FromUnsorted(std::move(ls));
    if (!labels.ok()) {
      Fail(Kind::kLoad, labels.status().message());
      return false;
    }
    InputSeries in{*labels, {}, 0};
    for (size_t i = 0; i < desc->values.size(); ++i) {
      int64_t t = static_cast<int64_t>(i) * group_.interval_ms;
      if (!desc->values[i].omitted) in.samples.push_back({t, desc->values[i].value});
    }
    auto [it, added] = index.emplace(in.labels, input_.size());
    if (added) {
      input_.push_back(std::move(in));
    } else {
      input_[it->second] = std::move(in);  // a repeated series replaces the earlier one
    }
  }
  return true;
}

bool GroupRun::OpenDb() {
  if (dir_.path().empty()) {
    Fail(Kind::kLoad, "cannot create a temporary directory for the test's TSDB");
    return false;
  }
  tsdb::Options o;
  o.dir = dir_.path();
  o.background = false;
  o.retention_time = Duration(0);
  // Test data starts at 1970 and may span years: one head that accepts all of it.
  o.block_duration = Duration(int64_t{1} << 60);
  o.wal_sync_interval = Duration(int64_t{1} << 40);
  auto db = tsdb::Db::Open(o);
  if (!db.ok()) {
    Fail(Kind::kLoad, db.status().message());
    return false;
  }
  db_ = std::move(*db);
  return true;
}

bool GroupRun::LoadRules() {
  std::vector<std::pair<int, std::unique_ptr<GroupEvaluator>>> ordered;
  bool loaded = true;
  for (const std::string& path : rule_files_) {
    RuleFileResult r = LoadRuleFile(path);
    for (const RuleError& e : r.errors) Fail(Kind::kLoad, e.ToString());
    if (!r.ok()) {
      loaded = false;
      continue;
    }
    for (RuleGroup& g : r.file.groups) {
      EvalOptions eo;
      eo.engine = engine_.get();
      eo.limits = limits_;
      eo.default_interval_ms =
          group_.interval_ms > 0 ? group_.interval_ms : file_.evaluation_interval_ms;
      eo.external_labels = group_.external_labels;
      eo.external_url = group_.external_url;
      auto at = order_.find(g.name);
      int rank = at == order_.end() ? 0 : at->second;
      ordered.emplace_back(rank, std::make_unique<GroupEvaluator>(std::move(g), path, eo));
    }
  }
  if (!loaded) return false;
  std::stable_sort(ordered.begin(), ordered.end(),
                   [](const auto& a, const auto& b) { return a.first < b.first; });
  for (auto& [rank, g] : ordered) groups_.push_back(std::move(g));
  return true;
}

Status GroupRun::AppendTill(int64_t ts) {
  std::unique_ptr<tsdb::Appender> app = db_->NewAppender();
  for (InputSeries& s : input_) {
    tsdb::SeriesRef ref = 0;
    for (; s.next < s.samples.size() && s.samples[s.next].t <= ts; ++s.next) {
      auto r = app->Append(ref, ref == 0 ? s.labels : tsdb::Labels(), s.samples[s.next].t,
                           s.samples[s.next].v);
      if (!r.ok()) {
        app->Rollback();
        return r.status();
      }
      ref = *r;
    }
  }
  return app->Commit().status();
}

bool GroupRun::EvalStep(int64_t ts) {
  if (Status st = AppendTill(ts); !st.ok()) {
    Fail(Kind::kLoad, st.message(), ts);  // promtool records it and goes on
    return true;
  }
  bool failed = false;
  for (auto& g : groups_) {
    Status st = g->Eval(db_.get(), ts);
    for (const RuleStatus& r : g->Rules()) {
      if (r.health != "err" && st.ok()) continue;
      std::string err = r.health == "err" ? r.last_error : st.message();
      Fail(Kind::kRule,
           fmt::format("    rule: {}, time: {}, err: {}", r.rule->name, GoDurationString(ts), err),
           ts, "", "", r.rule->name);
      failed = true;
    }
  }
  return !failed;
}

void GroupRun::CheckAlerts(int64_t t) {
  std::set<std::string> present;
  for (const AlertTestCase& tc : group_.alert_rule_test) {
    if (tc.eval_time_ms == t) present.insert(tc.alertname);
  }
  std::map<std::string, std::vector<AlertEntry>> got;
  for (const auto& g : groups_) {
    for (const RuleStatus& r : g->Rules()) {
      if (r.rule->kind != RuleKind::kAlert || !present.count(r.rule->name)) continue;
      std::vector<AlertEntry>& list = got[r.rule->name];
      for (const ActiveAlert& a : r.alerts) {
        if (a.state == AlertState::kFiring) list.push_back({Pairs(a.labels), Pairs(a.annotations)});
      }
    }
  }
  for (const AlertTestCase& tc : group_.alert_rule_test) {
    if (tc.eval_time_ms != t) continue;
    std::vector<AlertEntry> have = got[tc.alertname];
    std::vector<AlertEntry> want;
    for (const TestExpAlert& e : tc.exp_alerts) {
      std::map<std::string, std::string> labels = e.labels;
      labels["alertname"] = tc.alertname;
      want.push_back({Pairs(labels), Pairs(e.annotations)});
    }
    std::sort(have.begin(), have.end());
    std::sort(want.begin(), want.end());
    if (have == want) continue;
    Fail(Kind::kAlert,
         fmt::format("{}    alertname: {}, time: {}, \n        exp:{}, \n        got:{}",
                     NamePrefix(), tc.alertname, DurationString(tc.eval_time_ms),
                     IndentLines(AlertsString(want), "            "),
                     IndentLines(AlertsString(have), "            ")),
         t, tc.alertname);
  }
}

void GroupRun::CheckExpr(const PromqlTestCase& tc) {
  std::string head =
      fmt::format("    expr: {}, time: {}", GoQuote(tc.expr), DurationString(tc.eval_time_ms));
  auto fail = [&](const std::string& err) {
    Fail(Kind::kExpr, head + ", err: " + err, tc.eval_time_ms, "", tc.expr);
  };
  auto parsed = promql::ParseExpr(tc.expr);
  if (!parsed.ok()) return fail(parsed.status().message());
  std::unique_ptr<tsdb::Querier> q = db_->NewQuerier();
  auto value = engine_->Instant(q.get(), **parsed, tc.eval_time_ms, limits_);
  if (!value.ok()) return fail(value.status().message());
  std::vector<ParsedSample> have;
  if (const auto* vec = std::get_if<promql::Vector>(&*value)) {
    for (const promql::Sample& s : *vec) have.push_back({Pairs(s.metric), s.v});
  } else if (const auto* sc = std::get_if<promql::Scalar>(&*value)) {
    have.push_back({{}, sc->v});
  } else {
    return fail("rule result is not a vector or scalar");
  }
  std::vector<ParsedSample> want;
  for (const TestExpSample& s : tc.exp_samples) {
    auto labels = ParseMetric(s.labels);
    if (!labels.ok()) {
      return fail(fmt::format("labels {}: {}", GoQuote(s.labels), labels.status().message()));
    }
    want.push_back({std::move(*labels), s.value});
  }
  auto by_labels = [](const ParsedSample& a, const ParsedSample& b) { return a.labels < b.labels; };
  std::stable_sort(have.begin(), have.end(), by_labels);
  std::stable_sort(want.begin(), want.end(), by_labels);
  bool same = have.size() == want.size();
  for (size_t i = 0; same && i < have.size(); ++i) {
    same = have[i].labels == want[i].labels && have[i].value == want[i].value;
  }
  if (same) return;
  Fail(Kind::kExpr,
       fmt::format("{},\n        exp: {}\n        got: {}", head, SamplesString(want),
                   SamplesString(have)),
       tc.eval_time_ms, "", tc.expr);
}

void GroupRun::Run() {
  if (!LoadInput() || !OpenDb() || !LoadRules()) return;
  for (const AlertTestCase& tc : group_.alert_rule_test) {
    if (!tc.alertname.empty()) continue;
    return Fail(Kind::kFile,
                fmt::format("an item under alert_rule_test misses required attribute alertname "
                            "at eval_time {}{}",
                            DurationString(tc.eval_time_ms),
                            group_.name.empty() ? "" : " (in TestGroup " + group_.name + ")"));
  }
  int64_t maxt = 0;
  std::set<int64_t> alert_times;
  for (const AlertTestCase& tc : group_.alert_rule_test) {
    maxt = std::max(maxt, tc.eval_time_ms);
    alert_times.insert(tc.eval_time_ms);
  }
  for (const PromqlTestCase& tc : group_.promql_expr_test) maxt = std::max(maxt, tc.eval_time_ms);
  const int64_t step = file_.evaluation_interval_ms;
  if (maxt / step > kMaxSteps) {
    return Fail(Kind::kFile, fmt::format("eval_time {} is more than {} evaluation steps of {}",
                                         DurationString(maxt), kMaxSteps, DurationString(step)));
  }
  auto next_alert = alert_times.begin();
  for (int64_t ts = 0; ts <= maxt; ts += step) {
    if (!EvalStep(ts)) return;
    for (; next_alert != alert_times.end() && ts <= *next_alert && *next_alert < ts + step;
         ++next_alert) {
      CheckAlerts(*next_alert);
    }
  }
  for (const PromqlTestCase& tc : group_.promql_expr_test) CheckExpr(tc);
}

}  // namespace

std::string_view FailureKindName(RuleTestFailure::Kind kind) {
  switch (kind) {
    case Kind::kFile:
      return "file";
    case Kind::kLoad:
      return "load";
    case Kind::kRule:
      return "rule";
    case Kind::kAlert:
      return "alert";
    case Kind::kExpr:
      return "expr";
  }
  return "file";
}

RuleTestFileResult RunRuleTests(const RuleTestFile& file, const RuleTestOptions& options) {
  RuleTestFileResult result;
  result.path = file.path;
  std::vector<std::string> unmatched;
  auto rule_files = RuleFilePaths(file, &unmatched);
  for (const std::string& p : unmatched) {
    result.warnings.push_back("  WARNING: no file match pattern " + p);
  }
  if (!rule_files.ok()) {
    result.failures.push_back({Kind::kFile, "", -1, "", "", "", 0, rule_files.status().message()});
    return result;
  }
  std::map<std::string, int> order;
  for (size_t i = 0; i < file.group_eval_order.size(); ++i) {
    if (!order.emplace(file.group_eval_order[i], static_cast<int>(i)).second) {
      result.failures.push_back(
          {Kind::kFile, "", -1, "", "", "", 0,
           "group name repeated in evaluation order: " + file.group_eval_order[i]});
      return result;
    }
  }
  for (size_t i = 0; i < file.tests.size(); ++i) {
    const RuleTestGroup& g = file.tests[i];
    RuleTestGroupResult gr{g.name, static_cast<int>(i), true, 0};
    if (options.run && !std::regex_search(g.name, *options.run)) {
      gr.ran = false;
      result.tests.push_back(gr);
      continue;
    }
    size_t before = result.failures.size();
    GroupRun(file, *rule_files, order, g, static_cast<int>(i), &result.failures).Run();
    gr.failures = static_cast<int>(result.failures.size() - before);
    result.tests.push_back(gr);
  }
  return result;
}

RuleTestFileResult RunRuleTestFile(const std::string& path, const RuleTestOptions& options) {
  auto file = LoadRuleTestFile(path);
  if (!file.ok()) {
    RuleTestFileResult result;
    result.path = path;
    result.failures.push_back({Kind::kFile, "", -1, "", "", "", 0, file.status().message()});
    return result;
  }
  return RunRuleTests(*file, options);
}

}  // namespace steward::alerting
