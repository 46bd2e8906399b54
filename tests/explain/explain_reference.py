#!/usr/bin/python3
"""Reference maps for tests/explain/test_explain_parity.cpp, computed with PyTorch's autograd and
hooks, each written from its paper's formula: vanilla saliency, guided backprop, deconvnet,
Grad-CAM and guided Grad-CAM; Grad-CAM++, Score-CAM, LayerCAM (one layer and fused over
several), integrated gradients (zero and blurred baselines, with the completeness figures),
Grad-CAM on a second layer; and the faithfulness measures (deletion / insertion curves, average
drop and increase) of one map.

Usage: explain_reference.py small|resnet18 DIR. Writes DIR/weights.safetensors (the model's
state_dict) and DIR/io.safetensors ("input", "target" and one tensor per map, named as fovea's
methods: vanilla, guided, deconv, gradcam, guided-gradcam; the newer methods on "input2" /
"target2": gradcam++, scorecam, layercam, layercam-fused, integrated-gradients, ig-sum, ig-gap,
integrated-gradients-blur, gradcam-second; the faithfulness of "gradcam++" as deletion,
insertion, probability, masked). The layer names are in the file's metadata. The small CNN's
files are committed under tests/explain/fixtures/small (make_golden.py rewrites them);
resnet18's are made at test time. The ReLU rule is a custom autograd function put in place of every ReLU, so reused and
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


def finish(cam, size):
    """(N,1,h,w) -> bilinear to size, each image scaled to [0, 1] (zeros when flat)."""
    cam = F.interpolate(cam, size=size, mode="bilinear", align_corners=False)
    return scale01(cam)


def scale01(m):
    lo = m.amin((2, 3), keepdim=True)
    hi = m.amax((2, 3), keepdim=True)
    return torch.where(hi > lo, (m - lo) / (hi - lo).clamp(min=1e-30), torch.zeros_like(m))


def layer_grads(model, layers, x, target):
    """Each named layer's output A and the gradient of the target logits' sum dA (standard rule)."""
    saved, handles = {}, []
    for name, mod in layers.items():
        def keep(_, __, out, name=name):
            saved[name] = out
            out.register_hook(lambda g, name=name: saved.setdefault(name + "/grad", g))
        handles.append(mod.register_forward_hook(keep))
    RULE[0] = "standard"
    model(x.clone().requires_grad_(True)).gather(1, target[:, None]).sum().backward()
    for h in handles:
        h.remove()
    return {n: (saved[n].detach(), saved[n + "/grad"].detach()) for n in layers}


def grad_cam(a, g, size):
    return finish(F.relu((g.mean((2, 3), keepdim=True) * a).sum(1, keepdim=True)), size)


def grad_cam_pp(a, g, size):
    """Chattopadhay et al. 2018, eq. 19 with the exponential score: alpha = g^2 / (2 g^2 + sum(A) g^3)."""
    g2 = g * g
    g3 = g2 * g
    denom = 2 * g2 + a.sum((2, 3), keepdim=True) * g3
    nonzero = denom != 0
    alpha = torch.where(nonzero, g2 / torch.where(nonzero, denom, torch.ones_like(denom)), torch.zeros_like(denom))
    w = (alpha * F.relu(g)).sum((2, 3), keepdim=True)
    return finish(F.relu((w * a).sum(1, keepdim=True)), size)


def layer_cam(pairs, size, gamma=2.0):
    """Jiang et al. 2021: ReLU(sum_k ReLU(dA_k) A_k); several layers: M / max M, tanh(gamma .), up-sampled, max."""
    maps = [F.relu((F.relu(g) * a).sum(1, keepdim=True)) for a, g in pairs]
    if len(maps) == 1:
        return finish(maps[0], size)
    fused = None
    for m in maps:
        hi = m.amax((2, 3), keepdim=True).clamp(min=1e-30)
        up = F.interpolate(torch.tanh(gamma * m / hi), size=size, mode="bilinear", align_corners=False)
        fused = up if fused is None else torch.maximum(fused, up)
    return scale01(fused)


@torch.no_grad()
def score_cam(model, act, x, target, batch=64):
    """Wang et al. 2020: channel k up-sampled and scaled to [0, 1] masks the input; its weight is the
    class's softmax probability on the masked input (flat channels weigh 0)."""
    size = x.shape[2:]
    cams = []
    for i in range(x.shape[0]):
        a = act[i]
        k = a.shape[0]
        up = F.interpolate(a[None], size=size, mode="bilinear", align_corners=False).view(k, 1, *size)
        masks = scale01(up)
        live = (up.amax((1, 2, 3)) > up.amin((1, 2, 3))).nonzero().flatten()
        w = torch.zeros(k)
        for b in range(0, len(live), batch):
            idx = live[b:b + batch]
            p = F.softmax(model(x[i:i + 1] * masks[idx]), 1)[:, target[i]]
            w[idx] = p
        cams.append(F.relu((w[:, None, None] * a).sum(0, keepdim=True)))
    return finish(torch.stack(cams), size)


def blur(x, kernel=11, sigma=5.0):
    d = torch.arange(kernel, dtype=torch.float64) - kernel // 2
    g = torch.exp(-d * d / (2 * sigma * sigma))
    k2 = (g[:, None] * g[None, :]) / g.sum() ** 2
    c = x.shape[1]
    w = k2.to(x.dtype).expand(c, 1, kernel, kernel).contiguous()
    return F.conv2d(x, w, padding=kernel // 2, groups=c)


def integrated_gradients(model, x, target, base, steps):
    """Sundararajan et al. 2017 by the trapezoidal rule over `steps` intervals; with the sum of the
    attributions and score(x) - score(baseline)."""
    RULE[0] = "standard"
    n = x.shape[0]
    total = torch.zeros_like(x)
    first, last = torch.zeros(n, dtype=torch.float64), torch.zeros(n, dtype=torch.float64)
    for i in range(n):
        alphas = torch.arange(steps + 1, dtype=torch.float64) / steps
        path = torch.stack([base[i] + (x[i] - base[i]) * float(al) for al in alphas]).requires_grad_(True)
        scores = model(path)[:, target[i]]
        (g,) = torch.autograd.grad(scores.sum(), path)
        w = torch.full((steps + 1,), 1.0 / steps)
        w[0] = w[-1] = 0.5 / steps
        total[i] = (g * w[:, None, None, None]).sum(0)
        first[i], last[i] = float(scores[0]), float(scores[-1])
    attr = (x - base) * total
    return attr, attr.double().sum((1, 2, 3)), last - first


@torch.no_grad()
def faithfulness(model, x, target, imp, steps):
    """RISE's deletion (pixels to 0, most important first) and insertion (from the blurred input)
    curves of the softmax probability, and the probability on x times the map scaled to [0, 1]."""
    n, c, h, w = x.shape
    px = h * w
    blurred = blur(x)
    prob = lambda t, i: float(F.softmax(model(t[None]), 1)[0, target[i]])  # noqa: E731
    dele, ins, p, masked = [], [], [], []
    m01 = scale01(imp)
    for i in range(n):
        order = torch.sort(imp[i, 0].flatten(), descending=True, stable=True).indices
        cut, grow = x[i].clone().view(c, px), blurred[i].clone().view(c, px)
        src = x[i].view(c, px)
        d_curve, i_curve, done = [], [], 0
        for k in range(steps + 1):
            upto = (k * px + steps // 2) // steps
            sel = order[done:upto]
            cut[:, sel] = 0
            grow[:, sel] = src[:, sel]
            done = upto
            d_curve.append(prob(cut.view(c, h, w), i))
            i_curve.append(prob(grow.view(c, h, w), i))
        dele.append(d_curve)
        ins.append(i_curve)
        p.append(prob(x[i], i))
        masked.append(prob(x[i] * m01[i], i))
    return (torch.tensor(dele), torch.tensor(ins), torch.tensor(p), torch.tensor(masked))


def newer_maps(model, layers, x, target, ig_steps):
    """layers: cam (the CAM methods'), second (Grad-CAM's other layer), fused (LayerCAM's list)."""
    size = x.shape[2:]
    named = {layers["cam"]: None, layers["second"]: None}
    named.update({n: None for n in layers["fused"]})
    modules = dict(model.named_modules())
    ag = layer_grads(model, {n: modules[n] for n in named}, x, target)
    a, g = ag[layers["cam"]]
    out = {"gradcam++": grad_cam_pp(a, g, size), "layercam": layer_cam([(a, g)], size),
           "layercam-fused": layer_cam([ag[n] for n in layers["fused"]], size),
           "gradcam-second": grad_cam(*ag[layers["second"]], size),
           "scorecam": score_cam(model, a, x, target)}
    attr, s, gap = integrated_gradients(model, x, target, torch.zeros_like(x), ig_steps)
    out.update({"integrated-gradients": attr, "ig-sum": s, "ig-gap": gap})
    out["integrated-gradients-blur"] = integrated_gradients(model, x, target, blur(x), ig_steps)[0]
    d, i, p, m = faithfulness(model, x, target, out["gradcam++"], 8)
    out.update({"deletion": d, "insertion": i, "probability": p, "masked": m})
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
        layers = {"cam": "conv3", "second": "bn2", "fused": ["conv1", "bn2", "conv3"]}
        x2, target2, ig_steps = x, torch.tensor([1, 4]), 20
    elif which == "resnet18":
        import torchvision

        model = torchvision.models.resnet18(weights=None)
        layer = model.layer4
        x = torch.randn(1, 3, 224, 224, generator=torch.Generator().manual_seed(1))
        target = torch.tensor([7])
        # the newer methods on two smaller images: Score-CAM runs the model once per channel
        layers = {"cam": "layer4", "second": "layer3", "fused": ["layer2", "layer3", "layer4"]}
        x2 = torch.randn(2, 3, 64, 64, generator=torch.Generator().manual_seed(2))
        target2, ig_steps = torch.tensor([7, 123]), 8
    else:
        raise SystemExit(f"explain_reference.py: unknown model {which!r} (small, resnet18)")
    randomise_bn(model)
    model.eval()
    result = maps(model, layer, x, target)
    for p in model.parameters():
        p.requires_grad_(False)
    result.update(newer_maps(model, layers, x2, target2, ig_steps))
    os.makedirs(out, exist_ok=True)
    write_safetensors(os.path.join(out, "weights.safetensors"), state_dict_arrays(model.state_dict()))
    tensors = {"input": x.numpy(), "target": target.numpy(), "input2": x2.numpy(), "target2": target2.numpy()}
    tensors.update({k: v.numpy() for k, v in result.items()})
    meta = {"cam": layers["cam"], "second": layers["second"], "fused": ",".join(layers["fused"]),
            "ig_steps": str(ig_steps), "faithfulness_steps": "8"}
    write_safetensors(os.path.join(out, "io.safetensors"), tensors, meta)


if __name__ == "__main__":
    main()
