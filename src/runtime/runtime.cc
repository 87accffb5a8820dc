#include "runtime/runtime.h"

#include <signal.h>
#include <unistd.h>

#include <fstream>
#include <optional>
#include <sstream>

#include <spdlog/spdlog.h>

#include "config/secret_refs.h"
#include "drivers/proc_fs.h"
#include "runtime/secret_env.h"
#include "supervisor/health.h"

namespace steward::runtime {

std::string ReplicaKey::ToString() const { return service + "/" + std::to_string(slot); }

struct Runtime::Managed {
  Managed(const config::Service& s, int slot, int64_t gen, int port)
      : service(s), key{s.name, slot, gen}, port(port), sup(s.health, s.restart) {}
  config::Service service;
  ReplicaKey key;
  int port;
  supervisor::ReplicaSupervisor sup;
  drivers::ReplicaHandle handle;     // pid 0 when no process runs
  int starts = 0;                    // processes started (first start included)
  std::string start_error;           // the last failed start, for StartReplica's caller
  std::string health_detail;
  bool health_inflight = false;
  MonoTime next_health{};
  int64_t started_at_ms = 0;
  int64_t rss_bytes = 0;
  // An unhealthy or over-memory replica being killed before its restart.
  bool killing = false;
  bool restart_after_kill = false;   // unhealthy path: start as soon as the old one is gone
  MonoTime kill_deadline{};
  std::string kill_reason;
};

namespace {

// The last lines of a replica's stderr log, quoted in errors so a failed start explains itself.
std::string LogTail(const std::string& dir, int lines) {
  std::ifstream in(dir + "/stderr.log", std::ios::binary);
  std::string all((std::istreambuf_iterator<char>(in)), {});
  if (all.size() > 4096) all = all.substr(all.size() - 4096);
  size_t pos = all.size();
  if (pos && all[pos - 1] == '\n') --pos;
  for (int n = 0; n < lines && pos != std::string::npos && pos > 0; ++n)
    pos = all.rfind('\n', pos - 1);
  std::string tail = all.substr(pos == std::string::npos ? 0 : pos);
  while (!tail.empty() && (tail[0] == '\n')) tail.erase(0, 1);
  while (!tail.empty() && tail.back() == '\n') tail.pop_back();
  return tail;
}

}  // namespace

Runtime::Runtime(RuntimeOptions options) : opt_(std::move(options)) {
  if (opt_.metrics) {
    restarts_ = &opt_.metrics->AddCounter("steward_replica_restarts_total",
                                          "Replica restarts by the supervisor.", {"service"});
    ready_ = &opt_.metrics->AddGauge("steward_replica_ready",
                                     "1 when the replica passes its health check.",
                                     {"service", "replica"});
    health_checks_ = &opt_.metrics->AddCounter("steward_health_checks_total",
                                               "Health checks run, by result.",
                                               {"service", "result"});
  }
  for (int i = 0; i < std::max(1, opt_.health_workers); ++i)
    workers_.emplace_back([this] { HealthWorker(); });
}

Runtime::~Runtime() {
  StopLoop();
  {
    std::lock_guard<std::mutex> l(mu_);
    stopping_ = true;
  }
  cv_.notify_all();
  for (auto& w : workers_) w.join();
}

void Runtime::StartLoop() {
  if (loop_.joinable()) return;
  loop_ = std::thread([this] { Loop(); });
}

void Runtime::StopLoop() {
  if (!loop_.joinable()) return;
  {
    std::lock_guard<std::mutex> l(mu_);
    stop_loop_ = true;
  }
  cv_.notify_all();
  loop_.join();
  stop_loop_ = false;
}

// Every process is started from this thread: PR_SET_PDEATHSIG fires when the thread that
// forked a replica exits, so starts must not come from short-lived apply threads.
void Runtime::Loop() {
  std::unique_lock<std::mutex> l(mu_);
  while (!stop_loop_) {
    l.unlock();
    Tick();
    l.lock();
    cv_.wait_for(l, opt_.tick, [this] { return stop_loop_ || wake_; });
    wake_ = false;
  }
}

std::string Runtime::LogDir(const std::string& service, int slot) const {
  return opt_.log_root + "/" + service + "/" + std::to_string(slot);
}

drivers::ReplicaSpec Runtime::SpecFor(const Managed& m) const {
  drivers::ReplicaSpec spec;
  spec.service = m.key.service;
  spec.slot = m.key.slot;
  spec.generation = m.key.generation;
  spec.argv.push_back(m.service.command);
  for (const auto& a : m.service.args) spec.argv.push_back(a);
  spec.env = opt_.base_env;
  for (const auto& [k, v] : m.service.env) spec.env[k] = v;
  spec.env["STEWARD_SERVICE"] = m.key.service;
  spec.env["STEWARD_REPLICA"] = std::to_string(m.key.slot);
  spec.working_dir = m.service.working_dir;
  spec.port = m.port;
  spec.log_dir = LogDir(m.key.service, m.key.slot);
  spec.memory_bytes = m.service.resources.memory_bytes;
  return spec;
}

// The spec with the service's secrets resolved and its secret files written; the plaintext
// lives only in the returned spec (and the child's environment).
StatusOr<drivers::ReplicaSpec> Runtime::StartSpecFor(const Managed& m) const {
  drivers::ReplicaSpec spec = SpecFor(m);
  if (config::ServiceSecrets(m.service).empty()) return spec;
  if (!opt_.secrets)
    return FailedPrecondition("service '" + m.service.name +
                              "' uses secrets, and this runtime has no secret store");
  RETURN_IF_ERROR(ResolveSecretEnv(m.service, *opt_.secrets, &spec.env));
  RETURN_IF_ERROR(WriteSecretFiles(m.service, *opt_.secrets));
  return spec;
}

Status Runtime::SpawnLocked(Managed& m) {
  MonoTime now = opt_.clock->Now();
  StatusOr<drivers::ReplicaSpec> spec = StartSpecFor(m);
  auto h = spec.ok() ? opt_.driver->Start(*spec) : StatusOr<drivers::ReplicaHandle>(spec.status());
  ++m.starts;
  if (!h.ok()) {
    m.start_error = h.status().message();
    m.sup.OnStartFailed(now, m.start_error);
    spdlog::warn("msg=\"start failed\" replica={} error=\"{}\"", m.key.ToString(), m.start_error);
    return h.status();
  }
  m.handle = *h;
  m.start_error.clear();
  m.started_at_ms = ToUnixMillis(opt_.clock->WallNow());
  m.rss_bytes = 0;  // sampled again on the next tick
  m.next_health = now;  // check at once; start_period keeps early failures from counting
  m.sup.OnStarted(now);
  if (m.starts > 1 && restarts_) restarts_->WithLabels({m.key.service}).Inc();
  // StartReplica reports the first start itself; later ones only Tick() can report.
  if (m.starts > 1) restarted_.push_back({m.key, m.handle, m.port});
  spdlog::info("msg=\"replica started\" replica={} generation={} pid={} port={}",
               m.key.ToString(), m.key.generation, h->pid, m.port);
  return Status::OK();
}

Status Runtime::StartReplica(const config::Service& service, int slot, int64_t generation,
                             int port) {
  ReplicaKey key{service.name, slot, generation};
  {
    std::lock_guard<std::mutex> l(mu_);
    if (replicas_.count(key)) return AlreadyExists("replica " + key.ToString() + " is running");
    replicas_[key] = std::make_unique<Managed>(service, slot, generation, port);
    wake_ = true;
  }
  cv_.notify_all();
  if (!loop_.joinable()) Tick();
  // The loop thread makes the first attempt; wait for its outcome.
  MonoTime deadline = opt_.clock->Now() + Duration(10000);
  while (opt_.clock->Now() < deadline) {
    {
      std::lock_guard<std::mutex> l(mu_);
      auto it = replicas_.find(key);
      if (it == replicas_.end()) return FailedPrecondition("replica " + key.ToString() + " was stopped while starting");
      Managed& m = *it->second;
      if (m.handle.pid) {
        if (opt_.on_started) {
          drivers::ReplicaHandle h = m.handle;
          int p = m.port;
          mu_.unlock();
          opt_.on_started(key, h, p);
          mu_.lock();
        }
        return Status::OK();
      }
      if (m.starts > 0 && !m.start_error.empty())
        return IOError("start " + key.ToString() + ": " + m.start_error);
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  return DeadlineExceeded("start " + key.ToString() + ": the supervisor loop did not start it");
}

Status Runtime::WaitReady(const ReplicaKey& key, Duration timeout) {
  MonoTime deadline = opt_.clock->Now() + timeout;
  int starts_at_begin = -1;
  while (true) {
    std::string why;
    {
      std::lock_guard<std::mutex> l(mu_);
      auto it = replicas_.find(key);
      if (it == replicas_.end()) return FailedPrecondition("replica " + key.ToString() + " was stopped");
      Managed& m = *it->second;
      if (starts_at_begin < 0) starts_at_begin = m.starts;
      if (m.sup.Ready()) return Status::OK();
      using supervisor::ReplicaState;
      ReplicaState s = m.sup.state();
      bool died = m.starts > starts_at_begin || s == ReplicaState::kBackoff ||
                  s == ReplicaState::kCrashLoop || s == ReplicaState::kFailed ||
                  s == ReplicaState::kStopped || s == ReplicaState::kUnhealthy;
      if (died) why = m.sup.last_reason().empty() ? std::string(m.sup.StateName()) : m.sup.last_reason();
      else if (opt_.clock->Now() >= deadline)
        why = "not ready after " + FormatDuration(timeout) +
              (m.health_detail.empty() ? "" : " (health check: " + m.health_detail + ")");
    }
    if (!why.empty()) {
      std::string tail = LogTail(LogDir(key.service, key.slot), 5);
      // A replica may print what it was given; the error goes to the CLI and the history.
      if (opt_.masking_values && !tail.empty())
        tail = secrets::MaskValues(tail, opt_.masking_values());
      return Unavailable("replica " + key.ToString() + " " + why +
                         (tail.empty() ? "" : "; its stderr ends with:\n" + tail));
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
}

Status Runtime::StopReplica(const ReplicaKey& key, const drivers::ReplicaHandle& fallback) {
  drivers::ReplicaHandle handle = fallback;
  int signal = SIGTERM;
  Duration grace(10000);
  std::optional<config::Service> service;  // when managed, for its secret files
  bool last_of_service = true;
  {
    std::lock_guard<std::mutex> l(mu_);
    auto it = replicas_.find(key);
    if (it != replicas_.end()) {
      it->second->sup.OnStopRequested();
      handle = it->second->handle;
      signal = it->second->service.stop_signal;
      grace = it->second->service.stop_grace;
      // A replica stopped on purpose is not "not ready": its series ends.
      if (ready_) ready_->Remove({key.service, std::to_string(key.slot)});
      service = std::move(it->second->service);
      replicas_.erase(it);
      for (const auto& [k, m] : replicas_)
        if (k.service == key.service) last_of_service = false;
    }
  }
  Status st = handle.pid == 0
                  ? Status::OK()
                  : opt_.driver->Stop(handle, signal, grace).Annotate("stop " + key.ToString());
  // After the stop: the file is the replica's until it is gone.
  if (service && last_of_service) RemoveSecretFiles(*service, opt_.state_dir);
  return st;
}

void Runtime::UpdateService(const config::Service& service) {
  std::lock_guard<std::mutex> l(mu_);
  for (auto& [key, m] : replicas_) {
    if (key.service != service.name) continue;
    m->service = service;
    m->sup.UpdateSettings(service.health, service.restart);
  }
}

Status Runtime::StopAll() {
  std::vector<ReplicaKey> keys;
  {
    std::lock_guard<std::mutex> l(mu_);
    for (const auto& [k, m] : replicas_) keys.push_back(k);
  }
  std::vector<std::thread> threads;
  std::mutex err_mu;
  Status first;
  for (const auto& k : keys)
    threads.emplace_back([&, k] {
      Status st = StopReplica(k);
      std::lock_guard<std::mutex> l(err_mu);
      if (!st.ok() && first.ok()) first = st;
    });
  for (auto& t : threads) t.join();
  return first;
}

std::vector<ReplicaStatus> Runtime::Snapshot() const {
  std::lock_guard<std::mutex> l(mu_);
  std::vector<ReplicaStatus> out;
  for (const auto& [key, m] : replicas_) {
    ReplicaStatus s;
    s.key = key;
    s.pid = m->handle.pid;
    s.port = m->port;
    s.state = std::string(m->sup.StateName());
    s.ready = m->sup.Ready();
    s.restarts = m->sup.restarts();
    s.last_reason = m->sup.last_reason();
    s.health = m->health_detail;
    s.started_at_ms = m->started_at_ms;
    s.rss_bytes = m->rss_bytes;
    out.push_back(std::move(s));
  }
  return out;
}

StatusOr<std::vector<drivers::ObservedReplica>> Runtime::Observe() {
  ASSIGN_OR_RETURN(auto observed, opt_.driver->Observe());
  std::lock_guard<std::mutex> l(mu_);
  for (const auto& [key, m] : replicas_) {
    bool seen = false;
    for (const auto& o : observed)
      if (o.service == key.service && o.slot == key.slot && o.generation == key.generation &&
          !o.zombie)
        seen = true;
    // Managed but between processes (backoff, crash loop): present, so no one double-starts it.
    if (!seen)
      observed.push_back({key.service, key.slot, key.generation, m->handle.pid,
                          m->handle.start_ticks, m->port, 0, false});
  }
  return observed;
}

void Runtime::Tick() {
  MonoTime now = opt_.clock->Now();
  std::vector<drivers::ExitEvent> exits = opt_.driver->Reap();
  std::unique_lock<std::mutex> l(mu_);
  for (const auto& e : exits) {
    for (auto& [key, m] : replicas_) {
      if (m->handle.pid != e.pid) continue;
      m->handle = {};
      if (m->killing) {
        m->killing = false;
        spdlog::warn("msg=\"replica killed\" replica={} reason=\"{}\"", key.ToString(),
                     m->kill_reason);
        if (m->restart_after_kill) {
          // The supervisor already decided this restart (kRestartUnhealthy): start it now.
          m->restart_after_kill = false;
          SpawnLocked(*m).IgnoreError();
        } else {
          m->sup.OnKilled(now, m->kill_reason);
        }
      } else {
        m->sup.OnExited(now, e.exit_code, e.signal);
        spdlog::warn("msg=\"replica exited\" replica={} pid={} how=\"{}\" state={}",
                     key.ToString(), e.pid, e.description, m->sup.StateName());
      }
    }
  }
  bool sample = now >= next_sample_;
  if (sample) next_sample_ = now + Duration(1000);
  for (auto& [key, mp] : replicas_) {
    Managed& m = *mp;
    if (m.killing) {
      if (now >= m.kill_deadline && m.handle.pid)
        opt_.driver->Signal(m.handle, SIGKILL).IgnoreError();  // again next tick if it failed
      continue;
    }
    switch (m.sup.Tick(now)) {
      case supervisor::Decision::kStart:
        SpawnLocked(m).IgnoreError();  // the supervisor has recorded a failed start
        break;
      case supervisor::Decision::kRestartUnhealthy:
        if (m.handle.pid) {
          m.killing = true;
          m.restart_after_kill = true;
          m.kill_reason = m.sup.last_reason();
          m.kill_deadline = now + m.service.stop_grace;
          opt_.driver->Signal(m.handle, m.service.stop_signal).IgnoreError();
        } else {
          SpawnLocked(m).IgnoreError();
        }
        break;
      case supervisor::Decision::kNone: break;
    }
    if (m.restart_after_kill) continue;
    if (m.handle.pid && (sample || m.rss_bytes == 0)) {
      auto rss = drivers::ReadRssBytes(m.handle.pid);
      m.rss_bytes = rss.ok() ? *rss : 0;
      int64_t limit = m.service.resources.memory_bytes;
      if (limit > 0 && m.rss_bytes > limit) {
        m.killing = true;
        m.kill_reason = "memory " + std::to_string(m.rss_bytes >> 20) + "Mi over its limit " +
                        std::to_string(limit >> 20) + "Mi";
        m.kill_deadline = now;
        opt_.driver->Signal(m.handle, SIGKILL).IgnoreError();
        continue;
      }
    }
    if (m.handle.pid && m.service.health.kind != config::HealthCheckKind::kNone &&
        !m.health_inflight && now >= m.next_health) {
      m.health_inflight = true;
      // Until it is ready, check often so readiness is seen quickly (like Docker's
      // start_interval); afterwards at the configured interval.
      m.next_health = now + (m.sup.Ready() ? m.service.health.interval
                                           : std::min(m.service.health.interval, Duration(100)));
      health_queue_.push_back({key, m.service.health, m.port, SpecFor(m).env, m.handle.pid});
      cv_.notify_all();
    }
    if (ready_) ready_->WithLabels({key.service, std::to_string(key.slot)}).Set(m.sup.Ready());
  }
  std::vector<std::string> rotate;
  if (now >= next_rotate_) {
    next_rotate_ = now + Duration(5000);
    for (const auto& [key, m] : replicas_) rotate.push_back(LogDir(key.service, key.slot));
  }
  std::vector<Restarted> restarted;
  restarted.swap(restarted_);
  l.unlock();
  // Rotation copies up to log_max_bytes per file: never while holding the lock that status,
  // health results and starts need.
  for (const auto& dir : rotate)
    drivers::RotateLogs(dir, opt_.log_max_bytes, opt_.log_keep).IgnoreError();
  if (opt_.on_started)
    for (const auto& r : restarted) opt_.on_started(r.key, r.handle, r.port);
}

void Runtime::HealthWorker() {
  std::unique_lock<std::mutex> l(mu_);
  while (true) {
    cv_.wait(l, [this] { return stopping_ || !health_queue_.empty(); });
    if (stopping_) return;
    HealthJob job = std::move(health_queue_.front());
    health_queue_.pop_front();
    l.unlock();
    supervisor::HealthResult r = supervisor::RunHealthCheck(job.check, job.port, job.env);
    if (health_checks_)
      health_checks_->WithLabels({job.key.service, r.ok ? "success" : "failure"}).Inc();
    l.lock();
    auto it = replicas_.find(job.key);
    if (it == replicas_.end()) continue;
    Managed& m = *it->second;
    m.health_inflight = false;
    if (m.handle.pid != job.pid || m.killing) continue;  // a result about an older process
    m.health_detail = r.detail;
    m.sup.OnHealthResult(opt_.clock->Now(), r.ok, r.detail);
  }
}

}  // namespace steward::runtime
