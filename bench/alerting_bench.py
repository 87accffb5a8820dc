#!/usr/bin/env python3
"""Alerting-rule benchmark: Steward and a real Prometheus side by side, same rules, same data.

    bench/alerting_bench.py BUILD_DIR [--runs 2] [--jobs 100] [--cycles 4] [--warmup 1]
                                      [--interval 30] [--history 20] [--keep]

Writes one deterministic OpenMetrics file of --jobs x 1,000 series (100,000 by default) and
loads it into both: Prometheus (Debian's 2.42) via `promtool tsdb create-blocks-from
openmetrics`, Steward via `steward tsdb import`. Per job (20 instances each):
  - up{job, instance}: 20 gauges (a few instances are down, value 0);
  - http_requests_total{job, instance, code=200|404|500|503, path=8 paths}: 640 counters;
  - http_request_duration_seconds_bucket{job, instance, le=8 bounds}: 160 counters;
  - process_resident_memory_bytes{job, instance}: 20 gauges;
  - queue_depth{job, instance, queue=8 queues}: 160 gauges.
Samples every 15 s from --history minutes before the start until far enough past it that every
evaluation of the run sees full 5 m windows (the rules are evaluated at the current time).
One rule file holds 10 alerting rules per job (1,000 by default) in ONE group, so one
evaluation cycle is one group evaluation: error ratios of rates, per-path error ratios,
histogram_quantile by job and by instance, up == 0, absent(), threshold selectors, sums;
templated annotations; some rules fire, most do not.

Each run starts a fresh `prometheus` and a fresh `steward serve --data-dir --rule-file`, one
after the other (the order alternates between runs), each on its own for --warmup + --cycles
evaluations at --interval seconds. Measured per server: the median of
<prefix>_rule_group_last_duration_seconds over the --cycles evaluations after the warm-up (read
from /metrics each time the group's last-evaluation timestamp moves), the CPU seconds the
process used per cycle over the same span, and its RSS at the end (VmRSS) and at peak (VmHWM).
After each server's cycles, the set of active alerts (labels and state) from /api/v1/alerts is
compared between the two servers of the run; a difference is printed and the script fails.
Prints a Markdown table on stdout. Nothing here is a test; numbers depend on the machine.
"""
import argparse, json, os, shutil, signal, statistics, subprocess, tempfile, time
import urllib.request

from benchlib import free_port, log, noise, run, steward_and_prometheus, wait_for

STEP = 15
INSTANCES = 20
CODES = [("200", 10.0), ("404", 0.5), ("500", 0.1), ("503", 0.05)]
PATHS = [f"/api/p{p}" for p in range(8)]
QUEUES = [f"q{q}" for q in range(8)]
LE = ["0.05", "0.1", "0.25", "0.5", "1", "2.5", "5", "+Inf"]
# Cumulative shares per bucket: p90 ~0.35 s, p99 ~0.83 s; a slow job: p90 ~2 s, p99 ~4.5 s.
FAST = [0.4, 0.7, 0.85, 0.98, 0.995, 1.0, 1.0, 1.0]
SLOW = [0.1, 0.2, 0.4, 0.6, 0.8, 0.95, 1.0, 1.0]
GROUP = "bench"


def job_name(j):
    return f"j{j:03d}"


def bad_job(j):  # many 5xx, above all on one path
    return j % 25 == 3


def low_traffic_job(j):
    return j % 40 == 9


def slow_job(j):
    return j % 20 == 7


def counter_lines(lab, sid, rate, times):
    v, out = 0.0, []
    for k, t in enumerate(times):
        v += STEP * rate * (0.9 + 0.2 * noise(sid, k))
        out.append(f"{lab}{v:.3f} {t}\n")
    return "".join(out)


def gauge_lines(lab, sid, base, spread, times):
    return "".join(f"{lab}{base + spread * noise(sid, k):.1f} {t}\n" for k, t in enumerate(times))


def write_data(path, times, jobs):
    """The OpenMetrics file, one family after the other, each series' samples in time order."""
    pairs = [(j, i) for j in range(jobs) for i in range(INSTANCES)]
    inst = lambda j, i: f'job="{job_name(j)}",instance="i-{i:02d}"'
    with open(path, "w") as f:
        w = f.write
        w("# TYPE up gauge\n")
        for j, i in pairs:
            down = (j * INSTANCES + i) % 97 == 5
            w("".join(f"up{{{inst(j, i)}}} {0 if down else 1} {t}\n" for t in times))
        w("# TYPE http_requests counter\n")
        for j, i in pairs:
            for c, (code, base) in enumerate(CODES):
                for p, path_ in enumerate(PATHS):
                    rate = base
                    if code == "200" and low_traffic_job(j):
                        rate = 0.5
                    if code == "500" and bad_job(j):
                        rate = 5.0 if p == 3 else 1.0
                    sid = ((j * INSTANCES + i) * 4 + c) * 8 + p
                    lab = f'http_requests_total{{{inst(j, i)},code="{code}",path="{path_}"}} '
                    w(counter_lines(lab, sid, rate, times))
        w("# TYPE http_request_duration_seconds histogram\n")
        for j, i in pairs:
            sid = 10**7 + j * INSTANCES + i
            total, cum = 0, []
            for k in range(len(times)):
                total += int(20 + 10 * noise(sid, k))
                cum.append(total)
            shares = SLOW if slow_job(j) else FAST
            for b, le in enumerate(LE):
                lab = f'http_request_duration_seconds_bucket{{{inst(j, i)},le="{le}"}} '
                w("".join(f"{lab}{int(c * shares[b])} {t}\n" for c, t in zip(cum, times)))
        w("# TYPE process_resident_memory_bytes gauge\n")
        for j, i in pairs:
            sid = 2 * 10**7 + j * INSTANCES + i
            high = sid % 151 == 0
            w(gauge_lines(f"process_resident_memory_bytes{{{inst(j, i)}}} ", sid,
                          2e9 if high else 3e8, 4e8, times))
        w("# TYPE queue_depth gauge\n")
        for j, i in pairs:
            for q, queue in enumerate(QUEUES):
                sid = 3 * 10**7 + (j * INSTANCES + i) * 8 + q
                if sid % 211 == 0:
                    base = 1000  # one instance's queue backed up
                elif j % 33 == 1 and q == 0:
                    base = 600  # a whole job's queue backed up
                else:
                    base = 100
                lab = f'queue_depth{{{inst(j, i)},queue="{queue}"}} '
                w(gauge_lines(lab, sid, base, 100 if base > 100 else 200, times))
        w("# EOF\n")


def rules_for_job(j):
    """Ten alerting rules over one job's 1,000 series: (name, expr, for, severity, summary)."""
    s = f'job="{job_name(j)}"'
    ratio = lambda by, limit: (
        f'sum by ({by}) (rate(http_requests_total{{{s},code=~"5.."}}[5m])) / '
        f"sum by ({by}) (rate(http_requests_total{{{s}}}[5m])) > {limit}")
    absent_sel = f'up{{{s},env="canary"}}' if j % 50 == 0 else f"up{{{s}}}"
    return [
        ("JobErrorRatioHigh", ratio("job", 0.05), "30s", "page",
         "{{ $labels.job }}: {{ $value | humanizePercentage }} of requests failed"),
        ("PathErrorRatioHigh", ratio("job, path", 0.2), "0s", "warning",
         "{{ $labels.job }} {{ $labels.path }}: {{ $value | humanizePercentage }} errors"),
        ("JobLatencyP99High",
         "histogram_quantile(0.99, sum by (job, le) "
         f"(rate(http_request_duration_seconds_bucket{{{s}}}[5m]))) > 1", "0s", "page",
         "{{ $labels.job }} p99 latency is {{ $value | humanizeDuration }}"),
        ("InstanceLatencyP90High",
         "histogram_quantile(0.9, sum by (job, instance, le) "
         f"(rate(http_request_duration_seconds_bucket{{{s}}}[5m]))) > 0.5", "0s", "warning",
         "{{ $labels.instance }} p90 latency is {{ $value | printf \"%.2f\" }} s"),
        ("InstanceDown", f"up{{{s}}} == 0", "0s", "page",
         "{{ $labels.instance }} of {{ $labels.job }} is down"),
        ("JobAbsent", f"absent({absent_sel})", "0s", "page",
         "no up series for {{ $labels.job }}"),
        ("QueueBacklog", f"queue_depth{{{s}}} > 900", "0s", "warning",
         "{{ $labels.instance }} queue {{ $labels.queue }} holds {{ $value }} items"),
        ("QueueSumHigh", f"sum by (job, queue) (queue_depth{{{s}}}) > 8000", "0s", "warning",
         "{{ $labels.job }} queue {{ $labels.queue }} holds {{ $value | humanize }} items"),
        ("MemoryHigh", f"process_resident_memory_bytes{{{s}}} > 1.5e9", "0s", "warning",
         "{{ $labels.instance }} uses {{ $value | humanize1024 }}B"),
        ("TrafficLow", f'sum by (job) (rate(http_requests_total{{{s},code="200"}}[5m])) < 100',
         "0s", "warning", "{{ $labels.job }} serves {{ $value | humanize }} req/s"),
    ]


def write_rules(path, jobs):
    q = lambda text: json.dumps(text)  # a JSON string is a valid YAML double-quoted scalar
    with open(path, "w") as f:
        f.write(f"groups:\n  - name: {GROUP}\n    rules:\n")
        for j in range(jobs):
            for name, expr, for_, severity, summary in rules_for_job(j):
                f.write(f"      - alert: {name}\n        expr: {q(expr)}\n")
                if for_ != "0s":
                    f.write(f"        for: {for_}\n")
                f.write(f"        labels:\n          severity: {severity}\n"
                        f"          team: t{j:03d}\n"
                        f"        annotations:\n          summary: {q(summary)}\n")


def http_get(url, headers=None, timeout=30):
    req = urllib.request.Request(url, headers=headers or {})
    with urllib.request.urlopen(req, timeout=timeout) as r:
        return r.read().decode()


def proc_status(pid, field):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1]) * 1024
    return 0


def cpu_seconds(pid):
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def group_metrics(text, prefix):
    """(last duration, last evaluation timestamp) of the bench group from a /metrics page."""
    got = {}
    for line in text.splitlines():
        for key, name in (("dur", "_rule_group_last_duration_seconds{"),
                          ("ts", "_rule_group_last_evaluation_timestamp_seconds{")):
            if line.startswith(prefix + name) and f';{GROUP}"' in line:
                got[key] = float(line.rsplit(" ", 1)[1])
    return got.get("dur"), got.get("ts")


class Server:
    """One server under test: its process, its base URL, its metric prefix and API headers."""

    def __init__(self, name, proc, port, prefix, headers=None):
        self.name, self.proc, self.prefix = name, proc, prefix
        self.base, self.headers = f"http://127.0.0.1:{port}", headers or {}

    def group(self):
        return group_metrics(http_get(self.base + "/metrics"), self.prefix)

    def alerts(self):
        reply = json.loads(http_get(self.base + "/api/v1/alerts", self.headers))
        return reply["data"]["alerts"]

    def stop(self):
        try:
            os.killpg(self.proc.pid, signal.SIGTERM)
            self.proc.wait(timeout=60)
        except (subprocess.TimeoutExpired, ProcessLookupError):
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait()


def load_prometheus(work, om):
    blocks = os.path.join(work, "prom-data")
    secs = run(["promtool", "tsdb", "create-blocks-from", "openmetrics", om, blocks],
               os.path.join(work, "promtool.log"))
    log(f"promtool loaded the data in {secs:.1f} s")
    return blocks


def start_prometheus(work, blocks, rules, interval, run_no):
    cfg = os.path.join(work, "prometheus.yml")
    with open(cfg, "w") as f:
        f.write(f"global:\n  evaluation_interval: {interval}s\n"
                f"rule_files: [{json.dumps(rules)}]\nscrape_configs: []\n"
                # Rule results (ALERTS) are appended at "now", inside the loaded blocks' range.
                "storage:\n  tsdb:\n    out_of_order_time_window: 1d\n")
    port = free_port()
    proc = subprocess.Popen(["prometheus", "--config.file=" + cfg, "--storage.tsdb.path=" + blocks,
                             "--storage.tsdb.retention.time=36500d",
                             f"--web.listen-address=127.0.0.1:{port}"],
                            stdout=open(os.path.join(work, f"prometheus-{run_no}.log"), "w"),
                            stderr=subprocess.STDOUT, start_new_session=True)
    s = Server("Prometheus", proc, port, "prometheus")
    wait_for(lambda: http_get(s.base + "/-/ready") is not None, 120, "Prometheus")
    return s


def load_steward(steward, work, om):
    data = os.path.join(work, "steward-data")
    secs = run([steward, "tsdb", "import", om, "--data-dir", data],
               os.path.join(work, "steward-import.log"), cwd=work)
    log(f"steward tsdb import loaded the data in {secs:.1f} s")
    return data


def start_steward(steward, work, data, rules, interval, run_no):
    token_path = os.path.join(data, "api.token")
    if os.path.exists(token_path):
        os.remove(token_path)  # a new one per start; wait for it below
    port = free_port()
    proc = subprocess.Popen([steward, "serve", "--data-dir", data, "--listen",
                             f"127.0.0.1:{port}", "--rule-file", rules,
                             "--evaluation-interval", f"{interval}s"], cwd=work,
                            stdout=open(os.path.join(work, f"steward-{run_no}.log"), "w"),
                            stderr=subprocess.STDOUT, start_new_session=True)
    wait_for(lambda: os.path.getsize(token_path) > 0, 120, "the steward API token")
    token = open(token_path).read().strip()
    s = Server("Steward", proc, port, "steward", {"Authorization": "Bearer " + token})
    wait_for(lambda: http_get(s.base + "/metrics") is not None, 120, "steward serve")
    return s


def measure(s, warmup, cycles, interval):
    """Durations of --cycles group evaluations after --warmup, CPU per cycle and RSS."""
    durations, last_ts, cpu0 = [], None, None
    deadline = time.time() + (warmup + cycles + 4) * interval + 120
    seen = 0
    while len(durations) < cycles:
        if time.time() > deadline or s.proc.poll() is not None:
            raise SystemExit(f"bench: {s.name} did not evaluate the group {warmup + cycles} "
                             f"times (seen {seen}); see its log")
        dur, ts = s.group()
        if ts and ts != last_ts and dur is not None:
            last_ts, seen = ts, seen + 1
            if seen == warmup:
                cpu0 = cpu_seconds(s.proc.pid)
            elif seen > warmup:
                durations.append(dur)
        time.sleep(0.25)
    cpu = (cpu_seconds(s.proc.pid) - cpu0) / cycles
    return {"median": statistics.median(durations), "min": min(durations),
            "max": max(durations), "cpu_per_cycle": cpu,
            "rss": proc_status(s.proc.pid, "VmRSS"), "hwm": proc_status(s.proc.pid, "VmHWM"),
            "alerts": s.alerts()}


def alert_key(a):
    return (tuple(sorted(a["labels"].items())), a["state"])


def compare_alerts(res):
    """Fails loudly unless both servers hold the same alerts (labels and state)."""
    p, s = ({alert_key(a): a for a in res[n]["alerts"]} for n in ("Prometheus", "Steward"))
    only_p, only_s = sorted(set(p) - set(s)), sorted(set(s) - set(p))
    if only_p or only_s:
        for name, keys in (("Prometheus", only_p), ("Steward", only_s)):
            for k in keys[:20]:
                log(f"MISMATCH: only {name} has {k[1]} {dict(k[0])}")
        raise SystemExit(f"bench: the alerts differ: {len(only_p)} only in Prometheus, "
                         f"{len(only_s)} only in Steward (of {len(p)} / {len(s)})")
    # Steward may add annotations of its own (runbook_url); Prometheus' must match.
    differ = [k for k in p if any(s[k]["annotations"].get(n) != v
                                  for n, v in p[k]["annotations"].items())]
    if differ:  # templated $value moves between the two servers' evaluation times
        k = differ[0]
        log(f"annotations differ on {len(differ)} alerts (values evaluated at other times), "
            f"e.g. {dict(k[0])}: {p[k]['annotations']} vs {s[k]['annotations']}")
    return len(p), sum(1 for k in p if k[1] == "firing"), len(differ)


def one_run(args, steward, work, blocks, data, rules, run_no):
    order = ["Prometheus", "Steward"] if run_no % 2 == 0 else ["Steward", "Prometheus"]
    res = {}
    for name in order:
        if name == "Prometheus":
            s = start_prometheus(work, blocks, rules, args.interval, run_no)
        else:
            s = start_steward(steward, work, data, rules, args.interval, run_no)
        try:
            res[name] = measure(s, args.warmup, args.cycles, args.interval)
        finally:
            s.stop()
        log(f"run {run_no + 1}: {name}: median {res[name]['median'] * 1000:.0f} ms "
            f"(min {res[name]['min'] * 1000:.0f}, max {res[name]['max'] * 1000:.0f}), "
            f"CPU {res[name]['cpu_per_cycle']:.2f} s per cycle, "
            f"RSS {res[name]['rss'] / 2**20:.0f} MiB, peak {res[name]['hwm'] / 2**20:.0f} MiB, "
            f"{len(res[name]['alerts'])} alerts")
    res["alerts"], res["firing"], res["annotations_differ"] = compare_alerts(res)
    return res


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("build_dir")
    ap.add_argument("--runs", type=int, default=2)
    ap.add_argument("--jobs", type=int, default=100, help="1,000 series and 10 rules per job")
    ap.add_argument("--cycles", type=int, default=4, help="evaluations measured per server")
    ap.add_argument("--warmup", type=int, default=1, help="evaluations skipped first")
    ap.add_argument("--interval", type=int, default=30, help="evaluation interval, seconds")
    ap.add_argument("--history", type=int, default=20, help="minutes of data before the start")
    ap.add_argument("--keep", action="store_true", help="keep the work directory")
    args = ap.parse_args()
    steward = steward_and_prometheus(args.build_dir)
    work = tempfile.mkdtemp(prefix="steward-alertbench-")
    try:
        now = int(time.time())
        # Past the start: writing and loading the data (a few minutes) plus every run.
        ahead = 600 + args.runs * 2 * (args.warmup + args.cycles + 4) * args.interval
        times = range(now - args.history * 60, now + ahead + 1, STEP)
        om, rules = os.path.join(work, "data.om"), os.path.join(work, "rules.yml")
        t0 = time.time()
        write_data(om, times, args.jobs)
        write_rules(rules, args.jobs)
        log(f"wrote {args.jobs * 1000:,} series x {len(times)} samples "
            f"({os.path.getsize(om) / 1e6:.0f} MB) in {time.time() - t0:.1f} s; "
            f"{args.jobs * 10:,} rules; data until {ahead // 60} min from now")
        blocks = load_prometheus(work, om)
        data = load_steward(steward, work, om)
        os.remove(om)
        runs = [one_run(args, steward, work, blocks, data, rules, r) for r in range(args.runs)]
        if time.time() > now + ahead - 300:
            log("WARNING: the run outlived the data's look-ahead; raise it")
        report(args, runs)
    finally:
        if args.keep:
            log("kept", work)
        else:
            shutil.rmtree(work, ignore_errors=True)


def report(args, runs):
    med = lambda name, k: statistics.median(r[name][k] for r in runs)
    ms = lambda v: f"{v * 1000:,.0f} ms"
    mib = lambda v: f"{v / 2**20:,.0f} MiB"
    print(f"One evaluation cycle of {args.jobs * 10:,} alerting rules over {args.jobs * 1000:,} "
          f"series (one group, every {args.interval} s). Each run: median of {args.cycles} "
          f"cycles after {args.warmup} warm-up; the table gives the median over "
          f"{args.runs} runs.\n")
    print("| Measure | Prometheus 2.42 | Steward | ratio | aim |")
    print("|---|---:|---:|---:|---:|")
    rows = [("group evaluation time (last_duration)", "median", ms, "≤ 0.5×"),
            ("CPU time per cycle (process utime+stime)", "cpu_per_cycle", ms, ""),
            ("RSS after the cycles (VmRSS)", "rss", mib, ""),
            ("peak RSS (VmHWM)", "hwm", mib, "")]
    for label, k, f, aim in rows:
        p, s = med("Prometheus", k), med("Steward", k)
        print(f"| {label} | {f(p)} | {f(s)} | **{s / p:.2f}×** | {aim} |")
    print("\nPer run (evaluation time median, min–max; ratio):\n")
    for i, r in enumerate(runs):
        p, s = r["Prometheus"], r["Steward"]
        print(f"- run {i + 1}: Prometheus {ms(p['median'])} ({ms(p['min'])}–{ms(p['max'])}), "
              f"Steward {ms(s['median'])} ({ms(s['min'])}–{ms(s['max'])}); "
              f"{s['median'] / p['median']:.2f}×; alerts {r['alerts']} "
              f"({r['firing']} firing) agree, annotations differ on {r['annotations_differ']}")


if __name__ == "__main__":
    main()
