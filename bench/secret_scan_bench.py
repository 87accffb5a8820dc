#!/usr/bin/env python3
"""Secret scanning throughput: a large tree and a 10,000-commit git history (issue 8).

  bench/secret_scan_bench.py --build BUILD_DIR [--work DIR] [--tree-mb 1024] [--commits 10000]

Builds (once, kept in --work) a tree of real text and code — copies of /usr/include,
/usr/lib/python3 and /usr/share/perl* files — with a few planted secrets, and a git
repository of --commits commits made with `git fast-import` (a small project edited a few lines
at a time, a secret added in one commit and removed later, another on a side branch).

Runs the scanner — BUILD_DIR/bin/steward's `scan --scanners secrets` when the CLI has it, else
(or with --bench-binary) BUILD_DIR/bin/secret_scan_bench (cmake --build BUILD_DIR --target
secret_scan_bench), which calls ScanSecretsInTree / ScanSecretsInGitHistory and nothing else —
with 1 thread (MB/s per core) and with
all cores, page cache warm. Its CPU time is the children's rusage. gitleaks and trufflehog are
not in Debian 12, so the side-by-side peer is GNU grep -rE with the same pattern set (no
verification, no entropy, no masking: a floor for "read every byte and run the patterns"),
and for history `git log -p --all | grep -E`. Prints a table; asserts every planted secret
was found. Never gates CI.
"""
import argparse, json, os, random, re, resource, shutil, string, subprocess, sys, time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from benchlib import log  # noqa: E402

CORPUS_DIRS = ["/usr/include", "/usr/lib/python3", "/usr/share/perl", "/usr/share/perl5"]
R = random.Random(8)


def rnd(alphabet, n):
    return "".join(R.choice(alphabet) for _ in range(n))


AN = string.ascii_letters + string.digits
PLANTED = {
    "aws-access-key-id": "AWS_ACCESS_KEY_ID=AKIA" + rnd(string.ascii_uppercase + string.digits, 16),
    "github-token": "token: ghp_" + rnd(AN, 36),
    "stripe-secret-key": "STRIPE = 'sk_live_" + rnd(AN, 24) + "'",
    "slack-token": "SLACK = \"xoxb-" + rnd(string.digits, 12) + "-" + rnd(AN, 24) + "\"",
    "npm-token": "//registry.npmjs.org/:_authToken=npm_" + rnd(AN, 36),
    "google-api-key": "maps_key: AIza" + rnd(AN, 35),
    "generic-secret-assignment": 'DB_PASSWORD = "T7#kq9Lz!pW2"',
    "url-credentials": "url: postgres://app:Xk9Lm2Qp7Vw4@db.internal/app",
}


# ---- data ------------------------------------------------------------------------------------

def corpus(limit_bytes):
    """(relative path, bytes) of real text files, NUL-free, up to limit_bytes in total."""
    out, total = [], 0
    for root in CORPUS_DIRS:
        for d, _, files in os.walk(root):
            for f in sorted(files):
                p = os.path.join(d, f)
                try:
                    if os.path.islink(p) or os.path.getsize(p) > (1 << 20):
                        continue
                    data = open(p, "rb").read()
                except OSError:
                    continue
                if b"\0" in data[:8192]:
                    continue
                out.append((os.path.relpath(p, "/"), data))
                total += len(data)
                if total >= limit_bytes:
                    return out
    return out


def make_tree(path, mb):
    marker = os.path.join(path, ".bench-done")
    if os.path.exists(marker) and open(marker).read() == str(mb):
        return
    shutil.rmtree(path, ignore_errors=True)
    files = corpus(256 << 20)
    log(f"tree: {len(files)} corpus files, writing ~{mb} MB to {path}")
    written, copy = 0, 0
    while written < (mb << 20):
        for rel, data in files:
            p = os.path.join(path, f"copy{copy:02d}", rel)
            os.makedirs(os.path.dirname(p), exist_ok=True)
            with open(p, "wb") as f:
                f.write(data)
            written += len(data)
            if written >= (mb << 20):
                break
        copy += 1
    for i, (rule, line) in enumerate(sorted(PLANTED.items())):
        p = os.path.join(path, f"copy{i % max(copy, 1):02d}", "planted", f"{rule}.conf")
        os.makedirs(os.path.dirname(p), exist_ok=True)
        with open(p, "w") as f:
            f.write("# service configuration\n" + line + "\n")
    open(marker, "w").write(str(mb))


def make_repo(path, commits):
    """A project of 200 files edited a few lines per commit, through git fast-import."""
    marker = os.path.join(path, ".git", "bench-done")
    if os.path.exists(marker) and open(marker).read() == str(commits):
        return
    shutil.rmtree(path, ignore_errors=True)
    os.makedirs(path)
    subprocess.check_call(["git", "init", "-q", "-b", "main", path])
    # Plain words (the script's own text holds key-shaped strings).
    words = sorted(set(re.findall(r"\b[a-z]{3,10}\b", __doc__)))
    files = {f"src/mod{i:03d}/file{i:03d}.py": [f"# module {i}"] +
             [" ".join(R.choice(words) for _ in range(8)) for _ in range(120)] for i in range(200)}
    secret_line = "AWS_SECRET = 'x'\nAWS_ACCESS_KEY_ID = 'AKIA" + rnd(string.ascii_uppercase, 16) + "'"
    branch_secret = "GH_TOKEN = 'ghp_" + rnd(AN, 36) + "'"
    out = []
    t = 1700000000

    def blob_cmd(name, lines):
        data = ("\n".join(lines) + "\n").encode()
        return b"M 100644 inline " + name.encode() + b"\ndata " + str(len(data)).encode() + b"\n" + data + b"\n"

    def commit(ref, n, msg, changes, parent=None):
        c = [f"commit {ref}\nmark :{n}\nauthor Bench <b@example.org> {t + n} +0000\n"
             f"committer Bench <b@example.org> {t + n} +0000\n".encode(),
             b"data " + str(len(msg)).encode() + b"\n" + msg.encode() + b"\n"]
        if parent:
            c.append(f"from :{parent}\n".encode())
        c.extend(changes)
        c.append(b"\n")
        return b"".join(c)

    names = sorted(files)
    out.append(commit("refs/heads/main", 1, "initial", [blob_cmd(n, files[n]) for n in names]))
    for n in range(2, commits + 1):
        changes = []
        for name in R.sample(names, 2):
            lines = files[name]
            for _ in range(3):
                lines[R.randrange(1, len(lines))] = " ".join(R.choice(words) for _ in range(8))
            changes.append(blob_cmd(name, lines))
        if n == commits // 3:
            files[names[0]].append(secret_line)
            changes.append(blob_cmd(names[0], files[names[0]]))
        if n == commits // 3 + 10:
            files[names[0]] = [l for l in files[names[0]] if "AKIA" not in l and "AWS_SECRET" not in l]
            changes.append(blob_cmd(names[0], files[names[0]]))
        out.append(commit("refs/heads/main", n, f"change {n}", changes))
    side = commits + 1
    out.append(commit("refs/heads/side", side, "on a side branch",
                      [blob_cmd("side/token.py", [branch_secret])], parent=commits // 2))
    stream = b"".join(out)
    log(f"repo: {commits} commits, fast-import stream {len(stream) >> 20} MB")
    subprocess.run(["git", "-C", path, "fast-import", "--quiet"], input=stream, check=True)
    subprocess.check_call(["git", "-C", path, "checkout", "-q", "main"])
    open(marker, "w").write(str(commits))


# ---- measuring -------------------------------------------------------------------------------

def timed(cmd, **kw):
    """(wall seconds, children CPU seconds, completed process) of one run."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.time()
    p = subprocess.run(cmd, capture_output=True, **kw)
    wall = time.time() - t0
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return wall, cpu, p


def grep_patterns(work):
    """The scanner's rule patterns as GNU ERE files: case-sensitive and caseless ones."""
    header = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "src", "scan",
                          "secret_rules.cc")
    text = open(header).read()
    text = text.replace('#define ASSIGN R"(["\']?[ \\t]*(?:=|:|:=|=>)[ \\t]*)"', "")
    assign = '["\']?[ \\t]*(?:=|:|:=|=>)[ \\t]*'
    sensitive, caseless = [], []
    for m in re.finditer(r'\{"([a-z0-9-]+)", "[^"]*", S::\w+,\s*K::\w+,\s*((?:R"\(.*?\)"\s*|ASSIGN\s*)+),\s*(true|false)',
                         text, re.S):
        parts = re.findall(r'R"\((.*?)\)"|(ASSIGN)', m.group(2), re.S)
        pat = "".join(assign if a else r for r, a in parts)
        pat = pat.replace("(?:", "(").replace("\\t", "\t")
        (caseless if m.group(3) == "true" else sensitive).append(pat)
    files = []
    for name, pats in (("sensitive", sensitive), ("caseless", caseless)):
        p = os.path.join(work, f"patterns-{name}.txt")
        open(p, "w").write("\n".join(pats) + "\n")
        files.append((p, name == "caseless"))
    return files, len(sensitive) + len(caseless)


def run_grep(target, pattern_files, history_repo=None):
    env = dict(os.environ, LC_ALL="C")
    wall = cpu = 0.0
    hits = 0
    for pf, icase in pattern_files:
        flags = ["-E", "-c" if history_repo else "-rc"] + (["-i"] if icase else []) + ["-f", pf]
        if history_repo:
            cmd = ["sh", "-c", f"git -C '{history_repo}' log -p --all --no-color --format=%H | "
                               f"grep {' '.join(flags)} || true"]
        else:
            cmd = ["grep"] + flags + [target]
        w, c, p = timed(cmd, env=env)
        wall += w
        cpu += c
        hits += sum(int(x.rsplit(b":", 1)[-1] or 0) for x in p.stdout.splitlines() if x)
    return wall, cpu, hits


def steward_has_scan(steward):
    if not os.path.exists(steward):
        return False
    p = subprocess.run([steward, "scan", "--help"], capture_output=True)
    return p.returncode == 0


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--build", required=True)
    ap.add_argument("--work", default="/tmp/steward-secret-bench")
    ap.add_argument("--tree-mb", type=int, default=1024)
    ap.add_argument("--commits", type=int, default=10000)
    ap.add_argument("--bench-binary", action="store_true",
                    help="run BUILD/bin/secret_scan_bench even when `steward scan` exists")
    ap.add_argument("--skip-grep", action="store_true")
    a = ap.parse_args()
    os.makedirs(a.work, exist_ok=True)
    tree, repo = os.path.join(a.work, "tree"), os.path.join(a.work, "repo")
    make_tree(tree, a.tree_mb)
    make_repo(repo, a.commits)
    bench_bin = next((p for p in (os.path.join(a.build, "bin", "secret_scan_bench"),
                                  os.path.join(a.build, "bench", "secret_scan_bench"))
                      if os.path.exists(p)), os.path.join(a.build, "bin", "secret_scan_bench"))
    steward = os.path.join(a.build, "bin", "steward")
    use_steward = not a.bench_binary and steward_has_scan(steward)
    log("scanner: " + (f"{steward} scan" if use_steward else bench_bin))
    if not use_steward and not os.path.exists(bench_bin):
        raise SystemExit(f"bench: {bench_bin} not found; cmake --build {a.build} --target secret_scan_bench")
    cores = os.cpu_count() or 1

    subprocess.run(["sh", "-c", f"find '{tree}' -type f -exec cat {{}} + > /dev/null"])  # warm
    rows = []

    def scan(kind, target, threads):
        if use_steward:
            # --history scans the checkout too; the bench repository's tree is 200 small files.
            cmd = [steward, "scan", target, "--scanners", "secrets", "--format", "json",
                   "--fail-on", "none", "--threads", str(threads)] + \
                  (["--history"] if kind == "history" else [])
        else:
            cmd = [bench_bin, kind, target, str(threads)]
        w, c, p = timed(cmd)
        if p.returncode != 0:
            raise SystemExit(f"bench: {' '.join(cmd)} failed: {p.stderr.decode()[-2000:]}")
        if not use_steward:
            return w, c, json.loads(p.stdout.decode().strip().splitlines()[-1]), p.stderr.decode()
        doc = json.loads(p.stdout.decode())
        found = "".join(f"{f['path']}:{f['line']}:{f['column']} {f['rule']} {f['commit'][:12]}\n"
                        for f in doc["findings"])
        stats = {"files": doc["summary"]["files"], "bytes": doc["summary"]["bytes"],
                 "findings": len(doc["findings"])}
        return w, c, stats, found

    for threads in sorted({1, cores}):
        w, c, s, err = scan("tree", tree, threads)
        found = {r for r in PLANTED if re.search(rf"planted/{r}\.conf:\d+:\d+ {r}\b", err)}
        missing = set(PLANTED) - found
        if missing:
            raise SystemExit(f"bench: planted secrets not found: {sorted(missing)}")
        mb = s["bytes"] / 1e6
        rows.append(("tree", f"steward secrets ({threads} thread{'s' if threads > 1 else ''})",
                     mb, w, c, s["findings"]))
    patterns, n = grep_patterns(a.work)
    if not a.skip_grep:
        w, c, hits = run_grep(tree, patterns)
        rows.append(("tree", f"grep -rE, same {n} patterns (peer stand-in)", rows[0][2], w, c, hits))

    for threads in sorted({1, cores}):
        w, c, s, err = scan("history", repo, threads)
        planted = ("aws-access-key-id", "github-token")
        if not all(re.search(rf" {r} [0-9a-f]{{12}}", err) for r in planted):
            raise SystemExit(f"bench: history: expected the 2 planted secrets, got {s['findings']}\n{err}")
        rows.append(("history", f"steward secrets ({threads} thread{'s' if threads > 1 else ''})",
                     s["bytes"] / 1e6, w, c, s["findings"]))
        log(f"history, {threads} threads: {a.commits + 1} commits in {w:.2f} s wall, {c:.2f} s CPU "
            f"= {(a.commits + 1) / c:.0f} commits/s per core")
    if not a.skip_grep:
        w, c, hits = run_grep(None, patterns, history_repo=repo)
        rows.append(("history", "git log -p --all | grep -E (peer stand-in)", rows[-1][2], w, c, hits))

    print(f"\nsecret scan benchmark: tree {a.tree_mb} MB, history {a.commits} commits, {cores} cores")
    print(f"{'input':8} {'tool':48} {'MB':>8} {'wall s':>8} {'cpu s':>8} {'MB/s/core':>10} "
          f"{'commits/s/core':>15} {'hits':>8}")
    for kind, tool, mb, w, c, hits in rows:
        per_commit = f"{(a.commits + 1) / max(c, 1e-9):15.0f}" if kind == "history" else f"{'':15}"
        print(f"{kind:8} {tool:48} {mb:8.1f} {w:8.2f} {c:8.2f} {mb / max(c, 1e-9):10.0f} "
              f"{per_commit} {hits:8}")
    print("\nMB/s/core = bytes scanned / CPU seconds (user+sys) of the process; history bytes are the"
          " added lines scanned (git log -p's output is larger: it holds context and headers).")


if __name__ == "__main__":
    main()
