// Times the dependency scanner as `steward scan` runs it: ScanDependencies over a tree (find
// the lockfiles, parse them, load the OSV directory, match), then, for the breakdown, the
// database load alone. Prints one JSON object; bench/deps_scan_bench.py drives it.
//
//   deps_scan_bench ROOT OSV_DIR
#include <sys/resource.h>

#include <chrono>
#include <cstdio>
#include <vector>

#include "scan/deps.h"

int main(int argc, char** argv) {
  using namespace steward::scan;
  using Clock = std::chrono::steady_clock;
  if (argc != 3) {
    std::fprintf(stderr, "usage: %s ROOT OSV_DIR\n", argv[0]);
    return 2;
  }
  auto seconds = [](Clock::time_point since) {
    return std::chrono::duration<double>(Clock::now() - since).count();
  };
  // CPU seconds of all threads: on a shared machine the wall time says more about the others.
  auto cpu = [] {
    rusage u;
    getrusage(RUSAGE_SELF, &u);
    return u.ru_utime.tv_sec + u.ru_stime.tv_sec + (u.ru_utime.tv_usec + u.ru_stime.tv_usec) / 1e6;
  };
  double cpu_start = cpu();
  Clock::time_point start = Clock::now();
  ScanResult result = ScanDependencies(argv[1], DependencyScanOptions{argv[2]});
  double total = seconds(start);
  double total_cpu = cpu() - cpu_start;

  start = Clock::now();
  std::vector<Problem> problems;
  auto db = OsvDatabase::Load(argv[2], &problems);
  double load = seconds(start);
  if (!db.ok()) {
    std::fprintf(stderr, "%s\n", db.status().ToString().c_str());
    return 1;
  }
  std::printf(
      "{\"seconds\": %.4f, \"cpu_seconds\": %.4f, \"load_seconds\": %.4f, \"advisories\": %zu, "
      "\"lockfiles\": %llu, \"findings\": %zu, \"problems\": %zu}\n",
      total, total_cpu, load, db->size(), static_cast<unsigned long long>(result.files),
      result.findings.size(), result.problems.size());
  return 0;
}
