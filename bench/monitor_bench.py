#!/usr/bin/env python3
"""Scrape-and-store benchmark: Steward and a real Prometheus side by side, same targets, same run.

    bench/monitor_bench.py BUILD_DIR [--targets 20] [--series 2500] [--interval 2]
                                     [--seconds 60] [--runs 3]

Starts --targets steward-demo processes, each serving --series synthetic series (plus its own
~20) on /metrics; then, per run, a fresh Prometheus (Debian's 2.42) and a fresh `steward serve`
scrape all of them every --interval seconds. After a warm-up of 3 intervals it measures, over
--seconds, for each scraper:
  - samples ingested per CPU-second (head samples appended / utime+stime of the process),
  - RSS per active series (VmRSS / head series, at the end),
  - bytes per sample on disk: the head cut into a block (Prometheus: the admin snapshot API;
    Steward: POST /api/v1/admin/tsdb/flush), block bytes / samples in it.
Prints each run, then the medians and the ratios as a Markdown table (stdout).
Nothing here is a test; numbers depend on the machine.
"""
import argparse, json, os, shutil, signal, statistics, subprocess, tempfile, time
import urllib.parse, urllib.request

from benchlib import free_port, log, wait_for


def http(url, data=None, headers=None, timeout=30):
    req = urllib.request.Request(url, data=data, headers=headers or {})
    with urllib.request.urlopen(req, timeout=timeout) as r:
        return r.read().decode()


def cpu_seconds(pid):
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def rss_bytes(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    return 0


def metric_sum(text, name):
    total, found = 0.0, False
    for line in text.splitlines():
        if line.startswith(name + " ") or line.startswith(name + "{"):
            total += float(line.rsplit(" ", 1)[1])
            found = True
    if not found:
        raise KeyError(name)
    return total


def dir_bytes(path):
    n = 0
    for root, _, files in os.walk(path):
        for f in files:
            n += os.path.getsize(os.path.join(root, f))
    return n


class Scraper:
    """One scraper under test: its pid, its /metrics URL and how to cut its head into a block."""

    def __init__(self, name, pid, metrics_url, samples_metric, series_metric, headers=None):
        self.name, self.pid, self.metrics_url = name, pid, metrics_url
        self.samples_metric, self.series_metric = samples_metric, series_metric
        self.headers = headers or {}

    def counters(self):
        text = http(self.metrics_url, headers=self.headers)
        return metric_sum(text, self.samples_metric), metric_sum(text, self.series_metric)

    def scrape_outcomes(self, seconds):
        """(ok, failed) scrapes of job demo over the last `seconds`, from its own `up` series.

        A failed scrape writes staleness markers for every series of the target, which cost
        ~16 bytes each on disk in both stores, so the disk figure is only meaningful when no
        scrape failed."""
        base = self.metrics_url.rsplit("/metrics", 1)[0]
        q = urllib.parse.urlencode({"query": f'up{{job="demo"}}[{seconds}s]'})
        reply = json.loads(http(f"{base}/api/v1/query?{q}", headers=self.headers))
        ok = failed = 0
        for series in reply["data"]["result"]:
            for _, v in series["values"]:
                if v == "1":
                    ok += 1
                else:
                    failed += 1
        return ok, failed


def start_prometheus(work, targets, interval, log_file):
    port = free_port()
    cfg = os.path.join(work, "prometheus.yml")
    with open(cfg, "w") as f:
        f.write(f"global:\n  scrape_interval: {interval}s\n  scrape_timeout: {interval}s\n"
                "scrape_configs:\n  - job_name: demo\n    static_configs:\n"
                f"      - targets: {json.dumps(targets)}\n")
    proc = subprocess.Popen(["prometheus", "--config.file=" + cfg,
                             "--storage.tsdb.path=" + os.path.join(work, "prom-data"),
                             "--web.enable-admin-api",
                             f"--web.listen-address=127.0.0.1:{port}"],
                            stdout=log_file, stderr=subprocess.STDOUT)
    wait_for(lambda: http(f"http://127.0.0.1:{port}/-/ready"), 60, "prometheus")
    return proc, port


def start_steward(steward, work, targets, interval, log_file):
    proj = os.path.join(work, "steward")
    os.makedirs(proj)
    with open(os.path.join(proj, "steward.yaml"), "w") as f:
        f.write(f"project: bench\nmonitoring: {{scrape_interval: {interval}s, "
                f"scrape_timeout: {interval}s, self_scrape: false}}\n"
                "scrape_configs:\n  - job_name: demo\n    static_configs:\n"
                f"      - targets: {json.dumps(targets)}\n")
    port = free_port()
    proc = subprocess.Popen([steward, "serve", "-f", os.path.join(proj, "steward.yaml"),
                             "--listen", f"127.0.0.1:{port}"], cwd=proj,
                            stdout=log_file, stderr=subprocess.STDOUT)
    wait_for(lambda: http(f"http://127.0.0.1:{port}/healthz"), 30, "steward serve")
    subprocess.run([steward, "apply", "-f", os.path.join(proj, "steward.yaml")], cwd=proj,
                   check=True, stdout=subprocess.DEVNULL, stderr=log_file)
    token = open(os.path.join(proj, ".steward", "api.token")).read().strip()
    return proc, port, {"Authorization": "Bearer " + token}


def prometheus_block(port, data_dir):
    reply = json.loads(http(f"http://127.0.0.1:{port}/api/v1/admin/tsdb/snapshot", data=b""))
    snap = os.path.join(data_dir, "snapshots", reply["data"]["name"])
    samples = bytes_ = 0
    for block in os.listdir(snap):
        meta = json.load(open(os.path.join(snap, block, "meta.json")))
        samples += meta["stats"]["numSamples"]
        bytes_ += dir_bytes(os.path.join(snap, block, "chunks")) + \
            os.path.getsize(os.path.join(snap, block, "index"))
    return bytes_, samples


def steward_block(port, headers):
    reply = json.loads(http(f"http://127.0.0.1:{port}/api/v1/admin/tsdb/flush", data=b"",
                            headers=headers, timeout=120))
    return reply["data"]["block_bytes"], reply["data"]["block_samples"]


def one_run(args, steward, targets, run):
    work = tempfile.mkdtemp(prefix="steward-monbench-")
    out = open(os.path.join(work, "log"), "w")
    procs = []
    try:
        prom, pport = start_prometheus(work, targets, args.interval, out)
        procs.append(prom)
        stew, sport, headers = start_steward(steward, work, targets, args.interval, out)
        procs.append(stew)
        scrapers = [
            Scraper("prometheus", prom.pid, f"http://127.0.0.1:{pport}/metrics",
                    "prometheus_tsdb_head_samples_appended_total", "prometheus_tsdb_head_series"),
            Scraper("steward", stew.pid, f"http://127.0.0.1:{sport}/metrics",
                    "steward_tsdb_head_samples_appended_total", "steward_tsdb_head_series",
                    headers),
        ]
        for s in scrapers:  # both exporting their head metrics, and a few scrapes in
            wait_for(lambda s=s: s.counters()[1] > 0, 60, s.name + "'s head metrics")
        time.sleep(max(3 * args.interval, 5))
        start = {s.name: (cpu_seconds(s.pid), s.counters()[0]) for s in scrapers}
        time.sleep(args.seconds)
        result = {}
        for s in scrapers:
            cpu = cpu_seconds(s.pid) - start[s.name][0]
            samples, series = s.counters()
            samples -= start[s.name][1]
            ok, failed = s.scrape_outcomes(args.seconds)
            result[s.name] = {"samples_per_cpu_s": samples / max(cpu, 1e-9),
                              "rss_per_series": rss_bytes(s.pid) / max(series, 1),
                              "series": series, "samples": samples, "cpu_s": cpu,
                              "scrapes_ok": ok, "scrapes_failed": failed}
            if failed:
                log(f"run {run + 1}: {s.name}: {failed} of {ok + failed} scrapes failed; "
                    "the disk figure includes their staleness markers")
        b, n = prometheus_block(pport, os.path.join(work, "prom-data"))
        result["prometheus"]["bytes_per_sample"] = b / max(n, 1)
        b, n = steward_block(sport, headers)
        result["steward"]["bytes_per_sample"] = b / max(n, 1)
        log(f"run {run + 1}: " + json.dumps(result))
        return result
    finally:
        for p in procs:
            p.send_signal(signal.SIGTERM)
        for p in procs:
            try:
                p.wait(timeout=30)
            except subprocess.TimeoutExpired:
                p.kill()
        shutil.rmtree(work, ignore_errors=True)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("build_dir")
    ap.add_argument("--targets", type=int, default=20)
    ap.add_argument("--series", type=int, default=2500)
    ap.add_argument("--interval", type=int, default=2)
    ap.add_argument("--seconds", type=int, default=60)
    ap.add_argument("--runs", type=int, default=3)
    args = ap.parse_args()
    args.build_dir = os.path.abspath(args.build_dir)
    steward = os.path.join(args.build_dir, "bin", "steward")
    demo = os.path.join(args.build_dir, "bin", "steward-demo")
    for b in (steward, demo):
        if not os.access(b, os.X_OK):
            raise SystemExit(f"bench: {b} missing")
    if not shutil.which("prometheus"):
        raise SystemExit("bench: prometheus missing; run scripts/setup")
    demos, targets = [], []
    try:
        for _ in range(args.targets):
            port = free_port()
            demos.append(subprocess.Popen([demo, "--port", str(port), "--threads", "4",
                                           "--series", str(args.series)],
                                          stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))
            targets.append(f"127.0.0.1:{port}")
        for t in targets:
            wait_for(lambda t=t: http(f"http://{t}/healthz"), 20, "steward-demo " + t)
        log(f"{args.targets} targets x ~{args.series} series, every {args.interval}s, "
            f"{args.seconds}s measured, {args.runs} runs")
        runs = [one_run(args, steward, targets, i) for i in range(args.runs)]
    finally:
        for d in demos:
            d.kill()
            d.wait()
    med = {name: {k: statistics.median(r[name][k] for r in runs) for k in runs[0][name]}
           for name in ("prometheus", "steward")}
    p, s = med["prometheus"], med["steward"]
    print(f"| measure (median of {args.runs}) | Prometheus 2.42 | Steward | ratio | aim |")
    print("|---|---|---|---|---|")
    print(f"| samples ingested per CPU-second | {p['samples_per_cpu_s']:,.0f} | "
          f"{s['samples_per_cpu_s']:,.0f} | {s['samples_per_cpu_s'] / p['samples_per_cpu_s']:.2f}x"
          " | ≥ 2x |")
    print(f"| RSS per active series | {p['rss_per_series']:,.0f} B | {s['rss_per_series']:,.0f} B"
          f" | {s['rss_per_series'] / p['rss_per_series']:.2f}x | ≤ 0.5x |")
    print(f"| bytes per sample on disk (head cut into a block) | {p['bytes_per_sample']:.3f} | "
          f"{s['bytes_per_sample']:.3f} | {s['bytes_per_sample'] / p['bytes_per_sample']:.2f}x"
          " | ≤ 1x |")
    print(f"| active series | {p['series']:,.0f} | {s['series']:,.0f} | | |")
    print(f"| failed scrapes (of all, summed over runs) | "
          f"{sum(r['prometheus']['scrapes_failed'] for r in runs):,} of "
          f"{sum(r['prometheus']['scrapes_ok'] + r['prometheus']['scrapes_failed'] for r in runs):,} | "
          f"{sum(r['steward']['scrapes_failed'] for r in runs):,} of "
          f"{sum(r['steward']['scrapes_ok'] + r['steward']['scrapes_failed'] for r in runs):,} | | 0 |")


if __name__ == "__main__":
    main()
