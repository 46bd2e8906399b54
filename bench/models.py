#!/usr/bin/python3
"""Zoo models as users train and deploy them, fovea against torchvision (PyTorch 1.13, the same
oneDNN), on the same threads: training steps of the small-input variants fovea train builds for
28x28 (1 channel) and 32x32 (3 channels) images, training at 224 at batch 16 and 32, inference at
224 at batch 1 and 32. Every measurement runs in a process of its own, fovea and PyTorch
alternating, several repetitions; the table gives the medians of images/s and of each process's
peak memory (maximum resident set size), and fovea's arithmetic rate as a share of the machine's
measured f32 matmul peak. Inputs are random tensors (no data set is loaded by either side).

Usage: /usr/bin/python3 bench/models.py [--threads 2] [--budget 3] [--reps 3] [--rows SUBSTRING]
       [--markdown] [--build build]
"""
import argparse
import json
import os
import statistics
import subprocess
import sys
import time

# label, kind, model, size, channels, batch, small_input
ROWS = [
    ("resnet18 train 28px 1ch b64", "train", "resnet18", 28, 1, 64, True),
    ("resnet18 train 32px 3ch b64", "train", "resnet18", 32, 3, 64, True),
    ("densenet121 train 28px 1ch b32", "train", "densenet121", 28, 1, 32, True),
    ("densenet121 train 32px 3ch b32", "train", "densenet121", 32, 3, 32, True),
    ("mobilenet_v2 train 28px 1ch b64", "train", "mobilenet_v2", 28, 1, 64, True),
    ("mobilenet_v2 train 32px 3ch b64", "train", "mobilenet_v2", 32, 3, 64, True),
    ("resnet50 train 224 b16", "train", "resnet50", 224, 3, 16, False),
    ("resnet50 train 224 b32", "train", "resnet50", 224, 3, 32, False),
    ("mobilenet_v2 train 224 b16", "train", "mobilenet_v2", 224, 3, 16, False),
    ("mobilenet_v2 train 224 b32", "train", "mobilenet_v2", 224, 3, 32, False),
    ("resnet18 infer 224 b1", "infer", "resnet18", 224, 3, 1, False),
    ("resnet18 infer 224 b32", "infer", "resnet18", 224, 3, 32, False),
    ("resnet50 infer 224 b1", "infer", "resnet50", 224, 3, 1, False),
    ("resnet50 infer 224 b32", "infer", "resnet50", 224, 3, 32, False),
    ("mobilenet_v2 infer 224 b1", "infer", "mobilenet_v2", 224, 3, 1, False),
    ("mobilenet_v2 infer 224 b32", "infer", "mobilenet_v2", 224, 3, 32, False),
]


def torch_twin(name, classes, channels, small):
    """torchvision's network with fovea's first layer for `channels` inputs and, for small inputs,
    fovea's small-input stem (fovea/models: 3x3 stride-1 first conv, no stem pooling; MobileNetV2
    also keeps the 24-channel stage at stride 1)."""
    import torch.nn as nn
    import torchvision
    net = getattr(torchvision.models, name)(weights=None, num_classes=classes)
    k, s, p = (3, 1, 1) if small else (7, 2, 3)
    if name.startswith("resnet"):
        net.conv1 = nn.Conv2d(channels, 64, k, s, p, bias=False)
        if small:
            net.maxpool = nn.Identity()
    elif name.startswith("densenet"):
        net.features.conv0 = nn.Conv2d(channels, 64, k, s, p, bias=False)
        if small:
            net.features.pool0 = nn.Identity()
    elif name == "mobilenet_v2":
        first = net.features[0][0]
        net.features[0][0] = nn.Conv2d(channels, first.out_channels, 3, 1 if small else 2, 1, bias=False)
        if small:
            net.features[2].conv[1][0].stride = (1, 1)
    return net


def pytorch_row(label, threads, budget):
    """Runs one row with PyTorch in this process; prints one JSON object."""
    import torch
    import torch.nn.functional as F
    sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
    from common import median_seconds
    _, kind, model, size, channels, batch, small = next(r for r in ROWS if r[0] == label)
    torch.set_num_threads(threads)
    torch.manual_seed(0)
    train = kind == "train"
    net = torch_twin(model, 10 if train else 1000, channels, small)
    x = torch.randn(batch, channels, size, size)
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
    print(json.dumps({"images_per_sec": batch / s, "params": sum(p.numel() for p in net.parameters()),
                      "version": torch.__version__}))


def measure(argv, env):
    """Runs argv to its end; its JSON output and its peak resident memory in MB."""
    p = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    _, status, usage = os.wait4(p.pid, 0)
    out, err = p.stdout.read(), p.stderr.read()
    p.returncode = os.waitstatus_to_exitcode(status)
    if p.returncode != 0:
        sys.exit(f"bench: {' '.join(argv)} failed ({p.returncode}): {err}")
    r = json.loads(out.strip().splitlines()[-1])
    r["rss_mb"] = usage.ru_maxrss * 1024 / 1e6  # Linux: kilobytes; MB of 10^6 bytes, as fovea summary
    return r


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--budget", type=float, default=3.0, help="seconds of timed steps per process (at least 3 steps)")
    ap.add_argument("--reps", type=int, default=3, help="processes per row and framework, alternating")
    ap.add_argument("--rows", default="", help="only rows whose label contains this")
    ap.add_argument("--markdown", action="store_true", help="print the table as Markdown (README, docs/models.md)")
    ap.add_argument("--build", default=os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "build"))
    ap.add_argument("--pytorch-row", help=argparse.SUPPRESS)
    a = ap.parse_args()
    if a.pytorch_row:
        return pytorch_row(a.pytorch_row, a.threads, a.budget)
    exe = os.path.join(a.build, "bench_models")
    if not os.path.exists(exe):
        sys.exit(f"bench: {exe} not found; run 'make build' first")
    env = dict(os.environ, OMP_NUM_THREADS=str(a.threads))
    peak = measure([exe, str(a.threads), "peak", "2"], env)["gflops"]
    rows = [r for r in ROWS if a.rows in r[0]]
    results = []
    for label, kind, model, size, channels, batch, small in rows:
        fv_cmd = [exe, str(a.threads), kind, model, str(size), str(channels), str(batch), "1" if small else "0",
                  str(a.budget)]
        pt_cmd = [sys.executable, os.path.abspath(__file__), "--threads", str(a.threads), "--budget", str(a.budget),
                  "--pytorch-row", label]
        fv, pt = [], []
        t0 = time.time()
        for rep in range(a.reps):  # alternating, so that a slow spell of the machine hits both
            for who in ((fv_cmd, fv), (pt_cmd, pt))[:: 1 if rep % 2 == 0 else -1]:
                who[1].append(measure(who[0], env))
        if fv[0]["params"] != pt[0]["params"]:
            sys.exit(f"bench: {label}: fovea has {fv[0]['params']} parameters, the PyTorch twin {pt[0]['params']}")
        med = lambda rs, k: statistics.median(r[k] for r in rs)  # noqa: E731
        results.append({"row": label, "kind": kind, "fovea": med(fv, "images_per_sec"),
                        "pytorch": med(pt, "images_per_sec"), "gflops": med(fv, "gflops"),
                        "fovea_mb": med(fv, "rss_mb"), "pytorch_mb": med(pt, "rss_mb"),
                        "fovea_all": [round(r["images_per_sec"], 1) for r in fv],
                        "pytorch_all": [round(r["images_per_sec"], 1) for r in pt]})
        r = results[-1]
        print(f"# {label}: fovea {r['fovea_all']} PyTorch {r['pytorch_all']} images/s, "
              f"{r['fovea_mb']:.0f} / {r['pytorch_mb']:.0f} MB ({time.time() - t0:.0f} s)", file=sys.stderr)
    version = pt[0]["version"] if rows else "?"
    print(f"zoo models, {a.threads} threads, medians of {a.reps} alternating processes each; PyTorch {version}; "
          f"f32 matmul peak {peak:.1f} GFLOP/s")
    if a.markdown:
        print("| row | fovea images/s | PyTorch images/s | ratio | fovea GFLOP/s (share of peak) | peak memory fovea / PyTorch |")
        print("|---|---|---|---|---|---|")
    else:
        print(f"{'row':34} {'fovea':>9} {'pytorch':>9} {'ratio':>7} {'GFLOP/s':>9} {'peak':>5} {'MB fovea':>9} "
              f"{'MB torch':>9} {'mem':>6}")
    for r in results:
        ratio, share, mem = r["fovea"] / r["pytorch"], 100 * r["gflops"] / peak, r["fovea_mb"] / r["pytorch_mb"]
        if a.markdown:
            print(f"| {r['row']} | {r['fovea']:.1f} | {r['pytorch']:.1f} | {ratio:.2f}x | {r['gflops']:.0f} "
                  f"({share:.0f}%) | {r['fovea_mb']:.0f} / {r['pytorch_mb']:.0f} MB ({mem:.2f}x) |")
        else:
            print(f"{r['row']:34} {r['fovea']:9.1f} {r['pytorch']:9.1f} {ratio:6.2f}x {r['gflops']:9.1f} "
                  f"{share:4.0f}% {r['fovea_mb']:9.0f} {r['pytorch_mb']:9.0f} {mem:5.2f}x")


if __name__ == "__main__":
    main()
