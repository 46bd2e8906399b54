#!/usr/bin/python3
"""Reference maps for tests/explain/test_explain_parity.cpp, computed with PyTorch's autograd and
hooks: vanilla saliency, guided backprop, deconvnet, Grad-CAM and guided Grad-CAM.

Usage: explain_reference.py small|resnet18 DIR. Writes DIR/weights.safetensors (the model's
state_dict) and DIR/io.safetensors ("input", "target" and one tensor per map, named as fovea's
methods: vanilla, guided, deconv, gradcam, guided-gradcam). The small CNN's files are committed
under tests/explain/fixtures/small (make_golden.py rewrites them); resnet18's are made at test
time. The ReLU rule is a custom autograd function put in place of every ReLU, so reused and
in-place ReLU modules are all covered (hooks on nn.ReLU would miss reused ones)."""
import os
import sys

import torch
import torch.nn as nn
import torch.nn.functional as F

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "tools"))
from torch2safetensors import state_dict_arrays, write_safetensors  # noqa: E402

RULE = ["standard"]


class RuleReLU(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x):
        ctx.save_for_backward(x)
        return x.clamp(min=0)

    @staticmethod
    def backward(ctx, g):
        (x,) = ctx.saved_tensors
        if RULE[0] == "standard":
            return g * (x > 0)
        if RULE[0] == "guided":
            return g.clamp(min=0) * (x > 0)
        return g.clamp(min=0)  # deconvnet


def use_rule_relu():
    """Every nn.ReLU module follows RULE from now on (functional calls use RuleReLU directly)."""
    nn.ReLU.forward = lambda self, x: RuleReLU.apply(x)


class Small(nn.Module):
    """conv-relu-maxpool, conv-bn-relu, conv-relu, global average pool, linear (fovea's twin:
    tests/explain/test_explain_parity.cpp)."""

    def __init__(self):
        super().__init__()
        self.conv1 = nn.Conv2d(3, 8, 3, padding=1)
        self.conv2 = nn.Conv2d(8, 16, 3, padding=1)
        self.bn2 = nn.BatchNorm2d(16)
        self.conv3 = nn.Conv2d(16, 16, 3, padding=1)
        self.fc = nn.Linear(16, 5)

    def forward(self, x):
        x = F.max_pool2d(RuleReLU.apply(self.conv1(x)), 2)
        x = RuleReLU.apply(self.bn2(self.conv2(x)))
        x = RuleReLU.apply(self.conv3(x))
        return self.fc(x.mean((2, 3)))


def maps(model, layer, x, target):
    saved = {}

    def keep(_, __, out):
        saved["a"] = out
        out.register_hook(lambda g: saved.setdefault("g", g))

    handle = layer.register_forward_hook(keep)
    out = {}
    for rule in ("standard", "guided", "deconv"):
        RULE[0] = rule
        xi = x.clone().requires_grad_(True)
        logits = model(xi)
        logits.gather(1, target[:, None]).sum().backward()
        out[{"standard": "vanilla"}.get(rule, rule)] = xi.grad.detach()
        if rule == "standard":
            handle.remove()
            a, g = saved["a"].detach(), saved["g"].detach()
            cam = F.relu((g.mean((2, 3), keepdim=True) * a).sum(1, keepdim=True))
            cam = F.interpolate(cam, size=x.shape[2:], mode="bilinear", align_corners=False)
            lo = cam.amin((2, 3), keepdim=True)
            hi = cam.amax((2, 3), keepdim=True)
            out["gradcam"] = torch.where(hi > lo, (cam - lo) / (hi - lo).clamp(min=1e-30), torch.zeros_like(cam))
    RULE[0] = "standard"
    out["guided-gradcam"] = out["guided"] * out["gradcam"]
    return out


def randomise_bn(model):
    with torch.no_grad():
        for m in model.modules():
            if isinstance(m, nn.BatchNorm2d):
                m.running_mean.uniform_(-0.1, 0.1)
                m.running_var.uniform_(0.5, 1.5)
                m.weight.uniform_(0.5, 1.5)
                m.bias.uniform_(-0.1, 0.1)


def main():
    use_rule_relu()
    which, out = sys.argv[1], sys.argv[2]
    torch.manual_seed(0)
    torch.set_num_threads(2)
    if which == "small":
        model, layer = Small(), None
        layer = model.conv3
        x = torch.randn(2, 3, 16, 16, generator=torch.Generator().manual_seed(1))
        target = torch.tensor([1, 3])
    elif which == "resnet18":
        import torchvision

        model = torchvision.models.resnet18(weights=None)
        layer = model.layer4
        x = torch.randn(1, 3, 224, 224, generator=torch.Generator().manual_seed(1))
        target = torch.tensor([7])
    else:
        raise SystemExit(f"explain_reference.py: unknown model {which!r} (small, resnet18)")
    randomise_bn(model)
    model.eval()
    result = maps(model, layer, x, target)
    os.makedirs(out, exist_ok=True)
    write_safetensors(os.path.join(out, "weights.safetensors"), state_dict_arrays(model.state_dict()))
    tensors = {"input": x.numpy(), "target": target.numpy()}
    tensors.update({k: v.numpy() for k, v in result.items()})
    write_safetensors(os.path.join(out, "io.safetensors"), tensors)


if __name__ == "__main__":
    main()
