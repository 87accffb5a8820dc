#include "monitor/discovery.h"

#include <fnmatch.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <set>
#include <sstream>

#include "base/url.h"

namespace steward::monitor {
namespace {

namespace fs = std::filesystem;

constexpr int64_t kMaxFileBytes = 16LL << 20;

// What a target group becomes a target with: a scrape config, or one made for a service.
struct Job {
  std::string name;
  Duration interval{0};
  Duration timeout{0};
  std::string metrics_path = "/metrics";
  std::string scheme = "http";
  bool honor_labels = false;
  bool honor_timestamps = true;
  std::map<std::string, std::string> params;
};

void SetDurations(Job* job, Duration interval, Duration timeout, const config::Monitoring& m) {
  job->interval = interval.count() > 0 ? interval : m.scrape_interval;
  if (job->interval.count() <= 0) job->interval = Duration(15000);
  job->timeout = timeout.count() > 0 ? timeout : m.scrape_timeout;
  if (job->timeout.count() <= 0 || job->timeout > job->interval) job->timeout = job->interval;
}

bool HasGlob(std::string_view s) { return s.find_first_of("*?[") != std::string_view::npos; }

bool HasPort(const std::string& addr) {
  if (!addr.empty() && addr[0] == '[') return addr.find("]:") != std::string::npos;
  return addr.find(':') != std::string::npos;
}


Status CheckAddress(const std::string& addr) {
  if (addr.empty()) return InvalidArgument("empty target address (give host:port)");
  if (addr.find('/') != std::string::npos) {
    return InvalidArgument("target \"" + addr +
                           "\" is not a valid address: give host:port, without scheme or path "
                           "(set scheme and metrics_path on the scrape config)");
  }
  if (addr.find_first_of(" \t\r\n") != std::string::npos) {
    return InvalidArgument("target \"" + addr + "\" is not a valid address: it has whitespace");
  }
  return Status::OK();
}

StatusOr<TargetSpec> BuildTarget(const Job& job, const std::string& address,
                                 const std::map<std::string, std::string>& group_labels,
                                 const std::string& file) {
  RETURN_IF_ERROR(CheckAddress(address));
  // Prometheus' PopulateLabels: the group's labels, then defaults where the group set none.
  std::map<std::string, std::string> ls = group_labels;
  if (!file.empty()) ls["__meta_filepath"] = file;
  ls["__address__"] = address;
  ls.emplace("job", job.name);
  ls.emplace("__metrics_path__", job.metrics_path);
  ls.emplace("__scheme__", job.scheme);
  ls["__scrape_interval__"] = PrometheusDuration(job.interval);
  ls["__scrape_timeout__"] = PrometheusDuration(job.timeout);
  for (const auto& [k, v] : job.params) ls.emplace("__param_" + k, v);

  const std::string scheme = ls["__scheme__"];
  if (scheme != "http" && scheme != "https") {
    return InvalidArgument("target \"" + address + "\": scheme \"" + scheme +
                           "\" is not http or https");
  }
  std::string addr = address;
  if (!HasPort(addr)) addr += scheme == "https" ? ":443" : ":80";
  std::string path = ls["__metrics_path__"];
  if (path.empty() || path[0] != '/') path.insert(0, "/");

  std::vector<tsdb::Label> all;
  std::vector<tsdb::Label> pub;
  std::string query;
  for (const auto& [k, v] : ls) {
    all.push_back(tsdb::Label{k, v});
    if (k.rfind("__param_", 0) == 0) {
      query += (query.empty() ? "?" : "&") + QueryEscape(k.substr(8)) + "=" + QueryEscape(v);
    }
    if (k.rfind("__", 0) != 0) pub.push_back(tsdb::Label{k, v});
  }
  if (!ls.count("instance")) pub.push_back(tsdb::Label{"instance", addr});

  TargetSpec spec;
  spec.job = job.name;
  spec.url = scheme + "://" + addr + path + query;
  ASSIGN_OR_RETURN(spec.labels, tsdb::Labels::FromUnsorted(std::move(pub)));
  ASSIGN_OR_RETURN(spec.discovered, tsdb::Labels::FromUnsorted(std::move(all)));
  spec.interval = job.interval;
  spec.timeout = job.timeout;
  spec.honor_labels = job.honor_labels;
  spec.honor_timestamps = job.honor_timestamps;
  return spec;
}

void AddGroup(const Job& job, const TargetGroup& g, const std::string& file,
              const std::string& where, DiscoveryResult* out) {
  for (const auto& address : g.targets) {
    StatusOr<TargetSpec> t = BuildTarget(job, address, g.labels, file);
    if (t.ok()) {
      out->targets.push_back(std::move(t).value());
    } else {
      out->errors.push_back(where + ": " + t.status().message());
    }
  }
}

Status ReadSmallFile(const std::string& path, std::string* text) {
  std::error_code ec;
  auto size = fs::file_size(path, ec);
  if (ec) return IOError(ec.message());
  if (static_cast<int64_t>(size) > kMaxFileBytes) {
    return InvalidArgument("file is larger than 16 MiB; is it a target file?");
  }
  std::ifstream in(path, std::ios::binary);
  if (!in) return IOError("cannot open for reading");
  std::stringstream ss;
  ss << in.rdbuf();
  *text = ss.str();
  return Status::OK();
}

std::optional<TargetGroupFormat> FormatOf(const std::string& path) {
  std::string ext = fs::path(path).extension().string();
  if (ext == ".json") return TargetGroupFormat::kJson;
  if (ext == ".yml" || ext == ".yaml") return TargetGroupFormat::kYaml;
  return std::nullopt;
}

// The files a file_sd pattern names now: the path itself, or the glob's matches, sorted.
Status ExpandPattern(const std::string& pattern, std::vector<std::string>* files) {
  fs::path p(pattern);
  std::string dir = p.parent_path().string();
  std::string base = p.filename().string();
  if (HasGlob(dir)) return InvalidArgument("globs are allowed in the file name only");
  if (!FormatOf(base)) {
    return InvalidArgument("file name must end in .json, .yml or .yaml");
  }
  std::error_code ec;
  if (!HasGlob(base)) {
    if (!fs::exists(p, ec)) return NotFound("no such file");
    files->push_back(pattern);
    return Status::OK();
  }
  for (fs::directory_iterator it(dir.empty() ? "." : dir, ec), end; !ec && it != end;
       it.increment(ec)) {
    std::string name = it->path().filename().string();
    if (fnmatch(base.c_str(), name.c_str(), 0) == 0 && it->is_regular_file(ec)) {
      files->push_back(it->path().string());
    }
  }
  if (ec) return IOError("cannot list " + dir + ": " + ec.message());
  std::sort(files->begin(), files->end());
  return Status::OK();
}

}  // namespace

std::string PrometheusDuration(Duration d) {
  int64_t ms = d.count();
  if (ms == 0) return "0s";
  std::string out;
  auto unit = [&](const char* name, int64_t mult, bool exact) {
    if (exact && ms % mult != 0) return;
    if (int64_t v = ms / mult; v > 0) {
      out += std::to_string(v) + name;
      ms -= v * mult;
    }
  };
  const int64_t day = 24LL * 3600 * 1000;
  unit("y", 365 * day, true);
  unit("w", 7 * day, true);
  unit("d", day, false);
  unit("h", 3600LL * 1000, false);
  unit("m", 60LL * 1000, false);
  unit("s", 1000, false);
  unit("ms", 1, false);
  return out;
}

Discovery::Discovery(DiscoveryOptions options) : options_(std::move(options)) {}

Duration Discovery::RefreshInterval(const config::Stack& stack) {
  Duration best{0};
  for (const auto& sc : stack.scrape_configs) {
    if (sc.file_sd_files.empty() || sc.file_sd_refresh.count() <= 0) continue;
    if (best.count() == 0 || sc.file_sd_refresh < best) best = sc.file_sd_refresh;
  }
  return best;
}

DiscoveryResult Discovery::Discover(const config::Stack& stack,
                                    const std::vector<ReplicaEndpoint>& replicas) {
  std::lock_guard<std::mutex> l(mu_);
  DiscoveryResult out;
  const config::Monitoring& mon = stack.monitoring;
  for (const auto& svc : stack.services) {
    if (!svc.metrics.enabled) continue;
    std::vector<ReplicaEndpoint> mine;
    for (const auto& ep : replicas) {
      if (ep.service == svc.name) mine.push_back(ep);
    }
    std::sort(mine.begin(), mine.end(),
              [](const auto& a, const auto& b) { return a.replica < b.replica; });
    Job job;
    job.name = svc.name;
    job.metrics_path = svc.metrics.path;
    SetDurations(&job, svc.metrics.interval, svc.metrics.timeout, mon);
    for (const auto& ep : mine) {
      const std::string where = "service " + svc.name + " replica " + std::to_string(ep.replica);
      int port = svc.metrics.port > 0 ? svc.metrics.port : ep.port;
      if (port <= 0 || port > 65535) {
        out.errors.push_back(where +
                             ": no port to scrape (the replica has no PORT and "
                             "metrics.port is not set)");
        continue;
      }
      TargetGroup g;
      g.targets.push_back("127.0.0.1:" + std::to_string(port));
      g.labels["service"] = svc.name;
      g.labels["replica"] = std::to_string(ep.replica);
      if (!stack.environment.empty()) g.labels["env"] = stack.environment;
      for (const auto& [k, v] : svc.metrics.labels) g.labels[k] = v;
      AddGroup(job, g, "", where, &out);
    }
  }
  if (mon.self_scrape && !options_.self_address.empty()) {
    Job job;
    job.name = "steward";
    job.metrics_path = options_.self_metrics_path;
    SetDurations(&job, Duration(0), Duration(0), mon);
    AddGroup(job, TargetGroup{{options_.self_address}, {}}, "", "self-scrape", &out);
  }
  std::set<std::string> files_seen;
  for (const auto& sc : stack.scrape_configs) {
    Job job;
    job.name = sc.job_name;
    job.metrics_path = sc.metrics_path;
    job.scheme = sc.scheme;
    job.honor_labels = sc.honor_labels;
    job.honor_timestamps = sc.honor_timestamps;
    job.params = sc.params;
    SetDurations(&job, sc.interval, sc.timeout, mon);
    const std::string where = "scrape_configs " + sc.job_name;
    for (const auto& g : sc.static_configs) {
      AddGroup(job, TargetGroup{g.targets, g.labels}, "", where, &out);
    }
    for (const auto& pattern : sc.file_sd_files) {
      fs::path p(pattern);
      std::string path = p.is_absolute() || stack.dir.empty() ? pattern : stack.dir + "/" + pattern;
      std::vector<std::string> files;
      Status st = ExpandPattern(path, &files);
      if (!st.ok()) out.errors.push_back(where + ": file_sd " + path + ": " + st.message());
      for (const auto& file : files) {
        files_seen.insert(file);
        const std::string fwhere = where + ": file_sd " + file;
        for (const auto& g : ReadFile(file, fwhere, &out.errors)) {
          AddGroup(job, g, file, fwhere, &out);
        }
      }
    }
  }
  // A file that is gone (or no longer named) takes its targets with it.
  std::erase_if(last_good_, [&](const auto& kv) { return !files_seen.count(kv.first); });
  return out;
}

std::vector<TargetGroup> Discovery::ReadFile(const std::string& path, const std::string& where,
                                             std::vector<std::string>* errors) {
  std::string text;
  Status st = ReadSmallFile(path, &text);
  StatusOr<std::vector<TargetGroup>> groups =
      st.ok() ? ParseTargetGroups(text, *FormatOf(path)) : StatusOr<std::vector<TargetGroup>>(st);
  if (groups.ok()) {
    last_good_[path] = *groups;
    return std::move(groups).value();
  }
  auto it = last_good_.find(path);
  std::string keep;
  if (it != last_good_.end()) {
    size_t n = 0;
    for (const auto& g : it->second) n += g.targets.size();
    keep = " (keeping the " + std::to_string(n) + " targets last read from it)";
  }
  errors->push_back(where + ": " + groups.status().message() + keep);
  return it != last_good_.end() ? it->second : std::vector<TargetGroup>{};
}

}  // namespace steward::monitor
