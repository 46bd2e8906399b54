"""Golden fixtures for the layer ops of issue 4: conv_transpose2d, upsample, local_response_norm,
adaptive pooling, max pooling with indices and max unpooling.

Imported by make_golden.py, which passes its `case(...)` helper: these are op fixtures, in the
layout tests/golden/test_golden_ops.cpp reads, each seeded by a CRC of its name. Their name
prefixes (convt_, upsample_, lrn_, apool_, unpool_) are in make_golden.OP_PREFIXES, one C++ test
suite each. Run with Debian's PyTorch 1.13 (/usr/bin/python3).
"""
import math

import torch
import torch.nn.functional as F

def _pair(v):
    return tuple(v) if isinstance(v, (tuple, list)) else (v, v)


def _tag(v):
    """(2, 1) -> "2x1", 2 -> "2", 1.5 -> "1p5": option values in fixture names."""
    h, w = _pair(v)
    fmt = lambda e: str(e).replace(".", "p")  # noqa: E731
    return fmt(h) if h == w else f"{fmt(h)}x{fmt(w)}"


def _randn(*shape, dtype=torch.float32):
    return torch.randn(shape, dtype=dtype)


# ---------------------------------------------------------------------------------------
# conv_transpose2d: a grid of stride x padding x dilation x groups, with output_padding and bias
# on a checkerboard (each option pair meets both), plus the classic and corner cases
def _conv_transpose(case):
    N, Cin, H, W, Cout = 1, 4, 3, 4, 2

    def emit(name, ks, stride, pad, opad, dil, g, bias, cin=Cin, cout=Cout):
        def mk():
            d = {"x": _randn(N, cin, H, W), "w": _randn(cin, cout // g, *ks) * 0.3}
            if bias:
                d["b"] = _randn(cout)
            return d
        case(name, "conv_transpose2d", mk,
             lambda x, w, b=None: F.conv_transpose2d(x, w, b, stride, pad, opad, g, dil),
             grad=("x", "w", "b") if bias else ("x", "w"),
             meta={"stride": _pair(stride), "padding": _pair(pad), "output_padding": _pair(opad),
                   "dilation": _pair(dil), "groups": g})

    strides = {"s1": 1, "s2": 2, "s2x1": (2, 1)}
    paddings = {"p0": 0, "p1": 1, "p1x2": (1, 2)}
    dilations = {"d1": 1, "d2": 2}
    for i, (st, s) in enumerate(strides.items()):
        for j, (pt, p) in enumerate(paddings.items()):
            for k, (dt, d) in enumerate(dilations.items()):
                for m, g in enumerate((1, 2)):
                    # output_padding 1 wherever PyTorch allows it (< max(stride, dilation)) on half the cases
                    want = (i + j + k + m) % 2 == 1
                    opad = tuple(int(want and max(sa, da) > 1) for sa, da in zip(_pair(s), _pair(d)))
                    bias = (i + k + m) % 2 == 0
                    name = f"convt_{st}_{pt}_op{_tag(opad)}_{dt}_g{g}_{'bias' if bias else 'nobias'}"
                    emit(name, (3, 3), s, p, opad, d, g, bias)
    emit("convt_k4_s2_p1_dcgan", (4, 4), 2, 1, 0, 1, 1, True)                # exactly 2x
    emit("convt_k3x2_s3_p2_op2_g2", (3, 2), 3, 2, 2, 1, 2, True)              # stride 3
    emit("convt_k3_s1_p0_op1_d2", (3, 3), 1, 0, 1, 2, 1, True)                # rows no window reaches
    emit("convt_k3x1_s2_p0x1_op1x0_d1x3", (3, 1), 2, (0, 1), (1, 0), (1, 3), 1, False)
    emit("convt_k1_s2_op1", (1, 1), 2, 0, 1, 1, 1, True)
    emit("convt_k3_s2_p1_op1_dw", (3, 3), 2, 1, 1, 1, 4, True, cout=4)        # depthwise
    emit("convt_k2_s2_cin3_cout6_g3", (2, 2), 2, 0, 0, 1, 3, False, cin=3, cout=6)


# ---------------------------------------------------------------------------------------
# upsample: nearest and bilinear (align_corners both ways), by size and by scale
def _upsample(case):
    shape = (1, 2, 4, 5)

    def emit(name, size=None, scale=None, mode="nearest", align=None, dtype=torch.float32):
        if scale is not None:
            # PyTorch's forward copies where floor(in * scale) == in, but its backward then
            # still uses 1/scale: a case whose gradient disagrees with its own forward
            assert all(math.floor(n * f) != n or f == 1 for n, f in zip(shape[2:], _pair(scale))), name
        meta = {"mode": mode, "align_corners": bool(align)}
        if size is not None:
            meta["size"] = _pair(size)
        else:
            meta["scale"] = tuple(float(f) for f in _pair(scale))
        kw = {"mode": mode} if mode == "nearest" else {"mode": mode, "align_corners": bool(align)}
        fn = (lambda x: F.interpolate(x, size=_pair(size), **kw)) if size is not None else \
             (lambda x: F.interpolate(x, scale_factor=tuple(float(f) for f in _pair(scale)), **kw))
        case(name, "upsample", lambda: {"x": _randn(*shape, dtype=dtype)}, fn, grad=("x",), meta=meta)

    for size in ((8, 10), (7, 3), (3, 2), (9, 13), (1, 1)):
        emit(f"upsample_nearest_size{_tag(size)}", size=size)
    for scale in (2, (1.5, 2.5), 1.7, 0.5, (3, 0.6), 2.3):
        emit(f"upsample_nearest_scale{_tag(scale)}", scale=scale)
    for align in (False, True):
        at = "_ac" if align else ""
        for size in ((8, 10), (7, 3), (9, 13), (3, 2), (1, 1)):
            emit(f"upsample_bilinear_size{_tag(size)}{at}", size=size, mode="bilinear", align=align)
        for scale in (2, (1.5, 2.5), 1.7, 0.6, 3.3):
            emit(f"upsample_bilinear_scale{_tag(scale)}{at}", scale=scale, mode="bilinear", align=align)
    emit("upsample_nearest_scale1p7_f64", scale=1.7, dtype=torch.float64)
    emit("upsample_bilinear_size9x13_f64", size=(9, 13), mode="bilinear", dtype=torch.float64)
    emit("upsample_bilinear_scale2p3_ac_f64", scale=2.3, mode="bilinear", align=True, dtype=torch.float64)


# ---------------------------------------------------------------------------------------
# local response norm: even and odd windows (asymmetric padding for even sizes)
def _lrn(case):
    def emit(name, shape, size, alpha, beta, k, dtype=torch.float32):
        case(name, "local_response_norm", lambda: {"x": _randn(*shape, dtype=dtype) * 2},
             lambda x: F.local_response_norm(x, size, alpha, beta, k), grad=("x",),
             meta={"size": size, "alpha": alpha, "beta": beta, "k": k})

    for size in (2, 3, 5):
        emit(f"lrn_size{size}", (2, 7, 3, 4), size, 0.5, 0.75, 2.0)
    emit("lrn_size5_alexnet", (2, 7, 3, 4), 5, 1e-4, 0.75, 2.0)
    emit("lrn_size4_beta1p5_k1", (2, 6, 2, 3), 4, 1.0, 1.5, 1.0)
    emit("lrn_size3_3d", (2, 5, 6), 3, 0.5, 0.75, 2.0)
    emit("lrn_size3_f64", (2, 7, 3, 4), 3, 0.5, 0.75, 2.0, dtype=torch.float64)


# ---------------------------------------------------------------------------------------
# adaptive pooling, to sizes that divide the input and sizes that do not (windows overlap)
def _adaptive(case):
    shape = (1, 3, 7, 9)
    fns = {"avg": F.adaptive_avg_pool2d, "max": F.adaptive_max_pool2d}
    for kind, fn in fns.items():
        for out in ((1, 1), (3, 3), (4, 5), (7, 9), (2, 4), (10, 12), (6, 1)):
            case(f"apool_{kind}_out{_tag(out)}", f"adaptive_{kind}_pool2d", lambda: {"x": _randn(*shape)},
                 lambda x, fn=fn, out=out: fn(x, out), grad=("x",), meta={"out": out})
        case(f"apool_{kind}_out4x5_f64", f"adaptive_{kind}_pool2d", lambda: {"x": _randn(*shape, dtype=torch.float64)},
             lambda x, fn=fn: fn(x, (4, 5)), grad=("x",), meta={"out": (4, 5)})


# ---------------------------------------------------------------------------------------
# max pooling with indices, max unpooling, and the two chained (the deconvnet's switches)
def _max_unpool2d(*args, **kwargs):
    """F.max_unpool2d, which PyTorch flags as nondeterministic (parallel writes to a repeated
    index); with one thread, and equal values at repeated indices, its result is fixed."""
    prev = torch.are_deterministic_algorithms_enabled()
    torch.use_deterministic_algorithms(False)
    try:
        return F.max_unpool2d(*args, **kwargs)
    finally:
        torch.use_deterministic_algorithms(prev)


def _unpool(case):
    shape = (2, 3, 7, 8)

    def pool_meta(ks, stride, pad, ceil):
        return {"kernel": _pair(ks), "stride": _pair(stride), "padding": _pair(pad), "ceil_mode": ceil}

    pools = {"k2": (2, 2, 0, False), "k3_s2_p1": (3, 2, 1, False), "k2x3_s1x2_ceil": ((2, 3), (1, 2), 0, True)}
    for tag, (ks, s, p, ceil) in pools.items():
        case(f"unpool_indices_{tag}", "max_pool2d_indices", lambda: {"x": _randn(*shape)},
             lambda x, ks=ks, s=s, p=p, c=ceil: F.max_pool2d(x, ks, s, p, ceil_mode=c, return_indices=True)[1],
             meta=pool_meta(ks, s, p, ceil))
        case(f"unpool_values_{tag}", "max_pool2d_with_indices", lambda: {"x": _randn(*shape)},
             lambda x, ks=ks, s=s, p=p, c=ceil: F.max_pool2d(x, ks, s, p, ceil_mode=c, return_indices=True)[0],
             grad=("x",), meta=pool_meta(ks, s, p, ceil))
        # pool then unpool to the input size; overlapping windows send one maximum twice
        case(f"unpool_chain_{tag}", "max_unpool2d_of_pool", lambda: {"x": _randn(*shape)},
             lambda x, ks=ks, s=s, p=p, c=ceil: _max_unpool2d(
                 *F.max_pool2d(x, ks, s, p, ceil_mode=c, return_indices=True), ks, s, p, output_size=shape[2:]),
             grad=("x",), meta=pool_meta(ks, s, p, ceil))

    # unpooling values that did not come from the pool (indices from pooling another tensor)
    def mk_unpool():
        _, idx = F.max_pool2d(_randn(*shape), 2, return_indices=True)
        return {"x": _randn(*idx.shape), "indices": idx}
    case("unpool_k2_to7x8", "max_unpool2d", mk_unpool,
         lambda x, indices: _max_unpool2d(x, indices, 2, output_size=shape[2:]), grad=("x",),
         meta={"output_size": shape[2:]})

    # to a larger plane than the pool's input: the indices keep their row-major meaning (h*W + w
    # of the pooled plane), so PyTorch places them in the larger plane's first rows
    def mk_wide():
        _, idx = F.max_pool2d(_randn(2, 3, 4, 4), 2, return_indices=True)
        return {"x": _randn(*idx.shape), "indices": idx}
    case("unpool_k2_to5x5", "max_unpool2d", mk_wide,
         lambda x, indices: _max_unpool2d(x, indices, 2, output_size=(5, 5)), grad=("x",),
         meta={"output_size": (5, 5)})


def make(case):
    """case: make_golden.case, which seeds, runs, backpropagates and saves one op fixture."""
    for family in (_conv_transpose, _upsample, _lrn, _adaptive, _unpool):
        family(case)
