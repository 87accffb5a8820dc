// Real peers for end-to-end tests: Prometheus and node_exporter from Debian, started as
// children on 127.0.0.1 with free ports, killed and reaped when the object goes away.
#pragma once

#include <string>
#include <vector>

#include <nlohmann/json.hpp>

namespace steward::testing {

// A port nothing listens on right now (bind to port 0, read it, close).
int FreePort();
// Whether `binary` is on PATH.
bool HaveBinary(const std::string& binary);

class ChildProcess {
 public:
  ChildProcess() = default;
  ~ChildProcess();
  ChildProcess(const ChildProcess&) = delete;
  ChildProcess& operator=(const ChildProcess&) = delete;
  // argv[0] is looked up on PATH; output goes to log_file.
  bool Start(const std::vector<std::string>& argv, const std::string& log_file);
  void Kill();
  int pid() const { return pid_; }

 private:
  int pid_ = 0;
};

// node_exporter on a free port with its quick collectors.
class NodeExporter {
 public:
  bool Start(const std::string& dir);
  int port() const { return port_; }

 private:
  ChildProcess proc_;
  int port_ = 0;
};

// Prometheus with a generated config: `scrape_configs_yaml` is the YAML list (already
// indented two spaces) placed under scrape_configs:.
class Prometheus {
 public:
  bool Start(const std::string& dir, const std::string& scrape_configs_yaml,
             const std::string& scrape_interval);
  int port() const { return port_; }
  // GET /api/v1/<path>; returns "data" or null on any failure.
  nlohmann::json Api(const std::string& path_and_query);

 private:
  ChildProcess proc_;
  int port_ = 0;
};

std::string UrlEncode(const std::string& s);

}  // namespace steward::testing
