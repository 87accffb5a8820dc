// Reads a service's `ingress:` and `deploy:` keys (deploy_parser.h) and checks them against
// the other services.
#include "config/deploy_parser.h"

#include <fmt/format.h>

#include <cstdlib>
#include <map>

namespace steward::config::internal {
namespace {

constexpr std::string_view kIngressKeys[] = {"port", "bind", "health_path"};
constexpr std::string_view kDeployKeys[] = {"strategy", "max_surge", "max_unavailable", "steps",
                                            "verify",   "keep_releases", "analysis"};
constexpr std::string_view kStepKeys[] = {"weight", "pause"};
constexpr std::string_view kAnalysisKeys[] = {"interval", "max_error_rate", "failure_limit",
                                              "checks"};
constexpr std::string_view kCheckKeys[] = {"name", "query", "max", "min"};

void IngressPort(ParseContext& ctx, const Entry& e, const std::string& who, Ingress* in) {
  if (auto p = ctx.Int(e, who, 1, 65535)) in->port = static_cast<int>(*p);
}

void Steps(ParseContext& ctx, const Entry& e, const std::string& who, DeployConfig* d) {
  if (!e.value.IsSequence() || e.value.Items().empty()) {
    ctx.Error(ctx.Loc(e), fmt::format("{}: 'deploy.steps' must be a non-empty list of "
                                      "{{weight, pause}}, e.g. [{{weight: 10, pause: 30s}}, "
                                      "{{weight: 50, pause: 30s}}], got {}",
                                      who, ParseContext::Describe(e.value)));
    return;
  }
  int last = 0;
  for (YamlNode item : e.value.Items()) {
    if (!item.IsMap()) {
      ctx.Error(ctx.Loc(item), fmt::format("{}: each of 'deploy.steps' must be a map {{weight, "
                                           "pause}}, got {}",
                                           who, ParseContext::Describe(item)));
      continue;
    }
    CanaryStep step;
    bool has_weight = false;
    std::string where = fmt::format("in a deploy step of {}", who);
    for (const Entry& f : ctx.Entries(item, kStepKeys, where, "deploy.steps.")) {
      if (f.key == "weight") {
        has_weight = true;  // reported below when out of range, not also as missing
        auto w = ctx.Int(f, who, 1, 100);
        if (!w) continue;
        step.weight = static_cast<int>(*w);
        if (step.weight <= last)
          ctx.Error(ctx.Loc(f), fmt::format("{}: canary weights must increase from step to step; "
                                            "{} follows {}",
                                            who, step.weight, last));
        last = std::max(last, step.weight);
      } else if (auto p = ctx.Dur(f, who)) {
        step.pause = *p;
      }
    }
    if (!has_weight)
      ctx.Error(ctx.Loc(item), fmt::format("{}: a deploy step needs a 'weight' (percent of "
                                           "requests to the new release, 1..100)",
                                           who));
    d->steps.push_back(step);
  }
}

void Check(ParseContext& ctx, YamlNode item, const std::string& who, DeployAnalysis* a) {
  if (!item.IsMap()) {
    ctx.Error(ctx.Loc(item), fmt::format("{}: each of 'deploy.analysis.checks' must be a map "
                                         "{{name, query, max, min}}, got {}",
                                         who, ParseContext::Describe(item)));
    return;
  }
  AnalysisCheck c;
  c.location = ctx.Loc(item);
  std::string where = fmt::format("in an analysis check of {}", who);
  for (const Entry& f : ctx.Entries(item, kCheckKeys, where, "deploy.analysis.checks.")) {
    if (f.key == "name" || f.key == "query") {
      auto s = ctx.String(f, who);
      if (!s) continue;
      (f.key == "name" ? c.name : c.query) = *s;
      if (f.key == "query") c.location = ctx.Loc(f);
    } else if (auto v = ctx.Number(f, who)) {
      if (f.key == "max") c.max = *v, c.has_max = true;
      else c.min = *v, c.has_min = true;
    }
  }
  if (c.query.empty())
    ctx.Error(ctx.Loc(item), fmt::format("{}: an analysis check needs a 'query' (PromQL; "
                                         "$service, $release and $canary_instances are "
                                         "replaced)",
                                         who));
  if (!c.has_max && !c.has_min)
    ctx.Error(ctx.Loc(item), fmt::format("{}: analysis check '{}' needs 'max' or 'min' (the "
                                         "bound its value must stay within)",
                                         who, c.name));
  if (c.name.empty()) c.name = fmt::format("check {}", a->checks.size() + 1);
  a->checks.push_back(std::move(c));
}

void Analysis(ParseContext& ctx, const Entry& e, const std::string& who, DeployAnalysis* a) {
  if (!ctx.ExpectMap(e, who)) return;
  std::string where = fmt::format("in deploy.analysis of {}", who);
  for (const Entry& f : ctx.Entries(e.value, kAnalysisKeys, where, "deploy.analysis.")) {
    if (f.key == "interval") {
      auto d = ctx.Dur(f, who);
      if (d && d->count() <= 0)
        ctx.Error(ctx.Loc(f), fmt::format("{}: 'deploy.analysis.interval' must be longer than "
                                          "0, e.g. 5s",
                                          who));
      else if (d)
        a->interval = *d;
    } else if (f.key == "max_error_rate") {
      auto v = ctx.Number(f, who);
      if (v && (*v < 0 || *v > 1))
        ctx.Error(ctx.Loc(f), fmt::format("{}: 'deploy.analysis.max_error_rate' is a fraction "
                                          "between 0 and 1 (0.05 = 5%), got {}",
                                          who, *v));
      else if (v)
        a->max_error_rate = *v;
    } else if (f.key == "failure_limit") {
      if (auto n = ctx.Int(f, who, 1, 1000)) a->failure_limit = static_cast<int>(*n);
    } else if (f.key == "checks") {
      if (!f.value.IsSequence()) {
        ctx.Error(ctx.Loc(f), fmt::format("{}: 'deploy.analysis.checks' must be a list of "
                                          "{{name, query, max, min}}, got {}",
                                          who, ParseContext::Describe(f.value)));
        continue;
      }
      for (YamlNode item : f.value.Items()) Check(ctx, item, who, a);
    }
  }
}

}  // namespace

const char* DeployStrategyName(DeployStrategy s) {
  switch (s) {
    case DeployStrategy::kRolling: return "rolling";
    case DeployStrategy::kBlueGreen: return "blue-green";
    case DeployStrategy::kCanary: return "canary";
  }
  return "rolling";
}

bool DeployStrategyFromName(const std::string& name, DeployStrategy* out) {
  for (auto s : {DeployStrategy::kRolling, DeployStrategy::kBlueGreen, DeployStrategy::kCanary}) {
    if (name == DeployStrategyName(s)) {
      *out = s;
      return true;
    }
  }
  return false;
}

void ParseIngress(ParseContext& ctx, const Entry& e, const std::string& who, Service* s) {
  Ingress& in = s->ingress;
  in.enabled = true;
  if (e.value.IsScalar()) return IngressPort(ctx, e, who, &in);
  if (!e.value.IsMap()) {
    ctx.Error(ctx.Loc(e), fmt::format("{}: 'ingress' must be a port or a map {{port, bind, "
                                      "health_path}}, e.g. ingress: {{port: 8080}}, got {}",
                                      who, ParseContext::Describe(e.value)));
    return;
  }
  bool has_port = false;
  std::string where = fmt::format("in ingress of {}", who);
  for (const Entry& f : ctx.Entries(e.value, kIngressKeys, where, "ingress.")) {
    if (f.key == "port") {
      has_port = true;
      IngressPort(ctx, f, who, &in);
    } else if (f.key == "bind") {
      if (auto b = ctx.String(f, who)) {
        if (b->empty() || b->find_first_of(" :/") != std::string::npos)
          ctx.Error(ctx.Loc(f), fmt::format("{}: 'ingress.bind' must be an IPv4 address such "
                                            "as 127.0.0.1, got '{}'",
                                            who, *b));
        else
          in.bind = *b;
      }
    } else if (f.key == "health_path") {
      if (auto p = ctx.String(f, who)) {
        if (!p->empty() && (*p)[0] != '/')
          ctx.Error(ctx.Loc(f), fmt::format("{}: 'ingress.health_path' must start with '/', "
                                            "e.g. /healthz, got '{}'",
                                            who, *p));
        else
          in.health_path = *p;
      }
    }
  }
  if (!has_port)
    ctx.Error(ctx.Loc(e.key_node), fmt::format("{}: 'ingress' needs a 'port' (where clients "
                                               "connect), e.g. ingress: {{port: 8080}}",
                                               who));
}

void ParseDeploy(ParseContext& ctx, const Entry& e, const std::string& who, Service* s) {
  DeployConfig& d = s->deploy;
  d.location = ctx.Loc(e.key_node);
  if (!ctx.ExpectMap(e, who)) return;
  std::string where = fmt::format("in deploy of {}", who);
  for (const Entry& f : ctx.Entries(e.value, kDeployKeys, where, "deploy.")) {
    if (f.key == "strategy") {
      auto name = ctx.String(f, who);
      if (!name) continue;
      if (!DeployStrategyFromName(*name, &d.strategy))
        ctx.Error(ctx.Loc(f), fmt::format("{}: 'deploy.strategy' must be rolling, blue-green or "
                                          "canary, got '{}'",
                                          who, *name));
      else
        d.location = ctx.Loc(f);
    } else if (f.key == "max_surge") {
      if (auto n = ctx.Int(f, who, 0, 1000)) d.max_surge = static_cast<int>(*n);
    } else if (f.key == "max_unavailable") {
      if (auto n = ctx.Int(f, who, 0, 1000)) d.max_unavailable = static_cast<int>(*n);
    } else if (f.key == "steps") {
      Steps(ctx, f, who, &d);
    } else if (f.key == "verify") {
      if (auto v = ctx.Dur(f, who)) d.verify = *v;
    } else if (f.key == "keep_releases") {
      if (auto n = ctx.Int(f, who, 1, 1000)) d.keep_releases = static_cast<int>(*n);
    } else if (f.key == "analysis") {
      Analysis(ctx, f, who, &d.analysis);
    }
  }
  if (d.max_surge == 0 && d.max_unavailable == 0)
    ctx.Error(d.location, fmt::format("{}: 'deploy.max_surge' and 'deploy.max_unavailable' are "
                                      "both 0, so a rolling deploy could never replace a "
                                      "replica; set max_surge: 1",
                                      who));
  if (d.strategy == DeployStrategy::kCanary && d.steps.empty())
    d.steps = {{10, Duration(30000)}, {50, Duration(30000)}};
}

void ValidateDeploys(ParseContext& ctx, const std::vector<Service>& services) {
  std::map<int, const Service*> ingress_ports;
  for (const Service& s : services) {
    std::string who = fmt::format("service '{}'", s.name);
    SourceLocation at = s.deploy.location.line ? s.deploy.location : s.location;
    if (!s.ingress.enabled) {
      if (s.deploy.strategy == DeployStrategy::kCanary)
        ctx.Error(at, fmt::format("{}: a canary deploy moves traffic through the ingress; add "
                                  "ingress: {{port: <port>}} or use strategy: rolling",
                                  who));
      if (s.deploy.analysis.max_error_rate >= 0)
        ctx.Error(at, fmt::format("{}: 'deploy.analysis.max_error_rate' is measured at the "
                                  "ingress; add ingress: {{port: <port>}} or drop it",
                                  who));
      continue;
    }
    if (s.ingress.port == 0) continue;  // reported where it was read
    auto [it, fresh] = ingress_ports.emplace(s.ingress.port, &s);
    if (!fresh)
      ctx.Error(s.location, fmt::format("{}: ingress port {} is already the ingress of service "
                                        "'{}'; give each ingress its own port",
                                        who, s.ingress.port, it->second->name));
    for (const Service& o : services) {
      if (o.ports.empty()) continue;
      int lo = o.ports[0], hi = o.ports[0] + 2 * std::max(o.replicas, 1);
      if (s.ingress.port >= lo && s.ingress.port < hi)
        ctx.Error(s.location, fmt::format("{}: ingress port {} falls in the ports of service "
                                          "'{}' ({}..{}: its replicas and their replacements); "
                                          "pick a port outside it",
                                          who, s.ingress.port, o.name, lo, hi - 1));
      for (size_t i = 1; i < o.ports.size(); ++i)
        if (o.ports[i] == s.ingress.port)
          ctx.Error(s.location, fmt::format("{}: ingress port {} is a port of service '{}'",
                                            who, s.ingress.port, o.name));
    }
  }
}

}  // namespace steward::config::internal
