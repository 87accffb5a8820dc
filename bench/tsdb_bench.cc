// Microbenchmarks of the embedded TSDB's hot paths: appends by ref (the scraper's path, WAL
// included), XOR chunk encoding and decoding, and a selector query over the head. BM_Footprint
// reports memory per head series and bytes per sample on disk for busy CPU counters (a harder
// case than the realistic mix measured in tests/unit/tsdb/compaction_test.cc).
//   cmake --build <dir> --target tsdb_bench && <dir>/bin/tsdb_bench
#include <benchmark/benchmark.h>
#include <stdlib.h>

#include <filesystem>
#include <random>
#include <string>
#include <vector>

#include "tsdb/chunk_xor.h"
#include "tsdb/tsdb.h"

namespace steward::tsdb {
namespace {

class ScratchDir {
 public:
  ScratchDir() {
    char tmpl[] = "/tmp/steward-tsdb-bench-XXXXXX";
    path_ = mkdtemp(tmpl);
  }
  ~ScratchDir() { std::filesystem::remove_all(path_); }
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

Labels NodeSeries(int i) {
  static const char* kModes[] = {"idle", "user", "system", "iowait",
                                 "irq",  "nice", "steal",  "softirq"};
  return Labels::FromUnsorted({{"__name__", "node_cpu_seconds_total"},
                               {"cpu", std::to_string(i / 8 % 16)},
                               {"instance", "host-" + std::to_string(i / 128) + ":9100"},
                               {"job", "node"},
                               {"mode", kModes[i % 8]}})
      .value();
}

std::unique_ptr<Db> OpenScratch(const ScratchDir& dir) {
  Options o;
  o.dir = dir.path();
  o.background = false;
  return std::move(Db::Open(o)).value();
}

// One scrape of `series` targets' samples per commit, by ref.
void BM_RefAppend(benchmark::State& state) {
  ScratchDir dir;
  auto db = OpenScratch(dir);
  const int n = static_cast<int>(state.range(0));
  auto app = db->NewAppender();
  std::vector<SeriesRef> refs(n);
  for (int i = 0; i < n; ++i) refs[i] = app->Append(0, NodeSeries(i), 0, 0).value();
  (void)app->Commit();
  int64_t t = 0;
  double v = 0;
  for (auto _ : state) {
    t += 15000;
    for (int i = 0; i < n; ++i) (void)app->Append(refs[i], Labels(), t, v += 0.25);
    (void)app->Commit();
  }
  state.SetItemsProcessed(state.iterations() * n);
}
BENCHMARK(BM_RefAppend)->Arg(1000)->Arg(10000)->Unit(benchmark::kMillisecond);

// 10k node_cpu-like counters scraped 120 times (30 minutes at 15 s): the head's memory per
// series (estimate) with one full chunk each, then bytes per sample once flushed to a block.
void BM_Footprint(benchmark::State& state) {
  for (auto _ : state) {
    ScratchDir dir;
    auto db = OpenScratch(dir);
    auto app = db->NewAppender();
    const int n = 10000;
    std::mt19937 rng(1);
    std::vector<SeriesRef> refs(n, 0);
    std::vector<double> value(n, 1000);
    for (int k = 0; k < kMaxChunkSamples; ++k) {
      for (int i = 0; i < n; ++i) {
        value[i] += (rng() % 1000) / 100.0;  // CPU seconds with two decimals
        refs[i] = app->Append(refs[i], NodeSeries(i), int64_t{k} * 15000, value[i]).value();
      }
      (void)app->Commit();
    }
    Stats s = db->GetStats();
    state.counters["head_bytes_per_series"] = static_cast<double>(s.head_bytes) / n;
    (void)db->FlushHead();
    s = db->GetStats();
    state.counters["disk_bytes_per_sample"] =
        static_cast<double>(s.block_bytes) / static_cast<double>(s.block_samples);
  }
}
BENCHMARK(BM_Footprint)->Iterations(1)->Unit(benchmark::kMillisecond);

void BM_XorEncode(benchmark::State& state) {
  std::mt19937 rng(1);
  std::vector<double> values(kMaxChunkSamples);
  double c = 1000;
  for (double& v : values) v = c += rng() % 4;
  for (auto _ : state) {
    XorChunkBuilder b;
    for (int i = 0; i < kMaxChunkSamples; ++i) b.Append(int64_t{i} * 15000, values[i]);
    benchmark::DoNotOptimize(b.bytes().data());
  }
  state.SetItemsProcessed(state.iterations() * kMaxChunkSamples);
}
BENCHMARK(BM_XorEncode);

void BM_XorDecode(benchmark::State& state) {
  XorChunkBuilder b;
  for (int i = 0; i < kMaxChunkSamples; ++i) b.Append(int64_t{i} * 15000, 1000.0 + i * 3);
  for (auto _ : state) {
    XorIterator it(b.view());
    double sum = 0;
    while (it.Next()) sum += it.v();
    benchmark::DoNotOptimize(sum);
  }
  state.SetItemsProcessed(state.iterations() * kMaxChunkSamples);
}
BENCHMARK(BM_XorDecode);

// {job="node", mode="idle", instance="host-3:9100"} over 10k head series with 120 samples each.
void BM_SelectHead(benchmark::State& state) {
  ScratchDir dir;
  auto db = OpenScratch(dir);
  auto app = db->NewAppender();
  for (int k = 0; k < 120; ++k) {
    for (int i = 0; i < 10000; ++i) (void)app->Append(0, NodeSeries(i), k * 15000, k);
    (void)app->Commit();
  }
  auto m = [](const char* n, const char* v) {
    return Matcher::Make(Matcher::Type::kEqual, n, v).value();
  };
  std::vector<Matcher> sel = {m("job", "node"), m("mode", "idle"), m("instance", "host-3:9100")};
  auto q = db->NewQuerier();
  for (auto _ : state) {
    auto r = q->Select(sel, 0, 120 * 15000);
    benchmark::DoNotOptimize(r.ok());
  }
}
BENCHMARK(BM_SelectHead)->Unit(benchmark::kMicrosecond);

}  // namespace
}  // namespace steward::tsdb

BENCHMARK_MAIN();
