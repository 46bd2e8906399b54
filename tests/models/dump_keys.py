#!/usr/bin/python3
# Writes tests/models/keys/NAME.txt: torchvision 0.14's state_dict keys, one per line, in order.
# Run with Debian's interpreter: /usr/bin/python3 tests/models/dump_keys.py [NAME ...]
import os
import sys

import torchvision

MODELS = ["alexnet", "vgg11", "vgg13", "vgg16", "vgg19", "vgg11_bn", "vgg13_bn", "vgg16_bn",
          "vgg19_bn", "googlenet", "squeezenet1_1", "mobilenet_v2"]

out = os.path.join(os.path.dirname(os.path.abspath(__file__)), "keys")
os.makedirs(out, exist_ok=True)
for name in sys.argv[1:] or MODELS:
    kwargs = {"aux_logits": True, "init_weights": False} if name == "googlenet" else {}
    net = getattr(torchvision.models, name)(**kwargs)
    with open(os.path.join(out, name + ".txt"), "w") as f:
        f.writelines(k + "\n" for k in net.state_dict())
    print(name, sum(p.numel() for p in net.parameters()))
