#!/usr/bin/python3
"""Runs each libFuzzer target of a `fuzz` preset build for a fixed time and prints, per target, the
executions, their rate, the coverage reached (edges and features, as libFuzzer counts them), the
corpus size and the findings (`make fuzz`, docs/fuzzing.md).

Limits, the same for every target: at most 512 MB in one allocation (-malloc_limit_mb: a header
that claims a huge tensor must be refused before allocating), 2 GB in all, 10 s per input.

Usage: fuzz/run.py --build build-fuzz [--seconds 60] [--jobs 1] TARGET...
--jobs runs that many targets at once (one core each).
Exit status 1 when any target found a crash, a leak, a timeout or an allocation over the limit in
this run: the input is under BUILD/findings/TARGET/ (copy it to fuzz/regressions/TARGET/ with the fix).
"""
import argparse
import concurrent.futures
import os
import re
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))


def run(build, target, seconds):
    exe = os.path.join(build, f"fuzz_{target}")
    if not os.path.exists(exe):
        sys.exit(f"fuzz/run.py: {exe} not found (make fuzz builds it)")
    corpus = os.path.join(build, "corpus", target)
    findings = os.path.join(build, "findings", target)
    os.makedirs(corpus, exist_ok=True)
    os.makedirs(findings, exist_ok=True)
    args = [exe, corpus, os.path.join(HERE, "corpus", target), f"-max_total_time={seconds}", "-timeout=10",
            "-rss_limit_mb=2048", "-malloc_limit_mb=512", "-max_len=65536", "-print_final_stats=1",
            f"-artifact_prefix={findings}/"]
    dictionary = os.path.join(HERE, "dict", f"{target}.dict")
    if os.path.exists(dictionary):
        args.append(f"-dict={dictionary}")
    env = dict(os.environ, ASAN_OPTIONS="detect_leaks=1:allocator_may_return_null=0", OMP_NUM_THREADS="1")
    started = time.time()
    p = subprocess.run(args, capture_output=True, text=True, env=env)
    log = p.stdout + p.stderr
    with open(os.path.join(build, f"fuzz_{target}.log"), "w") as f:
        f.write(log)
    stat = dict(re.findall(r"stat::(\w+):\s+(\d+)", log))
    cov = re.findall(r"cov: (\d+) ft: (\d+) corp: (\d+)", log)
    # this run's findings only: older ones are either fixed or found again
    found = sorted(f for f in os.listdir(findings) if os.path.getmtime(os.path.join(findings, f)) >= started)
    return {"target": target, "runs": int(stat.get("number_of_executed_units", 0)),
            "per_sec": int(stat.get("average_exec_per_sec", 0)), "cov": int(cov[-1][0]) if cov else 0,
            "ft": int(cov[-1][1]) if cov else 0, "corpus": len(os.listdir(corpus)), "rc": p.returncode,
            "findings": found}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--build", default=os.path.join(HERE, "..", "build-fuzz"))
    ap.add_argument("--seconds", type=int, default=60)
    ap.add_argument("--jobs", type=int, default=1)
    ap.add_argument("targets", nargs="+")
    a = ap.parse_args()

    def one(t):
        sys.stdout.write(f"fuzzing {t} for {a.seconds} s ...\n")  # one write: the targets run in threads
        sys.stdout.flush()
        return run(a.build, t, a.seconds)

    with concurrent.futures.ThreadPoolExecutor(max(1, a.jobs)) as pool:
        rows = list(pool.map(one, a.targets))
    print(f"\n{'target':12} {'executions':>12} {'exec/s':>8} {'edges':>7} {'features':>9} {'corpus':>7}  findings")
    for r in rows:
        print(f"{r['target']:12} {r['runs']:12,} {r['per_sec']:8,} {r['cov']:7,} {r['ft']:9,} {r['corpus']:7,}  "
              + (", ".join(r["findings"]) if r["findings"] else "none"))
    total = sum(r["runs"] for r in rows)
    bad = [r for r in rows if r["findings"] or r["rc"] != 0]
    print(f"{total:,} executions in all; " + (f"findings in {', '.join(r['target'] for r in bad)} (logs: "
                                                f"{a.build}/fuzz_TARGET.log)" if bad else "no finding"))
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
