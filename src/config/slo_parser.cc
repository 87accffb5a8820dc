// Reads the stack's `slos:` section (slo.h): a map of SLO names to an objective, a window and
// exactly one SLI (good/total queries, a probe, or a latency threshold). The PromQL itself is
// checked where it is compiled into rules (alerting/slo.h); here the shape, the ranges and the
// references to monitors.
#include <fmt/format.h>

#include <cmath>
#include <cstdlib>

#include "config/parse_context.h"
#include "config/slo.h"
#include "config/stack_parser.h"

namespace steward::config::internal {
namespace {

constexpr std::string_view kSloKeys[] = {"service", "description", "objective",      "window",
                                         "sli",     "labels",      "page_severity", "ticket_severity"};
constexpr std::string_view kSliKeys[] = {"good", "total", "probe", "latency"};
constexpr std::string_view kLatencyKeys[] = {"metric", "threshold"};
constexpr std::string_view kReservedLabels[] = {"slo", "alertname", "severity"};

// "300ms", "0.3s" (durations) or "0.3" (seconds).
std::optional<double> Seconds(ParseContext& ctx, const Entry& e, std::string_view who) {
  auto text = ctx.String(e, who);
  if (!text) return std::nullopt;
  char* end = nullptr;
  double v = std::strtod(text->c_str(), &end);
  if (!text->empty() && end == text->c_str() + text->size() && std::isfinite(v) && v > 0)
    return v;
  if (auto d = ParseDuration(*text); d && d->count() > 0) return d->count() / 1000.0;
  ctx.Error(ctx.Loc(e), fmt::format("{} must be a positive duration such as 300ms or a number of "
                                    "seconds, got '{}'",
                                    ParseContext::Subject(who, e.path), *text));
  return std::nullopt;
}

// SLO windows are days long: "28d", "4w", or any duration the stack accepts ("720h").
std::optional<Duration> Window(ParseContext& ctx, const Entry& e, std::string_view who) {
  auto text = ctx.String(e, who);
  if (!text) return std::nullopt;
  if (text->size() > 1 && (text->back() == 'd' || text->back() == 'w')) {
    std::string digits = text->substr(0, text->size() - 1);
    if (digits.size() <= 5 && digits.find_first_not_of("0123456789") == std::string::npos)
      return Duration(std::stoll(digits) * (text->back() == 'd' ? 1 : 7) * 24 * 3600 * 1000);
  }
  if (auto d = ParseDuration(*text)) return *d;
  ctx.Error(ctx.Loc(e), fmt::format("{} must be a duration such as 30d, 4w or 720h, got '{}'",
                                    ParseContext::Subject(who, e.path), *text));
  return std::nullopt;
}

void ReadLatency(ParseContext& ctx, const Entry& e, const std::string& who, Slo* slo) {
  if (!ctx.ExpectMap(e, who)) return;
  for (const Entry& f : ctx.Entries(e.value, kLatencyKeys, "in " + e.path, e.path + ".")) {
    if (f.key == "metric") {
      if (auto v = ctx.String(f, who)) slo->latency_metric = *v;
    } else if (auto v = Seconds(ctx, f, who)) {
      slo->latency_threshold_seconds = *v;
    }
  }
  if (slo->latency_metric.empty() || slo->latency_threshold_seconds <= 0)
    ctx.Error(ctx.Loc(e), fmt::format("{}: sli.latency needs 'metric' (a histogram's base name, "
                                      "e.g. http_request_duration_seconds{{job=\"api\"}}) and "
                                      "'threshold' (a bucket bound, e.g. 300ms)",
                                      who));
}

void ReadSli(ParseContext& ctx, const Entry& e, const std::string& who, const Stack& stack,
             Slo* slo) {
  if (!ctx.ExpectMap(e, who)) return;
  std::vector<Entry> fields = ctx.Entries(e.value, kSliKeys, "in sli of " + who, "sli.");
  bool ratio = false, probe = false, latency = false;
  for (const Entry& f : fields) {
    if (f.key == "good" || f.key == "total") {
      ratio = true;
      auto v = ctx.String(f, who);
      if (!v) continue;
      (f.key == "good" ? slo->good : slo->total) = *v;
      (f.key == "good" ? slo->good_location : slo->total_location) = ctx.Loc(f);
    } else if (f.key == "probe") {
      probe = true;
      if (auto v = ctx.String(f, who)) slo->probe = *v;
      bool known = false;
      for (const Monitor& m : stack.monitors) known |= m.name == slo->probe;
      if (!slo->probe.empty() && !known)
        ctx.Error(ctx.Loc(f), fmt::format("{}: sli.probe '{}' is not a monitor of this stack; "
                                          "declare it under monitors:",
                                          who, slo->probe));
    } else {
      latency = true;
      ReadLatency(ctx, f, who, slo);
    }
  }
  int kinds = int{ratio} + int{probe} + int{latency};
  if (kinds != 1) {
    ctx.Error(ctx.Loc(e), fmt::format("{}: sli must have exactly one of good+total, probe or "
                                      "latency, got {}",
                                      who, kinds == 0 ? "none" : "several"));
    return;
  }
  if (ratio && (slo->good.empty() || slo->total.empty()))
    ctx.Error(ctx.Loc(e), fmt::format("{}: sli needs both 'good' and 'total' queries, e.g. "
                                      "good: sum(rate(http_requests_total{{code!~\"5..\"}}"
                                      "[$window]))",
                                      who));
  slo->kind = ratio ? SliKind::kRatio : probe ? SliKind::kProbe : SliKind::kLatency;
}

Slo ReadSlo(ParseContext& ctx, const Entry& e, const Stack& stack) {
  Slo slo;
  slo.name = e.key;
  slo.location = ctx.Loc(e.key_node);
  std::string who = fmt::format("slo '{}'", e.key);
  if (!IsValidName(e.key))
    ctx.Error(slo.location, fmt::format("{}: invalid name; {}", who, NameRule("api-availability")));
  if (!ctx.ExpectMap(e, who)) return slo;
  bool has_sli = false;
  for (const Entry& f : ctx.Entries(e.value, kSloKeys, "in " + who)) {
    if (f.key == "service") {
      if (auto v = ctx.String(f, who)) slo.service = *v;
    } else if (f.key == "description") {
      if (auto v = ctx.String(f, who)) slo.description = *v;
    } else if (f.key == "objective") {
      auto v = ctx.Number(f, who);
      if (v && (*v <= 0 || *v >= 100))
        ctx.Error(ctx.Loc(f), fmt::format("{}: objective must be a percentage between 0 and 100 "
                                          "(exclusive), e.g. 99.9, got {}",
                                          who, *v));
      else if (v)
        slo.objective = *v;
    } else if (f.key == "window") {
      auto d = Window(ctx, f, who);
      if (d && *d < Duration(3600 * 1000))
        ctx.Error(ctx.Loc(f), fmt::format("{}: window must be at least 1h (typical: 28d or 30d)",
                                          who));
      else if (d)
        slo.window = *d;
    } else if (f.key == "sli") {
      has_sli = true;
      ReadSli(ctx, f, who, stack, &slo);
    } else if (f.key == "labels") {
      ReadLabels(ctx, f, who, kReservedLabels, &slo.labels);
    } else if (auto v = ctx.String(f, who)) {
      (f.key == "page_severity" ? slo.page_severity : slo.ticket_severity) = *v;
    }
  }
  if (!has_sli)
    ctx.Error(slo.location, fmt::format("{}: 'sli' is required: good and total queries, a probe "
                                        "or a latency threshold",
                                        who));
  if (!slo.service.empty() && stack.FindService(slo.service) == nullptr && !stack.services.empty())
    ctx.Error(slo.location, fmt::format("{}: service '{}' is not a service of this stack", who,
                                        slo.service));
  return slo;
}

}  // namespace

void ParseSlos(ParseContext& ctx, const Entry& e, Stack* stack) {
  if (!ctx.ExpectMap(e, "")) return;
  for (const Entry& s : ctx.Entries(e.value, {}, "in slos", "slos.")) {
    stack->slos.push_back(ReadSlo(ctx, s, *stack));
  }
}

}  // namespace steward::config::internal
