#!/usr/bin/python3
"""For tests/models/test_zoo_parity.cpp: a torchvision model with random weights from a fixed seed,
its weights (DIR/weights.safetensors) and, for a fixed input, its eval-mode logits
(DIR/io.safetensors: "input", "logits"). Usage: torchvision_parity.py NAME SIZE DIR"""
import os
import sys

import torch
import torchvision

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "tools"))
from torch2safetensors import state_dict_arrays, write_safetensors  # noqa: E402


def make_model(name):
    """torchvision's NAME in eval mode, random weights from seed 0 and random BN statistics"""
    torch.manual_seed(0)
    torch.set_num_threads(2)
    kwargs = {"aux_logits": True, "init_weights": True} if name == "googlenet" else {}
    model = getattr(torchvision.models, name)(weights=None, **kwargs).eval()
    if name == "googlenet":
        model.transform_input = False
    # random running statistics, so batch norm's eval path is exercised, not its identity
    with torch.no_grad():
        for m in model.modules():
            if isinstance(m, torch.nn.BatchNorm2d):
                m.running_mean.uniform_(-0.1, 0.1)
                m.running_var.uniform_(0.5, 1.5)
    return model


def fixed_input(size, batch=1):
    return torch.randn(batch, 3, size, size, generator=torch.Generator().manual_seed(1))


def main():
    name, size, out = sys.argv[1], int(sys.argv[2]), sys.argv[3]
    model = make_model(name)
    x = fixed_input(size)
    with torch.no_grad():
        y = model(x)
    os.makedirs(out, exist_ok=True)
    write_safetensors(os.path.join(out, "weights.safetensors"), state_dict_arrays(model.state_dict()))
    torch.save(model.state_dict(), os.path.join(out, "weights.pth"))  # what torchvision publishes
    write_safetensors(os.path.join(out, "io.safetensors"), {"input": x.numpy(), "logits": y.numpy()})


if __name__ == "__main__":
    main()
