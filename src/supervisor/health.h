// Health checks: one probe of one replica, as declared in the stack file (http, tcp, exec).
//
// RunHealthCheck blocks for at most about check.timeout and never throws. The probe targets
// 127.0.0.1 at check.port, or the replica's port when that is 0. http: a GET without proxy,
// healthy on expect_status (or any 2xx/3xx when it is 0). tcp: a connect. exec: the command
// runs with the replica's environment in its own process group, killed as a group at the
// timeout; healthy on exit 0; only that child's pid is waited for.
// Thread safety: safe to call concurrently from worker threads (each call has its own curl
// handle; libcurl's global init happens once).
#pragma once

#include <map>
#include <string>

#include "base/clock.h"
#include "config/stack.h"

namespace steward::supervisor {

struct HealthResult {
  bool ok = false;
  // What happened, for people: "HTTP 200", "HTTP 500", "connect: Connection refused",
  // "timeout after 1s", "exit status 1: <first line of output>".
  std::string detail;
  Duration took{0};
};

HealthResult RunHealthCheck(const config::HealthCheck& check, int replica_port,
                            const std::map<std::string, std::string>& env);

// The probes RunHealthCheck dispatches to.
HealthResult CheckHttp(const config::HealthCheck& check, int port);
HealthResult CheckTcp(const config::HealthCheck& check, int port);
HealthResult CheckExec(const config::HealthCheck& check,
                       const std::map<std::string, std::string>& env);

// "timeout after 1s" / "timeout after 200ms".
std::string TimeoutText(Duration timeout);

}  // namespace steward::supervisor
