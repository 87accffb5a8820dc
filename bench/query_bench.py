#!/usr/bin/env python3
"""PromQL query benchmark: Steward and a real Prometheus side by side, same data, same run.

    bench/query_bench.py BUILD_DIR [--runs 30] [--cpu-instances 1000] [--keep]

Writes one deterministic OpenMetrics file and loads it into both: Prometheus (Debian's 2.42) via
`promtool tsdb create-blocks-from openmetrics`, Steward via `steward tsdb import`; then starts
`prometheus` (no scraping) and `steward serve --data-dir` on free ports of 127.0.0.1. The data:
  - bench_cpu_seconds_total{instance=i-0000.., mode=10 modes}: --cpu-instances x 10 counters
    (10,000 by default), every 60 s over the last 3 h;
  - bench_http_requests_total{job=4, instance=25, code=200|500}: 200 counters, every 60 s
    over 24 h;
  - bench_latency_seconds_{bucket,sum,count}{job=4, instance=5}: 20 histograms of 12 buckets,
    every 60 s over 24 h.
Each query of QUERIES runs once to warm up, then --runs times against each server, alternating
servers; latency is measured by the client (wall time of the HTTP request on a kept-alive
connection). Reported per query: p50 and p99 for both, the ratios Steward/Prometheus, and the
peak samples (stats=all: data.stats.samples.peakSamples) of one extra run, and each server's
RSS once the query's runs are done. At the end the
servers' RSS before the queries, after them (anonymous and file-backed apart: both
servers mmap their blocks) and at peak (VmHWM). Prints a Markdown table on
stdout. Nothing here is a test; numbers depend on the machine.
"""
import argparse, http.client, json, math, os, shutil, signal, subprocess, tempfile
import time, urllib.parse

from benchlib import free_port, log, noise, run, steward_and_prometheus, wait_for

STEP = 60
CPU_SPAN = 3 * 3600
LONG_SPAN = 24 * 3600
MODES = ["idle", "user", "system", "iowait", "irq", "softirq", "steal", "nice", "guest", "other"]
LE = ["0.005", "0.01", "0.025", "0.05", "0.1", "0.25", "0.5", "1", "2.5", "5", "10", "+Inf"]
JOBS = ["api", "web", "auth", "billing"]

# (name, kind, expr, range seconds back from the end or None for instant)
QUERIES = [
    ("rate over counters", "instant", "rate(bench_http_requests_total[5m])", None),
    ("error ratio alert", "instant",
     'sum by (job) (rate(bench_http_requests_total{code="500"}[5m])) / '
     "sum by (job) (rate(bench_http_requests_total[5m])) > 0.01", None),
    ("sum by over 10k series", "instant", "sum by (mode) (rate(bench_cpu_seconds_total[5m]))",
     None),
    ("sum by instance, 10k series", "instant",
     "sum by (instance) (rate(bench_cpu_seconds_total[5m]))", None),
    ("histogram_quantile", "instant",
     "histogram_quantile(0.99, sum by (job, le) (rate(bench_latency_seconds_bucket[5m])))", None),
    ("1 h range, 10k series", "range", "sum by (mode) (rate(bench_cpu_seconds_total[5m]))", 3600),
    ("24 h range: rate by job", "range", "sum by (job) (rate(bench_http_requests_total[5m]))",
     LONG_SPAN),
    ("24 h range: histogram_quantile", "range",
     "histogram_quantile(0.95, sum by (le) (rate(bench_latency_seconds_bucket[5m])))", LONG_SPAN),
]


def write_data(path, end, cpu_instances):
    """The OpenMetrics file: families one after the other, each series' samples in time order."""
    with open(path, "w") as f:
        w = f.write
        w("# TYPE bench_cpu_seconds counter\n")
        times = range(end - CPU_SPAN, end + 1, STEP)
        for i in range(cpu_instances):
            for m, mode in enumerate(MODES):
                sid, v = i * 16 + m, 0.0
                lab = f'bench_cpu_seconds_total{{instance="i-{i:04d}",mode="{mode}"}} '
                lines = []
                for k, t in enumerate(times):
                    v += STEP * (0.5 + noise(sid, k)) / (m + 1)
                    lines.append(f"{lab}{v:.3f} {t}\n")
                w("".join(lines))
        times = range(end - LONG_SPAN, end + 1, STEP)
        w("# TYPE bench_http_requests counter\n")
        for j, job in enumerate(JOBS):
            for i in range(25):
                for code, scale in (("200", 20.0), ("500", 0.3)):
                    sid, v = 100000 + j * 100 + i * 2 + (code == "500"), 0.0
                    lab = (f'bench_http_requests_total{{job="{job}",instance="h-{i:02d}",'
                           f'code="{code}"}} ')
                    lines = []
                    for k, t in enumerate(times):
                        v += STEP * scale * (0.5 + noise(sid, k))
                        lines.append(f"{lab}{v:.3f} {t}\n")
                    w("".join(lines))
        w("# TYPE bench_latency_seconds histogram\n")
        shares = [0.05, 0.1, 0.15, 0.2, 0.15, 0.12, 0.08, 0.06, 0.04, 0.03, 0.015, 0.005]
        for j, job in enumerate(JOBS):
            for i in range(5):
                base = f'job="{job}",instance="h-{i:02d}"'
                sid = 200000 + j * 10 + i
                per_step = [int(50 + 100 * noise(sid, k)) for k in range(len(times))]
                cum_obs = []
                total = 0
                for n in per_step:
                    total += n
                    cum_obs.append(total)
                for b, le in enumerate(LE):
                    frac = sum(shares[: b + 1]) if le != "+Inf" else 1.0
                    lab = f'bench_latency_seconds_bucket{{{base},le="{le}"}} '
                    w("".join(f"{lab}{math.floor(c * frac)} {t}\n" for c, t in zip(cum_obs, times)))
                lab = f"bench_latency_seconds_sum{{{base}}} "
                w("".join(f"{lab}{c * 0.21:.3f} {t}\n" for c, t in zip(cum_obs, times)))
                lab = f"bench_latency_seconds_count{{{base}}} "
                w("".join(f"{lab}{c} {t}\n" for c, t in zip(cum_obs, times)))
        w("# EOF\n")


class Server:
    def __init__(self, name, proc, port, headers):
        self.name, self.proc, self.port, self.headers = name, proc, port, headers
        self.conn = http.client.HTTPConnection("127.0.0.1", port, timeout=120)

    def get(self, path):
        """(HTTP status, parsed body) on the kept-alive connection."""
        code, body = self.get_raw(path)
        return code, json.loads(body) if body else None

    def get_raw(self, path):
        """(HTTP status, body bytes) on the kept-alive connection; reconnects once."""
        for attempt in (0, 1):
            try:
                self.conn.request("GET", path, headers=self.headers)
                r = self.conn.getresponse()
                return r.status, r.read()
            except (http.client.HTTPException, OSError):
                self.conn.close()
                self.conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=120)
                if attempt:
                    raise

    def status(self, field):
        with open(f"/proc/{self.proc.pid}/status") as f:
            for line in f:
                if line.startswith(field + ":"):
                    return int(line.split()[1]) * 1024
        return 0


def start_prometheus(work, om):
    blocks = os.path.join(work, "prom-data")
    secs = run(["promtool", "tsdb", "create-blocks-from", "openmetrics", om, blocks],
               os.path.join(work, "promtool.log"))
    log(f"promtool loaded the data in {secs:.1f} s")
    cfg = os.path.join(work, "prometheus.yml")
    with open(cfg, "w") as f:
        f.write("global:\n  scrape_interval: 1m\nscrape_configs: []\n")
    port = free_port()
    proc = subprocess.Popen(["prometheus", "--config.file=" + cfg, "--storage.tsdb.path=" + blocks,
                             "--storage.tsdb.retention.time=36500d",
                             f"--web.listen-address=127.0.0.1:{port}"],
                            stdout=open(os.path.join(work, "prometheus.log"), "w"),
                            stderr=subprocess.STDOUT, start_new_session=True)
    s = Server("Prometheus", proc, port, {})
    wait_for(lambda: _ready(port), 120, "Prometheus")
    return s


def _ready(port):
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
    c.request("GET", "/-/ready")
    return c.getresponse().status == 200


def start_steward(steward, work, om):
    proj = os.path.join(work, "steward")
    data = os.path.join(proj, "data")
    os.makedirs(proj)
    secs = run([steward, "tsdb", "import", om, "--data-dir", data],
               os.path.join(work, "steward-import.log"), cwd=proj)
    log(f"steward tsdb import loaded the data in {secs:.1f} s")
    port = free_port()
    proc = subprocess.Popen([steward, "serve", "--data-dir", data, "--listen", f"127.0.0.1:{port}"],
                            cwd=proj, stdout=open(os.path.join(work, "steward.log"), "w"),
                            stderr=subprocess.STDOUT, start_new_session=True)
    token_paths = [os.path.join(proj, ".steward", "api.token"), os.path.join(data, "api.token")]

    def token():
        for p in token_paths:
            if os.path.exists(p):
                return open(p).read().strip()
        return None

    wait_for(lambda: token() is not None, 60, "the steward API token")
    s = Server("Steward", proc, port, {"Authorization": "Bearer " + token()})
    wait_for(lambda: s.get("/api/v1/query?query=1")[0] not in (0, 401), 120, "steward serve")
    return s


def query_path(expr, kind, span, end, stats=False):
    q = {"query": expr}
    if kind == "instant":
        q["time"] = str(end)
    else:
        q.update(start=str(end - span), end=str(end), step=str(STEP))
    if stats:
        q["stats"] = "all"
    return ("/api/v1/query?" if kind == "instant" else "/api/v1/query_range?") + \
        urllib.parse.urlencode(q)


def percentile(values, p):
    v = sorted(values)
    k = max(0, min(len(v) - 1, math.ceil(p / 100 * len(v)) - 1))
    return v[k]


def fmt_ms(s):
    return f"{s * 1000:.1f}" if s < 1 else f"{s * 1000:.0f}"


def measure(servers, expr, kind, span, end, runs):
    """Latencies per server (alternating), the peak samples and the series count. A server that
    answers the warm-up with an error is left out of the timing and reported as failing."""
    path = query_path(expr, kind, span, end)
    lat = {s.name: [] for s in servers}
    info = {}
    for s in servers:
        code, body = s.get(path)  # warm-up; also the answer's size
        if code != 200:
            err = (body or {}).get("error", "") if isinstance(body, dict) else ""
            log(f"{s.name} failed {expr}: HTTP {code} {err[:200]}")
            info[s.name] = {"series": None, "peak": None, "error": f"HTTP {code}"}
            continue
        info[s.name] = {"series": len(body["data"]["result"])}
        code, body = s.get(query_path(expr, kind, span, end, stats=True))
        st = (body or {}).get("data", {}).get("stats", {}).get("samples", {})
        info[s.name]["peak"] = st.get("peakSamples")
    live = [s for s in servers if "error" not in info[s.name]]
    for _ in range(runs):
        for s in live:
            t0 = time.perf_counter()
            code, _ = s.get_raw(path)  # the answer is read in full, not parsed
            lat[s.name].append(time.perf_counter() - t0)
            if code != 200:
                raise SystemExit(f"bench: {s.name} failed {expr} with {code} after a success")
    return lat, info


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("build_dir")
    ap.add_argument("--runs", type=int, default=30)
    ap.add_argument("--cpu-instances", type=int, default=1000)
    ap.add_argument("--keep", action="store_true", help="keep the work directory")
    args = ap.parse_args()
    steward = steward_and_prometheus(args.build_dir)
    work = tempfile.mkdtemp(prefix="steward-querybench-")
    end = int(time.time()) // 3600 * 3600 - 3 * 3600
    servers = []
    try:
        om = os.path.join(work, "data.om")
        t0 = time.time()
        write_data(om, end, args.cpu_instances)
        log(f"wrote {os.path.getsize(om) / 1e6:.0f} MB of OpenMetrics in {time.time() - t0:.1f} s")
        servers = [start_prometheus(work, om), start_steward(steward, work, om)]
        rss0 = {s.name: {f: s.status(f) for f in ("VmRSS", "RssAnon")} for s in servers}
        rows = []
        for name, kind, expr, span in QUERIES:
            log("query:", name)
            lat, info = measure(servers, expr, kind, span, end, args.runs)
            for srv in servers:
                info[srv.name]["rss"] = srv.status("VmRSS")
            rows.append((name, kind, expr, span, lat, info))
        report(args, rows, servers, rss0)
    finally:
        for s in servers:
            os.killpg(s.proc.pid, signal.SIGKILL)
            s.proc.wait()
        if args.keep:
            log("kept", work)
        else:
            shutil.rmtree(work, ignore_errors=True)


def report(args, rows, servers, rss0):
    p, st = servers[0].name, servers[1].name
    print(f"PromQL queries, {args.runs} runs each after one warm-up; latency in ms measured by "
          f"the client; peak samples from stats=all.\n")
    print(f"| Query | Series out | {p} p50 | {st} p50 | ratio | {p} p99 | {st} p99 | ratio "
          f"| {p} peak samples | {st} peak samples | RSS after, {p} / {st} |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    for name, kind, expr, span, lat, info in rows:
        cells = {}
        for srv in (p, st):
            if info[srv].get("error"):
                cells[srv] = (info[srv]["error"], None, None)
            else:
                cells[srv] = (info[srv]["series"], percentile(lat[srv], 50),
                              percentile(lat[srv], 99))
        (sp, a50, a99), (ss, b50, b99) = cells[p], cells[st]
        series = sp if sp == ss else f"{sp} / {ss}"
        ms = lambda v: fmt_ms(v) if v is not None else "–"
        ratio = lambda b, a: f"{b / a:.2f}" if a and b else "–"
        print(f"| {name} | {series} | {ms(a50)} | {ms(b50)} | {ratio(b50, a50)} "
              f"| {ms(a99)} | {ms(b99)} | {ratio(b99, a99)} | {info[p]['peak']} "
              f"| {info[st]['peak']} | {info[p]['rss'] / 2**20:.0f} / "
              f"{info[st]['rss'] / 2**20:.0f} MiB |")
    print()
    print("| Server | RSS before queries | RSS after | growth | of which anonymous | "
          "file-backed (mmap) after | peak RSS (VmHWM) |")
    print("|---|---:|---:|---:|---:|---:|---:|")
    mib = lambda b: f"{b / 2**20:.0f} MiB"
    for s in servers:
        before = rss0[s.name]
        after, hwm = s.status("VmRSS"), s.status("VmHWM")
        anon, file = s.status("RssAnon"), s.status("RssFile")
        print(f"| {s.name} | {mib(before['VmRSS'])} | {mib(after)} "
              f"| {(after - before['VmRSS']) / 2**20:+.0f} MiB "
              f"| {(anon - before['RssAnon']) / 2**20:+.0f} MiB | {mib(file)} | {mib(hwm)} |")
    print("\nQueries:")
    for name, kind, expr, span, _, _ in rows:
        where = "instant" if kind == "instant" else f"range {span // 3600} h, step {STEP} s"
        print(f"- {name} ({where}): `{expr}`")


if __name__ == "__main__":
    main()
