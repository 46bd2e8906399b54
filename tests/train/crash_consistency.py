#!/usr/bin/python3
"""Crash-consistent run directories: `fovea train` killed with SIGKILL at random moments (a tiny
run whose every epoch writes both checkpoints, so many kills land inside a checkpoint write),
then after each kill:
  - last.safetensors and best.safetensors, where present, are complete safetensors files (the
    header parses and the data offsets cover the file exactly; an atomic rename leaves either
    the previous version or the new one);
  - metrics.json, where present, parses;
  - `fovea train --resume` (or, when no checkpoint was written yet, a fresh run) finishes the run.
A full disk during a checkpoint write (ENOSPC injected into write(2) by an LD_PRELOAD shim for
the checkpoint's temporary file) leaves the previous checkpoint intact and stops with a clear
error.

Usage: crash_consistency.py --fovea build/fovea --work DIR [--kills 50] [--shim libenospc.so]
"""
import argparse
import json
import os
import random
import shutil
import signal
import struct
import subprocess
import sys
import time

FAILURES = []


def check(ok, what):
    print(("ok    " if ok else "FAIL  ") + what)
    if not ok:
        FAILURES.append(what)
    return ok


def complete_safetensors(path):
    """'' when path is a whole safetensors file, else what is wrong."""
    data = open(path, "rb").read()
    if len(data) < 8:
        return f"{len(data)} bytes"
    (n,) = struct.unpack("<Q", data[:8])
    if 8 + n > len(data):
        return f"header of {n} bytes in a {len(data)}-byte file"
    try:
        header = json.loads(data[8:8 + n])
    except ValueError as e:
        return f"header is not JSON: {e}"
    end = max([v["data_offsets"][1] for k, v in header.items() if k != "__metadata__"] or [0])
    if 8 + n + end != len(data):
        return f"data ends at {8 + n + end}, the file at {len(data)}"
    return ""


def train_cmd(fovea, out, epochs, *extra):
    return [fovea, "train", "--model", "lenet5", "--limit-train", "64", "--limit-test", "32", "--batch-size", "32",
            "--epochs", str(epochs), "--seed", "0", "--threads", "1", "--quiet", "--out", out, *extra]


def kills(a, epochs):
    rng = random.Random(1)
    # how long an uninterrupted run takes, to spread the kills over it
    t0 = time.time()
    subprocess.run(train_cmd(a.fovea, "timing", epochs), capture_output=True, check=True)
    whole = time.time() - t0
    print(f"      an uninterrupted run of {epochs} epochs takes {whole:.2f} s")
    reference = json.load(open("timing/metrics.json"))
    done_final = in_write = 0
    for k in range(a.kills):
        out = f"kill{k}"
        shutil.rmtree(out, ignore_errors=True)
        p = subprocess.Popen(train_cmd(a.fovea, out, epochs), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        if k % 3 == 0:
            # inside a checkpoint write: the moment its temporary file appears (after a random number of them)
            wanted, seen, t0 = rng.randrange(1, 2 * epochs), set(), time.time()
            while p.poll() is None and time.time() - t0 < 3 * whole + 5:
                tmp = [f for f in os.listdir(out) if f.endswith(".tmp")] if os.path.isdir(out) else []
                seen.update(tmp)
                if len(seen) >= wanted:
                    break
        else:
            time.sleep(rng.uniform(0.05, whole * 0.95))
        p.send_signal(signal.SIGKILL)
        p.wait()
        in_write += any(f.endswith(".tmp") for f in os.listdir(out)) if os.path.isdir(out) else 0
        bad = []
        for f in ("last.safetensors", "best.safetensors"):
            path = os.path.join(out, f)
            if os.path.exists(path):
                why = complete_safetensors(path)
                if why:
                    bad.append(f"{f}: {why}")
        if os.path.exists(os.path.join(out, "metrics.json")):
            try:
                json.load(open(os.path.join(out, "metrics.json")))
            except ValueError as e:
                bad.append(f"metrics.json: {e}")
        had_last = os.path.exists(os.path.join(out, "last.safetensors"))
        resume = train_cmd(a.fovea, out, epochs, "--resume") if had_last else train_cmd(a.fovea, out, epochs)
        r = subprocess.run(resume, capture_output=True, text=True)
        if r.returncode != 0:
            bad.append(f"{'--resume' if had_last else 'a fresh run'} failed ({r.returncode}): {r.stderr.strip()[-300:]}")
        else:
            m = json.load(open(os.path.join(out, "metrics.json")))
            if len(m["epochs"]) != epochs:
                bad.append(f"the finished run has {len(m['epochs'])} epochs, expected {epochs}")
            elif m["epochs"][-1]["test_accuracy"] != reference["epochs"][-1]["test_accuracy"]:
                bad.append(f"the finished run's last top-1 {m['epochs'][-1]['test_accuracy']} differs from the "
                           f"uninterrupted run's {reference['epochs'][-1]['test_accuracy']}")
            for f in ("last.safetensors", "best.safetensors"):
                why = complete_safetensors(os.path.join(out, f))
                if why:
                    bad.append(f"after the resume, {f}: {why}")
            done_final += 1
        leftovers = [f for f in os.listdir(out) if f.endswith(".tmp")]
        if leftovers:
            bad.append(f"temporary files left after the resume: {leftovers}")
        check(not bad, f"kill {k + 1}: " + ("; ".join(bad) if bad else
                                             f"files whole, {'resumed' if had_last else 'restarted'} to the end"))
        shutil.rmtree(out, ignore_errors=True)
    print(f"      {in_write} of the kills left a checkpoint's temporary file: they landed inside a write")
    check(in_write >= a.kills // 6, f"at least {a.kills // 6} kills landed inside a checkpoint write ({in_write})")
    return done_final


def enospc(a):
    """The shim fails write(2) with ENOSPC for checkpoints' temporary files after the first two (epoch 1's
    best and last) went through: epoch 2's checkpoint write finds the disk full."""
    out = "full"
    shutil.rmtree(out, ignore_errors=True)
    env = dict(os.environ, LD_PRELOAD=a.shim, FOVEA_TEST_ENOSPC="safetensors", FOVEA_TEST_ENOSPC_SKIP="2")
    r = subprocess.run(train_cmd(a.fovea, out, 3), capture_output=True, text=True, env=env)
    print(f"      stderr: {r.stderr.strip()[-400:]}")
    check(r.returncode != 0, f"a full disk stops the run (exit {r.returncode})")
    check("No space left on device" in r.stderr and ".safetensors" in r.stderr,
          "the error names the checkpoint and says the disk is full")
    ref = "full_ref"
    shutil.rmtree(ref, ignore_errors=True)
    subprocess.run(train_cmd(a.fovea, ref, 3), capture_output=True, check=True, env=dict(os.environ))
    for f in ("last.safetensors", "best.safetensors"):
        why = complete_safetensors(os.path.join(out, f))
        check(not why, f"{f} is whole ({why or 'complete'})")
    check(not [f for f in os.listdir(out) if f.endswith(".tmp")], "no temporary file is left behind")
    r = subprocess.run(train_cmd(a.fovea, out, 3, "--resume"), capture_output=True, text=True)
    check(r.returncode == 0, f"with space again, --resume finishes the run {r.stderr.strip()[-300:]}")
    m, mr = json.load(open(os.path.join(out, "metrics.json"))), json.load(open(os.path.join(ref, "metrics.json")))
    check([e["test_accuracy"] for e in m["epochs"]] == [e["test_accuracy"] for e in mr["epochs"]],
          "and it ends as the run that never met a full disk")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--fovea", required=True)
    ap.add_argument("--work", required=True)
    ap.add_argument("--kills", type=int, default=50)
    ap.add_argument("--shim")
    a = ap.parse_args()
    a.fovea = os.path.abspath(a.fovea)
    a.shim = a.shim and os.path.abspath(a.shim)
    shutil.rmtree(a.work, ignore_errors=True)
    os.makedirs(a.work)
    os.chdir(a.work)
    finished = kills(a, epochs=60)
    print(f"      {a.kills} kills, {finished} runs finished after them")
    if a.shim:
        enospc(a)
    print(f"{len(FAILURES)} failure(s)")
    return 1 if FAILURES else 0


if __name__ == "__main__":
    sys.exit(main())
