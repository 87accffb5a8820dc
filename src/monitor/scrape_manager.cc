#include "monitor/scrape_manager.h"

#include <cstdlib>

#include <spdlog/spdlog.h>

#include <algorithm>
#include <array>
#include <unordered_set>

#include "monitor/http_fetcher.h"
#include "monitor/scrape_loop.h"

namespace steward::monitor {
namespace {

constexpr Duration kDefaultInterval{15000};

// The scrape outcomes counted in steward_scrapes_total{result}.
enum Result {
  kSuccess,
  kTimeout,
  kHttpError,
  kNetworkError,
  kBodySize,
  kParseError,
  kStorage,
  kResultCount
};
constexpr std::array<const char*, kResultCount> kResultNames = {
    "success",         "timeout",     "http_error",   "network_error",
    "body_size_limit", "parse_error", "storage_error"};

uint64_t Fnv1a(uint64_t h, std::string_view s) {
  for (unsigned char c : s) {
    h ^= c;
    h *= 1099511628211ull;
  }
  return h;
}

uint64_t IdentityOf(const TargetSpec& s) {
  uint64_t h = 14695981039346656037ull;
  h = Fnv1a(h, s.job);
  h = Fnv1a(h, "\xff");
  h = Fnv1a(h, s.url);
  for (const auto& l : s.labels.items()) {
    h = Fnv1a(h, "\xff");
    h = Fnv1a(h, l.name);
    h = Fnv1a(h, "\xfe");
    h = Fnv1a(h, l.value);
  }
  h = Fnv1a(h, s.honor_labels ? "\x01" : "\x02");
  h = Fnv1a(h, s.honor_timestamps ? "\x01" : "\x02");
  return h;
}

void Normalize(TargetSpec* s) {
  if (s->interval.count() <= 0) s->interval = kDefaultInterval;
  if (s->timeout.count() <= 0 || s->timeout > s->interval) s->timeout = s->interval;
}

// Prometheus' phase: the time until the target's slot in the current interval, pinned to
// absolute (wall) time so that a restart keeps every target's slot.
Duration FirstDelay(uint64_t hash, Duration interval, WallTime now) {
  int64_t iv = std::chrono::duration_cast<std::chrono::nanoseconds>(interval).count();
  int64_t now_ns =
      std::chrono::duration_cast<std::chrono::nanoseconds>(now.time_since_epoch()).count();
  int64_t base = iv - now_ns % iv;
  int64_t next = base + static_cast<int64_t>(hash % static_cast<uint64_t>(iv));
  if (next > iv) next -= iv;
  return std::chrono::duration_cast<Duration>(std::chrono::nanoseconds(next));
}

Result Classify(const FetchResult& r, const ScrapeOutcome& o) {
  if (!r.status.ok()) {
    switch (r.status.code()) {
      case StatusCode::kDeadlineExceeded:
        return kTimeout;
      case StatusCode::kFailedPrecondition:
        return kBodySize;
      default:
        return r.http_status != 0 && r.http_status != 200 ? kHttpError : kNetworkError;
    }
  }
  if (!o.error.ok()) return kParseError;
  if (!o.commit.ok()) return kStorage;
  return kSuccess;
}

bool HealthOrder(const TargetHealth& a, const TargetHealth& b) {
  if (a.spec.job != b.spec.job) return a.spec.job < b.spec.job;
  if (a.spec.labels != b.spec.labels) return a.spec.labels < b.spec.labels;
  return a.spec.url < b.spec.url;
}

}  // namespace

struct ScrapeManager::Target {
  uint64_t id = 0;
  TargetSpec spec;
  std::unique_ptr<ScrapeLoop> loop;
  uint64_t generation = 0;  // of the pending timer; a timer of an older generation is ignored
  MonoTime next{};
  int64_t aligned_ms = 0;  // Prometheus' timestamp grid (0: not started)
  bool in_flight = false;
  MonoTime scrape_start{};
  WallTime scrape_wall{};
  int64_t scrape_ts = 0;
  std::string health = "unknown";
};

struct ScrapeManager::SelfMetrics {
  metrics::Gauge* targets = nullptr;
  std::array<metrics::Counter*, kResultCount> results{};
  metrics::Histogram* duration = nullptr;
  metrics::Counter* ingested = nullptr;
  metrics::Counter* duplicates = nullptr;
  metrics::Counter* out_of_order = nullptr;

  explicit SelfMetrics(metrics::Registry* r) {
    targets = &r->AddGauge("steward_scrape_targets", "Scrape targets currently configured.")
                   .WithLabels({});
    auto& res = r->AddCounter("steward_scrapes_total", "Scrapes by outcome.", {"result"});
    for (int i = 0; i < kResultCount; ++i) results[i] = &res.WithLabels({kResultNames[i]});
    duration = &r->AddHistogram("steward_scrape_duration_seconds",
                                "Time from the start of a scrape to its body being appended.", {})
                    .WithLabels({});
    ingested = &r->AddCounter("steward_scrape_samples_ingested_total",
                              "Samples committed to the TSDB by the scraper (body, stale "
                              "markers and report series).")
                    .WithLabels({});
    duplicates = &r->AddCounter("steward_scrape_samples_duplicate_total",
                                "Samples dropped because their series repeated in one body.")
                      .WithLabels({});
    out_of_order = &r->AddCounter("steward_scrape_samples_out_of_order_total",
                                  "Scraped samples the TSDB rejected as out of order.")
                        .WithLabels({});
  }
};

ScrapeManager::ScrapeManager(tsdb::Db* db, ScrapeManagerOptions options)
    : db_(db), options_(std::move(options)) {
  clock_ = options_.clock ? options_.clock : RealClock::Get();
  HttpFetcherOptions fo;
  fo.clock = clock_;
  fo.max_body_bytes = options_.body_size_limit;
  fetcher_ = std::make_unique<HttpFetcher>(fo);
  if (options_.metrics) metrics_ = std::make_unique<SelfMetrics>(options_.metrics);
}

ScrapeManager::~ScrapeManager() { Stop(); }

Status ScrapeManager::Start() {
  std::lock_guard<std::mutex> l(mu_);
  if (started_) return Status::OK();
  if (stopped_) return FailedPrecondition("scrape manager: stopped; it cannot start again");
  RETURN_IF_ERROR(fetcher_->Start());
  started_ = true;
  fetcher_->Post([this, specs = std::move(pending_)]() mutable { Reconcile(std::move(specs)); });
  pending_.clear();
  return Status::OK();
}

void ScrapeManager::Stop() {
  {
    std::lock_guard<std::mutex> l(mu_);
    if (stopped_) return;
    stopped_ = true;
  }
  fetcher_->Stop();
  active_.clear();  // the loop thread is gone: safe to touch from here
}

void ScrapeManager::SetTargets(std::vector<TargetSpec> targets) {
  std::vector<std::pair<uint64_t, TargetSpec>> specs;
  std::unordered_set<uint64_t> seen;
  for (auto& t : targets) {
    Normalize(&t);
    uint64_t id = IdentityOf(t);
    if (seen.insert(id).second) specs.emplace_back(id, std::move(t));
  }
  std::lock_guard<std::mutex> l(mu_);
  std::map<uint64_t, TargetHealth> next;
  for (const auto& [id, spec] : specs) {
    TargetHealth h;
    if (auto it = health_.find(id); it != health_.end()) h = std::move(it->second);
    h.spec = spec;
    h.spec.bearer_token.clear();
    next.emplace(id, std::move(h));
  }
  health_.swap(next);
  if (metrics_) metrics_->targets->Set(static_cast<double>(specs.size()));
  if (stopped_) return;
  if (!started_) {
    pending_ = std::move(specs);
    return;
  }
  // Posted under mu_ so that the loop applies target sets in the order health_ saw them.
  fetcher_->Post([this, specs = std::move(specs)]() mutable { Reconcile(std::move(specs)); });
}

std::vector<TargetHealth> ScrapeManager::Targets() const {
  std::vector<TargetHealth> out;
  {
    std::lock_guard<std::mutex> l(mu_);
    out.reserve(health_.size());
    for (const auto& [id, h] : health_) out.push_back(h);
  }
  std::sort(out.begin(), out.end(), HealthOrder);
  return out;
}

void ScrapeManager::Reconcile(std::vector<std::pair<uint64_t, TargetSpec>> specs) {
  std::unordered_set<uint64_t> keep;
  for (auto& [id, spec] : specs) {
    keep.insert(id);
    auto it = active_.find(id);
    if (it == active_.end()) {
      auto t = std::make_unique<Target>();
      t->id = id;
      t->loop =
          std::make_unique<ScrapeLoop>(db_, spec.labels, spec.honor_labels, spec.honor_timestamps);
      t->spec = std::move(spec);
      Target* raw = t.get();
      active_.emplace(id, std::move(t));
      Schedule(raw, clock_->Now() + FirstDelay(id ^ options_.offset_seed, raw->spec.interval,
                                               clock_->WallNow()));
      continue;
    }
    Target* t = it->second.get();
    bool new_interval = t->spec.interval != spec.interval;
    t->spec = std::move(spec);
    if (new_interval) {
      t->aligned_ms = 0;
      Schedule(t, clock_->Now() +
                      FirstDelay(id ^ options_.offset_seed, t->spec.interval, clock_->WallNow()));
    }
  }
  for (auto it = active_.begin(); it != active_.end();) {
    if (keep.count(it->first)) {
      ++it;
      continue;
    }
    Retire(it->second.get());
    it = active_.erase(it);
  }
}

void ScrapeManager::Schedule(Target* t, MonoTime when) {
  uint64_t generation = ++t->generation;
  t->next = when;
  uint64_t id = t->id;
  fetcher_->RunAt(when, [this, id, generation] { Tick(id, generation); });
}

void ScrapeManager::Tick(uint64_t id, uint64_t generation) {
  auto it = active_.find(id);
  if (it == active_.end() || it->second->generation != generation) return;
  Target* t = it->second.get();
  // The next slot on this target's grid; slots already missed are skipped, like a Go ticker.
  MonoTime now = clock_->Now();
  MonoTime next = t->next + t->spec.interval;
  if (next <= now) next += t->spec.interval * ((now - next) / t->spec.interval + 1);
  Schedule(t, next);
  if (t->in_flight) return;  // the previous scrape is still running: this tick is skipped

  t->in_flight = true;
  t->scrape_start = now;
  t->scrape_wall = clock_->WallNow();
  t->scrape_ts = ScrapeTimestamp(t);
  FetchRequest req{t->spec.url, t->spec.timeout, t->spec.bearer_token};
  fetcher_->Fetch(id, std::move(req), [this, id](FetchResult& r) { OnScraped(id, r); });
}

int64_t AlignScrapeTimestamp(int64_t now, int64_t interval, int64_t* aligned) {
  if (*aligned == 0 || now < *aligned) {
    *aligned = now;
    return now;
  }
  // The nearest slot of the grid, early or late (Prometheus compares the absolute difference):
  // a scrape that fires a millisecond early must not break the run of equal deltas.
  int64_t slot = *aligned + (now - *aligned + interval / 2) / interval * interval;
  int64_t tolerance = std::min<int64_t>(interval / 100, 2);
  if (std::llabs(now - slot) <= tolerance) {
    *aligned = slot;
    return slot;
  }
  *aligned = now;  // off the grid: a new grid starts here
  return now;
}

int64_t ScrapeManager::ScrapeTimestamp(Target* t) {
  return AlignScrapeTimestamp(ToUnixMillis(t->scrape_wall), t->spec.interval.count(),
                              &t->aligned_ms);
}

void ScrapeManager::OnScraped(uint64_t id, FetchResult& r) {
  auto it = active_.find(id);
  if (it == active_.end()) return;
  Target* t = it->second.get();
  t->in_flight = false;
  ScrapeOutcome o =
      t->loop->Ingest(r.status, r.body, r.content_type, t->scrape_ts, clock_, t->scrape_start);
  Result result = Classify(r, o);
  if (metrics_) {
    metrics_->results[result]->Inc();
    metrics_->duration->Observe(o.duration_seconds);
    metrics_->ingested->Inc(static_cast<double>(o.committed));
    metrics_->duplicates->Inc(static_cast<double>(o.duplicates));
    metrics_->out_of_order->Inc(static_cast<double>(o.out_of_order));
  }
  TargetHealth h;
  h.health = result == kSuccess ? "up" : "down";
  if (!o.error.ok()) {
    h.last_error = o.error.message();
  } else if (!o.commit.ok()) {
    h.last_error = "storage: " + o.commit.message();
  }
  h.last_scrape = t->scrape_wall;
  h.last_scrape_duration_seconds = o.duration_seconds;
  h.last_samples = o.scraped;
  if (h.health != t->health) {
    if (h.health == "down") {
      spdlog::warn("scrape failed job={} url={} error=\"{}\"", t->spec.job, t->spec.url,
                   h.last_error);
    } else if (t->health == "down") {
      spdlog::info("scrape recovered job={} url={}", t->spec.job, t->spec.url);
    }
    t->health = h.health;
  }
  RecordHealth(id, h);
}

void ScrapeManager::RecordHealth(uint64_t id, const TargetHealth& update) {
  std::lock_guard<std::mutex> l(mu_);
  auto it = health_.find(id);
  if (it == health_.end()) return;
  TargetHealth& h = it->second;
  h.health = update.health;
  h.last_error = update.last_error;
  h.last_scrape = update.last_scrape;
  h.last_scrape_duration_seconds = update.last_scrape_duration_seconds;
  h.last_samples = update.last_samples;
}

void ScrapeManager::Retire(Target* t) {
  fetcher_->Forget(t->id);  // an in-flight scrape is abandoned: its callback never runs
  ++t->generation;
  int64_t ts = std::max(ToUnixMillis(clock_->WallNow()), t->loop->last_timestamp() + 1);
  Status st = t->loop->MarkEverythingStale(ts);
  if (!st.ok()) {
    spdlog::warn("scrape target removed but its stale markers failed job={} url={} error=\"{}\"",
                 t->spec.job, t->spec.url, st.message());
  }
}

}  // namespace steward::monitor
