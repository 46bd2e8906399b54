#!/usr/bin/python3
"""Transfer learning, the demonstration of issue 7 (docs/transfer.md): pretrain LeNet-5 on
Fashion-MNIST classes 0-4 (T-shirt/top, Trouser, Pullover, Dress, Coat: all 30,000 training
images), then learn classes 5-9 (Sandal, Shirt, Sneaker, Bag, Ankle boot) from only 50 training
images per class, (a) from scratch and (b) by the three steps of `fovea finetune` (pretrained
weights, a new head on frozen features, then the last conv block unfrozen at a low learning
rate). From scratch uses the learning rate that did best of 0.01, 0.02, 0.05 and 0.1
(0.02, seed 0). Test accuracy on the 5,000 test images of classes 5-9, after the last epoch, for 3 seeds.

Usage: /usr/bin/python3 bench/transfer.py [--build build] [--seeds 3] [--work build/transfer]
"""
import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import time

SCRATCH_EPOCHS = 60
HEAD_EPOCHS, FINETUNE_EPOCHS = 30, 30


def run(cmd):
    t0 = time.time()
    subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL)
    return time.time() - t0


def last_accuracy(run_dir):
    with open(os.path.join(run_dir, "metrics.json")) as f:
        return json.load(f)["epochs"][-1]["test_accuracy"]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--build", default=os.path.join(os.path.dirname(__file__), "..", "build"))
    ap.add_argument("--seeds", type=int, default=3)
    ap.add_argument("--work", default=None)
    a = ap.parse_args()
    fovea = os.path.join(a.build, "fovea")
    if not os.path.exists(fovea):
        sys.exit(f"bench/transfer.py: {fovea} not found; run 'make build' first")
    work = a.work or os.path.join(a.build, "transfer")
    shutil.rmtree(work, ignore_errors=True)
    os.makedirs(work)
    pre = os.path.join(work, "pretrain")
    secs = run([fovea, "train", "--model", "lenet5", "--classes", "0,1,2,3,4", "--epochs", "10", "--seed", "0",
                "--quiet", "--out", pre])
    print(f"pretrained LeNet-5 on classes 0-4 (30,000 images, 10 epochs, {secs:.0f} s): "
          f"test top-1 {100 * last_accuracy(pre):.2f}% on classes 0-4")
    few = ["--classes", "5,6,7,8,9", "--per-class", "50"]
    rows = []
    for seed in range(a.seeds):
        scratch = os.path.join(work, f"scratch_{seed}")
        run([fovea, "train", "--model", "lenet5", *few, "--epochs", str(SCRATCH_EPOCHS), "--lr", "0.02",
             "--seed", str(seed), "--quiet", "--out", scratch])
        tuned = os.path.join(work, f"transfer_{seed}")
        run([fovea, "finetune", "--from", os.path.join(pre, "last.safetensors"), *few, "--head-epochs",
             str(HEAD_EPOCHS), "--head-lr", "0.05", "--unfreeze", "features.3.*", "--unfreeze", "classifier.*",
             "--finetune-epochs", str(FINETUNE_EPOCHS), "--finetune-lr", "0.02", "--seed", str(seed), "--quiet",
             "--out", tuned])
        head = last_accuracy(os.path.join(tuned, "head"))
        rows.append((seed, last_accuracy(scratch), head, last_accuracy(os.path.join(tuned, "finetune"))))
    print(f"\nclasses 5-9 from 50 training images each; test accuracy on their 5,000 test images (last epoch)")
    print(f"{'seed':>4} {'from scratch':>14} {'new head only':>14} {'three steps':>12}")
    for seed, s, h, t in rows:
        print(f"{seed:>4} {100 * s:13.2f}% {100 * h:13.2f}% {100 * t:11.2f}%")
    mean = [statistics.mean(r[i] for r in rows) for i in (1, 2, 3)]
    print(f"{'mean':>4} {100 * mean[0]:13.2f}% {100 * mean[1]:13.2f}% {100 * mean[2]:11.2f}%")
    print(f"transfer - scratch: {100 * (mean[2] - mean[0]):+.2f} points "
          f"(scratch {SCRATCH_EPOCHS} epochs; transfer {HEAD_EPOCHS} head + {FINETUNE_EPOCHS} fine-tuning epochs)")


if __name__ == "__main__":
    main()
