// Wires a DemoService into a cpp-httplib server: routes, one log line and one metrics sample per
// request, and the socket and thread-pool settings that keep the demo small and its shutdown
// fast.
//
// Contract: call InstallDemoRoutes before bind/listen; `service` must outlive `server`. A reply
// that asks for an exit (POST /admin/misbehave crash=true) is written to the client first, then
// `exit` is called from the same worker thread. `log` may be null (no request lines).
// Thread safety: handlers run on the server's pool; the service is thread-safe.
#pragma once

#include <httplib.h>

#include <cstdio>

#include "demo_service.h"

namespace steward::demo {

struct ServerOptions {
  int threads = 4;  // handler threads: a hung or slow handler occupies one each
  // Idle keep-alive and slow request reads hold a thread; short limits keep SIGTERM prompt.
  int keep_alive_seconds = 1;
  int read_timeout_seconds = 2;
};

void InstallDemoRoutes(DemoService* service, httplib::Server* server, const ServerOptions& options,
                       ExitFn exit, std::FILE* log);

}  // namespace steward::demo
