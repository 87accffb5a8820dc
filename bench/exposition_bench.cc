// Parse speed of the scrape-body parser (src/monitor/exposition.h) on a synthetic page shaped
// like node_exporter's (HELP/TYPE per family, 0-3 labels, counters, gauges, a summary and a
// histogram, float and integer values). The scraper's hot path is BM_StreamText: Next() plus
// series_text(), value() and timestamp(), no labels(). Target: > 5M samples/s on one core.
//
//   cmake --build BUILD --target exposition_bench && BUILD/bin/exposition_bench
//   EXPOSITION_BENCH_BODY=page.txt BUILD/bin/exposition_bench   # also a saved real page
#include <benchmark/benchmark.h>

#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <sstream>
#include <string>

#include "monitor/exposition.h"

namespace {

using steward::monitor::ExpositionParser;
using steward::monitor::Format;

void Family(std::string* out, const std::string& name, const char* type, const char* help) {
  *out += "# HELP " + name + " " + help + "\n# TYPE " + name + " " + type + "\n";
}

void Sample(std::string* out, const std::string& series, double v) {
  char buf[64];
  std::snprintf(buf, sizeof(buf), " %.10g\n", v);
  *out += series + buf;
}

std::string NodeExporterLikeBody() {
  std::string b;
  Family(&b, "go_gc_duration_seconds", "summary", "A summary of the pause duration of GC cycles.");
  for (const char* q : {"0", "0.25", "0.5", "0.75", "1"}) {
    Sample(&b, std::string("go_gc_duration_seconds{quantile=\"") + q + "\"}", 2.1e-05);
  }
  Sample(&b, "go_gc_duration_seconds_sum", 0.012345);
  Sample(&b, "go_gc_duration_seconds_count", 1234);
  Family(&b, "node_cpu_seconds_total", "counter", "Seconds the CPUs spent in each mode.");
  for (int cpu = 0; cpu < 32; ++cpu) {
    for (const char* mode :
         {"idle", "iowait", "irq", "nice", "softirq", "steal", "system", "user"}) {
      Sample(&b,
             "node_cpu_seconds_total{cpu=\"" + std::to_string(cpu) + "\",mode=\"" + mode + "\"}",
             123456.78 + cpu * 10.5);
    }
  }
  for (const char* m : {"avail_bytes", "files", "files_free", "free_bytes", "readonly",
                        "size_bytes", "device_error"}) {
    Family(&b, std::string("node_filesystem_") + m, "gauge", "Filesystem information.");
    for (int fs = 0; fs < 12; ++fs) {
      Sample(&b,
             std::string("node_filesystem_") + m + "{device=\"/dev/sda" + std::to_string(fs) +
                 "\",fstype=\"ext4\",mountpoint=\"/mnt/disk" + std::to_string(fs) + "\"}",
             4.2e10 + fs);
    }
  }
  for (int m = 0; m < 40; ++m) {
    const std::string name = "node_network_stat_" + std::to_string(m) + "_total";
    Family(&b, name, "counter", "Network device statistic.");
    for (int dev = 0; dev < 8; ++dev) {
      Sample(&b, name + "{device=\"eth" + std::to_string(dev) + "\"}", 98765432.0 + dev);
    }
  }
  for (int m = 0; m < 150; ++m) {
    const std::string name = "node_vmstat_field_" + std::to_string(m);
    Family(&b, name, "untyped", "/proc/vmstat information field.");
    Sample(&b, name, m * 1000.0);
  }
  Family(&b, "http_request_duration_seconds", "histogram", "Request latency.");
  for (const char* le : {"0.005", "0.01", "0.025", "0.05", "0.1", "0.25", "0.5", "1", "+Inf"}) {
    Sample(
        &b,
        std::string("http_request_duration_seconds_bucket{handler=\"/metrics\",le=\"") + le + "\"}",
        42);
  }
  return b;
}

int64_t CountSamples(const std::string& body, Format format) {
  ExpositionParser p(body, format);
  int64_t n = 0;
  while (p.Next()) ++n;
  return n;
}

void Run(benchmark::State& state, const std::string& body, Format format, bool with_type) {
  const int64_t per_body = CountSamples(body, format);
  for (auto _ : state) {
    ExpositionParser p(body, format);
    double sum = 0;
    size_t bytes = 0;
    while (p.Next()) {
      bytes += p.series_text().size();
      sum += p.value();
      if (p.timestamp()) sum += 1;
      if (with_type) sum += static_cast<int>(p.type());
    }
    if (!p.status().ok()) state.SkipWithError(p.status().ToString().c_str());
    benchmark::DoNotOptimize(sum);
    benchmark::DoNotOptimize(bytes);
  }
  state.SetItemsProcessed(state.iterations() * per_body);
  state.SetBytesProcessed(state.iterations() * static_cast<int64_t>(body.size()));
  state.counters["samples_per_body"] = static_cast<double>(per_body);
}

void BM_StreamText(benchmark::State& state) {
  static const std::string body = NodeExporterLikeBody();
  Run(state, body, Format::kText004, false);
}
BENCHMARK(BM_StreamText);

void BM_StreamTextWithType(benchmark::State& state) {
  static const std::string body = NodeExporterLikeBody();
  Run(state, body, Format::kText004, true);
}
BENCHMARK(BM_StreamTextWithType);

// The same page in OpenMetrics: "untyped" is "unknown" there, and the page ends in "# EOF".
std::string OpenMetricsBody() {
  std::string b = NodeExporterLikeBody();
  for (size_t at = b.find(" untyped\n"); at != std::string::npos; at = b.find(" untyped\n", at)) {
    b.replace(at, 9, " unknown\n");
  }
  return b + "# EOF\n";
}

void BM_StreamOpenMetrics(benchmark::State& state) {
  static const std::string body = OpenMetricsBody();
  Run(state, body, Format::kAuto, false);
}
BENCHMARK(BM_StreamOpenMetrics);

// The convenience form: labels built for every sample, duplicates removed.
void BM_ParseWhole(benchmark::State& state) {
  static const std::string body = NodeExporterLikeBody();
  const int64_t per_body = CountSamples(body, Format::kText004);
  for (auto _ : state) {
    auto r = steward::monitor::Parse(body, Format::kText004);
    benchmark::DoNotOptimize(r);
  }
  state.SetItemsProcessed(state.iterations() * per_body);
}
BENCHMARK(BM_ParseWhole);

// A real page saved to a file (e.g. curl -s localhost:9100/metrics > page.txt).
void BM_StreamFile(benchmark::State& state) {
  static const std::string body = [] {
    std::ifstream in(std::getenv("EXPOSITION_BENCH_BODY"), std::ios::binary);
    std::stringstream ss;
    ss << in.rdbuf();
    return ss.str();
  }();
  Run(state, body, Format::kText004, false);
}

}  // namespace

int main(int argc, char** argv) {
  if (std::getenv("EXPOSITION_BENCH_BODY") != nullptr) BENCHMARK(BM_StreamFile);
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
