#!/usr/bin/python3
"""Explanations on resnet18, fovea against PyTorch 1.13 on the same threads, in one command.

1. The five maps of one 224x224 image (vanilla, guided backprop, deconvnet, Grad-CAM on layer4,
   guided Grad-CAM). PyTorch computes them as fovea does, as fast as it can: one forward pass,
   weights frozen, three backward passes into the input (the ReLU rule switched by a custom
   autograd function), Grad-CAM from a hook on layer4; both against one ordinary
   forward+backward pass (the budget: five maps for at most six passes).
2. Every method on a batch (default 32 images of 224x224), a target per image. The PyTorch side
   is the reference of tests/explain/explain_reference.py (each paper's formula with autograd and
   hooks; Score-CAM and integrated gradients batch their forward passes as fovea does), plus
   SmoothGrad and occlusion written the same way; each method alone, weights frozen.

Usage: /usr/bin/python3 bench/explain.py [--threads 2] [--budget 3] [--build build]
           [--batch 32] [--size 224] [--methods all] [--samples 25] [--ig-steps 50]
A full run at the defaults takes long (Score-CAM runs the network once per channel of layer4
per image: 16,384 forward passes); --size 112 or --methods gradcam,gradcam++,... shorten it.
"""
import argparse
import os
import sys
import time

import torch
import torch.nn.functional as F
import torchvision

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.join(HERE, "..", "tests", "explain"))
from common import median_seconds, run_fovea  # noqa: E402
from explain_reference import (RULE, grad_cam, grad_cam_pp, integrated_gradients, layer_cam,  # noqa: E402
                               score_cam, use_rule_relu)

ALL = ["vanilla", "guided", "deconv", "gradcam", "guided-gradcam", "gradcam++", "scorecam", "layercam",
       "smoothgrad", "integrated-gradients", "occlusion"]


def pytorch(threads, budget):
    torch.set_num_threads(threads)
    torch.manual_seed(0)
    net = torchvision.models.resnet18(weights=None).eval()
    x = torch.randn(1, 3, 224, 224)
    out = {}

    def fwd_bwd():
        xi = x.clone().requires_grad_(True)
        net(xi)[:, 7].sum().backward()
        net.zero_grad(set_to_none=True)
    out["forward+backward"] = median_seconds(fwd_bwd, budget)

    use_rule_relu()
    for p in net.parameters():
        p.requires_grad_(False)

    def vanilla():
        xi = x.clone().requires_grad_(True)
        torch.autograd.grad(net(xi)[:, 7].sum(), xi)
    out["vanilla"] = median_seconds(vanilla, budget)

    def five():
        saved = {}
        h = net.layer4.register_forward_hook(lambda m, i, o: saved.__setitem__("a", o))
        xi = x.clone().requires_grad_(True)
        score = net(xi)[:, 7].sum()
        h.remove()
        RULE[0] = "standard"
        gx, ga = torch.autograd.grad(score, [xi, saved["a"]], retain_graph=True)
        RULE[0] = "guided"
        (guided,) = torch.autograd.grad(score, xi, retain_graph=True)
        RULE[0] = "deconv"
        (deconv,) = torch.autograd.grad(score, xi)
        RULE[0] = "standard"
        a = saved["a"].detach()
        cam = F.relu((ga.mean((2, 3), keepdim=True) * a).sum(1, keepdim=True))
        cam = F.interpolate(cam, size=(224, 224), mode="bilinear", align_corners=False)
        cam = (cam - cam.min()) / (cam.max() - cam.min()).clamp(min=1e-30)
        return gx, guided, deconv, cam, guided * cam
    out["five maps"] = median_seconds(five, budget)
    return out


def timed(f, budget):
    """At least one run, then until the budget is spent: the median (no warm-up for slow methods)."""
    t, total = [], 0.0
    while total < budget or not t:
        t0 = time.perf_counter()
        f()
        t.append(time.perf_counter() - t0)
        total += t[-1]
    t.sort()
    return t[len(t) // 2]


def pytorch_batch(a, methods):
    torch.manual_seed(0)
    net = torchvision.models.resnet18(weights=None).eval()
    for p in net.parameters():
        p.requires_grad_(False)
    x = torch.randn(a.batch, 3, a.size, a.size)
    target = torch.arange(a.batch) % 1000
    size = x.shape[2:]
    saved = {}
    net.layer4.register_forward_hook(lambda m, i, o: saved.__setitem__("a", o))

    def grad(rule, xi):
        RULE[0] = rule
        xi = xi.clone().requires_grad_(True)
        out = net(xi).gather(1, target[:, None]).sum()
        if rule == "standard":
            g, ga = torch.autograd.grad(out, [xi, saved["a"]])
            return g, saved["a"].detach(), ga
        return torch.autograd.grad(out, xi)[0], None, None

    def cams(kind):
        _, act, ga = grad("standard", x)
        return {"gradcam": grad_cam, "gradcam++": grad_cam_pp}.get(kind, lambda a_, g_, s_: layer_cam([(a_, g_)], s_))(
            act, ga, size)

    def smoothgrad():
        flat = x.flatten(1)
        sigma = ((flat.amax(1) - flat.amin(1)) * 0.15).view(-1, 1, 1, 1)
        total = torch.zeros_like(x)
        for _ in range(a.samples):
            total += grad("standard", x + torch.randn_like(x) * sigma)[0]
        return total / a.samples

    @torch.no_grad()
    def occlusion():
        h = x.shape[2]
        win = max(1, round(h / 7))
        stride = max(1, win // 2)
        starts = list(range(0, h - win + 1, stride))
        if starts[-1] + win < h:
            starts.append(h - win)
        windows = [(y, z) for y in starts for z in starts]
        out = torch.zeros(x.shape[0], 1, h, h)
        for i in range(x.shape[0]):
            base = float(net(x[i:i + 1])[0, target[i]])
            drop, count = torch.zeros(h, h), torch.zeros(h, h)
            for b in range(0, len(windows), 64):
                chunk = windows[b:b + 64]
                batch = x[i:i + 1].repeat(len(chunk), 1, 1, 1)
                for j, (y, z) in enumerate(chunk):
                    batch[j, :, y:y + win, z:z + win] = 0
                s = net(batch)[:, target[i]]
                for j, (y, z) in enumerate(chunk):
                    drop[y:y + win, z:z + win] += base - float(s[j])
                    count[y:y + win, z:z + win] += 1
            out[i, 0] = drop / count
        return out

    def scorecam():
        with torch.no_grad():
            net(x)
        return score_cam(net, saved["a"].detach(), x, target)

    def guided_gradcam():
        return grad("guided", x)[0] * cams("gradcam")

    run = {
        "vanilla": lambda: grad("standard", x), "guided": lambda: grad("guided", x),
        "deconv": lambda: grad("deconvnet", x), "gradcam": lambda: cams("gradcam"),
        "guided-gradcam": guided_gradcam, "gradcam++": lambda: cams("gradcam++"),
        "layercam": lambda: cams("layercam"), "scorecam": scorecam, "smoothgrad": smoothgrad,
        "integrated-gradients": lambda: integrated_gradients(net, x, target, torch.zeros_like(x), a.ig_steps),
        "occlusion": occlusion,
    }
    grad("standard", x)  # warm: the first backward pass of this size allocates
    out = {}
    for m in methods:
        out[m] = timed(run[m], a.budget)
        RULE[0] = "standard"
    return out


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--budget", type=float, default=3.0)
    ap.add_argument("--build", default=os.path.join(HERE, "..", "build"))
    ap.add_argument("--batch", type=int, default=32)
    ap.add_argument("--size", type=int, default=224)
    ap.add_argument("--methods", default="all")
    ap.add_argument("--samples", type=int, default=25)
    ap.add_argument("--ig-steps", type=int, default=50)
    a = ap.parse_args()
    methods = ALL if a.methods == "all" else a.methods.split(",")
    unknown = [m for m in methods if m not in ALL]
    if unknown:
        sys.exit(f"bench/explain.py: unknown methods {unknown} (known: {', '.join(ALL)})")
    fv = {r["row"]: r["seconds"] for r in run_fovea(a, "explain", a.budget, a.batch, a.size, ",".join(methods),
                                                       a.samples, a.ig_steps)}
    pt = pytorch(a.threads, a.budget)
    print(f"resnet18, one 224x224 image, {a.threads} threads, ms (PyTorch {torch.__version__})")
    print(f"{'row':18} {'fovea':>9} {'pytorch':>9} {'ratio':>7}  {'fovea / fwd+bwd':>16} {'pytorch / fwd+bwd':>18}")
    for row in ("forward+backward", "vanilla", "five maps"):
        print(f"{row:18} {1e3 * fv[row]:9.1f} {1e3 * pt[row]:9.1f} {pt[row] / fv[row]:6.2f}x  "
              f"{fv[row] / fv['forward+backward']:16.2f} {pt[row] / pt['forward+backward']:18.2f}")
    print("ratio: PyTorch's time / fovea's (above 1: fovea faster). Goal: five maps <= 6 forward+backward passes.")
    pb = pytorch_batch(a, methods)
    print(f"\nresnet18, a batch of {a.batch} {a.size}x{a.size} images (a target each), {a.threads} threads, seconds; "
          f"SmoothGrad {a.samples} samples, integrated gradients {a.ig_steps} steps")
    print(f"{'method':22} {'fovea':>9} {'pytorch':>9} {'ratio':>7} {'fovea img/s':>12}")
    for m in methods:
        f, p = fv["batch " + m], pb[m]
        print(f"{m:22} {f:9.2f} {p:9.2f} {p / f:6.2f}x {a.batch / f:12.1f}")


if __name__ == "__main__":
    main()
