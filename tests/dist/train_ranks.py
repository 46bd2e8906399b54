#!/usr/bin/python3
"""`fovea train` under mpirun, as users start it (docs/distributed.md): two ranks train the model
one process trains, synchronised batch norm, sharded evaluation, interruption and resume,
a killed rank, and the errors for bad input. ctest runs it (tests/dist); as root, Open MPI needs
OMPI_ALLOW_RUN_AS_ROOT, which this script sets for its own jobs only.

  train_ranks.py --fovea build/fovea --mpirun /usr/bin/mpirun --work build/train_ranks [TEST ...]
"""
import argparse
import json
import os
import re
import shutil
import signal
import struct
import subprocess
import sys
import time
import zlib

import numpy as np

ARGS = None
ENV = dict(os.environ, OMPI_ALLOW_RUN_AS_ROOT="1", OMPI_ALLOW_RUN_AS_ROOT_CONFIRM="1", OMPI_MCA_rmaps_base_oversubscribe="1")
ENV.pop("OMP_NUM_THREADS", None)  # each rank picks its share of the cores (tested below)
# LeNet-5 on Fashion-MNIST, 30 SGD-momentum steps of a global batch of 64
BASE = ["--model", "lenet5", "--data", "fashion-mnist", "--batch-size", "64", "--optimizer", "sgd", "--lr", "0.05",
        "--momentum", "0.9", "--schedule", "none", "--limit-test", "500", "--quiet"]
STEPS30 = ["--epochs", "1", "--limit-train", str(64 * 30)]
# A batch norm network for --sync-bn. Smooth (tanh, average pooling): with ReLU and max pooling,
# the last-bit differences between the fused batch norm and the synchronised one's sums flip
# units that sit at a kink, and 30 steps amplify that far past 1e-5 (measured: 1.4e-2 with
# ReLU, 1.8e-6 with tanh) whatever the statistics' exactness.
BN_SPEC = {"input": [1, 28, 28],
           "layers": [{"type": "conv2d", "out": 6, "kernel": 5}, {"type": "batchnorm2d"}, {"type": "tanh"},
                      {"type": "avgpool2d", "kernel": 2},
                      {"type": "conv2d", "out": 12, "kernel": 5}, {"type": "batchnorm2d"}, {"type": "tanh"},
                      {"type": "avgpool2d", "kernel": 2},
                      {"type": "flatten"}, {"type": "linear", "out": 10}]}
TIMEOUT = 240  # seconds any one job may take before the test calls it a hang


def replace(args, option, value):
    """args with `option`'s value replaced."""
    out = list(args)
    out[out.index(option) + 1] = value
    return out


def work(name):
    d = os.path.join(ARGS.work, name)
    shutil.rmtree(d, ignore_errors=True)
    return d


def run(cmd, cwd=None, timeout=TIMEOUT):
    t0 = time.time()
    p = subprocess.run(cmd, cwd=cwd, env=ENV, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                       timeout=timeout)
    print(f"$ {' '.join(cmd)}\n  -> exit {p.returncode} in {time.time() - t0:.1f} s")
    return p.returncode, p.stdout


def fovea(*args, cwd=None):
    return run([ARGS.fovea, "train", *args], cwd=cwd)


def mpirun(*args, np_=2, cwd=None, mca=()):
    return run([ARGS.mpirun, "-np", str(np_), *mca, ARGS.fovea, "train", *args], cwd=cwd)


def expect(cond, what, output=""):
    if not cond:
        raise AssertionError(what + ("\n--- output ---\n" + output if output else ""))


def load_safetensors(path):
    with open(path, "rb") as f:
        b = f.read()
    n = struct.unpack("<Q", b[:8])[0]
    header = json.loads(b[8:8 + n])
    types = {"F32": np.float32, "F64": np.float64, "I64": np.int64, "U8": np.uint8}
    out = {}
    for k, v in header.items():
        if k == "__metadata__":
            continue
        s, e = v["data_offsets"]
        out[k] = np.frombuffer(b[8 + n + s:8 + n + e], dtype=types[v["dtype"]]).reshape(v["shape"])
    return out, header.get("__metadata__", {})


def weights(run_dir):
    t, _ = load_safetensors(os.path.join(run_dir, "last.safetensors"))
    return {k: v for k, v in t.items() if k.startswith("model.")}


def state(run_dir):
    return json.loads(load_safetensors(os.path.join(run_dir, "last.safetensors"))[1]["state"])


def max_diff(a, b):
    expect(a.keys() == b.keys(), f"different tensors: {sorted(a)} vs {sorted(b)}")
    return max(float(np.max(np.abs(a[k].astype(np.float64) - b[k].astype(np.float64)))) if a[k].size else 0.0
               for k in a)


def metrics(run_dir):
    with open(os.path.join(run_dir, "metrics.json")) as f:
        return json.load(f)


def test_same_model_as_one_process():
    one, two = work("one"), work("two")
    rc, out1 = fovea(*BASE, *STEPS30, "--out", one)
    expect(rc == 0, "one process failed", out1)
    rc, out2 = mpirun(*BASE, *STEPS30, "--out", two)
    expect(rc == 0, "two ranks failed", out2)
    d = max_diff(weights(one), weights(two))
    print(f"  LeNet-5, 30 steps: max |w1 - w2| = {d:.2e}")
    expect(d < 1e-5, f"two ranks' weights differ from one process's by {d}")
    expect(state(two)["global_step"] == 30 and state(two)["world_size"] == 2, f"state {state(two)}")
    m1, m2 = metrics(one)["epochs"][-1], metrics(two)["epochs"][-1]
    # sharded evaluation: every test image counted once, so the totals are one process's
    expect(m1["test_accuracy"] == m2["test_accuracy"], f"test accuracy {m1['test_accuracy']} vs {m2['test_accuracy']}")
    expect(abs(m1["test_loss"] - m2["test_loss"]) < 1e-5, f"test loss {m1['test_loss']} vs {m2['test_loss']}")
    expect(abs(m1["train_loss"] - m2["train_loss"]) < 1e-5, f"train loss {m1['train_loss']} vs {m2['train_loss']}")
    expect(metrics(two)["world_size"] == 2 and len(m2["rank_images_per_sec"]) == 2, f"metrics.json: {m2}")
    # one voice: rank 0 alone prints; each rank has its share of the cores
    expect(out2.count("distributed: 2 ranks") == 1 and out2.count("best test top-1") == 1, "not one voice", out2)
    line = next(l for l in out2.splitlines() if l.startswith("distributed:"))
    threads = int(re.search(r"(\d+) threads? each", line).group(1))
    expect(1 <= threads <= max(1, (os.cpu_count() or 1) // 2), f"{threads} threads per rank oversubscribe", line)


def test_sync_batch_norm():
    spec = os.path.join(ARGS.work, "bn_net.json")
    os.makedirs(ARGS.work, exist_ok=True)
    with open(spec, "w") as f:
        json.dump(BN_SPEC, f)
    one, sync, local = work("bn_one"), work("bn_sync"), work("bn_local")
    args = [*replace(replace(BASE, "--model", spec), "--lr", "0.02"), *STEPS30]
    rc, out = fovea(*args, "--out", one)
    expect(rc == 0, "one process failed", out)
    rc, out = mpirun(*args, "--sync-bn", "--out", sync)
    expect(rc == 0 and "synchronised batch norm" in out, "two ranks with --sync-bn failed", out)
    rc, out = mpirun(*args, "--out", local)
    expect(rc == 0, "two ranks without --sync-bn failed", out)
    d_sync, d_local = max_diff(weights(one), weights(sync)), max_diff(weights(one), weights(local))
    print(f"  BN network, 30 steps: max |w1 - w2| = {d_sync:.2e} with --sync-bn, {d_local:.2e} without")
    expect(d_sync < 1e-5, f"--sync-bn: weights differ from one process's by {d_sync}")
    expect(d_local > 1e-4, f"local batch statistics should give other weights (differ by only {d_local})")


def start(*args, np_=2):
    cmd = [ARGS.mpirun, "-np", str(np_), ARGS.fovea, "train", *args]
    print(f"$ {' '.join(cmd)} &")
    return subprocess.Popen(cmd, env=ENV, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                            start_new_session=True)


def epochs_done(run_dir):
    try:
        return len(metrics(run_dir)["epochs"])
    except (OSError, ValueError, KeyError):
        return 0


def wait_for_epochs(run_dir, n, p, timeout=TIMEOUT):
    """Waits until metrics.json records n epochs (the run is then in epoch n + 1)."""
    t0 = time.time()
    while epochs_done(run_dir) < n:
        if p.poll() is not None:
            expect(False, f"the run ended before epoch {n} was recorded", p.stdout.read())
        expect(time.time() - t0 < timeout, f"epoch {n} was not recorded in {timeout} s")
        time.sleep(0.02)


def rank_pids(marker):
    """{rank: pid} of the ranks whose command line holds `marker`."""
    out = {}
    for pid in os.listdir("/proc"):
        if not pid.isdigit():
            continue
        try:
            with open(f"/proc/{pid}/environ", "rb") as f:
                env = f.read().split(b"\0")
            with open(f"/proc/{pid}/cmdline", "rb") as f:
                cmd = f.read().split(b"\0")
        except OSError:
            continue
        if marker.encode() not in cmd or os.path.basename(cmd[0]) != os.path.basename(ARGS.fovea).encode():
            continue
        for e in env:
            if e.startswith(b"OMPI_COMM_WORLD_RANK="):
                out[int(e.split(b"=")[1])] = int(pid)
    return out


LONG = [*BASE, "--epochs", "6", "--limit-train", str(64 * 200)]


def test_interrupt_and_resume():
    """Interrupted twice (the ranks signalled as a batch system does, then Ctrl-C to mpirun) and
    resumed twice: the same weights, bit for bit, as a run never interrupted."""
    ref, cut = work("ref"), work("cut")
    rc, out = mpirun(*LONG, "--out", ref)
    expect(rc == 0, "the uninterrupted run failed", out)
    # SIGTERM to every rank (scancel, a preempted allocation): they stop at one step, exit 130
    p = start(*LONG, "--out", cut)
    wait_for_epochs(cut, 1, p)
    pids = rank_pids(cut)
    expect(sorted(pids) == [0, 1], f"ranks found: {pids}")
    for pid in pids.values():
        os.kill(pid, signal.SIGTERM)
    out, _ = p.communicate(timeout=TIMEOUT)
    st = state(cut)
    print(f"  SIGTERM to the ranks -> exit {p.returncode}, stopped at epoch {st['epoch'] + 1} step "
          f"{st['step_in_epoch']}")
    expect(p.returncode == 130, f"exit {p.returncode} after SIGTERM to the ranks, expected 130", out)
    expect(out.count("interrupted after a step") == 1 and "--resume" in out, "the interruption is not reported once",
           out)
    expect(st["world_size"] == 2 and 1 <= st["epoch"] < 6, f"interrupted state {st}", out)
    other = work("cut_one")
    shutil.copytree(cut, other)
    # Ctrl-C to mpirun: Open MPI passes SIGTERM to the ranks a second later and exits 1 itself
    p = start("--resume", "--out", cut)
    wait_for_epochs(cut, st["epoch"] + 1, p)
    p.send_signal(signal.SIGINT)
    out, _ = p.communicate(timeout=TIMEOUT)
    st2 = state(cut)
    print(f"  SIGINT to mpirun -> exit {p.returncode}, stopped at epoch {st2['epoch'] + 1} step "
          f"{st2['step_in_epoch']}")
    expect(p.returncode != 0 and "interrupted after a step" in out, f"mpirun exited {p.returncode} after SIGINT", out)
    expect(st2["global_step"] > st["global_step"], f"no progress saved: {st} then {st2}", out)
    rc, out = mpirun("--resume", "--out", cut)
    expect(rc == 0, "resume failed", out)
    d = max_diff(weights(ref), weights(cut))
    expect(d == 0, f"the resumed run differs from the uninterrupted one by {d} (expected bit-identical)", out)
    expect([r["test_accuracy"] for r in metrics(ref)["epochs"]] == [r["test_accuracy"] for r in metrics(cut)["epochs"]],
           "resumed metrics differ")
    # another number of ranks: goes on, with a warning
    rc, out = fovea("--resume", "--out", other)
    expect(rc == 0 and "no longer bit-identical" in out, "resume on one process", out)


def test_killed_rank():
    d = work("killed")
    p = start(*BASE, "--epochs", "6", "--limit-train", str(64 * 200), "--out", d)
    wait_for_epochs(d, 1, p)
    pids = rank_pids(d)
    expect(1 in pids, f"rank 1's process not found: {pids}")
    t0 = time.time()
    os.kill(pids[1], signal.SIGKILL)
    out, _ = p.communicate(timeout=TIMEOUT)
    print(f"  rank 1 killed -> mpirun exit {p.returncode} after {time.time() - t0:.1f} s")
    expect(p.returncode != 0, "the job went on without rank 1", out)
    expect("rank 1" in out, "no message names the lost rank", out)
    done = state(d)["epoch"]
    rc, out = mpirun("--resume", "--out", d)
    expect(rc == 0 and state(d)["epoch"] == 6, f"resume after the loss (from epoch {done}) failed", out)


def png(path, pixels):
    """A grey PNG of a uint8 array (H, W)."""
    h, w = pixels.shape
    raw = b"".join(b"\0" + pixels[y].tobytes() for y in range(h))

    def chunk(kind, data):
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    with open(path, "wb") as f:
        f.write(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, 8, 0, 0, 0, 0))
                + chunk(b"IDAT", zlib.compress(raw)) + chunk(b"IEND", b""))


def image_folder(root, extra):
    rng = np.random.default_rng(0)
    for c in ("cat", "dog"):
        os.makedirs(os.path.join(root, c))
        for i in range(8 + (1 if extra and c == "dog" else 0)):
            png(os.path.join(root, c, f"{i}.png"), rng.integers(0, 255, (8, 8), dtype=np.uint8))


def test_bad_input():
    d = work("bad")
    rc, out = mpirun(*replace(BASE, "--batch-size", "63"), *STEPS30, "--out", os.path.join(d, "b"))
    expect(rc != 0 and out.count("must be a multiple of 2") == 1, "batch 63 on 2 ranks", out)
    # MPMD: each rank its own command line
    cmd = [ARGS.mpirun, "-np", "1", ARGS.fovea, "train", *BASE, *STEPS30, "--out", os.path.join(d, "c"), ":",
           "-np", "1", ARGS.fovea, "train", *replace(BASE, "--lr", "0.1"), *STEPS30, "--out", os.path.join(d, "c")]
    rc, out = run(cmd)
    expect(rc != 0 and out.count("rank 1 was given another configuration") == 1, "different arguments", out)
    # the same relative path names other files on rank 1 (as another machine's disk would)
    image_folder(os.path.join(d, "a", "imgs"), extra=False)
    image_folder(os.path.join(d, "b", "imgs"), extra=True)
    args = ["train", "--data", "folder:imgs", "--model", "lenet5", "--input", "1x28x28", "--batch-size", "4",
            "--epochs", "1", "--quiet", "--out", "run"]
    cmd = [ARGS.mpirun, "-np", "1", "-wdir", os.path.join(d, "a"), ARGS.fovea, *args, ":",
           "-np", "1", "-wdir", os.path.join(d, "b"), ARGS.fovea, *args]
    rc, out = run(cmd)
    expect(rc != 0 and out.count("rank 1 sees other data than rank 0") == 1, "different data", out)
    expect(not os.path.exists(os.path.join(d, "a", "run", "last.safetensors")), "a checkpoint was written")


TESTS = {"same_model": test_same_model_as_one_process, "sync_bn": test_sync_batch_norm,
         "resume": test_interrupt_and_resume, "killed_rank": test_killed_rank, "bad_input": test_bad_input}


def main():
    global ARGS
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--fovea", required=True)
    ap.add_argument("--mpirun", required=True)
    ap.add_argument("--work", required=True)
    ap.add_argument("tests", nargs="*", help=f"any of {', '.join(TESTS)} (default: all)")
    ARGS = ap.parse_args()
    ARGS.fovea, ARGS.mpirun, ARGS.work = (os.path.abspath(p) for p in (ARGS.fovea, ARGS.mpirun, ARGS.work))
    for name in ARGS.tests:
        if name not in TESTS:
            ap.error(f"unknown test '{name}'")
    failed = []
    for name in ARGS.tests or TESTS:
        print(f"== {name}", flush=True)
        try:
            TESTS[name]()
            print("   ok", flush=True)
        except (AssertionError, subprocess.TimeoutExpired) as e:
            print(f"   FAILED: {e}", flush=True)
            failed.append(name)
    print("failed: " + ", ".join(failed) if failed else "all passed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
