// secret_scan_bench: runs the secret scanner as `steward scan` would, for
// bench/secret_scan_bench.py while the CLI has no scan command of its own.
//   secret_scan_bench tree DIR [THREADS]
//   secret_scan_bench history REPO [THREADS] [MAX_COMMITS]
// Prints one JSON line: files, bytes, findings, problems, seconds, cpu_seconds.
#include <sys/resource.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <string>

#include "scan/secrets.h"

namespace {

double CpuSeconds() {
  rusage u;
  getrusage(RUSAGE_SELF, &u);
  return static_cast<double>(u.ru_utime.tv_sec + u.ru_stime.tv_sec) +
         static_cast<double>(u.ru_utime.tv_usec + u.ru_stime.tv_usec) / 1e6;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 3) {
    std::fprintf(stderr, "usage: %s tree|history PATH [THREADS] [MAX_COMMITS]\n", argv[0]);
    return 2;
  }
  std::string mode = argv[1];
  steward::scan::SecretScanOptions o;
  if (argc > 3) o.threads = std::atoi(argv[3]);
  auto t0 = std::chrono::steady_clock::now();
  double c0 = CpuSeconds();
  steward::scan::ScanResult r;
  if (mode == "tree") {
    r = steward::scan::ScanSecretsInTree(argv[2], o);
  } else if (mode == "history") {
    r = steward::scan::ScanSecretsInGitHistory(argv[2], o, argc > 4 ? std::atoi(argv[4]) : 0);
  } else {
    std::fprintf(stderr, "unknown mode %s\n", mode.c_str());
    return 2;
  }
  double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  double cpu = CpuSeconds() - c0;
  for (const auto& f : r.findings) {
    std::fprintf(stderr, "%s:%d:%d %s %s\n", f.path.c_str(), f.line, f.column, f.rule.c_str(),
                 f.commit.substr(0, 12).c_str());
  }
  for (const auto& p : r.problems) std::fprintf(stderr, "problem: %s\n", p.ToString().c_str());
  std::printf(
      "{\"files\": %llu, \"bytes\": %llu, \"findings\": %zu, \"problems\": %zu, "
      "\"seconds\": %.3f, \"cpu_seconds\": %.3f}\n",
      static_cast<unsigned long long>(r.files), static_cast<unsigned long long>(r.bytes),
      r.findings.size(), r.problems.size(), secs, cpu);
  return 0;
}
