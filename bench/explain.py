#!/usr/bin/python3
"""The five maps of one 224x224 image on resnet18 (vanilla, guided backprop, deconvnet, Grad-CAM on
layer4, guided Grad-CAM), fovea against PyTorch 1.13 on the same threads, in one command. PyTorch
computes them as fovea does, as fast as it can: one forward pass, weights frozen, three backward
passes into the input (the ReLU rule switched by a custom autograd function), Grad-CAM from a
hook on layer4. Also prints both against one ordinary forward+backward pass (the issue's budget:
five maps for at most six passes).

Usage: /usr/bin/python3 bench/explain.py [--threads 2] [--budget 3] [--build build]
"""
import os
import sys

import torch
import torch.nn.functional as F
import torchvision

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.join(HERE, "..", "tests", "explain"))
from common import median_seconds, parse_args, run_fovea  # noqa: E402
from explain_reference import RULE, use_rule_relu  # noqa: E402


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


def main():
    a = parse_args()
    fv = {r["row"]: r["seconds"] for r in run_fovea(a, "explain")}
    pt = pytorch(a.threads, a.budget)
    print(f"resnet18, one 224x224 image, {a.threads} threads, ms (PyTorch {torch.__version__})")
    print(f"{'row':18} {'fovea':>9} {'pytorch':>9} {'ratio':>7}  {'fovea / fwd+bwd':>16} {'pytorch / fwd+bwd':>18}")
    for row in ("forward+backward", "vanilla", "five maps"):
        print(f"{row:18} {1e3 * fv[row]:9.1f} {1e3 * pt[row]:9.1f} {pt[row] / fv[row]:6.2f}x  "
              f"{fv[row] / fv['forward+backward']:16.2f} {pt[row] / pt['forward+backward']:18.2f}")
    print("ratio: PyTorch's time / fovea's (above 1: fovea faster). Goal: five maps <= 6 forward+backward passes.")


if __name__ == "__main__":
    main()
