"""Helpers shared by the side-by-side benchmarks (monitor_bench.py, query_bench.py)."""
import socket, sys, time


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
