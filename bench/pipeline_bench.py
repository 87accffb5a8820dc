#!/usr/bin/env python3
"""Pipeline benchmark: Steward's runner against make on the same DAG of no-op steps, and a fully
cached re-run.

    bench/pipeline_bench.py BUILD_DIR [--runs 5] [--jobs 2] [--keep]
                            [--only wide|wide-matrix|layers|plain|cache]

(a) Scheduling overhead. DAGs of no-op steps (`run: "true"`):
  - wide:        1,000 independent jobs, one step each (issue 6's "1,000 no-op steps");
  - wide-matrix: the same 1,000 steps as 5 matrix jobs of 200 instances;
  - layers:      10 layers of 100, each step needing every step of the layer before (9
                 barriers): 10 matrix jobs of 100 chained by `needs` (a matrix need waits for
                 every instance, which is the barrier);
  - plain:       500 independent jobs, one step each.
  The parser allows 5,000 jobs per pipeline and 1,024 matrix combinations per job (before
  2026-11-27: 500 and 256, which is why the matrix variants exist). Each as a Steward pipeline run
  with `steward run NAME --jobs 2 --no-sandbox --in-place`, and as the equivalent Makefile
  (phony targets, the same prerequisites per step, recipe `@true`) run with `make -j2`. Runs
  alternate between the two tools; medians of --runs are compared.
(b) Cache. 200 independent jobs, each with `cache: {inputs: [src/jNNN.txt], outputs: [out/jNNN]}`
  copying its input to its output. A first run fills the cache (timed once); then --runs fully
  cached re-runs are timed (every job must end "cached").

Wall time is the whole `steward run` process (start, parse, store, every job, summary). For
where the time goes, each Steward run's records are read back with `steward run show N --json`:
the span from the run's start to its last job's finish, the time before the first job started,
and the jobs' own durations. Prints a Markdown table on stdout; progress on stderr. Nothing here
is a test; numbers depend on the machine and its load.
"""
import argparse, json, os, shutil, statistics, subprocess, tempfile, time
from datetime import datetime

from benchlib import log, run

WIDE, LAYERS, PER_LAYER, CACHED = 1000, 10, 100, 200
# wide-matrix: WIDE_JOBS matrix jobs of WIDE / WIDE_JOBS instances each.
WIDE_JOBS, PLAIN = 5, 500


def matrix_dag(jobs, per_job, chained):
    """(instance, [instances it needs]) for make; the pipeline is `jobs` matrix jobs of
    `per_job` instances, each job needing the one before when chained (a barrier: every
    instance waits for every instance of the job before, as a matrix need does)."""
    dag = []
    for j in range(jobs):
        prev = [f"m{j - 1}_{i:03d}" for i in range(per_job)] if chained and j else []
        dag += [(f"m{j}_{i:03d}", prev) for i in range(per_job)]
    return dag


def matrix_yaml(name, jobs, per_job, chained):
    out = [f"project: bench\npipelines:\n  {name}:\n    jobs:\n"]
    for j in range(jobs):
        out.append(f"      m{j}:\n")
        if chained and j:
            out.append(f"        needs: [m{j - 1}]\n")
        out.append(f"        matrix:\n          i: [{', '.join(str(i) for i in range(per_job))}]\n")
        out.append('        steps:\n          - run: "true"\n')
    return "".join(out)


def plain_dag(count):
    return [(f"j{i:04d}", []) for i in range(count)]


def plain_yaml(name, count):
    out = [f"project: bench\npipelines:\n  {name}:\n    jobs:\n"]
    for job, _ in plain_dag(count):
        out.append(f'      {job}:\n        steps:\n          - run: "true"\n')
    return "".join(out)


# name -> (label, DAG for make, pipeline YAML)
DAGS = {
    "wide": ("1,000 independent `true` jobs", lambda: plain_dag(WIDE),
             lambda: plain_yaml("wide", WIDE)),
    "wide-matrix": ("1,000 independent `true` steps (5 matrix jobs × 200)",
             lambda: matrix_dag(WIDE_JOBS, WIDE // WIDE_JOBS, False),
             lambda: matrix_yaml("wide-matrix", WIDE_JOBS, WIDE // WIDE_JOBS, False)),
    "layers": ("10 layers × 100 `true` steps (10 matrix jobs in a chain)",
               lambda: matrix_dag(LAYERS, PER_LAYER, True),
               lambda: matrix_yaml("layers", LAYERS, PER_LAYER, True)),
    "plain": ("500 independent `true` jobs", lambda: plain_dag(PLAIN),
              lambda: plain_yaml("plain", PLAIN)),
}


def makefile(dag):
    names = [j for j, _ in dag]
    out = [f".PHONY: all {' '.join(names)}\nall: {' '.join(names)}\n"]
    for job, needs in dag:
        out.append(f"{job}: {' '.join(needs)}\n\t@true\n")
    return "".join(out)


def cached_yaml(name):
    out = [f"project: bench\npipelines:\n  {name}:\n    jobs:\n"]
    for i in range(CACHED):
        j = f"j{i:03d}"
        out.append(f"      {j}:\n        cache:\n          inputs: [src/{j}.txt]\n"
                   f"          outputs: [out/{j}]\n        steps:\n"
                   f"          - run: mkdir -p out/{j} && cp src/{j}.txt out/{j}/\n")
    return "".join(out)


def ms(stamp):
    return datetime.fromisoformat(stamp.replace("Z", "+00:00")).timestamp() * 1000


def last_run(steward, cwd):
    out = subprocess.run([steward, "runs", "--json", "--limit", "1"], cwd=cwd,
                         capture_output=True, text=True, check=True).stdout
    run_id = json.loads(out)["runs"][0]["id"]
    shown = subprocess.run([steward, "run", "show", str(run_id), "--json"], cwd=cwd,
                           capture_output=True, text=True, check=True).stdout
    return json.loads(shown)


def breakdown(record):
    """Where a run's time went, from its records (ms): before the first job, the span of the
    jobs, and the mean recorded job duration."""
    start = ms(record["started_at"])
    jobs = [j for j in record["jobs"] if j.get("started_at") and j.get("finished_at")]
    first = min(ms(j["started_at"]) for j in jobs)
    last = max(ms(j["finished_at"]) for j in jobs)
    took = [ms(j["finished_at"]) - ms(j["started_at"]) for j in jobs]
    statuses = {}
    for j in record["jobs"]:
        statuses[j["status"]] = statuses.get(j["status"], 0) + 1
    return {"before_first_job": first - start, "jobs_span": last - first,
            "to_record_end": ms(record["finished_at"]) - last,
            "mean_job": statistics.mean(took), "statuses": statuses}


def steward_run(steward, cwd, name, jobs, logs):
    cmd = [steward, "run", name, "--jobs", str(jobs), "--no-sandbox", "--in-place"]
    secs = run(cmd, logs, cwd=cwd)
    return secs, breakdown(last_run(steward, cwd))


def fmt_ms(v):
    return f"{v:,.0f} ms"


def bench_dag(steward, root, name, args):
    _, make_dag, yaml_text = DAGS[name]
    dag = make_dag()
    d = os.path.join(root, name)
    os.makedirs(d)
    with open(os.path.join(d, "steward.yaml"), "w") as f:
        f.write(yaml_text())
    with open(os.path.join(d, "Makefile"), "w") as f:
        f.write(makefile(dag))
    st, mk, parts = [], [], []
    for r in range(args.runs):
        order = ["steward", "make"] if r % 2 == 0 else ["make", "steward"]
        for tool in order:
            if tool == "make":
                mk.append(run(["make", "-j", str(args.jobs), "-s", "all"],
                              os.path.join(root, f"{name}-make.log"), cwd=d))
            else:
                secs, b = steward_run(steward, d, name, args.jobs,
                                      os.path.join(root, f"{name}-steward.log"))
                if b["statuses"] != {"success": len(dag)}:
                    raise SystemExit(f"bench: {name}: unexpected job statuses {b['statuses']}")
                st.append(secs)
                parts.append(b)
        log(f"{name} run {r + 1}: steward {st[-1]:.2f} s, make {mk[-1]:.2f} s")
    med = lambda key: statistics.median(p[key] for p in parts)
    return {"steward": st, "make": mk, "before_first_job": med("before_first_job"),
            "jobs_span": med("jobs_span"), "to_record_end": med("to_record_end"),
            "mean_job": med("mean_job")}


def bench_cache(steward, root, args):
    name = "cached"
    d = os.path.join(root, name)
    os.makedirs(os.path.join(d, "src"))
    for i in range(CACHED):
        with open(os.path.join(d, "src", f"j{i:03d}.txt"), "w") as f:
            f.write(f"input {i}\n" * 64)
    with open(os.path.join(d, "steward.yaml"), "w") as f:
        f.write(cached_yaml(name))
    logs = os.path.join(root, "cached-steward.log")
    first, b = steward_run(steward, d, name, args.jobs, logs)
    if b["statuses"] != {"success": CACHED}:
        raise SystemExit(f"bench: cache: first run's job statuses {b['statuses']}")
    log(f"cache first run: {first:.2f} s")
    again, parts = [], []
    for r in range(args.runs):
        shutil.rmtree(os.path.join(d, "out"))  # restored from the cache, not left over
        secs, b = steward_run(steward, d, name, args.jobs, logs)
        if b["statuses"] != {"cached": CACHED}:
            raise SystemExit(f"bench: cache: re-run's job statuses {b['statuses']}")
        if not os.path.exists(os.path.join(d, "out", "j199", "j199.txt")):
            raise SystemExit("bench: cache: a cached re-run did not restore out/j199")
        again.append(secs)
        parts.append(b)
        log(f"cache re-run {r + 1}: {secs:.2f} s")
    med = lambda key: statistics.median(p[key] for p in parts)
    return {"first": first, "again": again, "before_first_job": med("before_first_job"),
            "jobs_span": med("jobs_span"), "to_record_end": med("to_record_end"),
            "mean_job": med("mean_job")}


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("build_dir")
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--jobs", type=int, default=2)
    ap.add_argument("--only", choices=list(DAGS) + ["cache"])
    ap.add_argument("--keep", action="store_true", help="keep the temporary directory")
    args = ap.parse_args()
    steward = os.path.abspath(os.path.join(args.build_dir, "bin", "steward"))
    if not os.path.exists(steward):
        raise SystemExit(f"bench: {steward} not found; build the steward target first")
    if not os.path.exists(os.path.join(os.path.dirname(steward), "steward-shim")):
        log("note: no steward-shim next to steward: each step starts below a fork() of steward "
            "(the slower fallback); build the steward target to get it")
    if not shutil.which("make"):
        raise SystemExit("bench: make not on PATH")
    helptext = subprocess.run([steward, "run", "--help"], capture_output=True, text=True).stdout
    for flag in ("--jobs", "--no-sandbox", "--in-place"):
        if flag not in helptext:
            raise SystemExit(f"bench: `steward run` has no {flag} flag in this build")

    root = tempfile.mkdtemp(prefix="steward-pipeline-bench-")
    log("working in", root)
    started = time.strftime("%Y-%m-%d %H:%M:%S")
    load = os.getloadavg()[0]
    results = {}
    try:
        for name in DAGS:
            if args.only in (None, name):
                results[name] = bench_dag(steward, root, name, args)
        if args.only in (None, "cache"):
            results["cache"] = bench_cache(steward, root, args)
    finally:
        if not args.keep:
            shutil.rmtree(root, ignore_errors=True)

    print(f"Started {started}, load average {load:.1f} at the start, "
          f"{os.getloadavg()[0]:.1f} at the end; --runs {args.runs}, --jobs {args.jobs}.\n")
    print("| Measure (median) | make -j | Steward | ratio | aim |")
    print("|---|---:|---:|---:|---:|")
    for key, (label, _, _) in DAGS.items():
        if key not in results:
            continue
        r = results[key]
        m, s = statistics.median(r["make"]), statistics.median(r["steward"])
        print(f"| {label} | {m:.2f} s | {s:.2f} s | **{s / m:.1f}×** | ≤ 1.5× |")
    if "cache" in results:
        c = results["cache"]
        print(f"| 200 cached jobs, first run (fills the cache) | | {c['first']:.2f} s | | |")
        print(f"| 200 cached jobs, fully cached re-run | | "
              f"**{statistics.median(c['again']):.2f} s** | | < 1 s |")
    print("\nWhere Steward's time goes (medians, from `steward run show N --json`):\n")
    print("| Pipeline | wall | run start → first job | first job → last job | "
          "last job → run end | mean job |")
    print("|---|---:|---:|---:|---:|---:|")
    for key in list(DAGS) + ["cache"]:
        if key not in results:
            continue
        r = results[key]
        wall = statistics.median(r["steward"] if key != "cache" else r["again"])
        print(f"| {key} | {fmt_ms(wall * 1000)} | {fmt_ms(r['before_first_job'])} | "
              f"{fmt_ms(r['jobs_span'])} | {fmt_ms(r['to_record_end'])} | "
              f"{r['mean_job']:.1f} ms |")
    for key in results:
        r = results[key]
        runs = r["steward"] if key != "cache" else r["again"]
        extra = f"; make {', '.join(f'{v:.2f}' for v in r['make'])}" if "make" in r else ""
        log(f"{key}: steward {', '.join(f'{v:.2f}' for v in runs)}{extra}")


if __name__ == "__main__":
    main()
