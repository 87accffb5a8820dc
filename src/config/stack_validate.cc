// Checks that span services: dependencies name defined services and form no cycle, and the
// port blocks of services (replicas plus room for a rolling update) do not overlap.
#include <fmt/format.h>

#include <algorithm>
#include <map>
#include <set>

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
  std::vector<std::string> names;
  for (const Service& s : services) names.push_back(s.name);
  std::vector<std::string> sorted = names;
  std::sort(sorted.begin(), sorted.end());
  std::vector<std::string_view> candidates(names.begin(), names.end());
  for (size_t i = 0; i < services.size(); ++i) {
    for (size_t d = 0; d < services[i].depends_on.size(); ++d) {
      const std::string& dep = services[i].depends_on[d];
      if (std::find(names.begin(), names.end(), dep) != names.end()) continue;
      std::string hint = Suggest(dep, candidates);
      ctx.Error(marks[i].depends_on[d],
                fmt::format("service '{}' depends on '{}', which is not defined; defined "
                            "services: {}{}",
                            services[i].name, dep, Join(sorted, ", "),
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
  for (size_t j = 0; j < blocks.size(); ++j) {
    const PortBlock& b = blocks[j];
    for (size_t i = 0; i < j; ++i) {
      const PortBlock& a = blocks[i];
      if (b.port >= a.end() || a.port >= b.end()) continue;
      std::string owner = a.service == b.service
                              ? "its own port " + std::to_string(a.port)
                              : fmt::format("service '{}'", services[a.service].name);
      std::string own_range = b.port >= a.port ? "" : fmt::format(" ({})", b.Describe());
      ctx.Error(b.location,
                fmt::format("port clash: service '{}' port {}{} overlaps {} ({})",
                            services[b.service].name, b.port, own_range, owner, a.Describe()));
    }
  }
}

}  // namespace

void ValidateServices(ParseContext& ctx, const std::vector<Service>& services,
                      const std::vector<ServiceMarks>& marks) {
  CheckDependenciesExist(ctx, services, marks);
  CycleFinder(ctx, services).Run();
  CheckPorts(ctx, services, marks);
}

}  // namespace steward::config::internal
