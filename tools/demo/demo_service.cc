#include "demo_service.h"

#include <unistd.h>

#include <cmath>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <nlohmann/json.hpp>

namespace steward::demo {
namespace {

constexpr Duration kTickInterval{100};

double Seconds(Duration d) { return std::chrono::duration<double>(d).count(); }

}  // namespace

DemoService::DemoService(DemoOptions options, Clock* clock, RandomFn random, ExitFn exit)
    : options_(std::move(options)),
      clock_(clock),
      random_(std::move(random)),
      exit_(std::move(exit)),
      started_(clock->Now()),
      settings_(options_.initial),
      last_leak_(started_),
      requests_(registry_.AddCounter("demo_requests_total", "Requests answered, by path and code.",
                                     {"path", "code"})),
      durations_(registry_.AddHistogram("demo_request_duration_seconds",
                                        "Time from routing to response, by path.", {"path"})),
      up_(registry_.AddGauge("demo_up", "1 while the demo service is serving.").WithLabels({})),
      rss_(registry_.AddGauge("process_resident_memory_bytes", "Resident memory size in bytes.")
               .WithLabels({})),
      hog_gauge_(
          registry_
              .AddGauge("demo_memory_hog_bytes", "Memory deliberately leaked by the leak setting.")
              .WithLabels({})) {
  up_.Set(1);
}

DemoService::~DemoService() {
  Shutdown();
  if (ticker_.joinable()) ticker_.join();
}

void DemoService::WaitWhileHung() {
  std::unique_lock<std::mutex> l(mu_);
  cv_.wait(l, [&] { return !settings_.hang || stopping_.load(); });
}

DemoService::Decision DemoService::DecideRoot() {
  std::lock_guard<std::mutex> l(mu_);
  Decision d;
  d.delay = settings_.latency;
  // random_ is in [0, 1), so a rate of 1 fails every request and 0 none.
  d.fail = settings_.error_rate > 0 && random_() < settings_.error_rate;
  return d;
}

DemoService::Reply DemoService::Root() {
  WaitWhileHung();
  Decision d = DecideRoot();
  if (d.delay.count() > 0 && !SleepUnlessStopping(d.delay)) {
    return {503, "shutting down\n"};
  }
  if (stopping()) return {503, "shutting down\n"};
  if (d.fail) return {500, "injected error\n"};
  return {200,
          options_.greeting + " from " + options_.name + " (replica " + options_.replica + ")\n"};
}

DemoService::Reply DemoService::Health() {
  WaitWhileHung();
  if (stopping()) return {503, "shutting down\n"};
  if (settings().unhealthy) return {503, "unhealthy\n"};
  return {200, "ok\n"};
}

DemoService::Reply DemoService::Metrics() {
  WaitWhileHung();
  rss_.Set(static_cast<double>(ResidentBytes()));
  hog_gauge_.Set(static_cast<double>(hog_bytes()));
  up_.Set(stopping() ? 0 : 1);
  std::string body = registry_.Render();
  if (options_.synthetic_series > 0)
    // Counters count from the process start, as a real service's do.
    body += SyntheticSeries(options_.synthetic_series,
                            std::chrono::duration<double>(clock_->Now() - started_).count());
  return {200, std::move(body), metrics::kContentType};
}

std::string SyntheticSeries(int count, double now) {
  static const char* kRoutes[] = {"/", "/api/users", "/api/orders", "/api/items", "/login",
                                  "/search", "/cart", "/checkout"};
  static const char* kCodes[] = {"200", "201", "204", "301", "400", "404", "500", "503"};
  std::string out;
  out.reserve(static_cast<size_t>(count) * 72);
  int counters = (count + 1) / 2;
  out += "# HELP demo_synthetic_requests_total Synthetic requests (--series).\n"
         "# TYPE demo_synthetic_requests_total counter\n";
  char line[160];
  for (int i = 0; i < counters; ++i) {
    double rate = 0.1 * (1 + i % 23);
    std::snprintf(line, sizeof line,
                  "demo_synthetic_requests_total{route=\"%s\",code=\"%s\",shard=\"%d\"} %.0f\n",
                  kRoutes[i % 8], kCodes[(i / 8) % 8], i / 64, std::floor(now * rate));
    out += line;
  }
  out += "# HELP demo_synthetic_inflight Synthetic in-flight requests (--series).\n"
         "# TYPE demo_synthetic_inflight gauge\n";
  for (int i = 0; i < count - counters; ++i) {
    double wave = 50 + 40 * std::sin(now / (60.0 + i % 17) + i);
    std::snprintf(line, sizeof line,
                  "demo_synthetic_inflight{route=\"%s\",code=\"%s\",shard=\"%d\"} %.0f\n",
                  kRoutes[i % 8], kCodes[(i / 8) % 8], i / 64, std::round(wave));
    out += line;
  }
  return out;
}

DemoService::Reply DemoService::State() {
  WaitWhileHung();
  return StateReply();
}

DemoService::Reply DemoService::StateReply() const {
  Settings s = settings();
  nlohmann::json j = {
      {"name", options_.name},
      {"replica", options_.replica},
      {"error_rate", s.error_rate},
      {"latency", FormatDuration(s.latency)},
      {"latency_ms", s.latency.count()},
      {"unhealthy", s.unhealthy},
      {"hang", s.hang},
      {"leak_bytes_per_second", s.leak_bytes_per_second},
      {"memory_hog_bytes", hog_bytes()},
      {"uptime_seconds", Seconds(std::chrono::duration_cast<Duration>(clock_->Now() - started_))},
  };
  return {200, j.dump() + "\n", "application/json"};
}

DemoService::Reply DemoService::Misbehave(const std::map<std::string, std::string>& fields) {
  WaitWhileHung();
  bool crash = false;
  {
    std::lock_guard<std::mutex> l(mu_);
    Settings next = settings_;
    Status st = ApplyFields(fields, &next, &crash);
    if (!st.ok()) return {400, st.message() + "\n"};
    // A leak starts counting now, not from the last tick before it was asked for.
    if (next.leak_bytes_per_second != settings_.leak_bytes_per_second) last_leak_ = clock_->Now();
    settings_ = next;
  }
  cv_.notify_all();
  // Not State(): a request that just set hang=true still gets its answer.
  Reply r = StateReply();
  r.exit_after_response = crash;
  return r;
}

std::string DemoService::PathLabel(const std::string& path) {
  static const char* const kKnown[] = {"/", "/healthz", "/metrics", "/admin/misbehave",
                                       "/admin/state"};
  for (const char* k : kKnown) {
    if (path == k) return path;
  }
  return "other";  // unknown paths would otherwise let any client mint new series
}

void DemoService::RecordRequest(const std::string& path, int status, double seconds) {
  std::string label = PathLabel(path);
  requests_.WithLabels({label, std::to_string(status)}).Inc();
  durations_.WithLabels({label}).Observe(seconds);
}

void DemoService::Tick() {
  MonoTime now = clock_->Now();
  bool crash = false;
  {
    std::lock_guard<std::mutex> l(mu_);
    if (options_.hang_after.count() > 0 && !hang_after_fired_ &&
        now - started_ >= options_.hang_after) {
      hang_after_fired_ = true;
      settings_.hang = true;
    }
    if (options_.crash_after.count() > 0 && !crash_after_fired_ &&
        now - started_ >= options_.crash_after) {
      crash_after_fired_ = true;
      crash = true;
    }
  }
  if (crash && !stopping()) {
    exit_(1, "--crash-after " + FormatDuration(options_.crash_after) + " elapsed");
    return;
  }
  GrowLeak(now);
}

void DemoService::GrowLeak(MonoTime now) {
  int64_t bytes = 0;
  {
    std::lock_guard<std::mutex> l(mu_);
    auto elapsed = std::chrono::duration_cast<Duration>(now - last_leak_);
    last_leak_ = now;
    bytes = settings_.leak_bytes_per_second * elapsed.count() / 1000;
    bytes = std::min(bytes, options_.leak_limit_bytes - hog_bytes_);
  }
  if (bytes <= 0) return;
  // Touch every byte: untouched pages would not count towards RSS, and RSS is what drills watch.
  auto chunk = std::make_unique_for_overwrite<char[]>(static_cast<size_t>(bytes));
  std::memset(chunk.get(), 0x5a, static_cast<size_t>(bytes));
  std::lock_guard<std::mutex> l(mu_);
  hog_.push_back(std::move(chunk));
  hog_bytes_ += bytes;
  hog_gauge_.Set(static_cast<double>(hog_bytes_));
}

void DemoService::Start() {
  ticker_ = std::thread([this] {
    while (SleepUnlessStopping(kTickInterval)) Tick();
  });
}

void DemoService::Shutdown() {
  {
    std::lock_guard<std::mutex> l(mu_);
    stopping_.store(true);
  }
  cv_.notify_all();
}

bool DemoService::SleepUnlessStopping(Duration d) {
  std::unique_lock<std::mutex> l(mu_);
  return !cv_.wait_for(l, d, [&] { return stopping_.load(); });
}

Settings DemoService::settings() const {
  std::lock_guard<std::mutex> l(mu_);
  return settings_;
}

int64_t DemoService::hog_bytes() const {
  std::lock_guard<std::mutex> l(mu_);
  return hog_bytes_;
}

int64_t DemoService::ResidentBytes() {
  std::ifstream statm("/proc/self/statm");
  int64_t size = 0, resident = 0;
  if (!(statm >> size >> resident)) return 0;
  return resident * sysconf(_SC_PAGESIZE);
}

}  // namespace steward::demo
