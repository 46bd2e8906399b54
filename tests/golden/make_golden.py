#!/usr/bin/python3
"""Golden-parity fixtures for fovea's ops, computed with PyTorch (Debian's 1.13, CPU).

Run as `/usr/bin/python3 tests/golden/make_golden.py` from anywhere; it rewrites
tests/golden/fixtures/<name>.safetensors. tests/golden/test_golden_ops.cpp reads them.

Each op fixture holds, under the metadata keys and tensor names below:
  meta "op"      the fovea function to call; the other meta keys are its options, as strings
  meta "inputs"  comma list of the input tensor names, in call order
  meta "grad"    comma list of the inputs that require grad (may be empty)
  meta "outputs" comma list of the checked results: "y" and, for batch_norm, the updated
                 running stats "running_mean_out", "running_var_out"
  tensors        the inputs, "y" (the forward result), "gy" (the upstream gradient) and
                 "g<input>" for every input in "grad": d/d input of (y * gy).sum()
Every fixture is seeded by a CRC of its name, so adding a case leaves the others unchanged.
"""
import json
import os
import subprocess
import sys
import zlib

import numpy as np
import torch
import torch.nn.functional as F

HERE = os.path.dirname(os.path.abspath(__file__))
FIXTURES = os.path.join(HERE, "fixtures")

_DTYPES = {
    torch.float32: ("F32", np.float32),
    torch.float64: ("F64", np.float64),
    torch.int64: ("I64", np.int64),
    torch.uint8: ("U8", np.uint8),
}

_written = []
# Name prefixes of the op fixtures (one test suite each in test_golden_ops.cpp).
OP_PREFIXES = ("ew_", "act_", "red_", "linalg_", "conv2d_", "pool_", "bn_", "ln_", "inorm_", "dropout_", "shape_", "loss_",
               "convt_", "upsample_", "lrn_", "apool_", "unpool_")  # the last five: golden_layers.py


def save(name, tensors, meta):
    """Writes FIXTURES/<name>.safetensors: 8-byte LE header length, JSON header padded with
    spaces to a multiple of 8, then the tensors' little-endian bytes back to back."""
    if not name.replace("_", "").isalnum():
        raise ValueError(f"fixture name {name!r}: use letters, digits and '_' (it becomes a test name)")
    path = os.path.join(FIXTURES, name + ".safetensors")
    if path in _written:
        raise ValueError(f"fixture {name!r} written twice")
    header = {"__metadata__": {str(k): str(v) for k, v in meta.items()}}
    blobs, offset = [], 0
    for key, t in tensors.items():
        t = t.detach().cpu()
        if t.dtype == torch.bool:
            t = t.to(torch.uint8)
        if t.dtype not in _DTYPES:
            raise TypeError(f"{name}/{key}: dtype {t.dtype} not supported")
        code, np_dtype = _DTYPES[t.dtype]
        data = np.ascontiguousarray(t.numpy().astype(np_dtype).astype(np.dtype(np_dtype).newbyteorder("<"))).tobytes()
        header[key] = {"dtype": code, "shape": list(t.shape), "data_offsets": [offset, offset + len(data)]}
        blobs.append(data)
        offset += len(data)
    text = json.dumps(header, separators=(",", ":")).encode("utf-8")
    text += b" " * (-len(text) % 8)
    with open(path, "wb") as f:
        f.write(len(text).to_bytes(8, "little"))
        f.write(text)
        for b in blobs:
            f.write(b)
    _written.append(path)


def seed(name):
    torch.manual_seed(zlib.crc32(name.encode()))


def csv(v):
    """Option value as a string: ints/floats as they are, tuples comma-joined, bools as 0/1."""
    if isinstance(v, bool):
        return "1" if v else "0"
    if isinstance(v, (tuple, list)):
        return ",".join(csv(e) for e in v)
    return repr(v) if isinstance(v, float) else str(v)


def case(name, op, make_inputs, fn, grad=(), meta=None, extra=None):
    """Seeds by name, builds the inputs (an ordered dict), runs fn(*inputs) with autograd,
    backpropagates a seeded random gy through (y * gy).sum() and saves everything.
    `extra(inputs) -> dict` adds results that are not y (e.g. updated running stats)."""
    seed(name)
    inputs = make_inputs()
    leaves = {}
    for k, v in inputs.items():
        v = v.detach().clone()
        if k in grad:
            v.requires_grad_(True)
        leaves[k] = v
    y = fn(*leaves.values())  # positional, in the order of `inputs`
    tensors = {k: v.detach().clone() for k, v in inputs.items()}
    outputs = ["y"]
    tensors["y"] = y.detach().clone()
    if extra is not None:
        for k, v in extra(leaves).items():
            tensors[k] = v.detach().clone()
            outputs.append(k)
    if grad:
        gy = torch.randn(y.shape, dtype=y.dtype)
        (y * gy).sum().backward()
        tensors["gy"] = gy
        for k in grad:
            if leaves[k].grad is None:
                raise RuntimeError(f"{name}: no gradient for {k}")
            tensors["g" + k] = leaves[k].grad
    m = {"op": op, "inputs": ",".join(inputs), "grad": ",".join(grad), "outputs": ",".join(outputs)}
    for k, v in (meta or {}).items():
        m[k] = csv(v)
    save(name, tensors, m)


def randn(*shape, dtype=torch.float32):
    return torch.randn(shape, dtype=dtype)


def away_from_zero(*shape, lo=0.5, hi=2.0, dtype=torch.float32):
    """Values with |v| in [lo, hi] and random sign (safe divisors, no kinks at 0)."""
    mag = torch.rand(shape, dtype=dtype) * (hi - lo) + lo
    sign = torch.where(torch.rand(shape) < 0.5, -1.0, 1.0).to(dtype)
    return mag * sign


def positive(*shape, lo=0.5, hi=2.0, dtype=torch.float32):
    return torch.rand(shape, dtype=dtype) * (hi - lo) + lo


# ---------------------------------------------------------------------------------------
# elementwise
def elementwise():
    # a: (2,3,4) against b of several broadcast shapes
    bcasts = {"same": (2, 3, 4), "row": (4,), "col": (3, 1), "both": (2, 1, 4), "0d": ()}
    binary = {"add": torch.add, "sub": torch.sub, "mul": torch.mul, "div": torch.div,
              "maximum": torch.maximum, "minimum": torch.minimum}
    for op, fn in binary.items():
        for bname, bshape in bcasts.items():
            def mk(bshape=bshape, op=op):
                a = randn(2, 3, 4)
                b = away_from_zero(*bshape) if op == "div" else randn(*bshape)
                return {"a": a, "b": b}
            case(f"ew_{op}_{bname}", op, mk, lambda a, b, fn=fn: fn(a, b), grad=("a", "b"))
        # b broadcasts against a the other way round too: a (3,1) op b (2,1,4)
        def mk2(op=op):
            a = randn(3, 1)
            b = away_from_zero(2, 1, 4) if op == "div" else randn(2, 1, 4)
            return {"a": a, "b": b}
        case(f"ew_{op}_mutual", op, mk2, lambda a, b, fn=fn: fn(a, b), grad=("a", "b"))
    for dt, suffix in ((torch.float64, "_f64"),):
        case(f"ew_add_both{suffix}", "add", lambda: {"a": randn(2, 3, 4, dtype=dt), "b": randn(2, 1, 4, dtype=dt)},
             torch.add, grad=("a", "b"))
        case(f"ew_div_col{suffix}", "div",
             lambda: {"a": randn(2, 3, 4, dtype=dt), "b": away_from_zero(3, 1, dtype=dt)}, torch.div, grad=("a", "b"))

    # tensor (op) scalar and scalar (op) tensor
    scalar_ops = {
        "add_scalar": lambda x, s: x + s, "sub_scalar": lambda x, s: x - s, "rsub_scalar": lambda x, s: s - x,
        "mul_scalar": lambda x, s: x * s, "rmul_scalar": lambda x, s: s * x, "div_scalar": lambda x, s: x / s,
        "rdiv_scalar": lambda x, s: s / x,
    }
    for op, fn in scalar_ops.items():
        s = -1.5
        case(f"ew_{op}", op, lambda op=op: {"x": away_from_zero(2, 3, 4) if op == "rdiv_scalar" else randn(2, 3, 4)},
             lambda x, fn=fn, s=s: fn(x, s), grad=("x",), meta={"scalar": s})

    unary = {
        "neg": (torch.neg, randn), "exp": (torch.exp, randn), "log": (torch.log, positive),
        "sqrt": (torch.sqrt, positive), "rsqrt": (torch.rsqrt, positive), "abs": (torch.abs, randn),
        "square": (torch.square, randn),
    }
    for op, (fn, gen) in unary.items():
        case(f"ew_{op}", op, lambda gen=gen: {"x": gen(2, 3, 4)}, fn, grad=("x",))
    case("ew_exp_f64", "exp", lambda: {"x": randn(2, 3, 4, dtype=torch.float64)}, torch.exp, grad=("x",))
    case("ew_log_f64", "log", lambda: {"x": positive(2, 3, 4, dtype=torch.float64)}, torch.log, grad=("x",))

    # pow: tensor exponent (positive base, so d/de = a^e log a is defined) with broadcasting
    case("ew_pow_tensor", "pow", lambda: {"a": positive(2, 3, 4), "b": torch.rand(2, 3, 4) * 4 - 2},
         torch.pow, grad=("a", "b"))
    case("ew_pow_tensor_bcast", "pow", lambda: {"a": positive(2, 3, 4), "b": torch.rand(3, 1) * 4 - 2},
         torch.pow, grad=("a", "b"))
    for e, tag, gen in ((2.0, "2", randn), (3.0, "3", randn), (0.5, "0p5", positive), (-1.5, "m1p5", positive),
                        (-2.0, "m2", away_from_zero)):
        case(f"ew_pow_scalar_{tag}", "pow_scalar", lambda gen=gen: {"x": gen(2, 3, 4)},
             lambda x, e=e: torch.pow(x, e), grad=("x",), meta={"exponent": e})

    # clamp: bounds at +-0.5 on N(0,1) data, so both branches are exercised
    for tag, lo, hi in (("min", -0.5, None), ("max", None, 0.5), ("both", -0.5, 0.5)):
        meta = {}
        if lo is not None:
            meta["min"] = lo
        if hi is not None:
            meta["max"] = hi
        case(f"ew_clamp_{tag}", "clamp", lambda: {"x": randn(2, 3, 4)},
             lambda x, lo=lo, hi=hi: torch.clamp(x, min=lo, max=hi), grad=("x",), meta=meta)

    # where: cond (u8 mask) broadcasts with a and b
    case("ew_where", "where",
         lambda: {"cond": (torch.rand(2, 3, 4) < 0.5).to(torch.uint8), "a": randn(2, 3, 4), "b": randn(2, 3, 4)},
         lambda cond, a, b: torch.where(cond.bool(), a, b), grad=("a", "b"))
    case("ew_where_bcast", "where",
         lambda: {"cond": (torch.rand(2, 1, 4) < 0.5).to(torch.uint8), "a": randn(3, 1), "b": randn(2, 3, 4)},
         lambda cond, a, b: torch.where(cond.bool(), a, b), grad=("a", "b"))

    # comparisons: u8 masks, no gradient; a shares half its values with b so eq/le/ge see ties
    for op in ("eq", "ne", "lt", "le", "gt", "ge"):
        def mk():
            b = randn(2, 3, 4)
            a = torch.where(torch.rand(2, 3, 4) < 0.5, b, randn(2, 3, 4))
            return {"a": a, "b": b}
        case(f"ew_cmp_{op}", op, mk, lambda a, b, op=op: getattr(torch, op)(a, b).to(torch.uint8))


# ---------------------------------------------------------------------------------------
# activations
def activations():
    shape = (2, 4, 3, 5)
    scaled = lambda: {"x": randn(*shape) * 3}  # noqa: E731  covers the +-3 kinks of hardswish
    case("act_relu", "relu", scaled, F.relu, grad=("x",))
    case("act_leaky_relu", "leaky_relu", scaled, F.leaky_relu, grad=("x",), meta={"negative_slope": 0.01})
    case("act_leaky_relu_0p2", "leaky_relu", scaled, lambda x: F.leaky_relu(x, 0.2), grad=("x",),
         meta={"negative_slope": 0.2})
    case("act_elu", "elu", scaled, F.elu, grad=("x",), meta={"alpha": 1.0})
    case("act_elu_0p5", "elu", scaled, lambda x: F.elu(x, 0.5), grad=("x",), meta={"alpha": 0.5})
    case("act_sigmoid", "sigmoid", scaled, torch.sigmoid, grad=("x",))
    case("act_tanh", "tanh", scaled, torch.tanh, grad=("x",))
    case("act_gelu", "gelu", scaled, F.gelu, grad=("x",))
    case("act_hardswish", "hardswish", scaled, F.hardswish, grad=("x",))
    case("act_erf", "erf", scaled, torch.erf, grad=("x",))
    # softplus far out on both sides too (+-40: overflow-free, exactly x or 0 in f32)
    case("act_softplus", "softplus", lambda: {"x": torch.cat([randn(2, 4, 3, 5).flatten() * 3,
                                                               torch.tensor([-40.0, -20.0, 20.0, 40.0])])},
         F.softplus, grad=("x",))
    for dim, tag in ((1, "dim1"), (-1, "dimm1")):
        case(f"act_softmax_{tag}", "softmax", scaled, lambda x, d=dim: F.softmax(x, d), grad=("x",), meta={"dim": dim})
        case(f"act_log_softmax_{tag}", "log_softmax", scaled, lambda x, d=dim: F.log_softmax(x, d), grad=("x",),
             meta={"dim": dim})
    f64 = lambda: {"x": randn(*shape, dtype=torch.float64) * 3}  # noqa: E731
    case("act_gelu_f64", "gelu", f64, F.gelu, grad=("x",))
    case("act_erf_f64", "erf", f64, torch.erf, grad=("x",))
    case("act_softplus_f64", "softplus", f64, F.softplus, grad=("x",))
    case("act_sigmoid_f64", "sigmoid", f64, torch.sigmoid, grad=("x",))
    case("act_softmax_dim1_f64", "softmax", f64, lambda x: F.softmax(x, 1), grad=("x",), meta={"dim": 1})
    case("act_log_softmax_dimm1_f64", "log_softmax", f64, lambda x: F.log_softmax(x, -1), grad=("x",),
         meta={"dim": -1})


# ---------------------------------------------------------------------------------------
# reductions
def reductions():
    shape = (2, 3, 4)
    x = lambda: {"x": randn(*shape)}  # noqa: E731
    case("red_sum_all", "sum", x, torch.sum, grad=("x",))
    case("red_mean_all", "mean", x, torch.mean, grad=("x",))
    for dims, tag in (((1,), "d1"), ((0, 2), "d02"), ((-1,), "dm1"), ((0, 1, 2), "d012")):
        for keep in (False, True):
            kt = "_keep" if keep else ""
            meta = {"dims": dims, "keepdim": keep}
            case(f"red_sum_{tag}{kt}", "sum", x, lambda x, d=dims, k=keep: torch.sum(x, d, keepdim=k),
                 grad=("x",), meta=meta)
            case(f"red_mean_{tag}{kt}", "mean", x, lambda x, d=dims, k=keep: torch.mean(x, d, keepdim=k),
                 grad=("x",), meta=meta)
    case("red_max_all", "max", x, torch.max, grad=("x",))
    case("red_min_all", "min", x, torch.min, grad=("x",))
    for dim in (1, -1, 0):
        for keep in (False, True):
            tag = f"d{dim}".replace("-", "m") + ("_keep" if keep else "")
            meta = {"dim": dim, "keepdim": keep}
            case(f"red_max_{tag}", "max", x, lambda x, d=dim, k=keep: torch.max(x, d, keepdim=k).values,
                 grad=("x",), meta=meta)
            case(f"red_min_{tag}", "min", x, lambda x, d=dim, k=keep: torch.min(x, d, keepdim=k).values,
                 grad=("x",), meta=meta)
            case(f"red_argmax_{tag}", "argmax", x, lambda x, d=dim, k=keep: torch.argmax(x, d, keepdim=k), meta=meta)
            case(f"red_argmin_{tag}", "argmin", x, lambda x, d=dim, k=keep: torch.argmin(x, d, keepdim=k), meta=meta)
    for dims, tag in (((1,), "d1"), ((0, 2), "d02"), ((), "all")):
        for unbiased in (True, False):
            for keep in ((False, True) if dims else (False,)):
                name = f"red_var_{tag}_{'unbiased' if unbiased else 'biased'}{'_keep' if keep else ''}"
                fn = (lambda x, d=dims, u=unbiased, k=keep: torch.var(x, d, unbiased=u, keepdim=k)) if dims else \
                     (lambda x, u=unbiased: torch.var(x, unbiased=u))
                case(name, "var", x, fn, grad=("x",), meta={"dims": dims, "unbiased": unbiased, "keepdim": keep})
    x64 = lambda: {"x": randn(*shape, dtype=torch.float64)}  # noqa: E731
    case("red_sum_d1_f64", "sum", x64, lambda x: torch.sum(x, (1,)), grad=("x",), meta={"dims": (1,), "keepdim": False})
    case("red_var_d02_unbiased_f64", "var", x64, lambda x: torch.var(x, (0, 2), unbiased=True), grad=("x",),
         meta={"dims": (0, 2), "unbiased": True, "keepdim": False})


# ---------------------------------------------------------------------------------------
# matmul, linear
def linalg():
    mm = {
        "2d": ((3, 4), (4, 5)),
        "batched": ((2, 3, 4), (2, 4, 5)),
        "bcast_batch": ((2, 1, 3, 4), (3, 4, 5)),
        "bcast_2d_rhs": ((2, 3, 4), (4, 5)),
        "bcast_2d_lhs": ((3, 4), (2, 4, 5)),
        "vec_mat": ((4,), (4, 5)),
        "mat_vec": ((3, 4), (4,)),
        "batched_vec": ((2, 3, 4), (4,)),
        "dot": ((4,), (4,)),
    }
    for tag, (sa, sb) in mm.items():
        case(f"linalg_matmul_{tag}", "matmul", lambda sa=sa, sb=sb: {"a": randn(*sa), "b": randn(*sb)},
             torch.matmul, grad=("a", "b"))
    case("linalg_matmul_batched_f64", "matmul",
         lambda: {"a": randn(2, 3, 4, dtype=torch.float64), "b": randn(2, 4, 5, dtype=torch.float64)},
         torch.matmul, grad=("a", "b"))
    case("linalg_linear_bias", "linear", lambda: {"x": randn(4, 5), "w": randn(3, 5), "b": randn(3)},
         F.linear, grad=("x", "w", "b"))
    case("linalg_linear_nobias", "linear", lambda: {"x": randn(4, 5), "w": randn(3, 5)},
         F.linear, grad=("x", "w"))
    case("linalg_linear_batch3d", "linear", lambda: {"x": randn(2, 3, 5), "w": randn(4, 5), "b": randn(4)},
         F.linear, grad=("x", "w", "b"))
    case("linalg_linear_f64", "linear",
         lambda: {"x": randn(4, 5, dtype=torch.float64), "w": randn(3, 5, dtype=torch.float64),
                  "b": randn(3, dtype=torch.float64)}, F.linear, grad=("x", "w", "b"))


# ---------------------------------------------------------------------------------------
# conv2d
def conv_ref(x, w, b, stride, pads, dilation, groups):
    """pads = (top, bottom, left, right); F.pad takes (left, right, top, bottom)."""
    t, bo, l, r = pads
    if (t, bo, l, r) != (0, 0, 0, 0):
        x = F.pad(x, (l, r, t, bo))
    return F.conv2d(x, w, b, stride=stride, padding=0, dilation=dilation, groups=groups)


def pair(v):
    return tuple(v) if isinstance(v, (tuple, list)) else (v, v)


def resolve_named_padding(mode, in_hw, k, stride, dilation):
    """The rules fovea documents in fovea/ops/options.h: same = TensorFlow (ceil(in / stride),
    the odd pixel at bottom/right); full = dilation * (k - 1) each side; valid = none."""
    out = []
    for i, kk, s, d in zip(in_hw, pair(k), pair(stride), pair(dilation)):
        eff = d * (kk - 1) + 1
        if mode == "valid":
            out.append((0, 0))
        elif mode == "full":
            out.append((eff - 1, eff - 1))
        else:
            o = -(-i // s)
            total = max((o - 1) * s + eff - i, 0)
            out.append((total // 2, total - total // 2))
    (t, b), (l, r) = out
    return (t, b, l, r)


def conv2d():
    N, C, H, W = 2, 4, 6, 7
    strides = {"s1": 1, "s2": 2, "s2x1": (2, 1)}
    paddings = {"p0": (0, 0, 0, 0), "p1": (1, 1, 1, 1), "p1x2": (1, 1, 2, 2), "p0121": (0, 1, 2, 1)}
    dilations = {"d1": 1, "d2": 2}
    groups = {"g1": (1, 6), "g2": (2, 6), "gdw": (4, 4)}  # (groups, out channels); dw: one filter per channel
    for i, (st, stride) in enumerate(strides.items()):
        for j, (pt, pads) in enumerate(paddings.items()):
            for k, (dt, dil) in enumerate(dilations.items()):
                for m, (gt, (g, out)) in enumerate(groups.items()):
                    bias = (i + j + k + m) % 2 == 0  # a checkerboard: each option pair meets both
                    name = f"conv2d_{st}_{pt}_{dt}_{gt}_{'bias' if bias else 'nobias'}"

                    def mk(g=g, out=out, bias=bias):
                        d = {"x": randn(N, C, H, W), "w": randn(out, C // g, 3, 3) * 0.3}
                        if bias:
                            d["b"] = randn(out)
                        return d

                    case(name, "conv2d", mk,
                         lambda x, w, b=None, s=stride, p=pads, dl=dil, g=g: conv_ref(x, w, b, s, p, dl, g),
                         grad=("x", "w", "b") if bias else ("x", "w"),
                         meta={"stride": pair(stride), "padding": pads, "dilation": pair(dil), "groups": g})
    # non-square kernels and a depthwise multiplier, where h/w or group mix-ups show
    extra = {
        "conv2d_k2x3_s1x2_p1021_d2x1_g1": ((2, 3), (1, 2), (1, 0, 2, 1), (2, 1), 1, 6, True),
        "conv2d_k1_s1_p0_d1_g1": ((1, 1), 1, (0, 0, 0, 0), 1, 1, 5, True),
        "conv2d_k3x1_s2_p1_d1_g2": ((3, 1), 2, (1, 1, 1, 1), 1, 2, 4, False),
        "conv2d_k3_dwmult2": ((3, 3), 1, (1, 1, 1, 1), 1, 4, 8, True),
        "conv2d_k5_s1_p2_d1_g1": ((5, 5), 1, (2, 2, 2, 2), 1, 1, 3, True),
    }
    for name, (ks, stride, pads, dil, g, out, bias) in extra.items():
        def mk(ks=ks, g=g, out=out, bias=bias):
            d = {"x": randn(N, C, H, W), "w": randn(out, C // g, *ks) * 0.3}
            if bias:
                d["b"] = randn(out)
            return d
        case(name, "conv2d", mk, lambda x, w, b=None, s=stride, p=pads, dl=dil, g=g: conv_ref(x, w, b, s, p, dl, g),
             grad=("x", "w", "b") if bias else ("x", "w"),
             meta={"stride": pair(stride), "padding": pads, "dilation": pair(dil), "groups": g})
    # padding by name; the fixture stores the explicit sides it resolved to as "padding_sides"
    named = {
        "conv2d_same_k3_s1": ("same", (3, 3), 1, 1),
        "conv2d_same_k3_s2": ("same", (3, 3), 2, 1),
        "conv2d_same_k4_s1": ("same", (4, 4), 1, 1),
        "conv2d_same_k3_s1_d2": ("same", (3, 3), 1, 2),
        "conv2d_same_k2x3_s2x1": ("same", (2, 3), (2, 1), 1),
        "conv2d_valid_k3_s2": ("valid", (3, 3), 2, 1),
        "conv2d_full_k3_s1": ("full", (3, 3), 1, 1),
        "conv2d_full_k2x3_s1_d2": ("full", (2, 3), 1, 2),
    }
    for name, (mode, ks, stride, dil) in named.items():
        pads = resolve_named_padding(mode, (H, W), ks, stride, dil)
        case(name, "conv2d", lambda ks=ks: {"x": randn(N, C, H, W), "w": randn(3, C, *ks) * 0.3, "b": randn(3)},
             lambda x, w, b, s=stride, p=pads, dl=dil: conv_ref(x, w, b, s, p, dl, 1), grad=("x", "w", "b"),
             meta={"stride": pair(stride), "padding": mode, "padding_sides": pads, "dilation": pair(dil), "groups": 1})


# ---------------------------------------------------------------------------------------
# pooling
def pooling():
    N, C, H, W = 2, 3, 7, 8

    def emit(kind, ks, stride, pad, ceil, cip=None, name=None):
        kh, kw = pair(ks)
        ph, pw = pair(pad)
        if ph > kh // 2 or pw > kw // 2:
            return  # PyTorch: "pad should be at most half of kernel size"
        meta = {"kernel": pair(ks), "stride": pair(stride), "padding": pair(pad), "ceil_mode": ceil}
        if kind == "max":
            fn = lambda x: F.max_pool2d(x, ks, stride, pad, ceil_mode=ceil)  # noqa: E731
        else:
            meta["count_include_pad"] = cip
            fn = lambda x: F.avg_pool2d(x, ks, stride, pad, ceil_mode=ceil, count_include_pad=cip)  # noqa: E731
        case(name, f"{kind}_pool2d", lambda: {"x": randn(N, C, H, W)}, fn, grad=("x",), meta=meta)

    for k in (2, 3):
        for s in (1, 2):
            for p in (0, 1):
                for ceil in (False, True):
                    base = f"k{k}_s{s}_p{p}{'_ceil' if ceil else ''}"
                    emit("max", k, s, p, ceil, name=f"pool_max_{base}")
                    for cip in (False, True):
                        emit("avg", k, s, p, ceil, cip, name=f"pool_avg_{base}{'_cip' if cip else ''}")
    # non-square windows (h/w swaps show)
    emit("max", (2, 3), (1, 2), (1, 0), False, name="pool_max_k2x3_s1x2_p1x0")
    emit("max", (3, 2), (2, 1), (1, 1), True, name="pool_max_k3x2_s2x1_p1x1_ceil")
    emit("avg", (2, 3), (1, 2), (1, 0), False, True, name="pool_avg_k2x3_s1x2_p1x0_cip")
    emit("avg", (3, 2), (2, 1), (1, 1), True, False, name="pool_avg_k3x2_s2x1_p1x1_ceil")
    emit("avg", (3, 2), (2, 1), (1, 1), True, True, name="pool_avg_k3x2_s2x1_p1x1_ceil_cip")


# ---------------------------------------------------------------------------------------
# batch norm, dropout
def norm():
    C = 3

    def mk(shape, affine, stats=True):
        def f():
            d = {"x": randn(*shape) * 2 + 0.5}
            if stats:
                d["running_mean"] = randn(C) * 0.1
                d["running_var"] = positive(C)
            if affine:
                d["w"] = positive(C)
                d["b"] = randn(C)
            return d
        return f

    def bn(training, momentum, eps):
        def f(x, running_mean=None, running_var=None, w=None, b=None):
            return F.batch_norm(x, running_mean, running_var, w, b, training, momentum, eps)
        return f

    def stats_out(leaves):
        return {"running_mean_out": leaves["running_mean"], "running_var_out": leaves["running_var"]}

    for training in (True, False):
        for affine in (True, False):
            for momentum in ((0.1, 0.3) if training else (0.1,)):
                name = f"bn_{'train' if training else 'eval'}_{'affine' if affine else 'noaffine'}"
                if training:
                    name += f"_m{csv(momentum).replace('.', 'p')}"
                case(name, "batch_norm", mk((4, C, 3, 5), affine), bn(training, momentum, 1e-5),
                     grad=("x", "w", "b") if affine else ("x",),
                     meta={"training": training, "momentum": momentum, "eps": 1e-5},
                     extra=stats_out)
    # (N, C) input as BatchNorm1d, a custom eps, and training without running stats
    case("bn_train_2d_affine", "batch_norm", mk((6, C), True), bn(True, 0.1, 1e-3), grad=("x", "w", "b"),
         meta={"training": True, "momentum": 0.1, "eps": 1e-3}, extra=stats_out)
    case("bn_eval_2d_affine", "batch_norm", mk((6, C), True), bn(False, 0.1, 1e-3), grad=("x", "w", "b"),
         meta={"training": False, "momentum": 0.1, "eps": 1e-3}, extra=stats_out)
    case("bn_train_nostats_affine", "batch_norm", mk((4, C, 3, 5), True, stats=False),
         lambda x, w, b: F.batch_norm(x, None, None, w, b, True, 0.1, 1e-5),
         grad=("x", "w", "b"), meta={"training": True, "momentum": 0.1, "eps": 1e-5})

    # layer norm over the last 1 or 2 dims, instance norm (no running statistics)
    for dims, affine in ((1, True), (2, True), (2, False)):
        def ln_inputs(dims=dims, affine=affine):
            d = {"x": randn(2, 3, 4, 5) * 2 + 0.5}
            if affine:
                d["w"] = positive(*(4, 5)[2 - dims:])
                d["b"] = randn(*(4, 5)[2 - dims:])
            return d
        shape = (4, 5)[2 - dims:]
        case(f"ln_{dims}d_{'affine' if affine else 'plain'}", "layer_norm", ln_inputs,
             lambda x, w=None, b=None, shape=shape: F.layer_norm(x, shape, w, b, 1e-5),
             grad=("x", "w", "b") if affine else ("x",), meta={"normalized_dims": dims, "eps": 1e-5})
    for affine in (True, False):
        case(f"inorm_{'affine' if affine else 'plain'}", "instance_norm", mk((2, C, 4, 5), affine, stats=False),
             lambda x, w=None, b=None: F.instance_norm(x, weight=w, bias=b, eps=1e-5),
             grad=("x", "w", "b") if affine else ("x",), meta={"eps": 1e-5})
    case("dropout_p0_train", "dropout", lambda: {"x": randn(2, 3, 4)}, lambda x: F.dropout(x, 0.0, True),
         grad=("x",), meta={"p": 0.0, "training": True})
    case("dropout_p0p5_eval", "dropout", lambda: {"x": randn(2, 3, 4)}, lambda x: F.dropout(x, 0.5, False),
         grad=("x",), meta={"p": 0.5, "training": False})


# ---------------------------------------------------------------------------------------
# shape ops
def shape_ops():
    for (start, end), tag in (((1, -1), "1_m1"), ((0, 1), "0_1"), ((2, 3), "2_3"), ((0, -1), "0_m1")):
        case(f"shape_flatten_{tag}", "flatten", lambda: {"x": randn(2, 3, 4, 5)},
             lambda x, s=start, e=end: torch.flatten(x, s, e), grad=("x",), meta={"start": start, "end": end})
    cats = {0: ((1, 3, 4), (2, 3, 4), (3, 3, 4)), 1: ((2, 1, 4), (2, 3, 4), (2, 2, 4)),
            -1: ((2, 3, 1), (2, 3, 4), (2, 3, 2))}
    for dim, shapes in cats.items():
        case(f"shape_cat_d{dim}".replace("-", "m"), "cat",
             lambda shapes=shapes: {f"x{i}": randn(*s) for i, s in enumerate(shapes)},
             lambda x0, x1, x2, d=dim: torch.cat([x0, x1, x2], d), grad=("x0", "x1", "x2"), meta={"dim": dim})
    for dim in (0, 1, 3, -1):
        case(f"shape_stack_d{dim}".replace("-", "m"), "stack",
             lambda: {f"x{i}": randn(2, 3, 4) for i in range(3)},
             lambda x0, x1, x2, d=dim: torch.stack([x0, x1, x2], d), grad=("x0", "x1", "x2"), meta={"dim": dim})
    for pads, value, tag in (((1, 2), 0.0, "w12"), ((1, 0, 2, 1), 0.0, "hw1021"), ((0, 1, 1, 0, 2, 0), 0.5, "chw_v0p5"),
                             ((2, 1, 0, 3), -1.0, "hw2103_vm1")):
        case(f"shape_pad_{tag}", "pad", lambda: {"x": randn(2, 3, 4, 5)},
             lambda x, p=pads, v=value: F.pad(x, p, value=v), grad=("x",), meta={"pads": pads, "value": value})


# ---------------------------------------------------------------------------------------
# losses
def losses():
    N, C = 5, 4
    reductions = ("none", "mean", "sum")

    def targets(shape, ignore, classes=C):
        t = torch.randint(0, classes, shape)
        if ignore is not None:
            flat = t.view(-1)
            flat[0] = ignore  # at least two ignored positions, at fixed places
            flat[-2] = ignore
        return t

    for ls in (0.0, 0.1):
        for red in reductions:
            for ignore in (None, 1, -100):
                tag = {None: "", 1: "_ign1", -100: "_ignm100"}[ignore]
                if ignore == -100 and (red != "mean"):
                    continue  # the default ignore_index (negative targets): one case is enough
                name = f"loss_ce_{red}_ls{csv(ls).replace('.', 'p')}{tag}"
                ii = -100 if ignore is None else ignore
                case(name, "cross_entropy", lambda ig=ignore: {"logits": randn(N, C) * 2, "target": targets((N,), ig)},
                     lambda logits, target, r=red, ii=ii, ls=ls: F.cross_entropy(
                         logits, target, ignore_index=ii, reduction=r, label_smoothing=ls),
                     grad=("logits",), meta={"reduction": red, "ignore_index": ii, "label_smoothing": ls})
    for red, ls, ignore in (("mean", 0.0, None), ("none", 0.0, 1), ("mean", 0.1, 1), ("sum", 0.1, None)):
        ii = -100 if ignore is None else ignore
        name = f"loss_ce_spatial_{red}_ls{csv(ls).replace('.', 'p')}{'_ign1' if ignore else ''}"
        case(name, "cross_entropy", lambda ig=ignore: {"logits": randn(2, 3, 3, 4) * 2, "target": targets((2, 3, 4), ig, 3)},
             lambda logits, target, r=red, ii=ii, ls=ls: F.cross_entropy(
                 logits, target, ignore_index=ii, reduction=r, label_smoothing=ls),
             grad=("logits",), meta={"reduction": red, "ignore_index": ii, "label_smoothing": ls})
    case("loss_ce_mean_ls0p1_f64", "cross_entropy",
         lambda: {"logits": randn(N, C, dtype=torch.float64) * 2, "target": targets((N,), None)},
         lambda logits, target: F.cross_entropy(logits, target, label_smoothing=0.1), grad=("logits",),
         meta={"reduction": "mean", "ignore_index": -100, "label_smoothing": 0.1})

    # nll_loss on log-probabilities (as after log_softmax)
    for red in reductions:
        for ignore in (None, 2):
            ii = -100 if ignore is None else ignore
            name = f"loss_nll_{red}{'_ign2' if ignore else ''}"
            case(name, "nll_loss",
                 lambda ig=ignore: {"log_probs": F.log_softmax(randn(N, C) * 2, 1), "target": targets((N,), ig)},
                 lambda log_probs, target, r=red, ii=ii: F.nll_loss(log_probs, target, ignore_index=ii, reduction=r),
                 grad=("log_probs",), meta={"reduction": red, "ignore_index": ii})
    case("loss_nll_spatial_mean_ign2", "nll_loss",
         lambda: {"log_probs": F.log_softmax(randn(2, 3, 3, 4) * 2, 1), "target": targets((2, 3, 4), 2, 3)},
         lambda log_probs, target: F.nll_loss(log_probs, target, ignore_index=2), grad=("log_probs",),
         meta={"reduction": "mean", "ignore_index": 2})

    for red in reductions:
        case(f"loss_mse_{red}", "mse_loss", lambda: {"x": randn(3, 4), "target": randn(3, 4)},
             lambda x, target, r=red: F.mse_loss(x, target, reduction=r), grad=("x", "target"),
             meta={"reduction": red})
    case("loss_mse_mean_f64", "mse_loss",
         lambda: {"x": randn(3, 4, dtype=torch.float64), "target": randn(3, 4, dtype=torch.float64)},
         lambda x, target: F.mse_loss(x, target), grad=("x", "target"), meta={"reduction": "mean"})

    # soft targets in [0, 1]; pos_weight (C) broadcasts over the last dim and takes no gradient in PyTorch
    for red in reductions:
        for pw in (False, True):
            def mk(pw=pw):
                d = {"x": randn(4, 3) * 3, "target": torch.rand(4, 3)}
                if pw:
                    d["pos_weight"] = positive(3, lo=0.5, hi=3.0)
                return d
            case(f"loss_bce_logits_{red}{'_posw' if pw else ''}", "binary_cross_entropy_with_logits", mk,
                 lambda x, target, pos_weight=None, r=red: F.binary_cross_entropy_with_logits(
                     x, target, reduction=r, pos_weight=pos_weight),
                 grad=("x", "target"), meta={"reduction": red})


def main():
    torch.set_num_threads(1)  # bit-identical fixtures from run to run
    torch.use_deterministic_algorithms(True)
    os.makedirs(FIXTURES, exist_ok=True)
    for f in os.listdir(FIXTURES):  # drop stale op fixtures; other generators' files stay
        if f.endswith(".safetensors") and f.startswith(OP_PREFIXES):
            os.remove(os.path.join(FIXTURES, f))
    for family in (elementwise, activations, reductions, linalg, conv2d, pooling, norm, shape_ops, losses):
        family()
    sys.path.insert(0, HERE)
    try:
        import golden_layers
    except ImportError as e:
        print(f"*** tests/golden/golden_layers.py not found or not importable ({e}): layer fixtures NOT written ***")
    else:
        golden_layers.make(case)
    n_ops = len(_written)
    try:
        import golden_sizes
    except ImportError as e:
        print(f"*** tests/golden/golden_sizes.py not found or not importable ({e}): output-size fixtures NOT written ***")
    else:
        golden_sizes.make(save)
    try:
        import golden_optim
    except ImportError as e:
        print(f"*** tests/golden/golden_optim.py not found or not importable ({e}): optimizer fixtures NOT written ***")
    else:
        golden_optim.make(save)
    total = sum(os.path.getsize(p) for p in _written)
    print(f"wrote {len(_written)} fixtures ({n_ops} op fixtures), {total / 1024:.0f} KiB, to {FIXTURES}")
    # the explain maps' reference for the small CNN (tests/explain/test_explain_parity.cpp)
    explain_dir = os.path.join(HERE, "..", "explain")
    subprocess.run([sys.executable, os.path.join(explain_dir, "explain_reference.py"), "small",
                    os.path.join(explain_dir, "fixtures", "small")], check=True)
    print(f"wrote the explain fixtures to {os.path.normpath(os.path.join(explain_dir, 'fixtures', 'small'))}")
    # torch.save files for the .pth reader (tests/io/test_torch_file.cpp)
    subprocess.run([sys.executable, os.path.join(HERE, "..", "io", "torch_files.py")], check=True)


if __name__ == "__main__":
    main()
