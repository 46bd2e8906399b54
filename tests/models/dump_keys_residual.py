#!/usr/bin/python3
"""Writes tests/models/keys/NAME.txt: torchvision 0.14's state-dict keys, one per line, in order.

Run with Debian's interpreter (/usr/bin/python3 tests/models/dump_keys_residual.py); the
parameter counts it prints are the ones tests/models/test_zoo_residual.cpp checks.
"""
import pathlib

import torchvision

NAMES = ["resnet18", "resnet34", "resnet50", "resnet101", "resnet152", "resnext50_32x4d", "wide_resnet50_2",
         "densenet121", "densenet161", "densenet169", "densenet201", "shufflenet_v2_x1_0"]

out = pathlib.Path(__file__).resolve().parent / "keys"
out.mkdir(exist_ok=True)
for name in NAMES:
    net = getattr(torchvision.models, name)()
    (out / f"{name}.txt").write_text("".join(k + "\n" for k in net.state_dict().keys()))
    print(name, sum(p.numel() for p in net.parameters()))
