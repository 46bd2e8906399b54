#!/usr/bin/python3
"""Writes fovea/onnx/arity_table.inc: the input counts ONNX's schemas allow for every op fovea
imports, by opset, from Debian's onnx package (its schemas reach opset 17) and, for opset 18, the
changes listed in ONNX 1.13's release notes. The importer refuses a node with too few or too many
inputs before its converter runs (found by fuzzing: a Gemm with one input read past its inputs).

Usage: /usr/bin/python3 tests/onnx/make_arity_table.py   (run again when an op is added)
"""
import os
import re
import sys

import onnx.defs

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..")
MANY = 2147483647
# opset 18 (ONNX 1.13): the reductions but ReduceSum take `axes` as an optional input, Pad an
# optional `axes`; the other ops fovea imports kept their input counts
OPSET_18 = {op: (1, 2) for op in ["ReduceMean", "ReduceMax", "ReduceMin", "ReduceL1", "ReduceL2", "ReduceSumSquare",
                                  "ReduceLogSum", "ReduceLogSumExp"]}
OPSET_18["Pad"] = (2, 4)


def supported_ops():
    ops = set()
    for name in os.listdir(os.path.join(ROOT, "fovea", "onnx")):
        if name.endswith(".cpp"):
            with open(os.path.join(ROOT, "fovea", "onnx", name)) as f:
                ops.update(re.findall(r'm\["(\w+)"\] = \{', f.read()))
    return sorted(ops)


def main():
    rows = []
    for op in supported_ops():
        last = None
        for v in range(1, 18):
            try:
                s = onnx.defs.get_schema(op, v, "")
            except onnx.defs.SchemaError:
                continue
            counts = (s.min_input, s.max_input)
            if counts != last:
                rows.append((op, s.since_version, *counts))
                last = counts
        if op in OPSET_18 and OPSET_18[op] != last:
            rows.append((op, 18, *OPSET_18[op]))
    out = os.path.join(ROOT, "fovea", "onnx", "arity_table.inc")
    with open(out, "w") as f:
        f.write("// Written by tests/onnx/make_arity_table.py from ONNX's schemas: {op, since opset, min inputs, max "
                "inputs}\n")
        for op, since, lo, hi in rows:
            f.write(f'{{"{op}", {since}, {lo}, {"kMany" if hi == MANY else hi}}},\n')
    print(f"wrote {len(rows)} rows for {len({r[0] for r in rows})} ops to {os.path.normpath(out)}")


if __name__ == "__main__":
    sys.exit(main())
