#!/usr/bin/python3
"""Every classification model of Debian's torchvision, exported by torch.onnx.export, run by
`fovea run` and compared with PyTorch's logits (random weights from seed 0, random batch-norm
statistics, one image of 224 x 224, inception_v3 299 x 299). Too slow for `make test` as a whole
(about 80 models x 2 opsets); tests/onnx/test_onnx_import.cpp runs a selection of them.

  /usr/bin/python3 bench/onnx_zoo.py --fovea build/fovea [--models resnet18,convnext_tiny]
      [--opsets 13,17] [--max-params 200e6] [--work /tmp/onnx_zoo] [--markdown table.md]

A model passes when max |fovea - torch| <= 1e-4 * max |torch| (the parity tests' rule). The last
line counts passes; the exit status is 1 when any model that ran failed or was refused."""
import argparse
import os
import subprocess
import sys
import time

import numpy as np
import torch
import torchvision

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "tests", "models"))
sys.path.insert(0, os.path.join(HERE, "..", "tools"))
from torch2safetensors import write_safetensors  # noqa: E402
from torchvision_parity import fixed_input, make_model  # noqa: E402


def read_output(path):
    """the tensor 'output' of a safetensors file fovea wrote (f32)"""
    import json
    import struct

    with open(path, "rb") as f:
        n = struct.unpack("<Q", f.read(8))[0]
        header = json.loads(f.read(n))
        meta = header["output"]
        f.seek(8 + n + meta["data_offsets"][0])
        count = int(np.prod(meta["shape"]))
        return np.frombuffer(f.read(4 * count), dtype=np.float32).reshape(meta["shape"])


def run_one(fovea, name, opset, work):
    size = 299 if name == "inception_v3" else 224
    model = make_model(name)
    # torchvision zero-initialises some heads (ViT, Swin): random values, or every logit is the
    # same constant and the comparison says nothing
    with torch.no_grad():
        for p in model.parameters():
            if p.dim() > 1 and not p.any():
                p.normal_(0, 0.02)
    params = sum(p.numel() for p in model.parameters())
    x = fixed_input(size)
    d = os.path.join(work, f"{name}_op{opset}")
    os.makedirs(d, exist_ok=True)
    onnx_path = os.path.join(d, "model.onnx")
    t0 = time.time()
    try:
        torch.onnx.export(model, x, onnx_path, opset_version=opset, input_names=["input"], output_names=["logits"],
                          dynamic_axes={"input": {0: "N"}, "logits": {0: "N"}})
    except Exception as e:  # noqa: BLE001 (torch's own exporter refusing is reported, not fovea's)
        return params, None, None, "torch cannot export: " + str(e).splitlines()[0][:120]
    t_export = time.time() - t0
    with torch.no_grad():
        ref = model(x)
        if isinstance(ref, tuple):
            ref = ref[0]
        ref = ref.numpy()
    del model
    write_safetensors(os.path.join(d, "x.safetensors"), {"input": x.numpy()})
    t0 = time.time()
    r = subprocess.run([fovea, "run", onnx_path, "--input", os.path.join(d, "x.safetensors"), "--output",
                        os.path.join(d, "y.safetensors")], capture_output=True, text=True)
    t_fovea = time.time() - t0
    if r.returncode != 0:
        msg = (r.stderr.strip().splitlines() or ["exit %d" % r.returncode])[-1]
        return params, t_export, t_fovea, "REFUSED " + msg[:200]
    y = read_output(os.path.join(d, "y.safetensors"))
    if y.shape != ref.shape:
        return params, t_export, t_fovea, f"WRONG shape {y.shape} vs {ref.shape}"
    err = float(np.abs(y - ref).max() / max(np.abs(ref).max(), 1e-12))
    status = "pass" if err <= 1e-4 else "WRONG"
    for f in ("model.onnx", "x.safetensors", "y.safetensors"):
        os.remove(os.path.join(d, f))
    return params, t_export, t_fovea, f"{status} (max error {err:.1e} of max |logit|)"


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--fovea", required=True)
    ap.add_argument("--models", default="")
    ap.add_argument("--opsets", default="13,17")
    ap.add_argument("--max-params", type=float, default=0, help="skip larger models (0: none skipped)")
    ap.add_argument("--work", default="/tmp/onnx_zoo")
    ap.add_argument("--markdown", default="")
    a = ap.parse_args()
    torch.set_num_threads(2)
    names = a.models.split(",") if a.models else torchvision.models.list_models(module=torchvision.models)
    rows, failed, passed = [], 0, 0
    print(f"torch {torch.__version__}, torchvision {torchvision.__version__}; {len(names)} models", flush=True)
    for name in names:
        for opset in [int(o) for o in a.opsets.split(",")]:
            if a.max_params:
                n = sum(p.numel() for p in make_model(name).parameters())
                if n > a.max_params:
                    rows.append((name, opset, n, None, None, f"skipped: {n / 1e6:.0f} M parameters"))
                    print(f"{name:22s} opset {opset}: skipped ({n / 1e6:.0f} M parameters)", flush=True)
                    continue
            params, te, tf, status = run_one(a.fovea, name, opset, a.work)
            rows.append((name, opset, params, te, tf, status))
            passed += status.startswith("pass")
            failed += status.startswith(("WRONG", "REFUSED"))
            tfs = f"{tf:6.1f} s" if tf is not None else "   -"
            print(f"{name:22s} opset {opset}: {params / 1e6:6.1f} M params, fovea run {tfs}: {status}", flush=True)
    if a.markdown:
        with open(a.markdown, "w") as f:
            f.write("| model | opset | parameters | `fovea run` | result |\n|---|---|---|---|---|\n")
            for name, opset, params, te, tf, status in rows:
                t = f"{tf:.1f} s" if tf is not None else "-"
                f.write(f"| {name} | {opset} | {params / 1e6:.1f} M | {t} | {status} |\n")
    print(f"[onnx_zoo] {passed} of {len(rows)} exports match PyTorch; {failed} failed or refused")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
