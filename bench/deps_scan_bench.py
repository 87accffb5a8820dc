#!/usr/bin/env python3
"""Dependency scanning benchmark (issue 8's aim: a 2,000-package lockfile against a
100,000-advisory OSV directory in under 2 s).

    bench/deps_scan_bench.py BUILD_DIR [--advisories 100000] [--packages 2000] [--runs 5]
                             [--workdir DIR] [--keep]

Needs BUILD_DIR/bin/deps_scan_bench (cmake --build BUILD_DIR --target deps_scan_bench).

Data (generated once per size into --workdir, deterministic, reused while the sizes match):
  - an OSV directory shaped like osv.dev's per-ecosystem exports: one JSON file per advisory in
    a folder per ecosystem (npm 40%, PyPI 20%, Packagist 15%, RubyGems 10%, Go 10%, crates.io 5%),
    GHSA-style documents of 1-4 KB — aliases, summary, Markdown details, a CVSS v3 vector,
    one or two affected packages with one to three SEMVER/ECOSYSTEM ranges (some with
    last_affected), sometimes an explicit versions list, references, database_specific; about
    four advisories per package name, as in the real npm data;
  - a project with one package-lock.json (v3) of --packages npm packages, all named by some
    advisory, at versions of which roughly one in ten falls inside a range.

Each run is a fresh process over the warm page cache: ScanDependencies (walk, parse the
lockfile, read every advisory file, keep and index those naming a scanned package, match) timed
whole, wall and CPU (all threads); the same process then loads and indexes the whole database,
without the scan's package filter, for comparison. Prints a Markdown table (median, min and
max of --runs) on stdout; progress on stderr. Nothing here is a test; numbers depend on the
machine and its load, so the table gives the load average too.
"""
import argparse, json, os, random, resource, shutil, statistics, subprocess, sys, tempfile

from benchlib import log

ECOSYSTEMS = [("npm", 0.40, "SEMVER"), ("PyPI", 0.20, "ECOSYSTEM"), ("Packagist", 0.15, "ECOSYSTEM"),
              ("RubyGems", 0.10, "ECOSYSTEM"), ("Go", 0.10, "SEMVER"), ("crates.io", 0.05, "SEMVER")]
WORDS = ("the parser request header buffer overflow allows remote attackers to cause denial of "
         "service via crafted input prototype pollution in function when handling untrusted "
         "regular expression path traversal arbitrary code execution through deserialization of "
         "cookies sanitizer bypass leads cross site scripting server side request forgery").split()
CVSS = ["CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H", "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:N/I:N/A:H",
        "CVSS:3.1/AV:N/AC:L/PR:N/UI:R/S:C/C:L/I:L/A:N", "CVSS:3.1/AV:L/AC:H/PR:L/UI:N/S:U/C:L/I:N/A:N",
        "CVSS:3.1/AV:N/AC:H/PR:N/UI:N/S:U/C:H/I:N/A:N"]
GHSA = "23456789cfghjmpqrvwx"


def package_name(eco, i):
    if eco == "npm":
        return f"@scope{i % 97}/pkg-{i}" if i % 5 == 0 else f"pkg-{i}"
    if eco == "Go":
        return f"github.com/org{i % 211}/module{i}"
    if eco == "Packagist":
        return f"vendor{i % 131}/package-{i}"
    return f"package_{i}"


def version(rng, eco, major_max=5):
    v = f"{rng.randint(0, major_max)}.{rng.randint(0, 20)}.{rng.randint(0, 30)}"
    return v


def advisory(rng, n, eco, rtype, names):
    gid = "GHSA-" + "-".join("".join(rng.choice(GHSA) for _ in range(4)) for _ in range(3))
    affected = []
    for _ in range(1 if rng.random() < 0.85 else 2):
        ranges = []
        for _ in range(rng.choice((1, 1, 1, 2, 3))):
            lo = version(rng, eco)
            parts = [int(x) for x in lo.split(".")]
            hi = f"{parts[0]}.{parts[1]}.{parts[2] + rng.randint(1, 9)}"
            events = [{"introduced": "0" if rng.random() < 0.1 else lo}]
            events.append({"last_affected": hi} if rng.random() < 0.1 else {"fixed": hi})
            ranges.append({"type": rtype, "events": events})
        entry = {"package": {"ecosystem": eco, "name": rng.choice(names)}, "ranges": ranges,
                 "database_specific": {"source": "https://github.com/github/advisory-database"}}
        if rng.random() < 0.2:
            entry["versions"] = [version(rng, eco) for _ in range(rng.randint(1, 12))]
        affected.append(entry)
    details = " ".join(rng.choice(WORDS) for _ in range(rng.randint(40, 400)))
    return {
        "schema_version": "1.4.0", "id": gid, "modified": "2024-03-01T12:00:00Z",
        "published": "2023-01-15T08:30:00Z", "aliases": [f"CVE-2023-{10000 + n}"],
        "summary": " ".join(rng.choice(WORDS) for _ in range(rng.randint(4, 10))),
        "details": "### Impact\n" + details + "\n\n### Patches\nUpgrade to a fixed version.",
        "severity": [{"type": "CVSS_V3", "score": rng.choice(CVSS)}],
        "affected": affected,
        "references": [{"type": "WEB", "url": f"https://example.invalid/{gid}/{k}"}
                       for k in range(rng.randint(3, 6))],
        "database_specific": {"cwe_ids": [f"CWE-{rng.randint(20, 1000)}"],
                              "severity": rng.choice(("LOW", "MODERATE", "HIGH", "CRITICAL")),
                              "github_reviewed": True, "github_reviewed_at": "2023-01-16T00:00:00Z",
                              "nvd_published_at": None},
    }


def generate(work, n_adv, n_pkg):
    stamp = os.path.join(work, f"stamp-{n_adv}-{n_pkg}")
    if os.path.exists(stamp):
        log("reusing generated data in", work)
        return
    shutil.rmtree(os.path.join(work, "osv"), ignore_errors=True)
    shutil.rmtree(os.path.join(work, "project"), ignore_errors=True)
    rng = random.Random(8)
    npm_names = []
    total_bytes = 0
    for eco, share, rtype in ECOSYSTEMS:
        count = int(n_adv * share) if eco != "crates.io" else n_adv - sum(
            int(n_adv * s) for e, s, _ in ECOSYSTEMS if e != "crates.io")
        names = [package_name(eco, i) for i in range(max(1, count // 4))]
        if eco == "npm":
            npm_names = names
        folder = os.path.join(work, "osv", eco)
        os.makedirs(folder)
        for n in range(count):
            a = advisory(rng, n, eco, rtype, names)
            text = json.dumps(a, indent=2)
            total_bytes += len(text)
            with open(os.path.join(folder, a["id"] + ".json"), "w") as f:
                f.write(text)
        log(f"generated {count} {eco} advisories")
    packages = {"": {"name": "bench", "version": "1.0.0"}}
    for name in rng.sample(npm_names, min(n_pkg, len(npm_names))):
        packages["node_modules/" + name] = {
            "version": version(rng, "npm"),
            "resolved": f"https://registry.npmjs.org/{name}/-/x.tgz",
            "integrity": "sha512-" + "A" * 86 + "==", "dev": rng.random() < 0.3}
    os.makedirs(os.path.join(work, "project"))
    with open(os.path.join(work, "project", "package-lock.json"), "w") as f:
        json.dump({"name": "bench", "lockfileVersion": 3, "requires": True, "packages": packages},
                  f, indent=2)
    log(f"OSV directory: {total_bytes / 1e6:.0f} MB of JSON")
    open(stamp, "w").close()


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("build_dir")
    ap.add_argument("--advisories", type=int, default=100000)
    ap.add_argument("--packages", type=int, default=2000)
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--workdir")
    ap.add_argument("--keep", action="store_true")
    args = ap.parse_args()
    binary = os.path.abspath(os.path.join(args.build_dir, "bin", "deps_scan_bench"))
    if not os.path.exists(binary):
        raise SystemExit(f"bench: {binary} not found; cmake --build {args.build_dir} --target deps_scan_bench")
    work = args.workdir or tempfile.mkdtemp(prefix="steward-deps-bench-")
    os.makedirs(work, exist_ok=True)
    try:
        generate(work, args.advisories, args.packages)
        results = []
        for run in range(args.runs):
            before = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
            out = subprocess.run([binary, os.path.join(work, "project"), os.path.join(work, "osv")],
                                 check=True, capture_output=True, text=True).stdout
            r = json.loads(out)
            r["rss_mb"] = max(before, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss) / 1024
            results.append(r)
            log(f"run {run + 1}: {r['seconds']:.3f} s, {r['findings']} findings")
        secs = [r["seconds"] for r in results]
        loads = [r["load_seconds"] for r in results]
        last = results[-1]
        print(f"| dependency scan | {args.packages} npm packages vs {last['advisories']} advisories |")
        print("|---|---|")
        print(f"| whole scan (walk, parse, load DB, match), median of {args.runs} | "
              f"{statistics.median(secs):.3f} s (min {min(secs):.3f}, max {max(secs):.3f}) |")
        cpus = [r["cpu_seconds"] for r in results]
        print(f"| CPU time of the whole scan (all threads), median | {statistics.median(cpus):.3f} s |")
        print(f"| loading and indexing all {last['advisories']} advisories (no package filter), median "
              f"| {statistics.median(loads):.3f} s |")
        print(f"| machine | {os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.1f} |")
        print(f"| findings / problems | {last['findings']} / {last['problems']} |")
        print(f"| peak RSS | {max(r['rss_mb'] for r in results):.0f} MiB |")
        print(f"| aim | < 2 s: {'met' if statistics.median(secs) < 2 else 'NOT met'} |")
    finally:
        if not args.keep and not args.workdir:
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
