"""fovea: convolutional networks (build, train, inspect, explain) from Python.

The C++ library does the work; this package is its bindings (docs/python.md). NumPy arrays
pass in and out without copies (the buffer protocol), PyTorch tensors through DLPack.
"""
from fovea._fovea import (  # noqa: F401
    Error, Module, Summary, Tensor, __version__, explain, finetune, from_dlpack, load, manual_seed, models, no_grad, ones,
    onnx, optim, rand, randn, rf, save, summary, tensor, train, zeros)

__all__ = ["Error", "Module", "Summary", "Tensor", "explain", "finetune", "from_dlpack", "load", "manual_seed", "models",
           "no_grad", "ones", "onnx", "optim", "rand", "randn", "rf", "save", "summary", "tensor", "train", "zeros"]

# `import fovea.explain` and `from fovea.models import create` work as for any subpackage
import sys as _sys
from fovea import _fovea

for _name in ("explain", "models", "onnx", "optim"):
    _sys.modules[f"fovea.{_name}"] = getattr(_fovea, _name)
del _sys, _name
