#!/usr/bin/python3
"""Zoo models against torchvision (PyTorch 1.13, the same oneDNN) on the same threads, one after
the other in one command: training steps at 32x32 and inference at 224x224. Prints images/s,
the ratios, and each inference row's GFLOP/s against the machine's f32 matmul peak.

Usage: /usr/bin/python3 bench/models.py [--threads 2] [--budget 3] [--build build]
"""
import os
import sys

import torch
import torch.nn.functional as F
import torchvision

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from common import median_seconds, parse_args, run_fovea  # noqa: E402

ROWS = [("resnet18 train 32px b64", "resnet18", 32, 64, True), ("resnet18 infer 224 b1", "resnet18", 224, 1, False),
        ("resnet18 infer 224 b16", "resnet18", 224, 16, False), ("vgg16 infer 224 b1", "vgg16", 224, 1, False),
        ("densenet121 train 32px b32", "densenet121", 32, 32, True)]


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
    a = parse_args()
    fv = {r["row"]: r for r in run_fovea(a, "models")}
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
