#!/usr/bin/python3
"""Writes a PyTorch state_dict as safetensors that fovea loads unchanged (fovea's module keys are
torchvision's). Needs only torch (to read the checkpoint) and numpy; no safetensors package.

  /usr/bin/python3 tools/torch2safetensors.py resnet18.pth resnet18.safetensors
  /usr/bin/python3 tools/torch2safetensors.py --torchvision resnet18 --seed 0 resnet18.safetensors
      (torchvision's architecture with random weights from the seed: for tests; nothing is downloaded)
"""
import argparse
import json
import os
import sys

import numpy as np

_DTYPES = {"float32": "F32", "float64": "F64", "int64": "I64", "uint8": "U8", "float16": "F16", "bfloat16": "BF16"}


def write_safetensors(path, tensors, metadata=None):
    """tensors: name -> numpy array (C-contiguous, little-endian). Written atomically."""
    header, offset, blobs = {}, 0, []
    for name, a in tensors.items():
        a = np.asarray(a, order="C")  # keeps 0-d arrays 0-d (ascontiguousarray would make them 1-d)
        if a.dtype.name not in _DTYPES:
            sys.exit(f"torch2safetensors: tensor '{name}' has dtype {a.dtype}, which safetensors files of fovea do not hold")
        b = a.astype(a.dtype.newbyteorder("<"), copy=False).tobytes()
        header[name] = {"dtype": _DTYPES[a.dtype.name], "shape": list(a.shape), "data_offsets": [offset, offset + len(b)]}
        offset += len(b)
        blobs.append(b)
    if metadata:
        header["__metadata__"] = {str(k): str(v) for k, v in metadata.items()}
    h = json.dumps(header, separators=(",", ":")).encode()
    h += b" " * ((8 - len(h) % 8) % 8)
    tmp = path + ".tmp"
    with open(tmp, "wb") as f:
        f.write(len(h).to_bytes(8, "little"))
        f.write(h)
        for b in blobs:
            f.write(b)
    os.replace(tmp, path)


def state_dict_arrays(sd):
    import torch
    out = {}
    for k, v in sd.items():
        if not isinstance(v, torch.Tensor):
            continue
        v = v.detach().cpu().contiguous()
        out[k] = v.float().numpy() if v.dtype == torch.bfloat16 else v.numpy()
    return out


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("source", nargs="?", help="a .pth / .pt file holding a state_dict (or a model)")
    ap.add_argument("output")
    ap.add_argument("--torchvision", help="a torchvision model name, with random weights")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--num-classes", type=int, default=1000)
    a = ap.parse_args()
    import torch
    if a.torchvision:
        import torchvision
        torch.manual_seed(a.seed)
        kwargs = {"num_classes": a.num_classes}
        if a.torchvision == "googlenet":
            kwargs.update(aux_logits=True, init_weights=True)
        sd = getattr(torchvision.models, a.torchvision)(weights=None, **kwargs).state_dict()
        meta = {"source": f"torchvision.models.{a.torchvision}", "seed": a.seed}
    else:
        if not a.source:
            sys.exit("torch2safetensors: give a .pth file or --torchvision NAME")
        obj = torch.load(a.source, map_location="cpu")
        sd = obj.state_dict() if hasattr(obj, "state_dict") else obj.get("state_dict", obj)
        meta = {"source": os.path.basename(a.source)}
    arrays = state_dict_arrays(sd)
    write_safetensors(a.output, arrays, meta)
    print(f"wrote {len(arrays)} tensors ({sum(x.size for x in arrays.values()):,} values) to {a.output}")


if __name__ == "__main__":
    main()
