// Probes: synthetic checks declared under `monitors:` in the stack (http, tcp, tls, exec), in the
// spirit of blackbox_exporter and Gatus. RunProbe runs one check; the Prober runs every monitor
// on its own interval and writes the results as series into the embedded TSDB.
//
// RunProbe contract: blocking, bounded by monitor.timeout (DNS included), never throws, and
// reports why a probe failed in words ("status 503, expected 200", "body did not match /ok/",
// "latency 812ms > 500ms", "certificate chain not valid: self-signed certificate").
// - http: libcurl; success = status in expect_status (default any 2xx) && body_regex found in the
//   body (RE2, unanchored) && latency <= max_latency (when set). Only http/https are followed.
// - tcp: a TCP connect to target; success = connected.
// - tls: TCP connect + TLS handshake (SNI = server_name, default the target's host); the chain
//   is verified against the system store plus ca_file, with the host name checked. success =
//   chain valid && days left on the leaf certificate >= min_days_valid.
// - exec: the argv, in its own process group, stdin/stdout on /dev/null; success = exit 0; the
//   first line of stderr explains a failure; at the timeout the whole group is killed.
//
// Series written by the Prober for every run, labelled {job="monitor", monitor=<name>,
// instance=<url | target | command>, kind=<http|tcp|tls|exec>} plus the monitor's labels, at the
// run's start time:
//   probe_success (0/1), probe_duration_seconds, and per kind
//   http: probe_http_status_code (0 without a response), probe_http_content_length (body bytes
//         received), probe_http_redirects, probe_http_ssl (1 if the final URL was https),
//         probe_failed_due_to_regex (only with body_regex)
//   tls:  probe_ssl_earliest_cert_expiry (unix seconds, earliest notAfter the server sent),
//         probe_tls_days_left (leaf certificate), probe_tls_chain_valid (0/1) — after a handshake
//   exec: probe_exec_exit_code (-1 when killed or not started)
// A series a run no longer writes (e.g. the TLS ones when the connection fails) gets a staleness
// marker; a monitor removed by SetMonitors gets one on every series, once.
//
// Scheduling: the first run of a monitor comes soon after it is added, jittered by a stable
// hash of its name within min(interval, 5s); later runs keep that phase. A run still going when
// the next is due makes that tick skip. Monitors run on a small pool of threads.
//
// Thread safety: RunProbe is thread-safe. Prober is thread-safe; Start once, Stop is final.
#pragma once

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "base/clock.h"
#include "base/status.h"
#include "config/stack.h"
#include "tsdb/labels.h"
#include "tsdb/tsdb.h"

namespace steward::monitor {

struct ProbeContext {
  // Working directory of exec probes (the stack's directory); "" = the daemon's.
  std::string working_dir;
  // When set and true, a probe gives up early (Prober::Stop); an exec probe kills its group.
  const std::atomic<bool>* cancel = nullptr;
};

struct ProbeResult {
  bool success = false;
  double duration_seconds = 0;
  std::string error;                                  // why it failed; "" on success
  std::vector<std::pair<std::string, double>> extra;  // {"probe_http_status_code", 200}, ...
};

// Runs one probe of `monitor` now. See the contract above.
ProbeResult RunProbe(const config::Monitor& monitor, const ProbeContext& context);

// The `instance` label of a monitor: the url (http), the target (tcp, tls), the script of a
// string command (["/bin/sh", "-c", script]) or else command[0] (exec).
std::string ProbeInstance(const config::Monitor& monitor);
const char* ProbeKindLabel(config::ProbeKind kind);  // "http", "tcp", "exec", "tls"

// The last result of one monitor, for the API and CLI.
struct MonitorStatus {
  std::string name;
  config::ProbeKind kind = config::ProbeKind::kHttp;
  std::string instance;
  bool success = false;
  std::string error;
  WallTime last_run{};  // start of the last run; the epoch when it has not run yet
  double duration_seconds = 0;
};

struct ProberOptions {
  Clock* clock = nullptr;  // nullptr: RealClock. Wall time stamps samples; monotonic schedules.
  int threads = 8;         // probes running at once
  uint64_t jitter_seed = 0;
  // The probe runner; nullptr: RunProbe. A seam for tests.
  std::function<ProbeResult(const config::Monitor&, const ProbeContext&)> run;
};

class Prober {
 public:
  // db must outlive the prober.
  Prober(tsdb::Db* db, ProberOptions options);
  ~Prober();  // Stop()
  Prober(const Prober&) = delete;
  Prober& operator=(const Prober&) = delete;

  // Starts the scheduler and the worker threads.
  Status Start();
  // Stops at once: running probes are cancelled and their results dropped. Idempotent.
  void Stop();

  // Replaces the set of monitors (identity: the name). A monitor that stays keeps its schedule
  // unless its interval changed; if its series' labels changed, the old series are marked stale.
  // Removed monitors' series are marked stale. `working_dir` is passed to exec probes.
  void SetMonitors(std::vector<config::Monitor> monitors, std::string working_dir = "");

  // The last result of every current monitor, sorted by name.
  std::vector<MonitorStatus> Results() const;

  // Runs every monitor due at clock->Now() on the calling thread and returns how many ran. The
  // scheduler thread does this by itself; tests with a FakeClock call it instead of Start().
  int RunDue();

 private:
  struct Entry;
  struct Job {
    std::string name;
    uint64_t epoch = 0;   // the series identity the run writes to
    uint64_t run_id = 0;  // this dispatch
    config::Monitor spec;
    std::string working_dir;
  };

  void SchedulerLoop();
  void WorkerLoop();
  std::vector<Job> TakeDue(MonoTime now);  // requires mu_
  void Execute(const Job& job);
  void Record(const Job& job, const ProbeResult& result, WallTime started);
  void MarkStale(Entry& entry, int64_t t);  // requires mu_
  MonoTime FirstDue(const std::string& name, Duration interval) const;

  tsdb::Db* db_;
  ProberOptions options_;
  Clock* clock_;
  std::atomic<bool> cancel_{false};

  mutable std::mutex mu_;
  std::condition_variable wake_;  // scheduler: monitors changed or stopping
  std::condition_variable work_;  // workers: a job is queued or stopping
  std::map<std::string, std::unique_ptr<Entry>> entries_;  // guarded by mu_
  std::deque<Job> queue_;                                  // guarded by mu_
  std::string working_dir_;                                // guarded by mu_
  uint64_t next_epoch_ = 1;                                // guarded by mu_
  uint64_t next_run_id_ = 1;                               // guarded by mu_
  bool started_ = false;                                   // guarded by mu_
  bool stopping_ = false;                                  // guarded by mu_
  std::thread scheduler_;
  std::vector<std::thread> workers_;
};

}  // namespace steward::monitor
