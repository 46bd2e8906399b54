#!/usr/bin/env python3
"""Issue 8's GPU table: training images/s of fovea (bench_gpu_train) and PyTorch side by side on
the same GPU, one after the other in one command. PyTorch: cudnn.benchmark on, TF32 for
convolutions (its default), fp32 NCHW (bf16 rows: autocast and channels-last), SGD with
momentum, synthetic data on the device.

Usage (on the GPU machine): python3 bench/gpu/bench.py --exe build-gpu/bench_gpu_train [--seconds 5]
"""
import argparse
import json
import os
import subprocess
import sys

import torch
import torch.nn.functional as F
import torchvision

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
from common import median_seconds  # noqa: E402

ROWS = [("resnet50 224 b128", "resnet50", 224, 128, 3), ("resnet50 224 b128 bf16", "resnet50", 224, 128, 3),
        ("resnet18 224 b128", "resnet18", 224, 128, 3),
        ("vgg16 224 b64", "vgg16", 224, 64, 3), ("densenet121 224 b64", "densenet121", 224, 64, 3),
        ("lenet5 28 b256", "lenet5", 28, 256, 1),
        # fovea replays a CUDA graph of the step; PyTorch runs its ordinary eager step (the baseline)
        ("lenet5 28 b256 graph", "lenet5", 28, 256, 1)]


class LeNet5(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.features = torch.nn.Sequential(torch.nn.Conv2d(1, 6, 5, padding=2), torch.nn.ReLU(), torch.nn.MaxPool2d(2),
                                            torch.nn.Conv2d(6, 16, 5), torch.nn.ReLU(), torch.nn.MaxPool2d(2))
        self.classifier = torch.nn.Sequential(torch.nn.Linear(400, 120), torch.nn.ReLU(), torch.nn.Linear(120, 84),
                                              torch.nn.ReLU(), torch.nn.Linear(84, 1000))

    def forward(self, x):
        return self.classifier(self.features(x).flatten(1))


def pytorch_row(model, size, batch, channels, seconds, bf16):
    """bf16 rows: autocast to bfloat16 and channels-last, PyTorch's fastest recipe."""
    torch.manual_seed(0)
    net = (LeNet5() if model == "lenet5" else getattr(torchvision.models, model)(num_classes=1000)).cuda().train()
    x = torch.randn(batch, channels, size, size, device="cuda")
    if bf16:
        net = net.to(memory_format=torch.channels_last)
        x = x.to(memory_format=torch.channels_last)
    y = torch.zeros(batch, dtype=torch.int64, device="cuda")
    opt = torch.optim.SGD(net.parameters(), lr=0.01, momentum=0.9)

    def step():
        with torch.autocast("cuda", dtype=torch.bfloat16, enabled=bf16):
            loss = F.cross_entropy(net(x), y)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        loss.item()
    return batch / median_seconds(step, seconds, warmup=3, min_runs=5)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--exe", default="build-gpu/bench_gpu_train")
    ap.add_argument("--seconds", type=float, default=5.0)
    a = ap.parse_args()
    torch.backends.cudnn.benchmark = True
    fv = {}
    res = subprocess.run([a.exe, "cuda", str(a.seconds)], capture_output=True, text=True)
    for line in res.stdout.splitlines():
        r = json.loads(line)
        if "row" in r:
            fv[r["row"]] = r["images_per_sec"]
    if res.returncode != 0:
        print(f"fovea: exit {res.returncode}: {res.stdout[-2000:]} {res.stderr[-2000:]}")
    print(f"training images/s on {torch.cuda.get_device_name()} (PyTorch {torch.__version__}, cuDNN {torch.backends.cudnn.version()})")
    print(f"{'row':24} {'fovea':>10} {'pytorch':>10} {'ratio':>7}")
    for name, model, size, batch, ch in ROWS:
        pt = pytorch_row(model, size, batch, ch, a.seconds, name.endswith("bf16"))
        f = fv.get(name)
        print(f"{name:24} {f if f is not None else float('nan'):10.1f} {pt:10.1f} {(f or 0) / pt:6.2f}x")


if __name__ == "__main__":
    main()
