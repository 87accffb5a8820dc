"""Helpers shared by the side-by-side benchmarks (monitor, query and alerting benches)."""
import os, shutil, socket, subprocess, sys, time


def log(*a):
    print("bench:", *a, file=sys.stderr, flush=True)


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    p = s.getsockname()[1]
    s.close()
    return p


def wait_for(cond, timeout, what):
    """Polls cond() every 0.2 s (exceptions count as "not yet") until it is true or timeout."""
    end = time.time() + timeout
    while time.time() < end:
        try:
            if cond():
                return
        except Exception:
            pass
        time.sleep(0.2)
    raise SystemExit("bench: timed out waiting for " + what)


def noise(a, b):
    """A deterministic value in [0, 1) from two integers."""
    x = (a * 0x9E3779B97F4A7C15 ^ (b + 0x632BE59BD9B4E019) * 0xC2B2AE3D27D4EB4F) & (2**64 - 1)
    x ^= x >> 29
    x = (x * 0xBF58476D1CE4E5B9) & (2**64 - 1)
    x ^= x >> 32
    return (x >> 11) / 2.0**53


def run(cmd, log_path, **kw):
    """Runs cmd with its output in log_path; exits the bench if it fails; returns seconds."""
    with open(log_path, "w") as out:
        t0 = time.time()
        rc = subprocess.call(cmd, stdout=out, stderr=subprocess.STDOUT, **kw)
    if rc != 0:
        raise SystemExit(f"bench: {' '.join(cmd)} failed (exit {rc}); see {log_path}")
    return time.time() - t0


def steward_and_prometheus(build_dir):
    """The steward binary of build_dir; exits the bench unless it and prometheus/promtool exist."""
    steward = os.path.abspath(os.path.join(build_dir, "bin", "steward"))
    if not os.path.exists(steward):
        raise SystemExit(f"bench: {steward} not found; build the steward target first")
    for tool in ("prometheus", "promtool"):
        if not shutil.which(tool):
            raise SystemExit(f"bench: {tool} not on PATH (Debian's prometheus package)")
    return steward
