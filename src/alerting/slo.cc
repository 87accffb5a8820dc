// SLO rule generation (slo.h): the SLI as an error ratio per window, then recording rules and
// burn-rate alerts built from it, every expression parsed before it is handed on.
#include "alerting/slo.h"

#include <fmt/format.h>

#include <utility>

#include "metrics/registry.h"
#include "promql/ast.h"
#include "promql/parser.h"

namespace steward::alerting {
namespace {

constexpr int64_t kMinute = 60'000;
constexpr int64_t kHour = 60 * kMinute;
constexpr int64_t kDay = 24 * kHour;

// A PromQL duration for ms: the largest unit that divides it ("30d", "90m", "45s").
std::string PromDuration(int64_t ms) {
  if (ms % kDay == 0) return fmt::format("{}d", ms / kDay);
  if (ms % kHour == 0) return fmt::format("{}h", ms / kHour);
  if (ms % kMinute == 0) return fmt::format("{}m", ms / kMinute);
  if (ms % 1000 == 0) return fmt::format("{}s", ms / 1000);
  return fmt::format("{}ms", ms);
}

// A number as PromQL reads it back unchanged, without float noise: 1 - 0.999 → "0.001".
std::string Number(double v) { return fmt::format("{:.12g}", v); }

std::string Budget(const config::Slo& slo) { return Number(1 - slo.objective / 100); }

// Replaces every `$window` and `{{.window}}` in `query` with `window`; false when neither occurs.
bool SubstituteWindow(std::string query, const std::string& window, std::string* out) {
  bool found = false;
  for (std::string_view placeholder : {std::string_view("$window"),
                                       std::string_view("{{.window}}")}) {
    for (size_t at = query.find(placeholder); at != std::string::npos;
         at = query.find(placeholder, at + window.size())) {
      query.replace(at, placeholder.size(), window);
      found = true;
    }
  }
  *out = std::move(query);
  return found;
}

// One side of a good/total SLI over `window`.
StatusOr<std::string> RatioSide(const config::Slo& slo, std::string_view side,
                                const std::string& query, const std::string& window) {
  std::string out;
  if (SubstituteWindow(query, window, &out)) return "(" + out + ")";
  auto parsed = promql::ParseExpr(query);
  if (parsed.ok() && (*parsed)->kind == promql::NodeKind::kVectorSelector)
    return fmt::format("sum(rate({}[{}]))", query, window);
  return InvalidArgument(fmt::format(
      "slo \"{}\": sli.{} must be a PromQL query over `$window`, e.g. "
      "'sum(rate(http_requests_total{{code!~\"5..\"}}[$window]))', or a plain series selector "
      "(then sum(rate(SELECTOR[$window])) is used); got {}",
      slo.name, side, query));
}

// "name{a="b"}" → {"name", "a=\"b\""}; the matchers part is empty without braces.
std::pair<std::string, std::string> SplitSelector(const std::string& selector) {
  size_t brace = selector.find('{');
  if (brace == std::string::npos) return {selector, ""};
  std::string matchers = selector.substr(brace + 1);
  if (!matchers.empty() && matchers.back() == '}') matchers.pop_back();
  return {selector.substr(0, brace), matchers};
}

StatusOr<promql::ExprPtr> ParseVectorExpr(const config::Slo& slo, std::string_view what,
                                          const std::string& expr) {
  auto parsed = promql::ParseExpr(expr);
  if (!parsed.ok())
    return InvalidArgument(fmt::format("slo \"{}\": {} does not parse: {} (in `{}`)", slo.name,
                                       what, parsed.status().message(), expr));
  if ((*parsed)->Type() != promql::ValueType::kVector)
    return InvalidArgument(fmt::format("slo \"{}\": {} must give an instant vector, not {} (in "
                                       "`{}`)",
                                       slo.name, what, promql::ValueTypeName((*parsed)->Type()),
                                       expr));
  return std::move(*parsed);
}

std::vector<std::pair<std::string, std::string>> SeriesLabels(const config::Slo& slo) {
  std::vector<std::pair<std::string, std::string>> labels = {{"slo", slo.name}};
  if (!slo.service.empty()) labels.emplace_back("service", slo.service);
  return labels;
}

StatusOr<Rule> MakeRule(const config::Slo& slo, RuleKind kind, std::string name,
                        std::string expr) {
  Rule rule;
  rule.kind = kind;
  rule.name = std::move(name);
  ASSIGN_OR_RETURN(auto parsed, ParseVectorExpr(slo, "rule " + rule.name, expr));
  rule.parsed = std::shared_ptr<const promql::Expr>(std::move(parsed));
  rule.expr = std::move(expr);
  rule.labels = SeriesLabels(slo);
  rule.line = slo.location.line;
  return rule;
}

std::string Selector(const config::Slo& slo, const std::string& metric) {
  return fmt::format("{}{{slo=\"{}\"}}", metric, slo.name);
}

StatusOr<Rule> BurnRateAlert(const config::Slo& slo, const BurnRateWindow& w) {
  std::string threshold = fmt::format("({} * {})", Number(w.factor), Budget(slo));
  std::string expr = fmt::format(
      "{} > {} and {} > {}", Selector(slo, "slo:sli_error:ratio_rate" + w.long_window),
      threshold, Selector(slo, "slo:sli_error:ratio_rate" + w.short_window), threshold);
  ASSIGN_OR_RETURN(Rule rule, MakeRule(slo, RuleKind::kAlert, "SLOErrorBudgetBurn", expr));
  rule.for_ms = w.for_ms;
  rule.labels.clear();  // the series carry slo and service already
  rule.labels.emplace_back("severity", w.page ? slo.page_severity : slo.ticket_severity);
  rule.labels.emplace_back("long_window", w.long_window);
  rule.labels.emplace_back("short_window", w.short_window);
  rule.labels.emplace_back("burn_rate", Number(w.factor));
  for (const auto& [k, v] : slo.labels) rule.labels.emplace_back(k, v);
  std::string window = PromDuration(slo.window.count());
  rule.annotations = {
      {"summary", fmt::format("SLO {} is burning its error budget {}x faster than sustainable",
                              slo.name, Number(w.factor))},
      {"description",
       fmt::format("{{{{ $value | humanizePercentage }}}} of events were bad over the last {} "
                   "(and over {}); the objective {}% over {} allows {}.",
                   w.long_window, w.short_window, Number(slo.objective), window,
                   Number(100 * (1 - slo.objective / 100)) + "%")},
  };
  if (!slo.description.empty()) rule.annotations.emplace_back("slo_description", slo.description);
  return rule;
}

}  // namespace

const std::vector<std::string>& SloRatioWindows() {
  static const std::vector<std::string> kWindows = {"5m", "30m", "1h", "2h", "6h", "1d", "3d"};
  return kWindows;
}

const std::vector<BurnRateWindow>& SloBurnRateWindows() {
  static const std::vector<BurnRateWindow> kWindows = {
      {"1h", "5m", 14.4, true, 0},
      {"6h", "30m", 6, true, 0},
      {"3d", "6h", 1, false, 0},
  };
  return kWindows;
}

StatusOr<std::string> SloErrorRatioExpr(const config::Slo& slo, const std::string& window) {
  switch (slo.kind) {
    case config::SliKind::kRatio: {
      ASSIGN_OR_RETURN(std::string good, RatioSide(slo, "good", slo.good, window));
      ASSIGN_OR_RETURN(std::string total, RatioSide(slo, "total", slo.total, window));
      return fmt::format("1 - ({} / {})", good, total);
    }
    case config::SliKind::kProbe:
      return fmt::format("1 - avg(avg_over_time(probe_success{{monitor=\"{}\"}}[{}]))",
                         slo.probe, window);
    case config::SliKind::kLatency: {
      auto [name, matchers] = SplitSelector(slo.latency_metric);
      std::string sep = matchers.empty() ? "" : ",";
      return fmt::format(
          "1 - (sum(rate({0}_bucket{{{1}{2}le=\"{3}\"}}[{4}])) / "
          "sum(rate({0}_count{{{1}}}[{4}])))",
          name, matchers, sep, metrics::FormatValue(slo.latency_threshold_seconds), window);
    }
  }
  return Internal("unknown SLI kind");
}

StatusOr<RuleGroup> SloRuleGroup(const config::Slo& slo, int64_t interval_ms) {
  RuleGroup group;
  group.name = "slo:" + slo.name;
  group.interval_ms = interval_ms;
  group.line = slo.location.line;
  auto add = [&](RuleKind kind, std::string name, std::string expr) -> Status {
    ASSIGN_OR_RETURN(Rule rule, MakeRule(slo, kind, std::move(name), std::move(expr)));
    group.rules.push_back(std::move(rule));
    return Status::OK();
  };
  for (const std::string& w : SloRatioWindows()) {
    ASSIGN_OR_RETURN(std::string expr, SloErrorRatioExpr(slo, w));
    RETURN_IF_ERROR(add(RuleKind::kRecord, "slo:sli_error:ratio_rate" + w, expr));
  }
  RETURN_IF_ERROR(
      add(RuleKind::kRecord, "slo:objective:ratio", "vector(" + Number(slo.objective / 100) + ")"));
  RETURN_IF_ERROR(add(RuleKind::kRecord, "slo:error_budget:ratio", "vector(" + Budget(slo) + ")"));
  RETURN_IF_ERROR(add(RuleKind::kRecord, "slo:sli_error:ratio_rate_window",
                      fmt::format("avg_over_time({}[{}])",
                                  Selector(slo, "slo:sli_error:ratio_rate5m"),
                                  PromDuration(slo.window.count()))));
  RETURN_IF_ERROR(add(RuleKind::kRecord, "slo:uptime:percent",
                      fmt::format("100 * (1 - {})",
                                  Selector(slo, "slo:sli_error:ratio_rate_window"))));
  RETURN_IF_ERROR(add(RuleKind::kRecord, "slo:error_budget_remaining:ratio",
                      fmt::format("1 - ({} / {})",
                                  Selector(slo, "slo:sli_error:ratio_rate_window"),
                                  Budget(slo))));
  for (const BurnRateWindow& w : SloBurnRateWindows()) {
    ASSIGN_OR_RETURN(Rule rule, BurnRateAlert(slo, w));
    group.rules.push_back(std::move(rule));
  }
  return group;
}

StatusOr<RuleFile> SloRuleFile(const std::vector<config::Slo>& slos, int64_t interval_ms) {
  RuleFile file;
  file.path = "<slos>";
  for (const config::Slo& slo : slos) {
    ASSIGN_OR_RETURN(RuleGroup group, SloRuleGroup(slo, interval_ms));
    file.groups.push_back(std::move(group));
  }
  return file;
}

}  // namespace steward::alerting
