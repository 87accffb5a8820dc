#include "server/alerting.h"

#include <glob.h>

#include <algorithm>
#include <cmath>
#include <variant>
#include <charconv>
#include <fstream>
#include <sstream>

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include "alerting/builtin_rules.h"
#include "alerting/rule_file.h"
#include "alerting/slo.h"
#include "base/hash.h"
#include "promql/parser.h"

namespace steward::server {
namespace {

constexpr const char* kRulesDocument = "alerting.rules";

std::string Rfc3339(int64_t ms) { return ms <= 0 ? "0001-01-01T00:00:00Z"
                                                 : FormatRfc3339Millis(FromUnixMillis(ms)); }

// Go's strconv.FormatFloat(v, 'e', -1, 64), as Prometheus writes an alert's value.
std::string AlertValue(double v) {
  if (std::isnan(v)) return "NaN";
  if (std::isinf(v)) return v > 0 ? "+Inf" : "-Inf";
  char buf[64];
  auto r = std::to_chars(buf, buf + sizeof buf, v, std::chars_format::scientific);
  return std::string(buf, r.ptr);
}

nlohmann::json LabelsJson(const tsdb::Labels& labels) {
  nlohmann::json j = nlohmann::json::object();
  for (const auto& l : labels.items()) j[l.name] = l.value;
  return j;
}

nlohmann::json PairsJson(const std::vector<std::pair<std::string, std::string>>& pairs) {
  nlohmann::json j = nlohmann::json::object();
  for (const auto& [k, v] : pairs) j[k] = v;
  return j;
}

nlohmann::json AlertJson(const alerting::ActiveAlert& a) {
  nlohmann::json annotations(a.annotations);
  if (annotations.is_null()) annotations = nlohmann::json::object();
  return {{"labels", LabelsJson(a.labels)},
          {"annotations", annotations},
          {"state", std::string(alerting::AlertStateName(a.state))},
          {"activeAt", Rfc3339(a.active_at_ms)},
          {"value", AlertValue(a.value)}};
}

StatusOr<std::string> ReadText(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return NotFound(fmt::format("{}: cannot read the rule file: {}", path,
                                       std::strerror(errno)));
  std::ostringstream out;
  out << in.rdbuf();
  return out.str();
}

// Each alert points people at its runbook page unless the rule names one (issue: "runbook_url
// filled in with the generated runbook page when not set").
void AddRunbookUrl(const std::string& external_url, alerting::Rule* rule) {
  if (rule->kind != alerting::RuleKind::kAlert) return;
  for (const auto& [k, v] : rule->annotations)
    if (k == "runbook_url") return;
  rule->annotations.emplace_back("runbook_url", external_url + "/runbooks/" + rule->name);
}

// What decides whether a load changes anything: every rule as it will run, and the settings.
std::string Fingerprint(const std::vector<alerting::RuleFile>& files, const RuleSources& s) {
  std::string out = fmt::format("{}\n", s.evaluation_interval_ms);
  for (const auto& [k, v] : s.external_labels) out += k + "=" + v + "\n";
  for (const auto& f : files) {
    out += "file " + f.path + "\n";
    for (const auto& g : f.groups) {
      out += fmt::format("group {} {} {}\n", g.name, g.interval_ms, g.limit);
      for (const auto& r : g.rules) {
        out += fmt::format("rule {} {} {} {} {} {} {}\n", static_cast<int>(r.kind), r.name,
                           r.expr, r.for_ms, r.keep_firing_for_ms, r.resolve_after_ms,
                           r.labels.size());
        for (const auto& [k, v] : r.labels) out += k + "=" + v + "\n";
        for (const auto& [k, v] : r.annotations) out += k + ":" + v + "\n";
      }
    }
  }
  return out;
}

}  // namespace

struct AlertingService::GroupSlot {
  std::unique_ptr<alerting::GroupEvaluator> eval;
  int64_t interval_ms = 0;
  int64_t offset_ms = 0;
  int64_t next_ms = 0;  // 0: not scheduled yet
  bool restore = false;
  std::string key;      // "file;group", Prometheus' rule_group label
};

struct AlertingService::Metrics {
  metrics::Family<metrics::Gauge>* last_duration = nullptr;
  metrics::Family<metrics::Gauge>* last_eval = nullptr;
  metrics::Family<metrics::Gauge>* rules = nullptr;
  metrics::Family<metrics::Gauge>* interval = nullptr;
  metrics::Family<metrics::Counter>* evaluations = nullptr;
  metrics::Family<metrics::Counter>* failures = nullptr;
  metrics::Family<metrics::Counter>* missed = nullptr;
  metrics::Family<metrics::Gauge>* reload_ok = nullptr;
  metrics::Family<metrics::Gauge>* reload_time = nullptr;
  metrics::Family<metrics::Gauge>* alerts = nullptr;
};

AlertingService::AlertingService(AlertingOptions options)
    : opt_(std::move(options)), clock_(opt_.clock ? opt_.clock : RealClock::Get()) {
  metrics_ = std::make_unique<Metrics>();
  if (metrics::Registry* r = opt_.metrics) {
    std::vector<std::string> g = {"rule_group"};
    metrics_->last_duration = &r->AddGauge("steward_rule_group_last_duration_seconds",
                                           "How long the group's last evaluation took.", g);
    metrics_->last_eval = &r->AddGauge("steward_rule_group_last_evaluation_timestamp_seconds",
                                       "When the group was last evaluated (unix seconds).", g);
    metrics_->rules = &r->AddGauge("steward_rule_group_rules", "Rules in the group.", g);
    metrics_->interval = &r->AddGauge("steward_rule_group_interval_seconds",
                                      "The group's evaluation interval.", g);
    metrics_->evaluations = &r->AddCounter("steward_rule_evaluations_total",
                                           "Rule evaluations.", g);
    metrics_->failures = &r->AddCounter("steward_rule_evaluation_failures_total",
                                        "Rule evaluations that failed.", g);
    metrics_->missed = &r->AddCounter("steward_rule_group_iterations_missed_total",
                                      "Evaluations skipped because the group ran late.", g);
    metrics_->reload_ok = &r->AddGauge("steward_rules_last_reload_successful",
                                       "1 when the last rules load succeeded.", {});
    metrics_->reload_time = &r->AddGauge("steward_rules_last_reload_success_timestamp_seconds",
                                         "When rules last loaded successfully.", {});
    metrics_->alerts = &r->AddGauge("steward_alerts", "Alerts by state.", {"state"});
  }
}

AlertingService::~AlertingService() { Stop(); }

Status AlertingService::Start(Sink sink) {
  sink_ = std::move(sink);
  if (opt_.store) {
    ASSIGN_OR_RETURN(auto doc, opt_.store->GetDocument(kRulesDocument));
    if (doc) {
      nlohmann::json j = nlohmann::json::parse(*doc, nullptr, false);
      std::vector<alerting::RuleFile> files;
      std::vector<std::string> errors;
      if (j.is_object() && j["files"].is_object()) {
        for (const auto& [path, text] : j["files"].items()) {
          if (!text.is_string()) continue;
          auto parsed = alerting::ParseRuleText(text.get<std::string>(), path);
          for (const auto& e : parsed.errors) errors.push_back(e.ToString());
          if (parsed.ok()) files.push_back(std::move(parsed.file));
        }
      }
      if (!errors.empty()) {
        spdlog::error("msg=\"recorded rules ignored\" errors=\"{}\"", fmt::join(errors, "; "));
      } else {
        RuleSources sources;
        sources.evaluation_interval_ms = j.value("evaluation_interval_ms", int64_t{30'000});
        RETURN_IF_ERROR(Install(std::move(files), sources, j["files"]));
      }
    }
  }
  {
    std::lock_guard<std::mutex> l(mu_);
    stop_ = false;
  }
  thread_ = std::thread([this] { Loop(); });
  return Status::OK();
}

void AlertingService::Stop() {
  {
    std::lock_guard<std::mutex> l(mu_);
    stop_ = true;
  }
  cv_.notify_all();
  if (thread_.joinable()) thread_.join();
}

StatusOr<size_t> AlertingService::Load(const RuleSources& sources) {
  std::vector<alerting::RuleFile> files;
  std::vector<std::string> errors;
  nlohmann::json texts = nlohmann::json::object();
  for (const std::string& path : sources.files) {
    auto text = ReadText(path);
    if (!text.ok()) {
      errors.push_back(text.status().message());
      continue;
    }
    auto parsed = alerting::ParseRuleText(*text, path);
    for (const auto& e : parsed.errors) errors.push_back(e.ToString());
    if (!parsed.ok()) continue;
    texts[path] = std::move(*text);
    files.push_back(std::move(parsed.file));
  }
  if (!sources.slos.empty()) {
    auto slo = alerting::SloRuleFile(sources.slos, sources.evaluation_interval_ms);
    if (!slo.ok()) errors.push_back(std::string(slo.status().message()));
    else files.push_back(std::move(*slo));
  }
  if (sources.builtin) {
    auto builtin = alerting::ParseRuleText(alerting::BuiltinRulesText(),
                                           alerting::kBuiltinRulesPath);
    for (const auto& e : builtin.errors) errors.push_back(e.ToString());
    if (builtin.ok()) files.push_back(std::move(builtin.file));
  }
  if (!errors.empty()) {
    Status st = InvalidArgument(fmt::format(
        "the rules were not loaded ({} error{}); the previous rules keep running:\n{}",
        errors.size(), errors.size() == 1 ? "" : "s", fmt::join(errors, "\n")));
    {
      std::lock_guard<std::mutex> l(mu_);
      load_status_ = st;
    }
    if (metrics_->reload_ok) metrics_->reload_ok->WithLabels({}).Set(0);
    return st;
  }
  size_t count = 0;
  for (auto& f : files) {
    count += f.RuleCount();
    for (auto& g : f.groups)
      for (auto& r : g.rules) AddRunbookUrl(opt_.external_url, &r);
  }
  // The same rules again (an apply that changed only services): nothing to replace.
  std::string fingerprint = Fingerprint(files, sources);
  {
    std::lock_guard<std::mutex> l(mu_);
    if (fingerprint == fingerprint_) {
      load_status_ = Status::OK();
      return count;
    }
  }
  RETURN_IF_ERROR(Install(std::move(files), sources, texts));
  {
    std::lock_guard<std::mutex> l(mu_);
    fingerprint_ = std::move(fingerprint);
  }
  if (opt_.store) {
    nlohmann::json doc = {{"files", texts},
                          {"evaluation_interval_ms", sources.evaluation_interval_ms}};
    Status st = opt_.store->PutDocument(kRulesDocument, doc.dump());
    if (!st.ok()) spdlog::warn("msg=\"could not record the rules\" error=\"{}\"", st.message());
  }
  return count;
}

Status AlertingService::Install(std::vector<alerting::RuleFile> files,
                                const RuleSources& sources, const nlohmann::json&) {
  alerting::EvalOptions eo;
  eo.engine = &engine_;
  eo.limits = opt_.limits;
  eo.default_interval_ms = sources.evaluation_interval_ms;
  eo.external_labels = sources.external_labels;
  eo.external_url = opt_.external_url;
  std::vector<std::unique_ptr<GroupSlot>> slots;
  for (auto& file : files) {
    for (auto& group : file.groups) {
      auto slot = std::make_unique<GroupSlot>();
      slot->key = file.path + ";" + group.name;
      slot->eval = std::make_unique<alerting::GroupEvaluator>(std::move(group), file.path, eo);
      slot->interval_ms = slot->eval->interval_ms();
      slot->offset_ms = static_cast<int64_t>(Fnv1a64(slot->key) %
                                             static_cast<uint64_t>(slot->interval_ms));
      slots.push_back(std::move(slot));
    }
  }
  {
    std::lock_guard<std::mutex> l(mu_);
    for (auto& slot : slots) {
      slot->restore = true;
      for (const auto& old : groups_) {
        if (old->key != slot->key) continue;
        slot->eval->Carry(*old->eval);
        slot->restore = old->restore;
        slot->next_ms = old->interval_ms == slot->interval_ms ? old->next_ms : 0;
      }
    }
    groups_ = std::move(slots);
    load_status_ = Status::OK();
    changed_ = true;
    if (metrics_->rules)
      for (const auto& s : groups_) {
        metrics_->rules->WithLabels({s->key}).Set(
            static_cast<double>(s->eval->group().rules.size()));
        metrics_->interval->WithLabels({s->key}).Set(s->interval_ms / 1000.0);
      }
  }
  cv_.notify_all();
  if (metrics_->reload_ok) {
    metrics_->reload_ok->WithLabels({}).Set(1);
    metrics_->reload_time->WithLabels({}).Set(ToUnixMillis(clock_->WallNow()) / 1000.0);
  }
  return Status::OK();
}

Status AlertingService::LastLoadStatus() const {
  std::lock_guard<std::mutex> l(mu_);
  return load_status_;
}

void AlertingService::EvalGroup(GroupSlot* slot, int64_t t_ms) {
  MonoTime t0 = clock_->Now();
  Status st = slot->eval->Eval(opt_.db, t_ms);
  if (!st.ok())
    spdlog::error("msg=\"rule group evaluation failed\" group=\"{}\" error=\"{}\"", slot->key,
                  st.message());
  if (slot->restore) {
    slot->eval->RestoreForState(opt_.db, t_ms);
    slot->restore = false;
  }
  std::vector<alerting::Alert> alerts = slot->eval->AlertsToSend(t_ms);
  double seconds = std::chrono::duration<double>(clock_->Now() - t0).count();
  if (metrics_->last_duration) {
    metrics_->last_duration->WithLabels({slot->key}).Set(seconds);
    metrics_->last_eval->WithLabels({slot->key}).Set(t_ms / 1000.0);
    metrics_->evaluations->WithLabels({slot->key}).Inc(
        static_cast<double>(slot->eval->group().rules.size()));
    int failed = st.ok() ? 0 : 1;
    for (const auto& r : slot->eval->Rules()) failed += r.health == "err";
    if (failed > 0) metrics_->failures->WithLabels({slot->key}).Inc(failed);
  }
  if (!alerts.empty() && sink_) sink_(std::move(alerts));
}

Status AlertingService::EvalAllAt(int64_t t_ms) {
  std::lock_guard<std::mutex> l(mu_);
  for (auto& slot : groups_) EvalGroup(slot.get(), t_ms);
  return Status::OK();
}

void AlertingService::Loop() {
  std::unique_lock<std::mutex> l(mu_);
  while (!stop_) {
    changed_ = false;
    int64_t now = ToUnixMillis(clock_->WallNow());
    int64_t next = now + 1000;
    for (auto& slot : groups_) {
      if (slot->next_ms == 0) {
        // The first time at or after now that is offset past a multiple of the interval.
        int64_t base = now - (now % slot->interval_ms) + slot->offset_ms;
        slot->next_ms = base < now ? base + slot->interval_ms : base;
      }
      if (slot->next_ms <= now) {
        EvalGroup(slot.get(), slot->next_ms);
        int64_t after = ToUnixMillis(clock_->WallNow());
        int64_t missed = (after - slot->next_ms) / slot->interval_ms;
        if (missed > 0 && metrics_->missed)
          metrics_->missed->WithLabels({slot->key}).Inc(static_cast<double>(missed));
        slot->next_ms += (missed + 1) * slot->interval_ms;
        if (stop_ || changed_) break;
      }
      next = std::min(next, slot->next_ms);
    }
    if (metrics_->alerts) {
      double pending = 0, firing = 0;
      for (const auto& slot : groups_)
        for (const auto& r : slot->eval->Rules())
          for (const auto& a : r.alerts) {
            pending += a.state == alerting::AlertState::kPending;
            firing += a.state == alerting::AlertState::kFiring && a.resolved_at_ms == 0;
          }
      metrics_->alerts->WithLabels({"pending"}).Set(pending);
      metrics_->alerts->WithLabels({"firing"}).Set(firing);
    }
    if (stop_ || changed_) continue;
    int64_t wait = std::max<int64_t>(1, next - ToUnixMillis(clock_->WallNow()));
    cv_.wait_for(l, std::chrono::milliseconds(wait), [this] { return stop_ || changed_; });
  }
}

nlohmann::json AlertingService::RulesJson(const std::string& type) const {
  std::lock_guard<std::mutex> l(mu_);
  nlohmann::json groups = nlohmann::json::array();
  for (const auto& slot : groups_) {
    const alerting::GroupEvaluator& ev = *slot->eval;
    nlohmann::json rules = nlohmann::json::array();
    for (const alerting::RuleStatus& rs : ev.Rules()) {
      const alerting::Rule& rule = *rs.rule;
      bool alert = rule.kind == alerting::RuleKind::kAlert;
      if ((type == "alert" && !alert) || (type == "record" && alert)) continue;
      nlohmann::json j = {{"name", rule.name},
                          {"query", rule.expr},
                          {"labels", PairsJson(rule.labels)},
                          {"health", rs.health},
                          {"lastError", rs.last_error},
                          {"evaluationTime", rs.eval_seconds},
                          {"lastEvaluation", Rfc3339(rs.last_eval_ms)},
                          {"type", alert ? "alerting" : "recording"}};
      if (rs.last_error.empty()) j.erase("lastError");
      if (alert) {
        std::string state = "inactive";
        nlohmann::json alerts = nlohmann::json::array();
        for (const auto& a : rs.alerts) {
          if (a.resolved_at_ms != 0) continue;
          alerts.push_back(AlertJson(a));
          if (a.state == alerting::AlertState::kFiring) state = "firing";
          else if (state == "inactive") state = "pending";
        }
        j["state"] = state;
        j["duration"] = rule.for_ms / 1000.0;
        j["keepFiringFor"] = rule.keep_firing_for_ms / 1000.0;
        j["annotations"] = PairsJson(rule.annotations);
        j["alerts"] = std::move(alerts);
      }
      rules.push_back(std::move(j));
    }
    if (!type.empty() && rules.empty()) continue;
    nlohmann::json g = {{"name", ev.group().name},
                        {"file", ev.file()},
                        {"rules", std::move(rules)},
                        {"interval", ev.interval_ms() / 1000.0},
                        {"limit", ev.group().limit},
                        {"evaluationTime", ev.last_eval_seconds()},
                        {"lastEvaluation", Rfc3339(ev.last_eval_ms())}};
    groups.push_back(std::move(g));
  }
  return {{"groups", std::move(groups)}};
}

nlohmann::json AlertingService::AlertsJson() const {
  std::lock_guard<std::mutex> l(mu_);
  nlohmann::json alerts = nlohmann::json::array();
  for (const auto& slot : groups_)
    for (const auto& rs : slot->eval->Rules())
      for (const auto& a : rs.alerts)
        if (a.resolved_at_ms == 0 && a.state != alerting::AlertState::kInactive)
          alerts.push_back(AlertJson(a));
  return {{"alerts", std::move(alerts)}};
}

nlohmann::json AlertingService::SlosJson(const std::vector<config::Slo>& slos) const {
  int64_t now = ToUnixMillis(clock_->WallNow());
  auto value = [&](const std::string& expr) -> nlohmann::json {
    auto parsed = promql::ParseExpr(expr);
    if (!parsed.ok()) return nullptr;
    auto querier = opt_.db->NewQuerier();
    promql::QueryLimits limits = opt_.limits;
    limits.deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
    auto v = engine_.Instant(querier.get(), **parsed, now, limits);
    if (!v.ok()) return nullptr;
    const auto* vec = std::get_if<promql::Vector>(&*v);
    if (vec == nullptr || vec->empty() || !std::isfinite((*vec)[0].v)) return nullptr;
    return (*vec)[0].v;
  };
  nlohmann::json out = nlohmann::json::array();
  nlohmann::json alerts = AlertsJson()["alerts"];
  for (const config::Slo& slo : slos) {
    std::string sel = "{slo=\"" + slo.name + "\"}";
    double budget = 1 - slo.objective / 100;
    nlohmann::json burn = nlohmann::json::object();
    for (const char* w : {"1h", "6h", "3d"}) {
      nlohmann::json ratio = value(std::string("slo:sli_error:ratio_rate") + w + sel);
      burn[w] = ratio.is_number() ? nlohmann::json(ratio.get<double>() / budget) : ratio;
    }
    nlohmann::json firing = nlohmann::json::array();
    for (const auto& a : alerts)
      if (a["labels"].value("slo", "") == slo.name && a.value("state", "") == "firing")
        firing.push_back(a["labels"]);
    out.push_back({{"name", slo.name},
                   {"service", slo.service},
                   {"description", slo.description},
                   {"objective", slo.objective},
                   {"window", FormatDuration(slo.window)},
                   {"uptime_percent", value("slo:uptime:percent" + sel)},
                   {"error_budget_remaining", value("slo:error_budget_remaining:ratio" + sel)},
                   {"error_ratio_5m", value("slo:sli_error:ratio_rate5m" + sel)},
                   {"burn_rate", std::move(burn)},
                   {"firing", std::move(firing)}});
  }
  return {{"slos", std::move(out)}};
}

size_t AlertingService::RuleCount() const {
  std::lock_guard<std::mutex> l(mu_);
  size_t n = 0;
  for (const auto& slot : groups_) n += slot->eval->group().rules.size();
  return n;
}

std::vector<std::string> ExpandRuleFiles(const std::vector<std::string>& patterns,
                                         const std::string& dir) {
  std::vector<std::string> out;
  for (const std::string& p : patterns) {
    std::string abs = !p.empty() && p[0] == '/' ? p : dir + "/" + p;
    if (abs.find_first_of("*?[") == std::string::npos) {
      out.push_back(abs);
      continue;
    }
    glob_t g{};
    if (glob(abs.c_str(), 0, nullptr, &g) == 0)
      for (size_t i = 0; i < g.gl_pathc; ++i) out.emplace_back(g.gl_pathv[i]);
    globfree(&g);
  }
  std::sort(out.begin(), out.end());
  out.erase(std::unique(out.begin(), out.end()), out.end());
  return out;
}

}  // namespace steward::server
