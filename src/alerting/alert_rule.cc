// Alerting rules (Prometheus' rules/alerting.go): alerts built from the query result with
// templated labels and annotations, the pending → firing → resolved state machine with `for`,
// `keep_firing_for` and Steward's `resolve_after`, and the ALERTS/ALERTS_FOR_STATE samples.
#include <cmath>
#include <string>
#include <utility>

#include "alerting/rule_eval_internal.h"
#include "alerting/template.h"
#include "promql/parser.h"

namespace steward::alerting::internal {
namespace {

// Prometheus writes "<error expanding template: ERR>" where a template fails.
std::string TemplateErrorText(const Status& s) {
  constexpr std::string_view kPrefix = "error expanding template";
  const std::string& m = s.message();
  if (std::string_view(m).starts_with(kPrefix)) return "<" + m + ">";
  return "<error expanding template: " + m + ">";
}

class Expander {
 public:
  Expander(const Rule& rule, const AlertEvalContext& ctx) : name_("__alert_" + rule.name) {
    const EvalOptions& o = *ctx.options;
    data_.external_labels = o.external_labels;
    data_.external_url = o.external_url;
    data_.eval_time_ms = ctx.t_ms;
    const promql::Engine* engine = o.engine;
    const promql::QueryLimits limits = o.limits;
    tsdb::Db* db = ctx.db;
    data_.query = [engine, limits, db](const std::string& expr,
                                       int64_t t_ms) -> StatusOr<promql::Vector> {
      ASSIGN_OR_RETURN(promql::ExprPtr parsed, promql::ParseExpr(expr));
      return QueryVector(*engine, limits, db, *parsed, t_ms);
    };
  }

  void SetSample(const promql::Sample& s) {
    data_.labels.clear();
    for (const tsdb::Label& l : s.metric.items()) data_.labels.emplace(l.name, l.value);
    data_.value = s.v;
  }

  std::string Expand(const std::string& text) const {
    // Text without an action expands to itself; most label values are plain.
    if (text.find("{{") == std::string::npos) return text;
    StatusOr<std::string> r = ExpandTemplate(name_, text, data_);
    return r.ok() ? std::move(r).value() : TemplateErrorText(r.status());
  }

 private:
  std::string name_;
  TemplateData data_;
};

// The ALERTS / ALERTS_FOR_STATE labels: the rule's raw labels overlaid by the alert's (so a
// label whose template expanded to "" shows its raw text, as in Prometheus).
tsdb::Labels AlertSeriesLabels(const Rule& rule, const tsdb::Labels& alert_labels,
                               std::string_view metric, std::string_view state) {
  LabelBuilder b{tsdb::Labels()};
  for (const auto& [name, value] : rule.labels) b.Set(name, value);
  for (const tsdb::Label& l : alert_labels.items()) b.Set(l.name, l.value);
  b.Set(tsdb::kMetricName, metric);
  b.Set(kAlertNameLabel, rule.name);
  if (!state.empty()) b.Set(kAlertStateLabel, state);
  return std::move(b).Build();
}

double UnixSeconds(int64_t t_ms) {
  return static_cast<double>(t_ms >= 0 ? t_ms / 1000 : -((-t_ms + 999) / 1000));
}

// The alerts the result asks for, keyed by labels; an error for two samples that give one alert.
StatusOr<std::map<tsdb::Labels, AlertEntry>> AlertsFromResult(const Rule& rule,
                                                              const AlertEvalContext& ctx,
                                                              const promql::Vector& in) {
  std::map<tsdb::Labels, AlertEntry> fresh;
  Expander expander(rule, ctx);
  for (const promql::Sample& s : in) {
    expander.SetSample(s);
    LabelBuilder b(s.metric);
    b.Set(tsdb::kMetricName, "");
    for (const auto& [name, value] : rule.labels) b.Set(name, expander.Expand(value));
    b.Set(kAlertNameLabel, rule.name);
    AlertEntry e;
    e.alert.labels = std::move(b).Build();
    for (const auto& [name, value] : rule.annotations) {
      e.alert.annotations[name] = expander.Expand(value);
    }
    e.alert.state = AlertState::kPending;
    e.alert.active_at_ms = ctx.t_ms;
    e.alert.value = s.v;
    tsdb::Labels key = e.alert.labels;
    if (!fresh.emplace(std::move(key), std::move(e)).second) {
      return FailedPrecondition(
          "vector contains metrics with the same labelset after applying alert labels");
    }
  }
  return fresh;
}

// Whether a firing alert the query no longer returns stays firing: Prometheus' keep_firing_for,
// then Steward's resolve_after, both counted from the first evaluation that missed it.
bool KeepsFiring(const Rule& rule, AlertEntry* e, int64_t t_ms) {
  const int64_t hold = rule.keep_firing_for_ms + rule.resolve_after_ms;
  if (e->alert.state != AlertState::kFiring || hold <= 0) return false;
  if (!e->missing) {
    e->missing = true;
    e->alert.keep_firing_since_ms = t_ms;
  }
  return t_ms - e->alert.keep_firing_since_ms < hold;
}

}  // namespace

tsdb::Labels ForStateLabels(const Rule& rule, const tsdb::Labels& alert_labels) {
  return AlertSeriesLabels(rule, alert_labels, kAlertsForStateMetric, "");
}

StatusOr<promql::Vector> EvalAlerts(RuleState* state, const AlertEvalContext& ctx,
                                    const promql::Vector& in) {
  const Rule& rule = *state->rule;
  const int64_t t = ctx.t_ms;
  ASSIGN_OR_RETURN(auto fresh, AlertsFromResult(rule, ctx, in));

  for (auto& [labels, e] : fresh) {
    auto it = state->alerts.find(labels);
    if (it != state->alerts.end() && it->second.alert.state != AlertState::kInactive) {
      it->second.alert.value = e.alert.value;
      it->second.alert.annotations = std::move(e.alert.annotations);
      continue;
    }
    state->alerts[labels] = std::move(e);  // new, or back after it was resolved
  }

  promql::Vector out;
  int64_t active = 0;
  const int64_t retention = ctx.options->resolved_retention_ms;
  for (auto it = state->alerts.begin(); it != state->alerts.end();) {
    AlertEntry& e = it->second;
    ActiveAlert& a = e.alert;
    if (!fresh.contains(it->first)) {
      const bool keep = KeepsFiring(rule, &e, t);
      const bool drop = a.state == AlertState::kPending ||
                        (a.state == AlertState::kInactive && t - a.resolved_at_ms > retention);
      if (a.state != AlertState::kInactive && !keep) {
        a.state = AlertState::kInactive;
        a.resolved_at_ms = t;
      }
      if (drop) {
        it = state->alerts.erase(it);
        continue;
      }
      if (!keep) {
        ++it;
        continue;
      }
    } else {
      e.missing = false;
      a.keep_firing_since_ms = 0;
    }
    ++active;
    if (a.state == AlertState::kPending && t - a.active_at_ms >= rule.for_ms) {
      a.state = AlertState::kFiring;
      a.fired_at_ms = t;
    }
    if (state->restored) {
      out.push_back(
          {AlertSeriesLabels(rule, a.labels, kAlertsMetric, AlertStateName(a.state)), t, 1});
      out.push_back({ForStateLabels(rule, a.labels), t, UnixSeconds(a.active_at_ms)});
    }
    ++it;
  }

  if (ctx.limit > 0 && active > ctx.limit) {
    state->alerts.clear();
    return FailedPrecondition("exceeded limit of " + std::to_string(ctx.limit) + " with " +
                              std::to_string(active) + " alerts");
  }
  return out;
}

}  // namespace steward::alerting::internal
