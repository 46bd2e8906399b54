#!/usr/bin/python3
"""Writes the fuzz targets' seed corpora (fuzz/corpus/TARGET/): small valid files of every format,
made by the project's own tools and by PyTorch 1.13 / PIL / zlib, so the fuzzers start from inputs
that get past the first checks.

Usage: /usr/bin/python3 fuzz/make_corpus.py --fovea build/fovea   (rewrites fuzz/corpus)
"""
import argparse
import gzip
import io
import json
import os
import shutil
import struct
import subprocess
import sys
import tempfile

import numpy as np
import torch
import torch.nn as nn
from PIL import Image

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "tools"))
from torch2safetensors import write_safetensors  # noqa: E402


def put(target, name, data):
    d = os.path.join(HERE, "corpus", target)
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, name), "wb") as f:
        f.write(data)


def safetensors_bytes(tensors, metadata=None):
    with tempfile.TemporaryDirectory() as d:
        p = os.path.join(d, "x.safetensors")
        write_safetensors(p, tensors, metadata)
        return open(p, "rb").read()


def idx_bytes(a):
    a = np.ascontiguousarray(a, dtype=np.uint8)
    return struct.pack(">BBBB", 0, 0, 0x08, a.ndim) + b"".join(struct.pack(">I", n) for n in a.shape) + a.tobytes()


def image_bytes(img, fmt, **kw):
    b = io.BytesIO()
    img.save(b, fmt, **kw)
    return b.getvalue()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--fovea", required=True)
    a = ap.parse_args()
    shutil.rmtree(os.path.join(HERE, "corpus"), ignore_errors=True)
    rng = np.random.default_rng(0)

    # safetensors: each dtype fovea reads, a 0-d and an empty tensor, metadata
    put("safetensors", "f32.safetensors", safetensors_bytes({"w": rng.standard_normal((2, 3)).astype(np.float32)}))
    put("safetensors", "dtypes.safetensors", safetensors_bytes({
        "a": np.arange(4, dtype=np.float64), "b": np.arange(3, dtype=np.int64), "c": np.arange(5, dtype=np.uint8),
        "d": np.array(1.5, dtype=np.float32), "e": np.zeros((0, 2), np.float32)}, {"format": "pt", "note": "x"}))

    # a fovea checkpoint of a tiny spec-file network, one epoch on 64 images
    spec = {"input": [1, 28, 28], "layers": [{"type": "conv2d", "out": 2, "kernel": 5, "stride": 4},
                                             {"type": "relu"}, {"type": "flatten"}, {"type": "linear", "out": 10}]}
    with tempfile.TemporaryDirectory() as d:
        sp = os.path.join(d, "tiny.json")
        json.dump(spec, open(sp, "w"))
        subprocess.run([a.fovea, "train", "--model", sp, "--epochs", "1", "--limit-train", "64", "--limit-test", "32",
                        "--quiet", "--out", os.path.join(d, "run")], check=True, capture_output=True)
        put("checkpoint", "tiny.safetensors", open(os.path.join(d, "run", "last.safetensors"), "rb").read())
    put("checkpoint", "not_a_checkpoint.safetensors",
        safetensors_bytes({"model.w": np.ones(2, np.float32)}, {"format": "fovea-checkpoint-1"}))

    # IDX: images and labels, raw and gzip
    imgs = rng.integers(0, 256, (3, 4, 4), dtype=np.uint8)
    put("idx", "images.idx", idx_bytes(imgs))
    put("idx", "labels.idx", idx_bytes(np.array([1, 0, 7], np.uint8)))
    put("idx", "images.idx.gz", gzip.compress(idx_bytes(imgs), mtime=0))

    # PNG and JPEG (the first byte chooses the channels read: as the file, grey, RGB)
    grey = Image.fromarray(rng.integers(0, 256, (6, 5), dtype=np.uint8), "L")
    rgb = Image.fromarray(rng.integers(0, 256, (5, 6, 3), dtype=np.uint8), "RGB")
    put("image", "grey.png", b"\x00" + image_bytes(grey, "PNG"))
    put("image", "rgb.png", b"\x01" + image_bytes(rgb, "PNG"))
    put("image", "palette.png", b"\x02" + image_bytes(rgb.convert("P"), "PNG"))
    put("image", "rgba.png", b"\x00" + image_bytes(rgb.convert("RGBA"), "PNG"))
    put("image", "grey16.png", b"\x01" + image_bytes(Image.fromarray((np.arange(30).reshape(5, 6) * 2000).astype(np.uint16)), "PNG"))
    put("image", "grey.jpg", b"\x02" + image_bytes(grey, "JPEG", quality=50))
    put("image", "rgb.jpg", b"\x00" + image_bytes(rgb, "JPEG", quality=50))

    # ONNX: a small CNN exported by PyTorch, at two opsets
    torch.manual_seed(0)
    net = nn.Sequential(nn.Conv2d(1, 2, 3, padding=1), nn.BatchNorm2d(2), nn.ReLU(), nn.MaxPool2d(2), nn.Flatten(),
                        nn.Linear(2 * 4 * 4, 3)).eval()
    for opset in (11, 17):
        b = io.BytesIO()
        torch.onnx.export(net, torch.zeros(1, 1, 8, 8), b, opset_version=opset)
        put("onnx", f"cnn_opset{opset}.onnx", b.getvalue())

    # network specs: the examples, and the tiny one above
    for f in sorted(os.listdir(os.path.join(HERE, "..", "examples", "specs"))):
        put("spec", f, open(os.path.join(HERE, "..", "examples", "specs", f), "rb").read())
    put("spec", "tiny.json", json.dumps(spec).encode())

    # torch.save files: a state dict, and a checkpoint dict holding one under 'state_dict'
    small = nn.Sequential(nn.Conv2d(1, 2, 3), nn.Linear(2, 2))
    b = io.BytesIO()
    torch.save(small.state_dict(), b)
    put("pth", "state_dict.pth", b.getvalue())
    b = io.BytesIO()
    torch.save({"epoch": 3, "state_dict": {"module." + k: v for k, v in small.state_dict().items()}}, b)
    put("pth", "checkpoint.pth", b.getvalue())

    total = sum(len(fs) for _, _, fs in os.walk(os.path.join(HERE, "corpus")))
    size = sum(os.path.getsize(os.path.join(r, f)) for r, _, fs in os.walk(os.path.join(HERE, "corpus")) for f in fs)
    print(f"wrote {total} seed files, {size / 1024:.0f} KB, to {os.path.join(HERE, 'corpus')}")


if __name__ == "__main__":
    main()
