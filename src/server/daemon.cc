#include "server/daemon.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <random>
#include <set>
#include <sstream>

#include <spdlog/spdlog.h>

#include "alerting/incidents.h"
#include "base/hash.h"
#include "base/sha256.h"
#include "base/version.h"
#include "config/secret_refs.h"
#include "config/stack_json.h"
#include "plan/plan.h"
#include "report/dora.h"
#include "report/dora_metrics.h"
#include "server/alerting.h"
#include "server/auth.h"
#include "server/deploy_controller.h"
#include "server/http_internal.h"
#include "server/monitoring.h"
#include "server/notifier.h"
#include "server/backups.h"
#include "server/drills.h"
#include "server/pipelines.h"
#include "server/remediation.h"

namespace steward::server {
namespace fs = std::filesystem;

std::string InstanceId(const std::string& state_dir) {
  // Stable, short, and distinct per state directory (docs/formats/state.md).
  return Fnv1a64Hex(state_dir).substr(0, 12);
}

nlohmann::json HistoryJson(const std::vector<state::HistoryEntry>& entries) {
  nlohmann::json out = nlohmann::json::array();
  for (const auto& e : entries)
    out.push_back({{"id", e.id},
                   {"started_at", FormatRfc3339(FromUnixMillis(e.started_at_ms))},
                   {"finished_at",
                    e.finished_at_ms ? FormatRfc3339(FromUnixMillis(e.finished_at_ms)) : ""},
                   {"user", e.user},
                   {"host", e.host},
                   {"command", e.command},
                   {"result", e.result},
                   {"error", e.error},
                   {"changes", nlohmann::json::parse(e.changes_json, nullptr, false)}});
  return out;
}

StatusOr<std::string> LoadOrCreateToken(const std::string& state_dir) {
  std::string path = state_dir + "/api.token";
  std::ifstream in(path);
  std::string token;
  if (in && std::getline(in, token) && token.size() >= 32) return token;
  unsigned char raw[32];
  std::ifstream rnd("/dev/urandom", std::ios::binary);
  if (!rnd.read(reinterpret_cast<char*>(raw), sizeof raw)) return IOError("read /dev/urandom");
  token = HexEncode(raw, sizeof raw);
  std::string tmp = path + ".tmp";
  int fd = open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  if (fd < 0) return ErrnoError("create " + tmp, errno);
  std::string line = token + "\n";
  bool ok = write(fd, line.data(), line.size()) == static_cast<ssize_t>(line.size()) &&
            fsync(fd) == 0;
  close(fd);
  if (!ok || rename(tmp.c_str(), path.c_str()) != 0) return ErrnoError("write " + path, errno);
  return token;
}

Daemon::Daemon(DaemonOptions options) : opt_(std::move(options)) {
  dora_ = std::make_unique<report::DoraMetrics>(&metrics_);
  applies_ = &metrics_.AddCounter("steward_applies_total",
                                  "Applies run by this daemon, by result.", {"result"});
  apply_seconds_ = &metrics_.AddHistogram("steward_apply_duration_seconds",
                                          "Duration of applies.", {}, metrics::DefaultBuckets());
  reconcile_seconds_ = &metrics_.AddHistogram("steward_reconcile_duration_seconds",
                                              "Duration of one reconcile pass.", {},
                                              metrics::DefaultBuckets());
  fs_avail_ = &metrics_.AddGauge("steward_filesystem_avail_bytes",
                                 "Bytes free to unprivileged users on the state directory's "
                                 "filesystem.",
                                 {"path"});
  fs_size_ = &metrics_.AddGauge("steward_filesystem_size_bytes",
                                "Size of the state directory's filesystem.", {"path"});
  drift_repairs_ = &metrics_.AddCounter(
      "steward_drift_repairs_total", "Reconcile passes that found drift and repaired it.", {});
  http_requests_ = &metrics_.AddCounter("steward_http_requests_total",
                                        "API requests served, by path and status code.",
                                        {"path", "code"});
  query_gate_ = std::make_unique<QueryGate>(
      opt_.query_max_concurrency, QueryQueueCap(opt_.query_max_concurrency),
      &metrics_.AddGauge("steward_queries_running", "PromQL queries being evaluated.")
           .WithLabels({}),
      &metrics_.AddGauge("steward_queries_waiting",
                         "PromQL queries waiting for a slot (--query-max-concurrency).")
           .WithLabels({}));
  metrics_.AddGauge("steward_queries_concurrent_max", "--query-max-concurrency.")
      .WithLabels({})
      .Set(opt_.query_max_concurrency);
  metrics_.AddGauge("steward_build_info", "Steward's version.", {"version"})
      .WithLabels({std::string(kStewardVersion)})
      .Set(1);
}

Daemon::~Daemon() {
  Shutdown();
  if (reconcile_thread_.joinable()) reconcile_thread_.join();
  StopHttp();
  if (pipelines_) pipelines_->Stop();  // cancels runs; their deploy steps go through deploys_
  if (backups_) backups_->Stop();      // waits for a running backup
  if (drills_) drills_->Stop();        // cancels a running verify
  if (deploys_) deploys_->Stop(opt_.stop_replicas_on_exit);
  if (alerting_) alerting_->Stop();
  if (runbooks_) runbooks_->Stop();  // waits for a running action; before the runtime stops
  if (notifier_) notifier_->Stop();
  if (monitoring_) monitoring_->Stop();
  if (runtime_) {
    if (opt_.stop_replicas_on_exit) runtime_->StopAll().IgnoreError();
    runtime_->StopLoop();
  }
  if (daemon_lock_fd_ >= 0) {
    unlink((opt_.state_dir + "/daemon.json").c_str());
    close(daemon_lock_fd_);
  }
}

Status Daemon::Start() {
  // Before any side effect: an API that would be open to the network without TLS is refused.
  RETURN_IF_ERROR(CheckApiListen(opt_.listen_host, opt_.tls_cert, opt_.tls_key,
                                 opt_.insecure_listen));
  std::error_code ec;
  fs::create_directories(opt_.state_dir, ec);
  if (ec) return IOError("create state directory " + opt_.state_dir + ": " + ec.message());
  std::string lock_path = opt_.state_dir + "/daemon.lock";
  daemon_lock_fd_ = open(lock_path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600);
  if (daemon_lock_fd_ < 0) return ErrnoError("open " + lock_path, errno);
  if (flock(daemon_lock_fd_, LOCK_EX | LOCK_NB) != 0) {
    close(daemon_lock_fd_);
    daemon_lock_fd_ = -1;
    std::ifstream in(opt_.state_dir + "/daemon.json");
    std::string info((std::istreambuf_iterator<char>(in)), {});
    return FailedPrecondition("a steward daemon is already running for " + opt_.state_dir +
                              (info.empty() ? "" : " (" + info + ")") +
                              "; stop it with `steward down` or talk to it");
  }
  ASSIGN_OR_RETURN(store_, state::OpenSqliteStateStore(opt_.state_dir, RealClock::Get()));
  ASSIGN_OR_RETURN(incidents_, alerting::IncidentManager::Open(store_.get(), RealClock::Get(),
                                                               {}, &metrics_));
  ASSIGN_OR_RETURN(token_, LoadOrCreateToken(opt_.state_dir));
  instance_ = InstanceId(opt_.state_dir);
  std::ifstream(opt_.state_dir + "/project") >> project_;

  drivers::ProcessDriverOptions dopt;
  dopt.instance = instance_;
  dopt.clock = RealClock::Get();
  if (!opt_.self_dir.empty()) dopt.extra_path.push_back(opt_.self_dir);
  driver_ = drivers::NewProcessDriver(dopt);

  secrets_ = std::make_unique<runtime::StateDirSecrets>(store_.get(), opt_.state_dir,
                                                        RealClock::Get());
  runtime::RuntimeOptions ropt;
  ropt.driver = driver_.get();
  ropt.secrets = secrets_.get();
  ropt.masking_values = [s = secrets_.get()] { return s->MaskingValues(); };
  ropt.state_dir = opt_.state_dir;
  ropt.clock = RealClock::Get();
  ropt.metrics = &metrics_;
  ropt.log_root = opt_.state_dir + "/logs";
  for (const char* k : {"PATH", "HOME", "LANG", "LC_ALL", "TZ", "USER", "TMPDIR"})
    if (const char* v = getenv(k)) ropt.base_env[k] = v;
  if (!ropt.base_env.count("PATH")) ropt.base_env["PATH"] = "/usr/local/bin:/usr/bin:/bin";
  state::StateStore* store = store_.get();
  ropt.on_started = [store](const runtime::ReplicaKey& key, const drivers::ReplicaHandle& h,
                            int port) {
    state::ReplicaRecord rec{key.service, key.slot, key.generation, h.pid, h.start_ticks, port,
                             ToUnixMillis(RealClock::Get()->WallNow())};
    Status st = store->PutReplica(rec);
    if (!st.ok()) spdlog::warn("msg=\"record replica\" replica={} error=\"{}\"", key.ToString(),
                               st.message());
  };
  runtime_ = std::make_unique<runtime::Runtime>(ropt);
  runtime_->StartLoop();
  RETURN_IF_ERROR(KillLeftovers());
  remediation_ = std::make_unique<DaemonRemediation>(this);
  runbooks_ = StartRunbookEngine(remediation_.get(), incidents_.get(), &metrics_, RecordedStack());
  deploys_ = std::make_unique<DeployController>(this);
  RETURN_IF_ERROR(deploys_->Start());
  StartPipelines();
  StartBackups();
  drills_ = StartDrillService(opt_.state_dir, store_.get(), &metrics_);
  RETURN_IF_ERROR(StartHttp());  // binds, starts monitoring (it needs the port), then listens
  RETURN_IF_ERROR(PublishDiscovery());
  if (opt_.reconcile) reconcile_thread_ = std::thread([this] { ReconcileLoop(); });
  spdlog::info("msg=\"daemon started\" pid={} listen={}:{} state={}", getpid(), opt_.listen_host,
               bound_port_, opt_.state_dir);
  return Status::OK();
}

// Replicas of this state directory still running from a daemon that died (its children got
// SIGKILL, but their own children or a replica that ignored nothing may survive) are stopped;
// the reconcile loop then starts fresh ones from the recorded specs.
Status Daemon::KillLeftovers() {
  auto stopped = drivers::StopMarked(*driver_, instance_, Duration(5000));
  if (!stopped.ok())
    spdlog::warn("msg=\"stopping leftover replicas\" error=\"{}\"", stopped.status().message());
  else if (*stopped > 0)
    spdlog::warn("msg=\"stopped leftover replicas of a previous daemon\" count={}", *stopped);
  ASSIGN_OR_RETURN(auto replicas, store_->ListReplicas());
  for (const auto& r : replicas)
    RETURN_IF_ERROR(store_->DeleteReplica(r.service, r.slot, r.generation));
  return Status::OK();
}

Status Daemon::StartMonitoring() {
  if (!opt_.monitoring) return Status::OK();
  config::Stack recorded;
  ASSIGN_OR_RETURN(auto doc, store_->GetDocument("monitoring"));
  if (doc) {
    Status st = ApplyMonitoringDocument(nlohmann::json::parse(*doc, nullptr, false), &recorded);
    if (!st.ok()) spdlog::error("msg=\"recorded monitoring config ignored\" error=\"{}\"",
                                st.message());
  }
  MonitoringOptions mo;
  mo.state_dir = opt_.state_dir;
  mo.self_port = bound_port_;
  // Scrape ourselves where we listen; a wildcard listener is reachable on loopback.
  const std::string& h = opt_.listen_host;
  mo.self_host = (h.empty() || h == "0.0.0.0" || h == "::" || h == "[::]") ? "127.0.0.1" : h;
  mo.metrics = &metrics_;
  mo.tsdb_dir = opt_.data_dir;
  mo.collect = opt_.data_dir.empty();
  auto mon = std::make_unique<Monitoring>(mo);
  if (Status st = mon->Start(recorded.monitoring); !st.ok()) {
    if (!opt_.data_dir.empty()) return st.Annotate("open the TSDB in " + opt_.data_dir);
    // The services matter more than their metrics: run without monitoring (the API answers
    // 503 saying why) rather than refuse to supervise.
    spdlog::error("msg=\"monitoring is off: the metrics store could not start\" error=\"{}\"",
                  st.message());
    monitoring_error_ = st;
    return Status::OK();
  }
  monitoring_ = std::move(mon);
  UpdateMonitoring();
  return StartAlerting();
}

Status Daemon::StartAlerting() {
  const std::string url = "http://" + opt_.listen_host + ":" + std::to_string(bound_port_);
  auto recorded = RecordedStack();
  config::Alerting cfg = recorded.ok() ? recorded->alerting : config::Alerting{};
  NotifierOptions no;
  no.state_dir = opt_.state_dir;
  no.metrics = &metrics_;
  no.external_url = cfg.external_url.empty() ? url : cfg.external_url;
  notifier_ = std::make_unique<Notifier>(no);
  Status started = notifier_->Start(cfg, [this](const alerting::Notification& n) {
    RecordNotified(n);
  });
  if (!started.ok()) {
    // The recorded receivers no longer build (or silences.json is damaged): notify nobody
    // rather than lose the rules; the reason is logged and the next good apply reloads.
    spdlog::error("msg=\"notifier not started with the recorded config\" error=\"{}\"",
                  started.message());
    notifier_ = std::make_unique<Notifier>(no);
    RETURN_IF_ERROR(notifier_->Start(config::Alerting{}, nullptr));
  }
  AlertingOptions ao;
  ao.db = monitoring_->db();
  ao.store = store_.get();
  ao.metrics = &metrics_;
  ao.external_url = no.external_url;
  ao.limits.max_samples = opt_.query_max_samples;
  ao.query_timeout_ms = opt_.query_timeout.count();
  alerting_ = std::make_unique<AlertingService>(ao);
  RETURN_IF_ERROR(alerting_->Start([this](std::vector<alerting::Alert> a) {
    ReceiveAlerts(std::move(a));
  }));
  if (Status st = ReloadRules(); !st.ok())
    spdlog::error("msg=\"rules not loaded\" error=\"{}\"", st.message());
  return Status::OK();
}

Status Daemon::ReloadRules() {
  if (!alerting_) return FailedPrecondition("alerting is off: monitoring is not running");
  RuleSources sources;
  sources.evaluation_interval_ms = opt_.evaluation_interval.count();
  sources.files = opt_.rule_files;
  auto recorded = RecordedStack();
  if (!recorded.ok()) return recorded.status().Annotate("read the recorded stack for its rules");
  for (const std::string& f : recorded->rule_files) sources.files.push_back(f);
  sources.files = ExpandRuleFiles(sources.files, recorded->dir.empty() ? fs::current_path().string()
                                                                       : recorded->dir);
  if (recorded->alerting.declared) {
    sources.evaluation_interval_ms = recorded->alerting.evaluation_interval.count();
    sources.external_labels = recorded->alerting.external_labels;
  }
  sources.slos = recorded->slos;
  // `serve --data-dir` serves a store nobody supervises or scrapes: only the rules it is given.
  sources.builtin = opt_.data_dir.empty();
  if (incidents_) {
    Status st = incidents_->SetThresholds(recorded->alerting.incident_min_severity,
                                          recorded->alerting.incident_reopen_window);
    if (!st.ok()) spdlog::warn("msg=\"incident settings\" error=\"{}\"", st.message());
  }
  Status notifier = notifier_ ? notifier_->Reload(recorded->alerting) : Status::OK();
  auto loaded = alerting_->Load(sources);
  if (!loaded.ok()) return loaded.status();
  if (!notifier.ok())
    return notifier.Annotate("the alerting receivers were not reloaded; the previous ones keep "
                             "running");
  return Status::OK();
}

void Daemon::ReceiveAlerts(std::vector<alerting::Alert> alerts) {
  if (alerts.empty()) return;
  int64_t now = ToUnixMillis(RealClock::Get()->WallNow());
  if (incidents_) {
    Status st = incidents_->OnAlerts(alerts, now);
    if (!st.ok()) spdlog::warn("msg=\"incidents\" error=\"{}\"", st.message());
  }
  if (runbooks_) runbooks_->OnAlerts(alerts, now);  // after incidents: runs land on them
  if (notifier_) notifier_->Put(std::move(alerts));
}

// Each incident whose alerts a notification carries gets a "notified" entry on its timeline.
void Daemon::RecordNotified(const alerting::Notification& n) {
  if (!incidents_) return;
  std::set<int64_t> seen;
  for (const auto& a : n.alerts) {
    auto id = incidents_->IncidentForAlert(a.Fingerprint());
    if (!id || !seen.insert(*id).second) continue;
    size_t firing = 0;
    for (const auto& b : n.alerts) firing += !b.ResolvedAt(n.now_ms);
    Status st = incidents_->RecordNotified(
        *id, n.receiver,
        fmt::format("{} firing, {} resolved alert(s) sent to {}", firing, n.alerts.size() - firing,
                    n.receiver));
    if (!st.ok()) spdlog::warn("msg=\"incident timeline\" error=\"{}\"", st.message());
  }
}

void Daemon::UpdateMonitoring() {
  if (!monitoring_) return;
  // Held across reading and handing over, so an older read never lands after a newer one.
  std::lock_guard<std::mutex> l(monitoring_update_mu_);
  auto recorded = RecordedStack();
  if (!recorded.ok()) {
    spdlog::warn("msg=\"monitoring update\" error=\"{}\"", recorded.status().message());
    return;
  }
  monitoring_->Update(*recorded, runtime_->Snapshot());
}

Status Daemon::PublishDiscovery() {
  const bool tls = !opt_.tls_cert.empty();
  nlohmann::json j = {{"pid", getpid()},
                      {"listen", opt_.listen_host + ":" + std::to_string(bound_port_)},
                      {"host", opt_.listen_host},
                      {"port", bound_port_},
                      {"scheme", tls ? "https" : "http"},
                      {"started_at", FormatRfc3339(RealClock::Get()->WallNow())},
                      {"version", kStewardVersion}};
  // Clients on this machine verify the server with this file: the CA given, else the
  // certificate itself (pinned). Absolute, since clients run from anywhere.
  if (tls)
    j["tls_ca"] = fs::absolute(opt_.tls_ca.empty() ? opt_.tls_cert : opt_.tls_ca)
                      .lexically_normal()
                      .string();
  std::string path = opt_.state_dir + "/daemon.json", tmp = path + ".tmp";
  {
    std::ofstream out(tmp, std::ios::trunc);
    out << j.dump() << "\n";
    if (!out) return IOError("write " + tmp);
  }
  if (rename(tmp.c_str(), path.c_str()) != 0) return ErrnoError("rename " + tmp, errno);
  return Status::OK();
}

void Daemon::Shutdown() {
  shutdown_ = true;
  query_gate_->Close();  // running queries stop at their next check; none starts
  wait_cv_.notify_all();
}

void Daemon::Wait() {
  std::unique_lock<std::mutex> l(wait_mu_);
  wait_cv_.wait(l, [this] { return shutdown_.load(); });
}

std::string Daemon::Project() const {
  std::lock_guard<std::mutex> l(project_mu_);
  return project_;
}

StatusOr<config::Stack> Daemon::RecordedStack() {
  ASSIGN_OR_RETURN(auto records, store_->ListServices());
  config::Stack stack;
  stack.project = Project();
  for (const auto& r : records) {
    auto s = config::ServiceFromJson(
        nlohmann::json::parse(r.spec_json, nullptr, /*allow_exceptions=*/false));
    if (!s.ok()) return Corruption("recorded spec of '" + r.name + "': " + s.status().message());
    stack.services.push_back(std::move(*s));
  }
  // A damaged monitoring document must not stop the services' drift repair: it is logged
  // (once per pass) and the stack goes on without monitoring sections.
  auto doc = store_->GetDocument("monitoring");
  Status st = doc.ok() ? Status::OK() : doc.status();
  if (st.ok() && *doc)
    st = ApplyMonitoringDocument(nlohmann::json::parse(**doc, nullptr, false), &stack);
  if (!st.ok())
    spdlog::error("msg=\"recorded monitoring config ignored; the next apply rewrites it\" "
                  "error=\"{}\"", st.message());
  return stack;
}

// A stack from a user (plan, apply, the watched file) carries references without versions:
// they get the current ones here, so a rotation since the last apply is a change. Recorded
// specs keep the versions they ran with: the reconcile loop repairs drift, it never rolls a
// service for a rotation nobody applied. An unknown secret stops the plan, naming it.
namespace {
Status StampSecretVersions(runtime::StateDirSecrets& secrets, config::Stack* stack) {
  std::vector<config::Diagnostic> diags;
  for (config::Service& s : stack->services) {
    if (!s.secret_versions.empty()) continue;
    std::vector<config::Diagnostic> more = config::StampServiceSecretVersions(
        &s, [&secrets](const std::string& name) { return secrets.CurrentVersion(name); });
    diags.insert(diags.end(), more.begin(), more.end());
  }
  return config::DiagnosticsStatus(diags);
}
}  // namespace

StatusOr<plan::Plan> Daemon::Plan(const config::Stack* desired) {
  plan::PlanInputs in;
  std::optional<config::Stack> stamped;
  if (desired && secrets_) {
    stamped = *desired;
    RETURN_IF_ERROR(StampSecretVersions(*secrets_, &*stamped));
    desired = &*stamped;
  }
  // The live releases' env overrides are part of what the stack asks for (deploy_controller.h).
  std::optional<config::Stack> with_releases;
  if (desired && deploys_) {
    with_releases = *desired;
    deploys_->OverlayReleases(&*with_releases);
    desired = &*with_releases;
  }
  in.desired = desired;
  ASSIGN_OR_RETURN(in.recorded_services, store_->ListServices());
  ASSIGN_OR_RETURN(in.recorded_replicas, store_->ListReplicas());
  ASSIGN_OR_RETURN(in.observed, runtime_->Observe());
  ASSIGN_OR_RETURN(plan::Plan p, plan::ComputePlan(in));
  // A deploy runs two generations of its service at once: not drift; the deploy records the
  // outcome when it ends.
  if (deploys_)
    std::erase_if(p.changes, [this](const plan::Change& c) { return deploys_->Busy(c.service); });
  return p;
}

StatusOr<apply::ApplyReport> Daemon::Apply(const config::Stack* desired, const Requester& who,
                                           Duration lock_timeout,
                                           const apply::ProgressFn& progress) {
  std::string command = who.command + " (pid " + std::to_string(who.pid) + " " + who.user + "@" +
                        who.host + ")";
  ASSIGN_OR_RETURN(auto lock, LockForApply(command, lock_timeout));
  std::lock_guard<std::mutex> g(apply_mu_);
  RETURN_IF_ERROR(store_->MarkInterruptedHistory());
  if (desired && !desired->project.empty() && desired->project != Project()) {
    std::lock_guard<std::mutex> pl(project_mu_);
    project_ = desired->project;
    // Kept beside the state so that status names the project after a daemon restart.
    std::ofstream(opt_.state_dir + "/project", std::ios::trunc) << project_ << "\n";
  }
  // Monitoring is not a resource of the plan: the new scrape configs and monitors take effect
  // with this apply, whatever else changes.
  RETURN_IF_ERROR(store_->PutDocument(
      "monitoring", desired ? MonitoringDocument(*desired).dump() : std::string("{}")));
  LoadRunbooks(runbooks_.get(), desired);
  if (desired && !desired->path.empty()) {
    // Pipelines are read from the stack file itself (they are not part of the plan), and the
    // path is kept so that the next daemon loads them at start.
    RETURN_IF_ERROR(store_->PutDocument(
        "pipelines", nlohmann::json{{"stack_file", desired->path}}.dump()));
    if (Status st = pipelines_->Load(desired->path); !st.ok()) progress("pipelines", st.message());
  }
  // Backups are not resources of the plan: their schedules follow the stack from this apply.
  if (backups_) {
    if (Status st = backups_->Apply(desired ? *desired : config::Stack{}); !st.ok())
      progress("backups", st.message());
  }
  if (drills_) {
    if (Status st = drills_->Apply(desired ? *desired : config::Stack{}); !st.ok())
      progress("drills", st.message());
  }
  if (alerting_) {
    // Rules are not resources of the plan either; a broken set leaves the old rules running
    // and is reported with the apply (`steward plan` and `rules check` catch it earlier).
    if (Status st = ReloadRules(); !st.ok()) progress("rules", st.message());
  }
  ASSIGN_OR_RETURN(plan::Plan p, Plan(desired));
  if (p.empty()) {
    UpdateMonitoring();
    progress("", "no changes: what runs matches the stack");
    RETURN_IF_ERROR(WaitForStartingReplicas(progress));
    if (deploys_) deploys_->SyncIngress();
    return apply::ApplyReport{};
  }
  ASSIGN_OR_RETURN(apply::ApplyReport report, Execute(p, who, progress));
  // Every service using a secret now runs its current version: the previous one retires.
  if (report.ok() && desired && secrets_) {
    std::set<std::string> used;
    for (const auto& c : p.changes)
      if (c.desired)
        for (const auto& [name, version] : c.desired->secret_versions) used.insert(name);
    for (const std::string& name : used)
      if (Status st = secrets_->CompleteRoll(name); !st.ok())
        spdlog::warn("msg=\"secret roll not completed\" secret={} error=\"{}\"", name,
                     st.message());
  }
  UpdateMonitoring();
  if (deploys_) deploys_->SyncIngress();  // the new replicas behind the ingress before we answer
  applies_->WithLabels({report.ok() ? "success" : "failed"}).Inc();
  apply_seconds_->WithLabels({}).Observe(report.took.count() / 1000.0);
  return report;
}

// Runs a plan and records it in the history: the entry is written "running" first, so a
// daemon killed in the middle leaves an entry the next command marks "interrupted".
StatusOr<apply::ApplyReport> Daemon::Execute(const plan::Plan& p, const Requester& who,
                                             const apply::ProgressFn& progress) {
  state::HistoryEntry h;
  h.started_at_ms = ToUnixMillis(RealClock::Get()->WallNow());
  h.user = who.user;
  h.host = who.host;
  h.command = who.command;
  h.changes_json = plan::RenderPlanJson(p)["changes"].dump();
  ASSIGN_OR_RETURN(int64_t hid, store_->BeginHistory(h));
  apply::ExecutorOptions eo;
  eo.parallelism = opt_.apply_parallelism;
  apply::Executor exec(store_.get(), runtime_.get(), RealClock::Get(), eo);
  // Rollback runbooks apply what a service ran before its last release.
  if (Status st = RecordPreviousSpecs(store_.get(), p); !st.ok())
    spdlog::warn("msg=\"previous release not recorded\" error=\"{}\"", st.message());
  apply::ApplyReport report = exec.Execute(p, progress);
  std::string error;
  for (const auto& r : report.results)
    if (!r.error.empty()) error += (error.empty() ? "" : "; ") + r.resource + ": " + r.error;
  RETURN_IF_ERROR(store_->FinishHistory(hid, report.ok() ? "success" : "failed", error,
                                        report.ToJson()["results"].dump()));
  return report;
}

// The reconcile loop holds the lock only for short passes; an apply waits those out instead of
// failing, while a lock held by another apply fails at once (or after lock_timeout).
StatusOr<std::unique_ptr<state::Lock>> Daemon::LockForApply(const std::string& command,
                                                           Duration lock_timeout) {
  MonoTime give_up = RealClock::Get()->Now() + Duration(60000);
  while (true) {
    auto lock = store_->AcquireLock(command, lock_timeout);
    if (lock.ok()) return lock;
    if (!reconciling_ || RealClock::Get()->Now() > give_up) return lock.status();
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
}

// Replicas the supervisor or the reconcile loop is (re)starting are part of what an apply
// promises: "no changes" means they are ready, so wait for them.
Status Daemon::WaitForStartingReplicas(const apply::ProgressFn& progress) {
  for (const auto& r : runtime_->Snapshot()) {
    if (r.ready) continue;
    progress("service." + r.key.service,
             "waiting for replica " + std::to_string(r.key.slot) + " (" + r.state + ")");
    RETURN_IF_ERROR(runtime_->WaitReady(r.key, Duration(60000)));
  }
  return Status::OK();
}

Status Daemon::StopAllReplicas() {
  ASSIGN_OR_RETURN(auto lock, store_->AcquireLock("down", Duration(30000)));
  std::lock_guard<std::mutex> g(apply_mu_);
  RETURN_IF_ERROR(runtime_->StopAll());
  ASSIGN_OR_RETURN(auto replicas, store_->ListReplicas());
  for (const auto& r : replicas)
    RETURN_IF_ERROR(store_->DeleteReplica(r.service, r.slot, r.generation));
  return Status::OK();
}

Status Daemon::ReconcileOnce() {
  MonoTime t0 = RealClock::Get()->Now();
  if (opt_.watch && !opt_.stack_path.empty()) {
    std::error_code ec;
    auto mtime = fs::last_write_time(opt_.stack_path, ec);
    std::string stamp = ec ? "" : std::to_string(mtime.time_since_epoch().count());
    if (!stamp.empty() && stamp != watched_mtime_) {
      if (watched_mtime_.empty()) {
        watched_mtime_ = stamp;  // the file as `up` applied it
      } else {
        auto parsed = config::ParseStackFile(opt_.stack_path, opt_.parse_options);
        if (!parsed.ok()) {
          watched_mtime_ = stamp;  // invalid until edited again: do not retry every pass
          for (const auto& d : parsed.diagnostics)
            spdlog::error("msg=\"stack file changed but is invalid; keeping what runs\" {}",
                          d.ToString());
        } else {
          spdlog::info("msg=\"stack file changed; applying\" path={}", opt_.stack_path);
          auto rep = Apply(&*parsed.stack, {getpid(), "steward", "", "serve --watch"},
                           Duration(0), [](const std::string& r, const std::string& m) {
                             spdlog::info("resource={} msg=\"{}\"", r, m);
                           });
          // A lock held by another apply is retried on the next pass; anything else is done.
          if (rep.ok() || rep.status().code() != StatusCode::kAborted) watched_mtime_ = stamp;
          if (!rep.ok()) spdlog::warn("msg=\"watch apply\" error=\"{}\"", rep.status().message());
        }
      }
    }
  }
  {
    // Most passes find nothing: look first without the lock, whose holder record is written
    // and synced to disk on every take.
    ASSIGN_OR_RETURN(config::Stack recorded, RecordedStack());
    ASSIGN_OR_RETURN(plan::Plan p, Plan(&recorded));
    if (p.empty()) {
      reconcile_seconds_->WithLabels({}).Observe(
          std::chrono::duration<double>(RealClock::Get()->Now() - t0).count());
      return Status::OK();
    }
  }
  reconciling_ = true;
  struct Done {
    std::atomic<bool>& flag;
    ~Done() { flag = false; }
  } done{reconciling_};
  auto lock = store_->AcquireLock("reconcile", Duration(0));
  if (!lock.ok()) return Status::OK();  // an apply is running; it converges for us
  std::lock_guard<std::mutex> g(apply_mu_);
  // Again under the lock: an apply may have changed the records in between.
  ASSIGN_OR_RETURN(config::Stack recorded, RecordedStack());
  ASSIGN_OR_RETURN(plan::Plan p, Plan(&recorded));
  if (!p.empty()) {
    for (const auto& c : p.changes)
      for (const auto& r : c.reasons)
        spdlog::warn("msg=\"drift\" resource={} reason=\"{}\"", c.Resource(), r);
    ASSIGN_OR_RETURN(apply::ApplyReport report,
                     Execute(p, {getpid(), "steward", state::CurrentHost(), "reconcile"},
                             [](const std::string& r, const std::string& m) {
                               spdlog::info("msg=\"reconcile\" resource={} step=\"{}\"", r, m);
                             }));
    drift_repairs_->WithLabels({}).Inc();
    if (!report.ok()) spdlog::warn("msg=\"reconcile incomplete\"\n{}", report.ToText());
  }
  reconcile_seconds_->WithLabels({}).Observe(
      std::chrono::duration<double>(RealClock::Get()->Now() - t0).count());
  return Status::OK();
}

// The state directory's filesystem, for the built-in StewardDiskNearlyFull alert.
void Daemon::UpdateDiskMetrics() {
  struct statvfs fs {};
  if (statvfs(opt_.state_dir.c_str(), &fs) != 0) return;
  double unit = static_cast<double>(fs.f_frsize);
  fs_avail_->WithLabels({opt_.state_dir}).Set(unit * static_cast<double>(fs.f_bavail));
  fs_size_->WithLabels({opt_.state_dir}).Set(unit * static_cast<double>(fs.f_blocks));
}

void Daemon::UpdateDoraMetrics() {
  MonoTime now = RealClock::Get()->Now();
  if (now < next_dora_) return;
  next_dora_ = now + std::chrono::seconds(15);
  auto r = report::ComputeDora(store_.get(), ToUnixMillis(RealClock::Get()->WallNow()), {});
  if (!r.ok()) {
    spdlog::warn("msg=\"DORA metrics not updated\" error=\"{}\"", r.status().message());
    return;
  }
  dora_->Update(*r);
}

void Daemon::ReconcileLoop() {
  if (opt_.defer_first_reconcile) {
    std::unique_lock<std::mutex> l(wait_mu_);
    wait_cv_.wait_for(l, opt_.reconcile_interval, [this] { return shutdown_.load(); });
  }
  while (!shutdown_) {
    Status st = ReconcileOnce();
    if (!st.ok()) spdlog::error("msg=\"reconcile failed\" error=\"{}\"", st.message());
    UpdateMonitoring();
    UpdateDiskMetrics();
    UpdateDoraMetrics();
    std::unique_lock<std::mutex> l(wait_mu_);
    wait_cv_.wait_for(l, opt_.reconcile_interval, [this] { return shutdown_.load(); });
  }
}

nlohmann::json Daemon::StatusJson() {
  nlohmann::json services = nlohmann::json::array(), replicas = nlohmann::json::array();
  auto records = store_->ListServices();
  auto snap = runtime_->Snapshot();
  if (records.ok()) {
    for (const auto& r : *records) {
      auto spec = config::ServiceFromJson(
          nlohmann::json::parse(r.spec_json, nullptr, /*allow_exceptions=*/false));
      int want = spec.ok() ? spec->replicas : 0, ready = 0;
      for (const auto& s : snap)
        if (s.key.service == r.name && s.ready) ++ready;
      services.push_back({{"name", r.name},
                          {"generation", r.generation},
                          {"replicas", want},
                          {"ready", ready},
                          {"updated_at", FormatRfc3339(FromUnixMillis(r.updated_at_ms))}});
    }
  }
  for (const auto& s : snap)
    replicas.push_back({{"service", s.key.service},
                        {"slot", s.key.slot},
                        {"generation", s.key.generation},
                        {"pid", s.pid},
                        {"port", s.port},
                        {"state", s.state},
                        {"ready", s.ready},
                        {"restarts", s.restarts},
                        {"last_reason", s.last_reason},
                        {"health", s.health},
                        {"rss_bytes", s.rss_bytes},
                        {"started_at", s.started_at_ms
                                           ? FormatRfc3339(FromUnixMillis(s.started_at_ms))
                                           : ""}});
  return {{"project", Project()},
          {"daemon", {{"pid", getpid()}, {"port", bound_port_}, {"version", kStewardVersion}}},
          {"services", services},
          {"replicas", replicas}};
}

}  // namespace steward::server
