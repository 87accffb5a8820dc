// The typed model of a stack file (steward.yaml): what a team declares. The parser fills it,
// the validator checks it, the planner reads it. Plain data, no behaviour beyond helpers;
// values are already interpolated (${VAR}) and the selected environment's overrides applied.
// Thread safety: immutable after parsing; share freely across threads.
#pragma once

#include <chrono>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

namespace steward::config {

using Duration = std::chrono::milliseconds;

// Where something was written: for error messages ("steward.yaml:12:5").
struct SourceLocation {
  std::string file;
  int line = 0;    // 1-based; 0 when unknown
  int column = 0;  // 1-based
  std::string ToString() const;  // "file:line:col", or "file" when line is 0
};

enum class HealthCheckKind { kNone, kHttp, kTcp, kExec };

struct HealthCheck {
  HealthCheckKind kind = HealthCheckKind::kNone;
  std::string path = "/healthz";        // http: request path
  int port = 0;                         // http/tcp: 0 means the replica's PORT
  int expect_status = 0;                // http: 0 means any 2xx/3xx
  std::vector<std::string> command;     // exec: argv; exit 0 is healthy
  Duration interval{2000};
  Duration timeout{1000};
  Duration start_period{0};             // failures in this window after start do not count
  int healthy_threshold = 1;            // consecutive successes to become ready
  int unhealthy_threshold = 3;          // consecutive failures to become unhealthy (restart)
};

enum class RestartPolicy { kAlways, kOnFailure, kNever };

struct Restart {
  RestartPolicy policy = RestartPolicy::kAlways;
  Duration backoff_initial{100};        // first restart delay; doubles each time
  Duration backoff_max{30000};
  int crash_loop_restarts = 5;          // this many restarts inside crash_loop_window...
  Duration crash_loop_window{60000};    // ...marks the replica crash-looping
};

struct Resources {
  double cpu = 0;             // cores; 0 = unset
  int64_t memory_bytes = 0;   // 0 = unset; the supervisor restarts a replica whose RSS exceeds it
};

struct Service {
  std::string name;
  SourceLocation location;              // of the service's key in the file
  std::string command;                  // program; resolved through PATH when it has no '/'
  std::vector<std::string> args;
  std::map<std::string, std::string> env;
  std::string working_dir;              // absolute after parsing (relative to the stack file)
  int replicas = 1;
  // Declared ports. Replica i of a service with port P runs with PORT=P+i; during a rolling
  // update the replacement runs on P+replicas+i, so a service owns [P, P+2*replicas).
  // Empty: each replica gets a free port from the OS.
  std::vector<int> ports;
  HealthCheck health;
  Restart restart;
  int stop_signal = 15;                 // SIGTERM
  Duration stop_grace{10000};
  std::vector<std::string> depends_on;
  Resources resources;
};

struct Environment {
  std::string name;
  std::map<std::string, std::string> vars;  // extra ${VAR} values for interpolation
};

struct Stack {
  std::string path;                     // the stack file, absolute
  std::string dir;                      // its directory; relative paths resolve from here
  std::string project;
  std::string environment;              // selected environment name ("" if none)
  std::vector<Environment> environments;
  std::vector<Service> services;        // in file order

  const Service* FindService(const std::string& name) const;
};

}  // namespace steward::config
