#!/usr/bin/python3
"""Zoo models against torchvision (PyTorch 1.13, the same oneDNN) on the same threads, one after
the other in one command: training steps at 32x32 and inference at 224x224. Prints images/s,
the ratios, and each inference row's GFLOP/s against the machine's f32 matmul peak.

Usage: /usr/bin/python3 bench/models.py [--threads 2] [--budget 3] [--build build]
"""
import argparse
import json
import os
import subprocess
import sys
import time

import torch
import torch.nn.functional as F
import torchvision

ROWS = [("resnet18 train 32px b64", "resnet18", 32, 64, True), ("resnet18 infer 224 b1", "resnet18", 224, 1, False),
        ("resnet18 infer 224 b16", "resnet18", 224, 16, False), ("vgg16 infer 224 b1", "vgg16", 224, 1, False),
        ("densenet121 train 32px b32", "densenet121", 32, 32, True)]


def median_seconds(f, budget):
    for _ in range(2):
        f()
    t, total = [], 0.0
    while total < budget or len(t) < 3:
        t0 = time.perf_counter()
        f()
        dt = time.perf_counter() - t0
        t.append(dt)
        total += dt
    t.sort()
    return t[len(t) // 2]


def pytorch(threads, budget):
    torch.set_num_threads(threads)
    out = {}
    for row, name, size, batch, train in ROWS:
        torch.manual_seed(0)
        net = getattr(torchvision.models, name)(weights=None, num_classes=10 if train else 1000)
        x = torch.randn(batch, 3, size, size)
        if train:
            net.train()
            y = torch.ones(batch, dtype=torch.int64)
            opt = torch.optim.SGD(net.parameters(), lr=0.01, momentum=0.9)

            def step():
                opt.zero_grad()
                F.cross_entropy(net(x), y).backward()
                opt.step()
            s = median_seconds(step, budget)
        else:
            net.eval()
            with torch.no_grad():
                s = median_seconds(lambda: net(x), budget)
        out[row] = batch / s
    return out


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--budget", type=float, default=3.0)
    ap.add_argument("--build", default=os.path.join(os.path.dirname(__file__), "..", "build"))
    a = ap.parse_args()
    exe = os.path.join(a.build, "bench_models")
    if not os.path.exists(exe):
        sys.exit(f"bench/models.py: {exe} not found; run 'make build' first")
    env = dict(os.environ, OMP_NUM_THREADS=str(a.threads))
    res = subprocess.run([exe, str(a.threads), str(a.budget)], capture_output=True, text=True, env=env, check=True)
    fv = {r["row"]: r for r in map(json.loads, res.stdout.splitlines())}
    pt = pytorch(a.threads, a.budget)
    peak = fv["peak"]["gflops"]
    print(f"zoo models, {a.threads} threads, images/s (PyTorch {torch.__version__}, torchvision {torchvision.__version__})")
    print(f"{'row':28} {'fovea':>10} {'pytorch':>10} {'ratio':>7}  {'fovea GFLOP/s':>14}")
    for row, *_ in ROWS:
        f = fv[row]
        print(f"{row:28} {f['images_per_sec']:10.1f} {pt[row]:10.1f} {f['images_per_sec'] / pt[row]:6.2f}x  "
              f"{f['gflops']:8.1f} ({100 * f['gflops'] / peak:.0f}% of peak)")
    print(f"f32 matmul peak (2048^3 through fovea/oneDNN): {peak:.1f} GFLOP/s")


if __name__ == "__main__":
    main()
