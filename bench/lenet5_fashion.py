#!/usr/bin/python3
"""LeNet-5 on Fashion-MNIST, one epoch at batch 64: fovea (build/bench_lenet5_fashion) and a
PyTorch 1.13 twin (same model, optimizer, data and normalisation, 2 threads, tensors preloaded
in memory, the fastest PyTorch loop), one after the other in one command. Prints training and
inference images/s, test accuracy and the ratios.

Usage: /usr/bin/python3 bench/lenet5_fashion.py [--threads 2] [--epochs 1] [--build build]
"""
import gzip
import os
import sys
import time

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from common import parse_args, run_fovea  # noqa: E402

DATA = "/usr/share/datasets/fashion-mnist"


def idx(name):
    with gzip.open(os.path.join(DATA, name)) as f:
        raw = f.read()
    nd = raw[3]
    dims = [int.from_bytes(raw[4 + 4 * i:8 + 4 * i], "big") for i in range(nd)]
    return np.frombuffer(raw, np.uint8, offset=4 + 4 * nd).reshape(dims)


class LeNet5(nn.Module):
    def __init__(self):
        super().__init__()
        self.features = nn.Sequential(nn.Conv2d(1, 6, 5, padding=2), nn.ReLU(), nn.MaxPool2d(2),
                                      nn.Conv2d(6, 16, 5), nn.ReLU(), nn.MaxPool2d(2))
        self.classifier = nn.Sequential(nn.Linear(400, 120), nn.ReLU(), nn.Linear(120, 84), nn.ReLU(),
                                        nn.Linear(84, 10))

    def forward(self, x):
        return self.classifier(torch.flatten(self.features(x), 1))


def pytorch(threads, epochs):
    torch.set_num_threads(threads)
    torch.manual_seed(0)
    xtr = torch.from_numpy(idx("train-images-idx3-ubyte.gz").copy()).float().div_(255).unsqueeze(1)
    ytr = torch.from_numpy(idx("train-labels-idx1-ubyte.gz").astype(np.int64))
    xte = torch.from_numpy(idx("t10k-images-idx3-ubyte.gz").copy()).float().div_(255).unsqueeze(1)
    yte = torch.from_numpy(idx("t10k-labels-idx1-ubyte.gz").astype(np.int64))
    mean, std = xtr.mean().item(), xtr.std().item()
    xtr, xte = (xtr - mean) / std, (xte - mean) / std
    model = LeNet5()
    opt = torch.optim.SGD(model.parameters(), lr=0.05, momentum=0.9)
    g = torch.Generator().manual_seed(0)
    seen, secs = 0, 0.0
    for _ in range(epochs):
        perm = torch.randperm(len(xtr), generator=g)
        model.train()
        t0 = time.perf_counter()
        for i in range(0, len(xtr), 64):
            b = perm[i:i + 64]
            loss = F.cross_entropy(model(xtr[b]), ytr[b])
            opt.zero_grad()
            loss.backward()
            opt.step()
            seen += len(b)
        secs += time.perf_counter() - t0
    model.eval()
    with torch.no_grad():
        for i in range(0, len(xte), 64):  # warm-up
            model(xte[i:i + 64])
        t0 = time.perf_counter()
        correct = 0
        for i in range(0, len(xte), 64):
            correct += (model(xte[i:i + 64]).argmax(1) == yte[i:i + 64]).sum().item()
        infer = time.perf_counter() - t0
    return {"train_images_per_sec": seen / secs, "infer_images_per_sec": len(xte) / infer,
            "test_accuracy": correct / len(xte)}


def main():
    a = parse_args(epochs=1)
    fv = run_fovea(a, "lenet5_fashion", a.epochs)[-1]
    pt = pytorch(a.threads, a.epochs)
    print(f"LeNet-5 on Fashion-MNIST, batch 64, {a.epochs} epoch(s), {a.threads} threads (PyTorch {torch.__version__})")
    print(f"{'':24} {'fovea':>10} {'pytorch':>10} {'ratio':>7}")
    for key, label in [("train_images_per_sec", "training images/s"), ("infer_images_per_sec", "inference images/s")]:
        print(f"{label:24} {fv[key]:10.0f} {pt[key]:10.0f} {fv[key] / pt[key]:6.2f}x")
    print(f"{'test accuracy':24} {100 * fv['test_accuracy']:9.2f}% {100 * pt['test_accuracy']:9.2f}%")


if __name__ == "__main__":
    main()
