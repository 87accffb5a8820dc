// Real peers for end-to-end tests: Prometheus, Alertmanager and node_exporter from Debian, started as
// children on 127.0.0.1 with free ports, killed and reaped when the object goes away.
#pragma once

#include <functional>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include <nlohmann/json.hpp>

namespace httplib {
class Server;
}

namespace steward::testing {

class Project;

// A port nothing listens on right now (bind to port 0, read it, close).
int FreePort();
// The first of `count` consecutive ports free right now, below the kernel's ephemeral range
// (ip_local_port_range), so that no outgoing connection of a test running beside this one can
// take one of them in the meantime — as a service's declared ports [P, P+2*replicas) need.
int FreePortBlock(int count);
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
  // Prometheus without scraping over an existing TSDB directory (e.g. blocks written by
  // `promtool tsdb create-blocks-from`), with a retention long enough to keep any of it.
  // `flags` are added to the command line (e.g. --query.max-samples=N).
  bool StartOnData(const std::string& dir, const std::string& tsdb_path,
                   const std::vector<std::string>& flags = {});
  int port() const { return port_; }
  // GET /api/v1/<path>; returns "data" or null on any failure.
  nlohmann::json Api(const std::string& path_and_query);

 private:
  ChildProcess proc_;
  int port_ = 0;
};

// Alertmanager (Debian's prometheus-alertmanager) on a free port with `config_yaml` as its
// configuration, no clustering, its storage under dir.
class Alertmanager {
 public:
  bool Start(const std::string& dir, const std::string& config_yaml);
  int port() const { return port_; }

 private:
  ChildProcess proc_;
  int port_ = 0;
};

std::string UrlEncode(const std::string& s);

// The "data" of a call to the project daemon's Prometheus API, or null on any failure.
nlohmann::json Data(Project& p, const std::string& path);

// A test-side HTTP server on a free port of 127.0.0.1 answering every GET with whatever
// `body` returns for the path (as text format 0.0.4): a scrape target the test controls.
class BodyServer {
 public:
  explicit BodyServer(std::function<std::string(const std::string& path)> body);
  ~BodyServer();
  BodyServer(const BodyServer&) = delete;
  BodyServer& operator=(const BodyServer&) = delete;
  int port() const { return port_; }

 private:
  std::function<std::string(const std::string&)> body_;
  std::unique_ptr<httplib::Server> svr_;
  int port_ = 0;
  std::thread thread_;
};

}  // namespace steward::testing
