// The ingress: a real HAProxy (Debian's haproxy package) that Steward configures and drives,
// giving each service with an `ingress:` a stable front door (127.0.0.1:<port>) while deploys
// move traffic between releases underneath it.
//
// Steward writes haproxy.cfg under its directory (<state dir>/ingress/) and runs haproxy in
// master-worker mode (-W -S <master socket>). Each service is a frontend + a backend with a
// fixed number of server slots (server-template), all declared up front and parked in
// maintenance; replicas are put into slots, weighted, drained and taken out through the runtime
// API (a unix stats socket, level admin) — no reload, so no connection is dropped. Adding or
// removing a service's frontend rewrites the config and reloads the master (SIGUSR2), which
// hands open connections over (seamless reload with expose-fd listeners).
// An optional stats/Prometheus frontend (stats_port) exposes haproxy_* metrics for scraping.
//
// Thread safety: all methods are thread-safe (one runtime-API command at a time).
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "base/status.h"

namespace steward::ingress {

struct Frontend {
  std::string service;        // also the backend's name
  std::string bind = "127.0.0.1";
  int port = 0;
  int slots = 8;              // server slots in the backend (replicas of all releases at once)
  std::string health_path;    // "": no HAProxy health checks (Steward's own gate readiness)
  std::chrono::milliseconds connect_timeout{2000};
  std::chrono::milliseconds client_timeout{30000};
  std::chrono::milliseconds server_timeout{30000};
  // Retry a request on another server when a connection fails (a replica just went away).
  int retries = 2;
};

// One server slot as HAProxy reports it (show stat).
struct ServerState {
  int slot = 0;
  std::string addr;           // "127.0.0.1:18081"; "" when parked
  int weight = 0;             // 0..256
  std::string status;         // "UP", "DOWN", "MAINT", "DRAIN", "no check"
  int64_t sessions_total = 0; // stot
  int64_t current_sessions = 0;  // scur
  int64_t responses_total = 0;   // sum of hrsp_1xx..hrsp_other
  int64_t responses_5xx = 0;     // hrsp_5xx
  int64_t connection_errors = 0; // econ
};

struct HaproxyOptions {
  std::string haproxy = "haproxy";  // program
  std::string dir;                  // config, sockets, pid file and log live here
  int stats_port = 0;               // 0: no stats/Prometheus frontend
  std::chrono::milliseconds start_timeout{10000};
};

class Haproxy {
 public:
  // Writes the config and starts haproxy, waiting until every frontend accepts connections.
  // An haproxy left running by a previous daemon (pid file) is taken over when alive.
  static StatusOr<std::unique_ptr<Haproxy>> Start(const HaproxyOptions& options,
                                                  const std::vector<Frontend>& frontends);
  ~Haproxy();  // leaves haproxy running (Stop() stops it)

  // New set of frontends: rewrites the config and reloads seamlessly when it changed; servers
  // already in slots stay there (their addresses and weights are re-applied after the reload).
  Status Reconfigure(const std::vector<Frontend>& frontends);

  // Runtime API. slot is 1-based, <= Frontend.slots.
  // Puts a server into a slot with a weight (0..256) and makes it ready for traffic.
  Status SetServer(const std::string& service, int slot, const std::string& host, int port,
                   int weight);
  Status SetWeight(const std::string& service, int slot, int weight);
  // Stops new requests to the slot but lets open ones finish; then waits (up to timeout) until
  // its current sessions reach zero, and parks it in maintenance.
  Status DrainAndPark(const std::string& service, int slot, std::chrono::milliseconds timeout);
  Status Park(const std::string& service, int slot);  // maintenance at once
  StatusOr<std::vector<ServerState>> Servers(const std::string& service);
  // A raw runtime API command's answer ("show info", ...).
  StatusOr<std::string> Command(const std::string& command);

  Status Stop();  // stops haproxy (graceful, then SIGKILL)
  int pid() const;
  const std::string& config_path() const;

 private:
  Haproxy() = default;
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

// The config text for these frontends (exposed for tests and `steward ingress config`).
std::string RenderConfig(const HaproxyOptions& options, const std::vector<Frontend>& frontends);

}  // namespace steward::ingress
