#!/usr/bin/env python3
"""Backup benchmark: `steward backup` against restic (Debian's restic) on the same data, disk and
machine, in the same run.

    bench/backup_bench.py BUILD_DIR [--size-mb 1024] [--runs 3] [--increments 10]
                          [--threads 2] [--workdir DIR] [--keep]

Data set (generated once, deterministic): ~size-mb in three kinds of files, like a service's
data directory — 40% incompressible binary (media, compressed archives) in files of 1-64 MiB,
40% compressible text (logs, CSV, JSON-ish lines) in files of 64 KiB-16 MiB, 20% small files
(1-64 KiB) in nested directories.

Measured for each tool (fresh repository per run; runs alternate between the tools; medians of
--runs):
  - first backup wall time and throughput (data size / time), peak RSS;
  - restore of that snapshot into an empty folder, wall time and throughput, peak RSS;
  - check --read-data wall time.
Then one chain of --increments incremental backups per tool while the data changes between them
the same way for both (each step: 2% of the binary files get a 1 MiB region rewritten, 5% of
the text files get lines appended, 1% of the small files are replaced, a few are added and
removed): incremental backup wall time (median of the chain) and the repository size on disk
after the chain.

Before every timed command the page cache's dirty pages are flushed (sync), so neither tool
pays for the other's writes. Both tools run with a password in the environment, the same number of CPUs, warm page cache
(the data was just written or read), repositories and restores on the same file system as the
data. restic runs with its defaults (repository format 2, compression "auto"). Peak RSS is the
maximum resident set size GNU time reports. Prints a Markdown table on stdout; progress on stderr. Nothing
here is a test; numbers depend on the machine and its load.
"""
import argparse, os, random, shutil, statistics, subprocess, sys, tempfile, time

from benchlib import log

KDF = ["--kdf-ops", "2", "--kdf-memory", "64M"]


def timed(cmd, env, log_path, cwd=None):
    """Runs cmd under GNU time; returns (seconds, peak RSS in MiB) and logs the CPU time it
    took (user + system) to log_path. Exits the bench if it fails.
    (GNU time, not wait4 here: a child forked from this Python process would report Python's
    own RSS, which the fork copied, as its peak.)"""
    rss_file = log_path + ".rss"
    # Dirty pages left by the step before (a backup's packs, a restore's files) would be
    # written back during this one and charged to whichever tool runs next: flush them first.
    os.sync()
    with open(log_path, "a") as out:
        out.write("$ " + " ".join(cmd) + "\n")
        out.flush()
        t0 = time.time()
        rc = subprocess.call(["/usr/bin/time", "-f", "%M %U %S", "-o", rss_file] + cmd, stdout=out,
                             stderr=subprocess.STDOUT, env=env, cwd=cwd)
        secs = time.time() - t0
    if rc != 0:
        raise SystemExit(f"bench: {' '.join(cmd)} failed (exit {rc}); see {log_path}")
    with open(rss_file) as f:
        rss_kib, user, system = f.read().split()[-3:]
    with open(log_path, "a") as out:
        out.write(f"# {secs:.2f} s wall, {user} s user, {system} s system\n")
    return secs, int(rss_kib) / 1024.0


def dir_bytes(path):
    total = 0
    for root, _, files in os.walk(path):
        for f in files:
            try:
                total += os.lstat(os.path.join(root, f)).st_size
            except FileNotFoundError:
                pass
    return total


_LINES = []


def text_block(rng, n):
    """n bytes of log-like lines: drawn from a fixed pool of 50,000 distinct lines, so text
    compresses about as well as real logs do (not as well as one repeated line would)."""
    if not _LINES:
        pool = random.Random(7)
        words = ["GET", "POST", "/api/v1/orders", "/health", "200", "404", "500", "user_id=",
                 "latency_ms=", "INFO", "WARN", "ERROR", "checkout", "payment", "session"]
        for _ in range(50000):
            _LINES.append((f"2026-11-{pool.randint(1, 28):02d}T{pool.randint(0, 23):02d}:"
                           f"{pool.randint(0, 59):02d}:{pool.randint(0, 59):02d}Z "
                           + " ".join(pool.choice(words) + str(pool.randint(0, 99999))
                                      for _ in range(8)) + "\n").encode())
    out = b"".join(rng.choices(_LINES, k=n // 80 + 1))
    while len(out) < n:
        out += b"".join(rng.choices(_LINES, k=1000))
    return out[:n]


def generate(data, size_mb, seed=1):
    rng = random.Random(seed)
    total = size_mb << 20
    for sub in ("bin", "text", "small"):
        os.makedirs(f"{data}/{sub}")
    made = 0
    i = 0
    while made < total * 0.4:  # binary
        n = rng.randint(1, 64) << 20
        with open(f"{data}/bin/{i:04d}.bin", "wb") as f:
            f.write(rng.randbytes(n))
        made += n
        i += 1
    i = 0
    while made < total * 0.8:  # text
        n = rng.randint(64 << 10, 16 << 20)
        with open(f"{data}/text/{i:04d}.log", "wb") as f:
            f.write(text_block(rng, n))
        made += n
        i += 1
    i = 0
    while made < total:  # small files in nested directories
        n = rng.randint(1 << 10, 64 << 10)
        d = f"{data}/small/{i % 37:02d}/{i % 11:02d}"
        os.makedirs(d, exist_ok=True)
        with open(f"{d}/{i:06d}.dat", "wb") as f:
            f.write(rng.randbytes(n // 2) + text_block(rng, n - n // 2))
        made += n
        i += 1


def mutate(data, step):
    rng = random.Random(1000 + step)
    def files(sub):
        out = []
        for root, _, fs in os.walk(os.path.join(data, sub)):
            out += [os.path.join(root, f) for f in fs]
        return sorted(out)
    for path in rng.sample(files("bin"), max(1, len(files("bin")) // 50)):
        size = os.path.getsize(path)
        with open(path, "r+b") as f:
            f.seek(rng.randrange(0, max(1, size - (1 << 20))))
            f.write(rng.randbytes(1 << 20))
    for path in rng.sample(files("text"), max(1, len(files("text")) // 20)):
        with open(path, "ab") as f:
            f.write(text_block(rng, rng.randint(16 << 10, 1 << 20)))
    small = files("small")
    for path in rng.sample(small, max(1, len(small) // 100)):
        with open(path, "wb") as f:
            f.write(rng.randbytes(rng.randint(1 << 10, 64 << 10)))
    for path in rng.sample(small, max(1, len(small) // 200)):
        os.remove(path)
    for k in range(max(1, len(small) // 200)):
        d = f"{data}/small/new{step:02d}"
        os.makedirs(d, exist_ok=True)
        with open(f"{d}/{k:05d}.dat", "wb") as f:
            f.write(rng.randbytes(rng.randint(1 << 10, 64 << 10)))


class Tool:
    def __init__(self, name, repo, env, log_path):
        self.name, self.repo, self.env, self.log = name, repo, env, log_path


def steward_tool(steward, work, threads, password_file):
    env = dict(os.environ, STEWARD_PASSWORD_FILE=password_file)
    t = Tool("steward", f"{work}/steward-repo", env, f"{work}/steward.log")
    base = [steward, "backup", "--repo", t.repo]
    t.init = base + ["init"] + KDF
    t.backup = lambda data: base + ["run", "--threads", str(threads), "--host", "bench", data]
    t.restore = lambda target: base + ["restore", "latest", "--threads", str(threads),
                                       "--target", target]
    t.check = base + ["check", "--read-data"]
    return t


def restic_tool(work, threads, password_file):
    env = dict(os.environ, RESTIC_PASSWORD_FILE=password_file, GOMAXPROCS=str(threads),
               RESTIC_CACHE_DIR=f"{work}/restic-cache")
    t = Tool("restic", f"{work}/restic-repo", env, f"{work}/restic.log")
    base = ["restic", "-r", t.repo, "--no-cache"]
    t.init = base + ["init"]
    t.backup = lambda data: base + ["backup", "--host", "bench", data]
    t.restore = lambda target: base + ["restore", "latest", "--target", target]
    t.check = base + ["check", "--read-data"]
    return t


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("build_dir")
    ap.add_argument("--size-mb", type=int, default=1024)
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--increments", type=int, default=10)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--workdir", default=None)
    ap.add_argument("--keep", action="store_true")
    args = ap.parse_args()

    steward = os.path.abspath(os.path.join(args.build_dir, "bin", "steward"))
    if not os.path.exists(steward):
        raise SystemExit(f"bench: {steward} not found; build the steward target first")
    if not os.path.exists("/usr/bin/time"):
        raise SystemExit("bench: /usr/bin/time not found (Debian's time package; scripts/setup)")
    if not shutil.which("restic"):
        raise SystemExit("bench: restic not on PATH (Debian's restic package; scripts/setup)")
    work = tempfile.mkdtemp(prefix="backup-bench-", dir=args.workdir)
    password_file = f"{work}/password"
    with open(password_file, "w") as f:
        f.write("bench password\n")
    data = f"{work}/data"
    log(f"generating {args.size_mb} MiB in {data}")
    generate(data, args.size_mb)
    size = dir_bytes(data)
    tools = [steward_tool(steward, work, args.threads, password_file),
             restic_tool(work, args.threads, password_file)]

    res = {t.name: {"first": [], "first_rss": [], "restore": [], "restore_rss": [], "check": []}
           for t in tools}
    for r in range(args.runs):
        for t in (tools if r % 2 == 0 else tools[::-1]):
            shutil.rmtree(t.repo, ignore_errors=True)
            timed(t.init, t.env, t.log)
            log(f"run {r + 1}/{args.runs}: {t.name} first backup")
            secs, rss = timed(t.backup(data), t.env, t.log)
            res[t.name]["first"].append(secs)
            res[t.name]["first_rss"].append(rss)
            # A fresh folder per restore, all removed at the end: creating thousands of files
            # right after deleting thousands makes ext4 scan for inodes it may not reuse yet
            # (recently_deleted), a cost of the benchmark's cleanup rather than of restoring.
            target = f"{work}/restore-{t.name}-{r}"
            log(f"run {r + 1}/{args.runs}: {t.name} restore")
            secs, rss = timed(t.restore(target), t.env, t.log)
            res[t.name]["restore"].append(secs)
            res[t.name]["restore_rss"].append(rss)
            restored = dir_bytes(target)
            if restored != size:
                raise SystemExit(f"bench: {t.name} restored {restored} bytes, expected {size}")
            log(f"run {r + 1}/{args.runs}: {t.name} check --read-data")
            res[t.name]["check"].append(timed(t.check, t.env, t.log)[0])

    # One chain of incremental backups per tool over the same sequence of changes: both tools
    # start from their last first-backup repository and see the data after each mutation.
    incr = {t.name: [] for t in tools}
    incr_rss = {t.name: [] for t in tools}
    for step in range(args.increments):
        mutate(data, step)
        for t in (tools if step % 2 == 0 else tools[::-1]):
            log(f"increment {step + 1}/{args.increments}: {t.name}")
            secs, rss = timed(t.backup(data), t.env, t.log)
            incr[t.name].append(secs)
            incr_rss[t.name].append(rss)
    repo_size = {t.name: dir_bytes(t.repo) for t in tools}

    med = lambda xs: statistics.median(xs)
    mib = size / (1 << 20)
    s, r = res["steward"], res["restic"]
    rows = [
        ("first backup, s", med(s["first"]), med(r["first"]), False),
        ("first backup, MiB/s", mib / med(s["first"]), mib / med(r["first"]), True),
        ("incremental backup (median of chain), s", med(incr["steward"]), med(incr["restic"]), False),
        ("restore, s", med(s["restore"]), med(r["restore"]), False),
        ("restore, MiB/s", mib / med(s["restore"]), mib / med(r["restore"]), True),
        ("check --read-data, s", med(s["check"]), med(r["check"]), False),
        (f"repository after first + {args.increments} incrementals, MiB",
         repo_size["steward"] / (1 << 20), repo_size["restic"] / (1 << 20), False),
        ("peak RSS, first backup, MiB", med(s["first_rss"]), med(r["first_rss"]), False),
        ("peak RSS, incremental, MiB", max(incr_rss["steward"]), max(incr_rss["restic"]), False),
        ("peak RSS, restore, MiB", med(s["restore_rss"]), med(r["restore_rss"]), False),
    ]
    print(f"Data: {mib:.0f} MiB ({args.size_mb} MiB asked), {args.runs} runs, "
          f"{args.increments} increments, {args.threads} threads, load "
          f"{os.getloadavg()[0]:.1f}\n")
    print("| measure | steward | restic | steward vs restic |")
    print("|---|---:|---:|---:|")
    for name, a, b, higher_better in rows:
        ratio = (a / b if higher_better else b / a) if a and b else float("nan")
        better = "× faster" if "s" == name.split(", ")[-1] or "MiB/s" in name else "×"
        if "MiB" in name and "MiB/s" not in name:
            better = "× smaller" if not name.startswith("peak") else "× less"
        print(f"| {name} | {a:.2f} | {b:.2f} | {ratio:.2f}{better} |")
    print("\nEach run's restore, s: " + "; ".join(
        f"{t.name} " + ", ".join(f"{x:.2f}" for x in res[t.name]["restore"]) for t in tools))
    if not args.keep:
        shutil.rmtree(work, ignore_errors=True)
    else:
        log(f"kept {work}")


if __name__ == "__main__":
    main()
