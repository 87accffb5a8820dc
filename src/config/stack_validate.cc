// Checks that span services: dependencies name defined services and form no cycle, and the
// port blocks of services (replicas plus room for a rolling update) do not overlap.
#include <fmt/format.h>

#include <algorithm>
#include <map>
#include <set>
#include <string_view>
#include <unordered_set>

#include "config/deploy_parser.h"
#include "config/parse_context.h"

namespace steward::config::internal {
namespace {

std::string Join(const std::vector<std::string>& items, std::string_view sep) {
  std::string out;
  for (const std::string& s : items) out += (out.empty() ? "" : std::string(sep)) + s;
  return out;
}

void CheckDependenciesExist(ParseContext& ctx, const std::vector<Service>& services,
                            const std::vector<ServiceMarks>& marks) {
  // Hashed, not a scan per dependency: that was quadratic in the number of services.
  std::unordered_set<std::string_view> defined;
  defined.reserve(services.size());
  for (const Service& s : services) defined.insert(s.name);
  std::vector<std::string_view> candidates;  // only built once an error needs them
  std::string sorted;
  for (size_t i = 0; i < services.size(); ++i) {
    for (size_t d = 0; d < services[i].depends_on.size(); ++d) {
      const std::string& dep = services[i].depends_on[d];
      if (defined.contains(dep)) continue;
      if (candidates.empty()) {
        for (const Service& s : services) candidates.push_back(s.name);
        std::vector<std::string> names(candidates.begin(), candidates.end());
        std::sort(names.begin(), names.end());
        sorted = Join(names, ", ");
      }
      std::string hint = Suggest(dep, candidates);
      ctx.Error(marks[i].depends_on[d],
                fmt::format("service '{}' depends on '{}', which is not defined; defined "
                            "services: {}{}",
                            services[i].name, dep, sorted,
                            hint.empty() ? "" : fmt::format(" (did you mean '{}'?)", hint)));
    }
  }
}

// Depth-first search; every back edge closes one cycle. Each cycle is reported once, rotated
// to start at the service that comes first in the file.
class CycleFinder {
 public:
  CycleFinder(ParseContext& ctx, const std::vector<Service>& services)
      : ctx_(ctx), services_(services), color_(services.size(), kWhite) {
    for (size_t i = 0; i < services.size(); ++i) index_[services[i].name] = i;
  }

  void Run() {
    for (size_t i = 0; i < services_.size(); ++i) {
      if (color_[i] == kWhite) Visit(i);
    }
  }

 private:
  enum Color { kWhite, kGray, kBlack };

  void Visit(size_t u) {
    color_[u] = kGray;
    stack_.push_back(u);
    for (const std::string& dep : services_[u].depends_on) {
      auto it = index_.find(dep);
      if (it == index_.end()) continue;  // reported as an unknown dependency
      size_t v = it->second;
      if (color_[v] == kGray) Report(v);
      if (color_[v] == kWhite) Visit(v);
    }
    stack_.pop_back();
    color_[u] = kBlack;
  }

  // The stack from `start` to its top, then back to `start`, is a cycle.
  void Report(size_t start) {
    std::vector<size_t> cycle(std::find(stack_.begin(), stack_.end(), start), stack_.end());
    std::rotate(cycle.begin(), std::min_element(cycle.begin(), cycle.end()), cycle.end());
    if (!seen_.insert(cycle).second) return;
    std::vector<std::string> names;
    for (size_t i : cycle) names.push_back(services_[i].name);
    names.push_back(services_[cycle[0]].name);
    ctx_.Error(services_[cycle[0]].location,
               fmt::format("dependency cycle: {}; remove one of these depends_on entries",
                           Join(names, " → ")));
  }

  ParseContext& ctx_;
  const std::vector<Service>& services_;
  std::map<std::string, size_t> index_;
  std::vector<Color> color_;
  std::vector<size_t> stack_;
  std::set<std::vector<size_t>> seen_;
};

// A declared port and the range it reserves: replica i listens on port+i, and its replacement
// during a rolling update on port+replicas+i.
struct PortBlock {
  size_t service;
  int port;
  int width;  // replicas counted (at least 1)
  SourceLocation location;
  int end() const { return port + 2 * width; }  // exclusive
  std::string Describe() const {
    return fmt::format("ports {}-{}: {} replica{} plus {} for rolling updates", port, end() - 1,
                       width, width == 1 ? "" : "s", width);
  }
};

// `b` comes after `a` in the file and their ranges overlap.
void ReportClash(ParseContext& ctx, const std::vector<Service>& services, const PortBlock& a,
                 const PortBlock& b) {
  std::string owner = a.service == b.service
                          ? "its own port " + std::to_string(a.port)
                          : fmt::format("service '{}'", services[a.service].name);
  std::string own_range = b.port >= a.port ? "" : fmt::format(" ({})", b.Describe());
  ctx.Error(b.location,
            fmt::format("port clash: service '{}' port {}{} overlaps {} ({})",
                        services[b.service].name, b.port, own_range, owner, a.Describe()));
}

void CheckPorts(ParseContext& ctx, const std::vector<Service>& services,
                const std::vector<ServiceMarks>& marks) {
  std::vector<PortBlock> blocks;
  for (size_t i = 0; i < services.size(); ++i) {
    const Service& s = services[i];
    for (size_t p = 0; p < s.ports.size(); ++p) {
      PortBlock b{i, s.ports[p], std::max(s.replicas, 1), marks[i].ports[p]};
      if (b.end() - 1 > 65535) {
        ctx.Error(b.location,
                  fmt::format("service '{}': port {} needs ports up to {} ({}), "
                              "beyond 65535; choose a port at most {}",
                              s.name, b.port, b.end() - 1, b.Describe(), 65536 - 2 * b.width));
      }
      blocks.push_back(std::move(b));
    }
  }
  // Sweep in port order, keeping the blocks that have not ended yet: each pair is looked at
  // only when it clashes, where comparing every pair was quadratic in the number of ports.
  std::vector<size_t> order(blocks.size());
  for (size_t i = 0; i < order.size(); ++i) order[i] = i;
  std::stable_sort(order.begin(), order.end(),
                   [&](size_t x, size_t y) { return blocks[x].port < blocks[y].port; });
  std::vector<size_t> open;  // started at or before the current port, ending after it
  for (size_t y : order) {
    std::erase_if(open, [&](size_t x) { return blocks[x].end() <= blocks[y].port; });
    for (size_t x : open) {
      ReportClash(ctx, services, blocks[std::min(x, y)], blocks[std::max(x, y)]);
    }
    open.push_back(y);
  }
}

}  // namespace

void ValidateServices(ParseContext& ctx, const std::vector<Service>& services,
                      const std::vector<ServiceMarks>& marks) {
  CheckDependenciesExist(ctx, services, marks);
  CycleFinder(ctx, services).Run();
  CheckPorts(ctx, services, marks);
  ValidateDeploys(ctx, services);
}

}  // namespace steward::config::internal

namespace steward::config {
namespace {

// Range checks the YAML parser makes while reading, repeated for stacks that arrive as JSON.
void CheckServiceFields(internal::ParseContext& ctx, const Service& s) {
  auto err = [&](const std::string& what) { ctx.Error(s.location, "service '" + s.name + "': " + what); };
  bool name_ok = !s.name.empty() && std::all_of(s.name.begin(), s.name.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-';
  });
  if (!name_ok) ctx.Error(s.location, "service name '" + s.name + "' must match [a-z0-9-]+");
  if (s.command.empty()) err("'command' is empty");
  if (s.replicas < 0 || s.replicas > 1000) err("'replicas' must be between 0 and 1000");
  for (int p : s.ports)
    if (p < 1 || p > 65535) err("port " + std::to_string(p) + " is not between 1 and 65535");
  const HealthCheck& h = s.health;
  if (h.interval.count() <= 0 || h.timeout.count() <= 0 || h.start_period.count() < 0)
    err("health durations must be positive");
  else if (h.timeout > h.interval)
    err("health 'timeout' must not exceed 'interval'");
  if (h.healthy_threshold < 1 || h.unhealthy_threshold < 1 || h.healthy_threshold > 1000 ||
      h.unhealthy_threshold > 1000)
    err("health thresholds must be between 1 and 1000");
  if (h.port < 0 || h.port > 65535) err("health 'port' must be between 0 and 65535");
  if (h.kind == HealthCheckKind::kExec && h.command.empty()) err("exec health check has no command");
  const Restart& r = s.restart;
  if (r.backoff_initial.count() < 0 || r.backoff_max < r.backoff_initial ||
      r.crash_loop_window.count() <= 0 || r.crash_loop_restarts < 1)
    err("restart settings out of range");
  if (s.stop_signal < 1 || s.stop_signal > 64) err("'stop_signal' is not a signal number");
  if (s.stop_grace.count() < 0) err("'stop_grace' must not be negative");
  if (s.resources.cpu < 0 || s.resources.memory_bytes < 0) err("resources must not be negative");
}

}  // namespace

std::vector<Diagnostic> ValidateStack(const Stack& stack) {
  internal::ParseContext ctx(stack.path, nullptr);
  std::vector<internal::ServiceMarks> marks;
  std::set<std::string> seen;
  for (const auto& s : stack.services) {
    CheckServiceFields(ctx, s);
    if (!seen.insert(s.name).second)
      ctx.Error(s.location, "service '" + s.name + "' is defined twice");
    internal::ServiceMarks m;
    m.ports.assign(s.ports.size(), s.location);
    m.depends_on.assign(s.depends_on.size(), s.location);
    marks.push_back(std::move(m));
  }
  internal::ValidateServices(ctx, stack.services, marks);
  internal::CheckMonitoringModel(ctx, stack);
  return ctx.TakeDiagnostics();
}

}  // namespace steward::config
