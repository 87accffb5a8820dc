// The group evaluator (Prometheus' rules/manager.go Group): runs the rules in order, writes each
// rule's output and its staleness markers, restores `for` state, carries state across reloads
// and picks the alerts to send.
#include "alerting/rule_eval.h"

#include <algorithm>
#include <cctype>
#include <chrono>
#include <cmath>
#include <optional>
#include <utility>

#include "alerting/rule_eval_internal.h"
#include "base/url.h"

namespace steward::alerting {

std::string_view AlertStateName(AlertState s) {
  switch (s) {
    case AlertState::kInactive:
      return "inactive";
    case AlertState::kPending:
      return "pending";
    case AlertState::kFiring:
      return "firing";
  }
  return "inactive";
}

namespace internal {

void LabelBuilder::Set(std::string_view name, std::string_view value) {
  auto it = std::find_if(items_.begin(), items_.end(),
                         [&](const tsdb::Label& l) { return l.name == name; });
  if (value.empty()) {
    if (it != items_.end()) items_.erase(it);
  } else if (it != items_.end()) {
    it->value = value;
  } else {
    items_.push_back({std::string(name), std::string(value)});
  }
}

tsdb::Labels LabelBuilder::Build() && {
  std::sort(items_.begin(), items_.end(),
            [](const tsdb::Label& a, const tsdb::Label& b) { return a.name < b.name; });
  return tsdb::Labels::FromSorted(std::move(items_));
}

StatusOr<promql::Vector> QueryVector(const promql::Engine& engine,
                                     const promql::QueryLimits& limits, tsdb::Db* db,
                                     const promql::Expr& expr, int64_t t_ms) {
  std::unique_ptr<tsdb::Querier> querier = db->NewQuerier();
  ASSIGN_OR_RETURN(promql::Value v, engine.Instant(querier.get(), expr, t_ms, limits));
  if (auto* vec = std::get_if<promql::Vector>(&v)) return std::move(*vec);
  if (auto* s = std::get_if<promql::Scalar>(&v)) {
    return promql::Vector{promql::Sample{tsdb::Labels(), s->t, s->v}};
  }
  return FailedPrecondition("rule result is not a vector or scalar");
}


}  // namespace internal

using internal::RuleState;

struct GroupEvaluator::Impl {
  RuleGroup group;
  std::string file;
  EvalOptions options;
  std::vector<RuleState> rules;
  // Series of rules a reload removed: marked stale at the next Eval (Prometheus' staleSeries).
  std::vector<tsdb::Labels> stale_series;
  int64_t last_eval_ms = 0;
  double last_eval_seconds = 0;
  std::optional<int64_t> first_eval_ms;  // of this evaluator (not carried)

  Status EvalRule(RuleState* st, tsdb::Db* db, int64_t t_ms);
  Status Write(RuleState* st, tsdb::Db* db, promql::Vector out, int64_t t_ms);
  Status MarkRemovedStale(tsdb::Db* db, int64_t t_ms);
};

GroupEvaluator::GroupEvaluator(RuleGroup group, std::string file, EvalOptions options)
    : impl_(std::make_unique<Impl>()) {
  impl_->group = std::move(group);
  impl_->file = std::move(file);
  impl_->options = std::move(options);
  if (impl_->options.external_url.ends_with('/')) impl_->options.external_url.pop_back();
  impl_->rules.resize(impl_->group.rules.size());
  for (size_t i = 0; i < impl_->rules.size(); ++i) {
    RuleState& st = impl_->rules[i];
    st.rule = &impl_->group.rules[i];
    st.restored = !impl_->options.restore_pending;
    const std::string printed = st.rule->parsed ? st.rule->parsed->ToString() : st.rule->expr;
    st.generator_path = "/graph?g0.expr=" + steward::QueryEscape(printed) + "&g0.tab=1";
  }
}

GroupEvaluator::~GroupEvaluator() = default;

const RuleGroup& GroupEvaluator::group() const { return impl_->group; }
const std::string& GroupEvaluator::file() const { return impl_->file; }
int64_t GroupEvaluator::interval_ms() const {
  return impl_->group.interval_ms > 0 ? impl_->group.interval_ms
                                      : impl_->options.default_interval_ms;
}
int64_t GroupEvaluator::last_eval_ms() const { return impl_->last_eval_ms; }
double GroupEvaluator::last_eval_seconds() const { return impl_->last_eval_seconds; }

namespace {

double SecondsSince(std::chrono::steady_clock::time_point start) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

void MarkBad(RuleState* st, const Status& s) {
  st->health = "err";
  st->last_error = s.message();
}

}  // namespace

Status GroupEvaluator::Eval(tsdb::Db* db, int64_t t_ms) {
  const auto start = std::chrono::steady_clock::now();
  Status first_error;
  for (RuleState& st : impl_->rules) {
    const auto rule_start = std::chrono::steady_clock::now();
    st.last_eval_ms = t_ms;
    Status s = impl_->EvalRule(&st, db, t_ms);
    if (!s.ok() && first_error.ok()) first_error = s;
    st.eval_seconds = SecondsSince(rule_start);
  }
  Status s = impl_->MarkRemovedStale(db, t_ms);
  if (!s.ok() && first_error.ok()) first_error = s;
  impl_->last_eval_ms = t_ms;
  impl_->last_eval_seconds = SecondsSince(start);
  if (!impl_->first_eval_ms) impl_->first_eval_ms = t_ms;
  return first_error;
}

// A query or rule error is the rule's (health "err"); only a failed write is returned.
Status GroupEvaluator::Impl::EvalRule(RuleState* st, tsdb::Db* db, int64_t t_ms) {
  const Rule& rule = *st->rule;
  st->evaluated_ok = false;
  if (!rule.parsed || options.engine == nullptr) {
    MarkBad(st,
            FailedPrecondition(rule.parsed ? "no query engine" : "rule has no parsed expression"));
    return Status::OK();
  }
  StatusOr<promql::Vector> out =
      internal::QueryVector(*options.engine, options.limits, db, *rule.parsed, t_ms);
  if (out.ok() && rule.kind == RuleKind::kRecord) {
    out = internal::RecordingOutput(rule, std::move(out).value(), t_ms, group.limit);
  } else if (out.ok()) {
    internal::AlertEvalContext ctx{&options, db, t_ms, group.limit};
    out = internal::EvalAlerts(st, ctx, out.value());
  }
  if (!out.ok()) {
    MarkBad(st, out.status());
    return Status::OK();
  }
  st->health = "ok";
  st->last_error.clear();
  st->evaluated_ok = true;
  return Write(st, db, std::move(out).value(), t_ms);
}

// Appends the rule's output and commits it, then stale markers for the series it wrote last
// time and not now (apart, so that their rejection never counts against the rule).
Status GroupEvaluator::Impl::Write(RuleState* st, tsdb::Db* db, promql::Vector out, int64_t t_ms) {
  internal::SeriesSet returned;
  returned.reserve(out.size());
  if (!out.empty()) {
    std::unique_ptr<tsdb::Appender> app = db->NewAppender();
    for (promql::Sample& s : out) {
      StatusOr<tsdb::SeriesRef> r = app->Append(0, s.metric, t_ms, s.v);
      if (!r.ok()) {
        MarkBad(st, r.status());
        continue;
      }
      returned.insert(std::move(s.metric));
    }
    StatusOr<tsdb::Appender::CommitResult> c = app->Commit();
    if (!c.ok()) {
      MarkBad(st, c.status());
      return c.status().Annotate("rule " + st->rule->name);
    }
    if (c->out_of_order > 0) MarkBad(st, FailedPrecondition("out of order sample"));
  }
  std::unique_ptr<tsdb::Appender> stale;
  for (const tsdb::Labels& l : st->previous_series) {
    if (returned.contains(l)) continue;
    if (!stale) stale = db->NewAppender();
    stale->Append(0, l, t_ms, tsdb::StaleNaN()).status().IgnoreError();  // labels were valid
  }
  if (stale) {
    StatusOr<tsdb::Appender::CommitResult> c = stale->Commit();
    if (!c.ok()) {
      MarkBad(st, c.status());
      return c.status().Annotate("rule " + st->rule->name);
    }
  }
  st->previous_series = std::move(returned);
  return Status::OK();
}

Status GroupEvaluator::Impl::MarkRemovedStale(tsdb::Db* db, int64_t t_ms) {
  if (stale_series.empty()) return Status::OK();
  std::unique_ptr<tsdb::Appender> app = db->NewAppender();
  for (const tsdb::Labels& l : stale_series) {
    app->Append(0, l, t_ms, tsdb::StaleNaN()).status().IgnoreError();
  }
  StatusOr<tsdb::Appender::CommitResult> c = app->Commit();
  if (!c.ok()) return c.status().Annotate("stale markers of removed rules");
  stale_series.clear();
  return Status::OK();
}

std::vector<RuleStatus> GroupEvaluator::Rules() const {
  std::vector<RuleStatus> out;
  out.reserve(impl_->rules.size());
  for (const RuleState& st : impl_->rules) {
    RuleStatus rs;
    rs.rule = st.rule;
    rs.health = st.health;
    rs.last_error = st.last_error;
    rs.last_eval_ms = st.last_eval_ms;
    rs.eval_seconds = st.eval_seconds;
    rs.alerts.reserve(st.alerts.size());
    for (const auto& [labels, e] : st.alerts) rs.alerts.push_back(e.alert);
    out.push_back(std::move(rs));
  }
  return out;
}

}  // namespace steward::alerting

namespace steward::alerting {
namespace {

bool NeedsSending(const internal::AlertEntry& e, int64_t t_ms, int64_t resend_delay_ms) {
  const ActiveAlert& a = e.alert;
  if (a.state == AlertState::kPending) return false;
  if (!e.sent) return true;
  if (a.state == AlertState::kInactive && a.resolved_at_ms > a.last_sent_at_ms) return true;
  return a.last_sent_at_ms + resend_delay_ms < t_ms;
}

}  // namespace

std::vector<Alert> GroupEvaluator::AlertsToSend(int64_t t_ms) {
  const EvalOptions& o = impl_->options;
  const int64_t valid_for = 4 * std::max(interval_ms(), o.resend_delay_ms);
  std::vector<Alert> out;
  for (RuleState& st : impl_->rules) {
    if (st.rule->kind != RuleKind::kAlert || !st.evaluated_ok) continue;
    for (auto& [labels, e] : st.alerts) {
      if (!NeedsSending(e, t_ms, o.resend_delay_ms)) continue;
      ActiveAlert& a = e.alert;
      e.sent = true;
      a.last_sent_at_ms = t_ms;
      a.valid_until_ms = t_ms + valid_for;
      Alert x;
      internal::LabelBuilder b(a.labels);
      for (const auto& [name, value] : o.external_labels) {
        if (!a.labels.Has(name)) b.Set(name, value);
      }
      x.labels = std::move(b).Build();
      x.annotations = a.annotations;
      x.starts_at_ms = a.fired_at_ms;
      x.ends_at_ms = a.state == AlertState::kInactive ? a.resolved_at_ms : a.valid_until_ms;
      x.updated_at_ms = t_ms;
      x.generator_url = o.external_url + st.generator_path;
      out.push_back(std::move(x));
    }
  }
  std::sort(out.begin(), out.end(),
            [](const Alert& a, const Alert& b) { return a.labels < b.labels; });
  return out;
}

namespace {

// The newest ALERTS_FOR_STATE sample of an alert within [mint, maxt], if any.
std::optional<tsdb::Sample> LastForState(tsdb::Querier* q, const tsdb::Labels& series, int64_t mint,
                                         int64_t maxt) {
  std::vector<tsdb::Matcher> matchers;
  for (const tsdb::Label& l : series.items()) {
    StatusOr<tsdb::Matcher> m = tsdb::Matcher::Make(tsdb::Matcher::Type::kEqual, l.name, l.value);
    if (!m.ok()) return std::nullopt;
    matchers.push_back(std::move(m).value());
  }
  StatusOr<std::vector<tsdb::Series>> found = q->Select(matchers, mint, maxt);
  if (!found.ok()) return std::nullopt;
  for (const tsdb::Series& s : *found) {
    if (s.labels == series && !s.samples.empty()) return s.samples.back();
  }
  return std::nullopt;
}

// Prometheus' restored ActiveAt: an alert that was firing keeps its time; one that was pending
// gets the pending time it had left, but at least the grace period, from now.
int64_t RestoredActiveAt(int64_t active_at_s, int64_t down_at_ms, int64_t now_ms, int64_t for_ms,
                         int64_t grace_ms) {
  const int64_t down_at =
      down_at_ms >= 0 ? down_at_ms / 1000 * 1000 : -((-down_at_ms + 999) / 1000) * 1000;
  int64_t active_at = active_at_s * 1000;
  const int64_t remaining = for_ms - (down_at - active_at);
  if (remaining <= 0) return active_at;
  if (remaining < grace_ms) return now_ms + grace_ms - for_ms;
  return active_at + (now_ms - down_at);
}

}  // namespace

void GroupEvaluator::RestoreForState(tsdb::Db* db, int64_t t_ms) {
  const EvalOptions& o = impl_->options;
  std::unique_ptr<tsdb::Querier> q = db->NewQuerier();
  const int64_t mint = t_ms - o.outage_tolerance_ms;
  // Without restore_pending this evaluator's own Evals already wrote ALERTS_FOR_STATE: only
  // what came before them is the state to restore.
  int64_t maxt = t_ms;
  if (!o.restore_pending && impl_->first_eval_ms) maxt = std::min(t_ms, *impl_->first_eval_ms - 1);
  for (RuleState& st : impl_->rules) {
    const Rule& rule = *st.rule;
    if (rule.kind != RuleKind::kAlert) continue;
    st.restored = true;
    // A `for` shorter than the grace period would only be lengthened by restoring.
    if (rule.for_ms < o.for_grace_period_ms) continue;
    for (auto& [labels, e] : st.alerts) {
      std::optional<tsdb::Sample> last =
          LastForState(q.get(), internal::ForStateLabels(rule, labels), mint, maxt);
      if (!last || tsdb::IsStaleNaN(last->v) || !std::isfinite(last->v)) continue;
      e.alert.active_at_ms = RestoredActiveAt(static_cast<int64_t>(last->v), last->t, t_ms,
                                              rule.for_ms, o.for_grace_period_ms);
    }
  }
}

namespace {

// Prometheus matches rules across a reload by name and labels; Steward also asks for the same
// kind and query.
std::string CarryKey(const Rule& r) {
  std::string key = (r.kind == RuleKind::kAlert ? "alert\n" : "record\n") + r.name + "\n" + r.expr;
  for (const auto& [name, value] : r.labels) key += "\n" + name + "=" + value;
  return key;
}

}  // namespace

void GroupEvaluator::Carry(const GroupEvaluator& old) {
  std::map<std::string, std::vector<size_t>> by_key;
  const std::vector<RuleState>& from = old.impl_->rules;
  for (size_t i = 0; i < from.size(); ++i) by_key[CarryKey(*from[i].rule)].push_back(i);
  std::vector<bool> matched(from.size(), false);
  for (RuleState& st : impl_->rules) {
    std::vector<size_t>& candidates = by_key[CarryKey(*st.rule)];
    if (candidates.empty()) continue;
    const size_t fi = candidates.front();
    candidates.erase(candidates.begin());
    matched[fi] = true;
    st.previous_series = from[fi].previous_series;
    if (st.rule->kind == RuleKind::kAlert) st.alerts = from[fi].alerts;
  }
  impl_->stale_series = old.impl_->stale_series;
  for (size_t i = 0; i < from.size(); ++i) {
    if (matched[i]) continue;
    for (const tsdb::Labels& l : from[i].previous_series) impl_->stale_series.push_back(l);
  }
  impl_->last_eval_ms = old.impl_->last_eval_ms;
  impl_->last_eval_seconds = old.impl_->last_eval_seconds;
}

}  // namespace steward::alerting
