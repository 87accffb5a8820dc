// steward-demo: a small HTTP service that misbehaves on request, for drills and tests. This file
// only wires flags, signals and the server; the behaviour lives in demo_service.cc.
//
// Exit codes: 0 after SIGTERM/SIGINT, 1 on a bind error or an asked-for crash, 2 for bad flags
// or --fail-start.
#include <httplib.h>
#include <signal.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <atomic>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <random>
#include <thread>

#include "demo_server.h"
#include "demo_service.h"

namespace steward::demo {
namespace {

struct Flags {
  std::string host = "127.0.0.1";
  int port = 8080;
  std::string name = "demo";
  std::string error_rate = "0";
  std::string latency = "0";
  bool unhealthy = false;
  std::string crash_after = "0";
  std::string hang_after = "0";
  std::string leak_per_second = "0";
  std::string leak_limit = "1Gi";
  std::string startup_delay = "0";
  bool fail_start = false;
  bool ignore_sigterm = false;
  int threads = 16;  // keep-alive connections of a proxy, the scraper and health checks each hold one
  int series = 0;
};

std::string EnvOr(const char* name, std::string fallback) {
  const char* v = std::getenv(name);
  return v && *v ? v : fallback;
}

[[noreturn]] void Exit(int status, const std::string& why) {
  std::fprintf(status == 0 ? stdout : stderr, "steward-demo: exiting with status %d: %s\n", status,
               why.c_str());
  std::fflush(stdout);
  std::fflush(stderr);
  // _exit: handler threads are still running, and static destructors must not race them.
  _exit(status);
}

// Turns the string flags into options; a bad value is a usage error.
StatusOr<DemoOptions> BuildOptions(const Flags& f, Duration* startup_delay) {
  DemoOptions o;
  o.name = f.name;
  o.replica = EnvOr("STEWARD_INSTANCE", std::to_string(getpid()));
  o.greeting = EnvOr("GREETING", "hello");
  o.synthetic_series = f.series;
  o.initial.unhealthy = f.unhealthy;
  Status st;
  auto parse = [&st](const char* flag, auto result, auto* out) {
    if (!st.ok()) return;
    if (result.ok()) {
      *out = *result;
    } else {
      st = result.status().Annotate(flag);
    }
  };
  parse("--error-rate", ParseRate(f.error_rate), &o.initial.error_rate);
  parse("--latency", ParseDuration(f.latency), &o.initial.latency);
  parse("--crash-after", ParseDuration(f.crash_after), &o.crash_after);
  parse("--hang-after", ParseDuration(f.hang_after), &o.hang_after);
  parse("--leak-per-second", ParseBytes(f.leak_per_second), &o.initial.leak_bytes_per_second);
  parse("--leak-limit", ParseBytes(f.leak_limit), &o.leak_limit_bytes);
  parse("--startup-delay", ParseDuration(f.startup_delay), startup_delay);
  if (!st.ok()) return st;
  return o;
}

void AddFlags(CLI::App& app, Flags& f) {
  app.add_option("--host", f.host, "Address to listen on")->capture_default_str();
  app.add_option("--port", f.port, "Port to listen on (default: $PORT, else 8080)");
  app.add_option("--name", f.name, "Service name shown in greetings")->capture_default_str();
  app.add_option("--error-rate", f.error_rate, "Fraction of / requests that answer 500 (0..1)");
  app.add_option("--latency", f.latency, "Delay added to / requests, e.g. 200ms");
  app.add_flag("--unhealthy", f.unhealthy, "Start with /healthz answering 503");
  app.add_option("--crash-after", f.crash_after, "Exit with status 1 after this long, e.g. 30s");
  app.add_option("--hang-after", f.hang_after, "Stop answering all requests after this long");
  app.add_option("--leak-per-second", f.leak_per_second, "Memory to leak per second, e.g. 1Mi");
  app.add_option("--leak-limit", f.leak_limit, "Stop leaking at this size")->capture_default_str();
  app.add_option("--startup-delay", f.startup_delay, "Sleep this long before listening");
  app.add_flag("--fail-start", f.fail_start, "Exit with status 2 at once (crash-loop drills)");
  app.add_flag("--ignore-sigterm", f.ignore_sigterm, "Ignore SIGTERM (SIGKILL-after-grace drills)");
  app.add_option("--series", f.series, "Extra synthetic series on /metrics (benchmarks)")
      ->check(CLI::Range(0, 10'000'000));
  app.add_option("--threads", f.threads, "Handler threads")
      ->capture_default_str()
      ->check(CLI::Range(1, 64));
}

int Run(const Flags& flags) {
  if (flags.fail_start) Exit(2, "--fail-start given");
  Duration startup_delay{0};
  StatusOr<DemoOptions> options = BuildOptions(flags, &startup_delay);
  if (!options.ok()) {
    std::fprintf(stderr, "steward-demo: %s\n", options.status().message().c_str());
    return 2;
  }

  // Block the stop signals before any thread starts so that only the signal thread sees them.
  sigset_t stop_signals;
  sigemptyset(&stop_signals);
  sigaddset(&stop_signals, SIGINT);
  sigaddset(&stop_signals, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &stop_signals, nullptr);

  std::mt19937_64 rng(std::random_device{}());
  std::mutex rng_mu;
  RandomFn random = [&] {
    std::lock_guard<std::mutex> l(rng_mu);
    return std::uniform_real_distribution<double>(0, 1)(rng);
  };
  DemoService service(*options, RealClock::Get(), random, Exit);
  httplib::Server server;
  InstallDemoRoutes(&service, &server, ServerOptions{.threads = flags.threads}, Exit, stdout);
  // Which release answered, for clients of an ingress in deploy drills: $DEMO_VERSION, else the
  // STEWARD_RELEASE label the deploy controller gives each release.
  const std::string release = EnvOr("DEMO_VERSION", EnvOr("STEWARD_RELEASE", ""));
  if (!release.empty()) {
    server.set_post_routing_handler([release](const httplib::Request&, httplib::Response& res) {
      res.set_header("X-Release", release);
    });
  }

  std::atomic<bool> serving_done{false};
  std::thread signal_thread([&] {
    int sig = 0;
    while (sigwait(&stop_signals, &sig) == 0 && sig == SIGTERM && flags.ignore_sigterm) {
      // Said out loud, so a drill's log shows the supervisor's SIGTERM arrived and was ignored.
      std::printf("steward-demo: received SIGTERM, ignoring it (--ignore-sigterm)\n");
    }
    std::printf("steward-demo: received %s, shutting down\n",
                sig == SIGTERM ? "SIGTERM" : "SIGINT");
    service.Shutdown();
    // stop() does nothing until listen has begun; repeat until the main thread is past it.
    while (!serving_done.load()) {
      server.stop();
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
  });

  std::printf("steward-demo: %s (replica %s) starting, pid %d\n", options->name.c_str(),
              options->replica.c_str(), getpid());
  if (startup_delay.count() > 0) {
    std::printf("steward-demo: waiting %s before listening (--startup-delay)\n",
                FormatDuration(startup_delay).c_str());
    service.SleepUnlessStopping(startup_delay);
  }
  if (!service.stopping()) {
    errno = 0;
    if (!server.bind_to_port(flags.host, flags.port)) {
      int err = errno;
      Exit(1, "cannot listen on " + flags.host + ":" + std::to_string(flags.port) +
                  (err ? std::string(": ") + std::strerror(err) : std::string()));
    }
    service.Start();
    std::printf("steward-demo: listening on http://%s:%d\n", flags.host.c_str(), flags.port);
    server.listen_after_bind();
    if (!service.stopping()) Exit(1, "the HTTP server stopped unexpectedly");
  }
  // Only the signal thread sets stopping, so it exists and will finish once this is set.
  serving_done.store(true);
  signal_thread.join();
  std::printf("steward-demo: shutdown complete\n");
  std::fflush(stdout);
  return 0;
}

}  // namespace
}  // namespace steward::demo

int main(int argc, char** argv) {
  // Line-buffered even into a pipe or file, so the supervisor's log capture sees each request.
  std::setvbuf(stdout, nullptr, _IOLBF, 0);
  steward::demo::Flags flags;
  const char* port = std::getenv("PORT");
  if (port && *port) flags.port = std::atoi(port);
  // A release's environment can inject errors without new flags (deploy drills); --error-rate
  // still wins.
  flags.error_rate = steward::demo::EnvOr("DEMO_ERROR_RATE", flags.error_rate);
  CLI::App app{"steward-demo: a small HTTP service that misbehaves on request, for drills"};
  steward::demo::AddFlags(app, flags);
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    int code = app.exit(e);
    return code == 0 ? 0 : 2;
  }
  return steward::demo::Run(flags);
}
