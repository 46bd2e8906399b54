#!/usr/bin/python3
"""For tests/onnx/test_onnx_import.cpp: a model exported with torch.onnx.export (dynamic batch)
and its eval-mode output for a fixed input. NAME is a torchvision model (random weights as in
tests/models/torchvision_parity.py), "tiny_mixed", a small net of the layers torchvision lacks, or
"tiny_modern", one of the layers of newer classifiers (LayerNorm, GELU, PReLU, InstanceNorm, ...).
Usage: onnx_parity.py NAME SIZE OPSET DIR  ->  DIR/model.onnx, DIR/io.safetensors ("input", "logits")"""
import os
import sys

import torch
import torch.nn.functional as F
from torch import nn

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "models"))
sys.path.insert(0, os.path.join(HERE, "..", "..", "tools"))
from torch2safetensors import write_safetensors  # noqa: E402
from torchvision_parity import fixed_input, make_model  # noqa: E402


class TinyMixed(nn.Module):
    """ConvTranspose, LeakyReLU, ReLU6, Hardswish, ceil-mode pooling, interpolation, x.view(x.size(0), -1)"""

    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(3, 8, 3, padding=1)
        self.bn = nn.BatchNorm2d(8)
        self.pool = nn.MaxPool2d(3, 2, 1, ceil_mode=True)
        self.up = nn.ConvTranspose2d(8, 6, 4, stride=2, padding=1)
        self.dw = nn.Conv2d(6, 6, 3, padding=2, dilation=2, groups=6)
        self.fc = nn.Linear(6 * 4 * 4, 10)

    def forward(self, x):
        x = F.relu6(self.bn(self.conv(x)))
        x = F.hardswish(self.up(self.pool(x)))
        x = F.interpolate(x, scale_factor=0.5, mode="bilinear", align_corners=False)
        x = F.leaky_relu(self.dw(x), 0.1)
        x = F.interpolate(x, scale_factor=2, mode="nearest")
        x = F.avg_pool2d(x, 8) * torch.sigmoid(F.adaptive_avg_pool2d(x, 1))
        x = torch.cat([x[:, :3], torch.tanh(x[:, 3:])], 1)
        return torch.softmax(self.fc(x.view(x.size(0), -1)), 1)


class TinyModern(nn.Module):
    """The layers of newer classifiers: LayerNorm over channels (ConvNeXt's permute pattern; at
    opsets below 17 torch exports it as ReduceMean/Sub/Pow/Sqrt/Div), a Linear on (N,H,W,C)
    (MatMul + Add), GELU (Erf), PReLU,
    InstanceNorm, Softplus, bicubic interpolation, pixel shuffle (DepthToSpace), a flip (a negative
    Slice step) and a mean over H, W (ReduceMean)"""

    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(3, 8, 3, padding=1)
        self.norm = nn.LayerNorm(8, eps=1e-6)
        self.pw = nn.Linear(8, 8)  # on (N,H,W,C): MatMul + Add
        self.prelu = nn.PReLU(8)
        self.inorm = nn.InstanceNorm2d(8, affine=True)
        self.conv2 = nn.Conv2d(8, 16, 3, padding=1)
        self.fc = nn.Linear(4, 10)

    def forward(self, x):
        x = self.conv(x)
        x = self.pw(self.norm(x.permute(0, 2, 3, 1))).permute(0, 3, 1, 2)
        x = self.prelu(F.gelu(x))
        x = F.softplus(self.inorm(x))
        x = F.interpolate(x, scale_factor=2, mode="bicubic", align_corners=False)
        x = F.pixel_shuffle(self.conv2(x), 2)  # (N, 4, 4H, 4W)
        x = torch.flip(x, [3])
        return self.fc(x.mean([2, 3]))


def main():
    name, size, opset, out = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), sys.argv[4]
    if name == "tiny_modern":
        torch.manual_seed(0)
        model = TinyModern().eval()
        with torch.no_grad():
            model.prelu.weight.uniform_(0.1, 0.4)
            model.norm.weight.uniform_(0.5, 1.5)
            model.inorm.weight.uniform_(0.5, 1.5)
            model.inorm.bias.uniform_(-0.5, 0.5)
        x = fixed_input(size, batch=3)
    elif name == "tiny_mixed":
        torch.manual_seed(0)
        model = TinyMixed().eval()
        with torch.no_grad():
            model.bn.running_mean.uniform_(-0.1, 0.1)
            model.bn.running_var.uniform_(0.5, 1.5)
        x = fixed_input(size, batch=3)
    else:
        model = make_model(name)
        x = fixed_input(size)
    os.makedirs(out, exist_ok=True)
    torch.onnx.export(model, x[:1], os.path.join(out, "model.onnx"), opset_version=opset, input_names=["input"],
                      output_names=["logits"], dynamic_axes={"input": {0: "N"}, "logits": {0: "N"}})
    with torch.no_grad():
        y = model(x)
    write_safetensors(os.path.join(out, "io.safetensors"), {"input": x.numpy(), "logits": y.numpy()})


if __name__ == "__main__":
    main()
