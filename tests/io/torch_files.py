#!/usr/bin/python3
"""torch.save files for tests/io/test_torch_file.cpp, written by Debian's PyTorch 1.13.

Run by tests/golden/make_golden.py (or alone); writes tests/io/fixtures/torch/*. Each good file
has a twin `<name>.expected.safetensors` holding what fovea must read: the same tensors,
contiguous, Int/Short/Char widened to I64 and Bool as U8.
"""
import collections
import json
import os
import struct
import sys
import zipfile

import numpy as np
import torch

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "fixtures", "torch")

_ST = {torch.float32: "F32", torch.float64: "F64", torch.int64: "I64", torch.uint8: "U8", torch.float16: "F16",
       torch.bfloat16: "BF16"}


def expected_safetensors(path, tensors):
    """A safetensors file of the tensors as fovea holds them (numpy only: no safetensors package)."""
    header, blobs, at = {}, [], 0
    for name, t in tensors.items():
        t = t.detach().contiguous()
        if t.dtype in (torch.int32, torch.int16, torch.int8):
            t = t.to(torch.int64)
        if t.dtype == torch.bool:
            t = t.to(torch.uint8)
        raw = t.view(torch.int16).numpy().tobytes() if t.dtype == torch.bfloat16 else t.numpy().tobytes()
        header[name] = {"dtype": _ST[t.dtype], "shape": list(t.shape), "data_offsets": [at, at + len(raw)]}
        blobs.append(raw)
        at += len(raw)
    h = json.dumps(header).encode()
    h += b" " * (-len(h) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(h)) + h + b"".join(blobs))


def state_dict():
    g = torch.Generator().manual_seed(0)
    base = torch.randn(4, 6, generator=g)
    sd = collections.OrderedDict()
    sd["conv.weight"] = torch.nn.Parameter(torch.randn(2, 3, 3, 3, generator=g))  # _rebuild_parameter
    sd["f64"] = torch.randn(5, generator=g, dtype=torch.float64)
    sd["half"] = torch.randn(3, generator=g).half()
    sd["bf16"] = torch.randn(3, generator=g).bfloat16()
    sd["bn.num_batches_tracked"] = torch.tensor(7)  # a 0-d i64
    sd["u8"] = torch.arange(10, dtype=torch.uint8)
    sd["i32"] = torch.tensor([-3, 2**31 - 1, -2**31], dtype=torch.int32)
    sd["i16"] = torch.tensor([-7, 300], dtype=torch.int16)
    sd["i8"] = torch.tensor([-128, 5], dtype=torch.int8)
    sd["mask"] = torch.tensor([True, False, True])
    sd["transposed"] = base.t()  # strides (1, 6)
    sd["row_view"] = base[1:3]  # the same storage, offset 6
    sd["strided"] = base[:, ::2]  # strides (6, 2)
    sd["empty"] = torch.zeros(0, 4)
    sd["broadcast"] = torch.randn(3, generator=g).expand(2, 3)  # stride 0
    return sd


class Evil:
    """Its unpickling would run a shell command."""

    def __reduce__(self):
        return (os.system, ("touch /tmp/fovea_torch_file_pwned",))


class Huge:
    """A tensor whose shape is far larger than its storage."""

    def __reduce__(self):
        return (torch._utils._rebuild_tensor_v2,
                (torch.zeros(4).storage(), 0, (2**40, 2**40), (1, 1), False, collections.OrderedDict()))


class PastEnd:
    """A tensor of 10 elements, 3 of them past the end of its 8-element storage."""

    def __reduce__(self):
        return (torch._utils._rebuild_tensor_v2,
                (torch.zeros(8).storage(), 1, (5, 2), (1, 3), False, collections.OrderedDict()))


def rewrite(src, dst, edit):
    """A copy of the zip src with each entry's bytes passed through edit(name, bytes)."""
    with zipfile.ZipFile(src) as zin, zipfile.ZipFile(dst, "w", zipfile.ZIP_STORED) as zout:
        for info in zin.infolist():
            zout.writestr(info.filename, edit(info.filename, zin.read(info.filename)))


def main():
    os.makedirs(OUT, exist_ok=True)
    p = lambda name: os.path.join(OUT, name)  # noqa: E731
    sd = state_dict()
    torch.save(sd, p("state_dict.pth"))
    expected_safetensors(p("state_dict.expected.safetensors"), sd)
    small = collections.OrderedDict(weight=torch.randn(2, 2), bias=torch.zeros(2))
    torch.save({"epoch": 3, "best_acc": 0.91, "arch": "tiny", "state_dict": small,
                "optimizer": {"state": {}, "param_groups": [{"lr": 0.1, "momentum": 0.9, "params": [0, 1]}]},
                "flags": (True, False, None)}, p("checkpoint.pth"))
    expected_safetensors(p("checkpoint.expected.safetensors"), small)
    # what a DataParallel / DistributedDataParallel run saves: every key under "module."
    wrapped = collections.OrderedDict((f"module.{k}", v) for k, v in small.items())
    torch.save({"epoch": 7, "model_state_dict": wrapped}, p("ddp_checkpoint.pth"))
    torch.save({"w": torch.ones(2), "run": Evil()}, p("evil.pth"))
    torch.save({"w": torch.ones(2), "args": collections.Counter(a=1)}, p("unknown_global.pth"))
    torch.save({"w": Huge()}, p("huge_shape.pth"))
    torch.save({"w": PastEnd()}, p("past_end.pth"))
    torch.save({"epoch": 1, "notes": ["no", "tensors"]}, p("no_state_dict.pth"))
    torch.save(small, p("legacy.pth"), _use_new_zipfile_serialization=False)
    with open(p("state_dict.pth"), "rb") as f:
        whole = f.read()
    with open(p("truncated.pth"), "wb") as f:
        f.write(whole[:len(whole) // 2])
    # storage "0" (conv.weight, 54 floats) cut to 10 bytes
    rewrite(p("state_dict.pth"), p("short_storage.pth"),
            lambda name, b: b[:10] if name.endswith("/data/0") else b)
    # two references to storage "0", the second claiming 8 elements where the storage holds 2
    torch.save({"a": torch.zeros(2), "b": torch.zeros(8)}, p("two_storages.pth"))
    rewrite(p("two_storages.pth"), p("storage_claims_differ.pth"),
            lambda name, b: b.replace(b"X\x01\x00\x00\x001", b"X\x01\x00\x00\x000") if name.endswith("data.pkl")
            else b)
    os.remove(p("two_storages.pth"))
    # the pickle cut short inside the archive
    rewrite(p("state_dict.pth"), p("truncated_pickle.pth"),
            lambda name, b: b[:len(b) // 2] if name.endswith("data.pkl") else b)
    print(f"wrote {len(os.listdir(OUT))} torch files to {OUT}")


if __name__ == "__main__":
    sys.exit(main())
