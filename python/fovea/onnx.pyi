# Type stubs of fovea.onnx.
from typing import Sequence

from . import Module

def load(path: str) -> Module: ...
def save(net: Module, path: str, *, input: Sequence[int], opset: int = 17) -> None: ...
