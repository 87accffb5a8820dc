// Pieces of the HAProxy ingress that haproxy.cc composes and tests reach directly: checking
// frontends, talking to haproxy's unix sockets, parsing its CSV and `show proc` answers, and
// running a program to capture its output. Not a public interface of the room.
// Thread safety: free functions without shared state.
#pragma once

#include <chrono>
#include <string>
#include <string_view>
#include <vector>

#include "base/status.h"
#include "ingress/haproxy.h"

namespace steward::ingress::internal {

// Names of the files Steward keeps in the ingress directory.
struct IngressPaths {
  explicit IngressPaths(const std::string& dir);
  std::string config;         // haproxy.cfg
  std::string admin_socket;   // admin.sock: the workers' runtime API (level admin)
  std::string master_socket;  // master.sock: the master CLI (show proc)
  std::string pid_file;       // haproxy.pid: the master's pid
  std::string log;            // haproxy.log: haproxy's stderr (alerts, server state changes)
  std::string server_state;   // servers.state: runtime server state carried over a reload
};

// The template's server names: slot 3 is server "s3" of the service's backend.
inline constexpr std::string_view kServerPrefix = "s";
// Name of the optional stats/Prometheus frontend; a service may not use it.
inline constexpr std::string_view kStatsFrontend = "steward_stats";

// Checks what RenderConfig relies on: names haproxy accepts, ports and slots in range, no two
// frontends on one address, a health path haproxy can put on its request line.
Status ValidateFrontends(const std::vector<Frontend>& frontends);

// Sends one command to a haproxy CLI socket and returns the whole answer (haproxy closes the
// connection after answering a non-interactive command). Retries connecting until the timeout,
// because the master's socket is briefly absent while it re-executes on reload.
StatusOr<std::string> SocketCommand(const std::string& socket_path, const std::string& command,
                                    std::chrono::milliseconds timeout);

// Rows of `show stat` CSV (header "# pxname,svname,...") for the template servers of one backend.
StatusOr<std::vector<ServerState>> ParseServerStats(std::string_view csv,
                                                    const std::string& backend);

// The master CLI's `show proc`: the pids of the current workers and the failed reload count.
struct ProcInfo {
  std::vector<int> workers;
  std::vector<int> old_workers;
  int failed_reloads = 0;
};
StatusOr<ProcInfo> ParseShowProc(std::string_view text);

// Runs argv to completion and captures stdout and stderr together.
struct ProgramResult {
  int exit_code = -1;
  std::string output;
};
StatusOr<ProgramResult> RunProgram(const std::vector<std::string>& argv);

// OK when bind:port can be listened on now; an error naming the address when it is taken.
Status CheckPortFree(const std::string& bind, int port);

// True when something accepts TCP connections on host:port.
bool AcceptsConnections(const std::string& host, int port);

}  // namespace steward::ingress::internal
