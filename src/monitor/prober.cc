// Prober: schedules every monitor on its interval, runs probes on a pool of worker threads and
// writes their results (and staleness markers) to the TSDB. All state lives under one mutex;
// results are committed under it too, so a removed monitor's staleness markers can never be
// followed by a late result of a run that was still going.
#include <algorithm>
#include <set>

#include "base/hash.h"
#include "monitor/probe.h"

namespace steward::monitor {

namespace {

constexpr Duration kMaxFirstDelay{5000};
constexpr Duration kMaxSchedulerSleep{1000};

std::vector<tsdb::Label> BaseLabels(const config::Monitor& m) {
  std::vector<tsdb::Label> labels = {{"job", "monitor"},
                                     {"monitor", m.name},
                                     {"instance", ProbeInstance(m)},
                                     {"kind", ProbeKindLabel(m.kind)}};
  for (const auto& [name, value] : m.labels) labels.push_back({name, value});
  std::sort(labels.begin(), labels.end());
  return labels;
}

MonitorStatus InitialStatus(const config::Monitor& m) {
  MonitorStatus s;
  s.name = m.name;
  s.kind = m.kind;
  s.instance = ProbeInstance(m);
  s.error = "not run yet";
  return s;
}

}  // namespace

struct Prober::Entry {
  config::Monitor spec;
  std::vector<tsdb::Label> base;  // sorted; the series' labels without __name__
  uint64_t epoch = 0;
  uint64_t running_run = 0;  // run_id of the run in flight, 0 when idle
  MonoTime next_due{};
  struct SeriesState {
    tsdb::Labels labels;
    tsdb::SeriesRef ref = 0;
  };
  std::map<std::string, SeriesState> series;  // by metric name, for this epoch
  std::set<std::string> last_names;           // written by the last recorded run
  int64_t last_ts = 0;                        // unix ms of the last sample written
  MonitorStatus status;

  // The series of `name`, labels built once; nullptr if the labels are invalid.
  SeriesState* Series(const std::string& name) {
    auto it = series.find(name);
    if (it != series.end()) return &it->second;
    std::vector<tsdb::Label> labels = base;
    labels.push_back({std::string(tsdb::kMetricName), name});
    StatusOr<tsdb::Labels> built = tsdb::Labels::FromUnsorted(std::move(labels));
    if (!built.ok()) return nullptr;
    return &series.emplace(name, SeriesState{*built, 0}).first->second;
  }
};

Prober::Prober(tsdb::Db* db, ProberOptions options)
    : db_(db),
      options_(std::move(options)),
      clock_(options_.clock != nullptr ? options_.clock : RealClock::Get()) {
  if (!options_.run) options_.run = RunProbe;
}

Prober::~Prober() { Stop(); }

Status Prober::Start() {
  std::lock_guard<std::mutex> l(mu_);
  if (started_ || stopping_) return FailedPrecondition("the prober was already started");
  started_ = true;
  scheduler_ = std::thread([this] { SchedulerLoop(); });
  for (int i = 0; i < std::max(1, options_.threads); ++i) {
    workers_.emplace_back([this] { WorkerLoop(); });
  }
  return Status::OK();
}

void Prober::Stop() {
  {
    std::lock_guard<std::mutex> l(mu_);
    stopping_ = true;
    cancel_ = true;
    queue_.clear();
  }
  wake_.notify_all();
  work_.notify_all();
  if (scheduler_.joinable()) scheduler_.join();
  for (std::thread& t : workers_) {
    if (t.joinable()) t.join();
  }
}

MonoTime Prober::FirstDue(const std::string& name, Duration interval) const {
  uint64_t hash = std::stoull(Fnv1a64Hex(name), nullptr, 16) ^ options_.jitter_seed;
  int64_t window = std::max<int64_t>(1, std::min(interval, kMaxFirstDelay).count());
  return clock_->Now() + Duration(static_cast<int64_t>(hash % static_cast<uint64_t>(window)));
}

void Prober::SetMonitors(std::vector<config::Monitor> monitors, std::string working_dir) {
  std::lock_guard<std::mutex> l(mu_);
  working_dir_ = std::move(working_dir);
  int64_t now_ms = ToUnixMillis(clock_->WallNow());
  std::set<std::string> keep;
  for (config::Monitor& m : monitors) {
    keep.insert(m.name);
    std::vector<tsdb::Label> base = BaseLabels(m);
    std::unique_ptr<Entry>& e = entries_[m.name];
    if (!e) {
      e = std::make_unique<Entry>();
      e->epoch = next_epoch_++;
      e->next_due = FirstDue(m.name, m.interval);
    } else {
      if (e->base != base) {  // new series identity: the old series end here
        MarkStale(*e, now_ms);
        e->series.clear();
        e->last_names.clear();
        e->epoch = next_epoch_++;
      }
      if (e->spec.interval != m.interval) e->next_due = FirstDue(m.name, m.interval);
    }
    e->base = std::move(base);
    MonitorStatus status = e->status.name.empty() ? InitialStatus(m) : e->status;
    status.kind = m.kind;
    status.instance = ProbeInstance(m);
    e->status = std::move(status);
    e->spec = std::move(m);
  }
  for (auto it = entries_.begin(); it != entries_.end();) {
    if (keep.contains(it->first)) {
      ++it;
      continue;
    }
    MarkStale(*it->second, now_ms);
    it = entries_.erase(it);
  }
  wake_.notify_all();
}

void Prober::MarkStale(Entry& e, int64_t t) {
  if (e.last_names.empty()) return;
  t = std::max(t, e.last_ts + 1);
  std::unique_ptr<tsdb::Appender> app = db_->NewAppender();
  for (const std::string& name : e.last_names) {
    if (Entry::SeriesState* s = e.Series(name)) {
      (void)app->Append(s->ref, s->labels, t, tsdb::StaleNaN());
    }
  }
  if (app->Commit().ok()) {
    e.last_ts = t;
    e.last_names.clear();
  }
}

std::vector<Prober::Job> Prober::TakeDue(MonoTime now) {
  std::vector<Job> jobs;
  for (auto& [name, e] : entries_) {
    if (e->next_due > now) continue;
    Duration interval = std::max(e->spec.interval, Duration(1));
    auto behind = std::chrono::duration_cast<Duration>(now - e->next_due);
    e->next_due += interval * (behind / interval + 1);  // keeps the phase; skips missed ticks
    if (e->running_run != 0) continue;  // the previous run is still going: this tick skips
    e->running_run = next_run_id_++;
    jobs.push_back(Job{name, e->epoch, e->running_run, e->spec, working_dir_});
  }
  return jobs;
}

int Prober::RunDue() {
  std::vector<Job> jobs;
  {
    std::lock_guard<std::mutex> l(mu_);
    jobs = TakeDue(clock_->Now());
  }
  for (const Job& job : jobs) Execute(job);
  return static_cast<int>(jobs.size());
}

void Prober::SchedulerLoop() {
  std::unique_lock<std::mutex> l(mu_);
  while (!stopping_) {
    MonoTime now = clock_->Now();
    for (Job& job : TakeDue(now)) {
      queue_.push_back(std::move(job));
      work_.notify_one();
    }
    MonoTime next = now + kMaxSchedulerSleep;
    for (const auto& [name, e] : entries_) next = std::min(next, e->next_due);
    auto wait = std::max(Duration(1), std::chrono::duration_cast<Duration>(next - now));
    wake_.wait_for(l, wait);
  }
}

void Prober::WorkerLoop() {
  std::unique_lock<std::mutex> l(mu_);
  while (true) {
    work_.wait(l, [this] { return stopping_ || !queue_.empty(); });
    if (stopping_) return;
    Job job = std::move(queue_.front());
    queue_.pop_front();
    l.unlock();
    Execute(job);
    l.lock();
  }
}

void Prober::Execute(const Job& job) {
  ProbeContext context{job.working_dir, &cancel_};
  WallTime started = clock_->WallNow();
  ProbeResult result = options_.run(job.spec, context);
  Record(job, result, started);
}

void Prober::Record(const Job& job, const ProbeResult& result, WallTime started) {
  std::lock_guard<std::mutex> l(mu_);
  auto it = entries_.find(job.name);
  if (it == entries_.end()) return;  // removed meanwhile: its series are already stale
  Entry& e = *it->second;
  if (e.running_run == job.run_id) e.running_run = 0;
  if (e.epoch != job.epoch || cancel_) return;
  e.status.success = result.success;
  e.status.error = result.error;
  e.status.last_run = started;
  e.status.duration_seconds = result.duration_seconds;

  std::map<std::string, double> values(result.extra.begin(), result.extra.end());
  values["probe_success"] = result.success ? 1 : 0;
  values["probe_duration_seconds"] = result.duration_seconds;
  int64_t t = std::max(ToUnixMillis(started), e.last_ts + 1);
  std::unique_ptr<tsdb::Appender> app = db_->NewAppender();
  std::set<std::string> written;
  auto append = [&](const std::string& name, double v) {
    Entry::SeriesState* s = e.Series(name);
    if (s == nullptr) return;
    StatusOr<tsdb::SeriesRef> ref = app->Append(s->ref, s->labels, t, v);
    if (ref.ok()) s->ref = *ref;
  };
  for (const auto& [name, v] : values) {
    append(name, v);
    written.insert(name);
  }
  for (const std::string& name : e.last_names) {
    if (!written.contains(name)) append(name, tsdb::StaleNaN());  // no longer reported
  }
  if (!app->Commit().ok()) {
    for (auto& [name, s] : e.series) s.ref = 0;  // refs of an uncommitted batch are not trusted
    return;
  }
  e.last_names = std::move(written);
  e.last_ts = t;
}

std::vector<MonitorStatus> Prober::Results() const {
  std::lock_guard<std::mutex> l(mu_);
  std::vector<MonitorStatus> out;
  out.reserve(entries_.size());
  for (const auto& [name, e] : entries_) out.push_back(e->status);
  return out;
}

}  // namespace steward::monitor
