// Internal to the probes: one function per kind, and the TCP connect that tcp and tls share.
// Each kind fills success, error and extra; RunProbe measures the duration.
// Thread safety: stateless functions.
#pragma once

#include <chrono>
#include <string>

#include "config/stack.h"
#include "monitor/probe.h"

namespace steward::monitor::internal {

using SteadyTime = std::chrono::steady_clock::time_point;

// Time left until `deadline`, at least 0.
std::chrono::milliseconds Remaining(SteadyTime deadline);
bool Cancelled(const ProbeContext& context);
// "812ms", "1.5s": latency for messages.
std::string FormatLatency(double seconds);

// "host:port" or "[v6]:port" -> host (without brackets) and port. False when malformed.
bool SplitHostPort(const std::string& target, std::string* host, std::string* port);

// Resolves and connects to host:port before `deadline` (DNS included: a lookup that takes too
// long is abandoned). Returns a connected, blocking socket, or -1 with `error` set.
int ConnectTcp(const std::string& host, const std::string& port, SteadyTime deadline,
               const ProbeContext& context, std::string* error);

void ProbeHttp(const config::Monitor& monitor, const ProbeContext& context, SteadyTime deadline,
               ProbeResult* result);
void ProbeTcp(const config::Monitor& monitor, const ProbeContext& context, SteadyTime deadline,
              ProbeResult* result);
void ProbeTls(const config::Monitor& monitor, const ProbeContext& context, SteadyTime deadline,
              ProbeResult* result);
void ProbeExec(const config::Monitor& monitor, const ProbeContext& context, SteadyTime deadline,
               ProbeResult* result);

}  // namespace steward::monitor::internal
