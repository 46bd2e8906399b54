"""Pieces shared by the benchmark scripts: timing, and running a fovea benchmark binary that prints
one JSON object per line."""
import argparse
import json
import os
import subprocess
import sys
import time


def median_seconds(f, budget, warmup=2, min_runs=3):
    """Runs f `warmup` times, then until `budget` seconds are spent (at least min_runs runs): the median."""
    for _ in range(warmup):
        f()
    t, total = [], 0.0
    while total < budget or len(t) < min_runs:
        t0 = time.perf_counter()
        f()
        dt = time.perf_counter() - t0
        t.append(dt)
        total += dt
    t.sort()
    return t[len(t) // 2]


def parse_args(description=None, budget=3.0, epochs=None):
    """--threads, --build and --budget (seconds per case), or --epochs where `epochs` is given."""
    ap = argparse.ArgumentParser(description=description)
    ap.add_argument("--threads", type=int, default=2)
    if epochs is None:
        ap.add_argument("--budget", type=float, default=budget)
    else:
        ap.add_argument("--epochs", type=int, default=epochs)
    ap.add_argument("--build", default=os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "build"))
    return ap.parse_args()


def run_fovea(a, name, *args):
    """Runs build/bench_NAME THREADS ARGS (default: BUDGET) on the same threads; its JSON lines as a list."""
    exe = os.path.join(a.build, "bench_" + name)
    if not os.path.exists(exe):
        sys.exit(f"bench: {exe} not found; run 'make build' first")
    env = dict(os.environ, OMP_NUM_THREADS=str(a.threads))
    argv = [exe, str(a.threads)] + [str(x) for x in (args or (a.budget,))]
    res = subprocess.run(argv, capture_output=True, text=True, env=env, check=True)
    return [json.loads(line) for line in res.stdout.splitlines()]
