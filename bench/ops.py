#!/usr/bin/python3
"""Runs bench_ops (fovea) and its PyTorch twin on the same shapes and threads, one after the
other in one command, and prints both median times per conv2d forward+backward and the ratio.

Usage: /usr/bin/python3 bench/ops.py [--threads 2] [--budget 1.0] [--build build]
"""
import os
import sys

import torch
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from common import median_seconds, parse_args, run_fovea  # noqa: E402

CASES = [
    ("resnet18.conv1", 32, 3, 224, 64, 7, 2, 3), ("resnet18.layer1", 32, 64, 56, 64, 3, 1, 1),
    ("resnet18.layer2.0", 32, 64, 56, 128, 3, 2, 1), ("resnet18.layer2", 32, 128, 28, 128, 3, 1, 1),
    ("resnet18.layer2.ds", 32, 64, 56, 128, 1, 2, 0), ("resnet18.layer3.0", 32, 128, 28, 256, 3, 2, 1),
    ("resnet18.layer3", 32, 256, 14, 256, 3, 1, 1), ("resnet18.layer3.ds", 32, 128, 28, 256, 1, 2, 0),
    ("resnet18.layer4.0", 32, 256, 14, 512, 3, 2, 1), ("resnet18.layer4", 32, 512, 7, 512, 3, 1, 1),
    ("resnet18.layer4.ds", 32, 256, 14, 512, 1, 2, 0), ("lenet5.c1", 64, 1, 28, 6, 5, 1, 2),
    ("lenet5.c3", 64, 6, 14, 16, 5, 1, 0),
]


def torch_times(threads, budget):
    torch.set_num_threads(threads)
    out = {}
    for name, n, c, h, o, k, s, p in CASES:
        x = torch.randn(n, c, h, h, requires_grad=True)
        w = (torch.randn(o, c, k, k) * 0.1).requires_grad_()
        b = torch.zeros(o, requires_grad=True)
        gy = torch.randn_like(F.conv2d(x.detach(), w.detach(), b.detach(), s, p))

        def step():
            x.grad = w.grad = b.grad = None
            F.conv2d(x, w, b, s, p).backward(gy)

        out[name] = median_seconds(step, budget, warmup=3, min_runs=5) * 1e3
    return out


def main():
    a = parse_args(budget=1.0)
    fovea = {r["name"]: r["ms"] for r in run_fovea(a, "ops")}
    pt = torch_times(a.threads, a.budget)
    print(f"conv2d forward+backward, median ms per call, {a.threads} threads (PyTorch {torch.__version__})")
    print(f"{'shape':22} {'fovea':>10} {'pytorch':>10} {'speed-up':>9}")
    groups = {}
    for name, *_ in CASES:
        ratio = pt[name] / fovea[name]
        groups.setdefault(name.split(".")[0], []).append((fovea[name], pt[name]))
        print(f"{name:22} {fovea[name]:10.3f} {pt[name]:10.3f} {ratio:8.2f}x")
    for g, rows in groups.items():
        f, p = sum(r[0] for r in rows), sum(r[1] for r in rows)
        print(f"{g + ' total':22} {f:10.3f} {p:10.3f} {p / f:8.2f}x")


if __name__ == "__main__":
    main()
